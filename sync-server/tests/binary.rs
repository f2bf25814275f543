//! The real `holdfast-relay` binary: SIGKILL it mid-push, restart it on the same data
//! directory, and find every acknowledged envelope with the sequence number it was given.
//! Then SIGTERM it and see it exit cleanly. And with `--tls-cert`/`--tls-key`: replace the
//! files, SIGHUP it, and see the new certificate served.

mod common;

use std::collections::HashMap;
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::{Device, Relay};
use holdfast_protocol::EnvelopeId;
use reqwest::StatusCode;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::Notify;

/// Batches acknowledged before the relay is killed.
const BATCHES_BEFORE_KILL: usize = 40;

/// A relay process (killed if the test ends early).
struct Process {
    child: Child,
}

impl Process {
    /// SIGKILL, and wait until it is gone.
    async fn kill(mut self) {
        self.child.kill().await.expect("the relay is killed");
    }

    /// Waits (at most `limit`) for it to exit on its own.
    async fn exit_status(mut self, limit: Duration) -> std::process::ExitStatus {
        tokio::time::timeout(limit, self.child.wait())
            .await
            .expect("the relay exits in time")
            .expect("its exit status")
    }
}

/// Starts the binary on a free port and returns it with its URL, read from the
/// "listening on" line it prints once it is serving.
async fn spawn_relay(data_dir: &Path) -> (Process, String) {
    spawn_relay_with(data_dir, &[]).await
}

/// [`spawn_relay`] with more flags.
async fn spawn_relay_with(data_dir: &Path, flags: &[&std::ffi::OsStr]) -> (Process, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_holdfast-relay"))
        .args(["--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .args(flags)
        .env_remove("HOLDFAST_RELAY_TLS_CERT")
        .env_remove("HOLDFAST_RELAY_TLS_KEY")
        .env("RUST_LOG", "warn")
        .env_remove("HOLDFAST_RELAY_LISTEN")
        .env_remove("HOLDFAST_RELAY_DATA")
        .env_remove("HOLDFAST_RELAY_PUBLIC_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("the relay binary starts");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let url = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(line) = lines.next_line().await.expect("the relay's stdout") {
            if let Some(url) = line.strip_prefix("listening on ") {
                return url.to_owned();
            }
        }
        panic!("the relay exited without a \"listening on\" line");
    })
    .await
    .expect("a \"listening on\" line in time");
    // Keep reading so the relay never writes into a closed pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    (Process { child }, url)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_envelopes_survive_sigkill_with_their_sequence_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("relay-data");
    let (process, url) = spawn_relay(&data).await;
    let relay = Arc::new(Relay::attach(&url));

    let health = relay.http.get(relay.at("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);

    let alice = Arc::new(Device::new());
    let team = relay.create_team(&alice).await;
    let token = relay.login(&alice).await;

    // Four tasks push as fast as they can; each records what was acknowledged.
    let acknowledged = Arc::new(std::sync::Mutex::new(HashMap::<EnvelopeId, u64>::new()));
    let batches_acked = Arc::new(AtomicUsize::new(0));
    let enough_acked = Arc::new(Notify::new());
    let mut pushers = Vec::new();
    for task in 0..4u64 {
        let (relay, alice, token) = (Arc::clone(&relay), Arc::clone(&alice), token.clone());
        let (acknowledged, batches_acked) = (Arc::clone(&acknowledged), Arc::clone(&batches_acked));
        let enough_acked = Arc::clone(&enough_acked);
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
                drop(acked);
                if batches_acked.fetch_add(1, Ordering::SeqCst) + 1 == BATCHES_BEFORE_KILL {
                    // Stored if nobody waits yet: the wake-up is not lost.
                    enough_acked.notify_one();
                }
            }
        }));
    }
    tokio::time::timeout(Duration::from_secs(60), enough_acked.notified())
        .await
        .expect("40 batches acknowledged");
    process.kill().await; // SIGKILL, mid-push
    for pusher in pushers {
        pusher.await.unwrap();
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(acknowledged.len() >= BATCHES_BEFORE_KILL * 20);

    // Restart on the same data: every acknowledged envelope is there, with its seq.
    let (process, url) = spawn_relay(&data).await;
    let relay = Relay::attach(&url);
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
    let pid = process.child.id().expect("still running").to_string();
    let killed = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .await
        .unwrap();
    assert!(killed.success());
    let status = process.exit_status(Duration::from_secs(15)).await;
    assert!(status.success(), "exit status {status:?}");
}

/// A CA made for the test, and a leaf of it for 127.0.0.1: (the CA's DER, chain PEM, key PEM).
fn ca_and_leaf(name: &str) -> (Vec<u8>, String, String) {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    let ca = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
    let key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["127.0.0.1".to_owned()])
        .unwrap()
        .signed_by(&key, &ca)
        .unwrap();
    (
        ca.der().to_vec(),
        format!("{}{}", leaf.pem(), ca.pem()),
        key.serialize_pem(),
    )
}

/// Asks `url`'s health on a new connection, trusting only the CA `ca` (DER).
async fn healthy_for(url: &str, ca: &[u8]) -> bool {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.to_vec().into()).unwrap();
    let tls = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let http = reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    matches!(http.get(format!("{url}/healthz")).send().await, Ok(r) if r.status() == StatusCode::OK)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_makes_the_relay_serve_its_replaced_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("chain.pem"), dir.path().join("key.pem"));
    let (old_ca, old_chain, old_key) = ca_and_leaf("old CA");
    let (new_ca, new_chain, new_key) = ca_and_leaf("new CA");
    std::fs::write(&cert, &old_chain).unwrap();
    std::fs::write(&key, &old_key).unwrap();
    let flags = [
        "--tls-cert".as_ref(),
        cert.as_os_str(),
        "--tls-key".as_ref(),
        key.as_os_str(),
    ];
    let (process, url) = spawn_relay_with(&dir.path().join("data"), &flags).await;
    assert!(url.starts_with("https://127.0.0.1:"), "{url}");
    assert!(healthy_for(&url, &old_ca).await);
    assert!(!healthy_for(&url, &new_ca).await);

    // Renewal: both files replaced, then the signal (a certbot deploy hook's job).
    std::fs::write(&cert, &new_chain).unwrap();
    std::fs::write(&key, &new_key).unwrap();
    let pid = process.child.id().expect("the relay's pid").to_string();
    let hup = std::process::Command::new("kill")
        .args(["-HUP", &pid])
        .status()
        .unwrap();
    assert!(hup.success());
    // The signal is handled a moment later.
    let served = tokio::time::timeout(Duration::from_secs(10), async {
        while !healthy_for(&url, &new_ca).await {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(served.is_ok(), "the new certificate is served after SIGHUP");
    assert!(!healthy_for(&url, &old_ca).await);
    process.kill().await;
}
