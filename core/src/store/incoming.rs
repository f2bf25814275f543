//! Incoming sync: applying a checked page of envelopes in one transaction.
//!
//! Changes are grouped by document and each document gets ONE Automerge call with all of
//! them (`load_incremental` over the concatenated chunks): applying changes one call at a
//! time costs ~1.4 ms each on a 10,000-change document, batched ~8 µs. The new changes,
//! new documents, refusals, derived indexes and the team cursor then commit together, so
//! a crash leaves either the whole page applied or none of it.

use automerge::{AutoCommit, ChangeHash, ROOT};
use holdfast_protocol::Kind;
use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};

use super::Store;
use super::documents::{Reindex, reindex_doc};
use super::open::classify;
use super::remote_scope::{self, CaseScope};
use crate::access::envelopes::{WAITING_FOR_ITS_DOCUMENT, WAITING_FOR_NOTES_KEY};
use crate::access::{Opened, OpenedPage, Refusal};
use crate::model::case_file;
use crate::model::doc::{self, DocKind};
use crate::model::ids::{DocumentId, TeamId};
use crate::{Error, Result};

/// What applying one page did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageOutcome {
    /// Envelopes applied.
    pub applied: usize,
    /// Documents that changed.
    pub documents: usize,
    /// Documents seen for the first time.
    pub new_documents: usize,
    /// Envelopes refused.
    pub refused: usize,
    /// Envelopes written by this device (skipped).
    pub own: usize,
    /// The team cursor after the page.
    pub cursor: u64,
}

/// One document's share of a page, worked out before the transaction.
struct DocWork {
    id: DocumentId,
    kind: DocKind,
    doc: AutoCommit,
    /// For a new document that came as one snapshot, loaded strictly: its bytes, stored as
    /// they are.
    as_received: Option<Vec<u8>>,
    is_new: bool,
    /// Changes new to this device, to append to the document's stored changes.
    changes: Vec<(ChangeHash, Vec<u8>)>,
    /// Some changes wait for dependencies that have not arrived: store the whole document
    /// (its save keeps such changes) instead of appending, so nothing received is lost.
    rewrite: bool,
    /// A snapshot arrived: another device has just uploaded one, so this one need not.
    snapshot_seen: bool,
    /// The last snapshot of it in the page (the one the relay's compact pulls now serve:
    /// the latest) names exactly this document's heads as this device now holds it, with
    /// nothing after its document chunk: the relay holds all this device has of it, so a
    /// re-upload this device owes a restored relay is not needed
    /// ([`queue_pending_reuploads`]). Recorded for every page with a snapshot, so a later
    /// snapshot that holds less (a device that uploaded again without what another had)
    /// makes it owed again.
    ///
    /// [`queue_pending_reuploads`]: crate::store::Store::queue_pending_reuploads
    relay_holds_all: bool,
    /// Set once indexed: something outside a case file's sessions may have changed.
    header_changed: bool,
}

/// For a document known here that arrived through `team`: records `team` as one of its
/// teams, and queues `changes` for every other team it is in. Returns how many outbox rows
/// it queued.
fn forward_shared(
    tx: &rusqlite::Transaction<'_>,
    team: TeamId,
    id: DocumentId,
    changes: &[(ChangeHash, Vec<u8>)],
    now: i64,
) -> Result<usize> {
    let d = id.as_bytes().as_slice();
    let t = team.as_bytes().as_slice();
    tx.execute(
        "INSERT OR IGNORE INTO document_shares (doc_id, team_id)
         SELECT ?1, ?2 FROM documents WHERE id = ?1 AND team_id IS NOT ?2",
        params![d, t],
    )?;
    let others: Vec<Vec<u8>> = tx
        .prepare_cached(
            "SELECT team_id FROM documents WHERE id = ?1 AND team_id IS NOT NULL AND team_id != ?2
             UNION SELECT team_id FROM document_shares WHERE doc_id = ?1 AND team_id != ?2",
        )?
        .query_map(params![d, t], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let mut insert = tx.prepare_cached(
        "INSERT INTO outbox (doc_id, hash, bytes, created_at, team_id) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    let mut queued = 0;
    for other in &others {
        for (hash, bytes) in changes {
            queued += insert.execute(params![d, hash.0.as_slice(), bytes, now, other])?;
        }
    }
    Ok(queued)
}

/// Why the envelopes of a document new to this device were refused when what they make is
/// not a Holdfast document (no known `kind` at its root, and nothing it waits for). Before
/// [`WAITING_FOR_ITS_DOCUMENT`], edits that arrived before their document were refused so
/// too: a document that has come since is pulled again for them
/// ([`Store::documents_to_pull_again`]).
pub(crate) const NOT_A_HOLDFAST_DOCUMENT: &str = "not a Holdfast document";

impl Store {
    /// Applies a checked page to `team`: new changes, new documents, indexes, refusals and
    /// the cursor, in one transaction. With `bootstrap`, snapshots of documents already
    /// here are loaded too; otherwise they are redundant (every change they hold arrives
    /// as a change batch) and only reset the snapshot counter.
    pub fn apply_page(
        &mut self,
        team: TeamId,
        page: OpenedPage,
        bootstrap: bool,
    ) -> Result<PageOutcome> {
        self.apply_opened(team, page, bootstrap, None)
    }

    /// Applies a page of document `doc` pulled again from the start (`?doc=`), now that
    /// what its envelopes were set aside for has come: private notes' key
    /// ([`WAITING_FOR_NOTES_KEY`]), or the document itself ([`WAITING_FOR_ITS_DOCUMENT`]).
    /// Only its envelopes at or below the team cursor (those above come with the team's
    /// next pull). The team cursor does not move; those set-aside records go, and an
    /// envelope refused again for another reason is recorded anew.
    pub fn apply_document_again(
        &mut self,
        team: TeamId,
        doc: DocumentId,
        page: OpenedPage,
    ) -> Result<PageOutcome> {
        self.apply_opened(team, page, false, Some(doc))
    }

    /// [`Store::apply_page`]; with `again`, [`Store::apply_document_again`] of it.
    fn apply_opened(
        &mut self,
        team: TeamId,
        page: OpenedPage,
        bootstrap: bool,
        again: Option<DocumentId>,
    ) -> Result<PageOutcome> {
        let cursor = self.team(team)?.cursor;
        // A team page takes what lies past the cursor; a document pulled again, what lies
        // at or below it (and only that document).
        let wanted = |seq: u64, doc: DocumentId| match again {
            None => seq > cursor,
            Some(d) => seq <= cursor && doc == d,
        };
        let mut refused: Vec<Refusal> = page
            .refused
            .into_iter()
            .filter(|r| wanted(r.seq, r.doc))
            .collect();
        let mut outcome = PageOutcome {
            own: page.own,
            ..PageOutcome::default()
        };

        // What this page says the relay holds: its last envelope's id, and each document's
        // highest sequence number here (own envelopes included).
        let checkpoint = page.checkpoint.filter(|_| again.is_none());
        let seen: Vec<(DocumentId, u64)> = page
            .items
            .iter()
            .map(|i| (i.doc, i.seq))
            .chain(page.own_docs.iter().copied())
            .filter(|(doc, seq)| wanted(*seq, *doc))
            .collect();
        // The envelopes this page served (applied or refused): a document pulled again
        // clears the set-aside records of these, and only these (a relay that leaves one
        // out cannot clear its record).
        let served: Vec<holdfast_protocol::EnvelopeId> = match again {
            Some(_) => page
                .items
                .iter()
                .filter(|i| wanted(i.seq, i.doc))
                .map(|i| i.id)
                .chain(refused.iter().map(|r| r.id))
                .collect(),
            None => Vec::new(),
        };
        // Group by document, in sequence order.
        let mut groups: Vec<(DocumentId, Vec<Opened>)> = Vec::new();
        for item in page.items.into_iter().filter(|i| wanted(i.seq, i.doc)) {
            match groups.iter_mut().find(|(d, _)| *d == item.doc) {
                Some((_, items)) => items.push(item),
                None => groups.push((item.doc, vec![item])),
            }
        }

        let mut work = Vec::with_capacity(groups.len());
        // Whose envelopes changed which document: a revoker snapshots what the revoked
        // device wrote.
        let mut authored: std::collections::HashSet<(DocumentId, crate::model::ids::DeviceId)> =
            std::collections::HashSet::new();
        for (id, items) in groups {
            match self.prepare_doc(team, id, &items, bootstrap) {
                Ok((w, bad)) => {
                    for item in &items {
                        if !bad.iter().any(|b| b.id == item.id) {
                            authored.insert((id, item.author));
                        }
                    }
                    outcome.applied += items.len() - bad.len();
                    refused.extend(bad);
                    if let Some(w) = w {
                        work.push(w);
                    }
                }
                Err(reason) => {
                    // Nothing of this document is applied; its envelopes are refused.
                    self.docs.remove(&id);
                    refused.extend(items.iter().map(|i| refusal(i, &reason)));
                }
            }
        }

        if again.is_some() {
            // History pulled again: its snapshots are old news here, and say nothing of
            // what the relay holds now (`relay_holds_all`) or of when this device last
            // snapshotted.
            for w in &mut work {
                w.snapshot_seen = false;
            }
        }
        let next = page.next.max(cursor);
        let now = self.now_millis();
        let tx = self.conn.transaction()?;
        // Changes of a shared directory queued for its other teams: this device must push.
        let mut forwarded = 0;
        for w in &mut work {
            let id = w.id.as_bytes().as_slice();
            let n = w.changes.len() as i64;
            if w.is_new {
                tx.execute(
                    "INSERT INTO documents (id, kind, snapshot, change_count, updated_at, team_id,
                         changes_since_snapshot)
                     VALUES (?1, ?2, ?3, 0, ?4, ?5, ?6)",
                    params![
                        id,
                        w.kind.as_str(),
                        w.as_received.take().unwrap_or_else(|| w.doc.save()),
                        now,
                        team.as_bytes().as_slice(),
                        if w.snapshot_seen { 0 } else { n }
                    ],
                )?;
            } else if w.rewrite {
                tx.execute(
                    "UPDATE documents SET snapshot = ?2, change_count = 0, updated_at = ?3 WHERE id = ?1",
                    params![id, w.doc.save(), now],
                )?;
                tx.execute("DELETE FROM changes WHERE doc_id = ?1", [id])?;
            } else {
                let mut insert = tx.prepare_cached(
                    "INSERT INTO changes (doc_id, hash, bytes) VALUES (?1, ?2, ?3)",
                )?;
                for (hash, bytes) in &w.changes {
                    insert.execute(params![id, hash.0.as_slice(), bytes])?;
                }
                tx.execute(
                    "UPDATE documents SET change_count = change_count + ?2, updated_at = ?3 WHERE id = ?1",
                    params![id, n, now],
                )?;
            }
            if w.snapshot_seen {
                tx.execute(
                    "UPDATE pending_reuploads SET held = ?3 WHERE team_id = ?1 AND doc_id = ?2",
                    params![team.as_bytes().as_slice(), id, w.relay_holds_all],
                )?;
            }
            if !w.is_new {
                if w.snapshot_seen {
                    tx.execute(
                        "UPDATE documents SET changes_since_snapshot = 0 WHERE id = ?1",
                        [id],
                    )?;
                } else {
                    tx.execute(
                        "UPDATE documents SET changes_since_snapshot = changes_since_snapshot + ?2
                         WHERE id = ?1",
                        params![id, n],
                    )?;
                }
            }
            // A directory shared across teams: note that it arrived through this team too,
            // and forward the changes new here into its other teams (this device bridges).
            if w.kind == DocKind::Directory && !w.is_new {
                forwarded += forward_shared(&tx, team, w.id, &w.changes, now)?;
            }
            match reindex_remote(&tx, w, now) {
                Ok(header) => w.header_changed = header,
                // The database failing is fatal; a remote document the index cannot read
                // must not stall the team's sync (the document itself is kept as received).
                // Fatal above all on a full disk: SQLite may have rolled the transaction
                // back already, and statements after it would each commit on their own
                // (the cursor moved past a page that was not stored).
                Err(
                    e @ (Error::Sqlite(_)
                    | Error::StorageFull
                    | Error::StoreCorrupt(_)
                    | Error::Io(_)),
                ) => {
                    return Err(e);
                }
                Err(e) => tracing::warn!(doc = %w.id, error = %e, "remote document not indexed"),
            }
        }
        {
            let mut author = tx.prepare_cached(
                "INSERT OR IGNORE INTO document_authors (team_id, author, doc_id) VALUES (?1, ?2, ?3)",
            )?;
            for (doc, by) in &authored {
                author.execute(params![
                    team.as_bytes().as_slice(),
                    by.as_bytes().as_slice(),
                    doc.as_bytes().as_slice()
                ])?;
            }
        }
        if again.is_some() {
            // Set aside for want of the key or of the document, which has come (or refused
            // as not a Holdfast document before edits waited for their document): applied
            // now, or refused anew below for another reason.
            let mut clear = tx.prepare_cached(
                "DELETE FROM refused WHERE team_id = ?1 AND id = ?2 AND reason IN (?3, ?4, ?5)",
            )?;
            for id in &served {
                clear.execute(params![
                    team.as_bytes().as_slice(),
                    id.as_bytes().as_slice(),
                    WAITING_FOR_NOTES_KEY,
                    WAITING_FOR_ITS_DOCUMENT,
                    NOT_A_HOLDFAST_DOCUMENT
                ])?;
            }
        }
        {
            // Pulled again, an envelope refused before keeps its first record.
            let mut record = tx.prepare_cached(if again.is_some() {
                "INSERT OR IGNORE INTO refused (id, team_id, seq, doc_id, author, reason, refused_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
            } else {
                "INSERT OR REPLACE INTO refused (id, team_id, seq, doc_id, author, reason, refused_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
            })?;
            for r in &refused {
                record.execute(params![
                    r.id.as_bytes().as_slice(),
                    team.as_bytes().as_slice(),
                    i64::try_from(r.seq).unwrap_or(i64::MAX),
                    r.doc.as_bytes().as_slice(),
                    r.author.as_bytes().as_slice(),
                    r.reason,
                    now
                ])?;
                tracing::warn!(team = %team, envelope = %r.id, seq = r.seq, reason = %r.reason, "envelope refused");
            }
        }
        super::checkpoints::record_document_seqs(&tx, team, seen)?;
        if let Some((seq, id)) = checkpoint.filter(|(seq, _)| *seq > cursor && *seq <= next) {
            super::checkpoints::record_checkpoint(&tx, team, seq, id)?;
        }
        if again.is_none() {
            let next_i = i64::try_from(next).unwrap_or(i64::MAX);
            tx.execute(
                "UPDATE teams SET cursor = max(cursor, ?2), head_seen = max(head_seen, ?2),
                     last_pull_at = ?3 WHERE id = ?1",
                params![team.as_bytes().as_slice(), next_i, now],
            )?;
        }
        tx.commit()?;

        outcome.documents = work.len();
        outcome.new_documents = work.iter().filter(|w| w.is_new).count();
        outcome.refused = refused.len();
        outcome.cursor = if again.is_some() { cursor } else { next };
        let touched: Vec<DocumentId> = work.iter().map(|w| w.id).collect();
        // A case file whose header changed here (not one first arriving: a bootstrap would
        // load every plan; nor one that only gained sessions) brings its plan's "ended" in
        // line with its status, in case the device that closed or reopened it could not; the
        // next open mends the rest.
        let cases: Vec<DocumentId> = work
            .iter()
            .filter(|w| w.kind == DocKind::CaseFile && !w.is_new && w.header_changed)
            .map(|w| w.id)
            .collect();
        for w in work {
            self.emit(w.id, w.kind);
            self.cache(w.id, w.kind, w.doc);
        }
        self.emit_sync(team);
        if forwarded > 0 {
            // Wakes background sync, so the other teams get them without waiting.
            let _ = self.events.send(super::StoreEvent::LocalChange);
        }
        // Committed: compaction is housekeeping and never fails the page.
        for id in touched {
            self.compact_if_due(id);
        }
        for case in cases {
            self.plan_follows_case(case);
        }
        Ok(outcome)
    }

    fn cache(&mut self, id: DocumentId, kind: DocKind, doc: AutoCommit) {
        self.docs.insert(id, (kind, doc), self.config.cache_docs);
    }

    /// Applies one document's envelopes to an owned copy of it (taken out of the cache, so
    /// a failed transaction leaves the cache without it and it reloads from disk).
    /// Returns the work to commit (`None` if nothing changed) and envelopes refused one by
    /// one. An `Err` refuses all of them.
    /// Whether `id` is the settings or a private-notes document of a team other than `team`
    /// that this device belongs to.
    fn reserved_by_another_team(&self, team: TeamId, id: DocumentId) -> bool {
        self.access.iter().any(|(other, access)| {
            *other != team
                && (id == crate::model::team_settings::team_settings_id(other)
                    || access.membership.private_notes_owner(&id).is_some())
        })
    }

    fn prepare_doc(
        &mut self,
        team: TeamId,
        id: DocumentId,
        items: &[Opened],
        bootstrap: bool,
    ) -> std::result::Result<(Option<DocWork>, Vec<Refusal>), String> {
        let known: Option<(String, Option<Vec<u8>>)> = self
            .conn
            .query_row(
                "SELECT kind, team_id FROM documents WHERE id = ?1",
                [id.as_bytes().as_slice()],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(|e| classify(e).to_string())?;
        if let Some((kind, Some(doc_team))) = &known
            && doc_team.as_slice() != team.as_bytes().as_slice()
            && !DocKind::parse(kind).is_ok_and(crate::access::sharing::crosses_teams)
        {
            return Err("the document belongs to another team on this device".into());
        }
        let is_new = known.is_none();
        let snapshot_seen = items.iter().any(|i| i.kind == Kind::Snapshot);
        let mut doc = self.take_doc(id, is_new).map_err(|e| e.to_string())?;
        // For a known document outside bootstrap, snapshots usually repeat what change
        // batches carry, and are skipped without being loaded when this device already holds
        // every head they name. Not so when changes here wait for a dependency that never
        // arrived (its envelope was refused: a snapshot from its author's team holds it), or
        // when the snapshot holds changes this device never received (a device re-uploading,
        // after the relay was restored from a backup, what the relay lost, as snapshots).
        let waiting = !is_new && !doc.get_missing_deps(&[]).is_empty();
        let mut wanted: Vec<&Opened> = Vec::with_capacity(items.len());
        for item in items {
            if item.kind == Kind::ChangeBatch
                || is_new
                || bootstrap
                || waiting
                || (item.kind == Kind::Snapshot && !holds_every_head(&mut doc, &item.plaintext))
            {
                wanted.push(item);
            }
        }
        let old_heads = doc.get_heads();
        let mut bad = Vec::new();
        // A new document that arrives as one snapshot (a bootstrap's usual case) is loaded
        // strictly, as the store loads what it holds, and its bytes are stored as they came:
        // saving the document again would cost as much as loading it.
        let mut as_received = None;
        if let [only] = wanted.as_slice()
            && is_new
            && only.kind == Kind::Snapshot
            && let Ok(loaded) = AutoCommit::load(&only.plaintext)
        {
            doc = loaded;
            as_received = Some(only.plaintext.clone());
        }
        let all: Vec<u8> = if as_received.is_some() {
            Vec::new()
        } else {
            wanted
                .iter()
                .flat_map(|i| i.plaintext.iter().copied())
                .collect()
        };
        if !all.is_empty() && doc.load_incremental(&all).is_err() {
            // Find the culprit: start again from disk and apply envelope by envelope,
            // re-applying the good ones after each failure (this path is rare).
            let mut good: Vec<u8> = Vec::new();
            for item in &wanted {
                doc = self.take_doc(id, is_new).map_err(|e| e.to_string())?;
                let mut attempt = good.clone();
                attempt.extend_from_slice(&item.plaintext);
                if doc.load_incremental(&attempt).is_ok() {
                    good = attempt;
                } else {
                    bad.push(refusal(item, "not valid Automerge data"));
                }
            }
            doc = self.take_doc(id, is_new).map_err(|e| e.to_string())?;
            if !good.is_empty() {
                doc.load_incremental(&good)
                    .map_err(|_| "not valid Automerge data".to_string())?;
            }
        }
        let kind = if is_new {
            match doc::get_string(&doc, &ROOT, "kind") {
                Ok(Some(k)) => DocKind::parse(&k).map_err(|_| NOT_A_HOLDFAST_DOCUMENT)?,
                // Changes that build on others this device does not hold: it cannot tell
                // yet what the document is. Set aside until it comes.
                _ if !doc.get_missing_deps(&[]).is_empty() => {
                    return Err(WAITING_FOR_ITS_DOCUMENT.into());
                }
                _ => return Err(NOT_A_HOLDFAST_DOCUMENT.into()),
            }
        } else {
            known
                .as_ref()
                .map(|(k, _)| DocKind::parse(k))
                .transpose()
                .map_err(|e| e.to_string())?
                .ok_or("document vanished")?
        };
        // The team settings live at the id derived from the team, and only there: a
        // document squatting on that id, or settings passed off under another id, are
        // refused (`model::team_settings`). Nor may a team's document take the settings or
        // private-notes id of another team this device is in (it would shut that team's out).
        if is_new {
            if (kind == DocKind::TeamSettings)
                != (id == crate::model::team_settings::team_settings_id(&team))
            {
                return Err("team settings belong at the id derived from the team".into());
            }
            if self.reserved_by_another_team(team, id) {
                return Err("the id belongs to another team's settings or private notes".into());
            }
        }
        let changes: Vec<(ChangeHash, Vec<u8>)> = if is_new {
            Vec::new()
        } else {
            doc.get_changes(&old_heads)
                .into_iter()
                .map(|c| (c.hash(), c.raw_bytes().to_vec()))
                .collect()
        };
        let rewrite = !doc.get_missing_deps(&[]).is_empty();
        if rewrite {
            tracing::warn!(doc = %id, "changes wait for missing dependencies; kept in the document");
        }
        // Only a snapshot this device accepted counts, and only the page's last one of this
        // document; not while changes here wait for dependencies (its own upload would
        // carry them).
        let refused: std::collections::HashSet<u64> = bad.iter().map(|r| r.seq).collect();
        let latest = items
            .iter()
            .filter(|i| i.kind == Kind::Snapshot && !refused.contains(&i.seq))
            .max_by_key(|i| i.seq);
        let relay_holds_all = !rewrite
            && latest.is_some_and(|i| {
                let mut heads: Vec<[u8; 32]> = doc.get_heads().iter().map(|h| h.0).collect();
                heads.sort_unstable();
                snapshot_heads(&i.plaintext).is_some_and(|mut named| {
                    named.sort_unstable();
                    named == heads
                })
            });
        if !is_new && changes.is_empty() && !rewrite && !snapshot_seen {
            // Nothing new (duplicates): put the document back as it was.
            self.cache(id, kind, doc);
            return Ok((None, bad));
        }
        Ok((
            Some(DocWork {
                id,
                kind,
                doc: doc.with_actor(self.author.actor()),
                as_received,
                is_new,
                changes,
                rewrite,
                snapshot_seen,
                relay_holds_all,
                header_changed: true,
            }),
            bad,
        ))
    }

    /// The document out of the cache (or from disk), or an empty one for a new document.
    fn take_doc(&mut self, id: DocumentId, is_new: bool) -> Result<AutoCommit> {
        if is_new {
            return Ok(AutoCommit::new().with_actor(self.author.actor()));
        }
        match self.docs.remove(&id) {
            Some((_, doc)) => Ok(doc),
            None => Ok(self.load_from_db(id)?.1),
        }
    }
}

/// Updates the index rows of a document that changes from another device reached: a case
/// file by what those changes touched ([`remote_scope`]), so a case that has grown long is
/// not re-read whole for each session recorded elsewhere; anything else whole. Says whether
/// anything outside a case's sessions may have changed (its status among them).
fn reindex_remote(tx: &rusqlite::Transaction<'_>, w: &mut DocWork, now: i64) -> Result<bool> {
    let scope = match w.kind {
        DocKind::Directory => Reindex::WholeDirectory,
        DocKind::CaseFile if !w.is_new && !w.rewrite => {
            match remote_scope::case_scope(&w.doc, &w.changes) {
                CaseScope::Whole => Reindex::Case,
                CaseScope::Parts { header, sessions } => {
                    return match reindex_case_parts(tx, w, header, &sessions, now) {
                        Ok(()) => Ok(header),
                        Err(
                            e @ (Error::Sqlite(_)
                            | Error::StorageFull
                            | Error::StoreCorrupt(_)
                            | Error::Io(_)),
                        ) => Err(e),
                        // No row to fold into (the case never indexed: a value this build
                        // could not read when it arrived): read it whole, which writes the
                        // row if it reads now.
                        Err(_) => {
                            reindex_doc(tx, w.id, w.kind, &mut w.doc, Reindex::Case, now)?;
                            Ok(true)
                        }
                    };
                }
            }
        }
        _ => Reindex::Case,
    };
    reindex_doc(tx, w.id, w.kind, &mut w.doc, scope, now)?;
    Ok(true)
}

/// [`reindex_remote`] of the parts of a case file that changed; the whole case when a
/// part cannot be read on its own.
fn reindex_case_parts(
    tx: &rusqlite::Transaction<'_>,
    w: &mut DocWork,
    header: bool,
    sessions: &[String],
    now: i64,
) -> Result<()> {
    let mut added = Vec::with_capacity(sessions.len());
    for key in sessions {
        match case_file::read_session(&mut w.doc, key) {
            Ok(Some(s)) => added.push(s),
            // Unreadable on its own: the whole read says what is wrong, as it always did.
            Ok(None) | Err(_) => {
                return reindex_doc(tx, w.id, w.kind, &mut w.doc, Reindex::Case, now);
            }
        }
    }
    if header {
        reindex_doc(tx, w.id, w.kind, &mut w.doc, Reindex::CaseHeader, now)?;
    }
    for s in added {
        let scope = Reindex::SessionAdded {
            start: s.start,
            attended: s.attended,
            follow_up: s.follow_up,
        };
        reindex_doc(tx, w.id, w.kind, &mut w.doc, scope, now)?;
    }
    Ok(())
}

fn refusal(item: &Opened, reason: &str) -> Refusal {
    Refusal {
        seq: item.seq,
        id: item.id,
        doc: item.doc,
        author: item.author,
        reason: reason.to_owned(),
    }
}

impl From<Refusal> for Error {
    fn from(r: Refusal) -> Self {
        r.to_error()
    }
}

/// Whether `doc` holds every change a saved Automerge document (`snapshot`, as
/// `AutoCommit::save` writes it) names as its heads. Reads only the document chunk's header
/// (magic, checksum, type, length, actors, heads); anything it cannot read counts as not
/// held, so the snapshot is applied (loading it is always safe, only slower).
fn holds_every_head(doc: &mut automerge::AutoCommit, snapshot: &[u8]) -> bool {
    snapshot_heads(snapshot).is_some_and(|heads| {
        let heads: Vec<automerge::ChangeHash> =
            heads.into_iter().map(automerge::ChangeHash).collect();
        // Nothing waits in the document's queue here (else every snapshot is applied), so
        // no missing dependency means every head is held: hash lookups only.
        doc.get_missing_deps(&heads).is_empty()
    })
}

/// The heads named by a saved document, if it is one document chunk and nothing else (a
/// save that also carries queued changes after its chunk is `None`: applied, not judged).
fn snapshot_heads(bytes: &[u8]) -> Option<Vec<[u8; 32]>> {
    const MAGIC: [u8; 4] = [0x85, 0x6f, 0x4a, 0x83];
    const DOCUMENT: u8 = 0;
    let rest = bytes.strip_prefix(&MAGIC)?;
    let (&kind, rest) = rest.get(4..)?.split_first()?;
    if kind != DOCUMENT {
        return None;
    }
    let (len, mut rest) = uleb(rest)?;
    if usize::try_from(len).ok()? != rest.len() {
        return None;
    }
    let (actors, r) = uleb(rest)?;
    rest = r;
    for _ in 0..actors {
        let (len, r) = uleb(rest)?;
        rest = r.get(usize::try_from(len).ok()?..)?;
    }
    let (count, r) = uleb(rest)?;
    rest = r;
    let count = usize::try_from(count).ok()?;
    if count > rest.len() / 32 {
        return None;
    }
    let heads = rest[..count * 32]
        .chunks_exact(32)
        .map(|c| <[u8; 32]>::try_from(c).ok())
        .collect::<Option<Vec<_>>>()?;
    Some(heads)
}

/// An unsigned LEB128 number and what follows it.
fn uleb(bytes: &[u8]) -> Option<(u64, &[u8])> {
    let mut value = 0u64;
    for (i, &b) in bytes.iter().enumerate().take(10) {
        value |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Some((value, &bytes[i + 1..]));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_snapshot_names_its_heads_and_a_document_holds_them_or_not() {
        use automerge::transaction::Transactable;
        let mut a = automerge::AutoCommit::new();
        a.put(automerge::ROOT, "name", "Ada").unwrap();
        let mut b = a.fork();
        b.put(automerge::ROOT, "goal", "walk").unwrap();
        let saved = b.save();
        let heads: Vec<[u8; 32]> = b.get_heads().iter().map(|h| h.0).collect();
        assert_eq!(snapshot_heads(&saved), Some(heads));
        // B's snapshot holds a change A lacks; A's own snapshot holds nothing new for B.
        assert!(!holds_every_head(&mut a, &saved));
        let older = a.save();
        assert!(holds_every_head(&mut b, &older));
        // Not a document: applied (unread), never skipped.
        assert_eq!(snapshot_heads(b"junk"), None);
        assert!(!holds_every_head(&mut b, &saved[..10]));
    }
}
