//! The crate's one error type. Messages name the field, the offset-free reason and the sizes
//! involved, never plaintext or key material: an error may end up in a relay log.

use crate::envelope::Kind;
use crate::ids::{DeviceId, TeamId};

/// Everything that can go wrong when encoding, decoding, verifying or opening.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The bytes do not start with the expected magic (wrong structure or unknown version).
    #[error("bad magic: expected {expected:?}, found \"{}\"", .found.escape_ascii())]
    BadMagic {
        /// The magic this structure starts with.
        expected: &'static str,
        /// The first four bytes found.
        found: [u8; 4],
    },
    /// The envelope kind byte is not 1, 2 or 3.
    #[error("unknown envelope kind {0}")]
    UnknownKind(u8),
    /// The input ends before a field does.
    #[error("{what} truncated: need {need} more bytes, have {have}")]
    Truncated {
        /// Which structure was being read.
        what: &'static str,
        /// Bytes the next field needs.
        need: usize,
        /// Bytes left.
        have: usize,
    },
    /// The input goes on after the structure ends.
    #[error("{what} has {extra} trailing bytes")]
    TrailingBytes {
        /// Which structure.
        what: &'static str,
        /// How many bytes follow its end.
        extra: usize,
    },
    /// The ciphertext is shorter than the AES-GCM tag.
    #[error("ciphertext of {len} bytes is shorter than the {min}-byte minimum")]
    CiphertextTooShort {
        /// Declared length.
        len: usize,
        /// Minimum (the tag length).
        min: usize,
    },
    /// The ciphertext is longer than `MAX_CIPHERTEXT`.
    #[error("ciphertext of {len} bytes exceeds the {max}-byte maximum")]
    CiphertextTooLong {
        /// Declared length.
        len: usize,
        /// Maximum.
        max: usize,
    },
    /// The plaintext handed to `seal` would not fit in one envelope.
    #[error("plaintext of {len} bytes exceeds the {max}-byte maximum")]
    PlaintextTooLong {
        /// Its length.
        len: usize,
        /// Maximum.
        max: usize,
    },
    /// `covers` is set on an envelope that is not a snapshot.
    #[error("covers must be 0 for a {kind} envelope, found {covers}")]
    CoversOnNonSnapshot {
        /// The envelope's kind.
        kind: Kind,
        /// The value found.
        covers: u64,
    },
    /// An Ed25519 signature does not verify against the given public key.
    #[error("signature does not verify")]
    BadSignature,
    /// AES-GCM authentication failed: wrong key, or the ciphertext or header was altered.
    #[error("decryption failed: wrong key or altered envelope")]
    DecryptFailed,
    /// A push batch with no envelopes.
    #[error("push batch is empty")]
    EmptyBatch,
    /// A push batch with more envelopes than `MAX_BATCH`.
    #[error("push batch has {count} envelopes, more than the maximum of {max}")]
    BatchTooLarge {
        /// Envelopes in the batch.
        count: usize,
        /// Maximum.
        max: usize,
    },
    /// An encoded push batch or pull page is larger than its byte limit.
    #[error("{what} of {len} bytes exceeds the {max}-byte maximum")]
    TooManyBytes {
        /// Which structure.
        what: &'static str,
        /// Its length (or a lower bound of it).
        len: usize,
        /// Maximum.
        max: usize,
    },
    /// An envelope length prefix is outside the possible envelope sizes.
    #[error("envelope length {len} is outside {min}..={max}")]
    EnvelopeLength {
        /// Declared length.
        len: usize,
        /// Smallest possible envelope.
        min: usize,
        /// Largest possible envelope.
        max: usize,
    },
    /// The envelope at `index` of a push batch or pull page is invalid.
    #[error("envelope {index}: {source}")]
    AtIndex {
        /// Zero-based position in the batch or page.
        index: usize,
        /// What is wrong with it.
        source: Box<Error>,
    },
    /// An envelope in a push batch belongs to another team than the batch names.
    #[error("envelope {index} belongs to team {found}, but the batch is for team {batch}")]
    WrongTeam {
        /// Zero-based position in the batch.
        index: usize,
        /// The team the batch names.
        batch: TeamId,
        /// The team in the envelope's header.
        found: TeamId,
    },
    /// An envelope in a push batch was authored by another device than the pusher.
    #[error("envelope {index} was authored by device {found}, but device {pusher} pushes it")]
    WrongAuthor {
        /// Zero-based position in the batch.
        index: usize,
        /// The pushing device.
        pusher: DeviceId,
        /// The author in the envelope's header.
        found: DeviceId,
    },
    /// A byte that must be 0 or 1 is something else.
    #[error("{what} must be 0 or 1, found {value}")]
    BadFlag {
        /// Which field.
        what: &'static str,
        /// The value found.
        value: u8,
    },
    /// A pull page's sequence numbers are not strictly increasing from 1.
    #[error("pull page item {index} has sequence {seq}, not above {previous}")]
    SequenceOrder {
        /// Zero-based position in the page.
        index: usize,
        /// The item's sequence number.
        seq: u64,
        /// The previous item's (0 for the first item).
        previous: u64,
    },
    /// A pull page's continuation cursor is behind its own last item.
    #[error("pull page cursor {next} is behind its last item {last}")]
    CursorBehind {
        /// The page's `next`.
        next: u64,
        /// The last item's sequence number.
        last: u64,
    },
    /// A pull page says there is more but carries nothing: a client would loop forever.
    #[error("pull page is empty but says there is more")]
    EmptyPageWithMore,
    /// The relay origin in an auth message is empty or too long.
    #[error("relay origin is {len} bytes; it must be 1..={max}")]
    BadOrigin {
        /// Its length.
        len: usize,
        /// Maximum.
        max: usize,
    },
    /// An id is not the right number of bytes or hex digits.
    #[error("invalid {kind}: expected {bytes} bytes, two hex digits each")]
    InvalidId {
        /// Which kind of id.
        kind: &'static str,
        /// Its length in bytes.
        bytes: usize,
    },
    /// ring rejected key bytes (does not happen for 32-byte seeds and keys).
    #[error("key rejected by the crypto library")]
    KeyRejected,
    /// The system random number generator failed.
    #[error("random number generator failed")]
    Random,
    /// A role byte or name that is not one of the four roles.
    #[error("unknown role {0}")]
    UnknownRole(u8),
    /// A membership operation tag that is not known.
    #[error("unknown membership operation {0}")]
    UnknownOp(u8),
    /// A field that is not valid in its context (a length, a flag, a combination).
    #[error("invalid {what}: {reason}")]
    Invalid {
        /// Which field or structure.
        what: &'static str,
        /// Why (no secrets).
        reason: &'static str,
    },
    /// The membership log refuses an entry: the signer may not do this, or it contradicts
    /// the log so far.
    #[error("membership entry refused: {0}")]
    Refused(crate::membership::Refusal),
    /// HPKE encapsulation or decryption failed: not addressed to this key, or altered.
    #[error("key bundle cannot be opened: wrong recipient key or altered bundle")]
    KeyBundleOpen,
    /// An invite code that is not one (wrong prefix, bad encoding, bad fields).
    #[error("not a Holdfast invite code: {0}")]
    BadInviteCode(&'static str),
    /// A relay CA pin that is not one (see [`crate::RelayPin`]).
    #[error("not a relay certificate pin: {0}")]
    BadRelayPin(&'static str),
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Wraps `self` with the position of the envelope it concerns.
    pub(crate) fn at(self, index: usize) -> Self {
        Error::AtIndex {
            index,
            source: Box::new(self),
        }
    }
}
