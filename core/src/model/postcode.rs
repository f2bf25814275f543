//! UK postcodes: parsing loose input into "LS6 2AB" form, and the district for search filters.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Why a string is not a UK postcode. The message never repeats the input: a postcode next to
/// a case narrows down who the patient is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PostcodeError {
    /// Not in any of the UK postcode shapes.
    #[error("not a valid UK postcode")]
    Invalid,
}

/// A UK postcode in canonical form: upper case, outward and inward codes kept apart.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Postcode {
    outward: String,
    inward: String,
}

// The shapes an outward code can take, with A a letter and 9 a digit.
//
// Only shapes are checked, not the Royal Mail rules about which letters may appear in which
// position: those rules grow as districts are added (e.g. central London's "EC1A"), and a link
// worker offline with a patient must never be blocked from recording a real postcode.
const OUTWARD_SHAPES: [&str; 6] = ["A9", "A99", "AA9", "AA99", "A9A", "AA9A"];
const INWARD_SHAPE: &str = "9AA";
// Girobank's postcode predates the scheme and fits none of the shapes.
const GIRO_OUTWARD: &str = "GIR";
const GIRO_INWARD: &str = "0AA";

impl Postcode {
    /// Parses a postcode in any case, with or without the space ("ls62ab", "LS6 2AB").
    pub fn parse(input: &str) -> Result<Self, PostcodeError> {
        let upper = input.trim().to_ascii_uppercase();
        let mut parts = upper.split_whitespace();
        let (outward, inward) = match (parts.next(), parts.next(), parts.next()) {
            (Some(outward), Some(inward), None) => (outward, inward),
            (Some(joined), None, None) => {
                // Without the space the inward code is always the last three characters.
                // Checking ASCII first keeps the byte split on a character boundary.
                if !joined.is_ascii() || joined.len() < 3 {
                    return Err(PostcodeError::Invalid);
                }
                joined.split_at(joined.len() - 3)
            }
            _ => return Err(PostcodeError::Invalid),
        };
        let giro = outward == GIRO_OUTWARD && inward == GIRO_INWARD;
        if giro || (is_outward(outward) && shape(inward) == INWARD_SHAPE) {
            Ok(Self {
                outward: outward.to_owned(),
                inward: inward.to_owned(),
            })
        } else {
            Err(PostcodeError::Invalid)
        }
    }

    /// The postal district, i.e. the outward code: "LS6" for "LS6 2AB".
    pub fn district(&self) -> &str {
        &self.outward
    }

    /// The inward code: "2AB" for "LS6 2AB".
    pub fn inward(&self) -> &str {
        &self.inward
    }
}

/// The district of a full postcode ("ls6 2ab") or a bare outward code ("ls6"), for search
/// filters; `None` if it is neither.
pub fn district_of(s: &str) -> Option<String> {
    if let Ok(postcode) = Postcode::parse(s) {
        return Some(postcode.outward);
    }
    let upper = s.trim().to_ascii_uppercase();
    (upper == GIRO_OUTWARD || is_outward(&upper)).then_some(upper)
}

fn is_outward(s: &str) -> bool {
    OUTWARD_SHAPES.contains(&shape(s).as_str())
}

/// Letters become 'A', digits '9', anything else '?', so "LS6" has the shape "AA9".
fn shape(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            'A'..='Z' => 'A',
            '0'..='9' => '9',
            _ => '?',
        })
        .collect()
}

impl fmt::Display for Postcode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.outward, self.inward)
    }
}

impl FromStr for Postcode {
    type Err = PostcodeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<String> for Postcode {
    type Error = PostcodeError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<Postcode> for String {
    fn from(p: Postcode) -> Self {
        p.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_every_outward_shape() {
        for (input, district, shown) in [
            ("M1 1AE", "M1", "M1 1AE"),       // A9
            ("B33 8TH", "B33", "B33 8TH"),    // A99
            ("CR2 6XH", "CR2", "CR2 6XH"),    // AA9
            ("DN55 1PT", "DN55", "DN55 1PT"), // AA99
            ("W1A 0AX", "W1A", "W1A 0AX"),    // A9A
            ("EC1A 1BB", "EC1A", "EC1A 1BB"), // AA9A
            ("GIR 0AA", "GIR", "GIR 0AA"),    // special case
        ] {
            let p = Postcode::parse(input).expect(input);
            assert_eq!(p.district(), district);
            assert_eq!(p.to_string(), shown);
        }
    }

    #[test]
    fn normalises_case_spacing_and_surrounding_whitespace() {
        let p = Postcode::parse("ls6 2ab").unwrap();
        assert_eq!(p.district(), "LS6");
        assert_eq!(p.inward(), "2AB");
        assert_eq!(p.to_string(), "LS6 2AB");
        for same in ["LS62AB", "ls62ab", "  LS6 2AB\n", "LS6   2AB", "Ls6\t2aB"] {
            assert_eq!(Postcode::parse(same).unwrap(), p, "{same:?}");
        }
        assert_eq!(Postcode::parse("w1a0ax").unwrap().to_string(), "W1A 0AX");
        assert_eq!(Postcode::parse("ec1a1bb").unwrap().to_string(), "EC1A 1BB");
        assert_eq!(Postcode::parse("gir0aa").unwrap().to_string(), "GIR 0AA");
    }

    #[test]
    fn rejects_malformed_input() {
        for bad in [
            "",
            "   ",
            "LS6",
            "LS6 2A",
            "LS6 2ABC",
            "1S6 2AB",
            "LS6 AAB",
            "LS6 2A1",
            "LSS6 2AB",
            "LS666 2AB",
            "L 2AB",
            "LS6 2AB X",
            "L S6 2AB",
            "LS6-2AB",
            "GIR 0AB",
            "LÖ6 2AB",
            "LS6 2ÅB",
            "ÅB",
            "é",
        ] {
            assert_eq!(Postcode::parse(bad), Err(PostcodeError::Invalid), "{bad:?}");
        }
    }

    #[test]
    fn error_does_not_echo_input() {
        let msg = Postcode::parse("LS6 2A").unwrap_err().to_string();
        assert!(!msg.contains("LS6"), "{msg}");
    }

    #[test]
    fn district_of_accepts_full_postcodes_and_outward_codes() {
        assert_eq!(district_of("ls6 2ab").as_deref(), Some("LS6"));
        assert_eq!(district_of("LS62AB").as_deref(), Some("LS6"));
        assert_eq!(district_of(" ls6 ").as_deref(), Some("LS6"));
        assert_eq!(district_of("EC1A").as_deref(), Some("EC1A"));
        assert_eq!(district_of("w1a").as_deref(), Some("W1A"));
        assert_eq!(district_of("GIR 0AA").as_deref(), Some("GIR"));
        assert_eq!(district_of("gir").as_deref(), Some("GIR"));
        for bad in ["", "LS", "LS6 2", "6LS", "LS6 2A", "Leeds", "LÖ6"] {
            assert_eq!(district_of(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn serde_round_trips_as_formatted_string_and_validates() {
        let p = Postcode::parse("ls62ab").unwrap();
        let json = serde_json::to_string(&p).unwrap();
        assert_eq!(json, "\"LS6 2AB\"");
        assert_eq!(serde_json::from_str::<Postcode>(&json).unwrap(), p);
        assert_eq!(serde_json::from_str::<Postcode>("\"ls62ab\"").unwrap(), p);
        assert!(serde_json::from_str::<Postcode>("\"LS6\"").is_err());
    }

    // Every outward shape: A9, A99, AA9, AA99, A9A, AA9A.
    const OUTWARD_REGEX: &str = concat!(
        "[A-Z][0-9]|[A-Z][0-9]{2}|[A-Z]{2}[0-9]|",
        "[A-Z]{2}[0-9]{2}|[A-Z][0-9][A-Z]|[A-Z]{2}[0-9][A-Z]"
    );

    proptest! {
        #[test]
        fn generated_postcodes_round_trip(
            outward in OUTWARD_REGEX,
            inward in "[0-9][A-Z]{2}",
            spaced in any::<bool>(),
        ) {
            let input = if spaced {
                format!("{} {}", outward.to_lowercase(), inward)
            } else {
                format!("{outward}{inward}")
            };
            let p = Postcode::parse(&input).unwrap();
            prop_assert_eq!(p.district(), outward.as_str());
            prop_assert_eq!(p.inward(), inward.as_str());
            prop_assert_eq!(Postcode::parse(&p.to_string()).unwrap(), p.clone());
            prop_assert_eq!(district_of(&input), Some(outward.clone()));
            prop_assert_eq!(district_of(&outward), Some(outward));
        }

        #[test]
        fn parse_never_panics(s in "\\PC{0,12}") {
            let _ = Postcode::parse(&s);
            let _ = district_of(&s);
        }
    }
}
