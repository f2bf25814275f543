//! NHS numbers: parsing, the modulus-11 check digit, and the "943 476 5919" display form.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Why a string is not a valid NHS number. Messages never repeat the number: it identifies a
/// patient.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NhsNumberError {
    /// Not 10 digits once spaces and hyphens are removed.
    #[error("an NHS number has 10 digits, this has {found} characters")]
    WrongLength {
        /// How many characters were left after removing spaces and hyphens.
        found: usize,
    },
    /// Something other than a digit, space or hyphen.
    #[error("an NHS number contains only digits, spaces and hyphens")]
    NotDigits,
    /// The first nine digits give a check digit of 10, which no issued number has.
    #[error("not a valid NHS number: no number is issued with these first nine digits")]
    CheckDigitIsTen,
    /// The tenth digit is not the check digit of the first nine: usually a typing slip.
    #[error("not a valid NHS number: the check digit does not match")]
    CheckDigitMismatch,
}

/// A valid NHS number, held as its 10 digits without separators.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct NhsNumber(String);

/// Debug output hides the number: a `{:?}` in a log line must not leak patient identifiers.
impl std::fmt::Debug for NhsNumber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NhsNumber(***)")
    }
}

impl NhsNumber {
    /// Parses "9434765919", "943 476 5919" or "943-476-5919", checking length and check digit.
    pub fn parse(input: &str) -> Result<Self, NhsNumberError> {
        // Only the separators people actually type are dropped; anything else is a mistake
        // worth reporting rather than guessing around.
        let digits: String = input.chars().filter(|c| *c != ' ' && *c != '-').collect();
        if !digits.chars().all(|c| c.is_ascii_digit()) {
            return Err(NhsNumberError::NotDigits);
        }
        // All ASCII from here, so bytes are characters.
        let bytes = digits.as_bytes();
        let Ok(all) = <&[u8; 10]>::try_from(bytes) else {
            return Err(NhsNumberError::WrongLength { found: bytes.len() });
        };
        let mut first_nine = [0u8; 9];
        for (slot, b) in first_nine.iter_mut().zip(all) {
            *slot = b - b'0';
        }
        match check_digit(&first_nine) {
            None => Err(NhsNumberError::CheckDigitIsTen),
            Some(check) if check == all[9] - b'0' => Ok(Self(digits)),
            Some(_) => Err(NhsNumberError::CheckDigitMismatch),
        }
    }

    /// The 10 digits, without separators.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The modulus-11 check digit for the first nine digits (each 0–9), or `None` when it would be
/// 10 (no number is issued with such a prefix) or an element is not a digit.
pub fn check_digit(first_nine: &[u8; 9]) -> Option<u8> {
    if first_nine.iter().any(|d| *d > 9) {
        return None;
    }
    // Weights run 10 down to 2 across the first nine digits.
    let sum: u32 = first_nine
        .iter()
        .zip((2..=10u32).rev())
        .map(|(d, w)| u32::from(*d) * w)
        .sum();
    match 11 - sum % 11 {
        11 => Some(0),
        10 => None,
        // 1..=9: fits in a u8.
        check => u8::try_from(check).ok(),
    }
}

impl fmt::Display for NhsNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // 3-3-4 grouping, as printed on NHS cards and letters.
        let s = self.0.as_str();
        match (s.get(0..3), s.get(3..6), s.get(6..)) {
            (Some(a), Some(b), Some(c)) => write!(f, "{a} {b} {c}"),
            _ => f.write_str(s),
        }
    }
}

impl FromStr for NhsNumber {
    type Err = NhsNumberError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<String> for NhsNumber {
    type Error = NhsNumberError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<NhsNumber> for String {
    fn from(n: NhsNumber) -> Self {
        n.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    // Each checked by hand against the weights-10-to-2 rule before being listed here.
    const VALID: [&str; 6] = [
        "9434765919",
        "4010232137",
        "9434765870",
        "1234567881",
        "4505577104",
        "9876543210",
    ];

    #[test]
    fn accepts_known_valid_numbers() {
        for n in VALID {
            let parsed = NhsNumber::parse(n).expect(n);
            assert_eq!(parsed.as_str(), n);
        }
    }

    #[test]
    fn check_digit_computes_known_values() {
        assert_eq!(check_digit(&[9, 4, 3, 4, 7, 6, 5, 9, 1]), Some(9));
        assert_eq!(check_digit(&[4, 0, 1, 0, 2, 3, 2, 1, 3]), Some(7));
        // Remainder 0 gives 11, which is written as 0.
        assert_eq!(check_digit(&[9, 4, 3, 4, 7, 6, 5, 8, 7]), Some(0));
        assert_eq!(check_digit(&[1, 2, 3, 4, 5, 6, 7, 8, 9]), None);
        assert_eq!(check_digit(&[1, 2, 3, 4, 5, 6, 7, 8, 10]), None);
    }

    #[test]
    fn accepts_spaces_and_hyphens() {
        let plain = NhsNumber::parse("9434765919").unwrap();
        assert_eq!(NhsNumber::parse("943 476 5919").unwrap(), plain);
        assert_eq!(NhsNumber::parse("943-476-5919").unwrap(), plain);
        assert_eq!(NhsNumber::parse(" 943 476-5919 ").unwrap(), plain);
    }

    #[test]
    fn displays_in_3_3_4_groups() {
        let n = NhsNumber::parse("9434765919").unwrap();
        assert_eq!(n.to_string(), "943 476 5919");
        assert_eq!(n.as_str(), "9434765919");
    }

    #[test]
    fn rejects_wrong_check_digit() {
        // 9990001234's check digit should be 5.
        assert_eq!(
            NhsNumber::parse("9990001234"),
            Err(NhsNumberError::CheckDigitMismatch)
        );
        assert_eq!(
            NhsNumber::parse("9434765918"),
            Err(NhsNumberError::CheckDigitMismatch)
        );
    }

    #[test]
    fn rejects_prefix_whose_check_digit_is_ten() {
        // 123456789: sum 210, remainder 1, check 10.
        for last in '0'..='9' {
            let n = format!("123456789{last}");
            assert_eq!(NhsNumber::parse(&n), Err(NhsNumberError::CheckDigitIsTen));
        }
    }

    #[test]
    fn rejects_wrong_length() {
        assert_eq!(
            NhsNumber::parse("943476591"),
            Err(NhsNumberError::WrongLength { found: 9 })
        );
        assert_eq!(
            NhsNumber::parse("94347659190"),
            Err(NhsNumberError::WrongLength { found: 11 })
        );
        assert_eq!(
            NhsNumber::parse(""),
            Err(NhsNumberError::WrongLength { found: 0 })
        );
        assert_eq!(
            NhsNumber::parse(" - "),
            Err(NhsNumberError::WrongLength { found: 0 })
        );
    }

    #[test]
    fn rejects_other_characters() {
        for bad in [
            "943476591X",
            "abcdefghij",
            "943.476.5919",
            "943\t476\t5919",
            "９４３４７６５９１９",
        ] {
            assert_eq!(
                NhsNumber::parse(bad),
                Err(NhsNumberError::NotDigits),
                "{bad}"
            );
        }
    }

    #[test]
    fn errors_do_not_echo_the_number() {
        for bad in ["9434765918", "94347659", "943476591X", "1234567890"] {
            let msg = NhsNumber::parse(bad).unwrap_err().to_string();
            assert!(!msg.contains(bad), "{msg}");
            assert!(!msg.contains("943"), "{msg}");
        }
    }

    #[test]
    fn serde_round_trips_as_plain_digits_and_validates() {
        let n = NhsNumber::parse("943 476 5919").unwrap();
        let json = serde_json::to_string(&n).unwrap();
        assert_eq!(json, "\"9434765919\"");
        assert_eq!(serde_json::from_str::<NhsNumber>(&json).unwrap(), n);
        assert!(serde_json::from_str::<NhsNumber>("\"9434765918\"").is_err());
    }

    proptest! {
        #[test]
        fn every_prefix_has_at_most_one_valid_last_digit(prefix in "[0-9]{9}") {
            let valid: Vec<char> = ('0'..='9')
                .filter(|d| NhsNumber::parse(&format!("{prefix}{d}")).is_ok())
                .collect();
            let digits: Vec<u8> = prefix.bytes().map(|b| b - b'0').collect();
            let first_nine: [u8; 9] = digits.try_into().unwrap();
            match check_digit(&first_nine) {
                Some(check) => prop_assert_eq!(valid, vec![char::from(b'0' + check)]),
                None => {
                    prop_assert!(valid.is_empty());
                    let with_zero = format!("{prefix}0");
                    prop_assert_eq!(
                        NhsNumber::parse(&with_zero),
                        Err(NhsNumberError::CheckDigitIsTen)
                    );
                }
            }
        }

        #[test]
        fn parse_never_panics(s in "\\PC{0,20}") {
            let _ = NhsNumber::parse(&s);
        }
    }
}
