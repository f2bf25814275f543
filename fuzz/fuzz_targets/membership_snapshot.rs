//! Arbitrary bytes into the membership snapshot decoder: see `holdfast_fuzz::check_membership_snapshot`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| holdfast_fuzz::check_membership_snapshot(data));
