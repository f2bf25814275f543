//! `GET /v1/teams/{team}/live`: a WebSocket that tells a member the team's latest
//! sequence number, `{"seq": N}`, on connect and whenever it grows; the device then pulls.
//! A patient's device hears only its plan's latest sequence number, when that grows: the
//! team's activity (when staff write, how much) is none of its business.
//!
//! Updates come from the storage backend's [`TeamHeads`](crate::storage::TeamHeads) (a
//! `watch` per team), so a burst of commits reaches a slow client as one message with the
//! latest head rather than as a queue. The socket is pinged every 30 s; it is closed with
//! 1001 (going away) when the relay shuts down and with 1008 (policy) if the device is
//! revoked.

use std::time::Duration;

use std::sync::Arc;

use axum::Extension;
use axum::extract::State;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade, close_code};
use axum::response::Response;
use tokio::sync::watch;

use crate::auth::TeamMember;
use crate::connections::ConnectionSlot;
use crate::error::ApiError;
use crate::state::{AppState, LiveSession};
use crate::storage::Storage;

/// How often an idle socket is pinged.
pub const PING_INTERVAL: Duration = Duration::from_secs(30);
/// How long one send may take before the client is given up on.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// Upgrades a member's request to the live WebSocket. The socket keeps its connection's
/// place among the relay's open connections until it closes.
pub async fn live<S: Storage>(
    State(state): State<AppState<S>>,
    member: TeamMember,
    slot: Option<Extension<Arc<ConnectionSlot>>>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let upgrade = upgrade?;
    // Subscribe first, then read the head: no commit can fall between the two.
    let heads = state.storage().heads().subscribe(member.team);
    let head = state.storage().head(member.team).await?.unwrap_or(0);
    state.storage().heads().publish(member.team, head);
    let session = state.live_session();
    Ok(upgrade
        .max_message_size(4096)
        .on_upgrade(move |socket| async move {
            let _slot = slot;
            serve(socket, state, member, heads, session).await;
        }))
}

enum Event {
    Head,
    HeadsGone,
    Incoming(Option<Result<Message, axum::Error>>),
    Ping,
    Shutdown,
}

async fn serve<S: Storage>(
    mut socket: WebSocket,
    state: AppState<S>,
    member: TeamMember,
    mut heads: watch::Receiver<u64>,
    _session: LiveSession<S>,
) {
    tracing::debug!(team = %member.team, device = %member.device, "live socket opened");
    let shutdown = state.shutdown_requested();
    tokio::pin!(shutdown);
    let mut ping = tokio::time::interval(PING_INTERVAL);
    ping.tick().await; // the first tick is immediate
    let mut sent = None;
    // The current head first.
    heads.mark_changed();

    let close = loop {
        let event = tokio::select! {
            changed = heads.changed() => if changed.is_ok() { Event::Head } else { Event::HeadsGone },
            incoming = socket.recv() => Event::Incoming(incoming),
            _ = ping.tick() => Event::Ping,
            () = &mut shutdown => Event::Shutdown,
        };
        match event {
            Event::Head => {
                let team_head = *heads.borrow_and_update();
                let seq = match member.plan {
                    None => team_head,
                    Some(plan) => match state.storage().document_head(member.team, plan).await {
                        Ok(seq) => seq,
                        Err(e) => {
                            tracing::warn!(error = %e, "live plan head failed");
                            break Some((close_code::ERROR, "relay error"));
                        }
                    },
                };
                if sent == Some(seq) {
                    continue;
                }
                // A revoked device hears nothing more.
                match state.members().get(state.storage(), member.team).await {
                    Ok(Some(log)) if log.state.active(&member.device).is_some() => {}
                    Ok(_) => break Some((close_code::POLICY, "device revoked")),
                    Err(e) => {
                        tracing::warn!(error = %e, "live membership check failed");
                        break Some((close_code::ERROR, "relay error"));
                    }
                }
                let text = format!("{{\"seq\":{seq}}}");
                if !send(&mut socket, Message::Text(text.into())).await {
                    break None;
                }
                sent = Some(seq);
                state.metrics().live_messages.inc();
            }
            Event::HeadsGone => break Some((close_code::AWAY, "relay shutting down")),
            Event::Incoming(None | Some(Err(_)) | Some(Ok(Message::Close(_)))) => break None,
            // Pings are answered by the WebSocket layer; anything else is ignored.
            Event::Incoming(Some(Ok(_))) => {}
            Event::Ping => {
                if !send(&mut socket, Message::Ping(Default::default())).await {
                    break None;
                }
            }
            Event::Shutdown => break Some((close_code::AWAY, "relay shutting down")),
        }
    };
    if let Some((code, reason)) = close {
        let frame = CloseFrame {
            code,
            reason: reason.into(),
        };
        let _ = send(&mut socket, Message::Close(Some(frame))).await;
    }
    tracing::debug!(team = %member.team, device = %member.device, "live socket closed");
}

async fn send(socket: &mut WebSocket, message: Message) -> bool {
    matches!(
        tokio::time::timeout(SEND_TIMEOUT, socket.send(message)).await,
        Ok(Ok(()))
    )
}
