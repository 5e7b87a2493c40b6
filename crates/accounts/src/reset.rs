//! Password reset by an e-mailed, single-use, expiring token.
//!
//! Asking answers 202 with the same body, after the same least time,
//! whether the address has an account or not: nothing tells who is
//! registered (only what is not an e-mail address at all is refused, 422). For an account that exists (and is not disabled) a reset
//! is recorded and `password.reset_requested` goes to the outbox; the
//! e-mail's token is derived from the reset's id with the installation's
//! key when the e-mail is sent (`techtrade_db::audit::derived_token`), and
//! the database keeps only its SHA-256: a copy of the database resets no
//! password. The token works once, within `auth.password_reset_ttl`; using
//! it sets the new password (under the usual rules), ends every session
//! of the account and its lock-out.

use std::time::Duration;

use axum::extract::{Extension, State};
use axum::http::StatusCode;
use chrono::TimeDelta;
use serde::{Deserialize, Serialize};
use techtrade_db::accounts::{self, PasswordReset};
use techtrade_db::{audit, outbox};
use techtrade_domain::{Email, Violations, ids};
use techtrade_web::error::Problem;
use techtrade_web::{ApiError, ApiResult, AppState, Json, RequestId};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::password::{self, PasswordHasher};

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(request_reset)).routes(routes!(confirm_reset))
}

/// Resets sent to one account per hour at most; more are quietly dropped
/// (the answer is the same), so the address cannot be flooded.
const RESETS_PER_HOUR: i64 = 3;
/// Every answer to a reset request takes at least this long, so that the
/// work done for an existing account does not show in the timing.
const ANSWER_FLOOR: Duration = Duration::from_millis(250);

/// The token of reset `id`, as its e-mail carries it.
pub fn token_of(reset_id: &str) -> Result<String, ApiError> {
    audit::derived_token(audit::PASSWORD_RESET, reset_id).map_err(ApiError::internal)
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct PasswordResetRequest {
    #[schema(value_type = Email)]
    pub email: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PasswordResetAccepted {
    /// Always the same, whether the address has an account or not.
    pub message: &'static str,
}

const ACCEPTED: &str = "if an account has this address, a link to set a new password is on its way";

/// Records a reset for `email`'s account, if there is one to send to.
pub async fn request(state: &AppState, email: &str, request_id: Option<String>) -> ApiResult<()> {
    let started = tokio::time::Instant::now();
    let ttl = TimeDelta::from_std(state.settings.auth.password_reset_ttl).unwrap_or(TimeDelta::minutes(30));
    // What is not an address is refused on its field, as everywhere: that
    // tells nothing about which accounts exist.
    let mut violations = Violations::new();
    let email = violations.check("email", Email::parse(email));
    let email = violations.finish(|| email)?.to_string();
    state.db.run(move |conn| record(conn, &email, ttl, request_id.as_deref())).await?;
    tokio::time::sleep_until(started + ANSWER_FLOOR).await;
    Ok(())
}

fn record(
    conn: &mut techtrade_db::AnyConnection,
    email: &str,
    ttl: TimeDelta,
    request_id: Option<&str>,
) -> Result<(), ApiError> {
    techtrade_db::write_transaction(conn, |conn| {
        let Some(user) = accounts::find_user_by_email(conn, email)?.filter(|u| u.disabled_at.is_none()) else {
            return Ok(());
        };
        let now = techtrade_db::now();
        if accounts::resets_since(conn, &user.id, now - TimeDelta::hours(1))? >= RESETS_PER_HOUR {
            return Ok(());
        }
        let id = ids::new_id();
        let token = token_of(&id)?;
        let reset = PasswordReset {
            id: id.clone(),
            user_id: user.id.clone(),
            token_hash: techtrade_web::auth::hash_token(&token),
            created_at: now,
            expires_at: now + ttl,
            used_at: None,
        };
        accounts::insert_password_reset(conn, &reset)?;
        let expires_utc = reset.expires_at.and_utc();
        let local = expires_utc.with_timezone(&techtrade_db::market_offset());
        outbox::emit_audited(
            conn,
            audit::AuditEntry {
                actor_user_id: None,
                action: "user.password_reset_request",
                subject_type: "user",
                subject_id: &user.id,
                after: Some(serde_json::json!({
                    "user_id": user.id,
                    "reset_id": id,
                    "expires_at": expires_utc,
                    "expires_local": local.format("%Y-%m-%d %H:%M").to_string(),
                    "minutes": ttl.num_minutes(),
                })),
                request_id,
                ..Default::default()
            },
            "password.reset_requested",
        )?;
        Ok(())
    })
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct PasswordResetConfirmation {
    /// The token from the e-mail.
    #[schema(min_length = 1, max_length = 128)]
    pub token: String,
    /// The new password: 8 to 256 characters mixing at least three of:
    /// lower-case letters, capitals, digits and other characters; not a
    /// common password.
    #[schema(min_length = 8, max_length = 256)]
    pub new: String,
}

/// Sets the new password with a reset's token: 422 on `token` when it is
/// unknown, used or expired (one message for all three), on `new` when it
/// breaks the password rules.
pub async fn confirm(
    state: &AppState,
    hasher: &PasswordHasher,
    request: PasswordResetConfirmation,
    request_id: Option<String>,
) -> ApiResult<()> {
    let mut violations = Violations::new();
    violations.check("new", password::check_new(&request.new));
    if !violations.is_empty() {
        return Err(violations.into());
    }
    let hash = crate::users::hash_password(hasher, &request.new).await?;
    let token_hash = techtrade_web::auth::hash_token(request.token.trim());
    state
        .db
        .run(move |conn| {
            techtrade_db::write_transaction(conn, |conn| {
                let now = techtrade_db::now();
                let unusable =
                    || ApiError::invalid_field("token", "invalid_or_expired", "this link is unknown, used or expired");
                let reset = accounts::find_password_reset_by_hash(conn, &token_hash)?.ok_or_else(unusable)?;
                if reset.used_at.is_some() || reset.expires_at <= now {
                    return Err(unusable());
                }
                let user = accounts::find_user(conn, &reset.user_id)?.filter(|u| u.disabled_at.is_none());
                let user = user.ok_or_else(unusable)?;
                // Of two confirmations at once, one uses it.
                if !accounts::use_password_reset(conn, &reset.id, now)? {
                    return Err(unusable());
                }
                accounts::set_password(conn, &user.id, &hash, false, now)?;
                let ended = accounts::revoke_sessions_of(conn, &user.id, now)?;
                // Proving the mailbox ends a lock-out: its owner is back.
                let cleared = accounts::clear_login_failures(conn, &user.email)?;
                audit::append(
                    conn,
                    audit::AuditEntry {
                        actor_user_id: Some(&user.id),
                        action: "user.password_reset",
                        subject_type: "user",
                        subject_id: &user.id,
                        after: Some(serde_json::json!({
                            "reset_id": reset.id, "sessions_ended": ended, "failures_cleared": cleared,
                        })),
                        request_id: request_id.as_deref(),
                        ..Default::default()
                    },
                )?;
                Ok(())
            })
        })
        .await
}

/// Asks for a password-reset e-mail: 202 with the same body for every
/// address, whether it has an account or not.
#[utoipa::path(post, path = "/api/v1/auth/password-reset", tag = "accounts",
    request_body = PasswordResetRequest,
    responses((status = 202, body = PasswordResetAccepted), (status = 400, body = Problem),
        (status = 422, description = "not an e-mail address", body = Problem)))]
async fn request_reset(
    State(state): State<AppState>,
    RequestId(request_id): RequestId,
    Json(body): Json<PasswordResetRequest>,
) -> ApiResult<(StatusCode, Json<PasswordResetAccepted>)> {
    request(&state, &body.email, request_id).await?;
    Ok((StatusCode::ACCEPTED, Json(PasswordResetAccepted { message: ACCEPTED })))
}

/// Sets a new password with the e-mailed token; every session of the account ends.
#[utoipa::path(post, path = "/api/v1/auth/password-reset/confirm", tag = "accounts",
    request_body = PasswordResetConfirmation,
    responses((status = 204, description = "the password is set; every session ended"), (status = 400, body = Problem),
        (status = 422, body = Problem)))]
async fn confirm_reset(
    State(state): State<AppState>,
    Extension(hasher): Extension<PasswordHasher>,
    RequestId(request_id): RequestId,
    Json(body): Json<PasswordResetConfirmation>,
) -> ApiResult<StatusCode> {
    confirm(&state, &hasher, body, request_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
