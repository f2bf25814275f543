//! What the app shows about sync: how much is waiting, when the last push and pull
//! succeeded, the last error, whether the device looks offline, and whether the relay has
//! confirmed that everything written here is stored.

use serde::{Deserialize, Serialize};

use crate::model::ids::TeamId;

/// The sync state of one team on this device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncStatus {
    /// The team.
    pub team: TeamId,
    /// Local changes not yet acknowledged by the relay.
    pub pending_outbox: u64,
    /// Envelopes sealed (changes and snapshots) and not yet acknowledged.
    pub unacknowledged_envelopes: u64,
    /// True only when the outbox is empty and the relay has acknowledged every envelope:
    /// nothing written on this device exists only here.
    pub everything_uploaded: bool,
    /// Last push the relay acknowledged (ms since the epoch).
    pub last_push_at: Option<i64>,
    /// Last successful pull (ms since the epoch).
    pub last_pull_at: Option<i64>,
    /// The last sync error, if the last attempt failed.
    pub last_error: Option<String>,
    /// The last attempt could not reach the relay.
    pub offline: bool,
    /// Highest relay sequence number applied.
    pub cursor: u64,
    /// Highest relay sequence number heard of.
    pub head_seen: u64,
    /// Envelopes refused on receipt (bad signature, unknown author, …).
    pub refused_envelopes: u64,
}
