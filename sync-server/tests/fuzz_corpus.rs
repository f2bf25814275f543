//! Every input the `relay_router` fuzzer kept (`fuzz/corpus/relay_router`) and every input
//! that once failed (`fuzz/regressions/relay_router`), run through the same checks as the
//! fuzz target (`fuzz/src/relay.rs`: the router in-process, no 500, still usable, what it
//! acknowledged served as acknowledged), on the stable toolchain, in the ordinary test run.
//! The inputs run in one relay, one after another, as they do in one fuzzing process.
//! `scripts/fuzz` runs the fuzzer itself; docs/RELIABILITY.md says what it found.

#[path = "../../fuzz/src/relay.rs"]
mod relay;

#[path = "../../fuzz/src/replay.rs"]
mod replay;

/// The inputs are decoded as libFuzzer's `fuzz_target!` decodes them.
#[test]
fn relay_router() {
    replay::run_structured("relay_router", |steps: &Vec<relay::Step>| {
        relay::check_relay(steps)
    });
}
