//! Strangers cannot fill the relay (issue 10): each limit on what an anonymous client, or a
//! device beyond its share, can make the relay hold or do, driven over loopback against a
//! real relay on port 0. Clients that play different machines bind different loopback
//! addresses (127.0.0.2, 127.0.0.3, …: Linux routes all of 127/8 to the loopback device),
//! so per-address limits see them apart.

mod common;
#[path = "abuse/flood.rs"]
mod flood;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::live::{closed_by_relay, live, next_seq};
use common::{CLOCK_START_MS, Relay, expect_error};
use futures_util::StreamExt;
use holdfast_protocol::{DeviceId, ManualClock, SystemRandom, TeamId};
use holdfast_relay::Limits;
use holdfast_relay::testing::TestRelay;
use reqwest::StatusCode;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

/// Taken by every test of this target for its whole run: the flood test measures latency
/// and memory, which the others running beside it on a small machine would disturb.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The loopback address `127.0.0.n`.
fn loopback(n: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, n))
}

/// An HTTP client whose connections come from `127.0.0.n`, each closed after its request
/// (so that connection counts stay what a test sets up).
fn client_from(n: u8) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(loopback(n))
        .pool_max_idle_per_host(0)
        .build()
        .unwrap()
}

/// A relay with `limits` whose time stands still until the test moves it (so budgets do not
/// refill while a test counts).
async fn relay_with(limits: Limits) -> (Relay, ManualClock) {
    let clock = ManualClock::at(CLOCK_START_MS);
    let server = TestRelay::builder()
        .limits(limits)
        .clock(Arc::new(clock.clone()))
        .start()
        .await;
    (Relay::serving(server), clock)
}

/// A TCP connection to `to` from `127.0.0.n`.
async fn tcp_from(n: u8, to: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::new(loopback(n), 0)).unwrap();
    socket.connect(to).await.unwrap()
}

/// Waits up to `within` for the relay to close `stream`: true if it did (end of stream or
/// a reset), false if it was still open.
async fn closed_within(stream: &mut TcpStream, within: Duration) -> bool {
    let mut buf = [0u8; 1024];
    loop {
        match tokio::time::timeout(within, stream.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0) | Err(_)) => return true,
            // A response (e.g. an error page) before the close: keep reading.
            Ok(Ok(_)) => {}
        }
    }
}

/// The value of a line `name value` in the relay's `/metrics`.
async fn metric(relay: &Relay, name: &str) -> f64 {
    let text = client_from(1)
        .get(relay.at("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in\n{text}"))
}

fn random_device() -> DeviceId {
    DeviceId::random_with(&SystemRandom::new()).unwrap()
}

fn random_team() -> TeamId {
    TeamId::random_with(&SystemRandom::new()).unwrap()
}

/// Asks a login challenge for `device` from `client`; returns the status.
async fn ask_challenge(relay: &Relay, client: &reqwest::Client, device: DeviceId) -> StatusCode {
    client
        .post(relay.at("/v1/auth/challenge"))
        .json(&json!({ "device": device.to_string() }))
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn login_requests_are_limited_per_address_not_per_the_device_they_name() {
    let _serial = SERIAL.lock().await;
    let (relay, clock) = relay_with(Limits {
        address_rate_per_second: 1.0,
        address_rate_burst: 20,
        ..Limits::default()
    })
    .await;
    let stranger = client_from(2);
    // A made-up device per request: limiting by the device named would limit nothing.
    for _ in 0..20 {
        assert_eq!(
            ask_challenge(&relay, &stranger, random_device()).await,
            StatusCode::OK
        );
    }
    let refused = stranger
        .post(relay.at("/v1/auth/challenge"))
        .json(&json!({ "device": random_device().to_string() }))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.headers()["retry-after"], "1");
    let message = expect_error(refused, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    assert!(message.contains("127.0.0.2"), "{message}");
    // Answers count too, garbage ones included.
    let answer = stranger
        .post(relay.at("/v1/auth/token"))
        .body("not json")
        .send()
        .await
        .unwrap();
    expect_error(answer, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;

    // Another address is not affected: a real device there logs in and syncs.
    let alice = relay.device();
    let team = relay.create_team(&alice).await;
    let token = relay.login(&alice).await;
    relay.team(&token, team).await;
    // Naming alice from the flooded address spends the stranger's budget, not hers.
    assert_eq!(
        ask_challenge(&relay, &stranger, alice.id).await,
        StatusCode::TOO_MANY_REQUESTS
    );
    relay.login(&alice).await;

    // The budget refills by the relay's clock.
    clock.advance(std::time::Duration::from_secs(1));
    assert_eq!(
        ask_challenge(&relay, &stranger, random_device()).await,
        StatusCode::OK
    );
}

#[tokio::test]
async fn team_creation_is_limited_per_address_per_hour() {
    let _serial = SERIAL.lock().await;
    let (relay, clock) = relay_with(Limits {
        team_creations_per_hour: 3,
        ..Limits::default()
    })
    .await;
    let stranger = client_from(2);
    let post = |genesis: holdfast_protocol::Entry| {
        stranger
            .post(relay.at("/v1/teams"))
            .json(&json!({ "genesis": hex::encode(genesis.as_bytes()) }))
            .send()
    };
    for _ in 0..3 {
        let device = relay.device();
        let created = post(device.genesis(random_team(), device.now_ms()))
            .await
            .unwrap();
        assert_eq!(created.status(), StatusCode::CREATED);
    }
    let device = relay.device();
    let refused = post(device.genesis(random_team(), device.now_ms()))
        .await
        .unwrap();
    let message = expect_error(refused, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    assert!(message.contains("team creations"), "{message}");
    // Refused attempts count: a malformed body is refused for the rate, not parsed.
    let garbage = stranger
        .post(relay.at("/v1/teams"))
        .json(&json!({ "genesis": "zz" }))
        .send()
        .await
        .unwrap();
    expect_error(garbage, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;

    // Another address creates its team.
    let alice = relay.device();
    relay.create_team(&alice).await;

    // One creation back every 20 minutes.
    clock.advance(std::time::Duration::from_secs(20 * 60));
    let device = relay.device();
    let created = post(device.genesis(random_team(), device.now_ms()))
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn invite_lookups_and_redeems_are_limited_per_address() {
    let _serial = SERIAL.lock().await;
    let (relay, _clock) = relay_with(Limits {
        address_rate_per_second: 1.0,
        address_rate_burst: 10,
        ..Limits::default()
    })
    .await;
    let stranger = client_from(2);
    // Random teams and invites: each is a new id, so only the address can be limited.
    for _ in 0..10 {
        let response = stranger
            .get(relay.at(&format!(
                "/v1/teams/{}/invites/{}",
                random_team(),
                hex::encode(random_team().0)
            )))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
    }
    let lookup = stranger
        .get(relay.at(&format!(
            "/v1/teams/{}/invites/{}",
            random_team(),
            hex::encode(random_team().0)
        )))
        .send()
        .await
        .unwrap();
    expect_error(lookup, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    let redeem = stranger
        .post(relay.at(&format!(
            "/v1/teams/{}/invites/{}/redeem",
            random_team(),
            hex::encode(random_team().0)
        )))
        .json(&json!({ "entry": "00" }))
        .send()
        .await
        .unwrap();
    expect_error(redeem, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;

    // A colleague enrols from another address.
    let alice = relay.device();
    let team = relay.create_team(&alice).await;
    let token = relay.login(&alice).await;
    let bob = relay.device();
    relay
        .enrol(
            &token,
            team,
            &alice,
            &bob,
            holdfast_protocol::Role::LinkWorker,
            None,
        )
        .await;
}

#[tokio::test]
async fn a_challenge_flood_from_one_address_cannot_push_out_anyone_elses_login() {
    let _serial = SERIAL.lock().await;
    let (relay, _clock) = relay_with(Limits {
        // The address limit off: this is about the table, not the rate.
        address_rate_per_second: 0.0,
        max_challenges: 50,
        max_challenges_per_address: 8,
        ..Limits::default()
    })
    .await;
    let alice = relay.device();
    let team = relay.create_team(&alice).await;
    let asked = relay.challenge(&alice).await;

    let stranger = client_from(2);
    for _ in 0..500 {
        assert_eq!(
            ask_challenge(&relay, &stranger, random_device()).await,
            StatusCode::OK
        );
    }
    // Alice's challenge, asked before the flood, is still hers to answer.
    let signature =
        holdfast_protocol::sign_auth(&alice.key, &relay.origin, &alice.id, &asked).unwrap();
    let answered = relay.answer(alice.id, &asked, &signature).await;
    assert_eq!(answered.status(), StatusCode::OK);
    // And a login that starts during the flood goes through.
    let token = relay.login(&alice).await;
    relay.team(&token, team).await;

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
            .any(|l| l == "holdfast_relay_challenges_replaced_total 492"),
        "{metrics}"
    );
    assert!(
        metrics
            .lines()
            .any(|l| l == "holdfast_relay_login_challenges 8"),
        "{metrics}"
    );
}

#[tokio::test]
async fn only_the_operators_token_creates_a_team_when_the_relay_asks_for_one() {
    let _serial = SERIAL.lock().await;
    const PRACTICE: &str = "2f1c0d6e9a8b7c6d5e4f30211a2b3c4d";
    const OTHER: &str = "9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b";
    let server = TestRelay::builder()
        .team_creation_tokens(&[PRACTICE, OTHER])
        .start()
        .await;
    let relay = Relay::serving(server);
    let admin = relay.device();
    let genesis = |device: &common::Device| {
        hex::encode(device.genesis(random_team(), device.now_ms()).as_bytes())
    };
    let create =
        |body: serde_json::Value| relay.http.post(relay.at("/v1/teams")).json(&body).send();

    let message = expect_error(
        create(json!({ "genesis": genesis(&admin) })).await.unwrap(),
        StatusCode::FORBIDDEN,
        "team_creation_refused",
    )
    .await;
    assert!(message.contains("team-creation token"), "{message}");
    let wrong = "0000000000000000000000000000000000";
    expect_error(
        create(json!({ "genesis": genesis(&admin), "creation_token": wrong }))
            .await
            .unwrap(),
        StatusCode::FORBIDDEN,
        "team_creation_refused",
    )
    .await;
    // Nothing was stored: the same device logs in nowhere.
    assert_eq!(
        relay.try_login(&admin).await.unwrap_err().0,
        StatusCode::UNAUTHORIZED
    );

    for token in [PRACTICE, OTHER] {
        let device = relay.device();
        let created = create(json!({ "genesis": genesis(&device), "creation_token": token }))
            .await
            .unwrap();
        assert_eq!(created.status(), StatusCode::CREATED);
        relay.login(&device).await;
    }
}

#[tokio::test]
async fn a_push_past_the_teams_quota_is_refused_with_a_clear_error() {
    let _serial = SERIAL.lock().await;
    let (relay, _clock) = relay_with(Limits {
        team_quota_envelopes: 5,
        ..Limits::default()
    })
    .await;
    let alice = relay.device();
    let team = relay.create_team(&alice).await;
    let token = relay.login(&alice).await;
    let changes = alice.changes(team, 0, 6, 100);
    relay
        .push_ok(&token, team, alice.batch(team, &changes[..4]))
        .await;
    let refused = relay
        .push(&token, team, alice.batch(team, &changes[3..6]))
        .await;
    let message = expect_error(
        refused,
        StatusCode::PAYLOAD_TOO_LARGE,
        "team_quota_exceeded",
    )
    .await;
    assert!(
        message.contains("would hold 6 envelopes, past its quota of 5"),
        "{message}"
    );
    assert!(message.contains("operator"), "{message}");
    assert_eq!(relay.pull_all(&token, team, "").await.len(), 4);
    // What fits still goes in, and the team still reads.
    relay
        .push_ok(&token, team, alice.batch(team, &changes[3..5]))
        .await;
    assert_eq!(relay.pull_all(&token, team, "").await.len(), 5);
}

#[tokio::test]
async fn a_client_that_does_not_finish_its_headers_in_time_is_disconnected() {
    let _serial = SERIAL.lock().await;
    let (relay, _clock) = relay_with(Limits {
        header_read_timeout_secs: 1,
        ..Limits::default()
    })
    .await;
    let addr = relay.server.as_ref().unwrap().addr();
    let started = Instant::now();
    // One trickles a request head and never ends it; one sends nothing at all.
    let mut slow = tcp_from(2, addr).await;
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: relay\r\nX-Slow: ")
        .await
        .unwrap();
    let mut silent = tcp_from(2, addr).await;
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let _ = slow.write_all(b"a").await;
    }
    assert!(closed_within(&mut slow, Duration::from_secs(3)).await);
    assert!(closed_within(&mut silent, Duration::from_secs(3)).await);
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(3),
        "{took:?}"
    );
    assert!(metric(&relay, "holdfast_relay_header_timeouts_total").await >= 2.0);
    // Whoever sends a whole request is served as before.
    let health = relay.http.get(relay.at("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);
}

#[tokio::test]
async fn an_address_holding_its_share_of_connections_gets_no_more() {
    let _serial = SERIAL.lock().await;
    let (relay, _clock) = relay_with(Limits {
        max_connections_per_address: 3,
        ..Limits::default()
    })
    .await;
    let addr = relay.server.as_ref().unwrap().addr();
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(tcp_from(2, addr).await);
    }
    // One more from the same address is closed at once; other addresses are served.
    let mut over = tcp_from(2, addr).await;
    assert!(closed_within(&mut over, Duration::from_secs(2)).await);
    let health = client_from(3)
        .get(relay.at("/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    assert_eq!(
        metric(&relay, "holdfast_relay_connections_refused_total").await,
        1.0
    );
    // Its place back once one closes (as soon as the relay has seen it close).
    drop(held.pop());
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let mut again = tcp_from(2, addr).await;
        if !closed_within(&mut again, Duration::from_millis(200)).await {
            break;
        }
        assert!(Instant::now() < deadline, "no place back after a close");
    }
}

#[tokio::test]
async fn past_the_connection_cap_nobody_new_is_served_until_one_closes() {
    let _serial = SERIAL.lock().await;
    let (relay, _clock) = relay_with(Limits {
        max_connections: 4,
        ..Limits::default()
    })
    .await;
    let addr = relay.server.as_ref().unwrap().addr();
    let mut held = Vec::new();
    for n in [2, 2, 3, 4] {
        held.push(tcp_from(n, addr).await);
    }
    let waiting = client_from(5)
        .get(relay.at("/healthz"))
        .timeout(Duration::from_millis(500))
        .send()
        .await;
    assert!(waiting.is_err(), "served past the cap: {waiting:?}");
    drop(held.pop());
    let served = client_from(5)
        .get(relay.at("/healthz"))
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .unwrap();
    assert_eq!(served.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_device_holds_at_most_its_share_of_live_sockets() {
    let _serial = SERIAL.lock().await;
    let (relay, _clock) = relay_with(Limits {
        max_live_sockets_per_device: 3,
        ..Limits::default()
    })
    .await;
    let alice = relay.device();
    let team = relay.create_team(&alice).await;
    let token = relay.login(&alice).await;
    let mut open = Vec::new();
    for _ in 0..3 {
        let mut socket = live(&relay, team, &token).await.unwrap();
        assert_eq!(next_seq(&mut socket).await, 0);
        open.push(socket);
    }
    match live(&relay, team, &token).await {
        Err(tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
            let body: serde_json::Value =
                serde_json::from_slice(response.body().as_deref().unwrap()).unwrap();
            assert_eq!(body["code"], "too_many_sockets", "{body}");
        }
        other => panic!("a fourth socket: {other:?}"),
    }
    // Another device has its own share.
    let bob = relay.device();
    let bob_team = relay.create_team(&bob).await;
    let bob_token = relay.login(&bob).await;
    live(&relay, bob_team, &bob_token).await.unwrap();
    // A closed socket gives its place back.
    let mut first = open.remove(0);
    first.close(None).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(3);
    while live(&relay, team, &token).await.is_err() {
        assert!(Instant::now() < deadline, "no place back after a close");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_live_socket_closes_at_once_when_its_device_is_revoked() {
    let _serial = SERIAL.lock().await;
    let relay = Relay::start().await;
    let admin = relay.device();
    let member = relay.device();
    let team = relay.create_team(&admin).await;
    let admin_token = relay.login(&admin).await;
    relay
        .enrol(
            &admin_token,
            team,
            &admin,
            &member,
            holdfast_protocol::Role::LinkWorker,
            None,
        )
        .await;
    let member_token = relay.login(&member).await;
    let mut socket = live(&relay, team, &member_token).await.unwrap();
    assert_eq!(next_seq(&mut socket).await, 0);
    let mut admins = live(&relay, team, &admin_token).await.unwrap();
    assert_eq!(next_seq(&mut admins).await, 0);

    let revoked = relay
        .revoke(&admin_token, team, &admin, member.id, &[&admin])
        .await;
    assert_eq!(revoked.status(), StatusCode::CREATED);
    // Nothing else happens in the team: the revocation alone closes the socket.
    let close = closed_by_relay(&mut socket, Duration::from_secs(2)).await;
    assert_eq!(close.code, CloseCode::Policy);
    assert_eq!(close.reason.as_str(), "device revoked");
    // The admin's socket stays open.
    let quiet = tokio::time::timeout(Duration::from_millis(200), admins.next()).await;
    assert!(quiet.is_err(), "the admin's socket heard {quiet:?}");
    assert_eq!(
        metric(&relay, "holdfast_relay_live_closed_revoked_total").await,
        1.0
    );
}

#[tokio::test]
async fn a_live_socket_closes_when_its_token_expires() {
    let _serial = SERIAL.lock().await;
    // By the relay's clock: once it has passed the token's expiry, the socket announces
    // nothing more and closes.
    let (relay, clock) = relay_with(Limits {
        token_ttl_secs: 60,
        ..Limits::default()
    })
    .await;
    let alice = relay.device();
    let team = relay.create_team(&alice).await;
    let token = relay.login(&alice).await;
    let mut socket = live(&relay, team, &token).await.unwrap();
    assert_eq!(next_seq(&mut socket).await, 0);
    clock.advance(Duration::from_secs(61));
    let fresh = relay.login(&alice).await;
    let changes = alice.changes(team, 0, 1, 10);
    relay
        .push_ok(&fresh, team, alice.batch(team, &changes))
        .await;
    let close = closed_by_relay(&mut socket, Duration::from_secs(2)).await;
    assert_eq!(
        (close.code, close.reason.as_str()),
        (CloseCode::Policy, "token expired")
    );
    // A socket with a fresh token hears the head.
    let mut again = live(&relay, team, &fresh).await.unwrap();
    assert_eq!(next_seq(&mut again).await, 1);

    // On the system clock, at the expiry itself, with nothing else happening.
    let relay = Relay::start_with(Limits {
        token_ttl_secs: 1,
        ..Limits::default()
    })
    .await;
    let bob = relay.device();
    let team = relay.create_team(&bob).await;
    let token = relay.login(&bob).await;
    let started = Instant::now();
    let mut socket = live(&relay, team, &token).await.unwrap();
    assert_eq!(next_seq(&mut socket).await, 0);
    let close = closed_by_relay(&mut socket, Duration::from_secs(3)).await;
    assert_eq!(close.reason.as_str(), "token expired");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        metric(&relay, "holdfast_relay_live_closed_expired_total").await,
        1.0
    );
}
