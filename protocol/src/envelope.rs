//! Envelope format version 1: one encrypted, signed unit of sync (a batch of Automerge
//! changes, a snapshot or key material). See docs/PROTOCOL.md for the byte layout.

use std::fmt;

use ring::aead::{Aad, Nonce};
use ring::rand::SecureRandom;

use crate::error::{Error, Result};
use crate::ids::{DeviceId, DocumentId, EnvelopeId, TeamId};
use crate::keys::{DeviceSigningKey, DocumentKey, PUBLIC_KEY_LEN, SIGNATURE_LEN, verify_signature};
use crate::wire::Reader;

/// The first four bytes of every version-1 envelope; the trailing `1` is the format version.
pub const ENVELOPE_MAGIC: [u8; 4] = *b"HFE1";
/// Bytes before the ciphertext: magic to ciphertext length. They are the AES-GCM AAD.
pub const HEADER_LEN: usize = 81;
/// Length of the AES-GCM nonce.
pub const NONCE_LEN: usize = 12;
/// Length of the AES-GCM tag that ends every ciphertext.
pub const TAG_LEN: usize = 16;
/// Largest ciphertext (tag included): 4 MiB.
pub const MAX_CIPHERTEXT: usize = 4 * 1024 * 1024;
/// Largest plaintext one envelope can carry.
pub const MAX_PLAINTEXT: usize = MAX_CIPHERTEXT - TAG_LEN;
/// Bytes an envelope adds to its plaintext: header, tag and signature (161).
pub const ENVELOPE_OVERHEAD: usize = HEADER_LEN + TAG_LEN + SIGNATURE_LEN;
/// Smallest valid envelope (an empty plaintext).
pub const MIN_ENVELOPE: usize = ENVELOPE_OVERHEAD;
/// Largest valid envelope.
pub const MAX_ENVELOPE: usize = HEADER_LEN + MAX_CIPHERTEXT + SIGNATURE_LEN;

/// What an envelope carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Kind {
    /// A batch of Automerge changes.
    ChangeBatch = 1,
    /// A compacted document that includes every change up to team sequence `covers`.
    Snapshot = 2,
    /// Wrapped document keys for devices of the team.
    KeyMaterial = 3,
}

impl Kind {
    /// The wire byte.
    pub const fn as_byte(self) -> u8 {
        self as u8
    }

    /// The kind for a wire byte.
    pub fn from_byte(byte: u8) -> Result<Self> {
        match byte {
            1 => Ok(Kind::ChangeBatch),
            2 => Ok(Kind::Snapshot),
            3 => Ok(Kind::KeyMaterial),
            other => Err(Error::UnknownKind(other)),
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::ChangeBatch => "change batch",
            Kind::Snapshot => "snapshot",
            Kind::KeyMaterial => "key material",
        })
    }
}

/// The clear-text header of an envelope: everything the relay may see.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Header {
    /// What the envelope carries.
    pub kind: Kind,
    /// The team it is shared in.
    pub team: TeamId,
    /// The document it belongs to.
    pub document: DocumentId,
    /// Which document key encrypted it (keys rotate when a member leaves).
    pub epoch: u32,
    /// The device that wrote and signed it.
    pub author: DeviceId,
    /// For a snapshot, the last team sequence number it includes; 0 otherwise.
    pub covers: u64,
    /// The AES-GCM nonce: random per envelope, never reused with the same key.
    pub nonce: [u8; NONCE_LEN],
}

impl Header {
    /// A fresh random nonce. With 96-bit random nonces keep well under 2^32 envelopes per
    /// key; epochs rotate long before that.
    pub fn random_nonce(rng: &dyn SecureRandom) -> Result<[u8; NONCE_LEN]> {
        let mut nonce = [0u8; NONCE_LEN];
        rng.fill(&mut nonce).map_err(|_| Error::Random)?;
        Ok(nonce)
    }

    /// Rejects headers the format forbids: `covers` belongs to snapshots only.
    fn check(&self) -> Result<()> {
        if self.kind != Kind::Snapshot && self.covers != 0 {
            return Err(Error::CoversOnNonSnapshot {
                kind: self.kind,
                covers: self.covers,
            });
        }
        Ok(())
    }

    /// Appends the 81 header bytes for a ciphertext of `ciphertext_len` bytes.
    fn encode_into(&self, out: &mut Vec<u8>, ciphertext_len: u32) {
        out.extend_from_slice(&ENVELOPE_MAGIC);
        out.push(self.kind.as_byte());
        out.extend_from_slice(&self.team.0);
        out.extend_from_slice(&self.document.0);
        out.extend_from_slice(&self.epoch.to_be_bytes());
        out.extend_from_slice(&self.author.0);
        out.extend_from_slice(&self.covers.to_be_bytes());
        out.extend_from_slice(&self.nonce);
        out.extend_from_slice(&ciphertext_len.to_be_bytes());
    }
}

/// Encrypts `plaintext` under `key` with the header as AAD, then signs the whole envelope.
///
/// The header's nonce is used as is: pass a fresh one from [`Header::random_nonce`]. The
/// signer should be the key of `header.author`; the format cannot check that here, receivers
/// do when they verify with the author's public key.
pub fn seal(
    header: &Header,
    key: &DocumentKey,
    plaintext: &[u8],
    signer: &DeviceSigningKey,
) -> Result<Vec<u8>> {
    header.check()?;
    let too_long = Error::PlaintextTooLong {
        len: plaintext.len(),
        max: MAX_PLAINTEXT,
    };
    if plaintext.len() > MAX_PLAINTEXT {
        return Err(too_long);
    }
    // At most MAX_CIPHERTEXT after the check above, so it fits the u32 length field.
    let ciphertext_len = plaintext.len().saturating_add(TAG_LEN);
    let wire_len = u32::try_from(ciphertext_len).map_err(|_| too_long.clone())?;

    let mut out = Vec::with_capacity(ciphertext_len.saturating_add(HEADER_LEN + SIGNATURE_LEN));
    header.encode_into(&mut out, wire_len);
    out.extend_from_slice(plaintext);
    let (aad, body) = out
        .split_at_mut_checked(HEADER_LEN)
        .ok_or(Error::Truncated {
            what: "envelope",
            need: HEADER_LEN,
            have: 0,
        })?;
    let tag = key
        .aead()?
        .seal_in_place_separate_tag(
            Nonce::assume_unique_for_key(header.nonce),
            Aad::from(&*aad),
            body,
        )
        .map_err(|_| too_long)?;
    out.extend_from_slice(tag.as_ref());
    let signature = signer.sign(&out);
    out.extend_from_slice(&signature);
    Ok(out)
}

/// A strictly decoded envelope: the parsed header plus views into the original bytes.
///
/// Decoding checks structure only. [`verify`](Self::verify) checks the author's signature;
/// [`open`](Self::open) checks it and decrypts.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct EnvelopeRef<'a> {
    /// The header as decoded from the bytes (the bytes, not this copy, are what is verified).
    pub header: Header,
    bytes: &'a [u8],
    signed: &'a [u8],
    aad: &'a [u8],
    ciphertext: &'a [u8],
    signature: &'a [u8; SIGNATURE_LEN],
}

impl<'a> EnvelopeRef<'a> {
    /// Decodes exactly one envelope: `bytes` must hold it with nothing before or after.
    pub fn decode(bytes: &'a [u8]) -> Result<Self> {
        let mut r = Reader::new(bytes, "envelope");
        let magic = *r.array::<4>()?;
        if magic != ENVELOPE_MAGIC {
            return Err(Error::BadMagic {
                expected: "HFE1",
                found: magic,
            });
        }
        let kind = Kind::from_byte(r.u8()?)?;
        let team = TeamId(*r.array()?);
        let document = DocumentId(*r.array()?);
        let epoch = r.u32()?;
        let author = DeviceId(*r.array()?);
        let covers = r.u64()?;
        let nonce = *r.array()?;
        let header = Header {
            kind,
            team,
            document,
            epoch,
            author,
            covers,
            nonce,
        };
        header.check()?;

        let n = r.len_u32()?;
        if n < TAG_LEN {
            return Err(Error::CiphertextTooShort {
                len: n,
                min: TAG_LEN,
            });
        }
        if n > MAX_CIPHERTEXT {
            return Err(Error::CiphertextTooLong {
                len: n,
                max: MAX_CIPHERTEXT,
            });
        }
        let aad = r.consumed();
        let ciphertext = r.take(n)?;
        let signed = r.consumed();
        let signature = r.array::<SIGNATURE_LEN>()?;
        r.finish()?;
        Ok(EnvelopeRef {
            header,
            bytes,
            signed,
            aad,
            ciphertext,
            signature,
        })
    }

    /// The envelope id: SHA-256 of all its bytes (computed on each call).
    pub fn id(&self) -> EnvelopeId {
        EnvelopeId::of(self.bytes)
    }

    /// The ciphertext, AES-GCM tag included.
    pub fn ciphertext(&self) -> &'a [u8] {
        self.ciphertext
    }

    /// The bytes the signature covers: header and ciphertext.
    pub fn signed_bytes(&self) -> &'a [u8] {
        self.signed
    }

    /// The author's Ed25519 signature.
    pub fn signature(&self) -> &'a [u8; SIGNATURE_LEN] {
        self.signature
    }

    /// The whole encoded envelope.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// Checks the author's signature over header and ciphertext.
    pub fn verify(&self, author_public_key: &[u8; PUBLIC_KEY_LEN]) -> Result<()> {
        verify_signature(author_public_key, self.signed, self.signature)
    }

    /// Verifies the author's signature, then decrypts. Nothing is decrypted unless the
    /// signature holds, so a forged envelope never reaches Automerge.
    pub fn open(
        &self,
        author_public_key: &[u8; PUBLIC_KEY_LEN],
        key: &DocumentKey,
    ) -> Result<Vec<u8>> {
        self.verify(author_public_key)?;
        let mut buf = self.ciphertext.to_vec();
        let plaintext_len = key
            .aead()?
            .open_in_place(
                Nonce::assume_unique_for_key(self.header.nonce),
                Aad::from(self.aad),
                &mut buf,
            )
            .map_err(|_| Error::DecryptFailed)?
            .len();
        buf.truncate(plaintext_len);
        Ok(buf)
    }
}

impl fmt::Debug for EnvelopeRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EnvelopeRef")
            .field("header", &self.header)
            .field("len", &self.bytes.len())
            .finish_non_exhaustive()
    }
}
