//! Supply listings as [`Item`]s.

use chrono::NaiveDateTime;
use techtrade_db::AnyConnection;
use techtrade_db::listings::{self as db, ListFilter, Listing, ListingPatent};
use techtrade_domain::{ListingStatus, ids};
use techtrade_web::{ApiError, CurrentUser, ErrorCode};

use crate::items::{Item, Lifecycle, lifecycle_fields};
use crate::requests::{ListingRequest, ValidListing, ValidPatent};
use crate::views::ListingResponse;

fn today() -> chrono::NaiveDate {
    techtrade_db::today()
}

fn json_array<T: AsRef<str>>(items: &[T]) -> String {
    serde_json::Value::from(items.iter().map(|s| s.as_ref().to_string()).collect::<Vec<_>>()).to_string()
}

/// The stored rows of a listing's patents.
fn patent_rows(listing_id: &str, patents: &[ValidPatent]) -> Vec<ListingPatent> {
    patents
        .iter()
        .enumerate()
        .map(|(position, p)| ListingPatent {
            id: ids::new_id(),
            listing_id: listing_id.to_string(),
            position: i32::try_from(position).unwrap_or(i32::MAX),
            application_number: p.application_number.to_string(),
            publication_number: p.publication_number.as_ref().map(ToString::to_string),
            patent_type: p.patent_type.as_str().to_string(),
            title: p.title.clone(),
            filing_date: p.filing_date,
            grant_date: p.grant_date,
            legal_status: p.legal_status.as_str().to_string(),
            expires_on: p.expires_on,
        })
        .collect()
}

/// A new draft listing row from checked content.
pub(crate) fn new_row(valid: &ValidListing, owner: &str, created_by: &str, now: NaiveDateTime) -> Listing {
    let mut row = Listing {
        id: ids::new_id(),
        owner_organization_id: owner.to_string(),
        created_by: created_by.to_string(),
        kind: String::new(),
        status: ListingStatus::Draft.as_str().to_string(),
        title: String::new(),
        summary: String::new(),
        description: None,
        ipc_codes: String::new(),
        maturity: String::new(),
        trade_modes: String::new(),
        price_fen: None,
        negotiable: false,
        region_code: String::new(),
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

fn set_content(row: &mut Listing, valid: &ValidListing) {
    row.kind = valid.kind.as_str().to_string();
    row.title = valid.title.clone();
    row.summary = valid.summary.clone();
    row.description = valid.description.clone();
    row.ipc_codes = json_array(&valid.ipc.iter().map(|c| c.as_str()).collect::<Vec<_>>());
    row.maturity = valid.maturity.as_str().to_string();
    row.trade_modes = json_array(&valid.trade_modes.iter().map(|m| m.as_str()).collect::<Vec<_>>());
    row.price_fen = valid.price.map(|p| p.fen());
    row.negotiable = valid.negotiable;
    row.region_code = valid.region_code.to_string();
}

/// Inserts a checked listing as it is (seeding uses this with its own status).
pub(crate) fn insert(conn: &mut AnyConnection, row: &Listing, valid: &ValidListing) -> Result<(), ApiError> {
    Ok(db::insert_listing(conn, row, &patent_rows(&row.id, &valid.patents))?)
}

impl Item for Listing {
    const SUBJECT: &'static str = "listing";
    type Request = ListingRequest;
    type Response = ListingResponse;

    fn find(conn: &mut AnyConnection, id: &str) -> diesel::QueryResult<Option<Self>> {
        db::find_listing(conn, id)
    }

    fn store(&self, conn: &mut AnyConnection, expected_version: i64) -> diesel::QueryResult<bool> {
        db::update_listing(conn, self, expected_version)
    }

    fn lock(conn: &mut AnyConnection, id: &str) -> diesel::QueryResult<()> {
        db::lock_listing(conn, id)
    }

    /// What a deal agreed exclusively is what it buys: the listing's
    /// content stays as agreed until the deal is cancelled.
    fn check_editable(&self, conn: &mut AnyConnection) -> Result<(), ApiError> {
        match techtrade_db::deals::find_reservation(conn, &self.id)? {
            Some(reservation) => Err(ApiError::new(
                ErrorCode::RightsReserved,
                format!(
                    "a deal agreed this listing's {}; its content cannot change unless that deal is cancelled",
                    reservation.trade_mode.replace('_', " ")
                ),
            )),
            None => Ok(()),
        }
    }

    lifecycle_fields!();

    fn create(conn: &mut AnyConnection, request: ListingRequest, user: &CurrentUser) -> Result<Self, ApiError> {
        let valid = request.validate(today())?;
        let row = new_row(&valid, user.organization()?, &user.user_id, techtrade_db::now());
        insert(conn, &row, &valid)?;
        Ok(row)
    }

    fn edit(&mut self, conn: &mut AnyConnection, request: ListingRequest) -> Result<(), ApiError> {
        let valid = request.validate(today())?;
        set_content(self, &valid);
        db::replace_patents(conn, &self.id, &patent_rows(&self.id, &valid.patents))?;
        Ok(())
    }

    fn respond(conn: &mut AnyConnection, items: Vec<Self>) -> Result<Vec<ListingResponse>, ApiError> {
        let ids: Vec<String> = items.iter().map(|l| l.id.clone()).collect();
        let mut patents = db::patents_of_many(conn, &ids)?;
        Ok(items
            .into_iter()
            .map(|listing| {
                let (own, rest): (Vec<_>, Vec<_>) = patents.drain(..).partition(|p| p.listing_id == listing.id);
                patents = rest;
                ListingResponse::new(listing, own)
            })
            .collect())
    }

    fn request_form(response: &ListingResponse) -> serde_json::Value {
        response.as_request()
    }

    fn list(conn: &mut AnyConnection, filter: &ListFilter) -> diesel::QueryResult<(Vec<Self>, i64)> {
        db::list_listings(conn, filter)
    }
}
