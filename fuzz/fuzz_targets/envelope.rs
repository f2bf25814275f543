//! Arbitrary bytes into the envelope decoder: see `holdfast_fuzz::check_envelope`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| holdfast_fuzz::check_envelope(data));
