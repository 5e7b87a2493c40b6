//! The demo market: real Chinese patent records as the listings of five demo
//! organisations, a member of each and an official who can sign in, and
//! five demands. `techtrade seed --demo` loads it into any database;
//! `techtrade serve --demo` loads it into an empty one before serving and
//! leaves a database alone that already holds it.

use std::path::Path;
use std::time::Instant;

use techtrade_accounts::{NewUser, PasswordHasher};
use techtrade_db::Database;
use techtrade_db::accounts::Organization;
use techtrade_domain::Role;
use techtrade_listings::seed::{self, Holding, PatentRecord};

use crate::cli::Failure;

/// The demo accounts' password unless `--password` (or `--demo-password`) says otherwise.
pub(crate) const DEFAULT_PASSWORD: &str = "Techtrade-demo";

/// The records the demo loads: those built into the binary, or the two
/// files of `source`.
pub(crate) fn records(source: Option<&Path>) -> Result<Vec<PatentRecord>, Failure> {
    match source {
        None => seed::bundled_records().map_err(Failure::failed),
        Some(dir) => seed::read_records(dir).map_err(|e| {
            Failure::usage(format!("{e} (--source is a folder with {} and {})", seed::CSV_FILE, seed::ABSTRACTS_FILE))
        }),
    }
}

/// One account of the demo, for telling people how to sign in.
#[derive(Debug, Clone)]
pub(crate) struct DemoAccount {
    pub email: String,
    pub role: Role,
    /// The organisation's name; none for the staff.
    pub organization: Option<String>,
}

/// What a load did.
#[derive(Debug)]
pub(crate) struct Loaded {
    pub accounts: Vec<DemoAccount>,
    pub organizations_created: usize,
    pub accounts_created: usize,
    pub listings: seed::SeedReport,
    pub demands_created: usize,
    pub demands_existing: usize,
}

/// What the database holds, as far as the demo (of `listings` listings) is concerned.
pub(crate) async fn holding(db: &Database, listings: usize) -> Result<Holding, Failure> {
    db.run(move |conn| seed::holding(conn, listings).map_err(Failure::failed)).await
}

/// Loads the demo into `db` (already migrated). Whatever is there already
/// (matched by id and e-mail) is left as it is, so a second load adds
/// nothing and an interrupted one is completed.
pub(crate) async fn load(
    db: &Database,
    hasher: &PasswordHasher,
    records: Vec<PatentRecord>,
    password: &str,
) -> Result<Loaded, Failure> {
    let (organizations, organizations_created) =
        db.run(|conn| seed::ensure_organizations(conn).map_err(Failure::failed)).await?;

    let wanted = planned_accounts(&organizations, password);
    let mut accounts = Vec::new();
    let mut owners = Vec::new();
    let mut accounts_created = 0;
    for (input, account) in wanted {
        let email = input.email.clone();
        let existing = db
            .run(move |conn| techtrade_db::accounts::find_user_by_email(conn, &email).map_err(Failure::failed))
            .await?;
        let user = match existing {
            Some(user) => user,
            None => {
                accounts_created += 1;
                techtrade_accounts::create_user(db, hasher, input, None, None).await.map_err(Failure::failed)?
            }
        };
        if account.role == Role::Member
            && let Some(organization_id) = user.organization_id
        {
            owners.push(seed::Owner { organization_id, user_id: user.id });
        }
        accounts.push(account);
    }

    let (listings, (demands_created, demands_existing)) = db
        .run(move |conn| {
            let mut progress = crate::progress::Progress::start("listings", records.len() as u64);
            let listings = seed::load_listings(conn, &records, &owners, |done, _| progress.update(done as u64));
            progress.finish();
            let listings = listings.map_err(Failure::failed)?;
            let demands = seed::load_demands(conn, &owners).map_err(Failure::failed)?;
            Ok::<_, Failure>((listings, demands))
        })
        .await?;
    Ok(Loaded { accounts, organizations_created, accounts_created, listings, demands_created, demands_existing })
}

/// `techtrade seed --demo`.
pub(crate) async fn seed(
    db: &Database,
    hasher: &PasswordHasher,
    source: Option<&Path>,
    password: &str,
) -> Result<(), Failure> {
    let started = Instant::now();
    let records = records(source)?;
    let loaded = load(db, hasher, records, password).await?;
    let organizations = loaded.accounts.iter().filter(|a| a.organization.is_some()).count();
    println!(
        "seeded in {:.1?}: {organizations} organisations ({} new), {} accounts ({} new), {} listings new, \
         {} already there, {} demands new, {} already there{}",
        started.elapsed(),
        loaded.organizations_created,
        loaded.accounts.len(),
        loaded.accounts_created,
        loaded.listings.listings_created,
        loaded.listings.listings_existing,
        loaded.demands_created,
        loaded.demands_existing,
        if loaded.listings.codes_dropped > 0 {
            format!(", {} non-IPC codes left out", loaded.listings.codes_dropped)
        } else {
            String::new()
        },
    );
    print!("{}", accounts_text(&loaded.accounts, "the password given with --password"));
    Ok(())
}

/// `techtrade serve --demo`, before the server starts: loads the demo into
/// an empty database, completes an interrupted load, leaves a complete one
/// alone, and refuses a database that holds somebody else's data. The
/// accounts, for the start-up message.
pub(crate) async fn prepare_for_serving(
    db: &Database,
    hasher: &PasswordHasher,
    password: &str,
) -> Result<Vec<DemoAccount>, Failure> {
    let records = records(None)?;
    match holding(db, records.len()).await? {
        Holding::Other { organizations, users } => Err(Failure::usage(format!(
            "--demo loads the demo market into an empty database, and this one holds {organizations} \
             organisation(s) and {users} account(s) of its own: serve it without --demo, or point \
             database.url at a new database"
        ))),
        Holding::Demo { complete: true } => {
            tracing::info!("the demo market is already loaded");
            demo_accounts()
        }
        Holding::Nothing | Holding::Demo { complete: false } => {
            let started = Instant::now();
            let loaded = load(db, hasher, records, password).await?;
            tracing::info!(
                listings = loaded.listings.listings_created,
                demands = loaded.demands_created,
                accounts = loaded.accounts_created,
                elapsed_ms = started.elapsed().as_millis() as u64,
                "loaded the demo market"
            );
            Ok(loaded.accounts)
        }
    }
}

/// The demo's accounts: a member of each organisation, two officials of
/// the department (a claim's two levels need two), and the three separated
/// duties (system administrator, security administrator, auditor), each
/// with what to create it from.
fn planned_accounts(organizations: &[Organization], password: &str) -> Vec<(NewUser, DemoAccount)> {
    let members = organizations.iter().enumerate().map(|(i, organization)| {
        let input = NewUser {
            email: seed::demo_member_email(i + 1),
            password: password.to_string(),
            name: format!("示例成员{}", i + 1),
            role: Role::Member,
            organization_id: Some(organization.id.clone()),
            must_change_password: false,
        };
        let account = DemoAccount {
            email: input.email.clone(),
            role: Role::Member,
            organization: Some(organization.name.clone()),
        };
        (input, account)
    });
    let staff = [
        (seed::DEMO_OFFICIAL_EMAIL, "示例科技厅审核员", Role::Official),
        (seed::DEMO_REVIEWER_EMAIL, "示例科技厅复审员", Role::Official),
        (seed::DEMO_ADMIN_EMAIL, "示例系统管理员", Role::Admin),
        (seed::DEMO_SECADMIN_EMAIL, "示例安全管理员", Role::SecurityAdmin),
        (seed::DEMO_AUDITOR_EMAIL, "示例安全审计员", Role::Auditor),
    ]
    .into_iter()
    .map(|(email, name, role)| {
        let input = NewUser {
            email: email.to_string(),
            password: password.to_string(),
            name: name.to_string(),
            role,
            organization_id: None,
            must_change_password: false,
        };
        (input, DemoAccount { email: email.to_string(), role, organization: None })
    });
    members.chain(staff).collect()
}

/// The accounts of a demo already loaded.
fn demo_accounts() -> Result<Vec<DemoAccount>, Failure> {
    let organizations = seed::demo_organizations().map_err(Failure::failed)?;
    Ok(planned_accounts(&organizations, "").into_iter().map(|(_, account)| account).collect())
}

/// The accounts, one per line, for people reading a terminal.
pub(crate) fn accounts_text(accounts: &[DemoAccount], password: &str) -> String {
    let mut text = format!("demo accounts (password: {password}):\n");
    for account in accounts {
        let what = match (&account.role, &account.organization) {
            (Role::Official, _) => "official of the science and technology department".to_string(),
            (Role::Admin, _) => "system administrator (creates officials)".to_string(),
            (Role::SecurityAdmin, _) => "security administrator (auditors, lock-outs, roles)".to_string(),
            (Role::Auditor, _) => "auditor (reads the audit log)".to_string(),
            (_, Some(organization)) => format!("member of {organization}"),
            (_, None) => account.role.as_str().to_string(),
        };
        text.push_str(&format!("  {:<28} {what}\n", account.email));
    }
    text
}
