//! The live subscription: a WebSocket per team on which the relay announces its head. When
//! the head passes the device's cursor, or the app reports a local change, the client
//! syncs. A dropped connection is retried with backoff, forever, until the handle drops.

use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;

use futures_util::StreamExt;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

use super::api::LiveFrame;
use super::client::SyncClient;
use crate::model::ids::TeamId;
use crate::{Error, Result};

/// A running live subscription. Dropping it (or [`LiveHandle::stop`]) ends it.
#[derive(Debug)]
pub struct LiveHandle {
    task: JoinHandle<()>,
}

impl LiveHandle {
    /// Ends the subscription.
    pub fn stop(self) {
        self.task.abort();
    }
}

impl Drop for LiveHandle {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Sleeps until `at` (for ever without one: its `select!` branch is off then).
async fn sleep_until_owed(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// What a live session keeps between steps.
struct Light {
    /// When the last full sync started.
    full_at: Instant,
    /// When the last push for a local change started.
    pushed_at: Option<Instant>,
    /// When the relay was last asked about an announcement below the cursor.
    asked_at: Option<Instant>,
    /// A light step was put off (rate limited, or waiting): a full sync is owed then, even
    /// if nothing else happens (the outbox must not wait for the next edit).
    retry_at: Option<Instant>,
}

/// How long after a light step was put off the full sync it owes runs.
const RETRY_AFTER_PUT_OFF: Duration = Duration::from_secs(1);

/// How often an announcement below the cursor is checked with the relay, at most.
const STALE_ASK_EVERY: Duration = Duration::from_secs(1);

/// A light step of a live session.
#[derive(Clone, Copy)]
enum Step {
    /// Push local changes.
    Push,
    /// Pull what the relay announced.
    Pull,
}

/// The relay may go quiet without closing (a dead NAT mapping): it pings every 20 s, so
/// a minute without any frame means the connection is gone.
const SILENCE_LIMIT: Duration = Duration::from_secs(60);

impl SyncClient {
    /// Follows `team` live: syncs at once, then whenever the relay announces a head beyond
    /// the cursor or [`SyncClient::notify_local_change`] is called. Must be called inside a
    /// tokio runtime.
    pub fn live(&self, team: TeamId) -> LiveHandle {
        let client = self.clone();
        LiveHandle {
            task: tokio::spawn(async move { client.live_loop(team).await }),
        }
    }

    async fn live_loop(&self, team: TeamId) {
        let retry = self.config().retry;
        let mut failures = 0u32;
        // Subscribed once, before the first sync and across reconnects: a local change
        // reported while connecting or syncing is seen afterwards, never lost.
        let mut wake = self.wake();
        loop {
            match self.live_session(team, &mut wake).await {
                Ok(()) => failures = 0,
                Err(e) => {
                    tracing::info!(team = %team, error = %e, "live connection lost");
                    failures = failures.saturating_add(1);
                }
            }
            tokio::time::sleep(retry.delay(failures)).await;
        }
    }

    /// One connection: returns when it closes.
    async fn live_session(&self, team: TeamId, wake: &mut watch::Receiver<u64>) -> Result<()> {
        let (base, token) = self.token_for(team).await?;
        let ws_base = if let Some(rest) = base.strip_prefix("https://") {
            format!("wss://{rest}")
        } else if let Some(rest) = base.strip_prefix("http://") {
            format!("ws://{rest}")
        } else {
            return Err(Error::InvalidInput {
                field: "relay URL",
                reason: "must start with http:// or https://".into(),
            });
        };
        let mut request = format!("{ws_base}/v1/teams/{team}/live")
            .into_client_request()
            .map_err(|e| Error::Network(e.to_string()))?;
        // The token in a header, not the URL: URLs end up in logs.
        let bearer = HeaderValue::from_str(&format!("Bearer {token}"))
            .map_err(|_| Error::Network("token is not a valid header".into()))?;
        request.headers_mut().insert("authorization", bearer);
        // The same trust as the client's requests to this relay: a refused certificate
        // ends the session before anything is sent, as it does for a request.
        let connector = self.ws_connector_for(&base).await?;
        let (mut ws, _) =
            tokio_tungstenite::connect_async_tls_with_config(request, None, false, Some(connector))
                .await
                .map_err(|e| match super::tls::refusal(&e) {
                    Some(why) => Error::Tls(why),
                    None => Error::Network(e.to_string()),
                })?;
        tracing::debug!(team = %team, "live connection open");
        // Whatever happened while disconnected, including local changes reported meanwhile.
        wake.mark_unchanged();
        self.sync_quietly(team).await?;
        let mut light = Light {
            full_at: Instant::now(),
            pushed_at: None,
            asked_at: None,
            retry_at: None,
        };
        loop {
            tokio::select! {
                frame = tokio::time::timeout(SILENCE_LIMIT, ws.next()) => {
                    let frame = match frame {
                        Err(_) => return Err(Error::Network("live connection silent".into())),
                        Ok(None) => return Ok(()),
                        Ok(Some(Err(e))) => return Err(Error::Network(e.to_string())),
                        Ok(Some(Ok(frame))) => frame,
                    };
                    match frame {
                        Message::Text(text) => {
                            let Ok(LiveFrame { seq: head }) = serde_json::from_str(text.as_str()) else {
                                tracing::warn!(team = %team, "unexpected live message");
                                continue;
                            };
                            let cursor = self
                                .store()
                                .run(move |s| {
                                    let cursor = s.team(team)?.cursor;
                                    if head > cursor {
                                        s.note_head(team, head)?;
                                    }
                                    Ok(cursor)
                                })
                                .await?;
                            if head > cursor {
                                self.light_step(team, Step::Pull, &mut light).await?;
                            } else if head < cursor
                                && light.asked_at.is_none_or(|at| at.elapsed() >= STALE_ASK_EVERY)
                            {
                                // Usually sent before a pull that got past it, and read
                                // after: stale. Asked again, a head still below the cursor
                                // is a relay that lost what this device pulled (restored
                                // from a backup): `head` rewinds the team, and it is pulled
                                // again (one request, not a download of the whole team, and
                                // at most one a second: a device pulling as fast as another
                                // pushes reads many stale announcements).
                                light.asked_at = Some(Instant::now());
                                if self.head(team).await? < cursor {
                                    light.full_at = Instant::now();
                                    self.sync_quietly(team).await?;
                                }
                            }
                        }
                        Message::Close(_) => return Ok(()),
                        // Pings are answered by tungstenite; nothing else is expected.
                        _ => {}
                    }
                }
                () = sleep_until_owed(light.retry_at), if light.retry_at.is_some() => {
                    light.retry_at = None;
                    light.full_at = Instant::now();
                    self.sync_quietly(team).await?;
                }
                changed = wake.changed() => {
                    if changed.is_err() {
                        return Ok(());
                    }
                    // Changes reported until the interval since the last push is up go
                    // out in one push.
                    if let Some(at) = light.pushed_at {
                        tokio::time::sleep_until(at + self.config().live_push_interval).await;
                    }
                    wake.mark_unchanged();
                    light.pushed_at = Some(Instant::now());
                    self.light_step(team, Step::Push, &mut light).await?;
                }
            }
        }
    }

    /// One step of a live session: `step` on its own, or a full sync when one is due
    /// ([`SyncConfig::live_full_sync_every`](super::SyncConfig)) or the step failed.
    async fn light_step(&self, team: TeamId, step: Step, light: &mut Light) -> Result<()> {
        if light.full_at.elapsed() >= self.config().live_full_sync_every {
            light.full_at = Instant::now();
            return self.sync_quietly(team).await;
        }
        let done = match step {
            Step::Push => self.recorded(team, self.push(team)).await.map(|_| ()),
            Step::Pull => self.recorded(team, self.pull(team)).await.map(|_| ()),
        };
        match done {
            Ok(()) => Ok(()),
            // Told to slow down (its retries spent) or to wait: more requests now would be
            // refused too. A full sync follows a little later, whatever else happens.
            Err(e @ (Error::Relay { status: 429, .. } | Error::TryAgain(_))) => {
                tracing::debug!(team = %team, error = %e, "light sync step put off");
                light.retry_at = Some(Instant::now() + RETRY_AFTER_PUT_OFF);
                Ok(())
            }
            Err(e) => {
                // An epoch moved on, private notes it may no longer write, a relay that
                // stumbled: the full sync learns what changed, and says whether the relay
                // is still there.
                tracing::debug!(team = %team, error = %e, "light sync step failed: full sync");
                light.full_at = Instant::now();
                light.retry_at = None;
                self.sync_quietly(team).await
            }
        }
    }

    /// Syncs; a relay that cannot be reached ends the session (to reconnect with backoff),
    /// any other failure is recorded in the status and the session goes on.
    async fn sync_quietly(&self, team: TeamId) -> Result<()> {
        match self.sync(team).await {
            Ok(_) => Ok(()),
            Err(e @ Error::Network(_)) => Err(e),
            Err(e @ Error::Relay { status, .. }) if status >= 500 => Err(e),
            Err(_) => Ok(()),
        }
    }
}
