//! The case-file facade: creating a case (with the patient's action plan), reading it, and
//! one method per thing a link worker records. Each is one change through the edit
//! pipeline, indexed as narrowly as it allows.

use automerge::AutoCommit;
use serde::{Deserialize, Serialize};
use time::Date;

use super::documents::Reindex;
use super::{CaseloadEntry, CaseloadFilter, Store, StoreEvent, index, oversight};
use crate::model::case_file::{
    self, CaseFile, CaseStatus, ConcernStatus, EscalationTarget, NewConcern, NewPatient,
    NewReferral, NewSession, NotCompletedReason, Patient, ReferralDecision,
};
use crate::model::doc::{self, Author, DocKind};
use crate::model::ids::{CommentId, ConcernId, DocumentId, MeasureId, ReferralId, SessionId};
use crate::model::measures::Instrument;
use crate::model::nhs_number::NhsNumber;
use crate::{Error, Result};

/// What [`Store::create_case_file_with`] and [`Store::update_patient_with`] do when a case
/// of the same team already has the patient's NHS number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IfDuplicate {
    /// Refuse, naming the existing case ([`Error::DuplicatePatient`]).
    #[default]
    Refuse,
    /// Create the new case anyway: the person creating it has checked it is deliberate.
    Create,
}

/// The ids of a newly created case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewCase {
    /// The case file.
    pub case_id: DocumentId,
    /// The patient's action plan.
    pub plan_id: DocumentId,
}

impl Store {
    /// Creates a case file and the patient's empty action plan, in one transaction. Refused
    /// with [`Error::DuplicatePatient`] when a case in the same team already has the
    /// patient's NHS number (a re-referral belongs on that case); see
    /// [`Store::create_case_file_with`] to create one deliberately.
    pub fn create_case_file(&mut self, patient: NewPatient) -> Result<NewCase> {
        self.create_case_file_with(patient, IfDuplicate::Refuse)
    }

    /// [`Store::create_case_file`], saying what to do when the NHS number is already on a
    /// case of the same team.
    pub fn create_case_file_with(
        &mut self,
        patient: NewPatient,
        if_duplicate: IfDuplicate,
    ) -> Result<NewCase> {
        if if_duplicate == IfDuplicate::Refuse
            && let Some(number) = &patient.nhs_number
            && let Some(existing) =
                index::case_by_nhs_number(&self.conn, number, self.current_team, None)?
        {
            return Err(Error::DuplicatePatient { existing });
        }
        let now = self.now_millis();
        let plan_id = DocumentId::random();
        let case_id = DocumentId::random();
        let mut plan = self.new_action_plan()?;
        doc::commit(&mut plan, &self.author, "action plan created", now);
        let mut case = case_file::create(&self.author, &patient, plan_id, now)?;
        doc::commit(&mut case, &self.author, "case file created", now);
        let view = case_file::read(&mut case)?;
        let tx = self.conn.transaction()?;
        Self::insert_new(
            &tx,
            self.current_team,
            plan_id,
            DocKind::ActionPlan,
            &mut plan,
            now,
        )?;
        Self::insert_new(
            &tx,
            self.current_team,
            case_id,
            DocKind::CaseFile,
            &mut case,
            now,
        )?;
        index::update_case(&tx, case_id, &view, now)?;
        oversight::update_summary(&tx, case_id, &case_file::read_summary(&mut case)?)?;
        tx.commit()?;
        self.docs
            .insert(plan_id, (DocKind::ActionPlan, plan), self.config.cache_docs);
        self.docs
            .insert(case_id, (DocKind::CaseFile, case), self.config.cache_docs);
        self.emit(plan_id, DocKind::ActionPlan);
        self.emit(case_id, DocKind::CaseFile);
        let _ = self.events.send(StoreEvent::LocalChange);
        Ok(NewCase { case_id, plan_id })
    }

    /// The case of the current team (or of no team yet) with this NHS number, from the
    /// index. With several (created deliberately, or added on two devices while apart),
    /// the first indexed on this device.
    pub fn find_case_by_nhs_number(&self, number: &NhsNumber) -> Result<Option<DocumentId>> {
        index::case_by_nhs_number(&self.conn, number, self.current_team, None)
    }

    /// Reads a whole case file.
    pub fn case_file(&mut self, id: DocumentId) -> Result<CaseFile> {
        let (kind, doc) = self.load(id)?;
        if *kind != DocKind::CaseFile {
            return Err(Error::WrongDocumentKind {
                expected: "case_file",
                found: kind.as_str().to_owned(),
            });
        }
        case_file::read(doc)
    }

    fn case_edit<T>(
        &mut self,
        id: DocumentId,
        what: &str,
        reindex: Reindex,
        action: impl FnOnce(&mut AutoCommit, &Author, i64) -> Result<T>,
    ) -> Result<T> {
        self.edit(id, DocKind::CaseFile, what, action, |_| reindex)
    }

    /// Updates the patient's details. Refused with [`Error::DuplicatePatient`] when the edit
    /// gives the case an NHS number already on another case of the same team (a typo, or
    /// the same person twice); see [`Store::update_patient_with`]. A case that already
    /// shares its number (made deliberately, or on two devices while apart) stays editable.
    pub fn update_patient(&mut self, id: DocumentId, patient: &Patient) -> Result<()> {
        self.update_patient_with(id, patient, IfDuplicate::Refuse)
    }

    /// [`Store::update_patient`], saying what to do when the NHS number is already on
    /// another case of the same team.
    pub fn update_patient_with(
        &mut self,
        id: DocumentId,
        patient: &Patient,
        if_duplicate: IfDuplicate,
    ) -> Result<()> {
        if if_duplicate == IfDuplicate::Refuse
            && let Some(number) = &patient.nhs_number
            && index::nhs_number_of(&self.conn, id)?.as_deref() != Some(number.as_str())
            && let Some(existing) =
                index::case_by_nhs_number(&self.conn, number, self.document_team(id)?, Some(id))?
        {
            return Err(Error::DuplicatePatient { existing });
        }
        self.case_edit(
            id,
            "patient details updated",
            Reindex::CaseHeader,
            |d, _, _| case_file::update_patient(d, patient),
        )
    }

    /// Adds a referral (a re-referral when the case is closed).
    pub fn add_referral(&mut self, id: DocumentId, referral: &NewReferral) -> Result<ReferralId> {
        let added = self.case_edit(id, "referral added", Reindex::CaseHeader, |d, a, at| {
            case_file::add_referral(d, a, referral, at)
        })?;
        // A re-referral reopens a closed case, and with it the plan.
        self.plan_follows_case(id);
        Ok(added)
    }

    /// Accepts or declines a referral.
    pub fn decide_referral(
        &mut self,
        id: DocumentId,
        referral: ReferralId,
        decision: &ReferralDecision,
    ) -> Result<()> {
        let what = match decision {
            ReferralDecision::Accepted => "referral accepted",
            ReferralDecision::Declined { .. } => "referral declined",
        };
        self.case_edit(id, what, Reindex::CaseHeader, |d, a, at| {
            case_file::decide_referral(d, a, referral, decision, at)
        })?;
        // Declining the only referral closes the case, and ends the plan.
        self.plan_follows_case(id);
        Ok(())
    }

    /// Declines a referral with a coded reason (docs/CODES.md) and, if given, the link
    /// worker's own words, which stay in the case file (the message back to the GP carries
    /// the code, never the words).
    pub fn decline_referral(
        &mut self,
        id: DocumentId,
        referral: ReferralId,
        code: case_file::DeclineReason,
        note: Option<&str>,
    ) -> Result<()> {
        let reason = note
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map_or_else(|| code.as_str().replace('_', " "), str::to_owned);
        self.case_edit(id, "referral declined", Reindex::CaseHeader, |d, a, at| {
            case_file::decide_referral(d, a, referral, &ReferralDecision::Declined { reason }, at)?;
            case_file::code_decline(d, referral, code)
        })?;
        self.plan_follows_case(id);
        Ok(())
    }

    /// Closes the case with a coded reason (docs/CODES.md) and, if given, the link
    /// worker's own words, which stay in the case file.
    pub fn close_case(
        &mut self,
        id: DocumentId,
        code: case_file::ClosureReason,
        note: Option<&str>,
    ) -> Result<()> {
        let what = format!("case closed ({code})");
        self.case_edit(id, &what, Reindex::CaseHeader, |d, a, at| {
            case_file::close_case(d, a, code, note, at)
        })?;
        // The plan shows it has ended and how to come back (never fails the close).
        self.plan_follows_case(id);
        Ok(())
    }

    /// Moves the case along its lifecycle.
    pub fn set_status(
        &mut self,
        id: DocumentId,
        to: CaseStatus,
        reason: Option<&str>,
    ) -> Result<()> {
        let what = format!("status set to {to}");
        self.case_edit(id, &what, Reindex::CaseHeader, |d, a, at| {
            case_file::set_status(d, a, to, reason, at)
        })?;
        self.plan_follows_case(id);
        Ok(())
    }

    /// Resolves a status conflict by choosing one of the competing values.
    pub fn resolve_status(&mut self, id: DocumentId, chosen: CaseStatus) -> Result<()> {
        let what = format!("status conflict resolved as {chosen}");
        self.case_edit(id, &what, Reindex::CaseHeader, |d, a, at| {
            case_file::resolve_status(d, a, chosen, at)
        })?;
        self.plan_follows_case(id);
        Ok(())
    }

    /// Records a session.
    pub fn record_session(&mut self, id: DocumentId, session: &NewSession) -> Result<SessionId> {
        self.case_edit(
            id,
            "session recorded",
            Reindex::SessionAdded {
                start: session.start,
                attended: session.attended,
                follow_up: session.follow_up,
            },
            |d, a, _| case_file::record_session(d, a, session),
        )
    }

    /// Amends a session note.
    pub fn amend_session_note(
        &mut self,
        id: DocumentId,
        session: SessionId,
        note: &str,
    ) -> Result<()> {
        self.case_edit(id, "session note amended", Reindex::Nothing, |d, _, _| {
            case_file::amend_session_note(d, session, note)
        })
    }

    /// Records an outcome measure.
    pub fn record_measure(
        &mut self,
        id: DocumentId,
        instrument: Instrument,
        taken_on: Date,
        items: &[Option<u8>],
    ) -> Result<MeasureId> {
        let what = format!("{} recorded", instrument.as_str());
        self.case_edit(id, &what, Reindex::CaseHeader, |d, a, at| {
            case_file::record_measure(d, a, instrument, taken_on, items, at)
        })
    }

    /// Records that a measure was offered and not completed, and why.
    pub fn record_measure_not_completed(
        &mut self,
        id: DocumentId,
        instrument: Instrument,
        offered_on: Date,
        reason: NotCompletedReason,
    ) -> Result<MeasureId> {
        let what = format!("{} not completed", instrument.as_str());
        self.case_edit(id, &what, Reindex::CaseHeader, |d, a, at| {
            case_file::record_measure_not_completed(d, a, instrument, offered_on, reason, at)
        })
    }

    /// Raises a safeguarding concern.
    pub fn raise_concern(&mut self, id: DocumentId, concern: &NewConcern) -> Result<ConcernId> {
        self.case_edit(
            id,
            "safeguarding concern raised",
            Reindex::CaseHeader,
            |d, a, at| case_file::raise_concern(d, a, concern, at),
        )
    }

    /// Changes a safeguarding concern's status.
    pub fn set_concern_status(
        &mut self,
        id: DocumentId,
        concern: ConcernId,
        status: ConcernStatus,
        escalated_to: Option<EscalationTarget>,
    ) -> Result<()> {
        let what = format!("safeguarding status set to {status}");
        self.case_edit(id, &what, Reindex::CaseHeader, |d, _, _| {
            case_file::set_concern_status(d, concern, status, escalated_to)
        })
    }

    /// Resolves a conflict on a safeguarding concern's status.
    pub fn resolve_concern_status(
        &mut self,
        id: DocumentId,
        concern: ConcernId,
        chosen: ConcernStatus,
    ) -> Result<()> {
        self.case_edit(
            id,
            "safeguarding status conflict resolved",
            Reindex::CaseHeader,
            |d, _, _| case_file::resolve_concern_status(d, concern, chosen),
        )
    }

    /// Adds a supervision comment.
    pub fn add_supervision_comment(&mut self, id: DocumentId, text: &str) -> Result<CommentId> {
        self.case_edit(
            id,
            "supervision comment added",
            Reindex::CaseHeader,
            |d, a, at| case_file::add_supervision_comment(d, a, text, at),
        )
    }

    /// The caseload, from the index (no document is loaded): follow-ups due first, soonest
    /// first, then by patient name (and case id, so the order is total).
    pub fn caseload(&self, filter: &CaseloadFilter) -> Result<Vec<CaseloadEntry>> {
        index::caseload(&self.conn, filter)
    }

    /// One page of [`Store::caseload`], in its order: at most `limit` rows, after `after`,
    /// the last row of the previous page (`None` for the first page). Only the row's place
    /// in the order is read from it (follow-up, patient name, case id), so a case edited
    /// between two pages is neither skipped nor shown twice because of the pages. A page
    /// costs its rows, not the caseload: what the app shows first on a device holding
    /// years of cases.
    pub fn caseload_page(
        &self,
        filter: &CaseloadFilter,
        limit: u32,
        after: Option<&CaseloadEntry>,
    ) -> Result<Vec<CaseloadEntry>> {
        index::caseload_page(&self.conn, filter, Some(limit), after)
    }
}
