//! The action plan: one per patient, co-produced with them and shared with their own
//! device. It holds no case-note content and no link to the case file, so a patient's
//! device that reads it learns nothing about the case file.
//!
//! "What matters to me" and goals are collaborative Text: the patient and the link worker
//! may edit the same words at once, and both edits survive.

use automerge::{AutoCommit, ObjId, ObjType, ROOT, ScalarValue, transaction::Transactable};
use serde::{Deserialize, Serialize};
use time::Date;

use super::case_file::{Comment, read_comments};
use super::doc::{self, Author, DocKind};
use super::ids::{AssetId, CommentId, ConnectionEventId, DeviceId, DocumentId, GoalId, StepId};
use crate::{Error, Result};

const MAX_TEXT: usize = 16 * 1024;

string_enum!(
    /// Where a goal stands.
    GoalStatus {
        /// Not begun.
        NotStarted => "not_started",
        /// Under way.
        InProgress => "in_progress",
        /// Done.
        Achieved => "achieved",
        /// Put aside for now.
        Paused => "paused",
        /// No longer wanted.
        NoLongerRelevant => "no_longer_relevant",
    }
);

string_enum!(
    /// Who does a step.
    StepOwner {
        /// The patient.
        Patient => "patient",
        /// The link worker.
        LinkWorker => "link_worker",
    }
);

string_enum!(
    /// Where a person's connection to a community asset stands, as the link worker or the
    /// patient last recorded it.
    ConnectionStatus {
        /// The link worker suggested it.
        Suggested => "suggested",
        /// The person or the link worker got in touch with it.
        Contacted => "contacted",
        /// The person went.
        Attended => "attended",
        /// The person keeps going.
        StillGoing => "still_going",
        /// On its waiting list.
        WaitingList => "waiting_list",
        /// The person decided against it.
        Declined => "declined",
        /// It did not suit the person.
        NotSuitable => "not_suitable",
        /// The service has closed.
        ServiceClosed => "service_closed",
    }
);

impl ConnectionStatus {
    /// The person is going (attended once or keeps going).
    pub fn is_attending(self) -> bool {
        matches!(
            self,
            ConnectionStatus::Attended | ConnectionStatus::StillGoing
        )
    }
}

/// One dated entry of a step's connection to a community asset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectionEvent {
    /// Its id.
    pub id: ConnectionEventId,
    /// Where the connection stands from this day.
    pub status: ConnectionStatus,
    /// The day.
    pub on: Date,
    /// Who recorded it (the person using the device).
    pub by: String,
    /// From which device (the Automerge actor that wrote it; unauthenticated).
    pub by_device: Option<DeviceId>,
    /// When it was recorded (ms since the epoch).
    pub at: i64,
}

/// A goal, in the patient's own words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Goal {
    /// Its id.
    pub id: GoalId,
    /// The goal as the patient put it.
    pub text: String,
    /// Where it stands.
    pub status: GoalStatus,
    /// When it was added (ms since the epoch).
    pub created_at: i64,
}

/// A reference to a community asset in a directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssetRef {
    /// The directory document.
    pub directory: DocumentId,
    /// The asset in it.
    pub asset: AssetId,
}

/// A step as entered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewStep {
    /// The goal it serves, if any.
    pub goal: Option<GoalId>,
    /// What to do.
    pub text: String,
    /// Who does it.
    pub owner: StepOwner,
    /// By when.
    pub due: Option<Date>,
    /// A community asset it involves.
    pub asset: Option<AssetRef>,
}

/// A step in the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    /// Its id.
    pub id: StepId,
    /// The goal it serves.
    pub goal: Option<GoalId>,
    /// What to do.
    pub text: String,
    /// Who does it.
    pub owner: StepOwner,
    /// By when.
    pub due: Option<Date>,
    /// Ticked off.
    pub done: bool,
    /// A community asset it involves.
    pub asset: Option<AssetRef>,
    /// The connection to that asset over time, oldest first (by day, then when recorded);
    /// the last says where it stands. Linking a step to an asset records "suggested".
    pub connection: Vec<ConnectionEvent>,
    /// When it was added (ms since the epoch).
    pub created_at: i64,
}

impl Step {
    /// Where the connection to its asset stands, when it links one: the entry recorded
    /// last (a connection recorded today as "attended last week" stands over the
    /// "suggested" the link made today).
    pub fn connection_status(&self) -> Option<&ConnectionEvent> {
        // At the same instant, anything over the automatic "suggested".
        self.connection
            .iter()
            .max_by_key(|e| (e.at, e.status != ConnectionStatus::Suggested, e.id))
    }
}

/// A whole action plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionPlan {
    /// "What matters to me", in the patient's words.
    pub what_matters: String,
    /// Goals, oldest first.
    pub goals: Vec<Goal>,
    /// Steps, oldest first.
    pub steps: Vec<Step>,
    /// Comments from the patient (and replies), oldest first.
    pub comments: Vec<Comment>,
    /// How to get back in touch with the link worker.
    pub get_back_in_touch: String,
}

/// Creates an empty action plan.
pub fn create(author: &Author) -> Result<AutoCommit> {
    let mut doc = doc::new_document(DocKind::ActionPlan, author)?;
    doc::put_text(&mut doc, &ROOT, "what_matters", "")?;
    doc.put_object(ROOT, "goals", ObjType::Map)?;
    doc.put_object(ROOT, "steps", ObjType::Map)?;
    doc.put_object(ROOT, "comments", ObjType::Map)?;
    doc.put(ROOT, "get_back_in_touch", "")?;
    Ok(doc)
}

/// Sets "what matters to me" (a minimal text diff, so concurrent edits both survive).
pub fn set_what_matters(doc: &mut AutoCommit, text: &str) -> Result<()> {
    doc::expect_kind(doc, DocKind::ActionPlan)?;
    check_len("what matters to me", text)?;
    doc::update_text(doc, &ROOT, "what_matters", text)
}

/// Sets how to get back in touch.
pub fn set_get_back_in_touch(doc: &mut AutoCommit, text: &str) -> Result<()> {
    doc::expect_kind(doc, DocKind::ActionPlan)?;
    check_len("how to get back in touch", text)?;
    doc::put_string_if_changed(doc, &ROOT, "get_back_in_touch", text.trim())
}

fn check_len(field: &'static str, text: &str) -> Result<()> {
    if text.len() > MAX_TEXT {
        return Err(Error::InvalidInput {
            field,
            reason: format!("longer than {MAX_TEXT} bytes"),
        });
    }
    Ok(())
}

/// Adds a goal in the patient's words.
pub fn add_goal(doc: &mut AutoCommit, text: &str, at: i64) -> Result<GoalId> {
    doc::expect_kind(doc, DocKind::ActionPlan)?;
    let text = doc::require_text("goal", text, MAX_TEXT)?;
    let id = GoalId::random();
    let goals = doc::ensure_map(doc, &ROOT, "goals")?;
    let g = doc.put_object(&goals, id.to_string(), ObjType::Map)?;
    doc::put_text(doc, &g, "text", &text)?;
    doc.put(&g, "status", GoalStatus::NotStarted.as_str())?;
    doc.put(&g, "created_at", ScalarValue::Timestamp(at))?;
    Ok(id)
}

fn item(doc: &AutoCommit, map: &str, kind: &'static str, id: &str) -> Result<ObjId> {
    let m = doc::require_obj(doc, &ROOT, map)?;
    doc::get_obj(doc, &m, id)?.ok_or(Error::NotFound {
        kind,
        id: id.to_owned(),
    })
}

/// Rewords a goal (a minimal text diff).
pub fn edit_goal(doc: &mut AutoCommit, id: GoalId, text: &str) -> Result<()> {
    doc::expect_kind(doc, DocKind::ActionPlan)?;
    let text = doc::require_text("goal", text, MAX_TEXT)?;
    let g = item(doc, "goals", "goal", &id.to_string())?;
    doc::update_text(doc, &g, "text", &text)
}

/// Changes a goal's status.
pub fn set_goal_status(doc: &mut AutoCommit, id: GoalId, status: GoalStatus) -> Result<()> {
    doc::expect_kind(doc, DocKind::ActionPlan)?;
    let g = item(doc, "goals", "goal", &id.to_string())?;
    doc::put_string_if_changed(doc, &g, "status", status.as_str())
}

/// Adds a step; one linked to an asset records the connection as suggested on `today`.
pub fn add_step(
    doc: &mut AutoCommit,
    author: &Author,
    step: &NewStep,
    today: Date,
    at: i64,
) -> Result<StepId> {
    doc::expect_kind(doc, DocKind::ActionPlan)?;
    let text = doc::require_text("step", &step.text, MAX_TEXT)?;
    if let Some(goal) = step.goal {
        item(doc, "goals", "goal", &goal.to_string())?;
    }
    let id = StepId::random();
    let steps = doc::ensure_map(doc, &ROOT, "steps")?;
    let s = doc.put_object(&steps, id.to_string(), ObjType::Map)?;
    if let Some(goal) = step.goal {
        doc.put(&s, "goal", goal.to_string())?;
    }
    doc.put(&s, "text", text)?;
    doc.put(&s, "owner", step.owner.as_str())?;
    if let Some(due) = step.due {
        doc.put(&s, "due", doc::format_date(due))?;
    }
    doc.put(&s, "done", false)?;
    if let Some(asset) = step.asset {
        doc.put(&s, "asset_directory", asset.directory.to_string())?;
        doc.put(&s, "asset", asset.asset.to_string())?;
        put_connection(doc, &s, author, ConnectionStatus::Suggested, today, at)?;
    }
    doc.put(&s, "created_at", ScalarValue::Timestamp(at))?;
    Ok(id)
}

fn put_connection(
    doc: &mut AutoCommit,
    step: &ObjId,
    author: &Author,
    status: ConnectionStatus,
    on: Date,
    at: i64,
) -> Result<ConnectionEventId> {
    let id = ConnectionEventId::random();
    let all = doc::ensure_map(doc, step, "connection")?;
    let e = doc.put_object(&all, id.to_string(), ObjType::Map)?;
    doc.put(&e, "status", status.as_str())?;
    doc.put(&e, "on", doc::format_date(on))?;
    doc.put(&e, "by", author.person.as_str())?;
    doc.put(&e, "at", ScalarValue::Timestamp(at))?;
    Ok(id)
}

/// Records where the connection of `step` to its community asset stands from `on` (not
/// after `today`). Refused for a step that links no asset.
pub fn record_connection(
    doc: &mut AutoCommit,
    author: &Author,
    step: StepId,
    status: ConnectionStatus,
    on: Date,
    today: Date,
    at: i64,
) -> Result<ConnectionEventId> {
    doc::expect_kind(doc, DocKind::ActionPlan)?;
    let s = item(doc, "steps", "step", &step.to_string())?;
    if doc::get_string(doc, &s, "asset")?.is_none() {
        return Err(Error::InvalidInput {
            field: "step",
            reason: "it links no community asset".into(),
        });
    }
    if on > today {
        return Err(Error::InvalidInput {
            field: "date",
            reason: "a connection is recorded as it stands, not ahead of time".into(),
        });
    }
    put_connection(doc, &s, author, status, on, at)
}

/// A step's connection events, from every concurrent `connection` map, oldest first. A step
/// linked before connections were recorded (store schema 12 and earlier) reads as suggested
/// on the day it was added, by whoever added it: the same on every device.
fn read_connection(
    doc: &AutoCommit,
    step: &ObjId,
    created_at: i64,
) -> Result<Vec<ConnectionEvent>> {
    if doc::get_all_objs(doc, step, "connection")?.is_empty() {
        let on = time::OffsetDateTime::from_unix_timestamp(created_at.div_euclid(1000))
            .map(|t| t.date())
            .unwrap_or(Date::MIN);
        return Ok(vec![ConnectionEvent {
            id: ConnectionEventId([0; 8]),
            status: ConnectionStatus::Suggested,
            on,
            by: String::new(),
            by_device: super::oversight::created_by(step),
            at: created_at,
        }]);
    }
    let mut out = Vec::new();
    for map in doc::get_all_objs(doc, step, "connection")? {
        for k in doc::map_keys(doc, &map) {
            let Some(e) = doc::get_obj(doc, &map, &k)? else {
                continue;
            };
            // A status a newer app wrote is skipped, not an unreadable plan.
            let Ok(status) = doc::require_string(doc, &e, "status")?.parse() else {
                continue;
            };
            out.push(ConnectionEvent {
                id: k.parse()?,
                status,
                on: doc::get_date(doc, &e, "on")?.ok_or(Error::Malformed(
                    "a connection event without its day".into(),
                ))?,
                by: doc::get_string(doc, &e, "by")?.unwrap_or_default(),
                by_device: super::oversight::created_by(&e),
                at: doc::get_i64(doc, &e, "at")?.unwrap_or(0),
            });
        }
    }
    out.sort_by_key(|e| (e.on, e.at, e.id));
    Ok(out)
}

/// Ticks a step off (or un-ticks it).
pub fn set_step_done(doc: &mut AutoCommit, id: StepId, done: bool) -> Result<()> {
    doc::expect_kind(doc, DocKind::ActionPlan)?;
    let s = item(doc, "steps", "step", &id.to_string())?;
    if doc::get_bool(doc, &s, "done")? != Some(done) {
        doc.put(&s, "done", done)?;
    }
    Ok(())
}

/// Adds a comment (from the patient, or a reply).
pub fn add_comment(
    doc: &mut AutoCommit,
    author: &Author,
    text: &str,
    at: i64,
) -> Result<CommentId> {
    doc::expect_kind(doc, DocKind::ActionPlan)?;
    let text = doc::require_text("comment", text, MAX_TEXT)?;
    let id = CommentId::random();
    let all = doc::ensure_map(doc, &ROOT, "comments")?;
    let c = doc.put_object(&all, id.to_string(), ObjType::Map)?;
    doc.put(&c, "at", ScalarValue::Timestamp(at))?;
    doc.put(&c, "by", author.person.as_str())?;
    doc.put(&c, "text", text)?;
    Ok(id)
}

/// Reads the whole plan.
pub fn read(doc: &AutoCommit) -> Result<ActionPlan> {
    decode_plan(doc).map_err(doc::as_damage)
}

fn decode_plan(doc: &AutoCommit) -> Result<ActionPlan> {
    doc::expect_kind(doc, DocKind::ActionPlan)?;
    let mut goals = Vec::new();
    if let Some(map) = doc::get_obj(doc, &ROOT, "goals")? {
        for k in doc::map_keys(doc, &map) {
            let Some(g) = doc::get_obj(doc, &map, &k)? else {
                continue;
            };
            goals.push(Goal {
                id: k.parse()?,
                text: doc::get_string(doc, &g, "text")?.unwrap_or_default(),
                status: doc::require_string(doc, &g, "status")?.parse()?,
                created_at: doc::get_i64(doc, &g, "created_at")?.unwrap_or(0),
            });
        }
    }
    goals.sort_by_key(|g| (g.created_at, g.id));
    let mut steps = Vec::new();
    if let Some(map) = doc::get_obj(doc, &ROOT, "steps")? {
        for k in doc::map_keys(doc, &map) {
            let Some(s) = doc::get_obj(doc, &map, &k)? else {
                continue;
            };
            let asset = match (
                doc::get_string(doc, &s, "asset_directory")?,
                doc::get_string(doc, &s, "asset")?,
            ) {
                (Some(d), Some(a)) => Some(AssetRef {
                    directory: d.parse()?,
                    asset: a.parse()?,
                }),
                _ => None,
            };
            steps.push(Step {
                id: k.parse()?,
                goal: doc::get_string(doc, &s, "goal")?
                    .map(|g| g.parse())
                    .transpose()?,
                text: doc::get_string(doc, &s, "text")?.unwrap_or_default(),
                owner: doc::require_string(doc, &s, "owner")?.parse()?,
                due: doc::get_date(doc, &s, "due")?,
                done: doc::get_bool(doc, &s, "done")?.unwrap_or(false),
                connection: if asset.is_some() {
                    let created = doc::get_i64(doc, &s, "created_at")?.unwrap_or(0);
                    read_connection(doc, &s, created)?
                } else {
                    Vec::new()
                },
                asset,
                created_at: doc::get_i64(doc, &s, "created_at")?.unwrap_or(0),
            });
        }
    }
    steps.sort_by_key(|s| (s.created_at, s.id));
    Ok(ActionPlan {
        what_matters: doc::get_string(doc, &ROOT, "what_matters")?.unwrap_or_default(),
        goals,
        steps,
        comments: read_comments(doc, "comments")?,
        get_back_in_touch: doc::get_string(doc, &ROOT, "get_back_in_touch")?.unwrap_or_default(),
    })
}
