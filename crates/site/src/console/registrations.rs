//! `/console/registrations`: contracts waiting for 技术合同认定登记, oldest
//! first, each with its parties, category, amounts, signing day and
//! related-party flag; register it with the 核定 technology amount
//! (prefilled with the contract's, never more) and get its number, or
//! reject it with a reason. An official of a party sees why not.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Extension, Path, Query, State};
use axum::response::Response;
use serde_json::{Map, Value};
use techtrade_deals::ListDealsQuery;
use techtrade_deals::requests::ContractRegistrationRequest;
use techtrade_deals::views::DealView;
use techtrade_domain::DealStatus;
use techtrade_registry::RegistrySettings;
use techtrade_web::{AppState, CurrentUser, RequestId};

use super::{ItemForm, Official, Refused};
use crate::format;
use crate::page::{self, Ctx};
use crate::session::Visitor;
use crate::workspace::form::{Amounts, Fields, service_request};

/// The most contracts the queue shows at once, oldest first.
const SHOWN: u32 = 50;

const RENAMED: &[(&str, &str)] = &[("registered_technology_amount_fen", "amount_yuan")];

#[derive(Debug, Default, serde::Deserialize)]
pub struct Done {
    #[serde(default)]
    done: String,
    /// The deal just decided, to show its number.
    #[serde(default)]
    deal: String,
}

#[derive(Template)]
#[template(path = "console_registrations.html")]
struct RegistrationsPage {
    ctx: Ctx,
    deals: Vec<DealView>,
    total: i64,
    user: CurrentUser,
    done: String,
    /// The deal just registered, with its number.
    decided: Option<DealView>,
    decision: ItemForm,
}

impl RegistrationsPage {
    /// Whether the official belongs to a party or to the deal's agency.
    fn involved(&self, deal: &DealView) -> bool {
        [Some(&deal.buyer), Some(&deal.seller), deal.agency.as_ref()]
            .into_iter()
            .flatten()
            .any(|party| self.user.is_member_of(&party.id))
    }

    /// The amount input's value: as typed after a refusal, else the
    /// contract's technology amount.
    fn amount_typed(&self, deal: &DealView) -> String {
        if let Some(typed) = self.decision.amount_typed(&deal.id) {
            return typed.to_string();
        }
        deal.contract.as_ref().map(|c| format::fen_as_yuan_input(c.technology_amount_fen)).unwrap_or_default()
    }
}

async fn registrations_page(
    state: &AppState,
    visitor: &Visitor,
    user: CurrentUser,
    done: Done,
    refused: Option<Refused>,
) -> Response {
    let query =
        ListDealsQuery { status: Some(DealStatus::Contracted), per_page: Some(SHOWN), ..ListDealsQuery::default() };
    let deals = match techtrade_deals::deals(state, user.clone(), query).await {
        Ok(deals) => deals,
        Err(error) => return page::error_page(visitor, &error),
    };
    let decided = match done.deal.is_empty() {
        true => None,
        false => techtrade_deals::deal(state, user.clone(), done.deal.clone()).await.ok(),
    };
    let (status, decision) = match ItemForm::shown(visitor, refused, RENAMED) {
        Ok(shown) => shown,
        Err(response) => return response,
    };
    let page = RegistrationsPage {
        ctx: Ctx::new(visitor),
        total: deals.total,
        deals: deals.items,
        user,
        done: done.done,
        decided,
        decision,
    };
    page::render(visitor, status, &page)
}

/// `GET /console/registrations`.
pub async fn show(
    State(state): State<AppState>,
    visitor: Visitor,
    Official(user): Official,
    Query(done): Query<Done>,
) -> Response {
    registrations_page(&state, &visitor, user, done, None).await
}

/// `POST /console/registrations/{deal id}`: register (`decision=register`,
/// the amount in yuan, an optional note) or reject (`decision=reject`, a
/// reason); back to the queue with the number shown.
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
        amounts.put(&mut request, "registered_technology_amount_fen", "amount_yuan", &fields.text("amount_yuan"));
    }
    let text = fields.text("reason");
    request.insert("reason".into(), if text.is_empty() { Value::Null } else { Value::String(text.clone()) });
    let amount = fields.text("amount_yuan");
    let parsed = service_request::<ContractRegistrationRequest>(request, &amounts);
    let result = match parsed {
        Ok(request) => {
            techtrade_registry::register_deal(&state, &settings, &user, request_id, id.clone(), request).await
        }
        Err(error) => Err(error),
    };
    match result {
        Ok(deal) => {
            let done = if deal.registration_number.is_some() { "registered" } else { "rejected" };
            page::redirect(&format!("/console/registrations?done={done}&deal={}", deal.id))
        }
        Err(error) => {
            registrations_page(&state, &visitor, user, Done::default(), Some(Refused { item: id, amount, text, error }))
                .await
        }
    }
}
