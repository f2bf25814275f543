//! The caseload and case files: what a link worker does on a visit.

use holdfast_core::model::case_file::SessionMode as CoreMode;
use holdfast_core::model::case_file::{
    CaseFile, CaseStatus as CoreStatus, ContactMethod as CoreContact,
    HoldingFunction as CoreHolding, NewPatient, NewSession, Patient,
};
use holdfast_core::model::doc::{Claim, format_date};
use holdfast_core::model::ids::{DocumentId, SessionId};
use holdfast_core::model::nhs_number::NhsNumber;
use holdfast_core::model::postcode::Postcode;
use holdfast_core::store::{CaseloadFilter, IfDuplicate};

use crate::device::{HoldfastDevice, parse_id, parse_item_id};
use crate::error::{HoldfastError, Result};
use crate::measures::{
    MeasureChangeView, MeasureNotCompletedView, MeasureView, measure_changes, measure_view,
    not_completed_view,
};
use crate::oversight::{
    CommentAckView, HandoverView, HolderView, ReviewMarkView, RingBackView, oversight_views,
};
use crate::referrals::{ReferralView, referral_view};
use crate::safeguarding::{ConcernView, concern_view};

/// Where a case is in social prescribing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum CaseStatus {
    /// Referred, not yet accepted.
    Referred,
    /// Working together.
    Active,
    /// Held while waiting (for a service, for readiness).
    Holding,
    /// Reducing contact towards closure.
    Tapering,
    /// Closed; a re-referral reopens it.
    Closed,
}

impl From<CoreStatus> for CaseStatus {
    fn from(s: CoreStatus) -> Self {
        match s {
            CoreStatus::Referred => CaseStatus::Referred,
            CoreStatus::Active => CaseStatus::Active,
            CoreStatus::Holding => CaseStatus::Holding,
            CoreStatus::Tapering => CaseStatus::Tapering,
            CoreStatus::Closed => CaseStatus::Closed,
        }
    }
}

impl From<CaseStatus> for CoreStatus {
    fn from(s: CaseStatus) -> Self {
        match s {
            CaseStatus::Referred => CoreStatus::Referred,
            CaseStatus::Active => CoreStatus::Active,
            CaseStatus::Holding => CoreStatus::Holding,
            CaseStatus::Tapering => CoreStatus::Tapering,
            CaseStatus::Closed => CoreStatus::Closed,
        }
    }
}

/// How a session took place.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum SessionMode {
    /// At the patient's home.
    HomeVisit,
    /// At a GP practice.
    Practice,
    /// By phone.
    Phone,
    /// By video call.
    Video,
    /// Somewhere in the community.
    Community,
}

fn mode_to_core(m: SessionMode) -> Result<CoreMode> {
    let name = match m {
        SessionMode::HomeVisit => "home_visit",
        SessionMode::Practice => "practice",
        SessionMode::Phone => "phone",
        SessionMode::Video => "video",
        SessionMode::Community => "community",
    };
    name.parse()
        .map_err(|_| HoldfastError::internal(format!("session mode {name} unknown to the core")))
}

fn mode_from_core(m: CoreMode) -> SessionMode {
    match m.as_str() {
        "home_visit" => SessionMode::HomeVisit,
        "practice" => SessionMode::Practice,
        "phone" => SessionMode::Phone,
        "video" => SessionMode::Video,
        _ => SessionMode::Community,
    }
}

/// What a holding contact did for the patient.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum HoldingFunction {
    /// Waiting for a service to have a place.
    WaitingForService,
    /// Helping the person get ready for change.
    PreparingForChange,
    /// Taking non-medical load off clinicians.
    ReducingClinicianBurden,
    /// Listening and acknowledging, when nothing else can be done yet.
    BearingWitness,
}

impl From<HoldingFunction> for CoreHolding {
    fn from(f: HoldingFunction) -> Self {
        match f {
            HoldingFunction::WaitingForService => CoreHolding::WaitingForService,
            HoldingFunction::PreparingForChange => CoreHolding::PreparingForChange,
            HoldingFunction::ReducingClinicianBurden => CoreHolding::ReducingClinicianBurden,
            HoldingFunction::BearingWitness => CoreHolding::BearingWitness,
        }
    }
}

impl From<CoreHolding> for HoldingFunction {
    fn from(f: CoreHolding) -> Self {
        match f {
            CoreHolding::WaitingForService => HoldingFunction::WaitingForService,
            CoreHolding::PreparingForChange => HoldingFunction::PreparingForChange,
            CoreHolding::ReducingClinicianBurden => HoldingFunction::ReducingClinicianBurden,
            CoreHolding::BearingWitness => HoldingFunction::BearingWitness,
        }
    }
}

/// How the patient prefers to be contacted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum ContactMethod {
    /// Phone call.
    Phone,
    /// Text message.
    Text,
    /// Email.
    Email,
    /// Letter.
    Letter,
    /// Through a carer or family member.
    ViaCarer,
}

impl From<ContactMethod> for CoreContact {
    fn from(c: ContactMethod) -> Self {
        match c {
            ContactMethod::Phone => CoreContact::Phone,
            ContactMethod::Text => CoreContact::Text,
            ContactMethod::Email => CoreContact::Email,
            ContactMethod::Letter => CoreContact::Letter,
            ContactMethod::ViaCarer => CoreContact::ViaCarer,
        }
    }
}

impl From<CoreContact> for ContactMethod {
    fn from(c: CoreContact) -> Self {
        match c {
            CoreContact::Phone => ContactMethod::Phone,
            CoreContact::Text => ContactMethod::Text,
            CoreContact::Email => ContactMethod::Email,
            CoreContact::Letter => ContactMethod::Letter,
            CoreContact::ViaCarer => ContactMethod::ViaCarer,
        }
    }
}

/// One row of the caseload.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct CaseloadRow {
    /// The case file.
    pub case_id: String,
    /// The patient's action plan.
    pub plan_id: Option<String>,
    /// The patient's name.
    pub patient_name: String,
    /// Their GP practice.
    pub practice: Option<String>,
    /// The case's status (the provisional one while conflicted).
    pub status: CaseStatus,
    /// Two devices set different statuses concurrently: someone must choose.
    pub status_conflicted: bool,
    /// The next follow-up (YYYY-MM-DD).
    pub next_follow_up: Option<String>,
    /// Open safeguarding concerns.
    pub open_safeguarding: u32,
    /// Sessions recorded.
    pub session_count: u32,
    /// The patient's NHS number, if recorded.
    pub nhs_number: Option<String>,
    /// The last session the patient attended (ms since the Unix epoch).
    pub last_contact_ms: Option<i64>,
}

/// Which cases to list (every field narrows the list; the default lists everything).
#[derive(Debug, Clone, Default, PartialEq, Eq, uniffi::Record)]
pub struct CaseloadQuery {
    /// Only cases of this team (a link worker in two teams keeps two caseloads).
    #[uniffi(default)]
    pub team_id: Option<String>,
    /// Only cases in this status.
    #[uniffi(default)]
    pub status: Option<CaseStatus>,
    /// Only patients of this GP practice.
    #[uniffi(default)]
    pub practice: Option<String>,
    /// Only cases whose follow-up is due on or before this day (YYYY-MM-DD).
    #[uniffi(default)]
    pub follow_up_by: Option<String>,
    /// Only cases with an open safeguarding concern (a supervisor's list).
    #[uniffi(default)]
    pub safeguarding_only: bool,
}

/// A patient's details: as the case screen shows them, and as `update_patient` takes them
/// (read them, change what changed, pass them back).
#[derive(Debug, Clone, Default, PartialEq, Eq, uniffi::Record)]
pub struct PatientDetails {
    /// Full name (required).
    pub name: String,
    /// NHS number (10 digits; checked).
    #[uniffi(default)]
    pub nhs_number: Option<String>,
    /// Date of birth (YYYY-MM-DD).
    #[uniffi(default)]
    pub date_of_birth: Option<String>,
    /// Address, one line.
    #[uniffi(default)]
    pub address: Option<String>,
    /// Postcode (checked).
    #[uniffi(default)]
    pub postcode: Option<String>,
    /// Phone.
    #[uniffi(default)]
    pub phone: Option<String>,
    /// How they prefer to be contacted.
    #[uniffi(default)]
    pub preferred_contact: Option<ContactMethod>,
    /// Preferred language.
    #[uniffi(default)]
    pub language: Option<String>,
    /// Accessibility needs (interpreter, large print, step-free access).
    #[uniffi(default)]
    pub accessibility_needs: Option<String>,
    /// The GP practice they are registered with.
    #[uniffi(default)]
    pub practice: Option<String>,
}

fn nhs_arg(text: Option<String>) -> Result<Option<NhsNumber>> {
    text.map(|n| NhsNumber::parse(&n))
        .transpose()
        .map_err(|e| holdfast_core::Error::from(e).into())
}

fn postcode_arg(text: Option<String>) -> Result<Option<Postcode>> {
    text.map(|c| Postcode::parse(&c))
        .transpose()
        .map_err(|e| holdfast_core::Error::from(e).into())
}

impl PatientDetails {
    fn into_core(self) -> Result<Patient> {
        Ok(Patient {
            name: self.name,
            nhs_number: nhs_arg(self.nhs_number)?,
            date_of_birth: date_arg(self.date_of_birth)?,
            address: self.address,
            postcode: postcode_arg(self.postcode)?,
            phone: self.phone,
            preferred_contact: self.preferred_contact.map(Into::into),
            language: self.language,
            accessibility_needs: self.accessibility_needs,
            practice: self.practice,
        })
    }

    fn from_core(p: Patient) -> Self {
        PatientDetails {
            name: p.name,
            nhs_number: p.nhs_number.map(|n| n.as_str().to_owned()),
            date_of_birth: p.date_of_birth.map(format_date),
            address: p.address,
            postcode: p.postcode.map(|c| c.to_string()),
            phone: p.phone,
            preferred_contact: p.preferred_contact.map(Into::into),
            language: p.language,
            accessibility_needs: p.accessibility_needs,
            practice: p.practice,
        }
    }
}

impl HoldfastDevice {
    fn new_case(&self, patient: NewPatientInput, if_duplicate: IfDuplicate) -> Result<NewCase> {
        let mut p = NewPatient::named(&patient.name);
        p.nhs_number = nhs_arg(patient.nhs_number)?;
        p.postcode = postcode_arg(patient.postcode)?;
        p.practice = patient.practice;
        p.phone = patient.phone;
        let ids = self.store()?.create_case_file_with(p, if_duplicate)?;
        Ok(NewCase {
            case_id: ids.case_id.to_string(),
            plan_id: ids.plan_id.to_string(),
        })
    }
}

/// A new patient's details (only the name is required).
#[derive(Debug, Clone, uniffi::Record)]
pub struct NewPatientInput {
    /// Name.
    pub name: String,
    /// NHS number (10 digits; checked).
    pub nhs_number: Option<String>,
    /// Postcode (checked).
    pub postcode: Option<String>,
    /// GP practice.
    pub practice: Option<String>,
    /// Phone.
    pub phone: Option<String>,
}

/// The ids of a new case.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct NewCase {
    /// The case file.
    pub case_id: String,
    /// The patient's action plan.
    pub plan_id: String,
}

/// A session to record.
#[derive(Debug, Clone, uniffi::Record)]
pub struct SessionInput {
    /// When it started (ms since the Unix epoch).
    pub start_ms: i64,
    /// Minutes.
    pub duration_minutes: u32,
    /// How.
    pub mode: SessionMode,
    /// Whether the patient attended.
    pub attended: bool,
    /// The note.
    pub note: String,
    /// When to follow up (YYYY-MM-DD).
    pub follow_up: Option<String>,
    /// What holding did, if this was a holding contact.
    #[uniffi(default)]
    pub holding_functions: Vec<HoldingFunction>,
}

/// One of several values devices set concurrently for a note, with who set it and when.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct NoteClaim {
    /// The note as this device wrote it.
    pub value: String,
    /// The device that wrote it.
    pub device_id: Option<String>,
    /// The person.
    pub by: Option<String>,
    /// When (ms since the Unix epoch, by the author's clock).
    pub at_ms: Option<i64>,
}

/// One of several statuses devices set concurrently, with who set it and when.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct StatusClaim {
    /// The status this device set.
    pub value: CaseStatus,
    /// The device that set it.
    pub device_id: Option<String>,
    /// The person.
    pub by: Option<String>,
    /// When (ms since the Unix epoch, by the author's clock).
    pub at_ms: Option<i64>,
}

/// Who made a claim and when: (device id, person, ms).
pub(crate) fn claim_author<T>(c: &Claim<T>) -> (Option<String>, Option<String>, Option<i64>) {
    (c.device.map(|d| d.to_string()), c.by.clone(), c.at)
}

/// One step of the status lifecycle.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct StatusChangeView {
    /// The status before (none for the first, and for a resolved conflict).
    pub from: Option<CaseStatus>,
    /// The status after.
    pub to: CaseStatus,
    /// When (ms since the Unix epoch).
    pub at_ms: i64,
    /// Who.
    pub by: String,
    /// Why, if given.
    pub reason: Option<String>,
}

/// A session as recorded.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct SessionView {
    /// Its id.
    pub session_id: String,
    /// When it started (ms since the Unix epoch).
    pub start_ms: i64,
    /// Minutes.
    pub duration_minutes: u32,
    /// How.
    pub mode: SessionMode,
    /// Whether the patient attended.
    pub attended: bool,
    /// The note (every concurrent version when amended on two devices at once).
    pub note_versions: Vec<String>,
    /// Who recorded it.
    pub recorded_by: String,
    /// Every concurrent version of the note with who wrote it and when (one when agreed;
    /// amending the note again resolves a conflict).
    pub note_claims: Vec<NoteClaim>,
    /// What holding did, if this was a holding contact.
    pub holding_functions: Vec<HoldingFunction>,
    /// When to follow up (YYYY-MM-DD).
    pub follow_up: Option<String>,
}

/// A comment (supervision, or a patient's on their plan).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct CommentView {
    /// Its id (16 hex digits; a supervision comment's, for `acknowledge_comment`).
    pub comment_id: String,
    /// When (ms since the Unix epoch).
    pub at_ms: i64,
    /// Who.
    pub by: String,
    /// What.
    pub text: String,
}

/// A case file as the case screen shows it.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct CaseView {
    /// The case file.
    pub case_id: String,
    /// The patient's name.
    pub patient_name: String,
    /// Every status set concurrently (one when agreed).
    pub status_versions: Vec<CaseStatus>,
    /// Sessions, oldest first.
    pub sessions: Vec<SessionView>,
    /// Supervision comments.
    pub supervision: Vec<CommentView>,
    /// The patient's action plan.
    pub plan_id: Option<String>,
    /// The patient's details.
    pub patient: PatientDetails,
    /// Every status set concurrently with who set it and when (one when agreed).
    pub status_claims: Vec<StatusClaim>,
    /// Devices disagree on the status: `resolve_status` with one of `status_claims`.
    pub status_conflicted: bool,
    /// Every status change, in the order made.
    pub status_log: Vec<StatusChangeView>,
    /// Referrals, oldest first.
    pub referrals: Vec<ReferralView>,
    /// Outcome measures, oldest first.
    pub measures: Vec<MeasureView>,
    /// Measures offered and not completed, oldest first.
    pub measures_not_completed: Vec<MeasureNotCompletedView>,
    /// For each instrument measured at least twice: the change from the first to the latest.
    pub measure_changes: Vec<MeasureChangeView>,
    /// Safeguarding concerns, oldest first.
    pub safeguarding: Vec<ConcernView>,
    /// The last session the patient attended (ms since the Unix epoch).
    pub last_contact_ms: Option<i64>,
    /// The follow-up date of the latest session (YYYY-MM-DD).
    pub next_follow_up: Option<String>,
    /// Who holds the case (contested when assigned to different people on two devices at
    /// once); none only for a case from before assignments existed.
    pub holder: Option<HolderView>,
    /// Every change of who holds it, in the order made.
    pub handovers: Vec<HandoverView>,
    /// Each supervisor's latest review mark.
    pub reviews: Vec<ReviewMarkView>,
    /// Supervision comments the link worker holding the case has acknowledged.
    pub comment_acks: Vec<CommentAckView>,
    /// Calls owed to the patient (and made), by due day.
    pub ring_backs: Vec<RingBackView>,
}

fn session_view(s: &holdfast_core::model::case_file::Session) -> SessionView {
    SessionView {
        session_id: s.id.to_string(),
        start_ms: s.start,
        duration_minutes: s.duration_minutes,
        mode: mode_from_core(s.mode),
        attended: s.attended,
        note_versions: s.note.values().cloned().collect(),
        recorded_by: s.recorded_by.clone(),
        note_claims: s
            .note
            .claims
            .iter()
            .map(|c| {
                let (device_id, by, at_ms) = claim_author(c);
                NoteClaim {
                    value: c.value.clone(),
                    device_id,
                    by,
                    at_ms,
                }
            })
            .collect(),
        holding_functions: s.holding_functions.iter().map(|f| (*f).into()).collect(),
        follow_up: s.follow_up.map(format_date),
    }
}

fn case_view(case_id: String, file: CaseFile) -> CaseView {
    let oversight = oversight_views(&file.oversight);
    CaseView {
        case_id,
        patient_name: file.patient.name.clone(),
        status_versions: file.status.values().map(|s| (*s).into()).collect(),
        sessions: file.sessions.iter().map(session_view).collect(),
        supervision: file
            .supervision
            .iter()
            .map(|c| CommentView {
                comment_id: c.id.to_string(),
                at_ms: c.at,
                by: c.by.clone(),
                text: c.text.clone(),
            })
            .collect(),
        plan_id: file.action_plan.map(|p| p.to_string()),
        status_claims: file
            .status
            .claims
            .iter()
            .map(|c| {
                let (device_id, by, at_ms) = claim_author(c);
                StatusClaim {
                    value: c.value.into(),
                    device_id,
                    by,
                    at_ms,
                }
            })
            .collect(),
        status_conflicted: file.status.is_conflicted(),
        status_log: file
            .status_log
            .iter()
            .map(|c| StatusChangeView {
                from: c.from.map(Into::into),
                to: c.to.into(),
                at_ms: c.at,
                by: c.by.clone(),
                reason: c.reason.clone(),
            })
            .collect(),
        referrals: file.referrals.iter().map(referral_view).collect(),
        measures: file.measures.iter().map(measure_view).collect(),
        measures_not_completed: file
            .measures_not_completed
            .iter()
            .map(not_completed_view)
            .collect(),
        measure_changes: measure_changes(&file),
        safeguarding: file.safeguarding.iter().map(concern_view).collect(),
        last_contact_ms: file.last_contact(),
        next_follow_up: file.next_follow_up().map(format_date),
        patient: PatientDetails::from_core(file.patient),
        holder: oversight.holder,
        handovers: oversight.handovers,
        reviews: oversight.reviews,
        comment_acks: oversight.comment_acks,
        ring_backs: oversight.ring_backs,
    }
}

/// Rows a caseload page may hold.
const MAX_CASELOAD_PAGE: u32 = 1_000;

fn caseload_filter(query: CaseloadQuery) -> Result<CaseloadFilter> {
    Ok(CaseloadFilter {
        team: query.team_id.map(|t| parse_id("team", &t)).transpose()?,
        status: query.status.map(Into::into),
        practice: query.practice,
        follow_up_by: date_arg(query.follow_up_by)?,
        safeguarding_only: query.safeguarding_only,
    })
}

/// A row the host was given back, as the core lists it (where the next page starts).
fn caseload_entry(r: CaseloadRow) -> Result<holdfast_core::store::CaseloadEntry> {
    Ok(holdfast_core::store::CaseloadEntry {
        case_id: parse_id("case", &r.case_id)?,
        plan_id: r.plan_id.map(|p| parse_id("plan", &p)).transpose()?,
        patient_name: r.patient_name,
        nhs_number: r.nhs_number,
        practice: r.practice,
        status: r.status.into(),
        status_conflicted: r.status_conflicted,
        last_contact: r.last_contact_ms,
        next_follow_up: date_arg(r.next_follow_up)?,
        open_safeguarding: r.open_safeguarding,
        session_count: r.session_count,
    })
}

fn caseload_row(e: holdfast_core::store::CaseloadEntry) -> CaseloadRow {
    CaseloadRow {
        case_id: e.case_id.to_string(),
        plan_id: e.plan_id.map(|p| p.to_string()),
        patient_name: e.patient_name,
        practice: e.practice,
        status: e.status.into(),
        status_conflicted: e.status_conflicted,
        next_follow_up: e.next_follow_up.map(format_date),
        open_safeguarding: e.open_safeguarding,
        session_count: e.session_count,
        nhs_number: e.nhs_number,
        last_contact_ms: e.last_contact,
    }
}

pub(crate) fn date_arg(text: Option<String>) -> Result<Option<time::Date>> {
    text.map(|t| holdfast_core::model::doc::parse_date(&t))
        .transpose()
        .map_err(HoldfastError::from)
}

#[uniffi::export]
impl HoldfastDevice {
    /// The caseload of `team` (every team when null), follow-ups due first.
    pub fn caseload(&self, team: Option<String>) -> Result<Vec<CaseloadRow>> {
        let team = team.map(|t| parse_id("team", &t)).transpose()?;
        let filter = CaseloadFilter {
            team,
            ..CaseloadFilter::default()
        };
        Ok(self
            .store()?
            .caseload(&filter)?
            .into_iter()
            .map(caseload_row)
            .collect())
    }

    /// The caseload narrowed by `query` (status, practice, follow-ups due, open
    /// safeguarding, team), follow-ups due first.
    pub fn caseload_filtered(&self, query: CaseloadQuery) -> Result<Vec<CaseloadRow>> {
        let filter = caseload_filter(query)?;
        Ok(self
            .store()?
            .caseload(&filter)?
            .into_iter()
            .map(caseload_row)
            .collect())
    }

    /// One page of the caseload narrowed by `query`, in `caseload_filtered`'s order: at
    /// most `limit` rows (1 to 1,000) after `after`, the last row of the previous page
    /// (none for the first). A page costs what it lists, however many cases the device
    /// holds, and an edit between pages neither skips nor repeats a case.
    pub fn caseload_page(
        &self,
        query: CaseloadQuery,
        limit: u32,
        after: Option<CaseloadRow>,
    ) -> Result<Vec<CaseloadRow>> {
        if !(1..=MAX_CASELOAD_PAGE).contains(&limit) {
            return Err(HoldfastError::invalid(format!(
                "a caseload page holds 1 to {MAX_CASELOAD_PAGE} rows"
            )));
        }
        let filter = caseload_filter(query)?;
        let after = after.map(caseload_entry).transpose()?;
        Ok(self
            .store()?
            .caseload_page(&filter, limit, after.as_ref())?
            .into_iter()
            .map(caseload_row)
            .collect())
    }

    /// Opens a case file (and the patient's empty action plan) for a new referral. Refused
    /// with `DuplicatePatient` (naming the case) when a case in the team already has the
    /// NHS number: a re-referral belongs on that case.
    pub fn create_case(&self, patient: NewPatientInput) -> Result<NewCase> {
        self.new_case(patient, IfDuplicate::Refuse)
    }

    /// Opens a second case for a patient whose NHS number is already on a case of the team,
    /// after the user has confirmed it is deliberate.
    pub fn create_duplicate_case(&self, patient: NewPatientInput) -> Result<NewCase> {
        self.new_case(patient, IfDuplicate::Create)
    }

    /// The case of the team with this NHS number (10 digits, spaces allowed), if there is one.
    pub fn find_case_by_nhs_number(&self, nhs_number: String) -> Result<Option<String>> {
        let number = nhs_arg(Some(nhs_number))?
            .ok_or_else(|| HoldfastError::invalid("no NHS number given"))?;
        Ok(self
            .store()?
            .find_case_by_nhs_number(&number)?
            .map(|id| id.to_string()))
    }

    /// The case file as the case screen shows it.
    pub fn case_file(&self, case_id: String) -> Result<CaseView> {
        let id: DocumentId = parse_id("case", &case_id)?;
        let file = self.store()?.case_file(id)?;
        Ok(case_view(case_id, file))
    }

    /// Records a session (a home visit, a call...) on the case. Works offline.
    pub fn record_session(&self, case_id: String, session: SessionInput) -> Result<String> {
        let id: DocumentId = parse_id("case", &case_id)?;
        let new = NewSession {
            start: session.start_ms,
            duration_minutes: session.duration_minutes,
            mode: mode_to_core(session.mode)?,
            attended: session.attended,
            note: session.note,
            holding_functions: session
                .holding_functions
                .into_iter()
                .map(Into::into)
                .collect(),
            follow_up: date_arg(session.follow_up)?,
        };
        Ok(self.store()?.record_session(id, &new)?.to_string())
    }

    /// Moves the case to `status` (only the lifecycle's legal moves; a conflicted status
    /// must be resolved first).
    pub fn set_status(
        &self,
        case_id: String,
        status: CaseStatus,
        reason: Option<String>,
    ) -> Result<()> {
        let id: DocumentId = parse_id("case", &case_id)?;
        Ok(self
            .store()?
            .set_status(id, status.into(), reason.as_deref())?)
    }

    /// Ends a status conflict (two devices set different statuses while apart) by choosing
    /// one of the competing values in `CaseView.status_claims`.
    pub fn resolve_status(&self, case_id: String, chosen: CaseStatus) -> Result<()> {
        let id: DocumentId = parse_id("case", &case_id)?;
        Ok(self.store()?.resolve_status(id, chosen.into())?)
    }

    /// Replaces a session's note (also how a conflict between two amendments is resolved:
    /// the note written here replaces every competing version).
    pub fn amend_session_note(
        &self,
        case_id: String,
        session_id: String,
        note: String,
    ) -> Result<()> {
        let id: DocumentId = parse_id("case", &case_id)?;
        let session: SessionId = parse_item_id("session", &session_id)?;
        Ok(self.store()?.amend_session_note(id, session, &note)?)
    }

    /// Replaces the patient's details (unchanged fields are left alone). NHS number,
    /// postcode and date of birth are checked first; nothing changes if one is wrong. A new
    /// NHS number already on another case of the team is refused with `DuplicatePatient`.
    pub fn update_patient(&self, case_id: String, patient: PatientDetails) -> Result<()> {
        let id: DocumentId = parse_id("case", &case_id)?;
        let patient = patient.into_core()?;
        Ok(self.store()?.update_patient(id, &patient)?)
    }

    /// [`HoldfastDevice::update_patient`] after the user has confirmed that the NHS number
    /// is meant to be on two cases.
    pub fn update_patient_deliberately(
        &self,
        case_id: String,
        patient: PatientDetails,
    ) -> Result<()> {
        let id: DocumentId = parse_id("case", &case_id)?;
        let patient = patient.into_core()?;
        Ok(self
            .store()?
            .update_patient_with(id, &patient, IfDuplicate::Create)?)
    }

    /// A supervisor's comment on the case; returns its id. It reaches the link worker
    /// holding the case in `new_supervision_comments` until they acknowledge it.
    pub fn add_supervision_comment(&self, case_id: String, text: String) -> Result<String> {
        let id: DocumentId = parse_id("case", &case_id)?;
        Ok(self
            .store()?
            .add_supervision_comment(id, &text)?
            .to_string())
    }
}
