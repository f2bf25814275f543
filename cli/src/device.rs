//! This computer's Holdfast: where the store and its key live, and opening them.

use std::path::{Path, PathBuf};

use holdfast_core::store::STORE_KEY_NAME;
use holdfast_core::{FileKeyStore, KeyStore, Store, StoreConfig};

use crate::error::{CliError, Result};

/// The store folder and the key store beside it.
#[derive(Debug)]
pub struct Device {
    home: PathBuf,
    keys: FileKeyStore,
}

impl Device {
    /// The device at `home`, with its keys in `keys` (default `<home>/keys`).
    pub fn new(home: PathBuf, keys: Option<PathBuf>) -> Self {
        let keys = keys.unwrap_or_else(|| home.join("keys"));
        Device {
            home,
            keys: FileKeyStore::new(keys),
        }
    }

    /// The store folder.
    pub fn home(&self) -> &Path {
        &self.home
    }

    /// The key file that unlocks the store.
    pub fn key_file(&self) -> PathBuf {
        self.keys.dir().join(format!("{STORE_KEY_NAME}.key"))
    }

    /// Creates a new store for `person`.
    pub fn create(&self, person: &str) -> Result<Store> {
        Ok(Store::create(
            &StoreConfig::new(&self.home, person),
            &self.keys,
        )?)
    }

    /// Opens the existing store.
    pub fn open(&self) -> Result<Store> {
        // The person is read from the store; the config's is only used when creating.
        let config = StoreConfig::new(&self.home, "");
        if !config.db_path().exists() {
            return Err(CliError::input(format!(
                "no Holdfast store in {}: set one up with `holdfast init --name \"Your Name\"`, \
                 or point --home (HOLDFAST_HOME) at an existing one",
                self.home.display()
            )));
        }
        if self.keys.get(STORE_KEY_NAME)?.is_none() && self.keys.get(STORE_KEY_NAME)?.is_none() {
            return Err(CliError::input(format!(
                "the store at {} is locked and its key file {} is missing \
                 (point --keys or HOLDFAST_KEYS at the folder that holds it)",
                self.home.display(),
                self.key_file().display()
            )));
        }
        Ok(Store::open(&config, &self.keys)?)
    }
}

impl From<holdfast_core::KeyStoreError> for CliError {
    fn from(e: holdfast_core::KeyStoreError) -> Self {
        CliError::Core(e.into())
    }
}
