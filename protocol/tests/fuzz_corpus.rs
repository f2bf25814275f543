//! Every input the coverage-guided fuzzers kept (`fuzz/corpus/TARGET`) and every input that
//! once failed (`fuzz/regressions/TARGET`, named for what it found), run through the same
//! checks as the fuzz targets, on the stable toolchain, in the ordinary test run. A fuzz
//! finding becomes a regression test by adding its file to `fuzz/regressions/TARGET`.
//! `scripts/fuzz` runs the fuzzers themselves; docs/RELIABILITY.md says what they found.

#[path = "../../fuzz/src/lib.rs"]
#[allow(dead_code)]
mod checks;

use std::path::{Path, PathBuf};

use arbitrary::{Arbitrary, Unstructured};

fn inputs(target: &str) -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
    let mut out = Vec::new();
    for folder in ["corpus", "regressions"] {
        let Ok(entries) = std::fs::read_dir(root.join(folder).join(target)) else {
            continue;
        };
        for entry in entries {
            out.push(entry.expect("a readable corpus folder").path());
        }
    }
    out.sort();
    out
}

/// Runs `check` on every input of `target`; there must be some (a corpus that went missing
/// would otherwise pass).
fn run(target: &str, check: impl Fn(&[u8])) {
    let inputs = inputs(target);
    assert!(
        !inputs.is_empty(),
        "no committed inputs for fuzz target {target}"
    );
    for path in inputs {
        let bytes = std::fs::read(&path).expect("a readable corpus file");
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(&bytes)));
        assert!(
            result.is_ok(),
            "fuzz input {} fails its check",
            path.display()
        );
    }
}

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
    run("membership_fold", |bytes| {
        if let Ok(steps) = Vec::<checks::Step>::arbitrary_take_rest(Unstructured::new(bytes)) {
            checks::check_membership_fold(&steps);
        }
    });
}
