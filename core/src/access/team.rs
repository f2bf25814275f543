//! One team as this device has verified it: the membership fold, this device's role and
//! plan in it, and what follows from them (the epoch it seals under, the devices and
//! invites it lists). Also the founding of a team: its genesis entry and first epoch key.

use std::collections::HashMap;
use std::sync::Arc;

use holdfast_protocol::{
    Applied, Entry, EpochKey, HpkeKeyPair, Member, Membership, Op, Role, SystemRandom,
};
use serde::{Deserialize, Serialize};

use super::Identity;
use crate::crypto::TeamKeys;
use crate::model::ids::{DeviceId, DocumentId, TeamId};
use crate::{Error, Result};

/// What this device knows about its access to one team.
#[derive(Debug, Clone)]
pub struct TeamAccess {
    /// The verified membership (for a patient: its filtered view).
    pub membership: Membership,
    /// Epoch at which each revoked device was revoked: its envelopes sealed at or after
    /// that epoch are refused.
    pub revoked_in: HashMap<DeviceId, u32>,
    /// For each revoked device, this device's envelope cursor when it folded the
    /// revocation: the revoked device's envelopes with a later sequence number reached this
    /// device after it knew, and are refused whatever epoch they claim (a relay colluding
    /// with the revoked device could otherwise deliver its new edits sealed at an old
    /// epoch). Kept by the store.
    pub refused_after: HashMap<DeviceId, u64>,
    /// This device's role, once known.
    pub role: Option<Role>,
    /// This device's plan, when it is a patient.
    pub plan: Option<DocumentId>,
    /// The invite this device redeemed (to recognise bundles addressed to it).
    pub invite: Option<[u8; 16]>,
    /// The relay's log length (a patient's view has fewer entries).
    pub relay_len: u64,
    /// The HPKE key of the invite this device redeemed (from the key store).
    pub(crate) invite_key: Option<Arc<HpkeKeyPair>>,
    /// The team's epoch as the relay last reported it (asked by patients' devices, whose
    /// filtered log can lag it).
    pub relay_epoch: Option<u32>,
    /// How the store rebuilt this state when it opened.
    pub(crate) folded_at_open: FoldedAtOpen,
}

/// How the store rebuilt a team's membership when it opened: entries whose fold it took
/// from the folded state it keeps, and entries it folded one by one, verifying each
/// signature (those after the kept state, or all of them when the kept state was missing
/// or did not match the stored log).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FoldedAtOpen {
    /// Entries covered by the kept folded state, not verified again.
    pub kept: u64,
    /// Entries folded and verified at open.
    pub verified: u64,
}

/// A device of a team as the app lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeamDevice {
    /// The device.
    pub device: DeviceId,
    /// Its role.
    pub role: Role,
    /// For a patient: the plan it reads.
    pub plan: Option<DocumentId>,
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
    pub plan: Option<DocumentId>,
    /// The device that made it.
    pub created_by: DeviceId,
    /// Redeemable until then (ms since the epoch).
    pub expires_at: u64,
    /// What became of it.
    pub status: InviteStatus,
}

/// A team founded on this device, before it is stored or registered.
#[derive(Debug)]
pub struct FoundedTeam {
    /// The new team.
    pub team: TeamId,
    /// Its genesis entry, signed by this device (its first admin).
    pub genesis: Entry,
    /// The key of epoch 1, committed to by the genesis entry.
    pub key: EpochKey,
    /// The access state: this device is the team's admin.
    pub access: TeamAccess,
}

/// Founds a team: a fresh id, the key of epoch 1 and the genesis entry that makes this
/// device the team's first admin and commits to that key.
pub fn found_team(me: &Identity, now_ms: u64) -> Result<FoundedTeam> {
    let team = TeamId::random();
    let key = EpochKey::generate(&SystemRandom::new())?;
    let genesis = Entry::sign(
        team,
        now_ms,
        me.device.0,
        Op::Genesis {
            device: me.device,
            sign_key: me.signer.public_key(),
            hpke_key: me.hpke.public_key().clone(),
            key_commitment: holdfast_protocol::epoch_key_commitment(&team, 1, &key),
        },
        &me.signer,
    )?;
    let mut access = TeamAccess::new(team);
    access.role = Some(Role::Admin);
    access.fold(genesis.as_bytes())?;
    access.relay_len = 1;
    Ok(FoundedTeam {
        team,
        genesis,
        key,
        access,
    })
}

/// Whether a device joining its first team with `role` brings into it the documents it
/// made before joining any: staff do (their work becomes the team's); a patient's device
/// brings none (the only document it shares is the plan it was granted).
pub fn brings_its_documents(role: Role) -> bool {
    role.is_staff()
}

impl TeamAccess {
    /// Nothing known yet about `team`.
    pub fn new(team: TeamId) -> Self {
        TeamAccess {
            membership: Membership::new(team),
            revoked_in: HashMap::new(),
            refused_after: HashMap::new(),
            role: None,
            plan: None,
            invite: None,
            relay_len: 0,
            invite_key: None,
            relay_epoch: None,
            folded_at_open: FoldedAtOpen::default(),
        }
    }

    /// How the store rebuilt this state when it opened (zero for a team joined or pulled
    /// since).
    pub fn folded_at_open(&self) -> FoldedAtOpen {
        self.folded_at_open
    }

    /// What folding the log came to, as bytes for the store to keep beside the entries
    /// (see `store::access`): the membership ([`Membership::to_snapshot`]) and the epoch
    /// each revoked device was revoked in. Role, plan, invite and the relay's log length
    /// are kept in the team's row; `refused_after` in its own table.
    pub(crate) fn folded_state(&self) -> Vec<u8> {
        let membership = self.membership.to_snapshot();
        let mut revoked: Vec<(&DeviceId, &u32)> = self.revoked_in.iter().collect();
        revoked.sort_unstable();
        let mut out = Vec::with_capacity(
            membership
                .len()
                .saturating_add(revoked.len().saturating_mul(20))
                .saturating_add(4),
        );
        out.extend_from_slice(
            &u32::try_from(revoked.len())
                .unwrap_or(u32::MAX)
                .to_be_bytes(),
        );
        for (device, epoch) in revoked {
            out.extend_from_slice(device.as_bytes());
            out.extend_from_slice(&epoch.to_be_bytes());
        }
        out.extend_from_slice(&membership);
        out
    }

    /// Takes the membership and revocation epochs from `bytes` ([`TeamAccess::folded_state`]),
    /// as folding the log they came from would. Nothing is verified again: the caller
    /// vouches that they are this device's own fold of entries it verified.
    pub(crate) fn restore_folded(&mut self, bytes: &[u8]) -> Result<()> {
        let bad = || Error::StoreCorrupt("the kept membership state is malformed".into());
        let count = bytes
            .get(..4)
            .and_then(|b| <[u8; 4]>::try_from(b).ok())
            .map(u32::from_be_bytes)
            .ok_or_else(bad)?;
        let count = usize::try_from(count).map_err(|_| bad())?;
        let end = count
            .checked_mul(20)
            .and_then(|n| n.checked_add(4))
            .ok_or_else(bad)?;
        let list = bytes.get(4..end).ok_or_else(bad)?;
        let mut revoked_in = HashMap::with_capacity(count);
        for item in list.chunks_exact(20) {
            let (device, epoch) = item.split_at(16);
            let device = <[u8; 16]>::try_from(device).map_err(|_| bad())?;
            let epoch = <[u8; 4]>::try_from(epoch).map_err(|_| bad())?;
            revoked_in.insert(DeviceId(device), u32::from_be_bytes(epoch));
        }
        let membership = Membership::from_snapshot(bytes.get(end..).ok_or_else(bad)?)?;
        if membership.team() != self.team() {
            return Err(Error::StoreCorrupt(
                "the kept membership state is another team's".into(),
            ));
        }
        self.membership = membership;
        self.revoked_in = revoked_in;
        Ok(())
    }

    /// The team.
    pub fn team(&self) -> TeamId {
        self.membership.team()
    }

    /// Whether this device sees the patient's filtered view of the log.
    pub(crate) fn is_patient(&self) -> bool {
        self.role == Some(Role::Patient)
    }

    /// Folds one entry, verifying it (a patient's device folds its filtered view);
    /// records revocation epochs.
    pub(crate) fn fold(&mut self, bytes: &[u8]) -> Result<Applied> {
        let entry = Entry::decode(bytes)?;
        let applied = if self.is_patient() {
            self.membership.apply_filtered(&entry)?
        } else {
            self.membership.apply(&entry)?
        };
        if let Applied::Revoked { device, epoch } = &applied {
            self.revoked_in.insert(*device, *epoch);
        }
        Ok(applied)
    }

    /// This state with the entries pulled from the relay (`(seq, bytes)`, from
    /// `relay_len`) folded in, and the relay's new log length. All or nothing: one entry
    /// that does not verify refuses the lot ([`Error::Unverified`]: the relay served it).
    /// `me`'s role and plan follow the log.
    pub(crate) fn with_pulled(
        &self,
        entries: &[(u64, Vec<u8>)],
        relay_len: u64,
        me: DeviceId,
    ) -> Result<(TeamAccess, Vec<Applied>)> {
        let mut next = self.clone();
        let mut applied = Vec::with_capacity(entries.len());
        for (seq, bytes) in entries {
            if *seq < next.relay_len {
                continue;
            }
            let folded = next.fold(bytes).map_err(|e| Error::Unverified {
                what: format!("membership entry {seq}"),
                reason: e.to_string(),
            })?;
            applied.push(folded);
        }
        next.relay_len = relay_len.max(next.relay_len);
        if let Some((role, plan)) = next.member(me).map(|m| (m.role, m.plan)) {
            next.role = Some(role);
            next.plan = plan;
        }
        Ok((next, applied))
    }

    /// Whether the verified log says `device` was revoked.
    pub(crate) fn is_revoked(&self, device: DeviceId) -> bool {
        self.member(device).is_some_and(|m| !m.is_active())
    }

    /// The member entry of `device`, revoked or not.
    pub(crate) fn member(&self, device: DeviceId) -> Option<&Member> {
        self.membership.devices.get(&device)
    }

    /// This device's role, if it is staff; otherwise the refusal a patient's device gets.
    pub(crate) fn require_staff(&self) -> Result<Role> {
        match self.role {
            Some(r) if r.is_staff() => Ok(r),
            _ => Err(Error::NotAllowed(
                "only a member of the team's staff can do this".into(),
            )),
        }
    }

    /// The epoch this device seals under. Staff: the log's. A patient's view hides other
    /// patients' revocations, so its log can lag the team's epoch; the newest key it was
    /// sent for its plan says where the team is, but never beyond the epoch the relay
    /// reports: a key for a far-future epoch (a mistake, or a staff member's malice) would
    /// have the patient seal what the relay refuses for ever.
    pub(crate) fn sealing_epoch(&self, keys: &TeamKeys) -> u32 {
        let logged = self.membership.epoch;
        if !self.is_patient() {
            return logged;
        }
        let cap = self.relay_epoch.unwrap_or(u32::MAX);
        let held = self
            .plan
            .and_then(|plan| keys.newest_epoch_for(plan, cap))
            .unwrap_or(logged);
        logged.max(held)
    }

    /// The team's devices, from the verified membership (a patient sees staff and itself).
    pub fn devices(&self, me: DeviceId) -> Vec<TeamDevice> {
        self.membership
            .devices
            .values()
            .map(|m| TeamDevice {
                device: m.device,
                role: m.role,
                plan: m.plan,
                added_by: m.added_by,
                added_at: m.added_at_ms,
                revoked_at: m.revoked_at_ms,
                this_device: m.device == me,
            })
            .collect()
    }

    /// The team's invites as the verified log has them at `now_ms`, newest expiry first.
    /// Staff see every invite; a patient's device only the one it redeemed.
    pub fn invites(&self, now_ms: u64) -> Vec<TeamInvite> {
        let patient = self.is_patient();
        let mut out: Vec<TeamInvite> = self
            .membership
            .invites
            .values()
            .filter(|i| !patient || self.invite == Some(i.invite.0))
            .map(|i| TeamInvite {
                invite: hex::encode(i.invite.0),
                role: i.role,
                plan: i.plan,
                created_by: i.created_by,
                expires_at: i.expires_at_ms,
                status: match (i.redeemed_by, i.cancelled_by) {
                    (Some(d), _) => InviteStatus::Redeemed(d),
                    (None, Some(d)) => InviteStatus::Cancelled(d),
                    (None, None) if now_ms > i.expires_at_ms => InviteStatus::Expired,
                    (None, None) => InviteStatus::Pending,
                },
            })
            .collect();
        out.sort_by(|x, y| {
            y.expires_at
                .cmp(&x.expires_at)
                .then(x.invite.cmp(&y.invite))
        });
        out
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::access::invites;
    use holdfast_protocol::EpochKey;

    pub(crate) fn identity() -> Identity {
        let rng = SystemRandom::new();
        Identity {
            device: DeviceId::random(),
            signer: Arc::new(holdfast_protocol::DeviceSigningKey::generate(&rng).unwrap()),
            hpke: Arc::new(HpkeKeyPair::generate(&rng).unwrap()),
        }
    }

    /// A team founded by a fresh admin at t = 1,000, as the admin's device has verified it,
    /// with the key of epoch 1; devices join it through an invite and a redeem.
    pub(crate) struct Fixture {
        pub(crate) admin: Identity,
        pub(crate) founded: FoundedTeam,
        pub(crate) access: TeamAccess,
        pub(crate) keys: TeamKeys,
    }

    impl Fixture {
        pub(crate) fn new() -> Self {
            let admin = identity();
            let founded = found_team(&admin, 1_000).unwrap();
            let mut keys = TeamKeys::new(founded.team);
            keys.insert_epoch(1, founded.key.clone());
            Fixture {
                access: founded.access.clone(),
                admin,
                founded,
                keys,
            }
        }

        pub(crate) fn genesis(&self) -> &[u8] {
            self.founded.genesis.as_bytes()
        }

        /// What an invite for `role` (and `plan`, an action plan) is for.
        pub(crate) fn target(
            &self,
            role: Role,
            plan: Option<DocumentId>,
        ) -> invites::InviteTarget<'_> {
            invites::InviteTarget {
                relay_url: "http://127.0.0.1:1",
                relay_pin: None,
                genesis: self.genesis(),
                role,
                plan,
                plan_kind: plan.map(|_| crate::model::doc::DocKind::ActionPlan),
            }
        }

        /// The admin's invite for `role`, made at `at_ms`, valid a minute.
        pub(crate) fn invite(
            &self,
            role: Role,
            plan: Option<DocumentId>,
            at_ms: u64,
        ) -> invites::PreparedInvite {
            invites::prepare_invite(
                &self.access,
                &self.keys,
                &self.admin,
                &self.target(role, plan),
                60_000,
                at_ms,
            )
            .unwrap()
        }

        /// A new device joins with `role`: the admin's invite at t = 2,000 and the device's
        /// redeem at t = 3,000, both folded into the admin's view.
        pub(crate) fn join(&mut self, role: Role, plan: Option<DocumentId>) -> Identity {
            let invite = self.invite(role, plan, 2_000);
            let device = identity();
            let redeem = invites::prepare_redeem(
                &invite.code,
                &invite.entry,
                self.genesis(),
                &device,
                3_000,
            )
            .unwrap();
            self.access.fold(&invite.entry).unwrap();
            self.access.fold(&redeem.entry).unwrap();
            device
        }
    }

    #[test]
    fn a_founded_team_has_its_founder_as_admin_at_epoch_one() {
        let me = identity();
        let founded = found_team(&me, 1_000).unwrap();
        let a = &founded.access;
        assert_eq!(a.team(), founded.team);
        assert_eq!(a.role, Some(Role::Admin));
        assert_eq!(a.require_staff().unwrap(), Role::Admin);
        assert_eq!(a.membership.epoch, 1);
        assert!(a.membership.is_epoch_key(1, &founded.key));
        assert!(!a.membership.is_epoch_key(1, &EpochKey::from_bytes([1; 32])));
        let devices = a.devices(me.device);
        assert_eq!(devices.len(), 1);
        assert!(devices[0].this_device && devices[0].added_at == 1_000);
        assert!(!a.is_revoked(me.device));
    }

    #[test]
    fn a_patient_seals_under_its_newest_plan_key_but_never_past_the_relays_epoch() {
        let team = TeamId::random();
        let plan = DocumentId::random();
        let mut a = TeamAccess::new(team);
        a.role = Some(Role::Patient);
        a.plan = Some(plan);
        assert!(a.require_staff().is_err(), "a patient is not staff");
        let mut keys = TeamKeys::new(team);
        for epoch in [1, 3, 9] {
            keys.insert_document(
                plan,
                epoch,
                holdfast_protocol::DocumentKey::from_bytes([epoch as u8; 32]),
            );
        }
        // The log (nothing folded here) says epoch 1, the keys say 9.
        assert_eq!(a.sealing_epoch(&keys), 9);
        a.relay_epoch = Some(3);
        assert_eq!(a.sealing_epoch(&keys), 3, "capped at the relay's epoch");
        a.role = Some(Role::LinkWorker);
        assert_eq!(a.sealing_epoch(&keys), 1, "staff follow the log only");
    }

    #[test]
    fn pulled_entries_fold_all_or_nothing_and_carry_my_role() {
        let f = Fixture::new();
        let invite = f.invite(Role::LinkWorker, None, 2_000);
        let newcomer = identity();
        let redeem =
            invites::prepare_redeem(&invite.code, &invite.entry, f.genesis(), &newcomer, 3_000)
                .unwrap();
        let pulled = vec![(1, invite.entry.clone()), (2, redeem.entry.clone())];
        let (next, applied) = f.access.with_pulled(&pulled, 3, newcomer.device).unwrap();
        assert_eq!(applied.len(), 2);
        assert_eq!(next.relay_len, 3);
        assert_eq!(next.role, Some(Role::LinkWorker), "the log names my role");
        // Entries already folded are skipped; a forged one refuses the whole pull.
        let (again, applied) = next.with_pulled(&pulled, 3, newcomer.device).unwrap();
        assert!(applied.is_empty() && again.relay_len == 3);
        let mut forged = redeem.entry.clone();
        let last = forged.len() - 1;
        forged[last] ^= 1;
        let err = f
            .access
            .with_pulled(&[(1, invite.entry), (2, forged)], 3, newcomer.device)
            .unwrap_err();
        assert!(matches!(err, Error::Unverified { .. }), "{err:?}");
    }
}
