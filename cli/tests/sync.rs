//! `holdfast` sync commands end to end: the real binary, devices in temporary folders and a
//! relay started in this test process (`holdfast_relay::serve` on 127.0.0.1:0).

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use holdfast_relay::RunningRelay;
use serde_json::Value;

/// A relay on a free loopback port, in a runtime of its own.
struct Relay {
    rt: tokio::runtime::Runtime,
    running: Option<RunningRelay>,
    _dir: tempfile::TempDir,
}

impl Relay {
    fn start() -> Relay {
        let dir = tempfile::tempdir().unwrap();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let config = holdfast_relay::Config::new(dir.path().join("relay"));
        let running = rt.block_on(holdfast_relay::serve(config)).unwrap();
        Relay {
            rt,
            running: Some(running),
            _dir: dir,
        }
    }

    fn url(&self) -> String {
        self.running.as_ref().unwrap().url()
    }

    fn stop(&mut self) {
        if let Some(running) = self.running.take() {
            self.rt.block_on(running.shutdown()).unwrap();
        }
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.stop();
    }
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
        .env_remove("HOLDFAST_TEAM_SECRET")
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

    /// (device id, public key) from `device show`.
    fn identity(&self) -> (String, String) {
        let shown = self.ok(&["device", "show"]);
        assert!(shown.contains("public key"), "{shown}");
        let j = self.json(&["device", "show"]);
        let id = j["device_id"].as_str().unwrap().to_owned();
        let key = j["public_key"].as_str().unwrap().to_owned();
        assert!(shown.contains(&id) && shown.contains(&key), "{shown}");
        assert_eq!((id.len(), key.len()), (32, 64));
        (id, key)
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
fn two_devices_share_a_patient_through_a_relay() {
    let mut relay = Relay::start();
    let url = relay.url();
    let admin = Device::new("Sam Okafor");
    let colleague = Device::new("Priya Natarajan");

    // Nothing is shared yet.
    assert!(admin.ok(&["status"]).contains("in no team"));
    assert!(admin.fails(&["sync"]).contains("team create"));

    // The admin creates the team; the secret is printed, clearly labelled.
    let created = admin.ok(&["team", "create", "--relay", &url]);
    assert!(created.contains("TEAM SECRET"), "{created}");
    let team = created
        .lines()
        .find_map(|l| l.trim().strip_prefix("team id"))
        .unwrap()
        .trim()
        .to_owned();
    let secret = created
        .lines()
        .map(str::trim)
        .find(|l| l.len() == 64 && l.chars().all(|c| c.is_ascii_hexdigit()))
        .unwrap()
        .to_owned();
    assert_eq!(team.len(), 32);
    let listed = admin.json(&["team", "list"]);
    assert_eq!(listed[0]["team"], team.as_str());
    assert_eq!(listed[0]["registered"], true);
    assert_eq!(listed[0]["current"], true);
    assert_eq!(
        admin.json(&["team", "secret"])["team_secret"],
        secret.as_str()
    );

    // Enrolment: the colleague's identity to the admin, the secret to the colleague.
    let (device_id, public_key) = colleague.identity();
    let added = admin.ok(&["team", "add-device", &device_id, &public_key]);
    assert!(added.contains("registered"), "{added}");
    let already = admin.fails(&["team", "add-device", &device_id, &public_key]);
    assert!(already.contains("already registered"), "{already}");
    let joined = colleague.ok(&[
        "team", "join", "--relay", &url, "--team", &team, "--secret", &secret,
    ]);
    assert!(joined.contains("relay knows this device"), "{joined}");

    // A patient on the admin's device reaches the colleague's.
    admin.ok(&["patient", "add", "--name", "Ada Lovelace"]);
    let before = admin.json(&["status"]);
    assert_eq!(before[0]["status"]["everything_uploaded"], false);
    let synced = admin.ok(&["sync"]);
    assert!(synced.contains("confirmed by the relay"), "{synced}");
    assert!(synced.contains("uploaded  everything"), "{synced}");
    let pulled = colleague.json(&["sync"]);
    assert_eq!(pulled[0]["report"]["pull"]["new_documents"], 2);
    assert_eq!(pulled[0]["status"]["everything_uploaded"], true);
    let caseload = colleague.ok(&["caseload"]);
    assert!(caseload.contains("Ada Lovelace"), "{caseload}");
    let status = colleague.ok(&["status"]);
    assert!(status.contains("everything"), "{status}");
    assert!(status.contains(&team[..8]), "{status}");

    // --watch follows the team and stops by itself; a change made meanwhile arrives.
    let watcher = colleague
        .command(&["sync", "--watch", "--for", "6"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    admin.ok(&["patient", "add", "--name", "Grace Hopper"]);
    admin.ok(&["sync"]);
    let watched = watcher.wait_with_output().unwrap();
    let watch_out = String::from_utf8(watched.stdout).unwrap();
    assert_eq!(watched.status.code(), Some(0), "{watch_out}");
    assert!(watch_out.contains("2 cases"), "{watch_out}");
    assert!(watch_out.contains("Stopped after 6 s"), "{watch_out}");
    assert!(colleague.ok(&["caseload"]).contains("Grace Hopper"));

    // Mistakes: one line, exit 1, nothing changed.
    let third = Device::new("Jo Whitfield");
    for bad in ["nothex", &secret[..60], &format!("{}zz", &secret[..62])] {
        let line = third.fails(&[
            "team", "join", "--relay", &url, "--team", &team, "--secret", bad,
        ]);
        assert!(line.contains("team secret"), "{line}");
        assert!(!line.contains(bad), "the secret is not echoed: {line}");
    }
    let line = third.fails(&[
        "team", "join", "--relay", &url, "--team", "abc", "--secret", &secret,
    ]);
    assert!(line.contains("--team"), "{line}");
    let nowhere = closed_port_url();
    let line = third.fails(&[
        "team", "join", "--relay", &nowhere, "--team", &team, "--secret", &secret,
    ]);
    assert!(line.contains("cannot reach"), "{line}");
    let line = third.fails(&["team", "create", "--relay", &nowhere]);
    assert!(line.contains("cannot reach"), "{line}");
    assert_eq!(third.json(&["team", "list"]), serde_json::json!([]));

    // A well-formed but wrong secret is caught at the first sync.
    let (id3, key3) = third.identity();
    admin.ok(&["team", "add-device", &id3, &key3]);
    let wrong: String = secret
        .chars()
        .map(|c| if c == '0' { '1' } else { '0' })
        .collect();
    third.ok(&[
        "team", "join", "--relay", &url, "--team", &team, "--secret", &wrong,
    ]);
    let line = third.fails(&["sync"]);
    assert!(line.contains("could not be opened"), "{line}");
    assert!(line.contains("secret"), "{line}");

    // A device the admin never registered is told what to ask for.
    let stranger = Device::new("Lee Quinn");
    let joined = stranger.ok(&[
        "team", "join", "--relay", &url, "--team", &team, "--secret", &secret,
    ]);
    assert!(joined.contains("does not know this device"), "{joined}");
    let line = stranger.fails(&["sync"]);
    assert!(line.contains("team add-device"), "{line}");

    // The relay goes away: sync says so, and the change waits on the device.
    relay.stop();
    admin.ok(&["patient", "add", "--name", "Alan Turing"]);
    let line = admin.fails(&["sync"]);
    assert!(line.contains("cannot reach the relay"), "{line}");
    assert!(line.contains("nothing is lost"), "{line}");
    let status = admin.json(&["status"]);
    assert_eq!(status[0]["status"]["everything_uploaded"], false);
    assert_eq!(status[0]["status"]["offline"], true);
}
