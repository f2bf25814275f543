//! The embedded SQLite backend: one file, zero set-up, the relay's default.
//!
//! - **Durability**: WAL with `synchronous=FULL`; a write is acknowledged only after its
//!   transaction committed, so an acknowledged envelope survives a crash or power loss.
//!   (rusqlite is built with SQLCipher in this workspace; the relay sets no key, which is
//!   plain SQLite. The relay stores only ciphertext and clear headers.)
//! - **Writes**: one writer thread (`sqlite/writer.rs`) owns the only write connection and commits whatever
//!   requests are queued as one transaction (group commit). It assigns the per-team
//!   sequence numbers, so they need no locking and have no gaps.
//! - **Reads**: a small pool of read-only connections, used through `spawn_blocking` and
//!   bounded by a semaphore; WAL lets them read while the writer writes.
//! - **Schema**: versioned with `PRAGMA user_version`, migrated on open ([`schema`]).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;

use holdfast_protocol::{DeviceId, DocumentId, InviteId, PAGE_ITEM_OVERHEAD, TeamId};
use rusqlite::{Connection, OpenFlags, OptionalExtension, Row, params};
use tokio::sync::{Semaphore, mpsc, oneshot};

use super::{
    BundlePage, BundleRequest, Device, Error, MembershipAppend, MembershipEntry, NewEnvelope,
    NewTeam, Page, PublicKey, PullRequest, PushReceipt, Result, Role, Staging, Storage, TeamHeads,
    TeamInfo, TeamQuota, WriteStats,
};

pub mod schema;
mod writer;

use writer::{Command, Writer};

/// The database file inside the relay's data directory.
pub const DATABASE_FILE: &str = "relay.db";

/// Requests that may wait for the writer before pushers are made to wait (backpressure).
const QUEUE_DEPTH: usize = 1024;

/// Tuning for [`SqliteStorage::open_with`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SqliteOptions {
    /// Read-only connections in the pool (at most this many reads run at once).
    pub read_connections: usize,
    /// The writer connection's page cache, in KiB.
    pub writer_cache_kib: u32,
    /// Checkpoint the WAL into the database once it holds this many 4 KiB pages.
    pub checkpoint_pages: u32,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        SqliteOptions {
            read_connections: 4,
            writer_cache_kib: 64 * 1024,
            // 64 MiB: measured ~5% slower than 256 MiB under a sustained push load, with
            // checkpoint pauses a quarter as long (~0.2 s instead of ~1 s).
            checkpoint_pages: 16 * 1024,
        }
    }
}

/// The SQLite storage backend. Cheap to clone: clones share the database.
#[derive(Clone)]
pub struct SqliteStorage {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    queue: Mutex<Option<mpsc::Sender<Command>>>,
    writer: Mutex<Option<JoinHandle<()>>>,
    idle_readers: Mutex<Vec<Connection>>,
    reader_permits: Semaphore,
    read_connections: usize,
    shared: Arc<Shared>,
}

/// What the writer thread shares with the request side.
struct Shared {
    heads: TeamHeads,
    stats: Stats,
    quota: Mutex<TeamQuota>,
}

impl Shared {
    /// The team quota in force.
    fn quota(&self) -> TeamQuota {
        *lock(&self.quota)
    }
}

#[derive(Default)]
struct Stats {
    transactions: AtomicU64,
    requests: AtomicU64,
    envelopes: AtomicU64,
    nanos: AtomicU64,
}

impl std::fmt::Debug for SqliteStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStorage")
            .field("path", &self.inner.path)
            .finish_non_exhaustive()
    }
}

impl SqliteStorage {
    /// Opens (creating if needed) the database at `path` with default options, migrates it
    /// and starts the writer thread. Blocking: call it at start-up or from `spawn_blocking`.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        Self::open_with(path, SqliteOptions::default())
    }

    /// [`open`](Self::open) with explicit options.
    pub fn open_with(path: impl AsRef<Path>, options: SqliteOptions) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let mut conn = Connection::open(&path).map_err(sql_error)?;
        configure_writer(&conn, options)?;
        schema::migrate(&mut conn)?;

        let shared = Arc::new(Shared {
            heads: TeamHeads::new(),
            stats: Stats::default(),
            quota: Mutex::new(TeamQuota::default()),
        });
        let (sender, receiver) = mpsc::channel(QUEUE_DEPTH);
        let writer = Writer::new(conn, receiver, Arc::clone(&shared));
        let thread = std::thread::Builder::new()
            .name("relay-writer".into())
            .spawn(move || writer.run())
            .map_err(|e| Error::Backend(format!("cannot start the writer thread: {e}")))?;

        let read_connections = options.read_connections.max(1);
        Ok(SqliteStorage {
            inner: Arc::new(Inner {
                path,
                queue: Mutex::new(Some(sender)),
                writer: Mutex::new(Some(thread)),
                idle_readers: Mutex::new(Vec::with_capacity(read_connections)),
                reader_permits: Semaphore::new(read_connections),
                read_connections,
                shared,
            }),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Sends a request to the writer and waits for its answer (given after the commit).
    async fn write<T>(
        &self,
        command: impl FnOnce(oneshot::Sender<Result<T>>) -> Command,
    ) -> Result<T> {
        let queue = lock(&self.inner.queue).clone().ok_or(Error::Closed)?;
        let (reply, answer) = oneshot::channel();
        queue
            .send(command(reply))
            .await
            .map_err(|_| Error::Closed)?;
        answer
            .await
            .map_err(|_| Error::Backend("the writer stopped before answering".into()))?
    }

    /// Runs `read` on a pooled read-only connection, off the async threads.
    async fn read<T, F>(&self, read: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        let _permit = self
            .inner
            .reader_permits
            .acquire()
            .await
            .map_err(|_| Error::Closed)?;
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || {
            let pooled = lock(&inner.idle_readers).pop();
            let conn = match pooled {
                Some(conn) => conn,
                None => open_reader(&inner.path)?,
            };
            let result = read(&conn);
            let mut idle = lock(&inner.idle_readers);
            if idle.len() < inner.read_connections {
                idle.push(conn);
            }
            result
        })
        .await
        .map_err(|e| Error::Backend(format!("read task failed: {e}")))?
    }
}

fn configure_writer(conn: &Connection, options: SqliteOptions) -> Result<()> {
    // First: a writer of a process that just stopped may still be checkpointing, and the
    // journal-mode switch below needs the lock too (a restart must wait, not fail).
    conn.busy_timeout(std::time::Duration::from_secs(5))
        .map_err(sql_error)?;
    let mode: String = conn
        .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
        .map_err(sql_error)?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(Error::Backend(format!(
            "the database refused WAL mode (journal mode is {mode})"
        )));
    }
    // FULL: the WAL is fsynced at every commit, so an acknowledged push is on disk.
    conn.pragma_update(None, "synchronous", "FULL")
        .map_err(sql_error)?;
    conn.pragma_update(None, "foreign_keys", "ON")
        .map_err(sql_error)?;
    conn.pragma_update(None, "temp_store", "MEMORY")
        .map_err(sql_error)?;
    conn.pragma_update(
        None,
        "cache_size",
        -i64::from(options.writer_cache_kib.max(1024)),
    )
    .map_err(sql_error)?;
    // Checkpoint (copy the WAL into the database, in the writer's thread) every
    // `checkpoint_pages` pages of WAL. Larger means fewer copies of index pages that
    // several commits touch, but longer pauses of the writer while it checkpoints.
    conn.pragma_update(None, "wal_autocheckpoint", options.checkpoint_pages.max(1))
        .map_err(sql_error)?;
    Ok(())
}

fn open_reader(path: &Path) -> Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(sql_error)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))
        .map_err(sql_error)?;
    conn.pragma_update(None, "cache_size", -16_384)
        .map_err(sql_error)?;
    Ok(conn)
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // The guarded values (a sender, a join handle, idle connections) stay valid after a
    // panic elsewhere: recover them.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// SQLite errors become backend errors whose message is for the log.
pub(super) fn sql_error(e: rusqlite::Error) -> Error {
    Error::Backend(format!("sqlite: {e}"))
}

/// u64 values (sequence numbers, times, `covers`) as SQLite integers, saturating at 2^63-1.
pub(super) fn to_sql_int(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// SQLite integers back to u64 (never negative here; a negative one reads as 0).
pub(super) fn from_sql_int(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

/// A roster entry from `device, public_key, hpke_key, role, plan, invite, added_at,
/// added_by, revoked_at`.
pub(super) fn device_from_row(row: &Row<'_>) -> rusqlite::Result<Device> {
    let role: String = row.get(3)?;
    let role = Role::from_name(&role).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            3,
            rusqlite::types::Type::Text,
            format!("unknown role {role:?}").into(),
        )
    })?;
    Ok(Device {
        device: DeviceId(row.get(0)?),
        public_key: row.get(1)?,
        hpke_key: row.get(2)?,
        role,
        plan: row.get::<_, Option<[u8; 16]>>(4)?.map(DocumentId),
        invite: row.get::<_, Option<[u8; 16]>>(5)?.map(InviteId),
        added_at_ms: from_sql_int(row.get(6)?),
        added_by: DeviceId(row.get(7)?),
        revoked_at_ms: row.get::<_, Option<i64>>(8)?.map(from_sql_int),
    })
}

macro_rules! pull_sql {
    ($filter:literal) => {
        concat!(
            "SELECT seq, length(bytes), bytes FROM envelopes
             WHERE team = ?1 AND seq > ?2",
            $filter,
            " ORDER BY seq LIMIT ?3"
        )
    };
}

/// See [`PullRequest::compact`]. The subquery runs on the partial snapshot index.
macro_rules! pull_compact_sql {
    ($filter:literal) => {
        concat!(
            "SELECT e.seq, length(e.bytes), e.bytes FROM envelopes e
             WHERE e.team = ?1 AND e.seq > ?2",
            $filter,
            " AND NOT (e.kind IN (1, 2) AND EXISTS (
               SELECT 1 FROM envelopes s
               WHERE s.team = e.team AND s.document = e.document AND s.kind = 2
                 AND s.covers < s.seq AND s.seq <> e.seq
                 AND ((e.kind = 1 AND s.covers >= e.seq)
                   OR (e.kind = 2 AND (s.covers > e.covers
                                       OR (s.covers = e.covers AND s.seq > e.seq))))))
             ORDER BY e.seq LIMIT ?3"
        )
    };
}

const PULL_SQL: &str = pull_sql!("");
const PULL_DOC_SQL: &str = pull_sql!(" AND document = ?4");
const PULL_COMPACT_SQL: &str = pull_compact_sql!("");
const PULL_COMPACT_DOC_SQL: &str = pull_compact_sql!(" AND e.document = ?4");

fn pull(conn: &Connection, team: TeamId, request: PullRequest) -> Result<Page> {
    let limit = request.limit.max(1);
    let sql = match (request.compact, request.document.is_some()) {
        (false, false) => PULL_SQL,
        (false, true) => PULL_DOC_SQL,
        (true, false) => PULL_COMPACT_SQL,
        (true, true) => PULL_COMPACT_DOC_SQL,
    };
    let mut stmt = conn.prepare_cached(sql).map_err(sql_error)?;
    // One row more than asked tells whether there is more.
    let fetch = i64::try_from(limit).unwrap_or(i64::MAX).saturating_add(1);
    let after = to_sql_int(request.after);
    let mut rows = match request.document {
        Some(document) => stmt.query(params![team.0, after, fetch, document.0]),
        None => stmt.query(params![team.0, after, fetch]),
    }
    .map_err(sql_error)?;
    let mut page = Page {
        envelopes: Vec::new(),
        next: request.after,
        more: false,
    };
    let mut used = 0usize;
    while let Some(row) = rows.next().map_err(sql_error)? {
        let len = usize::try_from(row.get::<_, i64>(1).map_err(sql_error)?).unwrap_or(usize::MAX);
        let cost = len.saturating_add(PAGE_ITEM_OVERHEAD);
        let full = page.envelopes.len() >= limit
            || (!page.envelopes.is_empty() && used.saturating_add(cost) > request.max_bytes);
        if full {
            page.more = true;
            break;
        }
        let seq = from_sql_int(row.get(0).map_err(sql_error)?);
        let bytes: Vec<u8> = row.get(2).map_err(sql_error)?;
        used = used.saturating_add(cost);
        page.next = seq;
        page.envelopes.push((seq, bytes));
    }
    Ok(page)
}

fn bundles(conn: &Connection, team: TeamId, request: &BundleRequest) -> Result<BundlePage> {
    let limit = request.limit.max(1);
    let mut page = BundlePage {
        bundles: Vec::new(),
        next: request.after,
        more: false,
    };
    if request.recipients.is_empty() {
        return Ok(page);
    }
    let marks = vec!["?"; request.recipients.len()].join(", ");
    let sql = format!(
        "SELECT seq, bytes FROM key_bundles
         WHERE team = ? AND seq > ? AND recipient IN ({marks}) ORDER BY seq LIMIT ?"
    );
    let mut stmt = conn.prepare_cached(&sql).map_err(sql_error)?;
    let fetch = i64::try_from(limit).unwrap_or(i64::MAX).saturating_add(1);
    let mut values: Vec<rusqlite::types::Value> = Vec::with_capacity(request.recipients.len() + 3);
    values.push(team.0.to_vec().into());
    values.push(to_sql_int(request.after).into());
    values.extend(request.recipients.iter().map(|r| r.to_vec().into()));
    values.push(fetch.into());
    let mut rows = stmt
        .query(rusqlite::params_from_iter(values))
        .map_err(sql_error)?;
    while let Some(row) = rows.next().map_err(sql_error)? {
        if page.bundles.len() >= limit {
            page.more = true;
            break;
        }
        let seq = from_sql_int(row.get(0).map_err(sql_error)?);
        page.bundles.push((seq, row.get(1).map_err(sql_error)?));
        page.next = seq;
    }
    Ok(page)
}

impl Storage for SqliteStorage {
    async fn create_team(&self, team: NewTeam) -> Result<()> {
        self.write(|reply| Command::CreateTeam { team, reply })
            .await
    }

    async fn append_membership(&self, team: TeamId, append: MembershipAppend) -> Result<u64> {
        self.write(|reply| Command::AppendMembership {
            team,
            append: Box::new(append),
            reply,
        })
        .await
    }

    async fn membership(&self, team: TeamId, from: u64) -> Result<Vec<MembershipEntry>> {
        self.read(move |conn| {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT seq, entry, subject FROM membership
                     WHERE team = ?1 AND seq >= ?2 ORDER BY seq",
                )
                .map_err(sql_error)?;
            let rows = stmt
                .query_map(params![team.0, to_sql_int(from)], |row| {
                    Ok(MembershipEntry {
                        seq: from_sql_int(row.get(0)?),
                        entry: row.get(1)?,
                        subject: row.get(2)?,
                    })
                })
                .map_err(sql_error)?;
            rows.collect::<rusqlite::Result<Vec<_>>>()
                .map_err(sql_error)
        })
        .await
    }

    async fn devices(&self, team: TeamId) -> Result<Vec<Device>> {
        self.read(move |conn| {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT device, public_key, hpke_key, role, plan, invite, added_at, added_by,
                            revoked_at
                     FROM devices WHERE team = ?1 ORDER BY added_at, device",
                )
                .map_err(sql_error)?;
            let rows = stmt
                .query_map([team.0], device_from_row)
                .map_err(sql_error)?;
            rows.collect::<rusqlite::Result<Vec<_>>>()
                .map_err(sql_error)
        })
        .await
    }

    async fn stage_bundles(&self, team: TeamId, staging: Staging) -> Result<u64> {
        self.write(|reply| Command::StageBundles {
            team,
            staging,
            reply,
        })
        .await
    }

    async fn staged_recipients(
        &self,
        team: TeamId,
        sender: DeviceId,
        commitment: [u8; 32],
    ) -> Result<Vec<[u8; 16]>> {
        self.read(move |conn| {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT recipient FROM staged_bundles
                     WHERE team = ?1 AND sender = ?2 AND commitment = ?3 ORDER BY recipient",
                )
                .map_err(sql_error)?;
            let rows = stmt
                .query_map(params![team.0, sender.0, commitment], |r| {
                    r.get::<_, [u8; 16]>(0)
                })
                .map_err(sql_error)?;
            rows.collect::<rusqlite::Result<Vec<_>>>()
                .map_err(sql_error)
        })
        .await
    }

    async fn forget_bundles(&self, team: TeamId, recipient: [u8; 16], up_to: u64) -> Result<u64> {
        self.write(|reply| Command::ForgetBundles {
            team,
            recipient,
            up_to,
            reply,
        })
        .await
    }

    async fn bundles(&self, team: TeamId, request: BundleRequest) -> Result<BundlePage> {
        self.read(move |conn| bundles(conn, team, &request)).await
    }

    async fn device_key(&self, device: DeviceId) -> Result<Option<PublicKey>> {
        self.read(move |conn| {
            conn.prepare_cached(
                "SELECT public_key FROM devices WHERE device = ?1 AND revoked_at IS NULL LIMIT 1",
            )
            .and_then(|mut s| s.query_row([device.0], |r| r.get(0)).optional())
            .map_err(sql_error)
        })
        .await
    }

    async fn push(
        &self,
        team: TeamId,
        envelopes: Vec<NewEnvelope>,
        received_ms: u64,
    ) -> Result<PushReceipt> {
        self.write(|reply| Command::Push {
            team,
            envelopes,
            received_ms,
            reply,
        })
        .await
    }

    async fn pull(&self, team: TeamId, request: PullRequest) -> Result<Page> {
        self.read(move |conn| pull(conn, team, request)).await
    }

    async fn head(&self, team: TeamId) -> Result<Option<u64>> {
        self.read(move |conn| {
            conn.prepare_cached("SELECT head FROM teams WHERE id = ?1")
                .and_then(|mut s| s.query_row([team.0], |r| r.get::<_, i64>(0)).optional())
                .map(|head| head.map(from_sql_int))
                .map_err(sql_error)
        })
        .await
    }

    async fn document_head(&self, team: TeamId, document: DocumentId) -> Result<u64> {
        self.read(move |conn| {
            conn.prepare_cached(
                "SELECT COALESCE(MAX(seq), 0) FROM envelopes WHERE team = ?1 AND document = ?2",
            )
            .and_then(|mut s| s.query_row(params![team.0, document.0], |r| r.get::<_, i64>(0)))
            .map(from_sql_int)
            .map_err(sql_error)
        })
        .await
    }

    async fn team(&self, team: TeamId) -> Result<Option<TeamInfo>> {
        self.read(move |conn| {
            conn.prepare_cached("SELECT head, epoch, membership_len FROM teams WHERE id = ?1")
                .and_then(|mut s| {
                    s.query_row([team.0], |r| {
                        Ok(TeamInfo {
                            head: from_sql_int(r.get(0)?),
                            epoch: r.get(1)?,
                            membership_len: from_sql_int(r.get(2)?),
                        })
                    })
                    .optional()
                })
                .map_err(sql_error)
        })
        .await
    }

    fn set_team_quota(&self, quota: TeamQuota) {
        *lock(&self.inner.shared.quota) = quota;
    }

    fn heads(&self) -> &TeamHeads {
        &self.inner.shared.heads
    }

    fn write_stats(&self) -> WriteStats {
        let stats = &self.inner.shared.stats;
        WriteStats {
            transactions: stats.transactions.load(Ordering::Relaxed),
            requests: stats.requests.load(Ordering::Relaxed),
            envelopes: stats.envelopes.load(Ordering::Relaxed),
            // Nanoseconds to seconds; f64 is exact far beyond any uptime.
            #[allow(clippy::cast_precision_loss)]
            seconds: stats.nanos.load(Ordering::Relaxed) as f64 / 1e9,
        }
    }

    async fn check(&self) -> Result<()> {
        let writer_alive = lock(&self.inner.queue)
            .as_ref()
            .is_some_and(|queue| !queue.is_closed());
        if !writer_alive {
            return Err(Error::Closed);
        }
        self.read(|conn| {
            conn.query_row("SELECT count(*) FROM teams", [], |r| r.get::<_, i64>(0))
                .map(drop)
                .map_err(sql_error)
        })
        .await
    }

    async fn close(&self) -> Result<()> {
        // Readers first, so that the writer's connection is the last one and checkpoints
        // the WAL away as it closes.
        self.inner.reader_permits.close();
        lock(&self.inner.idle_readers).clear();
        // Dropping the last sender ends the writer's loop once the queue is drained;
        // requests already queued are committed and answered first.
        drop(lock(&self.inner.queue).take());
        let thread = lock(&self.inner.writer).take();
        if let Some(thread) = thread {
            tokio::task::spawn_blocking(move || thread.join())
                .await
                .map_err(|e| Error::Backend(format!("joining the writer failed: {e}")))?
                .map_err(|_| Error::Backend("the writer thread panicked".into()))?;
        }
        Ok(())
    }
}

/// The database file for a data directory.
pub fn database_path(data_dir: &Path) -> PathBuf {
    data_dir.join(DATABASE_FILE)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::contract::{self, Backend};

    /// A fresh database in its own temporary directory; reopening keeps the directory.
    struct TempSqlite {
        dir: tempfile::TempDir,
    }

    impl TempSqlite {
        fn new() -> Self {
            TempSqlite {
                dir: tempfile::tempdir().unwrap(),
            }
        }
    }

    impl Backend for TempSqlite {
        type Storage = SqliteStorage;

        async fn open(&mut self) -> SqliteStorage {
            SqliteStorage::open(database_path(self.dir.path())).unwrap()
        }

        async fn reopen(&mut self, storage: SqliteStorage) -> SqliteStorage {
            storage.close().await.unwrap();
            drop(storage);
            SqliteStorage::open(database_path(self.dir.path())).unwrap()
        }
    }

    // Every check of the storage contract, one test each.
    crate::storage_contract_tests!(TempSqlite::new());

    #[tokio::test]
    async fn a_failing_request_in_a_group_does_not_fail_the_others() {
        let backend = &mut TempSqlite::new();
        let storage = backend.open().await;
        let team = contract::new_team(&storage, 1).await;
        let envelope = contract::envelope(
            team.team,
            team.admin,
            holdfast_protocol::DocumentId([1; 16]),
            holdfast_protocol::Kind::ChangeBatch,
            0,
            1,
        );
        // Queue a push to a missing team and a good push back to back: the writer is likely
        // to take both in one transaction; either way each gets its own answer.
        let missing = TeamId([0xee; 16]);
        let (bad, good) = tokio::join!(
            storage.push(missing, vec![envelope.clone()], contract::RECEIVED_MS),
            storage.push(team.team, vec![envelope], contract::RECEIVED_MS),
        );
        assert!(matches!(bad, Err(Error::NoSuchTeam(t)) if t == missing));
        assert_eq!(good.unwrap().envelopes[0].seq, 1);
        assert_eq!(storage.head(team.team).await.unwrap(), Some(1));
        storage.close().await.unwrap();
    }

    #[tokio::test]
    async fn ids_sharing_the_indexed_prefix_are_still_told_apart() {
        let backend = &mut TempSqlite::new();
        let storage = backend.open().await;
        let team = contract::new_team(&storage, 1).await;
        let doc = holdfast_protocol::DocumentId([1; 16]);
        let kind = holdfast_protocol::Kind::ChangeBatch;
        let mut a = contract::envelope(team.team, team.admin, doc, kind, 0, 1);
        let mut b = contract::envelope(team.team, team.admin, doc, kind, 0, 2);
        // Storage trusts the ids it is given: make two that differ only after byte 8.
        a.id.0 = [7; 32];
        b.id.0 = [7; 32];
        b.id.0[31] = 8;
        assert_eq!(a.id.0[..8], b.id.0[..8]);
        let pushed = storage
            .push(
                team.team,
                vec![a.clone(), b.clone(), b, a],
                contract::RECEIVED_MS,
            )
            .await
            .unwrap();
        let got: Vec<(u64, bool)> = pushed
            .envelopes
            .iter()
            .map(|p| (p.seq, p.duplicate))
            .collect();
        assert_eq!(got, [(1, false), (2, false), (2, true), (1, true)]);
        assert_eq!(pushed.head, 2);
        storage.close().await.unwrap();
    }

    #[tokio::test]
    async fn the_database_is_in_wal_mode_with_the_current_schema() {
        let dir = tempfile::tempdir().unwrap();
        let storage = SqliteStorage::open(database_path(dir.path())).unwrap();
        storage.close().await.unwrap();
        let conn = Connection::open(database_path(dir.path())).unwrap();
        let mode: String = conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        assert_eq!(schema::version(&conn).unwrap(), schema::VERSION);
    }
}
