//! Delivery through `lettre`: SMTP for production, `.eml` files under
//! `<data_dir>/mail/` by default.
//!
//! The SMTP server is named by a URL whose scheme chooses the security:
//!
//! | URL | connection | default port |
//! |---|---|---|
//! | `smtps://user:password@host` | implicit TLS from the first byte | 465 |
//! | `smtp://user:password@host` | STARTTLS, required (no fallback to plain text) | 587 |
//! | `smtp+plain://host` | no encryption: a relay on the same host or a test sink | 25 |
//!
//! User and password are optional and percent-decoded. Credentials over
//! `smtp+plain` are refused unless the host is a loopback address, so a
//! password never crosses a network in clear. The password is never shown:
//! [`SmtpUrl`]'s `Debug` and every error leave it out.
//!
//! Every failure is classified for the worker: [`Failure::Transient`] (worth
//! retrying: the connection could not be made, or the server answered 4xx),
//! [`Failure::Permanent`] (5xx, an unusable address), or
//! [`Failure::Ambiguous`] (the connection broke or timed out mid-transaction:
//! the server may have accepted the message, so it must not be resent).

use std::path::{Path, PathBuf};
use std::time::Duration;

use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::PoolConfig;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::templates::Rendered;

/// How the connection to the SMTP server is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// `smtps://`: TLS from the start.
    ImplicitTls,
    /// `smtp://`: plain text upgraded with STARTTLS, which must succeed.
    StartTls,
    /// `smtp+plain://`: no encryption.
    Plain,
}

/// A parsed SMTP URL.
#[derive(Clone, PartialEq, Eq)]
pub struct SmtpUrl {
    pub security: Security,
    pub host: String,
    pub port: u16,
    user: Option<String>,
    password: Option<String>,
}

impl std::fmt::Debug for SmtpUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_string())
    }
}

/// The URL without its password: fit for logs.
impl std::fmt::Display for SmtpUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let scheme = match self.security {
            Security::ImplicitTls => "smtps",
            Security::StartTls => "smtp",
            Security::Plain => "smtp+plain",
        };
        let user = match (&self.user, &self.password) {
            (Some(user), Some(_)) => format!("{user}:***@"),
            (Some(user), None) => format!("{user}@"),
            _ => String::new(),
        };
        write!(f, "{scheme}://{user}{}:{}", self.host, self.port)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum MailerError {
    #[error("mail.smtp_url: {0}")]
    Url(String),
    #[error("mail.from: {0}")]
    From(String),
    #[error("creating the mail directory {dir}: {source}")]
    Directory { dir: PathBuf, source: std::io::Error },
    #[error("configuring SMTP for {url}: {message}")]
    Smtp { url: String, message: String },
}

impl SmtpUrl {
    pub fn parse(text: &str) -> Result<Self, MailerError> {
        // Errors must not echo the URL: it may hold the password.
        let url = url::Url::parse(text).map_err(|e| MailerError::Url(format!("not a URL ({e})")))?;
        let (security, default_port) = match url.scheme() {
            "smtps" => (Security::ImplicitTls, 465),
            "smtp" => (Security::StartTls, 587),
            "smtp+plain" => (Security::Plain, 25),
            other => {
                return Err(MailerError::Url(format!(
                    "scheme '{other}' is not one of smtps:// (TLS), smtp:// (STARTTLS) or smtp+plain:// (no encryption)"
                )));
            }
        };
        let host = url.host_str().filter(|h| !h.is_empty()).ok_or_else(|| MailerError::Url("no host".into()))?;
        // IPv6 literals come bracketed; the connector wants the address.
        let host = host.trim_start_matches('[').trim_end_matches(']').to_string();
        let decode = |s: &str| percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned();
        let user = Some(url.username()).filter(|u| !u.is_empty()).map(decode);
        let password = url.password().map(decode);
        if password.is_some() && user.is_none() {
            return Err(MailerError::Url("a password needs a user name".into()));
        }
        let parsed = Self { security, port: url.port().unwrap_or(default_port), host, user, password };
        if parsed.security == Security::Plain && parsed.password.is_some() && !parsed.is_loopback() {
            return Err(MailerError::Url(format!(
                "smtp+plain:// would send the password unencrypted to {}; use smtps:// or smtp://",
                parsed.host
            )));
        }
        Ok(parsed)
    }

    fn is_loopback(&self) -> bool {
        self.host == "localhost" || self.host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
    }

    fn credentials(&self) -> Option<Credentials> {
        let user = self.user.clone()?;
        Some(Credentials::new(user, self.password.clone().unwrap_or_default()))
    }
}

/// Where mail goes.
#[derive(Debug, Clone)]
pub enum TransportConfig {
    /// `.eml` files in this directory.
    File { dir: PathBuf },
    Smtp {
        url: SmtpUrl,
        /// Connecting, and each command's reply.
        timeout: Duration,
    },
}

/// Why a message was not delivered, as far as the worker must know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// Not delivered; trying again later may work.
    Transient,
    /// Not delivered; trying again will not help.
    Permanent,
    /// Perhaps delivered: the transaction broke off before the server's
    /// verdict on the message arrived.
    Ambiguous,
}

#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct SendError {
    pub failure: Failure,
    pub message: String,
}

enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    File(AsyncFileTransport<Tokio1Executor>),
}

/// Sends rendered emails from one sender address.
pub struct Mailer {
    transport: Transport,
    from: Mailbox,
    /// Where mail goes, for logs (no password).
    description: String,
    /// The domain of Message-IDs: the sender's.
    id_domain: String,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer").field("to", &self.description).field("from", &self.from.to_string()).finish()
    }
}

impl Mailer {
    pub fn new(transport: &TransportConfig, from: &str) -> Result<Self, MailerError> {
        let from: Mailbox = from.parse().map_err(|e| MailerError::From(format!("'{from}' is not an address: {e}")))?;
        let id_domain = from.email.domain().to_string();
        let (transport, description) = match transport {
            TransportConfig::File { dir } => {
                create_dir(dir)?;
                (Transport::File(AsyncFileTransport::new(dir)), format!("files in {}", dir.display()))
            }
            TransportConfig::Smtp { url, timeout } => {
                let fail = |e: lettre::transport::smtp::Error| MailerError::Smtp {
                    url: url.to_string(),
                    message: e.to_string(),
                };
                let builder = match url.security {
                    Security::ImplicitTls => AsyncSmtpTransport::<Tokio1Executor>::relay(&url.host).map_err(fail)?,
                    Security::StartTls => {
                        AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&url.host).map_err(fail)?
                    }
                    Security::Plain => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&url.host),
                };
                let mut builder = builder
                    .port(url.port)
                    .timeout(Some(*timeout))
                    // One worker sends one message at a time; a second
                    // connection only serves `notify run-once` overlapping `serve`.
                    .pool_config(PoolConfig::new().max_size(2).idle_timeout(Duration::from_secs(60)));
                if let Some(credentials) = url.credentials() {
                    builder = builder.credentials(credentials);
                }
                (Transport::Smtp(builder.build()), format!("SMTP {url}"))
            }
        };
        Ok(Self { transport, from, description, id_domain })
    }

    /// Where mail goes, for logs.
    pub fn description(&self) -> &str {
        &self.description
    }

    /// The Message-ID of the email recorded as `email_id`: the same on every
    /// attempt, so that a copy delivered twice by some fault outside this
    /// service is recognisable as one message by the receiving side.
    pub fn message_id(&self, email_id: &str) -> String {
        format!("<{email_id}@{}>", self.id_domain)
    }

    /// The message for one recipient; an unusable address is permanent.
    pub fn compose(
        &self,
        email_id: &str,
        to_name: &str,
        to_address: &str,
        rendered: &Rendered,
    ) -> Result<Message, SendError> {
        let permanent = |message: String| SendError { failure: Failure::Permanent, message };
        let address = to_address.parse().map_err(|e| permanent(format!("recipient address '{to_address}': {e}")))?;
        let to = Mailbox::new(Some(to_name.to_string()), address);
        Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(rendered.subject.clone())
            .message_id(Some(self.message_id(email_id)))
            .multipart(MultiPart::alternative_plain_html(rendered.text.clone(), rendered.html.clone()))
            .map_err(|e| permanent(format!("building the message: {e}")))
    }

    /// Sends `message`; `deadline` bounds the whole SMTP transaction. A
    /// transaction cut off by the deadline is [`Failure::Ambiguous`].
    pub async fn send(&self, message: Message, deadline: Duration) -> Result<(), SendError> {
        let sent = match &self.transport {
            Transport::Smtp(smtp) => {
                tokio::time::timeout(deadline, smtp.send(message)).await.map(|r| r.map(drop).map_err(classify))
            }
            Transport::File(file) => tokio::time::timeout(deadline, file.send(message)).await.map(|r| {
                r.map(drop)
                    .map_err(|e| SendError { failure: Failure::Transient, message: format!("writing the file: {e}") })
            }),
        };
        sent.unwrap_or_else(|_| {
            Err(SendError {
                failure: Failure::Ambiguous,
                message: format!("no answer within {deadline:?}; the server may have accepted the message"),
            })
        })
    }
}

fn create_dir(dir: &Path) -> Result<(), MailerError> {
    std::fs::create_dir_all(dir).map_err(|source| MailerError::Directory { dir: dir.to_path_buf(), source })
}

/// Sorts an SMTP error into what the worker may do next.
fn classify(error: lettre::transport::smtp::Error) -> SendError {
    let message = error.to_string();
    let failure = if error.is_transient() {
        Failure::Transient
    } else if error.is_permanent() || error.is_client() {
        Failure::Permanent
    } else if is_connection_error(&error) || error.is_tls() {
        // Failed while connecting or negotiating TLS: no command that could
        // deliver anything was sent.
        Failure::Transient
    } else {
        // A network error or an unparsable reply on an open connection, or a
        // timeout: it may have struck after the message was taken.
        Failure::Ambiguous
    };
    SendError { failure, message }
}

/// Whether lettre failed while establishing the connection. Its error kinds
/// are private; the Debug form names the kind (pinned by a test that makes
/// a real connection fail).
fn is_connection_error(error: &lettre::transport::smtp::Error) -> bool {
    format!("{error:?}").contains("kind: Connection")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemes_choose_the_security_and_default_port() {
        let url = SmtpUrl::parse("smtps://mailer:s%40cret@smtp.example.com").unwrap();
        assert_eq!((url.security, url.port, url.host.as_str()), (Security::ImplicitTls, 465, "smtp.example.com"));
        assert_eq!(url.user.as_deref(), Some("mailer"));
        assert_eq!(url.password.as_deref(), Some("s@cret"));
        let url = SmtpUrl::parse("smtp://smtp.example.com:2587").unwrap();
        assert_eq!((url.security, url.port), (Security::StartTls, 2587));
        assert!(url.credentials().is_none());
        let url = SmtpUrl::parse("smtp+plain://127.0.0.1").unwrap();
        assert_eq!((url.security, url.port), (Security::Plain, 25));
        let url = SmtpUrl::parse("smtp+plain://[::1]:2525").unwrap();
        assert_eq!((url.host.as_str(), url.port), ("::1", 2525));
    }

    #[test]
    fn passwords_never_show() {
        let url = SmtpUrl::parse("smtps://mailer:hunter2@smtp.example.com:465").unwrap();
        assert_eq!(url.to_string(), "smtps://mailer:***@smtp.example.com:465");
        assert_eq!(format!("{url:?}"), "smtps://mailer:***@smtp.example.com:465");
        for bad in ["smtpx://u:hunter2@h", "smtp+plain://u:hunter2@mail.example.com", "smtp://:hunter2@h", "u:hunter2"]
        {
            let err = SmtpUrl::parse(bad).unwrap_err().to_string();
            assert!(!err.contains("hunter2"), "{bad}: {err}");
        }
        // Loopback relays may take credentials in clear.
        assert!(SmtpUrl::parse("smtp+plain://u:p@localhost:2525").is_ok());
        assert!(SmtpUrl::parse("smtp+plain://u:p@127.0.0.1:2525").is_ok());
    }

    #[test]
    fn bad_senders_are_configuration_errors() {
        let dir = tempfile::tempdir().unwrap();
        let config = TransportConfig::File { dir: dir.path().join("mail") };
        assert!(Mailer::new(&config, "not an address").unwrap_err().to_string().starts_with("mail.from"));
        let mailer = Mailer::new(&config, "平台 <noreply@techtrade.example>").unwrap();
        assert_eq!(mailer.message_id("e1"), "<e1@techtrade.example>");
        assert!(dir.path().join("mail").is_dir());
    }

    /// Nothing listens on the port: a connection error, worth retrying.
    #[tokio::test]
    async fn a_refused_connection_is_transient() {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let url = SmtpUrl::parse(&format!("smtp+plain://127.0.0.1:{port}")).unwrap();
        let mailer =
            Mailer::new(&TransportConfig::Smtp { url, timeout: Duration::from_secs(2) }, "a@example.com").unwrap();
        let rendered = Rendered { subject: "s".into(), text: "t".into(), html: "<p>h</p>".into() };
        let message = mailer.compose("e1", "B", "b@example.com", &rendered).unwrap();
        let err = mailer.send(message, Duration::from_secs(5)).await.unwrap_err();
        assert_eq!(err.failure, Failure::Transient, "{err}");
    }

    /// A server that accepts the connection and never answers: the deadline
    /// (or lettre's own timeout) ends it, and the outcome is unknown.
    #[tokio::test]
    async fn a_silent_server_is_ambiguous() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let url = SmtpUrl::parse(&format!("smtp+plain://127.0.0.1:{port}")).unwrap();
        let mailer =
            Mailer::new(&TransportConfig::Smtp { url, timeout: Duration::from_secs(30) }, "a@example.com").unwrap();
        let rendered = Rendered { subject: "s".into(), text: "t".into(), html: "<p>h</p>".into() };
        let message = mailer.compose("e1", "B", "b@example.com", &rendered).unwrap();
        let err = mailer.send(message, Duration::from_millis(300)).await.unwrap_err();
        assert_eq!(err.failure, Failure::Ambiguous, "{err}");
        drop(listener);
    }

    #[test]
    fn unusable_recipients_are_permanent() {
        let dir = tempfile::tempdir().unwrap();
        let mailer = Mailer::new(&TransportConfig::File { dir: dir.path().to_path_buf() }, "a@example.com").unwrap();
        let rendered = Rendered { subject: "s".into(), text: "t".into(), html: "h".into() };
        let err = mailer.compose("e1", "B", "not-an-address", &rendered).unwrap_err();
        assert_eq!(err.failure, Failure::Permanent);
    }
}
