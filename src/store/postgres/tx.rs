//! [`ReadTx`] and [`WriteTx`] over one PostgreSQL connection, bound to one directory.

use super::{col, Conn};
use crate::error::{Result, ScimError};
use crate::schema::ResourceKind;
use crate::store::query::{SortField, SortValue};
use crate::store::{
    Cond, Event, IndexKey, Member, NewEvent, Position, Range, ReadTx, Run, StoredResource,
    StoredText, WriteTx,
};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use tokio_postgres::Row;

/// Rows fetched per query by the streaming visitors.
const BATCH: i64 = 500;

/// Multi-valued keys in `index_entries` (the code SQLite uses too).
const EMAIL_KEY: i64 = 4;

pub fn kind_code(kind: ResourceKind) -> i64 {
    match kind {
        ResourceKind::User => 1,
        ResourceKind::Group => 2,
    }
}

pub fn kind_of(code: i64) -> Result<ResourceKind> {
    match code {
        1 => Ok(ResourceKind::User),
        2 => Ok(ResourceKind::Group),
        n => Err(ScimError::internal(format!(
            "store: unknown resource kind {n}"
        ))),
    }
}

/// Timestamps are stored as RFC 3339 text with full precision and the original offset
/// (as in SQLite); the sortable columns hold nanoseconds.
pub fn time_text(t: OffsetDateTime) -> Result<String> {
    t.format(&Rfc3339)
        .map_err(|e| ScimError::internal(format!("store: timestamp {t}: {e}")))
}

pub fn time_of(s: &str) -> Result<OffsetDateTime> {
    OffsetDateTime::parse(s, &Rfc3339)
        .map_err(|e| ScimError::internal(format!("store: timestamp {s:?}: {e}")))
}

/// JSON is stored as text, not `jsonb`: `jsonb` does not keep the order of keys.
pub fn json_text(v: &serde_json::Value) -> Result<String> {
    serde_json::to_string(v).map_err(|e| ScimError::internal(format!("store: json: {e}")))
}

pub fn parse_json(s: &str) -> Result<serde_json::Value> {
    serde_json::from_str(s).map_err(|e| ScimError::internal(format!("store: json: {e}")))
}

/// Whether PostgreSQL text can hold `s` (it cannot hold NUL). A probe that cannot be
/// stored matches nothing: no stored value holds NUL.
pub fn storable(s: &str) -> bool {
    !s.contains('\0')
}

pub fn u64_of(n: i64) -> Result<u64> {
    u64::try_from(n).map_err(|_| ScimError::internal(format!("store: negative number {n}")))
}

/// A u64 as PostgreSQL's `bigint`; values beyond `i64::MAX` are clamped (they cannot
/// occur as stored numbers, so a clamped probe finds the same rows).
pub fn i64_of(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

pub fn event_row(row: &Row) -> Result<Event> {
    Ok(Event {
        seq: u64_of(col(row, 0)?)?,
        kind: col(row, 1)?,
        resource_kind: kind_of(col(row, 2)?)?,
        resource_id: col(row, 3)?,
        time: time_of(&col::<String>(row, 4)?)?,
        data: parse_json(&col::<String>(row, 5)?)?,
    })
}

/// A resource from the columns `id, data, created, last_modified, version` starting at
/// column `at`.
pub fn resource_row_at(kind: ResourceKind, row: &Row, at: usize) -> Result<StoredResource> {
    Ok(StoredResource {
        id: col(row, at)?,
        kind,
        data: parse_json(&col::<String>(row, at + 1)?)?,
        created: time_of(&col::<String>(row, at + 2)?)?,
        last_modified: time_of(&col::<String>(row, at + 3)?)?,
        version: u64_of(col(row, at + 4)?)?,
    })
}

/// [`resource_row_at`] with the JSON and the timestamps left as the text `json_text` and
/// `time_text` stored (a response repeats them as they are).
pub fn text_row_at(kind: ResourceKind, row: &Row, at: usize) -> Result<StoredText> {
    Ok(StoredText {
        id: col(row, at)?,
        kind,
        data: col(row, at + 1)?,
        created: col(row, at + 2)?,
        last_modified: col(row, at + 3)?,
        version: u64_of(col(row, at + 4)?)?,
    })
}

/// The sortable columns of a resource: `user_name, display_name, external_id` (text)
/// and `created_at, modified_at` (nanoseconds), NULL when it lacks the field.
pub fn sort_columns(r: &StoredResource) -> ([Option<String>; 3], [Option<i64>; 2]) {
    let text = |f: SortField| match f.value_of(r) {
        Some(SortValue::Text(s)) => Some(s),
        _ => None,
    };
    let time = |f: SortField| match f.value_of(r) {
        Some(SortValue::Time(n)) => Some(n),
        _ => None,
    };
    (
        [
            text(SortField::UserName),
            text(SortField::DisplayName),
            text(SortField::ExternalId),
        ],
        [time(SortField::Created), time(SortField::LastModified)],
    )
}

/// One connection bound to one directory.
pub struct Tx<'c> {
    pub conn: &'c Conn,
    pub dir: &'c str,
}

const RESOURCE_COLUMNS: &str = "id, data, created, last_modified, version";

impl Tx<'_> {
    /// The row of resource `kind`/`id` of the directory ([`RESOURCE_COLUMNS`]).
    fn get_row(&self, kind: ResourceKind, id: &str) -> Result<Option<Row>> {
        if !storable(id) {
            return Ok(None);
        }
        self.conn.query_opt(
            &format!(
                "SELECT {RESOURCE_COLUMNS} FROM resources
                 WHERE dir = $1 AND kind = $2 AND id = $3"
            ),
            &[&self.dir, &kind_code(kind), &id],
        )
    }

    fn seq_of(&self, kind: ResourceKind, id: &str) -> Result<Option<i64>> {
        if !storable(id) {
            return Ok(None);
        }
        self.conn
            .query_opt(
                "SELECT seq FROM resources WHERE dir = $1 AND kind = $2 AND id = $3",
                &[&self.dir, &kind_code(kind), &id],
            )?
            .map(|r| col(&r, 0))
            .transpose()
    }

    fn emails_add(&self, seq: i64, r: &StoredResource) -> Result<()> {
        for v in IndexKey::Email.values(r.kind, &r.data) {
            self.conn.execute(
                "INSERT INTO index_entries (dir, kind, key, value, seq, id)
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
                &[&self.dir, &kind_code(r.kind), &EMAIL_KEY, &v, &seq, &r.id],
            )?;
        }
        Ok(())
    }

    fn emails_remove(&self, kind: ResourceKind, seq: i64) -> Result<()> {
        self.conn
            .execute(
                "DELETE FROM index_entries WHERE dir = $1 AND kind = $2 AND key = $3
                 AND seq = $4",
                &[&self.dir, &kind_code(kind), &EMAIL_KEY, &seq],
            )
            .map(drop)
    }

    fn write_row(&self, insert: bool, seq: i64, r: &StoredResource) -> Result<()> {
        let data = json_text(&r.data)?;
        let created = time_text(r.created)?;
        let modified = time_text(r.last_modified)?;
        let ([user_name, display_name, external_id], [created_at, modified_at]) = sort_columns(r);
        let sql = if insert {
            "INSERT INTO resources (dir, kind, id, seq, data, created, last_modified, version,
               user_name, display_name, external_id, created_at, modified_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
        } else {
            "UPDATE resources SET data = $5, created = $6, last_modified = $7, version = $8,
               user_name = $9, display_name = $10, external_id = $11, created_at = $12,
               modified_at = $13
             WHERE dir = $1 AND kind = $2 AND id = $3 AND seq = $4"
        };
        self.conn.execute(
            sql,
            &[
                &self.dir,
                &kind_code(r.kind),
                &r.id,
                &seq,
                &data,
                &created,
                &modified,
                &i64_of(r.version),
                &user_name,
                &display_name,
                &external_id,
                &created_at,
                &modified_at,
            ],
        )?;
        self.emails_add(seq, r)
    }
}

fn strings(rows: Vec<Row>) -> Result<Vec<String>> {
    rows.iter().map(|r| col(r, 0)).collect()
}

impl ReadTx for Tx<'_> {
    fn get(&self, kind: ResourceKind, id: &str) -> Result<Option<StoredResource>> {
        self.get_row(kind, id)?
            .map(|r| resource_row_at(kind, &r, 0))
            .transpose()
    }

    fn get_text(&self, kind: ResourceKind, id: &str) -> Result<Option<StoredText>> {
        self.get_row(kind, id)?
            .map(|r| text_row_at(kind, &r, 0))
            .transpose()
    }

    fn lookup(&self, kind: ResourceKind, key: IndexKey, value: &str) -> Result<Vec<String>> {
        let column = match (key, kind) {
            (IndexKey::Email, _) => None,
            (IndexKey::UserName, ResourceKind::User) => Some("user_name"),
            (IndexKey::ExternalId, _) => Some("external_id"),
            (IndexKey::DisplayName, ResourceKind::Group) => Some("display_name"),
            _ => return Ok(Vec::new()),
        };
        let probe = key.probe(value);
        if !storable(&probe) {
            return Ok(Vec::new());
        }
        let rows = match column {
            Some(column) => self.conn.query(
                &format!(
                    "SELECT id FROM resources WHERE dir = $1 AND kind = $2 AND {column} = $3
                     ORDER BY seq"
                ),
                &[&self.dir, &kind_code(kind), &probe],
            )?,
            None => self.conn.query(
                "SELECT id FROM index_entries WHERE dir = $1 AND kind = $2 AND key = $3
                 AND value = $4 ORDER BY seq, id",
                &[&self.dir, &kind_code(kind), &EMAIL_KEY, &probe],
            )?,
        };
        strings(rows)
    }

    fn scan(
        &self,
        kind: ResourceKind,
        visit: &mut dyn FnMut(&StoredResource) -> bool,
    ) -> Result<()> {
        let mut after = i64::MIN;
        loop {
            // One page at a time: the table is never loaded whole.
            let rows = self.conn.query(
                &format!(
                    "SELECT {RESOURCE_COLUMNS}, seq FROM resources
                     WHERE dir = $1 AND kind = $2 AND seq > $3 ORDER BY seq LIMIT $4"
                ),
                &[&self.dir, &kind_code(kind), &after, &BATCH],
            )?;
            let full = rows.len() as i64 == BATCH;
            for row in &rows {
                after = col(row, 5)?;
                if !visit(&resource_row_at(kind, row, 0)?) {
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
            .query_opt(
                "SELECT n FROM counts WHERE dir = $1 AND kind = $2",
                &[&self.dir, &kind_code(kind)],
            )?
            .map_or(Ok(0), |r| u64_of(col(&r, 0)?))
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
        if !storable(group_id) {
            return Ok(());
        }
        let mut after = i64::MIN;
        loop {
            let rows = self.conn.query(
                "SELECT member_id, kind, display, seq FROM members
                 WHERE dir = $1 AND group_id = $2 AND seq > $3 ORDER BY seq LIMIT $4",
                &[&self.dir, &group_id, &after, &BATCH],
            )?;
            let full = rows.len() as i64 == BATCH;
            for row in &rows {
                after = col(row, 3)?;
                let m = Member {
                    value: col(row, 0)?,
                    kind: kind_of(col(row, 1)?)?,
                    display: col(row, 2)?,
                };
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
        if !storable(member_id) || !storable(group_id) {
            return Ok(false);
        }
        Ok(self
            .conn
            .query_opt(
                "SELECT 1 FROM members WHERE dir = $1 AND group_id = $2 AND member_id = $3",
                &[&self.dir, &group_id, &member_id],
            )?
            .is_some())
    }

    fn has_more_members_than(&self, group_id: &str, limit: usize) -> Result<bool> {
        if !storable(group_id) {
            return Ok(false);
        }
        Ok(self
            .conn
            .query_opt(
                "SELECT 1 FROM members WHERE dir = $1 AND group_id = $2 LIMIT 1 OFFSET $3",
                &[&self.dir, &group_id, &i64_of(limit as u64)],
            )?
            .is_some())
    }

    fn groups_of(&self, member_id: &str) -> Result<Vec<String>> {
        if !storable(member_id) {
            return Ok(Vec::new());
        }
        strings(self.conn.query(
            "SELECT group_id FROM members WHERE dir = $1 AND member_id = $2 ORDER BY group_id",
            &[&self.dir, &member_id],
        )?)
    }
}

impl WriteTx for Tx<'_> {
    fn insert(&mut self, resource: StoredResource) -> Result<()> {
        let kind = kind_code(resource.kind);
        let row = self.conn.query_one(
            "SELECT COALESCE(MAX(seq), 0) + 1,
               EXISTS (SELECT 1 FROM resources WHERE dir = $1 AND kind = $2 AND id = $3)
             FROM resources WHERE dir = $1 AND kind = $2",
            &[&self.dir, &kind, &resource.id],
        )?;
        let (seq, exists): (i64, bool) = (col(&row, 0)?, col(&row, 1)?);
        if exists {
            return Err(ScimError::internal(format!(
                "store: {} {} already exists",
                resource.kind.as_str(),
                resource.id
            )));
        }
        self.write_row(true, seq, &resource)?;
        self.conn.execute(
            "INSERT INTO counts (dir, kind, n) VALUES ($1, $2, 1)
             ON CONFLICT (dir, kind) DO UPDATE SET n = counts.n + 1",
            &[&self.dir, &kind],
        )?;
        Ok(())
    }

    fn update(&mut self, resource: StoredResource) -> Result<()> {
        let seq = self.seq_of(resource.kind, &resource.id)?.ok_or_else(|| {
            ScimError::internal(format!(
                "store: {} {} does not exist",
                resource.kind.as_str(),
                resource.id
            ))
        })?;
        self.emails_remove(resource.kind, seq)?;
        self.write_row(false, seq, &resource)
    }

    fn delete(&mut self, kind: ResourceKind, id: &str) -> Result<bool> {
        let Some(seq) = self.seq_of(kind, id)? else {
            return Ok(false);
        };
        self.emails_remove(kind, seq)?;
        self.conn.execute(
            "DELETE FROM resources WHERE dir = $1 AND kind = $2 AND id = $3",
            &[&self.dir, &kind_code(kind), &id],
        )?;
        self.conn.execute(
            "UPDATE counts SET n = n - 1 WHERE dir = $1 AND kind = $2",
            &[&self.dir, &kind_code(kind)],
        )?;
        if kind == ResourceKind::Group {
            self.clear_members(id)?;
        }
        self.conn.execute(
            "DELETE FROM members WHERE dir = $1 AND member_id = $2",
            &[&self.dir, &id],
        )?;
        Ok(true)
    }

    fn add_member(&mut self, group_id: &str, member: Member) -> Result<bool> {
        if self.is_member(group_id, &member.value)? {
            return Ok(false);
        }
        self.conn.execute(
            "INSERT INTO members (dir, group_id, member_id, kind, display, seq)
             VALUES ($1, $2, $3, $4, $5,
               (SELECT COALESCE(MAX(seq), 0) + 1 FROM members
                WHERE dir = $1 AND group_id = $2))",
            &[
                &self.dir,
                &group_id,
                &member.value,
                &kind_code(member.kind),
                &member.display,
            ],
        )?;
        Ok(true)
    }

    fn remove_member(&mut self, group_id: &str, member_id: &str) -> Result<bool> {
        if !storable(member_id) || !storable(group_id) {
            return Ok(false);
        }
        Ok(self.conn.execute(
            "DELETE FROM members WHERE dir = $1 AND group_id = $2 AND member_id = $3",
            &[&self.dir, &group_id, &member_id],
        )? > 0)
    }

    fn clear_members(&mut self, group_id: &str) -> Result<u64> {
        if !storable(group_id) {
            return Ok(0);
        }
        self.conn.execute(
            "DELETE FROM members WHERE dir = $1 AND group_id = $2",
            &[&self.dir, &group_id],
        )
    }

    fn append_event(&mut self, e: NewEvent) -> Result<u64> {
        let row = self.conn.query_one(
            "INSERT INTO cursors (dir, last_event, acked) VALUES ($1, 1, 0)
             ON CONFLICT (dir) DO UPDATE SET last_event = cursors.last_event + 1
             RETURNING last_event",
            &[&self.dir],
        )?;
        let seq: i64 = col(&row, 0)?;
        self.conn.announce(super::EVENTS_CHANNEL, self.dir);
        let time = time_text(e.time)?;
        let data = json_text(&e.data)?;
        self.conn.execute(
            "INSERT INTO events (dir, seq, kind, resource_kind, resource_id, time, data)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            &[
                &self.dir,
                &seq,
                &e.kind,
                &kind_code(e.resource_kind),
                &e.resource_id,
                &time,
                &data,
            ],
        )?;
        u64_of(seq)
    }

    fn savepoint(&mut self, f: &mut dyn FnMut(&mut dyn WriteTx) -> Result<()>) -> Result<()> {
        // A failed statement aborts a PostgreSQL transaction until the savepoint before it
        // is rolled back to: `ROLLBACK TO` restores it whatever `f` did.
        self.conn.batch("SAVEPOINT op")?;
        let result = f(self);
        if result.is_err() {
            self.conn.batch("ROLLBACK TO SAVEPOINT op")?;
        }
        self.conn.batch("RELEASE SAVEPOINT op")?;
        result
    }
}
