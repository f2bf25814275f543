//! The patient's plan stands on its own, through the mobile API and a real relay: the
//! link worker links a step to a community asset and sets "about me", the admin sets the
//! team's plan wording (a link worker may not), and the patient's phone, which holds no
//! directory and no team settings, reads the asset's name and phone, the wording and the
//! working hours from the plan alone, renders it, and sees it end when the case is closed.

mod common;

use common::{phone, sync};
use holdfast_ffi::{
    AssetInput, AssetRef, ClosureReason, HoldfastError, NewPatientInput, ReferralDecision,
    ReferralInput, ReferralSource, RenderStyle, Role, StepInput, StepOwner,
};
use holdfast_relay::testing::TestRelay;

fn walking_group(phone: &str) -> AssetInput {
    AssetInput {
        name: "Tuesday Walking Group".into(),
        phone: Some(phone.into()),
        address: Some("Meanwood Park gates, Green Road".into()),
        postcode: Some("LS6 4LE".into()),
        schedule: Some("Tuesdays 10:00-12:00".into()),
        cost: Some("Free".into()),
        assured_date: Some("2026-11-02".into()),
        ..AssetInput::default()
    }
}

#[test]
fn the_patients_phone_reads_the_listing_and_the_wording_from_the_plan_alone() {
    let relay = TestRelay::blocking_start();
    let a = phone("Asha (link worker)");
    a.create_team(relay.url()).unwrap();

    // The admin sets the team's wording; a link worker may not; bad hours change nothing.
    let out_of_hours = "If you are in crisis, call 111, or 999 in an emergency. Samaritans: \
                        116 123.";
    assert_eq!(a.team_plan_wording().unwrap().set_by, None);
    a.set_team_plan_wording(out_of_hours.into(), "Mon-Thu 08:30-16:30".into())
        .unwrap();
    match a.set_team_plan_wording("Call 111".into(), "Mon-Fri 17:00-09:00".into()) {
        Err(HoldfastError::InvalidInput { .. }) => {}
        other => panic!("expected InvalidInput, got {other:?}"),
    }
    let wording = a.team_plan_wording().unwrap();
    assert_eq!(wording.out_of_hours, out_of_hours);
    assert_eq!(wording.working_hours, "mon,tue,wed,thu 08:30-16:30");
    assert_eq!(
        wording.working_hours_text,
        "Monday to Thursday, 8:30am to 4:30pm"
    );
    assert_eq!(wording.set_by.as_deref(), Some("Asha (link worker)"));
    sync(&a);
    let b = phone("Ben (link worker)");
    let code = a.create_invite(None, Role::LinkWorker, 15).unwrap();
    b.redeem_invite(code).unwrap();
    assert_eq!(b.team_plan_wording().unwrap().out_of_hours, out_of_hours);
    match b.set_team_plan_wording("Call 111".into(), "Mon-Fri 09:00-17:00".into()) {
        Err(HoldfastError::NotAllowed { .. }) => {}
        other => panic!("expected NotAllowed, got {other:?}"),
    }

    // The case, "about me", and a step linked to the walking group.
    let about = "I'm Asha, your link worker at Meanwood Group Practice. Call 0113 496 0999.";
    a.set_about_link_worker(about.into(), None).unwrap();
    assert_eq!(a.about_link_worker().unwrap().as_deref(), Some(about));
    let ids = a
        .create_case(NewPatientInput {
            name: "Mrs Eleanor Rigby".into(),
            nhs_number: None,
            postcode: None,
            practice: None,
            phone: None,
        })
        .unwrap();
    let referral = a
        .add_referral(
            ids.case_id.clone(),
            ReferralInput {
                received: "2026-11-02".into(),
                source: ReferralSource::Gp,
                referrer: None,
                reason: "Lonely since her husband died".into(),
                needs: vec![],
            },
        )
        .unwrap();
    a.decide_referral(ids.case_id.clone(), referral, ReferralDecision::Accepted)
        .unwrap();
    let plan = ids.plan_id.clone();
    // A case id where a plan id belongs: refused, and "about me" is as it was.
    assert!(
        a.set_about_link_worker("Someone else".into(), Some(ids.case_id.clone()))
            .is_err()
    );
    assert_eq!(a.about_link_worker().unwrap().as_deref(), Some(about));
    let dir = a.create_directory("Leeds North".into()).unwrap();
    let walking = a
        .upsert_asset(dir.clone(), None, walking_group("0113 496 0000"))
        .unwrap();
    let linked = AssetRef {
        directory_id: dir.clone(),
        asset_id: walking.clone(),
    };
    let step_input = |asset: AssetRef| StepInput {
        text: "Try the walking group".into(),
        owner: StepOwner::Patient,
        due: Some("2026-12-08".into()),
        goal_id: None,
        asset: Some(asset),
    };
    let step = a.add_plan_step(plan.clone(), step_input(linked)).unwrap();
    // An asset not on the device: NotFound, nothing written.
    let before = a.action_plan(plan.clone()).unwrap();
    match a.add_plan_step(
        plan.clone(),
        step_input(AssetRef {
            directory_id: "00".repeat(16),
            asset_id: walking.clone(),
        }),
    ) {
        Err(HoldfastError::NotFound { .. }) => {}
        other => panic!("expected NotFound, got {other:?}"),
    }
    assert_eq!(a.action_plan(plan.clone()).unwrap(), before);
    let view = a.action_plan(plan.clone()).unwrap();
    assert_eq!(view.about_link_worker, about);
    assert_eq!(view.out_of_hours, out_of_hours);
    assert_eq!(
        view.working_hours.as_deref(),
        Some("Monday to Thursday, 8:30am to 4:30pm")
    );
    let details = view.steps[0].asset_details.clone().unwrap();
    assert_eq!(details.name, "Tuesday Walking Group");
    assert_eq!(details.phone.as_deref(), Some("0113 496 0000"));
    assert_eq!(
        details.place.as_deref(),
        Some("Meanwood Park gates, Green Road, LS6 4LE")
    );
    assert_eq!(details.checked.as_deref(), Some("2026-11-02"));

    // The listing's phone changes; a refresh copies it in.
    a.upsert_asset(
        dir.clone(),
        Some(walking.clone()),
        walking_group("0113 496 0123"),
    )
    .unwrap();
    let refresh = a.refresh_plan_assets(plan.clone()).unwrap();
    assert_eq!(
        (refresh.updated, refresh.unchanged, refresh.missing),
        (1, 0, 0)
    );
    assert!(!a.refresh_step_asset(plan.clone(), step.clone()).unwrap());

    // The patient's phone: no directory, no team settings, only the plan.
    sync(&a);
    let p = phone("Eleanor");
    let code = a.share_plan(plan.clone(), 15).unwrap();
    p.redeem_invite(code).unwrap();
    sync(&p);
    match p.asset(dir.clone(), walking.clone()) {
        Err(HoldfastError::NotFound { .. }) => {}
        other => panic!("the patient's phone read the directory: {other:?}"),
    }
    let seen = p.action_plan(plan.clone()).unwrap();
    let s = seen.steps.iter().find(|s| s.step_id == step).unwrap();
    let details = s.asset_details.clone().unwrap();
    assert_eq!(details.name, "Tuesday Walking Group");
    assert_eq!(details.phone.as_deref(), Some("0113 496 0123"));
    assert_eq!(details.when.as_deref(), Some("Tuesdays 10:00-12:00"));
    assert_eq!(seen.about_link_worker, about);
    assert_eq!(seen.out_of_hours, out_of_hours);
    // Refreshing on the patient's phone keeps the copy; linking there is refused.
    let refresh = p.refresh_plan_assets(plan.clone()).unwrap();
    assert_eq!((refresh.updated, refresh.missing), (0, 1));
    match p.refresh_step_asset(plan.clone(), step.clone()) {
        Err(HoldfastError::NotFound { .. }) => {}
        other => panic!("expected NotFound, got {other:?}"),
    }
    // The patient's phone holds no team settings: refreshing the contact details there is
    // refused, and the team's wording stays in the plan (never the defaults over it).
    match p.refresh_plan_contact(plan.clone()) {
        Err(HoldfastError::NotAllowed { .. }) => {}
        other => panic!("expected NotAllowed, got {other:?}"),
    }
    assert_eq!(
        p.action_plan(plan.clone()).unwrap().out_of_hours,
        out_of_hours
    );

    let large = p
        .render_plan(plan.clone(), RenderStyle::LargePrint)
        .unwrap();
    assert!(
        large.contains("  Where to go: Tuesday Walking Group\n"),
        "{large}"
    );
    assert!(large.contains("  Phone: 0113 496 0123\n"), "{large}");
    assert!(
        large.contains("WHEN YOUR LINK WORKER WORKS\nMonday to Thursday, 8:30am to 4:30pm.\n"),
        "{large}"
    );
    assert!(large.lines().all(|l| l.chars().count() <= 40), "{large}");
    let sms = p.render_plan(plan.clone(), RenderStyle::PlainText).unwrap();
    assert!(sms.contains("Phone: 0113 496 0123."), "{sms}");
    for id in [&plan, &ids.case_id, &dir, &walking, &step] {
        assert!(!large.contains(id.as_str()) && !sms.contains(id.as_str()));
    }

    // A comment at 11pm on Thursday 3 December 2026 is read on Monday (the team works
    // Monday to Thursday).
    let thursday_11pm = 1_796_338_800_000;
    let notice = p
        .comment_notice(plan.clone(), thursday_11pm)
        .unwrap()
        .unwrap();
    assert!(
        notice.starts_with(
            "Your link worker works Monday to Thursday, 8:30am to 4:30pm. They will read this \
             on Monday 7 December."
        ),
        "{notice}"
    );
    assert!(notice.ends_with(out_of_hours), "{notice}");
    let monday_10am = 1_796_637_600_000;
    assert_eq!(p.comment_notice(plan.clone(), monday_10am).unwrap(), None);

    // The link worker clears "about me": the plan's copy is cleared too.
    a.set_about_link_worker(String::new(), Some(plan.clone()))
        .unwrap();
    assert_eq!(a.about_link_worker().unwrap(), None);
    assert_eq!(a.action_plan(plan.clone()).unwrap().about_link_worker, "");
    assert_eq!(
        a.action_plan(plan.clone()).unwrap().out_of_hours,
        out_of_hours
    );

    // The link worker closes the case; the patient's phone sees how to come back.
    a.set_get_back_in_touch(plan.clone(), "Ask the surgery for Asha.".into())
        .unwrap();
    a.close_case(ids.case_id.clone(), ClosureReason::GoalsMet, None)
        .unwrap();
    sync(&a);
    sync(&p);
    let ended = p.action_plan(plan.clone()).unwrap().ended.unwrap();
    assert_eq!(ended.how_to_come_back, "Ask the surgery for Asha.");
    let large = p.render_plan(plan, RenderStyle::LargePrint).unwrap();
    assert!(
        large.contains("THIS PLAN HAS ENDED — HOW TO COME BACK\n"),
        "{large}"
    );
}
