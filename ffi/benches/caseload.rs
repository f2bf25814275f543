//! Listing the caseload through the mobile API (`HoldfastDevice::caseload`, the exported
//! function the Kotlin and Swift bindings call: the index query, then each entry converted
//! to a `CaseloadRow` with its ids and dates formatted) against the core's `Store::caseload`
//! directly, on 250 cases with one session each. Also the trivial `HoldfastDevice::device_id`,
//! the Rust half of the crossing that `mobile-bindings/bench.sh` times from Kotlin.
//!
//! `cargo bench -p holdfast-ffi --bench caseload`. Under `cargo test --all-targets` (no
//! `--bench` argument) it builds 10 cases only, to stay quick.

use std::collections::HashMap;
use std::hint::black_box;
use std::sync::{Arc, Mutex};

use criterion::{Criterion, criterion_group, criterion_main};
use holdfast_core::model::case_file::{self, NewPatient, NewSession};
use holdfast_core::store::CaseloadFilter;
use holdfast_core::{MemoryKeyStore, Store, StoreConfig};
use holdfast_ffi::{
    DeviceConfig, HoldfastDevice, HoldfastError, HostKeyStore, NewPatientInput, SessionInput,
    SessionMode,
};

const NOTE: &str = "Home visit: talked about the lunch club; she would like someone to go with her the first time.";
const PRACTICES: usize = 6;

/// 250 cases as in the seeded caseload; 10 in the `cargo test` smoke run.
fn cases() -> usize {
    if std::env::args().any(|a| a == "--bench") {
        250
    } else {
        10
    }
}

/// Follow-ups spread over December (the list is sorted by them), as Bench.kt does.
fn follow_up(i: usize) -> String {
    format!("2026-12-{:02}", 1 + i % 28)
}

#[derive(Default)]
struct MemoryKeys(Mutex<HashMap<String, Vec<u8>>>);

impl HostKeyStore for MemoryKeys {
    fn get(&self, name: String) -> Result<Option<Vec<u8>>, HoldfastError> {
        Ok(self.0.lock().expect("keys").get(&name).cloned())
    }

    fn put(&self, name: String, value: Vec<u8>) -> Result<(), HoldfastError> {
        self.0.lock().expect("keys").insert(name, value);
        Ok(())
    }
}

fn benches(c: &mut Criterion) {
    let n = cases();
    let mut group = c.benchmark_group("caseload");

    // Through the mobile API.
    let dir = tempfile::tempdir().expect("tempdir");
    let device = HoldfastDevice::open(
        DeviceConfig {
            data_dir: dir.path().display().to_string(),
            person: "Bench Worker".into(),
            insecure_http_to_any_host: false,
        },
        Arc::new(MemoryKeys::default()),
    )
    .expect("open device");
    for i in 0..n {
        let case = device
            .create_case(NewPatientInput {
                name: format!("Patient {i}"),
                nhs_number: None,
                postcode: None,
                practice: Some(format!("Practice {}", i % PRACTICES)),
                phone: None,
            })
            .expect("case");
        device
            .record_session(
                case.case_id,
                SessionInput {
                    start_ms: 1_780_000_000_000 + i as i64,
                    duration_minutes: 45,
                    mode: SessionMode::HomeVisit,
                    attended: true,
                    note: NOTE.into(),
                    follow_up: Some(follow_up(i)),
                    holding_functions: vec![],
                },
            )
            .expect("session");
    }
    assert_eq!(device.caseload(None).expect("caseload").len(), n);
    group.bench_function(format!("ffi (HoldfastDevice::caseload, {n} cases)"), |b| {
        b.iter(|| black_box(device.caseload(None).expect("caseload")))
    });
    group.bench_function("ffi (HoldfastDevice::device_id)", |b| {
        b.iter(|| black_box(device.device_id().expect("device id")))
    });
    drop(device);

    // The core directly, same data.
    let dir = tempfile::tempdir().expect("tempdir");
    let keys = MemoryKeyStore::default();
    let mut store =
        Store::create(&StoreConfig::new(dir.path(), "Bench Worker"), &keys).expect("create");
    for i in 0..n {
        let mut patient = NewPatient::named(&format!("Patient {i}"));
        patient.practice = Some(format!("Practice {}", i % PRACTICES));
        let case = store.create_case_file(patient).expect("case").case_id;
        let session = NewSession {
            start: 1_780_000_000_000 + i as i64,
            duration_minutes: 45,
            mode: case_file::SessionMode::HomeVisit,
            attended: true,
            note: NOTE.into(),
            holding_functions: vec![],
            follow_up: Some(holdfast_core::model::doc::parse_date(&follow_up(i)).expect("date")),
        };
        store.record_session(case, &session).expect("session");
    }
    let filter = CaseloadFilter::default();
    assert_eq!(store.caseload(&filter).expect("caseload").len(), n);
    group.bench_function(format!("core (Store::caseload, {n} cases)"), |b| {
        b.iter(|| black_box(store.caseload(&filter).expect("caseload")))
    });
    group.finish();
}

criterion_group! {
    name = caseload;
    config = Criterion::default().sample_size(100);
    targets = benches
}
criterion_main!(caseload);
