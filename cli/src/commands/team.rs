//! Teams and devices: creating a team, listing this device's teams, this device's identity,
//! a team's devices, and revoking one.
//!
//! Colleagues join with one-time invite codes (see `invite.rs`); who is in a team is the
//! team's signed membership log, verified on this device, not the relay's word.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::Path;

use holdfast_core::access::TeamDevice;
use holdfast_core::model::ids::{DeviceId, DocumentId};
use holdfast_core::store::{CaseloadFilter, TeamInfo};
use holdfast_core::sync::{CreationToken, RelayPin, Role};
use holdfast_core::{Error as CoreError, Store, TeamId};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject as _;
use serde::Serialize;

use super::Ctx;
use crate::clock::Clock;
use crate::error::{CliError, Result};
use crate::lookup;
use crate::net::{self, Doing, Session};
use crate::output::{Output, short, table, words};

/// A role as people read it ("link worker").
pub(super) fn role_words(role: Role) -> String {
    words(role.as_str())
}

/// What a role may do, for invites and listings.
pub(super) fn role_grants(role: Role) -> &'static str {
    match role {
        Role::Admin => "read and write every record of the team, and invite and revoke devices",
        Role::Supervisor => "read every record of the team and add supervision comments",
        Role::LinkWorker => "read and write every record of the team",
        Role::Patient => "read and write one action plan, and nothing else of the team's",
    }
}

#[derive(Serialize)]
struct TeamCreated {
    team_id: TeamId,
    relay_url: String,
    /// The pin of the relay's own CA, when it has one (its invite codes carry it).
    relay_pin: Option<RelayPin>,
    admin_device: DeviceId,
    role: Role,
    epoch: u32,
    /// The relay knows the team (false: `holdfast sync` registers it later).
    registered: bool,
    current: bool,
}

/// The pin of a relay's own CA: from its certificate file (PEM), or typed as a fingerprint.
fn relay_pin(ca_file: Option<&Path>, typed: Option<&str>) -> Result<Option<RelayPin>> {
    if let Some(path) = ca_file {
        let pem = std::fs::read(path).map_err(|e| CliError::file("reading --relay-ca", e))?;
        let mut certs = CertificateDer::pem_slice_iter(&pem);
        let ca = match (certs.next(), certs.next()) {
            (Some(Ok(ca)), None) => ca,
            (None, _) => {
                return Err(CliError::input(
                    "--relay-ca: no PEM certificate in that file (-----BEGIN CERTIFICATE-----)",
                ));
            }
            (Some(Err(_)), _) | (_, Some(_)) => {
                return Err(CliError::input(
                    "--relay-ca: give a file with the CA's certificate alone (one PEM \
                     certificate)",
                ));
            }
        };
        return Ok(Some(RelayPin::of_ca_certificate(&ca)));
    }
    typed
        .map(|t| {
            t.parse::<RelayPin>().map_err(|_| {
                CliError::input(
                    "--relay-pin: give the CA certificate's SHA-256 fingerprint, 64 hex digits \
                     (openssl x509 -in ca.pem -noout -fingerprint -sha256)",
                )
            })
        })
        .transpose()
}

pub(super) fn create(
    ctx: &Ctx,
    relay: &str,
    creation_token: Option<&str>,
    ca_file: Option<&Path>,
    typed_pin: Option<&str>,
) -> Result<Output> {
    let pin = relay_pin(ca_file, typed_pin)?;
    if pin.is_some() && !relay.trim().starts_with("https://") {
        return Err(CliError::input(
            "--relay-ca and --relay-pin are for a relay reached over https://",
        ));
    }
    let mut config = net::sync_config(ctx.insecure_http);
    if let Some(token) = creation_token {
        config.creation_token = Some(CreationToken::new(token));
    }
    let s = net::Session::with_config(ctx.device.open()?, config)?;
    let relay = net::check_relay(&s, relay, pin)?;
    let plain_http = s.client.plain_http();
    let team = s.lock()?.create_team_with(&relay, pin, plain_http)?;
    let info = s.lock()?.team(team)?;
    // One sync registers the team (its signed first entry) and shares what is here.
    let synced = s.rt.block_on(s.client.sync(team));
    let (current, epoch) = {
        let store = s.lock()?;
        (store.current_team() == Some(team), store.epoch(team)?)
    };
    if let Err(e) = synced {
        let why = net::explain(e, &info, Doing::Register);
        return Err(CliError::Sync(format!(
            "team {team} was created on this device but the relay has not taken it yet: {why}"
        )));
    }
    let out = TeamCreated {
        team_id: team,
        relay_url: info.relay_url.clone(),
        relay_pin: info.relay_pin,
        admin_device: s.me.device,
        role: Role::Admin,
        epoch,
        registered: true,
        current,
    };
    let mut text = format!(
        "Team created at {relay}, with this device as its first admin.\n\
         \x20 team id  {team}\n\n\
         To add a colleague's device, make a one-time invite here and let them redeem it:\n\
         \x20 on this device:   holdfast invite create --role link-worker   (or supervisor, admin)\n\
         \x20 on their device:  holdfast invite redeem\n",
        relay = out.relay_url,
    );
    if let Some(pin) = out.relay_pin {
        let _ = writeln!(
            text,
            "The relay is trusted through its own certificate authority only (pin {pin}); \
             every invite code carries that pin."
        );
    }
    if current {
        text.push_str("Records on this device are shared in the team (sent with this first sync).");
    } else {
        text.push_str("This device's records stay in its first team; new records go there too.");
    }
    Output::new(&out, text)
}

#[derive(Serialize)]
struct TeamRow {
    #[serde(flatten)]
    info: TeamInfo,
    current: bool,
    /// This device's role in the team (`None`: not known yet).
    role: Option<Role>,
    /// The team's key epoch as this device knows it.
    epoch: u32,
}

pub(super) fn list(ctx: &Ctx) -> Result<Output> {
    let store = ctx.device.open()?;
    let current = store.current_team();
    let mut rows = Vec::new();
    for info in store.teams()? {
        rows.push(TeamRow {
            current: Some(info.team) == current,
            role: store.role(info.team)?,
            epoch: store.epoch(info.team)?,
            info,
        });
    }
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
                r.role.map_or_else(|| "?".into(), role_words),
                r.epoch.to_string(),
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
        &[
            "TEAM",
            "RELAY",
            "CURRENT",
            "YOUR ROLE",
            "EPOCH",
            "NOTE",
            "LAST PULL",
        ],
        &cells,
    );
    Output::new(&rows, text)
}

#[derive(Serialize)]
struct TeamRole {
    team: TeamId,
    role: Option<Role>,
}

#[derive(Serialize)]
struct DeviceShown {
    device_id: DeviceId,
    public_key: String,
    person: String,
    teams: Vec<TeamRole>,
}

pub(super) fn show_device(ctx: &Ctx) -> Result<Output> {
    let store = ctx.device.open()?;
    let mut teams = Vec::new();
    for t in store.teams()? {
        teams.push(TeamRole {
            team: t.team,
            role: store.role(t.team)?,
        });
    }
    let out = DeviceShown {
        device_id: store.author().device,
        public_key: hex::encode(store.device_public_key()),
        person: store.author().person.clone(),
        teams,
    };
    let mut text = format!(
        "This device ({person})\n\
         \x20 device id   {id}\n\
         \x20 public key  {key}\n",
        person = out.person,
        id = out.device_id,
        key = out.public_key,
    );
    if out.teams.is_empty() {
        text.push_str(
            "\nIn no team yet. To join one, ask one of its admins for an invite code, then run\n\
             \x20 holdfast invite redeem",
        );
    } else {
        text.push('\n');
        for t in &out.teams {
            let _ = writeln!(
                text,
                "  team {}  {}",
                t.team,
                t.role
                    .map_or_else(|| "role not known yet".into(), role_words)
            );
        }
        text.push_str("See `holdfast team list` and `holdfast device list`.");
    }
    Output::new(&out, text)
}

/// Pulls the team's membership so lists and lookups see devices enrolled elsewhere. Returns
/// why it could not, when offline (the list is then what this device last saw).
pub(super) fn refresh(s: &Session, info: &TeamInfo) -> Result<Option<String>> {
    match s.rt.block_on(s.client.sync_access(info.team)) {
        Ok(()) => Ok(None),
        Err(CoreError::Network(_)) => Ok(Some(format!(
            "could not reach the relay at {}: this is the list as this device last saw it",
            info.relay_url
        ))),
        Err(e) => Err(net::explain(e, info, Doing::Sync)),
    }
}

/// A device of the team, with the name oversight knows it by.
#[derive(Serialize)]
struct DeviceRow {
    #[serde(flatten)]
    device: TeamDevice,
    /// The name given to it in a handover (this device: its own person); `None` until then.
    name: Option<String>,
}

#[derive(Serialize)]
struct DeviceList {
    team: TeamId,
    role: Option<Role>,
    epoch: u32,
    devices: Vec<DeviceRow>,
    /// Set when the relay could not be asked: the list is this device's last view.
    stale: Option<String>,
}

pub(super) fn list_devices(ctx: &Ctx, team: Option<&str>) -> Result<Output> {
    let s = ctx.session()?;
    let info = net::select_team(&*s.lock()?, team)?;
    let stale = refresh(&s, &info)?;
    let store = s.lock()?;
    let mut devices = store.devices(info.team)?;
    devices.sort_by_key(|d| (d.added_at, d.device));
    let devices = devices
        .into_iter()
        .map(|device| {
            Ok(DeviceRow {
                name: store.member_name(device.device)?,
                device,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let out = DeviceList {
        team: info.team,
        role: store.role(info.team)?,
        epoch: store.epoch(info.team)?,
        devices,
        stale,
    };
    let text = devices_text(&ctx.clock, &store, &out);
    Output::new(&out, text)
}

fn devices_text(clock: &Clock, store: &Store, out: &DeviceList) -> String {
    let mut text = format!(
        "Team {} (key epoch {}); this device is {}.\n",
        short(&out.team),
        out.epoch,
        out.role.map_or_else(
            || "of a role not known yet".into(),
            |r| a_role(r).to_owned()
        )
    );
    let ms = |at: u64| i64::try_from(at).map_or_else(|_| "?".into(), |v| clock.day_time(v));
    let names = plan_names(store);
    let cells: Vec<Vec<String>> = out
        .devices
        .iter()
        .map(|row| {
            let d = &row.device;
            vec![
                d.device.to_string(),
                row.name.clone().unwrap_or_else(|| "-".into()),
                role_words(d.role),
                d.plan.map_or_else(
                    || "-".into(),
                    |p| match names.get(&p) {
                        Some(n) => format!("{} ({n})", short(&p)),
                        None => short(&p),
                    },
                ),
                if d.added_by == d.device {
                    "(created the team)".into()
                } else {
                    short(&d.added_by)
                },
                ms(d.added_at),
                d.revoked_at.map_or_else(|| "-".into(), ms),
                if d.this_device { "(this device)" } else { "" }.into(),
            ]
        })
        .collect();
    text.push_str(&table(
        &[
            "DEVICE", "NAME", "ROLE", "PLAN", "ADDED BY", "ADDED", "REVOKED", "",
        ],
        &cells,
    ));
    if let Some(why) = &out.stale {
        let _ = write!(text, "\n({why}.)");
    }
    text
}

/// Whose each plan on this device is (from the caseload), for naming patients' devices.
fn plan_names(store: &Store) -> HashMap<DocumentId, String> {
    store
        .caseload(&CaseloadFilter::default())
        .map(|c| {
            c.into_iter()
                .filter_map(|e| e.plan_id.map(|p| (p, e.patient_name)))
                .collect()
        })
        .unwrap_or_default()
}

/// "an admin", "a link worker".
pub(super) fn a_role(role: Role) -> &'static str {
    match role {
        Role::Admin => "an admin",
        Role::Supervisor => "a supervisor",
        Role::LinkWorker => "a link worker",
        Role::Patient => "a patient's device",
    }
}

#[derive(Serialize)]
struct DeviceRevoked {
    team: TeamId,
    device: DeviceId,
    role: Role,
    /// The team's new key epoch: what is written from now on, the revoked device cannot read.
    epoch: u32,
}

pub(super) fn revoke(ctx: &Ctx, device: &str, team: Option<&str>) -> Result<Output> {
    let s = ctx.session()?;
    let info = net::select_team(&*s.lock()?, team)?;
    if let Some(why) = refresh(&s, &info)? {
        return Err(CliError::Sync(format!(
            "{why}; a revocation needs the relay, nothing was changed"
        )));
    }
    let (target, my_role) = {
        let store = s.lock()?;
        let devices = store.devices(info.team)?;
        let id = lookup::pick("device", device, devices.iter().map(|d| d.device))?;
        let target = devices
            .into_iter()
            .find(|d| d.device == id)
            .ok_or_else(|| CliError::input(format!("no device {id} in the team")))?;
        (target, store.role(info.team)?)
    };
    let t = short(&info.team);
    if target.this_device {
        return Err(CliError::input(format!(
            "that is this device: another admin of team {t} must revoke it"
        )));
    }
    if let Some(at) = target.revoked_at {
        let when = i64::try_from(at).map_or_else(|_| "?".into(), |v| ctx.clock.day_time(v));
        return Err(CliError::input(format!(
            "device {} was already revoked from team {t} ({when})",
            target.device
        )));
    }
    match my_role {
        Some(Role::Admin) => {}
        Some(Role::LinkWorker) if target.role == Role::Patient => {}
        Some(Role::LinkWorker) => {
            return Err(CliError::input(format!(
                "a link worker can revoke only a patient's device: ask an admin of team {t} \
                 to revoke {} ({})",
                short(&target.device),
                role_words(target.role)
            )));
        }
        _ => {
            return Err(CliError::input(format!(
                "only an admin of team {t} can revoke devices"
            )));
        }
    }
    let epoch =
        s.rt.block_on(s.client.revoke_device(info.team, target.device))
            .map_err(|e| net::explain(e, &info, Doing::Revoke))?;
    let text = format!(
        "Device {} ({}) is revoked from team {t}.\n\
         The relay refuses it from now on, and the team has moved to key epoch {epoch}: what is\n\
         written from now on, that device cannot read. What it held before stays on it.",
        target.device,
        role_words(target.role)
    );
    Output::new(
        &DeviceRevoked {
            team: info.team,
            device: target.device,
            role: target.role,
            epoch,
        },
        text,
    )
}
