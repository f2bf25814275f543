//! Errors: [`ApiError`], what a request answers with (a stable machine-readable `code`,
//! a human `message`, the HTTP status), and [`Error`], what can stop the relay itself.
//!
//! Every internal failure becomes `500 {"code": "internal", "message": "internal error"}`:
//! the cause is logged inside the request span and never sent, so a response cannot leak
//! paths, SQL or anything else about the relay. Messages of other errors name fields,
//! indexes, ids and sizes, never envelope contents.

use std::time::Duration;

use axum::extract::rejection::{BytesRejection, JsonRejection, PathRejection, QueryRejection};
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::storage;

/// What can stop the relay from starting or from shutting down cleanly.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Binding, the data directory, the token key file.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// The storage backend.
    #[error(transparent)]
    Storage(#[from] storage::Error),
    /// A setting is out of range.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// The server task failed.
    #[error("server failed: {0}")]
    Server(String),
    /// The TLS certificate or key cannot be used.
    #[error("TLS: {0}")]
    Tls(String),
}

/// The relay's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

macro_rules! error_codes {
    ($($variant:ident = $code:literal, $status:ident;)*) => {
        /// The stable, machine-readable error codes of the HTTP API.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum ErrorCode {
            $(
                #[doc = concat!("`", $code, "` (", stringify!($status), ")")]
                $variant,
            )*
        }

        impl ErrorCode {
            /// Every code, in a fixed order (for metrics).
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant),*];

            /// The code as it appears in a response body.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $code,)*
                }
            }

            /// The HTTP status a response with this code has.
            pub const fn status(self) -> StatusCode {
                match self {
                    $(ErrorCode::$variant => StatusCode::$status,)*
                }
            }

            /// This code's position in [`ALL`](Self::ALL).
            pub const fn index(self) -> usize {
                self as usize
            }
        }
    };
}

error_codes! {
    BadRequest = "bad_request", BAD_REQUEST;
    Unauthorized = "unauthorized", UNAUTHORIZED;
    Forbidden = "forbidden", FORBIDDEN;
    Revoked = "revoked", FORBIDDEN;
    NotFound = "not_found", NOT_FOUND;
    MethodNotAllowed = "method_not_allowed", METHOD_NOT_ALLOWED;
    TeamExists = "team_exists", CONFLICT;
    DeviceKeyConflict = "device_key_conflict", CONFLICT;
    NotAllowed = "not_allowed", FORBIDDEN;
    PrivateNotes = "private_notes", FORBIDDEN;
    MembershipConflict = "membership_conflict", CONFLICT;
    InviteUsed = "invite_used", CONFLICT;
    InviteExpired = "invite_expired", GONE;
    InviteCancelled = "invite_cancelled", GONE;
    NoSuchInvite = "no_such_invite", NOT_FOUND;
    MissingKeyBundles = "missing_key_bundles", BAD_REQUEST;
    StaleEpoch = "stale_epoch", CONFLICT;
    TooManyInvites = "too_many_invites", TOO_MANY_REQUESTS;
    TeamCreationRefused = "team_creation_refused", FORBIDDEN;
    PayloadTooLarge = "payload_too_large", PAYLOAD_TOO_LARGE;
    BatchTooLarge = "batch_too_large", PAYLOAD_TOO_LARGE;
    EnvelopeTooLarge = "envelope_too_large", PAYLOAD_TOO_LARGE;
    TeamQuotaExceeded = "team_quota_exceeded", PAYLOAD_TOO_LARGE;
    BadBatch = "bad_batch", BAD_REQUEST;
    BadSignature = "bad_signature", BAD_REQUEST;
    WrongAuthor = "wrong_author", BAD_REQUEST;
    WrongTeam = "wrong_team", BAD_REQUEST;
    StaleTimestamp = "stale_timestamp", BAD_REQUEST;
    RateLimited = "rate_limited", TOO_MANY_REQUESTS;
    TooManySockets = "too_many_sockets", TOO_MANY_REQUESTS;
    Timeout = "timeout", SERVICE_UNAVAILABLE;
    Unavailable = "unavailable", SERVICE_UNAVAILABLE;
    StorageFull = "storage_full", INSUFFICIENT_STORAGE;
    Internal = "internal", INTERNAL_SERVER_ERROR;
}

/// An error answer: `{"code": "…", "message": "…"}` with the code's status.
#[derive(Debug)]
pub struct ApiError {
    code: ErrorCode,
    /// A status other than the code's (`bad_signature` on a membership entry is 403).
    status: Option<StatusCode>,
    message: String,
    retry_after: Option<Duration>,
    /// For internal errors: what went wrong, for the log only.
    cause: Option<String>,
}

/// The message every internal error answers with.
pub const INTERNAL_MESSAGE: &str = "internal error";

/// The `Retry-After` of `507 storage_full`: room comes back when an operator makes it, not
/// in a second.
const STORAGE_FULL_RETRY: Duration = Duration::from_secs(30);

impl ApiError {
    /// An error with a code and a message for people (fields, indexes, sizes; no contents).
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError {
            code,
            status: None,
            message: message.into(),
            retry_after: None,
            cause: None,
        }
    }

    /// An internal error: `cause` is logged, a generic message is sent.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        ApiError {
            code: ErrorCode::Internal,
            status: None,
            message: INTERNAL_MESSAGE.to_owned(),
            retry_after: None,
            cause: Some(cause.to_string()),
        }
    }

    /// `401 unauthorized`.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Unauthorized, message)
    }

    /// `403 forbidden`.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Forbidden, message)
    }

    /// `403 revoked`: the calling device was a member of the team and was revoked. Told only
    /// to that device (it knows already: it was there), so that it can stop and say so.
    pub fn revoked(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Revoked, message)
    }

    /// `400 bad_request`.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::BadRequest, message)
    }

    /// `403 not_allowed`: an active member without the authority for this.
    pub fn not_allowed(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::NotAllowed, message)
    }

    /// Answers with `status` instead of the code's usual one.
    pub fn with_status(mut self, status: StatusCode) -> Self {
        self.status = Some(status);
        self
    }

    /// The HTTP status of the answer.
    pub fn status(&self) -> StatusCode {
        self.status.unwrap_or(self.code.status())
    }

    /// Adds a `Retry-After` header (whole seconds, rounded up).
    pub fn retry_after(mut self, after: Duration) -> Self {
        self.retry_after = Some(after);
        self
    }

    /// The code.
    pub fn code(&self) -> ErrorCode {
        self.code
    }

    /// The message for people.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.message)
    }
}

impl std::error::Error for ApiError {}

#[derive(serde::Serialize)]
struct Body<'a> {
    code: &'static str,
    message: &'a str,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let Some(cause) = &self.cause {
            // Inside the request span: the log line carries method, route and device.
            tracing::error!(code = self.code.as_str(), cause = %cause, "request failed");
        }
        let body = Body {
            code: self.code.as_str(),
            message: &self.message,
        };
        let mut response = (self.status(), axum::Json(body)).into_response();
        if let Some(after) = self.retry_after {
            let secs = after.as_secs() + u64::from(after.subsec_nanos() > 0);
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
        }
        // For the metrics middleware, which counts errors by code.
        response.extensions_mut().insert(self.code);
        response
    }
}

impl From<storage::Error> for ApiError {
    fn from(e: storage::Error) -> Self {
        use storage::Error as S;
        match e {
            S::TeamExists(_) => ApiError::new(ErrorCode::TeamExists, e.to_string()),
            S::DeviceKeyConflict(_) => ApiError::new(ErrorCode::DeviceKeyConflict, e.to_string()),
            S::MembershipConflict { .. } => ApiError::new(
                ErrorCode::MembershipConflict,
                format!("{e}: read the log again and sign the entry again"),
            ),
            S::StagingChanged(_) => ApiError::new(
                ErrorCode::MembershipConflict,
                format!("{e}: stage the bundles again and sign the entry again"),
            ),
            // Routes check membership first, so a missing team here is a race with nothing
            // (teams are never deleted) or a bug: do not tell the caller more than 403 would.
            S::NoSuchTeam(_) => ApiError::forbidden("not a member of this team"),
            // 413, not 507: sending the same push again cannot help until the operator
            // raises the quota, and clients retry 5xx answers.
            S::QuotaExceeded { .. } => ApiError::new(
                ErrorCode::TeamQuotaExceeded,
                format!("{e}: the relay's operator can raise the team's quota"),
            ),
            S::Closed => ApiError::new(ErrorCode::Unavailable, "the relay is shutting down")
                .retry_after(Duration::from_secs(1)),
            // 507: nothing of the request was stored, and the same request succeeds once the
            // operator has made room, so clients keep it and retry (they retry 5xx answers).
            // The cause (paths, SQL) goes to the log only.
            S::Full(cause) => {
                tracing::error!(cause = %cause, "the relay's disk is full: writes refused");
                ApiError::new(
                    ErrorCode::StorageFull,
                    "the relay's storage is full: nothing of this request was stored; \
                     try again later",
                )
                .retry_after(STORAGE_FULL_RETRY)
            }
            S::Backend(_) => ApiError::internal(e),
        }
    }
}

/// The answer to a membership entry that does not decode, verify or fold.
pub fn entry_error(e: holdfast_protocol::Error) -> ApiError {
    use holdfast_protocol::{Error as P, Refusal};
    match &e {
        P::Refused(Refusal::NotAllowed(_)) => ApiError::not_allowed(e.to_string()),
        P::Refused(Refusal::InviteUsed) => ApiError::new(ErrorCode::InviteUsed, e.to_string()),
        P::Refused(Refusal::InviteExpired) => {
            ApiError::new(ErrorCode::InviteExpired, e.to_string())
        }
        P::Refused(Refusal::InviteCancelled) => {
            ApiError::new(ErrorCode::InviteCancelled, e.to_string())
        }
        P::Refused(Refusal::NoSuchInvite) => ApiError::new(ErrorCode::NoSuchInvite, e.to_string()),
        P::Refused(_) => ApiError::new(ErrorCode::MembershipConflict, e.to_string()),
        P::BadSignature => ApiError::new(
            ErrorCode::BadSignature,
            "the membership entry's signature does not verify",
        )
        .with_status(StatusCode::FORBIDDEN),
        _ => ApiError::bad_request(format!("membership entry: {e}")),
    }
}

impl From<holdfast_protocol::Error> for ApiError {
    fn from(e: holdfast_protocol::Error) -> Self {
        ApiError::new(protocol_code(&e), e.to_string())
    }
}

/// The code for a protocol error, looking through "envelope N:" wrappers.
fn protocol_code(e: &holdfast_protocol::Error) -> ErrorCode {
    use holdfast_protocol::Error as P;
    match e {
        P::AtIndex { source, .. } => protocol_code(source),
        P::BadSignature => ErrorCode::BadSignature,
        P::WrongAuthor { .. } => ErrorCode::WrongAuthor,
        P::WrongTeam { .. } => ErrorCode::WrongTeam,
        P::BatchTooLarge { .. } => ErrorCode::BatchTooLarge,
        P::TooManyBytes { .. } => ErrorCode::PayloadTooLarge,
        P::InvalidId { .. } | P::BadOrigin { .. } => ErrorCode::BadRequest,
        P::Random | P::KeyRejected => ErrorCode::Internal,
        _ => ErrorCode::BadBatch,
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            too_large()
        } else {
            ApiError::bad_request(rejection.body_text())
        }
    }
}

fn too_large() -> ApiError {
    ApiError::new(
        ErrorCode::PayloadTooLarge,
        "request body is over the relay's limit",
    )
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        ApiError::bad_request(rejection.body_text())
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        ApiError::bad_request(rejection.body_text())
    }
}

impl From<BytesRejection> for ApiError {
    fn from(rejection: BytesRejection) -> Self {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                ErrorCode::PayloadTooLarge,
                "request body is over the relay's limit",
            )
        } else {
            ApiError::bad_request(rejection.body_text())
        }
    }
}

impl From<WebSocketUpgradeRejection> for ApiError {
    fn from(rejection: WebSocketUpgradeRejection) -> Self {
        ApiError::bad_request(rejection.body_text())
    }
}

impl From<tokio::task::JoinError> for ApiError {
    fn from(e: tokio::task::JoinError) -> Self {
        ApiError::internal(format!("task failed: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_indexed_in_order() {
        let mut seen = std::collections::HashSet::new();
        for (i, code) in ErrorCode::ALL.iter().enumerate() {
            assert_eq!(code.index(), i);
            assert!(seen.insert(code.as_str()), "{} twice", code.as_str());
        }
    }

    #[tokio::test]
    async fn an_internal_error_sends_nothing_of_its_cause() {
        let response =
            ApiError::internal("sqlite: disk I/O error at /srv/secret/relay.db").into_response();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = axum::body::to_bytes(response.into_body(), 1024)
            .await
            .unwrap();
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"code": "internal", "message": "internal error"})
        );
    }

    #[tokio::test]
    async fn a_full_disk_is_507_storage_full_and_sends_nothing_of_its_cause() {
        let full = storage::Error::Full("sqlite: database or disk is full at /srv/relay.db".into());
        let response = ApiError::from(full).into_response();
        assert_eq!(response.status(), StatusCode::INSUFFICIENT_STORAGE);
        assert_eq!(response.headers()[header::RETRY_AFTER], "30");
        let body = axum::body::to_bytes(response.into_body(), 1024)
            .await
            .unwrap();
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["code"], "storage_full");
        let message = body["message"].as_str().unwrap();
        assert!(
            message.contains("nothing of this request was stored"),
            "{message}"
        );
        assert!(!message.contains("/srv"), "{message}");
    }

    #[test]
    fn protocol_errors_map_through_their_index() {
        let wrapped = holdfast_protocol::PushBatchRef::decode(&[0u8; 10]).unwrap_err();
        assert_eq!(ApiError::from(wrapped).code(), ErrorCode::BadBatch);
        assert_eq!(
            ApiError::from(holdfast_protocol::Error::BadSignature).code(),
            ErrorCode::BadSignature
        );
    }
}
