//! A bounded load test of the real binary over loopback: 200 concurrent
//! clients doing mixed reads and writes for 60 seconds, on SQLite and on
//! PostgreSQL, the money paths among them (each client takes its own
//! licence deals from offer to a registered, paid contract, one step per
//! turn). It passes when no response was a 5xx (nor a dropped
//! connection), every step answered as it should, and every write the
//! server acknowledged is there afterwards.
//!
//! Slow by design, so `#[ignore]`d in the normal suite; CI runs it with
//! `cargo test -p techtrade-server --test load -- --ignored`.
//! `LOAD_CLIENTS` and `LOAD_SECONDS` change its size.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use techtrade_db::DatabaseUrl;
use techtrade_db::testing::TestDatabase;
use tokio::sync::Mutex;

/// Organisations the clients act for (clients share them round-robin).
const ORGANIZATIONS: usize = 20;

fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(dir: &std::path::Path, database_url: &str) -> Server {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let config = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config");
    let child = Command::new(env!("CARGO_BIN_EXE_techtrade"))
        .arg("serve")
        .current_dir(dir)
        .env("TECHTRADE_CONFIG_DIR", &config)
        .env("TECHTRADE__SUBSIDY__POLICY_DIR", config.join("policies"))
        .env("TECHTRADE__DATA_DIR", dir.join("data"))
        .env("TECHTRADE__AUDIT__KEY", techtrade_db::testing::TEST_AUDIT_KEY)
        .env("TECHTRADE__DATABASE__URL", database_url)
        .env("TECHTRADE__SERVER__LISTEN", format!("127.0.0.1:{port}"))
        // Cheap hashing: the test loads the API, not argon2.
        .env("TECHTRADE__AUTH__PASSWORD_MEMORY_KIB", "1024")
        .env("TECHTRADE__AUTH__PASSWORD_ITERATIONS", "1")
        .env("TECHTRADE__AUTH__MAX_REGISTRATIONS_PER_IP", "1000")
        .env("RUST_LOG", "warn")
        .env_remove("TECHTRADE_PROFILE")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    Server { child, base: format!("http://127.0.0.1:{port}") }
}

/// An official, made as an operator makes one (`techtrade admin
/// create-user`, the password on standard input), signed in; its token.
async fn official(dir: &std::path::Path, database_url: &str, http: &reqwest::Client, base: &str) -> String {
    use std::io::Write;
    let config = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config");
    let mut child = Command::new(env!("CARGO_BIN_EXE_techtrade"))
        .args([
            "admin",
            "create-user",
            "--role",
            "official",
            "--email",
            "official@load.example.cn",
            "--name",
            "负载官员",
        ])
        .current_dir(dir)
        .env("TECHTRADE_CONFIG_DIR", &config)
        .env("TECHTRADE__DATA_DIR", dir.join("data"))
        .env("TECHTRADE__AUDIT__KEY", techtrade_db::testing::TEST_AUDIT_KEY)
        .env("TECHTRADE__DATABASE__URL", database_url)
        .env("TECHTRADE__AUTH__PASSWORD_MEMORY_KIB", "1024")
        .env("TECHTRADE__AUTH__PASSWORD_ITERATIONS", "1")
        .env("RUST_LOG", "warn")
        .env_remove("TECHTRADE_PROFILE")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"load official password 1\n").unwrap();
    assert!(child.wait().unwrap().success(), "admin create-user");
    let login = json!({"email": "official@load.example.cn", "password": "load official password 1"});
    let (status, answer) =
        send(http, reqwest::Method::POST, &format!("{base}/api/v1/auth/login"), None, Some(&login)).await.unwrap();
    assert_eq!(status, 200, "{answer}");
    let token = answer["token"].as_str().unwrap().to_string();
    // The command line chose the password: the official sets their own first.
    let change = json!({"current": "load official password 1", "new": "load official password 2"});
    let (status, answer) =
        send(http, reqwest::Method::POST, &format!("{base}/api/v1/me/password"), Some(&token), Some(&change))
            .await
            .unwrap();
    assert_eq!(status, 204, "{answer}");
    token
}

/// A published licence listing of `seller`, for the deal cycles; its id.
async fn licence_listing(http: &reqwest::Client, base: &str, seller: &str, official: &str) -> String {
    let body = json!({"kind": "achievement", "title": "负载测试许可成果", "summary": "盐湖提锂吸附剂",
                      "ipc": ["C22B26/12"], "maturity": "pilot", "trade_modes": ["nonexclusive_license"],
                      "price_fen": 1_000_000, "negotiable": true, "region_code": "630100"});
    let (status, listing) =
        send(http, reqwest::Method::POST, &format!("{base}/api/v1/listings"), Some(seller), Some(&body)).await.unwrap();
    assert_eq!(status, 201, "{listing}");
    let id = listing["id"].as_str().unwrap().to_string();
    let submit = format!("{base}/api/v1/listings/{id}/submit");
    assert_eq!(send(http, reqwest::Method::POST, &submit, Some(seller), Some(&json!({}))).await.unwrap().0, 200);
    let review = format!("{base}/api/v1/listings/{id}/review");
    let approve = json!({"decision": "approve"});
    assert_eq!(send(http, reqwest::Method::POST, &review, Some(official), Some(&approve)).await.unwrap().0, 200);
    id
}

/// Where a client's current deal is: the next request it sends for it.
#[derive(Default)]
struct Cycle {
    deal: Option<String>,
    payment: Option<String>,
    step: u8,
}

impl Cycle {
    /// The next step's (what, method, path, body, who: 0 buyer, 1 seller, 2 official, expected status).
    fn next(&self, listing: &str) -> (&'static str, reqwest::Method, String, Value, u8, u16) {
        let deal = self.deal.clone().unwrap_or_default();
        let payment = self.payment.clone().unwrap_or_default();
        let post = reqwest::Method::POST;
        match self.step {
            0 => (
                "deal",
                post,
                "/api/v1/deals".into(),
                json!({"listing_id": listing, "offer": {"amount_fen": 500_000, "trade_mode": "nonexclusive_license", "terms": "负载"}}),
                0,
                201,
            ),
            1 => ("accept", post, format!("/api/v1/deals/{deal}/accept"), json!({}), 1, 200),
            2 => (
                "contract",
                post,
                format!("/api/v1/deals/{deal}/contract"),
                json!({"category": "license", "total_amount_fen": 500_000, "non_technical_amount_fen": 0,
                         "signed_on": techtrade_db::today(), "related_party": false}),
                1,
                200,
            ),
            3 => (
                "register",
                post,
                format!("/api/v1/deals/{deal}/registration"),
                json!({"decision": "register", "registered_technology_amount_fen": 500_000}),
                2,
                200,
            ),
            4 => (
                "pay",
                post,
                format!("/api/v1/deals/{deal}/payments"),
                json!({"method": "offline", "amount_fen": 500_000, "paid_on": techtrade_db::today(), "reference": "ICBC-LOAD"}),
                0,
                201,
            ),
            _ => ("confirm", post, format!("/api/v1/payments/{payment}/confirm"), json!({}), 1, 200),
        }
    }

    /// Takes in the answer of the step just sent.
    fn advance(&mut self, answer: &Value) {
        match self.step {
            0 => self.deal = answer["id"].as_str().map(String::from),
            4 => self.payment = answer["id"].as_str().map(String::from),
            _ => {}
        }
        self.step = (self.step + 1) % 6;
    }
}

/// One request's outcome: its status, or the transport error.
async fn send(
    client: &reqwest::Client,
    method: reqwest::Method,
    url: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> Result<(u16, Value), String> {
    let mut request = client.request(method, url);
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    if let Some(body) = body {
        request = request.header("content-type", "application/json").body(body.to_string());
    }
    let response = request.send().await.map_err(|e| e.to_string())?;
    let status = response.status().as_u16();
    let text = response.text().await.map_err(|e| e.to_string())?;
    Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
}

fn credit_code(n: usize) -> String {
    techtrade_domain::CreditCode::complete(&format!("91630100MA{n:07}")).unwrap().to_string()
}

fn listing(client: usize, n: u64) -> Value {
    json!({"kind": "achievement", "title": format!("负载测试成果 {client}-{n}"), "summary": "锂电池正极材料再生",
           "ipc": ["H01M10/54"], "maturity": "pilot", "trade_modes": ["assignment"], "price_fen": 100_000 + n,
           "negotiable": false, "region_code": "630100"})
}

fn demand(client: usize, n: u64) -> Value {
    json!({"title": format!("负载测试需求 {client}-{n}"), "description": "寻求盐湖提锂技术", "negotiable": true,
           "trade_modes": ["assignment"], "region_code": "630100"})
}

#[derive(Default)]
struct Tally {
    statuses: BTreeMap<String, u64>,
    failures: Vec<String>,
    /// Acknowledged writes: (kind, id, owner's token).
    written: Vec<(&'static str, String, String)>,
}

async fn run(database_url: &str, label: &str) {
    let clients = setting("LOAD_CLIENTS", 200) as usize;
    let seconds = setting("LOAD_SECONDS", 60);
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), database_url);
    let http = reqwest::Client::builder().timeout(Duration::from_secs(60)).build().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while send(&http, reqwest::Method::GET, &format!("{}/readyz", server.base), None, None).await.is_err() {
        assert!(Instant::now() < deadline, "the server did not come up");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let mut tokens = Vec::new();
    for n in 0..ORGANIZATIONS {
        let email = format!("load{n}@example.cn");
        let body = json!({
            "organization": {"name": format!("负载单位{n}"), "kind": "enterprise", "credit_code": credit_code(n), "region_code": "630100"},
            "user": {"email": email, "password": "load test password 1", "name": "负载"},
        });
        let url = format!("{}/api/v1/organizations", server.base);
        let (status, _) = send(&http, reqwest::Method::POST, &url, None, Some(&body)).await.unwrap();
        assert_eq!(status, 201);
        let login = json!({"email": email, "password": "load test password 1"});
        let url = format!("{}/api/v1/auth/login", server.base);
        let (status, answer) = send(&http, reqwest::Method::POST, &url, None, Some(&login)).await.unwrap();
        assert_eq!(status, 200);
        tokens.push(answer["token"].as_str().unwrap().to_string());
    }

    // The money paths: each client buys licences of a listing of its own
    // (sold by the next organisation), registered by one official.
    let official = official(dir.path(), database_url, &http, &server.base).await;
    let mut deal_listings = Vec::new();
    for client in 0..clients {
        let seller = &tokens[(client + 1) % ORGANIZATIONS];
        deal_listings.push(licence_listing(&http, &server.base, seller, &official).await);
    }

    let tally = Arc::new(Mutex::new(Tally::default()));
    let stop = Instant::now() + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for client in 0..clients {
        let (http, base, tally) = (http.clone(), server.base.clone(), tally.clone());
        let token = tokens[client % ORGANIZATIONS].clone();
        let parties = [token.clone(), tokens[(client + 1) % ORGANIZATIONS].clone(), official.clone()];
        let deal_listing = deal_listings[client].clone();
        tasks.push(tokio::spawn(async move {
            let mut n: u64 = 0;
            let mut mine: Vec<String> = Vec::new();
            let mut cycle = Cycle::default();
            while Instant::now() < stop {
                n += 1;
                if (n + client as u64) % 9 >= 7 {
                    // The next step of the client's deal, as the party whose step it is.
                    let (kind, method, path, body, who, expected) = cycle.next(&deal_listing);
                    let outcome = send(
                        &http,
                        method.clone(),
                        &format!("{base}{path}"),
                        Some(&parties[who as usize]),
                        Some(&body),
                    )
                    .await;
                    let mut tally = tally.lock().await;
                    match outcome {
                        Ok((status, answer)) if status == expected => {
                            *tally.statuses.entry(format!("{method} {kind} {status}")).or_default() += 1;
                            cycle.advance(&answer);
                        }
                        Ok((status, answer)) => tally.failures.push(format!("{kind} {path}: {status} {answer}")),
                        Err(error) => tally.failures.push(format!("{kind} {path}: {error}")),
                    }
                    continue;
                }
                // Half reads, half writes, in a fixed rotation per client.
                let (kind, method, url, body, auth) = match (n + client as u64) % 8 {
                    0 => (
                        "listing",
                        reqwest::Method::POST,
                        format!("{base}/api/v1/listings"),
                        Some(listing(client, n)),
                        true,
                    ),
                    1 => (
                        "demand",
                        reqwest::Method::POST,
                        format!("{base}/api/v1/demands"),
                        Some(demand(client, n)),
                        true,
                    ),
                    2 => (
                        "read",
                        reqwest::Method::GET,
                        format!("{base}/api/v1/listings?mine=true&per_page=5"),
                        None,
                        true,
                    ),
                    3 => {
                        ("read", reqwest::Method::GET, format!("{base}/api/v1/search?q=锂电池&per_page=5"), None, false)
                    }
                    4 => match mine.last() {
                        Some(id) => ("read", reqwest::Method::GET, format!("{base}/api/v1/listings/{id}"), None, true),
                        None => ("read", reqwest::Method::GET, format!("{base}/api/v1/me"), None, true),
                    },
                    5 => match mine.pop() {
                        Some(id) => (
                            "submit",
                            reqwest::Method::POST,
                            format!("{base}/api/v1/listings/{id}/submit"),
                            Some(json!({})),
                            true,
                        ),
                        None => ("read", reqwest::Method::GET, format!("{base}/api/v1/me"), None, true),
                    },
                    6 => ("read", reqwest::Method::GET, format!("{base}/api/v1/subsidy/programs"), None, false),
                    _ => (
                        "saved_search",
                        reqwest::Method::POST,
                        format!("{base}/api/v1/saved-searches"),
                        Some(json!({"query": {"q": format!("负载 {client}-{n}")}, "notify": "email"})),
                        true,
                    ),
                };
                let token = auth.then_some(token.as_str());
                let outcome = send(&http, method.clone(), &url, token, body.as_ref()).await;
                let mut tally = tally.lock().await;
                match outcome {
                    Ok((status, answer)) => {
                        *tally.statuses.entry(format!("{method} {kind} {status}")).or_default() += 1;
                        if status >= 500 || !(200..300).contains(&status) {
                            tally.failures.push(format!("{method} {url}: {status} {answer}"));
                        } else if matches!(kind, "listing" | "demand" | "saved_search")
                            && let Some(id) = answer["id"].as_str()
                        {
                            tally.written.push((kind, id.to_string(), token.unwrap_or_default().to_string()));
                            if kind == "listing" {
                                mine.push(id.to_string());
                            }
                        }
                    }
                    Err(error) => tally.failures.push(format!("{method} {url}: {error}")),
                }
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let tally = Arc::try_unwrap(tally).ok().unwrap().into_inner();
    let requests: u64 = tally.statuses.values().sum();
    eprintln!("{label}: {requests} requests by {clients} clients in {seconds} s; {:?}", tally.statuses);
    let shown: Vec<&String> = tally.failures.iter().take(20).collect();
    assert!(tally.failures.is_empty(), "{label}: {} failed requests, e.g. {shown:#?}", tally.failures.len());

    // Every acknowledged write is there: through the API, as its owner…
    let mut missing = Vec::new();
    for (kind, id, token) in &tally.written {
        let path = match *kind {
            "listing" => format!("/api/v1/listings/{id}"),
            "demand" => format!("/api/v1/demands/{id}"),
            _ => continue,
        };
        let (status, _) =
            send(&http, reqwest::Method::GET, &format!("{}{path}", server.base), Some(token), None).await.unwrap();
        if status != 200 {
            missing.push(format!("{path}: {status}"));
        }
    }
    assert!(missing.is_empty(), "{label}: acknowledged writes missing: {missing:?}");
    drop(server);
    // …and in the database, each exactly once.
    let mut conn = DatabaseUrl::parse(database_url).unwrap().establish().unwrap();
    // The clients' listings and the listings their deals buy.
    let listings = tally.written.iter().filter(|w| w.0 == "listing").count() as i64 + clients as i64;
    assert_eq!(techtrade_db::listings::count_listings(&mut conn).unwrap(), listings, "{label}: listings");
    assert!(
        techtrade_db::audit::verify(&mut conn, &techtrade_db::testing::test_audit_key(), &[]).is_ok(),
        "{label}: the audit chain holds under load"
    );
    let completed = tally.statuses.get("POST confirm 200").copied().unwrap_or_default();
    assert!(completed > 0, "{label}: deals went through to a confirmed payment");
    // Each confirmed payment paid its deal in full: exactly those completed.
    use diesel::prelude::*;
    use techtrade_db::schema::deals;
    let done: i64 = deals::table.filter(deals::status.eq("completed")).count().get_result(&mut conn).unwrap();
    assert_eq!(done as u64, completed, "{label}: completed deals");
    assert!(requests > clients as u64, "{label}: the clients got through");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "a 60-second load test per database; CI runs it with --ignored"]
async fn two_hundred_clients_for_a_minute_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("load.sqlite3").display());
    run(&url, "sqlite").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "a 60-second load test per database; CI runs it with --ignored"]
async fn two_hundred_clients_for_a_minute_on_postgres() {
    let Some(database) = TestDatabase::postgres() else { return };
    let DatabaseUrl::Postgres(url) = &database.url else { unreachable!() };
    run(url, "postgres").await;
}
