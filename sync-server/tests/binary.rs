//! The real `holdfast-relay` binary: SIGKILL it mid-push, restart it on the same data
//! directory, and find every acknowledged envelope with the sequence number it was given.
//! Then SIGTERM it and see it exit cleanly.

mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::{Device, Relay};
use holdfast_protocol::EnvelopeId;
use reqwest::StatusCode;

/// A relay process, killed if the test ends early.
struct Process {
    child: Child,
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the binary on a free port and returns it with its URL, read from the
/// "listening on" line.
fn spawn_relay(data_dir: &Path) -> (Process, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_holdfast-relay"))
        .args(["--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .env("RUST_LOG", "warn")
        .env_remove("HOLDFAST_RELAY_LISTEN")
        .env_remove("HOLDFAST_RELAY_DATA")
        .env_remove("HOLDFAST_RELAY_PUBLIC_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the relay binary starts");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(url) = line.strip_prefix("listening on ") {
                let _ = tx.send(url.to_owned());
            }
        }
    });
    let url = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("a \"listening on\" line");
    (Process { child }, url)
}

fn attach(url: &str) -> Relay {
    Relay {
        running: None,
        url: url.to_owned(),
        origin: url.to_owned(),
        http: reqwest::Client::new(),
        dir: tempfile::tempdir().unwrap(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_envelopes_survive_sigkill_with_their_sequence_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("relay-data");
    let (process, url) = spawn_relay(&data);
    let relay = Arc::new(attach(&url));

    let health = relay.http.get(relay.at("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);

    let alice = Arc::new(Device::new());
    let team = relay.create_team(&alice).await;
    let token = relay.login(&alice).await;

    // Four tasks push as fast as they can; each records what was acknowledged.
    let acknowledged = Arc::new(std::sync::Mutex::new(HashMap::<EnvelopeId, u64>::new()));
    let batches_acked = Arc::new(AtomicUsize::new(0));
    let mut pushers = Vec::new();
    for task in 0..4u64 {
        let (relay, alice, token) = (Arc::clone(&relay), Arc::clone(&alice), token.clone());
        let (acknowledged, batches_acked) = (Arc::clone(&acknowledged), Arc::clone(&batches_acked));
        pushers.push(tokio::spawn(async move {
            for round in 0..10_000u64 {
                let envelopes = alice.changes(team, (task * 10_000 + round) * 100, 20, 256);
                let batch = alice.batch(team, &envelopes);
                let response = relay
                    .http
                    .post(relay.at(&format!("/v1/teams/{team}/envelopes")))
                    .bearer_auth(&token)
                    .body(batch)
                    .send()
                    .await;
                let Ok(response) = response else { return };
                let Ok(body) = response.json::<serde_json::Value>().await else {
                    return;
                };
                let mut acked = acknowledged.lock().unwrap();
                for (envelope, result) in envelopes.iter().zip(body["results"].as_array().unwrap())
                {
                    acked.insert(EnvelopeId::of(envelope), result["seq"].as_u64().unwrap());
                }
                batches_acked.fetch_add(1, Ordering::SeqCst);
            }
        }));
    }
    while batches_acked.load(Ordering::SeqCst) < 40 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    drop(process); // SIGKILL, mid-push
    for pusher in pushers {
        pusher.await.unwrap();
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(acknowledged.len() >= 40 * 20);

    // Restart on the same data: every acknowledged envelope is there, with its seq.
    let (process, url) = spawn_relay(&data);
    let relay = attach(&url);
    // The token key was kept, so the old token still works.
    let items = relay.pull_all(&token, team, "&limit=5000").await;
    let stored: HashMap<EnvelopeId, u64> = items
        .iter()
        .map(|(seq, bytes)| (EnvelopeId::of(bytes), *seq))
        .collect();
    for (id, seq) in &acknowledged {
        assert_eq!(
            stored.get(id),
            Some(seq),
            "acknowledged envelope {id} lost or moved"
        );
    }
    // Sequence numbers have no gaps (envelopes committed but not acknowledged may be
    // there too: the kill can fall between commit and answer).
    let seqs: Vec<u64> = items.iter().map(|(seq, _)| *seq).collect();
    assert_eq!(seqs, (1..=seqs.len() as u64).collect::<Vec<_>>());

    // The sequence carries on.
    let next = relay
        .push_ok(
            &token,
            team,
            alice.batch(team, &alice.changes(team, u64::MAX / 2, 1, 10)),
        )
        .await;
    assert_eq!(next, [(seqs.len() as u64 + 1, false)]);

    // SIGTERM: a clean exit.
    let mut process = process;
    let pid = process.child.id().to_string();
    let killed = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(killed.success());
    let status = wait_with_timeout(&mut process.child, Duration::from_secs(15));
    assert!(status.success(), "exit status {status:?}");
}

fn wait_with_timeout(child: &mut Child, limit: Duration) -> std::process::ExitStatus {
    let deadline = std::time::Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the relay did not exit after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}
