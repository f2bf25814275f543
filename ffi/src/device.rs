//! The device: one encrypted store, its sync client and the runtime they run on. Every
//! method blocks the calling thread until done: call them from a background thread
//! (Kotlin: `Dispatchers.IO`; Swift: a `Task.detached` or background queue).

use std::str::FromStr;
use std::sync::{Arc, Mutex, MutexGuard};

use holdfast_core::sync::LiveHandle;
use holdfast_core::{SharedClock, SharedStore, Store, StoreConfig, SyncClient, SyncConfig, TeamId};

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
    /// **Insecure, development only** (an emulator reaching a relay on the developer's
    /// machine, a test phone on a lab network): allow plain `http://` to a relay on any
    /// host, not only on this device. Anyone on the network then reads the device's sign-in
    /// tokens. Off by default; never on in a release build.
    #[uniffi(default = false)]
    pub insecure_http_to_any_host: bool,
}

/// The device's runtime. Dropped without waiting for its tasks (`shutdown_background`):
/// the host may let go of the device on any thread, even one of the runtime's own, where a
/// blocking shutdown would panic.
pub(crate) struct Rt(Option<tokio::runtime::Runtime>);

impl std::ops::Deref for Rt {
    type Target = tokio::runtime::Runtime;

    fn deref(&self) -> &tokio::runtime::Runtime {
        // Only `drop` takes it out.
        self.0
            .as_ref()
            .unwrap_or_else(|| unreachable!("runtime used after drop"))
    }
}

impl Drop for Rt {
    fn drop(&mut self) {
        if let Some(rt) = self.0.take() {
            rt.shutdown_background();
        }
    }
}

/// Data folders with a device open in this process: the store is single-writer, so a
/// second `open` of the same folder is refused rather than racing the first.
static OPEN_DIRS: Mutex<Vec<std::path::PathBuf>> = Mutex::new(Vec::new());

/// Holds a data folder for the life of a device.
struct DirClaim(std::path::PathBuf);

impl DirClaim {
    fn take(dir: &std::path::Path) -> Result<DirClaim> {
        std::fs::create_dir_all(dir).map_err(|e| HoldfastError::Storage {
            reason: format!("cannot create the data folder: {e}"),
        })?;
        let dir = dir.canonicalize().map_err(|e| HoldfastError::Storage {
            reason: format!("cannot resolve the data folder: {e}"),
        })?;
        let mut open = OPEN_DIRS
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if open.contains(&dir) {
            return Err(HoldfastError::NotAllowed {
                reason: "a device is already open on this data folder in this process".into(),
            });
        }
        open.push(dir.clone());
        Ok(DirClaim(dir))
    }
}

impl Drop for DirClaim {
    fn drop(&mut self) {
        let mut open = OPEN_DIRS
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        open.retain(|d| d != &self.0);
    }
}

/// A device: the app holds one for as long as it runs.
#[derive(uniffi::Object)]
pub struct HoldfastDevice {
    pub(crate) rt: Rt,
    pub(crate) store: SharedStore,
    pub(crate) client: SyncClient,
    pub(crate) keys: HostKeys,
    /// Background sync: one live subscription per team while started.
    pub(crate) live: Mutex<Vec<LiveHandle>>,
    /// Background sync: wakes the live loops on local changes.
    pub(crate) pusher: Mutex<Option<tokio::task::JoinHandle<()>>>,
    /// This process's claim on the data folder (released last).
    _claim: DirClaim,
}

impl std::fmt::Debug for HoldfastDevice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HoldfastDevice").finish_non_exhaustive()
    }
}

/// Parses an id the host passes back (as it received it: 32 hex digits).
pub(crate) fn parse_id<T: FromStr>(what: &str, text: &str) -> Result<T> {
    text.trim()
        .parse()
        .map_err(|_| HoldfastError::invalid(format!("not a {what} id: expected 32 hex digits")))
}

/// Parses the id of an item inside a document (a session, step, goal, referral, measure,
/// concern or asset) as the host received it: 16 hex digits.
pub(crate) fn parse_item_id<T: FromStr>(what: &str, text: &str) -> Result<T> {
    text.parse()
        .map_err(|_| HoldfastError::invalid(format!("not a {what} id: expected 16 hex digits")))
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
        if team.is_none() {
            // A device in exactly one team (a patient's phone has no "current" team, as it
            // makes no documents of its own) needs no choosing.
            let store = self.store()?;
            if store.current_team().is_none()
                && let [only] = store.teams()?.as_slice()
            {
                return Ok(only.team);
            }
        }
        match team {
            Some(t) => parse_id("team", &t),
            None => self
                .store()?
                .current_team()
                .ok_or(HoldfastError::NotAllowed {
                    reason: "this device is in no team yet: create one or redeem an invite".into(),
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
        Self::open_with_clock(config, keystore, holdfast_protocol::system_clock())
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

impl HoldfastDevice {
    /// [`HoldfastDevice::open`] reading time from `clock` instead of the system's: a test
    /// seam (a `ManualClock` moved past midnight), not exported to the bindings. `open` is
    /// this with the system clock, which is also what a `StoreConfig` reads by default.
    #[doc(hidden)]
    pub fn open_with_clock(
        config: DeviceConfig,
        keystore: Arc<dyn HostKeyStore>,
        clock: SharedClock,
    ) -> Result<Arc<Self>> {
        let keys = HostKeys(keystore);
        let claim = DirClaim::take(std::path::Path::new(&config.data_dir))?;
        let store_config = StoreConfig::new(&config.data_dir, &config.person).with_clock(clock);
        // No store (or a create that never finished): a new one.
        let store = match Store::open(&store_config, &keys) {
            Err(holdfast_core::Error::NoStore(_)) => Store::create(&store_config, &keys)?,
            opened => opened?,
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
            SyncClient::new(
                store.clone(),
                SyncConfig {
                    insecure_http_to_any_host: config.insecure_http_to_any_host,
                    ..SyncConfig::default()
                },
            )?
        };
        Ok(Arc::new(HoldfastDevice {
            rt: Rt(Some(rt)),
            store,
            client,
            keys,
            live: Mutex::new(Vec::new()),
            pusher: Mutex::new(None),
            _claim: claim,
        }))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Keys(Mutex<std::collections::HashMap<String, Vec<u8>>>);

    impl HostKeyStore for Keys {
        fn get(&self, name: String) -> Result<Option<Vec<u8>>> {
            Ok(self.0.lock().unwrap().get(&name).cloned())
        }
        fn put(&self, name: String, value: Vec<u8>) -> Result<()> {
            self.0.lock().unwrap().insert(name, value);
            Ok(())
        }
    }

    #[test]
    fn one_device_per_folder_and_it_reopens_with_the_same_identity() {
        let dir = tempfile::tempdir().unwrap();
        let keys: Arc<dyn HostKeyStore> = Arc::new(Keys::default());
        let config = DeviceConfig {
            data_dir: dir.path().join("device").display().to_string(),
            person: "Sam Okafor".into(),
            insecure_http_to_any_host: false,
        };
        let first = HoldfastDevice::open(config.clone(), keys.clone()).unwrap();
        let id = first.device_id().unwrap();
        assert!(matches!(
            HoldfastDevice::open(config.clone(), keys.clone()),
            Err(HoldfastError::NotAllowed { .. })
        ));
        // Let go of it on one of its own runtime's worker threads, as a host callback
        // might: a blocking runtime shutdown would panic there.
        let (tx, rx) = std::sync::mpsc::channel();
        let handle = first.rt.handle().clone();
        handle.spawn(async move {
            drop(first);
            let _ = tx.send(());
        });
        rx.recv_timeout(std::time::Duration::from_secs(5)).unwrap();
        let again = HoldfastDevice::open(config, keys).unwrap();
        assert_eq!(again.device_id().unwrap(), id);
        assert_eq!(again.person().unwrap(), "Sam Okafor");
    }

    #[test]
    fn a_store_opened_with_another_key_store_is_a_typed_error() {
        let dir = tempfile::tempdir().unwrap();
        let config = DeviceConfig {
            data_dir: dir.path().display().to_string(),
            person: "Sam".into(),
            insecure_http_to_any_host: false,
        };
        drop(HoldfastDevice::open(config.clone(), Arc::new(Keys::default())).unwrap());
        let err = HoldfastDevice::open(config, Arc::new(Keys::default())).unwrap_err();
        assert!(
            matches!(
                err,
                HoldfastError::Storage { .. } | HoldfastError::KeyStore { .. }
            ),
            "{err:?}"
        );
    }
}
