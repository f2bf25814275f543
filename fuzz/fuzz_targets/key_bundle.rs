//! Arbitrary bytes into the key bundle decoder: see `holdfast_fuzz::check_key_bundle`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| holdfast_fuzz::check_key_bundle(data));
