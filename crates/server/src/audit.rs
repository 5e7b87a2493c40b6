//! The audit chain's key and checkpoints, and `techtrade audit verify`.
//!
//! The key (`audit.key`, or the key file) keys the chain's HMACs; it never
//! enters the database. The checkpoint file records the chain's head every
//! `audit.checkpoint_interval_seconds`: a record the database has lost or
//! rewritten since then no longer matches it. `audit verify` walks the
//! chain from its first record with the key and checks every checkpoint
//! (see `techtrade_db::audit`).

use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use techtrade_db::Database;
use techtrade_db::audit::{AuditKey, Checkpoint};

use crate::cli::{AuditCommand, Failure, open_database, open_database_only};
use crate::config::Config;

/// A key as configured: hex, at least [`AuditKey::MIN_BYTES`] bytes.
pub(crate) fn parse_key(text: &str) -> Result<AuditKey, String> {
    let bytes = hex::decode(text.trim()).map_err(|_| "the audit key must be written in hex".to_string())?;
    AuditKey::new(bytes)
}

fn key_file(config: &Config) -> PathBuf {
    config.audit.key_file.clone().unwrap_or_else(|| config.data_dir.join("audit.key"))
}

pub(crate) fn checkpoint_file(config: &Config) -> PathBuf {
    config.audit.checkpoint_file.clone().unwrap_or_else(|| config.data_dir.join("audit-checkpoints"))
}

/// The configured key, or the key file's; with `create`, a missing key file
/// is made with a fresh random key, readable by its owner only. Verifying
/// never creates one: a new key would call every record forged.
pub(crate) fn load_key(config: &Config, create: bool) -> Result<AuditKey, Failure> {
    if let Some(key) = &config.audit.key {
        return parse_key(key.expose()).map_err(|e| Failure::usage(format!("audit.key: {e}")));
    }
    let path = key_file(config);
    match std::fs::read_to_string(&path) {
        Ok(text) => parse_key(&text).map_err(|e| Failure::usage(format!("{}: {e}", path.display()))),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound && create => create_key_file(&path),
        Err(error) => Err(Failure::failed(format!(
            "reading the audit key {}: {error} (set audit.key or audit.key_file)",
            path.display()
        ))),
    }
}

fn create_key_file(path: &Path) -> Result<AuditKey, Failure> {
    let failed = |e: std::io::Error| Failure::failed(format!("creating the audit key {}: {e}", path.display()));
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(failed)?;
    }
    let mut bytes = vec![0u8; 32];
    getrandom::fill(&mut bytes).map_err(Failure::failed)?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(mut file) => {
            file.write_all(format!("{}\n", hex::encode(&bytes)).as_bytes()).map_err(failed)?;
            file.sync_all().map_err(failed)?;
            tracing::warn!(path = %path.display(), "made a new audit key; keep a copy with the backups");
            AuditKey::new(bytes).map_err(Failure::failed)
        }
        // Another process made it first: use theirs.
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
            let text = std::fs::read_to_string(path).map_err(failed)?;
            parse_key(&text).map_err(Failure::failed)
        }
        Err(error) => Err(failed(error)),
    }
}

/// Installs the key for every record this process appends.
pub(crate) fn install_key(config: &Config) -> Result<(), Failure> {
    techtrade_db::audit::install_key(load_key(config, true)?).map_err(Failure::failed)
}

/// The checkpoints written so far (none when the file does not exist yet).
/// A line is `<seq> <hash> <time written>`.
pub(crate) fn read_checkpoints(path: &Path) -> Result<Vec<Checkpoint>, Failure> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => return Err(Failure::failed(format!("reading {}: {error}", path.display()))),
    };
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(number, line)| {
            parse_checkpoint(line).ok_or_else(|| {
                Failure::failed(format!("{} line {}: not `<seq> <hash> <time>`", path.display(), number + 1))
            })
        })
        .collect()
}

/// A line of the checkpoint file.
fn parse_checkpoint(line: &str) -> Option<Checkpoint> {
    let mut words = line.split_whitespace();
    let seq = words.next()?.parse::<i64>().ok()?;
    let hash = words.next().filter(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))?;
    Some(Checkpoint { seq, hash: hash.to_string() })
}

/// How much of the file's end holds its last line, and then some.
const TAIL_BYTES: u64 = 4096;

/// The newest checkpoint, read from the file's end: the file grows by a
/// line every few minutes for years, and only its last line matters here.
fn last_checkpoint(path: &Path) -> Result<Option<Checkpoint>, Failure> {
    let failed = |e: std::io::Error| Failure::failed(format!("reading {}: {e}", path.display()));
    let mut file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(failed(error)),
    };
    let length = file.metadata().map_err(failed)?.len();
    file.seek(SeekFrom::Start(length.saturating_sub(TAIL_BYTES))).map_err(failed)?;
    let mut tail = Vec::new();
    file.read_to_end(&mut tail).map_err(failed)?;
    let tail = String::from_utf8_lossy(&tail);
    match tail.lines().rev().find(|line| !line.trim().is_empty()) {
        None => Ok(None),
        Some(line) => parse_checkpoint(line)
            .map(Some)
            .ok_or_else(|| Failure::failed(format!("{}: the last line is not `<seq> <hash> <time>`", path.display()))),
    }
}

/// Appends `head` to the checkpoint file unless its last line is as new.
fn append_checkpoint(path: &Path, head: &Checkpoint) -> Result<bool, Failure> {
    if last_checkpoint(path)?.is_some_and(|last| last.seq >= head.seq) {
        return Ok(false);
    }
    let failed = |e: std::io::Error| Failure::failed(format!("writing {}: {e}", path.display()));
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(failed)?;
    }
    let mut file = std::fs::OpenOptions::new().create(true).append(true).open(path).map_err(failed)?;
    let written = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ");
    file.write_all(format!("{} {} {written}\n", head.seq, head.hash).as_bytes()).map_err(failed)?;
    file.sync_all().map_err(failed)?;
    Ok(true)
}

/// Appends the chain's head to the checkpoint file when it moved since the
/// last line; returns the checkpoint written, if any. The file is written
/// off the async threads (it is synced to disk).
pub(crate) async fn write_checkpoint(db: &Database, path: &Path) -> Result<Option<Checkpoint>, Failure> {
    let head = db.run(|conn| techtrade_db::audit::head(conn).map_err(techtrade_db::DbError::from)).await?;
    let path = path.to_path_buf();
    tokio::task::spawn_blocking(move || Ok(append_checkpoint(&path, &head)?.then_some(head)))
        .await
        .map_err(|e| Failure::failed(format!("the checkpoint writer stopped: {e}")))?
}

/// Writes a checkpoint now and every `interval` until the process stops.
pub(crate) fn spawn_checkpoints(db: Database, path: PathBuf, interval: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(interval);
        loop {
            ticks.tick().await;
            if let Err(error) = write_checkpoint(&db, &path).await {
                // The log itself is intact; the witness is behind. Say so loudly.
                tracing::error!(path = %path.display(), %error, "could not checkpoint the audit chain");
            }
        }
    })
}

pub(crate) async fn run(config: Config, command: AuditCommand) -> Result<(), Failure> {
    match command {
        AuditCommand::Verify { checkpoints } => verify(config, checkpoints).await,
        AuditCommand::Checkpoint => {
            let path = checkpoint_file(&config);
            match write_checkpoint(&open_database(&config)?, &path).await? {
                Some(head) => println!("checkpoint {} {} written to {}", head.seq, head.hash, path.display()),
                None => println!("{} is up to date", path.display()),
            }
            Ok(())
        }
    }
}

async fn verify(config: Config, checkpoints: Option<PathBuf>) -> Result<(), Failure> {
    let started = std::time::Instant::now();
    let key = load_key(&config, false)?;
    let path = checkpoints.unwrap_or_else(|| checkpoint_file(&config));
    let checkpoints = read_checkpoints(&path)?;
    // Read-only: verifying must not migrate or otherwise write to the
    // database it is judging.
    let db = open_database_only(&config)?;
    let verified = tokio::task::spawn_blocking(move || {
        let mut conn = db.get().map_err(Failure::failed)?;
        techtrade_db::audit::verify(&mut conn, &key, &checkpoints).map_err(|error| match error {
            techtrade_db::audit::ChainError::Query(e) => Failure::failed(format!("reading the audit log: {e}")),
            broken => Failure::failed(format!("audit log BROKEN: {broken}")),
        })
    })
    .await
    .map_err(Failure::failed)??;
    println!(
        "audit log intact: {} entries verified ({} from before the chain was keyed), {} checkpoints from {} match, in {:.1?}",
        verified.entries,
        verified.unkeyed,
        verified.checkpoints,
        path.display(),
        started.elapsed()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checkpoint(seq: i64) -> Checkpoint {
        Checkpoint { seq, hash: format!("{seq:064x}") }
    }

    #[test]
    fn only_a_newer_head_is_appended_and_the_last_line_is_read_from_the_end() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("checkpoints");
        assert_eq!(last_checkpoint(&path).unwrap(), None, "no file yet");
        // Years of checkpoints: far more than the tail that is read.
        for seq in 1..=2_000 {
            assert!(append_checkpoint(&path, &checkpoint(seq)).unwrap());
        }
        assert!(std::fs::metadata(&path).unwrap().len() > 10 * TAIL_BYTES);
        assert_eq!(last_checkpoint(&path).unwrap(), Some(checkpoint(2_000)));
        assert!(!append_checkpoint(&path, &checkpoint(2_000)).unwrap(), "the head did not move");
        assert!(!append_checkpoint(&path, &checkpoint(1_999)).unwrap());
        assert!(append_checkpoint(&path, &checkpoint(2_001)).unwrap());
        let all = read_checkpoints(&path).unwrap();
        assert_eq!((all.len(), all.last()), (2_001, Some(&checkpoint(2_001))));

        std::fs::write(&path, "12 not-a-hash 2026-12-06T00:00:00Z\n").unwrap();
        assert!(last_checkpoint(&path).is_err(), "a damaged last line is an error, not a silent restart");
    }
}
