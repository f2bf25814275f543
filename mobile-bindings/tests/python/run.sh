#!/usr/bin/env bash
# The Python binding test: the test-hooks library with Python bindings generated next to it,
# against a relay on port 0. Python 3 only; no packages.
source "$(dirname "$0")/../common.sh"
command -v python3 >/dev/null || die "python3 is needed for the Python binding test"

work=$HF_ROOT/target/mobile-bindings/python-test
mkdir -p "$work"
build_lib "$work" --features test-hooks
generate "$work" python
cp "$work/lib/libholdfast_ffi.so" "$work/python/"   # the module loads it from its own folder
start_relay "$(mktemp -d)"
RUST_BACKTRACE=0 python3 "$HF_ROOT/mobile-bindings/tests/python/test_home_visit.py" "$work/python" "$RELAY_URL"
