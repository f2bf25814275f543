//! The relay's router driven in-process with sequences of requests to every route: see
//! `fuzz/src/relay.rs`.
#![no_main]

#[path = "../src/relay.rs"]
mod relay;

libfuzzer_sys::fuzz_target!(|steps: Vec<relay::Step>| relay::check_relay(&steps));
