//! Oversight across devices, through a real relay on loopback: a supervisor hands a case
//! over, sees every link worker's load while a link worker sees their own, two supervisors
//! review the same case offline and both keep their marks, later changes bring the case
//! back to the queue, open safeguarding heads it, a supervision comment reaches the link
//! worker holding the case (and only them) until they acknowledge it, and two concurrent
//! handovers read as contested until someone settles them.

use std::sync::Arc;

use holdfast_core::Error;
use holdfast_core::model::case_file::{
    NewConcern, NewPatient, NewReferral, NewSession, ReferralDecision, ReferralSource, SessionMode,
};
use holdfast_core::model::team_settings::team_settings_id;
use holdfast_core::store::LoadLimits;
use holdfast_core::sync::Role;
use holdfast_protocol::ManualClock;
use holdfast_relay::testing::TestRelay;
use holdfast_tests::{Device, team_of};

fn session() -> NewSession {
    NewSession {
        start: 1_796_374_800_000,
        duration_minutes: 45,
        mode: SessionMode::HomeVisit,
        attended: true,
        note: "walked to the community garden together".into(),
        holding_functions: vec![],
        follow_up: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_supervisors_day_through_the_relay() {
    let relay = TestRelay::start().await;
    let url = relay.url();
    let admin = Device::new("Ada Admin");
    let sue = Device::new("Sue Supervisor");
    let sid = Device::new("Sid Supervisor");
    let sam = Device::new("Sam Linkworker");
    let kim = Device::new("Kim Linkworker");
    let team = team_of(&url, &admin, &[&sam, &kim]).await;
    admin.enrol(team, &sue, Role::Supervisor).await;
    admin.enrol(team, &sid, Role::Supervisor).await;

    // Sam takes on two people: he holds both.
    let (ann, bob) = {
        let mut s = sam.s();
        let ann = s
            .create_case_file(NewPatient::named("Ann"))
            .unwrap()
            .case_id;
        let bob = s
            .create_case_file(NewPatient::named("Bob"))
            .unwrap()
            .case_id;
        (ann, bob)
    };
    sam.sync(team).await;
    sue.sync(team).await;
    assert_eq!(
        sue.s().member_name(sam.id()).unwrap().as_deref(),
        Some("Sam Linkworker"),
        "named by his own first handover"
    );

    // Sue hands Bob over to Kim. Kim has no name on Sue's device yet: Sue gives it. A
    // device outside the team cannot hold a case; nothing is written.
    let err = sue.s().assign_case(bob, kim.id(), None, None).unwrap_err();
    assert!(matches!(err, Error::InvalidInput { .. }), "{err:?}");
    let stranger = Device::new("Not In The Team");
    let err = sue
        .s()
        .assign_case(bob, stranger.id(), Some("Stranger"), None)
        .unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
    sue.s()
        .assign_case(
            bob,
            kim.id(),
            Some("Kim Linkworker"),
            Some("Sam's list is full"),
        )
        .unwrap();
    sue.sync(team).await;
    kim.sync(team).await;
    sam.sync(team).await;
    let handovers = kim.s().case_file(bob).unwrap().oversight.handovers;
    assert_eq!(handovers.len(), 2);
    let last = &handovers[1];
    assert_eq!((last.from, last.to), (Some(sam.id()), kim.id()));
    assert_eq!(
        (last.by.as_str(), last.by_device),
        ("Sue Supervisor", sue.id())
    );
    assert_eq!(last.reason.as_deref(), Some("Sam's list is full"));

    // Load: the supervisor sees both link workers; a link worker sees their own row.
    let limits = LoadLimits::default();
    let load = sue.s().caseload_load(&limits).unwrap();
    let rows: Vec<_> = load
        .iter()
        .map(|l| {
            let w = l.worker.as_ref().unwrap();
            (w.name.clone().unwrap(), l.referred)
        })
        .collect();
    assert_eq!(
        rows,
        vec![
            ("Kim Linkworker".to_owned(), 1),
            ("Sam Linkworker".to_owned(), 1)
        ]
    );
    let own = sam.s().caseload_load(&limits).unwrap();
    assert_eq!(own.len(), 1);
    assert_eq!(own[0].worker.as_ref().unwrap().device, sam.id());

    // A link worker does not take a colleague's case; nothing is written.
    let kim_id = kim.id();
    let err = kim
        .s()
        .assign_case(ann, kim_id, Some("Kim Linkworker"), None)
        .unwrap_err();
    assert!(matches!(err, Error::NotAllowed(_)), "{err:?}");

    // Two supervisors review Ann on their own devices, offline; after sync both marks stand.
    assert_eq!(sue.s().review_queue(50).unwrap().len(), 2, "never reviewed");
    sue.s().mark_reviewed(ann).unwrap();
    sid.sync(team).await;
    sid.s().mark_reviewed(ann).unwrap();
    sue.sync(team).await;
    sid.sync(team).await;
    sue.sync(team).await;
    let reviews = sue.s().case_file(ann).unwrap().oversight.reviews;
    let mut reviewers: Vec<_> = reviews.iter().map(|r| r.reviewer).collect();
    reviewers.sort();
    let mut expected = vec![sue.id(), sid.id()];
    expected.sort();
    assert_eq!(reviewers, expected);
    for supervisor in [&sue, &sid] {
        let queue = supervisor.s().review_queue(50).unwrap();
        assert!(queue.iter().all(|q| q.case_id != ann), "reviewed by each");
    }
    // A link worker does not mark reviews.
    let err = sam.s().mark_reviewed(ann).unwrap_err();
    assert!(matches!(err, Error::NotAllowed(_)), "{err:?}");

    // Sam sees Ann again: the case comes back to both queues, saying what changed.
    sam.s().record_session(ann, &session()).unwrap();
    sam.sync(team).await;
    sue.sync(team).await;
    let queue = sue.s().review_queue(50).unwrap();
    let entry = queue
        .iter()
        .find(|q| q.case_id == ann)
        .expect("back in the queue");
    assert_eq!(entry.changed.sessions, 1);
    assert!(entry.reviewed_at.is_some());

    // Kim raises a safeguarding concern about Bob: Bob heads the queue, reviewed or not.
    kim.s()
        .raise_concern(
            bob,
            &NewConcern {
                description: "unexplained bruising".into(),
                escalated_to: None,
            },
        )
        .unwrap();
    kim.sync(team).await;
    sue.sync(team).await;
    sue.s().mark_reviewed(bob).unwrap();
    let queue = sue.s().review_queue(50).unwrap();
    assert_eq!(queue[0].case_id, bob);
    assert_eq!(queue[0].open_safeguarding, 1);

    // Sue comments on Ann and marks it reviewed. The comment reaches Sam, who holds Ann, as
    // new; not Kim. Only the holder acknowledges it; then it is no longer new anywhere.
    let comment = sue
        .s()
        .add_supervision_comment(ann, "good to see Ann out of the house: check the bus pass")
        .unwrap();
    sue.s().mark_reviewed(ann).unwrap();
    sue.sync(team).await;
    sam.sync(team).await;
    kim.sync(team).await;
    let new = sam.s().new_supervision_comments().unwrap();
    assert_eq!(new.len(), 1);
    assert_eq!((new[0].case_id, new[0].comment.id), (ann, comment));
    assert!(kim.s().new_supervision_comments().unwrap().is_empty());
    let err = kim.s().acknowledge_comment(ann, comment).unwrap_err();
    assert!(matches!(err, Error::NotAllowed(_)), "{err:?}");
    sam.s().acknowledge_comment(ann, comment).unwrap();
    assert!(sam.s().new_supervision_comments().unwrap().is_empty());
    sam.sync(team).await;
    sue.sync(team).await;
    let file = sue.s().case_file(ann).unwrap();
    let ack = file
        .oversight
        .ack_of(comment)
        .expect("the acknowledgement synced");
    assert_eq!(ack.device, sam.id());

    // Two supervisors hand Ann over at once, offline: contested until one settles it.
    sid.sync(team).await;
    sue.s()
        .assign_case(ann, kim.id(), None, Some("Sam on leave"))
        .unwrap();
    let sid_id = sid.id();
    sid.s()
        .assign_case(ann, sid_id, None, Some("I will hold Ann myself"))
        .unwrap();
    sue.sync(team).await;
    sid.sync(team).await;
    sue.sync(team).await;
    let holder = sue.s().case_file(ann).unwrap().oversight.assigned.unwrap();
    assert!(holder.is_conflicted());
    let queue = sue.s().review_queue(50).unwrap();
    let entry = queue.iter().find(|q| q.case_id == ann).unwrap();
    assert!(entry.holder_contested);
    assert_eq!(entry.changed.handovers, 2);
    sue.s()
        .assign_case(ann, kim.id(), None, Some("settled: Kim holds Ann"))
        .unwrap();
    sue.sync(team).await;
    kim.sync(team).await;
    let holder = kim.s().case_file(ann).unwrap().oversight.assigned.unwrap();
    assert_eq!(holder.agreed(), Some(&kim.id()));
    let kims = kim.s().caseload_load(&limits).unwrap();
    assert_eq!((kims[0].referred, kims[0].open_safeguarding), (2, 1));

    // The link worker holding a case hands it over herself.
    let sam_id = sam.id();
    kim.s()
        .assign_case(bob, sam_id, None, Some("back to Sam after his leave"))
        .unwrap();
    let holder = kim.s().case_file(bob).unwrap().oversight.assigned.unwrap();
    assert_eq!(holder.agreed(), Some(&sam_id));
}

/// The team's limits: set by a supervisor or an admin, never by a link worker; two
/// supervisors setting them offline both create the settings document, and after sync every
/// device holds both settings and the later one stands, a revoked supervisor's included.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn team_limits_are_a_supervisors_and_reach_every_device() {
    let clock = ManualClock::starting_now();
    let relay = TestRelay::builder()
        .clock(Arc::new(clock.clone()))
        .start()
        .await;
    let url = relay.url();
    let device = |person: &str| Device::with_clock(person, Arc::new(clock.clone()));
    let admin = device("Ada Admin");
    let sue = device("Sue Supervisor");
    let sid = device("Sid Supervisor");
    let sam = device("Sam Linkworker");
    let team = team_of(&url, &admin, &[&sam]).await;
    admin.enrol(team, &sue, Role::Supervisor).await;
    admin.enrol(team, &sid, Role::Supervisor).await;

    // Nobody has set them: the defaults, on every device.
    let none = sam.s().team_limits().unwrap();
    assert_eq!((none.limits, none.set), (LoadLimits::default(), None));

    // A link worker cannot set them, and nothing is written.
    let settings = team_settings_id(&team);
    let err = sam
        .s()
        .set_team_limits(&LoadLimits::default(), None)
        .unwrap_err();
    assert!(matches!(err, Error::NotAllowed(_)), "{err:?}");
    assert!(matches!(
        sam.s().kind_of(settings),
        Err(Error::NotFound { .. })
    ));
    // Out of range: refused, nothing written.
    let err = sue
        .s()
        .set_team_limits(
            &LoadLimits {
                sessions: 0,
                ..LoadLimits::default()
            },
            None,
        )
        .unwrap_err();
    assert!(matches!(err, Error::InvalidInput { .. }), "{err:?}");
    assert!(matches!(
        sue.s().kind_of(settings),
        Err(Error::NotFound { .. })
    ));

    // Sue and Sid set them offline, a minute apart: each makes the document.
    let part_time = LoadLimits {
        accepted_per_year: 1,
        ..LoadLimits::default()
    };
    sue.s()
        .set_team_limits(&part_time, Some("Sam works three days"))
        .unwrap();
    clock.advance(std::time::Duration::from_secs(60));
    let patient = LoadLimits {
        accepted_per_year: 2,
        held_days: 90,
        ..LoadLimits::default()
    };
    sid.s().set_team_limits(&patient, None).unwrap();
    for d in [&sue, &sid, &sue, &sam, &admin] {
        d.sync(team).await;
    }
    for d in [&sue, &sid, &sam, &admin] {
        let limits = d.s().team_limits().unwrap();
        assert_eq!(limits.limits, patient, "the later setting stands");
        let history: Vec<_> = limits.history.iter().map(|s| s.by_device).collect();
        assert_eq!(history, vec![sue.id(), sid.id()]);
        assert_eq!(
            limits.history[0].reason.as_deref(),
            Some("Sam works three days")
        );
    }

    // The load is held against the team's limits: Sam accepted two people this year, over
    // Sue's limit of one, within Sid's two.
    for name in ["Ann", "Bob"] {
        let mut s = sam.s();
        let case = s.create_case_file(NewPatient::named(name)).unwrap().case_id;
        let today = s.today();
        let referral = s
            .add_referral(
                case,
                &NewReferral {
                    received: today,
                    source: ReferralSource::Gp,
                    referrer: Some("Dr Patel".into()),
                    reason: "isolated since moving".into(),
                    needs: vec![],
                },
            )
            .unwrap();
        s.decide_referral(case, referral, &ReferralDecision::Accepted)
            .unwrap();
    }
    sam.sync(team).await;
    sue.sync(team).await;
    let load_on = |d: &Device| {
        let mut s = d.s();
        let limits = s.team_limits().unwrap().limits;
        s.caseload_load(&limits).unwrap()
    };
    let load = load_on(&sue);
    assert_eq!(load[0].accepted_last_year, 2);
    assert!(!load[0].over_accepted_limit);
    // Sue tightens them again; Sam's device learns and holds his load against it.
    clock.advance(std::time::Duration::from_secs(60));
    sue.s().set_team_limits(&part_time, None).unwrap();
    sue.sync(team).await;
    sam.sync(team).await;
    assert!(load_on(&sam)[0].over_accepted_limit);

    // Sue is revoked: her settings made while she was a supervisor still stand.
    clock.advance(std::time::Duration::from_secs(60));
    admin.client.revoke_device(team, sue.id()).await.unwrap();
    sam.sync(team).await;
    let limits = sam.s().team_limits().unwrap();
    assert_eq!(limits.limits, part_time);
    assert_eq!(limits.set.unwrap().by_device, sue.id());
}
