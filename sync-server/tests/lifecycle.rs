//! Live WebSockets, graceful shutdown, and what a failing storage backend looks like from
//! outside: driven against a real relay on port 0.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::live::{connect, next_seq};
use common::{Device, Relay, expect_error};
use futures_util::StreamExt;
use holdfast_protocol::{DeviceId, Role, TeamId};
use holdfast_relay::storage::{
    self, BundlePage, BundleRequest, Device as RosterEntry, MembershipAppend, MembershipEntry,
    NewEnvelope, NewTeam, Page, PublicKey, PullRequest, PushReceipt, SqliteStorage, Storage,
    TeamHeads, TeamInfo, WriteStats,
};
use reqwest::StatusCode;
use tokio::sync::{Notify, Semaphore};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{self, Message};

#[tokio::test]
async fn members_hear_the_head_grow_and_the_socket_closes_on_shutdown() {
    let mut relay = Relay::start().await;
    let alice = Device::new();
    let team = relay.create_team(&alice).await;
    let token = relay.login(&alice).await;
    relay
        .push_ok(
            &token,
            team,
            alice.batch(team, &alice.changes(team, 0, 2, 100)),
        )
        .await;

    let mut socket = connect(&relay, team, Some(&token)).await.unwrap();
    assert_eq!(
        next_seq(&mut socket).await,
        2,
        "the current head on connect"
    );
    relay
        .push_ok(
            &token,
            team,
            alice.batch(team, &alice.changes(team, 10, 3, 100)),
        )
        .await;
    assert_eq!(next_seq(&mut socket).await, 5);
    // Several pushes in a row: heads only grow, and the last one arrives.
    for round in 0..4u64 {
        relay
            .push_ok(
                &token,
                team,
                alice.batch(team, &alice.changes(team, 100 + round * 10, 2, 10)),
            )
            .await;
    }
    let mut seen = 5;
    while seen < 13 {
        let seq = next_seq(&mut socket).await;
        assert!(seq > seen, "{seq} after {seen}");
        seen = seq;
    }
    // Duplicates do not wake anyone; the gauge counts the socket.
    relay
        .push_ok(
            &token,
            team,
            alice.batch(team, &alice.changes(team, 0, 1, 100)),
        )
        .await;
    let metrics = relay
        .http
        .get(relay.at("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics
            .lines()
            .any(|l| l == "holdfast_relay_live_connections 1"),
        "{metrics}"
    );

    // Strangers and anonymous clients are refused before the upgrade.
    let outsider = Device::new();
    relay.create_team(&outsider).await;
    let outsider_token = relay.login(&outsider).await;
    match connect(&relay, team, Some(&outsider_token)).await {
        Err(tungstenite::Error::Http(response)) => assert_eq!(response.status(), 403),
        other => panic!("expected 403, got {other:?}"),
    }
    match connect(&relay, team, None).await {
        Err(tungstenite::Error::Http(response)) => assert_eq!(response.status(), 401),
        other => panic!("expected 401, got {other:?}"),
    }
    // A member's own token in the URL is not read (URLs reach logs): only the header counts.
    let in_url = format!(
        "{}/v1/teams/{team}/live?token={token}",
        relay.url.replace("http://", "ws://")
    );
    match tokio_tungstenite::connect_async(in_url).await {
        Err(tungstenite::Error::Http(response)) => assert_eq!(response.status(), 401),
        other => panic!("expected 401 for ?token=, got {other:?}"),
    }

    // Shutdown closes the socket with 1001 (going away).
    let shutdown = tokio::spawn(async move { relay.shutdown().await });
    let close = loop {
        match tokio::time::timeout(Duration::from_secs(5), socket.next())
            .await
            .unwrap()
        {
            Some(Ok(Message::Close(frame))) => break frame,
            Some(Ok(_)) => continue,
            other => panic!("expected a close frame, got {other:?}"),
        }
    };
    assert_eq!(close.unwrap().code, CloseCode::Away);
    tokio::time::timeout(Duration::from_secs(10), shutdown)
        .await
        .unwrap()
        .unwrap();
}

/// A device that closes its live socket hears the relay's close frame back (RFC 6455
/// §5.5.1): the socket ends cleanly, not with "reset without closing handshake".
#[tokio::test]
async fn a_socket_the_device_closes_gets_its_close_frame_back() {
    let relay = Relay::start().await;
    let alice = Device::new();
    let team = relay.create_team(&alice).await;
    let token = relay.login(&alice).await;
    let mut socket = connect(&relay, team, Some(&token)).await.unwrap();
    assert_eq!(
        next_seq(&mut socket).await,
        0,
        "the current head on connect"
    );
    futures_util::SinkExt::send(&mut socket, Message::Close(None))
        .await
        .unwrap();
    // What follows the device's close: the relay's close frame, then the end.
    loop {
        let next = tokio::time::timeout(Duration::from_secs(5), socket.next())
            .await
            .expect("the relay answers within 5 s");
        match next {
            Some(Ok(Message::Close(_))) | None => break,
            Some(Ok(_)) => continue,
            Some(Err(e)) => panic!("the socket ended without the closing handshake: {e}"),
        }
    }
}

#[tokio::test]
async fn a_revoked_device_is_disconnected_from_live() {
    let relay = Relay::start().await;
    let admin = Device::new();
    let member = Device::new();
    let team = relay.create_team(&admin).await;
    let admin_token = relay.login(&admin).await;
    relay
        .enrol(&admin_token, team, &admin, &member, Role::LinkWorker, None)
        .await;
    let member_token = relay.login(&member).await;
    let mut socket = connect(&relay, team, Some(&member_token)).await.unwrap();
    assert_eq!(next_seq(&mut socket).await, 0);
    let revoked = relay
        .revoke(&admin_token, team, &admin, member.id, &[&admin])
        .await;
    assert_eq!(revoked.status(), StatusCode::CREATED);
    let batch = (0..1)
        .map(|salt| {
            admin.envelope_at(
                team,
                holdfast_protocol::DocumentId([7; 16]),
                holdfast_protocol::Kind::ChangeBatch,
                0,
                salt,
                10,
                2,
            )
        })
        .collect::<Vec<_>>();
    relay
        .push_ok(&admin_token, team, admin.batch(team, &batch))
        .await;
    let close = loop {
        match tokio::time::timeout(Duration::from_secs(5), socket.next())
            .await
            .unwrap()
        {
            Some(Ok(Message::Close(frame))) => break frame,
            Some(Ok(Message::Text(text))) => panic!("a revoked device heard {text}"),
            Some(Ok(_)) => continue,
            other => panic!("expected a close frame, got {other:?}"),
        }
    };
    assert_eq!(close.unwrap().code, CloseCode::Policy);
}

/// SQLite storage with two test hooks: pushes that wait at a gate, and pushes and pulls
/// that fail the way a broken disk would.
#[derive(Clone)]
struct Hooked {
    inner: SqliteStorage,
    gate: Option<Gate>,
    broken: Arc<AtomicBool>,
}

#[derive(Clone)]
struct Gate {
    entered: Arc<Notify>,
    open: Arc<Semaphore>,
}

const SECRET_CAUSE: &str =
    "sqlite: disk I/O error at /srv/secret-volume/relay.db (SELECT bytes FROM envelopes)";

impl Hooked {
    fn new(dir: &std::path::Path) -> Self {
        std::fs::create_dir_all(dir).unwrap();
        Hooked {
            inner: SqliteStorage::open(dir.join("relay.db")).unwrap(),
            gate: None,
            broken: Arc::new(AtomicBool::new(false)),
        }
    }

    fn failure(&self) -> storage::Result<()> {
        if self.broken.load(Ordering::SeqCst) {
            Err(storage::Error::Backend(SECRET_CAUSE.into()))
        } else {
            Ok(())
        }
    }
}

impl Storage for Hooked {
    async fn create_team(&self, team: NewTeam) -> storage::Result<()> {
        self.inner.create_team(team).await
    }
    async fn append_membership(
        &self,
        team: TeamId,
        append: MembershipAppend,
    ) -> storage::Result<u64> {
        self.inner.append_membership(team, append).await
    }
    async fn membership(&self, team: TeamId, from: u64) -> storage::Result<Vec<MembershipEntry>> {
        self.inner.membership(team, from).await
    }
    async fn stage_bundles(&self, team: TeamId, staging: storage::Staging) -> storage::Result<u64> {
        self.inner.stage_bundles(team, staging).await
    }
    async fn staged_recipients(
        &self,
        team: TeamId,
        sender: holdfast_protocol::DeviceId,
        commitment: [u8; 32],
    ) -> storage::Result<Vec<[u8; 16]>> {
        self.inner.staged_recipients(team, sender, commitment).await
    }
    async fn forget_bundles(
        &self,
        team: TeamId,
        recipient: [u8; 16],
        up_to: u64,
    ) -> storage::Result<u64> {
        self.inner.forget_bundles(team, recipient, up_to).await
    }
    async fn put_private_notes_bundles(
        &self,
        team: TeamId,
        sender: DeviceId,
        bundles: Vec<storage::NewBundle>,
    ) -> storage::Result<u64> {
        self.inner
            .put_private_notes_bundles(team, sender, bundles)
            .await
    }
    async fn bundles(&self, team: TeamId, request: BundleRequest) -> storage::Result<BundlePage> {
        self.inner.bundles(team, request).await
    }
    async fn team(&self, team: TeamId) -> storage::Result<Option<TeamInfo>> {
        self.inner.team(team).await
    }
    async fn devices(&self, team: TeamId) -> storage::Result<Vec<RosterEntry>> {
        self.inner.devices(team).await
    }
    async fn device_key(&self, device: DeviceId) -> storage::Result<Option<PublicKey>> {
        self.inner.device_key(device).await
    }
    async fn push(
        &self,
        team: TeamId,
        envelopes: Vec<NewEnvelope>,
        received_ms: u64,
    ) -> storage::Result<PushReceipt> {
        self.failure()?;
        if let Some(gate) = &self.gate {
            gate.entered.notify_one();
            gate.open.acquire().await.unwrap().forget();
        }
        self.inner.push(team, envelopes, received_ms).await
    }
    async fn pull(&self, team: TeamId, request: PullRequest) -> storage::Result<Page> {
        self.failure()?;
        self.inner.pull(team, request).await
    }
    async fn head(&self, team: TeamId) -> storage::Result<Option<u64>> {
        self.inner.head(team).await
    }
    async fn document_head(
        &self,
        team: TeamId,
        document: holdfast_protocol::DocumentId,
    ) -> storage::Result<u64> {
        self.inner.document_head(team, document).await
    }
    async fn envelope_ids(
        &self,
        team: TeamId,
        seqs: Vec<u64>,
        document: Option<holdfast_protocol::DocumentId>,
        private_notes: storage::PrivateNotes,
    ) -> storage::Result<Vec<Option<holdfast_protocol::EnvelopeId>>> {
        self.inner
            .envelope_ids(team, seqs, document, private_notes)
            .await
    }
    fn set_team_quota(&self, quota: storage::TeamQuota) {
        self.inner.set_team_quota(quota);
    }
    fn heads(&self) -> &TeamHeads {
        self.inner.heads()
    }
    fn write_stats(&self) -> WriteStats {
        self.inner.write_stats()
    }
    async fn check(&self) -> storage::Result<()> {
        self.failure()?;
        self.inner.check().await
    }
    async fn close(&self) -> storage::Result<()> {
        self.inner.close().await
    }
}

#[tokio::test]
async fn graceful_shutdown_drains_an_in_flight_push() {
    let dir = tempfile::tempdir().unwrap();
    let db_dir = dir.path().join("db");
    let mut storage = Hooked::new(&db_dir);
    let gate = Gate {
        entered: Arc::new(Notify::new()),
        open: Arc::new(Semaphore::new(0)),
    };
    storage.gate = Some(gate.clone());
    let mut relay = Relay::start_on(storage, &dir.path().join("data")).await;
    let alice = Device::new();
    let team = relay.create_team(&alice).await;
    let token = relay.login(&alice).await;
    let envelopes = alice.changes(team, 0, 3, 500);
    let batch = alice.batch(team, &envelopes);

    // A push reaches storage and waits there.
    let push = {
        let http = relay.http.clone();
        let url = relay.at(&format!("/v1/teams/{team}/envelopes"));
        let token = token.clone();
        tokio::spawn(async move {
            http.post(url)
                .bearer_auth(token)
                .body(batch)
                .send()
                .await
                .unwrap()
        })
    };
    tokio::time::timeout(Duration::from_secs(5), gate.entered.notified())
        .await
        .unwrap();

    // Shutdown begins while it is in flight: the relay stops accepting but waits. A fresh
    // connection refused is the sign the drain has begun (one that got in before the
    // listener closed is served, so try again until one is refused).
    let url = relay.url.clone();
    let server = relay.server.take().unwrap();
    let shutdown = tokio::spawn(server.shutdown());
    tokio::time::timeout(Duration::from_secs(5), async {
        // A client per try: a pooled connection would outlive the listener.
        while reqwest::Client::new()
            .get(format!("{url}/healthz"))
            .send()
            .await
            .is_ok()
        {}
    })
    .await
    .expect("no new connections while draining");
    // Still draining, not stopped. (A shutdown that did not wait would also be caught
    // below: the push would lose its connection and its envelopes would not be stored.)
    assert!(
        !shutdown.is_finished(),
        "shutdown waits for the in-flight push"
    );

    // Let the push finish: it is answered, then the relay stops.
    gate.open.add_permits(1);
    let response = tokio::time::timeout(Duration::from_secs(5), push)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["results"][2]["seq"], 3);
    tokio::time::timeout(Duration::from_secs(10), shutdown)
        .await
        .unwrap()
        .unwrap()
        .unwrap();

    // The acknowledged envelopes are in the database.
    let reopened = SqliteStorage::open(db_dir.join("relay.db")).unwrap();
    let page = reopened
        .pull(
            team,
            PullRequest {
                after: 0,
                limit: 10,
                max_bytes: usize::MAX,
                compact: false,
                document: None,
                private_notes: storage::PrivateNotes::All,
            },
        )
        .await
        .unwrap();
    let got: Vec<&Vec<u8>> = page.envelopes.iter().map(|(_, bytes)| bytes).collect();
    assert_eq!(got, envelopes.iter().collect::<Vec<_>>());
    reopened.close().await.unwrap();
}

#[tokio::test]
async fn a_storage_failure_is_a_generic_500_that_leaks_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let storage = Hooked::new(&dir.path().join("db"));
    let broken = Arc::clone(&storage.broken);
    let relay = Relay::start_on(storage, &dir.path().join("data")).await;
    let alice = Device::new();
    let team = relay.create_team(&alice).await;
    let token = relay.login(&alice).await;
    broken.store(true, Ordering::SeqCst);

    let push = relay
        .push(
            &token,
            team,
            alice.batch(team, &alice.changes(team, 0, 1, 10)),
        )
        .await;
    let pull = relay.pull(&token, team, "after=0").await;
    for response in [push, pull] {
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let text = response.text().await.unwrap();
        assert_eq!(text, r#"{"code":"internal","message":"internal error"}"#);
        for secret in ["secret", "sqlite", "SELECT", "relay.db", "disk"] {
            assert!(!text.contains(secret), "{text}");
        }
    }
    // Health says so, without the cause either.
    let health = relay.http.get(relay.at("/healthz")).send().await.unwrap();
    let message = expect_error(health, StatusCode::SERVICE_UNAVAILABLE, "unavailable").await;
    assert!(!message.contains("secret"), "{message}");
    let metrics = relay
        .http
        .get(relay.at("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics
            .lines()
            .any(|l| l == "holdfast_relay_errors_total{code=\"internal\"} 2"),
        "{metrics}"
    );

    broken.store(false, Ordering::SeqCst);
    let healthy = relay.http.get(relay.at("/healthz")).send().await.unwrap();
    assert_eq!(healthy.status(), StatusCode::OK);
}

/// A patient's device hears its plan's head only: staff writing case files (when, how
/// much) is not announced to it.
#[tokio::test]
async fn a_patient_hears_only_its_plans_head() {
    use holdfast_protocol::{DocumentId, Kind};
    const PLAN: DocumentId = DocumentId([0xa1; 16]);
    const CASE: DocumentId = DocumentId([0xc1; 16]);
    let relay = Relay::start().await;
    let worker = Device::new();
    let patient = Device::new();
    let team = relay.create_team(&worker).await;
    let worker_token = relay.login(&worker).await;
    relay
        .enrol(
            &worker_token,
            team,
            &worker,
            &patient,
            Role::Patient,
            Some(PLAN),
        )
        .await;
    let patient_token = relay.login(&patient).await;
    let write = |doc: DocumentId, salt: u64| {
        worker.batch(
            team,
            &[worker.envelope_at(team, doc, Kind::ChangeBatch, 0, salt, 32, 1)],
        )
    };
    relay.push_ok(&worker_token, team, write(CASE, 1)).await;
    relay.push_ok(&worker_token, team, write(PLAN, 2)).await;

    let mut socket = connect(&relay, team, Some(&patient_token)).await.unwrap();
    assert_eq!(next_seq(&mut socket).await, 2, "the plan's head on connect");
    // Case-file writes move the team's head (3, 4, 5), and the patient hears nothing of
    // them. Then one batch writes its plan (6) and a case file (7): the team's head jumps
    // from 5 to 7, so the next thing the patient hears is 6 only if it heard nothing of
    // the case files, before or after (no waiting for a silence).
    for salt in 3..6 {
        relay.push_ok(&worker_token, team, write(CASE, salt)).await;
    }
    let plan_then_case = worker.batch(
        team,
        &[
            worker.envelope_at(team, PLAN, Kind::ChangeBatch, 0, 6, 32, 1),
            worker.envelope_at(team, CASE, Kind::ChangeBatch, 0, 7, 32, 1),
        ],
    );
    assert_eq!(
        relay.push_ok(&worker_token, team, plan_then_case).await,
        [(6, false), (7, false)]
    );
    assert_eq!(
        next_seq(&mut socket).await,
        6,
        "only the plan's head, as the plan's sequence number"
    );
    // Staff still hear the team's head.
    let mut staff = connect(&relay, team, Some(&worker_token)).await.unwrap();
    assert_eq!(next_seq(&mut staff).await, 7);
    relay.push_ok(&worker_token, team, write(CASE, 10)).await;
    assert_eq!(next_seq(&mut staff).await, 8);
}
