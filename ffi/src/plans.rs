//! The patient's action plan: what matters to them, goals, steps, comments. The same calls
//! serve the link worker's phone and the patient's own device.

use holdfast_core::model::action_plan::{NewStep, StepOwner as CoreOwner};
use holdfast_core::model::ids::{DocId, StepId};

use crate::cases::CommentView;
use crate::device::{HoldfastDevice, parse_id};
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

/// A step of the plan.
#[derive(Debug, Clone, uniffi::Record)]
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
}

/// The plan as the plan screen shows it.
#[derive(Debug, Clone, uniffi::Record)]
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
}

#[uniffi::export]
impl HoldfastDevice {
    /// The action plan.
    pub fn action_plan(&self, plan_id: String) -> Result<PlanView> {
        let id: DocId = parse_id("plan", &plan_id)?;
        let plan = self.store()?.action_plan(id)?;
        Ok(PlanView {
            plan_id,
            what_matters: plan.what_matters,
            goals: plan.goals.into_iter().map(|g| g.text).collect(),
            steps: plan
                .steps
                .into_iter()
                .map(|s| StepView {
                    step_id: s.id.to_string(),
                    text: s.text,
                    owner: owner_from_core(s.owner),
                    due: s.due.map(holdfast_core::model::doc::format_date),
                    done: s.done,
                })
                .collect(),
            comments: plan
                .comments
                .into_iter()
                .map(|c| CommentView {
                    at_ms: c.at,
                    by: c.by,
                    text: c.text,
                })
                .collect(),
        })
    }

    /// Sets "what matters to me".
    pub fn set_what_matters(&self, plan_id: String, text: String) -> Result<()> {
        let id: DocId = parse_id("plan", &plan_id)?;
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
        let id: DocId = parse_id("plan", &plan_id)?;
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

    /// Ticks a step off (or back on).
    pub fn set_step_done(&self, plan_id: String, step_id: String, done: bool) -> Result<()> {
        let id: DocId = parse_id("plan", &plan_id)?;
        let step: StepId = parse_id("step", &step_id)?;
        Ok(self.store()?.set_step_done(id, step, done)?)
    }

    /// Adds a comment to the plan (the patient's own words, or the link worker's).
    pub fn add_plan_comment(&self, plan_id: String, text: String) -> Result<()> {
        let id: DocId = parse_id("plan", &plan_id)?;
        self.store()?.add_plan_comment(id, &text)?;
        Ok(())
    }
}
