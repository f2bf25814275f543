//! The HTTP API, driven over loopback against a real relay on port 0.

mod common;

use std::time::Duration;

use common::{CLOCK_START_MS, Device, Relay, expect_error, raw_batch};
use holdfast_protocol::{
    DocumentId, DocumentKey, EnvelopeRef, Kind, ManualClock, Op, Role, TeamId, sign_auth,
};
use holdfast_relay::Limits;
use reqwest::StatusCode;
use serde_json::{Value, json};

#[tokio::test]
async fn a_device_creates_a_team_once_and_only_with_a_fresh_genuine_genesis() {
    let relay = Relay::start().await;
    let admin = Device::new();
    let team = TeamId([0x11; 16]);
    let genesis = admin.genesis(team, relay.now_ms());
    let created = relay.post_genesis(&genesis).await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let created: Value = created.json().await.unwrap();
    assert_eq!(
        created,
        json!({"team": team.to_string(), "head": 0, "device": admin.id.to_string(),
               "role": "admin", "epoch": 1, "membership_len": 1})
    );

    // Replayed: the same entry again.
    let replay = relay.post_genesis(&genesis).await;
    expect_error(replay, StatusCode::CONFLICT, "team_exists").await;

    // Forged: a genesis naming a key the signer does not hold.
    let mallory = Device::new();
    let forged = holdfast_protocol::Entry::sign(
        TeamId([0x12; 16]),
        relay.now_ms(),
        mallory.id.0,
        Op::Genesis {
            device: mallory.id,
            sign_key: admin.key.public_key(),
            hpke_key: mallory.hpke.public_key().clone(),
            key_commitment: [0; 32],
        },
        &mallory.key,
    )
    .unwrap();
    let response = relay.post_genesis(&forged).await;
    expect_error(response, StatusCode::FORBIDDEN, "bad_signature").await;

    // Stale, and from the future.
    for timestamp in [relay.now_ms() - 3_600_000, relay.now_ms() + 3_600_000] {
        let stale = mallory.genesis(TeamId([0x14; 16]), timestamp);
        let response = relay.post_genesis(&stale).await;
        expect_error(response, StatusCode::BAD_REQUEST, "stale_timestamp").await;
    }

    // Not a genesis entry; malformed bodies.
    let revoke = mallory.revoke_entry(TeamId([0x15; 16]), admin.id, 2);
    let response = relay.post_genesis(&revoke).await;
    expect_error(response, StatusCode::BAD_REQUEST, "bad_request").await;
    for bad in [
        json!({"team": "11"}),
        json!({"genesis": "zz"}),
        json!({"genesis": "48464d31"}),
        json!({"genesis": hex::encode(genesis.as_bytes()), "extra": 1}),
    ] {
        let response = relay
            .http
            .post(relay.at("/v1/teams"))
            .json(&bad)
            .send()
            .await
            .unwrap();
        expect_error(response, StatusCode::BAD_REQUEST, "bad_request").await;
    }
    let response = relay
        .http
        .post(relay.at("/v1/teams"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    expect_error(response, StatusCode::BAD_REQUEST, "bad_request").await;

    // The refused requests created nothing: the forger cannot log in.
    assert!(relay.try_login(&mallory).await.is_err());
    // The admin can, and sees its team.
    let token = relay.login(&admin).await;
    assert_eq!(relay.team(&token, team).await, created);
}

#[tokio::test]
async fn login_refuses_used_challenges_wrong_signatures_and_unknown_devices() {
    let relay = Relay::start().await;
    let admin = Device::new();
    let team = relay.create_team(&admin).await;

    // A good login, then the same answer again.
    let challenge = relay.challenge(&admin).await;
    let signature = sign_auth(&admin.key, &relay.origin, &admin.id, &challenge).unwrap();
    let first = relay.answer(admin.id, &challenge, &signature).await;
    assert_eq!(first.status(), StatusCode::OK);
    let first: Value = first.json().await.unwrap();
    assert_eq!(first["expires_in"], 3600);
    let again = relay.answer(admin.id, &challenge, &signature).await;
    expect_error(again, StatusCode::UNAUTHORIZED, "unauthorized").await;

    // Signed by another key.
    let other = Device::new();
    let challenge = relay.challenge(&admin).await;
    let wrong = sign_auth(&other.key, &relay.origin, &admin.id, &challenge).unwrap();
    expect_error(
        relay.answer(admin.id, &challenge, &wrong).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
    // The failed try used the challenge up: the right signature is now too late.
    let right = sign_auth(&admin.key, &relay.origin, &admin.id, &challenge).unwrap();
    expect_error(
        relay.answer(admin.id, &challenge, &right).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;

    // Signed for another origin.
    let challenge = relay.challenge(&admin).await;
    let phished = sign_auth(&admin.key, "http://phish.invalid", &admin.id, &challenge).unwrap();
    expect_error(
        relay.answer(admin.id, &challenge, &phished).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;

    // A challenge issued to another device.
    let challenge = relay.challenge(&other).await;
    let signature = sign_auth(&admin.key, &relay.origin, &admin.id, &challenge).unwrap();
    expect_error(
        relay.answer(admin.id, &challenge, &signature).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;

    // An unknown device gets a challenge (rosters are not revealed) but no token.
    let (status, body) = relay.try_login(&other).await.unwrap_err();
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["code"], "unauthorized");

    // A challenge the relay never issued.
    let signature = sign_auth(&admin.key, &relay.origin, &admin.id, &[9; 32]).unwrap();
    expect_error(
        relay.answer(admin.id, &[9; 32], &signature).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;

    // Finally a token that works.
    let token = relay.login(&admin).await;
    let ok = relay
        .http
        .get(relay.at(&format!("/v1/teams/{team}")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
}

#[tokio::test]
async fn tampered_missing_and_expired_tokens_are_refused() {
    let clock = ManualClock::at(CLOCK_START_MS);
    let relay = Relay::start_with_clock(clock.clone()).await;
    let admin = relay.device();
    let team = relay.create_team(&admin).await;
    let token = relay.login(&admin).await;
    let url = relay.at(&format!("/v1/teams/{team}"));

    let ok = relay
        .http
        .get(&url)
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);

    let mut tampered = token.clone().into_bytes();
    let i = tampered.len() - 5;
    tampered[i] = if tampered[i] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    for bad in [tampered.as_str(), "hft1.garbage", "", "not-a-token"] {
        let response = relay.http.get(&url).bearer_auth(bad).send().await.unwrap();
        expect_error(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
    }
    let response = relay.http.get(&url).send().await.unwrap();
    expect_error(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
    let response = relay
        .http
        .get(&url)
        .header("authorization", format!("Basic {token}"))
        .send()
        .await
        .unwrap();
    expect_error(response, StatusCode::UNAUTHORIZED, "unauthorized").await;

    // The token was issued when the clock stood at CLOCK_START_MS: it still works a
    // millisecond before its lifetime ends, and is refused as expired when it does.
    let lifetime = Limits::default().token_ttl();
    clock.advance(lifetime - Duration::from_millis(1));
    let last_moment = relay
        .http
        .get(&url)
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(last_moment.status(), StatusCode::OK);
    clock.advance(Duration::from_millis(1));
    let expired = relay
        .http
        .get(&url)
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    let message = expect_error(expired, StatusCode::UNAUTHORIZED, "unauthorized").await;
    assert!(message.contains("expired"), "{message}");
}

#[tokio::test]
async fn a_non_member_gets_403_on_every_team_route() {
    let relay = Relay::start().await;
    let owner = Device::new();
    let team = relay.create_team(&owner).await;
    let outsider = Device::new();
    let elsewhere = relay.create_team(&outsider).await;
    let token = relay.login(&outsider).await;
    let batch = outsider.batch(team, &outsider.changes(team, 0, 1, 10));
    let entry = outsider.revoke_entry(team, owner.id, 2);

    for team_id in [team, TeamId([0xee; 16])] {
        let base = relay.at(&format!("/v1/teams/{team_id}"));
        let requests = vec![
            relay.http.get(&base),
            relay.http.get(format!("{base}/devices")),
            relay.http.get(format!("{base}/membership")),
            relay.http.post(format!("{base}/membership")).json(&json!({
                "entry": hex::encode(entry.as_bytes()),
                "bundles": [],
                "expected_len": 1,
            })),
            relay.http.get(format!("{base}/keys")),
            relay
                .http
                .post(format!("{base}/keys/staged"))
                .json(&json!({"key_commitment": hex::encode([0u8; 32]), "bundles": []})),
            relay
                .http
                .post(format!("{base}/envelopes"))
                .body(batch.clone()),
            relay.http.get(format!("{base}/envelopes?after=0")),
            relay
                .http
                .get(format!("{base}/live"))
                .header("connection", "upgrade")
                .header("upgrade", "websocket")
                .header("sec-websocket-version", "13")
                .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
        ];
        for request in requests {
            let response = request.bearer_auth(&token).send().await.unwrap();
            let url = response.url().clone();
            let status = response.status();
            let body: Value = response.json().await.unwrap();
            assert_eq!(status, StatusCode::FORBIDDEN, "{url}: {body}");
            assert_eq!(body["code"], "forbidden", "{url}");
        }
    }
    // Its own team works, and the other team is untouched.
    let ok = relay
        .http
        .get(relay.at(&format!("/v1/teams/{elsewhere}")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    let owner_token = relay.login(&owner).await;
    assert!(relay.pull_all(&owner_token, team, "").await.is_empty());
    assert_eq!(
        relay
            .http
            .get(relay.at(&format!("/v1/teams/{team}/devices")))
            .bearer_auth(&owner_token)
            .send()
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap()["devices"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn pushed_envelopes_come_back_byte_for_byte_in_sequence_and_pushing_again_is_harmless() {
    let relay = Relay::start().await;
    let alice = Device::new();
    let bob = Device::new();
    let team = relay.create_team(&alice).await;
    let alice_token = relay.login(&alice).await;
    relay
        .enrol(&alice_token, team, &alice, &bob, Role::LinkWorker, None)
        .await;
    let bob_token = relay.login(&bob).await;

    let first = alice.changes(team, 0, 3, 1024);
    let second = bob.changes(team, 100, 2, 300);
    let pushed = relay
        .push_ok(&alice_token, team, alice.batch(team, &first))
        .await;
    assert_eq!(pushed, [(1, false), (2, false), (3, false)]);
    let pushed = relay
        .push_ok(&bob_token, team, bob.batch(team, &second))
        .await;
    assert_eq!(pushed, [(4, false), (5, false)]);

    // The result carries each envelope's id.
    let response = relay
        .push(&alice_token, team, alice.batch(team, &first[..1]))
        .await;
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body,
        json!({"results": [{"id": holdfast_protocol::EnvelopeId::of(&first[0]).to_string(), "seq": 1, "duplicate": true}], "head": 5})
    );

    // The same batch again, and a batch mixing old and new.
    let again = relay
        .push_ok(&alice_token, team, alice.batch(team, &first))
        .await;
    assert_eq!(again, [(1, true), (2, true), (3, true)]);
    let mut mixed = vec![first[2].clone()];
    mixed.extend(alice.changes(team, 200, 1, 10));
    mixed.push(mixed[1].clone());
    let mixed_result = relay
        .push_ok(&alice_token, team, alice.batch(team, &mixed))
        .await;
    assert_eq!(mixed_result, [(3, true), (6, false), (6, true)]);

    // Bob pulls everything; every envelope opens with the document key.
    let items = relay.pull_all(&bob_token, team, "&limit=2").await;
    let seqs: Vec<u64> = items.iter().map(|(seq, _)| *seq).collect();
    assert_eq!(seqs, [1, 2, 3, 4, 5, 6]);
    let expected: Vec<&Vec<u8>> = first
        .iter()
        .chain(&second)
        .chain(std::iter::once(&mixed[1]))
        .collect();
    for ((_, bytes), want) in items.iter().zip(expected) {
        assert_eq!(bytes, want);
        let envelope = EnvelopeRef::decode(bytes).unwrap();
        let author = if envelope.header.author == alice.id {
            &alice
        } else {
            &bob
        };
        envelope
            .open(
                &author.key.public_key(),
                &DocumentKey::from_bytes(common::DOC_KEY),
            )
            .unwrap();
    }

    // Paging details: next/more, after beyond the head, limits clamped.
    let page = relay.pull_page(&bob_token, team, "after=0&limit=4").await;
    assert_eq!((page.items.len(), page.next, page.more), (4, 4, true));
    let page = relay.pull_page(&bob_token, team, "after=6").await;
    assert_eq!((page.items.len(), page.next, page.more), (0, 6, false));
    let page = relay.pull_page(&bob_token, team, "after=99").await;
    assert_eq!((page.items.len(), page.next, page.more), (0, 99, false));
    let page = relay.pull_page(&bob_token, team, "limit=1000000").await;
    assert_eq!(page.items.len(), 6);
    for bad in [
        "limit=0",
        "after=-1",
        "after=x",
        "compact=maybe",
        "unknown=1",
    ] {
        let response = relay.pull(&bob_token, team, bad).await;
        expect_error(response, StatusCode::BAD_REQUEST, "bad_request").await;
    }
    let shown: Value = relay
        .http
        .get(relay.at(&format!("/v1/teams/{team}")))
        .bearer_auth(&bob_token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(shown["head"], 6);
    assert_eq!(shown["role"], "link_worker");
}

#[tokio::test]
async fn a_compact_pull_starts_from_the_latest_snapshot() {
    let relay = Relay::start().await;
    let alice = Device::new();
    let team = relay.create_team(&alice).await;
    let token = relay.login(&alice).await;
    let doc = DocumentId([0xaa; 16]);
    let other = DocumentId([0xbb; 16]);
    let e = |kind, document, covers, salt| alice.envelope(team, document, kind, covers, salt, 64);
    let batch = vec![
        e(Kind::ChangeBatch, doc, 0, 1),   // 1 covered
        e(Kind::ChangeBatch, doc, 0, 2),   // 2 covered
        e(Kind::KeyMaterial, doc, 0, 3),   // 3 kept
        e(Kind::ChangeBatch, other, 0, 4), // 4 kept: another document
        e(Kind::Snapshot, doc, 2, 5),      // 5 the snapshot, covers 1..=2
        e(Kind::ChangeBatch, doc, 0, 6),   // 6 kept: after the snapshot
    ];
    relay.push_ok(&token, team, alice.batch(team, &batch)).await;
    let all: Vec<u64> = relay
        .pull_all(&token, team, "")
        .await
        .iter()
        .map(|i| i.0)
        .collect();
    assert_eq!(all, [1, 2, 3, 4, 5, 6]);
    let compact = relay.pull_all(&token, team, "&compact=true&limit=1").await;
    let seqs: Vec<u64> = compact.iter().map(|i| i.0).collect();
    assert_eq!(seqs, [3, 4, 5, 6]);
    let also: Vec<u64> = relay
        .pull_all(&token, team, "&compact=1")
        .await
        .iter()
        .map(|i| i.0)
        .collect();
    assert_eq!(also, [3, 4, 5, 6]);
    let not: Vec<u64> = relay
        .pull_all(&token, team, "&compact=0")
        .await
        .iter()
        .map(|i| i.0)
        .collect();
    assert_eq!(not, all);
    assert_eq!(compact[2].1, batch[4]);
}

#[tokio::test]
async fn tampered_and_misattributed_batches_are_refused_and_store_nothing() {
    let relay = Relay::start().await;
    let alice = Device::new();
    let bob = Device::new();
    let team = relay.create_team(&alice).await;
    let other_team = relay.create_team(&bob).await;
    let alice_token = relay.login(&alice).await;
    relay
        .enrol(&alice_token, team, &alice, &bob, Role::LinkWorker, None)
        .await;
    let bob_token = relay.login(&bob).await;
    let envelopes = alice.changes(team, 0, 3, 200);
    let good = alice.batch(team, &envelopes);

    // One flipped bit anywhere in an envelope: its id changes, the batch signature fails.
    for offset in [60, 90, 150] {
        let mut flipped = good.clone();
        flipped[offset] ^= 0x01;
        let response = relay.push(&alice_token, team, flipped).await;
        let status = response.status();
        let body: Value = response.json().await.unwrap();
        assert_eq!(status, StatusCode::BAD_REQUEST, "offset {offset}: {body}");
        assert!(
            ["bad_signature", "bad_batch", "wrong_team", "wrong_author"]
                .contains(&body["code"].as_str().unwrap()),
            "{body}"
        );
    }
    let mut flipped = good.clone();
    let last = flipped.len() - 1;
    flipped[last] ^= 0x80; // in the batch signature itself
    expect_error(
        relay.push(&alice_token, team, flipped).await,
        StatusCode::BAD_REQUEST,
        "bad_signature",
    )
    .await;
    let mut flipped = good.clone();
    flipped[200] ^= 0x01; // inside the first envelope's ciphertext
    expect_error(
        relay.push(&alice_token, team, flipped).await,
        StatusCode::BAD_REQUEST,
        "bad_signature",
    )
    .await;

    // Bob pushes an envelope authored by Alice, in a batch he signs: refused.
    let stolen = raw_batch(team, bob.id, &bob.key, relay.now_ms(), &envelopes[..1]);
    let message = expect_error(
        relay.push(&bob_token, team, stolen).await,
        StatusCode::BAD_REQUEST,
        "wrong_author",
    )
    .await;
    assert!(message.contains("envelope 0"), "{message}");

    // An envelope whose header names another team, in a batch for this team.
    let mut mixed = alice.changes(team, 10, 1, 20);
    mixed.push(alice.envelope(
        other_team,
        DocumentId([1; 16]),
        Kind::ChangeBatch,
        0,
        11,
        20,
    ));
    let smuggled = raw_batch(team, alice.id, &alice.key, relay.now_ms(), &mixed);
    let message = expect_error(
        relay.push(&alice_token, team, smuggled).await,
        StatusCode::BAD_REQUEST,
        "wrong_team",
    )
    .await;
    assert!(message.contains("envelope 1"), "{message}");

    // A whole batch for another team, pushed here (Bob is a member of both).
    let bobs = bob.changes(other_team, 20, 1, 20);
    let response = relay
        .push(&bob_token, team, bob.batch(other_team, &bobs))
        .await;
    expect_error(response, StatusCode::BAD_REQUEST, "wrong_team").await;

    // Alice's own batch pushed with Bob's token.
    expect_error(
        relay.push(&bob_token, team, good.clone()).await,
        StatusCode::BAD_REQUEST,
        "wrong_author",
    )
    .await;

    // Signed by the wrong key, stale, garbage, truncated.
    let forged = raw_batch(team, alice.id, &bob.key, relay.now_ms(), &envelopes);
    expect_error(
        relay.push(&alice_token, team, forged).await,
        StatusCode::BAD_REQUEST,
        "bad_signature",
    )
    .await;
    let stale = raw_batch(
        team,
        alice.id,
        &alice.key,
        relay.now_ms() - 3_600_000,
        &envelopes,
    );
    expect_error(
        relay.push(&alice_token, team, stale).await,
        StatusCode::BAD_REQUEST,
        "stale_timestamp",
    )
    .await;
    expect_error(
        relay
            .push(&alice_token, team, b"HFP1 garbage".to_vec())
            .await,
        StatusCode::BAD_REQUEST,
        "bad_batch",
    )
    .await;
    expect_error(
        relay.push(&alice_token, team, Vec::new()).await,
        StatusCode::BAD_REQUEST,
        "bad_batch",
    )
    .await;
    expect_error(
        relay
            .push(&alice_token, team, good[..good.len() - 1].to_vec())
            .await,
        StatusCode::BAD_REQUEST,
        "bad_batch",
    )
    .await;

    // None of it was stored; the good batch still goes through, from 1.
    assert!(relay.pull_all(&alice_token, team, "").await.is_empty());
    assert_eq!(
        relay.push_ok(&alice_token, team, good).await,
        [(1, false), (2, false), (3, false)]
    );
}

#[tokio::test]
async fn every_limit_answers_with_its_code() {
    let limits = Limits {
        max_body_bytes: 8 * 1024,
        max_batch_envelopes: 3,
        max_envelope_bytes: 1024,
        rate_limit_per_second: 0.0,
        ..Limits::default()
    };
    let relay = Relay::start_with(limits).await;
    let alice = Device::new();
    let team = relay.create_team(&alice).await;
    let token = relay.login(&alice).await;

    let too_many = alice.batch(team, &alice.changes(team, 0, 4, 10));
    let message = expect_error(
        relay.push(&token, team, too_many).await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "batch_too_large",
    )
    .await;
    assert!(message.contains('4') && message.contains('3'), "{message}");

    let big = alice.batch(team, &alice.changes(team, 10, 1, 1024));
    let message = expect_error(
        relay.push(&token, team, big).await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "envelope_too_large",
    )
    .await;
    assert!(message.contains("envelope 0"), "{message}");

    let body = vec![0u8; 8 * 1024 + 1];
    expect_error(
        relay.push(&token, team, body).await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
    )
    .await;

    // JSON bodies have their own, small limit.
    let json = relay
        .http
        .post(relay.at("/v1/auth/challenge"))
        .header("content-type", "application/json")
        .body(format!(
            "{{\"device\": \"{}\", \"pad\": \"{}\"}}",
            alice.id,
            "x".repeat(70 * 1024)
        ))
        .send()
        .await
        .unwrap();
    expect_error(json, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;

    // Within every limit: fine.
    let fits = alice.batch(team, &alice.changes(team, 20, 3, 500));
    assert_eq!(relay.push_ok(&token, team, fits).await.len(), 3);
}

#[tokio::test]
async fn a_device_over_its_rate_gets_429_with_retry_after() {
    let limits = Limits {
        rate_limit_per_second: 0.5,
        rate_limit_burst: 4,
        ..Limits::default()
    };
    let relay = Relay::start_with(limits).await;
    let alice = Device::new();
    // Team creation and login need no token: they count against the client address's
    // budget, not the device's.
    let team = relay.create_team(&alice).await;
    let token = relay.login(&alice).await;
    let url = relay.at(&format!("/v1/teams/{team}"));
    for _ in 0..4 {
        let ok = relay
            .http
            .get(&url)
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(ok.status(), StatusCode::OK);
    }
    let limited = relay
        .http
        .get(&url)
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    let retry_after: u64 = limited.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&retry_after), "{retry_after}");
    expect_error(limited, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    // Another device is not affected, and the device can still log in (a stranger naming
    // it in login requests cannot spend its budget either).
    let bob = Device::new();
    let bob_team = relay.create_team(&bob).await;
    let bob_token = relay.login(&bob).await;
    relay.team(&bob_token, bob_team).await;
    relay.login(&alice).await;
}

#[tokio::test]
async fn health_metrics_and_unknown_routes() {
    let relay = Relay::start().await;
    let health = relay.http.get(relay.at("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    assert_eq!(
        health.json::<Value>().await.unwrap(),
        json!({"status": "ok"})
    );

    let alice = Device::new();
    let team = relay.create_team(&alice).await;
    let token = relay.login(&alice).await;
    let envelopes = alice.changes(team, 0, 5, 1000);
    relay
        .push_ok(&token, team, alice.batch(team, &envelopes))
        .await;
    relay
        .push_ok(&token, team, alice.batch(team, &envelopes[..2]))
        .await;
    relay.pull_all(&token, team, "").await;
    let unauthorized = relay
        .http
        .get(relay.at(&format!("/v1/teams/{team}")))
        .send()
        .await
        .unwrap();
    assert_eq!(unauthorized.status(), StatusCode::UNAUTHORIZED);

    let response = relay.http.get(relay.at("/metrics")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = response.text().await.unwrap();
    let value = |name: &str| -> f64 {
        text.lines()
            .find_map(|l| l.strip_prefix(name).and_then(|rest| rest.strip_prefix(' ')))
            .unwrap_or_else(|| panic!("{name} missing in\n{text}"))
            .parse()
            .unwrap()
    };
    assert_eq!(value("holdfast_relay_push_requests_total"), 2.0);
    assert_eq!(value("holdfast_relay_envelopes_stored_total"), 5.0);
    assert_eq!(value("holdfast_relay_duplicate_envelopes_total"), 2.0);
    let stored_bytes: usize = envelopes.iter().map(Vec::len).sum();
    assert_eq!(
        value("holdfast_relay_bytes_stored_total"),
        stored_bytes as f64
    );
    assert_eq!(value("holdfast_relay_pull_requests_total"), 1.0);
    assert_eq!(value("holdfast_relay_envelopes_served_total"), 5.0);
    assert_eq!(value("holdfast_relay_auth_failures_total"), 1.0);
    assert_eq!(
        value("holdfast_relay_errors_total{code=\"unauthorized\"}"),
        1.0
    );
    assert_eq!(value("holdfast_relay_live_connections"), 0.0);
    assert!(value("holdfast_relay_write_batch_envelopes_count") >= 3.0); // the team, 2 pushes
    assert_eq!(value("holdfast_relay_write_batch_envelopes_sum"), 7.0);
    assert!(value("holdfast_relay_write_seconds_sum") > 0.0);
    assert!(!text.contains(&team.to_string()), "no ids in metrics");

    let missing = relay.http.get(relay.at("/nope")).send().await.unwrap();
    expect_error(missing, StatusCode::NOT_FOUND, "not_found").await;
    let wrong_method = relay.http.put(relay.at("/v1/teams")).send().await.unwrap();
    expect_error(
        wrong_method,
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
    )
    .await;
    let bad_id = relay
        .http
        .get(relay.at("/v1/teams/not-hex"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    expect_error(bad_id, StatusCode::BAD_REQUEST, "bad_request").await;
}

#[tokio::test]
async fn tokens_survive_a_restart_on_the_same_data_directory() {
    let mut relay = Relay::start().await;
    let alice = Device::new();
    let team = relay.create_team(&alice).await;
    let token = relay.login(&alice).await;
    let pushed = relay
        .push_ok(
            &token,
            team,
            alice.batch(team, &alice.changes(team, 0, 2, 10)),
        )
        .await;
    relay.shutdown().await;
    let server = relay.server.as_mut().unwrap();

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(server.data_dir())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o700, "the data directory is private");
    }

    server.restart().await;
    let response = relay.get(&token, &format!("/v1/teams/{team}")).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["head"], pushed.last().unwrap().0);
}
