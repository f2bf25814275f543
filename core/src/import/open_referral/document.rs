//! The top of an import document, told apart as it streams past: one service, a list of
//! them, or a page of an ORUK `/services` API response, with the services of a list counted
//! past the import limit.

use std::fmt;

use serde::Deserialize;
use serde::de::value::MapAccessDeserializer;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::MAX_IMPORT_SERVICES;
use super::lenient::{LIST, OBJECT, STRING, plain_values};
use super::raw::RawService;

/// The top of the document, told apart without building a tree of the whole thing.
#[derive(Debug)]
pub(super) enum Document {
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
pub(super) struct ServiceList {
    pub(super) items: Vec<Element>,
    pub(super) total: usize,
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
pub(super) enum PageContents {
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
pub(super) enum Element {
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

#[cfg(test)]
mod tests {
    use crate::import::open_referral::fixtures::{
        BEFRIENDING_V3, DEBT_V3, WALK_V1, parse, refused,
    };
    use crate::import::open_referral::{ImportError, ImportReport, parse_services};

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
}
