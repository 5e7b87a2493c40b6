//! Published listings and demands, as the search index sees them.

use techtrade_db::listings::{Demand, Listing, ListingPatent};

use crate::model::{DocType, SearchDocument};

fn json_list(text: &str) -> Vec<String> {
    serde_json::from_str(text).unwrap_or_default()
}

fn unique(mut values: Vec<String>) -> Vec<String> {
    values.sort();
    values.dedup();
    values
}

pub fn listing_document(listing: &Listing, patents: &[ListingPatent]) -> SearchDocument {
    let mut body = listing.description.clone().unwrap_or_default();
    for patent in patents {
        body.push('\n');
        body.push_str(&patent.title);
    }
    let mut numbers = Vec::new();
    for patent in patents {
        numbers.push(patent.application_number.clone());
        numbers.extend(patent.publication_number.clone());
    }
    SearchDocument {
        id: listing.id.clone(),
        doc_type: DocType::Listing,
        kind: Some(listing.kind.clone()),
        title: listing.title.clone(),
        summary: listing.summary.clone(),
        body,
        numbers,
        ipc: json_list(&listing.ipc_codes),
        region_code: listing.region_code.clone(),
        trade_modes: json_list(&listing.trade_modes),
        maturity: Some(listing.maturity.clone()),
        patent_types: unique(patents.iter().map(|p| p.patent_type.clone()).collect()),
        legal_statuses: unique(patents.iter().map(|p| p.legal_status.clone()).collect()),
        price_fen: listing.price_fen,
        negotiable: listing.negotiable,
        owner_organization_id: listing.owner_organization_id.clone(),
        published_at: listing.published_at.unwrap_or(listing.updated_at).and_utc().timestamp_millis(),
    }
}

pub fn demand_document(demand: &Demand) -> SearchDocument {
    SearchDocument {
        id: demand.id.clone(),
        doc_type: DocType::Demand,
        kind: None,
        title: demand.title.clone(),
        summary: demand.description.chars().take(500).collect(),
        body: demand.description.clone(),
        numbers: Vec::new(),
        ipc: json_list(&demand.ipc_codes),
        region_code: demand.region_code.clone(),
        trade_modes: json_list(&demand.trade_modes),
        maturity: None,
        patent_types: Vec::new(),
        legal_statuses: Vec::new(),
        // A demand is found by what the buyer can pay at most.
        price_fen: demand.budget_max_fen.or(demand.budget_min_fen),
        negotiable: demand.negotiable,
        owner_organization_id: demand.owner_organization_id.clone(),
        published_at: demand.published_at.unwrap_or(demand.updated_at).and_utc().timestamp_millis(),
    }
}
