//! The one error type of the mobile API. Every variant carries a `reason` the app can show (not `message`: Kotlin's exceptions already have one)
//! (uniffi hands hosts the fields, not Rust's `Display`), and no message carries patient
//! data: the core's errors name fields, ids and counts, never values a person typed.

use holdfast_core::Error as CoreError;

/// What went wrong, by what the app should do about it.
#[derive(Debug, thiserror::Error, uniffi::Error)]
pub enum HoldfastError {
    /// The input was not valid (an NHS number, a measure answer, a date, an id...): tell
    /// the user what to fix. Nothing was changed.
    #[error("{reason}")]
    InvalidInput {
        /// What is wrong, in words.
        reason: String,
    },
    /// No such record on this device.
    #[error("{reason}")]
    NotFound {
        /// What was looked for.
        reason: String,
    },
    /// The action does not fit the record's state or this device's role (an illegal status
    /// change, a conflict to resolve first, a patient device asked for a case file...).
    #[error("{reason}")]
    NotAllowed {
        /// Why.
        reason: String,
    },
    /// An invite code was refused: used, expired, unknown or altered. Nothing was joined.
    #[error("{reason}")]
    InviteRefused {
        /// Why.
        reason: String,
    },
    /// The relay could not be reached: the device works offline and syncs later.
    #[error("{reason}")]
    Offline {
        /// What failed.
        reason: String,
    },
    /// The relay refused a request (this device revoked, a rate limit...).
    #[error("{reason}")]
    Relay {
        /// The relay's code and reason.
        reason: String,
    },
    /// The store cannot be opened or read: wrong key, damaged file, newer schema.
    #[error("{reason}")]
    Storage {
        /// What failed.
        reason: String,
    },
    /// The host's key store failed (from the callback, or a key it should hold is missing).
    #[error("{reason}")]
    KeyStore {
        /// What failed.
        reason: String,
    },
    /// A bug, or a panic caught at the boundary: report it. The device stays usable.
    #[error("{reason}")]
    Internal {
        /// What failed.
        reason: String,
    },
}

impl HoldfastError {
    pub(crate) fn invalid(reason: impl Into<String>) -> Self {
        HoldfastError::InvalidInput {
            reason: reason.into(),
        }
    }

    pub(crate) fn internal(reason: impl Into<String>) -> Self {
        HoldfastError::Internal {
            reason: reason.into(),
        }
    }
}

impl From<CoreError> for HoldfastError {
    fn from(e: CoreError) -> Self {
        let reason = e.to_string();
        match e {
            CoreError::NhsNumber(_)
            | CoreError::Postcode(_)
            | CoreError::Measure(_)
            | CoreError::InvalidInput { .. }
            | CoreError::InvalidId { .. }
            | CoreError::Import(_)
            | CoreError::Malformed(_) => HoldfastError::InvalidInput { reason },
            CoreError::NotFound { .. } | CoreError::NoStore(_) => {
                HoldfastError::NotFound { reason }
            }
            CoreError::IllegalTransition { .. }
            | CoreError::Conflict { .. }
            | CoreError::NotAllowed(_)
            | CoreError::WrongDocumentKind { .. }
            | CoreError::StoreExists(_) => HoldfastError::NotAllowed { reason },
            CoreError::InviteRefused(_) => HoldfastError::InviteRefused { reason },
            CoreError::Network(_) => HoldfastError::Offline { reason },
            CoreError::Relay { status, .. } if status >= 500 => HoldfastError::Offline { reason },
            CoreError::Relay { .. } | CoreError::BadEnvelope { .. } => {
                HoldfastError::Relay { reason }
            }
            CoreError::WrongStoreKey
            | CoreError::StoreCorrupt(_)
            | CoreError::SchemaTooNew { .. }
            | CoreError::Sqlite(_)
            | CoreError::Io(_) => HoldfastError::Storage { reason },
            CoreError::KeyStore(_) | CoreError::KeyMissing { .. } => {
                HoldfastError::KeyStore { reason }
            }
            _ => HoldfastError::Internal { reason },
        }
    }
}

/// A host callback that failed in a way its signature did not allow (uniffi's wrapper).
impl From<uniffi::UnexpectedUniFFICallbackError> for HoldfastError {
    fn from(e: uniffi::UnexpectedUniFFICallbackError) -> Self {
        HoldfastError::KeyStore {
            reason: format!("a host callback failed: {}", e.reason),
        }
    }
}

/// The API's result type.
pub type Result<T, E = HoldfastError> = std::result::Result<T, E>;
