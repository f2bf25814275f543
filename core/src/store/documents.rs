//! The edit pipeline: a document is loaded (snapshot plus later changes, in one Automerge
//! call), one user action is applied and committed as one attributed change, and the
//! change, its outbox rows and the index rows it affects are written in one transaction.
//! Compaction folds a document's changes into a verified snapshot. Nothing after the
//! commit can fail the edit.

use automerge::AutoCommit;
use rusqlite::{OptionalExtension, Transaction, params};
use time::Date;

use super::open::classify;
use super::{Store, StoreEvent, index, oversight};
use crate::model::action_plan;
use crate::model::case_file;
use crate::model::directory;
use crate::model::doc::{self, Author, DocKind, HistoryEntry};
use crate::model::ids::StoredId;
use crate::model::ids::{AssetId, DocumentId, TeamId};
use crate::{Error, Result};

/// Which index rows an edit touches. Edits say precisely, so that recording a session does
/// not re-read the whole case history.
pub(super) enum Reindex {
    /// Recompute the caseload row of this case file from the whole document.
    Case,
    /// Recompute everything but the session aggregates: patient, status, safeguarding and
    /// what oversight indexes (holder, counters, marks, comments, ring-backs).
    CaseHeader,
    /// Fold one new session into the session aggregates.
    SessionAdded {
        start: i64,
        attended: bool,
        follow_up: Option<Date>,
    },
    /// Rewrite these assets' rows.
    Assets(Vec<AssetId>),
    /// Rebuild every row of the directory.
    WholeDirectory,
    /// Nothing indexed changed.
    Nothing,
}

impl Store {
    pub(super) fn load(&mut self, id: DocumentId) -> Result<&mut (DocKind, AutoCommit)> {
        if !self.docs.contains_key(&id) {
            let loaded = self.load_from_db(id)?;
            self.docs.insert(id, loaded, self.config.cache_docs);
        }
        self.docs.get_mut(&id).ok_or(Error::NotFound {
            kind: "document",
            id: id.to_string(),
        })
    }

    pub(super) fn load_from_db(&self, id: DocumentId) -> Result<(DocKind, AutoCommit)> {
        let row: Option<(String, Vec<u8>)> = self
            .conn
            .query_row(
                "SELECT kind, snapshot FROM documents WHERE id = ?1",
                [id.as_bytes().as_slice()],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(classify)?;
        let (kind, mut bytes) = row.ok_or(Error::NotFound {
            kind: "document",
            id: id.to_string(),
        })?;
        let mut stmt = self
            .conn
            .prepare_cached("SELECT bytes FROM changes WHERE doc_id = ?1 ORDER BY seq")?;
        let mut rows = stmt.query([id.as_bytes().as_slice()])?;
        while let Some(r) = rows.next()? {
            bytes.extend_from_slice(r.get_ref(0)?.as_blob().map_err(rusqlite::Error::from)?);
        }
        // One load call for snapshot plus changes: applying changes one call at a time costs
        // more as the document grows.
        let doc = AutoCommit::load(&bytes)
            .map_err(|e| Error::StoreCorrupt(format!("document {id}: {e}")))?;
        Ok((DocKind::parse(&kind)?, doc.with_actor(self.author.actor())))
    }

    /// Runs one user action on a document and persists it atomically. On any failure the
    /// document is left as it was, in memory and on disk.
    pub(super) fn edit<T>(
        &mut self,
        id: DocumentId,
        kind: DocKind,
        what: &str,
        action: impl FnOnce(&mut AutoCommit, &Author, i64) -> Result<T>,
        reindex: impl FnOnce(&T) -> Reindex,
    ) -> Result<T> {
        let author = self.author.clone();
        let at = self.now_millis();
        let (found, doc) = self.load(id)?;
        if *found != kind {
            return Err(Error::WrongDocumentKind {
                expected: kind.as_str(),
                found: found.as_str().to_owned(),
            });
        }
        let out = match action(doc, &author, at) {
            Ok(out) => out,
            Err(e) => {
                doc.rollback();
                return Err(e);
            }
        };
        if doc::commit(doc, &author, what, at).is_none() {
            return Ok(out);
        }
        let scope = reindex(&out);
        if let Err(e) = self.persist_change(id, kind, scope, at) {
            // The change is in memory but not on disk: forget it, reload from disk next time.
            self.docs.remove(&id);
            return Err(e);
        }
        // Committed: the edit is saved and queued, and nothing from here on may fail it (a
        // host told "failed" would retry and record it twice).
        self.compact_if_due(id);
        self.emit(id, kind);
        let _ = self.events.send(StoreEvent::LocalChange);
        Ok(out)
    }

    fn persist_change(
        &mut self,
        id: DocumentId,
        kind: DocKind,
        scope: Reindex,
        now: i64,
    ) -> Result<()> {
        let (_, doc) = self.docs.get_mut(&id).ok_or(Error::NotFound {
            kind: "document",
            id: id.to_string(),
        })?;
        let change = doc
            .get_last_local_change()
            .ok_or_else(|| Error::Malformed("no change to persist".into()))?;
        let hash = change.hash();
        let bytes = change.raw_bytes();
        let tx = self.conn.transaction()?;
        tx.execute(
            "INSERT INTO changes (doc_id, hash, bytes) VALUES (?1, ?2, ?3)",
            params![id.as_bytes().as_slice(), hash.0.as_slice(), bytes],
        )?;
        tx.execute(
            "UPDATE documents SET change_count = change_count + 1,
                 changes_since_snapshot = changes_since_snapshot + 1, updated_at = ?2 WHERE id = ?1",
            params![id.as_bytes().as_slice(), now],
        )?;
        enqueue(&tx, id, hash.0.as_slice(), bytes, now)?;
        reindex_doc(&tx, id, kind, doc, scope, now)?;
        tx.commit()?;
        Ok(())
    }

    /// Writes a brand-new document (all its changes go to the outbox), in the current team
    /// if the device has one.
    pub(super) fn insert_new(
        tx: &Transaction<'_>,
        team: Option<TeamId>,
        id: DocumentId,
        kind: DocKind,
        doc: &mut AutoCommit,
        now: i64,
    ) -> Result<()> {
        let changes = doc.get_changes(&[]);
        tx.execute(
            "INSERT INTO documents (id, kind, snapshot, change_count, updated_at, team_id,
                 changes_since_snapshot)
             VALUES (?1, ?2, ?3, 0, ?4, ?5, ?6)",
            params![
                id.as_bytes().as_slice(),
                kind.as_str(),
                doc.save(),
                now,
                team.map(|t| t.as_bytes().to_vec()),
                changes.len() as i64
            ],
        )?;
        for change in changes {
            enqueue(tx, id, change.hash().0.as_slice(), change.raw_bytes(), now)?;
        }
        Ok(())
    }

    /// Compacts `id` if it has gathered enough changes. Called after a commit, so it never
    /// fails the caller: compaction is housekeeping, its failure loses nothing (the changes
    /// stay as they are) and it is tried again after the next change.
    pub(super) fn compact_if_due(&mut self, id: DocumentId) {
        let due = self
            .conn
            .query_row(
                "SELECT change_count FROM documents WHERE id = ?1",
                [id.as_bytes().as_slice()],
                |r| r.get::<_, i64>(0),
            )
            .map(|count| count >= i64::from(self.config.compact_after));
        let result = match due {
            Ok(true) => self.compact(id),
            Ok(false) => Ok(()),
            Err(e) => Err(e.into()),
        };
        if let Err(e) = result {
            tracing::warn!(doc = %id, error = %e, "compaction failed; the changes are kept as they are");
        }
    }

    /// Folds a document's changes into a new snapshot. The snapshot is verified to load
    /// with the same heads before the changes it replaces are deleted, in one transaction.
    pub fn compact(&mut self, id: DocumentId) -> Result<()> {
        let (_, doc) = self.load(id)?;
        let heads = doc.get_heads();
        let snapshot = doc.save();
        let check = AutoCommit::load(&snapshot)?.get_heads();
        if check != heads {
            return Err(Error::Malformed(format!(
                "compaction of {id} would lose changes; kept the old form"
            )));
        }
        let tx = self.conn.transaction()?;
        tx.execute(
            "UPDATE documents SET snapshot = ?2, change_count = 0 WHERE id = ?1",
            params![id.as_bytes().as_slice(), snapshot],
        )?;
        let removed = tx.execute(
            "DELETE FROM changes WHERE doc_id = ?1",
            [id.as_bytes().as_slice()],
        )?;
        tx.commit()?;
        tracing::debug!(doc = %id, removed, bytes = snapshot.len(), "document compacted");
        Ok(())
    }

    /// Rebuilds every derived index from the documents.
    pub fn rebuild_indexes(&mut self) -> Result<()> {
        let ids: Vec<(Vec<u8>, String)> = {
            let mut stmt = self.conn.prepare("SELECT id, kind FROM documents")?;
            stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<rusqlite::Result<_>>()?
        };
        let mut skipped = 0usize;
        for (id, kind) in ids {
            let id = DocumentId::from_stored(&id)?;
            match self.reindex_one(id, &kind) {
                Ok(()) => {}
                // The database failing is fatal; a document the index cannot read is left
                // out (as a pulled one is), so it cannot stop every other one being indexed.
                Err(e @ (Error::Sqlite(_) | Error::StorageFull | Error::Io(_))) => return Err(e),
                Err(e) => {
                    skipped += 1;
                    tracing::warn!(doc = %id, error = %e, "document not indexed");
                }
            }
        }
        tracing::info!(skipped, "indexes rebuilt");
        Ok(())
    }

    fn reindex_one(&mut self, id: DocumentId, kind: &str) -> Result<()> {
        let kind = DocKind::parse(kind)?;
        let (_, mut doc) = self.load_from_db(id)?;
        let now = self.now_millis();
        let tx = self.conn.transaction()?;
        let scope = if kind == DocKind::Directory {
            Reindex::WholeDirectory
        } else {
            Reindex::Case
        };
        reindex_doc(&tx, id, kind, &mut doc, scope, now)?;
        tx.commit()?;
        Ok(())
    }

    /// Drops every loaded document from memory (they reload from disk on next use): for a
    /// host's low-memory signal, and for measuring cold loads.
    pub fn unload_documents(&mut self) {
        self.docs.clear();
    }

    /// The kind of a stored document.
    pub fn kind_of(&self, id: DocumentId) -> Result<DocKind> {
        let kind: Option<String> = self
            .conn
            .query_row(
                "SELECT kind FROM documents WHERE id = ?1",
                [id.as_bytes().as_slice()],
                |r| r.get(0),
            )
            .optional()?;
        DocKind::parse(&kind.ok_or(Error::NotFound {
            kind: "document",
            id: id.to_string(),
        })?)
    }

    /// Who changed what and when in a document, oldest first.
    pub fn history(&mut self, id: DocumentId) -> Result<Vec<HistoryEntry>> {
        let (_, doc) = self.load(id)?;
        Ok(doc::history(doc))
    }

    /// The document's current Automerge heads (hex), for comparing replicas.
    pub fn heads(&mut self, id: DocumentId) -> Result<Vec<String>> {
        let (_, doc) = self.load(id)?;
        Ok(doc.get_heads().iter().map(|h| h.to_string()).collect())
    }

    /// Changes waiting for the relay.
    pub fn outbox_len(&self) -> Result<u64> {
        let n: i64 = self
            .conn
            .query_row("SELECT count(*) FROM outbox", [], |r| r.get(0))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// Ids of every stored document of `kind`.
    pub fn document_ids(&self, kind: DocKind) -> Result<Vec<DocumentId>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT id FROM documents WHERE kind = ?1 ORDER BY id")?;
        let rows = stmt.query_map([kind.as_str()], |r| r.get::<_, Vec<u8>>(0))?;
        rows.map(|r| DocumentId::from_stored(&r?)).collect()
    }
}

/// Queues a local change for the relay: once for the document's own team, and once more
/// for each team it is shared into.
fn enqueue(
    tx: &Transaction<'_>,
    id: DocumentId,
    hash: &[u8],
    bytes: &[u8],
    now: i64,
) -> Result<()> {
    tx.execute(
        "INSERT INTO outbox (doc_id, hash, bytes, created_at) VALUES (?1, ?2, ?3, ?4)",
        params![id.as_bytes().as_slice(), hash, bytes, now],
    )?;
    tx.execute(
        "INSERT INTO outbox (doc_id, hash, bytes, created_at, team_id)
         SELECT ?1, ?2, ?3, ?4, team_id FROM document_shares WHERE doc_id = ?1",
        params![id.as_bytes().as_slice(), hash, bytes, now],
    )?;
    Ok(())
}

pub(super) fn reindex_doc(
    tx: &Transaction<'_>,
    id: DocumentId,
    kind: DocKind,
    doc: &mut AutoCommit,
    scope: Reindex,
    now: i64,
) -> Result<()> {
    match (kind, scope) {
        (_, Reindex::Nothing) | (DocKind::PrivateNotes | DocKind::TeamSettings, _) => Ok(()),
        (DocKind::ActionPlan, _) => {
            super::connections::update_connections(tx, id, &action_plan::read(doc)?)
        }
        (DocKind::CaseFile, Reindex::CaseHeader) => {
            index::update_case_header(tx, id, &case_file::read_header(doc)?, now)?;
            oversight::update_summary(tx, id, &case_file::read_summary(doc)?)
        }
        (
            DocKind::CaseFile,
            Reindex::SessionAdded {
                start,
                attended,
                follow_up,
            },
        ) => index::add_session(tx, id, start, attended, follow_up, now),
        (DocKind::CaseFile, _) => {
            index::update_case(tx, id, &case_file::read(doc)?, now)?;
            oversight::update_summary(tx, id, &case_file::read_summary(doc)?)
        }
        (DocKind::Directory, Reindex::Assets(ids)) => {
            let assets = ids
                .iter()
                .map(|a| directory::read_asset(doc, *a))
                .collect::<Result<Vec<_>>>()?;
            index::update_assets(tx, id, &assets)
        }
        (DocKind::Directory, _) => {
            index::clear_directory(tx, id)?;
            index::update_assets(tx, id, &directory::read_all(doc)?)
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::keystore::MemoryKeyStore;
    use crate::model::case_file::{NewPatient, NewSession, SessionMode};
    use crate::store::{Store, StoreConfig, StoreEvent};

    /// Compaction runs after an edit has committed. When it fails, the edit is still
    /// saved, queued and announced, and the caller is told it succeeded: a host told
    /// "failed" would retry and record the session twice.
    #[test]
    fn a_failed_compaction_never_fails_the_edit_it_follows() {
        let dir = tempfile::tempdir().unwrap();
        let keys = MemoryKeyStore::default();
        let mut config = StoreConfig::new(dir.path(), "Sam");
        config.compact_after = 1;
        let mut store = Store::create(&config, &keys).unwrap();
        let case = store
            .create_case_file(NewPatient::named("Ada"))
            .unwrap()
            .case_id;
        // Every compaction from now on fails inside its transaction.
        store
            .conn
            .execute_batch(
                "CREATE TRIGGER no_compaction BEFORE UPDATE OF snapshot ON documents
                 BEGIN SELECT RAISE(ABORT, 'compaction refused'); END;",
            )
            .unwrap();
        let outbox = store.outbox_len().unwrap();
        let mut events = store.subscribe();
        let session = store
            .record_session(
                case,
                &NewSession {
                    start: 1_780_000_000_000,
                    duration_minutes: 30,
                    mode: SessionMode::Phone,
                    attended: true,
                    note: "Talked about the allotment".into(),
                    holding_functions: vec![],
                    follow_up: None,
                },
            )
            .expect("the edit succeeds although compaction failed");
        assert_eq!(store.outbox_len().unwrap(), outbox + 1, "queued once");
        let mut seen = Vec::new();
        while let Ok(e) = events.try_recv() {
            seen.push(e);
        }
        assert!(seen.contains(&StoreEvent::LocalChange), "{seen:?}");
        assert!(seen.contains(&StoreEvent::CaseloadChanged), "{seen:?}");
        // The change is kept as a change, and reads back after a reopen.
        let pending: i64 = store
            .conn
            .query_row("SELECT count(*) FROM changes", [], |r| r.get(0))
            .unwrap();
        assert!(pending > 0);
        drop(store);
        let mut store = Store::open(&config, &keys).unwrap();
        let file = store.case_file(case).unwrap();
        assert_eq!(file.sessions.len(), 1);
        assert_eq!(file.sessions[0].id, session);
    }
}
