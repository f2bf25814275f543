//! Data portability: one patient's record for a subject access request (JSON and text, with
//! nothing of anyone else on the device), and any document as its raw Automerge bytes and
//! heads. Every raw export is also written to `$HOLDFAST_AUTOMERGE_OUT` when it is set, with
//! a sidecar of the heads and some fields, for `tools/automerge-check` to load with the
//! JavaScript Automerge library (`./scripts/test`).

use std::sync::Arc;

use holdfast_core::model::case_file::{NewConcern, NewPatient, NewSession, SessionMode};
use holdfast_core::model::doc::DocKind;
use holdfast_core::model::ids::DocumentId;
use holdfast_core::seed::{SeedConfig, populate};
use holdfast_core::store::RawDocument;
use holdfast_core::{Error, ManualClock, MemoryKeyStore, Store, StoreConfig};
use serde_json::{Value, json};

/// 5 December 2026, 10:00 UTC.
const NOW: u64 = 1_796_464_800_000;

fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::at(NOW);
    let config = StoreConfig::new(dir.path(), "Sam Okafor").with_clock(Arc::new(clock));
    let store = Store::create(&config, &MemoryKeyStore::default()).unwrap();
    (dir, store)
}

/// Writes a raw export and its sidecar where `./scripts/test` checks them, when asked to.
fn keep(name: &str, raw: &RawDocument, fields: Value) {
    if let Ok(dir) = std::env::var("HOLDFAST_AUTOMERGE_OUT") {
        let dir = std::path::Path::new(&dir);
        std::fs::write(dir.join(format!("{name}.automerge")), &raw.bytes).unwrap();
        let sidecar = json!({ "heads": raw.heads, "fields": fields });
        std::fs::write(
            dir.join(format!("{name}.json")),
            serde_json::to_string_pretty(&sidecar).unwrap(),
        )
        .unwrap();
    }
}

#[test]
fn a_subject_access_export_holds_one_patients_record_and_nobody_elses() {
    let (_dir, mut store) = store();
    let seeded = populate(
        &mut store,
        &SeedConfig {
            seed: 7,
            patients: 40,
            assets: 60,
        },
    )
    .unwrap();
    // The patient: a seeded case whose plan links a step to a community asset.
    let mut chosen = seeded.cases[0];
    for c in &seeded.cases {
        let plan = store.action_plan(c.plan_id).unwrap();
        if plan.steps.iter().any(|s| s.asset.is_some()) {
            chosen = *c;
            break;
        }
    }
    let case = chosen.case_id;
    // Something of each kind, so each section has content: a session whose note is then
    // amended, a concern, a supervision comment.
    let session = store
        .record_session(
            case,
            &NewSession {
                start: 1_796_378_400_000,
                duration_minutes: 40,
                mode: SessionMode::Phone,
                attended: true,
                note: "FIRST-NOTE-2231 talked about the lunch club".into(),
                holding_functions: vec![],
                follow_up: None,
            },
        )
        .unwrap();
    store
        .amend_session_note(case, session, "AMENDED-NOTE-7812 lunch club on Thursdays")
        .unwrap();
    store
        .raise_concern(
            case,
            &NewConcern {
                description: "CONCERN-5531 a neighbour takes her pension".into(),
                escalated_to: None,
            },
        )
        .unwrap();
    store
        .add_supervision_comment(case, "SUPERVISION-9904 check the pension worry")
        .unwrap();
    store
        .add_plan_comment(chosen.plan_id, "PLAN-COMMENT-4410 I liked the walk")
        .unwrap();
    let outbox = store.outbox_len().unwrap();

    let sar = store.subject_access(case).unwrap();
    let json = sar.to_json().unwrap();
    let text = sar.render_text();
    assert_eq!(
        store.outbox_len().unwrap(),
        outbox,
        "exporting changes nothing"
    );

    // Deterministic: the same record gives the same bytes.
    let again = store.subject_access(case).unwrap();
    assert_eq!(again.to_json().unwrap(), json);
    assert_eq!(again.render_text(), text);

    // This patient's record is all there.
    let file = store.case_file(case).unwrap();
    let plan = store.action_plan(chosen.plan_id).unwrap();
    let v: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["case_id"], case.to_string());
    assert_eq!(v["plan_id"], chosen.plan_id.to_string());
    assert_eq!(
        v["case_file"]["patient"]["name"],
        file.patient.name.as_str()
    );
    assert_eq!(v["generated_at"], NOW);
    assert!(text.contains(&file.patient.name), "{text}");
    if let Some(nhs) = &file.patient.nhs_number {
        assert!(json.contains(nhs.as_str()));
        assert!(text.contains(nhs.as_str()));
    }
    for marker in [
        "AMENDED-NOTE-7812",
        "FIRST-NOTE-2231",
        "CONCERN-5531",
        "SUPERVISION-9904",
        "PLAN-COMMENT-4410",
    ] {
        assert!(json.contains(marker), "{marker} not in the JSON");
        assert!(text.contains(marker), "{marker} not in the text");
    }
    assert_eq!(
        v["case_file"]["sessions"].as_array().unwrap().len(),
        file.sessions.len()
    );
    assert_eq!(
        v["case_file"]["referrals"].as_array().unwrap().len(),
        file.referrals.len()
    );
    assert_eq!(
        v["case_file"]["status_log"].as_array().unwrap().len(),
        file.status_log.len()
    );
    assert_eq!(
        v["action_plan"]["goals"].as_array().unwrap().len(),
        plan.goals.len()
    );
    assert_eq!(
        v["action_plan"]["steps"].as_array().unwrap().len(),
        plan.steps.len()
    );
    for goal in &plan.goals {
        assert!(text.contains(&goal.text), "goal {} missing", goal.id);
    }
    for step in &plan.steps {
        assert!(text.contains(&step.text), "step {} missing", step.id);
    }
    // The step's asset by name.
    let linked = plan.steps.iter().find_map(|s| s.asset).unwrap();
    let asset = store.asset(linked.directory, linked.asset).unwrap();
    assert!(text.contains(&asset.fields.name), "{text}");
    assert_eq!(
        sar.assets
            .iter()
            .find(|a| a.asset == linked.asset)
            .unwrap()
            .name
            .as_deref(),
        Some(asset.fields.name.as_str())
    );

    // The amendment: what it replaced and what it became, who and when.
    assert_eq!(sar.note_amendments.len(), 1, "{:?}", sar.note_amendments);
    let a = &sar.note_amendments[0];
    assert_eq!(a.session, session);
    assert_eq!(
        a.before,
        vec!["FIRST-NOTE-2231 talked about the lunch club"]
    );
    assert_eq!(a.after, vec!["AMENDED-NOTE-7812 lunch club on Thursdays"]);
    assert_eq!(a.by.as_deref(), Some("Sam Okafor"));
    assert_eq!(a.device, Some(store.author().device));

    // The history of both documents, oldest first.
    let case_history = store.history(case).unwrap();
    let plan_history = store.history(chosen.plan_id).unwrap();
    assert_eq!(sar.history.len(), case_history.len() + plan_history.len());
    assert!(sar.history.windows(2).all(|w| w[0].at <= w[1].at));
    for h in case_history.iter().chain(&plan_history) {
        assert!(
            sar.history
                .iter()
                .any(|c| c.hash == h.hash && c.what == h.what)
        );
    }
    assert!(
        sar.history
            .iter()
            .any(|c| c.document == DocKind::ActionPlan)
    );
    assert!(
        sar.history
            .iter()
            .any(|c| c.what == "session note amended" && c.by.as_deref() == Some("Sam Okafor"))
    );
    assert!(text.contains("session note amended (case file), by Sam Okafor"));

    // The header and the sections flagged for review.
    assert!(json.contains("must review it before disclosure"));
    assert!(text.starts_with("SUBJECT ACCESS EXPORT\n"), "{text}");
    assert!(text.contains("must review it before"), "{text}");
    assert!(text.contains("SAFEGUARDING CONCERNS [REVIEW BEFORE DISCLOSURE]"));
    assert!(text.contains("SUPERVISION COMMENTS [REVIEW BEFORE DISCLOSURE]"));
    let sections: Vec<&str> = sar.review.iter().map(|r| r.section.as_str()).collect();
    assert_eq!(sections, ["safeguarding", "supervision"]);
    assert_eq!(sar.review[0].entries, file.safeguarding.len());
    // Dates in UK form, times in UK time (5 December: GMT).
    assert!(
        text.contains("Made 5 December 2026, 10:00 GMT by Sam Okafor"),
        "{text}"
    );
    assert!(
        text.contains("4 December 2026, 10:00 GMT: phone, 40 minutes"),
        "{text}"
    );

    // Nobody else's name, NHS number or document id, in either form.
    let mut others = 0;
    for other in seeded.cases.iter().filter(|c| c.case_id != case) {
        for id in [other.case_id, other.plan_id] {
            let id = id.to_string();
            assert!(
                !json.contains(&id),
                "another patient's document id in the JSON"
            );
            assert!(
                !text.contains(&id),
                "another patient's document id in the text"
            );
        }
        let patient = store.case_file(other.case_id).unwrap().patient;
        if let Some(nhs) = &patient.nhs_number {
            assert!(
                !json.contains(nhs.as_str()),
                "another NHS number in the JSON"
            );
            assert!(
                !text.contains(nhs.as_str()),
                "another NHS number in the text"
            );
        }
        // A namesake's name is this patient's too.
        if !file.patient.name.contains(&patient.name) {
            assert!(
                !json.contains(&patient.name),
                "{} in the JSON",
                patient.name
            );
            assert!(
                !text.contains(&patient.name),
                "{} in the text",
                patient.name
            );
            others += 1;
        }
    }
    assert!(others >= 30, "checked against {others} other patients");
}

#[test]
fn a_subject_access_export_of_something_not_a_case_is_a_typed_error() {
    let (_dir, mut store) = store();
    let ids = store
        .create_case_file(NewPatient::named("Ada Lovelace"))
        .unwrap();
    let directory = store.create_directory("Leeds North").unwrap();
    let outbox = store.outbox_len().unwrap();
    let err = store.subject_access(DocumentId::random()).unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
    for id in [ids.plan_id, directory] {
        let err = store.subject_access(id).unwrap_err();
        assert!(
            matches!(
                err,
                Error::WrongDocumentKind {
                    expected: "case_file",
                    ..
                }
            ),
            "{err:?}"
        );
    }
    assert_eq!(store.outbox_len().unwrap(), outbox, "nothing changed");
    // A case with nothing recorded yet exports, and says where sections are empty.
    let sar = store.subject_access(ids.case_id).unwrap();
    assert!(sar.note_amendments.is_empty());
    assert!(
        sar.render_text()
            .contains("SUPERVISION COMMENTS [REVIEW BEFORE DISCLOSURE]\n")
    );
    assert!(!sar.history.is_empty());
}

#[test]
fn any_document_exports_as_plain_automerge_with_its_heads() {
    let (_dir, mut store) = store();
    let ids = store
        .create_case_file(NewPatient {
            nhs_number: Some("9434765919".parse().unwrap()),
            ..NewPatient::named("Ada Lovelace")
        })
        .unwrap();
    let goal = store
        .add_goal(ids.plan_id, "Go to the Tuesday walk")
        .unwrap();
    store
        .set_what_matters(ids.plan_id, "Getting out of the house")
        .unwrap();
    let directory = store.create_directory("Leeds North").unwrap();
    let asset = store
        .upsert_asset(
            directory,
            None,
            &holdfast_core::model::directory::AssetInput {
                name: "Tuesday Walking Group".into(),
                ..Default::default()
            },
        )
        .unwrap();

    let case = store.export_document(ids.case_id).unwrap();
    assert_eq!(case.kind, DocKind::CaseFile);
    // Automerge's document magic, not Holdfast's sealed envelope.
    assert_eq!(&case.bytes[..4], &[0x85, 0x6f, 0x4a, 0x83]);
    assert_eq!(case.heads, store.heads(ids.case_id).unwrap());
    let mut sorted = case.heads.clone();
    sorted.sort();
    assert_eq!(case.heads, sorted);
    let mut loaded = automerge::AutoCommit::load(&case.bytes).unwrap();
    let heads: Vec<String> = loaded.get_heads().iter().map(|h| h.to_string()).collect();
    assert_eq!(heads, case.heads);
    let file = store.case_file(ids.case_id).unwrap();
    keep(
        "core-case-file",
        &case,
        json!({
            "kind": "case_file",
            "schema": 1,
            "patient.name": "Ada Lovelace",
            "patient.nhs_number": "9434765919",
            "action_plan": ids.plan_id.to_string(),
            "status": "referred",
            "status_log.0.to": "referred",
            "status_log.0.at": file.status_log[0].at,
        }),
    );

    let plan = store.export_document(ids.plan_id).unwrap();
    assert_eq!(plan.kind, DocKind::ActionPlan);
    assert_eq!(plan.heads, store.heads(ids.plan_id).unwrap());
    keep(
        "core-action-plan",
        &plan,
        json!({
            "kind": "action_plan",
            "what_matters": "Getting out of the house",
            format!("goals.{goal}.text"): "Go to the Tuesday walk",
            format!("goals.{goal}.status"): "not_started",
        }),
    );

    let dir = store.export_document(directory).unwrap();
    assert_eq!(dir.kind, DocKind::Directory);
    assert_eq!(dir.heads, store.heads(directory).unwrap());
    keep(
        "core-directory",
        &dir,
        json!({
            "kind": "directory",
            "area": "Leeds North",
            format!("assets.{asset}.name"): "Tuesday Walking Group",
        }),
    );

    // After compaction the document is one snapshot: the same heads.
    store.compact(ids.case_id).unwrap();
    store.unload_documents();
    let compacted = store.export_document(ids.case_id).unwrap();
    assert_eq!(compacted.heads, case.heads);

    let err = store.export_document(DocumentId::random()).unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
}
