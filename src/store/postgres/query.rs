//! [`ReadTx::range`](crate::store::ReadTx::range) and `count_where` in SQL: every
//! condition and order maps to a `(dir, kind, column, seq)` index, as in SQLite
//! (`store::sqlite::query`), so PostgreSQL reads what it returns.

use super::col;
use super::tx::{i64_of, kind_code, resource_row_at, storable, text_row_at, u64_of, Tx};
use crate::error::Result;
use crate::schema::ResourceKind;
use crate::store::query::{prefix_end, Cond, Key, Position, Range, Run, SortField, SortValue};
use crate::store::{StoredResource, StoredText};
use std::fmt::Write;
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

/// A statement parameter.
enum Param {
    Text(String),
    Int(i64),
}

impl Param {
    fn sql(&self) -> &(dyn ToSql + Sync) {
        match self {
            Param::Text(s) => s,
            Param::Int(n) => n,
        }
    }
}

/// The column holding a sortable field.
fn column(field: SortField) -> &'static str {
    match field {
        SortField::UserName => "user_name",
        SortField::DisplayName => "display_name",
        SortField::ExternalId => "external_id",
        SortField::Created => "created_at",
        SortField::LastModified => "modified_at",
    }
}

fn value_param(v: &Option<SortValue>) -> Option<Param> {
    match v {
        None => None,
        Some(SortValue::Text(s)) => Some(Param::Text(s.clone())),
        Some(SortValue::Time(n)) => Some(Param::Int(*n)),
    }
}

/// `WHERE` terms and their parameters (after `$1` dir and `$2` kind).
struct Clause {
    sql: String,
    params: Vec<Param>,
    /// A probe holds NUL, which no stored text does: nothing matches.
    empty: bool,
}

impl Clause {
    fn new(tx: &Tx, kind: ResourceKind) -> Clause {
        Clause {
            sql: String::from("dir = $1 AND kind = $2"),
            params: vec![Param::Text(tx.dir.to_owned()), Param::Int(kind_code(kind))],
            empty: false,
        }
    }

    /// Append ` AND <sql>`, where each `#` in `sql` stands for the next parameter.
    fn and(&mut self, sql: &str, params: impl IntoIterator<Item = Param>) {
        self.sql.push_str(" AND ");
        let mut params = params.into_iter();
        for part in sql.split_inclusive('#') {
            match part.strip_suffix('#') {
                Some(head) => {
                    self.sql.push_str(head);
                    let p = params.next().unwrap_or(Param::Int(0));
                    if matches!(&p, Param::Text(s) if !storable(s)) {
                        self.empty = true;
                    }
                    self.params.push(p);
                    let _ = write!(self.sql, "${}", self.params.len());
                }
                None => self.sql.push_str(part),
            }
        }
    }

    fn conds(&mut self, conds: &[Cond]) {
        for c in conds {
            match c {
                Cond::Id(id) => self.and("id = #", [Param::Text(id.clone())]),
                Cond::Eq(key, v) => self.key_term(*key, "= #", vec![Param::Text(v.clone())]),
                Cond::StartsWith(key, p) => match prefix_end(p) {
                    Some(end) => self.key_term(
                        *key,
                        ">= # AND {} < #",
                        vec![Param::Text(p.clone()), Param::Text(end)],
                    ),
                    None => self.key_term(*key, ">= #", vec![Param::Text(p.clone())]),
                },
                Cond::Present(key) => self.key_term(*key, "<> ''", Vec::new()),
            }
        }
    }

    /// A comparison on a key: on its column, or, for multi-valued keys, through their
    /// index entries. `{}` in `cmp` repeats the compared expression.
    fn key_term(&mut self, key: Key, cmp: &str, params: Vec<Param>) {
        match key.field() {
            Some(f) => {
                let col = column(f);
                self.and(&format!("{col} {}", cmp.replace("{}", col)), params)
            }
            None => {
                let sql = format!(
                    "seq IN (SELECT seq FROM index_entries WHERE dir = $1 AND kind = $2
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

    fn params(&self) -> Vec<&(dyn ToSql + Sync)> {
        self.params.iter().map(Param::sql).collect()
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
    decode: &dyn Fn(&Row) -> Result<T>,
) -> Result<()> {
    // An offset is stepped over on the order's index alone, to the position before the
    // first wanted row; the rows are then read by a keyset seek.
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
    let w = select(
        tx,
        kind,
        &range,
        "id, data, created, last_modified, version",
    );
    if w.empty {
        return Ok(());
    }
    for row in tx.conn.query(&w.sql, &w.params())? {
        out.push((position(&row, field)?, decode(&row)?));
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
    let w = select(tx, kind, &at, "NULL");
    if w.empty {
        return Ok(None);
    }
    let field = valued(&range.run);
    tx.conn
        .query_opt(&w.sql, &w.params())?
        .map(|row| position(&row, field))
        .transpose()
}

/// A row's position: the insertion sequence in column 0, the sort value in column 1.
fn position(row: &Row, field: Option<SortField>) -> Result<Position> {
    let value = match field {
        None => None,
        Some(SortField::Created | SortField::LastModified) => Some(SortValue::Time(col(row, 1)?)),
        Some(_) => Some(SortValue::Text(col(row, 1)?)),
    };
    Ok(Position {
        value,
        seq: u64_of(col(row, 0)?)?,
    })
}

/// The statement reading `seq`, the sort value and `columns` of the range's rows, in its
/// order, from its position, `limit` from `offset`; with its parameters.
fn select(tx: &Tx, kind: ResourceKind, range: &Range, columns: &str) -> Clause {
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
        let seq = Param::Int(i64_of(p.seq));
        match (field, value_param(&p.value)) {
            (Some(f), Some(v)) => w.and(&format!("({}, seq) {cmp} (#, #)", column(f)), [v, seq]),
            _ => w.and(&format!("seq {cmp} #"), [seq]),
        }
    }
    let order = match field {
        Some(f) => format!("{} {dir}, seq {dir}", column(f)),
        None => format!("seq {dir}"),
    };
    let n = w.params.len();
    w.sql = format!(
        "SELECT seq, {}, {columns} FROM resources WHERE {} ORDER BY {order} LIMIT ${} OFFSET ${}",
        field.map_or("NULL", column),
        w.sql,
        n + 1,
        n + 2
    );
    w.params
        .push(Param::Int(i64::try_from(range.limit).unwrap_or(i64::MAX)));
    w.params.push(Param::Int(i64_of(range.offset)));
    w
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
    if w.empty {
        return Ok(0);
    }
    let sql = format!("SELECT count(*) FROM resources WHERE {}", w.sql);
    u64_of(col(&tx.conn.query_one(&sql, &w.params())?, 0)?)
}
