//! Access (issue 4): revoking a device of a 20-device team that holds 501 documents, and
//! enrolling a new link worker device in such a team (one-time invite, redeem, first sync
//! with the bootstrap of the caseload).
//!
//! ```sh
//! cargo bench -p holdfast-tests --bench access            # full: 20 devices, 501 documents
//! cargo bench -p holdfast-tests --bench access -- --json  # + one JSON line per run
//! ```
//!
//! Without `--bench` (`cargo test --all-targets`) it runs the same steps on a 6-device team
//! with a small caseload, in seconds, and checks the same behaviour.
//!
//! The team, at an in-process relay (loopback, temp dir, rate limit off): the admin seeds the
//! caseload (`SeedConfig::default()`: seed 42, 250 case files with sessions, 250 action plans,
//! one directory of 2,000 assets = 501 documents), creates the team and uploads everything;
//! then it enrols 1 supervisor and 14 link workers (one-time invites; each bootstraps the
//! caseload) and shares 4 patients' action plans with their phones (`share_plan`): 20 active
//! devices, no pending invite.
//!
//! Each run:
//!
//! 1. Revocation of a link worker (a different one each run). The admin first brings its
//!    membership up to date (`sync_access`, outside the clock), then
//!    - `Store::prepare_revocation` alone is timed (the crypto: Revoke entry signed, fresh
//!      epoch key, one X-Wing HPKE seal + Ed25519 signature per remaining device); its
//!      bundles are counted and measured and then dropped (nothing changes until a relay
//!      accepts one);
//!    - `SyncClient::revoke_device` is timed end to end: membership and keys pulled again,
//!      the same preparation, the POST of the entry with its bundles (the relay folds the
//!      entry, checks there is a bundle for every remaining device, stores it all in one
//!      transaction), the new key stored, membership and keys pulled again (the admin opens
//!      its own bundle). "Round trip" below = end to end − the preparation's median.
//!
//!    After the clock: the revoked device's next sync is refused; the supervisor and a
//!    patient pull the new epoch's key (the patient only its plan's).
//! 2. Enrolment of a replacement link worker on a fresh device (the team is back to 20):
//!    `create_invite` on the admin (membership and keys pulled, Invite entry signed, the
//!    keys of every epoch wrapped to the invite's HPKE key, POST), then `redeem_invite` on the
//!    new device until its first sync has finished. The redeem is split from the first sync
//!    at the "team joined" event `Store::join_team` logs (caught by a tracing layer): before
//!    it, GET the invite record, check and sign the Redeem entry, POST it, store the team;
//!    after it, the first sync (sign-in, membership + key bundles verified and opened,
//!    nothing to push, the compact bootstrap pull of every document committed to SQLCipher),
//!    itself split at the new device's "signed in to the relay" and "page applied" events and
//!    the relay's "pull served".
//!    After the clock: the new device's caseload, document ids and the Automerge heads of
//!    every document equal the admin's.
//!
//! Then, for contrast, what wrapping per document would cost for the same team (the design
//! ARCHITECTURE.md replaced): random per-document keys, one `KeyBundle::seal` of one key per
//! (remaining reader, readable document) pair: measured, not extrapolated. Also the batched
//! form (one seal per reader carrying all its document keys): its time and bytes.
//!
//! Last, the same revocations (each followed by a replacement, unreported) in a second team of
//! 20 devices holding only 8 documents (the 4 patients' case files and plans): the same cost,
//! because no step touches documents.

mod common;

use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::{Mode, ms, percentile, round};
use holdfast_core::model::case_file::NewPatient;
use holdfast_core::model::doc::DocKind;
use holdfast_core::model::ids::{DeviceId, DocumentId};
use holdfast_core::seed::{self, SeedConfig};
use holdfast_core::sync::Role;
use holdfast_core::{SyncConfig, TeamId};
use holdfast_protocol::{
    BundleHeader, DeviceSigningKey, DocumentKey, KeyBundle, SystemRandom, WrappedKey,
};
use holdfast_relay::Limits;
use holdfast_relay::testing::TestRelay;
use holdfast_tests::Device;
use tracing_subscriber::Layer;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

const KINDS: [DocKind; 3] = [DocKind::CaseFile, DocKind::ActionPlan, DocKind::Directory];
const INVITE_TTL_MS: u64 = 60_000;

fn main() {
    init_tracing();
    let mode = Mode::from_args();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(run(mode));
}

/// The size of the benched team and how many runs.
#[derive(Debug, Clone, Copy)]
struct Shape {
    /// `None`: no seeded caseload, one case file per patient device only.
    seed: Option<SeedConfig>,
    supervisors: usize,
    link_workers: usize,
    patients: usize,
    runs: usize,
}

impl Shape {
    fn devices(&self) -> usize {
        1 + self.supervisors + self.link_workers + self.patients
    }
}

fn shapes(mode: Mode) -> (Shape, Shape) {
    let full = Shape {
        seed: Some(SeedConfig::default()),
        supervisors: 1,
        link_workers: 14,
        patients: 4,
        runs: 7,
    };
    let smoke = Shape {
        seed: Some(SeedConfig {
            seed: 42,
            patients: 6,
            assets: 20,
        }),
        supervisors: 1,
        link_workers: 3,
        patients: 1,
        runs: 2,
    };
    let main = if mode.full { full } else { smoke };
    let few_documents = Shape {
        seed: None,
        runs: if mode.full { 3 } else { 1 },
        ..main
    };
    (main, few_documents)
}

// ---------------------------------------------------------------------------------------
// Marks in the new device's logs: where the redeem ends and the first sync's steps end

/// What a marked event says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mark {
    /// `Store::join_team`: the Redeem entry was accepted and the team stored; the first
    /// sync starts next.
    Joined,
    /// The client signed in to the relay (the first sync's first request).
    SignedIn,
    /// The relay has read a pull page from its database and is about to send it.
    PullServed,
    /// The device applied a pull page and committed it.
    PageApplied,
}

const MARKS: [(&str, Mark); 4] = [
    ("team joined", Mark::Joined),
    ("signed in to the relay", Mark::SignedIn),
    ("pull served", Mark::PullServed),
    ("page applied", Mark::PageApplied),
];

/// Marked events since the last take, with when they happened.
static MARKED: Mutex<Vec<(Mark, Instant)>> = Mutex::new(Vec::new());

/// Records the instant of every marked event.
struct Marker;

impl<S: tracing::Subscriber> Layer<S> for Marker {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        let at = Instant::now();
        let mut visit = MessageOf(None);
        event.record(&mut visit);
        if let Some(mark) = visit.0 {
            MARKED.lock().unwrap().push((mark, at));
        }
    }
}

struct MessageOf(Option<Mark>);

impl tracing::field::Visit for MessageOf {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let text = format!("{value:?}");
            self.0 = MARKS.iter().find(|(m, _)| *m == text).map(|(_, k)| *k);
        }
    }
}

/// The marker (on three modules only, so it costs nothing elsewhere),
/// and logs to stderr when `RUST_LOG` asks for them.
fn init_tracing() {
    let marker = Marker.with_filter(
        tracing_subscriber::filter::Targets::new()
            .with_target("holdfast_core::store::access", tracing::Level::INFO)
            .with_target("holdfast_core::sync::client", tracing::Level::DEBUG)
            .with_target("holdfast_relay::routes::envelopes", tracing::Level::DEBUG),
    );
    let logs = std::env::var_os("RUST_LOG").is_some().then(|| {
        tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_filter(tracing_subscriber::EnvFilter::from_default_env())
    });
    tracing_subscriber::registry()
        .with(marker)
        .with(logs)
        .init();
}

fn take_marks() -> Vec<(Mark, Instant)> {
    std::mem::take(&mut *MARKED.lock().unwrap())
}

// ---------------------------------------------------------------------------------------
// The team

struct Team {
    id: TeamId,
    admin: Device,
    supervisor: Device,
    /// Active link workers, the longest-enrolled first.
    workers: Vec<Device>,
    /// Patient devices and the plan each reads.
    patients: Vec<(Device, DocumentId)>,
    documents: usize,
}

impl Team {
    fn active(&self) -> usize {
        let s = self.admin.s();
        s.access(self.id)
            .unwrap()
            .membership
            .active_devices()
            .count()
    }
}

fn document_count(d: &Device) -> usize {
    KINDS
        .iter()
        .map(|k| d.s().document_ids(*k).unwrap().len())
        .sum()
}

/// Builds the team of `shape` at `url`.
async fn build_team(mode: Mode, url: &str, shape: Shape, label: &str) -> Team {
    let start = Instant::now();
    let admin = Device::with_config("Ada Admin", SyncConfig::default());
    if let Some(config) = shape.seed {
        seed::populate(&mut admin.s(), &config).unwrap();
    }
    let id = admin.create_team(url).await;
    let mut plans = Vec::new();
    if shape.seed.is_none() {
        let mut s = admin.s();
        for i in 0..shape.patients {
            plans.push(
                s.create_case_file(NewPatient::named(&format!("Shared Plan Patient {i}")))
                    .unwrap()
                    .plan_id,
            );
        }
    } else {
        plans = admin.s().document_ids(DocKind::ActionPlan).unwrap();
    }
    let upload = admin.client.sync(id).await.unwrap();
    assert!(admin.s().sync_status(id).unwrap().everything_uploaded);
    let documents = document_count(&admin);

    let supervisor = Device::with_config("Sue Supervisor", SyncConfig::default());
    admin.enrol(id, &supervisor, Role::Supervisor).await;
    let mut workers = Vec::new();
    for i in 0..shape.link_workers {
        let w = Device::with_config(&format!("Link Worker {i}"), SyncConfig::default());
        admin.enrol(id, &w, Role::LinkWorker).await;
        workers.push(w);
    }
    let mut patients = Vec::new();
    for (i, plan) in plans.iter().take(shape.patients).enumerate() {
        let p = Device::with_config(&format!("Patient {i}"), SyncConfig::default());
        let code = admin.client.share_plan(*plan, INVITE_TTL_MS).await.unwrap();
        let enrolled = p.client.redeem_invite(&p.keys, &code).await.unwrap();
        enrolled.first_sync.unwrap();
        assert_eq!(enrolled.role, Role::Patient);
        assert_eq!(
            document_count(&p),
            1,
            "a patient device holds its plan only"
        );
        patients.push((p, *plan));
    }
    admin.client.sync_access(id).await.unwrap();
    take_marks();
    let team = Team {
        id,
        admin,
        supervisor,
        workers,
        patients,
        documents,
    };
    assert_eq!(team.active(), shape.devices());
    say(
        mode,
        &format!(
            "{label}: {} active devices (1 admin, {} supervisor, {} link workers, {} patient(s)), \
             {} documents ({} uploaded as {} envelopes, {} snapshots); built in {:.1} s",
            shape.devices(),
            shape.supervisors,
            shape.link_workers,
            shape.patients,
            documents,
            documents,
            upload.push.acknowledged,
            upload.snapshots,
            start.elapsed().as_secs_f64()
        ),
    );
    team
}

// ---------------------------------------------------------------------------------------
// Revocation

struct Revocation {
    prepare: Duration,
    end_to_end: Duration,
    epoch: u32,
    bundles: usize,
    bundle_bytes: Vec<usize>,
    entry_bytes: usize,
}

/// Revokes the longest-enrolled link worker and checks the outcome.
async fn revoke_one(team: &mut Team) -> Revocation {
    let victim = team.workers.remove(0);
    let victim_id = victim.id();
    let t = team.id;
    team.admin.client.sync_access(t).await.unwrap();
    let before = team.admin.s().epoch(t).unwrap();
    let active = team.active();

    settle().await;
    let (prepare, prepared) = {
        let s = team.admin.s();
        let start = Instant::now();
        let p = s.prepare_revocation(t, victim_id).unwrap();
        (start.elapsed(), p)
    };
    assert_eq!(prepared.epoch, before + 1);
    assert_eq!(
        prepared.bundles.len(),
        active - 1,
        "one bundle per remaining device (no pending invite)"
    );
    let bundle_bytes: Vec<usize> = prepared.bundles.iter().map(Vec::len).collect();
    let entry_bytes = prepared.entry.len();
    drop(prepared);

    settle().await;
    let start = Instant::now();
    let epoch = team.admin.client.revoke_device(t, victim_id).await.unwrap();
    let end_to_end = start.elapsed();
    assert_eq!(epoch, before + 1);

    // After the clock: the revoked device is refused; the others get the new key.
    assert!(
        victim.client.sync(t).await.is_err(),
        "the revoked device's next sync is refused"
    );
    assert_eq!(team.active(), active - 1);
    team.supervisor.client.sync_access(t).await.unwrap();
    {
        let s = team.supervisor.s();
        assert_eq!(s.epoch(t).unwrap(), epoch);
        let some_doc = s.document_ids(DocKind::CaseFile).unwrap()[0];
        assert!(s.keys_held(t).unwrap().key_for(some_doc, epoch).is_ok());
    }
    let victim_keys = victim.s().keys_held(t).unwrap();
    assert!(
        victim_keys.epochs().all(|(e, _)| e < epoch),
        "the revoked device holds no key of the new epoch"
    );
    let (patient, plan) = &team.patients[0];
    patient.client.sync_access(t).await.unwrap();
    {
        let held = patient.s().keys_held(t).unwrap();
        assert!(held.key_for(*plan, epoch).is_ok(), "the patient's new key");
        assert_eq!(held.epochs().count(), 0, "a patient holds no team key");
        let other = team.admin.s().document_ids(DocKind::ActionPlan).unwrap();
        if let Some(other) = other.iter().find(|p| *p != plan) {
            assert!(
                held.key_for(*other, epoch).is_err(),
                "no key for another plan"
            );
        }
    }
    Revocation {
        prepare,
        end_to_end,
        epoch,
        bundles: bundle_bytes.len(),
        bundle_bytes,
        entry_bytes,
    }
}

// ---------------------------------------------------------------------------------------
// Enrolment

struct Enrolment {
    invite: Duration,
    redeem: Duration,
    first_sync: Duration,
    /// The first sync's steps, if the marks were seen.
    steps: Option<FirstSync>,
    total: Duration,
    pages: usize,
    applied: usize,
    documents: usize,
    cases: usize,
}

/// The first sync of a new device, step by step (from the marks).
#[derive(Debug, Clone, Copy)]
struct FirstSync {
    /// "team joined" → signed in: the challenge, its signature, the token.
    sign_in: Duration,
    /// Signed in → the relay has read the first pull page: membership pulled and verified,
    /// key bundles pulled and opened, nothing to push, the pull request, the relay's read.
    access: Duration,
    /// → the last page applied: the pages sent, verified, decrypted, applied to Automerge,
    /// committed to SQLCipher (and the relay's reads of the further pages).
    pull: Duration,
    /// → `redeem_invite` returns: the snapshot check, the sync status.
    after: Duration,
}

/// Enrols a new link worker device; checks it holds what the admin holds.
async fn enrol_one(team: &mut Team, n: usize) -> Enrolment {
    let t = team.id;
    let device = Device::with_config(&format!("New Link Worker {n}"), SyncConfig::default());
    settle().await;
    take_marks();
    let start = Instant::now();
    let code = team
        .admin
        .client
        .create_invite(t, Role::LinkWorker, None, INVITE_TTL_MS)
        .await
        .unwrap();
    let invited = Instant::now();
    let enrolled = device
        .client
        .redeem_invite(&device.keys, &code)
        .await
        .unwrap();
    let done = Instant::now();
    // Only the new device works between `invited` and `done` (the others are idle).
    let marks: Vec<(Mark, Instant)> = take_marks()
        .into_iter()
        .filter(|(_, at)| *at >= invited)
        .collect();
    let at = |mark: Mark| {
        marks
            .iter()
            .filter(move |(m, _)| *m == mark)
            .map(|(_, t)| *t)
    };
    let joined: Vec<Instant> = at(Mark::Joined).collect();
    assert_eq!(
        joined.len(),
        1,
        "one \"team joined\" event during the redeem"
    );
    let joined = joined[0];
    assert!(joined <= done);
    let steps = (|| {
        let signed_in = at(Mark::SignedIn).find(|t| *t >= joined)?;
        let served = at(Mark::PullServed).find(|t| *t >= signed_in)?;
        let applied = at(Mark::PageApplied).next_back()?;
        (applied >= served).then(|| FirstSync {
            sign_in: signed_in - joined,
            access: served - signed_in,
            pull: applied - served,
            after: done - applied,
        })
    })();
    assert_eq!(enrolled.team, t);
    assert_eq!(enrolled.role, Role::LinkWorker);
    let report = enrolled.first_sync.unwrap();
    assert!(report.pull.bootstrap);
    assert_eq!(report.pull.refused, 0);

    // After the clock: the new device holds the admin's caseload, every document.
    let (cases, documents) = {
        let mut sa = team.admin.s();
        let mut sd = device.s();
        let caseload = sa.caseload(&Default::default()).unwrap();
        assert_eq!(
            sd.caseload(&Default::default()).unwrap(),
            caseload,
            "caseload"
        );
        let mut documents = 0;
        for kind in KINDS {
            let ids = sa.document_ids(kind).unwrap();
            assert_eq!(sd.document_ids(kind).unwrap(), ids, "{kind:?} ids");
            for id in ids {
                assert_eq!(
                    sd.heads(id).unwrap(),
                    sa.heads(id).unwrap(),
                    "heads of {id}"
                );
                documents += 1;
            }
        }
        (caseload.len(), documents)
    };
    assert_eq!(documents, team.documents);
    team.workers.push(device);
    Enrolment {
        invite: invited - start,
        redeem: joined - invited,
        first_sync: done - joined,
        steps,
        total: done - start,
        pages: report.pull.pages,
        applied: report.pull.applied,
        documents,
        cases,
    }
}

// ---------------------------------------------------------------------------------------
// Per-document wrapping, for contrast

struct Contrast {
    readers: usize,
    staff: usize,
    seals: usize,
    naive: Duration,
    naive_bytes: usize,
    batched: Duration,
    batched_bytes: usize,
}

/// What re-keying the same remaining readers would cost with random per-document keys:
/// every staff reader gets every document's key, every patient its plan's.
fn per_document_wrapping(team: &Team, leaving: DeviceId) -> Contrast {
    let rng = SystemRandom::new();
    let signer = DeviceSigningKey::generate(&rng).unwrap();
    let docs: Vec<DocumentId> = KINDS
        .iter()
        .flat_map(|k| team.admin.s().document_ids(*k).unwrap())
        .collect();
    let readers: Vec<holdfast_protocol::Member> = {
        let s = team.admin.s();
        s.access(team.id)
            .unwrap()
            .membership
            .active_devices()
            .filter(|m| m.device != leaving)
            .cloned()
            .collect()
    };
    let sender = team.admin.id();
    let header = |recipient: &holdfast_protocol::Member| BundleHeader {
        team: team.id,
        recipient: recipient.device.0,
        sender,
        at_ms: 1,
    };
    let readable = |m: &holdfast_protocol::Member| -> Vec<DocumentId> {
        if m.role.is_staff() {
            docs.clone()
        } else {
            vec![m.plan.unwrap()]
        }
    };
    let epoch = 99;

    // One seal per (reader, document).
    let start = Instant::now();
    let keys: Vec<DocumentKey> = docs
        .iter()
        .map(|_| DocumentKey::generate(&rng).unwrap())
        .collect();
    let key_of = |doc: DocumentId| keys[docs.iter().position(|d| *d == doc).unwrap()].clone();
    let mut seals = 0;
    let mut naive_bytes = 0;
    for m in &readers {
        for doc in readable(m) {
            let wrapped = [WrappedKey::Document {
                document: doc,
                epoch,
                key: key_of(doc),
            }];
            naive_bytes += KeyBundle::seal(header(m), &m.hpke_key, &wrapped, &signer)
                .unwrap()
                .len();
            seals += 1;
        }
    }
    let naive = start.elapsed();

    // One seal per reader, carrying every document key it reads.
    let start = Instant::now();
    let mut batched_bytes = 0;
    for m in &readers {
        let wrapped: Vec<WrappedKey> = readable(m)
            .into_iter()
            .map(|doc| WrappedKey::Document {
                document: doc,
                epoch,
                key: key_of(doc),
            })
            .collect();
        batched_bytes += KeyBundle::seal(header(m), &m.hpke_key, &wrapped, &signer)
            .unwrap()
            .len();
    }
    let batched = start.elapsed();
    Contrast {
        readers: readers.len(),
        staff: readers.iter().filter(|m| m.role.is_staff()).count(),
        seals,
        naive,
        naive_bytes,
        batched,
        batched_bytes,
    }
}

// ---------------------------------------------------------------------------------------

async fn run(mode: Mode) {
    let (shape, few) = shapes(mode);
    say(
        mode,
        &format!(
            "access bench ({}): {} devices, {} revocations and {} enrolments",
            if mode.full {
                "full"
            } else {
                "quick smoke run; `cargo bench` for the full one"
            },
            shape.devices(),
            shape.runs,
            shape.runs
        ),
    );
    let relay = TestRelay::builder()
        .limits(Limits {
            rate_limit_per_second: 0.0,
            ..Limits::default()
        })
        .start()
        .await;
    let url = relay.url();
    let mut team = build_team(mode, &url, shape, "team").await;

    let mut revocations = Vec::new();
    let mut enrolments = Vec::new();
    for run in 0..shape.runs {
        let r = revoke_one(&mut team).await;
        report_revocation(mode, "team", run, team.documents, &r);
        revocations.push(r);
        let e = enrol_one(&mut team, run).await;
        report_enrolment(mode, run, &e);
        enrolments.push(e);
    }
    team.admin.client.sync_access(team.id).await.unwrap();
    assert_eq!(
        team.active(),
        shape.devices(),
        "the team is back to its size"
    );
    summarise_revocations(mode, "team", team.documents, &revocations);
    summarise_enrolments(mode, &enrolments);

    // Per-document wrapping for the readers that would remain after the next revocation.
    let leaving = team.workers[0].id();
    let c = per_document_wrapping(&team, leaving);
    let prepare = median(revocations.iter().map(|r| r.prepare));
    let per_seal = c.naive.as_secs_f64() * 1000.0 / c.seals as f64;
    say(
        mode,
        &format!(
            "per-document wrapping, for contrast ({} remaining readers: {} staff × {} documents \
             + {} patient(s) × 1): {} seals of one key each in {:.1} ms ({:.3} ms per seal, {} B \
             of bundles) = {:.0}× the measured re-key ({:.1} ms); batched, one seal per reader \
             carrying all its document keys: {:.1} ms, {} B",
            c.readers,
            c.staff,
            team.documents,
            c.readers - c.staff,
            c.seals,
            ms(c.naive),
            per_seal,
            c.naive_bytes,
            c.naive.as_secs_f64() / prepare.as_secs_f64(),
            ms(prepare),
            ms(c.batched),
            c.batched_bytes
        ),
    );
    if mode.json {
        println!(
            "{}",
            serde_json::json!({
                "bench": "access",
                "what": "per_document_wrapping",
                "readers": c.readers,
                "staff_readers": c.staff,
                "documents": team.documents,
                "seals": c.seals,
                "naive_ms": ms(c.naive),
                "per_seal_ms": round(per_seal, 4),
                "naive_bytes": c.naive_bytes,
                "batched_ms": ms(c.batched),
                "batched_bytes": c.batched_bytes,
                "measured": true,
                "full": mode.full,
            })
        );
    }
    drop(team);

    // The same revocation in a team with almost no documents.
    let mut small = build_team(mode, &url, few, "team with few documents").await;
    let mut few_revocations = Vec::new();
    for run in 0..few.runs {
        let r = revoke_one(&mut small).await;
        report_revocation(mode, "few-documents", run, small.documents, &r);
        few_revocations.push(r);
        // A replacement, so that every revocation is in a team of the same size.
        enrol_one(&mut small, 100 + run).await;
    }
    summarise_revocations(mode, "few-documents", small.documents, &few_revocations);
}

/// Lets disk writes of the previous step settle before a clock starts.
async fn settle() {
    tokio::time::sleep(Duration::from_millis(100)).await;
}

fn median(values: impl Iterator<Item = Duration>) -> Duration {
    let mut v: Vec<Duration> = values.collect();
    v.sort();
    v[(v.len() - 1) / 2]
}

fn stats(values: impl Iterator<Item = Duration>) -> (f64, f64) {
    let mut v: Vec<f64> = values.map(ms).collect();
    v.sort_by(f64::total_cmp);
    (percentile(&v, 50.0), percentile(&v, 100.0))
}

fn report_revocation(mode: Mode, label: &str, run: usize, documents: usize, r: &Revocation) {
    let bytes: usize = r.bundle_bytes.iter().sum();
    say(
        mode,
        &format!(
            "  revoke #{run} ({label}, {documents} documents): {:.1} ms end to end \
             (prepare_revocation {:.1} ms: epoch {}, {} bundles, {} B; entry {} B)",
            ms(r.end_to_end),
            ms(r.prepare),
            r.epoch,
            r.bundles,
            bytes,
            r.entry_bytes
        ),
    );
    if mode.json {
        println!(
            "{}",
            serde_json::json!({
                "bench": "access",
                "what": "revoke",
                "team": label,
                "run": run,
                "documents": documents,
                "end_to_end_ms": ms(r.end_to_end),
                "prepare_ms": ms(r.prepare),
                "epoch": r.epoch,
                "bundles": r.bundles,
                "bundle_bytes": bytes,
                "entry_bytes": r.entry_bytes,
                "full": mode.full,
            })
        );
    }
}

fn summarise_revocations(mode: Mode, label: &str, documents: usize, rs: &[Revocation]) {
    let (e2e_med, e2e_max) = stats(rs.iter().map(|r| r.end_to_end));
    let (prep_med, prep_max) = stats(rs.iter().map(|r| r.prepare));
    let (rt_med, rt_max) = stats(rs.iter().map(|r| r.end_to_end.saturating_sub(r.prepare)));
    let sizes: Vec<usize> = rs.iter().flat_map(|r| r.bundle_bytes.clone()).collect();
    let per_run: Vec<usize> = rs.iter().map(|r| r.bundle_bytes.iter().sum()).collect();
    let (min_b, max_b) = (
        sizes.iter().min().copied().unwrap_or(0),
        sizes.iter().max().copied().unwrap_or(0),
    );
    say(
        mode,
        &format!(
            "revocation ({label}, {documents} documents, {} runs): end to end median {e2e_med:.1} \
             ms, max {e2e_max:.1} ms; prepare_revocation (re-key + re-wrap) median {prep_med:.1} \
             ms, max {prep_max:.1} ms; the rest (round trips, relay, store) median {rt_med:.1} \
             ms, max {rt_max:.1} ms; {} bundles per revocation, {min_b}–{max_b} B each, {} B in \
             all (hex in the JSON body: ×2)",
            rs.len(),
            rs[0].bundles,
            per_run.iter().max().copied().unwrap_or(0),
        ),
    );
}

fn report_enrolment(mode: Mode, run: usize, e: &Enrolment) {
    say(
        mode,
        &format!(
            "  enrol #{run}: {:.1} ms = invite {:.1} ms + redeem {:.1} ms + first sync {:.1} ms \
             ({} pull pages, {} envelopes, {} documents, caseload of {} equal to the admin's)",
            ms(e.total),
            ms(e.invite),
            ms(e.redeem),
            ms(e.first_sync),
            e.pages,
            e.applied,
            e.documents,
            e.cases
        ),
    );
    if let Some(f) = e.steps {
        say(
            mode,
            &format!(
                "      first sync: sign-in {:.1} ms, membership + keys (to the first page read \
                 at the relay) {:.1} ms, pull pages sent + applied {:.1} ms, after {:.1} ms",
                ms(f.sign_in),
                ms(f.access),
                ms(f.pull),
                ms(f.after)
            ),
        );
    }
    if mode.json {
        println!(
            "{}",
            serde_json::json!({
                "bench": "access",
                "what": "enrol",
                "run": run,
                "total_ms": ms(e.total),
                "invite_ms": ms(e.invite),
                "redeem_ms": ms(e.redeem),
                "first_sync_ms": ms(e.first_sync),
                "first_sync_sign_in_ms": e.steps.map(|f| ms(f.sign_in)),
                "first_sync_access_ms": e.steps.map(|f| ms(f.access)),
                "first_sync_pull_ms": e.steps.map(|f| ms(f.pull)),
                "first_sync_after_ms": e.steps.map(|f| ms(f.after)),
                "pull_pages": e.pages,
                "envelopes_applied": e.applied,
                "documents": e.documents,
                "cases": e.cases,
                "verified": true,
                "full": mode.full,
            })
        );
    }
}

fn summarise_enrolments(mode: Mode, es: &[Enrolment]) {
    let (t_med, t_max) = stats(es.iter().map(|e| e.total));
    let (i_med, i_max) = stats(es.iter().map(|e| e.invite));
    let (r_med, r_max) = stats(es.iter().map(|e| e.redeem));
    let (s_med, s_max) = stats(es.iter().map(|e| e.first_sync));
    say(
        mode,
        &format!(
            "enrolment ({} runs, {} documents): total median {t_med:.1} ms, max {t_max:.1} ms; \
             invite median {i_med:.1} / max {i_max:.1} ms; redeem median {r_med:.1} / max \
             {r_max:.1} ms; first sync median {s_med:.1} / max {s_max:.1} ms",
            es.len(),
            es[0].documents
        ),
    );
    let steps: Vec<FirstSync> = es.iter().filter_map(|e| e.steps).collect();
    if steps.len() == es.len() {
        let m = |f: fn(&FirstSync) -> Duration| stats(steps.iter().map(f));
        let (a, b, c, d) = (
            m(|f| f.sign_in),
            m(|f| f.access),
            m(|f| f.pull),
            m(|f| f.after),
        );
        say(
            mode,
            &format!(
                "    first sync, median / max: sign-in {:.1} / {:.1} ms, membership + keys {:.1} \
                 / {:.1} ms, pull pages {:.1} / {:.1} ms, after {:.1} / {:.1} ms",
                a.0, a.1, b.0, b.1, c.0, c.1, d.0, d.1
            ),
        );
    }
}

/// Human lines: stdout, or stderr when stdout carries JSON lines.
fn say(mode: Mode, line: &str) {
    if mode.json {
        eprintln!("{line}");
    } else {
        println!("{line}");
    }
}
