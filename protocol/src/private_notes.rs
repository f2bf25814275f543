//! Private supervision notes: a staff member's own document (wellbeing, training needs,
//! reflection) that only its owner, the team's supervisors and its admins read.
//!
//! **Whose document.** Each staff device has at most one private-notes document per team,
//! and its id is derived, not chosen: [`private_notes_id`] = the first 16 bytes of
//! SHA-256(`"holdfast private notes v1"` ‖ team ‖ owner device). So the relay and every
//! device tell, from the membership roster alone, which document is whose
//! ([`Membership::private_notes_owner`](crate::Membership::private_notes_owner)), with no
//! membership entry of its own; and nobody can pass another document off as someone's notes
//! (or someone's notes as an ordinary document) without a SHA-256 preimage.
//!
//! **Its key.** Not the team's epoch key alone, which every staff device holds. The owner
//! makes a random 32-byte [`PrivateNotesKey`] for its document and wraps it, in key bundles
//! (tag 3, [`WrappedKey::PrivateNotes`](crate::WrappedKey::PrivateNotes)), to the team's
//! active supervisors and admins only. The key an envelope of the notes is sealed with at
//! epoch `e` needs both ([`derive_private_notes_key`]): HKDF-SHA256(salt = team, ikm =
//! epoch key of `e` ‖ notes key, info = `"holdfast-private-notes-key-v1"` ‖ document ‖ `e`).
//! A link worker holds the epoch key but not the notes key; a revoked reader holds the
//! notes key but never the epoch keys that start after its revocation, so a revocation
//! needs no new notes key: the new epoch key alone shuts it out.

use ring::hkdf;
use ring::rand::SecureRandom;
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::ids::{DeviceId, DocumentId, TeamId};
use crate::keys::DocumentKey;
use crate::keywrap::EpochKey;
use crate::wire::to_array;

/// Domain separation of a private-notes document id.
pub const PRIVATE_NOTES_ID_CONTEXT: &[u8] = b"holdfast private notes v1";
/// Domain separation of the key a private-notes envelope is sealed with.
const PRIVATE_NOTES_KEY_INFO: &[u8] = b"holdfast-private-notes-key-v1";

/// The private-notes document of device `owner` in `team`: the first 16 bytes of
/// SHA-256(`"holdfast private notes v1"` ‖ team ‖ owner).
pub fn private_notes_id(team: &TeamId, owner: &DeviceId) -> DocumentId {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    ctx.update(PRIVATE_NOTES_ID_CONTEXT);
    ctx.update(team.as_bytes());
    ctx.update(owner.as_bytes());
    DocumentId(to_array(ctx.finish().as_ref()))
}

/// The random key of one private-notes document, made by its owner and wrapped to its
/// readers. On its own it opens nothing: envelopes are sealed with
/// [`derive_private_notes_key`] of it and the team's epoch key.
#[derive(Clone)]
pub struct PrivateNotesKey(Zeroizing<[u8; 32]>);

impl PrivateNotesKey {
    /// The key from raw bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        PrivateNotesKey(Zeroizing::new(bytes))
    }

    /// A fresh random key.
    pub fn generate(rng: &dyn SecureRandom) -> Result<Self> {
        let mut bytes = Zeroizing::new([0u8; 32]);
        rng.fill(bytes.as_mut_slice()).map_err(|_| Error::Random)?;
        Ok(PrivateNotesKey(bytes))
    }

    /// The raw bytes: secret, for the device's encrypted store and for wrapping only.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl std::fmt::Debug for PrivateNotesKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PrivateNotesKey(..)")
    }
}

/// The key of private-notes document `document` at `epoch`: HKDF-SHA256(salt = team id,
/// ikm = epoch key ‖ notes key, info = `"holdfast-private-notes-key-v1"` ‖ document ‖ epoch
/// (u32 big-endian)), 32 bytes. Whoever lacks either key cannot derive it.
pub fn derive_private_notes_key(
    team: &TeamId,
    epoch_key: &EpochKey,
    notes_key: &PrivateNotesKey,
    document: &DocumentId,
    epoch: u32,
) -> Result<DocumentKey> {
    let salt = hkdf::Salt::new(hkdf::HKDF_SHA256, team.as_bytes());
    let mut ikm = Zeroizing::new(Vec::with_capacity(64));
    ikm.extend_from_slice(epoch_key.as_bytes());
    ikm.extend_from_slice(notes_key.as_bytes());
    let prk = salt.extract(ikm.as_slice());
    let epoch = epoch.to_be_bytes();
    let info = [
        PRIVATE_NOTES_KEY_INFO,
        document.as_bytes().as_slice(),
        epoch.as_slice(),
    ];
    let okm = prk
        .expand(&info, hkdf::HKDF_SHA256)
        .map_err(|_| Error::KeyRejected)?;
    let mut key = Zeroizing::new([0u8; 32]);
    okm.fill(key.as_mut_slice())
        .map_err(|_| Error::KeyRejected)?;
    Ok(DocumentKey::from_bytes(*key))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::keywrap::derive_document_key;

    #[test]
    fn the_id_is_the_owners_and_the_teams_and_nobody_elses() {
        let team = TeamId([1; 16]);
        let a = private_notes_id(&team, &DeviceId([2; 16]));
        assert_eq!(a, private_notes_id(&team, &DeviceId([2; 16])));
        assert_ne!(a, private_notes_id(&team, &DeviceId([3; 16])));
        assert_ne!(a, private_notes_id(&TeamId([4; 16]), &DeviceId([2; 16])));
        // The vector in docs/PROTOCOL.md: SHA-256 of the context, [1; 16] and [2; 16].
        let mut m = PRIVATE_NOTES_ID_CONTEXT.to_vec();
        m.extend_from_slice(&[1; 16]);
        m.extend_from_slice(&[2; 16]);
        let digest = ring::digest::digest(&ring::digest::SHA256, &m);
        assert_eq!(a.as_bytes()[..], digest.as_ref()[..16]);
    }

    #[test]
    fn the_key_needs_both_the_epoch_key_and_the_notes_key() {
        let team = TeamId([1; 16]);
        let doc = private_notes_id(&team, &DeviceId([2; 16]));
        let (e1, e2) = (EpochKey::from_bytes([5; 32]), EpochKey::from_bytes([6; 32]));
        let (n1, n2) = (
            PrivateNotesKey::from_bytes([7; 32]),
            PrivateNotesKey::from_bytes([8; 32]),
        );
        let k = |e: &EpochKey, n: &PrivateNotesKey, epoch| {
            *derive_private_notes_key(&team, e, n, &doc, epoch)
                .unwrap()
                .as_bytes()
        };
        assert_eq!(k(&e1, &n1, 1), k(&e1, &n1, 1));
        assert_ne!(k(&e1, &n1, 1), k(&e2, &n1, 1), "a new epoch key, a new key");
        assert_ne!(k(&e1, &n1, 1), k(&e1, &n2, 1), "another notes key");
        assert_ne!(k(&e1, &n1, 1), k(&e1, &n1, 2));
        // Never the key a link worker derives from the epoch key alone.
        let plain = derive_document_key(&team, &e1, &doc, 1).unwrap();
        assert_ne!(k(&e1, &n1, 1), *plain.as_bytes());
        assert!(!format!("{n1:?}").contains('7'));
    }
}
