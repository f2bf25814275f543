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
//!
//! [`export_services`] goes the other way: a directory's assets as one ORUK 3.0 page of
//! services that this import reads back as the same assets, with no warnings.

mod document;
mod export;
#[cfg(test)]
mod fixtures;
mod lenient;
mod mapping;
mod raw;
mod schedule;

use std::collections::HashMap;
use std::fmt;

use serde::Deserialize;

use document::{Document, Element, PageContents, ServiceList};
pub use export::export_services;
use mapping::{Warnings, map_service};
use raw::RawService;

use crate::model::directory::AssetInput;

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

/// A value for a warning: quoted and cut short, since warnings are shown in lists.
fn quote(text: &str) -> String {
    const MAX_CHARS: usize = 40;
    let mut short: String = text.chars().take(MAX_CHARS).collect();
    if text.chars().nth(MAX_CHARS).is_some() {
        short.push('…');
    }
    format!("\"{short}\"")
}

#[cfg(test)]
mod tests {
    use super::fixtures::{
        BEFRIENDING_V3, DEBT_V3, LUNCH_CLUB_V1, WALK_V1, one, parse, postcode, refused,
        service_with, strings,
    };
    use super::*;
    use crate::model::directory::{AssetStatus, Capacity, ReferralRoute};

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
    fn a_byte_order_mark_is_ignored() {
        let mut json = b"\xEF\xBB\xBF".to_vec();
        json.extend_from_slice(WALK_V1.as_bytes());
        assert!(parse_services(&json).is_ok());
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
