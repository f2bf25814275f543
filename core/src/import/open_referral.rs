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
/// Where ORUK 1.0 and 3.0 name a field differently, both are read; where a service somehow
/// has both, the 3.0 field comes first.
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

fn digits(text: &str) -> Option<u32> {
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

/// Visitor methods for true/false, numbers and null giving one answer; `kind` names what was
/// found. The lenient readers below all treat these alike, so this keeps them short. Strings
/// are left to each reader, since some of them take text.
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

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Document, E> {
        Ok(Document::Other(STRING.to_owned()))
    }

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

    fn visit_str<E: de::Error>(self, _: &str) -> Result<PageContents, E> {
        Ok(PageContents::NotList(STRING))
    }

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

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Element, E> {
        Ok(Element::NotObject(STRING))
    }

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

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Obj<T>, E> {
        Ok(Obj(None))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Obj<T>, A::Error> {
        T::deserialize(MapAccessDeserializer::new(map)).map(|value| Obj(Some(value)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Obj<T>, A::Error> {
        IgnoredAny.visit_seq(seq)?;
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

    fn visit_str<E: de::Error>(self, value: &str) -> Result<LanguageOrObject, E> {
        let trimmed = value.trim();
        Ok(LanguageOrObject(
            (!trimmed.is_empty()).then(|| trimmed.to_owned()),
        ))
    }

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

#[cfg(test)]
mod tests {
    use super::*;

    /// An ORUK 1.0 ("UK 1.0" profile) service as a council directory API returns it.
    const WALK_V1: &str = r#"{
        "id": "3f2b6c1e-8a4d-4f0e-9b7a-5d1c2e3f4a5b",
        "name": "Roundhay Park Wellbeing Walk",
        "description": "A friendly, gentle 45-minute walk around Waterloo Lake, led by trained volunteer walk leaders. Tea and a chat at the cafe afterwards.",
        "url": "https://www.example.org/walks/roundhay",
        "email": "walks@leedshealthwalks.example.org",
        "status": "active",
        "fees": "Free",
        "accreditations": "",
        "deliverable_type": "Information",
        "attending_type": "venue",
        "attending_access": "drop-in",
        "assured_date": "2024-09-18",
        "organization": {
            "id": "9c1d2e3f-4a5b-4c6d-8e7f-0a1b2c3d4e5f",
            "name": "Leeds Health Walks Network",
            "description": "Volunteer-led health walks across Leeds.",
            "url": "https://www.example.org/walks",
            "logo": null
        },
        "contacts": [
            {
                "id": "c7b0a1d2-0000-4000-8000-000000000001",
                "name": "Walk co-ordinator",
                "title": "Volunteer co-ordinator",
                "phones": [{ "id": "p1", "number": "0113 496 0123" }]
            }
        ],
        "regular_schedules": [
            {
                "id": "rs1", "opens_at": "10:00:00", "closes_at": "11:00:00", "byday": "TU",
                "freq": "WEEKLY", "interval": 1, "valid_from": "2024-01-01", "valid_to": null,
                "dtstart": "2024-01-02", "bymonthday": null,
                "description": "Meet at the Lakeside Cafe"
            },
            {
                "id": "rs2", "opens_at": "10:00:00", "closes_at": "11:00:00", "byday": "TH",
                "freq": "WEEKLY", "interval": 1, "description": "Meet at the Lakeside Cafe"
            }
        ],
        "holiday_schedules": [],
        "eligibilitys": [
            {
                "id": "e1",
                "eligibility": "Adults who can walk for 45 minutes at a gentle pace",
                "minimum_age": 18,
                "maximum_age": null,
                "taxonomys": []
            }
        ],
        "service_areas": [
            { "id": "sa1", "service_area": "Leeds", "extent": null,
              "uri": "http://statistics.data.gov.uk/id/statistical-geography/E08000035" }
        ],
        "service_at_locations": [
            {
                "id": "sal1",
                "regular_schedule": [],
                "holidayScheduleCollection": [],
                "location": {
                    "id": "l1",
                    "name": "Lakeside Cafe, Roundhay Park",
                    "description": "Meet outside the cafe by the lake.",
                    "latitude": 53.8356,
                    "longitude": -1.4952,
                    "physical_addresses": [
                        {
                            "id": "a1",
                            "address_1": "Lakeside Cafe, Princes Avenue",
                            "city": "Leeds",
                            "state_province": "West Yorkshire",
                            "postal_code": "LS8 2ER",
                            "country": "GB"
                        }
                    ],
                    "accessibility_for_disabilities": [
                        { "id": "ac1", "accessibility": "Level tarmac path around the lake" },
                        { "id": "ac2", "accessibility": "Accessible toilets in the cafe" }
                    ]
                }
            }
        ],
        "cost_options": [],
        "languages": [{ "id": "lang1", "language": "English" }],
        "service_taxonomys": [
            { "id": "st1", "taxonomy": { "id": "t1", "name": "Physical activity", "vocabulary": "Social prescribing", "parent": null } },
            { "id": "st2", "taxonomy": { "id": "t2", "name": "Social isolation", "vocabulary": "Social prescribing" } },
            { "id": "st3", "taxonomy": { "id": "t3", "name": " physical activity ", "vocabulary": "esdNeeds" } }
        ],
        "reviews": [],
        "fundings": [{ "id": "f1", "source": "Leeds City Council Public Health" }]
    }"#;

    /// An ORUK 3.0 (HSDS 3) service with the UK profile's extra fields.
    const DEBT_V3: &str = r#"{
        "id": "b7e4c2a0-1d3f-4e5a-9b8c-7d6e5f4a3b2c",
        "name": "Money Matters Debt Advice",
        "alternate_name": "Money Matters",
        "description": "Free, confidential advice on debt, benefits and budgeting. An adviser can negotiate with creditors and help with priority debts such as rent and council tax arrears.",
        "url": "https://www.example.org/money-matters",
        "email": "advice@chapeltownadvice.example.org",
        "status": "active",
        "interpretation_services": "Telephone interpreting can be booked for any language",
        "application_process": "Link workers can refer with the online form; people can also ring for an appointment.",
        "fees_description": "Free",
        "accreditations": "Advice Quality Standard",
        "eligibility_description": "Leeds residents aged 18 or over who are worried about debt",
        "minimum_age": 18,
        "maximum_age": null,
        "assured_date": "2025-02-03",
        "assurer_email": "directory.team@leeds.example.gov.uk",
        "alert": null,
        "last_modified": "2025-02-03T14:22:09.120Z",
        "organization": {
            "id": "0fdfb57f-c147-4cfb-864c-44788a335d8c",
            "name": "Chapeltown Community Advice Centre",
            "description": "An independent advice charity in Chapeltown, Leeds.",
            "website": "https://www.example.org",
            "email": "info@chapeltownadvice.example.org"
        },
        "phones": [
            { "id": "ph1", "number": "0113 496 0456", "extension": null, "type": "voice",
              "languages": [], "description": "Advice line" }
        ],
        "schedules": [
            { "id": "s1", "freq": "WEEKLY", "interval": 1, "byday": "MO,WE", "opens_at": "09:30",
              "closes_at": "16:00", "valid_from": "2025-01-06", "description": "Appointments and phone advice" },
            { "id": "s2", "freq": "WEEKLY", "interval": 1, "byday": "FR", "opens_at": "09:30",
              "closes_at": "12:30", "description": "Drop-in session" }
        ],
        "service_areas": [{ "id": "sa", "name": "Leeds", "extent_type": "text" }],
        "service_at_locations": [
            {
                "id": "sal",
                "location": {
                    "id": "loc",
                    "location_type": "physical",
                    "name": "Chapeltown Community Advice Centre",
                    "latitude": 53.8197,
                    "longitude": -1.5338,
                    "addresses": [
                        { "id": "ad1", "attention": null, "address_1": "PO Box 1234", "city": "Leeds",
                          "region": null, "state_province": "West Yorkshire", "postal_code": "LS1 9ZZ",
                          "country": "GB", "address_type": "postal" },
                        { "id": "ad2", "address_1": "231 Chapeltown Road", "address_2": "", "city": "Leeds",
                          "state_province": "West Yorkshire", "postal_code": "LS7 3DX",
                          "country": "GB", "address_type": "physical" }
                    ],
                    "accessibility": [
                        { "id": "acc1", "description": "Step-free entrance and ground-floor interview rooms",
                          "details": "Hearing loop at reception", "url": null }
                    ],
                    "phones": [],
                    "schedules": []
                }
            }
        ],
        "languages": [
            { "id": "l1", "name": "English", "code": "en" },
            { "id": "l2", "name": "Urdu", "code": "ur" },
            { "id": "l3", "name": null, "code": "pl" }
        ],
        "funding": [],
        "cost_options": [
            { "id": "co1", "valid_from": "2025-01-01", "option": "All clients", "currency": "GBP",
              "amount": 0, "amount_description": null }
        ],
        "contacts": [],
        "attributes": [
            { "id": "at1", "link_type": "service", "taxonomy_term_id": "tt1",
              "taxonomy_term": { "id": "tt1", "code": "debt", "name": "Debt advice", "taxonomy": "ORUK service categories" } },
            { "id": "at2", "taxonomy_term": { "id": "tt2", "name": "Money advice", "taxonomy": "ORUK service categories" } },
            { "id": "at3", "taxonomy_term": { "id": "tt3", "code": "referral-link-worker",
              "name": "Accepts referrals from link workers", "taxonomy": "Access routes" } }
        ],
        "metadata": []
    }"#;

    /// ORUK 3.0, loosely published: a waiting list, an age as text, a bare language string.
    const BEFRIENDING_V3: &str = r#"{
        "id": "befriend-armley-001",
        "name": "Armley Telephone Befriending",
        "description": "A weekly friendly phone call from a trained volunteer for older people who feel lonely or cut off.",
        "status": "active",
        "organization": { "name": "Armley Good Neighbours" },
        "phones": [{ "number": "07700 900123" }],
        "wait_time": "There is currently a waiting list of around six weeks",
        "eligibility_description": "People aged 60 and over living in Armley, Wortley or Farnley",
        "minimum_age": "60",
        "cost_options": [],
        "fees_description": "Free of charge.",
        "schedules": [{ "description": "Calls are arranged at a time that suits you" }],
        "attributes": [
            { "taxonomy_term": { "name": "Loneliness" } },
            { "taxonomy_term": { "name": "Older people" } },
            { "taxonomy_term": { "name": "Self-referral accepted" } }
        ],
        "languages": "English",
        "service_at_locations": []
    }"#;

    /// ORUK 1.0 with a numeric id, a string amount and a snake_case status.
    const LUNCH_CLUB_V1: &str = r#"{
        "id": 40213,
        "name": "Bramley Friendship Lunch Club",
        "description": "Two-course lunch and company every Wednesday.",
        "status": "temporarily_closed",
        "organization": { "id": "5b0c7e1a-0000-4000-8000-000000000002", "name": "Bramley Elderly Action", "description": "Older people's charity in Bramley." },
        "regular_schedules": [
            { "byday": "WE", "opens_at": "12:00", "closes_at": "14:00", "freq": "WEEKLY", "interval": "1" }
        ],
        "cost_options": [
            { "option": "Members", "amount": "3.50", "amount_description": "per lunch" },
            { "option": "Visitors", "amount": 4.5, "amount_description": "per lunch" }
        ],
        "service_at_locations": [
            { "location": { "physical_addresses": [
                { "address_1": "Bramley Community Centre, Waterloo Lane", "city": "Leeds", "postal_code": "ls13 2jb" }
            ] } }
        ]
    }"#;

    fn parse(json: &str) -> ImportReport {
        match parse_services(json.as_bytes()) {
            Ok(report) => report,
            Err(error) => panic!("expected an import, got {error}"),
        }
    }

    fn refused(json: &str) -> ImportError {
        match parse_services(json.as_bytes()) {
            Ok(report) => panic!("expected a refusal, got {} assets", report.assets.len()),
            Err(error) => error,
        }
    }

    /// The one asset of a one-service document, and its warnings' messages.
    fn one(json: &str) -> (AssetInput, Vec<String>) {
        let report = parse(json);
        assert_eq!(report.assets.len(), 1);
        let messages = report
            .warnings
            .iter()
            .map(|warning| {
                assert_eq!(warning.index, 0);
                warning.message.clone()
            })
            .collect();
        let asset = report.assets.into_iter().next().expect("one asset");
        (asset, messages)
    }

    /// A service with just a name and the given extra fields (a JSON fragment).
    fn service_with(fields: &str) -> String {
        let separator = if fields.trim().is_empty() { "" } else { "," };
        format!(r#"{{ "id": "svc-1", "name": "Hyde Park Knit and Natter"{separator} {fields} }}"#)
    }

    fn postcode(text: &str) -> Option<Postcode> {
        Some(Postcode::parse(text).expect("test postcode is valid"))
    }

    fn strings(values: &[&str]) -> Vec<String> {
        values.iter().map(|value| (*value).to_owned()).collect()
    }

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
    fn reads_an_array_in_order() {
        let json = format!("[{BEFRIENDING_V3}, {LUNCH_CLUB_V1}, {WALK_V1}]");
        let report = parse(&json);
        assert_eq!(report.warnings, Vec::new());
        let names: Vec<&str> = report.assets.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "Armley Telephone Befriending",
                "Bramley Friendship Lunch Club",
                "Roundhay Park Wellbeing Walk"
            ]
        );

        let befriending = &report.assets[0];
        assert_eq!(befriending.capacity, Capacity::WaitingList);
        assert_eq!(befriending.min_age, Some(60));
        assert_eq!(befriending.cost.as_deref(), Some("Free"));
        assert_eq!(
            befriending.schedule.as_deref(),
            Some("Calls are arranged at a time that suits you")
        );
        // "Self-referral" means the person rings themselves.
        assert_eq!(befriending.referral_route, ReferralRoute::SignpostOnly);
        assert_eq!(befriending.languages, strings(&["English"]));
        assert_eq!(befriending.phone.as_deref(), Some("07700 900123"));
        assert_eq!(befriending.address, None);
        assert_eq!(befriending.postcode, None);

        let lunch = &report.assets[1];
        assert_eq!(lunch.external_id.as_deref(), Some("40213"));
        assert_eq!(lunch.status, AssetStatus::TemporarilyClosed);
        assert_eq!(
            lunch.cost.as_deref(),
            Some("£3.50 per lunch (Members); £4.50 per lunch (Visitors)")
        );
        assert_eq!(lunch.schedule.as_deref(), Some("Wed 12:00–14:00"));
        assert_eq!(lunch.postcode, postcode("LS13 2JB"));
        assert_eq!(
            lunch.address.as_deref(),
            Some("Bramley Community Centre, Waterloo Lane, Leeds")
        );
    }

    #[test]
    fn reads_an_oruk_3_0_page_from_contents() {
        let json = format!(
            r#"{{
                "total_items": 2, "total_pages": 1, "page_number": 1, "size": 50,
                "first_page": true, "last_page": true, "empty": false,
                "contents": [{BEFRIENDING_V3}, {DEBT_V3}]
            }}"#
        );
        let report = parse(&json);
        assert_eq!(report.assets.len(), 2);
        assert_eq!(report.assets[1].name, "Money Matters Debt Advice");
    }

    #[test]
    fn reads_an_oruk_1_0_page_from_content() {
        let json = format!(
            r#"{{
                "totalElements": 1, "totalPages": 1, "number": 0, "size": 20,
                "first": true, "last": true, "numberOfElements": 1, "empty": false,
                "sort": {{ "sorted": false, "unsorted": true }},
                "content": [{WALK_V1}]
            }}"#
        );
        let report = parse(&json);
        assert_eq!(report.assets.len(), 1);
        assert_eq!(report.assets[0].name, "Roundhay Park Wellbeing Walk");
    }

    #[test]
    fn an_empty_array_or_page_imports_nothing() {
        assert_eq!(parse("[]"), ImportReport::default());
        let page = r#"{"totalElements": 0, "content": [], "first": true, "last": true}"#;
        assert_eq!(parse(page), ImportReport::default());
    }

    #[test]
    fn invalid_json_is_refused_with_its_position() {
        let json = "{\n  \"name\": \"Leeds Dads Walking Football\",\n  \"id\": ,\n}";
        match refused(json) {
            ImportError::Json {
                line,
                column,
                message,
            } => {
                assert_eq!(line, 3);
                assert_eq!(column, 9);
                assert!(!message.contains("line"), "{message}");
                assert!(!message.is_empty());
            }
            other => panic!("expected a JSON error, got {other:?}"),
        }
    }

    #[test]
    fn truncated_and_trailing_json_are_refused() {
        assert!(matches!(refused(""), ImportError::Json { line: 1, .. }));
        assert!(matches!(
            refused(r#"[{"name": "Seacroft Men's Shed"}"#),
            ImportError::Json { .. }
        ));
        assert!(matches!(
            refused(r#"{"name": "Seacroft Men's Shed"} {"name": "again"}"#),
            ImportError::Json { .. }
        ));
    }

    #[test]
    fn plain_values_are_not_services() {
        assert_eq!(
            refused("42"),
            ImportError::NotServices("a number".to_owned())
        );
        assert_eq!(
            refused("-3.5"),
            ImportError::NotServices("a number".to_owned())
        );
        assert_eq!(
            refused(r#""Roundhay Park Wellbeing Walk""#),
            ImportError::NotServices("a string".to_owned())
        );
        assert_eq!(refused("null"), ImportError::NotServices("null".to_owned()));
        assert_eq!(
            refused("true"),
            ImportError::NotServices("true or false".to_owned())
        );
    }

    #[test]
    fn an_object_that_is_neither_service_nor_page_is_refused() {
        for json in [
            "{}",
            r#"{"error": "Not Found", "status": 404}"#,
            r#"{"totalElements": 3, "totalPages": 1}"#,
        ] {
            assert!(
                matches!(refused(json), ImportError::NotServices(_)),
                "{json}"
            );
        }
    }

    #[test]
    fn a_page_whose_contents_is_not_a_list_is_refused() {
        for (contents, kind) in [
            (r#""none""#, "a string"),
            (r#"{"name": "Walk"}"#, "an object"),
            ("null", "null"),
            ("12", "a number"),
        ] {
            let json = format!(r#"{{"total_items": 1, "contents": {contents}}}"#);
            match refused(&json) {
                ImportError::NotServices(found) => assert!(found.contains(kind), "{found}"),
                other => panic!("expected NotServices, got {other:?}"),
            }
        }
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
    fn an_array_with_a_non_object_is_refused_naming_the_entry() {
        let json = format!(r#"[{WALK_V1}, "Roundhay Park Wellbeing Walk"]"#);
        assert_eq!(
            refused(&json),
            ImportError::Service {
                index: 1,
                reason: "is a string, not a service object".to_owned()
            }
        );
        assert!(matches!(
            refused(r#"{"contents": [{"name": "Walk"}, [1, 2], 3]}"#),
            ImportError::Service { index: 1, .. }
        ));
    }

    #[test]
    fn nothing_is_imported_when_any_service_is_bad() {
        // The first two would import on their own; the whole file still fails.
        let json = format!(r#"[{WALK_V1}, {DEBT_V3}, 7]"#);
        assert!(matches!(
            refused(&json),
            ImportError::Service { index: 2, .. }
        ));
    }

    #[test]
    fn oversized_documents_are_refused_before_parsing() {
        let mut json = vec![b' '; MAX_IMPORT_BYTES + 1];
        json[0] = b'[';
        assert_eq!(
            parse_services(&json),
            Err(ImportError::TooLarge {
                size: MAX_IMPORT_BYTES + 1,
                limit: MAX_IMPORT_BYTES
            })
        );
    }

    #[test]
    fn too_many_services_are_refused_with_the_count() {
        let count = MAX_IMPORT_SERVICES + 2;
        let json = format!("[{}]", vec![r#"{"name":"x"}"#; count].join(","));
        assert_eq!(
            refused(&json),
            ImportError::TooManyServices {
                count,
                limit: MAX_IMPORT_SERVICES
            }
        );
        // Exactly at the limit is fine.
        let json = format!(
            "[{}]",
            vec!["{\"name\":\"x\"}"; MAX_IMPORT_SERVICES].join(",")
        );
        assert_eq!(parse(&json).assets.len(), MAX_IMPORT_SERVICES);
    }

    #[test]
    fn deep_nesting_is_refused_or_skipped_never_a_crash() {
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        // As the whole document it is a list whose first entry is not a service.
        assert!(matches!(
            refused(&deep),
            ImportError::Service { index: 0, .. }
        ));
        // A lone service is read into a tree, which has a depth limit.
        let lone = format!(r#"{{"name": "Otley Rd Allotments", "x": {deep}}}"#);
        assert!(matches!(refused(&lone), ImportError::Json { .. }));
        // As an unknown field inside a list it is skipped or refused; either way no overflow.
        let listed = format!(r#"[{{"name": "Otley Rd Allotments", "x": {deep}}}]"#);
        let _ = parse_services(listed.as_bytes());
        let listed = format!(r#"[{{"name": "Otley Rd Allotments", "languages": {deep}}}]"#);
        let _ = parse_services(listed.as_bytes());
    }

    #[test]
    fn a_byte_order_mark_is_ignored() {
        let mut json = b"\xEF\xBB\xBF".to_vec();
        json.extend_from_slice(WALK_V1.as_bytes());
        assert!(parse_services(&json).is_ok());
    }

    #[test]
    fn nulls_and_missing_fields_leave_an_asset_with_just_a_name() {
        let json = r#"{
            "id": null, "name": "Harehills Community Garden", "description": null,
            "url": "", "email": "  ", "status": null, "organization": null, "phones": null,
            "schedules": null, "regular_schedules": [], "service_at_locations": null,
            "languages": [null, 3, ""], "attributes": [null, "x", {"taxonomy_term": null}],
            "cost_options": [null], "eligibilitys": null, "minimum_age": null
        }"#;
        let (asset, warnings) = one(json);
        assert_eq!(warnings, Vec::<String>::new());
        assert_eq!(
            asset,
            AssetInput {
                name: "Harehills Community Garden".to_owned(),
                ..AssetInput::default()
            }
        );
    }

    #[test]
    fn unknown_fields_and_odd_types_are_tolerated() {
        let json = service_with(
            r#""x_council_ref": {"deep": [1, 2, {"x": null}]},
               "url": 12, "organization": ["not", "an", "object"],
               "phones": {"number": "0113 496 0789"},
               "languages": {"name": "Polish"},
               "service_at_locations": {"location": {"addresses": {"address_1": "Cardigan Road", "postal_code": "LS6 1LJ", "city": "Leeds"}}}"#,
        );
        let (asset, warnings) = one(&json);
        assert_eq!(warnings, Vec::<String>::new());
        assert_eq!(asset.url.as_deref(), Some("12"));
        assert_eq!(asset.organisation, None);
        // A lone object where a list belongs is read as a list of one.
        assert_eq!(asset.phone.as_deref(), Some("0113 496 0789"));
        assert_eq!(asset.languages, strings(&["Polish"]));
        assert_eq!(asset.address.as_deref(), Some("Cardigan Road, Leeds"));
        assert_eq!(asset.postcode, postcode("LS6 1LJ"));
    }

    #[test]
    fn strings_are_trimmed() {
        let json = r#"{"name": "  Beeston Singing for the Brain  ", "email": " sing@example.org ",
                       "organization": {"name": "\tSouth Leeds Memory Cafe\n"}}"#;
        let (asset, _) = one(json);
        assert_eq!(asset.name, "Beeston Singing for the Brain");
        assert_eq!(asset.email.as_deref(), Some("sing@example.org"));
        assert_eq!(
            asset.organisation.as_deref(),
            Some("South Leeds Memory Cafe")
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

    fn schedule_of(schedules: &str) -> Option<String> {
        one(&service_with(&format!(r#""schedules": {schedules}"#)))
            .0
            .schedule
    }

    #[test]
    fn schedules_read_as_one_line() {
        let cases = [
            (
                r#"[{"byday": "MO,TU,WE,TH,FR", "opens_at": "09:00:00Z", "closes_at": "17:00:00Z"}]"#,
                "Mon–Fri 09:00–17:00",
            ),
            (
                r#"[{"byday": "SA,SU,MO,TU,WE,TH,FR", "opens_at": "8:00", "closes_at": "20:00"}]"#,
                "Every day 08:00–20:00",
            ),
            (
                r#"[{"byday": "2TU", "freq": "MONTHLY", "opens_at": "14:00", "closes_at": "16:00"}]"#,
                "2nd Tue of the month 14:00–16:00",
            ),
            (
                r#"[{"byday": "-1FR", "freq": "MONTHLY", "opens_at": "19:00"}]"#,
                "last Fri of the month from 19:00",
            ),
            (
                r#"[{"byday": "TH", "freq": "WEEKLY", "interval": "2", "opens_at": "10:30", "closes_at": "12:00"}]"#,
                "Thu 10:30–12:00 (fortnightly)",
            ),
            (
                r#"[{"byday": "WE", "freq": "MONTHLY", "opens_at": "10:00", "closes_at": "11:00"}]"#,
                "Wed 10:00–11:00 (monthly)",
            ),
            (
                r#"[{"opens_at": "10:00", "closes_at": "12:00", "description": "Term time only, ring first"}]"#,
                "Term time only, ring first",
            ),
            (
                r#"[{"opens_at": "10:00", "closes_at": "12:00"}]"#,
                "10:00–12:00",
            ),
            (
                r#"[{"byday": "Tuesday", "opens_at": "10am", "closes_at": "noon"}]"#,
                "Tue 10am–noon",
            ),
        ];
        for (schedules, expected) in cases {
            assert_eq!(
                schedule_of(schedules).as_deref(),
                Some(expected),
                "{schedules}"
            );
        }
        assert_eq!(schedule_of("[]"), None);
        assert_eq!(schedule_of(r#"[{"byday": "XX"}]"#), None);
    }

    #[test]
    fn oruk_1_0_per_day_entries_are_merged() {
        let json = service_with(
            r#""regular_schedules": [
                {"weekday": "Monday", "opens_at": "09:00", "closes_at": "12:00"},
                {"weekday": 3, "opens_at": "09:00", "closes_at": "12:00"},
                {"weekday": "Fri", "opens_at": "13:00", "closes_at": "15:00"},
                {"weekday": "Tue", "opens_at": "09:00", "closes_at": "12:00"}
            ]"#,
        );
        let (asset, _) = one(&json);
        assert_eq!(
            asset.schedule.as_deref(),
            Some("Mon–Wed 09:00–12:00; Fri 13:00–15:00")
        );
    }

    #[test]
    fn location_schedules_are_used_when_the_service_has_none() {
        let json = service_with(
            r#""service_at_locations": [{
                "regular_schedule": [{"byday": "SA", "opens_at": "10:00", "closes_at": "13:00"}],
                "location": {"physical_addresses": [{"address_1": "Meanwood Valley Urban Farm", "city": "Leeds", "postal_code": "LS7 2QQ"}]}
            }]"#,
        );
        let (asset, _) = one(&json);
        assert_eq!(asset.schedule.as_deref(), Some("Sat 10:00–13:00"));
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

    #[test]
    fn a_repeated_id_warns() {
        let json = format!("[{WALK_V1}, {WALK_V1}]");
        let report = parse(&json);
        assert_eq!(report.assets.len(), 2);
        assert_eq!(report.warnings.len(), 1);
        assert_eq!(report.warnings[0].index, 1);
        assert!(report.warnings[0].message.contains("service 0"));
    }

    #[test]
    fn warning_values_are_cut_short() {
        let long = "x".repeat(200);
        let (_, warnings) = one(&service_with(&format!(r#""status": "{long}""#)));
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].chars().count() < 80, "{}", warnings[0]);
    }

    #[test]
    fn errors_read_well() {
        assert_eq!(
            ImportError::Service {
                index: 4,
                reason: "has no `name`".to_owned()
            }
            .to_string(),
            "service 4 (counting from 0) has no `name`"
        );
        assert_eq!(
            ImportError::NotServices("a number".to_owned()).to_string(),
            "expected Open Referral services, found a number"
        );
    }
}
