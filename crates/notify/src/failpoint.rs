//! A test-only crash switch for the exactly-once test.
//!
//! With `TECHTRADE_FAILPOINT=notify_after_send` in the environment, the
//! worker aborts the process right after the SMTP server accepted a message
//! and before the acceptance is recorded: the crash the delivery protocol
//! must survive without sending the message twice. Nothing else reads the
//! variable; unset (as in every deployment) it does nothing.

/// The environment variable that arms a failpoint.
pub const VAR: &str = "TECHTRADE_FAILPOINT";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failpoint {
    /// Abort after a successful send, before recording it.
    AbortAfterSend,
}

impl Failpoint {
    /// The failpoint the environment arms, if any.
    pub fn from_env() -> Option<Self> {
        match std::env::var(VAR).ok()?.as_str() {
            "notify_after_send" => Some(Self::AbortAfterSend),
            other => {
                tracing::warn!(value = other, "{VAR} names no known failpoint; ignored");
                None
            }
        }
    }
}
