//! What observers are told: ids only, never content.

use super::Store;
use crate::model::doc::DocKind;
use crate::model::ids::{DocumentId, TeamId};

/// Something observers may want to redraw for. Carries ids only, never content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreEvent {
    /// A document changed (an edit here, or changes pulled from the team).
    DocumentChanged {
        /// The document.
        doc: DocumentId,
        /// Its kind.
        kind: DocKind,
    },
    /// The caseload's rows, or what they are held against, may have changed (a case file,
    /// an action plan or the team's limits changed).
    CaseloadChanged,
    /// A change was made on this device (it has something to push).
    LocalChange,
    /// A team's sync status may have changed (pushed, pulled a page, failed, recovered):
    /// during a sync, once per step.
    SyncChanged {
        /// The team.
        team: TeamId,
    },
    /// A sync of a team ended, well or not (its outcome is in the team's status): once per
    /// sync, after its last `SyncChanged`.
    SyncEnded {
        /// The team.
        team: TeamId,
    },
}

/// Events an observer can fall behind by before it is told it missed some.
const EVENT_BUFFER: usize = 1024;

/// A new event channel for a store.
pub(super) fn channel() -> tokio::sync::broadcast::Sender<StoreEvent> {
    tokio::sync::broadcast::Sender::new(EVENT_BUFFER)
}

impl Store {
    /// Subscribes to what changes in this store from now on (ids only). A receiver that
    /// falls more than 1,024 events behind is told it lagged and should reread.
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<StoreEvent> {
        self.events.subscribe()
    }

    /// Tells observers that `team`'s sync status may have changed.
    pub(crate) fn emit_sync(&self, team: TeamId) {
        let _ = self.events.send(StoreEvent::SyncChanged { team });
    }

    /// Tells observers that `id` changed.
    pub(crate) fn emit(&self, id: DocumentId, kind: DocKind) {
        // No receivers is normal (no screen open): nothing to do.
        let _ = self
            .events
            .send(StoreEvent::DocumentChanged { doc: id, kind });
        if matches!(
            kind,
            DocKind::CaseFile | DocKind::ActionPlan | DocKind::TeamSettings
        ) {
            let _ = self.events.send(StoreEvent::CaseloadChanged);
        }
    }
}
