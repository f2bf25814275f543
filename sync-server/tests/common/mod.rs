//! Helpers for driving a real relay on port 0: devices, team creation, login, envelopes
//! and batches built with holdfast-protocol, and error-body checks.

#![allow(dead_code)] // each test binary uses its own subset

use std::time::{SystemTime, UNIX_EPOCH};

use holdfast_protocol::{
    DeviceId, DeviceSigningKey, DocumentId, DocumentKey, Header, Kind, PUSH_CONTEXT, PUSH_MAGIC,
    PullPage, PushBatch, SystemRandom, TeamId, seal, sign_auth,
};
use holdfast_relay::{Config, Limits, RunningRelay, Storage};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// The document key every test envelope is sealed with.
pub const DOC_KEY: [u8; 32] = [0x42; 32];

pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// A relay on a free loopback port, with its data in a temporary directory.
pub struct Relay {
    pub running: Option<RunningRelay>,
    pub url: String,
    pub origin: String,
    pub http: reqwest::Client,
    pub dir: tempfile::TempDir,
}

impl Relay {
    pub async fn start() -> Relay {
        Self::start_with(Limits::default()).await
    }

    pub async fn start_with(limits: Limits) -> Relay {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config::new(dir.path().join("data"));
        config.limits = limits;
        let running = holdfast_relay::serve(config).await.unwrap();
        Self::from_running(running, dir)
    }

    /// A relay on a storage backend of the test's choosing.
    pub async fn start_on<S: Storage>(storage: S, dir: tempfile::TempDir) -> Relay {
        let config = Config::new(dir.path().join("data"));
        let running = holdfast_relay::serve_with(config, storage).await.unwrap();
        Self::from_running(running, dir)
    }

    fn from_running(running: RunningRelay, dir: tempfile::TempDir) -> Relay {
        Relay {
            url: running.url(),
            origin: running.origin().to_owned(),
            running: Some(running),
            http: reqwest::Client::new(),
            dir,
        }
    }

    pub fn at(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }

    pub async fn shutdown(&mut self) {
        if let Some(running) = self.running.take() {
            running.shutdown().await.unwrap();
        }
    }

    /// Creates a team with `admin` as its first admin.
    pub async fn create_team(&self, admin: &Device) -> TeamId {
        let team = TeamId::random(&SystemRandom::new()).unwrap();
        let response = self
            .http
            .post(self.at("/v1/teams"))
            .json(&admin.team_creation(&self.origin, team, now_ms()))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::CREATED);
        team
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
        let challenge = self.challenge(device).await;
        let signature = sign_auth(&device.key, &self.origin, &device.id, &challenge).unwrap();
        let response = self.answer(device.id, &challenge, &signature).await;
        let status = response.status();
        let body: Value = response.json().await.unwrap();
        if status == StatusCode::OK {
            Ok(body["token"].as_str().unwrap().to_owned())
        } else {
            Err((status, body))
        }
    }

    /// Adds `device` to `team` with `role`, as the admin holding `token`.
    pub async fn add_device(
        &self,
        token: &str,
        team: TeamId,
        device: &Device,
        role: &str,
    ) -> reqwest::Response {
        self.http
            .post(self.at(&format!("/v1/teams/{team}/devices")))
            .bearer_auth(token)
            .json(&json!({
                "device": device.id.to_string(),
                "public_key": hex::encode(device.key.public_key()),
                "role": role,
            }))
            .send()
            .await
            .unwrap()
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

/// A device: an id and a signing key.
pub struct Device {
    pub id: DeviceId,
    pub key: DeviceSigningKey,
}

impl Device {
    pub fn new() -> Device {
        let rng = SystemRandom::new();
        Device {
            id: DeviceId::random(&rng).unwrap(),
            key: DeviceSigningKey::generate(&rng).unwrap(),
        }
    }

    /// The body of `POST /v1/teams`.
    pub fn team_creation(&self, origin: &str, team: TeamId, timestamp: u64) -> Value {
        let signature =
            holdfast_relay::sign_team_creation(&self.key, origin, &team, &self.id, timestamp)
                .unwrap();
        json!({
            "team": team.to_string(),
            "device": self.id.to_string(),
            "public_key": hex::encode(self.key.public_key()),
            "timestamp": timestamp,
            "signature": hex::encode(signature),
        })
    }

    /// A sealed envelope by this device (distinct per `salt`).
    pub fn envelope(
        &self,
        team: TeamId,
        document: DocumentId,
        kind: Kind,
        covers: u64,
        salt: u64,
        plaintext_len: usize,
    ) -> Vec<u8> {
        let mut nonce = [0u8; 12];
        nonce[4..].copy_from_slice(&salt.to_be_bytes());
        let header = Header {
            kind,
            team,
            document,
            epoch: 1,
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
        PushBatch::encode(&team, &self.id, &self.key, now_ms(), &refs).unwrap()
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
