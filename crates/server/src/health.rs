//! Health checks outside the API: the small listener of `techtrade worker`
//! (probes need something to ask), and `techtrade healthcheck`, the client
//! a container image uses instead of curl.

use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use serde_json::json;
use techtrade_db::{Database, DbError, leases};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::task::JoinHandle;

use crate::cli::Failure;
use crate::config::Config;

#[derive(Clone)]
struct WorkerHealth {
    db: Database,
    holder: String,
}

/// Serves `/healthz` (the process answers) and `/readyz` (the database
/// answers too; lists the consumers this worker holds) on `addr`; nothing
/// when `addr` is empty.
pub(crate) async fn listen(addr: &str, db: Database, holder: String) -> Result<Option<JoinHandle<()>>, Failure> {
    if addr.is_empty() {
        return Ok(None);
    }
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| Failure::failed(format!("workers.health_listen: listening on {addr}: {e}")))?;
    let router = Router::new()
        .route("/healthz", get(|| async { axum::Json(json!({ "status": "ok" })) }))
        .route("/readyz", get(ready))
        .with_state(WorkerHealth { db, holder });
    tracing::info!(listen = %addr, "worker health checks at /healthz and /readyz");
    Ok(Some(tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, router).await {
            tracing::warn!(%error, "the worker's health listener stopped");
        }
    })))
}

async fn ready(State(health): State<WorkerHealth>) -> (StatusCode, axum::Json<serde_json::Value>) {
    let holder = health.holder.clone();
    let held = health
        .db
        .run(move |conn| {
            let leases = leases::all(conn).map_err(DbError::from)?;
            let now = techtrade_db::now();
            Ok::<_, DbError>(
                leases
                    .into_iter()
                    .filter(|l| l.holder == holder && l.lease_until > now)
                    .map(|l| l.consumer)
                    .collect::<Vec<_>>(),
            )
        })
        .await;
    match held {
        Ok(held) => (StatusCode::OK, axum::Json(json!({ "status": "ready", "holder": health.holder, "holds": held }))),
        Err(error) => {
            tracing::warn!(%error, "readiness check failed");
            (StatusCode::SERVICE_UNAVAILABLE, axum::Json(json!({ "status": "unavailable" })))
        }
    }
}

/// Exits 0 when `GET path` at `addr` (default: `server.listen`) answers 200
/// within five seconds.
pub(crate) async fn check(config: &Config, addr: Option<String>, path: &str) -> Result<(), Failure> {
    // A server listening on every interface is asked on the loopback one.
    let addr = addr.unwrap_or_else(|| config.server.listen.replace("0.0.0.0", "127.0.0.1"));
    let status = tokio::time::timeout(Duration::from_secs(5), status_of(&addr, path))
        .await
        .map_err(|_| Failure::failed(format!("{addr}{path}: no answer within 5 s")))?
        .map_err(|e| Failure::failed(format!("{addr}{path}: {e}")))?;
    if status == 200 {
        println!("{addr}{path}: 200");
        Ok(())
    } else {
        Err(Failure::failed(format!("{addr}{path}: {status}")))
    }
}

/// The status code of a plain HTTP/1.1 GET.
async fn status_of(addr: &str, path: &str) -> std::io::Result<u16> {
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut head = [0u8; 64];
    let mut read = 0;
    while read < 12 {
        let n = stream.read(&mut head[read..]).await?;
        if n == 0 {
            break;
        }
        read += n;
    }
    let line = String::from_utf8_lossy(&head[..read]);
    line.split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidData, format!("not HTTP: {line:?}")))
}
