//! The accounts routes (API.md, "Accounts").

use axum::extract::{Extension, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use techtrade_db::accounts::{self, Organization};
use techtrade_db::{audit, outbox};
use techtrade_domain::{CreditCode, Email, OrganizationKind, RegionCode, Role, Violations, ids, text};
use techtrade_web::{ApiError, ApiResult, AppState, ClientIp, CurrentUser, ErrorCode, Json, Path, RequestId};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::password::PasswordHasher;
use crate::rate_limit;
use crate::users::{self, NewUser, ValidUser};
use crate::views::{MeResponse, MembersResponse, OrganizationView, RegistrationResponse, UserView};

/// The accounts routes. They need a [`PasswordHasher`] in the request
/// extensions (`Extension(hasher)` on the application).
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(register_organization))
        .routes(routes!(get_organization))
        .routes(routes!(list_members, add_member))
        .routes(routes!(logout))
        .routes(routes!(get_me))
        .routes(routes!(create_user, list_staff))
        .routes(routes!(disable_user))
        .merge(crate::login::router())
        .merge(crate::second_factor::router())
        .merge(crate::me::router())
        .merge(crate::members::router())
        .merge(crate::audit_trail::router())
        .merge(crate::security_admin::router())
        .merge(crate::reset::router())
}

/// Kinds an organisation may register itself as (authorities are created by admins).
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RegistrableKind {
    Enterprise,
    University,
    Institute,
    Agency,
}

impl RegistrableKind {
    pub const ALL: [Self; 4] = [Self::Enterprise, Self::University, Self::Institute, Self::Agency];

    pub fn as_str(self) -> &'static str {
        OrganizationKind::from(self).as_str()
    }

    /// The kind a form names (`enterprise`, …).
    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == value)
    }
}

impl From<RegistrableKind> for OrganizationKind {
    fn from(kind: RegistrableKind) -> Self {
        match kind {
            RegistrableKind::Enterprise => Self::Enterprise,
            RegistrableKind::University => Self::University,
            RegistrableKind::Institute => Self::Institute,
            RegistrableKind::Agency => Self::Agency,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewOrganizationRequest {
    #[schema(example = "青海盐湖工业股份有限公司", min_length = 1, max_length = 200, pattern = r"[^\s\u0085]")]
    pub name: String,
    pub kind: RegistrableKind,
    /// 统一社会信用代码: 18 characters with its check character.
    #[schema(value_type = CreditCode, example = "914403001922038216")]
    pub credit_code: String,
    /// GB/T 2260 region code.
    #[schema(value_type = RegionCode, example = "630100")]
    pub region_code: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewUserRequest {
    #[schema(value_type = Email)]
    pub email: String,
    /// 8 to 256 characters mixing at least three of: lower-case letters,
    /// capitals, digits and other characters; not among the most common passwords.
    #[schema(min_length = 8, max_length = 256)]
    pub password: String,
    #[schema(min_length = 1, max_length = 100, pattern = r"[^\s\u0085]")]
    pub name: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct RegistrationRequest {
    pub organization: NewOrganizationRequest,
    pub user: NewUserRequest,
}

/// Registers an organisation with its first member.
#[utoipa::path(
    post, path = "/api/v1/organizations", tag = "accounts",
    request_body = RegistrationRequest,
    responses(
        (status = 201, body = RegistrationResponse),
        (status = 409, description = "e-mail or credit code already registered", body = techtrade_web::error::Problem),
        (status = 422, description = "invalid fields", body = techtrade_web::error::Problem),
        (status = 429, description = "too many registrations from this address", body = techtrade_web::error::Problem),
    )
)]
async fn register_organization(
    State(state): State<AppState>,
    Extension(hasher): Extension<PasswordHasher>,
    RequestId(request_id): RequestId,
    ClientIp(ip): ClientIp,
    Json(request): Json<RegistrationRequest>,
) -> ApiResult<(StatusCode, Json<RegistrationResponse>)> {
    let response = register(&state, &hasher, request, &ip, request_id).await?;
    Ok((StatusCode::CREATED, Json(response)))
}

/// Registers an organisation with its first member: the registration
/// limit per address, every field checked at once, one transaction.
pub async fn register(
    state: &AppState,
    hasher: &PasswordHasher,
    request: RegistrationRequest,
    ip: &str,
    request_id: Option<String>,
) -> ApiResult<RegistrationResponse> {
    let settings = state.settings.auth.clone();
    let ip = ip.to_string();
    state.db.run(move |conn| rate_limit::register_attempt(conn, &settings, &ip, techtrade_db::now())).await?;
    let mut violations = Violations::new();
    let org = &request.organization;
    let name = violations.check("organization.name", text::required(&org.name, 200));
    let credit_code = violations.check("organization.credit_code", CreditCode::parse(&org.credit_code));
    let region_code = violations.check("organization.region_code", RegionCode::parse(&org.region_code));
    let user_input = NewUser {
        email: request.user.email.clone(),
        password: request.user.password.clone(),
        name: request.user.name.clone(),
        role: Role::Member,
        organization_id: None,
        must_change_password: false,
    };
    let user_fields = users::validate(&user_input, "user.", &mut violations);
    let (name, credit_code, region_code, (email, user_name)) =
        violations.finish(|| Some((name?, credit_code?, region_code?, user_fields?)))?;
    let password_hash = users::hash_password(hasher, &user_input.password).await?;
    let kind = OrganizationKind::from(org.kind);

    let (organization, user) = state
        .db
        .run(move |conn| {
            techtrade_db::write_transaction(conn, |conn| {
                if accounts::credit_code_taken(conn, credit_code.as_str())? {
                    return Err(credit_code_taken());
                }
                let now = techtrade_db::now();
                let organization = Organization {
                    id: ids::new_id(),
                    name,
                    kind: kind.as_str().to_string(),
                    credit_code: credit_code.to_string(),
                    region_code: region_code.to_string(),
                    created_at: now,
                    updated_at: now,
                    version: 1,
                };
                accounts::insert_organization(conn, &organization)
                    .map_err(|e| users::unique_or(e, credit_code_taken))?;
                let valid = ValidUser {
                    email,
                    name: user_name,
                    password_hash,
                    role: Role::Member,
                    organization_id: Some(organization.id.clone()),
                    must_change_password: false,
                };
                let user = users::insert(conn, valid, "user.", None, request_id.as_deref())?;
                let view = OrganizationView::from(organization.clone());
                let snapshot = serde_json::to_value(&view).map_err(ApiError::internal)?;
                audit::append(
                    conn,
                    audit::AuditEntry {
                        actor_user_id: Some(&user.id),
                        action: "organization.register",
                        subject_type: "organization",
                        subject_id: &organization.id,
                        before: None,
                        after: Some(snapshot.clone()),
                        request_id: request_id.as_deref(),
                        ..Default::default()
                    },
                )?;
                outbox::emit(
                    conn,
                    "organization.registered",
                    "organization",
                    &organization.id,
                    &serde_json::json!({"organization": snapshot, "user_id": user.id}),
                )?;
                Ok((organization, user))
            })
        })
        .await?;
    Ok(RegistrationResponse { organization: organization.into(), user: user.into() })
}

fn credit_code_taken() -> ApiError {
    ApiError::new(ErrorCode::CreditCodeTaken, "an organisation with this credit code is registered").with_field(
        "organization.credit_code",
        "taken",
        "already registered",
    )
}

/// An organisation's public profile.
#[utoipa::path(
    get, path = "/api/v1/organizations/{id}", tag = "accounts",
    params(("id" = String, Path)),
    responses((status = 200, body = OrganizationView), (status = 404, body = techtrade_web::error::Problem))
)]
async fn get_organization(State(state): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<OrganizationView>> {
    Ok(Json(organization(&state, id).await?))
}

/// An organisation's public profile; 404 when there is none.
pub async fn organization(state: &AppState, id: String) -> ApiResult<OrganizationView> {
    let organization = state
        .db
        .run(move |conn| accounts::find_organization(conn, &id).map_err(ApiError::from))
        .await?
        .ok_or_else(|| ApiError::not_found("organization"))?;
    Ok(organization.into())
}

/// The members of an organisation: for its members and officials.
#[utoipa::path(
    get, path = "/api/v1/organizations/{id}/members", tag = "accounts",
    params(("id" = String, Path)),
    security(("bearer" = [])),
    responses((status = 200, body = MembersResponse), (status = 404, body = techtrade_web::error::Problem))
)]
async fn list_members(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> ApiResult<Json<MembersResponse>> {
    Ok(Json(MembersResponse { items: members(&state, &user, id).await? }))
}

/// The members of an organisation, for its members and officials (404
/// for anyone else, who may not probe for them).
pub async fn members(state: &AppState, user: &CurrentUser, id: String) -> ApiResult<Vec<UserView>> {
    if !user.is_member_of(&id) && !user.role.is_official() {
        return Err(ApiError::not_found("organization"));
    }
    let members = state
        .db
        .run(move |conn| {
            if accounts::find_organization(conn, &id)?.is_none() {
                return Err(ApiError::not_found("organization"));
            }
            Ok(accounts::organization_members(conn, &id)?)
        })
        .await?;
    Ok(members.into_iter().map(UserView::from).collect())
}

/// Adds a member to the caller's organisation (its administrators only).
#[utoipa::path(
    post, path = "/api/v1/organizations/{id}/members", tag = "accounts",
    params(("id" = String, Path)),
    request_body = NewUserRequest,
    security(("bearer" = [])),
    responses(
        (status = 201, body = UserView),
        (status = 403, body = techtrade_web::error::Problem),
        (status = 409, body = techtrade_web::error::Problem),
        (status = 422, body = techtrade_web::error::Problem),
    )
)]
async fn add_member(
    State(state): State<AppState>,
    Extension(hasher): Extension<PasswordHasher>,
    user: CurrentUser,
    RequestId(request_id): RequestId,
    Path(id): Path<String>,
    Json(request): Json<NewUserRequest>,
) -> ApiResult<(StatusCode, Json<UserView>)> {
    let created = add_to_organization(&state, &hasher, &user, request_id, id, request).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// A new member of the caller's own organisation.
pub async fn add_to_organization(
    state: &AppState,
    hasher: &PasswordHasher,
    user: &CurrentUser,
    request_id: Option<String>,
    id: String,
    request: NewUserRequest,
) -> ApiResult<UserView> {
    if !user.is_member_of(&id) || !user.organization_admin {
        return Err(ApiError::forbidden("only the organisation's administrators add members to it"));
    }
    let input = NewUser {
        email: request.email,
        password: request.password,
        name: request.name,
        role: Role::Member,
        organization_id: Some(id),
        // The administrator chose it: the colleague sets their own at first sign-in.
        must_change_password: true,
    };
    let created = users::create_user(&state.db, hasher, input, Some(user.user_id.clone()), request_id).await?;
    Ok(created.into())
}

/// Signs out: the token is revoked at once.
#[utoipa::path(
    post, path = "/api/v1/auth/logout", tag = "accounts",
    security(("bearer" = [])),
    responses((status = 204, description = "revoked"), (status = 401, body = techtrade_web::error::Problem))
)]
async fn logout(
    State(state): State<AppState>,
    user: CurrentUser,
    RequestId(request_id): RequestId,
) -> ApiResult<StatusCode> {
    sign_out(&state, &user, request_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Revokes the user's session at once.
pub async fn sign_out(state: &AppState, user: &CurrentUser, request_id: Option<String>) -> ApiResult<()> {
    let user = user.clone();
    state
        .db
        .run(move |conn| {
            techtrade_db::write_transaction(conn, |conn| {
                if accounts::revoke_session(conn, &user.session_id, techtrade_db::now())? {
                    audit::append(
                        conn,
                        audit::AuditEntry {
                            actor_user_id: Some(&user.user_id),
                            action: "session.revoke",
                            subject_type: "session",
                            subject_id: &user.session_id,
                            before: None,
                            after: None,
                            request_id: request_id.as_deref(),
                            ..Default::default()
                        },
                    )?;
                }
                Ok::<_, ApiError>(())
            })
        })
        .await
}

/// The signed-in user with their organisation.
#[utoipa::path(
    get, path = "/api/v1/me", tag = "accounts",
    security(("bearer" = [])),
    responses((status = 200, body = MeResponse), (status = 401, body = techtrade_web::error::Problem))
)]
async fn get_me(State(state): State<AppState>, user: CurrentUser) -> ApiResult<Json<MeResponse>> {
    let (row, organization) = state
        .db
        .run(move |conn| {
            let row = accounts::find_user(conn, &user.user_id)?.ok_or_else(|| ApiError::not_found("user"))?;
            let organization = match &row.organization_id {
                Some(id) => accounts::find_organization(conn, id)?,
                None => None,
            };
            Ok::<_, ApiError>((row, organization))
        })
        .await?;
    Ok(Json(MeResponse { user: row.into(), organization: organization.map(Into::into) }))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct AdminNewUserRequest {
    #[schema(value_type = Email)]
    pub email: String,
    /// 8 to 256 characters mixing at least three of: lower-case letters,
    /// capitals, digits and other characters; not among the most common passwords.
    #[schema(min_length = 8, max_length = 256)]
    pub password: String,
    #[schema(min_length = 1, max_length = 100, pattern = r"[^\s\u0085]")]
    pub name: String,
    pub role: Role,
    /// Required for members; optional for officials (their authority).
    pub organization_id: Option<String>,
}

/// Creates a user of any role (admins only).
#[utoipa::path(
    post, path = "/api/v1/admin/users", tag = "accounts",
    request_body = AdminNewUserRequest,
    security(("bearer" = [])),
    responses(
        (status = 201, body = UserView),
        (status = 403, body = techtrade_web::error::Problem),
        (status = 409, body = techtrade_web::error::Problem),
        (status = 422, body = techtrade_web::error::Problem),
    )
)]
async fn create_user(
    State(state): State<AppState>,
    Extension(hasher): Extension<PasswordHasher>,
    user: CurrentUser,
    RequestId(request_id): RequestId,
    Json(request): Json<AdminNewUserRequest>,
) -> ApiResult<(StatusCode, Json<UserView>)> {
    user.require_manages(request.role)?;
    let input = NewUser {
        email: request.email,
        password: request.password,
        name: request.name,
        role: request.role,
        organization_id: request.organization_id,
        must_change_password: true,
    };
    let created = users::create_user(&state.db, &hasher, input, Some(user.user_id), request_id).await?;
    Ok((StatusCode::CREATED, Json(created.into())))
}

/// The staff: officials and administrators, oldest first (admins only).
#[utoipa::path(
    get, path = "/api/v1/admin/users", tag = "accounts",
    security(("bearer" = [])),
    responses((status = 200, body = StaffResponse), (status = 401, body = techtrade_web::error::Problem),
        (status = 403, body = techtrade_web::error::Problem))
)]
async fn list_staff(State(state): State<AppState>, user: CurrentUser) -> ApiResult<Json<StaffResponse>> {
    let items = users::staff(&state.db, &user).await?.into_iter().map(UserView::from).collect();
    Ok(Json(StaffResponse { items }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StaffResponse {
    pub items: Vec<UserView>,
}

/// Disables an account (admins only, not their own): it can no longer sign
/// in, and its sessions are revoked at once; 409 when already disabled.
#[utoipa::path(
    post, path = "/api/v1/admin/users/{id}/disable", tag = "accounts",
    params(("id" = String, Path)),
    security(("bearer" = [])),
    responses((status = 200, body = UserView), (status = 401, body = techtrade_web::error::Problem),
        (status = 403, body = techtrade_web::error::Problem), (status = 404, body = techtrade_web::error::Problem),
        (status = 409, body = techtrade_web::error::Problem))
)]
async fn disable_user(
    State(state): State<AppState>,
    user: CurrentUser,
    RequestId(request_id): RequestId,
    Path(id): Path<String>,
) -> ApiResult<Json<UserView>> {
    Ok(Json(users::disable_user(&state.db, &user, request_id, id).await?.into()))
}
