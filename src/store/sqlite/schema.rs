//! The on-disk schema and its migrations.
//!
//! A libscim database carries [`APPLICATION_ID`] in its header (`PRAGMA application_id`) and
//! its schema version in `PRAGMA user_version`. [`MIGRATIONS`]`[i]` brings a database from
//! version `i` to `i + 1`; version 0 is an empty file. Opening runs the missing steps in
//! one transaction, so a file is always at a released version. Schema v1 is the first
//! released one: never edit a released step, append the next one.
//!
//! A step is SQL, optionally followed by a backfill in Rust for what SQL cannot compute
//! the way the library does (case folding, timestamps as nanoseconds).

use super::sql_err;
use super::tx::{kind_of, resource_row};
use crate::error::{Result, ScimError};
use crate::store::query::{SortField, SortValue};
use rusqlite::{params, Connection};

/// `PRAGMA application_id` of a libscim database: "SCIM" in ASCII.
pub const APPLICATION_ID: i32 = 0x5343_494D;

/// One migration step.
pub struct Migration {
    pub sql: &'static str,
    /// Run after `sql`, in the same transaction.
    pub backfill: Option<fn(&Connection) -> Result<()>>,
}

/// Migration steps: index `i` takes the schema from version `i` to `i + 1`.
pub const MIGRATIONS: &[Migration] = &[
    // 0 → 1: the first released schema.
    Migration {
        backfill: None,
        sql: r#"
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
    },
    // 1 → 2: listing in O(page). Each resource carries the values of the sortable
    // attributes (see `SortField`; NULL when absent), each ordered by an index with the
    // insertion sequence as tie-break, so sorts, keyset pages and conditions on them are
    // index range scans. Single-valued keys are answered from these columns, so
    // `index_entries` keeps only multi-valued ones (emails). `counts` holds the number of
    // resources per directory and type, maintained by triggers.
    Migration {
        backfill: Some(backfill_v2),
        sql: r#"
    ALTER TABLE resources ADD COLUMN user_name TEXT;
    ALTER TABLE resources ADD COLUMN display_name TEXT;
    ALTER TABLE resources ADD COLUMN external_id TEXT;
    ALTER TABLE resources ADD COLUMN created_at INTEGER;
    ALTER TABLE resources ADD COLUMN modified_at INTEGER;
    CREATE INDEX resources_user_name ON resources (dir, kind, user_name, seq);
    CREATE INDEX resources_display_name ON resources (dir, kind, display_name, seq);
    CREATE INDEX resources_external_id ON resources (dir, kind, external_id, seq);
    CREATE INDEX resources_created ON resources (dir, kind, created_at, seq);
    CREATE INDEX resources_modified ON resources (dir, kind, modified_at, seq);
    DELETE FROM index_entries WHERE key <> 4;
    CREATE TABLE counts (
        dir  TEXT NOT NULL,
        kind INTEGER NOT NULL,
        n    INTEGER NOT NULL,
        PRIMARY KEY (dir, kind)
    ) WITHOUT ROWID;
    INSERT INTO counts (dir, kind, n) SELECT dir, kind, count(*) FROM resources GROUP BY dir, kind;
    CREATE TRIGGER resources_counted AFTER INSERT ON resources BEGIN
        INSERT INTO counts (dir, kind, n) VALUES (NEW.dir, NEW.kind, 1)
        ON CONFLICT (dir, kind) DO UPDATE SET n = n + 1;
    END;
    CREATE TRIGGER resources_uncounted AFTER DELETE ON resources BEGIN
        UPDATE counts SET n = n - 1 WHERE dir = OLD.dir AND kind = OLD.kind;
    END;
    "#,
    },
    // 2 → 3: the insert trigger only increments the count; the writer creates the
    // `counts` row (n = 0) before the first resource of its directory and type (see
    // `Tx::insert`). The upsert it did before may abort (its DO UPDATE), which made every
    // resource insert keep a statement journal — a copy of every page the insert
    // touches, 8 % of the time of a Bulk load.
    Migration {
        backfill: None,
        sql: r#"
    DROP TRIGGER resources_counted;
    CREATE TRIGGER resources_counted AFTER INSERT ON resources BEGIN
        UPDATE counts SET n = n + 1 WHERE dir = NEW.dir AND kind = NEW.kind;
    END;
    "#,
    },
    // 3 → 4: consumer groups. Each group has its own cursors per directory and leases
    // the directory's stream to one consumer at a time (see `GroupCursor`); the single
    // acknowledged cursor of v3 becomes group "default" (`cursors.acked` is no longer
    // read). `lease_until`: milliseconds since the Unix epoch.
    Migration {
        backfill: None,
        sql: r#"
    CREATE TABLE consumer_groups (
        dir         TEXT NOT NULL,
        grp         TEXT NOT NULL,
        acked       INTEGER NOT NULL,
        delivered   INTEGER NOT NULL,
        owner       TEXT,
        lease_until INTEGER NOT NULL,
        PRIMARY KEY (dir, grp)
    ) WITHOUT ROWID;
    INSERT INTO consumer_groups (dir, grp, acked, delivered, owner, lease_until)
        SELECT dir, 'default', acked, acked, NULL, 0 FROM cursors WHERE acked > 0;
    "#,
    },
    // 4 → 5: the outbox as a rowid table. A row of a WITHOUT ROWID table keeps at most
    // about a quarter of a page (1,004 bytes of a 4 KiB page) in its B-tree leaf; an
    // event (a user with its records for two services: ~1.3 KB) spilled the rest into an
    // overflow page of its own, so every event wrote (and fsync'd) a whole extra page
    // and took ~4.7 KB on disk. A rowid table keeps rows of up to ~4 KB in the leaf; the
    // primary key (dir, seq) becomes a small index beside it.
    Migration {
        backfill: None,
        sql: r#"
    CREATE TABLE events_v4 (
        dir           TEXT NOT NULL,
        seq           INTEGER NOT NULL,
        kind          TEXT NOT NULL,
        resource_kind INTEGER NOT NULL,
        resource_id   TEXT NOT NULL,
        time          TEXT NOT NULL,
        data          TEXT NOT NULL,
        PRIMARY KEY (dir, seq)
    );
    INSERT INTO events_v4 (dir, seq, kind, resource_kind, resource_id, time, data)
        SELECT dir, seq, kind, resource_kind, resource_id, time, data FROM events ORDER BY dir, seq;
    DROP TABLE events;
    ALTER TABLE events_v4 RENAME TO events;
    "#,
    },
];

/// The column holding a sortable field.
pub fn column(field: SortField) -> &'static str {
    match field {
        SortField::UserName => "user_name",
        SortField::DisplayName => "display_name",
        SortField::ExternalId => "external_id",
        SortField::Created => "created_at",
        SortField::LastModified => "modified_at",
    }
}

/// A sortable value as SQLite stores it.
pub fn sql_value(v: &Option<SortValue>) -> rusqlite::types::Value {
    use rusqlite::types::Value as V;
    match v {
        None => V::Null,
        Some(SortValue::Text(s)) => V::Text(s.clone()),
        Some(SortValue::Time(n)) => V::Integer(*n),
    }
}

/// The values of the sortable columns of a resource, in [`SortField::ALL`] order
/// (`user_name, display_name, external_id, created_at, modified_at`).
pub fn sort_columns(r: &crate::store::StoredResource) -> [rusqlite::types::Value; 5] {
    SortField::ALL.map(|f| sql_value(&f.value_of(r)))
}

/// v2: compute the sortable columns of every existing resource.
fn backfill_v2(conn: &Connection) -> Result<()> {
    let mut read = conn
        .prepare("SELECT id, data, created, last_modified, version, dir, kind FROM resources")
        .map_err(sql_err)?;
    let rows = read
        .query_map([], |row| {
            let kind = kind_of(row.get(6)?)?;
            Ok((row.get::<_, String>(5)?, resource_row(kind, row)?))
        })
        .map_err(sql_err)?;
    let mut write = conn
        .prepare(
            "UPDATE resources SET user_name = ?4, display_name = ?5, external_id = ?6,
             created_at = ?7, modified_at = ?8 WHERE dir = ?1 AND kind = ?2 AND id = ?3",
        )
        .map_err(sql_err)?;
    for row in rows {
        let (dir, r) = row.map_err(sql_err)?;
        let [user_name, display_name, external_id, created, modified] = sort_columns(&r);
        write
            .execute(params![
                dir,
                super::tx::kind_code(r.kind),
                r.id,
                user_name,
                display_name,
                external_id,
                created,
                modified
            ])
            .map_err(sql_err)?;
    }
    Ok(())
}

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
            let failed = |e: ScimError| {
                ScimError::internal(format!("store: migration to v{}: {}", i + 1, e.detail))
            };
            conn.execute_batch(step.sql)
                .map_err(|e| failed(sql_err(e)))?;
            if let Some(backfill) = step.backfill {
                backfill(conn).map_err(failed)?;
            }
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
