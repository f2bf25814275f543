//! Checkpoints in a thread of their own (issue 14).
//!
//! Copying the WAL into the database file (a checkpoint) was half of the writer thread's
//! time under a sustained push load, with the writer stopped while it ran (SQLite's
//! automatic checkpoint runs in the committing connection). Here a second connection copies
//! in the background, after commits, while the writer goes on with the next group: on a
//! machine with a second core the copy no longer holds up acknowledgements.
//!
//! A WAL starts over from its beginning only when a write finds it wholly copied; a copy
//! running beside a busy writer is never quite finished, so the writer finishes it: once
//! the WAL holds [`SqliteOptions::checkpoint_pages`](super::SqliteOptions), it copies the
//! little the background has not (the last commit or two) itself, and its next transaction
//! starts the WAL over. If the background connection cannot be opened, the writer
//! checkpoints alone, as before.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::Connection;

use super::{lock, sql_error};
use crate::storage::{Error, Result};

/// The shortest time between two background checkpoints: commits in between are copied
/// together (a page two commits wrote is copied once). A relay committing less often than
/// this syncs its database file after each commit too, in this thread: extra disk work, but
/// not on the way to any acknowledgement.
const PAUSE: Duration = Duration::from_millis(20);

/// The background checkpoint thread, as the writer sees it.
pub(super) struct Checkpointer {
    shared: Arc<State>,
    thread: Option<JoinHandle<()>>,
}

struct State {
    wake: Mutex<Wake>,
    signal: Condvar,
    /// Frames in the WAL when the last background checkpoint ran.
    frames: AtomicU64,
}

#[derive(Default)]
struct Wake {
    /// Commits so far (the thread runs when this moved on).
    commits: u64,
    stop: bool,
}

impl Checkpointer {
    /// Opens the background connection to the database at `path` (in WAL mode already)
    /// and starts its thread.
    pub(super) fn start(path: &Path) -> Result<Self> {
        let conn = Connection::open(path).map_err(sql_error)?;
        conn.busy_timeout(Duration::from_secs(5))
            .map_err(sql_error)?;
        // The database file is synced at the end of each checkpoint, before the WAL may
        // start over: what it copied is durable in the database file itself.
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(sql_error)?;
        let shared = Arc::new(State {
            wake: Mutex::new(Wake::default()),
            signal: Condvar::new(),
            frames: AtomicU64::new(0),
        });
        let state = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("relay-checkpoint".into())
            .spawn(move || run(&conn, &state))
            .map_err(|e| Error::Backend(format!("cannot start the checkpoint thread: {e}")))?;
        Ok(Checkpointer {
            shared,
            thread: Some(thread),
        })
    }

    /// The writer committed: copy what it wrote.
    pub(super) fn committed(&self) {
        lock(&self.shared.wake).commits += 1;
        self.shared.signal.notify_one();
    }

    /// Frames in the WAL at the last background checkpoint; `u64::MAX` when the thread
    /// does not know (its last checkpoint failed or found the WAL busy) or has stopped, so
    /// the writer checks for itself and the WAL cannot grow unseen.
    pub(super) fn wal_frames(&self) -> u64 {
        if self.thread.as_ref().is_none_or(JoinHandle::is_finished) {
            return u64::MAX;
        }
        self.shared.frames.load(Ordering::Acquire)
    }

    /// The writer finished the copy: the WAL starts over at its next transaction.
    pub(super) fn restarted(&self) {
        self.shared.frames.store(0, Ordering::Release);
    }

    /// Stops the thread (after the checkpoint it is running, if any) and waits for it.
    pub(super) fn stop(&mut self) {
        lock(&self.shared.wake).stop = true;
        self.shared.signal.notify_one();
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            tracing::error!("the relay's checkpoint thread panicked");
        }
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.stop();
    }
}

fn run(conn: &Connection, state: &State) {
    let mut seen = 0;
    loop {
        {
            let mut wake = lock(&state.wake);
            while wake.commits == seen && !wake.stop {
                wake = state
                    .signal
                    .wait(wake)
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
            }
            if wake.stop {
                return;
            }
            seen = wake.commits;
        }
        // PASSIVE: copies what it can without waiting for the writer or for readers.
        // The WAL's length in frames; -1 when the WAL could not be read (busy).
        let frames =
            match conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get::<_, i64>(1)) {
                Ok(frames) => u64::try_from(frames).unwrap_or(u64::MAX),
                Err(e) => {
                    tracing::warn!(error = %sql_error(e), "relay background checkpoint failed");
                    u64::MAX
                }
            };
        state.frames.store(frames, Ordering::Release);
        std::thread::sleep(PAUSE);
    }
}
