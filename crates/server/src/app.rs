//! The application: every service's routes under one OpenAPI document, the
//! docs page, health checks, and the middleware every request goes through.

use std::time::Duration;

use axum::Router;
use axum::extract::{Extension, Request, State};
use axum::http::{HeaderName, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use techtrade_accounts::PasswordHasher;
use techtrade_search::SharedIndex;
use techtrade_web::openapi::BaseApi;
use techtrade_web::{ApiError, ApiResult, AppState, ErrorCode, Json};
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use utoipa::{OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use utoipa_swagger_ui::SwaggerUi;

pub use techtrade_site::SiteOptions;

/// Tuning of the HTTP layer.
#[derive(Debug, Clone)]
pub struct HttpOptions {
    pub body_limit_bytes: usize,
    pub request_timeout: Duration,
}

impl Default for HttpOptions {
    fn default() -> Self {
        Self { body_limit_bytes: 2 * 1024 * 1024, request_timeout: Duration::from_secs(30) }
    }
}

/// A route group an API replica can mount (`techtrade serve --services`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ApiService {
    Accounts,
    Listings,
    Deals,
    Payments,
    Search,
    Subsidy,
    Matching,
    Statistics,
    Registry,
}

impl ApiService {
    pub const ALL: [Self; 9] = [
        Self::Accounts,
        Self::Listings,
        Self::Deals,
        Self::Payments,
        Self::Search,
        Self::Subsidy,
        Self::Matching,
        Self::Statistics,
        Self::Registry,
    ];

    fn router(self) -> OpenApiRouter<AppState> {
        match self {
            Self::Accounts => techtrade_accounts::router(),
            Self::Listings => techtrade_listings::router(),
            Self::Deals => techtrade_deals::router(),
            Self::Payments => techtrade_payments::router(),
            Self::Search => techtrade_search::router(),
            Self::Subsidy => techtrade_subsidy::router(),
            Self::Matching => techtrade_matching::router(),
            Self::Statistics => techtrade_statistics::router(),
            Self::Registry => techtrade_registry::router(),
        }
    }
}

/// The health checks and the routes of `mounted`, with their OpenAPI description.
fn api(mounted: &[ApiService]) -> OpenApiRouter<AppState> {
    let base = OpenApiRouter::with_openapi(BaseApi::openapi()).routes(routes!(healthz)).routes(routes!(readyz));
    mounted.iter().fold(base, |api, service| api.merge(service.router()))
}

/// What the services share besides the database: built once at start-up.
#[derive(Clone)]
pub struct Services {
    pub hasher: PasswordHasher,
    pub search: SharedIndex,
    pub programs: techtrade_subsidy::Programs,
    /// The registration office: its holiday calendar, time limits and code.
    pub registry: techtrade_registry::RegistrySettings,
    /// The Stripe gateway, when Stripe is configured.
    pub stripe: techtrade_payments::Stripe,
    pub matching: techtrade_matching::MatchingSettings,
    /// How the web front is served (cookies `Secure` over https).
    pub site: techtrade_site::SiteOptions,
}

/// The OpenAPI document of the whole API (also served at `/api/openapi.json`).
pub fn openapi() -> utoipa::openapi::OpenApi {
    let mut openapi = api(&ApiService::ALL).into_openapi();
    techtrade_web::openapi::complete_document(&mut openapi);
    openapi
}

/// The application with every service, ready to serve.
pub fn router(state: AppState, services: Services, options: &HttpOptions) -> Router {
    router_with(state, services, options, &ApiService::ALL)
}

/// The application with the route groups of `mounted` only (an API replica
/// of one role); the others answer 404 like any unknown route.
pub fn router_with(state: AppState, services: Services, options: &HttpOptions, mounted: &[ApiService]) -> Router {
    let (api, mut openapi) = api(mounted).split_for_parts();
    techtrade_web::openapi::complete_document(&mut openapi);
    techtrade_subsidy::document_programs(&mut openapi, &services.programs, techtrade_db::today());
    let request_id = HeaderName::from_static("x-request-id");
    let timeout = options.request_timeout;
    let https = crate::headers::Https(services.site.secure_cookies);
    api.merge(techtrade_site::router())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::extract::DefaultBodyLimit::max(options.body_limit_bytes))
        .layer(Extension(services.hasher))
        .layer(Extension(services.search))
        .layer(Extension(services.programs))
        .layer(Extension(services.registry))
        .layer(Extension(services.stripe))
        .layer(Extension(services.matching))
        .layer(Extension(services.site))
        .layer(middleware::from_fn_with_state(state.clone(), catch_up_after_writes))
        .with_state(state)
        .merge(SwaggerUi::new("/docs").url("/api/openapi.json", openapi))
        .layer(
            // Outermost first: every response, even a panic's, carries the
            // request id and the security headers.
            ServiceBuilder::new()
                .layer(SetRequestIdLayer::new(request_id.clone(), MakeRequestUuid))
                .layer(middleware::from_fn_with_state(https, crate::headers::security_headers))
                .layer(
                    TraceLayer::new_for_http()
                        .make_span_with(|request: &Request| {
                            let id = request.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("-");
                            tracing::info_span!("request", id, method = %request.method(), path = %request.uri().path())
                        })
                        .on_response(DefaultOnResponse::new().level(tracing::Level::INFO)),
                )
                .layer(PropagateRequestIdLayer::new(request_id))
                .layer(CatchPanicLayer::custom(|_| {
                    ApiError::new(ErrorCode::Internal, "an internal error occurred; it has been logged").into_response()
                }))
                .layer(middleware::from_fn_with_state(timeout, deadline)),
        )
}

/// After a write this process served, the public views and matching terms
/// it changed are evicted before the answer leaves: whoever made the change, and anyone
/// reading from this process after them, never sees it undone. (Changes
/// made elsewhere arrive with the follower, `PublishedCache::follow`.)
async fn catch_up_after_writes(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let write = !request.method().is_safe();
    let response = next.run(request).await;
    let changed = response.status().is_success() || response.status().is_redirection();
    if write
        && changed
        && state.published.is_serving()
        && let Err(error) = state.published.catch_up(&state.db).await
    {
        tracing::warn!(%error, "published cache: catching up after a write failed; serving from the database");
    }
    response
}

/// 503 for a request still running after the configured time.
async fn deadline(State(timeout): State<Duration>, request: Request, next: Next) -> Response {
    match tokio::time::timeout(timeout, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::new(ErrorCode::Unavailable, "the request took too long").into_response(),
    }
}

/// An unknown path: a problem under `/api`, the web front's 404 page elsewhere.
async fn not_found(State(state): State<AppState>, request: Request) -> Response {
    let path = request.uri().path();
    if path == "/api" || path.starts_with("/api/") {
        return ApiError::new(ErrorCode::NotFound, "no such route").into_response();
    }
    techtrade_site::not_found_page(&state, request).await
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(ErrorCode::MethodNotAllowed, "this route does not accept that method")
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok` or `ready`.
    pub status: &'static str,
    /// The database backend: `sqlite` or `postgres`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database: Option<&'static str>,
    /// The search backend: `embedded` or `meilisearch`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub search: Option<&'static str>,
    /// The last outbox event written, and the last the search index has
    /// applied (-1 while it is being built): their gap is the index's lag.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outbox_position: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub search_position: Option<i64>,
}

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, body = Health)))]
async fn healthz() -> Json<Health> {
    Json(Health { status: "ok", database: None, search: None, outbox_position: None, search_position: None })
}

/// Readiness: the database and the search backend answer.
#[utoipa::path(
    get, path = "/readyz", tag = "operations",
    responses((status = 200, body = Health), (status = 503, body = techtrade_web::error::Problem))
)]
async fn readyz(
    State(state): State<AppState>,
    Extension(search): Extension<SharedIndex>,
) -> ApiResult<(StatusCode, Json<Health>)> {
    let outbox_position = state
        .db
        .run(|conn| {
            techtrade_db::outbox::last_id(conn).map_err(|e| {
                tracing::warn!(error = %e, "readiness check failed");
                ApiError::new(ErrorCode::Unavailable, "the database does not answer")
            })
        })
        .await?;
    let search_unavailable = |e: techtrade_search::SearchError| {
        tracing::warn!(error = %e, "readiness check failed");
        ApiError::new(ErrorCode::Unavailable, "the search backend does not answer")
    };
    search.health().await.map_err(search_unavailable)?;
    let search_position = search.cursor().await.map_err(search_unavailable)?;
    let health = Health {
        status: "ready",
        database: Some(state.db.backend().as_str()),
        search: Some(search.backend()),
        outbox_position: Some(outbox_position),
        search_position: Some(search_position),
    };
    Ok((StatusCode::OK, Json(health)))
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::routing::get;
    use tower::ServiceExt;

    use super::*;

    /// A handler still running at the deadline is cut off with a 503
    /// problem, so a slow client or query cannot hold a worker forever.
    #[tokio::test]
    async fn slow_requests_end_at_the_deadline() {
        let slow = || async {
            tokio::time::sleep(Duration::from_secs(30)).await;
            "too late"
        };
        let router: Router = Router::new()
            .route("/slow", get(slow))
            .route("/fast", get(|| async { "ok" }))
            .layer(middleware::from_fn_with_state(Duration::from_millis(50), deadline));
        let request = |path: &str| Request::get(path).body(Body::empty()).unwrap();
        let fast = router.clone().oneshot(request("/fast")).await.unwrap();
        assert_eq!(fast.status(), StatusCode::OK);
        let started = std::time::Instant::now();
        let cut = router.oneshot(request("/slow")).await.unwrap();
        assert_eq!(cut.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(cut.headers()["content-type"], "application/problem+json");
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}
