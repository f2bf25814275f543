#!/usr/bin/env bash
# New-device bootstrap, Holdfast vs automerge-repo, on the same seeded caseload, in one run.
#
#   benches/compare/run.sh              # the seeded caseload: 501 documents
#   SCALE=100k benches/compare/run.sh   # a supervisor's device: 100,001 documents
#
# SCALE=501 (the default):
# 1. installs the npm packages of this folder if they are missing (npm ci, from the lockfile);
# 2. builds the holdfast CLI if target/release/holdfast is missing;
# 3. makes the seeded caseload (250 patients, 2,000 assets, seed 42) in a temp dir and exports it;
# 4. runs the automerge-repo bootstrap RUNS times (default 3) and prints the median run;
# 5. if the Holdfast bootstrap bench exists (holdfast-tests, bench "bootstrap"), runs it RUNS times
#    too and prints the ratio automerge-repo / holdfast; if it does not exist yet, says so.
#
# SCALE=100k: 50,000 patients (case file + action plan each) and a directory of 10,000 assets,
# 100,001 documents: the store `cargo bench -p holdfast-core --bench large_device` seeds once
# and caches (seed 42; ~23 minutes to build when the cache is missing). Then:
# 1. npm packages, the holdfast CLI and the bench `bootstrap_large` are built;
# 2. `cargo bench -p holdfast-tests --bench bootstrap_large -- --prepare` finds (or builds) the
#    cached store; a copy of it is exported with `holdfast --home COPY/store --keys COPY/keys
#    --json export` (the cache itself is never opened) and the copy removed;
# 3. the Holdfast bench runs first (`cargo bench -p holdfast-tests --bench bootstrap_large --
#    --json`: device A uploads the 100,001 documents and their snapshots, a fresh device joins
#    and bootstraps), RUNS times (default 1);
# 4. then automerge-repo, RUNS times, under AMREPO_TIMEOUT_S (default 3600) with a Node heap of
#    AMREPO_NODE_HEAP_MB (default 8192). A run that does not finish prints how far it got
#    ({"completed": false, "reached": ...}) and the ratio line gives a lower bound instead.
#
# Environment:
#   SCALE=501|100k            the data (above)
#   RUNS=3                    runs of each side (the median is reported); 1 with SCALE=100k
#   AMREPO_SERVER=warm|cold   warm: the fresh client is served from the sync server's memory (default);
#                             cold: the server is restarted on its storage before the fresh client comes
#   AMREPO_SEED=network|storage  how the automerge-repo server gets the documents: network (a client
#                             creates them and syncs them to the server; the default with SCALE=501) or
#                             storage (written straight into the server's storage, then the server is
#                             started on it, so it is cold; the default with SCALE=100k)
#   AMREPO_TIMEOUT_S=180      global timeout of one automerge-repo run (3600 with SCALE=100k)
#   AMREPO_NODE_HEAP_MB=      Node's --max-old-space-size for the automerge-repo processes
#                             (unset: Node's default; 8192 with SCALE=100k)
#   HOLDFAST_LARGE_DEVICE_PATIENTS=50000, HOLDFAST_LARGE_DEVICE_ASSETS=10000
#                             SCALE=100k only: another size of the large store (e.g. 2000 to try it)
#   HOLDFAST_BENCH_TIMEOUT_S=1800   timeout of one `cargo bench` (includes compiling it the first time;
#                             3600 with SCALE=100k; building a missing large store has its own 3600 s)
#   HOLDFAST_BIN=PATH         use this holdfast CLI instead of target/release/holdfast
#   HOLDFAST_BENCH_BIN=PATH   SCALE=100k only: this bootstrap_large bench binary instead of building it
#   KEEP_TMP=1                keep the temp dir (export and per-run output) and print where it is
#
# stdout: one JSON line per median (automerge-repo, holdfast) and a `ratio` JSON line. Progress on stderr.
# Exits non-zero when a step fails; exits 0 when only the Holdfast bench is missing.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
SCALE="${SCALE:-501}"
case "$SCALE" in
  501)
    RUNS="${RUNS:-3}"
    AMREPO_TIMEOUT_S="${AMREPO_TIMEOUT_S:-180}"
    HOLDFAST_BENCH_TIMEOUT_S="${HOLDFAST_BENCH_TIMEOUT_S:-1800}"
    HOLDFAST_BENCH=bootstrap
    AMREPO_SEED="${AMREPO_SEED:-network}"
    ;;
  100k)
    RUNS="${RUNS:-1}"
    AMREPO_TIMEOUT_S="${AMREPO_TIMEOUT_S:-3600}"
    AMREPO_NODE_HEAP_MB="${AMREPO_NODE_HEAP_MB:-8192}"
    HOLDFAST_BENCH_TIMEOUT_S="${HOLDFAST_BENCH_TIMEOUT_S:-3600}"
    HOLDFAST_BENCH=bootstrap_large
    AMREPO_SEED="${AMREPO_SEED:-storage}"
    ;;
  *) printf '[compare] FAILED: SCALE must be 501 or 100k (got %s)\n' "$SCALE" >&2; exit 1 ;;
esac
AMREPO_SERVER="${AMREPO_SERVER:-warm}"
if [[ -n "${AMREPO_NODE_HEAP_MB:-}" ]]; then
  # Inherited by the automerge-repo orchestrator and the children it forks.
  export NODE_OPTIONS="${NODE_OPTIONS:+$NODE_OPTIONS }--max-old-space-size=$AMREPO_NODE_HEAP_MB"
fi

say() { printf '[compare] %s\n' "$*" >&2; }
fail() { say "FAILED: $*"; exit 1; }

[[ "$RUNS" =~ ^[1-9][0-9]*$ ]] || fail "RUNS must be a positive integer (got '$RUNS')"
if [[ -n "${AMREPO_NODE_HEAP_MB:-}" ]]; then
  [[ "$AMREPO_NODE_HEAP_MB" =~ ^[1-9][0-9]*$ ]] || fail "AMREPO_NODE_HEAP_MB must be a positive integer (got '$AMREPO_NODE_HEAP_MB')"
fi
case "$AMREPO_SERVER" in
  warm) AMREPO_FLAGS=() ;;
  cold) AMREPO_FLAGS=(--cold-server) ;;
  *) fail "AMREPO_SERVER must be warm or cold (got '$AMREPO_SERVER')" ;;
esac
case "$AMREPO_SEED" in
  network) ;;
  storage) AMREPO_FLAGS=(--seed-storage); AMREPO_SERVER=cold ;;
  *) fail "AMREPO_SEED must be network or storage (got '$AMREPO_SEED')" ;;
esac
command -v node >/dev/null || fail "node is not installed (Node 20 or later is needed)"
command -v npm >/dev/null || fail "npm is not installed"
NODE_MAJOR="$(node -p 'process.versions.node.split(".")[0]')"
(( NODE_MAJOR >= 20 )) || fail "Node 20 or later is needed (found $(node --version))"

TMP="$(mktemp -d "${TMPDIR:-/tmp}/holdfast-compare.XXXXXX")"
cleanup() {
  if [[ "${KEEP_TMP:-0}" == 1 ]]; then say "kept $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT

# --- 1. npm packages -------------------------------------------------------------------------
# npm ci when node_modules is missing or older than the lockfile; otherwise leave it alone.
if [[ ! -f "$HERE/node_modules/.package-lock.json" || "$HERE/package-lock.json" -nt "$HERE/node_modules/.package-lock.json" ]]; then
  say "installing npm packages (npm ci)"
  (cd "$HERE" && timeout 600 npm ci --no-audit --no-fund >&2) || fail "npm ci"
fi

# --- 2. the holdfast CLI ---------------------------------------------------------------------
HOLDFAST="${HOLDFAST_BIN:-$ROOT/target/release/holdfast}"
if [[ ! -x "$HOLDFAST" ]]; then
  [[ -n "${HOLDFAST_BIN:-}" ]] && fail "HOLDFAST_BIN=$HOLDFAST is not an executable"
  say "building the holdfast CLI (cargo build --release -p holdfast-cli; slow the first time)"
  (cd "$ROOT" && timeout 3600 cargo build --release -p holdfast-cli >&2) || fail "cargo build --release -p holdfast-cli"
fi

# --- 3. the data -------------------------------------------------------------------------------
if [[ "$SCALE" == 501 ]]; then
  say "seeding the caseload (250 patients, 2,000 assets, seed 42)"
  timeout 300 "$HOLDFAST" --home "$TMP/home" init --name "Bench" >&2 || fail "holdfast init"
  timeout 600 "$HOLDFAST" --home "$TMP/home" seed --patients 250 --assets 2000 --seed 42 >&2 || fail "holdfast seed"
  timeout 300 "$HOLDFAST" --home "$TMP/home" --json export >"$TMP/export.json" || fail "holdfast export"
else
  # The large store is the large_device bench's cache; the bench binary finds it, or builds it.
  # Built once, then the binary is run as `cargo bench` runs it (with --bench): cargo is not
  # asked again, so a build of other work in the tree between the steps changes nothing here.
  if [[ -n "${HOLDFAST_BENCH_BIN:-}" ]]; then
    [[ -x "$HOLDFAST_BENCH_BIN" ]] || fail "HOLDFAST_BENCH_BIN=$HOLDFAST_BENCH_BIN is not an executable"
  else
  say "building the bench (cargo bench -p holdfast-tests --bench $HOLDFAST_BENCH --no-run)"
  (cd "$ROOT" && timeout "$HOLDFAST_BENCH_TIMEOUT_S" cargo bench -p holdfast-tests --bench "$HOLDFAST_BENCH" --no-run --message-format=json) >"$TMP/build.json" \
    || fail "building the $HOLDFAST_BENCH bench"
  HOLDFAST_BENCH_BIN="$(node -e '
    const l = require("fs").readFileSync(process.argv[1], "utf8").split("\n").filter(l => l.startsWith("{")).map(l => JSON.parse(l))
      .filter(o => o.reason === "compiler-artifact" && o.executable && o.target && o.target.name === process.argv[2]);
    if (!l.length) process.exit(1); console.log(l[l.length - 1].executable)' "$TMP/build.json" "$HOLDFAST_BENCH")" \
    || fail "cargo named no executable for the $HOLDFAST_BENCH bench"
  fi
  say "bench binary: $HOLDFAST_BENCH_BIN"
  say "finding the large store (building it when missing: ~23 minutes for 50,000 patients)"
  (cd "$ROOT/tests" && timeout 3600 "$HOLDFAST_BENCH_BIN" --bench --prepare) >"$TMP/prepare.out" \
    || fail "preparing the large store (exit $?)"
  CACHE="$(node -e 'const l = require("fs").readFileSync(process.argv[1], "utf8").split("\n").filter(l => l.startsWith("{") && "cache" in JSON.parse(l));
    if (!l.length) process.exit(1); console.log(JSON.parse(l[l.length - 1]).cache)' "$TMP/prepare.out")" \
    || fail "the bench printed no cache path"
  say "large store: $CACHE ($(du -sh "$CACHE" | cut -f1)); exporting a copy of it"
  # A copy: the CLI takes a lock file in its home and may upgrade the schema; the cache stays as it is.
  cp -r "$CACHE" "$TMP/large"
  timeout 1800 "$HOLDFAST" --home "$TMP/large/store" --keys "$TMP/large/keys" --json export >"$TMP/export.json" \
    || fail "holdfast export of the large store"
  rm -rf "$TMP/large"
  say "export: $(du -h "$TMP/export.json" | cut -f1)"
  EXPECTED_DOCUMENTS="$(node -e 'const l = require("fs").readFileSync(process.argv[1], "utf8").split("\n").filter(l => l.startsWith("{") && "cache" in JSON.parse(l));
    console.log(2 * JSON.parse(l[l.length - 1]).patients + 1)' "$TMP/prepare.out")"
fi
EXPORT="$TMP/export.json"
node --input-type=module -e '
  const { readExport } = await import(process.argv[3]);
  const d = readExport(process.argv[1]);
  const n = d.case_files.length + d.action_plans.length + d.directories.length;
  const a = d.directories.reduce((s, x) => s + x[2].length, 0);
  console.error(`[compare] export: ${d.case_files.length} case files, ${d.action_plans.length} action plans, ${d.directories.length} directory (${a} assets) = ${n} documents`);
  if (process.argv[2] && n !== Number(process.argv[2])) { console.error(`[compare] expected ${process.argv[2]} documents`); process.exit(1); }
' "$EXPORT" "${EXPECTED_DOCUMENTS:-}" "$HERE/export-reader.mjs" || fail "the export is not what was expected"
export HOLDFAST_COMPARE_EXPORT="$EXPORT"   # for a Holdfast bench that wants the very same data

# median_line FILE SYSTEM: the line of FILE (one JSON object a line) with the median bootstrap_ms.
median_line() {
  node -e '
    const lines = require("fs").readFileSync(process.argv[1], "utf8").split("\n")
      .filter(l => l.trim().startsWith("{")).map(l => JSON.parse(l))
      .filter(o => o.system === process.argv[2] && typeof o.bootstrap_ms === "number");
    if (lines.length === 0) { console.error(`no ${process.argv[2]} result`); process.exit(1); }
    lines.sort((a, b) => a.bootstrap_ms - b.bootstrap_ms);
    const m = lines[Math.floor((lines.length - 1) / 2)];
    m.runs = lines.length;
    m.bootstrap_ms_all = lines.map(o => o.bootstrap_ms);
    console.log(JSON.stringify(m));
  ' "$1" "$2"
}

# Both sides are CPU-bound on 2 cores: say so when something else is already using the CPU.
if [[ -r /proc/stat ]]; then
  read -r _ u1 n1 s1 i1 w1 _ </proc/stat; sleep 3; read -r _ u2 n2 s2 i2 w2 _ </proc/stat
  total=$(( (u2 - u1) + (n2 - n1) + (s2 - s1) + (i2 - i1) + (w2 - w1) ))
  if (( total > 0 )); then
    busy=$(( ( (u2 - u1) + (n2 - n1) + (s2 - s1) ) * 100 / total ))
    say "CPU busy before the runs: ${busy}% of $(nproc) cores"
    (( busy < 30 )) || say "WARNING: the machine is busy with other work; expect slower, noisier figures"
  fi
fi

# --- 4. automerge-repo -----------------------------------------------------------------------
# Prints the median line. At SCALE=100k a run that fails or times out is not fatal: its line
# (`"completed": false`, how far it got) is printed instead, and no further run is made.
run_amrepo() {
  : >"$TMP/amrepo.jsonl"
  for i in $(seq 1 "$RUNS"); do
    say "automerge-repo run $i/$RUNS (seeded through $AMREPO_SEED, server $AMREPO_SERVER, timeout ${AMREPO_TIMEOUT_S} s${AMREPO_NODE_HEAP_MB:+, Node heap ${AMREPO_NODE_HEAP_MB} MB})"
    local code=0
    node "$HERE/automerge-repo-bootstrap.mjs" "$EXPORT" --timeout-s "$AMREPO_TIMEOUT_S" "${AMREPO_FLAGS[@]}" >"$TMP/amrepo-$i.out" || code=$?
    if (( code != 0 )); then
      if [[ "$SCALE" == 501 ]]; then fail "automerge-repo run $i (exit $code)"; fi
      say "automerge-repo run $i did not finish (exit $code)"
      local cut
      cut="$(grep -F '"system":"automerge-repo"' "$TMP/amrepo-$i.out" | tail -n 1)"
      [[ -n "$cut" ]] || cut="{\"system\":\"automerge-repo\",\"completed\":false,\"bootstrap_ms\":null,\"exit_code\":$code,\"reason\":\"no output (killed?)\"}"
      echo "$cut"
      return 0
    fi
    grep -F '"system":"automerge-repo"' "$TMP/amrepo-$i.out" | tail -n 1 >>"$TMP/amrepo.jsonl" || fail "automerge-repo run $i printed no result"
    say "  $(node -e 'const o=JSON.parse(process.argv[1]); console.log(`${o.documents} documents in ${o.bootstrap_ms} ms, ${o.bytes_received} bytes received`)' "$(tail -n 1 "$TMP/amrepo.jsonl")")"
  done
  median_line "$TMP/amrepo.jsonl" automerge-repo || fail "automerge-repo median"
}

# --- 5. Holdfast -----------------------------------------------------------------------------
# The bench exists when cargo knows the bench target in package holdfast-tests. Prints the
# median line, or nothing (and a `ratio: null` line) when the bench does not exist.
run_holdfast() {
  (cd "$ROOT" && timeout 300 cargo metadata --no-deps --format-version 1 >"$TMP/metadata.json" 2>"$TMP/metadata.err") || {
    cat "$TMP/metadata.err" >&2
    echo '{"ratio":null,"reason":"cargo metadata failed: cannot tell whether the holdfast bench exists"}'
    fail "cargo metadata (the workspace does not load)"
  }
  local has
  has="$(node -e '
    const m = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    const p = m.packages.find(p => p.name === "holdfast-tests");
    console.log(p && p.targets.some(t => t.name === process.argv[2] && t.kind.includes("bench")) ? "yes" : "no");
  ' "$TMP/metadata.json" "$HOLDFAST_BENCH")" || fail "reading cargo metadata"
  if [[ "$has" != yes ]]; then
    say "the Holdfast bench (cargo bench -p holdfast-tests --bench $HOLDFAST_BENCH) does not exist yet:"
    say "only the automerge-repo side was measured; no ratio."
    echo "{\"ratio\":null,\"reason\":\"holdfast bench not found (holdfast-tests, bench \\\"$HOLDFAST_BENCH\\\")\"}"
    return 0
  fi
  : >"$TMP/holdfast.jsonl"
  for i in $(seq 1 "$RUNS"); do
    if [[ -n "${HOLDFAST_BENCH_BIN:-}" ]]; then
      say "holdfast run $i/$RUNS ($HOLDFAST_BENCH_BIN --bench --json, as cargo bench -p holdfast-tests --bench $HOLDFAST_BENCH -- --json runs it)"
      (cd "$ROOT/tests" && timeout "$HOLDFAST_BENCH_TIMEOUT_S" "$HOLDFAST_BENCH_BIN" --bench --json) >"$TMP/holdfast-$i.out" \
        || fail "holdfast bench run $i (exit $?)"
    else
      say "holdfast run $i/$RUNS (cargo bench -p holdfast-tests --bench $HOLDFAST_BENCH -- --json)"
      (cd "$ROOT" && timeout "$HOLDFAST_BENCH_TIMEOUT_S" cargo bench -p holdfast-tests --bench "$HOLDFAST_BENCH" -- --json) >"$TMP/holdfast-$i.out" \
        || fail "holdfast bench run $i (exit $?)"
    fi
    grep -F '"system":"holdfast"' "$TMP/holdfast-$i.out" | tail -n 1 >>"$TMP/holdfast.jsonl" \
      || fail "holdfast bench run $i printed no {\"system\":\"holdfast\",...} line"
  done
  median_line "$TMP/holdfast.jsonl" holdfast || fail "holdfast median"
}

if [[ "$SCALE" == 501 ]]; then
  AMREPO="$(run_amrepo)"; echo "$AMREPO"
  HOLDFAST_LINE="$(run_holdfast)"; echo "$HOLDFAST_LINE"
else
  # Holdfast first: its figure is certain; automerge-repo may not finish at this size.
  HOLDFAST_LINE="$(run_holdfast)"; echo "$HOLDFAST_LINE"
  AMREPO="$(run_amrepo)"; echo "$AMREPO"
fi
case "$HOLDFAST_LINE" in *'"ratio":null'*) exit 0 ;; esac

node -e '
  const a = JSON.parse(process.argv[1]), h = JSON.parse(process.argv[2]);
  const r = (x, y) => (typeof x === "number" && typeof y === "number" && y > 0) ? Math.round(x / y * 100) / 100 : null;
  const done = a.completed !== false;
  if (done && a.documents !== h.documents) console.error(`[compare] WARNING: automerge-repo fetched ${a.documents} documents, holdfast ${h.documents}`);
  // A run cut short: automerge-repo took at least its elapsed time (from its start, seeding
  // included) when it was cut during the timed fetch; only then is a lower bound given.
  const fetching = a.reached && a.reached.phase === "fetching" && a.reached.progress && a.reached.progress.fetch;
  const out = {
    ratio: done ? r(a.bootstrap_ms, h.bootstrap_ms) : null,
    meaning: "automerge-repo bootstrap_ms / holdfast bootstrap_ms (above 1: Holdfast is faster)",
    bytes_ratio: done ? r(a.bytes_received, h.bytes_received) : null,
    automerge_repo_ms: a.bootstrap_ms, holdfast_ms: h.bootstrap_ms,
    automerge_repo_bytes: done ? a.bytes_received : null, holdfast_bytes: h.bytes_received,
    documents: { "automerge-repo": done ? a.documents : null, holdfast: h.documents },
    holdfast_snapshots: h.snapshots ?? null, automerge_repo_server: a.server, runs: a.runs ?? 1,
  };
  if (!done) {
    out.automerge_repo_completed = false;
    out.automerge_repo_reached = a.reached ? a.reached.phase : null;
    out.automerge_repo_reason = a.reason ?? null;
    if (fetching) {
      out.automerge_repo_ready_at_cut = `${fetching.ready} of ${fetching.of} documents after ${fetching.elapsed_ms} ms`;
      out.ratio_at_least = r(fetching.elapsed_ms, h.bootstrap_ms);
    }
  }
  console.log(JSON.stringify(out));
  if (done) console.error(`[compare] automerge-repo / holdfast: ${out.ratio}x time, ${out.bytes_ratio}x bytes`);
  else console.error(`[compare] automerge-repo did not finish (${out.automerge_repo_reached}: ${out.automerge_repo_reason})` +
    (out.ratio_at_least ? `; ratio at least ${out.ratio_at_least}x (${out.automerge_repo_ready_at_cut})` : ""));
' "$AMREPO" "$HOLDFAST_LINE"
