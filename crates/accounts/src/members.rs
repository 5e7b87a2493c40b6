//! An organisation's administrators manage its members: make one an
//! administrator or a member again (handing the role on), disable an
//! account (its sessions end at once) or enable it, and remove a member
//! (disabled and taken out of the organisation; the account stays for the
//! records it signed). A member may remove themselves (leave). The last
//! administrator who can act may not step down, be disabled or leave: 409
//! `last_administrator`. Changes to one organisation's members run one at
//! a time (the organisation row is locked), so two administrators stepping
//! down together cannot leave it with none.

use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use techtrade_db::accounts::{self, User};
use techtrade_db::{AnyConnection, audit};
use techtrade_domain::OrganizationRole;
use techtrade_web::{ApiError, ApiResult, AppState, CurrentUser, ErrorCode, Json, Path, RequestId};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::views::UserView;

type Problem = techtrade_web::error::Problem;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(change_member, remove_member))
}

/// What changes for a member; fields left out stay as they are.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MemberChange {
    /// `admin` makes them an administrator of the organisation, `member` a
    /// member again.
    pub role: Option<OrganizationRole>,
    /// `true` disables the account (it cannot sign in; its sessions end at
    /// once), `false` enables it again.
    pub disabled: Option<bool>,
}

fn last_administrator() -> ApiError {
    ApiError::new(
        ErrorCode::LastAdministrator,
        "the organisation needs another administrator first: make a member one, then try again",
    )
}

/// The member `user_id` of organisation `organization_id`, under the
/// organisation's lock; 404 for anyone else.
fn locked_member(conn: &mut AnyConnection, organization_id: &str, user_id: &str) -> Result<User, ApiError> {
    if !accounts::lock_organization(conn, organization_id)? {
        return Err(ApiError::not_found("organization"));
    }
    accounts::find_user(conn, user_id)?
        .filter(|u| u.organization_id.as_deref() == Some(organization_id) && u.role == "member")
        .ok_or_else(|| ApiError::not_found("member"))
}

/// Whether `member` is an administrator who can act now.
fn acting_administrator(member: &User) -> bool {
    member.organization_role == OrganizationRole::Admin.as_str() && member.disabled_at.is_none()
}

/// The member as the change leaves them, for the audit log.
fn snapshot(member: &User) -> serde_json::Value {
    serde_json::json!({"organization_role": member.organization_role, "disabled_at": member.disabled_at})
}

/// Changes a member's role or whether their account is enabled: the
/// service behind `PATCH /api/v1/organizations/{id}/members/{user_id}`.
pub async fn change(
    state: &AppState,
    user: &CurrentUser,
    organization_id: String,
    member_id: String,
    change: MemberChange,
    request_id: Option<String>,
) -> ApiResult<UserView> {
    user.require_organization_admin(&organization_id)?;
    let actor = user.user_id.clone();
    let changed = state
        .db
        .run(move |conn| {
            techtrade_db::write_transaction(conn, |conn| {
                let member = locked_member(conn, &organization_id, &member_id)?;
                let steps_down = matches!(change.role, Some(OrganizationRole::Member)) || change.disabled == Some(true);
                if acting_administrator(&member)
                    && steps_down
                    && accounts::active_administrators(conn, &organization_id)? <= 1
                {
                    return Err(last_administrator());
                }
                let now = techtrade_db::now();
                if let Some(role) = change.role {
                    accounts::set_organization_role(conn, &member_id, role.as_str(), now)?;
                }
                match change.disabled {
                    Some(true) => {
                        accounts::disable_user(conn, &member_id, now)?;
                        accounts::revoke_sessions_of(conn, &member_id, now)?;
                    }
                    Some(false) => {
                        accounts::enable_user(conn, &member_id, now)?;
                    }
                    None => {}
                }
                let after = accounts::find_user(conn, &member_id)?.ok_or_else(|| ApiError::not_found("member"))?;
                audit::append(
                    conn,
                    audit::AuditEntry {
                        actor_user_id: Some(&actor),
                        action: "member.change",
                        subject_type: "user",
                        subject_id: &member_id,
                        before: Some(snapshot(&member)),
                        after: Some(snapshot(&after)),
                        request_id: request_id.as_deref(),
                        ..Default::default()
                    },
                )?;
                Ok(after)
            })
        })
        .await?;
    Ok(changed.into())
}

/// Makes a member an administrator or a member again, or disables or
/// enables their account. The organisation's administrators only.
#[utoipa::path(patch, path = "/api/v1/organizations/{id}/members/{user_id}", tag = "accounts",
    params(("id" = String, Path), ("user_id" = String, Path)), request_body = MemberChange,
    security(("bearer" = [])),
    responses((status = 200, body = UserView), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn change_member(
    State(state): State<AppState>,
    user: CurrentUser,
    RequestId(request_id): RequestId,
    Path((id, user_id)): Path<(String, String)>,
    Json(request): Json<MemberChange>,
) -> ApiResult<Json<UserView>> {
    Ok(Json(change(&state, &user, id, user_id, request, request_id).await?))
}

/// Removes a member: an administrator removes anyone, a member themselves.
pub async fn remove(
    state: &AppState,
    user: &CurrentUser,
    organization_id: String,
    member_id: String,
    request_id: Option<String>,
) -> ApiResult<()> {
    if member_id != user.user_id {
        user.require_organization_admin(&organization_id)?;
    } else if !user.is_member_of(&organization_id) {
        return Err(ApiError::not_found("organization"));
    }
    let actor = user.user_id.clone();
    state
        .db
        .run(move |conn| {
            techtrade_db::write_transaction(conn, |conn| {
                let member = locked_member(conn, &organization_id, &member_id)?;
                if acting_administrator(&member) && accounts::active_administrators(conn, &organization_id)? <= 1 {
                    return Err(last_administrator());
                }
                let now = techtrade_db::now();
                accounts::disable_user(conn, &member_id, now)?;
                let ended = accounts::revoke_sessions_of(conn, &member_id, now)?;
                accounts::detach_user(conn, &member_id, now)?;
                audit::append(
                    conn,
                    audit::AuditEntry {
                        actor_user_id: Some(&actor),
                        action: "member.remove",
                        subject_type: "user",
                        subject_id: &member_id,
                        before: Some(serde_json::json!({"organization_id": organization_id,
                                                        "organization_role": member.organization_role})),
                        after: Some(serde_json::json!({"organization_id": null, "sessions_ended": ended})),
                        request_id: request_id.as_deref(),
                        ..Default::default()
                    },
                )?;
                Ok(())
            })
        })
        .await
}

/// Removes a member from the organisation (an administrator), or leaves it
/// (a member removing themselves). The account is disabled and belongs to
/// no organisation afterwards; its sessions end at once.
#[utoipa::path(delete, path = "/api/v1/organizations/{id}/members/{user_id}", tag = "accounts",
    params(("id" = String, Path), ("user_id" = String, Path)),
    security(("bearer" = [])),
    responses((status = 204, description = "removed"), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem)))]
async fn remove_member(
    State(state): State<AppState>,
    user: CurrentUser,
    RequestId(request_id): RequestId,
    Path((id, user_id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    remove(&state, &user, id, user_id, request_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
