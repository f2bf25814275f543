//! Connections to community assets on one device, with the clock set by the test: linking
//! a step records "suggested", the link worker (or the patient) records what happened next,
//! dated and by whom, and each asset's demand counts every person once at their latest
//! connection. Concurrent records converge: `tests/convergence.rs`.

use std::sync::Arc;
use std::time::Duration;

use holdfast_core::model::action_plan::{AssetRef, ConnectionStatus, NewStep, StepOwner};
use holdfast_core::model::case_file::NewPatient;
use holdfast_core::model::directory::AssetInput;
use holdfast_core::model::ids::{DocumentId, StepId};
use holdfast_core::{Error, MemoryKeyStore, Store, StoreConfig};
use holdfast_protocol::ManualClock;
use time::macros::date;

/// Friday 4 December 2026, 09:00 UTC.
const FRIDAY_9AM: u64 = 1_796_374_800_000;

fn store(clock: &ManualClock) -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let config = StoreConfig::new(dir.path(), "Sam Okafor").with_clock(Arc::new(clock.clone()));
    let store = Store::create(&config, &MemoryKeyStore::default()).unwrap();
    (dir, store)
}

fn plan_of(s: &mut Store, name: &str) -> DocumentId {
    s.create_case_file(NewPatient::named(name)).unwrap().plan_id
}

fn step(s: &mut Store, plan: DocumentId, text: &str, asset: Option<AssetRef>) -> StepId {
    s.add_step(
        plan,
        &NewStep {
            goal: None,
            text: text.into(),
            owner: StepOwner::Patient,
            due: None,
            asset,
        },
    )
    .unwrap()
}

#[test]
fn connections_are_dated_by_whom_and_each_asset_counts_people_at_their_latest() {
    let clock = ManualClock::at(FRIDAY_9AM);
    let (_dir, mut s) = store(&clock);
    let dir = s.create_directory("Leeds").unwrap();
    let asset = |s: &mut Store, name: &str| AssetRef {
        directory: dir,
        asset: s
            .upsert_asset(
                dir,
                None,
                &AssetInput {
                    name: name.into(),
                    ..Default::default()
                },
            )
            .unwrap(),
    };
    let walking = asset(&mut s, "Walking group");
    let lunch = asset(&mut s, "Lunch club");

    let (ann, bob, cat) = (
        plan_of(&mut s, "Ann"),
        plan_of(&mut s, "Bob"),
        plan_of(&mut s, "Cat"),
    );
    let ann_walk = step(&mut s, ann, "Try the walking group", Some(walking));
    let bob_walk = step(&mut s, bob, "Walking group on Tuesdays", Some(walking));
    let bob_again = step(&mut s, bob, "Ask about the Thursday walk", Some(walking));
    let cat_lunch = step(&mut s, cat, "Lunch club at the church hall", Some(lunch));
    let plain = step(&mut s, cat, "Ring her sister", None);

    // Linking records "suggested" today, by this device's person.
    let plan = s.action_plan(ann).unwrap();
    let first = plan.steps[0].connection_status().unwrap();
    assert_eq!(
        (first.status, first.on, first.by.as_str()),
        (
            ConnectionStatus::Suggested,
            date!(2026 - 12 - 04),
            "Sam Okafor"
        )
    );
    assert!(
        s.action_plan(cat)
            .unwrap()
            .steps
            .iter()
            .find(|x| x.id == plain)
            .unwrap()
            .connection
            .is_empty(),
        "a step without an asset has no connection"
    );

    clock.advance(Duration::from_secs(7 * 86_400));
    s.record_connection(ann, ann_walk, ConnectionStatus::Attended, None)
        .unwrap();
    s.record_connection(
        bob,
        bob_walk,
        ConnectionStatus::Contacted,
        Some(date!(2026 - 12 - 07)),
    )
    .unwrap();
    clock.advance(Duration::from_secs(1));
    s.record_connection(bob, bob_again, ConnectionStatus::WaitingList, None)
        .unwrap();
    s.record_connection(cat, cat_lunch, ConnectionStatus::Declined, None)
        .unwrap();
    clock.advance(Duration::from_secs(7 * 86_400));
    s.record_connection(ann, ann_walk, ConnectionStatus::StillGoing, None)
        .unwrap();

    let history: Vec<_> = s.action_plan(ann).unwrap().steps[0]
        .connection
        .iter()
        .map(|e| (e.status, e.on))
        .collect();
    assert_eq!(
        history,
        vec![
            (ConnectionStatus::Suggested, date!(2026 - 12 - 04)),
            (ConnectionStatus::Attended, date!(2026 - 12 - 11)),
            (ConnectionStatus::StillGoing, date!(2026 - 12 - 18)),
        ]
    );

    // Demand: Ann attending and Bob waiting (his later step counts, once) for the walking
    // group; Cat declined the lunch club.
    let demand = s.asset_demand(Some(dir)).unwrap();
    assert_eq!(demand.len(), 2);
    let w = &demand[0];
    assert_eq!(
        (
            w.asset,
            w.name.as_deref(),
            w.people,
            w.attending,
            w.waiting_list,
            w.contacted
        ),
        (walking.asset, Some("Walking group"), 2, 1, 1, 0)
    );
    let l = &demand[1];
    assert_eq!(
        (l.asset, l.people, l.declined, l.attending),
        (lunch.asset, 1, 1, 0)
    );
    assert!(
        s.asset_demand(Some(DocumentId::random()))
            .unwrap()
            .is_empty()
    );

    // Refused, and nothing written: a step with no asset, a day still to come.
    let heads = s.heads(cat).unwrap();
    let err = s
        .record_connection(cat, plain, ConnectionStatus::Attended, None)
        .unwrap_err();
    assert!(
        matches!(err, Error::InvalidInput { field: "step", .. }),
        "{err:?}"
    );
    let err = s
        .record_connection(
            cat,
            cat_lunch,
            ConnectionStatus::Attended,
            Some(date!(2026 - 12 - 19)),
        )
        .unwrap_err();
    assert!(
        matches!(err, Error::InvalidInput { field: "date", .. }),
        "{err:?}"
    );
    assert_eq!(s.heads(cat).unwrap(), heads);

    // Linked today, recorded today as attended last week: the later record stands, not
    // the "suggested" the link made.
    let dan = plan_of(&mut s, "Dan");
    let dan_walk = step(&mut s, dan, "Walking group", Some(walking));
    s.record_connection(
        dan,
        dan_walk,
        ConnectionStatus::Attended,
        Some(date!(2026 - 12 - 10)),
    )
    .unwrap();
    let plan = s.action_plan(dan).unwrap();
    let latest = plan.steps[0].connection_status().unwrap();
    assert_eq!(
        (latest.status, latest.on),
        (ConnectionStatus::Attended, date!(2026 - 12 - 10))
    );
    let w = &s.asset_demand(Some(dir)).unwrap()[0];
    assert_eq!((w.people, w.attending), (3, 2));

    // The index is derived: a rebuild gives the same demand.
    let before = s.asset_demand(None).unwrap();
    s.rebuild_indexes().unwrap();
    assert_eq!(s.asset_demand(None).unwrap(), before);
}
