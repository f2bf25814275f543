//! The documents a store keeps loaded: the least recently used goes first when it is full.
//!
//! Loading a document costs a database read and an Automerge load (about 2 ms for a case
//! file of a hundred sessions); a link worker's day, or a page of changes pulled from a
//! colleague, touches the same documents again and again. An arbitrary eviction (what this
//! replaced) threw out documents about to be used as often as idle ones, so a burst of edits
//! over more cases than the cache holds reloaded nearly every one.

use std::collections::HashMap;

use automerge::AutoCommit;

use crate::model::doc::DocKind;
use crate::model::ids::DocumentId;

/// Loaded documents with their kind, bounded, least recently used evicted first.
#[derive(Default)]
pub(super) struct DocCache {
    entries: HashMap<DocumentId, Entry>,
    /// Ticks up at every use; an entry's tick is when it was last used.
    tick: u64,
}

struct Entry {
    doc: (DocKind, AutoCommit),
    used: u64,
}

impl DocCache {
    /// Whether `id` is loaded (not counted as a use).
    pub(super) fn contains_key(&self, id: &DocumentId) -> bool {
        self.entries.contains_key(id)
    }

    /// How many documents are loaded.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.entries.len()
    }

    /// The loaded document `id`, marked used.
    pub(super) fn get_mut(&mut self, id: &DocumentId) -> Option<&mut (DocKind, AutoCommit)> {
        self.tick += 1;
        let tick = self.tick;
        self.entries.get_mut(id).map(|e| {
            e.used = tick;
            &mut e.doc
        })
    }

    /// Keeps `doc` as `id`, marked used. When that would make more than `capacity` (at
    /// least one), the least recently used other document goes first. (A scan of the
    /// entries: a few hundred comparisons, nothing next to the load it saves.)
    pub(super) fn insert(&mut self, id: DocumentId, doc: (DocKind, AutoCommit), capacity: usize) {
        if !self.entries.contains_key(&id) && self.entries.len() >= capacity.max(1) {
            let oldest = self
                .entries
                .iter()
                .min_by_key(|(_, e)| e.used)
                .map(|(k, _)| *k);
            if let Some(oldest) = oldest {
                self.entries.remove(&oldest);
            }
        }
        self.tick += 1;
        self.entries.insert(
            id,
            Entry {
                doc,
                used: self.tick,
            },
        );
    }

    /// Takes `id` out of the cache.
    pub(super) fn remove(&mut self, id: &DocumentId) -> Option<(DocKind, AutoCommit)> {
        self.entries.remove(id).map(|e| e.doc)
    }

    /// Forgets every document.
    pub(super) fn clear(&mut self) {
        self.entries.clear();
    }
}

#[cfg(test)]
mod tests {
    use automerge::AutoCommit;

    use super::DocCache;
    use crate::model::doc::DocKind;
    use crate::model::ids::DocumentId;

    fn doc() -> (DocKind, AutoCommit) {
        (DocKind::CaseFile, AutoCommit::new())
    }

    #[test]
    fn the_least_recently_used_document_goes_first() {
        let mut cache = DocCache::default();
        let ids: Vec<DocumentId> = (0..4u8).map(|i| DocumentId([i; 16])).collect();
        for id in &ids[..3] {
            cache.insert(*id, doc(), 3);
        }
        // 0 is used again: 1 is now the least recently used.
        assert!(cache.get_mut(&ids[0]).is_some());
        cache.insert(ids[3], doc(), 3);
        assert_eq!(cache.len(), 3);
        assert!(!cache.contains_key(&ids[1]), "the least recently used went");
        for id in [ids[0], ids[2], ids[3]] {
            assert!(cache.contains_key(&id));
        }
        // Putting back a document already there evicts nothing.
        cache.insert(ids[2], doc(), 3);
        assert_eq!(cache.len(), 3);
        assert!(cache.remove(&ids[2]).is_some());
        assert_eq!(cache.len(), 2);
        cache.clear();
        assert_eq!(cache.len(), 0);
    }
}
