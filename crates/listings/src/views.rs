//! What the listings API returns, built from stored rows.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};
use techtrade_db::listings::{Demand, Listing, ListingPatent};
use utoipa::ToSchema;

use crate::requests::PatentRequest;

fn utc(at: NaiveDateTime) -> DateTime<Utc> {
    at.and_utc()
}

/// A JSON array column, read back.
pub(crate) fn json_list(text: &str) -> Vec<String> {
    serde_json::from_str(text).unwrap_or_default()
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PatentView {
    pub application_number: String,
    pub publication_number: Option<String>,
    /// invention | utility_model | design
    pub patent_type: String,
    pub title: String,
    pub filing_date: NaiveDate,
    pub grant_date: Option<NaiveDate>,
    /// pending | granted | lapsed | expired | invalidated
    pub legal_status: String,
    /// The last day of protection, from the filing date and type.
    pub expires_on: NaiveDate,
}

impl From<ListingPatent> for PatentView {
    fn from(p: ListingPatent) -> Self {
        Self {
            application_number: p.application_number,
            publication_number: p.publication_number,
            patent_type: p.patent_type,
            title: p.title,
            filing_date: p.filing_date,
            grant_date: p.grant_date,
            legal_status: p.legal_status,
            expires_on: p.expires_on,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ListingResponse {
    pub id: String,
    /// patent | achievement
    pub kind: String,
    /// draft | pending_review | published | rejected | withdrawn | traded
    pub status: String,
    pub title: String,
    pub summary: String,
    pub description: Option<String>,
    pub ipc: Vec<String>,
    /// concept | lab | pilot | industrial
    pub maturity: String,
    pub trade_modes: Vec<String>,
    pub price_fen: Option<i64>,
    pub negotiable: bool,
    pub region_code: String,
    pub owner_organization_id: String,
    pub patents: Vec<PatentView>,
    /// The officials' reason when rejected.
    pub review_reason: Option<String>,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub submitted_at: Option<DateTime<Utc>>,
    pub published_at: Option<DateTime<Utc>>,
}

impl ListingResponse {
    pub fn new(listing: Listing, patents: Vec<ListingPatent>) -> Self {
        Self {
            ipc: json_list(&listing.ipc_codes),
            trade_modes: json_list(&listing.trade_modes),
            id: listing.id,
            kind: listing.kind,
            status: listing.status,
            title: listing.title,
            summary: listing.summary,
            description: listing.description,
            maturity: listing.maturity,
            price_fen: listing.price_fen,
            negotiable: listing.negotiable,
            region_code: listing.region_code,
            owner_organization_id: listing.owner_organization_id,
            patents: patents.into_iter().map(PatentView::from).collect(),
            review_reason: listing.review_reason,
            version: listing.version,
            created_at: utc(listing.created_at),
            updated_at: utc(listing.updated_at),
            submitted_at: listing.submitted_at.map(utc),
            published_at: listing.published_at.map(utc),
        }
    }

    /// The editable fields, in request form, for applying a PATCH.
    pub fn as_request(&self) -> serde_json::Value {
        let patents: Vec<PatentRequest> = self
            .patents
            .iter()
            .map(|p| PatentRequest {
                application_number: p.application_number.clone(),
                publication_number: p.publication_number.clone(),
                patent_type: techtrade_domain::PatentType::from_db(&p.patent_type)
                    .unwrap_or(techtrade_domain::PatentType::Invention),
                title: p.title.clone(),
                filing_date: p.filing_date,
                grant_date: p.grant_date,
                legal_status: techtrade_domain::LegalStatus::from_db(&p.legal_status)
                    .unwrap_or(techtrade_domain::LegalStatus::Pending),
            })
            .collect();
        serde_json::json!({
            "kind": self.kind,
            "title": self.title,
            "summary": self.summary,
            "description": self.description,
            "ipc": self.ipc,
            "maturity": self.maturity,
            "trade_modes": self.trade_modes,
            "price_fen": self.price_fen,
            "negotiable": self.negotiable,
            "region_code": self.region_code,
            "patents": patents,
        })
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DemandResponse {
    pub id: String,
    pub status: String,
    pub title: String,
    pub description: String,
    pub ipc: Vec<String>,
    pub budget_min_fen: Option<i64>,
    pub budget_max_fen: Option<i64>,
    pub negotiable: bool,
    pub trade_modes: Vec<String>,
    pub region_code: String,
    pub deadline: Option<NaiveDate>,
    pub owner_organization_id: String,
    pub review_reason: Option<String>,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub submitted_at: Option<DateTime<Utc>>,
    pub published_at: Option<DateTime<Utc>>,
}

impl From<Demand> for DemandResponse {
    fn from(d: Demand) -> Self {
        Self {
            ipc: json_list(&d.ipc_codes),
            trade_modes: json_list(&d.trade_modes),
            id: d.id,
            status: d.status,
            title: d.title,
            description: d.description,
            budget_min_fen: d.budget_min_fen,
            budget_max_fen: d.budget_max_fen,
            negotiable: d.negotiable,
            region_code: d.region_code,
            deadline: d.deadline,
            owner_organization_id: d.owner_organization_id,
            review_reason: d.review_reason,
            version: d.version,
            created_at: utc(d.created_at),
            updated_at: utc(d.updated_at),
            submitted_at: d.submitted_at.map(utc),
            published_at: d.published_at.map(utc),
        }
    }
}

impl DemandResponse {
    pub fn as_request(&self) -> serde_json::Value {
        serde_json::json!({
            "title": self.title,
            "description": self.description,
            "ipc": self.ipc,
            "budget_min_fen": self.budget_min_fen,
            "budget_max_fen": self.budget_max_fen,
            "negotiable": self.negotiable,
            "trade_modes": self.trade_modes,
            "region_code": self.region_code,
            "deadline": self.deadline,
        })
    }
}
