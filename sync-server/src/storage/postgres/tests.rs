//! The storage contract on PostgreSQL, each check in a schema of its own, and what only
//! several relays on one database can show.

use super::*;
use crate::storage::contract::Backend;
use crate::testing::postgres::TestSchema;

/// A fresh schema; reopening connects to the same one.
struct TempPg {
    schema: TestSchema,
}

impl TempPg {
    fn new() -> Self {
        TempPg {
            schema: TestSchema::new(),
        }
    }
}

/// Small pools: the suite runs two checks at once per core.
const TEST_POOL: PgOptions = PgOptions { pool_size: 4 };

impl Backend for TempPg {
    type Storage = PgStorage;

    async fn open(&mut self) -> PgStorage {
        PgStorage::connect(self.schema.config(), TEST_POOL)
            .await
            .unwrap()
    }

    async fn reopen(&mut self, storage: PgStorage) -> PgStorage {
        storage.close().await.unwrap();
        drop(storage);
        self.open().await
    }
}

// Every check of the storage contract, one test each.
crate::storage_contract_tests!(TempPg::new());

use std::collections::BTreeSet;
use std::time::Duration;

use holdfast_protocol::Kind;

use crate::storage::contract::{self, RECEIVED_MS};

/// Two relays' storage on one schema, as two processes sharing a database would have.
async fn two_relays(schema: &TestSchema, pool_size: usize) -> (PgStorage, PgStorage) {
    let options = PgOptions { pool_size };
    let (a, b) = tokio::join!(
        PgStorage::connect(schema.config(), options),
        PgStorage::connect(schema.config(), options),
    );
    (a.unwrap(), b.unwrap())
}

/// A connection to the schema, for looking behind the backend's back.
async fn raw(schema: &TestSchema) -> tokio_postgres::Client {
    let (client, connection) = schema
        .config()
        .connect(tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    client
}

async fn changed(watch: &mut tokio::sync::watch::Receiver<u64>, want: u64, within: Duration) {
    tokio::time::timeout(within, watch.wait_for(|head| *head >= want))
        .await
        .unwrap_or_else(|_| panic!("head {want} not published within {within:?}"))
        .unwrap();
}

/// Many tasks push to one team through two relays at once while a device pulls through
/// one of them, moving its cursor only to the end of each page it gets: every sequence
/// number from 1 to N is given out exactly once, and the puller sees every one of them in
/// order, never a number before a lower one is visible (which would make it skip that one).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_relays_pushing_at_once_give_every_number_once_and_a_puller_skips_none() {
    const TASKS: u64 = 8;
    const PUSHES: u64 = 25;
    const PER_PUSH: u64 = 4;
    let schema = TestSchema::new();
    let (a, b) = two_relays(&schema, 6).await;
    let (a, b) = (Arc::new(a), Arc::new(b));
    let team = contract::new_team(&*a, 1).await;
    let doc = DocumentId([0xd0; 16]);

    let mut pushers = Vec::new();
    for task in 0..TASKS {
        let relay = Arc::clone(if task % 2 == 0 { &a } else { &b });
        let team = team.clone();
        pushers.push(tokio::spawn(async move {
            let mut got = Vec::new();
            for push in 0..PUSHES {
                let salt = (task * PUSHES + push) * PER_PUSH;
                let mut batch: Vec<NewEnvelope> = (0..PER_PUSH)
                    .map(|i| {
                        contract::envelope(
                            team.team,
                            team.admin,
                            doc,
                            Kind::ChangeBatch,
                            0,
                            salt + i,
                        )
                    })
                    .collect();
                // Every other push also repeats an envelope another task pushed.
                if push % 2 == 1 && salt >= PER_PUSH {
                    batch.push(contract::envelope(
                        team.team,
                        team.admin,
                        doc,
                        Kind::ChangeBatch,
                        0,
                        salt - PER_PUSH,
                    ));
                }
                let pushed = relay.push(team.team, batch, RECEIVED_MS).await.unwrap();
                got.extend(
                    pushed
                        .envelopes
                        .iter()
                        .filter(|p| !p.duplicate)
                        .map(|p| p.seq),
                );
            }
            got
        }));
    }

    let total = TASKS * PUSHES * PER_PUSH;
    let puller = {
        let relay = Arc::clone(&b);
        let team = team.team;
        tokio::spawn(async move {
            let mut cursor = 0;
            let mut seen = Vec::new();
            while cursor < total {
                let page = relay
                    .pull(
                        team,
                        PullRequest {
                            after: cursor,
                            limit: 7,
                            max_bytes: usize::MAX,
                            compact: false,
                            document: None,
                            private_notes: crate::storage::PrivateNotes::All,
                        },
                    )
                    .await
                    .unwrap();
                for (seq, _) in &page.envelopes {
                    // Not filtered: a page holds every number after the cursor, in order.
                    assert_eq!(*seq, cursor + 1, "the puller would skip {}", cursor + 1);
                    cursor = *seq;
                    seen.push(*seq);
                }
                assert_eq!(page.next, cursor);
                if page.envelopes.is_empty() {
                    tokio::task::yield_now().await;
                }
            }
            seen
        })
    };

    let mut given: BTreeSet<u64> = BTreeSet::new();
    for pusher in pushers {
        for seq in pusher.await.unwrap() {
            assert!(given.insert(seq), "sequence number {seq} given out twice");
        }
    }
    assert_eq!(given, (1..=total).collect::<BTreeSet<_>>());
    let seen = tokio::time::timeout(Duration::from_secs(60), puller)
        .await
        .expect("the puller reaches the head")
        .unwrap();
    assert_eq!(seen, (1..=total).collect::<Vec<_>>());
    assert_eq!(a.head(team.team).await.unwrap(), Some(total));
    assert_eq!(b.head(team.team).await.unwrap(), Some(total));
    a.close().await.unwrap();
    b.close().await.unwrap();
}

/// A commit through one relay wakes the watchers of the team on another (LISTEN/NOTIFY),
/// and only the team's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_through_one_relay_is_published_on_the_other() {
    let schema = TestSchema::new();
    let (a, b) = two_relays(&schema, 2).await;
    let team = contract::new_team(&a, 1).await;
    let other = contract::new_team(&a, 2).await;
    let mut watch = b.heads().subscribe(team.team);
    let other_watch = b.heads().subscribe(other.team);
    let batch = (0..3)
        .map(|salt| {
            contract::envelope(
                team.team,
                team.admin,
                DocumentId([1; 16]),
                Kind::ChangeBatch,
                0,
                salt,
            )
        })
        .collect();
    a.push(team.team, batch, RECEIVED_MS).await.unwrap();
    changed(&mut watch, 3, Duration::from_secs(5)).await;
    assert_eq!(*watch.borrow_and_update(), 3);
    assert!(!other_watch.has_changed().unwrap());

    // Another schema on the same database (another deployment) is not this one's news.
    let elsewhere_schema = TestSchema::new();
    let elsewhere = PgStorage::connect(elsewhere_schema.config(), TEST_POOL)
        .await
        .unwrap();
    let theirs = contract::new_team(&elsewhere, 1).await;
    let batch = (10..15)
        .map(|salt| {
            contract::envelope(
                theirs.team,
                theirs.admin,
                DocumentId([1; 16]),
                Kind::ChangeBatch,
                0,
                salt,
            )
        })
        .collect();
    elsewhere
        .push(theirs.team, batch, RECEIVED_MS)
        .await
        .unwrap();
    // Give a stray notification time to arrive, then make sure none did.
    let one_more = vec![contract::envelope(
        team.team,
        team.admin,
        DocumentId([1; 16]),
        Kind::ChangeBatch,
        0,
        99,
    )];
    a.push(team.team, one_more, RECEIVED_MS).await.unwrap();
    changed(&mut watch, 4, Duration::from_secs(5)).await;
    assert_eq!(
        *watch.borrow_and_update(),
        4,
        "not 5: that was another schema"
    );
    for storage in [a, b, elsewhere] {
        storage.close().await.unwrap();
    }
}

/// When a relay's listening connection is cut, it reconnects and publishes the head of
/// every watched team, so a commit made while it was not listening still reaches its
/// watchers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_listener_reconnects_and_publishes_what_it_missed() {
    let schema = TestSchema::new();
    let (a, b) = two_relays(&schema, 2).await;
    let team = contract::new_team(&a, 1).await;
    let mut watch = b.heads().subscribe(team.team);
    let admin = raw(&schema).await;
    let cut = admin
        .query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
            &[&listener::application_name(schema.name())],
        )
        .await
        .unwrap();
    assert_eq!(cut.len(), 2, "both relays' listeners were cut");
    let batch = (0..2)
        .map(|salt| {
            contract::envelope(
                team.team,
                team.admin,
                DocumentId([1; 16]),
                Kind::ChangeBatch,
                0,
                salt,
            )
        })
        .collect();
    a.push(team.team, batch, RECEIVED_MS).await.unwrap();
    changed(&mut watch, 2, Duration::from_secs(30)).await;
    // Listening again: the next commit is announced as usual.
    let more = vec![contract::envelope(
        team.team,
        team.admin,
        DocumentId([1; 16]),
        Kind::ChangeBatch,
        0,
        7,
    )];
    a.push(team.team, more, RECEIVED_MS).await.unwrap();
    changed(&mut watch, 3, Duration::from_secs(5)).await;
    // Both relays listen again. Relay a's listener reconnects on its own schedule: nothing
    // above waited for it (b's watch saw b's), so wait here, up to as long as b was given.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let listening: i64 = admin
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1",
                &[&listener::application_name(schema.name())],
            )
            .await
            .unwrap()
            .get(0);
        if listening == 2 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{listening} listeners, not 2, 30 s after b's was back"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    a.close().await.unwrap();
    b.close().await.unwrap();
}

async fn versions(client: &tokio_postgres::Client) -> Vec<i32> {
    client
        .query("SELECT version FROM holdfast_schema ORDER BY version", &[])
        .await
        .unwrap()
        .iter()
        .map(|row| row.get::<_, i32>(0))
        .collect()
}

/// Relays starting at once on a new database migrate it once; starting again changes
/// nothing; a database from a newer relay is refused untouched.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relays_starting_at_once_migrate_once_and_a_newer_schema_is_refused() {
    let schema = TestSchema::new();
    let options = PgOptions { pool_size: 1 };
    let (a, b, c) = tokio::join!(
        PgStorage::connect(schema.config(), options),
        PgStorage::connect(schema.config(), options),
        PgStorage::connect(schema.config(), options),
    );
    let (a, b, c) = (a.unwrap(), b.unwrap(), c.unwrap());
    let admin = raw(&schema).await;
    assert_eq!(
        versions(&admin).await,
        (1..=schema::VERSION).collect::<Vec<_>>()
    );
    assert_eq!(schema::version(&admin).await.unwrap(), schema::VERSION);
    // What one wrote, the others read.
    let team = contract::new_team(&a, 1).await;
    assert_eq!(b.head(team.team).await.unwrap(), Some(0));
    assert!(matches!(
        c.create_team(team.clone()).await,
        Err(Error::TeamExists(_))
    ));
    for storage in [a, b, c] {
        storage.close().await.unwrap();
    }
    let again = PgStorage::connect(schema.config(), options).await.unwrap();
    again.close().await.unwrap();
    assert_eq!(versions(&admin).await.len(), schema::VERSION as usize);

    admin
        .execute(
            "INSERT INTO holdfast_schema (version) VALUES ($1)",
            &[&(schema::VERSION + 1)],
        )
        .await
        .unwrap();
    let newer = PgStorage::connect(schema.config(), options).await;
    let err = newer.map(drop).unwrap_err().to_string();
    assert!(err.contains("newer"), "{err}");
    assert_eq!(
        schema::version(&admin).await.unwrap(),
        schema::VERSION + 1,
        "untouched"
    );
}

/// Values the backend cannot have written (ids of the wrong length, an epoch past u32) are errors, not panics.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_stored_values_are_errors_not_panics() {
    let schema = TestSchema::new();
    let storage = PgStorage::connect(schema.config(), TEST_POOL)
        .await
        .unwrap();
    let team = contract::new_team(&storage, 1).await;
    let admin = raw(&schema).await;
    admin
        .batch_execute(
            "UPDATE teams SET epoch = 4294967296;
             UPDATE devices SET added_by = '\\x01';
             UPDATE membership SET subject = '\\x0102'",
        )
        .await
        .unwrap();
    assert!(matches!(
        storage.team(team.team).await,
        Err(Error::Backend(_))
    ));
    assert!(matches!(
        storage.devices(team.team).await,
        Err(Error::Backend(_))
    ));
    assert!(matches!(
        storage.membership(team.team, 0).await,
        Err(Error::Backend(_))
    ));
    storage.close().await.unwrap();
}

/// Relays starting at once on a new database agree on one token key; a login challenge
/// recorded through one is taken through another once, only within its lifetime by the
/// database's clock; one the issuing relay replaced is gone; expired ones are purged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relays_share_one_token_key_and_take_each_challenge_once_within_its_lifetime() {
    let schema = TestSchema::new();
    let (a, b) = two_relays(&schema, 2).await;
    let (key_a, key_b) = tokio::join!(a.shared_token_key([1; 32]), b.shared_token_key([2; 32]));
    let (key_a, key_b) = (key_a.unwrap().unwrap(), key_b.unwrap().unwrap());
    assert_eq!(key_a, key_b);
    assert!(key_a == [1; 32] || key_a == [2; 32]);
    assert_eq!(a.shared_token_key([3; 32]).await.unwrap(), Some(key_a));

    let (ada, bob) = (DeviceId([0xad; 16]), DeviceId([0xb0; 16]));
    const LIFE: u64 = 60_000;
    a.record_challenge([1; 32], ada, None, LIFE).await.unwrap();
    assert_eq!(b.take_challenge([1; 32], LIFE).await.unwrap(), Some(ada));
    assert_eq!(a.take_challenge([1; 32], LIFE).await.unwrap(), None);
    assert_eq!(b.take_challenge([1; 32], LIFE).await.unwrap(), None);

    // Expired (a lifetime of 0 ms): refused, and used up by the try.
    a.record_challenge([2; 32], bob, None, LIFE).await.unwrap();
    assert_eq!(b.take_challenge([2; 32], 0).await.unwrap(), None);
    assert_eq!(b.take_challenge([2; 32], LIFE).await.unwrap(), None);

    // Replaced in the issuing relay's table: gone from the database too.
    a.record_challenge([3; 32], ada, None, LIFE).await.unwrap();
    a.record_challenge([4; 32], ada, Some([3; 32]), LIFE)
        .await
        .unwrap();
    assert_eq!(b.take_challenge([3; 32], LIFE).await.unwrap(), None);
    assert_eq!(b.take_challenge([4; 32], LIFE).await.unwrap(), Some(ada));

    // Recording purges what has outlived the lifetime it is given.
    a.record_challenge([5; 32], ada, None, LIFE).await.unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    b.record_challenge([6; 32], bob, None, 10).await.unwrap();
    let left: Vec<Vec<u8>> = raw(&schema)
        .await
        .query("SELECT challenge FROM login_challenges", &[])
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(left, [vec![6u8; 32]]);
    for storage in [a, b] {
        storage.close().await.unwrap();
    }
}

/// A database of schema 1 holding a team and its envelopes migrates to the current
/// schema with its data intact, and gains a token key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schema_1_database_with_data_migrates_and_keeps_it() {
    let schema = TestSchema::new();
    let options = PgOptions { pool_size: 1 };
    let storage = PgStorage::connect(schema.config(), options).await.unwrap();
    let team = contract::new_team(&storage, 1).await;
    let pushed = storage
        .push(
            team.team,
            (1..=2)
                .map(|salt| {
                    contract::envelope(
                        team.team,
                        team.admin,
                        DocumentId([9; 16]),
                        Kind::ChangeBatch,
                        0,
                        salt,
                    )
                })
                .collect(),
            RECEIVED_MS,
        )
        .await
        .unwrap();
    storage.close().await.unwrap();
    // Back to what a relay of schema 1 left.
    let admin = raw(&schema).await;
    admin
        .batch_execute(
            "DROP TABLE relay_secrets, login_challenges;
             ALTER TABLE envelopes DROP COLUMN private_to;
             ALTER TABLE key_bundles DROP COLUMN private_notes;
             DELETE FROM holdfast_schema WHERE version > 1",
        )
        .await
        .unwrap();
    assert_eq!(versions(&admin).await, [1]);

    let storage = PgStorage::connect(schema.config(), options).await.unwrap();
    assert_eq!(
        versions(&admin).await,
        (1..=schema::VERSION).collect::<Vec<_>>()
    );
    assert_eq!(storage.head(team.team).await.unwrap(), Some(pushed.head));
    assert!(storage.shared_token_key([7; 32]).await.unwrap().is_some());
    storage.close().await.unwrap();
}
