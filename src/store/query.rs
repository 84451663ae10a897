//! Listing pushed into the store: conditions answered from indexes, orders kept by
//! indexes, and keyset positions, so a page costs the page and a count costs no resource.
//!
//! A backend implements two primitives on [`ReadTx`]: [`ReadTx::range`] (one ordered run
//! of resources from a position or an offset) and [`ReadTx::count_where`]. The walk over
//! whole orders — resources lacking the sort attribute come after those that have it, in
//! either direction — lives here, once, in [`walk`].

use super::{ReadTx, StoredResource, StoredText};
use crate::error::Result;
use crate::schema::ResourceKind;
use serde_json::Value;

/// How indexed text is normalized: case-insensitive attributes are stored and probed
/// lowercased.
pub fn fold(s: &str) -> String {
    s.to_lowercase()
}

/// An attribute a store keeps an ordered index on (per directory and resource type).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SortField {
    /// `userName` (users), case-insensitive.
    UserName,
    /// `displayName` (users and groups), case-insensitive.
    DisplayName,
    /// `externalId`, case-exact.
    ExternalId,
    /// `meta.created`.
    Created,
    /// `meta.lastModified`.
    LastModified,
}

impl SortField {
    pub const ALL: [SortField; 5] = [
        SortField::UserName,
        SortField::DisplayName,
        SortField::ExternalId,
        SortField::Created,
        SortField::LastModified,
    ];

    /// The value a resource has for this field, as the index holds it; `None` when the
    /// resource lacks it (an absent or non-string value).
    pub fn value_of(self, r: &StoredResource) -> Option<SortValue> {
        let text = |name: &str, folded: bool| match r.data.get(name) {
            Some(Value::String(s)) => {
                Some(SortValue::Text(if folded { fold(s) } else { s.clone() }))
            }
            _ => None,
        };
        match self {
            SortField::UserName if r.kind == ResourceKind::User => text("userName", true),
            SortField::UserName => None,
            SortField::DisplayName => text("displayName", true),
            SortField::ExternalId => text("externalId", false),
            SortField::Created => Some(SortValue::Time(nanos(r.created))),
            SortField::LastModified => Some(SortValue::Time(nanos(r.last_modified))),
        }
    }

    /// Whether the field is case-exact (its values are not folded).
    pub fn case_exact(self) -> bool {
        matches!(self, SortField::ExternalId)
    }
}

/// A timestamp as the index orders it: nanoseconds since the Unix epoch (saturating).
pub fn nanos(t: time::OffsetDateTime) -> i64 {
    i64::try_from(t.unix_timestamp_nanos()).unwrap_or(if t.unix_timestamp() < 0 {
        i64::MIN
    } else {
        i64::MAX
    })
}

/// An indexed value.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SortValue {
    Text(String),
    Time(i64),
}

/// Where a resource sits in an order: its value of the sort field (`None` when it lacks
/// it, or when the order is insertion order) and its insertion sequence, unique within a
/// directory and resource type.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Position {
    pub value: Option<SortValue>,
    pub seq: u64,
}

/// A text attribute conditions can be answered on from an index.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Key {
    UserName,
    DisplayName,
    ExternalId,
    /// `emails.value` (users; multi-valued).
    Email,
}

impl Key {
    /// Normalize a probe the way stored values are.
    pub fn probe(self, value: &str) -> String {
        match self {
            Key::ExternalId => value.to_owned(),
            _ => fold(value),
        }
    }

    /// The field holding this key's single value, if it is single-valued.
    pub fn field(self) -> Option<SortField> {
        match self {
            Key::UserName => Some(SortField::UserName),
            Key::DisplayName => Some(SortField::DisplayName),
            Key::ExternalId => Some(SortField::ExternalId),
            Key::Email => None,
        }
    }

    /// The normalized values a resource has for this key.
    pub fn values_of(self, r: &StoredResource) -> Vec<String> {
        match self.field() {
            Some(f) => match f.value_of(r) {
                Some(SortValue::Text(s)) => vec![s],
                _ => Vec::new(),
            },
            None if r.kind == ResourceKind::User => r.data["emails"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|e| e["value"].as_str())
                        .map(fold)
                        .collect()
                })
                .unwrap_or_default(),
            None => Vec::new(),
        }
    }
}

/// A condition a store answers from its indexes. Probes are normalized ([`Key::probe`]).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Cond {
    /// The resource id equals.
    Id(String),
    /// Some value of the key equals.
    Eq(Key, String),
    /// Some value of the key starts with.
    StartsWith(Key, String),
    /// The key has a (non-empty) value.
    Present(Key),
}

impl Cond {
    /// Whether `r` satisfies the condition (the memory store's evaluation, and the
    /// definition every backend must agree with).
    pub fn matches(&self, r: &StoredResource) -> bool {
        match self {
            Cond::Id(id) => r.id == *id,
            Cond::Eq(k, v) => k.values_of(r).iter().any(|x| x == v),
            Cond::StartsWith(k, p) => k.values_of(r).iter().any(|x| x.starts_with(p.as_str())),
            Cond::Present(k) => k.values_of(r).iter().any(|v| !v.is_empty()),
        }
    }
}

/// The smallest string greater than every string starting with `prefix` (for a range
/// scan), or `None` when there is none.
pub fn prefix_end(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        let mut next = last as u32 + 1;
        if (0xD800..0xE000).contains(&next) {
            next = 0xE000;
        }
        if let Some(c) = char::from_u32(next) {
            chars.push(c);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

/// An order of resources: by a field (resources lacking it last) or by insertion, each
/// ascending or descending; ties by insertion sequence in the same direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Order {
    pub by: Option<SortField>,
    pub descending: bool,
}

impl Order {
    pub const INSERTION: Order = Order {
        by: None,
        descending: false,
    };

    /// `a` against `b` in this order (the order [`walk`] visits them in).
    pub fn cmp(&self, a: &Position, b: &Position) -> std::cmp::Ordering {
        use std::cmp::Ordering::{Greater, Less};
        let directed = |o: std::cmp::Ordering| if self.descending { o.reverse() } else { o };
        match (self.by, &a.value, &b.value) {
            (None, ..) | (Some(_), None, None) => directed(a.seq.cmp(&b.seq)),
            (Some(_), Some(x), Some(y)) => directed((x, a.seq).cmp(&(y, b.seq))),
            (Some(_), Some(_), None) => Less,
            (Some(_), None, Some(_)) => Greater,
        }
    }
}

/// One run of an order: the resources that have the sort field (`present`) or lack it,
/// in one direction. With `by: None` (insertion order) there is one run, `present: true`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Run {
    pub by: Option<SortField>,
    pub present: bool,
    pub descending: bool,
}

impl Run {
    /// Whether `pos` belongs to this run.
    pub fn holds(&self, pos: &Position) -> bool {
        self.by.is_none() || pos.value.is_some() == self.present
    }
}

/// What [`ReadTx::range`] returns: up to `limit` resources of one run satisfying every
/// condition, strictly after `after` in the run's direction (or from the start), skipping
/// the first `offset`.
#[derive(Clone, Copy, Debug)]
pub struct Range<'a> {
    pub conds: &'a [Cond],
    pub run: Run,
    pub after: Option<&'a Position>,
    pub offset: u64,
    pub limit: usize,
}

/// Where a walk starts.
#[derive(Clone, Debug)]
pub enum Start {
    /// The first resource of the order, after skipping this many.
    Offset(u64),
    /// Strictly after this position, forwards.
    After(Position),
    /// Strictly before this position, backwards (nearest first).
    Before(Position),
    /// The last resource of the order, after skipping this many, backwards (last first).
    FromEnd(u64),
}

/// Rows fetched per [`ReadTx::range`] call while walking.
const BATCH: usize = 256;

/// Visit the resources of `kind` satisfying `conds` in `order` from `start`, until
/// `visit` returns `false` or `want` resources were visited. Each call to the store fetches
/// a bounded batch (no more than `want`), so the walk costs what it visits (plus one count
/// when an offset lands past the first run).
pub fn walk(
    tx: &dyn ReadTx,
    kind: ResourceKind,
    conds: &[Cond],
    order: Order,
    start: Start,
    want: usize,
    visit: &mut dyn FnMut(Position, StoredResource) -> bool,
) -> Result<()> {
    let mut fetch = |range: &Range, out: &mut Vec<_>| tx.range(kind, range, out);
    walk_with(tx, kind, conds, order, start, want, &mut fetch, visit)
}

/// [`walk`] reading the resources as stored text ([`ReadTx::range_text`]), for a caller
/// that only writes them out.
pub fn walk_text(
    tx: &dyn ReadTx,
    kind: ResourceKind,
    conds: &[Cond],
    order: Order,
    start: Start,
    want: usize,
    visit: &mut dyn FnMut(Position, StoredText) -> bool,
) -> Result<()> {
    let mut fetch = |range: &Range, out: &mut Vec<_>| tx.range_text(kind, range, out);
    walk_with(tx, kind, conds, order, start, want, &mut fetch, visit)
}

/// Fetches one batch of a walk: [`ReadTx::range`] or [`ReadTx::range_text`].
type Fetch<'a, T> = dyn FnMut(&Range, &mut Vec<(Position, T)>) -> Result<()> + 'a;

#[allow(clippy::too_many_arguments)]
fn walk_with<T>(
    tx: &dyn ReadTx,
    kind: ResourceKind,
    conds: &[Cond],
    order: Order,
    start: Start,
    mut want: usize,
    fetch: &mut Fetch<'_, T>,
    visit: &mut dyn FnMut(Position, T) -> bool,
) -> Result<()> {
    let backwards = matches!(start, Start::Before(_) | Start::FromEnd(_));
    let runs: Vec<Run> = match order.by {
        None => vec![Run {
            by: None,
            present: true,
            descending: order.descending != backwards,
        }],
        Some(by) => {
            let present = Run {
                by: Some(by),
                present: true,
                descending: order.descending != backwards,
            };
            let missing = Run {
                present: false,
                ..present
            };
            if backwards {
                vec![missing, present]
            } else {
                vec![present, missing]
            }
        }
    };
    let (mut offset, from) = match start {
        Start::Offset(n) | Start::FromEnd(n) => (n, None),
        Start::After(p) | Start::Before(p) => (0, Some(p)),
    };
    // Runs before the one holding the position are skipped whole.
    let first = match &from {
        Some(p) => runs.iter().position(|r| r.holds(p)).unwrap_or(0),
        None => 0,
    };
    let mut batch = Vec::with_capacity(BATCH.min(want));
    for (i, run) in runs.iter().enumerate().skip(first) {
        let mut after = if i == first { from.clone() } else { None };
        loop {
            if want == 0 {
                return Ok(());
            }
            let limit = BATCH.min(want);
            batch.clear();
            fetch(
                &Range {
                    conds,
                    run: *run,
                    after: after.as_ref(),
                    offset,
                    limit,
                },
                &mut batch,
            )?;
            if batch.is_empty() && offset > 0 {
                // The offset lies beyond this run: carry what remains into the next.
                let n = tx.count_where(kind, conds, Some(*run))?;
                offset = offset.saturating_sub(n);
                break;
            }
            offset = 0;
            let full = batch.len() == limit;
            for (pos, r) in batch.drain(..) {
                after = Some(pos.clone());
                want -= 1;
                if !visit(pos, r) {
                    return Ok(());
                }
            }
            if !full {
                break;
            }
        }
    }
    Ok(())
}
