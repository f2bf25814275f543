//! A relay that lies (or someone between a phone and its relay): a proxy rewrites the
//! relay's answers. For each lie, no cursor moves past data the device actually applied,
//! nothing it holds is lost, and once the lying stops it catches up by itself.
//!
//! - forged cursors: a pull page or a key page whose `next` is far beyond what it holds;
//! - forged lengths: a membership `len` far beyond its entries, `more` with nothing;
//! - entries reordered or withheld; another team's page replayed; a body too large;
//! - forged refusals: a `409` on an append the relay took, a `410` on a redeem it took,
//!   a `410` on an invite that is still good;
//! - a replayed token asking to acknowledge key bundles never delivered;
//! - membership and key pages longer than a device accepts: it asks for smaller ones.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use holdfast_core::Error;
use holdfast_core::model::case_file::NewPatient;
use holdfast_core::sync::Role;
use holdfast_protocol::PullPage;
use holdfast_relay::testing::TestRelay;
use holdfast_tests::{Answer, Device, Liar, team_of};

/// A relay behind a liar, and a team of an admin and a link worker made through it.
struct World {
    relay: TestRelay,
    liar: Liar,
    admin: Device,
    worker: Device,
    team: holdfast_core::TeamId,
}

async fn world() -> World {
    let listener = Liar::bind().await;
    let public = format!("http://{}", listener.local_addr().unwrap());
    let relay = TestRelay::builder().public_url(public).start().await;
    let liar = Liar::start(listener, &relay.url());
    let (admin, worker) = (Device::new("Ada Admin"), Device::new("Lee Linkworker"));
    let team = team_of(liar.url(), &admin, &[&worker]).await;
    World {
        relay,
        liar,
        admin,
        worker,
        team,
    }
}

fn is_pull(path: &str) -> bool {
    path.contains("/envelopes?")
}

/// The device's cursor, and what it holds.
fn standing(d: &Device, team: holdfast_core::TeamId) -> (u64, usize) {
    let s = d.s();
    (
        s.team(team).unwrap().cursor,
        s.caseload(&Default::default()).unwrap().len(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_cursors_and_lengths_move_nothing_and_the_device_catches_up() {
    let w = world().await;
    let case = w
        .admin
        .s()
        .create_case_file(NewPatient::named("Ada Lovelace"))
        .unwrap();
    w.admin.sync(w.team).await;
    let before = standing(&w.worker, w.team);

    // A pull page whose next is far beyond its last envelope.
    w.liar.lie(|asked, answer| {
        if !is_pull(&asked.path) || answer.status != 200 {
            return None;
        }
        let mut page = PullPage::decode(&answer.body).unwrap();
        page.next = 1 << 62;
        Some(answer.with_bytes(page.encode().unwrap()))
    });
    let err = w.worker.client.sync(w.team).await.unwrap_err();
    assert!(err.to_string().contains("pull"), "{err}");
    assert_eq!(
        standing(&w.worker, w.team),
        before,
        "nothing applied, cursor stays"
    );

    // An empty page that says the team ends far away (one that says more follows cannot
    // even be encoded: the format refuses it).
    w.liar.lie(move |asked, answer| {
        is_pull(&asked.path).then(|| {
            let page = PullPage {
                items: vec![],
                next: 1 << 62,
                more: false,
            };
            answer.with_bytes(page.encode().unwrap())
        })
    });
    assert!(w.worker.client.sync(w.team).await.is_err());
    assert_eq!(standing(&w.worker, w.team), before);

    // A key page that jumps, and a log said to be far longer than its entries.
    w.liar.lie(|asked, answer| {
        asked.path.contains("/keys?").then(|| {
            answer.with_json(r#"{"bundles": [], "next": 4611686018427387904, "more": false}"#)
        })
    });
    assert!(w.worker.client.sync(w.team).await.is_err());
    let log_before = w.worker.s().membership_log(w.team).unwrap().len();
    w.liar.lie(|asked, answer| {
        asked.path.contains("/membership?").then(|| {
            answer.with_json(r#"{"entries": [], "len": 4611686018427387904, "more": false}"#)
        })
    });
    // Believed only as far as its entries: the log's view does not move, and the rest of
    // the sync (the true envelopes) goes on.
    w.worker.sync(w.team).await;
    assert_eq!(
        w.worker.s().membership_log(w.team).unwrap().len(),
        log_before
    );
    let before = standing(&w.worker, w.team);
    assert_eq!(before.1, 1, "the case arrived");
    w.liar.lie(|asked, answer| {
        asked
            .path
            .contains("/membership?")
            .then(|| answer.with_json(r#"{"entries": [], "len": 2, "more": true}"#))
    });
    assert!(
        w.worker.client.sync(w.team).await.is_err(),
        "more, with nothing"
    );
    assert_eq!(standing(&w.worker, w.team), before);

    // The lying stops: the device catches up by itself, and the team goes on.
    w.liar.stop_lying();
    w.admin
        .client
        .create_invite(w.team, Role::Supervisor, None, 60_000)
        .await
        .unwrap();
    w.worker.sync(w.team).await;
    assert_eq!(
        w.worker.s().case_file(case.case_id).unwrap().patient.name,
        "Ada Lovelace"
    );
    assert_eq!(
        w.worker.s().membership_log(w.team).unwrap(),
        w.admin.s().membership_log(w.team).unwrap(),
        "the same log as the admin's"
    );
    drop(w.relay);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entries_reordered_or_withheld_and_pages_replayed_or_too_large_are_refused_whole() {
    let w = world().await;
    // Two invites the worker has not seen yet.
    for role in [Role::LinkWorker, Role::Supervisor] {
        w.admin
            .client
            .create_invite(w.team, role, None, 60_000)
            .await
            .unwrap();
    }
    let log_before = w.worker.s().membership_log(w.team).unwrap();
    let rewrite = |f: fn(&mut Vec<serde_json::Value>)| {
        move |asked: &holdfast_tests::Asked, answer: &Answer| {
            if !asked.path.contains("/membership?") || answer.status != 200 {
                return None;
            }
            let mut page = answer.json();
            let entries = page["entries"].as_array_mut().unwrap();
            if entries.len() < 2 {
                return None;
            }
            f(entries);
            Some(answer.with_json(page.to_string()))
        }
    };
    w.liar.lie(rewrite(|e| e.reverse()));
    assert!(w.worker.client.sync(w.team).await.is_err(), "reordered");
    w.liar.lie(rewrite(|e| {
        e.remove(0);
    }));
    let err = w.worker.client.sync(w.team).await.unwrap_err();
    assert!(err.to_string().contains("withheld"), "{err}");
    assert_eq!(w.worker.s().membership_log(w.team).unwrap(), log_before);

    // A body far larger than any answer of the relay's.
    w.liar.lie(|asked, answer| {
        asked.path.contains("/membership?").then(|| {
            answer.with_json(format!(
                r#"{{"entries": [], "pad": "{}"}}"#,
                "x".repeat(5 << 20)
            ))
        })
    });
    assert!(w.worker.client.sync(w.team).await.is_err(), "too large");
    assert_eq!(w.worker.s().membership_log(w.team).unwrap(), log_before);

    // Another team's page, replayed for this team's pull.
    w.liar.stop_lying();
    let other = w.admin.create_team(w.liar.url()).await;
    w.admin.enrol(other, &w.worker, Role::LinkWorker).await;
    w.admin.s().set_current_team(other).unwrap();
    w.admin
        .s()
        .create_case_file(NewPatient::named("Other Team Patient"))
        .unwrap();
    w.admin.sync(other).await;
    let captured: Arc<Mutex<Option<Vec<u8>>>> = Arc::default();
    let keep = captured.clone();
    let other_path = format!("/v1/teams/{other}/envelopes?");
    w.liar.lie(move |asked, answer| {
        if asked.path.starts_with(&other_path)
            && answer.status == 200
            && !PullPage::decode(&answer.body).unwrap().items.is_empty()
        {
            keep.lock()
                .unwrap()
                .get_or_insert_with(|| answer.body.clone());
        }
        None
    });
    w.worker.sync(other).await;
    let replayed = captured
        .lock()
        .unwrap()
        .clone()
        .expect("the other team's page");
    w.admin.s().set_current_team(w.team).unwrap();
    let case = w
        .admin
        .s()
        .create_case_file(NewPatient::named("This Team Patient"))
        .unwrap();
    w.admin.sync(w.team).await;
    let team_path = format!("/v1/teams/{}/envelopes?", w.team);
    w.liar.lie(move |asked, answer| {
        asked
            .path
            .starts_with(&team_path)
            .then(|| answer.with_bytes(replayed.clone()))
    });
    let before = standing(&w.worker, w.team);
    let err = w.worker.client.sync(w.team).await.unwrap_err();
    assert!(matches!(err, Error::Unverified { .. }), "{err:?}");
    assert_eq!(standing(&w.worker, w.team), before, "the cursor stays");

    // Truth again: everything arrives.
    w.liar.stop_lying();
    w.worker.sync(w.team).await;
    assert_eq!(
        w.worker.s().membership_log(w.team).unwrap(),
        w.admin.s().membership_log(w.team).unwrap()
    );
    assert_eq!(
        w.worker.s().case_file(case.case_id).unwrap().patient.name,
        "This Team Patient"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_refusals_lose_nothing() {
    let w = world().await;
    // A 409 on an append the relay took: the admin's device reads the log again and tries
    // once more; both invites exist, the code it returns works.
    let once = Arc::new(AtomicBool::new(false));
    let fired = once.clone();
    w.liar.lie(move |asked, answer| {
        (asked.method == "POST"
            && asked.path.ends_with("/membership")
            && answer.status == 201
            && !fired.swap(true, Ordering::SeqCst))
        .then(|| Answer::refusal(409, "membership_conflict"))
    });
    let code = w
        .admin
        .client
        .create_invite(w.team, Role::LinkWorker, None, 60_000)
        .await
        .unwrap();
    assert!(once.load(Ordering::SeqCst), "the lie was told");
    assert_eq!(
        w.admin.s().invites(w.team).unwrap().len(),
        3,
        "the worker's, and two"
    );

    // A 410 on an invite still good: refused, nothing joined; the truth: it joins.
    let newcomer = Device::new("Nia Newcomer");
    w.liar.lie(|asked, _| {
        (asked.method == "GET" && asked.path.contains("/invites/"))
            .then(|| Answer::refusal(410, "invite_expired"))
    });
    let err = newcomer
        .client
        .redeem_invite(&newcomer.keys, &code)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InviteRefused(_)), "{err:?}");
    assert!(newcomer.s().teams().unwrap().is_empty());

    // A 410 on the redeem the relay took: the device keeps what it sent, and the next
    // try (the truth) finds it taken and joins.
    w.liar.lie(|asked, _| {
        (asked.method == "POST" && asked.path.ends_with("/redeem"))
            .then(|| Answer::refusal(410, "invite_expired"))
    });
    assert!(
        newcomer
            .client
            .redeem_invite(&newcomer.keys, &code)
            .await
            .is_err()
    );
    w.liar.stop_lying();
    let enrolled = newcomer
        .client
        .redeem_invite(&newcomer.keys, &code)
        .await
        .expect("joined with the redeem the relay had taken");
    assert_eq!(enrolled.team, w.team);
    enrolled.first_sync.expect("the first sync");
    assert_eq!(newcomer.s().role(w.team).unwrap(), Some(Role::LinkWorker));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayed_token_cannot_acknowledge_key_bundles_never_delivered() {
    let w = world().await;
    let case = w
        .admin
        .s()
        .create_case_file(NewPatient::named("Ada Lovelace"))
        .unwrap();
    w.admin.sync(w.team).await;
    let code = w
        .admin
        .client
        .create_invite(w.team, Role::LinkWorker, None, 60_000)
        .await
        .unwrap();
    // The newcomer joins and logs in, but its key fetches fail on the way back.
    let newcomer = Device::new("Nia Newcomer");
    w.liar.lie(|asked, _| {
        asked
            .path
            .contains("/keys?")
            .then(|| Answer::refusal(503, "unavailable"))
    });
    let enrolled = newcomer
        .client
        .redeem_invite(&newcomer.keys, &code)
        .await
        .unwrap();
    assert!(enrolled.first_sync.is_err());
    // Someone with its token asks the relay to acknowledge every bundle ever.
    let token = w
        .liar
        .seen()
        .into_iter()
        .rev()
        .find_map(|a| a.token)
        .expect("the newcomer's token");
    let response = reqwest::Client::new()
        .get(format!(
            "{}/v1/teams/{}/keys?after={}",
            w.relay.url(),
            w.team,
            1u64 << 60
        ))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    // The keys left for its invite were never delivered, so they are still there.
    w.liar.stop_lying();
    newcomer.sync(w.team).await;
    assert_eq!(
        newcomer.s().case_file(case.case_id).unwrap().patient.name,
        "Ada Lovelace"
    );
}

/// A relay whose membership and key pages are longer than a device accepts (it ignores its
/// byte caps, or junk fills them): the device asks for smaller pages until they fit, and
/// catches up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_too_long_to_accept_are_asked_for_again_smaller() {
    let w = world().await;
    let lost = Device::new("Lou Lost");
    w.admin.enrol(w.team, &lost, Role::LinkWorker).await;
    for _ in 0..30 {
        w.admin
            .client
            .create_invite(w.team, Role::LinkWorker, None, 60_000)
            .await
            .unwrap();
    }
    w.admin
        .client
        .revoke_device(w.team, lost.id())
        .await
        .unwrap();
    let case = w
        .admin
        .s()
        .create_case_file(NewPatient::named("Sealed After The Revocation"))
        .unwrap();
    w.admin.sync(w.team).await;

    // Pages of more than 8 entries, or of more than 1 key bundle, come back padded past
    // what the device accepts.
    let asked_limits: Arc<Mutex<Vec<(String, usize)>>> = Arc::default();
    let seen = asked_limits.clone();
    w.liar.lie(move |asked, answer| {
        let (kind, most) = if asked.path.contains("/membership?") {
            ("membership", 8)
        } else if asked.path.contains("/keys?") {
            ("keys", 1)
        } else {
            return None;
        };
        let limit: usize = asked
            .path
            .split("limit=")
            .nth(1)
            .and_then(|l| l.split('&').next())
            .and_then(|l| l.parse().ok())
            .unwrap_or(usize::MAX);
        seen.lock().unwrap().push((kind.to_owned(), limit));
        (limit > most && answer.status == 200).then(|| {
            let mut page = answer.json();
            page["pad"] = serde_json::Value::String("x".repeat(5 << 20));
            answer.with_json(page.to_string())
        })
    });
    w.worker.sync(w.team).await;
    w.liar.stop_lying();
    assert_eq!(
        w.worker.s().membership_log(w.team).unwrap(),
        w.admin.s().membership_log(w.team).unwrap()
    );
    assert_eq!(
        w.worker.s().case_file(case.case_id).unwrap().patient.name,
        "Sealed After The Revocation",
        "the new epoch's key arrived through pages of one"
    );
    let limits = asked_limits.lock().unwrap().clone();
    let smallest = |kind: &str| {
        limits
            .iter()
            .filter(|(k, _)| k == kind)
            .map(|(_, l)| *l)
            .min()
    };
    assert_eq!(
        smallest("membership"),
        Some(7),
        "halved from 500: {limits:?}"
    );
    assert_eq!(smallest("keys"), Some(1), "halved from 100: {limits:?}");
}

/// A relay colluding with a revoked device: the device still holds the old epoch's key, so
/// it seals new edits under it and the relay hands them out. Every device that has folded
/// the revocation refuses what the revoked device sends from then on, whatever its epoch.
/// What it wrote before still reaches a device that had not pulled it: the revoker passes
/// it on in snapshots.
/// A team behind a liar with two more link workers' phones: one (lagging) that has pulled
/// the team before, and one (lost) whose last genuine work, a case and what matters in its
/// plan, the lagging phone has not pulled yet.
async fn lost_and_lagging() -> (World, Device, Device, holdfast_core::store::NewCase) {
    let w = world().await;
    let (lost, lagging) = (Device::new("Lou Lost"), Device::new("Gil Lagging"));
    w.admin.enrol(w.team, &lost, Role::LinkWorker).await;
    w.admin.enrol(w.team, &lagging, Role::LinkWorker).await;
    // The lagging phone has pulled the team before (so it does not bootstrap from a
    // compact pull).
    w.admin
        .s()
        .create_case_file(NewPatient::named("Earlier Work"))
        .unwrap();
    w.admin.sync(w.team).await;
    lagging.sync(w.team).await;
    assert!(lagging.s().team(w.team).unwrap().cursor > 0);
    // The lost phone's last genuine work; the lagging phone does not pull it in time.
    let case = lost
        .s()
        .create_case_file(NewPatient::named("Written Before"))
        .unwrap();
    lost.s()
        .set_what_matters(case.plan_id, "gardening with her grandson")
        .unwrap();
    lost.sync(w.team).await;
    (w, lost, lagging, case)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_colluding_relay_cannot_deliver_a_revoked_devices_new_edits() {
    let (w, lost, lagging, case) = lost_and_lagging().await;
    w.worker.sync(w.team).await;
    w.admin
        .client
        .revoke_device(w.team, lost.id())
        .await
        .unwrap();
    w.worker.sync(w.team).await;

    // Its new edit, sealed under epoch 1 (the only key it has), never reaches an honest
    // relay; the colluding one serves it in the next page.
    lost.s()
        .set_what_matters(case.plan_id, "FORGED after the revocation")
        .unwrap();
    let forged: Vec<Vec<u8>> = {
        let mut s = lost.s();
        s.seal_outbox(w.team).unwrap();
        s.pending_envelopes(w.team, 100, usize::MAX)
            .unwrap()
            .into_iter()
            .map(|e| e.bytes)
            .collect()
    };
    assert!(!forged.is_empty());
    let served = Arc::new(AtomicBool::new(false));
    let flag = served.clone();
    w.liar.lie(move |asked, answer| {
        if !is_pull(&asked.path) || answer.status != 200 || flag.load(Ordering::SeqCst) {
            return None;
        }
        let mut page = PullPage::decode(&answer.body).unwrap();
        let mut seq = page.items.last().map_or(page.next, |(s, _)| *s);
        for bytes in &forged {
            seq += 1;
            page.items.push((seq, bytes.clone()));
        }
        page.next = seq;
        page.more = false;
        flag.store(true, Ordering::SeqCst);
        Some(answer.with_bytes(page.encode().unwrap()))
    });
    w.worker.client.sync(w.team).await.unwrap();
    assert!(served.load(Ordering::SeqCst), "the forged page was served");
    w.liar.stop_lying();
    assert_eq!(
        w.worker.s().action_plan(case.plan_id).unwrap().what_matters,
        "gardening with her grandson",
        "the revoked device's new edit is refused"
    );
    let refused = w.worker.s().refused_envelopes(w.team).unwrap();
    assert!(
        refused
            .iter()
            .any(|r| r.author == lost.id() && r.reason.contains("reached this device")),
        "{refused:?}"
    );

    // The lagging phone folds the revocation before it pulls the lost phone's work, so it
    // refuses that too, and gets it from the admin's snapshots instead.
    lagging.sync(w.team).await;
    assert_eq!(
        lagging.s().case_file(case.case_id).unwrap().patient.name,
        "Written Before"
    );
    assert_eq!(
        lagging.s().action_plan(case.plan_id).unwrap().what_matters,
        "gardening with her grandson"
    );
    let refused = lagging.s().refused_envelopes(w.team).unwrap();
    assert!(
        refused.iter().any(|r| r.author == lost.id()),
        "its own envelopes were refused, the snapshots carried the work: {refused:?} {:?}",
        lagging.s().access(w.team).unwrap().refused_after
    );
}

/// The answer to a Revoke is lost after the relay took it: the retry finds the device
/// revoked already. The revocation stands, the call says so, and the revoked device's
/// last work still reaches a phone that had not pulled it, in the revoker's snapshots
/// (queued when the revocation was folded, not by the call that was cut short).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revocation_whose_answer_was_lost_stands_and_snapshots_the_revoked_devices_work() {
    let (w, lost, lagging, case) = lost_and_lagging().await;

    let cut = Arc::new(AtomicBool::new(false));
    let flag = cut.clone();
    w.liar.lie(move |asked, answer| {
        let revoke = asked.method == "POST"
            && asked.path.ends_with("/membership")
            && (200..300).contains(&answer.status);
        (revoke && !flag.swap(true, Ordering::SeqCst)).then(|| Answer::refusal(503, "unavailable"))
    });
    let epoch = w
        .admin
        .client
        .revoke_device(w.team, lost.id())
        .await
        .expect("the revocation stands though its answer was lost");
    assert!(cut.load(Ordering::SeqCst), "the answer was cut");
    assert_eq!(epoch, 2);
    w.liar.stop_lying();
    assert!(
        w.admin
            .s()
            .access(w.team)
            .unwrap()
            .revoked_in
            .contains_key(&lost.id())
    );

    lagging.sync(w.team).await;
    assert_eq!(
        lagging.s().case_file(case.case_id).unwrap().patient.name,
        "Written Before"
    );
    assert_eq!(
        lagging.s().action_plan(case.plan_id).unwrap().what_matters,
        "gardening with her grandson"
    );
}

/// A phone that joins after a revocation has pulled nothing it could tell apart by when
/// it arrived: it takes the revoked device's earlier work (sealed before the revocation's
/// epoch) from the relay, even when no other device's snapshot holds it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_that_joins_after_a_revocation_takes_the_revoked_devices_earlier_work() {
    let w = world().await;
    let lost = Device::new("Lou Lost");
    w.admin.enrol(w.team, &lost, Role::LinkWorker).await;
    let case = lost
        .s()
        .create_case_file(NewPatient::named("Written Before"))
        .unwrap();
    lost.s()
        .set_what_matters(case.plan_id, "gardening with her grandson")
        .unwrap();
    lost.sync(w.team).await;

    // Every push fails from here on: no snapshot by the admin (before the revocation, of
    // what it pulled; after, of what the revoked device wrote) reaches the relay, so the
    // newcomer has only the lost phone's own envelopes to go by.
    w.liar.lie(move |asked, _| {
        (asked.method == "POST" && asked.path.ends_with("/envelopes"))
            .then(|| Answer::refusal(503, "unavailable"))
    });
    w.admin
        .client
        .revoke_device(w.team, lost.id())
        .await
        .unwrap();

    let newcomer = Device::new("Nia New");
    w.admin.enrol(w.team, &newcomer, Role::LinkWorker).await;
    // It folded the revocation before it had pulled anything: it keeps the epoch rule
    // only, so the lost phone's work that reaches it later (its pages, a restarted pull)
    // is taken, not refused as if it had arrived after the revocation.
    let rule = newcomer.s().access(w.team).unwrap().refused_after.clone();
    assert!(rule.is_empty(), "{rule:?}");
    assert_eq!(newcomer.s().epoch(w.team).unwrap(), 2);
    assert_eq!(
        newcomer.s().case_file(case.case_id).unwrap().patient.name,
        "Written Before"
    );
    assert_eq!(
        newcomer.s().action_plan(case.plan_id).unwrap().what_matters,
        "gardening with her grandson"
    );
    assert!(newcomer.s().refused_envelopes(w.team).unwrap().is_empty());
}

/// A relay relabels a key bundle the device already holds with a huge sequence number:
/// its key cursor jumps past every later bundle. When a key it needs then does not come,
/// the device pulls its key bundles again from the start, and reads the new epoch once the
/// lying stops.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_cursor_forged_past_later_bundles_is_pulled_again_from_the_start() {
    let w = world().await;
    const FORGED: u64 = 1 << 62;
    // Per token: the first bundle a real key page carried, then one forged page with it.
    let seen: Arc<Mutex<std::collections::HashMap<String, Option<serde_json::Value>>>> =
        Arc::default();
    let record = seen.clone();
    w.liar.lie(move |asked, answer| {
        if !asked.path.contains("/keys?") || answer.status != 200 {
            return None;
        }
        let token = asked.token.clone()?;
        let page = answer.json();
        let mut seen = record.lock().unwrap();
        let first = page["bundles"].as_array().and_then(|b| b.first().cloned());
        match (seen.get_mut(&token), first) {
            (None, Some(bundle)) => {
                seen.insert(token, Some(bundle));
                None
            }
            (Some(held @ Some(_)), None) => {
                let mut bundle = held.take().unwrap();
                bundle["seq"] = FORGED.into();
                Some(
                    answer.with_json(
                        serde_json::json!({"bundles": [bundle], "next": FORGED, "more": false})
                            .to_string(),
                    ),
                )
            }
            _ => None,
        }
    });
    let kim = Device::new("Kim Keys");
    w.admin.enrol(w.team, &kim, Role::LinkWorker).await;
    kim.sync(w.team).await;
    let cursor = kim.s().keys_cursor(w.team).unwrap();
    assert_eq!(cursor, FORGED, "the forged page moved the key cursor");
    w.liar.stop_lying();

    // A revocation starts epoch 2; the admin writes under it.
    let gone = Device::new("Gus Gone");
    w.admin.enrol(w.team, &gone, Role::LinkWorker).await;
    w.admin
        .client
        .revoke_device(w.team, gone.id())
        .await
        .unwrap();
    let case = w
        .admin
        .s()
        .create_case_file(NewPatient::named("Under Epoch Two"))
        .unwrap();
    w.admin.sync(w.team).await;

    // The first sync waits for the key (past its cursor) and restarts the key pull; the
    // next one gets it and reads the case.
    let _ = kim.client.sync(w.team).await;
    kim.sync(w.team).await;
    assert_eq!(kim.s().epoch(w.team).unwrap(), 2);
    assert_eq!(
        kim.s().case_file(case.case_id).unwrap().patient.name,
        "Under Epoch Two"
    );
}
