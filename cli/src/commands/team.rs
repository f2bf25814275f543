//! Teams and this device's identity: creating and joining a team, listing teams, showing a
//! team's secret, registering a colleague's device at the relay, and this device's id and
//! public key for the admin.
//!
//! Enrolment, for now, is by handing over the team secret in person: whoever holds it can
//! read everything the team shares. (Invites replace this in the next issue.)

use std::fmt::Write as _;

use holdfast_core::crypto::TeamSecret;
use holdfast_core::model::ids::DeviceId;
use holdfast_core::store::TeamInfo;
use holdfast_core::sync::Role;
use holdfast_core::{Error as CoreError, TeamId};
use serde::Serialize;

use super::Ctx;
use crate::error::{CliError, Result};
use crate::net::{self, Doing, Me, Session};
use crate::output::{Output, short, table};

/// How a secret is labelled wherever it is printed.
const SECRET_WARNING: &str = "TEAM SECRET: anyone who has it can read every record the team shares.
Hand it over in person only: never by email, message or a shared drive.";

#[derive(Serialize)]
struct TeamCreated {
    team_id: TeamId,
    relay_url: String,
    /// Secret: hand over in person only.
    team_secret: String,
    admin_device: DeviceId,
    current: bool,
}

pub(super) fn create(ctx: &Ctx, relay: &str) -> Result<Output> {
    let s = Session::new(ctx.device.open()?)?;
    let relay = net::check_relay(&s.rt, relay)?;
    let team = s.lock()?.create_team(ctx.device.keys(), &relay)?;
    let (info, secret, current) = {
        let store = s.lock()?;
        (
            store.team(team)?,
            hex::encode(store.team_secret(team)?.as_bytes()),
            store.current_team() == Some(team),
        )
    };
    s.rt.block_on(s.client.register_team(team))
        .map_err(|e| registration_failed(e, &info, &s.me))?;
    let out = TeamCreated {
        team_id: team,
        relay_url: info.relay_url.clone(),
        team_secret: secret,
        admin_device: s.me.device,
        current,
    };
    let mut text = format!(
        "Team created at {relay}, with this device as its admin.\n\
         \x20 team id  {team}\n\n\
         {SECRET_WARNING}\n\
         \x20 {secret}\n\n\
         To add a colleague's device:\n\
         \x20 1. on their device:  holdfast device show\n\
         \x20 2. on this device:   holdfast team add-device THEIR_DEVICE_ID THEIR_PUBLIC_KEY\n\
         \x20 3. on their device:  holdfast team join --relay {relay} --team {team} --secret SECRET\n",
        relay = out.relay_url,
        secret = out.team_secret,
    );
    if current {
        text.push_str(
            "Records on this device are shared in the team from the next `holdfast sync`.",
        );
    } else {
        text.push_str("This device's records stay in its first team; new records go there too.");
    }
    Output::new(&out, text)
}

/// The team exists on this device but the relay did not take it: say how to finish.
fn registration_failed(e: CoreError, info: &TeamInfo, me: &Me) -> CliError {
    let why = net::explain(e, info, Doing::Register, me);
    CliError::Sync(format!(
        "team {} was created on this device but not registered at the relay: {why} \
         (`holdfast team secret` shows its secret)",
        info.team
    ))
}

#[derive(Serialize)]
struct TeamJoined {
    team_id: TeamId,
    relay_url: String,
    device_id: DeviceId,
    /// Whether the relay already lists this device in the team (`None`: could not tell).
    registered: Option<bool>,
}

pub(super) fn join(ctx: &Ctx, relay: &str, team: &str, secret: &str) -> Result<Output> {
    let team: TeamId = net::full_id("team", "--team", team)?;
    let bytes = net::hex_bytes::<{ TeamSecret::LEN }>("--secret: a team secret", secret)?;
    let secret = TeamSecret::from_bytes(team, &bytes)?;
    let s = Session::new(ctx.device.open()?)?;
    let relay = net::check_relay(&s.rt, relay)?;
    s.lock()?.join_team(ctx.device.keys(), &relay, &secret)?;
    let info = s.lock()?.team(team)?;
    // Whether the admin has registered this device yet: the first authenticated call says.
    let registered = match s.rt.block_on(s.client.head(team)) {
        Ok(_) => Some(true),
        // 401: the relay knows this device in no team yet; 403: not in this one.
        Err(CoreError::Relay {
            status: 401 | 403, ..
        }) => Some(false),
        Err(e) => {
            tracing::info!(error = %e, "could not tell whether this device is registered");
            None
        }
    };
    let mut text = format!("Joined team {team} at {}.\n", info.relay_url);
    match registered {
        Some(true) => text.push_str(
            "The relay knows this device: run `holdfast sync` to fetch the team's records.",
        ),
        Some(false) => {
            let _ = write!(
                text,
                "The relay does not know this device yet. Ask the team's admin to run\n\
                 \x20 holdfast team add-device {} {}\n\
                 then run `holdfast sync` here.",
                s.me.device,
                hex::encode(s.me.public_key)
            );
        }
        None => text.push_str(
            "Could not ask the relay whether it knows this device yet: run `holdfast sync` \
             once the team's admin has registered it.",
        ),
    }
    text.push_str(
        "\nThe secret is checked when the team's first records arrive: a mistyped one makes \
         `holdfast sync` fail.",
    );
    let out = TeamJoined {
        team_id: team,
        relay_url: info.relay_url,
        device_id: s.me.device,
        registered,
    };
    Output::new(&out, text)
}

#[derive(Serialize)]
struct TeamRow {
    #[serde(flatten)]
    info: TeamInfo,
    current: bool,
}

pub(super) fn list(ctx: &Ctx) -> Result<Output> {
    let store = ctx.device.open()?;
    let current = store.current_team();
    let rows: Vec<TeamRow> = store
        .teams()?
        .into_iter()
        .map(|info| TeamRow {
            current: Some(info.team) == current,
            info,
        })
        .collect();
    if rows.is_empty() {
        return Output::new(&rows, net::no_team_sentence());
    }
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.info.team.to_string(),
                r.info.relay_url.clone(),
                if r.current { "yes" } else { "-" }.into(),
                if r.info.created_here {
                    "admin"
                } else {
                    "joined"
                }
                .into(),
                if r.info.registered || !r.info.created_here {
                    "-".into()
                } else {
                    "not yet registered".into()
                },
                r.info
                    .last_pull_at
                    .map(|ms| ctx.clock.day_time(ms))
                    .unwrap_or_else(|| "never".into()),
            ]
        })
        .collect();
    let text = table(
        &["TEAM", "RELAY", "CURRENT", "HERE", "NOTE", "LAST PULL"],
        &cells,
    );
    Output::new(&rows, text)
}

#[derive(Serialize)]
struct SecretShown {
    team_id: TeamId,
    relay_url: String,
    /// Secret: hand over in person only.
    team_secret: String,
}

pub(super) fn secret(ctx: &Ctx, team: Option<&str>) -> Result<Output> {
    let store = ctx.device.open()?;
    let info = net::select_team(&store, team)?;
    let out = SecretShown {
        team_id: info.team,
        relay_url: info.relay_url,
        team_secret: hex::encode(store.team_secret(info.team)?.as_bytes()),
    };
    let text = format!(
        "Team {}\n\n{SECRET_WARNING}\n  {}\n\nOn their device:\n  holdfast team join --relay {} --team {} --secret SECRET",
        out.team_id, out.team_secret, out.relay_url, out.team_id
    );
    Output::new(&out, text)
}

#[derive(Serialize)]
struct DeviceAdded {
    team_id: TeamId,
    device_id: DeviceId,
    role: Role,
}

pub(super) fn add_device(
    ctx: &Ctx,
    device: &str,
    public_key: &str,
    role: Role,
    team: Option<&str>,
) -> Result<Output> {
    let device: DeviceId = net::full_id("device", "DEVICE_ID", device)?;
    let public_key = net::hex_bytes::<32>("PUBLIC_KEY: a public key", public_key)?;
    let s = Session::new(ctx.device.open()?)?;
    let info = net::select_team(&*s.lock()?, team)?;
    if device == s.me.device {
        return Err(CliError::input(
            "that is this device's own id: it is in the team already",
        ));
    }
    s.rt.block_on(s.client.add_device(info.team, device, public_key, role))
        .map_err(|e| net::explain(e, &info, Doing::AddDevice, &s.me))?;
    let role_name = match role {
        Role::Admin => "an admin",
        Role::Member => "a member",
    };
    let text = format!(
        "Device {device} is registered in team {} as {role_name}.\n\
         On that device, join with:\n\
         \x20 holdfast team join --relay {} --team {} --secret SECRET\n\
         (the team secret: `holdfast team secret` shows it here; hand it over in person only)",
        short(&info.team),
        info.relay_url,
        info.team
    );
    Output::new(
        &DeviceAdded {
            team_id: info.team,
            device_id: device,
            role,
        },
        text,
    )
}

#[derive(Serialize)]
struct DeviceShown {
    device_id: DeviceId,
    public_key: String,
    person: String,
    teams: Vec<TeamId>,
}

pub(super) fn show_device(ctx: &Ctx) -> Result<Output> {
    let store = ctx.device.open()?;
    let me = Me::of(&store);
    let out = DeviceShown {
        device_id: me.device,
        public_key: hex::encode(me.public_key),
        person: store.author().person.clone(),
        teams: store.teams()?.into_iter().map(|t| t.team).collect(),
    };
    let mut text = format!(
        "This device ({person})\n\
         \x20 device id   {id}\n\
         \x20 public key  {key}\n\n\
         To be added to a team, give both to its admin, who runs:\n\
         \x20 holdfast team add-device {id} {key}\n\
         Neither is secret, but check them with the admin when you meet: the key decides whose\n\
         changes the team trusts.",
        person = out.person,
        id = out.device_id,
        key = out.public_key,
    );
    if !out.teams.is_empty() {
        let _ = write!(
            text,
            "\nIn {}: see `holdfast team list`.",
            crate::output::count(out.teams.len(), "team", "teams")
        );
    }
    Output::new(&out, text)
}
