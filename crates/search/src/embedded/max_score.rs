//! MaxScore pruning (Turtle and Flood, 1995) over a union of term scorers:
//! the any-word search's way of finding every document that can still
//! make the best few without scoring the rest.
//!
//! Each clause has an upper bound, the most one of its documents can score.
//! With the clauses ordered by bound, the weakest ones whose bounds together
//! do not beat the threshold are *non-essential*: a document found only by
//! them cannot be among the best. Documents are therefore enumerated from
//! the essential clauses' postings alone, and a non-essential clause is
//! asked (by a forward seek) only while the document can still beat the
//! threshold with it. As the threshold rises, more clauses become
//! non-essential and whole posting lists are no longer walked.
//!
//! A demand's words give some fifty clauses, most of them weak (a common
//! word, a body or n-gram field). Tantivy's block-max WAND keeps every
//! clause's postings sorted by document after each document it scores,
//! which at fifty clauses cost more than the scoring. Here no order is kept:
//! the essential clauses are walked a window of documents at a time, each
//! clause's postings in the window in one run, summing into a table of the
//! window's documents; then the documents found are taken in order.

use tantivy::query::Scorer;
use tantivy::{DocId, TERMINATED};

/// A clause's scorer on one segment, with the most it can add to a score.
pub(super) struct Bounded<S> {
    pub scorer: S,
    pub bound: f32,
}

/// Calls `visit(doc, score)`, in document order, for every document of the
/// clauses' union that `admit` lets in and whose summed score is above the
/// threshold: `threshold` at first, then what `visit` last returned (it
/// may only rise). Returns the threshold at the end.
///
/// A document that cannot beat the threshold is never passed to `admit`,
/// so `admit` may cost more than a posting lookup; it sees documents in
/// increasing order.
///
/// The score passed to `visit` is the clauses' scores added in an order of
/// this function's choosing; a caller that needs the same sum every time
/// scores the documents it keeps again.
pub(super) fn for_each_above<S: Scorer>(
    clauses: Vec<Bounded<S>>,
    mut threshold: f32,
    admit: &mut dyn FnMut(DocId) -> bool,
    visit: &mut dyn FnMut(DocId, f32) -> f32,
) -> f32 {
    let mut clauses = weakest_first(clauses);
    // `reach[i]`: the most clauses `..i` can add together.
    let reach: Vec<f32> = std::iter::once(0.0)
        .chain(clauses.iter().scan(0.0f32, |sum, clause| {
            *sum += clause.bound;
            Some(*sum)
        }))
        .collect();
    // Each clause's current document, kept beside the scorers: a window's
    // end is checked and the next window's start found without asking them.
    let mut docs: Vec<DocId> = clauses.iter().map(|clause| clause.scorer.doc()).collect();
    // The essential clauses' scores of the window's documents, and which
    // of them any essential clause has (on the stack: a 16 KB request to
    // glibc's heap made it consolidate its fast bins on every search).
    let mut sums = [0.0f32; WINDOW as usize];
    let mut found = [0u64; WINDOW as usize / 64];
    let mut essential = first_essential(&reach, threshold);
    let mut start = smallest(&docs[essential..]);
    while start != TERMINATED {
        let end = start.saturating_add(WINDOW).min(TERMINATED);
        // Clause by clause, every posting of the window is scored into its
        // document's sum.
        for (clause, current) in clauses[essential..].iter_mut().zip(&mut docs[essential..]) {
            while *current < end {
                let at = (*current - start) as usize;
                sums[at] += clause.scorer.score();
                found[at / 64] |= 1 << (at % 64);
                *current = clause.scorer.advance();
            }
        }
        // Then document by document, in order: the non-essential clauses,
        // strongest first, while the document can still beat the threshold
        // with what is left.
        let window_essential = essential;
        for (word, bits) in (0u32..).zip(found.iter_mut()) {
            while *bits != 0 {
                let at = word * 64 + bits.trailing_zeros();
                *bits &= *bits - 1;
                let doc = start + at;
                let mut score = std::mem::take(&mut sums[at as usize]);
                if score + reach[window_essential] <= threshold || !admit(doc) {
                    continue;
                }
                let mut beaten = true;
                for i in (0..window_essential).rev() {
                    if score + reach[i + 1] <= threshold {
                        beaten = false;
                        break;
                    }
                    if docs[i] < doc {
                        docs[i] = clauses[i].scorer.seek(doc);
                    }
                    if docs[i] == doc {
                        score += clauses[i].scorer.score();
                    }
                }
                if beaten && score > threshold {
                    threshold = visit(doc, score);
                }
            }
        }
        // A risen threshold leaves fewer clauses essential; the next window
        // starts at the first document any of them has left.
        essential = first_essential(&reach, threshold);
        start = smallest(&docs[essential..]);
    }
    threshold
}

/// How many documents' sums [`for_each_above`] gathers at a time: their
/// scores and bits fit in the first-level cache.
const WINDOW: u32 = 4_096;

/// `clauses` but those with nothing in the segment, weakest first, so that
/// the non-essential clauses are a prefix. (A scorer is large: the order is
/// found by index and each moved once.)
fn weakest_first<S: Scorer>(clauses: Vec<Bounded<S>>) -> Vec<Bounded<S>> {
    // A clause with nothing in this segment (a word no text here has)
    // would keep its bound in every sum.
    let mut slots: Vec<Option<Bounded<S>>> =
        clauses.into_iter().map(|clause| (clause.scorer.doc() != TERMINATED).then_some(clause)).collect();
    let mut order: Vec<(f32, usize)> =
        slots.iter().enumerate().filter_map(|(i, slot)| Some((slot.as_ref()?.bound, i))).collect();
    order.sort_by(|a, b| a.0.total_cmp(&b.0));
    order.into_iter().filter_map(|(_, i)| slots[i].take()).collect()
}

/// The smallest of `docs` ([`TERMINATED`] when there are none).
fn smallest(docs: &[DocId]) -> DocId {
    docs.iter().copied().min().unwrap_or(TERMINATED)
}

/// The first clause a document must have to beat `threshold`: the clauses
/// before it cannot beat it together.
fn first_essential(reach: &[f32], threshold: f32) -> usize {
    // `reach` rises, and `reach[0]` is 0: the count of sums at or below the
    // threshold, less the empty one.
    reach.partition_point(|&sum| sum <= threshold).saturating_sub(1)
}

#[cfg(test)]
mod tests {
    use tantivy::DocSet;

    use super::*;

    /// A clause over fixed (document, score) postings.
    struct Postings {
        postings: Vec<(DocId, f32)>,
        at: usize,
    }

    impl DocSet for Postings {
        fn advance(&mut self) -> DocId {
            self.at += 1;
            self.doc()
        }

        fn doc(&self) -> DocId {
            self.postings.get(self.at).map_or(TERMINATED, |&(doc, _)| doc)
        }

        fn size_hint(&self) -> u32 {
            self.postings.len() as u32
        }
    }

    impl Scorer for Postings {
        fn score(&mut self) -> f32 {
            self.postings[self.at].1
        }
    }

    fn clauses(lists: &[Vec<(DocId, f32)>]) -> Vec<Bounded<Postings>> {
        lists
            .iter()
            .map(|postings| Bounded {
                bound: postings.iter().map(|&(_, score)| score).fold(0.0, f32::max),
                scorer: Postings { postings: postings.clone(), at: 0 },
            })
            .collect()
    }

    /// A small pseudo-random union: `n` clauses over `docs` documents.
    fn union(seed: u64, n: usize, docs: u32) -> Vec<Vec<(DocId, f32)>> {
        let mut state = seed;
        let mut next = move || {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (state >> 33) as u32
        };
        (0..n)
            .map(|_| {
                let density = 1 + next() % 40;
                let strength = 1 + next() % 8;
                (0..docs)
                    .filter_map(|doc| {
                        let score = (1 + next() % 1000) as f32 / 1000.0 * strength as f32;
                        (next() % 100 < density).then_some((doc, score))
                    })
                    .collect()
            })
            .collect()
    }

    /// Every document's full score, as the union adds it.
    fn all_scores(lists: &[Vec<(DocId, f32)>], docs: u32) -> Vec<f32> {
        let mut scores = vec![0.0f32; docs as usize];
        for list in lists {
            for &(doc, score) in list {
                scores[doc as usize] += score;
            }
        }
        scores
    }

    /// With a top-`k` visitor (the threshold is the k-th best so far), the
    /// documents visited hold the same best k as scoring every document,
    /// over many unions, and documents come in order, each at most once.
    #[test]
    fn the_best_survive_pruning() {
        for seed in 0..200 {
            // Every other union spans several windows of sums.
            let docs = if seed % 2 == 0 { 400 } else { 3 * WINDOW + 77 };
            let lists = union(seed, 2 + (seed as usize % 30), docs);
            let scores = all_scores(&lists, docs);
            let k = 1 + (seed as usize % 25);
            let mut best: Vec<f32> = Vec::new();
            let mut visited: Vec<(DocId, f32)> = Vec::new();
            for_each_above(clauses(&lists), f32::MIN, &mut |_| true, &mut |doc, score| {
                visited.push((doc, score));
                best.push(score);
                best.sort_by(|a, b| b.total_cmp(a));
                best.truncate(k);
                if best.len() == k { best[k - 1] - 1e-4 } else { f32::MIN }
            });
            assert!(visited.windows(2).all(|w| w[0].0 < w[1].0), "seed {seed}: order");
            let mut expected: Vec<f32> = scores.iter().copied().filter(|&s| s > 0.0).collect();
            expected.sort_by(|a, b| b.total_cmp(a));
            expected.truncate(k);
            let mut found: Vec<f32> = visited.iter().map(|&(doc, _)| scores[doc as usize]).collect();
            found.sort_by(|a, b| b.total_cmp(a));
            found.truncate(k);
            assert_eq!(found.len(), expected.len(), "seed {seed}");
            for (f, e) in found.iter().zip(&expected) {
                assert!((f - e).abs() < 1e-3, "seed {seed}: {found:?} against {expected:?}");
            }
            for &(doc, score) in &visited {
                assert!((score - scores[doc as usize]).abs() < 1e-3, "seed {seed}: doc {doc}");
            }
        }
    }

    /// Without a threshold every matched document is visited with its full
    /// score; `admit` decides which, and is asked about each at most once,
    /// in order.
    #[test]
    fn without_a_threshold_every_admitted_match_is_visited() {
        // Documents close together, then spread over many windows of
        // sums, then one a window apart.
        for spread in [1, 37, WINDOW + 3] {
            let lists: Vec<Vec<(DocId, f32)>> = union(7, 12, 300)
                .into_iter()
                .map(|list| list.into_iter().map(|(doc, score)| (doc * spread, score)).collect())
                .collect();
            let scores = all_scores(&lists, 300 * spread);
            let mut asked = Vec::new();
            let mut visited = Vec::new();
            let end = for_each_above(
                clauses(&lists),
                f32::MIN,
                &mut |doc| {
                    asked.push(doc);
                    doc % 3 != 0
                },
                &mut |doc, score| {
                    visited.push((doc, score));
                    f32::MIN
                },
            );
            assert_eq!(end, f32::MIN);
            let matched: Vec<DocId> =
                (0..300 * spread).filter(|&doc| lists.iter().any(|l| l.iter().any(|p| p.0 == doc))).collect();
            assert_eq!(asked, matched, "spread {spread}");
            let admitted: Vec<DocId> = matched.iter().copied().filter(|doc| doc % 3 != 0).collect();
            assert_eq!(visited.iter().map(|v| v.0).collect::<Vec<_>>(), admitted, "spread {spread}");
            for (doc, score) in visited {
                assert!((score - scores[doc as usize]).abs() < 1e-4, "spread {spread}: doc {doc}");
            }
        }
    }

    /// A threshold no document can beat visits nothing and asks nothing.
    #[test]
    fn a_threshold_above_every_bound_ends_at_once() {
        let lists = union(3, 5, 100);
        let total: f32 = clauses(&lists).iter().map(|c| c.bound).sum();
        let mut asked = 0;
        let end = for_each_above(
            clauses(&lists),
            total + 1.0,
            &mut |_| {
                asked += 1;
                true
            },
            &mut |_, _| panic!("nothing beats it"),
        );
        assert_eq!((end, asked), (total + 1.0, 0));
    }

    #[test]
    fn the_first_essential_clause() {
        let reach = [0.0, 1.0, 3.0, 6.0];
        assert_eq!(first_essential(&reach, f32::MIN), 0);
        assert_eq!(first_essential(&reach, 0.5), 0);
        assert_eq!(first_essential(&reach, 1.0), 1);
        assert_eq!(first_essential(&reach, 2.9), 1);
        assert_eq!(first_essential(&reach, 3.0), 2);
        assert_eq!(first_essential(&reach, 6.0), 3);
    }
}
