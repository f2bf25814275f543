//! Oversight latency on the seeded caseload spread across five link workers, and on ten
//! times that: the supervisor's review queue, caseload and holding load per link worker, and
//! a link worker's worklist for today. p50 / p95 / p99 / max over many calls, each one query
//! over the index (no document is loaded). Last, the outcomes report for the last year,
//! which reads every case file and plan (fewer runs).
//!
//! The supervisor has reviewed every case once; a tenth of the open ones were touched since
//! (a session or a comment, which bring a case back to the queue, or a ring-back, which
//! does not), so the queue is what a supervisor meets after a week, not every case at once.
//!
//! `cargo bench -p holdfast-core --bench oversight`

use std::time::Instant;

use holdfast_core::model::case_file::{CaseStatus, NewSession, SessionMode};
use holdfast_core::seed::{self, SeedConfig};
use holdfast_core::store::{CaseloadFilter, LoadLimits};
use holdfast_core::{MemoryKeyStore, Store, StoreConfig};

struct Figures {
    p50: f64,
    p95: f64,
    p99: f64,
    max: f64,
}

fn timed(runs: usize, mut f: impl FnMut() -> usize) -> (Figures, usize) {
    let mut samples = Vec::with_capacity(runs);
    let mut items = 0;
    for _ in 0..runs {
        let t = Instant::now();
        items = std::hint::black_box(f());
        samples.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    samples.sort_by(f64::total_cmp);
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
    (
        Figures {
            p50: at(0.50),
            p95: at(0.95),
            p99: at(0.99),
            max: at(1.0),
        },
        items,
    )
}

fn report(what: &str, patients: usize, (f, items): (Figures, usize)) {
    println!(
        "{what} ({patients} patients, {items} rows): p50 {:.3} ms, p95 {:.3} ms, p99 {:.3} ms, max {:.3} ms",
        f.p50, f.p95, f.p99, f.max
    );
}

fn run(patients: usize, runs: usize) -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let keys = MemoryKeyStore::default();
    let config = StoreConfig::new(dir.path(), "Bench Supervisor");
    let mut store = Store::create(&config, &keys)?;
    let t = Instant::now();
    let seeded = seed::populate(
        &mut store,
        &SeedConfig {
            seed: 42,
            patients,
            assets: 200,
        },
    )?;
    let seeding = t.elapsed();
    // Reviewed once; then a tenth change.
    store.set_durability(holdfast_core::store::Durability::Relaxed)?;
    for case in &seeded.cases {
        store.mark_reviewed(case.case_id)?;
    }
    let open: Vec<_> = store
        .caseload(&CaseloadFilter::default())?
        .into_iter()
        .filter(|c| c.status != CaseStatus::Closed)
        .collect();
    for (i, case) in open.iter().enumerate().filter(|(i, _)| i % 10 == 0) {
        match i % 3 {
            0 => {
                store.record_session(
                    case.case_id,
                    &NewSession {
                        start: 1_796_374_800_000 + i as i64,
                        duration_minutes: 30,
                        mode: SessionMode::Phone,
                        attended: true,
                        note: "checked in by phone".into(),
                        holding_functions: vec![],
                        follow_up: None,
                    },
                )?;
            }
            1 => {
                store.add_supervision_comment(case.case_id, "let us talk about this one")?;
            }
            _ => {
                store.add_ring_back(case.case_id, store.today(), "missed call")?;
            }
        }
    }
    store.set_durability(holdfast_core::store::Durability::Full)?;
    drop(store);
    let mut store = Store::open(&config, &keys)?;
    let limits = LoadLimits::default();
    let today = store.today();
    println!(
        "seeded {patients} patients in {:.1} s; {} open",
        seeding.as_secs_f64(),
        open.len()
    );
    report(
        "review queue (first 50)",
        patients,
        timed(runs, || {
            store.review_queue(50).map(|q| q.len()).expect("the query")
        }),
    );
    report(
        "review queue (all)",
        patients,
        timed(runs, || {
            store
                .review_queue(100_000)
                .map(|q| q.len())
                .expect("the query")
        }),
    );
    report(
        "load per link worker",
        patients,
        timed(runs, || {
            store
                .caseload_load(&limits)
                .map(|l| l.len())
                .expect("the query")
        }),
    );
    report(
        "worklist for today",
        patients,
        timed(runs, || {
            store
                .worklist(today, &limits)
                .map(|w| w.len())
                .expect("the query")
        }),
    );
    report(
        "new supervision comments",
        patients,
        timed(runs, || {
            store
                .new_supervision_comments()
                .map(|c| c.len())
                .expect("the query")
        }),
    );
    let year_ago = today - time::Duration::days(365);
    report(
        "outcomes report, the last year (rows: categories)",
        patients,
        timed((runs / 100).max(5), || {
            store
                .outcomes_report(year_ago, today)
                .map(|r| r.community.by_category.len())
                .expect("the report")
        }),
    );
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // `cargo bench` passes --bench; anything else (e.g. `cargo test --benches`) runs a quick pass.
    let quick = !std::env::args().any(|a| a == "--bench");
    if quick {
        return run(30, 20);
    }
    run(250, 2_000)?;
    run(2_500, 1_000)
}
