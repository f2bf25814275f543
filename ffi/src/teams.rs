//! Teams and access: create a team, invite, list and cancel invites, redeem, share a plan
//! with a patient, list and revoke devices.

use holdfast_core::model::action_plan::WorkingHours;
use holdfast_core::model::ids::{DeviceId, DocumentId};
use holdfast_core::model::team_settings::{PlanWording, TeamPlanWording};
use holdfast_core::sync::Role as CoreRole;

use crate::device::{HoldfastDevice, parse_id};
use crate::error::{HoldfastError, Result};

/// A device's role in a team.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum Role {
    /// Manages the team's members; reads and writes everything.
    Admin,
    /// Reads the team's case files and adds supervision comments.
    Supervisor,
    /// Works the caseload.
    LinkWorker,
    /// A patient's own device: one action plan.
    Patient,
}

impl From<CoreRole> for Role {
    fn from(r: CoreRole) -> Self {
        match r {
            CoreRole::Admin => Role::Admin,
            CoreRole::Supervisor => Role::Supervisor,
            CoreRole::LinkWorker => Role::LinkWorker,
            CoreRole::Patient => Role::Patient,
        }
    }
}

impl From<Role> for CoreRole {
    fn from(r: Role) -> Self {
        match r {
            Role::Admin => CoreRole::Admin,
            Role::Supervisor => CoreRole::Supervisor,
            Role::LinkWorker => CoreRole::LinkWorker,
            Role::Patient => CoreRole::Patient,
        }
    }
}

/// A team this device belongs to.
#[derive(Debug, Clone, uniffi::Record)]
pub struct TeamSummary {
    /// The team id.
    pub team_id: String,
    /// Its relay.
    pub relay_url: String,
    /// This device's role, once known.
    pub role: Option<Role>,
    /// The team's key epoch (moves on with each revocation).
    pub epoch: u32,
    /// New documents are shared in this team.
    pub current: bool,
}

/// A device of a team.
#[derive(Debug, Clone, uniffi::Record)]
pub struct TeamDevice {
    /// The device id.
    pub device_id: String,
    /// Its role.
    pub role: Role,
    /// For a patient's device: the plan it reads.
    pub plan_id: Option<String>,
    /// Revoked (cut off) at this time (ms since the epoch).
    pub revoked_at: Option<i64>,
    /// This is the device the app runs on.
    pub this_device: bool,
}

/// What became of an invite.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum InviteState {
    /// Redeemable until it expires.
    Pending,
    /// Redeemed by a device (`TeamInvite::by_device`).
    Redeemed,
    /// Cancelled by a device (`TeamInvite::by_device`).
    Cancelled,
    /// Expired before anyone redeemed it.
    Expired,
}

/// An invite of a team: staff see every invite; a patient's device only its own.
#[derive(Debug, Clone, uniffi::Record)]
pub struct TeamInvite {
    /// The invite id (32 hex digits), for `cancel_invite`.
    pub invite_id: String,
    /// The role it grants.
    pub role: Role,
    /// For a patient invite: the plan.
    pub plan_id: Option<String>,
    /// The device that made it.
    pub created_by: String,
    /// Redeemable until then (ms since the epoch).
    pub expires_at: i64,
    /// What became of it.
    pub state: InviteState,
    /// The device that redeemed or cancelled it.
    pub by_device: Option<String>,
}

/// The outcome of redeeming an invite.
#[derive(Debug, Clone, uniffi::Record)]
pub struct Enrolment {
    /// The team joined.
    pub team_id: String,
    /// This device's role in it.
    pub role: Role,
    /// For a patient: the plan it reads.
    pub plan_id: Option<String>,
    /// Why the first sync did not finish, if it did not (the device is in the team either
    /// way; the next sync carries on).
    pub first_sync_error: Option<String>,
}

/// The wording every patient's plan of the team carries, and who set it.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct PlanWordingView {
    /// Out-of-hours and crisis wording.
    pub out_of_hours: String,
    /// The working days and hours as `set_team_plan_wording` takes them
    /// ("mon,tue,wed,thu,fri 09:00-17:00", UK time).
    pub working_hours: String,
    /// The same in words ("Monday to Friday, 9am to 5pm").
    pub working_hours_text: String,
    /// Who set it; null: nobody has, these are the defaults.
    pub set_by: Option<String>,
    /// The device that set it.
    pub set_by_device: Option<String>,
    /// When (ms since the Unix epoch).
    pub set_at_ms: Option<i64>,
}

fn wording_view(t: TeamPlanWording) -> PlanWordingView {
    PlanWordingView {
        out_of_hours: t.wording.out_of_hours,
        working_hours: t.wording.working_hours.to_string(),
        working_hours_text: t.wording.working_hours.describe(),
        set_by: t.set.as_ref().map(|s| s.by.clone()),
        set_by_device: t.set.as_ref().map(|s| s.by_device.to_string()),
        set_at_ms: t.set.as_ref().map(|s| s.at),
    }
}

fn minutes_to_ms(minutes: u32) -> Result<u64> {
    if minutes == 0 || minutes > 7 * 24 * 60 {
        return Err(HoldfastError::invalid(
            "an invite is valid for 1 minute to 7 days",
        ));
    }
    Ok(u64::from(minutes) * 60_000)
}

#[uniffi::export]
impl HoldfastDevice {
    /// Starts a team at the relay `relay_url` with this device as its admin, and registers it
    /// (needs a signal; offline, the team exists here and registers on the next sync).
    pub fn create_team(&self, relay_url: String) -> Result<String> {
        // The device's rule for plain http (loopback only unless the config allows more).
        let plain_http = self.client.plain_http();
        let team = self
            .store()?
            .create_team_with(&relay_url, None, plain_http)?;
        if let Err(e) = self.block_on(self.client.sync(team)) {
            tracing::info!(team = %team, error = %e, "team created offline; registers on the next sync");
        }
        Ok(team.to_string())
    }

    /// The teams this device belongs to.
    pub fn teams(&self) -> Result<Vec<TeamSummary>> {
        let store = self.store()?;
        let current = store.current_team();
        store
            .teams()?
            .into_iter()
            .map(|t| {
                Ok(TeamSummary {
                    team_id: t.team.to_string(),
                    relay_url: t.relay_url.clone(),
                    role: store.role(t.team).ok().flatten().map(Role::from),
                    epoch: store.epoch(t.team).unwrap_or(1),
                    current: current == Some(t.team),
                })
            })
            .collect()
    }

    /// A one-time invite code (show it as a QR code) for a colleague's device to join `team`
    /// (or the current team) as `role`, valid for `valid_minutes`. Patients are invited with
    /// `share_plan`.
    pub fn create_invite(
        &self,
        team: Option<String>,
        role: Role,
        valid_minutes: u32,
    ) -> Result<String> {
        if role == Role::Patient {
            return Err(HoldfastError::invalid(
                "a patient's device is invited for one plan: use share_plan",
            ));
        }
        let team = self.team_or_current(team)?;
        let ttl = minutes_to_ms(valid_minutes)?;
        Ok(self.block_on(self.client.create_invite(team, role.into(), None, ttl))?)
    }

    /// A one-time invite code for the patient's own device: it will read and write this
    /// action plan, and nothing else of the team's.
    pub fn share_plan(&self, plan_id: String, valid_minutes: u32) -> Result<String> {
        let plan: DocumentId = parse_id("plan", &plan_id)?;
        let ttl = minutes_to_ms(valid_minutes)?;
        Ok(self.block_on(self.client.share_plan(plan, ttl))?)
    }

    /// Redeems an invite code on this device: it joins the team and syncs for the first
    /// time. A used, expired, unknown or altered code is `InviteRefused` and joins nothing.
    pub fn redeem_invite(&self, code: String) -> Result<Enrolment> {
        let enrolled = self.block_on(self.client.redeem_invite(&self.keys, &code))?;
        Ok(Enrolment {
            team_id: enrolled.team.to_string(),
            role: enrolled.role.into(),
            plan_id: enrolled.plan.map(|p| p.to_string()),
            first_sync_error: enrolled.first_sync.err(),
        })
    }

    /// The devices of `team` (or the current team), as this device has verified them.
    pub fn devices(&self, team: Option<String>) -> Result<Vec<TeamDevice>> {
        let team = self.team_or_current(team)?;
        Ok(self
            .store()?
            .devices(team)?
            .into_iter()
            .map(|d| TeamDevice {
                device_id: d.device.to_string(),
                role: d.role.into(),
                plan_id: d.plan.map(|p| p.to_string()),
                revoked_at: d.revoked_at.and_then(|t| i64::try_from(t).ok()),
                this_device: d.this_device,
            })
            .collect())
    }

    /// The team's invites (or the current team's), newest expiry first, as of the last sync.
    pub fn invites(&self, team: Option<String>) -> Result<Vec<TeamInvite>> {
        use holdfast_core::access::InviteStatus as S;
        let team = self.team_or_current(team)?;
        Ok(self
            .store()?
            .invites(team)?
            .into_iter()
            .map(|i| {
                let (state, by) = match i.status {
                    S::Pending => (InviteState::Pending, None),
                    S::Redeemed(d) => (InviteState::Redeemed, Some(d.to_string())),
                    S::Cancelled(d) => (InviteState::Cancelled, Some(d.to_string())),
                    S::Expired => (InviteState::Expired, None),
                };
                TeamInvite {
                    invite_id: i.invite,
                    role: i.role.into(),
                    plan_id: i.plan.map(|p| p.to_string()),
                    created_by: i.created_by.to_string(),
                    expires_at: i64::try_from(i.expires_at).unwrap_or(i64::MAX),
                    state,
                    by_device: by,
                }
            })
            .collect())
    }

    /// Cancels a pending invite before anyone redeems it (`invite`: the code, or its id from
    /// `invites`): the relay refuses it from then on and deletes the keys left for it. Its
    /// maker or an admin may; a redeemed invite is past cancelling (revoke the device).
    pub fn cancel_invite(&self, team: Option<String>, invite: String) -> Result<()> {
        let team = self.team_or_current(team)?;
        Ok(self.block_on(self.client.cancel_invite(team, &invite))?)
    }

    /// Revokes a device (a lost phone, a colleague leaving, a plan un-shared): the relay
    /// refuses it at once and the team moves to a new key epoch, returned.
    pub fn revoke_device(&self, team: Option<String>, device_id: String) -> Result<u32> {
        let team = self.team_or_current(team)?;
        let device: DeviceId = parse_id("device", &device_id)?;
        Ok(self.block_on(self.client.revoke_device(team, device))?)
    }

    /// The wording every patient's plan of the current team carries: out-of-hours and
    /// crisis wording and the team's working hours; the defaults when nobody has set it.
    pub fn team_plan_wording(&self) -> Result<PlanWordingView> {
        Ok(wording_view(self.store()?.team_plan_wording()?))
    }

    /// Sets the current team's plan wording (a supervisor or an admin): `out_of_hours` up
    /// to 2,000 bytes, `working_hours` as "Mon-Fri 09:00-17:00" or "Mon,Wed,Fri
    /// 09:30-16:30" (UK time). `InvalidInput` otherwise, and nothing is written. Plans take
    /// it up when created and on `refresh_plan_contact`.
    pub fn set_team_plan_wording(&self, out_of_hours: String, working_hours: String) -> Result<()> {
        let hours: WorkingHours = working_hours.parse()?;
        Ok(self.store()?.set_team_plan_wording(&PlanWording {
            out_of_hours,
            working_hours: hours,
        })?)
    }
}
