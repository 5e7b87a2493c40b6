//! Meilisearch's own indexing speed, the yardstick for techtrade's rebuild
//! into it: the documents techtrade just indexed, copied into a new index
//! with the same settings and sent as one NDJSON payload, timed from the
//! request to the task's end. Same server, same documents, same run.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

/// How many documents one fetch reads back from the source index.
const FETCH_PAGE: usize = 10_000;

/// The copy: how many documents, and how long Meilisearch took to index them.
pub struct OwnSpeed {
    pub documents: usize,
    pub took: Duration,
}

struct Meili {
    client: reqwest::Client,
    url: String,
    key: Option<String>,
}

impl Meili {
    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let request = self.client.request(method, format!("{}{path}", self.url));
        match &self.key {
            Some(key) => request.bearer_auth(key),
            None => request,
        }
    }

    async fn send(&self, method: reqwest::Method, path: &str, body: Option<(&str, Vec<u8>)>) -> Result<Value> {
        let mut request = self.request(method.clone(), path);
        if let Some((content_type, body)) = body {
            request = request.header(reqwest::header::CONTENT_TYPE, content_type).body(body);
        }
        let response = request.send().await.with_context(|| format!("{method} {path}"))?;
        let status = response.status();
        let text = response.text().await?;
        if !status.is_success() {
            bail!("{method} {path}: {status}: {text}");
        }
        Ok(if text.is_empty() { Value::Null } else { serde_json::from_str(&text)? })
    }

    async fn json(&self, method: reqwest::Method, path: &str, body: &Value) -> Result<Value> {
        self.send(method, path, Some(("application/json", serde_json::to_vec(body)?))).await
    }

    /// Waits for the task an answer names; fails unless it succeeded.
    async fn wait(&self, answer: &Value) -> Result<Value> {
        let uid = answer["taskUid"].as_u64().context("an answer without taskUid")?;
        loop {
            let task = self.send(reqwest::Method::GET, &format!("/tasks/{uid}"), None).await?;
            match task["status"].as_str() {
                Some("succeeded") => return Ok(task),
                Some("failed" | "canceled") => bail!("task {uid}: {}", task["error"]),
                _ => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        }
    }
}

/// Copies `source`'s documents and settings into `source`-own-speed and
/// times the indexing of the documents; the copy is deleted afterwards.
pub async fn measure(url: &str, key: Option<String>, source: &str) -> Result<OwnSpeed> {
    use reqwest::Method;
    let meili = Meili { client: reqwest::Client::new(), url: url.trim_end_matches('/').to_string(), key };
    let copy = format!("{source}-own-speed");
    let settings = meili.send(Method::GET, &format!("/indexes/{source}/settings"), None).await?;
    let mut ndjson = Vec::new();
    let mut documents = 0;
    loop {
        let page = meili
            .json(
                Method::POST,
                &format!("/indexes/{source}/documents/fetch"),
                &json!({ "offset": documents, "limit": FETCH_PAGE }),
            )
            .await?;
        let results = page["results"].as_array().context("documents/fetch without results")?;
        for document in results {
            serde_json::to_writer(&mut ndjson, document)?;
            ndjson.push(b'\n');
        }
        documents += results.len();
        if results.len() < FETCH_PAGE {
            break;
        }
    }
    // A copy left by an earlier run that stopped half-way.
    if meili.send(Method::GET, &format!("/indexes/{copy}"), None).await.is_ok() {
        let deleted = meili.send(Method::DELETE, &format!("/indexes/{copy}"), None).await?;
        meili.wait(&deleted).await?;
    }
    let created = meili.json(Method::POST, "/indexes", &json!({ "uid": copy, "primaryKey": "key" })).await?;
    meili.wait(&created).await?;
    let configured = meili.json(Method::PATCH, &format!("/indexes/{copy}/settings"), &settings).await?;
    meili.wait(&configured).await?;

    let started = Instant::now();
    let added =
        meili.send(Method::POST, &format!("/indexes/{copy}/documents"), Some(("application/x-ndjson", ndjson))).await?;
    let task = meili.wait(&added).await?;
    let took = started.elapsed();
    let indexed = task["details"]["indexedDocuments"].as_u64().unwrap_or(0);
    if indexed as usize != documents {
        bail!("the copy indexed {indexed} of {documents} documents");
    }
    let deleted = meili.send(Method::DELETE, &format!("/indexes/{copy}"), None).await?;
    meili.wait(&deleted).await?;
    Ok(OwnSpeed { documents, took })
}
