//! A team's membership: roles, the signed log of membership operations, and the fold that
//! decides who is a member, with which role, reading what, at which key epoch.
//!
//! Each entry stands alone: it names its team, is signed by the device (or, for a redeem,
//! the one-time invite key) that made it, and is valid only if the log folded so far gives
//! that signer the authority for it. The relay numbers entries in the order it accepts
//! them; the relay and every device run the same [`Membership::apply`] over that order, so
//! an entry the relay invents (it holds no admin key) is refused by every device.
//!
//! **Entry layout** (`"HFM1"`), big-endian:
//!
//! | bytes | field |
//! |---|---|
//! | 4 | magic `HFM1` |
//! | 16 | team |
//! | 8 | `at_ms`, signer's clock |
//! | 16 | signer: a device id, or for `Redeem` the invite id |
//! | 1 | operation tag |
//! | n | operation body (below) |
//! | 64 | Ed25519 signature over every byte before it |
//!
//! Bodies: `1 Genesis` = device 16, signing key 32, HPKE key (u16 length + bytes), epoch-1 key
//! commitment 32;
//! `2 Invite` = invite id 16, invite signing key 32, invite HPKE key (u16 + bytes), role 1,
//! plan flag 1 (+ document 16), expires_at_ms 8; `3 Redeem` = invite id 16, device 16,
//! signing key 32, HPKE key (u16 + bytes), device signature 64 (by the new device, over
//! `"holdfast-redeem-v1" || team || invite id || device || signing key || HPKE key`);
//! `4 ChangeRole` = device 16, role 1; `5 Revoke` = device 16, new epoch u32, new epoch's
//! key commitment 32 (SHA-256 of `holdfast-epoch-key-v1` ‖ team ‖ epoch ‖ key: a device accepts
//! an epoch key only if it matches).
//!
//! **Folded state** (`"HFS1"`, [`Membership::to_snapshot`]): what the fold of a log came to,
//! so a device keeps it beside the log it verified and folds only later entries when it
//! starts, instead of verifying every signature again. Local only: never sent, never
//! received.

use std::collections::BTreeMap;

use imbl::{HashMap, OrdMap};
use std::fmt;

use crate::error::{Error, Result};
use crate::ids::{DeviceId, DocumentId, InviteId, TeamId};
use crate::keys::{DeviceSigningKey, PUBLIC_KEY_LEN, SIGNATURE_LEN, verify_signature};
use crate::keywrap::{EpochKey, HpkePublicKey};
use crate::private_notes::private_notes_id;
use crate::wire::{Reader, to_array};

/// Magic of a membership entry, version 1.
pub const MEMBERSHIP_MAGIC: [u8; 4] = *b"HFM1";
/// Largest encoded entry.
pub const MAX_ENTRY: usize = 4096;
/// Magic of a folded membership state ([`Membership::to_snapshot`]), version 1.
pub const SNAPSHOT_MAGIC: [u8; 4] = *b"HFS1";
/// Domain separation of the new device's proof of possession in a redeem.
const REDEEM_CONTEXT: &[u8] = b"holdfast-redeem-v1";

/// A device's role in a team.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Manages the team's membership; reads and writes everything.
    Admin = 1,
    /// Reads every case file of the team and adds supervision comments.
    Supervisor = 2,
    /// Works the caseload: reads and writes every document of the team.
    LinkWorker = 3,
    /// Reads and writes one action plan: their own.
    Patient = 4,
}

impl Role {
    /// Every role, most powerful first.
    pub const ALL: [Role; 4] = [
        Role::Admin,
        Role::Supervisor,
        Role::LinkWorker,
        Role::Patient,
    ];

    /// The role's wire byte.
    pub const fn as_byte(self) -> u8 {
        self as u8
    }

    /// The role for a wire byte.
    pub fn from_byte(byte: u8) -> Result<Self> {
        match byte {
            1 => Ok(Role::Admin),
            2 => Ok(Role::Supervisor),
            3 => Ok(Role::LinkWorker),
            4 => Ok(Role::Patient),
            other => Err(Error::UnknownRole(other)),
        }
    }

    /// The role's name (`admin`, `supervisor`, `link_worker`, `patient`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Supervisor => "supervisor",
            Role::LinkWorker => "link_worker",
            Role::Patient => "patient",
        }
    }

    /// The role for its name (`link-worker` is accepted too).
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "admin" => Some(Role::Admin),
            "supervisor" => Some(Role::Supervisor),
            "link_worker" | "link-worker" => Some(Role::LinkWorker),
            "patient" => Some(Role::Patient),
            _ => None,
        }
    }

    /// Staff (admin, supervisor, link worker) read every document of their team but their
    /// colleagues' private notes (see [`Role::reads_private_notes`]).
    pub const fn is_staff(self) -> bool {
        !matches!(self, Role::Patient)
    }

    /// Supervisors and admins read (and answer) every staff member's private notes; a link
    /// worker reads only its own, a patient none.
    pub const fn reads_private_notes(self) -> bool {
        matches!(self, Role::Admin | Role::Supervisor)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why the fold refuses an entry. The relay maps these to HTTP answers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Refusal {
    /// The signer is not an active member with the authority for this operation.
    #[error("not allowed: {0}")]
    NotAllowed(&'static str),
    /// The invite is unknown.
    #[error("no such invite")]
    NoSuchInvite,
    /// The invite was already redeemed.
    #[error("invite already used")]
    InviteUsed,
    /// The invite's time is over.
    #[error("invite expired")]
    InviteExpired,
    /// The invite was cancelled before anyone redeemed it.
    #[error("invite cancelled")]
    InviteCancelled,
    /// The entry contradicts the log (wrong team, genesis twice, a known device, a bad
    /// epoch number, an unknown device, ...).
    #[error("conflict: {0}")]
    Conflict(&'static str),
}

/// One membership operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// The team's first entry: its creator becomes the first admin.
    Genesis {
        /// The creating device.
        device: DeviceId,
        /// Its Ed25519 key.
        sign_key: [u8; PUBLIC_KEY_LEN],
        /// Its HPKE key.
        hpke_key: HpkePublicKey,
        /// [`epoch_key_commitment`] of the key of epoch 1.
        key_commitment: [u8; 32],
    },
    /// A one-time invite for a role (and, for a patient, one plan).
    Invite {
        /// The invite.
        invite: InviteId,
        /// The invite's one-time Ed25519 key (derived from the invite secret).
        sign_key: [u8; PUBLIC_KEY_LEN],
        /// The invite's HPKE key (derived from the invite secret): the inviter wraps the
        /// keys the new device needs to it.
        hpke_key: HpkePublicKey,
        /// The role the redeeming device gets.
        role: Role,
        /// The plan a patient may read (set exactly when `role` is patient).
        plan: Option<DocumentId>,
        /// Redeemable until then (ms since the Unix epoch).
        expires_at_ms: u64,
    },
    /// A new device redeems an invite (signed with the invite's one-time key).
    Redeem {
        /// The invite.
        invite: InviteId,
        /// The new device.
        device: DeviceId,
        /// Its Ed25519 key.
        sign_key: [u8; PUBLIC_KEY_LEN],
        /// Its HPKE key.
        hpke_key: HpkePublicKey,
        /// The new device's signature over its keys (proof that it holds them).
        device_signature: [u8; SIGNATURE_LEN],
    },
    /// An admin changes a staff device's role.
    ChangeRole {
        /// The device.
        device: DeviceId,
        /// Its new role.
        role: Role,
    },
    /// A device is cut off; the team moves to key epoch `epoch`.
    Revoke {
        /// The device.
        device: DeviceId,
        /// The new key epoch (the current one plus one).
        epoch: u32,
        /// [`epoch_key_commitment`] of the new epoch's key: devices accept that epoch's key
        /// only if it matches, so nobody (a device about to be revoked, a relay replaying
        /// its old bundles) can plant a key of its own for an epoch.
        key_commitment: [u8; 32],
    },
    /// An invite is withdrawn before it is redeemed (shown to the wrong person, or the
    /// patient declined): by the device that made it, or an admin.
    Cancel {
        /// The invite.
        invite: InviteId,
    },
}

impl Op {
    fn tag(&self) -> u8 {
        match self {
            Op::Genesis { .. } => 1,
            Op::Invite { .. } => 2,
            Op::Redeem { .. } => 3,
            Op::ChangeRole { .. } => 4,
            Op::Revoke { .. } => 5,
            Op::Cancel { .. } => 6,
        }
    }
}

/// A decoded, signature-checked-on-apply membership entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The team.
    pub team: TeamId,
    /// When, by the signer's clock.
    pub at_ms: u64,
    /// The signer: a device, or for a redeem the invite id's bytes.
    pub signer: [u8; 16],
    /// What it does.
    pub op: Op,
    bytes: Vec<u8>,
}

fn put_hpke(out: &mut Vec<u8>, key: &HpkePublicKey) -> Result<()> {
    let len = u16::try_from(key.as_bytes().len()).map_err(|_| Error::Invalid {
        what: "HPKE public key",
        reason: "too long",
    })?;
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(key.as_bytes());
    Ok(())
}

fn get_hpke(r: &mut Reader<'_>) -> Result<HpkePublicKey> {
    let len = usize::from(r.u16()?);
    HpkePublicKey::from_bytes(r.take(len)?)
}

/// An HPKE key of a kept fold: decoded and checked once already.
fn get_checked_hpke(r: &mut Reader<'_>) -> Result<HpkePublicKey> {
    let len = usize::from(r.u16()?);
    Ok(HpkePublicKey::from_checked_bytes(r.take(len)?))
}

fn put_key_bytes(out: &mut Vec<u8>, key: &HpkePublicKey) {
    // Every key here was decoded from an entry, whose u16 length already bounds it.
    let len = u16::try_from(key.as_bytes().len()).unwrap_or(u16::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(key.as_bytes().get(..usize::from(len)).unwrap_or_default());
}

fn put_count(out: &mut Vec<u8>, n: usize) {
    out.extend_from_slice(&u32::try_from(n).unwrap_or(u32::MAX).to_be_bytes());
}

fn put_option<const N: usize>(out: &mut Vec<u8>, value: Option<&[u8; N]>) {
    match value {
        Some(v) => {
            out.push(1);
            out.extend_from_slice(v);
        }
        None => out.push(0),
    }
}

fn get_option<const N: usize>(r: &mut Reader<'_>) -> Result<Option<[u8; N]>> {
    match r.u8()? {
        0 => Ok(None),
        1 => Ok(Some(*r.array::<N>()?)),
        value => Err(Error::BadFlag {
            what: "snapshot option flag",
            value,
        }),
    }
}

/// The commitment to a team's key of an epoch, carried by the membership entry that starts
/// the epoch: SHA-256 of `"holdfast-epoch-key-v1" || team || epoch (u32 BE) || key`.
pub fn epoch_key_commitment(team: &TeamId, epoch: u32, key: &EpochKey) -> [u8; 32] {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    ctx.update(b"holdfast-epoch-key-v1");
    ctx.update(team.as_bytes());
    ctx.update(&epoch.to_be_bytes());
    ctx.update(key.as_bytes());
    to_array(ctx.finish().as_ref())
}

/// The message a new device signs to prove it holds the keys it registers.
pub fn redeem_proof_message(
    team: &TeamId,
    invite: &InviteId,
    device: &DeviceId,
    sign_key: &[u8; PUBLIC_KEY_LEN],
    hpke_key: &HpkePublicKey,
) -> Vec<u8> {
    let mut m = Vec::with_capacity(
        REDEEM_CONTEXT
            .len()
            .saturating_add(80)
            .saturating_add(hpke_key.as_bytes().len()),
    );
    m.extend_from_slice(REDEEM_CONTEXT);
    m.extend_from_slice(team.as_bytes());
    m.extend_from_slice(invite.as_bytes());
    m.extend_from_slice(device.as_bytes());
    m.extend_from_slice(sign_key);
    m.extend_from_slice(hpke_key.as_bytes());
    m
}

impl Entry {
    /// Encodes and signs an entry. `signer_id` is the signing device's id, or the invite id
    /// for a redeem (then `signer` is the invite's one-time key).
    pub fn sign(
        team: TeamId,
        at_ms: u64,
        signer_id: [u8; 16],
        op: Op,
        signer: &DeviceSigningKey,
    ) -> Result<Self> {
        let mut out = Vec::with_capacity(1600);
        out.extend_from_slice(&MEMBERSHIP_MAGIC);
        out.extend_from_slice(team.as_bytes());
        out.extend_from_slice(&at_ms.to_be_bytes());
        out.extend_from_slice(&signer_id);
        out.push(op.tag());
        match &op {
            Op::Genesis {
                device,
                sign_key,
                hpke_key,
                key_commitment,
            } => {
                out.extend_from_slice(device.as_bytes());
                out.extend_from_slice(sign_key);
                put_hpke(&mut out, hpke_key)?;
                out.extend_from_slice(key_commitment);
            }
            Op::Invite {
                invite,
                sign_key,
                hpke_key,
                role,
                plan,
                expires_at_ms,
            } => {
                out.extend_from_slice(invite.as_bytes());
                out.extend_from_slice(sign_key);
                put_hpke(&mut out, hpke_key)?;
                out.push(role.as_byte());
                match plan {
                    Some(p) => {
                        out.push(1);
                        out.extend_from_slice(p.as_bytes());
                    }
                    None => out.push(0),
                }
                out.extend_from_slice(&expires_at_ms.to_be_bytes());
            }
            Op::Redeem {
                invite,
                device,
                sign_key,
                hpke_key,
                device_signature,
            } => {
                out.extend_from_slice(invite.as_bytes());
                out.extend_from_slice(device.as_bytes());
                out.extend_from_slice(sign_key);
                put_hpke(&mut out, hpke_key)?;
                out.extend_from_slice(device_signature);
            }
            Op::ChangeRole { device, role } => {
                out.extend_from_slice(device.as_bytes());
                out.push(role.as_byte());
            }
            Op::Revoke {
                device,
                epoch,
                key_commitment,
            } => {
                out.extend_from_slice(device.as_bytes());
                out.extend_from_slice(&epoch.to_be_bytes());
                out.extend_from_slice(key_commitment);
            }
            Op::Cancel { invite } => out.extend_from_slice(invite.as_bytes()),
        }
        let signature = signer.sign(&out);
        out.extend_from_slice(&signature);
        Ok(Entry {
            team,
            at_ms,
            signer: signer_id,
            op,
            bytes: out,
        })
    }

    /// Decodes an entry strictly. Signatures are checked by [`Membership::apply`], which
    /// knows whose key to check them with.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        if bytes.len() > MAX_ENTRY {
            return Err(Error::TooManyBytes {
                what: "membership entry",
                len: bytes.len(),
                max: MAX_ENTRY,
            });
        }
        let mut r = Reader::new(bytes, "membership entry");
        let magic = *r.array::<4>()?;
        if magic != MEMBERSHIP_MAGIC {
            return Err(Error::BadMagic {
                expected: "HFM1",
                found: magic,
            });
        }
        let team = TeamId(*r.array::<16>()?);
        let at_ms = r.u64()?;
        let signer = *r.array::<16>()?;
        let op = match r.u8()? {
            1 => Op::Genesis {
                device: DeviceId(*r.array::<16>()?),
                sign_key: *r.array::<32>()?,
                hpke_key: get_hpke(&mut r)?,
                key_commitment: *r.array::<32>()?,
            },
            2 => {
                let invite = InviteId(*r.array::<16>()?);
                let sign_key = *r.array::<32>()?;
                let hpke_key = get_hpke(&mut r)?;
                let role = Role::from_byte(r.u8()?)?;
                let plan = match r.u8()? {
                    0 => None,
                    1 => Some(DocumentId(*r.array::<16>()?)),
                    value => {
                        return Err(Error::BadFlag {
                            what: "invite plan flag",
                            value,
                        });
                    }
                };
                Op::Invite {
                    invite,
                    sign_key,
                    hpke_key,
                    role,
                    plan,
                    expires_at_ms: r.u64()?,
                }
            }
            3 => Op::Redeem {
                invite: InviteId(*r.array::<16>()?),
                device: DeviceId(*r.array::<16>()?),
                sign_key: *r.array::<32>()?,
                hpke_key: get_hpke(&mut r)?,
                device_signature: *r.array::<64>()?,
            },
            4 => Op::ChangeRole {
                device: DeviceId(*r.array::<16>()?),
                role: Role::from_byte(r.u8()?)?,
            },
            5 => Op::Revoke {
                device: DeviceId(*r.array::<16>()?),
                epoch: r.u32()?,
                key_commitment: *r.array::<32>()?,
            },
            6 => Op::Cancel {
                invite: InviteId(*r.array::<16>()?),
            },
            other => return Err(Error::UnknownOp(other)),
        };
        r.array::<SIGNATURE_LEN>()?;
        r.finish()?;
        Ok(Entry {
            team,
            at_ms,
            signer,
            op,
            bytes: bytes.to_vec(),
        })
    }

    /// The encoded entry.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The first 16 bytes of the SHA-256 of the entry: for the genesis entry, the team's
    /// anchor, carried by invite codes so a new device can tell the real team from a copy.
    pub fn anchor(&self) -> [u8; 16] {
        to_array(ring::digest::digest(&ring::digest::SHA256, &self.bytes).as_ref())
    }

    fn verify_with(&self, key: &[u8; PUBLIC_KEY_LEN]) -> Result<()> {
        let split = self.bytes.len().saturating_sub(SIGNATURE_LEN);
        let signed = self.bytes.get(..split).unwrap_or_default();
        let signature: [u8; SIGNATURE_LEN] = to_array(self.bytes.get(split..).unwrap_or_default());
        verify_signature(key, signed, &signature)
    }

    /// The device (or pending invite) this entry concerns when it concerns a patient: the
    /// relay never shows such an entry to another patient.
    pub fn patient_subject(&self, state: &Membership) -> Option<[u8; 16]> {
        match &self.op {
            Op::Invite {
                invite,
                role: Role::Patient,
                ..
            } => Some(invite.0),
            Op::Redeem { invite, .. } => state
                .invites
                .get(invite)
                .filter(|i| i.role == Role::Patient)
                .map(|_| invite.0),
            Op::Revoke { device, .. } => state
                .devices
                .get(device)
                .filter(|d| d.role == Role::Patient)
                .and_then(|d| d.invite)
                .map(|i| i.0),
            // No patient needs to know of a cancelled invite (it can never be redeemed), so
            // none is shown one: a patient's device built before op 6 keeps syncing.
            Op::Cancel { invite } => Some(invite.0),
            _ => None,
        }
    }
}

/// A device on the team's roster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// The device.
    pub device: DeviceId,
    /// Its Ed25519 key (verifies its envelopes, entries and bundles).
    pub sign_key: [u8; PUBLIC_KEY_LEN],
    /// Its HPKE key (keys are wrapped to it).
    pub hpke_key: HpkePublicKey,
    /// Its role.
    pub role: Role,
    /// For a patient: the one plan it reads.
    pub plan: Option<DocumentId>,
    /// The device that enrolled it (itself for the creator).
    pub added_by: DeviceId,
    /// The invite it redeemed (none for the creator).
    pub invite: Option<InviteId>,
    /// When it joined (entry time).
    pub added_at_ms: u64,
    /// When it was revoked, if it was.
    pub revoked_at_ms: Option<u64>,
}

impl Member {
    /// Not revoked.
    pub fn is_active(&self) -> bool {
        self.revoked_at_ms.is_none()
    }
}

/// The longest an invite may be valid for: 7 days. Devices refuse to make a longer one and
/// the relay refuses to log it (an invite left open receives every new epoch's key).
pub const MAX_INVITE_LIFETIME_MS: u64 = 7 * 24 * 60 * 60 * 1000;

/// The most invites one device may have pending (made, not yet redeemed, cancelled or
/// expired) at once, at the relay: enough for a link worker's busiest clinic day, and a
/// bound on what a stolen phone can leave open.
pub const MAX_PENDING_INVITES: usize = 50;

/// The most key bundles one request to the relay carries (a membership append, or a
/// revocation's staged bundles): a revocation for more recipients stages them first.
pub const MAX_BUNDLES_PER_REQUEST: usize = 1_000;

/// The largest body of a request that carries key bundles (a membership append, staged
/// bundles), in bytes of JSON: the bundles travel as hex, twice their size.
pub const MAX_KEYS_REQUEST_BYTES: usize = 4 * 1024 * 1024;

/// An invite seen in the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InviteState {
    /// The invite.
    pub invite: InviteId,
    /// Its one-time signing key.
    pub sign_key: [u8; PUBLIC_KEY_LEN],
    /// Its HPKE key.
    pub hpke_key: HpkePublicKey,
    /// The role it grants.
    pub role: Role,
    /// The plan, for a patient invite.
    pub plan: Option<DocumentId>,
    /// Until when it may be redeemed.
    pub expires_at_ms: u64,
    /// Who created it.
    pub created_by: DeviceId,
    /// The device that redeemed it, once it has been.
    pub redeemed_by: Option<DeviceId>,
    /// Cancelled (by the device that made it, or an admin) before anyone redeemed it.
    pub cancelled_by: Option<DeviceId>,
}

impl InviteState {
    /// Neither redeemed, cancelled nor past its expiry at `now_ms`.
    pub fn is_pending(&self, now_ms: u64) -> bool {
        self.redeemed_by.is_none() && self.cancelled_by.is_none() && now_ms <= self.expires_at_ms
    }
}

/// What applying an entry changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    /// A device joined (genesis or redeem).
    Joined(DeviceId),
    /// An invite was created.
    Invited(InviteId),
    /// A device's role changed.
    RoleChanged(DeviceId),
    /// A device was revoked and the team moved to a new epoch.
    Revoked {
        /// The device.
        device: DeviceId,
        /// The new epoch.
        epoch: u32,
    },
    /// An invite was cancelled.
    Cancelled(InviteId),
}

/// The state of a team's membership after folding its log.
///
/// Its growing maps are persistent (`imbl`): a clone shares them, and the relay clones the
/// state for every entry it checks, so that clone and the entry's changes cost O(log n) in
/// the team's size, not a copy of every device and invite.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    team: TeamId,
    /// Entries applied.
    pub len: u64,
    /// The current key epoch (1 until the first revocation).
    pub epoch: u32,
    /// Every device ever enrolled, revoked ones included.
    pub devices: OrdMap<DeviceId, Member>,
    /// Every invite seen.
    pub invites: HashMap<InviteId, InviteState>,
    /// The commitment to each epoch's key, from the genesis (epoch 1) and each revocation.
    pub key_commitments: BTreeMap<u32, [u8; 32]>,
    /// Every staff device's private-notes document ([`private_notes_id`]) and its owner,
    /// revoked devices' included: who may read and write each is decided from this.
    pub private_notes: OrdMap<DocumentId, DeviceId>,
}

fn refuse<T>(r: Refusal) -> Result<T> {
    Err(Error::Refused(r))
}

impl Membership {
    /// The empty membership of `team` (before its genesis entry).
    pub fn new(team: TeamId) -> Self {
        Membership {
            team,
            len: 0,
            epoch: 1,
            devices: OrdMap::new(),
            invites: HashMap::new(),
            key_commitments: BTreeMap::new(),
            private_notes: OrdMap::new(),
        }
    }

    /// Whether `key` is the team's key of `epoch` as the log commits to it. A key for an
    /// epoch the log does not know (yet) is not accepted either.
    pub fn is_epoch_key(&self, epoch: u32, key: &EpochKey) -> bool {
        self.key_commitments
            .get(&epoch)
            .is_some_and(|c| *c == epoch_key_commitment(&self.team, epoch, key))
    }

    /// Folds a whole log (each entry's bytes, in relay order).
    pub fn from_log<'a>(team: TeamId, entries: impl IntoIterator<Item = &'a [u8]>) -> Result<Self> {
        let mut m = Membership::new(team);
        for bytes in entries {
            m.apply(&Entry::decode(bytes)?)?;
        }
        Ok(m)
    }

    /// The team.
    pub fn team(&self) -> TeamId {
        self.team
    }

    /// An active device of the team.
    pub fn active(&self, device: &DeviceId) -> Option<&Member> {
        self.devices.get(device).filter(|m| m.is_active())
    }

    /// Active devices.
    pub fn active_devices(&self) -> impl Iterator<Item = &Member> {
        self.devices.values().filter(|m| m.is_active())
    }

    /// The owner of `document` if it is a staff device's private notes (any device ever
    /// enrolled as staff, revoked or not).
    pub fn private_notes_owner(&self, document: &DocumentId) -> Option<DeviceId> {
        self.private_notes.get(document).copied()
    }

    /// Whether `device` may read and write `document`: an active member, and for a patient
    /// only its plan; for staff every document but another staff member's private notes,
    /// which only their owner, supervisors and admins may.
    pub fn can_access(&self, device: &DeviceId, document: &DocumentId) -> bool {
        let Some(member) = self.active(device) else {
            return false;
        };
        // Notes first: a patient invite may name a staff member's notes id before that
        // member joins (the id is predictable); it still never reaches them.
        if let Some(owner) = self.private_notes_owner(document) {
            return member.role.is_staff()
                && (owner == *device || member.role.reads_private_notes());
        }
        if !member.role.is_staff() {
            return member.plan.as_ref() == Some(document);
        }
        true
    }

    /// The active devices that read every private-notes document (supervisors, admins).
    pub fn private_notes_readers(&self) -> impl Iterator<Item = &Member> {
        self.active_devices()
            .filter(|m| m.role.reads_private_notes())
    }

    /// Records a staff device's private-notes document.
    fn note_private_notes(&mut self, device: DeviceId, role: Role) {
        if role.is_staff() {
            self.private_notes
                .insert(private_notes_id(&self.team, &device), device);
        }
    }

    /// Active admins.
    fn active_admins(&self) -> usize {
        self.active_devices()
            .filter(|m| m.role == Role::Admin)
            .count()
    }

    fn signer_member(&self, entry: &Entry) -> Result<&Member> {
        let device = DeviceId(entry.signer);
        let Some(member) = self.active(&device) else {
            return refuse(Refusal::NotAllowed("the signer is not an active member"));
        };
        entry.verify_with(&member.sign_key)?;
        Ok(member)
    }

    /// Checks `entry` against the log so far (signature, authority, consistency) without
    /// applying it. `now_ms` is the checker's clock for invite expiry: the relay passes its
    /// own; a device folding history passes `None` and the entry's own time is used.
    pub fn check(&self, entry: &Entry, now_ms: Option<u64>) -> Result<()> {
        self.clone().apply_at(entry, now_ms).map(|_| ())
    }

    /// Applies `entry` (see [`Membership::check`]); devices folding the log use this.
    pub fn apply(&mut self, entry: &Entry) -> Result<Applied> {
        self.apply_at(entry, None)
    }

    /// Applies `entry` with `now_ms` as the time for invite expiry.
    pub fn apply_at(&mut self, entry: &Entry, now_ms: Option<u64>) -> Result<Applied> {
        if entry.team != self.team {
            return refuse(Refusal::Conflict("entry of another team"));
        }
        let applied = match &entry.op {
            Op::Genesis {
                device,
                sign_key,
                hpke_key,
                key_commitment,
            } => {
                if self.len != 0 {
                    return refuse(Refusal::Conflict("genesis after the first entry"));
                }
                if entry.signer != device.0 {
                    return refuse(Refusal::Conflict("genesis not signed by its device"));
                }
                entry.verify_with(sign_key)?;
                self.key_commitments.insert(1, *key_commitment);
                self.note_private_notes(*device, Role::Admin);
                self.devices.insert(
                    *device,
                    Member {
                        device: *device,
                        sign_key: *sign_key,
                        hpke_key: hpke_key.clone(),
                        role: Role::Admin,
                        plan: None,
                        added_by: *device,
                        invite: None,
                        added_at_ms: entry.at_ms,
                        revoked_at_ms: None,
                    },
                );
                Applied::Joined(*device)
            }
            _ if self.len == 0 => {
                return refuse(Refusal::Conflict("the log must start with genesis"));
            }
            Op::Invite {
                invite,
                sign_key,
                hpke_key,
                role,
                plan,
                expires_at_ms,
            } => {
                let signer = self.signer_member(entry)?;
                let allowed = match signer.role {
                    Role::Admin => true,
                    // Their own second phone, or a patient's phone for one plan.
                    Role::LinkWorker => matches!(role, Role::LinkWorker | Role::Patient),
                    Role::Supervisor | Role::Patient => false,
                };
                if !allowed {
                    return refuse(Refusal::NotAllowed("this role cannot invite that role"));
                }
                if (*role == Role::Patient) != plan.is_some() {
                    return refuse(Refusal::Conflict(
                        "a patient invite names exactly one plan; other invites none",
                    ));
                }
                if plan.is_some_and(|p| self.private_notes.contains_key(&p)) {
                    return refuse(Refusal::NotAllowed(
                        "a staff member's private notes are never shared with a patient",
                    ));
                }
                if self.invites.contains_key(invite) {
                    return refuse(Refusal::Conflict("invite id already used"));
                }
                let created_by = signer.device;
                self.invites.insert(
                    *invite,
                    InviteState {
                        invite: *invite,
                        sign_key: *sign_key,
                        hpke_key: hpke_key.clone(),
                        role: *role,
                        plan: *plan,
                        expires_at_ms: *expires_at_ms,
                        created_by,
                        redeemed_by: None,
                        cancelled_by: None,
                    },
                );
                Applied::Invited(*invite)
            }
            Op::Redeem {
                invite,
                device,
                sign_key,
                hpke_key,
                device_signature,
            } => {
                if entry.signer != invite.0 {
                    return refuse(Refusal::Conflict("a redeem is signed by its invite"));
                }
                let Some(state) = self.invites.get(invite) else {
                    return refuse(Refusal::NoSuchInvite);
                };
                entry.verify_with(&state.sign_key)?;
                if state.redeemed_by.is_some() {
                    return refuse(Refusal::InviteUsed);
                }
                if state.cancelled_by.is_some() {
                    return refuse(Refusal::InviteCancelled);
                }
                let now = now_ms.unwrap_or(entry.at_ms);
                if now > state.expires_at_ms || entry.at_ms > state.expires_at_ms {
                    return refuse(Refusal::InviteExpired);
                }
                if self.devices.contains_key(device) {
                    return refuse(Refusal::Conflict("device already enrolled"));
                }
                let proof = redeem_proof_message(&self.team, invite, device, sign_key, hpke_key);
                verify_signature(sign_key, &proof, device_signature)?;
                if !self
                    .active(&state.created_by)
                    .is_some_and(|m| m.role.is_staff())
                {
                    return refuse(Refusal::NotAllowed("the inviting device was revoked"));
                }
                let member = Member {
                    device: *device,
                    sign_key: *sign_key,
                    hpke_key: hpke_key.clone(),
                    role: state.role,
                    plan: state.plan,
                    added_by: state.created_by,
                    invite: Some(*invite),
                    added_at_ms: entry.at_ms,
                    revoked_at_ms: None,
                };
                if let Some(s) = self.invites.get_mut(invite) {
                    s.redeemed_by = Some(*device);
                }
                self.note_private_notes(*device, member.role);
                self.devices.insert(*device, member);
                Applied::Joined(*device)
            }
            Op::ChangeRole { device, role } => {
                let signer = self.signer_member(entry)?;
                if signer.role != Role::Admin {
                    return refuse(Refusal::NotAllowed("only an admin changes roles"));
                }
                let Some(target) = self.active(device) else {
                    return refuse(Refusal::Conflict("no such active device"));
                };
                if target.role == Role::Patient || *role == Role::Patient {
                    return refuse(Refusal::Conflict("a patient's role cannot change"));
                }
                if target.role == Role::Admin && *role != Role::Admin && self.active_admins() <= 1 {
                    return refuse(Refusal::Conflict("the team's last admin"));
                }
                if let Some(t) = self.devices.get_mut(device) {
                    t.role = *role;
                }
                Applied::RoleChanged(*device)
            }
            Op::Revoke {
                device,
                epoch,
                key_commitment,
            } => {
                let signer = self.signer_member(entry)?;
                let Some(target) = self.active(device) else {
                    return refuse(Refusal::Conflict("no such active device"));
                };
                let allowed = match signer.role {
                    Role::Admin => true,
                    // Un-sharing a plan: a link worker revokes a patient's device.
                    Role::LinkWorker => target.role == Role::Patient,
                    Role::Supervisor | Role::Patient => false,
                };
                if !allowed {
                    return refuse(Refusal::NotAllowed("this role cannot revoke that device"));
                }
                if target.role == Role::Admin && self.active_admins() <= 1 {
                    return refuse(Refusal::Conflict("the team's last admin"));
                }
                if Some(*epoch) != self.epoch.checked_add(1) {
                    return refuse(Refusal::Conflict("a revocation starts the next epoch"));
                }
                if let Some(t) = self.devices.get_mut(device) {
                    t.revoked_at_ms = Some(entry.at_ms);
                }
                self.epoch = *epoch;
                self.key_commitments.insert(*epoch, *key_commitment);
                Applied::Revoked {
                    device: *device,
                    epoch: *epoch,
                }
            }
            Op::Cancel { invite } => {
                let signer = self.signer_member(entry)?;
                let Some(state) = self.invites.get(invite) else {
                    return refuse(Refusal::NoSuchInvite);
                };
                if signer.role != Role::Admin && signer.device != state.created_by {
                    return refuse(Refusal::NotAllowed(
                        "only an admin or the device that made an invite cancels it",
                    ));
                }
                if state.redeemed_by.is_some() {
                    // Too late: revoke the device that redeemed it instead.
                    return refuse(Refusal::InviteUsed);
                }
                if state.cancelled_by.is_some() {
                    return refuse(Refusal::InviteCancelled);
                }
                let by = signer.device;
                if let Some(s) = self.invites.get_mut(invite) {
                    s.cancelled_by = Some(by);
                }
                Applied::Cancelled(*invite)
            }
        };
        self.len = self.len.saturating_add(1);
        Ok(applied)
    }

    /// The folded state as bytes (`HFS1`), for a device to keep beside the log it folded:
    /// [`Membership::from_snapshot`] gives back an equal state without verifying anything
    /// again. Invites are written in id order, so equal states give equal bytes.
    pub fn to_snapshot(&self) -> Vec<u8> {
        // A device and an invite each carry an HPKE key (1,216 bytes with X-Wing).
        let per_item = 1_400_usize;
        let mut out = Vec::with_capacity(
            self.devices
                .len()
                .saturating_add(self.invites.len())
                .saturating_mul(per_item)
                .saturating_add(64),
        );
        out.extend_from_slice(&SNAPSHOT_MAGIC);
        out.extend_from_slice(self.team.as_bytes());
        out.extend_from_slice(&self.len.to_be_bytes());
        out.extend_from_slice(&self.epoch.to_be_bytes());
        put_count(&mut out, self.devices.len());
        for m in self.devices.values() {
            out.extend_from_slice(m.device.as_bytes());
            out.extend_from_slice(&m.sign_key);
            put_key_bytes(&mut out, &m.hpke_key);
            out.push(m.role.as_byte());
            put_option(&mut out, m.plan.as_ref().map(|p| p.as_bytes()));
            out.extend_from_slice(m.added_by.as_bytes());
            put_option(&mut out, m.invite.as_ref().map(|i| i.as_bytes()));
            out.extend_from_slice(&m.added_at_ms.to_be_bytes());
            put_option(&mut out, m.revoked_at_ms.map(u64::to_be_bytes).as_ref());
        }
        let mut invites: Vec<&InviteState> = self.invites.values().collect();
        invites.sort_unstable_by_key(|i| i.invite);
        put_count(&mut out, invites.len());
        for i in invites {
            out.extend_from_slice(i.invite.as_bytes());
            out.extend_from_slice(&i.sign_key);
            put_key_bytes(&mut out, &i.hpke_key);
            out.push(i.role.as_byte());
            put_option(&mut out, i.plan.as_ref().map(|p| p.as_bytes()));
            out.extend_from_slice(&i.expires_at_ms.to_be_bytes());
            out.extend_from_slice(i.created_by.as_bytes());
            put_option(&mut out, i.redeemed_by.as_ref().map(|d| d.as_bytes()));
            put_option(&mut out, i.cancelled_by.as_ref().map(|d| d.as_bytes()));
        }
        put_count(&mut out, self.key_commitments.len());
        for (epoch, commitment) in &self.key_commitments {
            out.extend_from_slice(&epoch.to_be_bytes());
            out.extend_from_slice(commitment);
        }
        put_count(&mut out, self.private_notes.len());
        for (doc, owner) in &self.private_notes {
            out.extend_from_slice(doc.as_bytes());
            out.extend_from_slice(owner.as_bytes());
        }
        out
    }

    /// The state [`Membership::to_snapshot`] wrote, decoded strictly. No signature is
    /// checked and no rule applied: the bytes must come from this device's own fold of a
    /// log it verified (its HPKE keys were checked when their entries were decoded, and
    /// are not checked again: a key that is not valid fails where it is used).
    pub fn from_snapshot(bytes: &[u8]) -> Result<Self> {
        let mut r = Reader::new(bytes, "membership snapshot");
        let magic = *r.array::<4>()?;
        if magic != SNAPSHOT_MAGIC {
            return Err(Error::BadMagic {
                expected: "HFS1",
                found: magic,
            });
        }
        let mut m = Membership::new(TeamId(*r.array::<16>()?));
        m.len = r.u64()?;
        m.epoch = r.u32()?;
        for _ in 0..r.len_u32()? {
            let device = DeviceId(*r.array::<16>()?);
            let member = Member {
                device,
                sign_key: *r.array::<32>()?,
                hpke_key: get_checked_hpke(&mut r)?,
                role: Role::from_byte(r.u8()?)?,
                plan: get_option::<16>(&mut r)?.map(DocumentId),
                added_by: DeviceId(*r.array::<16>()?),
                invite: get_option::<16>(&mut r)?.map(InviteId),
                added_at_ms: r.u64()?,
                revoked_at_ms: get_option::<8>(&mut r)?.map(u64::from_be_bytes),
            };
            m.devices.insert(device, member);
        }
        let invites = r.len_u32()?;
        for _ in 0..invites {
            let invite = InviteId(*r.array::<16>()?);
            let state = InviteState {
                invite,
                sign_key: *r.array::<32>()?,
                hpke_key: get_checked_hpke(&mut r)?,
                role: Role::from_byte(r.u8()?)?,
                plan: get_option::<16>(&mut r)?.map(DocumentId),
                expires_at_ms: r.u64()?,
                created_by: DeviceId(*r.array::<16>()?),
                redeemed_by: get_option::<16>(&mut r)?.map(DeviceId),
                cancelled_by: get_option::<16>(&mut r)?.map(DeviceId),
            };
            m.invites.insert(invite, state);
        }
        for _ in 0..r.len_u32()? {
            let epoch = r.u32()?;
            m.key_commitments.insert(epoch, *r.array::<32>()?);
        }
        for _ in 0..r.len_u32()? {
            let doc = DocumentId(*r.array::<16>()?);
            m.private_notes.insert(doc, DeviceId(*r.array::<16>()?));
        }
        r.finish()?;
        Ok(m)
    }

    /// Applies an entry seen through a patient's filtered view: entries about other patients
    /// are missing, so a revocation may jump several epochs. Devices of patients use this.
    pub fn apply_filtered(&mut self, entry: &Entry) -> Result<Applied> {
        if let Op::Revoke { epoch, .. } = &entry.op
            && *epoch > self.epoch
        {
            // Catch up to the epoch just before, as if the hidden revocations were applied.
            self.epoch = epoch.saturating_sub(1).max(self.epoch);
        }
        self.apply(entry)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use super::*;
    use crate::keywrap::HpkeKeyPair;
    use ring::rand::SystemRandom;

    struct Dev {
        id: DeviceId,
        sign: DeviceSigningKey,
        hpke: HpkeKeyPair,
    }

    fn dev(n: u8) -> Dev {
        Dev {
            id: DeviceId([n; 16]),
            sign: DeviceSigningKey::from_seed([n; 32]).unwrap(),
            hpke: HpkeKeyPair::from_seed([n; 32]).unwrap(),
        }
    }

    const TEAM: TeamId = TeamId([9; 16]);

    fn genesis(d: &Dev) -> Entry {
        let op = Op::Genesis {
            device: d.id,
            sign_key: d.sign.public_key(),
            hpke_key: d.hpke.public_key().clone(),
            key_commitment: epoch_key_commitment(&TEAM, 1, &EpochKey::from_bytes([1; 32])),
        };
        Entry::sign(TEAM, 1, d.id.0, op, &d.sign).unwrap()
    }

    fn invite(
        by: &Dev,
        n: u8,
        role: Role,
        plan: Option<DocumentId>,
        expires: u64,
    ) -> (Entry, DeviceSigningKey) {
        let key = DeviceSigningKey::from_seed([n.wrapping_add(100); 32]).unwrap();
        let op = Op::Invite {
            invite: InviteId([n; 16]),
            sign_key: key.public_key(),
            hpke_key: HpkeKeyPair::from_seed([n; 32])
                .unwrap()
                .public_key()
                .clone(),
            role,
            plan,
            expires_at_ms: expires,
        };
        (Entry::sign(TEAM, 2, by.id.0, op, &by.sign).unwrap(), key)
    }

    fn redeem(invite_key: &DeviceSigningKey, n: u8, d: &Dev, at: u64) -> Entry {
        let inv = InviteId([n; 16]);
        let proof = redeem_proof_message(
            &TEAM,
            &inv,
            &d.id,
            &d.sign.public_key(),
            d.hpke.public_key(),
        );
        let op = Op::Redeem {
            invite: inv,
            device: d.id,
            sign_key: d.sign.public_key(),
            hpke_key: d.hpke.public_key().clone(),
            device_signature: d.sign.sign(&proof),
        };
        Entry::sign(TEAM, at, inv.0, op, invite_key).unwrap()
    }

    fn refusal(r: Result<Applied>) -> Refusal {
        match r {
            Err(Error::Refused(r)) => r,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn invites_enrol_devices_with_their_role_and_only_once() {
        let (admin, lw, patient) = (dev(1), dev(2), dev(3));
        let mut m = Membership::new(TEAM);
        m.apply(&genesis(&admin)).unwrap();
        let (e, k) = invite(&admin, 10, Role::LinkWorker, None, 100);
        m.apply(&Entry::decode(e.as_bytes()).unwrap()).unwrap();
        m.apply(&redeem(&k, 10, &lw, 50)).unwrap();
        assert_eq!(m.active(&lw.id).unwrap().role, Role::LinkWorker);
        assert_eq!(
            refusal(m.apply(&redeem(&k, 10, &patient, 60))),
            Refusal::InviteUsed
        );

        // A link worker shares one plan with a patient.
        let plan = DocumentId([7; 16]);
        let (e, k) = invite(&lw, 11, Role::Patient, Some(plan), 100);
        m.apply(&e).unwrap();
        assert_eq!(
            refusal(
                m.check(&redeem(&k, 11, &patient, 50), Some(101))
                    .map(|_| Applied::Invited(InviteId([0; 16])))
            ),
            Refusal::InviteExpired
        );
        m.apply(&redeem(&k, 11, &patient, 50)).unwrap();
        assert!(m.can_access(&patient.id, &plan));
        assert!(!m.can_access(&patient.id, &DocumentId([8; 16])));

        // Escalation: a link worker cannot invite an admin or a supervisor; a patient nobody.
        for role in [Role::Admin, Role::Supervisor] {
            let (e, _) = invite(&lw, 12, role, None, 100);
            assert!(matches!(refusal(m.apply(&e)), Refusal::NotAllowed(_)));
        }
        let (e, _) = invite(&patient, 13, Role::Patient, Some(plan), 100);
        assert!(matches!(refusal(m.apply(&e)), Refusal::NotAllowed(_)));
        // A forged redeem (wrong invite key) fails its signature.
        let (e, _) = invite(&admin, 14, Role::Admin, None, 100);
        m.apply(&e).unwrap();
        let wrong = DeviceSigningKey::from_seed([0xee; 32]).unwrap();
        assert_eq!(
            m.apply(&redeem(&wrong, 14, &dev(4), 5)),
            Err(Error::BadSignature)
        );
    }

    #[test]
    fn an_invite_is_cancelled_by_its_maker_or_an_admin_and_then_redeems_nothing() {
        let (admin, lw, lw2, patient) = (dev(1), dev(2), dev(5), dev(3));
        let mut m = Membership::new(TEAM);
        m.apply(&genesis(&admin)).unwrap();
        for (n, d) in [(10, &lw), (11, &lw2)] {
            let (e, k) = invite(&admin, n, Role::LinkWorker, None, 100);
            m.apply(&e).unwrap();
            m.apply(&redeem(&k, n, d, 5)).unwrap();
        }
        let cancel = |by: &Dev, n: u8| {
            let e = Entry::sign(
                TEAM,
                9,
                by.id.0,
                Op::Cancel {
                    invite: InviteId([n; 16]),
                },
                &by.sign,
            )
            .unwrap();
            Entry::decode(e.as_bytes()).unwrap()
        };
        let plan = DocumentId([7; 16]);
        let (e, k) = invite(&lw, 20, Role::Patient, Some(plan), 100);
        m.apply(&e).unwrap();
        // Another link worker may not; an unknown invite is unknown.
        assert!(matches!(
            refusal(m.apply(&cancel(&lw2, 20))),
            Refusal::NotAllowed(_)
        ));
        assert_eq!(refusal(m.apply(&cancel(&lw, 99))), Refusal::NoSuchInvite);
        // No patient is shown a cancel, of a patient invite or a staff one.
        assert_eq!(cancel(&lw, 20).patient_subject(&m), Some([20; 16]));
        assert_eq!(cancel(&admin, 10).patient_subject(&m), Some([10; 16]));
        assert_eq!(
            m.apply(&cancel(&lw, 20)).unwrap(),
            Applied::Cancelled(InviteId([20; 16]))
        );
        assert!(!m.invites[&InviteId([20; 16])].is_pending(0));
        assert_eq!(
            refusal(m.apply(&redeem(&k, 20, &patient, 50))),
            Refusal::InviteCancelled
        );
        assert_eq!(
            refusal(m.apply(&cancel(&admin, 20))),
            Refusal::InviteCancelled
        );
        assert!(m.active(&patient.id).is_none());
        // An admin cancels anyone's invite; a redeemed invite is past cancelling.
        let (e, _) = invite(&lw2, 21, Role::LinkWorker, None, 100);
        m.apply(&e).unwrap();
        m.apply(&cancel(&admin, 21)).unwrap();
        assert_eq!(refusal(m.apply(&cancel(&admin, 10))), Refusal::InviteUsed);
    }

    #[test]
    fn revocation_starts_an_epoch_and_respects_authority() {
        let (admin, lw, lw2) = (dev(1), dev(2), dev(5));
        let mut m = Membership::new(TEAM);
        m.apply(&genesis(&admin)).unwrap();
        for (n, d) in [(10, &lw), (11, &lw2)] {
            let (e, k) = invite(&admin, n, Role::LinkWorker, None, 100);
            m.apply(&e).unwrap();
            m.apply(&redeem(&k, n, d, 5)).unwrap();
        }
        let revoke = |by: &Dev, d: DeviceId, epoch| {
            let op = Op::Revoke {
                device: d,
                epoch,
                key_commitment: [epoch as u8; 32],
            };
            Entry::sign(TEAM, 9, by.id.0, op, &by.sign).unwrap()
        };
        // A link worker cannot revoke another link worker; the epoch must be the next one.
        assert!(matches!(
            refusal(m.apply(&revoke(&lw, lw2.id, 2))),
            Refusal::NotAllowed(_)
        ));
        assert!(matches!(
            refusal(m.apply(&revoke(&admin, lw2.id, 3))),
            Refusal::Conflict(_)
        ));
        assert_eq!(
            m.apply(&revoke(&admin, lw2.id, 2)).unwrap(),
            Applied::Revoked {
                device: lw2.id,
                epoch: 2
            }
        );
        assert_eq!(m.epoch, 2);
        // Epoch keys are accepted only as the log commits to them.
        assert!(m.is_epoch_key(1, &EpochKey::from_bytes([1; 32])));
        assert!(!m.is_epoch_key(1, &EpochKey::from_bytes([2; 32])));
        assert!(
            !m.is_epoch_key(3, &EpochKey::from_bytes([1; 32])),
            "an epoch not yet started"
        );
        // The revoked device can do nothing more; the last admin cannot be revoked.
        let (e, _) = invite(&lw2, 12, Role::LinkWorker, None, 100);
        assert!(matches!(refusal(m.apply(&e)), Refusal::NotAllowed(_)));
        assert!(matches!(
            refusal(m.apply(&revoke(&admin, admin.id, 3))),
            Refusal::Conflict(_)
        ));
        // A relay cannot replay an entry into another team, or invent one.
        let mut other = Membership::new(TeamId([8; 16]));
        assert!(other.apply(&genesis(&admin)).is_err());
        let mut bytes = revoke(&admin, lw.id, 3).as_bytes().to_vec();
        bytes[45] ^= 1; // the revoked device's id
        assert_eq!(
            m.apply(&Entry::decode(&bytes).unwrap()),
            Err(Error::BadSignature)
        );
    }

    #[test]
    fn private_notes_are_their_owners_supervisors_and_admins_only() {
        let (admin, sup, lw, lw2, patient) = (dev(1), dev(2), dev(3), dev(4), dev(5));
        let mut m = Membership::new(TEAM);
        m.apply(&genesis(&admin)).unwrap();
        for (n, d, role) in [
            (10, &sup, Role::Supervisor),
            (11, &lw, Role::LinkWorker),
            (12, &lw2, Role::LinkWorker),
        ] {
            let (e, k) = invite(&admin, n, role, None, 100);
            m.apply(&e).unwrap();
            m.apply(&redeem(&k, n, d, 5)).unwrap();
        }
        let plan = DocumentId([7; 16]);
        let (e, k) = invite(&lw, 13, Role::Patient, Some(plan), 100);
        m.apply(&e).unwrap();
        m.apply(&redeem(&k, 13, &patient, 5)).unwrap();
        let notes = private_notes_id(&TEAM, &lw.id);
        assert_eq!(m.private_notes_owner(&notes), Some(lw.id));
        assert_eq!(
            m.private_notes.len(),
            4,
            "one per staff device, none for a patient"
        );
        assert!(m.private_notes_owner(&plan).is_none());
        let reads = |d: &Dev| m.can_access(&d.id, &notes);
        assert!(reads(&lw) && reads(&sup) && reads(&admin));
        assert!(!reads(&lw2) && !reads(&patient));
        assert!(
            m.can_access(&lw2.id, &plan),
            "other documents stay the team's"
        );
        let readers: Vec<DeviceId> = m.private_notes_readers().map(|r| r.device).collect();
        assert_eq!(readers, vec![admin.id, sup.id]);
        // Nobody shares someone's notes with a patient.
        let (e, _) = invite(&lw2, 14, Role::Patient, Some(notes), 100);
        assert!(matches!(refusal(m.apply(&e)), Refusal::NotAllowed(_)));
        // Nor by naming the notes id of someone not yet in the team (it is predictable): the
        // patient's device is bound to it but never reaches it once its owner joins.
        let later = dev(40);
        let future = private_notes_id(&TEAM, &later.id);
        let planted = dev(41);
        let (e, k) = invite(&lw2, 15, Role::Patient, Some(future), 100);
        m.apply(&e).unwrap();
        m.apply(&redeem(&k, 15, &planted, 5)).unwrap();
        let (e, k) = invite(&admin, 16, Role::LinkWorker, None, 100);
        m.apply(&e).unwrap();
        m.apply(&redeem(&k, 16, &later, 5)).unwrap();
        assert_eq!(m.private_notes_owner(&future), Some(later.id));
        assert!(m.can_access(&later.id, &future) && m.can_access(&sup.id, &future));
        assert!(!m.can_access(&planted.id, &future));
        // A revoked owner reads nothing more; its notes stay its supervisors'.
        let op = Op::Revoke {
            device: lw.id,
            epoch: 2,
            key_commitment: [2; 32],
        };
        m.apply(&Entry::sign(TEAM, 9, admin.id.0, op, &admin.sign).unwrap())
            .unwrap();
        assert!(!m.can_access(&lw.id, &notes));
        assert!(m.can_access(&sup.id, &notes));
        assert_eq!(m.private_notes_owner(&notes), Some(lw.id));
    }

    #[test]
    fn a_snapshot_gives_back_the_fold_it_was_taken_from() {
        let (admin, lw, lw2, patient) = (dev(1), dev(2), dev(5), dev(3));
        let mut m = Membership::new(TEAM);
        m.apply(&genesis(&admin)).unwrap();
        for (n, d) in [(10, &lw), (11, &lw2)] {
            let (e, k) = invite(&admin, n, Role::LinkWorker, None, 100);
            m.apply(&e).unwrap();
            m.apply(&redeem(&k, n, d, 5)).unwrap();
        }
        let plan = DocumentId([7; 16]);
        let (e, k) = invite(&lw, 12, Role::Patient, Some(plan), 100);
        m.apply(&e).unwrap();
        m.apply(&redeem(&k, 12, &patient, 5)).unwrap();
        // A pending invite, a cancelled one and a revocation (epoch 2).
        m.apply(&invite(&admin, 13, Role::Supervisor, None, 100).0)
            .unwrap();
        m.apply(&invite(&lw, 14, Role::LinkWorker, None, 100).0)
            .unwrap();
        let cancel = Op::Cancel {
            invite: InviteId([14; 16]),
        };
        m.apply(&Entry::sign(TEAM, 9, lw.id.0, cancel, &lw.sign).unwrap())
            .unwrap();
        let revoke = Op::Revoke {
            device: lw2.id,
            epoch: 2,
            key_commitment: [2; 32],
        };
        m.apply(&Entry::sign(TEAM, 9, admin.id.0, revoke, &admin.sign).unwrap())
            .unwrap();

        let bytes = m.to_snapshot();
        let back = Membership::from_snapshot(&bytes).unwrap();
        assert_eq!(back, m);
        assert_eq!(back.to_snapshot(), bytes, "the same state, the same bytes");
        // It folds on as the original does.
        let (e, k) = invite(&admin, 15, Role::LinkWorker, None, 100);
        let (mut a, mut b) = (m.clone(), back);
        a.apply(&e).unwrap();
        b.apply(&e).unwrap();
        a.apply(&redeem(&k, 15, &dev(6), 5)).unwrap();
        b.apply(&redeem(&k, 15, &dev(6), 5)).unwrap();
        assert_eq!(a, b);
        // Strict: another magic, a byte short or one too many is refused.
        let mut other = bytes.clone();
        other[3] = b'2';
        assert!(matches!(
            Membership::from_snapshot(&other),
            Err(Error::BadMagic { .. })
        ));
        assert!(Membership::from_snapshot(&bytes[..bytes.len() - 1]).is_err());
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(Membership::from_snapshot(&longer).is_err());
        assert_eq!(
            Membership::from_snapshot(&Membership::new(TEAM).to_snapshot()).unwrap(),
            Membership::new(TEAM)
        );
    }

    #[test]
    fn decoding_is_strict() {
        let g = genesis(&dev(1));
        let bytes = g.as_bytes();
        assert_eq!(Entry::decode(bytes).unwrap(), g);
        assert!(Entry::decode(&bytes[..bytes.len() - 1]).is_err());
        let mut longer = bytes.to_vec();
        longer.push(0);
        assert!(Entry::decode(&longer).is_err());
        let mut bad_op = bytes.to_vec();
        bad_op[44] = 9;
        assert_eq!(Entry::decode(&bad_op), Err(Error::UnknownOp(9)));
        let _ = SystemRandom::new();
    }
}
