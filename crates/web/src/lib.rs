//! Shared HTTP plumbing of every service: the application state, the one
//! error type (RFC 9457 problem+json with a stable code), extractors that
//! reject through it, the authentication guard, pagination and the OpenAPI
//! base document.

pub mod auth;
pub mod download;
pub mod error;
pub mod extract;
pub mod idempotency;
pub mod openapi;
pub mod pagination;
pub mod published;
pub mod state;
pub mod utc;

pub use auth::CurrentUser;
pub use error::{ApiError, ErrorCode, FieldError};
pub use extract::{ClientIp, Json, Path, Query, RequestId, parse_query, without_nul};
pub use idempotency::IdempotencyKey;
pub use pagination::{Page, PageQuery};
pub use published::PublishedCache;
pub use state::{AppState, AuthSettings, Settings};

/// What every handler returns.
pub type ApiResult<T> = Result<T, ApiError>;
