//! `holdfast` sync commands end to end: the real binary, devices in temporary folders and a
//! relay started in this test process (`holdfast_relay::testing::TestRelay` on 127.0.0.1:0).

use std::io::{BufRead, BufReader, Lines};
use std::path::PathBuf;
use std::process::{ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use holdfast_relay::testing::TestRelay;
use serde_json::Value;

/// Reads a watcher's output line by line (into `seen`) until a line contains `wanted`;
/// returns that line. Fails if the watcher stops first.
fn read_until(
    lines: &mut Lines<BufReader<ChildStdout>>,
    seen: &mut String,
    wanted: &str,
) -> String {
    for line in lines.by_ref() {
        let line = line.unwrap();
        seen.push_str(&line);
        seen.push('\n');
        if line.contains(wanted) {
            return line;
        }
    }
    panic!("the watcher stopped before printing {wanted:?}:\n{seen}");
}

/// A loopback address where nothing listens.
fn closed_port_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}")
}

/// A device in a temporary folder, driven through the real binary.
struct Device {
    dir: tempfile::TempDir,
}

#[derive(Debug)]
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn holdfast() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_holdfast"));
    c.env_remove("HOLDFAST_HOME")
        .env_remove("HOLDFAST_KEYS")
        .env_remove("HOLDFAST_LOG")
        .env_remove("HOLDFAST_INVITE")
        .env_remove("HOLDFAST_CREATION_TOKEN")
        .env("TZ", "UTC");
    c
}

impl Device {
    fn new(name: &str) -> Self {
        let d = Device {
            dir: tempfile::tempdir().unwrap(),
        };
        d.ok(&["init", "--name", name]);
        d
    }

    fn home(&self) -> PathBuf {
        self.dir.path().join("device")
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = holdfast();
        c.arg("--home").arg(self.home()).args(args);
        c
    }

    fn run(&self, args: &[&str]) -> Run {
        let out = self.command(args).output().unwrap();
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8(out.stdout).unwrap(),
            stderr: String::from_utf8(out.stderr).unwrap(),
        }
    }

    fn ok(&self, args: &[&str]) -> String {
        let r = self.run(args);
        assert_eq!(r.code, 0, "{args:?} failed: {r:?}");
        assert!(r.stderr.is_empty(), "{args:?} wrote to stderr: {r:?}");
        r.stdout
    }

    fn json(&self, args: &[&str]) -> Value {
        let mut with = vec!["--json"];
        with.extend_from_slice(args);
        let out = self.ok(&with);
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{args:?}: {e}: {out}"))
    }

    /// A command that must fail with exit 1 and exactly one error line; returns it.
    fn fails(&self, args: &[&str]) -> String {
        let r = self.run(args);
        assert_eq!(r.code, 1, "{args:?}: {r:?}");
        assert!(r.stdout.is_empty(), "{args:?} printed: {r:?}");
        let lines: Vec<&str> = r.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "{args:?}: not one line: {r:?}");
        assert!(lines[0].starts_with("holdfast: error: "), "{args:?}: {r:?}");
        assert!(!r.stderr.contains("panicked"), "{r:?}");
        lines[0].to_owned()
    }

    /// This device's id, from `device show`.
    fn id(&self) -> String {
        let j = self.json(&["device", "show"]);
        let id = j["device_id"].as_str().unwrap().to_owned();
        assert_eq!(id.len(), 32);
        id
    }

    /// Runs `args` with `input` on standard input.
    fn with_stdin(&self, args: &[&str], input: &str) -> Run {
        use std::io::Write as _;
        let mut child = self
            .command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8(out.stdout).unwrap(),
            stderr: String::from_utf8(out.stderr).unwrap(),
        }
    }
}

#[test]
fn the_demo_converges_and_stops_by_itself() {
    let started = Instant::now();
    let out = holdfast()
        .args(["demo", "--patients", "5", "--assets", "20"])
        .current_dir(tempfile::tempdir().unwrap().path())
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stderr.is_empty(), "{stderr}");
    for says in [
        "Converged: yes",
        "Heads equal on A, B and S: yes",
        "5 cases",
        "IN CONFLICT",
        "set by Sam Okafor",
        "set by Priya Natarajan",
        "B and S see exactly the same",
        "envelopes stored",
    ] {
        assert!(stdout.contains(says), "missing {says:?}:\n{stdout}");
    }
    assert!(started.elapsed() < Duration::from_secs(120));

    let out = holdfast()
        .args(["--json", "demo", "--patients", "5", "--assets", "20"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let j: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["converged"], true);
    assert_eq!(j["heads_equal"], true);
    let devices = j["devices"].as_array().unwrap();
    assert_eq!(devices.len(), 3);
    for d in devices {
        assert_eq!(d["cases"], 5);
        assert_eq!(d["everything_uploaded"], true);
        assert_eq!(
            d["shared_case_status"]["claims"].as_array().unwrap().len(),
            2
        );
        assert_eq!(d["shared_case_heads"], devices[0]["shared_case_heads"]);
    }
    assert!(j["relay"]["envelopes_stored"].as_u64().unwrap() >= 13);
}

#[test]
fn a_relay_that_asks_for_a_creation_token_gets_it_from_team_create_or_the_environment() {
    const TOKEN: &str = "5b0e8a1f3c9d47e2b6a0c4d8e2f61a3b";
    let mut relay = TestRelay::builder()
        .team_creation_tokens(&[TOKEN])
        .blocking_start();
    let url = relay.url();

    // Without the token: one line that says what to do; the team waits on the device.
    let admin = Device::new("Sam Okafor");
    let line = admin.fails(&["team", "create", "--relay", &url]);
    assert!(line.contains("team-creation token"), "{line}");
    assert!(line.contains("HOLDFAST_CREATION_TOKEN"), "{line}");
    let teams = admin.json(&["team", "list"]);
    assert_eq!(teams[0]["registered"], false, "{teams}");
    // `holdfast sync` with the token in the environment registers it.
    let mut sync = admin.command(&["sync"]);
    let out = sync.env("HOLDFAST_CREATION_TOKEN", TOKEN).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(admin.json(&["team", "list"])[0]["registered"], true);

    // With the flag, at once; a wrong one is refused.
    let other = Device::new("Priya Natarajan");
    let wrong = "0".repeat(32);
    let line = other.fails(&[
        "team",
        "create",
        "--relay",
        &url,
        "--creation-token",
        &wrong,
    ]);
    assert!(line.contains("not one this relay accepts"), "{line}");
    let third = Device::new("Lee Quinn");
    let created = third.json(&["team", "create", "--relay", &url, "--creation-token", TOKEN]);
    assert_eq!(created["registered"], true, "{created}");
    relay.blocking_stop();
}

#[test]
fn invites_fail_plainly_before_anything_is_sent() {
    let d = Device::new("Jo Whitfield");
    // No team: nothing to invite to, nothing to list.
    for args in [
        &["invite", "create", "--role", "link-worker"][..],
        &["device", "list"],
        &["device", "revoke", "00112233"],
    ] {
        assert!(d.fails(args).contains("in no team"), "{args:?}");
    }
    // Codes that are not codes: refused here, never echoed.
    for bad in ["nothex", "HF1-!!!!", "HF1-AAAA"] {
        let line = d.fails(&["invite", "redeem", bad]);
        assert!(line.contains("invite refused"), "{line}");
        assert!(!line.contains(bad), "the code is not echoed: {line}");
    }
    // Nothing on stdin either.
    let r = d.with_stdin(&["invite", "redeem"], "\n");
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("no invite code"), "{r:?}");
    // A patient is invited to a plan, not with --role.
    let r = d.run(&["invite", "create", "--role", "patient"]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains("plan share"), "{r:?}");
    // The team-secret commands are gone.
    assert_eq!(d.run(&["team", "secret"]).code, 2);
    assert_eq!(d.json(&["team", "list"]), serde_json::json!([]));
}

#[test]
fn a_team_grows_by_invites_shares_a_plan_and_revokes_a_device() {
    let mut relay = TestRelay::blocking_start();
    let url = relay.url();
    let admin = Device::new("Sam Okafor");
    let colleague = Device::new("Priya Natarajan");

    // Nothing is shared yet.
    assert!(admin.ok(&["status"]).contains("in no team"));
    assert!(admin.fails(&["sync"]).contains("team create"));

    // The admin creates the team: an id, no secret.
    let created = admin.ok(&["team", "create", "--relay", &url]);
    assert!(!created.to_lowercase().contains("secret"), "{created}");
    let team = created
        .lines()
        .find_map(|l| l.trim().strip_prefix("team id"))
        .unwrap()
        .trim()
        .to_owned();
    assert_eq!(team.len(), 32);
    let listed = admin.json(&["team", "list"]);
    assert_eq!(listed[0]["team"], team.as_str());
    assert_eq!(listed[0]["registered"], true);
    assert_eq!(listed[0]["current"], true);
    assert_eq!(listed[0]["role"], "admin");
    assert_eq!(listed[0]["epoch"], 1);

    // A one-time invite for a link worker, redeemed on the colleague's device.
    let shown = admin.ok(&["invite", "create", "--role", "link-worker"]);
    assert!(shown.contains("link worker"), "{shown}");
    let invite = admin.json(&["invite", "create", "--role", "link-worker"]);
    let code = invite["code"].as_str().unwrap().to_owned();
    assert!(code.starts_with("HF1-"), "{invite}");
    assert_eq!(invite["role"], "link_worker");
    let joined = colleague.ok(&["invite", "redeem", &code]);
    assert!(
        joined.contains("Joined team") && joined.contains("link worker"),
        "{joined}"
    );
    // Used once: a second device is refused, plainly.
    let third = Device::new("Jo Whitfield");
    let line = third.fails(&["invite", "redeem", &code]);
    assert!(line.contains("already been used"), "{line}");
    assert!(!line.contains(&code), "the code is not echoed: {line}");
    // The colleague may not invite an admin.
    let line = colleague.fails(&["invite", "create", "--role", "admin"]);
    assert!(line.contains("ask an admin"), "{line}");
    // An invite shown to the wrong person is cancelled; its code then joins nothing.
    let wrong = admin.json(&["invite", "create", "--role", "link-worker"])["code"]
        .as_str()
        .unwrap()
        .to_owned();
    let invites = admin.json(&["invite", "list"]);
    let pending: Vec<&str> = invites["invites"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["status"] == "pending")
        .map(|i| i["invite"].as_str().unwrap())
        .collect();
    assert_eq!(pending.len(), 2, "{invites}");
    let listed = admin.ok(&["invite", "list"]);
    assert!(listed.contains("redeemed by"), "{listed}");
    let cancelled = admin.ok(&["invite", "cancel", &wrong]);
    assert!(cancelled.contains("Cancelled invite"), "{cancelled}");
    assert!(
        !cancelled.contains(&wrong),
        "the code is not echoed: {cancelled}"
    );
    let line = third.fails(&["invite", "redeem", &wrong]);
    assert!(line.contains("cancelled"), "{line}");
    let line = admin.fails(&["invite", "cancel", &wrong]);
    assert!(line.contains("already cancelled"), "{line}");
    // A supervisor, by HOLDFAST_INVITE.
    let sup_code = admin.json(&["invite", "create", "--role", "supervisor"])["code"]
        .as_str()
        .unwrap()
        .to_owned();
    let out = third
        .command(&["--json", "invite", "redeem"])
        .env("HOLDFAST_INVITE", &sup_code)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let j: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["role"], "supervisor");
    assert_eq!(j["team"], team.as_str());

    // A patient on the admin's device reaches the colleague's.
    let added = admin.json(&["patient", "add", "--name", "Ada Lovelace"]);
    let case = added["case_id"].as_str().unwrap().to_owned();
    let synced = admin.ok(&["sync"]);
    assert!(synced.contains("confirmed by the relay"), "{synced}");
    colleague.ok(&["sync"]);
    assert!(colleague.ok(&["caseload"]).contains("Ada Lovelace"));

    // Her plan, shared with her own phone (the code on stdin).
    let shared = admin.json(&["plan", "share", &case[..8]]);
    assert_eq!(shared["role"], "patient");
    let plan = shared["plan"].as_str().unwrap().to_owned();
    let phone = Device::new("Ada Lovelace");
    let r = phone.with_stdin(
        &["--json", "invite", "redeem"],
        shared["code"].as_str().unwrap(),
    );
    assert_eq!(r.code, 0, "{r:?}");
    let j: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(j["role"], "patient");
    assert_eq!(j["plan"], plan.as_str());
    phone.ok(&["plan", "show", &plan]);
    assert!(
        !phone.ok(&["caseload"]).contains("Ada Lovelace"),
        "a patient holds no case file"
    );

    // Everyone in the list; then the phone is revoked and the team moves to epoch 2.
    let devices = admin.json(&["device", "list"]);
    assert_eq!(devices["devices"].as_array().unwrap().len(), 4, "{devices}");
    let listed = admin.ok(&["device", "list"]);
    assert!(
        listed.contains("(this device)") && listed.contains("patient"),
        "{listed}"
    );
    let phone_id = phone.id();
    let revoked = admin.json(&["device", "revoke", &phone_id[..10]]);
    assert_eq!(revoked["epoch"], 2);
    assert_eq!(revoked["device"], phone_id.as_str());
    let line = admin.fails(&["device", "revoke", &phone_id]);
    assert!(line.contains("already revoked"), "{line}");
    let line = phone.fails(&["sync"]);
    assert!(
        line.contains("revoked") || line.contains("does not accept"),
        "{line}"
    );
    assert_eq!(admin.json(&["team", "list"])[0]["epoch"], 2);
    // Records written after the revocation still reach the colleague.
    admin.ok(&["patient", "add", "--name", "Grace Hopper"]);
    admin.ok(&["sync"]);
    colleague.ok(&["sync"]);
    assert!(colleague.ok(&["caseload"]).contains("Grace Hopper"));

    // --watch follows the team: a line once its live connection is up, then a line per
    // pull, so a change made meanwhile arrives. Ctrl-C stops it cleanly; with --for it
    // stops by itself (the supervisor's device watches alongside for a second). The
    // colleague's --for is only an upper bound, should the lines never come.
    let timed = third
        .command(&["sync", "--watch", "--for", "1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut watcher = colleague
        .command(&["sync", "--watch", "--for", "60"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(watcher.stdout.take().unwrap()).lines();
    let mut watch_out = String::new();
    read_until(&mut lines, &mut watch_out, "live: connected");
    admin.ok(&["patient", "add", "--name", "Alan Turing"]);
    admin.ok(&["sync"]);
    let pulled = read_until(&mut lines, &mut watch_out, "pulled to");
    let pulled = if pulled.contains("(+0)") {
        // The pull of the live connection's first sync; the next one brings the patient.
        read_until(&mut lines, &mut watch_out, "pulled to")
    } else {
        pulled
    };
    assert!(!pulled.contains("(+0)"), "{watch_out}");
    let interrupted = Command::new("kill")
        .args(["-INT", &watcher.id().to_string()])
        .status()
        .unwrap();
    assert!(interrupted.success());
    for line in lines {
        watch_out.push_str(&line.unwrap());
        watch_out.push('\n');
    }
    let status = watcher.wait().unwrap();
    assert_eq!(status.code(), Some(0), "{watch_out}");
    assert!(watch_out.contains("Stopped on Ctrl-C"), "{watch_out}");
    assert!(colleague.ok(&["caseload"]).contains("Alan Turing"));
    let timed = timed.wait_with_output().unwrap();
    let timed_out = String::from_utf8(timed.stdout).unwrap();
    assert_eq!(timed.status.code(), Some(0), "{timed_out}");
    assert!(timed_out.contains("Stopped after 1 s"), "{timed_out}");

    // Unreachable relays: one line, nothing changed.
    let stranger = Device::new("Lee Quinn");
    let nowhere = closed_port_url();
    let line = stranger.fails(&["team", "create", "--relay", &nowhere]);
    assert!(line.contains("cannot reach"), "{line}");
    assert_eq!(stranger.json(&["team", "list"]), serde_json::json!([]));

    // The relay goes away: sync says so, and the change waits on the device.
    let late = admin.json(&["invite", "create", "--role", "link-worker"])["code"]
        .as_str()
        .unwrap()
        .to_owned();
    relay.blocking_stop();
    let line = stranger.fails(&["invite", "redeem", &late]);
    assert!(line.contains("cannot reach"), "{line}");
    assert_eq!(stranger.json(&["team", "list"]), serde_json::json!([]));
    admin.ok(&["patient", "add", "--name", "Mary Seacole"]);
    let line = admin.fails(&["sync"]);
    assert!(line.contains("cannot reach the relay"), "{line}");
    assert!(line.contains("nothing is lost"), "{line}");
    let status = admin.json(&["status"]);
    assert_eq!(status[0]["status"]["everything_uploaded"], false);
    assert_eq!(status[0]["status"]["offline"], true);
}

/// A relay terminating TLS with a leaf for 127.0.0.1 from a CA made here; the CA's
/// certificate (PEM) in `dir`.
fn relay_with_its_own_ca(dir: &std::path::Path) -> (TestRelay, PathBuf) {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(DnType::CommonName, "Practice relay CA");
    let ca = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
    let key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["127.0.0.1".to_owned()])
        .unwrap()
        .signed_by(&key, &ca)
        .unwrap();
    let ca_file = dir.join("ca.pem");
    std::fs::write(&ca_file, ca.pem()).unwrap();
    let relay = TestRelay::builder()
        .tls(format!("{}{}", leaf.pem(), ca.pem()), key.serialize_pem())
        .blocking_start();
    (relay, ca_file)
}

#[test]
fn a_team_on_a_relay_with_its_own_ca_works_over_https_and_plain_http_stays_local() {
    let dir = tempfile::tempdir().unwrap();
    let (mut relay, ca_file) = relay_with_its_own_ca(dir.path());
    let url = relay.url();
    assert!(url.starts_with("https://"), "{url}");
    let admin = Device::new("Sam Okafor");
    let ca = ca_file.to_str().unwrap();

    // Without the CA, the relay's certificate is not trusted, and nothing is made.
    let line = admin.fails(&["team", "create", "--relay", &url]);
    assert!(line.contains("no secure connection"), "{line}");
    assert!(line.contains("nothing was changed"), "{line}");
    assert!(admin.ok(&["status"]).contains("in no team"));

    // With it: the team trusts that CA, and its codes carry the pin.
    let created = admin.ok(&["team", "create", "--relay", &url, "--relay-ca", ca]);
    assert!(
        created.contains("own certificate authority only"),
        "{created}"
    );
    let code = admin.json(&["invite", "create", "--role", "link-worker"])["code"]
        .as_str()
        .unwrap()
        .to_owned();
    let decoded = holdfast_protocol::InviteCode::decode(&code).unwrap();
    assert!(decoded.relay_pin.is_some());
    let colleague = Device::new("Priya Natarajan");
    assert!(
        colleague
            .ok(&["invite", "redeem", &code])
            .contains("Joined team")
    );
    admin.ok(&["patient", "add", "--name", "Ada Lovelace"]);
    admin.ok(&["sync"]);
    colleague.ok(&["sync"]);
    assert_eq!(colleague.json(&["caseload"]).as_array().unwrap().len(), 1);
    let listed = colleague.json(&["team", "list"]);
    assert_eq!(
        listed[0]["relay_pin"],
        decoded.relay_pin.unwrap().to_string()
    );

    // Plain http to another host: refused before anything is sent, unless asked for by
    // name (then loudly; `.invalid` never resolves, so it cannot be reached either).
    let other = Device::new("Jo Whitfield");
    let line = other.fails(&[
        "team",
        "create",
        "--relay",
        "http://relay.example.invalid:7878",
    ]);
    assert!(line.contains("only for a relay on this computer"), "{line}");
    let r = other.run(&[
        "--insecure-http-to-any-host",
        "team",
        "create",
        "--relay",
        "http://relay.example.invalid:7878",
    ]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.contains("WARNING: --insecure-http-to-any-host"),
        "{r:?}"
    );
    assert!(r.stderr.contains("cannot reach a relay"), "{r:?}");
    relay.blocking_stop();
}

/// The items of a `worklist --json` of one kind.
fn items_of<'a>(list: &'a Value, kind: &str) -> Vec<&'a Value> {
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["kind"] == kind)
        .collect()
}

#[test]
fn a_supervisor_hands_a_case_to_a_link_worker_who_finds_it_on_their_worklist() {
    let mut relay = TestRelay::blocking_start();
    let url = relay.url();
    let lee = Device::new("Lee Quinn");
    let priya = Device::new("Priya Natarajan");
    lee.ok(&["team", "create", "--relay", &url]);
    let code = lee.json(&["invite", "create", "--role", "link-worker"])["code"]
        .as_str()
        .unwrap()
        .to_owned();
    priya.ok(&["invite", "redeem", &code]);
    let priya_id = priya.id();
    let lee_id = lee.id();

    // Lee records a referral received in January 2020 that nobody has contacted yet.
    let case = lee.json(&["patient", "add", "--name", "Ada Lovelace"])["case_id"]
        .as_str()
        .unwrap()
        .to_owned();
    lee.ok(&[
        "referral",
        "add",
        &case,
        "--source",
        "gp",
        "--reason",
        "isolated since bereavement",
        "--received",
        "2020-01-06",
    ]);
    let lees = lee.json(&["worklist"]);
    assert_eq!(items_of(&lees, "first_contact").len(), 1, "{lees}");
    // Before Lee's device syncs, it does not know Priya joined: the error says where to look.
    let line = lee.fails(&["case", "assign", &case, &priya_id]);
    assert!(line.contains("holdfast sync"), "{line}");
    lee.ok(&["sync"]);

    // Priya's name is not known on Lee's device yet: by name she is not found (the error
    // lists who could hold the case), by device she needs a name. Nothing changes.
    let before = lee.json(&["case", "show", &case]);
    let line = lee.fails(&["case", "assign", &case, "Priya"]);
    for says in [
        "no team member is \"Priya\"",
        "Lee Quinn (device",
        &priya_id[..8],
        "no name known yet",
    ] {
        assert!(line.contains(says), "missing {says:?} in {line}");
    }
    let line = lee.fails(&["case", "assign", &case, &priya_id[..8]]);
    assert!(line.contains("--name"), "{line}");
    assert_eq!(lee.json(&["case", "show", &case]), before);

    // Handed over by device prefix, with her name and why.
    let assigned = lee.json(&[
        "case",
        "assign",
        &case,
        &priya_id[..8],
        "--name",
        "Priya Natarajan",
        "--reason",
        "caseload rebalanced",
    ]);
    assert_eq!(assigned["case_id"], case.as_str());
    let h = &assigned["handover"];
    assert_eq!(h["to"], priya_id.as_str());
    assert_eq!(h["to_name"], "Priya Natarajan");
    assert_eq!(h["from"], lee_id.as_str());
    assert_eq!(h["by"], "Lee Quinn");
    assert_eq!(h["by_device"], lee_id.as_str());
    assert_eq!(h["reason"], "caseload rebalanced");
    // From now on her name finds her, in any case; the device list shows it.
    let line = lee.fails(&["case", "assign", &case, "PRIYA natarajan"]);
    assert!(line.contains("already assigned"), "{line}");
    let devices = lee.json(&["device", "list"]);
    let named: Vec<(&str, &str)> = devices["devices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["device"].as_str().unwrap(),
                d["name"].as_str().unwrap_or("-"),
            )
        })
        .collect();
    assert!(named.contains(&(lee_id.as_str(), "Lee Quinn")), "{devices}");
    assert!(
        named.contains(&(priya_id.as_str(), "Priya Natarajan")),
        "{devices}"
    );
    assert!(lee.ok(&["device", "list"]).contains("Priya Natarajan"));
    // Lee no longer has the first contact to make.
    assert!(items_of(&lee.json(&["worklist"]), "first_contact").is_empty());

    // A supervision comment and a call owed, then both devices sync.
    lee.ok(&["supervision", "comment", &case, "ring Ada before Friday"]);
    let ring = lee.json(&[
        "ring-back",
        "add",
        &case,
        "--due",
        "2020-01-08",
        "--note",
        "missed call about the lunch club",
    ])["ring_back_id"]
        .as_str()
        .unwrap()
        .to_owned();
    lee.ok(&["sync"]);
    priya.ok(&["sync"]);

    // Priya's worklist: the call owed and the overdue first contact (five working days after
    // Monday 6 January 2020).
    let list = priya.json(&["worklist"]);
    let first = items_of(&list, "first_contact");
    assert_eq!(first.len(), 1, "{list}");
    assert_eq!(first[0]["case_id"], case.as_str());
    assert_eq!(first[0]["due"], "2020-01-13");
    assert_eq!(first[0]["overdue"], true);
    let calls = items_of(&list, "ring_back");
    assert_eq!(calls.len(), 1, "{list}");
    assert_eq!(calls[0]["ring_back"], ring.as_str());
    assert_eq!(calls[0]["note"], "missed call about the lunch club");
    assert_eq!(list["overdue"], 2);

    // The comment reaches her (she holds the case), not Lee.
    let comments = priya.json(&["supervision", "comments"]);
    assert_eq!(comments.as_array().unwrap().len(), 1, "{comments}");
    assert_eq!(comments[0]["comment"]["text"], "ring Ada before Friday");
    assert_eq!(comments[0]["comment"]["by"], "Lee Quinn");
    let comment = comments[0]["comment"]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        lee.json(&["supervision", "comments"]),
        serde_json::json!([])
    );

    // A link worker does not review: refused before her comment is written.
    let before = priya.json(&["case", "show", &case]);
    let line = priya.fails(&["supervision", "review", &case, "--comment", "done it"]);
    assert!(line.contains("only supervisors and admins"), "{line}");
    assert_eq!(priya.json(&["case", "show", &case]), before);

    // She acknowledges the comment and makes the call; Lee sees both.
    priya.ok(&["supervision", "ack", &case, &comment[..8]]);
    priya.ok(&["ring-back", "done", &case, &ring[..8]]);
    assert_eq!(
        priya.json(&["supervision", "comments"]),
        serde_json::json!([])
    );
    assert!(items_of(&priya.json(&["worklist"]), "ring_back").is_empty());
    priya.ok(&["sync"]);
    lee.ok(&["sync"]);
    let shown = lee.ok(&["case", "show", &case]);
    for says in [
        "Held by: Priya Natarajan (device",
        "Lee Quinn (device",
        "caseload rebalanced",
        "acknowledged by Priya Natarajan",
        "Ring-backs (0 to make)",
    ] {
        assert!(shown.contains(says), "missing {says:?} in\n{shown}");
    }
    let shown = lee.json(&["case", "show", &case]);
    assert_eq!(shown["held_by"][0]["device"], priya_id.as_str());
    assert_eq!(shown["held_by"][0]["name"], "Priya Natarajan");

    // Lee's supervision view: Priya's load by name; the case never reviewed, held by her.
    let load = lee.json(&["supervision", "load"]);
    let row = load["workers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["worker"]["device"] == priya_id.as_str())
        .unwrap_or_else(|| panic!("{load}"));
    assert_eq!(row["worker"]["name"], "Priya Natarajan");
    assert_eq!(row["referred"], 1);
    let queue = lee.json(&["supervision", "queue"]);
    assert_eq!(queue[0]["case_id"], case.as_str(), "{queue}");
    assert_eq!(queue[0]["changes"], "never reviewed");
    assert_eq!(queue[0]["holder"]["name"], "Priya Natarajan");
    let reviewed = lee.json(&["supervision", "review", &case]);
    assert_eq!(reviewed["seen"]["handovers"], 2, "{reviewed}");
    assert_eq!(reviewed["seen"]["comments"], 1, "{reviewed}");
    assert_eq!(lee.json(&["supervision", "queue"]), serde_json::json!([]));

    // The team's limits: the defaults until an admin or supervisor sets them; a link worker
    // cannot; once set they reach every device, and a reading can still override one.
    let limits = priya.json(&["supervision", "limits"]);
    assert_eq!(limits["set"], Value::Null, "{limits}");
    assert_eq!(limits["limits"]["accepted_per_year"], 250);
    let line = priya.fails(&["supervision", "limits", "--accepted-per-year", "200"]);
    assert!(line.contains("supervisor or an admin"), "{line}");
    let line = lee.fails(&["supervision", "limits", "--reason", "why not"]);
    assert!(line.contains("nothing was changed"), "{line}");
    let line = lee.fails(&["supervision", "limits", "--first-contact-days", "61"]);
    assert!(line.contains("first contact"), "{line}");
    let set = lee.json(&[
        "supervision",
        "limits",
        "--accepted-per-year",
        "200",
        "--reason",
        "Priya works four days",
    ]);
    assert_eq!(set["limits"]["accepted_per_year"], 200, "{set}");
    assert_eq!(set["limits"]["held_days"], 60, "the others kept");
    assert_eq!(set["set"]["by"], "Lee Quinn");
    assert_eq!(set["set"]["reason"], "Priya works four days");
    lee.ok(&["sync"]);
    priya.ok(&["sync"]);
    let theirs = priya.json(&["supervision", "load"]);
    assert_eq!(theirs["limits"]["accepted_per_year"], 200, "{theirs}");
    let shown = priya.ok(&["supervision", "limits"]);
    assert!(shown.contains("Set by Lee Quinn"), "{shown}");
    assert!(shown.contains("Priya works four days"), "{shown}");
    let once = priya.json(&["supervision", "load", "--accepted-per-year", "300"]);
    assert_eq!(once["limits"]["accepted_per_year"], 300);
    assert_eq!(
        priya.json(&["supervision", "limits"])["limits"]["accepted_per_year"],
        200,
        "an override is for one reading"
    );
    relay.blocking_stop();
}

#[test]
fn private_notes_reach_the_supervisor_and_no_other_link_worker() {
    let mut relay = TestRelay::blocking_start();
    let url = relay.url();
    let ada = Device::new("Ada Admin");
    let priya = Device::new("Priya Natarajan");
    let sam = Device::new("Sam Okafor");
    ada.ok(&["team", "create", "--relay", &url]);
    for who in [&priya, &sam] {
        let code = ada.json(&["invite", "create", "--role", "link-worker"])["code"]
            .as_str()
            .unwrap()
            .to_owned();
        who.ok(&["invite", "redeem", &code]);
    }
    let priya_id = priya.id();

    // Priya writes about how she is doing; empty text writes nothing.
    priya.fails(&["notes", "add", "wellbeing", "   "]);
    let none = priya.json(&["notes", "show"]);
    assert!(none["notes"].as_array().unwrap().is_empty(), "{none}");
    let added = priya.json(&[
        "notes",
        "add",
        "wellbeing",
        "Three bereavements this month; finding the holding cases heavy",
    ]);
    let note = added["note_id"].as_str().unwrap().to_owned();
    let own = priya.json(&["notes", "show"]);
    assert_eq!(own["notes"].as_array().unwrap().len(), 1, "{own}");
    priya.ok(&["sync"]);

    // The admin reads and answers them; Sam, a link worker, is refused.
    ada.ok(&["sync"]);
    let seen = ada.json(&["notes", "show", &priya_id[..8]]);
    assert_eq!(seen["notes"][0]["id"], note.as_str(), "{seen}");
    ada.ok(&[
        "notes",
        "respond",
        &priya_id[..8],
        &note[..8],
        "Let us book supervision this week",
    ]);
    ada.ok(&["sync"]);
    sam.ok(&["sync"]);
    let line = sam.fails(&["notes", "show", &priya_id[..8]]);
    assert!(line.contains("private notes"), "{line}");
    priya.ok(&["sync"]);
    let own = priya.json(&["notes", "show", "me"]);
    assert_eq!(
        own["notes"][0]["responses"][0]["text"], "Let us book supervision this week",
        "{own}"
    );
    relay.blocking_stop();
}
