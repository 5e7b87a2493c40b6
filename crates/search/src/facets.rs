//! Facet counting for the embedded index over a string fast field.
//!
//! Every document stores its facet values (`ipc_class=G06`, `region=630102`,
//! …) in one multi-valued fast column. Counting is then one array increment
//! per value of each matching document, by the column's term ordinals, with
//! the ordinals turned into strings once per segment at the end. tantivy's
//! hierarchical FacetCollector, measured on 100k documents, took 60 ms for a
//! match-all query; this takes a few.

use std::collections::HashMap;

use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::StrColumn;
use tantivy::{DocId, Score, SegmentOrdinal, SegmentReader};

use crate::model::Facets;

/// The fast field holding `name=value` facet entries.
pub const FIELD: &str = "facet_values";

/// One facet entry as stored.
pub fn entry(name: &str, value: &str) -> String {
    format!("{name}={value}")
}

pub struct FacetCounts;

pub struct SegmentFacetCounts {
    column: Option<StrColumn>,
    counts: Vec<u64>,
}

impl Collector for FacetCounts {
    type Fruit = HashMap<String, u64>;
    type Child = SegmentFacetCounts;

    fn for_segment(&self, _segment: SegmentOrdinal, reader: &SegmentReader) -> tantivy::Result<SegmentFacetCounts> {
        let column = reader.fast_fields().str(FIELD)?;
        let terms = column.as_ref().map_or(0, |c| c.num_terms());
        Ok(SegmentFacetCounts { column, counts: vec![0; terms] })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, fruits: Vec<HashMap<String, u64>>) -> tantivy::Result<HashMap<String, u64>> {
        let mut merged = HashMap::new();
        for fruit in fruits {
            for (entry, count) in fruit {
                *merged.entry(entry).or_insert(0) += count;
            }
        }
        Ok(merged)
    }
}

impl SegmentCollector for SegmentFacetCounts {
    type Fruit = HashMap<String, u64>;

    fn collect(&mut self, doc: DocId, _score: Score) {
        if let Some(column) = &self.column {
            for ord in column.ords().values_for_doc(doc) {
                if let Some(count) = self.counts.get_mut(ord as usize) {
                    *count += 1;
                }
            }
        }
    }

    fn harvest(self) -> HashMap<String, u64> {
        let mut fruit = HashMap::new();
        let Some(column) = self.column else {
            return fruit;
        };
        // One sequential pass over the dictionary: looking ordinals up one
        // by one re-decodes a dictionary block each time.
        let ords: Vec<u64> = (0..self.counts.len()).filter(|&o| self.counts[o] > 0).map(|o| o as u64).collect();
        let mut counts = ords.iter().map(|&o| self.counts[o as usize]);
        let _ = column.dictionary().sorted_ords_to_term_cb(&ords, |term| {
            if let (Some(count), Ok(text)) = (counts.next(), std::str::from_utf8(term)) {
                fruit.insert(text.to_string(), count);
            }
        });
        fruit
    }
}

/// Entries counted, grouped by facet name; every name in `names` present.
pub fn group(counts: HashMap<String, u64>, names: &[&str]) -> Facets {
    let mut facets: Facets = names.iter().map(|n| (n.to_string(), Default::default())).collect();
    for (entry, count) in counts {
        if let Some((name, value)) = entry.split_once('=')
            && let Some(values) = facets.get_mut(name)
        {
            values.insert(value.to_string(), count);
        }
    }
    facets
}
