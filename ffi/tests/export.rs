//! Data portability through the mobile API: a patient's record for a subject access request
//! (JSON and text, nothing of another patient) and any document as raw Automerge bytes with
//! its heads. The exported documents are also written to `$HOLDFAST_AUTOMERGE_OUT` when it
//! is set, for `tools/automerge-check` (`./scripts/test`).

mod common;

use common::phone;
use holdfast_ffi::{HoldfastError, NewPatientInput, SessionInput, SessionMode};

fn patient(name: &str, nhs: &str) -> NewPatientInput {
    NewPatientInput {
        name: name.into(),
        nhs_number: Some(nhs.into()),
        postcode: None,
        practice: Some("Meanwood Group Practice".into()),
        phone: None,
    }
}

fn visit(note: &str) -> SessionInput {
    SessionInput {
        start_ms: 1_796_378_400_000,
        duration_minutes: 45,
        mode: SessionMode::HomeVisit,
        attended: true,
        note: note.into(),
        follow_up: Some("2026-12-12".into()),
        holding_functions: vec![],
    }
}

/// Writes the export and its sidecar where `./scripts/test` checks them, when asked to.
fn keep(name: &str, bytes: &[u8], heads: &[String], fields: serde_json_lite::Fields) {
    if let Ok(dir) = std::env::var("HOLDFAST_AUTOMERGE_OUT") {
        let dir = std::path::Path::new(&dir);
        std::fs::write(dir.join(format!("{name}.automerge")), bytes).unwrap();
        std::fs::write(
            dir.join(format!("{name}.json")),
            serde_json_lite::sidecar(heads, &fields),
        )
        .unwrap();
    }
}

/// The ffi crate has no JSON library: sidecars are written by hand, strings only.
mod serde_json_lite {
    pub type Fields = Vec<(String, String)>;

    fn quote(s: &str) -> String {
        let mut out = String::from("\"");
        for c in s.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
                c => out.push(c),
            }
        }
        out.push('"');
        out
    }

    pub fn sidecar(heads: &[String], fields: &Fields) -> String {
        let heads: Vec<String> = heads.iter().map(|h| quote(h)).collect();
        let fields: Vec<String> = fields
            .iter()
            .map(|(k, v)| format!("{}: {}", quote(k), quote(v)))
            .collect();
        format!(
            "{{\"heads\": [{}], \"fields\": {{{}}}}}",
            heads.join(", "),
            fields.join(", ")
        )
    }
}

#[test]
fn a_subject_access_export_holds_one_patient_and_nobody_else() {
    let a = phone("Asha (link worker)");
    let ada = a
        .create_case(patient("Ada Lovelace", "9434765919"))
        .unwrap();
    let grace = a
        .create_case(patient("Grace Hopper", "4010232137"))
        .unwrap();
    a.record_session(ada.case_id.clone(), visit("NOTE-ADA-6610 the allotment"))
        .unwrap();
    a.record_session(grace.case_id.clone(), visit("NOTE-GRACE-2291 the choir"))
        .unwrap();
    a.add_goal(ada.plan_id.clone(), "Go to the Tuesday walk".into())
        .unwrap();
    a.add_supervision_comment(ada.case_id.clone(), "SUPERVISION-7720 check in".into())
        .unwrap();

    let sar = a.subject_access_export(ada.case_id.clone()).unwrap();
    for want in [
        "Ada Lovelace",
        "9434765919",
        "NOTE-ADA-6610",
        "Go to the Tuesday walk",
        "SUPERVISION-7720",
        ada.case_id.as_str(),
        ada.plan_id.as_str(),
    ] {
        assert!(sar.json.contains(want), "{want} not in the JSON");
        assert!(sar.text.contains(want), "{want} not in the text");
    }
    assert!(sar.json.starts_with("{\n  \"notice\""), "pretty JSON");
    assert!(sar.text.starts_with("SUBJECT ACCESS EXPORT\n"));
    assert!(
        sar.text
            .contains("SAFEGUARDING CONCERNS [REVIEW BEFORE DISCLOSURE]")
    );
    assert!(
        sar.text
            .contains("SUPERVISION COMMENTS [REVIEW BEFORE DISCLOSURE]")
    );
    assert!(
        sar.text.contains("4 December 2026, 10:00 GMT: home visit"),
        "{}",
        sar.text
    );
    for theirs in [
        "Grace Hopper",
        "4010232137",
        "NOTE-GRACE-2291",
        grace.case_id.as_str(),
        grace.plan_id.as_str(),
    ] {
        assert!(!sar.json.contains(theirs), "{theirs} in the JSON");
        assert!(!sar.text.contains(theirs), "{theirs} in the text");
    }
    // The history is the case's and the plan's.
    for h in a
        .history(ada.case_id.clone())
        .unwrap()
        .into_iter()
        .chain(a.history(ada.plan_id.clone()).unwrap())
    {
        assert!(
            sar.json.contains(&h.hash),
            "{} ({}) missing",
            h.hash,
            h.what
        );
    }
    for h in a.history(grace.case_id.clone()).unwrap() {
        assert!(!sar.json.contains(&h.hash), "another case's change");
    }

    // Typed errors, nothing changed.
    let err = a.subject_access_export("not an id".into()).unwrap_err();
    assert!(matches!(err, HoldfastError::InvalidInput { .. }), "{err:?}");
    let err = a
        .subject_access_export("ffffffffffffffffffffffffffffffff".into())
        .unwrap_err();
    assert!(matches!(err, HoldfastError::NotFound { .. }), "{err:?}");
    let err = a.subject_access_export(ada.plan_id.clone()).unwrap_err();
    assert!(matches!(err, HoldfastError::NotAllowed { .. }), "{err:?}");
    assert!(
        !err.to_string().contains("Ada"),
        "no patient data in errors"
    );
}

#[test]
fn a_document_exports_as_automerge_bytes_with_its_heads() {
    let a = phone("Asha (link worker)");
    let ada = a
        .create_case(patient("Ada Lovelace", "9434765919"))
        .unwrap();
    a.set_what_matters(ada.plan_id.clone(), "Getting out of the house".into())
        .unwrap();

    let case = a.export_document(ada.case_id.clone()).unwrap();
    assert_eq!(case.kind, "case_file");
    assert_eq!(
        &case.bytes[..4],
        &[0x85, 0x6f, 0x4a, 0x83],
        "Automerge magic"
    );
    let history = a.history(ada.case_id.clone()).unwrap();
    assert_eq!(case.heads, vec![history.last().unwrap().hash.clone()]);
    keep(
        "ffi-case-file",
        &case.bytes,
        &case.heads,
        vec![
            ("kind".into(), "case_file".into()),
            ("patient.name".into(), "Ada Lovelace".into()),
            ("patient.nhs_number".into(), "9434765919".into()),
            ("patient.practice".into(), "Meanwood Group Practice".into()),
        ],
    );

    let plan = a.export_document(ada.plan_id.clone()).unwrap();
    assert_eq!(plan.kind, "action_plan");
    let history = a.history(ada.plan_id.clone()).unwrap();
    assert_eq!(plan.heads, vec![history.last().unwrap().hash.clone()]);
    keep(
        "ffi-action-plan",
        &plan.bytes,
        &plan.heads,
        vec![
            ("kind".into(), "action_plan".into()),
            ("what_matters".into(), "Getting out of the house".into()),
        ],
    );

    let directory = a.create_directory("Leeds North".into()).unwrap();
    assert_eq!(a.export_document(directory).unwrap().kind, "directory");

    let err = a.export_document("nonsense".into()).unwrap_err();
    assert!(matches!(err, HoldfastError::InvalidInput { .. }), "{err:?}");
    let err = a
        .export_document("ffffffffffffffffffffffffffffffff".into())
        .unwrap_err();
    assert!(matches!(err, HoldfastError::NotFound { .. }), "{err:?}");
}
