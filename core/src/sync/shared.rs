//! The store shared by the app and the async sync client.
//!
//! A `rusqlite::Connection` must not be used from two threads at once, and SQLCipher
//! writes (with fsync) and Automerge merges can take milliseconds to seconds: neither may
//! run on an async worker thread. So the store sits behind a `std::sync::Mutex`, and the
//! client runs every store operation on tokio's blocking pool ([`SharedStore::run`]),
//! holding the lock for one operation (one page, one seal, one acknowledgement). The app
//! takes the same lock for its own edits ([`SharedStore::lock`]). Network I/O and
//! signature checks happen outside the lock.

use std::sync::{Arc, Mutex, MutexGuard};

use crate::store::Store;
use crate::{Error, Result};

/// A store shared between the app and the sync client. Cloning shares the same store.
#[derive(Debug, Clone)]
pub struct SharedStore(Arc<Mutex<Store>>);

impl SharedStore {
    /// Shares `store`.
    pub fn new(store: Store) -> Self {
        SharedStore(Arc::new(Mutex::new(store)))
    }

    /// Locks the store for a synchronous operation (an edit, a read). Blocks while the sync
    /// client applies a page: call it off the UI thread.
    pub fn lock(&self) -> Result<MutexGuard<'_, Store>> {
        self.0
            .lock()
            .map_err(|_| Error::Internal("the store is unusable after a panic".into()))
    }

    /// Runs `f` with the store on tokio's blocking pool.
    pub async fn run<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Store) -> Result<T> + Send + 'static,
    {
        let shared = self.clone();
        tokio::task::spawn_blocking(move || {
            let mut store = shared.lock()?;
            f(&mut store)
        })
        .await
        .map_err(|e| Error::Internal(format!("store task failed: {e}")))?
    }
}
