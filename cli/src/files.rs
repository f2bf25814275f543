//! Files that hold patient records in plaintext (exports): readable by their owner only.

use std::io::Write as _;
use std::path::Path;

use crate::error::{CliError, Result};

/// Writes `bytes` to `path`, readable by its owner only (0600), replacing any file there:
/// written beside it under a temporary name, flushed, then renamed over it, so an existing
/// file's wider permissions never apply and a failed write leaves no half-written record.
pub fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    let shown = path.display().to_string();
    let fail = |e| CliError::file(format!("writing {shown}"), e);
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        name.as_deref().unwrap_or("export"),
        std::process::id()
    ));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let written = options.open(&tmp).and_then(|mut file| {
        file.write_all(bytes)?;
        file.sync_all()
    });
    let renamed = written.and_then(|()| std::fs::rename(&tmp, path));
    if let Err(e) = renamed {
        // Nothing half-written is left behind (it may not exist: ignore that).
        let _ = std::fs::remove_file(&tmp);
        return Err(fail(e));
    }
    Ok(())
}
