//! The notify service: emails about what happens on the market, driven by
//! the outbox.
//!
//! - [`events`]: which event becomes which email, for whom (the contract
//!   with the emitting services);
//! - [`recipients`]: those users, their addresses and languages, from the
//!   database;
//! - [`templates`]: the emails (subject, text and HTML; zh-CN and en),
//!   compiled into the binary;
//! - [`mailer`]: SMTP (TLS, STARTTLS or plain, optional auth, timeouts) or
//!   `.eml` files, through lettre;
//! - [`worker`]: the outbox consumer that plans, claims, sends and records
//!   each email, retrying with [`backoff`] and never sending one twice (its
//!   module documentation states the protocol and its crash window);
//! - [`testing`]: a real SMTP server process (Python's aiosmtpd) for tests.

pub mod backoff;
pub mod events;
pub mod failpoint;
pub mod mailer;
pub mod money;
pub mod recipients;
pub mod templates;
pub mod testing;
pub mod worker;

pub use backoff::RetryPolicy;
pub use mailer::{Mailer, MailerError, SmtpUrl, TransportConfig};
pub use templates::{Locale, Rendered, Templates};
pub use worker::{PassReport, Settings, Worker, WorkerError};
