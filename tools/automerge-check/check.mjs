// Loads every *.automerge file in the folders given with the JavaScript Automerge library and
// checks it against its sidecar (the same name, .json): `{heads: [...], fields: {path: value}}`.
//
//   node check.mjs DIR...
//
// A document must load, its heads (as a set) must equal the sidecar's, and each field path
// ("patient.name", "status_log.0.to", a map key or a list index per segment) must hold the
// sidecar's value. Plain strings, Text and ImmutableString compare as strings, timestamps as
// milliseconds since the epoch, counters as numbers. Prints a line per document; exits 1 on any
// mismatch, and when a folder holds no documents.
import { readFileSync, readdirSync, existsSync } from "node:fs";
import { join } from "node:path";
import * as Automerge from "@automerge/automerge";

const dirs = process.argv.slice(2);
if (dirs.length === 0) {
  console.error("usage: node check.mjs DIR...");
  process.exit(2);
}

/** A loaded value in the form the sidecars write. */
function plain(v) {
  if (v instanceof Date) return v.getTime();
  if (Automerge.isImmutableString(v)) return v.toString();
  if (Automerge.isCounter(v)) return v.value;
  if (v instanceof Uint8Array) return Buffer.from(v).toString("hex");
  if (Array.isArray(v)) return v.map(plain);
  if (v !== null && typeof v === "object") {
    const out = {};
    for (const k of Object.keys(v).sort()) out[k] = plain(v[k]);
    return out;
  }
  return v;
}

function at(doc, path) {
  let v = doc;
  for (const segment of path.split(".")) {
    if (v === null || typeof v !== "object" || !(segment in v)) return { found: false };
    v = v[segment];
  }
  return { found: true, value: plain(v) };
}

let matched = 0;
let failed = 0;
const fail = (name, why) => {
  failed += 1;
  console.log(`MISMATCH ${name}: ${why}`);
};

for (const dir of dirs) {
  const files = readdirSync(dir).filter((f) => f.endsWith(".automerge")).sort();
  if (files.length === 0) {
    fail(dir, "no .automerge files: the tests wrote nothing here");
    continue;
  }
  for (const file of files) {
    const name = join(dir, file);
    const sidecarPath = join(dir, file.replace(/\.automerge$/, ".json"));
    if (!existsSync(sidecarPath)) {
      fail(name, "no sidecar .json beside it");
      continue;
    }
    let doc, sidecar;
    try {
      sidecar = JSON.parse(readFileSync(sidecarPath, "utf8"));
    } catch (e) {
      fail(name, `the sidecar does not parse: ${e.message}`);
      continue;
    }
    try {
      doc = Automerge.load(new Uint8Array(readFileSync(name)));
    } catch (e) {
      fail(name, `Automerge.load refused it: ${e.message}`);
      continue;
    }
    const errors = [];
    const heads = new Set(Automerge.getHeads(doc));
    const want = new Set(sidecar.heads ?? []);
    if (want.size === 0) errors.push("the sidecar names no heads");
    if (heads.size !== want.size || [...want].some((h) => !heads.has(h))) {
      errors.push(`heads ${JSON.stringify([...heads].sort())} != sidecar ${JSON.stringify([...want].sort())}`);
    }
    const fields = Object.entries(sidecar.fields ?? {});
    if (fields.length === 0) errors.push("the sidecar names no fields");
    for (const [path, expected] of fields) {
      const got = at(doc, path);
      if (!got.found) errors.push(`${path}: not in the document`);
      else if (JSON.stringify(got.value) !== JSON.stringify(plain(expected))) {
        errors.push(`${path}: ${JSON.stringify(got.value)} != sidecar ${JSON.stringify(expected)}`);
      }
    }
    if (errors.length > 0) fail(name, errors.join("; "));
    else {
      matched += 1;
      console.log(`ok ${name}: ${heads.size} head(s), ${fields.length} field(s)`);
    }
  }
}
console.log(`automerge-check: ${matched} matched, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
