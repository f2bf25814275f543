//! Creating and opening the store: the database key from the host's key store, the key
//! check beside the file (so a wrong key is told from a damaged file), the quick length
//! check that catches a truncated file, and the schema upgrade.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use holdfast_protocol::{DeviceSigningKey, HpkeKeyPair};
use ring::hmac;
use rusqlite::{Connection, OpenFlags};
use zeroize::Zeroizing;

use super::{Durability, STORE_KEY_NAME, Store, StoreConfig, access, schema, teams};
use crate::access::Identity;
use crate::crypto::keys::{device_hpke_key, device_signing_key};
use crate::keystore::KeyStore;
use crate::model::doc::{self, Author};
use crate::model::ids::DeviceId;
use crate::model::ids::StoredId;
use crate::{Error, Result};

const KEYCHECK_SUFFIX: &str = ".keycheck";

pub(super) fn key_check(key: &[u8]) -> Vec<u8> {
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

pub(super) fn keycheck_path(db: &Path) -> PathBuf {
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

/// Maps SQLite's corruption and full-disk codes to the typed store errors; passes the rest
/// through.
pub(super) fn classify(e: rusqlite::Error) -> Error {
    Error::from(e)
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

pub(super) fn apply_key(conn: &Connection, key: &[u8]) -> Result<()> {
    let hex = Zeroizing::new(hex::encode(key));
    // A raw key: no PBKDF2 on open (1.5 ms instead of ~130 ms).
    conn.execute_batch(&format!("PRAGMA key = \"x'{}'\";", hex.as_str()))?;
    Ok(())
}

/// The database's `-wal` or `-shm` file.
fn sidecar(db: &Path, suffix: &str) -> PathBuf {
    let mut p = db.as_os_str().to_owned();
    p.push(suffix);
    PathBuf::from(p)
}

/// Makes `path` readable by its owner only (`mode`: 0o700 for the folder, 0o600 for files).
/// The files are ciphertext, but their sizes and times are nobody else's business, and a
/// phone's sandbox is not every platform's.
fn owner_only(path: &Path, mode: u32) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    }
    #[cfg(not(unix))]
    let _ = (path, mode);
    Ok(())
}

pub(super) fn configure(conn: &Connection, durability: Durability) -> Result<()> {
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

/// Whether `db` is what a `Store::create` killed before it wrote anything leaves: an empty
/// database file, with no key check and no write-ahead log beside it.
fn interrupted_create(db: &Path) -> bool {
    std::fs::metadata(db).is_ok_and(|m| m.is_file() && m.len() == 0)
        && !keycheck_path(db).exists()
        && !sidecar(db, "-wal").exists()
}

/// Records, once, from when this store owes messages back to the GP (see the worklist).
const FEEDBACK_OWED_FROM: &str =
    "INSERT OR IGNORE INTO meta (key, value) VALUES ('feedback_owed_from', ?1)";

impl Store {
    /// Creates a new store in `config.dir`, with a fresh device id and store key.
    pub fn create(config: &StoreConfig, keys: &dyn KeyStore) -> Result<Store> {
        let db = config.db_path();
        doc::require_text("person", &config.person, 200)?;
        std::fs::create_dir_all(&config.dir)?;
        owner_only(&config.dir, 0o700)?;
        // Claimed atomically before anything else: a second `create` in the same folder (a
        // race the FFI's folder claim rules out, the CLI's does not) is refused here, and
        // the clean-up below only ever removes files this call made.
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&db)
        {
            Ok(_) => {}
            // A create killed after its claim (the app killed on its first start) left an
            // empty file: taken over, as a store never made.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && interrupted_create(&db) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(Error::StoreExists(config.dir.display().to_string()));
            }
            Err(e) => return Err(e.into()),
        }
        Self::create_claimed(&db, config, keys).inspect_err(|_| {
            // A store half made (the disk filled part-way, say) would be taken for one that
            // exists, and the next attempt refused: it starts from nothing, as this one did.
            // The connection is closed by now.
            for path in [
                db.clone(),
                sidecar(&db, "-wal"),
                sidecar(&db, "-shm"),
                keycheck_path(&db),
            ] {
                match std::fs::remove_file(&path) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => tracing::warn!(error = %e, "a half-made store's file stays"),
                }
            }
        })
    }

    /// [`Store::create`] once the database file is claimed (empty): keys, then the database.
    fn create_claimed(db: &Path, config: &StoreConfig, keys: &dyn KeyStore) -> Result<Store> {
        let key = match keys.get(STORE_KEY_NAME)? {
            Some(k) if k.len() == 32 => k,
            _ => {
                let fresh = Zeroizing::new(crate::model::ids::random_bytes::<32>().to_vec());
                keys.put(STORE_KEY_NAME, &fresh)?;
                fresh
            }
        };
        let identity = (
            Arc::new(device_signing_key(keys, true)?),
            Arc::new(device_hpke_key(keys, true)?),
        );
        sqlcipher_ready()?;
        Self::create_at(db, config, &key, identity)
    }

    /// [`Store::create`]'s database, in the empty file at `db`.
    fn create_at(
        db: &Path,
        config: &StoreConfig,
        key: &[u8],
        (signer, hpke): (Arc<DeviceSigningKey>, Arc<HpkeKeyPair>),
    ) -> Result<Store> {
        let mut conn = Connection::open(db)?;
        // Before the first write: SQLite gives the WAL and shared-memory files the main
        // file's permissions.
        owner_only(db, 0o600)?;
        apply_key(&conn, key)?;
        configure(&conn, config.durability)?;
        schema::upgrade(&mut conn)?;
        // A new store has no documents to index, and no history that could owe a message
        // back to a GP.
        conn.execute(
            "DELETE FROM meta WHERE key IN ('rebuild_indexes', 'feedback_owed_pending')",
            [],
        )?;
        let device = DeviceId::random();
        conn.execute(
            "INSERT INTO meta (key, value) VALUES ('device_id', ?1)",
            [device.as_bytes().as_slice()],
        )?;
        conn.execute(
            "INSERT INTO meta (key, value) VALUES ('person', ?1)",
            [config.person.trim().as_bytes()],
        )?;
        std::fs::write(keycheck_path(db), key_check(key))?;
        owner_only(&keycheck_path(db), 0o600)?;
        tracing::info!(device = %device, "store created");
        Ok(Store {
            conn,
            config: config.clone(),
            author: Author {
                device,
                person: config.person.trim().to_owned(),
            },
            docs: super::doc_cache::DocCache::default(),
            identity: Identity {
                device,
                signer,
                hpke,
            },
            access: HashMap::new(),
            team_keys: HashMap::new(),
            current_team: None,
            events: super::events::channel(),
        })
    }

    /// Opens an existing store. A wrong key or a damaged file is a typed error, and nothing
    /// in the file is changed.
    pub fn open(config: &StoreConfig, keys: &dyn KeyStore) -> Result<Store> {
        let db = config.db_path();
        // An empty database file and nothing else is a create that never finished: no store,
        // and nothing is written to it (`create` takes it over).
        if !db.exists() || interrupted_create(&db) {
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
                (false, _) => Error::from(e),
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
        let device = DeviceId::from_stored(&device)?;
        let mut store = Store {
            conn,
            config: config.clone(),
            author: Author {
                device,
                person: String::from_utf8(person)
                    .map_err(|_| Error::StoreCorrupt("person is not text".into()))?,
            },
            docs: super::doc_cache::DocCache::default(),
            identity: Identity {
                device,
                signer,
                hpke,
            },
            access,
            team_keys,
            current_team,
            events: super::events::channel(),
        };
        // Version 2 made the indexes and version 12 added oversight columns to them: both
        // are derived, so a store from before either is reindexed from its documents. The
        // migration leaves a mark that only a finished rebuild clears: a rebuild cut short
        // (the app killed, the disk full) runs again at the next open.
        let pending: bool = store.conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM meta WHERE key = 'rebuild_indexes')",
            [],
            |r| r.get(0),
        )?;
        // A store from before version 13 owes messages back to the GP only for decisions
        // and closures from its upgrade on: its cases' years of history must not flood the
        // worklist. (A new device holds no old cases: they are someone else's until handed
        // over.) The migration leaves a mark, so an open killed before this still does it.
        let cutoff_pending: bool = store.conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM meta WHERE key = 'feedback_owed_pending')",
            [],
            |r| r.get(0),
        )?;
        if cutoff_pending {
            let now_for_cutoff = store.now_millis();
            let tx = store.conn.transaction()?;
            tx.execute(FEEDBACK_OWED_FROM, [now_for_cutoff])?;
            tx.execute("DELETE FROM meta WHERE key = 'feedback_owed_pending'", [])?;
            tx.commit()?;
        }
        if found < 2 || pending {
            store.rebuild_indexes()?;
            store
                .conn
                .execute("DELETE FROM meta WHERE key = 'rebuild_indexes'", [])?;
        }
        // A closed case's plan shows it has ended, however the close got here or whatever
        // stopped its plan's write (never fails the open).
        store.repair_ended_plans();
        // Stores made before their files were owner-only get so now.
        owner_only(&config.dir, 0o700)?;
        for file in [
            db.clone(),
            keycheck_path(&db),
            sidecar(&db, "-wal"),
            sidecar(&db, "-shm"),
        ] {
            if file.exists() {
                owner_only(&file, 0o600)?;
            }
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
}
