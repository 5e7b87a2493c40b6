//! The notify worker inside the `techtrade` binary, against a real SMTP
//! server process (aiosmtpd): killed between sending and recording, it
//! never sends the same email again; `serve` delivers in the background;
//! with no configuration mail lands as .eml files.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use techtrade_db::emails::{self, EmailStatus, SentEmail};
use techtrade_db::testing::TestDatabase;
use techtrade_db::{AnyConnection, DatabaseUrl, outbox};
use techtrade_notify::events::samples;
use techtrade_notify::testing::SmtpSink;

/// The binary with a database and mail settings; `env` adds variables.
fn techtrade(dir: &Path, database: &TestDatabase, args: &[&str], env: &[(&str, String)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_techtrade"));
    command
        .args(args)
        .current_dir(dir)
        .env("TECHTRADE_CONFIG_DIR", dir.join("config"))
        .env("TECHTRADE__DATA_DIR", dir.join("data"))
        .env("TECHTRADE__DATABASE__URL", database_url(database))
        .env_remove("TECHTRADE_PROFILE")
        .env_remove("TECHTRADE_FAILPOINT")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (key, value) in env {
        command.env(key, value);
    }
    command
}

fn database_url(database: &TestDatabase) -> String {
    match &database.url {
        DatabaseUrl::Postgres(url) => url.clone(),
        DatabaseUrl::Sqlite(path) => format!("sqlite://{}", path.display()),
    }
}

fn smtp_env(sink: &SmtpSink) -> Vec<(&'static str, String)> {
    vec![
        ("TECHTRADE__MAIL__TRANSPORT", "smtp".into()),
        ("TECHTRADE__MAIL__SMTP_URL", sink.url()),
        ("TECHTRADE__MAIL__FROM", "技术交易市场 <noreply@market.example.cn>".into()),
        // A short transaction bound, so the lease (twice it) ends soon.
        ("TECHTRADE__MAIL__SEND_TIMEOUT_SECONDS", "2".into()),
        ("TECHTRADE__MAIL__SMTP_TIMEOUT_SECONDS", "2".into()),
        ("TECHTRADE__MAIL__POLL_INTERVAL_MS", "100".into()),
    ]
}

fn run(command: &mut Command) -> Output {
    command.output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The seller with a Chinese-reading member, the buyer with an English one.
fn seed(conn: &mut AnyConnection) {
    use techtrade_db::accounts::{self, Organization, User};
    let now = techtrade_db::now();
    for (id, name, code, user, email, locale) in [
        (
            samples::SELLER,
            "青海盐湖新材料研究院",
            "12630000MB0000001X",
            "user-seller",
            "lisi@seller.example.cn",
            "zh-CN",
        ),
        (
            samples::BUYER,
            "西宁高原光伏科技有限公司",
            "91630100MA0000002X",
            "user-buyer",
            "jane@buyer.example.com",
            "en",
        ),
    ] {
        let organization = Organization {
            id: id.into(),
            name: name.into(),
            kind: "enterprise".into(),
            credit_code: code.into(),
            region_code: "630100".into(),
            created_at: now,
            updated_at: now,
            version: 1,
        };
        accounts::insert_organization(conn, &organization).unwrap();
        let member = User {
            id: user.into(),
            organization_id: Some(id.into()),
            email: email.into(),
            name: if locale == "en" { "Jane Doe".into() } else { "李四".into() },
            password_hash: "-".into(),
            role: "member".into(),
            locale: locale.into(),
            disabled_at: None,
            created_at: now,
            updated_at: now,
            version: 1,
            organization_role: "member".into(),
            password_changed_at: None,
            must_change_password: false,
        };
        accounts::insert_user(conn, &member).unwrap();
    }
}

fn emit_sample(conn: &mut AnyConnection, event_type: &str) {
    let (_, aggregate, payload) = samples::all().into_iter().find(|(e, ..)| *e == event_type).unwrap();
    outbox::emit(conn, event_type, aggregate, "agg-1", &payload).unwrap();
}

fn all_emails(conn: &mut AnyConnection) -> Vec<SentEmail> {
    EmailStatus::ALL.into_iter().flat_map(|s| emails::with_status(conn, s, 100).unwrap()).collect()
}

fn count(emails: &[SentEmail], status: &str) -> usize {
    emails.iter().filter(|e| e.status == status).count()
}

/// Writes the test body once, as `<name>::sqlite` and `<name>::postgres`.
macro_rules! on_both_databases {
    ($name:ident) => {
        mod $name {
            #[test]
            fn sqlite() {
                super::$name(techtrade_db::testing::TestDatabase::sqlite())
            }

            #[test]
            fn postgres() {
                if let Some(database) = techtrade_db::testing::TestDatabase::postgres() {
                    super::$name(database)
                }
            }
        }
    };
}

/// The process aborts right after the SMTP server accepted the first email
/// and before recording it (failpoint `notify_after_send`). Restarted, it
/// delivers the others and leaves the interrupted one alone; once that
/// claim's lease has ended it is marked `unknown`, and the server holds
/// exactly one copy of every email.
fn a_worker_killed_after_sending_never_sends_twice(database: TestDatabase) {
    let dir = tempfile::tempdir().unwrap();
    let mut conn = database.connect();
    seed(&mut conn);
    emit_sample(&mut conn, "deal.completed"); // to both parties
    emit_sample(&mut conn, "payment.recorded"); // to the seller
    let sink = SmtpSink::start();

    let crashed = run(techtrade(dir.path(), &database, &["notify", "run", "--once"], &smtp_env(&sink))
        .env("TECHTRADE_FAILPOINT", "notify_after_send"));
    assert!(!crashed.status.success(), "the failpoint aborts the process");
    assert!(text(&crashed.stderr).contains("failpoint notify_after_send"), "{}", text(&crashed.stderr));
    let messages = sink.wait_for(1, Duration::from_secs(5));
    assert_eq!(messages.len(), 1, "one email was sent before the crash");
    let rows = all_emails(&mut conn);
    assert_eq!((rows.len(), count(&rows, "sending"), count(&rows, "pending")), (3, 1, 2), "{rows:?}");
    let interrupted = rows.iter().find(|e| e.status == "sending").unwrap().clone();
    assert_eq!(messages[0].message_id, format!("<{}@market.example.cn>", interrupted.id));

    // Restarted: the other two go out; the interrupted one is not resent.
    let restarted = run(&mut techtrade(dir.path(), &database, &["notify", "run", "--once"], &smtp_env(&sink)));
    assert!(restarted.status.success(), "{}", text(&restarted.stderr));
    let messages = sink.wait_for(3, Duration::from_secs(5));
    assert_eq!(messages.len(), 3);

    // After the lease: `unknown`, still one copy.
    let lease_until = emails::for_event(&mut conn, interrupted.outbox_event_id)
        .unwrap()
        .into_iter()
        .find(|e| e.id == interrupted.id)
        .and_then(|e| e.lease_until);
    if let Some(lease_until) = lease_until {
        let wait = (lease_until - techtrade_db::now()).to_std().unwrap_or_default();
        std::thread::sleep(wait + Duration::from_millis(300));
    }
    let after = run(&mut techtrade(dir.path(), &database, &["notify", "run", "--once"], &smtp_env(&sink)));
    assert!(after.status.success(), "{}", text(&after.stderr));
    assert!(text(&after.stdout).contains("0 sent"), "{}", text(&after.stdout));
    // Marked by whichever run found the lease ended (the restart, on a slow machine).
    let logs = text(&restarted.stderr) + &text(&after.stderr);
    assert_eq!(logs.matches("email delivery unknown").count(), 1, "the operator is told once: {logs}");

    std::thread::sleep(Duration::from_millis(300));
    let messages = sink.messages();
    assert_eq!(messages.len(), 3, "no email was sent twice");
    let mut ids: Vec<&str> = messages.iter().map(|m| m.message_id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 3);
    let rows = all_emails(&mut conn);
    assert_eq!((count(&rows, "sent"), count(&rows, "unknown")), (2, 1), "{rows:?}");

    let status = run(&mut techtrade(dir.path(), &database, &["notify", "status"], &[]));
    assert!(status.status.success(), "{}", text(&status.stderr));
    let shown = text(&status.stdout);
    assert!(shown.contains("2 sent") && shown.contains("1 unknown"), "{shown}");
    assert!(shown.contains(&format!("unknown {}", interrupted.id)), "{shown}");
}
on_both_databases!(a_worker_killed_after_sending_never_sends_twice);

/// `serve` runs the worker: an event written while it serves is delivered
/// within moments.
fn serve_delivers_emails_in_the_background(database: TestDatabase) {
    let dir = tempfile::tempdir().unwrap();
    let mut conn = database.connect();
    seed(&mut conn);
    let sink = SmtpSink::start();
    let port = techtrade_notify::testing::free_port();
    let mut env = smtp_env(&sink);
    env.push(("TECHTRADE__SERVER__LISTEN", format!("127.0.0.1:{port}")));
    let mut server =
        techtrade(dir.path(), &database, &["serve"], &env).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    emit_sample(&mut conn, "organization.registered");
    let deadline = Instant::now() + Duration::from_secs(60);
    while sink.messages().is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    server.kill().unwrap();
    server.wait().unwrap();
    let messages = sink.messages();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].rcpt_tos, ["lisi@seller.example.cn"]);
    assert_eq!(messages[0].subject, "欢迎加入技术交易市场：青海盐湖新材料研究院 已完成注册");
}
on_both_databases!(serve_delivers_emails_in_the_background);

/// With no mail configuration, `notify run --once` writes the email under
/// `<data_dir>/mail/` for a newcomer to open.
#[test]
fn with_no_configuration_mail_is_written_as_eml_files() {
    let database = TestDatabase::sqlite();
    let dir = tempfile::tempdir().unwrap();
    let mut conn = database.connect();
    seed(&mut conn);
    emit_sample(&mut conn, "payment.confirmed");
    let output = run(&mut techtrade(dir.path(), &database, &["notify", "run", "--once"], &[]));
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(text(&output.stdout).contains("2 sent"), "{}", text(&output.stdout));
    let files: Vec<_> = std::fs::read_dir(dir.path().join("data/mail")).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(files.len(), 2);
    assert!(files.iter().all(|f| f.extension().is_some_and(|e| e == "eml")));
}

/// The SMTP password appears in no log line, even when sending fails.
#[test]
fn the_smtp_password_never_reaches_the_log() {
    let database = TestDatabase::sqlite();
    let dir = tempfile::tempdir().unwrap();
    let mut conn = database.connect();
    seed(&mut conn);
    emit_sample(&mut conn, "payment.recorded");
    let port = techtrade_notify::testing::free_port();
    let env = [
        ("TECHTRADE__MAIL__TRANSPORT", "smtp".to_string()),
        ("TECHTRADE__MAIL__SMTP_URL", format!("smtp+plain://mailer:hunter2@127.0.0.1:{port}")),
        ("RUST_LOG", "debug".to_string()),
    ];
    let output = run(&mut techtrade(dir.path(), &database, &["notify", "run", "--once"], &env));
    assert!(output.status.success(), "{}", text(&output.stderr));
    let logs = text(&output.stderr);
    assert!(logs.contains("email not sent; will retry"), "{logs}");
    assert!(!logs.contains("hunter2") && !text(&output.stdout).contains("hunter2"), "{logs}");
}
