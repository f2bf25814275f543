//! Where a test relay keeps its data, and how an operator backs it up and restores it
//! (docs/OPERATIONS.md): SQLite with `VACUUM INTO` while the relay runs and a copy over its
//! file while it is stopped; PostgreSQL with `pg_dump` and `pg_restore` of its schema.

use std::path::PathBuf;

use super::postgres::TestSchema;
use super::{TestRelay, TestRelayBuilder};

/// A relay's storage, for tests that back it up and restore it.
#[derive(Debug)]
pub enum Backing {
    /// The embedded SQLite file in the relay's data folder.
    Sqlite,
    /// A PostgreSQL schema of the test's own.
    Postgres(Box<TestSchema>),
}

impl Backing {
    /// PostgreSQL, on a fresh schema.
    pub fn postgres() -> Backing {
        Backing::Postgres(Box::default())
    }

    /// `"sqlite"` or `"postgres"`.
    pub fn name(&self) -> &'static str {
        match self {
            Backing::Sqlite => "sqlite",
            Backing::Postgres(_) => "postgres",
        }
    }

    /// Starts `builder`'s relay on this storage.
    pub async fn start(&self, builder: TestRelayBuilder) -> TestRelay {
        match self {
            Backing::Sqlite => builder.start().await,
            Backing::Postgres(schema) => builder.database(&schema.url()).start().await,
        }
    }

    /// Backs the relay's data up while it runs (into its data folder).
    pub fn back_up(&self, relay: &TestRelay) {
        match self {
            Backing::Sqlite => {
                let db = relay.data_dir().join("relay.db");
                let backup = self.backup_file(relay);
                let conn = rusqlite::Connection::open(&db).expect("the relay's database");
                conn.execute("VACUUM INTO ?1", [backup.to_string_lossy()])
                    .expect("VACUUM INTO");
            }
            Backing::Postgres(schema) => schema.back_up(&self.backup_file(relay)),
        }
    }

    /// Restores the backup over the relay's data. Stop the relay first.
    pub fn restore(&self, relay: &TestRelay) {
        match self {
            Backing::Sqlite => {
                let db = relay.data_dir().join("relay.db");
                for suffix in ["", "-wal", "-shm"] {
                    // Absent already is fine: only what is there must go.
                    let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
                }
                std::fs::copy(self.backup_file(relay), &db).expect("the backup copied back");
            }
            Backing::Postgres(schema) => schema.restore(&self.backup_file(relay)),
        }
    }

    fn backup_file(&self, relay: &TestRelay) -> PathBuf {
        relay.data_dir().join(match self {
            Backing::Sqlite => "backup.db",
            Backing::Postgres(_) => "backup.dump",
        })
    }
}
