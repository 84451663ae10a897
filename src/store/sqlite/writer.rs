//! The writer thread: the one thread that uses the write connection. Writes are queued to
//! it; it runs every write waiting at once inside one transaction, each in its own
//! savepoint where it needs one (see [`Writer::run`]), and commits them together: one
//! fsync for all. While a commit syncs, the next writes queue up, and they are the next
//! batch: no write waits for a timer, and the batch grows with the load by itself.
//!
//! Before this thread, every writer took the connection's mutex in turn; under 32
//! writing clients each of a batch's writes woke the next one through the mutex, a
//! chain of context switches that the writes waited in, one by one.

use super::tx::run;
use crate::error::{Result, ScimError};
use crate::store::held::{self, Held};
use crate::store::WriterHeld;
use parking_lot::{Condvar, Mutex};
use rusqlite::Connection;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::{JoinHandle, Thread};

/// Most writes that share one commit.
const MAX_BATCH: usize = 256;

/// What a write did.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Ran {
    /// It succeeded: it commits with its batch.
    Succeeded,
    /// Its check refused it before it changed anything.
    Refused,
    /// It failed (or panicked), possibly after changing something.
    Failed,
}

/// A write of the calling thread, run on the writer thread: `run(connection)` says what it
/// did and, when it failed, why (the whole batch fails with that when the write had no
/// savepoint to roll back to).
pub(super) type Work<'a> = dyn FnMut(&Connection) -> (Ran, Option<ScimError>) + 'a;

/// A queued write. It lives on the stack of the thread that queued it, which waits until
/// `done` (see [`Writer::run`]): the writer thread uses it until then only.
struct Job {
    /// Every refusal is in the write's check, which writes nothing: no savepoint needed.
    checked: bool,
    work: *mut Work<'static>,
    /// How the write's batch ended (`Ok`: committed, or nothing to commit).
    outcome: Option<Result<()>>,
    /// Log records the write made, for its own thread to log.
    held: Vec<Held>,
    done: AtomicBool,
    thread: Thread,
}

/// A pointer to a queued [`Job`].
#[derive(Clone, Copy)]
struct JobRef(*mut Job);

// SAFETY: a job is used by the writer thread only while its own thread waits for it
// (see `Writer::run`), never by both at once.
unsafe impl Send for JobRef {}

#[derive(Default)]
struct Queue {
    jobs: Vec<JobRef>,
    stop: bool,
}

struct Shared {
    queue: Mutex<Queue>,
    wake: Condvar,
}

/// The handle on the writer thread (stopped and joined on drop).
pub(super) struct Writer {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl Writer {
    /// Start the writer thread on `conn`. `group_commit`: writes waiting together share a
    /// commit (otherwise each commits alone).
    pub(super) fn start(conn: Connection, group_commit: bool) -> Result<Writer> {
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue::default()),
            wake: Condvar::new(),
        });
        let theirs = shared.clone();
        let thread = std::thread::Builder::new()
            .name("libscim-writer".into())
            .spawn(move || writer_loop(conn, &theirs, group_commit))
            .map_err(|e| ScimError::internal(format!("store: cannot start the writer: {e}")))?;
        Ok(Writer {
            shared,
            thread: Some(thread),
        })
    }

    /// Run `work` on the writer thread; return once its batch has committed (or failed):
    /// `Ok` when it committed or had nothing to commit, the batch's error otherwise.
    /// `checked`: every refusal of the write comes before any change (see
    /// [`crate::store::Store::write_checked`]), so it needs no savepoint; a failure after
    /// a change then fails its whole batch.
    pub(super) fn run(&self, checked: bool, work: &mut Work<'_>) -> (Result<()>, Vec<Held>) {
        // SAFETY: only the lifetime is erased. This thread does not return (and so `work`
        // outlives every use of it) until the writer thread has set `done`, after its
        // last use of the job; nothing here can unwind before that.
        let work: *mut Work<'static> = unsafe { std::mem::transmute(work as *mut Work<'_>) };
        let mut job = Job {
            checked,
            work,
            outcome: None,
            held: Vec::new(),
            done: AtomicBool::new(false),
            thread: std::thread::current(),
        };
        // From here on the job is used through this pointer only, here as there.
        let job: *mut Job = &mut job;
        {
            let mut q = self.shared.queue.lock();
            q.jobs.push(JobRef(job));
            if q.jobs.len() == 1 {
                self.shared.wake.notify_one();
            }
        }
        // SAFETY: the writer thread writes the job's other fields before `done` (release)
        // and never touches the job after it; they are read here after it (acquire).
        unsafe {
            while !(*job).done.load(Ordering::Acquire) {
                std::thread::park();
            }
            let outcome = (*job)
                .outcome
                .take()
                .unwrap_or_else(|| Err(ScimError::internal("store: the writer lost a write")));
            (outcome, std::mem::take(&mut (*job).held))
        }
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.shared.queue.lock().stop = true;
        self.shared.wake.notify_one();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Tell a job's thread how its batch ended.
///
/// SAFETY (of the callers): `job` is queued and not done yet.
unsafe fn complete(job: JobRef, outcome: Result<()>) {
    let job = job.0;
    (*job).outcome = Some(outcome);
    let thread = (*job).thread.clone();
    // After this store the job may be gone (its thread returns): no use of it below.
    (*job).done.store(true, Ordering::Release);
    thread.unpark();
}

fn writer_loop(conn: Connection, shared: &Shared, group_commit: bool) {
    // Log records made by writes are held back here and handed to each write's own
    // thread (a host's log callback never runs on this thread, where a write it made
    // would wait for itself).
    let _held = WriterHeld::enter();
    let mut batch = Batch {
        conn: &conn,
        open: false,
        writes: Vec::new(),
    };
    loop {
        let jobs = {
            let mut q = shared.queue.lock();
            while q.jobs.is_empty() && !q.stop {
                shared.wake.wait(&mut q);
            }
            if q.jobs.is_empty() {
                return;
            }
            std::mem::take(&mut q.jobs)
        };
        for job in jobs {
            // SAFETY: queued and not done.
            unsafe { batch.run(job) };
            if !group_commit || batch.writes.len() >= MAX_BATCH {
                batch.commit();
            }
        }
        // Writes that came meanwhile join this batch (unless it is full); the commit
        // comes once none is waiting.
        if group_commit && batch.writes.len() < MAX_BATCH && !shared.queue.lock().jobs.is_empty() {
            continue;
        }
        batch.commit();
    }
}

/// The open transaction and the writes in it.
struct Batch<'c> {
    conn: &'c Connection,
    open: bool,
    /// Successful writes in the open transaction, waiting for its commit.
    writes: Vec<JobRef>,
}

impl Batch<'_> {
    /// Run one write in the open transaction (opening one when none is).
    ///
    /// SAFETY: `job` is queued and not done.
    unsafe fn run(&mut self, job: JobRef) {
        if !self.open {
            if let Err(e) = run(self.conn, "BEGIN IMMEDIATE") {
                complete(job, Err(e));
                return;
            }
            self.open = true;
        }
        // The first write of a transaction needs no savepoint: when it fails, the
        // transaction holds nothing else and is rolled back whole. (A savepoint there also
        // made every nested savepoint of a bulk request walk the whole sub-journal on
        // release.)
        let first = self.writes.is_empty();
        let guarded = !first && !(*job.0).checked;
        if guarded {
            if let Err(e) = run(self.conn, "SAVEPOINT w") {
                self.abort(e.clone());
                complete(job, Err(e));
                return;
            }
        }
        let (ran, error) = (*(*job.0).work)(self.conn);
        (*job.0).held = held::take();
        let end = match ran {
            Ran::Succeeded if guarded => run(self.conn, "RELEASE w"),
            Ran::Succeeded => Ok(()),
            _ if guarded => {
                run(self.conn, "ROLLBACK TO w").and_then(|()| run(self.conn, "RELEASE w"))
            }
            // Nothing else in the transaction: roll it back.
            Ran::Failed if first => {
                self.rollback();
                Ok(())
            }
            Ran::Refused => Ok(()),
            // A change without a savepoint failed part way: the batch cannot commit.
            Ran::Failed => {
                Err(error.unwrap_or_else(|| ScimError::internal("store: a write failed")))
            }
        };
        match end {
            Ok(()) if ran == Ran::Succeeded => self.writes.push(job),
            Ok(()) => complete(job, Ok(())),
            Err(e) => {
                // The transaction is in an unknown state, or cannot commit: give up the
                // whole batch. The failed write reports its own error.
                self.abort(e);
                complete(job, Ok(()));
            }
        }
    }

    /// End the open transaction: `COMMIT` if it holds writes, `ROLLBACK` otherwise; tell
    /// its writes.
    fn commit(&mut self) {
        if !self.open {
            return;
        }
        if self.writes.is_empty() {
            self.rollback();
            return;
        }
        match run(self.conn, "COMMIT") {
            Ok(()) => {
                self.open = false;
                for job in std::mem::take(&mut self.writes) {
                    // SAFETY: in `writes`, so queued and not done.
                    unsafe { complete(job, Ok(())) };
                }
            }
            Err(e) => self.abort(e),
        }
    }

    /// Fail the open transaction: roll it back and tell its writes why.
    fn abort(&mut self, err: ScimError) {
        self.rollback();
        for job in std::mem::take(&mut self.writes) {
            // SAFETY: in `writes`, so queued and not done.
            unsafe { complete(job, Err(err.clone())) };
        }
    }

    fn rollback(&mut self) {
        if !self.conn.is_autocommit() {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
        self.open = false;
    }
}
