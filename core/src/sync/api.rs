//! The relay's JSON bodies, exactly as docs/PROTOCOL.md ("HTTP and WebSocket API (v1)")
//! gives them, and the checks that turn them into typed values. Nothing from the network is
//! trusted: every id and key is parsed with its length checked.

use serde::{Deserialize, Serialize};

use holdfast_protocol::SIGNATURE_LEN;

use crate::{Error, Result};

#[derive(Debug, Serialize)]
pub(crate) struct ChallengeRequest {
    pub device: String,
}

#[derive(Debug, Deserialize)]
pub(crate) struct ChallengeResponse {
    pub challenge: String,
}

#[derive(Debug, Serialize)]
pub(crate) struct TokenRequest {
    pub device: String,
    pub challenge: String,
    pub signature: String,
}

#[derive(Deserialize)]
pub(crate) struct TokenResponse {
    pub token: String,
    pub expires_in: u64,
}

#[derive(Debug, Deserialize)]
pub(crate) struct PushResponse {
    pub results: Vec<PushResult>,
    pub head: u64,
}

#[derive(Debug, Deserialize)]
pub(crate) struct PushResult {
    pub id: String,
    pub seq: u64,
    #[allow(dead_code)]
    pub duplicate: bool,
}

/// `{"head": N, …}` from `GET /v1/teams/{team}`.
#[derive(Debug, Deserialize)]
pub(crate) struct TeamHead {
    pub head: u64,
}

/// A live-socket frame: `{"seq": N}`, the team's head (a patient's device: its plan's).
#[derive(Debug, Deserialize)]
pub(crate) struct LiveFrame {
    pub seq: u64,
}

#[derive(Debug, Deserialize)]
pub(crate) struct ErrorBody {
    pub code: String,
    pub message: String,
}

/// A response the relay should never send.
pub(crate) fn bad_response(what: &str) -> Error {
    Error::Relay {
        status: 200,
        code: "bad_response".into(),
        message: format!("unexpected {what} from the relay"),
    }
}

/// The code of an answer longer than the device accepts (4 MiB of JSON): the device asks
/// for a smaller page before it gives up.
pub(crate) const OVERSIZED: &str = "oversized_answer";

/// An answer longer than the device accepts.
pub(crate) fn oversized(limit: usize) -> Error {
    Error::Relay {
        status: 200,
        code: OVERSIZED.into(),
        message: format!("the relay's answer is longer than the {limit} bytes this device accepts"),
    }
}

/// Whether `e` is [`oversized`].
pub(crate) fn is_oversized(e: &Error) -> bool {
    matches!(e, Error::Relay { code, .. } if code == OVERSIZED)
}

/// Exactly `N` bytes from hex, or a typed error naming `what`.
pub(crate) fn hex_array<const N: usize>(text: &str, what: &str) -> Result<[u8; N]> {
    let mut out = [0u8; N];
    hex::decode_to_slice(text, &mut out).map_err(|_| bad_response(what))?;
    Ok(out)
}

/// Signature bytes as lowercase hex.
pub(crate) fn signature_hex(signature: &[u8; SIGNATURE_LEN]) -> String {
    hex::encode(signature)
}

/// `GET /v1/teams/{team}/envelopes/ids`: the hex id at each asked number, or null.
#[derive(Debug, Deserialize)]
pub(crate) struct IdsResponse {
    pub ids: Vec<Option<String>>,
}
