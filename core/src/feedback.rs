//! The message back to the GP and the referrer (issue 13): what happened with a referral, as
//! readable text and as a FHIR R4 document `Bundle` a GP system can file. Built on the
//! device, offline, from the case file and the plan; sending it (MESH, GP Connect) is out of
//! scope.
//!
//! **What goes in, and what never does.** The person's demographics, the referral, the
//! decision, what matters to them and their goals, the community connections made, the
//! outcome measures, the number of contacts, and the closure. Never session notes, holding
//! notes, status reasons, safeguarding or supervision: the only free text the link worker
//! adds is what they choose to add (`FeedbackRequest::addition`). A test proves it.
//!
//! **Headings.** The sections follow the shape of the PRSB Social Prescribing Information
//! Standard's "message back to GP and referrer" (demographics, referral, outcome, needs and
//! what matters, support offered, outcomes, contacts, person completing the record). The
//! element-level wording of that standard could not be checked from here (docs/CODES.md):
//! the titles live in [`SECTIONS`] alone, so correcting them touches no logic.
//!
//! **Codes.** SNOMED CT where a code was verified (871731000000106 referral to social
//! prescribing service; 718466001 SWEMWBS score); a documented local code system
//! ([`LOCAL_CODES`]) for the rest (ONS4 items, GSE total, contact count).

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use time::Date;

use crate::model::action_plan::{ActionPlan, ConnectionStatus, GoalStatus};
use crate::model::case_file::{CaseFile, CaseStatus, ReferralDecision};
use crate::model::doc::format_date;
use crate::model::ids::DocumentId;
use crate::model::measures::{Instrument, Ons4Question, Score};

/// SNOMED CT's system URI.
pub const SNOMED: &str = "http://snomed.info/sct";
/// Holdfast's local code system, for what SNOMED CT has no verified code for (docs/CODES.md).
pub const LOCAL_CODES: &str = "https://holdfast.invalid/fhir/CodeSystem/social-prescribing";
/// SNOMED CT: referral to social prescribing service (procedure).
pub const SNOMED_REFERRAL: &str = "871731000000106";
/// SNOMED CT: social prescribing declined (situation).
pub const SNOMED_DECLINED: &str = "871711000000103";
/// SNOMED CT: did not attend (finding).
pub const SNOMED_DNA: &str = "281399006";
/// SNOMED CT: Short Warwick-Edinburgh Mental Well-being Scale score.
pub const SNOMED_SWEMWBS: &str = "718466001";

/// When in the referral's life the message is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FeedbackKind {
    /// The referral was accepted: who will work with the person.
    Accepted,
    /// The referral was declined.
    Declined,
    /// The case closed: what happened.
    Closed,
}

impl FeedbackKind {
    /// Every kind, in the order a referral meets them.
    pub const ALL: &'static [FeedbackKind] = &[
        FeedbackKind::Accepted,
        FeedbackKind::Declined,
        FeedbackKind::Closed,
    ];

    /// The stable name ("accepted", "declined", "closed").
    pub fn as_str(self) -> &'static str {
        match self {
            FeedbackKind::Accepted => "accepted",
            FeedbackKind::Declined => "declined",
            FeedbackKind::Closed => "closed",
        }
    }
}

/// What the link worker asks for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedbackRequest {
    /// At acceptance, decline or closure.
    pub kind: FeedbackKind,
    /// Text the link worker chooses to add (the only free text that goes in).
    pub addition: Option<String>,
    /// The link worker writing (the person completing the record).
    pub author: String,
    /// When it is written (ms since the epoch).
    pub now: i64,
}

/// The message back, ready to file or send.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GpFeedback {
    /// Which message.
    pub kind: FeedbackKind,
    /// The readable text, heading by heading.
    pub text: String,
    /// The FHIR R4 document Bundle (JSON).
    pub bundle: Value,
}

impl GpFeedback {
    /// The Bundle as pretty JSON, for a file.
    pub fn bundle_json(&self) -> String {
        serde_json::to_string_pretty(&self.bundle).unwrap_or_default()
    }
}

/// The section titles, in order (one place to correct them against the standard).
pub const SECTIONS: [&str; 9] = [
    "Person demographics",
    "Referral details",
    "Outcome of the referral",
    "What matters to the person and their goals",
    "Support offered and community connections",
    "Outcome measures",
    "Contacts with the link worker",
    "Additional information from the link worker",
    "Person completing the record",
];

/// A community asset's name, for the support section (the plan holds only its id).
pub type AssetName<'a> = &'a dyn Fn(DocumentId, crate::model::ids::AssetId) -> Option<String>;

/// Builds the message. `plan` is the person's action plan (none: no plan section).
pub fn build(
    case_id: DocumentId,
    case: &CaseFile,
    plan: Option<&ActionPlan>,
    asset_name: AssetName<'_>,
    request: &FeedbackRequest,
) -> GpFeedback {
    let mut b = Builder::new(case_id, request);
    let patient = b.patient(case);
    let referral = b.referral(case, &patient, request.kind);
    let mut sections: Vec<(usize, String, Vec<String>)> = Vec::new();
    sections.push((0, demographics_text(case), vec![patient.clone()]));
    sections.push((1, referral_text(case), vec![referral.clone()]));
    let reason = coded_reason(case, request.kind);
    let mut outcome = outcome_text(case, request.kind);
    let mut outcome_refs = Vec::new();
    if let Some(r) = &reason {
        outcome.push_str(&format!(" Reason: {}.", r.words));
        outcome_refs.push(b.reason(r, &patient));
    }
    sections.push((2, outcome, outcome_refs));
    if request.kind != FeedbackKind::Declined
        && let Some(plan) = plan
    {
        let (goal_refs, care_plan) = b.care_plan(plan, &patient, &referral, request.kind);
        let mut refs = vec![care_plan];
        refs.extend(goal_refs);
        sections.push((3, plan_text(plan), refs));
        sections.push((4, support_text(plan, asset_name), Vec::new()));
    }
    if request.kind == FeedbackKind::Closed {
        let refs = b.measures(case, &patient);
        sections.push((5, measures_text(case), refs));
    }
    if request.kind != FeedbackKind::Declined {
        let contacts = attended(case);
        let r = b.contact_count(contacts, &patient);
        sections.push((
            6,
            format!("{contacts} contact(s) with the link worker in which the person took part."),
            vec![r],
        ));
    }
    if let Some(extra) = request
        .addition
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        sections.push((7, extra.to_owned(), Vec::new()));
    }
    sections.push((
        8,
        format!(
            "{}, social prescribing link worker, on {}.",
            request.author,
            format_date(day_of(request.now))
        ),
        Vec::new(),
    ));
    let mut text = format!(
        "Social prescribing: message back to the GP and referrer ({})\n",
        request.kind.as_str()
    );
    for (i, body, _) in &sections {
        text.push_str(&format!("\n{}\n{}\n", SECTIONS[*i], body));
    }
    let bundle = b.finish(&patient, &sections);
    GpFeedback {
        kind: request.kind,
        text,
        bundle,
    }
}

/// The UTC day of a time in ms since the epoch.
pub(crate) fn day_of(ms: i64) -> Date {
    time::OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000))
        .map(|t| t.date())
        .unwrap_or(Date::MIN)
}

fn instant(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000))
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| "1970-01-01T00:00:00Z".into())
}

/// When the current episode began: the latest move to referred (creation, re-referral).
/// Contacts and measures from an earlier episode are not this message's.
fn episode_start(case: &CaseFile) -> i64 {
    // The first episode has no start: contacts and measures entered after the fact (a
    // first meeting typed in the next day, a baseline on paper) count. A re-referral (a
    // move to referred from another status) starts a new one.
    case.status_log
        .iter()
        .filter(|c| c.to == CaseStatus::Referred && c.from.is_some())
        .map(|c| c.at)
        .max()
        .unwrap_or(i64::MIN)
}

fn attended(case: &CaseFile) -> usize {
    let from = episode_start(case);
    case.sessions
        .iter()
        .filter(|s| s.attended && s.start >= from)
        .count()
}

fn demographics_text(case: &CaseFile) -> String {
    let p = &case.patient;
    let mut t = p.name.clone();
    if let Some(n) = &p.nhs_number {
        t.push_str(&format!(", NHS number {n}"));
    }
    if let Some(d) = p.date_of_birth {
        t.push_str(&format!(", born {}", format_date(d)));
    }
    if let Some(practice) = &p.practice {
        t.push_str(&format!(", registered with {practice}"));
    }
    t.push('.');
    t
}

/// The referral the message is about: the one decided last, else the one received last.
fn about(case: &CaseFile) -> Option<&crate::model::case_file::Referral> {
    crate::model::case_file::latest_decided(&case.referrals).or(case.referrals.last())
}

fn referral_text(case: &CaseFile) -> String {
    match about(case) {
        Some(r) => {
            let needs: Vec<String> = r
                .needs
                .iter()
                .map(|n| n.as_str().replace('_', " "))
                .collect();
            let mut t = format!(
                "Referred on {} by {}{}: {}",
                format_date(r.received),
                r.source.as_str().replace('_', " "),
                r.referrer
                    .as_ref()
                    .map(|n| format!(" ({n})"))
                    .unwrap_or_default(),
                reason_sent(r).unwrap_or(NOT_SENT)
            );
            if !needs.is_empty() {
                t.push_str(&format!(". Needs: {}", needs.join(", ")));
            }
            t.push('.');
            t
        }
        None => "No referral is recorded.".into(),
    }
}

/// What stands in for a reason not sent.
const NOT_SENT: &str = "the reason, in the person's own words, is not included";

/// The referral's reason when a clinician gave it (the GP's own words coming back); a
/// person's own words (self-referral, a VCSE or anyone else) are not sent on.
fn reason_sent(r: &crate::model::case_file::Referral) -> Option<&str> {
    use crate::model::case_file::ReferralSource;
    matches!(
        r.source,
        ReferralSource::Gp | ReferralSource::Nurse | ReferralSource::OtherClinician
    )
    .then_some(r.reason.as_str())
}

/// A decline or closure reason as coded: SNOMED CT where verified, and always the local
/// code (docs/CODES.md).
struct CodedReason {
    snomed: Option<(&'static str, &'static str)>,
    local: String,
    words: String,
    at: i64,
}

fn coded_reason(case: &CaseFile, kind: FeedbackKind) -> Option<CodedReason> {
    use crate::model::case_file::{ClosureReason, DeclineReason};
    match kind {
        FeedbackKind::Accepted => None,
        FeedbackKind::Declined => {
            let r = crate::model::case_file::latest_decided(&case.referrals)?;
            let code = r.decline_code?;
            Some(CodedReason {
                snomed: (code == DeclineReason::PersonDeclined)
                    .then_some((SNOMED_DECLINED, "Social prescribing declined")),
                local: format!("decline-{}", code.as_str().replace('_', "-")),
                words: code.as_str().replace('_', " "),
                at: r.decided_at.unwrap_or(0),
            })
        }
        FeedbackKind::Closed => {
            // The coded closure of this run (a settled conflict repeats a closure without
            // its code; a re-referral starts a new run).
            let closed = case
                .status_log
                .iter()
                .rev()
                .take_while(|c| c.to != CaseStatus::Referred)
                .find(|c| c.to == CaseStatus::Closed && c.closure.is_some())?;
            let code = closed.closure?;
            Some(CodedReason {
                snomed: match code {
                    ClosureReason::DidNotAttend => Some((SNOMED_DNA, "Did not attend")),
                    ClosureReason::DeclinedFurtherSupport => {
                        Some((SNOMED_DECLINED, "Social prescribing declined"))
                    }
                    _ => None,
                },
                local: format!("closure-{}", code.as_str().replace('_', "-")),
                words: code.as_str().replace('_', " "),
                at: closed.at,
            })
        }
    }
}

fn outcome_text(case: &CaseFile, kind: FeedbackKind) -> String {
    let decided = about(case)
        .and_then(|r| r.decided_at)
        .map(|at| format_date(day_of(at)));
    match kind {
        FeedbackKind::Accepted => format!(
            "Accepted for social prescribing{}. A link worker is working with the person.",
            decided.map(|d| format!(" on {d}")).unwrap_or_default()
        ),
        FeedbackKind::Declined => format!(
            "The referral was not taken on{}.",
            decided
                .map(|d| format!(" (decided on {d})"))
                .unwrap_or_default()
        ),
        FeedbackKind::Closed => {
            let closed = crate::model::case_file::latest_closure(&case.status_log)
                .map(|c| format_date(day_of(c.at)));
            format!(
                "Social prescribing has ended{}.",
                closed.map(|d| format!(" on {d}")).unwrap_or_default()
            )
        }
    }
}

fn plan_text(plan: &ActionPlan) -> String {
    let mut t = String::new();
    if !plan.what_matters.trim().is_empty() {
        t.push_str(&format!("What matters: {}\n", plan.what_matters.trim()));
    }
    if plan.goals.is_empty() {
        t.push_str("No goals are recorded.");
    }
    for g in &plan.goals {
        t.push_str(&format!(
            "Goal: {} ({})\n",
            g.text,
            g.status.as_str().replace('_', " ")
        ));
    }
    t.trim_end().to_owned()
}

fn support_text(plan: &ActionPlan, asset_name: AssetName<'_>) -> String {
    let mut lines = Vec::new();
    for s in &plan.steps {
        let (Some(a), Some(c)) = (s.asset, s.connection_status()) else {
            continue;
        };
        let name = asset_name(a.directory, a.asset).unwrap_or_else(|| s.text.clone());
        lines.push(format!(
            "{name}: {} (since {})",
            connection_words(c.status),
            format_date(c.on)
        ));
    }
    if lines.is_empty() {
        "No community connections are recorded.".into()
    } else {
        lines.join("\n")
    }
}

fn connection_words(s: ConnectionStatus) -> &'static str {
    match s {
        ConnectionStatus::Suggested => "suggested",
        ConnectionStatus::Contacted => "contacted",
        ConnectionStatus::Attended => "attended",
        ConnectionStatus::StillGoing => "still going",
        ConnectionStatus::WaitingList => "on the waiting list",
        ConnectionStatus::Declined => "decided against it",
        ConnectionStatus::NotSuitable => "not suitable",
        ConnectionStatus::ServiceClosed => "the service closed",
    }
}

/// The first and the last of each instrument, as the message reports them.
fn first_and_last(
    case: &CaseFile,
    i: Instrument,
) -> Option<(
    &crate::model::case_file::Measure,
    &crate::model::case_file::Measure,
)> {
    // The first episode has no start (`episode_start`): every measure counts.
    let from = match episode_start(case) {
        i64::MIN => Date::MIN,
        start => day_of(start),
    };
    let taken: Vec<_> = case
        .measures
        .iter()
        .filter(|m| m.instrument == i && m.taken_on >= from)
        .collect();
    Some((*taken.first()?, *taken.last()?))
}

fn score_words(score: &Score) -> String {
    match score {
        Score::Ons4(s) => Ons4Question::ALL
            .iter()
            .map(|q| format!("{} {}", ons4_label(*q), s.item(*q).value))
            .collect::<Vec<_>>()
            .join(", "),
        Score::Gse(s) => format!("total {} (10–40)", s.total),
        Score::Swemwbs(s) => format!("metric score {:.2} (7–35)", s.metric.as_f64()),
    }
}

fn ons4_label(q: Ons4Question) -> &'static str {
    match q {
        Ons4Question::LifeSatisfaction => "life satisfaction",
        Ons4Question::Worthwhile => "worthwhile",
        Ons4Question::Happiness => "happiness",
        Ons4Question::Anxiety => "anxiety",
    }
}

fn measures_text(case: &CaseFile) -> String {
    let mut lines = Vec::new();
    for i in Instrument::ALL {
        let Some((first, last)) = first_and_last(case, i) else {
            continue;
        };
        if first.id == last.id {
            lines.push(format!(
                "{}: {} on {} (once)",
                i.title(),
                score_words(&first.score),
                format_date(first.taken_on)
            ));
        } else {
            lines.push(format!(
                "{}: {} on {}; then {} on {}",
                i.title(),
                score_words(&first.score),
                format_date(first.taken_on),
                score_words(&last.score),
                format_date(last.taken_on)
            ));
        }
    }
    if lines.is_empty() {
        "No outcome measures were completed.".into()
    } else {
        lines.join("\n")
    }
}

/// Escapes text for XHTML; characters XML 1.0 forbids (a pasted soft line break, \x0b)
/// become spaces.
fn xhtml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\t' | '\n' | '\r' => out.push(c),
            c if c.is_control() || matches!(c, '\u{fffe}' | '\u{ffff}') => out.push(' '),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn narrative(text: &str) -> Value {
    let paragraphs: String = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| format!("<p>{}</p>", xhtml(l)))
        .collect();
    json!({
        "status": "generated",
        "div": format!("<div xmlns=\"http://www.w3.org/1999/xhtml\">{paragraphs}</div>")
    })
}

fn coding(system: &str, code: &str, display: &str) -> Value {
    json!({"system": system, "code": code, "display": display})
}

/// Builds the entries, each with a `urn:uuid` derived from the case, the message and the
/// resource's role (the same message twice gives the same Bundle).
struct Builder {
    seed: Vec<u8>,
    entries: Vec<Value>,
    now: i64,
    author: String,
}

impl Builder {
    fn new(case_id: DocumentId, request: &FeedbackRequest) -> Self {
        let mut seed = b"holdfast gp feedback v1".to_vec();
        seed.extend_from_slice(case_id.as_bytes());
        seed.extend_from_slice(request.kind.as_str().as_bytes());
        seed.extend_from_slice(&request.now.to_be_bytes());
        // Two different messages never share an identity, even made in the same instant.
        seed.extend_from_slice(request.addition.as_deref().unwrap_or("").as_bytes());
        Builder {
            seed,
            entries: Vec::new(),
            now: request.now,
            author: request.author.clone(),
        }
    }

    /// A UUID (version 4 layout) derived from the message and `role`.
    fn uuid(&self, role: &str) -> String {
        let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
        ctx.update(&self.seed);
        ctx.update(role.as_bytes());
        let d = ctx.finish();
        let mut b = [0u8; 16];
        b.copy_from_slice(&d.as_ref()[..16]);
        b[6] = (b[6] & 0x0f) | 0x40;
        b[8] = (b[8] & 0x3f) | 0x80;
        let h = hex::encode(b);
        format!(
            "urn:uuid:{}-{}-{}-{}-{}",
            &h[..8],
            &h[8..12],
            &h[12..16],
            &h[16..20],
            &h[20..]
        )
    }

    fn add(&mut self, role: &str, resource: Value) -> String {
        let url = self.uuid(role);
        self.entries
            .push(json!({"fullUrl": url, "resource": resource}));
        url
    }

    fn patient(&mut self, case: &CaseFile) -> String {
        let p = &case.patient;
        let mut r = json!({
            "resourceType": "Patient",
            "name": [{"text": p.name}],
        });
        if let Some(n) = &p.nhs_number {
            r["identifier"] = json!([{
                "extension": [{
                    "url": "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-NHSNumberVerificationStatus",
                    "valueCodeableConcept": {"coding": [{
                        "system": "https://fhir.hl7.org.uk/CodeSystem/UKCore-NHSNumberVerificationStatusEngland",
                        "code": "02",
                        "display": "Number present but not traced"
                    }]}
                }],
                "system": "https://fhir.nhs.uk/Id/nhs-number",
                "value": n.to_string().replace(' ', ""),
            }]);
        }
        if let Some(d) = p.date_of_birth {
            r["birthDate"] = json!(format_date(d));
        }
        if let Some(practice) = &p.practice {
            r["generalPractitioner"] = json!([{"display": practice}]);
        }
        self.add("patient", r)
    }

    fn referral(&mut self, case: &CaseFile, patient: &str, kind: FeedbackKind) -> String {
        let last = about(case);
        let status = match kind {
            FeedbackKind::Accepted => "active",
            FeedbackKind::Declined => "revoked",
            FeedbackKind::Closed => "completed",
        };
        let mut r = json!({
            "resourceType": "ServiceRequest",
            "status": status,
            "intent": "order",
            "code": {"coding": [coding(SNOMED, SNOMED_REFERRAL, "Referral to social prescribing service")]},
            "subject": {"reference": patient},
        });
        if let Some(referral) = last {
            r["authoredOn"] = json!(format_date(referral.received));
            if let Some(by) = &referral.referrer {
                r["requester"] = json!({"display": by});
            }
            if let Some(reason) = reason_sent(referral) {
                r["reasonCode"] = json!([{"text": reason}]);
            }
            if kind == FeedbackKind::Declined
                && matches!(referral.decision, Some(ReferralDecision::Declined { .. }))
            {
                r["note"] = json!([{"text": "The referral was not taken on."}]);
            }
        }
        self.add("referral", r)
    }

    fn care_plan(
        &mut self,
        plan: &ActionPlan,
        patient: &str,
        referral: &str,
        kind: FeedbackKind,
    ) -> (Vec<String>, String) {
        let mut goals = Vec::new();
        for g in &plan.goals {
            let (lifecycle, achievement) = match g.status {
                GoalStatus::NotStarted => ("proposed", None),
                GoalStatus::InProgress => ("active", Some("in-progress")),
                GoalStatus::Achieved => ("completed", Some("achieved")),
                GoalStatus::Paused => ("on-hold", None),
                GoalStatus::NoLongerRelevant => ("cancelled", None),
            };
            let mut r = json!({
                "resourceType": "Goal",
                "lifecycleStatus": lifecycle,
                "description": {"text": g.text},
                "subject": {"reference": patient},
            });
            if let Some(a) = achievement {
                r["achievementStatus"] = json!({"coding": [{
                    "system": "http://terminology.hl7.org/CodeSystem/goal-achievement",
                    "code": a
                }]});
            }
            goals.push(self.add(&format!("goal {}", g.id), r));
        }
        let activities: Vec<Value> = plan
            .steps
            .iter()
            .map(|s| {
                json!({"detail": {
                    "status": if s.done { "completed" } else { "not-started" },
                    "description": s.text,
                }})
            })
            .collect();
        let mut r = json!({
            "resourceType": "CarePlan",
            "status": if kind == FeedbackKind::Closed { "completed" } else { "active" },
            "intent": "plan",
            "title": "Personalised care and support plan",
            "subject": {"reference": patient},
            // R4's CarePlan.basedOn takes only CarePlans: the referral is supporting info.
            "supportingInfo": [{"reference": referral}],
            "goal": goals.iter().map(|g| json!({"reference": g})).collect::<Vec<_>>(),
        });
        if !plan.what_matters.trim().is_empty() {
            r["description"] = json!(plan.what_matters.trim());
        }
        if !activities.is_empty() {
            r["activity"] = json!(activities);
        }
        let url = self.add("care plan", r);
        (goals, url)
    }

    /// Each measure reported (the first and last of each instrument): a
    /// QuestionnaireResponse of the answers and an Observation of the score.
    fn measures(&mut self, case: &CaseFile, patient: &str) -> Vec<String> {
        let mut refs = Vec::new();
        for i in Instrument::ALL {
            let Some((first, last)) = first_and_last(case, i) else {
                continue;
            };
            let chosen = if first.id == last.id {
                vec![first]
            } else {
                vec![first, last]
            };
            for m in chosen {
                let items: Vec<Value> = m
                    .items
                    .iter()
                    .enumerate()
                    .map(|(n, v)| {
                        json!({"linkId": format!("{}", n + 1), "answer": [{"valueInteger": v}]})
                    })
                    .collect();
                let qr = self.add(
                    &format!("answers {}", m.id),
                    json!({
                        "resourceType": "QuestionnaireResponse",
                        "status": "completed",
                        "questionnaire": format!("{LOCAL_CODES}/Questionnaire/{}", i.as_str()),
                        "subject": {"reference": patient},
                        "authored": format_date(m.taken_on),
                        "item": items,
                    }),
                );
                let mut obs = json!({
                    "resourceType": "Observation",
                    "status": "final",
                    "subject": {"reference": patient},
                    "effectiveDateTime": format_date(m.taken_on),
                    "derivedFrom": [{"reference": qr}],
                });
                match &m.score {
                    Score::Ons4(s) => {
                        obs["code"] = json!({"coding": [coding(LOCAL_CODES, "ons4", "ONS personal well-being (ONS4)")]});
                        obs["component"] = json!(Ons4Question::ALL.iter().map(|q| json!({
                            "code": {"coding": [coding(LOCAL_CODES, &format!("ons4-{}", ons4_label(*q).replace(' ', "-")), ons4_label(*q))]},
                            "valueInteger": s.item(*q).value,
                        })).collect::<Vec<_>>());
                    }
                    Score::Gse(s) => {
                        obs["code"] = json!({"coding": [coding(LOCAL_CODES, "gse-total", "General Self-Efficacy Scale total")]});
                        obs["valueInteger"] = json!(s.total);
                    }
                    Score::Swemwbs(s) => {
                        obs["code"] = json!({"coding": [coding(SNOMED, SNOMED_SWEMWBS, "Short Warwick-Edinburgh Mental Well-being Scale score")]});
                        obs["valueQuantity"] = json!({"value": s.metric.as_f64(), "unit": "score"});
                    }
                }
                refs.push(qr);
                refs.push(self.add(&format!("score {}", m.id), obs));
            }
        }
        refs
    }

    /// The coded decline or closure reason, as an Observation of the person.
    fn reason(&mut self, r: &CodedReason, patient: &str) -> String {
        let mut codings = Vec::new();
        if let Some((code, display)) = r.snomed {
            codings.push(coding(SNOMED, code, display));
        }
        codings.push(coding(LOCAL_CODES, &r.local, &r.words));
        self.add(
            "reason",
            json!({
                "resourceType": "Observation",
                "status": "final",
                "code": {"coding": codings, "text": r.words},
                "subject": {"reference": patient},
                "effectiveDateTime": instant(r.at),
            }),
        )
    }

    fn contact_count(&mut self, contacts: usize, patient: &str) -> String {
        self.add(
            "contacts",
            json!({
                "resourceType": "Observation",
                "status": "final",
                "code": {"coding": [coding(LOCAL_CODES, "contact-count", "Contacts with the social prescribing link worker")]},
                "subject": {"reference": patient},
                "effectiveDateTime": instant(self.now),
                "valueInteger": contacts,
            }),
        )
    }

    fn finish(mut self, patient: &str, sections: &[(usize, String, Vec<String>)]) -> Value {
        let composition_url = self.uuid("composition");
        let composition = json!({
            "resourceType": "Composition",
            "status": "final",
            "type": {"text": "Social prescribing: message back to GP and referrer"},
            "subject": {"reference": patient},
            "date": instant(self.now),
            "author": [{"display": self.author}],
            "title": "Social prescribing: message back to GP and referrer",
            "section": sections.iter().map(|(i, body, refs)| {
                let mut s = json!({"title": SECTIONS[*i], "text": narrative(body)});
                if !refs.is_empty() {
                    s["entry"] = json!(refs.iter().map(|r| json!({"reference": r})).collect::<Vec<_>>());
                }
                s
            }).collect::<Vec<_>>(),
        });
        let mut entries = vec![json!({"fullUrl": composition_url, "resource": composition})];
        entries.append(&mut self.entries);
        json!({
            "resourceType": "Bundle",
            "identifier": {"system": "urn:ietf:rfc:3986", "value": self.uuid("bundle")},
            "type": "document",
            "timestamp": instant(self.now),
            "entry": entries,
        })
    }
}
