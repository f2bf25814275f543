//! Changes to a case file: patients, referrals, status, sessions, safeguarding, supervision.

use holdfast_core::Store;
use holdfast_core::model::case_file::{
    CaseStatus, ClosureReason, ConcernStatus, DeclineReason, EscalationTarget, NewConcern,
    NewPatient, NewReferral, NewSession, ReferralDecision,
};
use holdfast_core::model::ids::{CommentId, ConcernId, DocumentId, ReferralId, SessionId};
use holdfast_core::model::nhs_number::NhsNumber;
use holdfast_core::model::postcode::Postcode;
use holdfast_core::store::IfDuplicate;
use serde::Serialize;

use super::Ctx;
use crate::args::{PatientAdd, ReferralAdd, SessionRecord};
use crate::clock::format_date;
use crate::error::{CliError, Result};
use crate::lookup;
use crate::output::{Output, short, words};

/// Opens the store and finds the case.
pub(super) fn open_case(ctx: &Ctx, typed: &str) -> Result<(Store, DocumentId)> {
    let store = ctx.device.open()?;
    let id = lookup::case(&store, typed)?;
    Ok((store, id))
}

/// An optional text option: blank counts as not given.
pub(super) fn given(v: Option<String>) -> Option<String> {
    v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
}

pub(super) fn add_patient(ctx: &Ctx, a: PatientAdd) -> Result<Output> {
    let nhs_number = given(a.nhs_number)
        .map(|n| NhsNumber::parse(&n))
        .transpose()
        .map_err(|e| CliError::input(format!("--nhs-number: {e}")))?;
    let postcode = given(a.postcode)
        .map(|p| Postcode::parse(&p))
        .transpose()
        .map_err(|e| CliError::input(format!("--postcode: {e}")))?;
    let patient = NewPatient {
        name: a.name,
        nhs_number,
        date_of_birth: a.dob,
        address: given(a.address),
        postcode,
        phone: given(a.phone),
        preferred_contact: a.contact,
        language: given(a.language),
        accessibility_needs: given(a.access),
        practice: given(a.practice),
    };
    let mut store = ctx.device.open()?;
    let name = patient.name.trim().to_owned();
    let if_duplicate = if a.deliberate_duplicate {
        IfDuplicate::Create
    } else {
        IfDuplicate::Refuse
    };
    let created = match store.create_case_file_with(patient, if_duplicate) {
        Err(holdfast_core::Error::DuplicatePatient { existing }) => {
            return Err(CliError::input(format!(
                "case {existing} already has this NHS number. A re-referral belongs on it: \
                 holdfast referral add {short} --source ... --reason \"...\". To open a \
                 separate case anyway, add --deliberate-duplicate.",
                short = short(&existing),
            )));
        }
        other => other?,
    };
    let text = format!(
        "Added {name} (status: referred).\n\
         \x20 case id  {case}\n\
         \x20 plan id  {plan}\n\
         Next: record the referral, e.g.\n\
         \x20 holdfast referral add {short} --source gp --reason \"...\"",
        case = created.case_id,
        plan = created.plan_id,
        short = short(&created.case_id),
    );
    Output::new(&created, text)
}

#[derive(Serialize)]
struct ReferralAdded {
    case_id: DocumentId,
    referral_id: ReferralId,
    re_referral: bool,
    status: Option<CaseStatus>,
}

pub(super) fn add_referral(ctx: &Ctx, a: ReferralAdd) -> Result<Output> {
    let (mut store, case_id) = open_case(ctx, &a.case)?;
    let referral = NewReferral {
        received: a.received.unwrap_or_else(|| ctx.clock.today()),
        source: a.source,
        referrer: given(a.referrer),
        reason: a.reason,
        needs: a.needs,
    };
    let referral_id = store.add_referral(case_id, &referral)?;
    let file = store.case_file(case_id)?;
    let re_referral = file
        .referrals
        .iter()
        .any(|r| r.id == referral_id && r.re_referral);
    let mut text = format!(
        "Referral recorded (received {}).\n  referral id  {referral_id}\n",
        format_date(referral.received)
    );
    if re_referral {
        text.push_str("The case was closed: this re-referral re-opens it as referred.\n");
    }
    text.push_str(&format!(
        "Decide with:\n  holdfast referral accept {c} {r}\n  holdfast referral decline {c} {r} --reason \"...\"",
        c = short(&case_id),
        r = short(&referral_id),
    ));
    let out = ReferralAdded {
        case_id,
        referral_id,
        re_referral,
        status: file.status.agreed().copied(),
    };
    Output::new(&out, text)
}

#[derive(Serialize)]
struct ReferralDecided {
    case_id: DocumentId,
    referral_id: ReferralId,
    decision: ReferralDecision,
    status: Option<CaseStatus>,
}

/// `holdfast referral decline … --code`: declined with a coded reason.
pub(super) fn decline_coded(
    ctx: &Ctx,
    case: &str,
    referral: &str,
    code: DeclineReason,
    reason: &str,
) -> Result<Output> {
    let (mut store, case_id) = open_case(ctx, case)?;
    let file = store.case_file(case_id)?;
    let referral_id = lookup::pick("referral", referral, file.referrals.iter().map(|r| r.id))?;
    store.decline_referral(case_id, referral_id, code, Some(reason))?;
    let status = store.case_file(case_id)?.status.agreed().copied();
    let text = match status {
        Some(s) => format!(
            "Referral declined ({}). The case is now {}.",
            words(code.as_str()),
            words(s.as_str())
        ),
        None => format!("Referral declined ({}).", words(code.as_str())),
    };
    let out = ReferralDecided {
        case_id,
        referral_id,
        decision: store
            .case_file(case_id)?
            .referrals
            .into_iter()
            .find(|r| r.id == referral_id)
            .and_then(|r| r.decision)
            .unwrap_or(ReferralDecision::Declined {
                reason: reason.to_owned(),
            }),
        status,
    };
    Output::new(&out, text)
}

pub(super) fn decide_referral(
    ctx: &Ctx,
    case: &str,
    referral: &str,
    declined_because: Option<String>,
) -> Result<Output> {
    let (mut store, case_id) = open_case(ctx, case)?;
    let file = store.case_file(case_id)?;
    let referral_id = lookup::pick("referral", referral, file.referrals.iter().map(|r| r.id))?;
    let decision = match declined_because {
        None => ReferralDecision::Accepted,
        Some(reason) => ReferralDecision::Declined { reason },
    };
    store.decide_referral(case_id, referral_id, &decision)?;
    let status = store.case_file(case_id)?.status.agreed().copied();
    let what = match decision {
        ReferralDecision::Accepted => "accepted",
        ReferralDecision::Declined { .. } => "declined",
    };
    let text = match status {
        Some(s) => format!("Referral {what}. The case is now {}.", words(s.as_str())),
        None => format!("Referral {what}."),
    };
    let out = ReferralDecided {
        case_id,
        referral_id,
        decision,
        status,
    };
    Output::new(&out, text)
}

#[derive(Serialize)]
struct StatusNow {
    case_id: DocumentId,
    status: CaseStatus,
}

pub(super) fn set_status(
    ctx: &Ctx,
    case: &str,
    status: CaseStatus,
    reason: Option<&str>,
    code: Option<ClosureReason>,
) -> Result<Output> {
    let (mut store, case_id) = open_case(ctx, case)?;
    match (status, code) {
        (CaseStatus::Closed, Some(code)) => store.close_case(case_id, code, reason)?,
        (_, Some(_)) => {
            return Err(CliError::input(
                "--code is a closure reason: it goes with `closed`; nothing was changed",
            ));
        }
        (_, None) => store.set_status(case_id, status, reason)?,
    }
    Output::new(
        &StatusNow { case_id, status },
        format!("The case is now {}.", words(status.as_str())),
    )
}

pub(super) fn resolve_status(ctx: &Ctx, case: &str, status: CaseStatus) -> Result<Output> {
    let (mut store, case_id) = open_case(ctx, case)?;
    store.resolve_status(case_id, status)?;
    Output::new(
        &StatusNow { case_id, status },
        format!(
            "Status conflict settled: the case is {}.",
            words(status.as_str())
        ),
    )
}

#[derive(Serialize)]
struct SessionRecorded {
    case_id: DocumentId,
    session_id: SessionId,
}

pub(super) fn record_session(ctx: &Ctx, a: SessionRecord) -> Result<Output> {
    let (mut store, case_id) = open_case(ctx, &a.case)?;
    let start = match a.at {
        Some(at) => ctx.clock.local_to_millis(at),
        None => ctx.clock.now_millis(),
    };
    let session = NewSession {
        start,
        duration_minutes: a.minutes,
        mode: a.mode,
        attended: !a.did_not_attend,
        note: a.note,
        holding_functions: a.holding,
        follow_up: a.follow_up,
    };
    let session_id = store.record_session(case_id, &session)?;
    let mut text = format!(
        "Session recorded: {}, {} minutes on {}{}.\n  session id  {session_id}",
        words(session.mode.as_str()),
        session.duration_minutes,
        ctx.clock.day_time(start),
        if session.attended {
            ""
        } else {
            " (did not attend)"
        },
    );
    if let Some(f) = session.follow_up {
        text.push_str(&format!("\nFollow up by {}.", format_date(f)));
    }
    Output::new(
        &SessionRecorded {
            case_id,
            session_id,
        },
        text,
    )
}

pub(super) fn amend_note(ctx: &Ctx, case: &str, session: &str, note: &str) -> Result<Output> {
    let (mut store, case_id) = open_case(ctx, case)?;
    let file = store.case_file(case_id)?;
    let session_id = lookup::pick("session", session, file.sessions.iter().map(|s| s.id))?;
    store.amend_session_note(case_id, session_id, note)?;
    Output::new(
        &SessionRecorded {
            case_id,
            session_id,
        },
        "Session note amended.",
    )
}

#[derive(Serialize)]
struct ConcernNow {
    case_id: DocumentId,
    concern_id: ConcernId,
    status: ConcernStatus,
    escalated_to: Option<EscalationTarget>,
}

impl ConcernNow {
    fn describe(&self) -> String {
        match (self.status, self.escalated_to) {
            (ConcernStatus::Escalated, Some(to)) => {
                format!("escalated to {}", words(to.as_str()))
            }
            (s, _) => words(s.as_str()),
        }
    }
}

pub(super) fn raise_concern(
    ctx: &Ctx,
    case: &str,
    description: &str,
    escalate: Option<EscalationTarget>,
) -> Result<Output> {
    let (mut store, case_id) = open_case(ctx, case)?;
    let concern_id = store.raise_concern(
        case_id,
        &NewConcern {
            description: description.to_owned(),
            escalated_to: escalate,
        },
    )?;
    let now = ConcernNow {
        case_id,
        concern_id,
        status: if escalate.is_some() {
            ConcernStatus::Escalated
        } else {
            ConcernStatus::Open
        },
        escalated_to: escalate,
    };
    let text = format!(
        "Safeguarding concern raised ({}).\n  concern id  {concern_id}",
        now.describe()
    );
    Output::new(&now, text)
}

fn find_concern(store: &mut Store, case_id: DocumentId, typed: &str) -> Result<ConcernId> {
    let file = store.case_file(case_id)?;
    lookup::pick(
        "safeguarding concern",
        typed,
        file.safeguarding.iter().map(|c| c.id),
    )
}

pub(super) fn concern_status(
    ctx: &Ctx,
    case: &str,
    concern: &str,
    status: ConcernStatus,
    to: Option<EscalationTarget>,
) -> Result<Output> {
    if status == ConcernStatus::Escalated && to.is_none() {
        return Err(CliError::input(
            "say where it was escalated with --to gp, local_authority, police or other",
        ));
    }
    let (mut store, case_id) = open_case(ctx, case)?;
    let concern_id = find_concern(&mut store, case_id, concern)?;
    store.set_concern_status(case_id, concern_id, status, to)?;
    let escalated_to = store
        .case_file(case_id)?
        .safeguarding
        .iter()
        .find(|c| c.id == concern_id)
        .and_then(|c| c.escalated_to);
    let now = ConcernNow {
        case_id,
        concern_id,
        status,
        escalated_to,
    };
    let text = format!("The safeguarding concern is now {}.", now.describe());
    Output::new(&now, text)
}

pub(super) fn resolve_concern(
    ctx: &Ctx,
    case: &str,
    concern: &str,
    status: ConcernStatus,
) -> Result<Output> {
    let (mut store, case_id) = open_case(ctx, case)?;
    let concern_id = find_concern(&mut store, case_id, concern)?;
    store.resolve_concern_status(case_id, concern_id, status)?;
    let escalated_to = store
        .case_file(case_id)?
        .safeguarding
        .iter()
        .find(|c| c.id == concern_id)
        .and_then(|c| c.escalated_to);
    let now = ConcernNow {
        case_id,
        concern_id,
        status,
        escalated_to,
    };
    let text = format!("Safeguarding status conflict settled: {}.", now.describe());
    Output::new(&now, text)
}

#[derive(Serialize)]
struct CommentAdded {
    case_id: DocumentId,
    comment_id: CommentId,
}

pub(super) fn supervision_comment(ctx: &Ctx, case: &str, text: &str) -> Result<Output> {
    let (mut store, case_id) = open_case(ctx, case)?;
    let comment_id = store.add_supervision_comment(case_id, text)?;
    Output::new(
        &CommentAdded {
            case_id,
            comment_id,
        },
        "Supervision comment added.",
    )
}
