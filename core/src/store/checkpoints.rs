//! What the relay said it holds, kept so a device notices when it no longer does.
//!
//! A relay whose database is restored from a backup (or replaced) holds a prefix of the
//! team's history, then gives the later sequence numbers to whatever is pushed next: a device
//! that pulled or pushed past the backup would never see those numbers again, and what it
//! was told is stored is gone from the relay for good. So the device keeps **checkpoints**,
//! the envelope id the relay gave it at some sequence numbers (the last of each page
//! applied, the last of each push acknowledged), and with each pull asks the relay for the
//! id at its latest one (`check=`). A different id, or none, means the relay's history parted
//! from this device's: it asks for the ids at all its checkpoints, finds the last one they
//! agree on, pulls again from there (keeping everything it holds) and uploads again every
//! document whose envelopes it applied or pushed past it ([`Store::restart_after_restore`]).
//!
//! Checkpoints thin out with age (64 per team, spaced about evenly in the logarithm of
//! their distance from the newest), so a team's few dozen rows still find a backup from
//! months ago to within a fraction of its distance; and for each document the highest sequence number this
//! device applied or pushed (`document_seqs`) says what to upload again.

use holdfast_protocol::EnvelopeId;
use rusqlite::{Connection, params};

use super::Store;
use crate::Result;
use crate::model::ids::{DocumentId, StoredId, TeamId};

/// Checkpoints kept per team.
const KEPT: usize = 64;

fn sql_int(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Records that the relay holds `id` at `seq` for `team`, and thins the team's checkpoints.
pub(super) fn record_checkpoint(
    conn: &Connection,
    team: TeamId,
    seq: u64,
    id: EnvelopeId,
) -> Result<()> {
    let t = team.as_bytes().as_slice();
    conn.prepare_cached(
        "INSERT OR REPLACE INTO relay_checkpoints (team_id, seq, envelope_id) VALUES (?1, ?2, ?3)",
    )?
    .execute(params![t, sql_int(seq), id.as_bytes().as_slice()])?;
    let seqs: Vec<i64> = conn
        .prepare_cached("SELECT seq FROM relay_checkpoints WHERE team_id = ?1 ORDER BY seq DESC")?
        .query_map([t], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    if let Some(seq) = thinned(&seqs) {
        conn.prepare_cached("DELETE FROM relay_checkpoints WHERE team_id = ?1 AND seq = ?2")?
            .execute(params![t, seq])?;
    }
    Ok(())
}

/// Past [`KEPT`] checkpoints (`seqs`, newest first), the one to drop: the one whose gap,
/// once it is gone, is smallest against its distance from the newest. What stays is
/// spaced about evenly in the logarithm of the distance: the newest close together, older
/// ones further apart, the oldest kept.
fn thinned(seqs: &[i64]) -> Option<i64> {
    if seqs.len() <= KEPT {
        return None;
    }
    let newest = seqs[0] as f64;
    (1..seqs.len() - 1)
        .map(|i| {
            let gap = (seqs[i - 1] - seqs[i + 1]) as f64;
            let distance = newest - seqs[i - 1] as f64 + 1.0;
            (gap / distance, seqs[i])
        })
        .min_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, seq)| seq)
}

/// Records, for each document, that this device applied or pushed one of its envelopes at
/// that sequence number (the highest is kept).
pub(super) fn record_document_seqs(
    conn: &Connection,
    team: TeamId,
    docs: impl IntoIterator<Item = (DocumentId, u64)>,
) -> Result<()> {
    let mut upsert = conn.prepare_cached(
        "INSERT INTO document_seqs (team_id, doc_id, seq) VALUES (?1, ?2, ?3)
         ON CONFLICT (team_id, doc_id) DO UPDATE SET seq = max(seq, excluded.seq)",
    )?;
    for (doc, seq) in docs {
        upsert.execute(params![
            team.as_bytes().as_slice(),
            doc.as_bytes().as_slice(),
            sql_int(seq)
        ])?;
    }
    Ok(())
}

/// What [`Store::restart_after_restore`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Restarted {
    /// The last sequence number where the relay's history and this device's agree: the
    /// pull starts again after it.
    pub agreed: u64,
    /// Documents marked to be uploaded again (queued once the pull after the restart is
    /// done: snapshots; a patient's own changes).
    pub documents: usize,
}

impl Store {
    /// The team's checkpoints, newest first: `(sequence number, envelope id)`.
    pub fn relay_checkpoints(&self, team: TeamId) -> Result<Vec<(u64, EnvelopeId)>> {
        self.conn
            .prepare_cached(
                "SELECT seq, envelope_id FROM relay_checkpoints WHERE team_id = ?1
                 ORDER BY seq DESC",
            )?
            .query_map([team.as_bytes().as_slice()], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?))
            })?
            .map(|row| {
                let (seq, id) = row?;
                Ok((
                    u64::try_from(seq).unwrap_or(0),
                    EnvelopeId::from_stored(&id)?,
                ))
            })
            .collect()
    }

    /// The relay's history parted from this device's after `agreed` (the relay's database
    /// was restored from a backup, or replaced): pull again after it, keeping everything held
    /// here, and mark for upload again every document this device applied or pushed an
    /// envelope of past it (every document of the team when nothing agrees), in one
    /// transaction; [`Store::queue_pending_reuploads`] queues them once the pull is done.
    pub fn restart_after_restore(&mut self, team: TeamId, agreed: u64) -> Result<Restarted> {
        let t = team.as_bytes().to_vec();
        let a = sql_int(agreed);
        let tx = self.conn.transaction()?;
        tx.execute(
            "UPDATE teams SET cursor = min(cursor, ?2), head_seen = min(head_seen, ?2) WHERE id = ?1",
            params![t, a],
        )?;
        tx.execute(
            "DELETE FROM relay_checkpoints WHERE team_id = ?1 AND seq > ?2",
            params![t, a],
        )?;
        // A revoked device's envelopes past the point this device had folded its revocation
        // stay refused, counted from where the histories agree.
        tx.execute(
            "UPDATE revocations_folded SET cursor = min(cursor, ?2) WHERE team_id = ?1",
            params![t, a],
        )?;
        // Refusals past it name envelopes the relay no longer holds at those numbers.
        tx.execute(
            "DELETE FROM refused WHERE team_id = ?1 AND seq > ?2",
            params![t, a],
        )?;
        let marked = if agreed == 0 {
            // Nothing agrees (or the store predates checkpoints): all of the team's documents.
            tx.execute(
                "INSERT INTO pending_reuploads (team_id, doc_id)
                 SELECT ?1, id FROM documents WHERE team_id = ?1
                 UNION SELECT ?1, doc_id FROM document_shares WHERE team_id = ?1
                 ON CONFLICT DO UPDATE SET held = 0",
                params![t],
            )?
        } else {
            tx.execute(
                "INSERT INTO pending_reuploads (team_id, doc_id)
                 SELECT ?1, s.doc_id FROM document_seqs s JOIN documents d ON d.id = s.doc_id
                 WHERE s.team_id = ?1 AND s.seq > ?2
                 ON CONFLICT DO UPDATE SET held = 0",
                params![t, a],
            )?
        };
        tx.execute(
            "DELETE FROM document_seqs WHERE team_id = ?1 AND seq > ?2",
            params![t, a],
        )?;
        tx.commit()?;
        if let Some(access) = self.access.get_mut(&team) {
            for cursor in access.refused_after.values_mut() {
                *cursor = (*cursor).min(agreed);
            }
        }
        tracing::warn!(team = %team, agreed, documents = marked, "the relay's history parted from this device's (a restored database?): pulling again after where they agree; what it lost is uploaded again");
        self.emit_sync(team);
        Ok(Restarted {
            agreed,
            documents: marked,
        })
    }

    /// Queues the documents a restored relay lost ([`Store::restart_after_restore`]) for
    /// upload, forgetting each once queued: staff devices a snapshot covering the team
    /// cursor (call it once the pull after the restart is done, so the snapshot holds what
    /// the relay holds again), or this device's own changes when the document is too large
    /// to snapshot; a patient's device its own changes to its plan (a patient uploads no
    /// snapshots). Returns how many documents were queued.
    pub fn queue_pending_reuploads(&mut self, team: TeamId) -> Result<usize> {
        let docs: Vec<(DocumentId, bool)> = self
            .conn
            .prepare_cached("SELECT doc_id, held FROM pending_reuploads WHERE team_id = ?1")?
            .query_map([team.as_bytes().as_slice()], |r| {
                Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, bool>(1)?))
            })?
            .map(|r| {
                let (id, held) = r?;
                Ok((DocumentId::from_stored(&id)?, held))
            })
            .collect::<Result<_>>()?;
        if docs.is_empty() {
            return Ok(0);
        }
        let sealing = if self.access(team)?.is_patient() {
            None
        } else {
            Some(self.sealing_keys(team)?)
        };
        let cursor = self.team(team)?.cursor;
        let mut queued = 0;
        for (doc, held) in docs {
            // When the relay's latest snapshot of it, pulled since the restart, holds all
            // this device has (another device uploaded it again first), nothing is sent.
            if !held {
                let snapshotted = match &sealing {
                    Some((keys, epoch)) => self
                        .queue_snapshot(team, doc, keys, *epoch, cursor)?
                        .is_some(),
                    None => false,
                };
                if snapshotted || self.requeue_own_changes(team, doc)? > 0 {
                    queued += 1;
                }
            }
            self.conn.execute(
                "DELETE FROM pending_reuploads WHERE team_id = ?1 AND doc_id = ?2",
                params![team.as_bytes().as_slice(), doc.as_bytes().as_slice()],
            )?;
        }
        Ok(queued)
    }

    /// Queues every change this device made to `doc` again for `team`, for its next push
    /// (receivers ignore changes they hold). Returns how many.
    fn requeue_own_changes(&mut self, team: TeamId, doc: DocumentId) -> Result<usize> {
        let me = automerge::ActorId::from(self.author.device.as_bytes().as_slice());
        let changes: Vec<(Vec<u8>, Vec<u8>)> = {
            let (_, d) = self.load(doc)?;
            d.get_changes(&[])
                .iter()
                .filter(|c| *c.actor_id() == me)
                .map(|c| (c.hash().0.to_vec(), c.raw_bytes().to_vec()))
                .collect()
        };
        let now = self.now_millis();
        let tx = self.conn.transaction()?;
        {
            // For the document's own team the outbox row names no team; for a team it is
            // shared into, that team.
            let mut insert = tx.prepare_cached(
                "INSERT INTO outbox (doc_id, hash, bytes, created_at, team_id)
                 VALUES (?1, ?2, ?3, ?4,
                         CASE WHEN (SELECT team_id FROM documents WHERE id = ?1) = ?5
                              THEN NULL ELSE ?5 END)",
            )?;
            for (hash, bytes) in &changes {
                insert.execute(params![
                    doc.as_bytes().as_slice(),
                    hash,
                    bytes,
                    now,
                    team.as_bytes().as_slice()
                ])?;
            }
        }
        tx.commit()?;
        Ok(changes.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> Connection {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE relay_checkpoints (
                 team_id BLOB NOT NULL, seq INTEGER NOT NULL, envelope_id BLOB NOT NULL,
                 PRIMARY KEY (team_id, seq)) WITHOUT ROWID;
             CREATE TABLE document_seqs (
                 team_id BLOB NOT NULL, doc_id BLOB NOT NULL, seq INTEGER NOT NULL,
                 PRIMARY KEY (team_id, doc_id)) WITHOUT ROWID;",
        )
        .unwrap();
        conn
    }

    fn seqs(conn: &Connection, team: TeamId) -> Vec<i64> {
        conn.prepare("SELECT seq FROM relay_checkpoints WHERE team_id = ?1 ORDER BY seq DESC")
            .unwrap()
            .query_map([team.as_bytes().as_slice()], |r| r.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap()
    }

    #[test]
    fn checkpoints_thin_out_with_age_and_stay_few() {
        let conn = db();
        let (team, other) = (TeamId([1; 16]), TeamId([2; 16]));
        for seq in 1..=100_000u64 {
            record_checkpoint(&conn, team, seq, EnvelopeId([seq as u8; 32])).unwrap();
        }
        record_checkpoint(&conn, other, 7, EnvelopeId([7; 32])).unwrap();
        let kept = seqs(&conn, team);
        assert_eq!(kept.len(), KEPT);
        assert_eq!(kept[0], 100_000);
        // Whatever the distance back to a backup, a checkpoint lies within that distance
        // again of it.
        for back in [1i64, 10, 100, 1_000, 10_000, 99_000] {
            let target = 100_000 - back;
            let found = kept.iter().find(|&&s| s <= target).copied().unwrap_or(0);
            assert!(target - found <= back, "back {back}: {found}");
        }
        assert_eq!(seqs(&conn, other), [7], "each team its own");
    }

    #[test]
    fn a_document_keeps_its_highest_sequence_number() {
        let conn = db();
        let team = TeamId([1; 16]);
        let (a, b) = (DocumentId([0xa; 16]), DocumentId([0xb; 16]));
        record_document_seqs(&conn, team, [(a, 5), (b, 3), (a, 2)]).unwrap();
        record_document_seqs(&conn, team, [(b, 9)]).unwrap();
        let rows: Vec<(Vec<u8>, i64)> = conn
            .prepare("SELECT doc_id, seq FROM document_seqs ORDER BY doc_id")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert_eq!(rows, [(vec![0xa; 16], 5), (vec![0xb; 16], 9)]);
    }
}
