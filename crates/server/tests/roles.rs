//! Roles of the binary: an API replica mounting some route groups and no
//! workers, and the health check command containers use.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn techtrade(dir: &std::path::Path, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_techtrade"));
    command
        .args(args)
        .current_dir(dir)
        .env("TECHTRADE_CONFIG_DIR", dir.join("config"))
        .env_remove("TECHTRADE_PROFILE")
        .env_remove("TECHTRADE__DATABASE__URL")
        .env("TECHTRADE__DATA_DIR", dir.join("data"))
        .stdin(Stdio::null());
    command
}

fn status(port: u16, path: &str) -> Option<u16> {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    write!(stream, "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").ok()?;
    let mut text = String::new();
    stream.read_to_string(&mut text).ok()?;
    text.split_whitespace().nth(1)?.parse().ok()
}

#[test]
fn an_api_replica_mounts_only_its_route_groups_and_answers_health_checks() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let child = techtrade(dir.path(), &["serve", "--no-workers", "--services", "search,listings"])
        .env("TECHTRADE__SERVER__LISTEN", format!("127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _server = Server(child);
    let deadline = Instant::now() + Duration::from_secs(30);
    while status(port, "/readyz") != Some(200) {
        assert!(Instant::now() < deadline, "the replica did not get ready");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(status(port, "/api/v1/search?q=x"), Some(200), "search is mounted");
    assert_ne!(status(port, "/api/v1/listings"), Some(404), "listings are mounted");
    assert_eq!(status(port, "/api/v1/subsidy/programs"), Some(404), "subsidy is not");
    assert_eq!(status(port, "/api/v1/saved-searches"), Some(404), "matching is not");

    let addr = format!("127.0.0.1:{port}");
    let ok = techtrade(dir.path(), &["healthcheck", "--addr", &addr, "--path", "/readyz"]).output().unwrap();
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
    let missing = techtrade(dir.path(), &["healthcheck", "--addr", &addr, "--path", "/nothing"]).output().unwrap();
    assert_eq!(missing.status.code(), Some(1), "a 404 is unhealthy");
    let closed = format!("127.0.0.1:{}", free_port());
    let down = techtrade(dir.path(), &["healthcheck", "--addr", &closed]).output().unwrap();
    assert_eq!(down.status.code(), Some(1), "nothing listening is unhealthy");
}

#[test]
fn config_keys_lists_every_setting_with_its_variable() {
    let dir = tempfile::tempdir().unwrap();
    let output = techtrade(dir.path(), &["config", "keys"]).output().unwrap();
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(text.lines().any(|l| l == "database.url TECHTRADE__DATABASE__URL"), "{text}");
    assert!(text.lines().any(|l| l == "workers.lease_seconds TECHTRADE__WORKERS__LEASE_SECONDS"), "{text}");
}
