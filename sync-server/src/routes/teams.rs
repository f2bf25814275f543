//! Teams and their rosters: `POST /v1/teams`, `GET /v1/teams/{team}`,
//! `GET|POST /v1/teams/{team}/devices`, `DELETE /v1/teams/{team}/devices/{device}`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use holdfast_protocol::{DeviceId, PUBLIC_KEY_LEN, SIGNATURE_LEN, TeamId};
use serde::{Deserialize, Serialize};

use super::json::{ApiJson, Hex};
use crate::auth::{TeamMember, team_creation_message};
use crate::error::{ApiError, ErrorCode};
use crate::limits::check_fresh;
use crate::state::AppState;
use crate::storage::{Device, NewDevice, NewTeam, Role, Storage};

/// `POST /v1/teams`: a device creates a team and becomes its first admin.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateTeam {
    /// The new team's id (16 random bytes, chosen by the device).
    pub team: TeamId,
    /// The creating device.
    pub device: DeviceId,
    /// Its Ed25519 public key.
    pub public_key: Hex<PUBLIC_KEY_LEN>,
    /// When it signed, in ms since the Unix epoch (must be within the clock-skew window).
    pub timestamp: u64,
    /// Its signature over [`team_creation_message`].
    pub signature: Hex<SIGNATURE_LEN>,
}

/// A team as its members see it.
#[derive(Debug, Serialize)]
pub struct TeamView {
    /// The team.
    pub team: TeamId,
    /// Its latest sequence number.
    pub head: u64,
    /// The asking device.
    pub device: DeviceId,
    /// The asking device's role.
    pub role: Role,
}

/// A roster entry.
#[derive(Debug, Serialize)]
pub struct DeviceView {
    /// The device.
    pub device: DeviceId,
    /// Its Ed25519 public key (to verify its envelopes with).
    pub public_key: Hex<PUBLIC_KEY_LEN>,
    /// Its role.
    pub role: Role,
    /// When it was added, in ms since the Unix epoch.
    pub added_at: u64,
    /// The admin that added it.
    pub added_by: DeviceId,
    /// When it was revoked, or null.
    pub revoked_at: Option<u64>,
}

impl From<Device> for DeviceView {
    fn from(d: Device) -> Self {
        DeviceView {
            device: d.device,
            public_key: Hex(d.public_key),
            role: d.role,
            added_at: d.added_at_ms,
            added_by: d.added_by,
            revoked_at: d.revoked_at_ms,
        }
    }
}

/// `{"devices": [...]}`
#[derive(Debug, Serialize)]
pub struct Roster {
    /// Every device ever added, revoked ones included, in the order they were added.
    pub devices: Vec<DeviceView>,
}

/// `POST /v1/teams/{team}/devices`: an admin adds a device.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddDevice {
    /// The device.
    pub device: DeviceId,
    /// Its Ed25519 public key.
    pub public_key: Hex<PUBLIC_KEY_LEN>,
    /// Its role.
    pub role: Role,
}

/// Creates a team. No token: the device is not on any roster yet. It proves it holds the
/// key it registers by signing the request, bound to this relay and to the time.
pub async fn create<S: Storage>(
    State(state): State<AppState<S>>,
    ApiJson(request): ApiJson<CreateTeam>,
) -> Result<(StatusCode, Json<TeamView>), ApiError> {
    tracing::Span::current().record("device", tracing::field::display(request.device));
    state.rate_limit(request.device)?;
    let now = crate::now_ms();
    check_fresh(
        "team creation",
        request.timestamp,
        now,
        state.limits().max_clock_skew(),
    )?;
    let message = team_creation_message(
        state.origin(),
        &request.team,
        &request.device,
        &request.public_key.0,
        request.timestamp,
    )?;
    holdfast_protocol::verify_signature(&request.public_key.0, &message, &request.signature.0)
        .map_err(|_| {
            ApiError::new(
                ErrorCode::BadSignature,
                "team creation signature does not verify",
            )
        })?;
    state
        .storage()
        .create_team(NewTeam {
            team: request.team,
            admin: request.device,
            public_key: request.public_key.0,
            at_ms: now,
        })
        .await?;
    state.members().invalidate_team(request.team);
    tracing::info!(team = %request.team, "team created");
    Ok((
        StatusCode::CREATED,
        Json(TeamView {
            team: request.team,
            head: 0,
            device: request.device,
            role: Role::Admin,
        }),
    ))
}

/// The team's head and the caller's role.
pub async fn show<S: Storage>(
    State(state): State<AppState<S>>,
    member: TeamMember,
) -> Result<Json<TeamView>, ApiError> {
    let head = state.storage().head(member.team).await?.unwrap_or(0);
    Ok(Json(TeamView {
        team: member.team,
        head,
        device: member.device,
        role: member.role,
    }))
}

/// The roster: every member may read it (devices verify envelopes with these keys).
pub async fn devices<S: Storage>(
    State(state): State<AppState<S>>,
    member: TeamMember,
) -> Result<Json<Roster>, ApiError> {
    let devices = state.storage().devices(member.team).await?;
    Ok(Json(Roster {
        devices: devices.into_iter().map(DeviceView::from).collect(),
    }))
}

fn require_admin(member: &TeamMember) -> Result<(), ApiError> {
    if member.role == Role::Admin {
        Ok(())
    } else {
        Err(ApiError::forbidden(format!(
            "only an admin of team {} changes its roster",
            member.team
        )))
    }
}

/// An admin adds a device.
pub async fn add_device<S: Storage>(
    State(state): State<AppState<S>>,
    member: TeamMember,
    ApiJson(request): ApiJson<AddDevice>,
) -> Result<(StatusCode, Json<DeviceView>), ApiError> {
    require_admin(&member)?;
    let added = state
        .storage()
        .add_device(
            member.team,
            NewDevice {
                device: request.device,
                public_key: request.public_key.0,
                role: request.role,
                added_by: member.device,
                at_ms: crate::now_ms(),
            },
        )
        .await?;
    state.members().invalidate_team(member.team);
    tracing::info!(team = %member.team, added = %request.device, role = %request.role, "device added");
    Ok((StatusCode::CREATED, Json(added.into())))
}

#[derive(Deserialize)]
pub struct DeviceParam {
    device: DeviceId,
}

/// An admin revokes a device: from now on it is refused on every route of the team.
pub async fn revoke_device<S: Storage>(
    State(state): State<AppState<S>>,
    member: TeamMember,
    path: Result<Path<DeviceParam>, axum::extract::rejection::PathRejection>,
) -> Result<Json<DeviceView>, ApiError> {
    require_admin(&member)?;
    let Path(DeviceParam { device }) = path?;
    let revoked = state
        .storage()
        .revoke_device(member.team, device, crate::now_ms())
        .await?;
    state.members().invalidate_team(member.team);
    tracing::info!(team = %member.team, revoked = %device, "device revoked");
    Ok(Json(revoked.into()))
}
