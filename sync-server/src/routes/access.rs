//! The membership log, invites and key bundles:
//! `GET|POST /v1/teams/{team}/membership`, `GET /v1/teams/{team}/invites/{invite}`,
//! `POST /v1/teams/{team}/invites/{invite}/redeem`, `GET /v1/teams/{team}/keys`,
//! `POST /v1/teams/{team}/keys/{staged,ack,private-notes}`.
//!
//! The relay runs the same fold as devices ([`holdfast_protocol::Membership`]) with its own
//! clock for invite expiry, so it refuses what devices would refuse. An entry is appended
//! with its roster change, the team's new epoch and its key bundles in one transaction,
//! against the log length it was checked with (a concurrent append makes it a
//! `membership_conflict`); the cached log is replaced before the request is answered, so a
//! revocation shuts the device out at once.

use std::collections::HashSet;

use axum::Json;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use holdfast_protocol::{
    Applied, DeviceId, Entry, InviteId, KeyBundle, Membership, Op, PUBLIC_KEY_LEN, SIGNATURE_LEN,
    TeamId,
};
use serde::{Deserialize, Serialize};

use super::json::{ApiJson, Hex, HexBytes};
use crate::address::ClientAddress;
use crate::auth::TeamMember;
use crate::error::{ApiError, ErrorCode, entry_error};
use crate::limits::check_fresh;
use crate::membership::{LogEntry, TeamLog};
use crate::state::AppState;
use crate::storage::{self, Device, MembershipAppend, NewBundle, Role, RosterChange, Storage};

/// Most key bundles in one request.
pub const MAX_BUNDLES: usize = holdfast_protocol::MAX_BUNDLES_PER_REQUEST;
/// Default and largest page of `GET /keys`.
pub const DEFAULT_KEYS_LIMIT: usize = 100;
/// Largest page of `GET /keys`.
pub const MAX_KEYS_LIMIT: usize = 1_000;
/// Attempts of a redeem against a log that keeps growing under it.
const REDEEM_ATTEMPTS: usize = 5;

/// Default and largest number of entries in one page of `GET /membership`.
pub const DEFAULT_LOG_LIMIT: usize = 500;
/// Largest page of `GET /membership`.
pub const MAX_LOG_LIMIT: usize = 1_000;
/// Entry bytes (before hex) in one page of `GET /membership` or `GET /keys`, beyond the
/// first item: a page stays well under what a device accepts (4 MiB of JSON).
pub const MAX_PAGE_ITEM_BYTES: usize = 1024 * 1024;

/// `?from=N&limit=M`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogQuery {
    /// Entries with a sequence number of at least this (default 0).
    #[serde(default)]
    pub from: u64,
    /// At most this many entries (default 500, at most 1,000).
    pub limit: Option<usize>,
}

/// One entry of the log.
#[derive(Debug, Serialize)]
pub struct LogItem {
    /// Its sequence number (0 is the genesis).
    pub seq: u64,
    /// The encoded entry.
    pub entry: HexBytes,
}

/// `{"entries": [...], "len": N, "more": bool}`
#[derive(Debug, Serialize)]
pub struct LogView {
    /// Entries from `from` on, in order, at most `limit` and about 1 MiB of them (for a
    /// patient, without those about other patients).
    pub entries: Vec<LogItem>,
    /// Staff: the log's whole length. A patient: one past the last entry it may see (it is
    /// not told how many enrolments of other patients follow).
    pub len: u64,
    /// More entries follow this page: ask again from one past its last.
    pub more: bool,
}

/// The log, from `from`, a page at a time. A patient is not shown entries about other
/// patients.
pub async fn log(
    member: TeamMember,
    query: Result<Query<LogQuery>, QueryRejection>,
) -> Result<Json<LogView>, ApiError> {
    let Query(query) = query?;
    let limit = match query.limit {
        Some(0) => return Err(ApiError::bad_request("limit must be at least 1")),
        Some(limit) => limit.min(MAX_LOG_LIMIT),
        None => DEFAULT_LOG_LIMIT,
    };
    let own = member.invite.map(|i| i.0);
    let staff = member.is_staff();
    let from = usize::try_from(query.from)
        .unwrap_or(usize::MAX)
        .min(member.log.entries.len());
    // The entries from `from` on, found in O(log n) (the log is a persistent vector: an
    // iterator's `skip` would walk every entry before them).
    let after = member.log.entries.skip(from);
    let mut shown = after
        .iter()
        .enumerate()
        .map(|(i, e)| (from.saturating_add(i), e))
        .filter(|(_, e)| TeamLog::shows(e, staff, own));
    let mut entries = Vec::new();
    let mut bytes = 0usize;
    let mut more = false;
    for (seq, e) in shown.by_ref() {
        if entries.len() == limit
            || (!entries.is_empty() && bytes + e.bytes.len() > MAX_PAGE_ITEM_BYTES)
        {
            more = true;
            break;
        }
        bytes += e.bytes.len();
        entries.push(LogItem {
            seq: u64::try_from(seq).unwrap_or(u64::MAX),
            entry: HexBytes(e.bytes.to_vec()),
        });
    }
    let len = member.log.len_shown(staff, own).max(query.from);
    Ok(Json(LogView { entries, len, more }))
}

/// `POST /membership`: `{"entry", "bundles", "expected_len"}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppendRequest {
    /// The entry, signed by the calling device.
    pub entry: HexBytes,
    /// Key bundles that go with it (a Revoke's bundles for the new epoch; an Invite's bundle
    /// for the invite).
    #[serde(default)]
    pub bundles: Vec<HexBytes>,
    /// The log length the device signed against.
    pub expected_len: u64,
}

/// `201 {"seq", "epoch", "membership_len"}`
#[derive(Debug, Serialize)]
pub struct Appended {
    /// The entry's sequence number.
    pub seq: u64,
    /// The team's key epoch now.
    pub epoch: u32,
    /// The log's length now.
    pub membership_len: u64,
}

/// How many keys a bundle may carry, and what they are (for the refusal's message).
#[derive(Debug, Clone, Copy)]
struct MostKeys {
    keys: usize,
    of: &'static str,
}

impl MostKeys {
    /// One key per epoch: an epoch key for staff, the plan's key for a patient.
    fn epochs(epochs: u32) -> Self {
        MostKeys {
            keys: usize::try_from(epochs).unwrap_or(usize::MAX),
            of: "the team's epochs",
        }
    }
}

/// Decodes and checks key bundles sent by `sender` (key `sender_key`) to team `team`: each
/// must be for an active device of `state` or an invite `state` knows, at most one per
/// recipient, and no longer than a bundle of `most` keys.
fn check_bundles(
    team: TeamId,
    sender: DeviceId,
    sender_key: &[u8; PUBLIC_KEY_LEN],
    state: &Membership,
    most: MostKeys,
    bundles: &[HexBytes],
) -> Result<Vec<NewBundle>, ApiError> {
    if bundles.len() > MAX_BUNDLES {
        return Err(ApiError::new(
            ErrorCode::PayloadTooLarge,
            format!(
                "{} key bundles, more than the {MAX_BUNDLES} a request may carry",
                bundles.len()
            ),
        ));
    }
    // Anything longer than the keys a bundle can need is junk dressed as keys.
    let longest = holdfast_protocol::max_bundle_len(most.keys);
    let mut recipients = HashSet::with_capacity(bundles.len());
    bundles
        .iter()
        .enumerate()
        .map(|(i, bytes)| {
            if bytes.0.len() > longest {
                return Err(ApiError::new(
                    ErrorCode::PayloadTooLarge,
                    format!(
                        "key bundle {i} is {} bytes, more than a bundle of the keys of {} ({}) can be ({longest})",
                        bytes.0.len(),
                        most.of,
                        most.keys,
                    ),
                ));
            }
            let bundle = KeyBundle::decode(&bytes.0)
                .map_err(|e| ApiError::bad_request(format!("key bundle {i}: {e}")))?;
            let header = bundle.header;
            if header.team != team {
                return Err(ApiError::new(
                    ErrorCode::WrongTeam,
                    format!("key bundle {i} is for team {}", header.team),
                ));
            }
            if header.sender != sender {
                return Err(ApiError::new(
                    ErrorCode::WrongAuthor,
                    format!("key bundle {i} is sent by device {}", header.sender),
                ));
            }
            bundle.verify(sender_key).map_err(|_| {
                ApiError::new(
                    ErrorCode::BadSignature,
                    format!("key bundle {i}: the signature does not verify"),
                )
            })?;
            let to_device = state.active(&DeviceId(header.recipient)).is_some();
            let to_invite = state
                .invites
                .get(&InviteId(header.recipient))
                .is_some_and(|i| i.cancelled_by.is_none() && i.redeemed_by.is_none());
            if !to_device && !to_invite {
                return Err(ApiError::bad_request(format!(
                    "key bundle {i} is for {}, neither an active device nor an invite of the team still open",
                    hex::encode(header.recipient)
                )));
            }
            if !recipients.insert(header.recipient) {
                return Err(ApiError::bad_request(format!(
                    "key bundle {i} is a second one for {}: one per recipient",
                    hex::encode(header.recipient)
                )));
            }
            Ok(NewBundle {
                recipient: header.recipient,
                sender,
                bytes: bytes.0.clone(),
            })
        })
        .collect()
}

/// What an applied entry changes on the roster.
fn roster_change(after: &Membership, applied: &Applied, at_ms: u64) -> RosterChange {
    match applied {
        Applied::Invited(_) => RosterChange::None,
        Applied::Joined(device) => match after.devices.get(device) {
            Some(m) => RosterChange::Join(Device {
                device: m.device,
                public_key: m.sign_key,
                hpke_key: m.hpke_key.as_bytes().to_vec(),
                role: m.role,
                plan: m.plan,
                invite: m.invite,
                added_at_ms: m.added_at_ms,
                added_by: m.added_by,
                revoked_at_ms: None,
            }),
            None => RosterChange::None,
        },
        Applied::RoleChanged(device) => match after.devices.get(device) {
            Some(m) => RosterChange::Role {
                device: *device,
                role: m.role,
            },
            None => RosterChange::None,
        },
        Applied::Revoked { device, .. } => RosterChange::Revoke {
            device: *device,
            at_ms,
        },
        Applied::Cancelled(_) => RosterChange::None,
    }
}

/// Checks `entry` against `log` at `now`, then appends it with `bundles` (already
/// checked) and caches the new log. Returns the entry's sequence number and the new state.
async fn append<S: Storage>(
    state: &AppState<S>,
    log: &TeamLog,
    entry: &Entry,
    after: Membership,
    applied: &Applied,
    bundles: Vec<NewBundle>,
    staged: Option<storage::TakeStaged>,
) -> Result<(u64, u32), storage::Error> {
    let subject = entry.patient_subject(&log.state);
    let epoch = after.epoch;
    // Keys left for invites nobody can redeem any more go with every append: a cancelled
    // or expired invite's code (or a photograph of it) must open nothing later.
    let now = state.now_ms();
    let forget_bundles = after
        .invites
        .values()
        .filter(|i| i.redeemed_by.is_none() && !i.is_pending(now))
        .map(|i| i.invite)
        .collect();
    let seq = state
        .storage()
        .append_membership(
            entry.team,
            MembershipAppend {
                expected_len: log.len(),
                entry: entry.as_bytes().to_vec(),
                subject,
                roster: roster_change(&after, applied, entry.at_ms),
                epoch,
                bundles,
                forget_bundles,
                staged,
            },
        )
        .await?;
    state.members().put(
        entry.team,
        log.appended(after, LogEntry::new(entry, subject)),
    );
    Ok((seq, epoch))
}

/// Appends an entry signed by the calling device (an invite, a role change, a revocation).
pub async fn append_entry<S: Storage>(
    State(state): State<AppState<S>>,
    member: TeamMember,
    ApiJson(request): ApiJson<AppendRequest>,
) -> Result<(StatusCode, Json<Appended>), ApiError> {
    let entry = Entry::decode(&request.entry.0).map_err(entry_error)?;
    if entry.team != member.team {
        return Err(ApiError::new(
            ErrorCode::WrongTeam,
            format!("the entry is for team {}", entry.team),
        ));
    }
    if entry.signer != member.device.0 {
        return Err(ApiError::not_allowed(
            "the entry is not signed by the calling device",
        ));
    }
    if matches!(entry.op, Op::Genesis { .. } | Op::Redeem { .. }) {
        return Err(ApiError::bad_request(
            "genesis and redeem entries have their own routes",
        ));
    }
    // A Revoke checked against an older log still stands if it applies to the current
    // one and covers its recipients (checked below): entries carry no link to the one
    // before, and a member appending invites as fast as it can must not be able to keep a
    // revocation from ever landing. Anything else was signed for the log it saw.
    let revoke_on_later_log =
        matches!(entry.op, Op::Revoke { .. }) && request.expected_len < member.log.len();
    if request.expected_len != member.log.len() && !revoke_on_later_log {
        return Err(ApiError::new(
            ErrorCode::MembershipConflict,
            format!(
                "the membership log has {} entries, not {}: read it again and sign again",
                member.log.len(),
                request.expected_len
            ),
        ));
    }
    let now = state.now_ms();
    // Entry times are shown as when a device was added, revoked or an invite cancelled:
    // they must be the signer's now, not backdated.
    check_fresh(
        "membership entry",
        entry.at_ms,
        now,
        state.limits().max_clock_skew(),
    )?;
    if let Op::Invite { expires_at_ms, .. } = &entry.op {
        // From the entry's own time (fresh, as just checked), not the relay's now: a device
        // whose clock runs a little ahead may make an invite of the full 7 days.
        if expires_at_ms.saturating_sub(entry.at_ms) > holdfast_protocol::MAX_INVITE_LIFETIME_MS {
            return Err(ApiError::bad_request(
                "an invite may be valid for at most 7 days",
            ));
        }
        let pending = member
            .log
            .state
            .invites
            .values()
            .filter(|i| i.created_by == member.device && i.is_pending(now))
            .count();
        if pending >= holdfast_protocol::MAX_PENDING_INVITES {
            return Err(ApiError::new(
                ErrorCode::TooManyInvites,
                format!(
                    "this device has {pending} invites pending, the most it may: cancel one, or \
                     wait for one to be used or to expire"
                ),
            ));
        }
    }
    let mut after = member.log.state.clone();
    let applied = after.apply_at(&entry, Some(now)).map_err(entry_error)?;
    let bundles = check_bundles(
        member.team,
        member.device,
        &member.public_key,
        &after,
        MostKeys::epochs(after.epoch),
        &request.bundles,
    )?;
    let mut staged = None;
    if let Applied::Revoked { device, epoch } = &applied {
        let Op::Revoke { key_commitment, .. } = &entry.op else {
            return Err(ApiError::internal(
                "a revocation that is not a Revoke entry",
            ));
        };
        let recipients: Vec<[u8; 16]> = after
            .active_devices()
            .map(|m| m.device.0)
            .chain(
                after
                    .invites
                    .values()
                    .filter(|i| i.is_pending(now) && after.active(&i.created_by).is_some())
                    .map(|i| i.invite.0),
            )
            .collect();
        // What the revoker staged ahead of this request counts too: a team past ~1,000
        // recipients cannot carry every bundle in one request. Only staged bundles for
        // recipients still due one are delivered (never the revoked device's).
        let mut covered: HashSet<[u8; 16]> = bundles.iter().map(|b| b.recipient).collect();
        let already: HashSet<[u8; 16]> = state
            .storage()
            .staged_recipients(member.team, member.device, *key_commitment)
            .await?
            .into_iter()
            .collect();
        let mut take = Vec::new();
        for r in &recipients {
            if !covered.contains(r) && already.contains(r) {
                take.push(*r);
                covered.insert(*r);
            }
        }
        let mut missing: Vec<String> = recipients
            .iter()
            .filter(|r| !covered.contains(*r))
            .map(hex::encode)
            .collect();
        if !missing.is_empty() {
            missing.sort();
            let count = missing.len();
            missing.truncate(20);
            return Err(ApiError::new(
                ErrorCode::MissingKeyBundles,
                format!(
                    "revoking device {device} starts epoch {epoch}: key bundles are missing for {count} recipients: {}{}",
                    missing.join(", "),
                    if count > 20 { ", …" } else { "" }
                ),
            ));
        }
        if !take.is_empty() {
            staged = Some(storage::TakeStaged {
                sender: member.device,
                commitment: *key_commitment,
                recipients: take,
            });
        }
    }
    let count = bundles.len() + staged.as_ref().map_or(0, |t| t.recipients.len());
    let (seq, epoch) = append(
        &state,
        &member.log,
        &entry,
        after,
        &applied,
        bundles,
        staged,
    )
    .await?;
    tracing::info!(team = %member.team, seq, epoch, bundles = count, applied = ?applied, "membership entry appended");
    Ok((
        StatusCode::CREATED,
        Json(Appended {
            seq,
            epoch,
            membership_len: seq.saturating_add(1),
        }),
    ))
}

#[derive(Debug, Deserialize)]
pub struct InvitePath {
    team: TeamId,
    invite: InviteId,
}

/// `{"entry": "<hex Invite entry>", "genesis": "<hex genesis entry>"}`
#[derive(Debug, Serialize)]
pub struct InviteView {
    /// The Invite entry.
    pub entry: HexBytes,
    /// The team's genesis entry (its hash is the anchor in the invite code).
    pub genesis: HexBytes,
}

fn invite_state_error(log: &TeamLog, invite: &InviteId, now: u64) -> Option<ApiError> {
    match log.state.invites.get(invite) {
        None => Some(ApiError::new(ErrorCode::NoSuchInvite, "no such invite")),
        Some(i) if i.redeemed_by.is_some() => {
            Some(ApiError::new(ErrorCode::InviteUsed, "invite already used"))
        }
        Some(i) if i.cancelled_by.is_some() => Some(ApiError::new(
            ErrorCode::InviteCancelled,
            "invite cancelled",
        )),
        Some(i) if now > i.expires_at_ms => {
            Some(ApiError::new(ErrorCode::InviteExpired, "invite expired"))
        }
        Some(_) => None,
    }
}

async fn team_log<S: Storage>(
    state: &AppState<S>,
    team: TeamId,
) -> Result<std::sync::Arc<TeamLog>, ApiError> {
    state
        .members()
        .get(state.storage(), team)
        .await?
        .ok_or_else(|| ApiError::new(ErrorCode::NotFound, format!("no team {team}")))
}

/// A pending invite's entry and the team's genesis, for the device about to redeem it. No
/// token: the invite id is unguessable (it is derived from the secret in the code).
/// Limited per client address.
pub async fn show_invite<S: Storage>(
    State(state): State<AppState<S>>,
    from: ClientAddress,
    path: Result<Path<InvitePath>, PathRejection>,
) -> Result<Json<InviteView>, ApiError> {
    state.limit_address(from, "invite requests")?;
    let Path(InvitePath { team, invite }) = path?;
    let log = team_log(&state, team).await?;
    if let Some(e) = invite_state_error(&log, &invite, state.now_ms()) {
        return Err(e);
    }
    let (Some(entry), Some(genesis)) = (log.invite_entry(&invite), log.entries.front()) else {
        return Err(ApiError::internal(format!(
            "invite {invite} of team {team} has no entry in the cached log"
        )));
    };
    Ok(Json(InviteView {
        entry: HexBytes(entry.bytes.to_vec()),
        genesis: HexBytes(genesis.bytes.to_vec()),
    }))
}

/// `{"entry": "<hex Redeem entry>"}`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedeemRequest {
    /// The Redeem entry, signed with the invite's one-time key.
    pub entry: HexBytes,
}

/// `201 {"seq", "device", "role", "epoch", "membership_len"}` (`200` for an entry the log
/// already holds: the same Redeem sent again after a lost answer)
#[derive(Debug, Serialize)]
pub struct Redeemed {
    /// The entry's sequence number.
    pub seq: u64,
    /// The new device.
    pub device: DeviceId,
    /// Its role.
    pub role: Role,
    /// The team's key epoch.
    pub epoch: u32,
    /// The log's length now.
    pub membership_len: u64,
}

/// A new device redeems an invite. No token: it is not a member yet; the entry is signed
/// with the invite's one-time key and carries the device's proof of possession. Limited per
/// client address.
pub async fn redeem<S: Storage>(
    State(state): State<AppState<S>>,
    from: ClientAddress,
    path: Result<Path<InvitePath>, PathRejection>,
    request: Result<ApiJson<RedeemRequest>, ApiError>,
) -> Result<(StatusCode, Json<Redeemed>), ApiError> {
    state.limit_address(from, "invite requests")?;
    let Path(InvitePath { team, invite }) = path?;
    let ApiJson(request) = request?;
    let entry = Entry::decode(&request.entry.0).map_err(entry_error)?;
    let Op::Redeem {
        invite: redeemed,
        device,
        ..
    } = &entry.op
    else {
        return Err(ApiError::bad_request("not a redeem entry"));
    };
    if *redeemed != invite || entry.team != team {
        return Err(ApiError::bad_request(
            "the entry redeems another invite, or for another team",
        ));
    }
    tracing::Span::current().record("device", tracing::field::display(device));
    // Optimistic: check against the cached log and append at its length; if another append
    // got there first, read the log again and check again.
    for _ in 0..REDEEM_ATTEMPTS {
        let log = team_log(&state, team).await?;
        // The same entry again: the device never got the answer to its first send (or sent
        // again while the first was being written). Answer it again rather than "used",
        // whatever its age, appending nothing. Checked on every read of the log: the first
        // send may commit while this one waits.
        if let Some(seq) = log
            .entries
            .iter()
            .position(|e| *e.bytes == *request.entry.0)
        {
            let seq = u64::try_from(seq).map_err(|_| ApiError::internal("log too long"))?;
            tracing::info!(team = %team, device = %device, seq, "redeem sent again: answered again");
            return Ok((
                StatusCode::OK,
                Json(Redeemed {
                    seq,
                    device: *device,
                    role: log
                        .state
                        .devices
                        .get(device)
                        .map_or(Role::Patient, |m| m.role),
                    epoch: log.state.epoch,
                    membership_len: log.len(),
                }),
            ));
        }
        let now = state.now_ms();
        check_fresh(
            "redeem entry",
            entry.at_ms,
            now,
            state.limits().max_clock_skew(),
        )?;
        let mut after = log.state.clone();
        let applied = after.apply_at(&entry, Some(now)).map_err(entry_error)?;
        let role = after.devices.get(device).map_or(Role::Patient, |m| m.role);
        match append(&state, &log, &entry, after, &applied, Vec::new(), None).await {
            Ok((seq, epoch)) => {
                tracing::info!(team = %team, device = %device, role = %role, seq, "invite redeemed");
                return Ok((
                    StatusCode::CREATED,
                    Json(Redeemed {
                        seq,
                        device: *device,
                        role,
                        epoch,
                        membership_len: seq.saturating_add(1),
                    }),
                ));
            }
            Err(storage::Error::MembershipConflict { .. }) => {
                state.members().invalidate_team(team);
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(ApiError::new(
        ErrorCode::Unavailable,
        "the membership log kept changing: try again",
    )
    .retry_after(std::time::Duration::from_secs(1)))
}

/// `{"key_commitment": "<hex>", "bundles": ["<hex>", ...]}`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StageKeys {
    /// The commitment to the new epoch's key that the coming Revoke entry will carry.
    pub key_commitment: Hex<32>,
    /// The bundles, each sent by the calling device, at most one per recipient.
    pub bundles: Vec<HexBytes>,
}

/// `201 {"staged": n}`
#[derive(Debug, Serialize)]
pub struct Staged {
    /// Bundles the calling device now has staged for this commitment.
    pub staged: u64,
}

/// `POST /keys/staged`: a device about to revoke another stages the new epoch's bundles,
/// up to 1,000 a request, when there are more than one Revoke request can carry. Nothing is
/// served from here: the Revoke's append delivers them, in its transaction, or they expire
/// after an hour. Staging for another commitment replaces what the device staged before.
pub async fn stage_keys<S: Storage>(
    State(state): State<AppState<S>>,
    member: TeamMember,
    ApiJson(request): ApiJson<StageKeys>,
) -> Result<(StatusCode, Json<Staged>), ApiError> {
    // Only the roles that may revoke anyone: admins, and link workers (a patient's device).
    if !matches!(
        member.role,
        storage::Role::Admin | storage::Role::LinkWorker
    ) {
        return Err(ApiError::not_allowed(
            "only a device that may revoke another stages key bundles",
        ));
    }
    let state_now = &member.log.state;
    // Bundles for the next epoch: one key more than the team has now.
    let epochs = state_now.epoch.saturating_add(1);
    let bundles = check_bundles(
        member.team,
        member.device,
        &member.public_key,
        state_now,
        MostKeys::epochs(epochs),
        &request.bundles,
    )?;
    let staged = state
        .storage()
        .stage_bundles(
            member.team,
            storage::Staging {
                sender: member.device,
                commitment: request.key_commitment.0,
                bundles,
                at_ms: state.now_ms(),
            },
        )
        .await?;
    tracing::debug!(team = %member.team, staged, "key bundles staged for a revocation");
    Ok((StatusCode::CREATED, Json(Staged { staged })))
}

/// `{"bundles": ["<hex>", ...]}`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrivateNotesKeys {
    /// The bundles, each sent by the calling device to a supervisor or an admin of the team,
    /// at most one per recipient.
    pub bundles: Vec<HexBytes>,
}

/// `201 {"stored": n}`
#[derive(Debug, Serialize)]
pub struct PrivateNotesKeysStored {
    /// Bundles stored (each replacing the caller's last one to its recipient).
    pub stored: u64,
}

/// `POST /keys/private-notes`: a staff device hands the private-notes keys it holds (its own
/// notes' key; a supervisor's or admin's, its colleagues') to the team's active supervisors
/// and admins, and to nobody else: a bundle to any other device is refused, so a link worker
/// is never sent a colleague's notes key through the relay. Each bundle replaces the
/// caller's last one to the same recipient (the latest carries every key the caller holds),
/// so what a device can make the relay keep is bounded by the team's readers; a bundle
/// holds at most one key per staff device the team ever enrolled (each has one notes
/// document). The relay cannot see which keys a bundle carries; devices check that.
pub async fn private_notes_keys<S: Storage>(
    State(state): State<AppState<S>>,
    member: TeamMember,
    ApiJson(request): ApiJson<PrivateNotesKeys>,
) -> Result<(StatusCode, Json<PrivateNotesKeysStored>), ApiError> {
    member.require_staff("hand on private-notes keys")?;
    let roster = &member.log.state;
    let most = MostKeys {
        keys: roster.private_notes.len(),
        of: "every private-notes document of the team",
    };
    let bundles = check_bundles(
        member.team,
        member.device,
        &member.public_key,
        roster,
        most,
        &request.bundles,
    )?;
    for (i, bundle) in bundles.iter().enumerate() {
        let reader = roster
            .active(&DeviceId(bundle.recipient))
            .is_some_and(|r| r.role.reads_private_notes() && r.device != member.device);
        if !reader {
            return Err(ApiError::new(
                ErrorCode::PrivateNotes,
                format!(
                    "key bundle {i} is for {}, which is not another active supervisor or admin \
                     of the team: private-notes keys go to them alone",
                    hex::encode(bundle.recipient)
                ),
            ));
        }
    }
    let stored = state
        .storage()
        .put_private_notes_bundles(member.team, member.device, bundles)
        .await?;
    tracing::debug!(team = %member.team, stored, "private-notes keys handed on");
    Ok((StatusCode::CREATED, Json(PrivateNotesKeysStored { stored })))
}

/// `?after=N&limit=M`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeysQuery {
    /// Bundles with a sequence number above this (default 0).
    #[serde(default)]
    pub after: u64,
    /// At most this many.
    pub limit: Option<usize>,
}

/// One bundle.
#[derive(Debug, Serialize)]
pub struct KeysItem {
    /// Its team bundle sequence number.
    pub seq: u64,
    /// The bundle.
    pub bundle: HexBytes,
}

/// `{"bundles": [...], "next", "more"}`
#[derive(Debug, Serialize)]
pub struct KeysPage {
    /// The caller's bundles.
    pub bundles: Vec<KeysItem>,
    /// The cursor to continue from.
    pub next: u64,
    /// Whether more follow.
    pub more: bool,
}

/// `{"up_to": N, "signature": hex}`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeysAck {
    /// The device holds its bundles up to this sequence number.
    pub up_to: u64,
    /// Its signature over `holdfast_protocol::keys_ack_message(team, device, up_to)`.
    pub signature: Hex<SIGNATURE_LEN>,
}

/// `{"deleted": n}`
#[derive(Debug, Serialize)]
pub struct KeysAcked {
    /// Bundles left for the device's invite that were deleted.
    pub deleted: u64,
}

/// `POST /keys/ack`: the device says, signed with its own key, that it holds its bundles up
/// to `up_to`; the ones left for the invite it redeemed go (the code's secret opens them,
/// and a photograph of the code must open nothing later). A bearer token alone cannot do
/// this: a stolen one cannot delete keys the device never received.
pub async fn ack_keys<S: Storage>(
    State(state): State<AppState<S>>,
    member: TeamMember,
    ApiJson(ack): ApiJson<KeysAck>,
) -> Result<Json<KeysAcked>, ApiError> {
    let message = holdfast_protocol::keys_ack_message(&member.team, &member.device, ack.up_to);
    holdfast_protocol::verify_signature(&member.public_key, &message, &ack.signature.0).map_err(
        |_| {
            ApiError::new(
                ErrorCode::BadSignature,
                "the acknowledgement's signature does not verify",
            )
        },
    )?;
    let Some(invite) = member.invite else {
        return Ok(Json(KeysAcked { deleted: 0 }));
    };
    let deleted = state
        .storage()
        .forget_bundles(member.team, invite.0, ack.up_to)
        .await?;
    tracing::debug!(team = %member.team, deleted, "invite key bundles deleted after delivery");
    Ok(Json(KeysAcked { deleted }))
}

/// The caller's key bundles: those addressed to it and to the invite it redeemed.
pub async fn keys<S: Storage>(
    State(state): State<AppState<S>>,
    member: TeamMember,
    query: Result<Query<KeysQuery>, QueryRejection>,
) -> Result<Json<KeysPage>, ApiError> {
    let Query(query) = query?;
    let limit = match query.limit {
        Some(0) => return Err(ApiError::bad_request("limit must be at least 1")),
        Some(limit) => limit.min(MAX_KEYS_LIMIT),
        None => DEFAULT_KEYS_LIMIT,
    };
    let mut recipients = vec![member.device.0];
    recipients.extend(member.invite.map(|i| i.0));
    let page = state
        .storage()
        .bundles(
            member.team,
            storage::BundleRequest {
                recipients,
                after: query.after,
                limit,
            },
        )
        .await?;
    // At most about 1 MiB of bundles in one page (at least one): the rest is `more`.
    let mut bundles = Vec::with_capacity(page.bundles.len());
    let mut bytes = 0usize;
    let mut cut = false;
    for (seq, bundle) in page.bundles {
        if !bundles.is_empty() && bytes + bundle.len() > MAX_PAGE_ITEM_BYTES {
            cut = true;
            break;
        }
        bytes += bundle.len();
        bundles.push(KeysItem {
            seq,
            bundle: HexBytes(bundle),
        });
    }
    let next = if cut {
        bundles.last().map_or(query.after, |b| b.seq)
    } else {
        page.next
    };
    Ok(Json(KeysPage {
        bundles,
        next,
        more: page.more || cut,
    }))
}
