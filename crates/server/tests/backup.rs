//! `techtrade backup`: a copy taken while the server serves is a database a
//! fresh server starts from, with everything in it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use techtrade_db::{Database, DatabaseUrl, PoolOptions, outbox};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn techtrade(dir: &Path, data: &str, database: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_techtrade"));
    command
        .current_dir(dir)
        .env("TECHTRADE_CONFIG_DIR", dir.join("config"))
        .env_remove("TECHTRADE_PROFILE")
        .env("TECHTRADE__DATA_DIR", dir.join(data))
        .env("TECHTRADE__DATABASE__URL", format!("sqlite://{}", dir.join(database).display()))
        .env("TECHTRADE__AUTH__PASSWORD_MEMORY_KIB", "1024")
        .env("TECHTRADE__AUTH__PASSWORD_ITERATIONS", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn serve(dir: &Path, data: &str, database: &str, port: u16) -> Server {
    let mut command = techtrade(dir, data, database);
    command.arg("serve").env("TECHTRADE__SERVER__LISTEN", format!("127.0.0.1:{port}"));
    command.stdout(Stdio::null()).stderr(Stdio::null());
    let server = Server(command.spawn().unwrap());
    let deadline = Instant::now() + Duration::from_secs(30);
    while !http(port, "GET", "/readyz", "").is_ok_and(|(status, _)| status == 200) {
        assert!(Instant::now() < deadline, "the server on {port} did not get ready");
        std::thread::sleep(Duration::from_millis(100));
    }
    server
}

fn http(port: u16, method: &str, path: &str, body: &str) -> std::io::Result<(u16, String)> {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port))?;
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )?;
    let mut text = String::new();
    stream.read_to_string(&mut text)?;
    let status = text.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    Ok((status, text))
}

fn last_event(path: &Path) -> i64 {
    let db = Database::new(&DatabaseUrl::Sqlite(path.to_path_buf()), &PoolOptions::default());
    outbox::last_id(&mut db.get().unwrap()).unwrap()
}

#[test]
fn a_backup_taken_while_serving_starts_a_fresh_server_with_all_data() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let server = serve(dir.path(), "data", "live.sqlite3", port);
    let register = r#"{"organization": {"name": "备份测试单位", "kind": "enterprise",
        "credit_code": "91630100MA0000001X", "region_code": "630100"},
        "user": {"email": "backup@example.cn", "password": "backup-password-1", "name": "备份"}}"#;
    let credit = techtrade_domain::CreditCode::complete("91630100MA0000001").unwrap().to_string();
    let register = register.replace("91630100MA0000001X", &credit);
    let (status, text) = http(port, "POST", "/api/v1/organizations", &register).unwrap();
    assert_eq!(status, 201, "{text}");

    let copy = dir.path().join("copy.sqlite3");
    let output = techtrade(dir.path(), "data", "live.sqlite3").args(["backup", "--to"]).arg(&copy).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(String::from_utf8_lossy(&output.stdout).contains("backed up"));
    // The server is still serving after the copy.
    assert_eq!(http(port, "GET", "/readyz", "").unwrap().0, 200);
    let again = techtrade(dir.path(), "data", "live.sqlite3").args(["backup", "--to"]).arg(&copy).output().unwrap();
    assert_eq!(again.status.code(), Some(1), "an existing file is never overwritten");
    drop(server);

    // A fresh server, its own data directory, on the copy.
    assert!(last_event(&copy) > 0);
    assert_eq!(last_event(&copy), last_event(&dir.path().join("live.sqlite3")));
    let port = free_port();
    let _fresh = serve(dir.path(), "restored", "copy.sqlite3", port);
    let login = r#"{"email": "backup@example.cn", "password": "backup-password-1"}"#;
    let (status, text) = http(port, "POST", "/api/v1/auth/login", login).unwrap();
    assert_eq!(status, 200, "the member registered before the backup signs in: {text}");
}

#[test]
fn backup_refuses_postgresql_and_points_to_pg_dump() {
    let dir = tempfile::tempdir().unwrap();
    let output = techtrade(dir.path(), "data", "x.sqlite3")
        .env("TECHTRADE__DATABASE__URL", "postgres://techtrade@127.0.0.1:1/techtrade")
        .args(["backup", "--to", "copy.sqlite3"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("pg_dump"));
}
