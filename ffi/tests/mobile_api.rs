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
//!   data;
//! - oversight: a supervisor hands a case to a link worker, reviews it and comments; the
//!   link worker sees the comment as new and acknowledges it; ring-backs, load, team
//!   members; the worklist observer fires on edits and synced changes that alter the list,
//!   not on those that leave it as it was, and at local midnight (a device on a
//!   `ManualClock` through `HoldfastDevice::open_with_clock`);
//! - private supervision notes: a link worker writes them, the supervisor reads them after a
//!   sync and responds, the link worker sees the response; observers fire on both phones;
//!   another link worker and a patient's phone are refused and hold no copy; bad ids and
//!   text are typed errors that change nothing.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use common::{MemoryKeys, Phone, phone, sync};
use holdfast_core::ManualClock;
use holdfast_ffi::{
    AssetInput, AssetRef, Capacity, CaseStatus, CaseloadObserver, CaseloadQuery, ClosureReason,
    ConcernInput, ConcernStatus, ConnectionStatus, DeviceConfig, DirectoryQuery, DocumentObserver,
    EscalationTarget, FeedbackKind, GoalStatus, HoldfastDevice, HoldfastError, HoldingFunction,
    Instrument, LoadLimits, MeasureChange, MeasureInput, MeasureScore, Need, NewPatientInput,
    NotCompletedReason, NoteKind, PatientDetails, PrivateNoteView, PrivateNotesView,
    ReferralDecision, ReferralInput, ReferralSource, Role, SessionInput, SessionMode, StepInput,
    StepOwner, TeamLimitsView, WorkItem, WorkKind, WorklistObserver, measure_form,
};
use holdfast_relay::testing::TestRelay;

// ---------------------------------------------------------------------------------------
// Fixtures

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

/// The caseload in pages: walked to the end they give the whole list, in its order, once;
/// a page of 0 rows, or more than 1,000, is the caller's mistake.
#[test]
fn the_caseload_comes_in_pages_in_the_lists_order() {
    let a = phone("Asha");
    for name in ["Ann Ash", "Bob Birch", "Cat Cedar", "Dan Elm", "Eve Fir"] {
        a.create_case(patient(name)).unwrap();
    }
    let whole = a.caseload_filtered(CaseloadQuery::default()).unwrap();
    assert_eq!(whole.len(), 5);
    let mut walked = Vec::new();
    let mut after = None;
    loop {
        let page = a
            .caseload_page(CaseloadQuery::default(), 2, after.clone())
            .unwrap();
        if page.is_empty() {
            break;
        }
        assert!(page.len() <= 2);
        after = page.last().cloned();
        walked.extend(page);
    }
    assert_eq!(walked, whole);
    for limit in [0, 1_001] {
        let err = a
            .caseload_page(CaseloadQuery::default(), limit, None)
            .unwrap_err();
        assert!(matches!(err, HoldfastError::InvalidInput { .. }), "{err:?}");
    }
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

// ---------------------------------------------------------------------------------------
// Oversight

fn not_found(result: Result<impl std::fmt::Debug, HoldfastError>) {
    match result {
        Err(HoldfastError::NotFound { .. }) => {}
        other => panic!("expected NotFound, got {other:?}"),
    }
}

fn not_allowed(result: Result<impl std::fmt::Debug, HoldfastError>) {
    match result {
        Err(HoldfastError::NotAllowed { .. }) => {}
        other => panic!("expected NotAllowed, got {other:?}"),
    }
}

/// A worklist observer that hands each list delivered to the test.
struct Lists {
    calls: AtomicUsize,
    tx: Mutex<mpsc::Sender<Vec<WorkItem>>>,
}

impl Lists {
    fn new() -> (Arc<Lists>, mpsc::Receiver<Vec<WorkItem>>) {
        let (tx, rx) = mpsc::channel();
        (
            Arc::new(Lists {
                calls: AtomicUsize::new(0),
                tx: Mutex::new(tx),
            }),
            rx,
        )
    }
}

impl WorklistObserver for Lists {
    fn worklist_changed(&self, items: Vec<WorkItem>) {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let _ = self.tx.lock().unwrap().send(items);
    }
}

/// Receives lists until one satisfies `wanted` (a sync may deliver a few on the way).
fn list_where(
    rx: &mpsc::Receiver<Vec<WorkItem>>,
    what: &str,
    wanted: impl Fn(&[WorkItem]) -> bool,
) -> Vec<WorkItem> {
    let deadline = std::time::Instant::now() + WAIT;
    let mut seen = Vec::new();
    while let Some(left) = deadline.checked_duration_since(std::time::Instant::now()) {
        match rx.recv_timeout(left) {
            Ok(list) if wanted(&list) => return list,
            Ok(list) => seen.push(list),
            Err(_) => break,
        }
    }
    panic!("no worklist {what} delivered; delivered: {seen:?}");
}

const UNKNOWN_ITEM: &str = "00000000000000ff";

#[test]
fn oversight_on_one_device_and_bad_input_refused_without_change() {
    let a = phone("Asha");
    let ids = a.create_case(patient("Mrs Eleanor Rigby")).unwrap();
    let (case, plan) = (ids.case_id, ids.plan_id);
    let me = a.device_id().unwrap();

    // The creator holds a new case; the first handover names them.
    let view = a.case_file(case.clone()).unwrap();
    let holder = view.holder.clone().expect("a holder");
    assert_eq!(
        (holder.device_id.as_str(), holder.name.as_deref()),
        (me.as_str(), Some("Asha"))
    );
    assert!(!holder.contested);
    assert_eq!(holder.claims.len(), 1);
    assert_eq!(holder.claims[0].device_id, me);
    assert_eq!(view.handovers.len(), 1);
    let first = &view.handovers[0];
    assert_eq!(
        (first.from_device_id.as_ref(), first.to_device_id.as_str()),
        (None, me.as_str())
    );
    assert_eq!(
        (first.to_name.as_str(), first.by.as_str()),
        ("Asha", "Asha")
    );
    assert!(view.reviews.is_empty() && view.comment_acks.is_empty() && view.ring_backs.is_empty());
    assert_eq!(a.member_name(me.clone()).unwrap().as_deref(), Some("Asha"));
    assert_eq!(a.member_name("1".repeat(32)).unwrap(), None);
    let load = a.caseload_load(None).unwrap();
    assert_eq!(load.len(), 1);
    assert_eq!(
        load[0].worker.as_ref().map(|w| w.device_id.as_str()),
        Some(me.as_str())
    );
    assert_eq!(load[0].referred, 1);

    // Bad input: typed errors, nothing written.
    let before = a.case_file(case.clone()).unwrap();
    let history_len = a.history(case.clone()).unwrap().len();
    let unknown = "0".repeat(32);
    assert!(invalid(a.assign_case("nope".into(), me.clone(), None, None)).contains("case id"));
    assert!(invalid(a.assign_case(case.clone(), "nope".into(), None, None)).contains("device id"));
    not_found(a.assign_case(unknown.clone(), me.clone(), None, None));
    not_found(a.mark_reviewed(unknown.clone()));
    not_found(a.add_ring_back(unknown.clone(), "2026-12-04".into(), "Missed call".into()));
    not_found(a.complete_ring_back(unknown.clone(), UNKNOWN_ITEM.into()));
    not_found(a.acknowledge_comment(unknown.clone(), UNKNOWN_ITEM.into()));
    // Already held by this device; outside a team nobody else can hold it; a plan is not a
    // case.
    not_allowed(a.assign_case(case.clone(), me.clone(), None, None));
    not_allowed(a.assign_case(case.clone(), "1".repeat(32), Some("Kim".into()), None));
    not_allowed(a.mark_reviewed(plan.clone()));
    invalid(a.add_ring_back(case.clone(), "next Tuesday".into(), "Missed call".into()));
    invalid(a.add_ring_back(case.clone(), "2026-02-30".into(), "Missed call".into()));
    invalid(a.add_ring_back(case.clone(), "2026-12-04".into(), "   ".into()));
    assert!(invalid(a.acknowledge_comment(case.clone(), "zz".into())).contains("comment id"));
    assert!(invalid(a.complete_ring_back(case.clone(), "zz".into())).contains("ring-back id"));
    not_found(a.acknowledge_comment(case.clone(), UNKNOWN_ITEM.into()));
    not_found(a.complete_ring_back(case.clone(), UNKNOWN_ITEM.into()));
    invalid(a.worklist(Some("2026-13-01".into()), None));
    invalid(a.today(841));
    invalid(a.today(-841));
    let (never, never_rx) = Lists::new();
    invalid(a.observe_worklist(24 * 60, never, None));
    assert!(never_rx.recv_timeout(QUIET).is_err());
    not_allowed(a.team_members(None));
    invalid(a.team_members(Some("nope".into())));
    invalid(a.member_name("nope".into()));
    assert_eq!(a.case_file(case.clone()).unwrap(), before);
    assert_eq!(a.history(case.clone()).unwrap().len(), history_len);

    // A ring-back: on the worklist on its day, in the case file, made once.
    let ring = a
        .add_ring_back(
            case.clone(),
            "2026-12-04".into(),
            "Missed call about the PIP form".into(),
        )
        .unwrap();
    assert!(
        a.worklist(Some("2026-12-03".into()), None)
            .unwrap()
            .is_empty()
    );
    let items = a.worklist(Some("2026-12-07".into()), None).unwrap();
    assert_eq!(items.len(), 1);
    let item = &items[0];
    assert_eq!(
        (item.kind, item.case_id.as_str()),
        (WorkKind::RingBack, case.as_str())
    );
    assert_eq!(
        (item.due.as_deref(), item.overdue),
        (Some("2026-12-04"), true)
    );
    assert_eq!(item.ring_back_id.as_deref(), Some(ring.as_str()));
    assert_eq!(item.note.as_deref(), Some("Missed call about the PIP form"));
    assert_eq!(item.patient_name, "Mrs Eleanor Rigby");
    let rb = &a.case_file(case.clone()).unwrap().ring_backs;
    assert_eq!(rb.len(), 1);
    assert_eq!(
        (rb[0].ring_back_id.as_str(), rb[0].due.as_str()),
        (ring.as_str(), "2026-12-04")
    );
    assert_eq!(
        (rb[0].by.as_str(), rb[0].device_id.as_str()),
        ("Asha", me.as_str())
    );
    assert_eq!(rb[0].done_at_ms, None);
    a.complete_ring_back(case.clone(), ring.clone()).unwrap();
    assert!(
        a.case_file(case.clone()).unwrap().ring_backs[0]
            .done_at_ms
            .is_some()
    );
    assert!(
        a.worklist(Some("2026-12-07".into()), None)
            .unwrap()
            .is_empty()
    );
    not_allowed(a.complete_ring_back(case.clone(), ring));

    // Review outside a team: the device's own queue, a mark, a comment brings it back.
    assert!(
        a.review_queue(50)
            .unwrap()
            .iter()
            .any(|q| q.case_id == case)
    );
    let seen = a.mark_reviewed(case.clone()).unwrap();
    assert_eq!((seen.handovers, seen.sessions, seen.comments), (1, 0, 0));
    assert!(
        a.review_queue(50)
            .unwrap()
            .iter()
            .all(|q| q.case_id != case)
    );
    let reviews = a.case_file(case.clone()).unwrap().reviews;
    assert_eq!(reviews.len(), 1);
    assert_eq!(
        (reviews[0].reviewer_device_id.as_str(), reviews[0].seen),
        (me.as_str(), seen)
    );
    let comment = a
        .add_supervision_comment(case.clone(), "Check the lunch club has space".into())
        .unwrap();
    let queue = a.review_queue(50).unwrap();
    let back = queue
        .iter()
        .find(|q| q.case_id == case)
        .expect("back in the queue");
    assert_eq!(back.changed.comments, 1);
    assert_eq!(back.reviewed_at_ms, Some(reviews[0].at_ms));
    assert_eq!(
        back.holder.as_ref().and_then(|h| h.name.as_deref()),
        Some("Asha")
    );
    // This device holds the case: the comment is new to it until acknowledged.
    let new = a.new_supervision_comments().unwrap();
    assert_eq!(new.len(), 1);
    assert_eq!(
        (new[0].comment_id.as_str(), new[0].case_id.as_str()),
        (comment.as_str(), case.as_str())
    );
    assert_eq!(
        a.case_file(case.clone()).unwrap().supervision[0].comment_id,
        comment
    );
    a.acknowledge_comment(case.clone(), comment.clone())
        .unwrap();
    a.acknowledge_comment(case.clone(), comment.clone())
        .unwrap();
    assert!(a.new_supervision_comments().unwrap().is_empty());
    let acks = a.case_file(case.clone()).unwrap().comment_acks;
    assert_eq!(acks.len(), 1, "acknowledged twice, kept once");
    assert_eq!(
        (acks[0].comment_id.as_str(), acks[0].device_id.as_str()),
        (comment.as_str(), me.as_str())
    );
    // The load against limits set lower.
    let strict = LoadLimits {
        accepted_per_year: 0,
        ..LoadLimits::default()
    };
    assert!(
        !a.caseload_load(Some(strict)).unwrap()[0].over_accepted_limit,
        "none accepted"
    );
}

#[test]
fn a_supervisors_day_through_the_api() {
    let Team {
        a,
        b,
        case,
        relay: _relay,
        ..
    } = team_with_a_case();
    let s = phone("Sue (supervisor)");
    let code = a.create_invite(None, Role::Supervisor, 15).unwrap();
    assert_eq!(s.redeem_invite(code).unwrap().role, Role::Supervisor);
    let (a_id, b_id, s_id) = (
        a.device_id().unwrap(),
        b.device_id().unwrap(),
        s.device_id().unwrap(),
    );

    // The team's staff as the supervisor sees them: named where a handover named them.
    let mut members: Vec<_> = s
        .team_members(None)
        .unwrap()
        .into_iter()
        .map(|m| (m.device_id, m.name, m.role))
        .collect();
    members.sort_by(|x, y| x.0.cmp(&y.0));
    let mut expected = vec![
        (
            a_id.clone(),
            Some("Asha (link worker)".to_owned()),
            Some(Role::Admin),
        ),
        (b_id.clone(), None, Some(Role::LinkWorker)),
        (
            s_id.clone(),
            Some("Sue (supervisor)".to_owned()),
            Some(Role::Supervisor),
        ),
    ];
    expected.sort_by(|x, y| x.0.cmp(&y.0));
    assert_eq!(members, expected);

    // The supervisor hands the case to Ben. Nobody has named him yet: a name is needed; a
    // device outside the team cannot hold it. Neither writes anything.
    let before = s.case_file(case.clone()).unwrap();
    invalid(s.assign_case(case.clone(), b_id.clone(), None, None));
    let stranger = phone("Not in the team");
    not_found(s.assign_case(
        case.clone(),
        stranger.device_id().unwrap(),
        Some("Stranger".into()),
        None,
    ));
    assert_eq!(s.case_file(case.clone()).unwrap(), before);
    s.assign_case(
        case.clone(),
        b_id.clone(),
        Some("Ben (link worker)".into()),
        Some("Asha's list is full".into()),
    )
    .unwrap();
    not_allowed(s.assign_case(case.clone(), b_id.clone(), None, None));
    let view = s.case_file(case.clone()).unwrap();
    let holder = view.holder.unwrap();
    assert_eq!(
        (
            holder.device_id.as_str(),
            holder.name.as_deref(),
            holder.contested
        ),
        (b_id.as_str(), Some("Ben (link worker)"), false)
    );
    let last = view.handovers.last().unwrap();
    assert_eq!(view.handovers.len(), 2);
    assert_eq!(
        (last.from_device_id.as_deref(), last.from_name.as_deref()),
        (Some(a_id.as_str()), Some("Asha (link worker)"))
    );
    assert_eq!(
        (last.to_device_id.as_str(), last.by.as_str()),
        (b_id.as_str(), "Sue (supervisor)")
    );
    assert_eq!(
        (last.by_device_id.as_str(), last.reason.as_deref()),
        (s_id.as_str(), Some("Asha's list is full"))
    );

    // Never reviewed: in the supervisor's queue, held by Ben.
    let queue = s.review_queue(50).unwrap();
    let entry = queue
        .iter()
        .find(|q| q.case_id == case)
        .expect("in the queue");
    assert_eq!(
        entry.holder.as_ref().map(|h| h.device_id.as_str()),
        Some(b_id.as_str())
    );
    assert_eq!(
        entry.holder.as_ref().and_then(|h| h.name.as_deref()),
        Some("Ben (link worker)")
    );
    assert_eq!(
        (entry.reviewed_at_ms, entry.status),
        (None, CaseStatus::Active)
    );
    assert_eq!(entry.changed.handovers, 2);
    // A comment, then the mark: out of the queue.
    let comment = s
        .add_supervision_comment(case.clone(), "Has she been to the lunch club yet?".into())
        .unwrap();
    let seen = s.mark_reviewed(case.clone()).unwrap();
    assert_eq!((seen.comments, seen.handovers), (1, 2));
    assert!(
        s.review_queue(50)
            .unwrap()
            .iter()
            .all(|q| q.case_id != case)
    );
    // The load: the supervisor sees Ben's row (Asha holds nothing now).
    let load = s.caseload_load(None).unwrap();
    assert_eq!(load.len(), 1);
    assert_eq!(
        load[0].worker.as_ref().map(|w| w.device_id.as_str()),
        Some(b_id.as_str())
    );
    assert_eq!((load[0].active, load[0].accepted_last_year), (1, 1));

    // Ben watches his worklist; the handover and the comment reach him by sync.
    let (lists, rx) = Lists::new();
    let watching = b.observe_worklist(0, lists.clone(), None).unwrap();
    assert_eq!(
        rx.recv_timeout(WAIT).unwrap(),
        Vec::<WorkItem>::new(),
        "holds nothing yet"
    );
    sync(&s);
    sync(&b);
    let list = list_where(&rx, "with the baseline measure", |l| {
        l.iter()
            .any(|i| i.kind == WorkKind::BaselineMeasure && i.case_id == case)
    });
    // The baseline, and the message back to the GP Ben now owes as the case's holder;
    // recorded as sent, it leaves his list.
    assert_eq!(list.len(), 2, "{list:?}");
    assert!(list.iter().any(|i| i.kind == WorkKind::Feedback));
    assert_eq!(b.worklist(None, None).unwrap(), list);
    b.record_feedback_sent(
        case.clone(),
        FeedbackKind::Accepted,
        "Dr Patel".into(),
        None,
    )
    .unwrap();
    let list = list_where(&rx, "without the feedback", |l| {
        l.iter().all(|i| i.kind != WorkKind::Feedback)
    });
    assert_eq!(list.len(), 1, "{list:?}");
    let new = b.new_supervision_comments().unwrap();
    assert_eq!(new.len(), 1);
    assert_eq!(
        (
            new[0].comment_id.as_str(),
            new[0].by.as_str(),
            new[0].text.as_str()
        ),
        (
            comment.as_str(),
            "Sue (supervisor)",
            "Has she been to the lunch club yet?"
        )
    );
    assert_eq!(new[0].patient_name, "Mrs Eleanor Rigby");
    // Only the holder acknowledges; a link worker does not review.
    sync(&a);
    not_allowed(a.acknowledge_comment(case.clone(), comment.clone()));
    not_allowed(b.mark_reviewed(case.clone()));
    not_found(b.acknowledge_comment(case.clone(), UNKNOWN_ITEM.into()));
    b.acknowledge_comment(case.clone(), comment.clone())
        .unwrap();
    assert!(b.new_supervision_comments().unwrap().is_empty());
    // A link worker sees their own load.
    let mine = b.caseload_load(None).unwrap();
    assert_eq!(mine.len(), 1);
    assert_eq!(
        mine[0].worker.as_ref().map(|w| w.device_id.as_str()),
        Some(b_id.as_str())
    );

    // A ring-back the supervisor adds (she took the call) reaches Ben's list by sync.
    let today = s.today(0).unwrap();
    let ring = s
        .add_ring_back(case.clone(), today, "She rang while you were out".into())
        .unwrap();
    sync(&s);
    sync(&b);
    list_where(&rx, "with the ring-back", |l| {
        l.iter()
            .any(|i| i.ring_back_id.as_deref() == Some(ring.as_str()))
    });
    b.complete_ring_back(case.clone(), ring.clone()).unwrap();
    let after = list_where(&rx, "without the ring-back", |l| {
        l.iter().all(|i| i.kind != WorkKind::RingBack)
    });
    assert_eq!(after, list);
    drop(watching);

    // The acknowledgement travels; acknowledging and ring-backs do not bring the case
    // back to the supervisor's queue.
    sync(&b);
    sync(&s);
    let acks = s.case_file(case.clone()).unwrap().comment_acks;
    assert_eq!(acks.len(), 1);
    assert_eq!(
        (acks[0].comment_id.as_str(), acks[0].device_id.as_str()),
        (comment.as_str(), b_id.as_str())
    );
    assert!(
        s.review_queue(50)
            .unwrap()
            .iter()
            .all(|q| q.case_id != case)
    );
    assert_eq!(
        s.case_file(case.clone()).unwrap(),
        b.case_file(case.clone()).unwrap()
    );

    // Handed over on two devices at once: contested, with who did each, until settled.
    sync(&a);
    a.assign_case(
        case.clone(),
        a_id.clone(),
        None,
        Some("Back from leave".into()),
    )
    .unwrap();
    s.assign_case(case.clone(), s_id.clone(), None, Some("Covering".into()))
        .unwrap();
    sync(&a);
    sync(&s);
    sync(&a);
    let view = s.case_file(case.clone()).unwrap();
    assert_eq!(view, a.case_file(case.clone()).unwrap());
    let holder = view.holder.unwrap();
    assert!(holder.contested);
    let mut claims: Vec<_> = holder
        .claims
        .iter()
        .map(|c| {
            (
                c.device_id.clone(),
                c.assigned_by_device_id.clone(),
                c.assigned_by.clone(),
                c.at_ms.is_some(),
            )
        })
        .collect();
    claims.sort();
    let mut expected = vec![
        (
            a_id.clone(),
            Some(a_id.clone()),
            Some("Asha (link worker)".to_owned()),
            true,
        ),
        (
            s_id.clone(),
            Some(s_id.clone()),
            Some("Sue (supervisor)".to_owned()),
            true,
        ),
    ];
    expected.sort();
    assert_eq!(claims, expected);
    assert_eq!(view.handovers.len(), 4);
    let queue = s.review_queue(50).unwrap();
    let entry = queue
        .iter()
        .find(|q| q.case_id == case)
        .expect("in the queue");
    assert!(entry.holder_contested);
    assert_eq!(entry.changed.handovers, 2);
    s.assign_case(case.clone(), b_id.clone(), None, Some("Settled".into()))
        .unwrap();
    let holder = s.case_file(case).unwrap().holder.unwrap();
    assert_eq!((holder.device_id, holder.contested), (b_id, false));
}

/// Friday 4 December 2026, 22:59:59 UTC: one second before midnight at UTC+1.
const SECOND_TO_MIDNIGHT_AT_UTC_PLUS_1: u64 = 1_796_425_199_000;

#[test]
fn the_worklist_observer_fires_when_the_list_changes_and_when_the_day_passes() {
    let clock = ManualClock::at(SECOND_TO_MIDNIGHT_AT_UTC_PLUS_1);
    let dir = tempfile::tempdir().unwrap();
    let a = HoldfastDevice::open_with_clock(
        DeviceConfig {
            data_dir: dir.path().display().to_string(),
            person: "Asha".into(),
            insecure_http_to_any_host: false,
        },
        Arc::new(MemoryKeys::default()),
        Arc::new(clock.clone()),
    )
    .unwrap();
    assert_eq!(a.today(60).unwrap(), "2026-12-04");
    assert_eq!(a.today(0).unwrap(), "2026-12-04");
    assert_eq!(a.today(120).unwrap(), "2026-12-05");
    let case = a.create_case(patient("Mrs Eleanor Rigby")).unwrap().case_id;
    a.record_session(
        case.clone(),
        SessionInput {
            start_ms: SECOND_TO_MIDNIGHT_AT_UTC_PLUS_1 as i64 - 3_600_000,
            follow_up: Some("2026-12-05".into()),
            ..home_visit("Ring her tomorrow about the lunch club")
        },
    )
    .unwrap();

    // One observer at UTC+1, one at UTC: each is called at once with the list as it stands
    // (the follow-up is tomorrow's).
    let (local, local_rx) = Lists::new();
    let local_handle = a.observe_worklist(60, local.clone(), None).unwrap();
    assert_eq!(local_rx.recv_timeout(WAIT).unwrap(), Vec::<WorkItem>::new());
    let (utc, utc_rx) = Lists::new();
    let utc_handle = a.observe_worklist(0, utc.clone(), None).unwrap();
    assert_eq!(utc_rx.recv_timeout(WAIT).unwrap(), Vec::<WorkItem>::new());

    // An edit that puts something on the list.
    let ring = a
        .add_ring_back(
            case.clone(),
            "2026-12-04".into(),
            "Missed call about the PIP form".into(),
        )
        .unwrap();
    for rx in [&local_rx, &utc_rx] {
        let list = rx.recv_timeout(WAIT).expect("the ring-back delivered");
        assert_eq!(list.len(), 1);
        assert_eq!((list[0].kind, list[0].overdue), (WorkKind::RingBack, false));
        assert_eq!(list[0].ring_back_id.as_deref(), Some(ring.as_str()));
    }
    // Edits that leave the list as it was: nobody is called.
    a.add_supervision_comment(case.clone(), "Good notes".into())
        .unwrap();
    a.create_case(patient("Mr Desmond Jones")).unwrap();
    assert!(local_rx.recv_timeout(QUIET).is_err());
    assert!(utc_rx.recv_timeout(QUIET).is_err());
    // The call made: off the list.
    a.complete_ring_back(case.clone(), ring).unwrap();
    assert_eq!(local_rx.recv_timeout(WAIT).unwrap(), Vec::<WorkItem>::new());
    assert_eq!(utc_rx.recv_timeout(WAIT).unwrap(), Vec::<WorkItem>::new());
    assert!(local_rx.recv_timeout(QUIET).is_err());

    // Midnight at UTC+1, with no edit: the follow-up falls due and the timer delivers it.
    let before = local.calls.load(Ordering::SeqCst);
    clock.advance(Duration::from_secs(2));
    let list = local_rx.recv_timeout(WAIT).expect("delivered at midnight");
    assert_eq!(local.calls.load(Ordering::SeqCst), before + 1);
    assert_eq!(list.len(), 1);
    assert_eq!(
        (list[0].kind, list[0].due.as_deref(), list[0].overdue),
        (WorkKind::FollowUp, Some("2026-12-05"), false)
    );
    assert_eq!(list[0].case_id, case);
    assert_eq!(a.worklist(Some("2026-12-05".into()), None).unwrap(), list);
    assert_eq!(a.today(60).unwrap(), "2026-12-05");
    // At UTC it is 23:00:01, the same day: its list has not changed and it is not called.
    assert!(utc_rx.recv_timeout(QUIET).is_err());

    // Cancelled, or dropped: silent from then on.
    local_handle.cancel();
    drop(utc_handle);
    let calls = (
        local.calls.load(Ordering::SeqCst),
        utc.calls.load(Ordering::SeqCst),
    );
    a.add_ring_back(
        case.clone(),
        "2026-12-04".into(),
        "Rang back, no answer".into(),
    )
    .unwrap();
    clock.advance(Duration::from_secs(86_400));
    assert!(local_rx.recv_timeout(QUIET).is_err());
    assert!(utc_rx.recv_timeout(QUIET).is_err());
    assert_eq!(
        calls,
        (
            local.calls.load(Ordering::SeqCst),
            utc.calls.load(Ordering::SeqCst)
        )
    );

    // A device let go while an observer is registered stops it too; the handle outlives it.
    let (late, late_rx) = Lists::new();
    let kept = a.observe_worklist(60, late.clone(), None).unwrap();
    assert_eq!(
        late_rx.recv_timeout(WAIT).unwrap().len(),
        2,
        "the follow-up and the ring-back"
    );
    drop(a);
    kept.cancel();
    drop(kept);
    assert!(late_rx.recv_timeout(QUIET).is_err());
}

// ---------------------------------------------------------------------------------------
// Private supervision notes

/// The team of `team_with_a_case` with a supervisor, Sue, and a second link worker, Cal;
/// Ben has synced since they joined.
struct NotesTeam {
    team: Team,
    s: Phone,
    c: Phone,
}

fn team_with_a_supervisor() -> NotesTeam {
    let team = team_with_a_case();
    let s = phone("Sue (supervisor)");
    let code = team.a.create_invite(None, Role::Supervisor, 15).unwrap();
    assert_eq!(s.redeem_invite(code).unwrap().role, Role::Supervisor);
    let c = phone("Cal (link worker)");
    let code = team.a.create_invite(None, Role::LinkWorker, 15).unwrap();
    assert_eq!(c.redeem_invite(code).unwrap().role, Role::LinkWorker);
    sync(&team.b);
    NotesTeam { team, s, c }
}

/// The note `id` of `notes`.
fn note<'a>(notes: &'a PrivateNotesView, id: &str) -> &'a PrivateNoteView {
    notes
        .notes
        .iter()
        .find(|n| n.note_id == id)
        .unwrap_or_else(|| panic!("no note {id} in {notes:?}"))
}

#[test]
fn private_notes_reach_the_supervisor_who_responds_and_no_other_link_worker() {
    let NotesTeam {
        team:
            Team {
                a,
                b,
                plan,
                relay: _relay,
                ..
            },
        s,
        c,
    } = team_with_a_supervisor();
    let (b_id, s_id, c_id) = (
        b.device_id().unwrap(),
        s.device_id().unwrap(),
        c.device_id().unwrap(),
    );

    // None yet; the document's id is known to Ben and his supervisor before any note.
    assert_eq!(
        b.private_notes(None).unwrap(),
        PrivateNotesView {
            owner_device_id: b_id.clone(),
            notes: vec![]
        }
    );
    let doc = b.private_notes_document(None).unwrap();
    assert_eq!(doc, b.private_notes_document(Some(b_id.clone())).unwrap());
    assert_eq!(doc, s.private_notes_document(Some(b_id.clone())).unwrap());
    assert_ne!(doc, s.private_notes_document(None).unwrap());
    let (on_ben, ben_rx) = Counter::new();
    let _ben_watching = b.observe_document(doc.clone(), on_ben.clone()).unwrap();
    let (on_sue, sue_rx) = Counter::new();
    let _sue_watching = s.observe_document(doc.clone(), on_sue.clone()).unwrap();

    // Ben writes two notes: his observer fires; they are his, dated today.
    let wellbeing = b
        .add_private_note(
            NoteKind::Wellbeing,
            "Three safeguarding visits this week.".into(),
        )
        .unwrap();
    let training = b
        .add_private_note(NoteKind::TrainingNeed, "Benefits appeals".into())
        .unwrap();
    assert_ne!(wellbeing, training);
    ben_rx.recv_timeout(WAIT).expect("Ben's observer fired");
    let mine = b.private_notes(None).unwrap();
    assert_eq!(mine.owner_device_id, b_id);
    assert_eq!(mine.notes.len(), 2);
    let today = b.today(0).unwrap();
    for (id, kind, text) in [
        (
            &wellbeing,
            NoteKind::Wellbeing,
            "Three safeguarding visits this week.",
        ),
        (&training, NoteKind::TrainingNeed, "Benefits appeals"),
    ] {
        let n = note(&mine, id);
        assert_eq!((n.kind, n.text.as_str()), (kind, text));
        assert_eq!(
            (n.by.as_str(), n.by_device_id.as_str()),
            ("Ben (link worker)", b_id.as_str())
        );
        assert_eq!(n.date, today);
        assert!(n.at_ms > 0 && n.responses.is_empty(), "{n:?}");
    }
    // Ben's own notes are not his to answer.
    not_allowed(b.respond_to_private_note(b_id.clone(), wellbeing.clone(), "Me".into()));

    // Not yet on Sue's phone: empty, not refused. The sync brings them (and their key).
    assert!(
        s.private_notes(Some(b_id.clone()))
            .unwrap()
            .notes
            .is_empty()
    );
    sync(&b);
    while sue_rx.try_recv().is_ok() {}
    sync(&s);
    sue_rx
        .recv_timeout(WAIT)
        .expect("the pulled notes observed");
    assert_eq!(s.private_notes(Some(b_id.clone())).unwrap(), mine);

    // Sue responds; Ben sees it after syncing, and his observer fires.
    let response = s
        .respond_to_private_note(
            b_id.clone(),
            wellbeing.clone(),
            "Let's talk on Friday".into(),
        )
        .unwrap();
    let on_sue_phone = s.private_notes(Some(b_id.clone())).unwrap();
    let answered = &note(&on_sue_phone, &wellbeing).responses;
    assert_eq!(answered.len(), 1);
    assert_eq!(
        (
            answered[0].response_id.as_str(),
            answered[0].text.as_str(),
            answered[0].by.as_str(),
            answered[0].by_device_id.as_str()
        ),
        (
            response.as_str(),
            "Let's talk on Friday",
            "Sue (supervisor)",
            s_id.as_str()
        )
    );
    assert!(note(&on_sue_phone, &training).responses.is_empty());
    sync(&s);
    while ben_rx.try_recv().is_ok() {}
    sync(&b);
    ben_rx.recv_timeout(WAIT).expect("the response observed");
    assert_eq!(b.private_notes(None).unwrap(), on_sue_phone);

    // The admin reads them too.
    sync(&a);
    assert_eq!(a.private_notes(Some(b_id.clone())).unwrap(), on_sue_phone);

    // Cal, another link worker, is refused by his own device and holds no copy of them.
    sync(&c);
    not_allowed(c.private_notes(Some(b_id.clone())));
    not_allowed(c.respond_to_private_note(b_id.clone(), wellbeing.clone(), "Nosy".into()));
    not_found(c.history(doc.clone()));
    // His own are his; Sue reads them, Ben may not.
    assert!(c.private_notes(None).unwrap().notes.is_empty());
    let cal_note = c
        .add_private_note(NoteKind::Reflection, "A good day".into())
        .unwrap();
    sync(&c);
    sync(&s);
    let cals = s.private_notes(Some(c_id.clone())).unwrap();
    assert_eq!(cals.owner_device_id, c_id);
    assert_eq!(note(&cals, &cal_note).kind, NoteKind::Reflection);
    sync(&b);
    not_allowed(b.private_notes(Some(c_id.clone())));
    assert_eq!(b.private_notes(None).unwrap(), on_sue_phone);

    // The patient's own phone: refused outright, and it holds nothing of them.
    let p = phone("Eleanor");
    let code = a.share_plan(plan, 15).unwrap();
    assert_eq!(p.redeem_invite(code).unwrap().role, Role::Patient);
    sync(&p);
    not_allowed(p.private_notes(None));
    not_allowed(p.private_notes(Some(b_id.clone())));
    not_allowed(p.add_private_note(NoteKind::Wellbeing, "Mine".into()));
    not_allowed(p.respond_to_private_note(b_id.clone(), wellbeing.clone(), "Hello".into()));
    not_found(p.history(doc));

    // A device in no team has no notes.
    let alone = phone("Nobody");
    not_allowed(alone.private_notes(None));
    not_allowed(alone.add_private_note(NoteKind::Reflection, "Anyone?".into()));
}

#[test]
fn private_notes_bad_input_is_a_typed_error_and_changes_nothing() {
    let NotesTeam {
        team: Team {
            b, relay: _relay, ..
        },
        s,
        c,
    } = team_with_a_supervisor();
    let (b_id, c_id) = (b.device_id().unwrap(), c.device_id().unwrap());
    let note = b
        .add_private_note(NoteKind::Reflection, "Thinking about endings".into())
        .unwrap();
    sync(&b);
    sync(&s);
    let before = b.private_notes(None).unwrap();
    assert_eq!(s.private_notes(Some(b_id.clone())).unwrap(), before);
    let pending = |d: &HoldfastDevice| d.sync_status(None).unwrap().pending_changes;
    let pending_before = (pending(&b), pending(&s), pending(&c));

    // Ids: a typed error naming what is wrong.
    assert!(invalid(b.private_notes(Some("not a device".into()))).contains("device id"));
    assert!(invalid(s.private_notes_document(Some("abcd".into()))).contains("device id"));
    assert!(
        invalid(s.respond_to_private_note("zz".into(), note.clone(), "x".into()))
            .contains("device id")
    );
    assert!(
        invalid(s.respond_to_private_note(b_id.clone(), "zz".into(), "x".into()))
            .contains("private note id")
    );
    assert!(
        invalid(s.respond_to_private_note(b_id.clone(), b_id.clone(), "x".into()))
            .contains("16 hex digits")
    );
    // A note nobody wrote, and notes that do not exist yet.
    not_found(s.respond_to_private_note(b_id.clone(), UNKNOWN_ITEM.into(), "x".into()));
    not_found(s.respond_to_private_note(c_id.clone(), note.clone(), "x".into()));
    // Text: required, and not a book.
    invalid(s.respond_to_private_note(b_id.clone(), note.clone(), "  ".into()));
    invalid(b.add_private_note(NoteKind::Wellbeing, String::new()));
    invalid(b.add_private_note(NoteKind::Wellbeing, "x".repeat(16 * 1024 + 1)));
    // Cal's first note, refused, makes no document (and no key) either.
    invalid(c.add_private_note(NoteKind::Wellbeing, " \n ".into()));
    not_found(c.history(c.private_notes_document(None).unwrap()));

    // Nothing changed, and nothing waits to be sent.
    assert_eq!(b.private_notes(None).unwrap(), before);
    assert_eq!(s.private_notes(Some(b_id)).unwrap(), before);
    assert!(c.private_notes(None).unwrap().notes.is_empty());
    assert_eq!((pending(&b), pending(&s), pending(&c)), pending_before);
}

// ---------------------------------------------------------------------------------------
// The team's limits, and marking what was shown

#[test]
fn team_limits_set_by_a_supervisor_reach_the_link_workers_worklist() {
    let NotesTeam {
        team:
            Team {
                a,
                b,
                case,
                relay: _relay,
                ..
            },
        s,
        c: _c,
    } = team_with_a_supervisor();
    let defaults = TeamLimitsView {
        limits: LoadLimits::default(),
        set: None,
        history: vec![],
    };
    assert_eq!(b.team_limits().unwrap(), defaults);
    // A link worker does not set them; out of range is refused; nothing is written.
    not_allowed(b.set_team_limits(LoadLimits::default(), None));
    let reason = invalid(s.set_team_limits(
        LoadLimits {
            first_contact_working_days: 61,
            ..LoadLimits::default()
        },
        None,
    ));
    assert!(reason.contains("first contact"), "{reason}");
    assert_eq!(s.team_limits().unwrap(), defaults);

    // Ben has a referral waiting a month for first contact: on his list at 5 working days.
    let month_ago = (time::OffsetDateTime::now_utc().date() - time::Duration::days(30)).to_string();
    let waiting = b.create_case(patient("Mr Desmond Jones")).unwrap().case_id;
    b.add_referral(
        waiting.clone(),
        ReferralInput {
            received: month_ago,
            source: ReferralSource::SelfReferral,
            referrer: None,
            reason: "Wants to get out more".into(),
            needs: vec![Need::Loneliness],
        },
    )
    .unwrap();
    let (lists, rx) = Lists::new();
    let _handle = b.observe_worklist(0, lists, None).unwrap();
    list_where(&rx, "with the first contact", |l| {
        l.iter()
            .any(|i| i.kind == WorkKind::FirstContact && i.case_id == waiting)
    });

    // Sue agrees twelve weeks with the team; Ben's device learns it at its next sync, and
    // his worklist observer fires without the first contact.
    let agreed = LoadLimits {
        first_contact_working_days: 60,
        ..LoadLimits::default()
    };
    s.set_team_limits(agreed, Some("agreed at the team meeting".into()))
        .unwrap();
    sync(&s);
    sync(&b);
    list_where(&rx, "without the first contact", |l| {
        l.iter().all(|i| i.kind != WorkKind::FirstContact)
    });
    let limits = b.team_limits().unwrap();
    assert_eq!(limits.limits, agreed);
    let set = limits.set.expect("set by Sue");
    assert_eq!(
        (set.by_device_id, set.reason.as_deref()),
        (s.device_id().unwrap(), Some("agreed at the team meeting"))
    );
    assert_eq!(limits.history.len(), 1);
    // An explicit set of limits still wins for one reading.
    assert_eq!(
        b.worklist(None, Some(LoadLimits::default()))
            .unwrap()
            .iter()
            .filter(|i| i.kind == WorkKind::FirstContact)
            .count(),
        1
    );

    // Sue reads Asha's case; a session syncs in while she reads; she marks what she was
    // shown, and the new session brings the case back.
    sync(&s);
    let shown = s.review_entry(case.clone()).unwrap();
    a.record_session(case.clone(), home_visit("Went to the lunch club together"))
        .unwrap();
    sync(&a);
    sync(&s);
    let recorded = s.mark_reviewed_upto(case.clone(), shown.holds).unwrap();
    assert_eq!(recorded, shown.holds);
    let back = s.review_entry(case.clone()).unwrap();
    assert_eq!(back.changed.sessions, 1);
    assert_eq!(back.holds.sessions, shown.holds.sessions + 1);
    assert!(
        s.review_queue(50)
            .unwrap()
            .iter()
            .any(|e| e.case_id == case)
    );
    not_found(s.review_entry("0000000000000000000000000000ffff".into()));
}

// ---------------------------------------------------------------------------------------
// Connections to community assets

#[test]
fn a_patient_records_going_to_the_group_and_the_link_workers_demand_counts_it() {
    let Team {
        a,
        plan,
        relay: _relay,
        ..
    } = team_with_a_case();
    let dir = a.create_directory("Leeds North".into()).unwrap();
    let walking = a
        .upsert_asset(
            dir.clone(),
            None,
            AssetInput {
                name: "Tuesday Walking Group".into(),
                ..AssetInput::default()
            },
        )
        .unwrap();
    let linked = AssetRef {
        directory_id: dir.clone(),
        asset_id: walking.clone(),
    };
    let step = a
        .add_plan_step(
            plan.clone(),
            StepInput {
                text: "Try the walking group".into(),
                owner: StepOwner::Patient,
                due: None,
                goal_id: None,
                asset: Some(linked.clone()),
            },
        )
        .unwrap();
    let plain = a
        .add_step(
            plan.clone(),
            "Ring her sister".into(),
            StepOwner::LinkWorker,
            None,
        )
        .unwrap();
    let shown = a.action_plan(plan.clone()).unwrap();
    let s = shown.steps.iter().find(|s| s.step_id == step).unwrap();
    assert_eq!(s.connection.len(), 1);
    assert_eq!(s.connection[0].status, ConnectionStatus::Suggested);
    assert_eq!(s.connection[0].by, "Asha (link worker)");
    let demand = a.asset_demand(None).unwrap();
    assert_eq!(demand.len(), 1);
    assert_eq!(demand[0].asset, linked);
    assert_eq!(demand[0].name.as_deref(), Some("Tuesday Walking Group"));
    assert_eq!((demand[0].people, demand[0].suggested), (1, 1));
    // Refused, nothing written: no asset on the step, a day to come, a bad id.
    invalid(a.record_connection(plan.clone(), plain, ConnectionStatus::Attended, None));
    invalid(a.record_connection(
        plan.clone(),
        step.clone(),
        ConnectionStatus::Attended,
        Some("2999-01-01".into()),
    ));
    invalid(a.asset_demand(Some("not a directory".into())));
    assert_eq!(a.asset_demand(None).unwrap(), demand);

    // The patient's own phone says she went; after sync the link worker's demand counts it.
    sync(&a);
    let p = phone("Eleanor");
    let code = a.share_plan(plan.clone(), 15).unwrap();
    p.redeem_invite(code).unwrap();
    p.record_connection(plan.clone(), step.clone(), ConnectionStatus::Attended, None)
        .unwrap();
    sync(&p);
    sync(&a);
    let demand = a.asset_demand(Some(dir)).unwrap();
    assert_eq!(
        (demand[0].people, demand[0].attending, demand[0].suggested),
        (1, 1, 0)
    );
    let seen = a.action_plan(plan).unwrap();
    let s = seen.steps.iter().find(|s| s.step_id == step).unwrap();
    let last = s.connection.last().unwrap();
    assert_eq!(
        (last.status, last.by.as_str()),
        (ConnectionStatus::Attended, "Eleanor")
    );
}

// ---------------------------------------------------------------------------------------
// The message back to the GP

#[test]
fn the_message_back_to_the_gp_comes_as_text_and_a_bundle() {
    let Team {
        a,
        b,
        case,
        relay: _relay,
        ..
    } = team_with_a_case();
    a.record_session(case.clone(), home_visit("PRIVATE-NOTE-8812 about the flat"))
        .unwrap();
    let f = a
        .gp_feedback(case.clone(), FeedbackKind::Accepted, None)
        .unwrap();
    assert_eq!(f.kind, FeedbackKind::Accepted);
    assert!(f.text.contains("Mrs Eleanor Rigby"), "{}", f.text);
    assert!(
        f.text.contains("Accepted for social prescribing"),
        "{}",
        f.text
    );
    assert!(f.bundle_json.contains("\"resourceType\": \"Bundle\""));
    assert!(f.bundle_json.contains("871731000000106"));
    for text in [&f.text, &f.bundle_json] {
        assert!(!text.contains("PRIVATE-NOTE-8812"));
    }
    if let Ok(dir) = std::env::var("HOLDFAST_FHIR_OUT") {
        std::fs::write(
            std::path::Path::new(&dir).join("ffi-accepted.json"),
            &f.bundle_json,
        )
        .unwrap();
    }
    // What the link worker adds goes in; a stage the case is not at is refused.
    let with = a
        .gp_feedback(
            case.clone(),
            FeedbackKind::Accepted,
            Some("Seen at home".into()),
        )
        .unwrap();
    assert!(with.text.contains("Seen at home"));
    invalid(a.gp_feedback(case.clone(), FeedbackKind::Closed, None));
    invalid(a.gp_feedback("not a case".into(), FeedbackKind::Accepted, None));
    // Another link worker of the team, synced, writes the same message.
    sync(&b);
    let theirs = b
        .gp_feedback(case.clone(), FeedbackKind::Accepted, None)
        .unwrap();
    assert!(theirs.text.contains("Mrs Eleanor Rigby"));

    // Closed with a coded reason: the code goes to the GP, the words stay.
    a.close_case(
        case.clone(),
        ClosureReason::DidNotAttend,
        Some("PRIVATE-WORDS-5521".into()),
    )
    .unwrap();
    let closed = a
        .gp_feedback(case.clone(), FeedbackKind::Closed, None)
        .unwrap();
    assert!(
        closed.text.contains("Reason: did not attend."),
        "{}",
        closed.text
    );
    assert!(closed.bundle_json.contains("281399006"));
    assert!(!closed.bundle_json.contains("PRIVATE-WORDS-5521"));
    assert!(!closed.text.contains("PRIVATE-WORDS-5521"));
    if let Ok(dir) = std::env::var("HOLDFAST_FHIR_OUT") {
        std::fs::write(
            std::path::Path::new(&dir).join("ffi-closed.json"),
            &closed.bundle_json,
        )
        .unwrap();
    }
    not_allowed(a.close_case(case, ClosureReason::GoalsMet, None));
}

#[test]
fn the_outcomes_report_comes_as_json_and_csv_with_small_numbers_hidden() {
    let a = phone("Asha (link worker)");
    let sources = [
        ReferralSource::Gp,
        ReferralSource::Gp,
        ReferralSource::Gp,
        ReferralSource::Gp,
        ReferralSource::Gp,
        ReferralSource::SelfReferral,
    ];
    for (i, source) in sources.into_iter().enumerate() {
        let ids = a
            .create_case(patient(&format!("Person Number{i}")))
            .unwrap();
        let referral = a
            .add_referral(
                ids.case_id.clone(),
                ReferralInput {
                    received: "2026-11-02".into(),
                    source,
                    referrer: None,
                    reason: "Lonely".into(),
                    needs: vec![Need::Loneliness],
                },
            )
            .unwrap();
        a.decide_referral(ids.case_id, referral, ReferralDecision::Accepted)
            .unwrap();
    }
    let report = a
        .outcomes_report("2026-11-01".into(), "2026-11-30".into())
        .unwrap();
    assert_eq!(report.counted_to, "2026-11-30");
    let json: serde_json::Value = serde_json::from_str(&report.json).unwrap();
    assert_eq!(json["system"]["referrals"], 6);
    let by_source = &json["system"]["by_source"];
    assert_eq!(by_source[0]["group"], "gp");
    assert_eq!(by_source[0]["value"], 5);
    // One self-referral is hidden; a hidden zero beside it keeps it hidden.
    assert!(
        by_source
            .as_array()
            .unwrap()
            .iter()
            .skip(1)
            .all(|r| r["value"] == "<5"),
        "{by_source}"
    );
    assert!(
        report.csv.contains("\nsystem,referrals,source=gp,5\n"),
        "{}",
        report.csv
    );
    assert!(report.csv.contains("\nsystem,referrals,source=self,<5\n"));
    for out in [&report.json, &report.csv] {
        assert!(!out.contains("Number"), "no names");
    }

    invalid(a.outcomes_report("2026-11-30".into(), "2026-11-01".into()));
    invalid(a.outcomes_report("last week".into(), "2026-11-01".into()));
}
