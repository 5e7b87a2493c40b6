//! Scale-out on PostgreSQL: two API replicas (`serve --no-workers`) and two
//! `techtrade worker`s on one database. Writes go through both APIs at
//! once; the worker holding the email consumer is killed (SIGKILL) halfway.
//! Afterwards every event has been consumed, every email planned once and
//! written once (the .eml files of both workers, by Message-ID), every
//! saved-search alert raised once, and both APIs answer the same.
//!
//! Runs only with `TECHTRADE_TEST_POSTGRES_URL` (and must, with
//! `TECHTRADE_TEST_REQUIRE_POSTGRES=1`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use techtrade_db::emails::{self, EmailStatus, SentEmail};
use techtrade_db::testing::TestDatabase;
use techtrade_db::{AnyConnection, DatabaseUrl, leases, outbox};

const ORGS: usize = 12;
const LEASE_SECONDS: u64 = 3;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The processes of the test, killed however the test ends.
struct Processes(Vec<(String, Child)>);

impl Drop for Processes {
    fn drop(&mut self) {
        for (_, child) in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A `techtrade` command on the test database, cheap password hashing,
/// quick polling and short leases, with `dir` as its data directory.
fn techtrade(dir: &Path, url: &str, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_techtrade"));
    command
        .args(args)
        .current_dir(dir)
        .env("TECHTRADE_CONFIG_DIR", dir.join("config"))
        .env_remove("TECHTRADE_PROFILE")
        .env("TECHTRADE__DATA_DIR", dir.join("data"))
        .env("TECHTRADE__DATABASE__URL", url)
        .env("TECHTRADE__DATABASE__MIGRATE_ON_START", "false")
        .env("TECHTRADE__AUTH__PASSWORD_MEMORY_KIB", "1024")
        .env("TECHTRADE__AUTH__PASSWORD_ITERATIONS", "1")
        .env("TECHTRADE__MAIL__POLL_INTERVAL_MS", "100")
        // A send cut short by the kill is given up as `unknown` after twice
        // this (instead of a minute), so the test need not wait for it.
        .env("TECHTRADE__MAIL__SEND_TIMEOUT_SECONDS", "2")
        .env("TECHTRADE__MAIL__SMTP_TIMEOUT_SECONDS", "2")
        .env("TECHTRADE__WORKERS__LEASE_SECONDS", LEASE_SECONDS.to_string())
        .env("RUST_LOG", "info,tower_http=warn");
    command
}

fn spawn(processes: &mut Processes, name: &str, dir: &Path, mut command: Command) {
    let log = std::fs::File::create(dir.join(format!("{name}.log"))).unwrap();
    let child = command.stdout(log.try_clone().unwrap()).stderr(log).stdin(Stdio::null()).spawn().unwrap();
    processes.0.push((name.to_string(), child));
}

struct Response {
    status: u16,
    json: Value,
}

/// One HTTP/1.1 request to 127.0.0.1:`port`.
fn http(port: u16, method: &str, path: &str, token: Option<&str>, body: Option<&Value>) -> std::io::Result<Response> {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let body = body.map(Value::to_string).unwrap_or_default();
    let auth = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n{auth}\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let json = serde_json::from_str(body).unwrap_or(Value::Null);
    Ok(Response { status, json })
}

fn call(port: u16, method: &str, path: &str, token: Option<&str>, body: Option<Value>) -> Value {
    let response = http(port, method, path, token, body.as_ref()).unwrap();
    assert!((200..300).contains(&response.status), "{method} {path} on {port}: {} {}", response.status, response.json);
    response.json
}

/// Polls `check` every 100 ms until it holds, failing after `limit`.
fn wait_until(what: &str, limit: Duration, mut check: impl FnMut() -> bool) {
    wait_showing(what, limit, || (check(), String::new()));
}

/// As [`wait_until`], with `check` also describing what it saw, for the
/// failure message.
fn wait_showing(what: &str, limit: Duration, mut check: impl FnMut() -> (bool, String)) {
    let deadline = Instant::now() + limit;
    loop {
        let (done, seen) = check();
        if done {
            return;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}: {seen}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn credit_code(n: usize) -> String {
    techtrade_domain::CreditCode::complete(&format!("91630100MA{n:07}")).unwrap().to_string()
}

struct Org {
    token: String,
    port: u16,
}

fn register(port: u16, n: usize) -> Org {
    let (email, password) = (format!("scale{n}@example.cn"), format!("password-{n}"));
    call(
        port,
        "POST",
        "/api/v1/organizations",
        None,
        Some(json!({
            "organization": {"name": format!("扩展测试单位{n}"), "kind": "enterprise",
                             "credit_code": credit_code(n), "region_code": "630100"},
            "user": {"email": email, "password": password, "name": format!("成员{n}")},
        })),
    );
    let login = call(port, "POST", "/api/v1/auth/login", None, Some(json!({"email": email, "password": password})));
    Org { token: login["token"].as_str().unwrap().to_string(), port }
}

fn listing_body(n: usize) -> Value {
    json!({
        "kind": "achievement",
        "title": format!("盐湖卤水提锂吸附剂第{n}号"),
        "summary": "适用于高镁锂比卤水的吸附提锂，已完成中试。",
        "ipc": ["C22B 26/12"],
        "maturity": "pilot",
        "trade_modes": ["assignment"],
        "price_fen": 150_000_000 + n as i64,
        "negotiable": false,
        "region_code": "632801",
    })
}

/// Creates, submits and (as the official, through the other API) approves
/// a listing; returns its id.
fn publish(org: &Org, other_port: u16, official: &str, n: usize) -> String {
    let created = call(org.port, "POST", "/api/v1/listings", Some(&org.token), Some(listing_body(n)));
    let id = created["id"].as_str().unwrap().to_string();
    call(org.port, "POST", &format!("/api/v1/listings/{id}/submit"), Some(&org.token), None);
    call(
        other_port,
        "POST",
        &format!("/api/v1/listings/{id}/review"),
        Some(official),
        Some(json!({"decision": "approve"})),
    );
    id
}

fn all_emails(conn: &mut AnyConnection) -> Vec<SentEmail> {
    EmailStatus::ALL.into_iter().flat_map(|s| emails::with_status(conn, s, 100_000).unwrap()).collect()
}

/// The Message-ID of each .eml file under `dir`; `None` for a file cut off
/// before its headers were written (a worker killed mid-write leaves one).
fn written_message_ids(dir: &Path) -> Vec<Option<String>> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    entries
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "eml"))
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            let line = text.lines().find(|l| l.to_ascii_lowercase().starts_with("message-id:"))?;
            Some(line.split_once(':')?.1.trim().to_string())
        })
        .collect()
}

fn pid_of(holder: &str) -> Option<u32> {
    holder.split(':').nth(1)?.parse().ok()
}

#[test]
fn two_apis_and_two_workers_process_every_event_once_and_survive_a_killed_worker() {
    let Some(database) = TestDatabase::postgres() else { return };
    let DatabaseUrl::Postgres(url) = database.url.clone() else { unreachable!() };
    let root = tempfile::tempdir().unwrap();
    let dirs: Vec<PathBuf> = ["api1", "api2", "worker1", "worker2"].iter().map(|n| root.path().join(n)).collect();
    for dir in &dirs {
        std::fs::create_dir_all(dir).unwrap();
    }

    // An official to approve listings, as operators create one.
    let mut admin = techtrade(
        &dirs[0],
        &url,
        &["admin", "create-user", "--role", "official", "--email", "reviewer@kjt.qinghai.gov.cn", "--name", "审核员"],
    )
    .stdin(Stdio::piped())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    admin.stdin.take().unwrap().write_all(b"reviewer-password-1\n").unwrap();
    let output = admin.wait_with_output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));

    let mut processes = Processes(Vec::new());
    let api_ports = [free_port(), free_port()];
    for (i, port) in api_ports.iter().enumerate() {
        let mut command = techtrade(&dirs[i], &url, &["serve", "--no-workers"]);
        command.env("TECHTRADE__SERVER__LISTEN", format!("127.0.0.1:{port}"));
        spawn(&mut processes, &format!("api{}", i + 1), &dirs[i], command);
    }
    let health_ports = [free_port(), free_port()];
    let mut worker_pids = Vec::new();
    for (i, port) in health_ports.iter().enumerate() {
        let mut command = techtrade(&dirs[2 + i], &url, &["worker"]);
        command.env("TECHTRADE__WORKERS__HEALTH_LISTEN", format!("127.0.0.1:{port}"));
        spawn(&mut processes, &format!("worker{}", i + 1), &dirs[2 + i], command);
        worker_pids.push(processes.0.last().unwrap().1.id());
    }
    for port in api_ports.iter().chain(&health_ports) {
        wait_until(&format!("readiness on {port}"), Duration::from_secs(30), || {
            http(*port, "GET", "/readyz", None, None).is_ok_and(|r| r.status == 200)
        });
    }

    let official = call(
        api_ports[0],
        "POST",
        "/api/v1/auth/login",
        None,
        Some(json!({"email": "reviewer@kjt.qinghai.gov.cn", "password": "reviewer-password-1"})),
    )["token"]
        .as_str()
        .unwrap()
        .to_string();
    // The command line chose the password: the reviewer sets their own first.
    let change = json!({"current": "reviewer-password-1", "new": "reviewer-password-2"});
    http(api_ports[0], "POST", "/api/v1/me/password", Some(&official), Some(&change)).unwrap();
    // A buyer whose saved search every listing below matches.
    let watcher = register(api_ports[1], 0);
    call(
        watcher.port,
        "POST",
        "/api/v1/saved-searches",
        Some(&watcher.token),
        Some(json!({"query": {"region": "63"}, "notify": "email"})),
    );

    // Writes through both APIs at once, in two waves; between them the
    // worker holding the email consumer is killed.
    let wave = |range: std::ops::Range<usize>| -> Vec<String> {
        std::thread::scope(|scope| {
            let handles: Vec<_> = range
                .map(|n| {
                    let official = official.clone();
                    scope.spawn(move || {
                        let (port, other) = (api_ports[n % 2], api_ports[(n + 1) % 2]);
                        let org = register(port, n);
                        publish(&org, other, &official, n)
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        })
    };
    let mut listing_ids = wave(1..ORGS / 2 + 1);

    let mut conn = database.connect();
    let notify_holder = {
        let mut holder = None;
        wait_until("a worker to hold the email consumer", Duration::from_secs(20), || {
            holder = leases::all(&mut conn).unwrap().into_iter().find(|l| l.consumer == "notify").map(|l| l.holder);
            holder.is_some()
        });
        holder.unwrap()
    };
    let victim_pid = pid_of(&notify_holder).unwrap();
    let victim = processes.0.iter().position(|(_, c)| c.id() == victim_pid).expect("the holder is one of the workers");
    processes.0[victim].1.kill().unwrap(); // SIGKILL: no shutdown, the lease is not given back
    processes.0[victim].1.wait().unwrap();

    listing_ids.extend(wave(ORGS / 2 + 1..ORGS + 1));

    // Quiet: both cursors at the last event (alerts add events the mailer
    // then reads), the email consumer taken over, nothing left to send.
    wait_until("the consumers to catch up", Duration::from_secs(45), || {
        let last = outbox::last_id(&mut conn).unwrap();
        let cursors_done =
            ["notify", "saved_search_alerts"].iter().all(|c| outbox::cursor(&mut conn, c).unwrap() == last);
        let emails = all_emails(&mut conn);
        let in_flight = emails.iter().any(|e| ["pending", "sending", "retrying"].contains(&e.status.as_str()));
        cursors_done && !in_flight && outbox::last_id(&mut conn).unwrap() == last
    });
    let leases = leases::all(&mut conn).unwrap();
    for consumer in ["notify", "saved_search_alerts"] {
        let lease = leases.iter().find(|l| l.consumer == consumer).unwrap();
        assert_ne!(pid_of(&lease.holder), Some(victim_pid), "{consumer} was taken over from the killed worker");
        assert!(worker_pids.contains(&pid_of(&lease.holder).unwrap()));
    }

    // Every event that asks for an email has its emails, each planned once
    // (the UNIQUE constraint) and written once (by Message-ID across both
    // workers' mail directories, the killed one's included).
    let events = outbox::events_after(&mut conn, 0, 100_000).unwrap();
    let emails = all_emails(&mut conn);
    let by_event: BTreeMap<i64, Vec<&SentEmail>> = emails.iter().fold(BTreeMap::new(), |mut map, e| {
        map.entry(e.outbox_event_id).or_default().push(e);
        map
    });
    let count_of = |event_type: &str| events.iter().filter(|e| e.event_type == event_type).count();
    assert_eq!(count_of("organization.registered"), ORGS + 1);
    assert_eq!(count_of("listing.published"), ORGS);
    assert_eq!(count_of("saved_search.matched"), ORGS, "one alert per listing, none twice");
    for event in &events {
        let wanted = match event.event_type.as_str() {
            // A submitted listing goes to the officials' queue: the one official here.
            "organization.registered" | "listing.published" | "listing.submitted" | "saved_search.matched" => 1,
            _ => 0,
        };
        let planned = by_event.get(&event.id).map_or(0, Vec::len);
        assert_eq!(planned, wanted, "emails of event {} {}", event.id, event.event_type);
    }
    let matched: BTreeSet<String> = events
        .iter()
        .filter(|e| e.event_type == "saved_search.matched")
        .map(|e| serde_json::from_str::<Value>(&e.payload).unwrap()["item_id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(matched, listing_ids.iter().cloned().collect(), "every listing alerted the watcher once");

    let files: Vec<Option<String>> =
        dirs[2..].iter().flat_map(|dir| written_message_ids(&dir.join("data/mail"))).collect();
    // The killed worker may have been stopped while writing its one email in
    // hand (lettre's file transport writes in place): at most one file cut off.
    let cut_off = files.iter().filter(|f| f.is_none()).count();
    assert!(cut_off <= 1, "{cut_off} email files without headers");
    let mut written: Vec<String> = files.into_iter().flatten().collect();
    written.sort();
    let distinct: BTreeSet<&String> = written.iter().collect();
    assert_eq!(distinct.len(), written.len(), "an email was written twice: {written:?}");
    let sent: BTreeSet<&String> =
        emails.iter().filter(|e| e.status == "sent").map(|e| e.message_id.as_ref().unwrap()).collect();
    let unknown: Vec<&SentEmail> = emails.iter().filter(|e| e.status == "unknown").collect();
    // A worker killed between writing a file and recording it leaves at most
    // its one email in hand `unknown` (at most once, by design); all the
    // others are sent.
    assert!(unknown.len() <= 1, "{unknown:?}");
    assert_eq!(sent.len() + unknown.len(), emails.len(), "no email failed");
    assert!(sent.iter().all(|id| distinct.contains(id)), "every email recorded as sent was written");
    assert!(distinct.len() <= sent.len() + unknown.len());

    // Both APIs answer the same, search included (each has its own index).
    for id in &listing_ids {
        let path = format!("/api/v1/listings/{id}");
        let (a, b) = (call(api_ports[0], "GET", &path, None, None), call(api_ports[1], "GET", &path, None, None));
        assert_eq!(a, b);
        assert_eq!(a["status"], "published");
    }
    let search = |port: u16| -> BTreeSet<String> {
        let found = call(port, "GET", "/api/v1/search?per_page=100", None, None);
        found["items"].as_array().unwrap().iter().map(|h| h["id"].as_str().unwrap().to_string()).collect()
    };
    let expected: BTreeSet<String> = listing_ids.iter().cloned().collect();
    wait_until("both APIs' search to show every listing", Duration::from_secs(20), || {
        search(api_ports[0]) == expected && search(api_ports[1]) == expected
    });
}
