//! Observers: the host registers a callback and gets a handle; the callback fires until
//! the handle is closed or dropped (Kotlin: `handle.close()` or `use {}`; Swift: the handle
//! going out of scope). Callbacks run on a Holdfast thread: hop to the UI thread to draw.
//! They carry ids only (read what changed with the usual calls), except the sync status
//! and the worklist, which carry the new value.

use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};

use holdfast_core::model::ids::DocumentId;
use holdfast_core::store::StoreEvent;
use tokio::sync::broadcast::error::{RecvError, TryRecvError};

use crate::device::{HoldfastDevice, parse_id};
use crate::error::Result;
use crate::oversight::{LoadLimits, WorkItem, local_day, utc_offset, worklist_on};
use crate::sync::SyncStatusView;

/// Told when one document changes (here or pulled from the team).
#[uniffi::export(with_foreign)]
pub trait DocumentObserver: Send + Sync {
    /// `doc_id` changed: reread it.
    fn document_changed(&self, doc_id: String);
}

/// Told when the caseload may have changed.
#[uniffi::export(with_foreign)]
pub trait CaseloadObserver: Send + Sync {
    /// Reread the caseload.
    fn caseload_changed(&self);
}

/// Told when a team's sync status changes.
#[uniffi::export(with_foreign)]
pub trait SyncStatusObserver: Send + Sync {
    /// The new status.
    fn sync_status_changed(&self, status: SyncStatusView);
}

/// Told the link worker's worklist whenever it changes.
#[uniffi::export(with_foreign)]
pub trait WorklistObserver: Send + Sync {
    /// The worklist as it now stands, for today at the UTC offset given when registering
    /// (the same list `worklist` returns for that day).
    fn worklist_changed(&self, items: Vec<WorkItem>);
}

/// A registration. Close it (or let it go) to stop the callbacks.
#[derive(Debug, uniffi::Object)]
pub struct ObserverHandle {
    task: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl ObserverHandle {
    fn stop_task(&self) {
        if let Ok(mut t) = self.task.lock()
            && let Some(task) = t.take()
        {
            task.abort();
        }
    }
}

impl Drop for ObserverHandle {
    fn drop(&mut self) {
        self.stop_task();
    }
}

#[uniffi::export]
impl ObserverHandle {
    /// Stops the callbacks now (dropping the handle does the same).
    pub fn cancel(&self) {
        self.stop_task();
    }
}

impl HoldfastDevice {
    /// Runs `on_event` for every store event until the handle stops it. After a burst, the
    /// events waiting are folded into one call where `on_event` says they are the same.
    fn observe(
        &self,
        mut on_event: impl FnMut(Option<StoreEvent>) + Send + 'static,
    ) -> Result<Arc<ObserverHandle>> {
        let mut events = self.store()?.subscribe();
        let task = self.rt.spawn(async move {
            loop {
                match events.recv().await {
                    Ok(e) => on_event(Some(e)),
                    // Fell behind: the observer rereads whatever it shows.
                    Err(RecvError::Lagged(_)) => on_event(None),
                    Err(RecvError::Closed) => break,
                }
            }
        });
        Ok(Arc::new(ObserverHandle {
            task: Mutex::new(Some(task)),
        }))
    }
}

#[uniffi::export]
impl HoldfastDevice {
    /// Calls `observer` whenever the document `doc_id` changes.
    pub fn observe_document(
        &self,
        doc_id: String,
        observer: Arc<dyn DocumentObserver>,
    ) -> Result<Arc<ObserverHandle>> {
        let id: DocumentId = parse_id("document", &doc_id)?;
        self.observe(move |e| match e {
            Some(StoreEvent::DocumentChanged { doc, .. }) if doc == id => {
                observer.document_changed(doc_id.clone())
            }
            None => observer.document_changed(doc_id.clone()),
            _ => {}
        })
    }

    /// Calls `observer` whenever the caseload may have changed.
    pub fn observe_caseload(
        &self,
        observer: Arc<dyn CaseloadObserver>,
    ) -> Result<Arc<ObserverHandle>> {
        self.observe(move |e| {
            if matches!(e, Some(StoreEvent::CaseloadChanged) | None) {
                observer.caseload_changed();
            }
        })
    }

    /// Calls `observer` with a team's sync status whenever it changes (pending count,
    /// last push or pull, offline, error).
    pub fn observe_sync_status(
        &self,
        observer: Arc<dyn SyncStatusObserver>,
    ) -> Result<Arc<ObserverHandle>> {
        let store = self.store.clone();
        let mut last: std::collections::HashMap<String, SyncStatusView> = Default::default();
        self.observe(move |e| {
            let teams: Vec<holdfast_core::TeamId> = match e {
                Some(StoreEvent::SyncChanged { team }) => vec![team],
                // A local change grows the pending count of its team.
                Some(StoreEvent::LocalChange) | None => store
                    .lock()
                    .ok()
                    .and_then(|s| s.teams().ok())
                    .map(|t| t.into_iter().map(|i| i.team).collect())
                    .unwrap_or_default(),
                _ => return,
            };
            for team in teams {
                let Some(status) = store.lock().ok().and_then(|s| s.sync_status(team).ok()) else {
                    continue;
                };
                let view = SyncStatusView::from(status);
                if last.get(&view.team_id) != Some(&view) {
                    last.insert(view.team_id.clone(), view.clone());
                    observer.sync_status_changed(view);
                }
            }
        })
    }

    /// Calls `observer` with this device's worklist (current team) for today, where today
    /// is reckoned by the device's clock at `utc_offset_minutes` (the host's offset from
    /// UTC: 0 for GMT, 60 for British Summer Time; -840 to 840). Called once at once with
    /// the list as it stands, then whenever the list differs from the last one delivered:
    /// after edits here, after changes from the team arrive, and at local midnight when
    /// items fall due or become overdue (a timer to the next midnight, re-armed; nothing
    /// polls). `limits`: the team's when null (`team_limits`; a change to them, here or
    /// synced in, is a change to the list).
    ///
    /// When the offset changes (the clocks go forward or back, the phone crosses a time
    /// zone) register again with the new one. A phone asleep at midnight may deliver the
    /// new day's list only when it wakes and something changes: on resume, read
    /// `worklist` once.
    #[uniffi::method(default(limits = None))]
    pub fn observe_worklist(
        &self,
        utc_offset_minutes: i32,
        observer: Arc<dyn WorklistObserver>,
        limits: Option<LoadLimits>,
    ) -> Result<Arc<ObserverHandle>> {
        let offset = utc_offset(utc_offset_minutes)?;
        let (mut events, clock) = {
            let store = self.store()?;
            (store.subscribe(), store.clock().clone())
        };
        let store = self.store.clone();
        let task = self.rt.spawn(async move {
            let mut last: Option<Vec<WorkItem>> = None;
            loop {
                // One reading of the clock gives both the day the list is for and the wait
                // for the next midnight.
                let now = i64::try_from(clock.now_ms()).unwrap_or(i64::MAX);
                let (today, until_midnight) = local_day(now, offset);
                match worklist_on(&store, today, limits) {
                    Ok(items) if last.as_ref() != Some(&items) => {
                        let call = AssertUnwindSafe(|| observer.worklist_changed(items.clone()));
                        if std::panic::catch_unwind(call).is_err() {
                            // Not delivered: offered again at the next change or midnight.
                            tracing::warn!("the worklist observer's callback failed");
                        } else {
                            last = Some(items);
                        }
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "cannot read the worklist"),
                }
                let midnight = tokio::time::sleep(until_midnight);
                tokio::pin!(midnight);
                // Wait for a change that can touch the list, or for midnight.
                loop {
                    tokio::select! {
                        event = events.recv() => match event {
                            Ok(StoreEvent::CaseloadChanged | StoreEvent::SyncEnded { .. })
                            | Err(RecvError::Lagged(_)) => {
                                // A burst (a sync applying pages) is read once.
                                while matches!(
                                    events.try_recv(),
                                    Ok(_) | Err(TryRecvError::Lagged(_))
                                ) {}
                                break;
                            }
                            Ok(_) => {}
                            Err(RecvError::Closed) => return,
                        },
                        () = &mut midnight => break,
                    }
                }
            }
        });
        Ok(Arc::new(ObserverHandle {
            task: Mutex::new(Some(task)),
        }))
    }
}
