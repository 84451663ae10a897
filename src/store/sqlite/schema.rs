//! The on-disk schema and its migrations.
//!
//! A libscim database carries [`APPLICATION_ID`] in its header (`PRAGMA application_id`) and
//! its schema version in `PRAGMA user_version`. [`MIGRATIONS`]`[i]` brings a database from
//! version `i` to `i + 1`; version 0 is an empty file. Opening runs the missing steps in
//! one transaction, so a file is always at a released version. Schema v1 is the first
//! released one: never edit a released step, append the next one.

use super::sql_err;
use crate::error::{Result, ScimError};
use rusqlite::Connection;

/// `PRAGMA application_id` of a libscim database: "SCIM" in ASCII.
pub const APPLICATION_ID: i32 = 0x5343_494D;

/// Migration steps: index `i` takes the schema from version `i` to `i + 1`.
pub const MIGRATIONS: &[&str] = &[
    // 0 → 1: the first released schema.
    r#"
    -- Directories (tenants) in creation order (`ord`).
    CREATE TABLE directories (
        ord         INTEGER PRIMARY KEY,
        id          TEXT NOT NULL UNIQUE,
        name        TEXT NOT NULL,
        name_folded TEXT NOT NULL UNIQUE,
        token_hash  TEXT UNIQUE,
        data        TEXT NOT NULL
    );
    -- Users (kind 1) and groups (kind 2). `seq` is the insertion order within (dir, kind).
    CREATE TABLE resources (
        dir           TEXT NOT NULL,
        kind          INTEGER NOT NULL,
        id            TEXT NOT NULL,
        seq           INTEGER NOT NULL,
        data          TEXT NOT NULL,
        created       TEXT NOT NULL,
        last_modified TEXT NOT NULL,
        version       INTEGER NOT NULL,
        PRIMARY KEY (dir, kind, id)
    ) WITHOUT ROWID;
    CREATE UNIQUE INDEX resources_order ON resources (dir, kind, seq);
    -- Normalized values of each IndexKey (1 userName, 2 externalId, 3 displayName, 4 email).
    CREATE TABLE index_entries (
        dir   TEXT NOT NULL,
        kind  INTEGER NOT NULL,
        key   INTEGER NOT NULL,
        value TEXT NOT NULL,
        seq   INTEGER NOT NULL,
        id    TEXT NOT NULL,
        PRIMARY KEY (dir, kind, key, value, seq, id)
    ) WITHOUT ROWID;
    -- Group membership rows; `seq` orders a group's members.
    CREATE TABLE members (
        dir       TEXT NOT NULL,
        group_id  TEXT NOT NULL,
        member_id TEXT NOT NULL,
        kind      INTEGER NOT NULL,
        display   TEXT,
        seq       INTEGER NOT NULL,
        PRIMARY KEY (dir, group_id, member_id)
    ) WITHOUT ROWID;
    CREATE UNIQUE INDEX members_order ON members (dir, group_id, seq);
    CREATE INDEX members_of ON members (dir, member_id, group_id);
    -- The outbox.
    CREATE TABLE events (
        dir           TEXT NOT NULL,
        seq           INTEGER NOT NULL,
        kind          TEXT NOT NULL,
        resource_kind INTEGER NOT NULL,
        resource_id   TEXT NOT NULL,
        time          TEXT NOT NULL,
        data          TEXT NOT NULL,
        PRIMARY KEY (dir, seq)
    ) WITHOUT ROWID;
    -- Per directory: the last event number handed out (never reused) and the consumer's
    -- acknowledged cursor.
    CREATE TABLE cursors (
        dir        TEXT PRIMARY KEY,
        last_event INTEGER NOT NULL,
        acked      INTEGER NOT NULL
    ) WITHOUT ROWID;
    "#,
];

/// The schema version this library writes.
pub fn current_version() -> i64 {
    MIGRATIONS.len() as i64
}

fn not_ours(path: &str) -> ScimError {
    ScimError::internal(format!("store: {path}: file is not a libscim database"))
}

/// Read the header; refuse a foreign or newer file. Returns the schema version.
pub fn check(conn: &Connection, path: &str) -> Result<i64> {
    let header = |sql: &str| -> Result<i64> {
        conn.query_row(sql, [], |r| r.get::<_, i64>(0))
            .map_err(|e| match e {
                rusqlite::Error::SqliteFailure(f, _)
                    if f.code == rusqlite::ErrorCode::NotADatabase =>
                {
                    not_ours(path)
                }
                e => ScimError::internal(format!("store: {path}: {e}")),
            })
    };
    let app_id = header("PRAGMA application_id")?;
    let version = header("PRAGMA user_version")?;
    let objects = header("SELECT count(*) FROM sqlite_master")?;
    if app_id == i64::from(APPLICATION_ID) {
        if version > current_version() {
            return Err(ScimError::internal(format!(
                "store: {path}: database schema version {version} is newer than this library ({})",
                current_version()
            )));
        }
        Ok(version)
    } else if app_id == 0 && objects == 0 {
        Ok(0)
    } else {
        Err(not_ours(path))
    }
}

/// Bring the database to the current version in one transaction.
pub fn migrate(conn: &Connection, path: &str) -> Result<()> {
    conn.execute_batch("BEGIN IMMEDIATE").map_err(sql_err)?;
    let result = (|| {
        // Re-check under the write lock: another process may have migrated meanwhile.
        let from = check(conn, path)?;
        for (i, step) in MIGRATIONS.iter().enumerate().skip(from as usize) {
            conn.execute_batch(step)
                .map_err(|e| ScimError::internal(format!("store: migration to v{}: {e}", i + 1)))?;
        }
        if from < current_version() {
            conn.pragma_update(None, "application_id", APPLICATION_ID)
                .map_err(sql_err)?;
            conn.pragma_update(None, "user_version", current_version())
                .map_err(sql_err)?;
        }
        Ok(())
    })();
    match result {
        Ok(()) => conn.execute_batch("COMMIT").map_err(sql_err),
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK");
            Err(e)
        }
    }
}
