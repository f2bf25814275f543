//! What can go wrong in a command, worded for the person at the keyboard. Messages name
//! fields and ids, never patient details.

use std::fmt;

use holdfast_core::import::open_referral::ImportError;

/// A failed command.
#[derive(Debug)]
pub enum CliError {
    /// The core refused or failed.
    Core(holdfast_core::Error),
    /// An import file was refused.
    Import(ImportError),
    /// Something typed on the command line that the core never saw (an unknown id, a
    /// malformed answer list).
    Input(String),
    /// Sync with the relay failed, worded for the person (what happened and what to do).
    Sync(String),
    /// A file of the CLI's own could not be read or written.
    File {
        /// What was being done ("reading services.json").
        doing: String,
        /// Why it failed.
        source: std::io::Error,
    },
}

impl CliError {
    /// A bad-input error.
    pub fn input(message: impl Into<String>) -> Self {
        CliError::Input(message.into())
    }

    /// A file error.
    pub fn file(doing: impl Into<String>, source: std::io::Error) -> Self {
        CliError::File {
            doing: doing.into(),
            source,
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::Core(e) => write!(f, "{e}"),
            CliError::Import(e) => write!(f, "import refused, nothing was imported: {e}"),
            CliError::Input(m) | CliError::Sync(m) => f.write_str(m),
            CliError::File { doing, source } => write!(f, "{doing}: {source}"),
        }
    }
}

impl std::error::Error for CliError {}

impl From<holdfast_core::Error> for CliError {
    fn from(e: holdfast_core::Error) -> Self {
        CliError::Core(e)
    }
}

impl From<ImportError> for CliError {
    fn from(e: ImportError) -> Self {
        CliError::Import(e)
    }
}

/// A command's result.
pub type Result<T, E = CliError> = std::result::Result<T, E>;
