//! A relay that lies: an HTTP proxy on loopback in front of the real relay that passes every
//! request on, and lets a test rewrite (or invent) the answers. It stands for a malicious
//! relay, or for whoever sits between a phone and its relay on a network without TLS.
//!
//! Give the relay the proxy's URL as its public URL (devices sign it into their logins):
//! bind the proxy first, start the relay, then forward to it. Live sockets are not
//! proxied: the tests drive syncs themselves.
//!
//! ```no_run
//! # async fn run() {
//! use holdfast_relay::testing::TestRelay;
//! use holdfast_tests::Liar;
//!
//! let listener = Liar::bind().await;
//! let public = format!("http://{}", listener.local_addr().unwrap());
//! let relay = TestRelay::builder().public_url(public).start().await;
//! let liar = Liar::start(listener, &relay.url());
//! liar.lie(|asked, answer| {
//!     (asked.path.contains("/membership")).then(|| answer.with_json(r#"{"entries": [], "len": 99999, "more": false}"#))
//! });
//! // … devices use liar.url() …
//! liar.stop_lying();
//! # }
//! ```

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use tokio::net::TcpListener;

/// A request the device made, as the proxy passed it on.
#[derive(Debug, Clone)]
pub struct Asked {
    /// `GET`, `POST`, …
    pub method: String,
    /// The path with its query (`/v1/teams/…/envelopes?after=3`).
    pub path: String,
    /// The bearer token it carried, if any.
    pub token: Option<String>,
}

/// The relay's answer, as the device will receive it unless a lie replaces it.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The HTTP status.
    pub status: u16,
    /// `Content-Type`.
    pub content_type: String,
    /// The body.
    pub body: Vec<u8>,
}

impl Answer {
    /// This answer with a JSON body instead.
    pub fn with_json(&self, json: impl Into<String>) -> Answer {
        Answer {
            status: self.status,
            content_type: "application/json".into(),
            body: json.into().into_bytes(),
        }
    }

    /// This answer with a binary body instead.
    pub fn with_bytes(&self, body: Vec<u8>) -> Answer {
        Answer {
            status: self.status,
            content_type: "application/octet-stream".into(),
            body,
        }
    }

    /// An error answer as the relay words them: `{"code", "message"}`.
    pub fn refusal(status: u16, code: &str) -> Answer {
        Answer {
            status,
            content_type: "application/json".into(),
            body: format!(r#"{{"code": "{code}", "message": "a forged refusal"}}"#).into_bytes(),
        }
    }

    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("a JSON answer")
    }
}

/// What a lie does with an exchange: `Some(answer)` replaces the relay's answer.
pub type Lie = Arc<dyn Fn(&Asked, &Answer) -> Option<Answer> + Send + Sync>;

#[derive(Clone)]
struct Shared {
    upstream: String,
    http: reqwest::Client,
    lie: Arc<Mutex<Option<Lie>>>,
    /// Every request passed on, in order.
    seen: Arc<Mutex<Vec<Asked>>>,
}

/// The lying proxy. Dropping it stops it.
pub struct Liar {
    url: String,
    shared: Shared,
    task: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for Liar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Liar").field("url", &self.url).finish()
    }
}

impl Liar {
    /// A listener for the proxy on loopback: its address is the relay's public origin.
    pub async fn bind() -> TcpListener {
        TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a loopback port for the proxy")
    }

    /// Serves `listener`, passing requests on to the relay at `upstream`.
    pub fn start(listener: TcpListener, upstream: &str) -> Liar {
        let url = format!("http://{}", listener.local_addr().expect("an address"));
        let shared = Shared {
            upstream: upstream.trim_end_matches('/').to_owned(),
            http: reqwest::Client::new(),
            lie: Arc::new(Mutex::new(None)),
            seen: Arc::new(Mutex::new(Vec::new())),
        };
        let app = Router::new().fallback(pass).with_state(shared.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Liar { url, shared, task }
    }

    /// The URL devices use.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// From now on, `lie` decides each answer (`None`: the truth).
    pub fn lie(&self, lie: impl Fn(&Asked, &Answer) -> Option<Answer> + Send + Sync + 'static) {
        *self.shared.lie.lock().expect("the lie") = Some(Arc::new(lie));
    }

    /// From now on, every answer is the relay's own.
    pub fn stop_lying(&self) {
        *self.shared.lie.lock().expect("the lie") = None;
    }

    /// Every request passed on so far.
    pub fn seen(&self) -> Vec<Asked> {
        self.shared.seen.lock().expect("the log").clone()
    }
}

impl Drop for Liar {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn pass(
    State(shared): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri
        .path_and_query()
        .map_or_else(|| uri.path().to_owned(), |p| p.as_str().to_owned());
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_owned);
    let asked = Asked {
        method: method.to_string(),
        path: path.clone(),
        token: token.clone(),
    };
    shared.seen.lock().expect("the log").push(asked.clone());
    let mut request = shared
        .http
        .request(method, format!("{}{path}", shared.upstream))
        .body(body.to_vec());
    for name in ["authorization", "content-type"] {
        if let Some(v) = headers.get(name) {
            request = request.header(name, v.clone());
        }
    }
    let truth = match request.send().await {
        Ok(r) => {
            let status = r.status().as_u16();
            let content_type = r
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("application/octet-stream")
                .to_owned();
            let body = r.bytes().await.map(|b| b.to_vec()).unwrap_or_default();
            Answer {
                status,
                content_type,
                body,
            }
        }
        Err(_) => Answer::refusal(502, "bad_gateway"),
    };
    let lie = shared.lie.lock().expect("the lie").clone();
    let answer = lie.and_then(|lie| lie(&asked, &truth)).unwrap_or(truth);
    (
        StatusCode::from_u16(answer.status).unwrap_or(StatusCode::BAD_GATEWAY),
        [("content-type", answer.content_type)],
        answer.body,
    )
        .into_response()
}
