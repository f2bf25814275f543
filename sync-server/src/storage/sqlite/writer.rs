//! The one writer thread: it owns the write connection and turns whatever requests are
//! queued into one transaction (group commit).
//!
//! Requests arrive on a bounded channel. The thread blocks for the first, then drains
//! without waiting whatever else is already queued, up to [`MAX_GROUP_ENVELOPES`]
//! envelopes, and applies them all in one `BEGIN IMMEDIATE … COMMIT`: one WAL append and
//! one fsync (`synchronous=FULL`) for the group. A request that is refused (an unknown
//! team, a duplicate device) is refused before it writes anything, so the others commit
//! regardless; a statement that fails part-way rolls the whole group back and every
//! request in it gets the error. Replies go out through each request's oneshot only after
//! the commit, so nothing is acknowledged before it is durable; then the new heads are
//! published to the live fan-out.
//!
//! No timer: while one group commits, the next one queues up, so the batch size follows
//! the load (1 request per transaction when idle, dozens under load) without adding
//! latency when idle.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use holdfast_protocol::{DeviceId, TeamId};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use tokio::sync::{mpsc, oneshot};

use super::checkpoint::Checkpointer;
use super::ids::{self, IdIndex};
use super::{Shared, from_sql_int, sql_error, to_sql_int};
use crate::storage::{
    Device, Error, MembershipAppend, NewBundle, NewEnvelope, NewTeam, PushReceipt, Pushed, Result,
    RosterChange, STAGED_TTL_MS, Staging, TakeStaged, TeamQuota,
};

/// Stop draining the queue into the current transaction past this many envelopes, so one
/// transaction (and the latency of every request in it) stays bounded.
pub(super) const MAX_GROUP_ENVELOPES: usize = 4096;

/// A write request and the channel its answer goes back on.
pub(super) enum Command {
    CreateTeam {
        team: NewTeam,
        reply: oneshot::Sender<Result<()>>,
    },
    AppendMembership {
        team: TeamId,
        append: Box<MembershipAppend>,
        reply: oneshot::Sender<Result<u64>>,
    },
    StageBundles {
        team: TeamId,
        staging: Staging,
        reply: oneshot::Sender<Result<u64>>,
    },
    ForgetBundles {
        team: TeamId,
        recipient: [u8; 16],
        up_to: u64,
        reply: oneshot::Sender<Result<u64>>,
    },
    PutPrivateNotesBundles {
        team: TeamId,
        sender: DeviceId,
        bundles: Vec<NewBundle>,
        reply: oneshot::Sender<Result<u64>>,
    },
    Push {
        team: TeamId,
        envelopes: Vec<NewEnvelope>,
        received_ms: u64,
        reply: oneshot::Sender<Result<PushReceipt>>,
    },
}

impl Command {
    /// How much of a group this request uses up.
    fn weight(&self) -> usize {
        match self {
            Command::Push { envelopes, .. } => envelopes.len().max(1),
            Command::StageBundles { staging, .. } => staging.bundles.len().max(1),
            Command::PutPrivateNotesBundles { bundles, .. } => bundles.len().max(1),
            Command::AppendMembership { append, .. } => append
                .bundles
                .len()
                .saturating_add(append.staged.as_ref().map_or(0, |t| t.recipients.len()))
                .max(1),
            Command::CreateTeam { .. } | Command::ForgetBundles { .. } => 1,
        }
    }
}

/// A request's result, held until the group commits.
enum Done {
    Unit(oneshot::Sender<Result<()>>, Result<()>),
    Number(oneshot::Sender<Result<u64>>, Result<u64>),
    Pushed(oneshot::Sender<Result<PushReceipt>>, Result<PushReceipt>),
}

impl Done {
    /// Turns a success into `error` (the commit failed, so nothing was stored).
    fn fail(self, error: &Error) -> Self {
        let failed = || error.clone();
        match self {
            Done::Unit(reply, r) => Done::Unit(reply, r.and_then(|_| Err(failed()))),
            Done::Number(reply, r) => Done::Number(reply, r.and_then(|_| Err(failed()))),
            Done::Pushed(reply, r) => Done::Pushed(reply, r.and_then(|_| Err(failed()))),
        }
    }

    /// The error of a backend failure (a statement failed part-way: I/O, a full disk,
    /// corruption), if this is one, rather than a refusal made before writing.
    fn backend_error(&self) -> Option<Error> {
        let error = match self {
            Done::Unit(_, Err(e)) | Done::Number(_, Err(e)) | Done::Pushed(_, Err(e)) => e,
            _ => return None,
        };
        // A full disk above all: SQLite may have rolled the transaction back already, and
        // the group's later statements would each commit on their own.
        matches!(error, Error::Backend(_) | Error::Full(_)).then(|| error.clone())
    }

    fn send(self) {
        // A requester that went away (client disconnected) no longer needs its answer; what
        // it asked for is committed all the same.
        match self {
            Done::Unit(reply, r) => drop(reply.send(r)),
            Done::Number(reply, r) => drop(reply.send(r)),
            Done::Pushed(reply, r) => drop(reply.send(r)),
        }
    }
}

pub(super) struct Writer {
    conn: Connection,
    queue: mpsc::Receiver<Command>,
    shared: Arc<Shared>,

    /// Each team's last sequence number and envelope bytes, read once from `teams` and
    /// then kept here, so a push costs no extra read. Cleared when a transaction fails.
    heads: HashMap<TeamId, Held>,

    /// Ids on their way into `envelope_ids` ([`ids`]). `None` after a failed transaction
    /// until read again from the database (the next group does so first).
    ids: Option<IdIndex>,
    /// How many ids may wait ([`super::SqliteOptions::id_buffer`]).
    id_buffer: usize,

    /// The background checkpoints ([`super::checkpoint`]); `None`: SQLite's automatic
    /// checkpoint in this thread.
    checkpointer: Option<Checkpointer>,
    /// WAL frames past which the writer finishes the background's copy itself.
    restart_frames: u64,
}

/// What a team holds: its last sequence number (= its envelope count: sequence numbers
/// have no gaps) and the bytes of its envelopes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Held {
    head: u64,
    bytes: u64,
}

impl Writer {
    /// The writer of the database `conn` has open (and migrated), with the ids an unclean
    /// stop left out of the id index pending again.
    pub(super) fn new(
        conn: Connection,
        queue: mpsc::Receiver<Command>,
        shared: Arc<Shared>,
        id_buffer: usize,
        checkpoints: (Option<Checkpointer>, u64),
    ) -> Result<Self> {
        let ids = IdIndex::load(&conn, id_buffer)?;
        let (checkpointer, restart_frames) = checkpoints;
        Ok(Writer {
            conn,
            queue,
            shared,
            heads: HashMap::new(),
            ids: Some(ids),
            id_buffer,
            checkpointer,
            restart_frames,
        })
    }

    /// Serves requests until every sender is gone and the queue is empty.
    pub(super) fn run(mut self) {
        while let Some(first) = self.queue.blocking_recv() {
            let mut weight = first.weight();
            let mut group = vec![first];
            while weight < MAX_GROUP_ENVELOPES {
                match self.queue.try_recv() {
                    Ok(command) => {
                        weight = weight.saturating_add(command.weight());
                        group.push(command);
                    }
                    Err(_) => break,
                }
            }
            self.commit_group(group);
        }
        if let Err(e) = self.flush_ids() {
            // Nothing is lost: the next open finds the ids past each team's mark again.
            tracing::error!(error = %e, "relay writer could not write pending ids at close");
        }
        // Before this connection closes: the last one checkpoints and removes the WAL.
        if let Some(mut checkpointer) = self.checkpointer.take() {
            checkpointer.stop();
        }
        tracing::debug!("relay writer stopped: queue closed and drained");
    }

    /// Moves every pending id into the index (at close, so the next open has none to find).
    /// Runs even with nothing pending: the marks of teams whose ids were all swept may
    /// still lag behind their heads, and the next open would read their envelopes again.
    fn flush_ids(&mut self) -> Result<()> {
        self.ids_ready()?;
        let Some(ids) = self.ids.as_mut() else {
            return Ok(());
        };
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql_error)?;
        ids.flush(&tx)?;
        tx.commit().map_err(sql_error)
    }

    /// Reads the pending ids again if a failed transaction left them unknown.
    fn ids_ready(&mut self) -> Result<()> {
        if self.ids.is_none() {
            self.ids = Some(IdIndex::load(&self.conn, self.id_buffer)?);
        }
        Ok(())
    }

    fn commit_group(&mut self, group: Vec<Command>) {
        let started = Instant::now();
        let requests = group.len();
        let mut envelopes = 0usize;
        let mut done = Vec::with_capacity(requests);
        let mut grown: HashMap<TeamId, u64> = HashMap::new();
        let quota = self.shared.quota();

        if let Err(e) = self.ids_ready() {
            tracing::error!(error = %e, requests, "relay writer could not read the pending ids");
            for command in group {
                done_without_trying(command, &e).send();
            }
            return;
        }
        let Some(ids) = self.ids.as_mut() else {
            return;
        };
        let tx = match self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
        {
            Ok(tx) => tx,
            Err(e) => {
                let e = sql_error(e);
                tracing::error!(error = %e, requests, "relay writer could not begin a transaction");
                for command in group {
                    done_without_trying(command, &e).send();
                }
                return;
            }
        };

        // Requests check before they write, so a refused one (an unknown team, a duplicate
        // device) leaves nothing behind. A statement failing part-way (I/O, corruption) is
        // different: the group is rolled back whole. No savepoint per request: SQLite would
        // copy every page a request touches into a sub-journal first, which was a quarter
        // of the writer's time under load.
        let mut failed: Option<Error> = None;
        let pending_before = ids.pending();
        for command in group {
            if let Some(error) = &failed {
                done.push(done_without_trying(command, error));
                continue;
            }
            let outcome = apply(&tx, &mut self.heads, ids, &mut grown, quota, command);
            if let Some(error) = outcome.backend_error() {
                failed = Some(error);
            } else if let Done::Pushed(_, Ok(receipt)) = &outcome {
                envelopes = envelopes.saturating_add(receipt.envelopes.len());
            }
            done.push(outcome);
        }
        if failed.is_none() {
            // The sweep moves on with what this group added, in its transaction.
            let added = ids.pending().saturating_sub(pending_before);
            if let Err(e) = ids.sweep(&tx, added) {
                failed = Some(e);
            }
        }
        if let Some(error) = failed {
            self.heads.clear();
            self.ids = None;
            if let Err(e) = tx.rollback() {
                // Also when SQLite rolled it back already (a full disk can): nothing of
                // the group is stored either way.
                tracing::error!(error = %sql_error(e), "relay write transaction failed to roll back");
            }
            tracing::error!(error = %error, requests, "relay write transaction rolled back");
            for d in done {
                d.fail(&error).send();
            }
            return;
        }

        match tx.commit() {
            Ok(()) => {
                let stats = &self.shared.stats;
                stats.transactions.fetch_add(1, Ordering::Relaxed);
                stats
                    .requests
                    .fetch_add(as_u64(requests), Ordering::Relaxed);
                stats
                    .envelopes
                    .fetch_add(as_u64(envelopes), Ordering::Relaxed);
                let nanos = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
                stats.nanos.fetch_add(nanos, Ordering::Relaxed);
                for d in done {
                    d.send();
                }
                for (team, head) in grown {
                    self.shared.heads.publish(team, head);
                }
                self.after_commit();
            }
            Err(e) => {
                // Nothing of this group was stored: the cached heads may be ahead of the
                // database, so read them again next time, and the pending ids too.
                self.heads.clear();
                self.ids = None;
                let e = sql_error(e);
                tracing::error!(error = %e, requests, envelopes, "relay write transaction failed to commit");
                for d in done {
                    d.fail(&e).send();
                }
            }
        }
    }
}

impl Writer {
    /// Hands the copy of what was just committed to the background, and finishes it here
    /// once the WAL is long, so that the next transaction starts the WAL over.
    fn after_commit(&mut self) {
        let Some(checkpointer) = &self.checkpointer else {
            return;
        };
        checkpointer.committed();
        if checkpointer.wal_frames() < self.restart_frames {
            return;
        }
        match self
            .conn
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, i64>(2)?,
                ))
            }) {
            // Not busy and all copied: the WAL starts over.
            Ok((0, frames, copied)) if frames == copied => checkpointer.restarted(),
            // The background is copying now, or a reader holds frames: next commit.
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %sql_error(e), "relay writer checkpoint failed"),
        }
    }
}

fn as_u64(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

/// The answer to a request that could not even be attempted.
fn done_without_trying(command: Command, error: &Error) -> Done {
    let error = || error.clone();
    match command {
        Command::CreateTeam { reply, .. } => Done::Unit(reply, Err(error())),
        Command::AppendMembership { reply, .. }
        | Command::StageBundles { reply, .. }
        | Command::ForgetBundles { reply, .. }
        | Command::PutPrivateNotesBundles { reply, .. } => Done::Number(reply, Err(error())),
        Command::Push { reply, .. } => Done::Pushed(reply, Err(error())),
    }
}

/// Applies one request. Refusals happen before any write.
fn apply(
    conn: &Connection,
    heads: &mut HashMap<TeamId, Held>,
    ids: &mut IdIndex,
    grown: &mut HashMap<TeamId, u64>,
    quota: TeamQuota,
    command: Command,
) -> Done {
    match command {
        Command::CreateTeam { team, reply } => {
            let result = create_team(conn, &team);
            if result.is_ok() {
                heads.insert(team.team, Held { head: 0, bytes: 0 });
            }
            Done::Unit(reply, result)
        }
        Command::AppendMembership {
            team,
            append,
            reply,
        } => Done::Number(reply, append_membership(conn, team, &append)),
        Command::StageBundles {
            team,
            staging,
            reply,
        } => Done::Number(reply, stage_bundles(conn, team, &staging)),
        Command::ForgetBundles {
            team,
            recipient,
            up_to,
            reply,
        } => Done::Number(reply, forget_bundles(conn, team, recipient, up_to)),
        Command::PutPrivateNotesBundles {
            team,
            sender,
            bundles,
            reply,
        } => Done::Number(
            reply,
            put_private_notes_bundles(conn, team, sender, &bundles),
        ),
        Command::Push {
            team,
            envelopes,
            received_ms,
            reply,
        } => {
            let before = heads.get(&team).copied();
            let result = push(conn, heads, ids, team, &envelopes, received_ms, quota);
            match &result {
                Ok(_) => {
                    if let Some(&held) = heads.get(&team)
                        && Some(held.head) != before.map(|b| b.head)
                    {
                        grown.insert(team, held.head);
                    }
                }
                Err(_) => {
                    match before {
                        Some(head) => heads.insert(team, head),
                        None => heads.remove(&team),
                    };
                }
            }
            Done::Pushed(reply, result)
        }
    }
}

fn check_key(conn: &Connection, device: &DeviceId, public_key: &[u8; 32]) -> Result<()> {
    let conflict = conn
        .prepare_cached("SELECT 1 FROM devices WHERE device = ?1 AND public_key <> ?2 LIMIT 1")
        .and_then(|mut s| {
            s.query_row(params![device.0, public_key], |_| Ok(()))
                .optional()
        })
        .map_err(sql_error)?;
    match conflict {
        Some(()) => Err(Error::DeviceKeyConflict(*device)),
        None => Ok(()),
    }
}

fn create_team(conn: &Connection, team: &NewTeam) -> Result<()> {
    check_key(conn, &team.admin, &team.public_key)?;
    let at = to_sql_int(team.at_ms);
    let inserted = conn
        .execute(
            "INSERT INTO teams (id, created_at, head, epoch, membership_len, bundle_head)
             VALUES (?1, ?2, 0, 1, 1, 0) ON CONFLICT DO NOTHING",
            params![team.team.0, at],
        )
        .map_err(sql_error)?;
    if inserted == 0 {
        return Err(Error::TeamExists(team.team));
    }
    conn.execute(
        "INSERT INTO membership (team, seq, entry, subject) VALUES (?1, 0, ?2, NULL)",
        params![team.team.0, team.genesis],
    )
    .map_err(sql_error)?;
    conn.execute(
        "INSERT INTO devices (team, device, public_key, hpke_key, role, added_at, added_by)
         VALUES (?1, ?2, ?3, ?4, 'admin', ?5, ?2)",
        params![
            team.team.0,
            team.admin.0,
            team.public_key,
            team.hpke_key,
            at
        ],
    )
    .map_err(sql_error)?;
    Ok(())
}

/// `(membership_len, bundle_head)` of a team.
fn team_counters(conn: &Connection, team: TeamId) -> Result<(u64, u64)> {
    conn.prepare_cached("SELECT membership_len, bundle_head FROM teams WHERE id = ?1")
        .and_then(|mut s| {
            s.query_row([team.0], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)))
                .optional()
        })
        .map_err(sql_error)?
        .map(|(len, bundles)| (from_sql_int(len), from_sql_int(bundles)))
        .ok_or(Error::NoSuchTeam(team))
}

fn append_membership(conn: &Connection, team: TeamId, append: &MembershipAppend) -> Result<u64> {
    let (len, bundle_head) = team_counters(conn, team)?;
    if len != append.expected_len {
        return Err(Error::MembershipConflict {
            team,
            expected: append.expected_len,
            len,
        });
    }
    if let RosterChange::Join(device) = &append.roster {
        check_key(conn, &device.device, &device.public_key)?;
    }
    // Read before anything is written: a refusal must leave nothing behind.
    let staged = match &append.staged {
        Some(take) => read_staged(conn, team, take)?,
        None => Vec::new(),
    };
    conn.prepare_cached(
        "INSERT INTO membership (team, seq, entry, subject) VALUES (?1, ?2, ?3, ?4)",
    )
    .and_then(|mut s| {
        s.execute(params![
            team.0,
            to_sql_int(len),
            append.entry,
            append.subject
        ])
    })
    .map_err(sql_error)?;
    match &append.roster {
        RosterChange::None => {}
        RosterChange::Join(device) => insert_device(conn, team, device)?,
        RosterChange::Revoke { device, at_ms } => {
            conn.execute(
                "UPDATE devices SET revoked_at = ?3
                 WHERE team = ?1 AND device = ?2 AND revoked_at IS NULL",
                params![team.0, device.0, to_sql_int(*at_ms)],
            )
            .map_err(sql_error)?;
        }
        RosterChange::Role { device, role } => {
            conn.execute(
                "UPDATE devices SET role = ?3 WHERE team = ?1 AND device = ?2",
                params![team.0, device.0, role.as_str()],
            )
            .map_err(sql_error)?;
        }
    }
    let mut bundle_head = insert_bundles(conn, team, bundle_head, &append.bundles, false)?;
    if let Some(take) = &append.staged {
        bundle_head = insert_bundles(conn, team, bundle_head, &staged, false)?;
        conn.prepare_cached("DELETE FROM staged_bundles WHERE team = ?1 AND sender = ?2")
            .and_then(|mut s| s.execute(params![team.0, take.sender.0]))
            .map_err(sql_error)?;
    }
    if matches!(append.roster, RosterChange::Revoke { .. }) {
        // Whatever else was staged was made for the epoch this revocation just took.
        conn.prepare_cached("DELETE FROM staged_bundles WHERE team = ?1")
            .and_then(|mut s| s.execute([team.0]))
            .map_err(sql_error)?;
    }
    for invite in &append.forget_bundles {
        forget_bundles(conn, team, invite.0, u64::MAX)?;
    }
    conn.prepare_cached(
        "UPDATE teams SET membership_len = ?2, epoch = ?3, bundle_head = ?4 WHERE id = ?1",
    )
    .and_then(|mut s| {
        s.execute(params![
            team.0,
            to_sql_int(len.saturating_add(1)),
            append.epoch,
            to_sql_int(bundle_head)
        ])
    })
    .map_err(sql_error)?;
    Ok(len)
}

fn insert_device(conn: &Connection, team: TeamId, device: &Device) -> Result<()> {
    conn.execute(
        "INSERT INTO devices (team, device, public_key, hpke_key, role, plan, invite, added_at,
                              added_by, revoked_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        params![
            team.0,
            device.device.0,
            device.public_key,
            device.hpke_key,
            device.role.as_str(),
            device.plan.map(|p| p.0),
            device.invite.map(|i| i.0),
            to_sql_int(device.added_at_ms),
            device.added_by.0,
            device.revoked_at_ms.map(to_sql_int),
        ],
    )
    .map_err(sql_error)?;
    Ok(())
}

/// Inserts bundles after `head` (`private_notes`: bundles handing on private-notes keys);
/// returns the new bundle head.
fn insert_bundles(
    conn: &Connection,
    team: TeamId,
    head: u64,
    bundles: &[NewBundle],
    private_notes: bool,
) -> Result<u64> {
    let mut insert = conn
        .prepare_cached(
            "INSERT INTO key_bundles (team, seq, recipient, sender, bytes, private_notes)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )
        .map_err(sql_error)?;
    let mut head = head;
    for bundle in bundles {
        head = head.saturating_add(1);
        insert
            .execute(params![
                team.0,
                to_sql_int(head),
                bundle.recipient,
                bundle.sender.0,
                bundle.bytes,
                private_notes,
            ])
            .map_err(sql_error)?;
    }
    Ok(head)
}

/// Stores `sender`'s private-notes bundles, each replacing its last one to that recipient.
fn put_private_notes_bundles(
    conn: &Connection,
    team: TeamId,
    sender: DeviceId,
    bundles: &[NewBundle],
) -> Result<u64> {
    let (_, bundle_head) = team_counters(conn, team)?;
    let mut forget = conn
        .prepare_cached(
            "DELETE FROM key_bundles
             WHERE team = ?1 AND sender = ?2 AND recipient = ?3 AND private_notes = 1",
        )
        .map_err(sql_error)?;
    for bundle in bundles {
        forget
            .execute(params![team.0, sender.0, bundle.recipient])
            .map_err(sql_error)?;
    }
    let head = insert_bundles(conn, team, bundle_head, bundles, true)?;
    conn.prepare_cached("UPDATE teams SET bundle_head = ?2 WHERE id = ?1")
        .and_then(|mut s| s.execute(params![team.0, to_sql_int(head)]))
        .map_err(sql_error)?;
    Ok(as_u64(bundles.len()))
}

/// The staged bundles `take` names, in its order; [`Error::StagingChanged`] if one is not
/// staged (any more).
fn read_staged(conn: &Connection, team: TeamId, take: &TakeStaged) -> Result<Vec<NewBundle>> {
    let mut read = conn
        .prepare_cached(
            "SELECT bytes FROM staged_bundles
             WHERE team = ?1 AND sender = ?2 AND recipient = ?3 AND commitment = ?4",
        )
        .map_err(sql_error)?;
    let mut bundles = Vec::with_capacity(take.recipients.len());
    for recipient in &take.recipients {
        let bytes: Option<Vec<u8>> = read
            .query_row(
                params![team.0, take.sender.0, recipient, take.commitment],
                |r| r.get(0),
            )
            .optional()
            .map_err(sql_error)?;
        let Some(bytes) = bytes else {
            return Err(Error::StagingChanged(team));
        };
        bundles.push(NewBundle {
            recipient: *recipient,
            sender: take.sender,
            bytes,
        });
    }
    Ok(bundles)
}

fn stage_bundles(conn: &Connection, team: TeamId, staging: &Staging) -> Result<u64> {
    team_counters(conn, team)?;
    let at = to_sql_int(staging.at_ms);
    conn.prepare_cached(
        "DELETE FROM staged_bundles
         WHERE (team = ?1 AND sender = ?2 AND commitment <> ?3) OR staged_at < ?4",
    )
    .and_then(|mut s| {
        s.execute(params![
            team.0,
            staging.sender.0,
            staging.commitment,
            to_sql_int(staging.at_ms.saturating_sub(STAGED_TTL_MS))
        ])
    })
    .map_err(sql_error)?;
    let mut insert = conn
        .prepare_cached(
            "INSERT INTO staged_bundles (team, sender, recipient, commitment, staged_at, bytes)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (team, sender, recipient)
             DO UPDATE SET commitment = excluded.commitment, staged_at = excluded.staged_at,
                           bytes = excluded.bytes",
        )
        .map_err(sql_error)?;
    for bundle in &staging.bundles {
        insert
            .execute(params![
                team.0,
                staging.sender.0,
                bundle.recipient,
                staging.commitment,
                at,
                bundle.bytes
            ])
            .map_err(sql_error)?;
    }
    let staged: i64 = conn
        .prepare_cached(
            "SELECT count(*) FROM staged_bundles
             WHERE team = ?1 AND sender = ?2 AND commitment = ?3",
        )
        .and_then(|mut s| {
            s.query_row(params![team.0, staging.sender.0, staging.commitment], |r| {
                r.get(0)
            })
        })
        .map_err(sql_error)?;
    Ok(from_sql_int(staged))
}

fn forget_bundles(conn: &Connection, team: TeamId, recipient: [u8; 16], up_to: u64) -> Result<u64> {
    let n = conn
        .prepare_cached("DELETE FROM key_bundles WHERE team = ?1 AND recipient = ?2 AND seq <= ?3")
        .and_then(|mut s| s.execute(params![team.0, recipient, to_sql_int(up_to)]))
        .map_err(sql_error)?;
    Ok(u64::try_from(n).unwrap_or(u64::MAX))
}

/// Where each envelope of a push goes: stored already (its sequence number), the same as
/// an earlier envelope of this push, or new.
enum Placement {
    Stored(u64),
    SameAs(usize),
    New,
}

fn push(
    conn: &Connection,
    heads: &mut HashMap<TeamId, Held>,
    ids: &mut IdIndex,
    team: TeamId,
    envelopes: &[NewEnvelope],
    received_ms: u64,
    quota: TeamQuota,
) -> Result<PushReceipt> {
    let held = match heads.get(&team) {
        Some(&held) => held,
        None => {
            let row: Option<(i64, i64)> = conn
                .prepare_cached("SELECT head, envelope_bytes FROM teams WHERE id = ?1")
                .and_then(|mut s| {
                    s.query_row([team.0], |r| Ok((r.get(0)?, r.get(1)?)))
                        .optional()
                })
                .map_err(sql_error)?;
            let (head, bytes) = row.ok_or(Error::NoSuchTeam(team))?;
            Held {
                head: from_sql_int(head),
                bytes: from_sql_int(bytes),
            }
        }
    };

    // First where each envelope goes, then the quota on what is new, then the writes:
    // a refused push writes nothing (the group's transaction has no savepoints).
    let placements = place(conn, ids, team, envelopes)?;
    let (mut adding, mut adding_bytes) = (0u64, 0u64);
    for (envelope, placement) in envelopes.iter().zip(&placements) {
        if matches!(placement, Placement::New) {
            adding += 1;
            adding_bytes = adding_bytes.saturating_add(as_u64(envelope.bytes.len()));
        }
    }
    let exceeded = |what, held: u64, adding: u64, quota: u64| {
        let would_hold = held.saturating_add(adding);
        (quota > 0 && adding > 0 && would_hold > quota).then_some(Error::QuotaExceeded {
            team,
            what,
            would_hold,
            quota,
        })
    };
    if let Some(e) = exceeded("envelopes", held.head, adding, quota.envelopes)
        .or_else(|| exceeded("bytes of envelopes", held.bytes, adding_bytes, quota.bytes))
    {
        return Err(e);
    }

    let received = to_sql_int(received_ms);
    let mut insert = conn
        .prepare_cached(
            "INSERT INTO envelopes (team, seq, id, document, kind, covers, author, received_at,
                                    bytes, private_to)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        )
        .map_err(sql_error)?;
    let mut head = held.head;
    let mut results: Vec<Pushed> = Vec::with_capacity(envelopes.len());
    for (envelope, placement) in envelopes.iter().zip(&placements) {
        let pushed = match *placement {
            Placement::Stored(seq) => Pushed {
                seq,
                duplicate: true,
            },
            Placement::SameAs(first) => Pushed {
                seq: results[first].seq,
                duplicate: true,
            },
            Placement::New => {
                let seq = head.saturating_add(1);
                insert
                    .execute(params![
                        team.0,
                        to_sql_int(seq),
                        envelope.id.0,
                        envelope.document.0,
                        envelope.kind.as_byte(),
                        to_sql_int(envelope.covers),
                        envelope.author.0,
                        received,
                        &envelope.bytes[..],
                        envelope.private_to.map(|d| d.0),
                    ])
                    .map_err(sql_error)?;
                ids.add(conn, ids::prefix(&envelope.id.0), team.0, seq)?;
                head = seq;
                Pushed {
                    seq,
                    duplicate: false,
                }
            }
        };
        results.push(pushed);
    }
    let held = Held {
        head,
        bytes: held.bytes.saturating_add(adding_bytes),
    };
    if adding > 0 {
        conn.prepare_cached("UPDATE teams SET head = ?2, envelope_bytes = ?3 WHERE id = ?1")
            .and_then(|mut s| s.execute(params![team.0, to_sql_int(head), to_sql_int(held.bytes)]))
            .map_err(sql_error)?;
    }
    heads.insert(team, held);
    Ok(PushReceipt {
        envelopes: results,
        head,
    })
}

/// Looks each envelope up by id (before anything of the push is written): among the ids
/// pending and in `envelope_ids` with its prefix, then the whole id in `envelopes`.
fn place(
    conn: &Connection,
    ids: &IdIndex,
    team: TeamId,
    envelopes: &[NewEnvelope],
) -> Result<Vec<Placement>> {
    let mut stored_id = conn
        .prepare_cached("SELECT id FROM envelopes WHERE team = ?1 AND seq = ?2")
        .map_err(sql_error)?;
    let mut by_prefix = conn.prepare_cached(ids::BY_PREFIX).map_err(sql_error)?;
    let mut first_new: HashMap<[u8; 32], usize> = HashMap::new();
    let mut placements = Vec::with_capacity(envelopes.len());
    for (index, envelope) in envelopes.iter().enumerate() {
        if let Some(&first) = first_new.get(&envelope.id.0) {
            placements.push(Placement::SameAs(first));
            continue;
        }
        // Usually no candidate at all; one with the same prefix but another id is a 2^-64
        // coincidence and not a duplicate.
        let mut found = None;
        for (owner, seq) in ids.candidates(&mut by_prefix, ids::prefix(&envelope.id.0))? {
            let id: Option<[u8; 32]> = stored_id
                .query_row(params![owner, to_sql_int(seq)], |r| r.get(0))
                .optional()
                .map_err(sql_error)?;
            if id == Some(envelope.id.0) {
                found = Some((owner, seq));
                break;
            }
        }
        match found {
            Some((owner, _)) if owner != team.0 => {
                // The id is SHA-256 of bytes that name their team, and the caller checked
                // that team: reaching this means a hash collision or a bug upstream.
                return Err(Error::Backend(format!(
                    "envelope {} is already stored for another team",
                    envelope.id
                )));
            }
            Some((_, seq)) => placements.push(Placement::Stored(seq)),
            None => {
                first_new.insert(envelope.id.0, index);
                placements.push(Placement::New);
            }
        }
    }
    Ok(placements)
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::storage::sqlite::{SqliteOptions, SqliteStorage, Stats, database_path, schema};
    use crate::storage::{
        NewTeam, PrivateNotes, PullRequest, Storage, TeamHeads, TeamQuota, contract,
    };

    fn envelopes(team: &NewTeam, from: u64, count: u64) -> Vec<NewEnvelope> {
        (from..from + count)
            .map(|n| {
                contract::envelope(
                    team.team,
                    team.admin,
                    holdfast_protocol::DocumentId([3; 16]),
                    holdfast_protocol::Kind::ChangeBatch,
                    0,
                    n,
                )
            })
            .collect()
    }

    /// A disk that fills in the middle of a statement (here the database's page limit,
    /// `max_page_count`, which SQLite reports as the same `SQLITE_FULL`): the push that
    /// met it, and every request grouped with it, are refused with [`Error::Full`], and
    /// nothing of the group is stored. Were the full push taken for a refusal made before
    /// writing, the others would commit with its first envelopes (rows past its team's
    /// head, never acknowledged), or, after SQLite rolled the transaction back itself,
    /// each on its own.
    #[tokio::test]
    async fn a_statement_the_full_disk_stops_rolls_its_whole_group_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = database_path(dir.path());
        let storage = SqliteStorage::open(&path).unwrap();
        let full = contract::new_team(&storage, 1).await;
        let other = contract::new_team(&storage, 2).await;
        storage.close().await.unwrap();
        drop(storage);

        let mut conn = Connection::open(&path).unwrap();
        super::super::configure_writer(&conn, SqliteOptions::default()).unwrap();
        schema::migrate(&mut conn).unwrap();
        let pages: i64 = conn
            .query_row("PRAGMA page_count", [], |r| r.get(0))
            .unwrap();
        let limit: i64 = conn
            .query_row(&format!("PRAGMA max_page_count = {}", pages + 2), [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(limit, pages + 2);
        let shared = Arc::new(Shared {
            heads: TeamHeads::new(),
            stats: Stats::default(),
            quota: Mutex::new(TeamQuota::default()),
        });
        let (queue, receiver) = mpsc::channel(8);
        let writer = Writer::new(conn, receiver, shared, 1024, (None, u64::MAX)).unwrap();
        // Queued before the writer starts: one group. The middle push needs far more pages
        // than the limit leaves.
        let push = |team: &NewTeam, envelopes: Vec<NewEnvelope>| {
            let (reply, answer) = oneshot::channel();
            let command = Command::Push {
                team: team.team,
                envelopes,
                received_ms: contract::RECEIVED_MS,
                reply,
            };
            assert!(queue.try_send(command).is_ok());
            answer
        };
        let answers = [
            push(&other, envelopes(&other, 1, 1)),
            push(&full, envelopes(&full, 1, 2_000)),
            push(&other, envelopes(&other, 2, 1)),
        ];
        drop(queue);
        tokio::task::spawn_blocking(move || writer.run())
            .await
            .unwrap();
        for answer in answers {
            let result = answer.await.unwrap();
            assert!(matches!(result, Err(Error::Full(_))), "{result:?}");
        }

        // Nothing of the group was stored, and both teams take pushes again.
        let storage = SqliteStorage::open(&path).unwrap();
        for team in [&full, &other] {
            assert_eq!(storage.head(team.team).await.unwrap(), Some(0));
            let request = PullRequest {
                after: 0,
                limit: 100,
                max_bytes: usize::MAX,
                compact: false,
                document: None,
                private_notes: PrivateNotes::All,
            };
            let page = storage.pull(team.team, request).await.unwrap();
            assert!(page.envelopes.is_empty(), "stored but never acknowledged");
            let pushed = storage
                .push(team.team, envelopes(team, 1, 3), contract::RECEIVED_MS)
                .await
                .unwrap();
            assert_eq!(pushed.head, 3);
        }
        storage.close().await.unwrap();
    }
}
