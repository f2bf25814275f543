//! The device's encrypted store: documents, the outbox and derived indexes in one SQLCipher
//! database.
//!
//! Every user action is one Automerge change, written in one SQLite transaction together
//! with its outbox entry and the index rows it affects. When the transaction commits, the
//! action is acknowledged; if anything fails before that, the in-memory document is
//! discarded and reloaded, so nothing half-done is ever seen or synced.
//!
//! At rest the whole file (tables, FTS index, WAL) is encrypted by SQLCipher under a
//! 256-bit key that the host keeps in its [`KeyStore`].
//!
//! For sync (`teams.rs`, `outbox.rs`, `incoming.rs`): the teams the device belongs to and
//! their cursors; outbox changes sealed exactly once into envelopes kept until the relay
//! acknowledges them; pulled pages applied in one transaction each (changes, new
//! documents, indexes, refusals, cursor). The network side is [`crate::sync`].

mod access;
mod incoming;
mod index;
mod outbox;
pub mod schema;
mod teams;

pub use access::{
    InviteStatus, PreparedInvite, PreparedRedeem, PreparedRevocation, TeamAccess, TeamDevice,
    TeamInvite,
};
pub(crate) use teams::check_relay_url;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use automerge::AutoCommit;
use holdfast_protocol::DeviceSigningKey;
use ring::hmac;
use rusqlite::{Connection, OpenFlags, OptionalExtension, Transaction, params};
use serde::{Deserialize, Serialize};
use time::Date;
use zeroize::Zeroizing;

pub use incoming::PageOutcome;
pub use index::{AssetHit, CaseloadEntry, CaseloadFilter, DirectoryQuery};
pub use outbox::{PendingEnvelope, RefusedEnvelope};
pub use teams::TeamInfo;

use crate::crypto::keys::device_hpke_key;
use crate::crypto::keys::device_signing_key;
use crate::keystore::KeyStore;
use crate::model::action_plan::{self, ActionPlan, NewStep};
use crate::model::case_file::{
    self, CaseFile, CaseStatus, ConcernStatus, EscalationTarget, NewConcern, NewPatient,
    NewReferral, NewSession, Patient, ReferralDecision,
};
use crate::model::directory::{self, Asset, AssetInput};
use crate::model::doc::{self, Author, DocKind, HistoryEntry};
use crate::model::ids::{
    AssetId, CommentId, ConcernId, DeviceId, DocId, GoalId, MeasureId, ReferralId, SessionId,
    StepId, TeamId,
};
use crate::model::measures::Instrument;
use crate::{Error, Result};

/// The key store entry holding the database key.
pub const STORE_KEY_NAME: &str = "holdfast-store";
const DB_FILE: &str = "holdfast.db";
const KEYCHECK_SUFFIX: &str = ".keycheck";

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
    /// Documents kept loaded in memory.
    pub cache_docs: usize,
}

impl StoreConfig {
    /// A configuration with the defaults.
    pub fn new(dir: impl Into<PathBuf>, person: &str) -> Self {
        StoreConfig {
            dir: dir.into(),
            person: person.to_owned(),
            durability: Durability::Full,
            compact_after: 128,
            cache_docs: 64,
        }
    }

    /// The database file.
    pub fn db_path(&self) -> PathBuf {
        self.dir.join(DB_FILE)
    }
}

/// Which index rows an edit touches. Edits say precisely, so that recording a session does
/// not re-read the whole case history.
enum Reindex {
    /// Recompute the caseload row of this case file from the whole document.
    Case,
    /// Recompute the patient, status and safeguarding columns only.
    CaseHeader,
    /// Fold one new session into the session aggregates.
    SessionAdded {
        start: i64,
        attended: bool,
        follow_up: Option<Date>,
    },
    /// Rewrite these assets' rows.
    Assets(Vec<AssetId>),
    /// Rebuild every row of the directory.
    WholeDirectory,
    /// Nothing indexed changed.
    Nothing,
}

/// Everything on the device, for export.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Export {
    /// The device that exported.
    pub device: DeviceId,
    /// Case files with their ids.
    pub case_files: Vec<(DocId, CaseFile)>,
    /// Action plans with their ids.
    pub action_plans: Vec<(DocId, ActionPlan)>,
    /// Directories: id, area, assets.
    pub directories: Vec<(DocId, String, Vec<Asset>)>,
}

/// The ids of a newly created case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewCase {
    /// The case file.
    pub case_id: DocId,
    /// The patient's action plan.
    pub plan_id: DocId,
}

/// The device's store.
pub struct Store {
    conn: Connection,
    config: StoreConfig,
    author: Author,
    docs: HashMap<DocId, (DocKind, AutoCommit)>,
    /// The device's Ed25519 key (its seed lives in the host's key store, never in the file).
    signer: Arc<DeviceSigningKey>,
    /// The device's HPKE key pair (its seed lives in the host's key store).
    hpke: Arc<holdfast_protocol::HpkeKeyPair>,
    /// Each team's verified membership and this device's place in it.
    access: HashMap<TeamId, access::TeamAccess>,
    /// The keys this device holds, per team.
    team_keys: HashMap<TeamId, crate::crypto::TeamKeys>,
    /// The team new documents are shared in.
    current_team: Option<TeamId>,
    /// What changed, for observers (the app's screens): local edits and remote changes.
    events: tokio::sync::broadcast::Sender<StoreEvent>,
}

/// Something observers may want to redraw for. Carries ids only, never content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreEvent {
    /// A document changed (an edit here, or changes pulled from the team).
    DocumentChanged {
        /// The document.
        doc: DocId,
        /// Its kind.
        kind: DocKind,
    },
    /// The caseload's rows may have changed (a case file or action plan changed).
    CaseloadChanged,
    /// A change was made on this device (it has something to push).
    LocalChange,
    /// A team's sync status may have changed (pushed, pulled, failed, recovered).
    SyncChanged {
        /// The team.
        team: TeamId,
    },
}

/// Events an observer can fall behind by before it is told it missed some.
const EVENT_BUFFER: usize = 1024;

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("dir", &self.config.dir)
            .field("device", &self.author.device)
            .finish()
    }
}

fn key_check(key: &[u8]) -> Vec<u8> {
    // A MAC of a constant: tells a wrong key from a damaged file and reveals nothing.
    let k = hmac::Key::new(hmac::HMAC_SHA256, key);
    hmac::sign(&k, b"holdfast store key check v1")
        .as_ref()
        .to_vec()
}

fn key_check_matches(key: &[u8], check: &[u8]) -> bool {
    let k = hmac::Key::new(hmac::HMAC_SHA256, key);
    hmac::verify(&k, b"holdfast store key check v1", check).is_ok()
}

fn keycheck_path(db: &Path) -> PathBuf {
    let mut p = db.as_os_str().to_owned();
    p.push(KEYCHECK_SUFFIX);
    PathBuf::from(p)
}

fn is_corruption(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::NotADatabase | rusqlite::ErrorCode::DatabaseCorrupt)
    )
}

/// Maps SQLite's corruption codes to the typed store error; passes the rest through.
fn classify(e: rusqlite::Error) -> Error {
    if is_corruption(&e) {
        Error::StoreCorrupt(e.to_string())
    } else {
        Error::Sqlite(e)
    }
}

/// SQLCipher initialises itself on first use in a process; a connection opened and keyed
/// by another thread while that is still under way fails ("sqlcipher not initialized",
/// then "An error occurred with PRAGMA key or rekey"). Seen when many stores open at once
/// in the test suite (one in a few hundred runs with eight threads). So the first store
/// of the process first opens and keys an in-memory database, once, and everyone else
/// waits for that.
fn sqlcipher_ready() -> Result<()> {
    static READY: std::sync::OnceLock<std::result::Result<(), String>> = std::sync::OnceLock::new();
    READY
        .get_or_init(|| {
            let conn = Connection::open_in_memory().map_err(|e| e.to_string())?;
            apply_key(&conn, &[0u8; 32]).map_err(|e| e.to_string())?;
            conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| {
                r.get::<_, i64>(0)
            })
            .map_err(|e| e.to_string())?;
            Ok(())
        })
        .clone()
        .map_err(|e| Error::StoreCorrupt(format!("SQLCipher failed to start: {e}")))
}

fn apply_key(conn: &Connection, key: &[u8]) -> Result<()> {
    let hex = Zeroizing::new(hex::encode(key));
    // A raw key: no PBKDF2 on open (1.5 ms instead of ~130 ms).
    conn.execute_batch(&format!("PRAGMA key = \"x'{}'\";", hex.as_str()))?;
    Ok(())
}

fn configure(conn: &Connection, durability: Durability) -> Result<()> {
    conn.pragma_update(None, "journal_mode", "WAL")
        .map_err(classify)?;
    let sync = match durability {
        Durability::Full => "FULL",
        Durability::Relaxed => "NORMAL",
    };
    conn.pragma_update(None, "synchronous", sync)?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // Freed pages are zeroed, so deleted notes do not linger even as ciphertext of old data.
    conn.pragma_update(None, "secure_delete", "ON")?;
    Ok(())
}

impl Store {
    /// Creates a new store in `config.dir`, with a fresh device id and store key.
    pub fn create(config: &StoreConfig, keys: &dyn KeyStore) -> Result<Store> {
        let db = config.db_path();
        if db.exists() {
            return Err(Error::StoreExists(config.dir.display().to_string()));
        }
        doc::require_text("person", &config.person, 200)?;
        std::fs::create_dir_all(&config.dir)?;
        let key = match keys.get(STORE_KEY_NAME)? {
            Some(k) if k.len() == 32 => k,
            _ => {
                let fresh = Zeroizing::new(crate::model::ids::random_bytes::<32>().to_vec());
                keys.put(STORE_KEY_NAME, &fresh)?;
                fresh
            }
        };
        let signer = Arc::new(device_signing_key(keys, true)?);
        let hpke = Arc::new(device_hpke_key(keys, true)?);
        sqlcipher_ready()?;
        let mut conn = Connection::open(&db)?;
        apply_key(&conn, &key)?;
        configure(&conn, config.durability)?;
        schema::upgrade(&mut conn)?;
        let device = DeviceId::random();
        conn.execute(
            "INSERT INTO meta (key, value) VALUES ('device_id', ?1)",
            [device.as_bytes().as_slice()],
        )?;
        conn.execute(
            "INSERT INTO meta (key, value) VALUES ('person', ?1)",
            [config.person.trim().as_bytes()],
        )?;
        std::fs::write(keycheck_path(&db), key_check(&key))?;
        tracing::info!(device = %device, "store created");
        Ok(Store {
            conn,
            config: config.clone(),
            author: Author {
                device,
                person: config.person.trim().to_owned(),
            },
            docs: HashMap::new(),
            signer,
            hpke,
            access: HashMap::new(),
            team_keys: HashMap::new(),
            current_team: None,
            events: tokio::sync::broadcast::Sender::new(EVENT_BUFFER),
        })
    }

    /// Opens an existing store. A wrong key or a damaged file is a typed error, and nothing
    /// in the file is changed.
    pub fn open(config: &StoreConfig, keys: &dyn KeyStore) -> Result<Store> {
        let db = config.db_path();
        if !db.exists() {
            return Err(Error::NoStore(config.dir.display().to_string()));
        }
        let key = keys.get(STORE_KEY_NAME)?.ok_or(Error::WrongStoreKey)?;
        let check = std::fs::read(keycheck_path(&db)).ok();
        if let Some(check) = &check
            && !key_check_matches(&key, check)
        {
            return Err(Error::WrongStoreKey);
        }
        sqlcipher_ready()?;
        let mut conn = Connection::open_with_flags(
            &db,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        apply_key(&conn, &key)?;
        // The first read decrypts page 1: a wrong key or a damaged header fails here.
        let probe: rusqlite::Result<i64> =
            conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0));
        if let Err(e) = probe {
            return Err(match (is_corruption(&e), check.is_some()) {
                (true, true) => {
                    Error::StoreCorrupt("the file cannot be decrypted with the right key".into())
                }
                (true, false) => Error::WrongStoreKey,
                (false, _) => Error::Sqlite(e),
            });
        }
        Self::check_length(&conn, &db)?;
        configure(&conn, config.durability)?;
        let found = schema::upgrade(&mut conn)?;
        let device: Vec<u8> = conn
            .query_row("SELECT value FROM meta WHERE key = 'device_id'", [], |r| {
                r.get(0)
            })
            .map_err(classify)?;
        let person: Vec<u8> = conn
            .query_row("SELECT value FROM meta WHERE key = 'person'", [], |r| {
                r.get(0)
            })
            .map_err(classify)?;
        let (access, team_keys) = access::load_access(&conn, keys)?;
        let current_team = teams::load_current_team(&conn)?;
        // Stores from before sync (schema < 3) have no device key yet: make one. A store that
        // already belongs to a team must not silently change identity.
        let signer = Arc::new(device_signing_key(keys, access.is_empty())?);
        let hpke = Arc::new(device_hpke_key(keys, access.is_empty() || found < 4)?);
        let mut store = Store {
            conn,
            config: config.clone(),
            author: Author {
                device: DeviceId::from_slice(&device)?,
                person: String::from_utf8(person)
                    .map_err(|_| Error::StoreCorrupt("person is not text".into()))?,
            },
            docs: HashMap::new(),
            signer,
            hpke,
            access,
            team_keys,
            current_team,
            events: tokio::sync::broadcast::Sender::new(EVENT_BUFFER),
        };
        if found < 2 {
            store.rebuild_indexes()?;
        }
        Ok(store)
    }

    /// A truncated file decrypts page 1 happily and fails later. Without a WAL, every page
    /// the header counts must be in the file: compare (O(1), unlike an integrity check,
    /// which would read the whole file on every launch). Damage inside a page surfaces as
    /// `StoreCorrupt` when the page is first read (SQLCipher checks each page's HMAC), and
    /// [`Store::verify`] checks every page on demand.
    fn check_length(conn: &Connection, db: &Path) -> Result<()> {
        // SQLCipher answers page_size with its own cipher_page_size row, as text.
        let page_size: i64 = conn
            .query_row("PRAGMA cipher_page_size", [], |r| r.get::<_, String>(0))?
            .parse()
            .map_err(|_| Error::StoreCorrupt("unreadable page size".into()))?;
        let len = i64::try_from(std::fs::metadata(db)?.len()).unwrap_or(i64::MAX);
        if page_size <= 0 || len % page_size != 0 {
            return Err(Error::StoreCorrupt(
                "the file is not a whole number of pages (truncated?)".into(),
            ));
        }
        let mut wal = db.as_os_str().to_owned();
        wal.push("-wal");
        let wal_len = std::fs::metadata(PathBuf::from(wal))
            .map(|m| m.len())
            .unwrap_or(0);
        let pages: i64 = conn.query_row("PRAGMA page_count", [], |r| r.get(0))?;
        if wal_len == 0 && pages * page_size > len {
            return Err(Error::StoreCorrupt(format!(
                "the file holds {} of its {pages} pages (truncated)",
                len / page_size
            )));
        }
        Ok(())
    }

    /// Reads and checks every page (SQLCipher's HMAC and SQLite's structure). Slow on a
    /// large store: for a "check my data" action or after a crash, not for every open.
    pub fn verify(&self) -> Result<()> {
        let result: String = self
            .conn
            .query_row("PRAGMA quick_check(1)", [], |r| r.get(0))?;
        if result != "ok" {
            return Err(Error::StoreCorrupt("integrity check failed".into()));
        }
        Ok(())
    }

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
        configure(&self.conn, durability)?;
        self.config.durability = durability;
        Ok(())
    }

    // ----------------------------------------------------------------------------------
    // Documents: load, edit, persist

    fn load(&mut self, id: DocId) -> Result<&mut (DocKind, AutoCommit)> {
        if !self.docs.contains_key(&id) {
            let loaded = self.load_from_db(id)?;
            if self.docs.len() >= self.config.cache_docs.max(1) {
                // Evict an arbitrary entry: documents reload in a few milliseconds.
                if let Some(k) = self.docs.keys().next().copied() {
                    self.docs.remove(&k);
                }
            }
            self.docs.insert(id, loaded);
        }
        self.docs.get_mut(&id).ok_or(Error::NotFound {
            kind: "document",
            id: id.to_string(),
        })
    }

    fn load_from_db(&self, id: DocId) -> Result<(DocKind, AutoCommit)> {
        let row: Option<(String, Vec<u8>)> = self
            .conn
            .query_row(
                "SELECT kind, snapshot FROM documents WHERE id = ?1",
                [id.as_bytes().as_slice()],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(classify)?;
        let (kind, mut bytes) = row.ok_or(Error::NotFound {
            kind: "document",
            id: id.to_string(),
        })?;
        let mut stmt = self
            .conn
            .prepare_cached("SELECT bytes FROM changes WHERE doc_id = ?1 ORDER BY seq")?;
        let mut rows = stmt.query([id.as_bytes().as_slice()])?;
        while let Some(r) = rows.next()? {
            bytes.extend_from_slice(r.get_ref(0)?.as_blob().map_err(rusqlite::Error::from)?);
        }
        // One load call for snapshot plus changes: applying changes one call at a time costs
        // more as the document grows.
        let doc = AutoCommit::load(&bytes)
            .map_err(|e| Error::StoreCorrupt(format!("document {id}: {e}")))?;
        Ok((DocKind::parse(&kind)?, doc.with_actor(self.author.actor())))
    }

    /// Runs one user action on a document and persists it atomically. On any failure the
    /// document is left as it was, in memory and on disk.
    fn edit<T>(
        &mut self,
        id: DocId,
        kind: DocKind,
        what: &str,
        action: impl FnOnce(&mut AutoCommit, &Author) -> Result<T>,
        reindex: impl FnOnce(&T) -> Reindex,
    ) -> Result<T> {
        let author = self.author.clone();
        let (found, doc) = self.load(id)?;
        if *found != kind {
            return Err(Error::WrongDocumentKind {
                expected: kind.as_str(),
                found: found.as_str().to_owned(),
            });
        }
        let out = match action(doc, &author) {
            Ok(out) => out,
            Err(e) => {
                doc.rollback();
                return Err(e);
            }
        };
        if doc::commit(doc, &author, what).is_none() {
            return Ok(out);
        }
        let scope = reindex(&out);
        if let Err(e) = self.persist_change(id, kind, scope) {
            // The change is in memory but not on disk: forget it, reload from disk next time.
            self.docs.remove(&id);
            return Err(e);
        }
        self.maybe_compact(id)?;
        self.emit(id, kind);
        let _ = self.events.send(StoreEvent::LocalChange);
        Ok(out)
    }

    /// Subscribes to what changes in this store from now on (ids only). A receiver that
    /// falls more than 1,024 events behind is told it lagged and should reread.
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<StoreEvent> {
        self.events.subscribe()
    }

    /// Tells observers that `team`'s sync status may have changed.
    pub(crate) fn emit_sync(&self, team: TeamId) {
        let _ = self.events.send(StoreEvent::SyncChanged { team });
    }

    /// Tells observers that `id` changed.
    pub(crate) fn emit(&self, id: DocId, kind: DocKind) {
        // No receivers is normal (no screen open): nothing to do.
        let _ = self
            .events
            .send(StoreEvent::DocumentChanged { doc: id, kind });
        if matches!(kind, DocKind::CaseFile | DocKind::ActionPlan) {
            let _ = self.events.send(StoreEvent::CaseloadChanged);
        }
    }

    fn persist_change(&mut self, id: DocId, kind: DocKind, scope: Reindex) -> Result<()> {
        let (_, doc) = self.docs.get_mut(&id).ok_or(Error::NotFound {
            kind: "document",
            id: id.to_string(),
        })?;
        let change = doc
            .get_last_local_change()
            .ok_or_else(|| Error::Malformed("no change to persist".into()))?;
        let hash = change.hash();
        let bytes = change.raw_bytes();
        let tx = self.conn.transaction()?;
        tx.execute(
            "INSERT INTO changes (doc_id, hash, bytes) VALUES (?1, ?2, ?3)",
            params![id.as_bytes().as_slice(), hash.0.as_slice(), bytes],
        )?;
        tx.execute(
            "UPDATE documents SET change_count = change_count + 1,
                 changes_since_snapshot = changes_since_snapshot + 1, updated_at = ?2 WHERE id = ?1",
            params![id.as_bytes().as_slice(), doc::now_millis()],
        )?;
        enqueue(&tx, id, hash.0.as_slice(), bytes)?;
        reindex_doc(&tx, id, kind, doc, scope)?;
        tx.commit()?;
        Ok(())
    }

    /// Writes a brand-new document (all its changes go to the outbox), in the current team
    /// if the device has one.
    fn insert_new(
        tx: &Transaction<'_>,
        team: Option<TeamId>,
        id: DocId,
        kind: DocKind,
        doc: &mut AutoCommit,
    ) -> Result<()> {
        let changes = doc.get_changes(&[]);
        tx.execute(
            "INSERT INTO documents (id, kind, snapshot, change_count, updated_at, team_id,
                 changes_since_snapshot)
             VALUES (?1, ?2, ?3, 0, ?4, ?5, ?6)",
            params![
                id.as_bytes().as_slice(),
                kind.as_str(),
                doc.save(),
                doc::now_millis(),
                team.map(|t| t.as_bytes().to_vec()),
                changes.len() as i64
            ],
        )?;
        for change in changes {
            enqueue(tx, id, change.hash().0.as_slice(), change.raw_bytes())?;
        }
        Ok(())
    }

    fn maybe_compact(&mut self, id: DocId) -> Result<()> {
        let count: i64 = self.conn.query_row(
            "SELECT change_count FROM documents WHERE id = ?1",
            [id.as_bytes().as_slice()],
            |r| r.get(0),
        )?;
        if count >= i64::from(self.config.compact_after) {
            self.compact(id)?;
        }
        Ok(())
    }

    /// Folds a document's changes into a new snapshot. The snapshot is verified to load
    /// with the same heads before the changes it replaces are deleted, in one transaction.
    pub fn compact(&mut self, id: DocId) -> Result<()> {
        let (_, doc) = self.load(id)?;
        let heads = doc.get_heads();
        let snapshot = doc.save();
        let check = AutoCommit::load(&snapshot)?.get_heads();
        if check != heads {
            return Err(Error::Malformed(format!(
                "compaction of {id} would lose changes; kept the old form"
            )));
        }
        let tx = self.conn.transaction()?;
        tx.execute(
            "UPDATE documents SET snapshot = ?2, change_count = 0 WHERE id = ?1",
            params![id.as_bytes().as_slice(), snapshot],
        )?;
        let removed = tx.execute(
            "DELETE FROM changes WHERE doc_id = ?1",
            [id.as_bytes().as_slice()],
        )?;
        tx.commit()?;
        tracing::debug!(doc = %id, removed, bytes = snapshot.len(), "document compacted");
        Ok(())
    }

    /// Rebuilds every derived index from the documents.
    pub fn rebuild_indexes(&mut self) -> Result<()> {
        let ids: Vec<(Vec<u8>, String)> = {
            let mut stmt = self.conn.prepare("SELECT id, kind FROM documents")?;
            stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<rusqlite::Result<_>>()?
        };
        for (id, kind) in ids {
            let id = DocId::from_slice(&id)?;
            let kind = DocKind::parse(&kind)?;
            let (_, mut doc) = self.load_from_db(id)?;
            let tx = self.conn.transaction()?;
            let scope = if kind == DocKind::Directory {
                Reindex::WholeDirectory
            } else {
                Reindex::Case
            };
            reindex_doc(&tx, id, kind, &mut doc, scope)?;
            tx.commit()?;
        }
        tracing::info!("indexes rebuilt");
        Ok(())
    }

    /// Drops every loaded document from memory (they reload from disk on next use): for a
    /// host's low-memory signal, and for measuring cold loads.
    pub fn unload_documents(&mut self) {
        self.docs.clear();
    }

    /// The kind of a stored document.
    pub fn kind_of(&self, id: DocId) -> Result<DocKind> {
        let kind: Option<String> = self
            .conn
            .query_row(
                "SELECT kind FROM documents WHERE id = ?1",
                [id.as_bytes().as_slice()],
                |r| r.get(0),
            )
            .optional()?;
        DocKind::parse(&kind.ok_or(Error::NotFound {
            kind: "document",
            id: id.to_string(),
        })?)
    }

    /// Who changed what and when in a document, oldest first.
    pub fn history(&mut self, id: DocId) -> Result<Vec<HistoryEntry>> {
        let (_, doc) = self.load(id)?;
        Ok(doc::history(doc))
    }

    /// The document's current Automerge heads (hex), for comparing replicas.
    pub fn heads(&mut self, id: DocId) -> Result<Vec<String>> {
        let (_, doc) = self.load(id)?;
        Ok(doc.get_heads().iter().map(|h| h.to_string()).collect())
    }

    /// Changes waiting for the relay.
    pub fn outbox_len(&self) -> Result<u64> {
        let n: i64 = self
            .conn
            .query_row("SELECT count(*) FROM outbox", [], |r| r.get(0))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// Ids of every stored document of `kind`.
    pub fn document_ids(&self, kind: DocKind) -> Result<Vec<DocId>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT id FROM documents WHERE kind = ?1 ORDER BY id")?;
        let rows = stmt.query_map([kind.as_str()], |r| r.get::<_, Vec<u8>>(0))?;
        rows.map(|r| DocId::from_slice(&r?)).collect()
    }

    // ----------------------------------------------------------------------------------
    // Case files

    /// Creates a case file and the patient's empty action plan, in one transaction.
    pub fn create_case_file(&mut self, patient: NewPatient) -> Result<NewCase> {
        let plan_id = DocId::random();
        let case_id = DocId::random();
        let mut plan = action_plan::create(&self.author)?;
        doc::commit(&mut plan, &self.author, "action plan created");
        let mut case = case_file::create(&self.author, &patient, plan_id)?;
        doc::commit(&mut case, &self.author, "case file created");
        let view = case_file::read(&mut case)?;
        let tx = self.conn.transaction()?;
        Self::insert_new(
            &tx,
            self.current_team,
            plan_id,
            DocKind::ActionPlan,
            &mut plan,
        )?;
        Self::insert_new(
            &tx,
            self.current_team,
            case_id,
            DocKind::CaseFile,
            &mut case,
        )?;
        index::update_case(&tx, case_id, &view)?;
        tx.commit()?;
        self.docs.insert(plan_id, (DocKind::ActionPlan, plan));
        self.docs.insert(case_id, (DocKind::CaseFile, case));
        self.emit(plan_id, DocKind::ActionPlan);
        self.emit(case_id, DocKind::CaseFile);
        let _ = self.events.send(StoreEvent::LocalChange);
        Ok(NewCase { case_id, plan_id })
    }

    /// Reads a whole case file.
    pub fn case_file(&mut self, id: DocId) -> Result<CaseFile> {
        let (kind, doc) = self.load(id)?;
        if *kind != DocKind::CaseFile {
            return Err(Error::WrongDocumentKind {
                expected: "case_file",
                found: kind.as_str().to_owned(),
            });
        }
        case_file::read(doc)
    }

    fn case_edit<T>(
        &mut self,
        id: DocId,
        what: &str,
        reindex: Reindex,
        action: impl FnOnce(&mut AutoCommit, &Author) -> Result<T>,
    ) -> Result<T> {
        self.edit(id, DocKind::CaseFile, what, action, |_| reindex)
    }

    /// Updates the patient's details.
    pub fn update_patient(&mut self, id: DocId, patient: &Patient) -> Result<()> {
        self.case_edit(
            id,
            "patient details updated",
            Reindex::CaseHeader,
            |d, _| case_file::update_patient(d, patient),
        )
    }

    /// Adds a referral (a re-referral when the case is closed).
    pub fn add_referral(&mut self, id: DocId, referral: &NewReferral) -> Result<ReferralId> {
        self.case_edit(id, "referral added", Reindex::CaseHeader, |d, a| {
            case_file::add_referral(d, a, referral)
        })
    }

    /// Accepts or declines a referral.
    pub fn decide_referral(
        &mut self,
        id: DocId,
        referral: ReferralId,
        decision: &ReferralDecision,
    ) -> Result<()> {
        let what = match decision {
            ReferralDecision::Accepted => "referral accepted",
            ReferralDecision::Declined { .. } => "referral declined",
        };
        self.case_edit(id, what, Reindex::CaseHeader, |d, a| {
            case_file::decide_referral(d, a, referral, decision)
        })
    }

    /// Moves the case along its lifecycle.
    pub fn set_status(&mut self, id: DocId, to: CaseStatus, reason: Option<&str>) -> Result<()> {
        let what = format!("status set to {to}");
        self.case_edit(id, &what, Reindex::CaseHeader, |d, a| {
            case_file::set_status(d, a, to, reason)
        })
    }

    /// Resolves a status conflict by choosing one of the competing values.
    pub fn resolve_status(&mut self, id: DocId, chosen: CaseStatus) -> Result<()> {
        let what = format!("status conflict resolved as {chosen}");
        self.case_edit(id, &what, Reindex::CaseHeader, |d, a| {
            case_file::resolve_status(d, a, chosen)
        })
    }

    /// Records a session.
    pub fn record_session(&mut self, id: DocId, session: &NewSession) -> Result<SessionId> {
        self.case_edit(
            id,
            "session recorded",
            Reindex::SessionAdded {
                start: session.start,
                attended: session.attended,
                follow_up: session.follow_up,
            },
            |d, a| case_file::record_session(d, a, session),
        )
    }

    /// Amends a session note.
    pub fn amend_session_note(&mut self, id: DocId, session: SessionId, note: &str) -> Result<()> {
        self.case_edit(id, "session note amended", Reindex::Nothing, |d, _| {
            case_file::amend_session_note(d, session, note)
        })
    }

    /// Records an outcome measure.
    pub fn record_measure(
        &mut self,
        id: DocId,
        instrument: Instrument,
        taken_on: Date,
        items: &[Option<u8>],
    ) -> Result<MeasureId> {
        let what = format!("{} recorded", instrument.as_str());
        self.case_edit(id, &what, Reindex::Nothing, |d, a| {
            case_file::record_measure(d, a, instrument, taken_on, items)
        })
    }

    /// Raises a safeguarding concern.
    pub fn raise_concern(&mut self, id: DocId, concern: &NewConcern) -> Result<ConcernId> {
        self.case_edit(
            id,
            "safeguarding concern raised",
            Reindex::CaseHeader,
            |d, a| case_file::raise_concern(d, a, concern),
        )
    }

    /// Changes a safeguarding concern's status.
    pub fn set_concern_status(
        &mut self,
        id: DocId,
        concern: ConcernId,
        status: ConcernStatus,
        escalated_to: Option<EscalationTarget>,
    ) -> Result<()> {
        let what = format!("safeguarding status set to {status}");
        self.case_edit(id, &what, Reindex::CaseHeader, |d, _| {
            case_file::set_concern_status(d, concern, status, escalated_to)
        })
    }

    /// Resolves a conflict on a safeguarding concern's status.
    pub fn resolve_concern_status(
        &mut self,
        id: DocId,
        concern: ConcernId,
        chosen: ConcernStatus,
    ) -> Result<()> {
        self.case_edit(
            id,
            "safeguarding status conflict resolved",
            Reindex::CaseHeader,
            |d, _| case_file::resolve_concern_status(d, concern, chosen),
        )
    }

    /// Adds a supervision comment.
    pub fn add_supervision_comment(&mut self, id: DocId, text: &str) -> Result<CommentId> {
        self.case_edit(id, "supervision comment added", Reindex::Nothing, |d, a| {
            case_file::add_supervision_comment(d, a, text)
        })
    }

    /// The caseload, from the index (no document is loaded).
    pub fn caseload(&self, filter: &CaseloadFilter) -> Result<Vec<CaseloadEntry>> {
        index::caseload(&self.conn, filter)
    }

    // ----------------------------------------------------------------------------------
    // Action plans

    /// Reads an action plan.
    pub fn action_plan(&mut self, id: DocId) -> Result<ActionPlan> {
        let (kind, doc) = self.load(id)?;
        if *kind != DocKind::ActionPlan {
            return Err(Error::WrongDocumentKind {
                expected: "action_plan",
                found: kind.as_str().to_owned(),
            });
        }
        action_plan::read(doc)
    }

    fn plan_edit<T>(
        &mut self,
        id: DocId,
        what: &str,
        action: impl FnOnce(&mut AutoCommit, &Author) -> Result<T>,
    ) -> Result<T> {
        self.edit(id, DocKind::ActionPlan, what, action, |_| Reindex::Nothing)
    }

    /// Sets "what matters to me".
    pub fn set_what_matters(&mut self, id: DocId, text: &str) -> Result<()> {
        self.plan_edit(id, "what matters updated", |d, _| {
            action_plan::set_what_matters(d, text)
        })
    }

    /// Sets how to get back in touch.
    pub fn set_get_back_in_touch(&mut self, id: DocId, text: &str) -> Result<()> {
        self.plan_edit(id, "get back in touch updated", |d, _| {
            action_plan::set_get_back_in_touch(d, text)
        })
    }

    /// Adds a goal.
    pub fn add_goal(&mut self, id: DocId, text: &str) -> Result<GoalId> {
        self.plan_edit(id, "goal added", |d, _| action_plan::add_goal(d, text))
    }

    /// Rewords a goal.
    pub fn edit_goal(&mut self, id: DocId, goal: GoalId, text: &str) -> Result<()> {
        self.plan_edit(id, "goal reworded", |d, _| {
            action_plan::edit_goal(d, goal, text)
        })
    }

    /// Changes a goal's status.
    pub fn set_goal_status(
        &mut self,
        id: DocId,
        goal: GoalId,
        status: action_plan::GoalStatus,
    ) -> Result<()> {
        let what = format!("goal status set to {status}");
        self.plan_edit(id, &what, |d, _| {
            action_plan::set_goal_status(d, goal, status)
        })
    }

    /// Adds a step.
    pub fn add_step(&mut self, id: DocId, step: &NewStep) -> Result<StepId> {
        self.plan_edit(id, "step added", |d, _| action_plan::add_step(d, step))
    }

    /// Ticks a step off.
    pub fn set_step_done(&mut self, id: DocId, step: StepId, done: bool) -> Result<()> {
        let what = if done { "step done" } else { "step reopened" };
        self.plan_edit(id, what, |d, _| action_plan::set_step_done(d, step, done))
    }

    /// Adds a comment to the plan.
    pub fn add_plan_comment(&mut self, id: DocId, text: &str) -> Result<CommentId> {
        self.plan_edit(id, "comment added", |d, a| {
            action_plan::add_comment(d, a, text)
        })
    }

    // ----------------------------------------------------------------------------------
    // Directory

    /// Creates an empty directory for an area.
    pub fn create_directory(&mut self, area: &str) -> Result<DocId> {
        let id = DocId::random();
        let mut doc = directory::create(&self.author, area)?;
        doc::commit(&mut doc, &self.author, "directory created");
        let tx = self.conn.transaction()?;
        Self::insert_new(&tx, self.current_team, id, DocKind::Directory, &mut doc)?;
        tx.commit()?;
        self.docs.insert(id, (DocKind::Directory, doc));
        self.emit(id, DocKind::Directory);
        let _ = self.events.send(StoreEvent::LocalChange);
        Ok(id)
    }

    /// Adds or updates one asset.
    pub fn upsert_asset(
        &mut self,
        dir: DocId,
        asset: Option<AssetId>,
        input: &AssetInput,
    ) -> Result<AssetId> {
        let what = if asset.is_some() {
            "asset updated"
        } else {
            "asset added"
        };
        self.edit(
            dir,
            DocKind::Directory,
            what,
            |d, _| directory::upsert_asset(d, asset, input),
            |id| Reindex::Assets(vec![*id]),
        )
    }

    /// Imports many assets in one change (updating those whose external id is known).
    /// Everything is validated first: a bad asset refuses the whole import.
    pub fn import_assets(&mut self, dir: DocId, inputs: &[AssetInput]) -> Result<Vec<AssetId>> {
        let what = format!("{} assets imported", inputs.len());
        self.edit(
            dir,
            DocKind::Directory,
            &what,
            |d, _| directory::import_assets(d, inputs),
            |ids| Reindex::Assets(ids.clone()),
        )
    }

    /// Reads one asset.
    pub fn asset(&mut self, dir: DocId, asset: AssetId) -> Result<Asset> {
        let (_, doc) = self.load(dir)?;
        directory::read_asset(doc, asset)
    }

    /// Searches every directory on the device, from the index.
    pub fn search_directory(&self, query: &DirectoryQuery) -> Result<Vec<AssetHit>> {
        index::search(&self.conn, query)
    }

    /// Exports everything on the device as typed views.
    pub fn export(&mut self) -> Result<Export> {
        let mut out = Export {
            device: self.author.device,
            case_files: Vec::new(),
            action_plans: Vec::new(),
            directories: Vec::new(),
        };
        for id in self.document_ids(DocKind::CaseFile)? {
            out.case_files.push((id, self.case_file(id)?));
        }
        for id in self.document_ids(DocKind::ActionPlan)? {
            out.action_plans.push((id, self.action_plan(id)?));
        }
        for id in self.document_ids(DocKind::Directory)? {
            let (_, doc) = self.load(id)?;
            out.directories
                .push((id, directory::area(doc)?, directory::read_all(doc)?));
        }
        Ok(out)
    }
}

/// Queues a local change for the relay: once for the document's own team, and once more
/// for each team it is shared into.
fn enqueue(tx: &Transaction<'_>, id: DocId, hash: &[u8], bytes: &[u8]) -> Result<()> {
    let now = doc::now_millis();
    tx.execute(
        "INSERT INTO outbox (doc_id, hash, bytes, created_at) VALUES (?1, ?2, ?3, ?4)",
        params![id.as_bytes().as_slice(), hash, bytes, now],
    )?;
    tx.execute(
        "INSERT INTO outbox (doc_id, hash, bytes, created_at, team_id)
         SELECT ?1, ?2, ?3, ?4, team_id FROM document_shares WHERE doc_id = ?1",
        params![id.as_bytes().as_slice(), hash, bytes, now],
    )?;
    Ok(())
}

fn reindex_doc(
    tx: &Transaction<'_>,
    id: DocId,
    kind: DocKind,
    doc: &mut AutoCommit,
    scope: Reindex,
) -> Result<()> {
    match (kind, scope) {
        (_, Reindex::Nothing) | (DocKind::ActionPlan, _) => Ok(()),
        (DocKind::CaseFile, Reindex::CaseHeader) => {
            index::update_case_header(tx, id, &case_file::read_header(doc)?)
        }
        (
            DocKind::CaseFile,
            Reindex::SessionAdded {
                start,
                attended,
                follow_up,
            },
        ) => index::add_session(tx, id, start, attended, follow_up),
        (DocKind::CaseFile, _) => index::update_case(tx, id, &case_file::read(doc)?),
        (DocKind::Directory, Reindex::Assets(ids)) => {
            let assets = ids
                .iter()
                .map(|a| directory::read_asset(doc, *a))
                .collect::<Result<Vec<_>>>()?;
            index::update_assets(tx, id, &assets)
        }
        (DocKind::Directory, _) => {
            index::clear_directory(tx, id)?;
            index::update_assets(tx, id, &directory::read_all(doc)?)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keystore::MemoryKeyStore;

    /// Writes a store as version 1 of the schema left it: documents, no derived indexes.
    fn make_v1_store(dir: &Path, keys: &MemoryKeyStore) -> DocId {
        let key = [3u8; 32];
        keys.put(STORE_KEY_NAME, &key).unwrap();
        let db = dir.join(DB_FILE);
        let mut conn = Connection::open(&db).unwrap();
        apply_key(&conn, &key).unwrap();
        configure(&conn, Durability::Full).unwrap();
        assert_eq!(schema::migrate_to(&mut conn, 1).unwrap(), 0);
        let author = Author {
            device: DeviceId([1; 16]),
            person: "Sam".into(),
        };
        conn.execute(
            "INSERT INTO meta (key, value) VALUES ('device_id', ?1)",
            [author.device.as_bytes().as_slice()],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO meta (key, value) VALUES ('person', ?1)",
            [b"Sam".as_slice()],
        )
        .unwrap();
        let mut case =
            case_file::create(&author, &NewPatient::named("Ada Lovelace"), DocId([2; 16])).unwrap();
        case_file::set_status(&mut case, &author, CaseStatus::Active, None).unwrap();
        doc::commit(&mut case, &author, "created");
        let id = DocId::random();
        // As version 1 wrote it: no team column, every change in the outbox.
        conn.execute(
            "INSERT INTO documents (id, kind, snapshot, change_count, updated_at) VALUES (?1, ?2, ?3, 0, ?4)",
            params![id.as_bytes().as_slice(), "case_file", case.save(), doc::now_millis()],
        )
        .unwrap();
        for change in case.get_changes(&[]) {
            conn.execute(
                "INSERT INTO outbox (doc_id, hash, bytes, created_at) VALUES (?1, ?2, ?3, 0)",
                params![
                    id.as_bytes().as_slice(),
                    change.hash().0.as_slice(),
                    change.raw_bytes()
                ],
            )
            .unwrap();
        }
        std::fs::write(keycheck_path(&db), key_check(&key)).unwrap();
        id
    }

    #[test]
    fn version_2_store_upgrades_to_teams_and_keeps_its_outbox_for_the_first_team() {
        let dir = tempfile::tempdir().unwrap();
        let keys = MemoryKeyStore::default();
        let id = make_v1_store(dir.path(), &keys);
        {
            // Bring it to version 2 exactly, as a build of that version would have.
            let db = dir.path().join(DB_FILE);
            let mut conn = Connection::open(&db).unwrap();
            apply_key(&conn, &[3u8; 32]).unwrap();
            assert_eq!(schema::migrate_to(&mut conn, 2).unwrap(), 1);
            assert_eq!(schema::version(&conn).unwrap(), 2);
        }
        assert!(keys.get(crate::crypto::DEVICE_KEY_NAME).unwrap().is_none());
        let mut store = Store::open(&StoreConfig::new(dir.path(), "Sam"), &keys).unwrap();
        assert_eq!(schema::version(&store.conn).unwrap(), schema::VERSION);
        // A store from before sync gets its device key on first open.
        assert!(keys.get(crate::crypto::DEVICE_KEY_NAME).unwrap().is_some());
        assert!(store.teams().unwrap().is_empty());
        assert_eq!(store.document_team(id).unwrap(), None);
        let outbox = store.outbox_len().unwrap();
        assert!(outbox > 0);

        let team = store.create_team("http://127.0.0.1:9/").unwrap();
        assert_eq!(store.current_team(), Some(team));
        assert_eq!(
            store.document_team(id).unwrap(),
            Some(team),
            "old documents join the first team"
        );
        let info = store.team(team).unwrap();
        assert_eq!(info.relay_url, "http://127.0.0.1:9");
        assert!(info.created_here && !info.registered);
        assert_eq!(info.cursor, 0);
        let status = store.sync_status(team).unwrap();
        assert_eq!(status.pending_outbox, outbox);
        assert!(!status.everything_uploaded);
        // Sealing covers the changes written before the upgrade.
        assert_eq!(store.seal_outbox(team).unwrap(), 1);
        assert_eq!(
            store
                .pending_envelopes(team, 100, usize::MAX)
                .unwrap()
                .len(),
            1
        );
        // The team's keys and membership read back after a reopen; a second team leaves
        // documents alone.
        let before = store.keys_held(team).unwrap().key_for(id, 1).unwrap();
        drop(store);
        let mut store = Store::open(&StoreConfig::new(dir.path(), "Sam"), &keys).unwrap();
        assert_eq!(
            store
                .keys_held(team)
                .unwrap()
                .key_for(id, 1)
                .unwrap()
                .as_bytes(),
            before.as_bytes()
        );
        assert_eq!(
            store.role(team).unwrap(),
            Some(holdfast_protocol::Role::Admin)
        );
        assert_eq!(store.membership_log(team).unwrap().len(), 1);
        let other = store.create_team("http://127.0.0.1:9").unwrap();
        assert_eq!(store.current_team(), Some(team));
        assert_eq!(store.document_team(id).unwrap(), Some(team));
        assert_ne!(other, team);
    }

    #[test]
    fn version_1_store_upgrades_and_rebuilds_its_indexes() {
        let dir = tempfile::tempdir().unwrap();
        let keys = MemoryKeyStore::default();
        let id = make_v1_store(dir.path(), &keys);
        let mut store = Store::open(&StoreConfig::new(dir.path(), "Sam"), &keys).unwrap();
        assert_eq!(schema::version(&store.conn).unwrap(), schema::VERSION);
        let caseload = store.caseload(&CaseloadFilter::default()).unwrap();
        assert_eq!(caseload.len(), 1);
        assert_eq!(caseload[0].case_id, id);
        assert_eq!(caseload[0].status, CaseStatus::Active);
        assert_eq!(store.author().device, DeviceId([1; 16]));
        // And it keeps working as a current store.
        store.set_status(id, CaseStatus::Holding, None).unwrap();
        assert_eq!(
            store.caseload(&CaseloadFilter::default()).unwrap()[0].status,
            CaseStatus::Holding
        );
    }

    #[test]
    fn a_store_from_a_newer_build_is_refused_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let keys = MemoryKeyStore::default();
        let config = StoreConfig::new(dir.path(), "Sam");
        let store = Store::create(&config, &keys).unwrap();
        store.conn.pragma_update(None, "user_version", 99).unwrap();
        drop(store);
        let err = Store::open(&config, &keys).unwrap_err();
        assert!(
            matches!(
                err,
                Error::SchemaTooNew {
                    found: 99,
                    supported: schema::VERSION
                }
            ),
            "{err:?}"
        );
    }
}
