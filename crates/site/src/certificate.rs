//! The printable registration certificate: the registration office's
//! service states it (`techtrade_registry::CertificateFacts`), this page
//! sets it for A4 with the site's stylesheet (its `@media print` rules).
//! The API serves it with `Accept: text/html`.

use askama::Template;
use axum::extract::{Extension, Path, State};
use axum::response::{Html, IntoResponse, Response};
use techtrade_registry::{CertificateFacts, CertificatePage, RegistrySettings};
use techtrade_web::{AppState, RequestId};

use crate::page;
use crate::session::Visitor;
use crate::workspace::signed_in;

#[derive(Template)]
#[template(path = "certificate.html")]
struct Certificate<'a> {
    facts: &'a CertificateFacts,
    css_url: &'static str,
}

/// The page renderer the registration office's API route is given.
pub fn page() -> CertificatePage {
    CertificatePage(Some(std::sync::Arc::new(|facts: &CertificateFacts| {
        Certificate { facts, css_url: crate::assets::url("site.css") }.render().map_err(|e| e.to_string())
    })))
}

/// `GET /registrations/{id}/certificate`: the printable page, for the
/// parties and officials (anyone else: not found).
pub async fn show(
    State(state): State<AppState>,
    Extension(settings): Extension<RegistrySettings>,
    visitor: Visitor,
    Path(id): Path<String>,
) -> Response {
    let user = match signed_in(&visitor) {
        Ok(user) => user,
        Err(response) => return response,
    };
    let facts = match techtrade_registry::certificate_facts(&state, &settings, &user, id).await {
        Ok(facts) => facts,
        Err(error) => return page::error_page(&visitor, &error),
    };
    match (Certificate { facts: &facts, css_url: crate::assets::url("site.css") }).render() {
        Ok(body) => {
            let mut response = Html(body).into_response();
            page::finish(&visitor, &mut response);
            response
        }
        Err(error) => page::error_page(&visitor, &techtrade_web::ApiError::internal(error.to_string())),
    }
}

/// `GET /registrations/{id}/certificate.pdf`.
pub async fn pdf(
    State(state): State<AppState>,
    Extension(settings): Extension<RegistrySettings>,
    visitor: Visitor,
    Path(id): Path<String>,
) -> Response {
    let user = match signed_in(&visitor) {
        Ok(user) => user,
        Err(response) => return response,
    };
    match techtrade_registry::certificate_pdf(&state, &settings, &user, id).await {
        Ok((name, bytes)) => techtrade_web::download::attachment(&name, "application/pdf", bytes),
        Err(error) => page::error_page(&visitor, &error),
    }
}

/// `GET /registrations/{id}/documents/{document_id}`: a document's bytes,
/// for the parties and officials (each read is audited).
pub async fn document(
    State(state): State<AppState>,
    Extension(settings): Extension<RegistrySettings>,
    RequestId(request_id): RequestId,
    visitor: Visitor,
    Path((id, document_id)): Path<(String, String)>,
) -> Response {
    let user = match signed_in(&visitor) {
        Ok(user) => user,
        Err(response) => return response,
    };
    match techtrade_registry::read_document(&state, &settings, &user, request_id, id, document_id).await {
        Ok((document, bytes)) => {
            let content_type = techtrade_registry::document_content_type(&document.media_type);
            techtrade_web::download::attachment(&document.file_name, content_type, bytes)
        }
        Err(error) => page::error_page(&visitor, &error),
    }
}
