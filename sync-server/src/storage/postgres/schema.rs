//! The PostgreSQL schema, by version, and its migrations.
//!
//! The versions applied are rows of `holdfast_schema` (in the schema the connection's
//! `search_path` names, with the relay's tables). Every migration a relay still has to apply
//! runs in one transaction that first takes a transaction-scoped advisory lock, so several
//! relays starting at once on one database apply each step exactly once: the others wait for
//! the lock, then read the versions the first one committed and find nothing to do. A
//! database from a newer relay is refused untouched.
//!
//! Version 1 (issue 11): what the SQLite backend's schema 4 holds, in PostgreSQL's types
//! (`bytea` for ids and bytes, `bigint` for sequence numbers, times and epochs). Version 2:
//! the token key and login challenges the relays of one database share. Version 3 (issue 12,
//! as the SQLite schema's version 5): the owner of each envelope of a staff member's private
//! notes, and which key bundles hand on private-notes keys.

use tokio_postgres::Client;

use super::pg_error;
use crate::storage::{Error, Result};

/// The schema version this build writes.
pub const VERSION: i32 = 3;

/// The advisory lock migrations hold (the two-key form, whose key space is apart from the
/// one-key form the backend locks devices with): "Hold" and 1.
const MIGRATION_LOCK: (i32, i32) = (0x486f_6c64, 1);

const V1: &str = "
CREATE TABLE teams (
    id             bytea PRIMARY KEY,
    created_at     bigint NOT NULL,
    -- The last envelope sequence number given out. Pushes lock this row (FOR UPDATE) to
    -- allocate the next ones, which serialises them per team.
    head           bigint NOT NULL DEFAULT 0,
    epoch          bigint NOT NULL DEFAULT 1,
    membership_len bigint NOT NULL DEFAULT 0,
    bundle_head    bigint NOT NULL DEFAULT 0,
    -- The bytes of the team's envelopes, for its quota, kept with the head.
    envelope_bytes bigint NOT NULL DEFAULT 0
);

-- The signed membership log (HFM1 entries), numbered from 0 (the genesis).
CREATE TABLE membership (
    team    bytea NOT NULL REFERENCES teams(id),
    seq     bigint NOT NULL,
    entry   bytea NOT NULL,
    subject bytea,
    PRIMARY KEY (team, seq)
);

-- The roster as the log makes it: login looks keys up here.
CREATE TABLE devices (
    team       bytea NOT NULL REFERENCES teams(id),
    device     bytea NOT NULL,
    public_key bytea NOT NULL,
    hpke_key   bytea NOT NULL,
    role       text NOT NULL
               CHECK (role IN ('admin', 'supervisor', 'link_worker', 'patient')),
    plan       bytea,
    invite     bytea,
    added_at   bigint NOT NULL,
    added_by   bytea NOT NULL,
    revoked_at bigint,
    PRIMARY KEY (team, device)
);
CREATE INDEX devices_by_device ON devices(device);

-- Key bundles (HFK1), numbered per team from 1.
CREATE TABLE key_bundles (
    team      bytea NOT NULL REFERENCES teams(id),
    seq       bigint NOT NULL,
    recipient bytea NOT NULL,
    sender    bytea NOT NULL,
    bytes     bytea NOT NULL,
    PRIMARY KEY (team, seq)
);
CREATE INDEX key_bundles_by_recipient ON key_bundles(team, recipient, seq);

-- Bundles staged for a revocation still to come (one per sender and recipient).
CREATE TABLE staged_bundles (
    team       bytea NOT NULL REFERENCES teams(id),
    sender     bytea NOT NULL,
    recipient  bytea NOT NULL,
    commitment bytea NOT NULL,
    staged_at  bigint NOT NULL,
    bytes      bytea NOT NULL,
    PRIMARY KEY (team, sender, recipient)
);

CREATE TABLE envelopes (
    team        bytea NOT NULL,
    seq         bigint NOT NULL,
    -- SHA-256 of bytes, unique across teams.
    id          bytea NOT NULL UNIQUE,
    document    bytea NOT NULL,
    kind        smallint NOT NULL,
    -- Saturated at 2^63-1: a snapshot cannot cover more than exists anyway.
    covers      bigint NOT NULL,
    author      bytea NOT NULL,
    received_at bigint NOT NULL,
    bytes       bytea NOT NULL,
    PRIMARY KEY (team, seq)
);
-- Ciphertext does not compress: store it out of line without trying.
ALTER TABLE envelopes ALTER COLUMN bytes SET STORAGE EXTERNAL;
ALTER TABLE key_bundles ALTER COLUMN bytes SET STORAGE EXTERNAL;
ALTER TABLE staged_bundles ALTER COLUMN bytes SET STORAGE EXTERNAL;
-- Compact pulls look only at snapshots that can leave something out (see the SQLite
-- schema's version 3).
CREATE INDEX envelopes_valid_snapshots ON envelopes(team, document, covers, seq)
    WHERE kind = 2 AND covers < seq;
-- Pulls of one document (a patient's plan, `doc=`).
CREATE INDEX envelopes_by_document ON envelopes(team, document, seq);
";

/// Version 2 (issue 11, several relays): what the relays of one database share besides
/// the data: the key that signs bearer tokens (so a token one relay issued is good at
/// every other), and outstanding login challenges (so a challenge asked of one relay can
/// be answered at another, once).
const V2: &str = "
CREATE TABLE relay_secrets (
    name   text PRIMARY KEY,
    secret bytea NOT NULL
);

CREATE TABLE login_challenges (
    challenge bytea PRIMARY KEY,
    device    bytea NOT NULL,
    issued_at bigint NOT NULL
);
CREATE INDEX login_challenges_by_age ON login_challenges(issued_at);
";

/// Version 3 (issue 12): private notes. Envelopes stored before name no owner.
const V3: &str = "
ALTER TABLE envelopes ADD COLUMN private_to bytea;
ALTER TABLE key_bundles ADD COLUMN private_notes boolean NOT NULL DEFAULT false;
CREATE INDEX key_bundles_private_notes ON key_bundles(team, sender, recipient)
    WHERE private_notes;
";

/// `(version, statements)`: each step, in order.
const STEPS: &[(i32, &str)] = &[(1, V1), (2, V2), (3, V3)];

/// The highest version applied to the database `client` reaches (0 for none).
pub async fn version(client: &Client) -> Result<i32> {
    let exists: bool = client
        .query_one("SELECT to_regclass('holdfast_schema') IS NOT NULL", &[])
        .await
        .and_then(|row| row.try_get(0))
        .map_err(pg_error)?;
    if !exists {
        return Ok(0);
    }
    client
        .query_one("SELECT COALESCE(max(version), 0) FROM holdfast_schema", &[])
        .await
        .and_then(|row| row.try_get(0))
        .map_err(pg_error)
}

/// Brings the schema to [`VERSION`], in one transaction under the migration lock.
pub async fn migrate(client: &mut Client) -> Result<()> {
    let tx = client.transaction().await.map_err(pg_error)?;
    tx.execute(
        "SELECT pg_advisory_xact_lock($1, $2)",
        &[&MIGRATION_LOCK.0, &MIGRATION_LOCK.1],
    )
    .await
    .map_err(pg_error)?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS holdfast_schema (
             version    integer PRIMARY KEY,
             applied_at timestamptz NOT NULL DEFAULT now()
         )",
    )
    .await
    .map_err(pg_error)?;
    let from: i32 = tx
        .query_one("SELECT COALESCE(max(version), 0) FROM holdfast_schema", &[])
        .await
        .and_then(|row| row.try_get(0))
        .map_err(pg_error)?;
    if from > VERSION {
        // Dropping the transaction rolls it back: nothing of this relay's is left behind.
        return Err(Error::Backend(format!(
            "database schema version {from} is newer than this relay's {VERSION}"
        )));
    }
    for (version, statements) in STEPS.iter().filter(|(v, _)| *v > from) {
        tx.batch_execute(statements).await.map_err(pg_error)?;
        tx.execute(
            "INSERT INTO holdfast_schema (version) VALUES ($1)",
            &[version],
        )
        .await
        .map_err(pg_error)?;
    }
    tx.commit().await.map_err(pg_error)?;
    match from {
        VERSION => {}
        0 => tracing::info!(version = VERSION, "relay database created (PostgreSQL)"),
        _ => tracing::info!(
            from,
            version = VERSION,
            "relay database migrated (PostgreSQL)"
        ),
    }
    Ok(())
}
