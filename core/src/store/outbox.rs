//! Outgoing sync: sealing outbox changes into envelopes exactly once, handing sealed
//! envelopes to the sync client, and forgetting them only when the relay has acknowledged
//! them. Also the snapshots a device uploads so that new devices start quickly.
//!
//! Sealing happens once per change: the envelope's bytes and id are stored in the same
//! transaction that marks the outbox rows as sealed, so a push that is retried (after a
//! timeout, a crash, a relay restart) sends byte-identical envelopes and the relay, which
//! deduplicates by SHA-256 id, stores each once.

use holdfast_protocol::{EnvelopeId, Header, Kind, MAX_PLAINTEXT, SystemRandom, seal};
use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};

use super::Store;
use crate::Result;
use crate::access::TeamAccess;
use crate::crypto::TeamKeys;
use crate::model::ids::StoredId;
use crate::model::ids::{DeviceId, DocumentId, TeamId};

/// Changes of one document are packed into one envelope up to this much plaintext.
/// Well under the 4 MiB envelope limit so a push batch of many stays a moderate request.
const ENVELOPE_TARGET_PLAINTEXT: usize = 1024 * 1024;

/// Outbox rows (seq, change bytes) that go into one envelope.
type Chunk = Vec<(i64, Vec<u8>)>;

/// Why one of this device's own envelopes was withdrawn from its outbox (recorded with it
/// among the refused envelopes; ids only, never content).
const WITHDRAWN_NOTES: &str = "withdrawn from this device's outbox and never sent: \
     someone's private notes, which this device may no longer write (its role no longer \
     reads them); the edit stays in this device's own copy";

/// Whether `me`, by `access` (its verified view of the team), may no longer write `doc`:
/// another staff member's private notes while its role does not read them (a supervisor or
/// an admin made a link worker). Never while `me` is not an active member there: nothing to
/// judge by (the relay's answer says the rest).
fn may_not_write_notes(access: &TeamAccess, me: DeviceId, doc: &DocumentId) -> bool {
    let m = &access.membership;
    m.active(&me).is_some() && m.private_notes_owner(doc).is_some() && !m.can_access(&me, doc)
}

/// A sealed envelope waiting for the relay's acknowledgement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingEnvelope {
    /// SHA-256 of the bytes.
    pub id: EnvelopeId,
    /// The envelope, exactly as sealed.
    pub bytes: Vec<u8>,
}

/// An envelope this device refused on receipt (it was never applied), or one of its own it
/// withdrew from its outbox undelivered ([`RefusedEnvelope::is_withdrawn`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefusedEnvelope {
    /// The envelope id.
    pub id: EnvelopeId,
    /// Its relay sequence number.
    pub seq: u64,
    /// The document its header names.
    pub doc: DocumentId,
    /// The author its header names.
    pub author: DeviceId,
    /// Why it was refused.
    pub reason: String,
    /// When (ms since the epoch).
    pub refused_at: i64,
}

impl RefusedEnvelope {
    /// One of this device's own envelopes, withdrawn from its outbox and never sent (it has
    /// no relay sequence number: `seq` is 0, which the relay never gives).
    pub fn is_withdrawn(&self) -> bool {
        self.seq == 0
    }
}

#[allow(clippy::too_many_arguments)]
fn seal_with(
    keys: &TeamKeys,
    team: TeamId,
    epoch: u32,
    signer: &holdfast_protocol::DeviceSigningKey,
    author: DeviceId,
    doc: DocumentId,
    kind: Kind,
    covers: u64,
    plaintext: &[u8],
) -> Result<(EnvelopeId, Vec<u8>)> {
    let header = Header {
        kind,
        team,
        document: doc,
        epoch,
        author,
        covers,
        nonce: Header::random_nonce(&SystemRandom::new())?,
    };
    let key = keys.key_for(doc, epoch)?;
    let bytes = seal(&header, &key, plaintext, signer)?;
    Ok((EnvelopeId::of(&bytes), bytes))
}

impl Store {
    /// The keys and the current epoch to seal `team`'s envelopes with. Refuses while this
    /// device lacks the current epoch's keys (after a revocation, until they arrive), and
    /// for a team kept from before signed membership.
    pub(super) fn sealing_keys(&self, team: TeamId) -> Result<(TeamKeys, u32)> {
        let epoch = self.epoch(team)?;
        let keys = self.team_keys(team)?.clone();
        Ok((keys, epoch))
    }

    /// Forgets sealed envelopes of `team` made under another epoch than the current one
    /// (a revocation happened since, or a patient's epoch was corrected down) and puts their changes back to be sealed again under
    /// the new keys. Returns how many envelopes were dropped. The changes themselves stay in
    /// the outbox throughout: nothing is lost.
    pub fn reseal_stale(&mut self, team: TeamId) -> Result<usize> {
        let epoch = self.epoch(team)?;
        let sealed: Vec<(Vec<u8>, Vec<u8>)> = self
            .conn
            .prepare_cached("SELECT id, bytes FROM sealed WHERE team_id = ?1")?
            .query_map([team.as_bytes().as_slice()], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        let stale: Vec<Vec<u8>> = sealed
            .into_iter()
            .filter(|(_, bytes)| {
                holdfast_protocol::EnvelopeRef::decode(bytes)
                    .map(|e| e.header.epoch != epoch)
                    .unwrap_or(true)
            })
            .map(|(id, _)| id)
            .collect();
        if stale.is_empty() {
            return Ok(0);
        }
        let tx = self.conn.transaction()?;
        for id in &stale {
            tx.execute(
                "UPDATE outbox SET envelope_id = NULL WHERE envelope_id = ?1",
                [id],
            )?;
            tx.execute("DELETE FROM sealed WHERE id = ?1", [id])?;
        }
        tx.commit()?;
        tracing::info!(team = %team, dropped = stale.len(), epoch, "stale envelopes resealed");
        Ok(stale.len())
    }

    /// Seals every outbox change of `team`'s documents that has no envelope yet. Changes of
    /// one document go into as few change-batch envelopes as fit, in outbox order. The
    /// envelopes and the outbox rows' links to them commit in one transaction. Returns how
    /// many envelopes were sealed.
    pub fn seal_outbox(&mut self, team: TeamId) -> Result<usize> {
        let (keys, epoch) = self.sealing_keys(team)?;
        let rows: Vec<(i64, Vec<u8>, Vec<u8>)> = {
            let mut stmt = self.conn.prepare_cached(
                "SELECT o.seq, o.doc_id, o.bytes FROM outbox o JOIN documents d ON d.id = o.doc_id
                 WHERE o.envelope_id IS NULL
                   AND (o.team_id = ?1 OR (o.team_id IS NULL AND d.team_id = ?1))
                 ORDER BY o.seq",
            )?;
            stmt.query_map([team.as_bytes().as_slice()], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })?
            .collect::<rusqlite::Result<_>>()?
        };
        if rows.is_empty() {
            return Ok(0);
        }
        // Group by document, keeping outbox order inside each (Automerge dependencies never
        // cross documents), then cut each group into envelopes of bounded size.
        // A change too large for one envelope (an import of thousands of assets) travels in
        // a snapshot of its document instead, with every unsealed change of that document
        // after it: changes sealed without it would depend on a change no peer could get.
        let oversize: Vec<DocumentId> = rows
            .iter()
            .filter(|(_, _, bytes)| bytes.len() > MAX_PLAINTEXT)
            .map(|(_, doc_id, _)| DocumentId::from_stored(doc_id))
            .collect::<Result<_>>()?;
        // The outbox rows (of this team) each such snapshot carries.
        let mut by_snapshot: Vec<(DocumentId, Vec<i64>)> = Vec::new();
        let mut groups: Vec<(DocumentId, Vec<Chunk>)> = Vec::new();
        for (seq, doc_id, bytes) in rows {
            let doc = DocumentId::from_stored(&doc_id)?;
            if oversize.contains(&doc) {
                match by_snapshot.iter_mut().find(|(d, _)| *d == doc) {
                    Some((_, seqs)) => seqs.push(seq),
                    None => by_snapshot.push((doc, vec![seq])),
                }
                continue;
            }
            let pos = match groups.iter().position(|(d, _)| *d == doc) {
                Some(p) => p,
                None => {
                    groups.push((doc, vec![Vec::new()]));
                    groups.len() - 1
                }
            };
            let chunks = &mut groups[pos].1;
            let size: usize = chunks
                .last()
                .map(|c| c.iter().map(|(_, b)| b.len()).sum())
                .unwrap_or(0);
            if size > 0 && size + bytes.len() > ENVELOPE_TARGET_PLAINTEXT {
                chunks.push(Vec::new());
            }
            if let Some(last) = chunks.last_mut() {
                last.push((seq, bytes));
            }
        }
        let author = self.author.device;
        let signer = self.identity.signer.clone();
        let now = self.now_millis();
        let tx = self.conn.transaction()?;
        let mut sealed = 0;
        for (doc, chunks) in &groups {
            for chunk in chunks.iter().filter(|c| !c.is_empty()) {
                let plaintext: Vec<u8> =
                    chunk.iter().flat_map(|(_, b)| b.iter().copied()).collect();
                let (id, bytes) = seal_with(
                    &keys,
                    team,
                    epoch,
                    &signer,
                    author,
                    *doc,
                    Kind::ChangeBatch,
                    0,
                    &plaintext,
                )?;
                tx.execute(
                    "INSERT INTO sealed (id, team_id, doc_id, kind, bytes, sealed_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    params![
                        id.as_bytes().as_slice(),
                        team.as_bytes().as_slice(),
                        doc.as_bytes().as_slice(),
                        Kind::ChangeBatch.as_byte(),
                        bytes,
                        now
                    ],
                )?;
                let mut mark =
                    tx.prepare_cached("UPDATE outbox SET envelope_id = ?1 WHERE seq = ?2")?;
                for (seq, _) in chunk {
                    mark.execute(params![id.as_bytes().as_slice(), seq])?;
                }
                sealed += 1;
            }
        }
        tx.commit()?;
        // A patient's device may not send snapshots (the relay refuses them, with the whole
        // push): its change stays in the outbox, as it always did.
        if !by_snapshot.is_empty() && self.access(team)?.is_patient() {
            tracing::error!(team = %team, "a change too large to seal on a patient's device stays in the outbox");
            by_snapshot.clear();
        }
        if !by_snapshot.is_empty() {
            let cursor = self.team(team)?.cursor;
            for (doc, seqs) in by_snapshot {
                // A crash between the snapshot and the update below leaves the changes
                // unsealed: the next seal makes another snapshot, which says the same.
                match self.queue_snapshot(team, doc, &keys, epoch, cursor)? {
                    Some(envelope) => {
                        let tx = self.conn.transaction()?;
                        {
                            let mut mark = tx.prepare_cached(
                                "UPDATE outbox SET envelope_id = ?1
                                 WHERE seq = ?2 AND envelope_id IS NULL",
                            )?;
                            for seq in seqs {
                                mark.execute(params![envelope.as_bytes().as_slice(), seq])?;
                            }
                        }
                        tx.commit()?;
                        tracing::info!(doc = %doc, "a change too large to seal travels in a snapshot");
                        sealed += 1;
                    }
                    // Never dropped: it stays in the outbox, and the document on this device.
                    None => tracing::error!(
                        doc = %doc,
                        "a change too large to seal could not travel in a snapshot either (the \
                         document is too large, or private notes this device may no longer \
                         write): it stays in the outbox"
                    ),
                }
            }
        }
        tracing::debug!(team = %team, envelopes = sealed, "outbox sealed");
        Ok(sealed)
    }

    /// Withdraws from the outbox every sealed envelope of `team` for private notes this
    /// device may no longer write by its verified roster (its role changed to one that does
    /// not read them since it wrote): the relay would refuse it, with the whole batch it
    /// travels in, at every push. Each is recorded among the refused envelopes (`seq` 0 and
    /// a reason saying so: [`RefusedEnvelope::is_withdrawn`]) and logged by id; its outbox
    /// changes go with it, in one transaction. The document keeps them: only delivery
    /// stops. Should this device be allowed to write the notes again, its next snapshot of
    /// them carries what was withdrawn (the document is marked as due one), so its later
    /// changes never wait at other devices for a change they cannot get. Returns how many
    /// envelopes were withdrawn.
    pub fn withdraw_unwritable_notes(&mut self, team: TeamId) -> Result<usize> {
        let me = self.author.device;
        let sealed: Vec<(Vec<u8>, Vec<u8>)> = self
            .conn
            .prepare_cached("SELECT id, doc_id FROM sealed WHERE team_id = ?1 ORDER BY rowid")?
            .query_map([team.as_bytes().as_slice()], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        let access = self.access(team)?;
        let mut withdrawn: Vec<(EnvelopeId, DocumentId)> = Vec::new();
        for (id, doc) in sealed {
            let doc = DocumentId::from_stored(&doc)?;
            if may_not_write_notes(access, me, &doc) {
                withdrawn.push((EnvelopeId::from_stored(&id)?, doc));
            }
        }
        if withdrawn.is_empty() {
            return Ok(0);
        }
        let now = self.now_millis();
        let tx = self.conn.transaction()?;
        for (id, doc) in &withdrawn {
            let (id_b, team_b, doc_b) = (
                id.as_bytes().as_slice(),
                team.as_bytes().as_slice(),
                doc.as_bytes().as_slice(),
            );
            tx.execute("DELETE FROM outbox WHERE envelope_id = ?1", [id_b])?;
            tx.execute(
                "DELETE FROM sealed WHERE id = ?1 AND team_id = ?2",
                params![id_b, team_b],
            )?;
            tx.execute(
                "INSERT OR IGNORE INTO refused (id, team_id, seq, doc_id, author, reason, refused_at)
                 VALUES (?1, ?2, 0, ?3, ?4, ?5, ?6)",
                params![id_b, team_b, doc_b, me.as_bytes().as_slice(), WITHDRAWN_NOTES, now],
            )?;
            // Due a snapshot whenever this device may write the notes again (never before:
            // see `queue_snapshot`).
            tx.execute(
                "UPDATE documents SET changes_since_snapshot = MAX(changes_since_snapshot, ?2)
                 WHERE id = ?1",
                params![doc_b, i64::from(u32::MAX)],
            )?;
        }
        tx.commit()?;
        for (id, doc) in &withdrawn {
            tracing::warn!(
                team = %team,
                doc = %doc,
                envelope = %id,
                "envelope withdrawn from the outbox: private notes this device may no longer write"
            );
        }
        self.emit_sync(team);
        Ok(withdrawn.len())
    }

    /// Sealed envelopes of `team` not yet acknowledged, oldest first: at most `max_count`,
    /// and at most `max_bytes` in total (but always at least one, if any).
    pub fn pending_envelopes(
        &self,
        team: TeamId,
        max_count: usize,
        max_bytes: usize,
    ) -> Result<Vec<PendingEnvelope>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, bytes FROM sealed WHERE team_id = ?1 ORDER BY rowid LIMIT ?2",
        )?;
        let mut rows = stmt.query(params![
            team.as_bytes().as_slice(),
            i64::try_from(max_count).unwrap_or(i64::MAX)
        ])?;
        let mut out = Vec::new();
        let mut total = 0usize;
        while let Some(r) = rows.next()? {
            let id: Vec<u8> = r.get(0)?;
            let bytes: Vec<u8> = r.get(1)?;
            if !out.is_empty() && total + bytes.len() > max_bytes {
                break;
            }
            total += bytes.len();
            out.push(PendingEnvelope {
                id: EnvelopeId::from_stored(&id)?,
                bytes,
            });
        }
        Ok(out)
    }

    /// Forgets the envelopes the relay has acknowledged (stored durably, each at the
    /// sequence number given with it) and the outbox changes they carry, in one
    /// transaction, and notes what the relay now holds (see [`super::checkpoints`]). Ids
    /// this device does not hold are ignored. Returns how many envelopes were acknowledged.
    pub fn acknowledge(&mut self, team: TeamId, acked_at: &[(EnvelopeId, u64)]) -> Result<usize> {
        self.acknowledge_up_to(team, acked_at, None)
    }

    /// [`Store::acknowledge`] of a push the relay answered with `head`. When the envelopes
    /// it acknowledged are exactly those numbered from just after the team cursor up to
    /// `head` (nobody else's came between), the cursor moves to `head` in the same
    /// transaction: the next pull would bring back only these envelopes, which this device
    /// wrote and holds, so a device that edits does not pull its own edits back after each
    /// push. Anything else leaves the cursor for the pull. (A relay that lies here can make
    /// this device skip envelopes, as it could by never serving them: nothing new.)
    pub fn acknowledge_push(
        &mut self,
        team: TeamId,
        acked_at: &[(EnvelopeId, u64)],
        head: u64,
    ) -> Result<usize> {
        self.acknowledge_up_to(team, acked_at, Some(head))
    }

    fn acknowledge_up_to(
        &mut self,
        team: TeamId,
        acked_at: &[(EnvelopeId, u64)],
        head: Option<u64>,
    ) -> Result<usize> {
        let now = self.now_millis();
        let tx = self.conn.transaction()?;
        let mut acked = 0;
        let mut seen = Vec::new();
        let mut last: Option<(u64, EnvelopeId)> = None;
        {
            let mut doc_of =
                tx.prepare_cached("SELECT doc_id FROM sealed WHERE id = ?1 AND team_id = ?2")?;
            let mut drop_outbox = tx.prepare_cached("DELETE FROM outbox WHERE envelope_id = ?1")?;
            let mut drop_sealed =
                tx.prepare_cached("DELETE FROM sealed WHERE id = ?1 AND team_id = ?2")?;
            for (id, seq) in acked_at {
                let key = params![id.as_bytes().as_slice(), team.as_bytes().as_slice()];
                let doc: Option<Vec<u8>> = doc_of.query_row(key, |r| r.get(0)).optional()?;
                let Some(doc) = doc else {
                    continue;
                };
                drop_sealed.execute(key)?;
                drop_outbox.execute([id.as_bytes().as_slice()])?;
                acked += 1;
                seen.push((DocumentId::from_stored(&doc)?, *seq));
                if last.is_none_or(|(s, _)| *seq > s) {
                    last = Some((*seq, *id));
                }
            }
        }
        super::checkpoints::record_document_seqs(&tx, team, seen)?;
        if let Some((seq, id)) = last {
            super::checkpoints::record_checkpoint(&tx, team, seq, id)?;
        }
        tx.execute(
            "UPDATE teams SET last_push_at = ?2 WHERE id = ?1",
            params![team.as_bytes().as_slice(), now],
        )?;
        if let Some(head) = head {
            let cursor: i64 = tx.query_row(
                "SELECT cursor FROM teams WHERE id = ?1",
                [team.as_bytes().as_slice()],
                |r| r.get(0),
            )?;
            let cursor = u64::try_from(cursor).unwrap_or(0);
            let mut after: Vec<u64> = acked_at
                .iter()
                .map(|(_, seq)| *seq)
                .filter(|seq| *seq > cursor)
                .collect();
            after.sort_unstable();
            after.dedup();
            let contiguous = !after.is_empty()
                && after.len() as u64 == head.saturating_sub(cursor)
                && after.last() == Some(&head);
            if contiguous {
                tx.execute(
                    "UPDATE teams SET cursor = ?2, head_seen = max(head_seen, ?2) WHERE id = ?1",
                    params![
                        team.as_bytes().as_slice(),
                        i64::try_from(head).unwrap_or(i64::MAX)
                    ],
                )?;
            }
        }
        tx.commit()?;
        self.emit_sync(team);
        Ok(acked)
    }

    /// Seals a snapshot of every document of `team` that has seen at least `threshold`
    /// changes since its last snapshot, declaring that it covers the team cursor (every
    /// envelope up to it is applied here), or only up to just before the document's first
    /// envelope this device refused: a device bootstrapping from the snapshot then still
    /// receives that envelope and judges it for itself, rather than inherit this device's
    /// refusal unseen. Queued for the next push. Returns how many.
    pub fn queue_snapshots(&mut self, team: TeamId, threshold: u32) -> Result<usize> {
        // Snapshots stand in for history on new devices: only staff upload them.
        if self.access(team)?.is_patient() {
            return Ok(0);
        }
        let (keys, epoch) = self.sealing_keys(team)?;
        let cursor = self.team(team)?.cursor;
        let due: Vec<DocumentId> = {
            let mut stmt = self.conn.prepare_cached(
                "SELECT id FROM documents WHERE team_id = ?1 AND changes_since_snapshot >= ?2",
            )?;
            stmt.query_map(
                params![team.as_bytes().as_slice(), i64::from(threshold.max(1))],
                |r| r.get::<_, Vec<u8>>(0),
            )?
            .map(|r| DocumentId::from_stored(&r?))
            .collect::<Result<_>>()?
        };
        let mut queued = 0;
        for id in due {
            if self
                .queue_snapshot(team, id, &keys, epoch, cursor)?
                .is_some()
            {
                queued += 1;
            }
        }
        Ok(queued)
    }

    /// Queues a snapshot of every document of `team` that `author`'s envelopes changed
    /// here. A device that revokes another does this: from then on every device refuses
    /// what the revoked one sends, and devices that had not pulled all it wrote before get
    /// it in these snapshots instead. Returns how many were queued.
    pub fn queue_snapshots_of_author(&mut self, team: TeamId, author: DeviceId) -> Result<usize> {
        if self.access(team)?.is_patient() {
            return Ok(0);
        }
        let (keys, epoch) = self.sealing_keys(team)?;
        let cursor = self.team(team)?.cursor;
        // A store upgraded from before version 8 does not know who wrote what it held then:
        // every document of the team.
        let incomplete: bool = self.conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM meta WHERE key = 'authors_incomplete')",
            [],
            |r| r.get(0),
        )?;
        let docs: Vec<DocumentId> = if incomplete {
            self.conn
                .prepare_cached("SELECT id FROM documents WHERE team_id = ?1")?
                .query_map(params![team.as_bytes().as_slice()], |r| {
                    r.get::<_, Vec<u8>>(0)
                })?
                .map(|r| DocumentId::from_stored(&r?))
                .collect::<Result<_>>()?
        } else {
            self.conn
                .prepare_cached(
                    "SELECT a.doc_id FROM document_authors a JOIN documents d ON d.id = a.doc_id
                     WHERE a.team_id = ?1 AND a.author = ?2",
                )?
                .query_map(
                    params![team.as_bytes().as_slice(), author.as_bytes().as_slice()],
                    |r| r.get::<_, Vec<u8>>(0),
                )?
                .map(|r| DocumentId::from_stored(&r?))
                .collect::<Result<_>>()?
        };
        let mut queued = 0;
        for id in docs {
            if self
                .queue_snapshot(team, id, &keys, epoch, cursor)?
                .is_some()
            {
                queued += 1;
            }
        }
        tracing::info!(team = %team, author = %author, queued, "snapshots of a revoked device's documents queued");
        Ok(queued)
    }

    /// Queues the snapshots of what each device this one revoked wrote to (recorded when the
    /// revocation was folded, so they are queued however the revoking call ended), and
    /// forgets them once queued. Returns how many snapshots were queued.
    pub fn queue_pending_author_snapshots(&mut self, team: TeamId) -> Result<usize> {
        let authors: Vec<DeviceId> = self
            .conn
            .prepare_cached("SELECT author FROM pending_author_snapshots WHERE team_id = ?1")?
            .query_map([team.as_bytes().as_slice()], |r| r.get::<_, Vec<u8>>(0))?
            .map(|r| DeviceId::from_stored(&r?))
            .collect::<Result<_>>()?;
        let mut queued = 0;
        for author in authors {
            queued += self.queue_snapshots_of_author(team, author)?;
            self.conn.execute(
                "DELETE FROM pending_author_snapshots WHERE team_id = ?1 AND author = ?2",
                params![team.as_bytes().as_slice(), author.as_bytes().as_slice()],
            )?;
        }
        Ok(queued)
    }

    /// Seals a snapshot of `id` for `team` and queues it, returning its envelope's id;
    /// `None` when the document is too large to snapshot, or is private notes this device
    /// may no longer write (left due, for when it may again).
    pub(super) fn queue_snapshot(
        &mut self,
        team: TeamId,
        id: DocumentId,
        keys: &TeamKeys,
        epoch: u32,
        cursor: u64,
    ) -> Result<Option<EnvelopeId>> {
        let author = self.author.device;
        if may_not_write_notes(self.access(team)?, author, &id) {
            return Ok(None);
        }
        let signer = self.identity.signer.clone();
        // Refused on receipt (withdrawn envelopes of this device's own, `seq` 0, never
        // reached the relay and say nothing about its history).
        let first_refused: Option<i64> = self
            .conn
            .prepare_cached(
                "SELECT MIN(seq) FROM refused WHERE team_id = ?1 AND doc_id = ?2 AND seq > 0",
            )?
            .query_row(
                params![team.as_bytes().as_slice(), id.as_bytes().as_slice()],
                |r| r.get(0),
            )?;
        let covers = first_refused.map_or(cursor, |seq| {
            cursor.min(u64::try_from(seq).unwrap_or(0).saturating_sub(1))
        });
        let (_, doc) = self.load(id)?;
        let snapshot = doc.save();
        if snapshot.len() > MAX_PLAINTEXT {
            tracing::warn!(doc = %id, len = snapshot.len(), "document too large to snapshot");
            return Ok(None);
        }
        let (env_id, bytes) = seal_with(
            keys,
            team,
            epoch,
            &signer,
            author,
            id,
            Kind::Snapshot,
            covers,
            &snapshot,
        )?;
        let now = self.now_millis();
        let tx = self.conn.transaction()?;
        tx.execute(
            "INSERT INTO sealed (id, team_id, doc_id, kind, bytes, sealed_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                env_id.as_bytes().as_slice(),
                team.as_bytes().as_slice(),
                id.as_bytes().as_slice(),
                Kind::Snapshot.as_byte(),
                bytes,
                now
            ],
        )?;
        tx.execute(
            "UPDATE documents SET changes_since_snapshot = 0 WHERE id = ?1",
            [id.as_bytes().as_slice()],
        )?;
        tx.commit()?;
        tracing::debug!(team = %team, doc = %id, covers, "snapshot queued");
        Ok(Some(env_id))
    }

    /// Envelopes of `team` this device refused on receipt, oldest first.
    pub fn refused_envelopes(&self, team: TeamId) -> Result<Vec<RefusedEnvelope>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, seq, doc_id, author, reason, refused_at FROM refused
             WHERE team_id = ?1 ORDER BY seq",
        )?;
        let rows = stmt.query_map([team.as_bytes().as_slice()], |r| {
            Ok((
                r.get::<_, Vec<u8>>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, Vec<u8>>(2)?,
                r.get::<_, Vec<u8>>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, i64>(5)?,
            ))
        })?;
        rows.map(|r| {
            let (id, seq, doc, author, reason, refused_at) = r?;
            Ok(RefusedEnvelope {
                id: EnvelopeId::from_stored(&id)?,
                seq: u64::try_from(seq).unwrap_or(0),
                doc: DocumentId::from_stored(&doc)?,
                author: DeviceId::from_stored(&author)?,
                reason,
                refused_at,
            })
        })
        .collect()
    }

    /// Rewrites the reason of `team`'s refusal records that give `from` to `to`, and
    /// returns how many: the simulation's tests make this device look like one that
    /// recorded them under an earlier rule. Not in the shipped library.
    #[cfg(feature = "simulation")]
    pub fn rewrite_refusal_reasons(&mut self, team: TeamId, from: &str, to: &str) -> Result<usize> {
        Ok(self.conn.execute(
            "UPDATE refused SET reason = ?3 WHERE team_id = ?1 AND reason = ?2",
            params![team.as_bytes().as_slice(), from, to],
        )?)
    }
}

#[cfg(test)]
mod tests {
    use holdfast_protocol::{Entry, Op, Role, private_notes_id};

    use super::may_not_write_notes;
    use crate::access::team::tests::{Fixture, identity};
    use crate::model::ids::DocumentId;

    /// Who may no longer write someone's private notes, by the verified roster: only an
    /// active member whose role does not read them, and never their owner.
    #[test]
    fn a_demoted_reader_may_no_longer_write_a_colleagues_notes_and_nothing_else_changes() {
        let mut f = Fixture::new();
        let team = f.founded.team;
        let owner = f.join(Role::LinkWorker, None);
        let supervisor = f.join(Role::Supervisor, None);
        let colleague = f.join(Role::LinkWorker, None);
        let notes = private_notes_id(&team, &owner.device);
        let own = private_notes_id(&team, &supervisor.device);
        let case = DocumentId::random();
        let judge = |f: &Fixture, who: &crate::access::Identity, doc: &DocumentId| {
            may_not_write_notes(&f.access, who.device, doc)
        };
        assert!(!judge(&f, &owner, &notes), "the owner");
        assert!(!judge(&f, &supervisor, &notes), "a supervisor");
        assert!(!judge(&f, &f.admin, &notes), "an admin");
        assert!(judge(&f, &colleague, &notes), "another link worker");
        assert!(!judge(&f, &colleague, &case), "not notes");
        assert!(
            !judge(&f, &identity(), &notes),
            "a device the roster does not know: nothing to judge by"
        );

        // The admin makes the supervisor a link worker.
        let demotion = Entry::sign(
            team,
            4_000,
            f.admin.device.0,
            Op::ChangeRole {
                device: supervisor.device,
                role: Role::LinkWorker,
            },
            &f.admin.signer,
        )
        .unwrap();
        f.access.fold(demotion.as_bytes()).unwrap();
        assert!(judge(&f, &supervisor, &notes), "demoted");
        assert!(!judge(&f, &supervisor, &own), "its own notes stay its own");
        assert!(!judge(&f, &supervisor, &case));
        assert!(!judge(&f, &owner, &notes));
    }
}
