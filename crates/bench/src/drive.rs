//! The HTTP side: a running `techtrade serve` process, the operations the
//! issue names, each run with bounded concurrency for a fixed time, and
//! their latency figures.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};
use techtrade_domain::ApplicationNumber;

/// The server under test, started from the release binary with its whole
/// configuration in the environment.
pub struct Server {
    child: Child,
    pub base: String,
}

/// glibc's malloc settings as the image runs the server (deploy/Dockerfile
/// says why); `--server-env MALLOC_ARENA_MAX=16` measures glibc's default
/// on two cores.
const IMAGE_MALLOC: [(&str, &str); 2] = [("MALLOC_ARENA_MAX", "2"), ("MALLOC_MMAP_THRESHOLD_", "4194304")];

/// Environment for `techtrade` commands against one database and data dir.
pub fn server_env(database_url: &str, data_dir: &Path, listen: &str, meili: Option<&str>) -> Vec<(String, String)> {
    let mut env = vec![
        ("TECHTRADE__DATABASE__URL".to_string(), database_url.to_string()),
        ("TECHTRADE__DATA_DIR".to_string(), data_dir.display().to_string()),
        ("TECHTRADE__SERVER__LISTEN".to_string(), listen.to_string()),
        // Nothing to deliver, and a log line per request would be measured too.
        ("TECHTRADE__MAIL__ENABLED".to_string(), "false".to_string()),
        ("TECHTRADE__LOG__FILTER".to_string(), "warn".to_string()),
    ];
    env.extend(IMAGE_MALLOC.iter().map(|(key, value)| (key.to_string(), value.to_string())));
    if let Some(url) = meili {
        env.push(("TECHTRADE__SEARCH__BACKEND".to_string(), "meilisearch".to_string()));
        env.push(("TECHTRADE__SEARCH__MEILISEARCH_URL".to_string(), url.to_string()));
    }
    env
}

/// Runs a `techtrade` subcommand to completion; how long it took.
pub fn run_command(binary: &Path, args: &[&str], env: &[(String, String)]) -> Result<Duration> {
    let started = Instant::now();
    let status = Command::new(binary)
        .args(args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdout(Stdio::null())
        .status()
        .with_context(|| format!("running {} {}", binary.display(), args.join(" ")))?;
    if !status.success() {
        bail!("{} {} failed: {status}", binary.display(), args.join(" "));
    }
    Ok(started.elapsed())
}

impl Server {
    pub async fn start(binary: &Path, env: &[(String, String)], listen: &str) -> Result<Self> {
        let child = Command::new(binary)
            .arg("serve")
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let server = Self { child, base: format!("http://{listen}") };
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            if let Ok(response) = client.get(format!("{}/readyz", server.base)).send().await
                && response.status().is_success()
            {
                return Ok(server);
            }
            if Instant::now() > deadline {
                bail!("the server did not become ready within 120 s");
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// The most memory the process has held (VmHWM), in bytes.
    pub fn peak_rss(&self) -> Result<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))?;
        let line = status.lines().find(|l| l.starts_with("VmHWM:")).context("no VmHWM in /proc status")?;
        let kib: u64 = line.split_whitespace().nth(1).context("VmHWM without a number")?.parse()?;
        Ok(kib * 1024)
    }

    /// Stops the server the way an operator would (SIGTERM), so it shuts
    /// down cleanly; kills it if it has not gone within ten seconds.
    pub fn stop(mut self) -> Result<()> {
        let _ = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if self.child.try_wait()?.is_some() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        self.child.kill()?;
        self.child.wait()?;
        Ok(())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // Never leave a server behind when the run fails half-way.
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// One operation's figures.
#[derive(Debug, Clone)]
pub struct Figures {
    pub operation: String,
    pub backend: String,
    pub requests: usize,
    pub errors: usize,
    pub elapsed: Duration,
    pub p50: Duration,
    pub p99: Duration,
    pub max: Duration,
    /// The first error seen, to say what went wrong.
    pub first_error: Option<String>,
    /// The machine's 1-minute load average when the operation ended.
    pub load: f64,
}

impl Figures {
    pub fn throughput(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

pub fn figures(
    operation: &str,
    backend: &str,
    mut times: Vec<Duration>,
    errors: Vec<String>,
    elapsed: Duration,
) -> Figures {
    times.sort_unstable();
    Figures {
        operation: operation.to_string(),
        backend: backend.to_string(),
        requests: times.len(),
        errors: errors.len(),
        elapsed,
        p50: percentile(&times, 0.50),
        p99: percentile(&times, 0.99),
        max: times.last().copied().unwrap_or_default(),
        first_error: errors.into_iter().next(),
        load: load_average(),
    }
}

/// The 1-minute load average (0 where /proc does not say).
fn load_average() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|text| text.split_whitespace().next().and_then(|v| v.parse().ok()))
        .unwrap_or(0.0)
}

/// One request of an operation: method, path (with query), bearer token, body.
pub struct Call {
    pub method: reqwest::Method,
    pub path: String,
    pub token: Option<String>,
    pub body: Option<Value>,
    /// Whether the answer is JSON (the API) or a page (the web front).
    pub json: bool,
}

impl Call {
    pub fn get(path: String) -> Self {
        Self { method: reqwest::Method::GET, path, token: None, body: None, json: true }
    }

    /// A page of the web front: its HTML is read whole, not parsed.
    pub fn page(path: String) -> Self {
        Self { json: false, ..Self::get(path) }
    }

    pub fn post(path: String, token: &str, body: Value) -> Self {
        Self { method: reqwest::Method::POST, path, token: Some(token.to_string()), body: Some(body), json: true }
    }

    pub fn with_token(mut self, token: &str) -> Self {
        self.token = Some(token.to_string());
        self
    }
}

/// Sends a call; the response body on success, else what went wrong.
pub async fn send(client: &reqwest::Client, base: &str, call: Call) -> Result<Value, String> {
    let mut request = client.request(call.method, format!("{base}{}", call.path));
    if let Some(token) = &call.token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    if let Some(body) = &call.body {
        request = request.header("content-type", "application/json").body(body.to_string());
    }
    let response = request.send().await.map_err(|e| e.to_string())?;
    let status = response.status();
    let bytes = response.bytes().await.map_err(|e| e.to_string())?;
    if !status.is_success() {
        return Err(format!("{status}: {}", String::from_utf8_lossy(&bytes).chars().take(300).collect::<String>()));
    }
    if !call.json {
        return Ok(Value::Null);
    }
    serde_json::from_slice(&bytes).map_err(|e| format!("{status}: body is not JSON: {e}"))
}

/// Runs `make(n)` for n = 0, 1, 2, … from `concurrency` workers for
/// `duration` (at most `limit` calls); every call's latency is recorded.
// The arguments are the run's dimensions; a struct for them would only be
// built here.
#[allow(clippy::too_many_arguments)]
pub async fn load(
    client: &reqwest::Client,
    base: &str,
    operation: &str,
    backend: &str,
    concurrency: usize,
    duration: Duration,
    limit: Option<u64>,
    make: Arc<dyn Fn(u64) -> Call + Send + Sync>,
) -> Figures {
    let counter = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = started + duration;
    let mut workers = Vec::new();
    for _ in 0..concurrency.max(1) {
        let (client, base, counter, make) = (client.clone(), base.to_string(), counter.clone(), make.clone());
        workers.push(tokio::spawn(async move {
            let mut times = Vec::new();
            let mut errors = Vec::new();
            while Instant::now() < deadline {
                let n = counter.fetch_add(1, Ordering::Relaxed);
                if limit.is_some_and(|l| n >= l) {
                    break;
                }
                let call = make(n);
                let sent = Instant::now();
                let outcome = send(&client, &base, call).await;
                times.push(sent.elapsed());
                if let Err(e) = outcome {
                    errors.push(e);
                }
            }
            (times, errors)
        }));
    }
    let mut times = Vec::new();
    let mut errors = Vec::new();
    for worker in workers {
        match worker.await {
            Ok((t, e)) => {
                times.extend(t);
                errors.extend(e);
            }
            Err(e) => errors.push(format!("worker failed: {e}")),
        }
    }
    figures(operation, backend, times, errors, started.elapsed())
}

pub async fn login(client: &reqwest::Client, base: &str, email: &str, password: &str) -> Result<String> {
    let call = Call {
        method: reqwest::Method::POST,
        path: "/api/v1/auth/login".into(),
        token: None,
        body: Some(json!({"email": email, "password": password})),
        json: true,
    };
    let body = send(client, base, call).await.map_err(|e| anyhow::anyhow!("login as {email}: {e}"))?;
    body["token"].as_str().map(str::to_string).context("login answered without a token")
}

/// A new listing's body as a member would send it; `n` makes the
/// application number unique within a run.
pub fn listing_body(title: &str, n: u64) -> Result<Value> {
    // Serials 8,000,000 and up: the generated listings use their index.
    let number = ApplicationNumber::complete(&format!("20241{:07}", 8_000_000 + n % 2_000_000))
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(json!({
        "kind": "patent",
        "title": title,
        "summary": format!("{title}。基准测试发布的技术成果。"),
        "ipc": ["G06F16/33"],
        "maturity": "pilot",
        "trade_modes": ["assignment", "nonexclusive_license"],
        "price_fen": 150_000_000,
        "negotiable": false,
        "region_code": "630104",
        "patents": [{
            "application_number": number.to_string(),
            "patent_type": "invention",
            "title": title,
            "filing_date": "2024-03-15",
            "legal_status": "pending",
        }],
    }))
}

/// Where the release server binary is, relative to the workspace root.
pub fn default_binary() -> PathBuf {
    PathBuf::from("target/release/techtrade")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The harness measures the server as the image runs it: the
    /// allocator settings the Dockerfile gives are the ones the server gets.
    #[test]
    fn the_server_runs_with_the_images_malloc_settings() {
        let dockerfile = include_str!("../../../deploy/Dockerfile");
        let image: Vec<&str> = dockerfile
            .lines()
            .map(|line| line.trim().trim_end_matches('\\').trim())
            .filter(|line| line.starts_with("MALLOC_"))
            .collect();
        assert_eq!(image, ["MALLOC_ARENA_MAX=2", "MALLOC_MMAP_THRESHOLD_=4194304"]);
        let env = server_env("sqlite://x", Path::new("/tmp/x"), "127.0.0.1:1", None);
        let harness: Vec<String> = env
            .iter()
            .filter(|(key, _)| key.starts_with("MALLOC_"))
            .map(|(key, value)| format!("{key}={value}"))
            .collect();
        assert_eq!(harness, image);
    }
}
