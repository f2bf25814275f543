//! What a command prints: readable text for a person, or the typed result as JSON.

use std::fmt::Write as _;
use std::io::Write as _;

use serde::Serialize;

use crate::error::{CliError, Result};

/// A command's result, in both forms.
#[derive(Debug)]
pub struct Output {
    json: serde_json::Value,
    text: String,
    /// `--json` on one line (a line in a stream of events) rather than pretty-printed.
    compact: bool,
}

impl Output {
    /// A result: `value` is what `--json` prints, `text` what a person reads.
    pub fn new<T: Serialize>(value: &T, text: impl Into<String>) -> Result<Self> {
        let json = serde_json::to_value(value)
            .map_err(|e| CliError::input(format!("cannot write the result as JSON: {e}")))?;
        Ok(Output {
            json,
            text: text.into(),
            compact: false,
        })
    }

    /// The same result, printed by `--json` on one line.
    pub fn compact(mut self) -> Self {
        self.compact = true;
        self
    }

    /// Writes the result to stdout. A closed pipe (`holdfast caseload | head`) is not an error.
    pub fn print(&self, json: bool) -> Result<()> {
        self.emit(json).map(|_| ())
    }

    /// Writes the result to stdout; false when nobody reads it any more (a closed pipe).
    pub fn emit(&self, json: bool) -> Result<bool> {
        let mut body = if json && self.compact {
            serde_json::to_string(&self.json)
                .map_err(|e| CliError::input(format!("cannot write the result as JSON: {e}")))?
        } else if json {
            serde_json::to_string_pretty(&self.json)
                .map_err(|e| CliError::input(format!("cannot write the result as JSON: {e}")))?
        } else {
            self.text.clone()
        };
        if !body.ends_with('\n') {
            body.push('\n');
        }
        let mut out = std::io::stdout().lock();
        match out.write_all(body.as_bytes()).and_then(|()| out.flush()) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(false),
            Err(e) => Err(CliError::file("writing the output", e)),
        }
    }
}

/// The first 8 characters of an id: enough to tell records apart on screen, and accepted
/// back (as a prefix) by every command that takes a case.
pub fn short(id: &impl ToString) -> String {
    id.to_string().chars().take(8).collect()
}

/// "1 case", "2 cases".
pub fn count(n: usize, singular: &str, plural: &str) -> String {
    format!("{n} {}", if n == 1 { singular } else { plural })
}

/// A stored name ("home_visit") as words ("home visit").
pub fn words(name: &str) -> String {
    name.replace('_', " ")
}

/// Cuts `s` to at most `max` characters, marking the cut.
pub fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
        out.push('…');
        out
    }
}

/// Lays rows out in columns under a header, two spaces apart.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: &mut dyn Iterator<Item = &str>| {
        let mut l = String::new();
        for (i, cell) in cells.enumerate() {
            let w = widths.get(i).copied().unwrap_or(0);
            let pad = w.saturating_sub(cell.chars().count());
            let _ = write!(l, "{cell}{}  ", " ".repeat(pad));
        }
        out.push_str(l.trim_end());
        out.push('\n');
    };
    line(&mut header.iter().copied());
    for row in rows {
        line(&mut row.iter().map(String::as_str));
    }
    out
}

/// The width that free text (notes, reasons, comments) is wrapped to.
const TEXT_WIDTH: usize = 96;

/// Indents every line of `text` by `n` spaces, wrapping long lines at word boundaries.
pub fn indent(text: &str, n: usize) -> String {
    let pad = " ".repeat(n);
    let width = TEXT_WIDTH.saturating_sub(n).max(20);
    let mut out: Vec<String> = Vec::new();
    for line in text.lines() {
        if line.trim().is_empty() {
            out.push(String::new());
            continue;
        }
        let mut current = String::new();
        let mut len = 0;
        for word in line.split_whitespace() {
            let w = word.chars().count();
            if len > 0 && len + 1 + w > width {
                out.push(format!("{pad}{current}"));
                current.clear();
                len = 0;
            }
            if len > 0 {
                current.push(' ');
                len += 1;
            }
            current.push_str(word);
            len += w;
        }
        out.push(format!("{pad}{current}"));
    }
    out.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_line_up_by_characters() {
        let t = table(
            &["NAME", "STATUS"],
            &[
                vec!["Zoë Brontë".into(), "active".into()],
                vec!["Al".into(), "holding!".into()],
            ],
        );
        assert_eq!(
            t,
            "NAME        STATUS\nZoë Brontë  active\nAl          holding!\n"
        );
    }

    #[test]
    fn clipping_and_words() {
        assert_eq!(clip("abcdef", 4), "abc…");
        assert_eq!(clip("abc", 4), "abc");
        assert_eq!(count(1, "case", "cases"), "1 case");
        assert_eq!(count(2, "case", "cases"), "2 cases");
        assert_eq!(words("home_visit"), "home visit");
        assert_eq!(indent("a\n\nb", 2), "  a\n\n  b");
        let long = "word ".repeat(40);
        let wrapped = indent(&long, 4);
        assert!(wrapped.lines().count() > 1, "{wrapped}");
        assert!(
            wrapped
                .lines()
                .all(|l| l.starts_with("    word") && l.len() <= 96)
        );
    }
}
