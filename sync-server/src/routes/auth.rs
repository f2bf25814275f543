//! Login: `POST /v1/auth/challenge` and `POST /v1/auth/token`.

use axum::Json;
use axum::extract::State;
use holdfast_protocol::{CHALLENGE_LEN, DeviceId, SIGNATURE_LEN};
use serde::{Deserialize, Serialize};

use super::json::{ApiJson, Hex};
use crate::address::ClientAddress;
use crate::auth::ChallengeError;
use crate::error::ApiError;
use crate::state::AppState;
use crate::storage::Storage;

/// `{"device": "<id>"}`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChallengeRequest {
    /// The device that wants to log in.
    pub device: DeviceId,
}

/// `{"challenge": "<32 bytes hex>", "expires_in": <s>}`
#[derive(Debug, Serialize)]
pub struct ChallengeResponse {
    /// Sign this with `holdfast_protocol::sign_auth`.
    pub challenge: Hex<CHALLENGE_LEN>,
    /// Seconds it may be answered in.
    pub expires_in: u64,
}

/// A challenge for any well-formed device id: whether the device is known is only
/// checked when it answers, so this route reveals nothing about rosters. Limited per client
/// address, not per the device named (anyone can name any device).
pub async fn challenge<S: Storage>(
    State(state): State<AppState<S>>,
    from: ClientAddress,
    request: Result<ApiJson<ChallengeRequest>, ApiError>,
) -> Result<Json<ChallengeResponse>, ApiError> {
    state.limit_address(from, "login requests")?;
    let ApiJson(request) = request?;
    tracing::Span::current().record("device", tracing::field::display(request.device));
    let issued = state
        .challenges()
        .issue(request.device, from.key(), state.rng())
        .map_err(|e| match e {
            ChallengeError::Random => ApiError::internal(e),
        })?;
    if issued.replaced {
        state.metrics().challenges_replaced.inc();
    }
    if state.storage().shares_database() {
        // Any relay of the database may be asked for the answer (behind a load balancer).
        state
            .storage()
            .record_challenge(
                issued.challenge,
                request.device,
                issued.replaced_challenge,
                ttl_ms(&state),
            )
            .await?;
    }
    Ok(Json(ChallengeResponse {
        challenge: Hex(issued.challenge),
        expires_in: state.challenges().ttl().as_secs(),
    }))
}

/// `{"device": "<id>", "challenge": "<hex>", "signature": "<64 bytes hex>"}`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    /// The device logging in.
    pub device: DeviceId,
    /// The challenge it was given.
    pub challenge: Hex<CHALLENGE_LEN>,
    /// Its signature over `holdfast_protocol::auth_message(origin, device, challenge)`.
    pub signature: Hex<SIGNATURE_LEN>,
}

/// `{"token": "<opaque>", "expires_in": <s>}`
#[derive(Debug, Serialize)]
pub struct TokenResponse {
    /// Send as `Authorization: Bearer <token>`.
    pub token: String,
    /// Seconds it stays valid.
    pub expires_in: u64,
}

/// Trades a signed challenge for a bearer token. Every failure (unknown, expired or used
/// challenge, unknown or revoked device, bad signature) is the same `401`, so the answer
/// reveals nothing about rosters. Limited per client address.
pub async fn token<S: Storage>(
    State(state): State<AppState<S>>,
    from: ClientAddress,
    request: Result<ApiJson<TokenRequest>, ApiError>,
) -> Result<Json<TokenResponse>, ApiError> {
    state.limit_address(from, "login requests")?;
    let ApiJson(request) = request?;
    let device = request.device;
    tracing::Span::current().record("device", tracing::field::display(device));
    let refused = || {
        ApiError::unauthorized("login refused: unknown device, or bad, expired or used challenge")
    };
    let redeemed = if state.storage().shares_database() {
        let recorded = state
            .storage()
            .take_challenge(request.challenge.0, ttl_ms(&state))
            .await?;
        state
            .challenges()
            .redeem_recorded(&request.challenge.0, recorded, device)
    } else {
        state.challenges().redeem(&request.challenge.0, device)
    };
    if !redeemed {
        return Err(refused());
    }
    let public_key = state
        .storage()
        .device_key(device)
        .await?
        .ok_or_else(refused)?;
    holdfast_protocol::verify_auth(
        &public_key,
        state.origin(),
        &device,
        &request.challenge.0,
        &request.signature.0,
    )
    .map_err(|_| refused())?;
    let ttl = state.limits().token_ttl();
    let expires_ms = state
        .now_ms()
        .saturating_add(u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX));
    state.metrics().logins.inc();
    tracing::info!("device logged in");
    Ok(Json(TokenResponse {
        token: state.tokens().issue(device, expires_ms),
        expires_in: ttl.as_secs(),
    }))
}

/// The login challenge lifetime in ms.
fn ttl_ms<S: Storage>(state: &AppState<S>) -> u64 {
    u64::try_from(state.challenges().ttl().as_millis()).unwrap_or(u64::MAX)
}
