//! Arbitrary bytes into the invite code decoder: see `holdfast_fuzz::check_invite_code`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| holdfast_fuzz::check_invite_code(data));
