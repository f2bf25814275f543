//! Crash safety: a writer process is SIGKILLed mid-stream, again and again; every edit it
//! acknowledged before the kill is in the store when it is reopened.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use holdfast_core::model::case_file::{CaseStatus, NewPatient};
use holdfast_core::{FileKeyStore, Store, StoreConfig};

#[test]
fn every_acknowledged_edit_survives_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let keys = FileKeyStore::new(dir.path().join("keys"));
    let config = StoreConfig::new(dir.path(), "Sam Okafor");
    let case = {
        let mut store = Store::create(&config, &keys).unwrap();
        let case = store
            .create_case_file(NewPatient::named("Ada Lovelace"))
            .unwrap();
        store
            .set_status(case.case_id, CaseStatus::Active, None)
            .unwrap();
        case.case_id
    };

    let mut acked: Vec<String> = Vec::new();
    // Kill after different numbers of acknowledgements, so the kill lands at different
    // points of the write path (mid-transaction, mid-checkpoint, mid-compaction).
    for (round, kill_after) in [5usize, 37, 150, 1, 260].into_iter().enumerate() {
        let mut child = Command::new(env!("CARGO_BIN_EXE_crash_writer"))
            .arg(dir.path())
            .arg(case.to_string())
            .arg((round * 100_000).to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut seen = 0;
        while seen < kill_after {
            let line = lines.next().expect("writer ended early").unwrap();
            let n = line.strip_prefix("ack ").expect("ack line");
            acked.push(format!("edit {n}"));
            seen += 1;
        }
        // SIGKILL: no destructor, no flush, no checkpoint.
        sigkill(&mut child);
        // Acks already written to the pipe before the kill count too.
        for line in lines.map_while(Result::ok) {
            if let Some(n) = line.strip_prefix("ack ") {
                acked.push(format!("edit {n}"));
            }
        }
        let mut store = Store::open(&config, &keys)
            .unwrap_or_else(|e| panic!("round {round}: reopen failed: {e}"));
        let notes: std::collections::HashSet<String> = store
            .case_file(case)
            .unwrap()
            .sessions
            .into_iter()
            .filter_map(|s| s.note.agreed().cloned())
            .collect();
        let lost: Vec<_> = acked.iter().filter(|a| !notes.contains(*a)).collect();
        assert!(
            lost.is_empty(),
            "round {round}: acknowledged edits lost: {lost:?}"
        );
        assert_eq!(
            store.caseload(&Default::default()).unwrap()[0].session_count as usize,
            notes.len(),
            "index matches the document"
        );
    }
    assert!(acked.len() >= 453);
    let distinct: std::collections::HashSet<_> = acked.iter().collect();
    assert_eq!(
        distinct.len(),
        acked.len(),
        "each round numbers its notes apart"
    );
}

fn sigkill(child: &mut std::process::Child) {
    // std's Child::kill sends SIGKILL on Unix.
    child.kill().unwrap();
    child.wait().unwrap();
}
