//! Every document's key (`<type>:<id>`), a table per segment held in memory.
//!
//! Matching reads the keys of its hundred candidates. Read from the key
//! column, each costs a block of the column's dictionary to decode (about
//! 5 µs; the hundred ords lie in different blocks, so reading them in order
//! does not help): 8 % of a match. A segment never changes, so its keys are
//! read once, by one pass over that dictionary, into a table that answers
//! in nanoseconds, and the table is kept until the segment is merged away.
//! It costs the keys' bytes and eight bytes a document: about 4 MB at
//! 110,000 documents, 35 MB at a million.

use tantivy::columnar::Column;
use tantivy::{DocId, SegmentReader};

use super::segment_tables::SegmentTables;
use super::{index_error, key_column};
use crate::index::SearchError;

/// One segment's keys.
pub(super) struct SegmentKeys {
    /// Each document's key, as an ordinal into the column's dictionary.
    ords: Column<u64>,
    /// The dictionary's keys one after another, in ordinal order.
    text: String,
    /// Where each ordinal's key ends in `text` (it starts where the one
    /// before it ends).
    ends: Vec<u32>,
}

impl SegmentKeys {
    pub(super) fn read(reader: &SegmentReader) -> Result<Self, SearchError> {
        let (dictionary, ords) = key_column(reader)?.into_parts();
        let mut text = String::new();
        let mut ends = Vec::with_capacity(dictionary.num_terms());
        let mut terms = dictionary.stream().map_err(index_error)?;
        while terms.advance() {
            text.push_str(std::str::from_utf8(terms.key()).map_err(index_error)?);
            ends.push(u32::try_from(text.len()).map_err(index_error)?);
        }
        Ok(Self { ords, text, ends })
    }

    /// `doc`'s key; `None` when it has none or is past the segment's end
    /// (where the column would read on into other data).
    pub(super) fn get(&self, doc: DocId) -> Option<&str> {
        if doc >= self.ords.num_docs() {
            return None;
        }
        let ord = usize::try_from(self.ords.first(doc)?).ok()?;
        let start = match ord.checked_sub(1) {
            Some(before) => *self.ends.get(before)?,
            None => 0,
        };
        self.text.get(start as usize..*self.ends.get(ord)? as usize)
    }
}

/// The key tables of the segments searched lately (see [`SegmentTables`]).
pub(super) type KeyTables = SegmentTables<SegmentKeys>;

#[cfg(test)]
mod tests {
    use super::SegmentKeys;
    use crate::embedded::{EmbeddedIndex, key_column, read_key};
    use crate::index::{IndexBatch, SearchIndex};
    use crate::model::SearchDocument;

    /// Every document of every segment: the table gives what the key column
    /// gives, after several commits, a replaced and a deleted document, and
    /// a merge, which leaves only the merged segment's table kept.
    #[tokio::test]
    async fn the_tables_give_the_key_columns_keys() {
        let dir = tempfile::tempdir().unwrap();
        let index = EmbeddedIndex::open(dir.path()).unwrap();
        let page = |from: usize, cursor: i64| IndexBatch {
            upserts: (from..from + 7)
                .map(|n| SearchDocument { id: format!("证书-{n}\"x"), ..crate::model::tests::doc() })
                .collect(),
            deletes: if from == 14 { vec!["listing:证书-2\"x".into()] } else { vec![] },
            cursor,
        };
        for (n, from) in [0, 7, 14, 3].into_iter().enumerate() {
            index.apply(page(from, n as i64)).await.unwrap();
        }
        let check = |index: &EmbeddedIndex| {
            let searcher = index.inner.reader.searcher();
            let tables = index.inner.keys.of(&searcher, SegmentKeys::read).unwrap();
            assert_eq!(tables.len(), searcher.segment_readers().len());
            let mut seen = 0;
            for (reader, table) in searcher.segment_readers().iter().zip(&tables) {
                let column = key_column(reader).unwrap();
                let mut key = String::new();
                for doc in 0..reader.max_doc() {
                    assert!(read_key(&column, doc, &mut key));
                    assert_eq!(table.get(doc), Some(key.as_str()), "doc {doc}");
                    seen += 1;
                }
                assert_eq!(table.get(reader.max_doc()), None, "past the last document");
            }
            assert_eq!(index.inner.keys.len(), tables.len(), "only these are kept");
            seen
        };
        assert!(index.inner.reader.searcher().segment_readers().len() > 1);
        assert_eq!(check(&index), 28, "deleted and replaced documents keep their keys until a merge");
        index.compact().await.unwrap();
        assert_eq!(index.inner.reader.searcher().segment_readers().len(), 1);
        assert_eq!(check(&index), 20, "21 ids, one deleted");
    }
}
