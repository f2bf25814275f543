#!/usr/bin/env bash
# The Kotlin binding test: the test-hooks library, Kotlin bindings generated from it, the test
# compiled with kotlinc and run on the JVM (JNA) against a relay on port 0.
source "$(dirname "$0")/../common.sh"
ensure_kotlinc
ensure_jna

work=$HF_ROOT/target/mobile-bindings/kotlin-test
mkdir -p "$work"
build_lib "$work" --features test-hooks
generate "$work" kotlin
start_relay "$(mktemp -d)"

# kotlinc takes ~15 s: skip it when neither the bindings nor the test changed.
sources=("$work/kotlin/uniffi/holdfast_ffi/holdfast_ffi.kt" "$HF_ROOT/mobile-bindings/tests/kotlin/HomeVisitTest.kt")
stamp=$(cat "${sources[@]}" | sha256sum | cut -c1-16)
if [ ! -f "$work/test-$stamp.jar" ]; then
    rm -f "$work"/test-*.jar
    "$KOTLIN_HOME/bin/kotlinc" -nowarn "${sources[@]}" -cp "$JNA_JAR" -d "$work/test-$stamp.jar" 2>&1 |
        grep -v '^warning' || true
    [ -f "$work/test-$stamp.jar" ] || die "kotlinc failed"
fi
RUST_BACKTRACE=0 java -cp "$work/test-$stamp.jar:$JNA_JAR:$KOTLIN_HOME/lib/kotlin-stdlib.jar" \
    -Djna.library.path="$work/lib" HomeVisitTestKt "$RELAY_URL"
