#!/usr/bin/env bash
# The mobile API's cost as a Kotlin app sees it (docs/PERFORMANCE.md, "Mobile API"): the
# RELEASE library, Kotlin bindings generated from it, mobile-bindings/bench/Bench.kt compiled
# with kotlinc and run on the JVM (JNA). No relay: nothing syncs.
#
#   mobile-bindings/bench.sh [RECORD_CALLS [TRIVIAL_CALLS [CASELOAD_CASES [CASELOAD_CALLS]]]]
#
# Defaults: 1,000 timed recordSession calls, 100,000 deviceId()/person() calls, 250 cases,
# 200 caseload(null) listings. The Rust side: `cargo bench -p holdfast-ffi --bench
# record_session` and `--bench caseload`.
source "$(dirname "$0")/tests/common.sh"
ensure_kotlinc
ensure_jna

work=$HF_ROOT/target/mobile-bindings/bench
mkdir -p "$work"
build_lib "$work" --release
generate "$work" kotlin

# kotlinc takes ~15 s: skip it when neither the bindings nor the bench changed.
sources=("$work/kotlin/uniffi/holdfast_ffi/holdfast_ffi.kt" "$HF_ROOT/mobile-bindings/bench/Bench.kt")
stamp=$(cat "${sources[@]}" | sha256sum | cut -c1-16)
if [ ! -f "$work/bench-$stamp.jar" ]; then
    rm -f "$work"/bench-*.jar
    "$KOTLIN_HOME/bin/kotlinc" -nowarn "${sources[@]}" -cp "$JNA_JAR" -d "$work/bench-$stamp.jar" 2>&1 |
        grep -v '^warning' || true
    [ -f "$work/bench-$stamp.jar" ] || die "kotlinc failed"
fi
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg) ($(nproc) cores)"
java -cp "$work/bench-$stamp.jar:$JNA_JAR:$KOTLIN_HOME/lib/kotlin-stdlib.jar" \
    -Djna.library.path="$work/lib" BenchKt "$@"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
