# Sourced by the binding tests and mobile-bindings/bench.sh: tools installed once into a cache
# that survives between runs, the library built, bindings generated, a relay on port 0.
set -euo pipefail

HF_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HF_CACHE=${HOLDFAST_CACHE:-$HOME/.cache/holdfast}
KOTLIN_VERSION=2.4.20
KOTLIN_HOME=$HF_CACHE/kotlin-$KOTLIN_VERSION/node_modules/kotlin-compiler
JNA_JAR=/usr/share/java/jna.jar

die() {
    echo "mobile-bindings: $*" >&2
    exit 1
}

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

# kotlinc from npm's `kotlin-compiler` (Maven Central is not reachable here: no Gradle).
ensure_kotlinc() {
    command -v java >/dev/null || die "a Java runtime (17+) is needed for the Kotlin tests"
    [ -x "$KOTLIN_HOME/bin/kotlinc" ] && return
    command -v npm >/dev/null || die "npm is needed to install kotlin-compiler@$KOTLIN_VERSION"
    echo "installing kotlin-compiler@$KOTLIN_VERSION into $HF_CACHE (once)"
    mkdir -p "$HF_CACHE/kotlin-$KOTLIN_VERSION"
    npm install --silent --no-audit --no-fund --prefix "$HF_CACHE/kotlin-$KOTLIN_VERSION" \
        "kotlin-compiler@$KOTLIN_VERSION" ||
        die "cannot install kotlin-compiler@$KOTLIN_VERSION from npm: is the npm registry reachable?"
    [ -x "$KOTLIN_HOME/bin/kotlinc" ] || die "kotlin-compiler installed but $KOTLIN_HOME/bin/kotlinc is missing"
}

# JNA (and its native dispatcher) from Debian's libjna-java.
ensure_jna() {
    [ -f "$JNA_JAR" ] && return
    command -v apt-get >/dev/null || die "JNA is needed ($JNA_JAR): install libjna-java (5.13 or newer)"
    echo "installing libjna-java with apt-get (once)"
    as_root apt-get install -y -q libjna-java >/dev/null ||
        { as_root apt-get update -q >/dev/null && as_root apt-get install -y -q libjna-java >/dev/null; } ||
        die "cannot install libjna-java with apt-get: is the Debian mirror reachable?"
    [ -f "$JNA_JAR" ] || die "libjna-java installed but $JNA_JAR is missing"
}

# How the library, the binding generator and the relay are built. By default, each on its own
# (`cargo build -p holdfast-ffi --lib`, ...). With HOLDFAST_BINDINGS_WORKSPACE=1, as
# ./scripts/test sets it, every build here is the one its test run made:
# `cargo build --workspace --all-targets --features holdfast-ffi/bindgen[,...]`. Cargo resolves
# dependencies' features for the packages and targets a command selects, so building
# holdfast-ffi alone rebuilt ~30 crates with other features, three times over (minutes on
# CI); built as the test run was, only holdfast-ffi itself changes (with `test-hooks`).
workspace_build() {
    local features=holdfast-ffi/bindgen
    [ "${1:-}" = test-hooks ] && features+=,holdfast-ffi/test-hooks
    (cd "$HF_ROOT" && cargo build --quiet --workspace --all-targets --features "$features")
}

# build_lib OUT [--features test-hooks] [--release]: builds libholdfast_ffi.so and copies it to
# OUT/lib (copied at once: the next cargo build of the crate re-links the same path).
# HOLDFAST_FFI_WORKSPACE builds it from another checkout sharing this target dir.
build_lib() {
    local out=$1 profile=debug hooks=""
    shift
    for arg in "$@"; do
        case "$arg" in
            --release) profile=release ;;
            test-hooks) hooks=test-hooks ;;
        esac
    done
    if [ "${HOLDFAST_BINDINGS_WORKSPACE:-}" = 1 ]; then
        [ "$profile" = debug ] || die "HOLDFAST_BINDINGS_WORKSPACE builds the test profile only"
        workspace_build "$hooks"
    else
        (cd "${HOLDFAST_FFI_WORKSPACE:-$HF_ROOT}" && cargo build --quiet -p holdfast-ffi --lib "$@")
    fi
    mkdir -p "$out/lib"
    cp "$HF_ROOT/target/$profile/libholdfast_ffi.so" "$out/lib/"
}

# build_bindgen: target/debug/uniffi-bindgen (with HOLDFAST_BINDINGS_WORKSPACE, build_lib
# built it already).
build_bindgen() {
    [ "${HOLDFAST_BINDINGS_WORKSPACE:-}" = 1 ] && [ -x "$HF_ROOT/target/debug/uniffi-bindgen" ] && return
    (cd "$HF_ROOT" && cargo build --quiet -p holdfast-ffi --features bindgen --bin uniffi-bindgen)
}

# generate OUT LANGUAGE...: bindings for OUT/lib/libholdfast_ffi.so into OUT/LANGUAGE.
generate() {
    local out=$1
    shift
    build_bindgen
    for lang in "$@"; do
        rm -rf "${out:?}/$lang"
        (cd "$HF_ROOT" && target/debug/uniffi-bindgen generate --no-format \
            --library "$out/lib/libholdfast_ffi.so" --language "$lang" --out-dir "$out/$lang") >/dev/null
    done
}

# start_relay DIR: a relay on a free port with its data in DIR; sets RELAY_URL. Stopped on exit.
start_relay() {
    local dir=$1
    # With HOLDFAST_BINDINGS_WORKSPACE, build_lib built it already.
    [ "${HOLDFAST_BINDINGS_WORKSPACE:-}" = 1 ] && [ -x "$HF_ROOT/target/debug/holdfast-relay" ] ||
        (cd "$HF_ROOT" && cargo build --quiet -p holdfast-relay --bin holdfast-relay)
    mkdir -p "$dir"
    "$HF_ROOT/target/debug/holdfast-relay" --listen 127.0.0.1:0 --data-dir "$dir/data" \
        >"$dir/stdout" 2>"$dir/log" &
    RELAY_PID=$!
    trap "kill $RELAY_PID 2>/dev/null; wait $RELAY_PID 2>/dev/null; rm -rf '$dir'" EXIT
    RELAY_URL=
    for _ in $(seq 1 100); do
        RELAY_URL=$(sed -n 's/^listening on //p' "$dir/stdout")
        [ -n "$RELAY_URL" ] && break
        kill -0 "$RELAY_PID" 2>/dev/null || { cat "$dir/log" >&2; die "the relay did not start"; }
        sleep 0.1
    done
    [ -n "$RELAY_URL" ] || die "the relay printed no address in 10 s"
}
