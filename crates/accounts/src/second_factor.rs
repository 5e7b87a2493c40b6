//! The second factor (等保2.0 level 3: administrators sign in with two
//! kinds of authentication): a TOTP secret an authenticator app holds, and
//! ten recovery codes for a lost phone.
//!
//! - **Enrolment** gives the secret (as text, an `otpauth://` URL and a QR
//!   code) and keeps it sealed, unconfirmed; **confirmation** with a code
//!   from the app makes it count and gives the recovery codes, shown once
//!   and kept as hashes.
//! - Sign-in then asks for a code after the password ([`crate::login`]).
//!   A code is accepted once: the step of the last one is kept (RFC 6238,
//!   5.2), and a recovery code is used up.
//! - Members may remove their own factor (with a code); staff keep theirs
//!   where `auth.require_staff_totp` holds. A security administrator resets
//!   anyone's (a lost phone), which ends their sessions.
//!
//! Every change is audited.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};
use techtrade_db::{AnyConnection, accounts, audit, second_factor};
use techtrade_web::error::Problem;
use techtrade_web::{ApiError, ApiResult, AppState, CurrentUser, ErrorCode, Json, Path, RequestId};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::totp;

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_status, start_enrolment, remove_own))
        .routes(routes!(confirm_enrolment))
        .routes(routes!(new_recovery_codes))
        .routes(routes!(reset_of_user))
}

/// What an authenticator app needs: enter the secret, or scan the QR code.
#[derive(Debug, Serialize, ToSchema)]
pub struct Enrolment {
    /// The secret in base 32, to type into the app.
    pub secret: String,
    /// `otpauth://totp/techtrade:<e-mail>?secret=…&issuer=techtrade`.
    pub otpauth_url: String,
    /// The URL as a QR code: a standalone SVG document.
    pub qr_svg: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct CodeRequest {
    /// The six digits the authenticator app shows (or, to remove the factor
    /// or renew recovery codes, an unused recovery code).
    #[schema(example = "287082")]
    pub code: String,
}

/// Recovery codes, shown this once: each signs in once in place of a code.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecoveryCodes {
    pub recovery_codes: Vec<String>,
}

/// The caller's second factor as it stands.
#[derive(Debug, Serialize, ToSchema)]
pub struct SecondFactorStatus {
    /// When the factor was confirmed; `null`: none counts.
    pub enrolled_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Unused recovery codes.
    pub recovery_codes_left: i64,
    /// An enrolment started and not yet confirmed: what the app needs.
    pub pending: Option<Enrolment>,
    /// Whether the caller must have one (staff, where required).
    pub required: bool,
}

/// How a code proved the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UsedFactor {
    Totp,
    /// A recovery code, with how many are left.
    RecoveryCode {
        left: i64,
    },
}

impl UsedFactor {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Totp => "totp",
            Self::RecoveryCode { .. } => "recovery_code",
        }
    }
}

fn sealing_key() -> Result<[u8; 32], ApiError> {
    audit::derived_key(audit::SECOND_FACTOR).map_err(ApiError::internal)
}

fn unix_seconds(at: NaiveDateTime) -> u64 {
    u64::try_from(at.and_utc().timestamp()).unwrap_or(0)
}

/// The confirmed factor's check of `code` for `user_id` at `now`, inside
/// the caller's transaction: a TOTP code of a step later than the last one
/// used (which it becomes), or an unused recovery code (used up). `None`
/// for anything else, a factor not confirmed included.
pub(crate) fn check_code(
    conn: &mut AnyConnection,
    user_id: &str,
    code: &str,
    now: NaiveDateTime,
) -> Result<Option<UsedFactor>, ApiError> {
    let Some(factor) = second_factor::find(conn, user_id)?.filter(|f| f.confirmed_at.is_some()) else {
        return Ok(None);
    };
    let user = accounts::find_user(conn, user_id)?.ok_or_else(|| ApiError::not_found("user"))?;
    let secret = totp::open(&sealing_key()?, user_id, &factor.sealed_secret).map_err(ApiError::internal)?;
    let app = totp::totp(&secret, &user.email).map_err(ApiError::internal)?;
    if let Some(step) = totp::matching_step(&app, code, unix_seconds(now)) {
        // A replayed code (this step or an earlier one used) is wrong.
        return Ok(second_factor::use_step(conn, user_id, step)?.then_some(UsedFactor::Totp));
    }
    if let Some(hash) = totp::recovery_code_hash(code)
        && second_factor::use_recovery_code(conn, user_id, &hash, now)?
    {
        let left = second_factor::recovery_codes_left(conn, user_id)?;
        return Ok(Some(UsedFactor::RecoveryCode { left }));
    }
    Ok(None)
}

fn wrong_code() -> ApiError {
    ApiError::invalid_field("code", "wrong_code", "not the code your authenticator app shows now")
}

fn enrolled_already() -> ApiError {
    ApiError::new(ErrorCode::InvalidState, "a second factor is enrolled already; remove it first to enrol another")
}

/// What an app needs to hold `secret` for `email`.
fn enrolment_of(secret: &[u8], email: &str) -> ApiResult<Enrolment> {
    let app = totp::totp(secret, email).map_err(ApiError::internal)?;
    let otpauth_url = app.to_url().map_err(ApiError::internal)?;
    let qr_svg = totp::qr_svg(&otpauth_url).map_err(ApiError::internal)?;
    Ok(Enrolment { secret: app.secret().to_base32(), otpauth_url, qr_svg })
}

/// The caller's second factor: confirmed when, recovery codes left, and a
/// pending enrolment's secret again (to scan it after a reload).
pub async fn status(state: &AppState, user: &CurrentUser) -> ApiResult<SecondFactorStatus> {
    let user_id = user.user_id.clone();
    let (factor, left) = state
        .db
        .run(move |conn| {
            let factor = second_factor::find(conn, &user_id)?;
            let left = second_factor::recovery_codes_left(conn, &user_id)?;
            Ok::<_, ApiError>((factor, left))
        })
        .await?;
    let pending = match factor.as_ref().filter(|f| f.confirmed_at.is_none()) {
        Some(factor) => {
            let secret =
                totp::open(&sealing_key()?, &user.user_id, &factor.sealed_secret).map_err(ApiError::internal)?;
            Some(enrolment_of(&secret, &user.email)?)
        }
        None => None,
    };
    Ok(SecondFactorStatus {
        enrolled_at: factor.and_then(|f| f.confirmed_at).map(|at| at.and_utc()),
        recovery_codes_left: left,
        pending,
        required: state.settings.auth.require_staff_totp && user.role.is_staff(),
    })
}

/// Starts an enrolment for the caller: a new secret, kept sealed and
/// unconfirmed until [`confirm`]. 409 when a factor is enrolled already.
pub async fn enrol(state: &AppState, user: &CurrentUser) -> ApiResult<Enrolment> {
    let secret = totp::new_secret().map_err(ApiError::internal)?;
    let enrolment = enrolment_of(&secret, &user.email)?;
    let row = second_factor::SecondFactor {
        user_id: user.user_id.clone(),
        sealed_secret: totp::seal(&sealing_key()?, &user.user_id, &secret).map_err(ApiError::internal)?,
        created_at: techtrade_db::now(),
        confirmed_at: None,
        last_step: None,
    };
    let started = state
        .db
        .run(move |conn| {
            techtrade_db::write_transaction(conn, |conn| Ok::<_, ApiError>(second_factor::start_enrolment(conn, &row)?))
        })
        .await?;
    if !started {
        return Err(enrolled_already());
    }
    Ok(enrolment)
}

/// Confirms the caller's pending enrolment with a code from the app: the
/// factor counts from now on, and the recovery codes are returned once.
pub async fn confirm(
    state: &AppState,
    user: &CurrentUser,
    request: CodeRequest,
    request_id: Option<String>,
) -> ApiResult<RecoveryCodes> {
    let codes = totp::new_recovery_codes().map_err(ApiError::internal)?;
    let hashes: Vec<String> = codes.iter().filter_map(|c| totp::recovery_code_hash(c)).collect();
    let key = sealing_key()?;
    let (user_id, email) = (user.user_id.clone(), user.email.clone());
    state
        .db
        .run(move |conn| {
            techtrade_db::write_transaction(conn, |conn| {
                let now = techtrade_db::now();
                let factor = match second_factor::find(conn, &user_id)? {
                    None => {
                        return Err(ApiError::new(
                            ErrorCode::InvalidState,
                            "no enrolment is pending: start one with POST /api/v1/me/totp",
                        ));
                    }
                    Some(factor) if factor.confirmed_at.is_some() => return Err(enrolled_already()),
                    Some(factor) => factor,
                };
                let secret = totp::open(&key, &user_id, &factor.sealed_secret).map_err(ApiError::internal)?;
                let app = totp::totp(&secret, &email).map_err(ApiError::internal)?;
                let step = totp::matching_step(&app, &request.code, unix_seconds(now)).ok_or_else(wrong_code)?;
                if !second_factor::confirm(conn, &user_id, step, now)? {
                    return Err(enrolled_already());
                }
                second_factor::replace_recovery_codes(conn, &user_id, &hashes, now)?;
                audit::append(
                    conn,
                    audit::AuditEntry {
                        actor_user_id: Some(&user_id),
                        action: "user.second_factor_enrol",
                        subject_type: "user",
                        subject_id: &user_id,
                        after: Some(serde_json::json!({"factor": "totp", "recovery_codes": hashes.len()})),
                        request_id: request_id.as_deref(),
                        ..Default::default()
                    },
                )?;
                Ok(())
            })
        })
        .await?;
    Ok(RecoveryCodes { recovery_codes: codes })
}

/// Checks a code of the caller's in its own transaction: 422 on `code`
/// when it is wrong, 409 without a confirmed factor.
async fn require_code(state: &AppState, user: &CurrentUser, code: String) -> ApiResult<UsedFactor> {
    let user_id = user.user_id.clone();
    state
        .db
        .run(move |conn| {
            techtrade_db::write_transaction(conn, |conn| {
                if !second_factor::is_enrolled(conn, &user_id)? {
                    return Err(ApiError::new(ErrorCode::InvalidState, "no second factor is enrolled"));
                }
                check_code(conn, &user_id, &code, techtrade_db::now())?.ok_or_else(wrong_code)
            })
        })
        .await
}

/// New recovery codes for the caller, in place of the old ones; a code
/// (from the app, or a recovery code) proves it is them.
pub async fn renew_recovery_codes(
    state: &AppState,
    user: &CurrentUser,
    request: CodeRequest,
    request_id: Option<String>,
) -> ApiResult<RecoveryCodes> {
    require_code(state, user, request.code).await?;
    let codes = totp::new_recovery_codes().map_err(ApiError::internal)?;
    let hashes: Vec<String> = codes.iter().filter_map(|c| totp::recovery_code_hash(c)).collect();
    let user_id = user.user_id.clone();
    state
        .db
        .run(move |conn| {
            techtrade_db::write_transaction(conn, |conn| {
                second_factor::replace_recovery_codes(conn, &user_id, &hashes, techtrade_db::now())?;
                audit::append(
                    conn,
                    audit::AuditEntry {
                        actor_user_id: Some(&user_id),
                        action: "user.recovery_codes_renew",
                        subject_type: "user",
                        subject_id: &user_id,
                        after: Some(serde_json::json!({"recovery_codes": hashes.len()})),
                        request_id: request_id.as_deref(),
                        ..Default::default()
                    },
                )?;
                Ok::<_, ApiError>(())
            })
        })
        .await?;
    Ok(RecoveryCodes { recovery_codes: codes })
}

/// Removes the caller's own second factor, proven with a code. Staff keep
/// theirs where it is required (a security administrator resets it).
pub async fn remove(
    state: &AppState,
    user: &CurrentUser,
    request: CodeRequest,
    request_id: Option<String>,
) -> ApiResult<()> {
    if state.settings.auth.require_staff_totp && user.role.is_staff() {
        return Err(ApiError::new(
            ErrorCode::InvalidState,
            "staff sign in with a second factor; for a new phone, ask a security administrator to reset it",
        ));
    }
    require_code(state, user, request.code).await?;
    let user_id = user.user_id.clone();
    state
        .db
        .run(move |conn| {
            techtrade_db::write_transaction(conn, |conn| {
                second_factor::remove(conn, &user_id)?;
                audit::append(
                    conn,
                    audit::AuditEntry {
                        actor_user_id: Some(&user_id),
                        action: "user.second_factor_remove",
                        subject_type: "user",
                        subject_id: &user_id,
                        request_id: request_id.as_deref(),
                        ..Default::default()
                    },
                )?;
                Ok::<_, ApiError>(())
            })
        })
        .await
}

/// Removes user `id`'s second factor (security administrators only, not
/// their own): for a lost phone. Their sessions end; they sign in with the
/// password and enrol again.
pub async fn reset(state: &AppState, user: &CurrentUser, request_id: Option<String>, id: String) -> ApiResult<()> {
    user.require_security_admin()?;
    if id == user.user_id {
        return Err(ApiError::new(
            ErrorCode::InvalidState,
            "a security administrator's own second factor is reset by another security administrator",
        ));
    }
    let actor = user.user_id.clone();
    state
        .db
        .run(move |conn| {
            techtrade_db::write_transaction(conn, |conn| {
                if accounts::find_user(conn, &id)?.is_none() {
                    return Err(ApiError::not_found("user"));
                }
                if !second_factor::remove(conn, &id)? {
                    return Err(ApiError::new(ErrorCode::InvalidState, "the user has no second factor"));
                }
                let revoked = accounts::revoke_sessions_of(conn, &id, techtrade_db::now())?;
                audit::append(
                    conn,
                    audit::AuditEntry {
                        actor_user_id: Some(&actor),
                        action: "user.second_factor_reset",
                        subject_type: "user",
                        subject_id: &id,
                        after: Some(serde_json::json!({"sessions_revoked": revoked})),
                        request_id: request_id.as_deref(),
                        ..Default::default()
                    },
                )?;
                Ok(())
            })
        })
        .await
}

/// The caller's second factor: whether one counts, recovery codes left,
/// and a pending enrolment.
#[utoipa::path(get, path = "/api/v1/me/totp", tag = "accounts", security(("bearer" = [])),
    responses((status = 200, body = SecondFactorStatus), (status = 401, body = Problem)))]
async fn get_status(State(state): State<AppState>, user: CurrentUser) -> ApiResult<Json<SecondFactorStatus>> {
    Ok(Json(status(&state, &user).await?))
}

/// Starts enrolling a second factor (TOTP): the secret, its otpauth:// URL
/// and the URL as a QR code. It counts once confirmed with a code.
#[utoipa::path(post, path = "/api/v1/me/totp", tag = "accounts", security(("bearer" = [])),
    responses((status = 200, body = Enrolment), (status = 401, body = Problem),
        (status = 409, description = "a second factor is enrolled already", body = Problem)))]
async fn start_enrolment(State(state): State<AppState>, user: CurrentUser) -> ApiResult<Json<Enrolment>> {
    Ok(Json(enrol(&state, &user).await?))
}

/// Confirms the enrolment with a code from the app; gives the recovery
/// codes, this once.
#[utoipa::path(post, path = "/api/v1/me/totp/confirm", tag = "accounts", security(("bearer" = [])),
    request_body = CodeRequest,
    responses((status = 200, body = RecoveryCodes), (status = 401, body = Problem),
        (status = 409, description = "no enrolment pending, or one confirmed already", body = Problem),
        (status = 422, description = "`wrong_code` on `code`", body = Problem)))]
async fn confirm_enrolment(
    State(state): State<AppState>,
    user: CurrentUser,
    RequestId(request_id): RequestId,
    Json(request): Json<CodeRequest>,
) -> ApiResult<Json<RecoveryCodes>> {
    Ok(Json(confirm(&state, &user, request, request_id).await?))
}

/// Removes the caller's second factor, proven with a code (members, and
/// staff where it is not required).
#[utoipa::path(delete, path = "/api/v1/me/totp", tag = "accounts", security(("bearer" = [])),
    request_body = CodeRequest,
    responses((status = 204, description = "removed"), (status = 401, body = Problem),
        (status = 409, description = "none enrolled, or staff who must keep it", body = Problem),
        (status = 422, description = "`wrong_code` on `code`", body = Problem)))]
async fn remove_own(
    State(state): State<AppState>,
    user: CurrentUser,
    RequestId(request_id): RequestId,
    Json(request): Json<CodeRequest>,
) -> ApiResult<StatusCode> {
    remove(&state, &user, request, request_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// New recovery codes in place of the old ones, proven with a code.
#[utoipa::path(post, path = "/api/v1/me/totp/recovery-codes", tag = "accounts", security(("bearer" = [])),
    request_body = CodeRequest,
    responses((status = 200, body = RecoveryCodes), (status = 401, body = Problem),
        (status = 409, description = "no second factor is enrolled", body = Problem),
        (status = 422, description = "`wrong_code` on `code`", body = Problem)))]
async fn new_recovery_codes(
    State(state): State<AppState>,
    user: CurrentUser,
    RequestId(request_id): RequestId,
    Json(request): Json<CodeRequest>,
) -> ApiResult<Json<RecoveryCodes>> {
    Ok(Json(renew_recovery_codes(&state, &user, request, request_id).await?))
}

/// Resets a user's second factor (security administrators only): for a
/// lost phone. The user's sessions end.
#[utoipa::path(delete, path = "/api/v1/admin/users/{id}/totp", tag = "accounts",
    params(("id" = String, Path)),
    security(("bearer" = [])),
    responses((status = 204, description = "reset; the user's sessions ended"), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, description = "the user has no second factor, or it is the caller's own", body = Problem)))]
async fn reset_of_user(
    State(state): State<AppState>,
    user: CurrentUser,
    RequestId(request_id): RequestId,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    reset(&state, &user, request_id, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
