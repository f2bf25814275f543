//! A subject access request: one patient's record (case file, action plan, the history of
//! both) as readable JSON and text, without anything else on the device.
//!
//! Under UK GDPR and the DPA 2018 a data controller reviews what it discloses: information
//! about third parties, and information whose disclosure could cause serious harm, may be
//! withheld. The export says so at the top and flags the sections to review (safeguarding,
//! supervision). It is a plaintext copy of a patient's record: whoever makes it handles it.

mod render;

use automerge::{ChangeHash, ReadDoc};
use serde::{Deserialize, Serialize};

use super::Store;
use crate::model::action_plan::ActionPlan;
use crate::model::case_file::CaseFile;
use crate::model::doc::{self, DocKind};
use crate::model::ids::{AssetId, DeviceId, DocumentId, SessionId};
use crate::{Error, Result};

/// What the export says first: the data controller reviews it before disclosure.
pub const REVIEW_NOTICE: &str = "This is a subject access export of one person's record, made \
on a Holdfast device. The data controller must review it before disclosure: under UK GDPR and \
the Data Protection Act 2018, information about other people (third parties) and information \
whose disclosure could cause serious harm to the person or to others may be withheld. The \
sections flagged for review below need that check. The file is not encrypted: keep it safe \
and delete it once it has been disclosed.";

/// The description of a note amendment in a change's history.
const NOTE_AMENDED: &str = "session note amended";

/// One patient's record, for a subject access request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubjectAccess {
    /// The notice to the data controller: review before disclosure.
    pub notice: String,
    /// Sections to review before disclosure, and why.
    pub review: Vec<ReviewFlag>,
    /// When the export was made (ms since the epoch, by the device's clock).
    pub generated_at: i64,
    /// The person who made it, as this device records them.
    pub generated_by: String,
    /// The device that made it.
    pub device: DeviceId,
    /// The case file's id.
    pub case_id: DocumentId,
    /// The whole case file as the device holds it (the patient's details are its `patient`).
    pub case_file: CaseFile,
    /// Every amendment of a session or holding note: what it replaced and what it became.
    pub note_amendments: Vec<NoteAmendment>,
    /// The action plan's id, when the case names one.
    pub plan_id: Option<DocumentId>,
    /// The action plan, when it is on this device.
    pub action_plan: Option<ActionPlan>,
    /// The community assets the plan's steps connect to, by name.
    pub assets: Vec<AssetName>,
    /// Every change to the case file and the plan, oldest first.
    pub history: Vec<Change>,
}

/// A section the data controller must review before disclosure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewFlag {
    /// The section ("safeguarding", "supervision").
    pub section: String,
    /// How many entries it holds.
    pub entries: usize,
    /// Why it needs review.
    pub reason: String,
}

/// One amendment of a session's note.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoteAmendment {
    /// The session.
    pub session: SessionId,
    /// The change that made it (hex hash).
    pub change: String,
    /// When (ms since the epoch, the author's clock).
    pub at: i64,
    /// Who, as recorded in the change.
    pub by: Option<String>,
    /// From which device.
    pub device: Option<DeviceId>,
    /// The note before (several when devices had amended it concurrently).
    pub before: Vec<String>,
    /// The note after.
    pub after: Vec<String>,
}

/// A community asset a step connects to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssetName {
    /// The directory holding it.
    pub directory: DocumentId,
    /// The asset.
    pub asset: AssetId,
    /// Its name, when the directory is on this device.
    pub name: Option<String>,
}

/// One change to the case file or the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    /// Which document: `case_file` or `action_plan`.
    pub document: DocKind,
    /// The change hash (hex).
    pub hash: String,
    /// When (ms since the epoch, the author's clock).
    pub at: i64,
    /// The device (Automerge actor) that made it.
    pub device: Option<DeviceId>,
    /// The person, as recorded in the change.
    pub by: Option<String>,
    /// What was done ("session recorded"), when the change says.
    pub what: String,
}

impl SubjectAccess {
    /// The export as pretty JSON: the same record gives the same bytes.
    pub fn to_json(&self) -> Result<String> {
        serde_json::to_string_pretty(self)
            .map_err(|e| Error::Internal(format!("subject access export as JSON: {e}")))
    }

    /// The export as readable text, heading by heading, dates in UK form.
    pub fn render_text(&self) -> String {
        render::text(self)
    }
}

impl Store {
    /// One patient's record for a subject access request: the case file `case`, its action
    /// plan, note amendments and the history of both, and nothing else on the device.
    /// `NotFound` for an unknown id, `WrongDocumentKind` for a document that is not a case.
    pub fn subject_access(&mut self, case: DocumentId) -> Result<SubjectAccess> {
        let case_file = self.case_file(case)?;
        let note_amendments = self.note_amendments(case, &case_file)?;
        let mut history = self.changes(case, DocKind::CaseFile)?;
        let plan_id = case_file.action_plan;
        let action_plan = match plan_id {
            Some(plan) => match self.action_plan(plan) {
                Ok(p) => Some(p),
                // A plan not (yet) synced to this device, or an id that names something else
                // (never read: it could be another person's): the case is still exported.
                Err(Error::NotFound { .. } | Error::WrongDocumentKind { .. }) => None,
                Err(e) => return Err(e),
            },
            None => None,
        };
        if let (Some(plan), Some(_)) = (plan_id, &action_plan) {
            history.extend(self.changes(plan, DocKind::ActionPlan)?);
        }
        // By time; a stable sort, so changes made at the same moment keep their document's
        // causal order (the case file's, then the plan's).
        history.sort_by_key(|c| c.at);
        let mut assets: Vec<AssetName> = Vec::new();
        for step in action_plan.iter().flat_map(|p| &p.steps) {
            let Some(r) = step.asset else { continue };
            if assets
                .iter()
                .any(|a| a.directory == r.directory && a.asset == r.asset)
            {
                continue;
            }
            // Only a directory is read for a name; an asset that is gone has none.
            let name = match self.kind_of(r.directory) {
                Ok(DocKind::Directory) => match self.asset(r.directory, r.asset) {
                    Ok(a) => Some(a.fields.name),
                    Err(Error::NotFound { .. }) => None,
                    Err(e) => return Err(e),
                },
                Ok(_) | Err(Error::NotFound { .. }) => None,
                Err(e) => return Err(e),
            };
            assets.push(AssetName {
                directory: r.directory,
                asset: r.asset,
                name,
            });
        }
        assets.sort_by_key(|a| (a.directory, a.asset));
        let review = vec![
            ReviewFlag {
                section: "safeguarding".into(),
                entries: case_file.safeguarding.len(),
                reason: "Safeguarding concerns can name or describe other people, and their \
                         disclosure could cause serious harm: review each before disclosure \
                         and withhold what the law allows."
                    .into(),
            },
            ReviewFlag {
                section: "supervision".into(),
                entries: case_file.supervision.len(),
                reason: "Supervision comments are staff's professional views and may hold \
                         third-party information: review each before disclosure."
                    .into(),
            },
        ];
        Ok(SubjectAccess {
            notice: REVIEW_NOTICE.to_owned(),
            review,
            generated_at: self.now_millis(),
            generated_by: self.author.person.clone(),
            device: self.author.device,
            case_id: case,
            case_file,
            note_amendments,
            plan_id,
            action_plan,
            assets,
            history,
        })
    }

    fn changes(&mut self, id: DocumentId, document: DocKind) -> Result<Vec<Change>> {
        Ok(self
            .history(id)?
            .into_iter()
            .map(|h| Change {
                document,
                hash: h.hash,
                at: h.at,
                device: h.device,
                by: h.by,
                what: h.what,
            })
            .collect())
    }

    /// Every amendment of a session note, from the document's history: the note just before
    /// the amending change and just after it.
    fn note_amendments(&mut self, case: DocumentId, file: &CaseFile) -> Result<Vec<NoteAmendment>> {
        let (_, doc) = self.load(case)?;
        let history = doc::history(doc);
        let deps: Vec<(String, Vec<ChangeHash>, ChangeHash)> = doc
            .get_changes_meta(&[])
            .into_iter()
            .map(|m| (m.hash.to_string(), m.deps.clone(), m.hash))
            .collect();
        let mut sessions = Vec::new();
        for s in &file.sessions {
            if let Some(obj) = doc::find_entry(doc, "sessions", &s.id.to_string())? {
                sessions.push((s.id, obj));
            }
        }
        let mut out = Vec::new();
        for h in history.iter().filter(|h| h.what == NOTE_AMENDED) {
            let Some((_, before_heads, hash)) = deps.iter().find(|(k, _, _)| *k == h.hash) else {
                continue;
            };
            for (id, obj) in &sessions {
                let before = note_at(doc, obj, before_heads);
                let after = note_at(doc, obj, &[*hash]);
                if before != after {
                    out.push(NoteAmendment {
                        session: *id,
                        change: h.hash.clone(),
                        at: h.at,
                        by: h.by.clone(),
                        device: h.device,
                        before,
                        after,
                    });
                }
            }
        }
        out.sort_by(|a, b| (a.at, &a.change, a.session).cmp(&(b.at, &b.change, b.session)));
        Ok(out)
    }
}

/// A session's note as it stood at `heads` (every concurrent value); none before it existed.
fn note_at(
    doc: &automerge::AutoCommit,
    obj: &automerge::ObjId,
    heads: &[ChangeHash],
) -> Vec<String> {
    let mut out: Vec<String> = doc
        .get_all_at(obj, "note", heads)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|(v, id)| match v {
            automerge::Value::Object(automerge::ObjType::Text) => doc.text_at(&id, heads).ok(),
            v => v.as_str().map(str::to_owned),
        })
        .collect();
    out.sort();
    out
}
