//! The membership fold driven by sequences of signed operations: see
//! `holdfast_fuzz::check_membership_fold`.
#![no_main]

libfuzzer_sys::fuzz_target!(|steps: Vec<holdfast_fuzz::Step>| {
    holdfast_fuzz::check_membership_fold(&steps)
});
