//! Access on the device: who is in a team, what this device may read and write, and the
//! signed entries and key bundles that change it.
//!
//! Pure policy and builders: no SQL, no HTTP. The store keeps what this module decides
//! (`store/access.rs`: the queries), the sync client carries it to and from the relay
//! (`sync/access.rs`: the requests). Every function takes the time it needs as an argument.
//!
//! Where each rule lives:
//!
//! | rule | where |
//! |---|---|
//! | who may invite whom, revoke, change a role or cancel an invite; an invite's single use and expiry | the signed membership fold, [`holdfast_protocol::membership`], which the relay runs too; applied on the device by [`TeamAccess`] |
//! | which key bundles a device accepts: only from staff in the verified log, a team epoch key only if the log commits to it, **a patient only its own plan's key** | `bundles.rs`: `accept` |
//! | which envelopes a device accepts: a known author's signature, not revoked before the envelope's epoch, no snapshot from a patient, **a patient only its plan**, **a staff member's private notes only on its own, a supervisor's or an admin's device, and only from those** | `envelopes.rs`: [`open_page`] with a [`Roster`] |
//! | which private-notes keys a device accepts (only if it may read those notes; from their owner, or an active supervisor or admin) and the bundles that hand them to supervisors and admins | `bundles.rs`: `accept`, `private_notes_bundles` |
//! | the epoch a device seals under (a patient's log can lag the team's) | `team.rs`: `TeamAccess::sealing_epoch` |
//! | the keys a new reader gets (staff: epoch keys; a patient: its plan's document keys) | `bundles.rs`: `keys_for_reader` |
//! | which documents cross teams (only a directory, shared by staff of both) | `sharing.rs` |
//! | the entries a device makes: a team's genesis, an invite, a redeem, a cancel, a revocation | `team.rs`: `found_team`; `invites.rs`; `revocation.rs` |

pub(crate) mod bundles;
pub(crate) mod envelopes;
pub(crate) mod invites;
pub(crate) mod revocation;
pub(crate) mod sharing;
pub(crate) mod team;

use std::sync::Arc;

use holdfast_protocol::{DeviceSigningKey, HpkeKeyPair};

use crate::model::ids::DeviceId;

pub use envelopes::{
    Opened, OpenedPage, Refusal, Roster, WAITING_FOR_ITS_DOCUMENT, WAITING_FOR_NOTES_KEY, open_page,
};
pub use invites::{PreparedInvite, PreparedRedeem};
pub use revocation::PreparedRevocation;
pub use team::{InviteStatus, TeamAccess, TeamDevice, TeamInvite};

/// This device as the team knows it: its id and the keys it signs and receives with. The
/// seeds live in the host's key store, never in the database.
#[derive(Clone)]
pub(crate) struct Identity {
    /// The device.
    pub device: DeviceId,
    /// Its Ed25519 key: signs envelopes, entries, bundles and logins.
    pub signer: Arc<DeviceSigningKey>,
    /// Its HPKE key pair: key bundles are sealed to it.
    pub hpke: Arc<HpkeKeyPair>,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity")
            .field("device", &self.device)
            .finish_non_exhaustive()
    }
}
