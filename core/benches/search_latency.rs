//! Directory search latency over 10,000 assets: p50 / p95 / p99 / max over a varied query mix
//! (free text, category, postcode district, capacity, and combinations), then the same per
//! query shape and the slowest single queries, which say where the tail comes from.
//!
//! `cargo bench -p holdfast-core --bench search_latency`

mod common;

use std::time::Instant;

use holdfast_core::seed;
use holdfast_core::store::DirectoryQuery;
use holdfast_core::{MemoryKeyStore, Store, StoreConfig};

use common::{pct, queries};

fn describe(q: &DirectoryQuery) -> String {
    let mut parts = Vec::new();
    if let Some(t) = &q.text {
        parts.push(format!("text {t:?}"));
    }
    if let Some(c) = &q.category {
        parts.push(format!("category {c:?}"));
    }
    if let Some(d) = &q.district {
        parts.push(format!("district {d}"));
    }
    if let Some(c) = q.capacity {
        parts.push(format!("capacity {c:?}"));
    }
    parts.join(", ")
}

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

    let queries = queries();
    let rounds = if quick { 5 } else { 200 };
    // Per query, its samples in the order taken.
    let mut per_query: Vec<Vec<f64>> = vec![Vec::with_capacity(rounds); queries.len()];
    let mut hits = 0usize;
    for _ in 0..rounds {
        for (i, (_, q)) in queries.iter().enumerate() {
            let t = Instant::now();
            let found = store.search_directory(q)?;
            per_query[i].push(t.elapsed().as_secs_f64() * 1000.0);
            assert!(
                found.len() <= q.limit as usize,
                "a search keeps to its limit"
            );
            hits += found.len();
        }
    }
    assert!(hits > 0, "the query mix finds assets");
    let mut samples: Vec<f64> = per_query.iter().flatten().copied().collect();
    samples.sort_by(f64::total_cmp);
    println!(
        "directory search over {n_assets} assets: {} queries, p50 {:.3} ms, p95 {:.3} ms, p99 {:.3} ms, max {:.3} ms ({} hits; import took {:.2} s)",
        samples.len(),
        pct(&samples, 0.50),
        pct(&samples, 0.95),
        pct(&samples, 0.99),
        samples[samples.len() - 1],
        hits,
        import.as_secs_f64()
    );
    let mut shapes: Vec<&str> = queries.iter().map(|(s, _)| *s).collect();
    shapes.dedup();
    shapes.sort_unstable();
    shapes.dedup();
    for shape in shapes {
        let mut s: Vec<f64> = queries
            .iter()
            .zip(&per_query)
            .filter(|((name, _), _)| *name == shape)
            .flat_map(|(_, samples)| samples.iter().copied())
            .collect();
        s.sort_by(f64::total_cmp);
        println!(
            "  {shape:<20} p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms",
            pct(&s, 0.50),
            pct(&s, 0.99),
            s[s.len() - 1]
        );
    }
    // The slowest queries by median: the tail of the mix.
    let mut by_median: Vec<(f64, usize)> = per_query
        .iter_mut()
        .enumerate()
        .map(|(i, s)| {
            s.sort_by(f64::total_cmp);
            (pct(s, 0.5), i)
        })
        .collect();
    by_median.sort_by(|a, b| b.0.total_cmp(&a.0));
    for (median, i) in by_median.iter().take(5) {
        let n = store.search_directory(&queries[*i].1)?.len();
        println!(
            "  slowest: {:.3} ms median, {n} hits: {}",
            median,
            describe(&queries[*i].1)
        );
    }
    Ok(())
}
