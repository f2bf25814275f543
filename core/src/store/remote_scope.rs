//! What the changes pulled from another device touched in a case file, so that its index
//! rows are updated as a local edit's are, without reading the whole case.
//!
//! A local edit says which rows it touches ([`Reindex`](super::documents::Reindex)). A
//! remote one arrives as Automerge changes, which say only which objects and keys their
//! operations write. Those are enough: a session recorded elsewhere is one change that
//! makes a map under a new key of the case's sessions map and fills it, and nothing else.
//! Such changes fold into the caseload row session by session (one session read, however
//! many the case holds), changes that write nothing under `sessions` recompute the header
//! rows (patient, status, safeguarding, oversight) without reading any session, and a
//! session's note amended writes nothing indexed. Anything else (a session edited or
//! deleted, the sessions map itself replaced, a change that does not decode) recomputes
//! the rows from the whole document, as before; so does a catch-up of many changes, where
//! one whole read is cheaper than many small ones.

use std::collections::{HashMap, HashSet};

use automerge::legacy::{Key, ObjectId, OpId, OpType};
use automerge::{AutoCommit, Change, ChangeHash, ObjId, ObjType, Prop, ROOT, ReadDoc};

/// Past this many new changes in one page, the document is re-read whole.
const MAX_CHANGES: usize = 64;

/// How a case file's index rows follow a page of remote changes.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum CaseScope {
    /// Recompute every row from the whole document.
    Whole,
    /// Only these parts changed.
    Parts {
        /// Something outside the sessions: recompute the header rows.
        header: bool,
        /// Keys (session ids) of the sessions the changes recorded, in the order they came.
        sessions: Vec<String>,
    },
}

/// Where an object created by the page's changes lives.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Place {
    /// Inside a session these changes recorded.
    NewSession,
    /// Outside the sessions.
    Header,
}

/// What `changes` (new to this device, already applied to `doc`, in the order Automerge
/// gave them: causal) touched.
pub(super) fn case_scope(doc: &AutoCommit, changes: &[(ChangeHash, Vec<u8>)]) -> CaseScope {
    if changes.is_empty() {
        // A snapshot of what this device holds already: nothing in the document changed.
        return CaseScope::Parts {
            header: false,
            sessions: Vec::new(),
        };
    }
    if changes.len() > MAX_CHANGES {
        return CaseScope::Whole;
    }
    match classify(doc, changes) {
        Some(scope) => scope,
        None => CaseScope::Whole,
    }
}

fn classify(doc: &AutoCommit, changes: &[(ChangeHash, Vec<u8>)]) -> Option<CaseScope> {
    // The sessions map (concurrent first sessions can leave several, all read), by the id
    // the changes' operations name it with.
    let sessions_maps: HashMap<String, ObjId> = doc
        .get_all(ROOT, "sessions")
        .ok()?
        .into_iter()
        .map(|(_, id)| (id.to_string(), id))
        .collect();
    let mut created: HashMap<String, Place> = HashMap::new();
    // Existing objects met, and whether each lies under `sessions` (and is a session).
    let mut existing: HashMap<String, Existing> = HashMap::new();
    let mut header = false;
    let mut sessions = Vec::new();
    for (_, bytes) in changes {
        let change = Change::from_bytes(bytes.clone()).ok()?.decode();
        for (i, op) in change.operations.iter().enumerate() {
            let id = OpId(change.start_op.get() + i as u64, change.actor_id.clone()).to_string();
            let place = match &op.obj {
                ObjectId::Root => match &op.key {
                    Key::Map(k) if k.as_str() == "sessions" => return None,
                    _ => Place::Header,
                },
                ObjectId::Id(obj) => {
                    let obj = obj.to_string();
                    if let Some(place) = created.get(&obj) {
                        *place
                    } else if sessions_maps.contains_key(&obj) {
                        // A session recorded: a new map under a key nobody wrote before.
                        match (&op.action, &op.key, op.pred.is_empty(), op.insert) {
                            (OpType::Make(ObjType::Map), Key::Map(k), true, false) => {
                                sessions.push(k.to_string());
                                created.insert(id, Place::NewSession);
                                continue;
                            }
                            _ => return None,
                        }
                    } else {
                        let known = match existing.get(&obj) {
                            Some(known) => *known,
                            None => {
                                let known = locate(doc, &obj)?;
                                existing.insert(obj, known);
                                known
                            }
                        };
                        match known {
                            Existing::Header => Place::Header,
                            // A session's note is not indexed; its other fields are.
                            Existing::Session => match (&op.action, &op.key) {
                                (OpType::Put(_), Key::Map(k)) if k.as_str() == "note" => {
                                    continue;
                                }
                                _ => return None,
                            },
                            Existing::UnderSession => return None,
                        }
                    }
                }
            };
            if place == Place::Header {
                header = true;
            }
            if matches!(op.action, OpType::Make(_)) {
                created.insert(id, place);
            }
        }
    }
    // Each new session once, and the only value at its key: two changes making a map under
    // one key (a collision, or a buggy device) leave the rebuild counting one.
    let mut seen = HashSet::new();
    for key in &sessions {
        let values: usize = sessions_maps
            .values()
            .map(|map| {
                doc.get_all(map, key.as_str())
                    .map_or(usize::MAX, |v| v.len())
            })
            .fold(0usize, usize::saturating_add);
        if values != 1 || !seen.insert(key.as_str()) {
            return None;
        }
    }
    Some(CaseScope::Parts { header, sessions })
}

/// Where an object that existed before the page lies.
#[derive(Clone, Copy)]
enum Existing {
    /// Not under `sessions`.
    Header,
    /// A session (a value of the sessions map).
    Session,
    /// Deeper inside a session (its list of holding functions).
    UnderSession,
}

/// `None` when the object cannot be found (then the whole document is read).
fn locate(doc: &AutoCommit, obj: &str) -> Option<Existing> {
    let (id, _) = doc.import(obj).ok()?;
    let path = doc.parents(&id).ok()?.path();
    let Some((_, Prop::Map(top))) = path.first() else {
        return Some(Existing::Header);
    };
    if top != "sessions" {
        return Some(Existing::Header);
    }
    // The path runs from the root: [(root, "sessions"), (sessions map, session id), ...].
    Some(match path.len() {
        0 | 1 => return None,
        2 => Existing::Session,
        _ => Existing::UnderSession,
    })
}

#[cfg(test)]
mod tests {
    use automerge::AutoCommit;

    use super::{CaseScope, case_scope};
    use crate::model::case_file::{self, CaseStatus, NewPatient, NewSession, SessionMode};
    use crate::model::doc::{self, Author};
    use crate::model::ids::{DeviceId, DocumentId};

    fn author(n: u8) -> Author {
        Author {
            device: DeviceId([n; 16]),
            person: format!("Worker {n}"),
        }
    }

    fn session(minute: i64) -> NewSession {
        NewSession {
            start: 1_770_000_000_000 + minute * 60_000,
            duration_minutes: 30,
            mode: SessionMode::Phone,
            attended: true,
            note: "call".into(),
            holding_functions: vec![],
            follow_up: None,
        }
    }

    /// A case with one session, as both devices hold it.
    fn case() -> AutoCommit {
        let a = author(1);
        let mut doc =
            case_file::create(&a, &NewPatient::named("Ada"), DocumentId([2; 16]), 1_000).unwrap();
        case_file::record_session(&mut doc, &a, &session(1)).unwrap();
        doc::commit(&mut doc, &a, "session", 2_000);
        doc
    }

    /// What `edit`, made on another device's copy, touches once applied here.
    fn scope_of(edit: impl FnOnce(&mut AutoCommit, &Author)) -> CaseScope {
        let mut here = case();
        let mut there = here.fork().with_actor(automerge::ActorId::from([9u8; 16]));
        let b = author(9);
        edit(&mut there, &b);
        doc::commit(&mut there, &b, "remote edit", 3_000);
        let before = here.get_heads();
        let changes: Vec<_> = there
            .get_changes(&before)
            .into_iter()
            .map(|c| (c.hash(), c.raw_bytes().to_vec()))
            .collect();
        for (_, bytes) in &changes {
            here.load_incremental(bytes).unwrap();
        }
        case_scope(&here, &changes)
    }

    #[test]
    fn a_session_recorded_elsewhere_is_named_and_nothing_else() {
        let mut recorded = None;
        let scope = scope_of(|d, b| {
            recorded = Some(case_file::record_session(d, b, &session(5)).unwrap());
        });
        assert_eq!(
            scope,
            CaseScope::Parts {
                header: false,
                sessions: vec![recorded.unwrap().to_string()],
            }
        );
    }

    #[test]
    fn a_status_change_is_the_header_and_a_note_amended_is_nothing() {
        let scope = scope_of(|d, b| {
            case_file::set_status(d, b, CaseStatus::Active, None, 2_500).unwrap();
        });
        assert_eq!(
            scope,
            CaseScope::Parts {
                header: true,
                sessions: vec![],
            }
        );
        let scope = scope_of(|d, _| {
            let id = case_file::read(d).unwrap().sessions[0].id;
            case_file::amend_session_note(d, id, "amended").unwrap();
        });
        assert_eq!(
            scope,
            CaseScope::Parts {
                header: false,
                sessions: vec![],
            }
        );
    }

    #[test]
    fn a_session_edited_or_deleted_or_a_long_catch_up_reads_the_whole_case() {
        use automerge::transaction::Transactable;
        // A session's start moved: it feeds the aggregates, which cannot be folded.
        let scope = scope_of(|d, _| {
            let id = case_file::read(d).unwrap().sessions[0].id.to_string();
            let s = doc::find_entry(d, "sessions", &id).unwrap().unwrap();
            d.put(&s, "start", automerge::ScalarValue::Timestamp(5))
                .unwrap();
        });
        assert_eq!(scope, CaseScope::Whole);
        let scope = scope_of(|d, _| {
            let id = case_file::read(d).unwrap().sessions[0].id.to_string();
            let sessions = doc::get_obj(d, &automerge::ROOT, "sessions")
                .unwrap()
                .unwrap();
            d.delete(&sessions, id.as_str()).unwrap();
        });
        assert_eq!(scope, CaseScope::Whole);
        // The sessions map itself replaced.
        let scope = scope_of(|d, _| {
            d.put_object(automerge::ROOT, "sessions", automerge::ObjType::Map)
                .unwrap();
        });
        assert_eq!(scope, CaseScope::Whole);
        // Two devices made a session under the same key: the document holds one there, so
        // it is read whole rather than counted twice.
        let mut here = case();
        let sessions = doc::get_obj(&here, &automerge::ROOT, "sessions")
            .unwrap()
            .unwrap();
        let mut changes = Vec::new();
        for n in [7u8, 8] {
            let mut there = here.fork().with_actor(automerge::ActorId::from([n; 16]));
            let s = there
                .put_object(&sessions, "00000000000000aa", automerge::ObjType::Map)
                .unwrap();
            there
                .put(&s, "start", automerge::ScalarValue::Timestamp(9))
                .unwrap();
            doc::commit(&mut there, &author(n), "same key", 3_000);
            changes.extend(
                there
                    .get_changes(&here.get_heads())
                    .into_iter()
                    .map(|c| (c.hash(), c.raw_bytes().to_vec())),
            );
        }
        for (_, bytes) in &changes {
            here.load_incremental(bytes).unwrap();
        }
        assert_eq!(case_scope(&here, &changes), CaseScope::Whole);
        // More changes than are worth reading one by one.
        let mut here = case();
        let mut there = here.fork().with_actor(automerge::ActorId::from([9u8; 16]));
        let b = author(9);
        for i in 0..(super::MAX_CHANGES as i64 + 1) {
            case_file::record_session(&mut there, &b, &session(10 + i)).unwrap();
            doc::commit(&mut there, &b, "session", 3_000 + i);
        }
        let changes: Vec<_> = there
            .get_changes(&here.get_heads())
            .into_iter()
            .map(|c| (c.hash(), c.raw_bytes().to_vec()))
            .collect();
        for (_, bytes) in &changes {
            here.load_incremental(bytes).unwrap();
        }
        assert_eq!(case_scope(&here, &changes), CaseScope::Whole);
    }
}
