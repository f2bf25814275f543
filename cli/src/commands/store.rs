//! The store as a whole: setting it up, exporting it, filling it with demo data.

use std::path::{Path, PathBuf};
use std::time::Instant;

use holdfast_core::model::ids::{DeviceId, DocumentId};
use holdfast_core::seed::{self, SeedConfig};
use holdfast_core::store::Durability;
use serde::Serialize;

use super::Ctx;
use crate::error::{CliError, Result};
use crate::output::{Output, count, short};

#[derive(Serialize)]
struct Initialised {
    device_id: DeviceId,
    person: String,
    home: PathBuf,
    key_file: PathBuf,
}

pub(super) fn init(ctx: &Ctx, name: &str) -> Result<Output> {
    let store = ctx.device.create(name)?;
    let out = Initialised {
        device_id: store.author().device,
        person: store.author().person.clone(),
        home: ctx.device.home().to_path_buf(),
        key_file: ctx.device.key_file(),
    };
    let text = format!(
        "Holdfast is set up for {person}.\n\
         \x20 device id  {device}\n\
         \x20 store      {home} (encrypted)\n\
         \x20 key file   {key} (readable only by you; without it the store cannot be opened)\n\
         Next: holdfast patient add --name \"...\"",
        person = out.person,
        device = out.device_id,
        home = out.home.display(),
        key = out.key_file.display(),
    );
    Output::new(&out, text)
}

#[derive(Serialize)]
struct Exported {
    out: PathBuf,
    case_files: usize,
    action_plans: usize,
    directories: usize,
}

pub(super) fn export(ctx: &Ctx, out: Option<&Path>) -> Result<Output> {
    let mut store = ctx.device.open()?;
    let export = store.export()?;
    let json = serde_json::to_string_pretty(&export)
        .map_err(|e| CliError::input(format!("cannot write the export as JSON: {e}")))?;
    let Some(path) = out else {
        return Output::new(&export, json);
    };
    let shown = path.display().to_string();
    crate::files::write_private(path, format!("{json}\n").as_bytes())?;
    let summary = Exported {
        out: path.to_path_buf(),
        case_files: export.case_files.len(),
        action_plans: export.action_plans.len(),
        directories: export.directories.len(),
    };
    let text = format!(
        "Exported {}, {} and {} to {shown}.\n\
         The file is not encrypted: keep it somewhere safe and delete it when done.",
        count(summary.case_files, "case file", "case files"),
        count(summary.action_plans, "action plan", "action plans"),
        count(summary.directories, "directory", "directories"),
    );
    Output::new(&summary, text)
}

#[derive(Serialize)]
struct Seeded {
    directory_id: DocumentId,
    patients: usize,
    assets: usize,
    seconds: f64,
}

pub(super) fn seed(ctx: &Ctx, patients: usize, assets: usize, seed: u64) -> Result<Output> {
    let mut store = ctx.device.open()?;
    // Made-up data can be made again: no fsync per commit while it is written.
    store.set_durability(Durability::Relaxed)?;
    let started = Instant::now();
    let result = seed::populate(
        &mut store,
        &SeedConfig {
            seed,
            patients,
            assets,
        },
    );
    let seconds = started.elapsed().as_secs_f64();
    store.set_durability(Durability::Full)?;
    let seeded = result?;
    let out = Seeded {
        directory_id: seeded.directory,
        patients: seeded.cases.len(),
        assets: seeded.assets.len(),
        seconds,
    };
    let text = format!(
        "Added {} and {} (directory {}) in {seconds:.1} s.\n\
         These people and places are made up. Try: holdfast caseload",
        count(out.patients, "made-up patient", "made-up patients"),
        count(out.assets, "made-up asset", "made-up assets"),
        short(&out.directory_id),
    );
    Output::new(&out, text)
}
