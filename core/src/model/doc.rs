//! What every Holdfast document shares: its kind, who wrote each change, typed reads of
//! Automerge values, conflicts kept visible, and the change history.

use automerge::{
    ActorId, AutoCommit, ChangeHash, ObjId, ObjType, ROOT, ReadDoc, ScalarValue, ScalarValueRef,
    Value, ValueRef,
    transaction::{CommitOptions, Transactable},
};
use serde::{Deserialize, Serialize};
use time::Date;

use super::ids::DeviceId;
use crate::{Error, Result};

/// The schema version written into every document's root.
pub(crate) const DOC_SCHEMA: i64 = 1;

/// The kinds of Holdfast document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DocKind {
    /// One per patient per team: details, referrals, status, sessions, measures, safeguarding.
    CaseFile,
    /// One per patient, shared with the patient.
    ActionPlan,
    /// Community assets for an area.
    Directory,
    /// One per staff device per team: its own wellbeing, training needs and reflection,
    /// read only by it, the team's supervisors and admins (`model::private_notes`).
    PrivateNotes,
    /// One per team, its id derived from the team's: the limits its caseloads are held
    /// against (`model::team_settings`).
    TeamSettings,
}

impl DocKind {
    /// The stable name stored in documents and the database.
    pub fn as_str(self) -> &'static str {
        match self {
            DocKind::CaseFile => "case_file",
            DocKind::ActionPlan => "action_plan",
            DocKind::Directory => "directory",
            DocKind::PrivateNotes => "private_notes",
            DocKind::TeamSettings => "team_settings",
        }
    }

    /// Parses a stored kind name.
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "case_file" => Ok(DocKind::CaseFile),
            "action_plan" => Ok(DocKind::ActionPlan),
            "directory" => Ok(DocKind::Directory),
            "private_notes" => Ok(DocKind::PrivateNotes),
            "team_settings" => Ok(DocKind::TeamSettings),
            _ => Err(Error::Malformed(format!("unknown document kind {s:?}"))),
        }
    }
}

/// Who is editing: the device (the Automerge actor) and the person using it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Author {
    /// The device, which is also the Automerge actor id of its changes.
    pub device: DeviceId,
    /// The person's display name or staff handle, recorded with each change.
    pub person: String,
}

impl Author {
    /// The Automerge actor for this device.
    pub fn actor(&self) -> ActorId {
        ActorId::from(self.device.as_bytes().as_slice())
    }
}

/// What is written into each Automerge change message: who, and what they did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct ChangeNote {
    by: String,
    what: String,
}

/// A new, empty document of `kind`, written by `author`.
pub(crate) fn new_document(kind: DocKind, author: &Author) -> Result<AutoCommit> {
    let mut doc = AutoCommit::new().with_actor(author.actor());
    doc.put(ROOT, "kind", kind.as_str())?;
    doc.put(ROOT, "schema", DOC_SCHEMA)?;
    Ok(doc)
}

/// Commits the pending operations as one change, attributed to `author`, described by `what`,
/// dated `at` (ms since the epoch, by the device's clock). Returns `None` when there was
/// nothing to commit.
pub fn commit(doc: &mut AutoCommit, author: &Author, what: &str, at: i64) -> Option<ChangeHash> {
    let note = ChangeNote {
        by: author.person.clone(),
        what: what.to_owned(),
    };
    let message = serde_json::to_string(&note).unwrap_or_default();
    doc.commit_with(CommitOptions::default().with_message(message).with_time(at))
}

/// Reading a stored document involves no caller input: a value in it that does not parse
/// (an id, a status name, an NHS number) is damage to the document, so the input errors a
/// reader meets become [`Error::Malformed`]. Other errors (not found, database) pass.
pub(crate) fn as_damage(e: Error) -> Error {
    match e {
        Error::InvalidInput { field, reason } => {
            Error::Malformed(format!("the stored {field} does not parse: {reason}"))
        }
        Error::InvalidId { kind } => Error::Malformed(format!("a stored {kind} id does not parse")),
        Error::Protocol(e) => Error::Malformed(format!("a stored id does not parse: {e}")),
        e @ (Error::NhsNumber(_) | Error::Postcode(_) | Error::Measure(_)) => {
            Error::Malformed(format!("a stored value does not parse: {e}"))
        }
        other => other,
    }
}

/// Fails unless `doc` is a Holdfast document of `kind`.
pub(crate) fn expect_kind(doc: &AutoCommit, kind: DocKind) -> Result<()> {
    match get_string(doc, &ROOT, "kind")? {
        Some(found) if found == kind.as_str() => Ok(()),
        Some(found) => Err(Error::WrongDocumentKind {
            expected: kind.as_str(),
            found,
        }),
        None => Err(Error::Malformed("document has no kind".into())),
    }
}

fn malformed(key: &str, want: &str) -> Error {
    Error::Malformed(format!("field {key:?} is not {want}"))
}

/// The object at `key` of `obj`, if it is one.
pub(crate) fn get_obj(doc: &AutoCommit, obj: &ObjId, key: &str) -> Result<Option<ObjId>> {
    obj_of(key, doc.get(obj, key)?)
}

/// [`get_obj`] of a value already looked up.
fn obj_of(key: &str, found: Option<(Value<'_>, ObjId)>) -> Result<Option<ObjId>> {
    match found {
        Some((Value::Object(_), id)) => Ok(Some(id)),
        Some(_) => Err(malformed(key, "an object")),
        None => Ok(None),
    }
}

/// Every object at `key` of `obj`: one normally, several when devices created it
/// concurrently (a map or list made lazily, on first use, on two devices at once: each
/// device's entries went into its own). Readers take the union, so neither is lost.
pub(crate) fn get_all_objs(doc: &AutoCommit, obj: &ObjId, key: &str) -> Result<Vec<ObjId>> {
    let mut out = Vec::new();
    for (v, id) in doc.get_all(obj, key)? {
        match v {
            Value::Object(_) => out.push(id),
            _ => return Err(malformed(key, "an object")),
        }
    }
    Ok(out)
}

/// The entry `id` of the map (or concurrent maps) at `key` of the root, wherever it is.
pub(crate) fn find_entry(doc: &AutoCommit, key: &str, id: &str) -> Result<Option<ObjId>> {
    for map in get_all_objs(doc, &automerge::ROOT, key)? {
        if let Some(found) = get_obj(doc, &map, id)? {
            return Ok(Some(found));
        }
    }
    Ok(None)
}

/// The object at `key` of `obj`; an error when absent.
pub(crate) fn require_obj(doc: &AutoCommit, obj: &ObjId, key: &str) -> Result<ObjId> {
    get_obj(doc, obj, key)?.ok_or_else(|| Error::Malformed(format!("missing {key:?}")))
}

/// The map at `key` of `obj`, created when absent.
pub(crate) fn ensure_map(doc: &mut AutoCommit, obj: &ObjId, key: &str) -> Result<ObjId> {
    match get_obj(doc, obj, key)? {
        Some(id) => Ok(id),
        None => Ok(doc.put_object(obj, key, ObjType::Map)?),
    }
}

fn scalar_to_string(value: &Value<'_>) -> Option<String> {
    value.as_str().map(str::to_owned)
}

/// A string field, reading Text objects and plain strings alike.
pub(crate) fn get_string(doc: &AutoCommit, obj: &ObjId, key: &str) -> Result<Option<String>> {
    string_of(doc, key, doc.get(obj, key)?)
}

/// [`get_string`] of a value already looked up.
fn string_of(
    doc: &AutoCommit,
    key: &str,
    found: Option<(Value<'_>, ObjId)>,
) -> Result<Option<String>> {
    match found {
        None => Ok(None),
        Some((Value::Object(ObjType::Text), id)) => Ok(Some(doc.text(&id)?)),
        Some((v, _)) => match scalar_to_string(&v) {
            Some(s) => Ok(Some(s)),
            None if matches!(v, Value::Scalar(ref s) if s.is_null()) => Ok(None),
            None => Err(malformed(key, "a string")),
        },
    }
}

/// A required string field.
pub(crate) fn require_string(doc: &AutoCommit, obj: &ObjId, key: &str) -> Result<String> {
    get_string(doc, obj, key)?.ok_or_else(|| Error::Malformed(format!("missing {key:?}")))
}

/// An integer field (ints, uints, counters and timestamps all read as i64).
pub(crate) fn get_i64(doc: &AutoCommit, obj: &ObjId, key: &str) -> Result<Option<i64>> {
    i64_of(key, doc.get(obj, key)?)
}

/// [`get_i64`] of a value already looked up.
fn i64_of(key: &str, found: Option<(Value<'_>, ObjId)>) -> Result<Option<i64>> {
    match found {
        None => Ok(None),
        Some((Value::Scalar(s), _)) => match s.as_ref() {
            ScalarValue::Int(i) | ScalarValue::Timestamp(i) => Ok(Some(*i)),
            ScalarValue::Counter(c) => Ok(Some(i64::from(c))),
            ScalarValue::Uint(u) => i64::try_from(*u)
                .map(Some)
                .map_err(|_| malformed(key, "an integer")),
            ScalarValue::Null => Ok(None),
            _ => Err(malformed(key, "an integer")),
        },
        Some(_) => Err(malformed(key, "an integer")),
    }
}

/// A required integer field.
pub(crate) fn require_i64(doc: &AutoCommit, obj: &ObjId, key: &str) -> Result<i64> {
    get_i64(doc, obj, key)?.ok_or_else(|| Error::Malformed(format!("missing {key:?}")))
}

/// A boolean field.
pub(crate) fn get_bool(doc: &AutoCommit, obj: &ObjId, key: &str) -> Result<Option<bool>> {
    bool_of(key, doc.get(obj, key)?)
}

/// [`get_bool`] of a value already looked up.
fn bool_of(key: &str, found: Option<(Value<'_>, ObjId)>) -> Result<Option<bool>> {
    match found {
        None => Ok(None),
        Some((Value::Scalar(s), _)) => match s.as_ref() {
            ScalarValue::Boolean(b) => Ok(Some(*b)),
            ScalarValue::Null => Ok(None),
            _ => Err(malformed(key, "a boolean")),
        },
        Some(_) => Err(malformed(key, "a boolean")),
    }
}

/// A list of strings.
pub(crate) fn get_string_list(doc: &AutoCommit, obj: &ObjId, key: &str) -> Result<Vec<String>> {
    string_list_of(doc, key, get_obj(doc, obj, key)?)
}

/// [`get_string_list`] of the list already looked up.
fn string_list_of(doc: &AutoCommit, key: &str, list: Option<ObjId>) -> Result<Vec<String>> {
    let Some(list) = list else {
        return Ok(Vec::new());
    };
    let mut out = Vec::with_capacity(doc.length(&list));
    for item in doc.list_range(&list, ..) {
        match item.value {
            ValueRef::Scalar(ScalarValueRef::Str(s)) => out.push(s.into_owned()),
            _ => return Err(malformed(key, "a list of strings")),
        }
    }
    Ok(out)
}

/// A date field stored as "YYYY-MM-DD".
pub(crate) fn get_date(doc: &AutoCommit, obj: &ObjId, key: &str) -> Result<Option<Date>> {
    get_string(doc, obj, key)?
        .map(|s| parse_date(&s))
        .transpose()
}

/// Parses a "YYYY-MM-DD" date.
pub fn parse_date(s: &str) -> Result<Date> {
    Date::parse(
        s.trim(),
        time::macros::format_description!("[year]-[month]-[day]"),
    )
    .map_err(|_| Error::InvalidInput {
        field: "date",
        reason: "expected YYYY-MM-DD".into(),
    })
}

/// Formats a date as "YYYY-MM-DD".
pub fn format_date(d: Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

/// Writes an optional string: `None` deletes the field.
pub(crate) fn put_opt_string(
    doc: &mut AutoCommit,
    obj: &ObjId,
    key: &str,
    value: Option<&str>,
) -> Result<()> {
    match value {
        Some(v) => put_string_if_changed(doc, obj, key, v),
        None => {
            if doc.get(obj, key)?.is_some() {
                doc.delete(obj, key)?;
            }
            Ok(())
        }
    }
}

/// Writes a plain string unless the field already holds exactly that value, so that an
/// unchanged field neither grows history nor overrides a concurrent edit.
pub(crate) fn put_string_if_changed(
    doc: &mut AutoCommit,
    obj: &ObjId,
    key: &str,
    value: &str,
) -> Result<()> {
    let all = doc.get_all(obj, key)?;
    let same = all.len() == 1 && scalar_to_string(&all[0].0).as_deref() == Some(value);
    if !same {
        doc.put(obj, key, value)?;
    }
    Ok(())
}

/// Writes a list of strings, replacing the old one only if it differs.
pub(crate) fn put_string_list(
    doc: &mut AutoCommit,
    obj: &ObjId,
    key: &str,
    values: &[String],
) -> Result<()> {
    if get_obj(doc, obj, key)?.is_some() && get_string_list(doc, obj, key)? == values {
        return Ok(());
    }
    let list = doc.put_object(obj, key, ObjType::List)?;
    for (i, v) in values.iter().enumerate() {
        doc.insert(&list, i, v.as_str())?;
    }
    Ok(())
}

/// Creates a collaborative Text at `key` holding `value`.
pub(crate) fn put_text(doc: &mut AutoCommit, obj: &ObjId, key: &str, value: &str) -> Result<()> {
    let text = doc.put_object(obj, key, ObjType::Text)?;
    doc.splice_text(&text, 0, 0, value)?;
    Ok(())
}

/// Replaces the content of the Text at `key` by `value` as a minimal diff, so that
/// concurrent edits to other words of the same text both survive.
pub(crate) fn update_text(doc: &mut AutoCommit, obj: &ObjId, key: &str, value: &str) -> Result<()> {
    match doc.get(obj, key)? {
        Some((Value::Object(ObjType::Text), id)) => Ok(doc.update_text(&id, value)?),
        _ => put_text(doc, obj, key, value),
    }
}

/// One of several values set concurrently for the same field, and who set it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claim<T> {
    /// The value this device wrote.
    pub value: T,
    /// The device that wrote it.
    pub device: Option<DeviceId>,
    /// The person who wrote it, from the change's note.
    pub by: Option<String>,
    /// When the change was made (milliseconds since the epoch).
    pub at: Option<i64>,
}

/// A field that may hold a conflict: one value normally, several when devices set it
/// concurrently and nobody has resolved it yet. Never silently last-writer-wins.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contested<T> {
    /// Every competing value; exactly one when there is no conflict.
    pub claims: Vec<Claim<T>>,
}

impl<T> Contested<T> {
    /// True when devices disagree and someone needs to choose.
    pub fn is_conflicted(&self) -> bool {
        self.claims.len() > 1
    }

    /// The value when there is no conflict.
    pub fn agreed(&self) -> Option<&T> {
        match self.claims.as_slice() {
            [only] => Some(&only.value),
            _ => None,
        }
    }

    /// Automerge's deterministic pick (the same on every device); use only where a single
    /// value is unavoidable, and show `claims` wherever a person decides.
    pub fn provisional(&self) -> Option<&T> {
        self.claims.last().map(|c| &c.value)
    }

    /// The distinct competing values.
    pub fn values(&self) -> impl Iterator<Item = &T> {
        self.claims.iter().map(|c| &c.value)
    }
}

/// Reads every concurrent value of a string field with its author.
pub(crate) fn get_contested_string(
    doc: &mut AutoCommit,
    obj: &ObjId,
    key: &str,
) -> Result<Option<Contested<String>>> {
    let all: Vec<(Option<String>, ObjId)> = doc
        .get_all(obj, key)?
        .into_iter()
        .map(|(v, op)| (scalar_to_string(&v), op))
        .collect();
    if all.is_empty() {
        return Ok(None);
    }
    let single = all.len() == 1;
    let mut claims = Vec::with_capacity(all.len());
    for (value, op) in all {
        let value = value.ok_or_else(|| malformed(key, "a string"))?;
        // Looking up the author costs a change lookup: only worth it when there is a conflict.
        let claim = if single {
            Claim {
                value,
                device: None,
                by: None,
                at: None,
            }
        } else {
            claim_with_author(doc, value, &op)
        };
        claims.push(claim);
    }
    Ok(Some(Contested { claims }))
}

fn claim_with_author<T>(doc: &mut AutoCommit, value: T, op: &automerge::ObjId) -> Claim<T> {
    let device = match op {
        automerge::ObjId::Id(_, actor, _) => DeviceId::from_slice(actor.to_bytes()).ok(),
        automerge::ObjId::Root => None,
    };
    let meta = doc.hash_for_opid(op).and_then(|h| {
        doc.get_change_meta_by_hash(&h)
            .map(|m| (m.timestamp, m.message.map(|s| s.to_string())))
    });
    let (at, by) = match meta {
        Some((t, msg)) => (
            Some(t),
            msg.and_then(|m| serde_json::from_str::<ChangeNote>(&m).ok())
                .map(|n| n.by),
        ),
        None => (None, None),
    };
    Claim {
        value,
        device,
        by,
        at,
    }
}

/// When the change that created `obj` was made (its author's clock), if Automerge knows.
pub(crate) fn created_at(doc: &mut AutoCommit, obj: &ObjId) -> Option<i64> {
    let hash = doc.hash_for_opid(obj)?;
    doc.get_change_meta_by_hash(&hash).map(|m| m.timestamp)
}

/// One change in a document's history: who, on which device, when, and what.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEntry {
    /// The change hash (hex).
    pub hash: String,
    /// The device that made it.
    pub device: Option<DeviceId>,
    /// The person, as recorded in the change.
    pub by: Option<String>,
    /// When, in milliseconds since the epoch (the author's clock).
    pub at: i64,
    /// What was done ("session recorded", "status set to holding").
    pub what: String,
}

/// The whole history of `doc`, oldest first.
pub(crate) fn history(doc: &mut AutoCommit) -> Vec<HistoryEntry> {
    doc.get_changes_meta(&[])
        .into_iter()
        .map(|m| {
            let note = m
                .message
                .as_deref()
                .and_then(|s| serde_json::from_str::<ChangeNote>(s).ok());
            HistoryEntry {
                hash: m.hash.to_string(),
                device: DeviceId::from_slice(m.actor.to_bytes()).ok(),
                by: note.as_ref().map(|n| n.by.clone()),
                at: m.timestamp,
                what: note
                    .map(|n| n.what)
                    .or_else(|| m.message.map(|s| s.to_string()))
                    .unwrap_or_default(),
            }
        })
        .collect()
}

/// Keys of a map object, in key order.
pub(crate) fn map_keys(doc: &AutoCommit, obj: &ObjId) -> Vec<String> {
    doc.keys(obj).collect()
}

/// Every entry of the map `obj`, with the object it holds: what [`map_keys`] and then
/// [`get_obj`] of each key find (an entry that is not an object is damage), in one pass
/// over the map. With Automerge's columnar op set a lookup by key seeks through the
/// document's columns afresh each time; a case file or action plan read key by key spent
/// most of its time seeking.
pub(crate) fn map_objs(doc: &AutoCommit, obj: &ObjId) -> Result<Vec<(String, ObjId)>> {
    // A map range over a list or text is empty: damage must not read as "none".
    if matches!(doc.object_type(obj)?, ObjType::List | ObjType::Text) {
        return Err(Error::Malformed(
            "a list or text where a map belongs".into(),
        ));
    }
    let mut out = Vec::new();
    for item in doc.map_range(obj, ..) {
        match item.value {
            ValueRef::Object(_) => {
                let id = item.id();
                out.push((item.key.into_owned(), id));
            }
            _ => return Err(malformed(&item.key, "an object")),
        }
    }
    Ok(out)
}

/// The fields of one map object, read in one pass ([`map_objs`] says why), to be read by
/// key as [`get_string`] and its siblings read them, with the same results.
pub(crate) struct Fields<'a> {
    doc: &'a AutoCommit,
    obj: &'a ObjId,
    items: Vec<automerge::iter::MapRangeItem<'a>>,
}

impl<'a> Fields<'a> {
    /// The fields of the map `obj` of `doc`. Anything else where a map belongs (a list, a
    /// text) is damage, as reading a key of it is: a map range over it would be empty.
    pub(crate) fn of(doc: &'a AutoCommit, obj: &'a ObjId) -> Result<Self> {
        match doc.object_type(obj)? {
            ObjType::Map | ObjType::Table => Ok(Fields {
                doc,
                obj,
                items: doc.map_range(obj, ..).collect(),
            }),
            ObjType::List | ObjType::Text => Err(Error::Malformed(
                "a list or text where a record belongs".into(),
            )),
        }
    }

    /// The value at `key` as [`ReadDoc::get`] gives it. A counter is asked of the document
    /// (its value is the sum of its increments; the few fields read here hold none).
    fn get(&self, key: &str) -> Result<Option<(Value<'static>, ObjId)>> {
        let Some(item) = self.items.iter().find(|i| i.key == key) else {
            return Ok(None);
        };
        match &item.value {
            ValueRef::Object(_) => Ok(Some((item.value.clone().into_value(), item.id()))),
            ValueRef::Scalar(ScalarValueRef::Counter(_)) => Ok(self
                .doc
                .get(self.obj, key)?
                .map(|(v, id)| (v.into_owned(), id))),
            // The readers never use a scalar's id: ROOT stands in, sparing its construction.
            ValueRef::Scalar(_) => Ok(Some((item.value.clone().into_value(), ROOT))),
        }
    }

    /// [`get_string`].
    pub(crate) fn string(&self, key: &str) -> Result<Option<String>> {
        string_of(self.doc, key, self.get(key)?)
    }

    /// [`require_string`].
    pub(crate) fn require_string(&self, key: &str) -> Result<String> {
        self.string(key)?
            .ok_or_else(|| Error::Malformed(format!("missing {key:?}")))
    }

    /// [`get_i64`].
    pub(crate) fn i64(&self, key: &str) -> Result<Option<i64>> {
        i64_of(key, self.get(key)?)
    }

    /// [`require_i64`].
    pub(crate) fn require_i64(&self, key: &str) -> Result<i64> {
        self.i64(key)?
            .ok_or_else(|| Error::Malformed(format!("missing {key:?}")))
    }

    /// [`get_bool`].
    pub(crate) fn bool(&self, key: &str) -> Result<Option<bool>> {
        bool_of(key, self.get(key)?)
    }

    /// [`get_obj`].
    pub(crate) fn obj(&self, key: &str) -> Result<Option<ObjId>> {
        obj_of(key, self.get(key)?)
    }

    /// [`get_string_list`].
    pub(crate) fn string_list(&self, key: &str) -> Result<Vec<String>> {
        string_list_of(self.doc, key, self.obj(key)?)
    }

    /// [`get_date`].
    pub(crate) fn date(&self, key: &str) -> Result<Option<Date>> {
        self.string(key)?.map(|s| parse_date(&s)).transpose()
    }
}

/// Checks a free-text field: not empty after trimming, and not absurdly long.
pub(crate) fn require_text(field: &'static str, value: &str, max_len: usize) -> Result<String> {
    let v = value.trim();
    if v.is_empty() {
        return Err(Error::InvalidInput {
            field,
            reason: "must not be empty".into(),
        });
    }
    if v.len() > max_len {
        return Err(Error::InvalidInput {
            field,
            reason: format!("longer than {max_len} bytes"),
        });
    }
    Ok(v.to_owned())
}

#[cfg(test)]
mod tests {
    use std::fmt::Debug;

    use automerge::transaction::Transactable;
    use automerge::{AutoCommit, ObjType, ROOT, ScalarValue};

    use super::{Fields, get_bool, get_date, get_i64, get_obj, get_string, get_string_list};
    use super::{map_keys, map_objs};

    /// The same value, or the same error.
    fn same<T: Debug>(key: &str, one: &crate::Result<T>, each: &crate::Result<T>) {
        assert_eq!(format!("{one:?}"), format!("{each:?}"), "{key}");
    }

    /// Reading a map's fields in one pass gives exactly what reading them key by key
    /// gives: plain strings and Text, numbers of every kind, a counter with its
    /// increments, nulls, objects, lists, a value of the wrong type (the same error), a
    /// concurrent write (the same winner), and keys that are not there.
    #[test]
    fn fields_read_in_one_pass_read_as_key_by_key() {
        let mut doc = AutoCommit::new();
        let m = doc.put_object(ROOT, "m", ObjType::Map).unwrap();
        doc.put(&m, "plain", "Ada").unwrap();
        let text = doc.put_object(&m, "text", ObjType::Text).unwrap();
        doc.splice_text(&text, 0, 0, "Walks on Tuesdays").unwrap();
        doc.put(&m, "int", -7i64).unwrap();
        doc.put(&m, "uint", 7u64).unwrap();
        doc.put(&m, "at", ScalarValue::Timestamp(1_780_000_000_000))
            .unwrap();
        doc.put(&m, "counter", ScalarValue::counter(2)).unwrap();
        doc.increment(&m, "counter", 3).unwrap();
        doc.put(&m, "null", ScalarValue::Null).unwrap();
        doc.put(&m, "flag", true).unwrap();
        doc.put(&m, "day", "2026-12-05").unwrap();
        let list = doc.put_object(&m, "list", ObjType::List).unwrap();
        doc.insert(&list, 0, "a").unwrap();
        doc.insert(&list, 1, "b").unwrap();
        doc.put_object(&m, "child", ObjType::Map).unwrap();
        doc.commit();
        // Two devices write one key at once: a conflict with one winner.
        let mut other = doc.fork();
        doc.put(&m, "contested", "mine").unwrap();
        other.put(&m, "contested", "theirs").unwrap();
        doc.merge(&mut other).unwrap();

        let f = Fields::of(&doc, &m).unwrap();
        let keys = [
            "plain",
            "text",
            "int",
            "uint",
            "at",
            "counter",
            "null",
            "flag",
            "day",
            "list",
            "child",
            "contested",
            "absent",
        ];
        for key in keys {
            let (one, each) = (f.string(key), get_string(&doc, &m, key));
            same(key, &one, &each);
            let (one, each) = (f.i64(key), get_i64(&doc, &m, key));
            same(key, &one, &each);
            let (one, each) = (f.bool(key), get_bool(&doc, &m, key));
            same(key, &one, &each);
            let (one, each) = (f.obj(key), get_obj(&doc, &m, key));
            same(key, &one, &each);
            let (one, each) = (f.string_list(key), get_string_list(&doc, &m, key));
            same(key, &one, &each);
            let (one, each) = (f.date(key), get_date(&doc, &m, key));
            same(key, &one, &each);
        }
        assert_eq!(
            f.string("text").unwrap().as_deref(),
            Some("Walks on Tuesdays")
        );
        assert_eq!(f.i64("counter").unwrap(), Some(5));
        assert!(f.require_string("absent").is_err());
        assert_eq!(f.require_i64("int").unwrap(), -7);

        // The objects of a map in one pass: what its keys and a lookup of each find; an
        // entry that is not an object is damage, as the lookup says.
        let objs = map_objs(&doc, &ROOT).unwrap();
        assert_eq!(
            objs.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>(),
            map_keys(&doc, &ROOT)
        );
        for (k, id) in &objs {
            assert_eq!(get_obj(&doc, &ROOT, k).unwrap().as_ref(), Some(id));
        }
        assert!(map_objs(&doc, &m).is_err(), "\"plain\" is not an object");
    }

    /// A deleted key reads as missing both ways; a list or text where a record belongs is
    /// damage both ways (a map range over it would be empty, and every field blank).
    #[test]
    fn fields_of_a_deleted_key_or_a_list_read_as_key_by_key() {
        let mut doc = AutoCommit::new();
        let m = doc.put_object(ROOT, "m", ObjType::Map).unwrap();
        doc.put(&m, "gone", "soon").unwrap();
        doc.delete(&m, "gone").unwrap();
        let f = Fields::of(&doc, &m).unwrap();
        same("gone", &f.string("gone"), &get_string(&doc, &m, "gone"));
        assert_eq!(f.string("gone").unwrap(), None);

        for kind in [ObjType::List, ObjType::Text] {
            let not_a_map = doc.put_object(ROOT, "x", kind).unwrap();
            assert!(get_string(&doc, &not_a_map, "name").is_err());
            assert!(matches!(
                Fields::of(&doc, &not_a_map),
                Err(crate::Error::Malformed(_))
            ));
            assert!(matches!(
                map_objs(&doc, &not_a_map),
                Err(crate::Error::Malformed(_))
            ));
        }
    }
}
