//! Where the relay keeps teams, devices and envelopes: the [`Storage`] trait and its
//! backends.
//!
//! # Design
//!
//! [`Storage`] is a trait with `async` methods (written as `fn … -> impl Future + Send`, so
//! every future can cross threads) and is used **generically**: the app state is
//! `AppState<S: Storage>` and every handler is monomorphised for the backend. That keeps
//! the hot path free of boxing and dynamic dispatch and lets a backend return its own
//! future types. The backend is chosen at start-up: [`crate::serve`] instantiates
//! `serve_with::<SqliteStorage>` or `serve_with::<PgStorage>` from `--database`, so the
//! binary holds both monomorphised copies and no request pays for the choice.
//!
//! The trait is deliberately narrow and speaks the relay's words, not SQL:
//!
//! - **teams and membership**: create a team with its genesis entry, append a membership
//!   entry (checked by the caller with `holdfast_protocol::Membership`) together with its
//!   roster change, the new key epoch and its key bundles, read the log back, read the
//!   roster, and find a device's public key for login;
//! - **key bundles**: store bundles and read those addressed to some recipients; keep the
//!   latest private-notes bundle per sender and recipient;
//! - **push**: store a batch of envelopes *already validated by the caller* (decoded,
//!   signature and authorship checked) and answer, per envelope, its team sequence number
//!   and whether it was a duplicate; idempotent by envelope id; refused whole past the
//!   team's quota of envelopes and bytes ([`Storage::set_team_quota`]), counted with the
//!   write so concurrent pushes cannot overshoot it;
//! - **pull**: a page of envelopes after a cursor, bounded by count and bytes, optionally
//!   compacted (see [`PullRequest::compact`]), leaving out other devices' private notes for
//!   a reader that may not see them ([`PrivateNotes`]; the caller marks each envelope of
//!   someone's private notes with its owner when it is pushed, `NewEnvelope::private_to`);
//! - **head**: a team's latest sequence number, and [`TeamHeads`], the in-process fan-out
//!   that a backend feeds after each commit and that live WebSockets subscribe to.
//!
//! Every method is durable before it returns `Ok`: an acknowledged envelope survives a
//! crash or power loss.
//!
//! # The backends
//!
//! - [`SqliteStorage`] ([`sqlite`]), the default: one file in the data directory, one
//!   writer thread that group-commits whatever is queued and numbers envelopes itself.
//! - [`PgStorage`] ([`postgres`], `--database postgres://…`), for several relays on one
//!   database: a connection pool and one transaction per request. A push does
//!   `SELECT … FROM teams WHERE id = $1 FOR UPDATE`, looks its ids up in one query,
//!   checks the quota against the locked row's counts, inserts the new envelopes in one
//!   multi-row `INSERT … SELECT FROM unnest(…)`, updates the head, and calls
//!   `pg_notify('holdfast_heads', …)`, which PostgreSQL delivers at `COMMIT`. The row lock
//!   serialises pushes per team (sequence numbers stay gap-free, and a number is never
//!   visible before a lower one: no puller skips an envelope), while pushes to different
//!   teams run in parallel and PostgreSQL groups their commits into one WAL flush. Each
//!   relay process runs one `LISTEN holdfast_heads` task that calls [`TeamHeads::publish`],
//!   so live clients on every relay see every commit; after a lost connection it
//!   reconnects and republishes the heads of every watched team. Its schema has versioned
//!   migrations of its own, applied under an advisory lock.
//!
//! The contract suite in `storage::contract` (feature `contract-tests`) is what every
//! backend passes: a backend's tests invoke `holdfast_relay::storage_contract_tests!(…)`
//! once and get every check (the PostgreSQL backend runs each in a schema of its own on a
//! private server; see `testing::postgres`).

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::sync::Mutex;

use holdfast_protocol::{
    DeviceId, DocumentId, EnvelopeId, EnvelopeRef, InviteId, Kind, PUBLIC_KEY_LEN, TeamId,
};
use tokio::sync::watch;

pub use axum::body::Bytes;

pub mod postgres;
pub mod sqlite;
pub use postgres::PgStorage;
pub use sqlite::SqliteStorage;

#[cfg(any(test, feature = "contract-tests"))]
pub mod contract;

/// An Ed25519 public key, as registered for a device.
pub type PublicKey = [u8; PUBLIC_KEY_LEN];

/// What can go wrong in a storage backend.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A team with this id already exists.
    #[error("team {0} already exists")]
    TeamExists(TeamId),
    /// The team does not exist.
    #[error("team {0} does not exist")]
    NoSuchTeam(TeamId),
    /// The device is registered elsewhere with another public key: a device has one key.
    #[error("device {0} is already registered with another public key")]
    DeviceKeyConflict(DeviceId),
    /// The membership log is not as long as the appending request expected: someone
    /// appended first. Re-read the log and check again.
    #[error("the membership log of team {team} has {len} entries, not {expected}")]
    MembershipConflict {
        /// The team.
        team: TeamId,
        /// The length the request expected.
        expected: u64,
        /// The actual length.
        len: u64,
    },
    /// The key bundles staged for a revocation are not the ones its append was checked
    /// with (the sender staged again meanwhile); nothing was stored. Stage them again.
    #[error("the key bundles staged for this revocation of team {0} changed while it was appended")]
    StagingChanged(TeamId),
    /// Storing a push would take the team past its quota ([`Storage::set_team_quota`]);
    /// nothing of it was stored.
    #[error(
        "team {team} would hold {would_hold} {what}, past its quota of {quota}; nothing was stored"
    )]
    QuotaExceeded {
        /// The team.
        team: TeamId,
        /// What the quota counts: `"envelopes"` or `"bytes of envelopes"`.
        what: &'static str,
        /// What the team would hold with the push.
        would_hold: u64,
        /// The quota.
        quota: u64,
    },
    /// The disk (or the database's quota) is full: nothing of the write was stored, and
    /// everything stored before is intact. The same write succeeds once there is room. The
    /// message is for the log only.
    #[error("storage is full: {0}")]
    Full(String),
    /// The backend is closed or shutting down.
    #[error("storage is closed")]
    Closed,
    /// The database failed (I/O, corruption, a bug). The message is for the log only.
    #[error("storage backend failed: {0}")]
    Backend(String),
}

/// The storage result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

pub use holdfast_protocol::Role;

/// A new team: its genesis entry (membership log entry 0, already checked by the caller)
/// and the creating device, which becomes its first admin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTeam {
    /// The team id, chosen (at random) by the creating device.
    pub team: TeamId,
    /// The encoded genesis entry.
    pub genesis: Vec<u8>,
    /// The creating device.
    pub admin: DeviceId,
    /// Its Ed25519 public key.
    pub public_key: PublicKey,
    /// Its HPKE public key.
    pub hpke_key: Vec<u8>,
    /// When, in ms since the Unix epoch.
    pub at_ms: u64,
}

/// One row of a team's roster: the relay's index of what the membership log says about a
/// device (login looks keys up here; the log itself is the authority).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    /// The device.
    pub device: DeviceId,
    /// Its Ed25519 public key.
    pub public_key: PublicKey,
    /// Its HPKE public key.
    pub hpke_key: Vec<u8>,
    /// Its role.
    pub role: Role,
    /// For a patient: the plan it reads.
    pub plan: Option<DocumentId>,
    /// The invite it redeemed (none for the team's creator).
    pub invite: Option<InviteId>,
    /// When it joined, in ms since the Unix epoch (the entry's time).
    pub added_at_ms: u64,
    /// The device that enrolled it (the creator names itself).
    pub added_by: DeviceId,
    /// When it was revoked, if it was.
    pub revoked_at_ms: Option<u64>,
}

impl Device {
    /// Whether the device may still use the team (not revoked).
    pub fn is_active(&self) -> bool {
        self.revoked_at_ms.is_none()
    }
}

/// What a membership entry changes on the roster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RosterChange {
    /// Nothing (an invite).
    None,
    /// A device joined (a redeem).
    Join(Device),
    /// A device was revoked.
    Revoke {
        /// The device.
        device: DeviceId,
        /// When (the entry's time).
        at_ms: u64,
    },
    /// A device's role changed.
    Role {
        /// The device.
        device: DeviceId,
        /// Its new role.
        role: Role,
    },
}

/// A key bundle to store, already decoded and checked by the caller.
#[derive(Clone, PartialEq, Eq)]
pub struct NewBundle {
    /// Its recipient: a device id or an invite id.
    pub recipient: [u8; 16],
    /// The device that sealed and signed it.
    pub sender: DeviceId,
    /// The encoded bundle (`HFK1`).
    pub bytes: Vec<u8>,
}

impl fmt::Debug for NewBundle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewBundle")
            .field("recipient", &hex::encode(self.recipient))
            .field("sender", &self.sender)
            .field("len", &self.bytes.len())
            .finish()
    }
}

/// One membership entry to append, with everything that must commit with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MembershipAppend {
    /// The log length the caller checked the entry against: the entry gets this sequence
    /// number, or the append fails with [`Error::MembershipConflict`].
    pub expected_len: u64,
    /// The encoded entry (`HFM1`).
    pub entry: Vec<u8>,
    /// The patient (invite id) the entry concerns, if any (`Entry::patient_subject`).
    pub subject: Option<[u8; 16]>,
    /// Its effect on the roster.
    pub roster: RosterChange,
    /// The team's key epoch once the entry is applied.
    pub epoch: u32,
    /// Key bundles that come with it.
    pub bundles: Vec<NewBundle>,
    /// Invites whose key bundles are deleted with it: cancelled or expired before anyone
    /// redeemed them (whoever photographed such a code could otherwise still open them).
    pub forget_bundles: Vec<InviteId>,
    /// A revocation's bundles staged ahead of it ([`Storage::stage_bundles`]) that it
    /// delivers, after `bundles`. A revocation (`RosterChange::Revoke`) also drops every
    /// other bundle staged for the team: they were made for an epoch that is now taken.
    pub staged: Option<TakeStaged>,
}

/// How long staged key bundles wait for the revocation that takes them: a device that
/// staged and went away leaves nothing behind for longer.
pub const STAGED_TTL_MS: u64 = 60 * 60 * 1000;

/// Key bundles staged ahead of the revocation that will deliver them: a revocation must
/// carry a bundle for every remaining device and open invite, which past ~1,000 recipients
/// no longer fits one request. Staged bundles are never served; the revocation's append
/// moves them to the team's bundles in its own transaction, or they expire.
#[derive(Clone, PartialEq, Eq)]
pub struct Staging {
    /// The device that will append the revocation (it sealed and signed every bundle).
    pub sender: DeviceId,
    /// The commitment to the new epoch's key that the revocation will carry: staging for
    /// another commitment replaces what the sender staged before.
    pub commitment: [u8; 32],
    /// The bundles, already checked by the caller; one per recipient (a bundle staged
    /// again for a recipient replaces the first).
    pub bundles: Vec<NewBundle>,
    /// When, by the relay's clock.
    pub at_ms: u64,
}

impl fmt::Debug for Staging {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Staging")
            .field("sender", &self.sender)
            .field("commitment", &hex::encode(self.commitment))
            .field("bundles", &self.bundles.len())
            .finish()
    }
}

/// The staged bundles a revocation delivers.
#[derive(Clone, PartialEq, Eq)]
pub struct TakeStaged {
    /// Their sender (the revoking device).
    pub sender: DeviceId,
    /// The revocation's key commitment.
    pub commitment: [u8; 32],
    /// Whose bundles move, in this order. Each must be staged still, or the append fails
    /// with [`Error::StagingChanged`] and stores nothing.
    pub recipients: Vec<[u8; 16]>,
}

impl fmt::Debug for TakeStaged {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TakeStaged")
            .field("sender", &self.sender)
            .field("commitment", &hex::encode(self.commitment))
            .field("recipients", &self.recipients.len())
            .finish()
    }
}

/// A stored membership entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MembershipEntry {
    /// Its position in the team's log (0 is the genesis).
    pub seq: u64,
    /// The encoded entry.
    pub entry: Vec<u8>,
    /// The patient (invite id) it concerns, if any.
    pub subject: Option<[u8; 16]>,
}

/// What a key-bundle read asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleRequest {
    /// Bundles addressed to any of these (a device id, the invite it redeemed).
    pub recipients: Vec<[u8; 16]>,
    /// With a team bundle sequence number above this.
    pub after: u64,
    /// At most this many (at least 1).
    pub limit: usize,
}

/// A team's counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TeamInfo {
    /// Its latest envelope sequence number.
    pub head: u64,
    /// Its key epoch.
    pub epoch: u32,
    /// Entries in its membership log.
    pub membership_len: u64,
}

/// A page of key bundles.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BundlePage {
    /// `(team bundle sequence number, bundle bytes)` in increasing order.
    pub bundles: Vec<(u64, Vec<u8>)>,
    /// The cursor to continue from.
    pub next: u64,
    /// Whether more follow.
    pub more: bool,
}

/// An envelope to store: its bytes and the clear-header fields the relay indexes.
///
/// The caller has decoded it strictly and checked the batch signature and authorship; the
/// backend trusts these fields to match `bytes`.
#[derive(Clone, PartialEq, Eq)]
pub struct NewEnvelope {
    /// SHA-256 of `bytes`.
    pub id: EnvelopeId,
    /// The document it belongs to.
    pub document: DocumentId,
    /// What it carries.
    pub kind: Kind,
    /// For a snapshot, the last team sequence number it includes; 0 otherwise.
    pub covers: u64,
    /// The device that wrote and pushed it.
    pub author: DeviceId,
    /// The key epoch it is sealed under.
    pub epoch: u32,
    /// For an envelope of a staff device's private notes, that device (the owner, which
    /// the caller finds from the document id and the roster): only reads that may see its
    /// notes return it ([`PrivateNotes`]). `None` for every other document.
    pub private_to: Option<DeviceId>,
    /// The whole encoded envelope (a zero-copy slice of the request body).
    pub bytes: Bytes,
}

impl NewEnvelope {
    /// The envelope to store for a decoded envelope, its id and its bytes (`bytes` must be
    /// what `envelope` was decoded from).
    pub fn new(envelope: &EnvelopeRef<'_>, id: EnvelopeId, bytes: Bytes) -> Self {
        NewEnvelope {
            id,
            document: envelope.header.document,
            kind: envelope.header.kind,
            covers: envelope.header.covers,
            author: envelope.header.author,
            epoch: envelope.header.epoch,
            private_to: None,
            bytes,
        }
    }

    /// The same envelope, marked as `owner`'s private notes.
    pub fn private_to(mut self, owner: Option<DeviceId>) -> Self {
        self.private_to = owner;
        self
    }

    /// Decodes `bytes` strictly and computes the id (for tests and tools; the push route
    /// reuses what batch decoding already computed).
    pub fn decode(bytes: Bytes) -> holdfast_protocol::Result<Self> {
        let envelope = EnvelopeRef::decode(&bytes)?;
        let id = EnvelopeId::of(&bytes);
        Ok(Self::new(&envelope, id, bytes.clone()))
    }
}

impl fmt::Debug for NewEnvelope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the bytes: ids, kinds and sizes only.
        f.debug_struct("NewEnvelope")
            .field("id", &self.id)
            .field("document", &self.document)
            .field("kind", &self.kind)
            .field("covers", &self.covers)
            .field("author", &self.author)
            .field("epoch", &self.epoch)
            .field("private_to", &self.private_to)
            .field("len", &self.bytes.len())
            .finish()
    }
}

/// The outcome of storing one envelope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pushed {
    /// Its team sequence number (for a duplicate, the one it got the first time).
    pub seq: u64,
    /// Whether the relay already held it.
    pub duplicate: bool,
}

/// The outcome of a push.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PushReceipt {
    /// One outcome per envelope, in push order.
    pub envelopes: Vec<Pushed>,
    /// The team's head once these envelopes were stored (at least the highest `seq` above;
    /// more if other pushes committed with them).
    pub head: u64,
}

/// Whose private notes a read may return (the envelopes a push marked with
/// `NewEnvelope::private_to`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrivateNotes {
    /// Everyone's: a supervisor's or an admin's read.
    All,
    /// Only this device's own: a link worker's read (a patient's has none). Every other
    /// device's private notes are left out, their sequence numbers skipped as a filtered
    /// page skips other documents'.
    OwnOnly(DeviceId),
}

impl PrivateNotes {
    /// The device whose notes alone may be read, if the read is limited (a backend's query
    /// parameter: `NULL` reads everyone's).
    pub fn only(self) -> Option<DeviceId> {
        match self {
            PrivateNotes::All => None,
            PrivateNotes::OwnOnly(device) => Some(device),
        }
    }

    /// Whether an envelope marked `private_to` may be returned.
    pub fn shows(self, private_to: Option<DeviceId>) -> bool {
        match (self, private_to) {
            (PrivateNotes::All, _) | (_, None) => true,
            (PrivateNotes::OwnOnly(me), Some(owner)) => me == owner,
        }
    }
}

/// What a pull asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PullRequest {
    /// Envelopes with a sequence number above this.
    pub after: u64,
    /// At most this many envelopes (at least 1).
    pub limit: usize,
    /// At most this many bytes of envelopes plus 12 bytes per envelope (the pull page's
    /// per-item overhead); the first envelope is returned whatever its size, so a pull
    /// always makes progress.
    pub max_bytes: usize,
    /// Leave out what a snapshot makes redundant: a change batch or a snapshot of a
    /// document whose sequence number a later snapshot of that document covers (its author
    /// had it when it saved). Two snapshots made without seeing each other are both served:
    /// each may hold what the other lacks (a device uploading again what a relay restored
    /// from a backup lost carries changes past what its `covers` says). Key material is
    /// never left out. Only snapshots that cover less than their own sequence number count:
    /// one that claims to include changes that did not exist when it arrived is served but
    /// never used to leave anything out.
    ///
    /// A backend may bound how much of the team one compact page reads (the SQLite backend
    /// reads a window of 8 envelopes per envelope the page may hold): a page can then hold
    /// fewer envelopes than asked, with `more` set and `next` past envelopes it read and
    /// left out. It never answers an empty page with `more`.
    pub compact: bool,
    /// Only envelopes of this document (a patient's plan, or a `doc=` pull). Sequence
    /// numbers stay the team's, so a filtered page has gaps. A compact pull with a filter
    /// compacts within that document.
    pub document: Option<DocumentId>,
    /// Whose private notes the page may hold.
    pub private_notes: PrivateNotes,
}

/// One page of a pull.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Page {
    /// `(sequence number, envelope bytes)` in increasing sequence order.
    pub envelopes: Vec<(u64, Vec<u8>)>,
    /// The cursor to continue from: the last envelope's sequence number, or the request's
    /// cursor when the page is empty; a compact page may set it further, past envelopes it
    /// read and left out.
    pub next: u64,
    /// Whether more envelopes (that this pull would return) follow `next` already.
    pub more: bool,
}

impl fmt::Debug for Page {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Page")
            .field("envelopes", &self.envelopes.len())
            .field("next", &self.next)
            .field("more", &self.more)
            .finish()
    }
}

/// How much one team may store (see [`Storage::set_team_quota`]). 0 means no limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TeamQuota {
    /// Envelopes a team may hold.
    pub envelopes: u64,
    /// Bytes of envelopes a team may hold (the envelopes' own bytes, as pushed).
    pub bytes: u64,
}

/// Counters a backend keeps about its writes, for `/metrics`.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct WriteStats {
    /// Write transactions committed (each may serve several requests).
    pub transactions: u64,
    /// Requests served by those transactions.
    pub requests: u64,
    /// Envelopes written or found duplicate by those transactions.
    pub envelopes: u64,
    /// Total time spent in those transactions, commit (fsync) included, in seconds.
    pub seconds: f64,
}

/// A storage backend. See the [module docs](self) for the design.
pub trait Storage: Send + Sync + 'static {
    /// Creates `team` with its genesis entry (log entry 0, epoch 1) and its creator as
    /// the first admin. [`Error::TeamExists`] if the id is taken;
    /// [`Error::DeviceKeyConflict`] if the creator is registered elsewhere with another key.
    fn create_team(&self, team: NewTeam) -> impl Future<Output = Result<()>> + Send;

    /// Appends one membership entry (already checked by the caller against the log of
    /// length `append.expected_len`) with its roster change, the team's new epoch and its
    /// key bundles, in one transaction, and returns the entry's sequence number.
    /// [`Error::NoSuchTeam`], [`Error::MembershipConflict`] if the log's length is not
    /// `expected_len` (nothing stored), or [`Error::DeviceKeyConflict`] for a joining
    /// device registered elsewhere with another key.
    fn append_membership(
        &self,
        team: TeamId,
        append: MembershipAppend,
    ) -> impl Future<Output = Result<u64>> + Send;

    /// The team's membership entries with a sequence number of at least `from`, in
    /// order. Empty if the team does not exist.
    fn membership(
        &self,
        team: TeamId,
        from: u64,
    ) -> impl Future<Output = Result<Vec<MembershipEntry>>> + Send;

    /// A team's whole roster, revoked devices included, in the order they joined.
    /// Empty if the team does not exist.
    fn devices(&self, team: TeamId) -> impl Future<Output = Result<Vec<Device>>> + Send;

    /// The public key of a device that is an active member of at least one team (what
    /// login checks the challenge answer with).
    fn device_key(
        &self,
        device: DeviceId,
    ) -> impl Future<Output = Result<Option<PublicKey>>> + Send;

    /// Stages key bundles for a revocation that is still to come (see [`Staging`]); drops
    /// what the sender staged for another commitment, and any staging (of any team)
    /// older than [`STAGED_TTL_MS`]. Returns how many bundles the sender now has staged for
    /// `staging.commitment`. [`Error::NoSuchTeam`].
    fn stage_bundles(
        &self,
        team: TeamId,
        staging: Staging,
    ) -> impl Future<Output = Result<u64>> + Send;

    /// The recipients of the bundles `sender` has staged for `commitment`, in byte order.
    fn staged_recipients(
        &self,
        team: TeamId,
        sender: DeviceId,
        commitment: [u8; 32],
    ) -> impl Future<Output = Result<Vec<[u8; 16]>>> + Send;

    /// Deletes the team's key bundles addressed to `recipient` up to sequence number
    /// `up_to` (its device has them: an acknowledgement). Returns how many.
    fn forget_bundles(
        &self,
        team: TeamId,
        recipient: [u8; 16],
        up_to: u64,
    ) -> impl Future<Output = Result<u64>> + Send;

    /// Stores private-notes key bundles from `sender` (already checked by the caller: each
    /// to a supervisor or admin of the team, one per recipient), each replacing the one
    /// `sender` stored for that recipient before, if any: a sender's latest carries every
    /// notes key it holds, so the relay keeps at most one per sender and recipient. Bundles
    /// that come with membership entries are never replaced. Returns how many were stored.
    /// [`Error::NoSuchTeam`].
    fn put_private_notes_bundles(
        &self,
        team: TeamId,
        sender: DeviceId,
        bundles: Vec<NewBundle>,
    ) -> impl Future<Output = Result<u64>> + Send;

    /// The team's key bundles addressed to any of `request.recipients` after
    /// `request.after`, in order.
    fn bundles(
        &self,
        team: TeamId,
        request: BundleRequest,
    ) -> impl Future<Output = Result<BundlePage>> + Send;

    /// Stores envelopes for `team` in order and answers one [`Pushed`] per envelope, in
    /// the same order, with the team's head. Idempotent: an envelope id the relay holds keeps its first sequence
    /// number and is reported as a duplicate (also within one call). Sequence numbers
    /// are per team, start at 1 and have no gaps. [`Error::NoSuchTeam`] if the team does
    /// not exist. Durable before it returns. `received_ms` is when the relay received the
    /// push, by its clock (kept with new envelopes; a backend never reads a clock itself).
    fn push(
        &self,
        team: TeamId,
        envelopes: Vec<NewEnvelope>,
        received_ms: u64,
    ) -> impl Future<Output = Result<PushReceipt>> + Send;

    /// One page of the team's envelopes after `request.after`.
    fn pull(&self, team: TeamId, request: PullRequest)
    -> impl Future<Output = Result<Page>> + Send;

    /// The team's latest sequence number (0 before its first envelope); `None` if the
    /// team does not exist.
    fn head(&self, team: TeamId) -> impl Future<Output = Result<Option<u64>>> + Send;

    /// The sequence number of the team's latest envelope of `document` (0 if it has none).
    fn document_head(
        &self,
        team: TeamId,
        document: DocumentId,
    ) -> impl Future<Output = Result<u64>> + Send;

    /// The ids of the team's envelopes at `seqs`, in the same order: `None` where the team
    /// holds no envelope at that sequence number (or, with `document`, none of that
    /// document; or one of private notes `private_notes` leaves out). A device compares
    /// them with the ids it was given at those numbers to tell whether the relay still
    /// holds what it acknowledged (a database restored from a backup holds a prefix of the
    /// history, then envelopes that reuse later numbers).
    fn envelope_ids(
        &self,
        team: TeamId,
        seqs: Vec<u64>,
        document: Option<DocumentId>,
        private_notes: PrivateNotes,
    ) -> impl Future<Output = Result<Vec<Option<EnvelopeId>>>> + Send;

    /// A team's head, key epoch and membership length; `None` if it does not exist.
    fn team(&self, team: TeamId) -> impl Future<Output = Result<Option<TeamInfo>>> + Send;

    /// Sets how much each team may store from now on: a push that would take a team past
    /// `quota` is refused whole with [`Error::QuotaExceeded`] and stores nothing.
    /// Envelopes the team already holds (duplicates) do not count again. Exact under
    /// concurrent pushes: the check and the write happen together. The relay sets it once,
    /// at start-up; a new backend has no quota.
    fn set_team_quota(&self, quota: TeamQuota);

    /// The live fan-out of team heads, published by the backend after each commit.
    fn heads(&self) -> &TeamHeads;

    /// Whether other relay processes may write this database too (PostgreSQL), so what
    /// this process remembers of it (the membership cache, login challenges) must be
    /// checked against it or kept in it. False for a database one process owns (SQLite).
    fn shares_database(&self) -> bool {
        false
    }

    /// The key every relay of a shared database signs bearer tokens with: the one stored
    /// in the database, or `generated` if there is none yet (stored then, so the first
    /// relay to start chooses it). `None` for a database one process owns: that relay keeps
    /// its key in its data folder.
    fn shared_token_key(
        &self,
        generated: [u8; 32],
    ) -> impl Future<Output = Result<Option<[u8; 32]>>> + Send {
        let _ = generated;
        async { Ok(None) }
    }

    /// Records a login challenge issued to `device`, so that any relay of a shared
    /// database can redeem it, timed by the database's clock (relays' clocks may differ);
    /// forgets `replaced` (the challenge it replaced in the issuing relay's table, which is
    /// bounded) and every challenge older than `ttl_ms`. Only asked of a backend that
    /// [shares its database](Self::shares_database); one that does not refuses.
    fn record_challenge(
        &self,
        challenge: [u8; 32],
        device: DeviceId,
        replaced: Option<[u8; 32]>,
        ttl_ms: u64,
    ) -> impl Future<Output = Result<()>> + Send {
        let _ = (challenge, device, replaced, ttl_ms);
        async { Err(Error::Backend("login challenges are kept in memory".into())) }
    }

    /// Takes a recorded login challenge, once (a second take, from any relay, finds
    /// nothing): the device it was issued to, if it was recorded less than `ttl_ms` ago by
    /// the database's clock. See [`record_challenge`](Self::record_challenge).
    fn take_challenge(
        &self,
        challenge: [u8; 32],
        ttl_ms: u64,
    ) -> impl Future<Output = Result<Option<DeviceId>>> + Send {
        let _ = (challenge, ttl_ms);
        async { Err(Error::Backend("login challenges are kept in memory".into())) }
    }

    /// Counters about writes so far.
    fn write_stats(&self) -> WriteStats;

    /// Whether the backend can serve (for `/healthz`).
    fn check(&self) -> impl Future<Output = Result<()>> + Send;

    /// Stops accepting writes, finishes the ones already queued and releases the
    /// database. Later calls fail with [`Error::Closed`].
    fn close(&self) -> impl Future<Output = Result<()>> + Send;
}

/// The latest sequence number of each team that someone is watching, fed by the storage
/// backend after every commit (and, for a multi-process backend, by its notification
/// listener). Values only ever grow.
///
/// For a database several relays share it also carries the length of each watched team's
/// membership log as other relays append to it ([`subscribe_membership`]
/// (Self::subscribe_membership)): a live socket on this relay closes when its device is
/// revoked through another.
#[derive(Default)]
pub struct TeamHeads {
    heads: Watched,
    membership: Watched,
}

/// A growing number per team, for the teams someone watches.
#[derive(Default)]
struct Watched(Mutex<HashMap<TeamId, watch::Sender<u64>>>);

impl Watched {
    fn subscribe(&self, team: TeamId) -> watch::Receiver<u64> {
        let mut watched = self.lock();
        match watched.get(&team) {
            Some(sender) => sender.subscribe(),
            None => {
                // Teams nobody watches any more are forgotten on publish; those nothing
                // publishes for (membership on a database one relay owns) as the map
                // doubles.
                if watched.len() >= 1024 && watched.len().is_power_of_two() {
                    watched.retain(|_, sender| sender.receiver_count() > 0);
                }
                let (sender, receiver) = watch::channel(0);
                watched.insert(team, sender);
                receiver
            }
        }
    }

    fn publish(&self, team: TeamId, value: u64) {
        let mut watched = self.lock();
        let Some(sender) = watched.get(&team) else {
            return;
        };
        if sender.receiver_count() == 0 {
            // Everyone left: forget the team rather than keep a sender per team ever seen.
            watched.remove(&team);
            return;
        }
        sender.send_if_modified(|current| {
            let grew = value > *current;
            if grew {
                *current = value;
            }
            grew
        });
    }

    fn watched(&self) -> Vec<TeamId> {
        self.lock()
            .iter()
            .filter(|(_, sender)| sender.receiver_count() > 0)
            .map(|(team, _)| *team)
            .collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<TeamId, watch::Sender<u64>>> {
        // A panic while holding this lock cannot leave the map inconsistent: recover it.
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl TeamHeads {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Watches a team's head. The value starts at the last head published while someone
    /// watched, or 0: read the head from storage *after* subscribing and
    /// [`publish`](Self::publish) it, so no commit can fall between the two.
    pub fn subscribe(&self, team: TeamId) -> watch::Receiver<u64> {
        self.heads.subscribe(team)
    }

    /// Records that `team`'s head is now at least `head`, waking its watchers if it grew.
    /// Costs one map lookup when nobody watches the team.
    pub fn publish(&self, team: TeamId, head: u64) {
        self.heads.publish(team, head);
    }

    /// The teams with at least one watcher (a backend whose notifications may have been
    /// missed publishes their heads again).
    pub fn watched(&self) -> Vec<TeamId> {
        self.heads.watched()
    }

    /// Teams with at least one watcher.
    pub fn watched_teams(&self) -> usize {
        self.heads.watched().len()
    }

    /// Watches the length of a team's membership log as the relays sharing the database
    /// announce their appends (a backend one process owns never announces: that process's
    /// membership cache sees its own appends).
    pub fn subscribe_membership(&self, team: TeamId) -> watch::Receiver<u64> {
        self.membership.subscribe(team)
    }

    /// Records that `team`'s membership log now has at least `len` entries.
    pub fn publish_membership(&self, team: TeamId, len: u64) {
        self.membership.publish(team, len);
    }

    /// The teams whose membership someone watches.
    pub fn membership_watched(&self) -> Vec<TeamId> {
        self.membership.watched()
    }
}

impl fmt::Debug for TeamHeads {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TeamHeads")
            .field("watched", &self.heads.lock().len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn heads_only_grow_and_forget_unwatched_teams() {
        let heads = TeamHeads::new();
        let team = TeamId([1; 16]);
        heads.publish(team, 5); // nobody watches: nothing kept
        assert_eq!(heads.watched_teams(), 0);

        let mut rx = heads.subscribe(team);
        heads.publish(team, 3);
        assert!(rx.has_changed().unwrap());
        assert_eq!(*rx.borrow_and_update(), 3);
        heads.publish(team, 2);
        assert!(!rx.has_changed().unwrap());
        heads.publish(team, 7);
        assert_eq!(*rx.borrow_and_update(), 7);
        assert_eq!(heads.watched_teams(), 1);

        drop(rx);
        heads.publish(team, 8);
        assert_eq!(heads.watched_teams(), 0);
        assert!(heads.heads.lock().is_empty());
    }
}
