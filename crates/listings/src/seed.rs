//! `techtrade seed --demo` (and `serve --demo`): the real Chinese patent
//! records that come with the repository as published listings of a few demo organisations, so that a
//! newcomer has something to search and trade.
//!
//! The records carry no applicant, dates, region or price; those are made
//! up reproducibly from each publication number (the same number always
//! gives the same listing), and the demo organisations say "示例" in their
//! names. Listing ids are `demo-<publication number>`, which makes a second
//! run skip what the first loaded.

use std::path::Path;

use chrono::{NaiveDate, NaiveDateTime};
use techtrade_db::accounts::{self, Organization};
use techtrade_db::listings::{self as db, Demand, Listing};
use techtrade_db::{AnyConnection, audit, outbox};
use techtrade_domain::{
    ApplicationNumber, CreditCode, IpcCode, LegalStatus, ListingKind, ListingStatus, Maturity, Money, PatentType,
    PublicationNumber, RegionCode, TradeMode,
};

use crate::listing;
use crate::requests::{DemandRequest, ValidDemand, ValidListing, ValidPatent};

/// One patent record of the demo data.
#[derive(Debug, Clone)]
pub struct PatentRecord {
    pub publication_number: String,
    pub title: String,
    /// IPC (or CPC) codes as given.
    pub codes: Vec<String>,
    pub abstract_text: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error("reading {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("{path} line {line}: {problem}")]
    Record { path: String, line: usize, problem: String },
    #[error(transparent)]
    Database(#[from] diesel::result::Error),
    #[error("{0}")]
    Invalid(String),
}

/// What loading the listings did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SeedReport {
    pub listings_created: usize,
    pub listings_existing: usize,
    /// Codes in the records that are not IPC at any level, left out.
    pub codes_dropped: usize,
}

pub const CSV_FILE: &str = "cn_patents_title_ipc.csv";
pub const ABSTRACTS_FILE: &str = "cn_patents_g06f_with_abstracts.jsonl";

/// The records that come with the repository (`crates/listings/data/patents`,
/// copied unchanged from their sources; see the NOTICE there), built into the
/// binary so that `serve --demo` needs no file beside it.
const BUNDLED_CSV: &str = include_str!("../data/patents/cn_patents_title_ipc.csv");
const BUNDLED_ABSTRACTS: &str = include_str!("../data/patents/cn_patents_g06f_with_abstracts.jsonl");

/// The folder of the records that come with the repository, for tools that
/// read files (the search benchmark).
pub fn bundled_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data/patents")
}

/// The records built into the binary, the CSV first.
pub fn bundled_records() -> Result<Vec<PatentRecord>, SeedError> {
    let mut records = parse_csv(CSV_FILE, BUNDLED_CSV)?;
    records.extend(parse_jsonl(ABSTRACTS_FILE, BUNDLED_ABSTRACTS)?);
    Ok(records)
}

/// Reads both record files of `dir`, the CSV first.
pub fn read_records(dir: &Path) -> Result<Vec<PatentRecord>, SeedError> {
    let csv = dir.join(CSV_FILE);
    let mut records = parse_csv(&csv.display().to_string(), &read(&csv)?)?;
    let abstracts = dir.join(ABSTRACTS_FILE);
    records.extend(parse_jsonl(&abstracts.display().to_string(), &read(&abstracts)?)?);
    Ok(records)
}

fn read(path: &Path) -> Result<String, SeedError> {
    std::fs::read_to_string(path).map_err(|source| SeedError::Read { path: path.display().to_string(), source })
}

/// `publication_number,kind,title,ipc_subclasses`, `|` between codes;
/// `origin` names the text in errors.
fn parse_csv(origin: &str, text: &str) -> Result<Vec<PatentRecord>, SeedError> {
    #[derive(serde::Deserialize)]
    struct Row {
        publication_number: String,
        title: String,
        ipc_subclasses: String,
    }
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    reader
        .deserialize::<Row>()
        .enumerate()
        .map(|(i, row)| {
            let row =
                row.map_err(|e| SeedError::Record { path: origin.to_string(), line: i + 2, problem: e.to_string() })?;
            Ok(PatentRecord {
                publication_number: row.publication_number.trim().to_string(),
                title: row.title.trim().to_string(),
                codes: row.ipc_subclasses.split('|').map(|c| c.trim().to_string()).filter(|c| !c.is_empty()).collect(),
                abstract_text: None,
            })
        })
        .collect()
}

fn parse_jsonl(origin: &str, text: &str) -> Result<Vec<PatentRecord>, SeedError> {
    #[derive(serde::Deserialize)]
    struct Line {
        publication_number: String,
        title: String,
        #[serde(rename = "abstract")]
        abstract_text: String,
        cpc: Vec<String>,
    }
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(i, line)| {
            let parsed: Line = serde_json::from_str(line).map_err(|e| SeedError::Record {
                path: origin.to_string(),
                line: i + 1,
                problem: e.to_string(),
            })?;
            Ok(PatentRecord {
                publication_number: parsed.publication_number,
                title: parsed.title,
                codes: parsed.cpc,
                abstract_text: Some(parsed.abstract_text),
            })
        })
        .collect()
}

/// A small deterministic generator (SplitMix64) seeded from a string, so a
/// record always gets the same made-up details on every machine (the
/// benchmarks resample the data with it too).
pub struct Dice(u64);

impl Dice {
    /// A stream from a number (the model test seeds one per client).
    pub fn from_seed(seed: u64) -> Self {
        Self(seed)
    }

    pub fn for_key(key: &str) -> Self {
        // FNV-1a over the key.
        let seed =
            key.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
        Self(seed)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

/// The demo organisations: (name, kind, 17-character credit code prefix, region).
const ORGANIZATIONS: [(&str, &str, &str, &str); 5] = [
    ("青海高原理工大学（示例）", "university", "12630000MB0000001", "630104"),
    ("西宁盐湖化工研究院（示例）", "institute", "12630100MB0000002", "630105"),
    ("海西新能源科技有限公司（示例）", "enterprise", "91632801MA0000003", "632801"),
    ("海东智能制造有限公司（示例）", "enterprise", "91630202MA0000004", "630202"),
    ("青海技术转移服务中心（示例）", "agency", "52630100MJ0000005", "630103"),
];

/// Regions listings are offered from: Xining's districts, Haidong, Golmud, Delingha.
const REGIONS: [&str; 7] = ["630102", "630103", "630104", "630105", "630202", "632801", "632802"];

/// The demo organisations as rows (ids derived from their credit codes).
pub fn demo_organizations() -> Result<Vec<Organization>, SeedError> {
    let now = techtrade_db::now();
    ORGANIZATIONS
        .iter()
        .map(|(name, kind, prefix, region)| {
            let code = CreditCode::complete(prefix)
                .map_err(|e| SeedError::Invalid(format!("demo credit code {prefix}: {e}")))?;
            Ok(Organization {
                id: format!("demo-org-{}", code.as_str().to_ascii_lowercase()),
                name: (*name).to_string(),
                kind: (*kind).to_string(),
                credit_code: code.to_string(),
                region_code: (*region).to_string(),
                created_at: now,
                updated_at: now,
                version: 1,
            })
        })
        .collect()
}

/// The e-mail address of the `n`th demo member (from 1), one per demo organisation.
pub fn demo_member_email(n: usize) -> String {
    format!("demo{n}@techtrade.invalid")
}

/// The demo's official of the science and technology department, who
/// reviews listings, registers contracts and decides subsidy claims.
pub const DEMO_OFFICIAL_EMAIL: &str = "official@techtrade.invalid";

/// The demo's second official: a claim's level 2 (复审) is decided by
/// another official than its level 1.
pub const DEMO_REVIEWER_EMAIL: &str = "reviewer@techtrade.invalid";

/// The demo's system administrator, who creates officials and disables users.
pub const DEMO_ADMIN_EMAIL: &str = "admin@techtrade.invalid";

/// The demo's security administrator, who makes auditors and ends lock-outs.
pub const DEMO_SECADMIN_EMAIL: &str = "secadmin@techtrade.invalid";

/// The demo's auditor, who reads the audit log.
pub const DEMO_AUDITOR_EMAIL: &str = "auditor@techtrade.invalid";

/// Every staff account of the demo.
pub const DEMO_STAFF_EMAILS: [&str; 5] =
    [DEMO_OFFICIAL_EMAIL, DEMO_REVIEWER_EMAIL, DEMO_ADMIN_EMAIL, DEMO_SECADMIN_EMAIL, DEMO_AUDITOR_EMAIL];

/// What a database holds, as far as the demo is concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Holding {
    /// No organisation and no account: the demo may be loaded.
    Nothing,
    /// The demo organisations are there; `complete` when every listing,
    /// demand and account of the demo is too (a load that was interrupted
    /// leaves it false).
    Demo { complete: bool },
    /// Somebody else's data, which the demo must not be mixed into.
    Other { organizations: i64, users: i64 },
}

/// What `conn` holds: the demo would load `listings` listings.
pub fn holding(conn: &mut AnyConnection, listings: usize) -> Result<Holding, SeedError> {
    let organizations = demo_organizations()?;
    let mut demo_organizations_found = 0;
    for organization in &organizations {
        if accounts::find_organization(conn, &organization.id)?.is_some() {
            demo_organizations_found += 1;
        }
    }
    if demo_organizations_found == 0 {
        let organizations = accounts::count_organizations(conn)?;
        let users = accounts::count_users(conn)?;
        return Ok(if organizations == 0 && users == 0 {
            Holding::Nothing
        } else {
            Holding::Other { organizations, users }
        });
    }
    let mut complete = demo_organizations_found == organizations.len()
        && db::count_listings_with_id_prefix(conn, "demo-")? == listings as i64;
    for email in DEMO_STAFF_EMAILS {
        complete = complete && accounts::find_user_by_email(conn, email)?.is_some();
    }
    for n in 1..=organizations.len() {
        complete = complete && accounts::find_user_by_email(conn, &demo_member_email(n))?.is_some();
    }
    for demand in &DEMANDS {
        complete = complete && db::find_demand(conn, &format!("demo-demand-{}", demand.key))?.is_some();
    }
    Ok(Holding::Demo { complete })
}

/// The demo listing for a record, with its made-up details.
pub fn demo_listing(record: &PatentRecord, today: NaiveDate) -> Result<(ValidListing, usize), SeedError> {
    let invalid = |what: String| SeedError::Invalid(format!("{}: {what}", record.publication_number));
    let publication = PublicationNumber::parse(&record.publication_number).map_err(|e| invalid(e.to_string()))?;
    let patent_type = publication.patent_type();
    let mut dice = Dice::for_key(publication.as_str());

    let mut codes: Vec<IpcCode> = Vec::new();
    let mut dropped = 0;
    for code in &record.codes {
        // CPC refines IPC; a CPC-only group still names an IPC subclass.
        let parsed = IpcCode::parse(code).or_else(|_| IpcCode::parse(code.get(..4).unwrap_or(code)));
        match parsed {
            Ok(code) if !codes.contains(&code) => codes.push(code),
            Ok(_) => {}
            Err(_) => dropped += 1,
        }
    }

    let year = 2015 + dice.below(7) as i32;
    let type_digit = if patent_type == PatentType::UtilityModel { 2 } else { 1 };
    let serial = dice.below(10_000_000);
    let number =
        ApplicationNumber::complete(&format!("{year}{type_digit}{serial:07}")).map_err(|e| invalid(e.to_string()))?;
    let filing = NaiveDate::from_yo_opt(year, 1 + dice.below(365) as u32).unwrap_or(today).min(today);
    let granted = publication.is_grant();
    let grant_date = granted.then(|| {
        let days = 200 + dice.below(900) as i64;
        (filing + chrono::TimeDelta::days(days)).min(today)
    });
    let expires_on = patent_type.expires_on(filing).ok_or_else(|| invalid("no expiry".into()))?;
    let patent = ValidPatent {
        application_number: number,
        publication_number: Some(publication.clone()),
        patent_type,
        title: record.title.clone(),
        filing_date: filing,
        grant_date,
        legal_status: if granted { LegalStatus::Granted } else { LegalStatus::Pending },
        expires_on,
    };

    let maturity = *dice.pick(Maturity::ALL);
    let mut trade_modes = vec![*dice.pick(TradeMode::ALL)];
    if dice.below(2) == 0 {
        let second = *dice.pick(TradeMode::ALL);
        if !trade_modes.contains(&second) {
            trade_modes.push(second);
        }
    }
    trade_modes.sort();
    let negotiable = dice.below(4) == 0;
    // Prices from 5万 to about 500万 yuan, in whole thousands of yuan.
    let price = (!negotiable)
        .then(|| Money::from_fen((50 + dice.below(4_950) as i64) * 1_000 * 100))
        .transpose()
        .map_err(|e| invalid(e.to_string()))?;
    let region = RegionCode::parse(dice.pick::<&str>(&REGIONS)).map_err(|e| invalid(e.to_string()))?;
    let summary: String = match &record.abstract_text {
        Some(text) => text.chars().take(crate::requests::MAX_SUMMARY).collect(),
        None => record.title.clone(),
    };
    let valid = ValidListing {
        kind: ListingKind::Patent,
        title: record.title.chars().take(crate::requests::MAX_TITLE).collect(),
        summary,
        description: record.abstract_text.clone(),
        ipc: codes,
        maturity,
        trade_modes,
        price,
        negotiable,
        region_code: region,
        patents: vec![patent],
    };
    Ok((valid, dropped))
}

/// Inserts the demo organisations that are missing; returns them all and
/// how many were new.
pub fn ensure_organizations(conn: &mut AnyConnection) -> Result<(Vec<Organization>, usize), SeedError> {
    let organizations = demo_organizations()?;
    let created = techtrade_db::write_transaction(conn, |conn| {
        let mut created = 0;
        for organization in &organizations {
            if accounts::find_organization(conn, &organization.id)?.is_none() {
                accounts::insert_organization(conn, organization)?;
                created += 1;
            }
        }
        Ok::<_, SeedError>(created)
    })?;
    Ok((organizations, created))
}

/// Who owns demo listings: an organisation and the member who lists for it.
#[derive(Debug, Clone)]
pub struct Owner {
    pub organization_id: String,
    pub user_id: String,
}

/// When a demo item was published: a made-up moment within the year before
/// `now`, the same for the same id (so the demo's statistics and "newest"
/// have a history to show, not one spike on the day it was loaded).
pub fn demo_published_at(id: &str, now: NaiveDateTime) -> NaiveDateTime {
    let minutes = Dice::for_key(&format!("{id}/published")).below(365 * 24 * 60);
    now - chrono::TimeDelta::minutes(i64::try_from(minutes).unwrap_or_default())
}

/// Stores a checked listing as published under `id` at `published_at`. It
/// never waited for review (`submitted_at` stays empty: the console does
/// not count it as having come in). With `announce` it also emits
/// `listing.published`, so the server's indexer picks it up; a bulk load
/// (the benchmark's) leaves that out and rebuilds the index once with
/// `techtrade reindex` instead of replaying 100k events.
pub fn insert_published_listing(
    conn: &mut AnyConnection,
    id: &str,
    valid: &ValidListing,
    owner: &Owner,
    published_at: NaiveDateTime,
    announce: bool,
) -> Result<(), SeedError> {
    let row = Listing {
        id: id.to_string(),
        status: ListingStatus::Published.as_str().to_string(),
        submitted_at: None,
        published_at: Some(published_at),
        ..listing::new_row(valid, &owner.organization_id, &owner.user_id, published_at)
    };
    listing::insert(conn, &row, valid).map_err(|e| SeedError::Invalid(e.to_string()))?;
    if announce {
        let payload = serde_json::json!({
            "id": id, "owner_organization_id": owner.organization_id, "from": null, "status": "published",
        });
        outbox::emit(conn, "listing.published", "listing", id, &payload)?;
    }
    Ok(())
}

/// Stores a checked demand as published under `id`; `announce` as for
/// [`insert_published_listing`].
pub fn insert_published_demand(
    conn: &mut AnyConnection,
    id: &str,
    valid: &ValidDemand,
    owner: &Owner,
    published_at: NaiveDateTime,
    announce: bool,
) -> Result<(), SeedError> {
    let row = Demand {
        id: id.to_string(),
        status: ListingStatus::Published.as_str().to_string(),
        submitted_at: None,
        published_at: Some(published_at),
        ..crate::demand::new_row(valid, &owner.organization_id, &owner.user_id, published_at)
    };
    db::insert_demand(conn, &row)?;
    if announce {
        let payload = serde_json::json!({
            "id": id, "owner_organization_id": owner.organization_id, "from": null, "status": "published",
        });
        outbox::emit(conn, "demand.published", "demand", id, &payload)?;
    }
    Ok(())
}

/// Loads the records as published listings spread over `owners`; records
/// already loaded are skipped. `progress` is told (done, total) after each
/// batch of 500, each batch its own transaction.
pub fn load_listings(
    conn: &mut AnyConnection,
    records: &[PatentRecord],
    owners: &[Owner],
    mut progress: impl FnMut(usize, usize),
) -> Result<SeedReport, SeedError> {
    if owners.is_empty() {
        return Err(SeedError::Invalid("no owners for the demo listings".into()));
    }
    let mut report = SeedReport::default();
    let today = techtrade_db::today();
    let now = techtrade_db::now();
    const BATCH: usize = 500;
    let mut done = 0;
    for batch in records.chunks(BATCH) {
        techtrade_db::write_transaction(conn, |conn| {
            for record in batch {
                let id = format!("demo-{}", record.publication_number);
                if db::listing_exists(conn, &id)? {
                    report.listings_existing += 1;
                    continue;
                }
                let (valid, dropped) = demo_listing(record, today)?;
                report.codes_dropped += dropped;
                let owner = &owners[Dice::for_key(&id).below(owners.len() as u64) as usize];
                insert_published_listing(conn, &id, &valid, owner, demo_published_at(&id, now), true)?;
                report.listings_created += 1;
            }
            Ok::<_, SeedError>(())
        })?;
        done += batch.len();
        progress(done, records.len());
    }
    audit::append(
        conn,
        audit::AuditEntry {
            actor_user_id: None,
            action: "demo.seed",
            subject_type: "system",
            subject_id: "demo",
            before: None,
            after: Some(serde_json::json!({
                "listings_created": report.listings_created,
                "listings_existing": report.listings_existing,
            })),
            request_id: None,
            ..Default::default()
        },
    )?;
    Ok(report)
}

/// A demo technology demand, as its owner would post it.
struct DemoDemand {
    /// The id is `demo-demand-<key>`.
    key: &'static str,
    /// Index into the demo organisations.
    owner: usize,
    title: &'static str,
    description: &'static str,
    ipc: &'static [&'static str],
    budget_min_yuan: Option<i64>,
    budget_max_yuan: Option<i64>,
    negotiable: bool,
    trade_modes: &'static [TradeMode],
    region_code: &'static str,
}

/// Demands in fields the patent records cover, so that matching has
/// something to find for each (锂电池回收 above all, the acceptance example).
const DEMANDS: [DemoDemand; 5] = [
    DemoDemand {
        key: "battery-recycling",
        owner: 2,
        title: "退役动力锂电池回收与梯次利用技术",
        description: "我公司在格尔木建有动力电池回收产线，寻求废旧锂电池的安全拆解、放电与破碎分选，\
                      正极材料（三元、磷酸铁锂）中锂镍钴的回收再生，以及退役电池梯次利用于储能的技术。\
                      要求已完成中试或具备产业化条件，可转让或合作开发。",
        ipc: &["H01M10/54"],
        budget_min_yuan: Some(500_000),
        budget_max_yuan: Some(3_000_000),
        negotiable: true,
        trade_modes: &[TradeMode::Assignment, TradeMode::JointDevelopment],
        region_code: "632801",
    },
    DemoDemand {
        key: "brine-lithium",
        owner: 1,
        title: "盐湖卤水吸附法提锂工艺",
        description: "针对察尔汗盐湖高镁锂比老卤，寻求吸附剂制备与吸附—解吸提锂工艺，制取电池级碳酸锂。",
        ipc: &["C22B26/12", "C01D15/08"],
        budget_min_yuan: Some(1_000_000),
        budget_max_yuan: Some(5_000_000),
        negotiable: false,
        trade_modes: &[TradeMode::Assignment, TradeMode::ExclusiveLicense],
        region_code: "630105",
    },
    DemoDemand {
        key: "government-qa",
        owner: 4,
        title: "面向政务服务的智能问答与文本检索系统",
        description: "需要基于自然语言处理的问答、语义检索与知识库构建技术，用于政策咨询与科技服务平台。",
        ipc: &["G06F16/33", "G06F40/30"],
        budget_min_yuan: None,
        budget_max_yuan: Some(800_000),
        negotiable: false,
        trade_modes: &[TradeMode::NonexclusiveLicense, TradeMode::JointDevelopment],
        region_code: "630104",
    },
    DemoDemand {
        key: "solar-cleaning",
        owner: 3,
        title: "高原光伏电站组件清洗与运维机器人",
        description: "共和光伏园区风沙大，寻求光伏组件自动清洗、巡检与故障诊断机器人，适应高海拔低温环境。",
        ipc: &["H02S40/10"],
        budget_min_yuan: None,
        budget_max_yuan: None,
        negotiable: true,
        trade_modes: &[TradeMode::JointDevelopment],
        region_code: "632521",
    },
    DemoDemand {
        key: "yak-dairy",
        owner: 0,
        title: "牦牛乳制品发酵与保鲜技术",
        description: "寻求牦牛酸奶、奶酪的菌种选育与发酵工艺，以及延长常温货架期的保鲜技术。",
        ipc: &["A23C9/12"],
        budget_min_yuan: Some(200_000),
        budget_max_yuan: Some(1_000_000),
        negotiable: true,
        trade_modes: &[TradeMode::Assignment, TradeMode::SoleLicense],
        region_code: "630202",
    },
];

/// The demo demand as a checked request would give it.
fn demo_demand(demand: &DemoDemand, today: NaiveDate) -> Result<ValidDemand, SeedError> {
    let request = DemandRequest {
        title: demand.title.to_string(),
        description: demand.description.to_string(),
        ipc: demand.ipc.iter().map(|c| (*c).to_string()).collect(),
        budget_min_fen: demand.budget_min_yuan.map(|y| y * 100),
        budget_max_fen: demand.budget_max_yuan.map(|y| y * 100),
        negotiable: demand.negotiable,
        trade_modes: demand.trade_modes.to_vec(),
        region_code: demand.region_code.to_string(),
        deadline: None,
    };
    request.validate(today).map_err(|v| SeedError::Invalid(format!("demo demand {}: {v:?}", demand.key)))
}

/// What loading the demands did: (created, already there).
pub fn load_demands(conn: &mut AnyConnection, owners: &[Owner]) -> Result<(usize, usize), SeedError> {
    if owners.is_empty() {
        return Err(SeedError::Invalid("no owners for the demo demands".into()));
    }
    let today = techtrade_db::today();
    let now = techtrade_db::now();
    techtrade_db::write_transaction(conn, |conn| {
        let (mut created, mut existing) = (0, 0);
        for demand in &DEMANDS {
            let id = format!("demo-demand-{}", demand.key);
            if db::find_demand(conn, &id)?.is_some() {
                existing += 1;
                continue;
            }
            let valid = demo_demand(demand, today)?;
            let owner = &owners[demand.owner % owners.len()];
            insert_published_demand(conn, &id, &valid, owner, demo_published_at(&id, now), true)?;
            created += 1;
        }
        Ok((created, existing))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bundled_records_are_the_files_in_the_repository() {
        let records = bundled_records().unwrap();
        assert_eq!(records.len(), 9_797);
        assert_eq!(records.iter().filter(|r| r.abstract_text.is_some()).count(), 57);
        let from_files = read_records(&bundled_dir()).unwrap();
        assert_eq!(from_files.len(), records.len());
        assert!(from_files.iter().zip(&records).all(|(a, b)| a.publication_number == b.publication_number));
    }

    #[test]
    fn a_missing_folder_is_named_in_the_error() {
        let error = read_records(Path::new("/nonexistent/patents")).unwrap_err();
        assert!(error.to_string().contains("/nonexistent/patents/cn_patents_title_ipc.csv"), "{error}");
    }

    #[test]
    fn every_record_becomes_a_consistent_listing() {
        let records = bundled_records().unwrap();
        assert_eq!(records.len(), 9_797);
        let today = NaiveDate::from_ymd_opt(2026, 11, 25).unwrap();
        let mut dropped = 0;
        for record in &records {
            let (listing, lost) = demo_listing(record, today).unwrap();
            dropped += lost;
            assert!(!listing.ipc.is_empty(), "{}", record.publication_number);
            let patent = &listing.patents[0];
            assert_eq!(patent.application_number.patent_type(), patent.patent_type);
            assert_eq!(patent.publication_number.as_ref().map(|p| p.patent_type()), Some(patent.patent_type));
            assert_eq!(patent.application_number.year(), chrono::Datelike::year(&patent.filing_date));
            assert!(patent.grant_date.is_none_or(|g| g >= patent.filing_date && g <= today));
            assert!(listing.price.is_some() || listing.negotiable);
        }
        assert_eq!(dropped, 0, "every code in the data is IPC at some level");
    }

    #[test]
    fn every_demo_demand_is_valid() {
        let today = NaiveDate::from_ymd_opt(2026, 11, 25).unwrap();
        for demand in &DEMANDS {
            let valid = demo_demand(demand, today).unwrap();
            assert!(!valid.ipc.is_empty() && !valid.description.contains('\n'), "{}", demand.key);
        }
    }

    #[test]
    fn made_up_details_are_reproducible() {
        let record = PatentRecord {
            publication_number: "CN114081026A".into(),
            title: "一种水电站高压输电线路驱鸟保护装置".into(),
            codes: vec!["A01M".into(), "G06F".into(), "H02G".into()],
            abstract_text: None,
        };
        let today = NaiveDate::from_ymd_opt(2026, 11, 25).unwrap();
        let (a, _) = demo_listing(&record, today).unwrap();
        let (b, _) = demo_listing(&record, today).unwrap();
        assert_eq!(a.patents[0].application_number, b.patents[0].application_number);
        assert_eq!((a.price, a.maturity, a.region_code.clone()), (b.price, b.maturity, b.region_code.clone()));
        assert_eq!(a.patents[0].patent_type, PatentType::Invention);
        assert_eq!(a.patents[0].legal_status, LegalStatus::Pending, "an A publication is not yet granted");
    }

    #[test]
    fn csv_fields_may_be_quoted() {
        let text =
            "publication_number,kind,title,ipc_subclasses\nCN215756344U,U,\"一种2,6二异丙基苯胺生产用灌装设备\",B67C\n";
        let records = parse_csv("x.csv", text).unwrap();
        assert_eq!(records[0].title, "一种2,6二异丙基苯胺生产用灌装设备");
        assert_eq!(records[0].codes, ["B67C"]);
    }
}
