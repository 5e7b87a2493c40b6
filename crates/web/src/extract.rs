//! Extractors whose every rejection is an [`ApiError`], so that a bad body,
//! query or path gets problem+json naming the field, never axum's plain text.

use std::net::SocketAddr;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::header;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{ApiError, ErrorCode};
use crate::state::AppState;

/// A JSON body. Syntax errors are 400 `malformed_json`; a value of the wrong
/// type, an unknown enum value or a missing field is 422 naming its path.
#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        if !is_json(req.headers().get(header::CONTENT_TYPE)) {
            return Err(ApiError::new(
                ErrorCode::UnsupportedMediaType,
                "send the body as JSON with Content-Type: application/json",
            ));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(body_rejection)?;
        parse_json(&bytes).map(Json)
    }
}

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

fn is_json(content_type: Option<&header::HeaderValue>) -> bool {
    let Some(Ok(value)) = content_type.map(|v| v.to_str()) else {
        return false;
    };
    let mime = value.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json"))
}

fn body_rejection(rejection: BytesRejection) -> ApiError {
    // The only way reading a body fails that is the client's doing is
    // sending more than the configured limit.
    let text = rejection.body_text();
    if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE || text.contains("length limit") {
        ApiError::new(ErrorCode::PayloadTooLarge, "the request body exceeds the size limit")
    } else {
        ApiError::new(ErrorCode::MalformedJson, format!("could not read the request body: {text}"))
    }
}

/// Parses a JSON document into `T`, naming the path of the first bad value.
///
/// JSON has one kind of number, and JSON Schema's `integer` is any number
/// with a zero fractional part: `1220.0` and `1.22e3` are the integer 1220.
/// Such numbers are read as integers, when they are exactly representable
/// (up to 2^53), so that an integer field takes every value the document
/// allows; `1220.5` stays a number that no integer field accepts.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut document: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|e| ApiError::new(ErrorCode::MalformedJson, format!("the body is not valid JSON: {e}")))?;
    integral_numbers_as_integers(&mut document);
    without_nul_characters(&mut document);
    serde_path_to_error::deserialize(document).map_err(|error| {
        let path = error.path().to_string();
        data_error(&path, &error.into_inner().to_string())
    })
}

/// Removes NUL characters from every string. JSON allows `\u0000` in a
/// string, but PostgreSQL's `text` cannot hold it (the insert fails) and no
/// field of ours means anything by it; it goes the way surrounding spaces
/// go, before any field is checked.
fn without_nul_characters(value: &mut serde_json::Value) {
    use serde_json::Value;
    match value {
        Value::String(text) if text.contains('\0') => text.retain(|c| c != '\0'),
        Value::Array(items) => items.iter_mut().for_each(without_nul_characters),
        Value::Object(fields) => fields.values_mut().for_each(without_nul_characters),
        _ => {}
    }
}

/// The query text without NUL characters (`%00`), as [`parse_json`]
/// removes them from JSON: PostgreSQL's `text` cannot hold one.
pub fn without_nul(text: &str) -> std::borrow::Cow<'_, str> {
    if text.contains('\0') { std::borrow::Cow::Owned(text.replace('\0', "")) } else { std::borrow::Cow::Borrowed(text) }
}

/// The largest integer an IEEE double holds exactly, and every one below it.
const EXACT_IN_A_DOUBLE: f64 = 9_007_199_254_740_992.0;

fn integral_numbers_as_integers(value: &mut serde_json::Value) {
    use serde_json::Value;
    match value {
        Value::Number(number) if number.is_f64() => {
            if let Some(x) = number.as_f64()
                && x.fract() == 0.0
                && x.abs() <= EXACT_IN_A_DOUBLE
            {
                // In range and integral, so the conversion is exact.
                #[allow(clippy::cast_possible_truncation)]
                let integer = x as i64;
                *value = Value::from(integer);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(integral_numbers_as_integers),
        Value::Object(fields) => fields.values_mut().for_each(integral_numbers_as_integers),
        _ => {}
    }
}

/// A serde data error as a 422 field error with a stable code.
fn data_error(path: &str, message: &str) -> ApiError {
    // serde_json appends " at line L column C"; the field path says where.
    let message = message.split(" at line ").next().unwrap_or(message);
    let parent = if path == "." { "" } else { path };
    let join = |name: &str| {
        if parent.is_empty() { name.to_string() } else { format!("{parent}.{name}") }
    };
    let (field, code) = if let Some(name) = backticked(message, "missing field ") {
        // serde reports a missing field at its parent's path.
        (join(name), "required")
    } else if let Some(name) = backticked(message, "unknown field ") {
        (join(name), "unknown_field")
    } else if message.starts_with("unknown variant") {
        (parent.to_string(), "unknown_value")
    } else if message.starts_with("invalid type") {
        (parent.to_string(), "invalid_type")
    } else {
        (parent.to_string(), "invalid_value")
    };
    let field = if field.is_empty() { "body".to_string() } else { field };
    ApiError::new(ErrorCode::ValidationFailed, format!("{field}: {message}")).with_field(field, code, message)
}

fn backticked<'a>(message: &'a str, prefix: &str) -> Option<&'a str> {
    message.strip_prefix(prefix)?.strip_prefix('`')?.split('`').next()
}

/// Query parameters. A value that does not parse is 400 `invalid_query`
/// naming the parameter. A parameter given empty (`?kind=`, as an HTML form
/// sends a filter left unset) is taken as not given.
#[derive(Debug, Clone, Copy, Default)]
pub struct Query<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        parse_query(parts.uri.query().unwrap_or_default()).map(Query)
    }
}

/// Reads `application/x-www-form-urlencoded` text (a query string, or an
/// HTML form's body) into `T`: an empty value is taken as not given, and a
/// value that does not parse is 400 `invalid_query` naming its field.
pub fn parse_query<T: DeserializeOwned>(query: &str) -> Result<T, ApiError> {
    // Most queries have no empty value and are read as they are.
    let pairs = || form_urlencoded::parse(query.as_bytes());
    let given = if pairs().any(|(_, value)| value.is_empty() || value.contains('\0')) {
        std::borrow::Cow::Owned(
            form_urlencoded::Serializer::new(String::new())
                .extend_pairs(
                    pairs().map(|(key, value)| (key, without_nul(&value).into_owned())).filter(|(_, v)| !v.is_empty()),
                )
                .finish(),
        )
    } else {
        std::borrow::Cow::Borrowed(query)
    };
    let deserializer = serde_urlencoded::Deserializer::new(form_urlencoded::parse(given.as_bytes()));
    serde_path_to_error::deserialize(deserializer).map_err(|error| {
        let path = error.path().to_string();
        let message = error.into_inner().to_string();
        let field = match backticked(&message, "missing field ") {
            Some(name) => name.to_string(),
            None if path == "." => "query".to_string(),
            None => path,
        };
        ApiError::new(ErrorCode::InvalidQuery, format!("{field}: {message}")).with_field(
            field,
            "invalid_value",
            message,
        )
    })
}

/// Path parameters, rejected as 400 `invalid_path`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Path<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for Path<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(value)| Path(value))
            .map_err(|rejection: PathRejection| ApiError::new(ErrorCode::InvalidPath, rejection.body_text()))
    }
}

/// The request id set by the request-id layer (`x-request-id`), for audit
/// entries and logs.
#[derive(Debug, Clone, Default)]
pub struct RequestId(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for RequestId {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let id = parts.headers.get("x-request-id").and_then(|v| v.to_str().ok()).map(str::to_string);
        Ok(Self(id))
    }
}

/// The client's address: the connection's peer, or, behind a trusted proxy
/// (`server.trust_forwarded_for`), the last address in `X-Forwarded-For`
/// (the one the proxy itself appended; earlier ones are the client's claim).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientIp(pub String);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        if state.settings.trust_forwarded_for {
            let forwarded = parts
                .headers
                .get("x-forwarded-for")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.rsplit(',').next())
                .map(str::trim)
                .filter(|v| !v.is_empty());
            if let Some(ip) = forwarded {
                return Ok(Self(ip.to_string()));
            }
        }
        let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|ConnectInfo(addr)| addr.ip().to_string());
        Ok(Self(peer.unwrap_or_else(|| "unknown".to_string())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Body {
        organization: Org,
        tags: Vec<Tag>,
    }
    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Org {
        name: String,
        kind: Kind,
    }
    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Tag {
        weight: u8,
    }
    #[derive(Debug, serde::Deserialize)]
    #[serde(rename_all = "snake_case")]
    enum Kind {
        Enterprise,
    }

    fn field_error(body: &str) -> (ErrorCode, String, String) {
        let error = parse_json::<Body>(body.as_bytes()).unwrap_err();
        let first = error.errors().first().cloned();
        (
            error.code(),
            first.as_ref().map(|e| e.field.clone()).unwrap_or_default(),
            first.map(|e| e.code).unwrap_or_default(),
        )
    }

    #[test]
    fn names_the_path_of_bad_values() {
        let ok = r#"{"organization":{"name":"x","kind":"enterprise"},"tags":[{"weight":1}]}"#;
        assert!(parse_json::<Body>(ok.as_bytes()).is_ok());
        assert_eq!(
            field_error(r#"{"organization":{"name":"x","kind":"bank"},"tags":[]}"#),
            (ErrorCode::ValidationFailed, "organization.kind".into(), "unknown_value".into())
        );
        assert_eq!(
            field_error(r#"{"organization":{"name":"x","kind":"enterprise"},"tags":[{"weight":"a"}]}"#),
            (ErrorCode::ValidationFailed, "tags[0].weight".into(), "invalid_type".into())
        );
        assert_eq!(
            field_error(r#"{"organization":{"kind":"enterprise"},"tags":[]}"#),
            (ErrorCode::ValidationFailed, "organization.name".into(), "required".into())
        );
        assert_eq!(field_error(r#"{"organization":{"name":"x","kind":"enterprise"}}"#).1, "tags");
        assert_eq!(field_error(r#""text""#), (ErrorCode::ValidationFailed, "body".into(), "invalid_type".into()));
    }

    #[test]
    fn integral_numbers_fill_integer_fields() {
        let body = |weight: &str| {
            format!(r#"{{"organization":{{"name":"x","kind":"enterprise"}},"tags":[{{"weight":{weight}}}]}}"#)
        };
        for weight in ["12", "12.0", "1.2e1", "-0.0"] {
            assert!(parse_json::<Body>(body(weight).as_bytes()).is_ok(), "{weight}");
        }
        for weight in ["12.5", "1e-1", "256.0"] {
            assert_eq!(field_error(&body(weight)).1, "tags[0].weight", "{weight}");
        }
        #[derive(Debug, serde::Deserialize)]
        struct Amount {
            fen: i64,
            rate: f64,
        }
        let exact: Amount = parse_json(br#"{"fen": 9007199254740992.0, "rate": 1.0}"#).unwrap();
        assert_eq!((exact.fen, exact.rate), (9_007_199_254_740_992, 1.0));
        // Found by Schemathesis: a fast float parser read this as ...313.5.
        let large: Amount = parse_json(br#"{"fen": 3983066091010314.0, "rate": 0.5}"#).unwrap();
        assert_eq!(large.fen, 3_983_066_091_010_314);
        let beyond = parse_json::<Amount>(br#"{"fen": 1e300, "rate": 0.5}"#).unwrap_err();
        assert_eq!(beyond.errors()[0].field, "fen", "too big for a double to hold exactly, so not taken as an integer");
    }

    #[test]
    fn nul_characters_are_removed_from_strings() {
        #[derive(serde::Deserialize)]
        struct Named {
            name: String,
            tags: Vec<String>,
        }
        let named: Named = parse_json(br#"{"name": "\u0000a\u0000b", "tags": ["c\u0000"]}"#).unwrap();
        assert_eq!((named.name.as_str(), named.tags[0].as_str()), ("ab", "c"));
        let query: std::collections::BTreeMap<String, String> = parse_query("q=a%00b&x=%00").unwrap();
        assert_eq!(query.get("q").map(String::as_str), Some("ab"));
        assert!(!query.contains_key("x"), "nothing left is not given");
    }

    #[test]
    fn syntax_errors_are_malformed_json() {
        let trailing = r#"{"organization":{"name":"x","kind":"enterprise"},"tags":[]} trailing"#;
        for body in [r#"{"organization":"#, "not json", trailing, ""] {
            assert_eq!(parse_json::<Body>(body.as_bytes()).unwrap_err().code(), ErrorCode::MalformedJson, "{body}");
        }
    }

    #[test]
    fn recognises_json_media_types() {
        let ok = |v: &'static str| is_json(Some(&header::HeaderValue::from_static(v)));
        assert!(ok("application/json") && ok("application/json; charset=utf-8") && ok("application/merge-patch+json"));
        assert!(!ok("text/plain") && !ok("application/x-www-form-urlencoded") && !is_json(None));
    }
}
