//! Arbitrary bytes into the Open Referral UK import, and what it imports through the export
//! and back: see `fuzz/src/open_referral.rs`.
#![no_main]

#[path = "../src/open_referral.rs"]
mod open_referral;

libfuzzer_sys::fuzz_target!(|data: &[u8]| open_referral::check_open_referral(data));
