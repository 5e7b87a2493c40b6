//! Leases on shared outbox consumers: which worker runs a consumer now.
//!
//! A consumer that keeps one cursor (saved-search alerts, the notify
//! planner, a Meilisearch indexer) must have one reader at a time, or N
//! workers on one database would each process every event. A worker runs
//! such a consumer only while it holds the consumer's lease row, renewing
//! it well before `lease_until`; a worker that dies stops renewing, and
//! the first other worker to try after `lease_until` takes it over, with
//! the cursor exactly where the dead worker's last committed batch left it.
//!
//! Every move is one conditional UPDATE whose row count says who won, so
//! two workers racing for a lease cannot both get it: on PostgreSQL the
//! loser's UPDATE waits on the winner's row lock and then re-reads a row
//! that no longer matches; SQLite has one writer at a time.
//! Times are the workers' clocks (UTC); the lease length dwarfs their skew.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::connection::AnyConnection;
use crate::schema::consumer_leases;

/// A lease as stored.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = consumer_leases, check_for_backend(crate::MultiBackend))]
pub struct Lease {
    pub consumer: String,
    pub holder: String,
    pub lease_until: NaiveDateTime,
    pub acquired_at: NaiveDateTime,
}

/// Takes or renews `consumer`'s lease for `holder` until `until`. True when
/// `holder` holds it afterwards: it held it already, or the previous
/// holder's lease had ended, or there was none.
pub fn acquire(
    conn: &mut AnyConnection,
    consumer: &str,
    holder: &str,
    now: NaiveDateTime,
    until: NaiveDateTime,
) -> QueryResult<bool> {
    crate::write_transaction(conn, |conn| {
        if renew(conn, consumer, holder, until)? {
            return Ok(true);
        }
        let taken = diesel::update(consumer_leases::table.find(consumer))
            .filter(consumer_leases::lease_until.lt(now))
            .set((
                consumer_leases::holder.eq(holder),
                consumer_leases::lease_until.eq(until),
                consumer_leases::acquired_at.eq(now),
            ))
            .execute(conn)?;
        if taken == 1 {
            return Ok(true);
        }
        if diesel::select(diesel::dsl::exists(consumer_leases::table.find(consumer))).get_result(conn)? {
            return Ok(false);
        }
        // A savepoint: on PostgreSQL a failed INSERT (another worker created
        // the row first) would otherwise abort the whole transaction.
        let inserted = conn.transaction(|conn| {
            diesel::insert_into(consumer_leases::table)
                .values((
                    consumer_leases::consumer.eq(consumer),
                    consumer_leases::holder.eq(holder),
                    consumer_leases::lease_until.eq(until),
                    consumer_leases::acquired_at.eq(now),
                ))
                .execute(conn)
        });
        match inserted {
            Ok(_) => Ok(true),
            Err(error) if crate::is_unique_violation(&error) => Ok(false),
            Err(error) => Err(error),
        }
    })
}

/// Extends a lease `holder` holds; false when it is no longer theirs.
///
/// The holder renews even after its own `lease_until` has passed as long as
/// nobody took the lease over: it is still the only reader of the cursor.
pub fn renew(conn: &mut AnyConnection, consumer: &str, holder: &str, until: NaiveDateTime) -> QueryResult<bool> {
    let renewed = diesel::update(consumer_leases::table.find(consumer))
        .filter(consumer_leases::holder.eq(holder))
        .set(consumer_leases::lease_until.eq(until))
        .execute(conn)?;
    Ok(renewed == 1)
}

/// A consumer's proof that it still holds its lease, checked inside the
/// transaction that commits a batch and moves the cursor.
///
/// The lease runner stops a consumer as soon as a renewal fails, but a
/// process paused for longer than the lease (a frozen VM, a stopped
/// container) may wake up mid-batch after another worker took over. The
/// fence makes its commit fail instead: the renewal inside the transaction
/// finds another holder and the batch rolls back. On PostgreSQL the renewal
/// takes the lease row's lock, so a takeover waits for an in-flight commit
/// and then sees a live lease; SQLite has one writer at a time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fence {
    pub consumer: &'static str,
    pub holder: String,
    pub lease: std::time::Duration,
}

impl Fence {
    /// Renews the lease; false when another worker holds it now.
    pub fn check(&self, conn: &mut AnyConnection) -> QueryResult<bool> {
        renew(conn, self.consumer, &self.holder, crate::now() + self.lease)
    }
}

/// Gives a lease up at once (a clean shutdown), so another worker need not
/// wait for it to run out. Nothing happens when `holder` no longer holds it.
pub fn release(conn: &mut AnyConnection, consumer: &str, holder: &str, now: NaiveDateTime) -> QueryResult<bool> {
    let released = diesel::update(consumer_leases::table.find(consumer))
        .filter(consumer_leases::holder.eq(holder))
        .set(consumer_leases::lease_until.eq(now - chrono::Duration::seconds(1)))
        .execute(conn)?;
    Ok(released == 1)
}

/// Every lease, by consumer.
pub fn all(conn: &mut AnyConnection) -> QueryResult<Vec<Lease>> {
    consumer_leases::table.order(consumer_leases::consumer.asc()).select(Lease::as_select()).load(conn)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::time::Duration;

    use super::*;
    use crate::testing::TestDatabase;

    fn at(seconds: i64) -> NaiveDateTime {
        chrono::DateTime::from_timestamp(1_800_000_000 + seconds, 0).unwrap().naive_utc()
    }

    fn one_holder_at_a_time(database: TestDatabase) {
        let mut conn = database.connect();
        assert!(acquire(&mut conn, "alerts", "a", at(0), at(30)).unwrap(), "the first comer creates the lease");
        assert!(!acquire(&mut conn, "alerts", "b", at(10), at(40)).unwrap(), "b waits while a's lease runs");
        assert!(acquire(&mut conn, "alerts", "a", at(20), at(50)).unwrap(), "a renews");
        assert!(!acquire(&mut conn, "alerts", "b", at(40), at(70)).unwrap(), "the renewal counts");
        assert!(acquire(&mut conn, "alerts", "b", at(51), at(81)).unwrap(), "b takes over a dead a's lease");
        assert!(!renew(&mut conn, "alerts", "a", at(90)).unwrap(), "a, back, has lost it");
        assert!(acquire(&mut conn, "notify", "a", at(51), at(81)).unwrap(), "leases are per consumer");
        assert!(release(&mut conn, "alerts", "b", at(60)).unwrap());
        assert!(acquire(&mut conn, "alerts", "a", at(60), at(90)).unwrap(), "a released lease is free at once");
        let fence = |holder: &str| Fence { consumer: "alerts", holder: holder.into(), lease: Duration::from_secs(30) };
        assert!(fence("a").check(&mut conn).unwrap(), "the holder passes its fence");
        assert!(!fence("b").check(&mut conn).unwrap(), "anyone else is fenced off");
        let leases = all(&mut conn).unwrap();
        let holders: Vec<_> = leases.iter().map(|l| (l.consumer.as_str(), l.holder.as_str())).collect();
        assert_eq!(holders, [("alerts", "a"), ("notify", "a")]);
    }

    #[test]
    fn one_holder_at_a_time_sqlite() {
        one_holder_at_a_time(TestDatabase::sqlite());
    }

    #[test]
    fn one_holder_at_a_time_postgres() {
        if let Some(database) = TestDatabase::postgres() {
            one_holder_at_a_time(database);
        }
    }
}
