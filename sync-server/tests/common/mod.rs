//! Helpers for driving a real relay on port 0: devices, team creation, login, envelopes
//! and batches built with holdfast-protocol, and error-body checks.

#![allow(dead_code)] // each test binary uses its own subset

pub mod live;

use std::path::Path;
use std::sync::Arc;

use holdfast_protocol::{
    BundleHeader, DeviceId, DeviceSigningKey, DocumentId, DocumentKey, Entry, EpochKey, Header,
    HpkeKeyPair, HpkePublicKey, InviteCode, KeyBundle, Kind, ManualClock, Op, PUSH_CONTEXT,
    PUSH_MAGIC, PullPage, PushBatch, Role, SharedClock, SystemRandom, TeamId, WrappedKey,
    redeem_proof_message, seal, system_clock,
};
use holdfast_relay::testing::{self, TestRelay};
use holdfast_relay::{Limits, Storage};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// The document key every test envelope is sealed with.
pub const DOC_KEY: [u8; 32] = [0x42; 32];

/// Where a [`ManualClock`] starts in tests: 2025-06-15T12:00:00Z.
pub const CLOCK_START_MS: u64 = 1_749_988_800_000;

/// A relay under test and a client for its HTTP API.
pub struct Relay {
    /// The relay, when this process runs it (`None` for a relay in another process).
    pub server: Option<TestRelay>,
    pub url: String,
    pub origin: String,
    pub http: reqwest::Client,
    /// The relay's clock: what [`Relay::now_ms`] and devices from [`Relay::device`] read.
    pub clock: SharedClock,
}

impl Relay {
    pub async fn start() -> Relay {
        Self::serving(TestRelay::start().await)
    }

    pub async fn start_with(limits: Limits) -> Relay {
        Self::serving(TestRelay::builder().limits(limits).start().await)
    }

    /// A relay whose time stands still until the test moves `clock` (or a clone of it).
    /// Rate budgets refill only as the clock moves. Build its devices with
    /// [`Relay::device`] so their entries and batches are dated by the same clock.
    pub async fn start_with_clock(clock: ManualClock) -> Relay {
        Self::serving(TestRelay::builder().clock(Arc::new(clock)).start().await)
    }

    /// A relay on a storage backend of the test's choosing, with its token key in
    /// `data_dir`.
    pub async fn start_on<S: Storage>(storage: S, data_dir: &Path) -> Relay {
        Self::serving(
            TestRelay::builder()
                .data_dir(data_dir)
                .start_on(storage)
                .await,
        )
    }

    /// A client for `server`.
    pub fn serving(server: TestRelay) -> Relay {
        Relay {
            url: server.url(),
            origin: server.origin().to_owned(),
            clock: Arc::clone(server.clock()),
            server: Some(server),
            http: reqwest::Client::new(),
        }
    }

    /// A client for a relay at `url` in another process, on the system clock.
    pub fn attach(url: &str) -> Relay {
        holdfast_relay::testing::install_crypto_provider();
        Relay {
            server: None,
            url: url.to_owned(),
            origin: url.to_owned(),
            http: reqwest::Client::new(),
            clock: system_clock(),
        }
    }

    /// Milliseconds since the epoch by the relay's clock.
    pub fn now_ms(&self) -> u64 {
        self.clock.now_ms()
    }

    /// A new device reading the relay's clock.
    pub fn device(&self) -> Device {
        Device::with_clock(Arc::clone(&self.clock))
    }

    pub fn at(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }

    /// Shuts the relay down gracefully and waits until it has.
    pub async fn shutdown(&mut self) {
        if let Some(server) = self.server.as_mut() {
            server.stop().await;
        }
    }

    /// Creates a team with `admin` as its first admin.
    pub async fn create_team(&self, admin: &Device) -> TeamId {
        let team = TeamId::random_with(&SystemRandom::new()).unwrap();
        let response = self
            .post_genesis(&admin.genesis(team, admin.now_ms()))
            .await;
        assert_eq!(response.status(), StatusCode::CREATED);
        team
    }

    /// `POST /v1/teams` with a genesis entry.
    pub async fn post_genesis(&self, genesis: &Entry) -> reqwest::Response {
        self.http
            .post(self.at("/v1/teams"))
            .json(&json!({"genesis": hex::encode(genesis.as_bytes())}))
            .send()
            .await
            .unwrap()
    }

    /// An authenticated GET.
    pub async fn get(&self, token: &str, path: &str) -> reqwest::Response {
        self.http
            .get(self.at(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    /// `GET /v1/teams/{team}` as JSON (asserting 200).
    pub async fn team(&self, token: &str, team: TeamId) -> Value {
        let response = self.get(token, &format!("/v1/teams/{team}")).await;
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.unwrap()
    }

    /// The team's membership log length.
    pub async fn membership_len(&self, token: &str, team: TeamId) -> u64 {
        self.team(token, team).await["membership_len"]
            .as_u64()
            .unwrap()
    }

    /// `POST /v1/teams/{team}/membership`.
    pub async fn append(
        &self,
        token: &str,
        team: TeamId,
        entry: &Entry,
        bundles: &[Vec<u8>],
        expected_len: u64,
    ) -> reqwest::Response {
        let bundles: Vec<String> = bundles.iter().map(hex::encode).collect();
        self.http
            .post(self.at(&format!("/v1/teams/{team}/membership")))
            .bearer_auth(token)
            .json(&json!({
                "entry": hex::encode(entry.as_bytes()),
                "bundles": bundles,
                "expected_len": expected_len,
            }))
            .send()
            .await
            .unwrap()
    }

    /// Creates an invite as `inviter` (token `token`): appends the Invite entry with a key
    /// bundle for the invite. Returns the code and the relay's answer.
    pub async fn invite(
        &self,
        token: &str,
        team: TeamId,
        inviter: &Device,
        role: Role,
        plan: Option<DocumentId>,
        expires_at_ms: u64,
    ) -> (InviteCode, reqwest::Response) {
        let code = invite_code(&self.url, team, role, plan, expires_at_ms);
        let entry = inviter.invite_entry(team, &code);
        let hpke = code.hpke_key().unwrap();
        let bundle = inviter.bundle(team, code.id().0, hpke.public_key(), 1);
        let len = self.membership_len(token, team).await;
        let response = self.append(token, team, &entry, &[bundle], len).await;
        (code, response)
    }

    /// `device` redeems `code`.
    pub async fn redeem(
        &self,
        team: TeamId,
        code: &InviteCode,
        device: &Device,
    ) -> reqwest::Response {
        let entry = device.redeem_entry(team, code, &code.signing_key().unwrap());
        self.post_redeem(team, code, &entry).await
    }

    /// Posts a redeem entry to `code`'s invite.
    pub async fn post_redeem(
        &self,
        team: TeamId,
        code: &InviteCode,
        entry: &Entry,
    ) -> reqwest::Response {
        self.http
            .post(self.at(&format!("/v1/teams/{team}/invites/{}/redeem", code.id())))
            .json(&json!({"entry": hex::encode(entry.as_bytes())}))
            .send()
            .await
            .unwrap()
    }

    /// Enrols `device` into `team` with `role` (and `plan`): `inviter` (token `token`)
    /// invites, the device redeems. Panics unless both succeed.
    pub async fn enrol(
        &self,
        token: &str,
        team: TeamId,
        inviter: &Device,
        device: &Device,
        role: Role,
        plan: Option<DocumentId>,
    ) -> InviteCode {
        let (code, response) = self
            .invite(token, team, inviter, role, plan, inviter.now_ms() + 600_000)
            .await;
        let status = response.status();
        assert_eq!(
            status,
            StatusCode::CREATED,
            "{}",
            response.text().await.unwrap()
        );
        let response = self.redeem(team, &code, device).await;
        let status = response.status();
        assert_eq!(
            status,
            StatusCode::CREATED,
            "{}",
            response.text().await.unwrap()
        );
        code
    }

    /// `admin` revokes `device`, with a key bundle for each of `others`.
    pub async fn revoke(
        &self,
        token: &str,
        team: TeamId,
        admin: &Device,
        device: DeviceId,
        others: &[&Device],
    ) -> reqwest::Response {
        let shown = self.team(token, team).await;
        let epoch = shown["epoch"].as_u64().unwrap() as u32 + 1;
        let len = shown["membership_len"].as_u64().unwrap();
        let entry = admin.revoke_entry(team, device, epoch);
        let bundles: Vec<Vec<u8>> = others
            .iter()
            .map(|d| admin.bundle(team, d.id.0, d.hpke.public_key(), epoch))
            .collect();
        self.append(token, team, &entry, &bundles, len).await
    }

    /// Logs `device` in and returns its bearer token.
    pub async fn login(&self, device: &Device) -> String {
        self.try_login(device).await.expect("login")
    }

    pub async fn challenge(&self, device: &Device) -> [u8; 32] {
        let response = self
            .http
            .post(self.at("/v1/auth/challenge"))
            .json(&json!({"device": device.id.to_string()}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let body: Value = response.json().await.unwrap();
        let mut challenge = [0u8; 32];
        hex::decode_to_slice(body["challenge"].as_str().unwrap(), &mut challenge).unwrap();
        challenge
    }

    pub async fn answer(
        &self,
        device: DeviceId,
        challenge: &[u8; 32],
        signature: &[u8; 64],
    ) -> reqwest::Response {
        self.http
            .post(self.at("/v1/auth/token"))
            .json(&json!({
                "device": device.to_string(),
                "challenge": hex::encode(challenge),
                "signature": hex::encode(signature),
            }))
            .send()
            .await
            .unwrap()
    }

    pub async fn try_login(&self, device: &Device) -> Result<String, (StatusCode, Value)> {
        testing::login_at(&self.url, &self.origin, device.id, &device.key)
            .await
            .map_err(|refused| {
                let status = StatusCode::from_u16(refused.status).unwrap();
                (status, serde_json::from_str(&refused.body).unwrap())
            })
    }

    pub async fn push(&self, token: &str, team: TeamId, batch: Vec<u8>) -> reqwest::Response {
        self.http
            .post(self.at(&format!("/v1/teams/{team}/envelopes")))
            .bearer_auth(token)
            .header("content-type", "application/octet-stream")
            .body(batch)
            .send()
            .await
            .unwrap()
    }

    /// Pushes and returns `(seq, duplicate)` per envelope.
    pub async fn push_ok(&self, token: &str, team: TeamId, batch: Vec<u8>) -> Vec<(u64, bool)> {
        let response = self.push(token, team, batch).await;
        let status = response.status();
        let body: Value = response.json().await.unwrap();
        assert_eq!(status, StatusCode::OK, "{body}");
        body["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["seq"].as_u64().unwrap(),
                    r["duplicate"].as_bool().unwrap(),
                )
            })
            .collect()
    }

    pub async fn pull(&self, token: &str, team: TeamId, query: &str) -> reqwest::Response {
        self.http
            .get(self.at(&format!("/v1/teams/{team}/envelopes?{query}")))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    pub async fn pull_page(&self, token: &str, team: TeamId, query: &str) -> PullPage {
        let response = self.pull(token, team, query).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            response.headers()["content-type"],
            "application/octet-stream"
        );
        PullPage::decode(&response.bytes().await.unwrap()).unwrap()
    }

    /// Every envelope after `after`, following `next` until `more` is false.
    pub async fn pull_all(&self, token: &str, team: TeamId, extra: &str) -> Vec<(u64, Vec<u8>)> {
        let mut after = 0;
        let mut items = Vec::new();
        loop {
            let page = self
                .pull_page(token, team, &format!("after={after}{extra}"))
                .await;
            items.extend(page.items);
            if !page.more {
                return items;
            }
            after = page.next;
        }
    }
}

/// A fresh invite code for `team` (the relay does not check the anchor).
pub fn invite_code(
    relay_url: &str,
    team: TeamId,
    role: Role,
    plan: Option<DocumentId>,
    expires_at_ms: u64,
) -> InviteCode {
    InviteCode::generate(
        &SystemRandom::new(),
        relay_url,
        team,
        [0; 16],
        role,
        plan,
        expires_at_ms,
    )
    .unwrap()
}

/// A device: an id, a signing key, an HPKE key pair, and the clock it dates things by.
pub struct Device {
    pub id: DeviceId,
    pub key: DeviceSigningKey,
    pub hpke: HpkeKeyPair,
    pub clock: SharedClock,
}

impl Device {
    /// A device on the system clock (for a relay on the system clock).
    pub fn new() -> Device {
        Self::with_clock(system_clock())
    }

    /// A device reading `clock`.
    pub fn with_clock(clock: SharedClock) -> Device {
        let rng = SystemRandom::new();
        Device {
            id: DeviceId::random_with(&rng).unwrap(),
            key: DeviceSigningKey::generate(&rng).unwrap(),
            hpke: HpkeKeyPair::generate(&rng).unwrap(),
            clock,
        }
    }

    /// Milliseconds since the epoch by this device's clock.
    pub fn now_ms(&self) -> u64 {
        self.clock.now_ms()
    }

    /// This device's genesis entry for `team`.
    pub fn genesis(&self, team: TeamId, at_ms: u64) -> Entry {
        let op = Op::Genesis {
            device: self.id,
            sign_key: self.key.public_key(),
            hpke_key: self.hpke.public_key().clone(),
            key_commitment: [1; 32],
        };
        Entry::sign(team, at_ms, self.id.0, op, &self.key).unwrap()
    }

    /// An entry signed by this device, now.
    pub fn entry(&self, team: TeamId, op: Op) -> Entry {
        Entry::sign(team, self.now_ms(), self.id.0, op, &self.key).unwrap()
    }

    /// The Invite entry for `code`, signed by this device.
    pub fn invite_entry(&self, team: TeamId, code: &InviteCode) -> Entry {
        let op = Op::Invite {
            invite: code.id(),
            sign_key: code.signing_key().unwrap().public_key(),
            hpke_key: code.hpke_key().unwrap().public_key().clone(),
            role: code.role,
            plan: code.plan,
            expires_at_ms: code.expires_at_ms,
        };
        self.entry(team, op)
    }

    /// This device's Redeem entry for `code`, signed with `invite_key`.
    pub fn redeem_entry(
        &self,
        team: TeamId,
        code: &InviteCode,
        invite_key: &DeviceSigningKey,
    ) -> Entry {
        let invite = code.id();
        let hpke_key = self.hpke.public_key().clone();
        let proof =
            redeem_proof_message(&team, &invite, &self.id, &self.key.public_key(), &hpke_key);
        let op = Op::Redeem {
            invite,
            device: self.id,
            sign_key: self.key.public_key(),
            hpke_key,
            device_signature: self.key.sign(&proof),
        };
        Entry::sign(team, self.now_ms(), invite.0, op, invite_key).unwrap()
    }

    /// A Revoke entry by this device.
    pub fn revoke_entry(&self, team: TeamId, device: DeviceId, epoch: u32) -> Entry {
        self.entry(
            team,
            Op::Revoke {
                device,
                epoch,
                key_commitment: [epoch as u8; 32],
            },
        )
    }

    /// A key bundle from this device to `recipient` carrying one (random) epoch key.
    pub fn bundle(
        &self,
        team: TeamId,
        recipient: [u8; 16],
        to: &HpkePublicKey,
        epoch: u32,
    ) -> Vec<u8> {
        let header = BundleHeader {
            team,
            recipient,
            sender: self.id,
            at_ms: self.now_ms(),
        };
        let key = EpochKey::generate(&SystemRandom::new()).unwrap();
        KeyBundle::seal(header, to, &[WrappedKey::Epoch { epoch, key }], &self.key).unwrap()
    }

    /// A sealed envelope by this device at key epoch 1 (distinct per `salt`).
    pub fn envelope(
        &self,
        team: TeamId,
        document: DocumentId,
        kind: Kind,
        covers: u64,
        salt: u64,
        plaintext_len: usize,
    ) -> Vec<u8> {
        self.envelope_at(team, document, kind, covers, salt, plaintext_len, 1)
    }

    /// A sealed envelope by this device at key epoch `epoch`.
    #[allow(clippy::too_many_arguments)]
    pub fn envelope_at(
        &self,
        team: TeamId,
        document: DocumentId,
        kind: Kind,
        covers: u64,
        salt: u64,
        plaintext_len: usize,
        epoch: u32,
    ) -> Vec<u8> {
        let mut nonce = [0u8; 12];
        nonce[4..].copy_from_slice(&salt.to_be_bytes());
        let header = Header {
            kind,
            team,
            document,
            epoch,
            author: self.id,
            covers,
            nonce,
        };
        let mut plaintext = format!("envelope {salt} ").into_bytes();
        plaintext.resize(plaintext_len.max(plaintext.len()), b'.');
        seal(
            &header,
            &DocumentKey::from_bytes(DOC_KEY),
            &plaintext,
            &self.key,
        )
        .unwrap()
    }

    /// `count` change batches of ~`size` bytes of plaintext for one document.
    pub fn changes(&self, team: TeamId, salt: u64, count: u64, size: usize) -> Vec<Vec<u8>> {
        (0..count)
            .map(|i| {
                self.envelope(
                    team,
                    DocumentId([7; 16]),
                    Kind::ChangeBatch,
                    0,
                    salt + i,
                    size,
                )
            })
            .collect()
    }

    /// A push batch of `envelopes`, signed now.
    pub fn batch(&self, team: TeamId, envelopes: &[Vec<u8>]) -> Vec<u8> {
        let refs: Vec<&[u8]> = envelopes.iter().map(Vec::as_slice).collect();
        PushBatch::encode(&team, &self.id, &self.key, self.now_ms(), &refs).unwrap()
    }
}

/// A push batch framed and signed by hand, without the encoder's checks, to build what a
/// broken or malicious client would send.
pub fn raw_batch(
    team: TeamId,
    pusher: DeviceId,
    signer: &DeviceSigningKey,
    timestamp_ms: u64,
    envelopes: &[Vec<u8>],
) -> Vec<u8> {
    let mut message = PUSH_CONTEXT.to_vec();
    message.extend_from_slice(&team.0);
    message.extend_from_slice(&pusher.0);
    message.extend_from_slice(&timestamp_ms.to_be_bytes());
    let mut out = PUSH_MAGIC.to_vec();
    out.extend_from_slice(&team.0);
    out.extend_from_slice(&pusher.0);
    out.extend_from_slice(&timestamp_ms.to_be_bytes());
    out.extend_from_slice(&(envelopes.len() as u16).to_be_bytes());
    for envelope in envelopes {
        message.extend_from_slice(&holdfast_protocol::EnvelopeId::of(envelope).0);
        out.extend_from_slice(&(envelope.len() as u32).to_be_bytes());
        out.extend_from_slice(envelope);
    }
    out.extend_from_slice(&signer.sign(&message));
    out
}

/// Asserts a response is an error with `status` and `code`; returns its message.
pub async fn expect_error(response: reqwest::Response, status: StatusCode, code: &str) -> String {
    let got = response.status();
    let text = response.text().await.unwrap();
    assert_eq!(got, status, "body: {text}");
    let body: Value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"));
    assert_eq!(body["code"], code, "body: {body}");
    let message = body["message"].as_str().expect("a message").to_owned();
    assert!(!message.is_empty());
    assert_eq!(
        body.as_object().unwrap().len(),
        2,
        "only code and message: {body}"
    );
    message
}
