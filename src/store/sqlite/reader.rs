//! A read connection and its read transaction.
//!
//! Every read runs `BEGIN` … `COMMIT`; through rusqlite's statement cache each of them
//! hashes its SQL, takes its statement out of the cache's LRU list and puts it back
//! (about 1,000 instructions a statement, a quarter of a GET by id's SQLite work beside
//! its one `SELECT`). A [`Reader`] prepares the three transaction statements once, on its
//! connection, and steps them directly.

use super::sql_err;
use crate::error::Result;
use rusqlite::{ffi, Connection};
use std::ffi::{c_int, CStr};
use std::ptr::{self, NonNull};

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
    /// Last: dropped after the statements.
    conn: Connection,
}

// SAFETY: the statements belong to `conn` and go with it; a `Reader` is used by one
// thread at a time (`&mut` or a lock), which is all a connection opened with
// `SQLITE_OPEN_NO_MUTEX` and its statements need. `Connection` itself is `Send`.
unsafe impl Send for Reader {}

impl Reader {
    pub fn new(conn: Connection) -> Result<Reader> {
        let begin = prepare(&conn, c"BEGIN")?;
        let commit = prepare(&conn, c"COMMIT")?;
        let rollback = prepare(&conn, c"ROLLBACK")?;
        Ok(Reader {
            begin,
            commit,
            rollback,
            conn,
        })
    }

    pub fn conn(&self) -> &Connection {
        &self.conn
    }

    /// `f` inside `BEGIN` … `COMMIT` (`ROLLBACK` when it failed): one snapshot for every
    /// statement `f` runs.
    pub fn transaction<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        self.run(&self.begin)?;
        let result = f(&self.conn);
        let end = self.run(if result.is_ok() {
            &self.commit
        } else {
            &self.rollback
        });
        let value = result?;
        end?;
        Ok(value)
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
