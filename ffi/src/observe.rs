//! Observers: the host registers a callback and gets a handle; the callback fires until
//! the handle is closed or dropped (Kotlin: `handle.close()` or `use {}`; Swift: the handle
//! going out of scope). Callbacks run on a Holdfast thread: hop to the UI thread to draw.
//! They carry ids only; read what changed with the usual calls.

use std::sync::{Arc, Mutex};

use holdfast_core::model::ids::DocumentId;
use holdfast_core::store::StoreEvent;
use tokio::sync::broadcast::error::RecvError;

use crate::device::{HoldfastDevice, parse_id};
use crate::error::Result;
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
}
