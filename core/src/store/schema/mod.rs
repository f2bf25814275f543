//! The store's schema, by version, and the migrations between versions.
//!
//! Version 1 holds what cannot be rebuilt: documents (an Automerge snapshot plus the
//! changes written since), the outbox and the device's identity. Version 2 adds the derived
//! indexes (caseload, directory search); they are rebuilt from the documents on upgrade.
//! Version 3 adds sync: the teams this device belongs to (relay, cursor, status), each
//! document's team, envelopes sealed from the outbox and waiting for the relay, and
//! envelopes refused on receipt.
//! Version 4 adds access (issue 4): each team's verified membership log, this device's
//! role, plan and the team's key epoch, and the team and document keys it holds (in this
//! encrypted database; the device's private keys stay in the host's key store). Teams from
//! version 3 were keyed by a shared secret and have no signed membership: they are kept
//! (their documents are untouched) but marked `legacy` and no longer sync.
//! Version 5 adds redeems in flight: a Redeem entry is kept from just before it is sent
//! until the device has joined, so a redeem whose answer was lost can be sent again, byte
//! for byte, and the relay recognises it.
//! Version 6 indexes the caseload by NHS number, so a second case for the same patient is
//! found (and refused unless deliberate) without reading every row.
//! Version 7 keeps, with each team, the pin of its relay's CA when the relay is self-hosted
//! (from the invite code, or given when the team was made): the sync client then trusts that
//! CA, and only it, for the relay. Teams from before have none: the platform's roots.
//! Version 8 (issue 10) remembers, for each device revoked from a team, where this device's
//! envelope cursor stood when it learned of the revocation (the revoked device's envelopes
//! that reach it later are refused, whatever epoch they claim), and which authors' envelopes
//! it applied to which documents (a revoker passes on, in snapshots, what the revoked device
//! wrote before). Revocations folded before the upgrade count from the cursor at the first
//! open. Versions 9 to 11 (issues 10 and 11) keep what a device owes: snapshots of what a
//! revoked author wrote (9), and for a relay restored from a backup, checkpoints of what
//! the relay acknowledged and the documents to upload again (10), with whether the relay
//! already holds them whole (11). Version 12 (issue 12) indexes oversight; version 13
//! (issue 13) each plan step's connection to a community asset. Version 14 (issue 14) keeps
//! each team's folded membership beside its log, so an open verifies only newer entries.
//! Version 15 (issue 14) indexes the caseload in list order, cases by plan, closed cases and
//! documents by when they changed, and keeps each asset's name beside its categories.

use rusqlite::Connection;

use crate::{Error, Result};

/// The schema version this build writes.
pub const VERSION: i64 = 15;

const V1: &str = "
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value BLOB NOT NULL
);
CREATE TABLE documents (
    id           BLOB PRIMARY KEY,
    kind         TEXT NOT NULL,
    snapshot     BLOB NOT NULL,
    change_count INTEGER NOT NULL DEFAULT 0,
    updated_at   INTEGER NOT NULL
);
-- Changes written since the document's snapshot; folded into it by compaction.
CREATE TABLE changes (
    seq    INTEGER PRIMARY KEY AUTOINCREMENT,
    doc_id BLOB NOT NULL REFERENCES documents(id),
    hash   BLOB NOT NULL,
    bytes  BLOB NOT NULL
);
CREATE INDEX changes_by_doc ON changes(doc_id, seq);
-- Local changes not yet confirmed by the relay. Written in the same transaction as the
-- change itself; only the sync client removes rows, after the relay acknowledges them.
CREATE TABLE outbox (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    doc_id     BLOB NOT NULL,
    hash       BLOB NOT NULL,
    bytes      BLOB NOT NULL,
    created_at INTEGER NOT NULL
);
";

const V2: &str = "
CREATE TABLE caseload (
    case_id           BLOB PRIMARY KEY,
    plan_id           BLOB,
    patient_name      TEXT NOT NULL,
    nhs_number        TEXT,
    practice          TEXT,
    status            TEXT NOT NULL,
    status_conflicted INTEGER NOT NULL,
    last_contact      INTEGER,
    last_session_start INTEGER,
    next_follow_up    TEXT,
    open_safeguarding INTEGER NOT NULL,
    session_count     INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL
);
CREATE INDEX caseload_by_status ON caseload(status, next_follow_up);
CREATE TABLE assets (
    rowid             INTEGER PRIMARY KEY,
    directory_id      BLOB NOT NULL,
    asset_id          BLOB NOT NULL,
    name              TEXT NOT NULL,
    organisation      TEXT,
    postcode_district TEXT,
    capacity          TEXT NOT NULL,
    status            TEXT NOT NULL,
    UNIQUE (directory_id, asset_id)
);
CREATE INDEX assets_by_district ON assets(postcode_district);
CREATE TABLE asset_categories (
    asset_rowid INTEGER NOT NULL REFERENCES assets(rowid) ON DELETE CASCADE,
    category    TEXT NOT NULL,
    PRIMARY KEY (category, asset_rowid)
) WITHOUT ROWID;
CREATE VIRTUAL TABLE assets_fts USING fts5(
    name, description, categories,
    tokenize = 'porter unicode61 remove_diacritics 2'
);
";

const V3: &str = "
-- One row per team the device belongs to. `cursor` is the highest relay sequence number
-- whose envelope has been applied (or refused): pulls continue after it.
CREATE TABLE teams (
    id            BLOB PRIMARY KEY,
    relay_url     TEXT NOT NULL,
    created_here  INTEGER NOT NULL,
    registered    INTEGER NOT NULL DEFAULT 0,
    cursor        INTEGER NOT NULL DEFAULT 0,
    head_seen     INTEGER NOT NULL DEFAULT 0,
    last_push_at  INTEGER,
    last_pull_at  INTEGER,
    last_error    TEXT,
    offline       INTEGER NOT NULL DEFAULT 0,
    joined_at     INTEGER NOT NULL
);
-- NULL until the device creates or joins its first team; then every document gets one.
ALTER TABLE documents ADD COLUMN team_id BLOB REFERENCES teams(id);
-- Changes (local or remote) since this device last queued or received a snapshot.
ALTER TABLE documents ADD COLUMN changes_since_snapshot INTEGER NOT NULL DEFAULT 0;
CREATE INDEX documents_by_team ON documents(team_id);
-- Envelopes sealed exactly once and kept until the relay acknowledges them, so a retried
-- push sends identical bytes (the relay deduplicates by id).
CREATE TABLE sealed (
    id        BLOB PRIMARY KEY,
    team_id   BLOB NOT NULL REFERENCES teams(id),
    doc_id    BLOB NOT NULL,
    kind      INTEGER NOT NULL,
    bytes     BLOB NOT NULL,
    sealed_at INTEGER NOT NULL
);
CREATE INDEX sealed_by_team ON sealed(team_id);
-- Which sealed envelope carries each outbox change (NULL: not sealed yet).
ALTER TABLE outbox ADD COLUMN envelope_id BLOB;
CREATE INDEX outbox_by_envelope ON outbox(envelope_id);
-- Envelopes refused on receipt: never applied, kept for the record (no content).
CREATE TABLE refused (
    id          BLOB PRIMARY KEY,
    team_id     BLOB NOT NULL,
    seq         INTEGER NOT NULL,
    doc_id      BLOB NOT NULL,
    author      BLOB NOT NULL,
    reason      TEXT NOT NULL,
    refused_at  INTEGER NOT NULL
);
";

const V4: &str = "
ALTER TABLE teams ADD COLUMN legacy INTEGER NOT NULL DEFAULT 0;
UPDATE teams SET legacy = 1;
-- This device's role in the team (admin, supervisor, link_worker, patient), its plan when it
-- is a patient, the invite it redeemed, the relay's membership
-- log length and the key-bundle cursor.
ALTER TABLE teams ADD COLUMN role TEXT;
ALTER TABLE teams ADD COLUMN plan_id BLOB;
ALTER TABLE teams ADD COLUMN invite_id BLOB;
ALTER TABLE teams ADD COLUMN membership_len INTEGER NOT NULL DEFAULT 0;
ALTER TABLE teams ADD COLUMN keys_cursor INTEGER NOT NULL DEFAULT 0;
-- The team's membership entries as verified (a patient sees a filtered log: gaps in seq).
CREATE TABLE membership (
    team_id BLOB NOT NULL REFERENCES teams(id),
    seq     INTEGER NOT NULL,
    bytes   BLOB NOT NULL,
    PRIMARY KEY (team_id, seq)
) WITHOUT ROWID;
-- Keys this device holds: a team epoch key (doc_id empty) or one document's key.
-- Teams a document is shared into besides its own (a directory several teams use). Each
-- local change is queued for each of them; changes received through one are forwarded.
CREATE TABLE document_shares (
    doc_id  BLOB NOT NULL,
    team_id BLOB NOT NULL REFERENCES teams(id),
    PRIMARY KEY (doc_id, team_id)
) WITHOUT ROWID;
-- The team an outbox row is for, when not the document's own (a shared document).
ALTER TABLE outbox ADD COLUMN team_id BLOB;
CREATE TABLE team_keys (
    team_id BLOB NOT NULL REFERENCES teams(id),
    epoch   INTEGER NOT NULL,
    doc_id  BLOB NOT NULL,
    key     BLOB NOT NULL,
    PRIMARY KEY (team_id, epoch, doc_id)
) WITHOUT ROWID;
";

const V5: &str = "
-- A Redeem entry sent (or about to be) and not yet answered, by invite: sent again as it is
-- if the answer was lost. The role and plan come from the invite as verified.
CREATE TABLE pending_redeems (
    invite_id  BLOB PRIMARY KEY,
    team_id    BLOB NOT NULL,
    relay_url  TEXT NOT NULL,
    entry      BLOB NOT NULL,
    role       TEXT NOT NULL,
    plan_id    BLOB,
    genesis    BLOB NOT NULL,
    created_at INTEGER NOT NULL
) WITHOUT ROWID;
";

const V6: &str = "
-- Finding a patient's existing case by NHS number before a second one is created.
CREATE INDEX caseload_by_nhs_number ON caseload(nhs_number) WHERE nhs_number IS NOT NULL;
";

const V7: &str = "
-- SHA-256 of the DER of the relay's CA certificate, for a self-hosted relay (NULL: the
-- platform's roots). One relay URL has one pin on a device.
ALTER TABLE teams ADD COLUMN relay_pin BLOB;
";

const V8: &str = "
-- For each device revoked from a team, this device's envelope cursor when it folded the
-- revocation: the revoked device's envelopes with a later sequence number reached it after
-- it knew, and are refused (0 once the team was pulled again from the start).
CREATE TABLE revocations_folded (
    team_id BLOB NOT NULL REFERENCES teams(id),
    device  BLOB NOT NULL,
    cursor  INTEGER NOT NULL,
    PRIMARY KEY (team_id, device)
) WITHOUT ROWID;
-- Whose envelopes were applied to which document: a device that revokes another snapshots
-- the documents the other wrote to.
CREATE TABLE document_authors (
    team_id BLOB NOT NULL,
    author  BLOB NOT NULL,
    doc_id  BLOB NOT NULL,
    PRIMARY KEY (team_id, author, doc_id)
) WITHOUT ROWID;
-- A store from before this version knows nothing of who wrote what it already holds: a
-- device it revokes gets a snapshot of every document of the team, not only of those
-- document_authors names.
INSERT INTO meta (key, value) SELECT 'authors_incomplete', x'01' WHERE EXISTS (SELECT 1 FROM teams);
";

const V9: &str = "
-- Devices this device revoked whose documents it has still to snapshot (written with the
-- revocation's fold, so a crash or a lost answer cannot skip them; cleared once queued).
CREATE TABLE pending_author_snapshots (
    team_id BLOB NOT NULL,
    author  BLOB NOT NULL,
    PRIMARY KEY (team_id, author)
) WITHOUT ROWID;
";

const V10: &str = "
-- Envelope ids the relay gave this device at some of its sequence numbers (the last of each
-- page applied, the last of each push acknowledged), thinned so they thin out with age: the
-- device asks the relay for the id at the latest one to tell whether it still holds that
-- history, and for all of them to find where a restored relay's history parts from it.
CREATE TABLE relay_checkpoints (
    team_id     BLOB NOT NULL,
    seq         INTEGER NOT NULL,
    envelope_id BLOB NOT NULL,
    PRIMARY KEY (team_id, seq)
) WITHOUT ROWID;
-- The highest relay sequence number of each document's envelopes that this device applied
-- or pushed: after a relay restore that lost what came after N, the documents here with a
-- higher one are uploaded again.
CREATE TABLE document_seqs (
    team_id BLOB NOT NULL,
    doc_id  BLOB NOT NULL,
    seq     INTEGER NOT NULL,
    PRIMARY KEY (team_id, doc_id)
) WITHOUT ROWID;
CREATE INDEX document_seqs_by_seq ON document_seqs(team_id, seq);
-- Documents to upload again because a restored relay lost them: written with the restart,
-- cleared once each is queued (so a crash or a missing key only delays them).
CREATE TABLE pending_reuploads (
    team_id BLOB NOT NULL,
    doc_id  BLOB NOT NULL,
    PRIMARY KEY (team_id, doc_id)
) WITHOUT ROWID;
";

/// Version 11 (issue 11): whether the relay already holds, whole, a document this device
/// owes a restored relay: set from the last snapshot of it each pulled page brings, read
/// when the re-uploads are queued.
const V11: &str = "
ALTER TABLE pending_reuploads ADD COLUMN held INTEGER NOT NULL DEFAULT 0;
";

/// Version 12 (issue 12): oversight. The caseload row gains who holds the case, when it
/// entered its status, when its episode opened and was accepted, the referral awaiting
/// contact, the latest measure and the counters a review mark compares; each supervisor's
/// marks, supervision comments with their acknowledgement, ring-back tasks and the names
/// given to team members get their own tables. All derived: rebuilt from the documents on
/// upgrade.
const V12: &str = "
ALTER TABLE caseload ADD COLUMN assigned_to BLOB;
ALTER TABLE caseload ADD COLUMN assigned_conflicted INTEGER NOT NULL DEFAULT 0;
ALTER TABLE caseload ADD COLUMN status_since INTEGER;
ALTER TABLE caseload ADD COLUMN opened_at INTEGER;
ALTER TABLE caseload ADD COLUMN accepted_at INTEGER;
ALTER TABLE caseload ADD COLUMN awaiting_contact_since TEXT;
ALTER TABLE caseload ADD COLUMN last_measure_on TEXT;
ALTER TABLE caseload ADD COLUMN status_moves INTEGER NOT NULL DEFAULT 0;
ALTER TABLE caseload ADD COLUMN measure_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE caseload ADD COLUMN safeguarding_events INTEGER NOT NULL DEFAULT 0;
ALTER TABLE caseload ADD COLUMN comment_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE caseload ADD COLUMN handover_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE caseload ADD COLUMN unacked_comments INTEGER NOT NULL DEFAULT 0;
CREATE INDEX caseload_by_holder ON caseload(assigned_to, status);
-- The ids of a team's documents without reading their rows (each row sits on pages of its
-- own, with its snapshot): lists scoped to a team join through this covering index.
CREATE INDEX documents_of_team ON documents(team_id, id);
DROP INDEX documents_by_team;
-- Each supervisor's latest review mark of each case: the counters as they saw them.
CREATE TABLE case_reviews (
    case_id      BLOB NOT NULL,
    reviewer     BLOB NOT NULL,
    by           TEXT NOT NULL,
    at           INTEGER NOT NULL,
    sessions     INTEGER NOT NULL,
    status_moves INTEGER NOT NULL,
    measures     INTEGER NOT NULL,
    safeguarding INTEGER NOT NULL,
    comments     INTEGER NOT NULL,
    handovers    INTEGER NOT NULL,
    PRIMARY KEY (case_id, reviewer)
) WITHOUT ROWID;
-- Supervision comments, for the link worker's queue of comments not yet acknowledged.
CREATE TABLE case_comments (
    case_id    BLOB NOT NULL,
    comment_id BLOB NOT NULL,
    at         INTEGER NOT NULL,
    by         TEXT NOT NULL,
    text       TEXT NOT NULL,
    acked_at   INTEGER,
    PRIMARY KEY (case_id, comment_id)
) WITHOUT ROWID;
-- Calls owed to patients.
CREATE TABLE ring_backs (
    case_id BLOB NOT NULL,
    id      BLOB NOT NULL,
    due     TEXT NOT NULL,
    note    TEXT NOT NULL,
    device  BLOB NOT NULL,
    by      TEXT NOT NULL,
    at      INTEGER NOT NULL,
    done_at INTEGER,
    PRIMARY KEY (case_id, id)
) WITHOUT ROWID;
CREATE INDEX ring_backs_open ON ring_backs(due) WHERE done_at IS NULL;
-- The name last given to a team member's device in a handover (the membership log holds
-- devices and roles, not names).
CREATE TABLE people (
    device BLOB PRIMARY KEY,
    name   TEXT NOT NULL,
    at     INTEGER NOT NULL
) WITHOUT ROWID;
-- The new columns are filled from the documents at the next open; cleared once done.
INSERT OR REPLACE INTO meta (key, value) VALUES ('rebuild_indexes', x'01');
";

/// Version 13 (issue 13): each plan step's connection to a community asset, as it stands
/// (`store::connections`), for each asset's demand; and the message back to the GP each
/// case still owes, since when (the worklist). Derived: rebuilt from the documents on
/// upgrade.
const V13: &str = "
CREATE TABLE asset_connections (
    plan_id      BLOB NOT NULL,
    step_id      BLOB NOT NULL,
    directory_id BLOB NOT NULL,
    asset_id     BLOB NOT NULL,
    status       TEXT NOT NULL,
    since        TEXT NOT NULL,
    -- Orders a person's connections to one asset: when recorded, suggested last, id.
    ord          TEXT NOT NULL,
    PRIMARY KEY (plan_id, step_id)
) WITHOUT ROWID;
CREATE INDEX asset_connections_by_asset ON asset_connections(directory_id, asset_id);
ALTER TABLE caseload ADD COLUMN feedback_due TEXT;
ALTER TABLE caseload ADD COLUMN feedback_due_since INTEGER;
-- The next open records from when this store owes messages back (its upgrade, not its
-- history); a new store clears it.
INSERT OR REPLACE INTO meta (key, value) VALUES ('feedback_owed_pending', x'01');
INSERT OR REPLACE INTO meta (key, value) VALUES ('rebuild_indexes', x'01');
";

/// Version 14 (issue 14): each team's membership as folded from its stored log (see
/// `store::access`: the kept fold), with what it covers: how many entries, the last one's
/// sequence number and the SHA-256 of its bytes. An open takes the fold from here when it
/// matches the log and verifies only the entries after it. Derived: a store from before has
/// none, and its first open folds the whole log and keeps the result.
const V14: &str = "
CREATE TABLE membership_folded (
    team_id   BLOB PRIMARY KEY REFERENCES teams(id),
    format    INTEGER NOT NULL,
    entries   INTEGER NOT NULL,
    last_seq  INTEGER NOT NULL,
    last_hash BLOB NOT NULL,
    -- Last: reading the columns before it leaves the state's pages unread.
    state     BLOB NOT NULL
);
-- Counting a team's entries up to a sequence number without reading the entries (the
-- check that a kept fold covers the stored log).
CREATE INDEX membership_seqs ON membership(team_id, seq);
";

/// Version 15 (issue 14): indexes that make what a large device does often cost what it
/// reads, not how many documents it holds: the caseload in its list order (a page reads
/// the page; no follow-up sorts after every day); a case by its plan, and closed cases and
/// documents by when they changed (the plan check at open); each asset's name beside its
/// categories (a category is listed in name order and reading stops at the page). Derived
/// rows are copied from the old table: nothing needs a rebuild.
const V15: &str = "
CREATE INDEX caseload_in_list_order
    ON caseload(coalesce(next_follow_up, '~'), patient_name, case_id);
CREATE INDEX caseload_by_plan ON caseload(plan_id);
CREATE INDEX caseload_closed_by_change ON caseload(updated_at) WHERE status = 'closed';
CREATE INDEX documents_by_change ON documents(updated_at, id);
CREATE TABLE asset_categories_named (
    category    TEXT NOT NULL,
    name        TEXT NOT NULL,
    asset_rowid INTEGER NOT NULL REFERENCES assets(rowid) ON DELETE CASCADE,
    PRIMARY KEY (category, name, asset_rowid)
) WITHOUT ROWID;
INSERT INTO asset_categories_named (category, name, asset_rowid)
    SELECT c.category, a.name, c.asset_rowid
    FROM asset_categories c JOIN assets a ON a.rowid = c.asset_rowid;
DROP TABLE asset_categories;
ALTER TABLE asset_categories_named RENAME TO asset_categories;
CREATE INDEX asset_categories_by_category ON asset_categories(category, asset_rowid);
";

/// Each migration brings the schema from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    V1, V2, V3, V4, V5, V6, V7, V8, V9, V10, V11, V12, V13, V14, V15,
];

/// The schema version of the open database (0 for an empty one).
pub fn version(conn: &Connection) -> Result<i64> {
    Ok(conn.query_row("PRAGMA user_version", [], |r| r.get(0))?)
}

/// Upgrades the database to `target`, one transaction per step. Returns the version found.
pub fn migrate_to(conn: &mut Connection, target: i64) -> Result<i64> {
    let found = version(conn)?;
    if found > VERSION {
        return Err(Error::SchemaTooNew {
            found,
            supported: VERSION,
        });
    }
    for v in found..target {
        let tx = conn.transaction()?;
        let step = usize::try_from(v)
            .map_err(|_| Error::StoreCorrupt("negative schema version".into()))?;
        tx.execute_batch(MIGRATIONS[step])?;
        tx.pragma_update(None, "user_version", v + 1)?;
        tx.commit()?;
        tracing::info!(from = v, to = v + 1, "store schema upgraded");
    }
    Ok(found)
}

/// Upgrades the database to the current version. Returns the version found.
pub fn upgrade(conn: &mut Connection) -> Result<i64> {
    migrate_to(conn, VERSION)
}

#[cfg(test)]
mod tests;
