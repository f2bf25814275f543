//! Key bundles: which keys a new reader gets, sealing them to its HPKE key, and which
//! bundles pulled from the relay a device accepts.
//!
//! The relay could hand a device anything, so a bundle counts only if it comes from a
//! staff member in the verified log, is addressed to this device (or to the invite it
//! redeemed) and opens. Of what it carries, a team epoch key counts only if the log
//! commits to it (so a device about to be revoked cannot plant a key of its own for the
//! next epoch), and a document key only from a device still active and — on a patient's
//! device — only for the patient's own plan. The first key stored for an epoch stays.

use holdfast_protocol::{BundleHeader, HpkeKeyPair, HpkePublicKey, KeyBundle, Role, WrappedKey};

use super::{Identity, TeamAccess};
use crate::crypto::TeamKeys;
use crate::model::ids::{DocumentId, TeamId};
use crate::{Error, Result};

/// The keys a device of `role` (with `plan`) needs, at every epoch `keys` holds: staff get
/// the team's epoch keys; a patient the key of its plan at each epoch, and nothing else.
pub fn keys_for_reader(
    keys: &TeamKeys,
    role: Role,
    plan: Option<DocumentId>,
) -> Result<Vec<WrappedKey>> {
    let mut out = Vec::new();
    for (epoch, key) in keys.epochs() {
        if role.is_staff() {
            out.push(WrappedKey::Epoch {
                epoch,
                key: key.clone(),
            });
        } else if let Some(plan) = plan {
            out.push(WrappedKey::Document {
                document: plan,
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

/// Seals `keys` to `recipient` (a device id or an invite id) under its HPKE key, signed
/// by this device.
pub fn seal_bundle(
    team: TeamId,
    recipient: [u8; 16],
    recipient_key: &HpkePublicKey,
    keys: &[WrappedKey],
    me: &Identity,
    now_ms: u64,
) -> Result<Vec<u8>> {
    Ok(KeyBundle::seal(
        BundleHeader {
            team,
            recipient,
            sender: me.device,
            at_ms: now_ms,
        },
        recipient_key,
        keys,
        &me.signer,
    )?)
}

/// A key a device accepted from a bundle, to store.
#[derive(Clone)]
pub struct NewKey {
    /// The epoch.
    pub epoch: u32,
    /// `None` for the team's epoch key; the document for a document key.
    pub doc: Option<DocumentId>,
    /// The key.
    pub key: [u8; 32],
}

impl std::fmt::Debug for NewKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the key.
        f.debug_struct("NewKey")
            .field("epoch", &self.epoch)
            .field("doc", &self.doc)
            .finish_non_exhaustive()
    }
}

/// What a device takes from a page of key bundles.
#[derive(Debug)]
pub struct AcceptedKeys {
    /// Keys new to this device, to store.
    pub added: Vec<NewKey>,
    /// Every key held afterwards.
    pub keys: TeamKeys,
    /// Where the next bundle pull starts: past every bundle dealt with, but not past one
    /// that needs membership this device has not pulled yet (the entry that started its
    /// epoch, or its sender's enrolment).
    pub next: u64,
}

/// Why a key bundle is not used now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BundleProblem {
    /// Never usable: skipped.
    Bad(&'static str),
    /// Needs membership not pulled yet: kept for the next sync.
    NotYet(&'static str),
}

/// Decides which keys of `bundles` (`(seq, bytes)` from the relay, whose page ends at
/// `next`) this device accepts, given the verified `access`, the keys it `held` and its
/// own identity. Bad bundles are skipped and logged (a bad bundle must not stop a
/// device's sync for ever); one that needs membership not pulled yet stops the page.
pub fn accept(
    access: &TeamAccess,
    held: &TeamKeys,
    me: &Identity,
    bundles: &[(u64, Vec<u8>)],
    next: u64,
) -> AcceptedKeys {
    let team = access.team();
    let mut opened = Vec::new();
    let mut next = next;
    for (seq, bytes) in bundles {
        match open_bundle(access, me, bytes) {
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
    let mut keys = held.clone();
    let mut added = Vec::new();
    for (sender_active, k) in opened {
        match k {
            WrappedKey::Epoch { epoch, key } => {
                if access.is_patient() || !access.membership.is_epoch_key(epoch, &key) {
                    tracing::warn!(team = %team, epoch, "epoch key the log does not commit to: skipped");
                    continue;
                }
                if keys.epochs().any(|(e, _)| e == epoch) {
                    continue;
                }
                added.push(NewKey {
                    epoch,
                    doc: None,
                    key: *key.as_bytes(),
                });
                keys.insert_epoch(epoch, key);
            }
            WrappedKey::Document {
                document,
                epoch,
                key,
            } => {
                let doc = document;
                // No "epoch already started" check here: a patient's filtered log may not
                // show the revocation that started it (SECURITY.md).
                if (access.is_patient() && access.plan != Some(doc))
                    || !sender_active
                    || keys.has(doc, epoch)
                {
                    continue;
                }
                added.push(NewKey {
                    epoch,
                    doc: Some(doc),
                    key: *key.as_bytes(),
                });
                keys.insert_document(doc, epoch, key);
            }
        }
    }
    AcceptedKeys { added, keys, next }
}

/// Checks and opens one bundle: its keys, each with whether the sender is still active.
pub fn open_bundle(
    access: &TeamAccess,
    me: &Identity,
    bytes: &[u8],
) -> std::result::Result<Vec<(bool, WrappedKey)>, BundleProblem> {
    use BundleProblem::{Bad, NotYet};
    let bundle = KeyBundle::decode(bytes).map_err(|_| Bad("malformed"))?;
    let h = bundle.header;
    if h.team != access.team() {
        return Err(Bad("of another team"));
    }
    let Some(sender) = access.membership.devices.get(&h.sender) else {
        return Err(NotYet("from a device not (yet) in the team's log here"));
    };
    if !sender.role.is_staff() {
        return Err(Bad("from a patient's device"));
    }
    let recipient_key: &HpkeKeyPair = if h.recipient == me.device.0 {
        &me.hpke
    } else if Some(h.recipient) == access.invite
        && let Some(k) = access.invite_key.as_deref()
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::team::found_team;
    use crate::access::team::tests::identity;
    use holdfast_protocol::EpochKey;

    /// A patient's device with `plan`, in a team founded by `admin`.
    fn patient_view(admin: &Identity) -> (TeamAccess, TeamKeys, DocumentId, Identity, EpochKey) {
        let founded = found_team(admin, 1_000).unwrap();
        let plan = DocumentId::random();
        let mut staff_keys = TeamKeys::new(founded.team);
        staff_keys.insert_epoch(1, founded.key.clone());
        let me = identity();
        let mut access = founded.access.clone();
        access.role = Some(Role::Patient);
        access.plan = Some(plan);
        (access, staff_keys, plan, me, founded.key)
    }

    #[test]
    fn a_patient_accepts_only_its_own_plans_key() {
        let admin = identity();
        let (access, staff_keys, plan, me, epoch_key) = patient_view(&admin);
        let other = DocumentId::random();
        let wrapped = vec![
            WrappedKey::Document {
                document: plan,
                epoch: 1,
                key: staff_keys.key_for(plan, 1).unwrap(),
            },
            WrappedKey::Document {
                document: other,
                epoch: 1,
                key: staff_keys.key_for(other, 1).unwrap(),
            },
            WrappedKey::Epoch {
                epoch: 1,
                key: epoch_key,
            },
        ];
        let bundle = seal_bundle(
            access.team(),
            me.device.0,
            me.hpke.public_key(),
            &wrapped,
            &admin,
            5,
        )
        .unwrap();
        let held = TeamKeys::new(access.team());
        let accepted = accept(&access, &held, &me, &[(7, bundle)], 7);
        assert_eq!(accepted.next, 7);
        assert_eq!(accepted.added.len(), 1, "{:?}", accepted.added);
        assert_eq!(accepted.added[0].doc, Some(plan));
        assert!(accepted.keys.has(plan, 1));
        assert!(
            !accepted.keys.has(other, 1),
            "another document's key is refused"
        );
        assert_eq!(
            accepted.keys.epochs().count(),
            0,
            "a patient never holds an epoch key"
        );
    }

    #[test]
    fn bundles_from_strangers_or_for_others_are_skipped_and_unknown_senders_wait() {
        let admin = identity();
        let founded = found_team(&admin, 1_000).unwrap();
        let mut keys = TeamKeys::new(founded.team);
        keys.insert_epoch(1, founded.key.clone());
        let me = identity();
        let mut access = founded.access.clone();
        access.role = Some(Role::LinkWorker);
        let wrapped = keys_for_reader(&keys, Role::LinkWorker, None).unwrap();
        let to_someone_else = seal_bundle(
            founded.team,
            [9; 16],
            me.hpke.public_key(),
            &wrapped,
            &admin,
            5,
        )
        .unwrap();
        assert_eq!(
            open_bundle(&access, &me, &to_someone_else).unwrap_err(),
            BundleProblem::Bad("addressed to another device")
        );
        let stranger = identity();
        let from_stranger = seal_bundle(
            founded.team,
            me.device.0,
            me.hpke.public_key(),
            &wrapped,
            &stranger,
            5,
        )
        .unwrap();
        assert!(matches!(
            open_bundle(&access, &me, &from_stranger),
            Err(BundleProblem::NotYet(_))
        ));
        assert!(matches!(
            open_bundle(&access, &me, b"junk"),
            Err(BundleProblem::Bad("malformed"))
        ));
        // An epoch key the log does not commit to is skipped, the good one is taken, and a
        // bundle that must wait stops the page before it.
        let planted = vec![WrappedKey::Epoch {
            epoch: 1,
            key: EpochKey::from_bytes([3; 32]),
        }];
        let planted = seal_bundle(
            founded.team,
            me.device.0,
            me.hpke.public_key(),
            &planted,
            &admin,
            5,
        )
        .unwrap();
        let good = seal_bundle(
            founded.team,
            me.device.0,
            me.hpke.public_key(),
            &wrapped,
            &admin,
            5,
        )
        .unwrap();
        let held = TeamKeys::new(founded.team);
        let accepted = accept(
            &access,
            &held,
            &me,
            &[(1, planted), (2, good), (3, from_stranger)],
            3,
        );
        assert_eq!(accepted.added.len(), 1);
        assert_eq!(&accepted.added[0].key, founded.key.as_bytes());
        assert_eq!(
            accepted.next, 2,
            "the cursor stops before the bundle that waits"
        );
    }
}
