//! Private supervision notes: one document per staff device per team, for the link worker's
//! own wellbeing, training needs and reflection. Its owner writes the notes; the team's
//! supervisors and admins read them and answer each with a response. Nobody else on the
//! team can: the document's id is derived from its owner
//! ([`holdfast_protocol::private_notes_id`]) and it is sealed under a key only those
//! readers hold (SECURITY.md, "Private supervision notes").
//!
//! Root: `kind`, `schema`, `owner` (device id, hex), `notes{id → {kind, text, date, by,
//! by_device, at, responses{id → {text, by, by_device, at}}}}`. Notes and responses are
//! plain strings with one author each; concurrent additions land under different random
//! keys, so none is lost. The `notes` map is made with the document, by its owner alone.

use std::fmt;
use std::str::FromStr;

use automerge::{AutoCommit, ObjType, ROOT, ScalarValue, transaction::Transactable};
use serde::{Deserialize, Serialize};
use time::Date;

use super::doc::{self, Author, DocKind};
use super::ids::{CommentId, DeviceId, random_bytes};
use crate::{Error, Result};

const MAX_TEXT: usize = 16 * 1024;

string_enum!(
    /// What a private note is about.
    NoteKind {
        /// How the link worker is: workload, stress, what helps.
        Wellbeing => "wellbeing",
        /// Something to learn, or a course to ask for.
        TrainingNeed => "training_need",
        /// Reflective practice: a case or a day thought through.
        Reflection => "reflection",
    }
);

/// A private note's id (random, 64 bits; it never leaves the document).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PrivateNoteId(pub [u8; 8]);

impl PrivateNoteId {
    /// A fresh random id.
    pub fn random() -> Self {
        PrivateNoteId(random_bytes::<8>())
    }
}

impl fmt::Display for PrivateNoteId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for PrivateNoteId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PrivateNoteId({self})")
    }
}

impl FromStr for PrivateNoteId {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let invalid = || Error::InvalidId {
            kind: "PrivateNoteId",
        };
        let bytes = hex::decode(s.trim()).map_err(|_| invalid())?;
        <[u8; 8]>::try_from(bytes.as_slice())
            .map(PrivateNoteId)
            .map_err(|_| invalid())
    }
}

impl Serialize for PrivateNoteId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for PrivateNoteId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// A supervisor's (or an admin's) response to a note.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoteResponse {
    /// Its id.
    pub id: CommentId,
    /// What they said.
    pub text: String,
    /// Who (the person using the device).
    pub by: String,
    /// From which device.
    pub by_device: DeviceId,
    /// When (ms since the epoch).
    pub at: i64,
}

/// One private note.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrivateNote {
    /// Its id.
    pub id: PrivateNoteId,
    /// What it is about.
    pub kind: NoteKind,
    /// The note.
    pub text: String,
    /// The day it is about.
    pub date: Date,
    /// Who wrote it (the owner's person).
    pub by: String,
    /// From which device.
    pub by_device: DeviceId,
    /// When it was written (ms since the epoch).
    pub at: i64,
    /// Supervisors' responses, oldest first.
    pub responses: Vec<NoteResponse>,
}

/// A staff member's private notes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrivateNotes {
    /// The device whose notes these are.
    pub owner: DeviceId,
    /// The notes, oldest first (by date, then when written).
    pub notes: Vec<PrivateNote>,
}

impl PrivateNotes {
    /// No notes yet (the document does not exist, or has none).
    pub fn empty(owner: DeviceId) -> Self {
        PrivateNotes {
            owner,
            notes: Vec::new(),
        }
    }
}

/// Creates `owner`'s private-notes document (by the owner's device, `author`).
pub fn create(author: &Author, owner: DeviceId) -> Result<AutoCommit> {
    let mut doc = doc::new_document(DocKind::PrivateNotes, author)?;
    doc.put(ROOT, "owner", owner.to_string())?;
    doc.put_object(ROOT, "notes", ObjType::Map)?;
    Ok(doc)
}

/// Adds a note of `kind` about `date`, written at `at`.
pub fn add_note(
    doc: &mut AutoCommit,
    author: &Author,
    kind: NoteKind,
    text: &str,
    date: Date,
    at: i64,
) -> Result<PrivateNoteId> {
    doc::expect_kind(doc, DocKind::PrivateNotes)?;
    let text = doc::require_text("private note", text, MAX_TEXT)?;
    let id = PrivateNoteId::random();
    let notes = doc::ensure_map(doc, &ROOT, "notes")?;
    let n = doc.put_object(&notes, id.to_string(), ObjType::Map)?;
    doc.put(&n, "kind", kind.as_str())?;
    doc.put(&n, "text", text)?;
    doc.put(&n, "date", doc::format_date(date))?;
    doc.put(&n, "by", author.person.as_str())?;
    doc.put(&n, "by_device", author.device.to_string())?;
    doc.put(&n, "at", ScalarValue::Timestamp(at))?;
    doc.put_object(&n, "responses", ObjType::Map)?;
    Ok(id)
}

/// Adds a response to `note`.
pub fn respond(
    doc: &mut AutoCommit,
    author: &Author,
    note: PrivateNoteId,
    text: &str,
    at: i64,
) -> Result<CommentId> {
    doc::expect_kind(doc, DocKind::PrivateNotes)?;
    let text = doc::require_text("response", text, MAX_TEXT)?;
    let notes = doc::require_obj(doc, &ROOT, "notes")?;
    let n = doc::get_obj(doc, &notes, &note.to_string())?.ok_or(Error::NotFound {
        kind: "private note",
        id: note.to_string(),
    })?;
    let id = CommentId::random();
    let responses = doc::ensure_map(doc, &n, "responses")?;
    let r = doc.put_object(&responses, id.to_string(), ObjType::Map)?;
    doc.put(&r, "text", text)?;
    doc.put(&r, "by", author.person.as_str())?;
    doc.put(&r, "by_device", author.device.to_string())?;
    doc.put(&r, "at", ScalarValue::Timestamp(at))?;
    Ok(id)
}

/// Reads the notes.
pub fn read(doc: &AutoCommit) -> Result<PrivateNotes> {
    decode(doc).map_err(doc::as_damage)
}

fn decode(doc: &AutoCommit) -> Result<PrivateNotes> {
    doc::expect_kind(doc, DocKind::PrivateNotes)?;
    let owner: DeviceId = doc::require_string(doc, &ROOT, "owner")?.parse()?;
    let mut notes = Vec::new();
    let all = doc::require_obj(doc, &ROOT, "notes")?;
    for k in doc::map_keys(doc, &all) {
        let Some(n) = doc::get_obj(doc, &all, &k)? else {
            continue;
        };
        let mut responses = Vec::new();
        if let Some(map) = doc::get_obj(doc, &n, "responses")? {
            for rk in doc::map_keys(doc, &map) {
                let Some(r) = doc::get_obj(doc, &map, &rk)? else {
                    continue;
                };
                responses.push(NoteResponse {
                    id: rk.parse()?,
                    text: doc::get_string(doc, &r, "text")?.unwrap_or_default(),
                    by: doc::get_string(doc, &r, "by")?.unwrap_or_default(),
                    by_device: doc::require_string(doc, &r, "by_device")?.parse()?,
                    at: doc::require_i64(doc, &r, "at")?,
                });
            }
        }
        responses.sort_by_key(|r| (r.at, r.id));
        notes.push(PrivateNote {
            id: k.parse()?,
            kind: doc::require_string(doc, &n, "kind")?.parse()?,
            text: doc::get_string(doc, &n, "text")?.unwrap_or_default(),
            date: doc::get_date(doc, &n, "date")?
                .ok_or_else(|| Error::Malformed("a private note without a date".into()))?,
            by: doc::get_string(doc, &n, "by")?.unwrap_or_default(),
            by_device: doc::require_string(doc, &n, "by_device")?.parse()?,
            at: doc::require_i64(doc, &n, "at")?,
            responses,
        });
    }
    notes.sort_by_key(|n| (n.date, n.at, n.id));
    Ok(PrivateNotes { owner, notes })
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    fn author(person: &str) -> Author {
        Author {
            device: DeviceId::random(),
            person: person.into(),
        }
    }

    #[test]
    fn notes_and_responses_read_back_and_concurrent_responses_both_stay() {
        let lee = author("Lee");
        let mut doc = create(&lee, lee.device).unwrap();
        let first = add_note(
            &mut doc,
            &lee,
            NoteKind::Wellbeing,
            "  A hard week of home visits.  ",
            date!(2025 - 03 - 04),
            10,
        )
        .unwrap();
        add_note(
            &mut doc,
            &lee,
            NoteKind::TrainingNeed,
            "Debt advice course",
            date!(2025 - 03 - 01),
            20,
        )
        .unwrap();
        doc.commit();
        // Two supervisors answer the same note on two devices at once.
        let (sue, sam) = (author("Sue"), author("Sam"));
        let mut a = doc.fork().with_actor(sue.actor());
        let mut b = doc.fork().with_actor(sam.actor());
        respond(&mut a, &sue, first, "Let's talk on Friday", 30).unwrap();
        respond(&mut b, &sam, first, "Take the afternoon off", 31).unwrap();
        a.merge(&mut b).unwrap();
        let notes = read(&a).unwrap();
        assert_eq!(notes.owner, lee.device);
        let kinds: Vec<NoteKind> = notes.notes.iter().map(|n| n.kind).collect();
        assert_eq!(
            kinds,
            [NoteKind::TrainingNeed, NoteKind::Wellbeing],
            "by date"
        );
        let wellbeing = &notes.notes[1];
        assert_eq!(wellbeing.text, "A hard week of home visits.");
        assert_eq!(
            (wellbeing.by.as_str(), wellbeing.by_device),
            ("Lee", lee.device)
        );
        let said: Vec<&str> = wellbeing.responses.iter().map(|r| r.by.as_str()).collect();
        assert_eq!(said, ["Sue", "Sam"]);
    }

    #[test]
    fn bad_input_changes_nothing() {
        let lee = author("Lee");
        let mut doc = create(&lee, lee.device).unwrap();
        let day = date!(2025 - 03 - 04);
        assert!(add_note(&mut doc, &lee, NoteKind::Reflection, "   ", day, 1).is_err());
        let long = "x".repeat(MAX_TEXT + 1);
        assert!(add_note(&mut doc, &lee, NoteKind::Reflection, &long, day, 1).is_err());
        let err = respond(&mut doc, &lee, PrivateNoteId::random(), "hello", 2).unwrap_err();
        assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
        assert!(read(&doc).unwrap().notes.is_empty());
        assert_eq!(
            "reflection".parse::<NoteKind>().unwrap(),
            NoteKind::Reflection
        );
        assert_eq!(
            "training need".parse::<NoteKind>().unwrap(),
            NoteKind::TrainingNeed
        );
        let id = PrivateNoteId::random();
        assert_eq!(id.to_string().parse::<PrivateNoteId>().unwrap(), id);
        assert!("zz".parse::<PrivateNoteId>().is_err());
    }
}
