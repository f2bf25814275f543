//! Keys and envelope crypto on the device: the device's signing key, team secrets and the
//! document keys derived from them. Sealing and opening envelopes is the protocol crate's
//! (`holdfast_protocol::seal`, `EnvelopeRef::open`); this module decides which keys they use.

pub mod keys;

pub use keys::{CURRENT_EPOCH, DEVICE_KEY_NAME, DocumentKeys, TeamSecret};
