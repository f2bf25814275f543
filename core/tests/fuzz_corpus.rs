//! Every input the `open_referral` and `device_page` fuzzers kept (`fuzz/corpus/TARGET`) and
//! every input that once failed (`fuzz/regressions/TARGET`), run through the same checks as
//! the fuzz targets (`fuzz/src/open_referral.rs`, `fuzz/src/device_page.rs`), on the stable
//! toolchain, in the ordinary test run. `scripts/fuzz` runs the fuzzers themselves;
//! docs/RELIABILITY.md says what they found.

#[path = "../../fuzz/src/device_page.rs"]
mod device_page;
#[path = "../../fuzz/src/open_referral.rs"]
mod open_referral;

#[path = "../../fuzz/src/replay.rs"]
mod replay;

#[test]
fn open_referral() {
    replay::run("open_referral", open_referral::check_open_referral);
}

/// The pages are decoded as libFuzzer's `fuzz_target!` decodes them; they run in one store,
/// one after another, as they do in one fuzzing process.
#[test]
fn device_page() {
    replay::run_structured("device_page", device_page::check_device_page);
}
