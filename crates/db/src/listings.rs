//! Rows and queries of the listings service: supply listings with their
//! patents, demands, and officials' moderation decisions.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::connection::AnyConnection;
use crate::one_of::one_of;
use crate::schema::{demands, listing_patents, listings, moderation_reviews, organizations};

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = listings, check_for_backend(crate::MultiBackend), treat_none_as_null = true)]
pub struct Listing {
    pub id: String,
    pub owner_organization_id: String,
    pub created_by: String,
    pub kind: String,
    pub status: String,
    pub title: String,
    pub summary: String,
    pub description: Option<String>,
    /// JSON array of canonical IPC codes.
    pub ipc_codes: String,
    pub maturity: String,
    /// JSON array of trade modes.
    pub trade_modes: String,
    pub price_fen: Option<i64>,
    pub negotiable: bool,
    pub region_code: String,
    pub review_reason: Option<String>,
    pub submitted_at: Option<NaiveDateTime>,
    pub published_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub version: i64,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = listing_patents, check_for_backend(crate::MultiBackend))]
pub struct ListingPatent {
    pub id: String,
    pub listing_id: String,
    pub position: i32,
    pub application_number: String,
    pub publication_number: Option<String>,
    pub patent_type: String,
    pub title: String,
    pub filing_date: chrono::NaiveDate,
    pub grant_date: Option<chrono::NaiveDate>,
    pub legal_status: String,
    pub expires_on: chrono::NaiveDate,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = demands, check_for_backend(crate::MultiBackend), treat_none_as_null = true)]
pub struct Demand {
    pub id: String,
    pub owner_organization_id: String,
    pub created_by: String,
    pub status: String,
    pub title: String,
    pub description: String,
    pub ipc_codes: String,
    pub budget_min_fen: Option<i64>,
    pub budget_max_fen: Option<i64>,
    pub negotiable: bool,
    pub trade_modes: String,
    pub region_code: String,
    pub deadline: Option<chrono::NaiveDate>,
    pub review_reason: Option<String>,
    pub submitted_at: Option<NaiveDateTime>,
    pub published_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub version: i64,
}

/// What matching weighs of a listing, without its text: a hundred
/// candidates are read for every match and twenty are shown, and decoding
/// the whole row (its text, four timestamps) was most of reading one.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable)]
#[diesel(table_name = listings, check_for_backend(crate::MultiBackend))]
pub struct ListingTerms {
    pub id: String,
    pub status: String,
    pub published_at: Option<NaiveDateTime>,
    pub ipc_codes: String,
    pub maturity: String,
    pub trade_modes: String,
    pub price_fen: Option<i64>,
    pub negotiable: bool,
    pub region_code: String,
}

impl From<&Listing> for ListingTerms {
    fn from(listing: &Listing) -> Self {
        Self {
            id: listing.id.clone(),
            status: listing.status.clone(),
            published_at: listing.published_at,
            ipc_codes: listing.ipc_codes.clone(),
            maturity: listing.maturity.clone(),
            trade_modes: listing.trade_modes.clone(),
            price_fen: listing.price_fen,
            negotiable: listing.negotiable,
            region_code: listing.region_code.clone(),
        }
    }
}

/// What matching weighs of a demand, without its text (see [`ListingTerms`]).
#[derive(Debug, Clone, PartialEq, Queryable, Selectable)]
#[diesel(table_name = demands, check_for_backend(crate::MultiBackend))]
pub struct DemandTerms {
    pub id: String,
    pub status: String,
    pub published_at: Option<NaiveDateTime>,
    pub ipc_codes: String,
    pub budget_min_fen: Option<i64>,
    pub budget_max_fen: Option<i64>,
    pub negotiable: bool,
    pub trade_modes: String,
    pub region_code: String,
}

impl From<&Demand> for DemandTerms {
    fn from(demand: &Demand) -> Self {
        Self {
            id: demand.id.clone(),
            status: demand.status.clone(),
            published_at: demand.published_at,
            ipc_codes: demand.ipc_codes.clone(),
            budget_min_fen: demand.budget_min_fen,
            budget_max_fen: demand.budget_max_fen,
            negotiable: demand.negotiable,
            trade_modes: demand.trade_modes.clone(),
            region_code: demand.region_code.clone(),
        }
    }
}

/// The status of an item that is matched, searched and shown to anyone.
const PUBLISHED: &str = "published";

/// Separates the text fields of [`PackedTerms`]: a control character that
/// IPC codes, regions and maturities never hold and JSON always escapes.
const UNIT: char = '\u{1f}';

/// A published item's terms ([`ListingTerms`] or [`DemandTerms`] without
/// its id and status) packed to be kept in memory for every published
/// item: its four text fields in one allocation, about 300 bytes with its
/// cache entry (measured: 32 MB for 110k items) where the row's nine
/// fields would take twice that.
#[derive(Debug, Clone, PartialEq)]
pub struct PackedTerms {
    published_at: Option<NaiveDateTime>,
    /// A listing's price (and nothing); a demand's budget floor and ceiling.
    amounts: [Option<i64>; 2],
    negotiable: bool,
    /// IPC codes, trade modes, region and (a listing's) maturity, in that
    /// order, each followed by [`UNIT`].
    text: Box<str>,
}

impl PackedTerms {
    fn new(published_at: Option<NaiveDateTime>, amounts: [Option<i64>; 2], negotiable: bool, fields: &[&str]) -> Self {
        let mut text = String::with_capacity(fields.iter().map(|f| f.len() + 1).sum());
        for field in fields {
            text.push_str(field);
            text.push(UNIT);
        }
        Self { published_at, amounts, negotiable, text: text.into_boxed_str() }
    }

    /// The text fields in the order they were packed.
    fn fields(&self) -> impl Iterator<Item = String> + '_ {
        self.text.split_terminator(UNIT).map(str::to_string)
    }
}

impl ListingTerms {
    /// Its terms packed; `None` unless it is published (only published
    /// items are matched).
    pub fn pack(&self) -> Option<PackedTerms> {
        (self.status == PUBLISHED).then(|| {
            let fields = [self.ipc_codes.as_str(), &self.trade_modes, &self.region_code, &self.maturity];
            PackedTerms::new(self.published_at, [self.price_fen, None], self.negotiable, &fields)
        })
    }

    /// The published listing `id` whose terms were packed.
    pub fn unpack(id: &str, packed: &PackedTerms) -> Self {
        let mut fields = packed.fields();
        let mut next = || fields.next().unwrap_or_default();
        Self {
            id: id.to_string(),
            status: PUBLISHED.to_string(),
            published_at: packed.published_at,
            ipc_codes: next(),
            trade_modes: next(),
            region_code: next(),
            maturity: next(),
            price_fen: packed.amounts[0],
            negotiable: packed.negotiable,
        }
    }
}

impl DemandTerms {
    /// Its terms packed; `None` unless it is published.
    pub fn pack(&self) -> Option<PackedTerms> {
        (self.status == PUBLISHED).then(|| {
            let fields = [self.ipc_codes.as_str(), &self.trade_modes, &self.region_code];
            let amounts = [self.budget_min_fen, self.budget_max_fen];
            PackedTerms::new(self.published_at, amounts, self.negotiable, &fields)
        })
    }

    /// The published demand `id` whose terms were packed.
    pub fn unpack(id: &str, packed: &PackedTerms) -> Self {
        let mut fields = packed.fields();
        let mut next = || fields.next().unwrap_or_default();
        Self {
            id: id.to_string(),
            status: PUBLISHED.to_string(),
            published_at: packed.published_at,
            ipc_codes: next(),
            trade_modes: next(),
            region_code: next(),
            budget_min_fen: packed.amounts[0],
            budget_max_fen: packed.amounts[1],
            negotiable: packed.negotiable,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = moderation_reviews, check_for_backend(crate::MultiBackend))]
pub struct ModerationReview {
    pub id: String,
    pub subject_type: String,
    pub subject_id: String,
    pub reviewer_id: String,
    pub decision: String,
    pub reason: Option<String>,
    pub created_at: NaiveDateTime,
}

pub fn insert_listing(conn: &mut AnyConnection, listing: &Listing, patents: &[ListingPatent]) -> QueryResult<()> {
    diesel::insert_into(listings::table).values(listing).execute(conn)?;
    // MultiConnection has no batch insert; one row at a time.
    for patent in patents {
        diesel::insert_into(listing_patents::table).values(patent).execute(conn)?;
    }
    Ok(())
}

pub fn find_listing(conn: &mut AnyConnection, id: &str) -> QueryResult<Option<Listing>> {
    listings::table.find(id).select(Listing::as_select()).get_result(conn).optional()
}

/// Takes the listing's row lock (PostgreSQL; a SQLite write transaction
/// holds the database). The first lock of the lock order: a change to a
/// listing, or to a deal on it, takes it before anything else.
pub fn lock_listing(conn: &mut AnyConnection, id: &str) -> QueryResult<()> {
    if let AnyConnection::Postgresql(pg) = conn {
        diesel::sql_query("SELECT 1 FROM listings WHERE id = $1 FOR UPDATE")
            .bind::<diesel::sql_types::Text, _>(id)
            .execute(pg)?;
    }
    Ok(())
}

pub fn listing_exists(conn: &mut AnyConnection, id: &str) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(listings::table.find(id))).get_result(conn)
}

pub fn patents_of(conn: &mut AnyConnection, listing_id: &str) -> QueryResult<Vec<ListingPatent>> {
    listing_patents::table
        .filter(listing_patents::listing_id.eq(listing_id))
        .order(listing_patents::position.asc())
        .select(ListingPatent::as_select())
        .load(conn)
}

/// The patents of several listings, in listing then position order.
pub fn patents_of_many(conn: &mut AnyConnection, listing_ids: &[String]) -> QueryResult<Vec<ListingPatent>> {
    listing_patents::table
        .filter(one_of(listing_patents::listing_id, listing_ids))
        .order((listing_patents::listing_id.asc(), listing_patents::position.asc()))
        .select(ListingPatent::as_select())
        .load(conn)
}

/// Writes `listing` over the stored row when the stored version is
/// `expected_version` (then bumped); `false` when someone changed it first.
pub fn update_listing(conn: &mut AnyConnection, listing: &Listing, expected_version: i64) -> QueryResult<bool> {
    let updated = diesel::update(listings::table.find(&listing.id))
        .filter(listings::version.eq(expected_version))
        .set(listing)
        .execute(conn)?;
    Ok(updated == 1)
}

pub fn replace_patents(conn: &mut AnyConnection, listing_id: &str, patents: &[ListingPatent]) -> QueryResult<()> {
    diesel::delete(listing_patents::table.filter(listing_patents::listing_id.eq(listing_id))).execute(conn)?;
    for patent in patents {
        diesel::insert_into(listing_patents::table).values(patent).execute(conn)?;
    }
    Ok(())
}

pub fn insert_demand(conn: &mut AnyConnection, demand: &Demand) -> QueryResult<()> {
    diesel::insert_into(demands::table).values(demand).execute(conn).map(drop)
}

pub fn find_demand(conn: &mut AnyConnection, id: &str) -> QueryResult<Option<Demand>> {
    demands::table.find(id).select(Demand::as_select()).get_result(conn).optional()
}

pub fn update_demand(conn: &mut AnyConnection, demand: &Demand, expected_version: i64) -> QueryResult<bool> {
    let updated = diesel::update(demands::table.find(&demand.id))
        .filter(demands::version.eq(expected_version))
        .set(demand)
        .execute(conn)?;
    Ok(updated == 1)
}

pub fn insert_review(conn: &mut AnyConnection, review: &ModerationReview) -> QueryResult<()> {
    diesel::insert_into(moderation_reviews::table).values(review).execute(conn).map(drop)
}

pub fn reviews_of(
    conn: &mut AnyConnection,
    subject_type: &str,
    subject_id: &str,
) -> QueryResult<Vec<ModerationReview>> {
    moderation_reviews::table
        .filter(moderation_reviews::subject_type.eq(subject_type))
        .filter(moderation_reviews::subject_id.eq(subject_id))
        .order(moderation_reviews::created_at.asc())
        .select(ModerationReview::as_select())
        .load(conn)
}

/// Which listings or demands a list request wants.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    pub owner_organization_id: Option<String>,
    pub statuses: Vec<String>,
    pub kind: Option<String>,
    /// Oldest submission first (a review queue) instead of newest change first.
    pub queue_order: bool,
    pub offset: i64,
    pub limit: i64,
}

macro_rules! filtered {
    ($table:ident, $filter:expr) => {{
        let filter = $filter;
        let mut query = $table::table.into_boxed();
        if let Some(owner) = &filter.owner_organization_id {
            query = query.filter($table::owner_organization_id.eq(owner.clone()));
        }
        if !filter.statuses.is_empty() {
            query = query.filter($table::status.eq_any(filter.statuses.clone()));
        }
        query
    }};
}

pub fn list_listings(conn: &mut AnyConnection, filter: &ListFilter) -> QueryResult<(Vec<Listing>, i64)> {
    let with_kind = |query: listings::BoxedQuery<'static, crate::MultiBackend>| match &filter.kind {
        Some(kind) => query.filter(listings::kind.eq(kind.clone())),
        None => query,
    };
    let total = with_kind(filtered!(listings, filter)).count().get_result(conn)?;
    let query = with_kind(filtered!(listings, filter));
    let query = if filter.queue_order {
        query.order((listings::submitted_at.asc(), listings::id.asc()))
    } else {
        query.order((listings::updated_at.desc(), listings::id.desc()))
    };
    let items = query.offset(filter.offset).limit(filter.limit).select(Listing::as_select()).load(conn)?;
    Ok((items, total))
}

pub fn list_demands(conn: &mut AnyConnection, filter: &ListFilter) -> QueryResult<(Vec<Demand>, i64)> {
    let total = filtered!(demands, filter).count().get_result(conn)?;
    let query = filtered!(demands, filter);
    let query = if filter.queue_order {
        query.order((demands::submitted_at.asc(), demands::id.asc()))
    } else {
        query.order((demands::updated_at.desc(), demands::id.desc()))
    };
    let items = query.offset(filter.offset).limit(filter.limit).select(Demand::as_select()).load(conn)?;
    Ok((items, total))
}

/// Organisation names by id, for showing who offers what.
pub fn organization_names(conn: &mut AnyConnection, ids: &[String]) -> QueryResult<Vec<(String, String)>> {
    organizations::table
        .filter(one_of(organizations::id, ids))
        .select((organizations::id, organizations::name))
        .load(conn)
}

/// How many listings there are (all statuses).
pub fn count_listings(conn: &mut AnyConnection) -> QueryResult<i64> {
    listings::table.count().get_result(conn)
}

/// How many listings have an id starting with `prefix` (the demo's are `demo-…`).
pub fn count_listings_with_id_prefix(conn: &mut AnyConnection, prefix: &str) -> QueryResult<i64> {
    listings::table.filter(listings::id.like(format!("{prefix}%"))).count().get_result(conn)
}

/// Published rows of `$table` as `$row` with ids after `after_id`, in id
/// order: for going through every published item page by page (rebuilding
/// a search index, filling the published cache).
macro_rules! published_after {
    ($name:ident, $table:ident, $row:ty) => {
        pub fn $name(conn: &mut AnyConnection, after_id: &str, limit: i64) -> QueryResult<Vec<$row>> {
            $table::table
                .filter($table::status.eq(PUBLISHED))
                .filter($table::id.gt(after_id))
                .order($table::id.asc())
                .limit(limit)
                .select(<$row>::as_select())
                .load(conn)
        }
    };
}
published_after!(published_listings_after, listings, Listing);
published_after!(published_demands_after, demands, Demand);
published_after!(published_listing_terms_after, listings, ListingTerms);
published_after!(published_demand_terms_after, demands, DemandTerms);

pub fn find_listings(conn: &mut AnyConnection, ids: &[String]) -> QueryResult<Vec<Listing>> {
    listings::table.filter(one_of(listings::id, ids)).select(Listing::as_select()).load(conn)
}

pub fn find_demands(conn: &mut AnyConnection, ids: &[String]) -> QueryResult<Vec<Demand>> {
    demands::table.filter(one_of(demands::id, ids)).select(Demand::as_select()).load(conn)
}

pub fn find_listing_terms(conn: &mut AnyConnection, ids: &[String]) -> QueryResult<Vec<ListingTerms>> {
    listings::table.filter(one_of(listings::id, ids)).select(ListingTerms::as_select()).load(conn)
}

pub fn find_demand_terms(conn: &mut AnyConnection, ids: &[String]) -> QueryResult<Vec<DemandTerms>> {
    demands::table.filter(one_of(demands::id, ids)).select(DemandTerms::as_select()).load(conn)
}

/// Published listings and demands together: what a search index holds.
pub fn count_published(conn: &mut AnyConnection) -> QueryResult<i64> {
    let listings: i64 = listings::table.filter(listings::status.eq(PUBLISHED)).count().get_result(conn)?;
    let demands: i64 = demands::table.filter(demands::status.eq(PUBLISHED)).count().get_result(conn)?;
    Ok(listings + demands)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounts::{Organization, User, insert_organization, insert_user};
    use crate::testing::TestDatabase;

    /// The terms read alone are the terms of the whole row, for every
    /// column matching weighs, set and unset.
    fn terms_are_the_rows_terms(database: TestDatabase) {
        let mut conn = database.connect();
        let now = crate::now();
        let organization = Organization {
            id: "org".into(),
            name: "青海盐湖研究所".into(),
            kind: "institute".into(),
            credit_code: "12630000MB1234567X".into(),
            region_code: "630100".into(),
            created_at: now,
            updated_at: now,
            version: 1,
        };
        insert_organization(&mut conn, &organization).unwrap();
        let user = User {
            id: "user".into(),
            organization_id: Some("org".into()),
            email: "ip@example.cn".into(),
            name: "知识产权专员".into(),
            password_hash: "x".into(),
            role: "member".into(),
            locale: "zh-CN".into(),
            disabled_at: None,
            created_at: now,
            updated_at: now,
            version: 1,
            organization_role: "admin".into(),
            password_changed_at: None,
            must_change_password: false,
        };
        insert_user(&mut conn, &user).unwrap();
        let listing = |id: &str, price_fen, negotiable, published_at| Listing {
            id: id.into(),
            owner_organization_id: "org".into(),
            created_by: "user".into(),
            kind: "patent".into(),
            status: "published".into(),
            title: "锂电池回收".into(),
            summary: "回收".into(),
            description: Some("说明".into()),
            ipc_codes: r#"["H01M10/54","C22B7/00"]"#.into(),
            maturity: "pilot".into(),
            trade_modes: r#"["transfer","license"]"#.into(),
            price_fen,
            negotiable,
            region_code: "630104".into(),
            review_reason: None,
            submitted_at: Some(now),
            published_at,
            created_at: now,
            updated_at: now,
            version: 3,
        };
        let listings = [listing("l1", Some(12_345_600), false, Some(now)), listing("l2", None, true, None)];
        for row in &listings {
            insert_listing(&mut conn, row, &[]).unwrap();
        }
        let demand = |id: &str, budget_min_fen, budget_max_fen| Demand {
            id: id.into(),
            owner_organization_id: "org".into(),
            created_by: "user".into(),
            status: "published".into(),
            title: "求购锂电池回收技术".into(),
            description: "寻求退役动力电池拆解技术".into(),
            ipc_codes: r#"["H01M10/54"]"#.into(),
            budget_min_fen,
            budget_max_fen,
            negotiable: budget_max_fen.is_none(),
            trade_modes: r#"["transfer"]"#.into(),
            region_code: "630100".into(),
            deadline: None,
            review_reason: None,
            submitted_at: None,
            published_at: Some(now),
            created_at: now,
            updated_at: now,
            version: 1,
        };
        let demands = [demand("d1", Some(100_000), Some(5_000_000)), demand("d2", None, None)];
        for row in &demands {
            insert_demand(&mut conn, row).unwrap();
        }
        let ids = |ids: &[&str]| ids.iter().map(|id| (*id).to_string()).collect::<Vec<_>>();
        let mut terms = find_listing_terms(&mut conn, &ids(&["l2", "l1", "absent"])).unwrap();
        terms.sort_by(|a, b| a.id.cmp(&b.id));
        assert_eq!(terms, listings.iter().map(ListingTerms::from).collect::<Vec<_>>());
        let mut terms = find_demand_terms(&mut conn, &ids(&["d1", "d2"])).unwrap();
        terms.sort_by(|a, b| a.id.cmp(&b.id));
        assert_eq!(terms, demands.iter().map(DemandTerms::from).collect::<Vec<_>>());
    }

    #[test]
    fn packed_terms_unpack_to_the_same_terms_and_only_published_ones_pack() {
        let at = chrono::NaiveDate::from_ymd_opt(2026, 12, 7).and_then(|d| d.and_hms_micro_opt(9, 30, 0, 123_456));
        let listing = ListingTerms {
            id: "l1".into(),
            status: "published".into(),
            published_at: at,
            ipc_codes: r#"["H01M10/54","C22B7/00"]"#.into(),
            maturity: "pilot".into(),
            trade_modes: r#"["transfer","license"]"#.into(),
            price_fen: Some(12_345_678),
            negotiable: true,
            region_code: "630104".into(),
        };
        let packed = listing.pack().unwrap();
        assert_eq!(ListingTerms::unpack("l1", &packed), listing);
        // An empty list and a missing price survive too.
        let bare = ListingTerms { ipc_codes: "[]".into(), price_fen: None, published_at: None, ..listing.clone() };
        assert_eq!(ListingTerms::unpack("l1", &bare.pack().unwrap()), bare);
        assert!(ListingTerms { status: "withdrawn".into(), ..listing }.pack().is_none());

        let demand = DemandTerms {
            id: "d1".into(),
            status: "published".into(),
            published_at: at,
            ipc_codes: r#"["A23B7/04"]"#.into(),
            budget_min_fen: Some(100_000),
            budget_max_fen: None,
            negotiable: false,
            trade_modes: r#"["assignment"]"#.into(),
            region_code: "632800".into(),
        };
        assert_eq!(DemandTerms::unpack("d1", &demand.pack().unwrap()), demand);
        let swapped = DemandTerms { budget_min_fen: None, budget_max_fen: Some(9), ..demand.clone() };
        assert_eq!(DemandTerms::unpack("d1", &swapped.pack().unwrap()), swapped);
        assert!(DemandTerms { status: "pending_review".into(), ..demand }.pack().is_none());
    }

    #[test]
    fn terms_are_the_rows_terms_sqlite() {
        terms_are_the_rows_terms(TestDatabase::sqlite());
    }

    #[test]
    fn terms_are_the_rows_terms_postgres() {
        if let Some(database) = TestDatabase::postgres() {
            terms_are_the_rows_terms(database);
        }
    }
}
