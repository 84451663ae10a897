//! [`ReadTx::range`](crate::store::ReadTx::range) and `count_where` in SQL: every
//! condition and order maps to an index of schema v2, so SQLite reads what it returns.

use super::schema::{column, sql_value};
use super::sql_err;
use super::tx::{kind_code, resource_row_at, text_row_at, u64_col, Tx};
use crate::error::Result;
use crate::schema::ResourceKind;
use crate::store::query::{prefix_end, Cond, Key, Position, Range, Run, SortField, SortValue};
use crate::store::{StoredResource, StoredText};
use rusqlite::types::{ToSqlOutput, Value as Sql, ValueRef};
use rusqlite::OptionalExtension;
use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt::Write;
use std::rc::Rc;

/// `WHERE` terms and their parameters (after `?1` dir and `?2` kind). The text is written
/// only when the statement's shape is not in [`SHAPES`] yet (`sql` is `None` otherwise):
/// the same calls then collect the parameters alone, in the same order.
struct Clause<'a> {
    sql: Option<String>,
    params: Vec<ToSqlOutput<'a>>,
}

/// A text parameter borrowed from the request.
fn text(s: &str) -> ToSqlOutput<'_> {
    ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes()))
}

impl<'a> Clause<'a> {
    fn new(tx: &Tx<'a>, kind: ResourceKind, write: bool) -> Clause<'a> {
        Clause {
            sql: write.then(|| String::from("dir = ?1 AND kind = ?2")),
            params: vec![text(tx.dir), ToSqlOutput::from(kind_code(kind))],
        }
    }

    /// Append ` AND <sql>`, where each `#` in `sql` stands for the next parameter.
    fn and(&mut self, sql: &str, params: impl IntoIterator<Item = ToSqlOutput<'a>>) {
        let Some(out) = &mut self.sql else {
            self.params.extend(params);
            return;
        };
        out.push_str(" AND ");
        let mut params = params.into_iter();
        for part in sql.split_inclusive('#') {
            match part.strip_suffix('#') {
                Some(head) => {
                    out.push_str(head);
                    self.params
                        .push(params.next().unwrap_or(ToSqlOutput::Owned(Sql::Null)));
                    let _ = write!(out, "?{}", self.params.len());
                }
                None => out.push_str(part),
            }
        }
    }

    fn conds(&mut self, conds: &'a [Cond]) {
        for c in conds {
            match c {
                Cond::Id(id) => self.and("id = #", [text(id)]),
                Cond::Eq(key, v) => self.key_term(*key, "= #", [text(v)]),
                Cond::StartsWith(key, p) => match prefix_end(p) {
                    Some(end) => self.key_term(
                        *key,
                        ">= # AND {} < #",
                        [text(p), ToSqlOutput::Owned(Sql::Text(end))],
                    ),
                    None => self.key_term(*key, ">= #", [text(p)]),
                },
                Cond::Present(key) => self.key_term(*key, "<> ''", []),
            }
        }
    }

    /// A comparison on a key: on its column, or, for multi-valued keys, through their
    /// index entries. `{}` in `cmp` repeats the compared expression.
    fn key_term<const N: usize>(&mut self, key: Key, cmp: &str, params: [ToSqlOutput<'a>; N]) {
        if self.sql.is_none() {
            return self.and("", params);
        }
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

    /// `sql()` when the text is being written, else nothing (the text is known).
    fn text(&self, sql: impl FnOnce() -> String) -> String {
        match self.sql {
            Some(_) => sql(),
            None => String::new(),
        }
    }

    /// Restrict to one run of an order.
    fn run(&mut self, run: &Run) {
        if let (Some(f), Some(_)) = (run.by, &self.sql) {
            let test = if run.present {
                "IS NOT NULL"
            } else {
                "IS NULL"
            };
            self.and(&format!("{} {test}", column(f)), []);
        }
    }
}

/// What a statement's text depends on (everything else is a parameter): the statement
/// (`select`: bit 0 the resource columns, bit 1 an offset; 4: `count_where`), the run,
/// whether it starts after a position, and each condition's variant and key. A few
/// bytes, so finding a statement's text costs a small hash instead of writing it.
fn shape(statement: u8, run: Option<&Run>, after: bool, conds: &[Cond]) -> Vec<u8> {
    let field = |f: Option<SortField>| f.map_or(0, |f| 1 + f as u8);
    let mut key = Vec::with_capacity(5 + conds.len());
    key.push(statement);
    match run {
        Some(r) => key.extend([field(r.by), u8::from(r.present), u8::from(r.descending)]),
        None => key.push(u8::MAX),
    }
    key.push(u8::from(after));
    for c in conds {
        key.push(match c {
            Cond::Id(_) => 0,
            Cond::Eq(k, _) => 1 + *k as u8,
            Cond::StartsWith(k, p) if prefix_end(p).is_some() => 16 + *k as u8,
            Cond::StartsWith(k, _) => 32 + *k as u8,
            Cond::Present(k) => 48 + *k as u8,
        });
    }
    key
}

/// How many statement texts [`SHAPES`] keeps before it starts over (each `and` of
/// conditions is a shape of its own, so a client could make any number).
const MAX_SHAPES: usize = 128;

thread_local! {
    /// Statement texts this thread has written, by [`shape`]: the same text for the same
    /// shape, which the connection's statement cache needs to find its prepared statement.
    static SHAPES: RefCell<HashMap<Vec<u8>, Rc<str>>> = RefCell::new(HashMap::new());
}

/// The text of the statement of `key`, if this thread has written it.
fn known(key: &[u8]) -> Option<Rc<str>> {
    SHAPES.with(|s| s.borrow().get(key).cloned())
}

/// Remember the text of the statement of `key`.
fn learn(key: Vec<u8>, sql: String) -> Rc<str> {
    let sql: Rc<str> = sql.into();
    SHAPES.with(|s| {
        let mut s = s.borrow_mut();
        if s.len() >= MAX_SHAPES {
            s.clear();
        }
        s.insert(key, sql.clone());
    });
    sql
}

/// The resource columns [`rows`] reads after `seq` and the sort value.
const ROW_COLUMNS: &str = "id, data, created, last_modified, version";
/// [`position_at`] reads no resource column.
const NO_COLUMNS: &str = "NULL";

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
    let (sql, params) = select(tx, kind, &range, ROW_COLUMNS);
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
    let (sql, params) = select(tx, kind, &at, NO_COLUMNS);
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
/// order, from its position, `limit` from `offset`; and its parameters. `columns` is one
/// of [`ROW_COLUMNS`] and [`NO_COLUMNS`].
fn select<'a>(
    tx: &Tx<'a>,
    kind: ResourceKind,
    range: &Range<'a>,
    columns: &'static str,
) -> (Rc<str>, Vec<ToSqlOutput<'a>>) {
    let run = &range.run;
    // An offset is rare (a position is stepped to by one): only then is it a parameter.
    let offset = range.offset > 0;
    let key = shape(
        u8::from(columns == ROW_COLUMNS) | u8::from(offset) << 1,
        Some(run),
        range.after.is_some(),
        range.conds,
    );
    let cached = known(&key);
    let mut w = Clause::new(tx, kind, cached.is_none());
    w.run(run);
    w.conds(range.conds);
    let (cmp, dir) = if run.descending {
        ("<", "DESC")
    } else {
        (">", "ASC")
    };
    let field = valued(run);
    if let Some(p) = range.after {
        let seq = ToSqlOutput::from(super::tx::i64_of(p.seq));
        match field {
            Some(f) => {
                let sql = w.text(|| format!("({}, seq) {cmp} (#, #)", column(f)));
                w.and(&sql, [ToSqlOutput::Owned(sql_value(&p.value)), seq])
            }
            None => w.and(&w.text(|| format!("seq {cmp} #")), [seq]),
        }
    }
    let n = w.params.len();
    w.params.push(ToSqlOutput::from(
        i64::try_from(range.limit).unwrap_or(i64::MAX),
    ));
    if offset {
        w.params
            .push(ToSqlOutput::from(super::tx::i64_of(range.offset)));
    }
    let sql = match cached {
        Some(sql) => sql,
        None => {
            let order = match field {
                Some(f) => format!("{} {dir}, seq {dir}", column(f)),
                None => format!("seq {dir}"),
            };
            learn(
                key,
                format!(
                    "SELECT seq, {}, {columns} FROM resources WHERE {} ORDER BY {order} \
                     LIMIT ?{}{}",
                    field.map_or("NULL", column),
                    w.sql.unwrap_or_default(),
                    n + 1,
                    if offset {
                        format!(" OFFSET ?{}", n + 2)
                    } else {
                        String::new()
                    }
                ),
            )
        }
    };
    (sql, w.params)
}

pub fn count_where(tx: &Tx, kind: ResourceKind, conds: &[Cond], run: Option<Run>) -> Result<u64> {
    use crate::store::ReadTx;
    if conds.is_empty() && run.is_none_or(|r| r.by.is_none()) {
        return tx.count(kind);
    }
    let key = shape(4, run.as_ref(), false, conds);
    let cached = known(&key);
    let mut w = Clause::new(tx, kind, cached.is_none());
    if let Some(run) = &run {
        w.run(run);
    }
    w.conds(conds);
    let sql = match cached {
        Some(sql) => sql,
        None => learn(
            key,
            format!(
                "SELECT count(*) FROM resources WHERE {}",
                w.sql.unwrap_or_default()
            ),
        ),
    };
    tx.conn
        .prepare_cached(&sql)
        .and_then(|mut s| {
            s.query_row(rusqlite::params_from_iter(w.params.iter()), |r| {
                u64_col(r, 0)
            })
        })
        .map_err(sql_err)
}
