//! The outbox: events written in the same transaction as the change they
//! describe, read by consumers (search indexer, mailer, alerts) from their
//! own stored cursor.
//!
//! Ids come from a sequence, so they are unique and increasing in insertion
//! order, but on PostgreSQL a transaction can commit after one that took a
//! larger id: a gap in the ids may be a rolled-back transaction's id, which
//! never appears, or an open transaction's, which appears later. Consumers
//! read with [`ready_after`], which passes a gap only when the database
//! says no open transaction can fill it (the `horizon` column of the
//! PostgreSQL migration `outbox_horizon`); SQLite runs one write
//! transaction at a time, so its ids appear in order.

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

/// Up to `limit` events after `cursor` that a consumer may process now, in
/// id order: it stops at the first gap an open transaction may still fill.
pub fn ready_after(conn: &mut AnyConnection, cursor: i64, limit: i64) -> QueryResult<Vec<OutboxEvent>> {
    // The final position first, then the events: read in this order, every
    // id at or below it that committed is among the events read.
    let settled = settled_after(conn, cursor)?;
    Ok(ready(events_after(conn, cursor, limit)?, cursor, settled))
}

/// The events of `events` (ids after `cursor`, ascending) a consumer may
/// process: every one up to `settled` (below it, a gap is a rolled-back
/// id), then the run without a gap.
fn ready(events: Vec<OutboxEvent>, cursor: i64, settled: i64) -> Vec<OutboxEvent> {
    let mut expected = cursor + 1;
    let mut ready = Vec::with_capacity(events.len());
    for event in events {
        if event.id != expected && event.id > settled {
            break;
        }
        expected = event.id + 1;
        ready.push(event);
    }
    ready
}

/// The largest event id after `after` such that no open transaction holds
/// an id at or below it (`after` when there is none), on PostgreSQL: the
/// newest event written when every transaction still open had not yet
/// started. On SQLite every visible id is final.
fn settled_after(conn: &mut AnyConnection, after: i64) -> QueryResult<i64> {
    match conn {
        AnyConnection::Postgresql(pg) => {
            #[derive(QueryableByName)]
            struct Settled {
                #[diesel(sql_type = diesel::sql_types::BigInt)]
                id: i64,
            }
            let settled: Settled = diesel::sql_query(
                "SELECT COALESCE(MAX(id), $1) AS id FROM outbox \
                 WHERE id > $1 AND horizon <= pg_snapshot_xmin(pg_current_snapshot())",
            )
            .bind::<diesel::sql_types::BigInt, _>(after)
            .get_result(pg)?;
            Ok(settled.id)
        }
        AnyConnection::Sqlite(_) => Ok(last_id(conn)?.max(after)),
    }
}

/// A position no event still to commit lies at or below: where a consumer
/// that rebuilt from the tables resumes (events after it are replayed).
pub fn settled_position(conn: &mut AnyConnection) -> QueryResult<i64> {
    settled_after(conn, 0)
}

/// Records an event; call it inside the transaction that makes the change.
pub fn emit(
    conn: &mut AnyConnection,
    event_type: &str,
    aggregate_type: &str,
    aggregate_id: &str,
    payload: &serde_json::Value,
) -> QueryResult<i64> {
    let values = (
        outbox::event_type.eq(event_type),
        outbox::aggregate_type.eq(aggregate_type),
        outbox::aggregate_id.eq(aggregate_id),
        outbox::payload.eq(payload.to_string()),
        outbox::created_at.eq(crate::now()),
    );
    let AnyConnection::Postgresql(pg) = conn else {
        return diesel::insert_into(outbox::table).values(values).returning(outbox::id).get_result(conn);
    };
    // Three statements, in this order, make the horizon sound: the
    // transaction takes its own id, then the event its id, then the insert
    // (a new statement, so a new snapshot under READ COMMITTED) records as
    // horizon a transaction id above that of every transaction that took an
    // event id before this one. An open transaction holding a smaller event
    // id is therefore always older than this event's horizon.
    #[derive(QueryableByName)]
    struct Next {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        id: i64,
    }
    diesel::sql_query("SELECT pg_current_xact_id()").execute(pg)?;
    let Next { id } =
        diesel::sql_query("SELECT nextval(pg_get_serial_sequence('outbox', 'id')) AS id").get_result(pg)?;
    diesel::insert_into(outbox::table).values((outbox::id.eq(id), values)).execute(conn)?;
    Ok(id)
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
    outbox_cursors::table.find(consumer).select(outbox_cursors::last_event_id).get_result(conn).optional()
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
    outbox::table.select(diesel::dsl::max(outbox::id)).get_result::<Option<i64>>(conn).map(|id| id.unwrap_or(0))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn event(id: i64) -> OutboxEvent {
        OutboxEvent {
            id,
            event_type: "listing.published".into(),
            aggregate_type: "listing".into(),
            aggregate_id: format!("l{id}"),
            payload: "{}".into(),
            created_at: chrono::DateTime::from_timestamp_millis(0).unwrap().naive_utc(),
        }
    }

    #[test]
    fn stops_at_a_gap_an_open_transaction_may_fill() {
        let ids = |events: Vec<OutboxEvent>| events.into_iter().map(|e| e.id).collect::<Vec<_>>();
        let events = || vec![event(11), event(12), event(14), event(15)];
        // 13 is missing and may still commit: nothing is settled past the cursor.
        assert_eq!(ids(ready(events(), 10, 10)), [11, 12]);
        // Settled up to 14: 13 was rolled back; 15 follows without a gap.
        assert_eq!(ids(ready(events(), 10, 14)), [11, 12, 14, 15]);
        // A gap right after the cursor.
        assert!(ready(vec![event(12)], 10, 10).is_empty());
        assert_eq!(ids(ready(vec![event(12)], 10, 12)), [12]);
    }
}
