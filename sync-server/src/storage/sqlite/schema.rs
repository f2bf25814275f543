//! The relay database's schema, by version, and the migrations between versions.
//!
//! Version 1: teams (with their head sequence number), the device roster and the
//! envelopes. Envelope bytes are opaque ciphertext; only clear-header fields are columns.

use rusqlite::Connection;

use super::sql_error;
use crate::storage::{Error, Result};

/// The schema version this build writes.
pub const VERSION: i64 = 1;

const V1: &str = "
CREATE TABLE teams (
    id         BLOB PRIMARY KEY,
    created_at INTEGER NOT NULL,
    -- The last sequence number given out; the writer keeps it in step with envelopes.
    head       INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

CREATE TABLE devices (
    team       BLOB NOT NULL REFERENCES teams(id),
    device     BLOB NOT NULL,
    public_key BLOB NOT NULL,
    role       TEXT NOT NULL CHECK (role IN ('admin', 'member')),
    added_at   INTEGER NOT NULL,
    added_by   BLOB NOT NULL,
    revoked_at INTEGER,
    PRIMARY KEY (team, device)
) WITHOUT ROWID;
-- Login looks a device's key up across teams.
CREATE INDEX devices_by_device ON devices(device);

CREATE TABLE envelopes (
    team        BLOB NOT NULL,
    seq         INTEGER NOT NULL,
    -- SHA-256 of bytes. Unique, which the writer enforces through envelopes_by_id.
    id          BLOB NOT NULL,
    document    BLOB NOT NULL,
    kind        INTEGER NOT NULL,
    -- Saturated at 2^63-1: a snapshot cannot cover more than exists anyway.
    covers      INTEGER NOT NULL,
    author      BLOB NOT NULL,
    received_at INTEGER NOT NULL,
    -- Last, so reading the other columns never walks a large envelope's overflow pages.
    bytes       BLOB NOT NULL,
    PRIMARY KEY (team, seq)
);
-- The first 8 bytes of the id, not all 32: the index is 2.5 times smaller, so more of it
-- stays in cache and fewer of its pages are rewritten per commit (random keys touch a page
-- per insert). Lookups compare the whole id.
CREATE INDEX envelopes_by_id ON envelopes(substr(id, 1, 8));
-- Compact pulls look for the snapshots of a document. Partial: change batches, nearly all
-- envelopes, never pay for this index on insert.
CREATE INDEX envelopes_snapshots ON envelopes(team, document, covers, seq) WHERE kind = 2;
";

/// Each step upgrades from the version before it; `STEPS[0]` creates version 1.
const STEPS: &[&str] = &[V1];

/// The schema version of an open database (0 for a new, empty file).
pub fn version(conn: &Connection) -> Result<i64> {
    conn.query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(sql_error)
}

/// Brings the database to [`VERSION`], one transaction per step. Refuses, untouched, a file
/// written by a newer relay.
pub fn migrate(conn: &mut Connection) -> Result<()> {
    let current = version(conn)?;
    if current > VERSION {
        return Err(Error::Backend(format!(
            "database schema version {current} is newer than this relay's {VERSION}"
        )));
    }
    for (from, step) in STEPS
        .iter()
        .enumerate()
        .skip(usize::try_from(current).unwrap_or(0))
    {
        upgrade_from(conn, i64::try_from(from).unwrap_or(i64::MAX), step)?;
    }
    Ok(())
}

fn upgrade_from(conn: &mut Connection, from: i64, sql: &str) -> Result<()> {
    let tx = conn.transaction().map_err(sql_error)?;
    tx.execute_batch(sql).map_err(sql_error)?;
    tx.pragma_update(None, "user_version", from + 1)
        .map_err(sql_error)?;
    tx.commit().map_err(sql_error)?;
    tracing::info!(from, to = from + 1, "relay database schema upgraded");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_database_reaches_the_current_version_and_migrating_again_is_a_no_op() {
        let mut conn = Connection::open_in_memory().unwrap();
        assert_eq!(version(&conn).unwrap(), 0);
        migrate(&mut conn).unwrap();
        assert_eq!(version(&conn).unwrap(), VERSION);
        migrate(&mut conn).unwrap();
        assert_eq!(version(&conn).unwrap(), VERSION);
        let tables: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table'
                 AND name IN ('teams', 'devices', 'envelopes')",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(tables, 3);
    }

    #[test]
    fn a_database_from_a_newer_relay_is_refused_untouched() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.pragma_update(None, "user_version", VERSION + 1)
            .unwrap();
        let err = migrate(&mut conn).unwrap_err();
        assert!(err.to_string().contains("newer"), "{err}");
        assert_eq!(version(&conn).unwrap(), VERSION + 1);
        let tables: i64 = conn
            .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))
            .unwrap();
        assert_eq!(tables, 0);
    }
}
