//! Rows and queries of the second factor: a user's TOTP secret (sealed),
//! their recovery codes (hashed) and the login challenges a right password
//! earns when a second factor is enrolled.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::connection::AnyConnection;
use crate::schema::{login_challenges, recovery_codes, second_factors};

/// A user's TOTP secret; it counts once `confirmed_at` is set.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = second_factors, check_for_backend(crate::MultiBackend))]
pub struct SecondFactor {
    pub user_id: String,
    /// The secret sealed under a key derived from the server's secret
    /// (hex of nonce and ciphertext); the accounts service opens it.
    pub sealed_secret: String,
    pub created_at: NaiveDateTime,
    pub confirmed_at: Option<NaiveDateTime>,
    /// The time step of the last code accepted: no code counts twice.
    pub last_step: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = login_challenges, check_for_backend(crate::MultiBackend))]
pub struct LoginChallenge {
    pub id: String,
    pub user_id: String,
    pub token_hash: String,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub used_at: Option<NaiveDateTime>,
}

pub fn find(conn: &mut AnyConnection, user_id: &str) -> QueryResult<Option<SecondFactor>> {
    second_factors::table.find(user_id).select(SecondFactor::as_select()).get_result(conn).optional()
}

/// Whether `user_id` has a confirmed second factor.
pub fn is_enrolled(conn: &mut AnyConnection, user_id: &str) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        second_factors::table
            .filter(second_factors::user_id.eq(user_id))
            .filter(second_factors::confirmed_at.is_not_null()),
    ))
    .get_result(conn)
}

/// Starts an enrolment: a new unconfirmed secret in place of any earlier
/// unconfirmed one. False when a confirmed factor is in place (nothing
/// changes then).
pub fn start_enrolment(conn: &mut AnyConnection, factor: &SecondFactor) -> QueryResult<bool> {
    if find(conn, &factor.user_id)?.is_some_and(|f| f.confirmed_at.is_some()) {
        return Ok(false);
    }
    diesel::delete(second_factors::table.find(&factor.user_id)).execute(conn)?;
    diesel::insert_into(second_factors::table).values(factor).execute(conn)?;
    Ok(true)
}

/// Confirms the pending factor of `user_id` with the code of `step`.
pub fn confirm(conn: &mut AnyConnection, user_id: &str, step: i64, now: NaiveDateTime) -> QueryResult<bool> {
    diesel::update(second_factors::table.find(user_id).filter(second_factors::confirmed_at.is_null()))
        .set((second_factors::confirmed_at.eq(now), second_factors::last_step.eq(step)))
        .execute(conn)
        .map(|n| n == 1)
}

/// Records that the code of `step` was used, unless a code of that step or
/// a later one was already: whether this call got it (of two sign-ins with
/// one code at once, one wins).
pub fn use_step(conn: &mut AnyConnection, user_id: &str, step: i64) -> QueryResult<bool> {
    diesel::update(
        second_factors::table
            .find(user_id)
            .filter(second_factors::confirmed_at.is_not_null())
            .filter(second_factors::last_step.is_null().or(second_factors::last_step.lt(step))),
    )
    .set(second_factors::last_step.eq(step))
    .execute(conn)
    .map(|n| n == 1)
}

/// Removes the second factor of `user_id` and its recovery codes: whether
/// there was one.
pub fn remove(conn: &mut AnyConnection, user_id: &str) -> QueryResult<bool> {
    diesel::delete(recovery_codes::table.filter(recovery_codes::user_id.eq(user_id))).execute(conn)?;
    diesel::delete(second_factors::table.find(user_id)).execute(conn).map(|n| n == 1)
}

/// Replaces the recovery codes of `user_id` with these hashes.
pub fn replace_recovery_codes(
    conn: &mut AnyConnection,
    user_id: &str,
    code_hashes: &[String],
    now: NaiveDateTime,
) -> QueryResult<()> {
    diesel::delete(recovery_codes::table.filter(recovery_codes::user_id.eq(user_id))).execute(conn)?;
    // One row at a time: the two-backend connection has no batch insert.
    for hash in code_hashes {
        diesel::insert_into(recovery_codes::table)
            .values((
                recovery_codes::user_id.eq(user_id),
                recovery_codes::code_hash.eq(hash),
                recovery_codes::created_at.eq(now),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// Uses the recovery code with this hash, if `user_id` has it unused:
/// whether it was.
pub fn use_recovery_code(
    conn: &mut AnyConnection,
    user_id: &str,
    code_hash: &str,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    diesel::update(recovery_codes::table.find((user_id, code_hash)).filter(recovery_codes::used_at.is_null()))
        .set(recovery_codes::used_at.eq(now))
        .execute(conn)
        .map(|n| n == 1)
}

/// How many recovery codes `user_id` has left.
pub fn recovery_codes_left(conn: &mut AnyConnection, user_id: &str) -> QueryResult<i64> {
    recovery_codes::table
        .filter(recovery_codes::user_id.eq(user_id))
        .filter(recovery_codes::used_at.is_null())
        .count()
        .get_result(conn)
}

/// A new challenge; challenges that expired before `now` are forgotten.
pub fn insert_challenge(conn: &mut AnyConnection, challenge: &LoginChallenge) -> QueryResult<()> {
    diesel::delete(login_challenges::table.filter(login_challenges::expires_at.lt(challenge.created_at)))
        .execute(conn)?;
    diesel::insert_into(login_challenges::table).values(challenge).execute(conn).map(|_| ())
}

/// The unused, unexpired challenge with this token hash.
pub fn find_live_challenge(
    conn: &mut AnyConnection,
    token_hash: &str,
    now: NaiveDateTime,
) -> QueryResult<Option<LoginChallenge>> {
    login_challenges::table
        .filter(login_challenges::token_hash.eq(token_hash))
        .filter(login_challenges::used_at.is_null())
        .filter(login_challenges::expires_at.gt(now))
        .select(LoginChallenge::as_select())
        .first(conn)
        .optional()
}

/// Marks challenge `id` used, unless it was: whether this call used it.
pub fn use_challenge(conn: &mut AnyConnection, id: &str, now: NaiveDateTime) -> QueryResult<bool> {
    diesel::update(login_challenges::table.find(id).filter(login_challenges::used_at.is_null()))
        .set(login_challenges::used_at.eq(now))
        .execute(conn)
        .map(|n| n == 1)
}
