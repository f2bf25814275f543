//! Access, end to end through a real relay on loopback:
//!
//! - the access matrix: for each role (admin, supervisor, link worker, the link worker
//!   whose private notes they are, patient, a revoked device, a device of another team) and
//!   each document kind (case file, the patient's own plan, another plan, the directory, a
//!   link worker's private notes, the membership log), read and write: what the relay
//!   answers (HTTP status) and whether the device can decrypt content written after the
//!   revocation. Printed as a table and checked against the expected one;
//! - revocation: the revoked device's next request is refused, and everything written
//!   afterwards fails to open with every key it ever held (it is handed the raw envelopes);
//! - invite abuse: reuse, expiry, tampering, and redeeming for a higher role are refused
//!   and grant nothing.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use holdfast_core::access::InviteStatus;
use holdfast_core::crypto::TeamKeys;
use holdfast_core::model::case_file::NewPatient;
use holdfast_core::model::ids::{DeviceId, DocumentId};
use holdfast_core::model::private_notes::NoteKind;
use holdfast_core::sync::Role;
use holdfast_core::{Error, TeamId};
use holdfast_protocol::{
    DocumentKey, EnvelopeRef, Header, InviteCode, Kind, ManualClock, PullPage, PushBatch,
    SystemRandom, derive_document_key, derive_private_notes_key, seal,
};
use holdfast_relay::testing::{self, Refused, TestRelay};
use holdfast_tests::{Device, Proxy};

/// The key `device` would open (or seal) `doc` with at `epoch`, if it has one.
fn key(device: &Device, team: TeamId, doc: DocumentId, epoch: u32) -> Option<DocumentKey> {
    device.s().keys_held(team).ok()?.key_for(doc, epoch).ok()
}

async fn invite(admin: &Device, team: TeamId, role: Role, plan: Option<DocumentId>) -> String {
    admin
        .client
        .create_invite(team, role, plan, 60_000)
        .await
        .unwrap()
}

/// A bearer token for `device` got by hand, or the relay's refusal.
async fn login(url: &str, device: &Device) -> Result<String, Refused> {
    testing::login(url, device.id(), &device.signer()).await
}

/// `GET` with a bearer token: status and body.
async fn get(url: &str, token: &str, path: &str) -> (u16, Vec<u8>) {
    let resp = reqwest::Client::new()
        .get(format!("{url}{path}"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.bytes().await.unwrap().to_vec())
}

/// A change envelope for `doc` sealed at `epoch` by `device` (with its own key for the
/// document if it has one, else a random key: the relay cannot tell), pushed with `token`.
async fn push(
    url: &str,
    token: &str,
    team: TeamId,
    device: &Device,
    doc: DocumentId,
    epoch: u32,
) -> u16 {
    let rng = SystemRandom::new();
    let key = key(device, team, doc, epoch).unwrap_or_else(|| DocumentKey::generate(&rng).unwrap());
    let header = Header {
        kind: Kind::ChangeBatch,
        team,
        document: doc,
        epoch,
        author: device.id(),
        covers: 0,
        nonce: Header::random_nonce(&rng).unwrap(),
    };
    let signer = device.signer();
    let envelope = seal(&header, &key, b"not an automerge change", &signer).unwrap();
    let batch = PushBatch::encode(
        &team,
        &device.id(),
        &signer,
        device.now_ms(),
        &[envelope.as_slice()],
    )
    .unwrap();
    reqwest::Client::new()
        .post(format!("{url}/v1/teams/{team}/envelopes"))
        .bearer_auth(token)
        .header("content-type", "application/octet-stream")
        .body(batch)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// Appends an Invite entry for `role`, signed by `device` by hand (as the client never
/// would for a role it may not grant): a write to the log. Returns the relay's status.
async fn write_membership(
    url: &str,
    token: &str,
    team: TeamId,
    device: &Device,
    len: u64,
    role: Role,
) -> u16 {
    let now_ms = device.now_ms();
    let code = InviteCode::generate(
        &SystemRandom::new(),
        url,
        team,
        [0; 16],
        role,
        None,
        now_ms + 60_000,
    )
    .unwrap();
    let entry = holdfast_protocol::Entry::sign(
        team,
        now_ms,
        device.id().0,
        holdfast_protocol::Op::Invite {
            invite: code.id(),
            sign_key: code.signing_key().unwrap().public_key(),
            hpke_key: code.hpke_key().unwrap().public_key().clone(),
            role,
            plan: None,
            expires_at_ms: now_ms + 60_000,
        },
        &device.signer(),
    )
    .unwrap();
    reqwest::Client::new()
        .post(format!("{url}/v1/teams/{team}/membership"))
        .bearer_auth(token)
        .json(&serde_json::json!({
            "entry": hex::encode(entry.as_bytes()),
            "bundles": [],
            "expected_len": len,
        }))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// The team's membership length, as the admin sees it at the relay.
async fn membership_len(url: &str, admin_token: &str, team: TeamId) -> u64 {
    let (status, body) = get(url, admin_token, &format!("/v1/teams/{team}")).await;
    assert_eq!(status, 200);
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    v["membership_len"].as_u64().unwrap()
}

/// Every envelope of `doc` (as a staff device pulls it).
async fn envelopes_of(url: &str, token: &str, team: TeamId, doc: DocumentId) -> Vec<Vec<u8>> {
    let (status, body) = get(
        url,
        token,
        &format!("/v1/teams/{team}/envelopes?after=0&limit=1000&doc={doc}"),
    )
    .await;
    assert_eq!(status, 200);
    PullPage::decode(&body)
        .unwrap()
        .items
        .into_iter()
        .map(|(_, b)| b)
        .collect()
}

/// Whether `device` can open every envelope in `envelopes` with the keys it holds (each
/// checked with its author's key, from `authors`).
fn can_open(
    device: &Device,
    team: TeamId,
    envelopes: &[Vec<u8>],
    authors: &HashMap<DeviceId, [u8; 32]>,
) -> bool {
    !envelopes.is_empty()
        && envelopes.iter().all(|bytes| {
            let e = EnvelopeRef::decode(bytes).unwrap();
            let doc = e.header.document;
            let author = &authors[&e.header.author];
            key(device, team, doc, e.header.epoch).is_some_and(|k| e.open(author, &k).is_ok())
        })
}

/// Every key `keys` could try on `doc`: the document key each epoch key it holds gives,
/// the private-notes key at each of those epochs for every notes key it holds, and whatever
/// `key_for` gives.
fn every_key(keys: &TeamKeys, team: TeamId, doc: DocumentId) -> Vec<DocumentKey> {
    let mut out = Vec::new();
    for (epoch, epoch_key) in keys.epochs() {
        out.push(derive_document_key(&team, epoch_key, &doc, epoch).unwrap());
        for (_, notes_key) in keys.notes_keys() {
            out.push(derive_private_notes_key(&team, epoch_key, notes_key, &doc, epoch).unwrap());
        }
        out.extend(keys.key_for(doc, epoch).ok());
    }
    out
}

fn ok(status: u16) -> bool {
    (200..300).contains(&status)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_access_matrix_holds_at_the_relay_and_on_every_device() {
    let relay = TestRelay::start().await;
    let url = relay.url();

    // Team A: an admin, a supervisor, a link worker, a link worker who keeps private
    // notes, a link worker whose phone is lost, and a patient; team B: one admin.
    let admin = Device::new("Ada Admin");
    let supervisor = Device::new("Sue Supervisor");
    let worker = Device::new("Lee Linkworker");
    let owner = Device::new("Nia Notes");
    let lost = Device::new("Lost Phone");
    let patient = Device::new("Pat Patient");
    let stranger = Device::new("Other Team");
    let team = admin.s().create_team(&url).unwrap();
    admin.client.sync(team).await.unwrap();
    admin.enrol(team, &supervisor, Role::Supervisor).await;
    admin.enrol(team, &worker, Role::LinkWorker).await;
    admin.enrol(team, &owner, Role::LinkWorker).await;
    admin.enrol(team, &lost, Role::LinkWorker).await;
    // The link worker's private notes, written before the revocation: their key goes to
    // the supervisor and the admin.
    owner
        .s()
        .add_private_note(NoteKind::Reflection, "before the revocation")
        .unwrap();
    owner.client.sync(team).await.unwrap();
    let notes = {
        let id = owner.id();
        owner.s().private_notes_document(id).unwrap()
    };
    lost.client.sync(team).await.unwrap();
    let other_team = stranger.s().create_team(&url).unwrap();
    stranger.client.sync(other_team).await.unwrap();

    let (own, other, directory) = {
        let mut s = admin.s();
        let own = s
            .create_case_file(NewPatient::named("Pat Patient"))
            .unwrap();
        let other = s
            .create_case_file(NewPatient::named("Someone Else"))
            .unwrap();
        let directory = s.create_directory("Leeds").unwrap();
        (own, other, directory)
    };
    admin.client.sync(team).await.unwrap();
    // The link worker shares the patient's plan on a home visit.
    worker.client.sync(team).await.unwrap();
    let code = worker.client.share_plan(own.plan_id, 60_000).await.unwrap();
    patient
        .client
        .redeem_invite(&patient.keys, &code)
        .await
        .unwrap();
    // The lost phone is revoked; then the admin writes to every document.
    let lost_keys = lost.s().keys_held(team).unwrap();
    let epoch = admin.client.revoke_device(team, lost.id()).await.unwrap();
    assert_eq!(epoch, 2);
    {
        let mut s = admin.s();
        s.add_supervision_comment(own.case_id, "after the revocation")
            .unwrap();
        s.add_plan_comment(own.plan_id, "after the revocation")
            .unwrap();
        s.add_plan_comment(other.plan_id, "after the revocation")
            .unwrap();
        let walk = holdfast_core::model::directory::AssetInput {
            name: "Walking group".into(),
            ..Default::default()
        };
        s.upsert_asset(directory, None, &walk).unwrap();
    }
    admin.client.sync(team).await.unwrap();
    owner.client.sync(team).await.unwrap();
    owner
        .s()
        .add_private_note(NoteKind::Wellbeing, "after the revocation")
        .unwrap();
    owner.client.sync(team).await.unwrap();
    for d in [&supervisor, &worker, &patient, &admin] {
        d.client.sync(team).await.unwrap();
    }

    // Content written after the revocation, as a staff device pulls it from the relay.
    let admin_token = login(&url, &admin).await.unwrap();
    let admin_key = admin.s().device_public_key();
    let authors: HashMap<DeviceId, [u8; 32]> = [&admin, &supervisor, &worker, &owner, &patient]
        .iter()
        .map(|d| (d.id(), d.public_key()))
        .collect();
    let after = |envs: Vec<Vec<u8>>| -> Vec<Vec<u8>> {
        envs.into_iter()
            .filter(|b| EnvelopeRef::decode(b).unwrap().header.epoch == 2)
            .collect()
    };
    let kinds: [(&str, Option<DocumentId>); 6] = [
        ("case file", Some(own.case_id)),
        ("own plan", Some(own.plan_id)),
        ("other plan", Some(other.plan_id)),
        ("directory", Some(directory)),
        ("private notes", Some(notes)),
        ("membership", None),
    ];
    let mut fresh = Vec::new();
    for (_, doc) in &kinds {
        fresh.push(match doc {
            Some(d) => after(envelopes_of(&url, &admin_token, team, *d).await),
            None => Vec::new(),
        });
    }
    for (i, f) in fresh.iter().enumerate().take(5) {
        assert!(
            !f.is_empty(),
            "content after the revocation in {}",
            kinds[i].0
        );
    }

    let roles: [(&str, &Device); 7] = [
        ("admin", &admin),
        ("supervisor", &supervisor),
        ("link worker", &worker),
        ("notes owner", &owner),
        ("patient", &patient),
        ("revoked device", &lost),
        ("other team", &stranger),
    ];
    // Expected: (relay read ok, relay write ok, device decrypts) per kind. The private
    // notes are a link worker's ("notes owner"): theirs, the supervisor's and the admin's.
    let y = (true, true, true);
    let n = (false, false, false);
    let log_rw = (true, true, true);
    let log_r = (true, false, true);
    let expected: [[(bool, bool, bool); 6]; 7] = [
        [y, y, y, y, y, log_rw],
        [y, y, y, y, y, log_r],
        [y, y, y, y, n, log_rw],
        [y, y, y, y, y, log_rw],
        [n, y, n, n, n, log_r],
        [n, n, n, n, n, n],
        [n, n, n, n, n, n],
    ];

    let mut table = String::new();
    writeln!(
        table,
        "{:<15} | {:<17} | {:<17} | {:<17} | {:<17} | {:<17} | {:<17}",
        "role \\ kind",
        "case file",
        "own plan",
        "other plan",
        "directory",
        "private notes",
        "membership"
    )
    .unwrap();
    writeln!(table, "{}", "-".repeat(15 + 6 * 20)).unwrap();
    let mut mismatches = Vec::new();
    for (r, (role, device)) in roles.iter().enumerate() {
        let token = login(&url, device).await.map_err(|refused| refused.status);
        let mut row = format!("{role:<15}");
        for (k, (kind, doc)) in kinds.iter().enumerate() {
            let (read, write) = match (&token, doc) {
                (Err(status), _) => (*status, *status),
                (Ok(t), Some(doc)) => {
                    let (read, _) = get(
                        &url,
                        t,
                        &format!("/v1/teams/{team}/envelopes?after=0&doc={doc}"),
                    )
                    .await;
                    let write = push(&url, t, team, device, *doc, 2).await;
                    (read, write)
                }
                (Ok(t), None) => {
                    let (read, _) =
                        get(&url, t, &format!("/v1/teams/{team}/membership?from=0")).await;
                    let len = membership_len(&url, &admin_token, team).await;
                    let write =
                        write_membership(&url, t, team, device, len, Role::LinkWorker).await;
                    (read, write)
                }
            };
            let decrypts = match doc {
                Some(_) => can_open(device, team, &fresh[k], &authors),
                // The log is signed, not encrypted: "decrypt" = the device verified it.
                None => {
                    device
                        .s()
                        .membership_log(team)
                        .map(|l| !l.is_empty())
                        .unwrap_or(false)
                        && ok(read)
                }
            };
            let got = (ok(read), ok(write), decrypts);
            let cell = format!(
                "R {read} W {write} {}",
                if decrypts { "open" } else { "----" }
            );
            write!(row, " | {cell:<17}").unwrap();
            if got != expected[r][k] {
                mismatches.push(format!(
                    "{role} x {kind}: got {got:?}, expected {:?}",
                    expected[r][k]
                ));
            }
        }
        writeln!(table, "{row}").unwrap();
    }
    println!(
        "\nAccess matrix (R = relay status for a pull of that document, W = for a push to it; open = the device decrypts content written after the revocation):\n\n{table}"
    );
    assert!(mismatches.is_empty(), "{table}\n{mismatches:#?}");

    // The revoked device, handed the raw envelopes written after its revocation, opens
    // none of them with any key it ever held, at any epoch.
    for envs in &fresh {
        for bytes in envs {
            let e = EnvelopeRef::decode(bytes).unwrap();
            let doc = e.header.document;
            let author = &authors[&e.header.author];
            for k in every_key(&lost_keys, team, doc) {
                assert!(e.open(author, &k).is_err());
            }
            assert!(lost_keys.key_for(doc, e.header.epoch).is_err());
        }
    }
    assert!(lost_keys.notes_key(notes).is_none());
    // The other link worker, handed the raw envelopes of its colleague's private notes,
    // opens none of them either, with every key it holds.
    let colleague_keys = worker.s().keys_held(team).unwrap();
    let raw_notes = envelopes_of(&url, &admin_token, team, notes).await;
    assert!(!raw_notes.is_empty());
    for bytes in &raw_notes {
        let e = EnvelopeRef::decode(bytes).unwrap();
        for k in every_key(&colleague_keys, team, notes) {
            assert!(e.open(&authors[&e.header.author], &k).is_err());
        }
    }
    let _ = admin_key;
    // Its own sync fails with the error the app acts on (this phone was removed) and
    // changes nothing; its status says so too.
    let err = lost.client.sync(team).await.unwrap_err();
    assert!(
        matches!(&err, Error::Revoked { team: t } if *t == team.to_string()),
        "{err:?}"
    );
    let status = lost.client.status(team).await.unwrap();
    assert!(
        status
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("revoked")),
        "{status:?}"
    );
    // The patient's store holds its plan and nothing else of the team.
    let mut p = patient.s();
    assert!(p.action_plan(own.plan_id).is_ok());
    for doc in [own.case_id, other.case_id, other.plan_id, directory] {
        assert!(p.kind_of(doc).is_err(), "the patient's device knows {doc}");
    }
    // Nor does its view of the membership mention another plan.
    let plans: Vec<_> = p
        .devices(team)
        .unwrap()
        .into_iter()
        .filter_map(|d| d.plan)
        .collect();
    assert_eq!(plans, vec![own.plan_id]);
    drop(p);
    drop(relay);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invite_abuse_is_refused_and_grants_nothing() {
    // The relay and every device read one clock, moved by the test instead of sleeping.
    let clock = ManualClock::starting_now();
    let relay = TestRelay::builder()
        .clock(Arc::new(clock.clone()))
        .start()
        .await;
    let device = |person: &str| Device::with_clock(person, Arc::new(clock.clone()));
    let url = relay.url();
    let admin = device("Ada Admin");
    let worker = device("Lee Linkworker");
    let team = admin.s().create_team(&url).unwrap();
    admin.client.sync(team).await.unwrap();
    admin.enrol(team, &worker, Role::LinkWorker).await;
    let refused = |e: Error| matches!(e, Error::InviteRefused(_));

    // Reuse: the second device is told the invite was used, and joins nothing.
    let code = invite(&admin, team, Role::LinkWorker, None).await;
    let first = device("First");
    first
        .client
        .redeem_invite(&first.keys, &code)
        .await
        .unwrap();
    let second = device("Second");
    let err = second
        .client
        .redeem_invite(&second.keys, &code)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("already been used"), "{err}");
    assert!(second.s().teams().unwrap().is_empty());

    // Expiry.
    let code = admin
        .client
        .create_invite(team, Role::LinkWorker, None, 1)
        .await
        .unwrap();
    clock.advance(Duration::from_millis(50));
    let late = device("Late");
    let err = late
        .client
        .redeem_invite(&late.keys, &code)
        .await
        .unwrap_err();
    assert!(refused(err), "expired");
    assert!(late.s().teams().unwrap().is_empty());

    // Tampering: a link-worker code altered to say admin, a flipped secret, garbage.
    let code = invite(&admin, team, Role::LinkWorker, None).await;
    let mut altered = InviteCode::decode(&code).unwrap();
    altered.role = Role::Admin;
    let forger = device("Forger");
    let err = forger
        .client
        .redeem_invite(&forger.keys, &altered.encode())
        .await
        .unwrap_err();
    assert!(refused(err), "altered role");
    let mut flipped = code.clone().into_bytes();
    let at = flipped.len() - 3;
    flipped[at] = if flipped[at] == b'A' { b'B' } else { b'A' };
    let err = forger
        .client
        .redeem_invite(&forger.keys, std::str::from_utf8(&flipped).unwrap())
        .await
        .unwrap_err();
    assert!(refused(err), "flipped secret");
    for bad in ["", "HF1-", "hello", "HF1-!!!"] {
        assert!(refused(
            forger
                .client
                .redeem_invite(&forger.keys, bad)
                .await
                .unwrap_err()
        ));
    }
    assert!(forger.s().teams().unwrap().is_empty());
    // The genuine code still works after all that.
    forger
        .client
        .redeem_invite(&forger.keys, &code)
        .await
        .unwrap();

    // A higher role than the inviter may grant: a link worker inviting an admin or a
    // supervisor is refused on the device and, signed by hand, at the relay.
    for role in [Role::Admin, Role::Supervisor] {
        let err = worker
            .client
            .create_invite(team, role, None, 60_000)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("not allowed"), "{err}");
    }
    let token = login(&url, &worker).await.unwrap();
    let admin_token = login(&url, &admin).await.unwrap();
    let len = membership_len(&url, &admin_token, team).await;
    let status = write_membership(&url, &token, team, &worker, len, Role::Admin).await;
    assert_eq!(status, 403);
    assert_eq!(
        membership_len(&url, &admin_token, team).await,
        len,
        "nothing appended"
    );
    // Nobody on the team holds a role it was not given.
    admin.client.sync(team).await.unwrap();
    let admins = admin
        .s()
        .devices(team)
        .unwrap()
        .into_iter()
        .filter(|d| d.role == Role::Admin)
        .count();
    assert_eq!(admins, 1);
    drop(relay);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_behind_on_a_revocation_waits_for_the_new_key_and_loses_nothing() {
    let relay = TestRelay::start().await;
    let url = relay.url();
    let admin = Device::new("Ada Admin");
    let behind = Device::new("Behind");
    let writer = Device::new("Writer");
    let lost = Device::new("Lost Phone");
    let team = admin.s().create_team(&url).unwrap();
    admin.client.sync(team).await.unwrap();
    for d in [&behind, &writer, &lost] {
        admin.enrol(team, d, Role::LinkWorker).await;
    }
    let case = admin
        .s()
        .create_case_file(NewPatient::named("Someone"))
        .unwrap();
    admin.client.sync(team).await.unwrap();
    writer.client.sync(team).await.unwrap();
    behind.client.sync(team).await.unwrap();
    // The admin revokes a phone; the writer, up to date, writes under the new epoch.
    admin.client.revoke_device(team, lost.id()).await.unwrap();
    writer.client.sync(team).await.unwrap();
    writer
        .s()
        .add_supervision_comment(case.case_id, "written at epoch 2")
        .unwrap();
    writer.client.sync(team).await.unwrap();
    // The device that has not heard of the revocation pulls only (no access sync first):
    // the envelope it has no key for stops the page, access is fetched, and it applies.
    let report = behind.client.pull(team).await.unwrap();
    assert!(report.applied >= 1, "{report:?}");
    assert_eq!(report.refused, 0, "{report:?}");
    let file = behind.s().case_file(case.case_id).unwrap();
    assert_eq!(file.supervision.len(), 1);
    assert_eq!(behind.s().epoch(team).unwrap(), 2);
    drop(relay);
}

/// On a home visit the signal drops just as the new phone redeems its invite: the relay
/// takes the Redeem but the answer never arrives. Trying again must enrol the phone (not
/// report "already used"), and the relay must hold the device once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redeem_whose_answer_was_lost_succeeds_when_tried_again() {
    let listener = Proxy::bind().await;
    let public = format!("http://{}", listener.local_addr().unwrap());
    let relay = TestRelay::builder().public_url(public).start().await;
    let proxy = Proxy::start(listener, relay.addr());
    let admin = Device::new("Ada Admin");
    let team = admin.s().create_team(&proxy.url()).unwrap();
    admin.client.sync(team).await.unwrap();

    let code = invite(&admin, team, Role::LinkWorker, None).await;
    let phone = Device::new("Lee Linkworker");
    *proxy.swallow_for.lock().unwrap() = Some("/redeem HTTP".into());
    let err = phone
        .client
        .redeem_invite(&phone.keys, &code)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Network(_)), "{err:?}");
    assert!(phone.s().teams().unwrap().is_empty(), "not joined yet");
    *proxy.swallow_for.lock().unwrap() = None;
    admin.client.sync(team).await.unwrap();
    assert!(
        admin
            .s()
            .devices(team)
            .unwrap()
            .iter()
            .any(|d| d.device == phone.id()),
        "the relay took the first redeem"
    );

    let enrolled = phone
        .client
        .redeem_invite(&phone.keys, &code)
        .await
        .unwrap();
    assert_eq!((enrolled.team, enrolled.role), (team, Role::LinkWorker));
    enrolled.first_sync.unwrap();
    assert_eq!(phone.s().role(team).unwrap(), Some(Role::LinkWorker));
    let decoded = InviteCode::decode(&code).unwrap();
    assert!(phone.s().held_redeem(&decoded).unwrap().is_none());
    admin.client.sync(team).await.unwrap();
    let joined = admin.s().devices(team).unwrap();
    assert_eq!(joined.iter().filter(|d| d.device == phone.id()).count(), 1);
    assert_eq!(joined.len(), 2);

    // A Redeem held but never delivered, and meanwhile the code was used by another phone:
    // the held entry is refused, the fresh try says "used", and nothing is held or joined.
    let code = invite(&admin, team, Role::LinkWorker, None).await;
    let decoded = InviteCode::decode(&code).unwrap();
    let record: serde_json::Value = reqwest::get(format!(
        "{}/v1/teams/{team}/invites/{}",
        proxy.url(),
        decoded.id()
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let unhex = |k: &str| hex::decode(record[k].as_str().unwrap()).unwrap();
    let slow = Device::new("Slow");
    {
        let s = slow.s();
        let prepared = s
            .prepare_redeem(&decoded, &unhex("entry"), &unhex("genesis"))
            .unwrap();
        s.hold_redeem(&decoded, &prepared).unwrap();
    }
    // A copy of the code altered to name another relay never gets the held entry.
    let mut elsewhere = decoded.clone();
    elsewhere.relay_url = "http://127.0.0.1:9".into();
    let err = slow
        .client
        .redeem_invite(&slow.keys, &elsewhere.encode())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("altered"), "{err}");
    assert!(slow.s().held_redeem(&decoded).unwrap().is_some());
    let quick = Device::new("Quick");
    quick
        .client
        .redeem_invite(&quick.keys, &code)
        .await
        .unwrap();
    let err = slow
        .client
        .redeem_invite(&slow.keys, &code)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("already been used"), "{err}");
    assert!(slow.s().teams().unwrap().is_empty());
    assert!(slow.s().held_redeem(&decoded).unwrap().is_none());
}

/// An invite shown to the wrong person (or no longer wanted) is cancelled before anyone
/// redeems it: its code then joins nothing, the keys left for it are gone from the relay,
/// and only its maker or an admin may cancel it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_invite_redeems_nothing_and_its_keys_leave_the_relay() {
    // The relay and every device read one clock, moved by the test instead of sleeping.
    let clock = ManualClock::starting_now();
    let relay = TestRelay::builder()
        .clock(Arc::new(clock.clone()))
        .start()
        .await;
    let device = |person: &str| Device::with_clock(person, Arc::new(clock.clone()));
    let url = relay.url();
    let admin = device("Ada Admin");
    let team = admin.s().create_team(&url).unwrap();
    admin.client.sync(team).await.unwrap();
    let worker = device("Lee Linkworker");
    admin.enrol(team, &worker, Role::LinkWorker).await;
    let bundles_for = |id: [u8; 16]| -> i64 {
        let conn = rusqlite::Connection::open(relay.data_dir().join("relay.db")).unwrap();
        conn.query_row(
            "SELECT count(*) FROM key_bundles WHERE recipient = ?1",
            [id.as_slice()],
            |r| r.get(0),
        )
        .unwrap()
    };

    // The worker's invite: its keys went with its first sync, which acknowledged them
    // (signed with the worker's key), and they left the relay.
    admin.client.sync(team).await.unwrap();
    let worker_invite = admin
        .s()
        .invites(team)
        .unwrap()
        .into_iter()
        .find(|i| i.status == InviteStatus::Redeemed(worker.id()))
        .unwrap()
        .invite;
    let worker_invite: [u8; 16] = hex::decode(worker_invite).unwrap().try_into().unwrap();
    assert_eq!(
        bundles_for(worker_invite),
        0,
        "delivered, acknowledged, deleted"
    );

    let code = invite(&admin, team, Role::LinkWorker, None).await;
    let id = InviteCode::decode(&code).unwrap().id();
    assert_eq!(bundles_for(id.0), 1, "the invite's keys wait at the relay");
    // A link worker may not cancel an admin's invite: refused before any request.
    let err = worker
        .client
        .cancel_invite(team, &hex::encode(id.0))
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("only an admin or the device"),
        "{err}"
    );
    admin.client.cancel_invite(team, &code).await.unwrap();
    assert_eq!(bundles_for(id.0), 0, "the keys left for it are deleted");
    let listed = admin.s().invites(team).unwrap();
    let entry = listed
        .iter()
        .find(|i| i.invite == hex::encode(id.0))
        .unwrap();
    assert_eq!(entry.status, InviteStatus::Cancelled(admin.id()));

    let late = device("Late");
    let err = late
        .client
        .redeem_invite(&late.keys, &code)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InviteRefused(_)), "{err:?}");
    assert!(err.to_string().contains("cancelled"), "{err}");
    assert!(late.s().teams().unwrap().is_empty());
    // Cancelling twice, or a redeemed invite, is refused with a clear reason.
    let err = admin.client.cancel_invite(team, &code).await.unwrap_err();
    assert!(err.to_string().contains("cancelled"), "{err}");
    let used = invite(&admin, team, Role::LinkWorker, None).await;
    let other = device("Other");
    other
        .client
        .redeem_invite(&other.keys, &used)
        .await
        .unwrap();
    let err = admin.client.cancel_invite(team, &used).await.unwrap_err();
    assert!(err.to_string().contains("used"), "{err}");

    // An invite left to expire: its keys go with the team's next membership change.
    let lapsed = admin
        .client
        .create_invite(team, Role::LinkWorker, None, 500)
        .await
        .unwrap();
    let lapsed = InviteCode::decode(&lapsed).unwrap().id();
    assert_eq!(bundles_for(lapsed.0), 1);
    clock.advance(Duration::from_millis(600));
    invite(&admin, team, Role::LinkWorker, None).await;
    assert_eq!(bundles_for(lapsed.0), 0, "expired, then deleted");

    // The link worker cancels a patient invite of their own; the worker's colleagues see it.
    let case = worker
        .s()
        .create_case_file(NewPatient::named("Philomena Brackenridge"))
        .unwrap();
    worker.client.sync(team).await.unwrap();
    let shared = worker
        .client
        .share_plan(case.plan_id, 60_000)
        .await
        .unwrap();
    worker.client.cancel_invite(team, &shared).await.unwrap();
    admin.client.sync(team).await.unwrap();
    let shared_id = hex::encode(InviteCode::decode(&shared).unwrap().id().0);
    let seen = admin.s().invites(team).unwrap();
    let seen = seen.iter().find(|i| i.invite == shared_id).unwrap();
    assert_eq!(seen.status, InviteStatus::Cancelled(worker.id()));
    assert_eq!(seen.plan, Some(case.plan_id));
}
