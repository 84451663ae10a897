//! [`ReadTx`] and [`WriteTx`] over one SQLite connection, bound to one directory.

use super::schema::sort_columns;
use super::sql_err;
use crate::error::{Result, ScimError};
use crate::schema::ResourceKind;
use crate::store::{
    Cond, Event, IndexKey, Member, NewEvent, Position, PreparedEvent, Range, ReadTx, Run,
    StoredResource, StoredText, WriteTx,
};
use rusqlite::{params, Connection, OptionalExtension, Row};
use std::cell::RefCell;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// Rows fetched per query by the streaming visitors.
const BATCH: i64 = 500;

pub fn kind_code(kind: ResourceKind) -> i64 {
    match kind {
        ResourceKind::User => 1,
        ResourceKind::Group => 2,
    }
}

pub fn kind_of(code: i64) -> rusqlite::Result<ResourceKind> {
    match code {
        1 => Ok(ResourceKind::User),
        2 => Ok(ResourceKind::Group),
        n => Err(rusqlite::Error::IntegralValueOutOfRange(0, n)),
    }
}

pub fn key_code(key: IndexKey) -> i64 {
    match key {
        IndexKey::UserName => 1,
        IndexKey::ExternalId => 2,
        IndexKey::DisplayName => 3,
        IndexKey::Email => 4,
    }
}

/// Timestamps are stored as RFC 3339 text with full precision and the original offset.
pub fn time_text(t: OffsetDateTime) -> Result<String> {
    t.format(&Rfc3339)
        .map_err(|e| ScimError::internal(format!("store: timestamp {t}: {e}")))
}

fn conv_err(col: usize, e: impl std::error::Error + Send + Sync + 'static) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(col, rusqlite::types::Type::Text, Box::new(e))
}

pub fn time_col(row: &Row, col: usize) -> rusqlite::Result<OffsetDateTime> {
    let s: String = row.get(col)?;
    OffsetDateTime::parse(&s, &Rfc3339).map_err(|e| conv_err(col, e))
}

pub fn json_col(row: &Row, col: usize) -> rusqlite::Result<serde_json::Value> {
    let s: String = row.get(col)?;
    serde_json::from_str(&s).map_err(|e| conv_err(col, e))
}

pub fn u64_col(row: &Row, col: usize) -> rusqlite::Result<u64> {
    let n: i64 = row.get(col)?;
    u64::try_from(n).map_err(|_| rusqlite::Error::IntegralValueOutOfRange(col, n))
}

/// A u64 as SQLite's signed integer; values beyond `i64::MAX` are clamped (they cannot
/// occur as stored numbers, so a clamped probe finds the same rows).
pub fn i64_of(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

pub fn event_row(row: &Row) -> rusqlite::Result<Event> {
    EventRow::read(row)?.parse()
}

/// An event row (`seq, kind, resource_kind, resource_id, time, data`) as stored, its
/// `data` not parsed yet: [`super::SqliteStore::take_events`] reads the rows inside the
/// writer's transaction and parses them after it, so the writer (which serialises every
/// write) is not held while hundreds of events become JSON trees.
pub struct EventRow {
    seq: u64,
    kind: String,
    resource_kind: ResourceKind,
    resource_id: String,
    time: OffsetDateTime,
    data: String,
}

impl EventRow {
    pub fn read(row: &Row) -> rusqlite::Result<EventRow> {
        Ok(EventRow {
            seq: u64_col(row, 0)?,
            kind: row.get(1)?,
            resource_kind: kind_of(row.get(2)?)?,
            resource_id: row.get(3)?,
            time: time_col(row, 4)?,
            data: row.get(5)?,
        })
    }

    pub fn seq(&self) -> u64 {
        self.seq
    }

    pub fn parse(self) -> rusqlite::Result<Event> {
        Ok(Event {
            seq: self.seq,
            kind: self.kind,
            resource_kind: self.resource_kind,
            resource_id: self.resource_id,
            time: self.time,
            data: serde_json::from_str(&self.data).map_err(|e| conv_err(5, e))?,
        })
    }
}

pub fn resource_row(kind: ResourceKind, row: &Row) -> rusqlite::Result<StoredResource> {
    resource_row_at(kind, row, 0)
}

/// A resource from the columns `id, data, created, last_modified, version` starting at
/// column `at`.
pub fn resource_row_at(
    kind: ResourceKind,
    row: &Row,
    at: usize,
) -> rusqlite::Result<StoredResource> {
    Ok(StoredResource {
        id: row.get(at)?,
        kind,
        data: json_col(row, at + 1)?,
        created: time_col(row, at + 2)?,
        last_modified: time_col(row, at + 3)?,
        version: u64_col(row, at + 4)?,
    })
}

/// [`resource_row_at`] with the JSON and the timestamps left as the text `json_text` and
/// `time_text` stored (a response repeats them as they are).
pub fn text_row_at(kind: ResourceKind, row: &Row, at: usize) -> rusqlite::Result<StoredText> {
    Ok(StoredText {
        id: row.get(at)?,
        kind,
        data: row.get(at + 1)?,
        created: row.get(at + 2)?,
        last_modified: row.get(at + 3)?,
        version: u64_col(row, at + 4)?,
    })
}

pub fn json_text(v: &serde_json::Value) -> Result<String> {
    serde_json::to_string(v).map_err(|e| ScimError::internal(format!("store: json: {e}")))
}

/// One connection bound to one directory.
pub struct Tx<'c> {
    pub conn: &'c Connection,
    pub dir: &'c str,
    /// In a read: the groups of the last user [`ReadTx::get_text`] read, found by the same
    /// statement (a GET of a user renders them next: one statement instead of two).
    /// `None` in a write, whose changes would make it stale.
    groups: Option<UserGroups>,
}

/// A user's id and the ids of its groups, until taken.
type UserGroups = RefCell<Option<(String, Vec<String>)>>;

impl<'c> Tx<'c> {
    /// A read transaction's.
    pub fn read(conn: &'c Connection, dir: &'c str) -> Tx<'c> {
        Tx {
            conn,
            dir,
            groups: Some(RefCell::new(None)),
        }
    }

    /// A write transaction's.
    pub fn write(conn: &'c Connection, dir: &'c str) -> Tx<'c> {
        Tx {
            conn,
            dir,
            groups: None,
        }
    }
}

impl Tx<'_> {
    /// The resource `kind`/`id` of the directory, its row read by `row`.
    fn get_row<T>(
        &self,
        kind: ResourceKind,
        id: &str,
        row: impl FnOnce(&Row) -> rusqlite::Result<T>,
    ) -> Result<Option<T>> {
        self.conn
            .prepare_cached(
                "SELECT id, data, created, last_modified, version FROM resources
                 WHERE dir = ?1 AND kind = ?2 AND id = ?3",
            )
            .and_then(|mut s| {
                s.query_row(params![self.dir, kind_code(kind), id], row)
                    .optional()
            })
            .map_err(sql_err)
    }

    fn seq_of(&self, kind: ResourceKind, id: &str) -> Result<Option<i64>> {
        self.conn
            .prepare_cached("SELECT seq FROM resources WHERE dir = ?1 AND kind = ?2 AND id = ?3")
            .and_then(|mut s| {
                s.query_row(params![self.dir, kind_code(kind), id], |r| r.get(0))
                    .optional()
            })
            .map_err(sql_err)
    }

    fn index_add(&self, seq: i64, r: &StoredResource) -> Result<()> {
        self.each_index_entry(
            "INSERT OR IGNORE INTO index_entries (dir, kind, key, value, seq, id)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            seq,
            r,
        )
    }

    fn index_remove(&self, seq: i64, r: &StoredResource) -> Result<()> {
        self.each_index_entry(
            "DELETE FROM index_entries WHERE dir = ?1 AND kind = ?2 AND key = ?3
             AND value = ?4 AND seq = ?5 AND id = ?6",
            seq,
            r,
        )
    }

    /// Run `sql` once per index entry of `r` (its multi-valued `IndexKey` values; the
    /// single-valued ones are columns of `resources`), bound as
    /// (dir, kind, key, value, seq, id).
    fn each_index_entry(&self, sql: &str, seq: i64, r: &StoredResource) -> Result<()> {
        let mut stmt = self.conn.prepare_cached(sql).map_err(sql_err)?;
        for key in [IndexKey::Email] {
            for v in key.values(r.kind, &r.data) {
                stmt.execute(params![
                    self.dir,
                    kind_code(r.kind),
                    key_code(key),
                    v,
                    seq,
                    r.id
                ])
                .map_err(sql_err)?;
            }
        }
        Ok(())
    }

    /// Append an event whose payload is the JSON text `data`.
    fn append_row(&self, e: &NewEvent, data: &str) -> Result<u64> {
        let seq: i64 = self
            .conn
            .prepare_cached(
                "INSERT INTO cursors (dir, last_event, acked) VALUES (?1, 1, 0)
                 ON CONFLICT (dir) DO UPDATE SET last_event = last_event + 1
                 RETURNING last_event",
            )
            .and_then(|mut s| s.query_row(params![self.dir], |r| r.get(0)))
            .map_err(sql_err)?;
        let time = time_text(e.time)?;
        self.conn
            .prepare_cached(
                "INSERT INTO events (dir, seq, kind, resource_kind, resource_id, time, data)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    self.dir,
                    seq,
                    e.kind,
                    kind_code(e.resource_kind),
                    e.resource_id,
                    time,
                    data,
                ])
            })
            .map_err(sql_err)?;
        Ok(seq as u64)
    }

    fn put(&self, seq: i64, r: &StoredResource) -> Result<()> {
        let data = json_text(&r.data)?;
        let created = time_text(r.created)?;
        let modified = time_text(r.last_modified)?;
        let [user_name, display_name, external_id, created_at, modified_at] = sort_columns(r);
        // `OR FAIL`: a statement that writes several B-trees (the table, its indexes, the
        // count trigger) and may abort on a constraint needs a statement journal, a copy
        // of every page it touches, to undo itself; in a profile of Bulk that copy was
        // 8 % of the time. (The trigger must not abort either: see schema v3.) A failing
        // insert here (it cannot fail on a constraint: the id is new and checked, `seq`
        // is the next one) fails its whole write, which `SqliteStore` rolls back (the
        // transaction or the write's savepoint) with whatever the statement had done.
        self.conn
            .prepare_cached(
                "INSERT OR FAIL INTO resources (dir, kind, id, seq, data, created, last_modified, version,
                   user_name, display_name, external_id, created_at, modified_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    self.dir,
                    kind_code(r.kind),
                    r.id,
                    seq,
                    data,
                    created,
                    modified,
                    i64_of(r.version),
                    user_name,
                    display_name,
                    external_id,
                    created_at,
                    modified_at,
                ])
            })
            .map_err(sql_err)?;
        self.index_add(seq, r)
    }
}

impl ReadTx for Tx<'_> {
    fn get(&self, kind: ResourceKind, id: &str) -> Result<Option<StoredResource>> {
        self.get_row(kind, id, |r| resource_row(kind, r))
    }

    fn get_text(&self, kind: ResourceKind, id: &str) -> Result<Option<StoredText>> {
        let Some(cache) = self.groups.as_ref().filter(|_| kind == ResourceKind::User) else {
            return self.get_row(kind, id, |r| text_row_at(kind, r, 0));
        };
        // The subquery's `ORDER BY` stays: SQLite keeps it under an aggregate other than
        // count/min/max (and the `members_of` index yields that order anyway).
        let found = self
            .conn
            .prepare_cached(
                "SELECT id, data, created, last_modified, version,
                        (SELECT json_group_array(group_id) FROM
                         (SELECT group_id FROM members WHERE dir = ?1 AND member_id = ?3
                          ORDER BY group_id))
                 FROM resources WHERE dir = ?1 AND kind = ?2 AND id = ?3",
            )
            .and_then(|mut s| {
                s.query_row(params![self.dir, kind_code(kind), id], |r| {
                    let groups: String = r.get(5)?;
                    let groups: Vec<String> =
                        serde_json::from_str(&groups).map_err(|e| conv_err(5, e))?;
                    Ok((text_row_at(kind, r, 0)?, groups))
                })
                .optional()
            })
            .map_err(sql_err)?;
        Ok(found.map(|(text, groups)| {
            *cache.borrow_mut() = Some((text.id.clone(), groups));
            text
        }))
    }

    fn lookup(&self, kind: ResourceKind, key: IndexKey, value: &str) -> Result<Vec<String>> {
        let column = match (key, kind) {
            (IndexKey::Email, _) => None,
            (IndexKey::UserName, ResourceKind::User) => Some("user_name"),
            (IndexKey::ExternalId, _) => Some("external_id"),
            (IndexKey::DisplayName, ResourceKind::Group) => Some("display_name"),
            _ => return Ok(Vec::new()),
        };
        if let Some(column) = column {
            let mut stmt = self
                .conn
                .prepare_cached(&format!(
                    "SELECT id FROM resources WHERE dir = ?1 AND kind = ?2 AND {column} = ?3
                     ORDER BY seq"
                ))
                .map_err(sql_err)?;
            let rows = stmt
                .query_map(params![self.dir, kind_code(kind), key.probe(value)], |r| {
                    r.get(0)
                })
                .map_err(sql_err)?;
            return rows
                .collect::<rusqlite::Result<Vec<String>>>()
                .map_err(sql_err);
        }
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT id FROM index_entries WHERE dir = ?1 AND kind = ?2 AND key = ?3
                 AND value = ?4 ORDER BY seq, id",
            )
            .map_err(sql_err)?;
        let rows = stmt
            .query_map(
                params![self.dir, kind_code(kind), key_code(key), key.probe(value)],
                |r| r.get(0),
            )
            .map_err(sql_err)?;
        rows.collect::<rusqlite::Result<Vec<String>>>()
            .map_err(sql_err)
    }

    fn scan(
        &self,
        kind: ResourceKind,
        visit: &mut dyn FnMut(&StoredResource) -> bool,
    ) -> Result<()> {
        let mut after = i64::MIN;
        loop {
            // One page at a time, so neither the table nor a long-lived statement is held
            // while `visit` runs.
            let page: Vec<(i64, StoredResource)> = {
                let mut stmt = self
                    .conn
                    .prepare_cached(
                        "SELECT id, data, created, last_modified, version, seq FROM resources
                         WHERE dir = ?1 AND kind = ?2 AND seq > ?3 ORDER BY seq LIMIT ?4",
                    )
                    .map_err(sql_err)?;
                let rows = stmt
                    .query_map(params![self.dir, kind_code(kind), after, BATCH], |r| {
                        Ok((r.get(5)?, resource_row(kind, r)?))
                    })
                    .map_err(sql_err)?;
                rows.collect::<rusqlite::Result<_>>().map_err(sql_err)?
            };
            let full = page.len() as i64 == BATCH;
            for (seq, r) in &page {
                after = *seq;
                if !visit(r) {
                    return Ok(());
                }
            }
            if !full {
                return Ok(());
            }
        }
    }

    fn count(&self, kind: ResourceKind) -> Result<u64> {
        self.conn
            .prepare_cached("SELECT n FROM counts WHERE dir = ?1 AND kind = ?2")
            .and_then(|mut s| {
                s.query_row(params![self.dir, kind_code(kind)], |r| u64_col(r, 0))
                    .optional()
            })
            .map(Option::unwrap_or_default)
            .map_err(sql_err)
    }

    fn range(
        &self,
        kind: ResourceKind,
        range: &Range,
        out: &mut Vec<(Position, StoredResource)>,
    ) -> Result<()> {
        super::query::range(self, kind, range, out)
    }

    fn range_text(
        &self,
        kind: ResourceKind,
        range: &Range,
        out: &mut Vec<(Position, StoredText)>,
    ) -> Result<()> {
        super::query::range_text(self, kind, range, out)
    }

    fn count_where(&self, kind: ResourceKind, conds: &[Cond], run: Option<Run>) -> Result<u64> {
        super::query::count_where(self, kind, conds, run)
    }

    fn members(&self, group_id: &str, visit: &mut dyn FnMut(Member) -> bool) -> Result<()> {
        let mut after = i64::MIN;
        loop {
            let page: Vec<(i64, Member)> = {
                let mut stmt = self
                    .conn
                    .prepare_cached(
                        "SELECT member_id, kind, display, seq FROM members
                         WHERE dir = ?1 AND group_id = ?2 AND seq > ?3 ORDER BY seq LIMIT ?4",
                    )
                    .map_err(sql_err)?;
                let rows = stmt
                    .query_map(params![self.dir, group_id, after, BATCH], |r| {
                        Ok((
                            r.get(3)?,
                            Member {
                                value: r.get(0)?,
                                kind: kind_of(r.get(1)?)?,
                                display: r.get(2)?,
                            },
                        ))
                    })
                    .map_err(sql_err)?;
                rows.collect::<rusqlite::Result<_>>().map_err(sql_err)?
            };
            let full = page.len() as i64 == BATCH;
            for (seq, m) in page {
                after = seq;
                if !visit(m) {
                    return Ok(());
                }
            }
            if !full {
                return Ok(());
            }
        }
    }

    fn is_member(&self, group_id: &str, member_id: &str) -> Result<bool> {
        self.conn
            .prepare_cached(
                "SELECT 1 FROM members WHERE dir = ?1 AND group_id = ?2 AND member_id = ?3",
            )
            .and_then(|mut s| {
                s.query_row(params![self.dir, group_id, member_id], |_| Ok(()))
                    .optional()
            })
            .map(|o| o.is_some())
            .map_err(sql_err)
    }

    fn has_more_members_than(&self, group_id: &str, limit: usize) -> Result<bool> {
        // Steps over index entries only: reading member rows (a seek each) made a PATCH
        // of a large group cost ~1,000 row reads just to decide on 204.
        self.conn
            .prepare_cached(
                "SELECT 1 FROM members WHERE dir = ?1 AND group_id = ?2 LIMIT 1 OFFSET ?3",
            )
            .and_then(|mut s| {
                s.query_row(
                    params![self.dir, group_id, i64::try_from(limit).unwrap_or(i64::MAX)],
                    |_| Ok(()),
                )
                .optional()
            })
            .map(|o| o.is_some())
            .map_err(sql_err)
    }

    fn groups_of(&self, member_id: &str) -> Result<Vec<String>> {
        // Read with the user by `get_text` (its subquery is this query).
        let cached = (self.groups.as_ref())
            .and_then(|c| c.borrow_mut().take_if(|(id, _)| id.as_str() == member_id));
        if let Some((_, groups)) = cached {
            return Ok(groups);
        }
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT group_id FROM members WHERE dir = ?1 AND member_id = ?2
                 ORDER BY group_id",
            )
            .map_err(sql_err)?;
        let rows = stmt
            .query_map(params![self.dir, member_id], |r| r.get(0))
            .map_err(sql_err)?;
        rows.collect::<rusqlite::Result<Vec<String>>>()
            .map_err(sql_err)
    }
}

impl WriteTx for Tx<'_> {
    fn insert(&mut self, resource: StoredResource) -> Result<()> {
        // The next position and the existence check in one statement (both index seeks).
        let (seq, exists): (i64, bool) = self
            .conn
            .prepare_cached(
                "SELECT COALESCE(MAX(seq), 0) + 1,
                   EXISTS (SELECT 1 FROM resources WHERE dir = ?1 AND kind = ?2 AND id = ?3)
                 FROM resources WHERE dir = ?1 AND kind = ?2",
            )
            .and_then(|mut s| {
                s.query_row(
                    params![self.dir, kind_code(resource.kind), resource.id],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
            })
            .map_err(sql_err)?;
        if exists {
            return Err(ScimError::internal(format!(
                "store: {} {} already exists",
                resource.kind.as_str(),
                resource.id
            )));
        }
        if seq == 1 {
            // The first of its directory and type (or the first after all were
            // deleted): the insert trigger counts into this row, it does not create it.
            self.conn
                .prepare_cached("INSERT OR IGNORE INTO counts (dir, kind, n) VALUES (?1, ?2, 0)")
                .and_then(|mut s| s.execute(params![self.dir, kind_code(resource.kind)]))
                .map_err(sql_err)?;
        }
        self.put(seq, &resource)
    }

    fn update(&mut self, resource: StoredResource) -> Result<()> {
        let missing = || {
            ScimError::internal(format!(
                "store: {} {} does not exist",
                resource.kind.as_str(),
                resource.id
            ))
        };
        let seq = self
            .seq_of(resource.kind, &resource.id)?
            .ok_or_else(missing)?;
        let old = self.get(resource.kind, &resource.id)?.ok_or_else(missing)?;
        self.index_remove(seq, &old)?;
        self.conn
            .prepare_cached("DELETE FROM resources WHERE dir = ?1 AND kind = ?2 AND id = ?3")
            .and_then(|mut s| s.execute(params![self.dir, kind_code(old.kind), old.id]))
            .map_err(sql_err)?;
        self.put(seq, &resource)
    }

    fn delete(&mut self, kind: ResourceKind, id: &str) -> Result<bool> {
        let Some(seq) = self.seq_of(kind, id)? else {
            return Ok(false);
        };
        if let Some(old) = self.get(kind, id)? {
            self.index_remove(seq, &old)?;
        }
        self.conn
            .prepare_cached("DELETE FROM resources WHERE dir = ?1 AND kind = ?2 AND id = ?3")
            .and_then(|mut s| s.execute(params![self.dir, kind_code(kind), id]))
            .map_err(sql_err)?;
        if kind == ResourceKind::Group {
            self.clear_members(id)?;
        }
        self.conn
            .prepare_cached("DELETE FROM members WHERE dir = ?1 AND member_id = ?2")
            .and_then(|mut s| s.execute(params![self.dir, id]))
            .map_err(sql_err)?;
        Ok(true)
    }

    fn add_member(&mut self, group_id: &str, member: Member) -> Result<bool> {
        if self.is_member(group_id, &member.value)? {
            return Ok(false);
        }
        self.conn
            .prepare_cached(
                "INSERT INTO members (dir, group_id, member_id, kind, display, seq)
                 VALUES (?1, ?2, ?3, ?4, ?5,
                   (SELECT COALESCE(MAX(seq), 0) + 1 FROM members
                    WHERE dir = ?1 AND group_id = ?2))",
            )
            .and_then(|mut s| {
                s.execute(params![
                    self.dir,
                    group_id,
                    member.value,
                    kind_code(member.kind),
                    member.display
                ])
            })
            .map_err(sql_err)?;
        Ok(true)
    }

    fn remove_member(&mut self, group_id: &str, member_id: &str) -> Result<bool> {
        self.conn
            .prepare_cached(
                "DELETE FROM members WHERE dir = ?1 AND group_id = ?2 AND member_id = ?3",
            )
            .and_then(|mut s| s.execute(params![self.dir, group_id, member_id]))
            .map(|n| n > 0)
            .map_err(sql_err)
    }

    fn clear_members(&mut self, group_id: &str) -> Result<u64> {
        self.conn
            .prepare_cached("DELETE FROM members WHERE dir = ?1 AND group_id = ?2")
            .and_then(|mut s| s.execute(params![self.dir, group_id]))
            .map(|n| n as u64)
            .map_err(sql_err)
    }

    fn append_event(&mut self, e: NewEvent) -> Result<u64> {
        let data = json_text(&e.data)?;
        self.append_row(&e, &data)
    }

    fn append_prepared(&mut self, e: &PreparedEvent) -> Result<u64> {
        self.append_row(&e.event, &e.data_json)
    }

    fn savepoint(&mut self, f: &mut dyn FnMut(&mut dyn WriteTx) -> Result<()>) -> Result<()> {
        // Inside the writer's transaction (and its per-write savepoint `w`), so the
        // outcome is undone with them when they roll back. A panic in `f` leaves `op`
        // open; the writer's `ROLLBACK TO w` then discards it too.
        run(self.conn, "SAVEPOINT op")?;
        let result = f(self);
        if result.is_err() {
            run(self.conn, "ROLLBACK TO op")?;
        }
        run(self.conn, "RELEASE op")?;
        result
    }
}

/// Run one cached statement that returns no rows (transaction control).
pub fn run(conn: &Connection, sql: &str) -> Result<()> {
    conn.prepare_cached(sql)
        .and_then(|mut s| s.execute([]))
        .map(drop)
        .map_err(sql_err)
}
