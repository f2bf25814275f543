//! Directory search latency over 10,000 assets: p50 / p95 / p99 / max over a varied query mix
//! (free text, category, postcode district, capacity, and combinations).
//!
//! `cargo bench -p holdfast-core --bench search_latency`

use std::time::Instant;

use holdfast_core::model::directory::Capacity;
use holdfast_core::seed;
use holdfast_core::store::DirectoryQuery;
use holdfast_core::{MemoryKeyStore, Store, StoreConfig};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // `cargo bench` passes --bench; anything else (e.g. `cargo test --benches`) runs a quick pass.
    let quick = !std::env::args().any(|a| a == "--bench");
    let n_assets = if quick { 500 } else { 10_000 };
    let dir = tempfile::tempdir()?;
    let keys = MemoryKeyStore::default();
    let mut store = Store::create(&StoreConfig::new(dir.path(), "Bench"), &keys)?;
    let directory = store.create_directory("West Yorkshire")?;
    let t = Instant::now();
    store.import_assets(directory, &seed::assets(7, n_assets))?;
    let import = t.elapsed();

    let texts = [
        "walk",
        "debt advice",
        "befriend",
        "choir",
        "food",
        "men shed",
        "carer",
        "art",
        "bereavement",
        "job",
    ];
    let categories = [
        "loneliness",
        "money",
        "housing",
        "physical activity",
        "mental wellbeing",
        "carer support",
    ];
    let districts = ["LS6", "LS8", "LS11", "WF1", "BD3"];
    let mut queries = Vec::new();
    for (i, text) in texts.iter().enumerate() {
        queries.push(DirectoryQuery {
            text: Some((*text).into()),
            ..Default::default()
        });
        queries.push(DirectoryQuery {
            text: Some((*text).into()),
            district: Some(districts[i % districts.len()].into()),
            ..Default::default()
        });
        queries.push(DirectoryQuery {
            category: Some(categories[i % categories.len()].into()),
            capacity: Some(Capacity::Open),
            ..Default::default()
        });
        queries.push(DirectoryQuery {
            text: Some((*text).into()),
            category: Some(categories[(i + 1) % categories.len()].into()),
            ..Default::default()
        });
    }
    let rounds = if quick { 5 } else { 200 };
    let mut samples = Vec::with_capacity(rounds * queries.len());
    let mut hits = 0usize;
    for _ in 0..rounds {
        for q in &queries {
            let t = Instant::now();
            hits += store.search_directory(q)?.len();
            samples.push(t.elapsed().as_secs_f64() * 1000.0);
        }
    }
    samples.sort_by(f64::total_cmp);
    let pct = |p: f64| samples[((samples.len() as f64 - 1.0) * p).round() as usize];
    println!(
        "directory search over {n_assets} assets: {} queries, p50 {:.3} ms, p95 {:.3} ms, p99 {:.3} ms, max {:.3} ms ({} hits; import took {:.2} s)",
        samples.len(),
        pct(0.50),
        pct(0.95),
        pct(0.99),
        samples[samples.len() - 1],
        hits,
        import.as_secs_f64()
    );
    Ok(())
}
