//! The device's identity key and the document keys.
//!
//! **Device key.** Each store has an Ed25519 signing key
//! ([`holdfast_protocol::DeviceSigningKey`]). Its 32-byte seed lives in the host's
//! [`KeyStore`] under [`DEVICE_KEY_NAME`], never in the database; `Store::create` makes it.
//! The store's device id is the protocol device id (same 16 bytes), and the relay knows the
//! device by its public key.
//!
//! **Document keys, for now.** In this issue every document key is *derived* from a team
//! secret: 32 random bytes, kept in the key store under `team-<team id hex>` and handed to
//! a joining device at enrolment. The key of document `d` at epoch `e` is
//! HKDF-SHA256(salt = team id, secret, info = `b"holdfast-doc-key-v1" || d || e (u32 BE)`).
//! Plainly: every device holding the team secret can read every document of the team, and
//! a device removed from the team keeps that ability for anything written under the same
//! secret. The next issue replaces this with a random key per document and epoch, wrapped
//! to each reader device's HPKE public key; [`DocumentKeys::key_for`] is the one place
//! that decides a document's key, so that change stays local.

use holdfast_protocol::{DeviceSigningKey, DocumentKey, SystemRandom};
use ring::hkdf;
use zeroize::Zeroizing;

use crate::keystore::KeyStore;
use crate::model::ids::{DocId, TeamId, random_bytes};
use crate::{Error, Result};

/// The key store entry holding the device's Ed25519 seed.
pub const DEVICE_KEY_NAME: &str = "holdfast-device-signing";

/// The key epoch every envelope is sealed under until key rotation arrives (next issue).
pub const CURRENT_EPOCH: u32 = 1;

/// Domain separation for document-key derivation.
const DOC_KEY_INFO: &[u8] = b"holdfast-doc-key-v1";

/// A team's shared secret, from which (in this issue) every document key is derived.
///
/// Wiped on drop; `Debug` shows only the team.
#[derive(Clone)]
pub struct TeamSecret {
    team: TeamId,
    secret: Zeroizing<[u8; 32]>,
}

impl TeamSecret {
    /// Length of the secret in bytes.
    pub const LEN: usize = 32;

    /// A fresh random secret for `team`.
    pub fn generate(team: TeamId) -> Self {
        TeamSecret {
            team,
            secret: Zeroizing::new(random_bytes::<32>()),
        }
    }

    /// The secret of `team` from its raw bytes (as handed over at enrolment).
    pub fn from_bytes(team: TeamId, bytes: &[u8]) -> Result<Self> {
        let secret = <[u8; 32]>::try_from(bytes).map_err(|_| Error::InvalidInput {
            field: "team secret",
            reason: format!("expected {} bytes", Self::LEN),
        })?;
        Ok(TeamSecret {
            team,
            secret: Zeroizing::new(secret),
        })
    }

    /// The team this secret belongs to.
    pub fn team(&self) -> TeamId {
        self.team
    }

    /// The raw secret: for the key store and for handing to an enrolling device only.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.secret
    }

    /// The key store entry that holds the secret of `team`.
    pub fn key_store_name(team: TeamId) -> String {
        format!("team-{team}")
    }

    /// Reads the secret of `team` from the key store, if it is there.
    pub(crate) fn load(keys: &dyn KeyStore, team: TeamId) -> Result<Option<Self>> {
        keys.get(&Self::key_store_name(team))?
            .map(|bytes| Self::from_bytes(team, &bytes))
            .transpose()
    }

    /// Writes the secret to the key store.
    pub(crate) fn save(&self, keys: &dyn KeyStore) -> Result<()> {
        keys.put(&Self::key_store_name(self.team), self.secret.as_slice())?;
        Ok(())
    }
}

impl std::fmt::Debug for TeamSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TeamSecret")
            .field("team", &self.team)
            .finish_non_exhaustive()
    }
}

/// Decides the key of a document at a key epoch.
#[derive(Debug)]
pub enum DocumentKeys {}

impl DocumentKeys {
    /// The key of `doc` at `epoch` in the team whose secret is `team`.
    ///
    /// Derived with HKDF-SHA256 for now (see the module docs); the next issue looks up a
    /// per-document random key unwrapped with the device's HPKE key instead.
    pub fn key_for(team: &TeamSecret, doc: DocId, epoch: u32) -> Result<DocumentKey> {
        let salt = hkdf::Salt::new(hkdf::HKDF_SHA256, team.team.as_bytes());
        let prk = salt.extract(team.secret.as_slice());
        let epoch = epoch.to_be_bytes();
        let info = [DOC_KEY_INFO, doc.as_bytes().as_slice(), epoch.as_slice()];
        let okm = prk
            .expand(&info, hkdf::HKDF_SHA256)
            .map_err(|_| Error::Crypto("document key derivation failed".into()))?;
        let mut key = Zeroizing::new([0u8; 32]);
        okm.fill(key.as_mut_slice())
            .map_err(|_| Error::Crypto("document key derivation failed".into()))?;
        Ok(DocumentKey::from_bytes(*key))
    }
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
    fn document_keys_differ_by_document_epoch_and_secret_and_are_stable() {
        let team = TeamId::random();
        let secret = TeamSecret::generate(team);
        let (a, b) = (DocId::random(), DocId::random());
        let k = |s: &TeamSecret, d, e| *DocumentKeys::key_for(s, d, e).unwrap().as_bytes();
        assert_eq!(k(&secret, a, 1), k(&secret, a, 1));
        assert_ne!(k(&secret, a, 1), k(&secret, b, 1));
        assert_ne!(k(&secret, a, 1), k(&secret, a, 2));
        let again = TeamSecret::from_bytes(team, secret.as_bytes()).unwrap();
        assert_eq!(k(&again, a, 1), k(&secret, a, 1));
        assert_ne!(k(&TeamSecret::generate(team), a, 1), k(&secret, a, 1));
    }

    #[test]
    fn document_key_derivation_matches_a_fixed_vector() {
        // HKDF-SHA256(salt = 16 x 0x11, ikm = 32 x 0x22,
        //             info = "holdfast-doc-key-v1" || 16 x 0x33 || 00000001), 32 bytes.
        // Cross-checked with Python's hmac module (RFC 5869 by hand).
        let secret = TeamSecret::from_bytes(TeamId([0x11; 16]), &[0x22; 32]).unwrap();
        let key = DocumentKeys::key_for(&secret, DocId([0x33; 16]), 1).unwrap();
        assert_eq!(hex::encode(key.as_bytes()), EXPECTED_DOC_KEY);
    }

    const EXPECTED_DOC_KEY: &str =
        "c7ee2c051fd320526e27e452a4413e998f973af88733596d53094cccfd90d9cb";

    #[test]
    fn the_device_key_is_created_once_and_then_read_back() {
        let keys = MemoryKeyStore::default();
        assert!(matches!(
            device_signing_key(&keys, false),
            Err(Error::KeyMissing { .. })
        ));
        let first = device_signing_key(&keys, true).unwrap();
        let again = device_signing_key(&keys, false).unwrap();
        assert_eq!(first.public_key(), again.public_key());
        assert!(TeamSecret::from_bytes(TeamId::random(), &[0; 31]).is_err());
        let debug = format!("{:?}", TeamSecret::generate(TeamId([7; 16])));
        assert!(!debug.contains("secret:"), "{debug}");
    }
}
