//! Arbitrary bytes into the pull page decoder: see `holdfast_fuzz::check_pull_page`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| holdfast_fuzz::check_pull_page(data));
