//! The one error type of the mobile API. Every variant carries a `message` the app can show
//! (uniffi hands hosts the fields, not Rust's `Display`), and no message carries patient
//! data: the core's errors name fields, ids and counts, never values a person typed.

use holdfast_core::Error as CoreError;

/// What went wrong, by what the app should do about it.
#[derive(Debug, thiserror::Error, uniffi::Error)]
pub enum HoldfastError {
    /// The input was not valid (an NHS number, a measure answer, a date, an id...): tell
    /// the user what to fix. Nothing was changed.
    #[error("{message}")]
    InvalidInput {
        /// What is wrong, in words.
        message: String,
    },
    /// No such record on this device.
    #[error("{message}")]
    NotFound {
        /// What was looked for.
        message: String,
    },
    /// The action does not fit the record's state or this device's role (an illegal status
    /// change, a conflict to resolve first, a patient device asked for a case file...).
    #[error("{message}")]
    NotAllowed {
        /// Why.
        message: String,
    },
    /// An invite code was refused: used, expired, unknown or altered. Nothing was joined.
    #[error("{message}")]
    InviteRefused {
        /// Why.
        message: String,
    },
    /// The relay could not be reached: the device works offline and syncs later.
    #[error("{message}")]
    Offline {
        /// What failed.
        message: String,
    },
    /// The relay refused a request (this device revoked, a rate limit...).
    #[error("{message}")]
    Relay {
        /// The relay's code and reason.
        message: String,
    },
    /// The store cannot be opened or read: wrong key, damaged file, newer schema.
    #[error("{message}")]
    Storage {
        /// What failed.
        message: String,
    },
    /// The host's key store failed (from the callback, or a key it should hold is missing).
    #[error("{message}")]
    KeyStore {
        /// What failed.
        message: String,
    },
    /// A bug, or a panic caught at the boundary: report it. The device stays usable.
    #[error("{message}")]
    Internal {
        /// What failed.
        message: String,
    },
}

impl HoldfastError {
    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        HoldfastError::InvalidInput {
            message: message.into(),
        }
    }

    pub(crate) fn internal(message: impl Into<String>) -> Self {
        HoldfastError::Internal {
            message: message.into(),
        }
    }
}

impl From<CoreError> for HoldfastError {
    fn from(e: CoreError) -> Self {
        let message = e.to_string();
        match e {
            CoreError::NhsNumber(_)
            | CoreError::Postcode(_)
            | CoreError::Measure(_)
            | CoreError::InvalidInput { .. }
            | CoreError::InvalidId { .. }
            | CoreError::Import(_)
            | CoreError::Malformed(_) => HoldfastError::InvalidInput { message },
            CoreError::NotFound { .. } | CoreError::NoStore(_) => {
                HoldfastError::NotFound { message }
            }
            CoreError::IllegalTransition { .. }
            | CoreError::Conflict { .. }
            | CoreError::NotAllowed(_)
            | CoreError::WrongDocumentKind { .. }
            | CoreError::StoreExists(_) => HoldfastError::NotAllowed { message },
            CoreError::InviteRefused(_) => HoldfastError::InviteRefused { message },
            CoreError::Network(_) => HoldfastError::Offline { message },
            CoreError::Relay { status, .. } if status >= 500 => HoldfastError::Offline { message },
            CoreError::Relay { .. } | CoreError::BadEnvelope { .. } => {
                HoldfastError::Relay { message }
            }
            CoreError::WrongStoreKey
            | CoreError::StoreCorrupt(_)
            | CoreError::SchemaTooNew { .. }
            | CoreError::Sqlite(_)
            | CoreError::Io(_) => HoldfastError::Storage { message },
            CoreError::KeyStore(_) | CoreError::KeyMissing { .. } => {
                HoldfastError::KeyStore { message }
            }
            _ => HoldfastError::Internal { message },
        }
    }
}

/// A host callback that failed in a way its signature did not allow (uniffi's wrapper).
impl From<uniffi::UnexpectedUniFFICallbackError> for HoldfastError {
    fn from(e: uniffi::UnexpectedUniFFICallbackError) -> Self {
        HoldfastError::KeyStore {
            message: format!("a host callback failed: {}", e.reason),
        }
    }
}

/// The API's result type.
pub type Result<T, E = HoldfastError> = std::result::Result<T, E>;
