//! The device: one encrypted store, its sync client and the runtime they run on. Every
//! method blocks the calling thread until done: call them from a background thread
//! (Kotlin: `Dispatchers.IO`; Swift: a `Task.detached` or background queue).

use std::str::FromStr;
use std::sync::{Arc, Mutex, MutexGuard};

use holdfast_core::sync::LiveHandle;
use holdfast_core::{SharedStore, Store, StoreConfig, SyncClient, SyncConfig, TeamId};

use crate::error::{HoldfastError, Result};
use crate::keystore::{HostKeyStore, HostKeys};

/// Where the device keeps its data and who uses it.
#[derive(Debug, Clone, uniffi::Record)]
pub struct DeviceConfig {
    /// A folder the app owns (iOS: Application Support; Android: `filesDir`). Created if
    /// missing. One device object per folder per process.
    pub data_dir: String,
    /// The person using this device, as colleagues should see them in history.
    pub person: String,
}

/// A device: the app holds one for as long as it runs.
#[derive(uniffi::Object)]
pub struct HoldfastDevice {
    pub(crate) rt: tokio::runtime::Runtime,
    pub(crate) store: SharedStore,
    pub(crate) client: SyncClient,
    pub(crate) keys: HostKeys,
    /// Background sync: one live subscription per team while started.
    pub(crate) live: Mutex<Vec<LiveHandle>>,
    /// Background sync: wakes the live loops on local changes.
    pub(crate) pusher: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl std::fmt::Debug for HoldfastDevice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HoldfastDevice").finish_non_exhaustive()
    }
}

/// Parses an id the host passes back (as it received it: 32 hex digits).
pub(crate) fn parse_id<T: FromStr>(what: &str, text: &str) -> Result<T> {
    text.parse()
        .map_err(|_| HoldfastError::invalid(format!("not a {what} id: expected 32 hex digits")))
}

impl HoldfastDevice {
    /// The store, locked (a short wait at most: every store call is short).
    pub(crate) fn store(&self) -> Result<MutexGuard<'_, Store>> {
        Ok(self.store.lock()?)
    }

    /// Runs an async sync-client call to completion on the device's runtime.
    pub(crate) fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        self.rt.block_on(f)
    }

    /// The team a call is about: the one named, or this device's current team.
    pub(crate) fn team_or_current(&self, team: Option<String>) -> Result<TeamId> {
        match team {
            Some(t) => parse_id("team", &t),
            None => self
                .store()?
                .current_team()
                .ok_or(HoldfastError::NotAllowed {
                    message: "this device is in no team yet: create one or redeem an invite".into(),
                }),
        }
    }
}

#[uniffi::export]
impl HoldfastDevice {
    /// Opens the device's store in `config.data_dir`, creating it (with fresh keys in the
    /// host's key store) on first use. A wrong key or a damaged file is an error and
    /// nothing is changed.
    #[uniffi::constructor]
    pub fn open(config: DeviceConfig, keystore: Arc<dyn HostKeyStore>) -> Result<Arc<Self>> {
        let keys = HostKeys(keystore);
        let store_config = StoreConfig::new(&config.data_dir, &config.person);
        let store = if store_config.db_path().exists() {
            Store::open(&store_config, &keys)?
        } else {
            Store::create(&store_config, &keys)?
        };
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("holdfast")
            .enable_all()
            .build()
            .map_err(|e| HoldfastError::internal(format!("cannot start the runtime: {e}")))?;
        let store = SharedStore::new(store);
        let client = {
            let _inside = rt.enter();
            SyncClient::new(store.clone(), SyncConfig::default())?
        };
        Ok(Arc::new(HoldfastDevice {
            rt,
            store,
            client,
            keys,
            live: Mutex::new(Vec::new()),
            pusher: Mutex::new(None),
        }))
    }

    /// This device's id (what colleagues see in `devices` and history).
    pub fn device_id(&self) -> Result<String> {
        Ok(self.store()?.author().device.to_string())
    }

    /// The person this device records as author.
    pub fn person(&self) -> Result<String> {
        Ok(self.store()?.author().person.clone())
    }
}

#[cfg(feature = "test-hooks")]
#[uniffi::export]
impl HoldfastDevice {
    /// Panics on purpose (test builds only): the host must get `Internal`, not a crash,
    /// and the device must stay usable.
    pub fn debug_panic(&self) -> Result<()> {
        panic!("a deliberate panic from debug_panic");
    }
}
