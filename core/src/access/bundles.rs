//! Key bundles: which keys a new reader gets, sealing them to its HPKE key, and which
//! bundles pulled from the relay a device accepts.
//!
//! The relay could hand a device anything, so a bundle counts only if it comes from a
//! staff member in the verified log, is addressed to this device (or to the invite it
//! redeemed) and opens. Of what it carries, a team epoch key counts only if the log
//! commits to it (so a device about to be revoked cannot plant a key of its own for the
//! next epoch), and a document key only from a device still active and — on a patient's
//! device — only for the patient's own plan. The first key stored for an epoch stays.
//!
//! A private-notes key counts only on a device that may read those notes (their owner, a
//! supervisor, an admin), and only from their owner or an active supervisor or admin; the
//! owner's own word replaces whatever another device sent first (a junk key from a reader
//! must not lock the notes away for good). [`private_notes_bundles`] makes the bundles by
//! which a device hands the notes keys it holds to the team's supervisors and admins.

use std::collections::BTreeSet;

use holdfast_protocol::{
    BundleHeader, DeviceId, HpkeKeyPair, HpkePublicKey, KeyBundle, Role, WrappedKey,
};

use super::{Identity, TeamAccess};
use crate::crypto::TeamKeys;
use crate::crypto::keys::NOTES_KEY_EPOCH;
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
            if keys.is_private_notes(plan) {
                return Err(Error::NotAllowed(
                    "a staff member's private notes are never shared with a patient".into(),
                ));
            }
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
    /// The epoch ([`NOTES_KEY_EPOCH`] for a private-notes key).
    pub epoch: u32,
    /// `None` for the team's epoch key; the document for a document key.
    pub doc: Option<DocumentId>,
    /// The key.
    pub key: [u8; 32],
    /// It replaces a key stored for the same document (a private-notes key from its owner).
    pub replaces: bool,
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
    for (sender, k) in opened {
        let sender_active = sender.active;
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
                    replaces: false,
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
                // A private-notes document is never opened with a document key: whoever
                // sends one (a patient invite planted on a colleague's future notes id) is
                // trying to get it sealed or opened under a key it chose.
                if (access.is_patient() && access.plan != Some(doc))
                    || !sender_active
                    || keys.has(doc, epoch)
                    || keys.is_private_notes(doc)
                {
                    continue;
                }
                added.push(NewKey {
                    epoch,
                    doc: Some(doc),
                    key: *key.as_bytes(),
                    replaces: false,
                });
                keys.insert_document(doc, epoch, key);
            }
            WrappedKey::PrivateNotes { document, key } => {
                let Some(owner) = access.membership.private_notes_owner(&document) else {
                    tracing::warn!(team = %team, "a private-notes key for no staff member's notes: skipped");
                    continue;
                };
                let reads = owner == me.device
                    || (access.role.is_some_and(|r| r.reads_private_notes())
                        && access.membership.active(&me.device).is_some());
                let from_owner = sender.device == owner;
                let vouched = from_owner || (sender.active && sender.role.reads_private_notes());
                if !reads || !vouched {
                    tracing::warn!(team = %team, "a private-notes key this device may not take: skipped");
                    continue;
                }
                let same = keys
                    .notes_key(document)
                    .is_some_and(|k| k.as_bytes() == key.as_bytes());
                if same || (keys.notes_key(document).is_some() && !from_owner) {
                    continue;
                }
                added.push(NewKey {
                    epoch: NOTES_KEY_EPOCH,
                    doc: Some(document),
                    key: *key.as_bytes(),
                    replaces: from_owner,
                });
                keys.insert_notes_key(document, key);
            }
        }
    }
    AcceptedKeys { added, keys, next }
}

/// Who sent a bundle, as the verified log has it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sender {
    /// The device.
    pub device: DeviceId,
    /// Its role.
    pub role: Role,
    /// Not revoked.
    pub active: bool,
}

/// Checks and opens one bundle: its keys, each with who sent it.
pub fn open_bundle(
    access: &TeamAccess,
    me: &Identity,
    bytes: &[u8],
) -> std::result::Result<Vec<(Sender, WrappedKey)>, BundleProblem> {
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
    let from = Sender {
        device: sender.device,
        role: sender.role,
        active: sender.is_active(),
    };
    Ok(keys.into_iter().map(|k| (from, k)).collect())
}

/// Bundles handing private-notes keys on, and a fingerprint of what they carry.
#[derive(Debug)]
pub struct PrivateNotesBundles {
    /// One bundle per supervisor and admin (but the sender).
    pub bundles: Vec<Vec<u8>>,
    /// SHA-256 over the readers and the keys: the same means nothing new to hand on.
    pub fingerprint: [u8; 32],
}

/// The bundles by which this device hands every private-notes key it holds to the team's
/// supervisors and admins (but itself), and a fingerprint of what they carry (readers and
/// keys): when it matches the last one sent, nothing need be sent again. An owner hands its
/// own notes' key on this way; a supervisor or admin passes on its colleagues' to readers
/// enrolled or promoted after the owner last synced (or after the owner was revoked).
/// `None` when there is nothing to hand to anyone, or nothing new since the bundles whose
/// fingerprint is `last` (checked before anything is sealed: most syncs seal nothing).
pub fn private_notes_bundles(
    access: &TeamAccess,
    held: &TeamKeys,
    me: &Identity,
    now_ms: u64,
    last: Option<&[u8]>,
) -> Result<Option<PrivateNotesBundles>> {
    if access.membership.active(&me.device).is_none() || !access.role.is_some_and(|r| r.is_staff())
    {
        return Ok(None);
    }
    let keys: Vec<(DocumentId, &holdfast_protocol::PrivateNotesKey)> = held
        .notes_keys()
        .filter(|(d, _)| access.membership.private_notes_owner(d).is_some())
        .collect::<std::collections::BTreeMap<_, _>>()
        .into_iter()
        .collect();
    let readers: Vec<&holdfast_protocol::Member> = access
        .membership
        .private_notes_readers()
        .filter(|r| r.device != me.device)
        .collect();
    if keys.is_empty() || readers.is_empty() {
        return Ok(None);
    }
    let mut print = ring::digest::Context::new(&ring::digest::SHA256);
    print.update(b"holdfast-private-notes-shared-v1");
    let sorted: BTreeSet<DeviceId> = readers.iter().map(|r| r.device).collect();
    for r in &sorted {
        print.update(r.as_bytes());
    }
    for (doc, key) in &keys {
        print.update(doc.as_bytes());
        // The keys themselves: an owner's word that replaced another's is sent on again.
        print.update(key.as_bytes());
    }
    let fingerprint: [u8; 32] = print
        .finish()
        .as_ref()
        .try_into()
        .map_err(|_| Error::Crypto("SHA-256 is 32 bytes".into()))?;
    if last == Some(fingerprint.as_slice()) {
        return Ok(None);
    }
    let mut bundles = Vec::with_capacity(readers.len());
    for reader in readers {
        // Not a reader's own notes back to it: it made that key.
        let own = holdfast_protocol::private_notes_id(&access.team(), &reader.device);
        let wrapped: Vec<WrappedKey> = keys
            .iter()
            .filter(|(d, _)| *d != own)
            .map(|(d, k)| WrappedKey::PrivateNotes {
                document: *d,
                key: (*k).clone(),
            })
            .collect();
        if wrapped.is_empty() {
            continue;
        }
        bundles.push(seal_bundle(
            access.team(),
            reader.device.0,
            &reader.hpke_key,
            &wrapped,
            me,
            now_ms,
        )?);
    }
    Ok(Some(PrivateNotesBundles {
        bundles,
        fingerprint,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::team::found_team;
    use crate::access::team::tests::{Fixture, identity};
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

    /// A private-notes key counts on its owner's, a supervisor's or an admin's device, and
    /// only from its owner or a supervisor or admin; the owner's word replaces another's.
    /// The owner hands its key to the supervisors and admins, never to a link worker.
    #[test]
    fn private_notes_keys_go_to_their_readers_only_and_the_owners_word_stands() {
        let mut f = Fixture::new();
        let supervisor = f.join(Role::Supervisor, None);
        let owner = f.join(Role::LinkWorker, None);
        let other = f.join(Role::LinkWorker, None);
        let team = f.access.team();
        let notes = holdfast_protocol::private_notes_id(&team, &owner.device);
        let view = |role| {
            let mut a = f.access.clone();
            a.role = Some(role);
            a
        };
        let real = holdfast_protocol::PrivateNotesKey::from_bytes([1; 32]);
        let junk = holdfast_protocol::PrivateNotesKey::from_bytes([2; 32]);
        let to = |recipient: &Identity, key: &holdfast_protocol::PrivateNotesKey, by: &Identity| {
            let wrapped = [WrappedKey::PrivateNotes {
                document: notes,
                key: key.clone(),
            }];
            seal_bundle(
                team,
                recipient.device.0,
                recipient.hpke.public_key(),
                &wrapped,
                by,
                5,
            )
            .unwrap()
        };
        let held = TeamKeys::new(team);
        // A link worker's junk for a colleague's notes counts for nobody.
        let sup = view(Role::Supervisor);
        let taken = accept(
            &sup,
            &held,
            &supervisor,
            &[(1, to(&supervisor, &junk, &other))],
            1,
        );
        assert!(taken.added.is_empty() && taken.keys.notes_key(notes).is_none());
        // An admin's word counts until the owner's comes, which replaces it.
        let taken = accept(
            &sup,
            &held,
            &supervisor,
            &[(1, to(&supervisor, &junk, &f.admin))],
            1,
        );
        assert_eq!(taken.keys.notes_key(notes).unwrap().as_bytes(), &[2; 32]);
        let taken = accept(
            &sup,
            &taken.keys,
            &supervisor,
            &[(2, to(&supervisor, &real, &owner))],
            2,
        );
        assert_eq!(taken.added.len(), 1);
        assert!(taken.added[0].replaces && taken.added[0].epoch == NOTES_KEY_EPOCH);
        assert_eq!(taken.keys.notes_key(notes).unwrap().as_bytes(), &[1; 32]);
        // Another reader's word after the owner's changes nothing.
        let again = accept(
            &sup,
            &taken.keys,
            &supervisor,
            &[(3, to(&supervisor, &junk, &f.admin))],
            3,
        );
        assert!(again.added.is_empty());
        assert_eq!(again.keys.notes_key(notes).unwrap().as_bytes(), &[1; 32]);
        // A link worker takes no colleague's notes key, whoever sends it.
        let lw = view(Role::LinkWorker);
        let taken = accept(&lw, &held, &other, &[(1, to(&other, &real, &f.admin))], 1);
        assert!(taken.added.is_empty());

        // What the owner hands on: a bundle to the admin and one to the supervisor, none to
        // the other link worker; nothing when it holds no notes key.
        assert!(
            private_notes_bundles(&lw, &held, &owner, 9, None)
                .unwrap()
                .is_none()
        );
        let mut mine = held.clone();
        mine.insert_notes_key(notes, real.clone());
        let made = private_notes_bundles(&lw, &mine, &owner, 9, None)
            .unwrap()
            .unwrap();
        let (bundles, print) = (made.bundles, made.fingerprint);
        let recipients: BTreeSet<[u8; 16]> = bundles
            .iter()
            .map(|b| KeyBundle::decode(b).unwrap().header.recipient)
            .collect();
        assert_eq!(
            recipients,
            [f.admin.device.0, supervisor.device.0]
                .into_iter()
                .collect()
        );
        let same = private_notes_bundles(&lw, &mine, &owner, 10, Some(print.as_slice())).unwrap();
        assert!(same.is_none(), "nothing changed: nothing to send again");
        let mut promoted = lw.clone();
        let other_member = promoted.membership.devices.get_mut(&other.device).unwrap();
        other_member.role = Role::Supervisor;
        let made = private_notes_bundles(&promoted, &mine, &owner, 11, Some(print.as_slice()))
            .unwrap()
            .unwrap();
        let (bundles, changed) = (made.bundles, made.fingerprint);
        assert_ne!(print, changed, "a new reader");
        assert_eq!(bundles.len(), 3);
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
