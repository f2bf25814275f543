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
//! - Observers ([`DocumentObserver`], [`CaseloadObserver`], [`SyncStatusObserver`]), each
//!   registration returning an [`ObserverHandle`] that stops it when closed or dropped.
//! - One error type, [`HoldfastError`], whose every variant carries a `message`. A Rust
//!   panic never crosses the boundary: uniffi turns it into the host's internal error (the
//!   library is built with `panic = "unwind"` in every profile).
//! - Logging into the platform log: [`init_logging`] with a [`LogSink`].
//!
//! `mobile-bindings/` holds the generated Kotlin and Swift sources and the binding tests.

uniffi::setup_scaffolding!();

mod cases;
mod device;
mod error;
mod keystore;
mod logging;
mod observe;
mod plans;
mod sync;
mod teams;

pub use cases::{
    CaseStatus, CaseView, CaseloadRow, CommentView, NewCase, NewPatientInput, SessionInput,
    SessionMode, SessionView,
};
pub use device::{DeviceConfig, HoldfastDevice};
pub use error::HoldfastError;
pub use keystore::HostKeyStore;
pub use logging::{LogLevel, LogSink, init_logging};
pub use observe::{CaseloadObserver, DocumentObserver, ObserverHandle, SyncStatusObserver};
pub use plans::{PlanView, StepOwner, StepView};
pub use sync::{SyncOutcome, SyncStatusView};
pub use teams::{Enrolment, Role, TeamDevice, TeamSummary};
