//! The end-to-end test harness: a [`TestApp`] is the real application over
//! its own fresh database, driven in-process through `oneshot`.
//!
//! Every HTTP test is written once with [`on_both_databases!`] and runs on
//! SQLite and, when `TECHTRADE_TEST_POSTGRES_URL` names a server, on
//! PostgreSQL (a database of its own per test, dropped afterwards).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use techtrade_accounts::{NewUser, PasswordHasher};
use techtrade_db::testing::TestDatabase;
use techtrade_domain::{CreditCode, Role};
use techtrade_listings::seed::PatentRecord;
use techtrade_search::SharedIndex;
use techtrade_search::embedded::EmbeddedIndex;
use techtrade_server::app::{self, HttpOptions, Services};
use techtrade_web::{AppState, AuthSettings, Settings};
use tower::ServiceExt;

pub use serde_json;

pub mod market;
pub mod second_factor;
pub mod stripe;
pub mod web;

/// Writes an async test body once and runs it on both databases, as
/// `<name>::sqlite` and `<name>::postgres`.
#[macro_export]
macro_rules! on_both_databases {
    ($(#[$meta:meta])* async fn $name:ident($app:ident: TestApp) $body:block) => {
        $(#[$meta])*
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            async fn body($app: $crate::TestApp) $body

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                body($crate::TestApp::sqlite()).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(app) = $crate::TestApp::postgres() {
                    body(app).await
                }
            }
        }
    };
}

/// The settings tests run with: production rules, cheaper password hashing.
pub fn test_settings() -> Settings {
    Settings {
        auth: AuthSettings {
            password_memory_kib: 1024,
            password_iterations: 1,
            // Tests register organisations by the hundred from one address;
            // the limit's own test sets it low with `with_settings`.
            max_registrations_per_ip: 1_000_000,
            ..AuthSettings::default()
        },
        // Tests say which address a request comes from with X-Forwarded-For.
        trust_forwarded_for: true,
        published: techtrade_web::published::Capacities { views: 1_000, terms: 1_000 },
    }
}

pub struct TestApp {
    /// Shared with the replicas made by [`TestApp::replica`].
    pub database: Arc<TestDatabase>,
    pub state: AppState,
    pub hasher: PasswordHasher,
    /// An in-memory embedded index, filled by [`TestApp::sync_search`].
    pub search: SharedIndex,
    services: Services,
    options: HttpOptions,
    router: Router,
}

/// A response, its body parsed as JSON when it is JSON.
#[derive(Debug)]
pub struct TestResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub text: String,
    pub json: Value,
    /// The body as sent (a download's bytes).
    pub bytes: Vec<u8>,
}

impl TestResponse {
    /// The problem+json `code`, or "" for other bodies.
    pub fn code(&self) -> &str {
        self.json["code"].as_str().unwrap_or_default()
    }

    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default()
    }

    /// Asserts the status, showing the body when it differs.
    #[track_caller]
    pub fn assert_status(&self, expected: u16) -> &Self {
        assert_eq!(self.status.as_u16(), expected, "unexpected status; body: {}", self.text);
        self
    }

    /// Asserts a problem+json response with this status and code.
    #[track_caller]
    pub fn assert_problem(&self, status: u16, code: &str) -> &Self {
        self.assert_status(status);
        assert_eq!(self.header("content-type"), "application/problem+json", "body: {}", self.text);
        assert_eq!(self.code(), code, "body: {}", self.text);
        assert_eq!(self.json["status"], status, "body: {}", self.text);
        self
    }

    /// The `field` of each entry of `errors`.
    pub fn error_fields(&self) -> Vec<&str> {
        self.json["errors"]
            .as_array()
            .map(|a| a.iter().filter_map(|e| e["field"].as_str()).collect())
            .unwrap_or_default()
    }
}

/// An organisation registered through the API, with its first member signed in.
#[derive(Debug, Clone)]
pub struct TestOrg {
    pub id: String,
    pub credit_code: String,
    pub user_id: String,
    pub email: String,
    pub password: String,
    pub token: String,
}

/// A staff user made by [`TestApp::staff_account`].
pub struct StaffAccount {
    pub user_id: String,
    pub email: String,
    pub password: String,
    pub token: String,
}

static SEQUENCE: AtomicU32 = AtomicU32::new(1);

/// The demo patent records that come with the repository.
pub fn demo_records() -> Vec<PatentRecord> {
    techtrade_listings::seed::bundled_records().expect("the records built in parse")
}

/// A number unique within the test process, for distinct e-mails and codes.
pub fn unique() -> u32 {
    SEQUENCE.fetch_add(1, Ordering::Relaxed)
}

/// A valid credit code, different on each call.
pub fn credit_code() -> String {
    let n = unique();
    CreditCode::complete(&format!("91630100MA{n:07}")).unwrap().to_string()
}

/// A process's state over `database`, its public view cache serving from
/// the outbox's current position (as a server's follower starts it).
fn serving_state(database: &TestDatabase, settings: Settings) -> AppState {
    let state = AppState::new(database.db.clone(), settings);
    let position = techtrade_db::outbox::settled_position(&mut database.connect()).unwrap();
    state.published.start_at(position);
    state
}

/// The PDF certificates' font, read once for every test: Debian's
/// fonts-noto-cjk (`.ci/run` installs it), as in production.
static CERTIFICATE_FONT: std::sync::LazyLock<techtrade_registry::CertificateFont> = std::sync::LazyLock::new(|| {
    techtrade_registry::CertificateFont::load(
        std::path::Path::new("/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc"),
        2,
    )
    .unwrap_or_default()
});

impl TestApp {
    pub fn sqlite() -> Self {
        Self::on(TestDatabase::sqlite())
    }

    pub fn postgres() -> Option<Self> {
        TestDatabase::postgres().map(Self::on)
    }

    /// The same application with Stripe configured (its API at `settings.api_base`).
    pub fn with_stripe(mut self, settings: techtrade_payments::StripeSettings) -> Self {
        let gateway = techtrade_payments::StripeGateway::new(settings).unwrap();
        self.services.stripe = techtrade_payments::Stripe(Some(Arc::new(gateway)));
        self.rebuild();
        self
    }

    /// The same application with the web front served another way (its
    /// public address, card payments).
    pub fn with_site(mut self, site: techtrade_server::app::SiteOptions) -> Self {
        self.services.site = site;
        self.rebuild();
        self
    }

    /// The same application with other subsidy programs than `config/policies`.
    pub fn with_programs(mut self, programs: Vec<techtrade_domain::policy::Program>) -> Self {
        self.services.programs = Arc::new(programs);
        self.rebuild();
        self
    }

    /// The same application with another deadline per request.
    pub fn with_request_timeout(mut self, timeout: std::time::Duration) -> Self {
        self.options.request_timeout = timeout;
        self.rebuild();
        self
    }

    /// The same application with the registration office's day fixed (its
    /// clock counts working days from it).
    pub fn with_office_day(mut self, day: chrono::NaiveDate) -> Self {
        self.services.registry.clock = techtrade_registry::Clock::Fixed(day);
        self.rebuild();
        self
    }

    /// The same application on a pool of its own: `max_size` connections,
    /// a request waiting `wait` for one.
    pub fn with_pool(mut self, max_size: u32, wait: std::time::Duration) -> Self {
        let options = techtrade_db::PoolOptions { max_size, wait };
        self.state.db = techtrade_db::Database::new(&self.database.url, &options);
        self.rebuild();
        self
    }

    /// The same application with the registration office numbering as `format` says.
    pub fn with_number_format(mut self, format: techtrade_domain::deal::NumberFormat) -> Self {
        self.services.registry.numbering.format = format;
        self.rebuild();
        self
    }

    /// Runs the registration office's deadline reminders once, as the
    /// `reminders` worker does, on the office's day; how many it sent.
    pub async fn remind_due(&self) -> usize {
        techtrade_registry::remind_due(&self.state.db, &self.services.registry).await.unwrap()
    }

    /// The same application and database with other settings (a limit a
    /// test wants low).
    pub fn with_settings(mut self, settings: Settings) -> Self {
        self.state = serving_state(&self.database, settings);
        self.rebuild();
        self
    }

    /// Another process serving the same database: its own state (its own
    /// cache of public views) and router, the same services and search.
    /// Its cache follows what others change when [`TestApp::follow_outbox`]
    /// runs, as a server's follower does every 200 ms.
    pub fn replica(&self) -> Self {
        let state = serving_state(&self.database, (*self.state.settings).clone());
        let router = app::router(state.clone(), self.services.clone(), &self.options);
        Self {
            database: self.database.clone(),
            state,
            hasher: self.hasher.clone(),
            search: self.search.clone(),
            services: self.services.clone(),
            options: self.options.clone(),
            router,
        }
    }

    /// One pass of this process's published-cache follower: evicts what the
    /// outbox says changed since the last; how many events it read.
    pub async fn follow_outbox(&self) -> usize {
        self.state.published.catch_up(&self.state.db).await.unwrap()
    }

    fn on(database: TestDatabase) -> Self {
        let database = Arc::new(database);
        let settings = test_settings();
        let hasher = PasswordHasher::new(settings.auth.password_memory_kib, settings.auth.password_iterations).unwrap();
        let state = serving_state(&database, settings);
        let search: SharedIndex = Arc::new(EmbeddedIndex::in_memory().unwrap());
        let policies = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/policies");
        let services = Services {
            hasher: hasher.clone(),
            search: search.clone(),
            programs: Arc::new(techtrade_domain::policy::Program::load_dir(policies).unwrap()),
            registry: techtrade_registry::RegistrySettings {
                calendar: Arc::new(
                    techtrade_domain::calendar::Calendar::load_dir(
                        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/calendars"),
                    )
                    .unwrap(),
                ),
                limits: techtrade_domain::registration::TimeLimits::default(),
                numbering: techtrade_registry::Numbering::default(),
                clock: techtrade_registry::Clock::Market,
                // Both stores are tried: files beside a SQLite database, and
                // the database itself on PostgreSQL (as replicas run it).
                documents: match &database.url {
                    techtrade_db::DatabaseUrl::Sqlite(path) => {
                        techtrade_registry::DocumentStore::Files(path.with_file_name("documents"))
                    }
                    _ => techtrade_registry::DocumentStore::Database,
                },
                max_document_bytes: 2 * 1024 * 1024,
                office_name: "青海省技术合同认定登记机构".to_string(),
                certificate_font: CERTIFICATE_FONT.clone(),
                certificate_page: techtrade_site::certificate_page(),
            },
            stripe: techtrade_payments::Stripe::default(),
            matching: techtrade_matching::MatchingSettings::default(),
            site: techtrade_server::app::SiteOptions::default(),
        };
        let options = HttpOptions::default();
        let router = app::router(state.clone(), services.clone(), &options);
        Self { database, state, hasher, search, services, options, router }
    }

    /// The router again after a change of services, state or options.
    fn rebuild(&mut self) {
        self.router = app::router(self.state.clone(), self.services.clone(), &self.options);
    }

    /// Serves the application on a loopback port, as `techtrade serve` does
    /// (the same router over real HTTP); its base URL.
    pub async fn serve(&self) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let service = self.router.clone().into_make_service_with_connect_info::<std::net::SocketAddr>();
        tokio::spawn(async move { axum::serve(listener, service).await.unwrap() });
        base
    }

    /// Runs the search indexer until it has caught up with the outbox, as
    /// the server's indexer task does every half second.
    pub async fn sync_search(&self) {
        loop {
            let before = self.search.cursor().await.unwrap();
            let consumed = techtrade_search::indexer::sync_once(&self.state.db, self.search.as_ref()).await.unwrap();
            if consumed == 0 && before != techtrade_search::NEVER_BUILT {
                break;
            }
        }
    }

    /// Runs the saved-search alerting until it has caught up with the
    /// outbox (and so with the search index: sync that first).
    pub async fn sync_alerts(&self) {
        while techtrade_matching::alerts::sync_once(&self.state.db, self.search.as_ref()).await.unwrap() > 0 {}
    }

    /// Loads the demo demands (as `techtrade seed --demo` does after the
    /// listings), owned by the demo organisations [`TestApp::seed_demo`] made.
    pub async fn seed_demo_demands(&self) {
        use techtrade_listings::seed;
        let mut conn = self.database.connect();
        let (organizations, _) = seed::ensure_organizations(&mut conn).unwrap();
        let mut owners = Vec::new();
        for (i, organization) in organizations.iter().enumerate() {
            let email = format!("demo{}@techtrade.invalid", i + 1);
            let user = techtrade_db::accounts::find_user_by_email(&mut conn, &email).unwrap().expect("seed_demo first");
            owners.push(seed::Owner { organization_id: organization.id.clone(), user_id: user.id });
        }
        seed::load_demands(&mut conn, &owners).unwrap();
    }

    /// Loads `records` as published demo listings (as `techtrade seed --demo`
    /// does), owned by the demo organisations.
    pub async fn seed_demo(&self, records: &[PatentRecord]) {
        use techtrade_listings::seed;
        let mut conn = self.database.connect();
        let (organizations, _) = seed::ensure_organizations(&mut conn).unwrap();
        let mut owners = Vec::new();
        for (i, organization) in organizations.iter().enumerate() {
            let input = NewUser {
                email: format!("demo{}@techtrade.invalid", i + 1),
                password: "demo password 1".into(),
                name: format!("示例成员{}", i + 1),
                role: Role::Member,
                organization_id: Some(organization.id.clone()),
                must_change_password: false,
            };
            let user = techtrade_accounts::create_user(&self.state.db, &self.hasher, input, None, None).await.unwrap();
            owners.push(seed::Owner { organization_id: organization.id.clone(), user_id: user.id });
        }
        seed::load_listings(&mut conn, records, &owners, |_, _| {}).unwrap();
    }

    /// Sends a request; `body` is sent as JSON.
    pub async fn request(&self, method: Method, path: &str, token: Option<&str>, body: Option<Value>) -> TestResponse {
        let mut builder = Request::builder().method(method).uri(path);
        if let Some(token) = token {
            builder = builder.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let body = match body {
            Some(json) => {
                builder = builder.header(header::CONTENT_TYPE, "application/json");
                Body::from(json.to_string())
            }
            None => Body::empty(),
        };
        self.send(builder.body(body).unwrap()).await
    }

    /// Sends a request built by the caller (raw bodies, odd headers).
    pub async fn send(&self, request: Request<Body>) -> TestResponse {
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        TestResponse { status, headers, text, json, bytes: bytes.to_vec() }
    }

    /// POSTs a `multipart/form-data` form: text `fields`, and one `file`
    /// part (name, content type as the client claims it, bytes).
    pub async fn post_multipart(
        &self,
        path: &str,
        token: Option<&str>,
        fields: &[(&str, &str)],
        file: Option<(&str, &str, &[u8])>,
    ) -> TestResponse {
        let (content_type, body) = multipart_body(fields, file);
        let mut builder = Request::builder().method(Method::POST).uri(path).header(header::CONTENT_TYPE, content_type);
        if let Some(token) = token {
            builder = builder.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        self.send(builder.body(Body::from(body)).unwrap()).await
    }

    /// POSTs `body` (JSON text, sent as is) with extra headers.
    pub async fn post_with(
        &self,
        path: &str,
        token: Option<&str>,
        headers: &[(&str, &str)],
        body: &str,
    ) -> TestResponse {
        let mut builder =
            Request::builder().method(Method::POST).uri(path).header(header::CONTENT_TYPE, "application/json");
        if let Some(token) = token {
            builder = builder.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        self.send(builder.body(Body::from(body.to_string())).unwrap()).await
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> TestResponse {
        self.request(Method::GET, path, token, None).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> TestResponse {
        self.request(Method::POST, path, token, Some(body)).await
    }

    /// Signs in and returns the token.
    pub async fn login(&self, email: &str, password: &str) -> String {
        let response = self.post("/api/v1/auth/login", None, json!({"email": email, "password": password})).await;
        response.assert_status(200);
        response.json["token"].as_str().unwrap().to_string()
    }

    /// Registers an organisation of `kind` and signs its first member in.
    /// Signs in with a password someone else chose and replaces it, as
    /// the first sign-in requires; the new password.
    pub async fn choose_own_password(&self, email: &str, chosen: &str) -> String {
        let token = self.login(email, chosen).await;
        let own = format!("{chosen} (own)");
        self.post("/api/v1/me/password", Some(&token), json!({"current": chosen, "new": own})).await.assert_status(204);
        own
    }

    pub async fn register_org(&self, kind: &str) -> TestOrg {
        let n = unique();
        let credit_code = credit_code();
        let email = format!("member{n}@example.cn");
        let password = format!("password-{n}");
        let response = self
            .post(
                "/api/v1/organizations",
                None,
                json!({
                    "organization": {"name": format!("测试单位{n}"), "kind": kind, "credit_code": credit_code, "region_code": "630100"},
                    "user": {"email": email, "password": password, "name": format!("成员{n}")},
                }),
            )
            .await;
        response.assert_status(201);
        let token = self.login(&email, &password).await;
        TestOrg {
            id: response.json["organization"]["id"].as_str().unwrap().to_string(),
            credit_code,
            user_id: response.json["user"]["id"].as_str().unwrap().to_string(),
            email,
            password,
            token,
        }
    }

    /// An official who is also a member of `org`, signed in; their token.
    pub async fn official_of(&self, org: &TestOrg) -> String {
        let n = unique();
        let email = format!("official{n}@example.cn");
        let input = NewUser {
            email: email.clone(),
            password: "official password 1".into(),
            name: format!("兼任官员{n}"),
            role: Role::Official,
            organization_id: Some(org.id.clone()),
            must_change_password: false,
        };
        techtrade_accounts::create_user(&self.state.db, &self.hasher, input, None, None).await.unwrap();
        self.login(&email, "official password 1").await
    }

    /// Creates an official or admin as `techtrade admin create-user` does and
    /// signs them in; returns (user id, token).
    pub async fn staff(&self, role: Role) -> (String, String) {
        let staff = self.staff_account(role, None).await;
        (staff.user_id, staff.token)
    }

    /// An official or administrator, of `organization_id` when given (an
    /// official employed by a member organisation), signed in.
    pub async fn staff_account(&self, role: Role, organization_id: Option<&str>) -> StaffAccount {
        let n = unique();
        let email = format!("{}{n}@kjt.qinghai.gov.cn", role.as_str());
        let password = format!("staff-password-{n}");
        let input = NewUser {
            email: email.clone(),
            password: password.clone(),
            name: format!("职员{n}"),
            role,
            organization_id: organization_id.map(str::to_string),
            must_change_password: false,
        };
        let user = techtrade_accounts::create_user(&self.state.db, &self.hasher, input, None, None).await.unwrap();
        let token = self.login(&email, &password).await;
        StaffAccount { user_id: user.id, email, password, token }
    }
}

/// A `multipart/form-data` body of `fields` and a `file` (name, content
/// type, bytes) as a browser sends an upload form; its content type.
pub fn multipart_body(fields: &[(&str, &str)], file: Option<(&str, &str, &[u8])>) -> (String, Vec<u8>) {
    const BOUNDARY: &str = "techtrade-test-boundary-7d3f";
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend_from_slice(
            format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").as_bytes(),
        );
    }
    if let Some((file_name, content_type, bytes)) = file {
        body.extend_from_slice(
            format!(
                "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{file_name}\"\r\nContent-Type: {content_type}\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={BOUNDARY}"), body)
}
