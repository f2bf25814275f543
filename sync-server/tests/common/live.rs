//! Live sockets (`GET /v1/teams/{team}/live`) for tests: open one, read the next head it
//! announces, wait for the relay to close it.

use std::time::Duration;

use futures_util::StreamExt;
use holdfast_protocol::TeamId;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{self, Message};

use super::Relay;

/// A live socket.
pub type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Opens `team`'s live socket with `token`.
pub async fn live(relay: &Relay, team: TeamId, token: &str) -> Result<Socket, tungstenite::Error> {
    connect(relay, team, Some(token)).await
}

/// Opens `team`'s live socket, with a bearer token or without one.
pub async fn connect(
    relay: &Relay,
    team: TeamId,
    token: Option<&str>,
) -> Result<Socket, tungstenite::Error> {
    let url = format!(
        "{}/v1/teams/{team}/live",
        relay.url.replace("http://", "ws://")
    );
    let mut request = url.into_client_request().unwrap();
    if let Some(token) = token {
        request
            .headers_mut()
            .insert("authorization", format!("Bearer {token}").parse().unwrap());
    }
    tokio_tungstenite::connect_async(request)
        .await
        .map(|(socket, _)| socket)
}

/// The next head a live socket announces (a message says that and nothing else).
pub async fn next_seq(socket: &mut Socket) -> u64 {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(5), socket.next())
            .await
            .expect("a message within 5 s")
            .expect("the socket is open")
            .unwrap();
        match message {
            Message::Text(text) => {
                let value: serde_json::Value = serde_json::from_str(text.as_str()).unwrap();
                assert_eq!(value.as_object().unwrap().len(), 1, "{value}");
                return value["seq"].as_u64().unwrap();
            }
            Message::Ping(_) | Message::Pong(_) => continue,
            other => panic!("unexpected {other:?}"),
        }
    }
}

/// The close frame the relay sends within `within`, failing on any head announced first.
pub async fn closed_by_relay(socket: &mut Socket, within: Duration) -> CloseFrame {
    loop {
        match tokio::time::timeout(within, socket.next()).await {
            Err(_) => panic!("the socket is still open after {within:?}"),
            Ok(Some(Ok(Message::Close(Some(frame))))) => return frame,
            Ok(Some(Ok(Message::Text(text)))) => panic!("heard {text} instead of a close"),
            Ok(Some(Ok(_))) => continue,
            other => panic!("expected a close frame, got {other:?}"),
        }
    }
}
