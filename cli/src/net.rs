//! Talking to a relay from the command line: a tokio runtime for the core's sync client, the
//! client's settings, a health check before a team is made or joined, and sync errors
//! worded for the person at the keyboard (what happened, what to do next).

use std::time::Duration;

use holdfast_core::model::ids::DeviceId;
use holdfast_core::store::TeamInfo;
use holdfast_core::sync::RetryPolicy;
use holdfast_core::sync::{CreationToken, RelayPin};
use holdfast_core::{SharedStore, Store, SyncClient, SyncConfig};
use tokio::runtime::Runtime;

use crate::error::{CliError, Result};
use crate::lookup;
use crate::output::short;

/// A runtime for the sync client (and, in the demo, the relay).
pub fn runtime() -> Result<Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| CliError::file("starting the network runtime", e))
}

/// Where a relay operator's team-creation token is read from (`holdfast team create
/// --creation-token` overrides it): only a relay that does not let anyone create teams needs
/// one, and only when this device registers a team it created.
pub const CREATION_TOKEN_VAR: &str = "HOLDFAST_CREATION_TOKEN";

/// The client's settings on the command line: a person is waiting, so an unreachable relay
/// is reported after a few seconds rather than retried for long. `insecure_http`: plain
/// http:// to a relay on any host (`--insecure-http-to-any-host`).
pub fn sync_config(insecure_http: bool) -> SyncConfig {
    SyncConfig {
        insecure_http_to_any_host: insecure_http,
        retry: RetryPolicy {
            base: Duration::from_millis(200),
            max_delay: Duration::from_secs(2),
            attempts: 4,
        },
        request_timeout: Duration::from_secs(20),
        creation_token: std::env::var(CREATION_TOKEN_VAR)
            .ok()
            .filter(|t| !t.trim().is_empty())
            .map(|t| CreationToken::new(&t)),
        ..SyncConfig::default()
    }
}

/// This device as the relay knows it.
#[derive(Debug, Clone, Copy)]
pub struct Me {
    /// The device id.
    pub device: DeviceId,
}

impl Me {
    /// The device of `store`.
    pub fn of(store: &Store) -> Self {
        Me {
            device: store.author().device,
        }
    }
}

/// An open store shared with a sync client, and the runtime the client runs on.
#[derive(Debug)]
pub struct Session {
    /// The client's runtime: `rt.block_on(client.sync(team))`.
    pub rt: Runtime,
    /// The store, shared with the client.
    pub store: SharedStore,
    /// The sync client.
    pub client: SyncClient,
    /// This device.
    pub me: Me,
}

impl Session {
    /// Shares `store` with a new sync client (`insecure_http`: see [`sync_config`]).
    pub fn new(store: Store, insecure_http: bool) -> Result<Self> {
        Self::with_config(store, sync_config(insecure_http))
    }

    /// Shares `store` with a new sync client set up with `config`.
    pub fn with_config(store: Store, config: SyncConfig) -> Result<Self> {
        let me = Me::of(&store);
        let rt = runtime()?;
        let store = SharedStore::new(store);
        let client = {
            let _inside = rt.enter();
            SyncClient::new(store.clone(), config)?
        };
        Ok(Session {
            rt,
            store,
            client,
            me,
        })
    }

    /// Locks the store for a read or an edit (never while the runtime is syncing it from
    /// this thread: the client takes the same lock).
    pub fn lock(&self) -> Result<std::sync::MutexGuard<'_, Store>> {
        Ok(self.store.lock()?)
    }
}

/// The teams a command works on: the one typed (id or a prefix of it), or every team.
pub fn select_teams(store: &Store, typed: Option<&str>) -> Result<Vec<TeamInfo>> {
    let teams = store.teams()?;
    if teams.is_empty() {
        return Err(CliError::input(NO_TEAM));
    }
    match typed {
        None => Ok(teams),
        Some(t) => {
            let id = lookup::pick("team", t, teams.iter().map(|i| i.team))?;
            Ok(teams.into_iter().filter(|i| i.team == id).collect())
        }
    }
}

/// The one team a command works on: the one typed, or the device's current team.
pub fn select_team(store: &Store, typed: Option<&str>) -> Result<TeamInfo> {
    if typed.is_none()
        && let Some(current) = store.current_team()
    {
        return Ok(store.team(current)?);
    }
    let mut teams = select_teams(store, typed)?;
    match teams.len() {
        1 => Ok(teams.remove(0)),
        _ => Err(CliError::input(
            "this device is in several teams: say which with --team ID (see `holdfast team list`)",
        )),
    }
}

/// What to say when the device is in no team.
pub const NO_TEAM: &str = "this device is in no team yet, so nothing is shared: start one with \
`holdfast team create --relay URL`, or join one with an invite code from its admin: \
`holdfast invite redeem` (see `holdfast team --help`)";

/// [`NO_TEAM`] as a sentence of its own.
pub fn no_team_sentence() -> String {
    let mut c = NO_TEAM.chars();
    let first: String = c
        .next()
        .map(|f| f.to_uppercase().collect())
        .unwrap_or_default();
    format!("{first}{}.", c.as_str())
}

/// Checks a relay address and that a relay answers there, before anything is changed on
/// this device, trusting its certificate as the team will (through `pin`, the CA of a
/// self-hosted relay, or else the platform's roots). Returns the address without a trailing
/// slash.
pub fn check_relay(s: &Session, url: &str, pin: Option<RelayPin>) -> Result<String> {
    let trimmed = url.trim().trim_end_matches('/').to_owned();
    let unchanged = "nothing was changed on this device";
    match s.rt.block_on(s.client.check_relay(&trimmed, pin)) {
        Ok(base) => Ok(base),
        Err(holdfast_core::Error::InvalidInput { reason, .. }) => Err(CliError::input(format!(
            "--relay: {trimmed:?} {reason} (e.g. https://relay.example.org, or \
             http://127.0.0.1:7878 for a relay on this computer)"
        ))),
        Err(holdfast_core::Error::Tls(why)) => Err(CliError::Sync(format!(
            "no secure connection to a relay at {trimmed}: {why}. {}; {unchanged}",
            UNTRUSTED_ADVICE
        ))),
        Err(holdfast_core::Error::Network(m)) => Err(CliError::Sync(format!(
            "cannot reach a relay at {trimmed} ({}): check the address and that the relay is \
             running; {unchanged}",
            innermost(&m)
        ))),
        Err(holdfast_core::Error::Relay { status: 503, .. }) => Err(CliError::Sync(format!(
            "the relay at {trimmed} is not ready (it answered 503): try again shortly; \
             {unchanged}"
        ))),
        Err(holdfast_core::Error::Relay { status, .. }) => Err(CliError::Sync(format!(
            "{trimmed} answered {status} to a health check: is it a Holdfast relay? \
             {unchanged}"
        ))),
        Err(e) => Err(CliError::Sync(format!("{e}; {unchanged}"))),
    }
}

/// What to do about a relay certificate this device refused.
const UNTRUSTED_ADVICE: &str = "Someone may be intercepting the connection (public Wi-Fi, a \
captive portal), or the relay's certificate is wrong or out of date: do not work around it; \
try another network, or tell the relay's administrator";

/// The last part of a network error the core wrote as "a: b: c".
fn innermost(message: &str) -> &str {
    message.rsplit(": ").next().unwrap_or(message)
}

/// What was being done when the relay said no.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Doing {
    /// Registering a new team.
    Register,
    /// Making an invite (or sharing a plan).
    Invite,
    /// Revoking a device.
    Revoke,
    /// Cancelling an invite.
    Cancel,
    /// Pushing and pulling (and reading the membership).
    Sync,
}

/// A sync client error, worded with what to do about it.
pub fn explain(e: holdfast_core::Error, team: &TeamInfo, doing: Doing) -> CliError {
    use holdfast_core::Error as E;
    let relay = &team.relay_url;
    let t = short(&team.team);
    let kept = match doing {
        Doing::Sync => "; nothing is lost: changes wait on this device until the next sync",
        Doing::Register => "; `holdfast sync` registers the team once the relay can be reached",
        Doing::Invite => "; no invite was made",
        Doing::Revoke => "; the device is not revoked yet: try again once the relay answers",
        Doing::Cancel => "; the invite is not cancelled yet: try again once the relay answers",
    };
    let message = match &e {
        E::Network(m) => format!("cannot reach the relay at {relay} ({}){kept}", innermost(m)),
        E::Tls(why) => {
            format!("no secure connection to the relay at {relay}: {why}. {UNTRUSTED_ADVICE}{kept}")
        }
        E::InvalidInput {
            field: "relay URL",
            reason,
        } => format!("team {t}: the relay address {relay} {reason}{kept}"),
        // The device's own checks (role, the last admin, a device already revoked) and a
        // revocation noticed while syncing: the core's words are the ones to show.
        E::NotAllowed(m) => format!("team {t}: {m}"),
        E::InviteRefused(_) => e.to_string(),
        E::Relay { code, .. } if code == "not_allowed" => {
            format!("team {t}: the relay refused: your role in the team does not allow this ({e})")
        }
        E::Relay { code, .. } if code == "membership_conflict" => format!(
            "team {t}: another device changed the team's membership at the same moment: \
             try again{kept}"
        ),
        E::Relay { code, .. } if code == "team_creation_refused" => format!(
            "the relay at {relay} creates teams only with a team-creation token from its \
             operator ({e}): ask them for one, then register team {t} with \
             `{CREATION_TOKEN_VAR}=TOKEN holdfast sync`"
        ),
        // 401: the relay knows the device in no team; 403 (and Revoked): not (or no longer)
        // in this one.
        E::Revoked { .. }
        | E::Relay {
            status: 401 | 403, ..
        } => format!(
            "the relay at {relay} does not accept this device in team {t} (it was revoked, or \
             never enrolled): an admin of the team can invite it again (`holdfast invite \
             create`), to be redeemed in a new --home"
        ),
        E::Relay { code, .. } if code == "team_exists" => format!(
            "the relay at {relay} already has a team {t} with a different first entry: this \
             team cannot be registered there"
        ),
        E::Unverified { .. } => format!(
            "the relay at {relay} served team {t} data that does not verify: nothing of it \
             was stored ({e})"
        ),
        E::Relay { status, .. } if *status >= 500 || *status == 429 => {
            format!("the relay at {relay} could not help right now ({e}){kept}")
        }
        _ => format!("team {t}: {e}"),
    };
    CliError::Sync(message)
}
