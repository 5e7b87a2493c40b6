//! The web front: the market as pages for people, served by the same
//! binary at `/` beside the JSON API under `/api/v1`.
//!
//! Pages are rendered on the server from askama templates (checked when
//! the binary is built) and work without JavaScript: forms are plain GET
//! and POST forms with a redirect after each post. htmx, vendored and
//! embedded, only makes them quicker (the search's facets and pages swap
//! in place, titles are suggested while typing). Every handler calls the
//! service functions the JSON handlers call, so a rule lives in one place
//! and an error comes back as the service's error, shown on its field.

// A page that cannot go on answers with another page (a redirect to sign
// in, a 404): `Result<_, Response>` hands it straight back to axum, and
// boxing the response would only add an allocation to every refusal.
#![allow(clippy::result_large_err)]

mod account;
mod assets;
mod calculation;
mod certificate;
mod checks;
mod console;
mod format;
mod i18n;
mod notices;
mod page;
mod public;
mod reset;
mod session;
mod signin;
mod workspace;

use axum::Router;
use axum::middleware;
use axum::routing::{get, post};
use techtrade_web::AppState;
use workspace::{DemandForm, ListingForm, claims, deals, items, organization, registrations, saved};

pub use certificate::page as certificate_page;
pub use i18n::Lang;

/// How the web front is served.
#[derive(Debug, Clone, Default)]
pub struct SiteOptions {
    /// Mark cookies `Secure` (the site is served over https).
    pub secure_cookies: bool,
    /// The address people reach the site at, without a trailing slash: the
    /// way back for a visitor sent elsewhere (Stripe's card page returns
    /// to the deal).
    pub public_url: String,
    /// Stripe's publishable key, when the web front takes card payments.
    pub stripe_publishable_key: Option<String>,
}

impl SiteOptions {
    /// The options for a site served at `public_url`, taking cards with
    /// Stripe when a publishable key is given.
    pub fn new(public_url: &str, stripe_publishable_key: Option<String>) -> Self {
        let public_url = public_url.trim().trim_end_matches('/').to_string();
        Self {
            secure_cookies: public_url.to_ascii_lowercase().starts_with("https://"),
            public_url,
            stripe_publishable_key,
        }
    }
}

/// The pages of the web front. They need the application's extensions
/// like the API's routes do (the search index, the password hasher), and
/// the [`SiteOptions`] as one more.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(public::home))
        .route("/search", get(public::search))
        .route("/search/suggest", get(public::suggest))
        .route("/listings/{id}", get(public::listing))
        .route("/demands/{id}", get(public::demand))
        .route("/notices", get(notices::notices))
        .route("/notices/{id}", get(notices::notice))
        .route("/programs", get(notices::programs))
        .route("/login", get(signin::login_form).post(signin::login))
        .route("/login/code", post(signin::login_code))
        .route("/logout", post(signin::logout))
        .route("/register", get(signin::register_form).post(signin::register))
        .route("/password-reset", get(reset::show).post(reset::ask))
        .route("/password-reset/confirm", post(reset::choose))
        .route("/static/{hash}/{name}", get(assets::serve))
        .route("/check/{field}", get(checks::check))
        .route("/workspace", get(workspace::home))
        .route("/workspace/listings", get(workspace::listings).post(items::create_item::<ListingForm>))
        .route("/workspace/listings/new", get(items::new_item::<ListingForm>))
        .route("/workspace/listings/{id}", post(items::update_item::<ListingForm>))
        .route("/workspace/listings/{id}/edit", get(items::edit_item::<ListingForm>))
        .route("/workspace/listings/{id}/{action}", post(items::item_action::<ListingForm>))
        .route("/workspace/demands", get(workspace::demands).post(items::create_item::<DemandForm>))
        .route("/workspace/demands/new", get(items::new_item::<DemandForm>))
        .route("/workspace/demands/{id}", post(items::update_item::<DemandForm>))
        .route("/workspace/demands/{id}/edit", get(items::edit_item::<DemandForm>))
        .route("/workspace/demands/{id}/{action}", post(items::item_action::<DemandForm>))
        .route("/workspace/deals", get(deals::list).post(deals::open))
        .route("/workspace/deals/new", get(deals::new))
        .route("/workspace/deals/{id}", get(deals::show))
        .route("/workspace/deals/{id}/{step}", post(deals::step))
        .route("/workspace/payments/{id}/{answer}", post(deals::answer_payment))
        .route("/workspace/registrations", get(registrations::list).post(registrations::create))
        .route("/workspace/registrations/{id}", get(registrations::show))
        // A document may be larger than a form: its own limit
        // (`registration.max_document_mb`) is counted as it is read.
        .route(
            "/workspace/registrations/{id}/documents",
            post(registrations::upload).layer(axum::extract::DefaultBodyLimit::disable()),
        )
        .route("/workspace/registrations/{id}/{step}", post(registrations::step))
        .route("/workspace/claims", get(claims::show).post(claims::submit))
        .route("/workspace/organization", get(organization::show))
        .route("/workspace/organization/members", post(organization::add_member))
        .route("/workspace/organization/members/{id}", post(organization::manage_member))
        .route("/workspace/saved-searches", get(saved::list).post(saved::save))
        .route("/workspace/saved-searches/{id}/delete", post(saved::delete))
        .route("/account", get(account::show))
        // The name for it, kept as a way in.
        .route("/workspace/account", get(|| async { page::redirect("/account") }))
        .route("/account/password", post(account::change_password))
        .route("/account/sessions/{id}/end", post(account::end_session))
        .route("/account/totp", post(account::start_second_factor))
        .route("/account/totp/confirm", post(account::confirm_second_factor))
        .route("/account/totp/manage", post(account::manage_second_factor))
        .route("/console", get(console::home))
        .route("/console/reviews", get(console::reviews::show))
        .route("/console/reviews/{kind}/{id}", post(console::reviews::decide))
        .route("/console/registrations", get(console::registrations::show))
        .route("/console/office", get(console::office::show))
        .route("/console/office/{id}", post(console::office::decide))
        .route("/registrations/{id}/certificate", get(certificate::show))
        .route("/registrations/{id}/certificate.pdf", get(certificate::pdf))
        .route("/registrations/{id}/documents/{document_id}", get(certificate::document))
        .route("/console/registrations/{id}", post(console::registrations::decide))
        .route("/console/claims", get(console::claims::show))
        .route("/console/claims/{id}", post(console::claims::decide))
        .route("/console/rounds", get(console::rounds::show).post(console::rounds::close))
        .route("/console/rounds/{id}/export.csv", get(console::rounds::export))
        .route("/console/disbursements/{id}/paid", post(console::rounds::paid))
        .route("/console/programs", get(console::programs::show))
        .route("/console/statistics", get(console::statistics::show))
        .route("/console/statistics/export.csv", get(console::statistics::export_csv))
        .route("/console/statistics/export.xlsx", get(console::statistics::export_xlsx))
        .route("/console/users", get(console::users::show).post(console::users::create))
        .route("/console/audit", get(console::audit::show))
        .route("/console/audit/export.csv", get(console::audit::export))
        .route("/console/users/{id}/disable", post(console::users::disable))
        .route("/console/users/{id}/unlock", post(console::users::unlock))
        .route("/console/users/{id}/second-factor/reset", post(console::users::reset_second_factor))
        .route("/console/users/{id}/role", post(console::users::change_role))
        .layer(middleware::from_fn(session::csrf_guard))
}

/// The 404 page for a path outside the API that no page has.
pub async fn not_found_page(state: &AppState, request: axum::extract::Request) -> axum::response::Response {
    use axum::extract::FromRequestParts;
    let (mut parts, _) = request.into_parts();
    match session::Visitor::from_request_parts(&mut parts, state).await {
        Ok(visitor) => page::error_page(&visitor, &techtrade_web::ApiError::not_found("page")),
        Err(response) => response,
    }
}
