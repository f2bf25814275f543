//! Arbitrary bytes into the membership entry decoder: see `holdfast_fuzz::check_membership_entry`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| holdfast_fuzz::check_membership_entry(data));
