//! The case file: one per patient per team. Patient details, referrals, the status
//! lifecycle, sessions and holding notes, outcome measures, safeguarding concerns and
//! supervision comments. Readable by the team, never by the patient.
//!
//! Notes are plain strings, not collaborative Text: one person writes a session note, and a
//! plain string loads 4–60× faster. Two devices amending the same note concurrently do not
//! lose either version: the note reads as a [`Contested`] value with both until someone
//! amends it again. Status and safeguarding status are contested the same way: the API
//! refuses to move a conflicted status until someone resolves it.

use automerge::{
    AutoCommit, ObjId, ObjType, ROOT, ReadDoc, ScalarValue, transaction::Transactable,
};
use serde::{Deserialize, Serialize};
use time::Date;

use super::doc::{self, Author, Contested, DocKind};
use super::ids::{
    CommentId, ConcernId, DocumentId, FeedbackSentId, MeasureId, ReferralId, SessionId,
};
use super::measures::{self, Instrument, Score};
use super::nhs_number::NhsNumber;
use super::oversight::{self, CaseSummary, Oversight};
use super::postcode::Postcode;
use crate::feedback::FeedbackKind;
use crate::{Error, Result};

const MAX_NAME: usize = 200;
const MAX_NOTE: usize = 64 * 1024;
const MAX_SHORT: usize = 1024;

string_enum!(
    /// How the patient prefers to be contacted.
    ContactMethod {
        /// Phone call.
        Phone => "phone",
        /// Text message.
        Text => "text",
        /// Email.
        Email => "email",
        /// Letter.
        Letter => "letter",
        /// Through a carer or family member.
        ViaCarer => "via_carer",
    }
);

string_enum!(
    /// Why a measure offered was not completed. Questionnaires can be distressing: a link
    /// worker records that one was not done, and why, rather than a partial answer.
    NotCompletedReason {
        /// The patient chose not to answer it.
        Declined => "declined",
        /// Not right for the patient today (unwell, short visit, someone else present).
        NotAppropriateToday => "not_appropriate_today",
        /// It upset the patient, so it was stopped.
        Distressing => "distressing",
    }
);

string_enum!(
    /// Who referred the patient.
    ReferralSource {
        /// A GP.
        Gp => "gp",
        /// A practice or community nurse.
        Nurse => "nurse",
        /// Another clinician (pharmacist, physio, mental health practitioner).
        OtherClinician => "other_clinician",
        /// The patient themselves.
        SelfReferral => "self",
        /// A voluntary, community or social enterprise organisation.
        Vcse => "vcse",
        /// Anyone else.
        Other => "other",
    }
);

string_enum!(
    /// Areas of need named in a referral.
    Need {
        /// Loneliness or social isolation.
        Loneliness => "loneliness",
        /// Money, debt, benefits.
        Money => "money",
        /// Housing.
        Housing => "housing",
        /// Employment, training, volunteering.
        Employment => "employment",
        /// Mental wellbeing.
        MentalWellbeing => "mental_wellbeing",
        /// Physical activity.
        PhysicalActivity => "physical_activity",
        /// Support for a carer.
        CarerSupport => "carer_support",
        /// Anything else, described in the reason.
        Other => "other",
    }
);

string_enum!(
    /// Where the patient is in social prescribing.
    CaseStatus {
        /// Referred, not yet accepted.
        Referred => "referred",
        /// Working together.
        Active => "active",
        /// Held while waiting (for a service, for readiness).
        Holding => "holding",
        /// Reducing contact towards closure.
        Tapering => "tapering",
        /// Closed; a re-referral reopens it.
        Closed => "closed",
    }
);

impl CaseStatus {
    /// Whether the lifecycle allows moving from `self` to `to` by a status change.
    /// Re-opening a closed case happens only through a re-referral.
    pub fn can_move_to(self, to: CaseStatus) -> bool {
        use CaseStatus::*;
        matches!(
            (self, to),
            (Referred, Active)
                | (Referred, Closed)
                | (Active, Holding)
                | (Holding, Active)
                | (Active, Tapering)
                | (Holding, Tapering)
                | (Tapering, Active)
                | (Active, Closed)
                | (Holding, Closed)
                | (Tapering, Closed)
        )
    }
}

string_enum!(
    /// How a session took place.
    SessionMode {
        /// At the patient's home.
        HomeVisit => "home_visit",
        /// At a GP practice.
        Practice => "practice",
        /// By phone.
        Phone => "phone",
        /// By video call.
        Video => "video",
        /// Out in the community (café, library, group).
        Community => "community",
    }
);

string_enum!(
    /// What a holding period is doing for the patient.
    HoldingFunction {
        /// Waiting for a service to have a place.
        WaitingForService => "waiting_for_service",
        /// Helping the person get ready for change.
        PreparingForChange => "preparing_for_change",
        /// Taking non-medical load off clinicians.
        ReducingClinicianBurden => "reducing_clinician_burden",
        /// Listening and acknowledging, when nothing else can be done yet.
        BearingWitness => "bearing_witness",
    }
);

string_enum!(
    /// Where a safeguarding concern was escalated.
    EscalationTarget {
        /// The patient's GP.
        Gp => "gp",
        /// The local authority safeguarding team.
        LocalAuthority => "local_authority",
        /// The police.
        Police => "police",
        /// Someone else (named in the description).
        Other => "other",
    }
);

string_enum!(
    /// Where a safeguarding concern stands.
    ConcernStatus {
        /// Raised, not yet escalated.
        Open => "open",
        /// Passed on to someone who can act.
        Escalated => "escalated",
        /// No further action needed.
        Closed => "closed",
    }
);

/// The patient's details as a link worker records them.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Patient {
    /// Full name.
    pub name: String,
    /// NHS number, when known (self-referrals often do not know it).
    pub nhs_number: Option<NhsNumber>,
    /// Date of birth.
    pub date_of_birth: Option<Date>,
    /// Address, one line.
    pub address: Option<String>,
    /// Postcode.
    pub postcode: Option<Postcode>,
    /// Phone number.
    pub phone: Option<String>,
    /// How they prefer to be contacted.
    pub preferred_contact: Option<ContactMethod>,
    /// Preferred language.
    pub language: Option<String>,
    /// Accessibility needs (interpreter, large print, step-free access).
    pub accessibility_needs: Option<String>,
    /// The GP practice they are registered with.
    pub practice: Option<String>,
}

/// Input for a new case file: the patient's details.
pub type NewPatient = Patient;

impl Patient {
    /// A patient with only a name, for examples and tests.
    pub fn named(name: &str) -> Self {
        Patient {
            name: name.to_owned(),
            ..Default::default()
        }
    }

    fn validate(&self) -> Result<()> {
        doc::require_text("patient name", &self.name, MAX_NAME)?;
        for (field, v) in [
            ("address", &self.address),
            ("phone", &self.phone),
            ("language", &self.language),
            ("accessibility needs", &self.accessibility_needs),
            ("practice", &self.practice),
        ] {
            if v.as_ref().is_some_and(|s| s.len() > MAX_SHORT) {
                return Err(Error::InvalidInput {
                    field,
                    reason: format!("longer than {MAX_SHORT} bytes"),
                });
            }
        }
        Ok(())
    }
}

/// A referral as received.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewReferral {
    /// When it was received.
    pub received: Date,
    /// Who referred.
    pub source: ReferralSource,
    /// The referrer's name or role ("Dr Patel", "practice nurse").
    pub referrer: Option<String>,
    /// Why, in the referrer's words.
    pub reason: String,
    /// Areas of need.
    pub needs: Vec<Need>,
}

string_enum!(
    /// Why a referral was not taken on, coded for the message back to the GP
    /// (docs/CODES.md).
    DeclineReason {
        /// The person did not want social prescribing (SNOMED CT 871711000000103).
        PersonDeclined => "person_declined",
        /// Outside what the service takes on.
        NotEligible => "not_eligible",
        /// Another service meets the need better; referred on.
        ReferredElsewhere => "referred_elsewhere",
        /// Could not be reached.
        UnableToContact => "unable_to_contact",
        /// Anything else.
        Other => "other",
    }
);

string_enum!(
    /// Why a case closed, coded for the message back to the GP (docs/CODES.md).
    ClosureReason {
        /// What the person wanted to do is done.
        GoalsMet => "goals_met",
        /// The person stopped coming (SNOMED CT 281399006 did not attend).
        DidNotAttend => "did_not_attend",
        /// The person wanted no more support (SNOMED CT 871711000000103).
        DeclinedFurtherSupport => "declined_further_support",
        /// Could not be reached.
        UnableToContact => "unable_to_contact",
        /// Moved out of the area.
        MovedAway => "moved_away",
        /// Died.
        Died => "died",
        /// Referred to another service.
        ReferredElsewhere => "referred_elsewhere",
        /// Anything else.
        Other => "other",
    }
);

/// The outcome of a referral.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum ReferralDecision {
    /// Taken on.
    Accepted,
    /// Not taken on, with the reason.
    Declined {
        /// Why (not eligible, declined by patient, unable to contact).
        reason: String,
    },
}

/// A referral in a case file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Referral {
    /// Its id.
    pub id: ReferralId,
    /// When it was received.
    pub received: Date,
    /// Who referred.
    pub source: ReferralSource,
    /// The referrer's name or role.
    pub referrer: Option<String>,
    /// Why.
    pub reason: String,
    /// Areas of need.
    pub needs: Vec<Need>,
    /// Whether it re-opened a closed case.
    pub re_referral: bool,
    /// The decision, once made.
    pub decision: Option<ReferralDecision>,
    /// Who decided.
    pub decided_by: Option<String>,
    /// When (ms since the epoch).
    pub decided_at: Option<i64>,
    /// For a declined referral: why, coded.
    pub decline_code: Option<DeclineReason>,
}

/// One step of the status lifecycle: when, who, from what to what, why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusChange {
    /// Previous status (none for the first).
    pub from: Option<CaseStatus>,
    /// New status.
    pub to: CaseStatus,
    /// When (ms since the epoch).
    pub at: i64,
    /// Who.
    pub by: String,
    /// Why, if given.
    pub reason: Option<String>,
    /// For a closure: why, coded.
    pub closure: Option<ClosureReason>,
}

/// A session as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewSession {
    /// When it started (ms since the epoch).
    pub start: i64,
    /// How long, in minutes.
    pub duration_minutes: u32,
    /// How it took place.
    pub mode: SessionMode,
    /// Whether the patient attended (false: did not attend).
    pub attended: bool,
    /// The note.
    pub note: String,
    /// What holding did, if this was a holding contact.
    pub holding_functions: Vec<HoldingFunction>,
    /// When to follow up.
    pub follow_up: Option<Date>,
}

/// A session in a case file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// Its id.
    pub id: SessionId,
    /// When it started (ms since the epoch).
    pub start: i64,
    /// Minutes.
    pub duration_minutes: u32,
    /// How it took place.
    pub mode: SessionMode,
    /// Attended or did not attend.
    pub attended: bool,
    /// The note; contested when two devices amended it concurrently.
    pub note: Contested<String>,
    /// Holding functions.
    pub holding_functions: Vec<HoldingFunction>,
    /// Follow-up date.
    pub follow_up: Option<Date>,
    /// Who recorded it.
    pub recorded_by: String,
}

/// An outcome measurement with its score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Measure {
    /// Its id.
    pub id: MeasureId,
    /// Which instrument.
    pub instrument: Instrument,
    /// The day it was taken.
    pub taken_on: Date,
    /// The answers, item by item.
    pub items: Vec<u8>,
    /// The score.
    pub score: Score,
    /// Who recorded it.
    pub recorded_by: String,
    /// When it was recorded (ms since the epoch, the recording device's clock): orders
    /// measures taken on the same day, such as a correction or a baseline and a review at
    /// one visit.
    pub recorded_at: i64,
}

/// A measure offered and not completed: which, on what day, why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MeasureNotCompleted {
    /// Its id.
    pub id: MeasureId,
    /// Which instrument was offered.
    pub instrument: Instrument,
    /// The day it was offered.
    pub offered_on: Date,
    /// Why it was not completed.
    pub reason: NotCompletedReason,
    /// Who recorded it.
    pub recorded_by: String,
    /// When it was recorded (ms since the epoch, the recording device's clock).
    pub recorded_at: i64,
}

/// A safeguarding concern as raised.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewConcern {
    /// What was seen or heard.
    pub description: String,
    /// Escalated at once to.
    pub escalated_to: Option<EscalationTarget>,
}

/// A safeguarding concern in a case file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SafeguardingConcern {
    /// Its id.
    pub id: ConcernId,
    /// When raised (ms since the epoch).
    pub raised_at: i64,
    /// Who raised it.
    pub raised_by: String,
    /// What was seen or heard.
    pub description: String,
    /// Where it was escalated.
    pub escalated_to: Option<EscalationTarget>,
    /// Its status; contested when devices disagree.
    pub status: Contested<ConcernStatus>,
}

/// A supervision comment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Comment {
    /// Its id.
    pub id: CommentId,
    /// When (ms since the epoch).
    pub at: i64,
    /// Who.
    pub by: String,
    /// What.
    pub text: String,
}

/// A whole case file, read from its document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaseFile {
    /// The patient.
    pub patient: Patient,
    /// The patient's action plan document.
    pub action_plan: Option<DocumentId>,
    /// Referrals, oldest first.
    pub referrals: Vec<Referral>,
    /// The current status; contested when devices set it concurrently.
    pub status: Contested<CaseStatus>,
    /// Every status change, in the order they were made.
    pub status_log: Vec<StatusChange>,
    /// Sessions, oldest first.
    pub sessions: Vec<Session>,
    /// Outcome measures, oldest first.
    pub measures: Vec<Measure>,
    /// Measures offered and not completed, oldest first.
    pub measures_not_completed: Vec<MeasureNotCompleted>,
    /// Safeguarding concerns, oldest first.
    pub safeguarding: Vec<SafeguardingConcern>,
    /// Supervision comments, oldest first.
    pub supervision: Vec<Comment>,
    /// Who holds the case, handovers, review marks, acknowledgements, ring-backs.
    pub oversight: Oversight,
    /// The messages back to the GP and referrer recorded as sent, oldest first.
    pub feedback_sent: Vec<FeedbackSent>,
}

/// A record that a message back to the GP and referrer was sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedbackSent {
    /// Its id.
    pub id: FeedbackSentId,
    /// Which message.
    pub kind: FeedbackKind,
    /// To whom ("Dr Patel, Chapel Allerton Medical Centre").
    pub to: String,
    /// The day it was sent.
    pub on: Date,
    /// Who recorded it.
    pub by: String,
    /// When it was recorded (ms since the epoch).
    pub at: i64,
    /// The decision or closure it answered (ms, as the case file dates it), when it
    /// answered the one owed at the time.
    pub answers: Option<i64>,
}

impl CaseFile {
    /// The last day the patient attended a session.
    pub fn last_contact(&self) -> Option<i64> {
        self.sessions
            .iter()
            .filter(|s| s.attended)
            .map(|s| s.start)
            .max()
    }

    /// The follow-up date of the most recent session.
    pub fn next_follow_up(&self) -> Option<Date> {
        // Of sessions sharing the latest start, the latest follow-up: as the caseload row
        // folds sessions in one by one, whatever order they arrive in (not whichever
        // session's random id sorts last).
        self.sessions
            .iter()
            .max_by_key(|s| (s.start, s.follow_up))
            .and_then(|s| s.follow_up)
    }

    /// Safeguarding concerns not closed (a conflicted status counts as open).
    pub fn open_safeguarding(&self) -> usize {
        self.safeguarding
            .iter()
            .filter(|c| c.status.agreed() != Some(&ConcernStatus::Closed))
            .count()
    }

    /// Measurements of one instrument, oldest first.
    pub fn measures_of(&self, instrument: Instrument) -> impl Iterator<Item = &Measure> {
        self.measures
            .iter()
            .filter(move |m| m.instrument == instrument)
    }

    /// The change between the first and the latest measurement of `instrument`.
    pub fn measure_change(&self, instrument: Instrument) -> Option<measures::Change> {
        let first = self.measures_of(instrument).next()?;
        let last = self.measures_of(instrument).last()?;
        if first.id == last.id {
            return None;
        }
        measures::change(&first.score, &last.score).ok()
    }
}

// ---------------------------------------------------------------------------------------
// Edits

/// Creates a case file for `patient`, status referred, linked to its action plan.
pub fn create(
    author: &Author,
    patient: &NewPatient,
    action_plan: DocumentId,
    at: i64,
) -> Result<AutoCommit> {
    patient.validate()?;
    let mut doc = doc::new_document(DocKind::CaseFile, author)?;
    let p = doc.put_object(ROOT, "patient", ObjType::Map)?;
    write_patient(&mut doc, &p, patient)?;
    doc.put(ROOT, "action_plan", action_plan.to_string())?;
    // Every container is made with the document: one made later, on first use, could be
    // made on two devices at once (readers take the union of both, see `entries`).
    for key in [
        "referrals",
        "sessions",
        "measures",
        "measures_not_completed",
        "safeguarding",
        "supervision",
        "reviews",
        "comment_acks",
        "ring_backs",
        "feedback_sent",
    ] {
        doc.put_object(ROOT, key, ObjType::Map)?;
    }
    doc.put_object(ROOT, "status_log", ObjType::List)?;
    doc.put_object(ROOT, "handovers", ObjType::List)?;
    put_status(&mut doc, author, at, None, CaseStatus::Referred, None)?;
    oversight::assign_creator(&mut doc, author, at)?;
    Ok(doc)
}

fn write_patient(doc: &mut AutoCommit, p: &ObjId, patient: &Patient) -> Result<()> {
    doc::put_string_if_changed(doc, p, "name", patient.name.trim())?;
    doc::put_opt_string(
        doc,
        p,
        "nhs_number",
        patient.nhs_number.as_ref().map(|n| n.as_str()),
    )?;
    let dob = patient.date_of_birth.map(doc::format_date);
    doc::put_opt_string(doc, p, "date_of_birth", dob.as_deref())?;
    doc::put_opt_string(doc, p, "address", patient.address.as_deref())?;
    let postcode = patient.postcode.as_ref().map(|p| p.to_string());
    doc::put_opt_string(doc, p, "postcode", postcode.as_deref())?;
    doc::put_opt_string(doc, p, "phone", patient.phone.as_deref())?;
    doc::put_opt_string(
        doc,
        p,
        "preferred_contact",
        patient.preferred_contact.map(|c| c.as_str()),
    )?;
    doc::put_opt_string(doc, p, "language", patient.language.as_deref())?;
    doc::put_opt_string(
        doc,
        p,
        "accessibility_needs",
        patient.accessibility_needs.as_deref(),
    )?;
    doc::put_opt_string(doc, p, "practice", patient.practice.as_deref())?;
    Ok(())
}

/// Replaces the patient's details; unchanged fields are left alone.
pub fn update_patient(doc: &mut AutoCommit, patient: &Patient) -> Result<()> {
    doc::expect_kind(doc, DocKind::CaseFile)?;
    patient.validate()?;
    let p = doc::require_obj(doc, &ROOT, "patient")?;
    write_patient(doc, &p, patient)
}

fn put_status(
    doc: &mut AutoCommit,
    author: &Author,
    at: i64,
    from: Option<CaseStatus>,
    to: CaseStatus,
    reason: Option<&str>,
) -> Result<()> {
    put_status_coded(doc, author, at, from, to, reason, None)
}

fn put_status_coded(
    doc: &mut AutoCommit,
    author: &Author,
    at: i64,
    from: Option<CaseStatus>,
    to: CaseStatus,
    reason: Option<&str>,
    code: Option<&str>,
) -> Result<()> {
    doc.put(ROOT, "status", to.as_str())?;
    let log = doc::require_obj(doc, &ROOT, "status_log")?;
    let end = doc.length(&log);
    let entry = doc.insert_object(&log, end, ObjType::Map)?;
    if let Some(from) = from {
        doc.put(&entry, "from", from.as_str())?;
    }
    doc.put(&entry, "to", to.as_str())?;
    doc.put(&entry, "at", ScalarValue::Timestamp(at))?;
    doc.put(&entry, "by", author.person.as_str())?;
    if let Some(reason) = reason {
        doc.put(&entry, "reason", reason)?;
    }
    if let Some(code) = code {
        doc.put(&entry, "code", code)?;
    }
    Ok(())
}

/// Closes the case with a coded reason (and, if given, words of the link worker's own,
/// which stay in the case file). Refused where the lifecycle does not allow closing.
pub fn close_case(
    doc: &mut AutoCommit,
    author: &Author,
    code: ClosureReason,
    reason: Option<&str>,
    at: i64,
) -> Result<()> {
    doc::expect_kind(doc, DocKind::CaseFile)?;
    let from = current_status(doc)?;
    if !from.can_move_to(CaseStatus::Closed) {
        return Err(Error::IllegalTransition {
            from: from.to_string(),
            to: CaseStatus::Closed.to_string(),
        });
    }
    let reason = reason
        .map(|r| doc::require_text("reason", r, MAX_SHORT))
        .transpose()?;
    put_status_coded(
        doc,
        author,
        at,
        Some(from),
        CaseStatus::Closed,
        reason.as_deref(),
        Some(code.as_str()),
    )
}

/// Codes why the referral `id` was declined (it must be declined).
pub fn code_decline(doc: &mut AutoCommit, id: ReferralId, code: DeclineReason) -> Result<()> {
    doc::expect_kind(doc, DocKind::CaseFile)?;
    let r = doc::find_entry(doc, "referrals", &id.to_string())?.ok_or(Error::NotFound {
        kind: "referral",
        id: id.to_string(),
    })?;
    let d = doc::get_obj(doc, &r, "decision")?
        .filter(|d| {
            doc::get_string(doc, d, "outcome").ok().flatten().as_deref() == Some("declined")
        })
        .ok_or_else(|| Error::InvalidInput {
            field: "referral",
            reason: "it has not been declined".into(),
        })?;
    doc.put(&d, "code", code.as_str())?;
    Ok(())
}

fn current_status(doc: &mut AutoCommit) -> Result<CaseStatus> {
    let status = read_status(doc)?;
    match status.agreed() {
        Some(s) => Ok(*s),
        None => Err(Error::Conflict {
            field: "case status",
        }),
    }
}

fn read_status(doc: &mut AutoCommit) -> Result<Contested<CaseStatus>> {
    let raw = doc::get_contested_string(doc, &ROOT, "status")?
        .ok_or_else(|| Error::Malformed("case file has no status".into()))?;
    parse_contested(raw)
}

fn parse_contested<T: std::str::FromStr<Err = Error>>(
    raw: Contested<String>,
) -> Result<Contested<T>> {
    let claims = raw
        .claims
        .into_iter()
        .map(|c| {
            Ok(doc::Claim {
                value: c.value.parse::<T>()?,
                device: c.device,
                by: c.by,
                at: c.at,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Contested { claims })
}

/// Moves the case to `to`, if the lifecycle allows it and the status is not in conflict.
pub fn set_status(
    doc: &mut AutoCommit,
    author: &Author,
    to: CaseStatus,
    reason: Option<&str>,
    at: i64,
) -> Result<()> {
    doc::expect_kind(doc, DocKind::CaseFile)?;
    let from = current_status(doc)?;
    if !from.can_move_to(to) {
        return Err(Error::IllegalTransition {
            from: from.to_string(),
            to: to.to_string(),
        });
    }
    let reason = reason
        .map(|r| doc::require_text("reason", r, MAX_SHORT))
        .transpose()?;
    put_status(doc, author, at, Some(from), to, reason.as_deref())
}

/// Ends a status conflict by choosing one of the competing values.
pub fn resolve_status(
    doc: &mut AutoCommit,
    author: &Author,
    chosen: CaseStatus,
    at: i64,
) -> Result<()> {
    doc::expect_kind(doc, DocKind::CaseFile)?;
    let status = read_status(doc)?;
    if !status.is_conflicted() {
        return Err(Error::NotAllowed(
            "the case status is not in conflict".into(),
        ));
    }
    if !status.values().any(|v| *v == chosen) {
        return Err(Error::NotAllowed(
            "choose one of the competing statuses".into(),
        ));
    }
    put_status(
        doc,
        author,
        at,
        None,
        chosen,
        Some("resolved a conflict between devices"),
    )
}

/// Adds a referral. On a closed case this is a re-referral and re-opens it as referred.
pub fn add_referral(
    doc: &mut AutoCommit,
    author: &Author,
    referral: &NewReferral,
    at: i64,
) -> Result<ReferralId> {
    doc::expect_kind(doc, DocKind::CaseFile)?;
    let reason = doc::require_text("referral reason", &referral.reason, MAX_SHORT)?;
    let referrer = referral
        .referrer
        .as_deref()
        .map(|r| doc::require_text("referrer", r, MAX_NAME))
        .transpose()?;
    let status = current_status(doc)?;
    let re_referral = status == CaseStatus::Closed;
    let id = ReferralId::random();
    let referrals = doc::ensure_map(doc, &ROOT, "referrals")?;
    let r = doc.put_object(&referrals, id.to_string(), ObjType::Map)?;
    doc.put(&r, "received", doc::format_date(referral.received))?;
    doc.put(&r, "source", referral.source.as_str())?;
    if let Some(referrer) = referrer {
        doc.put(&r, "referrer", referrer)?;
    }
    doc.put(&r, "reason", reason)?;
    let needs: Vec<String> = referral
        .needs
        .iter()
        .map(|n| n.as_str().to_owned())
        .collect();
    doc::put_string_list(doc, &r, "needs", &needs)?;
    doc.put(&r, "re_referral", re_referral)?;
    doc.put(&r, "created_at", ScalarValue::Timestamp(at))?;
    if re_referral {
        put_status(
            doc,
            author,
            at,
            Some(status),
            CaseStatus::Referred,
            Some("re-referral"),
        )?;
    }
    Ok(id)
}

/// Records the decision on a referral. Accepting a referred case makes it active;
/// declining closes it unless another referral is still being considered or was accepted.
pub fn decide_referral(
    doc: &mut AutoCommit,
    author: &Author,
    id: ReferralId,
    decision: &ReferralDecision,
    at: i64,
) -> Result<()> {
    doc::expect_kind(doc, DocKind::CaseFile)?;
    let r = doc::find_entry(doc, "referrals", &id.to_string())?.ok_or(Error::NotFound {
        kind: "referral",
        id: id.to_string(),
    })?;
    if doc.get(&r, "decision")?.is_some() {
        return Err(Error::NotAllowed(
            "this referral has already been decided".into(),
        ));
    }
    let status = current_status(doc)?;
    let d = doc.put_object(&r, "decision", ObjType::Map)?;
    doc.put(&d, "at", ScalarValue::Timestamp(at))?;
    doc.put(&d, "by", author.person.as_str())?;
    match decision {
        ReferralDecision::Accepted => {
            doc.put(&d, "outcome", "accepted")?;
            if status == CaseStatus::Referred {
                put_status(
                    doc,
                    author,
                    at,
                    Some(status),
                    CaseStatus::Active,
                    Some("referral accepted"),
                )?;
            }
        }
        ReferralDecision::Declined { reason } => {
            let reason = doc::require_text("decline reason", reason, MAX_SHORT)?;
            doc.put(&d, "outcome", "declined")?;
            doc.put(&d, "reason", reason.as_str())?;
            let others_pending = read_referrals(doc)?.iter().any(|other| {
                other.id != id && !matches!(other.decision, Some(ReferralDecision::Declined { .. }))
            });
            if status == CaseStatus::Referred && !others_pending {
                put_status(
                    doc,
                    author,
                    at,
                    Some(status),
                    CaseStatus::Closed,
                    Some("referral declined"),
                )?;
            }
        }
    }
    Ok(())
}

fn validate_session(session: &NewSession) -> Result<String> {
    if session.duration_minutes > 24 * 60 {
        return Err(Error::InvalidInput {
            field: "duration",
            reason: "more than a day".into(),
        });
    }
    if session.note.len() > MAX_NOTE {
        return Err(Error::InvalidInput {
            field: "note",
            reason: format!("longer than {MAX_NOTE} bytes"),
        });
    }
    Ok(session.note.trim().to_owned())
}

/// Records a session. A closed case takes no new sessions until it is re-referred.
pub fn record_session(
    doc: &mut AutoCommit,
    author: &Author,
    session: &NewSession,
) -> Result<SessionId> {
    doc::expect_kind(doc, DocKind::CaseFile)?;
    let note = validate_session(session)?;
    // Refused only on a case agreed closed: a status two devices set apart offline (say
    // Holding and Tapering) must not stop a link worker recording the visit they just made.
    if read_status(doc)?.agreed() == Some(&CaseStatus::Closed) {
        return Err(Error::NotAllowed(
            "the case is closed: add a re-referral to reopen it".into(),
        ));
    }
    let id = SessionId::random();
    let sessions = doc::ensure_map(doc, &ROOT, "sessions")?;
    let s = doc.put_object(&sessions, id.to_string(), ObjType::Map)?;
    doc.put(&s, "start", ScalarValue::Timestamp(session.start))?;
    doc.put(&s, "duration_minutes", i64::from(session.duration_minutes))?;
    doc.put(&s, "mode", session.mode.as_str())?;
    doc.put(&s, "attended", session.attended)?;
    doc.put(&s, "note", note)?;
    let functions: Vec<String> = session
        .holding_functions
        .iter()
        .map(|f| f.as_str().to_owned())
        .collect();
    doc::put_string_list(doc, &s, "holding_functions", &functions)?;
    if let Some(f) = session.follow_up {
        doc.put(&s, "follow_up", doc::format_date(f))?;
    }
    doc.put(&s, "recorded_by", author.person.as_str())?;
    Ok(id)
}

/// Replaces a session's note; also resolves a conflict between concurrent amendments.
pub fn amend_session_note(doc: &mut AutoCommit, id: SessionId, note: &str) -> Result<()> {
    doc::expect_kind(doc, DocKind::CaseFile)?;
    if note.len() > MAX_NOTE {
        return Err(Error::InvalidInput {
            field: "note",
            reason: format!("longer than {MAX_NOTE} bytes"),
        });
    }
    let s = doc::find_entry(doc, "sessions", &id.to_string())?.ok_or(Error::NotFound {
        kind: "session",
        id: id.to_string(),
    })?;
    // A plain put even when the text is unchanged: it is how a conflict gets resolved.
    doc.put(&s, "note", note.trim())?;
    Ok(())
}

/// Records an outcome measure; `items` are the answers in order, `None` for unanswered.
pub fn record_measure(
    doc: &mut AutoCommit,
    author: &Author,
    instrument: Instrument,
    taken_on: Date,
    items: &[Option<u8>],
    at: i64,
) -> Result<MeasureId> {
    doc::expect_kind(doc, DocKind::CaseFile)?;
    let items = measures::validate(instrument, items)?;
    let id = MeasureId::random();
    let all = doc::ensure_map(doc, &ROOT, "measures")?;
    let m = doc.put_object(&all, id.to_string(), ObjType::Map)?;
    doc.put(&m, "instrument", instrument.as_str())?;
    doc.put(&m, "taken_on", doc::format_date(taken_on))?;
    let list = doc.put_object(&m, "items", ObjType::List)?;
    for (i, v) in items.iter().enumerate() {
        doc.insert(&list, i, i64::from(*v))?;
    }
    doc.put(&m, "recorded_by", author.person.as_str())?;
    doc.put(&m, "recorded_at", ScalarValue::Timestamp(at))?;
    Ok(id)
}

/// Records that a measure was offered on `offered_on` and not completed, and why (kept
/// apart from the measures: nothing is scored, and a reader from before knows no such
/// entry).
pub fn record_measure_not_completed(
    doc: &mut AutoCommit,
    author: &Author,
    instrument: Instrument,
    offered_on: Date,
    reason: NotCompletedReason,
    at: i64,
) -> Result<MeasureId> {
    doc::expect_kind(doc, DocKind::CaseFile)?;
    let id = MeasureId::random();
    let all = doc::ensure_map(doc, &ROOT, "measures_not_completed")?;
    let m = doc.put_object(&all, id.to_string(), ObjType::Map)?;
    doc.put(&m, "instrument", instrument.as_str())?;
    doc.put(&m, "offered_on", doc::format_date(offered_on))?;
    doc.put(&m, "reason", reason.as_str())?;
    doc.put(&m, "recorded_by", author.person.as_str())?;
    doc.put(&m, "recorded_at", ScalarValue::Timestamp(at))?;
    Ok(id)
}

/// Raises a safeguarding concern.
pub fn raise_concern(
    doc: &mut AutoCommit,
    author: &Author,
    concern: &NewConcern,
    at: i64,
) -> Result<ConcernId> {
    doc::expect_kind(doc, DocKind::CaseFile)?;
    let description = doc::require_text("concern description", &concern.description, MAX_NOTE)?;
    let id = ConcernId::random();
    let all = doc::ensure_map(doc, &ROOT, "safeguarding")?;
    let c = doc.put_object(&all, id.to_string(), ObjType::Map)?;
    doc.put(&c, "raised_at", ScalarValue::Timestamp(at))?;
    doc.put(&c, "raised_by", author.person.as_str())?;
    doc.put(&c, "description", description)?;
    let status = match concern.escalated_to {
        Some(target) => {
            doc.put(&c, "escalated_to", target.as_str())?;
            ConcernStatus::Escalated
        }
        None => ConcernStatus::Open,
    };
    doc.put(&c, "status", status.as_str())?;
    doc.put(&c, "updates", ScalarValue::counter(0))?;
    Ok(id)
}

/// Counts one more change of a concern's status (a counter: concurrent changes all count).
fn count_concern_update(doc: &mut AutoCommit, c: &ObjId) -> Result<()> {
    match doc.get(c, "updates")? {
        Some((automerge::Value::Scalar(v), _)) if matches!(v.as_ref(), ScalarValue::Counter(_)) => {
            doc.increment(c, "updates", 1)?
        }
        _ => doc.put(c, "updates", ScalarValue::counter(1))?,
    }
    Ok(())
}

fn concern_obj(doc: &AutoCommit, id: ConcernId) -> Result<ObjId> {
    doc::find_entry(doc, "safeguarding", &id.to_string())?.ok_or(Error::NotFound {
        kind: "safeguarding concern",
        id: id.to_string(),
    })
}

/// Changes a concern's status (escalating names where to). Refused while devices disagree.
pub fn set_concern_status(
    doc: &mut AutoCommit,
    id: ConcernId,
    status: ConcernStatus,
    escalated_to: Option<EscalationTarget>,
) -> Result<()> {
    doc::expect_kind(doc, DocKind::CaseFile)?;
    let c = concern_obj(doc, id)?;
    let current = parse_contested::<ConcernStatus>(
        doc::get_contested_string(doc, &c, "status")?
            .ok_or_else(|| Error::Malformed("concern has no status".into()))?,
    )?;
    if current.is_conflicted() {
        return Err(Error::Conflict {
            field: "safeguarding status",
        });
    }
    if status == ConcernStatus::Escalated && escalated_to.is_none() {
        return Err(Error::InvalidInput {
            field: "escalated to",
            reason: "say where it was escalated".into(),
        });
    }
    if let Some(target) = escalated_to {
        doc.put(&c, "escalated_to", target.as_str())?;
    }
    doc.put(&c, "status", status.as_str())?;
    count_concern_update(doc, &c)
}

/// Ends a conflict on a concern's status by choosing one of the competing values.
pub fn resolve_concern_status(
    doc: &mut AutoCommit,
    id: ConcernId,
    chosen: ConcernStatus,
) -> Result<()> {
    doc::expect_kind(doc, DocKind::CaseFile)?;
    let c = concern_obj(doc, id)?;
    let current = parse_contested::<ConcernStatus>(
        doc::get_contested_string(doc, &c, "status")?
            .ok_or_else(|| Error::Malformed("concern has no status".into()))?,
    )?;
    if !current.is_conflicted() || !current.values().any(|v| *v == chosen) {
        return Err(Error::NotAllowed(
            "choose one of the competing safeguarding statuses".into(),
        ));
    }
    doc.put(&c, "status", chosen.as_str())?;
    count_concern_update(doc, &c)
}

/// Adds a supervision comment.
pub fn add_supervision_comment(
    doc: &mut AutoCommit,
    author: &Author,
    text: &str,
    at: i64,
) -> Result<CommentId> {
    doc::expect_kind(doc, DocKind::CaseFile)?;
    let text = doc::require_text("comment", text, MAX_NOTE)?;
    let id = CommentId::random();
    let all = doc::ensure_map(doc, &ROOT, "supervision")?;
    let c = doc.put_object(&all, id.to_string(), ObjType::Map)?;
    doc.put(&c, "at", ScalarValue::Timestamp(at))?;
    doc.put(&c, "by", author.person.as_str())?;
    doc.put(&c, "text", text)?;
    Ok(id)
}

// ---------------------------------------------------------------------------------------
// Reading

fn opt_parse<T: std::str::FromStr<Err = Error>>(v: Option<String>) -> Result<Option<T>> {
    v.map(|s| s.parse()).transpose()
}

fn parse_list<T: std::str::FromStr<Err = Error>>(v: Vec<String>) -> Result<Vec<T>> {
    v.iter().map(|s| s.parse()).collect()
}

fn read_patient(doc: &AutoCommit) -> Result<Patient> {
    let p = doc::require_obj(doc, &ROOT, "patient")?;
    Ok(Patient {
        name: doc::get_string(doc, &p, "name")?.unwrap_or_default(),
        nhs_number: doc::get_string(doc, &p, "nhs_number")?
            .map(|s| NhsNumber::parse(&s))
            .transpose()?,
        date_of_birth: doc::get_date(doc, &p, "date_of_birth")?,
        address: doc::get_string(doc, &p, "address")?,
        postcode: doc::get_string(doc, &p, "postcode")?
            .map(|s| Postcode::parse(&s))
            .transpose()?,
        phone: doc::get_string(doc, &p, "phone")?,
        preferred_contact: opt_parse(doc::get_string(doc, &p, "preferred_contact")?)?,
        language: doc::get_string(doc, &p, "language")?,
        accessibility_needs: doc::get_string(doc, &p, "accessibility_needs")?,
        practice: doc::get_string(doc, &p, "practice")?,
    })
}

/// The items of a map of maps, in key order.
/// Several maps when devices created the map concurrently: the union of their items.
pub(crate) fn entries(doc: &AutoCommit, key: &str) -> Result<Vec<(String, ObjId)>> {
    let mut out = Vec::new();
    for map in doc::get_all_objs(doc, &ROOT, key)? {
        out.extend(doc::map_objs(doc, &map)?);
    }
    Ok(out)
}

fn read_referrals(doc: &AutoCommit) -> Result<Vec<Referral>> {
    let mut out = Vec::new();
    for (k, r) in entries(doc, "referrals")? {
        let f = doc::Fields::of(doc, &r)?;
        let decision_obj = f.obj("decision")?;
        let (decision, decided_by, decided_at, decline_code) = match decision_obj {
            Some(d) => {
                let d = doc::Fields::of(doc, &d)?;
                let outcome = d.require_string("outcome")?;
                let decision = match outcome.as_str() {
                    "accepted" => ReferralDecision::Accepted,
                    "declined" => ReferralDecision::Declined {
                        reason: d.string("reason")?.unwrap_or_default(),
                    },
                    _ => return Err(Error::Malformed("unknown referral outcome".into())),
                };
                (
                    Some(decision),
                    d.string("by")?,
                    d.i64("at")?,
                    d.string("code")?.and_then(|c| c.parse().ok()),
                )
            }
            None => (None, None, None, None),
        };
        out.push(Referral {
            id: k.parse()?,
            received: f
                .date("received")?
                .ok_or_else(|| Error::Malformed("referral date".into()))?,
            source: f.require_string("source")?.parse()?,
            referrer: f.string("referrer")?,
            reason: f.string("reason")?.unwrap_or_default(),
            needs: parse_list(f.string_list("needs")?)?,
            re_referral: f.bool("re_referral")?.unwrap_or(false),
            decision,
            decided_by,
            decided_at,
            decline_code,
        });
    }
    // Sort by received date then creation, so every device lists them alike.
    out.sort_by_key(|r| (r.received, r.id));
    Ok(out)
}

fn read_status_log(doc: &AutoCommit) -> Result<Vec<StatusChange>> {
    let Some(log) = doc::get_obj(doc, &ROOT, "status_log")? else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for i in 0..doc.length(&log) {
        let Some((_, entry)) = doc.get(&log, i)? else {
            continue;
        };
        out.push(StatusChange {
            from: opt_parse(doc::get_string(doc, &entry, "from")?)?,
            to: doc::require_string(doc, &entry, "to")?.parse()?,
            at: doc::require_i64(doc, &entry, "at")?,
            by: doc::get_string(doc, &entry, "by")?.unwrap_or_default(),
            reason: doc::get_string(doc, &entry, "reason")?,
            // A code a newer app wrote reads as none, not as an unreadable case.
            closure: doc::get_string(doc, &entry, "code")?.and_then(|c| c.parse().ok()),
        });
    }
    Ok(out)
}

fn read_sessions(doc: &mut AutoCommit) -> Result<Vec<Session>> {
    let mut out = Vec::new();
    for (k, s) in entries(doc, "sessions")? {
        out.push(decode_session(doc, &k, &s)?);
    }
    out.sort_by_key(|s| (s.start, s.id));
    Ok(out)
}

/// The session at key `key` of the sessions map, `s` its object.
fn decode_session(doc: &mut AutoCommit, key: &str, s: &ObjId) -> Result<Session> {
    let note = doc::get_contested_string(doc, s, "note")?.unwrap_or(Contested {
        claims: vec![doc::Claim {
            value: String::new(),
            device: None,
            by: None,
            at: None,
        }],
    });
    let f = doc::Fields::of(doc, s)?;
    Ok(Session {
        id: key.parse()?,
        start: f.require_i64("start")?,
        duration_minutes: u32::try_from(f.require_i64("duration_minutes")?)
            .map_err(|_| Error::Malformed("session duration".into()))?,
        mode: f.require_string("mode")?.parse()?,
        attended: f.bool("attended")?.unwrap_or(true),
        note,
        holding_functions: parse_list(f.string_list("holding_functions")?)?,
        follow_up: f.date("follow_up")?,
        recorded_by: f.string("recorded_by")?.unwrap_or_default(),
    })
}

/// One session, read on its own (decoded exactly as [`read`] decodes it, so a session that
/// would make `read` fail fails here too): for folding a session that arrived from another
/// device into the caseload row without reading the rest of the case. `None` when the
/// document holds no session at that key.
pub(crate) fn read_session(doc: &mut AutoCommit, key: &str) -> Result<Option<Session>> {
    decode_one_session(doc, key).map_err(doc::as_damage)
}

fn decode_one_session(doc: &mut AutoCommit, key: &str) -> Result<Option<Session>> {
    doc::expect_kind(doc, DocKind::CaseFile)?;
    match doc::find_entry(doc, "sessions", key)? {
        Some(s) => decode_session(doc, key, &s).map(Some),
        None => Ok(None),
    }
}

fn read_items(doc: &AutoCommit, m: &ObjId) -> Result<Vec<u8>> {
    let list = doc::require_obj(doc, m, "items")?;
    let mut out = Vec::new();
    for item in doc.list_range(&list, ..) {
        let v = match item.value {
            automerge::ValueRef::Scalar(automerge::ScalarValueRef::Int(i)) => u8::try_from(i).ok(),
            automerge::ValueRef::Scalar(automerge::ScalarValueRef::Uint(u)) => u8::try_from(u).ok(),
            _ => None,
        };
        out.push(v.ok_or_else(|| Error::Malformed("measure item".into()))?);
    }
    Ok(out)
}

fn read_measures(doc: &mut AutoCommit) -> Result<Vec<Measure>> {
    let mut out = Vec::new();
    for (k, m) in entries(doc, "measures")? {
        let f = doc::Fields::of(doc, &m)?;
        let instrument: Instrument = f.require_string("instrument")?.parse()?;
        let items = read_items(doc, &m)?;
        let score = measures::score(instrument, &items)?;
        out.push(Measure {
            id: k.parse()?,
            instrument,
            taken_on: f
                .date("taken_on")?
                .ok_or_else(|| Error::Malformed("measure date".into()))?,
            items,
            score,
            recorded_by: f.string("recorded_by")?.unwrap_or_default(),
            // Measures recorded before `recorded_at` was written: the time of the change
            // that created them, which is the same moment.
            recorded_at: match f.i64("recorded_at")? {
                Some(at) => at,
                None => doc::created_at(doc, &m).unwrap_or(0),
            },
        });
    }
    out.sort_by_key(|m| (m.taken_on, m.recorded_at, m.id));
    Ok(out)
}

fn read_measures_not_completed(doc: &mut AutoCommit) -> Result<Vec<MeasureNotCompleted>> {
    let mut out = Vec::new();
    for (k, m) in entries(doc, "measures_not_completed")? {
        let f = doc::Fields::of(doc, &m)?;
        out.push(MeasureNotCompleted {
            id: k.parse()?,
            instrument: f.require_string("instrument")?.parse()?,
            offered_on: f
                .date("offered_on")?
                .ok_or_else(|| Error::Malformed("measure date".into()))?,
            reason: f.require_string("reason")?.parse()?,
            recorded_by: f.string("recorded_by")?.unwrap_or_default(),
            recorded_at: f.i64("recorded_at")?.unwrap_or(0),
        });
    }
    out.sort_by_key(|m| (m.offered_on, m.recorded_at, m.id));
    Ok(out)
}

fn read_safeguarding(doc: &mut AutoCommit) -> Result<Vec<SafeguardingConcern>> {
    let mut out = Vec::new();
    for (k, c) in entries(doc, "safeguarding")? {
        let status = doc::get_contested_string(doc, &c, "status")?
            .ok_or_else(|| Error::Malformed("concern has no status".into()))?;
        out.push(SafeguardingConcern {
            id: k.parse()?,
            raised_at: doc::require_i64(doc, &c, "raised_at")?,
            raised_by: doc::get_string(doc, &c, "raised_by")?.unwrap_or_default(),
            description: doc::get_string(doc, &c, "description")?.unwrap_or_default(),
            escalated_to: opt_parse(doc::get_string(doc, &c, "escalated_to")?)?,
            status: parse_contested(status)?,
        });
    }
    out.sort_by_key(|c| (c.raised_at, c.id));
    Ok(out)
}

pub(crate) fn read_comments(doc: &AutoCommit, key: &str) -> Result<Vec<Comment>> {
    let mut out = Vec::new();
    for (k, c) in entries(doc, key)? {
        out.push(Comment {
            id: k.parse()?,
            at: doc::require_i64(doc, &c, "at")?,
            by: doc::get_string(doc, &c, "by")?.unwrap_or_default(),
            text: doc::get_string(doc, &c, "text")?.unwrap_or_default(),
        });
    }
    out.sort_by_key(|c| (c.at, c.id));
    Ok(out)
}

/// What the caseload shows of a case apart from its sessions: cheap to read, since it does
/// not walk the session history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseHeader {
    /// The patient.
    pub patient: Patient,
    /// The action plan.
    pub action_plan: Option<DocumentId>,
    /// The status, with any conflict.
    pub status: Contested<CaseStatus>,
    /// Safeguarding concerns not closed.
    pub open_safeguarding: usize,
}

/// Reads the case header (no sessions, measures or comments).
pub fn read_header(doc: &mut AutoCommit) -> Result<CaseHeader> {
    decode_header(doc).map_err(doc::as_damage)
}

fn decode_header(doc: &mut AutoCommit) -> Result<CaseHeader> {
    doc::expect_kind(doc, DocKind::CaseFile)?;
    let open_safeguarding = read_safeguarding(doc)?
        .iter()
        .filter(|c| c.status.agreed() != Some(&ConcernStatus::Closed))
        .count();
    Ok(CaseHeader {
        patient: read_patient(doc)?,
        action_plan: doc::get_string(doc, &ROOT, "action_plan")?
            .map(|s| s.parse())
            .transpose()?,
        status: read_status(doc)?,
        open_safeguarding,
    })
}

/// Reads the whole case file.
pub fn read(doc: &mut AutoCommit) -> Result<CaseFile> {
    decode_case(doc).map_err(doc::as_damage)
}

fn decode_case(doc: &mut AutoCommit) -> Result<CaseFile> {
    doc::expect_kind(doc, DocKind::CaseFile)?;
    Ok(CaseFile {
        patient: read_patient(doc)?,
        action_plan: doc::get_string(doc, &ROOT, "action_plan")?
            .map(|s| s.parse())
            .transpose()?,
        referrals: read_referrals(doc)?,
        status: read_status(doc)?,
        status_log: read_status_log(doc)?,
        sessions: read_sessions(doc)?,
        measures: read_measures(doc)?,
        measures_not_completed: read_measures_not_completed(doc)?,
        safeguarding: read_safeguarding(doc)?,
        supervision: read_comments(doc, "supervision")?,
        oversight: oversight::read(doc)?,
        feedback_sent: read_feedback_sent(doc)?,
    })
}

/// Records that the message back (`kind`) went to `to` on `on` (not after `today`).
pub fn record_feedback_sent(
    doc: &mut AutoCommit,
    author: &Author,
    kind: FeedbackKind,
    to: &str,
    on: Date,
    today: Date,
    at: i64,
) -> Result<FeedbackSentId> {
    doc::expect_kind(doc, DocKind::CaseFile)?;
    let to = doc::require_text("sent to", to, 200)?;
    if on > today {
        return Err(Error::InvalidInput {
            field: "date",
            reason: "feedback is recorded once sent, not ahead of time".into(),
        });
    }
    // The event this answers, as this document dates it (see `feedback_due`).
    let answers = feedback_owed(
        &read_status(doc)?,
        &read_status_log(doc)?,
        &read_referrals(doc)?,
    )
    .filter(|(k, _)| *k == kind)
    .map(|(_, since)| since);
    let id = FeedbackSentId::random();
    // Case files from before issue 13 have no container: made here (readers take the
    // union of concurrent ones).
    let all = doc::ensure_map(doc, &ROOT, "feedback_sent")?;
    let f = doc.put_object(&all, id.to_string(), ObjType::Map)?;
    doc.put(&f, "kind", kind.as_str())?;
    doc.put(&f, "to", to)?;
    doc.put(&f, "on", doc::format_date(on))?;
    doc.put(&f, "by", author.person.as_str())?;
    doc.put(&f, "at", ScalarValue::Timestamp(at))?;
    if let Some(a) = answers {
        doc.put(&f, "answers", ScalarValue::Timestamp(a))?;
    }
    Ok(id)
}

fn read_feedback_sent(doc: &AutoCommit) -> Result<Vec<FeedbackSent>> {
    let mut out = Vec::new();
    for (k, f) in entries(doc, "feedback_sent")? {
        let kind = doc::require_string(doc, &f, "kind")?;
        // A kind a newer app wrote is skipped, not an unreadable case file.
        let Some(kind) = FeedbackKind::ALL
            .iter()
            .copied()
            .find(|x| x.as_str() == kind)
        else {
            continue;
        };
        out.push(FeedbackSent {
            id: k.parse()?,
            kind,
            answers: doc::get_i64(doc, &f, "answers")?,
            to: doc::require_string(doc, &f, "to")?,
            on: doc::get_date(doc, &f, "on")?
                .ok_or_else(|| Error::Malformed("feedback sent with no day".into()))?,
            by: doc::get_string(doc, &f, "by")?.unwrap_or_default(),
            at: doc::get_i64(doc, &f, "at")?.unwrap_or(0),
        });
    }
    out.sort_by_key(|f| (f.at, f.id));
    Ok(out)
}

/// The referral decided last (by when, then id): the one a message back is about. Not the
/// one received last: referrals can be decided out of order.
pub fn latest_decided(referrals: &[Referral]) -> Option<&Referral> {
    referrals
        .iter()
        .filter(|r| r.decision.is_some() && r.decided_at.is_some())
        .max_by_key(|r| (r.decided_at, r.id))
}

/// The latest closure of the case, preferring a move to closed over a settled conflict that
/// repeats one.
pub fn latest_closure(log: &[StatusChange]) -> Option<&StatusChange> {
    log.iter()
        .filter(|c| c.to == CaseStatus::Closed)
        .max_by_key(|c| (c.from.is_some(), c.at))
}

/// The message back a case's latest event calls for, and since when (ms): at closure, once
/// the case is (agreed) closed; a closure that a decline made (declining the only referral
/// closes the case, in the same change) calls for the declined message; else the decision
/// of the referral decided last. `None` while the status is contested or nothing is decided.
pub fn feedback_owed(
    status: &Contested<CaseStatus>,
    log: &[StatusChange],
    referrals: &[Referral],
) -> Option<(FeedbackKind, i64)> {
    match status.agreed()? {
        CaseStatus::Closed => {
            let since = latest_closure(log)?.at;
            let by_decline = referrals.iter().any(|r| {
                matches!(r.decision, Some(ReferralDecision::Declined { .. }))
                    && r.decided_at == Some(since)
            });
            Some(if by_decline {
                (FeedbackKind::Declined, since)
            } else {
                (FeedbackKind::Closed, since)
            })
        }
        _ => {
            let last = latest_decided(referrals)?;
            let since = last.decided_at?;
            match last.decision.as_ref()? {
                ReferralDecision::Accepted => Some((FeedbackKind::Accepted, since)),
                ReferralDecision::Declined { .. } => Some((FeedbackKind::Declined, since)),
            }
        }
    }
}

/// [`feedback_owed`], unless a message of that kind was recorded as sent for it: one that
/// answered that very event (it keeps the event's time, so clocks that differ between
/// devices can neither keep it owed nor let an old record clear a new event).
fn feedback_due(
    status: &Contested<CaseStatus>,
    log: &[StatusChange],
    referrals: &[Referral],
    sent: &[FeedbackSent],
) -> Option<(FeedbackKind, i64)> {
    let owed = feedback_owed(status, log, referrals)?;
    // A record that names the event it answered counts for that event only; an older one
    // without, by when it was recorded.
    let done = sent.iter().any(|f| {
        f.kind == owed.0
            && match f.answers {
                Some(a) => a == owed.1,
                None => f.at >= owed.1,
            }
    });
    (!done).then_some(owed)
}

/// What the oversight indexes hold of a case: cheap to read, since it does not walk the
/// session history.
pub fn read_summary(doc: &mut AutoCommit) -> Result<CaseSummary> {
    decode_summary(doc).map_err(doc::as_damage)
}

fn decode_summary(doc: &mut AutoCommit) -> Result<CaseSummary> {
    doc::expect_kind(doc, DocKind::CaseFile)?;
    let status = read_status(doc)?;
    let current = status
        .provisional()
        .copied()
        .unwrap_or(CaseStatus::Referred);
    let log = read_status_log(doc)?;
    let status_since = log.iter().filter(|c| c.to == current).map(|c| c.at).max();
    let opened_at = log
        .iter()
        .filter(|c| c.to == CaseStatus::Referred)
        .map(|c| c.at)
        .max();
    let referrals = read_referrals(doc)?;
    let accepted_at = referrals
        .iter()
        .filter(|r| r.decision == Some(ReferralDecision::Accepted))
        .filter_map(|r| r.decided_at)
        .max();
    let awaiting_contact_since = if current == CaseStatus::Referred {
        referrals
            .iter()
            .filter(|r| r.decision.is_none())
            .map(|r| r.received)
            .min()
    } else {
        None
    };
    let mut last_measure_on = None;
    for (_, m) in entries(doc, "measures")? {
        last_measure_on = last_measure_on.max(doc::get_date(doc, &m, "taken_on")?);
    }
    for (_, m) in entries(doc, "measures_not_completed")? {
        last_measure_on = last_measure_on.max(doc::get_date(doc, &m, "offered_on")?);
    }
    Ok(CaseSummary {
        status_since,
        opened_at,
        accepted_at,
        awaiting_contact_since,
        last_measure_on,
        counters: oversight::counters(doc)?,
        comments: read_comments(doc, "supervision")?,
        oversight: oversight::read(doc)?,
        feedback_due: feedback_due(&status, &log, &referrals, &read_feedback_sent(doc)?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ids::DeviceId;

    /// A value in a stored document that does not parse is damage to the document
    /// (`Malformed`, shown to the app as such), never the caller's invalid input.
    #[test]
    fn a_stored_value_that_does_not_parse_reads_as_damage() {
        let author = Author {
            device: DeviceId([1; 16]),
            person: "Sam".into(),
        };
        for (key, value) in [("action_plan", "not a document id"), ("status", "sideways")] {
            let mut doc = create(
                &author,
                &NewPatient::named("Ada"),
                DocumentId([2; 16]),
                1_000,
            )
            .unwrap();
            doc.put(ROOT, key, value).unwrap();
            doc::commit(&mut doc, &author, "damaged", 2_000);
            let err = read(&mut doc).unwrap_err();
            assert!(matches!(err, Error::Malformed(_)), "{key}: {err:?}");
            let err = read_header(&mut doc).unwrap_err();
            assert!(matches!(err, Error::Malformed(_)), "{key}: {err:?}");
        }
    }

    /// A measure written before `recorded_at` existed orders by the time of the change that
    /// recorded it, which is the same moment.
    #[test]
    fn a_measure_without_recorded_at_orders_by_its_changes_time() {
        let author = Author {
            device: DeviceId([1; 16]),
            person: "Sam".into(),
        };
        let day = time::macros::date!(2026 - 11 - 20);
        let mut doc = create(
            &author,
            &NewPatient::named("Ada"),
            DocumentId([2; 16]),
            1_000,
        )
        .unwrap();
        doc::commit(&mut doc, &author, "created", 1_000);
        let items = [Some(5), Some(5), Some(5), Some(5)];
        let mut ids = Vec::new();
        for at in [3_000, 2_000] {
            // Recorded at 3,000 then at 2,000 by the clock (a device whose clock moved back);
            // the field then removed, as an older build never wrote it.
            let id = record_measure(&mut doc, &author, Instrument::Ons4, day, &items, at).unwrap();
            doc::commit(&mut doc, &author, "measured", at);
            let all = doc::require_obj(&doc, &ROOT, "measures").unwrap();
            let m = doc::require_obj(&doc, &all, &id.to_string()).unwrap();
            doc.delete(&m, "recorded_at").unwrap();
            doc::commit(&mut doc, &author, "older build", at + 500);
            ids.push(id);
        }
        let read = read(&mut doc).unwrap();
        let order: Vec<MeasureId> = read.measures.iter().map(|m| m.id).collect();
        assert_eq!(
            order,
            vec![ids[1], ids[0]],
            "by the recording change's time"
        );
        assert_eq!(read.measures[0].recorded_at, 2_000);
        assert_eq!(read.measures[1].recorded_at, 3_000);
    }
}
