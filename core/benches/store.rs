//! Criterion benches of the store on the seeded caseload (250 patients, 2,000 assets):
//! record a session note (edit + persist + index), open the store and list the caseload,
//! open one full case file cold, search the directory; and open and list again once the
//! device is in a team of 20 (its membership log is folded and verified on open).
//!
//! `cargo bench -p holdfast-core --bench store`

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use holdfast_core::model::case_file::{CaseStatus, NewSession, SessionMode};
use holdfast_core::seed::{self, SeedConfig};
use holdfast_core::store::{CaseloadFilter, DirectoryQuery};
use holdfast_core::sync::Role;
use holdfast_core::{MemoryKeyStore, Store, StoreConfig};

/// The full seeded caseload under `cargo bench`; a small one when `cargo test --benches`
/// runs each bench once to check it still works.
fn seed_config() -> SeedConfig {
    if std::env::args().any(|a| a == "--bench") {
        SeedConfig::default()
    } else {
        SeedConfig {
            patients: 50,
            assets: 100,
            ..SeedConfig::default()
        }
    }
}

fn seeded() -> (tempfile::TempDir, MemoryKeyStore, StoreConfig, seed::Seeded) {
    let dir = tempfile::tempdir().expect("tempdir");
    let keys = MemoryKeyStore::default();
    let config = StoreConfig::new(dir.path(), "Bench Worker");
    let mut store = Store::create(&config, &keys).expect("create");
    let seeded = seed::populate(&mut store, &seed_config()).expect("seed");
    (dir, keys, config, seeded)
}

fn benches(c: &mut Criterion) {
    let (_dir, keys, config, seeded) = seeded();
    let mut store = Store::open(&config, &keys).expect("open");
    let active = store
        .caseload(&CaseloadFilter {
            status: Some(CaseStatus::Active),
            ..Default::default()
        })
        .expect("caseload");
    // First, while every case is as seeded (6-12 sessions, compacted or not).
    let other = seeded.cases[42].case_id;
    c.bench_function("open_case_file_cold (load from disk + typed view)", |b| {
        b.iter(|| {
            store.unload_documents();
            black_box(store.case_file(other).expect("case file"))
        })
    });

    // A link worker's day: sessions go to many cases, each of realistic size.
    let mut n = 0i64;
    c.bench_function("record_session_note (edit + persist + index, durable)", |b| {
        b.iter(|| {
            n += 1;
            let case = active[n as usize % active.len()].case_id;
            store
                .record_session(
                    case,
                    &NewSession {
                        start: 1_780_000_000_000 + n,
                        duration_minutes: 30,
                        mode: SessionMode::Phone,
                        attended: true,
                        note: "Rang to check how the first men's shed visit went; enjoyed it, going again Thursday."
                            .into(),
                        holding_functions: vec![],
                        follow_up: None,
                    },
                )
                .expect("record")
        })
    });

    c.bench_function("search_directory_2000 ('walk', district filter)", |b| {
        let q = DirectoryQuery {
            text: Some("walk".into()),
            ..Default::default()
        };
        b.iter(|| black_box(store.search_directory(&q).expect("search")))
    });
    drop(store);

    c.bench_function("open_store_and_list_caseload_250", |b| {
        b.iter(|| {
            let store = Store::open(&config, &keys).expect("open");
            let list = store
                .caseload(&CaseloadFilter::default())
                .expect("caseload");
            assert_eq!(list.len(), seed_config().patients);
            black_box(list)
        })
    });
}

/// Puts the store's device in a team of `devices` (itself its admin), enrolled as the relay
/// would: each invite and redeem appended to its log (nothing crosses a network).
fn join_team_of(store: &mut Store, devices: usize) {
    let team = store.create_team("https://relay.invalid").expect("team");
    for n in 1..devices {
        let dir = tempfile::tempdir().expect("tempdir");
        let keys = MemoryKeyStore::default();
        let config = StoreConfig::new(dir.path(), &format!("Colleague {n}"));
        let mut other = Store::create(&config, &keys).expect("create");
        let invite = store
            .prepare_invite(team, Role::LinkWorker, None, 600_000)
            .expect("invite");
        let genesis = store.membership_log(team).expect("log")[0].1.clone();
        let redeem = other
            .prepare_redeem(&invite.code, &invite.entry, &genesis)
            .expect("redeem");
        other.join_team(&keys, &invite.code, &redeem).expect("join");
        let seq = invite.expected_len;
        store
            .apply_membership(
                team,
                &[(seq, invite.entry), (seq + 1, redeem.entry)],
                seq + 2,
            )
            .expect("append");
    }
    assert_eq!(store.devices(team).expect("devices").len(), devices);
}

fn open_in_a_team(c: &mut Criterion) {
    let (_dir, keys, config, _) = seeded();
    let mut store = Store::open(&config, &keys).expect("open");
    // 20 devices: the genesis and 19 invite + redeem pairs, every entry verified on open.
    join_team_of(&mut store, 20);
    drop(store);
    c.bench_function(
        "open_store_and_list_caseload_250_in_a_team_of_20 (log re-verified)",
        |b| {
            b.iter(|| {
                let store = Store::open(&config, &keys).expect("open");
                let list = store
                    .caseload(&CaseloadFilter::default())
                    .expect("caseload");
                assert_eq!(list.len(), seed_config().patients);
                black_box(list)
            })
        },
    );
}

criterion_group! {
    name = store;
    config = Criterion::default().sample_size(50);
    targets = benches, open_in_a_team
}
criterion_main!(store);
