//! Creating users: shared by registration, adding members, the admin API
//! and `techtrade admin create-user`.

use diesel::result::Error as DieselError;
use techtrade_db::accounts::{self, User};
use techtrade_db::{AnyConnection, audit, outbox};
use techtrade_domain::{Email, OrganizationRole, Role, Violations, ids, text};
use techtrade_web::{ApiError, CurrentUser, ErrorCode};

use crate::password::{self, PasswordHasher};

/// A user to create, as the caller gave it.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub email: String,
    pub password: String,
    pub name: String,
    pub role: Role,
    pub organization_id: Option<String>,
    /// The password was chosen by someone else (an administrator, the
    /// command line): its owner changes it at the first sign-in.
    pub must_change_password: bool,
}

/// A user whose fields are valid and whose password is hashed.
pub(crate) struct ValidUser {
    pub email: Email,
    pub name: String,
    pub password_hash: String,
    pub role: Role,
    pub organization_id: Option<String>,
    pub must_change_password: bool,
}

/// Checks a new user's fields, reporting each bad one under `prefix`
/// (`user.` in registration, empty elsewhere).
pub(crate) fn validate(input: &NewUser, prefix: &str, violations: &mut Violations) -> Option<(Email, String)> {
    let email = violations.check(&format!("{prefix}email"), Email::parse(&input.email));
    let name = violations.check(&format!("{prefix}name"), text::required(&input.name, 100));
    violations.check(&format!("{prefix}password"), password::check_new(&input.password));
    Some((email?, name?))
}

/// Hashes the password off the async runtime (argon2 is deliberately slow).
pub(crate) async fn hash_password(hasher: &PasswordHasher, password: &str) -> Result<String, ApiError> {
    let hasher = hasher.clone();
    let password = password.to_string();
    tokio::task::spawn_blocking(move || hasher.hash(&password))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)
}

/// Inserts the user with its audit entry and outbox event; call inside a
/// write transaction. A taken e-mail is 409 `email_taken`, its field named
/// with `prefix` as in [`validate`].
pub(crate) fn insert(
    conn: &mut AnyConnection,
    user: ValidUser,
    prefix: &str,
    actor_user_id: Option<&str>,
    request_id: Option<&str>,
) -> Result<User, ApiError> {
    let email_taken = || {
        ApiError::new(ErrorCode::EmailTaken, "an account with this e-mail address exists").with_field(
            format!("{prefix}email"),
            "taken",
            "already registered",
        )
    };
    if accounts::email_taken(conn, user.email.as_str())? {
        return Err(email_taken());
    }
    let now = techtrade_db::now();
    // An organisation's first member administers it (the registering user,
    // or a demo organisation's member); those added later are members.
    let organization_role = match (&user.organization_id, user.role) {
        (Some(organization), Role::Member) if !accounts::has_members(conn, organization)? => OrganizationRole::Admin,
        _ => OrganizationRole::Member,
    };
    let row = User {
        id: ids::new_id(),
        organization_id: user.organization_id,
        email: user.email.to_string(),
        name: user.name,
        password_hash: user.password_hash,
        role: user.role.as_str().to_string(),
        locale: "zh-CN".to_string(),
        disabled_at: None,
        created_at: now,
        updated_at: now,
        version: 1,
        organization_role: organization_role.as_str().to_string(),
        password_changed_at: None,
        must_change_password: user.must_change_password,
    };
    accounts::insert_user(conn, &row).map_err(|e| unique_or(e, email_taken))?;
    let public = serde_json::json!({
        "id": row.id, "email": row.email, "name": row.name,
        "role": row.role, "organization_id": row.organization_id, "organization_role": row.organization_role,
    });
    audit::append(
        conn,
        audit::AuditEntry {
            actor_user_id: Some(actor_user_id.unwrap_or(&row.id)),
            action: "user.create",
            subject_type: "user",
            subject_id: &row.id,
            before: None,
            after: Some(public.clone()),
            request_id,
            ..Default::default()
        },
    )?;
    outbox::emit(conn, "user.created", "user", &row.id, &public)?;
    Ok(row)
}

/// A unique violation (a concurrent insert won the race) as `conflict`,
/// anything else as an internal error.
pub(crate) fn unique_or(error: DieselError, conflict: impl FnOnce() -> ApiError) -> ApiError {
    if techtrade_db::is_unique_violation(&error) { conflict() } else { ApiError::from(error) }
}

/// Creates a user outside registration: an official or admin by an admin
/// or the command line, or a member added to an organisation.
pub async fn create_user(
    db: &techtrade_db::Database,
    hasher: &PasswordHasher,
    input: NewUser,
    actor_user_id: Option<String>,
    request_id: Option<String>,
) -> Result<User, ApiError> {
    let mut violations = Violations::new();
    let checked = validate(&input, "", &mut violations);
    match input.role {
        Role::Member if input.organization_id.is_none() => {
            violations.push("organization_id", "required", "a member belongs to an organisation");
        }
        // Security staff act for nobody: an organisation would give them
        // its members' view of its records.
        role if role.is_security_side() && input.organization_id.is_some() => {
            violations.push("organization_id", "not_allowed", "security staff belong to no organisation");
        }
        _ => {}
    }
    let (email, name) = violations.finish(|| checked)?;
    let password_hash = hash_password(hasher, &input.password).await?;
    let user = ValidUser {
        email,
        name,
        password_hash,
        role: input.role,
        organization_id: input.organization_id,
        must_change_password: input.must_change_password,
    };
    db.run(move |conn| {
        techtrade_db::write_transaction(conn, |conn| {
            if let Some(org) = &user.organization_id
                && accounts::find_organization(conn, org)?.is_none()
            {
                return Err(ApiError::invalid_field("organization_id", "unknown", "no such organisation"));
            }
            insert(conn, user, "", actor_user_id.as_deref(), request_id.as_deref())
        })
    })
    .await
}

/// A fresh random token: 256 bits, hex, with a prefix that secret scanners
/// and people recognise.
pub(crate) fn random_token() -> Result<String, ApiError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(ApiError::internal)?;
    Ok(format!("tt_{}", hex::encode(bytes)))
}

/// The staff (every role but members), oldest first; for administrators.
pub async fn staff(db: &techtrade_db::Database, user: &CurrentUser) -> Result<Vec<User>, ApiError> {
    user.require_staff_manager()?;
    db.run(|conn| accounts::users_with_roles(conn, &Role::STAFF.map(Role::as_str)).map_err(ApiError::from)).await
}

/// An administrator disables user `id`: it can no longer sign in, and
/// every session it holds is revoked at once. Not the administrator's own
/// account (nobody would be left to undo it); 409 when already disabled.
pub async fn disable_user(
    db: &techtrade_db::Database,
    user: &CurrentUser,
    request_id: Option<String>,
    id: String,
) -> Result<User, ApiError> {
    user.require_staff_manager()?;
    if id == user.user_id {
        return Err(ApiError::new(ErrorCode::InvalidState, "an administrator may not disable their own account"));
    }
    let actor = user.clone();
    db.run(move |conn| {
        techtrade_db::write_transaction(conn, |conn| {
            let found = accounts::find_user(conn, &id)?.ok_or_else(|| ApiError::not_found("user"))?;
            actor.require_manages(techtrade_web::auth::stored_role(&found)?)?;
            let now = techtrade_db::now();
            if !accounts::disable_user(conn, &id, now)? {
                return Err(ApiError::new(ErrorCode::InvalidState, "this account is disabled already"));
            }
            let revoked = accounts::revoke_sessions_of(conn, &id, now)?;
            audit::append(
                conn,
                audit::AuditEntry {
                    actor_user_id: Some(&actor.user_id),
                    action: "user.disable",
                    subject_type: "user",
                    subject_id: &id,
                    before: Some(serde_json::json!({"disabled_at": null})),
                    after: Some(
                        serde_json::json!({"disabled_at": now, "sessions_revoked": revoked, "role": found.role}),
                    ),
                    request_id: request_id.as_deref(),
                    ..Default::default()
                },
            )?;
            accounts::find_user(conn, &id)?.ok_or_else(|| ApiError::not_found("user"))
        })
    })
    .await
}
