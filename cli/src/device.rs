//! This computer's Holdfast: where the store and its key live, and opening them.

use std::cell::OnceCell;
use std::fs::{File, TryLockError};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use holdfast_core::store::STORE_KEY_NAME;
use holdfast_core::{FileKeyStore, KeyStore, SharedClock, Store, StoreConfig};

use crate::error::{CliError, Result};

/// The lock file in the store folder. The core's store keeps documents in memory and is not
/// safe to use from two processes at once (a long `holdfast sync --watch` would write stale
/// copies over another command's edits), so every command holds this lock while the store is
/// open.
const LOCK_FILE: &str = "holdfast.lock";

/// How long a command waits for another one to let go of the store.
const LOCK_WAIT: Duration = Duration::from_secs(10);

/// The store folder and the key store beside it.
#[derive(Debug)]
pub struct Device {
    home: PathBuf,
    keys: FileKeyStore,
    /// Held from the first `open` until the process ends.
    lock: OnceCell<File>,
    /// Where the store reads the time (the command's clock).
    clock: SharedClock,
}

impl Device {
    /// The device at `home`, with its keys in `keys` (default `<home>/keys`), reading the
    /// time from `clock`.
    pub fn new(home: PathBuf, keys: Option<PathBuf>, clock: SharedClock) -> Self {
        let keys = keys.unwrap_or_else(|| home.join("keys"));
        Device {
            home,
            keys: FileKeyStore::new(keys),
            lock: OnceCell::new(),
            clock,
        }
    }

    fn config(&self, person: &str) -> StoreConfig {
        StoreConfig::new(&self.home, person).with_clock(self.clock.clone())
    }

    /// The key store: the store key and the device's private keys (signing, HPKE, invites).
    pub fn keys(&self) -> &FileKeyStore {
        &self.keys
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
        Ok(Store::create(&self.config(person), &self.keys)?)
    }

    /// Opens the existing store.
    pub fn open(&self) -> Result<Store> {
        // The person is read from the store; the config's is only used when creating.
        let config = self.config("");
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
        self.lock()?;
        Ok(Store::open(&config, &self.keys)?)
    }

    /// Takes the store folder's lock, waiting a little for another command to finish.
    fn lock(&self) -> Result<()> {
        if self.lock.get().is_some() {
            return Ok(());
        }
        let path = self.home.join(LOCK_FILE);
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| CliError::file(format!("opening {}", path.display()), e))?;
        let deadline = Instant::now() + LOCK_WAIT;
        loop {
            match file.try_lock() {
                Ok(()) => break,
                Err(TryLockError::WouldBlock) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(TryLockError::WouldBlock) => {
                    return Err(CliError::input(format!(
                        "another holdfast command is using the store in {} (a `holdfast sync \
                         --watch`?): wait for it to finish, or stop it with Ctrl-C",
                        self.home.display()
                    )));
                }
                Err(TryLockError::Error(e)) => {
                    return Err(CliError::file(format!("locking {}", path.display()), e));
                }
            }
        }
        let _ = self.lock.set(file);
        Ok(())
    }
}

impl From<holdfast_core::KeyStoreError> for CliError {
    fn from(e: holdfast_core::KeyStoreError) -> Self {
        CliError::Core(e.into())
    }
}
