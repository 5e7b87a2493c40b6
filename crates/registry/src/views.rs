//! What the registration routes answer.

use chrono::{NaiveDate, NaiveDateTime};
use serde::Serialize;
use techtrade_db::registry::{Application, ApplicationEvent, Change, DeclaredPayment, Document};
use utoipa::ToSchema;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BuyerView {
    /// When the buyer is an organisation on the platform.
    pub organization_id: Option<String>,
    pub name: String,
    pub credit_code: String,
    pub region_code: String,
    /// enterprise | university | institute | agency | authority
    pub kind: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RegisteredContractView {
    /// development | transfer | license | consulting | service
    pub category: String,
    pub subcategory: Option<String>,
    pub buyer: BuyerView,
    /// 成交额 as the contract states it.
    pub total_amount_fen: i64,
    pub non_technical_amount_fen: i64,
    /// 技术交易额 as the contract states it: the total less its non-technical part.
    pub technology_amount_fen: i64,
    pub signed_on: NaiveDate,
    pub valid_until: NaiveDate,
    pub technology_field: Option<String>,
    pub ip_type: Option<String>,
    pub government_project: bool,
    pub related_party: bool,
}

/// An application for 技术合同认定登记.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ApplicationView {
    pub id: String,
    /// draft | submitted | more_requested | registered | refused |
    /// amendment_requested | cancellation_requested | cancelled
    pub status: String,
    pub seller_organization_id: String,
    /// The platform deal the contract came from, if any.
    pub deal_id: Option<String>,
    pub contract: RegisteredContractView,
    /// The day it was (last) submitted, in Beijing time.
    pub submitted_on: Option<NaiveDate>,
    /// The last day the office may decide on (15 working days, 30 for
    /// 500万 yuan or more), moved by the days a request for more material waited.
    pub decide_by: Option<NaiveDate>,
    /// While more material is awaited: the day it was asked for (the clock stands still).
    pub clock_stopped_on: Option<NaiveDate>,
    /// The deadline crossed a year without a holiday calendar: counted by
    /// weekends alone, it may move once that year is announced.
    pub deadline_provisional: bool,
    /// The office found the contract in dispute: 30 working days.
    pub disputed: bool,
    /// Working days left until `decide_by` (negative: overdue); none while
    /// the clock stands still or nothing is due.
    pub working_days_left: Option<i64>,
    pub registration_number: Option<String>,
    /// 成交额 as registered.
    pub registered_total_fen: Option<i64>,
    /// 技术交易额 as registered (核定).
    pub registered_technology_amount_fen: Option<i64>,
    /// With `refused`: the catalogued reasons.
    pub refusal_reasons: Vec<String>,
    #[serde(serialize_with = "techtrade_web::utc::optional_time")]
    #[schema(value_type = Option<chrono::DateTime<chrono::Utc>>)]
    pub decided_at: Option<NaiveDateTime>,
    #[serde(serialize_with = "techtrade_web::utc::time")]
    #[schema(value_type = chrono::DateTime<chrono::Utc>)]
    pub created_at: NaiveDateTime,
    #[serde(serialize_with = "techtrade_web::utc::time")]
    #[schema(value_type = chrono::DateTime<chrono::Utc>)]
    pub updated_at: NaiveDateTime,
    pub version: i64,
}

impl ApplicationView {
    pub fn new(application: Application, working_days_left: Option<i64>) -> Self {
        let a = application;
        Self {
            contract: RegisteredContractView {
                category: a.category,
                subcategory: a.subcategory,
                buyer: BuyerView {
                    organization_id: a.buyer_organization_id,
                    name: a.buyer_name,
                    credit_code: a.buyer_credit_code,
                    region_code: a.buyer_region_code,
                    kind: a.buyer_kind,
                },
                total_amount_fen: a.total_amount_fen,
                non_technical_amount_fen: a.non_technical_amount_fen,
                technology_amount_fen: a.total_amount_fen - a.non_technical_amount_fen,
                signed_on: a.signed_on,
                valid_until: a.valid_until,
                technology_field: a.technology_field,
                ip_type: a.ip_type,
                government_project: a.government_project,
                related_party: a.related_party,
            },
            id: a.id,
            status: a.status,
            seller_organization_id: a.seller_organization_id,
            deal_id: a.deal_id,
            submitted_on: a.submitted_on,
            decide_by: a.decide_by,
            clock_stopped_on: a.stopped_on,
            deadline_provisional: a.deadline_provisional,
            disputed: a.disputed,
            working_days_left,
            registration_number: a.registration_number,
            registered_total_fen: a.registered_total_fen,
            registered_technology_amount_fen: a.registered_technology_fen,
            refusal_reasons: codes(a.refusal_reasons),
            decided_at: a.decided_at,
            created_at: a.created_at,
            updated_at: a.updated_at,
            version: a.version,
        }
    }
}

/// One step of an application's record.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EventView {
    /// created | submitted | more_requested | answered | registered | refused |
    /// amendment_requested | cancellation_requested | amended | cancelled |
    /// change_refused | document_added | document_removed |
    /// payment_declared | payment_confirmed | payment_rejected
    pub event: String,
    pub message: Option<String>,
    /// The deadline this step set.
    pub decide_by: Option<NaiveDate>,
    pub actor_id: String,
    #[serde(serialize_with = "techtrade_web::utc::time")]
    #[schema(value_type = chrono::DateTime<chrono::Utc>)]
    pub at: NaiveDateTime,
}

impl From<ApplicationEvent> for EventView {
    fn from(e: ApplicationEvent) -> Self {
        Self { event: e.event, message: e.message, decide_by: e.decide_by, actor_id: e.actor_id, at: e.created_at }
    }
}

/// A document of an application (its bytes at `GET …/documents/{id}`).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DocumentView {
    pub id: String,
    /// contract | annex | invoice | proof
    pub kind: String,
    pub file_name: String,
    /// application/pdf | image/jpeg | image/png, as read from the bytes.
    pub media_type: String,
    pub size_bytes: i64,
    /// Hex SHA-256 of the bytes, to show they are the ones uploaded.
    pub sha256: String,
    pub uploaded_by: String,
    #[serde(serialize_with = "techtrade_web::utc::time")]
    #[schema(value_type = chrono::DateTime<chrono::Utc>)]
    pub uploaded_at: NaiveDateTime,
}

impl From<Document> for DocumentView {
    fn from(d: Document) -> Self {
        Self {
            id: d.id,
            kind: d.kind,
            file_name: d.file_name,
            media_type: d.media_type,
            size_bytes: d.size_bytes,
            sha256: d.sha256,
            uploaded_by: d.uploaded_by,
            uploaded_at: d.uploaded_at,
        }
    }
}

/// An amendment (变更) or cancellation (注销) the seller asked for.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ChangeView {
    pub id: String,
    /// amendment | cancellation
    pub kind: String,
    /// pending | approved | refused
    pub status: String,
    /// The amendment's new amounts and validity (unset: unchanged).
    pub total_amount_fen: Option<i64>,
    pub non_technical_amount_fen: Option<i64>,
    pub valid_until: Option<NaiveDate>,
    pub reason: String,
    /// With `refused`: the catalogued reasons.
    pub refusal_reasons: Vec<String>,
    #[serde(serialize_with = "techtrade_web::utc::time")]
    #[schema(value_type = chrono::DateTime<chrono::Utc>)]
    pub requested_at: NaiveDateTime,
    #[serde(serialize_with = "techtrade_web::utc::optional_time")]
    #[schema(value_type = Option<chrono::DateTime<chrono::Utc>>)]
    pub decided_at: Option<NaiveDateTime>,
}

impl From<Change> for ChangeView {
    fn from(c: Change) -> Self {
        Self {
            id: c.id,
            kind: c.kind,
            status: c.status,
            total_amount_fen: c.total_amount_fen,
            non_technical_amount_fen: c.non_technical_amount_fen,
            valid_until: c.valid_until,
            reason: c.reason,
            refusal_reasons: codes(c.refusal_reasons),
            requested_at: c.requested_at,
            decided_at: c.decided_at,
        }
    }
}

/// A payment the seller declared on a contract signed off the platform.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DeclaredPaymentView {
    pub id: String,
    pub amount_fen: i64,
    pub paid_on: NaiveDate,
    pub proof_document_id: String,
    /// declared | confirmed | rejected: only a confirmed payment counts for subsidies.
    pub status: String,
    pub note: Option<String>,
    #[serde(serialize_with = "techtrade_web::utc::time")]
    #[schema(value_type = chrono::DateTime<chrono::Utc>)]
    pub declared_at: NaiveDateTime,
    #[serde(serialize_with = "techtrade_web::utc::optional_time")]
    #[schema(value_type = Option<chrono::DateTime<chrono::Utc>>)]
    pub decided_at: Option<NaiveDateTime>,
}

impl From<DeclaredPayment> for DeclaredPaymentView {
    fn from(p: DeclaredPayment) -> Self {
        Self {
            id: p.id,
            amount_fen: p.amount_fen,
            paid_on: p.paid_on,
            proof_document_id: p.proof_document_id,
            status: p.status,
            note: p.note,
            declared_at: p.declared_at,
            decided_at: p.decided_at,
        }
    }
}

/// Comma-separated codes as a list.
fn codes(joined: Option<String>) -> Vec<String> {
    joined.map(|r| r.split(',').filter(|s| !s.is_empty()).map(str::to_string).collect()).unwrap_or_default()
}

/// An application with its documents, changes, declared payments and
/// record, each oldest first.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ApplicationDetail {
    #[serde(flatten)]
    pub application: ApplicationView,
    /// The seller's name, as the platform knows it.
    pub seller_name: String,
    pub documents: Vec<DocumentView>,
    pub changes: Vec<ChangeView>,
    pub payments: Vec<DeclaredPaymentView>,
    /// While the registration is in force: what it suggests for VAT and
    /// income tax — guidance, never a ruling of the tax office.
    pub tax_guidance: Option<techtrade_domain::tax::TaxGuidance>,
    pub events: Vec<EventView>,
}
