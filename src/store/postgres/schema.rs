//! The PostgreSQL schema and its migrations.
//!
//! A libscim database holds a `schema_version` table with one row: the application tag
//! ([`APPLICATION`]) and the schema version. [`MIGRATIONS`]`[i]` brings a database from
//! version `i` to `i + 1`; version 0 is a database without our tables. Opening runs the
//! missing steps in one transaction under an advisory lock, so several instances starting
//! at once migrate once, and a database is always at a released version. A database
//! written by a newer library is refused. Never edit a released step: append the next.
//!
//! The layout mirrors SQLite's schema v2 (see `store::sqlite::schema`): the same tables,
//! columns and `(dir, kind, column, seq)` indexes, so listing, counting and sorting are
//! pushed down alike. Text that is ordered or compared is `COLLATE "C"`: byte order, the
//! order of Rust strings and of SQLite, whatever the database's locale. Case-insensitive
//! columns hold [`crate::store::query::fold`]ed values. Uniqueness the store guarantees
//! is a constraint: directory id, folded name and token hash; resource id per directory
//! and type; folded `userName` per directory.

use super::Conn;
use crate::error::{Result, ScimError};

/// `schema_version.application` of a libscim database.
pub const APPLICATION: &str = "libscim";

/// The advisory lock (`pg_advisory_xact_lock`) that serializes migrations: "SCIM".
const MIGRATION_LOCK: i64 = 0x5343_494D;

/// Migration steps: index `i` takes the schema from version `i` to `i + 1`.
pub const MIGRATIONS: &[&str] = &[
    // 0 → 1: the first released schema.
    r#"
    -- Directories (tenants) in creation order (`ord`).
    CREATE TABLE directories (
        ord         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        id          TEXT COLLATE "C" NOT NULL UNIQUE,
        name        TEXT NOT NULL,
        name_folded TEXT COLLATE "C" NOT NULL UNIQUE,
        token_hash  TEXT COLLATE "C" UNIQUE,
        data        TEXT NOT NULL
    );
    -- Users (kind 1) and groups (kind 2). `seq` is the insertion order within (dir, kind);
    -- the sortable attributes (`SortField`) are columns, NULL when absent.
    CREATE TABLE resources (
        dir           TEXT COLLATE "C" NOT NULL,
        kind          BIGINT NOT NULL,
        id            TEXT COLLATE "C" NOT NULL,
        seq           BIGINT NOT NULL,
        data          TEXT NOT NULL,
        created       TEXT NOT NULL,
        last_modified TEXT NOT NULL,
        version       BIGINT NOT NULL,
        user_name     TEXT COLLATE "C",
        display_name  TEXT COLLATE "C",
        external_id   TEXT COLLATE "C",
        created_at    BIGINT,
        modified_at   BIGINT,
        PRIMARY KEY (dir, kind, id)
    );
    CREATE UNIQUE INDEX resources_order ON resources (dir, kind, seq);
    CREATE INDEX resources_user_name ON resources (dir, kind, user_name, seq);
    CREATE INDEX resources_display_name ON resources (dir, kind, display_name, seq);
    CREATE INDEX resources_external_id ON resources (dir, kind, external_id, seq);
    CREATE INDEX resources_created ON resources (dir, kind, created_at, seq);
    CREATE INDEX resources_modified ON resources (dir, kind, modified_at, seq);
    -- userName is unique per directory, case-insensitively (the column is folded).
    CREATE UNIQUE INDEX resources_user_name_unique ON resources (dir, user_name)
        WHERE kind = 1;
    -- Normalized values of multi-valued keys (4: emails.value).
    CREATE TABLE index_entries (
        dir   TEXT COLLATE "C" NOT NULL,
        kind  BIGINT NOT NULL,
        key   BIGINT NOT NULL,
        value TEXT COLLATE "C" NOT NULL,
        seq   BIGINT NOT NULL,
        id    TEXT COLLATE "C" NOT NULL,
        PRIMARY KEY (dir, kind, key, value, seq, id)
    );
    -- A resource's entries, to remove them when it changes.
    CREATE INDEX index_entries_of ON index_entries (dir, kind, seq);
    -- Group membership rows; `seq` orders a group's members.
    CREATE TABLE members (
        dir       TEXT COLLATE "C" NOT NULL,
        group_id  TEXT COLLATE "C" NOT NULL,
        member_id TEXT COLLATE "C" NOT NULL,
        kind      BIGINT NOT NULL,
        display   TEXT,
        seq       BIGINT NOT NULL,
        PRIMARY KEY (dir, group_id, member_id)
    );
    CREATE UNIQUE INDEX members_order ON members (dir, group_id, seq);
    CREATE INDEX members_of ON members (dir, member_id, group_id);
    -- The outbox.
    CREATE TABLE events (
        dir           TEXT COLLATE "C" NOT NULL,
        seq           BIGINT NOT NULL,
        kind          TEXT NOT NULL,
        resource_kind BIGINT NOT NULL,
        resource_id   TEXT NOT NULL,
        time          TEXT NOT NULL,
        data          TEXT NOT NULL,
        PRIMARY KEY (dir, seq)
    );
    -- Per directory: the last event number handed out (never reused) and the consumer's
    -- acknowledged cursor.
    CREATE TABLE cursors (
        dir        TEXT COLLATE "C" PRIMARY KEY,
        last_event BIGINT NOT NULL,
        acked      BIGINT NOT NULL
    );
    -- Resources per directory and type (a count without a scan).
    CREATE TABLE counts (
        dir  TEXT COLLATE "C" NOT NULL,
        kind BIGINT NOT NULL,
        n    BIGINT NOT NULL,
        PRIMARY KEY (dir, kind)
    );
    "#,
    // 1 → 2: consumer groups (as SQLite's v4). Each group has its own cursors per
    // directory and leases the directory's stream to one consumer at a time (see
    // `GroupCursor`); the single acknowledged cursor of v1 becomes group "default"
    // (`cursors.acked` is no longer read). `lease_until`: milliseconds since the Unix
    // epoch by the database's clock, so every instance agrees on when a lease ends.
    r#"
    CREATE TABLE consumer_groups (
        dir         TEXT COLLATE "C" NOT NULL,
        grp         TEXT COLLATE "C" NOT NULL,
        acked       BIGINT NOT NULL,
        delivered   BIGINT NOT NULL,
        owner       TEXT COLLATE "C",
        lease_until BIGINT NOT NULL,
        PRIMARY KEY (dir, grp)
    );
    INSERT INTO consumer_groups (dir, grp, acked, delivered, owner, lease_until)
        SELECT dir, 'default', acked, acked, NULL, 0 FROM cursors WHERE acked > 0;
    "#,
];

/// The schema version this library writes.
pub fn current_version() -> i64 {
    MIGRATIONS.len() as i64
}

/// The version of the database `conn` is on (0: none of our tables), refusing a foreign
/// or newer one.
fn check(conn: &Conn, shown: &str) -> Result<i64> {
    let table = conn
        .query_opt("SELECT to_regclass('schema_version')::text", &[])?
        .and_then(|r| r.get::<_, Option<String>>(0));
    if table.is_none() {
        let ours = conn
            .query_opt("SELECT to_regclass('resources')::text", &[])?
            .and_then(|r| r.get::<_, Option<String>>(0));
        return match ours {
            None => Ok(0),
            Some(_) => Err(not_ours(shown)),
        };
    }
    let row = conn.query_opt("SELECT application, version FROM schema_version", &[])?;
    let Some(row) = row else {
        return Err(not_ours(shown));
    };
    let (app, version): (String, i64) = (row.get(0), row.get(1));
    if app != APPLICATION {
        return Err(not_ours(shown));
    }
    if version > current_version() {
        return Err(ScimError::internal(format!(
            "store: {shown}: database schema version {version} is newer than this library ({})",
            current_version()
        )));
    }
    Ok(version)
}

fn not_ours(shown: &str) -> ScimError {
    ScimError::internal(format!(
        "store: {shown}: the database is not a libscim database"
    ))
}

/// Bring the database to the current version in one transaction.
pub fn migrate(conn: &Conn, shown: &str) -> Result<()> {
    conn.batch("BEGIN")?;
    let result = (|| {
        conn.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])?;
        // Checked under the lock: another instance may have migrated meanwhile.
        let from = check(conn, shown)?;
        if from == 0 {
            conn.batch(
                "CREATE TABLE schema_version (application TEXT NOT NULL, version BIGINT NOT NULL)",
            )?;
            conn.execute(
                "INSERT INTO schema_version (application, version) VALUES ($1, 0)",
                &[&APPLICATION],
            )?;
        }
        for (i, step) in MIGRATIONS.iter().enumerate().skip(from as usize) {
            conn.batch(step).map_err(|e| {
                ScimError::internal(format!("store: migration to v{}: {}", i + 1, e.detail))
            })?;
        }
        if from < current_version() {
            conn.execute(
                "UPDATE schema_version SET version = $1",
                &[&current_version()],
            )?;
        }
        Ok(())
    })();
    match result {
        Ok(()) => conn.batch("COMMIT"),
        Err(e) => {
            let _ = conn.batch("ROLLBACK");
            Err(e)
        }
    }
}
