//! `Idempotency-Key`: the first response to a keyed request is stored and
//! replayed to every retry with the same key and the same request.
//!
//! A key is claimed by inserting its row inside the transaction of the
//! request's own writes, so the claim, the effect and the stored response
//! commit together: a retry arriving while the first request runs waits on
//! the row (PostgreSQL) or on the write lock (SQLite), then replays. A
//! request that must call out (Stripe) between two transactions leaves the
//! row without a response in between; the body it stores meanwhile tells a
//! retry how to resume.

use diesel::prelude::*;

use crate::connection::AnyConnection;
use crate::schema::idempotency_keys;

/// What claiming a key found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// The key is new: go ahead, then [`finish`].
    New,
    /// The request was already answered: send this again.
    Replay { status: u16, body: String },
    /// The same key came with a different request.
    Mismatch,
    /// A request with this key started but has not finished; `note` is
    /// what it stored to resume from, if anything.
    Unfinished { note: Option<String> },
}

/// Claims `key` for `user_id`'s request with `fingerprint` (a digest of
/// method, path and body). Call it inside the request's write transaction.
pub fn claim(conn: &mut AnyConnection, user_id: &str, key: &str, fingerprint: &str) -> QueryResult<Claim> {
    // A savepoint: on PostgreSQL a failed insert would otherwise abort the
    // caller's transaction.
    let inserted = crate::write_transaction(conn, |conn| {
        diesel::insert_into(idempotency_keys::table)
            .values((
                idempotency_keys::user_id.eq(user_id),
                idempotency_keys::idempotency_key.eq(key),
                idempotency_keys::request_fingerprint.eq(fingerprint),
                idempotency_keys::created_at.eq(crate::now()),
            ))
            .execute(conn)
    });
    match inserted {
        Ok(_) => return Ok(Claim::New),
        Err(error) if crate::is_unique_violation(&error) => {}
        Err(error) => return Err(error),
    }
    let (stored_fingerprint, status, body): (String, Option<i32>, Option<String>) = idempotency_keys::table
        .find((user_id, key))
        .select((idempotency_keys::request_fingerprint, idempotency_keys::status_code, idempotency_keys::response_body))
        .get_result(conn)?;
    Ok(match (stored_fingerprint == fingerprint, status) {
        (false, _) => Claim::Mismatch,
        (true, Some(status)) => {
            Claim::Replay { status: u16::try_from(status).unwrap_or(500), body: body.unwrap_or_default() }
        }
        (true, None) => Claim::Unfinished { note: body },
    })
}

/// Stores what a request in progress needs to resume (no status yet).
pub fn note(conn: &mut AnyConnection, user_id: &str, key: &str, note: &str) -> QueryResult<()> {
    diesel::update(idempotency_keys::table.find((user_id, key)))
        .set(idempotency_keys::response_body.eq(note))
        .execute(conn)
        .map(drop)
}

/// Stores the response to replay.
pub fn finish(conn: &mut AnyConnection, user_id: &str, key: &str, status: u16, body: &str) -> QueryResult<()> {
    diesel::update(idempotency_keys::table.find((user_id, key)))
        .set((idempotency_keys::status_code.eq(i32::from(status)), idempotency_keys::response_body.eq(body)))
        .execute(conn)
        .map(drop)
}

/// Forgets a key whose request failed in a way a retry should re-attempt
/// (the provider was unreachable): the retry then starts afresh.
pub fn release(conn: &mut AnyConnection, user_id: &str, key: &str) -> QueryResult<()> {
    diesel::delete(idempotency_keys::table.find((user_id, key))).execute(conn).map(drop)
}
