//! A test device: an encrypted store of its own in a temporary folder, an in-memory key
//! store and a sync client, on the system clock or a test's; and teams made of them.

use std::path::Path;
use std::sync::MutexGuard;
use std::time::Duration;

use holdfast_core::crypto::DEVICE_KEY_NAME;
use holdfast_core::model::ids::DeviceId;
use holdfast_core::sync::{RetryPolicy, Role, SyncReport};
use holdfast_core::{
    KeyStore, MemoryKeyStore, SharedStore, Store, StoreConfig, SyncClient, SyncConfig, TeamId,
};
use holdfast_protocol::{DeviceSigningKey, SharedClock, system_clock};
use tokio::sync::broadcast::error::RecvError;

/// How long [`Device::wait_until`] waits before failing the test: an upper bound only, it
/// returns as soon as the condition holds.
const WAIT_LIMIT: Duration = Duration::from_secs(20);

/// A device: its own encrypted store (created from nothing, as on a new phone), a key
/// store, a sync client.
#[derive(Debug)]
pub struct Device {
    /// The device's key store (it holds the device key).
    pub keys: MemoryKeyStore,
    /// The store, shared with the sync client.
    pub store: SharedStore,
    /// The sync client.
    pub client: SyncClient,
    /// The folder holding the database. Last: removed after the store is closed.
    pub dir: tempfile::TempDir,
}

/// Sync settings for tests: quick retries (20 ms, at most 200 ms apart, three attempts)
/// so that a relay that is down is reported in a fraction of a second.
pub fn quick_retries() -> SyncConfig {
    SyncConfig {
        retry: RetryPolicy {
            base: Duration::from_millis(20),
            max_delay: Duration::from_millis(200),
            attempts: 3,
        },
        request_timeout: Duration::from_secs(10),
        ..SyncConfig::default()
    }
}

impl Device {
    /// A device of `person` with [`quick_retries`], on the system clock.
    pub fn new(person: &str) -> Device {
        Self::open(person, quick_retries(), system_clock())
    }

    /// A device of `person` syncing with `config`, on the system clock.
    pub fn with_config(person: &str, config: SyncConfig) -> Device {
        Self::open(person, config, system_clock())
    }

    /// A device of `person` with [`quick_retries`], reading the time from `clock` (share
    /// one `ManualClock` with the relay and move it instead of sleeping).
    pub fn with_clock(person: &str, clock: SharedClock) -> Device {
        Self::open(person, quick_retries(), clock)
    }

    /// A device of `person` with [`quick_retries`], its store in a new folder inside
    /// `parent` (a small file system of the test's own, say), removed when it is dropped.
    pub fn in_dir(person: &str, parent: &Path) -> Device {
        let dir = tempfile::tempdir_in(parent).expect("a folder for the device");
        Self::open_in(dir, person, quick_retries(), system_clock())
    }

    /// Closes the store and opens it again from its folder with the same keys, as an app
    /// started again would, with `adjust` applied to its configuration first (a lower
    /// `compact_after`, say). Panics if it does not open.
    pub fn reopen_with(self, adjust: impl FnOnce(&mut StoreConfig)) -> Device {
        let Device {
            keys,
            store,
            client,
            dir,
        } = self;
        let mut config = store.lock().expect("the store's lock").config().clone();
        // The client holds the other handle on the store: both go, and the store with them.
        drop(client);
        drop(store);
        adjust(&mut config);
        let store = Store::open(&config, &keys).expect("the store opens again");
        let store = SharedStore::new(store);
        let client = SyncClient::new(store.clone(), quick_retries()).expect("a sync client");
        Device {
            keys,
            store,
            client,
            dir,
        }
    }

    /// [`Device::reopen_with`] with the same configuration.
    pub fn reopen(self) -> Device {
        self.reopen_with(|_| {})
    }

    fn open(person: &str, config: SyncConfig, clock: SharedClock) -> Device {
        let dir = tempfile::tempdir().expect("a temporary folder for the device");
        Self::open_in(dir, person, config, clock)
    }

    fn open_in(
        dir: tempfile::TempDir,
        person: &str,
        config: SyncConfig,
        clock: SharedClock,
    ) -> Device {
        let keys = MemoryKeyStore::default();
        let store_config = StoreConfig::new(dir.path(), person).with_clock(clock);
        let store = Store::create(&store_config, &keys).expect("a new store");
        let store = SharedStore::new(store);
        let client = SyncClient::new(store.clone(), config).expect("a sync client");
        Device {
            keys,
            store,
            client,
            dir,
        }
    }

    /// The store, locked.
    pub fn s(&self) -> MutexGuard<'_, Store> {
        self.store.lock().expect("the store's lock")
    }

    /// The device's id.
    pub fn id(&self) -> DeviceId {
        self.s().author().device
    }

    /// The device's public signing key.
    pub fn public_key(&self) -> [u8; 32] {
        self.s().device_public_key()
    }

    /// The device's signing key, to sign what its sync client never would.
    pub fn signer(&self) -> DeviceSigningKey {
        let seed = self
            .keys
            .get(DEVICE_KEY_NAME)
            .expect("the key store")
            .expect("a device key");
        DeviceSigningKey::from_seed(seed.as_slice().try_into().expect("a 32-byte seed"))
            .expect("a signing key")
    }

    /// Milliseconds since the epoch by the device's clock.
    pub fn now_ms(&self) -> u64 {
        self.s().clock().now_ms()
    }

    /// One full sync of `team`, which must succeed.
    pub async fn sync(&self, team: TeamId) -> SyncReport {
        self.client.sync(team).await.expect("sync")
    }

    /// Creates a team at `url` with this device as its admin, registered at the relay.
    pub async fn create_team(&self, url: &str) -> TeamId {
        let team = self.s().create_team(url).expect("a new team");
        self.client.register_team(team).await.expect("registered");
        team
    }

    /// Enrols `member` into `team` with `role`, as enrolment in person does: this device
    /// makes a one-time invite, the member redeems it (which runs its first sync). Returns
    /// that first sync's report.
    pub async fn enrol(&self, team: TeamId, member: &Device, role: Role) -> SyncReport {
        let code = self
            .client
            .create_invite(team, role, None, 60_000)
            .await
            .expect("an invite");
        let enrolled = member
            .client
            .redeem_invite(&member.keys, &code)
            .await
            .expect("the invite redeemed");
        assert_eq!((enrolled.team, enrolled.role), (team, role));
        enrolled.first_sync.expect("the first sync")
    }

    /// Waits until `check` holds for the store. It is checked now and again whenever the
    /// store reports a change (`Store::subscribe`: pulled or local edits, sync status), so
    /// it returns as soon as that happens; after 20 s the test fails, saying `what` it
    /// waited for.
    pub async fn wait_until(&self, what: &str, mut check: impl FnMut(&mut Store) -> bool) {
        // Subscribed before the first check: a change between the two is not missed.
        let mut events = self.s().subscribe();
        let deadline = tokio::time::Instant::now() + WAIT_LIMIT;
        while !check(&mut self.s()) {
            match tokio::time::timeout_at(deadline, events.recv()).await {
                // Lagged: events were missed, so check again, as for any event.
                Ok(Ok(_) | Err(RecvError::Lagged(_))) => {}
                Ok(Err(RecvError::Closed)) => panic!("the store closed before {what}"),
                Err(_) => panic!("timed out after {WAIT_LIMIT:?} waiting for {what}"),
            }
        }
    }
}

/// A team at `url`: `admin` creates and registers it, and enrols each of `members` as a
/// link worker.
pub async fn team_of(url: &str, admin: &Device, members: &[&Device]) -> TeamId {
    let team = admin.create_team(url).await;
    for member in members {
        admin.enrol(team, member, Role::LinkWorker).await;
    }
    team
}
