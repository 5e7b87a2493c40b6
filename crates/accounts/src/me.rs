//! What a signed-in user does to their own account: see their live
//! sessions (where and when each was last used) and end one — a browser
//! left signed in elsewhere —, and change their password, which ends every
//! other session. The idle and absolute time-outs themselves are the
//! guard's (`techtrade_web::auth`).

use axum::extract::{Extension, State};
use axum::http::StatusCode;
use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use techtrade_db::{accounts, audit};
use techtrade_domain::Violations;
use techtrade_web::{ApiError, ApiResult, AppState, ClientIp, CurrentUser, Json, Path, RequestId};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::password::{self, PasswordHasher};
use crate::rate_limit;

type Problem = techtrade_web::error::Problem;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_sessions)).routes(routes!(end_session)).routes(routes!(change_password))
}

/// A live session of the caller's.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionView {
    pub id: String,
    pub created_at: DateTime<Utc>,
    /// When it was last used (to the minute).
    pub last_seen_at: DateTime<Utc>,
    /// When it ends however busy (`auth.token_ttl_minutes` after sign-in).
    pub expires_at: DateTime<Utc>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// The session of this request.
    pub current: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionsResponse {
    pub items: Vec<SessionView>,
}

fn idle_since(state: &AppState, now: NaiveDateTime) -> NaiveDateTime {
    now - TimeDelta::from_std(state.settings.auth.session_idle).unwrap_or(TimeDelta::minutes(30))
}

/// The caller's live sessions, newest first: the service behind
/// `GET /api/v1/me/sessions`.
pub async fn sessions(state: &AppState, user: &CurrentUser) -> ApiResult<Vec<SessionView>> {
    let now = techtrade_db::now();
    let (user_id, idle_since) = (user.user_id.clone(), idle_since(state, now));
    let sessions = state
        .db
        .run(move |conn| accounts::live_sessions_of(conn, &user_id, now, idle_since).map_err(ApiError::from))
        .await?;
    Ok(sessions
        .into_iter()
        .map(|s| SessionView {
            current: s.id == user.session_id,
            last_seen_at: s.last_active().and_utc(),
            created_at: s.created_at.and_utc(),
            expires_at: s.expires_at.and_utc(),
            id: s.id,
            ip: s.ip,
            user_agent: s.user_agent,
        })
        .collect())
}

/// The caller's live sessions, newest first, with where and when each was
/// last used.
#[utoipa::path(get, path = "/api/v1/me/sessions", tag = "accounts", security(("bearer" = [])),
    responses((status = 200, body = SessionsResponse), (status = 401, body = Problem)))]
async fn list_sessions(State(state): State<AppState>, user: CurrentUser) -> ApiResult<Json<SessionsResponse>> {
    Ok(Json(SessionsResponse { items: sessions(&state, &user).await? }))
}

/// Ends one of the caller's sessions (the current one too: that is signing
/// out). 404 for a session that is not the caller's or has ended.
pub async fn end(state: &AppState, user: &CurrentUser, id: String, request_id: Option<String>) -> ApiResult<()> {
    let user_id = user.user_id.clone();
    state
        .db
        .run(move |conn| {
            techtrade_db::write_transaction(conn, |conn| {
                if !accounts::revoke_session_of(conn, &user_id, &id, techtrade_db::now())? {
                    return Err(ApiError::not_found("session"));
                }
                audit::append(
                    conn,
                    audit::AuditEntry {
                        actor_user_id: Some(&user_id),
                        action: "session.revoke",
                        subject_type: "session",
                        subject_id: &id,
                        before: None,
                        after: None,
                        request_id: request_id.as_deref(),
                        ..Default::default()
                    },
                )?;
                Ok(())
            })
        })
        .await
}

/// Ends one of the caller's sessions.
#[utoipa::path(delete, path = "/api/v1/me/sessions/{id}", tag = "accounts", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 204, description = "ended"), (status = 401, body = Problem), (status = 404, body = Problem)))]
async fn end_session(
    State(state): State<AppState>,
    user: CurrentUser,
    RequestId(request_id): RequestId,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    end(&state, &user, id, request_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChangeRequest {
    /// The password now.
    #[schema(min_length = 1, max_length = 256)]
    pub current: String,
    /// The new one: 8 to 256 characters mixing at least three of: lower-case
    /// letters, capitals, digits and other characters; not a common password.
    #[schema(min_length = 8, max_length = 256)]
    pub new: String,
}

/// Changes the caller's password: the current one is checked as a sign-in
/// is (a wrong one counts towards the account's lock-out), the new one
/// against the password rules; then every other session of the account
/// ends, so that whoever else held one is out.
pub async fn change(
    state: &AppState,
    hasher: &PasswordHasher,
    user: &CurrentUser,
    request: PasswordChangeRequest,
    ip: &str,
    request_id: Option<String>,
) -> ApiResult<()> {
    let mut violations = Violations::new();
    violations.check("new", password::check_new(&request.new));
    if request.new == request.current {
        // A password someone else chose is not made one's own by re-typing it.
        violations.push("new", "unchanged", "the new password is the current one");
    }
    if !violations.is_empty() {
        return Err(violations.into());
    }
    let settings = state.settings.auth.clone();
    let (email, ip, user_id) = (user.email.clone(), ip.to_string(), user.user_id.clone());
    let ip_address = ip.clone();
    let (attempt_id, stored) = {
        let (settings, user_id) = (settings.clone(), user_id.clone());
        state
            .db
            .run(move |conn| {
                let attempt = rate_limit::reserve(conn, &settings, &email, &ip, techtrade_db::now())?;
                let stored = accounts::find_user(conn, &user_id)?.map(|u| u.password_hash);
                Ok::<_, ApiError>((attempt, stored))
            })
            .await?
    };
    let hasher = hasher.clone();
    let PasswordChangeRequest { current, new } = request;
    let hashed = tokio::task::spawn_blocking(move || {
        if hasher.verify(&current, stored.as_deref()) { hasher.hash(&new).map(Some) } else { Ok(None) }
    })
    .await
    .map_err(ApiError::internal)?
    .map_err(ApiError::internal)?;
    let Some(hash) = hashed else {
        let failure =
            crate::login::Failure { email: user.email.clone(), user_id: Some(user_id), reason: "wrong_password" };
        crate::login::failed_sign_in(state, failure, ip_address, attempt_id, request_id).await?;
        return Err(ApiError::invalid_field("current", "wrong_password", "this is not the current password"));
    };
    let keep = user.session_id.clone();
    state
        .db
        .run(move |conn| {
            techtrade_db::write_transaction(conn, |conn| {
                let now = techtrade_db::now();
                rate_limit::succeeded(conn, &settings, attempt_id, now)?;
                accounts::set_password(conn, &user_id, &hash, false, now)?;
                let ended = accounts::revoke_other_sessions(conn, &user_id, &keep, now)?;
                audit::append(
                    conn,
                    audit::AuditEntry {
                        actor_user_id: Some(&user_id),
                        action: "user.password_change",
                        subject_type: "user",
                        subject_id: &user_id,
                        before: None,
                        after: Some(serde_json::json!({"other_sessions_ended": ended})),
                        request_id: request_id.as_deref(),
                        ..Default::default()
                    },
                )?;
                Ok::<_, ApiError>(())
            })
        })
        .await
}

/// Changes the caller's password and ends their other sessions.
#[utoipa::path(post, path = "/api/v1/me/password", tag = "accounts", security(("bearer" = [])),
    request_body = PasswordChangeRequest,
    responses((status = 204, description = "changed; every other session ended"), (status = 401, body = Problem),
        (status = 422, body = Problem), (status = 423, body = Problem), (status = 429, body = Problem)))]
async fn change_password(
    State(state): State<AppState>,
    Extension(hasher): Extension<PasswordHasher>,
    user: CurrentUser,
    ClientIp(ip): ClientIp,
    RequestId(request_id): RequestId,
    Json(request): Json<PasswordChangeRequest>,
) -> ApiResult<StatusCode> {
    change(&state, &hasher, &user, request, &ip, request_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
