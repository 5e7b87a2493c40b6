//! What a search reads from a segment once and keeps: a segment never
//! changes, so a table made from it stays true until the segment is merged
//! away, when the table is dropped.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use tantivy::index::SegmentId;
use tantivy::{Searcher, SegmentReader};

use crate::index::SearchError;

/// One `T` per segment searched lately, by segment.
pub(super) struct SegmentTables<T> {
    by_segment: Mutex<HashMap<SegmentId, Arc<T>>>,
}

impl<T> Default for SegmentTables<T> {
    fn default() -> Self {
        Self { by_segment: Mutex::default() }
    }
}

impl<T> SegmentTables<T> {
    /// The tables of `searcher`'s segments, in segment order: those kept,
    /// and the missing ones made by `make` now. Tables of segments the
    /// searcher no longer has (merged away) are dropped.
    pub(super) fn of(
        &self,
        searcher: &Searcher,
        make: impl Fn(&SegmentReader) -> Result<T, SearchError>,
    ) -> Result<Vec<Arc<T>>, SearchError> {
        // A table is whole once inserted, so a panic elsewhere leaves none
        // half-made. The lock is held while a missing table is made (a few
        // milliseconds for a large segment, once after each merge) so that
        // two searches do not make the same one.
        let mut kept = self.by_segment.lock().unwrap_or_else(PoisonError::into_inner);
        let mut tables = Vec::with_capacity(searcher.segment_readers().len());
        for reader in searcher.segment_readers() {
            let table = match kept.get(&reader.segment_id()) {
                Some(table) => table.clone(),
                None => {
                    let table = Arc::new(make(reader)?);
                    kept.insert(reader.segment_id(), table.clone());
                    table
                }
            };
            tables.push(table);
        }
        if kept.len() > tables.len() {
            kept.retain(|id, _| searcher.segment_readers().iter().any(|reader| reader.segment_id() == *id));
        }
        Ok(tables)
    }

    /// How many tables are kept.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.by_segment.lock().unwrap_or_else(PoisonError::into_inner).len()
    }
}
