//! Replaying a fuzz target's committed inputs on the stable toolchain, in the ordinary test
//! run: every file of `fuzz/corpus/TARGET` (what the fuzzer kept) and of
//! `fuzz/regressions/TARGET` (inputs that once failed, named for what they found). Included
//! by path by the `fuzz_corpus.rs` tests of protocol, core and the relay, beside the target's
//! checks.

use std::path::{Path, PathBuf};

use arbitrary::{Arbitrary, Unstructured};

/// Every committed input of `target`, in name order.
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
pub fn run(target: &str, check: impl Fn(&[u8])) {
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

/// [`run`] for a target whose input is structured: each file is decoded as libFuzzer's
/// `fuzz_target!` decodes it (`arbitrary_take_rest`); a file that does not decode is skipped,
/// as the fuzzer skips it, but most must decode (a changed input type that no longer reads
/// the committed corpus would otherwise check nothing).
pub fn run_structured<T: for<'a> Arbitrary<'a>>(target: &str, check: impl Fn(&T)) {
    let (decoded, total) = (std::cell::Cell::new(0), std::cell::Cell::new(0));
    run(target, |bytes| {
        total.set(total.get() + 1);
        if let Ok(input) = T::arbitrary_take_rest(Unstructured::new(bytes)) {
            decoded.set(decoded.get() + 1);
            check(&input);
        }
    });
    assert!(
        decoded.get() * 2 > total.get(),
        "only {} of {} committed inputs of {target} decode: regenerate its corpus",
        decoded.get(),
        total.get()
    );
}
