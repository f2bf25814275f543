//! Arbitrary bytes into the push batch decoder: see `holdfast_fuzz::check_push_batch`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| holdfast_fuzz::check_push_batch(data));
