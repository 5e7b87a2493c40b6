//! The notify worker as the binary runs it: built from `[mail]`, spawned by
//! `serve`, or run by `techtrade notify run`; and `techtrade notify status`.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use techtrade_db::Database;
use techtrade_db::emails::{self, EmailStatus};
use techtrade_notify::failpoint::Failpoint;
use techtrade_notify::{Mailer, RetryPolicy, Settings, SmtpUrl, Templates, TransportConfig, Worker};

use crate::cli::{Failure, NotifyCommand};
use crate::config::{Config, MailTransport};

/// The worker `[mail]` describes. `program_names` label subsidy emails.
pub(crate) fn worker(
    config: &Config,
    db: Database,
    program_names: BTreeMap<String, String>,
) -> Result<Worker, Failure> {
    let mail = &config.mail;
    let transport = match mail.transport {
        MailTransport::File => TransportConfig::File { dir: config.data_dir.join("mail") },
        MailTransport::Smtp => {
            let url = mail.smtp_url.as_ref().map(|u| u.expose()).unwrap_or_default();
            let url = SmtpUrl::parse(url).map_err(|e| Failure::usage(format!("configuration: {e}")))?;
            TransportConfig::Smtp { url, timeout: Duration::from_secs(mail.smtp_timeout_seconds) }
        }
    };
    let mailer = Mailer::new(&transport, &mail.from).map_err(|e| match e {
        techtrade_notify::MailerError::Directory { .. } => Failure::failed(e),
        _ => Failure::usage(format!("configuration: {e}")),
    })?;
    let templates = Templates::new().map_err(|e| Failure::failed(format!("email templates: {e:#}")))?;
    let settings = Settings {
        batch_size: i64::from(mail.batch_size),
        poll_interval: Duration::from_millis(mail.poll_interval_ms),
        retry: RetryPolicy {
            base: Duration::from_secs(mail.retry_base_seconds),
            cap: Duration::from_secs(mail.retry_max_seconds),
            max_attempts: mail.max_attempts,
        },
        send_timeout: Duration::from_secs(mail.send_timeout_seconds),
        site_url: mail.site_url.clone(),
        program_names,
        failpoint: Failpoint::from_env(),
    };
    Ok(Worker::new(db, mailer, templates, settings))
}

/// Subsidy program names by id, from the loaded policy files.
pub(crate) fn program_names(programs: &[techtrade_domain::policy::Program]) -> BTreeMap<String, String> {
    programs.iter().map(|p| (p.id().to_string(), p.name().to_string())).collect()
}

pub(crate) async fn run(config: Config, command: NotifyCommand) -> Result<(), Failure> {
    let db = crate::cli::open_database(&config)?;
    {
        let db = db.clone();
        tokio::task::spawn_blocking(move || crate::cli::apply_migrations(&db)).await.map_err(Failure::failed)??;
    }
    match command {
        NotifyCommand::Run { once } => {
            let programs = crate::cli::load_policies(&config)?;
            let worker = worker(&config, db, program_names(&programs))?;
            if once {
                let started = Instant::now();
                let report = worker.run_until_idle().await.map_err(Failure::failed)?;
                println!(
                    "notify: {} events read, {} emails planned, {} sent, {} to retry, {} failed, {} unknown in {:.1?}",
                    report.events,
                    report.planned,
                    report.sent,
                    report.retrying,
                    report.failed,
                    report.unknown,
                    started.elapsed()
                );
            } else {
                worker.run(crate::cli::shutdown_signal()).await;
            }
            Ok(())
        }
        NotifyCommand::Status => status(&db).await,
    }
}

/// Counts by status, then the emails that need an operator's eye.
async fn status(db: &Database) -> Result<(), Failure> {
    let db = db.clone();
    let (counts, attention) = tokio::task::spawn_blocking(move || {
        let mut conn = db.get().map_err(Failure::failed)?;
        let counts = emails::count_by_status(&mut conn).map_err(Failure::failed)?;
        let mut attention = emails::with_status(&mut conn, EmailStatus::Unknown, 50).map_err(Failure::failed)?;
        attention.extend(emails::with_status(&mut conn, EmailStatus::Failed, 50).map_err(Failure::failed)?);
        Ok::<_, Failure>((counts, attention))
    })
    .await
    .map_err(Failure::failed)??;
    let line: Vec<String> = counts.iter().map(|(status, n)| format!("{n} {status}")).collect();
    println!("emails: {}", line.join(", "));
    for email in &attention {
        println!(
            "{} {} event {} {} to {} after {} attempt(s): {}",
            email.status,
            email.id,
            email.outbox_event_id,
            email.template,
            email.recipient,
            email.attempts,
            email.last_error.as_deref().unwrap_or("-")
        );
    }
    if attention.iter().any(|e| e.status == EmailStatus::Unknown.as_str()) {
        println!(
            "unknown: the SMTP server may or may not have accepted these; they are never resent automatically \
             (check the server's log for their Message-ID <email id@sender domain>)"
        );
    }
    Ok(())
}
