//! The benchmark's data set, written straight into the database through the
//! `techtrade-db` query functions (batches of rows, one write transaction
//! each) — going through HTTP would make generation the slowest part.
//!
//! Everything is drawn from one fixed-seed stream ([`Dice`]) over the real
//! patent records that come with the repository, so the same flags give the same rows
//! on every machine and both databases get identical data. Ids are
//! predictable (`bench-l-000042`), which lets the driver pick targets
//! without asking the server.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use chrono::{Datelike, NaiveDate, NaiveDateTime};
use techtrade_db::accounts::{self, Organization, User};
use techtrade_db::deals::{self, Contract, Deal, Offer, Payment, Registration};
use techtrade_db::subsidy::{self, ClaimReview, SubsidyClaim};
use techtrade_db::{AnyConnection, write_transaction};
use techtrade_domain::deal::{NumberFormat, RegistrationNumber};
use techtrade_domain::{ApplicationNumber, CreditCode, Maturity, Money, PatentType, RegionCode, TradeMode};
use techtrade_listings::requests::{DemandRequest, ValidListing};
use techtrade_listings::seed::{self, Dice, Owner, PatentRecord};

/// Rows per write transaction: large enough that commits do not dominate,
/// small enough that SQLite's writer lock is never held for long.
const BATCH: usize = 1_000;

/// The password of every generated user (members and officials).
pub const PASSWORD: &str = "techtrade-bench-password-1";

/// The program whose round the benchmark closes: it pays buyers, sellers
/// and agencies, so three claims per organisation are possible.
pub const ROUND_PROGRAM: &str = "qinghai";
/// The program claim previews are asked of (a buyer program).
pub const PREVIEW_PROGRAM: &str = "nanjing-2021";

/// Qinghai's prefectures and Xining's districts, where listings and
/// organisations are (the market is provincial).
const REGIONS: [&str; 9] = ["630102", "630103", "630104", "630105", "630202", "632801", "632802", "632521", "630121"];

/// Contract categories weighted as a technology market sees them:
/// transfer and licence contracts dominate.
const CATEGORIES: [&str; 8] =
    ["transfer", "transfer", "license", "license", "license", "development", "consulting", "service"];

/// What to generate.
#[derive(Debug, Clone)]
pub struct Plan {
    pub listings: usize,
    pub demands: usize,
    pub orgs: usize,
    pub deals: usize,
    /// Deals of the one organisation whose claim preview is timed.
    pub preview_deals: usize,
    /// Approved claims in the round that is closed.
    pub claims: usize,
    /// The year of the deals' contracts and payments and of the claims.
    pub year: i32,
}

impl Plan {
    /// Organisations actually created: a claim is one per organisation,
    /// program, year and role, so a round of many claims needs at least a
    /// third as many organisations.
    pub fn organisations(&self) -> usize {
        self.orgs.max(self.claims.div_ceil(3)).max(3)
    }
}

/// Ids and accounts the driver needs.
#[derive(Debug, Clone)]
pub struct DataSet {
    pub listing_ids: Vec<String>,
    pub demand_ids: Vec<String>,
    /// One member per organisation, in organisation order.
    pub member_emails: Vec<String>,
    /// The member whose organisation bought `preview_deals` times.
    pub preview_email: String,
    pub official_email: String,
    /// Titles the search queries are cut from.
    pub titles: Vec<String>,
    /// How long each part took to write.
    pub timings: Vec<(String, Duration)>,
}

struct Org {
    id: String,
    user_id: String,
    region: String,
}

fn now() -> NaiveDateTime {
    techtrade_db::now()
}

fn batches(
    conn: &mut AnyConnection,
    total: usize,
    mut row: impl FnMut(&mut AnyConnection, usize) -> Result<()>,
) -> Result<()> {
    let mut start = 0;
    while start < total {
        let end = (start + BATCH).min(total);
        write_transaction(conn, |conn| {
            for i in start..end {
                row(conn, i)?;
            }
            Ok::<_, anyhow::Error>(())
        })?;
        start = end;
    }
    Ok(())
}

/// A day of `year` up to `today`, drawn from the dice.
fn day_in(dice: &mut Dice, year: i32, today: NaiveDate) -> NaiveDate {
    let last = if year == today.year() { today.ordinal() } else { 365 };
    NaiveDate::from_yo_opt(year, 1 + dice.below(u64::from(last)) as u32).unwrap_or(today)
}

fn at(day: NaiveDate, dice: &mut Dice) -> NaiveDateTime {
    day.and_hms_opt(8 + dice.below(10) as u32, dice.below(60) as u32, 0).unwrap_or_default()
}

/// Writes the whole data set; `records` are the demo patent records.
pub fn generate(conn: &mut AnyConnection, records: &[PatentRecord], plan: &Plan) -> Result<DataSet> {
    if records.is_empty() {
        bail!("no patent records to resample");
    }
    let today = chrono::Utc::now().date_naive();
    let mut dice = Dice::for_key("techtrade-bench");
    let mut timings = Vec::new();

    // One Argon2 hash for every user: hashing 3,000 passwords would take
    // minutes and measures nothing the benchmark is about.
    let hasher = techtrade_accounts::PasswordHasher::new(19_456, 2).map_err(anyhow::Error::msg)?;
    let hash = hasher.hash(PASSWORD).map_err(|e| anyhow::anyhow!("hashing: {e}"))?;

    let started = Instant::now();
    let org_count = plan.organisations();
    let mut orgs = Vec::with_capacity(org_count);
    let mut member_emails = Vec::with_capacity(org_count);
    for i in 0..org_count {
        let region = REGIONS[dice.below(REGIONS.len() as u64) as usize].to_string();
        orgs.push(Org { id: format!("bench-org-{i:05}"), user_id: format!("bench-user-{i:05}"), region });
        member_emails.push(format!("bench{i:05}@techtrade.invalid"));
    }
    batches(conn, org_count, |conn, i| {
        let org = &orgs[i];
        // Every seventh is an agency, so agency claims and deals exist.
        let kind = match i % 7 {
            0 => "agency",
            1 => "university",
            2 => "institute",
            _ => "enterprise",
        };
        let prefix = if kind == "enterprise" { "91" } else { "12" };
        let code = CreditCode::complete(&format!("{prefix}{}MA{i:07}", org.region))
            .map_err(|e| anyhow::anyhow!("credit code of organisation {i}: {e}"))?;
        let t = now();
        accounts::insert_organization(
            conn,
            &Organization {
                id: org.id.clone(),
                name: format!("基准测试{}{i:05}", if kind == "enterprise" { "科技有限公司" } else { "单位" }),
                kind: kind.to_string(),
                credit_code: code.to_string(),
                region_code: org.region.clone(),
                created_at: t,
                updated_at: t,
                version: 1,
            },
        )?;
        accounts::insert_user(conn, &user(&org.user_id, Some(&org.id), &member_emails[i], "member", &hash))?;
        Ok(())
    })?;
    let officials = ["bench-official-1", "bench-official-2"];
    write_transaction(conn, |conn| {
        for (n, id) in officials.iter().enumerate() {
            accounts::insert_user(
                conn,
                &user(id, None, &format!("official{}@bench.invalid", n + 1), "official", &hash),
            )?;
        }
        Ok::<_, anyhow::Error>(())
    })?;
    timings.push((format!("{org_count} organisations + members"), started.elapsed()));

    // Listings: resampled records with new numbers and made-up details.
    let started = Instant::now();
    let mut listing_ids = Vec::with_capacity(plan.listings);
    // (owner index, first trade mode, price) of each listing, for the deals.
    let mut listing_facts: Vec<(usize, TradeMode, i64)> = Vec::with_capacity(plan.listings);
    let mut titles = Vec::new();
    batches(conn, plan.listings, |conn, i| {
        let record = &records[if i < records.len() { i } else { dice.below(records.len() as u64) as usize }];
        let (mut valid, _) = seed::demo_listing(record, today).map_err(|e| anyhow::anyhow!("{e}"))?;
        resample(&mut valid, &mut dice, i)?;
        let owner_index = dice.below(org_count as u64) as usize;
        let owner = &orgs[owner_index];
        let id = format!("bench-l-{i:06}");
        let owner = Owner { organization_id: owner.id.clone(), user_id: owner.user_id.clone() };
        seed::insert_published_listing(conn, &id, &valid, &owner, techtrade_db::now(), false)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let price = valid.price.map_or(10_000_000, |p| p.fen());
        listing_facts.push((owner_index, valid.trade_modes[0], price));
        if i < records.len() {
            titles.push(valid.title.clone());
        }
        listing_ids.push(id);
        Ok(())
    })?;
    timings.push((format!("{} listings", plan.listings), started.elapsed()));

    // Demands: what buyers ask for, phrased around real titles.
    let started = Instant::now();
    let mut demand_ids = Vec::with_capacity(plan.demands);
    batches(conn, plan.demands, |conn, i| {
        let record = &records[dice.below(records.len() as u64) as usize];
        let request = demand_request(record, &mut dice);
        let valid = request.validate(today).map_err(|v| anyhow::anyhow!("demand {i}: {v:?}"))?;
        let owner = &orgs[dice.below(org_count as u64) as usize];
        let id = format!("bench-d-{i:05}");
        let owner = Owner { organization_id: owner.id.clone(), user_id: owner.user_id.clone() };
        seed::insert_published_demand(conn, &id, &valid, &owner, techtrade_db::now(), false)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        demand_ids.push(id);
        Ok(())
    })?;
    timings.push((format!("{} demands", plan.demands), started.elapsed()));

    // Deals, each carried to the end: an accepted offer, a contract, a
    // registration with its number, and a confirmed payment of the total.
    let started = Instant::now();
    if plan.listings == 0 && plan.deals > 0 {
        bail!("deals need listings");
    }
    let mut serials: HashMap<String, i64> = HashMap::new();
    batches(conn, plan.deals, |conn, k| {
        let mut listing = dice.below(listing_facts.len() as u64) as usize;
        // The preview organisation (0) buys exactly the first
        // `preview_deals`, never its own listings; everyone else buys at
        // random from others.
        if k < plan.preview_deals {
            while listing_facts[listing].0 == 0 {
                listing = (listing + 1) % listing_facts.len();
            }
        }
        let (seller_index, trade_mode, price) = listing_facts[listing];
        let buyer_index = if k < plan.preview_deals {
            0
        } else {
            let buyer = 1 + dice.below(org_count as u64 - 1) as usize;
            if buyer == seller_index { 1 + buyer % (org_count - 1) } else { buyer }
        };
        let (buyer, seller) = (&orgs[buyer_index], &orgs[seller_index]);
        let agency = (dice.below(5) == 0).then(|| &orgs[7 * dice.below((org_count as u64).div_ceil(7)) as usize]);
        // Agreed at a discount of up to 30% off the asking price.
        let amount = (price / 100 * (70 + dice.below(31) as i64)).max(100_000);
        let signed = day_in(&mut dice, plan.year, today);
        let (agreed_at, contracted_at) = (at(signed, &mut dice), at(signed, &mut dice));
        let registered_on = (signed + chrono::TimeDelta::days(dice.below(20) as i64)).min(today);
        let registered_at = at(registered_on, &mut dice);
        let paid_on = (registered_on + chrono::TimeDelta::days(dice.below(30) as i64)).min(today);
        let paid_at = at(paid_on, &mut dice);
        let id = format!("bench-deal-{k:06}");
        let offer_id = format!("bench-offer-{k:06}");
        let non_technical = if dice.below(3) == 0 { amount / 10 } else { 0 };
        deals::insert_deal(
            conn,
            &Deal {
                id: id.clone(),
                listing_id: listing_ids[listing].clone(),
                demand_id: None,
                buyer_organization_id: buyer.id.clone(),
                seller_organization_id: seller.id.clone(),
                agency_organization_id: agency.map(|a| a.id.clone()),
                status: "completed".into(),
                agreed_offer_id: Some(offer_id.clone()),
                created_by: buyer.user_id.clone(),
                agreed_at: Some(agreed_at),
                contracted_at: Some(contracted_at),
                registered_at: Some(registered_at),
                completed_at: Some(paid_at),
                cancelled_at: None,
                cancel_reason: None,
                created_at: agreed_at,
                updated_at: paid_at,
                version: 5,
                agency_status: agency.map(|_| techtrade_db::deals::ACCEPTED.to_string()),
                terminated_on: None,
                termination_reason: None,
            },
        )?;
        deals::insert_offer(
            conn,
            &Offer {
                id: offer_id,
                deal_id: id.clone(),
                sequence: 1,
                organization_id: buyer.id.clone(),
                created_by: buyer.user_id.clone(),
                amount_fen: amount,
                trade_mode: trade_mode.as_str().to_string(),
                terms: "按合同约定一次性付款".into(),
                created_at: agreed_at,
            },
        )?;
        deals::save_contract(
            conn,
            &Contract {
                id: format!("bench-contract-{k:06}"),
                deal_id: id.clone(),
                category: CATEGORIES[dice.below(CATEGORIES.len() as u64) as usize].into(),
                trade_mode: trade_mode.as_str().to_string(),
                total_amount_fen: amount,
                non_technical_amount_fen: non_technical,
                technology_amount_fen: amount - non_technical,
                signed_on: signed,
                related_party: dice.below(20) == 0,
                created_by: seller.user_id.clone(),
                created_at: contracted_at,
            },
        )?;
        // Numbers as the registration office issues them: the year, the
        // seller's prefecture, the office, a serial per prefix.
        let region: String = seller.region.chars().take(4).collect();
        let prefix = RegistrationNumber::prefix(NumberFormat::default(), &region, "01", registered_on)
            .map_err(|e| anyhow::anyhow!("registration prefix: {e}"))?;
        let serial = serials.entry(prefix.clone()).or_insert(0);
        *serial += 1;
        let number = RegistrationNumber::new(&prefix, *serial).map_err(|e| anyhow::anyhow!("{e}"))?;
        deals::insert_registration(
            conn,
            &Registration {
                id: format!("bench-registration-{k:06}"),
                deal_id: id.clone(),
                decision: "register".into(),
                registration_number: Some(number.as_str().to_string()),
                registered_technology_amount_fen: Some(amount - non_technical),
                reason: None,
                official_id: officials[0].to_string(),
                created_at: registered_at,
            },
        )?;
        deals::insert_payment(
            conn,
            &Payment {
                id: format!("bench-payment-{k:06}"),
                deal_id: id,
                method: "offline".into(),
                status: "confirmed".into(),
                amount_fen: amount,
                paid_on: Some(paid_on),
                reference: Some(format!("BENCH-{k:06}")),
                stripe_payment_intent_id: None,
                failure_reason: None,
                created_by: buyer.user_id.clone(),
                confirmed_by: Some(seller.user_id.clone()),
                confirmed_at: Some(paid_at),
                refunded_at: None,
                created_at: paid_at,
                updated_at: paid_at,
                version: 2,
                refunded_amount_fen: 0,
            },
        )?;
        Ok(())
    })?;
    // The serials the server continues from, so its next number is new.
    write_transaction(conn, |conn| {
        use diesel::prelude::*;
        use techtrade_db::schema::registration_serials as rs;
        for (prefix, last) in &serials {
            diesel::insert_into(rs::table).values((rs::prefix.eq(prefix), rs::last_serial.eq(*last))).execute(conn)?;
        }
        Ok::<_, anyhow::Error>(())
    })?;
    timings.push((format!("{} deals (offer, contract, registration, payment)", plan.deals), started.elapsed()));

    // Claims approved at both levels, waiting for the round to close.
    let started = Instant::now();
    let roles = ["buyer", "seller", "agency"];
    batches(conn, plan.claims, |conn, c| {
        let org = &orgs[c / 3];
        let id = format!("bench-claim-{c:05}");
        // 1万 to 50万 yuan each: far over the budget, so the close pro-rates.
        let amount = (10_000 + dice.below(490_000) as i64) * 100;
        let submitted = at(day_in(&mut dice, plan.year, today), &mut dice);
        let calculation = serde_json::json!({
            "eligible": true, "amount_fen": amount, "lines": [], "ineligible": [],
            "explanation": "generated by techtrade-bench",
        });
        subsidy::insert_claim(
            conn,
            &SubsidyClaim {
                id: id.clone(),
                program_id: ROUND_PROGRAM.into(),
                year: plan.year,
                role: roles[c % 3].into(),
                organization_id: org.id.clone(),
                status: "approved".into(),
                computed_amount_fen: amount,
                approved_amount_fen: Some(amount),
                final_amount_fen: None,
                calculation: calculation.to_string(),
                policy_digest: "bench".into(),
                submitted_by: org.user_id.clone(),
                submitted_at: submitted,
                updated_at: submitted,
                version: 3,
                status_reason: None,
            },
        )?;
        for (level, reviewer) in [(1, officials[0]), (2, officials[1])] {
            subsidy::insert_review(
                conn,
                &ClaimReview {
                    id: format!("{id}-review-{level}"),
                    claim_id: id.clone(),
                    level,
                    reviewer_id: reviewer.into(),
                    decision: "approve".into(),
                    amount_fen: None,
                    reason: Some("符合条件".into()),
                    created_at: submitted,
                },
            )?;
        }
        Ok(())
    })?;
    timings.push((format!("{} approved claims", plan.claims), started.elapsed()));

    Ok(DataSet {
        listing_ids,
        demand_ids,
        preview_email: member_emails[0].clone(),
        member_emails,
        official_email: "official1@bench.invalid".into(),
        titles,
        timings,
    })
}

fn user(id: &str, organization: Option<&str>, email: &str, role: &str, hash: &str) -> User {
    let t = now();
    User {
        id: id.to_string(),
        organization_id: organization.map(str::to_string),
        email: email.to_string(),
        name: format!("测试用户{}", id.rsplit('-').next().unwrap_or(id)),
        password_hash: hash.to_string(),
        role: role.to_string(),
        locale: "zh-CN".into(),
        disabled_at: None,
        created_at: t,
        updated_at: t,
        version: 1,
        organization_role: "member".into(),
        password_changed_at: None,
        must_change_password: false,
    }
}

/// Gives a resampled record its own identity: a new application number
/// (unique: the serial is the listing's index), no publication number (the
/// real one belongs to the original), and its own region, price, maturity
/// and trade modes — the seed derives those from the publication number,
/// which would make the copies of one record identical.
fn resample(valid: &mut ValidListing, dice: &mut Dice, i: usize) -> Result<()> {
    for patent in &mut valid.patents {
        let year = patent.filing_date.year();
        let type_digit = match patent.patent_type {
            PatentType::Invention => 1,
            PatentType::UtilityModel => 2,
            PatentType::Design => 3,
        };
        patent.application_number = ApplicationNumber::complete(&format!("{year}{type_digit}{i:07}"))
            .map_err(|e| anyhow::anyhow!("application number of listing {i}: {e}"))?;
        patent.publication_number = None;
    }
    valid.region_code =
        RegionCode::parse(REGIONS[dice.below(REGIONS.len() as u64) as usize]).map_err(|e| anyhow::anyhow!("{e}"))?;
    valid.maturity = Maturity::ALL[dice.below(Maturity::ALL.len() as u64) as usize];
    let mut modes = vec![TradeMode::ALL[dice.below(TradeMode::ALL.len() as u64) as usize]];
    if dice.below(2) == 0 {
        let second = TradeMode::ALL[dice.below(TradeMode::ALL.len() as u64) as usize];
        if !modes.contains(&second) {
            modes.push(second);
        }
    }
    modes.sort();
    valid.trade_modes = modes;
    valid.negotiable = dice.below(4) == 0;
    valid.price = if valid.negotiable {
        None
    } else {
        Some(Money::from_fen((50 + dice.below(4_950) as i64) * 100_000).map_err(|e| anyhow::anyhow!("{e}"))?)
    };
    Ok(())
}

/// A demand in the field of a real patent: its title names the technology,
/// its IPC subclasses are the record's.
fn demand_request(record: &PatentRecord, dice: &mut Dice) -> DemandRequest {
    let topic: String = record.title.trim_start_matches("一种").chars().take(40).collect();
    let min = (5 + dice.below(100) as i64) * 1_000_000;
    let budget = dice.below(3) != 0;
    DemandRequest {
        title: format!("寻求{topic}技术"),
        description: format!("我单位寻求{topic}相关技术，可转让或合作开发，要求具备中试或产业化条件。"),
        // Subclasses only: some records carry CPC groups that IPC lacks.
        ipc: {
            let mut subclasses: Vec<String> =
                record.codes.iter().filter_map(|c| c.get(..4)).map(str::to_string).collect();
            subclasses.dedup();
            subclasses.truncate(2);
            subclasses
        },
        budget_min_fen: budget.then_some(min),
        budget_max_fen: budget.then_some(min * 3),
        negotiable: !budget,
        trade_modes: vec![TradeMode::ALL[dice.below(TradeMode::ALL.len() as u64) as usize]],
        region_code: REGIONS[dice.below(REGIONS.len() as u64) as usize].to_string(),
        deadline: None,
    }
}

/// Zipf's law with s = 1 over `n` ranks: rank k (0-based) is drawn with
/// weight 1/(k+1), by inverting the cumulative weights.
pub struct Zipf {
    cumulative: Vec<f64>,
}

impl Zipf {
    pub fn new(n: usize) -> Self {
        let mut total = 0.0;
        let cumulative = (1..=n.max(1))
            .map(|k| {
                total += 1.0 / k as f64;
                total
            })
            .collect();
        Self { cumulative }
    }

    /// A rank in `0..n`.
    pub fn sample(&self, dice: &mut Dice) -> usize {
        let total = self.cumulative.last().copied().unwrap_or(1.0);
        let u = dice.below(1 << 53) as f64 / (1u64 << 53) as f64 * total;
        self.cumulative.partition_point(|&c| c <= u).min(self.cumulative.len() - 1)
    }
}

#[cfg(test)]
mod zipf_tests {
    use super::*;

    #[test]
    fn the_first_ranks_are_drawn_as_often_as_zipf_says() {
        let zipf = Zipf::new(100_000);
        let mut dice = Dice::for_key("zipf");
        let draws: Vec<usize> = (0..200_000).map(|_| zipf.sample(&mut dice)).collect();
        // H(100000) ≈ 12.09: rank 0 takes 1/12.09 ≈ 8.3 %, the first 10,000 ≈ 81 %.
        let share = |pred: &dyn Fn(usize) -> bool| draws.iter().filter(|&&r| pred(r)).count() as f64 / 2e5;
        assert!((share(&|r| r == 0) - 0.0827).abs() < 0.005);
        assert!((share(&|r| r < 10_000) - 0.809).abs() < 0.01);
        assert!(draws.iter().all(|&r| r < 100_000));
    }
}
