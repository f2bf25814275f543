//! A supervisor's device after several years: 50,000 case files and their 50,000 action
//! plans (100,001 documents with the directory of 10,000 assets). Measures what a person
//! waits for when the app starts, opening the store and showing the first page of the
//! caseload, and directory search on that store.
//!
//! The store is made by the seeder (real case files and plans through the store's own API,
//! as `holdfast seed` makes them), which takes a long time at this size; so it is built
//! once and kept in a cache folder named by seed and sizes (`$HOLDFAST_BENCH_CACHE`, else
//! the system's temp folder), with the time the build took. Each run copies it to a fresh
//! folder, so the cache is never changed (an upgrade to a newer schema happens in the copy)
//! and every run starts from the same file.
//!
//! `cargo bench -p holdfast-core --bench large_device` (`HOLDFAST_LARGE_DEVICE_PATIENTS=N`
//! for another size). Without `--bench` (the test suite), a quick pass on 50 patients.

mod common;

use std::path::{Path, PathBuf};
use std::time::Instant;

use holdfast_core::seed::{self, SeedConfig};
use holdfast_core::store::{CaseloadEntry, CaseloadFilter, DirectoryQuery};
use holdfast_core::{FileKeyStore, Store, StoreConfig};

use common::pct;

const SEED: u64 = 42;
const PERSON: &str = "Bench Supervisor";
const PAGE: usize = 50;

type Res<T> = Result<T, Box<dyn std::error::Error>>;

fn ms(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1000.0
}

/// min / median / max of a few runs.
fn spread(mut s: Vec<f64>) -> String {
    s.sort_by(f64::total_cmp);
    format!(
        "min {:.2} ms, median {:.2} ms, max {:.2} ms ({} runs)",
        s[0],
        pct(&s, 0.5),
        s[s.len() - 1],
        s.len()
    )
}

fn store_config(root: &Path) -> StoreConfig {
    StoreConfig::new(root.join("store"), PERSON)
}

fn keys(root: &Path) -> FileKeyStore {
    FileKeyStore::new(root.join("keys"))
}

/// Seeds a store of `config` in `root`; returns the seconds it took.
fn build(root: &Path, config: &SeedConfig) -> Res<f64> {
    let t = Instant::now();
    let mut store = Store::create(&store_config(root), &keys(root))?;
    let seeded = seed::populate(&mut store, config)?;
    assert_eq!(seeded.cases.len(), config.patients);
    drop(store);
    Ok(t.elapsed().as_secs_f64())
}

/// The cached store of `config`, built first when missing; and the seconds its build took.
fn cached(config: &SeedConfig) -> Res<(PathBuf, f64)> {
    let base = std::env::var_os("HOLDFAST_BENCH_CACHE").map_or_else(
        || std::env::temp_dir().join("holdfast-bench-cache"),
        PathBuf::from,
    );
    let dir = base.join(format!(
        "large-device-seed{}-p{}-a{}",
        config.seed, config.patients, config.assets
    ));
    let stamp = dir.join("built-in-seconds");
    if let Ok(text) = std::fs::read_to_string(&stamp) {
        return Ok((dir, text.trim().parse()?));
    }
    println!(
        "seeding {} patients and {} assets into {} (once; later runs reuse it)",
        config.patients,
        config.assets,
        dir.display()
    );
    let building = base.join(format!("building-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&building);
    std::fs::create_dir_all(&building)?;
    let seconds = build(&building, config)?;
    std::fs::write(building.join("built-in-seconds"), format!("{seconds:.1}\n"))?;
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::rename(&building, &dir)?;
    Ok((dir, seconds))
}

fn copy_dir(from: &Path, to: &Path) -> Res<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}

/// What the app shows first: the first page of the caseload, in the order it lists it.
fn first_page(store: &Store) -> Res<Vec<CaseloadEntry>> {
    Ok(store.caseload_page(&CaseloadFilter::default(), PAGE as u32, None)?)
}

/// Every page after the first, walked to the end: the whole caseload, in order.
fn walk_pages(store: &Store, page: u32) -> Res<Vec<CaseloadEntry>> {
    let mut all: Vec<CaseloadEntry> = Vec::new();
    loop {
        let next = store.caseload_page(&CaseloadFilter::default(), page, all.last())?;
        if next.is_empty() {
            return Ok(all);
        }
        all.extend(next);
    }
}

/// The parts of an open that a raw SQLCipher connection repeats: the key and the first
/// read (page 1 decrypted), the schema version, the length check's two pragmas. What
/// `Store::open` takes beyond them is its own work (access, team, the plan check).
fn raw_open(root: &Path) -> Res<(f64, f64)> {
    use holdfast_core::KeyStore;
    let key = keys(root)
        .get(holdfast_core::store::STORE_KEY_NAME)?
        .ok_or("no store key")?;
    let t = Instant::now();
    let conn = rusqlite::Connection::open(store_config(root).db_path())?;
    conn.execute_batch(&format!("PRAGMA key = \"x'{}'\";", hex::encode(&key)))?;
    let _: i64 = conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))?;
    let keyed = ms(t);
    let t = Instant::now();
    let _: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let _: String = conn.query_row("PRAGMA cipher_page_size", [], |r| r.get(0))?;
    let _: i64 = conn.query_row("PRAGMA page_count", [], |r| r.get(0))?;
    Ok((keyed, ms(t)))
}

/// The directory search mix of `search_latency`, for this store.
fn search_mix() -> Vec<DirectoryQuery> {
    common::queries().into_iter().map(|(_, q)| q).collect()
}

fn main() -> Res<()> {
    // `cargo bench` passes --bench; anything else (e.g. `cargo test --benches`) runs a quick pass.
    let quick = !std::env::args().any(|a| a == "--bench");
    let patients = match std::env::var("HOLDFAST_LARGE_DEVICE_PATIENTS") {
        Ok(n) => n.parse()?,
        Err(_) if quick => 50,
        Err(_) => 50_000,
    };
    let config = SeedConfig {
        seed: SEED,
        patients,
        assets: if quick { 300 } else { 10_000 },
    };
    let scratch = tempfile::tempdir()?;
    let (source, built) = if quick {
        let root = scratch.path().join("seeded");
        let seconds = build(&root, &config)?;
        (root, seconds)
    } else {
        cached(&config)?
    };
    println!(
        "store of {patients} patients ({} documents, {} assets): seeded in {built:.1} s",
        2 * patients + 1,
        config.assets
    );
    let root = scratch.path().join("run");
    let t = Instant::now();
    copy_dir(&source, &root)?;
    let bytes = std::fs::metadata(store_config(&root).db_path())?.len();
    println!(
        "copied ({:.0} MiB) in {:.1} s",
        bytes as f64 / (1024.0 * 1024.0),
        t.elapsed().as_secs_f64()
    );

    // The first open of the copy may upgrade its schema: timed apart.
    let t = Instant::now();
    let store = Store::open(&store_config(&root), &keys(&root))?;
    println!(
        "first open of the copy (any upgrade included): {:.1} ms",
        ms(t)
    );
    let expected = store.caseload(&CaseloadFilter::default())?;
    assert_eq!(expected.len(), patients, "every case is listed");
    drop(store);

    let runs = if quick { 3 } else { 15 };
    let (mut opens, mut pages, mut totals) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..runs {
        let t = Instant::now();
        let store = Store::open(&store_config(&root), &keys(&root))?;
        let opened = ms(t);
        let t2 = Instant::now();
        let page = first_page(&store)?;
        let paged = ms(t2);
        totals.push(ms(t));
        opens.push(opened);
        pages.push(paged);
        assert_eq!(page.as_slice(), &expected[..PAGE.min(expected.len())]);
        drop(store);
    }
    let (mut keyed, mut checked) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        let (k, c) = raw_open(&root)?;
        keyed.push(k);
        checked.push(c);
    }
    println!("open: {}", spread(opens));
    println!("  of which SQLCipher key + first read: {}", spread(keyed));
    println!(
        "  of which schema version + length check: {}",
        spread(checked)
    );
    println!("first caseload page ({PAGE} rows): {}", spread(pages));
    println!("open + first page: {}", spread(totals));

    let store = Store::open(&store_config(&root), &keys(&root))?;
    if quick {
        // Pages walked to the end are the whole caseload, in order, once each.
        assert_eq!(walk_pages(&store, 7)?, expected);
    }
    let queries = search_mix();
    let rounds = if quick { 3 } else { 100 };
    let mut samples = Vec::with_capacity(rounds * queries.len());
    let mut hits = 0;
    for _ in 0..rounds {
        for q in &queries {
            let t = Instant::now();
            hits += store.search_directory(q)?.len();
            samples.push(ms(t));
        }
    }
    assert!(hits > 0, "the query mix finds assets");
    samples.sort_by(f64::total_cmp);
    println!(
        "directory search ({} assets, {patients} patients): {} queries, p50 {:.3} ms, p95 {:.3} ms, p99 {:.3} ms, max {:.3} ms",
        config.assets,
        samples.len(),
        pct(&samples, 0.5),
        pct(&samples, 0.95),
        pct(&samples, 0.99),
        samples[samples.len() - 1]
    );
    Ok(())
}
