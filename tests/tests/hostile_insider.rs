//! A hostile insider at a real team's size (issue 10): a link worker's phone, stolen or
//! turned, signs its own invites and redeems them with made-up devices until the team has
//! 5,000 recipients (staff devices, patients' devices, pending invites), and fills what it
//! can with junk key bundles of the largest size the relay takes. Against a real relay
//! in-process, the team's own devices must go on working: a new staff device joins, an old
//! one catches up from nothing, a patient syncs, and the admin revokes the insider; then
//! what the insider sealed under a key only it holds stalls nobody.
//!
//! Each step's time is printed; the revocation at 20, 1,000 and 5,000 recipients goes into
//! docs/PERFORMANCE.md. Run with `-- --nocapture` to see them.

use std::time::Instant;

use holdfast_core::TeamId;
use holdfast_core::model::case_file::NewPatient;
use holdfast_core::model::ids::DocumentId;
use holdfast_core::sync::Role;
use holdfast_protocol::{
    BundleHeader, DeviceId, DeviceSigningKey, DocumentKey, Entry, EpochKey, Header, HpkeKeyPair,
    HpkePublicKey, InviteCode, KeyBundle, Kind, MAX_BUNDLES_PER_REQUEST, MAX_PENDING_INVITES,
    Membership, Op, PushBatch, SystemRandom, WrappedKey, max_bundle_len, seal,
};
use holdfast_relay::Limits;
use holdfast_relay::testing::TestRelay;
use holdfast_tests::Device;
use serde_json::{Value, json};

/// The recipients a revocation must reach at the end: every active device but the one
/// revoked, and every pending invite.
const RECIPIENTS: usize = 5_000;
/// Of the made-up devices, this many are patients' phones (the rest staff).
const FAKE_PATIENTS: usize = 1_000;

/// The insider, as raw protocol: it signs what no honest client would.
struct Insider {
    http: reqwest::Client,
    url: String,
    team: TeamId,
    id: DeviceId,
    key: DeviceSigningKey,
    token: String,
    rng: SystemRandom,
    /// Its made-up patients' devices.
    patients: Vec<DeviceId>,
    /// Its made-up staff devices.
    workers: Vec<DeviceId>,
}

impl Insider {
    async fn new(url: &str, team: TeamId, device: &Device) -> Insider {
        let key = device.signer();
        let token = holdfast_relay::testing::login(url, device.id(), &key)
            .await
            .expect("the insider logs in");
        Insider {
            http: reqwest::Client::new(),
            url: url.to_owned(),
            team,
            id: device.id(),
            key,
            token,
            rng: SystemRandom::new(),
            patients: Vec::new(),
            workers: Vec::new(),
        }
    }

    fn now_ms(&self) -> u64 {
        holdfast_protocol::system_clock().now_ms()
    }

    async fn post(&self, path: &str, body: Value, token: bool) -> (u16, Value) {
        let mut request = self.http.post(format!("{}{path}", self.url)).json(&body);
        if token {
            request = request.bearer_auth(&self.token);
        }
        let response = request.send().await.expect("the relay answers");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn membership_len(&self) -> u64 {
        let team: Value = self
            .http
            .get(format!("{}/v1/teams/{}", self.url, self.team))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        team["membership_len"].as_u64().unwrap()
    }

    /// Appends an entry it signed (with `bundles`), at the log's length now.
    async fn append(&self, entry: &Entry, bundles: &[Vec<u8>]) -> (u16, Value) {
        let len = self.membership_len().await;
        self.post(
            &format!("/v1/teams/{}/membership", self.team),
            json!({
                "entry": hex::encode(entry.as_bytes()),
                "bundles": bundles.iter().map(hex::encode).collect::<Vec<_>>(),
                "expected_len": len,
            }),
            true,
        )
        .await
    }

    /// An invite it signs itself, for `role` (and `plan`), with no key bundle.
    async fn invite(&self, role: Role, plan: Option<DocumentId>) -> InviteCode {
        let code = InviteCode::generate(
            &self.rng,
            &self.url,
            self.team,
            [0; 16],
            role,
            plan,
            self.now_ms() + 600_000,
        )
        .unwrap();
        let op = Op::Invite {
            invite: code.id(),
            sign_key: code.signing_key().unwrap().public_key(),
            hpke_key: code.hpke_key().unwrap().public_key().clone(),
            role,
            plan,
            expires_at_ms: code.expires_at_ms,
        };
        let entry = Entry::sign(self.team, self.now_ms(), self.id.0, op, &self.key).unwrap();
        let (status, body) = self.append(&entry, &[]).await;
        assert_eq!(status, 201, "invite: {body}");
        code
    }

    /// A made-up device redeems `code`.
    async fn redeem(&self, code: &InviteCode) -> DeviceId {
        let device = DeviceId::random_with(&self.rng).unwrap();
        let key = DeviceSigningKey::generate(&self.rng).unwrap();
        let hpke = HpkeKeyPair::generate(&self.rng).unwrap();
        let invite = code.id();
        let hpke_key = hpke.public_key().clone();
        let proof = holdfast_protocol::redeem_proof_message(
            &self.team,
            &invite,
            &device,
            &key.public_key(),
            &hpke_key,
        );
        let op = Op::Redeem {
            invite,
            device,
            sign_key: key.public_key(),
            hpke_key,
            device_signature: key.sign(&proof),
        };
        let entry = Entry::sign(
            self.team,
            self.now_ms(),
            invite.0,
            op,
            &code.signing_key().unwrap(),
        )
        .unwrap();
        let (status, body) = self
            .post(
                &format!("/v1/teams/{}/invites/{invite}/redeem", self.team),
                json!({"entry": hex::encode(entry.as_bytes())}),
                false,
            )
            .await;
        assert_eq!(status, 201, "redeem: {body}");
        device
    }

    /// Enrols made-up staff devices until the team's recipients number `target`.
    async fn grow_to(&mut self, target: usize) {
        let now = recipients(&self.fold().await, None).len();
        for _ in now..target {
            let code = self.invite(Role::LinkWorker, None).await;
            let device = self.redeem(&code).await;
            self.workers.push(device);
        }
    }

    /// The team's log as the relay serves it, folded.
    async fn fold(&self) -> Membership {
        let mut m = Membership::new(self.team);
        let mut from = 0;
        loop {
            let page: Value = self
                .http
                .get(format!(
                    "{}/v1/teams/{}/membership?from={from}&limit=1000",
                    self.url, self.team
                ))
                .bearer_auth(&self.token)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            for e in page["entries"].as_array().unwrap() {
                let bytes = hex::decode(e["entry"].as_str().unwrap()).unwrap();
                // Folded as devices fold it: an invite redeemed in time stays redeemed.
                m.apply(&Entry::decode(&bytes).unwrap()).unwrap();
                from = e["seq"].as_u64().unwrap() + 1;
            }
            if !page["more"].as_bool().unwrap() {
                return m;
            }
        }
    }

    /// A junk bundle for `recipient` as long as the relay takes for `keys` keys: sealed to
    /// the recipient and signed, so it passes every check the relay can make, but every
    /// key in it is made up.
    fn junk(&self, recipient: [u8; 16], to: &HpkePublicKey, keys: usize) -> Vec<u8> {
        let wrapped: Vec<WrappedKey> = (0..keys)
            .map(|e| WrappedKey::Document {
                document: DocumentId::random_with(&self.rng).unwrap(),
                epoch: u32::try_from(e + 1).unwrap(),
                key: DocumentKey::from_bytes([0x5a; 32]),
            })
            .collect();
        let header = BundleHeader {
            team: self.team,
            recipient,
            sender: self.id,
            at_ms: self.now_ms(),
        };
        let bundle = KeyBundle::seal(header, to, &wrapped, &self.key).unwrap();
        assert_eq!(
            bundle.len(),
            max_bundle_len(keys),
            "the largest bundle allowed"
        );
        bundle
    }

    /// Stages junk bundles for every recipient (all but `except`) under `commitment`, in
    /// request-sized chunks.
    async fn stage_junk(&self, m: &Membership, except: Option<DeviceId>, commitment: [u8; 32]) {
        let keys = usize::try_from(m.epoch + 1).unwrap();
        let all: Vec<Vec<u8>> = recipients(m, except)
            .iter()
            .map(|(r, to)| self.junk(*r, to, keys))
            .collect();
        for chunk in all.chunks(MAX_BUNDLES_PER_REQUEST / 2) {
            let (status, body) = self
                .post(
                    &format!("/v1/teams/{}/keys/staged", self.team),
                    json!({
                        "key_commitment": hex::encode(commitment),
                        "bundles": chunk.iter().map(hex::encode).collect::<Vec<_>>(),
                    }),
                    true,
                )
                .await;
            assert_eq!(status, 201, "staging junk: {body}");
        }
    }
}

/// Who a revocation of `except` must reach under `m`: `(id, HPKE key)` of every active
/// device but `except`, and of every pending invite whose creator is active.
fn recipients(m: &Membership, except: Option<DeviceId>) -> Vec<([u8; 16], HpkePublicKey)> {
    let now = holdfast_protocol::system_clock().now_ms();
    let mut all: Vec<([u8; 16], HpkePublicKey)> = m
        .active_devices()
        .filter(|d| Some(d.device) != except)
        .map(|d| (d.device.0, d.hpke_key.clone()))
        .collect();
    all.extend(
        m.invites
            .values()
            .filter(|i| i.is_pending(now) && m.active(&i.created_by).is_some())
            .map(|i| (i.invite.0, i.hpke_key.clone())),
    );
    all
}

/// Runs `step`, printing how long it took.
async fn timed<T>(what: &str, step: impl std::future::Future<Output = T>) -> T {
    let started = Instant::now();
    let out = step.await;
    eprintln!(
        "hostile_insider: {what}: {:.2} s",
        started.elapsed().as_secs_f64()
    );
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_team_of_5000_recipients_outlasts_its_hostile_insider() {
    // Loopback from one address: the per-address and per-device budgets are for strangers
    // and are tested in the relay's `abuse` target; here the insider is a member.
    let relay = TestRelay::builder()
        .limits(Limits {
            rate_limit_per_second: 0.0,
            address_rate_per_second: 0.0,
            team_creations_per_hour: 0,
            ..Limits::default()
        })
        .start()
        .await;
    let url = relay.url();
    let (admin, old, turned, patient) = (
        Device::new("Ada Admin"),
        Device::new("Olu Oldphone"),
        Device::new("Tam Turned"),
        Device::new("Pat Patient"),
    );
    let team = admin.create_team(&url).await;
    admin.enrol(team, &old, Role::LinkWorker).await;
    admin.enrol(team, &turned, Role::LinkWorker).await;
    let case = admin
        .s()
        .create_case_file(NewPatient::named("Priya Patel"))
        .unwrap();
    admin.sync(team).await;
    let code = admin.client.share_plan(case.plan_id, 60_000).await.unwrap();
    patient
        .client
        .redeem_invite(&patient.keys, &code)
        .await
        .unwrap();
    let mut insider = Insider::new(&url, team, &turned).await;

    // The admin revokes one of the insider's devices at 20, then 1,000 recipients.
    let mut revocations = Vec::new();
    for size in [20, 1_000] {
        insider.grow_to(size + 1).await;
        let victim = insider.workers.pop().unwrap();
        let started = Instant::now();
        admin.client.revoke_device(team, victim).await.unwrap();
        revocations.push((size, started.elapsed()));
        eprintln!(
            "hostile_insider: revocation at {size} recipients: {:.2} s",
            started.elapsed().as_secs_f64()
        );
    }

    // To 5,000: patients' devices, staff devices, invites left pending.
    timed("growing the team to 5,000 recipients", async {
        for _ in 0..FAKE_PATIENTS {
            let plan = DocumentId::random_with(&insider.rng).unwrap();
            let code = insider.invite(Role::Patient, Some(plan)).await;
            let device = insider.redeem(&code).await;
            insider.patients.push(device);
        }
        // One more than the target: the insider itself is revoked at the end.
        insider.grow_to(RECIPIENTS + 1 - MAX_PENDING_INVITES).await;
        for _ in 0..MAX_PENDING_INVITES {
            insider.invite(Role::LinkWorker, None).await;
        }
    })
    .await;
    // An invite more is refused: the insider has its share pending.
    let code = InviteCode::generate(
        &insider.rng,
        &url,
        team,
        [0; 16],
        Role::LinkWorker,
        None,
        insider.now_ms() + 60_000,
    )
    .unwrap();
    let op = Op::Invite {
        invite: code.id(),
        sign_key: code.signing_key().unwrap().public_key(),
        hpke_key: code.hpke_key().unwrap().public_key().clone(),
        role: Role::LinkWorker,
        plan: None,
        expires_at_ms: code.expires_at_ms,
    };
    let entry = Entry::sign(team, insider.now_ms(), insider.id.0, op, &insider.key).unwrap();
    assert_eq!(insider.append(&entry, &[]).await.0, 429);

    let m = insider.fold().await;
    let log_len = m.len;
    assert_eq!(recipients(&m, Some(insider.id)).len(), RECIPIENTS);
    eprintln!(
        "hostile_insider: {} devices ({} patients), {} pending invites, a log of {log_len} entries",
        m.active_devices().count(),
        m.active_devices()
            .filter(|d| d.role == Role::Patient)
            .count(),
        m.invites
            .values()
            .filter(|i| i.is_pending(insider.now_ms()))
            .count()
    );

    // Junk: the largest bundles the relay takes, staged for every recipient (never
    // delivered), then delivered for real with a revocation the insider may make (a link
    // worker un-shares a patient), under a key commitment nobody can open.
    timed("the insider stages junk for every recipient", async {
        insider.stage_junk(&m, None, [0x11; 32]).await;
    })
    .await;
    // The insider keeps the new epoch's real key to itself: everyone else gets junk.
    let junk_epoch = m.epoch + 1;
    let kept = EpochKey::generate(&insider.rng).unwrap();
    timed(
        "the insider revokes a patient with junk for everyone",
        async {
            let victim = insider.patients.pop().unwrap();
            let commitment = holdfast_protocol::epoch_key_commitment(&team, junk_epoch, &kept);
            insider.stage_junk(&m, Some(victim), commitment).await;
            let entry = Entry::sign(
                team,
                insider.now_ms(),
                insider.id.0,
                Op::Revoke {
                    device: victim,
                    epoch: junk_epoch,
                    key_commitment: commitment,
                },
                &insider.key,
            )
            .unwrap();
            let (status, body) = insider.append(&entry, &[]).await;
            assert_eq!(status, 201, "{body}");
        },
    )
    .await;
    // POST /keys, where anyone's junk once went straight into others' key pages, is gone.
    let status = insider
        .http
        .post(format!("{url}/v1/teams/{team}/keys"))
        .bearer_auth(&insider.token)
        .json(&json!({"bundles": []}))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 405);

    // The team's own devices work through all of it.
    let newcomer = Device::new("Nia Newcomer");
    timed("a new staff device joins (first sync included)", async {
        admin.enrol(team, &newcomer, Role::LinkWorker).await;
    })
    .await;
    timed(
        "an old staff device catches up from the start",
        old.sync(team),
    )
    .await;
    timed("the patient's device syncs", patient.sync(team)).await;
    admin.sync(team).await;
    for d in [&newcomer, &old] {
        assert_eq!(
            d.s().membership_log(team).unwrap().len(),
            admin.s().membership_log(team).unwrap().len()
        );
    }

    // Under the key only it holds, the insider writes to the patient's plan: nobody else can
    // open it, and until the admin acts every device's pull waits at it for the key.
    let poison = {
        let header = Header {
            kind: Kind::ChangeBatch,
            team,
            document: case.plan_id,
            epoch: junk_epoch,
            author: insider.id,
            covers: 0,
            nonce: Header::random_nonce(&insider.rng).unwrap(),
        };
        let key = holdfast_protocol::derive_document_key(&team, &kept, &case.plan_id, junk_epoch)
            .unwrap();
        seal(
            &header,
            &key,
            b"only the insider can read this",
            &insider.key,
        )
        .unwrap()
    };
    let batch = PushBatch::encode(
        &team,
        &insider.id,
        &insider.key,
        insider.now_ms(),
        &[&poison],
    )
    .unwrap();
    let pushed = insider
        .http
        .post(format!("{url}/v1/teams/{team}/envelopes"))
        .bearer_auth(&insider.token)
        .header("content-type", "application/octet-stream")
        .body(batch)
        .send()
        .await
        .unwrap();
    assert_eq!(pushed.status(), 200, "{}", pushed.text().await.unwrap());

    // The admin revokes the insider: every remaining recipient gets the new epoch's key.
    let started = Instant::now();
    let epoch = admin.client.revoke_device(team, insider.id).await.unwrap();
    revocations.push((RECIPIENTS, started.elapsed()));
    eprintln!(
        "hostile_insider: revocation at {RECIPIENTS} recipients: {:.2} s",
        started.elapsed().as_secs_f64()
    );
    assert!(
        holdfast_relay::testing::login(&url, insider.id, &insider.key)
            .await
            .is_err(),
        "the insider is out"
    );
    // New content under the new epoch reaches staff and the patient.
    let later = admin
        .s()
        .create_case_file(NewPatient::named("After The Insider"))
        .unwrap();
    admin
        .s()
        .set_what_matters(case.plan_id, "walking group on Thursdays")
        .unwrap();
    admin.sync(team).await;
    for d in [&newcomer, &old] {
        timed("a staff device syncs the new epoch", d.sync(team)).await;
        assert!(
            d.s()
                .keys_held(team)
                .unwrap()
                .epochs()
                .any(|(e, _)| e == epoch)
        );
        assert_eq!(
            d.s().case_file(later.case_id).unwrap().patient.name,
            "After The Insider"
        );
    }
    timed(
        "the patient's device syncs the new epoch",
        patient.sync(team),
    )
    .await;
    assert_eq!(
        patient.s().action_plan(case.plan_id).unwrap().what_matters,
        "walking group on Thursdays"
    );
    // What the insider sealed under its own key was refused (it reached them after they
    // knew of its revocation), not waited for.
    for d in [&newcomer, &old, &patient] {
        let refused = d.s().refused_envelopes(team).unwrap();
        assert!(
            refused.iter().any(|r| r.author == insider.id),
            "{refused:?}"
        );
    }
    for (size, took) in revocations {
        eprintln!(
            "hostile_insider: summary: revocation at {size} recipients took {:.2} s",
            took.as_secs_f64()
        );
    }
}
