//! The `techtrade` command line.
//!
//! Exit codes: 0 success, 1 the command failed, 2 bad usage or configuration.

use std::io::{BufRead, IsTerminal, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand, ValueEnum};
use techtrade_accounts::{NewUser, PasswordHasher};
use techtrade_db::{Database, migrations};
use techtrade_domain::Role;
use techtrade_web::AppState;

use crate::app::{self, HttpOptions};
use crate::config::Config;
use crate::telemetry;

#[derive(Debug, Parser)]
#[command(
    name = "techtrade",
    version,
    about = "The online technology-trading market: listings, search, deals, contracts and subsidies.",
    after_help = "Configuration: built-in defaults, then CONFIG_DIR/default.toml, then \
                  CONFIG_DIR/$TECHTRADE_PROFILE.toml, then TECHTRADE__SECTION__KEY variables \
                  (e.g. TECHTRADE__DATABASE__URL=postgres://…).\n\n\
                  Exit codes: 0 success, 1 the command failed, 2 bad usage or configuration."
)]
pub struct Cli {
    /// Directory of default.toml and the profile files.
    #[arg(long, global = true, env = "TECHTRADE_CONFIG_DIR", default_value = "config")]
    pub config_dir: PathBuf,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the HTTP API (applies pending migrations first unless
    /// database.migrate_on_start = false).
    #[command(
        after_help = "Examples:\n  techtrade serve --demo   (a demo market in an empty database)\n  techtrade serve\n  \
                      TECHTRADE__SERVER__LISTEN=0.0.0.0:8080 techtrade serve\n  \
                      techtrade serve --no-workers --services accounts,listings,search   (an API replica)"
    )]
    Serve {
        /// Load the demo market (real patent records as listings, demo
        /// accounts) into an empty database first; a database that
        /// already holds it is served as it is, one with other data is
        /// refused.
        #[arg(long)]
        demo: bool,
        /// The demo accounts' password, when --demo creates them.
        #[arg(long, requires = "demo", default_value = crate::demo::DEFAULT_PASSWORD)]
        demo_password: String,
        /// The route groups to mount (default: all).
        #[arg(long, value_enum, value_delimiter = ',')]
        services: Vec<crate::app::ApiService>,
        /// Run no shared outbox consumer (alerts, email, a Meilisearch
        /// indexer): an API replica next to `techtrade worker` processes.
        #[arg(long)]
        no_workers: bool,
    },
    /// Run the outbox consumers without the HTTP API (scale them apart from
    /// the API); answers /healthz and /readyz on workers.health_listen.
    #[command(after_help = "Examples:\n  techtrade worker\n  techtrade worker --only alerts,notify")]
    Worker {
        /// The consumers to run (default: all). N workers may run each: a
        /// lease gives each consumer to one of them at a time.
        #[arg(long, value_enum, value_delimiter = ',')]
        only: Vec<crate::workers::Consumer>,
    },
    /// Copy a live SQLite database to a new file (online; the server keeps
    /// serving). For PostgreSQL use pg_dump.
    #[command(after_help = "Example:\n  techtrade backup --to /backups/techtrade-$(date +%F).sqlite3")]
    Backup {
        /// The copy to write; it must not exist yet.
        #[arg(long)]
        to: PathBuf,
    },
    /// Exit 0 when the server (or worker) at ADDR answers PATH with 200:
    /// a container health check that needs no curl.
    #[command(
        after_help = "Examples:\n  techtrade healthcheck\n  techtrade healthcheck --addr 127.0.0.1:8081 --path /readyz"
    )]
    Healthcheck {
        /// Default: server.listen (0.0.0.0 asks 127.0.0.1).
        #[arg(long)]
        addr: Option<String>,
        #[arg(long, default_value = "/healthz")]
        path: String,
    },
    /// The configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Apply pending database migrations.
    #[command(after_help = "Examples:\n  techtrade migrate\n  techtrade migrate --dry-run")]
    Migrate {
        /// List the pending migrations without applying them.
        #[arg(long)]
        dry_run: bool,
    },
    /// Administration.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Load demo data: the real patent records that come with techtrade as
    /// published listings of five demo organisations, each with a member
    /// who can sign in, and an official. Running it again adds nothing.
    #[command(
        after_help = "Examples:\n  techtrade seed --demo\n  techtrade seed --demo --source ./my-records --password 'a demo password'"
    )]
    Seed {
        /// Required: say that demo data is what you want.
        #[arg(long)]
        demo: bool,
        /// A folder with cn_patents_title_ipc.csv and
        /// cn_patents_g06f_with_abstracts.jsonl to load instead of the
        /// records built in (crates/listings/data/patents).
        #[arg(long)]
        source: Option<PathBuf>,
        /// The password of the demo accounts (demo1@techtrade.invalid …
        /// demo5@techtrade.invalid, official@, reviewer@, admin@, secadmin@
        /// and auditor@techtrade.invalid).
        #[arg(long, default_value = crate::demo::DEFAULT_PASSWORD)]
        password: String,
    },
    /// Rebuild the search index from the database (the running server's
    /// indexer then carries on from where the rebuild ended).
    #[command(after_help = "Example:\n  techtrade reindex")]
    Reindex,
    /// Subsidy policy files: check them before they go live, explain what they pay.
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// Email notifications: run the worker that `serve` runs, or see how
    /// delivery stands.
    #[command(subcommand)]
    Notify(NotifyCommand),
    /// The audit log: check that no entry was edited, removed or inserted.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Print the OpenAPI document of the HTTP API.
    #[command(after_help = "Example:\n  techtrade openapi > openapi.json")]
    Openapi,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Every configuration key, one a line with its environment variable
    /// (`server.listen TECHTRADE__SERVER__LISTEN`).
    #[command(after_help = "Example:\n  techtrade config keys")]
    Keys,
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create a staff account (official, sysadmin, secadmin or auditor); the
    /// password is read from standard input.
    #[command(
        after_help = "Example:\n  printf '%s\\n' \"$PASSWORD\" | techtrade admin create-user \\\n    --role official --email reviewer@kjt.qinghai.gov.cn --name 王审核"
    )]
    CreateUser {
        #[arg(long, value_enum)]
        role: StaffRole,
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        /// The authority (organisation) the user acts for, if any.
        #[arg(long)]
        organization_id: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Recompute the chain from the first entry with the audit key and
    /// check every checkpoint; exits 0 with a summary when it is intact, 1
    /// naming the first bad entry otherwise.
    #[command(after_help = "Example:\n  techtrade audit verify")]
    Verify {
        /// The checkpoint file to check against (default: audit.checkpoint_file).
        #[arg(long)]
        checkpoints: Option<std::path::PathBuf>,
    },
    /// Write the chain's head to the checkpoint file now (the server does
    /// it every audit.checkpoint_interval_seconds): before a backup, or
    /// from cron on a host that runs no server.
    #[command(after_help = "Example:\n  techtrade audit checkpoint")]
    Checkpoint,
}

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Validate policy files exactly as start-up does and summarise each
    /// valid one in plain language; exits 1 when any file is invalid.
    #[command(
        after_help = "Examples:\n  techtrade policy check config/policies/*.toml\n  techtrade policy check --lang en config/policies/qinghai.toml"
    )]
    Check {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// zh (default) or en.
        #[arg(long, default_value = "zh")]
        lang: String,
    },
    /// What a program's rules would pay on a given yearly base, rule by rule.
    #[command(
        after_help = "Example:\n  techtrade policy explain config/policies/sanming.toml --base-fen 50000000 --role seller"
    )]
    Explain {
        file: PathBuf,
        /// The year's base in fen (1 yuan = 100 fen).
        #[arg(long)]
        base_fen: i64,
        #[arg(long, value_enum, default_value = "buyer")]
        role: ClaimRole,
    },
}

#[derive(Debug, Subcommand)]
pub enum NotifyCommand {
    /// Plan and send the emails of new outbox events (what `serve` does in
    /// the background), until interrupted or, with --once, until idle.
    #[command(after_help = "Examples:\n  techtrade notify run\n  techtrade notify run --once")]
    Run {
        /// Stop when every event is read and every due email tried.
        #[arg(long)]
        once: bool,
    },
    /// How many emails are in each state, and which failed or are unknown.
    #[command(after_help = "Example:\n  techtrade notify status")]
    Status,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ClaimRole {
    Buyer,
    Seller,
    Agency,
}

/// The staff roles (三员分立: system administrator, security administrator,
/// auditor; and officials).
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum StaffRole {
    Official,
    /// The system administrator (`admin` is its earlier name).
    #[value(alias = "admin")]
    Sysadmin,
    Secadmin,
    Auditor,
}

/// A command's failure: what to print and how to exit.
#[derive(Debug)]
pub struct Failure {
    message: String,
    code: u8,
}

impl From<techtrade_db::DbError> for Failure {
    fn from(error: techtrade_db::DbError) -> Self {
        Self::failed(error)
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl Failure {
    pub(crate) fn usage(message: impl std::fmt::Display) -> Self {
        Self { message: message.to_string(), code: 2 }
    }

    pub(crate) fn failed(message: impl std::fmt::Display) -> Self {
        Self { message: message.to_string(), code: 1 }
    }
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("techtrade: {}", failure.message);
            ExitCode::from(failure.code)
        }
    }
}

pub fn run(cli: Cli) -> Result<(), Failure> {
    // Commands that need neither configuration nor a database.
    match cli.command {
        Command::Openapi => {
            let json = app::openapi().to_pretty_json().map_err(Failure::failed)?;
            println!("{json}");
            return Ok(());
        }
        Command::Policy(command) => return crate::policy::run(command),
        Command::Config(ConfigCommand::Keys) => {
            for key in Config::keys() {
                println!("{key} TECHTRADE__{}", key.to_uppercase().replace('.', "__"));
            }
            return Ok(());
        }
        _ => {}
    }
    let config = Config::load(&cli.config_dir).map_err(Failure::usage)?;
    telemetry::init(&config.log);
    // Before anything asks for today's date; a malformed offset is a usage error.
    techtrade_db::set_market_offset(config.market.offset().map_err(Failure::usage)?);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(Failure::failed)?;
    match cli.command {
        Command::Serve { services, no_workers, demo, demo_password } => {
            let services = if services.is_empty() { app::ApiService::ALL.to_vec() } else { services };
            let consumers = if no_workers { Vec::new() } else { crate::workers::Consumer::ALL.to_vec() };
            let demo = demo.then_some(demo_password);
            runtime.block_on(serve(config, services, consumers, demo))
        }
        Command::Worker { only } => {
            let consumers = if only.is_empty() { crate::workers::Consumer::ALL.to_vec() } else { only };
            runtime.block_on(worker(config, consumers))
        }
        Command::Backup { to } => crate::backup::run(&config, &to),
        Command::Healthcheck { addr, path } => runtime.block_on(crate::health::check(&config, addr, &path)),
        Command::Migrate { dry_run } => migrate(&config, dry_run),
        Command::Admin(AdminCommand::CreateUser { role, email, name, organization_id }) => {
            let role = match role {
                StaffRole::Official => Role::Official,
                StaffRole::Sysadmin => Role::Admin,
                StaffRole::Secadmin => Role::SecurityAdmin,
                StaffRole::Auditor => Role::Auditor,
            };
            let password = read_password()?;
            let input = NewUser { email, password, name, role, organization_id, must_change_password: true };
            runtime.block_on(create_user(config, input))
        }
        Command::Seed { demo, source, password } => {
            if !demo {
                return Err(Failure::usage("say --demo: demo data is the only kind there is"));
            }
            runtime.block_on(seed_demo(config, source, password))
        }
        Command::Reindex => runtime.block_on(reindex(config)),
        Command::Notify(command) => runtime.block_on(crate::notify::run(config, command)),
        Command::Audit(command) => runtime.block_on(crate::audit::run(config, command)),
        Command::Openapi | Command::Policy(_) | Command::Config(_) => Ok(()),
    }
}

/// The database, for a command that may write to it: the audit key is
/// installed first, so whatever it records is keyed.
pub(crate) fn open_database(config: &Config) -> Result<Database, Failure> {
    crate::audit::install_key(config)?;
    open_database_only(config)
}

/// The database without the audit key: for reading only.
pub(crate) fn open_database_only(config: &Config) -> Result<Database, Failure> {
    let url = config.database_url().map_err(Failure::usage)?;
    if let techtrade_db::DatabaseUrl::Sqlite(path) = &url
        && let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
    {
        std::fs::create_dir_all(dir).map_err(|e| Failure::failed(format!("creating {}: {e}", dir.display())))?;
    }
    Ok(Database::new(&url, &config.pool_options()))
}

/// Applies pending migrations, saying what it did.
pub(crate) fn apply_migrations(db: &Database) -> Result<Vec<String>, Failure> {
    let mut conn = db.get().map_err(Failure::failed)?;
    migrations::run_pending(&mut conn).map_err(|e| Failure::failed(format!("migrating: {e}")))
}

fn migrate(config: &Config, dry_run: bool) -> Result<(), Failure> {
    let started = Instant::now();
    let db = open_database(config)?;
    let url = config.database_url().map_err(Failure::usage)?;
    if dry_run {
        let mut conn = db.get().map_err(Failure::failed)?;
        let pending =
            migrations::pending(&mut conn).map_err(|e| Failure::failed(format!("reading migrations: {e}")))?;
        for name in &pending {
            println!("pending {name}");
        }
        println!("{} pending migration(s) on {url}; nothing applied (dry run)", pending.len());
        return Ok(());
    }
    let applied = apply_migrations(&db)?;
    for name in &applied {
        println!("applied {name}");
    }
    println!("{} migration(s) applied on {url} in {:.1?}", applied.len(), started.elapsed());
    Ok(())
}

fn password_hasher(config: &Config) -> Result<PasswordHasher, Failure> {
    PasswordHasher::new(config.auth.password_memory_kib, config.auth.password_iterations)
        .map_err(|e| Failure::usage(format!("configuration: auth: {e}")))
}

/// The subsidy programs of `subsidy.policy_dir`, validated as `techtrade
/// policy check` does: a bad file stops start-up naming the file, the key
/// and the problem. A missing directory means no programs (with a warning).
pub(crate) fn load_policies(config: &Config) -> Result<Vec<techtrade_domain::policy::Program>, Failure> {
    let dir = &config.subsidy.policy_dir;
    if !dir.is_dir() {
        tracing::warn!(dir = %dir.display(), "subsidy.policy_dir does not exist: no subsidy programs");
        return Ok(Vec::new());
    }
    techtrade_domain::policy::Program::load_dir(dir).map_err(|(file, error)| {
        Failure::usage(format!("configuration: subsidy.policy_dir: {}: {error}", file.display()))
    })
}

/// The registration office's settings: the holiday calendars of
/// `registration.calendar_dir` (a bad file stops start-up naming it; a
/// missing directory means weekends only, with a warning), its time limits
/// and code.
pub(crate) fn registry_settings(config: &Config) -> Result<techtrade_registry::RegistrySettings, Failure> {
    let dir = &config.registration.calendar_dir;
    let calendar = if dir.is_dir() {
        techtrade_domain::calendar::Calendar::load_dir(dir)
            .map_err(|error| Failure::usage(format!("configuration: registration.calendar_dir: {error}")))?
    } else {
        tracing::warn!(dir = %dir.display(), "registration.calendar_dir does not exist: working days are Monday to Friday");
        techtrade_domain::calendar::Calendar::default()
    };
    let next_year = chrono::Datelike::year(&techtrade_db::today()) + 1;
    if !calendar.years().any(|year| year.year == next_year) {
        tracing::info!(next_year, "no holiday calendar for next year yet: deadlines running into it are provisional");
    }
    Ok(techtrade_registry::RegistrySettings {
        calendar: std::sync::Arc::new(calendar),
        limits: config.registration.limits(),
        numbering: techtrade_registry::Numbering {
            office: config.deals.registration_office.clone(),
            format: config.registration.number_format,
        },
        clock: techtrade_registry::Clock::Market,
        documents: match config.registration.document_storage {
            crate::config::DocumentStorage::Files => techtrade_registry::DocumentStore::Files(
                config.registration.document_dir.clone().unwrap_or_else(|| config.data_dir.join("documents")),
            ),
            crate::config::DocumentStorage::Database => techtrade_registry::DocumentStore::Database,
        },
        max_document_bytes: config.registration.max_document_mb.saturating_mul(1024 * 1024),
        office_name: config.registration.office_name.clone(),
        certificate_font: certificate_font(&config.registration),
        certificate_page: techtrade_site::certificate_page(),
    })
}

/// The certificates' PDF font, or none (with a warning: the page still prints).
fn certificate_font(registration: &crate::config::RegistrationConfig) -> techtrade_registry::CertificateFont {
    let Some(path) = &registration.certificate_font else { return techtrade_registry::CertificateFont::default() };
    match techtrade_registry::CertificateFont::load(path, registration.certificate_font_index) {
        Ok(font) => font,
        Err(error) => {
            tracing::warn!(%error, "registration.certificate_font: no PDF certificates (install fonts-noto-cjk)");
            techtrade_registry::CertificateFont::default()
        }
    }
}

/// What `serve` and `worker` both set up before their own part: the
/// policies, the database (migrated when configured so), the search index
/// and the consumers' context.
struct Prepared {
    programs: Vec<techtrade_domain::policy::Program>,
    db: Database,
    search: techtrade_search::SharedIndex,
    workers: crate::workers::Context,
}

async fn prepare(config: &Config) -> Result<Prepared, Failure> {
    let programs = load_policies(config)?;
    tracing::info!(count = programs.len(), "subsidy programs loaded");
    let db = open_database(config)?;
    if config.database.migrate_on_start {
        let db = db.clone();
        let applied = tokio::task::spawn_blocking(move || apply_migrations(&db)).await.map_err(Failure::failed)??;
        if !applied.is_empty() {
            tracing::info!(count = applied.len(), "applied migrations");
        }
    }
    let search = open_search(config, &db).await?;
    let notifier = if config.mail.enabled {
        Some(crate::notify::worker(config, db.clone(), crate::notify::program_names(&programs))?)
    } else {
        None
    };
    let workers = crate::workers::Context {
        db: db.clone(),
        search: search.clone(),
        search_is_local: config.search.backend == crate::config::SearchBackend::Embedded,
        notifier,
        lease: Duration::from_secs(config.workers.lease_seconds),
        holder: crate::workers::holder_id(),
        registry: registry_settings(config)?,
    };
    Ok(Prepared { programs, db, search, workers })
}

/// `demo` is the demo accounts' password when `--demo` was given.
async fn serve(
    config: Config,
    mounted: Vec<app::ApiService>,
    consumers: Vec<crate::workers::Consumer>,
    demo: Option<String>,
) -> Result<(), Failure> {
    let Prepared { programs, db, search, workers } = prepare(&config).await?;
    let hasher = password_hasher(&config)?;
    let demo_accounts = match &demo {
        Some(password) => {
            if !config.database.migrate_on_start {
                // The demo is loaded into the current schema.
                let db = db.clone();
                tokio::task::spawn_blocking(move || apply_migrations(&db)).await.map_err(Failure::failed)??;
            }
            Some(crate::demo::prepare_for_serving(&db, &hasher, password).await?)
        }
        None => None,
    };
    let state = AppState::new(db.clone(), config.settings());
    // Every replica follows the outbox for its own cache (no lease).
    let following = AbortOnDrop(tokio::spawn(state.published.clone().follow(db.clone())));
    let options = HttpOptions {
        body_limit_bytes: config.server.body_limit_bytes,
        request_timeout: Duration::from_secs(config.server.request_timeout_seconds.max(1)),
    };
    let stripe = match config.payments.stripe() {
        Some(settings) => {
            let gateway = techtrade_payments::StripeGateway::new(settings).map_err(Failure::usage)?;
            tracing::info!("Stripe payments enabled");
            techtrade_payments::Stripe(Some(std::sync::Arc::new(gateway)))
        }
        None => {
            tracing::info!("Stripe is not configured: offline payments only");
            techtrade_payments::Stripe(None)
        }
    };
    let services = app::Services {
        hasher,
        search,
        programs: std::sync::Arc::new(programs),
        // Loaded once in `prepare` (the calendar, the PDF font): the same for both.
        registry: workers.registry.clone(),
        stripe,
        matching: config.matching(),
        site: techtrade_site::SiteOptions::new(
            &config.server.public_url,
            config.payments.stripe_publishable_key.clone(),
        ),
    };
    let router = app::router_with(state, services, &options, &mounted);
    let listener = tokio::net::TcpListener::bind(&config.server.listen)
        .await
        .map_err(|e| Failure::failed(format!("listening on {}: {e}", config.server.listen)))?;
    let url = config.database_url().map_err(Failure::usage)?;
    let running = crate::workers::start(workers, &consumers);
    let checkpoints = Checkpoints::start(&config, &db);
    tracing::info!(
        listen = %config.server.listen, database = %url, services = ?mounted, consumers = ?consumers,
        "techtrade is serving"
    );
    print!("{}", start_message(&config.server.listen, demo.as_deref().zip(demo_accounts.as_deref())));
    let served = axum::serve(listener, router.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(shutdown_signal())
        .await
        .map_err(Failure::failed);
    // The consumers finish what they hold (an email being sent is bounded by
    // mail.send_timeout_seconds) and give their leases back.
    running.stop().await;
    checkpoints.stop().await;
    drop(following);
    served
}

/// A background task that ends with its owner.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The audit chain's periodic checkpoints, and a last one at shutdown.
struct Checkpoints {
    db: Database,
    path: std::path::PathBuf,
    task: tokio::task::JoinHandle<()>,
}

impl Checkpoints {
    fn start(config: &Config, db: &Database) -> Self {
        let path = crate::audit::checkpoint_file(config);
        let interval = Duration::from_secs(config.audit.checkpoint_interval_seconds);
        let task = crate::audit::spawn_checkpoints(db.clone(), path.clone(), interval);
        Self { db: db.clone(), path, task }
    }

    async fn stop(self) {
        self.task.abort();
        if let Err(error) = crate::audit::write_checkpoint(&self.db, &self.path).await {
            tracing::error!(path = %self.path.display(), %error, "could not checkpoint the audit chain");
        }
    }
}

/// The consumers without the HTTP API, and a small health listener.
async fn worker(config: Config, consumers: Vec<crate::workers::Consumer>) -> Result<(), Failure> {
    let Prepared { db, workers, .. } = prepare(&config).await?;
    let holder = workers.holder.clone();
    let health = crate::health::listen(&config.workers.health_listen, db.clone(), holder.clone()).await?;
    let running = crate::workers::start(workers, &consumers);
    let checkpoints = Checkpoints::start(&config, &db);
    let url = config.database_url().map_err(Failure::usage)?;
    tracing::info!(database = %url, consumers = ?consumers, %holder, "techtrade worker is running");
    shutdown_signal().await;
    running.stop().await;
    checkpoints.stop().await;
    if let Some(health) = health {
        health.abort();
    }
    Ok(())
}

/// The search backend the configuration names.
async fn open_search(config: &Config, db: &Database) -> Result<techtrade_search::SharedIndex, Failure> {
    use crate::config::SearchBackend;
    match config.search.backend {
        SearchBackend::Embedded => {
            let dir = config.data_dir.join("search");
            let index = tokio::task::spawn_blocking(move || techtrade_search::embedded::EmbeddedIndex::open(&dir))
                .await
                .map_err(Failure::failed)?
                .map_err(Failure::failed)?;
            Ok(std::sync::Arc::new(index))
        }
        SearchBackend::Meilisearch => {
            let url = config.search.meilisearch_url.as_deref().unwrap_or_default();
            let key = config.search.meilisearch_key.as_ref().map(|k| k.expose());
            let index = techtrade_search::meili::MeiliIndex::connect(url, key, "techtrade", db.clone())
                .await
                .map_err(Failure::failed)?;
            Ok(std::sync::Arc::new(index))
        }
    }
}

async fn reindex(config: Config) -> Result<(), Failure> {
    let started = Instant::now();
    let db = open_database(&config)?;
    {
        let db = db.clone();
        tokio::task::spawn_blocking(move || apply_migrations(&db)).await.map_err(Failure::failed)??;
    }
    let search = open_search(&config, &db).await?;
    let total = {
        let db = db.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = db.get().map_err(Failure::failed)?;
            techtrade_db::listings::count_published(&mut conn).map_err(Failure::failed)
        })
        .await
        .map_err(Failure::failed)??
    };
    let mut progress = crate::progress::Progress::start("documents", total.max(0) as u64);
    let indexed =
        techtrade_search::indexer::rebuild(&db, search.as_ref(), &mut |done| progress.update(done as u64)).await;
    progress.finish();
    let indexed = indexed.map_err(Failure::failed)?;
    println!(
        "reindexed {indexed} published listings and demands into the {} index in {:.1?}",
        search.backend(),
        started.elapsed()
    );
    Ok(())
}

pub(crate) async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}

/// The first line of standard input, without its line ending.
fn read_password() -> Result<String, Failure> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprint!("Password for the new account: ");
        let _ = std::io::stderr().flush();
    }
    let mut line = String::new();
    stdin.lock().read_line(&mut line).map_err(Failure::failed)?;
    let password = line.trim_end_matches(['\r', '\n']).to_string();
    if password.is_empty() {
        return Err(Failure::usage("give the password on standard input"));
    }
    Ok(password)
}

async fn create_user(config: Config, input: NewUser) -> Result<(), Failure> {
    let db = open_database(&config)?;
    {
        let db = db.clone();
        tokio::task::spawn_blocking(move || apply_migrations(&db)).await.map_err(Failure::failed)??;
    }
    let hasher = password_hasher(&config)?;
    let user = techtrade_accounts::create_user(&db, &hasher, input, None, None).await.map_err(|e| {
        let fields: Vec<String> = e.errors().iter().map(|f| format!("{}: {}", f.field, f.message)).collect();
        if fields.is_empty() { Failure::failed(e) } else { Failure::failed(fields.join("; ")) }
    })?;
    println!("created {} {} <{}> ({})", user.role, user.id, user.email, user.name);
    Ok(())
}

async fn seed_demo(config: Config, source: Option<PathBuf>, password: String) -> Result<(), Failure> {
    // Before the database is touched, so that a wrong --source changes nothing.
    crate::demo::records(source.as_deref())?;
    let db = open_database(&config)?;
    {
        let db = db.clone();
        tokio::task::spawn_blocking(move || apply_migrations(&db)).await.map_err(Failure::failed)??;
    }
    let hasher = password_hasher(&config)?;
    crate::demo::seed(&db, &hasher, source.as_deref(), &password).await
}

/// What `serve` prints when it is ready: where to point a browser and,
/// with `--demo`, who can sign in (`demo` is the password and the accounts).
fn start_message(listen: &str, demo: Option<(&str, &[crate::demo::DemoAccount])>) -> String {
    let base = browser_base(listen);
    let mut text = format!(
        "techtrade is serving {} at {base}/\n  open {base}/ in a browser: the market (中文; English at {base}/?lang=en)\n  the API: {base}/api/v1, documented at {base}/docs\n",
        if demo.is_some() { "the demo market" } else { "the market" }
    );
    if let Some((password, accounts)) = demo {
        text.push_str(&crate::demo::accounts_text(accounts, password));
        text.push_str(&format!("  sign in at {base}/login, or with POST /api/v1/auth/login (see /docs)\n"));
    }
    text
}

/// `http://host:port` a browser on this machine reaches `listen` at: an
/// unspecified address (0.0.0.0, [::]) is reached through loopback.
fn browser_base(listen: &str) -> String {
    match listen.parse::<SocketAddr>() {
        Ok(addr) if addr.ip().is_unspecified() => {
            let loopback = if addr.is_ipv4() { "127.0.0.1" } else { "[::1]" };
            format!("http://{loopback}:{}", addr.port())
        }
        _ => format!("http://{listen}"),
    }
}
