//! Lenient readers for fields of a loosely published document: a field of the wrong type is
//! treated as absent instead of failing the file. Numbers may arrive as strings and strings as
//! numbers ([`Scalar`]), a lone object may stand for a list of one ([`List`]), an object field
//! may hold anything else ([`Obj`]), and [`Truthy`] asks only whether a field holds anything.

use std::fmt;
use std::marker::PhantomData;

use serde::Deserialize;
use serde::de::value::MapAccessDeserializer;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::quote;

// What a JSON value is, in the words of an error message.
pub(super) const BOOLEAN: &str = "true or false";
pub(super) const NUMBER: &str = "a number";
pub(super) const STRING: &str = "a string";
pub(super) const NULL: &str = "null";
pub(super) const LIST: &str = "a list";
pub(super) const OBJECT: &str = "an object";

/// Visitor methods for true/false, numbers and null giving one answer; `kind` names what was
/// found. The lenient readers here, the document's shape and the language entries all treat
/// these alike, so this keeps them short. Strings are left to each reader, since some of them
/// take text. Paths are spelt out so that a visitor in another file needs no imports for it.
macro_rules! plain_values {
    (_ => $value:expr) => {
        plain_values!(_kind => $value);
    };
    ($kind:ident => $value:expr) => {
        fn visit_bool<E: ::serde::de::Error>(self, _: bool) -> Result<Self::Value, E> {
            let $kind = $crate::import::open_referral::lenient::BOOLEAN;
            Ok($value)
        }

        fn visit_i64<E: ::serde::de::Error>(self, _: i64) -> Result<Self::Value, E> {
            let $kind = $crate::import::open_referral::lenient::NUMBER;
            Ok($value)
        }

        fn visit_u64<E: ::serde::de::Error>(self, _: u64) -> Result<Self::Value, E> {
            let $kind = $crate::import::open_referral::lenient::NUMBER;
            Ok($value)
        }

        fn visit_f64<E: ::serde::de::Error>(self, _: f64) -> Result<Self::Value, E> {
            let $kind = $crate::import::open_referral::lenient::NUMBER;
            Ok($value)
        }

        fn visit_unit<E: ::serde::de::Error>(self) -> Result<Self::Value, E> {
            let $kind = $crate::import::open_referral::lenient::NULL;
            Ok($value)
        }

        fn visit_none<E: ::serde::de::Error>(self) -> Result<Self::Value, E> {
            let $kind = $crate::import::open_referral::lenient::NULL;
            Ok($value)
        }
    };
}

pub(super) use plain_values;

/// A JSON value where one plain value is expected, read whatever its type.
#[derive(Debug, Clone, PartialEq, Default)]
pub(super) enum Scalar {
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
    pub(super) fn text(&self) -> Option<String> {
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
    pub(super) fn number(&self) -> Option<f64> {
        match self {
            Scalar::Number { value, .. } => Some(*value),
            Scalar::Text(text) => text.trim().parse::<f64>().ok().filter(|n| n.is_finite()),
            _ => None,
        }
    }

    /// The value as an amount of money, also from text such as "£3.50" or "1,200".
    pub(super) fn money(&self) -> Option<f64> {
        self.number().or_else(|| {
            let text = self.text()?;
            let bare = text.trim_start_matches('£').replace(',', "");
            bare.trim().parse::<f64>().ok().filter(|n| n.is_finite())
        })
    }

    /// The value as a yes/no, from a JSON boolean or "true"/"yes"/"1" and their opposites.
    pub(super) fn as_bool(&self) -> Option<bool> {
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
    pub(super) fn is_blank(&self) -> bool {
        match self {
            Scalar::Absent | Scalar::Null => true,
            Scalar::Text(text) => text.trim().is_empty(),
            _ => false,
        }
    }

    /// The value as shown in a warning.
    pub(super) fn describe(&self) -> String {
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
pub(super) struct Obj<T>(Option<T>);

impl<T> Default for Obj<T> {
    fn default() -> Self {
        Obj(None)
    }
}

impl<T> Obj<T> {
    pub(super) fn get(&self) -> Option<&T> {
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
pub(super) struct List<T>(Vec<T>);

impl<T> Default for List<T> {
    fn default() -> Self {
        List(Vec::new())
    }
}

impl<T> List<T> {
    pub(super) fn iter(&self) -> std::slice::Iter<'_, T> {
        self.0.iter()
    }
}

impl<T> List<Obj<T>> {
    /// The entries that were objects.
    pub(super) fn objects(&self) -> impl Iterator<Item = &T> + Clone {
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
pub(super) struct Truthy(pub(super) bool);

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

#[cfg(test)]
mod tests {
    use crate::import::open_referral::fixtures::{
        NULLS_AND_BLANKS, PADDED_STRINGS, one, postcode, service_with, strings,
    };
    use crate::model::directory::AssetInput;

    #[test]
    fn nulls_and_missing_fields_leave_an_asset_with_just_a_name() {
        let (asset, warnings) = one(NULLS_AND_BLANKS);
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
        let (asset, _) = one(PADDED_STRINGS);
        assert_eq!(asset.name, "Beeston Singing for the Brain");
        assert_eq!(asset.email.as_deref(), Some("sing@example.org"));
        assert_eq!(
            asset.organisation.as_deref(),
            Some("South Leeds Memory Cafe")
        );
    }
}
