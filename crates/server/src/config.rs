//! Layered configuration, later wins: built-in defaults →
//! `config/default.toml` → `config/<TECHTRADE_PROFILE>.toml` → environment
//! `TECHTRADE__SECTION__KEY` (e.g. `TECHTRADE__DATABASE__URL`).
//!
//! Unknown keys are errors, so a typo in a file or a variable is reported
//! instead of silently ignored. Secrets are [`Secret`]s: they never print.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};
use techtrade_db::{DatabaseUrl, PoolOptions};
use techtrade_domain::matching::Weights;
use techtrade_matching::MatchingSettings;
use techtrade_web::published::Capacities;
use techtrade_web::{AuthSettings, Settings};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Where the SQLite database, search index and mail files live.
    pub data_dir: PathBuf,
    pub server: ServerConfig,
    pub market: MarketConfig,
    pub database: DatabaseConfig,
    pub log: LogConfig,
    pub auth: AuthConfig,
    pub search: SearchConfig,
    pub mail: MailConfig,
    pub deals: DealsConfig,
    pub payments: PaymentsConfig,
    pub subsidy: SubsidyConfig,
    pub registration: RegistrationConfig,
    pub matching: MatchingConfig,
    pub workers: WorkersConfig,
    pub audit: AuditConfig,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("./data"),
            server: ServerConfig::default(),
            market: MarketConfig::default(),
            database: DatabaseConfig::default(),
            log: LogConfig::default(),
            auth: AuthConfig::default(),
            search: SearchConfig::default(),
            mail: MailConfig::default(),
            deals: DealsConfig::default(),
            payments: PaymentsConfig::default(),
            subsidy: SubsidyConfig::default(),
            registration: RegistrationConfig::default(),
            matching: MatchingConfig::default(),
            workers: WorkersConfig::default(),
            audit: AuditConfig::default(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    pub listen: String,
    /// Largest request body accepted, in bytes.
    pub body_limit_bytes: usize,
    /// A request still running after this long gets 503.
    pub request_timeout_seconds: u64,
    /// Behind a load balancer: take the client address from X-Forwarded-For.
    pub trust_forwarded_for: bool,
    /// The address people reach the site at; when it is https, the web
    /// front's cookies are marked `Secure`.
    pub public_url: String,
    /// Published listings' and demands' public views kept in memory per
    /// process (about 1 KB each); 0 reads every one from the database.
    pub public_view_cache_entries: usize,
    /// Published listings' and demands' terms that matching weighs, kept
    /// in memory per process (about 300 bytes each, all read at start);
    /// 0 reads a match's candidates from the database every time.
    pub match_terms_cache_entries: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            body_limit_bytes: 2 * 1024 * 1024,
            request_timeout_seconds: 30,
            trust_forwarded_for: false,
            public_url: "http://127.0.0.1:8080".into(),
            public_view_cache_entries: 30_000,
            match_terms_cache_entries: 200_000,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    /// `sqlite://PATH` or `postgres://…`; default: SQLite in the data directory.
    pub url: Option<Secret>,
    pub pool_size: u32,
    /// How long a request waits for a pooled connection before it is
    /// answered 503 with `Retry-After` (the pool is saturated).
    pub pool_wait_ms: u64,
    /// Apply pending migrations when `serve` starts.
    pub migrate_on_start: bool,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self { url: None, pool_size: 10, pool_wait_ms: 5_000, migrate_on_start: true }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    pub format: LogFormat,
    /// A tracing filter; `RUST_LOG` wins when set.
    pub filter: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self { format: LogFormat::Text, filter: "info,tower_http=info".into() }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    pub token_ttl_minutes: u64,
    pub session_idle_minutes: u64,
    pub login_window_seconds: u64,
    pub max_failures_per_account: u32,
    pub lockout_minutes: u64,
    pub max_failures_per_ip: u32,
    pub max_registrations_per_ip: u32,
    pub registration_window_seconds: u64,
    pub password_memory_kib: u32,
    pub password_iterations: u32,
    pub password_reset_minutes: u64,
    pub staff_password_max_age_days: u64,
    pub require_staff_totp: bool,
}

impl Default for AuthConfig {
    fn default() -> Self {
        let d = AuthSettings::default();
        Self {
            token_ttl_minutes: d.token_ttl.as_secs() / 60,
            session_idle_minutes: d.session_idle.as_secs() / 60,
            login_window_seconds: d.login_window.as_secs(),
            max_failures_per_account: d.max_failures_per_account,
            lockout_minutes: d.lockout.as_secs() / 60,
            max_failures_per_ip: d.max_failures_per_ip,
            max_registrations_per_ip: d.max_registrations_per_ip,
            registration_window_seconds: d.registration_window.as_secs(),
            password_memory_kib: d.password_memory_kib,
            password_iterations: d.password_iterations,
            password_reset_minutes: d.password_reset_ttl.as_secs() / 60,
            staff_password_max_age_days: d.staff_password_max_age.as_secs() / 86_400,
            require_staff_totp: d.require_staff_totp,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SearchBackend {
    Embedded,
    Meilisearch,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SearchConfig {
    pub backend: SearchBackend,
    pub meilisearch_url: Option<String>,
    pub meilisearch_key: Option<Secret>,
}

impl Default for SearchConfig {
    fn default() -> Self {
        Self { backend: SearchBackend::Embedded, meilisearch_url: None, meilisearch_key: None }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MailTransport {
    File,
    Smtp,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MailConfig {
    /// Whether `serve` runs the notify worker (emails from the outbox).
    pub enabled: bool,
    pub transport: MailTransport,
    /// `smtps://user:pass@host` (TLS, port 465), `smtp://user:pass@host`
    /// (STARTTLS required, port 587) or `smtp+plain://host:25` (no
    /// encryption: a local relay or a test sink).
    pub smtp_url: Option<Secret>,
    pub from: String,
    /// The site named in every email's footer.
    pub site_url: String,
    /// Connecting to the SMTP server, and each reply.
    pub smtp_timeout_seconds: u64,
    /// Bounds one whole SMTP transaction; a claimed email's lease is twice this.
    pub send_timeout_seconds: u64,
    /// Outbox events read, and emails tried, per pass.
    pub batch_size: u32,
    /// The pause between passes when there is nothing to do.
    pub poll_interval_ms: u64,
    /// Retries after transient failures: base × 2^(attempt − 1), capped.
    pub retry_base_seconds: u64,
    pub retry_max_seconds: u64,
    /// Attempts in all before an email is given up as failed.
    pub max_attempts: u32,
}

impl Default for MailConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            transport: MailTransport::File,
            smtp_url: None,
            from: "techtrade <noreply@techtrade.invalid>".into(),
            site_url: "http://127.0.0.1:8080".into(),
            smtp_timeout_seconds: 20,
            send_timeout_seconds: 30,
            batch_size: 100,
            poll_interval_ms: 1000,
            retry_base_seconds: 30,
            retry_max_seconds: 3600,
            max_attempts: 8,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PaymentsConfig {
    pub stripe_secret_key: Option<Secret>,
    pub stripe_webhook_secret: Option<Secret>,
    /// The publishable key (`pk_…`) the web front's card form hands to
    /// Stripe.js; without it the web front offers bank transfers only
    /// (the API still starts Stripe payments for clients with their own).
    pub stripe_publishable_key: Option<String>,
    /// Another Stripe API base than `https://api.stripe.com/` (a stand-in for tests).
    pub stripe_api_base: Option<String>,
    pub stripe_timeout_seconds: u64,
    /// How old a webhook's signed timestamp may be.
    pub webhook_tolerance_seconds: i64,
}

impl Default for PaymentsConfig {
    fn default() -> Self {
        Self {
            stripe_secret_key: None,
            stripe_webhook_secret: None,
            stripe_publishable_key: None,
            stripe_api_base: None,
            stripe_timeout_seconds: 10,
            webhook_tolerance_seconds: techtrade_payments::signature::DEFAULT_TOLERANCE_SECONDS,
        }
    }
}

impl PaymentsConfig {
    /// Stripe's settings when both keys are set; `None` for offline payments only.
    pub fn stripe(&self) -> Option<techtrade_payments::StripeSettings> {
        let (secret_key, webhook_secret) = (self.stripe_secret_key.as_ref()?, self.stripe_webhook_secret.as_ref()?);
        Some(techtrade_payments::StripeSettings {
            secret_key: secret_key.expose().to_string(),
            webhook_secret: webhook_secret.expose().to_string(),
            api_base: self.stripe_api_base.clone(),
            timeout: Duration::from_secs(self.stripe_timeout_seconds.max(1)),
            tolerance_seconds: self.webhook_tolerance_seconds,
        })
    }
}

/// The market's calendar.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MarketConfig {
    /// The offset from UTC that calendar dates are taken in (today's date,
    /// the year of a registration number or a claim, "not in the future"):
    /// `+08:00`, Beijing time, for a Chinese market.
    pub utc_offset: String,
}

impl Default for MarketConfig {
    fn default() -> Self {
        Self { utc_offset: "+08:00".into() }
    }
}

impl MarketConfig {
    pub fn offset(&self) -> Result<chrono::FixedOffset, ConfigError> {
        techtrade_db::parse_offset(&self.utc_offset)
            .map_err(|problem| ConfigError::Invalid { key: "market.utc_offset", problem })
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DealsConfig {
    /// The two-digit code of this registration office (登记机构) in the
    /// technology contract registration numbers it issues.
    pub registration_office: String,
}

impl Default for DealsConfig {
    fn default() -> Self {
        Self { registration_office: techtrade_registry::Numbering::default().office }
    }
}

/// The registration office (技术合同认定登记).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RegistrationConfig {
    /// The national holiday calendars, a file a year (`2026.toml`).
    pub calendar_dir: PathBuf,
    /// Working days the office has to decide an application…
    pub working_days: u32,
    /// …or one of `large_contract_yuan` or more (or in dispute).
    pub extended_working_days: u32,
    pub large_contract_yuan: i64,
    /// Where documents' bytes are kept: `files` (under `document_dir`) or
    /// `database` (when replicas share no disk).
    pub document_storage: DocumentStorage,
    /// Unset: `<data_dir>/documents`.
    pub document_dir: Option<PathBuf>,
    /// The largest document accepted, in MiB.
    pub max_document_mb: usize,
    /// The office's name on certificates.
    pub office_name: String,
    /// A font with Chinese glyphs for PDF certificates (OpenType, TrueType
    /// or a collection); unset or missing: certificates are printed from
    /// the page only.
    pub certificate_font: Option<PathBuf>,
    /// The face in a font collection (Noto Serif CJK's SC is 2).
    pub certificate_font_index: u32,
    /// How registration numbers are laid out: `year_first` (the
    /// registration form's 16 digits, the default) or `region_first` (the
    /// platform's first numbers, for an office that already issues them).
    pub number_format: techtrade_domain::deal::NumberFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum DocumentStorage {
    #[default]
    Files,
    Database,
}

impl Default for RegistrationConfig {
    fn default() -> Self {
        let limits = techtrade_domain::registration::TimeLimits::default();
        Self {
            calendar_dir: PathBuf::from("config/calendars"),
            working_days: limits.working_days,
            extended_working_days: limits.extended_working_days,
            large_contract_yuan: limits.large_contract_fen / 100,
            document_storage: DocumentStorage::Files,
            document_dir: None,
            max_document_mb: 20,
            office_name: "青海省技术合同认定登记机构".to_string(),
            certificate_font: Some(PathBuf::from("/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc")),
            certificate_font_index: 2,
            number_format: techtrade_domain::deal::NumberFormat::default(),
        }
    }
}

impl RegistrationConfig {
    pub fn limits(&self) -> techtrade_domain::registration::TimeLimits {
        techtrade_domain::registration::TimeLimits {
            working_days: self.working_days,
            extended_working_days: self.extended_working_days,
            large_contract_fen: self.large_contract_yuan.saturating_mul(100),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SubsidyConfig {
    pub policy_dir: PathBuf,
}

impl Default for SubsidyConfig {
    fn default() -> Self {
        Self { policy_dir: PathBuf::from("config/policies") }
    }
}

/// How matching ranks (`techtrade_domain::matching` explains the factors).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MatchingConfig {
    /// Candidates asked of the search backend before re-ranking (1..=1000).
    pub candidate_pool: usize,
    /// Non-negative, not all zero; only their ratios matter.
    pub weights: Weights,
}

impl Default for MatchingConfig {
    fn default() -> Self {
        let d = MatchingSettings::default();
        Self { candidate_pool: d.candidate_pool, weights: d.weights }
    }
}

/// The outbox consumers: how long a worker's claim on a shared consumer
/// lasts, and where `techtrade worker` answers health checks.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WorkersConfig {
    /// A worker renews its lease on each consumer it runs every third of
    /// this; when it dies, another worker takes over after at most this long.
    pub lease_seconds: u64,
    /// `techtrade worker`'s `/healthz` and `/readyz` (for probes); empty: none.
    pub health_listen: String,
}

impl Default for WorkersConfig {
    fn default() -> Self {
        Self { lease_seconds: 30, health_listen: "127.0.0.1:8081".into() }
    }
}

/// The audit trail (等保2.0 level 3: security audit).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuditConfig {
    /// The HMAC key of the audit chain, hex (at least 32 bytes). Every
    /// server and worker of one database must share it. Unset: read from
    /// `key_file`, which is made on first use.
    pub key: Option<Secret>,
    /// Unset: `<data_dir>/audit.key`.
    pub key_file: Option<PathBuf>,
    /// Where the chain's head is written down, outside the database.
    /// Unset: `<data_dir>/audit-checkpoints`.
    pub checkpoint_file: Option<PathBuf>,
    pub checkpoint_interval_seconds: u64,
    /// How long records must be kept (at least 180 days, 等保2.0). The
    /// application never deletes one; this is the operator's promise for
    /// archives and the floor below which nothing may be pruned.
    pub retention_days: u32,
}

impl AuditConfig {
    /// The shortest retention the law allows (网络安全法 第二十一条: six months).
    pub const MIN_RETENTION_DAYS: u32 = 180;
}

impl Default for AuditConfig {
    fn default() -> Self {
        Self {
            key: None,
            key_file: None,
            checkpoint_file: None,
            checkpoint_interval_seconds: 300,
            retention_days: Self::MIN_RETENTION_DAYS,
        }
    }
}

/// A configuration value that must never reach a log.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"***\"")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration: {0}")]
    Figment(#[from] Box<figment::Error>),
    #[error("configuration: database.url: {0}")]
    DatabaseUrl(#[from] techtrade_db::UrlError),
    #[error("configuration: {key}: {problem}")]
    Invalid { key: &'static str, problem: String },
}

impl Config {
    /// Loads the layers from `config_dir` and the process environment.
    pub fn load(config_dir: &Path) -> Result<Self, ConfigError> {
        let profile = std::env::var("TECHTRADE_PROFILE").ok();
        Self::figment(config_dir, profile.as_deref()).merge(Env::prefixed("TECHTRADE__").split("__")).extract_checked()
    }

    /// The file layers only (tests add their own environment layer).
    pub fn figment(config_dir: &Path, profile: Option<&str>) -> Figment {
        let mut figment =
            Figment::from(Serialized::defaults(Config::default())).merge(Toml::file(config_dir.join("default.toml")));
        if let Some(profile) = profile.filter(|p| !p.is_empty()) {
            figment = figment.merge(Toml::file(config_dir.join(format!("{profile}.toml"))));
        }
        figment
    }

    pub fn database_url(&self) -> Result<DatabaseUrl, ConfigError> {
        match &self.database.url {
            Some(url) => Ok(DatabaseUrl::parse(url.expose())?),
            None => Ok(DatabaseUrl::Sqlite(self.data_dir.join("techtrade.sqlite3"))),
        }
    }

    /// Every configuration key, dotted (`server.listen`), sorted; the
    /// environment variable of `a.b` is `TECHTRADE__A__B`.
    pub fn keys() -> Vec<String> {
        fn walk(prefix: &str, value: &serde_json::Value, out: &mut Vec<String>) {
            match value {
                serde_json::Value::Object(map) => {
                    for (key, value) in map {
                        let path = if prefix.is_empty() { key.clone() } else { format!("{prefix}.{key}") };
                        walk(&path, value, out);
                    }
                }
                _ => out.push(prefix.to_string()),
            }
        }
        let mut keys = Vec::new();
        // Serializing the defaults cannot fail (plain structs, strings, numbers).
        if let Ok(value) = serde_json::to_value(Config::default()) {
            walk("", &value, &mut keys);
        }
        keys
    }

    pub fn pool_options(&self) -> PoolOptions {
        PoolOptions {
            max_size: self.database.pool_size.max(1),
            wait: Duration::from_millis(self.database.pool_wait_ms.max(10)),
        }
    }

    pub fn settings(&self) -> Settings {
        Settings {
            auth: AuthSettings {
                token_ttl: Duration::from_secs(self.auth.token_ttl_minutes * 60),
                session_idle: Duration::from_secs(self.auth.session_idle_minutes * 60),
                login_window: Duration::from_secs(self.auth.login_window_seconds),
                max_failures_per_account: self.auth.max_failures_per_account,
                lockout: Duration::from_secs(self.auth.lockout_minutes * 60),
                max_failures_per_ip: self.auth.max_failures_per_ip,
                max_registrations_per_ip: self.auth.max_registrations_per_ip,
                registration_window: Duration::from_secs(self.auth.registration_window_seconds),
                password_memory_kib: self.auth.password_memory_kib,
                password_iterations: self.auth.password_iterations,
                password_reset_ttl: Duration::from_secs(self.auth.password_reset_minutes * 60),
                staff_password_max_age: Duration::from_secs(self.auth.staff_password_max_age_days * 86_400),
                require_staff_totp: self.auth.require_staff_totp,
            },
            trust_forwarded_for: self.server.trust_forwarded_for,
            published: Capacities {
                views: self.server.public_view_cache_entries,
                terms: self.server.match_terms_cache_entries,
            },
        }
    }

    pub fn matching(&self) -> MatchingSettings {
        MatchingSettings { weights: self.matching.weights, candidate_pool: self.matching.candidate_pool }
    }

    /// Checks what serde cannot: values that parse but make no sense.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.database_url()?;
        if self.server.listen.parse::<std::net::SocketAddr>().is_err() {
            return Err(ConfigError::Invalid {
                key: "server.listen",
                problem: format!("'{}' is not an address like 127.0.0.1:8080", self.server.listen),
            });
        }
        if self.auth.token_ttl_minutes == 0 {
            return Err(ConfigError::Invalid { key: "auth.token_ttl_minutes", problem: "must be at least 1".into() });
        }
        if !(5..=24 * 60).contains(&self.auth.password_reset_minutes) {
            return Err(ConfigError::Invalid {
                key: "auth.password_reset_minutes",
                problem: "must be 5 to 1440 (a reset link works minutes, not days)".into(),
            });
        }
        if !(1..=365).contains(&self.auth.staff_password_max_age_days) {
            return Err(ConfigError::Invalid {
                key: "auth.staff_password_max_age_days",
                problem: "must be 1 to 365 (等保2.0: staff passwords are changed regularly)".into(),
            });
        }
        let limits = self.registration.limits();
        if !(1..=limits.extended_working_days).contains(&limits.working_days) || limits.extended_working_days > 120 {
            return Err(ConfigError::Invalid {
                key: "registration.working_days",
                problem: "must be at least 1 and at most registration.extended_working_days (≤ 120)".into(),
            });
        }
        if limits.large_contract_fen <= 0 {
            return Err(ConfigError::Invalid {
                key: "registration.large_contract_yuan",
                problem: "must be more than zero".into(),
            });
        }
        if self.auth.session_idle_minutes == 0 {
            return Err(ConfigError::Invalid {
                key: "auth.session_idle_minutes",
                problem: "must be at least 1".into(),
            });
        }
        if self.search.backend == SearchBackend::Meilisearch && self.search.meilisearch_url.is_none() {
            return Err(ConfigError::Invalid {
                key: "search.meilisearch_url",
                problem: "required when search.backend = \"meilisearch\"".into(),
            });
        }
        self.market.offset()?;
        let office = &self.deals.registration_office;
        if office.len() != 2 || !office.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ConfigError::Invalid {
                key: "deals.registration_office",
                problem: format!("'{office}' is not a two-digit office code like \"01\""),
            });
        }
        if self.payments.stripe_secret_key.is_some() != self.payments.stripe_webhook_secret.is_some() {
            return Err(ConfigError::Invalid {
                key: "payments.stripe_webhook_secret",
                problem: "Stripe needs both stripe_secret_key and stripe_webhook_secret, or neither".into(),
            });
        }
        if let Some(key) = &self.payments.stripe_publishable_key {
            if self.payments.stripe_secret_key.is_none() {
                return Err(ConfigError::Invalid {
                    key: "payments.stripe_publishable_key",
                    problem: "a publishable key needs stripe_secret_key and stripe_webhook_secret too".into(),
                });
            }
            // A secret key pasted here would be printed into every card page.
            if !key.starts_with("pk_") {
                return Err(ConfigError::Invalid {
                    key: "payments.stripe_publishable_key",
                    problem: "a publishable key starts with pk_ (never put the secret sk_ key here)".into(),
                });
            }
        }
        if !(1..=1000).contains(&self.matching.candidate_pool) {
            return Err(ConfigError::Invalid { key: "matching.candidate_pool", problem: "must be 1 to 1000".into() });
        }
        self.matching
            .weights
            .validate()
            .map_err(|e| ConfigError::Invalid { key: "matching.weights", problem: e.to_string() })?;
        if self.mail.transport == MailTransport::Smtp && self.mail.smtp_url.is_none() {
            return Err(ConfigError::Invalid {
                key: "mail.smtp_url",
                problem: "required when mail.transport = \"smtp\"".into(),
            });
        }
        if let Some(url) = &self.mail.smtp_url {
            // The parser's messages never repeat the URL (it holds the password).
            techtrade_notify::SmtpUrl::parse(url.expose())
                .map_err(|e| ConfigError::Invalid { key: "mail.smtp_url", problem: e.to_string() })?;
        }
        let at_least_one = [
            ("mail.smtp_timeout_seconds", self.mail.smtp_timeout_seconds),
            ("mail.send_timeout_seconds", self.mail.send_timeout_seconds),
            ("mail.batch_size", u64::from(self.mail.batch_size)),
            ("mail.poll_interval_ms", self.mail.poll_interval_ms),
            ("mail.retry_base_seconds", self.mail.retry_base_seconds),
            ("mail.max_attempts", u64::from(self.mail.max_attempts)),
        ];
        if let Some((key, _)) = at_least_one.iter().find(|(_, value)| *value == 0) {
            return Err(ConfigError::Invalid { key, problem: "must be at least 1".into() });
        }
        if self.audit.retention_days < AuditConfig::MIN_RETENTION_DAYS {
            return Err(ConfigError::Invalid {
                key: "audit.retention_days",
                problem: format!("must be at least {} (six months)", AuditConfig::MIN_RETENTION_DAYS),
            });
        }
        if self.audit.checkpoint_interval_seconds == 0 {
            return Err(ConfigError::Invalid {
                key: "audit.checkpoint_interval_seconds",
                problem: "must be at least 1".into(),
            });
        }
        if let Some(key) = &self.audit.key {
            crate::audit::parse_key(key.expose())
                .map_err(|problem| ConfigError::Invalid { key: "audit.key", problem })?;
        }
        if self.workers.lease_seconds < 3 {
            return Err(ConfigError::Invalid { key: "workers.lease_seconds", problem: "must be at least 3".into() });
        }
        if !self.workers.health_listen.is_empty() && self.workers.health_listen.parse::<std::net::SocketAddr>().is_err()
        {
            return Err(ConfigError::Invalid {
                key: "workers.health_listen",
                problem: format!("'{}' is not an address like 127.0.0.1:8081", self.workers.health_listen),
            });
        }
        if self.mail.retry_max_seconds < self.mail.retry_base_seconds {
            return Err(ConfigError::Invalid {
                key: "mail.retry_max_seconds",
                problem: "must be at least mail.retry_base_seconds".into(),
            });
        }
        Ok(())
    }
}

/// `extract` plus [`Config::validate`], with figment's error boxed.
trait ExtractChecked {
    fn extract_checked(self) -> Result<Config, ConfigError>;
}

impl ExtractChecked for Figment {
    fn extract_checked(self) -> Result<Config, ConfigError> {
        let config: Config = self.extract().map_err(Box::new)?;
        config.validate()?;
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) {
        std::fs::write(dir.join(name), text).unwrap();
    }

    #[test]
    fn no_configuration_serves_locally_on_sqlite() {
        let config = Config::figment(Path::new("/nonexistent"), None).extract_checked().unwrap();
        assert_eq!(config.server.listen, "127.0.0.1:8080");
        assert_eq!(config.database_url().unwrap(), DatabaseUrl::Sqlite(PathBuf::from("./data/techtrade.sqlite3")));
        assert_eq!(config.search.backend, SearchBackend::Embedded);
        assert_eq!(config.mail.transport, MailTransport::File);
    }

    /// config/default.toml only writes the built-in defaults out.
    #[test]
    fn the_shipped_default_file_matches_the_built_in_defaults() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config");
        let from_file = Config::figment(&dir, None).extract_checked().unwrap();
        assert_eq!(format!("{from_file:?}"), format!("{:?}", Config::default()));
        let production = Config::figment(&dir, Some("production")).extract_checked().unwrap();
        assert_eq!(production.database_url().unwrap().backend(), techtrade_db::Backend::Postgres);
        assert!(production.settings().auth.require_staff_totp, "a deployment asks staff for a second factor");
        assert!(!from_file.settings().auth.require_staff_totp, "a local trial needs no phone");
    }

    #[test]
    fn layers_apply_in_order() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "default.toml", "data_dir = \"/srv/tt\"\n[server]\nlisten = \"0.0.0.0:9000\"\n");
        write(dir.path(), "production.toml", "[database]\nurl = \"postgres://tt:pw@db/tt\"\npool_size = 32\n");
        let config = Config::figment(dir.path(), Some("production"))
            .merge(Serialized::default("database.pool_size", 64))
            .extract_checked()
            .unwrap();
        assert_eq!(config.data_dir, PathBuf::from("/srv/tt"));
        assert_eq!(config.server.listen, "0.0.0.0:9000");
        assert_eq!(config.database.pool_size, 64);
        assert_eq!(config.database_url().unwrap().backend(), techtrade_db::Backend::Postgres);
    }

    #[test]
    #[allow(clippy::result_large_err)] // figment's Jail fixes the closure's error type
    fn environment_variables_override_files() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "default.toml", "[database]\npool_size = 3\n");
        figment::Jail::expect_with(|jail| {
            jail.set_env("TECHTRADE__DATABASE__POOL_SIZE", "7");
            jail.set_env("TECHTRADE__SEARCH__BACKEND", "meilisearch");
            jail.set_env("TECHTRADE__SEARCH__MEILISEARCH_URL", "http://127.0.0.1:7700");
            jail.set_env("TECHTRADE__MATCHING__WEIGHTS__REGION", "0.5");
            let config = Config::figment(dir.path(), None)
                .merge(Env::prefixed("TECHTRADE__").split("__"))
                .extract_checked()
                .map_err(|e| e.to_string())?;
            assert_eq!(config.database.pool_size, 7);
            assert_eq!(config.search.backend, SearchBackend::Meilisearch);
            assert_eq!((config.matching.weights.region, config.matching.weights.text), (0.5, 0.35));
            Ok(())
        });
    }

    #[test]
    fn mistakes_name_the_key() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "default.toml", "[databse]\nurl = \"x\"\n");
        let err = Config::figment(dir.path(), None).extract_checked().unwrap_err().to_string();
        assert!(err.contains("databse"), "{err}");

        write(dir.path(), "default.toml", "[search]\nbackend = \"elastic\"\n");
        let err = Config::figment(dir.path(), None).extract_checked().unwrap_err().to_string();
        assert!(err.contains("backend") && err.contains("elastic"), "{err}");

        write(dir.path(), "default.toml", "[database]\nurl = \"mysql://root:hunter2@db/tt\"\n");
        let err = Config::figment(dir.path(), None).extract_checked().unwrap_err().to_string();
        assert!(err.contains("database.url") && !err.contains("hunter2"), "{err}");

        write(dir.path(), "default.toml", "[server]\nlisten = \"localhost\"\n");
        let err = Config::figment(dir.path(), None).extract_checked().unwrap_err().to_string();
        assert!(err.contains("server.listen"), "{err}");

        write(dir.path(), "default.toml", "[matching.weights]\nprice = -1.0\n");
        let err = Config::figment(dir.path(), None).extract_checked().unwrap_err().to_string();
        assert!(err.contains("matching.weights") && err.contains("price"), "{err}");
        write(dir.path(), "default.toml", "[matching.weights]\ncolour = 1.0\n");
        let err = Config::figment(dir.path(), None).extract_checked().unwrap_err().to_string();
        assert!(err.contains("colour"), "{err}");
        write(dir.path(), "default.toml", "[matching]\ncandidate_pool = 0\n");
        let err = Config::figment(dir.path(), None).extract_checked().unwrap_err().to_string();
        assert!(err.contains("matching.candidate_pool"), "{err}");
    }

    #[test]
    fn a_publishable_key_goes_with_stripe_and_is_never_a_secret_key() {
        let dir = tempfile::tempdir().unwrap();
        let keys = "[payments]\nstripe_secret_key = \"sk_test_1\"\nstripe_webhook_secret = \"whsec_1\"\n";
        write(dir.path(), "default.toml", "[payments]\nstripe_publishable_key = \"pk_test_1\"\n");
        let err = Config::figment(dir.path(), None).extract_checked().unwrap_err().to_string();
        assert!(err.contains("payments.stripe_publishable_key") && err.contains("stripe_secret_key"), "{err}");
        write(dir.path(), "default.toml", &format!("{keys}stripe_publishable_key = \"sk_test_2\"\n"));
        let err = Config::figment(dir.path(), None).extract_checked().unwrap_err().to_string();
        assert!(err.contains("payments.stripe_publishable_key") && err.contains("pk_"), "{err}");
        write(dir.path(), "default.toml", &format!("{keys}stripe_publishable_key = \"pk_test_3\"\n"));
        let config = Config::figment(dir.path(), None).extract_checked().unwrap();
        assert_eq!(config.payments.stripe_publishable_key.as_deref(), Some("pk_test_3"));
    }

    #[test]
    fn mail_settings_are_checked_without_showing_the_password() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "default.toml",
            "[mail]\ntransport = \"smtp\"\nsmtp_url = \"smtpx://u:hunter2@mail.example.com\"\n",
        );
        let err = Config::figment(dir.path(), None).extract_checked().unwrap_err().to_string();
        assert!(err.contains("mail.smtp_url") && !err.contains("hunter2"), "{err}");

        write(dir.path(), "default.toml", "[mail]\nsmtp_url = \"smtp+plain://u:hunter2@mail.example.com\"\n");
        let err = Config::figment(dir.path(), None).extract_checked().unwrap_err().to_string();
        assert!(err.contains("unencrypted") && !err.contains("hunter2"), "{err}");

        write(dir.path(), "default.toml", "[mail]\nmax_attempts = 0\n");
        let err = Config::figment(dir.path(), None).extract_checked().unwrap_err().to_string();
        assert!(err.contains("mail.max_attempts"), "{err}");

        write(dir.path(), "default.toml", "[mail]\nretry_base_seconds = 60\nretry_max_seconds = 10\n");
        let err = Config::figment(dir.path(), None).extract_checked().unwrap_err().to_string();
        assert!(err.contains("mail.retry_max_seconds"), "{err}");

        write(
            dir.path(),
            "default.toml",
            "[mail]\ntransport = \"smtp\"\nsmtp_url = \"smtps://u:hunter2@mail.example.com\"\n",
        );
        let config = Config::figment(dir.path(), None).extract_checked().unwrap();
        assert!(!format!("{config:?}").contains("hunter2"));
    }

    #[test]
    fn keys_name_every_setting_including_unset_ones() {
        let keys = Config::keys();
        for key in ["data_dir", "server.listen", "database.url", "search.meilisearch_key", "workers.lease_seconds"] {
            assert!(keys.iter().any(|k| k == key), "{key} in {keys:?}");
        }
        assert!(keys.iter().any(|k| k == "matching.weights.text"), "nested tables are walked");
        assert!(!keys.iter().any(|k| k == "matching.weights"), "tables are not keys");
    }

    #[test]
    fn secrets_never_print() {
        let mut config = Config::default();
        config.payments.stripe_secret_key = Some(Secret::new("sk_live_abc"));
        config.database.url = Some(Secret::new("postgres://tt:pw@db/tt"));
        let shown = format!("{config:?}");
        assert!(!shown.contains("sk_live_abc") && !shown.contains(":pw@"), "{shown}");
    }
}
