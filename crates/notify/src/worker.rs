//! The outbox consumer that turns events into delivered emails, each at
//! most once.
//!
//! # Protocol
//!
//! 1. **Plan.** Read the events after the `notify` cursor (stopping at a
//!    gap in ids that, on PostgreSQL, a transaction still open may fill:
//!    `outbox::ready_after`). For each event with an email, resolve the recipients, render
//!    once (to catch errors early and store the subject) and insert one
//!    `sent_emails` row per recipient as `pending`, with the template context
//!    frozen as JSON. The rows and the cursor move commit in one
//!    transaction: a crash replans the whole batch or none of it, and the
//!    UNIQUE (outbox_event_id, template, recipient) constraint turns a
//!    replan, or a second worker planning the same batch, into no new rows.
//! 2. **Claim.** Before talking to SMTP, a worker claims a due row with one
//!    conditional UPDATE (`pending`/`retrying` → `sending`, attempts + 1,
//!    `lease_until` = now + lease) that names the attempt count it read. One
//!    row changed means this worker won; none means another did. So N
//!    workers on one database send each email once.
//! 3. **Send**, with the whole SMTP transaction bounded by
//!    `send_timeout`, one message at a time per worker.
//! 4. **Record**: `sent` (with the Message-ID), or on a transient failure
//!    (connection refused, 4xx) `retrying` at now + backoff, or `failed`
//!    once the attempts run out or the server answers 5xx.
//!
//! # The crash window, and why it cannot duplicate
//!
//! Between the server's acceptance of a message (step 3) and the commit of
//! `sent` (step 4) a crash leaves the row `sending`: the server may or may
//! not have the message. Such a row is never sent again automatically:
//! once its lease has ended (lease = 2 × `send_timeout`, so a live worker
//! always records first), the next pass marks it `unknown`, logs it as a
//! warning, and `techtrade notify status` lists it for an operator. The
//! same holds for an attempt that ends in a timeout or a broken connection
//! mid-transaction. The guarantee is therefore **at most once**, and
//! exactly once for every email whose attempt ended with a recorded
//! outcome; the emails that can end `unknown` are bounded by one SMTP
//! transaction per worker (at most one message in flight each, for at most
//! `send_timeout`, 30 s by default).
//!
//! # N workers
//!
//! Planning reads one cursor, so among N worker processes one plans at a
//! time, under a lease (`techtrade_db::leases`); with a fence
//! ([`Worker::fenced`]) the planning transaction also checks that lease, so
//! a worker that lost it plans nothing. Claims make delivery safe anyway.
//!
//! Every message carries a Message-ID derived from its row id, identical on
//! every attempt, so that even a copy an operator chooses to resend is
//! recognisably the same message.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use chrono::NaiveDateTime;
use techtrade_db::emails::{self, NewEmail, SentEmail};
use techtrade_db::leases::Fence;
use techtrade_db::outbox::{self, OutboxEvent};
use techtrade_db::{AnyConnection, Database, DbError};

use crate::backoff::RetryPolicy;
use crate::events::{self, Notice};
use crate::failpoint::Failpoint;
use crate::mailer::{Failure, Mailer};
use crate::recipients::{self, Recipient};
use crate::templates::{Locale, Templates};

/// The mailer's name in `outbox_cursors`.
pub const CONSUMER: &str = "notify";

/// How the worker behaves.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Events read, and emails tried, per pass.
    pub batch_size: i64,
    /// The pause when a pass found nothing to do.
    pub poll_interval: Duration,
    pub retry: RetryPolicy,
    /// Bounds one SMTP transaction; the lease on a claimed email is twice this.
    pub send_timeout: Duration,
    /// The site named in every email's footer.
    pub site_url: String,
    /// Subsidy program names by id, for claim and round emails.
    pub program_names: BTreeMap<String, String>,
    pub failpoint: Option<Failpoint>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            batch_size: 100,
            poll_interval: Duration::from_secs(1),
            retry: RetryPolicy::default(),
            send_timeout: Duration::from_secs(30),
            site_url: "http://127.0.0.1:8080".into(),
            program_names: BTreeMap::new(),
            failpoint: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error(transparent)]
    Database(#[from] DbError),
    #[error("the lease on {0} is held by another worker now; nothing was planned")]
    LeaseLost(&'static str),
}

impl From<diesel::result::Error> for WorkerError {
    fn from(error: diesel::result::Error) -> Self {
        Self::Database(DbError::Query(error))
    }
}

/// What one pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PassReport {
    /// Outbox events read past (with an email or not).
    pub events: usize,
    /// Emails newly planned.
    pub planned: usize,
    pub sent: usize,
    /// Attempts that failed transiently and will be retried.
    pub retrying: usize,
    /// Emails given up on.
    pub failed: usize,
    /// Emails whose delivery is unknown (expired leases, ambiguous attempts).
    pub unknown: usize,
}

impl PassReport {
    /// Whether the pass did anything (another may find more at once).
    pub fn busy(&self) -> bool {
        self.events + self.planned + self.sent + self.retrying + self.failed + self.unknown > 0
    }

    fn add(&mut self, other: Self) {
        self.events += other.events;
        self.planned += other.planned;
        self.sent += other.sent;
        self.retrying += other.retrying;
        self.failed += other.failed;
        self.unknown += other.unknown;
    }
}

/// The notify worker: plans emails from the outbox and delivers them.
#[derive(Clone)]
pub struct Worker {
    db: Database,
    mailer: Arc<Mailer>,
    templates: Arc<Templates>,
    settings: Arc<Settings>,
    /// Set when [`Worker::run`]'s shutdown resolves: no new email is
    /// claimed, the one in hand is finished and recorded.
    stopping: Arc<AtomicBool>,
    /// The lease planning must hold, when this is one worker among N.
    fence: Option<Arc<Fence>>,
}

impl Worker {
    pub fn new(db: Database, mailer: Mailer, templates: Templates, settings: Settings) -> Self {
        Self {
            db,
            mailer: Arc::new(mailer),
            templates: Arc::new(templates),
            settings: Arc::new(settings),
            stopping: Arc::new(AtomicBool::new(false)),
            fence: None,
        }
    }

    /// A worker for one run under `fence`: the same mailer and settings,
    /// its own stop flag (an earlier run's shutdown does not stop it).
    pub fn fenced(&self, fence: Option<Fence>) -> Self {
        Self { stopping: Arc::new(AtomicBool::new(false)), fence: fence.map(Arc::new), ..self.clone() }
    }

    fn lease(&self) -> Duration {
        self.settings.send_timeout.saturating_mul(2)
    }

    /// One pass: expire dead claims, plan one batch of events, try the
    /// emails that are due.
    pub async fn run_once(&self) -> Result<PassReport, WorkerError> {
        let mut report = PassReport { unknown: self.expire_leases().await?, ..PassReport::default() };
        report.add(self.plan_once().await?);
        report.add(self.deliver_once().await?);
        Ok(report)
    }

    /// Passes until one finds nothing to do: every event read and every due
    /// email tried (emails waiting for a later retry stay waiting).
    pub async fn run_until_idle(&self) -> Result<PassReport, WorkerError> {
        let mut total = PassReport::default();
        loop {
            let pass = self.run_once().await?;
            total.add(pass);
            if !pass.busy() {
                return Ok(total);
            }
        }
    }

    /// Runs until `shutdown` resolves: a pass at once when the last one had
    /// work, else after `poll_interval` (or sooner when a retry falls due).
    /// Shutdown waits for the email being sent, never cutting a send short
    /// (that would leave its outcome unknown).
    pub async fn run(self, shutdown: impl std::future::Future<Output = ()> + Send + 'static) {
        tracing::info!(transport = self.mailer.description(), "notify worker started");
        let woken = Arc::new(tokio::sync::Notify::new());
        {
            let (stopping, woken) = (self.stopping.clone(), woken.clone());
            tokio::spawn(async move {
                shutdown.await;
                stopping.store(true, Ordering::SeqCst);
                woken.notify_one();
            });
        }
        let mut backoff = self.settings.poll_interval;
        while !self.stopping.load(Ordering::SeqCst) {
            let wait = match self.run_once().await {
                Ok(report) if report.busy() => {
                    backoff = self.settings.poll_interval;
                    Duration::ZERO
                }
                Ok(_) => {
                    backoff = self.settings.poll_interval;
                    self.idle_wait().await
                }
                Err(error) => {
                    tracing::warn!(%error, "notify pass failed; retrying");
                    backoff = (backoff * 2).min(Duration::from_secs(60));
                    backoff
                }
            };
            tokio::select! {
                () = woken.notified() => {}
                () = tokio::time::sleep(wait) => {}
            }
        }
        tracing::info!("notify worker stopped");
    }

    /// The poll interval, or less when a retry falls due sooner.
    async fn idle_wait(&self) -> Duration {
        let poll = self.settings.poll_interval;
        let next = self.db.run(|conn| emails::next_due_at(conn).map_err(DbError::from)).await;
        match next {
            Ok(Some(at)) => (at - techtrade_db::now()).to_std().unwrap_or(Duration::ZERO).min(poll),
            _ => poll,
        }
    }

    /// Marks `unknown` the claims whose lease ended with no outcome.
    async fn expire_leases(&self) -> Result<usize, WorkerError> {
        let expired =
            self.db.run(|conn| emails::expire_leases(conn, techtrade_db::now()).map_err(DbError::from)).await?;
        for email in &expired {
            tracing::warn!(
                email_id = %email.id,
                outbox_event_id = email.outbox_event_id,
                template = %email.template,
                recipient = %email.recipient,
                attempts = email.attempts,
                "email delivery unknown: its worker stopped between sending and recording; not resent"
            );
        }
        Ok(expired.len())
    }

    /// Plans the emails of the next ready batch of events and moves the
    /// cursor past them, in one transaction.
    pub async fn plan_once(&self) -> Result<PassReport, WorkerError> {
        let templates = self.templates.clone();
        let settings = self.settings.clone();
        let fence = self.fence.clone();
        let planned = self
            .db
            .run(move |conn| {
                techtrade_db::write_transaction(conn, |conn| {
                    if let Some(fence) = &fence
                        && !fence.check(conn)?
                    {
                        return Err(WorkerError::LeaseLost(fence.consumer));
                    }
                    let cursor = outbox::cursor(conn, CONSUMER)?;
                    let events = outbox::ready_after(conn, cursor, settings.batch_size)?;
                    let Some(last) = events.last().map(|e| e.id) else {
                        return Ok(PassReport::default());
                    };
                    let mut planned = 0;
                    for event in &events {
                        planned += plan_event(conn, &templates, &settings, event)?;
                    }
                    outbox::advance_cursor(conn, CONSUMER, last)?;
                    Ok(PassReport { events: events.len(), planned, ..PassReport::default() })
                })
            })
            .await;
        match planned {
            // Another worker created the cursor row in the meantime (the
            // first pass of two workers on PostgreSQL): it planned this
            // batch; the next pass starts after it.
            Err(WorkerError::Database(DbError::Query(error))) if techtrade_db::is_unique_violation(&error) => {
                tracing::debug!(%error, "another worker planned the same events first");
                Ok(PassReport::default())
            }
            other => other,
        }
    }

    /// Claims and sends the emails that are due, one at a time.
    pub async fn deliver_once(&self) -> Result<PassReport, WorkerError> {
        let limit = self.settings.batch_size;
        let due = self.db.run(move |conn| emails::due(conn, techtrade_db::now(), limit).map_err(DbError::from)).await?;
        let mut report = PassReport::default();
        for email in due {
            if self.stopping.load(Ordering::SeqCst) {
                break;
            }
            match self.deliver(email).await? {
                Outcome::Sent => report.sent += 1,
                Outcome::Retrying => report.retrying += 1,
                Outcome::Failed => report.failed += 1,
                Outcome::Unknown => report.unknown += 1,
                Outcome::Lost => {}
            }
        }
        Ok(report)
    }

    async fn deliver(&self, email: SentEmail) -> Result<Outcome, WorkerError> {
        let lease = chrono::Duration::from_std(self.lease()).unwrap_or(chrono::Duration::MAX);
        let claimed = {
            let email = email.clone();
            self.db
                .run(move |conn| {
                    let now = techtrade_db::now();
                    emails::claim(conn, &email, now, now + lease).map_err(DbError::from)
                })
                .await?
        };
        if !claimed {
            // Another worker took it between our read and our claim.
            return Ok(Outcome::Lost);
        }
        let attempt = email.attempts + 1;
        let message = self.compose(&email);
        let sent = match message {
            Ok(message) => self.mailer.send(message, self.settings.send_timeout).await,
            Err(error) => Err(error),
        };
        if sent.is_ok() && self.settings.failpoint == Some(Failpoint::AbortAfterSend) {
            eprintln!("failpoint notify_after_send: aborting after sending email {}", email.id);
            std::process::abort();
        }
        let now = techtrade_db::now();
        let (outcome, recorded) = match sent {
            Ok(()) => {
                let message_id = self.mailer.message_id(&email.id);
                let id = email.id.clone();
                let recorded = self
                    .db
                    .run(move |conn| emails::mark_sent(conn, &id, attempt, &message_id, now).map_err(DbError::from))
                    .await?;
                tracing::info!(email_id = %email.id, template = %email.template, recipient = %email.recipient, "email sent");
                (Outcome::Sent, recorded)
            }
            Err(error) => {
                let attempts = u32::try_from(attempt).unwrap_or(u32::MAX);
                let delay = match error.failure {
                    Failure::Transient => self.settings.retry.next_delay(attempts),
                    Failure::Permanent | Failure::Ambiguous => None,
                };
                let outcome = match (error.failure, delay) {
                    (Failure::Transient, Some(_)) => Outcome::Retrying,
                    (Failure::Transient | Failure::Permanent, _) => Outcome::Failed,
                    (Failure::Ambiguous, _) => Outcome::Unknown,
                };
                if outcome == Outcome::Retrying {
                    tracing::warn!(email_id = %email.id, template = %email.template, recipient = %email.recipient,
                        attempt, error = %error.message, "email not sent; will retry");
                } else {
                    tracing::error!(email_id = %email.id, template = %email.template, recipient = %email.recipient,
                        attempt, error = %error.message, ?outcome, "email not sent; not retrying");
                }
                let id = email.id.clone();
                let message = error.message.clone();
                let retry_at = delay.and_then(|d| chrono::Duration::from_std(d).ok()).map(|d| now + d);
                let recorded = self
                    .db
                    .run(move |conn| record_failure(conn, &id, attempt, &message, outcome, retry_at, now))
                    .await?;
                (outcome, recorded)
            }
        };
        if !recorded {
            tracing::warn!(email_id = %email.id, outcome = ?outcome,
                "the email's row changed while it was being sent (its lease ran out?); outcome not recorded");
        }
        Ok(outcome)
    }

    fn compose(&self, email: &SentEmail) -> Result<lettre::Message, crate::mailer::SendError> {
        let permanent = |message: String| crate::mailer::SendError { failure: Failure::Permanent, message };
        let mut context: serde_json::Value = serde_json::from_str(email.context.as_deref().unwrap_or("{}"))
            .map_err(|e| permanent(format!("the stored context: {e}")))?;
        with_secrets(&email.template, &mut context).map_err(permanent)?;
        let rendered = self
            .templates
            .render(&email.template, Locale::from_user(&email.locale), &context)
            .map_err(|e| permanent(format!("rendering {}: {e:#}", email.template)))?;
        let name = context["recipient"]["name"].as_str().unwrap_or_default();
        self.mailer.compose(&email.id, name, &email.recipient, &rendered)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Sent,
    Retrying,
    Failed,
    Unknown,
    /// Claimed by another worker first.
    Lost,
}

fn record_failure(
    conn: &mut AnyConnection,
    id: &str,
    attempt: i32,
    message: &str,
    outcome: Outcome,
    retry_at: Option<NaiveDateTime>,
    now: NaiveDateTime,
) -> Result<bool, DbError> {
    let recorded = match outcome {
        Outcome::Unknown => emails::mark_unknown(conn, id, attempt, message, now)?,
        _ => emails::mark_attempt_failed(conn, id, attempt, message, retry_at, now)?,
    };
    Ok(recorded)
}

/// Plans the emails of one event; returns how many rows were new. An event
/// whose payload is unusable is logged and passed over: blocking the cursor
/// on it would stop every email after it.
fn plan_event(
    conn: &mut AnyConnection,
    templates: &Templates,
    settings: &Settings,
    event: &OutboxEvent,
) -> Result<usize, WorkerError> {
    let notices = match events::notices(&event.event_type, &event.payload) {
        Ok(notices) => notices,
        Err(error) => {
            tracing::error!(outbox_event_id = event.id, %error, "event payload unusable; no email planned");
            return Ok(0);
        }
    };
    let mut planned = 0;
    for notice in &notices {
        planned += plan_notice(conn, templates, settings, event, notice)?;
    }
    Ok(planned)
}

/// Plans one notice's emails, one per recipient; returns how many were new.
fn plan_notice(
    conn: &mut AnyConnection,
    templates: &Templates,
    settings: &Settings,
    event: &OutboxEvent,
    notice: &Notice,
) -> Result<usize, WorkerError> {
    let facts = facts(conn, settings, notice)?;
    let recipients = recipients::resolve(conn, &notice.audience)?;
    let mut named = notice.named_organizations.clone();
    named.extend(recipients.iter().filter_map(|r| r.organization_id.clone()));
    named.sort();
    named.dedup();
    let names = recipients::organization_names(conn, &named)?;
    let mut planned = 0;
    for recipient in &recipients {
        let context = context(&facts, recipient, &names, &settings.site_url);
        // Rendered whole once, to know it renders; stored without its secrets.
        let mut complete = context.clone();
        let rendered = with_secrets(notice.template, &mut complete).and_then(|()| {
            templates.render(notice.template, recipient.locale, &complete).map_err(|error| format!("{error:#}"))
        });
        let subject = match rendered {
            Ok(rendered) => rendered.subject,
            Err(error) => {
                tracing::error!(outbox_event_id = event.id, template = notice.template, %error,
                    "email does not render; not planned");
                continue;
            }
        };
        let id = techtrade_domain::ids::new_id();
        let context = context.to_string();
        let email = NewEmail {
            id: &id,
            outbox_event_id: event.id,
            template: notice.template,
            recipient: &recipient.email,
            user_id: Some(&recipient.user_id),
            locale: recipient.locale.as_str(),
            subject: &subject,
            context: &context,
        };
        if emails::plan(conn, &email, techtrade_db::now())? {
            planned += 1;
        }
    }
    Ok(planned)
}

/// The event's facts with what the database and settings add: an older
/// item event's title and reason, a program's name.
fn facts(conn: &mut AnyConnection, settings: &Settings, notice: &Notice) -> Result<serde_json::Value, WorkerError> {
    let mut facts = notice.facts.clone();
    if let (Some(item), Some(object)) = (&notice.item_lookup, facts.as_object_mut())
        && let Some((title, reason)) = recipients::item_details(conn, item)?
    {
        object.insert("title".into(), title.into());
        if object.get("reason").is_none_or(serde_json::Value::is_null) {
            object.insert("reason".into(), reason.into());
        }
    }
    if let (Some(program), Some(object)) = (&notice.program_id, facts.as_object_mut()) {
        let name = settings.program_names.get(program).cloned().unwrap_or_else(|| program.clone());
        object.insert("program_name".into(), name.into());
    }
    // An item whose row is gone still gets an email with a usable title.
    if let (Some(item), Some(object)) = (&notice.item_lookup, facts.as_object_mut())
        && object.get("title").is_none_or(serde_json::Value::is_null)
    {
        object.insert("title".into(), item.id.clone().into());
    }
    Ok(facts)
}

/// Adds to an e-mail's context, as it is sent, what is never stored with
/// it: a password reset's token, derived from the reset's id with the
/// installation's key (the database keeps only the token's hash).
pub fn with_secrets(template: &str, context: &mut serde_json::Value) -> Result<(), String> {
    if template == "password_reset" {
        let id = context["event"]["reset_id"].as_str().ok_or("a password reset e-mail without its reset id")?;
        let token = techtrade_db::audit::derived_token(techtrade_db::audit::PASSWORD_RESET, id)
            .map_err(|e| format!("deriving the reset token: {e}"))?;
        context["event"]["token"] = token.into();
    }
    Ok(())
}

/// What the templates see.
pub fn context(
    facts: &serde_json::Value,
    recipient: &Recipient,
    organization_names: &BTreeMap<String, String>,
    site_url: &str,
) -> serde_json::Value {
    serde_json::json!({
        "event": facts,
        "recipient": recipient,
        "organization_names": organization_names,
        "site_url": site_url,
    })
}
