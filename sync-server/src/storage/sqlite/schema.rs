//! The relay database's schema, by version.
//!
//! Version 6 (issue 14): envelope ids are indexed in their own table (`envelope_ids`),
//! written in key order by the writer's sweep rather than on every insert, and each team
//! notes up to which sequence number its ids are all there (`teams.ids_merged`); see
//! `sqlite/ids.rs`. The expression index on the id prefix is gone.
//!
//! Version 5 (issue 12): each envelope of a staff member's private notes names its owner
//! (`envelopes.private_to`), so reads leave them out for anyone else but supervisors and
//! admins; a key bundle says whether it hands on private-notes keys
//! (`key_bundles.private_notes`), the kind a sender's next one replaces.
//!
//! Version 4 (issue 10): key bundles staged for a revocation still to come
//! (`staged_bundles`), never served; the revocation's append moves them to `key_bundles`.
//!
//! Version 3 (issue 10): each team's envelope bytes (`teams.envelope_bytes`), kept by the
//! writer with the head, for the per-team quota; the snapshot index holds only the
//! snapshots a compact pull can use.
//!
//! Version 2 (issue 4): teams (head, key epoch, membership length, bundle head), the
//! signed membership log, the roster derived from it, key bundles and envelopes. Envelope
//! and bundle bytes are opaque ciphertext; only clear-header fields are columns.
//!
//! Version 1 (a roster of admins and members with no signed log) cannot be migrated: its
//! roster carries no signatures, so no membership log can be made from it. Opening one is
//! refused with an error that says so; the relay needs a new data directory.

use rusqlite::Connection;

use super::sql_error;
use crate::storage::{Error, Result};

/// The schema version this build writes.
pub const VERSION: i64 = 6;

const V2: &str = "
CREATE TABLE teams (
    id             BLOB PRIMARY KEY,
    created_at     INTEGER NOT NULL,
    -- The last envelope sequence number given out; the writer keeps it in step.
    head           INTEGER NOT NULL DEFAULT 0,
    -- The key epoch (1 until the first revocation).
    epoch          INTEGER NOT NULL DEFAULT 1,
    -- Entries in the membership log.
    membership_len INTEGER NOT NULL DEFAULT 0,
    -- The last key-bundle sequence number given out.
    bundle_head    INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

-- The signed membership log (HFM1 entries), numbered from 0 (the genesis).
CREATE TABLE membership (
    team    BLOB NOT NULL REFERENCES teams(id),
    seq     INTEGER NOT NULL,
    entry   BLOB NOT NULL,
    -- The patient (invite id) the entry concerns, if any: hidden from other patients.
    subject BLOB,
    PRIMARY KEY (team, seq)
);

-- The roster as the log makes it: login looks keys up here.
CREATE TABLE devices (
    team       BLOB NOT NULL REFERENCES teams(id),
    device     BLOB NOT NULL,
    public_key BLOB NOT NULL,
    hpke_key   BLOB NOT NULL,
    role       TEXT NOT NULL
               CHECK (role IN ('admin', 'supervisor', 'link_worker', 'patient')),
    plan       BLOB,
    invite     BLOB,
    added_at   INTEGER NOT NULL,
    added_by   BLOB NOT NULL,
    revoked_at INTEGER,
    PRIMARY KEY (team, device)
) WITHOUT ROWID;
CREATE INDEX devices_by_device ON devices(device);

-- Key bundles (HFK1), numbered per team from 1.
CREATE TABLE key_bundles (
    team      BLOB NOT NULL REFERENCES teams(id),
    seq       INTEGER NOT NULL,
    recipient BLOB NOT NULL,
    sender    BLOB NOT NULL,
    bytes     BLOB NOT NULL,
    PRIMARY KEY (team, seq)
);
CREATE INDEX key_bundles_by_recipient ON key_bundles(team, recipient, seq);

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
-- Pulls of one document (a patient's plan, `doc=`).
CREATE INDEX envelopes_by_document ON envelopes(team, document, seq);
";

/// Version 2 to 3: the bytes each team's envelopes take, counted once from what is stored;
/// compact pulls look only at snapshots that can leave something out (those that cover less
/// than their own sequence number), so each envelope's check is one index seek rather than
/// a walk over its document's envelopes.
const V3: &str = "
ALTER TABLE teams ADD COLUMN envelope_bytes INTEGER NOT NULL DEFAULT 0;
UPDATE teams SET envelope_bytes =
    (SELECT COALESCE(SUM(length(bytes)), 0) FROM envelopes WHERE envelopes.team = teams.id);
DROP INDEX envelopes_snapshots;
CREATE INDEX envelopes_valid_snapshots ON envelopes(team, document, covers, seq)
    WHERE kind = 2 AND covers < seq;
";

/// Version 3 to 4: bundles staged for a revocation (one per sender and recipient).
const V4: &str = "
CREATE TABLE staged_bundles (
    team       BLOB NOT NULL REFERENCES teams(id),
    sender     BLOB NOT NULL,
    recipient  BLOB NOT NULL,
    -- The commitment to the new epoch key the revocation will carry.
    commitment BLOB NOT NULL,
    staged_at  INTEGER NOT NULL,
    bytes      BLOB NOT NULL,
    PRIMARY KEY (team, sender, recipient)
);
";

/// Version 4 to 5: private notes. Envelopes stored before name no owner: none of them is
/// anyone's private notes (devices began writing them with this version; one pushed through
/// an older relay stays readable by every staff device's relay reads, and still opens for
/// none but its readers).
const V5: &str = "
ALTER TABLE envelopes ADD COLUMN private_to BLOB;
ALTER TABLE key_bundles ADD COLUMN private_notes INTEGER NOT NULL DEFAULT 0;
CREATE INDEX key_bundles_private_notes ON key_bundles(team, sender, recipient)
    WHERE private_notes = 1;
";

/// Version 5 to 6: the id index as a table of its own, filled from what is stored (in key
/// order, so the copy writes each page once), every team marked complete. The old index
/// goes first, so the new table reuses its pages, and the copy reads the envelopes table
/// straight through (`NOT INDEXED`) and sorts on disk (see [`migrate`]) rather than
/// visiting each row by its id at random.
const V6: &str = "
DROP INDEX envelopes_by_id;
CREATE TABLE envelope_ids (
    -- The first 8 bytes of the envelope id; lookups compare the whole id in envelopes.
    prefix BLOB NOT NULL,
    team   BLOB NOT NULL,
    seq    INTEGER NOT NULL,
    PRIMARY KEY (prefix, team, seq)
) WITHOUT ROWID;
INSERT INTO envelope_ids (prefix, team, seq)
    SELECT substr(id, 1, 8), team, seq FROM envelopes NOT INDEXED ORDER BY 1, 2, 3;
-- Every id of the team's envelopes up to this sequence number is in envelope_ids.
ALTER TABLE teams ADD COLUMN ids_merged INTEGER NOT NULL DEFAULT 0;
UPDATE teams SET ids_merged = head;
";

/// `(from, to, statements)`: the way from each version this relay can open to the next (0
/// is a new, empty file).
const STEPS: [(i64, i64, &[&str]); 5] = [
    (0, 3, &[V2, V3]),
    (2, 3, &[V3]),
    (3, 4, &[V4]),
    (4, 5, &[V5]),
    (5, 6, &[V6]),
];

/// The schema version of an open database (0 for a new, empty file).
pub fn version(conn: &Connection) -> Result<i64> {
    conn.query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(sql_error)
}

/// Creates the schema in a new database. Refuses, untouched, a file written by a newer
/// relay, and one written by a relay from before the signed membership log (version 1).
pub fn migrate(conn: &mut Connection) -> Result<()> {
    let from = version(conn)?;
    match from {
        VERSION => return Ok(()),
        0 | 2 | 3 | 4 | 5 => {}
        1 => {
            return Err(Error::Backend(
                "this database was made by an older relay (schema version 1: a device roster \
             without a signed membership log). It cannot be migrated, because its roster \
             carries no signatures: start the relay with a new data directory, then create \
             each team again and enrol its devices with invites"
                    .into(),
            ));
        }
        newer if newer > VERSION => {
            return Err(Error::Backend(format!(
                "database schema version {newer} is newer than this relay's {VERSION}"
            )));
        }
        other => {
            return Err(Error::Backend(format!(
                "database schema version {other} is not one this relay knows"
            )));
        }
    }
    if from != 0 {
        tracing::info!(
            from,
            version = VERSION,
            "migrating the relay database (from version 5, every stored envelope's id is \
             copied: minutes for millions of envelopes)"
        );
    }
    // A step may sort a whole table (5 to 6 sorts every envelope's id): in temporary files,
    // not in memory, whatever the connection uses otherwise.
    let temp_store: i64 = conn
        .query_row("PRAGMA temp_store", [], |r| r.get(0))
        .map_err(sql_error)?;
    conn.pragma_update(None, "temp_store", "FILE")
        .map_err(sql_error)?;
    let stepped = run_steps(conn, from);
    conn.pragma_update(None, "temp_store", temp_store)
        .map_err(sql_error)?;
    stepped?;
    if from == 0 {
        tracing::info!(version = VERSION, "relay database created");
    } else {
        tracing::info!(from, version = VERSION, "relay database migrated");
    }
    Ok(())
}

/// Every step from `from` on, in one transaction: a failure leaves the file as it was.
fn run_steps(conn: &mut Connection, from: i64) -> Result<()> {
    let tx = conn.transaction().map_err(sql_error)?;
    let mut at = from;
    while at != VERSION {
        let Some((_, to, statements)) = STEPS.iter().find(|(f, _, _)| *f == at) else {
            return Err(Error::Backend(format!(
                "no migration from schema version {at}"
            )));
        };
        for statements in *statements {
            tx.execute_batch(statements).map_err(sql_error)?;
        }
        at = *to;
    }
    tx.pragma_update(None, "user_version", VERSION)
        .map_err(sql_error)?;
    tx.commit().map_err(sql_error)
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
                 AND name IN ('teams', 'membership', 'devices', 'key_bundles', 'envelopes',
                              'staged_bundles')",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(tables, 6);
    }

    #[test]
    fn a_version_5_database_moves_its_envelope_ids_into_the_id_table() {
        let mut conn = Connection::open_in_memory().unwrap();
        for step in [V2, V3, V4, V5] {
            conn.execute_batch(step).unwrap();
        }
        conn.pragma_update(None, "user_version", 5).unwrap();
        conn.execute_batch(
            "INSERT INTO teams (id, created_at, head) VALUES (x'01', 0, 2), (x'02', 0, 0);
             INSERT INTO envelopes (team, seq, id, document, kind, covers, author, received_at, bytes)
             VALUES (x'01', 1, x'a1a2a3a4a5a6a7a8a9', x'd0', 1, 0, x'e0', 0, zeroblob(300)),
                    (x'01', 2, x'b1b2b3b4b5b6b7b8b9', x'd0', 1, 0, x'e0', 0, zeroblob(500));",
        )
        .unwrap();
        migrate(&mut conn).unwrap();
        assert_eq!(version(&conn).unwrap(), VERSION);
        let ids: Vec<(Vec<u8>, Vec<u8>, i64)> = conn
            .prepare("SELECT prefix, team, seq FROM envelope_ids ORDER BY prefix")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert_eq!(
            ids,
            [
                (
                    vec![0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8],
                    vec![1],
                    1
                ),
                (
                    vec![0xb1, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8],
                    vec![1],
                    2
                ),
            ]
        );
        let marks: Vec<(Vec<u8>, i64)> = conn
            .prepare("SELECT id, ids_merged FROM teams ORDER BY id")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert_eq!(marks, [(vec![1], 2), (vec![2], 0)]);
        // The envelopes themselves are kept as they were; the old index is gone.
        let (count, bytes): (i64, i64) = conn
            .query_row(
                "SELECT count(*), sum(length(bytes)) FROM envelopes",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!((count, bytes), (2, 800));
        let old_index: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE name = 'envelopes_by_id'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(old_index, 0);
    }

    #[test]
    fn a_version_4_database_keeps_its_envelopes_and_bundles_as_nobodys_private_notes() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(V2).unwrap();
        conn.execute_batch(V3).unwrap();
        conn.execute_batch(V4).unwrap();
        conn.pragma_update(None, "user_version", 4).unwrap();
        conn.execute_batch(
            "INSERT INTO teams (id, created_at, head, bundle_head) VALUES (x'01', 0, 1, 1);
             INSERT INTO envelopes (team, seq, id, document, kind, covers, author, received_at, bytes)
             VALUES (x'01', 1, x'a1', x'd0', 1, 0, x'e0', 0, zeroblob(300));
             INSERT INTO key_bundles (team, seq, recipient, sender, bytes)
             VALUES (x'01', 1, x'0a', x'0b', zeroblob(40));",
        )
        .unwrap();
        migrate(&mut conn).unwrap();
        assert_eq!(version(&conn).unwrap(), VERSION);
        let (owner, notes): (Option<Vec<u8>>, i64) = conn
            .query_row(
                "SELECT e.private_to, b.private_notes FROM envelopes e, key_bundles b",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!((owner, notes), (None, 0));
    }

    #[test]
    fn a_version_3_database_gains_the_staging_table_and_keeps_its_bundles() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(V2).unwrap();
        conn.execute_batch(V3).unwrap();
        conn.pragma_update(None, "user_version", 3).unwrap();
        conn.execute_batch(
            "INSERT INTO teams (id, created_at, bundle_head) VALUES (x'01', 0, 1);
             INSERT INTO key_bundles (team, seq, recipient, sender, bytes)
             VALUES (x'01', 1, x'0a', x'0b', zeroblob(40));",
        )
        .unwrap();
        migrate(&mut conn).unwrap();
        assert_eq!(version(&conn).unwrap(), VERSION);
        let kept: i64 = conn
            .query_row("SELECT count(*) FROM key_bundles", [], |r| r.get(0))
            .unwrap();
        assert_eq!(kept, 1);
        conn.execute(
            "INSERT INTO staged_bundles (team, sender, recipient, commitment, staged_at, bytes)
             VALUES (x'01', x'0b', x'0a', zeroblob(32), 0, zeroblob(40))",
            [],
        )
        .unwrap();
    }

    #[test]
    fn a_version_2_database_counts_each_teams_envelope_bytes_and_indexes_usable_snapshots() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(V2).unwrap();
        conn.pragma_update(None, "user_version", 2).unwrap();
        conn.execute_batch(
            "INSERT INTO teams (id, created_at, head) VALUES (x'01', 0, 2), (x'02', 0, 0);
             INSERT INTO envelopes (team, seq, id, document, kind, covers, author, received_at, bytes)
             VALUES (x'01', 1, x'a1', x'd0', 1, 0, x'e0', 0, zeroblob(300)),
                    (x'01', 2, x'a2', x'd0', 1, 0, x'e0', 0, zeroblob(500));",
        )
        .unwrap();
        migrate(&mut conn).unwrap();
        assert_eq!(version(&conn).unwrap(), VERSION);
        let bytes: Vec<(Vec<u8>, i64)> = conn
            .prepare("SELECT id, envelope_bytes FROM teams ORDER BY id")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert_eq!(bytes, [(vec![1], 800), (vec![2], 0)]);
        let indexes: Vec<String> = conn
            .prepare(
                "SELECT name FROM sqlite_master WHERE type = 'index' AND name LIKE '%snapshots'",
            )
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert_eq!(indexes, ["envelopes_valid_snapshots"]);
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

    #[test]
    fn a_database_from_before_the_membership_log_is_refused_untouched() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE teams (id BLOB PRIMARY KEY); PRAGMA user_version = 1;")
            .unwrap();
        let err = migrate(&mut conn).unwrap_err().to_string();
        assert!(err.contains("older relay"), "{err}");
        assert!(err.contains("new data directory"), "{err}");
        assert_eq!(version(&conn).unwrap(), 1);
    }
}
