//! The seeded caseload's size on disk, and peak RSS of a fresh process that opens the store
//! and lists the caseload.
//!
//! `cargo bench -p holdfast-core --bench footprint`

use std::process::Command;

use holdfast_core::seed::{self, SeedConfig};
use holdfast_core::store::CaseloadFilter;
use holdfast_core::{FileKeyStore, Store, StoreConfig};

fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn dir_size(dir: &std::path::Path) -> std::io::Result<(u64, Vec<(String, u64)>)> {
    let mut total = 0;
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let meta = entry.metadata()?;
        if meta.is_file() {
            total += meta.len();
            files.push((entry.file_name().to_string_lossy().into_owned(), meta.len()));
        }
    }
    files.sort();
    Ok((total, files))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if let Some(pos) = args.iter().position(|a| a == "--open-and-list") {
        // The child: open the store and list the caseload, then report peak RSS.
        let dir = &args[pos + 1];
        let before = peak_rss_kib().unwrap_or(0);
        let keys = FileKeyStore::new(std::path::Path::new(dir).join("keys"));
        let store = Store::open(&StoreConfig::new(dir, "Bench"), &keys)?;
        let list = store.caseload(&CaseloadFilter::default())?;
        println!("{} {} {}", list.len(), before, peak_rss_kib().unwrap_or(0));
        return Ok(());
    }
    let quick = !args.iter().any(|a| a == "--bench");
    let config_seed = if quick {
        SeedConfig {
            patients: 20,
            assets: 100,
            ..SeedConfig::default()
        }
    } else {
        SeedConfig::default()
    };
    let dir = tempfile::tempdir()?;
    let keys = FileKeyStore::new(dir.path().join("keys"));
    {
        let mut store = Store::create(&StoreConfig::new(dir.path(), "Bench"), &keys)?;
        let started = std::time::Instant::now();
        seed::populate(&mut store, &config_seed)?;
        println!(
            "populating the seeded caseload took {:.2} s",
            started.elapsed().as_secs_f64()
        );
    } // closing checkpoints the WAL into the database file
    let (total, files) = dir_size(dir.path())?;
    println!(
        "seeded caseload ({} patients, {} assets) on disk: {:.2} MiB {:?}",
        config_seed.patients,
        config_seed.assets,
        total as f64 / 1_048_576.0,
        files
    );
    let out = Command::new(std::env::current_exe()?)
        .arg("--open-and-list")
        .arg(dir.path())
        .output()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let fields: Vec<&str> = text.split_whitespace().collect();
    if !out.status.success() || fields.len() != 3 {
        return Err(format!("child failed: {}", String::from_utf8_lossy(&out.stderr)).into());
    }
    println!(
        "open + list {} cases in a fresh process: peak RSS {:.1} MiB (process baseline before opening {:.1} MiB)",
        fields[0],
        fields[2].parse::<f64>()? / 1024.0,
        fields[1].parse::<f64>()? / 1024.0
    );
    Ok(())
}
