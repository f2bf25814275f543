//! `holdfast directory export` end to end: a directory written as Open Referral UK 3.0 JSON
//! and imported into a fresh store comes back as the same assets.

mod common;

use std::path::Path;

use common::Device;
use serde_json::Value;

/// Every asset of every directory on the device, without its asset id (the store makes
/// those up), in an order of their own (seeded names repeat).
fn assets(d: &Device) -> Vec<Value> {
    let hits = d.json(&["directory", "search", "--limit", "1000"]);
    let mut assets: Vec<Value> = hits
        .as_array()
        .unwrap()
        .iter()
        .map(|hit| {
            let shown = d.json(&[
                "directory",
                "show",
                hit["directory_id"].as_str().unwrap(),
                hit["asset_id"].as_str().unwrap(),
            ]);
            let mut asset = shown["asset"].clone();
            asset.as_object_mut().unwrap().remove("id");
            asset
        })
        .collect();
    assets.sort_by_cached_key(|a| a.to_string());
    assets
}

fn text(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap()
}

/// Services as two directories publish them: ORUK 1.0 and ORUK 3.0, every field the
/// import reads.
const SERVICES: &str = r#"[
  {"id": "svc-walk", "name": "Tuesday Walking Group",
   "description": "A gentle walk round Woodhouse Moor, then tea.",
   "organization": {"name": "Leeds Walks"}, "status": "active",
   "url": "https://example.org/walks", "email": "walks@example.org",
   "attending_access": "drop-in", "fees": "Free of charge",
   "service_taxonomys": [{"taxonomy": {"name": "physical activity"}}, {"taxonomy": {"name": "loneliness"}}],
   "contacts": [{"phones": [{"number": "0113 496 0123"}]}],
   "regular_schedules": [{"byday": "TU", "opens_at": "10:00", "closes_at": "11:00"}],
   "eligibilitys": [{"eligibility": "Adults", "minimum_age": 18}],
   "languages": [{"language": "English"}],
   "service_at_locations": [{"location": {
      "physical_addresses": [{"address_1": "Woodhouse Moor", "city": "Leeds", "postal_code": "LS6 2AB"}],
      "accessibility_for_disabilities": [{"accessibility": "Flat paths"}]}}]},
  {"id": "svc-debt", "name": "Money Advice Drop-in", "description": "Benefits and debt.",
   "status": "temporarily closed", "needs_referral": true, "wait_time": "Waiting list: 2 weeks",
   "minimum_age": 16, "maximum_age": 99, "eligibility_description": "Leeds residents",
   "fees_description": "£1 donation welcome", "assured_date": "2025-02-03",
   "assurer_email": "team@leeds.example.gov.uk",
   "attributes": [{"taxonomy_term": {"name": "Money advice"}}],
   "phones": [{"number": "0113 496 0456"}],
   "schedules": [{"description": "By appointment"}]},
  {"id": "svc-shed", "name": "Seacroft Men's Shed", "status": "defunct",
   "capacities": [{"available": 0}]}
]"#;

#[test]
fn an_imported_directory_exports_and_imports_into_a_fresh_store_unchanged() {
    let a = Device::init("Sam Okafor");
    let source = a.path("leeds-north.json");
    std::fs::write(&source, SERVICES).unwrap();
    let imported = a.json(&["directory", "import", source.to_str().unwrap()]);
    assert_eq!(imported["warnings"], serde_json::json!([]));
    let dir = imported["directory_id"].as_str().unwrap().to_owned();

    let out = a.path("export.json");
    let said = a.ok(&["directory", "export", "--out", out.to_str().unwrap()]);
    assert!(said.contains("Exported 3 services"), "{said}");
    assert!(said.contains(&dir), "{said}");
    let summary = a.json(&[
        "directory",
        "export",
        "--dir",
        &dir[..8],
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(summary["services"], 3);
    assert_eq!(summary["directory_id"], dir.as_str());

    // ORUK 3.0: a page of services, each with the ids the profile requires.
    let file = text(&out);
    let page: Value = serde_json::from_str(&file).unwrap();
    assert_eq!(page["total_items"], 3);
    for service in page["contents"].as_array().unwrap() {
        for field in ["id", "name", "status"] {
            assert!(service[field].is_string(), "{field}: {service}");
        }
    }

    // To the screen, with no --out or with `-`: the same bytes.
    assert_eq!(a.ok(&["directory", "export"]), file);
    assert_eq!(a.ok(&["directory", "export", "--out", "-"]), file);
    assert_eq!(a.ok(&["directory", "export", "--out", "-"]), file);

    let b = Device::init("Asha Begum");
    let back = b.json(&["directory", "import", out.to_str().unwrap()]);
    assert_eq!(back["services"], 3);
    assert_eq!(back["warnings"], serde_json::json!([]));
    let before = assets(&a);
    assert_eq!(before.len(), 3);
    assert_eq!(assets(&b), before);

    // Imported again where it came from, it updates the same assets (by their ids).
    a.ok(&["directory", "import", out.to_str().unwrap()]);
    assert_eq!(assets(&a), before);
}

#[test]
fn a_seeded_directory_exports_the_same_bytes_and_comes_back_whole() {
    let a = Device::init("Demo");
    a.json(&["seed", "--patients", "0", "--assets", "25"]);
    let first = a.ok(&["directory", "export"]);
    let second = a.ok(&["directory", "export"]);
    assert_eq!(first, second);

    let out = a.path("seeded.json");
    a.ok(&["directory", "export", "--out", out.to_str().unwrap()]);
    let b = Device::init("Asha Begum");
    let back = b.json(&["directory", "import", out.to_str().unwrap()]);
    assert_eq!(back["services"], 25);
    assert_eq!(back["warnings"], serde_json::json!([]));

    // Seeded assets have no external id: each comes back with the id it was exported under.
    let without_ids = |assets: Vec<Value>| -> Vec<Value> {
        let mut stripped: Vec<Value> = assets
            .into_iter()
            .map(|mut asset| {
                asset.as_object_mut().unwrap().remove("external_id");
                asset
            })
            .collect();
        stripped.sort_by_cached_key(|a| a.to_string());
        stripped
    };
    let copied = assets(&b);
    assert_eq!(copied.len(), 25);
    assert!(copied.iter().all(|asset| asset["external_id"].is_string()));
    assert_eq!(without_ids(copied), without_ids(assets(&a)));
}

#[test]
fn exporting_needs_one_directory_and_a_place_to_write() {
    let a = Device::init("Sam Okafor");
    let line = a.fails(&["directory", "export"], 1);
    assert!(line.contains("no directory"), "{line}");

    a.ok(&["directory", "create", "Leeds North"]);
    let empty: Value = serde_json::from_str(&a.ok(&["directory", "export"])).unwrap();
    assert_eq!(empty["contents"], serde_json::json!([]));
    assert_eq!(empty["empty"], true);

    a.ok(&["directory", "create", "Leeds South"]);
    let line = a.fails(&["directory", "export"], 1);
    assert!(line.contains("--directory"), "{line}");
    let line = a.fails(
        &["directory", "export", "--directory", "0123456789abcdef"],
        1,
    );
    assert!(line.contains("directory"), "{line}");

    let dirs = a.json(&["directory", "list"]);
    let dir = dirs[0]["directory_id"].as_str().unwrap();
    let nowhere = a.path("missing-folder").join("export.json");
    let line = a.fails(
        &[
            "directory",
            "export",
            "--directory",
            dir,
            "--out",
            nowhere.to_str().unwrap(),
        ],
        1,
    );
    assert!(line.contains("writing"), "{line}");
    assert!(!nowhere.exists());
}
