//! The outcomes report for a period over the case files on the device: the person (ONS4,
//! GSE, SWEMWBS change), the community (connections by outcome and asset category, waiting
//! lists) and the system (referrals, time to first contact, sessions, holding), as JSON and
//! CSV. It names no one, and counts under 5 show as "<5" (`holdfast_core::report`).

use holdfast_core::model::doc::{format_date, parse_date};

use crate::device::HoldfastDevice;
use crate::error::{HoldfastError, Result};

/// The outcomes report, ready to save or share.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct OutcomesReportView {
    /// The last day counted (YYYY-MM-DD): `to`, or today if earlier.
    pub counted_to: String,
    /// The whole report as JSON (suppressed figures are the string "<5").
    pub json: String,
    /// One figure a row: `area,measure,breakdown,value`.
    pub csv: String,
}

#[uniffi::export]
impl HoldfastDevice {
    /// The outcomes report for `from` to `to` (YYYY-MM-DD, both included). `InvalidInput`
    /// for a date that does not parse or a period that ends before it starts.
    pub fn outcomes_report(&self, from: String, to: String) -> Result<OutcomesReportView> {
        let from = parse_date(&from).map_err(HoldfastError::from)?;
        let to = parse_date(&to).map_err(HoldfastError::from)?;
        let report = self.store()?.outcomes_report(from, to)?;
        Ok(OutcomesReportView {
            counted_to: format_date(report.counted_to),
            json: report.to_json(),
            csv: report.to_csv(),
        })
    }
}
