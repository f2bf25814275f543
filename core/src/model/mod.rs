//! Typed views and edits over Holdfast's Automerge documents.
//!
//! Each document module offers two halves: `read(&doc)` builds a plain Rust view, and edit
//! functions apply one user action to an `AutoCommit` without committing it. The store
//! commits each action as one attributed change, dated by its clock. No I/O and no clock
//! here: an edit is handed the time it stamps, so the property tests drive replicas
//! directly. New items draw their random ids from the operating system's generator.

/// A closed set of names stored as strings in documents and shown in the CLI.
macro_rules! string_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($(#[$vdoc])* $variant),+ }

        impl $name {
            /// Every value, in order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            /// The stable name stored in documents.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = crate::Error;
            fn from_str(s: &str) -> crate::Result<Self> {
                let wanted = s.trim().to_ascii_lowercase().replace(['-', ' '], "_");
                match wanted.as_str() {
                    $($text => Ok($name::$variant),)+
                    _ => Err(crate::Error::InvalidInput {
                        field: stringify!($name),
                        reason: format!("expected one of: {}", [$($text),+].join(", ")),
                    }),
                }
            }
        }
    };
}

pub mod action_plan;
pub mod case_file;
pub mod directory;
pub mod doc;
pub mod ids;
pub mod measures;
pub mod nhs_number;
pub mod oversight;
pub mod plan_render;
pub mod postcode;
pub mod private_notes;
pub mod team_settings;
pub mod uk_time;

pub use doc::{Author, Claim, Contested, DocKind, HistoryEntry};
