//! Turning the ids people type into the store's ids: a full id, or the first 6 or more
//! characters of one when they match only one candidate.

use std::fmt::Display;

use holdfast_core::Store;
use holdfast_core::model::DocKind;
use holdfast_core::model::ids::{AssetId, DocumentId};
use holdfast_core::store::CaseloadFilter;

use crate::error::{CliError, Result};

/// The fewest characters of an id accepted as a prefix.
pub const MIN_PREFIX: usize = 6;

/// The typed id, trimmed and lower-cased, if it looks like (part of) an id.
fn normalise(kind: &str, typed: &str) -> Result<String> {
    let t = typed.trim().to_ascii_lowercase();
    if t.is_empty() || !t.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(CliError::input(format!(
            "{typed:?} is not a {kind} id (ids are letters a-f and digits, e.g. 3fa2c1d0)"
        )));
    }
    if t.len() < MIN_PREFIX {
        return Err(CliError::input(format!(
            "type at least {MIN_PREFIX} characters of the {kind} id"
        )));
    }
    Ok(t)
}

/// Picks the one candidate whose id is `typed` or starts with it.
pub fn pick<T: Copy + Display>(
    kind: &str,
    typed: &str,
    candidates: impl IntoIterator<Item = T>,
) -> Result<T> {
    let t = normalise(kind, typed)?;
    let mut found: Vec<T> = Vec::new();
    for c in candidates {
        let id = c.to_string();
        if id == t {
            return Ok(c);
        }
        if id.starts_with(&t) {
            found.push(c);
        }
    }
    match found.as_slice() {
        [one] => Ok(*one),
        [] => Err(CliError::input(format!(
            "no {kind} with an id starting {t}"
        ))),
        many => Err(CliError::input(format!(
            "{t} is the start of {} {kind} ids: type more of it",
            many.len()
        ))),
    }
}

fn full_doc_id(typed: &str) -> Option<DocumentId> {
    let t = typed.trim();
    (t.len() == 32).then(|| t.parse().ok()).flatten()
}

/// A case id or an action plan id from the caseload, shown as the id itself.
#[derive(Clone, Copy)]
enum CaseOrPlan {
    Case(DocumentId),
    Plan { case: DocumentId, plan: DocumentId },
}

impl CaseOrPlan {
    fn case(self) -> DocumentId {
        match self {
            CaseOrPlan::Case(case) | CaseOrPlan::Plan { case, .. } => case,
        }
    }
}

impl Display for CaseOrPlan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CaseOrPlan::Case(id) | CaseOrPlan::Plan { plan: id, .. } => id.fmt(f),
        }
    }
}

/// Finds a case or plan in the caseload by its id or a prefix of either.
fn in_caseload(store: &Store, kind: &str, typed: &str) -> Result<CaseOrPlan> {
    let caseload = store.caseload(&CaseloadFilter::default())?;
    let candidates = caseload.iter().flat_map(|e| {
        [
            Some(CaseOrPlan::Case(e.case_id)),
            e.plan_id.map(|plan| CaseOrPlan::Plan {
                case: e.case_id,
                plan,
            }),
        ]
        .into_iter()
        .flatten()
    });
    pick(kind, typed, candidates)
}

/// A case, by its id or a prefix of it (or of its action plan's id).
pub fn case(store: &Store, typed: &str) -> Result<DocumentId> {
    if let Some(id) = full_doc_id(typed) {
        match store.kind_of(id) {
            Ok(DocKind::CaseFile) => return Ok(id),
            Ok(DocKind::ActionPlan) => {}
            Ok(DocKind::Directory) => {
                return Err(CliError::input(format!("{id} is a directory, not a case")));
            }
            Ok(DocKind::PrivateNotes) => {
                return Err(CliError::input(format!(
                    "{id} is a device's private notes, not a case"
                )));
            }
            Ok(DocKind::TeamSettings) => {
                return Err(CliError::input(format!(
                    "{id} is the team's settings, not a case"
                )));
            }
            Err(holdfast_core::Error::NotFound { .. }) => {
                return Err(CliError::input(format!("no case with id {id}")));
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(in_caseload(store, "case", typed)?.case())
}

/// An action plan, by its id or a prefix of it, or by its case's.
pub fn plan(store: &mut Store, typed: &str) -> Result<DocumentId> {
    if let Some(id) = full_doc_id(typed) {
        match store.kind_of(id) {
            Ok(DocKind::ActionPlan) => return Ok(id),
            Ok(DocKind::CaseFile) => {}
            Ok(DocKind::Directory) => {
                return Err(CliError::input(format!(
                    "{id} is a directory, not an action plan"
                )));
            }
            Ok(DocKind::PrivateNotes) => {
                return Err(CliError::input(format!(
                    "{id} is a device's private notes, not an action plan"
                )));
            }
            Ok(DocKind::TeamSettings) => {
                return Err(CliError::input(format!(
                    "{id} is the team's settings, not an action plan"
                )));
            }
            Err(holdfast_core::Error::NotFound { .. }) => {
                return Err(CliError::input(format!(
                    "no action plan or case with id {id}"
                )));
            }
            Err(e) => return Err(e.into()),
        }
    }
    let case_id = match in_caseload(store, "action plan or case", typed)? {
        CaseOrPlan::Plan { plan, .. } => return Ok(plan),
        CaseOrPlan::Case(case) => case,
    };
    // The case file is the authority on which plan is its own.
    store
        .case_file(case_id)?
        .action_plan
        .ok_or_else(|| CliError::input(format!("the case {case_id} has no action plan")))
}

/// A directory, by its id or a prefix of it.
pub fn directory(store: &Store, typed: &str) -> Result<DocumentId> {
    pick("directory", typed, store.document_ids(DocKind::Directory)?)
}

/// An asset id, typed in full.
pub fn asset(typed: &str) -> Result<AssetId> {
    typed.trim().to_ascii_lowercase().parse().map_err(|_| {
        CliError::input(format!(
            "{typed:?} is not an asset id (16 characters, shown by `directory search`)"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use holdfast_core::model::ids::GoalId;

    #[test]
    fn prefixes_pick_one_or_explain() {
        let a: GoalId = "aaaaaa0000000001".parse().unwrap();
        let b: GoalId = "aaaaaa0000000002".parse().unwrap();
        let c: GoalId = "bbbbbb0000000003".parse().unwrap();
        let all = [a, b, c];
        assert_eq!(pick("goal", "BBBBBB", all).unwrap(), c);
        assert_eq!(pick("goal", "aaaaaa0000000002", all).unwrap(), b);
        let many = pick("goal", "aaaaaa", all).unwrap_err().to_string();
        assert!(many.contains("start of 2 goal ids"), "{many}");
        assert!(pick("goal", "cccccc", all).is_err());
        let short = pick("goal", "aaa", all).unwrap_err().to_string();
        assert!(short.contains("at least 6"), "{short}");
        assert!(pick("goal", "not-hex", all).is_err());
    }
}
