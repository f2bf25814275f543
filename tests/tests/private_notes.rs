//! Private supervision notes, end to end through a real relay on loopback (issue 12, item
//! 5): a link worker's own notes reach its supervisors and admins and nobody else.
//!
//! - a second link worker cannot read them, even handed every envelope of them: it holds no
//!   key that opens them, and the relay serves it none of them (pages, `doc=`, ids);
//! - a supervisor enrolled after the notes were written reads them, its key handed on by a
//!   device that held it (the admin's, the owner away), and so does one enrolled after the
//!   owner was revoked (whose notes stay for the supervisors);
//! - after a supervisor is revoked, notes written later open with no key it ever held;
//! - a hostile relay that serves the notes to the wrong device gives it nothing;
//! - a supervisor demoted with a response to someone's notes still in its outbox keeps
//!   syncing: its device withdraws the response (recorded, never sent) and pushes the rest,
//!   whether it folded the demotion before pushing or learns of it from the relay's refusal.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use holdfast_core::Error;
use holdfast_core::TeamId;
use holdfast_core::crypto::TeamKeys;
use holdfast_core::model::case_file::NewPatient;
use holdfast_core::model::ids::{DeviceId, DocumentId};
use holdfast_core::model::private_notes::NoteKind;
use holdfast_core::sync::Role;
use holdfast_protocol::{
    DocumentKey, Entry, EnvelopeRef, Header, Kind, Op, PullPage, PushBatch, SystemRandom,
    derive_document_key, derive_private_notes_key, seal,
};
use holdfast_relay::testing::{self, TestRelay};
use holdfast_tests::{Device, Liar, team_of};

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

async fn token(url: &str, device: &Device) -> String {
    testing::login(url, device.id(), &device.signer())
        .await
        .unwrap()
}

/// Every envelope of the team a device with `token` is served, `(seq, bytes)`.
async fn pulled(url: &str, token: &str, team: TeamId, query: &str) -> (u16, Vec<(u64, Vec<u8>)>) {
    let (status, body) = get(
        url,
        token,
        &format!("/v1/teams/{team}/envelopes?after=0&limit=10000{query}"),
    )
    .await;
    if status != 200 {
        return (status, Vec::new());
    }
    (status, PullPage::decode(&body).unwrap().items)
}

/// Every key `keys` could try on `doc`: the document key of each epoch it holds (what the
/// epoch key alone gives), the private-notes key at each of those epochs for every notes key
/// it holds, and whatever `key_for` gives.
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

/// Whether any key `keys` holds opens any of `envelopes` (authors' keys from `authors`).
fn opens_any(
    keys: &TeamKeys,
    team: TeamId,
    envelopes: &[Vec<u8>],
    authors: &HashMap<DeviceId, [u8; 32]>,
) -> bool {
    envelopes.iter().any(|bytes| {
        let e = EnvelopeRef::decode(bytes).unwrap();
        let author = authors[&e.header.author];
        every_key(keys, team, e.header.document)
            .iter()
            .any(|k| e.open(&author, k).is_ok())
    })
}

fn authors(devices: &[&Device]) -> HashMap<DeviceId, [u8; 32]> {
    devices.iter().map(|d| (d.id(), d.public_key())).collect()
}

/// A change envelope for `doc` pushed by hand by `device`: the relay's status.
async fn push_by_hand(url: &str, team: TeamId, device: &Device, doc: DocumentId) -> u16 {
    let rng = SystemRandom::new();
    let epoch = device.s().epoch(team).unwrap();
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
    let key = DocumentKey::generate(&rng).unwrap();
    let envelope = seal(&header, &key, b"not a change", &signer).unwrap();
    let batch = PushBatch::encode(
        &team,
        &device.id(),
        &signer,
        device.now_ms(),
        &[envelope.as_slice()],
    )
    .unwrap();
    let token = token(url, device).await;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_notes_reach_their_supervisors_and_no_other_link_worker() {
    let relay = TestRelay::start().await;
    let url = relay.url();
    let (admin, supervisor, owner, colleague) = (
        Device::new("Ada Admin"),
        Device::new("Sue Supervisor"),
        Device::new("Lee Linkworker"),
        Device::new("Cal Colleague"),
    );
    let team = team_of(&url, &admin, &[&owner, &colleague]).await;
    admin.enrol(team, &supervisor, Role::Supervisor).await;
    owner.sync(team).await;

    let note = owner
        .s()
        .add_private_note(NoteKind::Wellbeing, "Three safeguarding visits this week.")
        .unwrap();
    owner
        .s()
        .add_private_note(NoteKind::TrainingNeed, "Benefits appeals")
        .unwrap();
    owner.sync(team).await;
    let notes = {
        let id = owner.id();
        owner.s().private_notes_document(id).unwrap()
    };

    // The supervisor reads them and answers; the owner reads the answer.
    supervisor.sync(team).await;
    let read = supervisor.s().private_notes(owner.id()).unwrap();
    assert_eq!(read.notes.len(), 2);
    assert_eq!(read.owner, owner.id());
    supervisor
        .s()
        .respond_to_private_note(owner.id(), note, "Let's meet on Friday")
        .unwrap();
    supervisor.sync(team).await;
    owner.sync(team).await;
    let mine = {
        let id = owner.id();
        owner.s().private_notes(id).unwrap()
    };
    let answered = mine.notes.iter().find(|n| n.id == note).unwrap();
    assert_eq!(answered.responses.len(), 1);
    assert_eq!(answered.responses[0].by, "Sue Supervisor");
    admin.sync(team).await;
    assert_eq!(admin.s().private_notes(owner.id()).unwrap().notes.len(), 2);

    // The other link worker: refused by its own device, holding nothing of them.
    colleague.sync(team).await;
    let err = colleague.s().private_notes(owner.id()).unwrap_err();
    assert!(matches!(err, Error::NotAllowed(_)), "{err:?}");
    let err = colleague
        .s()
        .respond_to_private_note(owner.id(), note, "nosy")
        .unwrap_err();
    assert!(matches!(err, Error::NotAllowed(_)), "{err:?}");
    assert!(colleague.s().kind_of(notes).is_err(), "no copy of them");
    let held = colleague.s().keys_held(team).unwrap();
    assert!(held.notes_key(notes).is_none());
    assert!(held.is_private_notes(notes));
    assert!(colleague.s().refused_envelopes(team).unwrap().is_empty());

    // At the relay: not in its pages, not by `doc=`, not at their sequence numbers, and
    // it may not write them.
    let admin_token = token(&url, &admin).await;
    let colleague_token = token(&url, &colleague).await;
    let (_, everything) = pulled(&url, &admin_token, team, "").await;
    let (_, theirs) = pulled(&url, &admin_token, team, &format!("&doc={notes}")).await;
    assert!(theirs.len() >= 2, "the notes and the response");
    let (_, seen) = pulled(&url, &colleague_token, team, "").await;
    assert_eq!(seen.len(), everything.len() - theirs.len());
    assert!(
        seen.iter()
            .all(|(seq, _)| theirs.iter().all(|(s, _)| s != seq))
    );
    let (_, compact) = pulled(&url, &colleague_token, team, "&compact=true").await;
    assert!(
        compact
            .iter()
            .all(|(_, b)| EnvelopeRef::decode(b).unwrap().header.document != notes)
    );
    let (status, body) = get(
        &url,
        &colleague_token,
        &format!("/v1/teams/{team}/envelopes?after=0&doc={notes}"),
    )
    .await;
    assert_eq!(status, 403);
    let refusal: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(refusal["code"], "private_notes");
    let at: Vec<String> = theirs.iter().map(|(s, _)| s.to_string()).collect();
    let (status, body) = get(
        &url,
        &colleague_token,
        &format!("/v1/teams/{team}/envelopes/ids?at={}", at.join(",")),
    )
    .await;
    assert_eq!(status, 200);
    let ids: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert!(ids["ids"].as_array().unwrap().iter().all(|i| i.is_null()));
    assert_eq!(push_by_hand(&url, team, &colleague, notes).await, 403);
    assert_eq!(push_by_hand(&url, team, &supervisor, notes).await, 200);

    // Handed every envelope of them (what a relay could give it), it opens none: it holds
    // the epoch keys, but no notes key.
    let raw: Vec<Vec<u8>> = theirs.into_iter().map(|(_, b)| b).collect();
    let who = authors(&[&admin, &supervisor, &owner, &colleague]);
    assert!(!opens_any(&held, team, &raw, &who));
    assert!(opens_any(
        &supervisor.s().keys_held(team).unwrap(),
        team,
        &raw,
        &who
    ));
    // Its own notes are its own.
    colleague
        .s()
        .add_private_note(NoteKind::Reflection, "A good day")
        .unwrap();
    colleague.sync(team).await;
    supervisor.sync(team).await;
    assert_eq!(
        supervisor
            .s()
            .private_notes(colleague.id())
            .unwrap()
            .notes
            .len(),
        1
    );
    owner.sync(team).await;
    assert!(owner.s().private_notes(colleague.id()).is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_supervisor_enrolled_later_reads_notes_written_before_even_of_a_revoked_owner() {
    let relay = TestRelay::start().await;
    let url = relay.url();
    let (admin, owner) = (Device::new("Ada Admin"), Device::new("Lee Linkworker"));
    let team = team_of(&url, &admin, &[&owner]).await;
    owner
        .s()
        .add_private_note(NoteKind::Reflection, "Written before any supervisor came")
        .unwrap();
    owner.sync(team).await; // its key goes to the admin, the only reader yet
    admin.sync(team).await;
    assert_eq!(admin.s().private_notes(owner.id()).unwrap().notes.len(), 1);

    // A supervisor joins while the owner is away: its first sync sets the notes aside
    // (their key has not come) without stalling, and reads everything else.
    let supervisor = Device::new("Sue Supervisor");
    admin.enrol(team, &supervisor, Role::Supervisor).await;
    let case = admin
        .s()
        .create_case_file(holdfast_core::model::case_file::NewPatient::named(
            "Someone",
        ))
        .unwrap();
    admin.sync(team).await; // the admin hands the key it holds to the new reader
    let report = supervisor.sync(team).await;
    assert!(report.pull.applied >= 1, "{report:?}");
    assert!(supervisor.s().case_file(case.case_id).is_ok());
    let read = supervisor.s().private_notes(owner.id()).unwrap();
    assert_eq!(
        read.notes.len(),
        1,
        "re-wrapped by the admin, the owner away"
    );
    assert_eq!(read.notes[0].text, "Written before any supervisor came");
    assert!(
        supervisor.s().refused_envelopes(team).unwrap().is_empty(),
        "what was set aside was taken once the key came"
    );

    // The owner is revoked: its notes stay for the supervisors; a supervisor enrolled
    // after that reads them too (the admin hands the key on), the owner reads nothing new.
    admin.client.revoke_device(team, owner.id()).await.unwrap();
    supervisor.sync(team).await;
    supervisor
        .s()
        .respond_to_private_note(owner.id(), read.notes[0].id, "Noted for the record")
        .unwrap();
    supervisor.sync(team).await;
    let late = Device::new("Lou Later");
    admin.enrol(team, &late, Role::Supervisor).await;
    admin.sync(team).await;
    supervisor.sync(team).await;
    late.sync(team).await;
    let kept = late.s().private_notes(owner.id()).unwrap();
    assert_eq!(kept.notes.len(), 1);
    assert_eq!(kept.notes[0].responses.len(), 1);
    let err = owner.client.sync(team).await.unwrap_err();
    assert!(matches!(err, Error::Revoked { .. }), "{err:?}");
    // What it synced before stays on the phone; nothing written since reaches it.
    let owners = {
        let id = owner.id();
        owner.s().private_notes(id).unwrap()
    };
    assert_eq!(owners.notes.len(), 1);
    assert!(owners.notes[0].responses.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_supervisor_is_revoked_later_notes_open_with_no_key_it_held() {
    let relay = TestRelay::start().await;
    let url = relay.url();
    let (admin, owner, supervisor) = (
        Device::new("Ada Admin"),
        Device::new("Lee Linkworker"),
        Device::new("Sue Supervisor"),
    );
    let team = team_of(&url, &admin, &[&owner]).await;
    admin.enrol(team, &supervisor, Role::Supervisor).await;
    owner.sync(team).await;
    owner
        .s()
        .add_private_note(NoteKind::Wellbeing, "Before the revocation")
        .unwrap();
    owner.sync(team).await;
    supervisor.sync(team).await;
    assert_eq!(
        supervisor
            .s()
            .private_notes(owner.id())
            .unwrap()
            .notes
            .len(),
        1
    );
    let held = supervisor.s().keys_held(team).unwrap();
    let notes = {
        let id = owner.id();
        owner.s().private_notes_document(id).unwrap()
    };
    assert!(held.notes_key(notes).is_some(), "it held the notes key");

    let epoch = admin
        .client
        .revoke_device(team, supervisor.id())
        .await
        .unwrap();
    owner.sync(team).await;
    owner
        .s()
        .add_private_note(NoteKind::Wellbeing, "After the revocation")
        .unwrap();
    owner.sync(team).await;
    admin.sync(team).await;
    assert_eq!(admin.s().private_notes(owner.id()).unwrap().notes.len(), 2);

    let admin_token = token(&url, &admin).await;
    let (_, theirs) = pulled(&url, &admin_token, team, &format!("&doc={notes}")).await;
    let later: Vec<Vec<u8>> = theirs
        .into_iter()
        .map(|(_, b)| b)
        .filter(|b| EnvelopeRef::decode(b).unwrap().header.epoch == epoch)
        .collect();
    assert!(!later.is_empty());
    let who = authors(&[&admin, &owner, &supervisor]);
    assert!(
        !opens_any(&held, team, &later, &who),
        "no key the revoked supervisor held opens what was written after"
    );
    assert!(held.key_for(notes, epoch).is_err());
    // Its own store, had a relay kept serving it, holds the same keys.
    let now = supervisor.s().keys_held(team).unwrap();
    assert!(!opens_any(&now, team, &later, &who));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostile_relay_serving_the_notes_to_the_wrong_device_gives_it_nothing() {
    let listener = Liar::bind().await;
    let public = format!("http://{}", listener.local_addr().unwrap());
    let relay = TestRelay::builder().public_url(public).start().await;
    let liar = Liar::start(listener, &relay.url());
    let (admin, owner, colleague) = (
        Device::new("Ada Admin"),
        Device::new("Lee Linkworker"),
        Device::new("Cal Colleague"),
    );
    let team = team_of(liar.url(), &admin, &[&owner, &colleague]).await;
    owner
        .s()
        .add_private_note(NoteKind::Wellbeing, "Only for my supervisor")
        .unwrap();
    owner.sync(team).await;
    colleague.sync(team).await;
    let notes = {
        let id = owner.id();
        owner.s().private_notes_document(id).unwrap()
    };

    // Everything the team holds, as the admin is served it: the relay hands it all to the
    // colleague, the notes included, as pages of its pulls and of `doc=` asked for them.
    let admin_token = testing::login_at(&relay.url(), liar.url(), admin.id(), &admin.signer())
        .await
        .unwrap();
    let (_, everything) = pulled(&relay.url(), &admin_token, team, "").await;
    let served: Vec<(u64, Vec<u8>)> = everything.clone();
    assert!(
        served
            .iter()
            .any(|(_, b)| EnvelopeRef::decode(b).unwrap().header.document == notes)
    );
    liar.lie(move |asked, answer| {
        if asked.method != "GET" || !asked.path.contains("/envelopes?") || answer.status != 200 {
            return None;
        }
        let after: u64 = asked
            .path
            .split(['?', '&'])
            .find_map(|p| p.strip_prefix("after="))
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        let items: Vec<(u64, Vec<u8>)> = served
            .iter()
            .filter(|(seq, _)| *seq > after)
            .cloned()
            .collect();
        let next = items.last().map_or(after, |(s, _)| *s);
        let page = PullPage {
            items,
            next,
            more: false,
        };
        Some(answer.with_bytes(page.encode().unwrap()))
    });
    let before = colleague.s().team(team).unwrap().cursor;
    let report = colleague.sync(team).await;
    liar.stop_lying();
    assert!(report.pull.refused >= 1, "{report:?}");
    assert!(
        colleague.s().team(team).unwrap().cursor > before,
        "not stalled"
    );
    assert!(
        colleague.s().kind_of(notes).is_err(),
        "nothing of them kept"
    );
    let refused = colleague.s().refused_envelopes(team).unwrap();
    assert!(
        refused
            .iter()
            .all(|r| r.doc == notes && r.reason.contains("colleague's private notes")),
        "{refused:?}"
    );
    let held = colleague.s().keys_held(team).unwrap();
    assert!(held.notes_key(notes).is_none());
    let raw: Vec<Vec<u8>> = everything
        .into_iter()
        .map(|(_, b)| b)
        .filter(|b| EnvelopeRef::decode(b).unwrap().header.document == notes)
        .collect();
    assert!(!opens_any(
        &held,
        team,
        &raw,
        &authors(&[&admin, &owner, &colleague])
    ));
    assert!(colleague.s().private_notes(owner.id()).is_err());
}

/// `admin` changes `device`'s role in `team` to `role`: the signed `ChangeRole` entry an
/// admin's device appends to the membership log (the app has no screen for it yet).
async fn change_role(url: &str, team: TeamId, admin: &Device, device: DeviceId, role: Role) {
    admin.sync(team).await;
    let expected_len = admin.s().access(team).unwrap().relay_len;
    let entry = Entry::sign(
        team,
        admin.now_ms(),
        admin.id().0,
        Op::ChangeRole { device, role },
        &admin.signer(),
    )
    .unwrap();
    let token = token(url, admin).await;
    let resp = reqwest::Client::new()
        .post(format!("{url}/v1/teams/{team}/membership"))
        .bearer_auth(token)
        .json(&serde_json::json!({
            "entry": hex::encode(entry.as_bytes()),
            "bundles": [],
            "expected_len": expected_len,
        }))
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    assert_eq!(status, 201, "{}", resp.text().await.unwrap_or_default());
    admin.sync(team).await;
}

/// What the devices of this test binary log, from the first call on (one subscriber per
/// process).
fn captured_logs() -> Arc<Mutex<Vec<u8>>> {
    #[derive(Clone)]
    struct Buf(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Buf {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let writer = Buf(buf.clone());
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("holdfast_core=info"))
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .try_init();
        buf
    })
    .clone()
}

/// A team whose supervisor has read a link worker's note (`note`, in `notes`) and holds a
/// case file the admin made.
struct Answered {
    team: TeamId,
    admin: Device,
    owner: Device,
    supervisor: Device,
    case: DocumentId,
    note: holdfast_core::model::private_notes::PrivateNoteId,
    notes: DocumentId,
}

async fn a_note_a_supervisor_has_read(url: &str) -> Answered {
    let (admin, owner, supervisor) = (
        Device::new("Ada Admin"),
        Device::new("Lee Linkworker"),
        Device::new("Sue Supervisor"),
    );
    let team = team_of(url, &admin, &[&owner]).await;
    admin.enrol(team, &supervisor, Role::Supervisor).await;
    owner.sync(team).await;
    let note = owner
        .s()
        .add_private_note(NoteKind::Wellbeing, "Struggling after the Hendry case.")
        .unwrap();
    owner.sync(team).await;
    let case = admin
        .s()
        .create_case_file(NewPatient::named("Someone"))
        .unwrap()
        .case_id;
    admin.sync(team).await;
    supervisor.sync(team).await;
    assert_eq!(
        supervisor
            .s()
            .private_notes(owner.id())
            .unwrap()
            .notes
            .len(),
        1
    );
    assert!(supervisor.s().case_file(case).is_ok());
    let notes = {
        let id = owner.id();
        owner.s().private_notes_document(id).unwrap()
    };
    Answered {
        team,
        admin,
        owner,
        supervisor,
        case,
        note,
        notes,
    }
}

const RESPONSE: &str = "Let's talk it through on Thursday, off the record.";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_demoted_supervisor_withdraws_its_notes_response_and_keeps_syncing() {
    let logs = captured_logs();
    let relay = TestRelay::start().await;
    let url = relay.url();
    let Answered {
        team,
        admin,
        owner,
        supervisor,
        case,
        note,
        notes,
    } = a_note_a_supervisor_has_read(&url).await;

    // Offline: a response to the colleague's note, and a case-file edit.
    supervisor
        .s()
        .respond_to_private_note(owner.id(), note, RESPONSE)
        .unwrap();
    supervisor
        .s()
        .add_supervision_comment(case, "Reviewed in supervision")
        .unwrap();
    // Meanwhile an admin makes it a link worker.
    change_role(&url, team, &admin, supervisor.id(), Role::LinkWorker).await;

    // Its sync goes through: the response is withdrawn, the case edit is pushed.
    let report = supervisor
        .client
        .sync(team)
        .await
        .expect("the demoted device's sync");
    assert_eq!(report.push.withdrawn, 1, "{report:?}");
    assert!(report.push.acknowledged >= 1, "{report:?}");
    assert_eq!(
        supervisor.s().role(team).unwrap(),
        Some(Role::LinkWorker),
        "it folded the demotion"
    );
    let status = supervisor.s().sync_status(team).unwrap();
    assert!(status.everything_uploaded, "{status:?}");
    assert_eq!(status.last_error, None);
    assert_eq!(status.refused_envelopes, 1, "the withdrawal is on record");
    let refused = supervisor.s().refused_envelopes(team).unwrap();
    assert_eq!(refused.len(), 1);
    let withdrawn = &refused[0];
    assert!(withdrawn.is_withdrawn(), "{withdrawn:?}");
    assert_eq!(
        (withdrawn.doc, withdrawn.author, withdrawn.seq),
        (notes, supervisor.id(), 0)
    );
    assert!(
        withdrawn.reason.contains("may no longer write"),
        "{withdrawn:?}"
    );
    // Logged with its ids, never its text.
    let logged = String::from_utf8_lossy(&logs.lock().unwrap()).into_owned();
    assert!(
        logged
            .lines()
            .any(|l| l.contains("withdrawn") && l.contains(&withdrawn.id.to_string())),
        "the withdrawal is logged with the envelope's id"
    );
    assert!(!logged.contains(RESPONSE), "no content in the logs");

    // The case edit reaches the team; the response reaches nobody.
    admin.sync(team).await;
    owner.sync(team).await;
    let comments = admin.s().case_file(case).unwrap().supervision;
    assert_eq!(comments.len(), 1);
    assert_eq!(comments[0].text, "Reviewed in supervision");
    let owner_id = owner.id();
    for reader in [&owner, &admin] {
        let read = reader.s().private_notes(owner_id).unwrap();
        assert!(read.notes[0].responses.is_empty(), "{read:?}");
    }
    let admin_token = token(&url, &admin).await;
    let (_, theirs) = pulled(&url, &admin_token, team, &format!("&doc={notes}")).await;
    assert!(
        theirs
            .iter()
            .all(|(_, b)| EnvelopeRef::decode(b).unwrap().header.author != supervisor.id()),
        "the relay holds nothing of the demoted device's in the notes"
    );

    // Later syncs go on as usual, the withdrawal recorded once.
    supervisor
        .s()
        .add_supervision_comment(case, "Follow-up booked")
        .unwrap();
    let again = supervisor.sync(team).await;
    assert_eq!(again.push.withdrawn, 0);
    assert!(again.push.acknowledged >= 1, "{again:?}");
    admin.sync(team).await;
    assert_eq!(admin.s().case_file(case).unwrap().supervision.len(), 2);
    assert_eq!(supervisor.s().refused_envelopes(team).unwrap().len(), 1);
    let err = supervisor.s().private_notes(owner.id()).unwrap_err();
    assert!(matches!(err, Error::NotAllowed(_)), "{err:?}");

    // Promoted again, it finds its response where it wrote it: withdrawn from delivery
    // only, never from its own copy. Its next sync hands the notes on in a snapshot (so
    // its later responses never wait on the change withdrawn), and the owner reads it.
    change_role(&url, team, &admin, supervisor.id(), Role::Supervisor).await;
    supervisor.sync(team).await;
    let kept = supervisor.s().private_notes(owner.id()).unwrap();
    assert_eq!(kept.notes[0].responses.len(), 1);
    assert_eq!(kept.notes[0].responses[0].text, RESPONSE);
    owner.sync(team).await;
    let mine = {
        let id = owner.id();
        owner.s().private_notes(id).unwrap()
    };
    assert_eq!(mine.notes[0].responses.len(), 1);
    assert_eq!(mine.notes[0].responses[0].text, RESPONSE);
}

/// A push before the device has folded its demotion (a push on its own, or a role change
/// that landed between its membership pull and its push): the relay refuses the batch
/// (`403 private_notes`); the device learns its membership, withdraws what it may no longer
/// write, and pushes the rest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_refused_for_private_notes_learns_the_demotion_and_pushes_the_rest() {
    let relay = TestRelay::start().await;
    let url = relay.url();
    let Answered {
        team,
        admin,
        owner,
        supervisor,
        case,
        note,
        notes,
    } = a_note_a_supervisor_has_read(&url).await;
    supervisor
        .s()
        .respond_to_private_note(owner.id(), note, RESPONSE)
        .unwrap();
    supervisor
        .s()
        .add_supervision_comment(case, "Reviewed in supervision")
        .unwrap();
    change_role(&url, team, &admin, supervisor.id(), Role::LinkWorker).await;
    assert_eq!(
        supervisor.s().role(team).unwrap(),
        Some(Role::Supervisor),
        "not folded yet"
    );

    let report = supervisor.client.push(team).await.expect("the push");
    assert_eq!(report.withdrawn, 1, "{report:?}");
    assert!(report.acknowledged >= 1, "{report:?}");
    assert_eq!(supervisor.s().role(team).unwrap(), Some(Role::LinkWorker));
    let refused = supervisor.s().refused_envelopes(team).unwrap();
    assert!(
        refused.len() == 1 && refused[0].doc == notes && refused[0].is_withdrawn(),
        "{refused:?}"
    );
    assert!(
        supervisor
            .s()
            .sync_status(team)
            .unwrap()
            .everything_uploaded
    );
    supervisor.sync(team).await;
    admin.sync(team).await;
    assert_eq!(admin.s().case_file(case).unwrap().supervision.len(), 1);
    assert!(
        admin.s().private_notes(owner.id()).unwrap().notes[0]
            .responses
            .is_empty()
    );
}
