//! Keys: the symmetric document key (AES-256-GCM) and a device's Ed25519 signing key.

use std::fmt;

use ring::aead::{AES_256_GCM, LessSafeKey, UnboundKey};
use ring::rand::SecureRandom;
use ring::signature::{ED25519, Ed25519KeyPair, KeyPair, UnparsedPublicKey};
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::wire::to_array;

/// Length of an Ed25519 public key.
pub const PUBLIC_KEY_LEN: usize = 32;
/// Length of an Ed25519 signature.
pub const SIGNATURE_LEN: usize = 64;

/// A 256-bit AES-GCM key for one document (or key-material stream) at one key epoch.
///
/// The bytes are wiped on drop. Debug output never shows them.
#[derive(Clone)]
pub struct DocumentKey(Zeroizing<[u8; 32]>);

impl DocumentKey {
    /// Length in bytes.
    pub const LEN: usize = 32;

    /// A key from its raw bytes (as unwrapped from the device key store or key material).
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        DocumentKey(Zeroizing::new(bytes))
    }

    /// A fresh random key.
    pub fn generate(rng: &dyn SecureRandom) -> Result<Self> {
        let mut bytes = Zeroizing::new([0u8; 32]);
        rng.fill(bytes.as_mut_slice()).map_err(|_| Error::Random)?;
        Ok(DocumentKey(bytes))
    }

    /// The raw key bytes: secret, for wrapping into key material or the key store only.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// ring's AEAD key. Built per call rather than cached because ring's key schedule is not
    /// wiped on drop, and building it is cheap next to a signature check.
    pub(crate) fn aead(&self) -> Result<LessSafeKey> {
        let unbound =
            UnboundKey::new(&AES_256_GCM, self.0.as_slice()).map_err(|_| Error::KeyRejected)?;
        Ok(LessSafeKey::new(unbound))
    }
}

impl fmt::Debug for DocumentKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DocumentKey(..)")
    }
}

/// A device's Ed25519 signing key. Its 32-byte seed is the secret to persist.
pub struct DeviceSigningKey {
    pair: Ed25519KeyPair,
    seed: Zeroizing<[u8; 32]>,
    public: [u8; PUBLIC_KEY_LEN],
}

impl DeviceSigningKey {
    /// The key for a 32-byte seed (RFC 8032 private key).
    pub fn from_seed(seed: [u8; 32]) -> Result<Self> {
        let seed = Zeroizing::new(seed);
        // "Unchecked" only means ring has no public key to compare against; any seed is valid.
        let pair =
            Ed25519KeyPair::from_seed_unchecked(seed.as_slice()).map_err(|_| Error::KeyRejected)?;
        let public = to_array(pair.public_key().as_ref());
        Ok(DeviceSigningKey { pair, seed, public })
    }

    /// A fresh random key.
    pub fn generate(rng: &dyn SecureRandom) -> Result<Self> {
        let mut seed = Zeroizing::new([0u8; 32]);
        rng.fill(seed.as_mut_slice()).map_err(|_| Error::Random)?;
        Self::from_seed(*seed)
    }

    /// The seed: secret, for the device key store only.
    pub fn seed(&self) -> &[u8; 32] {
        &self.seed
    }

    /// The public key that others verify this device's signatures with.
    pub fn public_key(&self) -> [u8; PUBLIC_KEY_LEN] {
        self.public
    }

    /// Signs `message` (Ed25519 is deterministic: same key and message, same signature).
    pub fn sign(&self, message: &[u8]) -> [u8; SIGNATURE_LEN] {
        to_array(self.pair.sign(message).as_ref())
    }
}

impl fmt::Debug for DeviceSigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeviceSigningKey")
            .field("public_key", &hex::encode(self.public))
            .finish_non_exhaustive()
    }
}

/// Checks an Ed25519 signature (ring rejects non-canonical signatures, so they are not malleable).
pub fn verify_signature(
    public_key: &[u8; PUBLIC_KEY_LEN],
    message: &[u8],
    signature: &[u8; SIGNATURE_LEN],
) -> Result<()> {
    UnparsedPublicKey::new(&ED25519, public_key)
        .verify(message, signature)
        .map_err(|_| Error::BadSignature)
}
