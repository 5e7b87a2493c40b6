//! The seller's side of the registration office (技术合同认定登记): apply
//! for a contract signed elsewhere or for one of the organisation's
//! platform deals, add the contract's text and proofs, submit, answer a
//! request for more material, ask for a cancellation, print the
//! certificate. The same service functions as the API
//! (`techtrade_registry`); the office decides in `/console/office`.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Extension, Multipart, Path, Query, State};
use axum::response::Response;
use serde_json::{Map, Value};
use techtrade_deals::ListDealsQuery;
use techtrade_deals::views::DealView;
use techtrade_domain::registration::{ContractSubcategory, DocumentKind, IpType, TechnologyField};
use techtrade_domain::{DealStatus, OrganizationKind};
use techtrade_registry::{
    AnswerRequest, ApplicationDetail, ApplicationListQuery, ApplicationRequest, ApplicationView, CancellationRequest,
    RegistrySettings,
};
use techtrade_web::{ApiError, AppState, CurrentUser, PageQuery, RequestId};

use super::Member;
use super::form::{Amounts, FieldMap, Fields, optional, put_required, service_request};
use crate::page::{self, Ctx, FormErrors};
use crate::session::Visitor;

/// The most applications the list shows, newest first.
const SHOWN: u32 = 100;

/// The service's amounts, typed in yuan on the form.
const RENAMED: &[(&str, &str)] = &[
    ("contract.total_amount_fen", "contract.total_amount_yuan"),
    ("contract.non_technical_amount_fen", "contract.non_technical_amount_yuan"),
];

#[derive(Debug, Default, serde::Deserialize)]
pub struct Done {
    #[serde(default)]
    done: String,
}

/// The choices the forms offer, as the service's vocabularies have them.
struct Choices {
    categories: Vec<&'static str>,
    subcategories: Vec<&'static str>,
    technology_fields: Vec<&'static str>,
    ip_types: Vec<&'static str>,
    buyer_kinds: Vec<&'static str>,
}

impl Choices {
    fn new() -> Self {
        Self {
            categories: techtrade_domain::deal::ContractCategory::ALL.iter().map(|c| c.as_str()).collect(),
            subcategories: ContractSubcategory::ALL.iter().map(|c| c.as_str()).collect(),
            technology_fields: TechnologyField::ALL.iter().map(|c| c.as_str()).collect(),
            ip_types: IpType::ALL.iter().map(|c| c.as_str()).collect(),
            buyer_kinds: OrganizationKind::ALL.iter().map(|c| c.as_str()).collect(),
        }
    }
}

#[derive(Template)]
#[template(path = "registrations.html")]
struct RegistrationsPage {
    ctx: Ctx,
    applications: Vec<ApplicationView>,
    /// The organisation's contracted deals as seller that no application covers.
    deals: Vec<DealView>,
    /// The form refused, as typed.
    typed: Fields,
    errors: FormErrors,
    choices: Choices,
}

impl RegistrationsPage {
    fn typed(&self, name: &str) -> String {
        self.typed.text(name)
    }

    fn selected(&self, name: &str, option: &str) -> bool {
        self.typed.text(name) == option
    }

    fn checked(&self, name: &str) -> bool {
        self.typed.checked(name)
    }

    /// The off-platform form's selects: input name, label key, the
    /// options' label prefix, the options.
    fn selects(&self) -> Vec<(&'static str, &'static str, &'static str, &[&'static str])> {
        let c = &self.choices;
        vec![
            ("contract.category", "contract-category", "contract-category", &c.categories),
            ("contract.subcategory", "contract-subcategory", "contract-subcategory", &c.subcategories),
            ("contract.buyer.kind", "buyer-kind", "organization-kind", &c.buyer_kinds),
            ("contract.technology_field", "technology-field", "technology-field", &c.technology_fields),
            ("contract.ip_type", "ip-type", "ip-type", &c.ip_types),
        ]
    }

    /// The deal whose form was refused: its errors are shown on it.
    fn refused_deal(&self, deal: &DealView) -> bool {
        self.typed.text("deal_id") == deal.id
    }
}

async fn registrations_page(
    state: &AppState,
    settings: &RegistrySettings,
    visitor: &Visitor,
    user: CurrentUser,
    refused: Option<(Fields, ApiError)>,
) -> Response {
    let (typed, failure) = match refused {
        Some((fields, error)) => (fields, Some(error)),
        None => (Fields::parse(b""), None),
    };
    let map = FieldMap { renamed: RENAMED, rows: Vec::new(), row_prefix: "" };
    let (status, errors) = match page::outcome(visitor, failure.as_ref(), |e| map.errors(visitor.lang, e)) {
        Ok(shown) => shown,
        Err(response) => return response,
    };
    let page_query = PageQuery { page: None, per_page: Some(SHOWN) };
    let applications =
        match techtrade_registry::list(state, settings, &user, ApplicationListQuery::default(), page_query).await {
            Ok(page) => page.items,
            Err(error) => return page::error_page(visitor, &error),
        };
    let query =
        ListDealsQuery { status: Some(DealStatus::Contracted), per_page: Some(100), ..ListDealsQuery::default() };
    let deals = match techtrade_deals::deals(state, user.clone(), query).await {
        Ok(page) => page.items,
        Err(error) => return page::error_page(visitor, &error),
    };
    let deals = deals
        .into_iter()
        .filter(|deal| user.is_member_of(&deal.seller.id) && deal.registration_application_id.is_none())
        .collect();
    let page =
        RegistrationsPage { ctx: Ctx::new(visitor), applications, deals, typed, errors, choices: Choices::new() };
    page::render(visitor, status, &page)
}

/// `GET /workspace/registrations`: the organisation's applications, its
/// platform contracts waiting for one, and the form for a contract signed elsewhere.
pub async fn list(
    State(state): State<AppState>,
    Extension(settings): Extension<RegistrySettings>,
    visitor: Visitor,
    Member(user): Member,
) -> Response {
    registrations_page(&state, &settings, &visitor, user, None).await
}

/// The application a form asks for: with `deal_id`, a platform deal's
/// contract and the terms it does not say; otherwise the contract as typed.
fn application_request(fields: &Fields) -> Result<ApplicationRequest, ApiError> {
    let mut body = Map::new();
    let mut amounts = Amounts::default();
    let deal_id = fields.text("deal_id");
    if deal_id.is_empty() {
        let mut buyer = Map::new();
        for key in ["name", "credit_code", "region_code"] {
            put_required(&mut buyer, key, &fields.text(&format!("contract.buyer.{key}")));
        }
        buyer.insert("kind".into(), optional(&fields.text("contract.buyer.kind")));
        let mut contract = Map::new();
        put_required(&mut contract, "category", &fields.text("contract.category"));
        contract.insert("subcategory".into(), optional(&fields.text("contract.subcategory")));
        contract.insert("buyer".into(), Value::Object(buyer));
        let total = fields.text("contract.total_amount_yuan");
        if !total.is_empty() {
            amounts.put(&mut contract, "total_amount_fen", "contract.total_amount_yuan", &total);
        }
        // A part left blank is none: the whole contract is technology.
        let part = fields.text("contract.non_technical_amount_yuan");
        let part = if part.is_empty() { "0".to_string() } else { part };
        amounts.put(&mut contract, "non_technical_amount_fen", "contract.non_technical_amount_yuan", &part);
        put_required(&mut contract, "signed_on", &fields.text("contract.signed_on"));
        put_required(&mut contract, "valid_until", &fields.text("contract.valid_until"));
        contract.insert("technology_field".into(), optional(&fields.text("contract.technology_field")));
        contract.insert("ip_type".into(), optional(&fields.text("contract.ip_type")));
        contract.insert("government_project".into(), Value::Bool(fields.checked("contract.government_project")));
        contract.insert("related_party".into(), Value::Bool(fields.checked("contract.related_party")));
        body.insert("contract".into(), Value::Object(contract));
    } else {
        let mut terms = Map::new();
        put_required(&mut terms, "valid_until", &fields.text("terms.valid_until"));
        terms.insert("technology_field".into(), optional(&fields.text("terms.technology_field")));
        terms.insert("ip_type".into(), optional(&fields.text("terms.ip_type")));
        body.insert("deal_id".into(), Value::String(deal_id));
        body.insert("terms".into(), Value::Object(terms));
    }
    service_request(body, &amounts)
}

/// `POST /workspace/registrations`: a new draft, then its page to add the documents.
pub async fn create(
    State(state): State<AppState>,
    Extension(settings): Extension<RegistrySettings>,
    RequestId(request_id): RequestId,
    visitor: Visitor,
    Member(user): Member,
    body: Bytes,
) -> Response {
    let fields = Fields::parse(&body);
    let created = match application_request(&fields) {
        Ok(request) => techtrade_registry::create(&state, &settings, &user, request_id, request).await,
        Err(error) => Err(error),
    };
    match created {
        Ok(application) => page::redirect(&format!("/workspace/registrations/{}?done=created", application.id)),
        Err(error) => registrations_page(&state, &settings, &visitor, user, Some((fields, error))).await,
    }
}

#[derive(Template)]
#[template(path = "registration.html")]
struct RegistrationPage {
    ctx: Ctx,
    detail: ApplicationDetail,
    done: String,
    /// The form that was refused (`upload`, `submit`, `answer`,
    /// `cancellation`, `remove`) and its messages.
    form: String,
    errors: FormErrors,
    kinds: Vec<&'static str>,
}

impl RegistrationPage {
    /// The refusal's message on `field` of `form`.
    fn error_of(&self, form: &str, field: &str) -> Option<&String> {
        (self.form == form).then(|| self.errors.field(field)).flatten()
    }
}

async fn registration_page(
    state: &AppState,
    settings: &RegistrySettings,
    visitor: &Visitor,
    user: CurrentUser,
    id: String,
    done: String,
    refused: Option<(&str, ApiError)>,
) -> Response {
    let (status, errors) =
        match page::outcome(visitor, refused.as_ref().map(|(_, e)| e), |e| FormErrors::from_error(visitor.lang, e)) {
            Ok(shown) => shown,
            Err(response) => return response,
        };
    let detail = match techtrade_registry::get(state, settings, &user, id).await {
        Ok(detail) => detail,
        Err(error) => return page::error_page(visitor, &error),
    };
    let page = RegistrationPage {
        ctx: Ctx::new(visitor),
        detail,
        done,
        form: refused.map(|(form, _)| form.to_string()).unwrap_or_default(),
        errors,
        kinds: DocumentKind::ALL.iter().map(|k| k.as_str()).collect(),
    };
    page::render(visitor, status, &page)
}

/// `GET /workspace/registrations/{id}`: the application, its documents and record.
pub async fn show(
    State(state): State<AppState>,
    Extension(settings): Extension<RegistrySettings>,
    visitor: Visitor,
    Member(user): Member,
    Path(id): Path<String>,
    Query(done): Query<Done>,
) -> Response {
    registration_page(&state, &settings, &visitor, user, id, done.done, None).await
}

/// `POST /workspace/registrations/{id}/documents` (multipart: `file`,
/// `kind`; the CSRF token in the query string): adds a document.
pub async fn upload(
    State(state): State<AppState>,
    Extension(settings): Extension<RegistrySettings>,
    RequestId(request_id): RequestId,
    visitor: Visitor,
    Member(user): Member,
    Path(id): Path<String>,
    form: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Response {
    let uploaded = match form {
        Ok(form) => match techtrade_registry::read_upload(form, settings.max_document_bytes).await {
            Ok(upload) => techtrade_registry::upload_document(&state, &settings, &user, request_id, id.clone(), upload)
                .await
                .map(drop),
            Err(error) => Err(error),
        },
        Err(_) => Err(ApiError::invalid_field("file", "required", "choose a file")),
    };
    match uploaded {
        Ok(()) => page::redirect(&format!("/workspace/registrations/{id}?done=uploaded")),
        Err(error) => {
            registration_page(&state, &settings, &visitor, user, id, String::new(), Some(("upload", error))).await
        }
    }
}

/// `POST /workspace/registrations/{id}/{step}`: `submit`, `answer`
/// (`message`), `cancellation` (`reason`) or `remove` (`document_id`, a
/// draft's document).
pub async fn step(
    State(state): State<AppState>,
    Extension(settings): Extension<RegistrySettings>,
    RequestId(request_id): RequestId,
    visitor: Visitor,
    Member(user): Member,
    Path((id, step)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let fields = Fields::parse(&body);
    let (state_ref, settings_ref, user_ref) = (&state, &settings, &user);
    let result = match step.as_str() {
        "submit" => {
            techtrade_registry::submit(state_ref, settings_ref, user_ref, request_id, id.clone()).await.map(drop)
        }
        "answer" => {
            let request = AnswerRequest { message: Some(fields.text("message")) };
            techtrade_registry::answer(state_ref, settings_ref, user_ref, request_id, id.clone(), request)
                .await
                .map(drop)
        }
        "cancellation" => {
            let request = CancellationRequest { reason: fields.text("reason") };
            techtrade_registry::request_cancellation(state_ref, settings_ref, user_ref, request_id, id.clone(), request)
                .await
                .map(drop)
        }
        "remove" => {
            let document = fields.text("document_id");
            techtrade_registry::remove_document(state_ref, settings_ref, user_ref, request_id, id.clone(), document)
                .await
        }
        _ => return page::error_page(&visitor, &ApiError::not_found("page")),
    };
    match result {
        Ok(()) => page::redirect(&format!("/workspace/registrations/{id}?done={step}")),
        Err(error) => {
            registration_page(&state, &settings, &visitor, user, id, String::new(), Some((step.as_str(), error))).await
        }
    }
}
