//! The mobile API end to end, through the exported Rust functions the bindings call, with
//! an in-memory host key store and a real relay on loopback (in a runtime of its own: the
//! device's methods block, so the tests call them from plain test threads).
//!
//! - a home visit: link worker A creates the team and the case, link worker B joins by
//!   invite, records a session and updates the plan without syncing, both sync and see the
//!   same case file and plan; the patient's own device sees only its plan, ticks a step and
//!   comments, and A sees that;
//! - contested values: a status, a note and a safeguarding status set on two devices while
//!   apart show every claim with who and when, and are resolved through the API;
//! - the directory: create, upsert, Open Referral import, search, one asset, a step linked
//!   to an asset, sharing into a second team;
//! - observers fire on local and pulled changes and stop after `cancel()` or drop;
//! - bad input is a typed error and changes nothing, and error messages carry no patient
//!   data.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use holdfast_ffi::{
    AssetInput, AssetRef, Capacity, CaseStatus, CaseloadObserver, CaseloadQuery, ConcernInput,
    ConcernStatus, DeviceConfig, DirectoryQuery, DocumentObserver, EscalationTarget, GoalStatus,
    HoldfastDevice, HoldfastError, HoldingFunction, HostKeyStore, Instrument, MeasureChange,
    MeasureInput, MeasureScore, Need, NewPatientInput, NotCompletedReason, PatientDetails,
    ReferralDecision, ReferralInput, ReferralSource, Role, SessionInput, SessionMode, StepInput,
    StepOwner, measure_form,
};
use holdfast_relay::testing::TestRelay;

// ---------------------------------------------------------------------------------------
// Fixtures

/// The host's key store, in memory.
#[derive(Default)]
struct MemoryKeys(Mutex<HashMap<String, Vec<u8>>>);

impl HostKeyStore for MemoryKeys {
    fn get(&self, name: String) -> Result<Option<Vec<u8>>, HoldfastError> {
        Ok(self.0.lock().unwrap().get(&name).cloned())
    }

    fn put(&self, name: String, value: Vec<u8>) -> Result<(), HoldfastError> {
        self.0.lock().unwrap().insert(name, value);
        Ok(())
    }
}

/// A device with its own folder (dropped before the folder).
struct Phone {
    device: Arc<HoldfastDevice>,
    _dir: tempfile::TempDir,
}

impl std::ops::Deref for Phone {
    type Target = HoldfastDevice;

    fn deref(&self) -> &HoldfastDevice {
        &self.device
    }
}

fn phone(person: &str) -> Phone {
    let dir = tempfile::tempdir().unwrap();
    let device = HoldfastDevice::open(
        DeviceConfig {
            data_dir: dir.path().display().to_string(),
            person: person.into(),
            insecure_http_to_any_host: false,
        },
        Arc::new(MemoryKeys::default()),
    )
    .unwrap();
    Phone { device, _dir: dir }
}

/// Syncs every team of `device` and fails the test on any error.
fn sync(device: &HoldfastDevice) {
    for outcome in device.sync_now(None).unwrap() {
        assert_eq!(outcome.error, None, "sync of {}", outcome.team_id);
    }
}

fn patient(name: &str) -> NewPatientInput {
    NewPatientInput {
        name: name.into(),
        nhs_number: None,
        postcode: None,
        practice: Some("Meanwood Group Practice".into()),
        phone: None,
    }
}

fn home_visit(note: &str) -> SessionInput {
    SessionInput {
        start_ms: 1_750_000_000_000,
        duration_minutes: 60,
        mode: SessionMode::HomeVisit,
        attended: true,
        note: note.into(),
        follow_up: Some("2026-12-01".into()),
        holding_functions: vec![HoldingFunction::WaitingForService],
    }
}

/// A team of link worker A (admin) and link worker B, with one accepted case.
struct Team {
    relay: TestRelay,
    a: Phone,
    b: Phone,
    case: String,
    plan: String,
}

fn team_with_a_case() -> Team {
    let relay = TestRelay::blocking_start();
    let a = phone("Asha (link worker)");
    let team = a.create_team(relay.url()).unwrap();
    let ids = a.create_case(patient("Mrs Eleanor Rigby")).unwrap();
    let referral = a
        .add_referral(
            ids.case_id.clone(),
            ReferralInput {
                received: "2026-11-02".into(),
                source: ReferralSource::Gp,
                referrer: Some("Dr Patel".into()),
                reason: "Lonely since her husband died".into(),
                needs: vec![Need::Loneliness, Need::MentalWellbeing],
            },
        )
        .unwrap();
    a.decide_referral(ids.case_id.clone(), referral, ReferralDecision::Accepted)
        .unwrap();
    sync(&a);
    let b = phone("Ben (link worker)");
    let code = a.create_invite(None, Role::LinkWorker, 15).unwrap();
    let enrolled = b.redeem_invite(code).unwrap();
    assert_eq!(
        (enrolled.team_id.as_str(), enrolled.role),
        (team.as_str(), Role::LinkWorker)
    );
    assert_eq!(enrolled.first_sync_error, None);
    Team {
        relay,
        a,
        b,
        case: ids.case_id,
        plan: ids.plan_id,
    }
}

// ---------------------------------------------------------------------------------------
// A home visit

#[test]
fn a_home_visit_end_to_end_through_the_api() {
    let Team {
        a,
        b,
        case,
        plan,
        relay: _relay,
        ..
    } = team_with_a_case();

    // B has the case from the first sync, accepted and active.
    let on_b = b.case_file(case.clone()).unwrap();
    assert_eq!(on_b.status_versions, vec![CaseStatus::Active]);
    assert_eq!(on_b.referrals.len(), 1);
    assert_eq!(on_b.referrals[0].decision, Some(ReferralDecision::Accepted));
    assert_eq!(b.caseload(None).unwrap().len(), 1);

    // B's home visit, recorded without a signal: nothing leaves the phone until it syncs.
    let session = b
        .record_session(case.clone(), home_visit("Talked about the lunch club."))
        .unwrap();
    b.record_measure(
        case.clone(),
        MeasureInput {
            instrument: Instrument::Ons4,
            taken_on: "2026-11-10".into(),
            answers: vec![Some(4), Some(5), Some(4), Some(7)],
        },
    )
    .unwrap();
    b.set_what_matters(plan.clone(), "Getting out of the house again".into())
        .unwrap();
    let goal = b
        .add_goal(plan.clone(), "Go to the lunch club".into())
        .unwrap();
    b.set_goal_status(plan.clone(), goal.clone(), GoalStatus::InProgress)
        .unwrap();
    let step = b
        .add_plan_step(
            plan.clone(),
            StepInput {
                text: "Ring the lunch club on Monday".into(),
                owner: StepOwner::Patient,
                due: Some("2026-11-17".into()),
                goal_id: Some(goal.clone()),
                asset: None,
            },
        )
        .unwrap();
    b.set_get_back_in_touch(plan.clone(), "Text Ben on 07700 900123".into())
        .unwrap();
    assert!(b.sync_status(None).unwrap().pending_changes > 0);
    assert!(!b.sync_status(None).unwrap().everything_uploaded);

    // Both sync: the same case file and plan on both phones.
    sync(&b);
    sync(&a);
    sync(&b);
    assert!(b.sync_status(None).unwrap().everything_uploaded);
    let (on_a, on_b) = (
        a.case_file(case.clone()).unwrap(),
        b.case_file(case.clone()).unwrap(),
    );
    assert_eq!(on_a, on_b);
    assert_eq!(on_a.sessions.len(), 1);
    let s = &on_a.sessions[0];
    assert_eq!(s.session_id, session);
    assert_eq!(s.note_versions, vec!["Talked about the lunch club."]);
    assert_eq!(s.note_claims.len(), 1);
    assert_eq!(
        s.holding_functions,
        vec![HoldingFunction::WaitingForService]
    );
    assert_eq!(s.recorded_by, "Ben (link worker)");
    assert_eq!(on_a.next_follow_up.as_deref(), Some("2026-12-01"));
    assert_eq!(on_a.measures.len(), 1);
    assert!(matches!(on_a.measures[0].score, MeasureScore::Ons4 { .. }));
    assert_eq!(
        a.action_plan(plan.clone()).unwrap(),
        b.action_plan(plan.clone()).unwrap()
    );
    let row = &a.caseload(None).unwrap()[0];
    assert_eq!((row.session_count, row.status), (1, CaseStatus::Active));

    // The history says who did what on which device.
    let history = a.history(case.clone()).unwrap();
    let recorded = history
        .iter()
        .find(|h| h.what == "session recorded")
        .unwrap();
    assert_eq!(recorded.by.as_deref(), Some("Ben (link worker)"));
    assert_eq!(recorded.device_id, Some(b.device_id().unwrap()));

    // The patient's own phone: only the plan.
    let p = phone("Eleanor");
    let code = a.share_plan(plan.clone(), 15).unwrap();
    let enrolled = p.redeem_invite(code).unwrap();
    assert_eq!(enrolled.role, Role::Patient);
    assert_eq!(enrolled.plan_id.as_deref(), Some(plan.as_str()));
    assert_eq!(enrolled.first_sync_error, None);
    assert!(p.caseload(None).unwrap().is_empty());
    let refused = p.case_file(case.clone()).unwrap_err();
    assert!(
        matches!(
            refused,
            HoldfastError::NotFound { .. } | HoldfastError::NotAllowed { .. }
        ),
        "{refused:?}"
    );
    assert!(p.history(case.clone()).is_err());
    let mine = p.action_plan(plan.clone()).unwrap();
    assert_eq!(mine.what_matters, "Getting out of the house again");
    assert_eq!(mine.goal_details[0].status, GoalStatus::InProgress);
    assert_eq!(mine.get_back_in_touch, "Text Ben on 07700 900123");
    p.set_step_done(plan.clone(), step.clone(), true).unwrap();
    p.add_plan_comment(plan.clone(), "I rang them, going Thursday".into())
        .unwrap();
    sync(&p);

    sync(&a);
    let seen = a.action_plan(plan).unwrap();
    let ticked = seen.steps.iter().find(|s| s.step_id == step).unwrap();
    assert!(ticked.done);
    assert_eq!(ticked.goal_id.as_deref(), Some(goal.as_str()));
    assert_eq!(seen.comments.len(), 1);
    assert_eq!(seen.comments[0].by, "Eleanor");
    assert_eq!(seen.comments[0].text, "I rang them, going Thursday");
}

// ---------------------------------------------------------------------------------------
// Contested values

#[test]
fn values_set_on_two_devices_while_apart_are_shown_with_who_and_when_and_resolved() {
    let Team {
        a,
        b,
        case,
        relay: _relay,
        ..
    } = team_with_a_case();
    let session = a
        .record_session(case.clone(), home_visit("First note"))
        .unwrap();
    let concern = a
        .raise_concern(
            case.clone(),
            ConcernInput {
                description: "Bruising on her arm".into(),
                escalated_to: None,
            },
        )
        .unwrap();
    sync(&a);
    sync(&b);

    // Apart: different statuses, notes and safeguarding statuses.
    a.set_status(
        case.clone(),
        CaseStatus::Holding,
        Some("waiting for the club".into()),
    )
    .unwrap();
    b.set_status(case.clone(), CaseStatus::Tapering, None)
        .unwrap();
    a.amend_session_note(case.clone(), session.clone(), "A's version".into())
        .unwrap();
    b.amend_session_note(case.clone(), session.clone(), "B's version".into())
        .unwrap();
    a.set_concern_status(
        case.clone(),
        concern.clone(),
        ConcernStatus::Escalated,
        Some(EscalationTarget::Gp),
    )
    .unwrap();
    b.set_concern_status(case.clone(), concern.clone(), ConcernStatus::Closed, None)
        .unwrap();
    sync(&a);
    sync(&b);
    sync(&a);

    let view = a.case_file(case.clone()).unwrap();
    assert_eq!(view, b.case_file(case.clone()).unwrap());
    assert!(view.status_conflicted);
    let mut claimed: Vec<_> = view
        .status_claims
        .iter()
        .map(|c| (c.value, c.by.clone().unwrap()))
        .collect();
    claimed.sort_by_key(|(s, _)| format!("{s:?}"));
    assert_eq!(
        claimed,
        vec![
            (CaseStatus::Holding, "Asha (link worker)".to_owned()),
            (CaseStatus::Tapering, "Ben (link worker)".to_owned()),
        ]
    );
    assert!(view.status_claims.iter().all(|c| c.at_ms.is_some()));
    let note = &view.sessions[0].note_claims;
    assert_eq!(note.len(), 2);
    assert!(
        note.iter()
            .any(|c| c.value == "B's version" && c.device_id == Some(b.device_id().unwrap()))
    );
    assert!(view.safeguarding[0].status_conflicted);
    assert_eq!(view.safeguarding[0].status_claims.len(), 2);

    // A conflicted status does not move; it is resolved with one of the claims.
    let err = a
        .set_status(case.clone(), CaseStatus::Active, None)
        .unwrap_err();
    assert!(matches!(err, HoldfastError::NotAllowed { .. }), "{err:?}");
    let err = a
        .resolve_status(case.clone(), CaseStatus::Closed)
        .unwrap_err();
    assert!(matches!(err, HoldfastError::NotAllowed { .. }), "{err:?}");
    a.resolve_status(case.clone(), CaseStatus::Holding).unwrap();
    a.amend_session_note(case.clone(), session, "Agreed note".into())
        .unwrap();
    a.resolve_concern_status(case.clone(), concern, ConcernStatus::Escalated)
        .unwrap();
    sync(&a);
    sync(&b);
    let view = b.case_file(case.clone()).unwrap();
    assert!(!view.status_conflicted);
    assert_eq!(view.status_versions, vec![CaseStatus::Holding]);
    assert_eq!(view.sessions[0].note_versions, vec!["Agreed note"]);
    assert!(!view.safeguarding[0].status_conflicted);
    assert_eq!(
        view.status_log.last().map(|c| c.to),
        Some(CaseStatus::Holding)
    );
    // A supervisor's list: cases with open safeguarding (escalated is still open).
    let flagged = b
        .caseload_filtered(CaseloadQuery {
            safeguarding_only: true,
            ..CaseloadQuery::default()
        })
        .unwrap();
    assert_eq!(flagged.len(), 1);
}

// ---------------------------------------------------------------------------------------
// Measures, referrals and patient details

#[test]
fn measures_referrals_and_patient_details_as_the_core_computes_them() {
    let a = phone("Asha");
    let case = a.create_case(patient("Mr Desmond Jones")).unwrap().case_id;
    let swemwbs = |date: &str, answer: u8| MeasureInput {
        instrument: Instrument::Swemwbs,
        taken_on: date.into(),
        answers: vec![Some(answer); 7],
    };
    a.record_measure(case.clone(), swemwbs("2026-09-01", 2))
        .unwrap();
    a.record_measure(case.clone(), swemwbs("2026-11-01", 3))
        .unwrap();
    let measures = a.measures(case.clone()).unwrap();
    assert_eq!(measures.len(), 2);
    assert_eq!(
        measures[0].score,
        MeasureScore::Swemwbs {
            raw: 14,
            metric_hundredths: 1532,
            metric_text: "15.32".into()
        }
    );
    // A questionnaire that upset the patient: recorded as not completed, scoring nothing.
    a.record_measure_not_completed(
        case.clone(),
        Instrument::Ons4,
        "2026-11-08".into(),
        NotCompletedReason::Distressing,
    )
    .unwrap();
    let view = a.case_file(case.clone()).unwrap();
    assert_eq!(view.measures.len(), 2);
    assert_eq!(view.measures_not_completed.len(), 1);
    let not_done = &view.measures_not_completed[0];
    assert_eq!(
        (
            not_done.instrument,
            not_done.offered_on.as_str(),
            not_done.reason
        ),
        (
            Instrument::Ons4,
            "2026-11-08",
            NotCompletedReason::Distressing
        )
    );
    assert_eq!(view.measure_changes.len(), 1);
    assert_eq!(view.measure_changes[0].first_taken_on, "2026-09-01");
    assert!(matches!(
        view.measure_changes[0].change,
        MeasureChange::Swemwbs {
            raw: 7,
            metric_hundredths: 393,
            direction: holdfast_ffi::Direction::Improved
        }
    ));
    let form = measure_form(Instrument::Swemwbs);
    assert_eq!(
        (form.items.len(), form.min_answer, form.max_answer),
        (7, 1, 5)
    );
    assert!(form.notice.is_some());
    assert!(measure_form(Instrument::Gse).notice.is_none());

    // A declined referral closes a referred case; a re-referral reopens it.
    let referral = a
        .add_referral(
            case.clone(),
            ReferralInput {
                received: "2026-11-02".into(),
                source: ReferralSource::SelfReferral,
                referrer: None,
                reason: "Money worries".into(),
                needs: vec![Need::Money],
            },
        )
        .unwrap();
    a.decide_referral(
        case.clone(),
        referral.clone(),
        ReferralDecision::Declined {
            reason: "Unable to contact".into(),
        },
    )
    .unwrap();
    assert_eq!(
        a.case_file(case.clone()).unwrap().status_versions,
        vec![CaseStatus::Closed]
    );
    let err = a
        .decide_referral(case.clone(), referral, ReferralDecision::Accepted)
        .unwrap_err();
    assert!(matches!(err, HoldfastError::NotAllowed { .. }), "{err:?}");
    a.add_referral(
        case.clone(),
        ReferralInput {
            received: "2026-11-20".into(),
            source: ReferralSource::Gp,
            referrer: None,
            reason: "Money worries again".into(),
            needs: vec![],
        },
    )
    .unwrap();
    let view = a.case_file(case.clone()).unwrap();
    assert_eq!(view.status_versions, vec![CaseStatus::Referred]);
    assert!(view.referrals[1].re_referral);

    // Patient details: read, change, write back.
    let mut details = view.patient;
    details.date_of_birth = Some("1941-06-18".into());
    details.postcode = Some("ls6 2ab".into());
    details.preferred_contact = Some(holdfast_ffi::ContactMethod::Letter);
    a.update_patient(case.clone(), details).unwrap();
    let details = a.case_file(case).unwrap().patient;
    assert_eq!(details.postcode.as_deref(), Some("LS6 2AB"));
    assert_eq!(details.date_of_birth.as_deref(), Some("1941-06-18"));
    assert_eq!(details.practice.as_deref(), Some("Meanwood Group Practice"));
}

// ---------------------------------------------------------------------------------------
// The directory

const OPEN_REFERRAL: &str = r#"[
  {"id": "svc-1", "name": "Meanwood Lunch Club", "description": "Hot lunch and company",
   "organization": {"name": "Meanwood Community Centre"},
   "service_at_locations": [{"location": {"physical_addresses":
     [{"address_1": "1 Green Road", "city": "Leeds", "postal_code": "LS6 4JZ"}]}}],
   "service_taxonomys": [{"taxonomy": {"name": "Loneliness"}}]},
  {"id": "svc-2", "name": "Money Advice Drop-in", "description": "Benefits and debt",
   "service_at_locations": [{"location": {"physical_addresses":
     [{"address_1": "2 Main Street", "city": "Leeds", "postal_code": "LS7 1AB"}]}}]}
]"#;

#[test]
fn the_directory_import_search_link_and_share() {
    let relay = TestRelay::blocking_start();
    let a = phone("Asha");
    let first = a.create_team(relay.url()).unwrap();
    let dir = a.create_directory("Leeds North".into()).unwrap();
    assert_eq!(a.directories().unwrap(), vec![dir.clone()]);

    let walking = a
        .upsert_asset(
            dir.clone(),
            None,
            AssetInput {
                name: "Tuesday Walking Group".into(),
                description: "A gentle walk round the park".into(),
                categories: vec!["physical activity".into()],
                postcode: Some("LS6 2AB".into()),
                capacity: Capacity::WaitingList,
                ..AssetInput::default()
            },
        )
        .unwrap();
    let imported = a
        .import_open_referral(dir.clone(), OPEN_REFERRAL.into())
        .unwrap();
    assert_eq!(imported.asset_ids.len(), 2);
    assert_eq!(imported.warnings, Vec::<String>::new());
    // A re-import updates by external id instead of duplicating.
    let again = a
        .import_open_referral(dir.clone(), OPEN_REFERRAL.into())
        .unwrap();
    assert_eq!(again.asset_ids, imported.asset_ids);

    let hits = a
        .search_directory(DirectoryQuery {
            text: Some("lunch".into()),
            ..DirectoryQuery::default()
        })
        .unwrap();
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].name, "Meanwood Lunch Club");
    assert_eq!(
        hits[0].organisation.as_deref(),
        Some("Meanwood Community Centre")
    );
    assert_eq!(hits[0].district.as_deref(), Some("LS6"));
    let in_ls6 = a
        .search_directory(DirectoryQuery {
            district: Some("LS6".into()),
            ..DirectoryQuery::default()
        })
        .unwrap();
    assert_eq!(in_ls6.len(), 2, "the lunch club and the walking group");
    let waiting = a
        .search_directory(DirectoryQuery {
            capacity: Some(Capacity::WaitingList),
            ..DirectoryQuery::default()
        })
        .unwrap();
    assert_eq!(waiting.len(), 1);
    assert_eq!(waiting[0].asset_id, walking);

    // Edit: read, change, write back.
    let mut asset = a.asset(dir.clone(), walking.clone()).unwrap();
    assert_eq!(asset.details.postcode.as_deref(), Some("LS6 2AB"));
    asset.details.capacity = Capacity::Open;
    a.upsert_asset(dir.clone(), Some(walking.clone()), asset.details)
        .unwrap();
    assert_eq!(
        a.asset(dir.clone(), walking.clone())
            .unwrap()
            .details
            .capacity,
        Capacity::Open
    );

    // A step that points at an asset.
    let ids = a.create_case(patient("Mrs Eleanor Rigby")).unwrap();
    let link = AssetRef {
        directory_id: dir.clone(),
        asset_id: hits[0].asset_id.clone(),
    };
    a.add_plan_step(
        ids.plan_id.clone(),
        StepInput {
            text: "Go to the lunch club".into(),
            owner: StepOwner::Patient,
            due: None,
            goal_id: None,
            asset: Some(link.clone()),
        },
    )
    .unwrap();
    assert_eq!(
        a.action_plan(ids.plan_id).unwrap().steps[0].asset,
        Some(link)
    );

    // A link worker in two teams shares the directory into the second.
    let second = a.create_team(relay.url()).unwrap();
    assert!(a.share_directory(dir.clone(), second.clone()).unwrap() > 0);
    assert_eq!(
        a.document_teams(dir.clone()).unwrap(),
        vec![first.clone(), second.clone()]
    );
    let err = a.share_directory(ids.case_id, second.clone()).unwrap_err();
    assert!(matches!(err, HoldfastError::NotAllowed { .. }), "{err:?}");
    a.set_current_team(second.clone()).unwrap();
    let current: Vec<_> = a
        .teams()
        .unwrap()
        .into_iter()
        .filter(|t| t.current)
        .map(|t| t.team_id)
        .collect();
    assert_eq!(current, vec![second]);
    sync(&a);
}

// ---------------------------------------------------------------------------------------
// Observers

struct Counter {
    calls: AtomicUsize,
    tx: Mutex<mpsc::Sender<()>>,
}

impl Counter {
    fn new() -> (Arc<Counter>, mpsc::Receiver<()>) {
        let (tx, rx) = mpsc::channel();
        (
            Arc::new(Counter {
                calls: AtomicUsize::new(0),
                tx: Mutex::new(tx),
            }),
            rx,
        )
    }

    fn count(&self) {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let _ = self.tx.lock().unwrap().send(());
    }
}

impl DocumentObserver for Counter {
    fn document_changed(&self, _doc_id: String) {
        self.count();
    }
}

impl CaseloadObserver for Counter {
    fn caseload_changed(&self) {
        self.count();
    }
}

const WAIT: Duration = Duration::from_secs(5);
/// Long enough for a callback that should not come to have come.
const QUIET: Duration = Duration::from_millis(300);

#[test]
fn observers_fire_on_local_and_pulled_changes_and_stop_when_cancelled_or_dropped() {
    let Team {
        a,
        b,
        case,
        plan,
        relay: _relay,
        ..
    } = team_with_a_case();
    let (on_case, case_rx) = Counter::new();
    let case_handle = a.observe_document(case.clone(), on_case.clone()).unwrap();
    let (on_caseload, caseload_rx) = Counter::new();
    let caseload_handle = a.observe_caseload(on_caseload.clone()).unwrap();

    // A local change.
    a.record_session(case.clone(), home_visit("Local")).unwrap();
    case_rx.recv_timeout(WAIT).expect("document observer fired");
    caseload_rx
        .recv_timeout(WAIT)
        .expect("caseload observer fired");
    // A change to another document does not wake the case's observer.
    while case_rx.recv_timeout(QUIET).is_ok() {}
    a.add_goal(plan.clone(), "Not the case".into()).unwrap();
    assert!(case_rx.recv_timeout(QUIET).is_err());

    // A change pulled from the team.
    b.record_session(case.clone(), home_visit("From B"))
        .unwrap();
    sync(&b);
    sync(&a);
    case_rx.recv_timeout(WAIT).expect("pulled change observed");

    // Cancelled: silent.
    case_handle.cancel();
    while case_rx.recv_timeout(QUIET).is_ok() {}
    let before = on_case.calls.load(Ordering::SeqCst);
    a.record_session(case.clone(), home_visit("After cancel"))
        .unwrap();
    assert!(case_rx.recv_timeout(QUIET).is_err());
    assert_eq!(on_case.calls.load(Ordering::SeqCst), before);

    // Dropped: silent too.
    while caseload_rx.recv_timeout(QUIET).is_ok() {}
    drop(caseload_handle);
    let before = on_caseload.calls.load(Ordering::SeqCst);
    a.create_case(patient("Another")).unwrap();
    assert!(caseload_rx.recv_timeout(QUIET).is_err());
    assert_eq!(on_caseload.calls.load(Ordering::SeqCst), before);
}

// ---------------------------------------------------------------------------------------
// Bad input

fn invalid(result: Result<impl std::fmt::Debug, HoldfastError>) -> String {
    match result {
        Err(HoldfastError::InvalidInput { reason }) => reason,
        other => panic!("expected InvalidInput, got {other:?}"),
    }
}

#[test]
fn bad_input_is_a_typed_error_and_changes_nothing() {
    let a = phone("Asha");
    let ids = a.create_case(patient("Mrs Eleanor Rigby")).unwrap();
    let (case, plan) = (ids.case_id, ids.plan_id);
    let before = a.case_file(case.clone()).unwrap();
    let plan_before = a.action_plan(plan.clone()).unwrap();
    let history_len = a.history(case.clone()).unwrap().len();

    // Ids.
    assert!(invalid(a.case_file("not an id".into())).contains("case id"));
    assert!(
        invalid(a.amend_session_note(case.clone(), "zz".into(), "x".into())).contains("session id")
    );
    assert!(invalid(a.set_step_done(plan.clone(), case.clone(), true)).contains("16 hex digits"));
    let unknown = "0".repeat(32);
    assert!(matches!(
        a.case_file(unknown),
        Err(HoldfastError::NotFound { .. })
    ));
    assert!(matches!(
        a.case_file(plan.clone()),
        Err(HoldfastError::NotAllowed { .. })
    ));

    // Values the core checks.
    invalid(a.record_session(
        case.clone(),
        SessionInput {
            follow_up: Some("next Tuesday".into()),
            ..home_visit("x")
        },
    ));
    invalid(a.record_session(
        case.clone(),
        SessionInput {
            duration_minutes: 25 * 60,
            ..home_visit("x")
        },
    ));
    invalid(a.record_measure(
        case.clone(),
        MeasureInput {
            instrument: Instrument::Gse,
            taken_on: "2026-11-10".into(),
            answers: vec![Some(5); 10],
        },
    ));
    invalid(a.record_measure(
        case.clone(),
        MeasureInput {
            instrument: Instrument::Ons4,
            taken_on: "2026-11-10".into(),
            answers: vec![Some(5), None, Some(5), Some(5)],
        },
    ));
    invalid(a.record_measure_not_completed(
        case.clone(),
        Instrument::Ons4,
        "2026-13-40".into(),
        NotCompletedReason::Declined,
    ));
    invalid(a.add_referral(
        case.clone(),
        ReferralInput {
            received: "2026-11-02".into(),
            source: ReferralSource::Gp,
            referrer: None,
            reason: "   ".into(),
            needs: vec![],
        },
    ));
    invalid(a.raise_concern(
        case.clone(),
        ConcernInput {
            description: String::new(),
            escalated_to: None,
        },
    ));
    invalid(a.update_patient(
        case.clone(),
        PatientDetails {
            name: "Mrs Eleanor Rigby".into(),
            postcode: Some("not a postcode".into()),
            ..PatientDetails::default()
        },
    ));
    invalid(a.add_step(plan.clone(), String::new(), StepOwner::Patient, None));
    invalid(a.add_plan_step(
        plan.clone(),
        StepInput {
            text: "Go".into(),
            owner: StepOwner::Patient,
            due: None,
            goal_id: None,
            asset: Some(AssetRef {
                directory_id: "nope".into(),
                asset_id: "nope".into(),
            }),
        },
    ));
    invalid(a.search_directory(DirectoryQuery {
        district: Some("nowhere".into()),
        ..DirectoryQuery::default()
    }));
    let dir = a.create_directory("Leeds".into()).unwrap();
    invalid(a.import_open_referral(dir.clone(), "{not json".into()));
    invalid(a.import_open_referral(dir.clone(), r#"[{"description": "no name"}]"#.into()));
    invalid(a.upsert_asset(
        dir.clone(),
        None,
        AssetInput {
            name: "Club".into(),
            min_age: Some(65),
            max_age: Some(18),
            ..AssetInput::default()
        },
    ));
    assert!(
        a.search_directory(DirectoryQuery::default())
            .unwrap()
            .is_empty()
    );

    // An illegal status move.
    let err = a
        .set_status(case.clone(), CaseStatus::Holding, None)
        .unwrap_err();
    assert!(matches!(err, HoldfastError::NotAllowed { .. }), "{err:?}");
    let err = a
        .resolve_status(case.clone(), CaseStatus::Referred)
        .unwrap_err();
    assert!(matches!(err, HoldfastError::NotAllowed { .. }), "{err:?}");

    // Nothing changed.
    assert_eq!(a.case_file(case.clone()).unwrap(), before);
    assert_eq!(a.action_plan(plan).unwrap(), plan_before);
    assert_eq!(a.history(case).unwrap().len(), history_len);

    // Bad invites join nothing.
    let err = a.redeem_invite("not-an-invite".into()).unwrap_err();
    assert!(
        matches!(err, HoldfastError::InviteRefused { .. }),
        "{err:?}"
    );
    let err = a.join_by_invite(String::new()).unwrap_err();
    assert!(
        matches!(err, HoldfastError::InviteRefused { .. }),
        "{err:?}"
    );
    assert!(a.teams().unwrap().is_empty());
    assert!(matches!(
        a.create_invite(None, Role::LinkWorker, 15),
        Err(HoldfastError::NotAllowed { .. })
    ));
}

#[test]
fn a_second_case_for_an_nhs_number_is_refused_naming_the_first_unless_deliberate() {
    let a = phone("Asha");
    let first = a
        .create_case(NewPatientInput {
            nhs_number: Some("943 476 5919".into()),
            ..patient("Mrs Eleanor Rigby")
        })
        .unwrap();
    assert_eq!(
        a.find_case_by_nhs_number("9434765919".into()).unwrap(),
        Some(first.case_id.clone())
    );
    assert_eq!(
        a.find_case_by_nhs_number("401 023 2137".into()).unwrap(),
        None
    );
    let again = NewPatientInput {
        nhs_number: Some("9434765919".into()),
        ..patient("Eleanor Rigby")
    };
    match a.create_case(again.clone()) {
        Err(HoldfastError::DuplicatePatient {
            existing_case_id,
            reason,
        }) => {
            assert_eq!(existing_case_id, first.case_id);
            assert!(!reason.contains("9434765919"), "patient data: {reason}");
        }
        other => panic!("expected DuplicatePatient, got {other:?}"),
    }
    assert_eq!(a.caseload(None).unwrap().len(), 1, "nothing created");
    let second = a.create_duplicate_case(again).unwrap();
    assert_ne!(second.case_id, first.case_id);
    assert_eq!(a.caseload(None).unwrap().len(), 2);
}

#[test]
fn a_used_invite_is_refused_and_joins_nothing() {
    let Team {
        a, relay: _relay, ..
    } = team_with_a_case();
    let code = a.create_invite(None, Role::Supervisor, 15).unwrap();
    let s = phone("Sue (supervisor)");
    assert_eq!(
        s.redeem_invite(code.clone()).unwrap().role,
        Role::Supervisor
    );
    let late = phone("Late");
    let err = late.redeem_invite(code).unwrap_err();
    assert!(
        matches!(err, HoldfastError::InviteRefused { .. }),
        "{err:?}"
    );
    assert!(late.teams().unwrap().is_empty());
    assert!(late.caseload(None).unwrap().is_empty());
    // The supervisor reads the caseload and comments.
    let case = s.caseload(None).unwrap()[0].case_id.clone();
    s.add_supervision_comment(case.clone(), "Good work".into())
        .unwrap();
    assert_eq!(s.case_file(case).unwrap().supervision.len(), 1);
}

#[test]
fn errors_carry_no_patient_data() {
    let a = phone("Asha");
    for typed in ["9434765918", "943 476 5910", "12345", "94347659AB"] {
        let err = a
            .create_case(NewPatientInput {
                nhs_number: Some(typed.into()),
                ..patient("Mrs Eleanor Rigby")
            })
            .unwrap_err();
        let HoldfastError::InvalidInput { reason } = &err else {
            panic!("expected InvalidInput, got {err:?}");
        };
        for shown in [reason.clone(), format!("{err:?}"), err.to_string()] {
            assert!(!shown.contains(typed), "{shown}");
            assert!(!shown.contains(&typed.replace(' ', "")), "{shown}");
            assert!(!shown.contains("Eleanor"), "{shown}");
        }
    }
    assert!(a.caseload(None).unwrap().is_empty());
    let err = a
        .update_patient(
            a.create_case(patient("Mr Jones")).unwrap().case_id,
            PatientDetails {
                name: "Mr Jones".into(),
                postcode: Some("ZZ99 9ZZ9".into()),
                ..PatientDetails::default()
            },
        )
        .unwrap_err();
    assert!(!format!("{err:?}").contains("ZZ99"), "{err:?}");
}
