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

    pub fn run(&self, args: &[&str]) -> Run {
        let out = Command::new(env!("CARGO_BIN_EXE_holdfast"))
            .arg("--home")
            .arg(self.home())
            .args(args)
            .env_remove("HOLDFAST_HOME")
            .env_remove("HOLDFAST_KEYS")
            .env_remove("HOLDFAST_LOG")
            .env_remove("HOLDFAST_INVITE")
            .env_remove("HOLDFAST_CREATION_TOKEN")
            .env("TZ", "UTC")
            .output()
            .unwrap();
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
