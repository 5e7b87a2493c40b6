//! The `techtrade` binary as operators run it, on SQLite and PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use techtrade_db::DatabaseUrl;
use techtrade_db::testing::TestDatabase;

/// A database for the binary to use, unmigrated, with what keeps it alive.
struct Target {
    url: String,
    _keep: Option<TestDatabase>,
}

fn targets(dir: &Path) -> Vec<Target> {
    let mut targets = vec![Target { url: format!("sqlite://{}", dir.join("cli.sqlite3").display()), _keep: None }];
    if let Some(pg) = TestDatabase::postgres() {
        techtrade_db::migrations::revert_all(&mut pg.connect()).unwrap();
        let DatabaseUrl::Postgres(url) = &pg.url else { unreachable!() };
        targets.push(Target { url: url.clone(), _keep: Some(pg) });
    }
    targets
}

fn techtrade(dir: &Path, database_url: Option<&str>, args: &[&str], stdin: &str) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_techtrade"));
    command
        .args(args)
        .current_dir(dir)
        .env("TECHTRADE_CONFIG_DIR", dir.join("config"))
        .env("TECHTRADE__DATA_DIR", dir.join("data"))
        // The key the test process appends with, so that both write one chain.
        .env("TECHTRADE__AUDIT__KEY", techtrade_db::testing::TEST_AUDIT_KEY)
        .env_remove("TECHTRADE_PROFILE")
        .env_remove("TECHTRADE__DATABASE__URL")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(url) = database_url {
        command.env("TECHTRADE__DATABASE__URL", url);
    }
    let mut child = command.spawn().unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn migrate_dry_run_lists_without_applying() {
    let dir = tempfile::tempdir().unwrap();
    // Every migration the binary embeds, whatever their number.
    let count = techtrade_db::migrations::names_by_dialect().unwrap().0.len();
    for target in targets(dir.path()) {
        let dry = techtrade(dir.path(), Some(&target.url), &["migrate", "--dry-run"], "");
        assert!(dry.status.success(), "{}", stderr(&dry));
        let text = stdout(&dry);
        assert!(text.contains("pending 2026-11-25-000001_foundation"), "{text}");
        assert!(text.contains(&format!("{count} pending migration(s)")) && text.contains("nothing applied"), "{text}");

        let again = techtrade(dir.path(), Some(&target.url), &["migrate", "--dry-run"], "");
        assert!(stdout(&again).contains(&format!("{count} pending")), "a dry run applies nothing");

        let applied = techtrade(dir.path(), Some(&target.url), &["migrate"], "");
        assert!(applied.status.success(), "{}", stderr(&applied));
        let text = stdout(&applied);
        assert!(
            text.contains("applied 2026-11-25-000001_foundation")
                && text.contains(&format!("{count} migration(s) applied")),
            "{text}"
        );

        let after = techtrade(dir.path(), Some(&target.url), &["migrate", "--dry-run"], "");
        assert!(stdout(&after).contains("0 pending"), "{}", stdout(&after));
    }
}

#[test]
fn admin_create_user_reads_the_password_from_stdin() {
    let dir = tempfile::tempdir().unwrap();
    for target in targets(dir.path()) {
        let args = [
            "admin",
            "create-user",
            "--role",
            "official",
            "--email",
            "Reviewer@kjt.qinghai.gov.cn",
            "--name",
            "王审核",
        ];
        let created = techtrade(dir.path(), Some(&target.url), &args, "a long enough password 1\n");
        assert!(created.status.success(), "{}", stderr(&created));
        assert!(stdout(&created).contains("created official"), "{}", stdout(&created));
        assert!(!stdout(&created).contains("a long enough password 1"));

        let url = DatabaseUrl::parse(&target.url).unwrap();
        let mut conn = url.establish().unwrap();
        let user =
            techtrade_db::accounts::find_user_by_email(&mut conn, "reviewer@kjt.qinghai.gov.cn").unwrap().unwrap();
        assert_eq!(user.role, "official");
        let hasher = techtrade_accounts::PasswordHasher::new(1024, 1).unwrap();
        assert!(hasher.verify("a long enough password 1", Some(&user.password_hash)));

        let duplicate = techtrade(dir.path(), Some(&target.url), &args, "another password 2\n");
        assert_eq!(duplicate.status.code(), Some(1));
        assert!(stderr(&duplicate).contains("already registered"), "{}", stderr(&duplicate));

        let short = techtrade(
            dir.path(),
            Some(&target.url),
            &["admin", "create-user", "--role", "admin", "--email", "a@b.cn", "--name", "A"],
            "short\n",
        );
        assert_eq!(short.status.code(), Some(1));
        assert!(stderr(&short).contains("password"), "{}", stderr(&short));

        let empty = techtrade(
            dir.path(),
            Some(&target.url),
            &["admin", "create-user", "--role", "admin", "--email", "a@b.cn", "--name", "A"],
            "",
        );
        assert_eq!(empty.status.code(), Some(2));
    }
}

#[test]
fn openapi_prints_the_document() {
    let dir = tempfile::tempdir().unwrap();
    let output = techtrade(dir.path(), None, &["openapi"], "");
    assert!(output.status.success());
    let doc: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert!(doc["paths"]["/api/v1/organizations"]["post"].is_object());
}

#[test]
fn bad_configuration_exits_2_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("config")).unwrap();
    std::fs::write(dir.path().join("config/default.toml"), "[server]\nlisten = \"everywhere\"\n").unwrap();
    let output = techtrade(dir.path(), None, &["migrate"], "");
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("server.listen"), "{}", stderr(&output));

    let output = techtrade(dir.path(), Some("mysql://root:hunter2@db/tt"), &["migrate"], "");
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("database.url") && !stderr(&output).contains("hunter2"), "{}", stderr(&output));

    let output = techtrade(dir.path(), None, &["no-such-command"], "");
    assert_eq!(output.status.code(), Some(2));
}

/// With no configuration at all, `serve` comes up on SQLite under ./data.
#[test]
fn serve_needs_no_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_techtrade"))
        .arg("serve")
        .current_dir(dir.path())
        .env("TECHTRADE__SERVER__LISTEN", format!("127.0.0.1:{port}"))
        .env_remove("TECHTRADE_CONFIG_DIR")
        .env_remove("TECHTRADE__DATABASE__URL")
        .env_remove("TECHTRADE__DATA_DIR")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut answer = String::new();
    while Instant::now() < deadline {
        if let Ok(text) = http_get(port, "/readyz") {
            answer = text;
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("\"database\":\"sqlite\""), "{answer}");
    assert!(dir.path().join("data/techtrade.sqlite3").exists());
}

fn http_get(port: u16, path: &str) -> std::io::Result<String> {
    use std::io::Read;
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port))?;
    write!(stream, "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    Ok(response)
}

/// `seed --demo` loads every record that comes with the repository, and a
/// second run adds nothing; `--source` reads another folder instead.
#[test]
fn seed_demo_is_complete_and_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    for target in targets(dir.path()) {
        let first = techtrade(dir.path(), Some(&target.url), &["seed", "--demo"], "");
        assert!(first.status.success(), "{}", stderr(&first));
        assert!(
            stdout(&first).contains(
                "5 organisations (5 new), 10 accounts (10 new), 9797 listings new, 0 already there, 5 demands new"
            ),
            "{}",
            stdout(&first)
        );
        assert!(stdout(&first).contains("official@techtrade.invalid"), "{}", stdout(&first));
        assert!(stderr(&first).contains("listings: 9797/9797"), "progress is reported: {}", stderr(&first));

        let second = techtrade(dir.path(), Some(&target.url), &["seed", "--demo", "--source", &bundled_source()], "");
        assert!(second.status.success(), "{}", stderr(&second));
        assert!(
            stdout(&second)
                .contains("10 accounts (0 new), 0 listings new, 9797 already there, 0 demands new, 5 already there"),
            "{}",
            stdout(&second)
        );

        let mut conn = DatabaseUrl::parse(&target.url).unwrap().establish().unwrap();
        assert_eq!(techtrade_db::listings::count_listings(&mut conn).unwrap(), 9_797);
        assert!(techtrade_db::audit::verify(&mut conn, &techtrade_db::testing::test_audit_key(), &[]).is_ok());

        let reindexed = techtrade(dir.path(), Some(&target.url), &["reindex"], "");
        assert!(reindexed.status.success(), "{}", stderr(&reindexed));
        assert!(
            stdout(&reindexed).contains("reindexed 9802 published listings and demands into the embedded index"),
            "{}",
            stdout(&reindexed)
        );
        assert!(
            stderr(&reindexed).contains("documents: 9802/9802"),
            "plain progress lines off a terminal: {}",
            stderr(&reindexed)
        );
    }
    let missing = techtrade(dir.path(), None, &["seed", "--demo", "--source", "/nonexistent"], "");
    assert_eq!(missing.status.code(), Some(2));
    assert!(stderr(&missing).contains("/nonexistent/cn_patents_title_ipc.csv"), "{}", stderr(&missing));
    let no_flag = techtrade(dir.path(), None, &["seed"], "");
    assert_eq!(no_flag.status.code(), Some(2));
}

/// The folder of the records that come with the repository.
fn bundled_source() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../listings/data/patents").display().to_string()
}

/// A `techtrade serve --demo` process and what it printed up to the end of
/// its start-up message.
struct DemoServer {
    child: std::process::Child,
    port: u16,
    printed: String,
}

impl DemoServer {
    fn start(dir: &Path, database_url: &str) -> Self {
        use std::io::BufRead;
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut child = server_command(dir, database_url, port, &["serve", "--demo"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (lines, received) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
                if lines.send(line).is_err() {
                    break;
                }
            }
        });
        let mut printed = String::new();
        let deadline = Instant::now() + Duration::from_secs(300);
        while !printed.contains("sign in at") {
            let left = deadline.saturating_duration_since(Instant::now());
            match received.recv_timeout(left) {
                Ok(line) => {
                    printed.push_str(&line);
                    printed.push('\n');
                }
                Err(_) => {
                    let _ = child.kill();
                    panic!("serve --demo printed no start-up message: {printed}");
                }
            }
        }
        Self { child, port, printed }
    }

    fn stop(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

fn http_post_json(port: u16, path: &str, body: &str) -> std::io::Result<String> {
    use std::io::Read;
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port))?;
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    Ok(response)
}

fn audit_entries(url: &str) -> i64 {
    use diesel::prelude::*;
    let mut conn = DatabaseUrl::parse(url).unwrap().establish().unwrap();
    techtrade_db::schema::audit_log::table.count().get_result(&mut conn).unwrap()
}

/// `serve --demo` on an empty database loads the demo market, says where
/// to point a browser and who can sign in, and serves it; started again it
/// adds nothing; a database holding other data is refused, untouched.
#[test]
fn serve_demo_loads_an_empty_database_once() {
    let dir = tempfile::tempdir().unwrap();
    for target in targets(dir.path()) {
        let server = DemoServer::start(dir.path(), &target.url);
        let base = format!("http://127.0.0.1:{}", server.port);
        let printed = &server.printed;
        assert!(printed.contains(&format!("techtrade is serving the demo market at {base}/")), "{printed}");
        assert!(printed.contains(&format!("open {base}/ in a browser: the market")), "{printed}");
        assert!(printed.contains(&format!("sign in at {base}/login")), "{printed}");
        assert!(printed.contains("demo accounts (password: Techtrade-demo)"), "{printed}");
        for account in [
            "demo1@techtrade.invalid",
            "demo5@techtrade.invalid",
            "official@techtrade.invalid",
            "reviewer@techtrade.invalid",
            "admin@techtrade.invalid",
            "secadmin@techtrade.invalid",
            "auditor@techtrade.invalid",
        ] {
            assert!(printed.contains(account), "{account} in {printed}");
        }
        assert!(printed.contains("member of 青海高原理工大学（示例）"), "{printed}");
        for (email, role) in [
            ("demo1@techtrade.invalid", "member"),
            ("official@techtrade.invalid", "official"),
            ("reviewer@techtrade.invalid", "official"),
            ("admin@techtrade.invalid", "admin"),
            ("secadmin@techtrade.invalid", "secadmin"),
            ("auditor@techtrade.invalid", "auditor"),
        ] {
            let body = format!(r#"{{"email": "{email}", "password": "Techtrade-demo"}}"#);
            let login = http_post_json(server.port, "/api/v1/auth/login", &body).unwrap();
            assert!(login.starts_with("HTTP/1.1 200") && login.contains(&format!("\"{role}\"")), "{login}");
        }
        let listing = http_get(server.port, "/api/v1/listings/demo-CN114081026A").unwrap();
        assert!(listing.starts_with("HTTP/1.1 200"), "{listing}");
        // The web front is served at / with no configuration.
        let front = http_get(server.port, "/").unwrap();
        assert!(front.starts_with("HTTP/1.1 200") && front.contains("<html lang=\"zh-CN\">"), "{front}");
        server.stop();

        let mut conn = DatabaseUrl::parse(&target.url).unwrap().establish().unwrap();
        assert_eq!(techtrade_db::listings::count_listings(&mut conn).unwrap(), 9_797);
        let entries = audit_entries(&target.url);

        let again = DemoServer::start(dir.path(), &target.url);
        assert!(again.printed.contains("official@techtrade.invalid"), "{}", again.printed);
        again.stop();
        assert_eq!(techtrade_db::listings::count_listings(&mut conn).unwrap(), 9_797);
        assert_eq!(audit_entries(&target.url), entries, "a second start writes nothing");
    }

    // A market of its own: one official created by hand.
    let other = dir.path().join("other.sqlite3");
    let url = format!("sqlite://{}", other.display());
    let created = techtrade(
        dir.path(),
        Some(&url),
        &["admin", "create-user", "--role", "official", "--email", "a@kjt.gov.cn", "--name", "审核员"],
        "an official password 1\n",
    );
    assert!(created.status.success(), "{}", stderr(&created));
    let refused = techtrade(dir.path(), Some(&url), &["serve", "--demo"], "");
    assert_eq!(refused.status.code(), Some(2), "{}", stderr(&refused));
    assert!(stderr(&refused).contains("serve it without --demo"), "{}", stderr(&refused));
    let mut conn = DatabaseUrl::parse(&url).unwrap().establish().unwrap();
    assert_eq!(techtrade_db::listings::count_listings(&mut conn).unwrap(), 0, "nothing was loaded");
}

/// `techtrade ARGS` in `dir` on `database_url`, listening on `port`.
fn server_command(dir: &Path, database_url: &str, port: u16, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_techtrade"));
    command
        .args(args)
        .current_dir(dir)
        .env("TECHTRADE_CONFIG_DIR", dir.join("config"))
        .env("TECHTRADE__DATA_DIR", dir.join("data"))
        .env("TECHTRADE__DATABASE__URL", database_url)
        .env("TECHTRADE__SERVER__LISTEN", format!("127.0.0.1:{port}"))
        .env_remove("TECHTRADE_PROFILE");
    command
}

fn spawn_server(dir: &Path, database_url: &str, port: u16) -> std::process::Child {
    server_command(dir, database_url, port, &["serve"]).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap()
}

fn search_total(port: u16) -> Option<u64> {
    let response = http_get(port, "/api/v1/search?per_page=1").ok()?;
    let body = response.split("\r\n\r\n").nth(1)?;
    serde_json::from_str::<serde_json::Value>(body).ok()?["total"].as_u64()
}

/// What `seed --demo` publishes: the 9,797 patent records and 5 demands.
const DEMO_ITEMS: usize = 9_802;

/// Killing the server (SIGKILL) while it builds its search index, then
/// starting it again, leaves the index equal to the database.
#[test]
fn a_killed_indexer_resumes_to_an_index_equal_to_the_database() {
    use techtrade_search::{SearchIndex, SearchQuery};
    let dir = tempfile::tempdir().unwrap();
    for target in targets(dir.path()) {
        let _ = std::fs::remove_dir_all(dir.path().join("data/search"));
        let seeded = techtrade(dir.path(), Some(&target.url), &["seed", "--demo"], "");
        assert!(seeded.status.success(), "{}", stderr(&seeded));
        let index_dir = dir.path().join("data/search");
        let count_indexed = || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            runtime.block_on(async {
                let index = techtrade_search::embedded::EmbeddedIndex::open(&index_dir).unwrap();
                let query = SearchQuery { limit: 10_000, ..SearchQuery::default() };
                let ids: std::collections::BTreeSet<String> =
                    index.search(&query).await.unwrap().hits.into_iter().map(|h| h.document.id).collect();
                (ids, index.cursor().await.unwrap())
            })
        };

        // Kill it at a moment that finds the index half built: later when
        // it had not started, sooner when it had finished.
        let mut interrupted = None;
        let mut delay = Duration::from_millis(1500);
        for _ in 0..10 {
            let _ = std::fs::remove_dir_all(&index_dir);
            let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
            let mut server = spawn_server(dir.path(), &target.url, port);
            std::thread::sleep(delay);
            server.kill().unwrap(); // SIGKILL: no shutdown, no final commit
            server.wait().unwrap();
            let (ids, cursor) = if index_dir.exists() { count_indexed() } else { Default::default() };
            match ids.len() {
                0 => delay *= 2,
                DEMO_ITEMS.. => delay /= 2,
                _ => {
                    interrupted = Some((ids.len(), cursor));
                    break;
                }
            }
        }
        let (partial, cursor) = interrupted.expect("the server was never caught half-way through indexing");
        assert_eq!(
            cursor,
            techtrade_search::NEVER_BUILT,
            "a half-built index ({partial} documents) does not claim to be complete"
        );

        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut server = spawn_server(dir.path(), &target.url, port);
        // Caught up: every document searchable and the index's position at
        // the outbox's end (the rebuild marks itself complete last).
        let caught_up = || {
            let ready = http_get(port, "/readyz").ok()?;
            let body: serde_json::Value = serde_json::from_str(ready.split("\r\n\r\n").nth(1)?).ok()?;
            let positions_meet = body["search_position"] == body["outbox_position"];
            Some(positions_meet && search_total(port) == Some(DEMO_ITEMS as u64))
        };
        let deadline = Instant::now() + Duration::from_secs(120);
        while caught_up() != Some(true) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(200));
        }
        server.kill().unwrap();
        server.wait().unwrap();

        let (ids, cursor) = count_indexed();
        let mut conn = DatabaseUrl::parse(&target.url).unwrap().establish().unwrap();
        let published: std::collections::BTreeSet<String> = {
            use diesel::prelude::*;
            use techtrade_db::schema::{demands, listings};
            let listings: Vec<String> =
                listings::table.filter(listings::status.eq("published")).select(listings::id).load(&mut conn).unwrap();
            let demands: Vec<String> =
                demands::table.filter(demands::status.eq("published")).select(demands::id).load(&mut conn).unwrap();
            listings.into_iter().chain(demands).collect()
        };
        assert_eq!(ids, published, "the index holds exactly the published listings and demands");
        assert_eq!(cursor, techtrade_db::outbox::last_id(&mut conn).unwrap(), "and knows it is up to date");
    }
}

fn policies_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/policies")
}

#[test]
fn policy_check_summarises_the_shipped_programs() {
    let dir = tempfile::tempdir().unwrap();
    let files: Vec<String> = ["nanjing-2021.toml", "qinghai.toml", "sanming.toml"]
        .iter()
        .map(|f| policies_dir().join(f).to_string_lossy().into_owned())
        .collect();
    let mut args = vec!["policy", "check"];
    args.extend(files.iter().map(String::as_str));
    let output = techtrade(dir.path(), None, &args, "");
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(text.contains("3 valid, 0 invalid"), "{text}");
    assert!(
        text.contains("超额累进") && text.contains("1%") && text.contains("0.5%"),
        "Sanming's tiers in Chinese: {text}"
    );
    assert!(text.contains("占位值"), "Qinghai says its rates are placeholders: {text}");

    let mut english = vec!["policy", "check", "--lang", "en"];
    english.push(&files[0]);
    let output = techtrade(dir.path(), None, &english, "");
    assert!(stdout(&output).contains("pays the buyer") && stdout(&output).contains("rate 5%"), "{}", stdout(&output));
}

#[test]
fn policy_check_names_the_file_the_key_and_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "unknown.toml",
            "id = \"x\"\nname = \"X\"\n[[rules]]\nid = \"r\"\nrole = \"buyer\"\nrate = \"5%\"\nbonus = 1\n",
            "rules[0].bonus",
        ),
        (
            "over.toml",
            "id = \"x\"\nname = \"X\"\n[[rules]]\nid = \"r\"\nrole = \"buyer\"\nrate = \"120%\"\n",
            "rules[0].rate",
        ),
        (
            "order.toml",
            "id = \"x\"\nname = \"X\"\n[[rules]]\nid = \"r\"\nrole = \"seller\"\ntier_mode = \"marginal\"\n\
             [[rules.tiers]]\nup_to_fen = 500\nrate = \"1%\"\n[[rules.tiers]]\nup_to_fen = 100\nrate = \"2%\"\n[[rules.tiers]]\nrate = \"3%\"\n",
            "rules[0].tiers[1].up_to_fen",
        ),
        ("missing.toml", "id = \"x\"\nname = \"X\"\n[[rules]]\nid = \"r\"\nrole = \"buyer\"\n", "rules[0]"),
    ];
    for (name, text, key) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        let output = techtrade(dir.path(), None, &["policy", "check", path.to_str().unwrap()], "");
        assert_eq!(output.status.code(), Some(1), "{name}: {}", stderr(&output));
        let message = stderr(&output);
        assert!(message.contains(name) && message.contains(&format!("{key}:")), "{name}: {message}");
        assert!(stdout(&output).contains("0 valid, 1 invalid"));
    }
}

#[test]
fn policy_explain_computes_line_by_line() {
    let dir = tempfile::tempdir().unwrap();
    let sanming = policies_dir().join("sanming.toml");
    // POLICY.md: a seller receiving 50万 yuan gets 1,000 + 2,000 = 3,000 yuan.
    let output = techtrade(
        dir.path(),
        None,
        &["policy", "explain", sanming.to_str().unwrap(), "--base-fen", "50000000", "--role", "seller"],
        "",
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(text.contains("1,000.00") && text.contains("2,000.00") && text.contains("3,000.00"), "{text}");
    let nanjing = policies_dir().join("nanjing-2021.toml");
    let output =
        techtrade(dir.path(), None, &["policy", "explain", nanjing.to_str().unwrap(), "--base-fen", "800000000"], "");
    assert!(stdout(&output).contains("400,000.00"), "{}", stdout(&output));
    let negative =
        techtrade(dir.path(), None, &["policy", "explain", nanjing.to_str().unwrap(), "--base-fen", "-5"], "");
    assert_eq!(negative.status.code(), Some(2));
}

/// A bad policy file stops start-up, naming the file, the key and the problem.
#[test]
fn serve_refuses_a_bad_policy_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("policies")).unwrap();
    std::fs::write(
        dir.path().join("policies/bad.toml"),
        "id = \"x\"\nname = \"X\"\n[[rules]]\nid = \"r\"\nrole = \"buyer\"\nrate = \"101%\"\n",
    )
    .unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_techtrade"))
        .arg("serve")
        .current_dir(dir.path())
        .env("TECHTRADE__SUBSIDY__POLICY_DIR", dir.path().join("policies"))
        .env("TECHTRADE__SERVER__LISTEN", "127.0.0.1:9")
        .env_remove("TECHTRADE__DATABASE__URL")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let message = stderr(&output);
    assert!(message.contains("bad.toml") && message.contains("rules[0].rate:"), "{message}");
}
