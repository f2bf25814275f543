//! Access in the store: the queries behind each team's verified membership, the keys this
//! device holds and the Redeem entries it has sent. What to accept and what to sign is
//! decided in [`crate::access`]; this file only reads and writes what that decides, each
//! change in one transaction.

use std::collections::HashMap;
use std::sync::Arc;

use holdfast_protocol::{
    Applied, DocumentKey, EpochKey, HpkeKeyPair, InviteCode, PrivateNotesKey, RelayPin, Role,
};
use rusqlite::{Connection, OptionalExtension, params};

use super::Store;
use super::teams::{NewTeamRow, PlainHttp};
use crate::access::bundles::AcceptedKeys;
use crate::access::envelopes::{WAITING_FOR_ITS_DOCUMENT, WAITING_FOR_NOTES_KEY};
use crate::access::team::FoldedAtOpen;
use crate::access::{
    self, PreparedInvite, PreparedRedeem, PreparedRevocation, TeamAccess, TeamDevice, TeamInvite,
};
use crate::crypto::TeamKeys;
use crate::crypto::keys::{NOTES_KEY_EPOCH, invite_key_name};
use crate::keystore::KeyStore;
use crate::model::ids::StoredId;
use crate::model::ids::{DeviceId, DocumentId, TeamId};
use crate::{Error, Result};

fn team_bytes(team: TeamId) -> Vec<u8> {
    team.as_bytes().to_vec()
}

/// A team row as read at open: id, role, plan, invite, membership length.
type TeamRow = (
    Vec<u8>,
    Option<String>,
    Option<Vec<u8>>,
    Option<Vec<u8>>,
    i64,
);

/// Loads every team's access state and keys (at open).
pub(super) fn load_access(
    conn: &Connection,
    keystore: &dyn KeyStore,
) -> Result<(HashMap<TeamId, TeamAccess>, HashMap<TeamId, TeamKeys>)> {
    let mut access = HashMap::new();
    let mut keys = HashMap::new();
    let teams: Vec<TeamRow> = conn
        .prepare("SELECT id, role, plan_id, invite_id, membership_len FROM teams WHERE legacy = 0")?
        .query_map([], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })?
        .collect::<rusqlite::Result<_>>()?;
    for (id, role, plan, invite, len) in teams {
        let team = TeamId::from_stored(&id)?;
        let mut a = TeamAccess::new(team);
        a.role = role.as_deref().and_then(Role::from_name);
        a.plan = plan.map(|p| DocumentId::from_stored(&p)).transpose()?;
        a.invite = invite.and_then(|i| <[u8; 16]>::try_from(i.as_slice()).ok());
        a.relay_len = u64::try_from(len).unwrap_or(0);
        if a.invite.is_some() {
            a.invite_key = keystore
                .get(&invite_key_name(team))?
                .and_then(|s| <[u8; 32]>::try_from(s.as_slice()).ok())
                .map(HpkeKeyPair::from_seed)
                .transpose()?
                .map(Arc::new);
        }
        a.folded_at_open = load_membership(conn, &mut a)?;
        a.refused_after = fold_revocations(conn, team)?;
        let mut k = TeamKeys::new(team);
        let rows: Vec<(i64, Vec<u8>, Vec<u8>)> = conn
            .prepare_cached("SELECT epoch, doc_id, key FROM team_keys WHERE team_id = ?1")?
            .query_map([&id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect::<rusqlite::Result<_>>()?;
        for (epoch, doc_id, key) in rows {
            let epoch = u32::try_from(epoch).map_err(|_| Error::StoreCorrupt("epoch".into()))?;
            let key = <[u8; 32]>::try_from(key.as_slice())
                .map_err(|_| Error::StoreCorrupt("a stored key has the wrong length".into()))?;
            if doc_id.is_empty() {
                k.insert_epoch(epoch, EpochKey::from_bytes(key));
            } else if epoch == NOTES_KEY_EPOCH {
                k.insert_notes_key(
                    DocumentId::from_stored(&doc_id)?,
                    PrivateNotesKey::from_bytes(key),
                );
            } else {
                k.insert_document(
                    DocumentId::from_stored(&doc_id)?,
                    epoch,
                    DocumentKey::from_bytes(key),
                );
            }
        }
        k.set_private_notes(a.membership.private_notes.keys().copied());
        access.insert(team, a);
        keys.insert(team, k);
    }
    Ok((access, keys))
}

/// Layout of the state kept in `membership_folded` ([`TeamAccess::folded_state`]): a build
/// that changes it moves this on, and a state kept in another layout is folded again.
const FOLDED_FORMAT: i64 = 1;

/// The kept fold is written again once this many entries were stored after it (and at open
/// when it was missing or did not match). Writing it costs its size (about 2.6 KB a device
/// with X-Wing keys: 2.6 MB in a team of 1,000), so not at every entry; an open verifies
/// at most this many entries beyond it (about 0.1 ms each).
const KEEP_FOLD_EVERY: u64 = 32;

/// Rebuilds `a`'s membership (role and plan already set from the team's row) from the
/// store: the kept fold if it matches the stored log, then every entry after it, folded
/// and verified. Keeps the new fold when the kept one was missing or did not match, or
/// when [`KEEP_FOLD_EVERY`] entries or more came after it.
///
/// The kept fold is trusted without verifying a signature again: it is this device's own
/// fold of entries it verified before storing them (the relay cannot reach it but through
/// entries that verified), kept in the same encrypted database as the entries, written in
/// the transaction that stored the last of the entries it covers (or at an open that folded
/// the log, best effort: an open never fails for want of it). It is not a boundary
/// against someone who can write that database: they could make the device trust a device
/// or a role the log never granted, but holding the store key they already hold everything
/// the database does (the team's keys, the documents, this device's role) and can change
/// any of it; the relay still enforces the log itself. What it guards against is damage
/// and drift: a kept fold that does not cover exactly the stored log (as many entries up to
/// its last, that last one byte for byte), or that does not decode, is dropped and the
/// whole log folded again.
fn load_membership(conn: &Connection, a: &mut TeamAccess) -> Result<FoldedAtOpen> {
    let team = a.team();
    let (kept, after) = kept_fold(conn, a)?.unwrap_or((0, -1));
    let tail: Vec<Vec<u8>> = conn
        .prepare_cached(
            "SELECT bytes FROM membership WHERE team_id = ?1 AND seq > ?2 ORDER BY seq",
        )?
        .query_map(params![team_bytes(team), after], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    for e in &tail {
        // Verified when it was stored: one that no longer folds is damage here.
        a.fold(e)
            .map_err(|e| Error::StoreCorrupt(format!("team {team}'s stored membership: {e}")))?;
    }
    let verified = u64::try_from(tail.len()).unwrap_or(u64::MAX);
    if ((kept == 0 && verified > 0) || verified >= KEEP_FOLD_EVERY)
        && let Err(e) = keep_fold(conn, a)
    {
        // Only saves work at the next open: a store that cannot write now (a full disk)
        // still opens, folding the log again next time.
        tracing::warn!(team = %team, error = %e, "the membership fold could not be kept; folded again at the next open");
    }
    Ok(FoldedAtOpen { kept, verified })
}

/// A `membership_folded` row: format, entries covered, the last one's sequence number and
/// hash, the state.
type KeptRow = (i64, i64, i64, Vec<u8>, Vec<u8>);

/// Takes the kept fold into `a` if it covers exactly the stored log up to its last entry;
/// returns how many entries it covers and the last one's sequence number. `None` (and `a`
/// untouched): there is none, or it does not match, and the log is folded from the start.
fn kept_fold(conn: &Connection, a: &mut TeamAccess) -> Result<Option<(u64, i64)>> {
    let team = a.team();
    let row: Option<KeptRow> = conn
        .prepare_cached(
            "SELECT format, entries, last_seq, last_hash, state FROM membership_folded
             WHERE team_id = ?1",
        )?
        .query_row([team_bytes(team)], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })
        .optional()?;
    let Some((format, entries, last_seq, last_hash, state)) = row else {
        return Ok(None);
    };
    if format != FOLDED_FORMAT {
        tracing::info!(team = %team, format, "kept membership fold from another build: folding the log again");
        return Ok(None);
    }
    let (count, last): (i64, Option<Vec<u8>>) = conn
        .prepare_cached(
            "SELECT count(*), (SELECT bytes FROM membership WHERE team_id = ?1 AND seq = ?2)
             FROM membership INDEXED BY membership_seqs WHERE team_id = ?1 AND seq <= ?2",
        )?
        .query_row(params![team_bytes(team), last_seq], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?;
    let matches = count == entries
        && last.is_some_and(|bytes| entry_hash(&bytes).as_slice() == last_hash.as_slice());
    if !matches {
        tracing::warn!(team = %team, "kept membership fold does not match the stored log: folding the log again");
        return Ok(None);
    }
    let mut restored = a.clone();
    let entries = u64::try_from(entries).unwrap_or(0);
    match restored.restore_folded(&state) {
        Ok(()) if restored.membership.len == entries => {
            *a = restored;
            Ok(Some((entries, last_seq)))
        }
        _ => {
            tracing::warn!(team = %team, "kept membership fold is unreadable: folding the log again");
            Ok(None)
        }
    }
}

/// Keeps `a`'s fold as covering every entry stored for its team (called in the transaction
/// that stored them, and at open after folding entries the kept fold did not cover).
fn keep_fold(conn: &Connection, a: &TeamAccess) -> Result<()> {
    let team = a.team();
    let last: Option<(i64, Vec<u8>)> = conn
        .prepare_cached(
            "SELECT seq, bytes FROM membership WHERE team_id = ?1 ORDER BY seq DESC LIMIT 1",
        )?
        .query_row([team_bytes(team)], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let Some((last_seq, bytes)) = last else {
        conn.execute(
            "DELETE FROM membership_folded WHERE team_id = ?1",
            [team_bytes(team)],
        )?;
        return Ok(());
    };
    conn.prepare_cached(
        "INSERT OR REPLACE INTO membership_folded
             (team_id, format, entries, last_seq, last_hash, state)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        team_bytes(team),
        FOLDED_FORMAT,
        i64::try_from(a.membership.len).unwrap_or(i64::MAX),
        last_seq,
        entry_hash(&bytes).as_slice(),
        a.folded_state(),
    ])?;
    Ok(())
}

/// Keeps `a`'s fold if [`KEEP_FOLD_EVERY`] entries or more were folded since the kept one
/// (or none is kept): in the transaction that stores them.
fn keep_fold_if_due(conn: &Connection, a: &TeamAccess) -> Result<()> {
    let kept: Option<i64> = conn
        .prepare_cached("SELECT entries FROM membership_folded WHERE team_id = ?1")?
        .query_row([team_bytes(a.team())], |r| r.get(0))
        .optional()?;
    let kept = kept.and_then(|n| u64::try_from(n).ok());
    match kept {
        Some(n) if a.membership.len.saturating_sub(n) < KEEP_FOLD_EVERY => Ok(()),
        _ => keep_fold(conn, a),
    }
}

/// SHA-256 of a stored entry: the kept fold names the last entry it covers by it.
fn entry_hash(bytes: &[u8]) -> [u8; 32] {
    let digest = ring::digest::digest(&ring::digest::SHA256, bytes);
    let mut out = [0u8; 32];
    out.copy_from_slice(digest.as_ref());
    out
}

/// Where this device's envelope cursor stood when it folded each revocation, as stored.
///
/// Only revocations folded by a device that had already pulled envelopes have one: a
/// device that joins after a revocation (cursor 0), and a store from before version 8
/// (whose revocations were folded before anything recorded where), cannot tell the revoked
/// device's earlier work from what a colluding relay delivers late, and would lose the
/// former (the relay's compact pull leaves out what its snapshots cover) to refuse the
/// latter; they keep the epoch rule only.
fn fold_revocations(conn: &Connection, team: TeamId) -> Result<HashMap<DeviceId, u64>> {
    conn.prepare_cached("SELECT device, cursor FROM revocations_folded WHERE team_id = ?1")?
        .query_map([team_bytes(team)], |r| {
            Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, i64>(1)?))
        })?
        .map(|row| {
            let (device, cursor) = row?;
            Ok((
                DeviceId::from_stored(&device)?,
                u64::try_from(cursor).unwrap_or(0),
            ))
        })
        .collect()
}

/// Remembers that this device folded the revocation of `device` with its envelope cursor at
/// `cursor` (the first time only).
fn record_folded(conn: &Connection, team: TeamId, device: DeviceId, cursor: i64) -> Result<()> {
    conn.execute(
        "INSERT OR IGNORE INTO revocations_folded (team_id, device, cursor) VALUES (?1, ?2, ?3)",
        params![team_bytes(team), device.as_bytes().as_slice(), cursor],
    )?;
    Ok(())
}

fn insert_key(
    tx: &Connection,
    team: TeamId,
    epoch: u32,
    doc: Option<DocumentId>,
    key: &[u8; 32],
) -> Result<()> {
    upsert_key(tx, team, epoch, doc, key, false)
}

/// Stores a key; `replace`: over one stored for the same epoch and document (a private-notes
/// key from the notes' owner), else the first stays.
fn upsert_key(
    tx: &Connection,
    team: TeamId,
    epoch: u32,
    doc: Option<DocumentId>,
    key: &[u8; 32],
    replace: bool,
) -> Result<()> {
    let sql = if replace {
        "INSERT OR REPLACE INTO team_keys (team_id, epoch, doc_id, key) VALUES (?1, ?2, ?3, ?4)"
    } else {
        "INSERT OR IGNORE INTO team_keys (team_id, epoch, doc_id, key) VALUES (?1, ?2, ?3, ?4)"
    };
    tx.execute(
        sql,
        params![
            team_bytes(team),
            epoch,
            doc.map(|d| d.as_bytes().to_vec()).unwrap_or_default(),
            key.as_slice()
        ],
    )?;
    Ok(())
}

/// The `meta` row holding the fingerprint of the private-notes keys this device last handed
/// to `team`'s supervisors and admins.
fn notes_shared_key(team: TeamId) -> String {
    format!("private_notes_shared:{team}")
}

impl Store {
    /// This device's verified view of `team`'s membership.
    pub fn access(&self, team: TeamId) -> Result<&TeamAccess> {
        self.access.get(&team).ok_or(Error::NotFound {
            kind: "team",
            id: team.to_string(),
        })
    }

    /// The keys this device holds for `team`.
    pub(crate) fn team_keys(&self, team: TeamId) -> Result<&TeamKeys> {
        self.team_keys
            .get(&team)
            .ok_or(Error::KeyMissing { what: "team keys" })
    }

    /// Every key this device holds for `team` (what a stolen copy of it could open).
    pub fn keys_held(&self, team: TeamId) -> Result<TeamKeys> {
        Ok(self.team_keys(team)?.clone())
    }

    /// The verified membership entries of `team` as stored here, `(seq, bytes)`.
    pub fn membership_log(&self, team: TeamId) -> Result<Vec<(u64, Vec<u8>)>> {
        let rows: Vec<(i64, Vec<u8>)> = self
            .conn
            .prepare_cached("SELECT seq, bytes FROM membership WHERE team_id = ?1 ORDER BY seq")?
            .query_map([team_bytes(team)], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows
            .into_iter()
            .map(|(s, b)| (u64::try_from(s).unwrap_or(0), b))
            .collect())
    }

    /// The device's HPKE public key (keys are wrapped to it).
    pub fn device_hpke_public_key(&self) -> holdfast_protocol::HpkePublicKey {
        self.identity.hpke.public_key().clone()
    }

    /// This device's role in `team`, once known.
    pub fn role(&self, team: TeamId) -> Result<Option<Role>> {
        Ok(self.access(team)?.role)
    }

    /// The team's current key epoch as this device knows it: the one it seals under.
    pub fn epoch(&self, team: TeamId) -> Result<u32> {
        Ok(self.access(team)?.sealing_epoch(self.team_keys(team)?))
    }

    /// Notes the team's epoch as the relay reports it (see [`Store::epoch`]).
    pub fn note_relay_epoch(&mut self, team: TeamId, epoch: u32) -> Result<()> {
        let access = self.access.get_mut(&team).ok_or(Error::NotFound {
            kind: "team",
            id: team.to_string(),
        })?;
        access.relay_epoch = Some(epoch);
        Ok(())
    }

    /// The relay's membership log length as last seen (where the next pull starts).
    pub(crate) fn membership_next(&self, team: TeamId) -> Result<u64> {
        Ok(self.access(team)?.relay_len)
    }

    /// The team's devices, from the verified membership (a patient sees staff and itself).
    pub fn devices(&self, team: TeamId) -> Result<Vec<TeamDevice>> {
        Ok(self.access(team)?.devices(self.author.device))
    }

    /// Creates a team at `relay_url`: a genesis entry signed by this device (its first
    /// admin) and the key of epoch 1. The sync client registers it with the relay. The first
    /// team a device has becomes its current team and takes every document made before.
    ///
    /// The relay's certificate is trusted through the platform's roots, and `http://` is
    /// refused but to this computer: [`Store::create_team_with`] for a self-hosted relay.
    pub fn create_team(&mut self, relay_url: &str) -> Result<TeamId> {
        self.create_team_with(relay_url, None, PlainHttp::LoopbackOnly)
    }

    /// [`Store::create_team`] at a relay whose certificate chains to the CA `relay_pin`
    /// names (a self-hosted relay; the team's invite codes carry the pin), and with
    /// `plain_http` saying whether `http://` to another host is allowed (development only:
    /// pass [`SyncClient::plain_http`](crate::SyncClient::plain_http)).
    pub fn create_team_with(
        &mut self,
        relay_url: &str,
        relay_pin: Option<RelayPin>,
        plain_http: PlainHttp,
    ) -> Result<TeamId> {
        let relay_url = super::teams::check_relay_url(relay_url, plain_http)?;
        let founded = access::team::found_team(&self.identity, self.now_ms())?;
        let team = founded.team;
        let mut keys = TeamKeys::new(team);
        keys.insert_epoch(1, founded.key.clone());
        keys.set_private_notes(founded.access.membership.private_notes.keys().copied());
        let joined_at = self.now_millis();
        let tx = self.conn.transaction()?;
        super::teams::insert_team_row(
            &tx,
            &NewTeamRow {
                team,
                relay_url: &relay_url,
                relay_pin,
                created_here: true,
                role: Role::Admin,
                plan: None,
                invite: None,
                joined_at,
            },
        )?;
        tx.execute(
            "INSERT INTO membership (team_id, seq, bytes) VALUES (?1, 0, ?2)",
            params![team_bytes(team), founded.genesis.as_bytes()],
        )?;
        tx.execute(
            "UPDATE teams SET membership_len = 1 WHERE id = ?1",
            [team_bytes(team)],
        )?;
        keep_fold(&tx, &founded.access)?;
        insert_key(&tx, team, 1, None, founded.key.as_bytes())?;
        let becomes_current = super::teams::take_unassigned(&tx, self.current_team, team)?;
        tx.commit()?;
        self.access.insert(team, founded.access);
        self.team_keys.insert(team, keys);
        if becomes_current {
            self.current_team = Some(team);
        }
        tracing::info!(team = %team, "team created");
        Ok(team)
    }

    /// The genesis entry of a team this device created (for registering it).
    pub(crate) fn genesis(&self, team: TeamId) -> Result<Vec<u8>> {
        self.conn
            .query_row(
                "SELECT bytes FROM membership WHERE team_id = ?1 AND seq = 0",
                [team_bytes(team)],
                |r| r.get(0),
            )
            .optional()?
            .ok_or(Error::NotFound {
                kind: "genesis entry",
                id: team.to_string(),
            })
    }

    /// Verifies and stores membership entries pulled from the relay (`(seq, bytes)` from
    /// `relay_len`), and the relay's new log length. All or nothing: one bad entry refuses
    /// the lot. Returns what changed.
    pub fn apply_membership(
        &mut self,
        team: TeamId,
        entries: &[(u64, Vec<u8>)],
        relay_len: u64,
    ) -> Result<Vec<Applied>> {
        let me = self.author.device;
        let (mut access, applied) = self.access(team)?.with_pulled(entries, relay_len, me)?;
        let cursor = self.team(team)?.cursor;
        let had = self.access(team)?.relay_len;
        let tx = self.conn.transaction()?;
        // From here on, what a revoked device sends that has not reached this device yet is
        // refused, whatever epoch it claims; unless this device has pulled nothing yet (it
        // joined after the revocation: see `fold_revocations`).
        for a in &applied {
            if let Applied::Revoked { device, .. } = a
                && cursor > 0
            {
                record_folded(
                    &tx,
                    team,
                    *device,
                    i64::try_from(cursor).unwrap_or(i64::MAX),
                )?;
                access.refused_after.entry(*device).or_insert(cursor);
            }
        }
        // A revocation this device signed: the documents the revoked device wrote to are
        // snapshotted at the next sync (see `Store::queue_pending_author_snapshots`), however
        // the revoking call ended.
        for (seq, bytes) in entries {
            if *seq < had {
                continue;
            }
            if let Ok(entry) = holdfast_protocol::Entry::decode(bytes)
                && entry.signer == me.0
                && let holdfast_protocol::Op::Revoke { device, .. } = entry.op
            {
                tx.execute(
                    "INSERT OR IGNORE INTO pending_author_snapshots (team_id, author) VALUES (?1, ?2)",
                    params![team_bytes(team), device.as_bytes().as_slice()],
                )?;
            }
        }
        for (seq, bytes) in entries {
            tx.execute(
                "INSERT OR IGNORE INTO membership (team_id, seq, bytes) VALUES (?1, ?2, ?3)",
                params![
                    team_bytes(team),
                    i64::try_from(*seq).unwrap_or(i64::MAX),
                    bytes
                ],
            )?;
        }
        if !applied.is_empty() {
            keep_fold_if_due(&tx, &access)?;
        }
        tx.execute(
            "UPDATE teams SET membership_len = ?2, role = ?3, plan_id = ?4 WHERE id = ?1",
            params![
                team_bytes(team),
                i64::try_from(access.relay_len).unwrap_or(i64::MAX),
                access.role.map(Role::as_str),
                access.plan.map(|p| p.as_bytes().to_vec()),
            ],
        )?;
        tx.commit()?;
        let revoked = access.is_revoked(me);
        if let Some(k) = self.team_keys.get_mut(&team) {
            k.set_private_notes(access.membership.private_notes.keys().copied());
        }
        self.access.insert(team, access);
        if revoked {
            return Err(Error::Revoked {
                team: team.to_string(),
            });
        }
        Ok(applied)
    }

    /// Verifies, opens and stores key bundles pulled from the relay (`(seq, bytes)`), and
    /// moves the key cursor to `next` (or to just before a bundle that must wait for
    /// membership). Which keys count is decided by `access/bundles.rs`. Returns the
    /// keys added.
    pub fn apply_key_bundles(
        &mut self,
        team: TeamId,
        bundles: &[(u64, Vec<u8>)],
        next: u64,
    ) -> Result<usize> {
        let AcceptedKeys { added, keys, next } = access::bundles::accept(
            self.access(team)?,
            self.team_keys(team)?,
            &self.identity,
            bundles,
            next,
        );
        let tx = self.conn.transaction()?;
        for k in &added {
            upsert_key(&tx, team, k.epoch, k.doc, &k.key, k.replaces)?;
        }
        tx.execute(
            "UPDATE teams SET keys_cursor = ?2 WHERE id = ?1 AND keys_cursor < ?2",
            params![team_bytes(team), i64::try_from(next).unwrap_or(i64::MAX)],
        )?;
        tx.commit()?;
        self.team_keys.insert(team, keys);
        Ok(added.len())
    }

    /// Pull every key bundle again from the start at the next sync (those held are skipped):
    /// a key this device needs has not come although its cursor says it pulled past it,
    /// which an honest relay never causes (a lying one can relabel a bundle with a huge
    /// number). Returns whether the cursor moved.
    pub(crate) fn restart_key_pull(&mut self, team: TeamId) -> Result<bool> {
        let moved = self.conn.execute(
            "UPDATE teams SET keys_cursor = 0 WHERE id = ?1 AND keys_cursor > 0",
            [team_bytes(team)],
        )? > 0;
        if moved {
            tracing::warn!(team = %team, "a key this device needs has not come: pulling key bundles again from the start");
        }
        Ok(moved)
    }

    /// Where the next key-bundle pull starts.
    pub fn keys_cursor(&self, team: TeamId) -> Result<u64> {
        let c: i64 = self.conn.query_row(
            "SELECT keys_cursor FROM teams WHERE id = ?1",
            [team_bytes(team)],
            |r| r.get(0),
        )?;
        Ok(u64::try_from(c).unwrap_or(0))
    }

    /// Shares a directory into another team this device belongs to (as staff): every change
    /// it has is queued for that team now, and every later change (made here, or received
    /// through either team) goes to both. Only directories are shared across teams.
    /// Returns how many changes were queued.
    pub fn share_document(&mut self, doc: DocumentId, team: TeamId) -> Result<usize> {
        let home = self.document_team(doc)?;
        let home_access = home.map(|h| self.access(h)).transpose()?;
        access::sharing::may_share(self.kind_of(doc)?, home_access, self.access(team)?)?;
        if home == Some(team) {
            return Ok(0);
        }
        let changes: Vec<(Vec<u8>, Vec<u8>)> = {
            let (_, d) = self.load(doc)?;
            d.get_changes(&[])
                .iter()
                .map(|c| (c.hash().0.to_vec(), c.raw_bytes().to_vec()))
                .collect()
        };
        let now = self.now_millis();
        let tx = self.conn.transaction()?;
        let added = tx.execute(
            "INSERT OR IGNORE INTO document_shares (doc_id, team_id) VALUES (?1, ?2)",
            params![doc.as_bytes().as_slice(), team_bytes(team)],
        )?;
        if added == 0 {
            return Ok(0);
        }
        for (hash, bytes) in &changes {
            tx.execute(
                "INSERT INTO outbox (doc_id, hash, bytes, created_at, team_id)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    doc.as_bytes().as_slice(),
                    hash,
                    bytes,
                    now,
                    team_bytes(team)
                ],
            )?;
        }
        tx.commit()?;
        tracing::info!(doc = %doc, team = %team, changes = changes.len(), "directory shared into a team");
        Ok(changes.len())
    }

    /// The teams a document is in: its own first, then those it is shared into.
    pub fn document_teams(&self, doc: DocumentId) -> Result<Vec<TeamId>> {
        let mut out: Vec<TeamId> = self.document_team(doc)?.into_iter().collect();
        let shared: Vec<Vec<u8>> = self
            .conn
            .prepare_cached("SELECT team_id FROM document_shares WHERE doc_id = ?1")?
            .query_map([doc.as_bytes().as_slice()], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        for t in shared {
            let t = TeamId::from_stored(&t)?;
            if !out.contains(&t) {
                out.push(t);
            }
        }
        Ok(out)
    }

    /// The team's invites as this device's verified log has them, newest expiry first.
    /// Staff see every invite; a patient's device only the one it redeemed.
    pub fn invites(&self, team: TeamId) -> Result<Vec<TeamInvite>> {
        Ok(self.access(team)?.invites(self.now_ms()))
    }

    /// Makes the cancellation of a pending invite (`invite`: the code itself, or its id in
    /// hex): a Cancel entry, checked as the relay will check it. The relay deletes the keys
    /// wrapped to the invite when it appends the entry. Returns the entry and the log length
    /// it was made against.
    pub(crate) fn prepare_cancel_invite(
        &self,
        team: TeamId,
        invite: &str,
    ) -> Result<(Vec<u8>, u64)> {
        access::invites::prepare_cancel(self.access(team)?, &self.identity, invite, self.now_ms())
    }

    /// Makes a one-time invite for `role` (and `plan`, for a patient) valid for `ttl_ms`,
    /// with the keys the new device will need wrapped to the invite's HPKE key. The sync
    /// client registers it with the relay; the code is shown only after that succeeds.
    pub fn prepare_invite(
        &self,
        team: TeamId,
        role: Role,
        plan: Option<DocumentId>,
        ttl_ms: u64,
    ) -> Result<PreparedInvite> {
        let plan_kind = plan.map(|p| self.kind_of(p)).transpose()?;
        let info = self.team(team)?;
        let genesis = self.genesis(team)?;
        access::invites::prepare_invite(
            self.access(team)?,
            self.team_keys(team)?,
            &self.identity,
            &access::invites::InviteTarget {
                relay_url: &info.relay_url,
                relay_pin: info.relay_pin,
                genesis: &genesis,
                role,
                plan,
                plan_kind,
            },
            ttl_ms,
            self.now_ms(),
        )
    }

    /// Makes the revocation of `device`: a Revoke entry for the next epoch, a fresh epoch
    /// key, and bundles of it for every device still active and every pending invite whose
    /// creator is still active. Nothing changes here until the relay accepts it.
    pub fn prepare_revocation(&self, team: TeamId, device: DeviceId) -> Result<PreparedRevocation> {
        access::revocation::prepare_revocation(
            self.access(team)?,
            self.team_keys(team)?,
            &self.identity,
            device,
            self.now_ms(),
        )
    }

    /// Keeps the new epoch's key once the relay has accepted the revocation (the entry
    /// itself arrives with the next membership pull).
    pub fn revocation_accepted(
        &mut self,
        team: TeamId,
        revocation: &PreparedRevocation,
    ) -> Result<()> {
        insert_key(
            &self.conn,
            team,
            revocation.epoch,
            None,
            revocation.key.as_bytes(),
        )?;
        if let Some(k) = self.team_keys.get_mut(&team) {
            k.insert_epoch(revocation.epoch, revocation.key.clone());
        }
        Ok(())
    }

    /// Checks an invite code against the Invite and genesis entries the relay holds for it,
    /// and signs the Redeem entry. A code whose role, plan, expiry, team or keys differ from
    /// the log is refused (forged or altered), and nothing is stored.
    pub fn prepare_redeem(
        &self,
        code: &InviteCode,
        invite_entry: &[u8],
        genesis_entry: &[u8],
    ) -> Result<PreparedRedeem> {
        access::invites::prepare_redeem(
            code,
            invite_entry,
            genesis_entry,
            &self.identity,
            self.now_ms(),
        )
    }

    /// Joins the team of a redeemed invite: the team row (role and plan from the verified
    /// invite), and the invite's HPKE seed in the key store (it opens the keys the inviter
    /// left). Membership and keys come with the first sync.
    pub fn join_team(
        &mut self,
        keys: &dyn KeyStore,
        code: &InviteCode,
        redeemed: &PreparedRedeem,
    ) -> Result<TeamId> {
        let team = code.team;
        if self.access.contains_key(&team) {
            return Err(Error::NotAllowed(
                "this device already belongs to the team".into(),
            ));
        }
        // Any host: the sync client applied its own rule for plain http before it sent the
        // redeem (and applies it again to every request).
        let relay_url = super::teams::check_relay_url(&code.relay_url, PlainHttp::AnyHost)?;
        let invite_key = code.hpke_key()?;
        let mut access = TeamAccess::new(team);
        access.role = Some(redeemed.role);
        access.plan = redeemed.plan;
        access.invite = Some(code.id().0);
        access.fold(&redeemed.genesis)?;
        access.relay_len = 1;
        keys.put(&invite_key_name(team), invite_key.seed())?;
        let joined_at = self.now_millis();
        let tx = self.conn.transaction()?;
        super::teams::insert_team_row(
            &tx,
            &NewTeamRow {
                team,
                relay_url: &relay_url,
                relay_pin: code.relay_pin,
                created_here: false,
                role: redeemed.role,
                plan: redeemed.plan,
                invite: Some(code.id().0),
                joined_at,
            },
        )?;
        tx.execute(
            "UPDATE teams SET registered = 1, membership_len = 1 WHERE id = ?1",
            [team_bytes(team)],
        )?;
        // The genesis the code's anchor vouched for is the log's first entry from now on:
        // membership pulls continue after it, so a relay cannot serve another team's origin.
        tx.execute(
            "INSERT INTO membership (team_id, seq, bytes) VALUES (?1, 0, ?2)",
            params![team_bytes(team), redeemed.genesis],
        )?;
        keep_fold(&tx, &access)?;
        forget_held_redeem(&tx, code)?;
        let becomes_current = if access::team::brings_its_documents(redeemed.role) {
            super::teams::take_unassigned(&tx, self.current_team, team)?
        } else {
            false
        };
        tx.commit()?;
        access.invite_key = Some(Arc::new(invite_key));
        let mut held = TeamKeys::new(team);
        held.set_private_notes(access.membership.private_notes.keys().copied());
        self.access.insert(team, access);
        self.team_keys.insert(team, held);
        if becomes_current {
            self.current_team = Some(team);
        }
        tracing::info!(team = %team, role = %redeemed.role, "team joined");
        Ok(team)
    }

    /// Keeps a Redeem entry about to be sent, until the device joins or the relay refuses it:
    /// if the answer is lost, the same bytes are sent again and the relay recognises them
    /// (a new entry would be refused, the invite being used by then).
    pub fn hold_redeem(&self, code: &InviteCode, redeemed: &PreparedRedeem) -> Result<()> {
        self.conn.execute(
            "INSERT OR IGNORE INTO pending_redeems
                 (invite_id, team_id, entry, role, plan_id, genesis, created_at, relay_url)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                code.id().0.to_vec(),
                code.team.0.to_vec(),
                redeemed.entry,
                redeemed.role.as_str(),
                redeemed.plan.map(|p| p.as_bytes().to_vec()),
                redeemed.genesis,
                self.now_millis(),
                code.relay_url,
            ],
        )?;
        Ok(())
    }

    /// The Redeem entry held for the code's invite, if one was sent and not answered. A
    /// code for the same invite that names another relay or team than the one held (a copy
    /// someone altered) is refused: the held entry goes only where it went before.
    pub fn held_redeem(&self, code: &InviteCode) -> Result<Option<PreparedRedeem>> {
        let row = self
            .conn
            .query_row(
                "SELECT entry, role, plan_id, genesis, relay_url FROM pending_redeems
                 WHERE invite_id = ?1",
                params![code.id().0.to_vec()],
                |r| {
                    Ok((
                        r.get::<_, Vec<u8>>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, Option<Vec<u8>>>(2)?,
                        r.get::<_, Vec<u8>>(3)?,
                        r.get::<_, String>(4)?,
                    ))
                },
            )
            .optional()?;
        let Some((entry, role, plan, genesis, relay_url)) = row else {
            return Ok(None);
        };
        access::invites::check_held(code, &relay_url, &genesis)?;
        let role = Role::from_name(&role)
            .ok_or_else(|| Error::StoreCorrupt(format!("held redeem with role {role:?}")))?;
        let plan = plan.map(|p| DocumentId::from_stored(&p)).transpose()?;
        Ok(Some(PreparedRedeem {
            entry,
            role,
            plan,
            genesis,
        }))
    }

    /// Forgets the Redeem entry held for the code's invite (the relay refused it).
    pub(crate) fn drop_redeem(&self, code: &InviteCode) -> Result<()> {
        forget_held_redeem(&self.conn, code)
    }

    /// The key of this device's own private notes in `team`: the one it holds, or a fresh
    /// one, stored before anything is sealed with it (so an edit never commits under a key
    /// that could be lost). It reaches the team's supervisors and admins at the next sync.
    pub(crate) fn own_notes_key(&mut self, team: TeamId) -> Result<PrivateNotesKey> {
        let doc = holdfast_protocol::private_notes_id(&team, &self.author.device);
        if let Some(k) = self.team_keys(team)?.notes_key(doc) {
            return Ok(k.clone());
        }
        let key = PrivateNotesKey::generate(&holdfast_protocol::SystemRandom::new())?;
        insert_key(&self.conn, team, NOTES_KEY_EPOCH, Some(doc), key.as_bytes())?;
        if let Some(k) = self.team_keys.get_mut(&team) {
            k.insert_notes_key(doc, key.clone());
        }
        tracing::info!(team = %team, "private-notes key made");
        Ok(key)
    }

    /// The bundles handing the private-notes keys this device holds to `team`'s supervisors
    /// and admins (see `access::bundles::private_notes_bundles`), unless what they would
    /// carry is what this device last handed on; with the fingerprint to record once the
    /// relay has them ([`Store::private_notes_shared`]).
    pub(crate) fn prepare_private_notes_bundles(
        &self,
        team: TeamId,
    ) -> Result<Option<access::bundles::PrivateNotesBundles>> {
        let last: Option<Vec<u8>> = self
            .conn
            .query_row(
                "SELECT value FROM meta WHERE key = ?1",
                [notes_shared_key(team)],
                |r| r.get(0),
            )
            .optional()?;
        access::bundles::private_notes_bundles(
            self.access(team)?,
            self.team_keys(team)?,
            &self.identity,
            self.now_ms(),
            last.as_deref(),
        )
    }

    /// Records that the relay holds the private-notes bundles with this fingerprint.
    pub(crate) fn private_notes_shared(&self, team: TeamId, fingerprint: [u8; 32]) -> Result<()> {
        self.conn.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)",
            params![notes_shared_key(team), fingerprint.as_slice()],
        )?;
        Ok(())
    }

    /// Documents of `team` to pull again, alone, from the start: private notes whose
    /// envelopes were set aside for want of their key ([`WAITING_FOR_NOTES_KEY`]) and whose
    /// key this device holds now; those whose key it holds but not the document (a device
    /// promoted to supervisor was never served them: its cursor is past them); and
    /// documents whose envelopes were set aside because they built on changes this device
    /// did not hold ([`WAITING_FOR_ITS_DOCUMENT`]), or refused as not a Holdfast document
    /// before such edits waited, once the document is here.
    pub(crate) fn documents_to_pull_again(&self, team: TeamId) -> Result<Vec<DocumentId>> {
        let set_aside: Vec<Vec<u8>> = self
            .conn
            .prepare_cached(
                "SELECT DISTINCT doc_id FROM refused WHERE team_id = ?1 AND reason = ?2",
            )?
            .query_map(params![team_bytes(team), WAITING_FOR_NOTES_KEY], |r| {
                r.get(0)
            })?
            .collect::<rusqlite::Result<_>>()?;
        let keys = self.team_keys(team)?;
        let mut out = std::collections::BTreeSet::new();
        for d in &set_aside {
            let d = DocumentId::from_stored(d)?;
            if keys.notes_key(d).is_some() {
                out.insert(d);
            }
        }
        let mine = holdfast_protocol::private_notes_id(&team, &self.author.device);
        let mut held = self
            .conn
            .prepare_cached("SELECT 1 FROM documents WHERE id = ?1")?;
        for (d, _) in keys.notes_keys() {
            if d != mine && !held.exists([d.as_bytes().as_slice()])? {
                out.insert(d);
            }
        }
        let arrived: Vec<Vec<u8>> = self
            .conn
            .prepare_cached(
                "SELECT DISTINCT r.doc_id FROM refused r JOIN documents d ON d.id = r.doc_id
                 WHERE r.team_id = ?1 AND r.reason IN (?2, ?3)",
            )?
            .query_map(
                params![
                    team_bytes(team),
                    WAITING_FOR_ITS_DOCUMENT,
                    super::incoming::NOT_A_HOLDFAST_DOCUMENT
                ],
                |r| r.get(0),
            )?
            .collect::<rusqlite::Result<_>>()?;
        for d in &arrived {
            out.insert(DocumentId::from_stored(d)?);
        }
        Ok(out.into_iter().collect())
    }
}

/// Forgets the Redeem entry held for the code's invite: refused, or the device has joined.
fn forget_held_redeem(conn: &Connection, code: &InviteCode) -> Result<()> {
    conn.execute(
        "DELETE FROM pending_redeems WHERE invite_id = ?1",
        [code.id().0.to_vec()],
    )?;
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::access::Identity;
    use crate::access::invites;
    use crate::access::team::tests::identity;
    use crate::keystore::MemoryKeyStore;
    use crate::model::case_file::NewPatient;
    use crate::store::StoreConfig;
    use holdfast_protocol::{Entry, Membership};

    struct Device {
        dir: tempfile::TempDir,
        keys: MemoryKeyStore,
        store: Store,
    }

    impl Device {
        fn new(person: &str) -> Device {
            let dir = tempfile::tempdir().unwrap();
            let keys = MemoryKeyStore::default();
            let store = Store::create(&StoreConfig::new(dir.path(), person), &keys).unwrap();
            Device { dir, keys, store }
        }

        /// Opens the store again; the team's state and how the open rebuilt it.
        fn reopen(&mut self, team: TeamId) -> (TeamAccess, FoldedAtOpen) {
            let config = StoreConfig::new(self.dir.path(), "again");
            self.store = Store::open(&config, &self.keys).unwrap();
            let a = self.store.access(team).unwrap().clone();
            let how = a.folded_at_open();
            (a, how)
        }

        /// Forgets the kept fold: the next open folds the whole log as before version 14.
        fn forget_fold(&self) {
            self.store
                .conn
                .execute("DELETE FROM membership_folded", [])
                .unwrap();
        }
    }

    /// The admin's invite for `role`, redeemed by a made-up device; both entries pulled.
    fn enrol(admin: &mut Store, team: TeamId, role: Role, plan: Option<DocumentId>) -> Identity {
        let invite = admin.prepare_invite(team, role, plan, 600_000).unwrap();
        let device = identity();
        let genesis = admin.genesis(team).unwrap();
        let now = admin.now_ms();
        let redeem =
            invites::prepare_redeem(&invite.code, &invite.entry, &genesis, &device, now).unwrap();
        let seq = invite.expected_len;
        admin
            .apply_membership(
                team,
                &[(seq, invite.entry), (seq + 1, redeem.entry)],
                seq + 2,
            )
            .unwrap();
        device
    }

    /// The admin revokes `device`; the relay accepts and the entry is pulled.
    fn revoke(admin: &mut Store, team: TeamId, device: DeviceId) {
        let r = admin.prepare_revocation(team, device).unwrap();
        admin.revocation_accepted(team, &r).unwrap();
        let seq = r.expected_len;
        admin
            .apply_membership(team, &[(seq, r.entry)], seq + 1)
            .unwrap();
    }

    /// The relay's view of `log` for the patient who redeemed `invite`: no entry about
    /// another patient.
    fn filtered(team: TeamId, log: &[(u64, Vec<u8>)], invite: [u8; 16]) -> Vec<(u64, Vec<u8>)> {
        let mut state = Membership::new(team);
        let mut out = Vec::new();
        for (seq, bytes) in log {
            let entry = Entry::decode(bytes).unwrap();
            let subject = entry.patient_subject(&state);
            state.apply(&entry).unwrap();
            if subject.is_none_or(|s| s == invite) {
                out.push((*seq, bytes.clone()));
            }
        }
        out
    }

    fn assert_same_fold(kept: &TeamAccess, full: &TeamAccess) {
        assert_eq!(kept.membership, full.membership);
        assert_eq!(kept.revoked_in, full.revoked_in);
        assert_eq!(kept.refused_after, full.refused_after);
        assert_eq!((kept.role, kept.plan), (full.role, full.plan));
        assert_eq!(kept.relay_len, full.relay_len);
    }

    /// Invites, redeems, a cancel and revocations over three epochs: the open that takes the
    /// kept fold and the open that folds the whole log come to the same team, for the admin
    /// and for a patient, whose filtered view skips another patient's revocation.
    #[test]
    fn the_kept_fold_is_the_full_fold_for_staff_and_for_a_patient() {
        let mut admin = Device::new("Admin");
        let team = admin.store.create_team("https://relay.invalid").unwrap();
        let plan = admin
            .store
            .create_case_file(NewPatient::named("Ada Lovelace"))
            .unwrap()
            .plan_id;
        let other_plan = admin
            .store
            .create_case_file(NewPatient::named("Grace Hopper"))
            .unwrap()
            .plan_id;
        let lw1 = enrol(&mut admin.store, team, Role::LinkWorker, None);
        let lw2 = enrol(&mut admin.store, team, Role::LinkWorker, None);

        // The patient's own device joins through the admin's invite.
        let mut patient = Device::new("Ada");
        let invite = admin
            .store
            .prepare_invite(team, Role::Patient, Some(plan), 600_000)
            .unwrap();
        let genesis = admin.store.genesis(team).unwrap();
        let redeemed = patient
            .store
            .prepare_redeem(&invite.code, &invite.entry, &genesis)
            .unwrap();
        patient
            .store
            .join_team(&patient.keys, &invite.code, &redeemed)
            .unwrap();
        let seq = invite.expected_len;
        admin
            .store
            .apply_membership(
                team,
                &[
                    (seq, invite.entry.clone()),
                    (seq + 1, redeemed.entry.clone()),
                ],
                seq + 2,
            )
            .unwrap();

        // Revocations from here count from the envelope cursor.
        admin
            .store
            .conn
            .execute("UPDATE teams SET cursor = 9", [])
            .unwrap();
        revoke(&mut admin.store, team, lw2.device);
        enrol(&mut admin.store, team, Role::Supervisor, None);
        let other = enrol(&mut admin.store, team, Role::Patient, Some(other_plan));
        revoke(&mut admin.store, team, other.device);
        // An invite, logged and then cancelled.
        let shown = admin
            .store
            .prepare_invite(team, Role::LinkWorker, None, 600_000)
            .unwrap();
        let seq = shown.expected_len;
        admin
            .store
            .apply_membership(team, &[(seq, shown.entry)], seq + 1)
            .unwrap();
        let (cancel, seq) = admin
            .store
            .prepare_cancel_invite(team, &hex::encode(shown.code.id().0))
            .unwrap();
        admin
            .store
            .apply_membership(team, &[(seq, cancel)], seq + 1)
            .unwrap();
        revoke(&mut admin.store, team, lw1.device);
        assert_eq!(admin.store.epoch(team).unwrap(), 4);

        let entries = admin.store.membership_log(team).unwrap().len() as u64;
        let (first, how) = admin.reopen(team);
        assert_eq!(
            how.kept + how.verified,
            entries,
            "a kept fold and the entries after it"
        );
        assert!(how.verified < KEEP_FOLD_EVERY);
        admin.forget_fold();
        let (full, how) = admin.reopen(team);
        assert_eq!((how.kept, how.verified), (0, entries), "the whole log");
        let (kept, how) = admin.reopen(team);
        assert_eq!(
            (how.kept, how.verified),
            (entries, 0),
            "kept after the full fold"
        );
        assert_eq!(kept.refused_after.len(), 3);
        assert_eq!(kept.revoked_in.len(), 3);
        assert_same_fold(&kept, &full);
        assert_same_fold(&first, &full);

        // The patient pulls its filtered view (another patient's enrolment and revocation
        // left out: its epochs jump from 2 to 4).
        let log = admin.store.membership_log(team).unwrap();
        let view = filtered(team, &log, invite.code.id().0);
        assert!(view.len() < log.len());
        let relay_len = view.last().unwrap().0 + 1;
        patient
            .store
            .apply_membership(team, &view[1..], relay_len)
            .unwrap();
        let (first, how) = patient.reopen(team);
        assert_eq!(how.kept + how.verified, view.len() as u64);
        patient.forget_fold();
        let (full, how) = patient.reopen(team);
        assert_eq!((how.kept, how.verified), (0, view.len() as u64));
        let (kept, how) = patient.reopen(team);
        assert_eq!((how.kept, how.verified), (view.len() as u64, 0));
        assert_eq!(kept.role, Some(Role::Patient));
        assert_eq!(kept.membership.epoch, 4);
        assert!(
            kept.membership
                .can_access(&patient.store.author.device, &plan)
        );
        assert_same_fold(&kept, &full);
        assert_same_fold(&first, &full);
    }

    /// Pulled entries move the kept fold on once enough of them came after it, in the
    /// transaction that stores them; fewer are folded on top of it at open.
    #[test]
    fn the_kept_fold_moves_on_with_the_entries_pulled() {
        let mut admin = Device::new("Admin");
        let team = admin.store.create_team("https://relay.invalid").unwrap();
        let (_, how) = admin.reopen(team);
        assert_eq!(
            (how.kept, how.verified),
            (1, 0),
            "the genesis, kept with it"
        );
        for _ in 0..KEEP_FOLD_EVERY / 2 {
            enrol(&mut admin.store, team, Role::LinkWorker, None);
        }
        let entries = 1 + KEEP_FOLD_EVERY;
        let (_, how) = admin.reopen(team);
        assert_eq!((how.kept, how.verified), (entries, 0));
        enrol(&mut admin.store, team, Role::LinkWorker, None);
        let (a, how) = admin.reopen(team);
        assert_eq!((how.kept, how.verified), (entries, 2));
        assert_eq!(a.membership.len, entries + 2);
        assert_eq!(a.membership.devices.len() as u64, 2 + KEEP_FOLD_EVERY / 2);
    }

    /// A kept fold that does not cover exactly the stored log, or that cannot be read, is
    /// dropped for a full fold; entries stored after it are folded and verified on top.
    #[test]
    fn a_kept_fold_that_does_not_match_the_log_is_folded_again() {
        let mut admin = Device::new("Admin");
        let team = admin.store.create_team("https://relay.invalid").unwrap();
        enrol(&mut admin.store, team, Role::LinkWorker, None);
        admin.forget_fold();
        let (truth, how) = admin.reopen(team);
        assert_eq!((how.kept, how.verified), (0, 3));
        let (_, how) = admin.reopen(team);
        assert_eq!((how.kept, how.verified), (3, 0));
        let set = |admin: &Device, sql: &str| {
            admin.store.conn.execute(sql, []).unwrap();
        };
        // Another layout, another last entry, another count, unreadable bytes.
        for tamper in [
            "UPDATE membership_folded SET format = 99",
            "UPDATE membership_folded SET last_hash = zeroblob(32)",
            "UPDATE membership_folded SET entries = 2",
            "UPDATE membership_folded SET state = x'00010203'",
            "UPDATE membership_folded SET last_seq = 1",
        ] {
            set(&admin, tamper);
            let (again, how) = admin.reopen(team);
            assert_eq!((how.kept, how.verified), (0, 3), "{tamper}");
            assert_same_fold(&again, &truth);
            let (_, how) = admin.reopen(team);
            assert_eq!(
                (how.kept, how.verified),
                (3, 0),
                "kept again after {tamper}"
            );
        }
        // An entry stored without the fold moving on (as no build does, but a kept fold
        // must not hide it): folded and verified at open, on top of the kept fold.
        let invite = admin
            .store
            .prepare_invite(team, Role::LinkWorker, None, 600_000)
            .unwrap();
        admin
            .store
            .conn
            .execute(
                "INSERT INTO membership (team_id, seq, bytes) VALUES (?1, 3, ?2)",
                params![team_bytes(team), invite.entry],
            )
            .unwrap();
        let (after, how) = admin.reopen(team);
        assert_eq!((how.kept, how.verified), (3, 1));
        assert_eq!(after.membership.invites.len(), 2);
        assert_eq!(after.membership.len, 4);
        // One that does not verify is damage, as it always was.
        let mut forged = invite.entry.clone();
        let last = forged.len() - 1;
        forged[last] ^= 1;
        set(&admin, "DELETE FROM membership_folded");
        admin
            .store
            .conn
            .execute(
                "UPDATE membership SET bytes = ?2 WHERE team_id = ?1 AND seq = 3",
                params![team_bytes(team), forged],
            )
            .unwrap();
        let config = StoreConfig::new(admin.dir.path(), "again");
        let err = Store::open(&config, &admin.keys).err().unwrap();
        assert!(matches!(err, Error::StoreCorrupt(_)), "{err:?}");
    }
}
