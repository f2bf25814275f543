//! Keys and envelope crypto on the device: the device's signing and HPKE keys, and the
//! team and document keys it holds. Sealing and opening envelopes and key bundles is the
//! protocol crate's; this module decides which keys they use.

pub(crate) mod keys;

pub use keys::{DEVICE_HPKE_KEY_NAME, DEVICE_KEY_NAME, TeamKeys};
