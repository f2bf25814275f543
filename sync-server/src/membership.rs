//! An in-memory cache of each team's folded membership log, so "is this device an active
//! member of this team, with which role" costs a map lookup on the hot path instead of a
//! database read and a fold.
//!
//! A team's entry holds the log's entries (as stored, with their patient subject) and the
//! [`Membership`] they fold to. Appends made by this process replace the entry with the
//! state they computed, before the request is answered; entries also expire after a short
//! time, which bounds how stale an entry can be when another relay process (sharing a
//! PostgreSQL database) appended.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use holdfast_protocol::{Entry, InviteId, Membership, Op, SharedClock, TeamId};

use crate::storage::{self, Storage};

/// How long an entry is trusted without asking the database again.
pub const ENTRY_TTL: Duration = Duration::from_secs(30);
/// Teams kept at most; past this the cache starts afresh (a flood of unknown team ids
/// cannot grow it without bound).
pub const CAPACITY: usize = 10_000;

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
    /// The entries, in order (index = sequence number).
    pub entries: Vec<LogEntry>,
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
        let mut entries = Vec::with_capacity(self.entries.len().saturating_add(1));
        entries.extend_from_slice(&self.entries);
        entries.push(entry);
        TeamLog { state, entries }
    }
}

/// Cached team logs by team.
#[derive(Debug)]
pub struct MembershipCache {
    teams: RwLock<HashMap<TeamId, Cached>>,
    /// Bumped by every invalidation, so a load that raced with a change does not put the
    /// old answer back.
    generation: AtomicU64,
    ttl: Duration,
    capacity: usize,
    clock: SharedClock,
}

#[derive(Debug, Clone)]
struct Cached {
    log: Option<Arc<TeamLog>>,
    /// When it was read from storage, in ms since the epoch.
    fetched_ms: u64,
}

/// Folds stored entries; a log that does not fold is a damaged database.
pub fn fold(team: TeamId, rows: Vec<storage::MembershipEntry>) -> storage::Result<TeamLog> {
    let mut state = Membership::new(team);
    let mut entries = Vec::with_capacity(rows.len());
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
        entries.push(LogEntry::new(&entry, row.subject));
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
            generation: AtomicU64::new(0),
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

    /// The team's log, from the cache or from `storage`; `None` if the team does not exist.
    pub async fn get<S: Storage>(
        &self,
        storage: &S,
        team: TeamId,
    ) -> storage::Result<Option<Arc<TeamLog>>> {
        {
            let teams = self.teams.read().unwrap_or_else(PoisonError::into_inner);
            if let Some(cached) = teams.get(&team)
                && self.is_fresh(cached.fetched_ms)
            {
                return Ok(cached.log.clone());
            }
        }
        let generation = self.generation.load(Ordering::Acquire);
        let fetched_ms = self.clock.now_ms();
        let rows = storage.membership(team, 0).await?;
        let log = if rows.is_empty() {
            None
        } else {
            Some(Arc::new(fold(team, rows)?))
        };
        let mut teams = self.teams.write().unwrap_or_else(PoisonError::into_inner);
        if self.generation.load(Ordering::Acquire) == generation {
            if teams.len() >= self.capacity {
                teams.clear();
            }
            teams.insert(
                team,
                Cached {
                    log: log.clone(),
                    fetched_ms,
                },
            );
        }
        Ok(log)
    }

    /// Records the log after an append this process committed (unless a longer one is
    /// already cached).
    pub fn put(&self, team: TeamId, log: TeamLog) {
        let mut teams = self.teams.write().unwrap_or_else(PoisonError::into_inner);
        self.generation.fetch_add(1, Ordering::AcqRel);
        let longer = teams
            .get(&team)
            .and_then(|c| c.log.as_ref())
            .is_some_and(|cached| cached.len() > log.len());
        if !longer {
            if teams.len() >= self.capacity {
                teams.clear();
            }
            teams.insert(
                team,
                Cached {
                    log: Some(Arc::new(log)),
                    fetched_ms: self.clock.now_ms(),
                },
            );
        }
    }

    /// Forgets `team` (its log changed in a way this process did not see).
    pub fn invalidate_team(&self, team: TeamId) {
        let mut teams = self.teams.write().unwrap_or_else(PoisonError::into_inner);
        self.generation.fetch_add(1, Ordering::AcqRel);
        teams.remove(&team);
    }

    /// Teams held.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.teams
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

#[cfg(test)]
mod tests {
    use holdfast_protocol::ManualClock;

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
            entries: Vec::new(),
        };
        cache.put(team.team, stale);
        assert_eq!(
            cache.get(&storage, team.team).await.unwrap().unwrap().len(),
            2
        );
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
            assert!(cache.len() <= 2);
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
}
