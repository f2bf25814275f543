//! Import of Open Referral UK service JSON into directory assets.
//!
//! A council or VCSE directory hands over its services in one of three shapes: a single service
//! object, an array of services, or one page of an ORUK `/services` API response (`contents` in
//! ORUK 3.0, `content` in the Spring-style ORUK 1.0 API, with the paging counters beside it).
//! Both service layouts are read: ORUK 1.0 (the "UK 1.0" profile of HSDS 1.x: `regular_schedules`,
//! `eligibilitys`, `service_taxonomys`, `physical_addresses`, …) and ORUK 3.0 (HSDS 3:
//! `schedules`, `attributes[].taxonomy_term`, `addresses`, `eligibility_description`, …).
//!
//! The import is all or nothing. A document that is not JSON, is not services, or holds a
//! service without a name is refused whole: the caller replaces a directory with the result, and
//! half a directory would silently hide services from link workers. A problem that only loses
//! one field (a postcode that does not parse, an unknown status) keeps the service and is
//! reported as an [`ImportWarning`].
//!
//! Real exports are loose, so every field is read leniently: numbers may arrive as strings and
//! strings as numbers, any field may be null or missing, a list may be missing or be a single
//! object, and unknown fields are ignored. Strings are trimmed and empty ones count as absent.

use std::collections::HashMap;
use std::fmt;
use std::marker::PhantomData;

use serde::Deserialize;
use serde::de::value::MapAccessDeserializer;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::model::directory::{AssetInput, AssetStatus, Capacity, ReferralRoute};
use crate::model::postcode::Postcode;

/// The largest document [`parse_services`] accepts, in bytes (64 MiB).
pub const MAX_IMPORT_BYTES: usize = 64 * 1024 * 1024;

/// The most services [`parse_services`] accepts from one document.
pub const MAX_IMPORT_SERVICES: usize = 100_000;

/// What an import produced: one asset per service, and what was lost on the way.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ImportReport {
    /// One asset per service, in the order the document lists them.
    pub assets: Vec<AssetInput>,
    /// Fields that were dropped or read with a guess; their services were still imported.
    pub warnings: Vec<ImportWarning>,
}

/// One field of one service that could not be imported as given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportWarning {
    /// The service's position in the document, counting from 0.
    pub index: usize,
    /// What happened, in a few words.
    pub message: String,
}

impl fmt::Display for ImportWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "service {}: {}", self.index, self.message)
    }
}

/// Why a document was refused. Nothing from a refused document is imported.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImportError {
    /// The document is larger than [`MAX_IMPORT_BYTES`].
    #[error("the file is {size} bytes, over the {limit}-byte limit for one import")]
    TooLarge {
        /// The document's size in bytes.
        size: usize,
        /// The limit in bytes.
        limit: usize,
    },
    /// The document is not valid JSON.
    #[error("not valid JSON (line {line}, column {column}): {message}")]
    Json {
        /// The line of the fault, counting from 1.
        line: usize,
        /// The column of the fault, counting from 1.
        column: usize,
        /// What the JSON parser objected to.
        message: String,
    },
    /// The document is JSON but not Open Referral services; says what was found instead.
    #[error("expected Open Referral services, found {0}")]
    NotServices(String),
    /// The document lists more than [`MAX_IMPORT_SERVICES`] services.
    #[error("the file lists {count} services, over the limit of {limit} for one import")]
    TooManyServices {
        /// How many services the document lists.
        count: usize,
        /// The limit.
        limit: usize,
    },
    /// One service cannot be imported at all.
    #[error("service {index} (counting from 0) {reason}")]
    Service {
        /// The service's position in the document, counting from 0.
        index: usize,
        /// What is wrong with it ("has no `name`").
        reason: String,
    },
}

/// Reads Open Referral UK services (1.0 or 3.0) from JSON into directory assets.
///
/// Accepts a service object, an array of them, or an ORUK API page (`contents` or `content`).
/// Where ORUK 1.0 and 3.0 name a field differently, both are read; the 3.0 name wins if a
/// service somehow has both.
///
/// | Asset field | Taken from |
/// | --- | --- |
/// | `name`, `description`, `url`, `email` | the service; a missing or empty `name` refuses the document |
/// | `external_id` | `id` |
/// | `organisation` | `organization.name` |
/// | `status` | `status`: active, inactive, defunct, temporarily closed; missing is active; anything else is active with a warning |
/// | `phone` | `phones[].number`, else `contacts[].phones[].number`, else the location's `phones` |
/// | `address`, `postcode` | the first location with a usable address: `addresses[]` (3.0, physical before postal, never virtual) or `physical_addresses[]` (1.0); `address_1, address_2, city` make the line; an unparseable postcode is left blank with a warning |
/// | `accessibility` | that location's `accessibility[]` (3.0) or `accessibility_for_disabilities[]` (1.0) |
/// | `schedule` | `schedules[]` / `regular_schedules[]` (else those of that location) as "Mon, Wed 09:30–16:00; Fri 09:30–12:30"; an entry without days gives its `description` |
/// | `eligibility` | `eligibility_description`, else `eligibilitys[].eligibility` |
/// | `min_age`, `max_age` | `minimum_age` / `maximum_age`, else the widest range over `eligibilitys[]` |
/// | `cost` | `cost_options[]` ("Free" when every amount is 0, else "£3.50 per session (Adults)"), else `fees_description` / `fees` ("Free" when they just say free) |
/// | `categories` | `service_taxonomys[].taxonomy.name` and `attributes[].taxonomy_term.name`, trimmed, de-duplicated ignoring case, in order |
/// | `languages` | `languages[].name` (3.0) or `languages[].language` (1.0) |
/// | `referral_route` | direct referral when `attending_access` says referral (1.0), `needs_referral` is true, `referral_methods` is non-empty, or a taxonomy term mentions referral (but not self-referral or "no referral needed"); otherwise signpost only |
/// | `capacity` | waiting list when `wait_time` mentions a waiting list; closed when `capacities[]` (HSDS 3.1) all report nothing available; otherwise open |
/// | `assured_date` | `assured_date`, else `last_modified`, as YYYY-MM-DD (an ISO datetime is cut to its date; dd/mm/yyyy is turned round) |
/// | `assured_by` | `assurer_email`, else `assured_by` / `attending_assured_by` |
pub fn parse_services(json: &[u8]) -> Result<ImportReport, ImportError> {
    if json.len() > MAX_IMPORT_BYTES {
        return Err(ImportError::TooLarge {
            size: json.len(),
            limit: MAX_IMPORT_BYTES,
        });
    }
    // Windows tools save UTF-8 with a byte-order mark, which JSON itself does not allow.
    let json = json.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(json);
    let document: Document = serde_json::from_slice(json).map_err(json_error)?;
    let services = match document {
        Document::Services(list) | Document::Page(PageContents::List(list)) => list,
        Document::Page(PageContents::NotList(kind)) => {
            return Err(ImportError::NotServices(format!(
                "a page whose `contents` is {kind}, not a list of services"
            )));
        }
        Document::Single(fields) => {
            let raw = RawService::deserialize(serde_json::Value::Object(fields)).map_err(|e| {
                ImportError::Service {
                    index: 0,
                    reason: format!("cannot be read: {e}"),
                }
            })?;
            ServiceList {
                items: vec![Element::Service(Box::new(raw))],
                total: 1,
            }
        }
        Document::Other(found) => return Err(ImportError::NotServices(found)),
    };
    if services.total > MAX_IMPORT_SERVICES {
        return Err(ImportError::TooManyServices {
            count: services.total,
            limit: MAX_IMPORT_SERVICES,
        });
    }

    let mut report = ImportReport {
        assets: Vec::with_capacity(services.items.len()),
        warnings: Vec::new(),
    };
    // A re-import matches assets on their external id, so two services sharing one would
    // overwrite each other; worth telling whoever maintains the source directory.
    let mut first_with_id: HashMap<String, usize> = HashMap::new();
    for (index, element) in services.items.into_iter().enumerate() {
        let raw = match element {
            Element::Service(raw) => raw,
            Element::NotObject(kind) => {
                return Err(ImportError::Service {
                    index,
                    reason: format!("is {kind}, not a service object"),
                });
            }
        };
        let mut warnings = Warnings {
            index,
            list: &mut report.warnings,
        };
        let asset = map_service(&raw, &mut warnings)?;
        if let Some(id) = &asset.external_id {
            match first_with_id.get(id) {
                Some(first) => warnings.push(format!(
                    "id {} is also used by service {first}; a re-import will mix them up",
                    quote(id)
                )),
                None => {
                    first_with_id.insert(id.clone(), index);
                }
            }
        }
        report.assets.push(asset);
    }
    Ok(report)
}

/// Turns a serde_json failure into [`ImportError::Json`], keeping its position.
fn json_error(error: serde_json::Error) -> ImportError {
    let (line, column) = (error.line(), error.column());
    let full = error.to_string();
    // serde_json appends the position to its message; it has its own fields here.
    let suffix = format!(" at line {line} column {column}");
    let message = full.strip_suffix(&suffix).unwrap_or(&full).to_owned();
    ImportError::Json {
        line,
        column,
        message,
    }
}

// ---------------------------------------------------------------------------------------------
// Mapping one service.
// ---------------------------------------------------------------------------------------------

/// Collects warnings for the service being mapped.
struct Warnings<'a> {
    index: usize,
    list: &'a mut Vec<ImportWarning>,
}

impl Warnings<'_> {
    fn push(&mut self, message: String) {
        self.list.push(ImportWarning {
            index: self.index,
            message,
        });
    }
}

fn map_service(raw: &RawService, warn: &mut Warnings<'_>) -> Result<AssetInput, ImportError> {
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
        ["waiting list", "waiting-list", "wait list", "waitlist"]
            .iter()
            .any(|phrase| lower.contains(phrase))
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

/// Every taxonomy term name on the service, 1.0 and 3.0, untrimmed order.
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
fn join_distinct(values: impl Iterator<Item = String>) -> Option<String> {
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
    places.find(|(_, place)| best_address(place).is_some()).or(first)
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
    let first = |phones: &List<Obj<RawPhone>>| phones.objects().find_map(|phone| phone.number.text());
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
            Some(amount) if amount == 0.0 => match condition {
                Some(condition) => format!("Free ({condition})"),
                None => "Free".to_owned(),
            },
            Some(amount) => {
                any_paid = true;
                let mut text = format!("{}{}", currency_prefix(&option.currency), money(amount));
                push_words(&mut text, per, condition);
                text
            }
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
        .map(|text| if says_free(&text) { "Free".to_owned() } else { text })
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
    if let Some(head) = text.get(..10) {
        if head.get(4..5) == Some("-") && head.get(7..8) == Some("-") {
            let year = digits(head.get(..4)?)?;
            let month = digits(head.get(5..7)?)?;
            let day = digits(head.get(8..10)?)?;
            return valid_date(year, month, day).then(|| head.to_owned());
        }
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

fn digits(text: &str) -> Option<u32> {
    if text.is_empty() || !text.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

fn valid_date(year: u32, month: u32, day: u32) -> bool {
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let days_in_month = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days_in_month).contains(&day)
}

/// A value for a warning: quoted and cut short, since warnings are shown in lists.
fn quote(text: &str) -> String {
    const MAX_CHARS: usize = 40;
    let mut short: String = text.chars().take(MAX_CHARS).collect();
    if text.chars().nth(MAX_CHARS).is_some() {
        short.push('…');
    }
    format!("\"{short}\"")
}

// ---------------------------------------------------------------------------------------------
// Schedules as one readable line.
// ---------------------------------------------------------------------------------------------

const DAY_NAMES: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
const FULL_DAY_NAMES: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

/// A day in an RRULE BYDAY list: `ordinal` 0 means every such day, 2 the second in the month,
/// -1 the last.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Day {
    ordinal: i8,
    weekday: usize,
}

/// One schedule entry, read.
#[derive(Debug)]
struct Session {
    days: Vec<Day>,
    hours: String,
    repeat: Option<String>,
    description: Option<String>,
}

fn schedule(
    raw: &RawService,
    location: Option<(&RawServiceAtLocation, &RawLocation)>,
) -> Option<String> {
    let own: Vec<&RawSchedule> = raw
        .schedules
        .objects()
        .chain(raw.regular_schedules.objects())
        .collect();
    // Some directories only hang schedules off the location the service runs at.
    let entries = if own.is_empty() {
        location
            .map(|(link, place)| {
                link.schedules
                    .objects()
                    .chain(link.regular_schedules.objects())
                    .chain(link.regular_schedule.objects())
                    .chain(place.schedules.objects())
                    .chain(place.regular_schedules.objects())
                    .collect()
            })
            .unwrap_or_default()
    } else {
        own
    };
    let sessions: Vec<Session> = entries.into_iter().map(read_session).collect();
    join_distinct(describe_sessions(sessions).into_iter())
}

fn read_session(entry: &RawSchedule) -> Session {
    let mut days: Vec<Day> = entry
        .byday
        .text()
        .map(|text| {
            text.split([',', ' ', ';'])
                .filter_map(parse_byday_token)
                .collect()
        })
        .unwrap_or_default();
    if days.is_empty() {
        days.extend(parse_weekday(&entry.weekday));
    }
    let hours = match (clock(&entry.opens_at), clock(&entry.closes_at)) {
        (Some(opens), Some(closes)) => format!("{opens}–{closes}"),
        (Some(opens), None) => format!("from {opens}"),
        (None, Some(closes)) => format!("until {closes}"),
        (None, None) => String::new(),
    };
    let freq = entry
        .freq
        .text()
        .map(|text| text.to_ascii_uppercase())
        .unwrap_or_default();
    let interval = entry.interval.number().unwrap_or(1.0);
    let has_ordinals = days.iter().any(|day| day.ordinal != 0);
    let repeat = match freq.as_str() {
        "WEEKLY" if interval == 2.0 => Some("fortnightly".to_owned()),
        "WEEKLY" if interval > 2.0 && interval.fract() == 0.0 => {
            Some(format!("every {interval:.0} weeks"))
        }
        // "2nd Tue of the month" already says monthly.
        "MONTHLY" if !has_ordinals => Some("monthly".to_owned()),
        _ => None,
    };
    Session {
        days,
        hours,
        repeat,
        description: entry.description.text(),
    }
}

/// Reads "TU", "2MO", "-1FR" or a day name ("Tuesday").
fn parse_byday_token(token: &str) -> Option<Day> {
    let token = token.trim();
    if token.is_empty() {
        return None;
    }
    let split = token
        .find(|c: char| c.is_ascii_alphabetic())
        .unwrap_or(token.len());
    let (prefix, name) = token.split_at(split);
    let ordinal = if prefix.is_empty() {
        0
    } else {
        match prefix.parse::<i8>() {
            Ok(ordinal) if (-5..=5).contains(&ordinal) => ordinal,
            _ => return None,
        }
    };
    Some(Day {
        ordinal,
        weekday: day_index(name)?,
    })
}

/// HSDS 1.x `weekday`: a day name, or a number with Monday as 1 (ISO 8601).
fn parse_weekday(value: &Scalar) -> Option<Day> {
    let weekday = match value.number() {
        Some(number) if (1.0..=7.0).contains(&number) && number.fract() == 0.0 => {
            // Whole and between 1 and 7, so the conversion is exact.
            number as usize - 1
        }
        Some(_) => return None,
        None => day_index(&value.text()?)?,
    };
    Some(Day {
        ordinal: 0,
        weekday,
    })
}

/// Monday as 0 from "MO", "Mon", "tues", "Thursday" and the like.
fn day_index(name: &str) -> Option<usize> {
    let lower = name.trim().to_ascii_lowercase();
    if lower.len() < 2 {
        return None;
    }
    if lower == "weds" {
        return Some(2);
    }
    FULL_DAY_NAMES
        .iter()
        .position(|full| full.starts_with(lower.as_str()))
}

/// "09:30" from "09:30", "9:30", "09:30:00", "09:30:00Z" or "09:30+01:00"; other text as is.
fn clock(value: &Scalar) -> Option<String> {
    let text = value.text()?;
    let parsed = text.split_once(':').and_then(|(hours, rest)| {
        let hours = digits(hours).filter(|hours| *hours < 24)?;
        let minutes = digits(rest.get(..2)?).filter(|minutes| *minutes < 60)?;
        Some(format!("{hours:02}:{minutes:02}"))
    });
    Some(parsed.unwrap_or(text))
}

/// Lines for a set of sessions, with sessions that share hours merged ("Mon, Wed 10:00–12:00").
fn describe_sessions(sessions: Vec<Session>) -> Vec<String> {
    // ORUK 1.0 exports often give one entry per weekday with the same hours.
    let mut merged: Vec<Session> = Vec::new();
    for session in sessions {
        let plain = !session.days.is_empty() && session.days.iter().all(|day| day.ordinal == 0);
        let twin = merged.iter_mut().find(|kept| {
            plain
                && !kept.days.is_empty()
                && kept.days.iter().all(|day| day.ordinal == 0)
                && kept.hours == session.hours
                && kept.repeat == session.repeat
        });
        match twin {
            Some(kept) => kept.days.extend(session.days),
            None => merged.push(session),
        }
    }
    merged.into_iter().filter_map(describe_session).collect()
}

fn describe_session(session: Session) -> Option<String> {
    if session.days.is_empty() {
        // Without days the times alone mislead ("10:00–12:00" every day?); the provider's own
        // words are better if there are any.
        if let Some(description) = session.description {
            return Some(description);
        }
    }
    let mut words: Vec<String> = Vec::new();
    if !session.days.is_empty() {
        words.push(describe_days(&session.days));
    }
    if !session.hours.is_empty() {
        words.push(session.hours);
    }
    if words.is_empty() {
        return session.description;
    }
    let mut line = words.join(" ");
    if let Some(repeat) = session.repeat {
        line.push_str(&format!(" ({repeat})"));
    }
    Some(line)
}

fn describe_days(days: &[Day]) -> String {
    if days.iter().all(|day| day.ordinal == 0) {
        let mut weekdays: Vec<usize> = days.iter().map(|day| day.weekday).collect();
        weekdays.sort_unstable();
        weekdays.dedup();
        if weekdays.len() == 7 {
            return "Every day".to_owned();
        }
        let consecutive = weekdays.windows(2).all(|pair| pair[1] == pair[0] + 1);
        if weekdays.len() >= 3
            && consecutive
            && let (Some(first), Some(last)) = (weekdays.first(), weekdays.last())
        {
            return format!("{}–{}", DAY_NAMES[*first], DAY_NAMES[*last]);
        }
        return weekdays
            .iter()
            .map(|weekday| DAY_NAMES[*weekday])
            .collect::<Vec<_>>()
            .join(", ");
    }
    let named: Vec<String> = days
        .iter()
        .map(|day| match day.ordinal {
            0 => DAY_NAMES[day.weekday].to_owned(),
            -1 => format!("last {}", DAY_NAMES[day.weekday]),
            ordinal if ordinal < 0 => format!(
                "{} to last {}",
                ordinal_word(ordinal.unsigned_abs()),
                DAY_NAMES[day.weekday]
            ),
            ordinal => format!(
                "{} {}",
                ordinal_word(ordinal.unsigned_abs()),
                DAY_NAMES[day.weekday]
            ),
        })
        .collect();
    format!("{} of the month", named.join(", "))
}

fn ordinal_word(n: u8) -> String {
    let suffix = match n {
        1 => "st",
        2 => "nd",
        3 => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

// ---------------------------------------------------------------------------------------------
// The document's shape.
// ---------------------------------------------------------------------------------------------

// What a JSON value is, in the words of an error message.
const BOOLEAN: &str = "true or false";
const NUMBER: &str = "a number";
const STRING: &str = "a string";
const NULL: &str = "null";
const LIST: &str = "a list";
const OBJECT: &str = "an object";

/// Visitor methods for every plain value (and null) giving one answer; `kind` names what was
/// found. The lenient readers below all treat plain values alike, so this keeps them short.
macro_rules! plain_values {
    (_ => $value:expr) => {
        plain_values!(_kind => $value);
    };
    ($kind:ident => $value:expr) => {
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
            let $kind = BOOLEAN;
            Ok($value)
        }

        fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
            let $kind = NUMBER;
            Ok($value)
        }

        fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
            let $kind = NUMBER;
            Ok($value)
        }

        fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
            let $kind = NUMBER;
            Ok($value)
        }

        fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
            let $kind = STRING;
            Ok($value)
        }

        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            let $kind = NULL;
            Ok($value)
        }

        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            let $kind = NULL;
            Ok($value)
        }
    };
}

/// The top of the document, told apart without building a tree of the whole thing.
#[derive(Debug)]
enum Document {
    /// An array of services.
    Services(ServiceList),
    /// An API page: `contents` (ORUK 3.0) or `content` (ORUK 1.0).
    Page(PageContents),
    /// One service; small, so its fields are kept as a tree and read afterwards.
    Single(serde_json::Map<String, serde_json::Value>),
    /// Anything else, described for the error.
    Other(String),
}

impl<'de> Deserialize<'de> for Document {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(DocumentVisitor)
    }
}

struct DocumentVisitor;

impl<'de> Visitor<'de> for DocumentVisitor {
    type Value = Document;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Open Referral services")
    }

    plain_values!(kind => Document::Other(kind.to_owned()));

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Document, A::Error> {
        collect_services(seq).map(Document::Services)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Document, A::Error> {
        let mut contents = None;
        let mut content = None;
        let mut fields = serde_json::Map::new();
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "contents" => contents = Some(map.next_value::<PageContents>()?),
                "content" => content = Some(map.next_value::<PageContents>()?),
                _ => {
                    let value = map.next_value::<serde_json::Value>()?;
                    fields.insert(key, value);
                }
            }
        }
        Ok(if let Some(page) = contents.or(content) {
            Document::Page(page)
        } else if fields.contains_key("name") || fields.contains_key("id") {
            Document::Single(fields)
        } else {
            Document::Other(
                "an object that is neither a service (no `name`) nor a page (no `contents`)"
                    .to_owned(),
            )
        })
    }
}

/// The services of an array or page, with a count that goes on past the limit.
#[derive(Debug)]
struct ServiceList {
    items: Vec<Element>,
    total: usize,
}

fn collect_services<'de, A: SeqAccess<'de>>(mut seq: A) -> Result<ServiceList, A::Error> {
    let mut items = Vec::new();
    let mut total = 0;
    loop {
        if total < MAX_IMPORT_SERVICES {
            match seq.next_element::<Element>()? {
                Some(element) => items.push(element),
                None => break,
            }
        } else {
            // The document will be refused; skim the rest only to say how many there were.
            if seq.next_element::<IgnoredAny>()?.is_none() {
                break;
            }
        }
        total += 1;
    }
    Ok(ServiceList { items, total })
}

/// A page's `contents`: a list of services, or what it was instead.
#[derive(Debug)]
enum PageContents {
    List(ServiceList),
    NotList(&'static str),
}

impl<'de> Deserialize<'de> for PageContents {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(PageContentsVisitor)
    }
}

struct PageContentsVisitor;

impl<'de> Visitor<'de> for PageContentsVisitor {
    type Value = PageContents;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of services")
    }

    plain_values!(kind => PageContents::NotList(kind));

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<PageContents, A::Error> {
        collect_services(seq).map(PageContents::List)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<PageContents, A::Error> {
        IgnoredAny.visit_map(map)?;
        Ok(PageContents::NotList(OBJECT))
    }
}

/// One entry of a list of services.
#[derive(Debug)]
enum Element {
    Service(Box<RawService>),
    NotObject(&'static str),
}

impl<'de> Deserialize<'de> for Element {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ElementVisitor)
    }
}

struct ElementVisitor;

impl<'de> Visitor<'de> for ElementVisitor {
    type Value = Element;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a service object")
    }

    plain_values!(kind => Element::NotObject(kind));

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Element, A::Error> {
        RawService::deserialize(MapAccessDeserializer::new(map))
            .map(|raw| Element::Service(Box::new(raw)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Element, A::Error> {
        IgnoredAny.visit_seq(seq)?;
        Ok(Element::NotObject(LIST))
    }

}

// ---------------------------------------------------------------------------------------------
// Lenient readers: a field of the wrong type is treated as absent instead of failing the file.
// ---------------------------------------------------------------------------------------------

/// A JSON value where one plain value is expected, read whatever its type.
#[derive(Debug, Clone, PartialEq, Default)]
enum Scalar {
    /// The field is not there.
    #[default]
    Absent,
    Null,
    Text(String),
    Number {
        value: f64,
        text: String,
    },
    Bool(bool),
    /// An object or array.
    Nested,
}

impl Scalar {
    /// The value as trimmed text (numbers as written), or None if empty or not text.
    fn text(&self) -> Option<String> {
        match self {
            Scalar::Text(text) => {
                let trimmed = text.trim();
                (!trimmed.is_empty()).then(|| trimmed.to_owned())
            }
            Scalar::Number { text, .. } => Some(text.clone()),
            _ => None,
        }
    }

    /// The value as a number, from a JSON number or numeric text.
    fn number(&self) -> Option<f64> {
        match self {
            Scalar::Number { value, .. } => Some(*value),
            Scalar::Text(text) => text.trim().parse::<f64>().ok().filter(|n| n.is_finite()),
            _ => None,
        }
    }

    /// The value as an amount of money, also from text such as "£3.50" or "1,200".
    fn money(&self) -> Option<f64> {
        self.number().or_else(|| {
            let text = self.text()?;
            let bare = text.trim_start_matches('£').replace(',', "");
            bare.trim().parse::<f64>().ok().filter(|n| n.is_finite())
        })
    }

    /// The value as a yes/no, from a JSON boolean or "true"/"yes"/"1" and their opposites.
    fn as_bool(&self) -> Option<bool> {
        match self {
            Scalar::Bool(value) => Some(*value),
            Scalar::Number { value, .. } => Some(*value != 0.0),
            Scalar::Text(text) => match text.trim().to_ascii_lowercase().as_str() {
                "true" | "yes" | "y" | "1" => Some(true),
                "false" | "no" | "n" | "0" => Some(false),
                _ => None,
            },
            _ => None,
        }
    }

    /// Missing, null or only whitespace.
    fn is_blank(&self) -> bool {
        match self {
            Scalar::Absent | Scalar::Null => true,
            Scalar::Text(text) => text.trim().is_empty(),
            _ => false,
        }
    }

    /// The value as shown in a warning.
    fn describe(&self) -> String {
        match self {
            Scalar::Text(text) => quote(text.trim()),
            Scalar::Number { text, .. } => text.clone(),
            Scalar::Bool(value) => value.to_string(),
            Scalar::Absent | Scalar::Null => NULL.to_owned(),
            Scalar::Nested => "(a list or object)".to_owned(),
        }
    }
}

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ScalarVisitor)
    }
}

struct ScalarVisitor;

impl<'de> Visitor<'de> for ScalarVisitor {
    type Value = Scalar;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E: de::Error>(self, value: bool) -> Result<Scalar, E> {
        Ok(Scalar::Bool(value))
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<Scalar, E> {
        Ok(Scalar::Number {
            // Ids and ages, far below where f64 loses whole numbers; the text keeps them exact.
            value: value as f64,
            text: value.to_string(),
        })
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<Scalar, E> {
        Ok(Scalar::Number {
            value: value as f64,
            text: value.to_string(),
        })
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<Scalar, E> {
        let text = if value.fract() == 0.0 && value.abs() < 1e15 {
            format!("{value:.0}")
        } else {
            value.to_string()
        };
        Ok(Scalar::Number { value, text })
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<Scalar, E> {
        Ok(Scalar::Text(value.to_owned()))
    }

    fn visit_string<E: de::Error>(self, value: String) -> Result<Scalar, E> {
        Ok(Scalar::Text(value))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Scalar, E> {
        Ok(Scalar::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Scalar, E> {
        Ok(Scalar::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Scalar, D::Error> {
        Scalar::deserialize(deserializer)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Scalar, A::Error> {
        IgnoredAny.visit_seq(seq)?;
        Ok(Scalar::Nested)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Scalar, A::Error> {
        IgnoredAny.visit_map(map)?;
        Ok(Scalar::Nested)
    }
}

/// A nested object, or None when the field holds something else.
#[derive(Debug)]
struct Obj<T>(Option<T>);

impl<T> Default for Obj<T> {
    fn default() -> Self {
        Obj(None)
    }
}

impl<T> Obj<T> {
    fn get(&self) -> Option<&T> {
        self.0.as_ref()
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Obj<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ObjVisitor(PhantomData))
    }
}

struct ObjVisitor<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de>> Visitor<'de> for ObjVisitor<T> {
    type Value = Obj<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object")
    }

    plain_values!(_ => Obj(None));

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Obj<T>, A::Error> {
        T::deserialize(MapAccessDeserializer::new(map)).map(|value| Obj(Some(value)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Obj<T>, A::Error> {
        IgnoredAny.visit_seq(seq)?;
        Ok(Obj(None))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Obj<T>, E> {
        Ok(Obj(None))
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Obj<T>, E> {
        Ok(Obj(None))
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Obj<T>, E> {
        Ok(Obj(None))
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Obj<T>, E> {
        Ok(Obj(None))
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Obj<T>, E> {
        Ok(Obj(None))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Obj<T>, E> {
        Ok(Obj(None))
    }

    fn visit_none<E: de::Error>(self) -> Result<Obj<T>, E> {
        Ok(Obj(None))
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Obj<T>, D::Error> {
        Obj::deserialize(deserializer)
    }
}

/// A list of objects: missing or null is empty, a lone object is a list of one, and entries
/// that are not objects are skipped.
#[derive(Debug)]
struct List<T>(Vec<T>);

impl<T> Default for List<T> {
    fn default() -> Self {
        List(Vec::new())
    }
}

impl<T> List<T> {
    fn iter(&self) -> std::slice::Iter<'_, T> {
        self.0.iter()
    }
}

impl<T> List<Obj<T>> {
    /// The entries that were objects.
    fn objects(&self) -> impl Iterator<Item = &T> + Clone {
        self.0.iter().filter_map(Obj::get)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for List<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ListVisitor(PhantomData))
    }
}

struct ListVisitor<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de>> Visitor<'de> for ListVisitor<T> {
    type Value = List<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<List<T>, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<T>()? {
            items.push(item);
        }
        Ok(List(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<List<T>, A::Error> {
        T::deserialize(MapAccessDeserializer::new(map)).map(|item| List(vec![item]))
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<List<T>, E> {
        // A lone string ("languages": "English") is offered to the entry type, which may
        // take it or leave it.
        T::deserialize(de::value::StrDeserializer::<E>::new(value)).map(|item| List(vec![item]))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<List<T>, E> {
        Ok(List::default())
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<List<T>, E> {
        Ok(List::default())
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<List<T>, E> {
        Ok(List::default())
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<List<T>, E> {
        Ok(List::default())
    }

    fn visit_unit<E: de::Error>(self) -> Result<List<T>, E> {
        Ok(List::default())
    }

    fn visit_none<E: de::Error>(self) -> Result<List<T>, E> {
        Ok(List::default())
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<List<T>, D::Error> {
        List::deserialize(deserializer)
    }
}

/// Whether a field holds anything at all: true, non-empty text, a non-zero number, a
/// non-empty list or object.
#[derive(Debug, Default)]
struct Truthy(bool);

impl<'de> Deserialize<'de> for Truthy {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(TruthyVisitor)
    }
}

struct TruthyVisitor;

impl<'de> Visitor<'de> for TruthyVisitor {
    type Value = Truthy;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E: de::Error>(self, value: bool) -> Result<Truthy, E> {
        Ok(Truthy(value))
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<Truthy, E> {
        Ok(Truthy(value != 0))
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<Truthy, E> {
        Ok(Truthy(value != 0))
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<Truthy, E> {
        Ok(Truthy(value != 0.0))
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<Truthy, E> {
        Ok(Truthy(!value.trim().is_empty()))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Truthy, E> {
        Ok(Truthy(false))
    }

    fn visit_none<E: de::Error>(self) -> Result<Truthy, E> {
        Ok(Truthy(false))
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Truthy, D::Error> {
        Truthy::deserialize(deserializer)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Truthy, A::Error> {
        let mut any = false;
        while let Some(item) = seq.next_element::<Truthy>()? {
            any |= item.0;
        }
        Ok(Truthy(any))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Truthy, A::Error> {
        let mut any = false;
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {
            any = true;
        }
        Ok(Truthy(any))
    }
}

// ---------------------------------------------------------------------------------------------
// The ORUK records, 1.0 and 3.0 fields side by side. Only what the mapping reads is named.
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RawService {
    id: Scalar,
    name: Scalar,
    description: Scalar,
    url: Scalar,
    email: Scalar,
    status: Scalar,
    /// ORUK 1.0 (deprecated in 3.0).
    fees: Scalar,
    /// ORUK 3.0.
    fees_description: Scalar,
    /// ORUK 3.0.
    eligibility_description: Scalar,
    /// ORUK 3.0.
    minimum_age: Scalar,
    /// ORUK 3.0.
    maximum_age: Scalar,
    assured_date: Scalar,
    /// ORUK 3.0.
    assurer_email: Scalar,
    assured_by: Scalar,
    attending_assured_by: Scalar,
    /// ORUK 3.0.
    last_modified: Scalar,
    /// ORUK 1.0: referral, appointment, membership or drop-in.
    attending_access: Scalar,
    /// An extension some ORUK 1.0 publishers add.
    needs_referral: Scalar,
    /// An extension some publishers add.
    referral_methods: Truthy,
    /// HSDS 3.0 (deprecated but still published).
    wait_time: Scalar,
    organization: Obj<RawOrganization>,
    /// ORUK 3.0.
    phones: List<Obj<RawPhone>>,
    /// ORUK 1.0 keeps phones under contacts.
    contacts: List<Obj<RawContact>>,
    service_at_locations: List<Obj<RawServiceAtLocation>>,
    /// ORUK 1.0.
    regular_schedules: List<Obj<RawSchedule>>,
    /// ORUK 3.0.
    schedules: List<Obj<RawSchedule>>,
    /// ORUK 1.0.
    eligibilitys: List<Obj<RawEligibility>>,
    cost_options: List<Obj<RawCostOption>>,
    languages: List<LanguageOrObject>,
    /// ORUK 1.0.
    service_taxonomys: List<Obj<RawServiceTaxonomy>>,
    /// ORUK 3.0.
    attributes: List<Obj<RawAttribute>>,
    /// HSDS 3.1.
    capacities: List<Obj<RawCapacity>>,
}

/// A language entry: `{"name": …}` (3.0), `{"language": …}` (1.0), or a bare string.
#[derive(Debug, Default)]
struct LanguageOrObject(Option<String>);

impl<'de> Deserialize<'de> for LanguageOrObject {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(LanguageVisitor)
    }
}

struct LanguageVisitor;

impl<'de> Visitor<'de> for LanguageVisitor {
    type Value = LanguageOrObject;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a language")
    }

    plain_values!(_ => LanguageOrObject(None));

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<LanguageOrObject, A::Error> {
        let raw = RawLanguage::deserialize(MapAccessDeserializer::new(map))?;
        Ok(LanguageOrObject(
            raw.name
                .text()
                .or_else(|| raw.language.text())
                .or_else(|| raw.code.text()),
        ))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<LanguageOrObject, A::Error> {
        IgnoredAny.visit_seq(seq)?;
        Ok(LanguageOrObject(None))
    }

}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RawLanguage {
    /// ORUK 3.0.
    name: Scalar,
    /// ORUK 1.0.
    language: Scalar,
    /// ORUK 3.0: ISO 639 code, used when there is no name.
    code: Scalar,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RawOrganization {
    name: Scalar,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RawPhone {
    number: Scalar,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RawContact {
    phones: List<Obj<RawPhone>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RawServiceAtLocation {
    location: Obj<RawLocation>,
    /// ORUK 3.0.
    schedules: List<Obj<RawSchedule>>,
    /// ORUK 1.0 (both spellings are published).
    regular_schedules: List<Obj<RawSchedule>>,
    regular_schedule: List<Obj<RawSchedule>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RawLocation {
    /// ORUK 3.0.
    addresses: List<Obj<RawAddress>>,
    /// ORUK 1.0.
    physical_addresses: List<Obj<RawAddress>>,
    /// ORUK 3.0.
    accessibility: List<Obj<RawAccessibility>>,
    /// ORUK 1.0.
    accessibility_for_disabilities: List<Obj<RawAccessibility>>,
    phones: List<Obj<RawPhone>>,
    schedules: List<Obj<RawSchedule>>,
    regular_schedules: List<Obj<RawSchedule>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RawAddress {
    address_1: Scalar,
    address_2: Scalar,
    city: Scalar,
    postal_code: Scalar,
    /// ORUK 3.0: physical, postal or virtual.
    address_type: Scalar,
}

impl RawAddress {
    fn has_content(&self) -> bool {
        [&self.address_1, &self.city, &self.postal_code]
            .iter()
            .any(|field| field.text().is_some())
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RawAccessibility {
    /// ORUK 1.0.
    accessibility: Scalar,
    /// ORUK 3.0.
    description: Scalar,
    /// ORUK 3.0.
    details: Scalar,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RawSchedule {
    opens_at: Scalar,
    closes_at: Scalar,
    byday: Scalar,
    /// HSDS 1.x, before RRULE fields.
    weekday: Scalar,
    freq: Scalar,
    interval: Scalar,
    description: Scalar,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RawEligibility {
    eligibility: Scalar,
    minimum_age: Scalar,
    maximum_age: Scalar,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RawCostOption {
    amount: Scalar,
    option: Scalar,
    amount_description: Scalar,
    currency: Scalar,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RawServiceTaxonomy {
    taxonomy: Obj<RawTerm>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RawAttribute {
    taxonomy_term: Obj<RawTerm>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RawTerm {
    name: Scalar,
    /// Early drafts of the ORUK 3.0 profile called the name `term`.
    term: Scalar,
}

impl RawTerm {
    fn label(&self) -> Option<String> {
        self.name.text().or_else(|| self.term.text())
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RawCapacity {
    available: Scalar,
}
