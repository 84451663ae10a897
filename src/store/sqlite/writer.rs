//! The writer thread: the one thread that uses the write connection. Writes are queued to
//! it; it runs every write waiting at once inside one transaction, each in its own
//! savepoint where it needs one (see [`Writer::run`]), and commits them together: one
//! fsync for all. While a commit syncs, the next writes queue up, and they are the next
//! batch: no write waits for a timer, and the batch grows with the load by itself.
//!
//! Before this thread, every writer took the connection's mutex in turn; under 32
//! writing clients each of a batch's writes woke the next one through the mutex, a
//! chain of context switches that the writes waited in, one by one.
//!
//! After a commit it ends the read connections' kept snapshots and checkpoints the WAL
//! (see [`super::snapshot`]); while it waits for writes, it ends the snapshots kept
//! longer than [`KEPT_FOR`].

use super::reader::Readers;
use super::snapshot::{CHECKPOINT_FRAMES, KEPT_FOR};
use super::tx::run;
use super::BUSY_TIMEOUT;
use crate::error::{Result, ScimError};
use crate::store::held::{self, Held};
use crate::store::WriterHeld;
use parking_lot::{Condvar, Mutex, MutexGuard};
use rusqlite::hooks::Wal;
use rusqlite::Connection;
use std::cell::Cell;
use std::ffi::c_int;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::{JoinHandle, Thread};
use std::time::Duration;

/// Most writes that share one commit.
const MAX_BATCH: usize = 256;

/// How long a checkpoint waits for the reads that hold it up (see `Batch::checkpoint`):
/// from the first, doubled after each wait in vain (halved after one that did), up to the
/// last.
const CHECKPOINT_WAIT: std::ops::Range<Duration> =
    Duration::from_millis(5)..Duration::from_millis(200);

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
    /// commit (otherwise each commits alone). `readers`: the store's read connections,
    /// whose kept snapshots it ends.
    pub(super) fn start(
        conn: Connection,
        group_commit: bool,
        readers: Arc<Readers>,
    ) -> Result<Writer> {
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue::default()),
            wake: Condvar::new(),
        });
        let theirs = shared.clone();
        readers.snapshots.set_waker(Box::new(move || {
            // Under the queue's lock: the writer is either not yet asleep (and sees the
            // kept snapshot) or waiting (and gets the notification).
            let _queue = theirs.queue.lock();
            theirs.wake.notify_one();
        }));
        let theirs = shared.clone();
        let thread = std::thread::Builder::new()
            .name("libscim-writer".into())
            .spawn(move || writer_loop(conn, &theirs, group_commit, &readers))
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

thread_local! {
    /// Frames in the WAL after the writer thread's last commit (its connection's WAL hook).
    static WAL_FRAMES: Cell<c_int> = const { Cell::new(0) };
}

/// The write connection's WAL hook: it only notes the WAL's size. (It replaces SQLite's
/// automatic checkpoint: the writer checkpoints after ending the kept snapshots.)
fn note_wal_frames(_: &Wal, frames: c_int) -> rusqlite::Result<()> {
    WAL_FRAMES.set(frames);
    Ok(())
}

fn writer_loop(conn: Connection, shared: &Shared, group_commit: bool, readers: &Readers) {
    // Log records made by writes are held back here and handed to each write's own
    // thread (a host's log callback never runs on this thread, where a write it made
    // would wait for itself).
    let _held = WriterHeld::enter();
    conn.wal_hook(Some(note_wal_frames));
    let snapshots = &readers.snapshots;
    let mut batch = Batch {
        conn: &conn,
        readers,
        wait_at: 2 * CHECKPOINT_FRAMES,
        wait: CHECKPOINT_WAIT.start,
        open: false,
        writes: Vec::new(),
    };
    loop {
        let jobs = {
            let mut q = shared.queue.lock();
            while q.jobs.is_empty() && !q.stop {
                if snapshots.any_kept() {
                    let idle = shared.wake.wait_for(&mut q, KEPT_FOR).timed_out();
                    if idle && q.jobs.is_empty() && !q.stop {
                        MutexGuard::unlocked(&mut q, || readers.release(Some(KEPT_FOR)));
                    }
                } else if snapshots.may_sleep() {
                    shared.wake.wait(&mut q);
                    snapshots.awake();
                }
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
    readers: &'c Readers,
    /// WAL frames from which a checkpoint waits for the reads that hold it up, and how long.
    wait_at: c_int,
    wait: Duration,
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
        let committed = run(self.conn, "COMMIT");
        // Counted before any write is acknowledged (also a failed commit: counting one
        // too many only makes readers begin anew).
        let commits = &self.readers.snapshots.commits;
        let n = commits.commit();
        match committed {
            Ok(()) => {
                self.open = false;
                for job in std::mem::take(&mut self.writes) {
                    // SAFETY: in `writes`, so queued and not done.
                    unsafe { complete(job, Ok(())) };
                }
            }
            Err(e) => self.abort(e),
        }
        self.readers.release(None);
        if self.checkpoint() {
            commits.settle(n);
        }
    }

    /// Checkpoint the WAL once it holds [`CHECKPOINT_FRAMES`] frames: copy it into the
    /// database and have the next write start it over. Whether the WAL is in order (short,
    /// or started over): until it is, read connections keep no snapshot (see
    /// [`super::snapshot`]).
    ///
    /// SQLite's automatic checkpoint is passive: under reads that never pause, some read
    /// begun before the copy finished still held its WAL read mark when the next write
    /// began, and the WAL was never started over (its file held every frame written:
    /// 312 MB for 80 MB of rows in `tests/snapshots.rs`, with reads of a few
    /// milliseconds). Here each commit past the threshold runs `RESTART` without waiting
    /// (it copies what it can and starts the WAL over if no read holds it), and every
    /// [`CHECKPOINT_FRAMES`] more frames one that waits up to [`CHECKPOINT_WAIT`] for the
    /// reads that hold it up (reads begun after the copy read the database file and hold
    /// nothing up). A failure is not the writes' (they are committed).
    fn checkpoint(&mut self) -> bool {
        let frames = WAL_FRAMES.get();
        if frames < CHECKPOINT_FRAMES {
            return true;
        }
        let wait = if frames >= self.wait_at {
            self.wait
        } else {
            Duration::ZERO
        };
        let _ = self.conn.busy_timeout(wait);
        let busy = self
            .conn
            .query_row("PRAGMA wal_checkpoint(RESTART)", [], |r| r.get::<_, i64>(0));
        let _ = self.conn.busy_timeout(BUSY_TIMEOUT);
        let done = matches!(busy, Ok(0));
        if done {
            self.wait_at = 2 * CHECKPOINT_FRAMES;
            self.wait = (self.wait / 2).max(CHECKPOINT_WAIT.start);
        } else if !wait.is_zero() {
            self.wait_at = frames.saturating_add(CHECKPOINT_FRAMES);
            self.wait = (self.wait * 2).min(CHECKPOINT_WAIT.end);
        }
        done
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
