//! The host's key store (Keychain on iOS, Android Keystore on Android), as a callback
//! interface: the device's store key and private keys never leave it except into this
//! process's memory.

use std::sync::Arc;

use holdfast_core::{KeyStore, KeyStoreError};
use zeroize::Zeroizing;

use crate::error::HoldfastError;

/// Secret storage the host provides. Names are short ASCII strings chosen by Holdfast
/// ("holdfast-store-key", "holdfast-device-signing", ...); values are raw bytes (32 for
/// every key Holdfast stores today). Keep them device-only (iOS:
/// `kSecAttrAccessibleWhenUnlockedThisDeviceOnly`; Android: values encrypted under a
/// non-exportable Android Keystore key).
#[uniffi::export(with_foreign)]
pub trait HostKeyStore: Send + Sync {
    /// The secret called `name`, or null if it was never stored.
    fn get(&self, name: String) -> Result<Option<Vec<u8>>, HoldfastError>;
    /// Stores `value` under `name`, replacing any previous value.
    fn put(&self, name: String, value: Vec<u8>) -> Result<(), HoldfastError>;
}

/// The host's key store seen as the core's `KeyStore`.
pub(crate) struct HostKeys(pub(crate) Arc<dyn HostKeyStore>);

impl std::fmt::Debug for HostKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HostKeys(..)")
    }
}

impl KeyStore for HostKeys {
    fn get(&self, name: &str) -> Result<Option<Zeroizing<Vec<u8>>>, KeyStoreError> {
        self.0
            .get(name.to_owned())
            .map(|v| v.map(Zeroizing::new))
            .map_err(|e| KeyStoreError::Unavailable(e.to_string()))
    }

    fn put(&self, name: &str, secret: &[u8]) -> Result<(), KeyStoreError> {
        self.0
            .put(name.to_owned(), secret.to_vec())
            .map_err(|e| KeyStoreError::Unavailable(e.to_string()))
    }
}
