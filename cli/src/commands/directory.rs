//! The community asset directory: create, import, export, search, show.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use holdfast_core::TeamId;
use holdfast_core::import::open_referral::{self, MAX_IMPORT_BYTES};
use holdfast_core::model::DocKind;
use holdfast_core::model::directory::{self, Asset, ReferralRoute};
use holdfast_core::model::ids::DocumentId;
use holdfast_core::store::DirectoryQuery;
use serde::Serialize;

use super::Ctx;
use crate::args::DirectorySearch;
use crate::error::{CliError, Result};
use crate::lookup;
use crate::output::{Output, clip, count, short, table, words};

/// Warnings printed before "and N more".
const WARNINGS_SHOWN: usize = 20;

#[derive(Serialize)]
struct DirectorySummary {
    directory_id: DocumentId,
    area: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    assets: Option<usize>,
}

pub(super) fn create(ctx: &Ctx, area: &str) -> Result<Output> {
    let mut store = ctx.device.open()?;
    let directory_id = store.create_directory(area)?;
    let text = format!(
        "Directory created for {}.\n  directory id  {directory_id}",
        area.trim()
    );
    Output::new(
        &DirectorySummary {
            directory_id,
            area: area.trim().to_owned(),
            assets: None,
        },
        text,
    )
}

/// `holdfast directory share DIRECTORY --team ID`
#[derive(Debug, Serialize)]
struct Shared {
    directory_id: DocumentId,
    team: TeamId,
    changes_queued: usize,
}

pub(super) fn share(ctx: &Ctx, directory: &str, team: &str) -> Result<Output> {
    let mut store = ctx.device.open()?;
    let directory_id = lookup::directory(&store, directory)?;
    let team = crate::net::select_team(&store, Some(team))?.team;
    let changes_queued = store.share_document(directory_id, team)?;
    let text = if changes_queued == 0 {
        format!("The directory is already shared with team {team}.")
    } else {
        format!(
            "The directory is now shared with team {team}: {changes_queued} changes go up with \
             the next `holdfast sync`, and from then on this device carries each team's edits \
             to the other."
        )
    };
    Output::new(
        &Shared {
            directory_id,
            team,
            changes_queued,
        },
        text,
    )
}

pub(super) fn list(ctx: &Ctx) -> Result<Output> {
    let mut store = ctx.device.open()?;
    // The core has no call for a directory's area alone: the export reads it.
    let export = store.export()?;
    let list: Vec<DirectorySummary> = export
        .directories
        .into_iter()
        .map(|(directory_id, area, assets)| DirectorySummary {
            directory_id,
            area,
            assets: Some(assets.len()),
        })
        .collect();
    let text = if list.is_empty() {
        "No directories yet: `holdfast directory create AREA` or `holdfast directory import FILE`."
            .to_owned()
    } else {
        let rows: Vec<Vec<String>> = list
            .iter()
            .map(|d| {
                vec![
                    d.area.clone(),
                    d.assets.unwrap_or(0).to_string(),
                    d.directory_id.to_string(),
                ]
            })
            .collect();
        table(&["AREA", "ASSETS", "DIRECTORY ID"], &rows)
    };
    Output::new(&list, text)
}

#[derive(Serialize)]
struct Warning {
    index: usize,
    message: String,
}

#[derive(Serialize)]
struct Imported {
    directory_id: Option<DocumentId>,
    directory_created: bool,
    services: usize,
    warnings: Vec<Warning>,
}

/// The directory to import into: the one named, else the only one, else a new one named
/// after the file. Returns its id and whether it was created.
fn import_target(
    store: &mut holdfast_core::Store,
    file: &Path,
    named: Option<&str>,
) -> Result<(DocumentId, bool)> {
    if let Some(typed) = named {
        return Ok((lookup::directory(store, typed)?, false));
    }
    let existing = store.document_ids(DocKind::Directory)?;
    match existing.as_slice() {
        [] => {
            let area = file
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .filter(|s| !s.trim().is_empty())
                .unwrap_or_else(|| "Imported services".to_owned());
            Ok((store.create_directory(&area)?, true))
        }
        [only] => Ok((*only, false)),
        many => Err(CliError::input(format!(
            "there are {} directories on this device: choose one with --directory ID \
             (see `holdfast directory list`)",
            many.len()
        ))),
    }
}

pub(super) fn import(ctx: &Ctx, file: &Path, named: Option<&str>) -> Result<Output> {
    let shown = file.display().to_string();
    let size = std::fs::metadata(file)
        .map_err(|e| CliError::file(format!("reading {shown}"), e))?
        .len();
    if size > MAX_IMPORT_BYTES as u64 {
        return Err(CliError::input(format!(
            "import refused, nothing was imported: {shown} is {size} bytes, over the \
             {MAX_IMPORT_BYTES}-byte limit for one import"
        )));
    }
    let bytes = std::fs::read(file).map_err(|e| CliError::file(format!("reading {shown}"), e))?;
    let report = open_referral::parse_services(&bytes)?;
    // All or nothing: check every asset before the store is touched.
    for (i, asset) in report.assets.iter().enumerate() {
        asset.validate().map_err(|e| {
            CliError::input(format!(
                "import refused, nothing was imported: service {i} (counting from 0): {e}"
            ))
        })?;
    }
    let warnings: Vec<Warning> = report
        .warnings
        .iter()
        .map(|w| Warning {
            index: w.index,
            message: w.message.clone(),
        })
        .collect();
    if report.assets.is_empty() {
        let out = Imported {
            directory_id: None,
            directory_created: false,
            services: 0,
            warnings,
        };
        return Output::new(
            &out,
            format!("{shown} lists no services: nothing imported."),
        );
    }
    let mut store = ctx.device.open()?;
    let (directory_id, created) = import_target(&mut store, file, named)?;
    let ids = store.import_assets(directory_id, &report.assets)?;
    let mut text = format!(
        "Imported {} into {}directory {directory_id}.\n",
        count(ids.len(), "service", "services"),
        if created { "the new " } else { "" },
    );
    if warnings.is_empty() {
        text.push_str("No warnings.\n");
    } else {
        let _ = writeln!(
            text,
            "{} (the services were imported, these fields were not):",
            count(warnings.len(), "warning", "warnings")
        );
        for w in warnings.iter().take(WARNINGS_SHOWN) {
            let _ = writeln!(text, "  service {}: {}", w.index, w.message);
        }
        if warnings.len() > WARNINGS_SHOWN {
            let _ = writeln!(
                text,
                "  … and {} more (--json lists them all)",
                warnings.len() - WARNINGS_SHOWN
            );
        }
    }
    let out = Imported {
        directory_id: Some(directory_id),
        directory_created: created,
        services: ids.len(),
        warnings,
    };
    Output::new(&out, text)
}

#[derive(Serialize)]
struct Exported {
    directory_id: DocumentId,
    out: PathBuf,
    services: usize,
}

/// The directory to export: the one named, else the only one on this device.
fn export_source(store: &holdfast_core::Store, named: Option<&str>) -> Result<DocumentId> {
    if let Some(typed) = named {
        return lookup::directory(store, typed);
    }
    match store.document_ids(DocKind::Directory)?.as_slice() {
        [] => Err(CliError::input(
            "there is no directory on this device to export: `holdfast directory create AREA` \
             or `holdfast directory import FILE` makes one",
        )),
        [only] => Ok(*only),
        many => Err(CliError::input(format!(
            "there are {} directories on this device: choose one with --directory ID \
             (see `holdfast directory list`)",
            many.len()
        ))),
    }
}

/// `holdfast directory export [--directory ID] [--out FILE]`: Open Referral UK 3.0 JSON.
pub(super) fn export(ctx: &Ctx, named: Option<&str>, out: Option<&Path>) -> Result<Output> {
    let mut store = ctx.device.open()?;
    let directory_id = export_source(&store, named)?;
    let json = open_referral::export_services(&store.directory_assets(directory_id)?)?;
    let page: serde_json::Value = serde_json::from_str(&json)
        .map_err(|e| CliError::input(format!("cannot read back the export: {e}")))?;
    let Some(path) = out.filter(|p| *p != Path::new("-")) else {
        // On the screen the page is the result, with or without --json.
        return Output::new(&page, json);
    };
    let services = page["total_items"].as_u64().unwrap_or(0);
    let shown = path.display().to_string();
    let mut bytes = json.into_bytes();
    bytes.push(b'\n');
    std::fs::write(path, bytes).map_err(|e| CliError::file(format!("writing {shown}"), e))?;
    let services = usize::try_from(services).unwrap_or(usize::MAX);
    let text = format!(
        "Exported {} from directory {directory_id} to {shown} (Open Referral UK 3.0).",
        count(services, "service", "services"),
    );
    Output::new(
        &Exported {
            directory_id,
            out: path.to_path_buf(),
            services,
        },
        text,
    )
}

pub(super) fn search(ctx: &Ctx, a: DirectorySearch) -> Result<Output> {
    let store = ctx.device.open()?;
    let query = DirectoryQuery {
        text: a.text.filter(|t| !t.trim().is_empty()),
        category: a.category,
        district: a.district,
        capacity: a.capacity,
        status: a.status,
        limit: a.limit,
    };
    let limit = query.limit;
    let hits = store.search_directory(&query)?;
    let text = if hits.is_empty() {
        if store.document_ids(DocKind::Directory)?.is_empty() {
            "The directory is empty: add services with `holdfast directory import FILE`.".to_owned()
        } else {
            "No assets match.".to_owned()
        }
    } else {
        let rows: Vec<Vec<String>> = hits
            .iter()
            .map(|h| {
                vec![
                    clip(&h.name, 40),
                    clip(h.organisation.as_deref().unwrap_or("-"), 28),
                    h.postcode_district.clone().unwrap_or_else(|| "-".into()),
                    words(directory::capacity_str(h.capacity)),
                    words(directory::status_str(h.status)),
                    format!("{}:{}", short(&h.directory_id), h.asset_id),
                ]
            })
            .collect();
        let mut t = table(
            &[
                "NAME",
                "ORGANISATION",
                "DISTRICT",
                "CAPACITY",
                "STATUS",
                "DIRECTORY:ASSET",
            ],
            &rows,
        );
        let more = if hits.len() >= limit as usize {
            " (there may be more: --limit N shows more)"
        } else {
            ""
        };
        let _ = write!(
            t,
            "\n{}{more}. Details: holdfast directory show DIRECTORY ASSET",
            count(hits.len(), "result", "results")
        );
        t
    };
    Output::new(&hits, text)
}

#[derive(Serialize)]
struct AssetView<'a> {
    directory_id: DocumentId,
    asset: &'a Asset,
}

pub(super) fn show(ctx: &Ctx, dir: &str, asset: &str) -> Result<Output> {
    let mut store = ctx.device.open()?;
    let directory_id = lookup::directory(&store, dir)?;
    let asset_id = lookup::asset(asset)?;
    let asset = store.asset(directory_id, asset_id)?;
    let text = asset_text(directory_id, &asset);
    Output::new(
        &AssetView {
            directory_id,
            asset: &asset,
        },
        text,
    )
}

fn asset_text(directory_id: DocumentId, asset: &Asset) -> String {
    let f = &asset.fields;
    let mut t = format!("{}\n", f.name);
    let mut row = |k: &str, v: Option<String>| {
        if let Some(v) = v.filter(|v| !v.trim().is_empty()) {
            let _ = writeln!(t, "  {k:<14}{v}");
        }
    };
    row("Run by", f.organisation.clone());
    row(
        "Status",
        Some(format!(
            "{}, {}",
            words(directory::status_str(f.status)),
            match f.capacity {
                directory::Capacity::Open => "taking people now",
                directory::Capacity::WaitingList => "waiting list",
                directory::Capacity::Closed => "not taking anyone",
            }
        )),
    );
    row(
        "How to refer",
        Some(
            match f.referral_route {
                ReferralRoute::SignpostOnly => "signpost: the person goes themselves",
                ReferralRoute::DirectReferral => "direct referral from the link worker",
            }
            .to_owned(),
        ),
    );
    row("Categories", Some(f.categories.join(", ")));
    row("When", f.schedule.clone());
    let address = match (&f.address, &f.postcode) {
        (Some(a), Some(p)) => Some(format!("{a}, {p}")),
        (Some(a), None) => Some(a.clone()),
        (None, Some(p)) => Some(p.to_string()),
        (None, None) => None,
    };
    row("Where", address);
    row("Cost", f.cost.clone());
    row("Who for", f.eligibility.clone());
    let ages = match (f.min_age, f.max_age) {
        (Some(a), Some(b)) => Some(format!("{a} to {b}")),
        (Some(a), None) => Some(format!("{a} and over")),
        (None, Some(b)) => Some(format!("up to {b}")),
        (None, None) => None,
    };
    row("Ages", ages);
    row("Access", f.accessibility.clone());
    row("Languages", Some(f.languages.join(", ")));
    row("Phone", f.phone.clone());
    row("Email", f.email.clone());
    row("Web", f.url.clone());
    let checked = match (&f.assured_date, &f.assured_by) {
        (Some(d), Some(b)) => Some(format!("{d} by {b}")),
        (Some(d), None) => Some(d.clone()),
        (None, Some(b)) => Some(format!("by {b}")),
        (None, None) => None,
    };
    row("Last checked", checked);
    row("Id", Some(format!("{}:{}", short(&directory_id), asset.id)));
    if !f.description.trim().is_empty() {
        let _ = write!(t, "\n{}\n", f.description.trim());
    }
    t
}

/// `holdfast directory demand`: each asset's demand from the plans on this device.
pub(super) fn demand(ctx: &Ctx, dir: Option<&str>) -> Result<Output> {
    let store = ctx.device.open()?;
    let directory = dir.map(|d| lookup::directory(&store, d)).transpose()?;
    let demand = store.asset_demand(directory)?;
    if demand.is_empty() {
        return Output::new(
            &demand,
            "No plan on this device links a community asset yet (holdfast step add … --asset).",
        );
    }
    let cells: Vec<Vec<String>> = demand
        .iter()
        .map(|d| {
            let n = |v: u32| v.to_string();
            vec![
                clip(d.name.as_deref().unwrap_or("(not on this device)"), 32),
                format!("{}:{}", short(&d.directory), d.asset),
                n(d.people),
                n(d.suggested),
                n(d.contacted),
                n(d.attending),
                n(d.waiting_list),
                n(d.declined + d.not_suitable),
                n(d.service_closed),
            ]
        })
        .collect();
    let text = table(
        &[
            "ASSET",
            "ID",
            "PEOPLE",
            "SUGGESTED",
            "CONTACTED",
            "ATTENDING",
            "WAITING",
            "DECLINED/UNSUITED",
            "CLOSED",
        ],
        &cells,
    );
    Output::new(&demand, text)
}
