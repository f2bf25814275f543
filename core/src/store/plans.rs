//! The action-plan facade: reading a plan and the edits the link worker and the patient
//! make to it. A plan's only index rows are its steps' connections to community assets
//! (`asset_connections`), for each asset's demand.
//!
//! The patient's device reads nothing but its plan, so the store copies into it what the
//! patient needs from documents they cannot read: a linked asset's listing (when the step
//! is linked, and on a refresh), the team's out-of-hours wording and working hours, the
//! link worker's "about me" text (kept on their own device, in `meta`), and the plan's end
//! when its case is closed (written after the close, and mended when the store opens:
//! [`Store::repair_ended_plans`]).

use automerge::AutoCommit;
use rusqlite::OptionalExtension;

use super::Store;
use super::documents::Reindex;
use crate::model::action_plan::{
    self, ActionPlan, AssetDetails, AssetRef, AssetRefresh, ConnectionStatus, NewStep,
};
use crate::model::case_file::{self, CaseStatus};
use crate::model::doc::{Author, DocKind};
use crate::model::ids::{CommentId, ConnectionEventId, DocumentId, GoalId, StepId, StoredId};
use crate::{Error, Result};
use holdfast_protocol::Role;
use time::Date;

/// The `meta` row holding this device's "about your link worker" text.
const ABOUT_KEY: &str = "about_link_worker";

/// The `meta` row holding the time (ms, the store's clock) up to which every closed case's
/// plan was checked on open ([`Store::repair_ended_plans`]).
const PLANS_CHECKED_KEY: &str = "plans_ended_checked_at";

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
                Err(e @ (Error::Sqlite(_) | Error::StorageFull | Error::Io(_))) => return Err(e),
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

    /// Copies into the plan this device's "about your link worker" text and the team's
    /// out-of-hours wording and working hours ([`Store::team_plan_wording`]), writing only
    /// what changed. Staff only: [`Error::NotAllowed`] on a patient's device.
    ///
    /// - "About me" is copied (an empty one too: clearing it reaches the plan) only when
    ///   this device holds the plan's case (assigned to it, or to nobody), or when the plan
    ///   has none yet: a supervisor refreshing someone else's plan never puts their own
    ///   words in it.
    /// - The team's wording is copied only when a setting is in force on this device. A
    ///   device without the team settings (a new device before its first sync) or with
    ///   nobody's setting leaves the plan's wording as it is, never the defaults over the
    ///   team's.
    pub fn refresh_plan_contact(&mut self, id: DocumentId) -> Result<()> {
        // A patient's device has no current team: the plan's team says who this device is.
        let patient = [self.document_team(id)?, self.current_team]
            .into_iter()
            .flatten()
            .any(|team| matches!(self.role(team), Ok(Some(Role::Patient))));
        if patient {
            return Err(Error::NotAllowed(
                "the plan's contact details are refreshed by the team's staff".into(),
            ));
        }
        let plan = self.action_plan(id)?;
        let about = self.about_link_worker()?.unwrap_or_default();
        let copy_about = plan.about_link_worker != about
            && (plan.about_link_worker.is_empty() || self.holds_case_of_plan(id)?);
        let wording = self.team_plan_wording()?.set.map(|s| s.wording);
        self.plan_edit(id, "contact details refreshed", |d, _, _| {
            if copy_about {
                action_plan::set_about_link_worker(d, &about)?;
            }
            match &wording {
                Some(w) => action_plan::set_team_wording(d, &w.out_of_hours, &w.working_hours),
                None => Ok(()),
            }
        })
    }

    /// Whether this device holds the case whose plan is `plan`: its case file is here and
    /// the case is assigned to this device or to nobody.
    fn holds_case_of_plan(&self, plan: DocumentId) -> Result<bool> {
        let holder: Option<Option<Vec<u8>>> = self
            .conn
            .query_row(
                "SELECT assigned_to FROM caseload WHERE plan_id = ?1",
                [plan.as_bytes().as_slice()],
                |r| r.get(0),
            )
            .optional()?;
        Ok(match holder {
            None => false,
            Some(None) => true,
            Some(Some(device)) => device.as_slice() == self.author.device.as_bytes().as_slice(),
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
    /// (or a crash between the two) is logged and mended by [`Store::repair_ended_plans`]
    /// when the store next opens.
    pub(super) fn plan_follows_case(&mut self, case: DocumentId) {
        match self.try_plan_follows_case(case) {
            Ok(()) => {}
            Err(Error::NotFound { kind, .. }) => {
                tracing::debug!(case = %case, kind, "the case's plan is not on this device");
            }
            Err(e) => {
                tracing::warn!(case = %case, error = %e, "the plan did not follow the case's status; repaired when the store next opens");
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
        match status {
            Some(status) => self.plan_matches(plan, status == CaseStatus::Closed),
            None => Ok(()),
        }
    }

    /// Ends the plan when `closed`, else takes it out of "ended", writing only when it
    /// differs.
    fn plan_matches(&mut self, plan: DocumentId, closed: bool) -> Result<()> {
        let ended = {
            let (kind, doc) = self.load(plan)?;
            if *kind != DocKind::ActionPlan {
                return Err(Error::WrongDocumentKind {
                    expected: "action_plan",
                    found: kind.as_str().to_owned(),
                });
            }
            action_plan::is_ended(doc)
        };
        let today = self.today();
        match (closed, ended) {
            (true, false) => {
                self.plan_edit(plan, "plan ended", |d, _, _| action_plan::end(d, today))
            }
            (false, true) => {
                self.plan_edit(plan, "plan reopened", |d, _, _| action_plan::reopen(d))
            }
            _ => Ok(()),
        }
    }

    /// On open: ends the plan of every closed case (agreed, not contested) that is not
    /// ended, mending a close whose plan write failed or was cut short by a crash, a close
    /// that arrived by sync, and cases closed before plans had an end. Cheap: only closed
    /// cases whose case file or plan changed since the last check are looked at, found
    /// through indexes on when rows changed (so the cost follows what changed, not how many
    /// cases the device holds), and only their plans are loaded; a store that checked some
    /// records when (one `meta` row; an open with nothing to check writes nothing). Never
    /// fails: anything that goes wrong is logged, and checked again at the next open.
    pub(super) fn repair_ended_plans(&mut self) {
        if let Err(e) = self.try_repair_ended_plans() {
            tracing::warn!(error = %e, "plans of closed cases not checked; tried again at the next open");
        }
    }

    fn try_repair_ended_plans(&mut self) -> Result<()> {
        let since: i64 = self
            .conn
            .query_row(
                "SELECT value FROM meta WHERE key = ?1",
                [PLANS_CHECKED_KEY],
                |r| r.get::<_, Vec<u8>>(0),
            )
            .optional()?
            .and_then(|b| <[u8; 8]>::try_from(b.as_slice()).ok())
            .map_or(i64::MIN, i64::from_be_bytes);
        let checked_at = self.now_millis();
        let plans: Vec<(Vec<u8>, Vec<u8>)> = {
            // Two index ranges (schema version 15), not every closed case: closed cases
            // whose row changed, and plans that changed, each since the last check.
            let mut q = self.conn.prepare(
                "SELECT case_id, plan_id FROM caseload INDEXED BY caseload_closed_by_change
                 WHERE status = 'closed' AND updated_at >= ?1
                   AND NOT status_conflicted AND plan_id IS NOT NULL
                 UNION
                 SELECT c.case_id, c.plan_id
                 FROM documents d INDEXED BY documents_by_change
                 CROSS JOIN caseload c INDEXED BY caseload_by_plan ON c.plan_id = d.id
                 WHERE d.updated_at >= ?1 AND c.status = 'closed' AND NOT c.status_conflicted",
            )?;
            q.query_map([since], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<rusqlite::Result<_>>()?
        };
        let mut all_done = true;
        let checked_none = plans.is_empty();
        for (case, plan) in plans {
            let (Ok(case), Ok(plan)) = (
                DocumentId::from_stored(&case),
                DocumentId::from_stored(&plan),
            ) else {
                continue;
            };
            match self.plan_matches(plan, true) {
                Ok(()) => {}
                Err(Error::NotFound { .. }) => {
                    // Checked again when the plan arrives (its row's time changes).
                    tracing::debug!(case = %case, "the closed case's plan is not on this device");
                }
                Err(
                    e @ (Error::Sqlite(_)
                    | Error::StorageFull
                    | Error::Io(_)
                    | Error::StoreCorrupt(_)),
                ) => {
                    all_done = false;
                    tracing::warn!(case = %case, error = %e, "the closed case's plan not ended; tried again at the next open");
                }
                Err(e) => {
                    tracing::warn!(case = %case, error = %e, "the closed case's plan cannot be ended");
                }
            }
        }
        // Nothing to check writes nothing: an open with nothing new leaves the file as it was.
        if all_done && !checked_none {
            self.conn.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)",
                rusqlite::params![PLANS_CHECKED_KEY, checked_at.to_be_bytes().as_slice()],
            )?;
        }
        Ok(())
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
    use crate::Error;
    use crate::keystore::MemoryKeyStore;
    use crate::model::action_plan::{self, WorkingHours};
    use crate::model::case_file::{CaseStatus, ClosureReason, NewPatient};
    use crate::store::{Store, StoreConfig};
    use holdfast_protocol::Role;

    /// Ending the plan is a second write after the case file's change committed. When it
    /// fails, the close still succeeds (a host told "failed" would close twice), the case
    /// is closed, and the plan is as it was; the next open ends it.
    #[test]
    fn a_failed_plan_write_never_fails_the_close_and_the_next_open_mends_it() {
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
        assert_eq!(status.agreed(), Some(&CaseStatus::Closed));
        assert_eq!(store.action_plan(ids.plan_id).unwrap().ended, None);
        drop(store);

        // Still failing: the open succeeds, and the plan is as it was.
        let store = Store::open(&config, &keys).expect("a failed repair never fails the open");
        drop(store);
        let mut store = Store::open(&config, &keys).unwrap();
        assert_eq!(store.action_plan(ids.plan_id).unwrap().ended, None);
        store
            .conn
            .execute_batch("DROP TRIGGER no_plan_change")
            .unwrap();
        drop(store);

        // Mended on the next open: the case closed, the plan ended, once.
        let mut store = Store::open(&config, &keys).unwrap();
        assert_eq!(
            store.case_file(ids.case_id).unwrap().status.agreed(),
            Some(&CaseStatus::Closed)
        );
        let ended = store.action_plan(ids.plan_id).unwrap().ended;
        assert!(ended.is_some(), "the plan is ended on reopen");
        let changes = store.history(ids.plan_id).unwrap().len();
        drop(store);
        let mut store = Store::open(&config, &keys).unwrap();
        assert_eq!(store.action_plan(ids.plan_id).unwrap().ended, ended);
        assert_eq!(store.history(ids.plan_id).unwrap().len(), changes);
    }

    /// A case closed before plans had an end (or whose plan write was lost) and already
    /// checked once: the repair still finds it when the case changes again, and leaves a
    /// contested status alone.
    #[test]
    fn the_repair_on_open_ends_only_agreed_closed_cases_plans() {
        let dir = tempfile::tempdir().unwrap();
        let config = StoreConfig::new(dir.path(), "Sam");
        let keys = MemoryKeyStore::default();
        let mut store = Store::create(&config, &keys).unwrap();
        let open = store.create_case_file(NewPatient::named("Ada")).unwrap();
        let closed = store.create_case_file(NewPatient::named("Bea")).unwrap();
        let contested = store.create_case_file(NewPatient::named("Cy")).unwrap();
        store
            .close_case(closed.case_id, ClosureReason::GoalsMet, None)
            .unwrap();
        store
            .close_case(contested.case_id, ClosureReason::GoalsMet, None)
            .unwrap();
        // As if the plans' writes were lost: take the end out of both.
        for plan in [closed.plan_id, contested.plan_id] {
            store
                .plan_edit(plan, "test: end lost", |d, _, _| {
                    crate::model::action_plan::reopen(d)
                })
                .unwrap();
            assert_eq!(store.action_plan(plan).unwrap().ended, None);
        }
        // The index says the contested one is contested.
        store
            .conn
            .execute(
                "UPDATE caseload SET status_conflicted = 1 WHERE case_id = ?1",
                [contested.case_id.as_bytes().as_slice()],
            )
            .unwrap();
        drop(store);
        let mut store = Store::open(&config, &keys).unwrap();
        assert!(store.action_plan(closed.plan_id).unwrap().ended.is_some());
        assert_eq!(store.action_plan(contested.plan_id).unwrap().ended, None);
        assert_eq!(store.action_plan(open.plan_id).unwrap().ended, None);
    }

    /// A device without the team's settings (a patient's phone, a new staff device before
    /// its first sync), or where nobody has set them, leaves the plan's wording as it is.
    #[test]
    fn a_refresh_without_a_setting_in_force_keeps_the_plans_wording() {
        let dir = tempfile::tempdir().unwrap();
        let config = StoreConfig::new(dir.path(), "Sam");
        let keys = MemoryKeyStore::default();
        let mut store = Store::create(&config, &keys).unwrap();
        let ids = store.create_case_file(NewPatient::named("Ada")).unwrap();
        // The team's wording, as another device wrote it into the plan.
        let hours: WorkingHours = "Mon-Thu 08:30-16:30".parse().unwrap();
        store
            .plan_edit(ids.plan_id, "test: the team's wording", |d, _, _| {
                action_plan::set_team_wording(d, "Crisis line: 0800 000 0000.", &hours)
            })
            .unwrap();
        assert!(store.team_plan_wording().unwrap().set.is_none());
        let heads = store.heads(ids.plan_id).unwrap();
        store.refresh_plan_contact(ids.plan_id).unwrap();
        let plan = store.action_plan(ids.plan_id).unwrap();
        assert_eq!(plan.out_of_hours, "Crisis line: 0800 000 0000.");
        assert_eq!(plan.working_hours, Some(hours));
        assert_eq!(store.heads(ids.plan_id).unwrap(), heads, "nothing written");

        // In a team with nobody's setting in force (before the first sync): the same.
        store.create_team("https://relay.invalid").unwrap();
        assert!(store.team_plan_wording().unwrap().set.is_none());
        store.refresh_plan_contact(ids.plan_id).unwrap();
        assert_eq!(
            store.action_plan(ids.plan_id).unwrap().out_of_hours,
            "Crisis line: 0800 000 0000."
        );
    }

    /// A patient's device is refused, and writes nothing.
    #[test]
    fn a_patients_device_may_not_refresh_the_plans_contact_details() {
        let dir = tempfile::tempdir().unwrap();
        let config = StoreConfig::new(dir.path(), "Ada");
        let keys = MemoryKeyStore::default();
        let mut store = Store::create(&config, &keys).unwrap();
        let ids = store.create_case_file(NewPatient::named("Ada")).unwrap();
        let team = store.create_team("https://relay.invalid").unwrap();
        store.access.get_mut(&team).unwrap().role = Some(Role::Patient);
        let heads = store.heads(ids.plan_id).unwrap();
        assert!(matches!(
            store.refresh_plan_contact(ids.plan_id),
            Err(Error::NotAllowed(_))
        ));
        assert_eq!(store.heads(ids.plan_id).unwrap(), heads);
    }

    /// Clearing "about me" reaches the plan of a case this device holds; a plan of a case
    /// held by someone else keeps its link worker's words, unless it has none.
    #[test]
    fn about_me_is_copied_only_into_plans_of_cases_held_here_or_plans_without_one() {
        let dir = tempfile::tempdir().unwrap();
        let config = StoreConfig::new(dir.path(), "Sam");
        let keys = MemoryKeyStore::default();
        let mut store = Store::create(&config, &keys).unwrap();
        store.set_about_link_worker("I'm Sam.").unwrap();
        let mine = store.create_case_file(NewPatient::named("Ada")).unwrap();
        assert_eq!(
            store.action_plan(mine.plan_id).unwrap().about_link_worker,
            "I'm Sam."
        );
        store.set_about_link_worker("").unwrap();
        store.refresh_plan_contact(mine.plan_id).unwrap();
        assert_eq!(
            store.action_plan(mine.plan_id).unwrap().about_link_worker,
            ""
        );

        // Someone else's case (held by another device, seen through oversight).
        store
            .set_about_link_worker("I'm Sam, the supervisor.")
            .unwrap();
        let theirs = store.create_case_file(NewPatient::named("Bea")).unwrap();
        let other = [9_u8; 16];
        store
            .conn
            .execute(
                "UPDATE caseload SET assigned_to = ?2 WHERE case_id = ?1",
                rusqlite::params![theirs.case_id.as_bytes().as_slice(), other.as_slice()],
            )
            .unwrap();
        store
            .plan_edit(theirs.plan_id, "test: their words", |d, _, _| {
                action_plan::set_about_link_worker(d, "I'm Kim, your link worker.")
            })
            .unwrap();
        store.refresh_plan_contact(theirs.plan_id).unwrap();
        assert_eq!(
            store.action_plan(theirs.plan_id).unwrap().about_link_worker,
            "I'm Kim, your link worker."
        );
        // Without any words of their own, the plan takes this device's.
        store
            .plan_edit(theirs.plan_id, "test: words cleared", |d, _, _| {
                action_plan::set_about_link_worker(d, "")
            })
            .unwrap();
        store.refresh_plan_contact(theirs.plan_id).unwrap();
        assert_eq!(
            store.action_plan(theirs.plan_id).unwrap().about_link_worker,
            "I'm Sam, the supervisor."
        );
    }
}
