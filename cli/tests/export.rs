//! `holdfast case export` (a patient's record for a subject access request) and `holdfast
//! document export` (a document as raw Automerge bytes and heads), through the real binary.
//! The exported case file is also written to `$HOLDFAST_AUTOMERGE_OUT` when it is set, for
//! `tools/automerge-check` (`./scripts/test`).

mod common;

use std::path::Path;

use common::Device;
use serde_json::{Value, json};

/// A patient with an accepted referral and a session; returns (case id, plan id).
fn patient(d: &Device, name: &str, nhs: &str, note: &str) -> (String, String) {
    let case = d.json(&["patient", "add", "--name", name, "--nhs-number", nhs]);
    let case_id = case["case_id"].as_str().unwrap().to_owned();
    let plan_id = case["plan_id"].as_str().unwrap().to_owned();
    let r = d.json(&[
        "referral", "add", &case_id, "--source", "gp", "--reason", "lonely",
    ]);
    let referral = r["referral_id"].as_str().unwrap();
    d.ok(&["referral", "accept", &case_id, referral]);
    d.ok(&[
        "session",
        "record",
        &case_id,
        "--mode",
        "phone",
        "--minutes",
        "30",
        "--note",
        note,
    ]);
    (case_id, plan_id)
}

/// The export without the line saying when it was made (the binary reads the real clock).
fn without_when(export: &str) -> String {
    export
        .lines()
        .filter(|l| !l.contains("\"generated_at\"") && !l.starts_with("Made "))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(unix)]
fn private(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "{} is {mode:o}", path.display());
}

#[cfg(not(unix))]
fn private(_: &Path) {}

#[test]
fn a_subject_access_export_is_one_patients_record_as_json_or_text() {
    let d = Device::new();
    d.ok(&["init", "--name", "Sam Okafor"]);
    let (case, plan) = patient(&d, "Ada Lovelace", "9434765919", "NOTE-ADA-1183 allotment");
    let (other, other_plan) = patient(&d, "Grace Hopper", "4010232137", "NOTE-GRACE-5520 choir");
    d.ok(&["goal", "add", &plan, "Go to the Tuesday walk"]);
    d.ok(&["supervision", "comment", &case, "SUPERVISION-3341 check in"]);

    // JSON on the screen: the record itself, nothing of the other patient.
    let shown = d.ok(&["case", "export", &case[..8], "--format", "json"]);
    let v: Value = serde_json::from_str(&shown).unwrap();
    assert_eq!(v["case_id"], case.as_str());
    assert_eq!(v["plan_id"], plan.as_str());
    assert_eq!(v["case_file"]["patient"]["name"], "Ada Lovelace");
    assert_eq!(v["case_file"]["patient"]["nhs_number"], "9434765919");
    assert_eq!(
        v["action_plan"]["goals"][0]["text"],
        "Go to the Tuesday walk"
    );
    assert!(shown.contains("NOTE-ADA-1183"));
    assert!(shown.contains("SUPERVISION-3341"));
    assert!(
        v["history"].as_array().unwrap().len() >= 5,
        "{}",
        v["history"]
    );
    assert!(
        v["notice"]
            .as_str()
            .unwrap()
            .contains("review it before disclosure")
    );
    // The same record, the same bytes (but for when it was made).
    let again = d.ok(&["case", "export", &case, "--format", "json"]);
    assert_eq!(without_when(&again), without_when(&shown));

    // Text on the screen.
    let text = d.ok(&["case", "export", &case, "--format", "text"]);
    assert!(text.starts_with("SUBJECT ACCESS EXPORT\n"), "{text}");
    for want in [
        "Name: Ada Lovelace",
        "NHS number: 9434765919",
        "NOTE-ADA-1183 allotment",
        "Go to the Tuesday walk",
        "SUPERVISION COMMENTS [REVIEW BEFORE DISCLOSURE]",
        "SAFEGUARDING CONCERNS [REVIEW BEFORE DISCLOSURE]",
        "HISTORY OF CHANGES",
        "session recorded (case file), by Sam Okafor",
    ] {
        assert!(text.contains(want), "{want:?} not in:\n{text}");
    }

    // Neither form names the other patient.
    for out in [&shown, &text] {
        for theirs in [
            "Grace Hopper",
            "4010232137",
            "NOTE-GRACE-5520",
            other.as_str(),
            other_plan.as_str(),
        ] {
            assert!(!out.contains(theirs), "{theirs} in the export");
        }
    }

    // To a file only the user can read, even where a readable one was before; what it
    // holds is what the screen showed.
    let file = d.path("ada-sar.txt");
    std::fs::write(&file, "an older file anyone could read").unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    let said = d.ok(&[
        "case",
        "export",
        &case,
        "--format",
        "text",
        "--out",
        file.to_str().unwrap(),
    ]);
    assert!(said.contains("ada-sar.txt"), "{said}");
    assert!(said.contains("must review it before disclosure"), "{said}");
    assert!(said.contains("not encrypted"), "{said}");
    assert!(
        !said.contains("NOTE-ADA-1183"),
        "the summary holds no record: {said}"
    );
    assert_eq!(
        without_when(&std::fs::read_to_string(&file).unwrap()),
        without_when(&text)
    );
    private(&file);
    let file = d.path("ada-sar.json");
    let said = d.json(&[
        "case",
        "export",
        &case,
        "--format",
        "json",
        "--out",
        file.to_str().unwrap(),
    ]);
    assert_eq!(said["case_id"], case.as_str());
    assert_eq!(said["format"], "json");
    assert_eq!(
        without_when(&std::fs::read_to_string(&file).unwrap()),
        without_when(&shown)
    );
    private(&file);

    // Bad input: one error line, nothing written.
    let line = d.fails(
        &[
            "case",
            "export",
            "ffffffffffffffffffffffffffffffff",
            "--format",
            "json",
        ],
        1,
    );
    assert!(line.contains("no case"), "{line}");
    let directory = d.json(&["directory", "create", "Leeds North"]);
    let dir_id = directory["directory_id"].as_str().unwrap();
    let line = d.fails(&["case", "export", dir_id, "--format", "json"], 1);
    assert!(line.contains("is a directory, not a case"), "{line}");
    let r = d.run(&["case", "export", &case, "--format", "pdf"]);
    assert_eq!(r.code, 2, "{r:?}");
    let nowhere = d.path("missing-folder/sar.json");
    let r = d.run(&[
        "case",
        "export",
        &case,
        "--format",
        "json",
        "--out",
        nowhere.to_str().unwrap(),
    ]);
    assert_ne!(r.code, 0, "{r:?}");
    assert!(!nowhere.exists());
}

#[test]
fn a_document_exports_as_automerge_bytes_with_its_heads() {
    let d = Device::new();
    d.ok(&["init", "--name", "Sam Okafor"]);
    let (case, _plan) = patient(
        &d,
        "Ada Lovelace",
        "9434765919",
        "Talked about the allotment",
    );
    let out = d.path("ada.automerge");
    let said = d.json(&[
        "document",
        "export",
        &case[..10],
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(said["document_id"], case.as_str());
    assert_eq!(said["kind"], "case_file");
    let bytes = std::fs::read(&out).unwrap();
    assert_eq!(said["bytes"], bytes.len());
    // Automerge's document magic: a plain Automerge file, not a sealed envelope.
    assert_eq!(&bytes[..4], &[0x85, 0x6f, 0x4a, 0x83]);
    private(&out);
    let heads_file = d.path("ada.heads");
    assert_eq!(said["heads_file"], heads_file.to_str().unwrap());
    let heads: Vec<String> = std::fs::read_to_string(&heads_file)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(said["heads"], json!(heads));
    assert!(!heads.is_empty());
    // One device, one line of history: the head is its last change.
    let history = d.json(&["case", "history", &case]);
    let changes = history["history"].as_array().unwrap();
    assert_eq!(
        heads,
        vec![changes.last().unwrap()["hash"].as_str().unwrap()]
    );

    // Text names the files and lists the heads.
    let text = d.ok(&["document", "export", &case, "--out", out.to_str().unwrap()]);
    assert!(text.contains("case file"), "{text}");
    assert!(text.contains(&heads[0]), "{text}");

    if let Ok(dir) = std::env::var("HOLDFAST_AUTOMERGE_OUT") {
        let dir = Path::new(&dir);
        std::fs::copy(&out, dir.join("cli-case-file.automerge")).unwrap();
        let sidecar = json!({
            "heads": heads,
            "fields": {
                "kind": "case_file",
                "patient.name": "Ada Lovelace",
                "patient.nhs_number": "9434765919",
                "status": "active",
            },
        });
        std::fs::write(dir.join("cli-case-file.json"), sidecar.to_string()).unwrap();
    }

    // Bad input: one error line, nothing written.
    let nothing = d.path("nothing.automerge");
    let line = d.fails(
        &[
            "document",
            "export",
            "ffffffffffffffffffffffffffffffff",
            "--out",
            nothing.to_str().unwrap(),
        ],
        1,
    );
    assert!(line.contains("no document"), "{line}");
    let line = d.fails(&["document", "export", &case, "--out", "x.heads"], 1);
    assert!(line.contains(".heads"), "{line}");
    assert!(!nothing.exists());
    assert_eq!(
        d.run(&["document", "export", &case]).code,
        2,
        "--out is required"
    );
}
