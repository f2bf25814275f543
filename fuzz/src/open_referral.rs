//! The Open Referral UK import (`holdfast_core::import::open_referral::parse_services`) on
//! arbitrary bytes. Included by path (it needs `holdfast-core`, which the protocol's corpus
//! replay does not link) by the `open_referral` target and by `core/tests/fuzz_corpus.rs`.
//!
//! Checks:
//! - the import gives a report or a typed error, never a panic; an error's message and
//!   every warning's say which service (an index within the document);
//! - whatever it imports exports (`export_services`), and the export imports back as the
//!   same assets with no warnings (but those about a shared id, which the export keeps):
//!   the import has already made every normalisation the export's module docs list, so a
//!   second trip changes nothing; an asset without an external id comes back with the one
//!   its export wrote;
//! - exporting what came back gives exactly the bytes of the first export.

use holdfast_core::import::open_referral::{ImportError, export_services, parse_services};
use holdfast_core::model::directory::{Asset, AssetInput};
use holdfast_core::model::ids::AssetId;

/// What a warning about two services sharing an id says (the export keeps both).
const SHARED_ID: &str = "a re-import will mix them up";

/// The assets of `inputs`, with ids from their places (as a store gives them, in id order).
fn assets(inputs: &[AssetInput]) -> Vec<Asset> {
    inputs
        .iter()
        .enumerate()
        .map(|(i, fields)| Asset {
            id: AssetId((i as u64).to_be_bytes()),
            fields: fields.clone(),
        })
        .collect()
}

pub fn check_open_referral(bytes: &[u8]) {
    let report = match parse_services(bytes) {
        Ok(report) => report,
        Err(error) => {
            let message = error.to_string();
            assert!(!message.is_empty());
            if let ImportError::Json { line, column, .. } = error {
                assert!(line >= 1 && column <= bytes.len() + 1, "{line}:{column}");
            }
            return;
        }
    };
    for warning in &report.warnings {
        assert!(
            warning.index < report.assets.len(),
            "a warning about service {} of {}",
            warning.index,
            report.assets.len()
        );
    }

    let exported = export_services(&assets(&report.assets)).expect("imported assets export");
    let again = parse_services(exported.as_bytes()).expect("an export imports");
    let unexpected: Vec<_> = again
        .warnings
        .iter()
        .filter(|w| !w.message.contains(SHARED_ID))
        .collect();
    assert!(
        unexpected.is_empty(),
        "an export imports without warnings: {unexpected:?}\n{exported}"
    );
    assert_eq!(
        again.assets.len(),
        report.assets.len(),
        "every service comes back"
    );
    for (first, second) in report.assets.iter().zip(&again.assets) {
        assert!(
            second.external_id.is_some(),
            "every exported service has an id"
        );
        let expected = AssetInput {
            external_id: first
                .external_id
                .clone()
                .or_else(|| second.external_id.clone()),
            ..first.clone()
        };
        assert_eq!(
            second, &expected,
            "an imported asset comes back the same through an export\n{exported}"
        );
    }
    let twice = export_services(&assets(&again.assets)).expect("exports again");
    assert_eq!(twice, exported, "the second export gives the same bytes");
}
