//! The envelope-id index, written in key order (issue 14).
//!
//! Every push looks each envelope up by id (is it stored already?), so ids need an index.
//! Ids are SHA-256 hashes: an index keyed by them takes each insert on a random page, and
//! once the index has more pages than a group commit has envelopes, every envelope dirties
//! a page of its own, written whole to the WAL and again by the checkpoint (4 KiB for a
//! 1.2 KiB envelope, more than the envelope itself). That is what made ingest fall as the
//! relay grew.
//!
//! So ids reach their index (`envelope_ids`, keyed by the first 8 bytes of the id) in two
//! steps, as in a log-structured merge:
//!
//! - **pending**: a stored envelope's id waits in memory, at most about
//!   [`SqliteOptions::id_buffer`](super::SqliteOptions) of them;
//! - **the sweep**: each group commit moves, in the same transaction, the pending ids whose
//!   prefix lies in the next slice of the key space, the slice as wide as the share of the
//!   buffer the group added. The sweep goes round the whole key space once every
//!   `id_buffer` envelopes, so an id waits at most one round, and the ids it writes are
//!   neighbours: a page of the index is written once a round for all the ids that reached
//!   it, not once per id.
//!
//! Lookups see both. Nothing is lost in a crash: envelopes are the record, and each team
//! notes (`teams.ids_merged`) the sequence number up to which all its ids are in the index.
//! When a round ends, every id pending when it began is in the index, so the team's newest
//! sequence number as the round began becomes its mark, in the round's last transaction.
//! On open the envelopes past each team's mark that the index lacks are pending again; a
//! clean close moves everything pending into the index and marks every team complete.
//! Marks trail by at most about two rounds, so an open after a crash reads at most about
//! `2 × id_buffer` envelopes (~2 M at the default) to find them, not the whole table.

use std::collections::{BTreeSet, HashMap};

use rusqlite::{Connection, OptionalExtension, params};

use super::{from_sql_int, sql_error, to_sql_int};
use crate::storage::Result;

/// The indexed part of an id: its first 8 bytes (a 2^-64 chance that two share it; lookups
/// compare the whole id).
pub(super) type Prefix = [u8; 8];

/// Finds the indexed ids with a prefix ([`IdIndex::candidates`]).
pub(super) const BY_PREFIX: &str = "SELECT team, seq FROM envelope_ids WHERE prefix = ?1";

/// The key space the sweep goes round: every 8-byte prefix, as a big-endian number.
const ROUND: u128 = 1 << 64;

/// Bits of a pending id's sequence number (sequence numbers up to 2^40, a trillion
/// envelopes in one team).
const SEQ_BITS: u32 = 40;
/// Bits of a pending id's team number (the teams that pushed since the index last had
/// nothing pending, up to 2^24).
const TEAM_BITS: u32 = 24;

/// Ids of stored envelopes on their way into `envelope_ids`. Lives in the writer thread.
///
/// A pending id is one `u128`: its prefix (the high 64 bits, so the set is in the sweep's
/// key order), a number standing for its team (24 bits) and its sequence number (40 bits).
/// That is 16 bytes where the `(prefix, team, seq)` tuple takes 32: the set of 2^20
/// pending ids takes ~31 MB instead of ~55 MB. An envelope beyond those bounds (never, in
/// practice) has its id written to `envelope_ids` at once instead.
pub(super) struct IdIndex {
    /// Stored envelopes whose ids are not yet in `envelope_ids`, packed as above.
    pending: BTreeSet<u128>,
    /// The team each team number stands for (emptied whenever nothing is pending).
    teams: Vec<[u8; 16]>,
    /// Each team's number.
    numbers: HashMap<[u8; 16], u32>,
    /// How many additions one round of the sweep spans.
    capacity: u128,
    /// The prefix, as a number, where the sweep goes on.
    cursor: u64,
    /// How far the sweep has gone in this round.
    swept: u128,
    /// The newest sequence number pending or written, per team, since open.
    newest: HashMap<[u8; 16], u64>,
    /// `newest` as this round began: what the round's end lets each team mark complete.
    round_start: HashMap<[u8; 16], u64>,
}

pub(super) fn prefix(id: &[u8; 32]) -> Prefix {
    let mut prefix = [0u8; 8];
    prefix.copy_from_slice(&id[..8]);
    prefix
}

/// The lowest packed key with prefix `at` (a number below [`ROUND`]).
fn key_at(at: u128) -> u128 {
    at << 64
}

impl IdIndex {
    /// The pending ids of a database just opened: each team's envelopes past its mark that
    /// `envelope_ids` does not hold (only after a crash: a clean close leaves none).
    pub(super) fn load(conn: &Connection, capacity: usize) -> Result<Self> {
        let mut index = IdIndex {
            pending: BTreeSet::new(),
            teams: Vec::new(),
            numbers: HashMap::new(),
            capacity: u128::try_from(capacity.max(1)).unwrap_or(1),
            cursor: 0,
            swept: 0,
            newest: HashMap::new(),
            round_start: HashMap::new(),
        };
        let behind: Vec<([u8; 16], i64)> = conn
            .prepare("SELECT id, ids_merged FROM teams WHERE head > ids_merged")
            .and_then(|mut s| {
                s.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                    .collect::<rusqlite::Result<_>>()
            })
            .map_err(sql_error)?;
        let mut rows = conn
            .prepare("SELECT seq, id FROM envelopes WHERE team = ?1 AND seq > ?2 ORDER BY seq")
            .map_err(sql_error)?;
        let mut indexed = conn
            .prepare("SELECT 1 FROM envelope_ids WHERE prefix = ?1 AND team = ?2 AND seq = ?3")
            .map_err(sql_error)?;
        for (team, mark) in behind {
            let past: Vec<(i64, [u8; 32])> = rows
                .query_map(params![team, mark], |r| Ok((r.get(0)?, r.get(1)?)))
                .and_then(|rows| rows.collect())
                .map_err(sql_error)?;
            for (seq, id) in past {
                let prefix = prefix(&id);
                let present = indexed
                    .query_row(params![prefix, team, seq], |_| Ok(()))
                    .optional()
                    .map_err(sql_error)?;
                if present.is_none() {
                    index.add(conn, prefix, team, from_sql_int(seq))?;
                }
                index.saw(team, from_sql_int(seq));
            }
        }
        index.round_start = index.newest.clone();
        if !index.pending.is_empty() {
            tracing::info!(
                pending = index.pending.len(),
                "relay: ids of envelopes stored before an unclean stop go to the id index again"
            );
        }
        Ok(index)
    }

    /// Notes a stored envelope whose id is not in `envelope_ids` yet (in the transaction
    /// that stores it, on `conn`).
    pub(super) fn add(
        &mut self,
        conn: &Connection,
        prefix: Prefix,
        team: [u8; 16],
        seq: u64,
    ) -> Result<()> {
        self.saw(team, seq);
        match self.pack(prefix, team, seq) {
            Some(key) => {
                self.pending.insert(key);
                Ok(())
            }
            None => insert(conn, &prefix, &team, seq),
        }
    }

    /// The packed key of a pending id, numbering its team if new; `None` past the bounds.
    fn pack(&mut self, prefix: Prefix, team: [u8; 16], seq: u64) -> Option<u128> {
        if seq >> SEQ_BITS != 0 {
            return None;
        }
        let number = match self.numbers.get(&team) {
            Some(&number) => number,
            None => {
                let number = u32::try_from(self.teams.len()).ok()?;
                if number >> TEAM_BITS != 0 {
                    return None;
                }
                self.teams.push(team);
                self.numbers.insert(team, number);
                number
            }
        };
        Some(
            (u128::from(u64::from_be_bytes(prefix)) << 64)
                | (u128::from(number) << SEQ_BITS)
                | u128::from(seq),
        )
    }

    /// The (prefix, team, sequence number) a packed key stands for.
    fn unpack(&self, key: u128) -> (Prefix, [u8; 16], u64) {
        let low = key as u64; // the low 64 bits: the team's number and the sequence number
        let prefix = ((key >> 64) as u64).to_be_bytes();
        let number = usize::try_from(low >> SEQ_BITS).unwrap_or(usize::MAX);
        let team = self.teams.get(number).copied().unwrap_or_default();
        (prefix, team, low & ((1 << SEQ_BITS) - 1))
    }

    fn saw(&mut self, team: [u8; 16], seq: u64) {
        let newest = self.newest.entry(team).or_insert(0);
        *newest = (*newest).max(seq);
    }

    /// Ids pending now.
    pub(super) fn pending(&self) -> usize {
        self.pending.len()
    }

    /// The (team, sequence number) of every stored envelope whose id starts with
    /// `prefix`, pending or indexed: usually none. `by_prefix` is [`BY_PREFIX`], prepared
    /// once per push rather than fetched from the statement cache for every envelope.
    pub(super) fn candidates(
        &self,
        by_prefix: &mut rusqlite::Statement<'_>,
        prefix: Prefix,
    ) -> Result<Vec<([u8; 16], u64)>> {
        let at = u64::from_be_bytes(prefix);
        // One descent of the set (a bounded range takes two: this ran for every pushed
        // envelope, and showed in the writer's profile).
        let mut found: Vec<([u8; 16], u64)> = self
            .pending
            .range(key_at(u128::from(at))..)
            .take_while(|&&key| (key >> 64) == u128::from(at))
            .map(|&key| {
                let (_, team, seq) = self.unpack(key);
                (team, seq)
            })
            .collect();
        let mut rows = by_prefix.query([prefix]).map_err(sql_error)?;
        while let Some(row) = rows.next().map_err(sql_error)? {
            let team: [u8; 16] = row.get(0).map_err(sql_error)?;
            let seq: i64 = row.get(1).map_err(sql_error)?;
            found.push((team, from_sql_int(seq)));
        }
        Ok(found)
    }

    /// Moves on the sweep by the share of a round that `added` new ids make, writing the
    /// pending ids it passes into `envelope_ids` (in the group's transaction, before its
    /// commit). When a round ends, marks each team's ids complete up to where they stood
    /// when it began.
    pub(super) fn sweep(&mut self, conn: &Connection, added: usize) -> Result<()> {
        if added == 0 {
            return Ok(());
        }
        let added = u128::try_from(added).unwrap_or(u128::MAX);
        let span = added
            .saturating_mul(ROUND)
            .div_ceil(self.capacity)
            .min(ROUND);
        let from = u128::from(self.cursor);
        let to = from + span;
        if to <= ROUND {
            self.write(conn, from, to)?;
        } else {
            self.write(conn, from, ROUND)?;
            self.write(conn, 0, to - ROUND)?;
        }
        self.cursor = u64::try_from(to % ROUND).unwrap_or(0);
        self.swept += span;
        if self.swept >= ROUND {
            self.swept -= ROUND;
            let round = std::mem::replace(&mut self.round_start, self.newest.clone());
            mark(conn, &round)?;
        }
        Ok(())
    }

    /// Writes the pending ids with prefixes in `[from, to)` (as numbers) to `envelope_ids`,
    /// in key order.
    fn write(&mut self, conn: &Connection, from: u128, to: u128) -> Result<()> {
        let moving: Vec<u128> = if to >= ROUND {
            self.pending.range(key_at(from)..).copied().collect()
        } else {
            self.pending
                .range(key_at(from)..key_at(to))
                .copied()
                .collect()
        };
        for &key in &moving {
            let (prefix, team, seq) = self.unpack(key);
            insert(conn, &prefix, &team, seq)?;
        }
        for key in &moving {
            self.pending.remove(key);
        }
        if self.pending.is_empty() {
            // No key names a team number now: start numbering again, so the numbers stay
            // few on a relay that runs for years.
            self.teams.clear();
            self.numbers.clear();
        }
        Ok(())
    }

    /// Writes every pending id and marks every team complete (a clean close).
    pub(super) fn flush(&mut self, conn: &Connection) -> Result<()> {
        self.write(conn, 0, ROUND)?;
        conn.execute(
            "UPDATE teams SET ids_merged = head WHERE ids_merged < head",
            [],
        )
        .map_err(sql_error)?;
        self.round_start = self.newest.clone();
        self.swept = 0;
        Ok(())
    }
}

/// Writes one id to `envelope_ids`.
fn insert(conn: &Connection, prefix: &Prefix, team: &[u8; 16], seq: u64) -> Result<()> {
    conn.prepare_cached(
        "INSERT OR IGNORE INTO envelope_ids (prefix, team, seq) VALUES (?1, ?2, ?3)",
    )
    .and_then(|mut insert| insert.execute(params![prefix, team, to_sql_int(seq)]))
    .map_err(sql_error)?;
    Ok(())
}

/// Records that each team's ids are all indexed up to the given sequence number.
fn mark(conn: &Connection, complete: &HashMap<[u8; 16], u64>) -> Result<()> {
    let mut update = conn
        .prepare_cached("UPDATE teams SET ids_merged = ?2 WHERE id = ?1 AND ids_merged < ?2")
        .map_err(sql_error)?;
    for (team, seq) in complete {
        update
            .execute(params![team, to_sql_int(*seq)])
            .map_err(sql_error)?;
    }
    Ok(())
}
