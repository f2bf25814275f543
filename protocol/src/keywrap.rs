//! Key wrapping: a device's HPKE key pair, team epoch keys, the document keys derived from
//! them, and key bundles (keys sealed with HPKE to one recipient and signed by the sender).
//!
//! **Suite.** HPKE (RFC 9180) base mode with the X-Wing hybrid post-quantum KEM
//! (X25519 + ML-KEM-768, `hpke::kem::XWing`), HKDF-SHA256 and ChaCha20-Poly1305. X-Wing is
//! pure Rust and builds for every target Holdfast ships to (iOS, Android, servers). Its
//! private key is a 32-byte seed, so a device keeps 32 bytes in its platform key store.
//!
//! **Key hierarchy.** Each team has a random 32-byte key per key epoch ([`EpochKey`]).
//! The key of document `d` at epoch `e` is derived from it ([`derive_document_key`]).
//! Staff devices receive epoch keys; a patient device receives only the derived key of the
//! one plan it may read. A revocation starts a new epoch: one HPKE seal per remaining
//! device gives every document of the team a new key.
//!
//! **Bundle layout** (`"HFK1"`), big-endian:
//!
//! | bytes | field |
//! |---|---|
//! | 4 | magic `HFK1` |
//! | 16 | team |
//! | 16 | recipient (a device id, or an invite id) |
//! | 16 | sender device |
//! | 8 | `at_ms`, sender's clock |
//! | 2 | length of the HPKE encapsulated key (1,120 for X-Wing) |
//! | n | encapsulated key |
//! | 4 | ciphertext length |
//! | m | ciphertext (HPKE, aad = the 62 bytes before the encapsulated key) |
//! | 64 | Ed25519 signature by the sender over every byte before it |
//!
//! HPKE `info` = `"holdfast-key-bundle-v1" || team || recipient`. Plaintext: a count (u16)
//! then entries: tag 1 = team epoch key (`epoch u32 || key 32`), tag 2 = document key
//! (`document 16 || epoch u32 || key 32`), tag 3 = a private-notes key (`document 16 || key
//! 32`, see [`crate::private_notes`]).

use hpke::kem::XWing;
use hpke::{Deserializable, Kem as _, OpModeR, OpModeS, Serializable};
use ring::hkdf;
use ring::rand::SecureRandom;
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::ids::{DeviceId, DocumentId, TeamId};
use crate::keys::{DeviceSigningKey, DocumentKey, PUBLIC_KEY_LEN, SIGNATURE_LEN, verify_signature};
use crate::private_notes::PrivateNotesKey;
use crate::wire::{Reader, to_array};

type Aead = hpke::aead::ChaCha20Poly1305;
type Kdf = hpke::kdf::HkdfSha256;

/// Magic of a key bundle, version 1.
pub const BUNDLE_MAGIC: [u8; 4] = *b"HFK1";
/// Length of an X-Wing public (encapsulation) key.
pub const HPKE_PUBLIC_KEY_LEN: usize = 1216;
/// Length of an X-Wing encapsulated key.
pub const HPKE_ENC_LEN: usize = 1120;
/// Largest key bundle accepted (a few thousand keys).
pub const MAX_BUNDLE: usize = 256 * 1024;
/// Domain separation for document-key derivation.
const DOC_KEY_INFO: &[u8] = b"holdfast-doc-key-v2";
/// HPKE info prefix of a key bundle.
const BUNDLE_INFO: &[u8] = b"holdfast-key-bundle-v1";

/// A device's (or an invite's) HPKE public key: 1,216 bytes of X-Wing encapsulation key.
/// Shared, not copied, when cloned: a team's membership holds one per device and invite,
/// and is cloned whole for every entry the relay checks.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct HpkePublicKey(std::sync::Arc<[u8]>);

impl HpkePublicKey {
    /// The key from its encoding, checked to be a valid X-Wing key.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        <XWing as hpke::Kem>::PublicKey::from_bytes(bytes).map_err(|_| Error::Invalid {
            what: "HPKE public key",
            reason: "not an X-Wing encapsulation key",
        })?;
        Ok(HpkePublicKey(bytes.into()))
    }

    /// A key this crate decoded and checked before (from a device's own kept fold of its
    /// membership, [`crate::Membership::from_snapshot`]): not checked again. Checking an
    /// X-Wing key costs ~5 µs, ten milliseconds at every open of a 1,000-device team; a key
    /// that is not valid after all is refused where it is used, since sealing to it parses
    /// it again.
    pub(crate) fn from_checked_bytes(bytes: &[u8]) -> Self {
        HpkePublicKey(bytes.into())
    }

    /// The encoded key.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    fn key(&self) -> Result<<XWing as hpke::Kem>::PublicKey> {
        <XWing as hpke::Kem>::PublicKey::from_bytes(&self.0).map_err(|_| Error::Invalid {
            what: "HPKE public key",
            reason: "not an X-Wing encapsulation key",
        })
    }
}

impl std::fmt::Debug for HpkePublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let fingerprint = ring::digest::digest(&ring::digest::SHA256, &self.0);
        let short = fingerprint.as_ref().get(..8).unwrap_or_default();
        write!(f, "HpkePublicKey(sha256:{})", hex::encode(short))
    }
}

/// A device's (or an invite's) HPKE key pair. The 32-byte seed is the secret to persist.
pub struct HpkeKeyPair {
    seed: Zeroizing<[u8; 32]>,
    private: <XWing as hpke::Kem>::PrivateKey,
    public: HpkePublicKey,
}

impl HpkeKeyPair {
    /// Length of the seed.
    pub const SEED_LEN: usize = 32;

    /// The key pair for a 32-byte seed (the X-Wing private key).
    pub fn from_seed(seed: [u8; 32]) -> Result<Self> {
        let seed = Zeroizing::new(seed);
        let private = <XWing as hpke::Kem>::PrivateKey::from_bytes(seed.as_slice())
            .map_err(|_| Error::KeyRejected)?;
        let public = HpkePublicKey(XWing::sk_to_pk(&private).to_bytes().to_vec().into());
        Ok(HpkeKeyPair {
            seed,
            private,
            public,
        })
    }

    /// A fresh random key pair.
    pub fn generate(rng: &dyn SecureRandom) -> Result<Self> {
        let mut seed = Zeroizing::new([0u8; 32]);
        rng.fill(seed.as_mut_slice()).map_err(|_| Error::Random)?;
        Self::from_seed(*seed)
    }

    /// The seed: secret, for the key store only.
    pub fn seed(&self) -> &[u8; 32] {
        &self.seed
    }

    /// The public key that others wrap keys to.
    pub fn public_key(&self) -> &HpkePublicKey {
        &self.public
    }
}

impl std::fmt::Debug for HpkeKeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HpkeKeyPair")
            .field("public", &self.public)
            .finish_non_exhaustive()
    }
}

/// A team's key for one key epoch: the root every document key of that epoch derives from.
#[derive(Clone)]
pub struct EpochKey(Zeroizing<[u8; 32]>);

impl EpochKey {
    /// The key from raw bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        EpochKey(Zeroizing::new(bytes))
    }

    /// A fresh random key.
    pub fn generate(rng: &dyn SecureRandom) -> Result<Self> {
        let mut bytes = Zeroizing::new([0u8; 32]);
        rng.fill(bytes.as_mut_slice()).map_err(|_| Error::Random)?;
        Ok(EpochKey(bytes))
    }

    /// The raw bytes: secret, for the device's encrypted store and for wrapping only.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl std::fmt::Debug for EpochKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EpochKey(..)")
    }
}

/// The longest a bundle carrying `keys` keys can be: header and HPKE encapsulation (1,186
/// bytes with X-Wing), ciphertext length and AEAD tag, the count, 53 bytes per key at most
/// (a document key), the signature. A relay that knows how many keys a bundle can need
/// (one per key epoch) refuses anything longer: junk dressed as keys.
pub const fn max_bundle_len(keys: usize) -> usize {
    // 62 header + 1,120 encapsulation + 4 length + 2 count + 16 tag + 64 signature.
    1268usize.saturating_add(keys.saturating_mul(53))
}

/// Domain separation of a key-bundle acknowledgement.
pub const KEYS_ACK_CONTEXT: &[u8; 20] = b"holdfast-keys-ack-v1";

/// What a device signs to say it holds its key bundles of `team` up to bundle sequence
/// number `up_to`: `KEYS_ACK_CONTEXT || team (16) || device (16) || up_to (u64 BE)`. The
/// relay then deletes the bundles left for the invite the device redeemed. Only the
/// device can sign it: a stolen bearer token cannot acknowledge, and so delete, keys the
/// device never received; a replayed acknowledgement says nothing new.
pub fn keys_ack_message(team: &TeamId, device: &DeviceId, up_to: u64) -> Vec<u8> {
    // Context, team, device, up_to.
    let mut out = Vec::with_capacity(60);
    out.extend_from_slice(KEYS_ACK_CONTEXT);
    out.extend_from_slice(team.as_bytes());
    out.extend_from_slice(device.as_bytes());
    out.extend_from_slice(&up_to.to_be_bytes());
    out
}

/// The key of `document` at `epoch` in `team`, derived from the team's epoch key:
/// HKDF-SHA256(salt = team id, ikm = epoch key, info = `"holdfast-doc-key-v2" || document ||
/// epoch` (u32 big-endian)), 32 bytes.
pub fn derive_document_key(
    team: &TeamId,
    epoch_key: &EpochKey,
    document: &DocumentId,
    epoch: u32,
) -> Result<DocumentKey> {
    let salt = hkdf::Salt::new(hkdf::HKDF_SHA256, team.as_bytes());
    let prk = salt.extract(epoch_key.as_bytes());
    let epoch = epoch.to_be_bytes();
    let info = [
        DOC_KEY_INFO,
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

/// One key carried by a bundle.
#[derive(Clone, Debug)]
pub enum WrappedKey {
    /// A team epoch key (for staff devices).
    Epoch {
        /// The epoch.
        epoch: u32,
        /// The key.
        key: EpochKey,
    },
    /// One document's key at one epoch (for a patient device).
    Document {
        /// The document.
        document: DocumentId,
        /// The epoch.
        epoch: u32,
        /// The key.
        key: DocumentKey,
    },
    /// The key of one staff member's private notes (for its supervisors and admins): with
    /// each epoch key it gives the notes' key at that epoch.
    PrivateNotes {
        /// The private-notes document ([`crate::private_notes_id`]).
        document: DocumentId,
        /// Its key.
        key: PrivateNotesKey,
    },
}

/// The clear part of a key bundle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BundleHeader {
    /// The team.
    pub team: TeamId,
    /// The recipient: a device id, or an invite id (16 bytes either way).
    pub recipient: [u8; 16],
    /// The device that wrapped the keys and signed the bundle.
    pub sender: DeviceId,
    /// When, by the sender's clock.
    pub at_ms: u64,
}

/// A decoded (not yet opened) key bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyBundle {
    /// The clear header.
    pub header: BundleHeader,
    bytes: Vec<u8>,
    enc_range: (usize, usize),
    ct_range: (usize, usize),
    signed_len: usize,
}

fn info_for(team: &TeamId, recipient: &[u8; 16]) -> Vec<u8> {
    let mut info = Vec::with_capacity(BUNDLE_INFO.len().saturating_add(32));
    info.extend_from_slice(BUNDLE_INFO);
    info.extend_from_slice(team.as_bytes());
    info.extend_from_slice(recipient);
    info
}

fn encode_keys(keys: &[WrappedKey]) -> Result<Zeroizing<Vec<u8>>> {
    let count = u16::try_from(keys.len()).map_err(|_| Error::Invalid {
        what: "key bundle",
        reason: "more than 65,535 keys",
    })?;
    let mut out = Zeroizing::new(Vec::with_capacity(
        keys.len().saturating_mul(53).saturating_add(2),
    ));
    out.extend_from_slice(&count.to_be_bytes());
    for key in keys {
        match key {
            WrappedKey::Epoch { epoch, key } => {
                out.push(1);
                out.extend_from_slice(&epoch.to_be_bytes());
                out.extend_from_slice(key.as_bytes());
            }
            WrappedKey::Document {
                document,
                epoch,
                key,
            } => {
                out.push(2);
                out.extend_from_slice(document.as_bytes());
                out.extend_from_slice(&epoch.to_be_bytes());
                out.extend_from_slice(key.as_bytes());
            }
            WrappedKey::PrivateNotes { document, key } => {
                out.push(3);
                out.extend_from_slice(document.as_bytes());
                out.extend_from_slice(key.as_bytes());
            }
        }
    }
    Ok(out)
}

fn decode_keys(plaintext: &[u8]) -> Result<Vec<WrappedKey>> {
    let mut r = Reader::new(plaintext, "key bundle contents");
    let count = r.u16()?;
    let mut keys = Vec::with_capacity(usize::from(count));
    for _ in 0..count {
        match r.u8()? {
            1 => {
                let epoch = r.u32()?;
                let key = EpochKey::from_bytes(*r.array::<32>()?);
                keys.push(WrappedKey::Epoch { epoch, key });
            }
            2 => {
                let document = DocumentId(*r.array::<16>()?);
                let epoch = r.u32()?;
                let key = DocumentKey::from_bytes(*r.array::<32>()?);
                keys.push(WrappedKey::Document {
                    document,
                    epoch,
                    key,
                });
            }
            3 => {
                let document = DocumentId(*r.array::<16>()?);
                let key = PrivateNotesKey::from_bytes(*r.array::<32>()?);
                keys.push(WrappedKey::PrivateNotes { document, key });
            }
            _ => {
                return Err(Error::Invalid {
                    what: "key bundle entry",
                    reason: "unknown tag",
                });
            }
        }
    }
    r.finish()?;
    Ok(keys)
}

impl KeyBundle {
    /// Wraps `keys` to `recipient_key` (the HPKE key of device or invite `recipient`) and
    /// signs the bundle with the sender's key.
    pub fn seal(
        header: BundleHeader,
        recipient_key: &HpkePublicKey,
        keys: &[WrappedKey],
        signer: &DeviceSigningKey,
    ) -> Result<Vec<u8>> {
        let plaintext = encode_keys(keys)?;
        let pk = recipient_key.key()?;
        let info = info_for(&header.team, &header.recipient);
        // The encapsulated key's length is fixed by the KEM; write the prefix before sealing so
        // the aad is every byte before the ciphertext.
        let enc_len = <XWing as hpke::Kem>::EncappedKey::size();
        let mut out = Vec::with_capacity(
            62usize
                .saturating_add(enc_len)
                .saturating_add(plaintext.len())
                .saturating_add(96),
        );
        out.extend_from_slice(&BUNDLE_MAGIC);
        out.extend_from_slice(header.team.as_bytes());
        out.extend_from_slice(&header.recipient);
        out.extend_from_slice(header.sender.as_bytes());
        out.extend_from_slice(&header.at_ms.to_be_bytes());
        let enc_len16 = u16::try_from(enc_len).map_err(|_| Error::KeyRejected)?;
        out.extend_from_slice(&enc_len16.to_be_bytes());
        // HPKE's aad cannot include the encapsulated key before it exists: bind the header
        // (magic..enc length) as aad; the signature covers the encapsulated key too.
        let aad = out.clone();
        let (enc, ciphertext) = hpke::single_shot_seal::<Aead, Kdf, XWing>(
            &OpModeS::Base,
            &pk,
            &info,
            &plaintext,
            &aad,
        )
        .map_err(|_| Error::KeyBundleOpen)?;
        out.extend_from_slice(&enc.to_bytes());
        let ct_len = u32::try_from(ciphertext.len()).map_err(|_| Error::TooManyBytes {
            what: "key bundle",
            len: ciphertext.len(),
            max: MAX_BUNDLE,
        })?;
        out.extend_from_slice(&ct_len.to_be_bytes());
        out.extend_from_slice(&ciphertext);
        let signature = signer.sign(&out);
        out.extend_from_slice(&signature);
        if out.len() > MAX_BUNDLE {
            return Err(Error::TooManyBytes {
                what: "key bundle",
                len: out.len(),
                max: MAX_BUNDLE,
            });
        }
        Ok(out)
    }

    /// Decodes a bundle strictly (no signature check yet: see [`KeyBundle::verify`]).
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        if bytes.len() > MAX_BUNDLE {
            return Err(Error::TooManyBytes {
                what: "key bundle",
                len: bytes.len(),
                max: MAX_BUNDLE,
            });
        }
        let mut r = Reader::new(bytes, "key bundle");
        let magic = *r.array::<4>()?;
        if magic != BUNDLE_MAGIC {
            return Err(Error::BadMagic {
                expected: "HFK1",
                found: magic,
            });
        }
        let team = TeamId(*r.array::<16>()?);
        let recipient = *r.array::<16>()?;
        let sender = DeviceId(*r.array::<16>()?);
        let at_ms = r.u64()?;
        let enc_len = usize::from(r.u16()?);
        if enc_len != HPKE_ENC_LEN {
            return Err(Error::Invalid {
                what: "key bundle",
                reason: "encapsulated key is not 1,120 bytes (X-Wing)",
            });
        }
        let enc_start = r.consumed().len();
        r.take(enc_len)?;
        let ct_len = r.len_u32()?;
        let ct_start = r.consumed().len();
        r.take(ct_len)?;
        let signed_len = r.consumed().len();
        r.array::<SIGNATURE_LEN>()?;
        r.finish()?;
        Ok(KeyBundle {
            header: BundleHeader {
                team,
                recipient,
                sender,
                at_ms,
            },
            bytes: bytes.to_vec(),
            enc_range: (enc_start, enc_start.saturating_add(enc_len)),
            ct_range: (ct_start, ct_start.saturating_add(ct_len)),
            signed_len,
        })
    }

    /// The encoded bundle.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Checks the sender's signature.
    pub fn verify(&self, sender_key: &[u8; PUBLIC_KEY_LEN]) -> Result<()> {
        let signed = self.bytes.get(..self.signed_len).unwrap_or_default();
        let signature: [u8; SIGNATURE_LEN] =
            to_array(self.bytes.get(self.signed_len..).unwrap_or_default());
        verify_signature(sender_key, signed, &signature)
    }

    /// Checks the sender's signature and unwraps the keys with the recipient's key pair.
    pub fn open(
        &self,
        sender_key: &[u8; PUBLIC_KEY_LEN],
        recipient: &HpkeKeyPair,
    ) -> Result<Vec<WrappedKey>> {
        self.verify(sender_key)?;
        let slice = |(a, b): (usize, usize)| self.bytes.get(a..b).unwrap_or_default();
        let enc = <XWing as hpke::Kem>::EncappedKey::from_bytes(slice(self.enc_range))
            .map_err(|_| Error::KeyBundleOpen)?;
        let aad = self.bytes.get(..self.enc_range.0).unwrap_or_default();
        let info = info_for(&self.header.team, &self.header.recipient);
        let plaintext = Zeroizing::new(
            hpke::single_shot_open::<Aead, Kdf, XWing>(
                &OpModeR::Base,
                &recipient.private,
                &enc,
                &info,
                slice(self.ct_range),
                aad,
            )
            .map_err(|_| Error::KeyBundleOpen)?,
        );
        decode_keys(&plaintext)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use ring::rand::SystemRandom;

    fn header(recipient: [u8; 16]) -> BundleHeader {
        BundleHeader {
            team: TeamId([1; 16]),
            recipient,
            sender: DeviceId([2; 16]),
            at_ms: 5,
        }
    }

    #[test]
    fn a_bundle_of_n_keys_is_never_longer_than_max_bundle_len_of_n() {
        let rng = SystemRandom::new();
        let signer = DeviceSigningKey::generate(&rng).unwrap();
        let to = HpkeKeyPair::generate(&rng).unwrap();
        for n in [0usize, 1, 2, 7, 40] {
            let documents: Vec<WrappedKey> = (0..n)
                .map(|e| WrappedKey::Document {
                    document: DocumentId([4; 16]),
                    epoch: u32::try_from(e).unwrap(),
                    key: DocumentKey::from_bytes([8; 32]),
                })
                .collect();
            let bytes =
                KeyBundle::seal(header([7; 16]), to.public_key(), &documents, &signer).unwrap();
            assert_eq!(
                bytes.len(),
                max_bundle_len(n),
                "document keys are the longest"
            );
            let epochs: Vec<WrappedKey> = (0..n)
                .map(|e| WrappedKey::Epoch {
                    epoch: u32::try_from(e).unwrap(),
                    key: EpochKey::from_bytes([9; 32]),
                })
                .collect();
            let bytes =
                KeyBundle::seal(header([7; 16]), to.public_key(), &epochs, &signer).unwrap();
            assert!(bytes.len() <= max_bundle_len(n));
        }
    }

    #[test]
    fn a_bundle_opens_only_for_its_recipient_and_signer() {
        let rng = SystemRandom::new();
        let signer = DeviceSigningKey::generate(&rng).unwrap();
        let alice = HpkeKeyPair::generate(&rng).unwrap();
        let bob = HpkeKeyPair::generate(&rng).unwrap();
        let keys = vec![
            WrappedKey::Epoch {
                epoch: 3,
                key: EpochKey::from_bytes([9; 32]),
            },
            WrappedKey::Document {
                document: DocumentId([4; 16]),
                epoch: 3,
                key: DocumentKey::from_bytes([8; 32]),
            },
            WrappedKey::PrivateNotes {
                document: DocumentId([5; 16]),
                key: PrivateNotesKey::from_bytes([6; 32]),
            },
        ];
        let bytes = KeyBundle::seal(header([7; 16]), alice.public_key(), &keys, &signer).unwrap();
        assert!(bytes.len() <= max_bundle_len(keys.len()));
        let bundle = KeyBundle::decode(&bytes).unwrap();
        assert_eq!(bundle.header, header([7; 16]));
        let opened = bundle.open(&signer.public_key(), &alice).unwrap();
        assert!(
            matches!(&opened[0], WrappedKey::Epoch { epoch: 3, key } if key.as_bytes() == &[9; 32])
        );
        assert!(
            matches!(&opened[1], WrappedKey::Document { epoch: 3, key, .. } if key.as_bytes() == &[8; 32])
        );
        assert!(
            matches!(&opened[2], WrappedKey::PrivateNotes { document, key } if document.0 == [5; 16] && key.as_bytes() == &[6; 32])
        );
        assert_eq!(
            bundle.open(&signer.public_key(), &bob).unwrap_err(),
            Error::KeyBundleOpen
        );
        let other = DeviceSigningKey::generate(&rng).unwrap();
        assert_eq!(
            bundle.open(&other.public_key(), &alice).unwrap_err(),
            Error::BadSignature
        );
        // Any flipped byte is refused (signature, then HPKE).
        for i in [0, 20, 40, 70, 100, bytes.len() - 70, bytes.len() - 1] {
            let mut bad = bytes.clone();
            bad[i] ^= 1;
            let ok = KeyBundle::decode(&bad).and_then(|b| b.open(&signer.public_key(), &alice));
            assert!(ok.is_err(), "flip at {i}");
        }
        assert!(KeyBundle::decode(&bytes[..bytes.len() - 1]).is_err());
    }

    #[test]
    fn key_pairs_and_document_keys_are_deterministic() {
        let a = HpkeKeyPair::from_seed([5; 32]).unwrap();
        let b = HpkeKeyPair::from_seed([5; 32]).unwrap();
        assert_eq!(a.public_key(), b.public_key());
        assert_eq!(a.public_key().as_bytes().len(), HPKE_PUBLIC_KEY_LEN);
        HpkePublicKey::from_bytes(a.public_key().as_bytes()).unwrap();
        assert!(HpkePublicKey::from_bytes(&[0; 12]).is_err());
        let team = TeamId([1; 16]);
        let e = EpochKey::from_bytes([2; 32]);
        let k = |d: u8, ep| {
            *derive_document_key(&team, &e, &DocumentId([d; 16]), ep)
                .unwrap()
                .as_bytes()
        };
        assert_eq!(k(3, 1), k(3, 1));
        assert_ne!(k(3, 1), k(4, 1));
        assert_ne!(k(3, 1), k(3, 2));
    }
}
