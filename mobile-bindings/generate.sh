#!/usr/bin/env bash
# Builds holdfast-ffi and generates its Kotlin and Swift bindings into mobile-bindings/kotlin
# and mobile-bindings/swift (committed), then syntax-checks the Swift module's C header.
#
#   mobile-bindings/generate.sh           regenerate the committed sources
#   mobile-bindings/generate.sh --check   regenerate into a temp dir and fail if they differ
#
# The committed bindings come from a build WITHOUT the `test-hooks` feature (which adds
# `debug_panic`); the binding tests generate their own copy from a test-hooks build.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
check=false
case "${1:-}" in
    --check) check=true ;;
    "") ;;
    *) echo "usage: $0 [--check]" >&2; exit 2 ;;
esac

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The library first, copied away: building the bindgen binary re-links the cdylib with
# uniffi's `cli` feature into the same path (tests/common.sh: how they are built).
source "$root/mobile-bindings/tests/common.sh"
build_lib "$work"
build_bindgen
bindgen=$root/target/debug/uniffi-bindgen

out=$work/out
for lang in kotlin swift; do
    "$bindgen" generate --no-format --library "$work/lib/libholdfast_ffi.so" \
        --language "$lang" --out-dir "$out/$lang" >/dev/null
done

# No Swift compiler here: at least the C header the Swift module imports must parse.
echo '#include "holdfast_ffiFFI.h"' |
    gcc -fsyntax-only -Wall -Werror -D_Nonnull= -D_Nullable= -include stdint.h -include stdbool.h \
        -I "$out/swift" -x c -

if $check; then
    if ! diff -r mobile-bindings/kotlin "$out/kotlin" >"$work/diff" 2>&1 ||
        ! diff -r mobile-bindings/swift "$out/swift" >>"$work/diff" 2>&1; then
        head -n 40 "$work/diff" >&2
        echo "bindings are stale: run mobile-bindings/generate.sh" >&2
        exit 1
    fi
    echo "bindings are current (kotlin, swift); Swift C header parses"
else
    rm -rf mobile-bindings/kotlin mobile-bindings/swift
    cp -r "$out/kotlin" "$out/swift" mobile-bindings/
    echo "generated mobile-bindings/kotlin and mobile-bindings/swift"
fi
