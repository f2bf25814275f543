//! The relay under soak as a process of its own (the `holdfast-relay` binary built with this
//! bench), so that its resident memory, open file descriptors, threads and CPU time are read
//! alone, from `/proc/PID`.
//!
//! Like `benches/sockets/relay.rs`, which has no way to name the process's id; a relay left
//! behind is killed by [`kill_all`] (the bench's watchdog and its end) or when the
//! [`RelayProcess`] is dropped, a panic included.

use std::ffi::OsString;
use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// How long the relay has to print its "listening on" line.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// Names another relay binary to soak (one built from an older commit); this crate's own by
/// default.
pub const BINARY_VARIABLE: &str = "HOLDFAST_SOAK_RELAY";

/// The relay binary to run: [`BINARY_VARIABLE`], or the one built with this bench.
pub fn binary() -> OsString {
    std::env::var_os(BINARY_VARIABLE)
        .unwrap_or_else(|| OsString::from(env!("CARGO_BIN_EXE_holdfast-relay")))
}

type Shared = Arc<Mutex<Option<Child>>>;

/// Every relay started and not yet reaped.
static RUNNING: Mutex<Vec<Shared>> = Mutex::new(Vec::new());

/// Kills (SIGKILL) and reaps every relay still running.
pub fn kill_all() {
    let running = std::mem::take(&mut *RUNNING.lock().unwrap_or_else(PoisonError::into_inner));
    for child in running {
        reap(&child);
    }
}

fn reap(child: &Shared) {
    if let Some(mut child) = child.lock().unwrap_or_else(PoisonError::into_inner).take() {
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// A running relay process and its data directory.
pub struct RelayProcess {
    child: Shared,
    pid: u32,
    url: String,
    data: tempfile::TempDir,
}

/// What `/proc` tells of the relay at one moment.
#[derive(Debug, Clone, Copy, Default)]
pub struct Reading {
    /// `VmRSS`, KiB.
    pub rss_kib: u64,
    /// `RssAnon`, `RssFile`, `RssShmem`, KiB.
    pub rss_anon_kib: u64,
    pub rss_file_kib: u64,
    pub rss_shmem_kib: u64,
    /// Entries of `/proc/PID/fd`.
    pub fds: u64,
    /// `Threads`.
    pub threads: u64,
    /// User plus system CPU time so far, seconds.
    pub cpu_secs: f64,
}

impl RelayProcess {
    /// Starts the relay on 127.0.0.1, port 0, with a fresh data directory (under the system's
    /// temporary folder, a disk here) and its default limits, and waits until it listens.
    pub fn start() -> Result<RelayProcess, String> {
        let data = tempfile::Builder::new()
            .prefix("holdfast-soak-")
            .tempdir()
            .map_err(|e| format!("temp dir: {e}"))?;
        // The relay warns of a data directory others can read.
        std::fs::set_permissions(data.path(), std::fs::Permissions::from_mode(0o700))
            .map_err(|e| format!("temp dir: {e}"))?;
        let mut command = Command::new(binary());
        command
            .args(["--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data.path())
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        // Only the flags above and the defaults: none of the operator's settings.
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("HOLDFAST_RELAY_") {
                command.env_remove(name);
            }
        }
        let mut child = command
            .spawn()
            .map_err(|e| format!("start the relay binary: {e}"))?;
        let pid = child.id();
        let stdout = child.stdout.take();
        let shared: Shared = Arc::new(Mutex::new(Some(child)));
        RUNNING
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Arc::clone(&shared));
        let mut relay = RelayProcess {
            child: shared,
            pid,
            url: String::new(),
            data,
        };
        let stdout = stdout.ok_or("the relay's stdout")?;
        let (ready, listening) = mpsc::channel();
        // Reads the address, then keeps reading so the relay never writes into a closed pipe.
        std::thread::spawn(move || {
            let mut ready = Some(ready);
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(url) = line.strip_prefix("listening on ")
                    && let Some(ready) = ready.take()
                {
                    let _ = ready.send(url.to_owned());
                }
            }
        });
        relay.url = listening.recv_timeout(START_TIMEOUT).map_err(|_| {
            format!(
                "the relay printed no \"listening on\" line within {} s",
                START_TIMEOUT.as_secs()
            )
        })?;
        Ok(relay)
    }

    /// Its base URL, `http://127.0.0.1:PORT`: also the origin devices sign into logins.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Its data directory (the database, its WAL, the token key).
    pub fn data_dir(&self) -> &Path {
        self.data.path()
    }

    /// Whether it is still running (not exited, not a zombie).
    pub fn alive(&self) -> bool {
        let mut child = self.child.lock().unwrap_or_else(PoisonError::into_inner);
        match child.as_mut() {
            Some(child) => matches!(child.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// Its memory, descriptors, threads and CPU time now.
    pub fn read(&self) -> Result<Reading, String> {
        let proc = PathBuf::from(format!("/proc/{}", self.pid));
        let status = std::fs::read_to_string(proc.join("status"))
            .map_err(|e| format!("read the relay's /proc status: {e}"))?;
        let field = |name: &str| {
            status
                .lines()
                .find_map(|line| line.strip_prefix(name))
                .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
                .ok_or_else(|| format!("no {name} in the relay's /proc status"))
        };
        let fds = std::fs::read_dir(proc.join("fd"))
            .map_err(|e| format!("list the relay's /proc fd: {e}"))?
            .count() as u64;
        Ok(Reading {
            rss_kib: field("VmRSS:")?,
            rss_anon_kib: field("RssAnon:")?,
            rss_file_kib: field("RssFile:")?,
            rss_shmem_kib: field("RssShmem:")?,
            fds,
            threads: field("Threads:")?,
            cpu_secs: cpu_secs(&self.pid.to_string())?,
        })
    }
}

impl Drop for RelayProcess {
    fn drop(&mut self) {
        reap(&self.child);
        RUNNING
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|child| !Arc::ptr_eq(child, &self.child));
    }
}

/// This process's CPU time so far (user plus system), seconds.
pub fn own_cpu_secs() -> Result<f64, String> {
    cpu_secs("self")
}

/// `/proc/{pid}/stat`'s user plus system time, seconds.
fn cpu_secs(pid: &str) -> Result<f64, String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map_err(|e| format!("read /proc/{pid}/stat: {e}"))?;
    // The command name, in parentheses, may hold spaces: count fields after it.
    let after = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .ok_or("an unreadable /proc stat")?;
    let fields: Vec<&str> = after.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    let ticks = |i: usize| -> Result<u64, String> {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .ok_or_else(|| "an unreadable /proc stat".to_owned())
    };
    Ok((ticks(11)? + ticks(12)?) as f64 / clock_ticks_per_second())
}

/// The kernel's clock ticks per second for `/proc` CPU times (`getconf CLK_TCK`; 100 on
/// every Linux this runs on, and the fallback).
fn clock_ticks_per_second() -> f64 {
    static TICKS: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|out| String::from_utf8(out.stdout).ok())
            .and_then(|text| text.trim().parse().ok())
            .unwrap_or(100.0)
    })
}

/// The bytes of the files in `dir` (the relay's database, its WAL and shared memory).
pub fn directory_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir).map_or(0, |entries| {
        entries
            .filter_map(|e| e.ok()?.metadata().ok())
            .map(|m| m.len())
            .sum()
    })
}
