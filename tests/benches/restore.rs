//! Recovery after a relay's database is restored from a backup (issue 11): how long until
//! every device holds every edit again, how many syncs that takes, and how many bytes pass
//! between the devices and the relay meanwhile, compared with what the relay lost.
//!
//! ```sh
//! cargo bench -p holdfast-tests --bench restore            # full: 501 documents, 50 edits each
//! cargo bench -p holdfast-tests --bench restore -- --json  # + one JSON line per backend
//! ```
//!
//! Without `--bench` (`cargo test --all-targets`) it runs the same steps on a small caseload
//! and three edits per device, in seconds.
//!
//! On both backends, one after the other: SQLite (the backup is `VACUUM INTO` while the relay
//! runs, the restore a copy over its file while it is stopped) and PostgreSQL (a schema of
//! the bench's own from `holdfast_relay::testing::postgres::TestSchema`, on the server
//! `HOLDFAST_TEST_POSTGRES` names or one the fixture starts; `pg_dump` while the relay runs,
//! `pg_restore` into the dropped schema), as `tests/tests/restore_from_backup.rs` does.
//!
//! 1. Device Ada seeds the caseload (full run: `SeedConfig::default()`, 250 case files, 250
//!    action plans and a directory of 2,000 assets = 501 documents), creates a team and
//!    enrols Lee and Sam; all three sync until each holds every document.
//! 2. The relay's data is backed up.
//! 3. Work goes on: Sam, then Ada, then Lee make 50 edits each (quick run: 3) and sync; Ada
//!    syncs again. Ada and Lee hold every edit; Sam holds only his own. An edit is a session
//!    recorded in a seeded case file, "what matters" set in a seeded action plan, or (one in
//!    ten) a new patient's case file and plan. Each device edits documents of its own.
//! 4. The relay is stopped, the backup restored, the relay started again: every envelope
//!    pushed in step 3 is gone, and the relay gives their sequence numbers out again.
//! 5. Each device makes one more edit (work went on while the relay was down).
//! 6. Recovery, the measured part: Lee, Ada, Sam, Lee, … sync one after another until every
//!    device holds every edit (the ones of step 3 and of step 5) and has uploaded everything,
//!    or a whole round moves nothing (recovery stalled: the bench prints its figures, goes
//!    on, and fails at the end, listing what is missing where).
//!    The clock is the sum of those syncs (checking the devices' content, between syncs, is
//!    left out); bytes are counted by a TCP proxy in front of the relay, both ways, heads
//!    included.
//! 7. One more round of syncs, reported apart: what devices still exchange once the
//!    recovery has ended.
//! 8. A new device, Nia, joins and syncs once: it must get every edit from the relay alone
//!    (timed apart from the recovery). Then every document's Automerge heads are compared on
//!    all four devices.
//!
//! The lost bytes are the `bytes` of the envelopes the relay held past the backup point just
//! before it was stopped (read from its database), and "a full re-upload" is every envelope
//! it held then: the baselines the recovery's traffic is compared with.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::{Mode, ms, round};
use holdfast_core::model::case_file::{NewPatient, NewSession, SessionMode};
use holdfast_core::model::doc::DocKind;
use holdfast_core::model::ids::{DocumentId, SessionId};
use holdfast_core::seed::{self, SeedConfig};
use holdfast_core::sync::{Role, SyncReport};
use holdfast_core::{Error, TeamId};
use holdfast_relay::testing::{Backing, TestRelay};
use holdfast_tests::{Counted, Device, Proxy, team_of};

const KINDS: [DocKind; 3] = [DocKind::CaseFile, DocKind::ActionPlan, DocKind::Directory];
/// Recovery that has not converged after this many rounds (every device syncing once)
/// fails the bench.
const MAX_ROUNDS: usize = 5;

fn main() {
    common::init_logging();
    let mode = Mode::from_args();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(run(mode));
}

async fn run(mode: Mode) {
    let (config, edits) = if mode.full {
        (SeedConfig::default(), 50)
    } else {
        (
            SeedConfig {
                seed: 42,
                patients: 12,
                assets: 60,
            },
            3,
        )
    };
    say(
        mode,
        &format!(
            "restore bench ({}): seed {}, {} patients, {} assets ({} documents); 3 devices, {} \
             edits each after the backup, 1 each after the restore",
            if mode.full {
                "full"
            } else {
                "quick smoke run; `cargo bench` for the full one"
            },
            config.seed,
            config.patients,
            config.assets,
            2 * config.patients + 1,
            edits
        ),
    );
    // Both backends run before a failure is reported, so that each one's figures print.
    let mut problems = scenario(mode, Backing::Sqlite, config, edits).await;
    problems.extend(scenario(mode, Backing::postgres(), config, edits).await);
    assert!(
        problems.is_empty(),
        "restore bench: recovery after the restore is incomplete:\n  {}",
        problems.join("\n  ")
    );
}

// ---------------------------------------------------------------------------------------
// Edits

/// One edit a device made, and how to tell that a device holds it.
enum Edit {
    /// A new patient: a case file and its plan, with what matters set.
    NewCase {
        case: DocumentId,
        plan: DocumentId,
        name: String,
        matters: String,
    },
    /// A session recorded in a seeded case file.
    Session { case: DocumentId, id: SessionId },
    /// What matters set in a seeded action plan.
    Matters { plan: DocumentId, text: String },
}

impl Edit {
    fn held_by(&self, d: &Device) -> bool {
        let mut s = d.s();
        match self {
            Edit::NewCase {
                case,
                plan,
                name,
                matters,
            } => {
                let n = s.case_file(*case).map(|c| c.patient.name);
                let m = s.action_plan(*plan).map(|p| p.what_matters);
                matches!((n, m), (Ok(n), Ok(m)) if n == *name && m == *matters)
            }
            Edit::Session { case, id } => s
                .case_file(*case)
                .is_ok_and(|c| c.sessions.iter().any(|x| x.id == *id)),
            Edit::Matters { plan, text } => {
                s.action_plan(*plan).is_ok_and(|p| p.what_matters == *text)
            }
        }
    }

    fn describe(&self) -> String {
        match self {
            Edit::NewCase { name, .. } => format!("new case {name}"),
            Edit::Session { case, id } => format!("session {id} in {case}"),
            Edit::Matters { plan, text } => format!("\"{text}\" in {plan}"),
        }
    }
}

/// A device at work on documents of its own: sessions in its share of the seeded case
/// files (first to last), what matters in its share of the plans (last to first).
struct Worker<'a> {
    name: &'static str,
    device: &'a Device,
    /// Its share of the seeded cases: (case file, action plan).
    cases: Vec<(DocumentId, DocumentId)>,
    next_session: usize,
    next_plan: usize,
    made: usize,
}

impl<'a> Worker<'a> {
    fn new(name: &'static str, device: &'a Device, cases: Vec<(DocumentId, DocumentId)>) -> Self {
        let next_plan = cases.len();
        Worker {
            name,
            device,
            cases,
            next_session: 0,
            next_plan,
            made: 0,
        }
    }

    fn edit(&mut self) -> Edit {
        let i = self.made;
        self.made += 1;
        if !i.is_multiple_of(10) {
            if i % 2 == 1 {
                if let Some(e) = self.session(i) {
                    return e;
                }
            } else if self.next_plan > self.next_session {
                self.next_plan -= 1;
                let plan = self.cases[self.next_plan].1;
                let text = format!(
                    "{} edit {i}: getting back to the allotment group on Thursdays, and seeing \
                     the grandchildren more often",
                    self.name
                );
                self.device.s().set_what_matters(plan, &text).unwrap();
                return Edit::Matters { plan, text };
            }
        }
        let name = format!("{} Patient {i}", self.name);
        let case = self
            .device
            .s()
            .create_case_file(NewPatient::named(&name))
            .unwrap();
        let matters = format!("what matters to {name}: a walk with the dog every morning");
        self.device
            .s()
            .set_what_matters(case.plan_id, &matters)
            .unwrap();
        Edit::NewCase {
            case: case.case_id,
            plan: case.plan_id,
            name,
            matters,
        }
    }

    /// A session in the next of its case files that is not closed, if any is left.
    fn session(&mut self, i: usize) -> Option<Edit> {
        while self.next_session < self.next_plan {
            let case = self.cases[self.next_session].0;
            self.next_session += 1;
            let session = NewSession {
                start: self.device.now_ms() as i64,
                duration_minutes: 45,
                mode: SessionMode::Community,
                attended: true,
                note: format!(
                    "{} edit {i}: met at the library café. Talked through the benefits letter \
                     and the food bank referral; agreed to try the walking group next week and \
                     to call the housing officer together on Monday. Feeling less alone since \
                     the last visit.",
                    self.name
                ),
                holding_functions: Vec::new(),
                follow_up: None,
            };
            match self.device.s().record_session(case, &session) {
                Ok(id) => return Some(Edit::Session { case, id }),
                Err(Error::NotAllowed(_)) => continue, // a closed case
                Err(e) => panic!("recording a session: {e}"),
            }
        }
        None
    }
}

// ---------------------------------------------------------------------------------------
// Backends

/// Envelopes the relay holds (past some sequence number), by kind.
#[derive(Debug, Clone, Copy, Default)]
struct Stored {
    changes: u64,
    change_bytes: u64,
    snapshots: u64,
    snapshot_bytes: u64,
    other: u64,
    other_bytes: u64,
}

impl Stored {
    fn count(&self) -> u64 {
        self.changes + self.snapshots + self.other
    }

    fn bytes(&self) -> u64 {
        self.change_bytes + self.snapshot_bytes + self.other_bytes
    }

    fn describe(&self) -> String {
        format!(
            "{} envelopes, {} ({} change batches {}, {} snapshots {}{})",
            self.count(),
            kb(self.bytes()),
            self.changes,
            kb(self.change_bytes),
            self.snapshots,
            kb(self.snapshot_bytes),
            if self.other > 0 {
                format!(", {} others {}", self.other, kb(self.other_bytes))
            } else {
                String::new()
            }
        )
    }
}

/// The envelopes the relay holds past `after`, read from its database.
fn stored(backing: &Backing, relay: &TestRelay, after: u64) -> Stored {
    let sql = format!(
        "SELECT kind, count(*), coalesce(sum(length(bytes)), 0) FROM envelopes \
         WHERE seq > {after} GROUP BY kind ORDER BY kind"
    );
    let rows: Vec<(i64, u64, u64)> = match backing {
        Backing::Sqlite => {
            let conn = rusqlite::Connection::open_with_flags(
                relay.data_dir().join("relay.db"),
                rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
            )
            .unwrap();
            conn.busy_timeout(Duration::from_secs(5)).unwrap();
            let mut stmt = conn.prepare(&sql).unwrap();
            stmt.query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, i64>(2)?,
                ))
            })
            .unwrap()
            .map(|r| {
                let (k, n, b) = r.unwrap();
                (k, n as u64, b as u64)
            })
            .collect()
        }
        Backing::Postgres(schema) => {
            let output = Command::new(holdfast_relay::testing::postgres::tool("psql"))
                .args(["-X", "-A", "-t", "-F", ",", "-v", "ON_ERROR_STOP=1", "-d"])
                .arg(schema.url())
                .arg("-c")
                .arg(&sql)
                .output()
                .expect("running psql");
            assert!(
                output.status.success(),
                "psql failed: {}",
                String::from_utf8_lossy(&output.stderr)
            );
            String::from_utf8_lossy(&output.stdout)
                .lines()
                .filter(|l| !l.trim().is_empty())
                .map(|l| {
                    let f: Vec<&str> = l.trim().split(',').collect();
                    assert_eq!(f.len(), 3, "a psql row: {l}");
                    (
                        f[0].parse().unwrap(),
                        f[1].parse().unwrap(),
                        f[2].parse().unwrap(),
                    )
                })
                .collect()
        }
    };
    let mut s = Stored::default();
    for (kind, n, b) in rows {
        match kind {
            1 => (s.changes, s.change_bytes) = (n, b),
            2 => (s.snapshots, s.snapshot_bytes) = (n, b),
            _ => (s.other, s.other_bytes) = (s.other + n, s.other_bytes + b),
        }
    }
    s
}

// ---------------------------------------------------------------------------------------
// The scenario

/// One device's sync during recovery.
struct Step {
    who: &'static str,
    report: SyncReport,
    time: Duration,
    bytes: Counted,
}

/// Runs the scenario on `backend` and prints its figures; returns what went wrong.
async fn scenario(
    mode: Mode,
    backend: Backing,
    config: SeedConfig,
    per_device: usize,
) -> Vec<String> {
    let label = backend.name();

    // The relay behind a counting proxy (on the bench's runtime: it outlives the relay's
    // restart); the proxy's URL is the relay's public URL.
    let listener = Proxy::bind().await;
    let public = format!("http://{}", listener.local_addr().unwrap());
    let mut relay = backend
        .start(TestRelay::builder().public_url(public.as_str()))
        .await;
    let proxy = Proxy::start(listener, relay.addr());
    let url = proxy.url();

    // 1. The team, every device holding the whole caseload.
    let t = Instant::now();
    let (ada, lee, sam) = (
        Device::new("Ada Admin"),
        Device::new("Lee Linkworker"),
        Device::new("Sam Linkworker"),
    );
    let seeded = seed::populate(&mut ada.s(), &config).unwrap();
    let team = team_of(&url, &ada, &[&lee, &sam]).await;
    for d in [&ada, &lee, &sam] {
        d.sync(team).await;
    }
    let documents = document_count(&ada);
    for (who, d) in [("Lee", &lee), ("Sam", &sam)] {
        assert_eq!(document_count(d), documents, "{who} holds every document");
    }
    say(
        mode,
        &format!(
            "restore recovery ({label}): setup: {documents} documents seeded on Ada, the team \
             made, all three devices hold them, in {:.0} ms",
            ms(t.elapsed())
        ),
    );

    // 2. The backup, while the relay runs.
    let backup_head = ada.client.head(team).await.unwrap();
    let at_backup = stored(&backend, &relay, 0);
    backend.back_up(&relay);

    // 3. Work goes on: Sam pushes first and pulls nothing of the others'; Ada and Lee end
    // with everything.
    let pairs: Vec<(DocumentId, DocumentId)> = seeded
        .cases
        .iter()
        .map(|c| (c.case_id, c.plan_id))
        .collect();
    let share = pairs.len() / 3;
    let mut sam_w = Worker::new("Sam", &sam, pairs[..share].to_vec());
    let mut ada_w = Worker::new("Ada", &ada, pairs[share..2 * share].to_vec());
    let mut lee_w = Worker::new("Lee", &lee, pairs[2 * share..].to_vec());
    let mut edits: Vec<Edit> = Vec::new();
    let before_work = proxy.counters.get();
    for w in [&mut sam_w, &mut ada_w, &mut lee_w] {
        for _ in 0..per_device {
            edits.push(w.edit());
        }
        w.device.sync(team).await;
    }
    ada.sync(team).await;
    let work_bytes = since(before_work, proxy.counters.get());
    let head_before = ada.client.head(team).await.unwrap();
    let lost = stored(&backend, &relay, backup_head);
    let everything = stored(&backend, &relay, 0);
    assert!(head_before > backup_head);
    for e in &edits {
        assert!(e.held_by(&ada) && e.held_by(&lee), "before the restore");
    }

    // 4. The restore.
    relay.stop().await;
    backend.restore(&relay);
    relay.restart().await;
    let restored = stored(&backend, &relay, 0);
    assert_eq!(
        restored.count(),
        at_backup.count(),
        "the relay holds what it held at the backup"
    );

    // 5. Work done while the relay was down.
    for w in [&mut lee_w, &mut ada_w, &mut sam_w] {
        edits.push(w.edit());
    }

    // 6. Recovery: rounds of syncs until every device holds every edit, or until a whole
    // round moved nothing (then recovery has stalled, which fails the bench at the end).
    let devices = [("Lee", &lee), ("Ada", &ada), ("Sam", &sam)];
    let mut problems: Vec<String> = Vec::new();
    let mut steps: Vec<Step> = Vec::new();
    let recovery_start = proxy.counters.get();
    let mut converged = false;
    let mut stalled = false;
    'rounds: for _ in 0..MAX_ROUNDS {
        let mut moved = false;
        for (who, d) in devices {
            let before = proxy.counters.get();
            let t = Instant::now();
            let report = d.sync(team).await;
            let time = t.elapsed();
            moved |= report.push.acknowledged > 0 || report.pull.applied > 0;
            steps.push(Step {
                who,
                report,
                time,
                bytes: since(before, proxy.counters.get()),
            });
            // Outside the clock.
            if devices.iter().all(|(_, d)| holds_all(d, &edits, team)) {
                converged = true;
                break 'rounds;
            }
        }
        if !moved {
            stalled = true;
            break;
        }
    }
    let recovery_bytes = since(recovery_start, proxy.counters.get());
    let recovery_time: Duration = steps.iter().map(|s| s.time).sum();
    let syncs = steps.len();
    let rounds = syncs.div_ceil(devices.len());
    let past_backup_after = stored(&backend, &relay, backup_head);
    let mut lacking: Vec<String> = Vec::new();
    if !converged {
        for (who, d) in devices {
            let missing: Vec<&Edit> = edits.iter().filter(|e| !e.held_by(d)).collect();
            if !missing.is_empty() {
                lacking.push(format!(
                    "{who} lacks {} of the {} edits ({} sessions in seeded case files, {} \
                     \"what matters\" in seeded plans, {} new cases), e.g. {}",
                    missing.len(),
                    edits.len(),
                    missing
                        .iter()
                        .filter(|e| matches!(e, Edit::Session { .. }))
                        .count(),
                    missing
                        .iter()
                        .filter(|e| matches!(e, Edit::Matters { .. }))
                        .count(),
                    missing
                        .iter()
                        .filter(|e| matches!(e, Edit::NewCase { .. }))
                        .count(),
                    missing[0].describe()
                ));
            }
            if !d.s().sync_status(team).unwrap().everything_uploaded {
                lacking.push(format!("{who} has not uploaded everything"));
            }
        }
        problems.push(format!(
            "recovery did not converge: after {syncs} syncs ({}): {}",
            if stalled {
                "the last round moved nothing"
            } else {
                "the round limit"
            },
            lacking.join("; ")
        ));
    }

    // 7. One more round.
    let before_settle = proxy.counters.get();
    let mut settle: Vec<Step> = Vec::new();
    for (who, d) in devices {
        let t = Instant::now();
        let before = proxy.counters.get();
        let report = d.sync(team).await;
        settle.push(Step {
            who,
            report,
            time: t.elapsed(),
            bytes: since(before, proxy.counters.get()),
        });
    }
    let settle_bytes = since(before_settle, proxy.counters.get());
    let past_backup_settled = stored(&backend, &relay, backup_head);
    let relay_after = stored(&backend, &relay, 0);

    // 8. A new device gets everything from the relay alone.
    let nia = Device::new("Nia New");
    let code = ada
        .client
        .create_invite(team, Role::LinkWorker, None, 60_000)
        .await
        .unwrap();
    nia.client.join_by_invite(&nia.keys, &code).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let before_nia = proxy.counters.get();
    let t = Instant::now();
    let nia_report = nia.sync(team).await;
    let nia_time = t.elapsed();
    let nia_bytes = since(before_nia, proxy.counters.get());
    let nia_missing: Vec<&Edit> = edits.iter().filter(|e| !e.held_by(&nia)).collect();
    if let Some(e) = nia_missing.first() {
        problems.push(format!(
            "the relay lost {} of the edits for good: a new device lacks them, e.g. {}",
            nia_missing.len(),
            e.describe()
        ));
    }
    let (heads_compared, heads_differ) =
        same_heads(&[("Ada", &ada), ("Lee", &lee), ("Sam", &sam), ("Nia", &nia)]);
    if !heads_differ.is_empty() {
        problems.push(format!(
            "{} documents differ between devices, e.g. {}",
            heads_differ.len(),
            heads_differ[..heads_differ.len().min(3)].join("; ")
        ));
    }

    // Results.
    let up = recovery_bytes.wire_up;
    let down = recovery_bytes.wire_down;
    say(
        mode,
        &format!(
            "restore recovery ({label}): 3 devices, {} lost envelopes ({}), {} in {:.0} ms over \
             {syncs} syncs ({rounds} rounds), {} up / {} down ({}× the lost bytes up, {}× up and \
             down)",
            lost.count(),
            kb(lost.bytes()),
            if converged {
                "recovered"
            } else {
                "NOT RECOVERED (stopped)"
            },
            ms(recovery_time),
            kb(up),
            kb(down),
            round(up as f64 / lost.bytes() as f64, 2),
            round((up + down) as f64 / lost.bytes() as f64, 2),
        ),
    );
    say(
        mode,
        &format!(
            "    lost: {} (relay head {head_before} → {backup_head}); {} edits ({per_device} per \
             device) then, which cost {} up / {} down when first made",
            lost.describe(),
            3 * per_device,
            kb(work_bytes.wire_up),
            kb(work_bytes.wire_down)
        ),
    );
    say(
        mode,
        &format!(
            "    baseline: the relay held {} before the restore; a full re-upload of it would be \
             {}: recovery uploaded {}% of that",
            everything.describe(),
            kb(everything.bytes()),
            round(100.0 * up as f64 / everything.bytes() as f64, 1)
        ),
    );
    for (i, s) in steps.iter().enumerate() {
        say(mode, &format!("    sync {}: {}", i + 1, describe_step(s)));
    }
    say(
        mode,
        &format!(
            "    the relay past the backup point after recovery: {} (the 3 edits made while it \
             was down included)",
            past_backup_after.describe()
        ),
    );
    say(
        mode,
        &format!(
            "    one more round after recovery: {} up / {} down, {:.0} ms (what devices still \
             exchange once the recovery has ended)",
            kb(settle_bytes.wire_up),
            kb(settle_bytes.wire_down),
            ms(settle.iter().map(|s| s.time).sum())
        ),
    );
    for s in &settle {
        say(mode, &format!("      {}", describe_step(s)));
    }
    say(
        mode,
        &format!(
            "    the relay after that: {} in all; past the backup point {}",
            relay_after.describe(),
            past_backup_settled.describe()
        ),
    );
    say(
        mode,
        &format!(
            "restore new device ({label}): bootstrapped from the relay alone in {:.0} ms, {} \
             down / {} up, {} envelopes applied in {} pages; {} of the {} edits present; \
             heads of {heads_compared} documents compared on the four devices: {}",
            ms(nia_time),
            kb(nia_bytes.wire_down),
            kb(nia_bytes.wire_up),
            nia_report.pull.applied,
            nia_report.pull.pages,
            edits.len() - nia_missing.len(),
            edits.len(),
            if heads_differ.is_empty() {
                "all equal".to_owned()
            } else {
                format!("{} differences", heads_differ.len())
            }
        ),
    );
    for p in &problems {
        say(mode, &format!("    PROBLEM: {p}"));
    }
    if mode.json {
        let line = serde_json::json!({
            "bench": "restore",
            "backend": label,
            "full": mode.full,
            "documents": documents,
            "edits": edits.len(),
            "lost_envelopes": lost.count(),
            "lost_bytes": lost.bytes(),
            "relay_bytes_before_restore": everything.bytes(),
            "recovery_ms": ms(recovery_time),
            "recovery_syncs": syncs,
            "recovery_rounds": rounds,
            "recovery_bytes_up": up,
            "recovery_bytes_down": down,
            "restarts_detected": steps.iter().filter(|s| restarted(&s.report)).count(),
            "snapshots_reuploaded": steps.iter().map(|s| s.report.snapshots).sum::<usize>(),
            "settle_bytes_up": settle_bytes.wire_up,
            "settle_bytes_down": settle_bytes.wire_down,
            "new_device_ms": ms(nia_time),
            "new_device_bytes_down": nia_bytes.wire_down,
            "converged": converged,
            "verified": problems.is_empty(),
        });
        println!("{line}");
    }
    problems
        .into_iter()
        .map(|p| format!("{label}: {p}"))
        .collect()
}

fn restarted(r: &SyncReport) -> bool {
    r.push.restarted.or(r.pull.restarted).is_some()
}

fn describe_step(s: &Step) -> String {
    let r = &s.report;
    let restart = match r.push.restarted.or(r.pull.restarted) {
        Some(x) => format!(
            "found the loss (agreed up to seq {}, {} documents to upload again); ",
            x.agreed, x.documents
        ),
        None => String::new(),
    };
    format!(
        "{:<3} {restart}pushed {} envelopes in {} requests, pulled {} envelopes in {} pages, {} \
         snapshots queued; {} up / {} down, {:.0} ms",
        s.who,
        r.push.acknowledged,
        r.push.requests,
        r.pull.applied,
        r.pull.pages,
        r.snapshots,
        kb(s.bytes.wire_up),
        kb(s.bytes.wire_down),
        ms(s.time)
    )
}

/// Whether `d` holds every edit and has nothing left to upload.
fn holds_all(d: &Device, edits: &[Edit], team: TeamId) -> bool {
    edits.iter().all(|e| e.held_by(d)) && d.s().sync_status(team).unwrap().everything_uploaded
}

fn document_count(d: &Device) -> usize {
    let s = d.s();
    KINDS
        .iter()
        .map(|k| s.document_ids(*k).unwrap().len())
        .sum()
}

/// Compares every device's documents and their Automerge heads with the first device's.
/// Returns how many documents the first holds, and the differences found.
fn same_heads(devices: &[(&str, &Device)]) -> (usize, Vec<String>) {
    let (first, reference) = devices[0];
    let mut n = 0;
    let mut differ: Vec<String> = Vec::new();
    for kind in KINDS {
        let ids = reference.s().document_ids(kind).unwrap();
        for (who, d) in &devices[1..] {
            if d.s().document_ids(kind).unwrap() != ids {
                differ.push(format!(
                    "{who} and {first} hold different {kind:?} documents"
                ));
            }
        }
        for id in ids {
            let heads = reference.s().heads(id).unwrap();
            for (who, d) in &devices[1..] {
                if d.s().heads(id).ok().as_ref() != Some(&heads) {
                    differ.push(format!("{kind:?} {id}: {who}'s heads are not {first}'s"));
                }
            }
            n += 1;
        }
    }
    (n, differ)
}

fn since(a: Counted, b: Counted) -> Counted {
    Counted {
        wire_down: b.wire_down - a.wire_down,
        wire_up: b.wire_up - a.wire_up,
        body_down: b.body_down - a.body_down,
        pull_body: b.pull_body - a.pull_body,
        responses: b.responses - a.responses,
        pulls: b.pulls - a.pulls,
        connections: b.connections - a.connections,
    }
}

fn kb(bytes: u64) -> String {
    format!("{:.1} KB", bytes as f64 / 1024.0)
}

/// Human lines: stdout, or stderr when stdout carries JSON lines.
fn say(mode: Mode, line: &str) {
    if mode.json {
        eprintln!("{line}");
    } else {
        println!("{line}");
    }
}
