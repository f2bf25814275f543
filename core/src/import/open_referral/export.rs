//! Export of directory assets as Open Referral UK 3.0 (HSDS 3) services: the reverse of
//! [`parse_services`](super::parse_services), written so that the import reads back the same
//! assets with no warnings.
//!
//! The document is one page of an ORUK 3.0 `/services` response holding every asset:
//! `{"total_items", "total_pages": 1, "page_number": 1, "size", "first_page": true,
//! "last_page": true, "empty", "contents": [service, …]}`, pretty-printed. Services come in
//! the order given (the store gives them in asset-id order). Every nested object has an `id`:
//! a name-based (version 5) UUID from the asset's id and the object's place, so exporting the
//! same directory twice gives the same bytes, and a taxonomy term's id comes from its name, so
//! services sharing a category share the term.
//!
//! | Asset field | Written as |
//! | --- | --- |
//! | `external_id` | `id`; an asset without one gets a UUID made from its asset id |
//! | `name`, `description`, `url`, `email` | the same names (`url` and `email` left out when blank) |
//! | `status` | `status`: active, inactive, defunct or temporarily closed |
//! | `organisation` | `organization: {id, name, description: ""}` |
//! | `phone` | `phones: [{id, number}]` |
//! | `address`, `postcode`, `accessibility` | one `service_at_locations[].location` (`location_type` physical) with `addresses: [{address_1: the whole line, city: "", postal_code, address_type: "physical", …}]` and `accessibility: [{id, description}]` |
//! | `schedule` | `schedules: [{id, description}]` (free text: no `byday` or `opens_at`) |
//! | `eligibility`, `min_age`, `max_age` | `eligibility_description`, `minimum_age`, `maximum_age` |
//! | `cost` | `fees_description` (no `cost_options`) |
//! | `categories` | `attributes: [{id, taxonomy_term_id, taxonomy_term: {id, name}}]` |
//! | `languages` | `languages: [{id, name}]` |
//! | `referral_route` | direct referral: `referral_methods: ["Referral by a link worker"]`; signpost only: left out |
//! | `capacity` | waiting list: `wait_time: "Waiting list"`; closed: `capacities: [{id, available: 0}]` (HSDS 3.1); open: left out |
//! | `assured_date` | `assured_date`, YYYY-MM-DD (left out if it is not a date) |
//! | `assured_by` | `assurer_email` when it holds an `@`, else `assured_by` |
//!
//! What does not come back as it went out, because the import reads loosely:
//!
//! - text is trimmed, and blank optional fields and blank categories or languages are left
//!   out; categories and languages repeated (ignoring case) are written once;
//! - a cost that just means free ("free of charge", "none", "£0") is read back as "Free";
//! - an asset without an external id is read back with the UUID written as its `id`;
//! - a signpost-only asset with a category that mentions referral ("Referral required") is
//!   read back as direct referral: the import takes such a term as saying so, and ORUK has no
//!   field that says "signpost only" to outweigh it;
//! - two assets with the same external id are both written, and the import warns about it.
//!
//! The ORUK UK profile also asks every service for a `url`; an asset without one has none.

use ring::digest;
use serde::Serialize;

use crate::model::directory::{Asset, AssetStatus, Capacity, ReferralRoute};
use crate::model::doc::{format_date, parse_date};
use crate::{Error, Result};

/// The namespace of the name-based UUIDs in an export (a random UUID, fixed forever: changing
/// it changes every id a consumer has stored).
const NAMESPACE: [u8; 16] = [
    0xc1, 0xf7, 0xf2, 0xb9, 0x40, 0x79, 0x4e, 0xb5, 0xae, 0x7b, 0x9c, 0x83, 0x8b, 0xa3, 0x9a, 0xbf,
];

/// What `referral_methods` says for an asset that takes referrals from a link worker.
const LINK_WORKER_REFERRAL: &str = "Referral by a link worker";

/// What `wait_time` says for an asset with a waiting list (the import looks for the words).
const WAITING_LIST: &str = "Waiting list";

/// Writes assets as one ORUK 3.0 page of services (see the module docs for the mapping).
///
/// The same assets give the same bytes. [`parse_services`](super::parse_services) reads the
/// result back with no warnings, as the same assets apart from the normalisations listed in
/// the module docs.
pub fn export_services(assets: &[Asset]) -> Result<String> {
    let contents: Vec<Service<'_>> = assets.iter().map(service).collect();
    let page = Page {
        total_items: contents.len(),
        total_pages: 1,
        page_number: 1,
        size: contents.len(),
        first_page: true,
        last_page: true,
        empty: contents.is_empty(),
        contents,
    };
    serde_json::to_string_pretty(&page)
        .map_err(|e| Error::Internal(format!("writing the Open Referral export: {e}")))
}

#[derive(Serialize)]
struct Page<'a> {
    total_items: usize,
    total_pages: u32,
    page_number: u32,
    size: usize,
    first_page: bool,
    last_page: bool,
    empty: bool,
    contents: Vec<Service<'a>>,
}

#[derive(Serialize)]
struct Service<'a> {
    id: String,
    name: &'a str,
    description: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    email: Option<&'a str>,
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    organization: Option<Organization<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    fees_description: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    eligibility_description: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    minimum_age: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    maximum_age: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    wait_time: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    assured_date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    assurer_email: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    assured_by: Option<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    referral_methods: Vec<&'static str>,
    phones: Vec<Phone<'a>>,
    schedules: Vec<Schedule<'a>>,
    service_at_locations: Vec<ServiceAtLocation<'a>>,
    languages: Vec<Language<'a>>,
    attributes: Vec<Attribute<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    capacities: Vec<ServiceCapacity>,
}

#[derive(Serialize)]
struct Organization<'a> {
    id: String,
    name: &'a str,
    description: &'static str,
}

#[derive(Serialize)]
struct Phone<'a> {
    id: String,
    number: &'a str,
}

#[derive(Serialize)]
struct Schedule<'a> {
    id: String,
    description: &'a str,
}

#[derive(Serialize)]
struct ServiceAtLocation<'a> {
    id: String,
    location: Location<'a>,
}

#[derive(Serialize)]
struct Location<'a> {
    id: String,
    location_type: &'static str,
    addresses: Vec<Address<'a>>,
    accessibility: Vec<Accessibility<'a>>,
}

#[derive(Serialize)]
struct Address<'a> {
    id: String,
    address_1: &'a str,
    city: &'static str,
    state_province: &'static str,
    postal_code: String,
    country: &'static str,
    address_type: &'static str,
}

#[derive(Serialize)]
struct Accessibility<'a> {
    id: String,
    description: &'a str,
}

#[derive(Serialize)]
struct Language<'a> {
    id: String,
    name: &'a str,
}

#[derive(Serialize)]
struct Attribute<'a> {
    id: String,
    taxonomy_term_id: String,
    taxonomy_term: TaxonomyTerm<'a>,
}

#[derive(Serialize)]
struct TaxonomyTerm<'a> {
    id: String,
    name: &'a str,
}

#[derive(Serialize)]
struct ServiceCapacity {
    id: String,
    available: u32,
}

fn service(asset: &Asset) -> Service<'_> {
    let f = &asset.fields;
    let asset_id = asset.id.to_string();
    // Ids of the service's parts: "<asset id>/phone/0" and so on.
    let part = |kind: &str, n: usize| derived_id(&NAMESPACE, &format!("{asset_id}/{kind}/{n}"));

    let address = one(&f.address);
    let postcode = f.postcode.as_ref().map(ToString::to_string);
    let addresses = if address.is_some() || postcode.is_some() {
        vec![Address {
            id: part("address", 0),
            address_1: address.unwrap_or_default(),
            city: "",
            state_province: "",
            postal_code: postcode.unwrap_or_default(),
            country: "GB",
            address_type: "physical",
        }]
    } else {
        Vec::new()
    };
    let accessibility: Vec<Accessibility<'_>> = one(&f.accessibility)
        .map(|description| Accessibility {
            id: part("accessibility", 0),
            description,
        })
        .into_iter()
        .collect();
    let service_at_locations = if addresses.is_empty() && accessibility.is_empty() {
        Vec::new()
    } else {
        vec![ServiceAtLocation {
            id: part("service_at_location", 0),
            location: Location {
                id: part("location", 0),
                location_type: "physical",
                addresses,
                accessibility,
            },
        }]
    };

    let assured_by = one(&f.assured_by);
    let by_email = assured_by.filter(|who| who.contains('@'));

    Service {
        id: one(&f.external_id)
            .map(str::to_owned)
            .unwrap_or_else(|| fallback_service_id(asset)),
        name: f.name.trim(),
        description: f.description.trim(),
        url: one(&f.url),
        email: one(&f.email),
        status: status_name(f.status),
        organization: one(&f.organisation).map(|name| Organization {
            id: part("organization", 0),
            name,
            description: "",
        }),
        fees_description: one(&f.cost),
        eligibility_description: one(&f.eligibility),
        minimum_age: f.min_age,
        maximum_age: f.max_age,
        wait_time: (f.capacity == Capacity::WaitingList).then_some(WAITING_LIST),
        // A date the store would refuse (a damaged or foreign document) is left out rather
        // than published as a date it is not.
        assured_date: f
            .assured_date
            .as_deref()
            .and_then(|date| parse_date(date).ok())
            .map(format_date),
        assurer_email: by_email,
        assured_by: assured_by.filter(|_| by_email.is_none()),
        referral_methods: match f.referral_route {
            ReferralRoute::DirectReferral => vec![LINK_WORKER_REFERRAL],
            ReferralRoute::SignpostOnly => Vec::new(),
        },
        phones: one(&f.phone)
            .map(|number| Phone {
                id: part("phone", 0),
                number,
            })
            .into_iter()
            .collect(),
        schedules: one(&f.schedule)
            .map(|description| Schedule {
                id: part("schedule", 0),
                description,
            })
            .into_iter()
            .collect(),
        service_at_locations,
        languages: distinct(&f.languages)
            .into_iter()
            .enumerate()
            .map(|(n, name)| Language {
                id: part("language", n),
                name,
            })
            .collect(),
        attributes: distinct(&f.categories)
            .into_iter()
            .enumerate()
            .map(|(n, name)| {
                let term = term_id(name);
                Attribute {
                    id: part("attribute", n),
                    taxonomy_term_id: term.clone(),
                    taxonomy_term: TaxonomyTerm { id: term, name },
                }
            })
            .collect(),
        capacities: if f.capacity == Capacity::Closed {
            vec![ServiceCapacity {
                id: part("capacity", 0),
                available: 0,
            }]
        } else {
            Vec::new()
        },
    }
}

/// The `id` of a service whose asset has no external id: a UUID from its asset id.
fn fallback_service_id(asset: &Asset) -> String {
    derived_id(&NAMESPACE, &format!("{}/service", asset.id))
}

/// A taxonomy term's id, from its name ignoring ASCII case: the same category is one term.
fn term_id(name: &str) -> String {
    derived_id(
        &NAMESPACE,
        &format!("taxonomy_term/{}", name.to_ascii_lowercase()),
    )
}

/// ORUK's status words.
fn status_name(status: AssetStatus) -> &'static str {
    match status {
        AssetStatus::Active => "active",
        AssetStatus::Inactive => "inactive",
        AssetStatus::Defunct => "defunct",
        AssetStatus::TemporarilyClosed => "temporarily closed",
    }
}

/// An optional field's trimmed text, or None when it is absent or blank.
fn one(text: &Option<String>) -> Option<&str> {
    text.as_deref().and_then(present)
}

/// Trimmed text, or None when blank.
fn present(text: &str) -> Option<&str> {
    let trimmed = text.trim();
    (!trimmed.is_empty()).then_some(trimmed)
}

/// Trimmed, non-blank values with later repeats (ignoring ASCII case) dropped, in order: what
/// the import would keep, so the export says nothing it would throw away.
fn distinct(values: &[String]) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::new();
    for value in values.iter().filter_map(|v| present(v)) {
        if !out.iter().any(|kept| kept.eq_ignore_ascii_case(value)) {
            out.push(value);
        }
    }
    out
}

/// A name-based UUID (RFC 9562 version 5: SHA-1 of namespace and name), lower-case hex.
fn derived_id(namespace: &[u8; 16], name: &str) -> String {
    let mut context = digest::Context::new(&digest::SHA1_FOR_LEGACY_USE_ONLY);
    context.update(namespace);
    context.update(name.as_bytes());
    let hash = context.finish();
    let mut bytes = [0u8; 16];
    for (byte, from) in bytes.iter_mut().zip(hash.as_ref()) {
        *byte = *from;
    }
    bytes[6] = (bytes[6] & 0x0f) | 0x50;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex = hex::encode(bytes);
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::super::fixtures::{
        BEFRIENDING_V3, DEBT_V3, LUNCH_CLUB_V1, NULLS_AND_BLANKS, PADDED_STRINGS, WALK_V1, parse,
        postcode, strings,
    };
    use super::*;
    use crate::import::open_referral::{ImportReport, parse_services};
    use crate::model::directory::AssetInput;
    use crate::model::ids::AssetId;
    use crate::model::postcode::Postcode;

    fn asset(n: u8, fields: AssetInput) -> Asset {
        let id = AssetId::from_slice(&[n, 1, 2, 3, 4, 5, 6, 7]).unwrap();
        Asset { id, fields }
    }

    fn named(name: &str) -> AssetInput {
        AssetInput {
            name: name.to_owned(),
            ..AssetInput::default()
        }
    }

    fn exported(assets: &[Asset]) -> serde_json::Value {
        serde_json::from_str(&export_services(assets).unwrap()).unwrap()
    }

    /// Export, then import: the import's report.
    fn round_trip(assets: &[Asset]) -> ImportReport {
        let json = export_services(assets).unwrap();
        match parse_services(json.as_bytes()) {
            Ok(report) => report,
            Err(error) => panic!("the export does not import: {error}\n{json}"),
        }
    }

    /// What an asset should read back as: the same, with the id it was exported under.
    fn expected(asset: &Asset) -> AssetInput {
        let mut fields = asset.fields.clone();
        if fields.external_id.is_none() {
            fields.external_id = Some(fallback_service_id(asset));
        }
        fields
    }

    #[test]
    fn ids_are_version_5_uuids() {
        // RFC 9562's namespace for domain names, and Python's `uuid5(NAMESPACE_DNS, ...)`.
        let dns = [
            0x6b, 0xa7, 0xb8, 0x10, 0x9d, 0xad, 0x11, 0xd1, 0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4,
            0x30, 0xc8,
        ];
        assert_eq!(
            derived_id(&dns, "python.org"),
            "886313e1-3b8a-5372-9b90-0c9aee199e5d"
        );
    }

    #[test]
    fn every_fixture_comes_back_the_same_with_no_warnings() {
        for (name, fixture) in [
            ("walk_v1", WALK_V1),
            ("debt_v3", DEBT_V3),
            ("befriending_v3", BEFRIENDING_V3),
            ("lunch_club_v1", LUNCH_CLUB_V1),
            ("nulls_and_blanks", NULLS_AND_BLANKS),
            ("padded_strings", PADDED_STRINGS),
        ] {
            let first = parse(fixture);
            assert_eq!(first.assets.len(), 1, "{name}");
            let assets: Vec<Asset> = first
                .assets
                .into_iter()
                .map(|fields| asset(7, fields))
                .collect();
            let again = round_trip(&assets);
            assert_eq!(again.warnings, Vec::new(), "{name}");
            let want: Vec<AssetInput> = assets.iter().map(expected).collect();
            assert_eq!(again.assets, want, "{name}");
        }
        // Only the fixture without an id is read back with a different one.
        let blank = parse(NULLS_AND_BLANKS).assets.remove(0);
        assert_eq!(blank.external_id, None);
    }

    #[test]
    fn the_fixtures_together_come_back_in_order() {
        let assets: Vec<Asset> = [WALK_V1, DEBT_V3, BEFRIENDING_V3, LUNCH_CLUB_V1]
            .into_iter()
            .enumerate()
            .map(|(n, fixture)| asset(n as u8, parse(fixture).assets.remove(0)))
            .collect();
        let again = round_trip(&assets);
        assert_eq!(again.warnings, Vec::new());
        assert_eq!(
            again.assets,
            assets.iter().map(expected).collect::<Vec<_>>()
        );
    }

    #[test]
    fn writes_an_oruk_3_page_with_the_mapped_fields() {
        let debt = asset(1, parse(DEBT_V3).assets.remove(0));
        let page = exported(std::slice::from_ref(&debt));
        assert_eq!(page["total_items"], 1);
        assert_eq!(page["total_pages"], 1);
        assert_eq!(page["first_page"], true);
        assert_eq!(page["empty"], false);
        let service = &page["contents"][0];
        assert_eq!(service["id"], "b7e4c2a0-1d3f-4e5a-9b8c-7d6e5f4a3b2c");
        assert_eq!(service["status"], "active");
        assert_eq!(
            service["organization"]["name"],
            "Chapeltown Community Advice Centre"
        );
        assert_eq!(service["phones"][0]["number"], "0113 496 0456");
        let location = &service["service_at_locations"][0]["location"];
        assert_eq!(
            location["addresses"][0]["address_1"],
            "231 Chapeltown Road, Leeds"
        );
        assert_eq!(location["addresses"][0]["postal_code"], "LS7 3DX");
        assert_eq!(location["addresses"][0]["address_type"], "physical");
        assert_eq!(
            service["schedules"][0]["description"],
            "Mon, Wed 09:30–16:00; Fri 09:30–12:30"
        );
        assert!(service["schedules"][0].get("byday").is_none());
        assert_eq!(service["minimum_age"], 18);
        assert!(service.get("maximum_age").is_none());
        assert_eq!(service["fees_description"], "Free");
        assert!(service.get("cost_options").is_none());
        assert_eq!(service["referral_methods"][0], LINK_WORKER_REFERRAL);
        assert_eq!(service["assured_date"], "2025-02-03");
        assert_eq!(
            service["assurer_email"],
            "directory.team@leeds.example.gov.uk"
        );
        assert!(service.get("wait_time").is_none());
        assert!(service.get("capacities").is_none());
        assert_eq!(
            service["attributes"][1]["taxonomy_term"]["name"],
            "Money advice"
        );

        // Every nested object has an id, and no two are the same.
        let mut ids = Vec::new();
        collect_ids(service, &mut ids);
        assert!(ids.len() >= 12, "{ids:?}");
        let mut unique = ids.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), ids.len(), "{ids:?}");
    }

    fn collect_ids(value: &serde_json::Value, out: &mut Vec<String>) {
        match value {
            serde_json::Value::Object(map) => {
                if let Some(id) = map.get("id") {
                    out.push(id.as_str().unwrap().to_owned());
                }
                for (key, inner) in map {
                    // A term's id repeats as the attribute's `taxonomy_term_id`.
                    if key != "taxonomy_term" {
                        collect_ids(inner, out);
                    }
                }
            }
            serde_json::Value::Array(items) => items.iter().for_each(|i| collect_ids(i, out)),
            _ => {}
        }
    }

    #[test]
    fn capacity_status_and_assurer_are_written_as_the_import_reads_them() {
        let mut fields = AssetInput {
            name: "Seacroft Men's Shed".into(),
            capacity: Capacity::WaitingList,
            status: AssetStatus::TemporarilyClosed,
            assured_by: Some("Leeds Directory Team".into()),
            ..AssetInput::default()
        };
        let service = &exported(&[asset(1, fields.clone())])["contents"][0];
        assert_eq!(service["wait_time"], WAITING_LIST);
        assert_eq!(service["status"], "temporarily closed");
        assert_eq!(service["assured_by"], "Leeds Directory Team");
        assert!(service.get("assurer_email").is_none());
        assert!(service.get("referral_methods").is_none());
        assert_eq!(service["service_at_locations"], serde_json::json!([]));

        fields.capacity = Capacity::Closed;
        let closed = asset(1, fields);
        let service = &exported(std::slice::from_ref(&closed))["contents"][0];
        assert_eq!(service["capacities"][0]["available"], 0);
        assert!(service.get("wait_time").is_none());
        let again = round_trip(std::slice::from_ref(&closed));
        assert_eq!(again.warnings, Vec::new());
        assert_eq!(again.assets, [expected(&closed)]);
    }

    #[test]
    fn an_address_or_access_note_alone_still_makes_a_location() {
        for (address, code, access) in [
            (Some("Kirkstall Road, Leeds"), None, None),
            (None, Some("LS4 2QB"), None),
            (None, None, Some("Step-free")),
        ] {
            let a = asset(
                2,
                AssetInput {
                    name: "Kirkstall Art Club".into(),
                    address: address.map(Into::into),
                    postcode: code.and_then(postcode),
                    accessibility: access.map(Into::into),
                    ..AssetInput::default()
                },
            );
            let again = round_trip(std::slice::from_ref(&a));
            assert_eq!(
                again.warnings,
                Vec::new(),
                "{address:?} {code:?} {access:?}"
            );
            assert_eq!(again.assets, [expected(&a)]);
        }
    }

    #[test]
    fn an_asset_without_an_external_id_gets_a_stable_uuid() {
        let a = asset(3, named("Otley Road Allotments"));
        let first = exported(std::slice::from_ref(&a));
        let id = first["contents"][0]["id"].as_str().unwrap().to_owned();
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "5", "{id}");
        assert_eq!(exported(std::slice::from_ref(&a)), first);
        let other = asset(4, named("Otley Road Allotments"));
        assert_ne!(exported(&[other])["contents"][0]["id"], id.as_str());
        assert_eq!(
            round_trip(&[a]).assets[0].external_id.as_deref(),
            Some(id.as_str())
        );
    }

    #[test]
    fn loose_text_is_tidied_as_the_import_would() {
        let a = asset(
            5,
            AssetInput {
                name: "  Hyde Park Knit and Natter ".into(),
                phone: Some("   ".into()),
                email: Some(" knit@example.org ".into()),
                categories: strings(&["Crafts", " crafts", "", "Loneliness"]),
                languages: strings(&["English", "english "]),
                cost: Some("Free of charge".into()),
                assured_date: Some(" 2025-03-04 ".into()),
                ..AssetInput::default()
            },
        );
        let service = &exported(std::slice::from_ref(&a))["contents"][0];
        assert_eq!(service["name"], "Hyde Park Knit and Natter");
        assert_eq!(service["phones"], serde_json::json!([]));
        assert_eq!(service["attributes"].as_array().unwrap().len(), 2);
        assert_eq!(service["assured_date"], "2025-03-04");
        let again = round_trip(&[a]);
        assert_eq!(again.warnings, Vec::new());
        let back = &again.assets[0];
        assert_eq!(back.name, "Hyde Park Knit and Natter");
        assert_eq!(back.phone, None);
        assert_eq!(back.email.as_deref(), Some("knit@example.org"));
        assert_eq!(back.categories, strings(&["Crafts", "Loneliness"]));
        assert_eq!(back.languages, strings(&["English"]));
        // The import reads wording that just means free as "Free".
        assert_eq!(back.cost.as_deref(), Some("Free"));
        assert_eq!(back.assured_date.as_deref(), Some("2025-03-04"));
    }

    #[test]
    fn a_date_that_is_not_a_date_is_left_out() {
        let a = asset(
            6,
            AssetInput {
                name: "Gipton Gardeners".into(),
                assured_date: Some("last spring".into()),
                ..AssetInput::default()
            },
        );
        assert!(exported(&[a])["contents"][0].get("assured_date").is_none());
    }

    /// The one field that cannot round-trip on its own: ORUK has no way to say "signpost
    /// only" that outweighs a taxonomy term asking for a referral.
    #[test]
    fn a_signpost_only_asset_with_a_referral_category_comes_back_as_direct_referral() {
        let mut fields = AssetInput {
            name: "Armley Carers Group".into(),
            categories: strings(&["Carers", "Referral required"]),
            referral_route: ReferralRoute::SignpostOnly,
            ..AssetInput::default()
        };
        let service = &exported(&[asset(8, fields.clone())])["contents"][0];
        assert!(service.get("referral_methods").is_none());
        let back = round_trip(&[asset(8, fields.clone())]).assets.remove(0);
        assert_eq!(back.referral_route, ReferralRoute::DirectReferral);
        assert_eq!(back.categories, fields.categories);

        // Wording that says no referral is needed does not flip it.
        fields.categories = strings(&["Carers", "Self-referral welcome"]);
        let back = round_trip(&[asset(8, fields)]).assets.remove(0);
        assert_eq!(back.referral_route, ReferralRoute::SignpostOnly);
    }

    #[test]
    fn an_empty_directory_is_an_empty_page() {
        let page = exported(&[]);
        assert_eq!(page["total_items"], 0);
        assert_eq!(page["empty"], true);
        assert_eq!(page["contents"], serde_json::json!([]));
        assert_eq!(round_trip(&[]), ImportReport::default());
    }

    // ---------------------------------------------------------------------------------
    // Property: any asset the store accepts, written in the import's normal form, comes back
    // the same.

    /// Text with no blank at either end (the import trims), a few words long.
    fn text() -> impl Strategy<Value = String> {
        "[^\\s\\p{C}]([^\\p{C}]{0,24}[^\\s\\p{C}])?"
    }

    /// Whether the import reads a cost as just "free" (kept in step with `says_free`).
    fn means_free(cost: &str) -> bool {
        let lower = cost.trim().trim_end_matches(['.', '!']).to_lowercase();
        [
            "free",
            "free of charge",
            "no charge",
            "no cost",
            "none",
            "nil",
            "0",
            "0.00",
            "£0",
            "£0.00",
        ]
        .contains(&lower.as_str())
    }

    fn distinct_texts() -> impl Strategy<Value = Vec<String>> {
        prop::collection::vec(text(), 0..4).prop_map(|values| {
            let mut out: Vec<String> = Vec::new();
            for v in values {
                if !out.iter().any(|kept| kept.eq_ignore_ascii_case(&v)) {
                    out.push(v);
                }
            }
            out
        })
    }

    fn postcode_strategy() -> impl Strategy<Value = Option<Postcode>> {
        prop::option::of("[A-Z]{1,2}[0-9]{1,2} [0-9][A-Z]{2}")
            .prop_map(|code| code.and_then(|c| Postcode::parse(&c).ok()))
    }

    prop_compose! {
        fn asset_input()(
            name in text(),
            (organisation, description, phone, email, url) in (
                prop::option::of(text()), prop::option::of(text()).prop_map(Option::unwrap_or_default),
                prop::option::of(text()), prop::option::of(text()), prop::option::of(text()),
            ),
            (address, postcode, schedule, eligibility, accessibility) in (
                prop::option::of(text()), postcode_strategy(), prop::option::of(text()),
                prop::option::of(text()), prop::option::of(text()),
            ),
            ages in (prop::option::of(any::<u8>()), prop::option::of(any::<u8>())),
            cost in prop::option::of(text()).prop_filter("means free", |c| !c.as_deref().is_some_and(means_free)),
            (categories, languages) in (distinct_texts(), distinct_texts()),
            direct in any::<bool>(),
            capacity in prop_oneof![Just(Capacity::Open), Just(Capacity::WaitingList), Just(Capacity::Closed)],
            status in prop_oneof![
                Just(AssetStatus::Active), Just(AssetStatus::Inactive),
                Just(AssetStatus::Defunct), Just(AssetStatus::TemporarilyClosed),
            ],
            assured_date in prop::option::of((2000..2040i32, 1..=12u8, 1..=28u8)
                .prop_map(|(y, m, d)| format!("{y:04}-{m:02}-{d:02}"))),
            assured_by in prop::option::of(prop_oneof![text(), "[a-z]{1,8}@[a-z]{1,8}\\.org"]),
            external_id in prop::option::of(text()),
        ) -> AssetInput {
            let (min_age, max_age) = match ages {
                (Some(a), Some(b)) => (Some(a.min(b)), Some(a.max(b))),
                other => other,
            };
            // A category asking for a referral makes the import read direct referral.
            let referral_route = if direct || categories.iter().any(|c| c.to_lowercase().contains("referral")) {
                ReferralRoute::DirectReferral
            } else {
                ReferralRoute::SignpostOnly
            };
            AssetInput {
                name, organisation, description, categories, phone, email, url, address,
                postcode, schedule, eligibility, min_age, max_age, cost, referral_route,
                accessibility, languages, capacity, status, assured_date, assured_by,
                external_id,
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn generated_assets_survive_export_and_import(
            inputs in prop::collection::vec(asset_input(), 0..4)
                .prop_filter("external ids are unique", |inputs| {
                    let mut ids: Vec<&str> = inputs.iter().filter_map(|a| a.external_id.as_deref()).collect();
                    ids.sort_unstable();
                    ids.windows(2).all(|pair| pair[0] != pair[1])
                }),
        ) {
            for input in &inputs {
                prop_assert!(input.validate().is_ok(), "{input:?}");
            }
            let assets: Vec<Asset> = inputs
                .into_iter()
                .enumerate()
                .map(|(n, fields)| asset(n as u8, fields))
                .collect();
            let again = round_trip(&assets);
            prop_assert_eq!(again.warnings, Vec::new());
            prop_assert_eq!(again.assets, assets.iter().map(expected).collect::<Vec<_>>());
            // And the same bytes each time.
            prop_assert_eq!(export_services(&assets).unwrap(), export_services(&assets).unwrap());
        }
    }
}
