//! The contract every [`Storage`] backend must pass: one shared suite, run against each
//! backend (the SQLite backend runs it in its unit tests; another crate enables the
//! `contract-tests` feature and implements [`Backend`] for its own).
//!
//! Each check is a `pub async fn` taking a [`Backend`]; the list of checks is written once,
//! in [`storage_contract_tests!`](crate::storage_contract_tests), which expands to one
//! `#[test]` per check (clear failures), each on a fresh backend and a two-thread runtime
//! ([`concurrent_pushes_get_distinct_gap_free_sequence_numbers`] pushes from several
//! tasks). A backend's test module invokes it once and so runs every check, including
//! those added later. Checks panic with a message on failure, as tests do.
//!
//! ```ignore
//! #[cfg(test)]
//! mod tests {
//!     struct TempPg { /* … */ }
//!     impl holdfast_relay::storage::contract::Backend for TempPg { /* … */ }
//!
//!     holdfast_relay::storage_contract_tests!(TempPg::new());
//! }
//! ```

use std::collections::BTreeSet;
use std::future::Future;
use std::sync::Arc;

use holdfast_protocol::{
    DeviceId, DeviceSigningKey, DocumentId, DocumentKey, Entry, EnvelopeRef, Header, HpkeKeyPair,
    InviteId, Kind, Op, Role, TeamId, redeem_proof_message, seal,
};

use super::{
    BundleRequest, Bytes, Device, Error, MembershipAppend, NewBundle, NewEnvelope, NewTeam,
    PrivateNotes, PullRequest, RosterChange, Staging, Storage, TakeStaged, TeamQuota,
};

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

/// One `#[test]` per contract check, each running the check on a fresh backend made by
/// `$backend` (an expression, evaluated once per check) on a two-thread tokio runtime.
///
/// The list below is the only list of checks: a backend that invokes this macro runs every
/// one of them, and a check added here runs on every backend. (A unit test fails if a
/// `pub async fn …<B: Backend>` in `storage::contract` is missing from it.)
#[macro_export]
macro_rules! storage_contract_tests {
    ($backend:expr) => {
        $crate::storage_contract_tests!(@list tests ($backend));
    };
    // The list: hands every check's name to the arm named `$arm`, after `$args`.
    (@list $arm:ident $args:tt) => {
        $crate::storage_contract_tests!(@$arm $args
            team_creation_and_roster,
            device_key_is_one_per_device,
            membership_appends_need_the_expected_length,
            membership_entries_keep_their_subject_and_roster_effect,
            bundles_are_served_per_recipient,
            staged_bundles_wait_for_their_revocation,
            pull_filters_by_document,
            private_notes_are_left_out_for_other_readers,
            private_notes_bundles_replace_the_senders_last,
            envelope_ids_answer_by_sequence_number,
            push_is_idempotent_by_id,
            team_quota_refuses_what_would_pass_it,
            sequence_numbers_are_per_team_and_gap_free,
            pull_pages_by_count_and_bytes,
            compact_pull_leaves_out_what_snapshots_cover,
            concurrent_pushes_get_distinct_gap_free_sequence_numbers,
            writes_survive_reopen,
            heads_are_published_after_commit,
            closed_storage_refuses_work,
        );
    };
    (@tests ($backend:expr) $($check:ident,)*) => {
        $(
            #[test]
            fn $check() {
                $crate::storage::contract::run_check(async {
                    let mut backend = $backend;
                    $crate::storage::contract::$check(&mut backend).await;
                });
            }
        )*
    };
    (@names () $($check:ident,)*) => {
        /// The name of every check, as [`storage_contract_tests!`](crate::storage_contract_tests)
        /// lists them.
        pub const CHECKS: &[&str] = &[$(stringify!($check)),*];
    };
}

crate::storage_contract_tests!(@list names ());

/// Runs one check to completion on a fresh two-thread runtime (what each test made by
/// [`storage_contract_tests!`](crate::storage_contract_tests) does, so the backend's crate
/// needs no tokio test macros).
pub fn run_check(check: impl Future<Output = ()>) {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime for the contract check")
        .block_on(check);
}

/// When the contract's pushes are received, in ms since the epoch (the relay passes its
/// clock's time; a backend stores it and never reads a clock).
pub const RECEIVED_MS: u64 = 3_000;

/// A deterministic device: id and signing key from one byte.
pub fn device(n: u8) -> (DeviceId, DeviceSigningKey) {
    let key = DeviceSigningKey::from_seed([n; 32]).expect("any seed is a key");
    (DeviceId([n; 16]), key)
}

/// Device `n`'s HPKE key pair.
pub fn hpke(n: u8) -> HpkeKeyPair {
    HpkeKeyPair::from_seed([n; 32]).expect("any seed is a key")
}

/// The genesis entry of team `[n; 16]` by device `n`.
pub fn genesis(n: u8) -> Entry {
    let (admin, key) = device(n);
    let op = Op::Genesis {
        device: admin,
        sign_key: key.public_key(),
        hpke_key: hpke(n).public_key().clone(),
        key_commitment: [n; 32],
    };
    Entry::sign(TeamId([n; 16]), 1_000 + u64::from(n), admin.0, op, &key).expect("sign")
}

/// Creates team `[n; 16]` with device `n` as its admin and returns what was created.
pub async fn new_team<S: Storage>(storage: &S, n: u8) -> NewTeam {
    let entry = genesis(n);
    let (admin, key) = device(n);
    let team = NewTeam {
        team: TeamId([n; 16]),
        genesis: entry.as_bytes().to_vec(),
        admin,
        public_key: key.public_key(),
        hpke_key: hpke(n).public_key().as_bytes().to_vec(),
        at_ms: entry.at_ms,
    };
    storage
        .create_team(team.clone())
        .await
        .expect("create a team");
    team
}

/// An Invite entry for a link worker, invite id `[n; 16]`, signed by the team's admin;
/// with the invite's one-time key.
pub fn invite_entry(team: &NewTeam, n: u8, at_ms: u64) -> (Entry, DeviceSigningKey) {
    invite_for(team, n, Role::LinkWorker, None, at_ms)
}

/// An Invite entry for `role` (and `plan`), invite id `[n; 16]`, signed by the admin.
pub fn invite_for(
    team: &NewTeam,
    n: u8,
    role: Role,
    plan: Option<DocumentId>,
    at_ms: u64,
) -> (Entry, DeviceSigningKey) {
    let invite_key = DeviceSigningKey::from_seed([n.wrapping_add(128); 32]).expect("key");
    let op = Op::Invite {
        invite: InviteId([n; 16]),
        sign_key: invite_key.public_key(),
        hpke_key: hpke(n.wrapping_add(128)).public_key().clone(),
        role,
        plan,
        expires_at_ms: u64::MAX,
    };
    let (_, admin_key) = device(team.admin.0[0]);
    let entry = Entry::sign(team.team, at_ms, team.admin.0, op, &admin_key).expect("sign");
    (entry, invite_key)
}

/// Device `m` redeeming invite `[n; 16]`.
pub fn redeem_entry(team: &NewTeam, n: u8, invite_key: &DeviceSigningKey, m: u8) -> Entry {
    let (id, key) = device(m);
    let invite = InviteId([n; 16]);
    let hpke_key = hpke(m).public_key().clone();
    let proof = redeem_proof_message(&team.team, &invite, &id, &key.public_key(), &hpke_key);
    let op = Op::Redeem {
        invite,
        device: id,
        sign_key: key.public_key(),
        hpke_key,
        device_signature: key.sign(&proof),
    };
    Entry::sign(team.team, 2_000, invite.0, op, invite_key).expect("sign")
}

/// Appending `entry` at `expected_len`, with no roster change and no bundles, at epoch 1.
pub fn plain_append(expected_len: u64, entry: &Entry) -> MembershipAppend {
    MembershipAppend {
        expected_len,
        entry: entry.as_bytes().to_vec(),
        subject: None,
        roster: RosterChange::None,
        epoch: 1,
        bundles: Vec::new(),
        forget_bundles: Vec::new(),
        staged: None,
    }
}

/// The roster row of device `m` joining through invite `[n; 16]` as `role`.
pub fn joined(team: &NewTeam, m: u8, n: u8, role: Role, plan: Option<DocumentId>) -> Device {
    let (id, key) = device(m);
    Device {
        device: id,
        public_key: key.public_key(),
        hpke_key: hpke(m).public_key().as_bytes().to_vec(),
        role,
        plan,
        invite: Some(InviteId([n; 16])),
        added_at_ms: 2_000,
        added_by: team.admin,
        revoked_at_ms: None,
    }
}

/// Enrols device `m` as a link worker through invite `[n; 16]`, appending at `len`.
pub async fn enrol<S: Storage>(storage: &S, team: &NewTeam, n: u8, m: u8, len: u64) {
    let (invite, invite_key) = invite_entry(team, n, 1_500);
    storage
        .append_membership(team.team, plain_append(len, &invite))
        .await
        .expect("append the invite");
    let redeem = redeem_entry(team, n, &invite_key, m);
    storage
        .append_membership(
            team.team,
            MembershipAppend {
                roster: RosterChange::Join(joined(team, m, n, Role::LinkWorker, None)),
                ..plain_append(len + 1, &redeem)
            },
        )
        .await
        .expect("append the redeem");
}

fn bundle(recipient: [u8; 16], sender: DeviceId, salt: u8) -> NewBundle {
    NewBundle {
        recipient,
        sender,
        bytes: vec![salt; 40],
    }
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
        document: None,
        private_notes: PrivateNotes::All,
    }
}

/// Creating a team stores its genesis entry and makes its creator an admin; the roster
/// and the log answer for unknown teams too.
pub async fn team_creation_and_roster<B: Backend>(backend: &mut B) {
    let storage = backend.open().await;
    let team = new_team(&storage, 1).await;
    assert!(matches!(
        storage.create_team(team.clone()).await,
        Err(Error::TeamExists(t)) if t == team.team
    ));
    let roster = storage.devices(team.team).await.unwrap();
    assert_eq!(roster.len(), 1);
    let admin = &roster[0];
    assert_eq!(admin.device, team.admin);
    assert_eq!(admin.role, Role::Admin);
    assert_eq!(admin.public_key, team.public_key);
    assert_eq!(admin.hpke_key, team.hpke_key);
    assert_eq!(admin.added_by, team.admin);
    assert_eq!(admin.added_at_ms, team.at_ms);
    assert_eq!((admin.plan, admin.invite), (None, None));
    assert!(admin.is_active());
    let log = storage.membership(team.team, 0).await.unwrap();
    assert_eq!(log.len(), 1);
    assert_eq!(
        (log[0].seq, &log[0].entry, log[0].subject),
        (0, &team.genesis, None)
    );
    assert_eq!(storage.head(team.team).await.unwrap(), Some(0));
    let info = storage.team(team.team).await.unwrap().unwrap();
    assert_eq!((info.head, info.epoch, info.membership_len), (0, 1, 1));

    let other = TeamId([9; 16]);
    assert!(storage.devices(other).await.unwrap().is_empty());
    assert!(storage.membership(other, 0).await.unwrap().is_empty());
    assert_eq!(storage.head(other).await.unwrap(), None);
    assert_eq!(storage.team(other).await.unwrap(), None);
    assert_eq!(
        storage.device_key(team.admin).await.unwrap(),
        Some(team.public_key)
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
    enrol(&storage, &second, 10, 1, 1).await;
    // Another key for a known device: refused, whether joining or creating a team.
    let third = new_team(&storage, 3).await;
    let (invite, invite_key) = invite_entry(&third, 11, 1_500);
    storage
        .append_membership(third.team, plain_append(1, &invite))
        .await
        .unwrap();
    let mut row = joined(&third, 1, 11, Role::LinkWorker, None);
    row.public_key = device(99).1.public_key();
    let conflict = storage
        .append_membership(
            third.team,
            MembershipAppend {
                roster: RosterChange::Join(row),
                ..plain_append(2, &redeem_entry(&third, 11, &invite_key, 1))
            },
        )
        .await;
    assert!(matches!(conflict, Err(Error::DeviceKeyConflict(d)) if d == first.admin));
    // The refused append left nothing behind.
    assert_eq!(storage.membership(third.team, 0).await.unwrap().len(), 2);
    let create = storage
        .create_team(NewTeam {
            team: TeamId([4; 16]),
            public_key: device(99).1.public_key(),
            ..first.clone()
        })
        .await;
    assert!(
        matches!(create, Err(Error::DeviceKeyConflict(_))),
        "{create:?}"
    );
    assert_eq!(storage.head(TeamId([4; 16])).await.unwrap(), None);
    storage.close().await.unwrap();
}

/// An append names the log length it was checked against; another length is a conflict
/// that stores nothing.
pub async fn membership_appends_need_the_expected_length<B: Backend>(backend: &mut B) {
    let storage = backend.open().await;
    let team = new_team(&storage, 1).await;
    let (first, _) = invite_entry(&team, 5, 1_500);
    let (second, _) = invite_entry(&team, 6, 1_600);
    let mut with_bundle = plain_append(1, &second);
    with_bundle.bundles.push(bundle([6; 16], team.admin, 1));
    assert_eq!(
        storage
            .append_membership(team.team, plain_append(1, &first))
            .await
            .unwrap(),
        1
    );
    let stale = storage
        .append_membership(team.team, with_bundle.clone())
        .await;
    assert!(
        matches!(
            stale,
            Err(Error::MembershipConflict {
                expected: 1,
                len: 2,
                ..
            })
        ),
        "{stale:?}"
    );
    let ahead = storage
        .append_membership(team.team, plain_append(5, &second))
        .await;
    assert!(
        matches!(ahead, Err(Error::MembershipConflict { .. })),
        "{ahead:?}"
    );
    // Nothing of the refused appends was stored, bundles included.
    assert_eq!(storage.membership(team.team, 0).await.unwrap().len(), 2);
    let request = BundleRequest {
        recipients: vec![[6; 16]],
        after: 0,
        limit: 10,
    };
    assert!(
        storage
            .bundles(team.team, request.clone())
            .await
            .unwrap()
            .bundles
            .is_empty()
    );
    with_bundle.expected_len = 2;
    assert_eq!(
        storage
            .append_membership(team.team, with_bundle)
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        storage
            .bundles(team.team, request)
            .await
            .unwrap()
            .bundles
            .len(),
        1
    );
    let missing = storage
        .append_membership(TeamId([9; 16]), plain_append(1, &first))
        .await;
    assert!(matches!(missing, Err(Error::NoSuchTeam(_))), "{missing:?}");
    storage.close().await.unwrap();
}

/// Entries come back in order with their patient subject; joins, role changes and
/// revocations change the roster; a revocation sets the epoch.
pub async fn membership_entries_keep_their_subject_and_roster_effect<B: Backend>(backend: &mut B) {
    let storage = backend.open().await;
    let team = new_team(&storage, 1).await;
    enrol(&storage, &team, 10, 2, 1).await;
    let plan = DocumentId([0xd0; 16]);
    let (invite, invite_key) = invite_for(&team, 11, Role::Patient, Some(plan), 1_700);
    storage
        .append_membership(
            team.team,
            MembershipAppend {
                subject: Some([11; 16]),
                ..plain_append(3, &invite)
            },
        )
        .await
        .unwrap();
    let redeem = redeem_entry(&team, 11, &invite_key, 3);
    storage
        .append_membership(
            team.team,
            MembershipAppend {
                subject: Some([11; 16]),
                roster: RosterChange::Join(joined(&team, 3, 11, Role::Patient, Some(plan))),
                ..plain_append(4, &redeem)
            },
        )
        .await
        .unwrap();
    let roster = storage.devices(team.team).await.unwrap();
    assert_eq!(roster.len(), 3);
    assert_eq!(roster[2], joined(&team, 3, 11, Role::Patient, Some(plan)));

    let (admin_id, admin_key) = device(1);
    let role = Entry::sign(
        team.team,
        3_000,
        admin_id.0,
        Op::ChangeRole {
            device: DeviceId([2; 16]),
            role: Role::Supervisor,
        },
        &admin_key,
    )
    .unwrap();
    storage
        .append_membership(
            team.team,
            MembershipAppend {
                roster: RosterChange::Role {
                    device: DeviceId([2; 16]),
                    role: Role::Supervisor,
                },
                ..plain_append(5, &role)
            },
        )
        .await
        .unwrap();
    let revoke = Entry::sign(
        team.team,
        4_000,
        admin_id.0,
        Op::Revoke {
            device: DeviceId([3; 16]),
            epoch: 2,
            key_commitment: [2; 32],
        },
        &admin_key,
    )
    .unwrap();
    storage
        .append_membership(
            team.team,
            MembershipAppend {
                subject: Some([11; 16]),
                roster: RosterChange::Revoke {
                    device: DeviceId([3; 16]),
                    at_ms: 4_000,
                },
                epoch: 2,
                ..plain_append(6, &revoke)
            },
        )
        .await
        .unwrap();

    let log = storage.membership(team.team, 3).await.unwrap();
    let got: Vec<(u64, Option<[u8; 16]>)> = log.iter().map(|e| (e.seq, e.subject)).collect();
    assert_eq!(
        got,
        [
            (3, Some([11; 16])),
            (4, Some([11; 16])),
            (5, None),
            (6, Some([11; 16]))
        ]
    );
    assert_eq!(log[0].entry, invite.as_bytes());
    assert_eq!(log[3].entry, revoke.as_bytes());
    let roster = storage.devices(team.team).await.unwrap();
    assert_eq!(roster[1].role, Role::Supervisor);
    assert_eq!(roster[2].revoked_at_ms, Some(4_000));
    assert_eq!(storage.device_key(DeviceId([3; 16])).await.unwrap(), None);
    let info = storage.team(team.team).await.unwrap().unwrap();
    assert_eq!((info.epoch, info.membership_len), (2, 7));

    // All of it survives a restart.
    let all = storage.membership(team.team, 0).await.unwrap();
    let storage = backend.reopen(storage).await;
    assert_eq!(storage.membership(team.team, 0).await.unwrap(), all);
    assert_eq!(storage.devices(team.team).await.unwrap(), roster);
    assert_eq!(storage.team(team.team).await.unwrap().unwrap().epoch, 2);
    storage.close().await.unwrap();
}

/// Bundles are numbered per team and each recipient reads only its own.
pub async fn bundles_are_served_per_recipient<B: Backend>(backend: &mut B) {
    let storage = backend.open().await;
    let team = new_team(&storage, 1).await;
    let other = new_team(&storage, 2).await;
    let (a, b, c) = ([0xa; 16], [0xb; 16], [0xc; 16]);
    let sender = team.admin;
    let (first, _) = invite_entry(&team, 6, 1_400);
    let mut append = plain_append(1, &first);
    append.bundles = vec![
        bundle(a, sender, 1),
        bundle(b, sender, 2),
        bundle(a, sender, 3),
    ];
    assert_eq!(
        storage.append_membership(team.team, append).await.unwrap(),
        1
    );
    let (elsewhere, _) = invite_entry(&other, 6, 1_400);
    let mut append = plain_append(1, &elsewhere);
    append.bundles = vec![bundle(a, other.admin, 9)];
    storage.append_membership(other.team, append).await.unwrap();
    let (invite, _) = invite_entry(&team, 5, 1_500);
    let mut append = plain_append(2, &invite);
    append.bundles = vec![bundle(c, sender, 4), bundle(b, sender, 5)];
    storage.append_membership(team.team, append).await.unwrap();

    let read = |recipients: Vec<[u8; 16]>, after: u64, limit: usize| {
        let storage = &storage;
        async move {
            storage
                .bundles(
                    team.team,
                    BundleRequest {
                        recipients,
                        after,
                        limit,
                    },
                )
                .await
                .unwrap()
        }
    };
    let page = read(vec![a], 0, 10).await;
    assert_eq!(page.bundles, vec![(1, vec![1; 40]), (3, vec![3; 40])]);
    assert_eq!((page.next, page.more), (3, false));
    let page = read(vec![a, c], 0, 2).await;
    assert_eq!(page.bundles.iter().map(|b| b.0).collect::<Vec<_>>(), [1, 3]);
    assert_eq!((page.next, page.more), (3, true));
    let page = read(vec![a, c], 3, 2).await;
    assert_eq!(page.bundles, vec![(4, vec![4; 40])]);
    assert!(!page.more);
    let page = read(vec![b], 0, 10).await;
    assert_eq!(page.bundles.iter().map(|b| b.0).collect::<Vec<_>>(), [2, 5]);
    assert!(read(vec![[0xd; 16]], 0, 10).await.bundles.is_empty());
    assert!(read(Vec::new(), 0, 10).await.bundles.is_empty());

    // Cancelling an invite (or its expiry) deletes the bundles wrapped to it, only those.
    let (admin_id, admin_key) = device(1);
    let cancel = Entry::sign(
        team.team,
        1_600,
        admin_id.0,
        Op::Cancel {
            invite: InviteId(b),
        },
        &admin_key,
    )
    .expect("sign");
    storage
        .append_membership(
            team.team,
            MembershipAppend {
                forget_bundles: vec![InviteId(b)],
                ..plain_append(3, &cancel)
            },
        )
        .await
        .unwrap();
    assert!(read(vec![b], 0, 10).await.bundles.is_empty());
    assert_eq!(read(vec![a, c], 0, 10).await.bundles.len(), 3);
    // A device acknowledges what it holds: its invite's bundles up to there go.
    assert_eq!(storage.forget_bundles(team.team, a, 2).await.unwrap(), 1);
    let page = read(vec![a, c], 0, 10).await;
    assert_eq!(page.bundles.iter().map(|b| b.0).collect::<Vec<_>>(), [3, 4]);
    assert_eq!(storage.forget_bundles(other.team, c, 10).await.unwrap(), 0);
    storage.close().await.unwrap();
}

/// Bundles staged for a revocation are never served; its append delivers the ones it
/// names, in its transaction, and drops the rest of the team's staging. A sender has one
/// staging at a time, and staging expires.
pub async fn staged_bundles_wait_for_their_revocation<B: Backend>(backend: &mut B) {
    let storage = backend.open().await;
    let team = new_team(&storage, 1).await;
    enrol(&storage, &team, 10, 2, 1).await;
    let (admin, worker) = (team.admin, DeviceId([2; 16]));
    let (a, b, c, d) = ([0xa; 16], [0xb; 16], [0xc; 16], [0xd; 16]);
    let (x, y, z) = ([0x1; 32], [0x2; 32], [0x3; 32]);
    let t = 10_000;
    let two = vec![bundle(a, admin, 1), bundle(b, admin, 2)];
    assert_eq!(
        stage(&storage, team.team, admin, x, two, t).await.unwrap(),
        2
    );
    assert!(
        read(&storage, team.team, a).await.is_empty(),
        "staged bundles are not served"
    );
    // Staged again for a recipient, a bundle replaces the first.
    let more = vec![bundle(b, admin, 3), bundle(c, admin, 4)];
    assert_eq!(
        stage(&storage, team.team, admin, x, more, t).await.unwrap(),
        3
    );
    assert_eq!(staged(&storage, team.team, admin, x).await, [a, b, c]);
    // Another sender's staging is its own.
    assert_eq!(
        stage(
            &storage,
            team.team,
            worker,
            y,
            vec![bundle(a, worker, 5)],
            t
        )
        .await
        .unwrap(),
        1
    );
    // Staging for another commitment replaces what the sender staged before.
    assert_eq!(
        stage(&storage, team.team, admin, z, vec![bundle(a, admin, 6)], t)
            .await
            .unwrap(),
        1
    );
    assert!(staged(&storage, team.team, admin, x).await.is_empty());
    let again = vec![
        bundle(a, admin, 1),
        bundle(b, admin, 3),
        bundle(c, admin, 4),
    ];
    assert_eq!(
        stage(&storage, team.team, admin, x, again, t)
            .await
            .unwrap(),
        3
    );
    assert_eq!(staged(&storage, team.team, worker, y).await, [a]);
    let missing = storage
        .stage_bundles(
            TeamId([9; 16]),
            Staging {
                sender: admin,
                commitment: x,
                bundles: vec![bundle(a, admin, 1)],
                at_ms: t,
            },
        )
        .await;
    assert!(matches!(missing, Err(Error::NoSuchTeam(_))), "{missing:?}");
    // Staging survives a restart.
    let storage = backend.reopen(storage).await;
    assert_eq!(
        storage
            .staged_recipients(team.team, admin, x)
            .await
            .unwrap(),
        [a, b, c]
    );

    let (admin_id, admin_key) = device(1);
    let revoke = Entry::sign(
        team.team,
        4_000,
        admin_id.0,
        Op::Revoke {
            device: worker,
            epoch: 2,
            key_commitment: x,
        },
        &admin_key,
    )
    .unwrap();
    let revocation = |recipients: Vec<[u8; 16]>| MembershipAppend {
        roster: RosterChange::Revoke {
            device: worker,
            at_ms: 4_000,
        },
        epoch: 2,
        bundles: vec![bundle(d, admin, 7)],
        staged: Some(TakeStaged {
            sender: admin,
            commitment: x,
            recipients,
        }),
        ..plain_append(3, &revoke)
    };
    // A revocation that names a bundle not staged stores nothing.
    let changed = storage
        .append_membership(team.team, revocation(vec![a, d]))
        .await;
    assert!(
        matches!(changed, Err(Error::StagingChanged(_))),
        "{changed:?}"
    );
    assert_eq!(storage.membership(team.team, 0).await.unwrap().len(), 3);
    assert!(
        storage
            .bundles(
                team.team,
                BundleRequest {
                    recipients: vec![d],
                    after: 0,
                    limit: 10
                }
            )
            .await
            .unwrap()
            .bundles
            .is_empty()
    );
    assert_eq!(staged(&storage, team.team, admin, x).await, [a, b, c]);

    // It delivers its own bundles, then the staged ones it names, in order; b stays out.
    assert_eq!(
        storage
            .append_membership(team.team, revocation(vec![c, a]))
            .await
            .unwrap(),
        3
    );
    assert_eq!(read(&storage, team.team, d).await, [(1, vec![7; 40])]);
    assert_eq!(read(&storage, team.team, c).await, [(2, vec![4; 40])]);
    assert_eq!(read(&storage, team.team, a).await, [(3, vec![1; 40])]);
    assert!(read(&storage, team.team, b).await.is_empty());
    // Every staging of the team is gone: it was for the epoch the revocation took.
    assert!(staged(&storage, team.team, admin, x).await.is_empty());
    assert!(staged(&storage, team.team, worker, y).await.is_empty());

    // Staging expires: an hour on, the next staging drops it, in any team (a team where
    // nobody stages again keeps nothing for longer).
    assert_eq!(
        stage(&storage, team.team, admin, z, vec![bundle(a, admin, 8)], t)
            .await
            .unwrap(),
        1
    );
    let other = new_team(&storage, 2).await;
    assert_eq!(
        stage(
            &storage,
            other.team,
            other.admin,
            z,
            vec![bundle(a, other.admin, 8)],
            t
        )
        .await
        .unwrap(),
        1
    );
    let later = t + super::STAGED_TTL_MS + 1;
    assert_eq!(
        stage(
            &storage,
            team.team,
            worker,
            y,
            vec![bundle(b, worker, 9)],
            later
        )
        .await
        .unwrap(),
        1
    );
    assert!(staged(&storage, team.team, admin, z).await.is_empty());
    assert!(
        staged(&storage, other.team, other.admin, z)
            .await
            .is_empty()
    );
    assert_eq!(staged(&storage, team.team, worker, y).await, [b]);
    storage.close().await.unwrap();
}

async fn stage<S: Storage>(
    storage: &S,
    team: TeamId,
    sender: DeviceId,
    commitment: [u8; 32],
    bundles: Vec<NewBundle>,
    at_ms: u64,
) -> super::Result<u64> {
    storage
        .stage_bundles(
            team,
            Staging {
                sender,
                commitment,
                bundles,
                at_ms,
            },
        )
        .await
}

async fn staged<S: Storage>(
    storage: &S,
    team: TeamId,
    sender: DeviceId,
    commitment: [u8; 32],
) -> Vec<[u8; 16]> {
    storage
        .staged_recipients(team, sender, commitment)
        .await
        .unwrap()
}

/// One recipient's bundles, from the start.
async fn read<S: Storage>(storage: &S, team: TeamId, recipient: [u8; 16]) -> Vec<(u64, Vec<u8>)> {
    storage
        .bundles(
            team,
            BundleRequest {
                recipients: vec![recipient],
                after: 0,
                limit: 100,
            },
        )
        .await
        .unwrap()
        .bundles
}

/// The id at each asked sequence number, `None` past the head, at 0, in another team, or
/// (with a document) for another document's envelope.
pub async fn envelope_ids_answer_by_sequence_number<B: Backend>(backend: &mut B) {
    let storage = backend.open().await;
    let team = new_team(&storage, 1).await;
    let other = new_team(&storage, 2).await;
    let (t, me) = (team.team, team.admin);
    let a = DocumentId([0xaa; 16]);
    let b = DocumentId([0xbb; 16]);
    let pushed = [
        envelope(t, me, a, Kind::ChangeBatch, 0, 1),
        envelope(t, me, b, Kind::ChangeBatch, 0, 2),
        envelope(t, me, a, Kind::ChangeBatch, 0, 3),
    ];
    storage.push(t, pushed.to_vec(), RECEIVED_MS).await.unwrap();
    let id = |i: usize| Some(pushed[i].id);
    assert_eq!(
        storage
            .envelope_ids(t, vec![3, 1, 0, 4, u64::MAX, 2], None, PrivateNotes::All)
            .await
            .unwrap(),
        [id(2), id(0), None, None, None, id(1)]
    );
    assert_eq!(
        storage
            .envelope_ids(t, vec![1, 2, 3], Some(a), PrivateNotes::All)
            .await
            .unwrap(),
        [id(0), None, id(2)]
    );
    assert_eq!(
        storage
            .envelope_ids(other.team, vec![1], None, PrivateNotes::All)
            .await
            .unwrap(),
        [None]
    );
    assert_eq!(
        storage
            .envelope_ids(TeamId([9; 16]), vec![1], None, PrivateNotes::All)
            .await
            .unwrap(),
        [None]
    );
    assert!(
        storage
            .envelope_ids(t, vec![], None, PrivateNotes::All)
            .await
            .unwrap()
            .is_empty()
    );
    storage.close().await.unwrap();
}

/// A pull for one document skips the others' sequence numbers, compacted or not.
pub async fn pull_filters_by_document<B: Backend>(backend: &mut B) {
    let storage = backend.open().await;
    let team = new_team(&storage, 1).await;
    let (t, me) = (team.team, team.admin);
    let a = DocumentId([0xaa; 16]);
    let b = DocumentId([0xbb; 16]);
    let plan = [
        envelope(t, me, a, Kind::ChangeBatch, 0, 1), // 1: covered by 4
        envelope(t, me, b, Kind::ChangeBatch, 0, 2), // 2
        envelope(t, me, a, Kind::ChangeBatch, 0, 3), // 3: covered by 4
        envelope(t, me, a, Kind::Snapshot, 3, 4),    // 4
        envelope(t, me, b, Kind::ChangeBatch, 0, 5), // 5
        envelope(t, me, a, Kind::ChangeBatch, 0, 6), // 6
    ];
    storage.push(t, plan.to_vec(), RECEIVED_MS).await.unwrap();
    let pull = |document, compact, after, limit| {
        let storage = &storage;
        async move {
            storage
                .pull(
                    t,
                    PullRequest {
                        after,
                        limit,
                        max_bytes: usize::MAX,
                        compact,
                        document: Some(document),
                        private_notes: PrivateNotes::All,
                    },
                )
                .await
                .unwrap()
        }
    };
    let seqs = |page: &super::Page| page.envelopes.iter().map(|e| e.0).collect::<Vec<_>>();
    assert_eq!(seqs(&pull(a, false, 0, 100).await), [1, 3, 4, 6]);
    assert_eq!(seqs(&pull(b, false, 0, 100).await), [2, 5]);
    assert_eq!(seqs(&pull(a, true, 0, 100).await), [4, 6]);
    assert_eq!(seqs(&pull(b, true, 0, 100).await), [2, 5]);
    let page = pull(a, false, 1, 2).await;
    assert_eq!((seqs(&page), page.next, page.more), (vec![3, 4], 4, true));
    let page = pull(b, false, 2, 10).await;
    assert_eq!((seqs(&page), page.next, page.more), (vec![5], 5, false));
    let page = pull(DocumentId([0xcc; 16]), false, 0, 10).await;
    assert!(page.envelopes.is_empty() && !page.more && page.next == 0);
    storage.close().await.unwrap();
}

/// Envelopes marked as a device's private notes are left out of every read of another
/// device that may not see them (pages, compacted or not, `doc=` pulls, ids at sequence
/// numbers), their numbers skipped as a filtered page skips other documents'; the owner's
/// reads and the unlimited reads (supervisors, admins) hold them; it survives a reopen.
pub async fn private_notes_are_left_out_for_other_readers<B: Backend>(backend: &mut B) {
    let storage = backend.open().await;
    let team = new_team(&storage, 1).await;
    let (t, me) = (team.team, team.admin);
    let (owner, other_owner, colleague) = (
        DeviceId([0x0a; 16]),
        DeviceId([0x0b; 16]),
        DeviceId([0x0c; 16]),
    );
    let a = DocumentId([0xaa; 16]);
    let notes = DocumentId([0xee; 16]);
    let others = DocumentId([0xef; 16]);
    let mine = |e: NewEnvelope| e.private_to(Some(owner));
    let pushed = [
        envelope(t, me, a, Kind::ChangeBatch, 0, 1), // 1
        mine(envelope(t, me, notes, Kind::ChangeBatch, 0, 2)), // 2: covered by 5
        mine(envelope(t, me, notes, Kind::ChangeBatch, 0, 3)), // 3: covered by 5
        envelope(t, me, a, Kind::ChangeBatch, 0, 4), // 4
        mine(envelope(t, me, notes, Kind::Snapshot, 3, 5)), // 5
        envelope(t, me, others, Kind::ChangeBatch, 0, 6).private_to(Some(other_owner)), // 6
    ];
    storage.push(t, pushed.to_vec(), RECEIVED_MS).await.unwrap();
    let read = |private_notes, compact, document, after, limit| {
        let storage = &storage;
        async move {
            storage
                .pull(
                    t,
                    PullRequest {
                        after,
                        limit,
                        max_bytes: usize::MAX,
                        compact,
                        document,
                        private_notes,
                    },
                )
                .await
                .unwrap()
        }
    };
    let seqs = |page: &super::Page| page.envelopes.iter().map(|e| e.0).collect::<Vec<_>>();
    let (all, own, none) = (
        PrivateNotes::All,
        PrivateNotes::OwnOnly(owner),
        PrivateNotes::OwnOnly(colleague),
    );
    assert_eq!(
        seqs(&read(all, false, None, 0, 100).await),
        [1, 2, 3, 4, 5, 6]
    );
    assert_eq!(seqs(&read(own, false, None, 0, 100).await), [1, 2, 3, 4, 5]);
    assert_eq!(seqs(&read(none, false, None, 0, 100).await), [1, 4]);
    assert_eq!(seqs(&read(all, true, None, 0, 100).await), [1, 4, 5, 6]);
    assert_eq!(seqs(&read(own, true, None, 0, 100).await), [1, 4, 5]);
    assert_eq!(seqs(&read(none, true, None, 0, 100).await), [1, 4]);
    // Paged: nothing after 4 that a colleague may read, so no "more"; and no empty page
    // that says "more".
    let page = read(none, false, None, 0, 1).await;
    assert_eq!((seqs(&page), page.next, page.more), (vec![1], 1, true));
    let page = read(none, false, None, 1, 1).await;
    assert_eq!((seqs(&page), page.next, page.more), (vec![4], 4, false));
    let page = read(none, false, None, 4, 10).await;
    assert!(page.envelopes.is_empty() && !page.more && page.next == 4);
    let page = read(none, true, None, 1, 1).await;
    assert_eq!((seqs(&page), page.more), (vec![4], false));
    // A pull of the notes alone.
    assert!(
        read(none, false, Some(notes), 0, 100)
            .await
            .envelopes
            .is_empty()
    );
    assert!(
        read(none, true, Some(notes), 0, 100)
            .await
            .envelopes
            .is_empty()
    );
    assert_eq!(
        seqs(&read(own, false, Some(notes), 0, 100).await),
        [2, 3, 5]
    );
    assert_eq!(seqs(&read(all, true, Some(notes), 0, 100).await), [5]);
    // The ids at sequence numbers.
    let id = |i: usize| Some(pushed[i].id);
    let ids = |private_notes| {
        let storage = &storage;
        async move {
            storage
                .envelope_ids(t, vec![1, 2, 5, 6], None, private_notes)
                .await
                .unwrap()
        }
    };
    assert_eq!(ids(all).await, [id(0), id(1), id(4), id(5)]);
    assert_eq!(ids(own).await, [id(0), id(1), id(4), None]);
    assert_eq!(ids(none).await, [id(0), None, None, None]);
    // Stored, not remembered.
    let storage = backend.reopen(storage).await;
    let page = storage
        .pull(
            t,
            PullRequest {
                private_notes: none,
                ..everything()
            },
        )
        .await
        .unwrap();
    assert_eq!(seqs(&page), [1, 4]);
    storage.close().await.unwrap();
}

/// A sender's private-notes bundle to a recipient replaces the one it stored before (the
/// latest carries every key it holds); other senders' and bundles that came with membership
/// entries stay.
pub async fn private_notes_bundles_replace_the_senders_last<B: Backend>(backend: &mut B) {
    let storage = backend.open().await;
    let team = new_team(&storage, 1).await;
    let (r1, r2) = ([0x1a; 16], [0x2a; 16]);
    let (s, other) = (DeviceId([0x5a; 16]), DeviceId([0x6a; 16]));
    let (entry, _) = invite_entry(&team, 6, 1_400);
    let mut append = plain_append(1, &entry);
    append.bundles = vec![bundle(r1, s, 1)];
    storage.append_membership(team.team, append).await.unwrap(); // bundle 1
    let put = |sender, bundles| {
        let storage = &storage;
        async move {
            storage
                .put_private_notes_bundles(team.team, sender, bundles)
                .await
                .unwrap()
        }
    };
    assert_eq!(put(s, vec![bundle(r1, s, 2), bundle(r2, s, 3)]).await, 2); // 2, 3
    assert_eq!(
        read(&storage, team.team, r1).await,
        [(1, vec![1; 40]), (2, vec![2; 40])]
    );
    assert_eq!(put(s, vec![bundle(r1, s, 4)]).await, 1); // 4 replaces 2
    assert_eq!(put(other, vec![bundle(r1, other, 5)]).await, 1); // 5
    assert_eq!(
        read(&storage, team.team, r1).await,
        [(1, vec![1; 40]), (4, vec![4; 40]), (5, vec![5; 40])]
    );
    assert_eq!(read(&storage, team.team, r2).await, [(3, vec![3; 40])]);
    // The numbering carries on after them, for membership bundles too.
    let (entry, _) = invite_entry(&team, 7, 1_500);
    let mut append = plain_append(2, &entry);
    append.bundles = vec![bundle(r2, s, 6)];
    storage.append_membership(team.team, append).await.unwrap();
    assert_eq!(
        read(&storage, team.team, r2).await,
        [(3, vec![3; 40]), (6, vec![6; 40])]
    );
    assert!(matches!(
        storage
            .put_private_notes_bundles(TeamId([9; 16]), s, vec![bundle(r1, s, 7)])
            .await,
        Err(Error::NoSuchTeam(_))
    ));
    let storage = backend.reopen(storage).await;
    let stored = storage
        .put_private_notes_bundles(team.team, s, vec![bundle(r2, s, 8)])
        .await
        .unwrap();
    assert_eq!(stored, 1);
    assert_eq!(
        read(&storage, team.team, r2).await,
        [(6, vec![6; 40]), (7, vec![8; 40])]
    );
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
        .push(team.team, vec![e[0].clone(), e[1].clone()], RECEIVED_MS)
        .await
        .unwrap();
    assert_eq!(seqs(&first), [(1, false), (2, false)]);
    let second = storage
        .push(team.team, vec![e[1].clone(), e[2].clone()], RECEIVED_MS)
        .await
        .unwrap();
    assert_eq!(seqs(&second), [(2, true), (3, false)]);
    let within = storage
        .push(
            team.team,
            vec![e[3].clone(), e[3].clone(), e[0].clone()],
            RECEIVED_MS,
        )
        .await
        .unwrap();
    assert_eq!(seqs(&within), [(4, false), (4, true), (1, true)]);
    assert_eq!(within.head, 4);
    // Nothing new: the head is still reported.
    let nothing_new = storage
        .push(team.team, vec![e[2].clone()], RECEIVED_MS)
        .await
        .unwrap();
    assert_eq!((seqs(&nothing_new), nothing_new.head), (vec![(3, true)], 4));
    assert_eq!(
        storage
            .push(team.team, Vec::new(), RECEIVED_MS)
            .await
            .unwrap(),
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

/// A push that would take a team past its quota (envelopes, or bytes) is refused whole and
/// stores nothing; envelopes the team holds already do not count again; other teams are
/// not affected; what a team holds is still counted after reopening.
pub async fn team_quota_refuses_what_would_pass_it<B: Backend>(backend: &mut B) {
    let storage = backend.open().await;
    let team = new_team(&storage, 1).await;
    let other = new_team(&storage, 2).await;
    let doc = DocumentId([0xd0; 16]);
    let e = changes(&team, doc, 0, 4);
    storage.set_team_quota(TeamQuota {
        envelopes: 3,
        bytes: 0,
    });
    let first = storage
        .push(team.team, e[..2].to_vec(), RECEIVED_MS)
        .await
        .unwrap();
    assert_eq!(seqs(&first), [(1, false), (2, false)]);
    let over = storage
        .push(
            team.team,
            vec![e[1].clone(), e[2].clone(), e[3].clone()],
            RECEIVED_MS,
        )
        .await;
    match over {
        Err(Error::QuotaExceeded {
            team: t,
            what: "envelopes",
            would_hold: 4,
            quota: 3,
        }) if t == team.team => {}
        other => panic!("expected the envelope quota, got {other:?}"),
    }
    assert_eq!(
        storage.head(team.team).await.unwrap(),
        Some(2),
        "nothing stored"
    );
    // Up to the quota, duplicates (twice in one push, or stored already) counting once.
    let fits = storage
        .push(
            team.team,
            vec![e[0].clone(), e[2].clone(), e[2].clone()],
            RECEIVED_MS,
        )
        .await
        .unwrap();
    assert_eq!(seqs(&fits), [(1, true), (3, false), (3, true)]);
    let again = storage
        .push(team.team, e[..3].to_vec(), RECEIVED_MS)
        .await
        .unwrap();
    assert_eq!(seqs(&again), [(1, true), (2, true), (3, true)]);
    assert!(matches!(
        storage
            .push(team.team, vec![e[3].clone()], RECEIVED_MS)
            .await,
        Err(Error::QuotaExceeded { .. })
    ));
    // Every team has its own.
    let theirs = changes(&other, doc, 100, 3);
    storage.push(other.team, theirs, RECEIVED_MS).await.unwrap();

    // Bytes: room for the stored three and one more envelope of this size, not two.
    let size = |n: &NewEnvelope| n.bytes.len() as u64;
    let held: u64 = e[..3].iter().map(size).sum();
    let more = changes(&team, doc, 10, 2);
    storage.set_team_quota(TeamQuota {
        envelopes: 0,
        bytes: held + size(&more[0]),
    });
    match storage.push(team.team, more.clone(), RECEIVED_MS).await {
        Err(Error::QuotaExceeded {
            what: "bytes of envelopes",
            would_hold,
            ..
        }) => assert_eq!(would_hold, held + size(&more[0]) + size(&more[1])),
        other => panic!("expected the byte quota, got {other:?}"),
    }
    storage
        .push(team.team, vec![more[0].clone()], RECEIVED_MS)
        .await
        .unwrap();

    // What a team holds is counted from what is stored: still full after reopening.
    let storage = backend.reopen(storage).await;
    storage.set_team_quota(TeamQuota {
        envelopes: 0,
        bytes: held + size(&more[0]),
    });
    assert!(matches!(
        storage
            .push(team.team, vec![more[1].clone()], RECEIVED_MS)
            .await,
        Err(Error::QuotaExceeded { .. })
    ));
    storage.set_team_quota(TeamQuota::default());
    let unlimited = storage
        .push(team.team, vec![more[1].clone()], RECEIVED_MS)
        .await
        .unwrap();
    assert_eq!(seqs(&unlimited), [(5, false)]);
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
            let pushed = storage.push(team.team, batch, RECEIVED_MS).await.unwrap();
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
        .push(TeamId([9; 16]), changes(&a, doc, 1_000, 1), RECEIVED_MS)
        .await;
    assert!(matches!(missing, Err(Error::NoSuchTeam(_))), "{missing:?}");
    // The failure took no sequence number from anyone.
    let next = storage
        .push(a.team, changes(&a, doc, 2_000, 1), RECEIVED_MS)
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
    storage.push(team.team, batch, RECEIVED_MS).await.unwrap();

    let mut request = PullRequest {
        after: 0,
        limit: 3,
        max_bytes: usize::MAX,
        compact: false,
        document: None,
        private_notes: PrivateNotes::All,
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
                document: None,
                private_notes: PrivateNotes::All,
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
                document: None,
                private_notes: PrivateNotes::All,
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
                document: None,
                private_notes: PrivateNotes::All,
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

/// A compact pull leaves out change batches and snapshots a later snapshot covers; serves
/// both of two snapshots made without seeing each other; never leaves out key material,
/// never on the word of an impossible snapshot.
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
        envelope(t, me, a, Kind::Snapshot, 2, 4),    // 4: covered by 8 (made after it)
        envelope(t, me, a, Kind::ChangeBatch, 0, 5), // 5: covered by 8
        envelope(t, me, b, Kind::ChangeBatch, 0, 6), // 6: B has no usable snapshot
        envelope(t, me, a, Kind::KeyMaterial, 0, 7), // 7: key material: always kept
        envelope(t, me, a, Kind::Snapshot, 5, 8),    // 8: kept: 11 did not see it
        envelope(t, me, b, Kind::Snapshot, 100, 9),  // 9: covers the future: kept, never used
        envelope(t, me, b, Kind::ChangeBatch, 0, 10), // 10: kept
        envelope(t, me, a, Kind::Snapshot, 5, 11),   // 11: a snapshot of A made beside 8
        envelope(t, me, a, Kind::ChangeBatch, 0, 12), // 12: after the snapshot: kept
    ];
    let pushed = storage.push(t, plan.to_vec(), RECEIVED_MS).await.unwrap();
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
                document: None,
                private_notes: PrivateNotes::All,
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
    assert_eq!(pull_all(0, 100, true).await, [6, 7, 8, 9, 10, 11, 12]);
    assert_eq!(pull_all(0, 2, true).await, [6, 7, 8, 9, 10, 11, 12]);
    assert_eq!(pull_all(4, 100, true).await, [6, 7, 8, 9, 10, 11, 12]);
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
                document: None,
                private_notes: PrivateNotes::All,
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
                let pushed = storage.push(team.team, batch, RECEIVED_MS).await.unwrap();
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
    enrol(&storage, &team, 10, 2, 1).await;
    let doc = DocumentId([0xd0; 16]);
    storage
        .push(team.team, changes(&team, doc, 0, 5), RECEIVED_MS)
        .await
        .unwrap();
    let roster = storage.devices(team.team).await.unwrap();
    let before = storage.pull(team.team, everything()).await.unwrap();

    let storage = backend.reopen(storage).await;
    assert_eq!(storage.devices(team.team).await.unwrap(), roster);
    assert_eq!(storage.pull(team.team, everything()).await.unwrap(), before);
    assert_eq!(storage.head(team.team).await.unwrap(), Some(5));
    let more = storage
        .push(team.team, changes(&team, doc, 0, 6), RECEIVED_MS)
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
        .push(
            team.team,
            changes(&team, DocumentId([0xd0; 16]), 0, 3),
            RECEIVED_MS,
        )
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
        .push(
            team.team,
            changes(&team, DocumentId([0xd0; 16]), 0, 1),
            RECEIVED_MS,
        )
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
        .push(
            team.team,
            changes(&team, DocumentId([0xd0; 16]), 0, 1),
            RECEIVED_MS,
        )
        .await;
    assert!(matches!(push, Err(Error::Closed)), "{push:?}");
    let pull = storage.pull(team.team, everything()).await;
    assert!(matches!(pull, Err(Error::Closed)), "{pull:?}");
    assert!(storage.check().await.is_err());
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    /// Every check written in this file is in the macro's list, once.
    #[test]
    fn the_macro_lists_every_check_once() {
        let written: BTreeSet<&str> = include_str!("contract.rs")
            .lines()
            .filter_map(|line| line.strip_prefix("pub async fn "))
            .filter_map(|rest| rest.split_once("<B: Backend>"))
            .map(|(name, _)| name)
            .collect();
        let listed: BTreeSet<&str> = super::CHECKS.iter().copied().collect();
        assert_eq!(listed.len(), super::CHECKS.len(), "a check listed twice");
        assert_eq!(
            written, listed,
            "checks written vs. listed in storage_contract_tests!"
        );
    }
}
