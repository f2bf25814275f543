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
use crate::access::envelopes::WAITING_FOR_NOTES_KEY;
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
        let entries: Vec<Vec<u8>> = conn
            .prepare_cached("SELECT bytes FROM membership WHERE team_id = ?1 ORDER BY seq")?
            .query_map([&id], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        for e in &entries {
            // Verified when it was stored: one that no longer folds is damage here.
            a.fold(e).map_err(|e| {
                Error::StoreCorrupt(format!("team {team}'s stored membership: {e}"))
            })?;
        }
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

    /// Private-notes documents of `team` to pull again, alone, from the start: those whose
    /// envelopes were set aside for want of their key ([`WAITING_FOR_NOTES_KEY`]) and whose
    /// key this device holds now, and those whose key it holds but not the document (a
    /// device promoted to supervisor was never served them: its cursor is past them).
    pub(crate) fn private_notes_waiting(&self, team: TeamId) -> Result<Vec<DocumentId>> {
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
