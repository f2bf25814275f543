//! The store every CLI test drives: a temporary folder and the real `holdfast` binary.

// Each test binary includes this module and uses a different subset of it.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

/// A store in a temporary folder, driven through the real binary.
pub struct Device {
    dir: tempfile::TempDir,
}

/// What one run of the binary did.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Device {
    /// An empty folder; nothing is set up until the test runs `init`.
    pub fn new() -> Self {
        Device {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// A store set up (`init`) for `person`.
    pub fn init(person: &str) -> Self {
        let d = Device::new();
        d.ok(&["init", "--name", person]);
        d
    }

    /// The store's home folder (`--home`).
    pub fn home(&self) -> PathBuf {
        self.dir.path().join("device")
    }

    /// A path in the temporary folder, beside the home folder.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Writes a file in the temporary folder; returns its path.
    pub fn file(&self, name: &str, content: &str) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, content).unwrap();
        path
    }

    /// The binary on this store, with none of the caller's `HOLDFAST_*` settings, in UTC.
    fn command(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_holdfast"));
        c.arg("--home")
            .arg(self.home())
            .env_remove("HOLDFAST_HOME")
            .env_remove("HOLDFAST_KEYS")
            .env_remove("HOLDFAST_LOG")
            .env_remove("HOLDFAST_INVITE")
            .env_remove("HOLDFAST_CREATION_TOKEN")
            .env("TZ", "UTC");
        c
    }

    pub fn run(&self, args: &[&str]) -> Run {
        let out = self.command().args(args).output().unwrap();
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8(out.stdout).unwrap(),
            stderr: String::from_utf8(out.stderr).unwrap(),
        }
    }

    /// Runs a command that must succeed quietly; returns what it printed.
    pub fn ok(&self, args: &[&str]) -> String {
        let r = self.run(args);
        assert_eq!(r.code, 0, "{args:?} failed: {r:?}");
        assert!(r.stderr.is_empty(), "{args:?} wrote to stderr: {r:?}");
        r.stdout
    }

    /// Runs a command with `--json`; its output must parse.
    pub fn json(&self, args: &[&str]) -> Value {
        let mut with = vec!["--json"];
        with.extend_from_slice(args);
        let out = self.ok(&with);
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{args:?}: {e}: {out}"))
    }

    /// Runs a command that must fail with `code` and exactly one error line; returns it.
    pub fn fails(&self, args: &[&str], code: i32) -> String {
        let r = self.run(args);
        assert_eq!(r.code, code, "{args:?}: {r:?}");
        assert!(r.stdout.is_empty(), "{args:?} printed: {r:?}");
        let lines: Vec<&str> = r.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "{args:?}: not one line: {r:?}");
        assert!(lines[0].starts_with("holdfast: error: "), "{args:?}: {r:?}");
        assert!(!r.stderr.contains("panicked"), "{r:?}");
        lines[0].to_owned()
    }
}

/// `holdfast serve` running on a device's store, stopped (killed) when dropped.
pub struct Serving {
    child: std::process::Child,
    /// The link it printed: `http://127.0.0.1:PORT/?token=T`.
    pub link: String,
    /// `127.0.0.1:PORT`.
    pub addr: String,
    /// The one-time token.
    pub token: String,
}

impl Device {
    /// Starts `holdfast serve` on this store (`extra`: `--offline`, `--for`) and waits for
    /// the link it prints.
    pub fn serve(&self, extra: &[&str]) -> Serving {
        use std::io::BufRead as _;
        let mut child = self
            .command()
            .args(["--json", "serve"])
            .args(extra)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut first = String::new();
        std::io::BufReader::new(stdout)
            .read_line(&mut first)
            .unwrap();
        let said: Value =
            serde_json::from_str(&first).unwrap_or_else(|e| panic!("serve printed {first:?}: {e}"));
        assert_eq!(said["event"], "listening", "{said}");
        let link = said["url"].as_str().unwrap().to_owned();
        let rest = link.strip_prefix("http://").unwrap();
        let (addr, token) = rest.split_once("/?token=").unwrap();
        Serving {
            child,
            addr: addr.to_owned(),
            token: token.to_owned(),
            link: link.clone(),
        }
    }
}

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An answer from the desk, as [`http`] read it.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    /// Names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Answer {
    /// The first header named `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// One HTTP/1.1 request to `addr`, exactly as given (so a test can send a Host, Origin or
/// Cookie of its choosing), `Connection: close`; the whole answer.
pub fn http(addr: &str, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Answer {
    use std::io::{Read as _, Write as _};
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(20)))
        .unwrap();
    let mut request = format!("{method} {path} HTTP/1.1\r\nConnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    if !body.is_empty() || method == "POST" {
        request.push_str(&format!(
            "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream.write_all(request.as_bytes()).unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let raw = String::from_utf8(raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {raw:?}"));
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let chunked = headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v.contains("chunked"));
    let body = if chunked {
        unchunk(body)
    } else {
        body.to_owned()
    };
    Answer {
        status,
        headers,
        body,
    }
}

/// A chunked body, joined.
fn unchunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let Ok(size) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if size == 0 || rest.len() < size {
            break;
        }
        out.push_str(&rest[..size]);
        body = rest[size..].trim_start_matches("\r\n");
    }
    out
}
