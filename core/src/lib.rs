//! # holdfast-core
//!
//! The engine that runs on every Holdfast device: typed Automerge documents for social
//! prescribing (case files, action plans, the community asset directory, outcome measures)
//! and an encrypted SQLite store that keeps every edit, its outbox entry and the derived
//! indexes in one transaction.
//!
//! Inside, the rooms depend one way: `model` (typed views and edits over Automerge, pure
//! but for the random ids it draws) ← [`access`] (who may read and write what: the verified
//! membership, which keys and envelopes a device accepts, the entries it signs) ←
//! [`store`] (SQLCipher: documents, outbox, indexes, the queries behind access) ←
//! [`sync`] (the relay client: push, pull, live, snapshots). `crypto` (the device's keys
//! and the document keys it holds) sits beside access. Time comes from the
//! [`Clock`] in [`StoreConfig`], so tests move a [`ManualClock`] instead of sleeping.
//!
//! Sync is end-to-end encrypted: each team has a random key per key epoch, wrapped to every
//! reader device's HPKE key in signed key bundles; document keys are derived from it
//! ([`crypto::TeamKeys`]). The store seals outbox changes into envelopes exactly once and
//! applies pulled pages in one transaction each, and [`SyncClient`] talks to the relay
//! with the store shared through a [`SharedStore`].
//!
//! ```no_run
//! use holdfast_core::{Store, StoreConfig, MemoryKeyStore, model::case_file::NewPatient};
//!
//! # fn main() -> holdfast_core::Result<()> {
//! let keys = MemoryKeyStore::default();
//! let config = StoreConfig::new("/tmp/holdfast-example", "Sam Okafor");
//! let mut store = Store::create(&config, &keys)?;
//! let case = store.create_case_file(NewPatient::named("Ada Lovelace"))?;
//! let caseload = store.caseload(&Default::default())?;
//! assert_eq!(caseload[0].case_id, case.case_id);
//! # Ok(()) }
//! ```
//!
//! Sharing that store in a team and syncing it (inside a tokio runtime):
//!
//! ```no_run
//! use holdfast_core::{MemoryKeyStore, SharedStore, Store, StoreConfig, SyncClient, SyncConfig};
//!
//! # async fn run() -> holdfast_core::Result<()> {
//! let keys = MemoryKeyStore::default();
//! let mut store = Store::create(&StoreConfig::new("/tmp/holdfast-sync", "Sam Okafor"), &keys)?;
//! let team = store.create_team("http://127.0.0.1:7878")?; // this device is its admin
//! let store = SharedStore::new(store);
//! let client = SyncClient::new(store.clone(), SyncConfig::default())?;
//! client.sync(team).await?; // registers the team, pushes, pulls
//! // A one-time code for a colleague's phone (shown as a QR code), valid 15 minutes:
//! let code = client
//!     .create_invite(team, holdfast_core::sync::Role::LinkWorker, None, 15 * 60 * 1000)
//!     .await?;
//! // On their phone: `client.redeem_invite(&keys, &code).await?` enrols it and syncs.
//! let _live = client.live(team); // follows the team until dropped
//! assert!(client.status(team).await?.everything_uploaded);
//! # Ok(()) }
//! ```

pub mod access;
pub mod crypto;
mod error;
pub mod feedback;
pub mod import;
mod keystore;
pub mod model;
pub mod report;
#[cfg(feature = "seed")]
pub mod seed;
pub mod store;
pub mod sync;

pub use error::{Error, Result};
pub use holdfast_protocol::{Clock, ManualClock, SharedClock, SystemClock};
pub use keystore::{FileKeyStore, KeyStore, KeyStoreError, MemoryKeyStore};
pub use model::ids::TeamId;
pub use store::{Store, StoreConfig};
pub use sync::{SharedStore, SyncClient, SyncConfig, SyncStatus};
