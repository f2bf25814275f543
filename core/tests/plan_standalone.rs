//! The patient's plan stands on its own (issue 13, part 4): a linked step carries a copy of
//! the asset's listing, the plan carries the team's out-of-hours wording and working hours
//! and the link worker's "about me", closing the case ends the plan (and a re-referral
//! reopens it), and `render_plan` gives large-print and plain-text versions without ids.

use std::sync::Arc;

use automerge::transaction::Transactable;
use holdfast_core::model::action_plan::{
    self, AssetDetails, AssetRef, DEFAULT_HOW_TO_COME_BACK, NewStep, StepOwner, WorkingHours,
};
use holdfast_core::model::case_file::{
    ClosureReason, Need, NewPatient, NewReferral, ReferralDecision, ReferralSource,
};
use holdfast_core::model::directory::AssetInput;
use holdfast_core::model::doc::Author;
use holdfast_core::model::ids::{AssetId, DeviceId, DocumentId};
use holdfast_core::model::plan_render::{RenderStyle, comment_notice, render_plan};
use holdfast_core::model::team_settings::{DEFAULT_OUT_OF_HOURS, PlanWording};
use holdfast_core::{Error, ManualClock, MemoryKeyStore, Store, StoreConfig};
use time::macros::date;

/// Friday 4 December 2026, 09:00 UTC (GMT: 9am in the UK).
const FRIDAY_9AM: u64 = 1_796_374_800_000;

fn store(clock: &ManualClock) -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let config = StoreConfig::new(dir.path(), "Sam Okafor").with_clock(Arc::new(clock.clone()));
    let store = Store::create(&config, &MemoryKeyStore::default()).unwrap();
    (dir, store)
}

fn walking_group() -> AssetInput {
    AssetInput {
        name: "Tuesday Walking Group".into(),
        description: "A gentle walk round the park, then tea.".into(),
        phone: Some("0113 496 0000".into()),
        address: Some("Meanwood Park gates, Green Road".into()),
        postcode: Some("LS6 4LE".parse().unwrap()),
        schedule: Some("Tuesdays 10:00-12:00".into()),
        cost: Some("Free".into()),
        url: Some("https://example.org/walks".into()),
        assured_date: Some("2026-11-02".into()),
        ..AssetInput::default()
    }
}

fn linked_step(asset: AssetRef) -> NewStep {
    NewStep {
        goal: None,
        text: "Try the walking group".into(),
        owner: StepOwner::Patient,
        due: None,
        asset: Some(asset),
    }
}

#[test]
fn a_linked_step_carries_the_listing_and_a_refresh_rewrites_only_what_changed() {
    let clock = ManualClock::at(FRIDAY_9AM);
    let (_dir, mut s) = store(&clock);
    let dir = s.create_directory("Leeds North").unwrap();
    let walking = s.upsert_asset(dir, None, &walking_group()).unwrap();
    let plan = s
        .create_case_file(NewPatient::named("Eleanor Rigby"))
        .unwrap()
        .plan_id;
    let linked = AssetRef {
        directory: dir,
        asset: walking,
    };
    let step = s.add_step(plan, &linked_step(linked)).unwrap();
    let expected = AssetDetails {
        name: "Tuesday Walking Group".into(),
        when: Some("Tuesdays 10:00-12:00".into()),
        place: Some("Meanwood Park gates, Green Road, LS6 4LE".into()),
        phone: Some("0113 496 0000".into()),
        cost: Some("Free".into()),
        url: Some("https://example.org/walks".into()),
        checked: Some(date!(2026 - 11 - 02)),
    };
    let read = s.action_plan(plan).unwrap();
    assert_eq!(read.steps[0].asset_details.as_ref(), Some(&expected));

    // A directory or an asset not on this device: a typed error, nothing written.
    let heads = s.heads(plan).unwrap();
    for missing in [
        AssetRef {
            directory: DocumentId::random(),
            asset: walking,
        },
        AssetRef {
            directory: dir,
            asset: AssetId::random(),
        },
    ] {
        let err = s.add_step(plan, &linked_step(missing)).unwrap_err();
        assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
    }
    // Not a directory at all.
    let err = s
        .add_step(
            plan,
            &linked_step(AssetRef {
                directory: plan,
                asset: walking,
            }),
        )
        .unwrap_err();
    assert!(matches!(err, Error::WrongDocumentKind { .. }), "{err:?}");
    assert_eq!(s.heads(plan).unwrap(), heads);
    assert_eq!(s.action_plan(plan).unwrap().steps.len(), 1);

    // Nothing changed in the listing: a refresh writes nothing.
    assert!(!s.refresh_step_asset(plan, step).unwrap());
    let refresh = s.refresh_plan_assets(plan).unwrap();
    assert_eq!(
        (refresh.updated, refresh.unchanged, refresh.missing),
        (0, 1, 0)
    );
    assert_eq!(s.heads(plan).unwrap(), heads);

    // The listing changes: one refresh, one change, the new words.
    let moved = AssetInput {
        phone: Some("0113 496 0123".into()),
        schedule: Some("Wednesdays 10:00-12:00".into()),
        cost: None,
        assured_date: Some("2026-12-01".into()),
        ..walking_group()
    };
    s.upsert_asset(dir, Some(walking), &moved).unwrap();
    let history = s.history(plan).unwrap().len();
    let refresh = s.refresh_plan_assets(plan).unwrap();
    assert_eq!((refresh.updated, refresh.unchanged), (1, 0));
    assert_eq!(s.history(plan).unwrap().len(), history + 1);
    let details = s.action_plan(plan).unwrap().steps[0]
        .asset_details
        .clone()
        .unwrap();
    assert_eq!(
        details,
        AssetDetails {
            phone: Some("0113 496 0123".into()),
            when: Some("Wednesdays 10:00-12:00".into()),
            cost: None,
            checked: Some(date!(2026 - 12 - 01)),
            ..expected.clone()
        }
    );
    assert!(!s.refresh_step_asset(plan, step).unwrap());

    // A step without an asset has nothing to refresh.
    let plain = s
        .add_step(
            plan,
            &NewStep {
                goal: None,
                text: "Ring her sister".into(),
                owner: StepOwner::LinkWorker,
                due: None,
                asset: None,
            },
        )
        .unwrap();
    let err = s.refresh_step_asset(plan, plain).unwrap_err();
    assert!(matches!(err, Error::InvalidInput { .. }), "{err:?}");
}

#[test]
fn a_plan_written_before_the_copies_or_with_junk_in_them_reads_without_error() {
    let author = Author {
        device: DeviceId([1; 16]),
        person: "Sam".into(),
    };
    let mut doc = action_plan::create(&author).unwrap();
    let step = action_plan::add_step(
        &mut doc,
        &author,
        &linked_step(AssetRef {
            directory: DocumentId([2; 16]),
            asset: AssetId([3; 8]),
        }),
        date!(2026 - 12 - 04),
        1,
    )
    .unwrap();
    doc.commit();
    let old = action_plan::read(&doc).unwrap();
    assert_eq!(old.steps[0].asset_details, None);
    assert_eq!(old.working_hours, None);
    assert_eq!(old.ended, None);
    assert_eq!(
        (old.about_link_worker.as_str(), old.out_of_hours.as_str()),
        ("", "")
    );

    // Junk where the copies go (a patient's device may write anything): read as absent.
    doc.put(automerge::ROOT, "working_hours", 7_i64).unwrap();
    doc.put(automerge::ROOT, "ended", "yesterday").unwrap();
    doc.put(automerge::ROOT, "out_of_hours", 3_i64).unwrap();
    let steps = match automerge::ReadDoc::get(&doc, automerge::ROOT, "steps").unwrap() {
        Some((_, id)) => id,
        None => panic!("no steps"),
    };
    let s = match automerge::ReadDoc::get(&doc, &steps, step.to_string()).unwrap() {
        Some((_, id)) => id,
        None => panic!("no step"),
    };
    doc.put(&s, "asset_details", "junk").unwrap();
    doc.commit();
    let junk = action_plan::read(&doc).unwrap();
    assert_eq!(junk.steps[0].asset_details, None);
    assert_eq!(junk.working_hours, None);
    assert_eq!(junk.ended, None);
    assert_eq!(junk.out_of_hours, "");

    // Writing the copies again mends them.
    action_plan::set_asset_details(
        &mut doc,
        step,
        &AssetDetails {
            name: "Tuesday Walking Group".into(),
            ..AssetDetails::default()
        },
    )
    .unwrap();
    action_plan::set_team_wording(&mut doc, "Call 111.", &WorkingHours::default()).unwrap();
    action_plan::end(&mut doc, date!(2026 - 12 - 05)).unwrap();
    doc.commit();
    let mended = action_plan::read(&doc).unwrap();
    assert_eq!(
        mended.steps[0]
            .asset_details
            .as_ref()
            .map(|d| d.name.as_str()),
        Some("Tuesday Walking Group")
    );
    assert_eq!(mended.working_hours, Some(WorkingHours::default()));
    assert_eq!(
        mended.ended.unwrap().how_to_come_back,
        DEFAULT_HOW_TO_COME_BACK
    );
}

#[test]
fn the_teams_wording_and_the_link_workers_about_me_are_copied_into_plans() {
    let clock = ManualClock::at(FRIDAY_9AM);
    let (_dir, mut s) = store(&clock);
    // Outside a team: the defaults, and nothing to set.
    assert_eq!(
        s.team_plan_wording().unwrap().wording,
        PlanWording::default()
    );
    assert!(s.team_plan_wording().unwrap().set.is_none());
    let wording = PlanWording {
        out_of_hours: "If you are in crisis, call 111, or 999 in an emergency. \
                       Samaritans: 116 123."
            .into(),
        working_hours: "Mon-Thu 08:30-16:30".parse().unwrap(),
    };
    assert!(matches!(
        s.set_team_plan_wording(&wording),
        Err(Error::NotAllowed(_))
    ));

    s.create_team("https://relay.invalid").unwrap();
    s.set_team_plan_wording(&wording).unwrap();
    let set = s.team_plan_wording().unwrap();
    assert_eq!(set.wording, wording);
    let by = set.set.unwrap();
    assert_eq!(
        (by.by.as_str(), by.by_device),
        ("Sam Okafor", s.author().device)
    );
    // Bad wording is refused and changes nothing.
    for bad in [
        PlanWording {
            out_of_hours: " ".into(),
            ..wording.clone()
        },
        PlanWording {
            working_hours: WorkingHours {
                start_minute: 17 * 60,
                end_minute: 9 * 60,
                days: 1,
            },
            ..wording.clone()
        },
    ] {
        assert!(matches!(
            s.set_team_plan_wording(&bad),
            Err(Error::InvalidInput { .. })
        ));
    }
    assert_eq!(s.team_plan_wording().unwrap().wording, wording);

    let about = "I'm Sam Okafor, your link worker at Meanwood Group Practice. \
                 Call the surgery on 0113 496 0999 and ask for me.";
    assert!(matches!(
        s.set_about_link_worker(&"x".repeat(2_001)),
        Err(Error::InvalidInput { .. })
    ));
    assert_eq!(s.about_link_worker().unwrap(), None);
    s.set_about_link_worker(about).unwrap();
    assert_eq!(s.about_link_worker().unwrap().as_deref(), Some(about));

    let plan = s
        .create_case_file(NewPatient::named("Eleanor Rigby"))
        .unwrap()
        .plan_id;
    let p = s.action_plan(plan).unwrap();
    assert_eq!(p.about_link_worker, about);
    assert_eq!(p.out_of_hours, wording.out_of_hours);
    assert_eq!(p.working_hours, Some(wording.working_hours));

    // New wording reaches an existing plan when it is refreshed, not before.
    let later = PlanWording {
        out_of_hours: "Call NHS 111.".into(),
        working_hours: WorkingHours::default(),
    };
    s.set_team_plan_wording(&later).unwrap();
    assert_eq!(
        s.action_plan(plan).unwrap().out_of_hours,
        wording.out_of_hours
    );
    s.refresh_plan_contact(plan).unwrap();
    let p = s.action_plan(plan).unwrap();
    assert_eq!(p.out_of_hours, "Call NHS 111.");
    assert_eq!(p.working_hours, Some(WorkingHours::default()));
    // Refreshing again writes nothing.
    let heads = s.heads(plan).unwrap();
    s.refresh_plan_contact(plan).unwrap();
    assert_eq!(s.heads(plan).unwrap(), heads);

    // A comment at 11pm on a Friday is read on Monday.
    let friday_11pm = FRIDAY_9AM as i64 + 14 * 3_600_000;
    assert_eq!(
        comment_notice(&p, friday_11pm).as_deref(),
        Some(
            "Your link worker works Monday to Friday, 9am to 5pm. They will read this on \
             Monday 7 December. Call NHS 111."
        )
    );
    assert_eq!(comment_notice(&p, FRIDAY_9AM as i64), None);
}

fn referral() -> NewReferral {
    NewReferral {
        received: date!(2026 - 11 - 02),
        source: ReferralSource::Gp,
        referrer: Some("Dr Patel".into()),
        reason: "Lonely since her husband died".into(),
        needs: vec![Need::Loneliness],
    }
}

#[test]
fn closing_the_case_ends_the_plan_and_a_re_referral_reopens_it() {
    let clock = ManualClock::at(FRIDAY_9AM);
    let (_dir, mut s) = store(&clock);
    let ids = s
        .create_case_file(NewPatient::named("Eleanor Rigby"))
        .unwrap();
    let r = s.add_referral(ids.case_id, &referral()).unwrap();
    s.decide_referral(ids.case_id, r, &ReferralDecision::Accepted)
        .unwrap();
    s.set_get_back_in_touch(ids.plan_id, "Call the surgery and ask for Sam.")
        .unwrap();
    assert_eq!(s.action_plan(ids.plan_id).unwrap().ended, None);

    s.close_case(ids.case_id, ClosureReason::GoalsMet, None)
        .unwrap();
    let ended = s.action_plan(ids.plan_id).unwrap().ended.unwrap();
    assert_eq!(ended.on, date!(2026 - 12 - 04));
    assert_eq!(ended.how_to_come_back, "Call the surgery and ask for Sam.");
    let plan = s.action_plan(ids.plan_id).unwrap();
    let large = render_plan(&plan, RenderStyle::LargePrint, date!(2026 - 12 - 04));
    assert!(
        large.contains("THIS PLAN HAS ENDED — HOW TO COME BACK\nThis plan ended on Friday 4"),
        "{large}"
    );
    // No id of the plan or case appears.
    for id in [ids.plan_id.to_string(), ids.case_id.to_string()] {
        assert!(!large.contains(&id));
    }

    // A re-referral reopens the case, and the plan is no longer ended.
    s.add_referral(ids.case_id, &referral()).unwrap();
    assert_eq!(s.action_plan(ids.plan_id).unwrap().ended, None);

    // Closed by a status change, with nothing said about getting back in touch: the
    // default words.
    let other = s
        .create_case_file(NewPatient::named("Father McKenzie"))
        .unwrap();
    s.set_status(
        other.case_id,
        holdfast_core::model::case_file::CaseStatus::Closed,
        None,
    )
    .unwrap();
    let ended = s.action_plan(other.plan_id).unwrap().ended.unwrap();
    assert_eq!(ended.how_to_come_back, DEFAULT_HOW_TO_COME_BACK);

    // Declining the only referral closes the case: the plan ends too.
    let declined = s.create_case_file(NewPatient::named("Vera Chuck")).unwrap();
    let r = s.add_referral(declined.case_id, &referral()).unwrap();
    s.decline_referral(
        declined.case_id,
        r,
        holdfast_core::model::case_file::DeclineReason::PersonDeclined,
        None,
    )
    .unwrap();
    assert!(s.action_plan(declined.plan_id).unwrap().ended.is_some());
    let plain = render_plan(
        &s.action_plan(other.plan_id).unwrap(),
        RenderStyle::PlainText,
        date!(2026 - 12 - 04),
    );
    assert!(
        plain.contains("This plan has ended - how to come back:\nThis plan ended on 4 Dec 2026."),
        "{plain}"
    );
    assert!(plain.contains(DEFAULT_OUT_OF_HOURS), "{plain}");
}
