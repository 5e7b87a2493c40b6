//! Progress of long commands (`seed --demo`, `reindex`): a bar when stderr
//! is a terminal, plain lines every few seconds when it is not (CI, logs).

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How often a plain progress line is printed.
const LINE_EVERY: Duration = Duration::from_secs(2);

pub struct Progress {
    what: &'static str,
    total: u64,
    started: Instant,
    bar: Option<ProgressBar>,
    last_line: Option<Instant>,
}

impl Progress {
    pub fn start(what: &'static str, total: u64) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
            if let Ok(style) = ProgressStyle::with_template("{msg:>10} [{bar:40}] {pos}/{len} {per_sec} eta {eta}") {
                bar.set_style(style.progress_chars("=> "));
            }
            bar.set_message(what);
            bar
        });
        Self { what, total, started: Instant::now(), bar, last_line: None }
    }

    /// `done` of `total` are done.
    pub fn update(&mut self, done: u64) {
        if let Some(bar) = &self.bar {
            bar.set_position(done);
            return;
        }
        let due = self.last_line.is_none_or(|at| at.elapsed() >= LINE_EVERY);
        if due || done >= self.total {
            self.last_line = Some(Instant::now());
            eprintln!("{}: {done}/{} ({:.1?})", self.what, self.total, self.started.elapsed());
        }
    }

    pub fn finish(self) {
        if let Some(bar) = self.bar {
            bar.finish_and_clear();
        }
    }
}
