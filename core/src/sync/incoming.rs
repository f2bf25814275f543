//! Opening a pulled page, without I/O: each envelope is checked against the team, its
//! author's registered key and the document key, before anything reaches the store.
//!
//! Refusals are per envelope and never stop the page: a bad envelope from a team member is
//! recorded and skipped, and the cursor still moves past it (otherwise one bad envelope
//! would stall the team's sync forever).

use std::collections::HashMap;

use holdfast_protocol::{EnvelopeId, EnvelopeRef, Kind, PUBLIC_KEY_LEN, PullPage};

use crate::crypto::TeamKeys;
use crate::model::ids::{DeviceId, DocId, TeamId};
use crate::store::TeamAccess;

/// Who may author envelopes in a team, from its verified membership: each enrolled
/// device's public key and, for a revoked one, the epoch from which its envelopes are
/// refused; and, on a patient's device, the one document it accepts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Roster {
    keys: HashMap<DeviceId, ([u8; PUBLIC_KEY_LEN], Option<u32>)>,
    only_doc: Option<DocId>,
    /// Patients' devices: their snapshots are not accepted.
    patients: std::collections::HashSet<DeviceId>,
}

impl Roster {
    /// The roster of a team's verified membership as this device sees it.
    pub fn from_access(access: &TeamAccess) -> Self {
        Roster {
            keys: access
                .membership
                .devices
                .values()
                .map(|m| {
                    let d = DeviceId::from(m.device);
                    (d, (m.sign_key, access.revoked_in.get(&d).copied()))
                })
                .collect(),
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
                .map(|m| DeviceId::from(m.device))
                .collect(),
        }
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
    pub doc: DocId,
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
    pub doc: DocId,
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
}

/// Checks and opens every envelope of `page` pulled for `team` after `cursor`.
///
/// Items at or below `cursor` (a repeated page) are dropped. For the rest, in this order:
/// the header names `team` (else it was replayed from another team); the author is not
/// `me` (own envelopes are already applied); the author is in `roster`; the signature
/// verifies with the author's key; it decrypts with the document key. The header is the
/// AAD and is signed, so a document id or epoch changed in transit fails here too.
pub fn open_page(
    team: TeamId,
    keys: &TeamKeys,
    roster: &Roster,
    me: DeviceId,
    cursor: u64,
    page: &PullPage,
) -> OpenedPage {
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
        let envelope = match EnvelopeRef::decode(bytes) {
            Ok(e) => e,
            Err(e) => {
                tracing::warn!(seq, error = %e, "undecodable envelope in a pull page");
                continue;
            }
        };
        let h = envelope.header;
        let id = envelope.id();
        let doc = DocId::from(h.document);
        let author = DeviceId::from(h.author);
        let refuse = |reason: String| Refusal {
            seq: *seq,
            id,
            doc,
            author,
            reason,
        };
        if TeamId::from(h.team) != team {
            out.refused
                .push(refuse(format!("belongs to team {}, not this team", h.team)));
            continue;
        }
        if author == me {
            out.own += 1;
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
        let Some((public_key, revoked_in)) = roster.keys.get(&author) else {
            // Not in the log as pulled: an honest relay stores only members' envelopes, so
            // the enrolment is still on its way. Stop here rather than lose the envelope.
            out.next = seq.saturating_sub(1).max(cursor);
            out.more = false;
            out.blocked = Some(*seq);
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
        let key = match keys.key_for(doc, h.epoch) {
            Ok(k) => k,
            // The key of that epoch has not reached this device yet: stop here.
            Err(_) => {
                out.next = seq.saturating_sub(1).max(cursor);
                out.more = false;
                out.blocked = Some(*seq);
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
    out
}
