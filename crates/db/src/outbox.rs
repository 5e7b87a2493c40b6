//! The outbox: events written in the same transaction as the change they
//! describe, read by consumers (search indexer, mailer, alerts) from their
//! own stored cursor.
//!
//! Ids come from a sequence, so they are unique and increasing in insertion
//! order, but on PostgreSQL a transaction can commit after one that took a
//! larger id. A consumer that must not skip events re-reads a short window
//! behind its cursor or claims events individually; that is the consumer's
//! concern, and the reason events are processed idempotently.

use diesel::prelude::*;
use serde::Serialize;

use crate::connection::AnyConnection;
use crate::schema::{outbox, outbox_cursors};

#[derive(Debug, Clone, Queryable, Selectable, Serialize)]
#[diesel(table_name = outbox, check_for_backend(crate::MultiBackend))]
pub struct OutboxEvent {
    pub id: i64,
    pub event_type: String,
    pub aggregate_type: String,
    pub aggregate_id: String,
    pub payload: String,
    pub created_at: chrono::NaiveDateTime,
}

/// How long a consumer waits on a gap in event ids before taking it for a
/// rolled-back transaction's id that will never appear.
pub const GAP_GRACE_MILLIS: i64 = 10_000;

/// The events after `cursor` that a consumer may process now: the run
/// without a gap younger than [`GAP_GRACE_MILLIS`]. On PostgreSQL an id can
/// become visible after a larger one (transactions commit in any order), so
/// skipping a young gap could lose the event that fills it.
pub fn ready(events: Vec<OutboxEvent>, cursor: i64, now_millis: i64) -> Vec<OutboxEvent> {
    let mut expected = cursor + 1;
    let mut ready = Vec::with_capacity(events.len());
    for event in events {
        if event.id != expected && now_millis - event.created_at.and_utc().timestamp_millis() < GAP_GRACE_MILLIS {
            break;
        }
        expected = event.id + 1;
        ready.push(event);
    }
    ready
}

/// Records an event; call it inside the transaction that makes the change.
pub fn emit(
    conn: &mut AnyConnection,
    event_type: &str,
    aggregate_type: &str,
    aggregate_id: &str,
    payload: &serde_json::Value,
) -> QueryResult<i64> {
    diesel::insert_into(outbox::table)
        .values((
            outbox::event_type.eq(event_type),
            outbox::aggregate_type.eq(aggregate_type),
            outbox::aggregate_id.eq(aggregate_id),
            outbox::payload.eq(payload.to_string()),
            outbox::created_at.eq(crate::now()),
        ))
        .returning(outbox::id)
        .get_result(conn)
}

/// Records a change in the audit log and announces it as `event_type`,
/// with the entry's `after` state as the payload, in the caller's
/// transaction: the usual pair for a service's state changes.
pub fn emit_audited(
    conn: &mut AnyConnection,
    entry: crate::audit::AuditEntry<'_>,
    event_type: &str,
) -> QueryResult<i64> {
    let payload = entry.after.clone().unwrap_or(serde_json::Value::Null);
    let (aggregate_type, aggregate_id) = (entry.subject_type, entry.subject_id);
    crate::audit::append(conn, entry)?;
    emit(conn, event_type, aggregate_type, aggregate_id, &payload)
}

/// Up to `limit` events after `after_id`, oldest first.
pub fn events_after(conn: &mut AnyConnection, after_id: i64, limit: i64) -> QueryResult<Vec<OutboxEvent>> {
    outbox::table
        .filter(outbox::id.gt(after_id))
        .order(outbox::id.asc())
        .limit(limit)
        .select(OutboxEvent::as_select())
        .load(conn)
}

/// Where `consumer` has got to; 0 before its first event.
pub fn cursor(conn: &mut AnyConnection, consumer: &str) -> QueryResult<i64> {
    stored_cursor(conn, consumer).map(|id| id.unwrap_or(0))
}

/// The stored position of `consumer`, if it ever stored one.
pub fn stored_cursor(conn: &mut AnyConnection, consumer: &str) -> QueryResult<Option<i64>> {
    outbox_cursors::table.find(consumer).select(outbox_cursors::last_event_id).first(conn).optional()
}

/// Moves `consumer`'s cursor to `last_event_id` (never backwards).
pub fn advance_cursor(conn: &mut AnyConnection, consumer: &str, last_event_id: i64) -> QueryResult<()> {
    crate::write_transaction(conn, |conn| {
        let updated = diesel::update(outbox_cursors::table.find(consumer))
            .filter(outbox_cursors::last_event_id.lt(last_event_id))
            .set((outbox_cursors::last_event_id.eq(last_event_id), outbox_cursors::updated_at.eq(crate::now())))
            .execute(conn)?;
        if updated == 0 && cursor_exists(conn, consumer)? {
            return Ok(());
        }
        if updated == 0 {
            diesel::insert_into(outbox_cursors::table)
                .values((
                    outbox_cursors::consumer.eq(consumer),
                    outbox_cursors::last_event_id.eq(last_event_id),
                    outbox_cursors::updated_at.eq(crate::now()),
                ))
                .execute(conn)?;
        }
        Ok(())
    })
}

fn cursor_exists(conn: &mut AnyConnection, consumer: &str) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(outbox_cursors::table.find(consumer))).get_result(conn)
}

/// The newest event's id; 0 when there is none.
pub fn last_id(conn: &mut AnyConnection) -> QueryResult<i64> {
    outbox::table.select(diesel::dsl::max(outbox::id)).first::<Option<i64>>(conn).map(|id| id.unwrap_or(0))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn event(id: i64, age_millis: i64, now: i64) -> OutboxEvent {
        OutboxEvent {
            id,
            event_type: "listing.published".into(),
            aggregate_type: "listing".into(),
            aggregate_id: format!("l{id}"),
            payload: "{}".into(),
            created_at: chrono::DateTime::from_timestamp_millis(now - age_millis).unwrap().naive_utc(),
        }
    }

    #[test]
    fn waits_at_a_young_gap_and_passes_an_old_one() {
        let now = 1_000_000_000;
        let ids = |events: Vec<OutboxEvent>| events.into_iter().map(|e| e.id).collect::<Vec<_>>();
        // 13 is missing and 14 is fresh: 13 may still commit.
        assert_eq!(ids(ready(vec![event(11, 50, now), event(12, 50, now), event(14, 50, now)], 10, now)), [11, 12]);
        // Long after, 13 was rolled back.
        assert_eq!(ids(ready(vec![event(11, 60_000, now), event(14, 60_000, now)], 10, now)), [11, 14]);
        // A gap right after the cursor.
        assert!(ready(vec![event(12, 10, now)], 10, now).is_empty());
    }
}
