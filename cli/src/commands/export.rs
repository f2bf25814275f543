//! Data portability: one patient's record for a subject access request, and any document as
//! its raw Automerge bytes with its heads.

use std::path::{Path, PathBuf};

use holdfast_core::model::DocKind;
use holdfast_core::model::ids::DocumentId;
use serde::Serialize;

use super::Ctx;
use super::case::open_case;
use crate::args::SarFormat;
use crate::error::{CliError, Result};
use crate::files::write_private;
use crate::lookup;
use crate::output::Output;

#[derive(Serialize)]
struct SarWritten {
    case_id: DocumentId,
    format: &'static str,
    out: PathBuf,
    history_entries: usize,
}

/// `holdfast case export`: the patient's record as JSON or text, on the screen or in a file.
pub(super) fn case_export(
    ctx: &Ctx,
    case: &str,
    format: SarFormat,
    out: Option<&Path>,
) -> Result<Output> {
    let (mut store, case_id) = open_case(ctx, case)?;
    let sar = store.subject_access(case_id)?;
    let (body, name) = match format {
        SarFormat::Json => (sar.to_json()?, "json"),
        SarFormat::Text => (sar.render_text(), "text"),
    };
    let Some(path) = out else {
        let value: serde_json::Value = serde_json::from_str(&sar.to_json()?)
            .map_err(|e| CliError::input(format!("cannot write the export as JSON: {e}")))?;
        return Output::new(&value, body);
    };
    let mut bytes = body.into_bytes();
    if bytes.last() != Some(&b'\n') {
        bytes.push(b'\n');
    }
    write_private(path, &bytes)?;
    let text = format!(
        "Wrote the subject access export of case {case_id} ({name}, {} changes of history) to \
         {}.\nThe data controller must review it before disclosure (safeguarding and \
         supervision are flagged). The file is not encrypted: keep it somewhere safe and \
         delete it once disclosed.",
        sar.history.len(),
        path.display()
    );
    Output::new(
        &SarWritten {
            case_id,
            format: name,
            out: path.to_path_buf(),
            history_entries: sar.history.len(),
        },
        text,
    )
}

#[derive(Serialize)]
struct DocumentWritten {
    document_id: DocumentId,
    kind: DocKind,
    out: PathBuf,
    heads_file: PathBuf,
    bytes: usize,
    heads: Vec<String>,
}

/// Every document on the device, of every kind.
fn all_documents(store: &holdfast_core::Store) -> Result<Vec<DocumentId>> {
    let mut ids = Vec::new();
    for kind in [
        DocKind::CaseFile,
        DocKind::ActionPlan,
        DocKind::Directory,
        DocKind::PrivateNotes,
        DocKind::TeamSettings,
    ] {
        ids.extend(store.document_ids(kind)?);
    }
    Ok(ids)
}

/// `holdfast document export`: the document's Automerge bytes to FILE, its heads (hex, one
/// a line) beside it in FILE's name with `.heads`.
pub(super) fn document_export(ctx: &Ctx, document: &str, out: &Path) -> Result<Output> {
    let heads_file = out.with_extension("heads");
    if heads_file == out {
        return Err(CliError::input(
            "the output file cannot end in .heads: the heads are written beside it with that \
             ending (use FILE.automerge)",
        ));
    }
    let mut store = ctx.device.open()?;
    let id = lookup::pick("document", document, all_documents(&store)?)?;
    let raw = store.export_document(id)?;
    let mut heads = raw.heads.join("\n");
    heads.push('\n');
    write_private(&heads_file, heads.as_bytes())?;
    if let Err(e) = write_private(out, &raw.bytes) {
        // Heads without their document would only mislead.
        let _ = std::fs::remove_file(&heads_file);
        return Err(e);
    }
    let text = format!(
        "Wrote the {} {id} as an Automerge document ({} bytes) to {}, and its heads to {}:\n{}\
         The file is not encrypted: keep it somewhere safe.",
        crate::output::words(raw.kind.as_str()),
        raw.bytes.len(),
        out.display(),
        heads_file.display(),
        heads
    );
    Output::new(
        &DocumentWritten {
            document_id: id,
            kind: raw.kind,
            out: out.to_path_buf(),
            heads_file,
            bytes: raw.bytes.len(),
            heads: raw.heads,
        },
        text,
    )
}
