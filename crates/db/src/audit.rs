//! The append-only, hash-chained audit log: who did what, when, with the
//! state before and after, and whether it was allowed.
//!
//! Each row's hash covers its fields and the previous row's hash, so editing
//! or deleting a row breaks every hash after it ([`verify`] finds where).
//! The hash is an HMAC under the audit key, which lives in the configuration
//! and never in the database: someone who can write to the database but
//! not read the key cannot recompute a consistent chain. What such a person
//! could still do, cut the newest rows off, is caught by the checkpoints
//! that the server writes outside the database ([`Checkpoint`]).
//!
//! Appenders serialise on the single `audit_chain` row: its `UPDATE` takes
//! the row lock on PostgreSQL (a waiting appender then sees the new head),
//! and SQLite write transactions are exclusive anyway. Both databases also
//! refuse UPDATE and DELETE on `audit_log` by trigger; the application
//! never deletes a record.

use std::sync::OnceLock;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use hmac::{Hmac, KeyInit, Mac};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::connection::AnyConnection;
use crate::schema::{audit_chain, audit_log, users};

/// The secret the chain's HMACs are keyed with (at least 32 bytes).
#[derive(Clone, PartialEq, Eq)]
pub struct AuditKey(Vec<u8>);

impl AuditKey {
    pub const MIN_BYTES: usize = 32;

    pub fn new(bytes: Vec<u8>) -> Result<Self, String> {
        if bytes.len() < Self::MIN_BYTES {
            return Err(format!("the audit key has {} bytes; it needs at least {}", bytes.len(), Self::MIN_BYTES));
        }
        Ok(Self(bytes))
    }
}

impl std::fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuditKey(***)")
    }
}

static KEY: OnceLock<AuditKey> = OnceLock::new();

/// Installs the process's audit key at start-up. A process writes one
/// chain with one key: installing another key later is refused.
pub fn install_key(key: AuditKey) -> Result<(), String> {
    let installed = KEY.get_or_init(|| key.clone());
    if *installed == key { Ok(()) } else { Err("another audit key is installed already".to_string()) }
}

/// The installed key; appending without one fails rather than writing an
/// unkeyed record.
fn installed_key() -> QueryResult<&'static AuditKey> {
    KEY.get().ok_or_else(|| diesel::result::Error::QueryBuilderError("no audit key is installed".into()))
}

/// The purpose of a password reset's token ([`derived_token`]).
pub const PASSWORD_RESET: &str = "password-reset";

/// The purpose of the key that seals second-factor secrets ([`derived_key`]).
pub const SECOND_FACTOR: &str = "second-factor";

/// A 32-byte key for `purpose`, derived from the installed key:
/// HMAC(key, purpose). Each purpose gets its own key, so that what one
/// purpose reveals (a token in an e-mail) tells nothing about another.
pub fn derived_key(purpose: &str) -> QueryResult<[u8; 32]> {
    let key = installed_key()?;
    Ok(hmac_sha256(&key.0, purpose.as_bytes()))
}

fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(message);
    mac.finalize().into_bytes().into()
}

/// A secret token for `purpose` and `id`, derived from the installed key:
/// HMAC(HMAC(key, purpose), id), hex. What is derived this way need not be
/// stored anywhere: a password reset's e-mail carries the token computed
/// from the reset's id at the moment it is sent, while the database keeps
/// only the token's hash and the outbox and the e-mail records only the id.
pub fn derived_token(purpose: &str, id: &str) -> QueryResult<String> {
    Ok(hex::encode(hmac_sha256(&derived_key(purpose)?, id.as_bytes())))
}

/// Whether what was recorded was allowed to happen.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    #[default]
    Success,
    /// Refused: a wrong password, a locked account, a missing permission.
    Denied,
    /// Tried and failed for another reason.
    Failed,
}

impl Outcome {
    pub const ALL: [Self; 3] = [Self::Success, Self::Denied, Self::Failed];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Denied => "denied",
            Self::Failed => "failed",
        }
    }
}

/// What happened, as the caller describes it.
#[derive(Debug, Clone, Default)]
pub struct AuditEntry<'a> {
    /// The acting user; `None` for the system itself (workers, start-up)
    /// and for who is not signed in (a failed sign-in).
    pub actor_user_id: Option<&'a str>,
    /// `verb` or `noun.verb`, e.g. `organization.register`, `session.revoke`.
    pub action: &'a str,
    pub subject_type: &'a str,
    pub subject_id: &'a str,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
    pub request_id: Option<&'a str>,
    /// The organisation the event concerns; when `None`, the actor's.
    pub organization_id: Option<&'a str>,
    pub outcome: Outcome,
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
    pub organization_id: Option<String>,
    pub outcome: String,
    /// Hashed with the key; `false` only for rows older than the key.
    pub keyed: bool,
}

impl AuditRecord {
    fn computed_hash(&self, key: &AuditKey) -> String {
        let mut fields = vec![
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
        if !self.keyed {
            // Written before the chain was keyed: the plain SHA-256 of
            // the fields it had then.
            let mut hasher = Sha256::new();
            for field in &fields {
                hasher.update(length_prefixed(field));
            }
            return hex::encode(hasher.finalize());
        }
        fields.push(self.organization_id.clone().unwrap_or_default());
        fields.push(self.outcome.clone());
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&key.0)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        for field in &fields {
            mac.update(&length_prefixed(field));
        }
        hex::encode(mac.finalize().into_bytes())
    }
}

/// A field with its length in front, so no two field lists hash the same input.
fn length_prefixed(field: &str) -> Vec<u8> {
    let mut bytes = (field.len() as u64).to_be_bytes().to_vec();
    bytes.extend_from_slice(field.as_bytes());
    bytes
}

/// Appends an entry; call it inside the transaction that makes the change.
pub fn append(conn: &mut AnyConnection, entry: AuditEntry<'_>) -> QueryResult<i64> {
    let key = installed_key()?;
    crate::write_transaction(conn, |conn| {
        // The organisation the event concerns: as given, else the actor's,
        // else (the system acting on a user: a lock-out) the user's.
        let concerned_user = entry.actor_user_id.or((entry.subject_type == "user").then_some(entry.subject_id));
        let organization_id = match (entry.organization_id, concerned_user) {
            (Some(organization), _) => Some(organization.to_string()),
            (None, Some(user)) => users::table
                .find(user)
                .select(users::organization_id)
                .get_result::<Option<String>>(conn)
                .optional()?
                .flatten(),
            (None, None) => None,
        };
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
            organization_id,
            outcome: entry.outcome.as_str().to_string(),
            keyed: true,
        };
        record.hash = record.computed_hash(key);
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
                audit_log::organization_id.eq(&record.organization_id),
                audit_log::outcome.eq(&record.outcome),
                audit_log::keyed.eq(record.keyed),
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

/// What an auditor asks the log for; every part optional.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub actor_user_id: Option<String>,
    pub organization_id: Option<String>,
    pub subject_type: Option<String>,
    pub subject_id: Option<String>,
    /// `noun.verb` exactly, or `noun` for every verb of it.
    pub action: Option<String>,
    /// From this instant (UTC), inclusive.
    pub from: Option<NaiveDateTime>,
    /// Before this instant (UTC), exclusive.
    pub before: Option<NaiveDateTime>,
}

fn filtered(filter: &AuditFilter) -> audit_log::BoxedQuery<'static, crate::MultiBackend> {
    let mut query = audit_log::table.into_boxed();
    if let Some(actor) = &filter.actor_user_id {
        query = query.filter(audit_log::actor_user_id.eq(actor.clone()));
    }
    if let Some(organization) = &filter.organization_id {
        query = query.filter(audit_log::organization_id.eq(organization.clone()));
    }
    if let Some(subject_type) = &filter.subject_type {
        query = query.filter(audit_log::subject_type.eq(subject_type.clone()));
    }
    if let Some(subject_id) = &filter.subject_id {
        query = query.filter(audit_log::subject_id.eq(subject_id.clone()));
    }
    match &filter.action {
        Some(action) if action.contains('.') => query = query.filter(audit_log::action.eq(action.clone())),
        Some(noun) => {
            // `_` and `%` never occur in an action (lower-case words and dots).
            query = query.filter(audit_log::action.eq(noun.clone()).or(audit_log::action.like(format!("{noun}.%"))));
        }
        None => {}
    }
    if let Some(from) = filter.from {
        query = query.filter(audit_log::created_at.ge(from));
    }
    if let Some(before) = filter.before {
        query = query.filter(audit_log::created_at.lt(before));
    }
    query
}

/// How many records match `filter`.
pub fn count(conn: &mut AnyConnection, filter: &AuditFilter) -> QueryResult<i64> {
    filtered(filter).count().get_result(conn)
}

/// A page of the records matching `filter`, newest first.
pub fn search(
    conn: &mut AnyConnection,
    filter: &AuditFilter,
    offset: i64,
    limit: i64,
) -> QueryResult<Vec<AuditRecord>> {
    filtered(filter)
        .order(audit_log::seq.desc())
        .offset(offset)
        .limit(limit)
        .select(AuditRecord::as_select())
        .load(conn)
}

/// The records matching `filter` after `after_seq`, oldest first: an
/// export reads the log in such pages.
pub fn search_after(
    conn: &mut AnyConnection,
    filter: &AuditFilter,
    after_seq: i64,
    limit: i64,
) -> QueryResult<Vec<AuditRecord>> {
    filtered(filter)
        .filter(audit_log::seq.gt(after_seq))
        .order(audit_log::seq.asc())
        .limit(limit)
        .select(AuditRecord::as_select())
        .load(conn)
}

/// The chain's head: the last record's number and hash (0 and zeros when empty).
pub fn head(conn: &mut AnyConnection) -> QueryResult<Checkpoint> {
    let (seq, hash) =
        audit_chain::table.find(1).select((audit_chain::last_seq, audit_chain::last_hash)).get_result(conn)?;
    Ok(Checkpoint { seq, hash })
}

/// A chain head written down outside the database: record `seq` had `hash`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub seq: i64,
    pub hash: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ChainError {
    #[error("audit entry {seq} does not match its hash (edited, or hashed without the audit key)")]
    Tampered { seq: i64 },
    #[error("audit entry {seq} does not follow entry {previous}")]
    Broken { seq: i64, previous: i64 },
    #[error("audit entry {seq} is not keyed although an earlier one is")]
    Unkeyed { seq: i64 },
    #[error("the chain head says {head} entries, the log ends at {last}")]
    Truncated { head: i64, last: i64 },
    #[error("checkpoint {seq} recorded hash {expected}; the log has {found}")]
    Checkpoint { seq: i64, expected: String, found: String },
    #[error("checkpoint {seq} is beyond the end of the log ({last} entries): entries were removed")]
    Missing { seq: i64, last: i64 },
    #[error(transparent)]
    Query(#[from] diesel::result::Error),
}

/// What [`verify`] found intact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub entries: i64,
    /// Entries from before the chain was keyed (plain SHA-256).
    pub unkeyed: i64,
    pub checkpoints: usize,
}

/// Checks the whole chain against `key`, and that every checkpoint's
/// record is still there with the hash it had.
pub fn verify(conn: &mut AnyConnection, key: &AuditKey, checkpoints: &[Checkpoint]) -> Result<Verified, ChainError> {
    const PAGE: i64 = 1000;
    let expected: std::collections::HashMap<i64, &str> = checkpoints.iter().map(|c| (c.seq, c.hash.as_str())).collect();
    let mut previous: (i64, String) = (0, "0".repeat(64));
    let mut unkeyed = 0;
    let mut keyed_seen = false;
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
            if record.keyed {
                keyed_seen = true;
            } else if keyed_seen {
                return Err(ChainError::Unkeyed { seq: record.seq });
            } else {
                unkeyed += 1;
            }
            if record.computed_hash(key) != record.hash {
                return Err(ChainError::Tampered { seq: record.seq });
            }
            if let Some(hash) = expected.get(&record.seq).filter(|hash| **hash != record.hash) {
                return Err(ChainError::Checkpoint {
                    seq: record.seq,
                    expected: hash.to_string(),
                    found: record.hash.clone(),
                });
            }
            previous = (record.seq, record.hash.clone());
        }
        if (page.len() as i64) < PAGE {
            break;
        }
    }
    if let Some(beyond) = checkpoints.iter().map(|c| c.seq).filter(|seq| *seq > previous.0).max() {
        return Err(ChainError::Missing { seq: beyond, last: previous.0 });
    }
    let head = head(conn)?;
    if head.seq != previous.0 || head.hash != previous.1 {
        return Err(ChainError::Truncated { head: head.seq, last: previous.0 });
    }
    Ok(Verified { entries: previous.0, unkeyed, checkpoints: checkpoints.len() })
}
