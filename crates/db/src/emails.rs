//! The delivery record of every email the notify worker plans: one
//! `sent_emails` row per (outbox event, template, recipient address), which
//! the table's UNIQUE constraint makes the unit of "never twice".
//!
//! A row moves `pending` → `sending` → `sent`, or from `sending` to
//! `retrying` (and back to `sending` when due), `failed`, or `unknown`. Every
//! move is a conditional UPDATE that names the state it leaves (and, from
//! `sending`, the attempt number it claimed), and counts the rows it changed:
//! two workers racing for a row cannot both win, on SQLite or PostgreSQL.
//! The protocol around these queries is described in `techtrade-notify`'s
//! worker module.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::connection::AnyConnection;
use crate::schema::sent_emails;

/// Where a planned email is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EmailStatus {
    /// Planned, never tried.
    Pending,
    /// Claimed by a worker that is talking to SMTP until `lease_until`.
    Sending,
    /// The server accepted it.
    Sent,
    /// A transient failure; due again at `next_attempt_at`.
    Retrying,
    /// A permanent failure, or the attempts ran out; `last_error` says why.
    Failed,
    /// A claim whose lease ran out with no outcome recorded (the worker died
    /// or lost the database mid-send): the server may have accepted it, so
    /// it is never sent again automatically.
    Unknown,
}

impl EmailStatus {
    pub const ALL: [Self; 6] = [Self::Pending, Self::Sending, Self::Sent, Self::Retrying, Self::Failed, Self::Unknown];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Sending => "sending",
            Self::Sent => "sent",
            Self::Retrying => "retrying",
            Self::Failed => "failed",
            Self::Unknown => "unknown",
        }
    }

    pub fn from_db(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == value)
    }
}

impl std::fmt::Display for EmailStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable)]
#[diesel(table_name = sent_emails, check_for_backend(crate::MultiBackend))]
pub struct SentEmail {
    pub id: String,
    pub outbox_event_id: i64,
    pub template: String,
    /// The address the email goes to.
    pub recipient: String,
    pub locale: String,
    pub status: String,
    pub attempts: i32,
    pub message_id: Option<String>,
    pub last_error: Option<String>,
    pub sent_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub user_id: Option<String>,
    /// The template context as JSON.
    pub context: Option<String>,
    pub subject: Option<String>,
    pub next_attempt_at: Option<NaiveDateTime>,
    pub lease_until: Option<NaiveDateTime>,
    pub updated_at: Option<NaiveDateTime>,
}

impl SentEmail {
    pub fn status(&self) -> Option<EmailStatus> {
        EmailStatus::from_db(&self.status)
    }
}

/// An email to plan.
#[derive(Debug, Clone)]
pub struct NewEmail<'a> {
    pub id: &'a str,
    pub outbox_event_id: i64,
    pub template: &'a str,
    pub recipient: &'a str,
    pub user_id: Option<&'a str>,
    pub locale: &'a str,
    pub subject: &'a str,
    pub context: &'a str,
}

/// Records a planned email as `pending`, due now. Returns false when the
/// same (event, template, recipient) was planned before, by this worker or
/// another: the UNIQUE constraint decides, so a replayed event plans nothing.
pub fn plan(conn: &mut AnyConnection, email: &NewEmail<'_>, now: NaiveDateTime) -> QueryResult<bool> {
    let existing = sent_emails::table
        .filter(sent_emails::outbox_event_id.eq(email.outbox_event_id))
        .filter(sent_emails::template.eq(email.template))
        .filter(sent_emails::recipient.eq(email.recipient));
    if diesel::select(diesel::dsl::exists(existing)).get_result(conn)? {
        return Ok(false);
    }
    // A savepoint: on PostgreSQL a failed INSERT (a concurrent planner won)
    // would otherwise abort the caller's whole transaction.
    let inserted = conn.transaction(|conn| {
        diesel::insert_into(sent_emails::table)
            .values((
                sent_emails::id.eq(email.id),
                sent_emails::outbox_event_id.eq(email.outbox_event_id),
                sent_emails::template.eq(email.template),
                sent_emails::recipient.eq(email.recipient),
                sent_emails::user_id.eq(email.user_id),
                sent_emails::locale.eq(email.locale),
                sent_emails::status.eq(EmailStatus::Pending.as_str()),
                sent_emails::attempts.eq(0),
                sent_emails::subject.eq(email.subject),
                sent_emails::context.eq(email.context),
                sent_emails::next_attempt_at.eq(now),
                sent_emails::created_at.eq(now),
                sent_emails::updated_at.eq(now),
            ))
            .execute(conn)
    });
    match inserted {
        Ok(_) => Ok(true),
        Err(error) if crate::is_unique_violation(&error) => Ok(false),
        Err(error) => Err(error),
    }
}

const DUE: [&str; 2] = ["pending", "retrying"];

/// Up to `limit` emails due at `now`, the longest waiting first.
pub fn due(conn: &mut AnyConnection, now: NaiveDateTime, limit: i64) -> QueryResult<Vec<SentEmail>> {
    sent_emails::table
        .filter(sent_emails::status.eq_any(DUE))
        .filter(sent_emails::next_attempt_at.is_null().or(sent_emails::next_attempt_at.le(now)))
        .order((sent_emails::next_attempt_at.asc(), sent_emails::id.asc()))
        .limit(limit)
        .select(SentEmail::as_select())
        .load(conn)
}

/// The earliest `next_attempt_at` of an email waiting to be tried, if any.
pub fn next_due_at(conn: &mut AnyConnection) -> QueryResult<Option<NaiveDateTime>> {
    sent_emails::table
        .filter(sent_emails::status.eq_any(DUE))
        .select(diesel::dsl::min(sent_emails::next_attempt_at))
        .first(conn)
}

/// Claims a due email for one attempt: `sending`, attempts + 1, leased until
/// `lease_until`. True when this caller won the claim; false when another
/// worker claimed it first or it is no longer due (the UPDATE names the
/// state and attempt count it read, and the row count says who won).
pub fn claim(
    conn: &mut AnyConnection,
    email: &SentEmail,
    now: NaiveDateTime,
    lease_until: NaiveDateTime,
) -> QueryResult<bool> {
    let updated = diesel::update(sent_emails::table.find(&email.id))
        .filter(sent_emails::status.eq_any(DUE))
        .filter(sent_emails::attempts.eq(email.attempts))
        .filter(sent_emails::next_attempt_at.is_null().or(sent_emails::next_attempt_at.le(now)))
        .set((
            sent_emails::status.eq(EmailStatus::Sending.as_str()),
            sent_emails::attempts.eq(email.attempts + 1),
            sent_emails::lease_until.eq(lease_until),
            sent_emails::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(updated == 1)
}

/// Records that attempt `attempt` was accepted by the server. A row that
/// lease expiry already marked `unknown` is corrected too: the worker that
/// claimed it knows better. False when the row is no longer this attempt's.
pub fn mark_sent(
    conn: &mut AnyConnection,
    id: &str,
    attempt: i32,
    message_id: &str,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    let updated = diesel::update(sent_emails::table.find(id))
        .filter(sent_emails::status.eq_any(["sending", "unknown"]))
        .filter(sent_emails::attempts.eq(attempt))
        .set((
            sent_emails::status.eq(EmailStatus::Sent.as_str()),
            sent_emails::message_id.eq(message_id),
            sent_emails::sent_at.eq(now),
            sent_emails::lease_until.eq(None::<NaiveDateTime>),
            sent_emails::next_attempt_at.eq(None::<NaiveDateTime>),
            sent_emails::last_error.eq(None::<String>),
            sent_emails::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(updated == 1)
}

/// Records a failed attempt: `retrying` until `next_attempt_at` when one is
/// given, else `failed`. Only from the attempt's own `sending` state.
pub fn mark_attempt_failed(
    conn: &mut AnyConnection,
    id: &str,
    attempt: i32,
    error: &str,
    next_attempt_at: Option<NaiveDateTime>,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    let status = if next_attempt_at.is_some() { EmailStatus::Retrying } else { EmailStatus::Failed };
    let updated = diesel::update(sent_emails::table.find(id))
        .filter(sent_emails::status.eq(EmailStatus::Sending.as_str()))
        .filter(sent_emails::attempts.eq(attempt))
        .set((
            sent_emails::status.eq(status.as_str()),
            sent_emails::last_error.eq(error),
            sent_emails::next_attempt_at.eq(next_attempt_at),
            sent_emails::lease_until.eq(None::<NaiveDateTime>),
            sent_emails::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(updated == 1)
}

/// Records that attempt `attempt` ended without knowing whether the server
/// accepted the message (a timeout or a broken connection mid-transaction):
/// `unknown`, never resent automatically.
pub fn mark_unknown(
    conn: &mut AnyConnection,
    id: &str,
    attempt: i32,
    error: &str,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    let updated = diesel::update(sent_emails::table.find(id))
        .filter(sent_emails::status.eq(EmailStatus::Sending.as_str()))
        .filter(sent_emails::attempts.eq(attempt))
        .set((
            sent_emails::status.eq(EmailStatus::Unknown.as_str()),
            sent_emails::last_error.eq(error),
            sent_emails::lease_until.eq(None::<NaiveDateTime>),
            sent_emails::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(updated == 1)
}

/// Marks `unknown` every `sending` row whose lease ended before `now`, and
/// returns them. Their worker died (or lost the database) between claiming
/// and recording: the server may or may not have the message.
pub fn expire_leases(conn: &mut AnyConnection, now: NaiveDateTime) -> QueryResult<Vec<SentEmail>> {
    let stale: Vec<SentEmail> = sent_emails::table
        .filter(sent_emails::status.eq(EmailStatus::Sending.as_str()))
        .filter(sent_emails::lease_until.lt(now))
        .select(SentEmail::as_select())
        .load(conn)?;
    let mut expired = Vec::with_capacity(stale.len());
    for email in stale {
        let updated = diesel::update(sent_emails::table.find(&email.id))
            .filter(sent_emails::status.eq(EmailStatus::Sending.as_str()))
            .filter(sent_emails::attempts.eq(email.attempts))
            .filter(sent_emails::lease_until.lt(now))
            .set((
                sent_emails::status.eq(EmailStatus::Unknown.as_str()),
                sent_emails::last_error
                    .eq("the worker's lease ended with no outcome recorded; the server may have accepted it"),
                sent_emails::lease_until.eq(None::<NaiveDateTime>),
                sent_emails::updated_at.eq(now),
            ))
            .execute(conn)?;
        if updated == 1 {
            expired.push(email);
        }
    }
    Ok(expired)
}

/// How many emails are in each status, in [`EmailStatus::ALL`] order.
pub fn count_by_status(conn: &mut AnyConnection) -> QueryResult<Vec<(EmailStatus, i64)>> {
    let rows: Vec<(String, i64)> = sent_emails::table
        .group_by(sent_emails::status)
        .select((sent_emails::status, diesel::dsl::count_star()))
        .load(conn)?;
    Ok(EmailStatus::ALL
        .into_iter()
        .map(|s| (s, rows.iter().find(|(name, _)| name == s.as_str()).map_or(0, |(_, n)| *n)))
        .collect())
}

/// The emails in `status`, oldest first (for operators and tests).
pub fn with_status(conn: &mut AnyConnection, status: EmailStatus, limit: i64) -> QueryResult<Vec<SentEmail>> {
    sent_emails::table
        .filter(sent_emails::status.eq(status.as_str()))
        .order(sent_emails::created_at.asc())
        .limit(limit)
        .select(SentEmail::as_select())
        .load(conn)
}

/// Every email planned for an outbox event, by recipient.
pub fn for_event(conn: &mut AnyConnection, outbox_event_id: i64) -> QueryResult<Vec<SentEmail>> {
    sent_emails::table
        .filter(sent_emails::outbox_event_id.eq(outbox_event_id))
        .order((sent_emails::recipient.asc(), sent_emails::template.asc()))
        .select(SentEmail::as_select())
        .load(conn)
}
