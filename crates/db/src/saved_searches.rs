//! Rows and queries of saved searches and of the alerts they raised.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::connection::AnyConnection;
use crate::schema::{saved_search_alerts, saved_searches, users};

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = saved_searches, check_for_backend(crate::MultiBackend))]
pub struct SavedSearch {
    pub id: String,
    pub user_id: String,
    /// The search parameters as JSON, in the form `GET /api/v1/search` takes.
    pub query: String,
    /// How to alert: `email`.
    pub notify: String,
    pub created_at: NaiveDateTime,
}

/// A saved search with what the alerting needs to know of its owner.
#[derive(Debug, Clone, PartialEq)]
pub struct Subscriber {
    pub search: SavedSearch,
    pub organization_id: Option<String>,
}

pub fn insert(conn: &mut AnyConnection, search: &SavedSearch) -> QueryResult<()> {
    diesel::insert_into(saved_searches::table).values(search).execute(conn).map(drop)
}

pub fn find(conn: &mut AnyConnection, id: &str) -> QueryResult<Option<SavedSearch>> {
    saved_searches::table.find(id).select(SavedSearch::as_select()).get_result(conn).optional()
}

/// A user's saved searches, newest first, and how many there are.
pub fn list_of_user(
    conn: &mut AnyConnection,
    user_id: &str,
    offset: i64,
    limit: i64,
) -> QueryResult<(Vec<SavedSearch>, i64)> {
    let total = saved_searches::table.filter(saved_searches::user_id.eq(user_id)).count().get_result(conn)?;
    let items = saved_searches::table
        .filter(saved_searches::user_id.eq(user_id))
        .order((saved_searches::created_at.desc(), saved_searches::id.desc()))
        .offset(offset)
        .limit(limit)
        .select(SavedSearch::as_select())
        .load(conn)?;
    Ok((items, total))
}

/// Deletes a saved search and the record of its alerts.
pub fn delete(conn: &mut AnyConnection, id: &str) -> QueryResult<bool> {
    crate::write_transaction(conn, |conn| {
        diesel::delete(saved_search_alerts::table.filter(saved_search_alerts::saved_search_id.eq(id))).execute(conn)?;
        Ok(diesel::delete(saved_searches::table.find(id)).execute(conn)? == 1)
    })
}

/// Saved searches of enabled users with ids after `after_id`, in id order
/// (for going through all of them page by page).
pub fn subscribers_after(conn: &mut AnyConnection, after_id: &str, limit: i64) -> QueryResult<Vec<Subscriber>> {
    let rows: Vec<(SavedSearch, Option<String>)> = saved_searches::table
        .inner_join(users::table)
        .filter(users::disabled_at.is_null())
        .filter(saved_searches::id.gt(after_id))
        .order(saved_searches::id.asc())
        .limit(limit)
        .select((SavedSearch::as_select(), users::organization_id))
        .load(conn)?;
    Ok(rows.into_iter().map(|(search, organization_id)| Subscriber { search, organization_id }).collect())
}

/// Whether `saved_search_id` already alerted about this item.
pub fn alerted(conn: &mut AnyConnection, saved_search_id: &str, item_type: &str, item_id: &str) -> QueryResult<bool> {
    let key = (saved_search_id, item_type, item_id);
    diesel::select(diesel::dsl::exists(saved_search_alerts::table.find(key))).get_result(conn)
}

/// Records that `saved_search_id` alerted about this item with `event_id`.
pub fn record_alert(
    conn: &mut AnyConnection,
    saved_search_id: &str,
    item_type: &str,
    item_id: &str,
    event_id: i64,
) -> QueryResult<()> {
    diesel::insert_into(saved_search_alerts::table)
        .values((
            saved_search_alerts::saved_search_id.eq(saved_search_id),
            saved_search_alerts::item_type.eq(item_type),
            saved_search_alerts::item_id.eq(item_id),
            saved_search_alerts::outbox_event_id.eq(event_id),
            saved_search_alerts::created_at.eq(crate::now()),
        ))
        .execute(conn)
        .map(drop)
}
