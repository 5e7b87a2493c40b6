//! Rows and queries of the accounts service: organisations, users, sessions
//! and login attempts.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::connection::AnyConnection;
use crate::schema::{
    login_attempts, organizations, password_resets, registration_attempts, second_factors, sessions, users,
};

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = organizations, check_for_backend(crate::MultiBackend))]
pub struct Organization {
    pub id: String,
    pub name: String,
    pub kind: String,
    pub credit_code: String,
    pub region_code: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub version: i64,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = users, check_for_backend(crate::MultiBackend))]
pub struct User {
    pub id: String,
    pub organization_id: Option<String>,
    pub email: String,
    pub name: String,
    pub password_hash: String,
    pub role: String,
    pub locale: String,
    pub disabled_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub version: i64,
    /// `admin` or `member` of its organisation (members only).
    pub organization_role: String,
    /// When its owner last set the password; `None`: not since the
    /// account was made (`created_at` counts).
    pub password_changed_at: Option<NaiveDateTime>,
    /// Someone else set the password: its owner changes it before anything else.
    pub must_change_password: bool,
}

impl User {
    /// When the password in use was set.
    pub fn password_set_at(&self) -> NaiveDateTime {
        self.password_changed_at.unwrap_or(self.created_at)
    }
}

/// A password reset sent by e-mail: the token's hash, its expiry, whether used.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = password_resets, check_for_backend(crate::MultiBackend))]
pub struct PasswordReset {
    pub id: String,
    pub user_id: String,
    pub token_hash: String,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub used_at: Option<NaiveDateTime>,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = sessions, check_for_backend(crate::MultiBackend))]
pub struct Session {
    pub id: String,
    pub user_id: String,
    pub token_hash: String,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub revoked_at: Option<NaiveDateTime>,
    /// When it was last used, to the minute; none until then.
    pub last_seen_at: Option<NaiveDateTime>,
}

impl Session {
    /// When it was last used, or opened.
    pub fn last_active(&self) -> NaiveDateTime {
        self.last_seen_at.unwrap_or(self.created_at)
    }
}

pub fn insert_organization(conn: &mut AnyConnection, organization: &Organization) -> QueryResult<()> {
    diesel::insert_into(organizations::table).values(organization).execute(conn).map(drop)
}

pub fn insert_user(conn: &mut AnyConnection, user: &User) -> QueryResult<()> {
    diesel::insert_into(users::table).values(user).execute(conn).map(drop)
}

pub fn insert_session(conn: &mut AnyConnection, session: &Session) -> QueryResult<()> {
    diesel::insert_into(sessions::table).values(session).execute(conn).map(drop)
}

pub fn find_organization(conn: &mut AnyConnection, id: &str) -> QueryResult<Option<Organization>> {
    organizations::table.find(id).select(Organization::as_select()).get_result(conn).optional()
}

pub fn credit_code_taken(conn: &mut AnyConnection, credit_code: &str) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(organizations::table.filter(organizations::credit_code.eq(credit_code))))
        .get_result(conn)
}

pub fn email_taken(conn: &mut AnyConnection, email: &str) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(users::table.filter(users::email.eq(email)))).get_result(conn)
}

pub fn find_user(conn: &mut AnyConnection, id: &str) -> QueryResult<Option<User>> {
    users::table.find(id).select(User::as_select()).get_result(conn).optional()
}

/// The users of `ids` (those that exist), in no order.
pub fn users_by_ids(conn: &mut AnyConnection, ids: &[String]) -> QueryResult<Vec<User>> {
    users::table.filter(users::id.eq_any(ids)).select(User::as_select()).load(conn)
}

pub fn find_user_by_email(conn: &mut AnyConnection, email: &str) -> QueryResult<Option<User>> {
    users::table.filter(users::email.eq(email)).select(User::as_select()).get_result(conn).optional()
}

/// How many user accounts there are (every role).
pub fn count_users(conn: &mut AnyConnection) -> QueryResult<i64> {
    users::table.count().get_result(conn)
}

/// How many organisations there are.
pub fn count_organizations(conn: &mut AnyConnection) -> QueryResult<i64> {
    organizations::table.count().get_result(conn)
}

/// The members of an organisation, oldest first.
pub fn organization_members(conn: &mut AnyConnection, organization_id: &str) -> QueryResult<Vec<User>> {
    users::table
        .filter(users::organization_id.eq(organization_id))
        .order(users::created_at.asc())
        .select(User::as_select())
        .load(conn)
}

/// Every official (role `official`), oldest first: the reviewers' queue.
pub fn officials(conn: &mut AnyConnection) -> QueryResult<Vec<User>> {
    users::table.filter(users::role.eq("official")).order(users::created_at.asc()).select(User::as_select()).load(conn)
}

/// The users of the given roles, oldest first: the administrator's list of staff.
pub fn users_with_roles(conn: &mut AnyConnection, roles: &[&str]) -> QueryResult<Vec<User>> {
    users::table
        .filter(users::role.eq_any(roles))
        .order((users::created_at.asc(), users::id.asc()))
        .select(User::as_select())
        .load(conn)
}

/// Disables a user as of `now`; `false` when the user was disabled already.
pub fn disable_user(conn: &mut AnyConnection, user_id: &str, now: NaiveDateTime) -> QueryResult<bool> {
    diesel::update(users::table.find(user_id))
        .filter(users::disabled_at.is_null())
        .set((users::disabled_at.eq(now), users::updated_at.eq(now), users::version.eq(users::version + 1)))
        .execute(conn)
        .map(|n| n == 1)
}

/// Revokes every live session of a user; how many there were.
pub fn revoke_sessions_of(conn: &mut AnyConnection, user_id: &str, now: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(sessions::table.filter(sessions::user_id.eq(user_id)).filter(sessions::revoked_at.is_null()))
        .set(sessions::revoked_at.eq(now))
        .execute(conn)
}

/// The session a token hash belongs to, with its user, when it is neither
/// revoked nor expired at `now`.
pub fn find_live_session(
    conn: &mut AnyConnection,
    token_hash: &str,
    now: NaiveDateTime,
) -> QueryResult<Option<LiveSession>> {
    let found = sessions::table
        .inner_join(users::table)
        .left_join(second_factors::table.on(second_factors::user_id.eq(users::id)))
        .filter(sessions::token_hash.eq(token_hash))
        .filter(sessions::revoked_at.is_null())
        .filter(sessions::expires_at.gt(now))
        .select((Session::as_select(), User::as_select(), second_factors::confirmed_at.nullable()))
        .get_result::<(Session, User, Option<NaiveDateTime>)>(conn)
        .optional()?;
    Ok(found.map(|(session, user, confirmed)| LiveSession { session, user, second_factor: confirmed.is_some() }))
}

/// A live session with its user.
#[derive(Debug, Clone)]
pub struct LiveSession {
    pub session: Session,
    pub user: User,
    /// Whether the user has a confirmed second factor.
    pub second_factor: bool,
}

/// Revokes a session; `false` when it was already revoked.
/// Serialises changes to an organisation's members until the transaction
/// ends (the row is bumped: locked on PostgreSQL; a SQLite write
/// transaction is exclusive already). False when there is no such
/// organisation.
pub fn lock_organization(conn: &mut AnyConnection, id: &str) -> QueryResult<bool> {
    diesel::update(organizations::table.find(id))
        .set(organizations::version.eq(organizations::version + 1))
        .execute(conn)
        .map(|n| n == 1)
}

/// Whether the organisation has any member yet.
pub fn has_members(conn: &mut AnyConnection, organization_id: &str) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        users::table.filter(users::organization_id.eq(organization_id)).filter(users::role.eq("member")),
    ))
    .get_result(conn)
}

/// The organisation's administrators who can act: members, not disabled.
pub fn active_administrators(conn: &mut AnyConnection, organization_id: &str) -> QueryResult<i64> {
    users::table
        .filter(users::organization_id.eq(organization_id))
        .filter(users::role.eq("member"))
        .filter(users::organization_role.eq("admin"))
        .filter(users::disabled_at.is_null())
        .count()
        .get_result(conn)
}

pub fn set_organization_role(conn: &mut AnyConnection, id: &str, role: &str, now: NaiveDateTime) -> QueryResult<()> {
    diesel::update(users::table.find(id))
        .set((users::organization_role.eq(role), users::updated_at.eq(now), users::version.eq(users::version + 1)))
        .execute(conn)
        .map(drop)
}

/// Lets a disabled account sign in again; false when it was not disabled.
pub fn enable_user(conn: &mut AnyConnection, id: &str, now: NaiveDateTime) -> QueryResult<bool> {
    diesel::update(users::table.find(id))
        .filter(users::disabled_at.is_not_null())
        .set((
            users::disabled_at.eq(None::<NaiveDateTime>),
            users::updated_at.eq(now),
            users::version.eq(users::version + 1),
        ))
        .execute(conn)
        .map(|n| n == 1)
}

/// Takes a (disabled) member out of its organisation: the account stays,
/// for the records it signed, but belongs to no one and administers nothing.
pub fn detach_user(conn: &mut AnyConnection, id: &str, now: NaiveDateTime) -> QueryResult<()> {
    diesel::update(users::table.find(id))
        .set((
            users::organization_id.eq(None::<String>),
            users::organization_role.eq("member"),
            users::updated_at.eq(now),
            users::version.eq(users::version + 1),
        ))
        .execute(conn)
        .map(drop)
}

/// Records that a session was used at `now`.
pub fn touch_session(conn: &mut AnyConnection, session_id: &str, now: NaiveDateTime) -> QueryResult<()> {
    diesel::update(sessions::table.find(session_id)).set(sessions::last_seen_at.eq(now)).execute(conn).map(drop)
}

/// A user's sessions that are live at `now`: not revoked, not expired, and
/// used (or opened) since `idle_since`; the newest first.
pub fn live_sessions_of(
    conn: &mut AnyConnection,
    user_id: &str,
    now: NaiveDateTime,
    idle_since: NaiveDateTime,
) -> QueryResult<Vec<Session>> {
    sessions::table
        .filter(sessions::user_id.eq(user_id))
        .filter(sessions::revoked_at.is_null())
        .filter(sessions::expires_at.gt(now))
        .filter(
            sessions::last_seen_at
                .ge(idle_since)
                .or(sessions::last_seen_at.is_null().and(sessions::created_at.ge(idle_since))),
        )
        .order((sessions::created_at.desc(), sessions::id.desc()))
        .select(Session::as_select())
        .load(conn)
}

/// Revokes session `session_id` if it is `user_id`'s and not yet revoked.
pub fn revoke_session_of(
    conn: &mut AnyConnection,
    user_id: &str,
    session_id: &str,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    diesel::update(sessions::table.find(session_id))
        .filter(sessions::user_id.eq(user_id))
        .filter(sessions::revoked_at.is_null())
        .set(sessions::revoked_at.eq(now))
        .execute(conn)
        .map(|n| n == 1)
}

/// Revokes every session of `user_id` but `keep`; how many.
pub fn revoke_other_sessions(
    conn: &mut AnyConnection,
    user_id: &str,
    keep: &str,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(
        sessions::table
            .filter(sessions::user_id.eq(user_id))
            .filter(sessions::id.ne(keep))
            .filter(sessions::revoked_at.is_null()),
    )
    .set(sessions::revoked_at.eq(now))
    .execute(conn)
}

pub fn revoke_session(conn: &mut AnyConnection, session_id: &str, now: NaiveDateTime) -> QueryResult<bool> {
    diesel::update(sessions::table.find(session_id))
        .filter(sessions::revoked_at.is_null())
        .set(sessions::revoked_at.eq(now))
        .execute(conn)
        .map(|n| n == 1)
}

/// Records an attempt, counted as failed until [`login_attempt_succeeded`]
/// says otherwise; returns its id.
pub fn record_login_attempt(conn: &mut AnyConnection, email: &str, ip: &str, at: NaiveDateTime) -> QueryResult<i64> {
    diesel::insert_into(login_attempts::table)
        .values((
            login_attempts::email.eq(email),
            login_attempts::ip.eq(ip),
            login_attempts::succeeded.eq(false),
            login_attempts::attempted_at.eq(at),
        ))
        .returning(login_attempts::id)
        .get_result(conn)
}

/// The attempt `id` turned out to have the right password.
pub fn login_attempt_succeeded(conn: &mut AnyConnection, id: i64) -> QueryResult<()> {
    diesel::update(login_attempts::table.find(id)).set(login_attempts::succeeded.eq(true)).execute(conn).map(drop)
}

/// Serialises the limiter's count-then-record for one account and one
/// address until the transaction ends (PostgreSQL advisory locks; a SQLite
/// write transaction is exclusive already). Always the account first,
/// then the address, so that two attempts cannot wait on each other.
pub fn lock_login_keys(conn: &mut AnyConnection, email: &str, ip: &str) -> QueryResult<()> {
    if let AnyConnection::Postgresql(pg) = conn {
        use diesel::sql_types::Text;
        diesel::sql_query("SELECT pg_advisory_xact_lock(hashtext('login-account:' || $1))")
            .bind::<Text, _>(email)
            .execute(pg)?;
        diesel::sql_query("SELECT pg_advisory_xact_lock(hashtext('login-address:' || $1))")
            .bind::<Text, _>(ip)
            .execute(pg)?;
    }
    Ok(())
}

/// When an account's failed logins since `since` were attempted, in the
/// order they were reserved; only up to attempt `up_to` when given.
pub fn failed_login_times(
    conn: &mut AnyConnection,
    email: &str,
    since: NaiveDateTime,
    up_to: Option<i64>,
) -> QueryResult<Vec<NaiveDateTime>> {
    let mut query = login_attempts::table
        .filter(login_attempts::email.eq(email))
        .filter(login_attempts::succeeded.eq(false))
        .filter(login_attempts::attempted_at.gt(since))
        .into_boxed();
    if let Some(id) = up_to {
        query = query.filter(login_attempts::id.le(id));
    }
    query.order(login_attempts::id.asc()).select(login_attempts::attempted_at).load(conn)
}

/// Failed logins from an address since `since`, whatever the account.
pub fn failed_logins_from_ip(conn: &mut AnyConnection, ip: &str, since: NaiveDateTime) -> QueryResult<i64> {
    login_attempts::table
        .filter(login_attempts::ip.eq(ip))
        .filter(login_attempts::succeeded.eq(false))
        .filter(login_attempts::attempted_at.gt(since))
        .count()
        .get_result(conn)
}

/// Forgets attempts older than `before`; the limiter only looks back one window.
/// Forgets the failed sign-ins of `email`, which ends its lock-out; how many there were.
pub fn clear_login_failures(conn: &mut AnyConnection, email: &str) -> QueryResult<usize> {
    diesel::delete(
        login_attempts::table.filter(login_attempts::email.eq(email)).filter(login_attempts::succeeded.eq(false)),
    )
    .execute(conn)
}

/// Sets user `user_id`'s password hash: by its owner (`must_change` false,
/// and the time is its new age), or by someone else (`must_change` true).
pub fn set_password(
    conn: &mut AnyConnection,
    user_id: &str,
    password_hash: &str,
    must_change: bool,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    let changed_at = (!must_change).then_some(now);
    diesel::update(users::table.find(user_id))
        .set((
            users::password_hash.eq(password_hash),
            users::must_change_password.eq(must_change),
            users::password_changed_at.eq(changed_at),
            users::updated_at.eq(now),
            users::version.eq(users::version + 1),
        ))
        .execute(conn)
        .map(|n| n == 1)
}

pub fn insert_password_reset(conn: &mut AnyConnection, reset: &PasswordReset) -> QueryResult<()> {
    diesel::insert_into(password_resets::table).values(reset).execute(conn).map(|_| ())
}

/// How many resets were sent to `user_id` since `since`.
pub fn resets_since(conn: &mut AnyConnection, user_id: &str, since: NaiveDateTime) -> QueryResult<i64> {
    password_resets::table
        .filter(password_resets::user_id.eq(user_id))
        .filter(password_resets::created_at.gt(since))
        .count()
        .get_result(conn)
}

pub fn find_password_reset(conn: &mut AnyConnection, id: &str) -> QueryResult<Option<PasswordReset>> {
    password_resets::table.find(id).select(PasswordReset::as_select()).get_result(conn).optional()
}

pub fn find_password_reset_by_hash(conn: &mut AnyConnection, token_hash: &str) -> QueryResult<Option<PasswordReset>> {
    password_resets::table
        .filter(password_resets::token_hash.eq(token_hash))
        .select(PasswordReset::as_select())
        .first(conn)
        .optional()
}

/// Marks reset `id` used, unless it was already: whether this call used it
/// (of two confirmations at once, one wins).
pub fn use_password_reset(conn: &mut AnyConnection, id: &str, now: NaiveDateTime) -> QueryResult<bool> {
    diesel::update(password_resets::table.find(id).filter(password_resets::used_at.is_null()))
        .set(password_resets::used_at.eq(now))
        .execute(conn)
        .map(|n| n == 1)
}

/// Gives user `user_id` another role.
pub fn set_role(conn: &mut AnyConnection, user_id: &str, role: &str, now: NaiveDateTime) -> QueryResult<bool> {
    diesel::update(users::table.find(user_id))
        .set((users::role.eq(role), users::updated_at.eq(now), users::version.eq(users::version + 1)))
        .execute(conn)
        .map(|n| n == 1)
}

pub fn prune_login_attempts(conn: &mut AnyConnection, before: NaiveDateTime) -> QueryResult<usize> {
    diesel::delete(login_attempts::table.filter(login_attempts::attempted_at.lt(before))).execute(conn)
}

/// Registration attempts from `ip` after `since`.
pub fn registrations_from_ip(conn: &mut AnyConnection, ip: &str, since: NaiveDateTime) -> QueryResult<i64> {
    registration_attempts::table
        .filter(registration_attempts::ip.eq(ip))
        .filter(registration_attempts::attempted_at.gt(since))
        .count()
        .get_result(conn)
}

pub fn record_registration_attempt(conn: &mut AnyConnection, ip: &str, at: NaiveDateTime) -> QueryResult<()> {
    diesel::insert_into(registration_attempts::table)
        .values((registration_attempts::ip.eq(ip), registration_attempts::attempted_at.eq(at)))
        .execute(conn)
        .map(|_| ())
}

/// Forgets registration attempts older than `before`.
pub fn prune_registration_attempts(conn: &mut AnyConnection, before: NaiveDateTime) -> QueryResult<usize> {
    diesel::delete(registration_attempts::table.filter(registration_attempts::attempted_at.lt(before))).execute(conn)
}
