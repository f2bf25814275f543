//! The PostgreSQL backend: several relays on one database (`--database postgres://…`).
//!
//! - **Connections**: a pool ([`PgOptions::pool_size`]) of tokio-postgres connections, each
//!   with its own cache of prepared statements (`prepare_cached`), plus one dedicated
//!   connection per relay that listens for new heads ([`listener`]).
//! - **Writes**: one transaction per request. Every write to a team first locks the team's
//!   row (`SELECT … FROM teams WHERE id = $1 FOR UPDATE`): writes to one team are serialised
//!   (whichever relay they come through), writes to different teams run in parallel, and
//!   PostgreSQL groups concurrent commits into one WAL flush (no writer thread of our own).
//! - **Durability**: an answer is given only after `COMMIT` returned. We rely on
//!   PostgreSQL's default `synchronous_commit = on` (the commit record is flushed to disk,
//!   and to synchronous standbys if any, before `COMMIT` returns); the backend warns at
//!   start-up when the server runs with it off, which would lose acknowledged envelopes in
//!   a crash.
//! - **Live heads**: a push that adds envelopes calls `pg_notify('holdfast_heads', …)` in
//!   its transaction; PostgreSQL delivers it at commit to every listening relay, which
//!   publishes it to its [`TeamHeads`] (see [`listener`]). The pushing relay also publishes
//!   at once after its commit.
//! - **Schema**: versioned migrations of its own ([`schema`]), in the schema the
//!   connection's `search_path` names (add `?options=-csearch_path%3Dholdfast` to the URL to
//!   keep the relay's tables in a schema of their own).
//! - **Errors**: every PostgreSQL error is [`Error::Backend`] (its message for the log),
//!   except where the contract names a case ([`Error::TeamExists`], …); a closed pool is
//!   [`Error::Closed`], a full disk on the server (`53100 disk_full`) [`Error::Full`]. Values read back are checked (lengths, ranges): bad data is an error,
//!   never a panic.
//!
//! Connections are plain TCP (tokio-postgres with `NoTls`): run PostgreSQL on the same host
//! or a private network.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, PoolError, RecyclingMethod};
use holdfast_protocol::{DeviceId, DocumentId, EnvelopeId, InviteId, PAGE_ITEM_OVERHEAD, TeamId};
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use super::sqlite::{COMPACT_WINDOW_MIN, COMPACT_WINDOW_PER_ITEM};
use super::{
    BundlePage, BundleRequest, Device, Error, MembershipAppend, MembershipEntry, NewBundle,
    NewEnvelope, NewTeam, Page, PrivateNotes, PublicKey, PullRequest, PushReceipt, Pushed, Result,
    Role, RosterChange, STAGED_TTL_MS, Staging, Storage, TakeStaged, TeamHeads, TeamInfo,
    TeamQuota, WriteStats,
};

mod listener;
pub mod schema;

pub use listener::CHANNEL;
use listener::Listener;

/// Connections in the pool when not told otherwise (`--database-pool-size`).
pub const DEFAULT_POOL_SIZE: usize = 16;

/// How long opening a connection may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Tuning for [`PgStorage::open_with`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PgOptions {
    /// Connections in the pool (at most this many requests use the database at once; the
    /// listener's connection is one more).
    pub pool_size: usize,
}

impl Default for PgOptions {
    fn default() -> Self {
        PgOptions {
            pool_size: DEFAULT_POOL_SIZE,
        }
    }
}

/// The PostgreSQL storage backend. Cheap to clone: clones share the pool.
#[derive(Clone)]
pub struct PgStorage {
    inner: Arc<Inner>,
}

struct Inner {
    pool: Pool,
    /// The schema the relay's tables are in (`current_schema()`): notifications name it.
    schema: String,
    closed: AtomicBool,
    listener: tokio::sync::Mutex<Option<Listener>>,
    shared: Arc<Shared>,
}

/// What the listener task shares with the request side.
struct Shared {
    heads: TeamHeads,
    stats: Stats,
    quota: Mutex<TeamQuota>,
}

#[derive(Default)]
struct Stats {
    transactions: AtomicU64,
    envelopes: AtomicU64,
    nanos: AtomicU64,
}

impl std::fmt::Debug for PgStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the URL: it may hold a password.
        f.debug_struct("PgStorage")
            .field("schema", &self.inner.schema)
            .finish_non_exhaustive()
    }
}

impl PgStorage {
    /// Connects to the database at `url` (`postgres://user:password@host:port/database`)
    /// with default options, migrates it and starts listening for heads.
    pub async fn open(url: &str) -> Result<Self> {
        Self::open_with(url, PgOptions::default()).await
    }

    /// [`open`](Self::open) with explicit options.
    pub async fn open_with(url: &str, options: PgOptions) -> Result<Self> {
        let config: tokio_postgres::Config = url
            .parse()
            .map_err(|e| Error::Backend(format!("the PostgreSQL URL is not valid: {e}")))?;
        Self::connect(config, options).await
    }

    /// [`open`](Self::open) with a parsed connection configuration.
    pub async fn connect(mut config: tokio_postgres::Config, options: PgOptions) -> Result<Self> {
        if config.get_application_name().is_none() {
            config.application_name("holdfast-relay");
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        let manager = Manager::from_config(
            config.clone(),
            tokio_postgres::NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(options.pool_size.max(1))
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .create_timeout(Some(CONNECT_TIMEOUT))
            .build()
            .map_err(|e| Error::Backend(format!("cannot build the PostgreSQL pool: {e}")))?;
        let mut client = pool.get().await.map_err(pool_error)?;
        schema::migrate(&mut client).await?;
        let row = client
            .query_one(
                "SELECT current_schema(), current_setting('synchronous_commit')",
                &[],
            )
            .await
            .map_err(pg_error)?;
        let schema: String = row.try_get(0).map_err(pg_error)?;
        let synchronous_commit: String = row.try_get(1).map_err(pg_error)?;
        if synchronous_commit == "off" {
            tracing::warn!(
                "PostgreSQL runs with synchronous_commit = off: a crash of the database can \
                 lose envelopes the relay acknowledged; set it to on"
            );
        }
        drop(client);

        let shared = Arc::new(Shared {
            heads: TeamHeads::new(),
            stats: Stats::default(),
            quota: Mutex::new(TeamQuota::default()),
        });
        // Named for its schema, so an operator (or a test) can tell the listeners apart.
        let mut listening = config;
        listening.application_name(listener::application_name(&schema));
        let listener = Listener::start(listening, schema.clone(), Arc::clone(&shared)).await?;
        tracing::info!(schema = %schema, pool_size = options.pool_size, "relay storage: PostgreSQL");
        Ok(PgStorage {
            inner: Arc::new(Inner {
                pool,
                schema,
                closed: AtomicBool::new(false),
                listener: tokio::sync::Mutex::new(Some(listener)),
                shared,
            }),
        })
    }

    /// The schema the relay's tables are in.
    pub fn schema(&self) -> &str {
        &self.inner.schema
    }

    /// A pooled connection, or [`Error::Closed`].
    async fn client(&self) -> Result<Object> {
        if self.inner.closed.load(Ordering::Acquire) {
            return Err(Error::Closed);
        }
        self.inner.pool.get().await.map_err(pool_error)
    }

    fn quota(&self) -> TeamQuota {
        *lock(&self.inner.shared.quota)
    }

    /// Counts a committed write transaction.
    fn committed(&self, started: Instant, envelopes: usize) {
        let stats = &self.inner.shared.stats;
        stats.transactions.fetch_add(1, Ordering::Relaxed);
        stats
            .envelopes
            .fetch_add(as_u64(envelopes), Ordering::Relaxed);
        let nanos = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
        stats.nanos.fetch_add(nanos, Ordering::Relaxed);
    }
}

/// Runs `$body` (an expression using `$tx`, a transaction on a pooled connection) and
/// commits if it succeeded, or rolls back; counts the commit with `$envelopes(&value)`
/// envelopes.
macro_rules! write_transaction {
    ($self:ident, |$tx:ident| $body:expr, $envelopes:expr) => {{
        let started = Instant::now();
        let mut client = $self.client().await?;
        let $tx = client.transaction().await.map_err(pg_error)?;
        match $body {
            Ok(value) => {
                $tx.commit().await.map_err(pg_error)?;
                let count: fn(&_) -> usize = $envelopes;
                $self.committed(started, count(&value));
                Ok(value)
            }
            Err(e) => {
                // A failed rollback leaves a broken connection, which the pool drops.
                if let Err(rollback) = $tx.rollback().await {
                    tracing::debug!(error = %rollback, "rolling back a refused write failed");
                }
                Err(e)
            }
        }
    }};
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn as_u64(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

/// PostgreSQL errors become backend errors whose message is for the log.
pub(super) fn pg_error(e: tokio_postgres::Error) -> Error {
    if e.is_closed() {
        return Error::Backend(format!("postgres: the connection is closed ({e})"));
    }
    match e.as_db_error() {
        // `53100 disk_full`: the database server's disk; nothing of the transaction stored.
        Some(db) if *db.code() == tokio_postgres::error::SqlState::DISK_FULL => {
            Error::Full(format!("postgres: {}: {}", db.code().code(), db.message()))
        }
        Some(db) => Error::Backend(format!("postgres: {}: {}", db.code().code(), db.message())),
        None => match std::error::Error::source(&e) {
            Some(cause) => Error::Backend(format!("postgres: {e}: {cause}")),
            None => Error::Backend(format!("postgres: {e}")),
        },
    }
}

fn pool_error(e: PoolError) -> Error {
    match e {
        PoolError::Closed => Error::Closed,
        PoolError::Backend(e) => pg_error(e),
        other => Error::Backend(format!("postgres pool: {other}")),
    }
}

/// u64 values (sequence numbers, times, `covers`) as `bigint`, saturating at 2^63-1.
fn to_sql_int(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// `bigint` back to u64 (never negative here; a negative one reads as 0).
fn from_sql_int(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

fn bad_data(what: &str) -> Error {
    Error::Backend(format!("postgres: a stored {what} is not valid"))
}

/// Column `index` of `row` as a fixed-length byte array.
fn fixed<const N: usize>(row: &Row, index: usize, what: &str) -> Result<[u8; N]> {
    let bytes: &[u8] = row.try_get(index).map_err(pg_error)?;
    bytes.try_into().map_err(|_| bad_data(what))
}

/// Column `index` of `row` as an optional fixed-length byte array.
fn fixed_opt<const N: usize>(row: &Row, index: usize, what: &str) -> Result<Option<[u8; N]>> {
    let bytes: Option<&[u8]> = row.try_get(index).map_err(pg_error)?;
    bytes
        .map(|b| b.try_into().map_err(|_| bad_data(what)))
        .transpose()
}

fn u64_at(row: &Row, index: usize) -> Result<u64> {
    row.try_get::<_, i64>(index)
        .map(from_sql_int)
        .map_err(pg_error)
}

fn epoch_at(row: &Row, index: usize) -> Result<u32> {
    let epoch: i64 = row.try_get(index).map_err(pg_error)?;
    u32::try_from(epoch).map_err(|_| bad_data("key epoch"))
}

/// A roster entry from `device, public_key, hpke_key, role, plan, invite, added_at,
/// added_by, revoked_at`.
fn device_from_row(row: &Row) -> Result<Device> {
    let role: &str = row.try_get(3).map_err(pg_error)?;
    let role = Role::from_name(role).ok_or_else(|| bad_data("role"))?;
    Ok(Device {
        device: DeviceId(fixed(row, 0, "device id")?),
        public_key: fixed(row, 1, "public key")?,
        hpke_key: row.try_get(2).map_err(pg_error)?,
        role,
        plan: fixed_opt(row, 4, "plan id")?.map(DocumentId),
        invite: fixed_opt(row, 5, "invite id")?.map(InviteId),
        added_at_ms: u64_at(row, 6)?,
        added_by: DeviceId(fixed(row, 7, "device id")?),
        revoked_at_ms: row
            .try_get::<_, Option<i64>>(8)
            .map_err(pg_error)?
            .map(from_sql_int),
    })
}

/// Locks the team's row for the rest of the transaction and returns `(head,
/// envelope_bytes, membership_len, bundle_head)`, or [`Error::NoSuchTeam`].
///
/// Every write to a team goes through here first, so writes to one team are serialised
/// whatever relay they come through. For pushes that is what makes sequence numbers safe
/// to read while others write — **no envelope is ever skipped**: a push allocates its
/// numbers from the `head` it reads under this lock, and it gets the lock only once the
/// previous push to the team has committed (or rolled back, and then it reuses the same
/// numbers: no gaps). PostgreSQL makes a commit visible before it releases the
/// transaction's locks, and `FOR UPDATE` reads the newest committed version of the row after
/// waiting. So seq N+1 is allocated only after seq N is committed, and commits after it: any
/// snapshot that holds N+1 holds N and everything before. A puller whose page ends at N+1
/// can move its cursor to N+1 without ever missing N, which a sequence or a counter
/// incremented outside such a lock would not ensure (N+1 could commit first).
async fn lock_team(
    tx: &deadpool_postgres::Transaction<'_>,
    team: TeamId,
) -> Result<(u64, u64, u64, u64)> {
    let stmt = tx
        .prepare_cached(
            "SELECT head, envelope_bytes, membership_len, bundle_head
             FROM teams WHERE id = $1 FOR UPDATE",
        )
        .await
        .map_err(pg_error)?;
    let row = tx
        .query_opt(&stmt, &[&&team.0[..]])
        .await
        .map_err(pg_error)?
        .ok_or(Error::NoSuchTeam(team))?;
    Ok((
        u64_at(&row, 0)?,
        u64_at(&row, 1)?,
        u64_at(&row, 2)?,
        u64_at(&row, 3)?,
    ))
}

/// Takes the transaction's lock on `device`'s key, then refuses another key than
/// `public_key` for it. The lock (an advisory lock on the id's first 8 bytes) keeps two
/// teams from registering the same device with two keys at once.
async fn check_key(
    tx: &deadpool_postgres::Transaction<'_>,
    device: &DeviceId,
    public_key: &[u8; 32],
) -> Result<()> {
    let mut key = [0u8; 8];
    key.copy_from_slice(&device.0[..8]);
    let lock = tx
        .prepare_cached("SELECT pg_advisory_xact_lock($1)")
        .await
        .map_err(pg_error)?;
    tx.execute(&lock, &[&i64::from_be_bytes(key)])
        .await
        .map_err(pg_error)?;
    let stmt = tx
        .prepare_cached("SELECT 1 FROM devices WHERE device = $1 AND public_key <> $2 LIMIT 1")
        .await
        .map_err(pg_error)?;
    let conflict = tx
        .query_opt(&stmt, &[&&device.0[..], &&public_key[..]])
        .await
        .map_err(pg_error)?;
    match conflict {
        Some(_) => Err(Error::DeviceKeyConflict(*device)),
        None => Ok(()),
    }
}

async fn create_team(tx: &deadpool_postgres::Transaction<'_>, team: &NewTeam) -> Result<()> {
    check_key(tx, &team.admin, &team.public_key).await?;
    let at = to_sql_int(team.at_ms);
    let id = &team.team.0[..];
    let inserted = tx
        .execute(
            "INSERT INTO teams (id, created_at, head, epoch, membership_len, bundle_head)
             VALUES ($1, $2, 0, 1, 1, 0) ON CONFLICT DO NOTHING",
            &[&id, &at],
        )
        .await
        .map_err(pg_error)?;
    if inserted == 0 {
        return Err(Error::TeamExists(team.team));
    }
    tx.execute(
        "INSERT INTO membership (team, seq, entry, subject) VALUES ($1, 0, $2, NULL)",
        &[&id, &team.genesis],
    )
    .await
    .map_err(pg_error)?;
    tx.execute(
        "INSERT INTO devices (team, device, public_key, hpke_key, role, added_at, added_by)
         VALUES ($1, $2, $3, $4, 'admin', $5, $2)",
        &[
            &id,
            &&team.admin.0[..],
            &&team.public_key[..],
            &team.hpke_key,
            &at,
        ],
    )
    .await
    .map_err(pg_error)?;
    Ok(())
}

async fn append_membership(
    tx: &deadpool_postgres::Transaction<'_>,
    team: TeamId,
    append: &MembershipAppend,
    schema: &str,
) -> Result<u64> {
    let (_, _, len, bundle_head) = lock_team(tx, team).await?;
    if len != append.expected_len {
        return Err(Error::MembershipConflict {
            team,
            expected: append.expected_len,
            len,
        });
    }
    if let RosterChange::Join(device) = &append.roster {
        check_key(tx, &device.device, &device.public_key).await?;
    }
    let staged = match &append.staged {
        Some(take) => read_staged(tx, team, take).await?,
        None => Vec::new(),
    };
    let id = &team.0[..];
    let stmt = tx
        .prepare_cached(
            "INSERT INTO membership (team, seq, entry, subject) VALUES ($1, $2, $3, $4)",
        )
        .await
        .map_err(pg_error)?;
    let subject = append.subject.as_ref().map(|s| &s[..]);
    tx.execute(&stmt, &[&id, &to_sql_int(len), &append.entry, &subject])
        .await
        .map_err(pg_error)?;
    match &append.roster {
        RosterChange::None => {}
        RosterChange::Join(device) => insert_device(tx, team, device).await?,
        RosterChange::Revoke { device, at_ms } => {
            tx.execute(
                "UPDATE devices SET revoked_at = $3
                 WHERE team = $1 AND device = $2 AND revoked_at IS NULL",
                &[&id, &&device.0[..], &to_sql_int(*at_ms)],
            )
            .await
            .map_err(pg_error)?;
        }
        RosterChange::Role { device, role } => {
            tx.execute(
                "UPDATE devices SET role = $3 WHERE team = $1 AND device = $2",
                &[&id, &&device.0[..], &role.as_str()],
            )
            .await
            .map_err(pg_error)?;
        }
    }
    let mut bundle_head = insert_bundles(tx, team, bundle_head, &append.bundles, false).await?;
    if let Some(take) = &append.staged {
        bundle_head = insert_bundles(tx, team, bundle_head, &staged, false).await?;
        tx.execute(
            "DELETE FROM staged_bundles WHERE team = $1 AND sender = $2",
            &[&id, &&take.sender.0[..]],
        )
        .await
        .map_err(pg_error)?;
    }
    if matches!(append.roster, RosterChange::Revoke { .. }) {
        // Whatever else was staged was made for the epoch this revocation just took.
        tx.execute("DELETE FROM staged_bundles WHERE team = $1", &[&id])
            .await
            .map_err(pg_error)?;
    }
    if !append.forget_bundles.is_empty() {
        let invites: Vec<&[u8]> = append.forget_bundles.iter().map(|i| &i.0[..]).collect();
        tx.execute(
            "DELETE FROM key_bundles WHERE team = $1 AND recipient = ANY($2)",
            &[&id, &invites],
        )
        .await
        .map_err(pg_error)?;
    }
    let stmt = tx
        .prepare_cached(
            "UPDATE teams SET membership_len = $2, epoch = $3, bundle_head = $4 WHERE id = $1",
        )
        .await
        .map_err(pg_error)?;
    tx.execute(
        &stmt,
        &[
            &id,
            &to_sql_int(len.saturating_add(1)),
            &i64::from(append.epoch),
            &to_sql_int(bundle_head),
        ],
    )
    .await
    .map_err(pg_error)?;
    // Every relay of the database hears of it when (and only if) this commits: their live
    // sockets of a device this revokes close.
    let notify = tx
        .prepare_cached("SELECT pg_notify($1, $2)")
        .await
        .map_err(pg_error)?;
    let payload = listener::membership_payload(team, len.saturating_add(1), schema);
    tx.execute(&notify, &[&CHANNEL, &payload])
        .await
        .map_err(pg_error)?;
    Ok(len)
}

async fn insert_device(
    tx: &deadpool_postgres::Transaction<'_>,
    team: TeamId,
    device: &Device,
) -> Result<()> {
    let plan = device.plan.as_ref().map(|p| &p.0[..]);
    let invite = device.invite.as_ref().map(|i| &i.0[..]);
    tx.execute(
        "INSERT INTO devices (team, device, public_key, hpke_key, role, plan, invite, added_at,
                              added_by, revoked_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        &[
            &&team.0[..],
            &&device.device.0[..],
            &&device.public_key[..],
            &device.hpke_key,
            &device.role.as_str(),
            &plan,
            &invite,
            &to_sql_int(device.added_at_ms),
            &&device.added_by.0[..],
            &device.revoked_at_ms.map(to_sql_int),
        ],
    )
    .await
    .map_err(pg_error)?;
    Ok(())
}

/// Inserts bundles after `head` in one statement (`private_notes`: bundles handing on
/// private-notes keys); returns the new bundle head.
async fn insert_bundles(
    tx: &deadpool_postgres::Transaction<'_>,
    team: TeamId,
    head: u64,
    bundles: &[NewBundle],
    private_notes: bool,
) -> Result<u64> {
    if bundles.is_empty() {
        return Ok(head);
    }
    let mut seqs = Vec::with_capacity(bundles.len());
    let mut next = head;
    for _ in bundles {
        next = next.saturating_add(1);
        seqs.push(to_sql_int(next));
    }
    let recipients: Vec<&[u8]> = bundles.iter().map(|b| &b.recipient[..]).collect();
    let senders: Vec<&[u8]> = bundles.iter().map(|b| &b.sender.0[..]).collect();
    let bytes: Vec<&[u8]> = bundles.iter().map(|b| &b.bytes[..]).collect();
    let stmt = tx
        .prepare_cached(
            "INSERT INTO key_bundles (team, seq, recipient, sender, bytes, private_notes)
             SELECT $1, u.seq, u.recipient, u.sender, u.bytes, $6
             FROM unnest($2::bigint[], $3::bytea[], $4::bytea[], $5::bytea[])
                  AS u(seq, recipient, sender, bytes)",
        )
        .await
        .map_err(pg_error)?;
    tx.execute(
        &stmt,
        &[
            &&team.0[..],
            &seqs,
            &recipients,
            &senders,
            &bytes,
            &private_notes,
        ],
    )
    .await
    .map_err(pg_error)?;
    Ok(next)
}

/// Stores `sender`'s private-notes bundles, each replacing its last one to that recipient.
async fn put_private_notes_bundles(
    tx: &deadpool_postgres::Transaction<'_>,
    team: TeamId,
    sender: DeviceId,
    bundles: &[NewBundle],
) -> Result<u64> {
    let (_, _, _, bundle_head) = lock_team(tx, team).await?;
    let id = &team.0[..];
    let recipients: Vec<&[u8]> = bundles.iter().map(|b| &b.recipient[..]).collect();
    tx.execute(
        "DELETE FROM key_bundles
         WHERE team = $1 AND sender = $2 AND recipient = ANY($3) AND private_notes",
        &[&id, &&sender.0[..], &recipients],
    )
    .await
    .map_err(pg_error)?;
    let head = insert_bundles(tx, team, bundle_head, bundles, true).await?;
    tx.execute(
        "UPDATE teams SET bundle_head = $2 WHERE id = $1",
        &[&id, &to_sql_int(head)],
    )
    .await
    .map_err(pg_error)?;
    Ok(as_u64(bundles.len()))
}

/// The staged bundles `take` names, in its order; [`Error::StagingChanged`] if one is not
/// staged (any more).
async fn read_staged(
    tx: &deadpool_postgres::Transaction<'_>,
    team: TeamId,
    take: &TakeStaged,
) -> Result<Vec<NewBundle>> {
    let recipients: Vec<&[u8]> = take.recipients.iter().map(|r| &r[..]).collect();
    let rows = tx
        .query(
            "SELECT recipient, bytes FROM staged_bundles
             WHERE team = $1 AND sender = $2 AND commitment = $3 AND recipient = ANY($4)",
            &[
                &&team.0[..],
                &&take.sender.0[..],
                &&take.commitment[..],
                &recipients,
            ],
        )
        .await
        .map_err(pg_error)?;
    let mut staged: HashMap<[u8; 16], Vec<u8>> = HashMap::with_capacity(rows.len());
    for row in &rows {
        staged.insert(
            fixed(row, 0, "recipient")?,
            row.try_get(1).map_err(pg_error)?,
        );
    }
    take.recipients
        .iter()
        .map(|recipient| {
            let bytes = staged
                .get(recipient)
                .ok_or(Error::StagingChanged(team))?
                .clone();
            Ok(NewBundle {
                recipient: *recipient,
                sender: take.sender,
                bytes,
            })
        })
        .collect()
}

async fn stage_bundles(
    tx: &deadpool_postgres::Transaction<'_>,
    team: TeamId,
    staging: &Staging,
) -> Result<u64> {
    lock_team(tx, team).await?;
    let id = &team.0[..];
    let sender = &staging.sender.0[..];
    let commitment = &staging.commitment[..];
    tx.execute(
        "DELETE FROM staged_bundles
         WHERE (team = $1 AND sender = $2 AND commitment <> $3) OR staged_at < $4",
        &[
            &id,
            &sender,
            &commitment,
            &to_sql_int(staging.at_ms.saturating_sub(STAGED_TTL_MS)),
        ],
    )
    .await
    .map_err(pg_error)?;
    // One row per recipient, the last bundle staged for it winning (one statement cannot
    // update a row twice).
    let mut last: HashMap<[u8; 16], usize> = HashMap::with_capacity(staging.bundles.len());
    for (index, bundle) in staging.bundles.iter().enumerate() {
        last.insert(bundle.recipient, index);
    }
    let mut chosen: Vec<usize> = last.into_values().collect();
    chosen.sort_unstable();
    if !chosen.is_empty() {
        let recipients: Vec<&[u8]> = chosen
            .iter()
            .map(|&i| &staging.bundles[i].recipient[..])
            .collect();
        let bytes: Vec<&[u8]> = chosen
            .iter()
            .map(|&i| &staging.bundles[i].bytes[..])
            .collect();
        let stmt = tx
            .prepare_cached(
                "INSERT INTO staged_bundles (team, sender, recipient, commitment, staged_at, bytes)
                 SELECT $1, $2, u.recipient, $3, $4, u.bytes
                 FROM unnest($5::bytea[], $6::bytea[]) AS u(recipient, bytes)
                 ON CONFLICT (team, sender, recipient)
                 DO UPDATE SET commitment = excluded.commitment, staged_at = excluded.staged_at,
                               bytes = excluded.bytes",
            )
            .await
            .map_err(pg_error)?;
        tx.execute(
            &stmt,
            &[
                &id,
                &sender,
                &commitment,
                &to_sql_int(staging.at_ms),
                &recipients,
                &bytes,
            ],
        )
        .await
        .map_err(pg_error)?;
    }
    let row = tx
        .query_one(
            "SELECT count(*) FROM staged_bundles
             WHERE team = $1 AND sender = $2 AND commitment = $3",
            &[&id, &sender, &commitment],
        )
        .await
        .map_err(pg_error)?;
    u64_at(&row, 0)
}

/// Where each envelope of a push goes: stored already (its sequence number), the same as
/// an earlier envelope of this push, or new.
enum Placement {
    Stored(u64),
    SameAs(usize),
    New,
}

/// What a push wrote: the receipt, and whether the team's head grew.
struct Pushing {
    receipt: PushReceipt,
    grew: bool,
}

async fn push(
    tx: &deadpool_postgres::Transaction<'_>,
    schema: &str,
    team: TeamId,
    envelopes: &[NewEnvelope],
    received_ms: u64,
    quota: TeamQuota,
) -> Result<Pushing> {
    let (held_head, held_bytes, _, _) = lock_team(tx, team).await?;
    let id = &team.0[..];

    // Which of them the relay holds already: one query for the whole push.
    let ids: Vec<&[u8]> = envelopes.iter().map(|e| &e.id.0[..]).collect();
    let stmt = tx
        .prepare_cached("SELECT id, team, seq FROM envelopes WHERE id = ANY($1)")
        .await
        .map_err(pg_error)?;
    let mut stored: HashMap<[u8; 32], ([u8; 16], u64)> = HashMap::new();
    if !ids.is_empty() {
        for row in tx.query(&stmt, &[&ids]).await.map_err(pg_error)? {
            stored.insert(
                fixed(&row, 0, "envelope id")?,
                (fixed(&row, 1, "team id")?, u64_at(&row, 2)?),
            );
        }
    }
    let mut first_new: HashMap<[u8; 32], usize> = HashMap::new();
    let mut placements = Vec::with_capacity(envelopes.len());
    let (mut adding, mut adding_bytes) = (0u64, 0u64);
    for (index, envelope) in envelopes.iter().enumerate() {
        if let Some(&first) = first_new.get(&envelope.id.0) {
            placements.push(Placement::SameAs(first));
            continue;
        }
        match stored.get(&envelope.id.0) {
            Some((owner, _)) if *owner != team.0 => {
                // The id is SHA-256 of bytes that name their team, and the caller checked
                // that team: reaching this means a hash collision or a bug upstream.
                return Err(Error::Backend(format!(
                    "envelope {} is already stored for another team",
                    envelope.id
                )));
            }
            Some((_, seq)) => placements.push(Placement::Stored(*seq)),
            None => {
                first_new.insert(envelope.id.0, index);
                placements.push(Placement::New);
                adding += 1;
                adding_bytes = adding_bytes.saturating_add(as_u64(envelope.bytes.len()));
            }
        }
    }

    // The quota on what is new, against the counts read under the team's lock: concurrent
    // pushes (through any relay) cannot overshoot it.
    let exceeded = |what, held: u64, adding: u64, quota: u64| {
        let would_hold = held.saturating_add(adding);
        (quota > 0 && adding > 0 && would_hold > quota).then_some(Error::QuotaExceeded {
            team,
            what,
            would_hold,
            quota,
        })
    };
    if let Some(e) = exceeded("envelopes", held_head, adding, quota.envelopes)
        .or_else(|| exceeded("bytes of envelopes", held_bytes, adding_bytes, quota.bytes))
    {
        return Err(e);
    }

    let mut head = held_head;
    let mut results: Vec<Pushed> = Vec::with_capacity(envelopes.len());
    let mut new: Vec<(&NewEnvelope, i64)> = Vec::with_capacity(envelopes.len());
    for (envelope, placement) in envelopes.iter().zip(&placements) {
        let pushed = match *placement {
            Placement::Stored(seq) => Pushed {
                seq,
                duplicate: true,
            },
            Placement::SameAs(first) => Pushed {
                seq: results.get(first).map_or(0, |p| p.seq),
                duplicate: true,
            },
            Placement::New => {
                head = head.saturating_add(1);
                new.push((envelope, to_sql_int(head)));
                Pushed {
                    seq: head,
                    duplicate: false,
                }
            }
        };
        results.push(pushed);
    }
    if !new.is_empty() {
        // Every new envelope in one statement, whatever the batch size.
        let seqs: Vec<i64> = new.iter().map(|(_, seq)| *seq).collect();
        let new_ids: Vec<&[u8]> = new.iter().map(|(e, _)| &e.id.0[..]).collect();
        let documents: Vec<&[u8]> = new.iter().map(|(e, _)| &e.document.0[..]).collect();
        let kinds: Vec<i16> = new
            .iter()
            .map(|(e, _)| i16::from(e.kind.as_byte()))
            .collect();
        let covers: Vec<i64> = new.iter().map(|(e, _)| to_sql_int(e.covers)).collect();
        let authors: Vec<&[u8]> = new.iter().map(|(e, _)| &e.author.0[..]).collect();
        let bytes: Vec<&[u8]> = new.iter().map(|(e, _)| &e.bytes[..]).collect();
        let private_to: Vec<Option<&[u8]>> = new
            .iter()
            .map(|(e, _)| e.private_to.as_ref().map(|d| &d.0[..]))
            .collect();
        let insert = tx
            .prepare_cached(
                "INSERT INTO envelopes
                     (team, seq, id, document, kind, covers, author, received_at, bytes,
                      private_to)
                 SELECT $1, u.seq, u.id, u.document, u.kind, u.covers, u.author, $2, u.bytes,
                        u.private_to
                 FROM unnest($3::bigint[], $4::bytea[], $5::bytea[], $6::smallint[],
                             $7::bigint[], $8::bytea[], $9::bytea[], $10::bytea[])
                      AS u(seq, id, document, kind, covers, author, bytes, private_to)",
            )
            .await
            .map_err(pg_error)?;
        let params: [&(dyn ToSql + Sync); 10] = [
            &id,
            &to_sql_int(received_ms),
            &seqs,
            &new_ids,
            &documents,
            &kinds,
            &covers,
            &authors,
            &bytes,
            &private_to,
        ];
        tx.execute(&insert, &params).await.map_err(pg_error)?;
        let update = tx
            .prepare_cached("UPDATE teams SET head = $2, envelope_bytes = $3 WHERE id = $1")
            .await
            .map_err(pg_error)?;
        tx.execute(
            &update,
            &[
                &id,
                &to_sql_int(head),
                &to_sql_int(held_bytes.saturating_add(adding_bytes)),
            ],
        )
        .await
        .map_err(pg_error)?;
        // Delivered to every listening relay when (and only if) this transaction commits.
        let notify = tx
            .prepare_cached("SELECT pg_notify($1, $2)")
            .await
            .map_err(pg_error)?;
        tx.execute(&notify, &[&CHANNEL, &listener::payload(team, head, schema)])
            .await
            .map_err(pg_error)?;
    }
    Ok(Pushing {
        receipt: PushReceipt {
            envelopes: results,
            head,
        },
        grew: !new.is_empty(),
    })
}

/// Selects a pull page's rows from `$inner` (which yields `seq, bytes, cost` in sequence
/// order, at most `$3 + 1` rows), with the bytes only of the rows that fit the page: at
/// most `$3` rows and `$4` bytes of cost (the first row whatever its size). The first row
/// that does not fit comes back without bytes (it says there is more); rows after it not
/// at all (row n comes back if rows 1..n-1 fit: n-1 is the first row, or the running cost
/// up to it is within `$4`). So no envelope is sent from the database that the page does
/// not hold.
macro_rules! page_sql {
    ($inner:expr) => {
        concat!(
            "SELECT seq, CASE WHEN n <= $3::bigint AND (n = 1 OR total <= $4::bigint) THEN bytes END
             FROM (SELECT seq, bytes, cost,
                          row_number() OVER w AS n, sum(cost) OVER w AS total
                   FROM (",
            $inner,
            ") AS rows
                   WINDOW w AS (ORDER BY seq ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW))
                  AS page
             WHERE n <= 2 OR total - cost <= $4::bigint
             ORDER BY seq"
        )
    };
}

/// `$6`: the only device whose private notes the pull may return (`NULL`: everyone's).
macro_rules! pull_sql {
    ($filter:literal) => {
        page_sql!(concat!(
            "SELECT seq, bytes, length(bytes) + $5::integer AS cost FROM envelopes
             WHERE team = $1 AND seq > $2
               AND ($6::bytea IS NULL OR private_to IS NULL OR private_to = $6)",
            $filter,
            " ORDER BY seq LIMIT $3::bigint + 1"
        ))
    };
}

/// See [`PullRequest::compact`] and the SQLite backend's query: envelopes in `($2, $7]`,
/// leaving out what a usable snapshot of the same document covers. `$6` as in [`pull_sql`].
macro_rules! pull_compact_sql {
    ($filter:literal) => {
        page_sql!(concat!(
            "SELECT e.seq, e.bytes, length(e.bytes) + $5::integer AS cost FROM envelopes e
             WHERE e.team = $1 AND e.seq > $2 AND e.seq <= $7
               AND ($6::bytea IS NULL OR e.private_to IS NULL OR e.private_to = $6)",
            $filter,
            " AND NOT (e.kind IN (1, 2) AND EXISTS (
                  SELECT 1 FROM envelopes s
                  WHERE s.team = e.team AND s.document = e.document AND s.kind = 2
                    AND s.covers < s.seq AND s.covers >= e.seq))
             ORDER BY e.seq LIMIT $3::bigint + 1"
        ))
    };
}

const PULL_SQL: &str = pull_sql!("");
const PULL_DOC_SQL: &str = pull_sql!(" AND document = $7");
const PULL_COMPACT_SQL: &str = pull_compact_sql!("");
const PULL_COMPACT_DOC_SQL: &str = pull_compact_sql!(" AND e.document = $8");

/// Runs a page query and appends its rows to `page` (sets `more` if a row did not fit).
#[allow(clippy::too_many_arguments)]
async fn fill(
    client: &Object,
    sql: &str,
    team: TeamId,
    after: u64,
    limit: usize,
    max_bytes: usize,
    end: Option<u64>,
    (document, private): (Option<DocumentId>, PrivateNotes),
    page: &mut Page,
) -> Result<()> {
    let stmt = client.prepare_cached(sql).await.map_err(pg_error)?;
    let id = &team.0[..];
    let after = to_sql_int(after);
    let limit = i64::try_from(limit).unwrap_or(i64::MAX - 1);
    let max_bytes = i64::try_from(max_bytes).unwrap_or(i64::MAX);
    let overhead = i32::try_from(PAGE_ITEM_OVERHEAD).unwrap_or(i32::MAX);
    let end = end.map(to_sql_int);
    let document = document.as_ref().map(|d| &d.0[..]);
    let only = private.only();
    let only = only.as_ref().map(|d| &d.0[..]);
    let mut params: Vec<&(dyn ToSql + Sync)> =
        vec![&id, &after, &limit, &max_bytes, &overhead, &only];
    if let Some(end) = &end {
        params.push(end);
    }
    if let Some(document) = &document {
        params.push(document);
    }
    let rows = client.query(&stmt, &params).await.map_err(pg_error)?;
    for row in &rows {
        let bytes: Option<Vec<u8>> = row.try_get(1).map_err(pg_error)?;
        let Some(bytes) = bytes else {
            page.more = true;
            break;
        };
        let seq = u64_at(row, 0)?;
        page.next = seq;
        page.envelopes.push((seq, bytes));
    }
    Ok(())
}

/// Whether the team has an envelope (of `document`, if given, and that the reader may see)
/// after `seq`.
async fn any_after(
    client: &Object,
    team: TeamId,
    seq: u64,
    (document, private): (Option<DocumentId>, PrivateNotes),
) -> Result<bool> {
    let id = &team.0[..];
    let seq = to_sql_int(seq);
    let only = private.only();
    let only = only.as_ref().map(|d| &d.0[..]);
    let found = match document {
        Some(document) => {
            let stmt = client
                .prepare_cached(
                    "SELECT 1 FROM envelopes WHERE team = $1 AND document = $2 AND seq > $3
                       AND ($4::bytea IS NULL OR private_to IS NULL OR private_to = $4)
                     LIMIT 1",
                )
                .await
                .map_err(pg_error)?;
            client
                .query_opt(&stmt, &[&id, &&document.0[..], &seq, &only])
                .await
        }
        None => {
            let stmt = client
                .prepare_cached(
                    "SELECT 1 FROM envelopes WHERE team = $1 AND seq > $2
                       AND ($3::bytea IS NULL OR private_to IS NULL OR private_to = $3)
                     LIMIT 1",
                )
                .await
                .map_err(pg_error)?;
            client.query_opt(&stmt, &[&id, &seq, &only]).await
        }
    };
    Ok(found.map_err(pg_error)?.is_some())
}

/// A pull, as the SQLite backend does it (the same window for compact pulls).
async fn pull(client: &Object, team: TeamId, request: PullRequest) -> Result<Page> {
    let limit = request.limit.max(1);
    let mut page = Page {
        envelopes: Vec::new(),
        next: request.after,
        more: false,
    };
    let (after, max_bytes) = (request.after, request.max_bytes);
    let (document, filter) = (request.document, (request.document, request.private_notes));
    if !request.compact {
        let sql = match document {
            Some(_) => PULL_DOC_SQL,
            None => PULL_SQL,
        };
        fill(
            client, sql, team, after, limit, max_bytes, None, filter, &mut page,
        )
        .await?;
        return Ok(page);
    }

    let sql = match document {
        Some(_) => PULL_COMPACT_DOC_SQL,
        None => PULL_COMPACT_SQL,
    };
    let window = limit
        .saturating_mul(COMPACT_WINDOW_PER_ITEM)
        .max(COMPACT_WINDOW_MIN);
    let window_end = after.saturating_add(as_u64(window));
    let end = Some(window_end);
    fill(
        client, sql, team, after, limit, max_bytes, end, filter, &mut page,
    )
    .await?;
    if page.more {
        return Ok(page);
    }
    // The window is read. Does the pull go on past it?
    if !any_after(client, team, window_end, filter).await? {
        return Ok(page);
    }
    if page.envelopes.is_empty() {
        // Nothing in the window: read on to the first envelope this pull returns.
        let end = Some(u64::MAX);
        fill(
            client, sql, team, window_end, 1, max_bytes, end, filter, &mut page,
        )
        .await?;
    } else {
        // More past the window; `next` stays the last envelope returned.
        page.more = true;
    }
    Ok(page)
}

async fn bundles(client: &Object, team: TeamId, request: &BundleRequest) -> Result<BundlePage> {
    let limit = request.limit.max(1);
    let mut page = BundlePage {
        bundles: Vec::new(),
        next: request.after,
        more: false,
    };
    if request.recipients.is_empty() {
        return Ok(page);
    }
    let stmt = client
        .prepare_cached(
            "SELECT seq, bytes FROM key_bundles
             WHERE team = $1 AND seq > $2 AND recipient = ANY($3) ORDER BY seq LIMIT $4",
        )
        .await
        .map_err(pg_error)?;
    let recipients: Vec<&[u8]> = request.recipients.iter().map(|r| &r[..]).collect();
    let fetch = i64::try_from(limit).unwrap_or(i64::MAX - 1) + 1;
    let rows = client
        .query(
            &stmt,
            &[
                &&team.0[..],
                &to_sql_int(request.after),
                &recipients,
                &fetch,
            ],
        )
        .await
        .map_err(pg_error)?;
    for row in &rows {
        if page.bundles.len() >= limit {
            page.more = true;
            break;
        }
        let seq = u64_at(row, 0)?;
        page.bundles.push((seq, row.try_get(1).map_err(pg_error)?));
        page.next = seq;
    }
    Ok(page)
}

impl Storage for PgStorage {
    async fn create_team(&self, team: NewTeam) -> Result<()> {
        write_transaction!(self, |tx| create_team(&tx, &team).await, |_| 0)
    }

    async fn append_membership(&self, team: TeamId, append: MembershipAppend) -> Result<u64> {
        write_transaction!(
            self,
            |tx| append_membership(&tx, team, &append, &self.inner.schema).await,
            |_| 0
        )
    }

    async fn membership(&self, team: TeamId, from: u64) -> Result<Vec<MembershipEntry>> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(
                "SELECT seq, entry, subject FROM membership
                 WHERE team = $1 AND seq >= $2 ORDER BY seq",
            )
            .await
            .map_err(pg_error)?;
        let rows = client
            .query(&stmt, &[&&team.0[..], &to_sql_int(from)])
            .await
            .map_err(pg_error)?;
        rows.iter()
            .map(|row| {
                Ok(MembershipEntry {
                    seq: u64_at(row, 0)?,
                    entry: row.try_get(1).map_err(pg_error)?,
                    subject: fixed_opt(row, 2, "entry subject")?,
                })
            })
            .collect()
    }

    async fn devices(&self, team: TeamId) -> Result<Vec<Device>> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(
                "SELECT device, public_key, hpke_key, role, plan, invite, added_at, added_by,
                        revoked_at
                 FROM devices WHERE team = $1 ORDER BY added_at, device",
            )
            .await
            .map_err(pg_error)?;
        let rows = client
            .query(&stmt, &[&&team.0[..]])
            .await
            .map_err(pg_error)?;
        rows.iter().map(device_from_row).collect()
    }

    async fn device_key(&self, device: DeviceId) -> Result<Option<PublicKey>> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(
                "SELECT public_key FROM devices WHERE device = $1 AND revoked_at IS NULL LIMIT 1",
            )
            .await
            .map_err(pg_error)?;
        let row = client
            .query_opt(&stmt, &[&&device.0[..]])
            .await
            .map_err(pg_error)?;
        row.map(|row| fixed(&row, 0, "public key")).transpose()
    }

    async fn stage_bundles(&self, team: TeamId, staging: Staging) -> Result<u64> {
        write_transaction!(self, |tx| stage_bundles(&tx, team, &staging).await, |_| 0)
    }

    async fn staged_recipients(
        &self,
        team: TeamId,
        sender: DeviceId,
        commitment: [u8; 32],
    ) -> Result<Vec<[u8; 16]>> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(
                "SELECT recipient FROM staged_bundles
                 WHERE team = $1 AND sender = $2 AND commitment = $3 ORDER BY recipient",
            )
            .await
            .map_err(pg_error)?;
        let rows = client
            .query(&stmt, &[&&team.0[..], &&sender.0[..], &&commitment[..]])
            .await
            .map_err(pg_error)?;
        rows.iter().map(|row| fixed(row, 0, "recipient")).collect()
    }

    async fn forget_bundles(&self, team: TeamId, recipient: [u8; 16], up_to: u64) -> Result<u64> {
        let started = Instant::now();
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(
                "DELETE FROM key_bundles WHERE team = $1 AND recipient = $2 AND seq <= $3",
            )
            .await
            .map_err(pg_error)?;
        let deleted = client
            .execute(&stmt, &[&&team.0[..], &&recipient[..], &to_sql_int(up_to)])
            .await
            .map_err(pg_error)?;
        self.committed(started, 0);
        Ok(deleted)
    }

    async fn put_private_notes_bundles(
        &self,
        team: TeamId,
        sender: DeviceId,
        bundles: Vec<NewBundle>,
    ) -> Result<u64> {
        write_transaction!(
            self,
            |tx| put_private_notes_bundles(&tx, team, sender, &bundles).await,
            |_| 0
        )
    }

    async fn bundles(&self, team: TeamId, request: BundleRequest) -> Result<BundlePage> {
        let client = self.client().await?;
        bundles(&client, team, &request).await
    }

    async fn push(
        &self,
        team: TeamId,
        envelopes: Vec<NewEnvelope>,
        received_ms: u64,
    ) -> Result<PushReceipt> {
        let quota = self.quota();
        let schema = self.inner.schema.as_str();
        let pushed: Pushing = write_transaction!(
            self,
            |tx| push(&tx, schema, team, &envelopes, received_ms, quota).await,
            |p: &Pushing| p.receipt.envelopes.len()
        )?;
        if pushed.grew {
            // At once for this relay's watchers; the others hear it from the notification.
            self.inner.shared.heads.publish(team, pushed.receipt.head);
        }
        Ok(pushed.receipt)
    }

    async fn pull(&self, team: TeamId, request: PullRequest) -> Result<Page> {
        let client = self.client().await?;
        pull(&client, team, request).await
    }

    async fn head(&self, team: TeamId) -> Result<Option<u64>> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached("SELECT head FROM teams WHERE id = $1")
            .await
            .map_err(pg_error)?;
        let row = client
            .query_opt(&stmt, &[&&team.0[..]])
            .await
            .map_err(pg_error)?;
        row.map(|row| u64_at(&row, 0)).transpose()
    }

    async fn document_head(&self, team: TeamId, document: DocumentId) -> Result<u64> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(
                "SELECT COALESCE(MAX(seq), 0) FROM envelopes WHERE team = $1 AND document = $2",
            )
            .await
            .map_err(pg_error)?;
        let row = client
            .query_one(&stmt, &[&&team.0[..], &&document.0[..]])
            .await
            .map_err(pg_error)?;
        u64_at(&row, 0)
    }

    async fn envelope_ids(
        &self,
        team: TeamId,
        seqs: Vec<u64>,
        document: Option<DocumentId>,
        private_notes: PrivateNotes,
    ) -> Result<Vec<Option<EnvelopeId>>> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(
                "SELECT seq, id FROM envelopes WHERE team = $1 AND seq = ANY($2)
                 AND ($3::bytea IS NULL OR document = $3)
                 AND ($4::bytea IS NULL OR private_to IS NULL OR private_to = $4)",
            )
            .await
            .map_err(pg_error)?;
        let asked: Vec<i64> = seqs.iter().filter_map(|&s| i64::try_from(s).ok()).collect();
        let document = document.map(|d| d.0.to_vec());
        let only = private_notes.only().map(|d| d.0.to_vec());
        let rows = client
            .query(&stmt, &[&&team.0[..], &asked, &document, &only])
            .await
            .map_err(pg_error)?;
        let mut found = HashMap::with_capacity(rows.len());
        for row in &rows {
            found.insert(
                u64_at(row, 0)?,
                EnvelopeId(fixed::<32>(row, 1, "envelope id")?),
            );
        }
        Ok(seqs.iter().map(|seq| found.get(seq).copied()).collect())
    }

    async fn team(&self, team: TeamId) -> Result<Option<TeamInfo>> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached("SELECT head, epoch, membership_len FROM teams WHERE id = $1")
            .await
            .map_err(pg_error)?;
        let row = client
            .query_opt(&stmt, &[&&team.0[..]])
            .await
            .map_err(pg_error)?;
        row.map(|row| {
            Ok(TeamInfo {
                head: u64_at(&row, 0)?,
                epoch: epoch_at(&row, 1)?,
                membership_len: u64_at(&row, 2)?,
            })
        })
        .transpose()
    }

    fn set_team_quota(&self, quota: TeamQuota) {
        *lock(&self.inner.shared.quota) = quota;
    }

    fn shares_database(&self) -> bool {
        true
    }

    async fn shared_token_key(&self, generated: [u8; 32]) -> Result<Option<[u8; 32]>> {
        let client = self.client().await?;
        client
            .execute(
                "INSERT INTO relay_secrets (name, secret) VALUES ('token_key', $1)
                 ON CONFLICT (name) DO NOTHING",
                &[&&generated[..]],
            )
            .await
            .map_err(pg_error)?;
        let row = client
            .query_one(
                "SELECT secret FROM relay_secrets WHERE name = 'token_key'",
                &[],
            )
            .await
            .map_err(pg_error)?;
        Ok(Some(fixed::<32>(&row, 0, "token key")?))
    }

    async fn record_challenge(
        &self,
        challenge: [u8; 32],
        device: DeviceId,
        replaced: Option<[u8; 32]>,
        ttl_ms: u64,
    ) -> Result<()> {
        let client = self.client().await?;
        // One clock for every relay: the database's, in ms since the epoch.
        let record = client
            .prepare_cached(
                "WITH now AS (SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint AS ms),
                 gone AS (
                     DELETE FROM login_challenges
                     WHERE challenge = $3::bytea OR issued_at < (SELECT ms FROM now) - $4::bigint
                 )
                 INSERT INTO login_challenges (challenge, device, issued_at)
                 SELECT $1::bytea, $2::bytea, ms FROM now",
            )
            .await
            .map_err(pg_error)?;
        let replaced = replaced.as_ref().map(|c| &c[..]);
        client
            .execute(
                &record,
                &[
                    &&challenge[..],
                    &&device.0[..],
                    &replaced,
                    &to_sql_int(ttl_ms),
                ],
            )
            .await
            .map_err(pg_error)?;
        Ok(())
    }

    async fn take_challenge(&self, challenge: [u8; 32], ttl_ms: u64) -> Result<Option<DeviceId>> {
        let client = self.client().await?;
        // Taken whether or not it has expired: a challenge is tried once.
        let stmt = client
            .prepare_cached(
                "WITH taken AS (
                     DELETE FROM login_challenges WHERE challenge = $1
                     RETURNING device, issued_at
                 )
                 SELECT device FROM taken
                 WHERE issued_at > (extract(epoch FROM clock_timestamp()) * 1000)::bigint - $2::bigint",
            )
            .await
            .map_err(pg_error)?;
        let row = client
            .query_opt(&stmt, &[&&challenge[..], &to_sql_int(ttl_ms)])
            .await
            .map_err(pg_error)?;
        row.map(|row| Ok(DeviceId(fixed::<16>(&row, 0, "device id")?)))
            .transpose()
    }

    fn heads(&self) -> &TeamHeads {
        &self.inner.shared.heads
    }

    fn write_stats(&self) -> WriteStats {
        let stats = &self.inner.shared.stats;
        let transactions = stats.transactions.load(Ordering::Relaxed);
        WriteStats {
            transactions,
            // One request per transaction: PostgreSQL groups commits, not requests.
            requests: transactions,
            envelopes: stats.envelopes.load(Ordering::Relaxed),
            // Nanoseconds to seconds; f64 is exact far beyond any uptime.
            #[allow(clippy::cast_precision_loss)]
            seconds: stats.nanos.load(Ordering::Relaxed) as f64 / 1e9,
        }
    }

    async fn check(&self) -> Result<()> {
        let client = self.client().await?;
        client
            .simple_query("SELECT 1")
            .await
            .map(drop)
            .map_err(pg_error)
    }

    async fn close(&self) -> Result<()> {
        // Requests in flight hold their connections and finish; new ones are refused.
        self.inner.closed.store(true, Ordering::Release);
        self.inner.pool.close();
        let listener = self.inner.listener.lock().await.take();
        if let Some(listener) = listener {
            listener.stop().await;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
