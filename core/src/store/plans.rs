//! The action-plan facade: reading a plan and the edits the link worker and the patient
//! make to it. A plan's only index rows are its steps' connections to community assets
//! (`asset_connections`), for each asset's demand.

use automerge::AutoCommit;

use super::Store;
use super::documents::Reindex;
use crate::model::action_plan::{self, ActionPlan, ConnectionStatus, NewStep};
use crate::model::doc::{Author, DocKind};
use crate::model::ids::{CommentId, ConnectionEventId, DocumentId, GoalId, StepId};
use crate::{Error, Result};
use time::Date;

impl Store {
    /// Reads an action plan.
    pub fn action_plan(&mut self, id: DocumentId) -> Result<ActionPlan> {
        let (kind, doc) = self.load(id)?;
        if *kind != DocKind::ActionPlan {
            return Err(Error::WrongDocumentKind {
                expected: "action_plan",
                found: kind.as_str().to_owned(),
            });
        }
        action_plan::read(doc)
    }

    fn plan_edit<T>(
        &mut self,
        id: DocumentId,
        what: &str,
        action: impl FnOnce(&mut AutoCommit, &Author, i64) -> Result<T>,
    ) -> Result<T> {
        self.edit(id, DocKind::ActionPlan, what, action, |_| Reindex::Nothing)
    }

    /// Sets "what matters to me".
    pub fn set_what_matters(&mut self, id: DocumentId, text: &str) -> Result<()> {
        self.plan_edit(id, "what matters updated", |d, _, _| {
            action_plan::set_what_matters(d, text)
        })
    }

    /// Sets how to get back in touch.
    pub fn set_get_back_in_touch(&mut self, id: DocumentId, text: &str) -> Result<()> {
        self.plan_edit(id, "get back in touch updated", |d, _, _| {
            action_plan::set_get_back_in_touch(d, text)
        })
    }

    /// Adds a goal.
    pub fn add_goal(&mut self, id: DocumentId, text: &str) -> Result<GoalId> {
        self.plan_edit(id, "goal added", |d, _, at| {
            action_plan::add_goal(d, text, at)
        })
    }

    /// Rewords a goal.
    pub fn edit_goal(&mut self, id: DocumentId, goal: GoalId, text: &str) -> Result<()> {
        self.plan_edit(id, "goal reworded", |d, _, _| {
            action_plan::edit_goal(d, goal, text)
        })
    }

    /// Changes a goal's status.
    pub fn set_goal_status(
        &mut self,
        id: DocumentId,
        goal: GoalId,
        status: action_plan::GoalStatus,
    ) -> Result<()> {
        let what = format!("goal status set to {status}");
        self.plan_edit(id, &what, |d, _, _| {
            action_plan::set_goal_status(d, goal, status)
        })
    }

    /// Adds a step; one linked to a community asset starts its connection as suggested.
    pub fn add_step(&mut self, id: DocumentId, step: &NewStep) -> Result<StepId> {
        let today = self.today();
        let reindex = if step.asset.is_some() {
            Reindex::Case
        } else {
            Reindex::Nothing
        };
        self.edit(
            id,
            DocKind::ActionPlan,
            "step added",
            |d, a, at| action_plan::add_step(d, a, step, today, at),
            |_| reindex,
        )
    }

    /// Records where a step's connection to its community asset stands from `on` (today
    /// when `None`; never later than today): the link worker's or the patient's word.
    pub fn record_connection(
        &mut self,
        id: DocumentId,
        step: StepId,
        status: ConnectionStatus,
        on: Option<Date>,
    ) -> Result<ConnectionEventId> {
        let today = self.today();
        let what = format!("connection: {status}");
        self.edit(
            id,
            DocKind::ActionPlan,
            &what,
            |d, a, at| {
                action_plan::record_connection(d, a, step, status, on.unwrap_or(today), today, at)
            },
            |_| Reindex::Case,
        )
    }

    /// Ticks a step off.
    pub fn set_step_done(&mut self, id: DocumentId, step: StepId, done: bool) -> Result<()> {
        let what = if done { "step done" } else { "step reopened" };
        self.plan_edit(id, what, |d, _, _| {
            action_plan::set_step_done(d, step, done)
        })
    }

    /// Adds a comment to the plan.
    pub fn add_plan_comment(&mut self, id: DocumentId, text: &str) -> Result<CommentId> {
        self.plan_edit(id, "comment added", |d, a, at| {
            action_plan::add_comment(d, a, text, at)
        })
    }
}
