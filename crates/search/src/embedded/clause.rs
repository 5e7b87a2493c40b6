//! One clause of the any-word query (a term with its boost) weighed over a
//! searcher: how it scores a segment's documents, and the most it can add
//! to one there, the bound MaxScore prunes by.
//!
//! It scores as tantivy's boosted term query does, bit for bit (BM25 over
//! the searcher's statistics), but as a type of its own: MaxScore asks it
//! about every posting it walks, which through tantivy's boxed scorer was a
//! call that could not be inlined; and the term is looked up in each
//! segment once, for its document frequency, its postings and its bound.
//!
//! **The bound.** BM25 rises with a posting's term frequency and falls with
//! its field's length, whatever statistics weigh it. So of a term's postings
//! in a segment only those that no other beats on both counts (as short or
//! shorter, and as frequent or more) can score the most: that *frontier*
//! is a handful of (length, frequency) pairs, and the best of their scores
//! under the searcher's weight is the most the term scores in the segment,
//! exactly, at any average length, however the index is segmented.
//! (Tantivy's block maxima were chosen at each segment's own average
//! length, and at another one are not a bound.) Reading a frontier is a
//! pass over the term's postings, dearer than the search that asks for it;
//! a segment never changes, so each is read once and kept with its segment
//! ([`SegmentFrontiers`]).

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::{Mutex, MutexGuard, PoisonError};

use tantivy::fieldnorm::FieldNormReader;
use tantivy::postings::{Postings, SegmentPostings, TermInfo};
use tantivy::query::{Bm25StatisticsProvider, Bm25Weight, Scorer};
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::{DocId, DocSet, Searcher, SegmentReader, TERMINATED, Term};

use super::max_score::Bounded;

/// A term with its boost, weighed over one searcher.
pub(super) struct Clause {
    field: Field,
    /// BM25 over the searcher's statistics, boosted: what the term query
    /// of the plain union scores by.
    weight: Bm25Weight,
    /// Where the term's postings lie in each of the searcher's segments, in
    /// segment order (`None` where it has none).
    postings: Vec<Option<TermInfo>>,
}

impl Clause {
    /// `terms` with their boosts weighed over `searcher`, in their order;
    /// a term no segment has is left out (it would match nothing).
    pub(super) fn weigh(searcher: &Searcher, terms: &[(Term, f32)]) -> tantivy::Result<Vec<Clause>> {
        let documents = Bm25StatisticsProvider::total_num_docs(searcher)?;
        // Each field's average length over the searcher, as tantivy's term
        // query computes it (a query has a handful of fields and some fifty
        // terms).
        let mut averages: HashMap<Field, f32> = HashMap::new();
        let mut clauses = Vec::with_capacity(terms.len());
        for (term, boost) in terms {
            let field = term.field();
            let postings = searcher
                .segment_readers()
                .iter()
                .map(|reader| Ok(reader.inverted_index(field)?.get_term_info(term)?))
                .collect::<tantivy::Result<Vec<_>>>()?;
            let doc_freq: u64 = postings.iter().flatten().map(|info| u64::from(info.doc_freq)).sum();
            if doc_freq == 0 {
                continue;
            }
            let average = match averages.entry(field) {
                Entry::Occupied(known) => *known.get(),
                Entry::Vacant(entry) => {
                    let tokens = Bm25StatisticsProvider::total_num_tokens(searcher, field)?;
                    *entry.insert(tokens as f32 / documents as f32)
                }
            };
            let weight = Bm25Weight::for_one_term_without_explain(doc_freq, documents, average).boost_by(*boost);
            clauses.push(Clause { field, weight, postings });
        }
        Ok(clauses)
    }

    /// The clause's scorer on the searcher's `segment`th segment, whose
    /// reader is `reader`; `None` when the term is not there.
    pub(super) fn scorer(&self, segment: usize, reader: &SegmentReader) -> tantivy::Result<Option<TermScorer>> {
        self.postings.get(segment).and_then(Option::as_ref).map(|info| self.open(reader, info)).transpose()
    }

    /// [`Self::scorer`] with the most it adds to a document's score in that
    /// segment, from the segment's `frontiers` (the term's frontier is read
    /// now when they do not have it yet).
    pub(super) fn bounded(
        &self,
        segment: usize,
        reader: &SegmentReader,
        frontiers: &SegmentFrontiers,
    ) -> tantivy::Result<Option<Bounded<TermScorer>>> {
        let Some(info) = self.postings.get(segment).and_then(Option::as_ref) else {
            return Ok(None);
        };
        let bound = match frontiers.peak(self.field, info, &self.weight) {
            Some(peak) => peak,
            None => {
                let frontier = Frontier::read(&mut self.open(reader, info)?);
                let peak = frontier.peak(&self.weight);
                frontiers.keep(self.field, info, frontier);
                peak
            }
        };
        Ok(Some(Bounded { scorer: self.open(reader, info)?, bound }))
    }

    fn open(&self, reader: &SegmentReader, info: &TermInfo) -> tantivy::Result<TermScorer> {
        let postings =
            reader.inverted_index(self.field)?.read_postings_from_terminfo(info, IndexRecordOption::WithFreqs)?;
        // As tantivy's term query: a field that keeps no lengths counts each as one.
        let norms = match reader.fieldnorms_readers().get_field(self.field)? {
            Some(norms) => norms,
            None => FieldNormReader::constant(reader.max_doc(), 1),
        };
        Ok(TermScorer { postings, norms, weight: self.weight.clone() })
    }
}

/// A clause's postings in one segment, scored as tantivy's term query
/// scores them.
pub(super) struct TermScorer {
    postings: SegmentPostings,
    norms: FieldNormReader,
    weight: Bm25Weight,
}

impl DocSet for TermScorer {
    #[inline]
    fn advance(&mut self) -> DocId {
        self.postings.advance()
    }

    #[inline]
    fn seek(&mut self, target: DocId) -> DocId {
        self.postings.seek(target)
    }

    #[inline]
    fn doc(&self) -> DocId {
        self.postings.doc()
    }

    fn size_hint(&self) -> u32 {
        self.postings.size_hint()
    }
}

impl Scorer for TermScorer {
    #[inline]
    fn score(&mut self) -> f32 {
        self.weight.score(self.norms.fieldnorm_id(self.postings.doc()), self.postings.term_freq())
    }
}

/// A term's frontier in one segment: the (fieldnorm id, term frequency)
/// pairs of its postings that no other posting beats on both, lengths and
/// frequencies both rising. Fieldnorm ids rise with the lengths they stand
/// for, and BM25 falls as they rise, so every posting scores at most what
/// some pair of the frontier scores.
pub(super) struct Frontier(Box<[(u8, u32)]>);

impl Frontier {
    /// The frontier of every posting `scorer` has left.
    fn read(scorer: &mut TermScorer) -> Self {
        // The highest frequency at each length.
        let mut most = [0u32; 256];
        let mut doc = scorer.postings.doc();
        while doc != TERMINATED {
            let id = usize::from(scorer.norms.fieldnorm_id(doc));
            most[id] = most[id].max(scorer.postings.term_freq());
            doc = scorer.postings.advance();
        }
        let mut pairs = Vec::new();
        let mut best = 0;
        for (id, &frequency) in (0..=u8::MAX).zip(&most) {
            if frequency > best {
                pairs.push((id, frequency));
                best = frequency;
            }
        }
        Self(pairs.into_boxed_slice())
    }

    /// The most a posting of the term scores by `weight`.
    fn peak(&self, weight: &Bm25Weight) -> f32 {
        self.0.iter().map(|&(id, frequency)| weight.score(id, frequency)).fold(0.0, f32::max)
    }
}

/// The frontiers of a segment's terms, read as searches asked for them, by
/// field and where the term's postings start in it (no two terms' postings
/// start at the same place, and the key is smaller than the term). About
/// 70 bytes a term: the table's 33 and the pairs' allocation.
#[derive(Default)]
pub(super) struct SegmentFrontiers {
    by_postings: Mutex<HashMap<(Field, usize), Frontier>>,
}

impl SegmentFrontiers {
    /// The best score by `weight` of the kept frontier of the term at `info`
    /// in `field`; `None` when it has not been read yet.
    fn peak(&self, field: Field, info: &TermInfo, weight: &Bm25Weight) -> Option<f32> {
        self.lock().get(&(field, info.postings_range.start)).map(|frontier| frontier.peak(weight))
    }

    fn keep(&self, field: Field, info: &TermInfo, frontier: Frontier) {
        self.lock().insert((field, info.postings_range.start), frontier);
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<(Field, usize), Frontier>> {
        // A frontier is whole once inserted: a panic elsewhere leaves none half-read.
        self.by_postings.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// How many frontiers are kept.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.lock().len()
    }
}
