//! Shared by the sync benches: how the bench was invoked, logging, disk usage and small
//! statistics helpers. The relay (`holdfast_relay::testing::TestRelay`, in a runtime of its
//! own, as a separate process would have), devices and the counting proxy are the shared
//! test fixtures (`holdfast_tests`).
//!
//! Each bench uses a part of this module.
#![allow(dead_code)]

use std::path::Path;
use std::time::Duration;

/// How the bench was invoked.
#[derive(Debug, Clone, Copy)]
pub struct Mode {
    /// `cargo bench` passes `--bench`: the full measurement. Without it (`cargo test
    /// --all-targets`), a quick smoke run on small data.
    pub full: bool,
    /// `--json`: also print one JSON line per run.
    pub json: bool,
}

impl Mode {
    pub fn from_args() -> Mode {
        let args: Vec<String> = std::env::args().skip(1).collect();
        Mode {
            full: args.iter().any(|a| a == "--bench"),
            json: args.iter().any(|a| a == "--json"),
        }
    }
}

/// Logs to stderr only when `RUST_LOG` asks for it (logging costs time).
pub fn init_logging() {
    if std::env::var_os("RUST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_writer(std::io::stderr)
            .try_init();
    }
}

/// Bytes of the files directly in `dir` (a relay's data folder: database, WAL; a device's).
pub fn dir_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok()?.metadata().ok())
        .filter(|m| m.is_file())
        .map(|m| m.len())
        .sum()
}

// ---------------------------------------------------------------------------------------
// Statistics

/// The value at `p` (0..=100) of sorted `values`, nearest rank.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Milliseconds with one decimal, for output.
pub fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 10_000.0).round() / 10.0
}

/// Rounds to `decimals`.
pub fn round(x: f64, decimals: i32) -> f64 {
    let f = 10f64.powi(decimals);
    (x * f).round() / f
}
