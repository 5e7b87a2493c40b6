//! The security headers every response carries (等保2.0 level 3 and the
//! usual web-application checks): no MIME sniffing, no framing, no
//! referrer beyond the site, a strict Content-Security-Policy, and HSTS
//! when the site is served over https. No `Server` header is ever sent, so
//! nothing names the software or its version.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

/// The web front: its own scripts, styles and images only (htmx is served
/// from `/static`, with eval and injected styles turned off in `base.html`),
/// plus what Stripe's card form needs on the card page. No inline script
/// or style anywhere, no plugins, no framing, forms post to the site only.
pub const SITE_POLICY: &str = "default-src 'self'; script-src 'self' https://js.stripe.com; \
    style-src 'self'; img-src 'self' data:; connect-src 'self' https://api.stripe.com; \
    frame-src https://js.stripe.com https://hooks.stripe.com; object-src 'none'; base-uri 'none'; \
    form-action 'self'; frame-ancestors 'none'";

/// The API documentation (Swagger UI at `/docs`), which styles itself inline.
pub const DOCS_POLICY: &str = "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; \
    object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

/// Everything else (JSON, CSV, images): nothing may run in it.
pub const DATA_POLICY: &str = "default-src 'none'; frame-ancestors 'none'";

/// One year, with subdomains: what the HSTS preload list asks.
const HSTS: &str = "max-age=31536000; includeSubDomains";

/// Whether the site is served over https (so HSTS is sent).
#[derive(Debug, Clone, Copy)]
pub struct Https(pub bool);

pub async fn security_headers(State(Https(https)): State<Https>, request: Request, next: Next) -> Response {
    let docs = request.uri().path().starts_with("/docs");
    let mut response = next.run(request).await;
    let html = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    let policy = match (docs, html) {
        (true, _) => DOCS_POLICY,
        (false, true) => SITE_POLICY,
        (false, false) => DATA_POLICY,
    };
    apply(response.headers_mut(), policy, https);
    response
}

fn apply(headers: &mut HeaderMap, policy: &'static str, https: bool) {
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(policy));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("strict-origin-when-cross-origin"));
    if https {
        headers.insert(header::STRICT_TRANSPORT_SECURITY, HeaderValue::from_static(HSTS));
    }
    headers.remove(header::SERVER);
}
