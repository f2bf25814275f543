#!/usr/bin/env bash
# New-device bootstrap, Holdfast vs automerge-repo, on the same seeded caseload, in one run.
#
#   benches/compare/run.sh
#
# 1. installs the npm packages of this folder if they are missing (npm ci, from the lockfile);
# 2. builds the holdfast CLI if target/release/holdfast is missing;
# 3. makes the seeded caseload (250 patients, 2,000 assets, seed 42) in a temp dir and exports it;
# 4. runs the automerge-repo bootstrap RUNS times (default 3) and prints the median run;
# 5. if the Holdfast bootstrap bench exists (holdfast-tests, bench "bootstrap"), runs it RUNS times
#    too and prints the ratio automerge-repo / holdfast; if it does not exist yet, says so.
#
# Environment:
#   RUNS=3                    runs of each side (the median is reported)
#   AMREPO_SERVER=warm|cold   warm: the fresh client is served from the sync server's memory (default);
#                             cold: the server is restarted on its storage before the fresh client comes
#   AMREPO_TIMEOUT_S=180      global timeout of one automerge-repo run
#   HOLDFAST_BENCH_TIMEOUT_S=1800   timeout of one `cargo bench` (includes compiling it the first time)
#   HOLDFAST_BIN=PATH         use this holdfast CLI instead of target/release/holdfast
#   KEEP_TMP=1                keep the temp dir (export and per-run output) and print where it is
#
# stdout: one JSON line per median (automerge-repo, holdfast) and a `ratio` JSON line. Progress on stderr.
# Exits non-zero when a step fails; exits 0 when only the Holdfast bench is missing.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
RUNS="${RUNS:-3}"
AMREPO_SERVER="${AMREPO_SERVER:-warm}"
AMREPO_TIMEOUT_S="${AMREPO_TIMEOUT_S:-180}"
HOLDFAST_BENCH_TIMEOUT_S="${HOLDFAST_BENCH_TIMEOUT_S:-1800}"

say() { printf '[compare] %s\n' "$*" >&2; }
fail() { say "FAILED: $*"; exit 1; }

[[ "$RUNS" =~ ^[1-9][0-9]*$ ]] || fail "RUNS must be a positive integer (got '$RUNS')"
case "$AMREPO_SERVER" in
  warm) AMREPO_FLAGS=() ;;
  cold) AMREPO_FLAGS=(--cold-server) ;;
  *) fail "AMREPO_SERVER must be warm or cold (got '$AMREPO_SERVER')" ;;
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

# --- 3. the seeded caseload ------------------------------------------------------------------
say "seeding the caseload (250 patients, 2,000 assets, seed 42)"
timeout 300 "$HOLDFAST" --home "$TMP/home" init --name "Bench" >&2 || fail "holdfast init"
timeout 600 "$HOLDFAST" --home "$TMP/home" seed --patients 250 --assets 2000 --seed 42 >&2 || fail "holdfast seed"
timeout 300 "$HOLDFAST" --home "$TMP/home" --json export >"$TMP/export.json" || fail "holdfast export"
EXPORT="$TMP/export.json"
node -e '
  const d = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  const n = d.case_files.length + d.action_plans.length + d.directories.length;
  const a = d.directories.reduce((s, x) => s + x[2].length, 0);
  console.error(`[compare] export: ${d.case_files.length} case files, ${d.action_plans.length} action plans, ${d.directories.length} directory (${a} assets) = ${n} documents`);
' "$EXPORT" || fail "the export is not what was expected"
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
: >"$TMP/amrepo.jsonl"
for i in $(seq 1 "$RUNS"); do
  say "automerge-repo run $i/$RUNS (server $AMREPO_SERVER)"
  node "$HERE/automerge-repo-bootstrap.mjs" "$EXPORT" --timeout-s "$AMREPO_TIMEOUT_S" "${AMREPO_FLAGS[@]}" >"$TMP/amrepo-$i.out" \
    || fail "automerge-repo run $i (exit $?)"
  grep -F '"system":"automerge-repo"' "$TMP/amrepo-$i.out" | tail -n 1 >>"$TMP/amrepo.jsonl" || fail "automerge-repo run $i printed no result"
  say "  $(node -e 'const o=JSON.parse(process.argv[1]); console.log(`${o.documents} documents in ${o.bootstrap_ms} ms, ${o.bytes_received} bytes received`)' "$(tail -n 1 "$TMP/amrepo.jsonl")")"
done
AMREPO="$(median_line "$TMP/amrepo.jsonl" automerge-repo)" || fail "automerge-repo median"
echo "$AMREPO"

# --- 5. Holdfast -----------------------------------------------------------------------------
# The bench exists when cargo knows a bench target "bootstrap" in package holdfast-tests.
(cd "$ROOT" && timeout 300 cargo metadata --no-deps --format-version 1 >"$TMP/metadata.json" 2>"$TMP/metadata.err") || {
  cat "$TMP/metadata.err" >&2
  echo '{"ratio":null,"reason":"cargo metadata failed: cannot tell whether the holdfast bench exists"}'
  fail "cargo metadata (the workspace does not load)"
}
HAS_BENCH="$(node -e '
  const m = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  const p = m.packages.find(p => p.name === "holdfast-tests");
  console.log(p && p.targets.some(t => t.name === "bootstrap" && t.kind.includes("bench")) ? "yes" : "no");
' "$TMP/metadata.json")" || fail "reading cargo metadata"

if [[ "$HAS_BENCH" != yes ]]; then
  say "the Holdfast bootstrap bench (cargo bench -p holdfast-tests --bench bootstrap) does not exist yet:"
  say "only the automerge-repo side was measured; no ratio."
  echo '{"ratio":null,"reason":"holdfast bootstrap bench not found (holdfast-tests, bench \"bootstrap\")"}'
  exit 0
fi

: >"$TMP/holdfast.jsonl"
for i in $(seq 1 "$RUNS"); do
  say "holdfast run $i/$RUNS (cargo bench -p holdfast-tests --bench bootstrap -- --json)"
  (cd "$ROOT" && timeout "$HOLDFAST_BENCH_TIMEOUT_S" cargo bench -p holdfast-tests --bench bootstrap -- --json) >"$TMP/holdfast-$i.out" \
    || fail "holdfast bench run $i (exit $?)"
  grep -F '"system":"holdfast"' "$TMP/holdfast-$i.out" | tail -n 1 >>"$TMP/holdfast.jsonl" \
    || fail "holdfast bench run $i printed no {\"system\":\"holdfast\",...} line"
done
HOLDFAST_LINE="$(median_line "$TMP/holdfast.jsonl" holdfast)" || fail "holdfast median"
echo "$HOLDFAST_LINE"

node -e '
  const a = JSON.parse(process.argv[1]), h = JSON.parse(process.argv[2]);
  const r = (x, y) => (typeof x === "number" && typeof y === "number" && y > 0) ? Math.round(x / y * 100) / 100 : null;
  if (a.documents !== h.documents) console.error(`[compare] WARNING: automerge-repo fetched ${a.documents} documents, holdfast ${h.documents}`);
  const out = {
    ratio: r(a.bootstrap_ms, h.bootstrap_ms),
    meaning: "automerge-repo bootstrap_ms / holdfast bootstrap_ms (above 1: Holdfast is faster)",
    bytes_ratio: r(a.bytes_received, h.bytes_received),
    automerge_repo_ms: a.bootstrap_ms, holdfast_ms: h.bootstrap_ms,
    automerge_repo_bytes: a.bytes_received, holdfast_bytes: h.bytes_received,
    documents: { "automerge-repo": a.documents, holdfast: h.documents },
    holdfast_snapshots: h.snapshots ?? null, automerge_repo_server: a.server, runs: a.runs,
  };
  console.log(JSON.stringify(out));
  console.error(`[compare] automerge-repo / holdfast: ${out.ratio}x time, ${out.bytes_ratio}x bytes`);
' "$AMREPO" "$HOLDFAST_LINE"
