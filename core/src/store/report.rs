//! The outcomes report over every case file on the device (see [`crate::report`]).

use std::collections::HashMap;

use time::Date;

use super::Store;
use crate::model::directory;
use crate::model::doc::DocKind;
use crate::report::{self, OutcomesReport, Period, ReportCase, UNCATEGORISED};
use crate::{Error, Result};

impl Store {
    /// The outcomes report for `from..=to` over every case file on the device: what a
    /// supervisor's device holds for the team, what a link worker's holds for their caseload.
    /// A period that ends before it starts is refused.
    pub fn outcomes_report(&mut self, from: Date, to: Date) -> Result<OutcomesReport> {
        if to < from {
            return Err(Error::InvalidInput {
                field: "to",
                reason: format!("the period ends ({to}) before it starts ({from})"),
            });
        }
        let mut categories = HashMap::new();
        for dir in self.document_ids(DocKind::Directory)? {
            let (_, doc) = self.load(dir)?;
            for asset in directory::read_all(doc)? {
                let category = asset
                    .fields
                    .categories
                    .first()
                    .cloned()
                    .unwrap_or_else(|| UNCATEGORISED.to_owned());
                categories.insert((dir, asset.id), category);
            }
        }
        let mut files = Vec::new();
        for id in self.document_ids(DocKind::CaseFile)? {
            files.push(self.case_file(id)?);
        }
        let mut plans = Vec::with_capacity(files.len());
        for file in &files {
            // A plan not on this device (or another kind of document) counts no connections.
            let plan = match file.action_plan.map(|id| self.action_plan(id)) {
                Some(Ok(plan)) => Some(plan),
                None | Some(Err(Error::NotFound { .. } | Error::WrongDocumentKind { .. })) => None,
                Some(Err(e)) => return Err(e),
            };
            plans.push(plan);
        }
        let cases: Vec<ReportCase<'_>> = files
            .iter()
            .zip(&plans)
            .map(|(file, plan)| ReportCase {
                file,
                plan: plan.as_ref(),
            })
            .collect();
        Ok(report::build(
            Period { from, to },
            self.today(),
            &cases,
            &categories,
        ))
    }
}
