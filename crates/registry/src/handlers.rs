//! The registration routes (API.md, "Registration office").

use axum::extract::{DefaultBodyLimit, Extension, Multipart, State};
use axum::http::StatusCode;
use axum::response::Response;
use techtrade_web::error::Problem;
use techtrade_web::{ApiResult, AppState, ClientIp, CurrentUser, Json, Page, PageQuery, Path, Query, RequestId};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::RegistrySettings;
use crate::documents::UploadForm;
use crate::requests::{
    AmendmentRequest, AnswerRequest, ApplicationRequest, CancellationRequest, DecisionRequest, DisputeRequest,
    PaymentDecision, PaymentDeclaration,
};
use crate::service::{self, ApplicationListQuery};
use crate::verify::{Verification, VerifyQuery};
use crate::views::{ApplicationDetail, ApplicationView, DeclaredPaymentView, DocumentView};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_application, list_applications))
        .routes(routes!(get_application))
        .routes(routes!(submit_application))
        .routes(routes!(answer_request))
        .routes(routes!(decide_application))
        .routes(routes!(find_in_dispute))
        .routes(routes!(decide_deal_registration))
        .routes(routes!(verify_certificate))
        .routes(routes!(get_certificate))
        .routes(routes!(get_document, remove_document))
        .routes(routes!(request_amendment))
        .routes(routes!(request_cancellation))
        .routes(routes!(declare_payment))
        .routes(routes!(decide_payment))
        // A document may be larger than the server's body limit for JSON:
        // its own limit (`registration.max_document_mb`) is counted as it is read.
        .merge(OpenApiRouter::new().routes(routes!(upload_document)).layer(DefaultBodyLimit::disable()))
}

/// Checks a registration certificate (public): whether the number and the
/// seller's credit code belong together, and what the certificate states.
/// At most 30 checks per address in 10 minutes.
#[utoipa::path(get, path = "/api/v1/registrations/verify", tag = "registrations", params(VerifyQuery),
    responses((status = 200, body = Verification), (status = 400, body = Problem), (status = 429, body = Problem)))]
async fn verify_certificate(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Query(query): Query<VerifyQuery>,
) -> ApiResult<Json<Verification>> {
    Ok(Json(crate::verify::verify(&state, &ip, query).await?))
}

/// A seller's application for a technology contract signed off the
/// platform: a draft until submitted.
#[utoipa::path(post, path = "/api/v1/registrations", tag = "registrations", request_body = ApplicationRequest,
    security(("bearer" = [])),
    responses((status = 201, body = ApplicationView), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 422, body = Problem)))]
async fn create_application(
    State(state): State<AppState>,
    Extension(settings): Extension<RegistrySettings>,
    user: CurrentUser,
    RequestId(request_id): RequestId,
    Json(request): Json<ApplicationRequest>,
) -> ApiResult<(StatusCode, Json<ApplicationView>)> {
    let created = service::create(&state, &settings, &user, request_id, request).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// Applications: for officials the office's queue, the earliest deadline
/// first; for members their organisation's.
#[utoipa::path(get, path = "/api/v1/registrations", tag = "registrations", params(ApplicationListQuery, PageQuery),
    security(("bearer" = [])),
    responses((status = 200, body = Page<ApplicationView>), (status = 400, body = Problem),
        (status = 401, body = Problem), (status = 403, body = Problem)))]
async fn list_applications(
    State(state): State<AppState>,
    Extension(settings): Extension<RegistrySettings>,
    user: CurrentUser,
    Query(query): Query<ApplicationListQuery>,
    Query(page): Query<PageQuery>,
) -> ApiResult<Json<Page<ApplicationView>>> {
    Ok(Json(service::list(&state, &settings, &user, query, page).await?))
}

/// An application with its record (seller, buyer and officials).
#[utoipa::path(get, path = "/api/v1/registrations/{id}", tag = "registrations", params(("id" = String, Path)),
    security(("bearer" = [])),
    responses((status = 200, body = ApplicationDetail), (status = 401, body = Problem), (status = 404, body = Problem)))]
async fn get_application(
    State(state): State<AppState>,
    Extension(settings): Extension<RegistrySettings>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> ApiResult<Json<ApplicationDetail>> {
    Ok(Json(service::get(&state, &settings, &user, id).await?))
}

/// The seller submits its application: the office's clock starts.
#[utoipa::path(post, path = "/api/v1/registrations/{id}/submit", tag = "registrations", params(("id" = String, Path)),
    security(("bearer" = [])),
    responses((status = 200, body = ApplicationView), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem)))]
async fn submit_application(
    State(state): State<AppState>,
    Extension(settings): Extension<RegistrySettings>,
    user: CurrentUser,
    RequestId(request_id): RequestId,
    Path(id): Path<String>,
) -> ApiResult<Json<ApplicationView>> {
    Ok(Json(service::submit(&state, &settings, &user, request_id, id).await?))
}

/// The seller answers a request for more material (补正): the clock runs
/// again with the working days that were left.
#[utoipa::path(post, path = "/api/v1/registrations/{id}/answer", tag = "registrations", params(("id" = String, Path)),
    request_body = AnswerRequest, security(("bearer" = [])),
    responses((status = 200, body = ApplicationView), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn answer_request(
    State(state): State<AppState>,
    Extension(settings): Extension<RegistrySettings>,
    user: CurrentUser,
    RequestId(request_id): RequestId,
    Path(id): Path<String>,
    Json(request): Json<AnswerRequest>,
) -> ApiResult<Json<ApplicationView>> {
    Ok(Json(service::answer(&state, &settings, &user, request_id, id, request).await?))
}

/// The office's decision (officials, never of a party): register, refuse
/// with catalogued reasons, or request more material.
#[utoipa::path(post, path = "/api/v1/registrations/{id}/decision", tag = "registrations",
    params(("id" = String, Path)), request_body = DecisionRequest, security(("bearer" = [])),
    responses((status = 200, body = ApplicationView), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn decide_application(
    State(state): State<AppState>,
    Extension(settings): Extension<RegistrySettings>,
    user: CurrentUser,
    RequestId(request_id): RequestId,
    Path(id): Path<String>,
    Json(request): Json<DecisionRequest>,
) -> ApiResult<Json<ApplicationView>> {
    Ok(Json(service::decide(&state, &settings, &user, request_id, id, request).await?))
}

/// The office finds the contract in dispute (officials, never of a party,
/// while it decides): 30 working days instead of 15, the extra days added
/// to the deadline.
#[utoipa::path(post, path = "/api/v1/registrations/{id}/dispute", tag = "registrations",
    params(("id" = String, Path)), request_body = DisputeRequest, security(("bearer" = [])),
    responses((status = 200, body = ApplicationView), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn find_in_dispute(
    State(state): State<AppState>,
    Extension(settings): Extension<RegistrySettings>,
    user: CurrentUser,
    RequestId(request_id): RequestId,
    Path(id): Path<String>,
    Json(request): Json<DisputeRequest>,
) -> ApiResult<Json<ApplicationView>> {
    Ok(Json(service::dispute(&state, &settings, &user, request_id, id, request).await?))
}

/// An official registers a deal's contract (技术合同认定登记) with the 核定
/// technology amount, or rejects it. When the seller applied
/// (`POST /registrations` with the deal) this decides that application —
/// a rejection then names catalogued `reasons` —; otherwise the contract
/// the platform holds is registered at once. Never by an official of a
/// party or of the deal's agency.
#[utoipa::path(post, path = "/api/v1/deals/{id}/registration", tag = "deals",
    request_body = techtrade_deals::requests::ContractRegistrationRequest,
    security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, body = techtrade_deals::views::DealView), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn decide_deal_registration(
    State(state): State<AppState>,
    Extension(settings): Extension<RegistrySettings>,
    user: CurrentUser,
    RequestId(request_id): RequestId,
    Path(id): Path<String>,
    Json(request): Json<techtrade_deals::requests::ContractRegistrationRequest>,
) -> ApiResult<Json<techtrade_deals::views::DealView>> {
    Ok(Json(crate::deals::register_deal(&state, &settings, &user, request_id, id, request).await?))
}

/// The seller adds a document (`multipart/form-data`: `file`, `kind` =
/// contract | annex | invoice | proof): PDF, JPEG or PNG as its bytes show,
/// at most `registration.max_document_mb`.
#[utoipa::path(post, path = "/api/v1/registrations/{id}/documents", tag = "registrations",
    params(("id" = String, Path)), request_body(content = UploadForm, content_type = "multipart/form-data"),
    security(("bearer" = [])),
    responses((status = 201, body = DocumentView), (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 413, body = Problem), (status = 415, body = Problem), (status = 422, body = Problem)))]
async fn upload_document(
    State(state): State<AppState>,
    Extension(settings): Extension<RegistrySettings>,
    user: CurrentUser,
    RequestId(request_id): RequestId,
    Path(id): Path<String>,
    form: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> ApiResult<(StatusCode, Json<DocumentView>)> {
    let form = form.map_err(|e| {
        techtrade_web::ApiError::new(
            techtrade_web::ErrorCode::UnsupportedMediaType,
            format!("send multipart/form-data with the parts file and kind: {e}"),
        )
    })?;
    let upload = crate::documents::read_upload(form, settings.max_document_bytes).await?;
    let document = crate::documents::upload(&state, &settings, &user, request_id, id, upload).await?;
    Ok((StatusCode::CREATED, Json(document)))
}

/// A document's bytes (the parties and officials; each read is audited).
#[utoipa::path(get, path = "/api/v1/registrations/{id}/documents/{document_id}", tag = "registrations",
    params(("id" = String, Path), ("document_id" = String, Path)), security(("bearer" = [])),
    responses((status = 200, description = "The document", content(
            (Vec<u8> = "application/pdf"), (Vec<u8> = "image/jpeg"), (Vec<u8> = "image/png"))),
        (status = 401, body = Problem), (status = 404, body = Problem)))]
async fn get_document(
    State(state): State<AppState>,
    Extension(settings): Extension<RegistrySettings>,
    user: CurrentUser,
    RequestId(request_id): RequestId,
    Path((id, document_id)): Path<(String, String)>,
) -> ApiResult<Response> {
    let (document, bytes) = crate::documents::read(&state, &settings, &user, request_id, id, document_id).await?;
    Ok(techtrade_web::download::attachment(
        &document.file_name,
        crate::documents::content_type(&document.media_type),
        bytes,
    ))
}

/// The seller removes a document from its draft.
#[utoipa::path(delete, path = "/api/v1/registrations/{id}/documents/{document_id}", tag = "registrations",
    params(("id" = String, Path), ("document_id" = String, Path)), security(("bearer" = [])),
    responses((status = 204, description = "Removed"), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem)))]
async fn remove_document(
    State(state): State<AppState>,
    Extension(settings): Extension<RegistrySettings>,
    user: CurrentUser,
    RequestId(request_id): RequestId,
    Path((id, document_id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    crate::documents::remove(&state, &settings, &user, request_id, id, document_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The seller asks the office to amend its registered contract (变更);
/// the office decides through `…/decision`.
#[utoipa::path(post, path = "/api/v1/registrations/{id}/amendments", tag = "registrations",
    params(("id" = String, Path)), request_body = AmendmentRequest, security(("bearer" = [])),
    responses((status = 200, body = ApplicationView), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn request_amendment(
    State(state): State<AppState>,
    Extension(settings): Extension<RegistrySettings>,
    user: CurrentUser,
    RequestId(request_id): RequestId,
    Path(id): Path<String>,
    Json(request): Json<AmendmentRequest>,
) -> ApiResult<Json<ApplicationView>> {
    Ok(Json(crate::changes::request_amendment(&state, &settings, &user, request_id, id, request).await?))
}

/// The seller asks the office to cancel its registration (注销); the
/// office decides through `…/decision`.
#[utoipa::path(post, path = "/api/v1/registrations/{id}/cancellation", tag = "registrations",
    params(("id" = String, Path)), request_body = CancellationRequest, security(("bearer" = [])),
    responses((status = 200, body = ApplicationView), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn request_cancellation(
    State(state): State<AppState>,
    Extension(settings): Extension<RegistrySettings>,
    user: CurrentUser,
    RequestId(request_id): RequestId,
    Path(id): Path<String>,
    Json(request): Json<CancellationRequest>,
) -> ApiResult<Json<ApplicationView>> {
    Ok(Json(crate::changes::request_cancellation(&state, &settings, &user, request_id, id, request).await?))
}

/// The seller declares a payment on its registered off-platform contract,
/// with a proof document; it counts for subsidies once an official confirms it.
#[utoipa::path(post, path = "/api/v1/registrations/{id}/payments", tag = "registrations",
    params(("id" = String, Path)), request_body = PaymentDeclaration, security(("bearer" = [])),
    responses((status = 201, body = DeclaredPaymentView), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 422, body = Problem)))]
async fn declare_payment(
    State(state): State<AppState>,
    Extension(settings): Extension<RegistrySettings>,
    user: CurrentUser,
    RequestId(request_id): RequestId,
    Path(id): Path<String>,
    Json(request): Json<PaymentDeclaration>,
) -> ApiResult<(StatusCode, Json<DeclaredPaymentView>)> {
    let payment = crate::payments::declare(&state, &settings, &user, request_id, id, request).await?;
    Ok((StatusCode::CREATED, Json(payment)))
}

/// An official confirms a declared payment or rejects it with a note.
#[utoipa::path(post, path = "/api/v1/registrations/{id}/payments/{payment_id}/decision", tag = "registrations",
    params(("id" = String, Path), ("payment_id" = String, Path)), request_body = PaymentDecision,
    security(("bearer" = [])),
    responses((status = 200, body = DeclaredPaymentView), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 422, body = Problem)))]
async fn decide_payment(
    State(state): State<AppState>,
    user: CurrentUser,
    RequestId(request_id): RequestId,
    Path((id, payment_id)): Path<(String, String)>,
    Json(request): Json<PaymentDecision>,
) -> ApiResult<Json<DeclaredPaymentView>> {
    Ok(Json(crate::payments::decide(&state, &user, request_id, id, payment_id, request).await?))
}

/// The registration certificate (the parties and officials): JSON by
/// default, the printable page with `Accept: text/html`, a PDF with
/// `Accept: application/pdf`. 409 until the contract is registered.
#[utoipa::path(get, path = "/api/v1/registrations/{id}/certificate", tag = "registrations",
    params(("id" = String, Path)), security(("bearer" = [])),
    responses((status = 200, description = "The certificate", content(
            (crate::certificate::CertificateFacts = "application/json"), (String = "text/html"),
            (Vec<u8> = "application/pdf"))),
        (status = 401, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 503, body = Problem)))]
async fn get_certificate(
    State(state): State<AppState>,
    Extension(settings): Extension<RegistrySettings>,
    user: CurrentUser,
    Path(id): Path<String>,
    headers: axum::http::HeaderMap,
) -> ApiResult<Response> {
    use axum::response::IntoResponse;
    let accept = headers.get(axum::http::header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or_default();
    if accept.contains("application/pdf") {
        let (name, bytes) = crate::certificate::pdf_of(&state, &settings, &user, id).await?;
        return Ok(techtrade_web::download::attachment(&name, "application/pdf", bytes));
    }
    let facts = crate::certificate::facts(&state, &settings, &user, id).await?;
    if accept.contains("text/html")
        && let Some(render) = &settings.certificate_page.0
    {
        let page = render(&facts).map_err(techtrade_web::ApiError::internal)?;
        return Ok(axum::response::Html(page).into_response());
    }
    Ok(Json(facts).into_response())
}
