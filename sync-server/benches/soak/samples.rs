//! What the soak measures: request latencies as they complete, and a [`Sample`] of the relay
//! every interval, written to a CSV as it is taken.

use std::io::Write;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// The requests whose latency is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timed {
    /// `POST /v1/teams/{team}/envelopes`.
    Push,
    /// One page of `GET /v1/teams/{team}/envelopes`.
    Pull,
    /// A live socket's upgrade, until the relay's first `{"seq"}` is heard.
    LiveConnect,
}

/// Latencies in microseconds, by kind.
#[derive(Debug, Default, Clone)]
pub struct Latencies {
    pub push: Vec<u32>,
    pub pull: Vec<u32>,
    pub connect: Vec<u32>,
}

impl Latencies {
    fn add(&mut self, kind: Timed, micros: u32) {
        match kind {
            Timed::Push => self.push.push(micros),
            Timed::Pull => self.pull.push(micros),
            Timed::LiveConnect => self.connect.push(micros),
        }
    }

    fn sort(&mut self) {
        self.push.sort_unstable();
        self.pull.sort_unstable();
        self.connect.sort_unstable();
    }
}

/// p50, p99 and max of sorted latencies, in ms (zeros when there are none).
#[derive(Debug, Default, Clone, Copy)]
pub struct Spread {
    pub count: usize,
    pub p50: f64,
    pub p99: f64,
    pub max: f64,
}

impl Spread {
    /// Of `sorted` microseconds.
    pub fn of(sorted: &[u32]) -> Spread {
        let at = |p: f64| -> f64 {
            if sorted.is_empty() {
                return 0.0;
            }
            // Nearest rank.
            let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
            f64::from(sorted[rank - 1]) / 1e3
        };
        Spread {
            count: sorted.len(),
            p50: at(0.50),
            p99: at(0.99),
            max: at(1.0),
        }
    }
}

/// Where each latency goes: the current interval, the current minute, and the first and
/// last windows of the run that the summary compares.
struct Accumulators {
    /// When the run (the clock of the windows) started.
    started: Instant,
    interval: Latencies,
    minute: Latencies,
    first: Latencies,
    last: Latencies,
}

/// Collects latencies from every task of the load.
pub struct Recorder {
    /// The first window starts here (after the warm-up).
    first_from: Duration,
    /// The first window ends here.
    first_until: Duration,
    /// The last window starts here.
    last_from: Duration,
    accumulators: Mutex<Accumulators>,
}

impl Recorder {
    /// A recorder for a run of `warmup` and then `duration` whose summary compares the
    /// first and last `window` after the warm-up. Its clock starts now and again at
    /// [`Recorder::begin`].
    pub fn new(warmup: Duration, duration: Duration, window: Duration) -> Recorder {
        Recorder {
            first_from: warmup,
            first_until: warmup + window,
            last_from: (warmup + duration).saturating_sub(window),
            accumulators: Mutex::new(Accumulators {
                started: Instant::now(),
                interval: Latencies::default(),
                minute: Latencies::default(),
                first: Latencies::default(),
                last: Latencies::default(),
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Accumulators> {
        self.accumulators
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Starts the run's clock again, with nothing recorded: after the set-up.
    pub fn begin(&self) {
        *self.lock() = Accumulators {
            started: Instant::now(),
            interval: Latencies::default(),
            minute: Latencies::default(),
            first: Latencies::default(),
            last: Latencies::default(),
        };
    }

    /// Time since the run started.
    pub fn elapsed(&self) -> Duration {
        self.lock().started.elapsed()
    }

    /// One request of `kind` took `took`.
    pub fn record(&self, kind: Timed, took: Duration) {
        let micros = u32::try_from(took.as_micros()).unwrap_or(u32::MAX);
        let mut acc = self.lock();
        let at = acc.started.elapsed();
        acc.interval.add(kind, micros);
        acc.minute.add(kind, micros);
        if at >= self.first_from && at < self.first_until {
            acc.first.add(kind, micros);
        }
        if at >= self.last_from {
            acc.last.add(kind, micros);
        }
    }

    /// The interval's latencies, sorted; the next interval starts empty.
    pub fn take_interval(&self) -> Latencies {
        let mut taken = std::mem::take(&mut self.lock().interval);
        taken.sort();
        taken
    }

    /// The minute's latencies, sorted; the next minute starts empty.
    pub fn take_minute(&self) -> Latencies {
        let mut taken = std::mem::take(&mut self.lock().minute);
        taken.sort();
        taken
    }

    /// The first and last windows' latencies, sorted.
    pub fn windows(&self) -> (Latencies, Latencies) {
        let acc = self.lock();
        let (mut first, mut last) = (acc.first.clone(), acc.last.clone());
        first.sort();
        last.sort();
        (first, last)
    }
}

/// One sample: the relay's process and its own gauges, and the load over the interval
/// before it.
#[derive(Debug, Default, Clone)]
pub struct Sample {
    /// Seconds since the load started.
    pub elapsed_s: f64,
    pub rss_kib: u64,
    /// `RssAnon`, `RssFile` and `RssShmem`: the heap (and thread stacks), mapped files
    /// (the binary), and shared memory (SQLite's WAL index), KiB.
    pub rss_anon_kib: u64,
    pub rss_file_kib: u64,
    pub rss_shmem_kib: u64,
    pub fds: u64,
    pub threads: u64,
    /// The relay's CPU over the interval, % of one core.
    pub relay_cpu_pct: f64,
    /// The load generator's (this process's) CPU over the interval, % of one core.
    pub loadgen_cpu_pct: f64,
    /// The relay's data directory: database, WAL, shared memory.
    pub db_kib: u64,
    /// Its WAL alone (`relay.db-wal`): a WAL that never starts over grows without bound.
    pub wal_kib: u64,
    /// Live sockets the load holds open.
    pub sockets_open: u64,
    /// `holdfast_relay_live_connections` from the relay's `/metrics`.
    pub relay_live: u64,
    /// `holdfast_relay_connections` (HTTP connections) from the relay's `/metrics`.
    pub relay_connections: u64,
    /// Requests completed over the interval (every route, answered or refused), and so far.
    pub requests: u64,
    pub requests_total: u64,
    pub push: Spread,
    pub pull: Spread,
    pub connect: Spread,
    pub envelopes_total: u64,
    pub socket_opens_total: u64,
    pub enrolments_total: u64,
    pub revocations_total: u64,
    /// Refusals the load expects (`stale_epoch` after a revocation, `revoked` to the device
    /// just revoked), so far.
    pub expected_refusals_total: u64,
    /// Anything else that went wrong, over the interval and so far.
    pub errors: u64,
    pub errors_total: u64,
    /// Operations not started because too many of their kind were still in flight, so far:
    /// anything but 0 means the offered load was not sustained.
    pub skipped_total: u64,
}

/// The CSV's columns, in [`Sample::csv_row`]'s order.
pub const CSV_HEADER: &str = "elapsed_s,relay_rss_kib,relay_fds,relay_threads,relay_cpu_pct,\
loadgen_cpu_pct,relay_data_kib,relay_wal_kib,sockets_open,relay_live_sockets,\
relay_http_connections,requests,requests_total,pushes,push_p50_ms,push_p99_ms,push_max_ms,pulls,pull_p50_ms,\
pull_p99_ms,pull_max_ms,live_connects,live_connect_p99_ms,envelopes_total,socket_opens_total,\
enrolments_total,revocations_total,expected_refusals_total,errors,errors_total,skipped_total,\
relay_rss_anon_kib,relay_rss_file_kib,relay_rss_shmem_kib";

impl Sample {
    /// One CSV row, without its line end.
    pub fn csv_row(&self) -> String {
        format!(
            "{:.1},{},{},{},{:.1},{:.1},{},{},{},{},{},{},{},{},{:.3},{:.3},{:.3},{},{:.3},\
             {:.3},{:.3},{},{:.3},{},{},{},{},{},{},{},{},{},{},{}",
            self.elapsed_s,
            self.rss_kib,
            self.fds,
            self.threads,
            self.relay_cpu_pct,
            self.loadgen_cpu_pct,
            self.db_kib,
            self.wal_kib,
            self.sockets_open,
            self.relay_live,
            self.relay_connections,
            self.requests,
            self.requests_total,
            self.push.count,
            self.push.p50,
            self.push.p99,
            self.push.max,
            self.pull.count,
            self.pull.p50,
            self.pull.p99,
            self.pull.max,
            self.connect.count,
            self.connect.p99,
            self.envelopes_total,
            self.socket_opens_total,
            self.enrolments_total,
            self.revocations_total,
            self.expected_refusals_total,
            self.errors,
            self.errors_total,
            self.skipped_total,
            self.rss_anon_kib,
            self.rss_file_kib,
            self.rss_shmem_kib,
        )
    }
}

/// The CSV file, a row written and flushed per sample so that a run cut short keeps what
/// it measured.
pub struct Csv {
    file: std::io::BufWriter<std::fs::File>,
}

impl Csv {
    pub fn create(path: &std::path::Path) -> Result<Csv, String> {
        let file =
            std::fs::File::create(path).map_err(|e| format!("create {}: {e}", path.display()))?;
        let mut csv = Csv {
            file: std::io::BufWriter::new(file),
        };
        csv.line(CSV_HEADER)?;
        Ok(csv)
    }

    pub fn write(&mut self, sample: &Sample) -> Result<(), String> {
        self.line(&sample.csv_row())
    }

    fn line(&mut self, line: &str) -> Result<(), String> {
        writeln!(self.file, "{line}")
            .and_then(|()| self.file.flush())
            .map_err(|e| format!("write the CSV: {e}"))
    }
}

/// Mean and largest of `values`.
pub fn mean_max(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (mut sum, mut n, mut max) = (0.0, 0usize, f64::MIN);
    for v in values {
        sum += v;
        n += 1;
        max = max.max(v);
    }
    if n == 0 {
        (0.0, 0.0)
    } else {
        (sum / n as f64, max)
    }
}
