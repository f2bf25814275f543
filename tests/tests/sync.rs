//! End-to-end sync: devices with their own encrypted stores and a real relay
//! (`holdfast_relay::testing::TestRelay`) on loopback.
//!
//! - two link workers and a supervisor edit the same case offline and converge, the status
//!   conflict visible on all three, while the relay's files and logs hold no plaintext;
//! - tampered envelopes (a flipped bit, a forged author, a move into another document) are
//!   refused by devices, and by the relay where it can tell; an envelope of another team in
//!   a team's pages makes the whole page unverified and the cursor stays;
//! - a fourth device bootstraps from snapshots plus later changes;
//! - the relay is killed mid-push and restarted: nothing acknowledged is lost;
//! - a push whose answer is lost, or that meets a stopped relay, leaves the outbox intact
//!   and is retried with byte-identical envelopes;
//! - the live subscription pulls when the head moves.
//!
//! The relay of each test (`holdfast_relay::testing::TestRelay`) runs in a runtime of its
//! own, so that "kill" can drop it mid-request, as a crash would.

use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use holdfast_core::model::case_file::{CaseStatus, NewPatient, NewSession, SessionMode};
use holdfast_core::model::ids::{DeviceId, DocumentId};
use holdfast_core::store::NewCase;
use holdfast_core::sync::Role;
use holdfast_core::{Error, SyncConfig, TeamId};
use holdfast_protocol::{
    DeviceSigningKey, EnvelopeId, EnvelopeRef, Header, Kind, PUSH_MAGIC, SystemRandom, seal,
};
use holdfast_relay::testing::{self, TestRelay};
use holdfast_tests::{Device, Proxy, quick_retries, team_of};

const NAME: &str = "Wilhelmina Featherstonehaugh";
const NOTE: &str = "talked through the damp in the back bedroom and the allotment waiting list";
const AMEND_1: &str = "amended: the landlord promised a dehumidifier by Friday";
const AMEND_2: &str = "amended: daughter visits on Tuesdays, prefers phone calls";
const WHAT_MATTERS: &str = "getting back to the allotment with my grandson";
const WHAT_MATTERS_1: &str = "getting back to the allotment with my grandson Alfie";
const WHAT_MATTERS_2: &str = "getting back to the allotment and the choir";

// ---------------------------------------------------------------------------------------
// Captured logs (device and relay alike), to prove they hold no patient data.

#[derive(Clone)]
struct LogBuf(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogBuf {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn capture_logs() -> Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let writer = LogBuf(buf.clone());
        let filter = tracing_subscriber::EnvFilter::new(
            "debug,hyper=info,hyper_util=info,h2=info,reqwest=info,tungstenite=info,\
             tokio_tungstenite=info,automerge=info,holdfast_relay=trace",
        );
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .try_init();
        buf
    })
    .clone()
}

// ---------------------------------------------------------------------------------------
// The relay's files, read and edited behind its back.

fn relay_db(dir: &Path) -> rusqlite::Connection {
    let conn = rusqlite::Connection::open(dir.join("relay.db")).unwrap();
    conn.busy_timeout(Duration::from_secs(5)).unwrap();
    conn
}

/// The team's envelopes as the relay stores them: (seq, bytes).
fn relay_envelopes(dir: &Path, team: TeamId) -> Vec<(u64, Vec<u8>)> {
    let conn = relay_db(dir);
    let mut stmt = conn
        .prepare("SELECT seq, bytes FROM envelopes WHERE team = ?1 ORDER BY seq")
        .unwrap();
    stmt.query_map([team.as_bytes().as_slice()], |r| {
        Ok((r.get::<_, i64>(0)? as u64, r.get(1)?))
    })
    .unwrap()
    .map(Result::unwrap)
    .collect()
}

/// Appends an envelope to a team's stream behind the relay's back (relay stopped).
fn relay_insert(dir: &Path, team: TeamId, bytes: &[u8]) -> u64 {
    let conn = relay_db(dir);
    let head: i64 = conn
        .query_row(
            "SELECT head FROM teams WHERE id = ?1",
            [team.as_bytes().as_slice()],
            |r| r.get(0),
        )
        .unwrap();
    let e = EnvelopeRef::decode(bytes).unwrap();
    let seq = head + 1;
    conn.execute(
        "INSERT INTO envelopes (team, seq, id, document, kind, covers, author, received_at, bytes)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 0, ?8)",
        rusqlite::params![
            team.as_bytes().as_slice(),
            seq,
            e.id().0.as_slice(),
            e.header.document.0.as_slice(),
            e.header.kind.as_byte(),
            e.header.covers as i64,
            e.header.author.0.as_slice(),
            bytes
        ],
    )
    .unwrap();
    conn.execute(
        "UPDATE teams SET head = ?2 WHERE id = ?1",
        rusqlite::params![team.as_bytes().as_slice(), seq],
    )
    .unwrap();
    seq as u64
}

/// Every file of the relay's data folder (database, WAL, key) holds none of `secrets`.
fn assert_no_plaintext_in(dir: &Path, secrets: &[&str]) {
    let mut files = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if !path.is_file() {
            continue;
        }
        files += 1;
        let bytes = std::fs::read(&path).unwrap();
        for s in secrets {
            assert!(
                !contains(&bytes, s.as_bytes()),
                "{} holds plaintext {s:?}",
                path.display()
            );
        }
    }
    assert!(files >= 2, "the relay wrote its files");
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

// ---------------------------------------------------------------------------------------
// Devices.

/// What a user could see of a case.
trait View {
    /// Everything a user could see of a case, and the Automerge heads.
    fn view(&self, case: NewCase) -> String;
}

impl View for Device {
    fn view(&self, case: NewCase) -> String {
        let mut s = self.s();
        let file = s.case_file(case.case_id).unwrap();
        let plan = s.action_plan(case.plan_id).unwrap();
        format!(
            "{}|{}|{:?}|{:?}",
            serde_json::to_string(&file).unwrap(),
            serde_json::to_string(&plan).unwrap(),
            s.heads(case.case_id).unwrap(),
            s.heads(case.plan_id).unwrap()
        )
    }
}

fn session(note: &str, start: i64) -> NewSession {
    NewSession {
        start,
        duration_minutes: 45,
        mode: SessionMode::HomeVisit,
        attended: true,
        note: note.into(),
        holding_functions: vec![],
        follow_up: None,
    }
}

/// A push batch framed by hand: the protocol crate's encoder refuses what these tests
/// need to send.
fn raw_batch(
    team: TeamId,
    pusher: DeviceId,
    signer: &DeviceSigningKey,
    envelopes: &[&[u8]],
) -> Vec<u8> {
    let ts = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let mut out = PUSH_MAGIC.to_vec();
    out.extend_from_slice(team.as_bytes());
    out.extend_from_slice(pusher.as_bytes());
    out.extend_from_slice(&ts.to_be_bytes());
    out.extend_from_slice(&(envelopes.len() as u16).to_be_bytes());
    let mut message = b"holdfast-push-v1".to_vec();
    message.extend_from_slice(team.as_bytes());
    message.extend_from_slice(pusher.as_bytes());
    message.extend_from_slice(&ts.to_be_bytes());
    for e in envelopes {
        out.extend_from_slice(&(e.len() as u32).to_be_bytes());
        out.extend_from_slice(e);
        message.extend_from_slice(&EnvelopeId::of(e).0);
    }
    out.extend_from_slice(&signer.sign(&message));
    out
}

async fn raw_push(url: &str, token: &str, team: TeamId, batch: Vec<u8>) -> (u16, String) {
    let resp = reqwest::Client::new()
        .post(format!("{url}/v1/teams/{team}/envelopes"))
        .bearer_auth(token)
        .header("content-type", "application/octet-stream")
        .body(batch)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.text().await.unwrap())
}

/// An envelope sealed under the team's epoch-1 keys by `signer`, naming `author`.
fn envelope(
    team: TeamId,
    keys: &holdfast_core::crypto::TeamKeys,
    doc: DocumentId,
    author: DeviceId,
    signer: &DeviceSigningKey,
    plaintext: &[u8],
) -> Vec<u8> {
    let header = Header {
        kind: Kind::ChangeBatch,
        team,
        document: doc,
        epoch: 1,
        author,
        covers: 0,
        nonce: Header::random_nonce(&SystemRandom::new()).unwrap(),
    };
    let key = keys.key_for(doc, 1).unwrap();
    seal(&header, &key, plaintext, signer).unwrap()
}

// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_devices_edit_offline_converge_and_the_relay_learns_nothing() {
    let logs = capture_logs();
    let mut relay = TestRelay::start().await;
    let url = relay.url();
    let w1 = Device::new("Sam Okafor");
    let w2 = Device::new("Priya Natarajan");
    let sup = Device::new("Jo Whitfield");
    let team = team_of(&url, &w1, &[&w2, &sup]).await;

    // The first link worker takes the referral and sees the patient.
    let (case, session_id) = {
        let mut s = w1.s();
        let case = s.create_case_file(NewPatient::named(NAME)).unwrap();
        s.set_status(case.case_id, CaseStatus::Active, None)
            .unwrap();
        let id = s
            .record_session(case.case_id, &session(NOTE, 1_760_000_000_000))
            .unwrap();
        s.set_what_matters(case.plan_id, WHAT_MATTERS).unwrap();
        (case, id)
    };
    let report = w1.sync(team).await;
    assert!(report.push.acknowledged >= 2);
    for d in [&w2, &sup] {
        let report = d.sync(team).await;
        assert!(report.pull.bootstrap);
        assert_eq!(report.pull.new_documents, 2);
        let caseload = d.s().caseload(&Default::default()).unwrap();
        assert_eq!(caseload[0].patient_name, NAME);
        assert_eq!(caseload[0].status, CaseStatus::Active);
    }

    // Both link workers edit the same fields offline.
    {
        let mut s = w1.s();
        s.set_status(
            case.case_id,
            CaseStatus::Holding,
            Some("waiting for the housing officer"),
        )
        .unwrap();
        s.amend_session_note(case.case_id, session_id, AMEND_1)
            .unwrap();
        s.set_what_matters(case.plan_id, WHAT_MATTERS_1).unwrap();
        s.add_goal(case.plan_id, "dig the bean trench").unwrap();
    }
    {
        let mut s = w2.s();
        s.set_status(case.case_id, CaseStatus::Tapering, None)
            .unwrap();
        s.amend_session_note(case.case_id, session_id, AMEND_2)
            .unwrap();
        s.set_what_matters(case.plan_id, WHAT_MATTERS_2).unwrap();
        s.record_session(
            case.case_id,
            &session("second visit, brighter", 1_760_100_000_000),
        )
        .unwrap();
    }
    assert!(!w1.client.status(team).await.unwrap().everything_uploaded);

    // The signal comes back.
    w1.sync(team).await;
    w2.sync(team).await;
    w1.sync(team).await;
    sup.sync(team).await;

    let view = w1.view(case);
    assert_eq!(w2.view(case), view, "link workers converge");
    assert_eq!(sup.view(case), view, "the supervisor sees the same");
    for d in [&w1, &w2, &sup] {
        let mut s = d.s();
        let file = s.case_file(case.case_id).unwrap();
        assert!(
            file.status.is_conflicted(),
            "the status conflict stays visible"
        );
        let values: Vec<CaseStatus> = file.status.values().copied().collect();
        assert!(values.contains(&CaseStatus::Holding) && values.contains(&CaseStatus::Tapering));
        let note = &file
            .sessions
            .iter()
            .find(|x| x.id == session_id)
            .unwrap()
            .note;
        assert!(note.is_conflicted(), "both amendments kept");
        assert_eq!(file.sessions.len(), 2);
        let caseload = s.caseload(&Default::default()).unwrap();
        assert!(caseload[0].status_conflicted);
        assert_eq!(caseload[0].session_count, 2);
        let plan = s.action_plan(case.plan_id).unwrap();
        assert!(!plan.what_matters.is_empty());
        assert_eq!(plan.goals.len(), 1);
    }
    for d in [&w1, &w2, &sup] {
        let status = d.client.status(team).await.unwrap();
        assert!(status.everything_uploaded, "{status:?}");
        assert_eq!(status.pending_outbox, 0);
        assert!(status.last_pull_at.is_some());
        assert!(!status.offline && status.last_error.is_none());
        assert_eq!(status.refused_envelopes, 0);
        assert_eq!(status.cursor, d.client.head(team).await.unwrap());
    }
    assert!(w1.client.status(team).await.unwrap().last_push_at.is_some());

    // The relay holds ciphertext only: database, WAL, and logs.
    let secrets = [
        NAME,
        NOTE,
        AMEND_1,
        AMEND_2,
        WHAT_MATTERS,
        WHAT_MATTERS_1,
        WHAT_MATTERS_2,
        "bean trench",
        "housing officer",
    ];
    assert!(relay.data_dir().join("relay.db-wal").exists());
    assert_no_plaintext_in(relay.data_dir(), &secrets);
    relay.stop().await;
    assert_no_plaintext_in(relay.data_dir(), &secrets);
    let captured = String::from_utf8_lossy(&logs.lock().unwrap()).into_owned();
    assert!(
        captured.contains("holdfast_relay"),
        "relay logs were captured"
    );
    for s in secrets {
        assert!(!captured.contains(s), "logs hold plaintext {s:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tampered_and_replayed_envelopes_are_refused() {
    capture_logs();
    let mut relay = TestRelay::start().await;
    let url = relay.url();
    let w1 = Device::new("Sam Okafor");
    let w2 = Device::new("Priya Natarajan");
    let sup = Device::new("Jo Whitfield");
    // A member gone rogue, whose signatures are genuine.
    let mallory = Device::new("Mallory");
    let team = team_of(&url, &w1, &[&w2, &sup, &mallory]).await;
    // A second team with the same link workers, to replay into.
    let team2 = team_of(&url, &w1, &[&w2]).await;

    let case = w1.s().create_case_file(NewPatient::named(NAME)).unwrap();
    w1.s()
        .set_status(case.case_id, CaseStatus::Active, None)
        .unwrap();
    // A directory whose envelope a malicious relay will move into the second team.
    let directory = w1.s().create_directory("Leeds North").unwrap();
    w1.sync(team).await;
    let moved_to_team2 = relay_envelopes(relay.data_dir(), team)
        .into_iter()
        .map(|(_, b)| b)
        .find(|b| EnvelopeRef::decode(b).unwrap().header.document == directory)
        .unwrap();
    // The edit whose envelope gets a flipped bit.
    w1.s()
        .set_status(case.case_id, CaseStatus::Holding, None)
        .unwrap();
    w1.sync(team).await;
    let stored = relay_envelopes(relay.data_dir(), team);
    let (flip_seq, _) = *stored.last().unwrap();
    let (_, genuine) = stored.first().unwrap().clone();

    // What the relay itself refuses.
    let w2_key = w2.signer();
    let token = testing::login(&url, w2.id(), &w2_key).await.unwrap();
    let secret = w1.s().keys_held(team).unwrap();
    let in_w1s_name = envelope(team, &secret, case.case_id, w1.id(), &w2_key, b"forged");
    let (status, body) = raw_push(
        &url,
        &token,
        team,
        raw_batch(team, w2.id(), &w2_key, &[&in_w1s_name]),
    )
    .await;
    assert!(
        (400..500).contains(&status),
        "another author's envelope: {status} {body}"
    );
    let (status, body) = raw_push(
        &url,
        &token,
        team,
        raw_batch(team, w1.id(), &w2_key, &[&in_w1s_name]),
    )
    .await;
    assert!(
        (400..500).contains(&status),
        "a pusher that is not the token's: {status} {body}"
    );
    let own = envelope(team, &secret, case.case_id, w2.id(), &w2_key, b"x");
    let (status, body) = raw_push(
        &url,
        &token,
        team2,
        raw_batch(team2, w2.id(), &w2_key, &[&own]),
    )
    .await;
    assert!(
        (400..500).contains(&status),
        "an envelope of another team: {status} {body}"
    );
    assert_eq!(relay_envelopes(relay.data_dir(), team).len(), stored.len());

    // What only devices can tell: the relay's own database is edited behind its back.
    relay.stop().await;
    {
        let conn = relay_db(relay.data_dir());
        let bytes: Vec<u8> = conn
            .query_row(
                "SELECT bytes FROM envelopes WHERE team = ?1 AND seq = ?2",
                rusqlite::params![team.as_bytes().as_slice(), flip_seq as i64],
                |r| r.get(0),
            )
            .unwrap();
        let mut flipped = bytes.clone();
        flipped[90] ^= 0x04; // inside the ciphertext
        conn.execute(
            "UPDATE envelopes SET bytes = ?3 WHERE team = ?1 AND seq = ?2",
            rusqlite::params![team.as_bytes().as_slice(), flip_seq as i64, flipped],
        )
        .unwrap();
    }
    // Signed by W2 in W1's name.
    relay_insert(relay.data_dir(), team, &in_w1s_name);
    // W1's genuine envelope moved into the second team (the relay keeps ids unique, so a
    // replay is a move).
    relay_db(relay.data_dir())
        .execute(
            "DELETE FROM envelopes WHERE id = ?1",
            [EnvelopeId::of(&moved_to_team2).0.as_slice()],
        )
        .unwrap();
    relay_insert(relay.data_dir(), team2, &moved_to_team2);
    // A genuine envelope moved to another document: re-labelled and re-signed by a member.
    let mallory_key = mallory.signer();
    let moved = {
        let e = EnvelopeRef::decode(&genuine).unwrap();
        assert_eq!(e.header.document, case.plan_id);
        let mut header = e.header;
        header.document = case.case_id;
        header.author = mallory.id();
        let mut bytes = genuine[..81].to_vec();
        bytes[21..37].copy_from_slice(&header.document.0);
        bytes[41..57].copy_from_slice(&header.author.0);
        bytes.extend_from_slice(e.ciphertext());
        let signature = mallory_key.sign(&bytes);
        bytes.extend_from_slice(&signature);
        bytes
    };
    relay_insert(relay.data_dir(), team, &moved);
    relay.restart().await;

    for d in [&w2, &sup] {
        let report = d.sync(team).await;
        assert_eq!(report.pull.refused, 3, "{report:?}");
        let refused = d.s().refused_envelopes(team).unwrap();
        let reasons: Vec<&str> = refused.iter().map(|r| r.reason.as_str()).collect();
        assert!(reasons[0].contains("signature"), "flipped bit: {reasons:?}");
        assert!(
            reasons[1].contains("signature"),
            "forged author: {reasons:?}"
        );
        assert!(
            reasons[2].contains("decrypt"),
            "moved document: {reasons:?}"
        );
        assert!(reasons.iter().all(|r| !r.contains(NAME)));
        let err = Error::BadEnvelope {
            id: refused[0].id.to_string(),
            reason: refused[0].reason.clone(),
        };
        assert!(err.to_string().contains(&refused[0].id.to_string()));
        // The tampered status change never arrived; the genuine ones did.
        let file = d.s().case_file(case.case_id).unwrap();
        assert_eq!(file.status.agreed(), Some(&CaseStatus::Active));
        assert_eq!(file.patient.name, NAME);
        let status = d.client.status(team).await.unwrap();
        assert_eq!(status.refused_envelopes, 3);
        assert_eq!(
            status.cursor,
            d.client.head(team).await.unwrap(),
            "moved past them"
        );
        assert!(status.last_error.is_none(), "refusals do not stop sync");
    }
    // An envelope of another team among this team's: the relay is not serving this team's
    // log (a replay, or a relay that lies). Nothing of the page counts, not even as refused,
    // and the cursor stays, until the relay is put right; then sync goes on.
    let before = w2.client.status(team2).await.unwrap().cursor;
    let err = w2.client.sync(team2).await.unwrap_err();
    assert!(
        matches!(&err, Error::Unverified { reason, .. } if reason.contains("team")),
        "{err:?}"
    );
    assert_eq!(w2.client.status(team2).await.unwrap().cursor, before);
    assert!(w2.s().refused_envelopes(team2).unwrap().is_empty());
    relay.stop().await;
    relay_db(relay.data_dir())
        .execute(
            "DELETE FROM envelopes WHERE id = ?1",
            [EnvelopeId::of(&moved_to_team2).0.as_slice()],
        )
        .unwrap();
    relay.restart().await;
    w2.sync(team2).await;

    // Sync goes on: later genuine edits flow.
    w1.s().set_what_matters(case.plan_id, WHAT_MATTERS).unwrap();
    w1.s()
        .set_status(case.case_id, CaseStatus::Tapering, None)
        .unwrap();
    w1.sync(team).await;
    w2.sync(team).await;
    assert_eq!(
        w2.s().action_plan(case.plan_id).unwrap().what_matters,
        WHAT_MATTERS
    );
    // The new status depends on the change whose envelope was refused: it waits (kept, not
    // lost) until a snapshot from W1 brings the missing change.
    assert_eq!(
        w2.s().case_file(case.case_id).unwrap().status.agreed(),
        Some(&CaseStatus::Active)
    );
    assert_eq!(w1.s().queue_snapshots(team, 1).unwrap(), 3);
    w1.sync(team).await;
    w2.sync(team).await;
    assert_eq!(
        w2.s().case_file(case.case_id).unwrap().status.agreed(),
        Some(&CaseStatus::Tapering)
    );
    assert_eq!(w2.view(case), w1.view(case));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_device_bootstraps_from_snapshots_and_later_changes() {
    capture_logs();
    let relay = TestRelay::start().await;
    let url = relay.url();
    let w1 = Device::with_config(
        "Sam Okafor",
        SyncConfig {
            snapshot_after: 20,
            ..quick_retries()
        },
    );
    let w2 = Device::new("Priya Natarajan");
    let team = team_of(&url, &w1, &[&w2]).await;

    let case = w1.s().create_case_file(NewPatient::named(NAME)).unwrap();
    // Thirty visits, each pushed on its own: thirty change batches for the case.
    for i in 0..30 {
        w1.s()
            .record_session(
                case.case_id,
                &session(&format!("visit {i}"), 1_760_000_000_000 + i),
            )
            .unwrap();
        w1.client.push(team).await.unwrap();
    }
    // The pull after it notices the case passed 20 changes and uploads a snapshot.
    let report = w1.sync(team).await;
    assert_eq!(report.snapshots, 1);
    // Later changes, from both link workers.
    w2.sync(team).await;
    w2.s()
        .set_status(case.case_id, CaseStatus::Active, None)
        .unwrap();
    w2.sync(team).await;
    w1.s()
        .record_session(
            case.case_id,
            &session("after the snapshot", 1_760_900_000_000),
        )
        .unwrap();
    w1.sync(team).await;
    w2.sync(team).await;

    let stored = relay_envelopes(relay.data_dir(), team);
    let snapshots: Vec<u64> = stored
        .iter()
        .filter_map(|(_, b)| {
            let e = EnvelopeRef::decode(b).unwrap();
            (e.header.kind == Kind::Snapshot).then_some(e.header.covers)
        })
        .collect();
    assert_eq!(snapshots.len(), 1);
    assert!(
        snapshots[0] >= 31,
        "covers every change batch: {snapshots:?}"
    );

    // A fourth device joins with an invite (redeeming runs its first sync).
    let new = Device::new("Jo Whitfield");
    let report = w1.enrol(team, &new, Role::LinkWorker).await;
    assert!(report.pull.bootstrap);
    assert!(
        report.pull.applied + 30 <= stored.len(),
        "the snapshot replaced the change batches it covers: applied {} of {}",
        report.pull.applied,
        stored.len()
    );
    assert_eq!(new.view(case), w1.view(case));
    assert_eq!(new.view(case), w2.view(case));
    assert_eq!(
        new.s().caseload(&Default::default()).unwrap(),
        w1.s().caseload(&Default::default()).unwrap()
    );
    // And it keeps syncing normally.
    new.s()
        .add_supervision_comment(case.case_id, "good progress")
        .unwrap();
    new.sync(team).await;
    w1.sync(team).await;
    assert_eq!(new.view(case), w1.view(case));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_relay_killed_mid_push_loses_nothing_acknowledged() {
    capture_logs();
    let mut relay = TestRelay::start().await;
    let url = relay.url();
    let w1 = Device::with_config(
        "Sam Okafor",
        SyncConfig {
            push_batch: 2,
            ..quick_retries()
        },
    );
    let w2 = Device::new("Priya Natarajan");
    let team = team_of(&url, &w1, &[&w2]).await;

    let mut cases = Vec::new();
    for i in 0..150 {
        let mut s = w1.s();
        let case = s
            .create_case_file(NewPatient::named(&format!("Patient {i}")))
            .unwrap();
        s.record_session(
            case.case_id,
            &session(&format!("note {i}"), 1_760_000_000_000),
        )
        .unwrap();
        cases.push(case);
    }
    let total = w1.s().seal_outbox(team).unwrap();
    assert_eq!(total, 300);

    let pusher = w1.client.clone();
    let push = tokio::spawn(async move { pusher.push(team).await });
    // Each acknowledged request is committed, then announced (`SyncChanged`).
    w1.wait_until("the first acknowledgements", |s| {
        s.sync_status(team).unwrap().unacknowledged_envelopes < 290
    })
    .await;
    relay.kill();
    let result = push.await.unwrap();
    let status = w1.client.status(team).await.unwrap();
    assert!(
        result.is_err() && status.unacknowledged_envelopes > 0,
        "the kill landed mid-push: {result:?}, {status:?}"
    );
    // A full sync while the relay is down reports the device offline, and keeps everything.
    assert!(matches!(w1.client.sync(team).await, Err(Error::Network(_))));
    let status = w1.client.status(team).await.unwrap();
    assert!(status.offline && status.last_error.is_some());
    assert!(!status.everything_uploaded);
    let acknowledged = total as u64 - status.unacknowledged_envelopes;

    relay.restart().await;
    let stored = relay_envelopes(relay.data_dir(), team);
    assert!(
        stored.len() as u64 >= acknowledged,
        "every acknowledged envelope survived the kill"
    );
    let report = w1.sync(team).await;
    assert!(report.push.acknowledged > 0);
    let status = w1.client.status(team).await.unwrap();
    assert!(status.everything_uploaded && !status.offline && status.last_error.is_none());
    let stored = relay_envelopes(relay.data_dir(), team);
    assert_eq!(stored.len(), total, "each envelope stored once");

    w2.sync(team).await;
    assert_eq!(w2.s().caseload(&Default::default()).unwrap().len(), 150);
    for case in cases.iter().step_by(15) {
        assert_eq!(w2.view(*case), w1.view(*case));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_push_keeps_the_outbox_and_retries_with_identical_envelopes() {
    capture_logs();
    // Devices reach the relay through the proxy, so the relay's origin is the proxy's.
    let listener = Proxy::bind().await;
    let public = format!("http://{}", listener.local_addr().unwrap());
    let mut relay = TestRelay::builder().public_url(public).start().await;
    let proxy = Proxy::start(listener, relay.addr());
    let url = proxy.url();
    let w1 = Device::new("Sam Okafor");
    let w2 = Device::new("Priya Natarajan");
    let team = team_of(&url, &w1, &[&w2]).await;

    let case = w1.s().create_case_file(NewPatient::named(NAME)).unwrap();
    w1.s()
        .record_session(case.case_id, &session(NOTE, 1_760_000_000_000))
        .unwrap();
    let outbox = w1.s().outbox_len().unwrap();

    // 1. The relay stores the push but every answer is lost on the way back.
    proxy.swallow.store(true, Ordering::SeqCst);
    let err = w1.client.push(team).await.unwrap_err();
    assert!(matches!(err, Error::Network(_)), "{err:?}");
    let pending = w1.s().pending_envelopes(team, 100, usize::MAX).unwrap();
    assert_eq!(pending.len(), 2);
    assert_eq!(
        w1.s().outbox_len().unwrap(),
        outbox,
        "nothing removed without an ack"
    );
    let ids: Vec<EnvelopeId> = pending.iter().map(|p| p.id).collect();
    let stored: Vec<EnvelopeId> = relay_envelopes(relay.data_dir(), team)
        .iter()
        .map(|(_, b)| EnvelopeId::of(b))
        .collect();
    assert_eq!(
        stored, ids,
        "the relay stored them once, retries deduplicated"
    );

    // 2. The relay is stopped: the retry fails, again nothing changes.
    proxy.swallow.store(false, Ordering::SeqCst);
    relay.stop().await;
    assert!(w1.client.push(team).await.is_err());
    let again = w1.s().pending_envelopes(team, 100, usize::MAX).unwrap();
    assert_eq!(again, pending, "byte-identical envelopes, same ids");
    assert_eq!(w1.s().outbox_len().unwrap(), outbox);

    // 3. Back: the same envelopes are acknowledged (as duplicates) and the outbox empties.
    relay.restart().await;
    let report = w1.client.push(team).await.unwrap();
    assert_eq!(report.acknowledged, 2);
    assert_eq!(report.sealed, 0, "nothing sealed twice");
    assert_eq!(w1.s().outbox_len().unwrap(), 0);
    let stored: Vec<EnvelopeId> = relay_envelopes(relay.data_dir(), team)
        .iter()
        .map(|(_, b)| EnvelopeId::of(b))
        .collect();
    assert_eq!(stored, ids);
    w2.sync(team).await;
    assert_eq!(w2.view(case), w1.view(case));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_live_subscription_pulls_when_the_head_moves_and_pushes_local_changes() {
    capture_logs();
    let relay = TestRelay::start().await;
    let url = relay.url();
    let w1 = Device::new("Sam Okafor");
    let sup = Device::new("Jo Whitfield");
    let team = team_of(&url, &w1, &[&sup]).await;
    let live = sup.client.live(team);

    let case = w1.s().create_case_file(NewPatient::named(NAME)).unwrap();
    w1.sync(team).await;
    sup.wait_until("the supervisor to receive the case", |s| {
        s.caseload(&Default::default()).unwrap().len() == 1
    })
    .await;

    // The supervisor comments; the live task pushes it when told.
    sup.s()
        .add_supervision_comment(case.case_id, "well held")
        .unwrap();
    sup.client.notify_local_change();
    sup.wait_until("the comment to reach the relay", |s| {
        s.sync_status(team).unwrap().everything_uploaded
    })
    .await;
    w1.sync(team).await;
    assert_eq!(w1.view(case), sup.view(case));
    assert_eq!(w1.s().case_file(case.case_id).unwrap().supervision.len(), 1);
    live.stop();
}
