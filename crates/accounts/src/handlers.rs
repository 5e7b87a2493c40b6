//! The accounts routes (API.md, "Accounts").

use axum::extract::{Extension, State};
use axum::http::{HeaderMap, StatusCode, header};
use chrono::TimeDelta;
use serde::{Deserialize, Serialize};
use techtrade_db::accounts::{self, Organization, Session};
use techtrade_db::{audit, outbox};
use techtrade_domain::{CreditCode, Email, OrganizationKind, RegionCode, Role, Violations, ids, text};
use techtrade_web::{ApiError, ApiResult, AppState, ClientIp, CurrentUser, ErrorCode, Json, Path, RequestId};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::password::PasswordHasher;
use crate::rate_limit;
use crate::users::{self, NewUser, ValidUser};
use crate::views::{LoginResponse, MeResponse, MembersResponse, OrganizationView, RegistrationResponse, UserView};

/// The accounts routes. They need a [`PasswordHasher`] in the request
/// extensions (`Extension(hasher)` on the application).
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(register_organization))
        .routes(routes!(get_organization))
        .routes(routes!(list_members, add_member))
        .routes(routes!(login))
        .routes(routes!(logout))
        .routes(routes!(get_me))
        .routes(routes!(create_user, list_staff))
        .routes(routes!(disable_user))
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

#[derive(Debug, Deserialize, ToSchema)]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
}

/// Signs in; the token goes in `Authorization: Bearer <token>`.
#[utoipa::path(
    post, path = "/api/v1/auth/login", tag = "accounts",
    request_body = LoginRequest,
    responses(
        (status = 200, body = LoginResponse),
        (status = 401, description = "wrong e-mail or password", body = techtrade_web::error::Problem),
        (status = 423, description = "the account is locked after too many failed sign-ins", body = techtrade_web::error::Problem),
        (status = 429, description = "too many failed logins from this address", body = techtrade_web::error::Problem),
    )
)]
async fn login(
    State(state): State<AppState>,
    Extension(hasher): Extension<PasswordHasher>,
    ClientIp(ip): ClientIp,
    RequestId(request_id): RequestId,
    headers: HeaderMap,
    Json(request): Json<LoginRequest>,
) -> ApiResult<Json<LoginResponse>> {
    let user_agent = headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok());
    let client = Client { ip: &ip, user_agent, request_id };
    Ok(Json(sign_in(&state, &hasher, request, client).await?))
}

/// Who is asking, as a session records it.
pub struct Client<'a> {
    pub ip: &'a str,
    pub user_agent: Option<&'a str>,
    pub request_id: Option<String>,
}

/// Checks the password under the login limits and opens a session: the
/// token is returned once and only its hash is kept.
pub async fn sign_in(
    state: &AppState,
    hasher: &PasswordHasher,
    request: LoginRequest,
    client: Client<'_>,
) -> ApiResult<LoginResponse> {
    let Client { ip, user_agent, request_id } = client;
    let ip = ip.to_string();
    // A malformed address cannot belong to an account; it still counts as a
    // failure so that the limiter sees it.
    let email =
        Email::parse(&request.email).map(|e| e.to_string()).unwrap_or_else(|_| request.email.trim().to_lowercase());
    let settings = state.settings.auth.clone();
    let (attempt_id, user) = {
        let (email, ip, settings) = (email.clone(), ip.clone(), settings.clone());
        let request_id = request_id.clone();
        state
            .db
            .run(move |conn| {
                let user = accounts::find_user_by_email(conn, &email)?;
                match rate_limit::reserve(conn, &settings, &email, &ip, techtrade_db::now()) {
                    Ok(attempt_id) => Ok((attempt_id, user)),
                    Err(refused) => {
                        // An attempt on a locked account is a failed
                        // sign-in too; one refused by the address limit
                        // never reached an account.
                        if refused.code() == ErrorCode::AccountLocked {
                            let (subject_type, subject_id) = match &user {
                                Some(user) => ("user", user.id.as_str()),
                                None => ("login", email.as_str()),
                            };
                            audit::append(
                                conn,
                                audit::AuditEntry {
                                    actor_user_id: user.as_ref().map(|u| u.id.as_str()),
                                    action: "session.denied",
                                    subject_type,
                                    subject_id,
                                    after: Some(serde_json::json!({"email": email, "ip": ip, "reason": "locked"})),
                                    request_id: request_id.as_deref(),
                                    outcome: audit::Outcome::Denied,
                                    ..Default::default()
                                },
                            )?;
                        }
                        Err(refused)
                    }
                }
            })
            .await?
    };
    let stored = user.as_ref().filter(|u| u.disabled_at.is_none()).map(|u| u.password_hash.clone());
    let password = request.password;
    let hasher = hasher.clone();
    let verified = tokio::task::spawn_blocking(move || hasher.verify(&password, stored.as_deref()))
        .await
        .map_err(ApiError::internal)?;
    let user = match user {
        Some(user) if verified => user,
        // The reserved attempt stays a failure.
        found => {
            let user_id = found.map(|u| u.id);
            wrong_password(state, email, ip, user_id, attempt_id, request_id).await?;
            return Err(ApiError::new(ErrorCode::InvalidCredentials, "wrong e-mail or password"));
        }
    };
    let token = users::random_token()?;
    let ttl = TimeDelta::from_std(settings.token_ttl).map_err(ApiError::internal)?;
    let user_agent = user_agent.map(|s| s.chars().take(256).collect());
    let now = techtrade_db::now();
    let session = Session {
        id: ids::new_id(),
        user_id: user.id.clone(),
        token_hash: techtrade_web::auth::hash_token(&token),
        ip: Some(ip.clone()),
        user_agent,
        created_at: now,
        expires_at: now + ttl,
        revoked_at: None,
        last_seen_at: None,
    };
    let expires_at = session.expires_at.and_utc();
    let user = state
        .db
        .run(move |conn| {
            techtrade_db::write_transaction(conn, |conn| {
                rate_limit::succeeded(conn, &settings, attempt_id, now)?;
                accounts::insert_session(conn, &session)?;
                audit::append(
                    conn,
                    audit::AuditEntry {
                        actor_user_id: Some(&user.id),
                        action: "session.create",
                        subject_type: "session",
                        subject_id: &session.id,
                        before: None,
                        after: Some(
                            serde_json::json!({"user_id": user.id, "ip": session.ip, "expires_at": expires_at}),
                        ),
                        request_id: request_id.as_deref(),
                        ..Default::default()
                    },
                )?;
                Ok::<_, ApiError>(user)
            })
        })
        .await?;
    Ok(LoginResponse { token, expires_at, user: user.into() })
}

/// A wrong password, at sign-in or in a password change (its reserved
/// attempt stays a failure): a `session.denied` entry in the audit log and,
/// when it locks the account, a `user.lock` entry and `account.locked` in
/// the outbox, which e-mails the owner. An address no account has is
/// audited under it, and locks the same way, without an e-mail.
pub(crate) async fn wrong_password(
    state: &AppState,
    email: String,
    ip: String,
    user_id: Option<String>,
    attempt_id: i64,
    request_id: Option<String>,
) -> ApiResult<()> {
    let settings = state.settings.auth.clone();
    state
        .db
        .run(move |conn| {
            techtrade_db::write_transaction(conn, |conn| {
                let now = techtrade_db::now();
                let locked = rate_limit::failed(conn, &settings, &email, &ip, attempt_id, now)?;
                let (subject_type, subject_id) = match &user_id {
                    Some(id) => ("user", id.as_str()),
                    None => ("login", email.as_str()),
                };
                audit::append(
                    conn,
                    audit::AuditEntry {
                        actor_user_id: user_id.as_deref(),
                        action: "session.denied",
                        subject_type,
                        subject_id,
                        before: None,
                        after: Some(serde_json::json!({"email": email, "ip": ip, "reason": "wrong_password"})),
                        request_id: request_id.as_deref(),
                        outcome: audit::Outcome::Denied,
                        ..Default::default()
                    },
                )?;
                if let (Some(until), Some(user_id)) = (locked, &user_id) {
                    let until_utc = until.and_utc();
                    audit::append(
                        conn,
                        audit::AuditEntry {
                            actor_user_id: None,
                            action: "user.lock",
                            subject_type: "user",
                            subject_id: user_id,
                            before: None,
                            after: Some(serde_json::json!({"until": until_utc})),
                            request_id: request_id.as_deref(),
                            outcome: audit::Outcome::Denied,
                            ..Default::default()
                        },
                    )?;
                    let local = until_utc.with_timezone(&techtrade_db::market_offset());
                    let payload = serde_json::json!({
                        "user_id": user_id,
                        "until": until_utc,
                        "until_local": local.format("%Y-%m-%d %H:%M").to_string(),
                        "minutes": settings.lockout.as_secs() / 60,
                    });
                    outbox::emit(conn, "account.locked", "user", user_id, &payload)?;
                }
                Ok::<_, ApiError>(())
            })
        })
        .await
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
