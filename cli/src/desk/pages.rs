//! The desk's pages and forms.
//!
//! - `GET /`: the review queue (cases changed since this supervisor last marked them
//!   reviewed, contested, or with open safeguarding, which always come first) and each link
//!   worker's caseload and holding load against the team's limits, with the flags the
//!   supervision work defined.
//! - `GET /caseloads/{device}` (or `unassigned`): the open cases one link worker holds, as
//!   the queue shows them, with their load's flags.
//! - `GET /cases/{id}`: a case file: the patient, the status (shown as contested, with who
//!   set what, when devices disagree), a timeline of sessions and holding notes, status
//!   moves, safeguarding and supervision comments, newest first; measures as charts with
//!   their figures; the action plan; and the forms.
//! - `POST /cases/{id}/reviewed`, `/comments`, `/status`: mark reviewed up to what the page
//!   showed ([`holdfast_core::Store::mark_reviewed_upto`], so a change that arrived while the
//!   supervisor read brings the case back), add a supervision comment, settle a contested
//!   status. Each answers with a redirect to the case (post/redirect/get), with a line that
//!   says what was done.
//!
//! Each page is read from the store on a blocking thread, under the store's lock, and
//! rendered from a template of `cli/templates/desk/`.

use askama::Template;
use axum::extract::{Form, Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use holdfast_core::Store;
use holdfast_core::model::case_file::{CaseFile, CaseStatus, ConcernStatus};
use holdfast_core::model::doc::Contested;
use holdfast_core::model::ids::{DeviceId, DocumentId};
use holdfast_core::model::oversight::CaseCounters;
use holdfast_core::store::{LoadLimits, QueueEntry, WorkerLoad, days_between};
use serde::Deserialize;

use super::Desk;
use super::chart::{self, Chart};
use crate::clock::{Clock, format_date};
use crate::commands::oversight::{changes_words, entry_changes, holder_words};
use crate::output::{count, short, words};

/// The most cases the queue page lists.
pub const QUEUE_LIMIT: u32 = 5_000;

// ----------------------------------------------------------------------------------------
// Errors

/// A page that could not be served: its status and a sentence for the person.
#[derive(Debug)]
pub struct DeskError {
    status: StatusCode,
    message: String,
}

impl DeskError {
    fn new(status: StatusCode, message: impl Into<String>) -> DeskError {
        DeskError {
            status,
            message: message.into(),
        }
    }
}

impl DeskError {
    /// Input the desk cannot use (422).
    pub fn unprocessable(message: impl Into<String>) -> DeskError {
        DeskError::new(StatusCode::UNPROCESSABLE_ENTITY, message)
    }
}

impl From<holdfast_core::Error> for DeskError {
    fn from(e: holdfast_core::Error) -> DeskError {
        use holdfast_core::Error as E;
        let status = match &e {
            E::NotFound { .. } | E::InvalidId { .. } | E::WrongDocumentKind { .. } => {
                StatusCode::NOT_FOUND
            }
            E::InvalidInput { .. }
            | E::IllegalTransition { .. }
            | E::Conflict { .. }
            | E::Measure(_)
            | E::Postcode(_)
            | E::DuplicatePatient { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            E::NotAllowed(_) | E::Revoked { .. } => StatusCode::FORBIDDEN,
            E::TryAgain(_) => StatusCode::SERVICE_UNAVAILABLE,
            E::StorageFull => StatusCode::INSUFFICIENT_STORAGE,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        DeskError::new(status, e.to_string())
    }
}

impl IntoResponse for DeskError {
    fn into_response(self) -> Response {
        (self.status, refusal(self.status, &self.message)).into_response()
    }
}

/// A page, or why not.
pub type Page = Result<Html<String>, DeskError>;

#[derive(Template)]
#[template(path = "desk/refusal.html")]
struct Refusal<'a> {
    title: &'a str,
    message: &'a str,
}

#[derive(Template)]
#[template(path = "desk/landing.html")]
struct Landing<'a> {
    to: &'a str,
}

/// The page the one-time link answers with (beside the cookie): it moves on to `to`, a
/// path of the desk's own, as a same-origin navigation.
pub fn landing(to: &str) -> Html<String> {
    Html(
        Landing { to }
            .render()
            .unwrap_or_else(|_| "Continue to the desk at /".to_owned()),
    )
}

/// A short page for a refusal or an error: what happened and what to do, nothing else.
pub fn refusal(status: StatusCode, message: &str) -> Html<String> {
    let title = status.canonical_reason().unwrap_or("Error");
    Html(
        Refusal { title, message }
            .render()
            .unwrap_or_else(|_| message.to_owned()),
    )
}

/// Runs `f` on the store on a blocking thread (the store is SQLite and Automerge: never on
/// the runtime's threads).
pub async fn with_store<T, F>(desk: &Desk, f: F) -> Result<T, DeskError>
where
    T: Send + 'static,
    F: FnOnce(&mut Store, &Desk) -> Result<T, DeskError> + Send + 'static,
{
    let desk = desk.clone();
    tokio::task::spawn_blocking(move || {
        let mut store = desk.store.lock()?;
        f(&mut store, &desk)
    })
    .await
    .map_err(|e| DeskError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
}

/// Renders a page's template.
pub fn render(page: &impl Template) -> Page {
    page.render()
        .map(Html)
        .map_err(|e| DeskError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))
}

// ----------------------------------------------------------------------------------------
// What every page shows

/// The frame of every page: its title, the form token, the line after an action, how sync
/// stands, and the records' generation it was read at. Its `Debug` leaves out the token.
pub struct Frame {
    pub title: String,
    pub csrf: String,
    pub notice: Option<String>,
    pub sync: String,
    /// This device's person.
    pub me: String,
    pub generation: u64,
}

impl std::fmt::Debug for Frame {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Frame")
            .field("title", &self.title)
            .field("generation", &self.generation)
            .finish_non_exhaustive()
    }
}

/// The frame of a page titled `title`, whose records were read at `generation` (taken
/// before reading them: a change that lands while the page is made leaves it behind).
pub fn frame(
    store: &mut Store,
    desk: &Desk,
    title: String,
    notice: Option<&str>,
    generation: u64,
) -> Frame {
    let me = store.this_member();
    let me = store
        .member_name(me)
        .ok()
        .flatten()
        .unwrap_or_else(|| "this device".to_owned());
    Frame {
        title,
        csrf: desk.guard.form_token().to_owned(),
        notice: notice.and_then(notice_words).map(str::to_owned),
        sync: sync_words(store, &desk.clock, desk.client.is_some()),
        me,
        generation,
    }
}

/// The line shown after an action, by its name in the redirect (never text from the URL).
fn notice_words(done: &str) -> Option<&'static str> {
    Some(match done {
        "reviewed" => "Marked reviewed.",
        "commented" => "Comment added. It reaches the link worker at their next sync.",
        "resolved" => "Status settled. Every device will show it after its next sync.",
        _ => return None,
    })
}

/// "Synced with the relay at 14:02." or what is wrong, over every team.
fn sync_words(store: &Store, clock: &Clock, online: bool) -> String {
    if !online {
        return "Offline: showing what this device holds; nothing is synced.".to_owned();
    }
    let Ok(teams) = store.teams() else {
        return String::new();
    };
    if teams.is_empty() {
        return "This device is in no team: nothing to sync.".to_owned();
    }
    let mut parts = Vec::new();
    for t in teams {
        let Ok(status) = store.sync_status(t.team) else {
            continue;
        };
        let when = status
            .last_pull_at
            .map(|at| format!("last synced {}", clock.day_time(at)))
            .unwrap_or_else(|| "not synced yet".to_owned());
        let pending = if status.pending_outbox > 0 {
            format!(
                "; {} waiting to go to the relay",
                count(
                    usize::try_from(status.pending_outbox).unwrap_or(usize::MAX),
                    "change",
                    "changes"
                )
            )
        } else {
            String::new()
        };
        parts.push(match &status.last_error {
            Some(_) if status.offline => format!("Offline, {when}{pending}"),
            Some(e) => format!("Sync is failing ({e}); {when}{pending}"),
            None => format!("Following the team live, {when}{pending}"),
        });
    }
    parts.join(". ")
}

// ----------------------------------------------------------------------------------------
// The queue

/// A flag on a row: its words and how loud it is (`warn` or `alert`).
#[derive(Debug)]
pub struct Flag {
    pub text: String,
    pub level: &'static str,
}

#[derive(Debug)]
pub struct QueueRow {
    pub case_id: String,
    pub patient: String,
    pub status: String,
    pub holder: String,
    pub changed: String,
    pub reviewed: String,
    pub flags: Vec<Flag>,
}

#[derive(Debug)]
pub struct LoadRow {
    pub worker: String,
    /// Their caseload's page.
    pub link: String,
    pub referred: u32,
    pub active: u32,
    pub holding: u32,
    pub tapering: u32,
    pub accepted_last_year: u32,
    pub flags: Vec<Flag>,
}

#[derive(Template)]
#[template(path = "desk/queue.html")]
pub struct QueuePage {
    pub frame: Frame,
    /// "3 cases to review".
    pub rows_caption: String,
    pub rows: Vec<QueueRow>,
    pub load: Vec<LoadRow>,
    pub limits: String,
}

fn queue_row(clock: &Clock, now: i64, e: &QueueEntry) -> QueueRow {
    let mut flags = Vec::new();
    if e.open_safeguarding > 0 {
        flags.push(Flag {
            text: count(
                e.open_safeguarding as usize,
                "open safeguarding concern",
                "open safeguarding concerns",
            ),
            level: "alert",
        });
    }
    if e.status_contested {
        flags.push(Flag {
            text: "status contested".to_owned(),
            level: "warn",
        });
    }
    if e.holder_contested {
        flags.push(Flag {
            text: "holder contested".to_owned(),
            level: "warn",
        });
    }
    let status = match e.status_since {
        Some(since) => format!(
            "{} for {}",
            words(e.status.as_str()),
            count(
                usize::try_from(days_between(since, now)).unwrap_or(0),
                "day",
                "days"
            )
        ),
        None => words(e.status.as_str()),
    };
    QueueRow {
        case_id: e.case_id.to_string(),
        patient: e.patient_name.clone(),
        status,
        holder: holder_words(e.holder.as_ref()),
        changed: entry_changes(e),
        reviewed: e
            .reviewed_at
            .map_or_else(|| "never".to_owned(), |at| clock.day_time(at)),
        flags,
    }
}

fn load_row(w: &WorkerLoad, limits: &LoadLimits) -> LoadRow {
    let mut flags = Vec::new();
    let mut flag = |n: u32, what: String| {
        if n > 0 {
            flags.push(Flag {
                text: what,
                level: "warn",
            });
        }
    };
    flag(
        u32::from(w.over_accepted_limit),
        format!(
            "took on more than {} in 12 months",
            limits.accepted_per_year
        ),
    );
    flag(
        w.held_too_long,
        format!(
            "{} holding for over {} days",
            count(w.held_too_long as usize, "case", "cases"),
            limits.held_days
        ),
    );
    flag(
        w.many_sessions,
        format!(
            "{} past {} sessions",
            count(w.many_sessions as usize, "case", "cases"),
            limits.sessions
        ),
    );
    flag(
        w.open_too_long,
        format!(
            "{} open over {} days",
            count(w.open_too_long as usize, "case", "cases"),
            limits.open_days
        ),
    );
    if w.open_safeguarding > 0 {
        flags.push(Flag {
            text: count(
                w.open_safeguarding as usize,
                "open safeguarding concern",
                "open safeguarding concerns",
            ),
            level: "alert",
        });
    }
    LoadRow {
        worker: w.worker.as_ref().map_or_else(
            || "Nobody (unassigned)".to_owned(),
            |m| holder_words(Some(m)),
        ),
        link: format!(
            "/caseloads/{}",
            w.worker
                .as_ref()
                .map_or_else(|| UNASSIGNED.to_owned(), |m| m.device.to_string())
        ),
        referred: w.referred,
        active: w.active,
        holding: w.holding,
        tapering: w.tapering,
        accepted_last_year: w.accepted_last_year,
        flags,
    }
}

#[derive(Debug, Deserialize)]
pub struct Done {
    done: Option<String>,
}

/// The review queue and the team's load, as a page.
pub fn queue_page(store: &mut Store, desk: &Desk, notice: Option<&str>) -> Page {
    let generation = desk.generation();
    let now = desk.clock.now_millis();
    // One more than shown, to say when there are more.
    let mut entries = store.review_queue(QUEUE_LIMIT + 1)?;
    let more = entries.len() > QUEUE_LIMIT as usize;
    entries.truncate(QUEUE_LIMIT as usize);
    let rows: Vec<QueueRow> = entries
        .iter()
        .map(|e| queue_row(&desk.clock, now, e))
        .collect();
    let limits = store.team_limits()?.limits;
    let load = store
        .caseload_load(&limits)?
        .iter()
        .map(|w| load_row(w, &limits))
        .collect();
    let frame = frame(store, desk, "Review queue".to_owned(), notice, generation);
    render(&QueuePage {
        frame,
        rows_caption: if more {
            format!(
                "The first {} cases to review (there are more: review these, and the next \
                 appear)",
                rows.len()
            )
        } else {
            format!("{} to review", count(rows.len(), "case", "cases"))
        },
        rows,
        load,
        limits: format!(
            "The team's limits: {} new cases a year, {} days holding, {} sessions, {} days \
             open.",
            limits.accepted_per_year, limits.held_days, limits.sessions, limits.open_days
        ),
    })
}

/// `GET /`.
pub async fn queue(State(desk): State<Desk>, Query(done): Query<Done>) -> Page {
    with_store(&desk, move |store, desk| {
        queue_page(store, desk, done.done.as_deref())
    })
    .await
}

// ----------------------------------------------------------------------------------------
// One link worker's caseload

/// The caseload page's name for cases nobody holds.
const UNASSIGNED: &str = "unassigned";

#[derive(Template)]
#[template(path = "desk/caseload.html")]
pub struct CaseloadPage {
    pub frame: Frame,
    pub worker: String,
    pub rows_caption: String,
    pub rows: Vec<QueueRow>,
    /// Their load's flags.
    pub flags: Vec<Flag>,
}

/// `GET /caseloads/{device}` (or `unassigned`): the open cases one link worker holds.
pub async fn caseload(State(desk): State<Desk>, Path(who): Path<String>) -> Page {
    let worker: Option<DeviceId> = if who == UNASSIGNED {
        None
    } else {
        Some(
            who.parse()
                .map_err(|_| DeskError::new(StatusCode::NOT_FOUND, "There is no such caseload."))?,
        )
    };
    with_store(&desk, move |store, desk| {
        let generation = desk.generation();
        let now = desk.clock.now_millis();
        let entries = store.held_cases(worker, QUEUE_LIMIT)?;
        let limits = store.team_limits()?.limits;
        let load = store
            .caseload_load(&limits)?
            .into_iter()
            .find(|w| w.worker.as_ref().map(|m| m.device) == worker);
        let name = match (&load, worker) {
            (Some(w), _) => load_row(w, &limits).worker,
            (None, None) => "Nobody (unassigned)".to_owned(),
            (None, Some(device)) => store
                .member_name(device)?
                .unwrap_or_else(|| format!("device {}", short(&device))),
        };
        let rows: Vec<QueueRow> = entries
            .iter()
            .map(|e| queue_row(&desk.clock, now, e))
            .collect();
        let frame = frame(store, desk, format!("Caseload: {name}"), None, generation);
        render(&CaseloadPage {
            frame,
            rows_caption: format!("{} open", count(rows.len(), "case", "cases")),
            rows,
            flags: load
                .map(|w| load_row(&w, &limits).flags)
                .unwrap_or_default(),
            worker: name,
        })
    })
    .await
}

// ----------------------------------------------------------------------------------------
// A case file

/// Something that happened on a case, for the timeline.
#[derive(Debug)]
pub struct Happening {
    /// For ordering, newest first.
    at: i64,
    pub when: String,
    /// `session`, `holding`, `status`, `safeguarding`, `comment`, `measure`.
    pub kind: &'static str,
    pub title: String,
    pub by: String,
    /// Paragraphs.
    pub body: Vec<String>,
    /// Set when devices disagree on the text: every version, with who wrote it.
    pub versions: Vec<String>,
}

/// One claim of a contested value: the value, who set it and when.
#[derive(Debug)]
pub struct ClaimView {
    pub value: String,
    pub label: String,
    pub who: String,
}

#[derive(Debug)]
pub struct PlanView {
    pub what_matters: String,
    pub goals: Vec<GoalView>,
    pub loose_steps: Vec<String>,
    pub ended: Option<String>,
}

#[derive(Debug)]
pub struct GoalView {
    pub text: String,
    pub status: String,
    pub steps: Vec<String>,
}

#[derive(Template)]
#[template(path = "desk/case.html")]
pub struct CasePage {
    pub frame: Frame,
    pub case_id: String,
    pub patient: String,
    pub details: Vec<(String, String)>,
    pub status: String,
    /// More than one when devices disagree.
    pub claims: Vec<ClaimView>,
    pub holder: String,
    /// Set when devices disagree on who holds the case: each claim, with who made it.
    pub holder_claims: Vec<String>,
    pub reviewed: String,
    pub changed: String,
    pub holds: CaseCounters,
    pub timeline: Vec<Happening>,
    pub charts: Vec<Chart>,
    pub not_completed: Vec<String>,
    pub safeguarding: Vec<(String, String)>,
    pub plan: Option<PlanView>,
}

fn claim_who<T>(clock: &Clock, file: &CaseFile, c: &holdfast_core::model::doc::Claim<T>) -> String {
    let by =
        c.by.clone()
            .or_else(|| {
                c.device
                    .and_then(|d| file.oversight.name_of(d).map(str::to_owned))
            })
            .unwrap_or_else(|| "someone".to_owned());
    match c.at {
        Some(at) => format!("{by}, {}", clock.day_time(at)),
        None => by,
    }
}

fn versions<T>(
    clock: &Clock,
    file: &CaseFile,
    v: &Contested<T>,
    show: impl Fn(&T) -> String,
) -> Vec<String> {
    if !v.is_conflicted() {
        return Vec::new();
    }
    v.claims
        .iter()
        .map(|c| format!("{} (by {})", show(&c.value), claim_who(clock, file, c)))
        .collect()
}

fn timeline(clock: &Clock, file: &CaseFile) -> Vec<Happening> {
    let mut out = Vec::new();
    for s in &file.sessions {
        let holding = !s.holding_functions.is_empty();
        let mut body: Vec<String> = s
            .note
            .provisional()
            .map(|n| {
                n.lines()
                    .map(str::to_owned)
                    .filter(|l| !l.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        if holding {
            body.push(format!(
                "Holding: {}.",
                s.holding_functions
                    .iter()
                    .map(|h| words(h.as_str()))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        if let Some(f) = s.follow_up {
            body.push(format!("Follow up by {}.", format_date(f)));
        }
        out.push(Happening {
            at: s.start,
            when: clock.day_time(s.start),
            kind: if holding { "holding" } else { "session" },
            title: format!(
                "{}{}, {} minutes{}",
                if holding { "Holding note: " } else { "" },
                words(s.mode.as_str()),
                s.duration_minutes,
                if s.attended { "" } else { ", did not attend" }
            ),
            by: s.recorded_by.clone(),
            body,
            versions: versions(clock, file, &s.note, Clone::clone),
        });
    }
    for c in &file.status_log {
        let moved = match c.from {
            Some(from) => format!("{} → {}", words(from.as_str()), words(c.to.as_str())),
            None => words(c.to.as_str()),
        };
        let mut body = Vec::new();
        if let Some(r) = &c.reason {
            body.push(r.clone());
        }
        if let Some(closure) = c.closure {
            body.push(format!("Closed: {}.", words(closure.as_str())));
        }
        out.push(Happening {
            at: c.at,
            when: clock.day_time(c.at),
            kind: "status",
            title: format!("Status: {moved}"),
            by: c.by.clone(),
            body,
            versions: Vec::new(),
        });
    }
    for s in &file.safeguarding {
        let status = s
            .status
            .provisional()
            .map_or_else(String::new, |v| words(v.as_str()));
        let mut body = vec![s.description.clone()];
        if let Some(to) = s.escalated_to {
            body.push(format!("Escalated to {}.", words(to.as_str())));
        }
        out.push(Happening {
            at: s.raised_at,
            when: clock.day_time(s.raised_at),
            kind: "safeguarding",
            title: format!("Safeguarding concern ({status})"),
            by: s.raised_by.clone(),
            body,
            versions: versions(clock, file, &s.status, |v: &ConcernStatus| {
                words(v.as_str())
            }),
        });
    }
    for c in &file.supervision {
        let ack = file
            .oversight
            .ack_of(c.id)
            .map_or_else(|| " (not yet acknowledged)".to_owned(), |_| String::new());
        out.push(Happening {
            at: c.at,
            when: clock.day_time(c.at),
            kind: "comment",
            title: format!("Supervision comment{ack}"),
            by: c.by.clone(),
            body: c.text.lines().map(str::to_owned).collect(),
            versions: Vec::new(),
        });
    }
    out.sort_by_key(|h| std::cmp::Reverse(h.at));
    out
}

fn plan_view(store: &mut Store, file: &CaseFile) -> Result<Option<PlanView>, DeskError> {
    let Some(id) = file.action_plan else {
        return Ok(None);
    };
    let plan = match store.action_plan(id) {
        Ok(plan) => plan,
        // The plan may not have arrived yet: the case still shows.
        Err(holdfast_core::Error::NotFound { .. }) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let step_words = |s: &holdfast_core::model::action_plan::Step| {
        format!(
            "{}{} ({}{})",
            if s.done { "Done: " } else { "" },
            s.text,
            words(s.owner.as_str()),
            s.due
                .map(|d| format!(", by {}", format_date(d)))
                .unwrap_or_default()
        )
    };
    let goals = plan
        .goals
        .iter()
        .map(|g| GoalView {
            text: g.text.clone(),
            status: words(g.status.as_str()),
            steps: plan
                .steps
                .iter()
                .filter(|s| s.goal == Some(g.id))
                .map(step_words)
                .collect(),
        })
        .collect();
    let loose_steps = plan
        .steps
        .iter()
        .filter(|s| s.goal.is_none())
        .map(step_words)
        .collect();
    Ok(Some(PlanView {
        what_matters: plan.what_matters.clone(),
        goals,
        loose_steps,
        ended: plan
            .ended
            .as_ref()
            .map(|_| "This plan has ended.".to_owned()),
    }))
}

/// The case file `id` as a page.
pub fn case_page(store: &mut Store, desk: &Desk, id: DocumentId, notice: Option<&str>) -> Page {
    let generation = desk.generation();
    let clock = &desk.clock;
    let file = store.case_file(id)?;
    let entry = store.review_entry(id)?;
    let p = &file.patient;
    let mut details = Vec::new();
    let mut detail = |label: &str, value: Option<String>| {
        if let Some(v) = value.filter(|v| !v.is_empty()) {
            details.push((label.to_owned(), v));
        }
    };
    detail(
        "NHS number",
        p.nhs_number.as_ref().map(|n| n.as_str().to_owned()),
    );
    detail("Date of birth", p.date_of_birth.map(format_date));
    detail("Practice", p.practice.clone());
    detail(
        "Preferred contact",
        p.preferred_contact.map(|c| words(c.as_str())),
    );
    detail("Language", p.language.clone());
    detail("Accessibility needs", p.accessibility_needs.clone());
    let claims: Vec<ClaimView> = if file.status.is_conflicted() {
        file.status
            .claims
            .iter()
            .map(|c| ClaimView {
                value: c.value.as_str().to_owned(),
                label: words(c.value.as_str()),
                who: claim_who(clock, &file, c),
            })
            .collect()
    } else {
        Vec::new()
    };
    let status = file
        .status
        .provisional()
        .map_or_else(String::new, |s: &CaseStatus| words(s.as_str()));
    let safeguarding = file
        .safeguarding
        .iter()
        .filter(|s| {
            s.status
                .claims
                .iter()
                .any(|c| c.value != ConcernStatus::Closed)
        })
        .map(|s| (clock.day_time(s.raised_at), s.description.clone()))
        .collect();
    let not_completed = file
        .measures_not_completed
        .iter()
        .map(|m| {
            format!(
                "{} offered on {}, not completed: {}",
                m.instrument.as_str().to_uppercase(),
                format_date(m.offered_on),
                words(m.reason.as_str())
            )
        })
        .collect();
    let plan = plan_view(store, &file)?;
    let frame = frame(store, desk, file.patient.name.clone(), notice, generation);
    render(&CasePage {
        frame,
        case_id: id.to_string(),
        patient: file.patient.name.clone(),
        details,
        status,
        claims,
        holder: holder_words(entry.holder.as_ref()),
        holder_claims: file
            .oversight
            .assigned
            .as_ref()
            .map(|assigned| {
                versions(clock, &file, assigned, |device| {
                    file.oversight
                        .name_of(*device)
                        .map_or_else(|| format!("device {}", short(device)), str::to_owned)
                })
            })
            .unwrap_or_default(),
        reviewed: entry
            .reviewed_at
            .map_or_else(|| "never".to_owned(), |at| clock.day_time(at)),
        changed: match entry.reviewed_at {
            None => "everything (never reviewed)".to_owned(),
            Some(_) => changes_words(&entry.changed),
        },
        holds: entry.holds,
        timeline: timeline(clock, &file),
        charts: chart::charts(&file.measures),
        not_completed,
        safeguarding,
        plan,
    })
}

fn case_id(typed: &str) -> Result<DocumentId, DeskError> {
    typed
        .parse()
        .map_err(|_| DeskError::new(StatusCode::NOT_FOUND, "There is no such case."))
}

/// `GET /cases/{id}`.
pub async fn case(
    State(desk): State<Desk>,
    Path(id): Path<String>,
    Query(done): Query<Done>,
) -> Page {
    let id = case_id(&id)?;
    with_store(&desk, move |store, desk| {
        case_page(store, desk, id, done.done.as_deref())
    })
    .await
}

// ----------------------------------------------------------------------------------------
// Forms

/// Checks a form's token.
fn form_ok(desk: &Desk, csrf: &str) -> Result<(), DeskError> {
    if desk.guard.form_token_ok(csrf) {
        Ok(())
    } else {
        Err(DeskError::new(
            StatusCode::FORBIDDEN,
            "This form is out of date or not the desk's own: nothing was changed. Go back, \
             reload the page and try again.",
        ))
    }
}

/// After an edit: the sync client pushes it (live), and the browser goes back to the case.
fn edited(desk: &Desk, id: DocumentId, done: &str) -> Response {
    if let Some(client) = &desk.client {
        client.notify_local_change();
    }
    Redirect::to(&format!("/cases/{id}?done={done}")).into_response()
}

/// A form's fields (its `Debug` leaves out the token).
#[derive(Deserialize)]
pub struct ReviewedForm {
    csrf: String,
    sessions: u32,
    status_moves: u32,
    measures: u32,
    safeguarding: u32,
    comments: u32,
    handovers: u32,
}

/// `POST /cases/{id}/reviewed`.
pub async fn mark_reviewed(
    State(desk): State<Desk>,
    Path(id): Path<String>,
    Form(form): Form<ReviewedForm>,
) -> Result<Response, DeskError> {
    form_ok(&desk, &form.csrf)?;
    let id = case_id(&id)?;
    let seen = CaseCounters {
        sessions: form.sessions,
        status_moves: form.status_moves,
        measures: form.measures,
        safeguarding: form.safeguarding,
        comments: form.comments,
        handovers: form.handovers,
    };
    with_store(&desk, move |store, _| {
        store.mark_reviewed_upto(id, &seen)?;
        Ok(())
    })
    .await?;
    Ok(edited(&desk, id, "reviewed"))
}

/// A form's fields (its `Debug` leaves out the token).
#[derive(Deserialize)]
pub struct CommentForm {
    csrf: String,
    text: String,
}

/// `POST /cases/{id}/comments`.
pub async fn add_comment(
    State(desk): State<Desk>,
    Path(id): Path<String>,
    Form(form): Form<CommentForm>,
) -> Result<Response, DeskError> {
    form_ok(&desk, &form.csrf)?;
    let id = case_id(&id)?;
    with_store(&desk, move |store, _| {
        store.add_supervision_comment(id, &form.text)?;
        Ok(())
    })
    .await?;
    Ok(edited(&desk, id, "commented"))
}

/// A form's fields (its `Debug` leaves out the token).
#[derive(Deserialize)]
pub struct StatusForm {
    csrf: String,
    status: String,
}

/// `POST /cases/{id}/status`.
pub async fn resolve_status(
    State(desk): State<Desk>,
    Path(id): Path<String>,
    Form(form): Form<StatusForm>,
) -> Result<Response, DeskError> {
    form_ok(&desk, &form.csrf)?;
    let id = case_id(&id)?;
    let chosen: CaseStatus = form.status.parse()?;
    with_store(&desk, move |store, _| {
        store.resolve_status(id, chosen)?;
        Ok(())
    })
    .await?;
    Ok(edited(&desk, id, "resolved"))
}

// ----------------------------------------------------------------------------------------
// Assets and the rest

/// `GET /static/desk.css`.
pub async fn stylesheet() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        include_str!("../../static/desk.css"),
    )
}

/// `GET /static/desk.js`.
pub async fn script() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        include_str!("../../static/desk.js"),
    )
}

/// Anything else.
pub async fn not_found() -> DeskError {
    DeskError::new(StatusCode::NOT_FOUND, "There is no such page on the desk.")
}

macro_rules! debug_without_token {
    ($($form:ident),*) => {$(
        impl std::fmt::Debug for $form {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($form)).finish_non_exhaustive()
            }
        }
    )*};
}
debug_without_token!(ReviewedForm, CommentForm, StatusForm);
