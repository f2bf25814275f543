//! Invites: a one-time code for a colleague's device (`invite create`), for a patient's own
//! device to their plan (`plan share`), and joining a team with one (`invite redeem`).
//!
//! A code is single use and short lived; whoever holds it joins the team with the role it
//! names, so it is shown for handing over in person and never echoed back in errors.

use std::io::{BufRead as _, IsTerminal as _, Write as _};

use holdfast_core::access::{InviteStatus, TeamInvite};
use holdfast_core::model::ids::{DeviceId, DocumentId};
use holdfast_core::store::{CaseloadFilter, TeamInfo};
use holdfast_core::sync::Role;
use holdfast_core::{Error as CoreError, Store, TeamId};
use holdfast_protocol::InviteCode;
use serde::Serialize;

use super::Ctx;
use super::team::{a_role, refresh, role_grants, role_words};
use crate::clock::Clock;
use crate::error::{CliError, Result};
use crate::lookup;
use crate::net::{self, Doing, Session};
use crate::output::{Output, count, short, table};

/// The warning printed with every code.
const CODE_WARNING: &str =
    "Whoever has this code can join the team until it is used or expires: show it on screen
or hand it over in person, never by email, message or a shared drive.";

#[derive(Serialize)]
struct InviteMade {
    team: TeamId,
    relay_url: String,
    role: Role,
    /// For a patient's invite: the plan it grants.
    plan: Option<DocumentId>,
    /// Until when it can be redeemed (ms since the Unix epoch).
    expires_at_ms: u64,
    /// The code to hand over (single use).
    code: String,
}

fn minutes_ms(minutes: u64) -> u64 {
    minutes.saturating_mul(60_000)
}

/// Until when, in words ("14:32 on Tue 3 Jun 2025 (15 minutes)").
fn until(clock: &Clock, expires_at_ms: u64, minutes: u64) -> String {
    let when = i64::try_from(expires_at_ms).map_or_else(|_| "?".into(), |v| clock.day_time(v));
    let n = |v: u64| usize::try_from(v).unwrap_or(usize::MAX);
    let span = if minutes.is_multiple_of(24 * 60) {
        count(n(minutes / (24 * 60)), "day", "days")
    } else if minutes.is_multiple_of(60) {
        count(n(minutes / 60), "hour", "hours")
    } else {
        count(n(minutes), "minute", "minutes")
    };
    format!("{when} ({span} from now)")
}

/// The expiry written in the code (it is the one the team's log holds).
fn expiry_of(clock: &Clock, code: &str, minutes: u64) -> u64 {
    InviteCode::decode(code).map_or_else(
        |_| now_ms(clock).saturating_add(minutes_ms(minutes)),
        |c| c.expires_at_ms,
    )
}

fn now_ms(clock: &Clock) -> u64 {
    u64::try_from(clock.now_millis()).unwrap_or(0)
}

/// Refuses, before anything is sent, what this device's role may not invite.
fn check_may_invite(store: &Store, info: &TeamInfo, role: Role) -> Result<()> {
    let t = short(&info.team);
    match (store.role(info.team)?, role) {
        (Some(Role::Admin), _) => Ok(()),
        (Some(Role::LinkWorker), Role::LinkWorker | Role::Patient) => Ok(()),
        (Some(Role::LinkWorker), other) => Err(CliError::input(format!(
            "a link worker can invite only a second device of their own (--role link-worker) \
             or a patient's device (`holdfast plan share`): ask an admin of team {t} to invite \
             {}",
            match other {
                Role::Admin => "an admin",
                _ => "a supervisor",
            }
        ))),
        (Some(Role::Supervisor), _) => Err(CliError::input(format!(
            "a supervisor cannot invite devices: ask an admin of team {t}"
        ))),
        (Some(Role::Patient), _) => Err(CliError::input(
            "a patient's device cannot invite other devices",
        )),
        (None, _) => Err(CliError::input(format!(
            "this device's role in team {t} is not known yet: run `holdfast sync` first"
        ))),
    }
}

pub(super) fn create(ctx: &Ctx, role: Role, team: Option<&str>, minutes: u64) -> Result<Output> {
    let s = ctx.session()?;
    let info = {
        let store = s.lock()?;
        let info = net::select_team(&store, team)?;
        check_may_invite(&store, &info, role)?;
        info
    };
    let code =
        s.rt.block_on(
            s.client
                .create_invite(info.team, role, None, minutes_ms(minutes)),
        )
        .map_err(|e| net::explain(e, &info, Doing::Invite))?;
    let out = InviteMade {
        team: info.team,
        relay_url: info.relay_url.clone(),
        role,
        plan: None,
        expires_at_ms: expiry_of(&ctx.clock, &code, minutes),
        code,
    };
    let text = format!(
        "One-time invite to team {t} for {a} device: it may {grants}.\n\
         Valid once, until {until}.\n\n\
         \x20 {code}\n\n\
         On their device:  holdfast invite redeem   (then paste the code)\n\
         {CODE_WARNING}",
        t = short(&info.team),
        a = match role {
            Role::Admin => "an admin's",
            Role::Supervisor => "a supervisor's",
            Role::LinkWorker => "a link worker's",
            Role::Patient => "a patient's",
        },
        grants = role_grants(role),
        until = until(&ctx.clock, out.expires_at_ms, minutes),
        code = out.code,
    );
    Output::new(&out, text)
}

pub(super) fn share_plan(ctx: &Ctx, typed: &str, minutes: u64) -> Result<Output> {
    let s = ctx.session()?;
    let (info, plan, patient) = {
        let mut store = s.lock()?;
        let plan = lookup::plan(&mut store, typed)?;
        let team = store.document_team(plan)?.ok_or_else(|| {
            CliError::input(
                "this plan is in no team yet, so there is nothing to share it through: start \
                 one with `holdfast team create --relay URL`",
            )
        })?;
        let info = store.team(team)?;
        check_may_invite(&store, &info, Role::Patient)?;
        let patient = store
            .caseload(&CaseloadFilter::default())?
            .into_iter()
            .find(|e| e.plan_id == Some(plan))
            .map(|e| e.patient_name);
        (info, plan, patient)
    };
    let code =
        s.rt.block_on(s.client.share_plan(plan, minutes_ms(minutes)))
            .map_err(|e| net::explain(e, &info, Doing::Invite))?;
    let out = InviteMade {
        team: info.team,
        relay_url: info.relay_url.clone(),
        role: Role::Patient,
        plan: Some(plan),
        expires_at_ms: expiry_of(&ctx.clock, &code, minutes),
        code,
    };
    let whose = patient.map_or_else(String::new, |n| format!("{n}'s "));
    let text = format!(
        "One-time invite for {whose}own device to their action plan {p}: it may read and write\n\
         this plan, and nothing else of team {t}'s. Valid once, until {until}.\n\n\
         \x20 {code}\n\n\
         On their device:  holdfast invite redeem   (then paste the code)\n\
         {CODE_WARNING}\n\
         To stop sharing later: `holdfast device list`, then `holdfast device revoke DEVICE`.",
        p = short(&plan),
        t = short(&info.team),
        until = until(&ctx.clock, out.expires_at_ms, minutes),
        code = out.code,
    );
    Output::new(&out, text)
}

#[derive(Serialize)]
struct Redeemed {
    team: TeamId,
    relay_url: String,
    device_id: DeviceId,
    role: Role,
    /// For a patient's device: the plan it reads.
    plan: Option<DocumentId>,
    /// The team's key epoch.
    epoch: u32,
}

/// The code from the command line, HOLDFAST_INVITE, or standard input, without white space.
fn read_code(typed: Option<String>) -> Result<String> {
    let raw = match typed {
        Some(c) if c.trim() != "-" => c,
        _ => {
            let stdin = std::io::stdin();
            if stdin.is_terminal() {
                eprint!("Paste the invite code and press Enter: ");
                let _ = std::io::stderr().flush();
            }
            let mut line = String::new();
            stdin
                .lock()
                .read_line(&mut line)
                .map_err(|e| CliError::file("reading the invite code", e))?;
            line
        }
    };
    let code: String = raw.split_whitespace().collect();
    if code.is_empty() {
        return Err(CliError::input(
            "no invite code: give it as CODE, in HOLDFAST_INVITE, or on standard input",
        ));
    }
    Ok(code)
}

pub(super) fn redeem(ctx: &Ctx, typed: Option<String>) -> Result<Output> {
    let text = read_code(typed)?;
    // The format is checked here, before anything is sent; the code itself is never echoed.
    let code =
        InviteCode::decode(&text).map_err(|e| CliError::input(format!("invite refused: {e}")))?;
    let team = code.team;
    if code.expires_at_ms < now_ms(&ctx.clock) {
        let when = i64::try_from(code.expires_at_ms)
            .map_or_else(|_| "?".into(), |v| ctx.clock.day_time(v));
        return Err(CliError::input(format!(
            "invite refused: it expired at {when}: ask for a new one"
        )));
    }
    let s = ctx.session()?;
    if s.lock()?.teams()?.iter().any(|t| t.team == team) {
        let role = s.lock()?.role(team)?;
        return Err(CliError::input(format!(
            "this device is already in team {}{}: the invite was not used",
            short(&team),
            role.map_or_else(String::new, |r| format!(" (as {})", role_words(r)))
        )));
    }
    let relay = net::check_relay(&s, &code.relay_url, code.relay_pin)?;
    let joined =
        s.rt.block_on(s.client.redeem_invite(ctx.device.keys(), &text));
    let info = s.lock()?.teams()?.into_iter().find(|t| t.team == team);
    match (joined, info) {
        (Ok(enrolled), Some(info)) if enrolled.first_sync.is_ok() => redeemed(&s, &info),
        // Enrolled, but the first sync did not finish: the next `holdfast sync` carries on.
        (Ok(enrolled), Some(info)) => Err(CliError::Sync(format!(
            "this device joined team {} but its first sync did not finish ({}): run \
             `holdfast sync`",
            short(&info.team),
            enrolled.first_sync.err().unwrap_or_default()
        ))),
        (Ok(_), None) => Err(CliError::Sync(format!(
            "the relay took the invite but team {} is not on this device: please report it",
            short(&team)
        ))),
        // Enrolled, but the first sync did not finish: the next `holdfast sync` carries on.
        (Err(e), Some(info)) => {
            let why = net::explain(e, &info, Doing::Sync);
            Err(CliError::Sync(format!(
                "this device joined team {} but its first sync did not finish ({why}): run \
                 `holdfast sync`",
                short(&team)
            )))
        }
        // The relay may have taken the Redeem and the answer been lost: this device keeps
        // what it sent, and the same command with the same code finishes the job.
        (Err(CoreError::Network(m)), None) => Err(CliError::Sync(format!(
            "cannot reach the relay at {relay} ({}): run `holdfast invite redeem` again with \
             the same code once online",
            m.rsplit(": ").next().unwrap_or(&m)
        ))),
        (Err(e @ CoreError::InviteRefused(_)), None) => Err(CliError::Sync(format!(
            "{e}: nothing was changed on this device"
        ))),
        (Err(e), None) => Err(CliError::Sync(format!(
            "the invite could not be redeemed ({e}): nothing was changed on this device"
        ))),
    }
}

fn redeemed(s: &Session, info: &TeamInfo) -> Result<Output> {
    let store = s.lock()?;
    let role = store.role(info.team)?.ok_or_else(|| {
        CliError::Sync("joined, but this device's role was not recorded: please report it".into())
    })?;
    let out = Redeemed {
        team: info.team,
        relay_url: info.relay_url.clone(),
        device_id: s.me.device,
        role,
        plan: store.access(info.team)?.plan,
        epoch: store.epoch(info.team)?,
    };
    let mut text = format!(
        "Joined team {} at {} as {}: this device may {}.\n",
        info.team,
        info.relay_url,
        a_role(role),
        role_grants(role)
    );
    if let Some(plan) = out.plan {
        text.push_str(&format!(
            "The plan is here now (`holdfast plan show {}`); `holdfast sync` keeps it up to date.",
            short(&plan)
        ));
    } else {
        let cases = store.caseload(&CaseloadFilter::default())?.len();
        text.push_str(&format!(
            "The team's records are here now ({} in `holdfast caseload`); `holdfast sync` keeps \
             them up to date.",
            count(cases, "case", "cases")
        ));
    }
    Output::new(&out, text)
}

#[derive(Serialize)]
struct InviteList {
    team: TeamId,
    invites: Vec<TeamInvite>,
    /// Set when the relay could not be asked: the list is this device's last view.
    stale: Option<String>,
}

pub(super) fn list(ctx: &Ctx, team: Option<&str>) -> Result<Output> {
    let s = ctx.session()?;
    let info = net::select_team(&*s.lock()?, team)?;
    let stale = refresh(&s, &info)?;
    let out = InviteList {
        team: info.team,
        invites: s.lock()?.invites(info.team)?,
        stale,
    };
    let ms = |at: u64| i64::try_from(at).map_or_else(|_| "?".into(), |v| ctx.clock.day_time(v));
    let mut text = format!("Invites of team {}:\n", short(&info.team));
    if out.invites.is_empty() {
        text = format!("Team {} has no invites.\n", short(&info.team));
    } else {
        let cells: Vec<Vec<String>> = out
            .invites
            .iter()
            .map(|i| {
                vec![
                    i.invite.clone(),
                    role_words(i.role),
                    i.plan.map_or_else(|| "-".into(), |p| short(&p)),
                    short(&i.created_by),
                    ms(i.expires_at),
                    match i.status {
                        InviteStatus::Pending => "pending".into(),
                        InviteStatus::Redeemed(d) => format!("redeemed by {}", short(&d)),
                        InviteStatus::Cancelled(d) => format!("cancelled by {}", short(&d)),
                        InviteStatus::Expired => "expired".into(),
                    },
                ]
            })
            .collect();
        text.push_str(&table(
            &["INVITE", "ROLE", "PLAN", "MADE BY", "EXPIRES", "STATUS"],
            &cells,
        ));
    }
    if let Some(why) = &out.stale {
        text.push_str(&format!("\n({why}.)"));
    }
    Output::new(&out, text)
}

#[derive(Serialize)]
struct InviteCancelled {
    team: TeamId,
    invite: String,
}

pub(super) fn cancel(ctx: &Ctx, typed: &str, team: Option<&str>) -> Result<Output> {
    let s = ctx.session()?;
    let info = net::select_team(&*s.lock()?, team)?;
    if let Some(why) = refresh(&s, &info)? {
        return Err(CliError::Sync(format!(
            "{why}; cancelling an invite needs the relay, nothing was changed"
        )));
    }
    let invites = s.lock()?.invites(info.team)?;
    // The code itself names its invite too. It is never echoed back, even garbled.
    let wanted = match InviteCode::decode(typed.trim()) {
        Ok(c) => hex::encode(c.id().0),
        Err(_) if typed.trim().starts_with("HF1-") => {
            return Err(CliError::input(
                "that invite code does not read (a character lost in copying?): give the \
                 invite's id instead (see `holdfast invite list`)",
            ));
        }
        Err(_) => typed.to_owned(),
    };
    let id = lookup::pick("invite", &wanted, invites.iter().map(|i| i.invite.as_str()))?;
    let invite = invites
        .iter()
        .find(|i| i.invite == id)
        .ok_or_else(|| CliError::input(format!("no invite {id} in the team")))?;
    match invite.status {
        InviteStatus::Pending => {}
        InviteStatus::Redeemed(d) => {
            return Err(CliError::input(format!(
                "invite {} was already redeemed by device {}: revoke that device instead \
                 (`holdfast device revoke {}`)",
                short(&id),
                short(&d),
                short(&d)
            )));
        }
        InviteStatus::Cancelled(_) => {
            return Err(CliError::input(format!(
                "invite {} was already cancelled",
                short(&id)
            )));
        }
        InviteStatus::Expired => {
            return Err(CliError::input(format!(
                "invite {} has expired already: nobody can redeem it",
                short(&id)
            )));
        }
    }
    s.rt.block_on(s.client.cancel_invite(info.team, id))
        .map_err(|e| net::explain(e, &info, Doing::Cancel))?;
    let out = InviteCancelled {
        team: info.team,
        invite: id.to_owned(),
    };
    let text = format!(
        "Cancelled invite {} to team {}: its code no longer works, and the keys left for it \
         are deleted from the relay.",
        short(&id),
        short(&info.team)
    );
    Output::new(&out, text)
}
