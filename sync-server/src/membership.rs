//! An in-memory cache of roster entries, so checking "is this device an active member of
//! this team" costs a hash lookup on the hot path instead of a database read.
//!
//! Entries (including "not a member") are invalidated whenever this process changes a
//! roster, and expire after a short time anyway, which bounds how stale an entry can be
//! when another relay process (sharing a PostgreSQL database) made the change.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{PoisonError, RwLock};
use std::time::{Duration, Instant};

use holdfast_protocol::{DeviceId, TeamId};

use crate::storage::{self, Device, Storage};

/// How long an entry is trusted without asking the database again.
pub const ENTRY_TTL: Duration = Duration::from_secs(30);
/// Entries kept at most; past this the cache starts afresh (a flood of unknown devices
/// cannot grow it without bound).
pub const CAPACITY: usize = 100_000;

/// Cached roster entries by (team, device).
#[derive(Debug)]
pub struct MembershipCache {
    entries: RwLock<HashMap<(TeamId, DeviceId), Entry>>,
    /// Bumped by every invalidation, so a lookup that raced with a change does not put
    /// the old answer back.
    generation: AtomicU64,
    ttl: Duration,
    capacity: usize,
}

#[derive(Debug, Clone)]
struct Entry {
    device: Option<Device>,
    fetched: Instant,
}

impl Default for MembershipCache {
    fn default() -> Self {
        Self::new(ENTRY_TTL, CAPACITY)
    }
}

impl MembershipCache {
    /// A cache whose entries live `ttl`, holding at most `capacity`.
    pub fn new(ttl: Duration, capacity: usize) -> Self {
        MembershipCache {
            entries: RwLock::new(HashMap::new()),
            generation: AtomicU64::new(0),
            ttl,
            capacity: capacity.max(1),
        }
    }

    /// The device's roster entry in the team, from the cache or from `storage`.
    pub async fn get<S: Storage>(
        &self,
        storage: &S,
        team: TeamId,
        device: DeviceId,
    ) -> storage::Result<Option<Device>> {
        {
            let entries = self.entries.read().unwrap_or_else(PoisonError::into_inner);
            if let Some(entry) = entries.get(&(team, device))
                && entry.fetched.elapsed() < self.ttl
            {
                return Ok(entry.device.clone());
            }
        }
        let generation = self.generation.load(Ordering::Acquire);
        let fetched = Instant::now();
        let found = storage.device(team, device).await?;
        let mut entries = self.entries.write().unwrap_or_else(PoisonError::into_inner);
        if self.generation.load(Ordering::Acquire) == generation {
            if entries.len() >= self.capacity {
                entries.clear();
            }
            entries.insert(
                (team, device),
                Entry {
                    device: found.clone(),
                    fetched,
                },
            );
        }
        Ok(found)
    }

    /// Forgets every entry of `team` (call after changing its roster).
    pub fn invalidate_team(&self, team: TeamId) {
        let mut entries = self.entries.write().unwrap_or_else(PoisonError::into_inner);
        self.generation.fetch_add(1, Ordering::AcqRel);
        entries.retain(|(t, _), _| *t != team);
    }

    /// Entries held.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::contract;
    use crate::storage::{NewDevice, Role, SqliteStorage};

    #[tokio::test]
    async fn caches_answers_and_forgets_them_when_the_roster_changes() {
        let dir = tempfile::tempdir().unwrap();
        let storage = SqliteStorage::open(dir.path().join("relay.db")).unwrap();
        let team = contract::new_team(&storage, 1).await;
        let cache = MembershipCache::default();
        let (member, key) = contract::device(2);

        assert_eq!(cache.get(&storage, team.team, member).await.unwrap(), None);
        storage
            .add_device(
                team.team,
                NewDevice {
                    device: member,
                    public_key: key.public_key(),
                    role: Role::Member,
                    added_by: team.admin,
                    at_ms: 1,
                },
            )
            .await
            .unwrap();
        // Still the cached "not a member" until invalidated.
        assert_eq!(cache.get(&storage, team.team, member).await.unwrap(), None);
        cache.invalidate_team(team.team);
        let entry = cache
            .get(&storage, team.team, member)
            .await
            .unwrap()
            .unwrap();
        assert!(entry.is_active());
        assert_eq!(cache.len(), 1);
        storage.close().await.unwrap();
    }

    #[tokio::test]
    async fn entries_expire_and_the_cache_stays_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let storage = SqliteStorage::open(dir.path().join("relay.db")).unwrap();
        let team = contract::new_team(&storage, 1).await;
        let cache = MembershipCache::new(Duration::ZERO, 2);
        for n in 10..20u8 {
            cache
                .get(&storage, team.team, DeviceId([n; 16]))
                .await
                .unwrap();
            assert!(cache.len() <= 2);
        }
        // A zero TTL reads the database every time: the admin is always found.
        assert!(
            cache
                .get(&storage, team.team, team.admin)
                .await
                .unwrap()
                .is_some()
        );
        storage.close().await.unwrap();
    }
}
