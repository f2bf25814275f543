//! Which envelopes a device accepts: each envelope of a pulled page is checked against the
//! team, its author's place in the verified membership ([`Roster`]), its signature and the
//! document key, before anything reaches the store. A patient's device accepts its plan
//! and nothing else; nobody accepts a patient's snapshot or an envelope its author sealed
//! at or after the epoch that revoked it, or that reached this device after it knew of the
//! revocation. A staff member's private notes are accepted only by their owner and the
//! team's supervisors and admins, and only from those same devices.
//!
//! Refusals are per envelope and never stop the page: a bad envelope from a team member is
//! recorded and skipped, and the cursor still moves past it (otherwise one bad envelope
//! would stall the team's sync forever). Private notes whose key has not reached a reader
//! yet do not stop it either (their owner may not sync for days): they are recorded as
//! waiting ([`WAITING_FOR_NOTES_KEY`]) and pulled again, that document alone, once the key
//! comes.

use std::collections::{HashMap, HashSet};

use holdfast_protocol::{EnvelopeId, EnvelopeRef, Kind, PUBLIC_KEY_LEN, PullPage};

use super::TeamAccess;
use crate::crypto::TeamKeys;
use crate::model::ids::{DeviceId, DocumentId, TeamId};
use crate::{Error, Result};

/// Who may author envelopes in a team, from its verified membership: each enrolled
/// device's public key and, for a revoked one, the epoch from which its envelopes are
/// refused; and, on a patient's device, the one document it accepts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Roster {
    keys: HashMap<DeviceId, ([u8; PUBLIC_KEY_LEN], Option<u32>)>,
    /// Revoked devices: the sequence number after which their envelopes reached this
    /// device only once it knew of the revocation.
    refused_after: HashMap<DeviceId, u64>,
    only_doc: Option<DocumentId>,
    /// Patients' devices: their snapshots are not accepted.
    patients: HashSet<DeviceId>,
    /// Every staff device's private-notes document, and whose it is.
    private_notes: HashMap<DocumentId, DeviceId>,
    /// Devices that read and write every private-notes document: supervisors and admins
    /// (revoked ones too: what they wrote before stays theirs; the epoch rules above apply).
    notes_readers: HashSet<DeviceId>,
    /// This device is a supervisor or an admin.
    reads_all_notes: bool,
}

/// Why a private-notes envelope was set aside rather than applied: its key has not reached
/// this device (a supervisor enrolled after the notes were written, before their owner
/// synced). Recorded as a refusal with this reason; the document is pulled again once the
/// key comes (`Store::documents_to_pull_again`).
pub const WAITING_FOR_NOTES_KEY: &str = "private notes whose key has not reached this device yet";

/// Why envelopes of a document new to this device were set aside rather than applied: they
/// build on changes it does not hold, so it cannot tell yet what the document is. It
/// happens when the document's first changes came from a device this one refuses (a phone
/// revoked before this device pulled them) and reach it later in a colleague's snapshot.
/// Recorded as a refusal with this reason; once the document is here, it is pulled again,
/// alone, and these envelopes are judged again (`Store::documents_to_pull_again`).
pub const WAITING_FOR_ITS_DOCUMENT: &str =
    "changes to a document whose beginning has not reached this device yet";

impl Roster {
    /// The roster of a team's verified membership as this device sees it.
    pub fn from_access(access: &TeamAccess) -> Self {
        Roster {
            keys: access
                .membership
                .devices
                .values()
                .map(|m| {
                    let d = m.device;
                    (d, (m.sign_key, access.revoked_in.get(&d).copied()))
                })
                .collect(),
            refused_after: access.refused_after.clone(),
            only_doc: if access.is_patient() {
                access.plan
            } else {
                None
            },
            patients: access
                .membership
                .devices
                .values()
                .filter(|m| !m.role.is_staff())
                .map(|m| m.device)
                .collect(),
            private_notes: access
                .membership
                .private_notes
                .iter()
                .map(|(d, o)| (*d, *o))
                .collect(),
            notes_readers: access
                .membership
                .devices
                .values()
                .filter(|m| m.role.reads_private_notes())
                .map(|m| m.device)
                .collect(),
            reads_all_notes: access.role.is_some_and(|r| r.reads_private_notes()),
        }
    }

    /// The owner of `doc`, if it is a staff member's private notes.
    pub fn private_notes_owner(&self, doc: DocumentId) -> Option<DeviceId> {
        self.private_notes.get(&doc).copied()
    }

    /// The public key of `device`, if it is registered in the team.
    pub fn public_key(&self, device: DeviceId) -> Option<&[u8; PUBLIC_KEY_LEN]> {
        self.keys.get(&device).map(|(k, _)| k)
    }

    /// Number of devices.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// True when no device is known.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

/// One envelope that passed every check, with its plaintext.
#[derive(Clone, PartialEq, Eq)]
pub struct Opened {
    /// Relay sequence number.
    pub seq: u64,
    /// Envelope id.
    pub id: EnvelopeId,
    /// The document.
    pub doc: DocumentId,
    /// The author.
    pub author: DeviceId,
    /// Change batch or snapshot.
    pub kind: Kind,
    /// Automerge bytes: concatenated change chunks, or a saved document.
    pub plaintext: Vec<u8>,
}

impl std::fmt::Debug for Opened {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the plaintext: it is patient data.
        f.debug_struct("Opened")
            .field("seq", &self.seq)
            .field("id", &self.id)
            .field("doc", &self.doc)
            .field("kind", &self.kind)
            .field("len", &self.plaintext.len())
            .finish()
    }
}

/// Why an envelope was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// Relay sequence number.
    pub seq: u64,
    /// Envelope id.
    pub id: EnvelopeId,
    /// The document its header names.
    pub doc: DocumentId,
    /// The author its header names.
    pub author: DeviceId,
    /// The reason (no content).
    pub reason: String,
}

impl Refusal {
    /// The refusal as the crate's typed error.
    pub fn to_error(&self) -> crate::Error {
        crate::Error::BadEnvelope {
            id: self.id.to_string(),
            reason: self.reason.clone(),
        }
    }
}

/// A pulled page after checking: what to apply, what was refused, where to continue.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OpenedPage {
    /// Envelopes to apply, in sequence order.
    pub items: Vec<Opened>,
    /// Envelopes refused.
    pub refused: Vec<Refusal>,
    /// Envelopes this device wrote itself (already applied here).
    pub own: usize,
    /// Key-material envelopes, not used until key wrapping arrives.
    pub ignored: usize,
    /// The cursor to store once the page is applied.
    pub next: u64,
    /// The page stopped before this envelope: its key or its author's enrolment has not
    /// reached this device yet (a revocation or an enrolment landed since the last
    /// membership pull). The cursor stays before it, so it is opened once they have.
    pub blocked: Option<u64>,
    /// The relay has more after `next`.
    pub more: bool,
    /// The sequence number and id of the page's last envelope up to `next`, whatever
    /// became of it: what the device records to check later that the relay still holds
    /// this history.
    pub checkpoint: Option<(u64, EnvelopeId)>,
    /// The documents of this device's own envelopes on the page, with their sequence
    /// numbers (already applied here; the numbers say what a restored relay lost).
    pub own_docs: Vec<(DocumentId, u64)>,
}

/// Checks and opens every envelope of `page` pulled for `team` after `cursor`.
///
/// Items at or below `cursor` (a repeated page) are dropped. An envelope of another team,
/// or one that does not decode, means the page is not this team's (replayed, or the relay
/// is lying): the whole page is [`Error::Unverified`] and nothing of it is applied, so the
/// cursor cannot move past envelopes this team's relay never delivered. For the rest, in
/// this order: the author is not `me` (own envelopes are already applied); the author is in
/// `roster`; the signature verifies with the author's key; it decrypts with the document
/// key. The header is the AAD and is signed, so a document id or epoch changed in transit
/// fails here too; such an envelope (stored by the relay, sealed by a member) is refused
/// and recorded, and the page goes on.
pub fn open_page(
    team: TeamId,
    keys: &TeamKeys,
    roster: &Roster,
    me: DeviceId,
    cursor: u64,
    page: &PullPage,
) -> Result<OpenedPage> {
    let mut out = OpenedPage {
        next: page.next.max(cursor),
        more: page.more,
        ..OpenedPage::default()
    };
    for (seq, bytes) in &page.items {
        if *seq <= cursor {
            continue;
        }
        // PullPage::decode has checked the structure; decode again for the borrowed view.
        let envelope = EnvelopeRef::decode(bytes).map_err(|e| Error::Unverified {
            what: format!("a pull page (envelope {seq})"),
            reason: e.to_string(),
        })?;
        let h = envelope.header;
        let id = envelope.id();
        let doc = h.document;
        let author = h.author;
        let refuse = |reason: String| Refusal {
            seq: *seq,
            id,
            doc,
            author,
            reason,
        };
        if h.team != team {
            return Err(Error::Unverified {
                what: format!("a pull page (envelope {seq})"),
                reason: format!("it belongs to team {}, not this team", h.team),
            });
        }
        // Where the page ends, unless it stops before this envelope (below).
        let before = out.checkpoint.replace((*seq, id));
        if author == me {
            out.own += 1;
            out.own_docs.push((doc, *seq));
            continue;
        }
        if h.kind == Kind::KeyMaterial {
            out.ignored += 1;
            continue;
        }
        if roster.only_doc.is_some_and(|only| only != doc) {
            out.refused
                .push(refuse("a document this device was not granted".into()));
            continue;
        }
        let notes_owner = roster.private_notes_owner(doc);
        if notes_owner.is_some_and(|owner| owner != me && !roster.reads_all_notes) {
            // An honest relay never serves them here; this device holds no key for them.
            out.refused.push(refuse(
                "a colleague's private notes, which this device may not read".into(),
            ));
            continue;
        }
        let Some((public_key, revoked_in)) = roster.keys.get(&author) else {
            // Not in the log as pulled: an honest relay stores only members' envelopes, so
            // the enrolment is still on its way. Stop here rather than lose the envelope.
            out.next = seq.saturating_sub(1).max(cursor);
            out.more = false;
            out.blocked = Some(*seq);
            out.checkpoint = before;
            break;
        };
        if h.kind == Kind::Snapshot && roster.patients.contains(&author) {
            out.refused
                .push(refuse("a snapshot from a patient's device".into()));
            continue;
        }
        if revoked_in.is_some_and(|e| h.epoch >= e) {
            out.refused
                .push(refuse("author was revoked before this epoch".into()));
            continue;
        }
        if roster.refused_after.get(&author).is_some_and(|c| seq > c) {
            out.refused.push(refuse(
                "author was revoked before this envelope reached this device".into(),
            ));
            continue;
        }
        if let Some(owner) = notes_owner {
            if author != owner && !roster.notes_readers.contains(&author) {
                out.refused.push(refuse(
                    "private notes written by a device that may not write them".into(),
                ));
                continue;
            }
            if keys.notes_key(doc).is_none() {
                out.refused.push(refuse(WAITING_FOR_NOTES_KEY.into()));
                continue;
            }
        }
        let key = match keys.key_for(doc, h.epoch) {
            Ok(k) => k,
            // A later epoch's key is here but never this one's: it was never shared with
            // this device (a revocation whose bundles were junk), and waiting would stall
            // the team's sync for good.
            Err(_) if keys.has_later(doc, h.epoch) => {
                out.refused.push(refuse(format!(
                    "the key of epoch {} never reached this device, though later ones did",
                    h.epoch
                )));
                continue;
            }
            // The key of that epoch has not reached this device yet: stop here.
            Err(_) => {
                out.next = seq.saturating_sub(1).max(cursor);
                out.more = false;
                out.blocked = Some(*seq);
                out.checkpoint = before;
                break;
            }
        };
        match envelope.open(public_key, &key) {
            Ok(plaintext) => out.items.push(Opened {
                seq: *seq,
                id,
                doc,
                author,
                kind: h.kind,
                plaintext,
            }),
            Err(holdfast_protocol::Error::BadSignature) => out.refused.push(refuse(
                "signature does not verify with the author's key".into(),
            )),
            Err(e) => out.refused.push(refuse(e.to_string())),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::revocation::prepare_revocation;
    use crate::access::team::tests::{Fixture, identity};
    use crate::access::{Identity, TeamAccess};
    use holdfast_protocol::{Header, Role, SystemRandom, seal};

    /// A team with an admin, a link worker and a patient's device for `plan`, as the
    /// admin's device has verified it; the keys of epoch 1.
    struct Team {
        access: TeamAccess,
        keys: TeamKeys,
        admin: Identity,
        worker: Identity,
        patient: Identity,
        plan: DocumentId,
    }

    fn team() -> Team {
        let mut f = Fixture::new();
        let plan = DocumentId::random();
        let worker = f.join(Role::LinkWorker, None);
        let patient = f.join(Role::Patient, Some(plan));
        Team {
            access: f.access,
            keys: f.keys,
            admin: f.admin,
            worker,
            patient,
            plan,
        }
    }

    fn envelope(t: &Team, by: &Identity, doc: DocumentId, epoch: u32, kind: Kind) -> Vec<u8> {
        let rng = SystemRandom::new();
        let header = Header {
            kind,
            team: t.access.team(),
            document: doc,
            epoch,
            author: by.device,
            covers: 0,
            nonce: Header::random_nonce(&rng).unwrap(),
        };
        let key = t.keys.key_for(doc, epoch).unwrap();
        seal(&header, &key, b"changes", &by.signer).unwrap()
    }

    fn page(items: Vec<Vec<u8>>) -> PullPage {
        let n = items.len() as u64;
        PullPage {
            items: items.into_iter().zip(1..).map(|(b, s)| (s, b)).collect(),
            next: n,
            more: false,
        }
    }

    #[test]
    fn staff_accept_members_envelopes_and_refuse_tampered_and_foreign_ones() {
        let t = team();
        let roster = Roster::from_access(&t.access);
        assert_eq!(roster.len(), 3);
        let doc = DocumentId::random();
        let good = envelope(&t, &t.worker, doc, 1, Kind::ChangeBatch);
        let mut tampered = envelope(&t, &t.worker, doc, 1, Kind::ChangeBatch);
        let last = tampered.len() - 1;
        tampered[last] ^= 1;
        let mine = envelope(&t, &t.admin, doc, 1, Kind::ChangeBatch);
        let patients_snapshot = envelope(&t, &t.patient, t.plan, 1, Kind::Snapshot);
        let p = page(vec![good, tampered, mine, patients_snapshot]);
        let opened = open_page(t.access.team(), &t.keys, &roster, t.admin.device, 0, &p).unwrap();
        assert_eq!(opened.items.len(), 1);
        assert_eq!(opened.items[0].plaintext, b"changes");
        assert_eq!(opened.own, 1);
        let reasons: Vec<&str> = opened.refused.iter().map(|r| r.reason.as_str()).collect();
        assert_eq!(reasons.len(), 2, "{reasons:?}");
        assert!(reasons[0].contains("signature"), "{reasons:?}");
        assert!(
            reasons[1].contains("snapshot from a patient"),
            "{reasons:?}"
        );
        assert_eq!((opened.next, opened.blocked), (4, None));
        // A page of another team (replayed, or a relay lying): not this team's at all, and
        // nothing of it counts, not even as refused.
        let other = TeamId::random();
        let err = open_page(other, &t.keys, &roster, t.admin.device, 0, &p).unwrap_err();
        assert!(
            matches!(&err, Error::Unverified { reason, .. } if reason.contains("team")),
            "{err:?}"
        );
    }

    #[test]
    fn a_patients_device_accepts_its_plan_and_nothing_else() {
        let t = team();
        let mut view = t.access.clone();
        view.role = Some(Role::Patient);
        view.plan = Some(t.plan);
        let roster = Roster::from_access(&view);
        let plan = envelope(&t, &t.worker, t.plan, 1, Kind::ChangeBatch);
        let case = envelope(&t, &t.worker, DocumentId::random(), 1, Kind::ChangeBatch);
        let opened = open_page(
            view.team(),
            &t.keys,
            &roster,
            t.patient.device,
            0,
            &page(vec![plan, case]),
        )
        .unwrap();
        assert_eq!(opened.items.len(), 1);
        assert_eq!(opened.items[0].doc, t.plan);
        assert_eq!(opened.refused.len(), 1);
        assert!(opened.refused[0].reason.contains("not granted"));
    }

    #[test]
    fn an_unknown_author_or_a_missing_key_stops_the_page_before_it() {
        let t = team();
        let roster = Roster::from_access(&t.access);
        let doc = DocumentId::random();
        let stranger = identity();
        let first = envelope(&t, &t.worker, doc, 1, Kind::ChangeBatch);
        let unknown = envelope(&t, &stranger, doc, 1, Kind::ChangeBatch);
        let after = envelope(&t, &t.worker, doc, 1, Kind::ChangeBatch);
        let opened = open_page(
            t.access.team(),
            &t.keys,
            &roster,
            t.admin.device,
            0,
            &page(vec![first, unknown, after]),
        )
        .unwrap();
        assert_eq!(opened.items.len(), 1);
        assert_eq!(
            (opened.next, opened.blocked, opened.more),
            (1, Some(2), false)
        );
        // An epoch whose key has not arrived: the same.
        let mut ahead = t.keys.clone();
        ahead.insert_epoch(2, holdfast_protocol::EpochKey::from_bytes([8; 32]));
        let t2 = Team { keys: ahead, ..t };
        let later = envelope(&t2, &t2.worker, doc, 2, Kind::ChangeBatch);
        let opened = open_page(
            t2.access.team(),
            &TeamKeys::new(t2.access.team()),
            &roster,
            t2.admin.device,
            5,
            &PullPage {
                items: vec![(6, later)],
                next: 6,
                more: true,
            },
        )
        .unwrap();
        assert_eq!((opened.next, opened.blocked), (5, Some(6)));
    }

    #[test]
    fn a_revoked_author_is_refused_from_the_epoch_that_revoked_it() {
        let t = team();
        let r = prepare_revocation(&t.access, &t.keys, &t.admin, t.worker.device, 4_000).unwrap();
        let mut after = t.access.clone();
        after.fold(&r.entry).unwrap();
        let mut keys = t.keys.clone();
        keys.insert_epoch(2, r.key.clone());
        let t = Team {
            access: after,
            keys,
            ..t
        };
        let roster = Roster::from_access(&t.access);
        let doc = DocumentId::random();
        let before = envelope(&t, &t.worker, doc, 1, Kind::ChangeBatch);
        let at_revocation = envelope(&t, &t.worker, doc, 2, Kind::ChangeBatch);
        let opened = open_page(
            t.access.team(),
            &t.keys,
            &roster,
            t.admin.device,
            0,
            &page(vec![before, at_revocation]),
        )
        .unwrap();
        assert_eq!(opened.items.len(), 1, "written before the revocation: kept");
        assert_eq!(opened.refused.len(), 1);
        assert!(opened.refused[0].reason.contains("revoked"));
    }

    /// With a relay colluding with a revoked device, that device's new edits can be sealed
    /// at an old epoch (it still holds the key): whatever reaches this device after it
    /// folded the revocation is refused, whatever its epoch; what reached it before stays.
    #[test]
    fn a_revoked_authors_envelopes_that_arrive_after_the_revocation_are_refused() {
        let t = team();
        let r = prepare_revocation(&t.access, &t.keys, &t.admin, t.worker.device, 4_000).unwrap();
        let mut after = t.access.clone();
        after.fold(&r.entry).unwrap();
        // This device's cursor stood at 5 when it folded the revocation.
        after.refused_after.insert(t.worker.device, 5);
        let roster = Roster::from_access(&after);
        let doc = DocumentId::random();
        let old_epoch = |_: u64| envelope(&t, &t.worker, doc, 1, Kind::ChangeBatch);
        let opened = open_page(
            after.team(),
            &t.keys,
            &roster,
            t.admin.device,
            3,
            &PullPage {
                items: vec![(4, old_epoch(4)), (5, old_epoch(5)), (6, old_epoch(6))],
                next: 6,
                more: false,
            },
        )
        .unwrap();
        assert_eq!(
            opened.items.iter().map(|i| i.seq).collect::<Vec<_>>(),
            [4, 5],
            "pulled before: kept"
        );
        assert_eq!(opened.refused.len(), 1);
        assert_eq!(opened.refused[0].seq, 6);
        assert!(opened.refused[0].reason.contains("reached this device"));
        assert_eq!(opened.next, 6, "the refusal does not stall the team");
        // Others' envelopes after it are taken as ever.
        let admins = envelope(&t, &t.admin, doc, 1, Kind::ChangeBatch);
        let opened = open_page(
            after.team(),
            &t.keys,
            &roster,
            t.worker.device,
            6,
            &PullPage {
                items: vec![(7, admins)],
                next: 7,
                more: false,
            },
        )
        .unwrap();
        assert_eq!(opened.items.len(), 1);
    }

    /// A colleague's private notes: a second link worker refuses them (it holds no key, and
    /// waits for none); a supervisor without their key sets them aside without stalling the
    /// page, and opens them once it has it; nobody takes them from a link worker who is not
    /// their owner.
    #[test]
    fn private_notes_open_only_for_their_readers_and_from_their_writers() {
        let mut f = Fixture::new();
        let supervisor = f.join(Role::Supervisor, None);
        let owner = f.join(Role::LinkWorker, None);
        let other = f.join(Role::LinkWorker, None);
        let team = f.access.team();
        let notes = holdfast_protocol::private_notes_id(&team, &owner.device);
        assert_eq!(
            f.access.membership.private_notes_owner(&notes),
            Some(owner.device)
        );
        let notes_key = holdfast_protocol::PrivateNotesKey::from_bytes([4; 32]);
        let mut readers_keys = f.keys.clone();
        readers_keys.set_private_notes(f.access.membership.private_notes.keys().copied());
        readers_keys.insert_notes_key(notes, notes_key);
        let t = Team {
            access: f.access.clone(),
            keys: readers_keys.clone(),
            admin: f.admin.clone(),
            worker: owner.clone(),
            patient: other.clone(),
            plan: notes,
        };
        let by_owner = envelope(&t, &owner, notes, 1, Kind::ChangeBatch);
        // A colleague who somehow held the key still may not write them.
        let by_other = envelope(&t, &other, notes, 1, Kind::ChangeBatch);
        let by_supervisor = envelope(&t, &supervisor, notes, 1, Kind::ChangeBatch);
        let case = envelope(&t, &owner, DocumentId::random(), 1, Kind::ChangeBatch);
        let p = page(vec![by_owner, by_other, by_supervisor, case]);
        let view = |role| {
            let mut a = f.access.clone();
            a.role = Some(role);
            Roster::from_access(&a)
        };
        let mut epoch_only = f.keys.clone();
        epoch_only.set_private_notes(f.access.membership.private_notes.keys().copied());

        // The other link worker: the case opens, the notes are refused, nothing waits.
        let opened = open_page(
            team,
            &epoch_only,
            &view(Role::LinkWorker),
            other.device,
            0,
            &p,
        )
        .unwrap();
        assert_eq!(opened.items.len(), 1, "the case");
        assert_eq!(
            opened.own, 1,
            "its own (forged) write is skipped as its own"
        );
        assert_eq!(opened.refused.len(), 2);
        assert!(
            opened
                .refused
                .iter()
                .all(|r| r.reason.contains("colleague's private notes"))
        );
        assert_eq!((opened.next, opened.blocked), (4, None));

        // The supervisor before the key came: set aside, not stalled.
        let roster = view(Role::Supervisor);
        let opened = open_page(team, &epoch_only, &roster, supervisor.device, 0, &p).unwrap();
        let reasons: Vec<&str> = opened.refused.iter().map(|r| r.reason.as_str()).collect();
        assert_eq!(
            reasons,
            [
                WAITING_FOR_NOTES_KEY,
                "private notes written by a device that may not write them"
            ]
        );
        assert_eq!(
            (opened.next, opened.blocked, opened.items.len()),
            (4, None, 1)
        );
        // With the key: the owner's notes open; the colleague's write stays refused.
        let opened = open_page(team, &readers_keys, &roster, supervisor.device, 0, &p).unwrap();
        assert_eq!(opened.items.len(), 2, "the owner's notes and the case");
        assert_eq!(opened.items[0].doc, notes);
        assert_eq!(opened.refused.len(), 1);
        assert!(opened.refused[0].reason.contains("may not write"));
        // The owner takes its supervisor's response.
        let opened = open_page(
            team,
            &readers_keys,
            &view(Role::LinkWorker),
            owner.device,
            0,
            &p,
        )
        .unwrap();
        assert_eq!(opened.own, 2, "its notes and the case");
        assert_eq!(
            opened.items.iter().map(|i| i.author).collect::<Vec<_>>(),
            [supervisor.device]
        );
        assert_eq!(opened.refused.len(), 1, "the colleague's write");
    }

    /// An epoch whose key never reached this device, when a later one's did (a revocation
    /// whose bundles were junk): its envelopes are refused rather than stall the team's
    /// sync for good. Without a later key, the device waits for it.
    #[test]
    fn an_epoch_whose_key_never_came_does_not_stall_the_team() {
        let t = team();
        let doc = DocumentId::random();
        let mut keys = t.keys.clone();
        keys.insert_epoch(2, holdfast_protocol::EpochKey::from_bytes([2; 32]));
        keys.insert_epoch(3, holdfast_protocol::EpochKey::from_bytes([3; 32]));
        let t = Team { keys, ..t };
        let roster = Roster::from_access(&t.access);
        // The worker seals under epochs 2 and 3; this device holds every key but epoch 2's.
        let at_2 = envelope(&t, &t.worker, doc, 2, Kind::ChangeBatch);
        let at_3 = envelope(&t, &t.worker, doc, 3, Kind::ChangeBatch);
        let held = |epochs: &[u32]| {
            let mut k = TeamKeys::new(t.access.team());
            for (e, key) in t.keys.epochs() {
                if epochs.contains(&e) {
                    k.insert_epoch(e, key.clone());
                }
            }
            k
        };
        let opened = open_page(
            t.access.team(),
            &held(&[1, 3]),
            &roster,
            t.admin.device,
            0,
            &page(vec![at_2.clone(), at_3]),
        )
        .unwrap();
        assert_eq!(opened.blocked, None);
        assert_eq!(opened.items.len(), 1, "epoch 3 opens");
        assert_eq!(opened.refused.len(), 1);
        assert!(opened.refused[0].reason.contains("never reached"));
        // With nothing later held, the key may still be on its way: wait.
        let opened = open_page(
            t.access.team(),
            &held(&[1]),
            &roster,
            t.admin.device,
            0,
            &page(vec![at_2]),
        )
        .unwrap();
        assert_eq!((opened.next, opened.blocked), (0, Some(1)));
    }
}
