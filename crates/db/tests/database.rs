//! The schema, migrations, audit chain and outbox on both databases.

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use techtrade_db::audit::{self, AuditEntry, ChainError};
use techtrade_db::testing::TestDatabase;
use techtrade_db::{AnyConnection, migrations, outbox};

/// Runs `check` on a fresh SQLite database and, when configured, on PostgreSQL.
fn on_both(check: impl Fn(&TestDatabase)) {
    check(&TestDatabase::sqlite());
    if let Some(pg) = TestDatabase::postgres() {
        check(&pg);
    }
}

#[test]
fn both_dialects_have_the_same_migrations() {
    let (postgres, sqlite) = migrations::names_by_dialect().unwrap();
    assert!(!postgres.is_empty());
    assert_eq!(postgres, sqlite);
}

#[test]
fn migrations_round_trip() {
    on_both(|t| {
        let mut conn = t.connect();
        assert!(migrations::pending(&mut conn).unwrap().is_empty());
        let reverted = migrations::revert_all(&mut conn).unwrap();
        assert!(!reverted.is_empty());
        assert_eq!(migrations::pending(&mut conn).unwrap().len(), reverted.len());
        let applied = migrations::run_pending(&mut conn).unwrap();
        assert_eq!(applied.len(), reverted.len());
        schema_matches(&mut conn);
    });
}

/// Every table and column of schema.rs exists on the database: selecting
/// them all through diesel fails otherwise.
fn schema_matches(conn: &mut AnyConnection) {
    use techtrade_db::schema::*;
    macro_rules! check {
        ($($table:ident),*) => {$(
            $table::table.select($table::all_columns).limit(1).execute(conn)
                .unwrap_or_else(|e| panic!("table {}: {e}", stringify!($table)));
        )*};
    }
    check!(
        organizations,
        users,
        sessions,
        login_attempts,
        password_resets,
        second_factors,
        recovery_codes,
        login_challenges,
        listings,
        listing_patents,
        demands,
        moderation_reviews,
        saved_searches,
        saved_search_alerts,
        deals,
        offers,
        contracts,
        registrations,
        registration_serials,
        registration_applications,
        registration_application_events,
        certificate_checks,
        payments,
        payment_refunds,
        listing_reservations,
        stripe_events,
        idempotency_keys,
        subsidy_claims,
        claim_reviews,
        subsidy_rounds,
        disbursements,
        outbox,
        outbox_cursors,
        jobs,
        sent_emails,
        audit_chain,
        audit_log
    );
}

fn entry<'a>(subject_id: &'a str, after: serde_json::Value) -> AuditEntry<'a> {
    AuditEntry {
        actor_user_id: Some("u1"),
        action: "thing.change",
        subject_type: "thing",
        subject_id,
        before: None,
        after: Some(after),
        request_id: Some("req-1"),
        ..Default::default()
    }
}

#[test]
fn audit_chain_links_and_verifies() {
    on_both(|t| {
        let mut conn = t.connect();
        assert_eq!(audit::verify(&mut conn, &key(), &[]).unwrap().entries, 0);
        for i in 0..5 {
            let seq = audit::append(&mut conn, entry("t1", serde_json::json!({"n": i, "名": "青海"}))).unwrap();
            assert_eq!(seq, i + 1);
        }
        assert_eq!(audit::verify(&mut conn, &key(), &[]).unwrap().entries, 5);
        let history = audit::history(&mut conn, "thing", "t1").unwrap();
        assert_eq!(history.len(), 5);
        assert_eq!(history[1].prev_hash, history[0].hash);
    });
}

#[test]
fn audit_log_refuses_edits_and_deletes() {
    on_both(|t| {
        let mut conn = t.connect();
        audit::append(&mut conn, entry("t1", serde_json::json!({"amount_fen": 100}))).unwrap();
        assert!(conn.batch_execute("UPDATE audit_log SET after_state = '{}'").is_err());
        assert!(conn.batch_execute("DELETE FROM audit_log").is_err());
        assert_eq!(audit::verify(&mut conn, &key(), &[]).unwrap().entries, 1);
    });
}

#[test]
fn tampering_is_detected() {
    on_both(|t| {
        let mut conn = t.connect();
        for i in 0..3 {
            audit::append(&mut conn, entry("t1", serde_json::json!({"n": i}))).unwrap();
        }
        // Someone with raw database access drops the guard and edits a row.
        drop_update_guard(&mut conn);
        conn.batch_execute("UPDATE audit_log SET after_state = '{\"n\":9}' WHERE seq = 2").unwrap();
        assert!(matches!(audit::verify(&mut conn, &key(), &[]), Err(ChainError::Tampered { seq: 2 })));
    });
}

fn key() -> audit::AuditKey {
    techtrade_db::testing::test_audit_key()
}

fn drop_update_guard(conn: &mut AnyConnection) {
    let drop_guard = match conn {
        AnyConnection::Postgresql(_) => "DROP TRIGGER audit_log_no_update ON audit_log",
        AnyConnection::Sqlite(_) => "DROP TRIGGER audit_log_no_update",
    };
    conn.batch_execute(drop_guard).expect("dropping the update guard");
}

#[test]
fn the_chain_is_keyed_and_checkpoints_catch_what_the_key_cannot() {
    on_both(|t| {
        let mut conn = t.connect();
        for i in 0..4 {
            audit::append(&mut conn, entry("t1", serde_json::json!({"n": i}))).unwrap();
        }
        // Another key (a forger's) calls the very first record forged.
        let other = audit::AuditKey::new(vec![7; 32]).unwrap();
        assert!(matches!(audit::verify(&mut conn, &other, &[]), Err(ChainError::Tampered { seq: 1 })));
        assert!(audit::AuditKey::new(vec![7; 31]).is_err(), "a short key is refused");

        let head = audit::head(&mut conn).unwrap();
        assert_eq!(head.seq, 4);
        let verified = audit::verify(&mut conn, &key(), std::slice::from_ref(&head)).unwrap();
        assert_eq!((verified.entries, verified.unkeyed, verified.checkpoints), (4, 0, 1));
        let wrong = audit::Checkpoint { seq: 3, hash: "ab".repeat(32) };
        assert!(matches!(audit::verify(&mut conn, &key(), &[wrong]), Err(ChainError::Checkpoint { seq: 3, .. })));
        let beyond = audit::Checkpoint { seq: 9, hash: head.hash.clone() };
        assert!(matches!(audit::verify(&mut conn, &key(), &[beyond]), Err(ChainError::Missing { seq: 9, last: 4 })));

        // A record made to look older than the key, after keyed ones.
        drop_update_guard(&mut conn);
        conn.batch_execute("UPDATE audit_log SET keyed = FALSE WHERE seq = 3").unwrap();
        assert!(matches!(audit::verify(&mut conn, &key(), &[]), Err(ChainError::Unkeyed { seq: 3 })));
    });
}

#[test]
fn the_log_is_read_by_actor_organisation_object_action_and_time() {
    on_both(|t| {
        let mut conn = t.connect();
        audit::append(&mut conn, entry("t1", serde_json::json!({}))).unwrap();
        audit::append(
            &mut conn,
            AuditEntry {
                action: "session.denied",
                subject_type: "login",
                subject_id: "x@example.cn",
                organization_id: Some("o1"),
                outcome: audit::Outcome::Denied,
                ..Default::default()
            },
        )
        .unwrap();
        audit::append(
            &mut conn,
            AuditEntry { action: "session.create", subject_type: "session", subject_id: "s1", ..Default::default() },
        )
        .unwrap();
        let find = |conn: &mut AnyConnection, filter: audit::AuditFilter| {
            let found = audit::search(conn, &filter, 0, 50).unwrap();
            assert_eq!(audit::count(conn, &filter).unwrap(), found.len() as i64);
            found.into_iter().map(|r| r.seq).collect::<Vec<_>>()
        };
        assert_eq!(find(&mut conn, audit::AuditFilter::default()), [3, 2, 1], "newest first");
        let action = |a: &str| audit::AuditFilter { action: Some(a.into()), ..Default::default() };
        assert_eq!(find(&mut conn, action("session")), [3, 2], "a noun is all its verbs");
        assert_eq!(find(&mut conn, action("session.denied")), [2]);
        assert_eq!(find(&mut conn, action("sess")), Vec::<i64>::new(), "not a prefix of a word");
        let organization = audit::AuditFilter { organization_id: Some("o1".into()), ..Default::default() };
        assert_eq!(find(&mut conn, organization), [2]);
        let object = audit::AuditFilter {
            subject_type: Some("thing".into()),
            subject_id: Some("t1".into()),
            ..Default::default()
        };
        assert_eq!(find(&mut conn, object), [1]);
        let later =
            audit::AuditFilter { from: Some(techtrade_db::now() + chrono::TimeDelta::hours(1)), ..Default::default() };
        assert_eq!(find(&mut conn, later), Vec::<i64>::new());
        let record = &audit::search(&mut conn, &action("session.denied"), 0, 1).unwrap()[0];
        assert_eq!((record.outcome.as_str(), record.keyed), ("denied", true));
        let after = audit::search_after(&mut conn, &audit::AuditFilter::default(), 1, 10).unwrap();
        assert_eq!(after.iter().map(|r| r.seq).collect::<Vec<_>>(), [2, 3], "oldest first after a number");
    });
}

#[test]
fn concurrent_appends_keep_one_chain() {
    on_both(|t| {
        let threads: Vec<_> = (0..4)
            .map(|n| {
                let db = t.db.clone();
                std::thread::spawn(move || {
                    let mut conn = db.get().unwrap();
                    for i in 0..10 {
                        let id = format!("t{n}");
                        techtrade_db::write_transaction(&mut conn, |conn| {
                            audit::append(conn, entry(&id, serde_json::json!({"i": i})))
                        })
                        .unwrap();
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        let mut conn = t.connect();
        assert_eq!(audit::verify(&mut conn, &key(), &[]).unwrap().entries, 40);
    });
}

#[test]
fn outbox_events_and_cursors() {
    on_both(|t| {
        let mut conn = t.connect();
        let first =
            outbox::emit(&mut conn, "listing.published", "listing", "l1", &serde_json::json!({"a": 1})).unwrap();
        let second = outbox::emit(&mut conn, "listing.withdrawn", "listing", "l1", &serde_json::json!({})).unwrap();
        assert!(second > first);
        assert_eq!(outbox::cursor(&mut conn, "indexer").unwrap(), 0);
        let events = outbox::events_after(&mut conn, 0, 10).unwrap();
        assert_eq!(
            events.iter().map(|e| e.event_type.as_str()).collect::<Vec<_>>(),
            ["listing.published", "listing.withdrawn"]
        );
        outbox::advance_cursor(&mut conn, "indexer", first).unwrap();
        let position = outbox::cursor(&mut conn, "indexer").unwrap();
        assert_eq!(outbox::events_after(&mut conn, position, 10).unwrap().len(), 1);
        outbox::advance_cursor(&mut conn, "indexer", second).unwrap();
        // A late, smaller position never moves a cursor back.
        outbox::advance_cursor(&mut conn, "indexer", first).unwrap();
        assert_eq!(outbox::cursor(&mut conn, "indexer").unwrap(), second);
    });
}

/// On PostgreSQL a transaction can commit after one that took a larger
/// event id. A consumer passes the gap only when the database says no open
/// transaction can fill it — never by the clock (a slow transaction's
/// event used to be skipped for good once the gap was 10 s old).
#[test]
fn a_gap_in_event_ids_is_passed_only_once_no_open_transaction_can_fill_it() {
    let Some(t) = TestDatabase::postgres() else { return };
    let (mut slow, mut fast, mut consumer) = (t.connect(), t.connect(), t.connect());
    let emit = |conn: &mut AnyConnection, id: &str| {
        outbox::emit(conn, "listing.published", "listing", id, &serde_json::json!({})).unwrap()
    };
    let ready = |conn: &mut AnyConnection, cursor| {
        outbox::ready_after(conn, cursor, 100).unwrap().into_iter().map(|e| e.aggregate_id).collect::<Vec<_>>()
    };
    // The slow transaction takes its id first; the fast one commits first.
    slow.batch_execute("BEGIN").unwrap();
    let held = emit(&mut slow, "slow");
    emit(&mut fast, "fast");
    assert!(ready(&mut consumer, 0).is_empty(), "the gap may still fill");
    assert_eq!(outbox::settled_position(&mut consumer).unwrap(), 0);
    // However long it takes, the slow event is not lost (the clock rule
    // this replaces gave up on a gap after 10 s).
    std::thread::sleep(std::time::Duration::from_millis(10_500));
    assert!(ready(&mut consumer, 0).is_empty());
    slow.batch_execute("COMMIT").unwrap();
    assert_eq!(ready(&mut consumer, 0), ["slow", "fast"]);
    let last = outbox::last_id(&mut consumer).unwrap();

    // A transaction rolled back leaves a gap for ever: passed once it ended.
    slow.batch_execute("BEGIN").unwrap();
    emit(&mut slow, "rolled back");
    emit(&mut fast, "after");
    assert!(ready(&mut consumer, last).is_empty());
    slow.batch_execute("ROLLBACK").unwrap();
    // Once every transaction older than the later event has ended: other
    // tests' transactions on the same server hold that back for a moment.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let mut passed = ready(&mut consumer, last);
    while passed.is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
        passed = ready(&mut consumer, last);
    }
    assert_eq!(passed, ["after"]);
    assert!(held < last);
    assert!(outbox::settled_position(&mut consumer).unwrap() > last);
}

#[test]
fn a_failed_write_transaction_leaves_nothing() {
    on_both(|t| {
        let mut conn = t.connect();
        let result: Result<(), diesel::result::Error> = techtrade_db::write_transaction(&mut conn, |conn| {
            outbox::emit(conn, "x.happened", "x", "1", &serde_json::json!({}))?;
            Err(diesel::result::Error::RollbackTransaction)
        });
        assert!(result.is_err());
        assert!(outbox::events_after(&mut conn, 0, 10).unwrap().is_empty());
        // The connection is usable afterwards, and nesting uses savepoints.
        techtrade_db::write_transaction(&mut conn, |conn| {
            outbox::emit(conn, "x.happened", "x", "2", &serde_json::json!({}))?;
            let inner: Result<(), diesel::result::Error> = techtrade_db::write_transaction(conn, |conn| {
                outbox::emit(conn, "x.happened", "x", "3", &serde_json::json!({}))?;
                Err(diesel::result::Error::RollbackTransaction)
            });
            assert!(inner.is_err());
            Ok::<_, diesel::result::Error>(())
        })
        .unwrap();
        let ids: Vec<String> =
            outbox::events_after(&mut conn, 0, 10).unwrap().into_iter().map(|e| e.aggregate_id).collect();
        assert_eq!(ids, ["2"]);
    });
}
