//! The security administrator's duties (三员分立): ending a lock-out and
//! changing a staff member's role. Both are audited; a role change ends
//! the person's sessions, so the new duties start with a new sign-in.

use axum::extract::State;
use serde::{Deserialize, Serialize};
use techtrade_db::{accounts, audit};
use techtrade_domain::Role;
use techtrade_web::auth::stored_role;
use techtrade_web::error::Problem;
use techtrade_web::{ApiError, ApiResult, AppState, CurrentUser, ErrorCode, Json, Path, RequestId};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::views::UserView;

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(unlock_user)).routes(routes!(change_role))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UnlockResponse {
    pub user: UserView,
    /// The failed sign-ins forgotten (0: the account was not locked).
    pub failures_cleared: u64,
}

/// Ends user `id`'s lock-out: its failed sign-ins are forgotten.
pub async fn unlock(
    db: &techtrade_db::Database,
    user: &CurrentUser,
    request_id: Option<String>,
    id: String,
) -> Result<UnlockResponse, ApiError> {
    user.require_security_admin()?;
    let actor = user.user_id.clone();
    db.run(move |conn| {
        techtrade_db::write_transaction(conn, |conn| {
            let found = accounts::find_user(conn, &id)?.ok_or_else(|| ApiError::not_found("user"))?;
            let cleared = accounts::clear_login_failures(conn, &found.email)?;
            audit::append(
                conn,
                audit::AuditEntry {
                    actor_user_id: Some(&actor),
                    action: "user.unlock",
                    subject_type: "user",
                    subject_id: &id,
                    after: Some(serde_json::json!({"failures_cleared": cleared})),
                    request_id: request_id.as_deref(),
                    ..Default::default()
                },
            )?;
            Ok(UnlockResponse { user: found.into(), failures_cleared: cleared as u64 })
        })
    })
    .await
}

/// Gives staff member `id` another staff role; its sessions end. Members
/// are not made staff this way (nor staff members), nor may a security
/// administrator change their own role.
pub async fn set_role(
    db: &techtrade_db::Database,
    user: &CurrentUser,
    request_id: Option<String>,
    id: String,
    role: Role,
) -> Result<UserView, ApiError> {
    user.require_security_admin()?;
    if id == user.user_id {
        return Err(ApiError::new(ErrorCode::InvalidState, "a security administrator may not change their own role"));
    }
    if !role.is_staff() {
        return Err(ApiError::invalid_field("role", "not_staff", "a staff member gets a staff role"));
    }
    let actor = user.user_id.clone();
    db.run(move |conn| {
        techtrade_db::write_transaction(conn, |conn| {
            let found = accounts::find_user(conn, &id)?.ok_or_else(|| ApiError::not_found("user"))?;
            let before = stored_role(&found)?;
            if !before.is_staff() {
                return Err(ApiError::new(ErrorCode::InvalidState, "members act for their organisation, not as staff"));
            }
            if role.is_security_side() && found.organization_id.is_some() {
                return Err(ApiError::invalid_field("role", "not_allowed", "security staff belong to no organisation"));
            }
            let now = techtrade_db::now();
            accounts::set_role(conn, &id, role.as_str(), now)?;
            let revoked = accounts::revoke_sessions_of(conn, &id, now)?;
            audit::append(
                conn,
                audit::AuditEntry {
                    actor_user_id: Some(&actor),
                    action: "user.role_change",
                    subject_type: "user",
                    subject_id: &id,
                    before: Some(serde_json::json!({"role": before})),
                    after: Some(serde_json::json!({"role": role, "sessions_revoked": revoked})),
                    request_id: request_id.as_deref(),
                    ..Default::default()
                },
            )?;
            Ok(accounts::find_user(conn, &id)?.ok_or_else(|| ApiError::not_found("user"))?.into())
        })
    })
    .await
}

/// Staff member `id` as it is (a role change that changes nothing).
async fn staff_member(db: &techtrade_db::Database, user: &CurrentUser, id: String) -> Result<UserView, ApiError> {
    user.require_security_admin()?;
    db.run(move |conn| Ok(accounts::find_user(conn, &id)?.ok_or_else(|| ApiError::not_found("user"))?.into())).await
}

/// Ends an account's lock-out (security administrators only).
#[utoipa::path(
    post, path = "/api/v1/admin/users/{id}/unlock", tag = "accounts",
    params(("id" = String, Path)),
    security(("bearer" = [])),
    responses((status = 200, body = UnlockResponse), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem))
)]
async fn unlock_user(
    State(state): State<AppState>,
    user: CurrentUser,
    RequestId(request_id): RequestId,
    Path(id): Path<String>,
) -> ApiResult<Json<UnlockResponse>> {
    Ok(Json(unlock(&state.db, &user, request_id, id).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct RoleChangeRequest {
    /// A staff role: `official`, `admin` (the system administrator),
    /// `secadmin` or `auditor`. Absent: nothing changes.
    pub role: Option<StaffRole>,
}

/// The roles a role change names: members act for their organisation and
/// are not made staff this way, so `member` is not among them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StaffRole {
    Official,
    /// The system administrator (also written `sysadmin`).
    #[serde(alias = "sysadmin")]
    Admin,
    Secadmin,
    Auditor,
}

impl From<StaffRole> for Role {
    fn from(role: StaffRole) -> Self {
        match role {
            StaffRole::Official => Self::Official,
            StaffRole::Admin => Self::Admin,
            StaffRole::Secadmin => Self::SecurityAdmin,
            StaffRole::Auditor => Self::Auditor,
        }
    }
}

/// Gives a staff member another staff role (security administrators only);
/// the member's sessions end.
#[utoipa::path(
    patch, path = "/api/v1/admin/users/{id}", tag = "accounts",
    params(("id" = String, Path)),
    request_body = RoleChangeRequest,
    security(("bearer" = [])),
    responses((status = 200, body = UserView), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem))
)]
async fn change_role(
    State(state): State<AppState>,
    user: CurrentUser,
    RequestId(request_id): RequestId,
    Path(id): Path<String>,
    Json(request): Json<RoleChangeRequest>,
) -> ApiResult<Json<UserView>> {
    let changed = match request.role {
        Some(role) => set_role(&state.db, &user, request_id, id, role.into()).await?,
        None => staff_member(&state.db, &user, id).await?,
    };
    Ok(Json(changed))
}
