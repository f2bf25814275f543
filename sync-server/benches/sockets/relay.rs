//! The relay under test as a process of its own (the `holdfast-relay` binary), so that its
//! resident memory is read alone, from `/proc`, and its sockets do not share the bench's
//! file descriptors.
//!
//! Every relay started is registered in [`RUNNING`]: dropping a [`RelayProcess`] (a normal
//! end, or a panic unwinding) kills it, and [`kill_all`] (the bench's deadline watchdog, its
//! SIGINT/SIGTERM handler) kills whatever is left before the bench exits. Only a SIGKILL of
//! the bench itself leaves the relay behind (it then serves on an ephemeral port until
//! killed by hand).

use std::ffi::OsString;
use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// How long the relay has to print its "listening on" line.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// Names another relay binary to measure (one built from an older commit, for a before and
/// after in one sitting); this crate's own by default.
pub const BINARY_VARIABLE: &str = "HOLDFAST_SOCKETS_RELAY";

/// The relay binary to run: [`BINARY_VARIABLE`], or the one built with this bench.
pub fn binary() -> OsString {
    std::env::var_os(BINARY_VARIABLE)
        .unwrap_or_else(|| OsString::from(env!("CARGO_BIN_EXE_holdfast-relay")))
}

type Shared = Arc<Mutex<Option<Child>>>;

/// Every relay this bench has started and not yet reaped.
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
    _data: tempfile::TempDir,
}

/// A process's resident memory, from `/proc/PID/status`.
#[derive(Debug, Clone, Copy)]
pub struct Memory {
    /// `VmRSS`, in KiB.
    pub rss_kib: u64,
    /// `VmHWM` (the peak of `VmRSS`), in KiB.
    pub peak_kib: u64,
}

impl RelayProcess {
    /// Starts the relay binary on 127.0.0.1, port 0, with a fresh data directory and
    /// `flags`, and waits for its "listening on" line.
    pub fn start(flags: &[String]) -> Result<RelayProcess, String> {
        let data = tempfile::tempdir().map_err(|e| format!("temp dir: {e}"))?;
        // The relay warns of a data directory others can read.
        std::fs::set_permissions(data.path(), std::fs::Permissions::from_mode(0o700))
            .map_err(|e| format!("temp dir: {e}"))?;
        let mut child = Command::new(binary())
            .args(["--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data.path())
            .args(flags)
            .env("RUST_LOG", "warn")
            .env_remove("HOLDFAST_RELAY_LISTEN")
            .env_remove("HOLDFAST_RELAY_DATA")
            .env_remove("HOLDFAST_RELAY_PUBLIC_URL")
            .env_remove("HOLDFAST_RELAY_TLS_CERT")
            .env_remove("HOLDFAST_RELAY_TLS_KEY")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
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
            _data: data,
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

    /// Its base URL, `http://127.0.0.1:PORT`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Its resident memory now, and its peak.
    pub fn memory(&self) -> Result<Memory, String> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid))
            .map_err(|e| format!("read the relay's /proc status: {e}"))?;
        let field = |name: &str| {
            status
                .lines()
                .find_map(|line| line.strip_prefix(name))
                .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
                .ok_or_else(|| format!("no {name} in the relay's /proc status"))
        };
        Ok(Memory {
            rss_kib: field("VmRSS:")?,
            peak_kib: field("VmHWM:")?,
        })
    }

    /// CPU time it has used so far.
    pub fn cpu(&self) -> Result<Cpu, String> {
        cpu_of(&self.pid.to_string())
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

/// CPU time a process has used (every thread, living or exited), in seconds.
#[derive(Debug, Clone, Copy, Default)]
pub struct Cpu {
    /// In user space.
    pub user: f64,
    /// In the kernel (on loopback, a send's delivery to the receiving socket too).
    pub system: f64,
}

impl std::ops::Sub for Cpu {
    type Output = Cpu;

    fn sub(self, earlier: Cpu) -> Cpu {
        Cpu {
            user: self.user - earlier.user,
            system: self.system - earlier.system,
        }
    }
}

impl std::ops::AddAssign for Cpu {
    fn add_assign(&mut self, more: Cpu) {
        self.user += more.user;
        self.system += more.system;
    }
}

/// This process's CPU time so far.
pub fn own_cpu() -> Result<Cpu, String> {
    cpu_of("self")
}

/// `/proc/{pid}/stat`'s user and system time.
fn cpu_of(pid: &str) -> Result<Cpu, String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map_err(|e| format!("read /proc/{pid}/stat: {e}"))?;
    // The command name, in parentheses, may hold spaces: count fields after it.
    let after = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .ok_or("an unreadable /proc stat")?;
    let fields: Vec<&str> = after.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    let seconds = |i: usize| -> Result<f64, String> {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .map(|ticks| ticks as f64 / clock_ticks_per_second())
            .ok_or_else(|| "an unreadable /proc stat".to_owned())
    };
    Ok(Cpu {
        user: seconds(11)?,
        system: seconds(12)?,
    })
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

/// This process's soft limit on open files, from `/proc/self/limits`.
pub fn open_files_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.trim_start_matches("Max open files")
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// This process's resident memory, in KiB.
pub fn own_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
}
