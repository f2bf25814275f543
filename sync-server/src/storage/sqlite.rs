//! The embedded SQLite backend: one file, zero set-up, the relay's default.
//!
//! - **Durability**: WAL with `synchronous=FULL`; a write is acknowledged only after its
//!   transaction committed, so an acknowledged envelope survives a crash or power loss.
//!   (rusqlite is built with SQLCipher in this workspace; the relay sets no key, which is
//!   plain SQLite. The relay stores only ciphertext and clear headers.)
//! - **Writes**: one writer thread (`sqlite/writer.rs`) owns the only write connection and commits whatever
//!   requests are queued as one transaction (group commit). It assigns the per-team
//!   sequence numbers, so they need no locking and have no gaps.
//! - **Reads**: a small pool of read-only connections, each in a long-lived thread of its
//!   own (`sqlite/readers.rs`), bounded by a semaphore; WAL lets them read while the
//!   writer writes. A read whose
//!   caller gives up (the request timed out, the client went away) is interrupted
//!   (`sqlite3_interrupt`) rather than left running on its connection.
//! - **Checkpoints**: a second connection copies the WAL into the database in a thread of
//!   its own after commits (`sqlite/checkpoint.rs`), so the copy does not stop the writer.
//! - **Ids**: the id index is written in key order by a sweep of the writer, the ids of new
//!   envelopes waiting in memory until it passes (`sqlite/ids.rs`), so that index writes do
//!   not grow with what is stored.
//! - **Schema**: versioned with `PRAGMA user_version`, migrated on open ([`schema`]).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;

use holdfast_protocol::{DeviceId, DocumentId, EnvelopeId, InviteId, PAGE_ITEM_OVERHEAD, TeamId};
use rusqlite::{Connection, OpenFlags, OptionalExtension, Row, params};
use tokio::sync::{Semaphore, mpsc, oneshot};

use super::{
    BundlePage, BundleRequest, Device, Error, MembershipAppend, MembershipEntry, NewBundle,
    NewEnvelope, NewTeam, Page, PrivateNotes, PublicKey, PullRequest, PushReceipt, Result, Role,
    Staging, Storage, TeamHeads, TeamInfo, TeamQuota, WriteStats,
};

mod checkpoint;
mod ids;
mod readers;
pub mod schema;
mod writer;

use readers::Readers;
use writer::{Command, Writer};

/// The database file inside the relay's data directory.
pub const DATABASE_FILE: &str = "relay.db";

/// Each read connection's page cache, in KiB.
const READER_CACHE_KIB: i64 = 4 * 1024;

/// Requests that may wait for the writer before pushers are made to wait (backpressure).
const QUEUE_DEPTH: usize = 1024;

/// Tuning for [`SqliteStorage::open_with`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SqliteOptions {
    /// Read-only connections in the pool (at most this many reads run at once).
    pub read_connections: usize,
    /// The writer connection's page cache, in KiB.
    pub writer_cache_kib: u32,
    /// The WAL starts over once it holds this many 4 KiB pages (checkpoints run in the
    /// background after commits; at this length the writer finishes the copy itself).
    pub checkpoint_pages: u32,
    /// Ids of stored envelopes that may wait in memory for the id index (~30 bytes each),
    /// written to it in key order (`sqlite/ids.rs`): the larger, the fewer index pages
    /// each stored envelope costs once the index outgrows the cache.
    pub id_buffer: usize,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        SqliteOptions {
            read_connections: 4,
            writer_cache_kib: 64 * 1024,
            // 64 MiB: measured ~5% slower than 256 MiB under a sustained push load, with
            // checkpoint pauses a quarter as long (~0.2 s instead of ~1 s).
            checkpoint_pages: 16 * 1024,
            // ~31 MB at most; at 10 M stored envelopes, ~0.5 KiB of index writes for each.
            id_buffer: 1 << 20,
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
    readers: Readers,
    reader_permits: Arc<Semaphore>,
    /// Reads running on a connection now.
    reads_running: AtomicUsize,
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
        // The readers before the writer: if they cannot start, no writer thread is left
        // running behind a failed open. (Their connections open at their first reads.)
        let read_connections = options.read_connections.max(1);
        let readers = Readers::start(&path, read_connections)?;
        let (sender, receiver) = mpsc::channel(QUEUE_DEPTH);
        // Checkpoints in the background; if that connection cannot be had, SQLite's own in
        // the writer (`configure_writer`), as before.
        let checkpointer = match checkpoint::Checkpointer::start(&path) {
            Ok(checkpointer) => {
                conn.pragma_update(None, "wal_autocheckpoint", 0)
                    .map_err(sql_error)?;
                Some(checkpointer)
            }
            Err(e) => {
                tracing::warn!(error = %e, "relay checkpoints stay in the writer thread");
                None
            }
        };
        let writer = Writer::new(
            conn,
            receiver,
            Arc::clone(&shared),
            options.id_buffer,
            (checkpointer, u64::from(options.checkpoint_pages.max(1))),
        )?;
        let thread = std::thread::Builder::new()
            .name("relay-writer".into())
            .spawn(move || writer.run())
            .map_err(|e| Error::Backend(format!("cannot start the writer thread: {e}")))?;

        Ok(SqliteStorage {
            inner: Arc::new(Inner {
                path,
                queue: Mutex::new(Some(sender)),
                writer: Mutex::new(Some(thread)),
                readers,
                reader_permits: Arc::new(Semaphore::new(read_connections)),
                reads_running: AtomicUsize::new(0),
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

    /// Runs `read` on a pooled read-only connection, in its reader thread. If the caller
    /// stops waiting (the future is dropped: a request timeout, a client gone), the read is
    /// interrupted where it is (or never starts), and its permit comes back as soon as it
    /// stops.
    async fn read<T, F>(&self, read: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        let permit = Arc::clone(&self.inner.reader_permits)
            .acquire_owned()
            .await
            .map_err(|_| Error::Closed)?;
        let inner = Arc::clone(&self.inner);
        let cancel = Arc::new(Cancel::default());
        let on_drop = CancelOnDrop(Some(Arc::clone(&cancel)));
        let (reply, answer) = oneshot::channel();
        self.inner.readers.submit(Box::new(move |conn| {
            // The permit goes with the work, not with the caller: at most
            // `read_connections` reads run or wait for a thread, given up or not.
            let _permit = permit;
            let result = conn.and_then(|conn| {
                if !cancel.arm(conn.get_interrupt_handle()) {
                    return Err(Error::Backend(
                        "the read was given up before it started".into(),
                    ));
                }
                // Counted and disarmed on the way out, even if the read panics.
                let _running = Running::start(&inner.reads_running, &cancel);
                read(conn)
            });
            // The caller may have stopped waiting: then nobody wants the answer.
            let _ = reply.send(result);
        }))?;
        let result = answer.await;
        on_drop.defuse();
        result.map_err(|_| Error::Backend("the read stopped before answering".into()))?
    }

    /// Reads running on a connection at this moment (a read given up by its caller stops
    /// within a statement step of being interrupted).
    pub fn reads_running(&self) -> usize {
        self.inner.reads_running.load(Ordering::Acquire)
    }
}

/// A read's cancellation: the interrupt handle of the connection it runs on, while it runs.
#[derive(Default)]
struct Cancel {
    state: Mutex<CancelState>,
}

#[derive(Default)]
struct CancelState {
    running: Option<rusqlite::InterruptHandle>,
    given_up: bool,
}

impl Cancel {
    /// Records the connection the read is about to run on; false if it was given up
    /// already.
    fn arm(&self, handle: rusqlite::InterruptHandle) -> bool {
        let mut state = lock(&self.state);
        if state.given_up {
            return false;
        }
        state.running = Some(handle);
        true
    }

    /// The read has finished: nothing to interrupt any more.
    fn disarm(&self) {
        lock(&self.state).running = None;
    }

    /// Interrupts the read if it runs, and stops it from starting if it does not yet.
    fn give_up(&self) {
        let mut state = lock(&self.state);
        state.given_up = true;
        if let Some(handle) = state.running.take() {
            handle.interrupt();
        }
    }
}

/// A read running on its connection: counted in `reads_running`, and interruptible through
/// its [`Cancel`], until dropped.
struct Running<'a> {
    count: &'a AtomicUsize,
    cancel: &'a Cancel,
}

impl<'a> Running<'a> {
    fn start(count: &'a AtomicUsize, cancel: &'a Cancel) -> Self {
        count.fetch_add(1, Ordering::AcqRel);
        Running { count, cancel }
    }
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.cancel.disarm();
        self.count.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Gives up its read when dropped before [`defuse`](Self::defuse).
struct CancelOnDrop(Option<Arc<Cancel>>);

impl CancelOnDrop {
    fn defuse(mut self) {
        self.0 = None;
    }
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if let Some(cancel) = self.0.take() {
            cancel.give_up();
        }
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
    // `checkpoint_pages` pages of WAL: only if the background checkpoints cannot start,
    // which otherwise turn this off (`open_with`).
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
    // 4 MiB (it was 16). In WAL mode a read connection's cache is emptied at the start of
    // any read transaction (in autocommit, any statement) that finds the database changed
    // since its last one, which under pushes is nearly every one: what a read touches again
    // within one statement (an index's upper levels) fits in 4 MiB many times over, and an
    // envelope's pages are read once. Across quiet spells the 4 readers now keep at most
    // 16 MiB rather than 64 (docs/RELIABILITY.md §4, the fourth run).
    conn.pragma_update(None, "cache_size", -READER_CACHE_KIB)
        .map_err(sql_error)?;
    Ok(conn)
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // The guarded values (a sender, join handles, a job queue) stay valid after a
    // panic elsewhere: recover them.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// SQLite errors become backend errors whose message is for the log; a full disk
/// (`SQLITE_FULL`, which SQLite reports for `ENOSPC` and `EDQUOT`) is [`Error::Full`].
pub(super) fn sql_error(e: rusqlite::Error) -> Error {
    if e.sqlite_error_code() == Some(rusqlite::ErrorCode::DiskFull) {
        Error::Full(format!("sqlite: {e}"))
    } else {
        Error::Backend(format!("sqlite: {e}"))
    }
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

/// `?4`: the only device whose private notes the pull may return (`NULL`: everyone's).
macro_rules! pull_sql {
    ($filter:literal) => {
        concat!(
            "SELECT seq, length(bytes), bytes FROM envelopes
             WHERE team = ?1 AND seq > ?2
               AND (?4 IS NULL OR private_to IS NULL OR private_to = ?4)",
            $filter,
            " ORDER BY seq LIMIT ?3"
        )
    };
}

/// See [`PullRequest::compact`]: envelopes with a sequence number in `(?2, ?4]`, leaving out
/// change batches and snapshots that a usable snapshot (`covers < seq`, on the partial index
/// that holds only those) of the same document covers. Each envelope's check is one seek on
/// that index. `?5` as `?4` of [`pull_sql`].
macro_rules! pull_compact_sql {
    ($filter:literal) => {
        concat!(
            "SELECT e.seq, length(e.bytes), e.bytes FROM envelopes e
             WHERE e.team = ?1 AND e.seq > ?2 AND e.seq <= ?4
               AND (?5 IS NULL OR e.private_to IS NULL OR e.private_to = ?5)",
            $filter,
            " AND NOT (e.kind IN (1, 2) AND EXISTS (
                  SELECT 1 FROM envelopes s INDEXED BY envelopes_valid_snapshots
                  WHERE s.team = e.team AND s.document = e.document AND s.kind = 2
                    AND s.covers < s.seq AND s.covers >= e.seq))
             ORDER BY e.seq LIMIT ?3"
        )
    };
}

const PULL_SQL: &str = pull_sql!("");
const PULL_DOC_SQL: &str = pull_sql!(" AND document = ?5");
const PULL_COMPACT_SQL: &str = pull_compact_sql!("");
const PULL_COMPACT_DOC_SQL: &str = pull_compact_sql!(" AND e.document = ?6");

/// A compact pull looks at this many envelopes per envelope its page may hold (at least
/// [`COMPACT_WINDOW_MIN`]), whatever the team holds: it reads a window of the team's
/// sequence, not the team. Past the window, it reads on only while it has found nothing to
/// return (a page must hold something to say there is more), and then only up to the first
/// envelope it would return.
pub const COMPACT_WINDOW_PER_ITEM: usize = 8;
/// The smallest window of a compact pull.
pub const COMPACT_WINDOW_MIN: usize = 256;

fn pull(conn: &Connection, team: TeamId, request: PullRequest) -> Result<Page> {
    pull_counted(conn, team, request).map(|(page, _)| page)
}

/// [`pull`], and the SQLite virtual-machine steps it took (what a test bounds).
fn pull_counted(conn: &Connection, team: TeamId, request: PullRequest) -> Result<(Page, u64)> {
    let limit = request.limit.max(1);
    let mut page = Page {
        envelopes: Vec::new(),
        next: request.after,
        more: false,
    };
    if !request.compact {
        let sql = match request.document {
            Some(_) => PULL_DOC_SQL,
            None => PULL_SQL,
        };
        let mut stmt = conn.prepare_cached(sql).map_err(sql_error)?;
        // One row more than asked tells whether there is more.
        let fetch = i64::try_from(limit).unwrap_or(i64::MAX).saturating_add(1);
        let after = to_sql_int(request.after);
        let only = request.private_notes.only().map(|d| d.0);
        let rows = match request.document {
            Some(document) => stmt.query(params![team.0, after, fetch, only, document.0]),
            None => stmt.query(params![team.0, after, fetch, only]),
        }
        .map_err(sql_error)?;
        fill(&mut page, rows, limit, request.max_bytes)?;
        let steps = statement_steps(&mut stmt);
        return Ok((page, steps));
    }

    let sql = match request.document {
        Some(_) => PULL_COMPACT_DOC_SQL,
        None => PULL_COMPACT_SQL,
    };
    let mut stmt = conn.prepare_cached(sql).map_err(sql_error)?;
    let window = limit
        .saturating_mul(COMPACT_WINDOW_PER_ITEM)
        .max(COMPACT_WINDOW_MIN);
    let window_end = request
        .after
        .saturating_add(u64::try_from(window).unwrap_or(u64::MAX));
    let fetch = i64::try_from(limit).unwrap_or(i64::MAX).saturating_add(1);
    let (document, private) = (request.document, request.private_notes);
    let rows = compact_rows(
        &mut stmt,
        team,
        (document, private),
        request.after,
        fetch,
        window_end,
    )?;
    fill(&mut page, rows, limit, request.max_bytes)?;
    let mut steps = statement_steps(&mut stmt);
    if page.more {
        return Ok((page, steps));
    }
    // The window is read. Does the pull go on past it?
    if !any_after(conn, team, window_end, (document, private))? {
        return Ok((page, steps));
    }
    if page.envelopes.is_empty() {
        // Nothing in the window: read on to the first envelope this pull returns.
        let rows = compact_rows(
            &mut stmt,
            team,
            (document, private),
            window_end,
            2,
            u64::MAX,
        )?;
        fill(&mut page, rows, 1, request.max_bytes)?;
        steps = steps.saturating_add(statement_steps(&mut stmt));
    } else {
        // More past the window. `next` stays the last envelope returned (a device takes no
        // cursor beyond what a page holds), so the next page reads what lies between again
        // and leaves it out again: at most one window more.
        page.more = true;
    }
    Ok((page, steps))
}

/// Runs a compact pull statement over `(after, end]`, at most `fetch` rows, of `document`
/// (or all) and the private notes the reader may see.
fn compact_rows<'s>(
    stmt: &'s mut rusqlite::Statement<'_>,
    team: TeamId,
    (document, private): (Option<DocumentId>, PrivateNotes),
    after: u64,
    fetch: i64,
    end: u64,
) -> Result<rusqlite::Rows<'s>> {
    let (after, end) = (to_sql_int(after), to_sql_int(end));
    let only = private.only().map(|d| d.0);
    match document {
        Some(document) => stmt.query(params![team.0, after, fetch, end, only, document.0]),
        None => stmt.query(params![team.0, after, fetch, end, only]),
    }
    .map_err(sql_error)
}

/// Reads `rows` into `page`: at most `limit` envelopes and `max_bytes`, setting `more` if a
/// row is left over.
fn fill(
    page: &mut Page,
    mut rows: rusqlite::Rows<'_>,
    limit: usize,
    max_bytes: usize,
) -> Result<()> {
    let mut used = 0usize;
    while let Some(row) = rows.next().map_err(sql_error)? {
        let len = usize::try_from(row.get::<_, i64>(1).map_err(sql_error)?).unwrap_or(usize::MAX);
        let cost = len.saturating_add(PAGE_ITEM_OVERHEAD);
        let full = page.envelopes.len() >= limit
            || (!page.envelopes.is_empty() && used.saturating_add(cost) > max_bytes);
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
    Ok(())
}

/// Whether the team has an envelope (of `document`, if given, and that the reader may see)
/// after `seq`: one index seek, then a step past other devices' private notes.
fn any_after(
    conn: &Connection,
    team: TeamId,
    seq: u64,
    (document, private): (Option<DocumentId>, PrivateNotes),
) -> Result<bool> {
    let seq = to_sql_int(seq);
    let only = private.only().map(|d| d.0);
    let found = match document {
        Some(document) => conn
            .prepare_cached(
                "SELECT 1 FROM envelopes WHERE team = ?1 AND document = ?2 AND seq > ?3
                   AND (?4 IS NULL OR private_to IS NULL OR private_to = ?4) LIMIT 1",
            )
            .and_then(|mut s| {
                s.query_row(params![team.0, document.0, seq, only], |_| Ok(()))
                    .optional()
            }),
        None => conn
            .prepare_cached(
                "SELECT 1 FROM envelopes WHERE team = ?1 AND seq > ?2
                   AND (?3 IS NULL OR private_to IS NULL OR private_to = ?3) LIMIT 1",
            )
            .and_then(|mut s| {
                s.query_row(params![team.0, seq, only], |_| Ok(()))
                    .optional()
            }),
    };
    Ok(found.map_err(sql_error)?.is_some())
}

/// The virtual-machine steps a statement took since it was prepared or last counted
/// (counting resets it).
fn statement_steps(stmt: &mut rusqlite::Statement<'_>) -> u64 {
    u64::try_from(stmt.reset_status(rusqlite::StatementStatus::VmStep)).unwrap_or(0)
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

    async fn put_private_notes_bundles(
        &self,
        team: TeamId,
        sender: DeviceId,
        bundles: Vec<NewBundle>,
    ) -> Result<u64> {
        self.write(|reply| Command::PutPrivateNotesBundles {
            team,
            sender,
            bundles,
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

    async fn envelope_ids(
        &self,
        team: TeamId,
        seqs: Vec<u64>,
        document: Option<DocumentId>,
        private_notes: PrivateNotes,
    ) -> Result<Vec<Option<EnvelopeId>>> {
        let only = private_notes.only().map(|d| d.0.to_vec());
        self.read(move |conn| {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT id FROM envelopes WHERE team = ?1 AND seq = ?2
                     AND (?3 IS NULL OR document = ?3)
                     AND (?4 IS NULL OR private_to IS NULL OR private_to = ?4)",
                )
                .map_err(sql_error)?;
            seqs.iter()
                .map(|&seq| {
                    let Ok(seq) = i64::try_from(seq) else {
                        return Ok(None);
                    };
                    let id: Option<Vec<u8>> = stmt
                        .query_row(
                            params![team.0, seq, document.map(|d| d.0.to_vec()), only],
                            |r| r.get(0),
                        )
                        .optional()
                        .map_err(sql_error)?;
                    id.map(|id| {
                        <[u8; 32]>::try_from(id.as_slice())
                            .map(EnvelopeId)
                            .map_err(|_| Error::Backend("an envelope id is not 32 bytes".into()))
                    })
                    .transpose()
                })
                .collect()
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
        // the WAL away as it closes. Reads already running finish first (or stop when their
        // callers give up: a read is interrupted when its request times out).
        self.inner.reader_permits.close();
        let inner = Arc::clone(&self.inner);
        let readers = tokio::task::spawn_blocking(move || inner.readers.close())
            .await
            .map_err(|e| Error::Backend(format!("closing the readers failed: {e}")))
            .and_then(|closed| closed);
        // The writer is stopped whatever the readers' answer: its close writes the waiting
        // ids into their index and checkpoints. Dropping the last sender ends its loop once
        // the queue is drained; requests already queued are committed and answered first.
        drop(lock(&self.inner.queue).take());
        let thread = lock(&self.inner.writer).take();
        let writer = match thread {
            Some(thread) => tokio::task::spawn_blocking(move || thread.join())
                .await
                .map_err(|e| Error::Backend(format!("joining the writer failed: {e}")))
                .and_then(|joined| {
                    joined.map_err(|_| Error::Backend("the writer thread panicked".into()))
                }),
            None => Ok(()),
        };
        readers.and(writer)
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
    use holdfast_protocol::DocumentId;

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

    /// `count` envelopes of one document, their payloads numbered from `from`.
    fn numbered(team: &crate::storage::NewTeam, from: u64, count: u64) -> Vec<NewEnvelope> {
        (from..from + count)
            .map(|n| {
                contract::envelope(
                    team.team,
                    team.admin,
                    DocumentId([3; 16]),
                    holdfast_protocol::Kind::ChangeBatch,
                    0,
                    n,
                )
            })
            .collect()
    }

    fn count(conn: &Connection, sql: &str) -> i64 {
        conn.query_row(sql, [], |r| r.get(0)).unwrap()
    }

    #[tokio::test]
    async fn ids_reach_the_id_table_in_sweeps_and_are_found_on_either_side_of_it() {
        let dir = tempfile::tempdir().unwrap();
        let options = SqliteOptions {
            id_buffer: 64,
            ..SqliteOptions::default()
        };
        let storage = SqliteStorage::open_with(database_path(dir.path()), options).unwrap();
        let team = contract::new_team(&storage, 1).await;
        let all = numbered(&team, 1, 1000);
        for chunk in all.chunks(10) {
            storage
                .push(team.team, chunk.to_vec(), contract::RECEIVED_MS)
                .await
                .unwrap();
        }
        // With room for 64 ids in memory, the sweep has written nearly all of the 1,000,
        // and rounds have ended, so the team is marked complete up to somewhere.
        let conn = open_reader(storage.path()).unwrap();
        let indexed = count(&conn, "SELECT count(*) FROM envelope_ids");
        assert!((1000 - 200..=1000).contains(&indexed), "{indexed} indexed");
        let mark = count(&conn, "SELECT max(ids_merged) FROM teams");
        assert!(mark > 500, "marked up to {mark}");
        drop(conn);
        // Every one is a duplicate, whether its id was written or still waits.
        let again = storage
            .push(team.team, all.clone(), contract::RECEIVED_MS)
            .await
            .unwrap();
        assert!(again.envelopes.iter().all(|p| p.duplicate));
        let seqs: Vec<u64> = again.envelopes.iter().map(|p| p.seq).collect();
        assert_eq!(seqs, (1..=1000).collect::<Vec<_>>());
        assert_eq!(again.head, 1000);
        // A clean close writes the rest and marks the team complete.
        storage.close().await.unwrap();
        let conn = Connection::open(database_path(dir.path())).unwrap();
        assert_eq!(count(&conn, "SELECT count(*) FROM envelope_ids"), 1000);
        assert_eq!(count(&conn, "SELECT min(ids_merged = head) FROM teams"), 1);
    }

    #[tokio::test]
    async fn ids_an_unclean_stop_left_out_of_the_id_table_are_found_again_on_open() {
        let dir = tempfile::tempdir().unwrap();
        let storage = SqliteStorage::open(database_path(dir.path())).unwrap();
        let team = contract::new_team(&storage, 1).await;
        let first = numbered(&team, 1, 300);
        storage
            .push(team.team, first.clone(), contract::RECEIVED_MS)
            .await
            .unwrap();
        storage.close().await.unwrap();
        drop(storage);
        // What a crash leaves: the envelopes, but (some of) their ids neither written nor
        // marked.
        let conn = Connection::open(database_path(dir.path())).unwrap();
        conn.execute_batch(
            "DELETE FROM envelope_ids WHERE seq > 100;
             UPDATE teams SET ids_merged = 50;",
        )
        .unwrap();
        drop(conn);

        let storage = SqliteStorage::open(database_path(dir.path())).unwrap();
        let mut again = first.clone();
        again.extend(numbered(&team, 301, 20));
        let pushed = storage
            .push(team.team, again, contract::RECEIVED_MS)
            .await
            .unwrap();
        let got: Vec<(u64, bool)> = pushed
            .envelopes
            .iter()
            .map(|p| (p.seq, p.duplicate))
            .collect();
        let want: Vec<(u64, bool)> = (1..=300)
            .map(|s| (s, true))
            .chain((301..=320).map(|s| (s, false)))
            .collect();
        assert_eq!(got, want);
        storage.close().await.unwrap();
        let conn = Connection::open(database_path(dir.path())).unwrap();
        assert_eq!(count(&conn, "SELECT count(*) FROM envelope_ids"), 320);
        assert_eq!(count(&conn, "SELECT ids_merged FROM teams"), 320);
    }

    /// What a crash leaves: the writer never runs again, so the ids it held in memory are
    /// lost with it; only what it committed is on disk. (The storage is leaked: its
    /// threads wait for requests that never come, and its connections write nothing more.)
    fn crash(storage: SqliteStorage) {
        std::mem::forget(storage);
    }

    /// Broken promises of the id index on disk: envelopes at or below their team's mark
    /// (`ids_merged`) whose id `envelope_ids` lacks, and rows of `envelope_ids` that name
    /// no stored envelope. Both must be 0 after every commit, crash or not.
    fn id_index_faults(conn: &Connection) -> (i64, i64) {
        let unmarked = count(
            conn,
            "SELECT count(*) FROM envelopes e JOIN teams t ON t.id = e.team
             WHERE e.seq <= t.ids_merged AND NOT EXISTS (
                 SELECT 1 FROM envelope_ids i
                 WHERE i.prefix = substr(e.id, 1, 8) AND i.team = e.team AND i.seq = e.seq)",
        );
        let stray = count(
            conn,
            "SELECT count(*) FROM envelope_ids i WHERE NOT EXISTS (
                 SELECT 1 FROM envelopes e
                 WHERE e.team = i.team AND e.seq = i.seq AND substr(e.id, 1, 8) = i.prefix)",
        );
        (unmarked, stray)
    }

    /// Pushes `envelopes` in chunks of `chunk`: each envelope's (seq, duplicate).
    async fn push_in_chunks(
        storage: &SqliteStorage,
        team: TeamId,
        envelopes: &[NewEnvelope],
        chunk: usize,
    ) -> Vec<(u64, bool)> {
        let mut got = Vec::with_capacity(envelopes.len());
        for part in envelopes.chunks(chunk) {
            let receipt = storage
                .push(team, part.to_vec(), contract::RECEIVED_MS)
                .await
                .unwrap();
            got.extend(receipt.envelopes.iter().map(|p| (p.seq, p.duplicate)));
        }
        got
    }

    /// Every envelope of `team`, pulled in pages: (seq, bytes).
    async fn pull_everything(storage: &SqliteStorage, team: TeamId) -> Vec<(u64, Vec<u8>)> {
        let mut all = Vec::new();
        let mut after = 0;
        loop {
            let request = PullRequest {
                compact: false,
                ..compact(after, 97)
            };
            let page = storage.pull(team, request).await.unwrap();
            all.extend(page.envelopes);
            after = page.next;
            if !page.more {
                return all;
            }
        }
    }

    #[tokio::test]
    async fn a_crash_before_the_sweep_loses_no_id_and_stores_no_envelope_twice() {
        let dir = tempfile::tempdir().unwrap();
        let path = database_path(dir.path());
        // A buffer far larger than what is pushed: at the crash nearly every id waits in
        // memory, none of the team's ids is marked, and the envelopes are all on disk.
        let storage = SqliteStorage::open(&path).unwrap();
        let teams = [
            contract::new_team(&storage, 1).await,
            contract::new_team(&storage, 2).await,
        ];
        let pushed: Vec<Vec<NewEnvelope>> = teams.iter().map(|t| numbered(t, 1, 400)).collect();
        for (team, envelopes) in teams.iter().zip(&pushed) {
            let got = push_in_chunks(&storage, team.team, envelopes, 25).await;
            assert_eq!(got, (1..=400).map(|s| (s, false)).collect::<Vec<_>>());
        }
        crash(storage);
        let conn = open_reader(&path).unwrap();
        assert_eq!(count(&conn, "SELECT count(*) FROM envelopes"), 800);
        assert!(count(&conn, "SELECT count(*) FROM envelope_ids") < 800);
        assert_eq!(id_index_faults(&conn), (0, 0));
        drop(conn);

        // After the restart every envelope is a duplicate with the seq it had, in any
        // chunking, and new ones carry on the sequence.
        let storage = SqliteStorage::open(&path).unwrap();
        for (team, envelopes) in teams.iter().zip(&pushed) {
            let got = push_in_chunks(&storage, team.team, envelopes, 40).await;
            assert_eq!(got, (1..=400).map(|s| (s, true)).collect::<Vec<_>>());
        }
        let more = numbered(&teams[0], 401, 30);
        let got = push_in_chunks(&storage, teams[0].team, &more, 7).await;
        assert_eq!(got, (401..=430).map(|s| (s, false)).collect::<Vec<_>>());
        // A second crash straight after recovery, before any sweep could finish a round.
        crash(storage);

        let storage = SqliteStorage::open(&path).unwrap();
        let mut all_of_first = pushed[0].clone();
        all_of_first.extend(more);
        let got = push_in_chunks(&storage, teams[0].team, &all_of_first, 430).await;
        assert_eq!(got, (1..=430).map(|s| (s, true)).collect::<Vec<_>>());
        // A pull misses nothing and holds nothing twice.
        for (team, envelopes) in teams.iter().zip([&all_of_first, &pushed[1]]) {
            let pulled = pull_everything(&storage, team.team).await;
            let want: Vec<(u64, Vec<u8>)> = envelopes
                .iter()
                .zip(1..)
                .map(|(e, seq)| (seq, e.bytes.to_vec()))
                .collect();
            assert!(pulled == want, "the pull differs from what was pushed");
        }
        // A clean close: the index holds exactly the stored envelopes, every team complete.
        storage.close().await.unwrap();
        drop(storage);
        let conn = Connection::open(&path).unwrap();
        assert_eq!(count(&conn, "SELECT count(*) FROM envelope_ids"), 830);
        assert_eq!(id_index_faults(&conn), (0, 0));
        assert_eq!(count(&conn, "SELECT min(ids_merged = head) FROM teams"), 1);
    }

    #[tokio::test]
    async fn the_marks_never_run_ahead_of_the_id_index_and_crashes_anywhere_recover() {
        let dir = tempfile::tempdir().unwrap();
        let path = database_path(dir.path());
        // A small buffer: the sweep goes round many times, rounds ending mid-push, so marks
        // move often while ids of the same teams still wait.
        let options = SqliteOptions {
            id_buffer: 37,
            ..SqliteOptions::default()
        };
        let mut storage = SqliteStorage::open_with(&path, options).unwrap();
        let teams = [
            contract::new_team(&storage, 1).await,
            contract::new_team(&storage, 2).await,
            contract::new_team(&storage, 3).await,
        ];
        let pushed: Vec<Vec<NewEnvelope>> = teams.iter().map(|t| numbered(t, 1, 600)).collect();
        let mut sent = [0usize; 3];
        let mut step = 0usize;
        let mut crashes = 0;
        let mut marked = 0;
        while sent.iter().any(|&s| s < 600) {
            step += 1;
            // Pushes of 1 to 29 envelopes, round-robin over the teams.
            let t = step % 3;
            let size = (step * 7) % 29 + 1;
            let end = (sent[t] + size).min(600);
            if sent[t] == end {
                continue;
            }
            let part = &pushed[t][sent[t]..end];
            let receipt = storage
                .push(teams[t].team, part.to_vec(), contract::RECEIVED_MS)
                .await
                .unwrap();
            let got: Vec<(u64, bool)> = receipt
                .envelopes
                .iter()
                .map(|p| (p.seq, p.duplicate))
                .collect();
            let want: Vec<(u64, bool)> = (sent[t] + 1..=end).map(|s| (s as u64, false)).collect();
            assert_eq!(got, want, "push {step}");
            sent[t] = end;

            let conn = open_reader(&path).unwrap();
            assert_eq!(id_index_faults(&conn), (0, 0), "after push {step}");
            marked = marked.max(count(&conn, "SELECT min(ids_merged) FROM teams"));
            drop(conn);
            if step.is_multiple_of(17) {
                crash(storage);
                crashes += 1;
                storage = SqliteStorage::open_with(&path, options).unwrap();
                // Everything stored so far is found again, with its seq.
                let t = step % 3;
                let again = &pushed[t][..sent[t]];
                let got = push_in_chunks(&storage, teams[t].team, again, 50).await;
                let want: Vec<(u64, bool)> = (1..=sent[t]).map(|s| (s as u64, true)).collect();
                assert_eq!(got, want, "re-push after crash {crashes}");
            }
        }
        assert!(crashes >= 5, "{crashes} crashes");
        assert!(marked > 100, "the marks moved on only to {marked}");
        for (team, envelopes) in teams.iter().zip(&pushed) {
            let got = push_in_chunks(&storage, team.team, envelopes, 600).await;
            assert_eq!(got, (1..=600).map(|s| (s, true)).collect::<Vec<_>>());
        }
        storage.close().await.unwrap();
        drop(storage);
        let conn = Connection::open(&path).unwrap();
        assert_eq!(count(&conn, "SELECT count(*) FROM envelope_ids"), 1800);
        assert_eq!(id_index_faults(&conn), (0, 0));
        assert_eq!(count(&conn, "SELECT min(ids_merged = head) FROM teams"), 1);
    }

    #[tokio::test]
    async fn a_version_5_database_keeps_its_envelopes_and_finds_their_duplicates() {
        let dir = tempfile::tempdir().unwrap();
        let storage = SqliteStorage::open(database_path(dir.path())).unwrap();
        let team = contract::new_team(&storage, 1).await;
        let stored = numbered(&team, 1, 50);
        storage
            .push(team.team, stored.clone(), contract::RECEIVED_MS)
            .await
            .unwrap();
        storage.close().await.unwrap();
        drop(storage);
        // Back to version 5 as an older relay left it: the id index on the envelopes.
        let conn = Connection::open(database_path(dir.path())).unwrap();
        conn.execute_batch(
            "DROP TABLE envelope_ids;
             ALTER TABLE teams DROP COLUMN ids_merged;
             CREATE INDEX envelopes_by_id ON envelopes(substr(id, 1, 8));
             PRAGMA user_version = 5;",
        )
        .unwrap();
        drop(conn);

        let storage = SqliteStorage::open(database_path(dir.path())).unwrap();
        let page = storage.pull(team.team, compact(0, 100)).await.unwrap();
        assert_eq!(page.envelopes.len(), 50);
        let pushed = storage
            .push(team.team, stored, contract::RECEIVED_MS)
            .await
            .unwrap();
        assert!(pushed.envelopes.iter().all(|p| p.duplicate));
        assert_eq!(pushed.head, 50);
        storage.close().await.unwrap();
    }

    /// A team of `len` envelopes: document B's change at every multiple of `b_every`;
    /// otherwise document A's, a snapshot of A at every multiple of `snapshot_every`
    /// (covering everything before it) and A's change batches between. The last is a
    /// snapshot of A. Returns the team and the sequence numbers a compact pull serves.
    async fn covered_team(
        storage: &SqliteStorage,
        len: u64,
        b_every: u64,
        snapshot_every: u64,
    ) -> (TeamId, Vec<u64>) {
        let team = contract::new_team(storage, 1).await;
        let (a, b) = (DocumentId([0xaa; 16]), DocumentId([0xbb; 16]));
        let mut served = Vec::new();
        let envelopes: Vec<NewEnvelope> = (1..=len)
            .map(|seq| {
                let (doc, kind, covers) = if seq == len || seq % snapshot_every == 0 {
                    (a, holdfast_protocol::Kind::Snapshot, seq - 1)
                } else if seq % b_every == 0 {
                    served.push(seq);
                    (b, holdfast_protocol::Kind::ChangeBatch, 0)
                } else {
                    (a, holdfast_protocol::Kind::ChangeBatch, 0)
                };
                contract::envelope(team.team, team.admin, doc, kind, covers, seq)
            })
            .collect();
        for chunk in envelopes.chunks(1000) {
            storage
                .push(team.team, chunk.to_vec(), contract::RECEIVED_MS)
                .await
                .unwrap();
        }
        served.push(len);
        (team.team, served)
    }

    fn compact(after: u64, limit: usize) -> PullRequest {
        PullRequest {
            after,
            limit,
            max_bytes: usize::MAX,
            compact: true,
            document: None,
            private_notes: PrivateNotes::All,
        }
    }

    #[tokio::test]
    async fn a_compact_pull_reads_a_window_of_the_team_not_all_of_it() {
        let dir = tempfile::tempdir().unwrap();
        let storage = SqliteStorage::open(database_path(dir.path())).unwrap();
        // A long-lived document: a snapshot every 20 envelopes, 200 of them.
        let (team, want) = covered_team(&storage, 4000, 10, 20).await;
        let conn = open_reader(storage.path()).unwrap();

        // Each page looks at a window of the team, and each envelope it looks at costs one
        // seek: a page of 10 from a team of 4,000 takes a few thousand steps.
        let mut after = 0;
        let mut served = Vec::new();
        let mut most_steps = 0;
        loop {
            let (page, steps) = pull_counted(&conn, team, compact(after, 10)).unwrap();
            most_steps = most_steps.max(steps);
            assert!(page.envelopes.len() <= 10);
            // Devices refuse a `next` past the page's last envelope (or past `after` on an
            // empty page): a relay's word about what it left out is not proof.
            assert_eq!(
                page.next,
                page.envelopes.last().map_or(after, |(seq, _)| *seq)
            );
            served.extend(page.envelopes.iter().map(|(seq, _)| *seq));
            if !page.more {
                break;
            }
            assert!(!page.envelopes.is_empty(), "`more` on an empty page");
            after = page.next;
        }
        assert_eq!(served, want, "every page together: what one big page holds");
        let (whole, _) = pull_counted(&conn, team, compact(0, 100_000)).unwrap();
        assert_eq!(
            whole.envelopes.iter().map(|(s, _)| *s).collect::<Vec<_>>(),
            want
        );
        assert!(most_steps < 60_000, "a page took {most_steps} steps");
        drop(conn);
        storage.close().await.unwrap();
    }

    #[tokio::test]
    async fn a_run_of_left_out_envelopes_longer_than_a_window_still_moves_on() {
        let dir = tempfile::tempdir().unwrap();
        let storage = SqliteStorage::open(database_path(dir.path())).unwrap();
        // 999 covered envelopes of A in a row, B's only envelope at 1,000, then A's snapshot
        // at 1,001.
        let (team, served) = covered_team(&storage, 1001, 1000, u64::MAX).await;
        assert_eq!(served, [1000, 1001]);
        // A window reads 256; it holds nothing to serve, so the pull reads on to the first
        // envelope it serves rather than answer an empty page that says "more".
        let page = storage.pull(team, compact(0, 10)).await.unwrap();
        let seqs: Vec<u64> = page.envelopes.iter().map(|(s, _)| *s).collect();
        assert_eq!((seqs, page.next, page.more), (vec![1000], 1000, true));
        let page = storage.pull(team, compact(1000, 10)).await.unwrap();
        let seqs: Vec<u64> = page.envelopes.iter().map(|(s, _)| *s).collect();
        assert_eq!((seqs, page.next, page.more), (vec![1001], 1001, false));
        // The window's edge: a page that found something stops at it and says there is more.
        let page = storage.pull(team, compact(744, 10)).await.unwrap();
        assert_eq!(
            (page.envelopes.len(), page.next, page.more),
            (1, 1000, true)
        );
        storage.close().await.unwrap();
    }

    /// A fresh database in `dir` with `read_connections` reader threads.
    fn with_readers(dir: &Path, read_connections: usize) -> SqliteStorage {
        let options = SqliteOptions {
            read_connections,
            ..SqliteOptions::default()
        };
        SqliteStorage::open_with(database_path(dir), options).unwrap()
    }

    #[tokio::test]
    async fn a_read_its_caller_gave_up_on_is_interrupted() {
        let dir = tempfile::tempdir().unwrap();
        let storage = with_readers(dir.path(), 1);
        let team = contract::new_team(&storage, 1).await;
        // A query that never ends on its own.
        let endless = storage.read(|conn| {
            conn.query_row(
                "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c)
                 SELECT count(*) FROM c",
                [],
                |r| r.get::<_, i64>(0),
            )
            .map_err(sql_error)
        });
        let gave_up = tokio::time::timeout(std::time::Duration::from_millis(200), endless).await;
        assert!(gave_up.is_err());
        // The one connection comes back: the next read gets it (it waits for the permit
        // the endless one held, which it gives back once interrupted).
        let head = tokio::time::timeout(std::time::Duration::from_secs(5), storage.head(team.team))
            .await
            .expect("the next read within 5 s");
        assert_eq!(head.unwrap(), Some(0));
        assert_eq!(storage.reads_running(), 0);
        storage.close().await.unwrap();
    }

    #[tokio::test]
    async fn reads_run_on_the_reader_threads_only() {
        let dir = tempfile::tempdir().unwrap();
        let storage = with_readers(dir.path(), 2);
        contract::new_team(&storage, 1).await;
        // Two reads that each wait for the other: they run at once, so on both threads.
        let mut names = std::collections::BTreeSet::new();
        for _ in 0..20 {
            let meet = Arc::new(std::sync::Barrier::new(2));
            let reads = (0..2).map(|_| {
                let meet = Arc::clone(&meet);
                storage.read(move |_| {
                    meet.wait();
                    Ok(std::thread::current().name().map(str::to_owned))
                })
            });
            for name in futures_util::future::join_all(reads).await {
                names.insert(name.unwrap());
            }
        }
        let expected: std::collections::BTreeSet<_> = ["relay-reader-0", "relay-reader-1"]
            .into_iter()
            .map(|n| Some(n.to_owned()))
            .collect();
        assert_eq!(names, expected);
        storage.close().await.unwrap();
    }

    #[tokio::test]
    async fn a_read_that_panics_costs_its_connection_not_its_thread() {
        let dir = tempfile::tempdir().unwrap();
        let storage = with_readers(dir.path(), 1);
        let team = contract::new_team(&storage, 1).await;
        // A connection's own setting tells it apart: kept between reads, gone with it.
        let cache_size = || {
            storage.read(|conn| {
                conn.query_row("PRAGMA cache_size", [], |r| r.get::<_, i64>(0))
                    .map_err(sql_error)
            })
        };
        assert_eq!(cache_size().await.unwrap(), -READER_CACHE_KIB);
        storage
            .read(|conn| {
                conn.pragma_update(None, "cache_size", -1234)
                    .map_err(sql_error)
            })
            .await
            .unwrap();
        assert_eq!(cache_size().await.unwrap(), -1234, "kept between reads");
        let panicked = storage
            .read(|_| -> Result<()> { panic!("a read that panics") })
            .await;
        assert!(matches!(panicked, Err(Error::Backend(_))), "{panicked:?}");
        assert_eq!(storage.reads_running(), 0);
        // The same (one) thread serves the next reads, on a connection opened again.
        assert_eq!(cache_size().await.unwrap(), -READER_CACHE_KIB);
        assert_eq!(storage.head(team.team).await.unwrap(), Some(0));
        let name = storage
            .read(|_| Ok(std::thread::current().name().map(str::to_owned)))
            .await
            .unwrap();
        assert_eq!(name.as_deref(), Some("relay-reader-0"));
        storage.close().await.unwrap();
        // After close, reads are refused, not queued for threads that are gone.
        assert!(matches!(storage.head(team.team).await, Err(Error::Closed)));
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
