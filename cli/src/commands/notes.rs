//! Private supervision notes: a link worker's own wellbeing, training needs and reflection,
//! read only by them and their team's supervisors and admins, who may respond.

use std::fmt::Write as _;

use holdfast_core::Store;
use holdfast_core::model::ids::{CommentId, DeviceId};
use holdfast_core::model::private_notes::{NoteKind, PrivateNoteId, PrivateNotes};
use serde::Serialize;

use super::Ctx;
use crate::clock::format_date;
use crate::error::{CliError, Result};
use crate::lookup::MIN_PREFIX;
use crate::output::{Output, short};

/// `me`, a member's name (unique, any case) or a device id (or its first 6+ characters), in
/// the current team.
fn resolve_owner(store: &Store, typed: &str) -> Result<DeviceId> {
    let me = store.this_member();
    let wanted = typed.trim().to_lowercase();
    if wanted == "me" {
        return Ok(me);
    }
    let team = store
        .current_team()
        .ok_or_else(|| CliError::input("private notes belong to a team: join or create one"))?;
    let members = store.team_members(team)?;
    let id_like = wanted.len() >= MIN_PREFIX && wanted.chars().all(|c| c.is_ascii_hexdigit());
    let found: Vec<DeviceId> = members
        .iter()
        .filter(|m| {
            m.name
                .as_deref()
                .is_some_and(|n| n.trim().to_lowercase() == wanted)
                || (id_like && m.device.to_string().starts_with(&wanted))
        })
        .map(|m| m.device)
        .collect();
    match found.as_slice() {
        [one] => Ok(*one),
        [] => Err(CliError::input(format!(
            "no member of the team is called or has the device id {typed:?}"
        ))),
        _ => Err(CliError::input(format!(
            "{typed:?} fits {} members: give more of the device id",
            found.len()
        ))),
    }
}

#[derive(Serialize)]
struct Added {
    note_id: PrivateNoteId,
    kind: NoteKind,
}

pub(super) fn add(ctx: &Ctx, kind: NoteKind, text: &str) -> Result<Output> {
    let mut store = ctx.device.open()?;
    let note_id = store.add_private_note(kind, text)?;
    let text = format!(
        "Private note added ({kind}) [{}]. Only you and your team's supervisors and admins \
         can read it; it reaches them at the next sync.",
        short(&note_id)
    );
    Output::new(&Added { note_id, kind }, text)
}

pub(super) fn show(ctx: &Ctx, owner: &str) -> Result<Output> {
    let mut store = ctx.device.open()?;
    let owner = resolve_owner(&store, owner)?;
    let notes: PrivateNotes = store.private_notes(owner)?;
    let name = store.member_name(owner)?.unwrap_or_else(|| short(&owner));
    let mut text = format!("Private notes of {name}\n");
    if notes.notes.is_empty() {
        text.push_str("  none yet\n");
    }
    for n in &notes.notes {
        let _ = writeln!(
            text,
            "  {} {} [{}]: {}",
            format_date(n.date),
            n.kind,
            short(&n.id),
            n.text
        );
        for r in &n.responses {
            let _ = writeln!(
                text,
                "      {} ({}): {}",
                r.by,
                ctx.clock.day_time(r.at),
                r.text
            );
        }
    }
    Output::new(&notes, text.trim_end().to_owned())
}

#[derive(Serialize)]
struct Responded {
    response_id: CommentId,
}

pub(super) fn respond(ctx: &Ctx, owner: &str, note: &str, text: &str) -> Result<Output> {
    let mut store = ctx.device.open()?;
    let owner = resolve_owner(&store, owner)?;
    let typed = note.trim().to_lowercase();
    let notes = store.private_notes(owner)?;
    let matching: Vec<PrivateNoteId> = notes
        .notes
        .iter()
        .map(|n| n.id)
        .filter(|id| typed.len() >= MIN_PREFIX && id.to_string().starts_with(&typed))
        .collect();
    let note = match matching.as_slice() {
        [one] => *one,
        [] => {
            return Err(CliError::input(format!(
                "no note {note:?} in those private notes (type at least {MIN_PREFIX} characters of its id)"
            )));
        }
        _ => {
            return Err(CliError::input(
                "that fits several notes: type more of the id",
            ));
        }
    };
    let response_id = store.respond_to_private_note(owner, note, text)?;
    Output::new(
        &Responded { response_id },
        format!("Response added [{}].", short(&response_id)),
    )
}
