//! The store end to end on one device: edits persist, indexes follow, reopen sees everything.

use holdfast_core::model::case_file::{
    CaseStatus, Need, NewPatient, NewReferral, NewSession, ReferralDecision, ReferralSource,
    SessionMode,
};
use holdfast_core::model::directory::AssetInput;
use holdfast_core::model::measures::Instrument;
use holdfast_core::store::{CaseloadFilter, DirectoryQuery};
use holdfast_core::{MemoryKeyStore, Store, StoreConfig};
use time::macros::date;

fn session(note: &str) -> NewSession {
    NewSession {
        start: 1_760_000_000_000,
        duration_minutes: 45,
        mode: SessionMode::HomeVisit,
        attended: true,
        note: note.into(),
        holding_functions: vec![],
        follow_up: Some(date!(2026 - 12 - 01)),
    }
}

#[test]
fn a_home_visit_survives_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let keys = MemoryKeyStore::default();
    let config = StoreConfig::new(dir.path(), "Sam Okafor");
    let case = {
        let mut store = Store::create(&config, &keys).unwrap();
        let case = store
            .create_case_file(NewPatient::named("Ada Lovelace"))
            .unwrap();
        let r = store
            .add_referral(
                case.case_id,
                &NewReferral {
                    received: date!(2026 - 11 - 01),
                    source: ReferralSource::Gp,
                    referrer: Some("Dr Patel".into()),
                    reason: "isolated since bereavement".into(),
                    needs: vec![Need::Loneliness],
                },
            )
            .unwrap();
        store
            .decide_referral(case.case_id, r, &ReferralDecision::Accepted)
            .unwrap();
        store
            .record_session(case.case_id, &session("talked about the allotment"))
            .unwrap();
        store
            .record_measure(
                case.case_id,
                Instrument::Ons4,
                date!(2026 - 11 - 02),
                &[Some(4), Some(5), Some(3), Some(7)],
            )
            .unwrap();
        store
            .add_goal(case.plan_id, "get back to the allotment")
            .unwrap();
        case
    };
    let mut store = Store::open(&config, &keys).unwrap();
    let file = store.case_file(case.case_id).unwrap();
    assert_eq!(file.patient.name, "Ada Lovelace");
    assert_eq!(file.status.agreed(), Some(&CaseStatus::Active));
    assert_eq!(file.sessions.len(), 1);
    assert_eq!(
        file.sessions[0].note.agreed().unwrap(),
        "talked about the allotment"
    );
    assert_eq!(file.measures.len(), 1);
    let caseload = store.caseload(&CaseloadFilter::default()).unwrap();
    assert_eq!(caseload.len(), 1);
    assert_eq!(caseload[0].status, CaseStatus::Active);
    assert_eq!(caseload[0].session_count, 1);
    assert_eq!(caseload[0].next_follow_up, Some(date!(2026 - 12 - 01)));
    let plan = store.action_plan(case.plan_id).unwrap();
    assert_eq!(plan.goals[0].text, "get back to the allotment");
    let history = store.history(case.case_id).unwrap();
    assert!(
        history
            .iter()
            .any(|h| h.what == "session recorded" && h.by.as_deref() == Some("Sam Okafor"))
    );
    assert!(store.outbox_len().unwrap() >= 6);

    let dirid = store.create_directory("Leeds North").unwrap();
    store
        .upsert_asset(
            dirid,
            None,
            &AssetInput {
                name: "Tuesday Walking Group".into(),
                description: "A gentle walk round the park".into(),
                categories: vec!["Physical activity".into()],
                postcode: Some("LS6 2AB".parse().unwrap()),
                ..Default::default()
            },
        )
        .unwrap();
    let hits = store
        .search_directory(&DirectoryQuery {
            text: Some("walk".into()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(hits.len(), 1);
    let hits = store
        .search_directory(&DirectoryQuery {
            district: Some("LS6".into()),
            category: Some("physical activity".into()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(hits.len(), 1);
}

#[test]
fn compaction_keeps_every_change() {
    let dir = tempfile::tempdir().unwrap();
    let keys = MemoryKeyStore::default();
    let mut config = StoreConfig::new(dir.path(), "Sam");
    config.compact_after = 5;
    let mut store = Store::create(&config, &keys).unwrap();
    let case = store.create_case_file(NewPatient::named("Ada")).unwrap();
    store
        .set_status(case.case_id, CaseStatus::Active, None)
        .unwrap();
    for i in 0..12 {
        store
            .record_session(case.case_id, &session(&format!("note {i}")))
            .unwrap();
    }
    let heads = store.heads(case.case_id).unwrap();
    drop(store);
    let mut store = Store::open(&config, &keys).unwrap();
    assert_eq!(store.heads(case.case_id).unwrap(), heads);
    assert_eq!(store.case_file(case.case_id).unwrap().sessions.len(), 12);
}

#[test]
fn incremental_caseload_row_equals_a_full_rebuild() {
    let dir = tempfile::tempdir().unwrap();
    let keys = MemoryKeyStore::default();
    let mut store = Store::create(&StoreConfig::new(dir.path(), "Sam"), &keys).unwrap();
    let case = store.create_case_file(NewPatient::named("Ada")).unwrap();
    store
        .set_status(case.case_id, CaseStatus::Active, None)
        .unwrap();
    // Out of order, a tie on start time, a did-not-attend as the latest, follow-ups missing.
    let sessions = [
        (5_000, true, Some(date!(2026 - 12 - 05))),
        (1_000, true, Some(date!(2026 - 12 - 01))),
        (5_000, true, Some(date!(2026 - 12 - 09))),
        (5_000, true, None),
        (9_000, false, Some(date!(2026 - 12 - 20))),
        (7_000, true, None),
    ];
    for (start, attended, follow_up) in sessions {
        let mut s = session("n");
        s.start = start;
        s.attended = attended;
        s.follow_up = follow_up;
        store.record_session(case.case_id, &s).unwrap();
    }
    let incremental = store.caseload(&CaseloadFilter::default()).unwrap();
    assert_eq!(incremental[0].session_count, 6);
    assert_eq!(
        incremental[0].last_contact,
        Some(7_000),
        "the did-not-attend is not contact"
    );
    assert_eq!(incremental[0].next_follow_up, Some(date!(2026 - 12 - 20)));
    store.rebuild_indexes().unwrap();
    assert_eq!(
        store.caseload(&CaseloadFilter::default()).unwrap(),
        incremental
    );
    // Header edits leave the session aggregates alone and update what they change.
    store
        .set_status(
            case.case_id,
            CaseStatus::Holding,
            Some("waiting for housing"),
        )
        .unwrap();
    let after = store.caseload(&CaseloadFilter::default()).unwrap();
    assert_eq!(after[0].status, CaseStatus::Holding);
    assert_eq!(after[0].session_count, 6);
    store.rebuild_indexes().unwrap();
    assert_eq!(store.caseload(&CaseloadFilter::default()).unwrap(), after);
}

#[test]
fn observers_hear_which_documents_changed_and_nothing_on_a_refused_edit() {
    use holdfast_core::store::StoreEvent;
    let dir = tempfile::tempdir().unwrap();
    let keys = MemoryKeyStore::default();
    let mut store = Store::create(&StoreConfig::new(dir.path(), "Sam Okafor"), &keys).unwrap();
    let mut events = store.subscribe();
    let case = store
        .create_case_file(NewPatient::named("Ada Lovelace"))
        .unwrap();
    store
        .record_session(case.case_id, &session("talked"))
        .unwrap();
    // Refused: changes nothing, tells nobody.
    assert!(
        store
            .set_status(case.case_id, CaseStatus::Holding, None)
            .is_err()
    );
    let mut seen = Vec::new();
    while let Ok(e) = events.try_recv() {
        seen.push(e);
    }
    use holdfast_core::model::doc::DocKind;
    assert_eq!(
        seen,
        vec![
            StoreEvent::DocumentChanged {
                doc: case.plan_id,
                kind: DocKind::ActionPlan
            },
            StoreEvent::CaseloadChanged,
            StoreEvent::DocumentChanged {
                doc: case.case_id,
                kind: DocKind::CaseFile
            },
            StoreEvent::CaseloadChanged,
            StoreEvent::LocalChange,
            StoreEvent::DocumentChanged {
                doc: case.case_id,
                kind: DocKind::CaseFile
            },
            StoreEvent::CaseloadChanged,
            StoreEvent::LocalChange,
        ]
    );
}

/// Three ONS4 measures on one day (a baseline, a correction, a review at the same visit):
/// they read back in the order they were recorded, whatever their random ids, and the
/// change is from the first to the last. Repeated, so id order cannot agree by luck.
#[test]
fn measures_taken_the_same_day_order_by_when_they_were_recorded() {
    use holdfast_core::model::measures::Ons4Question;
    use holdfast_core::{ManualClock, SharedClock};
    use std::time::Duration;

    let dir = tempfile::tempdir().unwrap();
    let keys = MemoryKeyStore::default();
    let clock = ManualClock::at(1_780_000_000_000);
    let shared: SharedClock = std::sync::Arc::new(clock.clone());
    let config = StoreConfig::new(dir.path(), "Sam Okafor").with_clock(shared);
    let mut store = Store::create(&config, &keys).unwrap();
    let day = date!(2026 - 11 - 20);
    for round in 0..12 {
        let case = store
            .create_case_file(NewPatient::named(&format!("Patient {round}")))
            .unwrap()
            .case_id;
        // Life satisfaction 2, then 5, then 8, all taken the same day.
        let mut recorded = Vec::new();
        for satisfied in [2, 5, 8] {
            clock.advance(Duration::from_secs(60));
            recorded.push(
                store
                    .record_measure(
                        case,
                        Instrument::Ons4,
                        day,
                        &[Some(satisfied), Some(5), Some(5), Some(5)],
                    )
                    .unwrap(),
            );
        }
        let file = store.case_file(case).unwrap();
        let order: Vec<_> = file.measures.iter().map(|m| m.id).collect();
        assert_eq!(
            order, recorded,
            "round {round}: read back in recording order"
        );
        let change = file.measure_change(Instrument::Ons4).unwrap();
        let holdfast_core::model::measures::Change::Ons4(change) = change else {
            panic!("an ONS4 change")
        };
        assert_eq!(
            change.delta(Ons4Question::LifeSatisfaction),
            6,
            "round {round}: from the first (2) to the last (8)"
        );
        assert_eq!(
            file.measures
                .windows(2)
                .filter(|w| w[0].recorded_at < w[1].recorded_at)
                .count(),
            2
        );
    }
}

/// The same patient twice in a team, by a new case or by editing another case's number, is
/// refused naming the first case, unless said to be deliberate; the first case stays the
/// one named however often the index is rebuilt.
#[test]
fn one_case_per_nhs_number_per_team_unless_deliberate() {
    use holdfast_core::Error;
    use holdfast_core::model::nhs_number::NhsNumber;
    use holdfast_core::store::IfDuplicate;

    let dir = tempfile::tempdir().unwrap();
    let keys = MemoryKeyStore::default();
    let mut store = Store::create(&StoreConfig::new(dir.path(), "Sam"), &keys).unwrap();
    let number: NhsNumber = "943 476 5919".parse().unwrap();
    let mut ada = NewPatient::named("Ada Lovelace");
    ada.nhs_number = Some(number.clone());
    let first = store.create_case_file(ada.clone()).unwrap().case_id;
    // Editing the case's own details keeps its number: no clash with itself.
    let mut details = store.case_file(first).unwrap().patient;
    details.phone = Some("0113 496 0000".into());
    store.update_patient(first, &details).unwrap();

    let err = store.create_case_file(ada.clone()).unwrap_err();
    assert!(
        matches!(err, Error::DuplicatePatient { existing } if existing == first),
        "{err:?}"
    );
    let other = store
        .create_case_file(NewPatient::named("Ada King"))
        .unwrap()
        .case_id;
    let mut typo = store.case_file(other).unwrap().patient;
    typo.nhs_number = Some(number.clone());
    let err = store.update_patient(other, &typo).unwrap_err();
    assert!(
        matches!(err, Error::DuplicatePatient { existing } if existing == first),
        "{err:?}"
    );
    assert_eq!(
        store.case_file(other).unwrap().patient.nhs_number,
        None,
        "nothing changed"
    );
    assert_eq!(store.caseload(&CaseloadFilter::default()).unwrap().len(), 2);

    // Deliberately: both ways work, and the first case stays the one named.
    store
        .update_patient_with(other, &typo, IfDuplicate::Create)
        .unwrap();
    let third = store
        .create_case_file_with(ada, IfDuplicate::Create)
        .unwrap()
        .case_id;
    assert_eq!(store.caseload(&CaseloadFilter::default()).unwrap().len(), 3);
    assert_ne!(third, first);
    store.rebuild_indexes().unwrap();
    assert_eq!(store.find_case_by_nhs_number(&number).unwrap(), Some(first));
    // Cases that already share the number stay editable: a new phone number is no clash.
    let mut details = store.case_file(third).unwrap().patient;
    details.phone = Some("0113 496 0001".into());
    store.update_patient(third, &details).unwrap();
    assert_eq!(
        store.case_file(third).unwrap().patient.phone.as_deref(),
        Some("0113 496 0001")
    );
}
