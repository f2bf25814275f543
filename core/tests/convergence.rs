//! Property tests: random concurrent edits on 2–3 replicas of each document kind, with the
//! changes delivered one by one in random orders (out-of-order included), converge to
//! identical heads and identical typed views — and nothing anyone wrote is lost.

use automerge::{AutoCommit, Change};
use holdfast_core::model::action_plan::{
    self, AssetRef, ConnectionStatus, GoalStatus, NewStep, StepOwner,
};
use holdfast_core::model::case_file::{
    self, CaseStatus, ConcernStatus, EscalationTarget, Need, NewConcern, NewReferral, NewSession,
    Patient, ReferralSource, SessionMode,
};
use holdfast_core::model::directory::{self, AssetInput, Capacity};
use holdfast_core::model::doc::{self, Author};
use holdfast_core::model::ids::{AssetId, DeviceId, DocumentId};
use holdfast_core::model::measures::Instrument;
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;
use time::macros::date;

/// The time every edit here is stamped with: convergence does not depend on it.
const T: i64 = 1_780_000_000_000;

fn author(n: u8) -> Author {
    Author {
        device: DeviceId([n; 16]),
        person: format!("worker {n}"),
    }
}

/// A tiny deterministic shuffle, driven by a proptest-chosen seed.
fn shuffle<T>(items: &mut [T], mut seed: u64) {
    for i in (1..items.len()).rev() {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let j = (seed % (i as u64 + 1)) as usize;
        items.swap(i, j);
    }
}

/// Replicas forked from one base document, each with its own device as actor.
fn replicas(base: &mut AutoCommit, n: usize) -> Vec<(Author, AutoCommit)> {
    (0..n)
        .map(|i| {
            let a = author(i as u8 + 1);
            let doc = base.fork().with_actor(a.actor());
            (a, doc)
        })
        .collect()
}

/// Delivers to every replica every change it lacks, one change per call, in a random order.
fn exchange(reps: &mut [(Author, AutoCommit)], seed: u64) {
    let all: Vec<Vec<Change>> = reps.iter_mut().map(|(_, d)| d.get_changes(&[])).collect();
    for (i, (_, doc)) in reps.iter_mut().enumerate() {
        let mut incoming: Vec<Change> = all
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != i)
            .flat_map(|(_, c)| c.clone())
            .collect();
        shuffle(&mut incoming, seed.wrapping_add(i as u64 * 7919).max(1));
        for change in incoming {
            doc.apply_changes([change])
                .expect("changes from a replica apply");
        }
        assert!(
            doc.get_missing_deps(&[]).is_empty(),
            "every dependency arrived"
        );
    }
}

/// Delivers only the changes of replica `from` to replica `to` (a partial sync).
fn deliver(reps: &mut [(Author, AutoCommit)], from: usize, to: usize) {
    if from == to {
        return;
    }
    let changes = reps[from].1.get_changes(&[]);
    reps[to].1.apply_changes(changes).expect("apply");
}

/// Commits an op the model accepted as one change; rolls back one it refused.
fn finish(doc: &mut AutoCommit, a: &Author, result: holdfast_core::Result<()>) {
    match result {
        Ok(()) => {
            doc::commit(doc, a, "op", T);
        }
        Err(_) => {
            doc.rollback();
        }
    }
}

fn assert_same_heads(reps: &mut [(Author, AutoCommit)]) {
    let heads: Vec<_> = reps.iter_mut().map(|(_, d)| d.get_heads()).collect();
    assert!(
        heads.windows(2).all(|w| w[0] == w[1]),
        "heads differ: {heads:?}"
    );
}

/// 48 cases per kind; failures are kept in a committed regression file and replayed first.
fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 48,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "tests/convergence.proptest-regressions",
        ))),
        ..ProptestConfig::default()
    }
}

// ---------------------------------------------------------------------------------------
// Case files

#[derive(Debug, Clone)]
enum CaseOp {
    Status(CaseStatus),
    Session(String),
    Amend(usize, String),
    Concern(bool),
    ConcernStatus(usize, ConcernStatus),
    Referral,
    Comment(String),
    Measure(u8),
    Rename(String),
}

fn case_op() -> BoxedStrategy<CaseOp> {
    let status = prop::sample::select(CaseStatus::ALL.to_vec());
    let concern = prop::sample::select(ConcernStatus::ALL.to_vec());
    prop_oneof![
        status.prop_map(CaseOp::Status),
        "[a-z ]{1,12}".prop_map(CaseOp::Session),
        (0usize..4, "[a-z ]{1,12}").prop_map(|(i, s)| CaseOp::Amend(i, s)),
        any::<bool>().prop_map(CaseOp::Concern),
        (0usize..3, concern).prop_map(|(i, s)| CaseOp::ConcernStatus(i, s)),
        Just(CaseOp::Referral),
        "[a-z ]{1,12}".prop_map(CaseOp::Comment),
        (0u8..=10).prop_map(CaseOp::Measure),
        "[A-Z][a-z]{1,8}".prop_map(CaseOp::Rename),
    ]
    .boxed()
}

/// Applies one op as one committed change; ops the model refuses are rolled back.
fn apply_case_op(doc: &mut AutoCommit, a: &Author, op: &CaseOp) {
    let result = match op {
        CaseOp::Status(s) => case_file::set_status(doc, a, *s, None, T),
        CaseOp::Session(note) => case_file::record_session(
            doc,
            a,
            &NewSession {
                start: 1_760_000_000_000,
                duration_minutes: 30,
                mode: SessionMode::Phone,
                attended: true,
                note: note.clone(),
                holding_functions: vec![],
                follow_up: None,
            },
        )
        .map(|_| ()),
        CaseOp::Amend(i, note) => match case_file::read(doc)
            .ok()
            .and_then(|c| c.sessions.get(*i).map(|s| s.id))
        {
            Some(id) => case_file::amend_session_note(doc, id, note),
            None => Ok(()),
        },
        CaseOp::Concern(escalate) => case_file::raise_concern(
            doc,
            a,
            &NewConcern {
                description: "worried".into(),
                escalated_to: escalate.then_some(EscalationTarget::Gp),
            },
            T,
        )
        .map(|_| ()),
        CaseOp::ConcernStatus(i, s) => {
            match case_file::read(doc)
                .ok()
                .and_then(|c| c.safeguarding.get(*i).map(|c| c.id))
            {
                Some(id) => case_file::set_concern_status(
                    doc,
                    id,
                    *s,
                    Some(EscalationTarget::LocalAuthority),
                ),
                None => Ok(()),
            }
        }
        CaseOp::Referral => case_file::add_referral(
            doc,
            a,
            &NewReferral {
                received: date!(2026 - 10 - 01),
                source: ReferralSource::SelfReferral,
                referrer: None,
                reason: "lonely".into(),
                needs: vec![Need::Loneliness],
            },
            T,
        )
        .map(|_| ()),
        CaseOp::Comment(t) => case_file::add_supervision_comment(doc, a, t, T).map(|_| ()),
        CaseOp::Measure(v) => case_file::record_measure(
            doc,
            a,
            Instrument::Ons4,
            date!(2026 - 10 - 02),
            &[Some(*v), Some(5), Some(5), Some(5)],
            T,
        )
        .map(|_| ()),
        CaseOp::Rename(n) => {
            let mut p = case_file::read(doc).expect("readable").patient;
            p.name = n.clone();
            case_file::update_patient(doc, &p)
        }
    };
    finish(doc, a, result);
}

fn ops_per_replica<T: std::fmt::Debug + Clone + 'static>(
    op: BoxedStrategy<T>,
) -> impl Strategy<Value = Vec<Vec<T>>> {
    prop::collection::vec(prop::collection::vec(op, 0..8), 2..=3)
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn case_files_converge(
        ops in ops_per_replica(case_op()),
        later in ops_per_replica(case_op()),
        partial in prop::collection::vec((0usize..3, 0usize..3), 0..3),
        seed in 1u64..u64::MAX,
    ) {
        let base_author = author(0);
        let mut base = case_file::create(&base_author, &Patient::named("Ada"), DocumentId([9; 16]), T).expect("create");
        doc::commit(&mut base, &base_author, "created", T);
        let mut reps = replicas(&mut base, ops.len());
        for (i, batch) in ops.iter().enumerate() {
            let (a, d) = &mut reps[i];
            for op in batch { apply_case_op(d, a, op); }
        }
        for (from, to) in partial {
            let n = reps.len();
            deliver(&mut reps, from % n, to % n);
        }
        for (i, batch) in later.iter().enumerate().take(reps.len()) {
            let (a, d) = &mut reps[i];
            for op in batch { apply_case_op(d, a, op); }
        }
        let recorded: usize = reps.iter_mut().map(|(_, d)| d.get_changes(&[]).len()).sum();
        exchange(&mut reps, seed);
        assert_same_heads(&mut reps);
        let views: Vec<_> = reps.iter_mut().map(|(_, d)| case_file::read(d).expect("readable")).collect();
        for v in &views[1..] {
            prop_assert_eq!(v, &views[0]);
        }
        // Every session any replica recorded is there, and no change was dropped.
        let sessions_written = ops.iter().chain(later.iter().take(ops.len())).flatten().filter(|o| matches!(o, CaseOp::Session(_))).count();
        prop_assert!(views[0].sessions.len() <= sessions_written);
        prop_assert!(reps[0].1.get_changes(&[]).len() <= recorded);
    }
}

#[test]
fn concurrent_status_changes_stay_visible_until_resolved() {
    let a0 = author(0);
    let mut base = case_file::create(&a0, &Patient::named("Ada"), DocumentId([9; 16]), T).unwrap();
    case_file::set_status(&mut base, &a0, CaseStatus::Active, None, T).unwrap();
    doc::commit(&mut base, &a0, "active", T);
    let mut reps = replicas(&mut base, 2);
    let (a, d) = &mut reps[0];
    case_file::set_status(
        d,
        a,
        CaseStatus::Holding,
        Some("waiting for debt advice"),
        T,
    )
    .unwrap();
    doc::commit(d, a, "holding", T);
    let (a, d) = &mut reps[1];
    case_file::set_status(d, a, CaseStatus::Tapering, None, T).unwrap();
    doc::commit(d, a, "tapering", T);
    exchange(&mut reps, 42);

    let (a, d) = &mut reps[0];
    let view = case_file::read(d).unwrap();
    assert!(view.status.is_conflicted());
    let mut claimed: Vec<_> = view
        .status
        .claims
        .iter()
        .map(|c| (c.value, c.by.clone().unwrap()))
        .collect();
    claimed.sort();
    assert_eq!(
        claimed,
        vec![
            (CaseStatus::Holding, "worker 1".into()),
            (CaseStatus::Tapering, "worker 2".into())
        ]
    );
    // Both transitions are in the log, attributed.
    assert_eq!(
        view.status_log
            .iter()
            .filter(|s| s.from == Some(CaseStatus::Active))
            .count(),
        2
    );
    // Nobody can move a conflicted status on; resolving must pick a competing value.
    assert!(matches!(
        case_file::set_status(d, a, CaseStatus::Closed, None, T),
        Err(holdfast_core::Error::Conflict { .. })
    ));
    d.rollback();
    assert!(case_file::resolve_status(d, a, CaseStatus::Closed, T).is_err());
    d.rollback();
    case_file::resolve_status(d, a, CaseStatus::Holding, T).unwrap();
    doc::commit(d, a, "resolved", T);
    exchange(&mut reps, 7);
    for (_, d) in reps.iter_mut() {
        let v = case_file::read(d).unwrap();
        assert_eq!(v.status.agreed(), Some(&CaseStatus::Holding));
    }
}

#[test]
fn concurrent_note_amendments_keep_both_versions() {
    let a0 = author(0);
    let mut base = case_file::create(&a0, &Patient::named("Ada"), DocumentId([9; 16]), T).unwrap();
    let sid = case_file::record_session(
        &mut base,
        &a0,
        &NewSession {
            start: 0,
            duration_minutes: 30,
            mode: SessionMode::HomeVisit,
            attended: true,
            note: "first draft".into(),
            holding_functions: vec![],
            follow_up: None,
        },
    )
    .unwrap();
    doc::commit(&mut base, &a0, "session", T);
    let mut reps = replicas(&mut base, 2);
    for (i, text) in ["draft from the car", "draft from the office"]
        .iter()
        .enumerate()
    {
        let (_, d) = &mut reps[i];
        case_file::amend_session_note(d, sid, text).unwrap();
        let (a, d) = &mut reps[i];
        doc::commit(d, a, "amend", T);
    }
    exchange(&mut reps, 3);
    let view = case_file::read(&mut reps[1].1).unwrap();
    let mut notes: Vec<_> = view.sessions[0].note.values().cloned().collect();
    notes.sort();
    assert_eq!(
        notes,
        vec![
            "draft from the car".to_string(),
            "draft from the office".to_string()
        ]
    );
    assert!(
        view.sessions[0]
            .note
            .claims
            .iter()
            .all(|c| c.device.is_some() && c.at.is_some())
    );
}

// ---------------------------------------------------------------------------------------
// Action plans

#[derive(Debug, Clone)]
enum PlanOp {
    WhatMatters(String),
    Goal(String),
    EditGoal(usize, String),
    GoalStatus(usize, GoalStatus),
    Step(Option<usize>, String, bool),
    Done(usize, bool),
    Connect(usize, ConnectionStatus),
    Comment(String),
    Touch(String),
}

fn plan_op() -> BoxedStrategy<PlanOp> {
    prop_oneof![
        "[a-z ]{0,16}".prop_map(PlanOp::WhatMatters),
        "[a-z][a-z ]{0,11}".prop_map(PlanOp::Goal),
        (0usize..3, "[a-z ]{1,12}").prop_map(|(i, s)| PlanOp::EditGoal(i, s)),
        (0usize..3, prop::sample::select(GoalStatus::ALL.to_vec()))
            .prop_map(|(i, s)| PlanOp::GoalStatus(i, s)),
        (prop::option::of(0usize..3), "[a-z ]{1,12}", any::<bool>())
            .prop_map(|(g, s, linked)| PlanOp::Step(g, s, linked)),
        (0usize..4, any::<bool>()).prop_map(|(i, b)| PlanOp::Done(i, b)),
        (
            0usize..4,
            prop::sample::select(ConnectionStatus::ALL.to_vec())
        )
            .prop_map(|(i, s)| PlanOp::Connect(i, s)),
        "[a-z][a-z ]{0,11}".prop_map(PlanOp::Comment),
        "[a-z0-9 ]{0,12}".prop_map(PlanOp::Touch),
    ]
    .boxed()
}

fn apply_plan_op(doc: &mut AutoCommit, a: &Author, op: &PlanOp) {
    let plan = action_plan::read(doc).expect("readable");
    let result = match op {
        PlanOp::WhatMatters(t) => action_plan::set_what_matters(doc, t),
        PlanOp::Goal(t) => action_plan::add_goal(doc, t, T).map(|_| ()),
        PlanOp::EditGoal(i, t) => match plan.goals.get(*i) {
            Some(g) => action_plan::edit_goal(doc, g.id, t),
            None => Ok(()),
        },
        PlanOp::GoalStatus(i, s) => match plan.goals.get(*i) {
            Some(g) => action_plan::set_goal_status(doc, g.id, *s),
            None => Ok(()),
        },
        PlanOp::Step(g, t, linked) => action_plan::add_step(
            doc,
            a,
            &NewStep {
                goal: g.and_then(|i| plan.goals.get(i).map(|g| g.id)),
                text: t.clone(),
                owner: StepOwner::Patient,
                due: None,
                asset: linked.then_some(AssetRef {
                    directory: DocumentId([7; 16]),
                    asset: AssetId([7; 8]),
                }),
            },
            date!(2026 - 06 - 01),
            T,
        )
        .map(|_| ()),
        PlanOp::Connect(i, status) => match plan.steps.get(*i) {
            Some(s) if s.asset.is_some() => action_plan::record_connection(
                doc,
                a,
                s.id,
                *status,
                date!(2026 - 06 - 02),
                date!(2026 - 06 - 02),
                T,
            )
            .map(|_| ()),
            _ => Ok(()),
        },
        PlanOp::Done(i, b) => match plan.steps.get(*i) {
            Some(s) => action_plan::set_step_done(doc, s.id, *b),
            None => Ok(()),
        },
        PlanOp::Comment(t) => action_plan::add_comment(doc, a, t, T).map(|_| ()),
        PlanOp::Touch(t) => action_plan::set_get_back_in_touch(doc, t),
    };
    finish(doc, a, result);
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn action_plans_converge(
        ops in ops_per_replica(plan_op()),
        later in ops_per_replica(plan_op()),
        partial in prop::collection::vec((0usize..3, 0usize..3), 0..3),
        seed in 1u64..u64::MAX,
    ) {
        let a0 = author(0);
        let mut base = action_plan::create(&a0).expect("create");
        action_plan::set_what_matters(&mut base, "seeing my grandchildren").expect("what matters");
        doc::commit(&mut base, &a0, "created", T);
        let mut reps = replicas(&mut base, ops.len());
        for (i, batch) in ops.iter().enumerate() {
            let (a, d) = &mut reps[i];
            for op in batch { apply_plan_op(d, a, op); }
        }
        for (from, to) in partial {
            let n = reps.len();
            deliver(&mut reps, from % n, to % n);
        }
        for (i, batch) in later.iter().enumerate().take(reps.len()) {
            let (a, d) = &mut reps[i];
            for op in batch { apply_plan_op(d, a, op); }
        }
        exchange(&mut reps, seed);
        assert_same_heads(&mut reps);
        let views: Vec<_> = reps.iter().map(|(_, d)| action_plan::read(d).expect("readable")).collect();
        for v in &views[1..] {
            prop_assert_eq!(v, &views[0]);
        }
        let goals_added = ops.iter().chain(later.iter().take(ops.len())).flatten().filter(|o| matches!(o, PlanOp::Goal(_))).count();
        prop_assert_eq!(views[0].goals.len(), goals_added, "every goal anyone added is there");
        let comments = ops.iter().chain(later.iter().take(ops.len())).flatten().filter(|o| matches!(o, PlanOp::Comment(_))).count();
        prop_assert_eq!(views[0].comments.len(), comments, "every comment is there");
    }
}

#[test]
fn concurrent_edits_to_what_matters_both_survive() {
    let a0 = author(0);
    let mut base = action_plan::create(&a0).unwrap();
    action_plan::set_what_matters(&mut base, "getting out of the house").unwrap();
    doc::commit(&mut base, &a0, "created", T);
    let mut reps = replicas(&mut base, 2);
    let edits = [
        "getting out of the house more often",
        "really getting out of the house",
    ];
    for (i, text) in edits.iter().enumerate() {
        let (a, d) = &mut reps[i];
        action_plan::set_what_matters(d, text).unwrap();
        doc::commit(d, a, "edit", T);
    }
    exchange(&mut reps, 11);
    let text = action_plan::read(&reps[0].1).unwrap().what_matters;
    assert_eq!(text, "really getting out of the house more often");
}

// ---------------------------------------------------------------------------------------
// Directories

#[derive(Debug, Clone)]
enum DirOp {
    Add(String),
    Edit(usize, String),
    Capacity(usize, Capacity),
}

fn dir_op() -> BoxedStrategy<DirOp> {
    prop_oneof![
        "[A-Z][a-z ]{1,12}".prop_map(DirOp::Add),
        (0usize..4, "[a-z ]{1,20}").prop_map(|(i, s)| DirOp::Edit(i, s)),
        (
            0usize..4,
            prop::sample::select(vec![
                Capacity::Open,
                Capacity::WaitingList,
                Capacity::Closed
            ])
        )
            .prop_map(|(i, c)| DirOp::Capacity(i, c)),
    ]
    .boxed()
}

fn apply_dir_op(doc: &mut AutoCommit, a: &Author, op: &DirOp) {
    let assets = directory::read_all(doc).expect("readable");
    let result = match op {
        DirOp::Add(name) => directory::upsert_asset(
            doc,
            None,
            &AssetInput {
                name: name.clone(),
                description: "a group".into(),
                ..Default::default()
            },
        )
        .map(|_| ()),
        DirOp::Edit(i, d) => match assets.get(*i) {
            Some(asset) => {
                let mut f = asset.fields.clone();
                f.description = d.clone();
                directory::upsert_asset(doc, Some(asset.id), &f).map(|_| ())
            }
            None => Ok(()),
        },
        DirOp::Capacity(i, c) => match assets.get(*i) {
            Some(asset) => {
                let mut f = asset.fields.clone();
                f.capacity = *c;
                directory::upsert_asset(doc, Some(asset.id), &f).map(|_| ())
            }
            None => Ok(()),
        },
    };
    finish(doc, a, result);
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn directories_converge(
        ops in ops_per_replica(dir_op()),
        later in ops_per_replica(dir_op()),
        seed in 1u64..u64::MAX,
    ) {
        let a0 = author(0);
        let mut base = directory::create(&a0, "Leeds North").expect("create");
        doc::commit(&mut base, &a0, "created", T);
        let mut reps = replicas(&mut base, ops.len());
        for (i, batch) in ops.iter().enumerate() {
            let (a, d) = &mut reps[i];
            for op in batch { apply_dir_op(d, a, op); }
        }
        deliver(&mut reps, 0, 1);
        for (i, batch) in later.iter().enumerate().take(reps.len()) {
            let (a, d) = &mut reps[i];
            for op in batch { apply_dir_op(d, a, op); }
        }
        exchange(&mut reps, seed);
        assert_same_heads(&mut reps);
        let views: Vec<_> = reps.iter().map(|(_, d)| directory::read_all(d).expect("readable")).collect();
        for v in &views[1..] {
            prop_assert_eq!(v, &views[0]);
        }
        let added = ops.iter().chain(later.iter().take(ops.len())).flatten().filter(|o| matches!(o, DirOp::Add(_))).count();
        prop_assert_eq!(views[0].len(), added);
    }
}
