//! The one error type at the HTTP edge, rendered as RFC 9457
//! `application/problem+json`, and the catalog of stable codes.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use techtrade_domain::Violations;
use utoipa::ToSchema;

macro_rules! catalog {
    ($($variant:ident => ($code:literal, $status:ident, $title:literal),)+) => {
        /// Every error code the API returns, with its HTTP status and title.
        /// Codes are part of the contract: add new ones, never rename.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum ErrorCode {
            $($variant,)+
        }

        impl ErrorCode {
            pub const ALL: &'static [Self] = &[$(Self::$variant,)+];

            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $code,)+ }
            }

            pub fn status(self) -> StatusCode {
                match self { $(Self::$variant => StatusCode::$status,)+ }
            }

            fn title(self) -> &'static str {
                match self { $(Self::$variant => $title,)+ }
            }
        }
    };
}

catalog! {
    MalformedJson => ("malformed_json", BAD_REQUEST, "The request body is not valid JSON"),
    InvalidQuery => ("invalid_query", BAD_REQUEST, "A query parameter is invalid"),
    InvalidPath => ("invalid_path", BAD_REQUEST, "A path parameter is invalid"),
    InvalidHeader => ("invalid_header", BAD_REQUEST, "A request header is invalid"),
    InvalidSignature => ("invalid_signature", BAD_REQUEST, "The signature does not verify"),
    Unauthenticated => ("unauthenticated", UNAUTHORIZED, "Authentication is required"),
    InvalidToken => ("invalid_token", UNAUTHORIZED, "The token is invalid, expired or revoked"),
    InvalidCredentials => ("invalid_credentials", UNAUTHORIZED, "Wrong e-mail or password"),
    SecondFactorRequired => ("second_factor_required", UNAUTHORIZED, "Enter the code of your authenticator app"),
    InvalidChallenge => ("invalid_challenge", UNAUTHORIZED, "The sign-in challenge is unknown, used or expired"),
    WrongCode => ("wrong_code", UNAUTHORIZED, "The code is wrong or was used already"),
    Forbidden => ("forbidden", FORBIDDEN, "Not allowed"),
    NotAParty => ("not_a_party", FORBIDDEN, "Only the parties to the deal may do this"),
    WrongParty => ("wrong_party", FORBIDDEN, "The other party must do this"),
    OwnOrganization => ("own_organization", FORBIDDEN, "Officials may not review their own organisation's claims"),
    SameReviewer => ("same_reviewer", FORBIDDEN, "Level 2 needs another official than level 1"),
    PasswordChangeRequired => ("password_change_required", FORBIDDEN, "Change the password before anything else"),
    SecondFactorEnrolmentRequired => ("second_factor_enrolment_required", FORBIDDEN, "Set up a second factor before anything else"),
    NotFound => ("not_found", NOT_FOUND, "Not found"),
    MethodNotAllowed => ("method_not_allowed", METHOD_NOT_ALLOWED, "Method not allowed"),
    EmailTaken => ("email_taken", CONFLICT, "The e-mail address is already registered"),
    CreditCodeTaken => ("credit_code_taken", CONFLICT, "The credit code is already registered"),
    Conflict => ("conflict", CONFLICT, "The request conflicts with the current state"),
    LastAdministrator => ("last_administrator", CONFLICT, "An organisation keeps at least one administrator"),
    InvalidState => ("invalid_state", CONFLICT, "Not possible in the current state"),
    IdempotencyKeyReused => ("idempotency_key_reused", UNPROCESSABLE_ENTITY, "The Idempotency-Key was used for a different request"),
    RequestInProgress => ("request_in_progress", CONFLICT, "A request with this Idempotency-Key is still in progress"),
    AlreadyClaimed => ("already_claimed", CONFLICT, "The organisation already claimed this program, year and role"),
    RoundClosed => ("round_closed", CONFLICT, "The round is already closed"),
    ClaimsPending => ("claims_pending", CONFLICT, "Claims of the round are still under review"),
    RightsReserved => ("rights_reserved", CONFLICT, "The listing's exclusive rights are taken by another deal"),
    OverBudget => ("over_budget", CONFLICT, "Approved claims exceed the budget and the program does not pro-rate"),
    StripeNotConfigured => ("stripe_not_configured", CONFLICT, "Stripe payments are not configured on this server"),
    PreconditionFailed => ("precondition_failed", PRECONDITION_FAILED, "The resource has changed"),
    PayloadTooLarge => ("payload_too_large", PAYLOAD_TOO_LARGE, "The request body is too large"),
    UnsupportedMediaType => ("unsupported_media_type", UNSUPPORTED_MEDIA_TYPE, "The request body must be application/json"),
    ValidationFailed => ("validation_failed", UNPROCESSABLE_ENTITY, "Some fields are invalid"),
    NotEligible => ("not_eligible", UNPROCESSABLE_ENTITY, "Nothing in the claim is eligible"),
    AccountLocked => ("account_locked", LOCKED, "The account is locked after too many failed sign-ins"),
    RateLimited => ("rate_limited", TOO_MANY_REQUESTS, "Too many requests"),
    Internal => ("internal", INTERNAL_SERVER_ERROR, "Internal error"),
    Unavailable => ("unavailable", SERVICE_UNAVAILABLE, "Service unavailable"),
}

/// One invalid field of a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FieldError {
    /// Path of the field in the request, e.g. `patents[0].application_number`.
    pub field: String,
    /// Stable snake_case code, e.g. `bad_check_digit`.
    pub code: String,
    pub message: String,
}

/// The body of every error response (RFC 9457).
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// `urn:techtrade:problem:<code>`.
    #[serde(rename = "type")]
    pub problem_type: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// Stable snake_case identifier of the error.
    pub code: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    /// With `second_factor_required`: what `POST /api/v1/auth/login/totp`
    /// takes with the code (valid for 5 minutes, once).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub challenge: Option<String>,
}

#[derive(Debug)]
pub struct ApiError {
    code: ErrorCode,
    detail: String,
    errors: Vec<FieldError>,
    retry_after_seconds: Option<u64>,
    challenge: Option<String>,
}

impl ApiError {
    pub fn new(code: ErrorCode, detail: impl Into<String>) -> Self {
        Self { code, detail: detail.into(), errors: Vec::new(), retry_after_seconds: None, challenge: None }
    }

    pub fn code(&self) -> ErrorCode {
        self.code
    }

    pub fn errors(&self) -> &[FieldError] {
        &self.errors
    }

    pub fn with_field(mut self, field: impl Into<String>, code: impl Into<String>, message: impl Into<String>) -> Self {
        self.errors.push(FieldError { field: field.into(), code: code.into(), message: message.into() });
        self
    }

    pub fn retry_after(mut self, seconds: u64) -> Self {
        self.retry_after_seconds = Some(seconds);
        self
    }

    /// A sign-in challenge for the client to answer with a code.
    pub fn with_challenge(mut self, challenge: String) -> Self {
        self.challenge = Some(challenge);
        self
    }

    /// 422 naming one invalid field.
    pub fn invalid_field(field: &str, code: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        Self::new(ErrorCode::ValidationFailed, format!("{field}: {message}")).with_field(field, code, message)
    }

    /// 404 for `what`; also the answer for objects the caller may not see.
    pub fn not_found(what: &str) -> Self {
        Self::new(ErrorCode::NotFound, format!("no such {what}"))
    }

    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(ErrorCode::Forbidden, detail)
    }

    pub fn conflict(detail: impl Into<String>) -> Self {
        Self::new(ErrorCode::Conflict, detail)
    }

    /// A failure that is our fault. Logged with the request's span (which
    /// carries the request id); the client gets no internals.
    pub fn internal(error: impl std::fmt::Display) -> Self {
        tracing::error!(%error, "internal error");
        Self::new(ErrorCode::Internal, "an internal error occurred; it has been logged")
    }

    fn to_problem(&self) -> Problem {
        Problem {
            problem_type: format!("urn:techtrade:problem:{}", self.code.as_str()),
            title: self.code.title().to_string(),
            status: self.code.status().as_u16(),
            detail: self.detail.clone(),
            code: self.code.as_str().to_string(),
            errors: self.errors.clone(),
            challenge: self.challenge.clone(),
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.detail)
    }
}

impl From<Violations> for ApiError {
    fn from(violations: Violations) -> Self {
        let errors: Vec<FieldError> = violations
            .into_vec()
            .into_iter()
            .map(|v| FieldError { field: v.field, code: v.code.to_string(), message: v.message })
            .collect();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        let detail = format!("invalid: {}", fields.join(", "));
        Self { code: ErrorCode::ValidationFailed, detail, errors, retry_after_seconds: None, challenge: None }
    }
}

impl From<techtrade_db::DbError> for ApiError {
    fn from(error: techtrade_db::DbError) -> Self {
        match error {
            techtrade_db::DbError::Pool(e) => {
                tracing::error!(error = %e, "database unavailable");
                // Every connection busy for the pool's wait, or the database
                // down: a client retrying in a second finds it or not.
                Self::new(ErrorCode::Unavailable, "the database is busy or unavailable; try again shortly")
                    .retry_after(1)
            }
            other => Self::internal(other),
        }
    }
}

impl From<diesel::result::Error> for ApiError {
    fn from(error: diesel::result::Error) -> Self {
        Self::internal(error)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.code.status();
        let body = serde_json::to_vec(&self.to_problem()).unwrap_or_default();
        let mut response = (status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
        if status == StatusCode::UNAUTHORIZED {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let Some(seconds) = self.retry_after_seconds {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_is_snake_case_and_unique() {
        let all = ErrorCode::ALL;
        let mut names: Vec<&str> = all.iter().map(|c| c.as_str()).collect();
        assert!(names.iter().all(|n| n.chars().all(|c| c.is_ascii_lowercase() || c == '_')));
        names.sort();
        names.dedup();
        assert_eq!(names.len(), all.len());
        let server_side = [ErrorCode::Internal, ErrorCode::Unavailable];
        assert!(all.iter().all(|c| c.status().is_client_error() || server_side.contains(c)));
    }

    #[test]
    fn violations_become_a_422_naming_each_field() {
        let mut v = Violations::new();
        v.push("organization.credit_code", "bad_check_character", "wrong");
        v.push("user.email", "bad_email", "not an address");
        let problem = ApiError::from(v).to_problem();
        assert_eq!(problem.status, 422);
        assert_eq!(problem.code, "validation_failed");
        assert_eq!(problem.errors[0].field, "organization.credit_code");
        assert_eq!(problem.errors[1].code, "bad_email");
        assert_eq!(problem.detail, "invalid: organization.credit_code, user.email");
    }
}
