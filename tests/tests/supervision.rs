//! Oversight across devices, through a real relay on loopback: a supervisor hands a case
//! over, sees every link worker's load while a link worker sees their own, two supervisors
//! review the same case offline and both keep their marks, later changes bring the case
//! back to the queue, open safeguarding heads it, a supervision comment reaches the link
//! worker holding the case (and only them) until they acknowledge it, and two concurrent
//! handovers read as contested until someone settles them.

use holdfast_core::Error;
use holdfast_core::model::case_file::{NewConcern, NewPatient, NewSession, SessionMode};
use holdfast_core::store::LoadLimits;
use holdfast_core::sync::Role;
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
