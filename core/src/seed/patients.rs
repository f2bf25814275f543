//! Patients: NHS numbers from the test range, dates of birth, addresses, phones, languages and
//! access needs, and the GP practice each is registered with.

use std::collections::HashSet;

use rand::Rng;
use time::Date;

use super::names::person_name;
use super::places::{Place, home_address, pick_place, postcode};
use super::team::Team;
use super::{REFERENCE_DATE, SeedRng, days, drama_landline, drama_mobile, pick, weighted};
use crate::model::case_file::{ContactMethod, NewPatient, ReferralSource};
use crate::model::nhs_number::{NhsNumber, check_digit};

const NHS_TEST_PREFIX: [u8; 3] = [9, 9, 9];

/// A valid NHS number from the 999 test range, not used before in this population.
fn nhs_number(rng: &mut SeedRng, used: &mut HashSet<String>) -> NhsNumber {
    loop {
        let mut first = [0u8; 9];
        first[..3].copy_from_slice(&NHS_TEST_PREFIX);
        for d in &mut first[3..] {
            *d = rng.random_range(0..=9);
        }
        // About one prefix in eleven has a check digit of 10 and is never issued.
        let Some(check) = check_digit(&first) else {
            continue;
        };
        let digits: String = first
            .iter()
            .chain(std::iter::once(&check))
            .map(|d| char::from(b'0' + d))
            .collect();
        if used.insert(digits.clone()) {
            return NhsNumber::parse(&digits)
                .expect("a 999 prefix with its own check digit is a valid NHS number");
        }
    }
}

/// A date of birth that makes the person `lo..=hi` years old on [`REFERENCE_DATE`].
fn date_of_birth(rng: &mut SeedRng, lo: i32, hi: i32) -> Date {
    let year = REFERENCE_DATE.year();
    // 1 November exists in every year.
    let youngest = REFERENCE_DATE
        .replace_year(year - lo)
        .expect("1 November exists in every year");
    let oldest = REFERENCE_DATE
        .replace_year(year - hi - 1)
        .expect("1 November exists in every year")
        + days(1);
    let span = (youngest - oldest).whole_days();
    oldest + days(rng.random_range(0..=span))
}

const ACCESSIBILITY: &[&str] = &[
    "Uses a wheelchair: needs step-free access",
    "Hearing aid user: prefers face-to-face or text, not phone calls",
    "Large print letters, please",
    "Partially sighted: phone rather than text",
    "Learning disability: easy-read information helps",
    "Anxious in busy waiting rooms: a quiet room if possible",
    "Walks with a frame: ground-floor rooms only",
    "Dyslexic: prefers to talk things through rather than read forms",
];

pub(super) struct Person {
    pub(super) patient: NewPatient,
    pub(super) first_name: &'static str,
    pub(super) female: bool,
    pub(super) place: Place,
}

/// A fictional patient: name, NHS number (self-referrals sometimes do not know theirs),
/// date of birth, address, phone, language and access needs, GP practice.
pub(super) fn patient(
    rng: &mut SeedRng,
    team: &Team,
    source: ReferralSource,
    used_nhs: &mut HashSet<String>,
) -> Person {
    let (lo, hi) = weighted(rng, &[((18, 34), 18), ((35, 64), 40), ((65, 95), 42)]);
    let dob = date_of_birth(rng, lo, hi);
    let age = (REFERENCE_DATE - dob).whole_days() / 365;
    let name = person_name(rng, age);
    let place = pick_place(rng, 80);
    let nhs_number = if source == ReferralSource::SelfReferral && rng.random_bool(0.4) {
        None
    } else {
        Some(nhs_number(rng, used_nhs))
    };
    let language =
        if !name.group.languages.is_empty() && rng.random_bool(if age >= 60 { 0.5 } else { 0.2 }) {
            *pick(rng, name.group.languages)
        } else {
            "English"
        };
    let accessibility_needs = if language != "English" && rng.random_bool(0.5) {
        Some(format!("Needs a {language} interpreter for appointments"))
    } else if rng.random_bool(0.2) {
        Some((*pick(rng, ACCESSIBILITY)).to_owned())
    } else {
        None
    };
    let phone = match weighted(rng, &[(0u8, 80), (1, 14), (2, 6)]) {
        0 => Some(drama_mobile(rng)),
        1 => Some(drama_landline(rng, place.district)),
        _ => None,
    };
    let preferred_contact = if phone.is_none() {
        weighted(
            rng,
            &[(ContactMethod::Letter, 3), (ContactMethod::ViaCarer, 1)],
        )
    } else if age >= 70 {
        weighted(
            rng,
            &[
                (ContactMethod::Phone, 60),
                (ContactMethod::Letter, 20),
                (ContactMethod::ViaCarer, 12),
                (ContactMethod::Text, 8),
            ],
        )
    } else {
        weighted(
            rng,
            &[
                (ContactMethod::Phone, 40),
                (ContactMethod::Text, 40),
                (ContactMethod::Email, 12),
                (ContactMethod::Letter, 5),
                (ContactMethod::ViaCarer, 3),
            ],
        )
    };
    let address = home_address(rng, &place);
    let postcode = postcode(rng, place.district);
    let practice = pick(rng, &team.practices).clone();
    Person {
        patient: NewPatient {
            name: name.full,
            nhs_number,
            date_of_birth: Some(dob),
            address: Some(address),
            postcode: Some(postcode),
            phone,
            preferred_contact: Some(preferred_contact),
            language: Some(language.to_owned()),
            accessibility_needs,
            practice: Some(practice),
        },
        first_name: name.first,
        female: name.female,
        place,
    }
}

#[cfg(test)]
pub(super) mod tests {
    use std::collections::HashSet;

    use super::nhs_number;
    use crate::model::nhs_number::{NhsNumber, check_digit};
    use crate::seed::{PATIENT_STREAM, rng_for};

    pub(in crate::seed) fn assert_valid_test_nhs_number(n: &NhsNumber) {
        let digits: Vec<u8> = n.as_str().bytes().map(|b| b - b'0').collect();
        assert_eq!(&digits[..3], &[9, 9, 9], "in the NHS test range");
        let first: [u8; 9] = digits[..9].try_into().expect("ten digits");
        assert_eq!(check_digit(&first), Some(digits[9]));
    }

    #[test]
    fn nhs_numbers_are_valid_unique_and_in_the_test_range() {
        let mut rng = rng_for(3, PATIENT_STREAM);
        let mut used = HashSet::new();
        for _ in 0..2000 {
            let n = nhs_number(&mut rng, &mut used);
            assert_valid_test_nhs_number(&n);
        }
        assert_eq!(used.len(), 2000);
    }
}
