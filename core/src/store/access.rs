//! Access on the device: each team's verified membership, this device's role in it, and
//! the keys it holds. Everything the relay serves (membership entries, key bundles) is
//! verified here before it is stored: a relay that invents an entry or a bundle gets an
//! error, and nothing changes.

use std::collections::HashMap;

use holdfast_protocol::{
    Applied, BundleHeader, EpochKey, HpkeKeyPair, InviteCode, KeyBundle, Member, Membership, Op,
    Role, SystemRandom, WrappedKey, redeem_proof_message,
};
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};

use super::Store;
use crate::crypto::TeamKeys;
use crate::crypto::keys::invite_key_name;
use crate::keystore::KeyStore;
use crate::model::doc;
use crate::model::ids::{DeviceId, DocId, TeamId};
use crate::{Error, Result};

/// What this device knows about its access to one team.
#[derive(Debug, Clone)]
pub struct TeamAccess {
    /// The verified membership (for a patient: its filtered view).
    pub membership: Membership,
    /// Epoch at which each revoked device was revoked: its envelopes sealed at or after
    /// that epoch are refused.
    pub revoked_in: HashMap<DeviceId, u32>,
    /// This device's role, once known.
    pub role: Option<Role>,
    /// This device's plan, when it is a patient.
    pub plan: Option<DocId>,
    /// The invite this device redeemed (to recognise bundles addressed to it).
    pub invite: Option<[u8; 16]>,
    /// The relay's log length (a patient's view has fewer entries).
    pub relay_len: u64,
    /// The HPKE key of the invite this device redeemed (from the key store).
    invite_key: Option<std::sync::Arc<HpkeKeyPair>>,
    /// The team's epoch as the relay last reported it (asked by patients' devices, whose
    /// filtered log can lag it).
    pub relay_epoch: Option<u32>,
}

impl TeamAccess {
    fn new(team: TeamId) -> Self {
        TeamAccess {
            membership: Membership::new(team.into()),
            revoked_in: HashMap::new(),
            role: None,
            plan: None,
            invite: None,
            relay_len: 0,
            invite_key: None,
            relay_epoch: None,
        }
    }

    /// Whether this device sees the patient's filtered view of the log.
    pub fn is_patient(&self) -> bool {
        self.role == Some(Role::Patient)
    }

    /// Folds one entry, verifying it; records revocation epochs.
    fn fold(&mut self, bytes: &[u8]) -> Result<Applied> {
        let entry = holdfast_protocol::Entry::decode(bytes)?;
        let applied = if self.is_patient() {
            self.membership.apply_filtered(&entry)?
        } else {
            self.membership.apply(&entry)?
        };
        if let Applied::Revoked { device, epoch } = &applied {
            self.revoked_in.insert((*device).into(), *epoch);
        }
        Ok(applied)
    }

    /// The member entry of `device`, revoked or not.
    pub fn member(&self, device: DeviceId) -> Option<&Member> {
        self.membership.devices.get(&device.into())
    }
}

/// A device of a team as the app lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeamDevice {
    /// The device.
    pub device: DeviceId,
    /// Its role.
    pub role: Role,
    /// For a patient: the plan it reads.
    pub plan: Option<DocId>,
    /// Who enrolled it.
    pub added_by: DeviceId,
    /// When it joined (ms since the epoch).
    pub added_at: u64,
    /// When it was revoked.
    pub revoked_at: Option<u64>,
    /// This is the device the store belongs to.
    pub this_device: bool,
}

/// What became of an invite.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InviteStatus {
    /// Redeemable (until its expiry).
    Pending,
    /// Redeemed by the device named.
    Redeemed(DeviceId),
    /// Cancelled by the device named (its maker or an admin).
    Cancelled(DeviceId),
    /// Expired before anyone redeemed it.
    Expired,
}

/// An invite of a team as the app lists it (staff see every invite; a patient only its own).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeamInvite {
    /// The invite's id (derived from its secret; the code's `id`), 32 hex digits.
    pub invite: String,
    /// The role it grants.
    pub role: Role,
    /// For a patient invite: the plan.
    pub plan: Option<DocId>,
    /// The device that made it.
    pub created_by: DeviceId,
    /// Redeemable until then (ms since the epoch).
    pub expires_at: u64,
    /// What became of it.
    pub status: InviteStatus,
}

/// An invite made on this device, ready to be registered with the relay.
#[derive(Debug)]
pub struct PreparedInvite {
    /// The code to show.
    pub code: InviteCode,
    /// The Invite entry (signed by this device).
    pub entry: Vec<u8>,
    /// The key bundle for the invite's HPKE key.
    pub bundle: Vec<u8>,
    /// The log length the entry was made against.
    pub expected_len: u64,
}

/// A revocation made on this device, ready for the relay.
#[derive(Debug)]
pub struct PreparedRevocation {
    /// The Revoke entry.
    pub entry: Vec<u8>,
    /// Bundles with the new epoch's keys, one per remaining reader.
    pub bundles: Vec<Vec<u8>>,
    /// The log length the entry was made against.
    pub expected_len: u64,
    /// The new epoch and its key (stored once the relay accepts).
    pub epoch: u32,
    pub(crate) key: EpochKey,
}

/// An invite checked against the team's log, ready to redeem.
#[derive(Debug)]
pub struct PreparedRedeem {
    /// The Redeem entry (signed by the invite key, with this device's proof).
    pub entry: Vec<u8>,
    /// The role the device will have.
    pub role: Role,
    /// The plan, for a patient.
    pub plan: Option<DocId>,
    /// The team's genesis entry, checked against the code's anchor: stored as the first
    /// entry of the log at join, so the relay cannot swap in a team of its own afterwards.
    pub genesis: Vec<u8>,
}

/// Why a key bundle is not used now.
enum BundleProblem {
    /// Never usable: skipped.
    Bad(&'static str),
    /// Needs membership not pulled yet: kept for the next sync.
    NotYet(&'static str),
}

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
        let team = TeamId::from_slice(&id)?;
        let mut a = TeamAccess::new(team);
        a.role = role.as_deref().and_then(Role::from_name);
        a.plan = plan.map(|p| DocId::from_slice(&p)).transpose()?;
        a.invite = invite.and_then(|i| <[u8; 16]>::try_from(i.as_slice()).ok());
        a.relay_len = u64::try_from(len).unwrap_or(0);
        if a.invite.is_some() {
            a.invite_key = keystore
                .get(&invite_key_name(team))?
                .and_then(|s| <[u8; 32]>::try_from(s.as_slice()).ok())
                .map(HpkeKeyPair::from_seed)
                .transpose()?
                .map(std::sync::Arc::new);
        }
        let entries: Vec<Vec<u8>> = conn
            .prepare_cached("SELECT bytes FROM membership WHERE team_id = ?1 ORDER BY seq")?
            .query_map([&id], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        for e in &entries {
            a.fold(e)?;
        }
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
            } else {
                k.insert_document(
                    DocId::from_slice(&doc_id)?,
                    epoch,
                    holdfast_protocol::DocumentKey::from_bytes(key),
                );
            }
        }
        access.insert(team, a);
        keys.insert(team, k);
    }
    Ok((access, keys))
}

fn insert_key(
    tx: &Connection,
    team: TeamId,
    epoch: u32,
    doc: Option<DocId>,
    key: &[u8; 32],
) -> Result<()> {
    tx.execute(
        "INSERT OR IGNORE INTO team_keys (team_id, epoch, doc_id, key) VALUES (?1, ?2, ?3, ?4)",
        params![
            team_bytes(team),
            epoch,
            doc.map(|d| d.as_bytes().to_vec()).unwrap_or_default(),
            key.as_slice()
        ],
    )?;
    Ok(())
}

fn now_ms() -> u64 {
    u64::try_from(doc::now_millis()).unwrap_or(0)
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
        self.hpke.public_key().clone()
    }

    /// This device's role in `team`, once known.
    pub fn role(&self, team: TeamId) -> Result<Option<Role>> {
        Ok(self.access(team)?.role)
    }

    /// The team's current key epoch as this device knows it.
    pub fn epoch(&self, team: TeamId) -> Result<u32> {
        let access = self.access(team)?;
        let logged = access.membership.epoch;
        if !access.is_patient() {
            return Ok(logged);
        }
        // A patient's view hides other patients' revocations, so its log can lag the team's
        // epoch; the newest key it was sent for its plan says where the team is.
        // Not beyond the relay's epoch: a key for a far-future epoch (a mistake, or a staff
        // member's malice) would have the patient seal what the relay refuses for ever.
        let cap = access.relay_epoch.unwrap_or(u32::MAX);
        let held = access
            .plan
            .and_then(|plan| self.team_keys.get(&team)?.newest_epoch_for(plan, cap))
            .unwrap_or(logged);
        Ok(logged.max(held))
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
        let a = self.access(team)?;
        Ok(a.membership
            .devices
            .values()
            .map(|m| TeamDevice {
                device: m.device.into(),
                role: m.role,
                plan: m.plan.map(DocId::from),
                added_by: m.added_by.into(),
                added_at: m.added_at_ms,
                revoked_at: m.revoked_at_ms,
                this_device: DeviceId::from(m.device) == self.author.device,
            })
            .collect())
    }

    /// Creates a team at `relay_url`: a genesis entry signed by this device (its first
    /// admin) and the key of epoch 1. The sync client registers it with the relay. The first
    /// team a device has becomes its current team and takes every document made before.
    pub fn create_team(&mut self, relay_url: &str) -> Result<TeamId> {
        let relay_url = super::teams::check_relay_url(relay_url)?;
        let team = TeamId::random();
        let key = EpochKey::generate(&SystemRandom::new())?;
        let genesis = holdfast_protocol::Entry::sign(
            team.into(),
            now_ms(),
            self.author.device.0,
            Op::Genesis {
                device: self.author.device.into(),
                sign_key: self.signer.public_key(),
                hpke_key: self.hpke.public_key().clone(),
                key_commitment: holdfast_protocol::epoch_key_commitment(&team.into(), 1, &key),
            },
            &self.signer,
        )?;
        let mut access = TeamAccess::new(team);
        access.role = Some(Role::Admin);
        access.fold(genesis.as_bytes())?;
        access.relay_len = 1;
        let mut keys = TeamKeys::new(team);
        keys.insert_epoch(1, key.clone());
        let tx = self.conn.transaction()?;
        super::teams::insert_team_row(&tx, team, &relay_url, true, Some(Role::Admin), None, None)?;
        tx.execute(
            "INSERT INTO membership (team_id, seq, bytes) VALUES (?1, 0, ?2)",
            params![team_bytes(team), genesis.as_bytes()],
        )?;
        tx.execute(
            "UPDATE teams SET membership_len = 1 WHERE id = ?1",
            [team_bytes(team)],
        )?;
        insert_key(&tx, team, 1, None, key.as_bytes())?;
        let becomes_current = super::teams::take_unassigned(&tx, self.current_team, team)?;
        tx.commit()?;
        self.access.insert(team, access);
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
        let mut access = self.access(team)?.clone();
        let mut applied = Vec::with_capacity(entries.len());
        for (seq, bytes) in entries {
            if *seq < access.relay_len {
                continue;
            }
            applied.push(access.fold(bytes)?);
        }
        access.relay_len = relay_len.max(access.relay_len);
        let me = self.author.device;
        let mine = access.member(me).cloned();
        if let Some(m) = &mine {
            access.role = Some(m.role);
            access.plan = m.plan.map(DocId::from);
        }
        let tx = self.conn.transaction()?;
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
        self.access.insert(team, access);
        if mine.is_some_and(|m| !m.is_active()) {
            return Err(Error::NotAllowed(format!(
                "this device was revoked from team {team}"
            )));
        }
        Ok(applied)
    }

    /// Verifies, opens and stores key bundles pulled from the relay (`(seq, bytes)`), and
    /// moves the key cursor to `next`. A bundle counts only if it comes from a staff member
    /// of the team, is addressed to this device or to the invite it redeemed, and opens; a
    /// team epoch key only if the membership log commits to it (so a device about to be
    /// revoked cannot plant a key of its own for the next epoch); a patient's plan key only
    /// from a device still active, for an epoch the log has started. Anything else is
    /// skipped and logged (a bad bundle must not stop a device's sync for ever); the first
    /// key stored for an epoch stays. Returns the keys added.
    pub fn apply_key_bundles(
        &mut self,
        team: TeamId,
        bundles: &[(u64, Vec<u8>)],
        next: u64,
    ) -> Result<usize> {
        let access = self.access(team)?.clone();
        let invite_key = access.invite_key.clone();
        let mut opened = Vec::new();
        // Where the cursor may move: past every bundle dealt with, but not past one that
        // needs membership this device has not pulled yet (the entry that started its epoch,
        // or its sender's enrolment, committed between the two requests of a sync).
        let mut next = next;
        for (seq, bytes) in bundles {
            match self.open_bundle(team, &access, invite_key.as_deref(), bytes) {
                Ok(keys) => {
                    let ahead = keys.iter().any(|(_, k)| {
                        matches!(k, WrappedKey::Epoch { epoch, .. } if *epoch > access.membership.epoch)
                    });
                    if ahead && !access.is_patient() {
                        next = seq.saturating_sub(1);
                        tracing::info!(team = %team, seq, "key bundle ahead of the membership pulled: kept for the next sync");
                        break;
                    }
                    opened.extend(keys);
                }
                Err(BundleProblem::NotYet(reason)) => {
                    next = seq.saturating_sub(1);
                    tracing::info!(team = %team, seq, reason, "key bundle kept for the next sync");
                    break;
                }
                Err(BundleProblem::Bad(reason)) => {
                    tracing::warn!(team = %team, seq, reason, "key bundle skipped");
                }
            }
        }
        let plan = access.plan;
        let mut team_keys = self.team_keys(team)?.clone();
        let tx = self.conn.transaction()?;
        let mut added = 0;
        for (sender_active, k) in opened {
            match k {
                WrappedKey::Epoch { epoch, key } => {
                    if access.is_patient() || !access.membership.is_epoch_key(epoch, &key) {
                        tracing::warn!(team = %team, epoch, "epoch key the log does not commit to: skipped");
                        continue;
                    }
                    if team_keys.epochs().any(|(e, _)| e == epoch) {
                        continue;
                    }
                    insert_key(&tx, team, epoch, None, key.as_bytes())?;
                    team_keys.insert_epoch(epoch, key);
                }
                WrappedKey::Document {
                    document,
                    epoch,
                    key,
                } => {
                    let doc = DocId::from(document);
                    // No "epoch already started" check here: a patient's filtered log may
                    // not show the revocation that started it (SECURITY.md).
                    if (access.is_patient() && plan != Some(doc))
                        || !sender_active
                        || team_keys.has(doc, epoch)
                    {
                        continue;
                    }
                    insert_key(&tx, team, epoch, Some(doc), key.as_bytes())?;
                    team_keys.insert_document(doc, epoch, key);
                }
            }
            added += 1;
        }
        tx.execute(
            "UPDATE teams SET keys_cursor = ?2 WHERE id = ?1 AND keys_cursor < ?2",
            params![team_bytes(team), i64::try_from(next).unwrap_or(i64::MAX)],
        )?;
        tx.commit()?;
        self.team_keys.insert(team, team_keys);
        Ok(added)
    }

    /// Checks and opens one bundle: its keys, each with whether the sender is still active.
    fn open_bundle(
        &self,
        team: TeamId,
        access: &TeamAccess,
        invite_key: Option<&HpkeKeyPair>,
        bytes: &[u8],
    ) -> std::result::Result<Vec<(bool, WrappedKey)>, BundleProblem> {
        use BundleProblem::{Bad, NotYet};
        let bundle = KeyBundle::decode(bytes).map_err(|_| Bad("malformed"))?;
        let h = bundle.header;
        if TeamId::from(h.team) != team {
            return Err(Bad("of another team"));
        }
        let Some(sender) = access.membership.devices.get(&h.sender) else {
            return Err(NotYet("from a device not (yet) in the team's log here"));
        };
        if !sender.role.is_staff() {
            return Err(Bad("from a patient's device"));
        }
        let recipient_key = if h.recipient == self.author.device.0 {
            &*self.hpke
        } else if Some(h.recipient) == access.invite
            && let Some(k) = invite_key
        {
            k
        } else {
            return Err(Bad("addressed to another device"));
        };
        let keys = bundle
            .open(&sender.sign_key, recipient_key)
            .map_err(|_| Bad("does not verify or open"))?;
        let active = sender.is_active();
        Ok(keys.into_iter().map(|k| (active, k)).collect())
    }

    /// Where the next key-bundle pull starts.
    pub(crate) fn keys_cursor(&self, team: TeamId) -> Result<u64> {
        let c: i64 = self.conn.query_row(
            "SELECT keys_cursor FROM teams WHERE id = ?1",
            [team_bytes(team)],
            |r| r.get(0),
        )?;
        Ok(u64::try_from(c).unwrap_or(0))
    }

    /// The keys a device of `role` (with `plan`) needs, at every epoch this device holds.
    fn keys_for_reader(
        &self,
        team: TeamId,
        role: Role,
        plan: Option<DocId>,
    ) -> Result<Vec<WrappedKey>> {
        let keys = self.team_keys(team)?;
        let mut out = Vec::new();
        for (epoch, key) in keys.epochs() {
            if role.is_staff() {
                out.push(WrappedKey::Epoch {
                    epoch,
                    key: key.clone(),
                });
            } else if let Some(plan) = plan {
                out.push(WrappedKey::Document {
                    document: plan.into(),
                    epoch,
                    key: keys.key_for(plan, epoch)?,
                });
            }
        }
        if out.is_empty() {
            return Err(Error::KeyMissing {
                what: "team keys to share",
            });
        }
        Ok(out)
    }

    fn require_staff(&self, team: TeamId) -> Result<Role> {
        match self.access(team)?.role {
            Some(r) if r.is_staff() => Ok(r),
            _ => Err(Error::NotAllowed(
                "only a member of the team's staff can do this".into(),
            )),
        }
    }

    /// Shares a directory into another team this device belongs to (as staff): every change
    /// it has is queued for that team now, and every later change (made here, or received
    /// through either team) goes to both. Only directories are shared across teams.
    /// Returns how many changes were queued.
    pub fn share_document(&mut self, doc: DocId, team: TeamId) -> Result<usize> {
        self.require_staff(team)?;
        if self.kind_of(doc)? != crate::model::doc::DocKind::Directory {
            return Err(Error::NotAllowed(
                "only a directory is shared across teams: case files and plans stay in theirs"
                    .into(),
            ));
        }
        let home = self.document_team(doc)?;
        if home == Some(team) {
            return Ok(0);
        }
        let Some(home) = home else {
            return Err(Error::NotAllowed(
                "the directory is not in a team yet".into(),
            ));
        };
        self.require_staff(home)?;
        let changes: Vec<(Vec<u8>, Vec<u8>)> = {
            let (_, d) = self.load(doc)?;
            d.get_changes(&[])
                .iter()
                .map(|c| (c.hash().0.to_vec(), c.raw_bytes().to_vec()))
                .collect()
        };
        let now = doc::now_millis();
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
    pub fn document_teams(&self, doc: DocId) -> Result<Vec<TeamId>> {
        let mut out: Vec<TeamId> = self.document_team(doc)?.into_iter().collect();
        let shared: Vec<Vec<u8>> = self
            .conn
            .prepare_cached("SELECT team_id FROM document_shares WHERE doc_id = ?1")?
            .query_map([doc.as_bytes().as_slice()], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        for t in shared {
            let t = TeamId::from_slice(&t)?;
            if !out.contains(&t) {
                out.push(t);
            }
        }
        Ok(out)
    }

    /// The team's invites as this device's verified log has them, newest expiry first.
    /// Staff see every invite; a patient's device only the one it redeemed.
    pub fn invites(&self, team: TeamId) -> Result<Vec<TeamInvite>> {
        let a = self.access(team)?;
        let now = now_ms();
        let patient = a.is_patient();
        let mut out: Vec<TeamInvite> = a
            .membership
            .invites
            .values()
            .filter(|i| !patient || a.invite == Some(i.invite.0))
            .map(|i| TeamInvite {
                invite: hex::encode(i.invite.0),
                role: i.role,
                plan: i.plan.map(DocId::from),
                created_by: i.created_by.into(),
                expires_at: i.expires_at_ms,
                status: match (i.redeemed_by, i.cancelled_by) {
                    (Some(d), _) => InviteStatus::Redeemed(d.into()),
                    (None, Some(d)) => InviteStatus::Cancelled(d.into()),
                    (None, None) if now > i.expires_at_ms => InviteStatus::Expired,
                    (None, None) => InviteStatus::Pending,
                },
            })
            .collect();
        out.sort_by(|x, y| {
            y.expires_at
                .cmp(&x.expires_at)
                .then(x.invite.cmp(&y.invite))
        });
        Ok(out)
    }

    /// Makes the cancellation of a pending invite (`invite`: the code itself, or its id in
    /// hex): a Cancel entry, checked as the relay will check it. The relay deletes the keys
    /// wrapped to the invite when it appends the entry. Returns the entry and the log length
    /// it was made against.
    pub fn prepare_cancel_invite(&self, team: TeamId, invite: &str) -> Result<(Vec<u8>, u64)> {
        self.require_staff(team)?;
        let id = parse_invite_ref(invite)?;
        let access = self.access(team)?;
        let entry = holdfast_protocol::Entry::sign(
            team.into(),
            now_ms(),
            self.author.device.0,
            Op::Cancel { invite: id },
            &self.signer,
        )?;
        access.membership.check(&entry, Some(now_ms()))?;
        Ok((entry.as_bytes().to_vec(), access.relay_len))
    }

    /// Makes a one-time invite for `role` (and `plan`, for a patient) valid for `ttl_ms`,
    /// with the keys the new device will need wrapped to the invite's HPKE key. The sync
    /// client registers it with the relay; the code is shown only after that succeeds.
    pub fn prepare_invite(
        &self,
        team: TeamId,
        role: Role,
        plan: Option<DocId>,
        ttl_ms: u64,
    ) -> Result<PreparedInvite> {
        self.require_staff(team)?;
        if (role == Role::Patient) != plan.is_some() {
            return Err(Error::InvalidInput {
                field: "invite",
                reason: "a patient invite names one action plan; other roles none".into(),
            });
        }
        if let Some(plan) = plan {
            let kind = self.kind_of(plan)?;
            if kind != crate::model::doc::DocKind::ActionPlan {
                return Err(Error::InvalidInput {
                    field: "plan",
                    reason: "not an action plan".into(),
                });
            }
        }
        let info = self.team(team)?;
        let access = self.access(team)?;
        let genesis = holdfast_protocol::Entry::decode(&self.genesis(team)?)?;
        let expires = now_ms().saturating_add(ttl_ms);
        let code = InviteCode::generate(
            &SystemRandom::new(),
            &info.relay_url,
            team.into(),
            genesis.anchor(),
            role,
            plan.map(Into::into),
            expires,
        )?;
        let invite_sign = code.signing_key()?;
        let invite_hpke = code.hpke_key()?;
        let entry = holdfast_protocol::Entry::sign(
            team.into(),
            now_ms(),
            self.author.device.0,
            Op::Invite {
                invite: code.id(),
                sign_key: invite_sign.public_key(),
                hpke_key: invite_hpke.public_key().clone(),
                role,
                plan: plan.map(Into::into),
                expires_at_ms: expires,
            },
            &self.signer,
        )?;
        // The same rule the relay and every device apply: a clear error before any request.
        access.membership.check(&entry, Some(now_ms()))?;
        let bundle = KeyBundle::seal(
            BundleHeader {
                team: team.into(),
                recipient: code.id().0,
                sender: self.author.device.into(),
                at_ms: now_ms(),
            },
            invite_hpke.public_key(),
            &self.keys_for_reader(team, role, plan)?,
            &self.signer,
        )?;
        Ok(PreparedInvite {
            code,
            entry: entry.as_bytes().to_vec(),
            bundle,
            expected_len: access.relay_len,
        })
    }

    /// Makes the revocation of `device`: a Revoke entry for the next epoch, a fresh epoch
    /// key, and bundles of it for every device still active and every pending invite whose
    /// creator is still active. Nothing changes here until the relay accepts it.
    pub fn prepare_revocation(&self, team: TeamId, device: DeviceId) -> Result<PreparedRevocation> {
        self.require_staff(team)?;
        let access = self.access(team)?;
        let m = &access.membership;
        if m.active(&device.into()).is_none() {
            return Err(Error::NotFound {
                kind: "active device",
                id: device.to_string(),
            });
        }
        let epoch = m
            .epoch
            .checked_add(1)
            .ok_or(Error::Crypto("epoch overflow".into()))?;
        let key = EpochKey::generate(&SystemRandom::new())?;
        let entry = holdfast_protocol::Entry::sign(
            team.into(),
            now_ms(),
            self.author.device.0,
            Op::Revoke {
                device: device.into(),
                epoch,
                key_commitment: holdfast_protocol::epoch_key_commitment(&team.into(), epoch, &key),
            },
            &self.signer,
        )?;
        // Check authority locally first: a clear error without a round trip.
        m.check(&entry, Some(now_ms()))?;
        let mut staged = TeamKeys::new(team);
        staged.insert_epoch(epoch, key.clone());
        let wrap = |recipient: [u8; 16],
                    hpke: &holdfast_protocol::HpkePublicKey,
                    role: Role,
                    plan: Option<DocId>|
         -> Result<Vec<u8>> {
            let keys = if role.is_staff() {
                vec![WrappedKey::Epoch {
                    epoch,
                    key: key.clone(),
                }]
            } else {
                let plan = plan.ok_or(Error::Crypto("a patient without a plan".into()))?;
                vec![WrappedKey::Document {
                    document: plan.into(),
                    epoch,
                    key: staged.key_for(plan, epoch)?,
                }]
            };
            Ok(KeyBundle::seal(
                BundleHeader {
                    team: team.into(),
                    recipient,
                    sender: self.author.device.into(),
                    at_ms: now_ms(),
                },
                hpke,
                &keys,
                &self.signer,
            )?)
        };
        let mut bundles = Vec::new();
        for member in m.active_devices() {
            if DeviceId::from(member.device) == device {
                continue;
            }
            bundles.push(wrap(
                member.device.0,
                &member.hpke_key,
                member.role,
                member.plan.map(Into::into),
            )?);
        }
        let now = now_ms();
        for invite in m.invites.values() {
            if invite.is_pending(now)
                && m.active(&invite.created_by).is_some()
                && DeviceId::from(invite.created_by) != device
            {
                bundles.push(wrap(
                    invite.invite.0,
                    &invite.hpke_key,
                    invite.role,
                    invite.plan.map(Into::into),
                )?);
            }
        }
        Ok(PreparedRevocation {
            entry: entry.as_bytes().to_vec(),
            bundles,
            expected_len: access.relay_len,
            epoch,
            key,
        })
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
        let forged = |what: &str| {
            Error::InviteRefused(format!(
                "the invite code does not match the team's record ({what}): it was altered or forged"
            ))
        };
        let genesis = holdfast_protocol::Entry::decode(genesis_entry)?;
        if genesis.anchor() != code.anchor || genesis.team != code.team {
            return Err(forged("team"));
        }
        let entry = holdfast_protocol::Entry::decode(invite_entry)?;
        let Op::Invite {
            invite,
            sign_key,
            hpke_key,
            role,
            plan,
            expires_at_ms,
        } = &entry.op
        else {
            return Err(forged("not an invite"));
        };
        if entry.team != code.team || *invite != code.id() {
            return Err(forged("invite id"));
        }
        if *role != code.role {
            return Err(forged("role"));
        }
        if *plan != code.plan || *expires_at_ms != code.expires_at_ms {
            return Err(forged("plan or expiry"));
        }
        let invite_sign = code.signing_key()?;
        if invite_sign.public_key() != *sign_key || code.hpke_key()?.public_key() != hpke_key {
            return Err(forged("keys"));
        }
        if now_ms() > *expires_at_ms {
            return Err(Error::InviteRefused("the invite has expired".into()));
        }
        let team = code.team;
        let device = self.author.device.into();
        let proof = redeem_proof_message(
            &team,
            invite,
            &device,
            &self.signer.public_key(),
            self.hpke.public_key(),
        );
        let redeem = holdfast_protocol::Entry::sign(
            team,
            now_ms(),
            invite.0,
            Op::Redeem {
                invite: *invite,
                device,
                sign_key: self.signer.public_key(),
                hpke_key: self.hpke.public_key().clone(),
                device_signature: self.signer.sign(&proof),
            },
            &invite_sign,
        )?;
        Ok(PreparedRedeem {
            entry: redeem.as_bytes().to_vec(),
            role: *role,
            plan: plan.map(Into::into),
            genesis: genesis_entry.to_vec(),
        })
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
        let team = TeamId::from(code.team);
        if self.access.contains_key(&team) {
            return Err(Error::NotAllowed(
                "this device already belongs to the team".into(),
            ));
        }
        let relay_url = super::teams::check_relay_url(&code.relay_url)?;
        let invite_key = code.hpke_key()?;
        let mut access = TeamAccess::new(team);
        access.role = Some(redeemed.role);
        access.plan = redeemed.plan;
        access.invite = Some(code.id().0);
        access.fold(&redeemed.genesis)?;
        access.relay_len = 1;
        keys.put(&invite_key_name(team), invite_key.seed())?;
        let tx = self.conn.transaction()?;
        super::teams::insert_team_row(
            &tx,
            team,
            &relay_url,
            false,
            Some(redeemed.role),
            redeemed.plan,
            Some(code.id().0),
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
        // A patient device takes no documents of its own into the team; staff do.
        let becomes_current = if redeemed.role.is_staff() {
            super::teams::take_unassigned(&tx, self.current_team, team)?
        } else {
            false
        };
        tx.commit()?;
        access.invite_key = Some(std::sync::Arc::new(invite_key));
        self.access.insert(team, access);
        self.team_keys.insert(team, TeamKeys::new(team));
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
                doc::now_millis(),
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
        let same_team = holdfast_protocol::Entry::decode(&genesis)
            .is_ok_and(|g| g.team == code.team && g.anchor() == code.anchor);
        if relay_url != code.relay_url || !same_team {
            return Err(Error::InviteRefused(
                "this code names another relay or team than the same invite did when this \
                 device began redeeming it: it was altered"
                    .into(),
            ));
        }
        let role = Role::from_name(&role)
            .ok_or_else(|| Error::StoreCorrupt(format!("held redeem with role {role:?}")))?;
        let plan = plan.map(|p| DocId::from_slice(&p)).transpose()?;
        Ok(Some(PreparedRedeem {
            entry,
            role,
            plan,
            genesis,
        }))
    }

    /// Forgets the Redeem entry held for the code's invite (the relay refused it).
    pub fn drop_redeem(&self, code: &InviteCode) -> Result<()> {
        forget_held_redeem(&self.conn, code)
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

/// An invite named by its code (`HF1-…`) or by its id (32 hex digits).
fn parse_invite_ref(text: &str) -> Result<holdfast_protocol::InviteId> {
    let text = text.trim();
    if let Ok(code) = InviteCode::decode(text) {
        return Ok(code.id());
    }
    let bad = || Error::InvalidInput {
        field: "invite",
        reason: "neither an invite code nor an invite id (32 hex digits)".into(),
    };
    let bytes = hex::decode(text).map_err(|_| bad())?;
    let id: [u8; 16] = bytes.try_into().map_err(|_| bad())?;
    Ok(holdfast_protocol::InviteId(id))
}
