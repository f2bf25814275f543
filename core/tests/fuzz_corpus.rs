//! Every input the `open_referral` and `device_page` fuzzers kept (`fuzz/corpus/TARGET`) and
//! every input that once failed (`fuzz/regressions/TARGET`), run through the same checks as
//! the fuzz targets (`fuzz/src/open_referral.rs`, `fuzz/src/device_page.rs`), on the stable
//! toolchain, in the ordinary test run. `scripts/fuzz` runs the fuzzers themselves;
//! docs/RELIABILITY.md says what they found.

#[path = "../../fuzz/src/device_page.rs"]
mod device_page;
#[path = "../../fuzz/src/open_referral.rs"]
mod open_referral;

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
fn open_referral() {
    run("open_referral", open_referral::check_open_referral);
}

/// The pages are decoded as libFuzzer's `fuzz_target!` decodes them; they run in one store,
/// one after another, as they do in one fuzzing process.
#[test]
fn device_page() {
    run("device_page", |bytes| {
        if let Ok(page) = device_page::Page::arbitrary_take_rest(Unstructured::new(bytes)) {
            device_page::check_device_page(&page);
        }
    });
}
