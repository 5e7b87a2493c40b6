//! `/console/office`: the registration office's queue — applications for
//! 技术合同认定登记 by status, the earliest deadline first, each with its
//! working days left, the contract as applied for, the change asked for,
//! the documents (opened in a new tab, each read audited) and the record;
//! an official registers it (the amounts as registered, prefilled with the
//! contract's), refuses it with catalogued reasons, or asks for more
//! material. The same service functions as the API decide
//! (`techtrade_registry`); an official of a party sees why not.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Extension, Path, Query, State};
use axum::response::Response;
use serde_json::{Map, Value};
use techtrade_domain::registration::{ApplicationStatus, RefusalReason};
use techtrade_registry::{ApplicationDetail, ApplicationListQuery, DecisionRequest, RegistrySettings};
use techtrade_web::{AppState, CurrentUser, PageQuery, RequestId};

use super::{ItemForm, Official, Refused};
use crate::format;
use crate::page::{self, Ctx};
use crate::session::Visitor;
use crate::workspace::form::{Amounts, Fields, service_request};

/// The most applications a page shows, the earliest deadline first.
const SHOWN: u32 = 30;

const RENAMED: &[(&str, &str)] = &[
    ("registered_total_fen", "total_yuan"),
    ("registered_technology_amount_fen", "technology_yuan"),
    ("reason", "dispute_reason"),
];

/// The queue's views: the statuses each shows.
const VIEWS: [(&str, &[ApplicationStatus]); 5] = [
    ("submitted", &[ApplicationStatus::Submitted]),
    ("changes", &[ApplicationStatus::AmendmentRequested, ApplicationStatus::CancellationRequested]),
    ("more_requested", &[ApplicationStatus::MoreRequested]),
    ("registered", &[ApplicationStatus::Registered]),
    ("refused", &[ApplicationStatus::Refused, ApplicationStatus::Cancelled]),
];

#[derive(Debug, Default, serde::Deserialize)]
pub struct OfficeQuery {
    /// One of [`VIEWS`]; `submitted` by default.
    #[serde(default)]
    view: String,
    /// What was just done (`registered`, `refused`, `more_requested`, …).
    #[serde(default)]
    done: String,
    /// The application just decided.
    #[serde(default)]
    id: String,
}

#[derive(Template)]
#[template(path = "console_office.html")]
struct OfficePage {
    ctx: Ctx,
    view: &'static str,
    views: Vec<&'static str>,
    applications: Vec<ApplicationDetail>,
    total: i64,
    user: CurrentUser,
    done: String,
    decided: Option<ApplicationDetail>,
    decision: ItemForm,
    reasons: Vec<(&'static str, &'static str)>,
}

impl OfficePage {
    /// Whether the official belongs to the seller or to a buyer on the platform.
    fn involved(&self, detail: &ApplicationDetail) -> bool {
        let application = &detail.application;
        self.user.is_member_of(&application.seller_organization_id)
            || application.contract.buyer.organization_id.as_deref().is_some_and(|id| self.user.is_member_of(id))
    }

    /// Whether the office decides it now (a new application or a change).
    fn decidable(&self, detail: &ApplicationDetail) -> bool {
        matches!(detail.application.status.as_str(), "submitted" | "amendment_requested" | "cancellation_requested")
    }

    /// The amount inputs' values: as typed after a refusal, else the
    /// contract's (an amendment's new ones when one waits).
    fn total_typed(&self, detail: &ApplicationDetail) -> String {
        if let Some(typed) = self.decision.amount_typed(&detail.application.id) {
            return typed.to_string();
        }
        let pending = detail.changes.iter().find(|c| c.status == "pending");
        let total = pending.and_then(|c| c.total_amount_fen).unwrap_or(detail.application.contract.total_amount_fen);
        format::fen_as_yuan_input(total)
    }

    fn technology_typed(&self, detail: &ApplicationDetail) -> String {
        let contract = &detail.application.contract;
        let pending = detail.changes.iter().find(|c| c.status == "pending");
        let total = pending.and_then(|c| c.total_amount_fen).unwrap_or(contract.total_amount_fen);
        let non_technical =
            pending.and_then(|c| c.non_technical_amount_fen).unwrap_or(contract.non_technical_amount_fen);
        format::fen_as_yuan_input(total.saturating_sub(non_technical))
    }

    /// The message typed for a refusal or a request, kept after a refusal of the form.
    fn text_typed(&self, id: &str) -> &str {
        self.decision.text_typed(id)
    }
}

fn view_of(name: &str) -> (&'static str, &'static [ApplicationStatus]) {
    VIEWS.iter().find(|(view, _)| *view == name).copied().unwrap_or(VIEWS[0])
}

async fn office_page(
    state: &AppState,
    settings: &RegistrySettings,
    visitor: &Visitor,
    user: CurrentUser,
    query: OfficeQuery,
    refused: Option<Refused>,
) -> Response {
    let (view, statuses) = view_of(&query.view);
    let mut applications = Vec::new();
    let mut total = 0;
    for status in statuses {
        let list = ApplicationListQuery { status: Some(*status), ..ApplicationListQuery::default() };
        let page = PageQuery { page: None, per_page: Some(SHOWN) };
        let listed = match techtrade_registry::list(state, settings, &user, list, page).await {
            Ok(listed) => listed,
            Err(error) => return page::error_page(visitor, &error),
        };
        total += listed.total;
        for item in listed.items {
            match techtrade_registry::get(state, settings, &user, item.id).await {
                Ok(detail) => applications.push(detail),
                Err(error) => return page::error_page(visitor, &error),
            }
        }
    }
    // The earliest deadline first across the statuses shown (none: last).
    applications.sort_by_key(|d| (d.application.decide_by.is_none(), d.application.decide_by));
    let decided = match query.id.is_empty() {
        true => None,
        false => techtrade_registry::get(state, settings, &user, query.id.clone()).await.ok(),
    };
    let (status, decision) = match ItemForm::shown(visitor, refused, RENAMED) {
        Ok(shown) => shown,
        Err(response) => return response,
    };
    let page = OfficePage {
        ctx: Ctx::new(visitor),
        view,
        views: VIEWS.iter().map(|(name, _)| *name).collect(),
        applications,
        total,
        user,
        done: query.done,
        decided,
        decision,
        reasons: RefusalReason::ALL.iter().map(|r| (r.as_str(), r.zh())).collect(),
    };
    page::render(visitor, status, &page)
}

/// `GET /console/office[?view=]`.
pub async fn show(
    State(state): State<AppState>,
    Extension(settings): Extension<RegistrySettings>,
    visitor: Visitor,
    Official(user): Official,
    Query(query): Query<OfficeQuery>,
) -> Response {
    office_page(&state, &settings, &visitor, user, query, None).await
}

/// `POST /console/office/{id}`: register (`decision=register`, the amounts
/// in yuan), refuse (`decision=refuse`, `reasons`, a note) or ask for more
/// material (`decision=request_more`, the message); or find the contract
/// in dispute (`decision=dispute`, why in the message); back to the queue.
pub async fn decide(
    State(state): State<AppState>,
    Extension(settings): Extension<RegistrySettings>,
    RequestId(request_id): RequestId,
    visitor: Visitor,
    Official(user): Official,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let fields = Fields::parse(&body);
    let decision = fields.text("decision");
    let mut amounts = Amounts::default();
    let mut request = Map::new();
    request.insert("decision".into(), Value::String(decision.clone()));
    if decision == "register" {
        amounts.put(&mut request, "registered_total_fen", "total_yuan", &fields.text("total_yuan"));
        amounts.put(
            &mut request,
            "registered_technology_amount_fen",
            "technology_yuan",
            &fields.text("technology_yuan"),
        );
    }
    let reasons: Vec<Value> = fields.all("reasons").into_iter().map(Value::String).collect();
    request.insert("reasons".into(), Value::Array(reasons));
    let text = fields.text("message");
    request.insert("message".into(), if text.is_empty() { Value::Null } else { Value::String(text.clone()) });
    let amount = fields.text("total_yuan");
    let result = if decision == "dispute" {
        // Not a decision: the contract is found in dispute, with why.
        let request = techtrade_registry::DisputeRequest { reason: fields.text("dispute_reason") };
        techtrade_registry::dispute(&state, &settings, &user, request_id, id.clone(), request).await
    } else {
        match service_request::<DecisionRequest>(request, &amounts) {
            Ok(request) => techtrade_registry::decide(&state, &settings, &user, request_id, id.clone(), request).await,
            Err(error) => Err(error),
        }
    };
    let view = fields.text("view");
    match result {
        Ok(application) => {
            let done = if decision == "dispute" { "disputed" } else { application.status.as_str() };
            page::redirect(&format!("/console/office?view={view}&done={done}&id={}", application.id))
        }
        Err(error) => {
            let query = OfficeQuery { view, ..OfficeQuery::default() };
            office_page(&state, &settings, &visitor, user, query, Some(Refused { item: id, amount, text, error })).await
        }
    }
}
