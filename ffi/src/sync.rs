//! Sync: in the background while the app is open, or now on request, and its status.

use holdfast_core::TeamId;
use holdfast_core::store::StoreEvent;
use holdfast_core::sync::SyncStatus;

use crate::device::{HoldfastDevice, parse_id};
use crate::error::Result;

/// How a team's sync stands, for the status line of the app.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct SyncStatusView {
    /// The team.
    pub team_id: String,
    /// Changes made here and not yet confirmed by the relay.
    pub pending_changes: u64,
    /// Everything made here is confirmed stored by the relay.
    pub everything_uploaded: bool,
    /// Last successful push (ms since the Unix epoch).
    pub last_push_ms: Option<i64>,
    /// Last successful pull (ms since the Unix epoch).
    pub last_pull_ms: Option<i64>,
    /// The last attempt could not reach the relay.
    pub offline: bool,
    /// The last error, if the last attempt failed (codes and ids, no patient data).
    pub last_error: Option<String>,
}

impl From<SyncStatus> for SyncStatusView {
    fn from(s: SyncStatus) -> Self {
        SyncStatusView {
            team_id: s.team.to_string(),
            pending_changes: s.pending_outbox,
            everything_uploaded: s.everything_uploaded,
            last_push_ms: s.last_push_at,
            last_pull_ms: s.last_pull_at,
            offline: s.offline,
            last_error: s.last_error,
        }
    }
}

/// What one sync of one team did.
#[derive(Debug, Clone, uniffi::Record)]
pub struct SyncOutcome {
    /// The team.
    pub team_id: String,
    /// Envelopes the relay confirmed.
    pub pushed: u64,
    /// Envelopes received and applied.
    pub pulled: u64,
    /// Why it failed, if it did (the device keeps working offline).
    pub error: Option<String>,
}

impl HoldfastDevice {
    fn team_ids(&self) -> Result<Vec<TeamId>> {
        Ok(self.store()?.teams()?.into_iter().map(|t| t.team).collect())
    }
}

#[uniffi::export]
impl HoldfastDevice {
    /// Syncs every team now (or only `team`): push what is pending, pull what is new.
    /// Failures are reported per team, not thrown: offline is normal.
    pub fn sync_now(&self, team: Option<String>) -> Result<Vec<SyncOutcome>> {
        let teams = match team {
            Some(t) => vec![parse_id("team", &t)?],
            None => self.team_ids()?,
        };
        let mut out = Vec::with_capacity(teams.len());
        for team in teams {
            let outcome = match self.block_on(self.client.sync(team)) {
                Ok(r) => SyncOutcome {
                    team_id: team.to_string(),
                    pushed: r.push.acknowledged as u64,
                    pulled: r.pull.applied as u64,
                    error: None,
                },
                Err(e) => SyncOutcome {
                    team_id: team.to_string(),
                    pushed: 0,
                    pulled: 0,
                    error: Some(e.to_string()),
                },
            };
            out.push(outcome);
        }
        Ok(out)
    }

    /// Starts background sync: each team follows the relay live (a WebSocket), and local
    /// changes are pushed as they are made. Reconnects on its own. Idempotent.
    pub fn start_sync(&self) -> Result<()> {
        let teams = self.team_ids()?;
        let mut live = self
            .live
            .lock()
            .map_err(|_| crate::error::HoldfastError::internal("sync state poisoned"))?;
        live.clear();
        let _inside = self.rt.enter();
        for team in teams {
            live.push(self.client.live(team));
        }
        // Local edits wake the live loops (remote changes do not: they came from there).
        let client = self.client.clone();
        let mut events = self.store()?.subscribe();
        let pusher = self.rt.spawn(async move {
            loop {
                match events.recv().await {
                    Ok(StoreEvent::LocalChange)
                    | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                        client.notify_local_change();
                    }
                    Ok(_) => {}
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
                }
            }
        });
        *self
            .pusher
            .lock()
            .map_err(|_| crate::error::HoldfastError::internal("sync state poisoned"))? =
            Some(pusher);
        Ok(())
    }

    /// Stops background sync (the app goes to the background). Nothing is lost: what is
    /// pending goes with the next sync.
    pub fn stop_sync(&self) -> Result<()> {
        self.live
            .lock()
            .map_err(|_| crate::error::HoldfastError::internal("sync state poisoned"))?
            .clear();
        if let Some(p) = self
            .pusher
            .lock()
            .map_err(|_| crate::error::HoldfastError::internal("sync state poisoned"))?
            .take()
        {
            p.abort();
        }
        Ok(())
    }

    /// How `team`'s sync stands (the current team when null).
    pub fn sync_status(&self, team: Option<String>) -> Result<SyncStatusView> {
        let team = self.team_or_current(team)?;
        Ok(self.store()?.sync_status(team)?.into())
    }
}
