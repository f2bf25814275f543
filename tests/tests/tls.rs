//! TLS end to end, with a throwaway certificate authority made in the test (rcgen) and the
//! relay terminating TLS itself (`TestRelay::builder().tls(…)`, as `--tls-cert` and
//! `--tls-key` do):
//!
//! - a team on a self-hosted relay: its admin pins the relay's CA, the invite code carries
//!   the pin, and a new device enrols, pushes, pulls and follows the team live over HTTPS and
//!   WSS, trusting that CA alone;
//! - refused, each with a clear error and before anything is sent (the relay completes no
//!   handshake, so it reads no request): a certificate from another CA (even one that
//!   presents the pinned CA's certificate alongside), one for another host name, an expired
//!   one, a private CA's certificate where no pin was given (the platform's roots do not
//!   hold it), and a plain `http://` relay on another host (no connection is even tried);
//! - the relay serves a replaced certificate after a reload, and keeps the old one when the
//!   new pair does not load.

use holdfast_core::model::case_file::NewPatient;
use holdfast_core::sync::{PlainHttp, RelayPin, Role};
use holdfast_core::{Error, TeamId};
use holdfast_protocol::{InviteCode, SystemRandom};
use holdfast_relay::testing::TestRelay;
use holdfast_tests::Device;
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose,
    date_time_ymd,
};

// ---------------------------------------------------------------------------------------
// A certificate authority of the test's own.

/// A CA, as a self-hosted relay's operator would make one.
struct TestCa {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

/// A leaf certificate's chain (leaf, then the CA) and key, in PEM.
struct Leaf {
    chain: String,
    key: String,
}

impl TestCa {
    fn new(name: &str) -> TestCa {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let issuer = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
        TestCa { issuer }
    }

    /// What an invite code carries for a relay with this CA.
    fn pin(&self) -> RelayPin {
        RelayPin::of_ca_certificate(self.issuer.der())
    }

    /// A leaf for `names` (host names or IP addresses), valid now.
    fn leaf(&self, names: &[&str]) -> Leaf {
        self.leaf_with(names, |_| {})
    }

    /// A leaf for `names`, its parameters adjusted by `adjust` (dates, say).
    fn leaf_with(&self, names: &[&str], adjust: impl FnOnce(&mut CertificateParams)) -> Leaf {
        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let mut params = CertificateParams::new(names).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, "holdfast relay");
        adjust(&mut params);
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        Leaf {
            // The CA's own certificate ends the chain: a device checks its pin against it.
            chain: format!("{}{}", cert.pem(), self.issuer.pem()),
            key: key.serialize_pem(),
        }
    }
}

/// A relay terminating TLS with `leaf`.
async fn relay_with(leaf: &Leaf) -> TestRelay {
    TestRelay::builder()
        .tls(leaf.chain.clone(), leaf.key.clone())
        .start()
        .await
}

/// The names a relay on loopback is reached by.
const LOOPBACK: &[&str] = &["localhost", "127.0.0.1"];

/// An invite code for the relay at `url`, pinning `pin`: the first request of its redeem is
/// where a refusal shows. Its team and secret are made up (the refusals come before the relay
/// could say so).
fn code_for(url: &str, pin: Option<RelayPin>) -> String {
    InviteCode::generate(
        &SystemRandom::new(),
        url,
        TeamId::random(),
        [7; 16],
        Role::LinkWorker,
        None,
        u64::MAX,
    )
    .unwrap()
    .with_relay_pin(pin)
    .encode()
}

/// Redeems `code` on a new device: it must fail, and the device must have joined nothing.
async fn refused_redeem(code: &str) -> Error {
    let device = Device::new("Priya Natarajan");
    let err = device
        .client
        .redeem_invite(&device.keys, code)
        .await
        .expect_err("the redeem is refused");
    assert!(device.s().teams().unwrap().is_empty(), "joined nothing");
    err
}

/// `err` is a refused certificate whose message says `why`.
fn assert_tls_refusal(err: &Error, why: &str) {
    match err {
        Error::Tls(message) => assert!(message.contains(why), "{message:?} lacks {why:?}"),
        other => panic!("expected a refused certificate ({why}), got {other:?}"),
    }
    assert!(err.to_string().contains("nothing was sent"), "{err}");
}

/// The relay completed no handshake, so it read no request; `failed` handshakes were
/// refused.
async fn assert_nothing_reached(relay: &TestRelay, failed: u64) {
    let counters = relay.tls_counters();
    // The relay's side of a refused handshake ends when the client's alert arrives, which
    // may be a moment after the client gave up.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    while counters.failures() < failed && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(counters.failures(), failed);
    assert_eq!(counters.handshakes(), 0, "a handshake completed");
}

// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_enrols_and_syncs_over_tls_with_the_relays_ca_pinned_in_its_invite() {
    let ca = TestCa::new("Holdfast test CA");
    let relay = relay_with(&ca.leaf(LOOPBACK)).await;
    let url = relay.url();
    assert!(url.starts_with("https://127.0.0.1:"), "{url}");

    // The admin makes the team on this relay, trusting its CA (`team create --relay-ca`).
    let admin = Device::new("Sam Okafor");
    let team = admin
        .s()
        .create_team_with(&url, Some(ca.pin()), PlainHttp::LoopbackOnly)
        .unwrap();
    admin.client.register_team(team).await.unwrap();

    // The invite code carries the pin (a version-2 code); the new device trusts the relay
    // through it from its first request.
    let code = admin
        .client
        .create_invite(team, Role::LinkWorker, None, 60_000)
        .await
        .unwrap();
    assert_eq!(InviteCode::decode(&code).unwrap().relay_pin, Some(ca.pin()));
    let worker = Device::new("Priya Natarajan");
    let enrolled = worker
        .client
        .redeem_invite(&worker.keys, &code)
        .await
        .unwrap();
    enrolled.first_sync.unwrap();
    let info = worker.s().team(team).unwrap();
    assert_eq!(
        (info.relay_url.as_str(), info.relay_pin),
        (url.as_str(), Some(ca.pin()))
    );

    // Live over WSS: the worker's live socket hears of the admin's push and pulls.
    let live = worker.client.live(team);
    let case = admin
        .s()
        .create_case_file(NewPatient::named("Wilhelmina Featherstonehaugh"))
        .unwrap();
    let pushed = admin.sync(team).await;
    assert!(pushed.push.acknowledged >= 1, "{pushed:?}");
    worker
        .wait_until("the case to arrive over the live socket", |s| {
            s.caseload(&Default::default()).unwrap().len() == 1
        })
        .await;

    // Push from the new device; the admin pulls it.
    worker
        .s()
        .add_supervision_comment(case.case_id, "well held")
        .unwrap();
    worker.client.notify_local_change();
    worker
        .wait_until("the comment to reach the relay", |s| {
            s.sync_status(team).unwrap().everything_uploaded
        })
        .await;
    let pulled = admin.sync(team).await;
    assert!(pulled.pull.applied >= 1, "{pulled:?}");
    assert_eq!(
        admin.s().case_file(case.case_id).unwrap().supervision.len(),
        1
    );
    live.stop();

    let counters = relay.tls_counters();
    assert!(counters.handshakes() >= 2, "{}", counters.handshakes());
    assert_eq!(counters.failures(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_from_another_ca_is_refused_before_anything_is_sent() {
    let ca = TestCa::new("Holdfast test CA");
    let impostor = TestCa::new("Someone else's CA");
    // The impostor even presents the pinned CA's certificate (it is public): its leaf is
    // not signed by it, and that is what counts.
    let mut leaf = impostor.leaf(LOOPBACK);
    leaf.chain.push_str(&ca.issuer.pem());
    let relay = relay_with(&leaf).await;

    let err = refused_redeem(&code_for(&relay.url(), Some(ca.pin()))).await;
    assert_tls_refusal(
        &err,
        "not issued by a certificate authority this device trusts",
    );
    // And without the pinned CA in the chain at all.
    let relay_2 = relay_with(&impostor.leaf(LOOPBACK)).await;
    let err = refused_redeem(&code_for(&relay_2.url(), Some(ca.pin()))).await;
    assert_tls_refusal(
        &err,
        "did not present the certificate authority pinned for it",
    );

    assert_nothing_reached(&relay, 1).await;
    assert_nothing_reached(&relay_2, 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_for_another_host_name_is_refused_before_anything_is_sent() {
    let ca = TestCa::new("Holdfast test CA");
    // The right CA, but a certificate for another relay; the device asks for 127.0.0.1.
    let relay = relay_with(&ca.leaf(&["relay.example.org"])).await;
    let err = refused_redeem(&code_for(&relay.url(), Some(ca.pin()))).await;
    assert_tls_refusal(&err, "for another host name than the relay address");
    assert_nothing_reached(&relay, 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_certificate_is_refused_before_anything_is_sent() {
    let ca = TestCa::new("Holdfast test CA");
    let expired = ca.leaf_with(LOOPBACK, |p| {
        p.not_before = date_time_ymd(2020, 1, 1);
        p.not_after = date_time_ymd(2021, 1, 1);
    });
    let relay = relay_with(&expired).await;
    let err = refused_redeem(&code_for(&relay.url(), Some(ca.pin()))).await;
    assert_tls_refusal(&err, "it has expired");
    assert_nothing_reached(&relay, 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_private_ca_is_not_trusted_without_its_pin() {
    // A code without a pin means the platform's roots, and they do not hold a CA made here.
    let ca = TestCa::new("Holdfast test CA");
    let relay = relay_with(&ca.leaf(LOOPBACK)).await;
    let err = refused_redeem(&code_for(&relay.url(), None)).await;
    assert_tls_refusal(&err, "the relay's certificate was refused");
    assert_nothing_reached(&relay, 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_to_another_host_is_refused_without_a_connection() {
    // `.invalid` never resolves: had the client tried to connect, the error would be the
    // network's, not the address check's.
    let url = "http://relay.example.invalid:7878";
    let err = refused_redeem(&code_for(url, None)).await;
    assert!(
        matches!(&err, Error::InvalidInput { field: "relay URL", reason }
            if reason.contains("http:// is only for a relay on this computer")),
        "{err:?}"
    );
    // Nor can a team be made there, or synced if one was (a store from before this rule, or
    // a developer's with the insecure flag), by a client without the flag.
    let admin = Device::new("Sam Okafor");
    assert!(matches!(
        admin.s().create_team(url),
        Err(Error::InvalidInput { .. })
    ));
    let team = admin
        .s()
        .create_team_with(url, None, PlainHttp::AnyHost)
        .unwrap();
    let err = admin.client.sync(team).await.unwrap_err();
    assert!(
        matches!(
            &err,
            Error::InvalidInput {
                field: "relay URL",
                ..
            }
        ),
        "{err:?}"
    );
    let status = admin.s().sync_status(team).unwrap();
    assert!(!status.offline, "a refused address is not 'offline'");
    // Loopback http stays fine (a relay on this computer).
    let local = TestRelay::start().await;
    let other = Device::new("Jo Whitfield");
    let team = other.create_team(&local.url()).await;
    other.sync(team).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replaced_certificate_is_served_after_a_reload_and_a_broken_one_is_not() {
    let old_ca = TestCa::new("Holdfast test CA 2026");
    let new_ca = TestCa::new("Holdfast test CA 2027");
    let relay = relay_with(&old_ca.leaf(LOOPBACK)).await;
    let url = relay.url();
    // Each check on a new device: a new connection (an open one keeps its certificate).
    let check = |pin: RelayPin| {
        let url = url.clone();
        async move {
            let device = Device::new("Sam Okafor");
            device.client.check_relay(&url, Some(pin)).await
        }
    };
    check(old_ca.pin()).await.unwrap();
    assert!(matches!(check(new_ca.pin()).await, Err(Error::Tls(_))));

    // The operator puts the new pair in place and signals the relay.
    let files = relay.tls_files().unwrap().clone();
    let new_leaf = new_ca.leaf(LOOPBACK);
    std::fs::write(&files.cert, &new_leaf.chain).unwrap();
    std::fs::write(&files.key, &new_leaf.key).unwrap();
    relay.reload_tls().unwrap();
    check(new_ca.pin()).await.unwrap();
    assert!(matches!(check(old_ca.pin()).await, Err(Error::Tls(_))));

    // A pair that does not fit (another leaf's key) is refused, and the relay goes on
    // serving the one it had.
    std::fs::write(&files.key, old_ca.leaf(LOOPBACK).key).unwrap();
    let err = relay.reload_tls().unwrap_err();
    assert!(err.to_string().contains("does not fit"), "{err}");
    check(new_ca.pin()).await.unwrap();

    // A relay that cannot load its pair does not start, and says why.
    let broken = TestRelay::builder()
        .tls(new_leaf.chain.clone(), "not a key")
        .try_start()
        .await
        .unwrap_err();
    assert!(broken.to_string().contains("--tls-key"), "{broken}");
}
