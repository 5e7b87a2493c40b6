//! The any-word search (matching's candidate lookup): a whole listing's or
//! demand's words, of which one is enough to match.
//!
//! Its query is one flat union of boosted term queries, one per word and
//! field, so that it can be pruned by MaxScore ([`max_score`]): documents
//! that cannot reach the best `limit` are not scored, and the postings of
//! terms too weak to bring a document there alone are not walked. A
//! demand's dozen words touch most listings, so this is most of what an
//! any-word search costs. What in the all-words query would rule pruning
//! out is done otherwise here:
//! - a word is its whole jieba term, not a phrase of its parts;
//! - the title's n-grams are terms, not phrases over positions: a word's
//!   character bigrams share its weight;
//! - the filters (document type, IPC, region, price …) are not clauses of
//!   the query but a set of documents each candidate is checked against,
//!   in document order.
//!
//! (A patent number among the words is a term of the `numbers` field, which
//! keeps no frequencies: its clause scores each as one.)
//!
//! Equal scores are common (BM25's field lengths are coarse), and which of
//! the tied documents make the pool must not depend on how the index
//! happens to be segmented: the near-best are scored again in one order
//! ([`top`]), and ties are ordered newest first, then by key.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap};
use std::sync::Arc;

use tantivy::query::{BooleanQuery, BoostQuery, EnableScoring, Occur, Query, Scorer, TermQuery};
use tantivy::schema::IndexRecordOption;
use tantivy::tokenizer::{TextAnalyzer, TokenStream};
use tantivy::{DocAddress, DocId, DocSet, Index, Searcher, TERMINATED, Term};

use super::clause::{Clause, SegmentFrontiers};
use super::keys::SegmentKeys;
use super::max_score;
use super::ngrams::bigrams;
use super::{BODY_BOOST, Fields, NUMBERS_BOOST, SUMMARY_BOOST, TITLE_BOOST, index_error};
use crate::index::SearchError;

/// A word's bigrams in the title together count as much as an unboosted field.
const TITLE_NGRAM_BOOST: f32 = 2.0;

/// The any-word query for `text`: one `Should` term per word and field.
/// A term reached from several words (电池 from 电池 and 锂电池) is one
/// clause with the words' boosts added, which scores the same as repeating
/// it and reads its postings once.
pub(super) struct AnyWord {
    /// Each term with its boost, in term order: a stable clause order keeps
    /// the scores' floating-point sums identical from one search to the next.
    clauses: Vec<(Term, f32)>,
}

impl AnyWord {
    pub(super) fn new(index: &Index, fields: &Fields, text: &str) -> Self {
        let mut boosts: HashMap<Term, f32> = HashMap::new();
        let mut add = |term: Term, boost: f32| *boosts.entry(term).or_insert(0.0) += boost;
        let tokenizers = index.tokenizers();
        let mut jieba = tokenizers.get("jieba");
        let mut number = tokenizers.get("number");
        for word in text.split_whitespace() {
            for token in jieba.as_mut().map(|jieba| whole_word(jieba, word)).unwrap_or_default() {
                for (field, boost) in
                    [(fields.title, TITLE_BOOST), (fields.summary, SUMMARY_BOOST), (fields.body, BODY_BOOST)]
                {
                    add(Term::from_field_text(field, &token), boost);
                }
            }
            if let Some(number) = number.as_mut() {
                let mut stream = number.token_stream(word);
                while stream.advance() {
                    add(Term::from_field_text(fields.numbers, &stream.token().text), NUMBERS_BOOST);
                }
            }
            // The n-gram field finds a word inside a longer one (电机 in 发电机).
            // A word's bigrams share its weight, so that a long word found whole
            // counts as much as a short one, and one found in part less.
            let grams = bigrams(&word.to_lowercase());
            let share = TITLE_NGRAM_BOOST / grams.len().max(1) as f32;
            for gram in grams {
                add(Term::from_field_text(fields.title_ngram, &gram), share);
            }
        }
        let mut clauses: Vec<(Term, f32)> = boosts.into_iter().collect();
        clauses.sort_by(|a, b| a.0.cmp(&b.0));
        Self { clauses }
    }

    /// One clause as tantivy's query (the any-word search scores it by its
    /// own [`Clause`], the same way).
    fn clause(term: &Term, boost: f32) -> BoostQuery {
        BoostQuery::new(Box::new(TermQuery::new(term.clone(), IndexRecordOption::WithFreqs)), boost)
    }

    /// The query as one union of its clauses.
    pub(super) fn query(&self) -> Box<dyn Query> {
        Box::new(BooleanQuery::new(
            self.clauses
                .iter()
                .map(|(term, boost)| (Occur::Should, Box::new(Self::clause(term, *boost)) as Box<dyn Query>))
                .collect(),
        ))
    }
}

/// The terms under which jieba indexed `word`. Jieba indexes a long word
/// both whole and by its parts (锂电池 as 锂电池, 锂电 and 电池): the whole
/// word alone finds the texts that contain it, where its parts would also
/// credit every text sharing one of them (电池 in every 动力电池). A word
/// jieba does not keep whole is looked up by its parts.
fn whole_word(jieba: &mut TextAnalyzer, word: &str) -> Vec<String> {
    let lowered = word.to_lowercase();
    let mut parts = Vec::new();
    let mut stream = jieba.token_stream(word);
    while stream.advance() {
        if stream.token().text == lowered {
            return vec![lowered];
        }
        parts.push(stream.token().text.clone());
    }
    parts
}

/// One hit of [`top`]: its score, where it is, its document's key and
/// when it was published.
#[derive(Debug, Clone)]
pub(super) struct Hit {
    pub score: f32,
    pub address: DocAddress,
    pub key: String,
    published_at: i64,
}

impl Hit {
    /// Best first: higher score, then newer, then the smaller key.
    fn order(&self, other: &Self) -> Ordering {
        other
            .score
            .total_cmp(&self.score)
            .then(other.published_at.cmp(&self.published_at))
            .then_with(|| self.key.cmp(&other.key))
    }
}

/// How far below the `limit`-th best score a document is still gathered.
/// Pruning adds a document's term scores in an order that changes from one
/// document to the next, so equal scores come out a few units in the last
/// place apart; the gathered documents are scored again in one order.
/// The margin also covers the rounding of the bounds pruning adds up.
const NEAR: f32 = 1e-4;

/// The best `limit` documents for `scoring` among those `filter` matches
/// (all when `None`), best first; `keys` and `frontiers` are the searcher's
/// segments' keys and term frontiers.
///
/// First pruning gathers every admitted document scoring within [`NEAR`] of
/// the best `limit` so far (one threshold runs across the segments, so a
/// later segment is pruned by what the earlier ones found). Then those are
/// scored again clause by clause, adding the terms in clause order as the
/// plain union does (a term's postings are skipped to the gathered
/// documents; the union would walk every posting between them), and
/// ordered by [`Hit::order`]: the same documents, the same scores and the
/// same order however the index is segmented.
pub(super) fn top(
    searcher: &Searcher,
    scoring: &AnyWord,
    filter: Option<&dyn Query>,
    limit: usize,
    keys: &[Arc<SegmentKeys>],
    frontiers: &[Arc<SegmentFrontiers>],
) -> Result<Vec<Hit>, SearchError> {
    if limit == 0 {
        return Ok(Vec::new());
    }
    let clauses = Clause::weigh(searcher, &scoring.clauses).map_err(index_error)?;
    let filter = filter
        .map(|filter| filter.weight(EnableScoring::disabled_from_searcher(searcher)))
        .transpose()
        .map_err(index_error)?;
    // The best `limit` pruning scores so far (a min-heap) and every
    // gathered document with its segment.
    let mut best: BinaryHeap<std::cmp::Reverse<Score>> = BinaryHeap::with_capacity(limit + 1);
    let mut gathered: Vec<(u32, DocId, f32)> = Vec::new();
    let mut threshold = f32::MIN;
    for ((segment_ord, reader), frontiers) in (0u32..).zip(searcher.segment_readers()).zip(frontiers) {
        let mut allowed = filter.as_ref().map(|f| f.scorer(reader, 1.0)).transpose().map_err(index_error)?;
        let alive = reader.alive_bitset();
        let mut scorers = Vec::with_capacity(clauses.len());
        for clause in &clauses {
            scorers.extend(clause.bounded(segment_ord as usize, reader, frontiers).map_err(index_error)?);
        }
        threshold = max_score::for_each_above(
            scorers,
            threshold,
            &mut |doc| !alive.is_some_and(|a| a.is_deleted(doc)) && admits(allowed.as_deref_mut(), doc),
            &mut |doc, score| {
                gathered.push((segment_ord, doc, score));
                best.push(std::cmp::Reverse(Score(score)));
                if best.len() > limit {
                    best.pop();
                }
                match best.peek() {
                    Some(worst) if best.len() == limit => near(worst.0.0),
                    _ => f32::MIN,
                }
            },
        );
    }
    gathered.retain(|&(_, _, score)| score > threshold);

    let mut hits = Vec::with_capacity(gathered.len());
    for (segment_ord, reader) in (0u32..).zip(searcher.segment_readers()) {
        let mut docs: Vec<DocId> =
            gathered.iter().filter(|(segment, _, _)| *segment == segment_ord).map(|&(_, doc, _)| doc).collect();
        if docs.is_empty() {
            continue;
        }
        docs.sort_unstable();
        // Each document's score, summed in clause order, and whether any
        // clause matched it.
        let mut scores: Vec<Option<f32>> = vec![None; docs.len()];
        for clause in &clauses {
            let Some(mut scorer) = clause.scorer(segment_ord as usize, reader).map_err(index_error)? else {
                continue;
            };
            for (&doc, score) in docs.iter().zip(scores.iter_mut()) {
                if scorer.doc() < doc {
                    scorer.seek(doc);
                }
                if scorer.doc() == doc {
                    *score = Some(score.unwrap_or(0.0) + scorer.score());
                }
            }
        }
        let keys =
            keys.get(segment_ord as usize).ok_or_else(|| SearchError::Index("a segment's keys missing".into()))?;
        let published = reader.fast_fields().i64("published_at").map_err(index_error)?;
        for (doc, score) in docs.into_iter().zip(scores) {
            let (Some(score), Some(key)) = (score, keys.get(doc)) else {
                return Err(SearchError::Index(format!("a gathered hit lost on rescoring ({segment_ord}, {doc})")));
            };
            hits.push(Hit {
                score,
                address: DocAddress::new(segment_ord, doc),
                key: key.to_string(),
                published_at: published.first(doc).unwrap_or(i64::MIN),
            });
        }
    }
    hits.sort_by(Hit::order);
    hits.truncate(limit);
    Ok(hits)
}

/// Just below what a document must beat to be near the best: pruning passes
/// only scores above its threshold.
fn near(worst_kept: f32) -> f32 {
    (worst_kept - worst_kept.abs() * NEAR).next_down()
}

/// A pruning score, ordered (scores are never NaN).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Score(f32);

impl Eq for Score {}
impl PartialOrd for Score {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Score {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.total_cmp(&other.0)
    }
}

/// Whether `doc` is in `allowed` (every document when there is no filter).
/// Documents come in increasing order, so the filter only moves forward.
fn admits(allowed: Option<&mut (dyn tantivy::query::Scorer + 'static)>, doc: DocId) -> bool {
    let Some(allowed) = allowed else { return true };
    if allowed.doc() < doc {
        allowed.seek(doc);
    }
    allowed.doc() == doc && doc != TERMINATED
}

#[cfg(test)]
mod tests {
    use tantivy::DocSet;
    use tantivy::collector::TopDocs;

    use super::*;
    use crate::embedded::max_score::Bounded;
    use crate::embedded::{EmbeddedIndex, key_column, read_key};
    use crate::index::IndexBatch;
    use crate::model::{DocType, SearchDocument, SearchQuery};

    const WORDS: [&str; 12] =
        ["锂电池", "回收", "光伏", "清洗", "机器人", "发酵", "牦牛", "吸附", "盐湖", "问答", "检索", "电站"];

    fn document(n: usize, doc_type: DocType, title: String, published_at: i64) -> SearchDocument {
        let summary = format!("{title}，已完成验证。");
        SearchDocument { id: format!("{n:05}"), doc_type, title, summary, published_at, ..crate::model::tests::doc() }
    }

    /// `documents` written in batches of `batch`, each its own commit (a
    /// segment, until tantivy merges them).
    fn index_of(documents: Vec<SearchDocument>, batch: usize) -> EmbeddedIndex {
        let index = EmbeddedIndex::in_memory().unwrap();
        for (n, chunk) in documents.chunks(batch).enumerate() {
            let batch = IndexBatch { upserts: chunk.to_vec(), deletes: vec![], cursor: n as i64 };
            index.inner.apply(batch).unwrap();
        }
        index.inner.reader.reload().unwrap();
        index
    }

    /// Every match scored (no pruning), in the any-word order.
    fn exhaustive(index: &EmbeddedIndex, query: &SearchQuery) -> Vec<Hit> {
        let inner = &index.inner;
        let searcher = inner.reader.searcher();
        let all = searcher.search(&inner.query(query), &TopDocs::with_limit(100_000).order_by_score()).unwrap();
        let mut hits: Vec<Hit> = all
            .into_iter()
            .map(|(score, address)| {
                let reader = searcher.segment_reader(address.segment_ord);
                let mut key = String::new();
                assert!(read_key(&key_column(reader).unwrap(), address.doc_id, &mut key));
                let published_at = reader.fast_fields().i64("published_at").unwrap().first(address.doc_id).unwrap();
                Hit { score, address, key, published_at }
            })
            .collect();
        hits.sort_by(Hit::order);
        hits.truncate(query.limit);
        hits
    }

    fn pruned(index: &EmbeddedIndex, query: &SearchQuery) -> Vec<Hit> {
        index.inner.any_word_top(&index.inner.reader.searcher(), query).unwrap().unwrap()
    }

    /// Pruning skips documents, never changes the answer: over a
    /// market of many near-alike titles in several segments, with the
    /// filter excluding a quarter, the pruned best fifty are the best fifty
    /// of every match scored.
    #[test]
    fn pruning_gives_the_best_hits_of_every_match() {
        let documents = (0..3_000)
            .map(|n| {
                let title: String =
                    (0..1 + n % 4).map(|i| WORDS[(n * 7 + i * 5 + n / 13) % WORDS.len()]).collect::<Vec<_>>().join("");
                let doc_type = if n % 4 == 3 { DocType::Demand } else { DocType::Listing };
                // Many equal dates, so that ties need the key too.
                document(n, doc_type, format!("一种{title}装置"), (n % 17) as i64)
            })
            .collect();
        let index = index_of(documents, 700);
        for text in ["锂电池 回收 光伏 清洗 机器人 电站", "牦牛 发酵", "问答 检索 盐湖 吸附 锂电池"]
        {
            let query = SearchQuery {
                text: Some(text.into()),
                any_word: true,
                doc_type: Some(DocType::Listing),
                limit: 50,
                ..SearchQuery::default()
            };
            let expected = exhaustive(&index, &query);
            let found = pruned(&index, &query);
            assert_eq!(found.len(), 50, "{text}");
            let keys = |hits: &[Hit]| hits.iter().map(|h| h.key.clone()).collect::<Vec<_>>();
            assert_eq!(keys(&found), keys(&expected), "{text}");
            assert!(found.iter().all(|h| h.key.starts_with("listing:")), "{text}");
            let scores = |hits: &[Hit]| hits.iter().map(|h| h.score).collect::<Vec<_>>();
            assert_eq!(scores(&found), scores(&expected), "{text}");
        }
    }

    /// Three segments of 500 documents, the first of short titles, the
    /// others of long ones. In the first, 锂电池's postings fill blocks of
    /// 128 where a title of the word alone scores best at that segment's
    /// short average length, and one saying it three times in a longer
    /// title scores best at the searcher's average: the pair a block kept
    /// when it was written is no longer its best.
    fn segments_of_unlike_lengths() -> EmbeddedIndex {
        let filler = "高原特色农牧业数字化综合服务平台建设";
        let documents = (0..1_500)
            .map(|n| {
                // The long titles only in the full blocks (the last block,
                // of fewer, has no kept pair: it is scored whole).
                let title = match n / 500 {
                    0 if n % 2 == 1 && n < 384 => format!("锂电池{filler}锂电池锂电池"),
                    0 => "锂电池".to_string(),
                    _ => format!("{}{}", WORDS[1 + n % 4], filler.repeat(6)),
                };
                document(n, DocType::Listing, title, (n % 11) as i64)
            })
            .collect();
        index_of(documents, 500)
    }

    /// Each clause scores every document of every segment as tantivy's
    /// boosted term query does, bit for bit, and its bound in a segment is
    /// exactly its best score there: never below a score, so pruning loses
    /// nothing, and no higher, so it prunes all it can. A segment written
    /// later, of other lengths, changes the searcher's statistics; the
    /// frontiers kept from before still give the best scores exactly.
    #[test]
    fn a_clauses_bound_is_its_best_score_in_the_segment() {
        let index = segments_of_unlike_lengths();
        let inner = &index.inner;
        let scoring = AnyWord::new(&inner.index, &inner.fields, "锂电池 回收 光伏");
        let check = |searcher: &Searcher| {
            // The terms some segment has; the others are left out.
            let present: Vec<&(Term, f32)> =
                scoring.clauses.iter().filter(|(term, _)| searcher.doc_freq(term).unwrap() > 0).collect();
            let clauses = Clause::weigh(searcher, &scoring.clauses).unwrap();
            assert_eq!(clauses.len(), present.len());
            let frontiers = inner.frontiers.of(searcher, |_| Ok(SegmentFrontiers::default())).unwrap();
            let mut scored = 0;
            for ((term, boost), clause) in present.into_iter().zip(&clauses) {
                let term_query = AnyWord::clause(term, *boost).weight(EnableScoring::enabled_from_searcher(searcher));
                let term_query = term_query.unwrap();
                for (segment, (reader, frontiers)) in searcher.segment_readers().iter().zip(&frontiers).enumerate() {
                    let mut expected = term_query.scorer(reader, 1.0).unwrap();
                    let Some(Bounded { mut scorer, bound }) = clause.bounded(segment, reader, frontiers).unwrap()
                    else {
                        assert_eq!(expected.doc(), TERMINATED, "{term:?} is in segment {segment}");
                        continue;
                    };
                    let mut best = 0.0f32;
                    while expected.doc() != TERMINATED {
                        assert_eq!(scorer.doc(), expected.doc(), "{term:?}");
                        let score = scorer.score();
                        assert_eq!(score.to_bits(), expected.score().to_bits(), "{term:?} at {}", scorer.doc());
                        best = best.max(score);
                        scored += 1;
                        scorer.advance();
                        expected.advance();
                    }
                    assert_eq!(scorer.doc(), TERMINATED, "{term:?}");
                    assert_eq!(bound, best, "{term:?} in segment {segment}");
                }
            }
            scored
        };
        let searcher = inner.reader.searcher();
        assert!(searcher.segment_readers().len() >= 3);
        assert!(check(&searcher) > 3_000);
        let kept: Vec<usize> =
            inner.frontiers.of(&searcher, |_| unreachable!()).unwrap().iter().map(|f| f.len()).collect();
        assert!(kept.iter().all(|&n| n > 0), "{kept:?}");

        let longer = (0..300)
            .map(|n| document(2_000 + n, DocType::Listing, format!("锂电池光伏{}", "综合服务平台".repeat(n % 9)), 3))
            .collect();
        inner.apply(IndexBatch { upserts: longer, deletes: vec![], cursor: 9 }).unwrap();
        inner.reader.reload().unwrap();
        let searcher = inner.reader.searcher();
        assert!(check(&searcher) > 3_300);
    }

    /// Over those segments too, pruning keeps the best hits of every match.
    #[test]
    fn pruning_across_unlike_segments_gives_the_best_hits() {
        let index = segments_of_unlike_lengths();
        for text in ["锂电池 回收", "锂电池 光伏 清洗", "锂电池"] {
            let query = SearchQuery { text: Some(text.into()), any_word: true, limit: 300, ..SearchQuery::default() };
            let keys = |hits: Vec<Hit>| hits.into_iter().map(|h| (h.key, h.score)).collect::<Vec<_>>();
            assert_eq!(keys(pruned(&index, &query)), keys(exhaustive(&index, &query)), "{text}");
        }
    }

    /// Equal scores are ordered newest first, then by key, however the
    /// documents were written and segmented.
    #[test]
    fn ties_are_newest_first_then_by_key_in_any_segmentation() {
        let make = |order: &[usize]| {
            order.iter().map(|&n| document(n, DocType::Listing, "光伏组件清洗机器人".into(), (n / 2) as i64)).collect()
        };
        let query =
            SearchQuery { text: Some("清洗 机器人".into()), any_word: true, limit: 4, ..SearchQuery::default() };
        for (order, batch) in
            [(vec![0, 1, 2, 3, 4, 5, 6, 7], 8), (vec![7, 6, 5, 4, 3, 2, 1, 0], 3), (vec![3, 0, 6, 1, 7, 2, 5, 4], 1)]
        {
            let index = index_of(make(&order), batch);
            let keys: Vec<String> = pruned(&index, &query).into_iter().map(|h| h.key).collect();
            assert_eq!(
                keys,
                ["listing:00006", "listing:00007", "listing:00004", "listing:00005"],
                "{order:?} by {batch}"
            );
        }
    }

    #[test]
    fn hits_order_by_score_then_newest_then_key() {
        let hit = |score, published_at, key: &str| Hit {
            score,
            address: DocAddress::new(0, 0),
            key: key.into(),
            published_at,
        };
        let mut hits =
            [hit(1.0, 5, "listing:b"), hit(2.0, 1, "listing:z"), hit(1.0, 5, "listing:a"), hit(1.0, 9, "listing:c")];
        hits.sort_by(Hit::order);
        let keys: Vec<&str> = hits.iter().map(|h| h.key.as_str()).collect();
        assert_eq!(keys, ["listing:z", "listing:c", "listing:a", "listing:b"]);
    }
}
