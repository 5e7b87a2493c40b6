//! The registration routes (API.md, "Registration office").

use axum::extract::{Extension, State};
use axum::http::StatusCode;
use techtrade_web::error::Problem;
use techtrade_web::{ApiResult, AppState, ClientIp, CurrentUser, Json, Page, PageQuery, Path, Query, RequestId};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::RegistrySettings;
use crate::requests::{AnswerRequest, ApplicationRequest, DecisionRequest};
use crate::service::{self, ApplicationListQuery};
use crate::verify::{Verification, VerifyQuery};
use crate::views::{ApplicationDetail, ApplicationView};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_application, list_applications))
        .routes(routes!(get_application))
        .routes(routes!(submit_application))
        .routes(routes!(answer_request))
        .routes(routes!(decide_application))
        .routes(routes!(verify_certificate))
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
