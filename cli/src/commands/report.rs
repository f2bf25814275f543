//! `holdfast report`: the outcomes report over the case files on this device, as JSON or
//! CSV, with no identifiers and small numbers suppressed (see `holdfast_core::report`).

use std::path::Path;

use time::Date;

use super::Ctx;
use crate::args::ReportFormat;
use crate::error::{CliError, Result};
use crate::output::Output;

pub(super) fn report(
    ctx: &Ctx,
    from: Date,
    to: Date,
    format: ReportFormat,
    out: Option<&Path>,
) -> Result<Output> {
    let mut store = ctx.device.open()?;
    let report = store.outcomes_report(from, to)?;
    let body = match format {
        ReportFormat::Json => report.to_json() + "\n",
        ReportFormat::Csv => report.to_csv(),
    };
    let text = match out {
        Some(path) => {
            std::fs::write(path, &body)
                .map_err(|e| CliError::file(format!("writing {}", path.display()), e))?;
            format!(
                "Wrote the outcomes report for {from} to {} to {}. Counts under 5 are \
                 shown as \"<5\"; it names no one.\n",
                report.counted_to,
                path.display()
            )
        }
        None => body,
    };
    Output::new(&report, text)
}
