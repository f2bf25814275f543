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
    /// A case in this team already has the new patient's NHS number: open that case (a
    /// re-referral belongs on it), or create the second one deliberately
    /// (`create_duplicate_case`). Nothing was created.
    #[error("{reason}")]
    DuplicatePatient {
        /// Why, in words.
        reason: String,
        /// The existing case's id.
        existing_case_id: String,
    },
    /// An invite was refused: a code used, expired, cancelled, unknown or altered (nothing
    /// was joined), or a cancel of an invite already used or cancelled.
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
    /// No secure connection to the relay: its certificate was refused (not from the CA
    /// trusted for it, for another host name, expired) or TLS failed. Not "offline": do not
    /// retry on a timer; tell the person the connection is not safe (public Wi-Fi, a
    /// captive portal, someone intercepting) and to try another network or tell the relay's
    /// administrator. Nothing was sent.
    #[error("{reason}")]
    InsecureConnection {
        /// Why the connection was refused.
        reason: String,
    },
    /// This device was removed from the team: nothing new reaches it, and the relay refuses
    /// it. What it holds stays on the device.
    #[error("{reason}")]
    Revoked {
        /// Which team.
        reason: String,
    },
    /// Not yet, and nothing is wrong: the device waits for something a later sync brings
    /// (the keys of a new epoch, a colleague's enrolment). Try again after the next sync.
    #[error("{reason}")]
    TryAgain {
        /// What it waits for.
        reason: String,
    },
    /// The relay refused a request (a rate limit, a bad request...).
    #[error("{reason}")]
    Relay {
        /// The relay's code and reason.
        reason: String,
    },
    /// A stored document does not have the shape Holdfast writes: damage, not the caller's
    /// input. Report it; the rest of the device works.
    #[error("{reason}")]
    Damaged {
        /// What is damaged.
        reason: String,
    },
    /// The device's storage is full: nothing of this action was saved, and everything
    /// saved before is safe. Tell the person to free some space on the device; the same
    /// action succeeds once there is space, and sync carries on by itself. Nothing needs
    /// repair.
    #[error("{reason}")]
    StorageFull {
        /// What happened and what to do, in plain words.
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
    /// Every core error by what the app should do about it. Exhaustive on purpose: a new
    /// core error must be placed here, not fall into a catch-all.
    fn from(e: CoreError) -> Self {
        let reason = e.to_string();
        match e {
            CoreError::NhsNumber(_)
            | CoreError::Postcode(_)
            | CoreError::Measure(_)
            | CoreError::InvalidInput { .. }
            | CoreError::InvalidId { .. }
            | CoreError::Import(_) => HoldfastError::InvalidInput { reason },
            CoreError::NotFound { .. } | CoreError::NoStore(_) => {
                HoldfastError::NotFound { reason }
            }
            CoreError::IllegalTransition { .. }
            | CoreError::Conflict { .. }
            | CoreError::NotAllowed(_)
            | CoreError::WrongDocumentKind { .. }
            | CoreError::StoreExists(_) => HoldfastError::NotAllowed { reason },
            CoreError::DuplicatePatient { existing } => HoldfastError::DuplicatePatient {
                reason,
                existing_case_id: existing.to_string(),
            },
            CoreError::Revoked { .. } => HoldfastError::Revoked { reason },
            CoreError::TryAgain(_) => HoldfastError::TryAgain { reason },
            CoreError::InviteRefused(_) => HoldfastError::InviteRefused { reason },
            CoreError::Network(_) => HoldfastError::Offline { reason },
            CoreError::Tls(_) => HoldfastError::InsecureConnection { reason },
            CoreError::Relay { status, .. } if status >= 500 => HoldfastError::Offline { reason },
            CoreError::Relay { .. }
            | CoreError::BadEnvelope { .. }
            | CoreError::Unverified { .. } => HoldfastError::Relay { reason },
            // A document that is not the shape Holdfast writes, or one Automerge cannot
            // read: damage on this device, not the caller's input.
            CoreError::Malformed(_) | CoreError::Automerge(_) => HoldfastError::Damaged { reason },
            CoreError::StorageFull => HoldfastError::StorageFull { reason },
            CoreError::WrongStoreKey
            | CoreError::StoreCorrupt(_)
            | CoreError::SchemaTooNew { .. }
            | CoreError::Sqlite(_)
            | CoreError::Io(_) => HoldfastError::Storage { reason },
            CoreError::KeyStore(_) | CoreError::KeyMissing { .. } => {
                HoldfastError::KeyStore { reason }
            }
            // Wire-format and crypto failures of bytes this device made itself: a bug if they
            // surface here (what the relay serves and fails to verify is `Unverified`, the
            // fold's refusals are `NotAllowed` / `InviteRefused`).
            CoreError::Protocol(_) | CoreError::Crypto(_) | CoreError::Internal(_) => {
                HoldfastError::Internal { reason }
            }
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

#[cfg(test)]
mod tests {
    use super::*;
    use holdfast_core::model::ids::DocumentId;

    fn kind(e: CoreError) -> &'static str {
        match HoldfastError::from(e) {
            HoldfastError::InvalidInput { .. } => "invalid input",
            HoldfastError::NotFound { .. } => "not found",
            HoldfastError::NotAllowed { .. } => "not allowed",
            HoldfastError::DuplicatePatient { .. } => "duplicate patient",
            HoldfastError::InviteRefused { .. } => "invite refused",
            HoldfastError::Offline { .. } => "offline",
            HoldfastError::InsecureConnection { .. } => "insecure connection",
            HoldfastError::Revoked { .. } => "revoked",
            HoldfastError::TryAgain { .. } => "try again",
            HoldfastError::Relay { .. } => "relay",
            HoldfastError::Damaged { .. } => "damaged",
            HoldfastError::StorageFull { .. } => "storage full",
            HoldfastError::Storage { .. } => "storage",
            HoldfastError::KeyStore { .. } => "key store",
            HoldfastError::Internal { .. } => "internal",
        }
    }

    #[test]
    fn each_core_error_reaches_the_app_as_what_it_should_do() {
        // A damaged document is not the caller's input.
        assert_eq!(kind(CoreError::Malformed("no kind".into())), "damaged");
        assert_eq!(
            kind(CoreError::InvalidInput {
                field: "name",
                reason: "empty".into()
            }),
            "invalid input"
        );
        // A poisoned lock or a failed task is a bug; waiting for keys is not a refusal.
        assert_eq!(kind(CoreError::Internal("lock".into())), "internal");
        assert_eq!(kind(CoreError::TryAgain("keys".into())), "try again");
        assert_eq!(kind(CoreError::Revoked { team: "t".into() }), "revoked");
        assert_eq!(kind(CoreError::NotAllowed("role".into())), "not allowed");
        assert_eq!(kind(CoreError::Network("reset".into())), "offline");
        // A refused certificate is not a signal to wait for: someone may be in the middle.
        assert_eq!(
            kind(CoreError::Tls("the relay's certificate was refused".into())),
            "insecure connection"
        );
        let busy = CoreError::Relay {
            status: 503,
            code: "unavailable".into(),
            message: String::new(),
        };
        assert_eq!(kind(busy), "offline");
        // A full disk is not damage: the app says "free some space", not "report this".
        assert_eq!(kind(CoreError::StorageFull), "storage full");
        let enospc = std::io::Error::from(std::io::ErrorKind::StorageFull);
        assert_eq!(kind(CoreError::from(enospc)), "storage full");
        let existing = DocumentId::random();
        match HoldfastError::from(CoreError::DuplicatePatient { existing }) {
            HoldfastError::DuplicatePatient {
                existing_case_id,
                reason,
            } => {
                assert_eq!(existing_case_id, existing.to_string());
                assert!(reason.contains("re-referral"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
    }
}
