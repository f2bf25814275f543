//! `export_open_referral` through the mobile API: a directory written as Open Referral UK 3.0
//! JSON and imported on another phone comes back as the same assets; bad ids are typed
//! errors.

mod common;

use common::phone;
use holdfast_ffi::{
    AssetInput, AssetStatus, Capacity, DirectoryQuery, HoldfastDevice, HoldfastError,
    NewPatientInput, ReferralRoute,
};

/// An ORUK 1.0 service as a council directory publishes it.
const OPEN_REFERRAL: &str = r#"[{
    "id": "3f2b6c1e-8a4d-4f0e-9b7a-5d1c2e3f4a5b", "name": "Roundhay Park Wellbeing Walk",
    "description": "A one-hour walk round the lake.", "status": "active",
    "organization": {"name": "Leeds Health Walks"}, "attending_access": "drop-in",
    "service_taxonomys": [{"taxonomy": {"name": "Physical activity"}}],
    "contacts": [{"phones": [{"number": "0113 496 0123"}]}],
    "regular_schedules": [{"byday": "TU", "opens_at": "10:00", "closes_at": "11:00"}],
    "service_at_locations": [{"location": {"physical_addresses": [
        {"address_1": "Roundhay Park Lakeside Cafe", "city": "Leeds", "postal_code": "LS8 2JL"}]}}]
}]"#;

/// A link worker's own entry, with every field filled in.
fn befriending() -> AssetInput {
    AssetInput {
        name: "Armley Telephone Befriending".into(),
        organisation: Some("Armley Helping Hands".into()),
        description: "A weekly call from a volunteer.".into(),
        categories: vec!["Loneliness".into(), "Older people".into()],
        phone: Some("07700 900123".into()),
        email: Some("hello@armleyhelpinghands.example.org".into()),
        url: Some("https://example.org/befriending".into()),
        address: Some("Armley Moor, Leeds".into()),
        postcode: Some("LS12 3HP".into()),
        schedule: Some("Calls at a time that suits you".into()),
        eligibility: Some("Over 60s in Armley".into()),
        min_age: Some(60),
        max_age: None,
        cost: Some("£2 a month".into()),
        referral_route: ReferralRoute::DirectReferral,
        accessibility: Some("By phone".into()),
        languages: vec!["English".into(), "Punjabi".into()],
        capacity: Capacity::WaitingList,
        status: AssetStatus::TemporarilyClosed,
        assured_date: Some("2025-06-01".into()),
        assured_by: Some("Leeds Directory Team".into()),
        external_id: Some("befriend-armley-001".into()),
    }
}

/// Every asset on the device, by name.
fn assets(device: &HoldfastDevice) -> Vec<AssetInput> {
    let hits = device
        .search_directory(DirectoryQuery {
            limit: 1000,
            ..DirectoryQuery::default()
        })
        .unwrap();
    let mut all: Vec<AssetInput> = hits
        .into_iter()
        .map(|hit| {
            device
                .asset(hit.directory_id, hit.asset_id)
                .unwrap()
                .details
        })
        .collect();
    all.sort_by(|a, b| a.name.cmp(&b.name));
    all
}

#[test]
fn a_directory_exported_on_one_phone_imports_on_another_unchanged() {
    let a = phone("Asha");
    let dir = a.create_directory("Leeds North".into()).unwrap();
    let imported = a
        .import_open_referral(dir.clone(), OPEN_REFERRAL.into())
        .unwrap();
    assert_eq!(imported.warnings, Vec::<String>::new());
    a.upsert_asset(dir.clone(), None, befriending()).unwrap();
    let closed = AssetInput {
        name: "Gipton Men's Shed".into(),
        capacity: Capacity::Closed,
        status: AssetStatus::Defunct,
        referral_route: ReferralRoute::SignpostOnly,
        external_id: Some("shed-7".into()),
        ..AssetInput::default()
    };
    a.upsert_asset(dir.clone(), None, closed).unwrap();

    let json = a.export_open_referral(dir.clone()).unwrap();
    assert_eq!(a.export_open_referral(dir.clone()).unwrap(), json);
    assert!(json.contains("\"contents\""), "{json}");
    assert!(json.contains("\"temporarily closed\""), "{json}");

    let b = phone("Ben");
    let copy = b.create_directory("Copy".into()).unwrap();
    let outcome = b.import_open_referral(copy.clone(), json).unwrap();
    assert_eq!(outcome.asset_ids.len(), 3);
    assert_eq!(outcome.warnings, Vec::<String>::new());
    let original = assets(&a);
    assert_eq!(original.len(), 3);
    assert_eq!(assets(&b), original);
    assert_eq!(
        original
            .iter()
            .find(|asset| asset.name == "Armley Telephone Befriending"),
        Some(&befriending())
    );
}

#[test]
fn a_bad_or_wrong_id_is_a_typed_error() {
    let a = phone("Asha");
    match a.export_open_referral("not an id".into()) {
        Err(HoldfastError::InvalidInput { .. }) => {}
        other => panic!("expected InvalidInput, got {other:?}"),
    }
    let unknown = "00112233445566778899aabbccddeeff".to_owned();
    match a.export_open_referral(unknown) {
        Err(HoldfastError::NotFound { .. }) => {}
        other => panic!("expected NotFound, got {other:?}"),
    }
    let case = a
        .create_case(NewPatientInput {
            name: "Mrs Eleanor Rigby".into(),
            nhs_number: None,
            postcode: None,
            practice: None,
            phone: None,
        })
        .unwrap();
    match a.export_open_referral(case.case_id) {
        Err(HoldfastError::NotAllowed { reason }) => {
            assert!(reason.contains("directory"), "{reason}");
            assert!(!reason.contains("Rigby"), "{reason}");
        }
        other => panic!("expected NotAllowed, got {other:?}"),
    }
}
