//! Oversight on one device, with the clock set by the test: who holds a case and its
//! handovers, the load thresholds, what brings a case back to a supervisor's queue, and the
//! worklist for a day (follow-ups, first contact after working days, ring-backs, measures
//! due). Several devices through a relay: `tests/tests/supervision.rs`.

use std::sync::Arc;
use std::time::Duration;

use holdfast_core::feedback::FeedbackKind;
use holdfast_core::model::case_file::{
    CaseStatus, NewConcern, NewPatient, NewReferral, NewSession, NotCompletedReason,
    ReferralDecision, ReferralSource, SessionMode,
};
use holdfast_core::model::ids::DocumentId;
use holdfast_core::model::measures::Instrument;
use holdfast_core::store::{LoadLimits, WorkKind};
use holdfast_core::{Error, MemoryKeyStore, Store, StoreConfig};
use holdfast_protocol::ManualClock;
use time::Date;
use time::macros::date;

const DAY: Duration = Duration::from_secs(86_400);

/// Friday 4 December 2026, 09:00 UTC.
const FRIDAY_9AM: u64 = 1_796_374_800_000;

fn store(clock: &ManualClock) -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let config = StoreConfig::new(dir.path(), "Sam Okafor").with_clock(Arc::new(clock.clone()));
    let store = Store::create(&config, &MemoryKeyStore::default()).unwrap();
    (dir, store)
}

/// A new case file for a patient called `name`, held by this device.
fn case(s: &mut Store, name: &str) -> DocumentId {
    s.create_case_file(NewPatient::named(name)).unwrap().case_id
}

fn referral(received: Date) -> NewReferral {
    NewReferral {
        received,
        source: ReferralSource::Gp,
        referrer: Some("Dr Patel".into()),
        reason: "isolated since bereavement".into(),
        needs: vec![],
    }
}

fn session(start: i64, follow_up: Option<Date>) -> NewSession {
    NewSession {
        start,
        duration_minutes: 30,
        mode: SessionMode::Phone,
        attended: true,
        note: "talked about the lunch club".into(),
        holding_functions: vec![],
        follow_up,
    }
}

#[test]
fn the_creator_holds_a_new_case_and_handovers_keep_the_history() {
    let clock = ManualClock::at(FRIDAY_9AM);
    let (_dir, mut s) = store(&clock);
    let case = case(&mut s, "Ada");
    let me = s.this_member();
    let file = s.case_file(case).unwrap();
    assert_eq!(file.oversight.assigned.unwrap().agreed(), Some(&me));
    assert_eq!(file.oversight.handovers.len(), 1);
    assert_eq!(file.oversight.handovers[0].to_name, "Sam Okafor");
    // Already held by this device: refused, nothing written.
    let err = s.assign_case(case, me, None, None).unwrap_err();
    assert!(matches!(err, Error::NotAllowed(_)), "{err:?}");
    assert_eq!(s.case_file(case).unwrap().oversight.handovers.len(), 1);
    // Outside a team, nobody else can hold it.
    let other = holdfast_core::model::ids::DeviceId::random();
    let err = s.assign_case(case, other, Some("Kim"), None).unwrap_err();
    assert!(matches!(err, Error::NotAllowed(_)), "{err:?}");
    // The load shows it under this device, by name.
    let load = s.caseload_load(&LoadLimits::default()).unwrap();
    assert_eq!(load.len(), 1);
    assert_eq!(load[0].worker.as_ref().unwrap().device, me);
    assert_eq!(
        load[0].worker.as_ref().unwrap().name.as_deref(),
        Some("Sam Okafor")
    );
    assert_eq!(load[0].referred, 1);
}

#[test]
fn load_counts_long_holding_many_sessions_long_open_and_acceptances_in_the_year() {
    let clock = ManualClock::at(FRIDAY_9AM);
    let (_dir, mut s) = store(&clock);
    let held = case(&mut s, "Held");
    let busy = case(&mut s, "Busy");
    for case in [held, busy] {
        let r = s
            .add_referral(case, &referral(date!(2026 - 12 - 04)))
            .unwrap();
        s.decide_referral(case, r, &ReferralDecision::Accepted)
            .unwrap();
    }
    s.set_status(
        held,
        CaseStatus::Holding,
        Some("waiting for the counselling service"),
    )
    .unwrap();
    for i in 0..13 {
        s.record_session(busy, &session(FRIDAY_9AM as i64 + i, None))
            .unwrap();
    }
    let limits = LoadLimits::default();
    let now = &s.caseload_load(&limits).unwrap()[0];
    assert_eq!((now.active, now.holding), (1, 1));
    assert_eq!(now.accepted_last_year, 2);
    assert_eq!(
        (now.held_too_long, now.many_sessions, now.open_too_long),
        (0, 1, 0)
    );

    // 61 days on: held too long; 92 days: both open more than three months.
    clock.advance(DAY * 61);
    let later = &s.caseload_load(&limits).unwrap()[0];
    assert_eq!((later.held_too_long, later.open_too_long), (1, 0));
    clock.advance(DAY * 31);
    let later = &s.caseload_load(&limits).unwrap()[0];
    assert_eq!(later.open_too_long, 2);
    // A limit the team sets lower flags the acceptances.
    let strict = LoadLimits {
        accepted_per_year: 1,
        ..limits
    };
    assert!(s.caseload_load(&strict).unwrap()[0].over_accepted_limit);
    // A year and a day after acceptance, they no longer count.
    clock.advance(DAY * 274);
    assert_eq!(s.caseload_load(&limits).unwrap()[0].accepted_last_year, 0);
}

#[test]
fn a_review_mark_holds_until_the_case_changes_and_open_safeguarding_always_heads_the_queue() {
    let clock = ManualClock::at(FRIDAY_9AM);
    let (_dir, mut s) = store(&clock);
    let quiet = case(&mut s, "Quiet");
    let worrying = case(&mut s, "Worrying");
    assert_eq!(s.review_queue(50).unwrap().len(), 2, "never reviewed: both");
    for case in [quiet, worrying] {
        s.mark_reviewed(case).unwrap();
    }
    assert!(s.review_queue(50).unwrap().is_empty());

    // Each kind of change brings a case back, saying what changed.
    s.set_status(quiet, CaseStatus::Active, None).unwrap();
    s.record_session(quiet, &session(FRIDAY_9AM as i64, None))
        .unwrap();
    s.record_measure_not_completed(
        quiet,
        Instrument::Ons4,
        date!(2026 - 12 - 04),
        NotCompletedReason::Distressing,
    )
    .unwrap();
    s.add_supervision_comment(quiet, "check in about the bereavement group")
        .unwrap();
    let queue = s.review_queue(50).unwrap();
    assert_eq!(queue.len(), 1);
    let c = &queue[0].changed;
    assert_eq!(
        (
            c.status_moves,
            c.sessions,
            c.measures,
            c.comments,
            c.safeguarding
        ),
        (1, 1, 1, 1, 0)
    );
    s.mark_reviewed(quiet).unwrap();

    // An open concern heads the queue even after review; closing it lets the case go.
    let concern = s
        .raise_concern(
            worrying,
            &NewConcern {
                description: "bruising".into(),
                escalated_to: None,
            },
        )
        .unwrap();
    s.mark_reviewed(worrying).unwrap();
    s.record_session(quiet, &session(FRIDAY_9AM as i64 + 1, None))
        .unwrap();
    let queue = s.review_queue(50).unwrap();
    assert_eq!(queue.len(), 2);
    assert_eq!(queue[0].case_id, worrying);
    assert_eq!(queue[0].open_safeguarding, 1);
    assert!(
        queue[0].changed.is_zero(),
        "reviewed, but open safeguarding stays"
    );
    s.set_concern_status(
        worrying,
        concern,
        holdfast_core::model::case_file::ConcernStatus::Closed,
        None,
    )
    .unwrap();
    let queue = s.review_queue(50).unwrap();
    let entry = queue
        .iter()
        .find(|q| q.case_id == worrying)
        .expect("the status change is itself new");
    assert_eq!(
        (entry.changed.safeguarding, entry.open_safeguarding),
        (1, 0)
    );
    s.mark_reviewed(worrying).unwrap();
    assert_eq!(
        s.review_queue(50)
            .unwrap()
            .iter()
            .map(|q| q.case_id)
            .collect::<Vec<_>>(),
        vec![quiet]
    );
}

#[test]
fn the_worklist_brings_follow_ups_first_contacts_ring_backs_and_measures_as_days_pass() {
    let clock = ManualClock::at(FRIDAY_9AM);
    let (_dir, mut s) = store(&clock);
    let today = s.today();
    assert_eq!(today, date!(2026 - 12 - 04));
    let limits = LoadLimits::default();

    // A referral received on Friday: first contact is due five working days on, Friday
    // 11 December; it shows from then.
    let new = case(&mut s, "New");
    s.add_referral(new, &referral(today)).unwrap();
    assert!(s.worklist(today, &limits).unwrap().is_empty());
    let due = date!(2026 - 12 - 11);
    let items = s.worklist(due, &limits).unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(
        (items[0].kind, items[0].due, items[0].overdue),
        (WorkKind::FirstContact, Some(due), false)
    );
    assert!(
        s.worklist(date!(2026 - 12 - 10), &limits)
            .unwrap()
            .is_empty(),
        "Thursday: not yet"
    );
    assert!(s.worklist(date!(2026 - 12 - 14), &limits).unwrap()[0].overdue);
    // A call attempt (not attended) counts as contact.
    let mut attempt = session(FRIDAY_9AM as i64 + 3_600_000, None);
    attempt.attended = false;
    s.record_session(new, &attempt).unwrap();
    assert!(s.worklist(due, &limits).unwrap().is_empty());

    // An accepted case without a measure: baseline due. A measure declined counts as
    // offered.
    let open = case(&mut s, "Open");
    let r = s.add_referral(open, &referral(today)).unwrap();
    s.decide_referral(open, r, &ReferralDecision::Accepted)
        .unwrap();
    let items = s.worklist(today, &limits).unwrap();
    assert_eq!(
        items.iter().map(|i| i.kind).collect::<Vec<_>>(),
        vec![WorkKind::BaselineMeasure, WorkKind::Feedback]
    );
    // The message back to the GP is owed from the decision, due within five working days;
    // recorded as sent, it leaves the list (a later decision or closure owes another).
    assert_eq!(items[1].due, Some(date!(2026 - 12 - 11)));
    let err = s
        .record_feedback_sent(
            open,
            FeedbackKind::Accepted,
            "Dr Patel",
            Some(date!(2026 - 12 - 05)),
        )
        .unwrap_err();
    assert!(matches!(err, Error::InvalidInput { .. }), "{err:?}");
    s.record_feedback_sent(open, FeedbackKind::Declined, "Dr Patel", None)
        .unwrap();
    assert_eq!(
        s.worklist(today, &limits).unwrap().len(),
        2,
        "the wrong message"
    );
    s.record_feedback_sent(open, FeedbackKind::Accepted, "Dr Patel", None)
        .unwrap();
    assert_eq!(
        s.worklist(today, &limits)
            .unwrap()
            .iter()
            .map(|i| i.kind)
            .collect::<Vec<_>>(),
        vec![WorkKind::BaselineMeasure]
    );
    assert_eq!(s.case_file(open).unwrap().feedback_sent.len(), 2);
    s.record_measure_not_completed(open, Instrument::Ons4, today, NotCompletedReason::Declined)
        .unwrap();
    assert!(s.worklist(today, &limits).unwrap().is_empty());

    // A follow-up falls due with the passing of a day.
    s.record_session(
        open,
        &session(FRIDAY_9AM as i64, Some(date!(2026 - 12 - 05))),
    )
    .unwrap();
    assert!(s.worklist(today, &limits).unwrap().is_empty());
    let tomorrow = s.worklist(date!(2026 - 12 - 05), &limits).unwrap();
    assert_eq!(tomorrow.len(), 1);
    assert_eq!(tomorrow[0].kind, WorkKind::FollowUp);

    // A ring-back is due on its day and gone once the call is made.
    let ring = s
        .add_ring_back(open, today, "missed call about the PIP form")
        .unwrap();
    let items = s.worklist(today, &limits).unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(
        (items[0].kind, items[0].ring_back),
        (WorkKind::RingBack, Some(ring))
    );
    assert_eq!(
        items[0].note.as_deref(),
        Some("missed call about the PIP form")
    );
    s.complete_ring_back(open, ring).unwrap();
    assert!(s.worklist(today, &limits).unwrap().is_empty());
    let err = s.complete_ring_back(open, ring).unwrap_err();
    assert!(matches!(err, Error::NotAllowed(_)), "{err:?}");

    // Tapering with no measure since: a closing measure is due; one taken clears it.
    clock.advance(DAY * 30);
    s.set_status(open, CaseStatus::Tapering, None).unwrap();
    let later = s.today();
    let items = s.worklist(later, &limits).unwrap();
    assert!(
        items.iter().any(|i| i.kind == WorkKind::ClosingMeasure),
        "{items:?}"
    );
    s.record_measure(
        open,
        Instrument::Ons4,
        later,
        &[Some(6), Some(6), Some(6), Some(3)],
    )
    .unwrap();
    assert!(
        !s.worklist(later, &limits)
            .unwrap()
            .iter()
            .any(|i| i.kind == WorkKind::ClosingMeasure)
    );
}

#[test]
fn bad_oversight_input_is_refused_and_changes_nothing() {
    let clock = ManualClock::at(FRIDAY_9AM);
    let (_dir, mut s) = store(&clock);
    let case = case(&mut s, "Ada");
    let before = s.case_file(case).unwrap();
    let err = s.add_ring_back(case, s.today(), "   ").unwrap_err();
    assert!(matches!(err, Error::InvalidInput { .. }), "{err:?}");
    let err = s
        .complete_ring_back(case, holdfast_core::model::ids::RingBackId::random())
        .unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
    let err = s
        .acknowledge_comment(case, holdfast_core::model::ids::CommentId::random())
        .unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
    assert_eq!(s.case_file(case).unwrap(), before);
}

#[test]
fn a_review_entry_says_where_one_case_stands_queued_or_not() {
    let clock = ManualClock::at(FRIDAY_9AM);
    let (_dir, mut s) = store(&clock);
    let case = case(&mut s, "Ada");
    let entry = s.review_entry(case).unwrap();
    assert_eq!((entry.reviewed_at, entry.changed.handovers), (None, 1));
    s.mark_reviewed(case).unwrap();
    let entry = s.review_entry(case).unwrap();
    assert!(entry.reviewed_at.is_some() && entry.changed.is_zero());
    s.record_session(case, &session(FRIDAY_9AM as i64, None))
        .unwrap();
    assert_eq!(s.review_entry(case).unwrap().changed.sessions, 1);
    let err = s
        .review_entry(holdfast_core::model::ids::DocumentId::random())
        .unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
}

#[test]
fn a_mark_covers_what_the_supervisor_was_shown_not_what_arrived_while_they_read() {
    let clock = ManualClock::at(FRIDAY_9AM);
    let (_dir, mut s) = store(&clock);
    let ann = case(&mut s, "Ann");
    s.record_session(ann, &session(FRIDAY_9AM as i64, None))
        .unwrap();
    let shown = s.review_entry(ann).unwrap();
    assert_eq!(shown.holds.sessions, 1);
    // A session arrives (here: recorded) while the supervisor reads the case.
    s.record_session(ann, &session(FRIDAY_9AM as i64 + 1, None))
        .unwrap();
    let recorded = s.mark_reviewed_upto(ann, &shown.holds).unwrap();
    assert_eq!(recorded, shown.holds);
    let queue = s.review_queue(50).unwrap();
    assert_eq!(queue.len(), 1, "the unseen session brings it back");
    assert_eq!(queue[0].changed.sessions, 1);
    assert_eq!(queue[0].holds.sessions, 2);

    // Never past what the case holds; never below this device's earlier mark.
    let mut inflated = queue[0].holds;
    inflated.sessions = 99;
    assert_eq!(
        s.mark_reviewed_upto(ann, &inflated).unwrap(),
        queue[0].holds
    );
    let stale = holdfast_core::model::oversight::CaseCounters::default();
    assert_eq!(s.mark_reviewed_upto(ann, &stale).unwrap(), queue[0].holds);
    assert!(s.review_queue(50).unwrap().is_empty());
}

#[test]
fn a_link_workers_caseload_lists_their_open_cases_safeguarding_first_then_by_status() {
    let clock = ManualClock::at(FRIDAY_9AM);
    let (_dir, mut s) = store(&clock);
    let me = s.this_member();
    let referred = case(&mut s, "Referred");
    clock.advance(DAY);
    let active = case(&mut s, "Active");
    let worrying = case(&mut s, "Worrying");
    let closed = case(&mut s, "Closed");
    for case in [active, worrying, closed] {
        let r = s
            .add_referral(case, &referral(date!(2026 - 12 - 04)))
            .unwrap();
        s.decide_referral(case, r, &ReferralDecision::Accepted)
            .unwrap();
    }
    s.raise_concern(
        worrying,
        &NewConcern {
            description: "bruising".into(),
            escalated_to: None,
        },
    )
    .unwrap();
    s.close_case(
        closed,
        holdfast_core::model::case_file::ClosureReason::GoalsMet,
        Some("walking group twice a week"),
    )
    .unwrap();
    let names = |entries: Vec<holdfast_core::store::QueueEntry>| -> Vec<String> {
        entries.into_iter().map(|e| e.patient_name).collect()
    };
    assert_eq!(
        names(s.held_cases(Some(me), 100).unwrap()),
        ["Worrying", "Referred", "Active"],
        "safeguarding first, then by status; closed cases are not a caseload"
    );
    let first_two = s.held_cases(Some(me), 2).unwrap();
    assert_eq!(
        first_two.iter().map(|e| e.case_id).collect::<Vec<_>>(),
        [worrying, referred]
    );
    // Nobody else holds anything, and no case is unassigned.
    let other = holdfast_core::model::ids::DeviceId::random();
    assert!(s.held_cases(Some(other), 100).unwrap().is_empty());
    assert!(s.held_cases(None, 100).unwrap().is_empty());
    // Each entry says where it stands for this device's review.
    let entry = &s.held_cases(Some(me), 100).unwrap()[0];
    assert_eq!(entry.open_safeguarding, 1);
    assert!(entry.reviewed_at.is_none());
    s.mark_reviewed(worrying).unwrap();
    let entry = &s.held_cases(Some(me), 100).unwrap()[0];
    assert!(entry.reviewed_at.is_some());
}
