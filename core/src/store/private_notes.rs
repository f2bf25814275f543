//! The private-notes facade: a staff member's own notes (wellbeing, training needs,
//! reflection) in the current team, which only they, the team's supervisors and admins
//! read, and the supervisors' responses. Private notes have no index rows.
//!
//! Who may do what is checked here against this device's verified role, before anything is
//! written: a link worker reads and writes only its own notes; a supervisor or admin reads
//! everyone's and responds. The keys make it so whatever this code says: another link
//! worker's device holds no key that opens someone's notes, and the relay does not serve
//! them to it (docs/SECURITY.md).

use holdfast_protocol::private_notes_id;

use super::documents::Reindex;
use super::{Store, StoreEvent};
use crate::model::doc::{self, DocKind};
use crate::model::ids::{CommentId, DeviceId, DocumentId, TeamId};
use crate::model::private_notes::{self, NoteKind, PrivateNoteId, PrivateNotes};
use crate::{Error, Result};

impl Store {
    /// The current team: private notes are per team.
    fn notes_team(&self) -> Result<TeamId> {
        self.current_team.ok_or(Error::NotAllowed(
            "private notes belong to a team: create or join one first".into(),
        ))
    }

    /// This device's role in `team`, if it is active staff there.
    fn active_staff_role(&self, team: TeamId) -> Result<holdfast_protocol::Role> {
        let access = self.access(team)?;
        if access.is_revoked(self.author.device) {
            return Err(Error::Revoked {
                team: team.to_string(),
            });
        }
        access.require_staff()
    }

    /// The id of `owner`'s private-notes document in the current team.
    pub fn private_notes_document(&self, owner: DeviceId) -> Result<DocumentId> {
        Ok(private_notes_id(&self.notes_team()?, &owner))
    }

    /// `owner`'s private notes in the current team: this device's own, or, on a supervisor's
    /// or an admin's device, a colleague's (empty until they write some and they reach this
    /// device). Anyone else is refused with [`Error::NotAllowed`].
    pub fn private_notes(&mut self, owner: DeviceId) -> Result<PrivateNotes> {
        let team = self.notes_team()?;
        let role = self.active_staff_role(team)?;
        if owner != self.author.device && !role.reads_private_notes() {
            return Err(Error::NotAllowed(
                "a colleague's private notes are read only by them, the team's supervisors \
                 and admins"
                    .into(),
            ));
        }
        let id = private_notes_id(&team, &owner);
        let (kind, doc) = match self.load(id) {
            Ok(loaded) => loaded,
            Err(Error::NotFound { .. }) => return Ok(PrivateNotes::empty(owner)),
            Err(e) => return Err(e),
        };
        if *kind != DocKind::PrivateNotes {
            return Err(Error::WrongDocumentKind {
                expected: DocKind::PrivateNotes.as_str(),
                found: kind.as_str().to_owned(),
            });
        }
        private_notes::read(doc)
    }

    /// Adds a note of `kind` to this device's own private notes in the current team, dated
    /// today. The first note makes the document and its key; the key reaches the team's
    /// supervisors and admins with the next sync, before the note does.
    pub fn add_private_note(&mut self, kind: NoteKind, text: &str) -> Result<PrivateNoteId> {
        let team = self.notes_team()?;
        self.active_staff_role(team)?;
        let me = self.author.device;
        let id = private_notes_id(&team, &me);
        let date = self.today();
        match self.kind_of(id) {
            Ok(_) => self.edit(
                id,
                DocKind::PrivateNotes,
                "private note added",
                |d, a, at| private_notes::add_note(d, a, kind, text, date, at),
                |_| Reindex::Nothing,
            ),
            Err(Error::NotFound { .. }) => {
                let now = self.now_millis();
                // Checked in memory first: bad input writes nothing, the key included.
                let mut doc = private_notes::create(&self.author, me)?;
                let note = private_notes::add_note(&mut doc, &self.author, kind, text, date, now)?;
                doc::commit(&mut doc, &self.author, "private notes begun", now);
                // Stored before anything is sealed with it.
                self.own_notes_key(team)?;
                let tx = self.conn.transaction()?;
                Self::insert_new(&tx, Some(team), id, DocKind::PrivateNotes, &mut doc, now)?;
                tx.commit()?;
                self.docs
                    .insert(id, (DocKind::PrivateNotes, doc), self.config.cache_docs);
                self.emit(id, DocKind::PrivateNotes);
                let _ = self.events.send(StoreEvent::LocalChange);
                tracing::info!(team = %team, doc = %id, "private notes begun");
                Ok(note)
            }
            Err(e) => Err(e),
        }
    }

    /// Responds to `note` in `owner`'s private notes (current team): supervisors and admins
    /// only; anyone else gets [`Error::NotAllowed`].
    pub fn respond_to_private_note(
        &mut self,
        owner: DeviceId,
        note: PrivateNoteId,
        text: &str,
    ) -> Result<CommentId> {
        let team = self.notes_team()?;
        if !self.active_staff_role(team)?.reads_private_notes() {
            return Err(Error::NotAllowed(
                "only a supervisor or an admin responds to private notes".into(),
            ));
        }
        let id = private_notes_id(&team, &owner);
        self.edit(
            id,
            DocKind::PrivateNotes,
            "private note answered",
            |d, a, at| private_notes::respond(d, a, note, text, at),
            |_| Reindex::Nothing,
        )
    }
}

#[cfg(test)]
mod tests {
    use holdfast_protocol::{EnvelopeRef, derive_document_key};

    use crate::Error;
    use crate::keystore::MemoryKeyStore;
    use crate::model::ids::DeviceId;
    use crate::model::private_notes::NoteKind;
    use crate::store::{Store, StoreConfig};

    #[test]
    fn notes_need_a_team_are_checked_before_anything_is_written_and_never_seal_with_the_epoch_key()
    {
        let dir = tempfile::tempdir().unwrap();
        let keys = MemoryKeyStore::default();
        let mut s = Store::create(&StoreConfig::new(dir.path(), "Ada"), &keys).unwrap();
        let err = s
            .add_private_note(NoteKind::Wellbeing, "no team yet")
            .unwrap_err();
        assert!(matches!(err, Error::NotAllowed(_)), "{err:?}");
        let team = s.create_team("http://127.0.0.1:1").unwrap();
        let me = s.author().device;
        let doc = s.private_notes_document(me).unwrap();
        assert_eq!(doc, holdfast_protocol::private_notes_id(&team, &me));

        // Bad input writes nothing, not even the key.
        let err = s.add_private_note(NoteKind::Wellbeing, "   ").unwrap_err();
        assert!(matches!(err, Error::InvalidInput { .. }), "{err:?}");
        assert!(s.keys_held(team).unwrap().notes_key(doc).is_none());
        assert!(s.kind_of(doc).is_err());

        let note = s
            .add_private_note(NoteKind::TrainingNeed, "Motivational interviewing")
            .unwrap();
        s.add_private_note(NoteKind::Reflection, "A good supervision")
            .unwrap();
        let read = s.private_notes(me).unwrap();
        assert_eq!(read.notes.len(), 2);
        assert!(
            read.notes
                .iter()
                .all(|n| n.date == s.today() && n.by == "Ada")
        );
        // An admin answers notes (its own here); a colleague's not yet written are empty.
        s.respond_to_private_note(me, note, "Booked for May")
            .unwrap();
        assert_eq!(
            s.private_notes(me).unwrap().notes[0].responses[0].text,
            "Booked for May"
        );
        assert!(
            s.private_notes(DeviceId::random())
                .unwrap()
                .notes
                .is_empty()
        );

        // Sealed with the notes' own key: what the epoch key alone gives opens none of it.
        s.seal_outbox(team).unwrap();
        let held = s.keys_held(team).unwrap();
        let sealed = s.pending_envelopes(team, 100, usize::MAX).unwrap();
        let author = s.device_public_key();
        let mut seen = 0;
        for p in &sealed {
            let e = EnvelopeRef::decode(&p.bytes).unwrap();
            if e.header.document != doc {
                continue;
            }
            seen += 1;
            let epoch = e.header.epoch;
            let (_, epoch_key) = held.epochs().find(|(n, _)| *n == epoch).unwrap();
            let plain = derive_document_key(&team, epoch_key, &doc, epoch).unwrap();
            assert!(e.open(&author, &plain).is_err());
            assert!(e.open(&author, &held.key_for(doc, epoch).unwrap()).is_ok());
        }
        assert!(seen > 0);
    }
}
