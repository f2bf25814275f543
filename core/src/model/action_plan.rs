//! The action plan: one per patient, co-produced with them and shared with their own
//! device. It holds no case-note content and no link to the case file, so a patient's
//! device that reads it learns nothing about the case file.
//!
//! "What matters to me" and goals are collaborative Text: the patient and the link worker
//! may edit the same words at once, and both edits survive.
//!
//! **The plan stands on its own.** The patient's device reads nothing but its plan, so the
//! plan carries copies of what the patient needs from elsewhere: each linked step's
//! [`AssetDetails`] (from the directory), the link worker's "about me" text, the team's
//! working hours and out-of-hours wording (from the team settings), and, once the case is
//! closed, [`PlanEnded`] (how to come back). The store writes and refreshes the copies;
//! a plan written before they existed reads them as absent, and a copy another device
//! mangled reads as absent too (never an unreadable plan).

use automerge::{
    AutoCommit, ObjId, ObjType, ROOT, ReadDoc, ScalarValue, transaction::Transactable,
};
use serde::{Deserialize, Serialize};
use time::Date;

use super::case_file::{Comment, read_comments};
use super::doc::{self, Author, DocKind};
use super::ids::{AssetId, CommentId, ConnectionEventId, DeviceId, DocumentId, GoalId, StepId};
use crate::{Error, Result};

const MAX_TEXT: usize = 16 * 1024;
/// The longest "about your link worker" or out-of-hours text.
pub const MAX_CONTACT_TEXT: usize = 2_000;

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
    /// What the patient needs of that asset, copied from the directory when the step was
    /// linked or last refreshed (`None`: linked before copies were kept, or no asset).
    pub asset_details: Option<AssetDetails>,
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

/// What a patient needs of a community asset, copied into a step of their plan: their
/// device cannot read the directory.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct AssetDetails {
    /// The asset's name.
    pub name: String,
    /// When it runs ("Tuesdays 10:00-12:00").
    pub when: Option<String>,
    /// Where: address and postcode, one line (the document key is `where`).
    pub place: Option<String>,
    /// Contact phone.
    pub phone: Option<String>,
    /// What it costs.
    pub cost: Option<String>,
    /// Its web page.
    pub url: Option<String>,
    /// The day the listing was last checked with the provider.
    pub checked: Option<Date>,
}

impl AssetDetails {
    /// The copy of a directory listing.
    pub fn from_asset(asset: &super::directory::AssetInput) -> AssetDetails {
        let clean = |s: &Option<String>| {
            s.as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        };
        let postcode = asset.postcode.as_ref().map(|p| p.to_string());
        let place = [clean(&asset.address), postcode]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(", ");
        AssetDetails {
            name: asset.name.trim().to_owned(),
            when: clean(&asset.schedule),
            place: (!place.is_empty()).then_some(place),
            phone: clean(&asset.phone),
            cost: clean(&asset.cost),
            url: clean(&asset.url),
            checked: asset
                .assured_date
                .as_deref()
                .and_then(|d| doc::parse_date(d).ok()),
        }
    }
}

/// The days and hours a team works, in UK local time. Bank holidays are not known: a
/// weekday that is a bank holiday counts as a working day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkingHours {
    /// Working days: bit 0 is Monday, bit 6 Sunday.
    pub days: u8,
    /// Start of the working day, minutes after midnight.
    pub start_minute: u16,
    /// End of the working day, minutes after midnight (after the start).
    pub end_minute: u16,
}

impl Default for WorkingHours {
    /// Monday to Friday, 9am to 5pm.
    fn default() -> Self {
        WorkingHours {
            days: 0b001_1111,
            start_minute: 9 * 60,
            end_minute: 17 * 60,
        }
    }
}

const DAY_NAMES: [(&str, &str); 7] = [
    ("mon", "Monday"),
    ("tue", "Tuesday"),
    ("wed", "Wednesday"),
    ("thu", "Thursday"),
    ("fri", "Friday"),
    ("sat", "Saturday"),
    ("sun", "Sunday"),
];

impl WorkingHours {
    /// At least one day, and the start before the end within one day.
    pub fn validate(&self) -> Result<()> {
        let bad = |reason: &str| {
            Err(Error::InvalidInput {
                field: "working hours",
                reason: reason.into(),
            })
        };
        if self.days & 0x7f == 0 || self.days & 0x80 != 0 {
            return bad("name at least one day, Monday to Sunday");
        }
        if self.end_minute > 24 * 60 || self.start_minute >= self.end_minute {
            return bad("the day must start before it ends");
        }
        Ok(())
    }

    /// Whether the team works on `day`.
    pub fn works_on(&self, day: time::Weekday) -> bool {
        self.days & (1 << day.number_days_from_monday()) != 0
    }

    /// The days as stored: "mon,tue,wed,thu,fri".
    pub fn days_key(&self) -> String {
        DAY_NAMES
            .iter()
            .enumerate()
            .filter(|(i, _)| self.days & (1 << i) != 0)
            .map(|(_, (short, _))| *short)
            .collect::<Vec<_>>()
            .join(",")
    }

    /// "Monday to Friday, 9am to 5pm".
    pub fn describe(&self) -> String {
        let on: Vec<usize> = (0..7).filter(|i| self.days & (1 << i) != 0).collect();
        let consecutive = on.windows(2).all(|w| w[1] == w[0] + 1);
        let days = match on.as_slice() {
            [] => String::new(),
            [one] => DAY_NAMES[*one].1.to_owned(),
            [first, .., last] if consecutive && on.len() > 2 => {
                format!("{} to {}", DAY_NAMES[*first].1, DAY_NAMES[*last].1)
            }
            [init @ .., last] => format!(
                "{} and {}",
                init.iter()
                    .map(|i| DAY_NAMES[*i].1)
                    .collect::<Vec<_>>()
                    .join(", "),
                DAY_NAMES[*last].1
            ),
        };
        format!(
            "{days}, {} to {}",
            clock_words(self.start_minute),
            clock_words(self.end_minute)
        )
    }

    fn from_parts(days: &str, start: &str, end: &str) -> Result<WorkingHours> {
        let mut mask = 0u8;
        for part in days.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let day = |name: &str| {
                let name = name.trim().to_ascii_lowercase();
                DAY_NAMES
                    .iter()
                    .position(|(short, long)| {
                        name.len() >= 3
                            && (long.to_ascii_lowercase().starts_with(&name) || *short == name)
                    })
                    .ok_or_else(|| Error::InvalidInput {
                        field: "working days",
                        reason: "expected days such as Mon-Fri or Mon,Wed,Fri".into(),
                    })
            };
            match part.split_once('-') {
                Some((from, to)) => {
                    let (from, to) = (day(from)?, day(to)?);
                    if from > to {
                        return Err(Error::InvalidInput {
                            field: "working days",
                            reason: "a range of days runs Monday towards Sunday".into(),
                        });
                    }
                    for i in from..=to {
                        mask |= 1 << i;
                    }
                }
                None => mask |= 1 << day(part)?,
            }
        }
        let hours = WorkingHours {
            days: mask,
            start_minute: parse_clock(start)?,
            end_minute: parse_clock(end)?,
        };
        hours.validate()?;
        Ok(hours)
    }
}

impl std::fmt::Display for WorkingHours {
    /// The form [`str::parse`] reads back: "mon,tue,wed,thu,fri 09:00-17:00".
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}-{}",
            self.days_key(),
            clock_key(self.start_minute),
            clock_key(self.end_minute)
        )
    }
}

impl std::str::FromStr for WorkingHours {
    type Err = Error;

    /// Days, then hours: "Mon-Fri 09:00-17:00", "mon,wed,fri 9:30-16:30".
    fn from_str(s: &str) -> Result<WorkingHours> {
        let (days, hours) = s
            .trim()
            .rsplit_once(' ')
            .ok_or_else(|| Error::InvalidInput {
                field: "working hours",
                reason: "expected days and hours, such as \"Mon-Fri 09:00-17:00\"".into(),
            })?;
        let (start, end) = hours.split_once('-').ok_or_else(|| Error::InvalidInput {
            field: "working hours",
            reason: "expected hours such as 09:00-17:00".into(),
        })?;
        WorkingHours::from_parts(&days.replace(' ', ""), start, end)
    }
}

fn parse_clock(s: &str) -> Result<u16> {
    let bad = || Error::InvalidInput {
        field: "working hours",
        reason: "expected a time such as 09:00".into(),
    };
    let (h, m) = s.trim().split_once(':').ok_or_else(bad)?;
    let (h, m): (u16, u16) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if m >= 60 || h > 24 || (h == 24 && m > 0) {
        return Err(bad());
    }
    Ok(h * 60 + m)
}

fn clock_key(minute: u16) -> String {
    format!("{:02}:{:02}", minute / 60, minute % 60)
}

/// "9am", "5:30pm", "12pm".
pub(crate) fn clock_words(minute: u16) -> String {
    let (h, m) = (minute / 60, minute % 60);
    let suffix = if (12..24).contains(&h) { "pm" } else { "am" };
    let h12 = match h % 12 {
        0 => 12,
        h => h,
    };
    if m == 0 {
        format!("{h12}{suffix}")
    } else {
        format!("{h12}:{m:02}{suffix}")
    }
}

/// The plan has ended: the case was closed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanEnded {
    /// The day it ended.
    pub on: Date,
    /// How the patient can come back.
    pub how_to_come_back: String,
}

/// What refreshing a plan's asset copies did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct AssetRefresh {
    /// Steps whose copy changed.
    pub updated: usize,
    /// Steps already up to date.
    pub unchanged: usize,
    /// Steps whose directory or asset is not on this device (their copy is kept).
    pub missing: usize,
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
    /// About the link worker (name, role, how to reach them), copied from their device.
    pub about_link_worker: String,
    /// Out-of-hours and crisis wording, copied from the team settings.
    pub out_of_hours: String,
    /// The team's working hours, copied from the team settings (`None` in a plan made
    /// before they were copied).
    pub working_hours: Option<WorkingHours>,
    /// Set when the case was closed: the plan has ended, and how to come back.
    pub ended: Option<PlanEnded>,
}

/// The words shown when nobody has said how to come back.
pub const DEFAULT_HOW_TO_COME_BACK: &str = "You can come back at any time: ask your GP \
practice to refer you again to the social prescribing link worker, or contact the link \
worker service yourself.";

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

/// Sets the "about your link worker" copy (empty clears it).
pub fn set_about_link_worker(doc: &mut AutoCommit, text: &str) -> Result<()> {
    doc::expect_kind(doc, DocKind::ActionPlan)?;
    let text = check_contact("about your link worker", text)?;
    doc::put_string_if_changed(doc, &ROOT, "about_link_worker", &text)
}

/// Sets the copies of the team's out-of-hours wording and working hours.
pub fn set_team_wording(
    doc: &mut AutoCommit,
    out_of_hours: &str,
    hours: &WorkingHours,
) -> Result<()> {
    doc::expect_kind(doc, DocKind::ActionPlan)?;
    let out_of_hours = check_contact("out of hours", out_of_hours)?;
    hours.validate()?;
    doc::put_string_if_changed(doc, &ROOT, "out_of_hours", &out_of_hours)?;
    let m = map_at(doc, &ROOT, "working_hours")?;
    doc::put_string_if_changed(doc, &m, "days", &hours.days_key())?;
    doc::put_string_if_changed(doc, &m, "start", &clock_key(hours.start_minute))?;
    doc::put_string_if_changed(doc, &m, "end", &clock_key(hours.end_minute))
}

/// The map at `key`; absent, or something else another device wrote there, it is made anew.
fn map_at(doc: &mut AutoCommit, obj: &ObjId, key: &str) -> Result<ObjId> {
    match doc.get(obj, key)? {
        Some((automerge::Value::Object(ObjType::Map), m)) => Ok(m),
        _ => Ok(doc.put_object(obj, key, ObjType::Map)?),
    }
}

fn check_contact(field: &'static str, text: &str) -> Result<String> {
    let text = text.trim();
    if text.len() > MAX_CONTACT_TEXT {
        return Err(Error::InvalidInput {
            field,
            reason: format!("longer than {MAX_CONTACT_TEXT} bytes"),
        });
    }
    Ok(text.to_owned())
}

/// Marks the plan ended on `on`, saying how to come back: the plan's "how to get back in
/// touch" when it has one, else [`DEFAULT_HOW_TO_COME_BACK`]. A plan already ended keeps
/// its day and words.
pub fn end(doc: &mut AutoCommit, on: Date) -> Result<()> {
    doc::expect_kind(doc, DocKind::ActionPlan)?;
    if read_ended(doc).is_some() {
        return Ok(());
    }
    let back = doc::get_string(doc, &ROOT, "get_back_in_touch")
        .ok()
        .flatten()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| DEFAULT_HOW_TO_COME_BACK.to_owned());
    let m = doc.put_object(ROOT, "ended", ObjType::Map)?;
    doc.put(&m, "on", doc::format_date(on))?;
    doc.put(&m, "how_to_come_back", back)?;
    Ok(())
}

/// Takes the plan out of "ended" (the case was reopened).
pub fn reopen(doc: &mut AutoCommit) -> Result<()> {
    doc::expect_kind(doc, DocKind::ActionPlan)?;
    if doc.get(ROOT, "ended")?.is_some() {
        doc.delete(ROOT, "ended")?;
    }
    Ok(())
}

/// Writes a step's copy of its asset's listing, field by field: only what changed is
/// written. Refused for a step that links no asset.
pub fn set_asset_details(doc: &mut AutoCommit, step: StepId, details: &AssetDetails) -> Result<()> {
    doc::expect_kind(doc, DocKind::ActionPlan)?;
    let s = item(doc, "steps", "step", &step.to_string())?;
    if doc::get_string(doc, &s, "asset")?.is_none() {
        return Err(Error::InvalidInput {
            field: "step",
            reason: "it links no community asset".into(),
        });
    }
    let name = doc::require_text("asset name", &details.name, MAX_TEXT)?;
    for v in [
        &details.when,
        &details.place,
        &details.phone,
        &details.cost,
        &details.url,
    ]
    .into_iter()
    .flatten()
    {
        check_len("asset details", v)?;
    }
    let m = map_at(doc, &s, "asset_details")?;
    doc::put_string_if_changed(doc, &m, "name", &name)?;
    doc::put_opt_string(doc, &m, "when", details.when.as_deref())?;
    doc::put_opt_string(doc, &m, "where", details.place.as_deref())?;
    doc::put_opt_string(doc, &m, "phone", details.phone.as_deref())?;
    doc::put_opt_string(doc, &m, "cost", details.cost.as_deref())?;
    doc::put_opt_string(doc, &m, "url", details.url.as_deref())?;
    let checked = details.checked.map(doc::format_date);
    doc::put_opt_string(doc, &m, "checked", checked.as_deref())
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
        for (k, e) in doc::map_objs(doc, &map)? {
            let f = doc::Fields::of(doc, &e)?;
            // A status a newer app wrote is skipped, not an unreadable plan.
            let Ok(status) = f.require_string("status")?.parse() else {
                continue;
            };
            out.push(ConnectionEvent {
                id: k.parse()?,
                status,
                on: f.date("on")?.ok_or(Error::Malformed(
                    "a connection event without its day".into(),
                ))?,
                by: f.string("by")?.unwrap_or_default(),
                by_device: super::oversight::created_by(&e),
                at: f.i64("at")?.unwrap_or(0),
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
        for (k, g) in doc::map_objs(doc, &map)? {
            let f = doc::Fields::of(doc, &g)?;
            goals.push(Goal {
                id: k.parse()?,
                text: f.string("text")?.unwrap_or_default(),
                status: f.require_string("status")?.parse()?,
                created_at: f.i64("created_at")?.unwrap_or(0),
            });
        }
    }
    goals.sort_by_key(|g| (g.created_at, g.id));
    let mut steps = Vec::new();
    if let Some(map) = doc::get_obj(doc, &ROOT, "steps")? {
        for (k, s) in doc::map_objs(doc, &map)? {
            let f = doc::Fields::of(doc, &s)?;
            let asset = match (f.string("asset_directory")?, f.string("asset")?) {
                (Some(d), Some(a)) => Some(AssetRef {
                    directory: d.parse()?,
                    asset: a.parse()?,
                }),
                _ => None,
            };
            steps.push(Step {
                id: k.parse()?,
                goal: f.string("goal")?.map(|g| g.parse()).transpose()?,
                text: f.string("text")?.unwrap_or_default(),
                owner: f.require_string("owner")?.parse()?,
                due: f.date("due")?,
                done: f.bool("done")?.unwrap_or(false),
                connection: if asset.is_some() {
                    let created = f.i64("created_at")?.unwrap_or(0);
                    read_connection(doc, &s, created)?
                } else {
                    Vec::new()
                },
                asset_details: if asset.is_some() {
                    read_asset_details(doc, &s)
                } else {
                    None
                },
                asset,
                created_at: f.i64("created_at")?.unwrap_or(0),
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
        about_link_worker: lenient_string(doc, &ROOT, "about_link_worker").unwrap_or_default(),
        out_of_hours: lenient_string(doc, &ROOT, "out_of_hours").unwrap_or_default(),
        working_hours: read_working_hours(doc),
        ended: read_ended(doc),
    })
}

/// A string the copies hold: anything else reads as absent, never as damage (a copy is
/// written again by the next refresh).
fn lenient_string(doc: &AutoCommit, obj: &ObjId, key: &str) -> Option<String> {
    doc::get_string(doc, obj, key).ok().flatten()
}

fn read_asset_details(doc: &AutoCommit, step: &ObjId) -> Option<AssetDetails> {
    let m = doc::get_obj(doc, step, "asset_details").ok()??;
    let f = doc::Fields::of(doc, &m).ok()?;
    let lenient = |key: &str| f.string(key).ok().flatten();
    Some(AssetDetails {
        name: lenient("name")?,
        when: lenient("when"),
        place: lenient("where"),
        phone: lenient("phone"),
        cost: lenient("cost"),
        url: lenient("url"),
        checked: lenient("checked").and_then(|d| doc::parse_date(&d).ok()),
    })
}

fn read_working_hours(doc: &AutoCommit) -> Option<WorkingHours> {
    let m = doc::get_obj(doc, &ROOT, "working_hours").ok()??;
    WorkingHours::from_parts(
        &lenient_string(doc, &m, "days")?,
        &lenient_string(doc, &m, "start")?,
        &lenient_string(doc, &m, "end")?,
    )
    .ok()
}

/// Whether the plan has ended, read from that key alone (cheap: sync asks it of the plan of
/// every case file a pull changes).
pub fn is_ended(doc: &AutoCommit) -> bool {
    read_ended(doc).is_some()
}

fn read_ended(doc: &AutoCommit) -> Option<PlanEnded> {
    let m = doc::get_obj(doc, &ROOT, "ended").ok()??;
    Some(PlanEnded {
        on: doc::parse_date(&lenient_string(doc, &m, "on")?).ok()?,
        how_to_come_back: lenient_string(doc, &m, "how_to_come_back")
            .filter(|s| !s.trim().is_empty())
            .unwrap_or_else(|| DEFAULT_HOW_TO_COME_BACK.to_owned()),
    })
}
