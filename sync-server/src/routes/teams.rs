//! Teams and their rosters: `POST /v1/teams` (a genesis entry), `GET /v1/teams/{team}`,
//! `GET /v1/teams/{team}/devices` (staff only).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use holdfast_protocol::{DeviceId, DocumentId, Entry, Membership, Op, PUBLIC_KEY_LEN, TeamId};
use serde::{Deserialize, Serialize};

use super::json::{ApiJson, Hex, HexBytes};
use crate::address::ClientAddress;
use crate::auth::TeamMember;
use crate::error::{ApiError, ErrorCode, entry_error};
use crate::limits::check_fresh;
use crate::membership::{LogEntry, TeamLog};
use crate::state::AppState;
use crate::storage::{NewTeam, Role, Storage};

/// `POST /v1/teams`: `{"genesis": "<hex entry>", "creation_token": "<token>"}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateTeam {
    /// The team's genesis entry (`HFM1`, op Genesis), signed by the creating device.
    pub genesis: HexBytes,
    /// A team-creation token from the relay's operator (needed unless creation is open).
    #[serde(default)]
    pub creation_token: Option<String>,
}

impl std::fmt::Debug for CreateTeam {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreateTeam")
            .field("genesis", &self.genesis)
            .field(
                "creation_token",
                &self.creation_token.as_ref().map(|_| ".."),
            )
            .finish()
    }
}

/// A team as its members see it.
#[derive(Debug, Serialize)]
pub struct TeamView {
    /// The team.
    pub team: TeamId,
    /// Its latest envelope sequence number.
    pub head: u64,
    /// The asking device.
    pub device: DeviceId,
    /// The asking device's role.
    pub role: Role,
    /// The team's key epoch.
    pub epoch: u32,
    /// Entries in its membership log.
    pub membership_len: u64,
}

/// A roster entry.
#[derive(Debug, Serialize)]
pub struct DeviceView {
    /// The device.
    pub device: DeviceId,
    /// Its Ed25519 public key (to verify its envelopes with).
    pub public_key: Hex<PUBLIC_KEY_LEN>,
    /// Its HPKE public key (to wrap keys to).
    pub hpke_key: HexBytes,
    /// Its role.
    pub role: Role,
    /// For a patient, its plan.
    pub plan: Option<DocumentId>,
    /// When it joined (the entry's time), in ms since the Unix epoch.
    pub added_at: u64,
    /// The device that enrolled it.
    pub added_by: DeviceId,
    /// When it was revoked, or null.
    pub revoked_at: Option<u64>,
}

/// `{"devices": [...]}`
#[derive(Debug, Serialize)]
pub struct Roster {
    /// Every device ever enrolled, revoked ones included, in the order they joined.
    pub devices: Vec<DeviceView>,
}

/// Creates a team from its genesis entry. No device token: the device is not on any roster
/// yet; the entry's signature proves it holds the key it registers, and its time must be
/// fresh. The relay's operator decides who may (a team-creation token, unless creation is
/// open: `403 team_creation_refused`). Limited per client address (every attempt counts,
/// refused ones too).
pub async fn create<S: Storage>(
    State(state): State<AppState<S>>,
    from: ClientAddress,
    request: Result<ApiJson<CreateTeam>, ApiError>,
) -> Result<(StatusCode, Json<TeamView>), ApiError> {
    state.limit_address(from, "requests")?;
    state.limit_team_creation(from)?;
    let ApiJson(request) = request?;
    state
        .team_creation()
        .check(request.creation_token.as_deref())
        .map_err(|e| ApiError::new(ErrorCode::TeamCreationRefused, e.to_string()))?;
    let entry = Entry::decode(&request.genesis.0).map_err(entry_error)?;
    let Op::Genesis {
        device,
        sign_key,
        hpke_key,
        ..
    } = &entry.op
    else {
        return Err(ApiError::bad_request("a team starts with a genesis entry"));
    };
    tracing::Span::current().record("device", tracing::field::display(device));
    let now = state.now_ms();
    check_fresh(
        "genesis entry",
        entry.at_ms,
        now,
        state.limits().max_clock_skew(),
    )?;
    let mut membership = Membership::new(entry.team);
    membership.apply(&entry).map_err(entry_error)?;
    state
        .storage()
        .create_team(NewTeam {
            team: entry.team,
            genesis: entry.as_bytes().to_vec(),
            admin: *device,
            public_key: *sign_key,
            hpke_key: hpke_key.as_bytes().to_vec(),
            at_ms: entry.at_ms,
        })
        .await?;
    let log = TeamLog {
        state: membership,
        entries: imbl::Vector::unit(LogEntry::new(&entry, None)),
    };
    state.members().put(entry.team, log);
    tracing::info!(team = %entry.team, device = %device, "team created");
    Ok((
        StatusCode::CREATED,
        Json(TeamView {
            team: entry.team,
            head: 0,
            device: *device,
            role: Role::Admin,
            epoch: 1,
            membership_len: 1,
        }),
    ))
}

/// The team's head, epoch and log length, and the caller's role. A patient's device is told
/// its plan's head and the log as it sees it, not when the team writes or enrols.
pub async fn show<S: Storage>(
    State(state): State<AppState<S>>,
    member: TeamMember,
) -> Result<Json<TeamView>, ApiError> {
    let staff = member.is_staff();
    let head = match (staff, member.plan) {
        (false, Some(plan)) => state.storage().document_head(member.team, plan).await?,
        (false, None) => 0,
        (true, _) => state.storage().head(member.team).await?.unwrap_or(0),
    };
    Ok(Json(TeamView {
        team: member.team,
        head,
        device: member.device,
        role: member.role,
        epoch: member.log.state.epoch,
        membership_len: member.log.len_shown(staff, member.invite.map(|i| i.0)),
    }))
}

/// The roster, for staff (a patient device is never told about other devices).
pub async fn devices(member: TeamMember) -> Result<Json<Roster>, ApiError> {
    member.require_staff("read the roster")?;
    let mut devices: Vec<DeviceView> = member
        .log
        .state
        .devices
        .values()
        .map(|m| DeviceView {
            device: m.device,
            public_key: Hex(m.sign_key),
            hpke_key: HexBytes(m.hpke_key.as_bytes().to_vec()),
            role: m.role,
            plan: m.plan,
            added_at: m.added_at_ms,
            added_by: m.added_by,
            revoked_at: m.revoked_at_ms,
        })
        .collect();
    devices.sort_by_key(|d| (d.added_at, d.device));
    Ok(Json(Roster { devices }))
}
