//! The cost of recording one session through the mobile API (`HoldfastDevice::record_session`,
//! the exported function the Kotlin and Swift bindings call) against the core's
//! `Store::record_session` directly: same store settings (the defaults, durable commits),
//! a device with a few cases, sessions rotating over them.
//!
//! What the difference measures: id and date parsing, the record conversions, the store
//! mutex and the id formatting of the FFI layer. The foreign-language side (lowering the
//! record into a buffer, the JNA call) is measured from Kotlin by `mobile-bindings/bench.sh`.
//!
//! `cargo bench -p holdfast-ffi --bench record_session`

use std::collections::HashMap;
use std::hint::black_box;
use std::sync::{Arc, Mutex};

use criterion::{Criterion, criterion_group, criterion_main};
use holdfast_core::model::case_file::{self, NewPatient, NewSession};
use holdfast_core::model::ids::DocumentId;
use holdfast_core::{MemoryKeyStore, Store, StoreConfig};
use holdfast_ffi::{
    DeviceConfig, HoldfastDevice, HoldfastError, HostKeyStore, NewPatientInput, SessionInput,
    SessionMode,
};

/// Cases on the device: a few, as on a link worker's phone early in the week.
const CASES: usize = 5;
const NOTE: &str = "Home visit: talked about the lunch club; she would like someone to go with her the first time.";

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
    let mut group = c.benchmark_group("record_session");

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
    let cases: Vec<String> = (0..CASES)
        .map(|i| {
            device
                .create_case(NewPatientInput {
                    name: format!("Patient {i}"),
                    nhs_number: None,
                    postcode: None,
                    practice: None,
                    phone: None,
                })
                .expect("case")
                .case_id
        })
        .collect();
    let mut n = 0i64;
    group.bench_function("ffi (HoldfastDevice::record_session)", |b| {
        b.iter(|| {
            n += 1;
            let case = cases[n as usize % CASES].clone();
            black_box(
                device
                    .record_session(
                        case,
                        SessionInput {
                            start_ms: 1_780_000_000_000 + n,
                            duration_minutes: 45,
                            mode: SessionMode::HomeVisit,
                            attended: true,
                            note: NOTE.into(),
                            follow_up: Some("2026-12-01".into()),
                            holding_functions: vec![],
                        },
                    )
                    .expect("record"),
            )
        })
    });
    drop(device);

    // The core directly, same settings.
    let dir = tempfile::tempdir().expect("tempdir");
    let keys = MemoryKeyStore::default();
    let mut store =
        Store::create(&StoreConfig::new(dir.path(), "Bench Worker"), &keys).expect("create");
    let cases: Vec<DocumentId> = (0..CASES)
        .map(|i| {
            store
                .create_case_file(NewPatient::named(&format!("Patient {i}")))
                .expect("case")
                .case_id
        })
        .collect();
    let follow_up = holdfast_core::model::doc::parse_date("2026-12-01").expect("date");
    let mut n = 0i64;
    group.bench_function("core (Store::record_session)", |b| {
        b.iter(|| {
            n += 1;
            let session = NewSession {
                start: 1_780_000_000_000 + n,
                duration_minutes: 45,
                mode: case_file::SessionMode::HomeVisit,
                attended: true,
                note: NOTE.into(),
                holding_functions: vec![],
                follow_up: Some(follow_up),
            };
            black_box(
                store
                    .record_session(cases[n as usize % CASES], &session)
                    .expect("record"),
            )
        })
    });
    group.finish();
}

criterion_group! {
    name = record_session;
    config = Criterion::default().sample_size(100);
    targets = benches
}
criterion_main!(record_session);
