//! Candidates for a match from the search backend: the subject's words as
//! an any-word search over the other kind of item; when no word is found,
//! the items in the subject's IPC subclasses instead.

use techtrade_search::{DocType, SearchIndex, SearchQuery, Sort, search_error};
use techtrade_web::ApiError;

/// A candidate's id and its text relevance, normalised to 0..=1.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub id: String,
    pub relevance: f64,
}

/// At most `pool` candidates of `doc_type`, best text match first.
///
/// Relevance is the backend's score divided by the best candidate's: the
/// scales of BM25 (embedded) and of Meilisearch's ranking score differ and
/// neither is bounded the same way, while "how close to the best match"
/// means the same on both. The best candidate therefore always has text
/// relevance 1; the other factors decide whether it is a good match.
/// Candidates found by IPC alone have text relevance 0.
pub async fn find(
    index: &dyn SearchIndex,
    doc_type: DocType,
    words: &[String],
    subclasses: &[String],
    pool: usize,
) -> Result<Vec<Candidate>, ApiError> {
    let base = SearchQuery { doc_type: Some(doc_type), limit: pool, ..SearchQuery::default() };
    if !words.is_empty() {
        let query = SearchQuery { text: Some(words.join(" ")), any_word: true, ..base.clone() };
        let hits = index.candidates(&query).await.map_err(search_error)?;
        let top = hits.iter().map(|h| f64::from(h.score)).fold(0.0, f64::max);
        if !hits.is_empty() {
            return Ok(hits
                .into_iter()
                .map(|h| Candidate { relevance: if top > 0.0 { f64::from(h.score) / top } else { 0.0 }, id: h.id })
                .collect());
        }
    }
    let mut candidates: Vec<Candidate> = Vec::new();
    for subclass in subclasses {
        if candidates.len() >= pool {
            break;
        }
        let query = SearchQuery { ipc_prefix: Some(subclass.clone()), sort: Sort::Newest, ..base.clone() };
        for hit in index.candidates(&query).await.map_err(search_error)? {
            if candidates.len() < pool && !candidates.iter().any(|c| c.id == hit.id) {
                candidates.push(Candidate { id: hit.id, relevance: 0.0 });
            }
        }
    }
    Ok(candidates)
}
