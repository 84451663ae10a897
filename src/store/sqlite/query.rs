//! [`ReadTx::range`](crate::store::ReadTx::range) and `count_where` in SQL: every
//! condition and order maps to an index of schema v2, so SQLite reads what it returns.

use super::schema::{column, sql_value};
use super::sql_err;
use super::tx::{kind_code, resource_row_at, text_row_at, u64_col, Tx};
use crate::error::Result;
use crate::schema::ResourceKind;
use crate::store::query::{prefix_end, Cond, Key, Position, Range, Run, SortField, SortValue};
use crate::store::{StoredResource, StoredText};
use rusqlite::types::Value as Sql;
use rusqlite::OptionalExtension;
use std::fmt::Write;

/// `WHERE` terms and their parameters (after `?1` dir and `?2` kind).
struct Clause {
    sql: String,
    params: Vec<Sql>,
}

impl Clause {
    fn new(tx: &Tx, kind: ResourceKind) -> Clause {
        Clause {
            sql: String::from("dir = ?1 AND kind = ?2"),
            params: vec![Sql::Text(tx.dir.to_owned()), Sql::Integer(kind_code(kind))],
        }
    }

    /// Append ` AND <sql>`, where each `#` in `sql` stands for the next parameter.
    fn and(&mut self, sql: &str, params: impl IntoIterator<Item = Sql>) {
        self.sql.push_str(" AND ");
        let mut params = params.into_iter();
        for part in sql.split_inclusive('#') {
            match part.strip_suffix('#') {
                Some(head) => {
                    self.sql.push_str(head);
                    self.params.push(params.next().unwrap_or(Sql::Null));
                    let _ = write!(self.sql, "?{}", self.params.len());
                }
                None => self.sql.push_str(part),
            }
        }
    }

    fn conds(&mut self, conds: &[Cond]) {
        for c in conds {
            match c {
                Cond::Id(id) => self.and("id = #", [Sql::Text(id.clone())]),
                Cond::Eq(key, v) => self.key_term(*key, "= #", vec![Sql::Text(v.clone())]),
                Cond::StartsWith(key, p) => match prefix_end(p) {
                    Some(end) => self.key_term(
                        *key,
                        ">= # AND {} < #",
                        vec![Sql::Text(p.clone()), Sql::Text(end)],
                    ),
                    None => self.key_term(*key, ">= #", vec![Sql::Text(p.clone())]),
                },
                Cond::Present(key) => self.key_term(*key, "<> ''", Vec::new()),
            }
        }
    }

    /// A comparison on a key: on its column, or, for multi-valued keys, through their
    /// index entries. `{}` in `cmp` repeats the compared expression.
    fn key_term(&mut self, key: Key, cmp: &str, params: Vec<Sql>) {
        match key.field() {
            Some(f) => {
                let col = column(f);
                self.and(&format!("{col} {}", cmp.replace("{}", col)), params)
            }
            None => {
                let sql = format!(
                    "seq IN (SELECT seq FROM index_entries WHERE dir = ?1 AND kind = ?2
                     AND key = 4 AND value {})",
                    cmp.replace("{}", "value")
                );
                self.and(&sql, params)
            }
        }
    }

    /// Restrict to one run of an order.
    fn run(&mut self, run: &Run) {
        if let Some(f) = run.by {
            let test = if run.present {
                "IS NOT NULL"
            } else {
                "IS NULL"
            };
            self.and(&format!("{} {test}", column(f)), []);
        }
    }
}

/// The sort column of a run holding values (`None` for insertion order and for the run
/// of resources lacking the field).
fn valued(run: &Run) -> Option<SortField> {
    run.by.filter(|_| run.present)
}

pub fn range(
    tx: &Tx,
    kind: ResourceKind,
    range: &Range,
    out: &mut Vec<(Position, StoredResource)>,
) -> Result<()> {
    rows(tx, kind, range, out, &|row| resource_row_at(kind, row, 2))
}

/// [`range`] with the resources as stored text.
pub fn range_text(
    tx: &Tx,
    kind: ResourceKind,
    range: &Range,
    out: &mut Vec<(Position, StoredText)>,
) -> Result<()> {
    rows(tx, kind, range, out, &|row| text_row_at(kind, row, 2))
}

/// The rows of `range`, each decoded by `decode` from the resource columns at 2.
fn rows<T>(
    tx: &Tx,
    kind: ResourceKind,
    range: &Range,
    out: &mut Vec<(Position, T)>,
    decode: &dyn Fn(&rusqlite::Row) -> rusqlite::Result<T>,
) -> Result<()> {
    // An offset is stepped over on the order's index alone (no row is read), to the
    // position before the first wanted row; the rows are then read by a keyset seek.
    let before;
    let range = match range.offset {
        0 => *range,
        n => match position_at(tx, kind, range, n - 1)? {
            Some(pos) => {
                before = pos;
                Range {
                    after: Some(&before),
                    offset: 0,
                    ..*range
                }
            }
            None => return Ok(()),
        },
    };
    let field = valued(&range.run);
    let (sql, params) = select(
        tx,
        kind,
        &range,
        "id, data, created, last_modified, version",
    );
    let mut stmt = tx.conn.prepare_cached(&sql).map_err(sql_err)?;
    let rows = stmt
        .query_map(rusqlite::params_from_iter(params.iter()), |row| {
            Ok((position(row, field)?, decode(row)?))
        })
        .map_err(sql_err)?;
    for row in rows {
        out.push(row.map_err(sql_err)?);
    }
    Ok(())
}

/// The position of the row at `offset` in the range (its own `offset` aside), read from
/// the order's index alone.
fn position_at(
    tx: &Tx,
    kind: ResourceKind,
    range: &Range,
    offset: u64,
) -> Result<Option<Position>> {
    let at = Range {
        offset,
        limit: 1,
        ..*range
    };
    let (sql, params) = select(tx, kind, &at, "NULL");
    let field = valued(&range.run);
    tx.conn
        .prepare_cached(&sql)
        .and_then(|mut s| {
            s.query_row(rusqlite::params_from_iter(params.iter()), |row| {
                position(row, field)
            })
            .optional()
        })
        .map_err(sql_err)
}

/// A row's position: the insertion sequence in column 0, the sort value in column 1.
fn position(row: &rusqlite::Row, field: Option<SortField>) -> rusqlite::Result<Position> {
    let value = match field {
        None => None,
        Some(SortField::Created | SortField::LastModified) => Some(SortValue::Time(row.get(1)?)),
        Some(_) => Some(SortValue::Text(row.get(1)?)),
    };
    Ok(Position {
        value,
        seq: u64_col(row, 0)?,
    })
}

/// The statement reading `seq`, the sort value and `columns` of the range's rows, in its
/// order, from its position, `limit` from `offset`; and its parameters.
fn select(tx: &Tx, kind: ResourceKind, range: &Range, columns: &str) -> (String, Vec<Sql>) {
    let run = &range.run;
    let mut w = Clause::new(tx, kind);
    w.run(run);
    w.conds(range.conds);
    let (cmp, dir) = if run.descending {
        ("<", "DESC")
    } else {
        (">", "ASC")
    };
    let field = valued(run);
    if let Some(p) = range.after {
        let seq = Sql::Integer(super::tx::i64_of(p.seq));
        match field {
            Some(f) => w.and(
                &format!("({}, seq) {cmp} (#, #)", column(f)),
                [sql_value(&p.value), seq],
            ),
            None => w.and(&format!("seq {cmp} #"), [seq]),
        }
    }
    let order = match field {
        Some(f) => format!("{} {dir}, seq {dir}", column(f)),
        None => format!("seq {dir}"),
    };
    let n = w.params.len();
    let sql = format!(
        "SELECT seq, {}, {columns} FROM resources WHERE {} ORDER BY {order} LIMIT ?{} OFFSET ?{}",
        field.map_or("NULL", column),
        w.sql,
        n + 1,
        n + 2
    );
    w.params
        .push(Sql::Integer(i64::try_from(range.limit).unwrap_or(i64::MAX)));
    w.params.push(Sql::Integer(super::tx::i64_of(range.offset)));
    (sql, w.params)
}

pub fn count_where(tx: &Tx, kind: ResourceKind, conds: &[Cond], run: Option<Run>) -> Result<u64> {
    use crate::store::ReadTx;
    if conds.is_empty() && run.is_none_or(|r| r.by.is_none()) {
        return tx.count(kind);
    }
    let mut w = Clause::new(tx, kind);
    if let Some(run) = &run {
        w.run(run);
    }
    w.conds(conds);
    let sql = format!("SELECT count(*) FROM resources WHERE {}", w.sql);
    tx.conn
        .prepare_cached(&sql)
        .and_then(|mut s| {
            s.query_row(rusqlite::params_from_iter(w.params.iter()), |r| {
                u64_col(r, 0)
            })
        })
        .map_err(sql_err)
}
