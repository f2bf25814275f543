//! Every input the `relay_router` fuzzer kept (`fuzz/corpus/relay_router`) and every input
//! that once failed (`fuzz/regressions/relay_router`), run through the same checks as the
//! fuzz target (`fuzz/src/relay.rs`: the router in-process, no 500, still usable, what it
//! acknowledged served as acknowledged), on the stable toolchain, in the ordinary test run.
//! The inputs run in one relay, one after another, as they do in one fuzzing process.
//! `scripts/fuzz` runs the fuzzer itself; docs/RELIABILITY.md says what it found.

#[path = "../../fuzz/src/relay.rs"]
mod relay;

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

/// The inputs are decoded as libFuzzer's `fuzz_target!` decodes them.
#[test]
fn relay_router() {
    let inputs = inputs("relay_router");
    assert!(
        !inputs.is_empty(),
        "no committed inputs for fuzz target relay_router"
    );
    for path in inputs {
        let bytes = std::fs::read(&path).expect("a readable corpus file");
        let result = std::panic::catch_unwind(|| {
            if let Ok(steps) = Vec::<relay::Step>::arbitrary_take_rest(Unstructured::new(&bytes)) {
                relay::check_relay(&steps);
            }
        });
        assert!(
            result.is_ok(),
            "fuzz input {} fails its check",
            path.display()
        );
    }
}
