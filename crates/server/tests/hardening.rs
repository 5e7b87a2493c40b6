//! The binary's safeguards as an operator meets them: `techtrade audit
//! verify` catches an edited audit row and a rewrite of the whole chain by
//! someone with only database access, and no secret of the configuration
//! ever reaches the logs.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use diesel::RunQueryDsl;
use techtrade_db::DatabaseUrl;
use techtrade_db::testing::TestDatabase;

fn techtrade(dir: &Path, database_url: &str, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_techtrade"))
        .args(args)
        .current_dir(dir)
        .env("TECHTRADE_CONFIG_DIR", dir.join("config"))
        .env("TECHTRADE__DATA_DIR", dir.join("data"))
        .env("TECHTRADE__DATABASE__URL", database_url)
        .env_remove("TECHTRADE_PROFILE")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A SQLite file in `dir`, and a database of its own on the test PostgreSQL
/// server when there is one (kept alive by the returned handle).
fn databases(dir: &Path) -> Vec<(String, Option<TestDatabase>)> {
    let mut all = vec![(format!("sqlite://{}", dir.join("audit.sqlite3").display()), None)];
    if let Some(pg) = TestDatabase::postgres() {
        let DatabaseUrl::Postgres(url) = &pg.url else { unreachable!() };
        all.push((url.clone(), Some(pg)));
    }
    all
}

/// Three staff accounts made with `techtrade admin create-user`: three audit records.
fn create_three_users(dir: &Path, url: &str, role: &str) {
    for n in 1..=3 {
        let email = format!("{role}{n}@kjt.gov.cn");
        let args = ["admin", "create-user", "--role", role, "--email", &email, "--name", "职员"];
        let created = techtrade(dir, url, &args, "a long enough password 1\n");
        assert!(created.status.success(), "{}", text(&created.stderr));
    }
}

/// Drops the trigger that refuses edits of the audit log, as an intruder with database access would.
fn drop_update_guard(conn: &mut techtrade_db::AnyConnection) {
    let drop_trigger = match conn {
        techtrade_db::AnyConnection::Sqlite(_) => "DROP TRIGGER audit_log_no_update",
        techtrade_db::AnyConnection::Postgresql(_) => "DROP TRIGGER audit_log_no_update ON audit_log",
    };
    diesel::sql_query(drop_trigger).execute(conn).unwrap();
}

#[test]
fn audit_verify_passes_an_intact_log_and_names_the_first_edited_row() {
    let dir = tempfile::tempdir().unwrap();
    for (url, _keep) in databases(dir.path()) {
        create_three_users(dir.path(), &url, "official");
        let intact = techtrade(dir.path(), &url, &["audit", "verify"], "");
        assert!(intact.status.success(), "{}", text(&intact.stderr));
        assert!(text(&intact.stdout).contains("audit log intact: 3 entries verified"), "{}", text(&intact.stdout));

        // Someone with database access edits the second entry, having first
        // removed the trigger that refuses it.
        let mut conn = DatabaseUrl::parse(&url).unwrap().establish().unwrap();
        drop_update_guard(&mut conn);
        let edited = diesel::sql_query("UPDATE audit_log SET subject_id = 'someone-else' WHERE seq = 2")
            .execute(&mut conn)
            .unwrap();
        assert_eq!(edited, 1);

        let broken = techtrade(dir.path(), &url, &["audit", "verify"], "");
        assert_eq!(broken.status.code(), Some(1), "{}", text(&broken.stdout));
        let message = text(&broken.stderr);
        assert!(message.contains("audit log BROKEN: audit entry 2 does not match its hash"), "{message}");
    }
}

/// What someone with write access to the database but not the audit key
/// can do: rewrite every record and recompute every hash so that the chain
/// links up again. Without the key the hash is a plain SHA-256 over the
/// same fields (`keyed` says which the verifier is to expect).
fn rewrite_whole_chain(conn: &mut techtrade_db::AnyConnection, keyed: bool) {
    use diesel::prelude::*;
    use sha2::{Digest, Sha256};
    use techtrade_db::audit::AuditRecord;
    use techtrade_db::schema::{audit_chain, audit_log};

    let records: Vec<AuditRecord> =
        audit_log::table.order(audit_log::seq.asc()).select(AuditRecord::as_select()).load(conn).unwrap();
    let mut previous = "0".repeat(64);
    for mut record in records {
        if record.seq == 2 {
            record.subject_id = "someone-else".into();
        }
        let fields = [
            record.seq.to_string(),
            record.actor_user_id.clone().unwrap_or_default(),
            record.action.clone(),
            record.subject_type.clone(),
            record.subject_id.clone(),
            record.before_state.clone().unwrap_or_default(),
            record.after_state.clone().unwrap_or_default(),
            record.request_id.clone().unwrap_or_default(),
            record.created_at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string(),
            previous.clone(),
        ];
        let mut hasher = Sha256::new();
        for field in fields {
            hasher.update((field.len() as u64).to_be_bytes());
            hasher.update(field.as_bytes());
        }
        let hash = hex::encode(hasher.finalize());
        diesel::update(audit_log::table.find(record.seq))
            .set((
                audit_log::subject_id.eq(&record.subject_id),
                audit_log::prev_hash.eq(&previous),
                audit_log::hash.eq(&hash),
                audit_log::keyed.eq(keyed),
            ))
            .execute(conn)
            .unwrap();
        previous = hash;
    }
    diesel::update(audit_chain::table.find(1)).set(audit_chain::last_hash.eq(&previous)).execute(conn).unwrap();
}

#[test]
fn a_rewrite_of_the_whole_chain_without_the_key_is_detected() {
    let base = tempfile::tempdir().unwrap();
    for (url, _keep) in databases(base.path()) {
        // A data directory of its own per database: its key file and checkpoints.
        let dir = tempfile::tempdir().unwrap();
        create_three_users(dir.path(), &url, "auditor");
        // No key configured: the first command made a key file, owner-only.
        let key_file = dir.path().join("data/audit.key");
        assert_eq!(std::fs::read_to_string(&key_file).unwrap().trim().len(), 64);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&key_file).unwrap().permissions().mode() & 0o777, 0o600);
        }
        let checkpoint = techtrade(dir.path(), &url, &["audit", "checkpoint"], "");
        assert!(checkpoint.status.success(), "{}", text(&checkpoint.stderr));
        assert!(text(&checkpoint.stdout).starts_with("checkpoint 3 "), "{}", text(&checkpoint.stdout));
        let again = techtrade(dir.path(), &url, &["audit", "checkpoint"], "");
        assert!(text(&again.stdout).contains("is up to date"), "{}", text(&again.stdout));
        let intact = techtrade(dir.path(), &url, &["audit", "verify"], "");
        assert!(intact.status.success(), "{}", text(&intact.stderr));
        assert!(text(&intact.stdout).contains("3 entries verified (0 from before the chain was keyed), 1 checkpoints"));

        let mut conn = DatabaseUrl::parse(&url).unwrap().establish().unwrap();
        drop_update_guard(&mut conn);

        // Recomputed without the key: the first record already fails.
        rewrite_whole_chain(&mut conn, true);
        let forged = techtrade(dir.path(), &url, &["audit", "verify"], "");
        assert_eq!(forged.status.code(), Some(1));
        assert!(text(&forged.stderr).contains("audit entry 1 does not match its hash"), "{}", text(&forged.stderr));

        // Passed off as records older than the key: a consistent unkeyed
        // chain, which only the checkpoint outside the database exposes.
        rewrite_whole_chain(&mut conn, false);
        let forged = techtrade(dir.path(), &url, &["audit", "verify"], "");
        assert_eq!(forged.status.code(), Some(1));
        assert!(text(&forged.stderr).contains("checkpoint 3 recorded hash"), "{}", text(&forged.stderr));
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn http(port: u16, request: &str) -> std::io::Result<String> {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port))?;
    stream.write_all(request.as_bytes())?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    Ok(response)
}

fn post_json(port: u16, path: &str, body: &str) -> String {
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    http(port, &request).unwrap()
}

/// The server at debug level, with every secret of the configuration set,
/// serving requests that carry a password, sending mail that fails: none of
/// the secrets appears in what it writes.
#[test]
fn secrets_never_reach_the_logs() {
    let dir = tempfile::tempdir().unwrap();
    let database = TestDatabase::postgres();
    // The PostgreSQL test server trusts local connections, so a password in
    // the URL is accepted and ignored: exactly what the log must not show.
    let database_password = "Pg-Secret-4711";
    let url = match &database {
        Some(pg) => {
            let DatabaseUrl::Postgres(url) = &pg.url else { unreachable!() };
            url.replacen("://postgres@", &format!("://postgres:{database_password}@"), 1)
        }
        None => format!("sqlite://{}", dir.path().join("secrets.sqlite3").display()),
    };
    let stripe_key = "sk_test_NeverLogThisKey0123456789";
    let webhook_secret = "whsec_NeverLogThisEither0123";
    let smtp_password = "Smtp-Secret-0815";
    let meili_key = "Meili-Master-Key-42";
    let user_password = "User-Password-Secret-99";
    let smtp_port = free_port(); // nothing listens: every send fails and is logged
    let port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_techtrade"))
        .arg("serve")
        .current_dir(dir.path())
        .env("TECHTRADE_CONFIG_DIR", dir.path().join("config"))
        .env("TECHTRADE__DATA_DIR", dir.path().join("data"))
        .env("TECHTRADE__DATABASE__URL", &url)
        .env("TECHTRADE__SERVER__LISTEN", format!("127.0.0.1:{port}"))
        .env("TECHTRADE__PAYMENTS__STRIPE_SECRET_KEY", stripe_key)
        .env("TECHTRADE__PAYMENTS__STRIPE_WEBHOOK_SECRET", webhook_secret)
        .env("TECHTRADE__PAYMENTS__STRIPE_API_BASE", "http://127.0.0.1:9")
        .env("TECHTRADE__MAIL__ENABLED", "true")
        .env("TECHTRADE__MAIL__TRANSPORT", "smtp")
        .env("TECHTRADE__MAIL__SMTP_URL", format!("smtp://mailer:{smtp_password}@127.0.0.1:{smtp_port}"))
        .env("TECHTRADE__MAIL__POLL_INTERVAL_MS", "100")
        .env("TECHTRADE__SEARCH__MEILISEARCH_KEY", meili_key)
        .env("RUST_LOG", "debug")
        .env_remove("TECHTRADE_PROFILE")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while http(port, "GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").is_err() {
        assert!(Instant::now() < deadline, "the server did not come up");
        std::thread::sleep(Duration::from_millis(100));
    }
    // A registration (its welcome email then fails over SMTP), a login, a
    // bad login, a webhook with a wrong signature.
    let credit_code = techtrade_domain::CreditCode::complete("91630100MA0000001").unwrap();
    let registration = format!(
        r#"{{"organization": {{"name": "日志测试单位", "kind": "enterprise", "credit_code": "{credit_code}", "region_code": "630100"}},
            "user": {{"email": "logs@example.cn", "password": "{user_password}", "name": "日志"}}}}"#
    );
    let registered = post_json(port, "/api/v1/organizations", &registration);
    let login = post_json(
        port,
        "/api/v1/auth/login",
        &format!(r#"{{"email": "logs@example.cn", "password": "{user_password}"}}"#),
    );
    post_json(
        port,
        "/api/v1/auth/login",
        &format!(r#"{{"email": "logs@example.cn", "password": "{user_password}x"}}"#),
    );
    post_json(port, "/api/v1/webhooks/stripe", r#"{"id": "evt_1"}"#);
    // Long enough for the notifier to try (and fail) the welcome email.
    std::thread::sleep(Duration::from_secs(3));
    child.kill().unwrap();
    let mut logs = String::new();
    child.stdout.take().unwrap().read_to_string(&mut logs).unwrap();
    child.stderr.take().unwrap().read_to_string(&mut logs).unwrap();
    child.wait().unwrap();

    assert!(registered.starts_with("HTTP/1.1 201"), "{registered}");
    let token = login.split("\"token\":\"").nth(1).and_then(|rest| rest.split('"').next()).unwrap_or_default();
    assert!(logs.contains("techtrade is serving"), "the logs were captured: {logs}");
    assert!(logs.contains("email not sent"), "the SMTP failure path was taken: {logs}");
    let mut secrets = vec![stripe_key, webhook_secret, smtp_password, meili_key, user_password];
    if database.is_some() {
        secrets.push(database_password);
    }
    if !token.is_empty() {
        secrets.push(token);
    }
    for secret in secrets {
        assert!(!logs.contains(secret), "a secret is in the logs: {secret}");
    }
}
