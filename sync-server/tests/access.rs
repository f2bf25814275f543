//! Teams, roles, invites, revocation and patient sharing over the HTTP API (issue 4),
//! driven against a real relay on port 0.

mod common;

use std::time::Duration;

use common::{CLOCK_START_MS, Device, Relay, expect_error, invite_code};
use holdfast_protocol::{
    DeviceSigningKey, DocumentId, Entry, KeyBundle, Kind, ManualClock, Op, Role, TeamId, WrappedKey,
};
use reqwest::StatusCode;
use serde_json::Value;

const PLAN_A: DocumentId = DocumentId([0xa1; 16]);
const PLAN_B: DocumentId = DocumentId([0xb2; 16]);
const CASE: DocumentId = DocumentId([0xc3; 16]);

/// The entries of the membership log as `token`'s device is shown them.
async fn log(relay: &Relay, token: &str, team: TeamId) -> (Vec<(u64, Entry)>, u64) {
    let response = relay
        .get(token, &format!("/v1/teams/{team}/membership?from=0"))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    let entries = body["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let bytes = hex::decode(e["entry"].as_str().unwrap()).unwrap();
            (e["seq"].as_u64().unwrap(), Entry::decode(&bytes).unwrap())
        })
        .collect();
    (entries, body["len"].as_u64().unwrap())
}

fn envelopes(
    device: &Device,
    team: TeamId,
    doc: DocumentId,
    salt: u64,
    epoch: u32,
) -> Vec<Vec<u8>> {
    vec![device.envelope_at(team, doc, Kind::ChangeBatch, 0, salt, 32, epoch)]
}

#[tokio::test]
async fn an_invited_device_redeems_once_signs_in_and_pushes() {
    let relay = Relay::start().await;
    let admin = Device::new();
    let team = relay.create_team(&admin).await;
    let admin_token = relay.login(&admin).await;

    let (code, response) = relay
        .invite(
            &admin_token,
            team,
            &admin,
            Role::LinkWorker,
            None,
            relay.now_ms() + 60_000,
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["seq"], 1);
    assert_eq!(
        (body["epoch"].as_u64(), body["membership_len"].as_u64()),
        (Some(1), Some(2))
    );

    // Anyone holding the invite id sees the entry and the genesis (no token).
    let shown: Value = relay
        .http
        .get(relay.at(&format!("/v1/teams/{team}/invites/{}", code.id())))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let entry = Entry::decode(&hex::decode(shown["entry"].as_str().unwrap()).unwrap()).unwrap();
    assert!(matches!(entry.op, Op::Invite { invite, .. } if invite == code.id()));
    let genesis = Entry::decode(&hex::decode(shown["genesis"].as_str().unwrap()).unwrap()).unwrap();
    assert!(matches!(genesis.op, Op::Genesis { device, .. } if device == admin.id));

    // Before redeeming, the device cannot sign in.
    let worker = Device::new();
    assert!(relay.try_login(&worker).await.is_err());
    let redeem = worker.redeem_entry(team, &code, &code.signing_key().unwrap());
    let redeemed = relay.post_redeem(team, &code, &redeem).await;
    assert_eq!(redeemed.status(), StatusCode::CREATED);
    let body: Value = redeemed.json().await.unwrap();
    assert_eq!(body["device"], worker.id.to_string());
    assert_eq!(body["role"], "link_worker");
    assert_eq!(
        (body["seq"].as_u64(), body["membership_len"].as_u64()),
        (Some(2), Some(3))
    );
    // The same entry again (its answer was lost): the same answer, and nothing appended.
    let again = relay.post_redeem(team, &code, &redeem).await;
    assert_eq!(again.status(), StatusCode::OK);
    let again: Value = again.json().await.unwrap();
    assert_eq!(again, body);

    let token = relay.login(&worker).await;
    let shown = relay.team(&token, team).await;
    assert_eq!(shown["role"], "link_worker");
    let pushed = relay
        .push_ok(
            &token,
            team,
            worker.batch(team, &envelopes(&worker, team, CASE, 1, 1)),
        )
        .await;
    assert_eq!(pushed, [(1, false)]);

    // Used once: a second device gets invite_used, on GET and on redeem.
    let thief = Device::new();
    expect_error(
        relay.redeem(team, &code, &thief).await,
        StatusCode::CONFLICT,
        "invite_used",
    )
    .await;
    let again = relay
        .http
        .get(relay.at(&format!("/v1/teams/{team}/invites/{}", code.id())))
        .send()
        .await
        .unwrap();
    expect_error(again, StatusCode::CONFLICT, "invite_used").await;

    // Unknown invite and unknown team.
    let unknown = invite_code(
        &relay.url,
        team,
        Role::LinkWorker,
        None,
        relay.now_ms() + 60_000,
    );
    expect_error(
        relay.redeem(team, &unknown, &thief).await,
        StatusCode::NOT_FOUND,
        "no_such_invite",
    )
    .await;
    let response = relay
        .http
        .get(relay.at(&format!("/v1/teams/{team}/invites/{}", unknown.id())))
        .send()
        .await
        .unwrap();
    expect_error(response, StatusCode::NOT_FOUND, "no_such_invite").await;
    let response = relay
        .http
        .get(relay.at(&format!(
            "/v1/teams/{}/invites/{}",
            TeamId([0xee; 16]),
            unknown.id()
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);

    // The roster shows both devices with their keys.
    let roster: Value = relay
        .get(&admin_token, &format!("/v1/teams/{team}/devices"))
        .await
        .json()
        .await
        .unwrap();
    let devices = roster["devices"].as_array().unwrap();
    assert_eq!(devices.len(), 2);
    assert_eq!(devices[1]["device"], worker.id.to_string());
    assert_eq!(devices[1]["role"], "link_worker");
    assert_eq!(
        devices[1]["hpke_key"],
        hex::encode(worker.hpke.public_key().as_bytes())
    );
    assert_eq!(devices[1]["plan"], Value::Null);
}

#[tokio::test]
async fn expired_and_forged_redeems_and_escalations_are_refused() {
    let clock = ManualClock::at(CLOCK_START_MS);
    let relay = Relay::start_with_clock(clock.clone()).await;
    let admin = relay.device();
    let worker = relay.device();
    let supervisor = relay.device();
    let team = relay.create_team(&admin).await;
    let admin_token = relay.login(&admin).await;
    relay
        .enrol(&admin_token, team, &admin, &worker, Role::LinkWorker, None)
        .await;
    relay
        .enrol(
            &admin_token,
            team,
            &admin,
            &supervisor,
            Role::Supervisor,
            None,
        )
        .await;
    let worker_token = relay.login(&worker).await;
    let supervisor_token = relay.login(&supervisor).await;

    // A link worker cannot invite an admin or a supervisor; a supervisor cannot invite.
    for role in [Role::Admin, Role::Supervisor] {
        let (_, response) = relay
            .invite(
                &worker_token,
                team,
                &worker,
                role,
                None,
                relay.now_ms() + 60_000,
            )
            .await;
        expect_error(response, StatusCode::FORBIDDEN, "not_allowed").await;
    }
    let (_, response) = relay
        .invite(
            &supervisor_token,
            team,
            &supervisor,
            Role::LinkWorker,
            None,
            relay.now_ms() + 60_000,
        )
        .await;
    expect_error(response, StatusCode::FORBIDDEN, "not_allowed").await;
    // A link worker may invite a patient for a plan.
    let (_, response) = relay
        .invite(
            &worker_token,
            team,
            &worker,
            Role::Patient,
            Some(PLAN_A),
            relay.now_ms() + 60_000,
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);

    // An entry signed by someone else, a stale expected length, a redeem on this route.
    let len = relay.membership_len(&admin_token, team).await;
    let code = invite_code(
        &relay.url,
        team,
        Role::LinkWorker,
        None,
        relay.now_ms() + 60_000,
    );
    let by_admin = admin.invite_entry(team, &code);
    expect_error(
        relay.append(&worker_token, team, &by_admin, &[], len).await,
        StatusCode::FORBIDDEN,
        "not_allowed",
    )
    .await;
    expect_error(
        relay
            .append(&admin_token, team, &by_admin, &[], len - 1)
            .await,
        StatusCode::CONFLICT,
        "membership_conflict",
    )
    .await;
    // A redeem is not signed by the caller; a genesis has its own route.
    let redeem = worker.redeem_entry(team, &code, &code.signing_key().unwrap());
    expect_error(
        relay.append(&admin_token, team, &redeem, &[], len).await,
        StatusCode::FORBIDDEN,
        "not_allowed",
    )
    .await;
    expect_error(
        relay
            .append(
                &admin_token,
                team,
                &admin.genesis(team, relay.now_ms()),
                &[],
                len,
            )
            .await,
        StatusCode::BAD_REQUEST,
        "bad_request",
    )
    .await;
    // A bundle for someone who is neither a device nor an invite of the team.
    let stray = admin.bundle(team, [0x99; 16], worker.hpke.public_key(), 1);
    expect_error(
        relay
            .append(&admin_token, team, &by_admin, &[stray], len)
            .await,
        StatusCode::BAD_REQUEST,
        "bad_request",
    )
    .await;
    assert_eq!(relay.membership_len(&admin_token, team).await, len);

    // A redeem signed with the wrong invite key.
    let (code, response) = relay
        .invite(
            &admin_token,
            team,
            &admin,
            Role::LinkWorker,
            None,
            relay.now_ms() + 60_000,
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let newcomer = relay.device();
    let wrong = DeviceSigningKey::generate(&holdfast_protocol::SystemRandom::new()).unwrap();
    let forged = newcomer.redeem_entry(team, &code, &wrong);
    expect_error(
        relay.post_redeem(team, &code, &forged).await,
        StatusCode::FORBIDDEN,
        "bad_signature",
    )
    .await;
    // The genuine redeem still works.
    assert_eq!(
        relay.redeem(team, &code, &newcomer).await.status(),
        StatusCode::CREATED
    );

    // An invite past its expiry: 410 on GET and on redeem. Up to its last millisecond it
    // is shown.
    let lifetime = Duration::from_secs(300);
    let (code, response) = relay
        .invite(
            &admin_token,
            team,
            &admin,
            Role::LinkWorker,
            None,
            relay.now_ms() + lifetime.as_millis() as u64,
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let invite_url = relay.at(&format!("/v1/teams/{team}/invites/{}", code.id()));
    clock.advance(lifetime);
    let response = relay.http.get(&invite_url).send().await.unwrap();
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "still pending at its expiry"
    );
    clock.advance(Duration::from_millis(1));
    let response = relay.http.get(&invite_url).send().await.unwrap();
    expect_error(response, StatusCode::GONE, "invite_expired").await;
    expect_error(
        relay.redeem(team, &code, &relay.device()).await,
        StatusCode::GONE,
        "invite_expired",
    )
    .await;

    // An entry dated a day ago (or ahead) is refused, so nobody can backdate a cancel,
    // a role change or a revocation; a fresh one is taken.
    let len = relay.membership_len(&admin_token, team).await;
    for at in [relay.now_ms() - 86_400_000, relay.now_ms() + 86_400_000] {
        let stale = Entry::sign(
            team,
            at,
            admin.id.0,
            Op::Cancel { invite: code.id() },
            &admin.key,
        )
        .unwrap();
        expect_error(
            relay.append(&admin_token, team, &stale, &[], len).await,
            StatusCode::BAD_REQUEST,
            "stale_timestamp",
        )
        .await;
    }
    assert_eq!(relay.membership_len(&admin_token, team).await, len);
}

#[tokio::test]
async fn a_patient_reads_and_writes_only_its_plan_and_sees_only_itself() {
    let relay = Relay::start().await;
    let admin = Device::new();
    let worker = Device::new();
    let (alice, bob) = (Device::new(), Device::new());
    let team = relay.create_team(&admin).await;
    let admin_token = relay.login(&admin).await;
    relay
        .enrol(&admin_token, team, &admin, &worker, Role::LinkWorker, None)
        .await;
    let worker_token = relay.login(&worker).await;
    let alice_code = relay
        .enrol(
            &worker_token,
            team,
            &worker,
            &alice,
            Role::Patient,
            Some(PLAN_A),
        )
        .await;
    let bob_code = relay
        .enrol(
            &worker_token,
            team,
            &worker,
            &bob,
            Role::Patient,
            Some(PLAN_B),
        )
        .await;
    let alice_token = relay.login(&alice).await;

    // Staff write the case file and both plans.
    let mut batch = envelopes(&worker, team, CASE, 1, 1);
    batch.extend(envelopes(&worker, team, PLAN_A, 2, 1));
    batch.extend(envelopes(&worker, team, PLAN_B, 3, 1));
    batch.extend(envelopes(&worker, team, PLAN_A, 4, 1));
    relay
        .push_ok(&worker_token, team, worker.batch(team, &batch))
        .await;

    // Alice pulls her plan only, with the team's sequence numbers.
    let pulled = relay.pull_all(&alice_token, team, "").await;
    assert_eq!(pulled.iter().map(|p| p.0).collect::<Vec<_>>(), [2, 4]);
    assert_eq!(pulled[0].1, batch[1]);
    let page = relay
        .pull_page(
            &alice_token,
            team,
            &format!("after=0&doc={PLAN_A}&compact=1"),
        )
        .await;
    assert_eq!(page.items.len(), 2);
    for doc in [PLAN_B, CASE] {
        let response = relay.pull(&alice_token, team, &format!("doc={doc}")).await;
        expect_error(response, StatusCode::FORBIDDEN, "not_allowed").await;
    }
    // Staff may ask for one document.
    let page = relay
        .pull_page(&worker_token, team, &format!("after=0&doc={PLAN_B}"))
        .await;
    assert_eq!(page.items.iter().map(|p| p.0).collect::<Vec<_>>(), [3]);

    // Alice writes her plan, and nothing else (the whole batch is refused).
    let pushed = relay
        .push_ok(
            &alice_token,
            team,
            alice.batch(team, &envelopes(&alice, team, PLAN_A, 5, 1)),
        )
        .await;
    assert_eq!(pushed, [(5, false)]);
    let mut sneaky = envelopes(&alice, team, PLAN_A, 6, 1);
    sneaky.extend(envelopes(&alice, team, CASE, 7, 1));
    expect_error(
        relay
            .push(&alice_token, team, alice.batch(team, &sneaky))
            .await,
        StatusCode::FORBIDDEN,
        "not_allowed",
    )
    .await;
    assert_eq!(relay.team(&alice_token, team).await["head"], 5);
    // Nor a snapshot of her own plan: one could hide the link worker's changes from new
    // devices.
    let snapshot = vec![alice.envelope_at(team, PLAN_A, Kind::Snapshot, 5, 8, 32, 1)];
    expect_error(
        relay
            .push(&alice_token, team, alice.batch(team, &snapshot))
            .await,
        StatusCode::FORBIDDEN,
        "not_allowed",
    )
    .await;
    assert_eq!(relay.team(&alice_token, team).await["head"], 5);

    // No roster, no key staging for a patient.
    expect_error(
        relay
            .get(&alice_token, &format!("/v1/teams/{team}/devices"))
            .await,
        StatusCode::FORBIDDEN,
        "not_allowed",
    )
    .await;
    let response = relay
        .http
        .post(relay.at(&format!("/v1/teams/{team}/keys/staged")))
        .bearer_auth(&alice_token)
        .json(&serde_json::json!({"key_commitment": hex::encode([0u8; 32]), "bundles": []}))
        .send()
        .await
        .unwrap();
    expect_error(response, StatusCode::FORBIDDEN, "not_allowed").await;

    // Alice's view of the log leaves out Bob's invite and redeem; staff see everything.
    let (all, len) = log(&relay, &worker_token, team).await;
    assert_eq!(all.len() as u64, len);
    let (mine, mine_len) = log(&relay, &alice_token, team).await;
    // A patient is told the log as far as it sees it, not how many enrolments follow.
    assert_eq!(mine_len, mine.last().unwrap().0 + 1);
    assert!(mine_len < len, "not told of Bob's enrolment after hers");
    let about = |entries: &[(u64, Entry)], invite: holdfast_protocol::InviteId| {
        entries.iter().any(|(_, e)| match &e.op {
            Op::Invite { invite: i, .. } | Op::Redeem { invite: i, .. } => *i == invite,
            _ => false,
        })
    };
    assert!(about(&all, bob_code.id()) && about(&all, alice_code.id()));
    assert!(!about(&mine, bob_code.id()));
    assert!(about(&mine, alice_code.id()));
    assert_eq!(mine.len(), all.len() - 2);
    let (tail, _) = log(&relay, &worker_token, team).await;
    assert_eq!(tail[0].0, 0);
}

#[tokio::test]
async fn revocation_needs_every_bundle_shuts_the_device_out_and_starts_an_epoch() {
    let relay = Relay::start().await;
    let admin = Device::new();
    let (worker, lost) = (Device::new(), Device::new());
    let team = relay.create_team(&admin).await;
    let admin_token = relay.login(&admin).await;
    relay
        .enrol(&admin_token, team, &admin, &worker, Role::LinkWorker, None)
        .await;
    relay
        .enrol(&admin_token, team, &admin, &lost, Role::LinkWorker, None)
        .await;
    let worker_token = relay.login(&worker).await;
    let lost_token = relay.login(&lost).await;
    // A pending invite by the admin must get the new key too.
    let (pending, response) = relay
        .invite(
            &admin_token,
            team,
            &admin,
            Role::LinkWorker,
            None,
            relay.now_ms() + 60_000,
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let old = lost.batch(team, &envelopes(&lost, team, CASE, 1, 1));

    // Missing the worker's (and the invite's) bundle: refused, nothing stored.
    let message = expect_error(
        relay
            .revoke(&admin_token, team, &admin, lost.id, &[&admin])
            .await,
        StatusCode::BAD_REQUEST,
        "missing_key_bundles",
    )
    .await;
    assert!(message.contains(&worker.id.to_string()), "{message}");
    assert!(message.contains(&pending.id().to_string()), "{message}");
    let shown = relay.team(&admin_token, team).await;
    assert_eq!(shown["epoch"], 1);
    // Only the admin may revoke a link worker.
    let len = shown["membership_len"].as_u64().unwrap();
    let by_worker = worker.revoke_entry(team, lost.id, 2);
    expect_error(
        relay
            .append(&worker_token, team, &by_worker, &[], len)
            .await,
        StatusCode::FORBIDDEN,
        "not_allowed",
    )
    .await;

    // The worker appends an invite meanwhile: the Revoke, signed against the log before
    // it, still lands (a member appending as fast as it can must not hold a revocation
    // off), but only with a bundle for the new invite too.
    let entry = admin.revoke_entry(team, lost.id, 2);
    let hpke = pending.hpke_key().unwrap();
    let mut bundles = vec![
        admin.bundle(team, admin.id.0, admin.hpke.public_key(), 2),
        admin.bundle(team, worker.id.0, worker.hpke.public_key(), 2),
        admin.bundle(team, pending.id().0, hpke.public_key(), 2),
    ];
    let (meanwhile, response) = relay
        .invite(
            &worker_token,
            team,
            &worker,
            Role::LinkWorker,
            None,
            relay.now_ms() + 60_000,
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let message = expect_error(
        relay
            .append(&admin_token, team, &entry, &bundles, len)
            .await,
        StatusCode::BAD_REQUEST,
        "missing_key_bundles",
    )
    .await;
    assert!(message.contains(&meanwhile.id().to_string()), "{message}");
    // Any other entry signed against the older log is a conflict.
    let code = invite_code(
        &relay.url,
        team,
        Role::LinkWorker,
        None,
        relay.now_ms() + 60_000,
    );
    expect_error(
        relay
            .append(
                &admin_token,
                team,
                &admin.invite_entry(team, &code),
                &[],
                len,
            )
            .await,
        StatusCode::CONFLICT,
        "membership_conflict",
    )
    .await;

    // With every bundle: revoked, epoch 2, after the worker's invite.
    let hpke = meanwhile.hpke_key().unwrap();
    bundles.push(admin.bundle(team, meanwhile.id().0, hpke.public_key(), 2));
    let response = relay
        .append(&admin_token, team, &entry, &bundles, len)
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        (body["seq"].as_u64(), body["epoch"].as_u64()),
        (Some(len + 1), Some(2))
    );

    // The revoked device is refused at once, on every route, and told why (it cannot pull
    // the entry that revokes it); a stranger is only refused.
    for path in [
        format!("/v1/teams/{team}"),
        format!("/v1/teams/{team}/membership"),
        format!("/v1/teams/{team}/keys"),
        format!("/v1/teams/{team}/envelopes"),
    ] {
        expect_error(
            relay.get(&lost_token, &path).await,
            StatusCode::FORBIDDEN,
            "revoked",
        )
        .await;
    }
    expect_error(
        relay.push(&lost_token, team, old).await,
        StatusCode::FORBIDDEN,
        "revoked",
    )
    .await;
    assert!(relay.try_login(&lost).await.is_err());

    // Others must re-seal under the new epoch: epoch 1 is stale, epoch 3 does not exist yet.
    let stale = worker.batch(team, &envelopes(&worker, team, CASE, 2, 1));
    expect_error(
        relay.push(&worker_token, team, stale).await,
        StatusCode::CONFLICT,
        "stale_epoch",
    )
    .await;
    let future = worker.batch(team, &envelopes(&worker, team, CASE, 3, 3));
    expect_error(
        relay.push(&worker_token, team, future).await,
        StatusCode::BAD_REQUEST,
        "bad_request",
    )
    .await;
    let fresh = worker.batch(team, &envelopes(&worker, team, CASE, 4, 2));
    assert_eq!(
        relay.push_ok(&worker_token, team, fresh).await,
        [(1, false)]
    );

    // Each device gets only its own bundles; a redeeming device also its invite's.
    let keys = |token: String| {
        let relay = &relay;
        async move {
            let body: Value = relay
                .get(&token, &format!("/v1/teams/{team}/keys?after=0&limit=10"))
                .await
                .json()
                .await
                .unwrap();
            body["bundles"]
                .as_array()
                .unwrap()
                .iter()
                .map(|b| {
                    let bytes = hex::decode(b["bundle"].as_str().unwrap()).unwrap();
                    holdfast_protocol::KeyBundle::decode(&bytes)
                        .unwrap()
                        .header
                        .recipient
                })
                .collect::<Vec<_>>()
        }
    };
    // The worker: its invite's bundle (epoch 1) and its own (epoch 2).
    let worker_keys = keys(worker_token.clone()).await;
    assert_eq!(worker_keys.len(), 2);
    assert_eq!(worker_keys[1], worker.id.0);
    assert!(
        worker_keys
            .iter()
            .all(|r| *r != admin.id.0 && *r != pending.id().0)
    );
    let newcomer = Device::new();
    assert_eq!(
        relay.redeem(team, &pending, &newcomer).await.status(),
        StatusCode::CREATED
    );
    let newcomer_token = relay.login(&newcomer).await;
    assert_eq!(keys(newcomer_token).await, [pending.id().0, pending.id().0]);

    // Bundles reach a device only with the entry that needs them (an Invite, a Revoke):
    // nobody can post bundles straight into another device's key pages.
    let response = relay
        .http
        .post(relay.at(&format!("/v1/teams/{team}/keys")))
        .bearer_auth(&admin_token)
        .json(&serde_json::json!({"bundles": []}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    // A staged bundle claiming another sender is refused.
    let forged = worker.bundle(team, newcomer.id.0, newcomer.hpke.public_key(), 3);
    let response = relay
        .http
        .post(relay.at(&format!("/v1/teams/{team}/keys/staged")))
        .bearer_auth(&admin_token)
        .json(&serde_json::json!({
            "key_commitment": hex::encode([3u8; 32]),
            "bundles": [hex::encode(&forged)],
        }))
        .send()
        .await
        .unwrap();
    expect_error(response, StatusCode::BAD_REQUEST, "wrong_author").await;
}

/// An invite lives at most 7 days, and one device may leave at most
/// `MAX_PENDING_INVITES` open at once: what a stolen phone can leave behind is bounded,
/// and an invite left open cannot collect every new epoch's key for months.
#[tokio::test]
async fn invites_are_bounded_in_lifetime_and_in_number_per_inviter() {
    let relay = Relay::start_with(holdfast_relay::Limits {
        rate_limit_per_second: 0.0,
        ..holdfast_relay::Limits::default()
    })
    .await;
    let admin = Device::new();
    let team = relay.create_team(&admin).await;
    let token = relay.login(&admin).await;
    let week = holdfast_protocol::MAX_INVITE_LIFETIME_MS;
    let (_, response) = relay
        .invite(
            &token,
            team,
            &admin,
            Role::LinkWorker,
            None,
            relay.now_ms() + week + 60_000,
        )
        .await;
    let message = expect_error(response, StatusCode::BAD_REQUEST, "bad_request").await;
    assert!(message.contains("7 days"), "{message}");
    let mut codes = Vec::new();
    for _ in 0..holdfast_protocol::MAX_PENDING_INVITES {
        let (code, response) = relay
            .invite(
                &token,
                team,
                &admin,
                Role::LinkWorker,
                None,
                relay.now_ms() + week - 60_000,
            )
            .await;
        assert_eq!(response.status(), StatusCode::CREATED);
        codes.push(code);
    }
    let (_, response) = relay
        .invite(
            &token,
            team,
            &admin,
            Role::LinkWorker,
            None,
            relay.now_ms() + 60_000,
        )
        .await;
    expect_error(response, StatusCode::TOO_MANY_REQUESTS, "too_many_invites").await;
    // One used: room for one more.
    assert_eq!(
        relay.redeem(team, &codes[0], &Device::new()).await.status(),
        StatusCode::CREATED
    );
    let (_, response) = relay
        .invite(
            &token,
            team,
            &admin,
            Role::LinkWorker,
            None,
            relay.now_ms() + 60_000,
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
}

/// An invite's 7 days run from its entry's own time, not the relay's now: a phone whose
/// clock runs 90 s ahead (within the skew the relay allows) may make an invite of the full 7
/// days. (Found by the simulation, tests/tests/simulation.rs: a device ahead had every
/// 7-day invite refused.)
#[tokio::test]
async fn an_invites_lifetime_runs_from_its_entrys_time() {
    let clock = ManualClock::at(CLOCK_START_MS);
    let relay = Relay::start_with_clock(clock.clone()).await;
    let ahead = ManualClock::at(CLOCK_START_MS + 90_000);
    let admin = Device::with_clock(std::sync::Arc::new(ahead.clone()));
    let team = relay.create_team(&admin).await;
    let token = relay.login(&admin).await;
    let week = holdfast_protocol::MAX_INVITE_LIFETIME_MS;
    let (_, response) = relay
        .invite(
            &token,
            team,
            &admin,
            Role::LinkWorker,
            None,
            CLOCK_START_MS + 90_000 + week,
        )
        .await;
    assert_eq!(
        response.status(),
        StatusCode::CREATED,
        "7 days from the entry"
    );
    let (_, response) = relay
        .invite(
            &token,
            team,
            &admin,
            Role::LinkWorker,
            None,
            CLOCK_START_MS + 90_000 + week + 1,
        )
        .await;
    let message = expect_error(response, StatusCode::BAD_REQUEST, "bad_request").await;
    assert!(message.contains("7 days"), "{message}");
}

/// A key bundle is no longer than one key per epoch makes it: junk dressed as keys (to fill
/// the relay, or a device's key pages) is refused at the door.
#[tokio::test]
async fn key_bundles_longer_than_the_teams_epochs_need_are_refused() {
    use holdfast_protocol::{BundleHeader, EpochKey, KeyBundle, SystemRandom, WrappedKey};
    let relay = Relay::start().await;
    let admin = Device::new();
    let team = relay.create_team(&admin).await;
    let token = relay.login(&admin).await;
    let post = |bundle: Vec<u8>| {
        relay
            .http
            .post(relay.at(&format!("/v1/teams/{team}/keys/staged")))
            .bearer_auth(&token)
            .json(&serde_json::json!({
                "key_commitment": hex::encode([2u8; 32]),
                "bundles": [hex::encode(bundle)],
            }))
            .send()
    };
    let seal = |keys: usize| {
        let header = BundleHeader {
            team,
            recipient: admin.id.0,
            sender: admin.id,
            at_ms: admin.now_ms(),
        };
        let wrapped: Vec<WrappedKey> = (0..keys)
            .map(|e| WrappedKey::Epoch {
                epoch: 1 + e as u32,
                key: EpochKey::generate(&SystemRandom::new()).unwrap(),
            })
            .collect();
        KeyBundle::seal(header, admin.hpke.public_key(), &wrapped, &admin.key).unwrap()
    };
    // Staged for epoch 2: two keys are what a bundle can need.
    assert_eq!(post(seal(2)).await.unwrap().status(), StatusCode::CREATED);
    let message = expect_error(
        post(seal(40)).await.unwrap(),
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
    )
    .await;
    assert!(message.contains("epochs"), "{message}");
}

/// A revocation too big for one request: the revoker stages bundles first (up to 1,000 a
/// request), then appends the Revoke with the rest. The relay counts what was staged for
/// that commitment, delivers it with the entry, and never the revoked device's.
#[tokio::test]
async fn a_revocation_delivers_what_its_revoker_staged() {
    let relay = Relay::start_with(holdfast_relay::Limits {
        rate_limit_per_second: 0.0,
        ..holdfast_relay::Limits::default()
    })
    .await;
    let admin = Device::new();
    let team = relay.create_team(&admin).await;
    let token = relay.login(&admin).await;
    let (one, two, lost, supervisor) = (Device::new(), Device::new(), Device::new(), Device::new());
    for d in [&one, &two, &lost] {
        relay
            .enrol(&token, team, &admin, d, Role::LinkWorker, None)
            .await;
    }
    relay
        .enrol(&token, team, &admin, &supervisor, Role::Supervisor, None)
        .await;
    let entry = admin.revoke_entry(team, lost.id, 2);
    let commitment = [2u8; 32];
    let stage = |token: String, bundles: Vec<Vec<u8>>| {
        let relay = &relay;
        async move {
            relay
                .http
                .post(relay.at(&format!("/v1/teams/{team}/keys/staged")))
                .bearer_auth(&token)
                .json(&serde_json::json!({
                    "key_commitment": hex::encode(commitment),
                    "bundles": bundles.iter().map(hex::encode).collect::<Vec<_>>(),
                }))
                .send()
                .await
                .unwrap()
        }
    };
    let to = |d: &Device| admin.bundle(team, d.id.0, d.hpke.public_key(), 2);
    // The revoked device's bundle is staged by mistake: it must never be delivered.
    let response = stage(token.clone(), vec![to(&one), to(&lost)]).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(response.json::<Value>().await.unwrap()["staged"], 2);
    // One bundle per recipient in a request.
    expect_error(
        stage(token.clone(), vec![to(&two), to(&two)]).await,
        StatusCode::BAD_REQUEST,
        "bad_request",
    )
    .await;
    // A supervisor may revoke nobody, so it stages nothing.
    let supervisor_token = relay.login(&supervisor).await;
    expect_error(
        stage(supervisor_token, vec![]).await,
        StatusCode::FORBIDDEN,
        "not_allowed",
    )
    .await;

    // The Revoke carries the admin's and the supervisor's bundles; `two` has none yet.
    let len = relay.membership_len(&token, team).await;
    let inline = [to(&admin), to(&supervisor)];
    let message = expect_error(
        relay.append(&token, team, &entry, &inline, len).await,
        StatusCode::BAD_REQUEST,
        "missing_key_bundles",
    )
    .await;
    assert!(message.contains(&hex::encode(two.id.0)), "{message}");
    assert!(!message.contains(&hex::encode(one.id.0)), "{message}");
    let response = stage(token.clone(), vec![to(&two)]).await;
    assert_eq!(response.json::<Value>().await.unwrap()["staged"], 3);
    let response = relay.append(&token, team, &entry, &inline, len).await;
    assert_eq!(response.status(), StatusCode::CREATED);

    // Every remaining device has its epoch-2 bundle from the admin, once.
    for d in [&admin, &one, &two, &supervisor] {
        let t = relay.login(d).await;
        let body: Value = relay
            .get(&t, &format!("/v1/teams/{team}/keys?after=0"))
            .await
            .json()
            .await
            .unwrap();
        let from_admin: Vec<KeyBundle> = body["bundles"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| {
                KeyBundle::decode(&hex::decode(b["bundle"].as_str().unwrap()).unwrap()).unwrap()
            })
            .filter(|b| b.header.recipient == d.id.0)
            .collect();
        assert_eq!(from_admin.len(), 1, "one bundle for {}", d.id);
        let keys = from_admin[0]
            .open(&admin.key.public_key(), &d.hpke)
            .unwrap();
        assert!(matches!(keys[..], [WrappedKey::Epoch { epoch: 2, .. }]));
    }
    // What was staged went with the Revoke: staging again starts from nothing.
    let response = stage(token.clone(), vec![to(&one)]).await;
    assert_eq!(response.json::<Value>().await.unwrap()["staged"], 1);
}

/// A link worker's private notes at the relay: only their owner, supervisors and admins
/// push to them or pull them by `doc=`; a colleague's pages leave them out. Their key is
/// handed on (`POST /keys/private-notes`) to supervisors and admins alone, each sender's
/// latest bundle to a recipient replacing its last, and no longer than one key per staff
/// device; a patient hands on nothing.
#[tokio::test]
async fn private_notes_and_their_keys_stay_with_their_owner_supervisors_and_admins() {
    use holdfast_protocol::{BundleHeader, PrivateNotesKey, SystemRandom, private_notes_id};
    let relay = Relay::start().await;
    let admin = Device::new();
    let (supervisor, owner, colleague, patient) =
        (Device::new(), Device::new(), Device::new(), Device::new());
    let team = relay.create_team(&admin).await;
    let admin_token = relay.login(&admin).await;
    relay
        .enrol(
            &admin_token,
            team,
            &admin,
            &supervisor,
            Role::Supervisor,
            None,
        )
        .await;
    for d in [&owner, &colleague] {
        relay
            .enrol(&admin_token, team, &admin, d, Role::LinkWorker, None)
            .await;
    }
    let owner_token = relay.login(&owner).await;
    relay
        .enrol(
            &owner_token,
            team,
            &owner,
            &patient,
            Role::Patient,
            Some(PLAN_A),
        )
        .await;
    let (supervisor_token, colleague_token, patient_token) = (
        relay.login(&supervisor).await,
        relay.login(&colleague).await,
        relay.login(&patient).await,
    );
    let notes = private_notes_id(&team, &owner.id);

    // Writes: the owner and a supervisor; not a colleague, not a patient.
    let batch = |d: &Device, salt| {
        d.batch(
            team,
            &[d.envelope(team, notes, Kind::ChangeBatch, 0, salt, 64)],
        )
    };
    assert_eq!(
        relay
            .push_ok(&owner_token, team, batch(&owner, 1))
            .await
            .len(),
        1
    );
    assert_eq!(
        relay
            .push_ok(&supervisor_token, team, batch(&supervisor, 2))
            .await
            .len(),
        1
    );
    let message = expect_error(
        relay
            .push(&colleague_token, team, batch(&colleague, 3))
            .await,
        StatusCode::FORBIDDEN,
        "private_notes",
    )
    .await;
    assert!(message.contains("private notes"), "{message}");
    expect_error(
        relay.push(&patient_token, team, batch(&patient, 4)).await,
        StatusCode::FORBIDDEN,
        "not_allowed",
    )
    .await;
    let case = colleague.batch(
        team,
        &[colleague.envelope(team, CASE, Kind::ChangeBatch, 0, 5, 64)],
    );
    relay.push_ok(&colleague_token, team, case).await;

    // Reads: every page and the ids leave them out for the colleague.
    let seqs = |items: Vec<(u64, Vec<u8>)>| items.into_iter().map(|(s, _)| s).collect::<Vec<_>>();
    assert_eq!(
        seqs(relay.pull_all(&admin_token, team, "").await),
        [1, 2, 3]
    );
    assert_eq!(seqs(relay.pull_all(&colleague_token, team, "").await), [3]);
    assert_eq!(
        seqs(
            relay
                .pull_all(&colleague_token, team, "&compact=true")
                .await
        ),
        [3]
    );
    assert_eq!(
        seqs(
            relay
                .pull_all(&supervisor_token, team, &format!("&doc={notes}"))
                .await
        ),
        [1, 2]
    );
    expect_error(
        relay
            .pull(&colleague_token, team, &format!("after=0&doc={notes}"))
            .await,
        StatusCode::FORBIDDEN,
        "private_notes",
    )
    .await;
    let ids: Value = relay
        .get(
            &colleague_token,
            &format!("/v1/teams/{team}/envelopes/ids?at=1,2,3"),
        )
        .await
        .json()
        .await
        .unwrap();
    assert!(ids["ids"][0].is_null() && ids["ids"][1].is_null() && ids["ids"][2].is_string());

    // The notes key goes to the supervisor and the admin, and to nobody else.
    let notes_key = PrivateNotesKey::generate(&SystemRandom::new()).unwrap();
    let seal = |by: &Device, to: &Device, keys: usize| {
        let header = BundleHeader {
            team,
            recipient: to.id.0,
            sender: by.id,
            at_ms: by.now_ms(),
        };
        let wrapped: Vec<WrappedKey> = (0..keys)
            .map(|_| WrappedKey::PrivateNotes {
                document: notes,
                key: notes_key.clone(),
            })
            .collect();
        hex::encode(KeyBundle::seal(header, to.hpke.public_key(), &wrapped, &by.key).unwrap())
    };
    let hand_on = |token: &str, bundles: Vec<String>| {
        relay
            .http
            .post(relay.at(&format!("/v1/teams/{team}/keys/private-notes")))
            .bearer_auth(token)
            .json(&serde_json::json!({ "bundles": bundles }))
            .send()
    };
    let response = hand_on(
        &owner_token,
        vec![seal(&owner, &supervisor, 1), seal(&owner, &admin, 1)],
    )
    .await
    .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(response.json::<Value>().await.unwrap()["stored"], 2);
    for refused in [
        seal(&owner, &colleague, 1),
        seal(&owner, &owner, 1),
        seal(&owner, &patient, 1),
    ] {
        expect_error(
            hand_on(&owner_token, vec![refused]).await.unwrap(),
            StatusCode::FORBIDDEN,
            "private_notes",
        )
        .await;
    }
    expect_error(
        hand_on(&patient_token, vec![seal(&patient, &supervisor, 1)])
            .await
            .unwrap(),
        StatusCode::FORBIDDEN,
        "not_allowed",
    )
    .await;
    // Four staff devices (four notes documents): a bundle of four keys may come, not of
    // forty.
    expect_error(
        hand_on(&owner_token, vec![seal(&owner, &supervisor, 40)])
            .await
            .unwrap(),
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
    )
    .await;
    let again = hand_on(&owner_token, vec![seal(&owner, &supervisor, 4)])
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::CREATED);
    let keys: Value = relay
        .get(&supervisor_token, &format!("/v1/teams/{team}/keys?after=0"))
        .await
        .json()
        .await
        .unwrap();
    let from_owner: Vec<KeyBundle> = keys["bundles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| KeyBundle::decode(&hex::decode(b["bundle"].as_str().unwrap()).unwrap()).unwrap())
        .filter(|b| b.header.sender == owner.id)
        .collect();
    assert_eq!(from_owner.len(), 1, "the latest replaced the first");
    let opened = from_owner[0]
        .open(&owner.key.public_key(), &supervisor.hpke)
        .unwrap();
    assert_eq!(opened.len(), 4);
    let colleague_keys: Value = relay
        .get(&colleague_token, &format!("/v1/teams/{team}/keys?after=0"))
        .await
        .json()
        .await
        .unwrap();
    assert!(
        colleague_keys["bundles"]
            .as_array()
            .unwrap()
            .iter()
            .all(
                |b| !KeyBundle::decode(&hex::decode(b["bundle"].as_str().unwrap()).unwrap())
                    .unwrap()
                    .header
                    .sender
                    .eq(&owner.id)
            )
    );
}
