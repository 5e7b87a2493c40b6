//! Writes Meilisearch has accepted but not yet been seen to finish.
//!
//! Meilisearch answers a write with a task and applies it later, an index's
//! tasks strictly in order, merging queued document tasks into one batch
//! ("autobatching"). Waiting for each task before sending the next makes
//! every batch pay the whole round of enqueue, schedule, index and poll; a
//! rebuild paid it once per page of 500 documents. Keeping several tasks in
//! flight lets Meilisearch index large batches while the next pages are read
//! from the database.
//!
//! A rebuild's pages are held and sent together, in payloads of thousands
//! of documents: Meilisearch indexes one large payload faster than the same
//! documents in many tasks.
//!
//! The outbox position stored for the index must never pass a write that has
//! not succeeded: after a restart the indexer reads on from there. So each
//! task carries the position its batch reaches, and the position is stored
//! only once that task, and every task before it, has succeeded.

use std::collections::VecDeque;

/// One task in flight.
#[derive(Debug, Clone, PartialEq)]
struct InFlight<T> {
    task: T,
    /// The outbox position reached once this task and all before it have
    /// succeeded; `None` for a task that reaches none by itself (a page of a
    /// rebuild, or a batch's deletions queued before its upserts).
    reaches: Option<i64>,
}

/// The tasks in flight, oldest first, and the documents held to be sent
/// with the next. `T` is the backend's task handle, `D` its document.
#[derive(Debug)]
pub(super) struct Pipeline<T, D> {
    in_flight: VecDeque<InFlight<T>>,
    /// The position of the newest batch enqueued with one.
    enqueued: Option<i64>,
    /// Documents of rebuild pages not sent yet; they reach no position.
    held: Vec<D>,
}

impl<T, D> Default for Pipeline<T, D> {
    fn default() -> Self {
        Self { in_flight: VecDeque::new(), enqueued: None, held: Vec::new() }
    }
}

impl<T, D> Pipeline<T, D> {
    /// Holds documents to be sent with others; how many are held now.
    pub(super) fn hold(&mut self, documents: impl IntoIterator<Item = D>) -> usize {
        self.held.extend(documents);
        self.held.len()
    }

    /// The documents held, to be sent before anything else.
    pub(super) fn take_held(&mut self) -> Vec<D> {
        std::mem::take(&mut self.held)
    }

    /// Records a task just enqueued.
    pub(super) fn push(&mut self, task: T) {
        self.in_flight.push_back(InFlight { task, reaches: None });
    }

    /// Records that the tasks enqueued so far bring the index to `position`.
    /// Returns `false` when nothing is in flight: the position is then
    /// reached already and the caller stores it itself.
    pub(super) fn reach(&mut self, position: i64) -> bool {
        match self.in_flight.back_mut() {
            Some(newest) => {
                newest.reaches = Some(position);
                self.enqueued = Some(position);
                true
            }
            None => false,
        }
    }

    /// Where the index will be once everything in flight has succeeded, if
    /// that is past the stored position: where the next batch starts from.
    pub(super) fn position(&self) -> Option<i64> {
        if self.in_flight.is_empty() { None } else { self.enqueued }
    }

    pub(super) fn len(&self) -> usize {
        self.in_flight.len()
    }

    /// The oldest task in flight.
    pub(super) fn oldest(&self) -> Option<&T> {
        self.in_flight.front().map(|f| &f.task)
    }

    /// Takes out the oldest task, which has succeeded; the position it
    /// reaches, if any.
    pub(super) fn succeeded_oldest(&mut self) -> Option<i64> {
        let done = self.in_flight.pop_front()?;
        if self.in_flight.is_empty() {
            self.enqueued = None;
        }
        done.reaches
    }

    /// Forgets every task: one failed, or could not be followed, and the
    /// batches from the stored position on will be sent again.
    pub(super) fn clear(&mut self) {
        self.in_flight.clear();
        self.enqueued = None;
        self.held.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_position_is_reached_only_with_the_task_that_carries_it() {
        let mut pipeline: Pipeline<_, ()> = Pipeline::default();
        // A rebuild: pages reach no position; the last batch reaches one.
        pipeline.push(1u32);
        pipeline.push(2);
        assert_eq!(pipeline.position(), None);
        assert!(pipeline.reach(40));
        assert_eq!(pipeline.position(), Some(40));
        assert_eq!(pipeline.oldest(), Some(&1));
        assert_eq!(pipeline.succeeded_oldest(), None, "task 1 alone reaches nothing");
        assert_eq!(pipeline.position(), Some(40), "still in flight");
        assert_eq!(pipeline.succeeded_oldest(), Some(40));
        assert_eq!(pipeline.position(), None, "nothing in flight: the stored position counts");
        assert_eq!(pipeline.succeeded_oldest(), None);
    }

    #[test]
    fn each_batch_reaches_its_own_position() {
        let mut pipeline: Pipeline<_, ()> = Pipeline::default();
        pipeline.push("delete 1");
        pipeline.push("upsert 1");
        assert!(pipeline.reach(10));
        pipeline.push("upsert 2");
        assert!(pipeline.reach(20));
        assert_eq!(pipeline.position(), Some(20));
        assert_eq!(pipeline.len(), 3);
        assert_eq!(pipeline.succeeded_oldest(), None);
        assert_eq!(pipeline.succeeded_oldest(), Some(10));
        assert_eq!(pipeline.position(), Some(20));
        assert_eq!(pipeline.succeeded_oldest(), Some(20));
    }

    #[test]
    fn held_documents_are_taken_once_and_cleared_with_the_rest() {
        let mut pipeline: Pipeline<u32, &str> = Pipeline::default();
        assert_eq!(pipeline.hold(["a", "b"]), 2);
        assert_eq!(pipeline.hold(["c"]), 3);
        assert_eq!(pipeline.take_held(), ["a", "b", "c"]);
        assert!(pipeline.take_held().is_empty());
        pipeline.hold(["d"]);
        pipeline.clear();
        assert!(pipeline.take_held().is_empty());
    }

    #[test]
    fn a_position_with_nothing_in_flight_is_the_callers_to_store() {
        let mut pipeline: Pipeline<u32, ()> = Pipeline::default();
        assert!(!pipeline.reach(7));
        assert_eq!(pipeline.position(), None);
    }

    #[test]
    fn clearing_falls_back_to_the_stored_position() {
        let mut pipeline: Pipeline<_, ()> = Pipeline::default();
        pipeline.push(1u32);
        assert!(pipeline.reach(5));
        pipeline.clear();
        assert_eq!(pipeline.position(), None);
        assert_eq!(pipeline.len(), 0);
        assert_eq!(pipeline.oldest(), None);
    }
}
