//! The durable embedded store: one SQLite file (WAL) per engine.
//!
//! - **Durability**: a write returns `Ok` only after its `COMMIT` completed; with
//!   [`SqliteOptions::synchronous_full`] (the default) the WAL is fsync'd at every commit, so
//!   an acknowledged change survives a crash or a power loss.
//! - **Group commit**: one writer connection on a thread of its own ([`writer`]). Writes
//!   are queued to it; it runs all those waiting in one transaction, each inside a
//!   `SAVEPOINT` (the first write of a batch needs none, nor does a
//!   [`Store::write_checked`] write, whose refusals come before its changes), then
//!   commits them together: one fsync for many writes; the writes that queue up while
//!   it syncs are the next batch. A failed write rolls back its savepoint only (the
//!   first write, the transaction); a failed `COMMIT` fails every write of the batch.
//! - **Reads** run on read connections, one per reading thread (up to
//!   [`SqliteOptions::read_connections`], kept open), each `read()` inside one deferred
//!   transaction: a consistent snapshot, never blocked by the writer. Each connection has
//!   a page cache of its own (the bundled SQLite is built without
//!   `SQLITE_ENABLE_MEMORY_MANAGEMENT`: see README, "Building"), so readers share no lock.
//!   A connection keeps its snapshot for its next read while nothing has been committed
//!   since ([`snapshot`]: a change of another process is seen within 20 ms).
//! - **Schema**: see [`schema`]; foreign or newer files are refused with a clear error.

mod query;
mod reader;
mod schema;
mod snapshot;
mod tx;
mod writer;

use crate::error::{Result, ScimError};
use crate::store::held;
use crate::store::{
    check_ack, check_group, check_same_id, least_acked, now_ms, plan_trim, Consumer,
    DirectoryRecord, Event, GroupCursor, Outbox, ReadTx, Store, Taken, TrimEvents, Trimmed,
    WriteTx,
};
use parking_lot::Mutex;
use reader::{Reader, Readers, Slot};
use rusqlite::config::DbConfig;
use rusqlite::{params, Connection, OpenFlags, OptionalExtension};
use snapshot::{Commits, Snapshots};
use std::cell::Cell;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tx::{event_row, i64_of, json_col, json_text, time_col, u64_col, EventRow, Tx};
use writer::{Ran, Writer};

pub(crate) fn sql_err(e: rusqlite::Error) -> ScimError {
    match e.sqlite_error_code() {
        // SQLITE_FULL: the disk (or the file system's quota) is full. The statement, or
        // the whole transaction, was rolled back; see `transact` for the batch.
        Some(rusqlite::ErrorCode::DiskFull) => ScimError::insufficient_storage(
            "the server's storage is full: the change was not saved; retry once space is freed",
        ),
        // The operating system failed the file (kind `io`; still a 500 to a client).
        Some(rusqlite::ErrorCode::SystemIoFailure | rusqlite::ErrorCode::CannotOpen) => {
            ScimError::io(format!("store: {e}"))
        }
        _ => ScimError::internal(format!("store: {e}")),
    }
}

/// How a [`SqliteStore`] runs.
#[derive(Clone, Debug)]
pub struct SqliteOptions {
    /// Concurrent writes share one commit (one fsync). Default `true`.
    pub group_commit: bool,
    /// `PRAGMA synchronous = FULL`: a returned write survived power loss, not only a
    /// process crash. Default `true`; `false` uses `NORMAL` (still crash-safe in WAL).
    pub synchronous_full: bool,
    /// Most read connections open. A thread reads on a connection of its own (its slot:
    /// warm page cache, prepared statements), opened at its first read and kept; threads
    /// beyond this many share the slots (a read that finds every slot busy waits for
    /// one). Default 32.
    pub read_connections: usize,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        SqliteOptions {
            group_commit: true,
            synchronous_full: true,
            read_connections: 32,
        }
    }
}

/// A [`Store`] in one SQLite file. See the module documentation.
pub struct SqliteStore {
    path: String,
    options: SqliteOptions,
    /// The thread of the write connection.
    writer: Writer,
    /// The read connections, `read_connections` slots each opened at its first use: a
    /// thread reads on its home slot (see `with_reader`). Shared with the writer thread,
    /// which ends the snapshots they keep.
    readers: Arc<Readers>,
    /// Read connections opened so far (the slots never churn: see `with_reader`).
    readers_opened: AtomicUsize,
}

/// This thread's home slot number (taken modulo a store's slot count): threads are
/// numbered in the order they first read, so the first `read_connections` readers of a
/// store (a runtime's workers) each have a slot and a connection to themselves.
fn home_slot() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static HOME: usize = NEXT.fetch_add(1, Ordering::Relaxed);
    }
    HOME.with(|h| *h)
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .field("options", &self.options)
            .finish()
    }
}

/// How long a statement waits for a lock another process holds.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

fn open_conn(path: &Path, flags: OpenFlags) -> Result<Connection> {
    let conn = Connection::open_with_flags(path, flags)
        .map_err(|e| ScimError::internal(format!("store: {}: {e}", path.display())))?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(sql_err)?;
    conn.set_prepared_statement_cache_capacity(64);
    // Query planner stability: a plan does not depend on the values bound. Without it,
    // SQLite (3.53) marks the `LIMIT ?`/`OFFSET ?` parameters of the range statements as
    // plan inputs, and rebinding them re-prepares the cached statement on every
    // execution (a quarter of the CPU of a `userName eq` filter request). Our plans come
    // from the indexes alone (there are no statistics to pick by value).
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)
        .map_err(sql_err)?;
    Ok(conn)
}

/// Make a missing database file empty and readable by its owner only (0600): SQLite gives
/// the WAL and shared-memory files it creates later the database file's mode, whatever
/// the process's umask.
fn create_private(path: &Path) {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    // Already there: left as it is. Any other failure (a missing directory, a read-only
    // file system) SQLite reports next, better.
    let _ = opts.open(path);
}

/// Page cache of the writer: it walks every index a write touches.
const WRITER_CACHE_KIB: i64 = 32 * 1024;
/// Page cache of each read connection: readers are many (one per concurrent read), and
/// the OS page cache holds the file anyway; this bounds the process's memory.
const READER_CACHE_KIB: i64 = 8 * 1024;

/// Settings of every connection, once the file is known to be ours: `cache_kib` of page
/// cache (SQLite's default is 2 MiB).
fn tune(conn: &Connection, cache_kib: i64) -> Result<()> {
    conn.pragma_update(None, "cache_size", -cache_kib)
        .map_err(sql_err)
}

impl SqliteStore {
    /// `PRAGMA application_id` of a libscim database ("SCIM" in ASCII).
    pub const APPLICATION_ID: i32 = schema::APPLICATION_ID;
    /// The schema version (`PRAGMA user_version`) this library writes.
    pub const SCHEMA_VERSION: i64 = schema::MIGRATIONS.len() as i64;

    /// Open (or create) the database at `path` with the default options.
    pub fn open_default(path: impl AsRef<Path>) -> Result<SqliteStore> {
        Self::open(path, SqliteOptions::default())
    }

    /// Open (or create) the database at `path`, migrating an older schema. A file that is
    /// not a libscim database, or one written by a newer library, is refused (500).
    pub fn open(path: impl AsRef<Path>, options: SqliteOptions) -> Result<SqliteStore> {
        let path = path.as_ref();
        let shown = path.display().to_string();
        create_private(path);
        let conn = open_conn(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        // Refuse a foreign file before changing anything in it.
        schema::check(&conn, &shown)?;
        tune(&conn, WRITER_CACHE_KIB)?;
        let mode: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .map_err(sql_err)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(ScimError::internal(format!(
                "store: {shown}: cannot enable WAL (journal_mode is {mode})"
            )));
        }
        let sync = if options.synchronous_full {
            "FULL"
        } else {
            "NORMAL"
        };
        conn.pragma_update(None, "synchronous", sync)
            .map_err(sql_err)?;
        // Every write (and every bulk operation) runs in a savepoint, whose sub-journal
        // is a temporary file by default: in a profile of Bulk, writing and truncating
        // it took about a third of the time. Keep it in memory (it holds at most the
        // pages one transaction touches).
        conn.pragma_update(None, "temp_store", "MEMORY")
            .map_err(sql_err)?;
        schema::migrate(&conn, &shown)?;
        let readers = Arc::new(Readers {
            slots: (0..options.read_connections.max(1))
                .map(|_| Slot(Mutex::new(None)))
                .collect(),
            snapshots: Arc::new(Snapshots::new(Commits::of(path))),
        });
        let store = SqliteStore {
            path: shown,
            options: options.clone(),
            writer: Writer::start(conn, options.group_commit, readers.clone())?,
            readers,
            readers_opened: AtomicUsize::new(0),
        };
        // Read connections open at each thread's first read (the writer has opened the
        // file and checked it already).
        Ok(store)
    }

    /// The file this store writes.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// How many read connections this store has opened: at most the largest number of
    /// reads that ever ran at once (bounded by [`SqliteOptions::read_connections`]), not
    /// one per read.
    pub fn read_connections_opened(&self) -> usize {
        self.readers_opened.load(Ordering::Relaxed)
    }

    /// A new read connection; `keeping`: it may keep its snapshot between reads (a
    /// connection in a slot), else it ends every read transaction.
    fn open_reader(&self, keeping: bool) -> Result<Reader> {
        let conn = open_conn(
            Path::new(&self.path),
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.pragma_update(None, "query_only", true)
            .map_err(sql_err)?;
        tune(&conn, READER_CACHE_KIB)?;
        let reader = Reader::new(conn, keeping.then(|| self.readers.snapshots.clone()))?;
        self.readers_opened.fetch_add(1, Ordering::Relaxed);
        Ok(reader)
    }

    /// Run `f` in one read transaction on this thread's read connection: the one in its
    /// home slot, opened at its first read and kept, so that a thread finds its own
    /// recently read pages in its page cache (a pool handing connections round mixes
    /// every thread's pages into every cache). When another thread holds the home slot
    /// (more threads than slots), any free slot that has a connection, else any free
    /// slot, else it waits for its home slot: never more than `read_connections` open.
    /// Only a read nested in another read of the same thread, which must not wait for
    /// itself, opens a connection of its own when every slot is busy (closed after).
    /// `BEGIN`/`COMMIT` are prepared once per connection ([`Reader`]).
    fn with_reader<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        thread_local! {
            /// Reads this thread is running (a read's closure may read again).
            static READING: Cell<usize> = const { Cell::new(0) };
        }
        let slots = &self.readers.slots;
        let n = slots.len();
        let home = home_slot() % n;
        let others = || (1..n).map(|i| &slots[(home + i) % n].0);
        let free = slots[home].0.try_lock().or_else(|| {
            others()
                .filter_map(|m| m.try_lock())
                .find(|c| c.is_some())
                .or_else(|| others().find_map(|m| m.try_lock()))
        });
        let mut slot = match free {
            Some(slot) => slot,
            None if READING.get() > 0 => return self.open_reader(false)?.transaction(f),
            None => slots[home].0.lock(),
        };
        if slot.is_none() {
            *slot = Some(self.open_reader(true)?);
        }
        let reader = slot.as_mut().expect("opened above");
        READING.set(READING.get() + 1);
        let result = catch_unwind(AssertUnwindSafe(|| reader.transaction(f)));
        READING.set(READING.get() - 1);
        // A connection left inside a transaction it does not keep (its `COMMIT` or
        // `ROLLBACK` failed), or by a panic, is closed: the next read would see its
        // stale snapshot.
        let stray = !reader.conn().is_autocommit() && !reader.keeps_snapshot();
        if stray || result.is_err() {
            *slot = None;
        }
        result.unwrap_or_else(|p| resume_unwind(p))
    }

    /// Run `f` in a savepoint of the shared write transaction; return once the
    /// transaction that holds it has committed (or failed).
    fn transact<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        self.transact_checked(false, |_| Ok(()), f)
    }

    /// [`SqliteStore::transact`] of `check` then `f`. `checked`: every refusal of the
    /// write is in `check`, which writes nothing, so the write needs no savepoint; a
    /// failure of `f` then fails the whole batch (see [`Store::write_checked`]).
    fn transact_checked<T>(
        &self,
        checked: bool,
        check: impl FnOnce(&Connection) -> Result<()>,
        f: impl FnOnce(&Connection) -> Result<T>,
    ) -> Result<T> {
        let mut steps = Some((check, f));
        let mut result: Option<Result<T>> = None;
        let mut panic = None;
        let (committed, held) = {
            let mut work = |conn: &Connection| {
                let Some((check, f)) = steps.take() else {
                    return (Ran::Failed, None);
                };
                let mut refused = false;
                let outcome = catch_unwind(AssertUnwindSafe(|| {
                    check(conn).inspect_err(|_| refused = true)?;
                    f(conn)
                }));
                match outcome {
                    Ok(Ok(v)) => {
                        result = Some(Ok(v));
                        (Ran::Succeeded, None)
                    }
                    Ok(Err(e)) => {
                        result = Some(Err(e.clone()));
                        (if refused { Ran::Refused } else { Ran::Failed }, Some(e))
                    }
                    Err(p) => {
                        panic = Some(p);
                        let e = ScimError::internal("store: a write panicked");
                        (Ran::Failed, Some(e))
                    }
                }
            };
            self.writer.run(checked, &mut work)
        };
        // Log records the write made go out now that the writer has let go of it.
        held::hand_over(held);
        if let Some(p) = panic {
            resume_unwind(p);
        }
        match result {
            Some(Ok(v)) => committed.map(|()| v),
            Some(Err(e)) => Err(e),
            // Never ran: its batch failed first (`BEGIN`, or a savepoint).
            None => Err(committed
                .err()
                .unwrap_or_else(|| ScimError::internal("store: a write did not run"))),
        }
    }
}

fn conflict(c: &Connection, r: &DirectoryRecord) -> Result<()> {
    let other: Option<String> = c
        .prepare_cached("SELECT name FROM directories WHERE name_folded = ?1 AND id <> ?2")
        .and_then(|mut s| {
            s.query_row(params![r.name.to_lowercase(), r.id], |row| row.get(0))
                .optional()
        })
        .map_err(sql_err)?;
    if let Some(name) = other {
        return Err(ScimError::uniqueness(format!(
            "a directory named '{name}' already exists"
        )));
    }
    if let Some(hash) = &r.token_hash {
        let taken = c
            .prepare_cached("SELECT 1 FROM directories WHERE token_hash = ?1 AND id <> ?2")
            .and_then(|mut s| s.query_row(params![hash, r.id], |_| Ok(())).optional())
            .map_err(sql_err)?;
        if taken.is_some() {
            return Err(ScimError::uniqueness("token hash collision"));
        }
    }
    Ok(())
}

fn directory_row(row: &rusqlite::Row) -> rusqlite::Result<DirectoryRecord> {
    Ok(DirectoryRecord {
        id: row.get(0)?,
        name: row.get(1)?,
        token_hash: row.get(2)?,
        data: json_col(row, 3)?,
    })
}

const DIRECTORY_COLUMNS: &str = "SELECT id, name, token_hash, data FROM directories";

impl Store for SqliteStore {
    fn read(&self, dir: &str, f: &mut dyn FnMut(&dyn ReadTx) -> Result<()>) -> Result<()> {
        self.with_reader(|conn| f(&Tx::read(conn, dir)))
    }

    fn write(&self, dir: &str, f: &mut dyn FnMut(&mut dyn WriteTx) -> Result<()>) -> Result<()> {
        self.transact(|conn| f(&mut Tx::write(conn, dir)))
    }

    fn write_checked(
        &self,
        dir: &str,
        check: &mut dyn FnMut(&dyn ReadTx) -> Result<()>,
        apply: &mut dyn FnMut(&mut dyn WriteTx) -> Result<()>,
    ) -> Result<()> {
        self.transact_checked(
            true,
            |conn| check(&Tx::write(conn, dir)),
            |conn| apply(&mut Tx::write(conn, dir)),
        )
    }

    fn create_directory(&self, record: &DirectoryRecord) -> Result<()> {
        let data = json_text(&record.data)?;
        self.transact(|c| {
            let exists = c
                .prepare_cached("SELECT 1 FROM directories WHERE id = ?1")
                .and_then(|mut s| s.query_row([&record.id], |_| Ok(())).optional())
                .map_err(sql_err)?;
            if exists.is_some() {
                return Err(ScimError::uniqueness(format!(
                    "directory '{}' already exists",
                    record.id
                )));
            }
            conflict(c, record)?;
            c.prepare_cached(
                "INSERT INTO directories (id, name, name_folded, token_hash, data)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    record.id,
                    record.name,
                    record.name.to_lowercase(),
                    record.token_hash,
                    data
                ])
            })
            .map_err(sql_err)?;
            Ok(())
        })
    }

    fn modify_directory(
        &self,
        id: &str,
        change: &mut dyn FnMut(&mut DirectoryRecord) -> Result<()>,
    ) -> Result<DirectoryRecord> {
        // Read and write on the writer, inside its `BEGIN IMMEDIATE` transaction: no other
        // write (of this process or another) comes between them.
        self.transact(|c| {
            let mut record = c
                .prepare_cached(&format!("{DIRECTORY_COLUMNS} WHERE id = ?1"))
                .and_then(|mut s| s.query_row([id], directory_row).optional())
                .map_err(sql_err)?
                .ok_or_else(|| ScimError::not_found(format!("directory '{id}' not found")))?;
            change(&mut record)?;
            check_same_id(id, &record)?;
            conflict(c, &record)?;
            let data = json_text(&record.data)?;
            c.prepare_cached(
                "UPDATE directories SET name = ?2, name_folded = ?3, token_hash = ?4,
                 data = ?5 WHERE id = ?1",
            )
            .and_then(|mut s| {
                s.execute(params![
                    record.id,
                    record.name,
                    record.name.to_lowercase(),
                    record.token_hash,
                    data
                ])
            })
            .map_err(sql_err)?;
            Ok(record)
        })
    }

    fn get_directory(&self, id: &str) -> Result<Option<DirectoryRecord>> {
        self.with_reader(|c| {
            c.prepare_cached(&format!("{DIRECTORY_COLUMNS} WHERE id = ?1"))
                .and_then(|mut s| s.query_row([id], directory_row).optional())
                .map_err(sql_err)
        })
    }

    fn directory_by_token(&self, token_hash: &str) -> Result<Option<DirectoryRecord>> {
        self.with_reader(|c| {
            c.prepare_cached(&format!("{DIRECTORY_COLUMNS} WHERE token_hash = ?1"))
                .and_then(|mut s| s.query_row([token_hash], directory_row).optional())
                .map_err(sql_err)
        })
    }

    fn list_directories(&self) -> Result<Vec<DirectoryRecord>> {
        self.with_reader(|c| {
            let mut s = c
                .prepare_cached(&format!("{DIRECTORY_COLUMNS} ORDER BY ord"))
                .map_err(sql_err)?;
            let rows = s.query_map([], directory_row).map_err(sql_err)?;
            rows.collect::<rusqlite::Result<Vec<_>>>().map_err(sql_err)
        })
    }

    fn delete_directory(&self, id: &str) -> Result<bool> {
        self.transact(|c| {
            let n = c
                .execute("DELETE FROM directories WHERE id = ?1", [id])
                .map_err(sql_err)?;
            for table in [
                "resources",
                "index_entries",
                "members",
                "events",
                "cursors",
                "counts",
                "consumer_groups",
            ] {
                c.execute(&format!("DELETE FROM {table} WHERE dir = ?1"), [id])
                    .map_err(sql_err)?;
            }
            Ok(n > 0)
        })
    }

    fn events(&self, dir: &str, after: u64, limit: usize) -> Result<Vec<Event>> {
        self.with_reader(|c| events_after(c, dir, after, limit))
    }

    fn take_events(&self, dir: &str, c: &Consumer, limit: usize) -> Result<Taken> {
        check_group(c.group)?;
        // The rows are read in the write (it moves the group's cursor past them) and
        // parsed after it, once the writer is free for the other writes.
        let (rows, held_for) = self.transact(|conn| {
            let mut g = group_or_new(conn, dir, c.group)?;
            let after = match g.take(c, now_ms()) {
                Ok(after) => after,
                Err(left) => return Ok((Vec::new(), Some(left))),
            };
            let rows = rows_after(conn, dir, after, limit, EventRow::read)?;
            if let Some(last) = rows.last() {
                g.delivered = last.seq();
            }
            save_group(conn, dir, &g)?;
            Ok((rows, None))
        })?;
        let events = rows
            .into_iter()
            .map(EventRow::parse)
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(sql_err)?;
        Ok(Taken { events, held_for })
    }

    fn ack_group(&self, dir: &str, c: &Consumer, seq: u64) -> Result<()> {
        check_group(c.group)?;
        self.transact(|conn| {
            let (last, _) = cursor(conn, dir)?;
            check_ack(seq, last)?;
            let mut g = group_or_new(conn, dir, c.group)?;
            g.ack(c, seq, now_ms());
            save_group(conn, dir, &g)
        })
    }

    fn release_group(&self, dir: &str, c: &Consumer) -> Result<()> {
        check_group(c.group)?;
        self.transact(|conn| {
            let held = groups(conn, dir)?
                .into_iter()
                .find(|g| g.group == c.group && g.owner.as_deref() == Some(c.id));
            match held {
                Some(mut g) => {
                    g.release(c);
                    save_group(conn, dir, &g)
                }
                None => Ok(()),
            }
        })
    }

    fn remove_group(&self, dir: &str, group: &str) -> Result<bool> {
        check_group(group)?;
        self.transact(|c| {
            c.prepare_cached("DELETE FROM consumer_groups WHERE dir = ?1 AND grp = ?2")
                .and_then(|mut s| s.execute([dir, group]))
                .map(|n| n > 0)
                .map_err(sql_err)
        })
    }

    fn groups(&self, dir: &str) -> Result<Vec<GroupCursor>> {
        self.with_reader(|c| groups(c, dir))
    }

    fn prune_events(&self, dir: &str, seq: u64) -> Result<u64> {
        self.transact(|c| {
            let upto = seq.min(least_acked(&groups(c, dir)?));
            c.prepare_cached("DELETE FROM events WHERE dir = ?1 AND seq <= ?2")
                .and_then(|mut s| s.execute(params![dir, i64_of(upto)]))
                .map(|n| n as u64)
                .map_err(sql_err)
        })
    }

    fn outbox(&self, dir: &str) -> Result<Outbox> {
        self.with_reader(|c| outbox(c, dir))
    }

    fn trim_events(&self, dir: &str, trim: &TrimEvents) -> Result<Trimmed> {
        self.transact(|c| {
            let o = outbox(c, dir)?;
            let (prune, drop, more) = plan_trim(&o, trim, &mut |from, limit, cutoff| {
                let mut s = c
                    .prepare_cached(
                        "SELECT seq, time FROM events WHERE dir = ?1 AND seq >= ?2
                         ORDER BY seq LIMIT ?3",
                    )
                    .map_err(sql_err)?;
                let mut rows = s
                    .query(params![dir, i64_of(from), i64_of(limit)])
                    .map_err(sql_err)?;
                let mut upto = None;
                while let Some(row) = rows.next().map_err(sql_err)? {
                    if time_col(row, 1).map_err(sql_err)? >= cutoff {
                        break;
                    }
                    upto = Some(u64_col(row, 0).map_err(sql_err)?);
                }
                Ok(upto)
            })?;
            let mut out = Trimmed {
                more,
                ..Trimmed::default()
            };
            let (Some(first), Some(upto)) = (o.first, drop.or(prune)) else {
                return Ok(out);
            };
            // The primary key (dir, seq) bounds this delete to the rows it removes.
            c.prepare_cached("DELETE FROM events WHERE dir = ?1 AND seq <= ?2")
                .and_then(|mut s| s.execute(params![dir, i64_of(upto)]))
                .map_err(sql_err)?;
            out.pruned = prune.map_or(0, |p| p + 1 - first);
            out.dropped = drop.map(|upto| (prune.map_or(first, |p| p + 1), upto));
            Ok(out)
        })
    }
}

/// A directory's outbox bounds: its cursors row and the first event, two point reads.
fn outbox(c: &Connection, dir: &str) -> Result<Outbox> {
    let (last, _) = cursor(c, dir)?;
    let first = c
        .prepare_cached("SELECT seq FROM events WHERE dir = ?1 ORDER BY seq LIMIT 1")
        .and_then(|mut s| s.query_row([dir], |r| u64_col(r, 0)).optional())
        .map_err(sql_err)?;
    let acked = least_acked(&groups(c, dir)?);
    Ok(Outbox { first, last, acked })
}

/// Up to `limit` events of `dir` after `after`, in order.
fn events_after(c: &Connection, dir: &str, after: u64, limit: usize) -> Result<Vec<Event>> {
    rows_after(c, dir, after, limit, event_row)
}

/// Up to `limit` event rows of `dir` after `after`, in order, each read by `read`.
fn rows_after<T>(
    c: &Connection,
    dir: &str,
    after: u64,
    limit: usize,
    read: fn(&rusqlite::Row) -> rusqlite::Result<T>,
) -> Result<Vec<T>> {
    let mut s = c
        .prepare_cached(
            "SELECT seq, kind, resource_kind, resource_id, time, data FROM events
             WHERE dir = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
        )
        .map_err(sql_err)?;
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let rows = s
        .query_map(params![dir, i64_of(after), limit], read)
        .map_err(sql_err)?;
    rows.collect::<rusqlite::Result<Vec<_>>>().map_err(sql_err)
}

/// Directory `dir`'s consumer groups, by name.
fn groups(c: &Connection, dir: &str) -> Result<Vec<GroupCursor>> {
    let mut s = c
        .prepare_cached(
            "SELECT grp, acked, delivered, owner, lease_until FROM consumer_groups
             WHERE dir = ?1 ORDER BY grp",
        )
        .map_err(sql_err)?;
    let rows = s
        .query_map([dir], |r| {
            Ok(GroupCursor {
                group: r.get(0)?,
                acked: u64_col(r, 1)?,
                delivered: u64_col(r, 2)?,
                owner: r.get(3)?,
                lease_until: r.get(4)?,
            })
        })
        .map_err(sql_err)?;
    rows.collect::<rusqlite::Result<Vec<_>>>().map_err(sql_err)
}

/// Consumer group `group` of `dir` (inside a write), new when missing.
fn group_or_new(c: &Connection, dir: &str, group: &str) -> Result<GroupCursor> {
    let found = c
        .prepare_cached(
            "SELECT acked, delivered, owner, lease_until FROM consumer_groups
             WHERE dir = ?1 AND grp = ?2",
        )
        .and_then(|mut s| {
            s.query_row([dir, group], |r| {
                Ok(GroupCursor {
                    group: group.to_owned(),
                    acked: u64_col(r, 0)?,
                    delivered: u64_col(r, 1)?,
                    owner: r.get(2)?,
                    lease_until: r.get(3)?,
                })
            })
            .optional()
        })
        .map_err(sql_err)?;
    match found {
        Some(g) => Ok(g),
        None => Ok(GroupCursor::new(group, &outbox(c, dir)?)),
    }
}

fn save_group(c: &Connection, dir: &str, g: &GroupCursor) -> Result<()> {
    c.prepare_cached(
        "INSERT INTO consumer_groups (dir, grp, acked, delivered, owner, lease_until)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (dir, grp) DO UPDATE SET acked = excluded.acked,
             delivered = excluded.delivered, owner = excluded.owner,
             lease_until = excluded.lease_until",
    )
    .and_then(|mut s| {
        s.execute(params![
            dir,
            g.group,
            i64_of(g.acked),
            i64_of(g.delivered),
            g.owner,
            g.lease_until
        ])
    })
    .map(drop)
    .map_err(sql_err)
}

/// A directory's `(last_event, acked)`; `(0, 0)` before its first event.
fn cursor(c: &Connection, dir: &str) -> Result<(u64, u64)> {
    c.prepare_cached("SELECT last_event, acked FROM cursors WHERE dir = ?1")
        .and_then(|mut s| {
            s.query_row([dir], |r| Ok((u64_col(r, 0)?, u64_col(r, 1)?)))
                .optional()
        })
        .map(Option::unwrap_or_default)
        .map_err(sql_err)
}
