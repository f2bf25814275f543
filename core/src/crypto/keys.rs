//! The device's keys and the document keys it holds.
//!
//! **Device keys.** Each store has an Ed25519 signing key ([`DeviceSigningKey`]) and an HPKE
//! key pair ([`HpkeKeyPair`], X-Wing). Their 32-byte seeds live in the host's [`KeyStore`]
//! under [`DEVICE_KEY_NAME`] and [`DEVICE_HPKE_KEY_NAME`], never in the database.
//!
//! **Document keys.** Each team has a random key per key epoch ([`EpochKey`]); the key of a
//! document at an epoch is derived from it ([`holdfast_protocol::derive_document_key`]).
//! Staff devices receive epoch keys, a patient device only the derived keys of its plan,
//! all in key bundles wrapped to the device's HPKE key. [`TeamKeys`] is what one device
//! holds for one team; the store keeps it in its (SQLCipher-encrypted) database and
//! [`TeamKeys::key_for`] is the one place that decides a document's key.
//!
//! **Private notes.** A staff member's private-notes document is never sealed or opened with
//! a key derived from the epoch key alone (every staff device could derive that): its key at
//! an epoch needs the epoch key and the document's own [`PrivateNotesKey`], which only its
//! owner, the team's supervisors and admins hold
//! ([`holdfast_protocol::derive_private_notes_key`]). `TeamKeys` knows every private-notes
//! document of the team (from the roster), so [`TeamKeys::key_for`] refuses one whose
//! notes key this device does not hold rather than fall back on the epoch key.

use std::collections::{BTreeMap, HashMap, HashSet};

use holdfast_protocol::{
    DeviceSigningKey, DocumentKey, EpochKey, HpkeKeyPair, PrivateNotesKey, SystemRandom,
};

use crate::keystore::KeyStore;
use crate::model::ids::{DocumentId, TeamId};
use crate::{Error, Result};

/// The key store entry holding the device's Ed25519 seed.
pub const DEVICE_KEY_NAME: &str = "holdfast-device-signing";
/// The key store entry holding the device's HPKE (X-Wing) seed.
pub const DEVICE_HPKE_KEY_NAME: &str = "holdfast-device-hpke";

/// The key store entry holding the HPKE seed of the invite a device redeemed for `team`
/// (it opens the key bundle the inviter left for the invite).
pub(crate) fn invite_key_name(team: TeamId) -> String {
    format!("holdfast-invite-hpke-{team}")
}

/// In the store's `team_keys` table, a private-notes key is its document's row at this
/// epoch: team epochs start at 1, so it is never a document key of an epoch.
pub(crate) const NOTES_KEY_EPOCH: u32 = 0;

/// The keys one device holds for one team.
#[derive(Clone, Default)]
pub struct TeamKeys {
    team: Option<TeamId>,
    epochs: BTreeMap<u32, EpochKey>,
    docs: HashMap<(DocumentId, u32), DocumentKey>,
    /// Every private-notes document of the team, from the verified roster.
    private_notes: HashSet<DocumentId>,
    /// The private-notes keys this device holds: its own, and as a supervisor or admin its
    /// colleagues'.
    notes_keys: HashMap<DocumentId, PrivateNotesKey>,
}

impl std::fmt::Debug for TeamKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TeamKeys")
            .field("team", &self.team)
            .field("epochs", &self.epochs.keys().collect::<Vec<_>>())
            .field("document_keys", &self.docs.len())
            .field("private_notes_keys", &self.notes_keys.len())
            .finish()
    }
}

impl TeamKeys {
    /// No keys yet for `team`.
    pub fn new(team: TeamId) -> Self {
        TeamKeys {
            team: Some(team),
            ..TeamKeys::default()
        }
    }

    fn team(&self) -> Result<TeamId> {
        self.team.ok_or(Error::KeyMissing { what: "team keys" })
    }

    /// Adds the team's key of `epoch`.
    pub fn insert_epoch(&mut self, epoch: u32, key: EpochKey) {
        self.epochs.insert(epoch, key);
    }

    /// Adds the key of one document at one epoch.
    pub(crate) fn insert_document(&mut self, doc: DocumentId, epoch: u32, key: DocumentKey) {
        self.docs.insert((doc, epoch), key);
    }

    /// The team's epoch keys held.
    pub fn epochs(&self) -> impl Iterator<Item = (u32, &EpochKey)> {
        self.epochs.iter().map(|(e, k)| (*e, k))
    }

    /// Names the team's private-notes documents (from the verified roster): none of them is
    /// ever sealed or opened without its notes key.
    pub(crate) fn set_private_notes(&mut self, docs: impl IntoIterator<Item = DocumentId>) {
        self.private_notes = docs.into_iter().collect();
    }

    /// Whether `doc` is a staff member's private notes.
    pub fn is_private_notes(&self, doc: DocumentId) -> bool {
        self.private_notes.contains(&doc) || self.notes_keys.contains_key(&doc)
    }

    /// Adds (or, from the notes' owner, replaces) the key of private-notes document `doc`.
    pub(crate) fn insert_notes_key(&mut self, doc: DocumentId, key: PrivateNotesKey) {
        self.notes_keys.insert(doc, key);
    }

    /// The key of private-notes document `doc`, if this device holds it.
    pub fn notes_key(&self, doc: DocumentId) -> Option<&PrivateNotesKey> {
        self.notes_keys.get(&doc)
    }

    /// Every private-notes key this device holds, by document.
    pub fn notes_keys(&self) -> impl Iterator<Item = (DocumentId, &PrivateNotesKey)> {
        self.notes_keys.iter().map(|(d, k)| (*d, k))
    }

    /// The newest epoch, at most `cap`, for which a key of `doc` itself is held (a
    /// patient's plan).
    pub(crate) fn newest_epoch_for(&self, doc: DocumentId, cap: u32) -> Option<u32> {
        self.docs
            .keys()
            .filter(|(d, e)| *d == doc && *e <= cap)
            .map(|(_, e)| *e)
            .max()
    }

    /// Whether a key for `doc` at `epoch` is held (directly or through the epoch key; for
    /// private notes, the epoch key and the notes key).
    pub(crate) fn has(&self, doc: DocumentId, epoch: u32) -> bool {
        if self.is_private_notes(doc) {
            return self.notes_keys.contains_key(&doc) && self.epochs.contains_key(&epoch);
        }
        self.epochs.contains_key(&epoch) || self.docs.contains_key(&(doc, epoch))
    }

    /// Whether a key for `doc` at an epoch after `epoch` is held.
    pub(crate) fn has_later(&self, doc: DocumentId, epoch: u32) -> bool {
        let later_epoch = self
            .epochs
            .range(epoch.saturating_add(1)..)
            .next()
            .is_some();
        if self.is_private_notes(doc) {
            return later_epoch && self.notes_keys.contains_key(&doc);
        }
        later_epoch || self.docs.keys().any(|(d, e)| *d == doc && *e > epoch)
    }

    /// The key of `doc` at `epoch`: derived from the epoch key when this device holds it
    /// (staff), else the document key it was given (a patient's plan). For private notes,
    /// derived from the epoch key and the notes key, and refused without the latter: never
    /// the epoch key alone.
    pub fn key_for(&self, doc: DocumentId, epoch: u32) -> Result<DocumentKey> {
        if self.is_private_notes(doc) {
            let notes_key = self.notes_keys.get(&doc).ok_or_else(|| {
                Error::NotAllowed(format!(
                    "document {doc} is a staff member's private notes, and this device does \
                     not hold their key (only their owner, the team's supervisors and admins do)"
                ))
            })?;
            let epoch_key = self.epochs.get(&epoch).ok_or_else(|| {
                Error::TryAgain(format!(
                    "the key of epoch {epoch} has not reached this device yet"
                ))
            })?;
            return Ok(holdfast_protocol::derive_private_notes_key(
                &self.team()?,
                epoch_key,
                notes_key,
                &doc,
                epoch,
            )?);
        }
        if let Some(epoch_key) = self.epochs.get(&epoch) {
            return Ok(holdfast_protocol::derive_document_key(
                &self.team()?,
                epoch_key,
                &doc,
                epoch,
            )?);
        }
        self.docs
            .get(&(doc, epoch))
            .cloned()
            // After a revocation the new epoch's key arrives with a later sync.
            .ok_or_else(|| {
                Error::TryAgain(format!(
                    "the key of epoch {epoch} has not reached this device yet"
                ))
            })
    }
}

/// The device's HPKE key pair from the key store; a fresh one (stored at once) when there
/// is none and `create` allows it.
pub(crate) fn device_hpke_key(keys: &dyn KeyStore, create: bool) -> Result<HpkeKeyPair> {
    if let Some(seed) = keys.get(DEVICE_HPKE_KEY_NAME)? {
        let seed = <[u8; 32]>::try_from(seed.as_slice())
            .map_err(|_| Error::Crypto("the stored HPKE key has the wrong length".into()))?;
        return Ok(HpkeKeyPair::from_seed(seed)?);
    }
    if !create {
        return Err(Error::KeyMissing {
            what: "device HPKE key",
        });
    }
    let key = HpkeKeyPair::generate(&SystemRandom::new())?;
    keys.put(DEVICE_HPKE_KEY_NAME, key.seed())?;
    Ok(key)
}

/// The device's signing key from the key store; a fresh one (stored at once) when there is
/// none and `create` allows it.
pub(crate) fn device_signing_key(keys: &dyn KeyStore, create: bool) -> Result<DeviceSigningKey> {
    if let Some(seed) = keys.get(DEVICE_KEY_NAME)? {
        let seed = <[u8; 32]>::try_from(seed.as_slice())
            .map_err(|_| Error::Crypto("the stored device key has the wrong length".into()))?;
        return Ok(DeviceSigningKey::from_seed(seed)?);
    }
    if !create {
        return Err(Error::KeyMissing {
            what: "device signing key",
        });
    }
    let key = DeviceSigningKey::generate(&SystemRandom::new())?;
    keys.put(DEVICE_KEY_NAME, key.seed())?;
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keystore::MemoryKeyStore;

    #[test]
    fn staff_derive_every_document_key_and_patients_hold_only_theirs() {
        let team = TeamId::random();
        let (a, b) = (DocumentId::random(), DocumentId::random());
        let mut staff = TeamKeys::new(team);
        staff.insert_epoch(1, EpochKey::from_bytes([7; 32]));
        let ka = staff.key_for(a, 1).unwrap();
        assert_ne!(ka.as_bytes(), staff.key_for(b, 1).unwrap().as_bytes());
        assert!(staff.key_for(a, 2).is_err());
        let mut patient = TeamKeys::new(team);
        patient.insert_document(a, 1, ka.clone());
        assert_eq!(patient.key_for(a, 1).unwrap().as_bytes(), ka.as_bytes());
        assert!(patient.key_for(b, 1).is_err());
        assert!(patient.has(a, 1) && !patient.has(b, 1));
        assert!(!format!("{staff:?}").contains("7, 7"));
    }

    #[test]
    fn private_notes_are_never_sealed_with_the_epoch_key_alone() {
        let team = TeamId::random();
        let (notes, other) = (DocumentId::random(), DocumentId::random());
        let mut worker = TeamKeys::new(team);
        worker.insert_epoch(1, EpochKey::from_bytes([7; 32]));
        let plain = worker.key_for(notes, 1).unwrap();
        worker.set_private_notes([notes]);
        assert!(worker.is_private_notes(notes) && !worker.is_private_notes(other));
        assert!(
            matches!(worker.key_for(notes, 1), Err(Error::NotAllowed(_))),
            "another's notes: no key, not the epoch key's"
        );
        assert!(!worker.has(notes, 1) && worker.has(other, 1));
        let mut reader = worker.clone();
        reader.insert_notes_key(notes, PrivateNotesKey::from_bytes([9; 32]));
        let k = reader.key_for(notes, 1).unwrap();
        assert_ne!(k.as_bytes(), plain.as_bytes());
        assert!(reader.has(notes, 1) && !reader.has(notes, 2));
        assert!(matches!(reader.key_for(notes, 2), Err(Error::TryAgain(_))));
        assert_eq!(reader.notes_keys().count(), 1);
        assert!(!format!("{reader:?}").contains("9, 9"));
    }

    #[test]
    fn device_keys_are_created_once_and_then_read_back() {
        let keys = MemoryKeyStore::default();
        assert!(matches!(
            device_signing_key(&keys, false),
            Err(Error::KeyMissing { .. })
        ));
        let first = device_signing_key(&keys, true).unwrap();
        let again = device_signing_key(&keys, false).unwrap();
        assert_eq!(first.public_key(), again.public_key());
        assert!(device_hpke_key(&keys, false).is_err());
        let h = device_hpke_key(&keys, true).unwrap();
        assert_eq!(
            h.public_key(),
            device_hpke_key(&keys, false).unwrap().public_key()
        );
    }
}
