//! # holdfast-core
//!
//! The engine that runs on every Holdfast device: typed Automerge documents for social
//! prescribing (case files, action plans, the community asset directory, outcome measures)
//! and an encrypted SQLite store that keeps every edit, its outbox entry and the derived
//! indexes in one transaction.
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
//! assert_eq!(caseload[0].case_id, case);
//! # Ok(()) }
//! ```

mod error;
pub mod import;
pub mod keystore;
pub mod model;
#[cfg(feature = "seed")]
pub mod seed;
pub mod store;

pub use error::{Error, Result};
pub use keystore::{FileKeyStore, KeyStore, KeyStoreError, MemoryKeyStore};
pub use store::{Store, StoreConfig};
