//! A real SMTP server for tests: `tests/smtp_sink.py` (Python's aiosmtpd)
//! run as a child process on a free localhost port, storing each message it
//! accepts as a parsed JSON file that [`SmtpSink::messages`] reads back.
//!
//! aiosmtpd is installed on first use into a virtual environment at
//! `target/venv-smtp` (pip from PyPI), unless the `python3` on the PATH
//! already has it, or `TECHTRADE_TEST_SMTP_PYTHON` names a Python that has.
//! Recipients whose local part starts with `reject` get 550 and with
//! `tempfail` get 451, to test failures.
//!
//! These are test helpers: they panic with a message on any problem.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::Deserialize;

/// Names a Python interpreter with aiosmtpd, skipping the installation.
pub const PYTHON_VAR: &str = "TECHTRADE_TEST_SMTP_PYTHON";

/// A message as the sink received it.
#[derive(Debug, Clone, Deserialize)]
pub struct ReceivedMessage {
    pub mail_from: String,
    /// The envelope recipients (RCPT TO).
    pub rcpt_tos: Vec<String>,
    /// Decoded headers.
    pub subject: String,
    pub from: String,
    pub to: String,
    pub message_id: String,
    pub content_type: String,
    pub text: Option<String>,
    pub html: Option<String>,
    pub raw: String,
}

/// A running SMTP sink; stopped when dropped.
pub struct SmtpSink {
    pub port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn script() -> PathBuf {
    workspace_root().join("tests/smtp_sink.py")
}

fn has_aiosmtpd(python: &Path) -> bool {
    Command::new(python)
        .args(["-c", "import aiosmtpd"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// A Python with aiosmtpd, installing it into `target/venv-smtp` if need be.
pub fn python() -> PathBuf {
    static INSTALL: Mutex<()> = Mutex::new(());
    if let Ok(python) = std::env::var(PYTHON_VAR) {
        return PathBuf::from(python);
    }
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| workspace_root().join("target"), PathBuf::from);
    let venv = target.join("venv-smtp");
    let venv_python = venv.join("bin/python");
    let _guard = INSTALL.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if has_aiosmtpd(&venv_python) {
        return venv_python;
    }
    if has_aiosmtpd(Path::new("python3")) {
        return PathBuf::from("python3");
    }
    // Built aside and renamed into place, so that test binaries installing
    // at the same moment never see a half-made environment.
    let scratch = target.join(format!("venv-smtp.{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&scratch);
    let run = |command: &mut Command, what: &str| {
        let output = command.output().unwrap_or_else(|e| panic!("{what}: {e}"));
        assert!(output.status.success(), "{what} failed: {}", String::from_utf8_lossy(&output.stderr));
    };
    std::fs::create_dir_all(&target).unwrap_or_else(|e| panic!("creating {}: {e}", target.display()));
    run(Command::new("python3").args(["-m", "venv"]).arg(&scratch), "python3 -m venv");
    run(
        Command::new(scratch.join("bin/python")).args(["-m", "pip", "install", "--quiet", "aiosmtpd"]),
        "pip install aiosmtpd",
    );
    if std::fs::rename(&scratch, &venv).is_err() {
        // Another process finished first; use its environment.
        let _ = std::fs::remove_dir_all(&scratch);
    }
    assert!(has_aiosmtpd(&venv_python), "aiosmtpd is not importable from {}", venv_python.display());
    venv_python
}

/// A port nothing listens on (at the moment of asking).
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("binding a port: {e}"));
    listener.local_addr().unwrap_or_else(|e| panic!("reading the port: {e}")).port()
}

impl SmtpSink {
    /// A sink on a free port.
    pub fn start() -> Self {
        Self::start_on(free_port())
    }

    /// A sink on `port` (for a test that first finds the server down).
    pub fn start_on(port: u16) -> Self {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("creating the sink's directory: {e}"));
        let mut sink = Self { port, dir, child: None };
        sink.restart();
        sink
    }

    /// The URL to give the mailer.
    pub fn url(&self) -> String {
        format!("smtp+plain://127.0.0.1:{}", self.port)
    }

    /// Stops the server; messages received so far stay readable.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// (Re)starts the server on the same port and directory.
    pub fn restart(&mut self) {
        self.stop();
        let python = python();
        let mut child = Command::new(&python)
            .arg(script())
            .args(["--port", &self.port.to_string(), "--dir"])
            .arg(self.dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {} {}: {e}", python.display(), script().display()));
        let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap_or_else(|| panic!("the sink's stdout")));
        let mut line = String::new();
        std::io::BufRead::read_line(&mut stdout, &mut line).unwrap_or_else(|e| panic!("reading the sink: {e}"));
        assert_eq!(line.trim(), "ready", "the SMTP sink did not start on port {}", self.port);
        self.child = Some(child);
    }

    /// Every message received so far, in order of arrival.
    pub fn messages(&self) -> Vec<ReceivedMessage> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(self.dir.path())
            .unwrap_or_else(|e| panic!("reading the sink's directory: {e}"))
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
            .collect();
        files.sort();
        files
            .iter()
            .map(|path| {
                let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
            })
            .collect()
    }

    /// The messages, once at least `count` have arrived (panics after `timeout`).
    pub fn wait_for(&self, count: usize, timeout: Duration) -> Vec<ReceivedMessage> {
        let deadline = Instant::now() + timeout;
        loop {
            let messages = self.messages();
            if messages.len() >= count {
                return messages;
            }
            assert!(Instant::now() < deadline, "{} of {count} messages arrived within {timeout:?}", messages.len());
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.stop();
    }
}
