//! The demand form: what a buyer's engineer is looking for.

use askama::Template;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Map, Value};
use techtrade_domain::TradeMode;
use techtrade_listings::requests::DemandRequest;
use techtrade_listings::service::{self, Actor};
use techtrade_listings::views::DemandResponse;
use techtrade_web::{ApiError, ApiResult, AppState, CurrentUser};

use super::form::{Amounts, FieldMap, Fields, Purpose, ipc_codes, optional};
use super::items::Editable;
use crate::format;
use crate::page::{self, Ctx, FormErrors};
use crate::session::Visitor;

/// The demand form, as typed or as stored.
#[derive(Debug, Clone, Default)]
pub struct DemandForm {
    pub title: String,
    pub description: String,
    pub ipc: String,
    pub budget_min_yuan: String,
    pub budget_max_yuan: String,
    pub negotiable: bool,
    pub trade_modes: Vec<String>,
    pub region_code: String,
    pub deadline: String,
}

const RENAMED: &[(&str, &str)] = &[("budget_min_fen", "budget_min_yuan"), ("budget_max_fen", "budget_max_yuan")];

#[derive(Template)]
#[template(path = "demand_form.html")]
struct DemandFormPage {
    ctx: Ctx,
    form: DemandForm,
    errors: FormErrors,
    demand: Option<DemandResponse>,
    done: String,
    trade_modes: Vec<&'static str>,
}

impl DemandFormPage {
    fn action(&self) -> String {
        match &self.demand {
            Some(demand) => format!("/workspace/demands/{}", demand.id),
            None => "/workspace/demands".to_string(),
        }
    }

    fn trade_mode_checked(&self, mode: &str) -> bool {
        self.form.trade_modes.iter().any(|m| m == mode)
    }
}

impl Editable for DemandForm {
    type Stored = DemandResponse;
    type Request = DemandRequest;
    const PATH: &'static str = "demands";
    const SUBJECT: &'static str = "demand";

    fn blank() -> Self {
        Self::default()
    }

    fn from_fields(fields: &Fields) -> Self {
        Self {
            title: fields.text("title"),
            description: fields.text("description"),
            ipc: fields.text("ipc"),
            budget_min_yuan: fields.text("budget_min_yuan"),
            budget_max_yuan: fields.text("budget_max_yuan"),
            negotiable: fields.checked("negotiable"),
            trade_modes: fields.all("trade_modes"),
            region_code: fields.text("region_code"),
            deadline: fields.text("deadline"),
        }
    }

    fn from_stored(demand: &DemandResponse) -> Self {
        Self {
            title: demand.title.clone(),
            description: demand.description.clone(),
            ipc: demand.ipc.join("\n"),
            budget_min_yuan: demand.budget_min_fen.map(format::fen_as_yuan_input).unwrap_or_default(),
            budget_max_yuan: demand.budget_max_fen.map(format::fen_as_yuan_input).unwrap_or_default(),
            negotiable: demand.negotiable,
            trade_modes: demand.trade_modes.clone(),
            region_code: demand.region_code.clone(),
            deadline: demand.deadline.map(|d| d.to_string()).unwrap_or_default(),
        }
    }

    fn request(&self, purpose: Purpose) -> Result<(Value, FieldMap), ApiError> {
        let mut object = Map::new();
        object.insert("title".into(), Value::String(self.title.clone()));
        object.insert("description".into(), Value::String(self.description.clone()));
        object.insert("ipc".into(), ipc_codes(&self.ipc).into());
        let mut amounts = Amounts::default();
        amounts.put(&mut object, "budget_min_fen", "budget_min_yuan", &self.budget_min_yuan);
        amounts.put(&mut object, "budget_max_fen", "budget_max_yuan", &self.budget_max_yuan);
        if let Some(error) = amounts.error() {
            return Err(error);
        }
        object.insert("negotiable".into(), self.negotiable.into());
        object.insert("trade_modes".into(), self.trade_modes.clone().into());
        purpose.put_required(&mut object, "region_code", &self.region_code);
        object.insert("deadline".into(), optional(&self.deadline));
        Ok((Value::Object(object), FieldMap { renamed: RENAMED, rows: Vec::new(), row_prefix: "" }))
    }

    fn add_row(&mut self) {}

    fn id(stored: &DemandResponse) -> &str {
        &stored.id
    }

    fn owner(stored: &DemandResponse) -> &str {
        &stored.owner_organization_id
    }

    fn render(
        visitor: &Visitor,
        status: StatusCode,
        form: Self,
        errors: FormErrors,
        stored: Option<DemandResponse>,
        done: String,
    ) -> Response {
        let page = DemandFormPage {
            ctx: Ctx::new(visitor),
            form,
            errors,
            demand: stored,
            done,
            trade_modes: TradeMode::ALL.iter().map(|v| v.as_str()).collect(),
        };
        page::render(visitor, status, &page)
    }

    async fn load(state: AppState, user: CurrentUser, id: String) -> ApiResult<DemandResponse> {
        service::demand(state, Some(user), id).await
    }

    async fn create(actor: Actor, state: AppState, request: DemandRequest) -> ApiResult<DemandResponse> {
        service::create_demand(actor, state, request).await
    }

    async fn update(
        actor: Actor,
        state: AppState,
        id: String,
        expected: Option<i64>,
        patch: Value,
    ) -> ApiResult<DemandResponse> {
        service::update_demand(actor, state, id, expected, patch).await
    }

    async fn submit(actor: Actor, state: AppState, id: String) -> ApiResult<DemandResponse> {
        service::submit_demand(actor, state, id).await
    }

    async fn withdraw(actor: Actor, state: AppState, id: String) -> ApiResult<DemandResponse> {
        service::withdraw_demand(actor, state, id).await
    }
}
