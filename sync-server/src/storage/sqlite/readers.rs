//! The read connections, each in a thread of its own (issue 15).
//!
//! Reads used to run on tokio's blocking pool, whose threads start and stop with the load,
//! any read on any thread. glibc's malloc serves each thread from an arena (reused by a
//! later thread when one exits, and never given back), and SQLite frees and allocates its
//! page cache's pages as reads come and go: a connection's pages were freed into one arena
//! and allocated again from another, each arena keeping its own high-water mark. Under the
//! soak's mixed load the relay's resident memory kept rising while its live heap was flat
//! (docs/RELIABILITY.md §4, the third run). Here each connection lives in one long-lived
//! thread, so it allocates and frees on one thread, and the threads are as many as the
//! connections for the relay's whole life.
//!
//! Reads are jobs on one queue; whichever thread is free takes the next. A connection is
//! opened by its thread at its first read (a read that cannot open one fails, and the next
//! read tries again). A read that panics loses its connection, not its thread.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use rusqlite::Connection;

use super::{lock, open_reader};
use crate::storage::{Error, Result};

/// A read, given the thread's connection (or the reason it has none).
pub(super) type Job = Box<dyn FnOnce(Result<&Connection>) + Send>;

/// The reader threads, as the storage sees them.
pub(super) struct Readers {
    jobs: Mutex<Option<Sender<Job>>>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

impl Readers {
    /// Starts `count` reader threads for the database at `path`.
    pub(super) fn start(path: &Path, count: usize) -> Result<Self> {
        let (sender, receiver) = channel::<Job>();
        let receiver = Arc::new(Mutex::new(receiver));
        let mut threads = Vec::with_capacity(count);
        for n in 0..count {
            let receiver = Arc::clone(&receiver);
            let path = path.to_path_buf();
            let thread = std::thread::Builder::new()
                .name(format!("relay-reader-{n}"))
                .spawn(move || serve(&path, &receiver))
                .map_err(|e| Error::Backend(format!("cannot start a reader thread: {e}")))?;
            threads.push(thread);
        }
        Ok(Readers {
            jobs: Mutex::new(Some(sender)),
            threads: Mutex::new(threads),
        })
    }

    /// Queues a read for the next free thread; [`Error::Closed`] once closing began.
    pub(super) fn submit(&self, job: Job) -> Result<()> {
        let jobs = lock(&self.jobs);
        let sender = jobs.as_ref().ok_or(Error::Closed)?;
        sender.send(job).map_err(|_| Error::Closed)
    }

    /// Stops taking reads, lets the threads finish those queued, and waits for them to
    /// close their connections. Blocking.
    pub(super) fn close(&self) -> Result<()> {
        drop(lock(&self.jobs).take());
        let threads = std::mem::take(&mut *lock(&self.threads));
        let mut panicked = false;
        for thread in threads {
            panicked |= thread.join().is_err();
        }
        if panicked {
            return Err(Error::Backend("a reader thread panicked".into()));
        }
        Ok(())
    }
}

/// One reader thread: takes jobs until the queue closes.
fn serve(path: &Path, jobs: &Mutex<Receiver<Job>>) {
    let mut conn: Option<Connection> = None;
    loop {
        // The lock is held only while waiting for a job, not while running it.
        let job = match lock(jobs).recv() {
            Ok(job) => job,
            Err(_) => return,
        };
        if conn.is_none() {
            match open_reader(path) {
                Ok(opened) => conn = Some(opened),
                Err(e) => {
                    // The job answers its caller with the error; a panic in it is its own.
                    let _ = catch_unwind(AssertUnwindSafe(|| job(Err(e))));
                    continue;
                }
            }
        }
        let Some(open) = conn.as_ref() else {
            continue;
        };
        if catch_unwind(AssertUnwindSafe(|| job(Ok(open)))).is_err() {
            // A read that panicked may have left its statement half-stepped: start over.
            tracing::error!("a read panicked; its connection is closed and reopened");
            conn = None;
        }
    }
}
