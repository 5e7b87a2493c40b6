//! The application state: built once at start-up and handed to every
//! handler. No global statics, so tests run in parallel with their own.

use std::sync::Arc;
use std::time::Duration;

use techtrade_db::Database;

use crate::published::{Capacities, PublishedCache};

#[derive(Clone)]
pub struct AppState {
    pub db: Database,
    pub settings: Arc<Settings>,
    /// Published items' public views and matching terms; this process's
    /// own cache.
    pub published: PublishedCache,
}

impl AppState {
    pub fn new(db: Database, settings: Settings) -> Self {
        let published = PublishedCache::new(settings.published);
        Self { db, settings: Arc::new(settings), published }
    }
}

/// What handlers need to know of the configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    pub auth: AuthSettings,
    /// Take the client address from `X-Forwarded-For` (behind a load balancer).
    pub trust_forwarded_for: bool,
    /// How many published items' public views and matching terms a
    /// process keeps in memory (0: none, every read goes to the database).
    pub published: Capacities,
}

#[derive(Debug, Clone)]
pub struct AuthSettings {
    /// How long a session lives at most, however busy.
    pub token_ttl: Duration,
    /// How long a session may go unused before it ends.
    pub session_idle: Duration,
    /// The window over which failed logins are counted.
    pub login_window: Duration,
    /// Failed logins per account within the window that lock it (423).
    pub max_failures_per_account: u32,
    /// How long a lock-out lasts, from the failure that caused it.
    pub lockout: Duration,
    /// Failed logins per client address within the window before 429.
    pub max_failures_per_ip: u32,
    /// Organisation registrations per client address within
    /// `registration_window` before 429 (each costs a password hash).
    pub max_registrations_per_ip: u32,
    pub registration_window: Duration,
    /// Argon2id memory cost in KiB and number of passes.
    pub password_memory_kib: u32,
    pub password_iterations: u32,
    /// How long an e-mailed password-reset link works.
    pub password_reset_ttl: Duration,
    /// How old a staff member's password may grow before it must be
    /// changed (等保2.0 level 3: 定期更换); members' passwords do not expire.
    pub staff_password_max_age: Duration,
    /// Staff must sign in with a second factor (TOTP): until they enrol
    /// one, their sessions may only enrol it. Off by default, so that a
    /// local trial needs no phone; `config/production.toml` turns it on.
    pub require_staff_totp: bool,
}

impl Default for AuthSettings {
    fn default() -> Self {
        Self {
            // 等保2.0 level 3: sessions end when idle and after a working day.
            token_ttl: Duration::from_secs(12 * 3600),
            session_idle: Duration::from_secs(30 * 60),
            login_window: Duration::from_secs(15 * 60),
            max_failures_per_account: 5,
            lockout: Duration::from_secs(30 * 60),
            max_failures_per_ip: 50,
            max_registrations_per_ip: 20,
            registration_window: Duration::from_secs(3600),
            // OWASP's argon2id recommendation: 19 MiB, 2 passes.
            password_memory_kib: 19 * 1024,
            password_iterations: 2,
            password_reset_ttl: Duration::from_secs(30 * 60),
            staff_password_max_age: Duration::from_secs(90 * 24 * 3600),
            require_staff_totp: false,
        }
    }
}
