//! A soak of the relay (issue 15): a mixed load at a fixed rate for a set time, the relay's
//! memory, file descriptors and latency sampled throughout, to show whether they stay flat
//! from the first ten minutes to the last.
//!
//! The relay is the `holdfast-relay` binary, a process of its own on 127.0.0.1 with SQLite in
//! a fresh data directory under the system's temporary folder, and every limit at its
//! default; so `/proc/PID` gives its memory (`VmRSS`), file descriptors (`/proc/PID/fd`),
//! threads and CPU alone. The load (`soak/load.rs`) speaks the relay's HTTP and WebSocket API
//! as devices do, with real keys, entries, key bundles and sealed envelopes; each team works
//! from an address of its own on loopback (127.0.0.10, .11, …). By default, over 8 teams of
//! 16 working devices each:
//!
//! - 240 pushes a second, each a batch of 1 to 6 sealed envelopes of 64 to 512 bytes of
//!   plaintext over 32 documents a team, at the team's key epoch (a push refused
//!   `stale_epoch` just after a revocation reads the team's epoch and is sealed again):
//!   ~840 envelopes a second, so the relay's in-memory id buffer (`SqliteOptions::id_buffer`,
//!   a million ids, see `storage/sqlite/ids.rs`) and its page caches are full after about
//!   20 minutes, and the rest of the hour shows the relay in its steady state (~3 million
//!   envelopes, ~2.2 GB of data directory, deleted at the end);
//! - 160 pulls a second, each pages of up to 500 envelopes after the device's cursor,
//!   following `more` for up to 4 pages;
//! - 20 roster reads a second, as a device's sync round starts: the team's state, the
//!   membership entries it has not read, and after a revocation its new key bundle, opened
//!   and checked against the team's key, then acknowledged;
//! - 300 live sockets open at any time, each held 10 to 110 s (about 5 new a second), then
//!   closed or just dropped (half each); each must hear the team's head at once;
//! - an enrolment every 10 s, the teams taking turns: the admin appends an invite with a key
//!   bundle of every epoch's key, the new device reads the invite, redeems it, logs in, reads
//!   the membership log and its keys, and starts working 1,000 envelopes behind the head;
//!   the team's oldest working device then retires (idle, still a member);
//! - a revocation every 3 minutes (the first after 90 s), the teams taking turns: the admin
//!   revokes the working device with the most live sockets, with a new epoch key in a bundle
//!   for every other member; the relay must close that device's sockets (`1008 device
//!   revoked`).
//!
//! A device logs in again after 45 minutes (tokens last an hour). Operations start on a
//! fixed schedule whatever the answers (open loop), each in a task of its own; one that
//! finds 64 of its kind still running is skipped and counted (`skipped_total`): anything
//! but 0 means the machine did not sustain the offered load. That is a few hundred requests
//! a second, which a 2-core machine serves with room to spare, so the latencies are the
//! relay's, not a queue's.
//!
//! Every 10 s a [`Sample`] (see `soak/samples.rs` for the columns) goes to the CSV: relay
//! RSS, fds, threads, CPU (relay and load generator), data directory and WAL sizes, live
//! sockets open (the load's count and the relay's `/metrics` gauge), HTTP connections,
//! requests done, p50/p99/max of pushes and pulls over the interval, p99 of socket opening,
//! and counts of envelopes, sockets opened, enrolments, revocations, expected refusals,
//! errors and skipped operations. Each minute a line is printed. At the end: a summary
//! comparing the first ten minutes with the last ten (mean and largest RSS and fds, p50 and
//! p99 of pushes and pulls over each window; a run shorter than 30 minutes compares its
//! first and last thirds), the trend of RSS and fds over the second half (least squares, per
//! 10 minutes: the first minutes fill caches by design, so a leak shows as a second half
//! that still climbs), and the SVG plot (`soak/plot.rs`).
//!
//! `cargo bench -p holdfast-relay --bench soak -- --minutes 60 --svg docs/soak.svg --csv
//! target/soak/soak.csv` is the full run (60 minutes is the default; paths are taken from
//! the workspace's root, and default to `target/soak/`). Flags: `--minutes M` (fractions
//! too), `--warmup-minutes W` (load for W minutes first, sampled and plotted but left out
//! of the first-against-last comparison and the second half's trend), `--csv PATH`, `--svg PATH`, `--teams N`, `--devices N` (working devices per team),
//! `--pushes R`, `--pulls R`, `--rosters R` (a second), `--sockets N`, `--enrol-every S`,
//! `--revoke-every S`, `--sample-every S`. It exits 1 if anything went wrong (every error is
//! counted; the first 20 and every hundredth are printed), after writing what it measured;
//! SIGINT or SIGTERM ends the load early, and the results are written all the same.
//! `HOLDFAST_SOAK_RELAY=/path/to/holdfast-relay` soaks another build of the relay.
//!
//! Without `--bench` (as under `cargo test --all-targets`) it is a quick pass of 10 s (2 s of
//! warm-up and 8 measured; 2 teams of 4 devices, 16 sockets living 1 to 3 s, an enrolment
//! every 1.5 s and a revocation every 3.3 s, a sample a second) that checks the harness ran: requests done, every
//! interval sampled, sockets opened and replaced, enrolments and a revocation made, a
//! revoked device's socket closed by the relay, no error, the CSV and the SVG written.
//!
//! A watchdog kills the relay and exits 2 if the run is not over [`SETUP_ALLOWANCE`] after
//! its planned end.

#[path = "soak/load.rs"]
mod load;
#[path = "soak/plot.rs"]
mod plot;
#[path = "soak/relay.rs"]
mod relay;
#[path = "soak/samples.rs"]
mod samples;

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use load::{Counters, Load, Shape};
use relay::RelayProcess;
use samples::{Csv, Latencies, Recorder, Sample, Spread, mean_max};

/// Time allowed beyond the planned run for the set-up and the wind-down, before the
/// watchdog kills the relay.
const SETUP_ALLOWANCE: Duration = Duration::from_secs(300);
const QUICK_SETUP_ALLOWANCE: Duration = Duration::from_secs(60);
/// The summary compares the first and last this long (or thirds of a shorter run).
const WINDOW: Duration = Duration::from_secs(600);
/// How long the load's tasks have to finish once told to stop.
const WIND_DOWN: Duration = Duration::from_secs(30);

/// What one run does.
#[derive(Debug, Clone)]
struct Settings {
    full: bool,
    /// Load before the measured run, left out of the comparison of its first and last
    /// windows (sampled and plotted all the same): the time the relay's bounded caches take
    /// to fill. 0 by default.
    warmup: Duration,
    /// The measured run, after the warm-up.
    duration: Duration,
    sample_every: Duration,
    /// A progress line this often.
    report_every: Duration,
    shape: Shape,
    /// `None` in the quick pass: a temporary folder's.
    csv: Option<PathBuf>,
    svg: Option<PathBuf>,
}

impl Settings {
    fn defaults(full: bool) -> Settings {
        if full {
            Settings {
                full,
                warmup: Duration::ZERO,
                duration: Duration::from_secs(3600),
                sample_every: Duration::from_secs(10),
                report_every: Duration::from_secs(60),
                shape: Shape {
                    teams: 8,
                    devices_per_team: 16,
                    pushes_per_sec: 240.0,
                    pulls_per_sec: 160.0,
                    rosters_per_sec: 20.0,
                    sockets: 300,
                    socket_life: (Duration::from_secs(10), Duration::from_secs(110)),
                    enrol_every: Duration::from_secs(10),
                    revoke_every: Duration::from_secs(180),
                },
                csv: Some(workspace_path("target/soak/soak.csv")),
                svg: Some(workspace_path("target/soak/soak.svg")),
            }
        } else {
            Settings {
                full,
                warmup: Duration::from_secs(2),
                duration: Duration::from_secs(8),
                sample_every: Duration::from_secs(1),
                report_every: Duration::from_secs(5),
                shape: Shape {
                    teams: 2,
                    devices_per_team: 4,
                    pushes_per_sec: 20.0,
                    pulls_per_sec: 40.0,
                    rosters_per_sec: 10.0,
                    sockets: 16,
                    socket_life: (Duration::from_secs(1), Duration::from_secs(3)),
                    enrol_every: Duration::from_millis(1500),
                    revoke_every: Duration::from_millis(3300),
                },
                csv: None,
                svg: None,
            }
        }
    }

    /// The defaults, then the flags; unknown arguments (a test runner's) are left alone.
    fn from_args(args: &[String]) -> Result<Settings, String> {
        let full = args.iter().any(|a| a == "--bench");
        let mut settings = Settings::defaults(full);
        let mut args = args.iter();
        while let Some(flag) = args.next() {
            let mut value = || {
                args.next()
                    .cloned()
                    .ok_or_else(|| format!("{flag} needs a value"))
            };
            let number = |text: String| -> Result<f64, String> {
                text.parse::<f64>()
                    .ok()
                    .filter(|n| n.is_finite() && *n >= 0.0)
                    .ok_or_else(|| format!("{flag}: not a number: {text}"))
            };
            let count = |text: String| -> Result<usize, String> {
                text.parse()
                    .map_err(|_| format!("{flag}: not a whole number: {text}"))
            };
            let secs = |text: String| number(text).map(Duration::from_secs_f64);
            let shape = &mut settings.shape;
            match flag.as_str() {
                "--bench" => {}
                "--minutes" => {
                    settings.duration = Duration::from_secs_f64(number(value()?)? * 60.0)
                }
                "--warmup-minutes" => {
                    settings.warmup = Duration::from_secs_f64(number(value()?)? * 60.0)
                }
                "--csv" => settings.csv = Some(workspace_path(&value()?)),
                "--svg" => settings.svg = Some(workspace_path(&value()?)),
                "--teams" => shape.teams = count(value()?)?.clamp(1, 200),
                "--devices" => shape.devices_per_team = count(value()?)?.max(2),
                "--pushes" => shape.pushes_per_sec = number(value()?)?,
                "--pulls" => shape.pulls_per_sec = number(value()?)?,
                "--rosters" => shape.rosters_per_sec = number(value()?)?,
                "--sockets" => shape.sockets = count(value()?)?,
                "--enrol-every" => {
                    shape.enrol_every = secs(value()?)?.max(Duration::from_millis(100))
                }
                "--revoke-every" => {
                    shape.revoke_every = secs(value()?)?.max(Duration::from_millis(100));
                }
                "--sample-every" => {
                    settings.sample_every = secs(value()?)?.max(Duration::from_millis(100));
                }
                other => eprintln!("soak: ignoring the argument {other}"),
            }
        }
        Ok(settings)
    }

    /// The summary's windows: ten minutes, or a third of a shorter run.
    fn window(&self) -> Duration {
        WINDOW.min(self.duration / 3)
    }

    /// The warm-up and the measured run.
    fn total(&self) -> Duration {
        self.warmup + self.duration
    }
}

/// `path`, taken from the workspace's root when relative (a bench runs in its crate's
/// folder).
fn workspace_path(path: &str) -> PathBuf {
    let path = Path::new(path);
    if path.is_absolute() {
        return path.to_owned();
    }
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap_or(Path::new("."))
        .join(path)
}

/// What a run measured.
struct Report {
    samples: Vec<Sample>,
    setup: Duration,
    devices: usize,
    /// The load's own time, until it was told to stop.
    ran: Duration,
    interrupted: Option<&'static str>,
    first: Latencies,
    last: Latencies,
    logins: u64,
    rosters: u64,
    revoked_closes: u64,
    closes_answered: u64,
    closes_unanswered: u64,
}

/// Counter values at one sample, to take differences.
#[derive(Default, Clone, Copy)]
struct Totals {
    requests: u64,
    errors: u64,
}

fn totals(c: &Counters) -> Totals {
    Totals {
        requests: c.requests.load(Ordering::Relaxed),
        errors: c.errors.load(Ordering::Relaxed),
    }
}

/// The relay's own gauges from `/metrics`: live sockets and HTTP connections.
async fn relay_gauges(http: &reqwest::Client, url: &str) -> Result<(u64, u64), String> {
    let text = http
        .get(format!("{url}/metrics"))
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .map_err(|e| format!("/metrics: {e}"))?
        .text()
        .await
        .map_err(|e| format!("/metrics: {e}"))?;
    let gauge = |name: &str| {
        text.lines()
            .find_map(|line| {
                line.strip_prefix(name)?
                    .strip_prefix(' ')?
                    .trim()
                    .parse()
                    .ok()
            })
            .ok_or_else(|| format!("/metrics has no {name}"))
    };
    Ok((
        gauge("holdfast_relay_live_connections")?,
        gauge("holdfast_relay_connections")?,
    ))
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// `[mm:ss]` of `secs`.
fn clock(secs: f64) -> String {
    let secs = secs.max(0.0).round() as u64;
    format!("[{:02}:{:02}]", secs / 60, secs % 60)
}

async fn run(settings: &Settings, relay: &RelayProcess, csv_path: &Path) -> Result<Report, String> {
    let shape = settings.shape.clone();
    let setup_started = Instant::now();
    let recorder = Recorder::new(settings.warmup, settings.duration, settings.window());
    let load = Load::set_up(relay.url(), shape, recorder).await?;
    let setup = setup_started.elapsed();
    let devices = load.active_devices();
    let after_setup = relay.read()?;
    eprintln!(
        "soak: {} teams and {devices} working devices set up in {:.1} s; relay RSS {:.1} MiB, \
         {} fds",
        settings.shape.teams,
        setup.as_secs_f64(),
        mib(after_setup.rss_kib),
        after_setup.fds,
    );

    let mut csv = Csv::create(csv_path)?;
    // A connection per read: the relay closes one idle for 10 s, the interval's length.
    let gauges_http = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| e.to_string())?;
    let started = Instant::now();
    let mut tasks = load.start();

    let mut samples: Vec<Sample> = Vec::new();
    let mut previous = Totals::default();
    let mut previous_at = started;
    let mut relay_cpu = after_setup.cpu_secs;
    let mut own_cpu = relay::own_cpu_secs()?;
    let mut report_from = (Totals::default(), 0.0f64);
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| format!("a SIGTERM handler: {e}"))?;
    let mut tick = tokio::time::interval_at(
        tokio::time::Instant::now() + settings.sample_every,
        settings.sample_every,
    );
    let interrupted = loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = tokio::signal::ctrl_c() => break Some("interrupted (SIGINT)"),
            _ = terminate.recv() => break Some("terminated (SIGTERM)"),
        }
        if !relay.alive() {
            load.stop();
            return Err(format!(
                "the relay exited {:.0} s into the run",
                started.elapsed().as_secs_f64()
            ));
        }
        let now = Instant::now();
        let interval = now.duration_since(previous_at).as_secs_f64();
        let reading = relay.read()?;
        let own = relay::own_cpu_secs()?;
        let (relay_live, relay_connections) = relay_gauges(&gauges_http, relay.url())
            .await
            .unwrap_or_else(|e| {
                load.error("sample", e);
                (0, 0)
            });
        let latencies = load.recorder.take_interval();
        let counters = &load.counters;
        let current = totals(counters);
        let sample = Sample {
            elapsed_s: now.duration_since(started).as_secs_f64(),
            rss_kib: reading.rss_kib,
            rss_anon_kib: reading.rss_anon_kib,
            rss_file_kib: reading.rss_file_kib,
            rss_shmem_kib: reading.rss_shmem_kib,
            fds: reading.fds,
            threads: reading.threads,
            relay_cpu_pct: (reading.cpu_secs - relay_cpu) / interval * 100.0,
            loadgen_cpu_pct: (own - own_cpu) / interval * 100.0,
            db_kib: relay::directory_bytes(relay.data_dir()) / 1024,
            wal_kib: std::fs::metadata(relay.data_dir().join(format!(
                "{}-wal",
                holdfast_relay::storage::sqlite::DATABASE_FILE
            )))
            .map_or(0, |m| m.len() / 1024),
            sockets_open: counters.sockets_open.load(Ordering::Relaxed),
            relay_live,
            relay_connections,
            requests: current.requests - previous.requests,
            requests_total: current.requests,
            push: Spread::of(&latencies.push),
            pull: Spread::of(&latencies.pull),
            connect: Spread::of(&latencies.connect),
            envelopes_total: counters.envelopes.load(Ordering::Relaxed),
            socket_opens_total: counters.socket_opens.load(Ordering::Relaxed),
            enrolments_total: counters.enrolments.load(Ordering::Relaxed),
            revocations_total: counters.revocations.load(Ordering::Relaxed),
            expected_refusals_total: counters.expected_refusals.load(Ordering::Relaxed),
            errors: current.errors - previous.errors,
            errors_total: current.errors,
            skipped_total: counters.skipped.load(Ordering::Relaxed),
        };
        csv.write(&sample)?;
        (previous, previous_at, relay_cpu, own_cpu) = (current, now, reading.cpu_secs, own);

        let since_report = sample.elapsed_s - report_from.1;
        if since_report + 0.05 >= settings.report_every.as_secs_f64() {
            let minute = load.recorder.take_minute();
            let (push, pull) = (Spread::of(&minute.push), Spread::of(&minute.pull));
            let window: Vec<&Sample> = samples
                .iter()
                .filter(|s| s.elapsed_s > report_from.1)
                .chain(std::iter::once(&sample))
                .collect();
            let (relay_cpu_mean, _) = mean_max(window.iter().map(|s| s.relay_cpu_pct));
            let (own_cpu_mean, _) = mean_max(window.iter().map(|s| s.loadgen_cpu_pct));
            println!(
                "soak {}: RSS {:.1} MiB, {} fds, {} threads, {} sockets open (relay {}), \
                 {:.0} req/s, push p50 {:.1} / p99 {:.1} / max {:.1} ms ({}), pull p50 {:.1} / \
                 p99 {:.1} / max {:.1} ms ({}), CPU relay {:.0}% load {:.0}%, data {:.0} MiB \
                 (WAL {:.0} MiB), \
                 {} enrolments, {} revocations, {} errors, {} skipped",
                clock(sample.elapsed_s),
                mib(sample.rss_kib),
                sample.fds,
                sample.threads,
                sample.sockets_open,
                sample.relay_live,
                (current.requests - report_from.0.requests) as f64 / since_report.max(0.001),
                push.p50,
                push.p99,
                push.max,
                push.count,
                pull.p50,
                pull.p99,
                pull.max,
                pull.count,
                relay_cpu_mean,
                own_cpu_mean,
                mib(sample.db_kib),
                mib(sample.wal_kib),
                sample.enrolments_total,
                sample.revocations_total,
                sample.errors_total,
                sample.skipped_total,
            );
            report_from = (current, sample.elapsed_s);
        }
        samples.push(sample);
        if started.elapsed() + Duration::from_millis(50) >= settings.total() {
            break None;
        }
    };
    let ran = started.elapsed();
    load.stop();
    let wound_down = tokio::time::timeout(WIND_DOWN, async {
        while let Some(task) = tasks.join_next().await {
            task.map_err(|e| format!("a load task: {e}"))?;
        }
        Ok::<(), String>(())
    })
    .await;
    match wound_down {
        Ok(done) => done?,
        Err(_) => {
            return Err(format!(
                "the load did not stop within {} s",
                WIND_DOWN.as_secs()
            ));
        }
    }
    let (first, last) = load.recorder.windows();
    Ok(Report {
        samples,
        setup,
        devices,
        ran,
        interrupted,
        first,
        last,
        logins: load.counters.logins.load(Ordering::Relaxed),
        rosters: load.counters.rosters.load(Ordering::Relaxed),
        revoked_closes: load.counters.revoked_closes.load(Ordering::Relaxed),
        closes_answered: load.counters.closes_answered.load(Ordering::Relaxed),
        closes_unanswered: load.counters.closes_unanswered.load(Ordering::Relaxed),
    })
}

/// Prints the totals and the first window against the last.
fn summarise(settings: &Settings, report: &Report) {
    let Some(end) = report.samples.last() else {
        println!("soak: no sample was taken");
        return;
    };
    let window = settings.window().as_secs_f64();
    let warmup = settings.warmup.as_secs_f64();
    let ran = report.ran.as_secs_f64();
    let requests = end.requests_total;
    println!(
        "soak summary: {:.1} min of load{} ({} teams, {} working devices, set up in {:.1} s): \
         {requests} requests ({:.0}/s), {} envelopes pushed, {} live sockets opened ({} closed by \
         the relay on revocation), {} enrolments, {} revocations, {} logins, {} roster reads, \
         {} expected refusals, {} errors, {} operations skipped; relay data {:.0} MiB",
        ran / 60.0,
        report
            .interrupted
            .map(|why| format!(", {why}"))
            .unwrap_or_default(),
        settings.shape.teams,
        report.devices,
        report.setup.as_secs_f64(),
        requests as f64 / ran.max(0.001),
        end.envelopes_total,
        end.socket_opens_total,
        report.revoked_closes,
        end.enrolments_total,
        end.revocations_total,
        report.logins,
        report.rosters,
        end.expected_refusals_total,
        end.errors_total,
        end.skipped_total,
        mib(end.db_kib),
    );
    if report.closes_unanswered > 0 {
        println!(
            "soak: of {} live sockets the load closed, the relay answered {} with a close frame \
             and ended {} without one (RFC 6455, 5.5.1: an endpoint that receives a close \
             sends one back)",
            report.closes_answered + report.closes_unanswered,
            report.closes_answered,
            report.closes_unanswered,
        );
    }
    let first: Vec<&Sample> = report
        .samples
        .iter()
        .filter(|s| s.elapsed_s > warmup + 0.5 && s.elapsed_s <= warmup + window + 0.5)
        .collect();
    let last: Vec<&Sample> = report
        .samples
        .iter()
        .filter(|s| s.elapsed_s > ran - window + 0.5)
        .collect();
    let label = if window >= 60.0 {
        format!("{:.0} min", window / 60.0)
    } else {
        format!("{window:.0} s")
    };
    let after = if warmup > 0.0 {
        format!(" after {:.0} min of warm-up", warmup / 60.0)
    } else {
        String::new()
    };
    println!(
        "soak: first {label}{after} against last {label} ({} and {} samples):",
        first.len(),
        last.len()
    );
    let row = |what: &str, a: f64, b: f64, unit: &str| {
        let ratio = if a > 0.0 {
            format!("{:.2}", b / a)
        } else {
            "-".to_owned()
        };
        println!("  {what:<28} {a:>10.1} {unit:<4} {b:>10.1} {unit:<4} last/first {ratio}");
    };
    let stat =
        |samples: &[&Sample], f: &dyn Fn(&Sample) -> f64| mean_max(samples.iter().map(|s| f(s)));
    let (rss_a, rss_a_max) = stat(&first, &|s| mib(s.rss_kib));
    let (rss_b, rss_b_max) = stat(&last, &|s| mib(s.rss_kib));
    row("relay RSS, mean", rss_a, rss_b, "MiB");
    row("relay RSS, largest", rss_a_max, rss_b_max, "MiB");
    let (anon_a, _) = stat(&first, &|s| mib(s.rss_anon_kib));
    let (anon_b, _) = stat(&last, &|s| mib(s.rss_anon_kib));
    row("relay RSS anonymous, mean", anon_a, anon_b, "MiB");
    let (file_a, _) = stat(&first, &|s| mib(s.rss_file_kib + s.rss_shmem_kib));
    let (file_b, _) = stat(&last, &|s| mib(s.rss_file_kib + s.rss_shmem_kib));
    row("relay RSS file+shmem, mean", file_a, file_b, "MiB");
    let (fds_a, fds_a_max) = stat(&first, &|s| s.fds as f64);
    let (fds_b, fds_b_max) = stat(&last, &|s| s.fds as f64);
    row("relay fds, mean", fds_a, fds_b, "");
    row("relay fds, largest", fds_a_max, fds_b_max, "");
    let (_, wal_a_max) = stat(&first, &|s| mib(s.wal_kib));
    let (_, wal_b_max) = stat(&last, &|s| mib(s.wal_kib));
    row("relay WAL, largest", wal_a_max, wal_b_max, "MiB");
    let (threads_a, _) = stat(&first, &|s| s.threads as f64);
    let (threads_b, _) = stat(&last, &|s| s.threads as f64);
    row("relay threads, mean", threads_a, threads_b, "");
    let (live_a, _) = stat(&first, &|s| s.relay_live as f64);
    let (live_b, _) = stat(&last, &|s| s.relay_live as f64);
    row("live sockets (relay), mean", live_a, live_b, "");
    let (cpu_a, _) = stat(&first, &|s| s.relay_cpu_pct);
    let (cpu_b, _) = stat(&last, &|s| s.relay_cpu_pct);
    row("relay CPU, mean", cpu_a, cpu_b, "%");
    let (req_a, _) = stat(&first, &|s| {
        s.requests as f64 / settings.sample_every.as_secs_f64()
    });
    let (req_b, _) = stat(&last, &|s| {
        s.requests as f64 / settings.sample_every.as_secs_f64()
    });
    row("requests/s, mean", req_a, req_b, "");
    let (push_a, push_b) = (
        Spread::of(&report.first.push),
        Spread::of(&report.last.push),
    );
    let (pull_a, pull_b) = (
        Spread::of(&report.first.pull),
        Spread::of(&report.last.pull),
    );
    row("push p50", push_a.p50, push_b.p50, "ms");
    row("push p99", push_a.p99, push_b.p99, "ms");
    row("push max", push_a.max, push_b.max, "ms");
    row("pull p50", pull_a.p50, pull_b.p50, "ms");
    row("pull p99", pull_a.p99, pull_b.p99, "ms");
    row("pull max", pull_a.max, pull_b.max, "ms");
    let (connect_a, connect_b) = (
        Spread::of(&report.first.connect),
        Spread::of(&report.last.connect),
    );
    row("live socket open p99", connect_a.p99, connect_b.p99, "ms");
    // The second half's trend: a leak keeps climbing once the caches are full.
    let half: Vec<&Sample> = report
        .samples
        .iter()
        .filter(|s| s.elapsed_s >= warmup + (ran - warmup).max(0.0) / 2.0)
        .collect();
    let rss_trend = trend(&half, &|s| mib(s.rss_kib));
    let fds_trend = trend(&half, &|s| s.fds as f64);
    let data_trend = trend(&half, &|s| mib(s.db_kib));
    println!(
        "  second half ({} samples), per 10 min: relay RSS {rss_trend:+.1} MiB, fds \
         {fds_trend:+.1}, data directory {data_trend:+.1} MiB",
        half.len()
    );
    // Each ten minutes' mean memory, warm-up included: a leak rises by as much in each.
    if ran >= 2.0 * WINDOW.as_secs_f64() {
        let tens = (ran / WINDOW.as_secs_f64()).ceil() as usize;
        let means: Vec<String> = (0..tens)
            .filter_map(|k| {
                let (from, to) = (
                    k as f64 * WINDOW.as_secs_f64(),
                    (k + 1) as f64 * WINDOW.as_secs_f64(),
                );
                let window: Vec<&Sample> = report
                    .samples
                    .iter()
                    .filter(|s| s.elapsed_s > from && s.elapsed_s <= to)
                    .collect();
                if window.is_empty() {
                    return None;
                }
                let (rss, _) = stat(&window, &|s| mib(s.rss_kib));
                let (anon, _) = stat(&window, &|s| mib(s.rss_anon_kib));
                Some(format!("{rss:.1} ({anon:.1})"))
            })
            .collect();
        println!(
            "  relay RSS (anonymous) by ten minutes, MiB: {}",
            means.join(", ")
        );
    }
}

/// The least-squares slope of `f` over `samples`, per 10 minutes (0 with fewer than two).
fn trend(samples: &[&Sample], f: &dyn Fn(&Sample) -> f64) -> f64 {
    let n = samples.len() as f64;
    if samples.len() < 2 {
        return 0.0;
    }
    let mean_t = samples.iter().map(|s| s.elapsed_s).sum::<f64>() / n;
    let mean_y = samples.iter().map(|s| f(s)).sum::<f64>() / n;
    let (mut covariance, mut variance) = (0.0, 0.0);
    for s in samples {
        covariance += (s.elapsed_s - mean_t) * (f(s) - mean_y);
        variance += (s.elapsed_s - mean_t).powi(2);
    }
    if variance == 0.0 {
        0.0
    } else {
        covariance / variance * 600.0
    }
}

/// This process's soft limit on open files, from `/proc/self/limits`.
fn open_files_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.trim_start_matches("Max open files")
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// The quick pass's checks that the harness really ran.
fn check_quick(settings: &Settings, report: &Report, csv: &Path, svg: &Path) {
    let samples = &report.samples;
    let expected = (settings.total().as_secs_f64() / settings.sample_every.as_secs_f64()) as usize;
    assert!(
        samples.len() + 1 >= expected,
        "{} samples, expected about {expected}",
        samples.len()
    );
    let end = samples.last().expect("samples");
    assert!(end.requests_total > 0, "no request done");
    assert!(
        samples.iter().all(|s| s.rss_kib > 0
            && s.rss_anon_kib > 0
            && s.rss_anon_kib <= s.rss_kib
            && s.fds > 0),
        "a sample without the relay's memory or fds"
    );
    let pushes: usize = samples.iter().map(|s| s.push.count).sum();
    let pulls: usize = samples.iter().map(|s| s.pull.count).sum();
    assert!(
        pushes > 0 && pulls > 0,
        "{pushes} pushes and {pulls} pulls timed"
    );
    assert!(end.envelopes_total > 0, "no envelope stored");
    assert!(
        end.socket_opens_total > settings.shape.sockets as u64,
        "{} live sockets opened: none replaced",
        end.socket_opens_total
    );
    assert!(
        samples.iter().any(|s| s.relay_live > 0),
        "the relay never counted a live socket"
    );
    assert!(
        end.enrolments_total >= 2,
        "{} enrolments",
        end.enrolments_total
    );
    assert!(
        end.revocations_total >= 1,
        "{} revocations",
        end.revocations_total
    );
    assert!(
        report.revoked_closes >= 1,
        "no live socket was closed by the relay on its device's revocation"
    );
    assert_eq!(end.errors_total, 0, "errors (printed above)");
    let rows = std::fs::read_to_string(csv).expect("the CSV");
    assert_eq!(
        rows.lines().count(),
        samples.len() + 1,
        "the CSV holds a header and a row per sample"
    );
    assert!(rows.starts_with("elapsed_s,relay_rss_kib,relay_fds"));
    let plot = std::fs::read_to_string(svg).expect("the SVG");
    assert!(
        plot.starts_with("<svg") && plot.contains("push p99") && plot.contains("<polyline"),
        "the SVG holds no plot"
    );
}

fn main() {
    // reqwest's rustls has no provider of its own in this workspace.
    holdfast_relay::testing::install_crypto_provider();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let settings = Settings::from_args(&args).unwrap_or_else(|e| panic!("soak: {e}"));
    let shape = &settings.shape;
    eprintln!(
        "soak: {} for {:.1} min{}: {} teams x {} devices, {} pushes/s, {} pulls/s, {} roster \
         reads/s, {} live sockets ({}-{} s each), an enrolment every {:.1} s, a revocation every \
         {:.1} s; a sample every {:.0} s; relay {}",
        if settings.full {
            "full run"
        } else {
            "quick pass"
        },
        settings.duration.as_secs_f64() / 60.0,
        if settings.warmup.is_zero() {
            String::new()
        } else {
            format!(
                " after {:.1} min of warm-up",
                settings.warmup.as_secs_f64() / 60.0
            )
        },
        shape.teams,
        shape.devices_per_team,
        shape.pushes_per_sec,
        shape.pulls_per_sec,
        shape.rosters_per_sec,
        shape.sockets,
        shape.socket_life.0.as_secs(),
        shape.socket_life.1.as_secs(),
        shape.enrol_every.as_secs_f64(),
        shape.revoke_every.as_secs_f64(),
        settings.sample_every.as_secs_f64(),
        relay::binary().to_string_lossy(),
    );

    // The outputs: the given paths, or a temporary folder's in the quick pass.
    let scratch = tempfile::tempdir().expect("a temporary folder");
    let csv = settings
        .csv
        .clone()
        .unwrap_or_else(|| scratch.path().join("soak.csv"));
    let svg = settings
        .svg
        .clone()
        .unwrap_or_else(|| scratch.path().join("soak.svg"));
    for path in [&csv, &svg] {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .unwrap_or_else(|e| panic!("soak: create {}: {e}", parent.display()));
        }
    }

    // The watchdog: whatever is stuck, the relay is killed and the bench exits.
    let allowance = if settings.full {
        SETUP_ALLOWANCE
    } else {
        QUICK_SETUP_ALLOWANCE
    };
    let deadline = settings.total() + allowance;
    std::thread::spawn(move || {
        std::thread::sleep(deadline);
        eprintln!(
            "soak: still running {} s after the start: killing the relay",
            deadline.as_secs()
        );
        relay::kill_all();
        std::process::exit(2);
    });

    if let Some(limit) = open_files_limit() {
        let needed = settings.shape.sockets as u64 + 500;
        assert!(
            limit >= needed,
            "soak: {} live sockets need a file-descriptor limit of at least {needed}; this \
             process has {limit} (`ulimit -n`)",
            settings.shape.sockets
        );
    }
    let relay = RelayProcess::start().unwrap_or_else(|e| panic!("soak: {e}"));
    eprintln!("soak: relay pid {} at {}", relay.pid(), relay.url());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .thread_name("soak")
        .enable_all()
        .build()
        .expect("tokio runtime");
    let outcome = runtime.block_on(run(&settings, &relay, &csv));
    drop(runtime);
    drop(relay);
    relay::kill_all();
    let report = outcome.unwrap_or_else(|e| panic!("soak: {e}"));

    summarise(&settings, &report);
    let title = format!(
        "Holdfast relay soak: {:.1} min, {} teams, {:.0} requests/s, {} live sockets",
        report.ran.as_secs_f64() / 60.0,
        settings.shape.teams,
        report.samples.last().map_or(0, |s| s.requests_total) as f64
            / report.ran.as_secs_f64().max(0.001),
        settings.shape.sockets,
    );
    plot::draw(
        &svg,
        &title,
        settings.sample_every.as_secs_f64(),
        settings.warmup.as_secs_f64() / 60.0,
        &report.samples,
    )
    .unwrap_or_else(|e| panic!("soak: the plot: {e}"));
    println!("soak: CSV {}", csv.display());
    println!("soak: plot {}", svg.display());

    if !settings.full {
        check_quick(&settings, &report, &csv, &svg);
        return;
    }
    let errors = report.samples.last().map_or(0, |s| s.errors_total);
    let skipped = report.samples.last().map_or(0, |s| s.skipped_total);
    if skipped > 0 {
        eprintln!(
            "soak: {skipped} operations were skipped: the machine did not sustain the offered \
             load, and the latencies include its queueing"
        );
    }
    if errors > 0 {
        eprintln!("soak: {errors} errors (the first are printed above)");
        std::process::exit(1);
    }
}
