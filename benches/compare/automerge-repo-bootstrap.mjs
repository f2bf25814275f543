#!/usr/bin/env node
// New-device bootstrap against an automerge-repo sync server, on Holdfast's seeded caseload.
//
//   node automerge-repo-bootstrap.mjs EXPORT.json [--cold-server | --seed-storage] [--timeout-s 180]
//                                     [--keepalive-ms 60000] [--keep-tmp]
//
// EXPORT.json is the output of `holdfast --json export` after `holdfast seed`.
//
// Three processes, all on loopback, all children of this one (which loads no Automerge itself):
//   server  automerge-repo sync server: WebSocketServerAdapter on 127.0.0.1:<free port>,
//           NodeFSStorageAdapter in a temp dir, sharePolicy () => false (it serves what is asked
//           for by id and pushes nothing, like automerge-repo-sync-server).
//   seed    a client that creates one document per case file, per action plan and one for the
//           directory (plain strings as ImmutableString, no Text), then waits until the server holds
//           every document at the seeder's heads and has flushed them to its storage.
//   fetch   a FRESH client (new Repo, empty NodeFS storage, never seen the server) that find()s all
//           documents at once and waits until every handle is ready with content. Only this phase is
//           timed, from `new Repo(...)` (so the connection is included) to the last document ready.
//
// With --cold-server the server is stopped after seeding and a new server process is started on the
// same storage directory, so the fresh client is served from disk instead of from the server's memory.
// With --seed-storage (for large exports: seeding through the server is slow) the seeder has no network
// and writes the documents straight into the server's storage directory (repo.flush()); the server is
// then started on it, cold, as with --cold-server.
//
// Prints one JSON line on stdout; everything else goes to stderr. Exits non-zero on any failure,
// on an unavailable document, on content that differs from the export, or when the global timeout
// (180 s by default) runs out.

import { fork } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { once } from "node:events";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { readExport } from "./export-reader.mjs";

const SCRIPT = fileURLToPath(import.meta.url);
const HERE = path.dirname(SCRIPT);

function log(...args) {
  process.stderr.write(`[amrepo-bench${ROLE ? ":" + ROLE : ""}] ${args.join(" ")}\n`);
}

const roleIdx = process.argv.indexOf("--role");
const ROLE = roleIdx > 0 ? process.argv[roleIdx + 1] : null;

// ---------------------------------------------------------------------------------------------
// Shared helpers

/** Plain JSON -> Automerge initial value with every string as an ImmutableString (scalar, not Text). */
function toAutomergeValue(v, ImmutableString) {
  if (typeof v === "string") return new ImmutableString(v);
  if (Array.isArray(v)) return v.map(x => toAutomergeValue(x, ImmutableString));
  if (v !== null && typeof v === "object") {
    const out = {};
    for (const [k, x] of Object.entries(v)) out[k] = toAutomergeValue(x, ImmutableString);
    return out;
  }
  return v; // number, boolean, null
}

/** Canonical JSON text: keys sorted at every level (Automerge maps do not keep insertion order). */
function canonical(v) {
  if (Array.isArray(v)) return "[" + v.map(canonical).join(",") + "]";
  if (v !== null && typeof v === "object") {
    return "{" + Object.keys(v).sort().map(k => JSON.stringify(k) + ":" + canonical(v[k])).join(",") + "}";
  }
  return JSON.stringify(v);
}

/** The documents of the export, in a fixed order: case files, action plans, directories. */
function documentsOfExport(exportPath) {
  const data = readExport(exportPath);
  for (const key of ["case_files", "action_plans", "directories"]) {
    if (!Array.isArray(data[key])) throw new Error(`${exportPath}: no "${key}" array: not a holdfast export?`);
  }
  const docs = [];
  for (const [id, cf] of data.case_files) docs.push({ kind: "case_file", key: id, content: cf });
  for (const [id, ap] of data.action_plans) docs.push({ kind: "action_plan", key: id, content: ap });
  for (const [id, area, assets] of data.directories) docs.push({ kind: "directory", key: id, content: { area, assets } });
  return docs;
}

function headsEqual(a, b) {
  if (!a || !b || a.length !== b.length) return false;
  const sa = [...a].sort();
  const sb = [...b].sort();
  return sa.every((h, i) => h === sb[i]);
}

/** Where a child has got to, for the orchestrator to report if the run is cut short. */
function progress(fields) {
  const rss_mb = Math.round(process.memoryUsage().rss / (1024 * 1024));
  process.send({ type: "progress", role: ROLE, rss_mb, ...fields });
}

/** Every `ms`, `f()` (a progress report) while the promise-returning `work` runs. */
async function reporting(ms, f, work) {
  const timer = setInterval(f, ms);
  try {
    return await work();
  } finally {
    clearInterval(timer);
  }
}

function childMain(handlers) {
  // A child never outlives its parent: the IPC channel closing means the orchestrator is gone.
  process.on("disconnect", () => process.exit(1));
  const reply = msg => new Promise(resolve => process.send(msg, () => resolve()));
  process.on("message", async msg => {
    try {
      const h = handlers[msg.type];
      if (!h) throw new Error(`unknown message ${msg.type}`);
      await h(msg, reply);
    } catch (err) {
      await reply({ type: "error", message: String(err && err.stack ? err.stack : err) });
      process.exit(1);
    }
  });
  process.send({ type: "alive" });
}

// ---------------------------------------------------------------------------------------------
// Role: sync server

async function serverRole() {
  const { Repo } = await import("@automerge/automerge-repo");
  const { WebSocketServerAdapter } = await import("@automerge/automerge-repo-network-websocket");
  const { NodeFSStorageAdapter } = await import("@automerge/automerge-repo-storage-nodefs");
  const { WebSocketServer } = await import("ws");
  let repo;
  let wss;
  childMain({
    async start({ storageDir, keepAliveMs }, reply) {
      wss = new WebSocketServer({ host: "127.0.0.1", port: 0 });
      await once(wss, "listening");
      repo = new Repo({
        network: [new WebSocketServerAdapter(wss, keepAliveMs)],
        storage: new NodeFSStorageAdapter(storageDir),
        peerId: "bench-sync-server",
        // A sync server pushes nothing unasked: peers ask for documents by id.
        sharePolicy: async () => false,
      });
      await reply({ type: "listening", port: wss.address().port });
    },
    // Wait until every document is held at the given heads, then write them all to storage.
    async "await-docs"({ docs, pollMs }, reply) {
      const t0 = performance.now();
      // Only the documents not yet held at their heads are looked at again.
      let missing = docs;
      let lastReport = t0;
      for (;;) {
        missing = missing.filter(({ documentId, heads }) => {
          const h = repo.handles[documentId];
          return !h || !h.isReady() || !headsEqual(h.heads(), heads);
        });
        if (missing.length === 0) break;
        if (performance.now() - lastReport > 10000) {
          lastReport = performance.now();
          progress({ phase: "server-receiving", held: docs.length - missing.length, of: docs.length, elapsed_ms: Math.round(lastReport - t0) });
        }
        await new Promise(r => setTimeout(r, pollMs));
      }
      const held = performance.now();
      progress({ phase: "server-flushing", held: docs.length, of: docs.length });
      await repo.flush(docs.map(d => d.documentId));
      const flushed = performance.now();
      await reply({ type: "stored", held_ms: held - t0, flush_ms: flushed - held });
    },
    async shutdown(_msg, reply) {
      await repo.shutdown();
      await new Promise(r => wss.close(() => r()));
      await reply({ type: "bye" });
      process.exit(0);
    },
  });
}

// ---------------------------------------------------------------------------------------------
// Role: seeding client

async function seedRole() {
  const A = await import("@automerge/automerge");
  const { Repo } = await import("@automerge/automerge-repo");
  const { WebSocketClientAdapter } = await import("@automerge/automerge-repo-network-websocket");
  const { NodeFSStorageAdapter } = await import("@automerge/automerge-repo-storage-nodefs");
  let repo;
  childMain({
    // Through the server (port), or straight into the server's storage (storageDir, no
    // network: the documents are flushed there before the server starts).
    async start({ exportPath, port, storageDir }, reply) {
      const docs = documentsOfExport(exportPath);
      repo = storageDir
        ? new Repo({ storage: new NodeFSStorageAdapter(storageDir), peerId: "bench-seeder" })
        : new Repo({
            network: [new WebSocketClientAdapter(`ws://127.0.0.1:${port}`, 1000)],
            peerId: "bench-seeder",
          });
      const t0 = performance.now();
      const manifest = [];
      const sizes = {};
      for (const d of docs) {
        if (manifest.length % 5000 === 4999) {
          progress({ phase: "seeding", created: manifest.length, of: docs.length, elapsed_ms: Math.round(performance.now() - t0) });
          await new Promise(r => setImmediate(r));
        }
        const handle = repo.create(toAutomergeValue(d.content, A.ImmutableString));
        const s = (sizes[d.kind] ??= { documents: 0, json_bytes: 0, automerge_bytes: 0 });
        s.documents++;
        s.json_bytes += Buffer.byteLength(JSON.stringify(d.content));
        s.automerge_bytes += A.save(handle.doc()).byteLength;
        manifest.push({ kind: d.kind, key: d.key, url: handle.url, documentId: handle.documentId, heads: handle.heads() });
      }
      const created = performance.now();
      let flush_ms = null;
      if (storageDir) {
        progress({ phase: "flushing", created: manifest.length, of: docs.length, elapsed_ms: Math.round(created - t0) });
        await repo.flush();
        flush_ms = performance.now() - created;
      }
      await reply({ type: "seeded", manifest, sizes, create_ms: created - t0, flush_ms });
    },
    async shutdown(_msg, reply) {
      await repo.shutdown();
      await reply({ type: "bye" });
      process.exit(0);
    },
  });
}

// ---------------------------------------------------------------------------------------------
// Role: fresh client (the timed part)

async function fetchRole() {
  const { Repo } = await import("@automerge/automerge-repo");
  const { WebSocketClientAdapter } = await import("@automerge/automerge-repo-network-websocket");
  const { NodeFSStorageAdapter } = await import("@automerge/automerge-repo-storage-nodefs");

  // Counts what arrives over the websocket: message payloads as the adapter sees them, and the bytes
  // read from the TCP socket (frames, headers and the HTTP upgrade response included).
  const counters = { messages: 0, payloadBytes: 0, sockets: [] };
  class CountingClientAdapter extends WebSocketClientAdapter {
    constructor(url, retryInterval) {
      super(url, retryInterval);
      const inner = this.onMessage;
      this.onMessage = event => {
        counters.messages++;
        counters.payloadBytes += event.data.byteLength;
        inner(event);
      };
    }
    connect(peerId, peerMetadata) {
      super.connect(peerId, peerMetadata);
      counters.sockets.push(this.socket);
    }
  }
  const wire = () => {
    let read = 0;
    let written = 0;
    for (const s of counters.sockets) {
      // `_socket` is ws's underlying net.Socket (internal, but stable across ws 8.x).
      read += s._socket?.bytesRead ?? 0;
      written += s._socket?.bytesWritten ?? 0;
    }
    return { read, written };
  };

  let repo;
  childMain({
    async start({ port, storageDir, urls, exportPath, manifest }, reply) {
      const t0 = performance.now();
      repo = new Repo({
        network: [new CountingClientAdapter(`ws://127.0.0.1:${port}`, 1000)],
        storage: new NodeFSStorageAdapter(storageDir),
        peerId: `bench-fresh-client-${process.pid}`,
      });
      let ready = 0;
      const report = () =>
        progress({
          phase: "fetching",
          ready,
          of: urls.length,
          elapsed_ms: Math.round(performance.now() - t0),
          bytes_received: counters.payloadBytes,
          messages_received: counters.messages,
          connections: counters.sockets.length,
        });
      const handles = await reporting(10000, report, () =>
        Promise.all(
          urls.map(u =>
            repo.find(u).then(h => {
              ready++;
              return h;
            }),
          ),
        ),
      );
      for (const h of handles) {
        const doc = h.doc();
        if (!doc || Object.keys(doc).length === 0) throw new Error(`${h.url} is ready but empty`);
      }
      const t1 = performance.now();
      const snapshot = { payload: counters.payloadBytes, messages: counters.messages, connections: counters.sockets.length, ...wire() };
      await repo.flush();
      const t2 = performance.now();

      // Not timed: every document must equal what was seeded.
      const byKey = new Map(documentsOfExport(exportPath).map(d => [`${d.kind}/${d.key}`, d.content]));
      let mismatches = 0;
      handles.forEach((h, i) => {
        const m = manifest[i];
        const want = canonical(byKey.get(`${m.kind}/${m.key}`));
        const got = canonical(JSON.parse(JSON.stringify(h.doc())));
        if (want !== got) {
          mismatches++;
          if (mismatches <= 3) log(`content differs for ${m.kind} ${m.key}`);
        }
      });
      if (mismatches) throw new Error(`${mismatches} of ${handles.length} documents differ from the export`);

      await reply({
        type: "fetched",
        documents: handles.length,
        bootstrap_ms: t1 - t0,
        flush_ms: t2 - t1,
        bytes_received: snapshot.payload,
        bytes_received_wire: snapshot.read,
        bytes_sent_wire: snapshot.written,
        messages_received: snapshot.messages,
        connections: snapshot.connections,
        verified: true,
      });
    },
    async shutdown(_msg, reply) {
      await repo.shutdown();
      await reply({ type: "bye" });
      process.exit(0);
    },
  });
}

// ---------------------------------------------------------------------------------------------
// Orchestrator

function usage(msg) {
  if (msg) process.stderr.write(`error: ${msg}\n`);
  process.stderr.write(
    "usage: node automerge-repo-bootstrap.mjs EXPORT.json [--cold-server | --seed-storage] [--timeout-s 180] [--keepalive-ms 60000] [--keep-tmp]\n",
  );
  process.exit(2);
}

function parseArgs(argv) {
  const opts = { exportPath: null, cold: false, seedStorage: false, timeoutS: 180, keepAliveMs: 60000, keepTmp: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--cold-server") opts.cold = true;
    else if (a === "--seed-storage") opts.seedStorage = true;
    else if (a === "--keep-tmp") opts.keepTmp = true;
    else if (a === "--timeout-s") opts.timeoutS = Number(argv[++i]);
    else if (a === "--keepalive-ms") opts.keepAliveMs = Number(argv[++i]);
    else if (a === "-h" || a === "--help") usage();
    else if (a.startsWith("-")) usage(`unknown option ${a}`);
    else if (!opts.exportPath) opts.exportPath = a;
    else usage(`unexpected argument ${a}`);
  }
  if (!opts.exportPath) usage("EXPORT.json is required");
  if (!fs.existsSync(opts.exportPath)) usage(`${opts.exportPath} does not exist`);
  if (!(opts.timeoutS > 0)) usage("--timeout-s must be a positive number");
  if (!(opts.keepAliveMs > 0)) usage("--keepalive-ms must be a positive number");
  return opts;
}

function versions() {
  const v = {};
  for (const p of [
    "@automerge/automerge",
    "@automerge/automerge-repo",
    "@automerge/automerge-repo-network-websocket",
    "@automerge/automerge-repo-storage-nodefs",
    "ws",
  ]) {
    try {
      v[p] = JSON.parse(fs.readFileSync(path.join(HERE, "node_modules", p, "package.json"), "utf8")).version;
    } catch {
      v[p] = null;
    }
  }
  v.node = process.versions.node;
  return v;
}

async function orchestrate() {
  const opts = parseArgs(process.argv.slice(2));
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "holdfast-amrepo-bench-"));
  const children = new Set();

  const cleanup = () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
    if (!opts.keepTmp) fs.rmSync(tmp, { recursive: true, force: true });
  };
  // How far the run got: the phase and each child's last progress report. A run cut short
  // (timeout, crash, out of memory) prints it as its JSON line, with "completed": false.
  const reached = { phase: "starting", started_at: Date.now(), progress: {} };
  const phase = p => {
    reached.phase = p;
    reached[`${p}_at_s`] = Math.round((Date.now() - reached.started_at) / 100) / 10;
  };
  const die = (msg, code = 1) => {
    log(`FAILED: ${msg}`);
    const line = {
      system: "automerge-repo",
      completed: false,
      bootstrap_ms: null,
      reason: msg.split("\n")[0].slice(0, 500),
      exit_code: code,
      reached,
      elapsed_s: Math.round((Date.now() - reached.started_at) / 100) / 10,
      server: opts.cold || opts.seedStorage ? "cold" : "warm",
      seeded: opts.seedStorage ? "storage" : "network",
      keepalive_ms: opts.keepAliveMs,
      versions: versions(),
    };
    process.stdout.write(JSON.stringify(line) + "\n");
    cleanup();
    process.exit(code);
  };
  const deadline = setTimeout(() => die(`global timeout of ${opts.timeoutS} s reached`, 3), opts.timeoutS * 1000);
  process.on("SIGINT", () => die("interrupted", 130));
  process.on("SIGTERM", () => die("terminated", 143));

  // A child process speaking the little IPC protocol above.
  const spawnRole = role => {
    const child = fork(SCRIPT, ["--role", role], { cwd: HERE, stdio: ["ignore", 2, 2, "ipc"] });
    children.add(child);
    const inbox = [];
    const waiters = [];
    let exited = null;
    child.on("message", msg => {
      if (msg.type === "error") return die(`${role}: ${msg.message}`);
      if (msg.type === "progress") {
        reached.progress[role] = msg;
        const { type: _t, role: _r, ...fields } = msg;
        return log(`${role} progress: ${JSON.stringify(fields)}`);
      }
      const w = waiters.findIndex(x => x.type === msg.type);
      if (w >= 0) waiters.splice(w, 1)[0].resolve(msg);
      else inbox.push(msg);
    });
    child.on("exit", (code, signal) => {
      exited = { code, signal };
      children.delete(child);
      for (const w of waiters.splice(0)) w.reject(new Error(`${role} exited (code ${code}, signal ${signal}) while we waited for "${w.type}"`));
    });
    child.next = type =>
      new Promise((resolve, reject) => {
        const i = inbox.findIndex(m => m.type === type);
        if (i >= 0) return resolve(inbox.splice(i, 1)[0]);
        if (exited) return reject(new Error(`${role} already exited (code ${exited.code})`));
        waiters.push({ type, resolve, reject });
      });
    child.request = async (msg, replyType) => {
      const p = child.next(replyType);
      child.send(msg);
      return p;
    };
    child.stop = async () => {
      if (exited) return;
      const gone = once(child, "exit");
      await child.request({ type: "shutdown" }, "bye");
      await gone;
    };
    return child;
  };

  const startServer = async storageDir => {
    const server = spawnRole("server");
    await server.next("alive");
    const { port } = await server.request({ type: "start", storageDir, keepAliveMs: opts.keepAliveMs }, "listening");
    return { server, port };
  };

  try {
    const serverDir = path.join(tmp, "server-storage");
    const freshDir = path.join(tmp, "fresh-client-storage");

    let server;
    let port;
    let seeded;
    if (opts.seedStorage) {
      // (a+b) the documents written straight into the server's storage, then the server
      // started on it: it loads each document from disk when it is first asked for it.
      phase("seeding");
      const seed = spawnRole("seed");
      await seed.next("alive");
      seeded = await seed.request({ type: "start", exportPath: path.resolve(opts.exportPath), storageDir: serverDir }, "seeded");
      log(`seeder created ${seeded.manifest.length} documents in ${seeded.create_ms.toFixed(0)} ms and wrote them to the server's storage in ${seeded.flush_ms.toFixed(0)} ms`);
      await seed.stop();
      phase("server");
      ({ server, port } = await startServer(serverDir));
      log(`sync server on its seeded storage (cold): 127.0.0.1:${port}, keepAliveInterval ${opts.keepAliveMs} ms`);
    } else {
      // (a) the sync server
      phase("server");
      ({ server, port } = await startServer(serverDir));
      log(`sync server on 127.0.0.1:${port}, keepAliveInterval ${opts.keepAliveMs} ms, storage ${serverDir}`);

      // (b) seed it, and wait until it holds and has stored every document
      phase("seeding");
      const seed = spawnRole("seed");
      await seed.next("alive");
      seeded = await seed.request({ type: "start", exportPath: path.resolve(opts.exportPath), port }, "seeded");
      log(`seeder created ${seeded.manifest.length} documents in ${seeded.create_ms.toFixed(0)} ms`);
      phase("server-receiving");
      const stored = await server.request(
        { type: "await-docs", docs: seeded.manifest.map(m => ({ documentId: m.documentId, heads: m.heads })), pollMs: 100 },
        "stored",
      );
      log(`server holds all of them (${stored.held_ms.toFixed(0)} ms after seeding), flushed in ${stored.flush_ms.toFixed(0)} ms`);
      await seed.stop();
    }

    if (opts.cold && !opts.seedStorage) {
      phase("cold-restart");
      await server.stop();
      ({ server, port } = await startServer(serverDir));
      log(`restarted the sync server on its storage (cold): 127.0.0.1:${port}`);
    }

    // (c) the fresh client: the timed part
    phase("fetching");
    const fresh = spawnRole("fetch");
    await fresh.next("alive");
    const result = await fresh.request(
      {
        type: "start",
        port,
        storageDir: freshDir,
        urls: seeded.manifest.map(m => m.url),
        manifest: seeded.manifest.map(m => ({ kind: m.kind, key: m.key })),
        exportPath: path.resolve(opts.exportPath),
      },
      "fetched",
    );
    log(`fresh client: ${result.documents} documents ready in ${result.bootstrap_ms.toFixed(0)} ms, content verified`);
    await fresh.stop();
    await server.stop();

    clearTimeout(deadline);
    const line = {
      system: "automerge-repo",
      documents: result.documents,
      bootstrap_ms: Math.round(result.bootstrap_ms * 10) / 10,
      bytes_received: result.bytes_received,
      bytes_received_wire: result.bytes_received_wire,
      bytes_sent_wire: result.bytes_sent_wire,
      messages_received: result.messages_received,
      connections: result.connections,
      flush_ms: Math.round(result.flush_ms * 10) / 10,
      server: opts.cold || opts.seedStorage ? "cold" : "warm",
      seeded: opts.seedStorage ? "storage" : "network",
      keepalive_ms: opts.keepAliveMs,
      sizes: seeded.sizes,
      verified: result.verified,
      versions: versions(),
    };
    process.stdout.write(JSON.stringify(line) + "\n");
    cleanup();
    process.exit(0);
  } catch (err) {
    die(err && err.stack ? err.stack : String(err));
  }
}

if (ROLE === "server") await serverRole();
else if (ROLE === "seed") await seedRole();
else if (ROLE === "fetch") await fetchRole();
else if (ROLE) usage(`unknown role ${ROLE}`);
else await orchestrate();
