//! The contract every [`Storage`] backend must pass: one shared suite, run against each
//! backend (the SQLite backend runs it in its unit tests; another crate enables the
//! `contract-tests` feature and implements [`Backend`] for its own).
//!
//! Each check is a `pub async fn` taking a [`Backend`], so a backend's test module can
//! give every check its own `#[tokio::test]` (clear failures), or call [`run_all`].
//! Checks panic with a message on failure, as tests do. Use a multi-threaded runtime:
//! [`concurrent_pushes_get_distinct_gap_free_sequence_numbers`] pushes from several tasks.

use std::collections::BTreeSet;
use std::future::Future;
use std::sync::Arc;

use holdfast_protocol::{
    DeviceId, DeviceSigningKey, DocumentId, DocumentKey, EnvelopeRef, Header, Kind, TeamId, seal,
};

use super::{Bytes, Error, NewDevice, NewEnvelope, NewTeam, PullRequest, Role, Storage};

/// Opens storage for the contract: each call to [`open`](Self::open) gives an empty
/// store, and [`reopen`](Self::reopen) closes one and opens the same data again.
pub trait Backend: Send {
    /// The backend under test.
    type Storage: Storage;

    /// A new, empty store.
    fn open(&mut self) -> impl Future<Output = Self::Storage> + Send;

    /// Closes `storage` (as a relay shutting down would) and opens the same data again.
    fn reopen(&mut self, storage: Self::Storage) -> impl Future<Output = Self::Storage> + Send;
}

/// Runs every check, each on a fresh store.
pub async fn run_all<B: Backend>(backend: &mut B) {
    team_creation_and_roster(backend).await;
    device_key_is_one_per_device(backend).await;
    revocation_keeps_the_roster_entry_and_one_admin(backend).await;
    push_is_idempotent_by_id(backend).await;
    sequence_numbers_are_per_team_and_gap_free(backend).await;
    pull_pages_by_count_and_bytes(backend).await;
    compact_pull_leaves_out_what_snapshots_cover(backend).await;
    concurrent_pushes_get_distinct_gap_free_sequence_numbers(backend).await;
    writes_survive_reopen(backend).await;
    heads_are_published_after_commit(backend).await;
    closed_storage_refuses_work(backend).await;
}

/// A deterministic device: id and signing key from one byte.
pub fn device(n: u8) -> (DeviceId, DeviceSigningKey) {
    let key = DeviceSigningKey::from_seed([n; 32]).expect("any seed is a key");
    (DeviceId([n; 16]), key)
}

/// Creates team `[n; 16]` with device `n` as its admin and returns what was created.
pub async fn new_team<S: Storage>(storage: &S, n: u8) -> NewTeam {
    let (admin, key) = device(n);
    let team = NewTeam {
        team: TeamId([n; 16]),
        admin,
        public_key: key.public_key(),
        at_ms: 1_000 + u64::from(n),
    };
    storage
        .create_team(team.clone())
        .await
        .expect("create a team");
    team
}

/// A real, sealed envelope (distinct for each `salt`), ready to push.
pub fn envelope(
    team: TeamId,
    author: DeviceId,
    document: DocumentId,
    kind: Kind,
    covers: u64,
    salt: u64,
) -> NewEnvelope {
    let signer = DeviceSigningKey::from_seed(author.0.repeat(2).try_into().expect("32 bytes"))
        .expect("any seed is a key");
    let mut nonce = [0u8; 12];
    nonce[4..].copy_from_slice(&salt.to_be_bytes());
    let header = Header {
        kind,
        team,
        document,
        epoch: 1,
        author,
        covers,
        nonce,
    };
    let plaintext = format!("contract envelope {salt}");
    let bytes = seal(
        &header,
        &DocumentKey::from_bytes([7; 32]),
        plaintext.as_bytes(),
        &signer,
    )
    .expect("seal");
    NewEnvelope::decode(Bytes::from(bytes)).expect("a sealed envelope decodes")
}

/// `count` change batches for one document, salted from `salt` on.
fn changes(team: &NewTeam, document: DocumentId, salt: u64, count: u64) -> Vec<NewEnvelope> {
    (0..count)
        .map(|i| {
            envelope(
                team.team,
                team.admin,
                document,
                Kind::ChangeBatch,
                0,
                salt + i,
            )
        })
        .collect()
}

fn seqs(pushed: &super::PushReceipt) -> Vec<(u64, bool)> {
    pushed
        .envelopes
        .iter()
        .map(|p| (p.seq, p.duplicate))
        .collect()
}

fn everything() -> PullRequest {
    PullRequest {
        after: 0,
        limit: 100_000,
        max_bytes: usize::MAX,
        compact: false,
    }
}

/// Creating a team makes its creator an admin; the roster answers for members, unknown
/// devices and devices of other teams.
pub async fn team_creation_and_roster<B: Backend>(backend: &mut B) {
    let storage = backend.open().await;
    let team = new_team(&storage, 1).await;
    assert!(matches!(
        storage.create_team(team.clone()).await,
        Err(Error::TeamExists(t)) if t == team.team
    ));
    let admin = storage
        .device(team.team, team.admin)
        .await
        .unwrap()
        .expect("the creator is on the roster");
    assert_eq!(admin.role, Role::Admin);
    assert_eq!(admin.public_key, team.public_key);
    assert_eq!(admin.added_by, team.admin);
    assert_eq!(admin.added_at_ms, team.at_ms);
    assert!(admin.is_active());
    assert_eq!(storage.head(team.team).await.unwrap(), Some(0));

    let (member, member_key) = device(2);
    let added = storage
        .add_device(
            team.team,
            NewDevice {
                device: member,
                public_key: member_key.public_key(),
                role: Role::Member,
                added_by: team.admin,
                at_ms: 5_000,
            },
        )
        .await
        .unwrap();
    assert_eq!(added.role, Role::Member);
    assert_eq!(
        storage.device(team.team, member).await.unwrap(),
        Some(added.clone())
    );
    let again = storage
        .add_device(
            team.team,
            NewDevice {
                device: member,
                public_key: member_key.public_key(),
                role: Role::Admin,
                added_by: team.admin,
                at_ms: 6_000,
            },
        )
        .await;
    assert!(
        matches!(again, Err(Error::DeviceExists { .. })),
        "{again:?}"
    );
    let roster = storage.devices(team.team).await.unwrap();
    assert_eq!(roster, vec![admin.clone(), added]);

    // Unknown device, unknown team, and a member asked about in another team.
    let other = new_team(&storage, 3).await;
    assert_eq!(
        storage.device(team.team, DeviceId([9; 16])).await.unwrap(),
        None
    );
    assert_eq!(storage.device(other.team, member).await.unwrap(), None);
    assert_eq!(
        storage.device(TeamId([9; 16]), team.admin).await.unwrap(),
        None
    );
    assert!(storage.devices(TeamId([9; 16])).await.unwrap().is_empty());
    assert_eq!(storage.head(TeamId([9; 16])).await.unwrap(), None);
    let missing_team = storage
        .add_device(
            TeamId([9; 16]),
            NewDevice {
                device: DeviceId([8; 16]),
                public_key: device(8).1.public_key(),
                role: Role::Member,
                added_by: team.admin,
                at_ms: 7_000,
            },
        )
        .await;
    assert!(
        matches!(missing_team, Err(Error::NoSuchTeam(_))),
        "{missing_team:?}"
    );

    assert_eq!(
        storage.device_key(member).await.unwrap(),
        Some(member_key.public_key())
    );
    assert_eq!(storage.device_key(DeviceId([9; 16])).await.unwrap(), None);
    storage.close().await.unwrap();
}

/// A device has one public key across every team it belongs to.
pub async fn device_key_is_one_per_device<B: Backend>(backend: &mut B) {
    let storage = backend.open().await;
    let first = new_team(&storage, 1).await;
    let second = new_team(&storage, 2).await;
    // The first team's admin joins the second team with the same key: fine.
    storage
        .add_device(
            second.team,
            NewDevice {
                device: first.admin,
                public_key: first.public_key,
                role: Role::Member,
                added_by: second.admin,
                at_ms: 1,
            },
        )
        .await
        .unwrap();
    // Another key for a known device: refused, whether added or creating a team.
    let third = new_team(&storage, 3).await;
    let conflict = storage
        .add_device(
            third.team,
            NewDevice {
                device: first.admin,
                public_key: device(99).1.public_key(),
                role: Role::Member,
                added_by: third.admin,
                at_ms: 1,
            },
        )
        .await;
    assert!(matches!(conflict, Err(Error::DeviceKeyConflict(d)) if d == first.admin));
    let create = storage
        .create_team(NewTeam {
            team: TeamId([4; 16]),
            admin: first.admin,
            public_key: device(99).1.public_key(),
            at_ms: 1,
        })
        .await;
    assert!(
        matches!(create, Err(Error::DeviceKeyConflict(_))),
        "{create:?}"
    );
    // The refused creation left nothing behind.
    assert_eq!(storage.head(TeamId([4; 16])).await.unwrap(), None);
    storage.close().await.unwrap();
}

/// Revoking keeps the entry (old envelopes stay verifiable), is idempotent, and never
/// leaves a team without an active admin.
pub async fn revocation_keeps_the_roster_entry_and_one_admin<B: Backend>(backend: &mut B) {
    let storage = backend.open().await;
    let team = new_team(&storage, 1).await;
    let (member, member_key) = device(2);
    storage
        .add_device(
            team.team,
            NewDevice {
                device: member,
                public_key: member_key.public_key(),
                role: Role::Member,
                added_by: team.admin,
                at_ms: 10,
            },
        )
        .await
        .unwrap();
    let revoked = storage.revoke_device(team.team, member, 20).await.unwrap();
    assert_eq!(revoked.revoked_at_ms, Some(20));
    assert_eq!(
        storage.device(team.team, member).await.unwrap(),
        Some(revoked.clone())
    );
    assert_eq!(storage.devices(team.team).await.unwrap().len(), 2);
    assert_eq!(storage.device_key(member).await.unwrap(), None);
    // Again: unchanged.
    assert_eq!(
        storage.revoke_device(team.team, member, 30).await.unwrap(),
        revoked
    );
    let last = storage.revoke_device(team.team, team.admin, 40).await;
    assert!(
        matches!(last, Err(Error::LastAdmin(d)) if d == team.admin),
        "{last:?}"
    );
    let unknown = storage
        .revoke_device(team.team, DeviceId([9; 16]), 40)
        .await;
    assert!(
        matches!(unknown, Err(Error::NoSuchDevice { .. })),
        "{unknown:?}"
    );

    let (second_admin, second_key) = device(3);
    storage
        .add_device(
            team.team,
            NewDevice {
                device: second_admin,
                public_key: second_key.public_key(),
                role: Role::Admin,
                added_by: team.admin,
                at_ms: 50,
            },
        )
        .await
        .unwrap();
    let first = storage
        .revoke_device(team.team, team.admin, 60)
        .await
        .unwrap();
    assert!(!first.is_active());
    storage.close().await.unwrap();
}

/// The same envelope twice keeps its first sequence number and is flagged as a
/// duplicate, across calls and within one call.
pub async fn push_is_idempotent_by_id<B: Backend>(backend: &mut B) {
    let storage = backend.open().await;
    let team = new_team(&storage, 1).await;
    let doc = DocumentId([0xd0; 16]);
    let e = changes(&team, doc, 0, 4);
    let first = storage
        .push(team.team, vec![e[0].clone(), e[1].clone()])
        .await
        .unwrap();
    assert_eq!(seqs(&first), [(1, false), (2, false)]);
    let second = storage
        .push(team.team, vec![e[1].clone(), e[2].clone()])
        .await
        .unwrap();
    assert_eq!(seqs(&second), [(2, true), (3, false)]);
    let within = storage
        .push(team.team, vec![e[3].clone(), e[3].clone(), e[0].clone()])
        .await
        .unwrap();
    assert_eq!(seqs(&within), [(4, false), (4, true), (1, true)]);
    assert_eq!(within.head, 4);
    // Nothing new: the head is still reported.
    let nothing_new = storage.push(team.team, vec![e[2].clone()]).await.unwrap();
    assert_eq!((seqs(&nothing_new), nothing_new.head), (vec![(3, true)], 4));
    assert_eq!(
        storage.push(team.team, Vec::new()).await.unwrap(),
        super::PushReceipt {
            envelopes: Vec::new(),
            head: 4
        }
    );
    assert_eq!(storage.head(team.team).await.unwrap(), Some(4));

    let page = storage.pull(team.team, everything()).await.unwrap();
    let got: Vec<(u64, &[u8])> = page
        .envelopes
        .iter()
        .map(|(seq, bytes)| (*seq, bytes.as_slice()))
        .collect();
    let want: Vec<(u64, &[u8])> = e
        .iter()
        .enumerate()
        .map(|(i, env)| (i as u64 + 1, &env.bytes[..]))
        .collect();
    assert_eq!(got, want, "every envelope once, byte for byte, in order");
    assert!(!page.more);
    assert_eq!(page.next, 4);
    storage.close().await.unwrap();
}

/// Each team has its own sequence, from 1, without gaps; pushing to a missing team fails.
pub async fn sequence_numbers_are_per_team_and_gap_free<B: Backend>(backend: &mut B) {
    let storage = backend.open().await;
    let a = new_team(&storage, 1).await;
    let b = new_team(&storage, 2).await;
    let doc = DocumentId([0xd0; 16]);
    let mut salt = 0;
    for round in 0..5u64 {
        for team in [&a, &b] {
            let batch = changes(team, doc, salt, 3);
            salt += 3;
            let pushed = storage.push(team.team, batch).await.unwrap();
            let base = round * 3;
            assert_eq!(
                seqs(&pushed),
                [(base + 1, false), (base + 2, false), (base + 3, false)]
            );
        }
    }
    assert_eq!(storage.head(a.team).await.unwrap(), Some(15));
    assert_eq!(storage.head(b.team).await.unwrap(), Some(15));
    let missing = storage
        .push(TeamId([9; 16]), changes(&a, doc, 1_000, 1))
        .await;
    assert!(matches!(missing, Err(Error::NoSuchTeam(_))), "{missing:?}");
    // The failure took no sequence number from anyone.
    let next = storage
        .push(a.team, changes(&a, doc, 2_000, 1))
        .await
        .unwrap();
    assert_eq!(seqs(&next), [(16, false)]);
    storage.close().await.unwrap();
}

/// Pulls page by count and by bytes, say whether more follows, and always make progress.
pub async fn pull_pages_by_count_and_bytes<B: Backend>(backend: &mut B) {
    let storage = backend.open().await;
    let team = new_team(&storage, 1).await;
    let batch = changes(&team, DocumentId([0xd0; 16]), 0, 10);
    let item = batch[0].bytes.len() + holdfast_protocol::PAGE_ITEM_OVERHEAD;
    storage.push(team.team, batch).await.unwrap();

    let mut request = PullRequest {
        after: 0,
        limit: 3,
        max_bytes: usize::MAX,
        compact: false,
    };
    let mut seen = Vec::new();
    loop {
        let page = storage.pull(team.team, request).await.unwrap();
        assert!(page.envelopes.len() <= 3);
        seen.extend(page.envelopes.iter().map(|(seq, _)| *seq));
        if let Some((last, _)) = page.envelopes.last() {
            assert_eq!(page.next, *last);
        }
        if !page.more {
            break;
        }
        request.after = page.next;
    }
    assert_eq!(seen, (1..=10).collect::<Vec<_>>());

    // By bytes: room for exactly two items.
    let page = storage
        .pull(
            team.team,
            PullRequest {
                after: 0,
                limit: 100,
                max_bytes: 2 * item,
                compact: false,
            },
        )
        .await
        .unwrap();
    assert_eq!(page.envelopes.len(), 2);
    assert!(page.more);
    assert_eq!(page.next, 2);
    // A cap smaller than one envelope still returns one.
    let page = storage
        .pull(
            team.team,
            PullRequest {
                after: 4,
                limit: 100,
                max_bytes: 1,
                compact: false,
            },
        )
        .await
        .unwrap();
    assert_eq!(page.envelopes.len(), 1);
    assert_eq!(page.envelopes[0].0, 5);
    assert!(page.more);
    // Exactly at the end, and past it.
    let page = storage
        .pull(
            team.team,
            PullRequest {
                after: 7,
                limit: 3,
                max_bytes: usize::MAX,
                compact: false,
            },
        )
        .await
        .unwrap();
    assert_eq!(page.envelopes.len(), 3);
    assert!(!page.more, "nothing follows seq 10");
    for after in [10, 11, u64::MAX] {
        let page = storage
            .pull(
                team.team,
                PullRequest {
                    after,
                    ..everything()
                },
            )
            .await
            .unwrap();
        assert!(page.envelopes.is_empty());
        assert_eq!(page.next, after);
        assert!(!page.more);
    }
    // An unknown team pulls nothing.
    let page = storage.pull(TeamId([9; 16]), everything()).await.unwrap();
    assert!(page.envelopes.is_empty() && !page.more);
    storage.close().await.unwrap();
}

/// A compact pull leaves out change batches a later snapshot covers and snapshots a
/// later one supersedes; never key material, never on the word of an impossible snapshot.
pub async fn compact_pull_leaves_out_what_snapshots_cover<B: Backend>(backend: &mut B) {
    let storage = backend.open().await;
    let team = new_team(&storage, 1).await;
    let (t, me) = (team.team, team.admin);
    let a = DocumentId([0xaa; 16]);
    let b = DocumentId([0xbb; 16]);
    let plan = [
        envelope(t, me, a, Kind::ChangeBatch, 0, 1), // 1: covered by 8 and 11
        envelope(t, me, a, Kind::ChangeBatch, 0, 2), // 2: covered
        envelope(t, me, a, Kind::ChangeBatch, 0, 3), // 3: covered
        envelope(t, me, a, Kind::Snapshot, 2, 4),    // 4: superseded by 8 (covers more)
        envelope(t, me, a, Kind::ChangeBatch, 0, 5), // 5: covered by 8
        envelope(t, me, b, Kind::ChangeBatch, 0, 6), // 6: B has no usable snapshot
        envelope(t, me, a, Kind::KeyMaterial, 0, 7), // 7: key material: always kept
        envelope(t, me, a, Kind::Snapshot, 5, 8),    // 8: superseded by 11 (same covers, later)
        envelope(t, me, b, Kind::Snapshot, 100, 9),  // 9: covers the future: kept, never used
        envelope(t, me, b, Kind::ChangeBatch, 0, 10), // 10: kept
        envelope(t, me, a, Kind::Snapshot, 5, 11),   // 11: the snapshot of A
        envelope(t, me, a, Kind::ChangeBatch, 0, 12), // 12: after the snapshot: kept
    ];
    let pushed = storage.push(t, plan.to_vec()).await.unwrap();
    assert_eq!(pushed.envelopes.last().map(|p| p.seq), Some(12));
    assert_eq!(pushed.head, 12);

    let pull_all = |after: u64, limit: usize, compact: bool| {
        let storage = &storage;
        async move {
            let mut request = PullRequest {
                after,
                limit,
                max_bytes: usize::MAX,
                compact,
            };
            let mut seen = Vec::new();
            loop {
                let page = storage.pull(t, request).await.unwrap();
                seen.extend(page.envelopes.iter().map(|(seq, _)| *seq));
                if !page.more {
                    break seen;
                }
                assert!(!page.envelopes.is_empty(), "`more` on an empty page");
                request.after = page.next;
            }
        }
    };
    assert_eq!(pull_all(0, 100, false).await, (1..=12).collect::<Vec<_>>());
    assert_eq!(pull_all(0, 100, true).await, [6, 7, 9, 10, 11, 12]);
    assert_eq!(pull_all(0, 2, true).await, [6, 7, 9, 10, 11, 12]);
    assert_eq!(pull_all(4, 100, true).await, [6, 7, 9, 10, 11, 12]);
    assert_eq!(pull_all(9, 1, true).await, [10, 11, 12]);
    // What is served is the envelope itself.
    let page = storage
        .pull(
            t,
            PullRequest {
                after: 10,
                limit: 1,
                max_bytes: usize::MAX,
                compact: true,
            },
        )
        .await
        .unwrap();
    let snapshot = EnvelopeRef::decode(&page.envelopes[0].1).unwrap();
    assert_eq!(snapshot.header.kind, Kind::Snapshot);
    assert_eq!(snapshot.header.covers, 5);
    storage.close().await.unwrap();
}

/// Pushes from several tasks at once get distinct sequence numbers with no gaps.
pub async fn concurrent_pushes_get_distinct_gap_free_sequence_numbers<B: Backend>(backend: &mut B) {
    const TASKS: u64 = 8;
    const PUSHES: u64 = 20;
    const PER_PUSH: u64 = 5;
    let storage = Arc::new(backend.open().await);
    let a = new_team(&*storage, 1).await;
    let b = new_team(&*storage, 2).await;
    let mut tasks = Vec::new();
    for task in 0..TASKS {
        let storage = Arc::clone(&storage);
        let team = if task % 2 == 0 { a.clone() } else { b.clone() };
        tasks.push(tokio::spawn(async move {
            let mut got = Vec::new();
            for push in 0..PUSHES {
                let salt = (task * PUSHES + push) * PER_PUSH;
                // Every other push repeats its first envelope: duplicates under contention.
                let mut batch = changes(&team, DocumentId([task as u8; 16]), salt, PER_PUSH);
                if push % 2 == 1 {
                    batch.push(batch[0].clone());
                }
                let pushed = storage.push(team.team, batch).await.unwrap();
                let envelopes = &pushed.envelopes;
                assert_eq!(
                    envelopes.iter().filter(|p| p.duplicate).count() as u64,
                    push % 2
                );
                assert!(envelopes.iter().all(|p| p.seq <= pushed.head));
                got.extend(envelopes.iter().filter(|p| !p.duplicate).map(|p| p.seq));
            }
            (team.team, got)
        }));
    }
    let mut per_team: std::collections::HashMap<TeamId, BTreeSet<u64>> = Default::default();
    for task in tasks {
        let (team, got) = task.await.unwrap();
        let set = per_team.entry(team).or_default();
        for seq in got {
            assert!(set.insert(seq), "sequence number {seq} given out twice");
        }
    }
    let each = TASKS / 2 * PUSHES * PER_PUSH;
    for team in [a.team, b.team] {
        let set = &per_team[&team];
        assert_eq!(set.len() as u64, each);
        assert_eq!(
            set.iter().copied().collect::<Vec<_>>(),
            (1..=each).collect::<Vec<_>>()
        );
        assert_eq!(storage.head(team).await.unwrap(), Some(each));
        let page = storage.pull(team, everything()).await.unwrap();
        assert_eq!(page.envelopes.len() as u64, each);
    }
    storage.close().await.unwrap();
}

/// Teams, rosters, envelopes and sequence numbers survive closing and reopening, and the
/// sequence carries on where it stopped.
pub async fn writes_survive_reopen<B: Backend>(backend: &mut B) {
    let storage = backend.open().await;
    let team = new_team(&storage, 1).await;
    let (member, member_key) = device(2);
    storage
        .add_device(
            team.team,
            NewDevice {
                device: member,
                public_key: member_key.public_key(),
                role: Role::Member,
                added_by: team.admin,
                at_ms: 10,
            },
        )
        .await
        .unwrap();
    let doc = DocumentId([0xd0; 16]);
    storage
        .push(team.team, changes(&team, doc, 0, 5))
        .await
        .unwrap();
    let roster = storage.devices(team.team).await.unwrap();
    let before = storage.pull(team.team, everything()).await.unwrap();

    let storage = backend.reopen(storage).await;
    assert_eq!(storage.devices(team.team).await.unwrap(), roster);
    assert_eq!(storage.pull(team.team, everything()).await.unwrap(), before);
    assert_eq!(storage.head(team.team).await.unwrap(), Some(5));
    let more = storage
        .push(team.team, changes(&team, doc, 0, 6))
        .await
        .unwrap();
    assert_eq!(
        seqs(&more),
        [
            (1, true),
            (2, true),
            (3, true),
            (4, true),
            (5, true),
            (6, false)
        ]
    );
    storage.close().await.unwrap();
}

/// Watchers of a team's head hear of a push once it is committed.
pub async fn heads_are_published_after_commit<B: Backend>(backend: &mut B) {
    let storage = backend.open().await;
    let team = new_team(&storage, 1).await;
    let other = new_team(&storage, 2).await;
    let mut watch = storage.heads().subscribe(team.team);
    let mut other_watch = storage.heads().subscribe(other.team);
    storage
        .push(team.team, changes(&team, DocumentId([0xd0; 16]), 0, 3))
        .await
        .unwrap();
    tokio::time::timeout(std::time::Duration::from_secs(5), watch.changed())
        .await
        .expect("the head is published")
        .unwrap();
    assert_eq!(*watch.borrow_and_update(), 3);
    assert!(
        !other_watch.has_changed().unwrap(),
        "another team's watchers stay quiet"
    );
    // A push of duplicates only does not wake anyone.
    storage
        .push(team.team, changes(&team, DocumentId([0xd0; 16]), 0, 1))
        .await
        .unwrap();
    assert!(!watch.has_changed().unwrap());
    let _ = other_watch.borrow_and_update();
    storage.close().await.unwrap();
}

/// After `close`, writes and reads fail with [`Error::Closed`] instead of hanging.
pub async fn closed_storage_refuses_work<B: Backend>(backend: &mut B) {
    let storage = backend.open().await;
    let team = new_team(&storage, 1).await;
    storage.close().await.unwrap();
    let push = storage
        .push(team.team, changes(&team, DocumentId([0xd0; 16]), 0, 1))
        .await;
    assert!(matches!(push, Err(Error::Closed)), "{push:?}");
    let pull = storage.pull(team.team, everything()).await;
    assert!(matches!(pull, Err(Error::Closed)), "{pull:?}");
    assert!(storage.check().await.is_err());
}
