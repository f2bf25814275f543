//! Oversight, inside the case file: who holds the case (an assignment with every handover
//! kept), each supervisor's review marks, the link worker's acknowledgements of supervision
//! comments, and ring-back tasks.
//!
//! Everything here merges without losing anyone's work: each supervisor's mark is under
//! their own device's key (two supervisors marking on two devices offline keep both), an
//! acknowledgement is under its comment's key, handovers are appended to a list, and two
//! concurrent assignments read as a [`Contested`] value until someone assigns again.
//!
//! A review mark records the case's [`CaseCounters`] as the supervisor saw them: counters
//! only grow, and every device computes the same ones from the same document, so "changed
//! since my review" is a comparison of numbers the index holds.

use automerge::{AutoCommit, ObjType, ROOT, ReadDoc, ScalarValue, transaction::Transactable};
use serde::{Deserialize, Serialize};
use time::Date;

use super::case_file::{self, CaseStatus};
use super::doc::{self, Author, Contested, DocKind};
use super::ids::{CommentId, DeviceId, RingBackId};
use crate::{Error, Result};

const MAX_NAME: usize = 200;
const MAX_SHORT: usize = 1024;

string_enum!(
    /// What a worklist item asks of the link worker.
    WorkKind {
        /// A session's follow-up date has come.
        FollowUp => "follow_up",
        /// A referral received and not yet contacted.
        FirstContact => "first_contact",
        /// A call owed to the patient.
        RingBack => "ring_back",
        /// An open case with no measure yet.
        BaselineMeasure => "baseline_measure",
        /// A tapering case with no measure since it began tapering.
        ClosingMeasure => "closing_measure",
        /// The message back to the GP and referrer, owed since a decision or a closure.
        Feedback => "feedback",
    }
);

/// One change of who holds a case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Handover {
    /// The link worker who held it before (none for the first assignment).
    pub from: Option<DeviceId>,
    /// The link worker who holds it now.
    pub to: DeviceId,
    /// Their name, as the person assigning gave it.
    pub to_name: String,
    /// Who made the change.
    pub by: String,
    /// From which device.
    pub by_device: DeviceId,
    /// When (ms since the epoch).
    pub at: i64,
    /// Why ("caseload rebalanced", "Sam on leave").
    pub reason: Option<String>,
}

/// Numbers that only grow as a case changes, the same on every device holding the same
/// document. A review mark keeps them as they were; the difference is what changed since.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseCounters {
    /// Sessions recorded.
    pub sessions: u32,
    /// Status moves (every entry of the status log).
    pub status_moves: u32,
    /// Measures recorded, completed or not.
    pub measures: u32,
    /// Safeguarding concerns raised, plus every change of a concern's status.
    pub safeguarding: u32,
    /// Supervision comments.
    pub comments: u32,
    /// Handovers (assignments).
    pub handovers: u32,
}

impl CaseCounters {
    /// What grew from `before` to `self` (zero where nothing did).
    pub fn since(&self, before: &CaseCounters) -> CaseCounters {
        CaseCounters {
            sessions: self.sessions.saturating_sub(before.sessions),
            status_moves: self.status_moves.saturating_sub(before.status_moves),
            measures: self.measures.saturating_sub(before.measures),
            safeguarding: self.safeguarding.saturating_sub(before.safeguarding),
            comments: self.comments.saturating_sub(before.comments),
            handovers: self.handovers.saturating_sub(before.handovers),
        }
    }

    /// Each counter no higher than in `cap`.
    pub fn at_most(&self, cap: &CaseCounters) -> CaseCounters {
        CaseCounters {
            sessions: self.sessions.min(cap.sessions),
            status_moves: self.status_moves.min(cap.status_moves),
            measures: self.measures.min(cap.measures),
            safeguarding: self.safeguarding.min(cap.safeguarding),
            comments: self.comments.min(cap.comments),
            handovers: self.handovers.min(cap.handovers),
        }
    }

    /// Each counter at least as high as in `floor`.
    pub fn at_least(&self, floor: &CaseCounters) -> CaseCounters {
        CaseCounters {
            sessions: self.sessions.max(floor.sessions),
            status_moves: self.status_moves.max(floor.status_moves),
            measures: self.measures.max(floor.measures),
            safeguarding: self.safeguarding.max(floor.safeguarding),
            comments: self.comments.max(floor.comments),
            handovers: self.handovers.max(floor.handovers),
        }
    }

    /// Whether anything counted at all.
    pub fn is_zero(&self) -> bool {
        *self == CaseCounters::default()
    }
}

/// A supervisor's mark: this case was reviewed, up to these counters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewMark {
    /// The reviewing supervisor's device.
    pub reviewer: DeviceId,
    /// Their name.
    pub by: String,
    /// When (ms since the epoch).
    pub at: i64,
    /// The case as they saw it.
    pub seen: CaseCounters,
}

/// A link worker's acknowledgement of a supervision comment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommentAck {
    /// The comment.
    pub comment: CommentId,
    /// Who acknowledged it.
    pub by: String,
    /// From which device.
    pub device: DeviceId,
    /// When (ms since the epoch).
    pub at: i64,
}

/// A call the link worker owes: added after a missed call, due on a day, done once made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RingBack {
    /// Its id.
    pub id: RingBackId,
    /// The day the call is due.
    pub due: Date,
    /// What it is about ("missed call about the PIP form").
    pub note: String,
    /// Who added it.
    pub by: String,
    /// From which device.
    pub device: DeviceId,
    /// When it was added (ms since the epoch).
    pub at: i64,
    /// When the call was made, if it has been.
    pub done_at: Option<i64>,
}

/// What the oversight indexes hold of a case, read without its sessions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseSummary {
    /// When the case entered its current status (ms since the epoch).
    pub status_since: Option<i64>,
    /// When the current episode began: the latest move to referred (creation, re-referral).
    pub opened_at: Option<i64>,
    /// When a referral was last accepted.
    pub accepted_at: Option<i64>,
    /// For a referred case, the day its latest undecided referral was received.
    pub awaiting_contact_since: Option<Date>,
    /// The latest day a measure was taken or offered.
    pub last_measure_on: Option<Date>,
    /// The counters review marks compare.
    pub counters: CaseCounters,
    /// Supervision comments, oldest first.
    pub comments: Vec<super::case_file::Comment>,
    /// Assignment, handovers, marks, acknowledgements and ring-backs.
    pub oversight: Oversight,
    /// The message back to the GP still owed, and since when (ms since the epoch).
    pub feedback_due: Option<(crate::feedback::FeedbackKind, i64)>,
}

/// Everything oversight keeps in a case file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Oversight {
    /// Who holds the case; contested when two devices assigned it concurrently.
    pub assigned: Option<Contested<DeviceId>>,
    /// Every handover, in the order they were made.
    pub handovers: Vec<Handover>,
    /// Each supervisor's latest mark.
    pub reviews: Vec<ReviewMark>,
    /// Acknowledged comments.
    pub acks: Vec<CommentAck>,
    /// Ring-back tasks, by due day.
    pub ring_backs: Vec<RingBack>,
}

impl Oversight {
    /// The name given for `device` in the latest handover to it.
    pub fn name_of(&self, device: DeviceId) -> Option<&str> {
        self.handovers
            .iter()
            .rev()
            .find(|h| h.to == device)
            .map(|h| h.to_name.as_str())
    }

    /// The acknowledgement of `comment`, if any.
    pub fn ack_of(&self, comment: CommentId) -> Option<&CommentAck> {
        self.acks.iter().find(|a| a.comment == comment)
    }
}

fn read_assigned(doc: &mut AutoCommit) -> Result<Option<Contested<DeviceId>>> {
    let Some(raw) = doc::get_contested_string(doc, &ROOT, "assigned")? else {
        // A case file from before assignment: held by the device that created it (the
        // author of its `kind`), the same answer on every device.
        return Ok(creator(doc).map(|device| Contested {
            claims: vec![doc::Claim {
                value: device,
                device: Some(device),
                by: None,
                at: None,
            }],
        }));
    };
    let mut claims: Vec<doc::Claim<DeviceId>> = Vec::new();
    for c in raw.claims {
        let value = c.value.parse::<DeviceId>()?;
        // Two devices handing the case to the same person at once agree: one claim.
        if claims.iter().any(|k| k.value == value) {
            continue;
        }
        claims.push(doc::Claim {
            value,
            device: c.device,
            by: c.by,
            at: c.at,
        });
    }
    Ok(Some(Contested { claims }))
}

/// The device whose change made the document (wrote its `kind`).
fn creator(doc: &AutoCommit) -> Option<DeviceId> {
    match doc.get(ROOT, "kind").ok()?? {
        (_, automerge::ObjId::Id(_, actor, _)) => DeviceId::from_slice(actor.to_bytes()).ok(),
        _ => None,
    }
}

/// The device whose change created `obj`.
pub(crate) fn created_by(obj: &automerge::ObjId) -> Option<DeviceId> {
    match obj {
        automerge::ObjId::Id(_, actor, _) => DeviceId::from_slice(actor.to_bytes()).ok(),
        automerge::ObjId::Root => None,
    }
}

/// Who holds the case, if anyone (contested when assigned on two devices concurrently).
pub fn assigned(doc: &mut AutoCommit) -> Result<Option<Contested<DeviceId>>> {
    read_assigned(doc)
}

/// Assigns the case to `to` (named `to_name`), appending a handover. Also how a contested
/// assignment is settled. Refused on a closed case and when `to` already holds it.
pub fn assign(
    doc: &mut AutoCommit,
    author: &Author,
    to: DeviceId,
    to_name: &str,
    reason: Option<&str>,
    at: i64,
) -> Result<()> {
    doc::expect_kind(doc, DocKind::CaseFile)?;
    let to_name = doc::require_text("link worker's name", to_name, MAX_NAME)?;
    let reason = reason
        .map(|r| doc::require_text("reason", r, MAX_SHORT))
        .transpose()?;
    let current = read_assigned(doc)?;
    if current.as_ref().and_then(|c| c.agreed()) == Some(&to) {
        return Err(Error::NotAllowed(
            "the case is already assigned to that link worker".into(),
        ));
    }
    if case_file::read_header(doc)?.status.agreed() == Some(&CaseStatus::Closed) {
        return Err(Error::NotAllowed(
            "the case is closed: add a re-referral to reopen it".into(),
        ));
    }
    put_assignment(doc, author, current, to, &to_name, reason.as_deref(), at)
}

/// The first holder of a new case: the link worker who created it.
pub(crate) fn assign_creator(doc: &mut AutoCommit, author: &Author, at: i64) -> Result<()> {
    let name = if author.person.trim().is_empty() {
        "unnamed".to_owned()
    } else {
        author.person.trim().to_owned()
    };
    put_assignment(doc, author, None, author.device, &name, None, at)
}

fn put_assignment(
    doc: &mut AutoCommit,
    author: &Author,
    current: Option<Contested<DeviceId>>,
    to: DeviceId,
    to_name: &str,
    reason: Option<&str>,
    at: i64,
) -> Result<()> {
    doc.put(ROOT, "assigned", to.to_string())?;
    let log = match doc::get_obj(doc, &ROOT, "handovers")? {
        Some(l) => l,
        None => doc.put_object(ROOT, "handovers", ObjType::List)?,
    };
    let end = doc.length(&log);
    let h = doc.insert_object(&log, end, ObjType::Map)?;
    if let Some(from) = current.as_ref().and_then(|c| c.provisional()) {
        doc.put(&h, "from", from.to_string())?;
    }
    doc.put(&h, "to", to.to_string())?;
    doc.put(&h, "to_name", to_name)?;
    doc.put(&h, "by", author.person.as_str())?;
    doc.put(&h, "by_device", author.device.to_string())?;
    doc.put(&h, "at", ScalarValue::Timestamp(at))?;
    if let Some(reason) = reason {
        doc.put(&h, "reason", reason)?;
    }
    Ok(())
}

fn read_handovers(doc: &AutoCommit) -> Result<Vec<Handover>> {
    let mut out = Vec::new();
    // Several lists when two devices made it at once (cases from before it was made with
    // the document): the union, in time order.
    for log in doc::get_all_objs(doc, &ROOT, "handovers")? {
        for i in 0..doc.length(&log) {
            let Some((_, h)) = doc.get(&log, i)? else {
                continue;
            };
            out.push(Handover {
                from: doc::get_string(doc, &h, "from")?
                    .map(|s| s.parse())
                    .transpose()?,
                to: doc::require_string(doc, &h, "to")?.parse()?,
                to_name: doc::get_string(doc, &h, "to_name")?.unwrap_or_default(),
                by: doc::get_string(doc, &h, "by")?.unwrap_or_default(),
                by_device: doc::require_string(doc, &h, "by_device")?.parse()?,
                at: doc::require_i64(doc, &h, "at")?,
                reason: doc::get_string(doc, &h, "reason")?,
            });
        }
    }
    out.sort_by_key(|h| h.at);
    Ok(out)
}

/// Items in the map(s) or list(s) at `key` of the root.
fn len_of(doc: &AutoCommit, key: &str) -> Result<u32> {
    let mut n = 0usize;
    for obj in doc::get_all_objs(doc, &ROOT, key)? {
        n += doc.length(&obj);
    }
    Ok(u32::try_from(n).unwrap_or(u32::MAX))
}

/// The case's counters as this document stands.
pub fn counters(doc: &AutoCommit) -> Result<CaseCounters> {
    let mut safeguarding = 0u32;
    for (_, c) in case_file::entries(doc, "safeguarding")? {
        let updates = doc::get_i64(doc, &c, "updates")?.unwrap_or(0);
        safeguarding = safeguarding
            .saturating_add(1)
            .saturating_add(u32::try_from(updates.max(0)).unwrap_or(u32::MAX));
    }
    Ok(CaseCounters {
        sessions: len_of(doc, "sessions")?,
        status_moves: len_of(doc, "status_log")?,
        measures: len_of(doc, "measures")?.saturating_add(len_of(doc, "measures_not_completed")?),
        safeguarding,
        comments: len_of(doc, "supervision")?,
        handovers: len_of(doc, "handovers")?,
    })
}

/// Marks the case reviewed by `author`, up to `shown` (what the supervisor was shown) or,
/// without it, up to what this document holds now; never past what it holds, never below
/// the same supervisor's earlier mark, which it replaces. Other supervisors' marks are
/// untouched.
pub fn mark_reviewed(
    doc: &mut AutoCommit,
    author: &Author,
    shown: Option<&CaseCounters>,
    at: i64,
) -> Result<CaseCounters> {
    doc::expect_kind(doc, DocKind::CaseFile)?;
    let now = counters(doc)?;
    let mut seen = shown.map_or(now, |s| s.at_most(&now));
    if let Some(earlier) = read_reviews(doc)?
        .into_iter()
        .find(|r| r.reviewer == author.device)
    {
        seen = seen.at_least(&earlier.seen);
    }
    let all = doc::ensure_map(doc, &ROOT, "reviews")?;
    let m = doc.put_object(&all, author.device.to_string(), ObjType::Map)?;
    doc.put(&m, "by", author.person.as_str())?;
    doc.put(&m, "at", ScalarValue::Timestamp(at))?;
    for (key, v) in [
        ("sessions", seen.sessions),
        ("status_moves", seen.status_moves),
        ("measures", seen.measures),
        ("safeguarding", seen.safeguarding),
        ("comments", seen.comments),
        ("handovers", seen.handovers),
    ] {
        doc.put(&m, key, i64::from(v))?;
    }
    Ok(seen)
}

fn count(doc: &AutoCommit, obj: &automerge::ObjId, key: &str) -> Result<u32> {
    Ok(u32::try_from(doc::get_i64(doc, obj, key)?.unwrap_or(0).max(0)).unwrap_or(u32::MAX))
}

/// Whether every field of `obj` was written by `device` (another device raising a counter
/// inside a supervisor's mark would otherwise hide the case from their queue).
fn all_fields_by(doc: &AutoCommit, obj: &automerge::ObjId, device: DeviceId) -> bool {
    doc.keys(obj).all(|k| {
        doc.get_all(obj, k.as_str())
            .unwrap_or_default()
            .iter()
            .all(|(_, id)| created_by(id) == Some(device))
    })
}

fn read_reviews(doc: &AutoCommit) -> Result<Vec<ReviewMark>> {
    let mut out: Vec<ReviewMark> = Vec::new();
    let now = counters(doc)?;
    for (k, m) in case_file::entries(doc, "reviews")? {
        let reviewer: DeviceId = k.parse()?;
        // Every staff device can write the whole case file: a mark counts only when the
        // reviewer's own device made it, and never past what the case holds, so nobody can
        // plant a mark that keeps a case out of a supervisor's queue.
        if created_by(&m) != Some(reviewer) || !all_fields_by(doc, &m, reviewer) {
            continue;
        }
        let mut mark = ReviewMark {
            reviewer,
            by: doc::get_string(doc, &m, "by")?.unwrap_or_default(),
            at: doc::require_i64(doc, &m, "at")?,
            seen: CaseCounters {
                sessions: count(doc, &m, "sessions")?,
                status_moves: count(doc, &m, "status_moves")?,
                measures: count(doc, &m, "measures")?,
                safeguarding: count(doc, &m, "safeguarding")?,
                comments: count(doc, &m, "comments")?,
                handovers: count(doc, &m, "handovers")?,
            },
        };
        mark.seen = mark.seen.at_most(&now);
        // A reviewer's marks in two concurrent maps: the later one stands.
        match out.iter_mut().find(|r| r.reviewer == mark.reviewer) {
            Some(r) if (r.at, r.seen.sessions) < (mark.at, mark.seen.sessions) => *r = mark,
            Some(_) => {}
            None => out.push(mark),
        }
    }
    out.sort_by_key(|r| (r.at, r.reviewer));
    Ok(out)
}

/// Acknowledges a supervision comment. Only the link worker holding the case does.
pub fn acknowledge_comment(
    doc: &mut AutoCommit,
    author: &Author,
    comment: CommentId,
    at: i64,
) -> Result<()> {
    doc::expect_kind(doc, DocKind::CaseFile)?;
    let holder = read_assigned(doc)?;
    if !holder
        .as_ref()
        .is_some_and(|h| h.values().any(|d| *d == author.device))
    {
        return Err(Error::NotAllowed(
            "only the link worker holding the case acknowledges its supervision comments".into(),
        ));
    }
    if doc::find_entry(doc, "supervision", &comment.to_string())?.is_none() {
        return Err(Error::NotFound {
            kind: "supervision comment",
            id: comment.to_string(),
        });
    }
    if doc::find_entry(doc, "comment_acks", &comment.to_string())?.is_some() {
        return Ok(());
    }
    let acks = doc::ensure_map(doc, &ROOT, "comment_acks")?;
    let a = doc.put_object(&acks, comment.to_string(), ObjType::Map)?;
    doc.put(&a, "by", author.person.as_str())?;
    doc.put(&a, "device", author.device.to_string())?;
    doc.put(&a, "at", ScalarValue::Timestamp(at))?;
    Ok(())
}

fn read_acks(doc: &AutoCommit) -> Result<Vec<CommentAck>> {
    let mut out: Vec<CommentAck> = Vec::new();
    for (k, a) in case_file::entries(doc, "comment_acks")? {
        let ack = CommentAck {
            comment: k.parse()?,
            by: doc::get_string(doc, &a, "by")?.unwrap_or_default(),
            device: doc::require_string(doc, &a, "device")?.parse()?,
            at: doc::require_i64(doc, &a, "at")?,
        };
        // Only the device an acknowledgement names can have made it.
        if created_by(&a) != Some(ack.device) {
            continue;
        }
        // Acknowledged twice (two maps, or two of the holder's devices): the first counts.
        match out.iter_mut().find(|x| x.comment == ack.comment) {
            Some(x) if (ack.at, ack.device) < (x.at, x.device) => *x = ack,
            Some(_) => {}
            None => out.push(ack),
        }
    }
    out.sort_by_key(|a| (a.at, a.comment));
    Ok(out)
}

/// Adds a ring-back task: a call owed to the patient, due on `due`.
pub fn add_ring_back(
    doc: &mut AutoCommit,
    author: &Author,
    due: Date,
    note: &str,
    at: i64,
) -> Result<RingBackId> {
    doc::expect_kind(doc, DocKind::CaseFile)?;
    let note = doc::require_text("ring-back note", note, MAX_SHORT)?;
    let id = RingBackId::random();
    let all = doc::ensure_map(doc, &ROOT, "ring_backs")?;
    let r = doc.put_object(&all, id.to_string(), ObjType::Map)?;
    doc.put(&r, "due", doc::format_date(due))?;
    doc.put(&r, "note", note)?;
    doc.put(&r, "by", author.person.as_str())?;
    doc.put(&r, "device", author.device.to_string())?;
    doc.put(&r, "at", ScalarValue::Timestamp(at))?;
    Ok(id)
}

/// Records that a ring-back call was made. Done twice (two devices) keeps the first time.
pub fn complete_ring_back(doc: &mut AutoCommit, id: RingBackId, at: i64) -> Result<()> {
    doc::expect_kind(doc, DocKind::CaseFile)?;
    let r = doc::find_entry(doc, "ring_backs", &id.to_string())?.ok_or(Error::NotFound {
        kind: "ring-back",
        id: id.to_string(),
    })?;
    if doc::get_i64(doc, &r, "done_at")?.is_some() {
        return Err(Error::NotAllowed(
            "that call is already recorded as made".into(),
        ));
    }
    doc.put(&r, "done_at", ScalarValue::Timestamp(at))?;
    Ok(())
}

fn read_ring_backs(doc: &AutoCommit) -> Result<Vec<RingBack>> {
    let mut out = Vec::new();
    for (k, r) in case_file::entries(doc, "ring_backs")? {
        out.push(RingBack {
            id: k.parse()?,
            due: doc::get_date(doc, &r, "due")?
                .ok_or_else(|| Error::Malformed("ring-back due day".into()))?,
            note: doc::get_string(doc, &r, "note")?.unwrap_or_default(),
            by: doc::get_string(doc, &r, "by")?.unwrap_or_default(),
            device: doc::require_string(doc, &r, "device")?.parse()?,
            at: doc::require_i64(doc, &r, "at")?,
            done_at: doc::get_i64(doc, &r, "done_at")?,
        });
    }
    out.sort_by_key(|r| (r.due, r.at, r.id));
    Ok(out)
}

/// Reads everything oversight keeps in a case file.
pub fn read(doc: &mut AutoCommit) -> Result<Oversight> {
    decode(doc).map_err(doc::as_damage)
}

fn decode(doc: &mut AutoCommit) -> Result<Oversight> {
    Ok(Oversight {
        assigned: read_assigned(doc)?,
        handovers: read_handovers(doc)?,
        reviews: read_reviews(doc)?,
        acks: read_acks(doc)?,
        ring_backs: read_ring_backs(doc)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::case_file::{self, NewPatient};
    use crate::model::ids::DocumentId;

    fn author(n: u8, person: &str) -> Author {
        Author {
            device: DeviceId([n; 16]),
            person: person.into(),
        }
    }

    /// A case from before review marks, acknowledgements and ring-backs were made with the
    /// document: two devices making the same map at once each write into their own, and
    /// readers take the union, so neither supervisor's mark (nor anything else) is lost.
    #[test]
    fn maps_made_on_two_devices_at_once_keep_both_devices_entries() {
        let sam = author(1, "Sam");
        let mut base =
            case_file::create(&sam, &NewPatient::named("Ada"), DocumentId([9; 16]), 1).unwrap();
        for key in ["reviews", "comment_acks", "ring_backs", "handovers"] {
            base.delete(ROOT, key).unwrap();
        }
        base.delete(ROOT, "assigned").unwrap();
        doc::commit(&mut base, &sam, "as an older build made it", 1);
        let sue = author(2, "Sue");
        let sid = author(3, "Sid");
        let mut a = base.fork().with_actor(sue.actor());
        let mut b = base.fork().with_actor(sid.actor());
        mark_reviewed(&mut a, &sue, None, 10).unwrap();
        add_ring_back(
            &mut a,
            &sue,
            time::macros::date!(2026 - 12 - 04),
            "call",
            10,
        )
        .unwrap();
        assign(&mut a, &sue, DeviceId([5; 16]), "Lee", None, 10).unwrap();
        mark_reviewed(&mut b, &sid, None, 11).unwrap();
        add_ring_back(
            &mut b,
            &sid,
            time::macros::date!(2026 - 12 - 05),
            "call",
            11,
        )
        .unwrap();
        assign(&mut b, &sid, sid.device, "Sid", None, 11).unwrap();
        doc::commit(&mut a, &sue, "a", 10);
        doc::commit(&mut b, &sid, "b", 11);
        a.merge(&mut b).unwrap();
        let o = read(&mut a).unwrap();
        let mut reviewers: Vec<_> = o.reviews.iter().map(|r| r.reviewer).collect();
        reviewers.sort();
        assert_eq!(reviewers, vec![sue.device, sid.device]);
        assert_eq!(o.ring_backs.len(), 2);
        assert_eq!(o.handovers.len(), 2);
        assert!(o.assigned.unwrap().is_conflicted());
        let c = counters(&a).unwrap();
        assert_eq!(c.handovers, 2);
        // A ring-back in the map that lost is still found and completed.
        for r in &o.ring_backs {
            complete_ring_back(&mut a, r.id, 12).unwrap();
        }
        assert!(
            read(&mut a)
                .unwrap()
                .ring_backs
                .iter()
                .all(|r| r.done_at == Some(12))
        );
    }

    /// Every staff device can write the whole case file. A review mark planted under a
    /// supervisor's key by another device does not count, and a mark never covers more than
    /// the case holds; two devices handing a case to the same person agree.
    #[test]
    fn planted_marks_do_not_count_and_the_same_holder_twice_is_agreed() {
        let sam = author(1, "Sam");
        let sue = author(2, "Sue");
        let sid = author(3, "Sid");
        let mut doc =
            case_file::create(&sam, &NewPatient::named("Ada"), DocumentId([9; 16]), 1).unwrap();
        doc::commit(&mut doc, &sam, "created", 1);
        // Sam writes a mark under Sue's key, claiming she saw everything there will ever be.
        let reviews = doc::require_obj(&doc, &ROOT, "reviews").unwrap();
        let m = doc
            .put_object(&reviews, sue.device.to_string(), ObjType::Map)
            .unwrap();
        doc.put(&m, "by", "Sue").unwrap();
        doc.put(&m, "at", ScalarValue::Timestamp(2)).unwrap();
        for key in [
            "sessions",
            "status_moves",
            "measures",
            "safeguarding",
            "comments",
            "handovers",
        ] {
            doc.put(&m, key, i64::from(u32::MAX)).unwrap();
        }
        doc::commit(&mut doc, &sam, "planted", 2);
        assert!(read(&mut doc).unwrap().reviews.is_empty());
        // Sue's own mark counts, capped at what the case holds.
        let mut theirs = doc.fork().with_actor(sue.actor());
        mark_reviewed(&mut theirs, &sue, None, 3).unwrap();
        doc::commit(&mut theirs, &sue, "reviewed", 3);
        let o = read(&mut theirs).unwrap();
        assert_eq!(o.reviews.len(), 1);
        assert_eq!(o.reviews[0].seen, counters(&theirs).unwrap());
        // Sam raises a counter inside Sue's own mark: the mark no longer counts (the case
        // comes back to her queue) instead of hiding every later session.
        let mut raised = theirs.fork().with_actor(sam.actor());
        let all = doc::require_obj(&raised, &ROOT, "reviews").unwrap();
        let sues = doc::get_obj(&raised, &all, &sue.device.to_string())
            .unwrap()
            .unwrap();
        raised.put(&sues, "sessions", i64::from(u32::MAX)).unwrap();
        doc::commit(&mut raised, &sam, "raised", 4);
        assert!(read(&mut raised).unwrap().reviews.is_empty());
        // Sue and Sid both hand the case to Sam's colleague at once: agreed, not contested.
        let kim = DeviceId([4; 16]);
        let mut a = doc.fork().with_actor(sue.actor());
        let mut b = doc.fork().with_actor(sid.actor());
        assign(&mut a, &sue, kim, "Kim", None, 4).unwrap();
        assign(&mut b, &sid, kim, "Kim", None, 4).unwrap();
        doc::commit(&mut a, &sue, "a", 4);
        doc::commit(&mut b, &sid, "b", 4);
        a.merge(&mut b).unwrap();
        let holder = read(&mut a).unwrap().assigned.unwrap();
        assert_eq!(holder.agreed(), Some(&kim));
    }
}
