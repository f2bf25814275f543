//! Mapping one raw service to an [`AssetInput`]: which ORUK field fills which asset field
//! (see [`parse_services`](super::parse_services)), with a warning for each field that could
//! not be read as given.

use super::lenient::{List, Obj, Scalar};
use super::raw::{RawAddress, RawLocation, RawPhone, RawService, RawServiceAtLocation, RawTerm};
use super::schedule::schedule;
use super::{ImportError, ImportWarning, quote};
use crate::model::directory::{AssetInput, AssetStatus, Capacity, ReferralRoute};
use crate::model::postcode::Postcode;

/// Collects warnings for the service being mapped.
pub(super) struct Warnings<'a> {
    pub(super) index: usize,
    pub(super) list: &'a mut Vec<ImportWarning>,
}

impl Warnings<'_> {
    pub(super) fn push(&mut self, message: String) {
        self.list.push(ImportWarning {
            index: self.index,
            message,
        });
    }
}

pub(super) fn map_service(
    raw: &RawService,
    warn: &mut Warnings<'_>,
) -> Result<AssetInput, ImportError> {
    let refuse = |reason: &str| ImportError::Service {
        index: warn.index,
        reason: reason.to_owned(),
    };
    let name = match &raw.name {
        Scalar::Absent => return Err(refuse("has no `name`")),
        Scalar::Bool(_) | Scalar::Nested => return Err(refuse("has a `name` that is not text")),
        other => other.text().ok_or_else(|| refuse("has an empty `name`"))?,
    };

    let location = primary_location(raw);
    let (address, postcode) = match location.and_then(|(_, place)| best_address(place)) {
        Some(found) => address_fields(found, warn),
        None => (None, None),
    };
    let (min_age, max_age) = age_range(raw, warn);

    Ok(AssetInput {
        name,
        organisation: raw.organization.get().and_then(|org| org.name.text()),
        description: raw.description.text().unwrap_or_default(),
        categories: categories(raw),
        phone: phone(raw, location.map(|(_, place)| place)),
        email: raw.email.text(),
        url: raw.url.text(),
        address,
        postcode,
        schedule: schedule(raw, location),
        eligibility: eligibility(raw),
        min_age,
        max_age,
        cost: cost(raw, warn),
        referral_route: referral_route(raw),
        accessibility: location.and_then(|(_, place)| accessibility(place)),
        languages: languages(raw),
        capacity: capacity(raw),
        status: status(&raw.status, warn),
        assured_date: assured_date(raw, warn),
        assured_by: raw
            .assurer_email
            .text()
            .or_else(|| raw.assured_by.text())
            .or_else(|| raw.attending_assured_by.text()),
        external_id: raw.id.text(),
    })
}

fn status(value: &Scalar, warn: &mut Warnings<'_>) -> AssetStatus {
    let Some(text) = value.text() else {
        if matches!(value, Scalar::Bool(_) | Scalar::Nested) {
            warn.push("status is not text; taken as active".to_owned());
        }
        return AssetStatus::Active;
    };
    let key = text
        .to_ascii_lowercase()
        .replace(['_', '-'], " ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    match key.as_str() {
        "active" => AssetStatus::Active,
        "inactive" => AssetStatus::Inactive,
        "defunct" => AssetStatus::Defunct,
        "temporarily closed" => AssetStatus::TemporarilyClosed,
        _ => {
            warn.push(format!("unknown status {}; taken as active", quote(&text)));
            AssetStatus::Active
        }
    }
}

/// Whether a piece of referral wording means the asset takes referrals from a link worker.
fn suggests_direct_referral(text: &str) -> bool {
    let lower = text.to_lowercase();
    // "Self-referral" and "no referral needed" mean the person just turns up or rings.
    const NOT_DIRECT: [&str; 6] = [
        "self",
        "no referral",
        "not required",
        "not needed",
        "without",
        "no need",
    ];
    lower.contains("referral") && !NOT_DIRECT.iter().any(|phrase| lower.contains(phrase))
}

fn referral_route(raw: &RawService) -> ReferralRoute {
    let direct = raw
        .attending_access
        .text()
        .is_some_and(|text| suggests_direct_referral(&text))
        || raw.needs_referral.as_bool() == Some(true)
        || raw.referral_methods.0
        || terms(raw).any(|term| suggests_direct_referral(&term));
    if direct {
        ReferralRoute::DirectReferral
    } else {
        ReferralRoute::SignpostOnly
    }
}

fn capacity(raw: &RawService) -> Capacity {
    let waiting_list = raw.wait_time.text().is_some_and(|text| {
        let lower = text.to_lowercase();
        // "No waiting list" is worth saying and means the opposite.
        ["waiting list", "waiting-list", "wait list", "waitlist"]
            .iter()
            .any(|phrase| lower.contains(phrase))
            && !lower.contains("no wait")
    });
    if waiting_list {
        return Capacity::WaitingList;
    }
    let reported: Vec<f64> = raw
        .capacities
        .objects()
        .filter_map(|entry| entry.available.number())
        .collect();
    if !reported.is_empty() && reported.iter().all(|available| *available <= 0.0) {
        Capacity::Closed
    } else {
        Capacity::Open
    }
}

/// Every taxonomy term name on the service, ORUK 3.0 `attributes` first, untrimmed.
fn terms(raw: &RawService) -> impl Iterator<Item = String> + '_ {
    let v1 = raw
        .service_taxonomys
        .objects()
        .filter_map(|link| link.taxonomy.get());
    let v3 = raw
        .attributes
        .objects()
        .filter_map(|link| link.taxonomy_term.get());
    v3.chain(v1).filter_map(RawTerm::label)
}

fn categories(raw: &RawService) -> Vec<String> {
    distinct(terms(raw))
}

fn languages(raw: &RawService) -> Vec<String> {
    distinct(raw.languages.iter().filter_map(|entry| entry.0.clone()))
}

/// Trimmed, non-empty values with later case-insensitive repeats dropped, in order.
fn distinct(values: impl Iterator<Item = String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for value in values {
        let value = value.trim();
        if !value.is_empty() && !out.iter().any(|kept| kept.eq_ignore_ascii_case(value)) {
            out.push(value.to_owned());
        }
    }
    out
}

/// Joins distinct values with "; ", or None when there are none.
pub(super) fn join_distinct(values: impl Iterator<Item = String>) -> Option<String> {
    let kept = distinct(values);
    (!kept.is_empty()).then(|| kept.join("; "))
}

/// The service-at-location and location that give the asset its address: the first with a
/// usable address, else the first location at all.
fn primary_location(raw: &RawService) -> Option<(&RawServiceAtLocation, &RawLocation)> {
    let mut places = raw
        .service_at_locations
        .objects()
        .filter_map(|link| link.location.get().map(|place| (link, place)));
    let first = places.clone().next();
    places
        .find(|(_, place)| best_address(place).is_some())
        .or(first)
}

/// A location's street address: physical before postal, virtual never.
fn best_address(place: &RawLocation) -> Option<&RawAddress> {
    let usable: Vec<&RawAddress> = place
        .addresses
        .objects()
        .chain(place.physical_addresses.objects())
        .filter(|address| address.has_content())
        .collect();
    let kind = |address: &RawAddress| {
        address
            .address_type
            .text()
            .map(|text| text.to_ascii_lowercase())
    };
    usable
        .iter()
        .find(|address| matches!(kind(address).as_deref(), None | Some("physical")))
        .or_else(|| {
            usable
                .iter()
                .find(|address| kind(address).as_deref() != Some("virtual"))
        })
        .copied()
}

fn address_fields(
    address: &RawAddress,
    warn: &mut Warnings<'_>,
) -> (Option<String>, Option<Postcode>) {
    let line = join_nonempty(
        [&address.address_1, &address.address_2, &address.city]
            .into_iter()
            .filter_map(Scalar::text),
        ", ",
    );
    let postcode = address
        .postal_code
        .text()
        .and_then(|text| match Postcode::parse(&text) {
            Ok(postcode) => Some(postcode),
            Err(_) => {
                warn.push(format!(
                    "postcode {} is not a UK postcode; left blank",
                    quote(&text)
                ));
                None
            }
        });
    (line, postcode)
}

fn join_nonempty(parts: impl Iterator<Item = String>, separator: &str) -> Option<String> {
    let parts: Vec<String> = parts.collect();
    (!parts.is_empty()).then(|| parts.join(separator))
}

fn accessibility(place: &RawLocation) -> Option<String> {
    let notes = place
        .accessibility
        .objects()
        .chain(place.accessibility_for_disabilities.objects())
        .filter_map(|entry| {
            let main = entry
                .description
                .text()
                .or_else(|| entry.accessibility.text());
            match (main, entry.details.text()) {
                (Some(main), Some(details)) => Some(format!("{main} ({details})")),
                (main, details) => main.or(details),
            }
        });
    join_distinct(notes)
}

fn phone(raw: &RawService, place: Option<&RawLocation>) -> Option<String> {
    let first =
        |phones: &List<Obj<RawPhone>>| phones.objects().find_map(|phone| phone.number.text());
    first(&raw.phones)
        .or_else(|| {
            raw.contacts
                .objects()
                .find_map(|contact| first(&contact.phones))
        })
        .or_else(|| place.and_then(|place| first(&place.phones)))
}

fn eligibility(raw: &RawService) -> Option<String> {
    raw.eligibility_description.text().or_else(|| {
        join_distinct(
            raw.eligibilitys
                .objects()
                .filter_map(|entry| entry.eligibility.text()),
        )
    })
}

fn age_range(raw: &RawService, warn: &mut Warnings<'_>) -> (Option<u8>, Option<u8>) {
    let mut min_age = age(&raw.minimum_age, "minimum_age", warn);
    let mut max_age = age(&raw.maximum_age, "maximum_age", warn);
    // ORUK 1.0 keeps ages per eligibility entry; the widest range is the one that never turns
    // away someone an entry would take.
    if min_age.is_none() {
        min_age = raw
            .eligibilitys
            .objects()
            .filter_map(|entry| age(&entry.minimum_age, "minimum_age", warn))
            .min();
    }
    if max_age.is_none() {
        max_age = raw
            .eligibilitys
            .objects()
            .filter_map(|entry| age(&entry.maximum_age, "maximum_age", warn))
            .max();
    }
    if let (Some(min), Some(max)) = (min_age, max_age)
        && min > max
    {
        warn.push(format!(
            "minimum_age {min} is above maximum_age {max}; both left blank"
        ));
        return (None, None);
    }
    (min_age, max_age)
}

fn age(value: &Scalar, field: &str, warn: &mut Warnings<'_>) -> Option<u8> {
    if value.is_blank() {
        return None;
    }
    match value.number() {
        Some(years) if (0.0..=f64::from(u8::MAX)).contains(&years) && years.fract() == 0.0 => {
            // In range and whole, so the conversion is exact.
            Some(years as u8)
        }
        _ => {
            warn.push(format!(
                "{field} {} is not an age in years; left blank",
                value.describe()
            ));
            None
        }
    }
}

fn cost(raw: &RawService, warn: &mut Warnings<'_>) -> Option<String> {
    let mut parts: Vec<String> = Vec::new();
    let mut any_paid = false;
    for option in raw.cost_options.objects() {
        let condition = option.option.text();
        let per = option.amount_description.text();
        let amount = match option.amount.money() {
            Some(amount) if amount < 0.0 => {
                warn.push(format!("cost amount {amount} is negative; ignored"));
                None
            }
            other => other,
        };
        let part = match amount {
            Some(amount) if amount > 0.0 => {
                any_paid = true;
                let mut text = format!("{}{}", currency_prefix(&option.currency), money(amount));
                push_words(&mut text, per, condition);
                text
            }
            // Zero: negative amounts were dropped above.
            Some(_) => match condition {
                Some(condition) => format!("Free ({condition})"),
                None => "Free".to_owned(),
            },
            None => {
                // An amount that is words ("Donation") still says something about the cost.
                let Some(mut text) = option.amount.text().or(per.clone()).or(condition.clone())
                else {
                    continue;
                };
                any_paid = true;
                let per = per.filter(|per| *per != text);
                let condition = condition.filter(|condition| *condition != text);
                push_words(&mut text, per, condition);
                text
            }
        };
        parts.push(part);
    }
    if !parts.is_empty() {
        return Some(if any_paid {
            join_distinct(parts.into_iter()).unwrap_or_default()
        } else {
            "Free".to_owned()
        });
    }
    raw.fees_description
        .text()
        .or_else(|| raw.fees.text())
        .map(|text| {
            if says_free(&text) {
                "Free".to_owned()
            } else {
                text
            }
        })
}

fn push_words(text: &mut String, per: Option<String>, condition: Option<String>) {
    if let Some(per) = per {
        text.push(' ');
        text.push_str(&per);
    }
    if let Some(condition) = condition {
        text.push_str(" (");
        text.push_str(&condition);
        text.push(')');
    }
}

fn currency_prefix(currency: &Scalar) -> String {
    match currency.text() {
        Some(code) if !code.eq_ignore_ascii_case("gbp") && code != "£" => {
            format!("{} ", code.to_uppercase())
        }
        _ => "£".to_owned(),
    }
}

/// "3" for whole pounds, "3.50" otherwise.
fn money(amount: f64) -> String {
    if amount.fract() == 0.0 {
        format!("{amount:.0}")
    } else {
        format!("{amount:.2}")
    }
}

/// Whether a free-text fee just means "free"; longer wording is kept as written.
fn says_free(text: &str) -> bool {
    let lower = text.trim().trim_end_matches(['.', '!']).to_lowercase();
    matches!(
        lower.as_str(),
        "free"
            | "free of charge"
            | "no charge"
            | "no cost"
            | "none"
            | "nil"
            | "0"
            | "0.00"
            | "£0"
            | "£0.00"
    )
}

fn assured_date(raw: &RawService, warn: &mut Warnings<'_>) -> Option<String> {
    for (field, value) in [
        ("assured_date", &raw.assured_date),
        ("last_modified", &raw.last_modified),
    ] {
        let Some(text) = value.text() else { continue };
        match calendar_date(&text) {
            Some(date) => return Some(date),
            None => warn.push(format!("{field} {} is not a date; ignored", quote(&text))),
        }
    }
    None
}

/// YYYY-MM-DD from an ISO date or datetime, or from a UK dd/mm/yyyy date.
fn calendar_date(text: &str) -> Option<String> {
    if let Some(head) = text.get(..10)
        && head.get(4..5) == Some("-")
        && head.get(7..8) == Some("-")
    {
        let year = digits(head.get(..4)?)?;
        let month = digits(head.get(5..7)?)?;
        let day = digits(head.get(8..10)?)?;
        return valid_date(year, month, day).then(|| head.to_owned());
    }
    // Spreadsheet exports from UK councils often write dates as 05/11/2024.
    let date = text.split([' ', 'T']).next()?;
    let mut parts = date.split('/');
    let (day, month, year) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || year.len() != 4 || day.len() > 2 || month.len() > 2 {
        return None;
    }
    let (day, month, year) = (digits(day)?, digits(month)?, digits(year)?);
    valid_date(year, month, day).then(|| format!("{year:04}-{month:02}-{day:02}"))
}

pub(super) fn digits(text: &str) -> Option<u32> {
    if text.is_empty() || !text.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

fn valid_date(year: u32, month: u32, day: u32) -> bool {
    let leap = (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400);
    let days_in_month = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days_in_month).contains(&day)
}

#[cfg(test)]
mod tests {
    use crate::import::open_referral::fixtures::{
        DEBT_V3, WALK_V1, one, parse, postcode, refused, service_with, strings,
    };
    use crate::import::open_referral::{ImportError, ImportWarning};
    use crate::model::directory::{AssetInput, AssetStatus, Capacity, ReferralRoute};

    #[test]
    fn reads_an_oruk_1_0_service() {
        let (asset, warnings) = one(WALK_V1);
        assert_eq!(warnings, Vec::<String>::new());
        assert_eq!(
            asset,
            AssetInput {
                name: "Roundhay Park Wellbeing Walk".to_owned(),
                organisation: Some("Leeds Health Walks Network".to_owned()),
                description: "A friendly, gentle 45-minute walk around Waterloo Lake, led by trained volunteer walk leaders. Tea and a chat at the cafe afterwards.".to_owned(),
                categories: strings(&["Physical activity", "Social isolation"]),
                phone: Some("0113 496 0123".to_owned()),
                email: Some("walks@leedshealthwalks.example.org".to_owned()),
                url: Some("https://www.example.org/walks/roundhay".to_owned()),
                address: Some("Lakeside Cafe, Princes Avenue, Leeds".to_owned()),
                postcode: postcode("LS8 2ER"),
                schedule: Some("Tue, Thu 10:00–11:00".to_owned()),
                eligibility: Some("Adults who can walk for 45 minutes at a gentle pace".to_owned()),
                min_age: Some(18),
                max_age: None,
                cost: Some("Free".to_owned()),
                referral_route: ReferralRoute::SignpostOnly,
                accessibility: Some(
                    "Level tarmac path around the lake; Accessible toilets in the cafe".to_owned()
                ),
                languages: strings(&["English"]),
                capacity: Capacity::Open,
                status: AssetStatus::Active,
                assured_date: Some("2024-09-18".to_owned()),
                assured_by: None,
                external_id: Some("3f2b6c1e-8a4d-4f0e-9b7a-5d1c2e3f4a5b".to_owned()),
            }
        );
    }

    #[test]
    fn reads_an_oruk_3_0_service() {
        let (asset, warnings) = one(DEBT_V3);
        assert_eq!(warnings, Vec::<String>::new());
        assert_eq!(
            asset,
            AssetInput {
                name: "Money Matters Debt Advice".to_owned(),
                organisation: Some("Chapeltown Community Advice Centre".to_owned()),
                description: "Free, confidential advice on debt, benefits and budgeting. An adviser can negotiate with creditors and help with priority debts such as rent and council tax arrears.".to_owned(),
                categories: strings(&[
                    "Debt advice",
                    "Money advice",
                    "Accepts referrals from link workers"
                ]),
                phone: Some("0113 496 0456".to_owned()),
                email: Some("advice@chapeltownadvice.example.org".to_owned()),
                url: Some("https://www.example.org/money-matters".to_owned()),
                // The physical address, not the PO box listed first.
                address: Some("231 Chapeltown Road, Leeds".to_owned()),
                postcode: postcode("LS7 3DX"),
                schedule: Some("Mon, Wed 09:30–16:00; Fri 09:30–12:30".to_owned()),
                eligibility: Some(
                    "Leeds residents aged 18 or over who are worried about debt".to_owned()
                ),
                min_age: Some(18),
                max_age: None,
                cost: Some("Free".to_owned()),
                referral_route: ReferralRoute::DirectReferral,
                accessibility: Some(
                    "Step-free entrance and ground-floor interview rooms (Hearing loop at reception)"
                        .to_owned()
                ),
                languages: strings(&["English", "Urdu", "pl"]),
                capacity: Capacity::Open,
                status: AssetStatus::Active,
                assured_date: Some("2025-02-03".to_owned()),
                assured_by: Some("directory.team@leeds.example.gov.uk".to_owned()),
                external_id: Some("b7e4c2a0-1d3f-4e5a-9b8c-7d6e5f4a3b2c".to_owned()),
            }
        );
    }

    #[test]
    fn a_service_without_a_name_is_refused() {
        assert_eq!(
            refused(r#"{"id": "abc", "description": "Gardening group"}"#),
            ImportError::Service {
                index: 0,
                reason: "has no `name`".to_owned()
            }
        );
        let json = format!(r#"[{WALK_V1}, {DEBT_V3}, {{"id": "x", "name": "   "}}]"#);
        assert_eq!(
            refused(&json),
            ImportError::Service {
                index: 2,
                reason: "has an empty `name`".to_owned()
            }
        );
        assert!(matches!(
            refused(r#"[{"name": null}]"#),
            ImportError::Service { index: 0, .. }
        ));
        assert_eq!(
            refused(r#"[{"name": {"en": "Walk"}}]"#),
            ImportError::Service {
                index: 0,
                reason: "has a `name` that is not text".to_owned()
            }
        );
    }

    #[test]
    fn statuses_map_and_unknown_ones_warn() {
        for (status, expected) in [
            ("active", AssetStatus::Active),
            ("Active", AssetStatus::Active),
            ("inactive", AssetStatus::Inactive),
            ("defunct", AssetStatus::Defunct),
            ("temporarily closed", AssetStatus::TemporarilyClosed),
            ("temporarily_closed", AssetStatus::TemporarilyClosed),
            ("Temporarily-Closed", AssetStatus::TemporarilyClosed),
        ] {
            let (asset, warnings) = one(&service_with(&format!(r#""status": "{status}""#)));
            assert_eq!(asset.status, expected, "{status}");
            assert!(warnings.is_empty(), "{status}");
        }
        let (asset, warnings) = one(&service_with(""));
        assert_eq!((asset.status, warnings.len()), (AssetStatus::Active, 0));

        let (asset, warnings) = one(&service_with(r#""status": "paused for summer""#));
        assert_eq!(asset.status, AssetStatus::Active);
        assert_eq!(
            warnings,
            ["unknown status \"paused for summer\"; taken as active"]
        );
    }

    #[test]
    fn a_bad_postcode_keeps_the_asset_and_warns() {
        let json = format!(
            "[{WALK_V1}, {}]",
            service_with(
                r#""service_at_locations": [{"location": {"physical_addresses": [
                    {"address_1": "Kirkstall Road", "city": "Leeds", "postal_code": "LS99 XYZ"}]}}]"#
            )
        );
        let report = parse(&json);
        assert_eq!(report.assets.len(), 2);
        assert_eq!(report.assets[1].postcode, None);
        assert_eq!(
            report.assets[1].address.as_deref(),
            Some("Kirkstall Road, Leeds")
        );
        assert_eq!(
            report.warnings,
            [ImportWarning {
                index: 1,
                message: "postcode \"LS99 XYZ\" is not a UK postcode; left blank".to_owned()
            }]
        );
        assert_eq!(
            report.warnings[0].to_string(),
            "service 1: postcode \"LS99 XYZ\" is not a UK postcode; left blank"
        );
    }

    #[test]
    fn the_address_comes_from_a_physical_or_postal_address_never_a_virtual_one() {
        let json = service_with(
            r#""service_at_locations": [
                {"location": {"name": "Online", "addresses": [
                    {"address_type": "virtual", "address_1": "Zoom", "postal_code": "LS1 1AA"}]}},
                {"location": {"addresses": [
                    {"address_type": "postal", "address_1": "Leeds Civic Hall", "city": "Leeds", "postal_code": "LS1 1UR"}],
                  "accessibility": [{"description": "Lift to all floors"}],
                  "phones": [{"number": "0113 496 0999"}]}}
            ]"#,
        );
        let (asset, _) = one(&json);
        assert_eq!(asset.address.as_deref(), Some("Leeds Civic Hall, Leeds"));
        assert_eq!(asset.postcode, postcode("LS1 1UR"));
        // The other fields describe the same place.
        assert_eq!(asset.accessibility.as_deref(), Some("Lift to all floors"));
        assert_eq!(asset.phone.as_deref(), Some("0113 496 0999"));
    }

    #[test]
    fn ages_come_as_numbers_or_text_and_bad_ones_warn() {
        let (asset, warnings) = one(&service_with(r#""minimum_age": "16", "maximum_age": 25.0"#));
        assert_eq!((asset.min_age, asset.max_age), (Some(16), Some(25)));
        assert!(warnings.is_empty());

        let (asset, warnings) = one(&service_with(
            r#""minimum_age": "adults", "maximum_age": 999"#,
        ));
        assert_eq!((asset.min_age, asset.max_age), (None, None));
        assert_eq!(
            warnings,
            [
                "minimum_age \"adults\" is not an age in years; left blank",
                "maximum_age 999 is not an age in years; left blank"
            ]
        );

        let (asset, warnings) = one(&service_with(r#""minimum_age": 65, "maximum_age": 18"#));
        assert_eq!((asset.min_age, asset.max_age), (None, None));
        assert_eq!(
            warnings,
            ["minimum_age 65 is above maximum_age 18; both left blank"]
        );
    }

    #[test]
    fn oruk_1_0_eligibility_entries_give_the_widest_age_range() {
        let json = service_with(
            r#""eligibilitys": [
                {"eligibility": "Carers", "minimum_age": 18, "maximum_age": 64},
                {"eligibility": "Young carers", "minimum_age": "11", "maximum_age": 17},
                {"eligibility": "carers"}
            ]"#,
        );
        let (asset, _) = one(&json);
        assert_eq!((asset.min_age, asset.max_age), (Some(11), Some(64)));
        assert_eq!(asset.eligibility.as_deref(), Some("Carers; Young carers"));
    }

    #[test]
    fn referral_route_follows_the_referral_fields() {
        let direct = [
            r#""attending_access": "referral""#,
            r#""attending_access": "Referral""#,
            r#""needs_referral": true"#,
            r#""needs_referral": "yes""#,
            r#""referral_methods": ["email", "online form"]"#,
            r#""attributes": [{"taxonomy_term": {"name": "Referral required"}}]"#,
            r#""service_taxonomys": [{"taxonomy": {"name": "GP or link worker referral"}}]"#,
        ];
        for fields in direct {
            let (asset, _) = one(&service_with(fields));
            assert_eq!(
                asset.referral_route,
                ReferralRoute::DirectReferral,
                "{fields}"
            );
        }
        let signpost = [
            "",
            r#""attending_access": "drop-in""#,
            r#""needs_referral": false"#,
            r#""referral_methods": []"#,
            r#""attributes": [{"taxonomy_term": {"name": "Self referral"}}]"#,
            r#""attributes": [{"taxonomy_term": {"name": "No referral needed"}}]"#,
            r#""attributes": [{"taxonomy_term": {"name": "Referral not required"}}]"#,
        ];
        for fields in signpost {
            let (asset, _) = one(&service_with(fields));
            assert_eq!(
                asset.referral_route,
                ReferralRoute::SignpostOnly,
                "{fields}"
            );
        }
    }

    #[test]
    fn capacity_follows_wait_time_and_capacities() {
        let cases = [
            ("", Capacity::Open),
            (r#""wait_time": "About two weeks""#, Capacity::Open),
            (
                r#""wait_time": "Waiting list: 3 months""#,
                Capacity::WaitingList,
            ),
            (
                r#""wait_time": "No waiting list at present""#,
                Capacity::Open,
            ),
            (
                r#""capacities": [{"available": 0, "maximum": 12}]"#,
                Capacity::Closed,
            ),
            (
                r#""capacities": [{"available": 0}, {"available": "2"}]"#,
                Capacity::Open,
            ),
            (
                r#""capacities": [{"description": "Places"}]"#,
                Capacity::Open,
            ),
            (
                r#""capacities": [{"available": 0}], "wait_time": "Join the waitlist""#,
                Capacity::WaitingList,
            ),
        ];
        for (fields, expected) in cases {
            let (asset, _) = one(&service_with(fields));
            assert_eq!(asset.capacity, expected, "{fields}");
        }
    }

    #[test]
    fn categories_are_trimmed_deduplicated_and_ordered() {
        let json = service_with(
            r#""attributes": [
                {"taxonomy_term": {"name": " Arts and crafts "}},
                {"taxonomy_term": {"term": "Mental wellbeing"}},
                {"taxonomy_term": {"name": "arts and crafts"}},
                {"taxonomy_term": {"name": ""}}
            ],
            "service_taxonomys": [{"taxonomy": {"name": "Social isolation", "vocabulary": "esdNeeds"}}]"#,
        );
        let (asset, _) = one(&json);
        assert_eq!(
            asset.categories,
            strings(&["Arts and crafts", "Mental wellbeing", "Social isolation"])
        );
    }

    #[test]
    fn costs_read_from_cost_options_or_fees() {
        let cases = [
            (r#""fees": "Free of charge.""#, Some("Free")),
            (r#""fees": "free""#, Some("Free")),
            (
                r#""fees": "Free for over 60s, £2 otherwise""#,
                Some("Free for over 60s, £2 otherwise"),
            ),
            (
                r#""fees_description": "£1 donation welcome", "fees": "free""#,
                Some("£1 donation welcome"),
            ),
            (
                r#""cost_options": [{"amount": 0}, {"amount": "0.00", "option": "Concessions"}]"#,
                Some("Free"),
            ),
            (
                r#""cost_options": [{"amount": 0, "option": "Under 16s"}, {"amount": 2, "option": "Adults", "amount_description": "per session"}]"#,
                Some("Free (Under 16s); £2 per session (Adults)"),
            ),
            (
                r#""cost_options": [{"amount": "£3.50"}], "fees": "Free""#,
                Some("£3.50"),
            ),
            (
                r#""cost_options": [{"amount": 10, "currency": "eur"}]"#,
                Some("EUR 10"),
            ),
            (
                r#""cost_options": [{"amount": "Pay what you can", "amount_description": "per class"}]"#,
                Some("Pay what you can per class"),
            ),
            (r#""cost_options": [{}], "fees": null"#, None),
            ("", None),
        ];
        for (fields, expected) in cases {
            let (asset, _) = one(&service_with(fields));
            assert_eq!(asset.cost.as_deref(), expected, "{fields}");
        }
    }

    #[test]
    fn assured_dates_are_normalised() {
        let cases = [
            (r#""assured_date": "2024-05-01""#, Some("2024-05-01")),
            (
                r#""assured_date": "2024-05-01T09:15:00Z""#,
                Some("2024-05-01"),
            ),
            (r#""assured_date": "01/05/2024""#, Some("2024-05-01")),
            (r#""assured_date": "1/5/2024 10:00""#, Some("2024-05-01")),
            (
                r#""last_modified": "2023-03-15T10:30:45.123Z""#,
                Some("2023-03-15"),
            ),
            (
                r#""assured_date": "2024-02-29", "last_modified": "2025-01-01T00:00:00Z""#,
                Some("2024-02-29"),
            ),
            ("", None),
        ];
        for (fields, expected) in cases {
            let (asset, warnings) = one(&service_with(fields));
            assert_eq!(asset.assured_date.as_deref(), expected, "{fields}");
            assert!(warnings.is_empty(), "{fields}");
        }

        let (asset, warnings) = one(&service_with(
            r#""assured_date": "2023-02-29", "last_modified": "2024-06-30T12:00:00Z""#,
        ));
        assert_eq!(asset.assured_date.as_deref(), Some("2024-06-30"));
        assert_eq!(
            warnings,
            ["assured_date \"2023-02-29\" is not a date; ignored"]
        );

        let (asset, warnings) = one(&service_with(r#""assured_date": "last spring""#));
        assert_eq!(asset.assured_date, None);
        assert_eq!(warnings.len(), 1);
    }

    #[test]
    fn assured_by_prefers_the_assurer_email() {
        let (asset, _) = one(&service_with(
            r#""assurer_email": "team@example.org", "assured_by": "Pat""#,
        ));
        assert_eq!(asset.assured_by.as_deref(), Some("team@example.org"));
        let (asset, _) = one(&service_with(
            r#""attending_assured_by": "Leeds Directory Team""#,
        ));
        assert_eq!(asset.assured_by.as_deref(), Some("Leeds Directory Team"));
    }

    #[test]
    fn phones_fall_back_from_service_to_contacts() {
        let json = service_with(
            r#""phones": [{"number": " "}],
               "contacts": [{"phones": []}, {"phones": [{"number": "0113 496 0111"}]}]"#,
        );
        assert_eq!(one(&json).0.phone.as_deref(), Some("0113 496 0111"));
    }
}
