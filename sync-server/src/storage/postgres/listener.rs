//! The notification listener: one dedicated connection per relay process that `LISTEN`s on
//! [`CHANNEL`] and feeds [`TeamHeads::publish`] with the head of every commit, whichever
//! relay made it (its own included: publishing twice is harmless, heads only grow).
//!
//! A notification is `<team hex> <head> <schema>`. Relays on other schemas of the same
//! database (another deployment, or another test) notify on the same channel; their
//! notifications are ignored.
//!
//! PostgreSQL delivers notifications only to connections listening when the notifying
//! transaction commits. So when the connection is lost (the server restarted, a failover,
//! a network cut), commits made until a new connection listens are never announced: after
//! reconnecting (with backoff) the listener `LISTEN`s first, then reads the current head of
//! every team someone watches and publishes it. A heartbeat query finds a connection that
//! died without a word (TCP keepalives alone take minutes).

use std::future::poll_fn;
use std::sync::Arc;
use std::time::Duration;

use holdfast_protocol::TeamId;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio_postgres::{AsyncMessage, Client, Config, NoTls, Notification};

use super::{Shared, pg_error};
use crate::storage::{Result, TeamHeads};

/// The channel every relay of a database notifies new heads on.
pub const CHANNEL: &str = "holdfast_heads";

/// How often the listener checks its connection is alive.
const HEARTBEAT: Duration = Duration::from_secs(10);
/// How long the heartbeat query may take before the connection counts as lost.
const HEARTBEAT_TIMEOUT: Duration = Duration::from_secs(10);
/// The first wait before reconnecting, doubled after each failure up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
/// The longest wait between two attempts to reconnect.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// The listener connection's `application_name` (PostgreSQL keeps the first 63 bytes).
pub(super) fn application_name(schema: &str) -> String {
    let mut name = format!("holdfast-relay listener {schema}");
    if name.len() > 63 {
        let mut end = 63;
        while !name.is_char_boundary(end) {
            end -= 1;
        }
        name.truncate(end);
    }
    name
}

/// The payload announcing that `team`'s head is `head` in `schema`.
pub(super) fn payload(team: TeamId, head: u64, schema: &str) -> String {
    format!("{} {head} {schema}", hex::encode(team.0))
}

/// The payload announcing that `team`'s membership log has `len` entries in `schema`.
pub(super) fn membership_payload(team: TeamId, len: u64, schema: &str) -> String {
    format!("{} m{len} {schema}", hex::encode(team.0))
}

/// What a notification announces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Notice {
    /// A team's envelope head.
    Head(TeamId, u64),
    /// The length of a team's membership log.
    Membership(TeamId, u64),
}

/// What a payload announces, if it is about `schema`; `None` for another schema's, or a
/// payload this relay does not understand.
pub(super) fn parse(payload: &str, schema: &str) -> Option<Notice> {
    let mut parts = payload.splitn(3, ' ');
    let (team, number, of) = (parts.next()?, parts.next()?, parts.next()?);
    if of != schema {
        return None;
    }
    let mut id = [0u8; 16];
    hex::decode_to_slice(team, &mut id).ok()?;
    let team = TeamId(id);
    match number.strip_prefix('m') {
        Some(len) => Some(Notice::Membership(team, len.parse().ok()?)),
        None => Some(Notice::Head(team, number.parse().ok()?)),
    }
}

/// The running listener: stop it with [`Listener::stop`].
pub(super) struct Listener {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Listener {
    /// Connects and listens (an error if the first connection fails: the relay does not
    /// start without), then keeps listening in a task until stopped.
    pub(super) async fn start(config: Config, schema: String, shared: Arc<Shared>) -> Result<Self> {
        let connection = Listening::connect(&config).await?;
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(run(config, schema, shared, connection, stopped));
        Ok(Listener { stop, task })
    }

    /// Stops listening and waits until the connection is closed.
    pub(super) async fn stop(self) {
        self.stop.send_replace(true);
        if let Err(e) = self.task.await {
            tracing::warn!(error = %e, "the PostgreSQL listener task failed");
        }
    }
}

/// A connection that listens on [`CHANNEL`].
struct Listening {
    client: Client,
    notifications: mpsc::UnboundedReceiver<Notification>,
    driver: JoinHandle<()>,
}

impl Listening {
    async fn connect(config: &Config) -> Result<Self> {
        let (client, mut connection) = config.connect(NoTls).await.map_err(pg_error)?;
        let (sender, notifications) = mpsc::unbounded_channel();
        // The connection does its I/O only while polled: this task polls it and forwards
        // notifications; it ends when the connection does (and the receiver then sees the
        // channel closed: the connection is lost).
        let driver = tokio::spawn(async move {
            while let Some(message) = poll_fn(|cx| connection.poll_message(cx)).await {
                match message {
                    Ok(AsyncMessage::Notification(n)) => {
                        if sender.send(n).is_err() {
                            return;
                        }
                    }
                    Ok(_) => {}
                    Err(e) => {
                        tracing::warn!(error = %e, "the PostgreSQL notification connection failed");
                        return;
                    }
                }
            }
        });
        client
            .batch_execute(&format!("LISTEN {CHANNEL}"))
            .await
            .map_err(pg_error)?;
        Ok(Listening {
            client,
            notifications,
            driver,
        })
    }
}

impl Drop for Listening {
    fn drop(&mut self) {
        self.driver.abort();
    }
}

/// Why serving a connection ended.
enum Ended {
    Stopped,
    Lost,
}

async fn run(
    config: Config,
    schema: String,
    shared: Arc<Shared>,
    mut listening: Listening,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        if let Ended::Stopped = serve(&mut listening, &schema, &shared.heads, &mut stop).await {
            return;
        }
        drop(listening);
        tracing::warn!("lost the PostgreSQL notification connection: reconnecting");
        let mut backoff = FIRST_BACKOFF;
        listening = loop {
            tokio::select! {
                () = stopped(&mut stop) => return,
                () = tokio::time::sleep(backoff) => {}
            }
            backoff = (backoff * 2).min(MAX_BACKOFF);
            let connected = match Listening::connect(&config).await {
                Ok(connected) => connected,
                Err(e) => {
                    tracing::warn!(error = %e, "reconnecting the PostgreSQL listener failed");
                    continue;
                }
            };
            // Listening again: whatever committed while nobody listened was not announced.
            match republish(&connected.client, &shared.heads).await {
                Ok(teams) => {
                    tracing::info!(teams, "PostgreSQL listener reconnected; heads republished");
                    break connected;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "republishing heads after reconnecting failed")
                }
            }
        };
    }
}

/// Publishes notifications until stopped or the connection is lost.
async fn serve(
    listening: &mut Listening,
    schema: &str,
    heads: &TeamHeads,
    stop: &mut watch::Receiver<bool>,
) -> Ended {
    let mut heartbeat = tokio::time::interval(HEARTBEAT);
    heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    heartbeat.tick().await;
    loop {
        tokio::select! {
            () = stopped(stop) => return Ended::Stopped,
            notification = listening.notifications.recv() => {
                let Some(notification) = notification else {
                    return Ended::Lost;
                };
                match parse(notification.payload(), schema) {
                    Some(Notice::Head(team, head)) => heads.publish(team, head),
                    Some(Notice::Membership(team, len)) => heads.publish_membership(team, len),
                    None => tracing::trace!("a notification for another schema, ignored"),
                }
            }
            _ = heartbeat.tick() => {
                let alive = tokio::time::timeout(
                    HEARTBEAT_TIMEOUT,
                    listening.client.simple_query("SELECT 1"),
                )
                .await;
                if !matches!(alive, Ok(Ok(_))) {
                    return Ended::Lost;
                }
            }
        }
    }
}

/// Resolves once a stop is asked for (or the storage is gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    // An error means the sender is gone: the storage was dropped, which stops us too.
    let _ = stop.wait_for(|stop| *stop).await;
}

/// Publishes the current head of every watched team, and the membership length of every
/// team whose membership someone watches; returns how many teams.
async fn republish(client: &Client, heads: &TeamHeads) -> Result<usize> {
    let mut teams = heads.watched();
    let members = heads.membership_watched();
    teams.extend(
        members
            .iter()
            .filter(|t| !teams.contains(t))
            .copied()
            .collect::<Vec<_>>(),
    );
    if teams.is_empty() {
        return Ok(0);
    }
    let ids: Vec<&[u8]> = teams.iter().map(|t| &t.0[..]).collect();
    let rows = client
        .query(
            "SELECT id, head, membership_len FROM teams WHERE id = ANY($1)",
            &[&ids],
        )
        .await
        .map_err(pg_error)?;
    for row in &rows {
        let id: &[u8] = row.try_get(0).map_err(pg_error)?;
        let head: i64 = row.try_get(1).map_err(pg_error)?;
        let len: i64 = row.try_get(2).map_err(pg_error)?;
        if let Ok(id) = <[u8; 16]>::try_from(id) {
            heads.publish(TeamId(id), super::from_sql_int(head));
            heads.publish_membership(TeamId(id), super::from_sql_int(len));
        }
    }
    Ok(rows.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_name_their_schema_and_bad_ones_are_ignored() {
        let team = TeamId([0xab; 16]);
        let sent = payload(team, 42, "relay one");
        assert_eq!(parse(&sent, "relay one"), Some(Notice::Head(team, 42)));
        let members = membership_payload(team, 7, "relay one");
        assert_eq!(
            parse(&members, "relay one"),
            Some(Notice::Membership(team, 7))
        );
        assert_eq!(parse(&members, "public"), None);
        assert_eq!(
            parse(&format!("{} mx public", hex::encode(team.0)), "public"),
            None
        );
        assert_eq!(parse(&sent, "public"), None);
        for bad in [
            "",
            "ab",
            "zz 1 public",
            "abab 1 public",
            &payload(team, 1, ""),
        ] {
            assert_eq!(parse(bad, "public"), None, "{bad:?}");
        }
        let no_number = format!("{} x public", hex::encode(team.0));
        assert_eq!(parse(&no_number, "public"), None);
    }
}
