//! A writer for the crash test: records sessions as fast as it can and prints `ack N` on
//! stdout after each one is committed, until it is killed.
//!
//! Usage: `crash_writer STORE_DIR CASE_ID START` (the store and case must exist; keys in
//! STORE_DIR/keys; notes are numbered from START).

use std::io::Write;

use holdfast_core::model::case_file::{NewSession, SessionMode};
use holdfast_core::{FileKeyStore, Store, StoreConfig};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = args
        .next()
        .ok_or("usage: crash_writer STORE_DIR CASE_ID START")?;
    let case = args
        .next()
        .ok_or("usage: crash_writer STORE_DIR CASE_ID START")?
        .parse()?;
    let start: u64 = args
        .next()
        .ok_or("usage: crash_writer STORE_DIR CASE_ID START")?
        .parse()?;
    let keys = FileKeyStore::new(std::path::Path::new(&dir).join("keys"));
    let mut store = Store::open(&StoreConfig::new(&dir, "crash writer"), &keys)?;
    let mut out = std::io::stdout().lock();
    for i in start.. {
        store.record_session(
            case,
            &NewSession {
                start: 1_760_000_000_000 + i as i64,
                duration_minutes: 10,
                mode: SessionMode::Phone,
                attended: true,
                note: format!("edit {i}"),
                holding_functions: vec![],
                follow_up: None,
            },
        )?;
        // Only after the commit returned: this edit is acknowledged.
        writeln!(out, "ack {i}")?;
        out.flush()?;
    }
    Ok(())
}
