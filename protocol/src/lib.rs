//! # holdfast-protocol
//!
//! The wire format shared by Holdfast devices and the relay. Devices sync end-to-end
//! encrypted Automerge changes; the relay stores and forwards ciphertext it cannot read.
//!
//! - **Envelopes** ([`seal`], [`EnvelopeRef`]): a clear header (team, document, key epoch,
//!   author, nonce) that is the AES-256-GCM AAD, the ciphertext, and the author's Ed25519
//!   signature over both. The envelope id is SHA-256 of all its bytes.
//! - **Push batches** ([`PushBatch`], [`PushBatchRef`]): up to 1,000 envelopes signed once
//!   by the pushing device, so the relay does one signature check per batch.
//! - **Pull pages** ([`PullPage`]): envelopes with their team sequence numbers.
//! - **Auth** ([`sign_auth`], [`verify_auth`]): the answer to the relay's login challenge.
//! - **Membership** ([`membership`]): roles and the signed log of membership operations,
//!   folded the same way by the relay and by devices.
//! - **Key wrapping** ([`KeyBundle`], [`HpkeKeyPair`], [`derive_document_key`]): team epoch
//!   keys and document keys sealed with HPKE (X-Wing) to one device and signed by another.
//! - **Private notes** ([`private_notes`]): a staff member's own notes, read only by it, the
//!   team's supervisors and admins: the derived document id and the key it is sealed with.
//! - **Invites** ([`InviteCode`]): the one-time code shown as a QR code at enrolment; for a
//!   self-hosted relay it carries the [`RelayPin`] of the relay's certificate authority.
//! - **Time** ([`Clock`]): what devices and the relay read the time from; tests move a
//!   [`ManualClock`] instead of sleeping.
//!
//! No Automerge, no I/O (but [`SystemClock`] reading the time), no async. Every decoder is
//! strict and total: bounded lengths, no trailing bytes, and an [`Error`] (never a panic)
//! for any input. The byte layouts are in `docs/PROTOCOL.md`, with test vectors.
//!
//! ```
//! use holdfast_protocol::{
//!     seal, DeviceId, DeviceSigningKey, DocumentId, DocumentKey, EnvelopeRef, Header, Kind,
//!     SystemRandom, TeamId,
//! };
//!
//! # fn main() -> holdfast_protocol::Result<()> {
//! let rng = SystemRandom::new();
//! let signer = DeviceSigningKey::generate(&rng)?;
//! let key = DocumentKey::generate(&rng)?;
//! let header = Header {
//!     kind: Kind::ChangeBatch,
//!     team: TeamId::random_with(&rng)?,
//!     document: DocumentId::random_with(&rng)?,
//!     epoch: 1,
//!     author: DeviceId::random_with(&rng)?,
//!     covers: 0,
//!     nonce: Header::random_nonce(&rng)?,
//! };
//! let bytes = seal(&header, &key, b"automerge changes", &signer)?;
//!
//! // On another device, after a pull:
//! let envelope = EnvelopeRef::decode(&bytes)?;
//! assert_eq!(envelope.header, header);
//! let plaintext = envelope.open(&signer.public_key(), &key)?;
//! assert_eq!(plaintext, b"automerge changes");
//! # Ok(()) }
//! ```

// "Never panic on any input", enforced: no indexing, unchecked arithmetic or unwrapping.
#![deny(
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

mod auth;
mod batch;
pub mod clock;
mod envelope;
mod error;
mod ids;
mod invite;
mod keys;
mod keywrap;
pub mod membership;
pub mod private_notes;
mod relay_pin;
mod wire;

pub use auth::{
    AUTH_CONTEXT, CHALLENGE_LEN, MAX_ORIGIN_LEN, auth_message, new_challenge, sign_auth,
    verify_auth,
};
pub use batch::{
    CHECK_HEADER, MAX_BATCH, MAX_IDS_PER_REQUEST, MAX_PAGE_BYTES, MAX_PUSH_BYTES, PAGE_HEADER_LEN,
    PAGE_ITEM_OVERHEAD, PULL_MAGIC, PUSH_CONTEXT, PUSH_HEADER_LEN, PUSH_MAGIC, PullPage, PushBatch,
    PushBatchRef,
};
pub use clock::{Clock, ManualClock, SharedClock, SystemClock, system_clock};
pub use envelope::{
    ENVELOPE_MAGIC, ENVELOPE_OVERHEAD, EnvelopeRef, HEADER_LEN, Header, Kind, MAX_CIPHERTEXT,
    MAX_ENVELOPE, MAX_PLAINTEXT, MIN_ENVELOPE, NONCE_LEN, TAG_LEN, seal,
};
pub use error::{Error, Result};
pub use ids::{
    DeviceId, DocumentId, EnvelopeId, InviteId, TEAM_SETTINGS_ID_CONTEXT, TeamId, team_settings_id,
};
pub use invite::{INVITE_PREFIX, InviteCode};
pub use keys::{DeviceSigningKey, DocumentKey, PUBLIC_KEY_LEN, SIGNATURE_LEN, verify_signature};
pub use keywrap::{
    BUNDLE_MAGIC, BundleHeader, EpochKey, HPKE_ENC_LEN, HPKE_PUBLIC_KEY_LEN, HpkeKeyPair,
    HpkePublicKey, KEYS_ACK_CONTEXT, KeyBundle, MAX_BUNDLE, WrappedKey, derive_document_key,
    keys_ack_message, max_bundle_len,
};
pub use membership::{
    Applied, Entry, InviteState, MAX_BUNDLES_PER_REQUEST, MAX_ENTRY, MAX_INVITE_LIFETIME_MS,
    MAX_KEYS_REQUEST_BYTES, MAX_PENDING_INVITES, MEMBERSHIP_MAGIC, Member, Membership, Op, Refusal,
    Role, epoch_key_commitment, redeem_proof_message,
};
pub use private_notes::{
    PRIVATE_NOTES_ID_CONTEXT, PrivateNotesKey, derive_private_notes_key, private_notes_id,
};
pub use relay_pin::{RELAY_PIN_LEN, RelayPin};
/// ring's random-number interface, which key, id, nonce and challenge generation take.
pub use ring::rand::{SecureRandom, SystemRandom};
