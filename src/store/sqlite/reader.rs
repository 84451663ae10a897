//! A read connection, its read transaction, and the slots a store keeps them in.
//!
//! A read runs in a read transaction: a new one (`BEGIN` … `COMMIT`), or the snapshot
//! the connection kept from its last read while nothing was committed since (see
//! [`super::snapshot`]). Through rusqlite's statement cache each of `BEGIN` and
//! `COMMIT` hashed its SQL, took its statement out of the cache's LRU list and put it
//! back (about 1,000 instructions a statement); a [`Reader`] prepares the three
//! transaction statements once, on its connection, and steps them directly.

use super::snapshot::{Snapshots, KEPT_FOR};
use super::sql_err;
use crate::error::Result;
use parking_lot::Mutex;
use rusqlite::{ffi, Connection};
use std::ffi::{c_int, CStr};
use std::ptr::{self, NonNull};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One statement of a [`Reader`], finalized when it drops: before the connection, which
/// is the reader's last field (SQLite refuses to close a connection that still has
/// statements).
struct RawStmt(NonNull<ffi::sqlite3_stmt>);

impl Drop for RawStmt {
    fn drop(&mut self) {
        // SAFETY: a live statement, finalized once, here.
        unsafe { ffi::sqlite3_finalize(self.0.as_ptr()) };
    }
}

/// A read connection with `BEGIN`, `COMMIT` and `ROLLBACK` prepared on it.
pub struct Reader {
    begin: RawStmt,
    commit: RawStmt,
    rollback: RawStmt,
    /// Where its snapshots are accounted for: `None` for a connection that never keeps one.
    snapshots: Option<Arc<Snapshots>>,
    /// The read transaction left open after the last read, if any.
    kept: Option<Kept>,
    /// Last: dropped after the statements.
    conn: Connection,
}

/// A kept read transaction: begun after `commits` commits, at `since`.
#[derive(Clone, Copy)]
struct Kept {
    commits: u64,
    since: Instant,
}

// SAFETY: the statements belong to `conn` and go with it; a `Reader` is used by one
// thread at a time (`&mut` or a lock), which is all a connection opened with
// `SQLITE_OPEN_NO_MUTEX` and its statements need. `Connection` itself is `Send`.
unsafe impl Send for Reader {}

impl Reader {
    /// A reader on `conn`; with `snapshots`, it keeps its snapshot between reads when the
    /// rules of [`super::snapshot`] allow.
    pub fn new(conn: Connection, snapshots: Option<Arc<Snapshots>>) -> Result<Reader> {
        let begin = prepare(&conn, c"BEGIN")?;
        let commit = prepare(&conn, c"COMMIT")?;
        let rollback = prepare(&conn, c"ROLLBACK")?;
        Ok(Reader {
            begin,
            commit,
            rollback,
            snapshots,
            kept: None,
            conn,
        })
    }

    pub fn conn(&self) -> &Connection {
        &self.conn
    }

    /// Whether the connection keeps a read transaction open for its next read.
    pub fn keeps_snapshot(&self) -> bool {
        self.kept.is_some()
    }

    /// `f` in one snapshot for every statement it runs: the kept one while no commit has
    /// been made since it began and it is younger than [`KEPT_FOR`], else a new `BEGIN`.
    /// Afterwards the transaction is kept when [`super::snapshot::Commits::may_keep`]
    /// allows, else ended (`COMMIT`, or `ROLLBACK` when `f` failed).
    pub fn transaction<T>(&mut self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let now = Instant::now();
        let current = self.kept.filter(|k| {
            self.commits_made() == k.commits && now.saturating_duration_since(k.since) < KEPT_FOR
        });
        let begun = match current {
            Some(k) => k,
            None => {
                self.end_kept()?;
                // Counted before `BEGIN`: the snapshot has at least these commits.
                let commits = self.commits_made();
                self.run(&self.begin)?;
                Kept {
                    commits,
                    since: now,
                }
            }
        };
        let result = f(&self.conn);
        let keep = result.is_ok()
            && self
                .snapshots
                .as_ref()
                .is_some_and(|s| s.commits.may_keep(begun.commits));
        if keep {
            if self.kept.is_none() {
                if let Some(s) = &self.snapshots {
                    s.kept_one();
                }
            }
            self.kept = Some(begun);
            return result;
        }
        self.forget_kept();
        let end = self.run(if result.is_ok() {
            &self.commit
        } else {
            &self.rollback
        });
        let value = result?;
        end?;
        Ok(value)
    }

    /// Commits made to the database so far (0 for a connection that keeps no snapshot).
    fn commits_made(&self) -> u64 {
        self.snapshots.as_ref().map_or(0, |s| s.commits.made())
    }

    /// When the kept snapshot began, if there is one.
    fn kept_since(&self) -> Option<Instant> {
        self.kept.map(|k| k.since)
    }

    /// End the kept read transaction, if any.
    pub fn end_kept(&mut self) -> Result<()> {
        if self.kept.is_none() {
            return Ok(());
        }
        self.forget_kept();
        self.run(&self.commit)
    }

    /// No snapshot is kept any more (the transaction is ended by the caller).
    fn forget_kept(&mut self) {
        if self.kept.take().is_some() {
            if let Some(s) = &self.snapshots {
                s.released_one();
            }
        }
    }

    fn run(&self, stmt: &RawStmt) -> Result<()> {
        // SAFETY: `stmt` is a live statement of `self.conn` (finalized only when dropped),
        // used by this thread alone (see `Send`).
        let rc = unsafe {
            let rc = ffi::sqlite3_step(stmt.0.as_ptr());
            ffi::sqlite3_reset(stmt.0.as_ptr());
            rc
        };
        if rc == ffi::SQLITE_DONE {
            Ok(())
        } else {
            Err(sql_err(error(&self.conn, rc)))
        }
    }
}

impl Drop for Reader {
    fn drop(&mut self) {
        // The connection closes with the transaction: only the count is left to mend.
        self.forget_kept();
    }
}

/// One read connection slot, on a cache line of its own (threads lock their own slot).
#[repr(align(128))]
pub struct Slot(pub Mutex<Option<Reader>>);

/// The read connection slots of a store, shared with its writer thread, which ends the
/// snapshots they keep (see [`super::snapshot`]).
pub struct Readers {
    pub slots: Box<[Slot]>,
    pub snapshots: Arc<Snapshots>,
}

impl Readers {
    /// End the snapshots kept by connections not in use: every one, or those begun at
    /// least `older_than` ago. A connection whose transaction does not end is closed.
    pub fn release(&self, older_than: Option<Duration>) {
        if !self.snapshots.any_kept() {
            return;
        }
        let now = Instant::now();
        for slot in &*self.slots {
            let Some(mut reader) = slot.0.try_lock() else {
                continue;
            };
            let due = reader
                .as_ref()
                .and_then(Reader::kept_since)
                .is_some_and(|since| {
                    older_than.is_none_or(|age| now.saturating_duration_since(since) >= age)
                });
            if due && reader.as_mut().is_some_and(|r| r.end_kept().is_err()) {
                *reader = None;
            }
        }
    }
}

/// `sql` prepared on `conn` (persistent: it lives as long as the connection).
fn prepare(conn: &Connection, sql: &CStr) -> Result<RawStmt> {
    let mut stmt = ptr::null_mut();
    // SAFETY: `conn`'s handle is open; `sql` is NUL-terminated; SQLite writes `stmt`.
    let rc = unsafe {
        ffi::sqlite3_prepare_v3(
            conn.handle(),
            sql.as_ptr(),
            -1,
            ffi::SQLITE_PREPARE_PERSISTENT,
            &mut stmt,
            ptr::null_mut(),
        )
    };
    // Owned from here on (finalized on drop, also when refused below).
    let stmt = NonNull::new(stmt).map(RawStmt);
    match stmt {
        Some(stmt) if rc == ffi::SQLITE_OK => Ok(stmt),
        _ => Err(sql_err(error(conn, rc))),
    }
}

/// The error of result code `rc` with the connection's message.
fn error(conn: &Connection, rc: c_int) -> rusqlite::Error {
    // SAFETY: `conn`'s handle is open; `sqlite3_errmsg` returns a NUL-terminated string
    // owned by SQLite, copied before any other call on the connection.
    let message = unsafe { CStr::from_ptr(ffi::sqlite3_errmsg(conn.handle())) }
        .to_string_lossy()
        .into_owned();
    rusqlite::Error::SqliteFailure(ffi::Error::new(rc), Some(message))
}
