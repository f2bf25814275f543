//! The crate's one error type. Messages never carry patient data: they name fields, ids and
//! counts, never values a person typed.

use crate::model::measures::MeasureError;
use crate::model::nhs_number::NhsNumberError;
use crate::model::postcode::PostcodeError;

/// Everything that can go wrong in the core.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An NHS number failed validation.
    #[error("invalid NHS number: {0}")]
    NhsNumber(#[from] NhsNumberError),
    /// A postcode failed validation.
    #[error("invalid postcode: {0}")]
    Postcode(#[from] PostcodeError),
    /// Outcome-measure answers are missing, out of range or of the wrong instrument.
    #[error("invalid measure: {0}")]
    Measure(#[from] MeasureError),
    /// A field of an input failed validation.
    #[error("invalid {field}: {reason}")]
    InvalidInput {
        /// Which field.
        field: &'static str,
        /// Why, without echoing the value.
        reason: String,
    },
    /// An id could not be parsed.
    #[error("invalid {kind} id")]
    InvalidId {
        /// Which kind of id.
        kind: &'static str,
    },
    /// A case-status change that the lifecycle does not allow.
    #[error("a case cannot move from {from} to {to}")]
    IllegalTransition {
        /// Current status.
        from: String,
        /// Requested status.
        to: String,
    },
    /// A field holds values set concurrently on several devices; someone must choose first.
    #[error("{field} has conflicting values from different devices: resolve the conflict first")]
    Conflict {
        /// Which field.
        field: &'static str,
    },
    /// The requested action does not fit the record's current state.
    #[error("{0}")]
    NotAllowed(String),
    /// This device was revoked from the team (its verified log says so, or the relay answers
    /// `403 revoked`): nothing new reaches it. Its local records stay.
    #[error("this device was revoked from team {team}")]
    Revoked {
        /// The team.
        team: String,
    },
    /// Not possible yet, and nothing is wrong: the device waits for something that arrives
    /// with a later sync (the keys of a new epoch, a colleague's enrolment). Try again.
    #[error("not yet: {0}")]
    TryAgain(String),
    /// A bug or a broken invariant inside Holdfast (a task that panicked, a lock poisoned
    /// by a panic), not the caller's input. Worth reporting.
    #[error("internal error: {0}")]
    Internal(String),
    /// A case in the same team already has the new patient's NHS number: a re-referral
    /// belongs on that case. Creating a second one must be deliberate.
    #[error(
        "a case in this team already has this NHS number (case {existing}): add the \
         referral to it (a re-referral), or make a separate case deliberately"
    )]
    DuplicatePatient {
        /// The existing case.
        existing: crate::model::ids::DocumentId,
    },
    /// No such document or item.
    #[error("no {kind} with id {id}")]
    NotFound {
        /// What was looked for.
        kind: &'static str,
        /// Its id.
        id: String,
    },
    /// A document of one kind was used as another.
    #[error("expected a {expected} document, found {found}")]
    WrongDocumentKind {
        /// What the call needs.
        expected: &'static str,
        /// What the document is.
        found: String,
    },
    /// A document's content does not have the shape Holdfast writes.
    #[error("malformed document: {0}")]
    Malformed(String),
    /// An import file could not be read.
    #[error("import refused: {0}")]
    Import(#[from] crate::import::open_referral::ImportError),
    /// The store key from the key store does not open this database.
    #[error("the store key does not open this database (wrong key, or the key was replaced)")]
    WrongStoreKey,
    /// The database file is truncated, corrupted or not a Holdfast store.
    #[error("the database is damaged or is not a Holdfast store: {0}")]
    StoreCorrupt(String),
    /// The database was written by a newer Holdfast.
    #[error(
        "the database has schema version {found}, newer than this build supports ({supported})"
    )]
    SchemaTooNew {
        /// Version in the file.
        found: i64,
        /// Highest version this build knows.
        supported: i64,
    },
    /// No store exists at the configured path.
    #[error("no Holdfast store at {0}: run init first")]
    NoStore(String),
    /// A store already exists where a new one was to be created.
    #[error("a Holdfast store already exists at {0}")]
    StoreExists(String),
    /// The host's key store failed.
    #[error("key store: {0}")]
    KeyStore(#[from] crate::keystore::KeyStoreError),
    /// SQLite failed (other than by corruption, which is `StoreCorrupt`, or a full disk,
    /// which is `StorageFull`).
    #[error("database: {0}")]
    Sqlite(rusqlite::Error),
    /// Automerge rejected an operation or a document.
    #[error("document engine: {0}")]
    Automerge(#[from] automerge::AutomergeError),
    /// A wire structure (envelope, batch, page) is malformed, or sealing or opening failed.
    /// (The membership fold's refusals arrive as [`Error::NotAllowed`] or
    /// [`Error::InviteRefused`] instead.)
    #[error("wire format: {0}")]
    Protocol(holdfast_protocol::Error),
    /// Something the relay served does not verify (a membership entry, an invite's record):
    /// the relay is misbehaving, or something between rewrote it. Nothing was stored.
    #[error("the relay served {what} that does not verify: {reason}")]
    Unverified {
        /// What it served.
        what: String,
        /// Why it was refused.
        reason: String,
    },
    /// Key derivation or another crypto step failed.
    #[error("crypto: {0}")]
    Crypto(String),
    /// A key the operation needs is not in the key store.
    #[error("the {what} is not in the key store")]
    KeyMissing {
        /// Which key.
        what: &'static str,
    },
    /// An invite code was refused: used, expired, unknown, or altered.
    #[error("invite refused: {0}")]
    InviteRefused(String),
    /// The relay answered with an error.
    #[error("relay refused ({status} {code}): {message}")]
    Relay {
        /// HTTP status.
        status: u16,
        /// The relay's stable machine-readable code (`unauthorized`, `rate_limited`, …).
        code: String,
        /// The relay's human message.
        message: String,
    },
    /// The relay could not be reached, or the connection broke (the device is offline).
    #[error("network: {0}")]
    Network(String),
    /// No secure connection to the relay: its certificate was refused (another CA than the
    /// one trusted for it, another host name, expired) or the TLS handshake failed. Final,
    /// not retried, and nothing was sent. Not "offline": someone may be intercepting the
    /// connection (a captive portal, an attacker), or the relay is misconfigured.
    #[error("no secure connection to the relay: {0}; nothing was sent")]
    Tls(String),
    /// An envelope from the relay was refused: unknown author, bad signature, wrong team,
    /// undecryptable, or not a Holdfast document. It was recorded and not applied.
    #[error("envelope {id} refused: {reason}")]
    BadEnvelope {
        /// The envelope id (hex).
        id: String,
        /// Why.
        reason: String,
    },
    /// The device's storage is full (SQLite's `SQLITE_FULL`, the file system's `ENOSPC` or
    /// a disk quota): nothing of the operation was saved, and everything saved before is
    /// intact. The same operation succeeds once there is space again; nothing needs repair.
    #[error(
        "this device's storage is full: nothing of this was saved, and everything saved \
         before is safe; free some space on the device and try again"
    )]
    StorageFull,
    /// A file could not be read or written.
    #[error("i/o: {0}")]
    Io(#[source] std::io::Error),
}

impl From<holdfast_protocol::Error> for Error {
    /// The membership fold's refusals say what the person may not do (or what became of an
    /// invite); other protocol errors stay wire-format errors.
    fn from(e: holdfast_protocol::Error) -> Self {
        use holdfast_protocol::Refusal;
        match e {
            holdfast_protocol::Error::Refused(
                r @ (Refusal::InviteUsed
                | Refusal::InviteExpired
                | Refusal::InviteCancelled
                | Refusal::NoSuchInvite),
            ) => Error::InviteRefused(r.to_string()),
            holdfast_protocol::Error::Refused(r) => Error::NotAllowed(r.to_string()),
            other => Error::Protocol(other),
        }
    }
}

impl From<rusqlite::Error> for Error {
    /// Corruption is a typed error wherever it is found, not only when the store opens:
    /// SQLCipher finds a damaged page when it first reads it. So is a full disk, whichever
    /// write finds it.
    fn from(e: rusqlite::Error) -> Self {
        match e.sqlite_error_code() {
            Some(rusqlite::ErrorCode::NotADatabase | rusqlite::ErrorCode::DatabaseCorrupt) => {
                Error::StoreCorrupt(e.to_string())
            }
            Some(rusqlite::ErrorCode::DiskFull) => {
                tracing::warn!(error = %e, "the device's storage is full");
                Error::StorageFull
            }
            _ => Error::Sqlite(e),
        }
    }
}

impl From<std::io::Error> for Error {
    /// A file written beside the database (the key check, an export) on a full disk is
    /// the same full disk.
    fn from(e: std::io::Error) -> Self {
        match e.kind() {
            std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded => {
                tracing::warn!(error = %e, "the device's storage is full");
                Error::StorageFull
            }
            _ => Error::Io(e),
        }
    }
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    /// A full disk is one typed error whichever layer finds it: SQLite writing a page, or a
    /// file written beside the database. Other failures keep their own variants.
    #[test]
    fn a_full_disk_is_storage_full_from_sqlite_and_from_the_file_system() {
        let full = rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_FULL),
            Some("database or disk is full".into()),
        );
        assert!(matches!(Error::from(full), Error::StorageFull));
        let enospc = std::io::Error::from_raw_os_error(28);
        assert_eq!(enospc.kind(), std::io::ErrorKind::StorageFull, "ENOSPC");
        assert!(matches!(Error::from(enospc), Error::StorageFull));
        let busy = rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY),
            None,
        );
        assert!(matches!(Error::from(busy), Error::Sqlite(_)));
        let denied = std::io::Error::from(std::io::ErrorKind::PermissionDenied);
        assert!(matches!(Error::from(denied), Error::Io(_)));
        // What the app shows says what happened and what to do, in plain words.
        let shown = Error::StorageFull.to_string();
        assert!(shown.contains("storage is full"), "{shown}");
        assert!(shown.contains("free some space"), "{shown}");
    }
}
