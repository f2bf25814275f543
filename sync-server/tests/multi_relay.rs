//! Several relays on one PostgreSQL database (issue 11), driven over HTTP: every relay has
//! the same public origin (as behind a load balancer), and each test client talks to the
//! relay it is told to, so a test decides which relay serves what.
//!
//! - Pushes from several devices through several relays at once, with pulls running all
//!   the while: no pull ever moves past a sequence number that a slower transaction then
//!   fills in, so every device ends with every envelope.
//! - A push through relay A is announced on a live socket held on relay B.
//! - A device revoked through relay A is refused by relay B, and its live socket on B
//!   closed, before A has answered the revoking admin; tokens and login challenges from
//!   one relay are good at another, and a challenge is answered once across them all.
//! - A relay killed while devices push loses nothing it acknowledged: the devices carry on
//!   through another relay.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use common::live::{closed_by_relay, live, next_seq};
use common::{Device, Relay, expect_error};
use holdfast_protocol::{Role, TeamId, sign_auth};
use holdfast_relay::testing::TestRelay;
use holdfast_relay::testing::postgres::TestSchema;
use reqwest::StatusCode;

/// The origin every relay of a test signs logins for: the load balancer's, in production.
/// (A loopback origin, so the relays let anyone create teams, as tests need.)
const ORIGIN: &str = "http://127.0.0.1:1";

/// `n` relays on `schema`, each with a client of its own.
async fn relays(schema: &TestSchema, n: usize) -> Vec<Relay> {
    let mut relays = Vec::with_capacity(n);
    for _ in 0..n {
        let server = TestRelay::builder()
            .database(&schema.url())
            .public_url(ORIGIN)
            .start()
            .await;
        relays.push(Relay::serving(server));
    }
    relays
}

/// A team made through relay 0.
struct Team {
    id: TeamId,
    admin: Device,
    admin_token: String,
    /// Link workers, with a token each (from relay 0: tokens are good at every relay).
    members: Vec<(Device, String)>,
}

async fn team(relays: &[Relay], members: usize) -> Team {
    let relay = &relays[0];
    let admin = relay.device();
    let id = relay.create_team(&admin).await;
    let admin_token = relay.login(&admin).await;
    let mut enrolled = Vec::with_capacity(members);
    for _ in 0..members {
        let device = relay.device();
        relay
            .enrol(&admin_token, id, &admin, &device, Role::LinkWorker, None)
            .await;
        let token = relay.login(&device).await;
        enrolled.push((device, token));
    }
    Team {
        id,
        admin,
        admin_token,
        members: enrolled,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_device_ends_with_every_envelope_pushed_through_several_relays_at_once() {
    const DEVICES: usize = 6;
    const BATCHES: u64 = 15;
    const PER_BATCH: u64 = 8;
    let schema = TestSchema::new();
    let relays = Arc::new(relays(&schema, 3).await);
    let Team {
        id: team,
        admin,
        admin_token,
        mut members,
    } = team(&relays, DEVICES - 1).await;
    members.push((admin, admin_token));

    // Each device pushes through one relay and pulls through another, pulling after every
    // push from where it got to: a pull that skipped a number would never see it again.
    let mut tasks = Vec::new();
    for (i, (device, token)) in members.into_iter().enumerate() {
        let relays = Arc::clone(&relays);
        tasks.push(tokio::spawn(async move {
            let (push_via, pull_via) = (&relays[i % 3], &relays[(i + 1) % 3]);
            let mut pushed = Vec::new();
            let mut seen: BTreeMap<u64, Vec<u8>> = BTreeMap::new();
            let mut after = 0;
            for b in 0..BATCHES {
                let salt = (i as u64) * 1_000_000 + b * 1_000;
                let envelopes = device.changes(team, salt, PER_BATCH, 300);
                let answer = push_via
                    .push_ok(&token, team, device.batch(team, &envelopes))
                    .await;
                assert!(answer.iter().all(|(_, duplicate)| !duplicate));
                pushed.extend(envelopes);
                loop {
                    let page = pull_via
                        .pull_page(&token, team, &format!("after={after}"))
                        .await;
                    for (seq, bytes) in page.items {
                        assert!(seq > after, "a pull went backwards");
                        assert!(seen.insert(seq, bytes).is_none());
                    }
                    after = page.next.max(after);
                    if !page.more {
                        break;
                    }
                }
            }
            (pushed, seen, token, i)
        }));
    }
    let mut everything = BTreeSet::new();
    let mut views = Vec::new();
    for task in tasks {
        let (pushed, seen, token, i) = task.await.unwrap();
        everything.extend(pushed);
        views.push((seen, token, i));
    }
    let total = (DEVICES as u64) * BATCHES * PER_BATCH;
    assert_eq!(everything.len() as u64, total);

    for (seen, token, i) in views {
        // The whole history again, through a third relay, is what the device pulled bit
        // by bit: every number from 1, each with the envelope it had.
        let whole: BTreeMap<u64, Vec<u8>> = relays[(i + 2) % 3]
            .pull_all(&token, team, "")
            .await
            .into_iter()
            .collect();
        let numbers: Vec<u64> = whole.keys().copied().collect();
        assert_eq!(numbers, (1..=total).collect::<Vec<_>>(), "device {i}");
        for (seq, bytes) in &seen {
            assert_eq!(whole.get(seq), Some(bytes), "device {i}, number {seq}");
        }
        // The device missed nothing while the others pushed: it pulled all but what came
        // after its last pull.
        let last = seen.keys().next_back().copied().unwrap_or(0);
        assert_eq!(
            seen.keys().copied().collect::<Vec<_>>(),
            (1..=last).collect::<Vec<_>>(),
            "device {i} skipped a number"
        );
        let held: BTreeSet<&Vec<u8>> = whole.values().collect();
        assert!(
            everything.iter().all(|e| held.contains(e)),
            "the relays lack envelopes device {i} pushed"
        );
    }
}

#[tokio::test]
async fn a_push_through_one_relay_is_announced_on_a_socket_held_on_another() {
    let schema = TestSchema::new();
    let relays = relays(&schema, 2).await;
    let Team {
        id: team,
        admin: writer,
        admin_token: writer_token,
        members,
    } = team(&relays, 1).await;
    let writer_token = &writer_token;
    let (_, reader_token) = &members[0];

    let mut socket = live(&relays[1], team, reader_token).await.unwrap();
    assert_eq!(next_seq(&mut socket).await, 0);
    let envelopes = writer.changes(team, 1, 3, 200);
    relays[0]
        .push_ok(writer_token, team, writer.batch(team, &envelopes))
        .await;
    assert_eq!(next_seq(&mut socket).await, 3);
}

#[tokio::test]
async fn a_device_revoked_through_one_relay_is_refused_by_another_at_once() {
    let schema = TestSchema::new();
    let relays = relays(&schema, 2).await;
    let (a, b) = (&relays[0], &relays[1]);
    let Team {
        id: team,
        admin,
        admin_token,
        members,
    } = team(&relays, 2).await;
    let admin_token = &admin_token;
    let (leaver, leaver_token) = &members[0];
    let (stayer, _) = &members[1];

    // Relay B knows the team (its cache is warm) and holds the leaver's live socket.
    let envelopes = leaver.changes(team, 1, 2, 200);
    b.push_ok(leaver_token, team, leaver.batch(team, &envelopes))
        .await;
    let mut socket = live(b, team, leaver_token).await.unwrap();
    assert_eq!(next_seq(&mut socket).await, 2);

    // Revoked through A: the moment A answers, B refuses the leaver's token.
    let answer = a
        .revoke(admin_token, team, &admin, leaver.id, &[&admin, stayer])
        .await;
    assert_eq!(answer.status(), StatusCode::CREATED);
    let refused = b
        .push(
            leaver_token,
            team,
            leaver.batch(team, &leaver.changes(team, 100, 1, 200)),
        )
        .await;
    expect_error(refused, StatusCode::FORBIDDEN, "revoked").await;
    let refused = b.pull(leaver_token, team, "after=0").await;
    expect_error(refused, StatusCode::FORBIDDEN, "revoked").await;
    // Its socket on B closes, told why. Not because of the requests above (the check that
    // refused them wakes no socket): A's commit is announced to every relay.
    let frame = closed_by_relay(&mut socket, Duration::from_secs(5)).await;
    assert_eq!(frame.reason.as_str(), "device revoked");
}

#[tokio::test]
async fn tokens_and_login_challenges_from_one_relay_are_good_at_another_once() {
    let schema = TestSchema::new();
    let relays = relays(&schema, 2).await;
    let (a, b) = (&relays[0], &relays[1]);
    let Team {
        id: team,
        admin: other,
        members,
        ..
    } = team(&relays, 1).await;
    let (device, token_from_a) = &members[0];

    // A token relay A issued is good at relay B.
    let head = b.get(token_from_a, &format!("/v1/teams/{team}")).await;
    assert_eq!(head.status(), StatusCode::OK);

    // A challenge asked of A is answered at B, once: the same answer at A is refused.
    let challenge = a.challenge(device).await;
    let signature = sign_auth(&device.key, ORIGIN, &device.id, &challenge).unwrap();
    let answered = b.answer(device.id, &challenge, &signature).await;
    assert_eq!(answered.status(), StatusCode::OK);
    let again = a.answer(device.id, &challenge, &signature).await;
    expect_error(again, StatusCode::UNAUTHORIZED, "unauthorized").await;
    let again = b.answer(device.id, &challenge, &signature).await;
    expect_error(again, StatusCode::UNAUTHORIZED, "unauthorized").await;

    // A challenge for one device cannot log another in, whichever relay is asked.
    let challenge = b.challenge(device).await;
    let signature = sign_auth(&other.key, ORIGIN, &other.id, &challenge).unwrap();
    let refused = a.answer(other.id, &challenge, &signature).await;
    expect_error(refused, StatusCode::UNAUTHORIZED, "unauthorized").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_relay_killed_while_devices_push_loses_nothing_it_acknowledged() {
    const DEVICES: usize = 4;
    let schema = TestSchema::new();
    let mut relays = relays(&schema, 2).await;
    let Team {
        id: team,
        admin,
        admin_token,
        mut members,
    } = team(&relays, DEVICES - 1).await;
    members.push((admin, admin_token));
    let survivor = Arc::new(relays.pop().unwrap());
    let mut doomed = relays.pop().unwrap();
    let doomed_url = doomed.url.clone();

    // Devices push through the doomed relay as fast as it answers, and move to the other
    // relay when it stops answering; the relay is killed (no drain) under them.
    let mut tasks = Vec::new();
    for (i, (device, token)) in members.into_iter().enumerate() {
        let survivor = Arc::clone(&survivor);
        let doomed_url = doomed_url.clone();
        tasks.push(tokio::spawn(async move {
            let http = reqwest::Client::new();
            let mut acknowledged = Vec::new();
            let mut via_survivor = 0;
            // Bounded: a relay that never dies fails the test rather than hanging it.
            for b in 0..5_000u64 {
                let envelopes = device.changes(team, (i as u64) * 1_000_000 + b * 100, 5, 300);
                let batch = device.batch(team, &envelopes);
                let first = http
                    .post(format!("{doomed_url}/v1/teams/{team}/envelopes"))
                    .bearer_auth(&token)
                    .header("content-type", "application/octet-stream")
                    .body(batch.clone())
                    .timeout(Duration::from_secs(5))
                    .send()
                    .await;
                match first {
                    Ok(r) if r.status() == StatusCode::OK => {}
                    // No answer, or a broken one: not acknowledged. Push again elsewhere.
                    _ => {
                        survivor.push_ok(&token, team, batch).await;
                        via_survivor += 1;
                    }
                }
                acknowledged.extend(envelopes);
                if via_survivor >= 10 {
                    break;
                }
            }
            (acknowledged, token, via_survivor)
        }));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    doomed.server.as_mut().unwrap().kill();

    let mut acknowledged = BTreeSet::new();
    let mut token = String::new();
    for task in tasks {
        let (pushed, t, via_survivor) = task.await.unwrap();
        assert!(
            via_survivor > 0,
            "every device moved to the surviving relay"
        );
        acknowledged.extend(pushed);
        token = t;
    }
    let stored: BTreeSet<Vec<u8>> = survivor
        .pull_all(&token, team, "")
        .await
        .into_iter()
        .map(|(_, bytes)| bytes)
        .collect();
    let lost = acknowledged.difference(&stored).count();
    assert_eq!(lost, 0, "{lost} acknowledged envelopes are gone");
}
