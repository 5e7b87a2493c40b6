//! Technology demands as [`Item`]s.

use chrono::NaiveDateTime;
use techtrade_db::AnyConnection;
use techtrade_db::listings::{self as db, Demand, ListFilter};
use techtrade_domain::{ListingStatus, ids};
use techtrade_web::{ApiError, CurrentUser};

use crate::items::{Item, Lifecycle, lifecycle_fields};
use crate::requests::{DemandRequest, ValidDemand};
use crate::views::DemandResponse;

fn set_content(row: &mut Demand, valid: &ValidDemand) {
    let list = |items: Vec<&str>| serde_json::Value::from(items).to_string();
    row.title = valid.title.clone();
    row.description = valid.description.clone();
    row.ipc_codes = list(valid.ipc.iter().map(|c| c.as_str()).collect());
    row.budget_min_fen = valid.budget_min.map(|m| m.fen());
    row.budget_max_fen = valid.budget_max.map(|m| m.fen());
    row.negotiable = valid.negotiable;
    row.trade_modes = list(valid.trade_modes.iter().map(|m| m.as_str()).collect());
    row.region_code = valid.region_code.to_string();
    row.deadline = valid.deadline;
}

/// A new draft demand row from checked content.
pub(crate) fn new_row(valid: &ValidDemand, owner: &str, created_by: &str, now: NaiveDateTime) -> Demand {
    let mut row = Demand {
        id: ids::new_id(),
        owner_organization_id: owner.to_string(),
        created_by: created_by.to_string(),
        status: ListingStatus::Draft.as_str().to_string(),
        title: String::new(),
        description: String::new(),
        ipc_codes: String::new(),
        budget_min_fen: None,
        budget_max_fen: None,
        negotiable: false,
        trade_modes: String::new(),
        region_code: String::new(),
        deadline: None,
        review_reason: None,
        submitted_at: None,
        published_at: None,
        created_at: now,
        updated_at: now,
        version: 1,
    };
    set_content(&mut row, valid);
    row
}

impl Item for Demand {
    const SUBJECT: &'static str = "demand";
    type Request = DemandRequest;
    type Response = DemandResponse;

    fn find(conn: &mut AnyConnection, id: &str) -> diesel::QueryResult<Option<Self>> {
        db::find_demand(conn, id)
    }

    fn store(&self, conn: &mut AnyConnection, expected_version: i64) -> diesel::QueryResult<bool> {
        db::update_demand(conn, self, expected_version)
    }

    lifecycle_fields!();

    fn create(conn: &mut AnyConnection, request: DemandRequest, user: &CurrentUser) -> Result<Self, ApiError> {
        let valid = request.validate(techtrade_db::today())?;
        let row = new_row(&valid, user.organization()?, &user.user_id, techtrade_db::now());
        db::insert_demand(conn, &row)?;
        Ok(row)
    }

    fn edit(&mut self, _conn: &mut AnyConnection, request: DemandRequest) -> Result<(), ApiError> {
        let valid = request.validate(techtrade_db::today())?;
        set_content(self, &valid);
        Ok(())
    }

    fn respond(_conn: &mut AnyConnection, items: Vec<Self>) -> Result<Vec<DemandResponse>, ApiError> {
        Ok(items.into_iter().map(DemandResponse::from).collect())
    }

    fn request_form(response: &DemandResponse) -> serde_json::Value {
        response.as_request()
    }

    fn list(conn: &mut AnyConnection, filter: &ListFilter) -> diesel::QueryResult<(Vec<Self>, i64)> {
        db::list_demands(conn, filter)
    }
}
