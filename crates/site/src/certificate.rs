//! The printable registration certificate: the registration office's
//! service states it (`techtrade_registry::CertificateFacts`), this page
//! sets it for A4 with the site's stylesheet (its `@media print` rules).
//! The API serves it with `Accept: text/html`.

use askama::Template;
use techtrade_registry::{CertificateFacts, CertificatePage};

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
