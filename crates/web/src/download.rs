//! A file the client saves rather than shows: an export, a document.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// `bytes` as a download named `file_name` (any characters: the name is
/// also given percent-encoded, RFC 6266, for names beyond ASCII), never
/// cached, since every download here is someone's records.
pub fn attachment(file_name: &str, content_type: &'static str, bytes: Vec<u8>) -> Response {
    let ascii: String =
        file_name.chars().map(|c| if c.is_ascii_graphic() && c != '"' && c != '\\' { c } else { '_' }).collect();
    let encoded = percent_encoding::utf8_percent_encode(file_name, percent_encoding::NON_ALPHANUMERIC);
    let disposition = HeaderValue::from_str(&format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}"))
        .unwrap_or_else(|_| HeaderValue::from_static("attachment"));
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::CONTENT_DISPOSITION, disposition),
            (header::CACHE_CONTROL, HeaderValue::from_static("private, no-store")),
        ],
        bytes,
    )
        .into_response()
}

/// A CSV export (UTF-8; the writer adds the byte-order mark Excel needs).
pub fn csv(file_name: &str, bytes: Vec<u8>) -> Response {
    attachment(file_name, "text/csv; charset=utf-8", bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chinese_name_is_kept_encoded_and_replaced_in_the_plain_one() {
        let response = attachment("合同 v2.pdf", "application/pdf", b"%PDF".to_vec());
        let disposition = response.headers()[header::CONTENT_DISPOSITION].to_str().expect("ascii header");
        assert_eq!(disposition, "attachment; filename=\"___v2.pdf\"; filename*=UTF-8''%E5%90%88%E5%90%8C%20v2%2Epdf");
        assert_eq!(response.headers()[header::CACHE_CONTROL], "private, no-store");
    }
}
