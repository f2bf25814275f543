//! The relay's JSON bodies (docs/PROTOCOL.md, "HTTP and WebSocket API (v1)"), and the
//! checks that turn them into typed values. Nothing from the network is trusted: every id
//! and key is parsed with its length checked.
//!
//! Where the relay as built differs from that section, this follows the relay, and reads
//! both shapes where it can: the challenge request names the device (`{"device"}`); the
//! team-creation signature binds the relay's origin (`b"holdfast-team-v1"`, see
//! [`team_create_message`]); `compact=true`; the head comes from `GET /v1/teams/{team}`;
//! live frames say `{"seq": N}` (`{"head": N}` is read too); a push answer may omit `head`.

use serde::{Deserialize, Serialize};

use holdfast_protocol::{PUBLIC_KEY_LEN, SIGNATURE_LEN};

use crate::model::ids::{DeviceId, TeamId};
use crate::{Error, Result};

/// Domain separation of the self-signed team creation request.
pub(crate) const TEAM_CREATE_CONTEXT: &[u8] = b"holdfast-team-v1";

/// A device's role in a team, as the relay records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Registers and (next issue) revokes devices.
    Admin,
    /// Reads and writes the team's documents.
    Member,
}

/// A device registered in a team.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisteredDevice {
    /// The device.
    pub device: DeviceId,
    /// Its Ed25519 public key.
    pub public_key: [u8; PUBLIC_KEY_LEN],
    /// Its role.
    pub role: Role,
}

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

#[derive(Debug, Serialize)]
pub(crate) struct CreateTeamRequest {
    pub team: String,
    pub device: String,
    pub public_key: String,
    pub timestamp: u64,
    pub signature: String,
}

#[derive(Debug, Serialize)]
pub(crate) struct AddDeviceRequest {
    pub device: String,
    pub public_key: String,
    pub role: Role,
}

#[derive(Debug, Deserialize)]
pub(crate) struct DeviceList {
    pub devices: Vec<DeviceEntry>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct DeviceEntry {
    pub device: String,
    pub public_key: String,
    pub role: Role,
}

#[derive(Debug, Deserialize)]
pub(crate) struct PushResponse {
    pub results: Vec<PushResult>,
    #[serde(default)]
    pub head: Option<u64>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct PushResult {
    pub id: String,
    #[allow(dead_code)]
    pub seq: u64,
    #[allow(dead_code)]
    pub duplicate: bool,
}

/// `{"head": N}` from `GET /v1/teams/{team}`; on the live socket `{"seq": N}` or `{"head": N}`.
#[derive(Debug, Deserialize)]
pub(crate) struct HeadMessage {
    #[serde(alias = "seq")]
    pub head: u64,
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

/// Exactly `N` bytes from hex, or a typed error naming `what`.
pub(crate) fn hex_array<const N: usize>(text: &str, what: &str) -> Result<[u8; N]> {
    let mut out = [0u8; N];
    hex::decode_to_slice(text, &mut out).map_err(|_| bad_response(what))?;
    Ok(out)
}

impl DeviceEntry {
    /// The entry with its id and key checked.
    pub(crate) fn parse(&self) -> Result<RegisteredDevice> {
        Ok(RegisteredDevice {
            device: DeviceId(hex_array::<16>(&self.device, "device id")?),
            public_key: hex_array::<PUBLIC_KEY_LEN>(&self.public_key, "public key")?,
            role: self.role,
        })
    }
}

/// The message a device signs to create `team` at the relay at `origin`:
/// `b"holdfast-team-v1" || u16 origin length || origin || team || device || public key ||
/// timestamp (u64 ms BE)`. Binding the origin makes the request useless at another relay.
pub(crate) fn team_create_message(
    origin: &str,
    team: TeamId,
    device: DeviceId,
    public_key: &[u8; PUBLIC_KEY_LEN],
    timestamp_ms: u64,
) -> Result<Vec<u8>> {
    let len = u16::try_from(origin.len())
        .ok()
        .filter(|n| *n > 0)
        .ok_or(Error::InvalidInput {
            field: "relay URL",
            reason: "origin too long".into(),
        })?;
    let mut m = Vec::with_capacity(TEAM_CREATE_CONTEXT.len() + 2 + origin.len() + 72);
    m.extend_from_slice(TEAM_CREATE_CONTEXT);
    m.extend_from_slice(&len.to_be_bytes());
    m.extend_from_slice(origin.as_bytes());
    m.extend_from_slice(team.as_bytes());
    m.extend_from_slice(device.as_bytes());
    m.extend_from_slice(public_key);
    m.extend_from_slice(&timestamp_ms.to_be_bytes());
    Ok(m)
}

/// Signature bytes as lowercase hex.
pub(crate) fn signature_hex(signature: &[u8; SIGNATURE_LEN]) -> String {
    hex::encode(signature)
}
