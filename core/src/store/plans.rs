//! The action-plan facade: reading a plan and the edits the link worker and the patient
//! make to it. A plan's only index rows are its steps' connections to community assets
//! (`asset_connections`), for each asset's demand.
//!
//! The patient's device reads nothing but its plan, so the store copies into it what the
//! patient needs from documents they cannot read: a linked asset's listing (when the step
//! is linked, and on a refresh), the team's out-of-hours wording and working hours, the
//! link worker's "about me" text (kept on their own device, in `meta`), and the plan's end
//! when its case is closed.

use automerge::AutoCommit;
use rusqlite::OptionalExtension;

use super::Store;
use super::documents::Reindex;
use crate::model::action_plan::{
    self, ActionPlan, AssetDetails, AssetRef, AssetRefresh, ConnectionStatus, NewStep,
};
use crate::model::case_file::{self, CaseStatus};
use crate::model::doc::{Author, DocKind};
use crate::model::ids::{CommentId, ConnectionEventId, DocumentId, GoalId, StepId};
use crate::{Error, Result};
use time::Date;

/// The `meta` row holding this device's "about your link worker" text.
const ABOUT_KEY: &str = "about_link_worker";

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

    /// Adds a step; one linked to a community asset starts its connection as suggested and
    /// carries a copy of the asset's listing (name, when, where, phone, cost, the day it
    /// was last checked), which the patient's device can read. The asset's directory must
    /// be on this device: [`Error::NotFound`] otherwise, and nothing is written.
    pub fn add_step(&mut self, id: DocumentId, step: &NewStep) -> Result<StepId> {
        let today = self.today();
        let (reindex, details) = match step.asset {
            Some(asset) => (Reindex::Case, Some(self.listing(asset)?)),
            None => (Reindex::Nothing, None),
        };
        self.edit(
            id,
            DocKind::ActionPlan,
            "step added",
            |d, a, at| {
                let step = action_plan::add_step(d, a, step, today, at)?;
                if let Some(details) = &details {
                    action_plan::set_asset_details(d, step, details)?;
                }
                Ok(step)
            },
            |_| reindex,
        )
    }

    /// The patient's copy of an asset's listing, from the directory on this device.
    fn listing(&mut self, asset: AssetRef) -> Result<AssetDetails> {
        let listing = self.asset(asset.directory, asset.asset)?;
        Ok(AssetDetails::from_asset(&listing.fields))
    }

    /// Copies the current listing of the asset `step` links into the step, writing only the
    /// fields that changed; `true` when anything did. [`Error::InvalidInput`] for a step
    /// that links no asset, [`Error::NotFound`] when its directory or asset is not on this
    /// device (the step keeps its copy).
    pub fn refresh_step_asset(&mut self, id: DocumentId, step: StepId) -> Result<bool> {
        let plan = self.action_plan(id)?;
        let s = plan
            .steps
            .iter()
            .find(|s| s.id == step)
            .ok_or(Error::NotFound {
                kind: "step",
                id: step.to_string(),
            })?;
        let asset = s.asset.ok_or_else(|| Error::InvalidInput {
            field: "step",
            reason: "it links no community asset".into(),
        })?;
        let details = self.listing(asset)?;
        if s.asset_details.as_ref() == Some(&details) {
            return Ok(false);
        }
        self.plan_edit(id, "step's asset details refreshed", |d, _, _| {
            action_plan::set_asset_details(d, step, &details)
        })?;
        Ok(true)
    }

    /// Copies the current listing of every linked asset into its step, in one change that
    /// writes only what changed. A step whose directory or asset is not on this device
    /// keeps its copy and is counted as missing.
    pub fn refresh_plan_assets(&mut self, id: DocumentId) -> Result<AssetRefresh> {
        let plan = self.action_plan(id)?;
        let mut out = AssetRefresh::default();
        let mut changed = Vec::new();
        for s in &plan.steps {
            let Some(asset) = s.asset else { continue };
            match self.listing(asset) {
                Ok(details) if s.asset_details.as_ref() == Some(&details) => out.unchanged += 1,
                Ok(details) => changed.push((s.id, details)),
                Err(e @ (Error::Sqlite(_) | Error::Io(_))) => return Err(e),
                Err(e) => {
                    tracing::debug!(plan = %id, step = %s.id, error = %e, "asset not on this device");
                    out.missing += 1;
                }
            }
        }
        out.updated = changed.len();
        if !changed.is_empty() {
            self.plan_edit(id, "asset details refreshed", |d, _, _| {
                for (step, details) in &changed {
                    action_plan::set_asset_details(d, *step, details)?;
                }
                Ok(())
            })?;
        }
        Ok(out)
    }

    /// This device's "about your link worker" text (name, role, how to reach them), if set.
    pub fn about_link_worker(&self) -> Result<Option<String>> {
        let v: Option<Vec<u8>> = self
            .conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [ABOUT_KEY], |r| {
                r.get(0)
            })
            .optional()?;
        Ok(v.map(|b| String::from_utf8_lossy(&b).into_owned())
            .filter(|s| !s.is_empty()))
    }

    /// Sets this device's "about your link worker" text (empty clears it; at most 2,000
    /// bytes). Plans created from now on carry it; [`Store::refresh_plan_contact`] copies it
    /// into an existing plan.
    pub fn set_about_link_worker(&mut self, text: &str) -> Result<()> {
        let text = text.trim();
        if text.len() > action_plan::MAX_CONTACT_TEXT {
            return Err(Error::InvalidInput {
                field: "about your link worker",
                reason: format!("longer than {} bytes", action_plan::MAX_CONTACT_TEXT),
            });
        }
        self.conn.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)",
            rusqlite::params![ABOUT_KEY, text.as_bytes()],
        )?;
        Ok(())
    }

    /// Copies into the plan this device's "about your link worker" text (when it has one)
    /// and the team's out-of-hours wording and working hours ([`Store::team_plan_wording`]),
    /// writing only what changed.
    pub fn refresh_plan_contact(&mut self, id: DocumentId) -> Result<()> {
        let about = self.about_link_worker()?;
        let wording = self.team_plan_wording()?.wording;
        self.plan_edit(id, "contact details refreshed", |d, _, _| {
            if let Some(about) = &about {
                action_plan::set_about_link_worker(d, about)?;
            }
            action_plan::set_team_wording(d, &wording.out_of_hours, &wording.working_hours)
        })
    }

    /// A new, uncommitted action plan carrying the team's wording and this device's "about
    /// your link worker" text.
    pub(super) fn new_action_plan(&mut self) -> Result<AutoCommit> {
        let about = self.about_link_worker()?;
        let wording = self.team_plan_wording()?.wording;
        let mut plan = action_plan::create(&self.author)?;
        if let Some(about) = &about {
            action_plan::set_about_link_worker(&mut plan, about)?;
        }
        action_plan::set_team_wording(&mut plan, &wording.out_of_hours, &wording.working_hours)?;
        Ok(plan)
    }

    /// After the case file `case` committed a status change: its plan ends when the case is
    /// closed, and stops being ended when it is open again (a contested status changes
    /// nothing). A second change to a second document, written after the first committed:
    /// it never fails the case's edit (the host would retry and record it twice). A failure
    /// is logged and mended by the case's next status change.
    pub(super) fn plan_follows_case(&mut self, case: DocumentId) {
        match self.try_plan_follows_case(case) {
            Ok(()) => {}
            Err(Error::NotFound { kind, .. }) => {
                tracing::debug!(case = %case, kind, "the case's plan is not on this device");
            }
            Err(e) => {
                tracing::warn!(case = %case, error = %e, "the plan did not follow the case's status; the case's next status change tries again");
            }
        }
    }

    fn try_plan_follows_case(&mut self, case: DocumentId) -> Result<()> {
        let (plan, status) = {
            let (_, doc) = self.load(case)?;
            let header = case_file::read_header(doc)?;
            (header.action_plan, header.status.agreed().copied())
        };
        let Some(plan) = plan else { return Ok(()) };
        let today = self.today();
        match status {
            Some(CaseStatus::Closed) => {
                self.plan_edit(plan, "plan ended", |d, _, _| action_plan::end(d, today))
            }
            Some(_) => self.plan_edit(plan, "plan reopened", |d, _, _| action_plan::reopen(d)),
            None => Ok(()),
        }
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

#[cfg(test)]
mod tests {
    use crate::keystore::MemoryKeyStore;
    use crate::model::case_file::{ClosureReason, NewPatient};
    use crate::store::{Store, StoreConfig};

    /// Ending the plan is a second write after the case file's change committed. When it
    /// fails, the close still succeeds (a host told "failed" would close twice), the case
    /// is closed, and the plan is as it was; the next status change writes it.
    #[test]
    fn a_failed_plan_write_never_fails_the_close_it_follows() {
        let dir = tempfile::tempdir().unwrap();
        let config = StoreConfig::new(dir.path(), "Sam");
        let keys = MemoryKeyStore::default();
        let mut store = Store::create(&config, &keys).unwrap();
        let ids = store.create_case_file(NewPatient::named("Ada")).unwrap();
        store
            .conn
            .execute_batch(&format!(
                "CREATE TRIGGER no_plan_change BEFORE INSERT ON changes
                 WHEN NEW.doc_id = X'{}'
                 BEGIN SELECT RAISE(ABORT, 'plan write refused'); END;",
                hex::encode(ids.plan_id.as_bytes())
            ))
            .unwrap();
        store
            .close_case(ids.case_id, ClosureReason::GoalsMet, None)
            .expect("the close succeeds although the plan write failed");
        let status = store.case_file(ids.case_id).unwrap().status;
        assert_eq!(
            status.agreed(),
            Some(&crate::model::case_file::CaseStatus::Closed)
        );
        assert_eq!(store.action_plan(ids.plan_id).unwrap().ended, None);
        drop(store);
        // Nothing half-written: after a reopen the case is closed, the plan not ended.
        let mut store = Store::open(&config, &keys).unwrap();
        assert_eq!(
            store.case_file(ids.case_id).unwrap().status.agreed(),
            Some(&crate::model::case_file::CaseStatus::Closed)
        );
        assert_eq!(store.action_plan(ids.plan_id).unwrap().ended, None);
    }
}
