//! The static files of the web front, compiled into the binary and served
//! under a URL that holds a hash of their content: a changed file gets a
//! new URL, so each URL can be cached for a year.

use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

struct Asset {
    name: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
}

/// htmx is vendored at a pinned version (`npm pack htmx.org@2.0.11`,
/// BSD Zero Clause licence beside it in `static/`).
/// `card.js` is our own: it mounts Stripe's card form on the card page.
const FILES: [Asset; 3] = [
    Asset { name: "site.css", content_type: "text/css; charset=utf-8", bytes: include_bytes!("../static/site.css") },
    Asset {
        name: "htmx.min.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../static/htmx-2.0.11.min.js"),
    },
    Asset {
        name: "card.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../static/card.js"),
    },
];

struct Hashed {
    asset: &'static Asset,
    hash: String,
    url: String,
}

static HASHED: LazyLock<Vec<Hashed>> = LazyLock::new(|| {
    FILES
        .iter()
        .map(|asset| {
            let hash = hex::encode(&Sha256::digest(asset.bytes)[..6]);
            let url = format!("/static/{hash}/{}", asset.name);
            Hashed { asset, hash, url }
        })
        .collect()
});

/// The URL of a static file by its name (`site.css`).
pub fn url(name: &str) -> &'static str {
    HASHED.iter().find(|h| h.asset.name == name).map_or("/static/missing", |h| h.url.as_str())
}

/// `GET /static/{hash}/{name}`: the file, cached for a year; 404 for a
/// name or hash that is not the current one.
pub async fn serve(Path((hash, name)): Path<(String, String)>) -> Response {
    let Some(found) = HASHED.iter().find(|h| h.asset.name == name && h.hash == hash) else {
        return (StatusCode::NOT_FOUND, [(header::CACHE_CONTROL, "no-store")], "no such file").into_response();
    };
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(found.asset.content_type)),
            (header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=31536000, immutable")),
        ],
        found.asset.bytes,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_hold_the_content_hash() {
        let css = url("site.css");
        let expected = hex::encode(&Sha256::digest(include_bytes!("../static/site.css"))[..6]);
        assert_eq!(css, format!("/static/{expected}/site.css"));
        assert!(url("htmx.min.js").ends_with("/htmx.min.js"));
    }
}
