//! The caseload and case files: what a link worker does on a visit.

use holdfast_core::model::case_file::SessionMode as CoreMode;
use holdfast_core::model::case_file::{CaseStatus as CoreStatus, NewPatient, NewSession};
use holdfast_core::model::ids::DocId;
use holdfast_core::store::CaseloadFilter;

use crate::device::{HoldfastDevice, parse_id};
use crate::error::{HoldfastError, Result};

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

/// One row of the caseload.
#[derive(Debug, Clone, uniffi::Record)]
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
#[derive(Debug, Clone, uniffi::Record)]
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
}

/// A session as recorded.
#[derive(Debug, Clone, uniffi::Record)]
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
}

/// A comment (supervision, or a patient's on their plan).
#[derive(Debug, Clone, uniffi::Record)]
pub struct CommentView {
    /// When (ms since the Unix epoch).
    pub at_ms: i64,
    /// Who.
    pub by: String,
    /// What.
    pub text: String,
}

/// A case file as the case screen shows it.
#[derive(Debug, Clone, uniffi::Record)]
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
}

fn date_arg(text: Option<String>) -> Result<Option<time::Date>> {
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
            .map(|e| CaseloadRow {
                case_id: e.case_id.to_string(),
                plan_id: e.plan_id.map(|p| p.to_string()),
                patient_name: e.patient_name,
                practice: e.practice,
                status: e.status.into(),
                status_conflicted: e.status_conflicted,
                next_follow_up: e.next_follow_up.map(holdfast_core::model::doc::format_date),
                open_safeguarding: e.open_safeguarding,
                session_count: e.session_count,
            })
            .collect())
    }

    /// Opens a case file (and the patient's empty action plan) for a new referral.
    pub fn create_case(&self, patient: NewPatientInput) -> Result<NewCase> {
        let mut p = NewPatient::named(&patient.name);
        p.nhs_number = patient
            .nhs_number
            .map(|n| holdfast_core::model::nhs_number::NhsNumber::parse(&n))
            .transpose()
            .map_err(|e| HoldfastError::from(holdfast_core::Error::from(e)))?;
        p.postcode = patient
            .postcode
            .map(|c| holdfast_core::model::postcode::Postcode::parse(&c))
            .transpose()
            .map_err(|e| HoldfastError::from(holdfast_core::Error::from(e)))?;
        p.practice = patient.practice;
        p.phone = patient.phone;
        let ids = self.store()?.create_case_file(p)?;
        Ok(NewCase {
            case_id: ids.case_id.to_string(),
            plan_id: ids.plan_id.to_string(),
        })
    }

    /// The case file as the case screen shows it.
    pub fn case_file(&self, case_id: String) -> Result<CaseView> {
        let id: DocId = parse_id("case", &case_id)?;
        let file = self.store()?.case_file(id)?;
        Ok(CaseView {
            case_id,
            patient_name: file.patient.name.clone(),
            status_versions: file.status.values().map(|s| (*s).into()).collect(),
            sessions: file
                .sessions
                .iter()
                .map(|s| SessionView {
                    session_id: s.id.to_string(),
                    start_ms: s.start,
                    duration_minutes: s.duration_minutes,
                    mode: mode_from_core(s.mode),
                    attended: s.attended,
                    note_versions: s.note.values().cloned().collect(),
                    recorded_by: s.recorded_by.clone(),
                })
                .collect(),
            supervision: file
                .supervision
                .iter()
                .map(|c| CommentView {
                    at_ms: c.at,
                    by: c.by.clone(),
                    text: c.text.clone(),
                })
                .collect(),
            plan_id: file.action_plan.map(|p| p.to_string()),
        })
    }

    /// Records a session (a home visit, a call...) on the case. Works offline.
    pub fn record_session(&self, case_id: String, session: SessionInput) -> Result<String> {
        let id: DocId = parse_id("case", &case_id)?;
        let new = NewSession {
            start: session.start_ms,
            duration_minutes: session.duration_minutes,
            mode: mode_to_core(session.mode)?,
            attended: session.attended,
            note: session.note,
            holding_functions: vec![],
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
        let id: DocId = parse_id("case", &case_id)?;
        Ok(self
            .store()?
            .set_status(id, status.into(), reason.as_deref())?)
    }

    /// A supervisor's comment on the case.
    pub fn add_supervision_comment(&self, case_id: String, text: String) -> Result<()> {
        let id: DocId = parse_id("case", &case_id)?;
        self.store()?.add_supervision_comment(id, &text)?;
        Ok(())
    }
}
