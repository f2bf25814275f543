//! `GET /v1/teams/{team}/live`: a WebSocket that tells a member the team's latest
//! sequence number, `{"seq": N}`, on connect and whenever it grows; the device then pulls.
//! A patient's device hears only its plan's latest sequence number, when that grows: the
//! team's activity (when staff write, how much) is none of its business.
//!
//! Updates come from the storage backend's [`TeamHeads`](crate::storage::TeamHeads) (a
//! `watch` per team), so a burst of commits reaches a slow client as one message with the
//! latest head rather than as a queue. The socket is pinged every 30 s; it is closed with
//! 1001 (going away) when the relay shuts down, and with 1008 (policy) as soon as its device
//! is revoked (the membership cache tells the socket of every append through this relay,
//! the storage backend of every append through another relay of a shared database) or its
//! bearer token expires (a timer by the relay's clock, checked again before every
//! message). A device
//! holds at most `--max-live-sockets-per-device` sockets at once: one more is refused with
//! `429 too_many_sockets` (the client backs off; a dead socket of its own is noticed within
//! a ping).

use std::sync::Arc;
use std::time::Duration;

use axum::Extension;
use axum::extract::State;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade, close_code};
use axum::response::Response;
use tokio::sync::watch;

use crate::auth::TeamMember;
use crate::connections::ConnectionSlot;
use crate::error::{ApiError, ErrorCode};
use crate::state::{AppState, LiveSession};
use crate::storage::Storage;

/// How often an idle socket is pinged.
pub const PING_INTERVAL: Duration = Duration::from_secs(30);
/// How long one send may take before the client is given up on.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// The largest message (and frame) a client may send. Clients send nothing but pongs and a
/// close (at most 125 bytes of payload each); anything else is read and ignored.
const MAX_MESSAGE: usize = 4096;
/// The socket's read buffer. The WebSocket library's default, 128 KiB, is allocated and
/// zero-filled on a socket's first read: ~135 KiB of memory per idle socket, 1.3 GiB for
/// 10,000. A client's pong or close frame fits in 256 bytes with its header; a larger frame
/// (up to [`MAX_MESSAGE`]) grows the buffer for itself.
const READ_BUFFER: usize = 256;
/// Most bytes queued unsent: a send waits for the socket to take the frame before the next,
/// so only a frame or two (the relay's largest is a close, under 130 bytes) ever queue.
/// Past it, a send fails and the socket closes rather than growing without bound.
const MAX_WRITE_BUFFER: usize = 16 * 1024;

/// Upgrades a member's request to the live WebSocket. The socket keeps its connection's
/// place among the relay's open connections until it closes.
pub async fn live<S: Storage>(
    State(state): State<AppState<S>>,
    member: TeamMember,
    slot: Option<Extension<Arc<ConnectionSlot>>>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let upgrade = upgrade?;
    let Some(session) = state.live_session(member.device) else {
        return Err(ApiError::new(
            ErrorCode::TooManySockets,
            format!(
                "device {} already holds {} live sockets, the relay's limit per device",
                member.device,
                state.limits().max_live_sockets_per_device
            ),
        )
        .retry_after(PING_INTERVAL));
    };
    // Subscribe first, then read: no commit or append can fall between the two.
    let membership = state.members().watch(member.team);
    let elsewhere = state.storage().heads().subscribe_membership(member.team);
    let heads = state.storage().heads().subscribe(member.team);
    // Revoked between the extractor's check and the subscriptions above (through this
    // relay or another): refused now, as the extractor would have.
    let log = state.members().get(state.storage(), member.team).await?;
    if log.is_none_or(|log| log.state.active(&member.device).is_none()) {
        return Err(ApiError::revoked(format!(
            "device {} was revoked from team {}",
            member.device, member.team
        )));
    }
    let head = state.storage().head(member.team).await?.unwrap_or(0);
    state.storage().heads().publish(member.team, head);
    Ok(upgrade
        .read_buffer_size(READ_BUFFER)
        // Each frame is written when sent (every send flushes anyway), never held back to
        // fill a buffer.
        .write_buffer_size(0)
        .max_write_buffer_size(MAX_WRITE_BUFFER)
        .max_frame_size(MAX_MESSAGE)
        .max_message_size(MAX_MESSAGE)
        .on_upgrade(move |socket| async move {
            let _slot = slot;
            let watched = Watched {
                heads,
                membership,
                elsewhere,
            };
            serve(socket, state, member, watched, session).await;
        }))
}

/// What a socket listens to besides its client.
struct Watched {
    heads: watch::Receiver<u64>,
    /// Appends to the team's log through this relay.
    membership: watch::Receiver<u64>,
    /// Appends through other relays of a shared database.
    elsewhere: watch::Receiver<u64>,
}

enum Event {
    Head,
    HeadsGone,
    Membership,
    Expiry,
    Incoming(Option<Result<Message, axum::Error>>),
    Ping,
    Shutdown,
}

/// Why a socket is closed on the relay's side.
const REVOKED: &str = "device revoked";
const EXPIRED: &str = "token expired";

async fn serve<S: Storage>(
    mut socket: WebSocket,
    state: AppState<S>,
    member: TeamMember,
    watched: Watched,
    _session: LiveSession<S>,
) {
    tracing::debug!(team = %member.team, device = %member.device, "live socket opened");
    let Watched {
        mut heads,
        mut membership,
        mut elsewhere,
    } = watched;
    let shutdown = state.shutdown_requested();
    tokio::pin!(shutdown);
    let mut ping = tokio::time::interval(PING_INTERVAL);
    ping.tick().await; // the first tick is immediate
    let expiry = tokio::time::sleep(until_expiry(&state, &member));
    tokio::pin!(expiry);
    let mut sent = None;
    // The current head first.
    heads.mark_changed();

    let close = loop {
        let event = tokio::select! {
            changed = heads.changed() => if changed.is_ok() { Event::Head } else { Event::HeadsGone },
            changed = membership.changed() => if changed.is_ok() { Event::Membership } else { Event::Shutdown },
            changed = elsewhere.changed() => if changed.is_ok() { Event::Membership } else { Event::HeadsGone },
            () = &mut expiry => Event::Expiry,
            incoming = socket.recv() => Event::Incoming(incoming),
            _ = ping.tick() => Event::Ping,
            () = &mut shutdown => Event::Shutdown,
        };
        match event {
            Event::Membership => {
                membership.borrow_and_update();
                elsewhere.borrow_and_update();
                match still_active(&state, &member, true).await {
                    Ok(()) => {}
                    Err(close) => break Some(close),
                }
            }
            Event::Expiry => {
                let left = until_expiry(&state, &member);
                if left.is_zero() {
                    state.metrics().live_closed_expired.inc();
                    break Some((close_code::POLICY, EXPIRED));
                }
                // The clock is behind the timer (a test's manual clock): look again then.
                expiry
                    .as_mut()
                    .reset(tokio::time::Instant::now() + left.min(EXPIRY_RECHECK));
            }
            Event::Head => {
                if until_expiry(&state, &member).is_zero() {
                    state.metrics().live_closed_expired.inc();
                    break Some((close_code::POLICY, EXPIRED));
                }
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
                // A revoked device hears nothing more. (From the cache: a read of a shared
                // database per socket per head would cost a big team's every push thousands
                // of reads; a revocation through another relay arrives as its own notice.)
                if let Err(close) = still_active(&state, &member, false).await {
                    break Some(close);
                }
                let text = format!("{{\"seq\":{seq}}}");
                if !send(&mut socket, Message::Text(text.into())).await {
                    break None;
                }
                sent = Some(seq);
                state.metrics().live_messages.inc();
            }
            Event::HeadsGone => break Some((close_code::AWAY, "relay shutting down")),
            // The device closed: the WebSocket layer queued the answering close frame (RFC
            // 6455 §5.5.1), which goes out with a flush, before the socket is dropped.
            Event::Incoming(Some(Ok(Message::Close(_)))) => {
                let _ =
                    tokio::time::timeout(SEND_TIMEOUT, futures_util::SinkExt::flush(&mut socket))
                        .await;
                break None;
            }
            Event::Incoming(None | Some(Err(_))) => break None,
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

/// How often a socket whose timer fired before the relay's clock reached its token's expiry
/// looks again (only a clock that does not follow real time gets there).
const EXPIRY_RECHECK: Duration = Duration::from_secs(1);

/// How long until the member's token expires, by the relay's clock (zero once it has).
fn until_expiry<S: Storage>(state: &AppState<S>, member: &TeamMember) -> Duration {
    Duration::from_millis(member.token_expires_ms.saturating_sub(state.now_ms()))
}

/// `Ok` while the member is an active member of its team; otherwise the close to send.
/// `verify`: check the cached log against a shared database first (see
/// [`MembershipCache::get`](crate::membership::MembershipCache::get)).
async fn still_active<S: Storage>(
    state: &AppState<S>,
    member: &TeamMember,
    verify: bool,
) -> Result<(), (u16, &'static str)> {
    let members = state.members();
    let log = if verify {
        members.get(state.storage(), member.team).await
    } else {
        members.get_unverified(state.storage(), member.team).await
    };
    match log {
        Ok(Some(log)) if log.state.active(&member.device).is_some() => Ok(()),
        Ok(_) => {
            state.metrics().live_closed_revoked.inc();
            Err((close_code::POLICY, REVOKED))
        }
        Err(e) => {
            tracing::warn!(error = %e, "live membership check failed");
            Err((close_code::ERROR, "relay error"))
        }
    }
}

async fn send(socket: &mut WebSocket, message: Message) -> bool {
    matches!(
        tokio::time::timeout(SEND_TIMEOUT, socket.send(message)).await,
        Ok(Ok(()))
    )
}
