//! What is indexed, what is asked and what comes back — the same for
//! every backend.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Listings and demands share one index; `doc_type` tells them apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DocType {
    Listing,
    Demand,
}

impl DocType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Listing => "listing",
            Self::Demand => "demand",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "listing" => Some(Self::Listing),
            "demand" => Some(Self::Demand),
            _ => None,
        }
    }
}

/// One published listing or demand, flattened for search.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchDocument {
    /// The listing's or demand's id.
    pub id: String,
    pub doc_type: DocType,
    /// Listings: `patent` | `achievement`.
    pub kind: Option<String>,
    pub title: String,
    pub summary: String,
    /// Description and patent titles: searched, not shown.
    pub body: String,
    /// Application and publication numbers, canonical (`201710601862.3`, `CN114081026A`).
    pub numbers: Vec<String>,
    /// Canonical IPC codes (`G06F16/33`, `H01M`).
    pub ipc: Vec<String>,
    /// GB/T 2260, six digits.
    pub region_code: String,
    pub trade_modes: Vec<String>,
    pub maturity: Option<String>,
    pub patent_types: Vec<String>,
    pub legal_statuses: Vec<String>,
    /// A listing's price, or a demand's budget ceiling; `None` when only negotiable.
    pub price_fen: Option<i64>,
    pub negotiable: bool,
    pub owner_organization_id: String,
    /// Unix milliseconds.
    pub published_at: i64,
}

impl SearchDocument {
    /// The key the document is stored under: `listing:<id>`, `demand:<id>`.
    pub fn key(&self) -> String {
        document_key(self.doc_type, &self.id)
    }

    /// Every prefix the IPC filter matches: section, class, subclass, main
    /// group and the code itself (`G`, `G06`, `G06F`, `G06F16/00`, `G06F16/33`).
    pub fn ipc_paths(&self) -> Vec<String> {
        let mut paths = Vec::new();
        for code in &self.ipc {
            let mut add = |p: String| {
                if !paths.contains(&p) {
                    paths.push(p);
                }
            };
            if code.len() >= 4 {
                add(code[..1].to_string());
                add(code[..3].to_string());
                add(code[..4].to_string());
            }
            if let Some((main, _)) = code.split_once('/') {
                add(format!("{main}/00"));
            }
            add(code.clone());
        }
        paths
    }

    /// Province, prefecture and county prefixes of the region (`63`, `6301`, `630102`).
    pub fn region_paths(&self) -> Vec<String> {
        [2, 4, 6].iter().filter_map(|&n| self.region_code.get(..n).map(str::to_string)).collect()
    }

    /// IPC codes cut to `n` characters (1 section, 3 class, 4 subclass), once each.
    pub fn ipc_level(&self, n: usize) -> Vec<String> {
        let mut values: Vec<String> = self.ipc.iter().filter_map(|c| c.get(..n).map(str::to_string)).collect();
        values.sort();
        values.dedup();
        values
    }
}

pub fn document_key(doc_type: DocType, id: &str) -> String {
    format!("{}:{id}", doc_type.as_str())
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Sort {
    #[default]
    Relevance,
    Newest,
    PriceAsc,
    PriceDesc,
}

/// A search, with its filters already checked.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SearchQuery {
    pub text: Option<String>,
    /// How the words of `text` combine: by default a document must contain
    /// every word; with `any_word` one is enough, and documents with more
    /// (and rarer) words rank higher. Matching asks this way with the text
    /// of a whole listing or demand, where no document has every word.
    pub any_word: bool,
    /// Only the listing or demand with this id (whether it matches the rest
    /// of the query is then a yes/no question: saved-search alerts ask it).
    pub id: Option<String>,
    pub doc_type: Option<DocType>,
    pub kind: Option<String>,
    /// `G`, `G06`, `G06F`, `G06F16/00` or `G06F16/33`.
    pub ipc_prefix: Option<String>,
    /// `63`, `6301` or `630102`.
    pub region_prefix: Option<String>,
    pub trade_mode: Option<String>,
    pub maturity: Option<String>,
    pub patent_type: Option<String>,
    pub legal_status: Option<String>,
    pub price_min_fen: Option<i64>,
    pub price_max_fen: Option<i64>,
    /// With a price range: keep items that are negotiable and have no price.
    pub include_negotiable: bool,
    pub sort: Sort,
    pub offset: usize,
    pub limit: usize,
}

impl SearchQuery {
    pub fn has_price_filter(&self) -> bool {
        self.price_min_fen.is_some() || self.price_max_fen.is_some()
    }
}

/// Matched terms wrapped in `<em>…</em>`, the rest HTML-escaped.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Highlight {
    pub title: String,
    pub summary: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchHit {
    pub document: SearchDocument,
    pub highlight: Highlight,
    pub score: f32,
}

/// Facet name (`ipc_section`, `region`, …) → value → count.
pub type Facets = BTreeMap<String, BTreeMap<String, u64>>;

/// The facets every search returns.
pub const FACETS: [&str; 7] =
    ["ipc_section", "ipc_class", "ipc_subclass", "region", "trade_mode", "maturity", "patent_type"];

#[derive(Debug, Clone, Default, PartialEq)]
pub struct SearchResults {
    pub hits: Vec<SearchHit>,
    pub total: u64,
    pub facets: Facets,
}

/// Escapes text for HTML and wraps the given byte ranges in `<em>`.
/// Touching ranges become one mark (`锂电` + `池` → `<em>锂电池</em>`), so
/// every backend marks a matched word the same way however it tokenised it.
pub fn highlight_ranges(text: &str, ranges: &[std::ops::Range<usize>]) -> String {
    let mut merged: Vec<std::ops::Range<usize>> = Vec::with_capacity(ranges.len());
    for range in ranges {
        match merged.last_mut() {
            Some(last) if last.end == range.start => last.end = range.end,
            _ => merged.push(range.clone()),
        }
    }
    let mut out = String::with_capacity(text.len() + merged.len() * 9);
    let mut at = 0;
    for range in &merged {
        if range.start < at
            || range.end > text.len()
            || !text.is_char_boundary(range.start)
            || !text.is_char_boundary(range.end)
        {
            continue;
        }
        escape_into(&mut out, &text[at..range.start]);
        out.push_str("<em>");
        escape_into(&mut out, &text[range.clone()]);
        out.push_str("</em>");
        at = range.end;
    }
    escape_into(&mut out, &text[at..]);
    out
}

fn escape_into(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A listing with every field set to something plain (other modules'
    /// tests change what they need).
    pub(crate) fn doc() -> SearchDocument {
        SearchDocument {
            id: "l1".into(),
            doc_type: DocType::Listing,
            kind: Some("patent".into()),
            title: "锂电池".into(),
            summary: String::new(),
            body: String::new(),
            numbers: vec![],
            ipc: vec!["H01M10/54".into(), "H01M".into(), "G06F16/33".into()],
            region_code: "630102".into(),
            trade_modes: vec![],
            maturity: None,
            patent_types: vec![],
            legal_statuses: vec![],
            price_fen: None,
            negotiable: true,
            owner_organization_id: "o".into(),
            published_at: 0,
        }
    }

    #[test]
    fn prefixes_cover_the_hierarchy() {
        let d = doc();
        assert_eq!(
            d.ipc_paths(),
            ["H", "H01", "H01M", "H01M10/00", "H01M10/54", "G", "G06", "G06F", "G06F16/00", "G06F16/33"]
        );
        assert_eq!(d.region_paths(), ["63", "6301", "630102"]);
        assert_eq!(d.ipc_level(1), ["G", "H"]);
        assert_eq!(d.ipc_level(4), ["G06F", "H01M"]);
        assert_eq!(d.key(), "listing:l1");
    }

    #[test]
    #[allow(clippy::single_range_in_vec_init)] // one range to mark is the case under test
    fn highlights_escape_and_mark() {
        let text = "<b>锂电池</b> & 回收";
        let start = text.find("锂电池").unwrap();
        assert_eq!(
            highlight_ranges(text, &[start..start + "锂电池".len()]),
            "&lt;b&gt;<em>锂电池</em>&lt;/b&gt; &amp; 回收"
        );
        assert_eq!(highlight_ranges("abc", &[5..9]), "abc");
        assert_eq!(highlight_ranges("锂电池组", &[0..6, 6..9]), "<em>锂电池</em>组");
    }
}
