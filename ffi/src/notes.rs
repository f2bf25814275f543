//! Private supervision notes: a staff member's own notes in the current team (wellbeing,
//! training needs, reflection), read only by them and the team's supervisors and admins,
//! who respond. The core decides who may do what (and the keys make it so); this module
//! only carries the calls across.

use holdfast_core::model::doc::format_date;
use holdfast_core::model::ids::{CommentId, DeviceId};
use holdfast_core::model::private_notes::{
    NoteKind as CoreKind, NoteResponse, PrivateNote, PrivateNoteId, PrivateNotes,
};

use crate::device::{HoldfastDevice, parse_id, parse_item_id};
use crate::error::Result;

/// What a private note is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum NoteKind {
    /// How the link worker is: workload, stress, what helps.
    Wellbeing,
    /// Something to learn, or a course to ask for.
    TrainingNeed,
    /// Reflective practice: a case or a day thought through.
    Reflection,
}

impl From<NoteKind> for CoreKind {
    fn from(k: NoteKind) -> Self {
        match k {
            NoteKind::Wellbeing => CoreKind::Wellbeing,
            NoteKind::TrainingNeed => CoreKind::TrainingNeed,
            NoteKind::Reflection => CoreKind::Reflection,
        }
    }
}

impl From<CoreKind> for NoteKind {
    fn from(k: CoreKind) -> Self {
        match k {
            CoreKind::Wellbeing => NoteKind::Wellbeing,
            CoreKind::TrainingNeed => NoteKind::TrainingNeed,
            CoreKind::Reflection => NoteKind::Reflection,
        }
    }
}

/// A supervisor's (or an admin's) response to a private note.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct NoteResponseView {
    /// Its id (16 hex digits).
    pub response_id: String,
    /// What they said.
    pub text: String,
    /// Who said it.
    pub by: String,
    /// From which device.
    pub by_device_id: String,
    /// When (ms since the Unix epoch).
    pub at_ms: i64,
}

/// One private note.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct PrivateNoteView {
    /// Its id (16 hex digits), for `respond_to_private_note`.
    pub note_id: String,
    /// What it is about.
    pub kind: NoteKind,
    /// The note.
    pub text: String,
    /// The day it is about (YYYY-MM-DD): the day it was written, by the device's clock in
    /// UTC.
    pub date: String,
    /// Who wrote it (the owner).
    pub by: String,
    /// From which device (the owner's).
    pub by_device_id: String,
    /// When it was written (ms since the Unix epoch).
    pub at_ms: i64,
    /// Responses, oldest first.
    pub responses: Vec<NoteResponseView>,
}

/// A staff member's private notes in the current team.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct PrivateNotesView {
    /// The device whose notes these are.
    pub owner_device_id: String,
    /// The notes, oldest first (by date, then when written); empty until the owner writes
    /// some and they reach this device.
    pub notes: Vec<PrivateNoteView>,
}

fn response_view(r: NoteResponse) -> NoteResponseView {
    NoteResponseView {
        response_id: r.id.to_string(),
        text: r.text,
        by: r.by,
        by_device_id: r.by_device.to_string(),
        at_ms: r.at,
    }
}

fn note_view(n: PrivateNote) -> PrivateNoteView {
    PrivateNoteView {
        note_id: n.id.to_string(),
        kind: n.kind.into(),
        text: n.text,
        date: format_date(n.date),
        by: n.by,
        by_device_id: n.by_device.to_string(),
        at_ms: n.at,
        responses: n.responses.into_iter().map(response_view).collect(),
    }
}

impl From<PrivateNotes> for PrivateNotesView {
    fn from(p: PrivateNotes) -> Self {
        PrivateNotesView {
            owner_device_id: p.owner.to_string(),
            notes: p.notes.into_iter().map(note_view).collect(),
        }
    }
}

fn owner_arg(owner_device_id: &str) -> Result<DeviceId> {
    parse_id("device", owner_device_id)
}

impl HoldfastDevice {
    /// The owner a call names, or this device when none is named (the id checked before
    /// the store is touched).
    fn owner_or_me(&self, owner_device_id: Option<String>) -> Result<DeviceId> {
        match owner_device_id {
            Some(owner) => owner_arg(&owner),
            None => Ok(self.store()?.author().device),
        }
    }
}

#[uniffi::export]
impl HoldfastDevice {
    /// Private notes in the current team: this device's own (`owner_device_id` null), or a
    /// colleague's (their device id, from `team_members`) on a supervisor's or an admin's
    /// device (empty until they write some and a sync brings them). Anyone else asking for
    /// a colleague's is refused with `NotAllowed`, as is a device in no team or a patient's.
    #[uniffi::method(default(owner_device_id = None))]
    pub fn private_notes(&self, owner_device_id: Option<String>) -> Result<PrivateNotesView> {
        let owner = self.owner_or_me(owner_device_id)?;
        Ok(self.store()?.private_notes(owner)?.into())
    }

    /// Adds a note of `kind` to this device's own private notes in the current team, dated
    /// today; returns its id. Only this device, the team's supervisors and admins can read
    /// it; it reaches them with the next sync. Staff only.
    pub fn add_private_note(&self, kind: NoteKind, text: String) -> Result<String> {
        Ok(self
            .store()?
            .add_private_note(kind.into(), &text)?
            .to_string())
    }

    /// Responds to the note `note_id` in the private notes of `owner_device_id` (current
    /// team); returns the response's id. Supervisors and admins only: anyone else gets
    /// `NotAllowed`; a note this device does not hold is `NotFound`.
    pub fn respond_to_private_note(
        &self,
        owner_device_id: String,
        note_id: String,
        text: String,
    ) -> Result<String> {
        let owner = owner_arg(&owner_device_id)?;
        let note: PrivateNoteId = parse_item_id("private note", &note_id)?;
        let response: CommentId = self.store()?.respond_to_private_note(owner, note, &text)?;
        Ok(response.to_string())
    }

    /// The document id of the private notes of `owner_device_id` (null: this device's) in
    /// the current team, for `observe_document`: it fires when a note or a response is
    /// added here or arrives by sync. The id is derived from the team and the owner, so it
    /// is known before any note is written; it gives no access of itself.
    #[uniffi::method(default(owner_device_id = None))]
    pub fn private_notes_document(&self, owner_device_id: Option<String>) -> Result<String> {
        let owner = self.owner_or_me(owner_device_id)?;
        Ok(self.store()?.private_notes_document(owner)?.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_note_kind_crosses_both_ways() {
        for core in CoreKind::ALL {
            assert_eq!(CoreKind::from(NoteKind::from(*core)), *core);
        }
    }
}
