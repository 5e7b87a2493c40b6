//! The `Idempotency-Key` header of POSTs that move money or create claims
//! (API.md, "Conventions"): a retry with the same key and body gets the
//! first response again, with no second effect.

use axum::extract::OptionalFromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use sha2::{Digest, Sha256};
use techtrade_db::{AnyConnection, idempotency};

use crate::error::{ApiError, ErrorCode};

pub const HEADER: &str = "Idempotency-Key";

/// A client's idempotency key: 1 to 255 visible ASCII characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey(pub String);

impl<S: Send + Sync> OptionalFromRequestParts<S> for IdempotencyKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Option<Self>, ApiError> {
        let Some(value) = parts.headers.get(HEADER) else {
            return Ok(None);
        };
        let text = value.to_str().unwrap_or_default();
        let valid = (1..=255).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_graphic());
        if !valid {
            return Err(ApiError::new(
                ErrorCode::InvalidHeader,
                "Idempotency-Key must be 1 to 255 visible ASCII characters",
            )
            .with_field(HEADER, "invalid", "1 to 255 visible ASCII characters, e.g. a UUID"));
        }
        Ok(Some(Self(text.to_string())))
    }
}

/// Says in the OpenAPI document what [`IdempotencyKey`] accepts, on every
/// operation that takes the header (the handlers only name it).
pub fn document(openapi: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::path::ParameterIn;
    use utoipa::openapi::schema::{ObjectBuilder, Type};
    for (_, operation) in crate::openapi::operations_mut(openapi) {
        for parameter in operation.parameters.iter_mut().flatten() {
            if let utoipa::openapi::RefOr::T(parameter) = parameter
                && parameter.name == HEADER
                && parameter.parameter_in == ParameterIn::Header
            {
                let schema = ObjectBuilder::new()
                    .schema_type(Type::String)
                    .min_length(Some(1))
                    .max_length(Some(255))
                    .pattern(Some("^[!-~]+$"))
                    .build();
                parameter.schema = Some(schema.into());
            }
        }
    }
}

/// The digest that tells "the same request again" from "another request
/// with a reused key": the route and the request as parsed.
pub fn fingerprint(route: &str, request: &impl Serialize) -> String {
    let body = serde_json::to_string(request).unwrap_or_default();
    let mut hasher = Sha256::new();
    hasher.update(route.as_bytes());
    hasher.update(b"\n");
    hasher.update(body.as_bytes());
    hex::encode(hasher.finalize())
}

/// A response that is either new or the replay of a stored one.
#[derive(Debug)]
pub enum Keyed<T> {
    Fresh(StatusCode, T),
    Replay(StatusCode, String),
}

impl<T: Serialize> IntoResponse for Keyed<T> {
    fn into_response(self) -> Response {
        match self {
            Self::Fresh(status, body) => (status, crate::Json(body)).into_response(),
            Self::Replay(status, body) => {
                let mut response = (status, body).into_response();
                response
                    .headers_mut()
                    .insert(axum::http::header::CONTENT_TYPE, axum::http::HeaderValue::from_static("application/json"));
                response
            }
        }
    }
}

/// Claims `key` (when given) for `user_id`; `Ok(None)` means go ahead.
/// Call inside the request's write transaction.
pub fn claim<T>(
    conn: &mut AnyConnection,
    user_id: &str,
    key: Option<&IdempotencyKey>,
    fingerprint: &str,
) -> Result<Option<Keyed<T>>, ApiError> {
    let Some(IdempotencyKey(key)) = key else {
        return Ok(None);
    };
    interpret(idempotency::claim(conn, user_id, key, fingerprint)?)
}

/// What a claim means for the request: go ahead (`None`), replay, or an
/// error for a reused or unfinished key.
pub fn interpret<T>(claim: idempotency::Claim) -> Result<Option<Keyed<T>>, ApiError> {
    match claim {
        idempotency::Claim::New => Ok(None),
        idempotency::Claim::Replay { status, body } => {
            let status = StatusCode::from_u16(status).map_err(ApiError::internal)?;
            Ok(Some(Keyed::Replay(status, body)))
        }
        idempotency::Claim::Mismatch => Err(ApiError::new(
            ErrorCode::IdempotencyKeyReused,
            "this Idempotency-Key was used with a different request; use a new key for a new request",
        )
        .with_field(HEADER, "reused", "already used for a different request")),
        idempotency::Claim::Unfinished { .. } => Err(ApiError::new(
            ErrorCode::RequestInProgress,
            "a request with this Idempotency-Key has not finished yet; retry shortly",
        )
        .retry_after(1)),
    }
}

/// Runs `operation` once per key: inside the caller's write transaction,
/// claims the key, runs, and stores the response with the effect.
pub fn once<T: Serialize>(
    conn: &mut AnyConnection,
    user_id: &str,
    key: Option<&IdempotencyKey>,
    fingerprint: &str,
    status: StatusCode,
    operation: impl FnOnce(&mut AnyConnection) -> Result<T, ApiError>,
) -> Result<Keyed<T>, ApiError> {
    if let Some(replay) = claim(conn, user_id, key, fingerprint)? {
        return Ok(replay);
    }
    let value = operation(conn)?;
    if let Some(IdempotencyKey(key)) = key {
        let body = serde_json::to_string(&value).map_err(ApiError::internal)?;
        idempotency::finish(conn, user_id, key, status.as_u16(), &body)?;
    }
    Ok(Keyed::Fresh(status, value))
}
