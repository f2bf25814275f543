//! The message back to the GP and referrer: produced at acceptance, decline and closure, as
//! text and a FHIR R4 document Bundle, from what the device holds; nothing from session or
//! holding notes, status reasons, safeguarding or supervision goes in unless the link worker
//! adds it. Every Bundle built here is also written to `$HOLDFAST_FHIR_OUT` when it is set,
//! and `./scripts/test` validates them against the published FHIR R4 JSON schema
//! (tools/fhir-validate).

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use holdfast_core::feedback::{
    FeedbackKind, GpFeedback, SNOMED_DECLINED, SNOMED_DNA, SNOMED_REFERRAL, SNOMED_SWEMWBS,
};
use holdfast_core::model::action_plan::{
    AssetRef, ConnectionStatus, GoalStatus, NewStep, StepOwner,
};
use holdfast_core::model::case_file::{
    CaseStatus, ClosureReason, DeclineReason, HoldingFunction, NewConcern, NewPatient, NewReferral,
    NewSession, ReferralDecision, ReferralSource, SessionMode,
};
use holdfast_core::model::directory::AssetInput;
use holdfast_core::model::measures::Instrument;
use holdfast_core::model::nhs_number::NhsNumber;
use holdfast_core::{Error, MemoryKeyStore, Store, StoreConfig};
use holdfast_protocol::ManualClock;
use serde_json::Value;
use time::macros::date;

/// Friday 4 December 2026, 09:00 UTC.
const FRIDAY_9AM: u64 = 1_796_374_800_000;
const DAY: Duration = Duration::from_secs(86_400);

/// Words written where the message must never look.
const SECRETS: [&str; 6] = [
    "SESSION-NOTE-7731",
    "HOLDING-NOTE-5150",
    "STATUS-REASON-2210",
    "SAFEGUARDING-9034",
    "SUPERVISION-4471",
    "CLOSURE-REASON-6612",
];

fn store(clock: &ManualClock) -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let config = StoreConfig::new(dir.path(), "Sam Okafor").with_clock(Arc::new(clock.clone()));
    let store = Store::create(&config, &MemoryKeyStore::default()).unwrap();
    (dir, store)
}

/// Writes the Bundle where `./scripts/test` validates it, when asked to.
fn keep(name: &str, f: &GpFeedback) {
    if let Ok(dir) = std::env::var("HOLDFAST_FHIR_OUT") {
        let path = std::path::Path::new(&dir).join(format!("core-{name}.json"));
        std::fs::write(path, f.bundle_json()).unwrap();
    }
}

/// Every reference in the Bundle names an entry of it; the Composition comes first.
fn check_structure(bundle: &Value) {
    assert_eq!(bundle["resourceType"], "Bundle");
    assert_eq!(bundle["type"], "document");
    let entries = bundle["entry"].as_array().unwrap();
    assert_eq!(entries[0]["resource"]["resourceType"], "Composition");
    let urls: HashSet<&str> = entries
        .iter()
        .map(|e| e["fullUrl"].as_str().unwrap())
        .collect();
    assert_eq!(urls.len(), entries.len(), "fullUrls are unique");
    fn refs<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
        match v {
            Value::Object(m) => {
                for (k, v) in m {
                    if k == "reference" {
                        out.push(v.as_str().unwrap());
                    } else {
                        refs(v, out);
                    }
                }
            }
            Value::Array(a) => a.iter().for_each(|v| refs(v, out)),
            _ => {}
        }
    }
    let mut all = Vec::new();
    refs(bundle, &mut all);
    assert!(!all.is_empty());
    for r in all {
        assert!(urls.contains(r), "unresolved reference {r}");
    }
}

fn resources<'a>(bundle: &'a Value, kind: &str) -> Vec<&'a Value> {
    bundle["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["resource"])
        .filter(|r| r["resourceType"] == kind)
        .collect()
}

#[test]
fn the_message_back_goes_at_acceptance_and_closure_and_never_carries_notes() {
    let clock = ManualClock::at(FRIDAY_9AM);
    let (_dir, mut s) = store(&clock);
    let mut patient = NewPatient::named("Ada Lovelace");
    patient.nhs_number = Some(NhsNumber::parse("943 476 5919").unwrap());
    patient.date_of_birth = Some(date!(1950 - 03 - 01));
    patient.practice = Some("Chapel Allerton Medical Centre".into());
    let ids = s.create_case_file(patient).unwrap();
    let case = ids.case_id;
    let referral = s
        .add_referral(
            case,
            &NewReferral {
                received: date!(2026 - 12 - 01),
                source: ReferralSource::Gp,
                referrer: Some("Dr Patel".into()),
                reason: "Isolated since her husband died".into(),
                needs: vec![holdfast_core::model::case_file::Need::Loneliness],
            },
        )
        .unwrap();
    // Not accepted yet: nothing to say.
    let err = s
        .gp_feedback(case, FeedbackKind::Accepted, None)
        .unwrap_err();
    assert!(matches!(err, Error::InvalidInput { .. }), "{err:?}");
    s.decide_referral(case, referral, &ReferralDecision::Accepted)
        .unwrap();
    let accepted = s.gp_feedback(case, FeedbackKind::Accepted, None).unwrap();
    keep("accepted", &accepted);
    check_structure(&accepted.bundle);
    assert!(
        accepted
            .text
            .contains("Accepted for social prescribing on 2026-12-04")
    );
    assert_eq!(
        s.gp_feedback(case, FeedbackKind::Accepted, None).unwrap(),
        accepted,
        "the same message twice is the same Bundle"
    );
    let err = s.gp_feedback(case, FeedbackKind::Closed, None).unwrap_err();
    assert!(matches!(err, Error::InvalidInput { .. }), "{err:?}");

    // Weeks of work, with notes and worries that must stay in the case file.
    let dir = s.create_directory("Leeds").unwrap();
    let walking = s
        .upsert_asset(
            dir,
            None,
            &AssetInput {
                name: "Tuesday Walking Group".into(),
                ..Default::default()
            },
        )
        .unwrap();
    let plan = ids.plan_id;
    s.set_what_matters(plan, "Getting out of the house & seeing people <again>")
        .unwrap();
    let goal = s.add_goal(plan, "Go to the walking group").unwrap();
    s.set_goal_status(plan, goal, GoalStatus::Achieved).unwrap();
    let step = s
        .add_step(
            plan,
            &NewStep {
                goal: Some(goal),
                text: "Try the walking group".into(),
                owner: StepOwner::Patient,
                due: None,
                asset: Some(AssetRef {
                    directory: dir,
                    asset: walking,
                }),
            },
        )
        .unwrap();
    for (n, note) in [SECRETS[0], SECRETS[1]].iter().enumerate() {
        s.record_session(
            case,
            &NewSession {
                start: FRIDAY_9AM as i64 + n as i64 * 3_600_000,
                duration_minutes: 45,
                mode: SessionMode::HomeVisit,
                attended: true,
                note: (*note).into(),
                holding_functions: if n == 1 {
                    vec![HoldingFunction::BearingWitness]
                } else {
                    vec![]
                },
                follow_up: None,
            },
        )
        .unwrap();
    }
    s.record_measure(
        case,
        Instrument::Swemwbs,
        date!(2026 - 12 - 04),
        &[Some(2); 7],
    )
    .unwrap();
    s.record_measure(
        case,
        Instrument::Ons4,
        date!(2026 - 12 - 04),
        &[Some(4), Some(5), Some(3), Some(7)],
    )
    .unwrap();
    s.raise_concern(
        case,
        &NewConcern {
            description: SECRETS[3].into(),
            escalated_to: None,
        },
    )
    .unwrap();
    s.add_supervision_comment(case, SECRETS[4]).unwrap();
    s.set_status(case, CaseStatus::Holding, Some(SECRETS[2]))
        .unwrap();
    s.set_status(case, CaseStatus::Active, None).unwrap();
    clock.advance(DAY * 60);
    s.record_connection(plan, step, ConnectionStatus::StillGoing, None)
        .unwrap();
    s.record_measure(case, Instrument::Swemwbs, s.today(), &[Some(4); 7])
        .unwrap();
    s.set_status(case, CaseStatus::Tapering, None).unwrap();
    s.close_case(case, ClosureReason::DidNotAttend, Some(SECRETS[5]))
        .unwrap();

    let closed = s.gp_feedback(case, FeedbackKind::Closed, None).unwrap();
    keep("closed", &closed);
    check_structure(&closed.bundle);
    let json = closed.bundle_json();
    for secret in SECRETS {
        assert!(!closed.text.contains(secret), "{secret} in the text");
        assert!(!json.contains(secret), "{secret} in the Bundle");
    }
    for says in [
        "Ada Lovelace",
        "943 476 5919",
        "Dr Patel",
        "Isolated since her husband died",
        "Go to the walking group (achieved)",
        "Tuesday Walking Group: still going",
        "2 contact(s)",
        "Social prescribing has ended on 2027-02-02. Reason: did not attend.",
        "Sam Okafor",
    ] {
        assert!(
            closed.text.contains(says),
            "missing {says:?} in\n{}",
            closed.text
        );
    }
    // The coded resources a GP system can file.
    let patient = &resources(&closed.bundle, "Patient")[0];
    assert_eq!(patient["identifier"][0]["value"], "9434765919");
    assert_eq!(
        patient["identifier"][0]["system"],
        "https://fhir.nhs.uk/Id/nhs-number"
    );
    let referral = &resources(&closed.bundle, "ServiceRequest")[0];
    assert_eq!(referral["code"]["coding"][0]["code"], SNOMED_REFERRAL);
    assert_eq!(referral["status"], "completed");
    assert_eq!(
        resources(&closed.bundle, "CarePlan")[0]["status"],
        "completed"
    );
    assert_eq!(
        resources(&closed.bundle, "Goal")[0]["lifecycleStatus"],
        "completed"
    );
    let observations = resources(&closed.bundle, "Observation");
    let swemwbs: Vec<_> = observations
        .iter()
        .filter(|o| o["code"]["coding"][0]["code"] == SNOMED_SWEMWBS)
        .collect();
    assert_eq!(swemwbs.len(), 2, "first and last");
    assert_eq!(resources(&closed.bundle, "QuestionnaireResponse").len(), 3);
    let contacts = observations
        .iter()
        .find(|o| o["code"]["coding"][0]["code"] == "contact-count")
        .unwrap();
    assert_eq!(contacts["valueInteger"], 2);
    // The closure reason, coded: SNOMED CT where one exists, and the local code.
    let reason = observations
        .iter()
        .find(|o| o["code"]["coding"][0]["code"] == SNOMED_DNA)
        .expect("the closure reason");
    assert_eq!(
        reason["code"]["coding"][1]["code"],
        "closure-did-not-attend"
    );
    // Text is escaped for XHTML.
    let composition = &closed.bundle["entry"][0]["resource"];
    let divs: String = composition["section"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["text"]["div"].as_str().unwrap())
        .collect();
    assert!(divs.contains("&amp; seeing people &lt;again&gt;"), "{divs}");

    // What the link worker chooses to add goes in, under its own heading.
    let with = s
        .gp_feedback(
            case,
            FeedbackKind::Closed,
            Some("Please review her pain relief"),
        )
        .unwrap();
    keep("closed-with-addition", &with);
    assert!(
        with.text
            .contains("Additional information from the link worker\nPlease review her pain relief")
    );
}

#[test]
fn a_declined_referral_says_so_and_nothing_of_a_plan() {
    let clock = ManualClock::at(FRIDAY_9AM);
    let (_dir, mut s) = store(&clock);
    let ids = s.create_case_file(NewPatient::named("Bob Marley")).unwrap();
    let referral = s
        .add_referral(
            ids.case_id,
            &NewReferral {
                received: date!(2026 - 12 - 02),
                source: ReferralSource::SelfReferral,
                referrer: None,
                reason: "Wants help with debt".into(),
                needs: vec![],
            },
        )
        .unwrap();
    s.decline_referral(
        ids.case_id,
        referral,
        DeclineReason::PersonDeclined,
        Some(SECRETS[2]),
    )
    .unwrap();
    let declined = s
        .gp_feedback(ids.case_id, FeedbackKind::Declined, None)
        .unwrap();
    keep("declined", &declined);
    check_structure(&declined.bundle);
    assert!(!declined.bundle_json().contains(SECRETS[2]));
    assert!(!declined.text.contains(SECRETS[2]));
    assert!(
        declined
            .text
            .contains("The referral was not taken on (decided on 2026-12-04)."),
        "{}",
        declined.text
    );
    assert!(resources(&declined.bundle, "CarePlan").is_empty());
    assert!(
        declined.text.contains("Reason: person declined."),
        "{}",
        declined.text
    );
    assert!(
        resources(&declined.bundle, "Observation")
            .iter()
            .any(|o| o["code"]["coding"][0]["code"] == SNOMED_DECLINED),
        "the decline, coded"
    );
    assert_eq!(
        resources(&declined.bundle, "ServiceRequest")[0]["status"],
        "revoked"
    );
    let err = s
        .gp_feedback(ids.case_id, FeedbackKind::Accepted, None)
        .unwrap_err();
    assert!(matches!(err, Error::InvalidInput { .. }), "{err:?}");
}

/// Declining the only referral closes the case: the message owed is the declined one (the
/// worklist says which), the closing message is refused, and recording the declined one
/// clears it, whatever the clocks of the devices involved.
#[test]
fn a_decline_owes_the_declined_message_and_a_self_referral_keeps_its_words() {
    use holdfast_core::model::oversight::WorkKind;
    use holdfast_core::store::LoadLimits;

    let clock = ManualClock::at(FRIDAY_9AM);
    let (_dir, mut s) = store(&clock);
    let ids = s
        .create_case_file(NewPatient::named("Cat Stevens"))
        .unwrap();
    let referral = s
        .add_referral(
            ids.case_id,
            &NewReferral {
                received: date!(2026 - 12 - 03),
                source: ReferralSource::SelfReferral,
                referrer: None,
                reason: "MY-OWN-WORDS-1402 about the neighbours".into(),
                needs: vec![],
            },
        )
        .unwrap();
    s.decide_referral(
        ids.case_id,
        referral,
        &ReferralDecision::Declined {
            reason: "not eligible".into(),
        },
    )
    .unwrap();
    assert_eq!(
        s.case_file(ids.case_id).unwrap().status.agreed(),
        Some(&CaseStatus::Closed)
    );
    let today = s.today();
    let owed: Vec<_> = s
        .worklist(today, &LoadLimits::default())
        .unwrap()
        .into_iter()
        .filter(|i| i.kind == WorkKind::Feedback)
        .collect();
    assert_eq!(owed.len(), 1);
    assert_eq!(owed[0].feedback, Some(FeedbackKind::Declined));
    let err = s
        .gp_feedback(ids.case_id, FeedbackKind::Closed, None)
        .unwrap_err();
    assert!(matches!(err, Error::InvalidInput { .. }), "{err:?}");
    let declined = s
        .gp_feedback(ids.case_id, FeedbackKind::Declined, Some("Ring\u{b}us"))
        .unwrap();
    keep("declined-self-referral", &declined);
    // A self-referral's own words are not sent back; a soft line break pasted into the
    // addition does not break the narrative.
    assert!(!declined.text.contains("MY-OWN-WORDS-1402"));
    assert!(!declined.bundle_json().contains("MY-OWN-WORDS-1402"));
    assert!(declined.text.contains("not included"), "{}", declined.text);
    assert!(!declined.bundle_json().contains("\\u000b"));
    // Recorded from a device whose clock runs an hour behind: still cleared.
    clock.set(FRIDAY_9AM - 3_600_000);
    s.record_feedback_sent(ids.case_id, FeedbackKind::Declined, "the person", None)
        .unwrap();
    assert!(
        s.worklist(today, &LoadLimits::default())
            .unwrap()
            .iter()
            .all(|i| i.kind != WorkKind::Feedback)
    );
}

/// Referrals decided out of order: the message is about the one decided last, not the one
/// received last.
#[test]
fn the_referral_decided_last_is_the_one_the_message_is_about() {
    let clock = ManualClock::at(FRIDAY_9AM);
    let (_dir, mut s) = store(&clock);
    let ids = s.create_case_file(NewPatient::named("Dee Dee")).unwrap();
    let referral = |s: &mut Store, day: time::Date, reason: &str| {
        s.add_referral(
            ids.case_id,
            &NewReferral {
                received: day,
                source: ReferralSource::Gp,
                referrer: Some("Dr Okafor".into()),
                reason: reason.into(),
                needs: vec![],
            },
        )
        .unwrap()
    };
    let first = referral(&mut s, date!(2026 - 12 - 01), "Low since retiring");
    let second = referral(&mut s, date!(2026 - 12 - 02), "Wants to volunteer");
    // The later one is declined first (the earlier still waits: the case stays referred),
    // then the earlier one is accepted.
    s.decline_referral(ids.case_id, second, DeclineReason::ReferredElsewhere, None)
        .unwrap();
    clock.advance(Duration::from_secs(60));
    s.decide_referral(ids.case_id, first, &ReferralDecision::Accepted)
        .unwrap();
    let accepted = s
        .gp_feedback(ids.case_id, FeedbackKind::Accepted, None)
        .unwrap();
    assert!(
        accepted.text.contains("Low since retiring"),
        "{}",
        accepted.text
    );
    let today = s.today();
    let owed: Vec<_> = s
        .worklist(today, &holdfast_core::store::LoadLimits::default())
        .unwrap()
        .into_iter()
        .filter_map(|i| i.feedback)
        .collect();
    assert_eq!(owed, vec![FeedbackKind::Accepted]);
}
