//! The shared store: PostgreSQL, for several host instances serving the same directories.
//!
//! - **Client**: `tokio-postgres`. The [`Store`] trait is synchronous and is called from
//!   the server's tokio workers (GETs run inline there), where the synchronous `postgres`
//!   crate cannot run: each of its clients drives its own runtime with `block_on`, which
//!   panics inside another runtime. So the store owns one small runtime thread that
//!   drives the connections' I/O, and a caller waits for a query's answer with a plain
//!   executor (`futures_executor::block_on`), a blocking wait like SQLite's. The client
//!   side of a query only exchanges messages with the connection task over channels.
//! - **Pool**: idle connections kept in a `parking_lot` mutex (up to
//!   [`IDLE_CONNECTIONS`]), each with its prepared statements; a request beyond them opens
//!   a connection of its own, like SQLite's readers. (The maintained pools do not fit:
//!   `r2d2_postgres` wraps the synchronous `postgres` client, and `deadpool-postgres`
//!   opens connections with `tokio::spawn`, which needs the caller to be inside our
//!   runtime.) A connection that broke, or whose transaction did not end cleanly, is
//!   dropped rather than reused.
//! - **Transactions**: a read is one `REPEATABLE READ READ ONLY` transaction (one
//!   snapshot). A write takes the directory's transaction-scoped advisory lock first, so
//!   writes to one directory are serial across every instance on the database (as
//!   SQLite's single writer makes them within one process): what a write read is still
//!   true when it commits, `If-Match` and the provider's uniqueness checks hold across
//!   instances, event numbers commit in order. Writes to different directories run in
//!   parallel. Uniqueness is also a constraint (see [`schema`]); a violation is a 409.
//! - **Schema**: see [`schema`]; foreign or newer databases are refused with a clear error.
//! - **Announcements**: a write that appended events notifies [`EVENTS_CHANNEL`], a
//!   directory change [`DIRECTORIES_CHANNEL`] (payload: the directory id), with its
//!   `COMMIT` (PostgreSQL delivers a `NOTIFY` when the transaction commits, never before
//!   and never for a rollback). Once an engine subscribes ([`Store::subscribe`]), the store
//!   keeps one more connection that `LISTEN`s on both and tells the engine: waiting
//!   consumers wake, the authentication cache forgets. It reconnects every
//!   [`RELISTEN`] while the database is away, and says when it is down meanwhile
//!   ([`StoreListener::listening`]), so the engine neither trusts its cache nor waits for
//!   an announcement that cannot come.

mod query;
mod schema;
mod tx;

use crate::error::{Result, ScimError};
use crate::store::{
    check_ack, check_group, check_same_id, least_acked, plan_trim, Consumer, DirectoryRecord,
    Event, GroupCursor, Outbox, ReadTx, Store, StoreListener, Taken, TrimEvents, Trimmed, WriteTx,
    WriterHeld,
};
use parking_lot::Mutex;
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, Row, Statement};
use tx::{event_row, i64_of, json_text, parse_json, storable, time_of, Tx};

/// Most idle connections kept open.
const IDLE_CONNECTIONS: usize = 32;
/// Prepared statements kept per connection (the listing statements vary with the
/// conditions of a filter; past this many the cache starts over).
const STATEMENTS_KEPT: usize = 256;
/// How long opening a connection may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How often [`Store::modify_directory`] retries after a serialization conflict.
const RETRIES: usize = 5;
/// The channel a commit that appended events notifies (payload: the directory id).
pub(crate) const EVENTS_CHANNEL: &str = "libscim_events";
/// The channel a directory change notifies (payload: the directory id).
pub(crate) const DIRECTORIES_CHANNEL: &str = "libscim_directories";
/// How long the listening connection waits before connecting again.
pub const RELISTEN: Duration = Duration::from_millis(500);

/// A PostgreSQL error as a SCIM error: a constraint violation is the client's conflict
/// (409), text PostgreSQL cannot hold (a NUL character) the client's invalid value, an
/// unreachable or restarting database a 503 to retry.
pub(crate) fn pg_err(e: tokio_postgres::Error) -> ScimError {
    let Some(code) = e.code() else {
        if e.is_closed() || e.as_db_error().is_none() {
            return unavailable(&e);
        }
        return ScimError::internal(format!("store: {e}"));
    };
    let db = e.as_db_error();
    if *code == SqlState::UNIQUE_VIOLATION {
        let what = match db.and_then(|d| d.constraint()) {
            Some("resources_user_name_unique") => "a user with this userName already exists",
            Some("directories_name_folded_key") => "a directory with this name already exists",
            Some("directories_id_key") => "a directory with this id already exists",
            Some("directories_token_hash_key") => "token hash collision",
            _ => "the change conflicts with an existing record",
        };
        ScimError::uniqueness(what)
    } else if *code == SqlState::CHARACTER_NOT_IN_REPERTOIRE
        || *code == SqlState::UNTRANSLATABLE_CHARACTER
    {
        ScimError::invalid_value("a value contains a character the store cannot hold (NUL)")
    } else if *code == SqlState::DISK_FULL {
        ScimError::insufficient_storage(
            "the server's storage is full: the change was not saved; retry once space is freed",
        )
    } else if *code == SqlState::T_R_SERIALIZATION_FAILURE
        || *code == SqlState::T_R_DEADLOCK_DETECTED
    {
        ScimError::new(503, None, CONFLICT)
    } else if code.code().starts_with("08")
        || code.code().starts_with("57P")
        || *code == SqlState::TOO_MANY_CONNECTIONS
    {
        unavailable(&e)
    } else {
        ScimError::internal(format!("store: {e}"))
    }
}

fn unavailable(e: &dyn std::fmt::Display) -> ScimError {
    log::warn!("store: the database is unavailable: {e}");
    ScimError::new(
        503,
        None,
        "the database is unavailable; nothing was saved: retry later",
    )
    .with_kind(crate::error::ErrorKind::Io)
}

/// The detail of a serialization failure or deadlock: the transaction may be run again.
const CONFLICT: &str = "a concurrent change conflicted with this one; nothing was saved: retry";

fn retryable(e: &ScimError) -> bool {
    e.status == 503 && e.detail == CONFLICT
}

/// One connection and its prepared statements.
pub(crate) struct Conn {
    client: Client,
    statements: RefCell<HashMap<String, Statement>>,
    /// `NOTIFY` statements to send with this transaction's `COMMIT`.
    announce: RefCell<Vec<String>>,
}

impl Conn {
    /// Notify `channel` with `dir` when this transaction commits. An id that is not
    /// plain (it never is: ids are hex) is announced as "" (any directory), so the
    /// payload never needs quoting beyond `'…'`.
    pub fn announce(&self, channel: &'static str, dir: &str) {
        let plain = dir.len() <= 200
            && dir
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        let payload = if plain { dir } else { "" };
        let sql = format!("SELECT pg_notify('{channel}', '{payload}')");
        let mut pending = self.announce.borrow_mut();
        if !pending.contains(&sql) {
            pending.push(sql);
        }
    }

    fn statement(&self, sql: &str) -> Result<Statement> {
        if let Some(s) = self.statements.borrow().get(sql) {
            return Ok(s.clone());
        }
        let s = futures_executor::block_on(self.client.prepare(sql)).map_err(pg_err)?;
        let mut cache = self.statements.borrow_mut();
        if cache.len() >= STATEMENTS_KEPT {
            cache.clear();
        }
        cache.insert(sql.to_owned(), s.clone());
        Ok(s)
    }

    pub fn query(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<Row>> {
        let s = self.statement(sql)?;
        futures_executor::block_on(self.client.query(&s, params)).map_err(pg_err)
    }

    pub fn query_opt(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Option<Row>> {
        let s = self.statement(sql)?;
        futures_executor::block_on(self.client.query_opt(&s, params)).map_err(pg_err)
    }

    pub fn query_one(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Row> {
        let s = self.statement(sql)?;
        futures_executor::block_on(self.client.query_one(&s, params)).map_err(pg_err)
    }

    pub fn execute(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<u64> {
        let s = self.statement(sql)?;
        futures_executor::block_on(self.client.execute(&s, params)).map_err(pg_err)
    }

    /// Statements without parameters (transaction control, DDL), as one simple query.
    pub fn batch(&self, sql: &str) -> Result<()> {
        futures_executor::block_on(self.client.batch_execute(sql)).map_err(pg_err)
    }
}

/// A column of a row, a decoding failure as an internal error.
pub(crate) fn col<'a, T: tokio_postgres::types::FromSql<'a>>(row: &'a Row, i: usize) -> Result<T> {
    row.try_get(i)
        .map_err(|e| ScimError::internal(format!("store: column {i}: {e}")))
}

/// A [`Store`] on a PostgreSQL database. See the module documentation.
pub struct PostgresStore {
    shown: String,
    config: tokio_postgres::Config,
    /// Drives the connections; `None` once dropped.
    runtime: Option<tokio::runtime::Runtime>,
    idle: Mutex<Vec<Conn>>,
    /// Who is told about other instances' changes (see [`Store::subscribe`]).
    listeners: Arc<Listeners>,
}

/// The subscribers of a store and the state of its listening connection.
#[derive(Default)]
struct Listeners {
    /// Locked while the state changes, so a subscriber learns it exactly once.
    sinks: Mutex<Vec<Weak<dyn StoreListener>>>,
    live: AtomicBool,
    started: AtomicBool,
}

impl Listeners {
    fn each(&self, f: impl Fn(&dyn StoreListener)) {
        let mut sinks = self.sinks.lock();
        sinks.retain(|w| match w.upgrade() {
            Some(l) => {
                f(&*l);
                true
            }
            None => false,
        });
    }

    fn set_live(&self, live: bool) {
        let mut sinks = self.sinks.lock();
        self.live.store(live, Ordering::Release);
        sinks.retain(|w| match w.upgrade() {
            Some(l) => {
                l.listening(live);
                true
            }
            None => false,
        });
    }

    fn dispatch(&self, channel: &str, dir: &str) {
        match channel {
            EVENTS_CHANNEL => self.each(|l| l.events_appended(dir)),
            DIRECTORIES_CHANNEL => self.each(|l| l.directory_changed(dir)),
            _ => {}
        }
    }
}

/// The listening connection: `LISTEN` on both channels and pass every notification on,
/// connecting again after [`RELISTEN`] whenever the connection ends or cannot be made.
async fn listen(config: tokio_postgres::Config, listeners: Arc<Listeners>) {
    loop {
        match config.connect(tokio_postgres::NoTls).await {
            Ok((client, mut connection)) => {
                let to = listeners.clone();
                let driver = tokio::spawn(async move {
                    loop {
                        match std::future::poll_fn(|cx| connection.poll_message(cx)).await {
                            Some(Ok(tokio_postgres::AsyncMessage::Notification(n))) => {
                                to.dispatch(n.channel(), n.payload());
                            }
                            Some(Ok(_)) => {}
                            Some(Err(e)) => {
                                log::warn!("store: the listening connection ended: {e}");
                                return;
                            }
                            None => return,
                        }
                    }
                });
                let sql = format!("LISTEN {EVENTS_CHANNEL}; LISTEN {DIRECTORIES_CHANNEL}");
                match client.batch_execute(&sql).await {
                    Ok(()) => {
                        listeners.set_live(true);
                        let _ = driver.await;
                    }
                    Err(e) => {
                        log::warn!("store: cannot listen for other instances' changes: {e}");
                        driver.abort();
                    }
                }
                listeners.set_live(false);
            }
            Err(e) => log::debug!("store: the listening connection cannot connect: {e}"),
        }
        tokio::time::sleep(RELISTEN).await;
    }
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore")
            .field("database", &self.shown)
            .finish()
    }
}

impl Drop for PostgresStore {
    fn drop(&mut self) {
        self.idle.lock().clear();
        // Never blocks, so a store may be dropped on a tokio worker too.
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

/// A pooled connection; back to the pool when dropped, unless it broke or was left
/// inside a transaction.
struct Pooled<'s> {
    store: &'s PostgresStore,
    conn: Option<Conn>,
    clean: bool,
}

impl std::ops::Deref for Pooled<'_> {
    type Target = Conn;
    fn deref(&self) -> &Conn {
        self.conn
            .as_ref()
            .expect("a pooled connection is held until dropped")
    }
}

impl Drop for Pooled<'_> {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            if self.clean && !conn.client.is_closed() {
                let mut idle = self.store.idle.lock();
                if idle.len() < IDLE_CONNECTIONS {
                    idle.push(conn);
                }
            }
        }
    }
}

impl PostgresStore {
    /// The schema version (`schema_version.version`) this library writes.
    pub const SCHEMA_VERSION: i64 = schema::MIGRATIONS.len() as i64;

    /// Connect to the database at `url` (`postgres://user:password@host:port/dbname`,
    /// `postgres://user@%2Frun%2Fpostgresql/dbname` for a Unix socket in `/run/postgresql`;
    /// any connection string `tokio-postgres` accepts), creating or migrating libscim's tables. A database
    /// holding other tables named like ours, or written by a newer library, is refused
    /// (500); an unreachable one is a 503.
    pub fn open(url: &str) -> Result<PostgresStore> {
        let mut config: tokio_postgres::Config = url
            .parse()
            .map_err(|e| ScimError::internal(format!("store: invalid PostgreSQL URL: {e}")))?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        if config.get_application_name().is_none() {
            config.application_name("libscim");
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("scim-postgres")
            .enable_all()
            .build()
            .map_err(|e| ScimError::internal(format!("store: cannot start its I/O thread: {e}")))?;
        let shown = format!(
            "postgres database '{}'",
            config.get_dbname().unwrap_or("(default)")
        );
        let store = PostgresStore {
            shown,
            config,
            runtime: Some(runtime),
            idle: Mutex::new(Vec::new()),
            listeners: Arc::new(Listeners::default()),
        };
        {
            let mut conn = store.conn()?;
            schema::migrate(&conn, &store.shown)?;
            conn.clean = true;
        }
        Ok(store)
    }

    /// Whether `location` names a PostgreSQL database (`postgres://…` or
    /// `postgresql://…`) rather than a file.
    pub fn is_url(location: &str) -> bool {
        ["postgres://", "postgresql://"].iter().any(|scheme| {
            location
                .get(..scheme.len())
                .is_some_and(|s| s.eq_ignore_ascii_case(scheme))
        })
    }

    /// Which database this store uses (without credentials).
    pub fn describe(&self) -> &str {
        &self.shown
    }

    fn connect(&self) -> Result<Conn> {
        let runtime = self
            .runtime
            .as_ref()
            .ok_or_else(|| ScimError::internal("store: closed"))?;
        let config = self.config.clone();
        let task = runtime.spawn(async move {
            let (client, connection) = config.connect(tokio_postgres::NoTls).await?;
            tokio::spawn(async move {
                if let Err(e) = connection.await {
                    log::warn!("store: a PostgreSQL connection ended: {e}");
                }
            });
            Ok::<_, tokio_postgres::Error>(client)
        });
        let client = futures_executor::block_on(task)
            .map_err(|e| ScimError::internal(format!("store: connecting failed: {e}")))?
            .map_err(pg_err)?;
        Ok(Conn {
            client,
            statements: RefCell::new(HashMap::new()),
            announce: RefCell::new(Vec::new()),
        })
    }

    /// A connection from the pool, or a new one. Not returned to the pool unless the
    /// holder marks it clean.
    fn conn(&self) -> Result<Pooled<'_>> {
        loop {
            let pooled = self.idle.lock().pop();
            match pooled {
                Some(c) if c.client.is_closed() => continue,
                Some(c) => {
                    return Ok(Pooled {
                        store: self,
                        conn: Some(c),
                        clean: false,
                    })
                }
                None => {
                    return Ok(Pooled {
                        store: self,
                        conn: Some(self.connect()?),
                        clean: false,
                    })
                }
            }
        }
    }

    /// `f` in `begin` … `COMMIT` (`ROLLBACK` when it failed).
    fn transaction<T>(&self, begin: &str, f: impl FnOnce(&Conn) -> Result<T>) -> Result<T> {
        let mut conn = self.conn()?;
        conn.announce.borrow_mut().clear();
        conn.batch(begin)?;
        let result = f(&conn);
        let announced = std::mem::take(&mut *conn.announce.borrow_mut());
        let end = if result.is_err() {
            conn.batch("ROLLBACK")
        } else if announced.is_empty() {
            conn.batch("COMMIT")
        } else {
            // One round trip: the notifications go out with the commit.
            conn.batch(&format!("{}; COMMIT", announced.join("; ")))
        };
        conn.clean = end.is_ok();
        let value = result?;
        end?;
        Ok(value)
    }

    /// `f` in one snapshot.
    fn reading<T>(&self, f: impl FnOnce(&Conn) -> Result<T>) -> Result<T> {
        self.transaction("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", f)
    }

    /// `f` in a write transaction holding directory `dir`'s advisory lock (when given):
    /// writes to one directory are serial across every instance.
    fn writing<T>(&self, dir: Option<&str>, f: impl FnOnce(&Conn) -> Result<T>) -> Result<T> {
        // Dropped last: log records made meanwhile go out once the lock is released.
        let _held = WriterHeld::enter();
        self.transaction("BEGIN", |c| {
            if let Some(dir) = dir {
                lock_directory(c, dir)?;
            }
            f(c)
        })
    }
}

/// Take directory `dir`'s write lock until the transaction ends.
fn lock_directory(c: &Conn, dir: &str) -> Result<()> {
    c.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
        &[&dir],
    )
    .map(drop)
}

fn conflict(c: &Conn, r: &DirectoryRecord) -> Result<()> {
    let other = c.query_opt(
        "SELECT name FROM directories WHERE name_folded = $1 AND id <> $2",
        &[&r.name.to_lowercase(), &r.id],
    )?;
    if let Some(row) = other {
        let name: String = col(&row, 0)?;
        return Err(ScimError::uniqueness(format!(
            "a directory named '{name}' already exists"
        )));
    }
    if let Some(hash) = &r.token_hash {
        let taken = c.query_opt(
            "SELECT 1 FROM directories WHERE token_hash = $1 AND id <> $2",
            &[hash, &r.id],
        )?;
        if taken.is_some() {
            return Err(ScimError::uniqueness("token hash collision"));
        }
    }
    Ok(())
}

fn directory_row(row: &Row) -> Result<DirectoryRecord> {
    Ok(DirectoryRecord {
        id: col(row, 0)?,
        name: col(row, 1)?,
        token_hash: col(row, 2)?,
        data: parse_json(&col::<String>(row, 3)?)?,
    })
}

const DIRECTORY_COLUMNS: &str = "SELECT id, name, token_hash, data FROM directories";

impl Store for PostgresStore {
    fn read(&self, dir: &str, f: &mut dyn FnMut(&dyn ReadTx) -> Result<()>) -> Result<()> {
        self.reading(|conn| f(&Tx { conn, dir }))
    }

    fn write(&self, dir: &str, f: &mut dyn FnMut(&mut dyn WriteTx) -> Result<()>) -> Result<()> {
        self.writing(Some(dir), |conn| f(&mut Tx { conn, dir }))
    }

    fn create_directory(&self, record: &DirectoryRecord) -> Result<()> {
        let data = json_text(&record.data)?;
        self.writing(Some(&record.id), |c| {
            if c.query_opt("SELECT 1 FROM directories WHERE id = $1", &[&record.id])?
                .is_some()
            {
                return Err(ScimError::uniqueness(format!(
                    "directory '{}' already exists",
                    record.id
                )));
            }
            conflict(c, record)?;
            c.announce(DIRECTORIES_CHANNEL, &record.id);
            c.execute(
                "INSERT INTO directories (id, name, name_folded, token_hash, data)
                 VALUES ($1, $2, $3, $4, $5)",
                &[
                    &record.id,
                    &record.name,
                    &record.name.to_lowercase(),
                    &record.token_hash,
                    &data,
                ],
            )?;
            Ok(())
        })
    }

    fn modify_directory(
        &self,
        id: &str,
        change: &mut dyn FnMut(&mut DirectoryRecord) -> Result<()>,
    ) -> Result<DirectoryRecord> {
        // The row is locked from the read to the commit: a concurrent change (of any
        // instance) waits, then reads what this one wrote.
        if !storable(id) {
            return Err(ScimError::not_found(format!("directory '{id}' not found")));
        }
        let mut attempt = 0;
        loop {
            let result = self.writing(None, |c| {
                let row = c
                    .query_opt(
                        &format!("{DIRECTORY_COLUMNS} WHERE id = $1 FOR UPDATE"),
                        &[&id],
                    )?
                    .ok_or_else(|| ScimError::not_found(format!("directory '{id}' not found")))?;
                let mut record = directory_row(&row)?;
                change(&mut record)?;
                check_same_id(id, &record)?;
                conflict(c, &record)?;
                c.announce(DIRECTORIES_CHANNEL, id);
                let data = json_text(&record.data)?;
                c.execute(
                    "UPDATE directories SET name = $2, name_folded = $3, token_hash = $4,
                     data = $5 WHERE id = $1",
                    &[
                        &record.id,
                        &record.name,
                        &record.name.to_lowercase(),
                        &record.token_hash,
                        &data,
                    ],
                )?;
                Ok(record)
            });
            match result {
                Err(e) if retryable(&e) && attempt < RETRIES => attempt += 1,
                other => return other,
            }
        }
    }

    fn get_directory(&self, id: &str) -> Result<Option<DirectoryRecord>> {
        if !storable(id) {
            return Ok(None);
        }
        let mut c = self.conn()?;
        let row = c.query_opt(&format!("{DIRECTORY_COLUMNS} WHERE id = $1"), &[&id])?;
        c.clean = true;
        row.as_ref().map(directory_row).transpose()
    }

    fn directory_by_token(&self, token_hash: &str) -> Result<Option<DirectoryRecord>> {
        if !storable(token_hash) {
            return Ok(None);
        }
        let mut c = self.conn()?;
        let row = c.query_opt(
            &format!("{DIRECTORY_COLUMNS} WHERE token_hash = $1"),
            &[&token_hash],
        )?;
        c.clean = true;
        row.as_ref().map(directory_row).transpose()
    }

    fn list_directories(&self) -> Result<Vec<DirectoryRecord>> {
        let mut c = self.conn()?;
        let rows = c.query(&format!("{DIRECTORY_COLUMNS} ORDER BY ord"), &[])?;
        c.clean = true;
        rows.iter().map(directory_row).collect()
    }

    fn delete_directory(&self, id: &str) -> Result<bool> {
        if !storable(id) {
            return Ok(false);
        }
        self.writing(Some(id), |c| {
            let n = c.execute("DELETE FROM directories WHERE id = $1", &[&id])?;
            c.announce(DIRECTORIES_CHANNEL, id);
            for table in [
                "resources",
                "index_entries",
                "members",
                "events",
                "cursors",
                "counts",
                "consumer_groups",
            ] {
                c.execute(&format!("DELETE FROM {table} WHERE dir = $1"), &[&id])?;
            }
            Ok(n > 0)
        })
    }

    fn events(&self, dir: &str, after: u64, limit: usize) -> Result<Vec<Event>> {
        let mut c = self.conn()?;
        let events = events_after(&c, dir, after, limit)?;
        c.clean = true;
        Ok(events)
    }

    fn take_events(&self, dir: &str, consumer: &Consumer, limit: usize) -> Result<Taken> {
        check_group(consumer.group)?;
        self.writing(Some(dir), |c| {
            let mut g = group_or_new(c, dir, consumer.group)?;
            let after = match g.take(consumer, db_now_ms(c)?) {
                Ok(after) => after,
                Err(left) => {
                    return Ok(Taken {
                        events: Vec::new(),
                        held_for: Some(left),
                    })
                }
            };
            let events = events_after(c, dir, after, limit)?;
            if let Some(last) = events.last() {
                g.delivered = last.seq;
            }
            save_group(c, dir, &g)?;
            Ok(Taken {
                events,
                held_for: None,
            })
        })
    }

    fn ack_group(&self, dir: &str, consumer: &Consumer, seq: u64) -> Result<()> {
        check_group(consumer.group)?;
        self.writing(Some(dir), |c| {
            let (last, _) = cursor(c, dir)?;
            check_ack(seq, last)?;
            let mut g = group_or_new(c, dir, consumer.group)?;
            g.ack(consumer, seq, db_now_ms(c)?);
            save_group(c, dir, &g)
        })
    }

    fn release_group(&self, dir: &str, consumer: &Consumer) -> Result<()> {
        check_group(consumer.group)?;
        self.writing(Some(dir), |c| {
            let held = groups(c, dir)?
                .into_iter()
                .find(|g| g.group == consumer.group && g.owner.as_deref() == Some(consumer.id));
            match held {
                Some(mut g) => {
                    g.release(consumer);
                    save_group(c, dir, &g)
                }
                None => Ok(()),
            }
        })
    }

    fn remove_group(&self, dir: &str, group: &str) -> Result<bool> {
        check_group(group)?;
        self.writing(Some(dir), |c| {
            let n = c.execute(
                "DELETE FROM consumer_groups WHERE dir = $1 AND grp = $2",
                &[&dir, &group],
            )?;
            Ok(n > 0)
        })
    }

    fn groups(&self, dir: &str) -> Result<Vec<GroupCursor>> {
        let mut c = self.conn()?;
        let groups = groups(&c, dir)?;
        c.clean = true;
        Ok(groups)
    }

    fn subscribe(&self, listener: Weak<dyn StoreListener>) -> bool {
        {
            let mut sinks = self.listeners.sinks.lock();
            if let Some(l) = listener.upgrade() {
                l.listening(self.listeners.live.load(Ordering::Acquire));
            }
            sinks.push(listener);
        }
        if !self.listeners.started.swap(true, Ordering::AcqRel) {
            if let Some(rt) = &self.runtime {
                rt.spawn(listen(self.config.clone(), self.listeners.clone()));
            }
        }
        true
    }

    fn prune_events(&self, dir: &str, seq: u64) -> Result<u64> {
        self.writing(Some(dir), |c| {
            let upto = seq.min(least_acked(&groups(c, dir)?));
            c.execute(
                "DELETE FROM events WHERE dir = $1 AND seq <= $2",
                &[&dir, &i64_of(upto)],
            )
        })
    }

    fn outbox(&self, dir: &str) -> Result<Outbox> {
        self.reading(|c| outbox(c, dir))
    }

    fn trim_events(&self, dir: &str, trim: &TrimEvents) -> Result<Trimmed> {
        self.writing(Some(dir), |c| {
            let o = outbox(c, dir)?;
            let (prune, drop, more) = plan_trim(&o, trim, &mut |from, limit, cutoff| {
                let rows = c.query(
                    "SELECT seq, time FROM events WHERE dir = $1 AND seq >= $2
                     ORDER BY seq LIMIT $3",
                    &[&dir, &i64_of(from), &i64_of(limit)],
                )?;
                let mut upto = None;
                for row in &rows {
                    if time_of(&col::<String>(row, 1)?)? >= cutoff {
                        break;
                    }
                    upto = Some(tx::u64_of(col(row, 0)?)?);
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
            c.execute(
                "DELETE FROM events WHERE dir = $1 AND seq <= $2",
                &[&dir, &i64_of(upto)],
            )?;
            out.pruned = prune.map_or(0, |p| p + 1 - first);
            out.dropped = drop.map(|upto| (prune.map_or(first, |p| p + 1), upto));
            Ok(out)
        })
    }
}

/// A directory's outbox bounds: its cursors row and the first event.
fn outbox(c: &Conn, dir: &str) -> Result<Outbox> {
    let (last, _) = cursor(c, dir)?;
    let first = c
        .query_opt(
            "SELECT seq FROM events WHERE dir = $1 ORDER BY seq LIMIT 1",
            &[&dir],
        )?
        .map(|r| tx::u64_of(col(&r, 0)?))
        .transpose()?;
    let acked = least_acked(&groups(c, dir)?);
    Ok(Outbox { first, last, acked })
}

/// Up to `limit` events of `dir` after `after`, in order.
fn events_after(c: &Conn, dir: &str, after: u64, limit: usize) -> Result<Vec<Event>> {
    let rows = c.query(
        "SELECT seq, kind, resource_kind, resource_id, time, data FROM events
         WHERE dir = $1 AND seq > $2 ORDER BY seq LIMIT $3",
        &[&dir, &i64_of(after), &i64_of(limit as u64)],
    )?;
    rows.iter().map(event_row).collect()
}

/// The database's clock in milliseconds since the Unix epoch: the one clock every
/// instance's leases are measured by.
fn db_now_ms(c: &Conn) -> Result<i64> {
    let row = c.query_one(
        "SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint",
        &[],
    )?;
    col(&row, 0)
}

fn group_row(row: &Row) -> Result<GroupCursor> {
    Ok(GroupCursor {
        group: col(row, 0)?,
        acked: tx::u64_of(col(row, 1)?)?,
        delivered: tx::u64_of(col(row, 2)?)?,
        owner: col(row, 3)?,
        lease_until: col(row, 4)?,
    })
}

/// Directory `dir`'s consumer groups, by name.
fn groups(c: &Conn, dir: &str) -> Result<Vec<GroupCursor>> {
    c.query(
        "SELECT grp, acked, delivered, owner, lease_until FROM consumer_groups
         WHERE dir = $1 ORDER BY grp",
        &[&dir],
    )?
    .iter()
    .map(group_row)
    .collect()
}

/// Consumer group `group` of `dir` (inside a write, under the directory's lock), new
/// when missing.
fn group_or_new(c: &Conn, dir: &str, group: &str) -> Result<GroupCursor> {
    let row = c.query_opt(
        "SELECT grp, acked, delivered, owner, lease_until FROM consumer_groups
         WHERE dir = $1 AND grp = $2",
        &[&dir, &group],
    )?;
    match row {
        Some(r) => group_row(&r),
        None => Ok(GroupCursor::new(group, &outbox(c, dir)?)),
    }
}

fn save_group(c: &Conn, dir: &str, g: &GroupCursor) -> Result<()> {
    c.execute(
        "INSERT INTO consumer_groups (dir, grp, acked, delivered, owner, lease_until)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (dir, grp) DO UPDATE SET acked = excluded.acked,
             delivered = excluded.delivered, owner = excluded.owner,
             lease_until = excluded.lease_until",
        &[
            &dir,
            &g.group,
            &i64_of(g.acked),
            &i64_of(g.delivered),
            &g.owner,
            &g.lease_until,
        ],
    )
    .map(drop)
}

/// A directory's `(last_event, acked)`; `(0, 0)` before its first event.
fn cursor(c: &Conn, dir: &str) -> Result<(u64, u64)> {
    match c.query_opt(
        "SELECT last_event, acked FROM cursors WHERE dir = $1",
        &[&dir],
    )? {
        Some(r) => Ok((tx::u64_of(col(&r, 0)?)?, tx::u64_of(col(&r, 1)?)?)),
        None => Ok((0, 0)),
    }
}
