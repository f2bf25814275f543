//! `holdfast serve`: the supervisor's desk, a web view of the team's caseload served from
//! this device's own store.
//!
//! The relay holds ciphertext only, so anything a person reads must be served where the keys
//! are: here. The desk is an axum server on 127.0.0.1 (never another address), in the same
//! process as the store and its sync client, which follows every team live; when synced
//! changes land, the store's events go to open pages as server-sent events, and the page
//! fetches itself again (`static/desk.js`, the desk's only script). Pages are rendered on the
//! server from askama templates (`cli/templates/desk/`), every value HTML-escaped; charts are
//! SVG drawn on the server. Actions (mark reviewed, add a supervision comment, settle a
//! contested status) are plain HTML forms that call the same core functions the mobile API
//! does, then tell the sync client there is something to push.
//!
//! Who may use it: see [`guard`]. What each page shows: see [`pages`] and [`report`].

mod chart;
mod guard;
mod pages;
mod report;

use std::convert::Infallible;
use std::future::IntoFuture;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::routing::{get, post};
use futures_util::Stream;
use holdfast_core::store::StoreEvent;
use holdfast_core::{SharedStore, SyncClient};
use serde::Serialize;
use tokio::sync::broadcast::error::{RecvError, TryRecvError};

use crate::args::ServeArgs;
use crate::clock::Clock;
use crate::commands::Ctx;
use crate::error::{CliError, Result};
use crate::output::Output;

pub use guard::Guard;

/// What every handler shares.
#[derive(Clone, Debug)]
pub struct Desk {
    /// The store, shared with the sync client.
    pub store: SharedStore,
    /// The sync client, told of each change made here; `None` with `--offline`.
    pub client: Option<SyncClient>,
    /// Local time, for the pages.
    pub clock: Clock,
    /// The token, the cookie and the form token.
    pub guard: Arc<Guard>,
    /// Turns true when the desk stops: open event streams end.
    pub stopping: tokio::sync::watch::Receiver<bool>,
    /// How many times the records have changed since the desk started (see [`follow`]):
    /// each page carries the count it was rendered at, so a page coming back into view
    /// asks for itself again only when the records moved on.
    pub generation: Arc<AtomicU64>,
}

impl Desk {
    /// A desk on `port` over `store`.
    pub fn new(
        store: SharedStore,
        client: Option<SyncClient>,
        clock: Clock,
        port: u16,
        stopping: tokio::sync::watch::Receiver<bool>,
    ) -> Result<Desk> {
        let guard = Guard::new(port)
            .map_err(|_| CliError::Sync("the system's random generator failed".into()))?;
        Ok(Desk {
            store,
            client,
            clock,
            guard: Arc::new(guard),
            stopping,
            generation: Arc::new(AtomicU64::new(0)),
        })
    }

    /// The records' generation now.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Every route, behind the guard.
    pub fn router(self) -> Router {
        Router::new()
            .route("/", get(pages::queue))
            .route("/caseloads/{worker}", get(pages::caseload))
            .route("/cases/{case}", get(pages::case))
            .route("/cases/{case}/reviewed", post(pages::mark_reviewed))
            .route("/cases/{case}/comments", post(pages::add_comment))
            .route("/cases/{case}/status", post(pages::resolve_status))
            .route("/report", get(report::report))
            .route("/events", get(events))
            .route("/static/desk.css", get(pages::stylesheet))
            .route("/static/desk.js", get(pages::script))
            .fallback(pages::not_found)
            .layer(axum::middleware::from_fn_with_state(
                self.clone(),
                guard::check,
            ))
            .with_state(self)
    }
}

/// How long the server has to finish its answers once the desk stops.
const SHUTDOWN: Duration = Duration::from_secs(5);

/// How long after a change the page is told, so that a pull of many pages is one update.
const SETTLE: Duration = Duration::from_millis(250);

/// Whether a store event means the records changed (a pulled change, an edit here, or
/// events missed); not a sync that only pushed or failed, which would swap the page under
/// the person for nothing.
fn records_changed(event: &std::result::Result<StoreEvent, RecvError>) -> bool {
    matches!(
        event,
        Ok(StoreEvent::DocumentChanged { .. } | StoreEvent::CaseloadChanged)
            | Err(RecvError::Lagged(_))
    )
}

/// Counts the records' changes into `desk.generation` until the store stops.
async fn follow(desk: Desk) {
    let Ok(mut receiver) = desk.store.run(|s| Ok(s.subscribe())).await else {
        return;
    };
    loop {
        let event = receiver.recv().await;
        if matches!(event, Err(RecvError::Closed)) {
            return;
        }
        if records_changed(&event) {
            desk.generation.fetch_add(1, Ordering::AcqRel);
        }
    }
}

#[derive(serde::Deserialize)]
struct Since {
    /// The generation the page was rendered at.
    since: Option<u64>,
}

/// `GET /events?since=N`: an event `changed` whenever the store's records change, at most
/// one per [`SETTLE`]; at once if they changed since generation `N`.
async fn events(
    axum::extract::State(desk): axum::extract::State<Desk>,
    axum::extract::Query(since): axum::extract::Query<Since>,
) -> Sse<impl Stream<Item = std::result::Result<Event, Infallible>>> {
    let receiver = desk.store.run(|s| Ok(s.subscribe())).await.ok();
    let behind = since.since.is_some_and(|n| n < desk.generation());
    let start = receiver.map(|r| (r, desk.stopping.clone(), behind));
    let stream = futures_util::stream::unfold(start, |state| async move {
        let (mut receiver, mut stopping, behind) = state?;
        if behind {
            let changed = Event::default().event("changed").data("1");
            return Some((Ok(changed), Some((receiver, stopping, false))));
        }
        loop {
            let event = tokio::select! {
                event = receiver.recv() => event,
                _ = stopping.wait_for(|stop| *stop) => return None,
            };
            if matches!(event, Err(RecvError::Closed)) {
                return None;
            }
            if records_changed(&event) {
                break;
            }
        }
        // Let the rest of a burst arrive, then say once that things changed.
        tokio::time::sleep(SETTLE).await;
        while !matches!(
            receiver.try_recv(),
            Err(TryRecvError::Empty | TryRecvError::Closed)
        ) {}
        let changed = Event::default().event("changed").data("1");
        Some((Ok(changed), Some((receiver, stopping, false))))
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}

#[derive(Serialize)]
struct Listening {
    event: &'static str,
    url: String,
}

#[derive(Serialize)]
struct Stopped {
    event: &'static str,
    reason: &'static str,
}

/// `holdfast serve`.
pub fn serve(ctx: &Ctx, a: ServeArgs) -> Result<Output> {
    let session = ctx.session()?;
    let teams = session.lock()?.teams()?;
    let listener = session
        .rt
        .block_on(tokio::net::TcpListener::bind(SocketAddr::from((
            Ipv4Addr::LOCALHOST,
            a.port,
        ))))
        .map_err(|e| CliError::file(format!("listening on 127.0.0.1:{}", a.port), e))?;
    let port = listener
        .local_addr()
        .map_err(|e| CliError::file("reading the desk's address", e))?
        .port();
    let client = (!a.offline).then(|| session.client.clone());
    let (stop, stopping) = tokio::sync::watch::channel(false);
    let desk = Desk::new(
        session.store.clone(),
        client,
        ctx.clock.clone(),
        port,
        stopping.clone(),
    )?;
    let link = desk.guard.link();
    // Live sync for every team, started inside the runtime; dropped (stopped) at the end.
    let _live: Vec<_> = if a.offline {
        Vec::new()
    } else {
        let _inside = session.rt.enter();
        teams.iter().map(|t| session.client.live(t.team)).collect()
    };
    let text = format!(
        "The supervisor's desk is open at\n\n  {link}\n\nOpen that link in a browser on this \
         computer: it works once, in one browser.{} Ctrl-C stops the desk.",
        if a.offline {
            " Offline: nothing is synced."
        } else {
            ""
        }
    );
    let said = Output::new(
        &Listening {
            event: "listening",
            url: link,
        },
        text,
    )?
    .compact()
    .emit(ctx.json)?;
    if !said {
        return Output::new(&serde_json::Value::Null, "");
    }
    let limit = a.for_seconds.map(Duration::from_secs);
    let reason = session.rt.block_on(async move {
        let mut stopping = stopping;
        let desk_for_count = desk.clone();
        let server = axum::serve(listener, desk.router())
            .with_graceful_shutdown(async move {
                let _ = stopping.wait_for(|stop| *stop).await;
            })
            .into_future();
        let server = tokio::spawn(server);
        let counting = tokio::spawn(follow(desk_for_count));
        let deadline = async {
            match limit {
                Some(l) => tokio::time::sleep(l).await,
                None => std::future::pending().await,
            }
        };
        let why = tokio::select! {
            _ = tokio::signal::ctrl_c() => "interrupted",
            () = deadline => "time",
        };
        // Event streams end when told; the server then finishes what it is answering.
        let _ = stop.send(true);
        let _ = tokio::time::timeout(SHUTDOWN, server).await;
        counting.abort();
        why
    });
    Output::new(
        &Stopped {
            event: "stopped",
            reason,
        },
        "The desk has stopped.",
    )
    .map(Output::compact)
}
