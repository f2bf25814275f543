//! Every input the coverage-guided fuzzers kept (`fuzz/corpus/TARGET`) and every input that
//! once failed (`fuzz/regressions/TARGET`, named for what it found), run through the same
//! checks as the fuzz targets, on the stable toolchain, in the ordinary test run. A fuzz
//! finding becomes a regression test by adding its file to `fuzz/regressions/TARGET`.
//! `scripts/fuzz` runs the fuzzers themselves; docs/RELIABILITY.md says what they found.

#[path = "../../fuzz/src/lib.rs"]
#[allow(dead_code)]
mod checks;

#[path = "../../fuzz/src/replay.rs"]
mod replay;

use replay::run;

#[test]
fn envelope() {
    run("envelope", checks::check_envelope);
}

#[test]
fn push_batch() {
    run("push_batch", checks::check_push_batch);
}

#[test]
fn pull_page() {
    run("pull_page", checks::check_pull_page);
}

#[test]
fn membership_entry() {
    run("membership_entry", checks::check_membership_entry);
}

#[test]
fn membership_snapshot() {
    run("membership_snapshot", checks::check_membership_snapshot);
}

#[test]
fn key_bundle() {
    run("key_bundle", checks::check_key_bundle);
}

#[test]
fn invite_code() {
    run("invite_code", checks::check_invite_code);
}

/// The fold's inputs are decoded as libFuzzer's `fuzz_target!` decodes them.
#[test]
fn membership_fold() {
    replay::run_structured("membership_fold", |steps: &Vec<checks::Step>| {
        checks::check_membership_fold(steps)
    });
}
