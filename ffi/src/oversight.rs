//! Oversight: who holds a case (assignment and every handover), supervisors' review marks
//! and their review queue, supervision comments reaching the link worker holding the case
//! and their acknowledgements, ring-back tasks, each link worker's caseload and holding
//! load, and the link worker's worklist for a day (its observer is in `observe.rs`).
//!
//! Every list is one query over the core's index; edits go through the core's edit
//! pipeline like any other, so they sync, show in history and wake observers.

use std::time::Duration;

use holdfast_core::SharedStore;
use holdfast_core::model::doc::{format_date, parse_date};
use holdfast_core::model::ids::{CommentId, DeviceId, DocumentId, RingBackId};
use holdfast_core::model::oversight::{
    CaseCounters as CoreCounters, Oversight, WorkKind as CoreKind,
};
use holdfast_core::model::team_settings::LimitsSetting;
use holdfast_core::store::{
    LoadLimits as CoreLimits, Member, NewComment, QueueEntry, TeamLimits, WorkItem as CoreItem,
    WorkerLoad as CoreLoad,
};
use time::{Date, OffsetDateTime, UtcOffset};

use crate::cases::{CaseStatus, claim_author};
use crate::device::{HoldfastDevice, parse_id, parse_item_id};
use crate::error::{HoldfastError, Result};
use crate::teams::Role;

// ---------------------------------------------------------------------------------------
// Records

/// The thresholds a caseload is held against. The defaults follow common guidance (about
/// 200–250 people a year for a full-time link worker; holding past 60 days, more than 12
/// sessions or a case open more than three months deserves a supervisor's look); a team
/// that agrees other figures has a supervisor or admin set them (`set_team_limits`), and
/// every staff device holds its caseloads against them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Record)]
pub struct LoadLimits {
    /// People accepted in the last 12 months.
    #[uniffi(default = 250)]
    pub accepted_per_year: u32,
    /// Days in holding.
    #[uniffi(default = 60)]
    pub held_days: u32,
    /// Sessions on one open case.
    #[uniffi(default = 12)]
    pub sessions: u32,
    /// Days a case has been open (three months: 91).
    #[uniffi(default = 91)]
    pub open_days: u32,
    /// Working days (Monday to Friday) a new referral may wait for first contact.
    #[uniffi(default = 5)]
    pub first_contact_working_days: u32,
}

impl Default for LoadLimits {
    /// The same figures as the `#[uniffi(default)]`s above (and the core's defaults: a
    /// test checks both).
    fn default() -> Self {
        LoadLimits {
            accepted_per_year: 250,
            held_days: 60,
            sessions: 12,
            open_days: 91,
            first_contact_working_days: 5,
        }
    }
}

impl From<LoadLimits> for CoreLimits {
    fn from(l: LoadLimits) -> Self {
        CoreLimits {
            accepted_per_year: l.accepted_per_year,
            held_days: l.held_days,
            sessions: l.sessions,
            open_days: l.open_days,
            first_contact_working_days: l.first_contact_working_days,
        }
    }
}

impl From<CoreLimits> for LoadLimits {
    fn from(l: CoreLimits) -> Self {
        LoadLimits {
            accepted_per_year: l.accepted_per_year,
            held_days: l.held_days,
            sessions: l.sessions,
            open_days: l.open_days,
            first_contact_working_days: l.first_contact_working_days,
        }
    }
}

/// Limits one supervisor's or admin's device set for the team.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct LimitsSettingView {
    /// The limits.
    pub limits: LoadLimits,
    /// Who set them (the person using the device).
    pub by: String,
    /// From which device.
    pub by_device_id: String,
    /// When (ms since the Unix epoch).
    pub at_ms: i64,
    /// Why, when given.
    pub reason: Option<String>,
}

fn setting_view(s: LimitsSetting) -> LimitsSettingView {
    LimitsSettingView {
        limits: s.limits.into(),
        by: s.by,
        by_device_id: s.by_device.to_string(),
        at_ms: s.at,
        reason: s.reason,
    }
}

/// The limits the current team's caseloads are held against, and where they came from.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct TeamLimitsView {
    /// The limits in force.
    pub limits: LoadLimits,
    /// The setting they come from; null: nobody has set them, the defaults apply.
    pub set: Option<LimitsSettingView>,
    /// The latest setting of each supervisor or admin that counts, oldest first (the last
    /// is `set`).
    pub history: Vec<LimitsSettingView>,
}

fn team_limits_view(t: TeamLimits) -> TeamLimitsView {
    TeamLimitsView {
        limits: t.limits.into(),
        set: t.set.map(setting_view),
        history: t.history.into_iter().map(setting_view).collect(),
    }
}

/// A member of the team as oversight names them.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct MemberView {
    /// Their device (what `assign_case` takes).
    pub device_id: String,
    /// Their name, as last given in a handover (this device: its own person); none when
    /// nobody has named them yet.
    pub name: Option<String>,
    /// Their role, when known (in lists from the index: not filled).
    pub role: Option<Role>,
}

fn member_view(m: Member) -> MemberView {
    MemberView {
        device_id: m.device.to_string(),
        name: m.name,
        role: m.role.map(Into::into),
    }
}

/// Numbers that only grow as a case changes: a review mark keeps them as the supervisor saw
/// them; the difference is what changed since.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, uniffi::Record)]
pub struct CaseCounters {
    /// Sessions recorded.
    pub sessions: u32,
    /// Status moves.
    pub status_moves: u32,
    /// Measures recorded, completed or not.
    pub measures: u32,
    /// Safeguarding concerns raised, plus every change of a concern's status.
    pub safeguarding: u32,
    /// Supervision comments.
    pub comments: u32,
    /// Handovers (assignments).
    pub handovers: u32,
}

impl From<CoreCounters> for CaseCounters {
    fn from(c: CoreCounters) -> Self {
        CaseCounters {
            sessions: c.sessions,
            status_moves: c.status_moves,
            measures: c.measures,
            safeguarding: c.safeguarding,
            comments: c.comments,
            handovers: c.handovers,
        }
    }
}

impl From<CaseCounters> for CoreCounters {
    fn from(c: CaseCounters) -> Self {
        CoreCounters {
            sessions: c.sessions,
            status_moves: c.status_moves,
            measures: c.measures,
            safeguarding: c.safeguarding,
            comments: c.comments,
            handovers: c.handovers,
        }
    }
}

/// One link worker's caseload and holding load.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct WorkerLoad {
    /// The link worker; none for the cases nobody holds.
    pub worker: Option<MemberView>,
    /// Referred, not yet accepted.
    pub referred: u32,
    /// Active.
    pub active: u32,
    /// Holding.
    pub holding: u32,
    /// Tapering.
    pub tapering: u32,
    /// Accepted in the last 12 months.
    pub accepted_last_year: u32,
    /// `accepted_last_year` is above the limit.
    pub over_accepted_limit: bool,
    /// In holding longer than the limit.
    pub held_too_long: u32,
    /// Open cases with more sessions than the limit.
    pub many_sessions: u32,
    /// Cases open longer than the limit.
    pub open_too_long: u32,
    /// Open safeguarding concerns on their cases.
    pub open_safeguarding: u32,
}

fn worker_load(l: CoreLoad) -> WorkerLoad {
    WorkerLoad {
        worker: l.worker.map(member_view),
        referred: l.referred,
        active: l.active,
        holding: l.holding,
        tapering: l.tapering,
        accepted_last_year: l.accepted_last_year,
        over_accepted_limit: l.over_accepted_limit,
        held_too_long: l.held_too_long,
        many_sessions: l.many_sessions,
        open_too_long: l.open_too_long,
        open_safeguarding: l.open_safeguarding,
    }
}

/// A case in this supervisor's review queue, with what changed since their last mark.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ReviewQueueEntry {
    /// The case file.
    pub case_id: String,
    /// The patient's name.
    pub patient_name: String,
    /// Its status (the provisional one while contested).
    pub status: CaseStatus,
    /// Since when (ms since the Unix epoch).
    pub status_since_ms: Option<i64>,
    /// Who holds it.
    pub holder: Option<MemberView>,
    /// Open safeguarding concerns: such cases head the queue, reviewed or not.
    pub open_safeguarding: u32,
    /// Devices disagree on its status.
    pub status_contested: bool,
    /// Devices disagree on who holds it.
    pub holder_contested: bool,
    /// When this device last marked it reviewed; none: never.
    pub reviewed_at_ms: Option<i64>,
    /// What grew since that mark (everything, when never reviewed).
    pub changed: CaseCounters,
    /// What the case holds as this entry was read: pass it to `mark_reviewed_upto` when
    /// the supervisor marks the case they were shown, so that changes synced in while they
    /// read still bring it back.
    pub holds: CaseCounters,
}

fn queue_entry(q: QueueEntry) -> ReviewQueueEntry {
    ReviewQueueEntry {
        case_id: q.case_id.to_string(),
        patient_name: q.patient_name,
        status: q.status.into(),
        status_since_ms: q.status_since,
        holder: q.holder.map(member_view),
        open_safeguarding: q.open_safeguarding,
        status_contested: q.status_contested,
        holder_contested: q.holder_contested,
        reviewed_at_ms: q.reviewed_at,
        changed: q.changed.into(),
        holds: q.holds.into(),
    }
}

/// A supervision comment the link worker holding the case has not acknowledged yet.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct NewCommentView {
    /// The case file.
    pub case_id: String,
    /// The patient's name.
    pub patient_name: String,
    /// The comment (for `acknowledge_comment`; 16 hex digits).
    pub comment_id: String,
    /// When it was written (ms since the Unix epoch).
    pub at_ms: i64,
    /// Who wrote it.
    pub by: String,
    /// What it says.
    pub text: String,
}

fn new_comment(c: NewComment) -> NewCommentView {
    NewCommentView {
        case_id: c.case_id.to_string(),
        patient_name: c.patient_name,
        comment_id: c.comment.id.to_string(),
        at_ms: c.comment.at,
        by: c.comment.by,
        text: c.comment.text,
    }
}

/// What a worklist item asks of the link worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum WorkKind {
    /// A session's follow-up date has come.
    FollowUp,
    /// A referral received and not yet contacted within the working days allowed.
    FirstContact,
    /// A call owed to the patient (`ring_back_id`, `note`).
    RingBack,
    /// An open case with no measure yet.
    BaselineMeasure,
    /// A tapering case with no measure since it began tapering.
    ClosingMeasure,
    /// The message back to the GP and referrer, owed since a decision or a closure
    /// (`gp_feedback`, then `record_feedback_sent`); due within five working days.
    Feedback,
}

impl From<CoreKind> for WorkKind {
    fn from(k: CoreKind) -> Self {
        match k {
            CoreKind::FollowUp => WorkKind::FollowUp,
            CoreKind::FirstContact => WorkKind::FirstContact,
            CoreKind::RingBack => WorkKind::RingBack,
            CoreKind::BaselineMeasure => WorkKind::BaselineMeasure,
            CoreKind::ClosingMeasure => WorkKind::ClosingMeasure,
            CoreKind::Feedback => WorkKind::Feedback,
        }
    }
}

/// One thing due for the link worker.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct WorkItem {
    /// What is due.
    pub kind: WorkKind,
    /// The case file.
    pub case_id: String,
    /// The patient's name.
    pub patient_name: String,
    /// The day it fell or falls due (YYYY-MM-DD), when there is one.
    pub due: Option<String>,
    /// Due before the day the list is for.
    pub overdue: bool,
    /// For a ring-back: its id (for `complete_ring_back`).
    pub ring_back_id: Option<String>,
    /// For a ring-back: its note.
    pub note: Option<String>,
    /// For feedback: which message is owed (pass it to `gp_feedback` and
    /// `record_feedback_sent`).
    pub feedback: Option<crate::feedback::FeedbackKind>,
}

fn work_item(i: CoreItem) -> WorkItem {
    WorkItem {
        kind: i.kind.into(),
        case_id: i.case_id.to_string(),
        patient_name: i.patient_name,
        due: i.due.map(format_date),
        overdue: i.overdue,
        ring_back_id: i.ring_back.map(|r| r.to_string()),
        note: i.note,
        feedback: i.feedback.map(Into::into),
    }
}

// ---------------------------------------------------------------------------------------
// Oversight in the case file (`CaseView`)

/// One device's claim to who holds the case (several when assigned on two devices at once).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct HolderClaim {
    /// The link worker this claim gives the case to.
    pub device_id: String,
    /// Their name, as last given in a handover.
    pub name: Option<String>,
    /// The device that made the assignment (filled while contested; who made an agreed
    /// assignment is in the latest of `CaseView.handovers`).
    pub assigned_by_device_id: Option<String>,
    /// The person who made it (filled while contested).
    pub assigned_by: Option<String>,
    /// When (ms since the Unix epoch, by the assigning device's clock; filled while
    /// contested).
    pub at_ms: Option<i64>,
}

/// Who holds the case.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct HolderView {
    /// The link worker holding it (the provisional one while contested).
    pub device_id: String,
    /// Their name, as last given in a handover.
    pub name: Option<String>,
    /// Assigned to different people on two devices at once: `assign_case` to one of
    /// `claims` (or anyone) settles it.
    pub contested: bool,
    /// Every concurrent assignment, with who made it and when (one when agreed, without
    /// them).
    pub claims: Vec<HolderClaim>,
}

/// One change of who holds the case.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct HandoverView {
    /// Who held it before (none for the first assignment).
    pub from_device_id: Option<String>,
    /// Their name, as last given in a handover.
    pub from_name: Option<String>,
    /// Who holds it from then.
    pub to_device_id: String,
    /// Their name, as the person assigning gave it.
    pub to_name: String,
    /// The person who made the change.
    pub by: String,
    /// From which device.
    pub by_device_id: String,
    /// When (ms since the Unix epoch).
    pub at_ms: i64,
    /// Why ("caseload rebalanced").
    pub reason: Option<String>,
}

/// A supervisor's latest review mark on the case.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ReviewMarkView {
    /// The supervisor's device.
    pub reviewer_device_id: String,
    /// Their name.
    pub by: String,
    /// When (ms since the Unix epoch).
    pub at_ms: i64,
    /// The case's counters as they saw them.
    pub seen: CaseCounters,
}

/// A link worker's acknowledgement of a supervision comment.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct CommentAckView {
    /// The comment (`CommentView::comment_id`).
    pub comment_id: String,
    /// Who acknowledged it.
    pub by: String,
    /// From which device.
    pub device_id: String,
    /// When (ms since the Unix epoch).
    pub at_ms: i64,
}

/// A call owed to the patient.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct RingBackView {
    /// Its id (16 hex digits).
    pub ring_back_id: String,
    /// The day it is due (YYYY-MM-DD).
    pub due: String,
    /// What it is about.
    pub note: String,
    /// Who added it.
    pub by: String,
    /// From which device.
    pub device_id: String,
    /// When it was added (ms since the Unix epoch).
    pub at_ms: i64,
    /// When the call was made; none while it is owed.
    pub done_at_ms: Option<i64>,
}

/// The oversight fields of a `CaseView`.
pub(crate) struct OversightViews {
    pub holder: Option<HolderView>,
    pub handovers: Vec<HandoverView>,
    pub reviews: Vec<ReviewMarkView>,
    pub comment_acks: Vec<CommentAckView>,
    pub ring_backs: Vec<RingBackView>,
}

pub(crate) fn oversight_views(o: &Oversight) -> OversightViews {
    let name = |d: &DeviceId| o.name_of(*d).map(str::to_owned);
    let holder = o.assigned.as_ref().and_then(|a| {
        let current = a.provisional()?;
        Some(HolderView {
            device_id: current.to_string(),
            name: name(current),
            contested: a.is_conflicted(),
            claims: a
                .claims
                .iter()
                .map(|c| {
                    let (assigned_by_device_id, assigned_by, at_ms) = claim_author(c);
                    HolderClaim {
                        device_id: c.value.to_string(),
                        name: name(&c.value),
                        assigned_by_device_id,
                        assigned_by,
                        at_ms,
                    }
                })
                .collect(),
        })
    });
    OversightViews {
        holder,
        handovers: o
            .handovers
            .iter()
            .map(|h| HandoverView {
                from_device_id: h.from.map(|d| d.to_string()),
                from_name: h.from.as_ref().and_then(name),
                to_device_id: h.to.to_string(),
                to_name: h.to_name.clone(),
                by: h.by.clone(),
                by_device_id: h.by_device.to_string(),
                at_ms: h.at,
                reason: h.reason.clone(),
            })
            .collect(),
        reviews: o
            .reviews
            .iter()
            .map(|r| ReviewMarkView {
                reviewer_device_id: r.reviewer.to_string(),
                by: r.by.clone(),
                at_ms: r.at,
                seen: r.seen.into(),
            })
            .collect(),
        comment_acks: o
            .acks
            .iter()
            .map(|a| CommentAckView {
                comment_id: a.comment.to_string(),
                by: a.by.clone(),
                device_id: a.device.to_string(),
                at_ms: a.at,
            })
            .collect(),
        ring_backs: o
            .ring_backs
            .iter()
            .map(|r| RingBackView {
                ring_back_id: r.id.to_string(),
                due: format_date(r.due),
                note: r.note.clone(),
                by: r.by.clone(),
                device_id: r.device.to_string(),
                at_ms: r.at,
                done_at_ms: r.done_at,
            })
            .collect(),
    }
}

// ---------------------------------------------------------------------------------------
// Days at the host's UTC offset

/// The most a time zone is from UTC, either way (Kiribati, +14:00).
const MAX_OFFSET_MINUTES: i32 = 14 * 60;

/// The host's UTC offset, checked.
pub(crate) fn utc_offset(minutes: i32) -> Result<UtcOffset> {
    if !(-MAX_OFFSET_MINUTES..=MAX_OFFSET_MINUTES).contains(&minutes) {
        return Err(HoldfastError::invalid(
            "a UTC offset is between -840 and 840 minutes (-14:00 to +14:00)",
        ));
    }
    UtcOffset::from_whole_seconds(minutes * 60)
        .map_err(|_| HoldfastError::invalid("not a UTC offset"))
}

/// The local day at `now_ms` (ms since the epoch) at `offset`, and how long until the next
/// local midnight (at least a millisecond).
pub(crate) fn local_day(now_ms: i64, offset: UtcOffset) -> (Date, Duration) {
    let now = OffsetDateTime::from_unix_timestamp_nanos(i128::from(now_ms) * 1_000_000)
        .ok()
        .and_then(|t| t.checked_to_offset(offset))
        .unwrap_or_else(|| OffsetDateTime::UNIX_EPOCH.to_offset(offset));
    let today = now.date();
    let wait = today
        .next_day()
        .map(|d| d.midnight().assume_offset(offset))
        .and_then(|midnight| Duration::try_from(midnight - now).ok())
        .unwrap_or(Duration::from_secs(86_400));
    (today, wait.max(Duration::from_millis(1)))
}

/// The worklist for `today`, read from the shared store (the observer's task).
/// `limits`, or the team's (`Store::team_limits`) when none are given.
fn limits_or_team(
    store: &mut holdfast_core::Store,
    limits: Option<LoadLimits>,
) -> Result<CoreLimits> {
    Ok(match limits {
        Some(l) => l.into(),
        None => store.team_limits()?.limits,
    })
}

pub(crate) fn worklist_on(
    store: &SharedStore,
    today: Date,
    limits: Option<LoadLimits>,
) -> Result<Vec<WorkItem>> {
    let mut store = store.lock()?;
    let limits = limits_or_team(&mut store, limits)?;
    Ok(store
        .worklist(today, &limits)?
        .into_iter()
        .map(work_item)
        .collect())
}

// ---------------------------------------------------------------------------------------
// The API

fn case_arg(case_id: &str) -> Result<DocumentId> {
    parse_id("case", case_id)
}

#[uniffi::export]
impl HoldfastDevice {
    /// Gives a case to a link worker (`worker_device_id`: a staff member of the case's
    /// team, from `team_members`; outside a team only this device). `name` defaults to the
    /// name last given to them (refused with `InvalidInput` when none is known yet: give
    /// one). Keeps the handover (from, to, by, when, why) in the case. Also how a contested
    /// assignment is settled. Refused on a closed case and when they already hold it.
    pub fn assign_case(
        &self,
        case_id: String,
        worker_device_id: String,
        name: Option<String>,
        reason: Option<String>,
    ) -> Result<()> {
        let case = case_arg(&case_id)?;
        let worker: DeviceId = parse_id("device", &worker_device_id)?;
        Ok(self
            .store()?
            .assign_case(case, worker, name.as_deref(), reason.as_deref())?)
    }

    /// Marks the case reviewed by this device (a supervisor or admin), up to what it holds
    /// now; returns the counters recorded. The case leaves this device's review queue until
    /// it changes again. A screen that showed the case uses `mark_reviewed_upto`.
    pub fn mark_reviewed(&self, case_id: String) -> Result<CaseCounters> {
        let case = case_arg(&case_id)?;
        Ok(self.store()?.mark_reviewed(case)?.into())
    }

    /// Marks the case reviewed up to `seen`: the `holds` of the queue entry (or
    /// `review_entry`) the supervisor was shown. What synced in since still brings the case
    /// back. Never records more than the case holds, nor less than this device's earlier
    /// mark; returns the counters recorded.
    pub fn mark_reviewed_upto(&self, case_id: String, seen: CaseCounters) -> Result<CaseCounters> {
        let case = case_arg(&case_id)?;
        Ok(self.store()?.mark_reviewed_upto(case, &seen.into())?.into())
    }

    /// The limits the current team's caseloads are held against: the latest a supervisor
    /// or admin set, with who set them, when and why, and each other supervisor's or
    /// admin's latest setting; the defaults when nobody has (and outside a team).
    pub fn team_limits(&self) -> Result<TeamLimitsView> {
        Ok(team_limits_view(self.store()?.team_limits()?))
    }

    /// Sets the current team's limits (a supervisor or an admin; `reason` optional, up to
    /// 1,000 characters). They reach every staff device with the next sync; the latest
    /// setting stands. Each limit from 1 up to: 10,000 people a year, 3,650 days held or
    /// open, 1,000 sessions, 60 working days to first contact (`InvalidInput` otherwise,
    /// and nothing is written).
    #[uniffi::method(default(reason = None))]
    pub fn set_team_limits(&self, limits: LoadLimits, reason: Option<String>) -> Result<()> {
        Ok(self
            .store()?
            .set_team_limits(&limits.into(), reason.as_deref())?)
    }

    /// Acknowledges a supervision comment (`comment_id` from `new_supervision_comments` or
    /// `CaseView.supervision`) on a case this device holds. Again: nothing changes.
    pub fn acknowledge_comment(&self, case_id: String, comment_id: String) -> Result<()> {
        let case = case_arg(&case_id)?;
        let comment: CommentId = parse_item_id("comment", &comment_id)?;
        Ok(self.store()?.acknowledge_comment(case, comment)?)
    }

    /// Adds a ring-back: a call owed to the patient, due on `due` (YYYY-MM-DD), about
    /// `note`. Returns its id.
    pub fn add_ring_back(&self, case_id: String, due: String, note: String) -> Result<String> {
        let case = case_arg(&case_id)?;
        let due = parse_date(&due)?;
        Ok(self.store()?.add_ring_back(case, due, &note)?.to_string())
    }

    /// Records that a ring-back call was made (refused if it already was).
    pub fn complete_ring_back(&self, case_id: String, ring_back_id: String) -> Result<()> {
        let case = case_arg(&case_id)?;
        let id: RingBackId = parse_item_id("ring-back", &ring_back_id)?;
        Ok(self.store()?.complete_ring_back(case, id)?)
    }

    /// Caseload and holding load per link worker in the current team, held against
    /// `limits` (the team's, `team_limits`, when null). Supervisors and admins see every
    /// link worker; a link worker sees their own row.
    #[uniffi::method(default(limits = None))]
    pub fn caseload_load(&self, limits: Option<LoadLimits>) -> Result<Vec<WorkerLoad>> {
        let mut store = self.store()?;
        let limits = limits_or_team(&mut store, limits)?;
        Ok(store
            .caseload_load(&limits)?
            .into_iter()
            .map(worker_load)
            .collect())
    }

    /// This device's review queue in the current team, at most `limit` cases: every case
    /// changed since this device marked it reviewed (or never marked), or whose status or
    /// holder is contested, or with an open safeguarding concern. Open safeguarding first
    /// (reviewed or not), then a contested status, then the most recently changed.
    pub fn review_queue(&self, limit: u32) -> Result<Vec<ReviewQueueEntry>> {
        Ok(self
            .store()?
            .review_queue(limit)?
            .into_iter()
            .map(queue_entry)
            .collect())
    }

    /// Where one case stands for this device's review, in the queue or not: what changed
    /// since its last mark (everything when never marked), and what the case holds.
    pub fn review_entry(&self, case_id: String) -> Result<ReviewQueueEntry> {
        let case = case_arg(&case_id)?;
        Ok(queue_entry(self.store()?.review_entry(case)?))
    }

    /// This device's worklist in the current team for `today` (YYYY-MM-DD; null: today in
    /// UTC by the device's clock — pass the local date, or use `observe_worklist`, which
    /// takes the UTC offset): follow-ups due, first contacts owed, ring-backs due, baseline
    /// and closing measures; oldest due first. `limits`: the team's when null (only
    /// `first_contact_working_days` matters here).
    #[uniffi::method(default(today = None, limits = None))]
    pub fn worklist(
        &self,
        today: Option<String>,
        limits: Option<LoadLimits>,
    ) -> Result<Vec<WorkItem>> {
        let day = today.map(|t| parse_date(&t)).transpose()?;
        let mut store = self.store()?;
        let limits = limits_or_team(&mut store, limits)?;
        let day = day.unwrap_or_else(|| store.today());
        Ok(store
            .worklist(day, &limits)?
            .into_iter()
            .map(work_item)
            .collect())
    }

    /// Supervision comments on cases this device holds (current team) that it has not
    /// acknowledged, oldest first.
    pub fn new_supervision_comments(&self) -> Result<Vec<NewCommentView>> {
        Ok(self
            .store()?
            .new_supervision_comments()?
            .into_iter()
            .map(new_comment)
            .collect())
    }

    /// The staff of `team` (or the current team): admins, supervisors and link workers not
    /// revoked, with the names given to them in handovers; whom `assign_case` can take.
    pub fn team_members(&self, team: Option<String>) -> Result<Vec<MemberView>> {
        let team = self.team_or_current(team)?;
        Ok(self
            .store()?
            .team_members(team)?
            .into_iter()
            .map(member_view)
            .collect())
    }

    /// The name last given to a device in a handover (this device: its own person).
    pub fn member_name(&self, device_id: String) -> Result<Option<String>> {
        let device: DeviceId = parse_id("device", &device_id)?;
        Ok(self.store()?.member_name(device)?)
    }

    /// Today (YYYY-MM-DD) by the device's clock at the host's UTC offset in minutes (e.g.
    /// 60 for British Summer Time), as the worklist observer reckons it.
    pub fn today(&self, utc_offset_minutes: i32) -> Result<String> {
        let offset = utc_offset(utc_offset_minutes)?;
        let now = i64::try_from(self.store()?.clock().now_ms()).unwrap_or(i64::MAX);
        Ok(format_date(local_day(now, offset).0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn the_default_limits_are_the_cores() {
        assert_eq!(
            CoreLimits::from(LoadLimits::default()),
            CoreLimits::default()
        );
    }

    #[test]
    fn the_local_day_and_the_wait_for_midnight_follow_the_offset() {
        // Friday 4 December 2026, 22:59:59 UTC.
        let now = 1_796_425_199_000;
        let utc = utc_offset(0).unwrap();
        assert_eq!(
            local_day(now, utc),
            (date!(2026 - 12 - 04), Duration::from_secs(3601))
        );
        let bst = utc_offset(60).unwrap();
        assert_eq!(
            local_day(now, bst),
            (date!(2026 - 12 - 04), Duration::from_secs(1))
        );
        let far_east = utc_offset(14 * 60).unwrap();
        assert_eq!(local_day(now, far_east).0, date!(2026 - 12 - 05));
        let west = utc_offset(-5 * 60 - 30).unwrap();
        assert_eq!(local_day(now, west).0, date!(2026 - 12 - 04));
        // At midnight exactly it is the new day, and the next midnight is a day away.
        assert_eq!(
            local_day(now + 1_000, bst),
            (date!(2026 - 12 - 05), Duration::from_secs(86_400))
        );
        assert!(utc_offset(841).is_err());
        assert!(utc_offset(-841).is_err());
    }
}
