//! The device's encrypted store: documents, the outbox and derived indexes in one SQLCipher
//! database.
//!
//! Every user action is one Automerge change, written in one SQLite transaction together
//! with its outbox entry and the index rows it affects. When the transaction commits, the
//! action is acknowledged; if anything fails before that, the in-memory document is
//! discarded and reloaded, so nothing half-done is ever seen or synced.
//!
//! At rest the whole file (tables, FTS index, WAL) is encrypted by SQLCipher under a
//! 256-bit key that the host keeps in its [`KeyStore`](crate::KeyStore).
//!
//! The files, by what they hold:
//!
//! | file | what |
//! |---|---|
//! | `open.rs` | creating and opening the database: the key, the key check, telling a wrong key from a damaged file |
//! | `schema/` | the schema by version, the migrations, and a migration test per version |
//! | `documents.rs` | the edit pipeline: load, edit, persist (change + outbox + index rows in one transaction), compaction |
//! | `cases.rs`, `plans.rs`, `directory.rs`, `export.rs` | the facade the app calls, one file per kind of document; `export.rs` also gives any document's raw Automerge bytes and heads |
//! | `subject_access.rs` | one patient's record (case file, plan, note amendments, history) for a subject access request, as JSON and text |
//! | `index.rs` | the derived indexes: caseload, directory search (FTS5) |
//! | `oversight.rs` | who holds each case, load per link worker, the review queue, comments reaching the link worker, ring-backs, the worklist: edits, their index rows and the queries over them |
//! | `events.rs` | what observers are told ([`StoreEvent`]) |
//! | `teams.rs`, `outbox.rs`, `incoming.rs` | sync's state: teams and their cursors, outbox changes sealed exactly once into envelopes kept until the relay acknowledges them, pulled pages applied in one transaction each |
//! | `checkpoints.rs` | what the relay said it holds (envelope ids at some sequence numbers, each document's highest number here), to notice a relay restored from a backup and upload again what it lost |
//! | `access.rs` | the queries behind access (membership, keys, held redeems); the rules are [`crate::access`] |
//!
//! The network side is [`crate::sync`]; it depends on the store, never the other way.

mod access;
mod cases;
mod checkpoints;
mod connections;
mod directory;
mod doc_cache;
mod documents;
mod events;
mod export;
mod feedback;
mod incoming;
mod index;
mod open;
mod outbox;
mod oversight;
mod plans;
mod private_notes;
mod remote_scope;
mod report;
pub(crate) mod schema;
mod subject_access;
mod team_settings;
mod teams;

use std::collections::HashMap;
use std::path::PathBuf;

use holdfast_protocol::SharedClock;
use serde::{Deserialize, Serialize};

pub use crate::model::oversight::WorkKind;
pub use cases::{IfDuplicate, NewCase};
pub use checkpoints::Restarted;
pub use connections::AssetDemand;
pub use events::StoreEvent;
pub use export::{Export, RawDocument};
pub use incoming::PageOutcome;
pub use index::{AssetHit, CaseloadEntry, CaseloadFilter, DirectoryQuery};
pub use outbox::{PendingEnvelope, RefusedEnvelope};
pub use oversight::{
    LoadLimits, Member, NewComment, QueueEntry, WorkItem, WorkerLoad, days_between,
};
pub use subject_access::{
    AssetName, Change, NoteAmendment, REVIEW_NOTICE, ReviewFlag, SubjectAccess,
};
pub use team_settings::TeamLimits;
pub(crate) use teams::check_relay_url;
pub use teams::{PlainHttp, SyncStatus, TeamInfo};

use crate::Result;
use crate::access::{Identity, TeamAccess};
use crate::crypto::TeamKeys;
use crate::model::doc::Author;
use crate::model::ids::TeamId;

/// The key store entry holding the database key.
pub const STORE_KEY_NAME: &str = "holdfast-store";
const DB_FILE: &str = "holdfast.db";

/// How hard the store works to survive power loss.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Durability {
    /// fsync on every commit: an acknowledged edit survives a crash or power loss.
    #[default]
    Full,
    /// fsync at WAL checkpoints only: survives a process crash, may lose the last edits on
    /// power loss. For bulk loads (seeding, imports) that can be repeated.
    Relaxed,
}

/// Where the store lives and how it behaves.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// The folder holding the database.
    pub dir: PathBuf,
    /// The person using this device (recorded on every change).
    pub person: String,
    /// Commit durability.
    pub durability: Durability,
    /// Fold a document's changes into a new snapshot after this many.
    pub compact_after: u32,
    /// Documents kept loaded in memory (256 by default), the least recently used evicted
    /// first: a burst of edits, or a page pulled from a colleague, across a hundred cases
    /// finds them loaded.
    pub cache_docs: usize,
    /// Where the time comes from: the system clock, or a test's
    /// [`ManualClock`](holdfast_protocol::ManualClock). Every time the store stamps (an
    /// edit, a sync outcome, an invite's expiry) is read from it.
    pub clock: SharedClock,
}

impl StoreConfig {
    /// A configuration with the defaults.
    pub fn new(dir: impl Into<PathBuf>, person: &str) -> Self {
        StoreConfig {
            dir: dir.into(),
            person: person.to_owned(),
            durability: Durability::Full,
            compact_after: 128,
            cache_docs: 256,
            clock: holdfast_protocol::system_clock(),
        }
    }

    /// The same configuration reading time from `clock`.
    pub fn with_clock(mut self, clock: SharedClock) -> Self {
        self.clock = clock;
        self
    }

    /// The database file.
    pub fn db_path(&self) -> PathBuf {
        self.dir.join(DB_FILE)
    }
}

/// The device's store.
pub struct Store {
    conn: rusqlite::Connection,
    config: StoreConfig,
    author: Author,
    docs: doc_cache::DocCache,
    /// The device's id and keys (their seeds live in the host's key store, never in the file).
    identity: Identity,
    /// Each team's verified membership and this device's place in it.
    access: HashMap<TeamId, TeamAccess>,
    /// The keys this device holds, per team.
    team_keys: HashMap<TeamId, TeamKeys>,
    /// The team new documents are shared in.
    current_team: Option<TeamId>,
    /// What changed, for observers (the app's screens): local edits and remote changes.
    events: tokio::sync::broadcast::Sender<StoreEvent>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("dir", &self.config.dir)
            .field("device", &self.author.device)
            .finish()
    }
}

impl Store {
    /// The author of this device's changes.
    pub fn author(&self) -> &Author {
        &self.author
    }

    /// The store's configuration.
    pub fn config(&self) -> &StoreConfig {
        &self.config
    }

    /// Changes commit durability (e.g. relaxed for a bulk load, then back to full).
    pub fn set_durability(&mut self, durability: Durability) -> Result<()> {
        open::configure(&self.conn, durability)?;
        self.config.durability = durability;
        Ok(())
    }

    /// Replaces the clock this store reads, returning the one it read before: for seeded
    /// data, whose changes are dated on the days they describe.
    #[cfg(feature = "seed")]
    pub(crate) fn swap_clock(&mut self, clock: SharedClock) -> SharedClock {
        std::mem::replace(&mut self.config.clock, clock)
    }

    /// The clock this store reads (`StoreConfig::clock`).
    pub fn clock(&self) -> &SharedClock {
        &self.config.clock
    }

    /// Now, by the store's clock, in ms since the epoch.
    pub(crate) fn now_ms(&self) -> u64 {
        self.config.clock.now_ms()
    }

    /// Now, by the store's clock, as the database and documents keep it.
    pub(crate) fn now_millis(&self) -> i64 {
        i64::try_from(self.now_ms()).unwrap_or(i64::MAX)
    }
}
