//! Oversight: who holds each case, each link worker's caseload and holding load, the
//! supervisor's review queue, supervision comments reaching the link worker, ring-backs and
//! the link worker's worklist for today. Edits go through the edit pipeline like any other;
//! every list here is one query over the derived index (`update_summary` keeps it in the
//! same transaction as the change), never a walk over the documents.

use rusqlite::{Connection, OptionalExtension, Transaction, params};
use serde::{Deserialize, Serialize};
use time::{Date, Weekday};

use super::Store;
use super::documents::Reindex;
use crate::model::case_file::{CaseStatus, Comment};
use crate::model::doc::{self, DocKind};
use crate::model::ids::{CommentId, DeviceId, DocumentId, RingBackId, StoredId, TeamId};
use crate::model::oversight::{self, CaseCounters, CaseSummary, WorkKind};
use crate::{Error, Result};
use holdfast_protocol::Role;

const DAY_MS: i64 = 86_400_000;

/// Working days within which the message back to the GP is due.
const FEEDBACK_WORKING_DAYS: u32 = 5;

pub use crate::model::team_settings::LoadLimits;
use crate::model::team_settings::MAX_FIRST_CONTACT_DAYS;

/// A team member as oversight names them: their device, and the name given to it in a
/// handover (the membership log holds devices and roles, not names).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    /// The member's device.
    pub device: DeviceId,
    /// Their name, when one has been given.
    pub name: Option<String>,
    /// Their role, when they are still in the current team.
    pub role: Option<Role>,
}

/// One link worker's caseload and holding load.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerLoad {
    /// The link worker; `None` for cases nobody holds.
    pub worker: Option<Member>,
    /// Referred, not yet accepted.
    pub referred: u32,
    /// Active.
    pub active: u32,
    /// Holding.
    pub holding: u32,
    /// Tapering.
    pub tapering: u32,
    /// Accepted in the last 12 months.
    pub accepted_last_year: u32,
    /// `accepted_last_year` is above the limit.
    pub over_accepted_limit: bool,
    /// In holding longer than the limit.
    pub held_too_long: u32,
    /// Open cases with more sessions than the limit.
    pub many_sessions: u32,
    /// Cases open longer than the limit.
    pub open_too_long: u32,
    /// Open safeguarding concerns on their cases.
    pub open_safeguarding: u32,
}

/// A case in a supervisor's review queue, with what changed since their last mark.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueEntry {
    /// The case file.
    pub case_id: DocumentId,
    /// The patient's name.
    pub patient_name: String,
    /// Its status (Automerge's pick when contested).
    pub status: CaseStatus,
    /// Since when (ms since the epoch).
    pub status_since: Option<i64>,
    /// Who holds it.
    pub holder: Option<Member>,
    /// Open safeguarding concerns: such cases head the queue whether reviewed or not.
    pub open_safeguarding: u32,
    /// Devices disagree on its status.
    pub status_contested: bool,
    /// Devices disagree on who holds it.
    pub holder_contested: bool,
    /// When this supervisor last marked it reviewed; `None`: never.
    pub reviewed_at: Option<i64>,
    /// What grew since that mark (everything, when never reviewed).
    pub changed: CaseCounters,
    /// What the case holds, as this entry was read: hand it back to
    /// [`Store::mark_reviewed_upto`] so that changes which arrive while the supervisor reads
    /// still bring the case back.
    pub holds: CaseCounters,
}

/// A supervision comment the link worker holding the case has not acknowledged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewComment {
    /// The case file.
    pub case_id: DocumentId,
    /// The patient's name.
    pub patient_name: String,
    /// The comment.
    pub comment: Comment,
}

/// One thing due for the link worker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkItem {
    /// What is due.
    pub kind: WorkKind,
    /// The case file.
    pub case_id: DocumentId,
    /// The patient's name.
    pub patient_name: String,
    /// The day it fell or falls due, when there is one.
    pub due: Option<Date>,
    /// Due before today.
    pub overdue: bool,
    /// The ring-back, for [`WorkKind::RingBack`].
    pub ring_back: Option<RingBackId>,
    /// The ring-back's note.
    pub note: Option<String>,
    /// For [`WorkKind::Feedback`]: which message is owed.
    pub feedback: Option<crate::feedback::FeedbackKind>,
}

/// Writes what oversight indexes of one case, in the edit's transaction.
pub(super) fn update_summary(
    tx: &Transaction<'_>,
    case_id: DocumentId,
    s: &CaseSummary,
) -> Result<()> {
    let id = case_id.as_bytes().as_slice();
    let o = &s.oversight;
    let assigned = o.assigned.as_ref();
    let unacked = s
        .comments
        .iter()
        .filter(|c| o.ack_of(c.id).is_none())
        .count();
    let changed = tx.execute(
        "UPDATE caseload SET assigned_to = ?2, assigned_conflicted = ?3, status_since = ?4,
             opened_at = ?5, accepted_at = ?6, awaiting_contact_since = ?7, last_measure_on = ?8,
             status_moves = ?9, measure_count = ?10, safeguarding_events = ?11,
             comment_count = ?12, handover_count = ?13, unacked_comments = ?14,
             feedback_due = ?15, feedback_due_since = ?16
         WHERE case_id = ?1",
        params![
            id,
            assigned
                .and_then(|a| a.provisional())
                .map(|d| d.as_bytes().to_vec()),
            assigned.is_some_and(|a| a.is_conflicted()),
            s.status_since,
            s.opened_at,
            s.accepted_at,
            s.awaiting_contact_since.map(doc::format_date),
            s.last_measure_on.map(doc::format_date),
            s.counters.status_moves,
            s.counters.measures,
            s.counters.safeguarding,
            s.counters.comments,
            s.counters.handovers,
            unacked as i64,
            s.feedback_due.map(|(k, _)| k.as_str()),
            s.feedback_due.map(|(_, since)| since),
        ],
    )?;
    if changed != 1 {
        return Err(Error::NotFound {
            kind: "caseload row",
            id: case_id.to_string(),
        });
    }
    tx.execute("DELETE FROM case_reviews WHERE case_id = ?1", [id])?;
    let mut review = tx.prepare_cached(
        "INSERT INTO case_reviews (case_id, reviewer, by, at, sessions, status_moves, measures,
             safeguarding, comments, handovers) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?;
    for r in &o.reviews {
        review.execute(params![
            id,
            r.reviewer.as_bytes().as_slice(),
            r.by,
            r.at,
            r.seen.sessions,
            r.seen.status_moves,
            r.seen.measures,
            r.seen.safeguarding,
            r.seen.comments,
            r.seen.handovers
        ])?;
    }
    tx.execute("DELETE FROM case_comments WHERE case_id = ?1", [id])?;
    let mut comment = tx.prepare_cached(
        "INSERT INTO case_comments (case_id, comment_id, at, by, text, acked_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    for c in &s.comments {
        comment.execute(params![
            id,
            c.id.as_bytes().as_slice(),
            c.at,
            c.by,
            c.text,
            o.ack_of(c.id).map(|a| a.at)
        ])?;
    }
    tx.execute("DELETE FROM ring_backs WHERE case_id = ?1", [id])?;
    let mut ring = tx.prepare_cached(
        "INSERT INTO ring_backs (case_id, id, due, note, device, by, at, done_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?;
    for r in &o.ring_backs {
        ring.execute(params![
            id,
            r.id.as_bytes().as_slice(),
            doc::format_date(r.due),
            r.note,
            r.device.as_bytes().as_slice(),
            r.by,
            r.at,
            r.done_at
        ])?;
    }
    let mut person = tx.prepare_cached(
        "INSERT INTO people (device, name, at) VALUES (?1, ?2, ?3)
         ON CONFLICT (device) DO UPDATE SET name = excluded.name, at = excluded.at
         WHERE excluded.at > people.at",
    )?;
    for h in &o.handovers {
        person.execute(params![h.to.as_bytes().as_slice(), h.to_name, h.at])?;
    }
    Ok(())
}

fn member(device: Option<Vec<u8>>, name: Option<String>) -> Result<Option<Member>> {
    device
        .map(|d| {
            Ok(Member {
                device: DeviceId::from_stored(&d)?,
                name,
                role: None,
            })
        })
        .transpose()
}

/// Names the role of a member still in the team (none for a device revoked or not in it).
fn fill_role(member: &mut Option<Member>, roles: &std::collections::HashMap<DeviceId, Role>) {
    if let Some(m) = member {
        m.role = roles.get(&m.device).copied();
    }
}

/// A count the index holds as an integer (never negative, never past `u32::MAX`).
pub(super) fn count(v: i64) -> u32 {
    u32::try_from(v.max(0)).unwrap_or(u32::MAX)
}

/// The day `working_days` working days after `from`.
fn working_days_after(from: Date, working_days: u32) -> Date {
    let mut day = from;
    let mut left = working_days;
    while left > 0 {
        day = day.next_day().unwrap_or(day);
        if !matches!(day.weekday(), Weekday::Saturday | Weekday::Sunday) {
            left -= 1;
        }
    }
    day
}

/// Per-worker load from the index: one grouped query.
pub(super) fn load(
    conn: &Connection,
    team: Option<TeamId>,
    only: Option<DeviceId>,
    limits: &LoadLimits,
    now: i64,
) -> Result<Vec<WorkerLoad>> {
    let mut stmt = conn.prepare_cached(
        "SELECT c.assigned_to, p.name,
                SUM(c.status = 'referred'), SUM(c.status = 'active'), SUM(c.status = 'holding'),
                SUM(c.status = 'tapering'),
                SUM(c.accepted_at IS NOT NULL AND c.accepted_at >= ?3),
                SUM(c.status = 'holding' AND IFNULL(c.status_since <= ?4, 0)),
                SUM(c.status != 'closed' AND c.session_count > ?5),
                SUM(c.status != 'closed' AND IFNULL(c.opened_at <= ?6, 0)),
                SUM(CASE WHEN c.status != 'closed' THEN c.open_safeguarding ELSE 0 END)
         FROM caseload c JOIN documents d ON d.id = c.case_id
         LEFT JOIN people p ON p.device = c.assigned_to
         WHERE d.team_id IS ?1 AND (?2 IS NULL OR c.assigned_to = ?2)
         GROUP BY c.assigned_to
         ORDER BY c.assigned_to IS NULL, p.name, c.assigned_to",
    )?;
    let rows = stmt.query_map(
        params![
            team.map(|t| t.as_bytes().to_vec()),
            only.map(|d| d.as_bytes().to_vec()),
            now - 365 * DAY_MS,
            now - i64::from(limits.held_days) * DAY_MS,
            i64::from(limits.sessions),
            now - i64::from(limits.open_days) * DAY_MS,
        ],
        |r| {
            Ok((
                r.get::<_, Option<Vec<u8>>>(0)?,
                r.get::<_, Option<String>>(1)?,
                [
                    r.get::<_, i64>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, i64>(4)?,
                    r.get::<_, i64>(5)?,
                    r.get::<_, i64>(6)?,
                    r.get::<_, i64>(7)?,
                    r.get::<_, i64>(8)?,
                    r.get::<_, i64>(9)?,
                    r.get::<_, i64>(10)?,
                ],
            ))
        },
    )?;
    let mut out = Vec::new();
    for row in rows {
        let (device, name, n) = row?;
        let accepted = count(n[4]);
        out.push(WorkerLoad {
            worker: member(device, name)?,
            referred: count(n[0]),
            active: count(n[1]),
            holding: count(n[2]),
            tapering: count(n[3]),
            accepted_last_year: accepted,
            over_accepted_limit: accepted > limits.accepted_per_year,
            held_too_long: count(n[5]),
            many_sessions: count(n[6]),
            open_too_long: count(n[7]),
            open_safeguarding: count(n[8]),
        });
    }
    Ok(out)
}

/// The review queue of `reviewer` from the index: every case changed since their mark (or
/// never marked), contested, or with an open safeguarding concern; those first.
pub(super) fn queue(
    conn: &Connection,
    team: Option<TeamId>,
    reviewer: DeviceId,
    limit: u32,
) -> Result<Vec<QueueEntry>> {
    queue_rows(conn, team, reviewer, Rows::Queue, limit)
}

/// The open cases `holder` holds (`None`: nobody), with where each stands for `reviewer`:
/// open safeguarding first, then by status and the time in it.
pub(super) fn held_by(
    conn: &Connection,
    team: Option<TeamId>,
    reviewer: DeviceId,
    holder: Option<DeviceId>,
    limit: u32,
) -> Result<Vec<QueueEntry>> {
    queue_rows(conn, team, reviewer, Rows::HeldBy(holder), limit)
}

/// Where one case stands for `reviewer`, whether or not it is in their queue.
pub(super) fn queue_entry(
    conn: &Connection,
    reviewer: DeviceId,
    case: DocumentId,
) -> Result<Option<QueueEntry>> {
    Ok(queue_rows(conn, None, reviewer, Rows::Case(case), 1)?.pop())
}

/// Which rows [`queue_rows`] reads.
enum Rows {
    /// The review queue.
    Queue,
    /// One case.
    Case(DocumentId),
    /// The open cases a device holds (`None`: nobody).
    HeldBy(Option<DeviceId>),
}

fn queue_rows(
    conn: &Connection,
    team: Option<TeamId>,
    reviewer: DeviceId,
    rows: Rows,
    limit: u32,
) -> Result<Vec<QueueEntry>> {
    let select =
        "SELECT c.case_id, c.patient_name, c.status, c.status_since, c.assigned_to, p.name,
                c.open_safeguarding, c.status_conflicted, c.assigned_conflicted, r.at,
                c.session_count - IFNULL(r.sessions, 0), c.status_moves - IFNULL(r.status_moves, 0),
                c.measure_count - IFNULL(r.measures, 0),
                c.safeguarding_events - IFNULL(r.safeguarding, 0),
                c.comment_count - IFNULL(r.comments, 0), c.handover_count - IFNULL(r.handovers, 0),
                c.session_count, c.status_moves, c.measure_count, c.safeguarding_events,
                c.comment_count, c.handover_count
         FROM caseload c JOIN documents d ON d.id = c.case_id
         LEFT JOIN case_reviews r ON r.case_id = c.case_id AND r.reviewer = ?2
         LEFT JOIN people p ON p.device = c.assigned_to";
    let key = match &rows {
        Rows::Queue | Rows::HeldBy(None) => None,
        Rows::Case(case) => Some(case.as_bytes().to_vec()),
        Rows::HeldBy(Some(device)) => Some(device.as_bytes().to_vec()),
    };
    let mut stmt = match rows {
        Rows::Queue => conn.prepare_cached(&format!(
            "{select}
             WHERE ?4 IS NULL AND d.team_id IS ?1 AND (c.open_safeguarding > 0 OR c.status_conflicted
                 OR c.assigned_conflicted OR r.case_id IS NULL OR c.session_count > r.sessions
                 OR c.status_moves > r.status_moves OR c.measure_count > r.measures
                 OR c.safeguarding_events > r.safeguarding OR c.comment_count > r.comments
                 OR c.handover_count > r.handovers)
             ORDER BY c.open_safeguarding > 0 DESC,
                 (c.status_conflicted OR c.assigned_conflicted) DESC,
                 c.updated_at DESC, c.case_id
             LIMIT ?3"
        ))?,
        Rows::Case(_) => conn.prepare_cached(&format!(
            "{select} WHERE c.case_id = ?4 AND (?1 IS NULL OR d.team_id IS ?1) LIMIT ?3"
        ))?,
        Rows::HeldBy(_) => conn.prepare_cached(&format!(
            "{select}
             WHERE d.team_id IS ?1 AND c.assigned_to IS ?4 AND c.status != 'closed'
             ORDER BY c.open_safeguarding > 0 DESC,
                 CASE c.status WHEN 'referred' THEN 0 WHEN 'active' THEN 1
                     WHEN 'holding' THEN 2 ELSE 3 END,
                 c.status_since, c.case_id
             LIMIT ?3"
        ))?,
    };
    let rows = stmt.query_map(
        params![
            team.map(|t| t.as_bytes().to_vec()),
            reviewer.as_bytes().as_slice(),
            i64::from(limit.max(1)),
            key,
        ],
        |r| {
            Ok((
                r.get::<_, Vec<u8>>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, Option<i64>>(3)?,
                r.get::<_, Option<Vec<u8>>>(4)?,
                r.get::<_, Option<String>>(5)?,
                r.get::<_, i64>(6)?,
                r.get::<_, bool>(7)?,
                r.get::<_, bool>(8)?,
                r.get::<_, Option<i64>>(9)?,
                [
                    r.get::<_, i64>(10)?,
                    r.get::<_, i64>(11)?,
                    r.get::<_, i64>(12)?,
                    r.get::<_, i64>(13)?,
                    r.get::<_, i64>(14)?,
                    r.get::<_, i64>(15)?,
                ],
                [
                    r.get::<_, i64>(16)?,
                    r.get::<_, i64>(17)?,
                    r.get::<_, i64>(18)?,
                    r.get::<_, i64>(19)?,
                    r.get::<_, i64>(20)?,
                    r.get::<_, i64>(21)?,
                ],
            ))
        },
    )?;
    let mut out = Vec::new();
    for row in rows {
        let (case, name, status, since, holder, holder_name, sg, sc, hc, reviewed, n, h) = row?;
        out.push(QueueEntry {
            case_id: DocumentId::from_stored(&case)?,
            patient_name: name,
            status: status.parse()?,
            status_since: since,
            holder: member(holder, holder_name)?,
            open_safeguarding: count(sg),
            status_contested: sc,
            holder_contested: hc,
            reviewed_at: reviewed,
            changed: counters_of(n),
            holds: counters_of(h),
        });
    }
    Ok(out)
}

/// Counters in the index's column order: sessions, status moves, measures, safeguarding,
/// comments, handovers.
fn counters_of(n: [i64; 6]) -> CaseCounters {
    CaseCounters {
        sessions: count(n[0]),
        status_moves: count(n[1]),
        measures: count(n[2]),
        safeguarding: count(n[3]),
        comments: count(n[4]),
        handovers: count(n[5]),
    }
}

/// `worker`'s worklist for `today` from the index.
pub(super) fn worklist(
    conn: &Connection,
    team: Option<TeamId>,
    worker: DeviceId,
    limits: &LoadLimits,
    today: Date,
) -> Result<Vec<WorkItem>> {
    if limits.first_contact_working_days > MAX_FIRST_CONTACT_DAYS {
        return Err(Error::InvalidInput {
            field: "first contact working days",
            reason: format!("at most {MAX_FIRST_CONTACT_DAYS}"),
        });
    }
    let team = team.map(|t| t.as_bytes().to_vec());
    let me = worker.as_bytes().as_slice();
    let today_s = doc::format_date(today);
    let mut out = Vec::new();
    let mut push = |kind, case: Vec<u8>, name, due: Option<Date>| -> Result<()> {
        out.push(WorkItem {
            kind,
            case_id: DocumentId::from_stored(&case)?,
            patient_name: name,
            due,
            overdue: due.is_some_and(|d| d < today),
            ring_back: None,
            note: None,
            feedback: None,
        });
        Ok(())
    };
    {
        let mut stmt = conn.prepare_cached(
            "SELECT c.case_id, c.patient_name, c.next_follow_up
             FROM caseload c JOIN documents d ON d.id = c.case_id
             WHERE c.assigned_to = ?2 AND d.team_id IS ?1 AND c.status != 'closed'
                 AND c.next_follow_up IS NOT NULL AND c.next_follow_up <= ?3",
        )?;
        let rows = stmt.query_map(params![team, me, today_s], |r| {
            Ok((r.get::<_, Vec<u8>>(0)?, r.get(1)?, r.get::<_, String>(2)?))
        })?;
        for row in rows {
            let (case, name, due) = row?;
            push(WorkKind::FollowUp, case, name, Some(doc::parse_date(&due)?))?;
        }
    }
    {
        // First contact: a referral received with no session (attended or an attempt)
        // recorded since it arrived, listed from the day it falls due: that many working
        // days after it was received.
        let mut stmt = conn.prepare_cached(
            "SELECT c.case_id, c.patient_name, c.awaiting_contact_since
             FROM caseload c JOIN documents d ON d.id = c.case_id
             WHERE c.assigned_to = ?2 AND d.team_id IS ?1 AND c.status = 'referred'
                 AND c.awaiting_contact_since IS NOT NULL AND c.awaiting_contact_since <= ?3
                 AND (c.last_session_start IS NULL
                      OR c.last_session_start < unixepoch(c.awaiting_contact_since) * 1000)",
        )?;
        let rows = stmt.query_map(params![team, me, today_s], |r| {
            Ok((r.get::<_, Vec<u8>>(0)?, r.get(1)?, r.get::<_, String>(2)?))
        })?;
        for row in rows {
            let (case, name, received) = row?;
            let due = working_days_after(
                doc::parse_date(&received)?,
                limits.first_contact_working_days,
            );
            if due <= today {
                push(WorkKind::FirstContact, case, name, Some(due))?;
            }
        }
    }
    {
        // Measures: an open case with none yet (a measure offered and not completed counts
        // as offered: nobody is asked to press a distressing questionnaire again), and a
        // tapering case with none since it began tapering.
        let mut stmt = conn.prepare_cached(
            "SELECT c.case_id, c.patient_name, c.status, c.accepted_at, c.status_since
             FROM caseload c JOIN documents d ON d.id = c.case_id
             WHERE c.assigned_to = ?2 AND d.team_id IS ?1
                 AND ((c.status IN ('active', 'holding', 'tapering') AND c.measure_count = 0)
                      OR (c.status = 'tapering' AND c.status_since IS NOT NULL
                          AND (c.last_measure_on IS NULL
                               OR c.last_measure_on < date(c.status_since / 1000, 'unixepoch'))))",
        )?;
        let rows = stmt.query_map(params![team, me], |r| {
            Ok((
                r.get::<_, Vec<u8>>(0)?,
                r.get(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, Option<i64>>(3)?,
                r.get::<_, Option<i64>>(4)?,
            ))
        })?;
        for row in rows {
            let (case, name, status, accepted, since) = row?;
            let (kind, from) = if status == CaseStatus::Tapering.as_str() {
                (WorkKind::ClosingMeasure, since)
            } else {
                (WorkKind::BaselineMeasure, accepted)
            };
            // The day (UTC) of the acceptance or of the move to tapering: not due before it.
            let due = from
                .and_then(|ms| time::OffsetDateTime::from_unix_timestamp(ms / 1000).ok())
                .map(|t| t.date());
            if due.is_some_and(|d| d > today) {
                continue;
            }
            push(kind, case, name, due)?;
        }
    }
    {
        // The message back to the GP, owed since a decision or a closure: listed at once,
        // due within five working days.
        let mut stmt = conn.prepare_cached(
            "SELECT c.case_id, c.patient_name, c.feedback_due_since, c.feedback_due
             FROM caseload c JOIN documents d ON d.id = c.case_id
             WHERE c.assigned_to = ?2 AND d.team_id IS ?1 AND c.feedback_due IS NOT NULL
                 AND c.feedback_due_since >= IFNULL(
                     (SELECT value FROM meta WHERE key = 'feedback_owed_from'), 0)",
        )?;
        let rows = stmt.query_map(params![team, me], |r| {
            Ok((
                r.get::<_, Vec<u8>>(0)?,
                r.get(1)?,
                r.get::<_, Option<i64>>(2)?,
                r.get::<_, String>(3)?,
            ))
        })?;
        for row in rows {
            let (case, name, since, kind) = row?;
            let due = since
                .and_then(|ms| time::OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000)).ok())
                .map(|t| working_days_after(t.date(), FEEDBACK_WORKING_DAYS));
            out.push(WorkItem {
                kind: WorkKind::Feedback,
                case_id: DocumentId::from_stored(&case)?,
                patient_name: name,
                due,
                overdue: due.is_some_and(|d| d < today),
                ring_back: None,
                note: None,
                feedback: crate::feedback::FeedbackKind::ALL
                    .iter()
                    .copied()
                    .find(|k| k.as_str() == kind),
            });
        }
    }
    {
        let mut stmt = conn.prepare_cached(
            "SELECT r.case_id, c.patient_name, r.due, r.id, r.note
             FROM ring_backs r JOIN caseload c ON c.case_id = r.case_id
             JOIN documents d ON d.id = r.case_id
             WHERE r.done_at IS NULL AND r.due <= ?3 AND d.team_id IS ?1
                 AND (c.assigned_to = ?2 OR r.device = ?2)",
        )?;
        let rows = stmt.query_map(params![team, me, today_s], |r| {
            Ok((
                r.get::<_, Vec<u8>>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, Vec<u8>>(3)?,
                r.get::<_, String>(4)?,
            ))
        })?;
        for row in rows {
            let (case, name, due, id, note) = row?;
            let due = doc::parse_date(&due)?;
            out.push(WorkItem {
                kind: WorkKind::RingBack,
                case_id: DocumentId::from_stored(&case)?,
                patient_name: name,
                due: Some(due),
                overdue: due < today,
                ring_back: Some(RingBackId::from_stored(&id)?),
                note: Some(note),
                feedback: None,
            });
        }
    }
    // Oldest due first; undated items (a baseline with no acceptance date) last.
    out.sort_by(|a, b| {
        (a.due.is_none(), a.due, a.kind, &a.patient_name, a.case_id).cmp(&(
            b.due.is_none(),
            b.due,
            b.kind,
            &b.patient_name,
            b.case_id,
        ))
    });
    Ok(out)
}

/// Supervision comments not acknowledged on cases `worker` holds, oldest first.
pub(super) fn new_comments(
    conn: &Connection,
    team: Option<TeamId>,
    worker: DeviceId,
) -> Result<Vec<NewComment>> {
    let mut stmt = conn.prepare_cached(
        "SELECT m.case_id, c.patient_name, m.comment_id, m.at, m.by, m.text
         FROM caseload c JOIN documents d ON d.id = c.case_id
         JOIN case_comments m ON m.case_id = c.case_id
         WHERE c.assigned_to = ?2 AND d.team_id IS ?1 AND c.unacked_comments > 0
             AND m.acked_at IS NULL
         ORDER BY m.at, m.comment_id",
    )?;
    let rows = stmt.query_map(
        params![
            team.map(|t| t.as_bytes().to_vec()),
            worker.as_bytes().as_slice()
        ],
        |r| {
            Ok((
                r.get::<_, Vec<u8>>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, Vec<u8>>(2)?,
                r.get::<_, i64>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, String>(5)?,
            ))
        },
    )?;
    let mut out = Vec::new();
    for row in rows {
        let (case, name, id, at, by, text) = row?;
        out.push(NewComment {
            case_id: DocumentId::from_stored(&case)?,
            patient_name: name,
            comment: Comment {
                id: CommentId::from_stored(&id)?,
                at,
                by,
                text,
            },
        });
    }
    Ok(out)
}

impl Store {
    /// This device, as oversight names it.
    pub fn this_member(&self) -> DeviceId {
        self.author.device
    }

    /// The team (if any) of a case, checked to be a case file.
    fn case_team(&mut self, case: DocumentId) -> Result<Option<TeamId>> {
        let kind = self.kind_of(case)?;
        if kind != DocKind::CaseFile {
            return Err(Error::WrongDocumentKind {
                expected: "case_file",
                found: kind.as_str().to_owned(),
            });
        }
        self.document_team(case)
    }

    /// Staff members of `team` (admins, supervisors, link workers; not revoked), with the
    /// names given to them in handovers.
    pub fn team_members(&self, team: TeamId) -> Result<Vec<Member>> {
        let mut out = Vec::new();
        for d in self.devices(team)? {
            if d.revoked_at.is_some() || d.role == Role::Patient {
                continue;
            }
            out.push(Member {
                device: d.device,
                name: self.member_name(d.device)?,
                role: Some(d.role),
            });
        }
        out.sort_by(|a, b| (&a.name, a.device).cmp(&(&b.name, b.device)));
        Ok(out)
    }

    /// The name last given to `device` in a handover (this device: its own person).
    pub fn member_name(&self, device: DeviceId) -> Result<Option<String>> {
        if device == self.author.device {
            return Ok(Some(self.author.person.clone()));
        }
        Ok(self
            .conn
            .query_row(
                "SELECT name FROM people WHERE device = ?1",
                [device.as_bytes().as_slice()],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// Assigns a case to a link worker: a staff member of the case's team (outside a team,
    /// only this device). `name` defaults to the name last given to them. Keeps the
    /// handover (who, when, why) in the case; also settles a contested assignment.
    pub fn assign_case(
        &mut self,
        case: DocumentId,
        worker: DeviceId,
        name: Option<&str>,
        reason: Option<&str>,
    ) -> Result<()> {
        let team = self.case_team(case)?;
        match team {
            Some(team) => {
                // Supervisors and admins allocate; a link worker hands over only a case they
                // hold (one of the holders while it is contested).
                if !matches!(self.role(team)?, Some(Role::Supervisor | Role::Admin)) {
                    let me = self.author.device;
                    let holder = oversight::assigned(&mut self.load(case)?.1)?;
                    if !holder.is_some_and(|h| h.values().any(|d| *d == me)) {
                        return Err(Error::NotAllowed(
                            "only supervisors, admins and the link worker holding a case hand it over"
                                .into(),
                        ));
                    }
                }
                let member = self.devices(team)?.into_iter().find(|d| d.device == worker);
                match member {
                    Some(d) if d.revoked_at.is_none() && d.role != Role::Patient => {}
                    Some(d) if d.revoked_at.is_some() => {
                        return Err(Error::NotAllowed(
                            "that device has been revoked from the team".into(),
                        ));
                    }
                    Some(_) => {
                        return Err(Error::NotAllowed(
                            "a case is held by staff, not by a patient".into(),
                        ));
                    }
                    None => {
                        return Err(Error::NotFound {
                            kind: "team member",
                            id: worker.to_string(),
                        });
                    }
                }
            }
            None if worker != self.author.device => {
                return Err(Error::NotAllowed(
                    "outside a team a case can only be held by this device".into(),
                ));
            }
            None => {}
        }
        let name = match name {
            Some(n) => n.to_owned(),
            None => self.member_name(worker)?.ok_or(Error::InvalidInput {
                field: "link worker's name",
                reason: "no name is known for that device yet: give one".into(),
            })?,
        };
        self.edit(
            case,
            DocKind::CaseFile,
            "case assigned",
            |d, a, at| oversight::assign(d, a, worker, &name, reason, at),
            |_| Reindex::CaseHeader,
        )
    }

    /// Seeded data only: assigns a case to a made-up link worker who is in no team.
    #[cfg(feature = "seed")]
    pub(crate) fn assign_case_unchecked(
        &mut self,
        case: DocumentId,
        worker: DeviceId,
        name: &str,
        reason: Option<&str>,
    ) -> Result<()> {
        self.edit(
            case,
            DocKind::CaseFile,
            "case assigned",
            |d, a, at| oversight::assign(d, a, worker, name, reason, at),
            |_| Reindex::CaseHeader,
        )
    }

    /// Marks a case reviewed by this device, up to what it holds now; returns the counters
    /// recorded. In a team, only supervisors and admins review. A screen that showed the
    /// case first marks what it showed instead: [`Store::mark_reviewed_upto`].
    pub fn mark_reviewed(&mut self, case: DocumentId) -> Result<CaseCounters> {
        self.mark_reviewed_as(case, None)
    }

    /// Marks a case reviewed up to `seen`, the counters of the entry the supervisor was
    /// shown ([`QueueEntry::holds`]): what arrived since (a session synced in while they
    /// read) still brings it back. Never past what the case holds, and never below this
    /// device's earlier mark. Returns the counters recorded.
    pub fn mark_reviewed_upto(
        &mut self,
        case: DocumentId,
        seen: &CaseCounters,
    ) -> Result<CaseCounters> {
        self.mark_reviewed_as(case, Some(*seen))
    }

    fn mark_reviewed_as(
        &mut self,
        case: DocumentId,
        seen: Option<CaseCounters>,
    ) -> Result<CaseCounters> {
        if let Some(team) = self.case_team(case)?
            && !matches!(self.role(team)?, Some(Role::Supervisor | Role::Admin))
        {
            return Err(Error::NotAllowed(
                "only supervisors and admins mark cases reviewed".into(),
            ));
        }
        self.edit(
            case,
            DocKind::CaseFile,
            "case reviewed",
            |d, a, at| oversight::mark_reviewed(d, a, seen.as_ref(), at),
            |_| Reindex::CaseHeader,
        )
    }

    /// Acknowledges a supervision comment on a case this device holds.
    pub fn acknowledge_comment(&mut self, case: DocumentId, comment: CommentId) -> Result<()> {
        self.edit(
            case,
            DocKind::CaseFile,
            "supervision comment acknowledged",
            |d, a, at| oversight::acknowledge_comment(d, a, comment, at),
            |_| Reindex::CaseHeader,
        )
    }

    /// Adds a ring-back task: a call owed to the patient on `due`.
    pub fn add_ring_back(&mut self, case: DocumentId, due: Date, note: &str) -> Result<RingBackId> {
        self.edit(
            case,
            DocKind::CaseFile,
            "ring-back added",
            |d, a, at| oversight::add_ring_back(d, a, due, note, at),
            |_| Reindex::CaseHeader,
        )
    }

    /// Records that a ring-back call was made.
    pub fn complete_ring_back(&mut self, case: DocumentId, id: RingBackId) -> Result<()> {
        self.edit(
            case,
            DocKind::CaseFile,
            "ring-back made",
            |d, _, at| oversight::complete_ring_back(d, id, at),
            |_| Reindex::CaseHeader,
        )
    }

    /// Caseload and holding load per link worker in the current team. A link worker sees
    /// their own row only; supervisors and admins see everyone's.
    pub fn caseload_load(&self, limits: &LoadLimits) -> Result<Vec<WorkerLoad>> {
        let team = self.current_team;
        let only = match team {
            Some(t) => match self.role(t)? {
                Some(Role::Supervisor | Role::Admin) => None,
                Some(Role::LinkWorker) => Some(self.author.device),
                _ => {
                    return Err(Error::NotAllowed(
                        "caseload load is for staff of the team".into(),
                    ));
                }
            },
            None => None,
        };
        let mut out = load(&self.conn, team, only, limits, self.now_millis())?;
        if let Some(team) = team {
            let roles = self.roles(team)?;
            for row in &mut out {
                fill_role(&mut row.worker, &roles);
            }
        }
        Ok(out)
    }

    /// The open cases `worker` holds in the current team (`None`: cases nobody holds), each
    /// with where it stands for this device's review: a link worker's caseload as their
    /// supervisor sees it. Open safeguarding first, then referred, active, holding and
    /// tapering, longest in the status first; at most `limit`. Supervisors and admins see
    /// anyone's; a link worker only their own.
    pub fn held_cases(&self, worker: Option<DeviceId>, limit: u32) -> Result<Vec<QueueEntry>> {
        let team = self.current_team;
        if let Some(t) = team {
            match self.role(t)? {
                Some(Role::Supervisor | Role::Admin) => {}
                Some(Role::LinkWorker) if worker == Some(self.author.device) => {}
                _ => {
                    return Err(Error::NotAllowed(
                        "a colleague's caseload is for the team's supervisors and admins".into(),
                    ));
                }
            }
        }
        let mut out = held_by(&self.conn, team, self.author.device, worker, limit)?;
        if let Some(team) = team {
            let roles = self.roles(team)?;
            for entry in &mut out {
                fill_role(&mut entry.holder, &roles);
            }
        }
        Ok(out)
    }

    /// This device's review queue in the current team: cases changed since it last marked
    /// them reviewed (or never marked), contested, or with an open safeguarding concern
    /// (always first), most recently changed next; at most `limit`.
    pub fn review_queue(&self, limit: u32) -> Result<Vec<QueueEntry>> {
        let mut out = queue(&self.conn, self.current_team, self.author.device, limit)?;
        if let Some(team) = self.current_team {
            let roles = self.roles(team)?;
            for entry in &mut out {
                fill_role(&mut entry.holder, &roles);
            }
        }
        Ok(out)
    }

    /// Where one case stands for this device's review: what changed since its last mark
    /// (everything when never marked), whether or not the case is in the queue.
    pub fn review_entry(&mut self, case: DocumentId) -> Result<QueueEntry> {
        let team = self.case_team(case)?;
        let mut entry =
            queue_entry(&self.conn, self.author.device, case)?.ok_or(Error::NotFound {
                kind: "caseload row",
                id: case.to_string(),
            })?;
        if let Some(team) = team {
            let roles = self.roles(team)?;
            fill_role(&mut entry.holder, &roles);
        }
        Ok(entry)
    }

    /// The role of every device of `team`, for naming members.
    fn roles(&self, team: TeamId) -> Result<std::collections::HashMap<DeviceId, Role>> {
        Ok(self
            .devices(team)?
            .into_iter()
            .filter(|d| d.revoked_at.is_none())
            .map(|d| (d.device, d.role))
            .collect())
    }

    /// This device's worklist for `today` in the current team.
    pub fn worklist(&self, today: Date, limits: &LoadLimits) -> Result<Vec<WorkItem>> {
        worklist(
            &self.conn,
            self.current_team,
            self.author.device,
            limits,
            today,
        )
    }

    /// Supervision comments on cases this device holds that it has not acknowledged.
    pub fn new_supervision_comments(&self) -> Result<Vec<NewComment>> {
        new_comments(&self.conn, self.current_team, self.author.device)
    }

    /// Today by the store's clock (UTC).
    pub fn today(&self) -> Date {
        time::OffsetDateTime::from_unix_timestamp(self.now_millis().div_euclid(1000))
            .map(|t| t.date())
            .unwrap_or(Date::MIN)
    }
}

/// Days between two instants, for "held for N days".
pub fn days_between(from_ms: i64, to_ms: i64) -> i64 {
    (to_ms - from_ms).div_euclid(DAY_MS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn working_days_skip_weekends() {
        // Friday 2026-11-27: five working days on is Friday 2026-12-04.
        assert_eq!(
            working_days_after(date!(2026 - 11 - 27), 5),
            date!(2026 - 12 - 04)
        );
        // Friday to Monday is one working day; Saturday to Monday too.
        assert_eq!(
            working_days_after(date!(2026 - 12 - 04), 1),
            date!(2026 - 12 - 07)
        );
        assert_eq!(
            working_days_after(date!(2026 - 12 - 05), 1),
            date!(2026 - 12 - 07)
        );
        // A referral on Saturday 5 December is due five working days on: Friday 11th.
        assert_eq!(
            working_days_after(date!(2026 - 12 - 05), 5),
            date!(2026 - 12 - 11)
        );
        assert_eq!(
            working_days_after(date!(2026 - 12 - 04), 0),
            date!(2026 - 12 - 04)
        );
    }
}
