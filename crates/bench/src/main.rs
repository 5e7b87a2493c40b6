//! `techtrade-bench`: generates a reproducible market from the real patent
//! records that come with the repository, starts the release `techtrade` server on it,
//! drives the server over loopback HTTP with bounded concurrency, and
//! prints per-operation throughput and latency — on SQLite, on PostgreSQL
//! and (with `MEILI_URL`) with Meilisearch as the search backend, side by
//! side in one run. See BENCHMARKS.md.

mod drive;
mod generate;
mod growth;
mod meili_own;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use chrono::Datelike;
use clap::Parser;
use serde_json::json;
use techtrade_db::{Database, DatabaseUrl, PoolOptions, migrations};
use techtrade_listings::seed::{self, Dice};

use crate::drive::{Call, Figures, Server};
use crate::generate::{DataSet, Plan};

/// Every operation, in the order they run (writes after reads, the
/// destructive round close last).
const OPERATIONS: [&str; 11] = [
    "healthz",
    "get_listing",
    "get_listing_uniform",
    "search_text",
    "search_page",
    "search_filtered",
    "search_browse",
    "matches",
    "claim_preview",
    "create_listing",
    "round_close",
];
const SEARCH_OPERATIONS: [&str; 5] = ["search_text", "search_page", "search_filtered", "search_browse", "matches"];

#[derive(Debug, Parser)]
#[command(name = "techtrade-bench", about = "End-to-end benchmark of the techtrade server (see BENCHMARKS.md).")]
struct Args {
    #[arg(long, default_value_t = 100_000)]
    listings: usize,
    #[arg(long, default_value_t = 10_000)]
    demands: usize,
    #[arg(long, default_value_t = 2_000)]
    orgs: usize,
    #[arg(long, default_value_t = 20_000)]
    deals: usize,
    /// Deals of the organisation whose claim preview is timed.
    #[arg(long, default_value_t = 200)]
    preview_deals: usize,
    /// Approved claims in the round that is closed (needs claims/3 organisations).
    #[arg(long, default_value_t = 10_000)]
    claims: usize,
    /// Seconds each operation runs.
    #[arg(long, default_value_t = 20)]
    duration: u64,
    /// Requests in flight at once; several (`8,32,128`) run every
    /// operation at each, labelled `op ×N`.
    #[arg(long, value_delimiter = ',', default_value = "8")]
    concurrency: Vec<usize>,
    /// Extra server settings, `KEY=VALUE` in the environment
    /// (`TECHTRADE__SERVER__PUBLIC_VIEW_CACHE_ENTRIES=0` reads every listing
    /// from the database).
    #[arg(long = "server-env", value_parser = parse_setting)]
    server_env: Vec<(String, String)>,
    /// Comma-separated operations to run (default: all).
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// sqlite, postgres, meilisearch (the last reuses the SQLite data and needs MEILI_URL).
    #[arg(long, value_delimiter = ',', default_value = "sqlite,postgres,meilisearch")]
    backends: Vec<String>,
    /// A folder of patent records to use instead of those built in
    /// (crates/listings/data/patents).
    #[arg(long)]
    data: Option<PathBuf>,
    /// The release server binary.
    #[arg(long, default_value_os_t = drive::default_binary())]
    server_bin: PathBuf,
    /// Where databases and indexes are created (wiped first).
    #[arg(long, default_value = "target/bench-run")]
    work_dir: PathBuf,
    /// The PostgreSQL server (its `postgres` database is used to create `techtrade_bench`).
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432")]
    postgres: String,
    #[arg(long, default_value = "127.0.0.1:18080")]
    listen: String,
    /// Also write the report (Markdown) here.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Market sizes (listings; a tenth as many demands) to run one after
    /// another instead of the one market: how cost grows. Runs
    /// healthz, get_listing, search_text and search_browse at each.
    #[arg(long, value_delimiter = ',')]
    growth: Vec<usize>,
    /// Where `--growth` draws its chart (SVG, one per backend: `-<backend>` is added).
    #[arg(long, default_value = "target/growth.svg")]
    chart: PathBuf,
}

fn parse_setting(text: &str) -> Result<(String, String), String> {
    text.split_once('=').map(|(k, v)| (k.to_string(), v.to_string())).ok_or_else(|| format!("{text}: not KEY=VALUE"))
}

struct BackendRun {
    backend: String,
    figures: Vec<Figures>,
    stages: Vec<(String, Duration)>,
    peak_rss: u64,
}

fn main() -> Result<()> {
    let mut args = Args::parse();
    if !args.growth.is_empty() && args.only.is_empty() {
        args.only = growth::OPERATIONS.iter().map(ToString::to_string).collect();
    }
    for op in &args.only {
        if !OPERATIONS.contains(&op.as_str()) {
            bail!("unknown operation {op}; one of {}", OPERATIONS.join(", "));
        }
    }
    if !args.server_bin.is_file() {
        bail!(
            "{} not found: build it with `cargo build --release -p techtrade-server` (or give --server-bin)",
            args.server_bin.display()
        );
    }
    let records = match &args.data {
        Some(dir) => seed::read_records(dir).map_err(|e| anyhow::anyhow!("{e} (give --data)"))?,
        None => seed::bundled_records()?,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    // The last year that has ended (Beijing date): a round closes, and claims
    // open, only once the year is over.
    let year = techtrade_db::today().year() - 1;
    let plan = Plan {
        listings: args.listings,
        demands: args.demands,
        orgs: args.orgs,
        deals: args.deals,
        preview_deals: args.preview_deals.min(args.deals),
        claims: args.claims,
        year,
    };
    if !args.growth.is_empty() {
        return run_growth(&args, &runtime, &records, year);
    }
    let mut runs = Vec::new();
    let mut sqlite_data: Option<(PathBuf, DataSet)> = None;
    for backend in &args.backends {
        let run = match backend.as_str() {
            "sqlite" => {
                let dir = std::path::absolute(args.work_dir.join("sqlite"))?;
                let url = format!("sqlite://{}", dir.join("techtrade.sqlite3").display());
                let (run, data) = run_backend(&args, &runtime, &records, &plan, "sqlite", &url, &dir, None)?;
                sqlite_data = Some((dir, data));
                run
            }
            "postgres" => {
                let url = recreate_postgres(&args.postgres)?;
                let dir = std::path::absolute(args.work_dir.join("postgres"))?;
                run_backend(&args, &runtime, &records, &plan, "postgres", &url, &dir, None)?.0
            }
            "meilisearch" => {
                let Ok(meili) = std::env::var("MEILI_URL") else {
                    eprintln!("MEILI_URL is not set: no Meilisearch run");
                    continue;
                };
                let Some((dir, data)) = &sqlite_data else {
                    bail!("the meilisearch run reuses the SQLite data: list sqlite first");
                };
                run_meilisearch(&args, &runtime, dir, data, &meili)?
            }
            other => bail!("unknown backend {other}: sqlite, postgres or meilisearch"),
        };
        runs.push(run);
    }
    let report = report(&args, &plan, &runs);
    println!("{report}");
    if let Some(out) = &args.out {
        std::fs::write(out, &report).with_context(|| format!("writing {}", out.display()))?;
    }
    Ok(())
}

/// `--growth`: each size on each database backend, from a fresh database.
fn run_growth(args: &Args, runtime: &tokio::runtime::Runtime, records: &[seed::PatentRecord], year: i32) -> Result<()> {
    let mut steps = Vec::new();
    for &listings in &args.growth {
        let plan =
            Plan { listings, demands: listings / 10, orgs: args.orgs, deals: 0, preview_deals: 0, claims: 0, year };
        for backend in args.backends.iter().filter(|b| *b != "meilisearch") {
            let dir = std::path::absolute(args.work_dir.join(backend))?;
            let url = match backend.as_str() {
                "sqlite" => format!("sqlite://{}", dir.join("techtrade.sqlite3").display()),
                "postgres" => recreate_postgres(&args.postgres)?,
                other => bail!("unknown backend {other}: sqlite or postgres"),
            };
            let (run, _) = run_backend(args, runtime, records, &plan, backend, &url, &dir, None)?;
            let stage = |prefix: &str| {
                run.stages.iter().find(|(name, _)| name.starts_with(prefix)).map(|(_, took)| *took).unwrap_or_default()
            };
            steps.push(growth::Step {
                listings,
                backend: backend.clone(),
                generation: stage("generation, all"),
                reindex: stage("reindex"),
                index_bytes: growth::size_of(&dir.join("search")),
                peak_rss: run.peak_rss,
                figures: run.figures,
            });
            eprintln!("{}", growth::table(&steps));
        }
    }
    let mut report = format!(
        "techtrade-bench --growth: {} s per operation, concurrency {}; demands a tenth of the listings\n\n",
        args.duration,
        args.concurrency.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
    );
    report.push_str(&growth::table(&steps));
    for backend in args.backends.iter().filter(|b| *b != "meilisearch") {
        let stem = args.chart.file_stem().and_then(|s| s.to_str()).unwrap_or("growth");
        let path = args.chart.with_file_name(format!("{stem}-{backend}.svg"));
        growth::chart(&steps, backend, &path)?;
        report.push_str(&format!("\nChart: {}\n", path.display()));
    }
    println!("{report}");
    if let Some(out) = &args.out {
        std::fs::write(out, &report).with_context(|| format!("writing {}", out.display()))?;
    }
    Ok(())
}

/// Drops and creates the `techtrade_bench` database; its URL.
fn recreate_postgres(server: &str) -> Result<String> {
    use diesel::{Connection, RunQueryDsl};
    let mut conn = diesel::PgConnection::establish(&format!("{server}/postgres"))
        .with_context(|| format!("connecting to {server}/postgres"))?;
    diesel::sql_query("DROP DATABASE IF EXISTS techtrade_bench WITH (FORCE)").execute(&mut conn)?;
    diesel::sql_query("CREATE DATABASE techtrade_bench").execute(&mut conn)?;
    Ok(format!("{server}/techtrade_bench"))
}

fn wanted(args: &Args, op: &str) -> bool {
    args.only.is_empty() || args.only.iter().any(|o| o == op)
}

#[allow(clippy::too_many_arguments)]
fn run_backend(
    args: &Args,
    runtime: &tokio::runtime::Runtime,
    records: &[seed::PatentRecord],
    plan: &Plan,
    backend: &str,
    url: &str,
    dir: &std::path::Path,
    meili: Option<&str>,
) -> Result<(BackendRun, DataSet)> {
    eprintln!("== {backend}: generating into {url}");
    if dir.exists() {
        std::fs::remove_dir_all(dir)?;
    }
    std::fs::create_dir_all(dir)?;
    let mut stages = Vec::new();
    let database = Database::new(&DatabaseUrl::parse(url)?, &PoolOptions::default());
    let mut conn = database.get()?;
    let started = Instant::now();
    migrations::run_pending(&mut conn).map_err(|e| anyhow::anyhow!("migrating: {e}"))?;
    stages.push(("migrations".to_string(), started.elapsed()));
    let started = Instant::now();
    let data = generate::generate(&mut conn, records, plan)?;
    let total = started.elapsed();
    drop(conn);
    drop(database);
    stages.extend(data.timings.iter().cloned());
    stages.push(("generation, all".to_string(), total));
    eprintln!("   generated in {total:.1?}; reindexing");
    let mut env = drive::server_env(url, dir, &args.listen, meili);
    env.extend(args.server_env.iter().cloned());
    let took = drive::run_command(&args.server_bin, &["reindex"], &env)?;
    stages.push((format!("reindex ({} listings + {} demands)", plan.listings, plan.demands), took));
    let (figures, peak_rss) = runtime.block_on(drive_server(args, plan, &data, backend, &env, &OPERATIONS))?;
    Ok((BackendRun { backend: backend.to_string(), figures, stages, peak_rss }, data))
}

/// The index `techtrade serve` and `reindex` use in Meilisearch.
const MEILI_INDEX: &str = "techtrade";

fn run_meilisearch(
    args: &Args,
    runtime: &tokio::runtime::Runtime,
    dir: &std::path::Path,
    data: &DataSet,
    meili: &str,
) -> Result<BackendRun> {
    eprintln!("== meilisearch at {meili}, over the SQLite data");
    let url = format!("sqlite://{}", dir.join("techtrade.sqlite3").display());
    let mut env = drive::server_env(&url, dir, &args.listen, Some(meili));
    env.extend(args.server_env.iter().cloned());
    let took = drive::run_command(&args.server_bin, &["reindex"], &env)?;
    let documents = data.listing_ids.len() + data.demand_ids.len();
    // The same documents as one payload: what Meilisearch itself manages.
    let own = runtime.block_on(meili_own::measure(meili, std::env::var("MEILI_KEY").ok(), MEILI_INDEX))?;
    let per_second = |n: usize, took: Duration| n as f64 / took.as_secs_f64().max(1e-9);
    let stages = vec![
        (format!("reindex into Meilisearch ({documents} documents, {:.0} docs/s)", per_second(documents, took)), took),
        (
            format!(
                "Meilisearch's own speed: the same {} documents in one payload ({:.0} docs/s; the reindex reaches {:.0} %)",
                own.documents,
                per_second(own.documents, own.took),
                100.0 * per_second(documents, took) / per_second(own.documents, own.took)
            ),
            own.took,
        ),
    ];
    let plan = Plan {
        listings: data.listing_ids.len(),
        demands: data.demand_ids.len(),
        orgs: 0,
        deals: 0,
        preview_deals: 0,
        claims: 0,
        year: 0,
    };
    let (figures, peak_rss) =
        runtime.block_on(drive_server(args, &plan, data, "meilisearch", &env, &SEARCH_OPERATIONS))?;
    Ok(BackendRun { backend: "meilisearch".into(), figures, stages, peak_rss })
}

/// Search words: two to four characters cut from real titles, as a user
/// types them (the search micro-benchmark cuts its queries the same way).
fn query_words(titles: &[String], count: usize) -> Vec<String> {
    let mut dice = Dice::for_key("techtrade-bench queries");
    let mut words = Vec::with_capacity(count);
    let mut attempts = 0;
    while words.len() < count && attempts < count * 20 && !titles.is_empty() {
        attempts += 1;
        let title: Vec<char> = titles[dice.below(titles.len() as u64) as usize].chars().collect();
        let len = 2 + dice.below(3) as usize;
        if title.len() < len + 2 {
            continue;
        }
        let start = 2 + dice.below((title.len() - len - 1) as u64) as usize;
        let word: String = title[start.min(title.len() - len)..][..len].iter().collect();
        if word.chars().all(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)) {
            words.push(word);
        }
    }
    words
}

async fn drive_server(
    args: &Args,
    plan: &Plan,
    data: &DataSet,
    backend: &str,
    env: &[(String, String)],
    operations: &[&str],
) -> Result<(Vec<Figures>, u64)> {
    let server = Server::start(&args.server_bin, env, &args.listen).await?;
    let base = server.base.clone();
    let client = reqwest::Client::builder().pool_max_idle_per_host(64).build()?;
    let duration = Duration::from_secs(args.duration);
    let most = args.concurrency.iter().copied().max().unwrap_or(1);
    let members: Vec<String> = data.member_emails.iter().take(most.clamp(1, 32)).cloned().collect();
    let mut tokens = Vec::new();
    for email in &members {
        tokens.push(drive::login(&client, &base, email, generate::PASSWORD).await?);
    }
    let preview_token = drive::login(&client, &base, &data.preview_email, generate::PASSWORD).await?;
    let official_token = drive::login(&client, &base, &data.official_email, generate::PASSWORD).await?;
    let words = Arc::new(query_words(&data.titles, 2_000));
    let listing_ids = Arc::new(data.listing_ids.clone());
    let demand_ids = Arc::new(data.demand_ids.clone());
    let mut results = Vec::new();
    for &op in operations {
        if !wanted(args, op) {
            continue;
        }
        eprintln!("   {backend}: {op}");
        let make: Arc<dyn Fn(u64) -> Call + Send + Sync> = match op {
            // The ceiling: the same server's cheapest answer.
            "healthz" => Arc::new(|_| Call::page("/healthz".into())),
            "get_listing" | "get_listing_uniform" => {
                if listing_ids.is_empty() {
                    continue;
                }
                let ids = listing_ids.clone();
                let mut dice = Dice::for_key("get");
                let picks: Vec<usize> = if op == "get_listing" {
                    // Views of a market's items are heavy-tailed: a few are
                    // read often, most seldom (Zipf, s = 1).
                    let zipf = generate::Zipf::new(ids.len());
                    (0..100_000).map(|_| zipf.sample(&mut dice)).collect()
                } else {
                    (0..100_000).map(|_| dice.below(ids.len() as u64) as usize).collect()
                };
                // The body is read whole, not parsed: the server is measured.
                Arc::new(move |n| Call::page(format!("/api/v1/listings/{}", ids[picks[n as usize % picks.len()]])))
            }
            "search_text" => {
                let words = words.clone();
                if words.is_empty() {
                    continue;
                }
                Arc::new(move |n| {
                    Call::get(format!("/api/v1/search?q={}&type=listing", words[n as usize % words.len()]))
                })
            }
            "search_page" => {
                // The web front's search page for the same words: the same
                // search, rendered as HTML with its facets and pages.
                let words = words.clone();
                if words.is_empty() {
                    continue;
                }
                Arc::new(move |n| Call::page(format!("/search?q={}&type=listing", words[n as usize % words.len()])))
            }
            "search_filtered" => {
                let words = words.clone();
                if words.is_empty() {
                    continue;
                }
                const IPC: [&str; 6] = ["G06", "H01", "A61", "B65", "C", "G01"];
                const SORT: [&str; 2] = ["relevance", "newest"];
                Arc::new(move |n| {
                    let i = n as usize;
                    Call::get(format!(
                        "/api/v1/search?q={}&type=listing&ipc={}&region=63&price_max_fen=300000000&sort={}",
                        words[i % words.len()],
                        IPC[i % IPC.len()],
                        SORT[(i / IPC.len()) % SORT.len()]
                    ))
                })
            }
            "search_browse" => {
                // No words: facets over a large filtered set, the worst case for counting.
                const REGION: [&str; 4] = ["63", "6301", "6328", "630104"];
                Arc::new(move |n| {
                    Call::get(format!("/api/v1/search?type=listing&region={}", REGION[n as usize % REGION.len()]))
                })
            }
            "matches" => {
                if demand_ids.is_empty() {
                    continue;
                }
                let ids = demand_ids.clone();
                let token = tokens[0].clone();
                Arc::new(move |n| {
                    let id = &ids[(n as usize * 7919) % ids.len()];
                    Call::get(format!("/api/v1/demands/{id}/matches?limit=20")).with_token(&token)
                })
            }
            "claim_preview" => {
                if plan.preview_deals == 0 {
                    continue;
                }
                let token = preview_token.clone();
                let year = plan.year;
                Arc::new(move |_| {
                    Call::post(
                        "/api/v1/subsidy/claims/preview".into(),
                        &token,
                        json!({"program_id": generate::PREVIEW_PROGRAM, "year": year, "role": "buyer"}),
                    )
                })
            }
            "create_listing" => {
                let tokens = tokens.clone();
                let titles = Arc::new(data.titles.clone());
                if titles.is_empty() {
                    continue;
                }
                Arc::new(move |n| {
                    let title = &titles[n as usize % titles.len()];
                    let body = drive::listing_body(title, n).unwrap_or_default();
                    Call::post("/api/v1/listings".into(), &tokens[n as usize % tokens.len()], body)
                })
            }
            "round_close" => {
                if plan.claims == 0 {
                    continue;
                }
                let token = official_token.clone();
                let year = plan.year;
                // Once: a round closes once.
                let figures = drive::load(
                    &client,
                    &base,
                    op,
                    backend,
                    1,
                    Duration::from_secs(600),
                    Some(1),
                    Arc::new(move |_| {
                        Call::post(
                            "/api/v1/subsidy/rounds".into(),
                            &token,
                            json!({"program_id": generate::ROUND_PROGRAM, "year": year}),
                        )
                    }),
                )
                .await;
                results.push(figures);
                continue;
            }
            _ => continue,
        };
        // A claim preview is one member's action, judged by how long that
        // member waits: it runs alone (concurrency 1), as the target means it.
        if op == "claim_preview" {
            results.push(drive::load(&client, &base, op, backend, 1, duration, None, make).await);
            continue;
        }
        for &concurrency in &args.concurrency {
            let label = if args.concurrency.len() > 1 { format!("{op} ×{concurrency}") } else { op.to_string() };
            results.push(drive::load(&client, &base, &label, backend, concurrency, duration, None, make.clone()).await);
        }
    }
    let rss = server.peak_rss()?;
    server.stop()?;
    Ok((results, rss))
}

fn ms(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1e3;
    if ms < 10.0 { format!("{ms:.2}") } else { format!("{ms:.1}") }
}

fn report(args: &Args, plan: &Plan, runs: &[BackendRun]) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "techtrade-bench: {} listings, {} demands, {} organisations, {} deals ({} for the preview), {} claims; \
         {} s per operation, concurrency {}; load: the 1-minute load average as each operation ended\n\n",
        plan.listings,
        plan.demands,
        plan.organisations(),
        plan.deals,
        plan.preview_deals,
        plan.claims,
        args.duration,
        args.concurrency.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
    ));
    out.push_str("| operation | backend | requests | throughput/s | p50 ms | p99 ms | max ms | errors | load |\n");
    out.push_str("|---|---|---:|---:|---:|---:|---:|---:|---:|\n");
    let of = |f: &Figures, op: &str| f.operation == op || f.operation.starts_with(&format!("{op} ×"));
    for op in OPERATIONS {
        for run in runs {
            for f in run.figures.iter().filter(|f| of(f, op)) {
                out.push_str(&format!(
                    "| {} | {} | {} | {:.1} | {} | {} | {} | {} | {:.2} |\n",
                    f.operation,
                    f.backend,
                    f.requests,
                    f.throughput(),
                    ms(f.p50),
                    ms(f.p99),
                    ms(f.max),
                    f.errors,
                    f.load
                ));
            }
        }
    }
    // Reads against the ceiling: a listing's throughput over /healthz's,
    // from the same server at the same concurrency.
    let ceiling: Vec<String> = runs
        .iter()
        .flat_map(|run| run.figures.iter().map(move |f| (run, f)))
        .filter(|(_, f)| of(f, "get_listing") || of(f, "get_listing_uniform"))
        .filter_map(|(run, f)| {
            let suffix = f.operation.split_once(' ').map(|(_, s)| format!(" {s}")).unwrap_or_default();
            let health = run.figures.iter().find(|h| h.operation == format!("healthz{suffix}"))?;
            Some(format!("| {} | {} | {:.2}× |\n", f.operation, run.backend, f.throughput() / health.throughput()))
        })
        .collect();
    if !ceiling.is_empty() {
        out.push_str("\n| read | backend | throughput / healthz |\n|---|---|---:|\n");
        out.extend(ceiling);
    }
    out.push_str("\n| backend | server peak RSS (VmHWM) |\n|---|---:|\n");
    for run in runs {
        out.push_str(&format!("| {} | {:.0} MB |\n", run.backend, run.peak_rss as f64 / 1e6));
    }
    // Ratios of each backend to the first, operation by operation.
    if let Some(first) = runs.first() {
        for other in runs.iter().skip(1) {
            out.push_str(&format!(
                "\n| operation | {0} / {1} p50 | {0} / {1} p99 | {0} / {1} throughput |\n|---|---:|---:|---:|\n",
                other.backend, first.backend
            ));
            for f in &other.figures {
                if let Some(base) = first.figures.iter().find(|b| b.operation == f.operation) {
                    let ratio = |a: f64, b: f64| if b > 0.0 { format!("{:.2}×", a / b) } else { "–".into() };
                    out.push_str(&format!(
                        "| {} | {} | {} | {} |\n",
                        f.operation,
                        ratio(f.p50.as_secs_f64(), base.p50.as_secs_f64()),
                        ratio(f.p99.as_secs_f64(), base.p99.as_secs_f64()),
                        ratio(f.throughput(), base.throughput())
                    ));
                }
            }
        }
    }
    out.push_str("\n| backend | stage | time |\n|---|---|---:|\n");
    for run in runs {
        for (stage, took) in &run.stages {
            out.push_str(&format!("| {} | {stage} | {:.1?} |\n", run.backend, took));
        }
    }
    let errors: Vec<String> = runs
        .iter()
        .flat_map(|r| &r.figures)
        .filter_map(|f| f.first_error.as_ref().map(|e| format!("- {} on {}: {e}", f.operation, f.backend)))
        .collect();
    if !errors.is_empty() {
        out.push_str("\nFirst error of each operation that had any:\n");
        for e in errors {
            out.push_str(&e);
            out.push('\n');
        }
    }
    out
}
