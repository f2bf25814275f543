//! An in-memory cache of each team's folded membership log, so "is this device an active
//! member of this team, with which role" costs a map lookup on the hot path instead of a
//! database read and a fold.
//!
//! A team's entry holds the log's entries (as stored, with their patient subject) and the
//! [`Membership`] they fold to. Appends made by this process replace the entry with the
//! state they computed, before the request is answered. When several relay processes
//! share a PostgreSQL database, each lookup also compares the cached log's length with the
//! database's (one primary-key read), so an append through another relay (a revocation)
//! counts here from the moment it commits. Entries also expire after a short time.
//!
//! Two things keep a flood of lookups from costing more than one database read each, or
//! from pushing real teams out:
//!
//! - **single-flight loads**: concurrent misses for one team wait for one load (a team's
//!   devices all reconnecting after a relay restart read its log once, not once each);
//! - **teams that do not exist are remembered apart** (in a small table of their own that
//!   starts afresh when full), so lookups of made-up team ids never evict a real team's
//!   log. Real teams past [`CAPACITY`] evict stale entries first, then the oldest.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use holdfast_protocol::{Entry, InviteId, Membership, Op, SharedClock, TeamId};
use tokio::sync::watch;

use crate::storage::{self, Storage};

/// How long an entry is trusted without asking the database again.
pub const ENTRY_TTL: Duration = Duration::from_secs(30);
/// Real teams kept at most; past this, stale entries go first, then the oldest.
pub const CAPACITY: usize = 10_000;
/// Teams found not to exist kept at most; past this that table starts afresh.
pub const ABSENT_CAPACITY: usize = 4_096;
/// Stripes of generation counters (see `MembershipCache::generations`).
const STRIPES: usize = 256;

/// One stored membership entry, as the cache keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    /// The encoded entry.
    /// Shared, not copied, when the log is cloned for an append.
    pub bytes: std::sync::Arc<[u8]>,
    /// The patient (invite id) it concerns, if any.
    pub subject: Option<[u8; 16]>,
    /// For an Invite entry, the invite it creates.
    pub invite: Option<InviteId>,
}

impl LogEntry {
    /// The cache's view of a decoded entry.
    pub fn new(entry: &Entry, subject: Option<[u8; 16]>) -> Self {
        LogEntry {
            bytes: entry.as_bytes().into(),
            subject,
            invite: match &entry.op {
                Op::Invite { invite, .. } => Some(*invite),
                _ => None,
            },
        }
    }
}

/// A team's membership log and the state it folds to.
#[derive(Debug, Clone)]
pub struct TeamLog {
    /// The fold of every entry.
    pub state: Membership,
    /// The entries, in order (index = sequence number). A persistent vector: an append
    /// makes a new log sharing all but a few nodes with the old one (which requests in
    /// flight may still hold), instead of copying every entry (O(team size) per append,
    /// O(n²) to grow a team).
    pub entries: imbl::Vector<LogEntry>,
}

impl TeamLog {
    /// The log's length.
    pub fn len(&self) -> u64 {
        self.state.len
    }

    /// Whether a device sees `entry`: staff see every entry; a patient's device (`own`: the
    /// invite it redeemed) sees those about no patient and those about itself.
    pub fn shows(entry: &LogEntry, staff: bool, own: Option<[u8; 16]>) -> bool {
        staff || entry.subject.is_none() || entry.subject == own
    }

    /// The length of the log as a device sees it: the whole length for staff; for a
    /// patient, one past the last entry it may see (it is not told how many enrolments of
    /// other patients follow).
    pub fn len_shown(&self, staff: bool, own: Option<[u8; 16]>) -> u64 {
        if staff {
            return self.len();
        }
        self.entries
            .iter()
            .rposition(|e| Self::shows(e, staff, own))
            .map_or(0, |i| {
                u64::try_from(i).unwrap_or(u64::MAX).saturating_add(1)
            })
    }

    /// The Invite entry that created `invite`.
    pub fn invite_entry(&self, invite: &InviteId) -> Option<&LogEntry> {
        self.entries
            .iter()
            .find(|e| e.invite.as_ref() == Some(invite))
    }

    /// This log with one more entry, applied to `state`.
    pub fn appended(&self, state: Membership, entry: LogEntry) -> TeamLog {
        let mut entries = self.entries.clone();
        entries.push_back(entry);
        TeamLog { state, entries }
    }
}

/// Cached team logs by team.
#[derive(Debug)]
pub struct MembershipCache {
    teams: RwLock<HashMap<TeamId, Cached>>,
    /// Teams whose changes someone (a live socket) watches: a counter bumped per change.
    changes: Mutex<HashMap<TeamId, watch::Sender<u64>>>,
    /// Teams storage said do not exist, and when it said so (ms since the epoch).
    absent: Mutex<HashMap<TeamId, u64>>,
    /// A lock per team being loaded: concurrent misses wait on it for one load.
    loading: Mutex<HashMap<TeamId, Arc<tokio::sync::Mutex<()>>>>,
    /// Bumped by every invalidation of a team in the stripe its id falls in, so a load that
    /// raced with a change to its team does not put the old answer back (and changes to
    /// other teams, which another relay's appends now cause too, rarely stop it caching).
    generations: [AtomicU64; STRIPES],
    /// Loads from storage so far.
    loads: AtomicU64,
    ttl: Duration,
    capacity: usize,
    clock: SharedClock,
}

#[derive(Debug, Clone)]
struct Cached {
    log: Arc<TeamLog>,
    /// When it was read from storage, in ms since the epoch.
    fetched_ms: u64,
}

/// Folds stored entries; a log that does not fold is a damaged database.
pub fn fold(team: TeamId, rows: Vec<storage::MembershipEntry>) -> storage::Result<TeamLog> {
    let mut state = Membership::new(team);
    let mut entries = imbl::Vector::new();
    for row in rows {
        let entry = Entry::decode(&row.entry).map_err(|e| {
            storage::Error::Backend(format!("membership entry {} of {team}: {e}", row.seq))
        })?;
        state.apply(&entry).map_err(|e| {
            storage::Error::Backend(format!(
                "membership entry {} of {team} does not fold: {e}",
                row.seq
            ))
        })?;
        entries.push_back(LogEntry::new(&entry, row.subject));
    }
    Ok(TeamLog { state, entries })
}

impl MembershipCache {
    /// A cache whose entries live [`ENTRY_TTL`] by `clock`, holding at most [`CAPACITY`]
    /// teams.
    pub fn new(clock: SharedClock) -> Self {
        Self::with_bounds(ENTRY_TTL, CAPACITY, clock)
    }

    /// A cache whose entries live `ttl` by `clock`, holding at most `capacity` teams.
    pub fn with_bounds(ttl: Duration, capacity: usize, clock: SharedClock) -> Self {
        MembershipCache {
            teams: RwLock::new(HashMap::new()),
            changes: Mutex::new(HashMap::new()),
            absent: Mutex::new(HashMap::new()),
            loading: Mutex::new(HashMap::new()),
            generations: std::array::from_fn(|_| AtomicU64::new(0)),
            loads: AtomicU64::new(0),
            ttl,
            capacity: capacity.max(1),
            clock,
        }
    }

    /// Whether an entry read at `fetched_ms` may still be trusted. A wall clock set back
    /// since then makes it stale rather than trusted for longer.
    fn is_fresh(&self, fetched_ms: u64) -> bool {
        self.clock
            .now_ms()
            .checked_sub(fetched_ms)
            .is_some_and(|age| u128::from(age) < self.ttl.as_millis())
    }

    /// The cached answer for `team`, if it is fresh: `Some(None)` for a team known not to
    /// exist.
    fn cached(&self, team: TeamId) -> Option<Option<Arc<TeamLog>>> {
        {
            let teams = self.teams.read().unwrap_or_else(PoisonError::into_inner);
            if let Some(cached) = teams.get(&team)
                && self.is_fresh(cached.fetched_ms)
            {
                return Some(Some(Arc::clone(&cached.log)));
            }
        }
        let absent = self.absent.lock().unwrap_or_else(PoisonError::into_inner);
        match absent.get(&team) {
            Some(&fetched_ms) if self.is_fresh(fetched_ms) => Some(None),
            _ => None,
        }
    }

    /// The team's log, from the cache or from `storage`; `None` if the team does not exist.
    /// Concurrent misses for one team wait for one load.
    ///
    /// When other relays write the same database ([`Storage::shares_database`]), a cached
    /// answer is first checked against the log's length there (one primary-key read): a
    /// device revoked through another relay is refused here as soon as that relay has
    /// committed the revocation, before it answers the revoking device.
    pub async fn get<S: Storage>(
        &self,
        storage: &S,
        team: TeamId,
    ) -> storage::Result<Option<Arc<TeamLog>>> {
        if let Some(answer) = self.cached(team) {
            if !storage.shares_database() {
                return Ok(answer);
            }
            let stored = storage.team(team).await?.map(|info| info.membership_len);
            match (&answer, stored) {
                (Some(log), Some(len)) if log.len() == len => return Ok(answer),
                (None, None) => return Ok(None),
                // Forgotten without waking this relay's watchers: the relay that appended
                // announces it (a socket of a revoked device closes on that), and a log
                // whose stored length disagrees with its rows must not wake them for ever.
                _ => self.forget(team),
            }
        }
        self.get_unverified(storage, team).await
    }

    /// The team's log as [`get`](Self::get) answers it, but trusting a fresh cached entry
    /// without asking a shared database: for a live socket hearing of a new head, whose
    /// device's revocation through another relay reaches it as its own notice.
    pub async fn get_unverified<S: Storage>(
        &self,
        storage: &S,
        team: TeamId,
    ) -> storage::Result<Option<Arc<TeamLog>>> {
        if let Some(answer) = self.cached(team) {
            return Ok(answer);
        }
        let lock = {
            let mut loading = self.loading.lock().unwrap_or_else(PoisonError::into_inner);
            Arc::clone(loading.entry(team).or_default())
        };
        let loaded = {
            let _turn = lock.lock().await;
            // Whoever held the lock before may have loaded it.
            match self.cached(team) {
                Some(answer) => Ok(answer),
                None => self.load(storage, team).await,
            }
        };
        {
            let mut loading = self.loading.lock().unwrap_or_else(PoisonError::into_inner);
            // Ours and the map's: nobody else waits on it.
            if Arc::strong_count(&lock) <= 2 {
                loading.remove(&team);
            }
        }
        loaded
    }

    /// Reads and folds the team's log from `storage`, and caches it.
    async fn load<S: Storage>(
        &self,
        storage: &S,
        team: TeamId,
    ) -> storage::Result<Option<Arc<TeamLog>>> {
        let generation = self.generation(team).load(Ordering::Acquire);
        let fetched_ms = self.clock.now_ms();
        self.loads.fetch_add(1, Ordering::Relaxed);
        let rows = storage.membership(team, 0).await?;
        let log = if rows.is_empty() {
            None
        } else {
            Some(Arc::new(fold(team, rows)?))
        };
        let mut teams = self.teams.write().unwrap_or_else(PoisonError::into_inner);
        if self.generation(team).load(Ordering::Acquire) == generation {
            match &log {
                Some(log) => self.insert(&mut teams, team, Arc::clone(log), fetched_ms),
                None => {
                    let mut absent = self.absent.lock().unwrap_or_else(PoisonError::into_inner);
                    if absent.len() >= ABSENT_CAPACITY {
                        absent.clear();
                    }
                    absent.insert(team, fetched_ms);
                }
            }
        }
        Ok(log)
    }

    /// Caches a real team's log, making room among real teams only: stale entries first,
    /// then the oldest.
    fn insert(
        &self,
        teams: &mut HashMap<TeamId, Cached>,
        team: TeamId,
        log: Arc<TeamLog>,
        fetched_ms: u64,
    ) {
        if teams.len() >= self.capacity && !teams.contains_key(&team) {
            teams.retain(|_, c| self.is_fresh(c.fetched_ms));
            if teams.len() >= self.capacity
                && let Some(oldest) = teams
                    .iter()
                    .min_by_key(|(_, c)| c.fetched_ms)
                    .map(|(t, _)| *t)
            {
                teams.remove(&oldest);
            }
        }
        teams.insert(team, Cached { log, fetched_ms });
    }

    /// Records the log after an append this process committed (unless a longer one is
    /// already cached).
    pub fn put(&self, team: TeamId, log: TeamLog) {
        let mut teams = self.teams.write().unwrap_or_else(PoisonError::into_inner);
        self.generation(team).fetch_add(1, Ordering::AcqRel);
        self.absent
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&team);
        let longer = teams
            .get(&team)
            .is_some_and(|cached| cached.log.len() > log.len());
        if !longer {
            let now = self.clock.now_ms();
            self.insert(&mut teams, team, Arc::new(log), now);
        }
        drop(teams);
        self.notify(team);
    }

    /// The generation counter of `team`'s stripe (team ids are random: the first byte
    /// spreads them).
    fn generation(&self, team: TeamId) -> &AtomicU64 {
        &self.generations[usize::from(team.0[0]) % STRIPES]
    }

    /// Forgets `team` without telling its watchers.
    fn forget(&self, team: TeamId) {
        let mut teams = self.teams.write().unwrap_or_else(PoisonError::into_inner);
        self.generation(team).fetch_add(1, Ordering::AcqRel);
        teams.remove(&team);
        self.absent
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&team);
    }

    /// Forgets `team` (its log changed in a way this process did not see).
    pub fn invalidate_team(&self, team: TeamId) {
        self.forget(team);
        self.notify(team);
    }

    /// Watches `team`'s log: the receiver sees a change each time this process appends to
    /// it, or forgets it (then read it again with [`get`](Self::get)). A live socket uses it
    /// to close at once when its device is revoked.
    pub fn watch(&self, team: TeamId) -> watch::Receiver<u64> {
        let mut changes = self.changes.lock().unwrap_or_else(PoisonError::into_inner);
        changes
            .entry(team)
            .or_insert_with(|| watch::channel(0).0)
            .subscribe()
    }

    /// Tells `team`'s watchers its log changed; forgets the team if nobody watches it.
    fn notify(&self, team: TeamId) {
        let mut changes = self.changes.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(sender) = changes.get(&team) {
            if sender.receiver_count() == 0 {
                changes.remove(&team);
            } else {
                sender.send_modify(|n| *n = n.wrapping_add(1));
            }
        }
    }

    /// Logs read from storage so far (for tests and metrics).
    pub fn loads(&self) -> u64 {
        self.loads.load(Ordering::Relaxed)
    }

    /// Teams held (real and absent).
    #[cfg(test)]
    fn len(&self) -> usize {
        self.teams
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
            + self
                .absent
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .len()
    }
}

#[cfg(test)]
mod tests {
    use holdfast_protocol::ManualClock;
    use std::sync::Mutex;

    use super::*;
    use crate::storage::{SqliteStorage, contract};

    #[tokio::test]
    async fn caches_logs_and_takes_appends_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let storage = SqliteStorage::open(dir.path().join("relay.db")).unwrap();
        let team = contract::new_team(&storage, 1).await;
        let cache = MembershipCache::new(Arc::new(ManualClock::at(1_000_000)));

        let log = cache.get(&storage, team.team).await.unwrap().unwrap();
        assert_eq!(log.len(), 1);
        assert!(log.state.active(&team.admin).is_some());
        assert!(
            cache
                .get(&storage, TeamId([9; 16]))
                .await
                .unwrap()
                .is_none()
        );
        assert_eq!(cache.len(), 2);

        // Appended behind the cache's back: still the cached log until invalidated.
        let (entry, _) = contract::invite_entry(&team, 5, 1);
        storage
            .append_membership(team.team, contract::plain_append(1, &entry))
            .await
            .unwrap();
        assert_eq!(
            cache.get(&storage, team.team).await.unwrap().unwrap().len(),
            1
        );
        cache.invalidate_team(team.team);
        let log = cache.get(&storage, team.team).await.unwrap().unwrap();
        assert_eq!(log.len(), 2);
        assert!(
            log.invite_entry(&holdfast_protocol::InviteId([5; 16]))
                .is_some()
        );

        // A shorter log never replaces a longer one.
        let stale = TeamLog {
            state: Membership::new(team.team),
            entries: imbl::Vector::new(),
        };
        cache.put(team.team, stale);
        assert_eq!(
            cache.get(&storage, team.team).await.unwrap().unwrap().len(),
            2
        );
        storage.close().await.unwrap();
    }

    #[tokio::test]
    async fn an_appended_log_matches_a_fresh_fold_and_leaves_the_old_one_alone() {
        let dir = tempfile::tempdir().unwrap();
        let storage = SqliteStorage::open(dir.path().join("relay.db")).unwrap();
        let team = contract::new_team(&storage, 1).await;
        let mut log = fold(team.team, storage.membership(team.team, 0).await.unwrap()).unwrap();
        let mut logs = vec![log.clone()];
        // Past imbl's 64-entry leaves, so appends cross node boundaries.
        for n in 0..150u8 {
            let (entry, _) = contract::invite_entry(&team, n.wrapping_add(2), 1);
            storage
                .append_membership(team.team, contract::plain_append(log.len(), &entry))
                .await
                .unwrap();
            let mut state = log.state.clone();
            state.apply(&entry).unwrap();
            log = log.appended(state, LogEntry::new(&entry, None));
            logs.push(log.clone());
        }
        let stored = storage.membership(team.team, 0).await.unwrap();
        let fresh = fold(team.team, stored).unwrap();
        assert_eq!(fresh.entries, log.entries);
        assert_eq!(fresh.len(), 151);
        // Every earlier log is as it was: requests in flight keep the log they read.
        for (len, earlier) in logs.iter().enumerate() {
            assert_eq!(earlier.entries.len(), len + 1);
            assert_eq!(earlier.len(), u64::try_from(len + 1).unwrap());
            assert!(
                earlier
                    .entries
                    .iter()
                    .eq(fresh.entries.iter().take(len + 1))
            );
        }
        storage.close().await.unwrap();
    }

    #[tokio::test]
    async fn entries_expire_and_the_cache_stays_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let storage = SqliteStorage::open(dir.path().join("relay.db")).unwrap();
        let team = contract::new_team(&storage, 1).await;
        let clock = ManualClock::at(1_000_000);
        let cache = MembershipCache::with_bounds(ENTRY_TTL, 2, Arc::new(clock.clone()));
        for n in 10..20u8 {
            cache.get(&storage, TeamId([n; 16])).await.unwrap();
        }
        assert_eq!(cache.len(), 10, "absent teams, held apart");
        for n in 2..6u8 {
            contract::new_team(&storage, n).await;
            cache.get(&storage, TeamId([n; 16])).await.unwrap().unwrap();
            assert!(cache.teams.read().unwrap().len() <= 2);
        }
        assert_eq!(
            cache.get(&storage, team.team).await.unwrap().unwrap().len(),
            1
        );

        // Appended behind the cache's back: the cached log until it expires.
        let (entry, _) = contract::invite_entry(&team, 5, 1);
        storage
            .append_membership(team.team, contract::plain_append(1, &entry))
            .await
            .unwrap();
        clock.advance(ENTRY_TTL - Duration::from_millis(1));
        assert_eq!(
            cache.get(&storage, team.team).await.unwrap().unwrap().len(),
            1
        );
        clock.advance(Duration::from_millis(1));
        assert_eq!(
            cache.get(&storage, team.team).await.unwrap().unwrap().len(),
            2
        );

        // A wall clock set back makes the entry stale rather than trusted for longer.
        let (entry, _) = contract::invite_entry(&team, 6, 1);
        storage
            .append_membership(team.team, contract::plain_append(2, &entry))
            .await
            .unwrap();
        clock.set(1_000_000);
        assert_eq!(
            cache.get(&storage, team.team).await.unwrap().unwrap().len(),
            3
        );
        storage.close().await.unwrap();
    }

    /// Storage that counts membership reads per team, each taking `delay`.
    struct Counting {
        inner: SqliteStorage,
        delay: Duration,
        reads: Mutex<HashMap<TeamId, u32>>,
    }

    impl Counting {
        fn reads(&self, team: TeamId) -> u32 {
            self.reads.lock().unwrap().get(&team).copied().unwrap_or(0)
        }
    }

    impl Storage for Counting {
        async fn create_team(&self, team: storage::NewTeam) -> storage::Result<()> {
            self.inner.create_team(team).await
        }
        async fn append_membership(
            &self,
            team: TeamId,
            append: storage::MembershipAppend,
        ) -> storage::Result<u64> {
            self.inner.append_membership(team, append).await
        }
        async fn membership(
            &self,
            team: TeamId,
            from: u64,
        ) -> storage::Result<Vec<storage::MembershipEntry>> {
            *self.reads.lock().unwrap().entry(team).or_default() += 1;
            tokio::time::sleep(self.delay).await;
            self.inner.membership(team, from).await
        }
        async fn devices(&self, team: TeamId) -> storage::Result<Vec<storage::Device>> {
            self.inner.devices(team).await
        }
        async fn device_key(
            &self,
            device: holdfast_protocol::DeviceId,
        ) -> storage::Result<Option<storage::PublicKey>> {
            self.inner.device_key(device).await
        }
        async fn stage_bundles(
            &self,
            team: TeamId,
            staging: storage::Staging,
        ) -> storage::Result<u64> {
            self.inner.stage_bundles(team, staging).await
        }
        async fn staged_recipients(
            &self,
            team: TeamId,
            sender: holdfast_protocol::DeviceId,
            commitment: [u8; 32],
        ) -> storage::Result<Vec<[u8; 16]>> {
            self.inner.staged_recipients(team, sender, commitment).await
        }
        async fn forget_bundles(
            &self,
            team: TeamId,
            recipient: [u8; 16],
            up_to: u64,
        ) -> storage::Result<u64> {
            self.inner.forget_bundles(team, recipient, up_to).await
        }
        async fn put_private_notes_bundles(
            &self,
            team: TeamId,
            sender: holdfast_protocol::DeviceId,
            bundles: Vec<storage::NewBundle>,
        ) -> storage::Result<u64> {
            self.inner
                .put_private_notes_bundles(team, sender, bundles)
                .await
        }
        async fn bundles(
            &self,
            team: TeamId,
            request: storage::BundleRequest,
        ) -> storage::Result<storage::BundlePage> {
            self.inner.bundles(team, request).await
        }
        async fn push(
            &self,
            team: TeamId,
            envelopes: Vec<storage::NewEnvelope>,
            received_ms: u64,
        ) -> storage::Result<storage::PushReceipt> {
            self.inner.push(team, envelopes, received_ms).await
        }
        async fn pull(
            &self,
            team: TeamId,
            request: storage::PullRequest,
        ) -> storage::Result<storage::Page> {
            self.inner.pull(team, request).await
        }
        async fn head(&self, team: TeamId) -> storage::Result<Option<u64>> {
            self.inner.head(team).await
        }
        async fn document_head(
            &self,
            team: TeamId,
            document: holdfast_protocol::DocumentId,
        ) -> storage::Result<u64> {
            self.inner.document_head(team, document).await
        }
        async fn envelope_ids(
            &self,
            team: TeamId,
            seqs: Vec<u64>,
            document: Option<holdfast_protocol::DocumentId>,
            private_notes: storage::PrivateNotes,
        ) -> storage::Result<Vec<Option<holdfast_protocol::EnvelopeId>>> {
            self.inner
                .envelope_ids(team, seqs, document, private_notes)
                .await
        }
        async fn team(&self, team: TeamId) -> storage::Result<Option<storage::TeamInfo>> {
            self.inner.team(team).await
        }
        fn set_team_quota(&self, quota: storage::TeamQuota) {
            self.inner.set_team_quota(quota);
        }
        fn heads(&self) -> &storage::TeamHeads {
            self.inner.heads()
        }
        fn write_stats(&self) -> storage::WriteStats {
            self.inner.write_stats()
        }
        async fn check(&self) -> storage::Result<()> {
            self.inner.check().await
        }
        async fn close(&self) -> storage::Result<()> {
            self.inner.close().await
        }
    }

    async fn counting(delay: Duration) -> (tempfile::TempDir, Counting) {
        let dir = tempfile::tempdir().unwrap();
        let inner = SqliteStorage::open(dir.path().join("relay.db")).unwrap();
        let storage = Counting {
            inner,
            delay,
            reads: Mutex::new(HashMap::new()),
        };
        (dir, storage)
    }

    #[tokio::test]
    async fn concurrent_misses_for_one_team_wait_for_one_load() {
        let (_dir, storage) = counting(Duration::from_millis(50)).await;
        let team = contract::new_team(&storage, 1).await;
        let missing = TeamId([9; 16]);
        let cache = MembershipCache::new(Arc::new(ManualClock::at(1_000_000)));
        let asks = (0..20).map(|i| {
            let team = if i % 2 == 0 { team.team } else { missing };
            cache.get(&storage, team)
        });
        let answers = futures_util::future::join_all(asks).await;
        for (i, answer) in answers.into_iter().enumerate() {
            assert_eq!(answer.unwrap().is_some(), i % 2 == 0);
        }
        assert_eq!(
            storage.reads(team.team),
            1,
            "one load for ten concurrent misses"
        );
        assert_eq!(storage.reads(missing), 1, "a missing team too");
        assert_eq!(cache.loads(), 2);
        assert!(
            cache.loading.lock().unwrap().is_empty(),
            "no lock left behind"
        );
        storage.close().await.unwrap();
    }

    #[tokio::test]
    async fn lookups_of_teams_that_do_not_exist_never_push_out_a_real_one() {
        let (_dir, storage) = counting(Duration::ZERO).await;
        let real = contract::new_team(&storage, 1).await;
        let cache =
            MembershipCache::with_bounds(ENTRY_TTL, 2, Arc::new(ManualClock::at(1_000_000)));
        cache.get(&storage, real.team).await.unwrap().unwrap();
        for n in 0..100u32 {
            let mut id = [0xee; 16];
            id[..4].copy_from_slice(&n.to_be_bytes());
            assert!(cache.get(&storage, TeamId(id)).await.unwrap().is_none());
        }
        cache.get(&storage, real.team).await.unwrap().unwrap();
        assert_eq!(storage.reads(real.team), 1, "still cached");
        assert_eq!(cache.len(), 1 + 100);
        storage.close().await.unwrap();
    }
}
