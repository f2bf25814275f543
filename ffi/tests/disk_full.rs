//! The mobile API on a full disk (issue 15, part 3): the host is told
//! `HoldfastError::StorageFull`, with a reason it can show as it is; nothing of the
//! refused action is saved and nothing before it is lost; once there is room the same
//! action succeeds, with no repair step. The device's folder is on a tmpfs of the test's
//! own (`holdfast_relay::testing::SmallDisk`).

mod common;

use common::phone_in;
use holdfast_ffi::{HoldfastError, NewPatientInput, SessionInput, SessionMode};
use holdfast_relay::testing::SmallDisk;

/// A session whose note does not compress (Automerge compresses repeated text).
fn session(seed: u64) -> SessionInput {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut note = String::new();
    while note.len() < 2_000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        note.push_str(&format!("visit{} ", x % 100_000));
    }
    SessionInput {
        start_ms: 1_750_000_000_000 + i64::try_from(seed).unwrap() * 60_000,
        duration_minutes: 30,
        mode: SessionMode::Phone,
        attended: true,
        note: note.trim_end().to_owned(),
        follow_up: None,
        holding_functions: vec![],
    }
}

#[test]
fn the_host_is_told_storage_full_and_the_same_action_succeeds_once_there_is_room() {
    let mut disk = SmallDisk::mount("4m");
    let phone = phone_in("Sam Okafor", disk.path());
    let case = phone
        .create_case(NewPatientInput {
            name: "Ada Lovelace".into(),
            nhs_number: None,
            postcode: None,
            practice: None,
            phone: None,
        })
        .unwrap()
        .case_id;

    disk.fill();
    let mut recorded = Vec::new();
    let error = loop {
        assert!(recorded.len() < 2_000, "the small disk never filled");
        let s = session(recorded.len() as u64);
        match phone.record_session(case.clone(), s.clone()) {
            Ok(_) => recorded.push(s.note),
            Err(e) => break e,
        }
    };
    let HoldfastError::StorageFull { reason } = &error else {
        panic!("a full disk reaches the host as StorageFull, not {error:?}");
    };
    // Shown as it is: what happened and what to do, nothing technical.
    assert!(reason.contains("storage is full"), "{reason}");
    assert!(reason.contains("free some space"), "{reason}");
    assert!(
        !reason.contains("SQLITE") && !reason.contains("sqlite"),
        "{reason}"
    );
    let notes = |phone: &common::Phone| -> Vec<String> {
        phone
            .case_file(case.clone())
            .unwrap()
            .sessions
            .into_iter()
            .map(|s| s.note_versions.concat())
            .collect()
    };
    assert!(notes(&phone) == recorded, "exactly the sessions recorded");

    disk.make_room();
    let again = session(recorded.len() as u64);
    phone
        .record_session(case.clone(), again.clone())
        .expect("the same session once there is room");
    recorded.push(again.note);
    assert!(notes(&phone) == recorded);
}
