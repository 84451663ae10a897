//! Kept read snapshots: a read connection leaves its read transaction open after a read,
//! and the next read on it runs in the same snapshot while nothing has been committed since.
//!
//! A read transaction of its own for every read cost a GET by id about a fifth of its
//! CPU: `BEGIN` and `COMMIT`, and in SQLite's WAL mode a lock and an unlock of a read mark
//! in the shared-memory file (an `fcntl` system call each, 1.4 per GET, whenever no other
//! connection of the process held the same mark) under a mutex every reader takes. A
//! snapshot that nothing has been committed after is exactly what a new transaction
//! would see, so it is reused; the rules that keep that true:
//!
//! - **Commits are counted** per database file, for every store of the process on that
//!   file ([`Commits::of`]). The writer thread counts a commit *before* it acknowledges
//!   any write of it; a read records the count *before* its `BEGIN`. A kept snapshot is
//!   reused only while the count is the one it recorded: a read that follows an
//!   acknowledged write (of this process) never sees a snapshot from before it.
//! - **A commit of another process** is not counted: a snapshot is reused for at most
//!   [`KEPT_FOR`] after its `BEGIN`, so another process's change is seen that much later
//!   at most (one process per database is the normal case; several instances share
//!   PostgreSQL).
//! - **The WAL must still be checkpointed and started over.** A snapshot holds its read
//!   mark while kept, and SQLite can neither copy frames past a reader's mark into the
//!   database nor start the WAL file over while a reader uses it. So the writer, after
//!   each commit, ends every kept snapshot that is not in use (they are stale anyway),
//!   then checkpoints once the WAL holds [`CHECKPOINT_FRAMES`] frames (SQLite's automatic
//!   checkpoint inside `COMMIT` would run while the kept snapshots still hold their
//!   marks), and marks the commit **settled** only when the WAL is short or started over;
//!   a snapshot begun before that is ended after its read, not kept. And when the writer
//!   is idle it ends snapshots kept longer than [`KEPT_FOR`], so an idle process holds
//!   nothing up for another one.

use parking_lot::Mutex;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, LazyLock, OnceLock, Weak};
use std::time::Duration;

/// How long a snapshot may be reused after its `BEGIN`: at most how late a change
/// committed by another process is seen, and how long an idle kept snapshot lasts.
pub(super) const KEPT_FOR: Duration = Duration::from_millis(20);

/// WAL frames after which the writer checkpoints (SQLite's automatic checkpoint size).
pub(super) const CHECKPOINT_FRAMES: i32 = 1000;

/// The commits made to one database file by the stores of this process.
#[derive(Default)]
pub(super) struct Commits {
    made: AtomicU64,
    /// The last commit whose aftermath (kept snapshots ended, checkpoint) is done.
    settled: AtomicU64,
}

impl Commits {
    /// The counter of the database at `path`, shared by every store of this process that
    /// has the same file open.
    pub fn of(path: &Path) -> Arc<Commits> {
        static FILES: LazyLock<Mutex<HashMap<PathBuf, Weak<Commits>>>> =
            LazyLock::new(Mutex::default);
        let key = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        let mut files = FILES.lock();
        files.retain(|_, c| c.strong_count() > 0);
        if let Some(commits) = files.get(&key).and_then(Weak::upgrade) {
            return commits;
        }
        let commits = Arc::new(Commits::default());
        files.insert(key, Arc::downgrade(&commits));
        commits
    }

    /// Commits made so far.
    pub fn made(&self) -> u64 {
        self.made.load(SeqCst)
    }

    /// Count a commit (before acknowledging its writes); returns its number.
    pub fn commit(&self) -> u64 {
        self.made.fetch_add(1, SeqCst) + 1
    }

    /// Commit `n`'s aftermath is done.
    pub fn settle(&self, n: u64) {
        self.settled.fetch_max(n, SeqCst);
    }

    /// A snapshot begun after `n` commits may be kept: no commit since, and that one settled.
    pub fn may_keep(&self, n: u64) -> bool {
        self.made() == n && self.settled.load(SeqCst) >= n
    }
}

/// The kept snapshots of one store's read connections.
pub(super) struct Snapshots {
    pub commits: Arc<Commits>,
    /// Read connections with a kept snapshot.
    kept: AtomicUsize,
    /// The writer thread sleeps with no time limit (see [`Snapshots::kept_one`]).
    sleeping: AtomicBool,
    /// Wakes the writer thread.
    waker: OnceLock<Box<dyn Fn() + Send + Sync>>,
}

impl Snapshots {
    pub fn new(commits: Arc<Commits>) -> Snapshots {
        Snapshots {
            commits,
            kept: AtomicUsize::new(0),
            sleeping: AtomicBool::new(false),
            waker: OnceLock::new(),
        }
    }

    /// How to wake the writer thread (set once it runs).
    pub fn set_waker(&self, wake: Box<dyn Fn() + Send + Sync>) {
        let _ = self.waker.set(wake);
    }

    /// A connection now keeps a snapshot. The writer, if it sleeps with no time limit, is
    /// woken to end it once it is old.
    pub fn kept_one(&self) {
        self.kept.fetch_add(1, SeqCst);
        if self.sleeping.load(SeqCst) {
            if let Some(wake) = self.waker.get() {
                wake();
            }
        }
    }

    /// A connection no longer keeps a snapshot.
    pub fn released_one(&self) {
        self.kept.fetch_sub(1, SeqCst);
    }

    /// The writer thread is about to sleep with no time limit: `false` when it must not,
    /// because a snapshot is kept (it sleeps [`KEPT_FOR`] then). Whoever keeps one after
    /// this sees `sleeping` and wakes it (both sides are `SeqCst`: one sees the other).
    pub fn may_sleep(&self) -> bool {
        self.sleeping.store(true, SeqCst);
        if self.kept.load(SeqCst) > 0 {
            self.sleeping.store(false, SeqCst);
            return false;
        }
        true
    }

    /// The writer thread is awake.
    pub fn awake(&self) {
        self.sleeping.store(false, SeqCst);
    }

    /// Whether some connection keeps a snapshot.
    pub fn any_kept(&self) -> bool {
        self.kept.load(SeqCst) > 0
    }
}
