//! The rooms of the core depend one way, as ARCHITECTURE.md draws them:
//! model ← access ← store ← sync, with crypto beside access. A file that reaches the other
//! way (the store calling into sync, the model into the store) fails here, naming the line.

use std::path::{Path, PathBuf};

/// Each room, and the rooms its code may name.
const ALLOWED: &[(&str, &[&str])] = &[
    ("model", &[]),
    ("crypto", &["keystore", "model"]),
    ("access", &["crypto", "model"]),
    ("import", &["model"]),
    ("store", &["access", "crypto", "keystore", "model"]),
    ("sync", &["access", "crypto", "keystore", "model", "store"]),
];

const ROOMS: &[&str] = &[
    "model", "crypto", "access", "import", "store", "sync", "keystore", "seed",
];

/// Names the crate root re-exports, by the room they live in.
const ROOT_REEXPORTS: &[(&str, &str)] = &[
    ("SharedStore", "sync"),
    ("SyncClient", "sync"),
    ("SyncConfig", "sync"),
    ("SyncStatus", "sync"),
    ("Store", "store"),
    ("StoreConfig", "store"),
    ("FileKeyStore", "keystore"),
    ("KeyStore", "keystore"),
    ("KeyStoreError", "keystore"),
    ("MemoryKeyStore", "keystore"),
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// The first path segment of each item of a `use` group body (`a::b, c::{d, e}, f`).
fn group_heads(body: &str) -> Vec<&str> {
    let mut heads = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (i, c) in body
        .char_indices()
        .chain(std::iter::once((body.len(), ',')))
    {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                let item = body[start..i].trim_start();
                let end = item.find(|c| !is_ident(c)).unwrap_or(item.len());
                if end > 0 {
                    heads.push(&item[..end]);
                }
                start = i + 1;
            }
            _ => {}
        }
    }
    heads
}

/// The room a path head names: a room itself, or a root re-export of one.
fn room_of(head: &str) -> Option<&'static str> {
    ROOMS.iter().copied().find(|r| *r == head).or_else(|| {
        ROOT_REEXPORTS
            .iter()
            .find(|(name, _)| *name == head)
            .map(|(_, room)| *room)
    })
}

/// Every room `code` names, with the byte offset where it does: `crate::room`,
/// `crate::{room::…, …}` (across lines), a root re-export (`crate::SyncClient`), or
/// `super::super::room`. Comments do not count.
fn rooms_named_at(code: &str) -> Vec<(usize, &'static str)> {
    // Blank out comments, keeping offsets (and so line numbers).
    let code: String = code
        .lines()
        .map(|l| match l.find("//") {
            Some(i) => format!("{}{}\n", &l[..i], " ".repeat(l.len() - i)),
            None => format!("{l}\n"),
        })
        .collect();
    let mut out = Vec::new();
    for prefix in ["crate::", "super::super::"] {
        for (i, _) in code.match_indices(prefix) {
            if code[..i]
                .chars()
                .last()
                .is_some_and(|c| is_ident(c) || c == ':')
            {
                continue;
            }
            let rest = &code[i + prefix.len()..];
            let heads = match rest.strip_prefix('{') {
                Some(body) => {
                    let mut depth = 1;
                    let end = body
                        .char_indices()
                        .find(|&(_, c)| {
                            depth += match c {
                                '{' => 1,
                                '}' => -1,
                                _ => 0,
                            };
                            depth == 0
                        })
                        .map_or(body.len(), |(j, _)| j);
                    group_heads(&body[..end])
                }
                None => vec![&rest[..rest.find(|c| !is_ident(c)).unwrap_or(rest.len())]],
            };
            out.extend(heads.into_iter().filter_map(room_of).map(|room| (i, room)));
        }
    }
    out
}

fn rooms_named(code: &str) -> Vec<&'static str> {
    let mut rooms = Vec::new();
    for (_, room) in rooms_named_at(code) {
        if !rooms.contains(&room) {
            rooms.push(room);
        }
    }
    rooms
}

#[test]
fn the_core_depends_one_way() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut wrong = Vec::new();
    for (room, allowed) in ALLOWED {
        let mut files = Vec::new();
        let dir = src.join(room);
        if dir.is_dir() {
            rust_files(&dir, &mut files);
        } else {
            files.push(src.join(format!("{room}.rs")));
        }
        assert!(!files.is_empty(), "no sources for {room}");
        for file in files {
            let text = std::fs::read_to_string(&file).unwrap();
            for (at, named) in rooms_named_at(&text) {
                if named != *room && !allowed.contains(&named) {
                    wrong.push(format!(
                        "{}:{}: {room} names crate::{named}",
                        file.strip_prefix(&src).unwrap().display(),
                        text[..at].lines().count()
                    ));
                }
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "dependencies against the layering:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn the_check_sees_a_wrong_way_import() {
    assert_eq!(rooms_named("use crate::sync::SyncStatus;"), vec!["sync"]);
    assert_eq!(
        rooms_named("    crate::store::Store::open(x)"),
        vec!["store"]
    );
    assert_eq!(
        rooms_named("use crate::{\n    Error,\n    sync::SharedStore,\n    model::{doc, ids},\n};"),
        vec!["sync", "model"]
    );
    assert_eq!(
        rooms_named("let c = crate::SyncClient::new(s, c);"),
        vec!["sync"]
    );
    assert_eq!(rooms_named("use super::super::sync::live;"), vec!["sync"]);
    assert!(
        rooms_named("//! see [`crate::sync`]").is_empty(),
        "comments do not count"
    );
    assert!(
        rooms_named("use crate::synchronise;").is_empty(),
        "whole names only"
    );
    assert!(rooms_named("use crate::{Error, Result};").is_empty());
    assert!(rooms_named("holdfast_core::crate::sync").is_empty());
}
