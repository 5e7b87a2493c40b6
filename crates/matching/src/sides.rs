//! Stored listings and demands as the two sides of a match, and the text
//! each side is searched for on the other side.

use techtrade_db::listings::{Demand, DemandTerms, Listing, ListingTerms};
use techtrade_domain::matching::{Need, Offer};
use techtrade_domain::{IpcCode, Maturity, Money, RegionCode, TradeMode};
use techtrade_search::keywords::keywords;

/// How many distinct words of the subject go into the candidate search.
const QUERY_WORDS: usize = 12;

fn json_list(text: &str) -> Vec<String> {
    serde_json::from_str(text).unwrap_or_default()
}

/// Stored codes were checked when written; one that no longer parses (a
/// scheme update) is left out rather than failing the whole match.
fn ipc_codes(text: &str) -> Vec<IpcCode> {
    json_list(text).iter().filter_map(|c| IpcCode::parse(c).ok()).collect()
}

fn trade_modes(text: &str) -> Vec<TradeMode> {
    json_list(text).iter().filter_map(|m| TradeMode::from_db(m)).collect()
}

fn money(fen: Option<i64>) -> Option<Money> {
    fen.and_then(|f| Money::from_fen(f).ok())
}

/// The listing's side; `None` when its stored region or maturity is not
/// valid (never for rows written through the API).
pub fn offer(listing: &ListingTerms) -> Option<Offer> {
    Some(Offer {
        ipc: ipc_codes(&listing.ipc_codes),
        price: money(listing.price_fen),
        negotiable: listing.negotiable,
        trade_modes: trade_modes(&listing.trade_modes),
        maturity: Maturity::from_db(&listing.maturity)?,
        region: RegionCode::parse(&listing.region_code).ok()?,
    })
}

pub fn need(demand: &DemandTerms) -> Option<Need> {
    Some(Need {
        ipc: ipc_codes(&demand.ipc_codes),
        budget_min: money(demand.budget_min_fen),
        budget_max: money(demand.budget_max_fen),
        negotiable: demand.negotiable,
        trade_modes: trade_modes(&demand.trade_modes),
        region: RegionCode::parse(&demand.region_code).ok()?,
    })
}

/// The search words for an item: its title's telling words, then those
/// of the rest of its text, at most [`QUERY_WORDS`] in all. The title goes
/// first because it says what the item is, and a backend that reads only
/// the first words of a query (Meilisearch: ten) keeps those.
fn query_words(title: &str, rest: &str) -> Vec<String> {
    let mut words = keywords(title, QUERY_WORDS);
    for word in keywords(rest, QUERY_WORDS) {
        if words.len() >= QUERY_WORDS {
            break;
        }
        if !words.contains(&word) {
            words.push(word);
        }
    }
    words
}

pub fn listing_words(listing: &Listing) -> Vec<String> {
    let rest = format!("{} {}", listing.summary, listing.description.as_deref().unwrap_or_default());
    query_words(&listing.title, &rest)
}

pub fn demand_words(demand: &Demand) -> Vec<String> {
    query_words(&demand.title, &demand.description)
}

/// The subclasses of the codes, once each, for the IPC fallback search.
pub fn subclasses(codes: &[IpcCode]) -> Vec<String> {
    let mut subclasses: Vec<String> = Vec::new();
    for code in codes {
        if !subclasses.iter().any(|s| s == code.subclass()) {
            subclasses.push(code.subclass().to_string());
        }
    }
    subclasses
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn title_words_come_first() {
        let words = query_words("废旧锂电池回收技术", "寻求退役动力锂电池的拆解技术。");
        assert_eq!(words, ["废旧", "锂电池", "回收", "退役", "动力", "拆解"]);
        assert!(query_words("", "").is_empty());
        let long = query_words("锂电池", "甲乙 丙丁 戊己 庚辛 壬癸 子丑 寅卯 辰巳 午未 申酉 戌亥 天地 玄黄");
        assert_eq!(long.len(), QUERY_WORDS);
    }
}
