//! The listing form: a listing as typed, its patents row by row.

use askama::Template;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Map, Value};
use techtrade_domain::{LegalStatus, ListingKind, Maturity, PatentType, TradeMode};
use techtrade_listings::requests::ListingRequest;
use techtrade_listings::service::{self, Actor};
use techtrade_listings::views::ListingResponse;
use techtrade_web::{ApiError, ApiResult, AppState, CurrentUser};

use super::form::{Amounts, FieldMap, Fields, Purpose, ipc_codes, optional, put_required};
use super::items::Editable;
use crate::format;
use crate::page::{self, Ctx, FormErrors, Plain};
use crate::session::Visitor;

/// One patent of the form, as typed.
#[derive(Debug, Clone, Default)]
pub struct PatentRow {
    pub application_number: String,
    pub publication_number: String,
    pub patent_type: String,
    pub title: String,
    pub filing_date: String,
    pub grant_date: String,
    pub legal_status: String,
}

impl PatentRow {
    fn is_blank(&self) -> bool {
        [
            &self.application_number,
            &self.publication_number,
            &self.patent_type,
            &self.title,
            &self.filing_date,
            &self.grant_date,
            &self.legal_status,
        ]
        .iter()
        .all(|v| v.is_empty())
    }

    fn json(&self) -> Value {
        let mut patent = Map::new();
        put_required(&mut patent, "application_number", &self.application_number);
        patent.insert("publication_number".into(), optional(&self.publication_number));
        put_required(&mut patent, "patent_type", &self.patent_type);
        put_required(&mut patent, "title", &self.title);
        put_required(&mut patent, "filing_date", &self.filing_date);
        patent.insert("grant_date".into(), optional(&self.grant_date));
        put_required(&mut patent, "legal_status", &self.legal_status);
        Value::Object(patent)
    }
}

/// The listing form, as typed or as stored.
#[derive(Debug, Clone, Default)]
pub struct ListingForm {
    pub kind: String,
    pub title: String,
    pub summary: String,
    pub description: String,
    pub ipc: String,
    pub maturity: String,
    pub trade_modes: Vec<String>,
    pub price_yuan: String,
    pub negotiable: bool,
    pub region_code: String,
    pub patents: Vec<PatentRow>,
}

/// A JSON field of the request and the input it is typed in.
const RENAMED: &[(&str, &str)] = &[("price_fen", "price_yuan")];

impl ListingForm {
    fn blank_form() -> Self {
        Self { kind: "patent".into(), patents: vec![PatentRow::default()], ..Self::default() }
    }

    fn read(fields: &Fields) -> Self {
        let patents = (0..fields.rows("patents"))
            .map(|i| {
                let field = |name: &str| fields.text(&format!("patents[{i}].{name}"));
                PatentRow {
                    application_number: field("application_number"),
                    publication_number: field("publication_number"),
                    patent_type: field("patent_type"),
                    title: field("title"),
                    filing_date: field("filing_date"),
                    grant_date: field("grant_date"),
                    legal_status: field("legal_status"),
                }
            })
            .collect();
        Self {
            kind: fields.text("kind"),
            title: fields.text("title"),
            summary: fields.text("summary"),
            description: fields.text("description"),
            ipc: fields.text("ipc"),
            maturity: fields.text("maturity"),
            trade_modes: fields.all("trade_modes"),
            price_yuan: fields.text("price_yuan"),
            negotiable: fields.checked("negotiable"),
            region_code: fields.text("region_code"),
            patents,
        }
    }

    fn of(listing: &ListingResponse) -> Self {
        let patents = listing
            .patents
            .iter()
            .map(|p| PatentRow {
                application_number: p.application_number.clone(),
                publication_number: p.publication_number.clone().unwrap_or_default(),
                patent_type: p.patent_type.clone(),
                title: p.title.clone(),
                filing_date: p.filing_date.to_string(),
                grant_date: p.grant_date.map(|d| d.to_string()).unwrap_or_default(),
                legal_status: p.legal_status.clone(),
            })
            .collect();
        Self {
            kind: listing.kind.clone(),
            title: listing.title.clone(),
            summary: listing.summary.clone(),
            description: listing.description.clone().unwrap_or_default(),
            ipc: listing.ipc.join("\n"),
            maturity: listing.maturity.clone(),
            trade_modes: listing.trade_modes.clone(),
            price_yuan: listing.price_fen.map(format::fen_as_yuan_input).unwrap_or_default(),
            negotiable: listing.negotiable,
            region_code: listing.region_code.clone(),
            patents,
        }
    }

    /// The request body the API takes, and where each error belongs; an
    /// error of its own when a typed price is not an amount.
    fn json(&self, purpose: Purpose) -> Result<(Value, FieldMap), ApiError> {
        let mut object = Map::new();
        purpose.put_required(&mut object, "kind", &self.kind);
        object.insert("title".into(), Value::String(self.title.clone()));
        object.insert("summary".into(), Value::String(self.summary.clone()));
        object.insert("description".into(), optional(&self.description));
        object.insert("ipc".into(), ipc_codes(&self.ipc).into());
        purpose.put_required(&mut object, "maturity", &self.maturity);
        object.insert("trade_modes".into(), self.trade_modes.clone().into());
        let mut amounts = Amounts::default();
        amounts.put(&mut object, "price_fen", "price_yuan", &self.price_yuan);
        if let Some(error) = amounts.error() {
            return Err(error);
        }
        object.insert("negotiable".into(), self.negotiable.into());
        purpose.put_required(&mut object, "region_code", &self.region_code);
        // Rows left blank are not patents; the others keep their place on
        // the form for their errors.
        let rows: Vec<usize> = (0..self.patents.len()).filter(|&i| !self.patents[i].is_blank()).collect();
        object.insert("patents".into(), rows.iter().map(|&i| self.patents[i].json()).collect());
        Ok((Value::Object(object), FieldMap { renamed: RENAMED, rows, row_prefix: "patents" }))
    }
}

#[derive(Template)]
#[template(path = "listing_form.html")]
struct ListingFormPage {
    ctx: Ctx,
    form: ListingForm,
    errors: FormErrors,
    /// The stored listing when editing; none for a new one.
    listing: Option<ListingResponse>,
    /// What just happened (`created`, `saved`, `submitted`, `withdrawn`).
    done: String,
    kinds: Vec<&'static str>,
    maturities: Vec<&'static str>,
    trade_modes: Vec<&'static str>,
    patent_types: Vec<&'static str>,
    legal_statuses: Vec<&'static str>,
}

impl ListingFormPage {
    /// The form's action: create, or update the listing being edited.
    fn action(&self) -> String {
        match &self.listing {
            Some(listing) => format!("/workspace/listings/{}", listing.id),
            None => "/workspace/listings".to_string(),
        }
    }

    fn trade_mode_checked(&self, mode: &str) -> bool {
        self.form.trade_modes.iter().any(|m| m == mode)
    }

    /// The message on a field of the form's patent `row`.
    fn row_error(&self, row: impl Plain<usize>, field: &str) -> Option<&String> {
        self.errors.field(&format!("patents[{}].{field}", row.plain()))
    }

    /// The name of a field of the form's patent `row`.
    fn row_name(&self, row: impl Plain<usize>, field: &str) -> String {
        format!("patents[{}].{field}", row.plain())
    }
}

impl Editable for ListingForm {
    type Stored = ListingResponse;
    type Request = ListingRequest;
    const PATH: &'static str = "listings";
    const SUBJECT: &'static str = "listing";

    fn blank() -> Self {
        Self::blank_form()
    }

    fn from_fields(fields: &Fields) -> Self {
        Self::read(fields)
    }

    fn from_stored(listing: &ListingResponse) -> Self {
        Self::of(listing)
    }

    fn request(&self, purpose: Purpose) -> Result<(Value, FieldMap), ApiError> {
        self.json(purpose)
    }

    fn add_row(&mut self) {
        self.patents.push(PatentRow::default());
    }

    fn id(stored: &ListingResponse) -> &str {
        &stored.id
    }

    fn owner(stored: &ListingResponse) -> &str {
        &stored.owner_organization_id
    }

    fn render(
        visitor: &Visitor,
        status: StatusCode,
        form: Self,
        errors: FormErrors,
        stored: Option<ListingResponse>,
        done: String,
    ) -> Response {
        let page = ListingFormPage {
            ctx: Ctx::new(visitor),
            form,
            errors,
            listing: stored,
            done,
            kinds: ListingKind::ALL.iter().map(|v| v.as_str()).collect(),
            maturities: Maturity::ALL.iter().map(|v| v.as_str()).collect(),
            trade_modes: TradeMode::ALL.iter().map(|v| v.as_str()).collect(),
            patent_types: PatentType::ALL.iter().map(|v| v.as_str()).collect(),
            legal_statuses: LegalStatus::ALL.iter().map(|v| v.as_str()).collect(),
        };
        page::render(visitor, status, &page)
    }

    async fn load(state: AppState, user: CurrentUser, id: String) -> ApiResult<ListingResponse> {
        service::listing(state, Some(user), id).await
    }

    async fn create(actor: Actor, state: AppState, request: ListingRequest) -> ApiResult<ListingResponse> {
        service::create_listing(actor, state, request).await
    }

    async fn update(
        actor: Actor,
        state: AppState,
        id: String,
        expected: Option<i64>,
        patch: Value,
    ) -> ApiResult<ListingResponse> {
        service::update_listing(actor, state, id, expected, patch).await
    }

    async fn submit(actor: Actor, state: AppState, id: String) -> ApiResult<ListingResponse> {
        service::submit_listing(actor, state, id).await
    }

    async fn withdraw(actor: Actor, state: AppState, id: String) -> ApiResult<ListingResponse> {
        service::withdraw_listing(actor, state, id).await
    }
}
