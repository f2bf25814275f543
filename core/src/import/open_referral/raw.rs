//! The Open Referral UK records as read: ORUK 1.0 and 3.0 fields side by side, each read
//! leniently. Only what the mapping reads is named; unknown fields are skipped.

use std::fmt;

use serde::Deserialize;
use serde::de::value::MapAccessDeserializer;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::lenient::{List, Obj, Scalar, Truthy, plain_values};

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct RawService {
    pub(super) id: Scalar,
    pub(super) name: Scalar,
    pub(super) description: Scalar,
    pub(super) url: Scalar,
    pub(super) email: Scalar,
    pub(super) status: Scalar,
    /// ORUK 1.0 (deprecated in 3.0).
    pub(super) fees: Scalar,
    /// ORUK 3.0.
    pub(super) fees_description: Scalar,
    /// ORUK 3.0.
    pub(super) eligibility_description: Scalar,
    /// ORUK 3.0.
    pub(super) minimum_age: Scalar,
    /// ORUK 3.0.
    pub(super) maximum_age: Scalar,
    pub(super) assured_date: Scalar,
    /// ORUK 3.0.
    pub(super) assurer_email: Scalar,
    pub(super) assured_by: Scalar,
    pub(super) attending_assured_by: Scalar,
    /// ORUK 3.0.
    pub(super) last_modified: Scalar,
    /// ORUK 1.0: referral, appointment, membership or drop-in.
    pub(super) attending_access: Scalar,
    /// An extension some ORUK 1.0 publishers add.
    pub(super) needs_referral: Scalar,
    /// An extension some publishers add.
    pub(super) referral_methods: Truthy,
    /// HSDS 3.0 (deprecated but still published).
    pub(super) wait_time: Scalar,
    pub(super) organization: Obj<RawOrganization>,
    /// ORUK 3.0.
    pub(super) phones: List<Obj<RawPhone>>,
    /// ORUK 1.0 keeps phones under contacts.
    pub(super) contacts: List<Obj<RawContact>>,
    pub(super) service_at_locations: List<Obj<RawServiceAtLocation>>,
    /// ORUK 1.0.
    pub(super) regular_schedules: List<Obj<RawSchedule>>,
    /// ORUK 3.0.
    pub(super) schedules: List<Obj<RawSchedule>>,
    /// ORUK 1.0.
    pub(super) eligibilitys: List<Obj<RawEligibility>>,
    pub(super) cost_options: List<Obj<RawCostOption>>,
    pub(super) languages: List<LanguageOrObject>,
    /// ORUK 1.0.
    pub(super) service_taxonomys: List<Obj<RawServiceTaxonomy>>,
    /// ORUK 3.0.
    pub(super) attributes: List<Obj<RawAttribute>>,
    /// HSDS 3.1.
    pub(super) capacities: List<Obj<RawCapacity>>,
}

/// A language entry: `{"name": …}` (3.0), `{"language": …}` (1.0), or a bare string.
#[derive(Debug, Default)]
pub(super) struct LanguageOrObject(pub(super) Option<String>);

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
pub(super) struct RawOrganization {
    pub(super) name: Scalar,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct RawPhone {
    pub(super) number: Scalar,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct RawContact {
    pub(super) phones: List<Obj<RawPhone>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct RawServiceAtLocation {
    pub(super) location: Obj<RawLocation>,
    /// ORUK 3.0.
    pub(super) schedules: List<Obj<RawSchedule>>,
    /// ORUK 1.0 (both spellings are published).
    pub(super) regular_schedules: List<Obj<RawSchedule>>,
    pub(super) regular_schedule: List<Obj<RawSchedule>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct RawLocation {
    /// ORUK 3.0.
    pub(super) addresses: List<Obj<RawAddress>>,
    /// ORUK 1.0.
    pub(super) physical_addresses: List<Obj<RawAddress>>,
    /// ORUK 3.0.
    pub(super) accessibility: List<Obj<RawAccessibility>>,
    /// ORUK 1.0.
    pub(super) accessibility_for_disabilities: List<Obj<RawAccessibility>>,
    pub(super) phones: List<Obj<RawPhone>>,
    pub(super) schedules: List<Obj<RawSchedule>>,
    pub(super) regular_schedules: List<Obj<RawSchedule>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct RawAddress {
    pub(super) address_1: Scalar,
    pub(super) address_2: Scalar,
    pub(super) city: Scalar,
    pub(super) postal_code: Scalar,
    /// ORUK 3.0: physical, postal or virtual.
    pub(super) address_type: Scalar,
}

impl RawAddress {
    pub(super) fn has_content(&self) -> bool {
        [&self.address_1, &self.city, &self.postal_code]
            .iter()
            .any(|field| field.text().is_some())
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct RawAccessibility {
    /// ORUK 1.0.
    pub(super) accessibility: Scalar,
    /// ORUK 3.0.
    pub(super) description: Scalar,
    /// ORUK 3.0.
    pub(super) details: Scalar,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct RawSchedule {
    pub(super) opens_at: Scalar,
    pub(super) closes_at: Scalar,
    pub(super) byday: Scalar,
    /// HSDS 1.x, before RRULE fields.
    pub(super) weekday: Scalar,
    pub(super) freq: Scalar,
    pub(super) interval: Scalar,
    pub(super) description: Scalar,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct RawEligibility {
    pub(super) eligibility: Scalar,
    pub(super) minimum_age: Scalar,
    pub(super) maximum_age: Scalar,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct RawCostOption {
    pub(super) amount: Scalar,
    pub(super) option: Scalar,
    pub(super) amount_description: Scalar,
    pub(super) currency: Scalar,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct RawServiceTaxonomy {
    pub(super) taxonomy: Obj<RawTerm>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct RawAttribute {
    pub(super) taxonomy_term: Obj<RawTerm>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct RawTerm {
    name: Scalar,
    /// Early drafts of the ORUK 3.0 profile called the name `term`.
    term: Scalar,
}

impl RawTerm {
    pub(super) fn label(&self) -> Option<String> {
        self.name.text().or_else(|| self.term.text())
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct RawCapacity {
    pub(super) available: Scalar,
}
