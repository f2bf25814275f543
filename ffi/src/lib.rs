//! # holdfast-ffi
//!
//! The mobile API of Holdfast: a thin layer over `holdfast-core`, exported with uniffi's
//! proc-macros (no UDL) to Kotlin (Android), Swift (iOS) and Python (operators' scripts).
//!
//! - [`HoldfastDevice`]: one per app. Opened from a [`DeviceConfig`] and the host's
//!   [`HostKeyStore`] (Keychain / Android Keystore); everything a link worker, a patient, a
//!   supervisor and an admin does is a method on it. Methods block: call them off the UI
//!   thread.
//! - Background sync ([`HoldfastDevice::start_sync`] / `stop_sync` / `sync_now`) and its
//!   status ([`SyncStatusView`]).
//! - Oversight: who holds a case ([`HoldfastDevice::assign_case`], [`HolderView`]), review
//!   marks and the review queue, supervision comments and their acknowledgement,
//!   ring-backs, caseload load and the worklist.
//! - The message back to the GP and referrer ([`HoldfastDevice::gp_feedback`]): text and
//!   a FHIR R4 document Bundle.
//! - Data portability: a patient's record for a subject access request
//!   ([`HoldfastDevice::subject_access_export`]) and any document as raw Automerge bytes with
//!   its heads ([`HoldfastDevice::export_document`]).
//! - Private supervision notes ([`HoldfastDevice::private_notes`], [`PrivateNotesView`]): a
//!   staff member's own wellbeing, training-needs and reflection notes, read and answered
//!   only by the team's supervisors and admins.
//! - Observers ([`DocumentObserver`], [`CaseloadObserver`], [`SyncStatusObserver`],
//!   [`WorklistObserver`]), each registration returning an [`ObserverHandle`] that stops it
//!   when closed or dropped.
//! - One error type, [`HoldfastError`], whose every variant carries a `reason` (not
//!   `message`: Kotlin's exceptions have one already), one variant per thing the app does
//!   about it; the mapping from the core's errors is exhaustive. A Rust
//!   panic never crosses the boundary: uniffi turns it into the host's internal error (the
//!   library is built with `panic = "unwind"` in every profile).
//! - Logging into the platform log: [`init_logging`] with a [`LogSink`].
//!
//! `mobile-bindings/` holds the generated Kotlin and Swift sources and the binding tests.

uniffi::setup_scaffolding!();

mod access;
mod cases;
mod device;
mod directory;
mod error;
mod export;
mod feedback;
mod history;
mod keystore;
mod logging;
mod measures;
mod notes;
mod observe;
mod oversight;
mod plans;
mod referrals;
mod report;
mod safeguarding;
mod sync;
mod teams;

pub use cases::{
    CaseStatus, CaseView, CaseloadQuery, CaseloadRow, CommentView, ContactMethod, HoldingFunction,
    NewCase, NewPatientInput, NoteClaim, PatientDetails, SessionInput, SessionMode, SessionView,
    StatusChangeView, StatusClaim,
};
pub use device::{DeviceConfig, HoldfastDevice};
pub use directory::{
    AssetHit, AssetInput, AssetStatus, AssetView, Capacity, DirectoryQuery, ImportOutcome,
    ReferralRoute,
};
pub use error::HoldfastError;
pub use export::{RawDocumentExport, SubjectAccessExport};
pub use feedback::{ClosureReason, DeclineReason, FeedbackKind, GpFeedbackView};
pub use history::HistoryEntry;
pub use keystore::HostKeyStore;
pub use logging::{LogLevel, LogSink, init_logging};
pub use measures::{
    Direction, Instrument, MeasureChange, MeasureChangeView, MeasureForm, MeasureInput,
    MeasureNotCompletedView, MeasureScore, MeasureView, NotCompletedReason, Ons4Answer, Ons4Band,
    Ons4Delta, ScaleLabel, measure_form,
};
pub use notes::{NoteKind, NoteResponseView, PrivateNoteView, PrivateNotesView};
pub use observe::{
    CaseloadObserver, DocumentObserver, ObserverHandle, SyncStatusObserver, WorklistObserver,
};
pub use oversight::{
    CaseCounters, CommentAckView, HandoverView, HolderClaim, HolderView, LimitsSettingView,
    LoadLimits, MemberView, NewCommentView, ReviewMarkView, ReviewQueueEntry, RingBackView,
    TeamLimitsView, WorkItem, WorkKind, WorkerLoad,
};
pub use plans::{
    AssetDemandView, AssetDetailsView, AssetRef, AssetRefreshView, ConnectionEventView,
    ConnectionStatus, GoalStatus, GoalView, PlanEndedView, PlanView, RenderStyle, StepInput,
    StepOwner, StepView,
};
pub use referrals::{Need, ReferralDecision, ReferralInput, ReferralSource, ReferralView};
pub use safeguarding::{
    ConcernInput, ConcernStatus, ConcernStatusClaim, ConcernView, EscalationTarget,
};
pub use sync::{SyncOutcome, SyncStatusView};
pub use teams::{Enrolment, PlanWordingView, Role, TeamDevice, TeamSummary};
