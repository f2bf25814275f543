//! The rooms of the core depend one way, as ARCHITECTURE.md draws them:
//! model ← access ← store ← sync, with crypto beside access. A file that reaches the other
//! way (the store calling into sync, the model into the store) fails here, naming the line.

use std::path::{Path, PathBuf};

/// Each room, and the rooms its code may name (`crate::room`).
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

/// The rooms a line of code names, outside comments.
fn rooms_named(line: &str) -> Vec<&'static str> {
    let code = line.split("//").next().unwrap_or("");
    ROOMS
        .iter()
        .copied()
        .filter(|room| {
            let needle = format!("crate::{room}");
            code.match_indices(&needle).any(|(i, _)| {
                let after = code[i + needle.len()..].chars().next();
                !after.is_some_and(|c| c.is_alphanumeric() || c == '_')
            })
        })
        .collect()
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
            for (n, line) in text.lines().enumerate() {
                for named in rooms_named(line) {
                    if named != *room && !allowed.contains(&named) {
                        wrong.push(format!(
                            "{}:{}: {room} names crate::{named}",
                            file.strip_prefix(&src).unwrap().display(),
                            n + 1
                        ));
                    }
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
    assert!(
        rooms_named("//! see [`crate::sync`]").is_empty(),
        "comments do not count"
    );
    assert!(
        rooms_named("use crate::synchronise;").is_empty(),
        "whole names only"
    );
}
