//! The append-only, hash-chained audit log: who did what, when, with the
//! state before and after.
//!
//! Each row's hash covers its fields and the previous row's hash, so editing
//! or deleting a row breaks every hash after it ([`verify`] finds where).
//! Appenders serialise on the single `audit_chain` row: its `UPDATE` takes
//! the row lock on PostgreSQL (a waiting appender then sees the new head),
//! and SQLite write transactions are exclusive anyway. Both databases also
//! refuse UPDATE and DELETE on `audit_log` by trigger.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::connection::AnyConnection;
use crate::schema::{audit_chain, audit_log};

/// What happened, as the caller describes it.
#[derive(Debug, Clone, Default)]
pub struct AuditEntry<'a> {
    /// The acting user; `None` for the system itself (workers, start-up).
    pub actor_user_id: Option<&'a str>,
    /// `verb` or `noun.verb`, e.g. `organization.register`, `session.revoke`.
    pub action: &'a str,
    pub subject_type: &'a str,
    pub subject_id: &'a str,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
    pub request_id: Option<&'a str>,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Serialize)]
#[diesel(table_name = audit_log, check_for_backend(crate::MultiBackend))]
pub struct AuditRecord {
    pub seq: i64,
    pub actor_user_id: Option<String>,
    pub action: String,
    pub subject_type: String,
    pub subject_id: String,
    pub before_state: Option<String>,
    pub after_state: Option<String>,
    pub request_id: Option<String>,
    pub created_at: NaiveDateTime,
    pub prev_hash: String,
    pub hash: String,
}

impl AuditRecord {
    fn computed_hash(&self) -> String {
        let mut hasher = Sha256::new();
        let fields = [
            self.seq.to_string(),
            self.actor_user_id.clone().unwrap_or_default(),
            self.action.clone(),
            self.subject_type.clone(),
            self.subject_id.clone(),
            self.before_state.clone().unwrap_or_default(),
            self.after_state.clone().unwrap_or_default(),
            self.request_id.clone().unwrap_or_default(),
            self.created_at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string(),
            self.prev_hash.clone(),
        ];
        for field in fields {
            // Length-prefixed, so no two field lists hash the same input.
            hasher.update((field.len() as u64).to_be_bytes());
            hasher.update(field.as_bytes());
        }
        hex::encode(hasher.finalize())
    }
}

/// Appends an entry; call it inside the transaction that makes the change.
pub fn append(conn: &mut AnyConnection, entry: AuditEntry<'_>) -> QueryResult<i64> {
    crate::write_transaction(conn, |conn| {
        let (seq, prev_hash): (i64, String) = diesel::update(audit_chain::table.find(1))
            .set(audit_chain::last_seq.eq(audit_chain::last_seq + 1))
            .returning((audit_chain::last_seq, audit_chain::last_hash))
            .get_result(conn)?;
        let mut record = AuditRecord {
            seq,
            actor_user_id: entry.actor_user_id.map(str::to_string),
            action: entry.action.to_string(),
            subject_type: entry.subject_type.to_string(),
            subject_id: entry.subject_id.to_string(),
            before_state: entry.before.map(|v| v.to_string()),
            after_state: entry.after.map(|v| v.to_string()),
            request_id: entry.request_id.map(str::to_string),
            created_at: crate::now(),
            prev_hash,
            hash: String::new(),
        };
        record.hash = record.computed_hash();
        diesel::insert_into(audit_log::table)
            .values((
                audit_log::seq.eq(record.seq),
                audit_log::actor_user_id.eq(&record.actor_user_id),
                audit_log::action.eq(&record.action),
                audit_log::subject_type.eq(&record.subject_type),
                audit_log::subject_id.eq(&record.subject_id),
                audit_log::before_state.eq(&record.before_state),
                audit_log::after_state.eq(&record.after_state),
                audit_log::request_id.eq(&record.request_id),
                audit_log::created_at.eq(record.created_at),
                audit_log::prev_hash.eq(&record.prev_hash),
                audit_log::hash.eq(&record.hash),
            ))
            .execute(conn)?;
        diesel::update(audit_chain::table.find(1)).set(audit_chain::last_hash.eq(&record.hash)).execute(conn)?;
        Ok(seq)
    })
}

/// The entries of `action` about any of `subject_ids`, oldest first: one
/// query for a page of subjects.
pub fn entries_about(
    conn: &mut AnyConnection,
    subject_type: &str,
    action: &str,
    subject_ids: &[String],
) -> QueryResult<Vec<AuditRecord>> {
    audit_log::table
        .filter(audit_log::subject_type.eq(subject_type))
        .filter(audit_log::action.eq(action))
        .filter(audit_log::subject_id.eq_any(subject_ids))
        .order(audit_log::seq.asc())
        .select(AuditRecord::as_select())
        .load(conn)
}

/// The entries about one subject, oldest first.
pub fn history(conn: &mut AnyConnection, subject_type: &str, subject_id: &str) -> QueryResult<Vec<AuditRecord>> {
    audit_log::table
        .filter(audit_log::subject_type.eq(subject_type))
        .filter(audit_log::subject_id.eq(subject_id))
        .order(audit_log::seq.asc())
        .select(AuditRecord::as_select())
        .load(conn)
}

#[derive(Debug, thiserror::Error)]
pub enum ChainError {
    #[error("audit entry {seq} does not match its hash")]
    Tampered { seq: i64 },
    #[error("audit entry {seq} does not follow entry {previous}")]
    Broken { seq: i64, previous: i64 },
    #[error("the chain head says {head} entries, the log ends at {last}")]
    Truncated { head: i64, last: i64 },
    #[error(transparent)]
    Query(#[from] diesel::result::Error),
}

/// Checks the whole chain; returns the number of entries checked.
pub fn verify(conn: &mut AnyConnection) -> Result<i64, ChainError> {
    const PAGE: i64 = 1000;
    let mut previous: (i64, String) = (0, "0".repeat(64));
    loop {
        let page: Vec<AuditRecord> = audit_log::table
            .filter(audit_log::seq.gt(previous.0))
            .order(audit_log::seq.asc())
            .limit(PAGE)
            .select(AuditRecord::as_select())
            .load(conn)?;
        for record in &page {
            if record.seq != previous.0 + 1 || record.prev_hash != previous.1 {
                return Err(ChainError::Broken { seq: record.seq, previous: previous.0 });
            }
            if record.computed_hash() != record.hash {
                return Err(ChainError::Tampered { seq: record.seq });
            }
            previous = (record.seq, record.hash.clone());
        }
        if (page.len() as i64) < PAGE {
            break;
        }
    }
    let (head, head_hash): (i64, String) =
        audit_chain::table.find(1).select((audit_chain::last_seq, audit_chain::last_hash)).first(conn)?;
    if head != previous.0 || head_hash != previous.1 {
        return Err(ChainError::Truncated { head, last: previous.0 });
    }
    Ok(previous.0)
}
