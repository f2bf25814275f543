//! The patient's action plan: what matters to them, goals, steps, comments. The same calls
//! serve the link worker's phone and the patient's own device.

use holdfast_core::model::action_plan::{
    AssetDetails, AssetRef as CoreAssetRef, AssetRefresh, ConnectionEvent,
    ConnectionStatus as CoreConnection, GoalStatus as CoreGoalStatus, NewStep,
    StepOwner as CoreOwner,
};
use holdfast_core::model::doc::format_date;
use holdfast_core::model::ids::{AssetId, DocumentId, GoalId, StepId};
use holdfast_core::model::plan_render::{self, RenderStyle as CoreRenderStyle};
use holdfast_core::store::AssetDemand;

use crate::cases::{CommentView, date_arg};
use crate::device::{HoldfastDevice, parse_id, parse_item_id};
use crate::error::{HoldfastError, Result};

/// Who does a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum StepOwner {
    /// The patient.
    Patient,
    /// The link worker.
    LinkWorker,
}

fn owner_to_core(o: StepOwner) -> Result<CoreOwner> {
    let name = match o {
        StepOwner::Patient => "patient",
        StepOwner::LinkWorker => "link_worker",
    };
    name.parse()
        .map_err(|_| HoldfastError::internal(format!("step owner {name} unknown to the core")))
}

fn owner_from_core(o: CoreOwner) -> StepOwner {
    match o.as_str() {
        "patient" => StepOwner::Patient,
        _ => StepOwner::LinkWorker,
    }
}

/// Where a person's connection to a community asset stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum ConnectionStatus {
    /// The link worker suggested it.
    Suggested,
    /// Got in touch with it.
    Contacted,
    /// Went.
    Attended,
    /// Keeps going.
    StillGoing,
    /// On its waiting list.
    WaitingList,
    /// Decided against it.
    Declined,
    /// It did not suit them.
    NotSuitable,
    /// The service has closed.
    ServiceClosed,
}

impl From<ConnectionStatus> for CoreConnection {
    fn from(c: ConnectionStatus) -> Self {
        match c {
            ConnectionStatus::Suggested => CoreConnection::Suggested,
            ConnectionStatus::Contacted => CoreConnection::Contacted,
            ConnectionStatus::Attended => CoreConnection::Attended,
            ConnectionStatus::StillGoing => CoreConnection::StillGoing,
            ConnectionStatus::WaitingList => CoreConnection::WaitingList,
            ConnectionStatus::Declined => CoreConnection::Declined,
            ConnectionStatus::NotSuitable => CoreConnection::NotSuitable,
            ConnectionStatus::ServiceClosed => CoreConnection::ServiceClosed,
        }
    }
}

impl From<CoreConnection> for ConnectionStatus {
    fn from(c: CoreConnection) -> Self {
        match c {
            CoreConnection::Suggested => ConnectionStatus::Suggested,
            CoreConnection::Contacted => ConnectionStatus::Contacted,
            CoreConnection::Attended => ConnectionStatus::Attended,
            CoreConnection::StillGoing => ConnectionStatus::StillGoing,
            CoreConnection::WaitingList => ConnectionStatus::WaitingList,
            CoreConnection::Declined => ConnectionStatus::Declined,
            CoreConnection::NotSuitable => ConnectionStatus::NotSuitable,
            CoreConnection::ServiceClosed => ConnectionStatus::ServiceClosed,
        }
    }
}

/// One dated entry of a step's connection to its community asset.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ConnectionEventView {
    /// Where it stood from this day.
    pub status: ConnectionStatus,
    /// The day (YYYY-MM-DD).
    pub on: String,
    /// Who recorded it.
    pub by: String,
    /// When it was recorded (ms since the Unix epoch).
    pub at_ms: i64,
}

fn connection_view(e: ConnectionEvent) -> ConnectionEventView {
    ConnectionEventView {
        status: e.status.into(),
        on: holdfast_core::model::doc::format_date(e.on),
        by: e.by,
        at_ms: e.at,
    }
}

/// Demand for one community asset from the plans on this device: each person counted once,
/// at their latest connection to it.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct AssetDemandView {
    /// The asset.
    pub asset: AssetRef,
    /// Its name, when its directory is on this device.
    pub name: Option<String>,
    /// People connected to it in any way.
    pub people: u32,
    /// Suggested, not yet contacted.
    pub suggested: u32,
    /// Contacted.
    pub contacted: u32,
    /// Attended or still going.
    pub attending: u32,
    /// On its waiting list.
    pub waiting_list: u32,
    /// Declined it.
    pub declined: u32,
    /// Found it not suitable.
    pub not_suitable: u32,
    /// Were connected when it closed.
    pub service_closed: u32,
}

fn demand_view(d: AssetDemand) -> AssetDemandView {
    AssetDemandView {
        asset: AssetRef {
            directory_id: d.directory.to_string(),
            asset_id: d.asset.to_string(),
        },
        name: d.name,
        people: d.people,
        suggested: d.suggested,
        contacted: d.contacted,
        attending: d.attending,
        waiting_list: d.waiting_list,
        declined: d.declined,
        not_suitable: d.not_suitable,
        service_closed: d.service_closed,
    }
}

/// Where a goal stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum GoalStatus {
    /// Not begun.
    NotStarted,
    /// Under way.
    InProgress,
    /// Done.
    Achieved,
    /// Put aside for now.
    Paused,
    /// No longer wanted.
    NoLongerRelevant,
}

impl From<GoalStatus> for CoreGoalStatus {
    fn from(g: GoalStatus) -> Self {
        match g {
            GoalStatus::NotStarted => CoreGoalStatus::NotStarted,
            GoalStatus::InProgress => CoreGoalStatus::InProgress,
            GoalStatus::Achieved => CoreGoalStatus::Achieved,
            GoalStatus::Paused => CoreGoalStatus::Paused,
            GoalStatus::NoLongerRelevant => CoreGoalStatus::NoLongerRelevant,
        }
    }
}

impl From<CoreGoalStatus> for GoalStatus {
    fn from(g: CoreGoalStatus) -> Self {
        match g {
            CoreGoalStatus::NotStarted => GoalStatus::NotStarted,
            CoreGoalStatus::InProgress => GoalStatus::InProgress,
            CoreGoalStatus::Achieved => GoalStatus::Achieved,
            CoreGoalStatus::Paused => GoalStatus::Paused,
            CoreGoalStatus::NoLongerRelevant => GoalStatus::NoLongerRelevant,
        }
    }
}

/// A goal, in the patient's own words.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct GoalView {
    /// Its id.
    pub goal_id: String,
    /// The goal as the patient put it.
    pub text: String,
    /// Where it stands.
    pub status: GoalStatus,
    /// When it was added (ms since the Unix epoch).
    pub created_at_ms: i64,
}

/// A community asset in a directory (from `search_directory`'s hits).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct AssetRef {
    /// The directory.
    pub directory_id: String,
    /// The asset in it.
    pub asset_id: String,
}

impl AssetRef {
    fn into_core(self) -> Result<CoreAssetRef> {
        Ok(CoreAssetRef {
            directory: parse_id("directory", &self.directory_id)?,
            asset: parse_item_id::<AssetId>("asset", &self.asset_id)?,
        })
    }
}

/// A step to add, with everything the core takes.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct StepInput {
    /// What to do (required).
    pub text: String,
    /// Who does it.
    pub owner: StepOwner,
    /// By when (YYYY-MM-DD).
    #[uniffi(default)]
    pub due: Option<String>,
    /// The goal it serves (a goal of the same plan).
    #[uniffi(default)]
    pub goal_id: Option<String>,
    /// A community asset it involves.
    #[uniffi(default)]
    pub asset: Option<AssetRef>,
}

/// A step of the plan.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct StepView {
    /// Its id.
    pub step_id: String,
    /// What.
    pub text: String,
    /// Who does it.
    pub owner: StepOwner,
    /// By when (YYYY-MM-DD).
    pub due: Option<String>,
    /// Ticked off.
    pub done: bool,
    /// The goal it serves.
    pub goal_id: Option<String>,
    /// A community asset it involves.
    pub asset: Option<AssetRef>,
    /// The connection to that asset over time, oldest first; the last says where it
    /// stands (linking a step records "suggested"). Empty without an asset.
    pub connection: Vec<ConnectionEventView>,
    /// When it was added (ms since the Unix epoch).
    pub created_at_ms: i64,
    /// The plan's copy of the asset's listing: what the patient's phone shows, since it
    /// cannot read the directory. Null without an asset, or for a step linked before
    /// copies were kept (until `refresh_plan_assets`).
    #[uniffi(default)]
    pub asset_details: Option<AssetDetailsView>,
}

/// A step's copy of its community asset's listing.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct AssetDetailsView {
    /// The asset's name.
    pub name: String,
    /// When it runs ("Tuesdays 10:00-12:00").
    pub when: Option<String>,
    /// Where: address and postcode, one line.
    pub place: Option<String>,
    /// Contact phone.
    pub phone: Option<String>,
    /// What it costs.
    pub cost: Option<String>,
    /// Its web page.
    pub url: Option<String>,
    /// The day the listing was last checked with the provider (YYYY-MM-DD).
    pub checked: Option<String>,
}

fn details_view(d: AssetDetails) -> AssetDetailsView {
    AssetDetailsView {
        name: d.name,
        when: d.when,
        place: d.place,
        phone: d.phone,
        cost: d.cost,
        url: d.url,
        checked: d.checked.map(format_date),
    }
}

/// The plan has ended (its case was closed).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct PlanEndedView {
    /// The day it ended (YYYY-MM-DD).
    pub on: String,
    /// How the patient can come back.
    pub how_to_come_back: String,
}

/// How `render_plan` lays the plan out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum RenderStyle {
    /// For printing: lines of at most 40 characters, headings in capitals.
    LargePrint,
    /// For an SMS: compact, no markup (its own words in ASCII punctuation; the plan's text
    /// as written).
    PlainText,
}

impl From<RenderStyle> for CoreRenderStyle {
    fn from(s: RenderStyle) -> Self {
        match s {
            RenderStyle::LargePrint => CoreRenderStyle::LargePrint,
            RenderStyle::PlainText => CoreRenderStyle::PlainText,
        }
    }
}

/// What `refresh_plan_assets` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Record)]
pub struct AssetRefreshView {
    /// Steps whose copy changed.
    pub updated: u32,
    /// Steps already up to date.
    pub unchanged: u32,
    /// Steps whose directory or asset is not on this device (their copy is kept).
    pub missing: u32,
}

fn refresh_view(r: AssetRefresh) -> AssetRefreshView {
    let n = |v: usize| u32::try_from(v).unwrap_or(u32::MAX);
    AssetRefreshView {
        updated: n(r.updated),
        unchanged: n(r.unchanged),
        missing: n(r.missing),
    }
}

/// The plan as the plan screen shows it.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct PlanView {
    /// The plan.
    pub plan_id: String,
    /// What matters to me, in the patient's words.
    pub what_matters: String,
    /// Goals' texts.
    pub goals: Vec<String>,
    /// Steps.
    pub steps: Vec<StepView>,
    /// Comments (the patient's and the link worker's).
    pub comments: Vec<CommentView>,
    /// Goals with their ids and status, in the order of `goals`.
    pub goal_details: Vec<GoalView>,
    /// How to get back in touch with the link worker.
    pub get_back_in_touch: String,
    /// About the link worker (name, role, how to reach them), copied into the plan.
    #[uniffi(default)]
    pub about_link_worker: String,
    /// Out-of-hours and crisis wording, copied from the team (empty in a plan made before
    /// it was copied: `render_plan` then gives the default wording).
    #[uniffi(default)]
    pub out_of_hours: String,
    /// When the link worker works, in words ("Monday to Friday, 9am to 5pm", UK time);
    /// null when the plan carries no working hours.
    #[uniffi(default)]
    pub working_hours: Option<String>,
    /// Set when the case was closed: "This plan has ended — how to come back".
    #[uniffi(default)]
    pub ended: Option<PlanEndedView>,
}

#[uniffi::export]
impl HoldfastDevice {
    /// The action plan.
    pub fn action_plan(&self, plan_id: String) -> Result<PlanView> {
        let id: DocumentId = parse_id("plan", &plan_id)?;
        let plan = self.store()?.action_plan(id)?;
        Ok(PlanView {
            plan_id,
            what_matters: plan.what_matters,
            goals: plan.goals.iter().map(|g| g.text.clone()).collect(),
            goal_details: plan
                .goals
                .into_iter()
                .map(|g| GoalView {
                    goal_id: g.id.to_string(),
                    text: g.text,
                    status: g.status.into(),
                    created_at_ms: g.created_at,
                })
                .collect(),
            get_back_in_touch: plan.get_back_in_touch,
            about_link_worker: plan.about_link_worker,
            out_of_hours: plan.out_of_hours,
            working_hours: plan.working_hours.map(|h| h.describe()),
            ended: plan.ended.map(|e| PlanEndedView {
                on: format_date(e.on),
                how_to_come_back: e.how_to_come_back,
            }),
            steps: plan
                .steps
                .into_iter()
                .map(|s| StepView {
                    step_id: s.id.to_string(),
                    text: s.text,
                    owner: owner_from_core(s.owner),
                    due: s.due.map(holdfast_core::model::doc::format_date),
                    done: s.done,
                    goal_id: s.goal.map(|g| g.to_string()),
                    asset: s.asset.map(|a| AssetRef {
                        directory_id: a.directory.to_string(),
                        asset_id: a.asset.to_string(),
                    }),
                    connection: s.connection.into_iter().map(connection_view).collect(),
                    created_at_ms: s.created_at,
                    asset_details: s.asset_details.map(details_view),
                })
                .collect(),
            comments: plan
                .comments
                .into_iter()
                .map(|c| CommentView {
                    comment_id: c.id.to_string(),
                    at_ms: c.at,
                    by: c.by,
                    text: c.text,
                })
                .collect(),
        })
    }

    /// Sets "what matters to me".
    pub fn set_what_matters(&self, plan_id: String, text: String) -> Result<()> {
        let id: DocumentId = parse_id("plan", &plan_id)?;
        Ok(self.store()?.set_what_matters(id, &text)?)
    }

    /// Adds a step (returns its id).
    pub fn add_step(
        &self,
        plan_id: String,
        text: String,
        owner: StepOwner,
        due: Option<String>,
    ) -> Result<String> {
        let id: DocumentId = parse_id("plan", &plan_id)?;
        let step = NewStep {
            goal: None,
            text,
            owner: owner_to_core(owner)?,
            due: due
                .map(|d| holdfast_core::model::doc::parse_date(&d))
                .transpose()?,
            asset: None,
        };
        Ok(self.store()?.add_step(id, &step)?.to_string())
    }

    /// Records where the person's connection to a step's community asset stands from `on`
    /// (YYYY-MM-DD; today when null; never later than today): the link worker's or the
    /// patient's word, dated and by whom. `InvalidInput` for a step that links no asset.
    #[uniffi::method(default(on = None))]
    pub fn record_connection(
        &self,
        plan_id: String,
        step_id: String,
        status: ConnectionStatus,
        on: Option<String>,
    ) -> Result<()> {
        let id: DocumentId = parse_id("plan", &plan_id)?;
        let step: StepId = parse_item_id("step", &step_id)?;
        let on = date_arg(on)?;
        self.store()?
            .record_connection(id, step, status.into(), on)?;
        Ok(())
    }

    /// Demand for each community asset (of `directory_id`, or every directory) from the
    /// plans on this device: people connected, attending, waiting, declined. Most
    /// demanded first.
    #[uniffi::method(default(directory_id = None))]
    pub fn asset_demand(&self, directory_id: Option<String>) -> Result<Vec<AssetDemandView>> {
        let dir: Option<DocumentId> = directory_id
            .map(|d| parse_id("directory", &d))
            .transpose()?;
        Ok(self
            .store()?
            .asset_demand(dir)?
            .into_iter()
            .map(demand_view)
            .collect())
    }

    /// Ticks a step off (or back on).
    pub fn set_step_done(&self, plan_id: String, step_id: String, done: bool) -> Result<()> {
        let id: DocumentId = parse_id("plan", &plan_id)?;
        let step: StepId = parse_item_id("step", &step_id)?;
        Ok(self.store()?.set_step_done(id, step, done)?)
    }

    /// Adds a step with everything the core takes: the goal it serves and a directory
    /// asset it involves (returns its id). `add_step` is the short form.
    pub fn add_plan_step(&self, plan_id: String, step: StepInput) -> Result<String> {
        let id: DocumentId = parse_id("plan", &plan_id)?;
        let new = NewStep {
            goal: step
                .goal_id
                .map(|g| parse_item_id::<GoalId>("goal", &g))
                .transpose()?,
            text: step.text,
            owner: owner_to_core(step.owner)?,
            due: date_arg(step.due)?,
            asset: step.asset.map(AssetRef::into_core).transpose()?,
        };
        Ok(self.store()?.add_step(id, &new)?.to_string())
    }

    /// Adds a goal in the patient's words (returns its id; it starts not started).
    pub fn add_goal(&self, plan_id: String, text: String) -> Result<String> {
        let id: DocumentId = parse_id("plan", &plan_id)?;
        Ok(self.store()?.add_goal(id, &text)?.to_string())
    }

    /// Rewords a goal (concurrent edits of the same words both survive).
    pub fn edit_goal(&self, plan_id: String, goal_id: String, text: String) -> Result<()> {
        let id: DocumentId = parse_id("plan", &plan_id)?;
        let goal: GoalId = parse_item_id("goal", &goal_id)?;
        Ok(self.store()?.edit_goal(id, goal, &text)?)
    }

    /// Moves a goal to `status`.
    pub fn set_goal_status(
        &self,
        plan_id: String,
        goal_id: String,
        status: GoalStatus,
    ) -> Result<()> {
        let id: DocumentId = parse_id("plan", &plan_id)?;
        let goal: GoalId = parse_item_id("goal", &goal_id)?;
        Ok(self.store()?.set_goal_status(id, goal, status.into())?)
    }

    /// Sets how the patient gets back in touch with their link worker.
    pub fn set_get_back_in_touch(&self, plan_id: String, text: String) -> Result<()> {
        let id: DocumentId = parse_id("plan", &plan_id)?;
        Ok(self.store()?.set_get_back_in_touch(id, &text)?)
    }

    /// Adds a comment to the plan (the patient's own words, or the link worker's).
    pub fn add_plan_comment(&self, plan_id: String, text: String) -> Result<()> {
        let id: DocumentId = parse_id("plan", &plan_id)?;
        self.store()?.add_plan_comment(id, &text)?;
        Ok(())
    }

    /// The plan as the patient reads it away from the app, without ids: large print to
    /// print, plain text for an SMS. The same plan on the same day gives the same text.
    pub fn render_plan(&self, plan_id: String, style: RenderStyle) -> Result<String> {
        let id: DocumentId = parse_id("plan", &plan_id)?;
        let mut store = self.store()?;
        let plan = store.action_plan(id)?;
        Ok(plan_render::render_plan(&plan, style.into(), store.today()))
    }

    /// What to tell a patient who comments at `at_ms` (ms since the Unix epoch) outside
    /// their link worker's working hours (UK time; bank holidays are not known): when the
    /// comment will be read, then the out-of-hours wording. Null within working hours.
    pub fn comment_notice(&self, plan_id: String, at_ms: i64) -> Result<Option<String>> {
        let id: DocumentId = parse_id("plan", &plan_id)?;
        let plan = self.store()?.action_plan(id)?;
        Ok(plan_render::comment_notice(&plan, at_ms))
    }

    /// Copies the current directory listing of every linked asset into its step, writing
    /// only what changed. Steps whose directory is not on this device keep their copy.
    pub fn refresh_plan_assets(&self, plan_id: String) -> Result<AssetRefreshView> {
        let id: DocumentId = parse_id("plan", &plan_id)?;
        Ok(refresh_view(self.store()?.refresh_plan_assets(id)?))
    }

    /// Copies the current listing of one step's asset into it; true when anything changed.
    /// `InvalidInput` for a step without an asset, `NotFound` when its directory is not on
    /// this device.
    pub fn refresh_step_asset(&self, plan_id: String, step_id: String) -> Result<bool> {
        let id: DocumentId = parse_id("plan", &plan_id)?;
        let step: StepId = parse_item_id("step", &step_id)?;
        Ok(self.store()?.refresh_step_asset(id, step)?)
    }

    /// This device's "about your link worker" text, if set.
    pub fn about_link_worker(&self) -> Result<Option<String>> {
        Ok(self.store()?.about_link_worker()?)
    }

    /// Sets this device's "about your link worker" text (name, role, how to reach you; ""
    /// clears it; at most 2,000 bytes). New plans carry it; with `plan_id`, it is copied
    /// into that plan now too (with the team's wording, as `refresh_plan_contact`). The
    /// plan is checked first: a bad id changes nothing.
    #[uniffi::method(default(plan_id = None))]
    pub fn set_about_link_worker(&self, text: String, plan_id: Option<String>) -> Result<()> {
        let plan: Option<DocumentId> = plan_id.map(|p| parse_id("plan", &p)).transpose()?;
        let mut store = self.store()?;
        if let Some(plan) = plan {
            store.action_plan(plan)?;
        }
        store.set_about_link_worker(&text)?;
        if let Some(plan) = plan {
            store.refresh_plan_contact(plan)?;
        }
        Ok(())
    }

    /// Copies into the plan this device's "about your link worker" text (an empty one too;
    /// only into the plan of a case this device holds, or a plan without one) and the
    /// team's out-of-hours wording and working hours (only when a setting is in force
    /// here: without the team's settings the plan keeps its wording), writing only what
    /// changed. Staff only: `NotAllowed` on a patient's device.
    pub fn refresh_plan_contact(&self, plan_id: String) -> Result<()> {
        let id: DocumentId = parse_id("plan", &plan_id)?;
        Ok(self.store()?.refresh_plan_contact(id)?)
    }
}
