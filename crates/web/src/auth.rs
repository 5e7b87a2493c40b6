//! The authentication guard: bearer tokens to the user behind them.
//!
//! Tokens are random and opaque; the database keeps only their SHA-256, so
//! a leaked table holds no usable token. A plain hash (not a password hash)
//! is right here: the token has 256 bits of entropy.

use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::http::header;
use axum::http::request::Parts;
use chrono::TimeDelta;
use sha2::{Digest, Sha256};
use techtrade_domain::Role;

use crate::error::{ApiError, ErrorCode};
use crate::state::AppState;

/// The SHA-256 of a token, as stored in `sessions.token_hash`.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// The signed-in user of a request. Extracting it fails with 401 when the
/// request has no live token.
#[derive(Debug, Clone)]
pub struct CurrentUser {
    pub user_id: String,
    pub session_id: String,
    pub role: Role,
    pub organization_id: Option<String>,
    /// An administrator of their organisation: adds, disables and removes
    /// its members (members only; never staff).
    pub organization_admin: bool,
    pub email: String,
    pub name: String,
    /// Why the password must be changed before anything else, if it must.
    pub password_change: Option<PasswordChange>,
    /// Whether the user signs in with a second factor (a confirmed TOTP).
    pub second_factor: bool,
    /// Staff without a second factor where `auth.require_staff_totp`:
    /// they enrol one before anything else.
    pub must_enrol_second_factor: bool,
}

/// Why a signed-in user must change their password first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordChange {
    /// Someone else chose it (an administrator, the command line).
    SetByAnother,
    /// A staff member's password older than `auth.staff_password_max_age`.
    Expired,
}

impl PasswordChange {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SetByAnother => "set_by_another",
            Self::Expired => "expired",
        }
    }

    /// Whether `user`'s password must be changed at `now`.
    pub fn of(
        user: &techtrade_db::accounts::User,
        role: Role,
        max_age: TimeDelta,
        now: chrono::NaiveDateTime,
    ) -> Option<Self> {
        if user.must_change_password {
            Some(Self::SetByAnother)
        } else if role.is_staff() && now - user.password_set_at() > max_age {
            Some(Self::Expired)
        } else {
            None
        }
    }

    /// [`Self::of`] under the configured maximum age.
    pub fn under(
        settings: &crate::AuthSettings,
        user: &techtrade_db::accounts::User,
        role: Role,
        now: chrono::NaiveDateTime,
    ) -> Option<Self> {
        let max_age = TimeDelta::from_std(settings.staff_password_max_age).unwrap_or(TimeDelta::days(90));
        Self::of(user, role, max_age, now)
    }

    pub fn refusal(self) -> ApiError {
        let why = match self {
            Self::SetByAnother => "your password was set by someone else",
            Self::Expired => "your password has expired",
        };
        ApiError::new(
            ErrorCode::PasswordChangeRequired,
            format!("{why}: change it (POST /api/v1/me/password) before anything else"),
        )
    }
}

/// A stored user's role; an unknown one is the database's fault (500).
pub fn stored_role(user: &techtrade_db::accounts::User) -> Result<Role, ApiError> {
    Role::from_db(&user.role).ok_or_else(|| ApiError::internal(format!("unknown role '{}'", user.role)))
}

/// What a session whose password must change may still do: see itself,
/// change the password, see and end its sessions, sign out.
pub fn allowed_before_password_change(path: &str) -> bool {
    matches!(path, "/api/v1/me" | "/api/v1/me/password" | "/api/v1/me/sessions" | "/api/v1/auth/logout")
        || path.starts_with("/api/v1/me/sessions/")
}

/// What a staff session without the required second factor may still do:
/// the same, and enrol it.
pub fn allowed_before_enrolment(path: &str) -> bool {
    allowed_before_password_change(path) || matches!(path, "/api/v1/me/totp" | "/api/v1/me/totp/confirm")
}

impl CurrentUser {
    /// Whether something must be done before anything else: change the
    /// password, or enrol a second factor.
    pub fn has_obligation(&self) -> bool {
        self.password_change.is_some() || self.must_enrol_second_factor
    }

    /// The refusal of `path` while an obligation is pending and `path`
    /// does not meet it; `None` when the request may go on.
    pub fn obligation_refusal(&self, path: &str) -> Option<ApiError> {
        if let Some(change) = self.password_change {
            return (!allowed_before_password_change(path)).then(|| change.refusal());
        }
        (self.must_enrol_second_factor && !allowed_before_enrolment(path)).then(|| {
            ApiError::new(
                ErrorCode::SecondFactorEnrolmentRequired,
                "staff sign in with a second factor: enrol one (POST /api/v1/me/totp, then \
                 POST /api/v1/me/totp/confirm) before anything else",
            )
        })
    }

    pub fn require_official(&self) -> Result<(), ApiError> {
        if self.role.is_official() { Ok(()) } else { Err(ApiError::forbidden("only officials may do this")) }
    }

    /// The system administrator (users and configuration).
    pub fn require_admin(&self) -> Result<(), ApiError> {
        if self.role == Role::Admin {
            Ok(())
        } else {
            Err(ApiError::forbidden("only system administrators may do this"))
        }
    }

    /// Either administrator: each manages the staff of its own side.
    pub fn require_staff_manager(&self) -> Result<(), ApiError> {
        if matches!(self.role, Role::Admin | Role::SecurityAdmin) {
            Ok(())
        } else {
            Err(ApiError::forbidden("only system and security administrators manage staff"))
        }
    }

    /// 403 unless this administrator manages accounts of `role`
    /// ([`Role::manages`]).
    pub fn require_manages(&self, role: Role) -> Result<(), ApiError> {
        self.require_staff_manager()?;
        if self.role.manages(role) {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!(
                "a {} does not manage {} accounts (separated duties)",
                self.role.as_str(),
                role.as_str()
            )))
        }
    }

    /// The security administrator (roles, lock-outs).
    pub fn require_security_admin(&self) -> Result<(), ApiError> {
        if self.role == Role::SecurityAdmin {
            Ok(())
        } else {
            Err(ApiError::forbidden("only security administrators may do this"))
        }
    }

    /// The auditor: the only reader of the audit log.
    pub fn require_auditor(&self) -> Result<(), ApiError> {
        if self.role == Role::Auditor { Ok(()) } else { Err(ApiError::forbidden("only auditors read the audit log")) }
    }

    /// The caller's organisation; 403 for users who act for none.
    pub fn organization(&self) -> Result<&str, ApiError> {
        self.organization_id
            .as_deref()
            .ok_or_else(|| ApiError::forbidden("only members of an organisation may do this"))
    }

    pub fn is_member_of(&self, organization_id: &str) -> bool {
        self.organization_id.as_deref() == Some(organization_id)
    }

    /// 404 for who is not in organisation `id` (it may not probe its
    /// members), 403 for a member who does not administer it.
    pub fn require_organization_admin(&self, organization_id: &str) -> Result<(), ApiError> {
        if !self.is_member_of(organization_id) {
            return Err(ApiError::not_found("organization"));
        }
        if !self.organization_admin {
            return Err(ApiError::forbidden("only the organisation's administrators manage its members"));
        }
        Ok(())
    }
}

/// How often a session's use is written down: its idle time-out is kept to
/// the minute without a write on every request.
const TOUCH_EVERY: TimeDelta = TimeDelta::seconds(60);

/// The user behind a session token, whichever way it came (the API's
/// bearer header, the web front's cookie): 401 when the token is unknown,
/// expired, revoked or unused for longer than `auth.session_idle`, or the
/// account is disabled.
pub async fn session_user(state: &AppState, token: &str) -> Result<CurrentUser, ApiError> {
    let token_hash = hash_token(token);
    let now = techtrade_db::now();
    let found = state
        .db
        .run(move |conn| techtrade_db::accounts::find_live_session(conn, &token_hash, now).map_err(ApiError::from))
        .await?;
    let techtrade_db::accounts::LiveSession { session, user, second_factor } =
        found.ok_or_else(|| ApiError::new(ErrorCode::InvalidToken, "the token is unknown, expired or revoked"))?;
    if user.disabled_at.is_some() {
        return Err(ApiError::new(ErrorCode::InvalidToken, "the account is disabled"));
    }
    let idle = TimeDelta::from_std(state.settings.auth.session_idle).unwrap_or(TimeDelta::minutes(30));
    let unused = now - session.last_active();
    if unused > idle {
        return Err(ApiError::new(
            ErrorCode::InvalidToken,
            format!("the session ended after {} minutes unused; sign in again", idle.num_minutes()),
        ));
    }
    if unused >= TOUCH_EVERY {
        let id = session.id.clone();
        state.db.run(move |conn| techtrade_db::accounts::touch_session(conn, &id, now).map_err(ApiError::from)).await?;
    }
    let role = stored_role(&user)?;
    let password_change = PasswordChange::under(&state.settings.auth, &user, role, now);
    Ok(CurrentUser {
        user_id: user.id,
        session_id: session.id,
        role,
        organization_admin: role == Role::Member
            && user.organization_id.is_some()
            && user.organization_role == techtrade_domain::OrganizationRole::Admin.as_str(),
        organization_id: user.organization_id,
        email: user.email,
        name: user.name,
        password_change,
        second_factor,
        must_enrol_second_factor: state.settings.auth.require_staff_totp && role.is_staff() && !second_factor,
    })
}

fn bearer_token(parts: &Parts) -> Result<&str, ApiError> {
    let value = parts
        .headers
        .get(header::AUTHORIZATION)
        .ok_or_else(|| ApiError::new(ErrorCode::Unauthenticated, "send Authorization: Bearer <token>"))?;
    let value = value
        .to_str()
        .map_err(|_| ApiError::new(ErrorCode::InvalidToken, "the Authorization header is not valid text"))?;
    let (scheme, token) = value
        .split_once(' ')
        .ok_or_else(|| ApiError::new(ErrorCode::InvalidToken, "expected Authorization: Bearer <token>"))?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(ApiError::new(ErrorCode::InvalidToken, "expected Authorization: Bearer <token>"));
    }
    Ok(token.trim())
}

impl FromRequestParts<AppState> for CurrentUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if let Some(user) = parts.extensions.get::<CurrentUser>() {
            return Ok(user.clone());
        }
        let current = session_user(state, bearer_token(parts)?).await?;
        if let Some(refusal) = current.obligation_refusal(parts.uri.path()) {
            return Err(refusal);
        }
        // Several extractors of one request may ask; look the token up once.
        parts.extensions.insert(current.clone());
        Ok(current)
    }
}

/// `Option<CurrentUser>`: `None` without an Authorization header (the
/// public), the user with a live token, and 401 for a bad token — a caller
/// who sends a token means to be someone, so it is never silently ignored.
impl OptionalFromRequestParts<AppState> for CurrentUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Option<Self>, ApiError> {
        if parts.headers.contains_key(header::AUTHORIZATION) {
            <CurrentUser as FromRequestParts<AppState>>::from_request_parts(parts, state).await.map(Some)
        } else {
            Ok(None)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_hex_sha256() {
        assert_eq!(hash_token("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }

    #[test]
    fn parses_bearer_headers() {
        let parts = |value: Option<&str>| {
            let mut builder = axum::http::Request::builder();
            if let Some(v) = value {
                builder = builder.header(header::AUTHORIZATION, v);
            }
            builder.body(()).unwrap().into_parts().0
        };
        assert_eq!(bearer_token(&parts(Some("Bearer abc"))).unwrap(), "abc");
        assert_eq!(bearer_token(&parts(Some("bearer  abc "))).unwrap(), "abc");
        assert_eq!(bearer_token(&parts(None)).unwrap_err().code(), ErrorCode::Unauthenticated);
        for bad in ["Basic abc", "Bearer", "Bearer  ", "abc"] {
            assert_eq!(bearer_token(&parts(Some(bad))).unwrap_err().code(), ErrorCode::InvalidToken, "{bad}");
        }
    }
}
