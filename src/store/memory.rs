//! The in-memory store: for tests and ephemeral use. Indexed by id, by every
//! [`IndexKey`], and by insertion order (stable paging); membership as rows in both
//! directions. A write transaction holds the lock and keeps an undo log, so a failed
//! transaction leaves nothing behind.

use super::{
    check_ack, check_group, check_same_id, least_acked, now_ms, plan_trim, Cond, Consumer,
    DirectoryRecord, Event, GroupCursor, IndexKey, Key, Member, NewEvent, Outbox, Position, Range,
    ReadTx, Run, Store, StoredResource, Taken, TrimEvents, Trimmed, WriteTx,
};
use crate::error::{Result, ScimError};
use crate::schema::ResourceKind;
use parking_lot::RwLock;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// An in-memory [`Store`]. Thread-safe; reads run in parallel, writes one at a time.
#[derive(Default)]
pub struct MemoryStore {
    dirs: RwLock<HashMap<String, DirState>>,
    /// Directory records in creation order.
    directories: RwLock<Vec<DirectoryRecord>>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }
}

#[derive(Default)]
struct KindState {
    by_id: HashMap<String, (u64, StoredResource)>,
    /// Insertion sequence → id: the stable order of scans and pages.
    order: BTreeMap<u64, String>,
    index: HashMap<(IndexKey, String), BTreeSet<(u64, String)>>,
}

#[derive(Default)]
struct DirState {
    users: KindState,
    groups: KindState,
    next_seq: u64,
    /// group id → (row sequence → member); `member_rows` finds a row's sequence.
    members: HashMap<String, BTreeMap<u64, Member>>,
    member_rows: HashMap<(String, String), u64>,
    /// member id → the groups it is in.
    member_of: HashMap<String, BTreeSet<String>>,
    events: BTreeMap<u64, Event>,
    last_event: u64,
    /// Consumer groups by name.
    consumers: BTreeMap<String, GroupCursor>,
}

impl DirState {
    /// Consumer group `group`, created when missing.
    fn group(&mut self, group: &str) -> &mut GroupCursor {
        let o = outbox_of(self);
        self.consumers
            .entry(group.to_owned())
            .or_insert_with(|| GroupCursor::new(group, &o))
    }
}

impl DirState {
    fn kind(&self, kind: ResourceKind) -> &KindState {
        match kind {
            ResourceKind::User => &self.users,
            ResourceKind::Group => &self.groups,
        }
    }
    fn kind_mut(&mut self, kind: ResourceKind) -> &mut KindState {
        match kind {
            ResourceKind::User => &mut self.users,
            ResourceKind::Group => &mut self.groups,
        }
    }
    fn seq(&mut self) -> u64 {
        self.next_seq += 1;
        self.next_seq
    }
}

impl KindState {
    fn index_add(&mut self, seq: u64, r: &StoredResource) {
        for key in IndexKey::ALL {
            for v in key.values(r.kind, &r.data) {
                self.index
                    .entry((key, v))
                    .or_default()
                    .insert((seq, r.id.clone()));
            }
        }
    }
    fn index_remove(&mut self, seq: u64, r: &StoredResource) {
        for key in IndexKey::ALL {
            for v in key.values(r.kind, &r.data) {
                let k = (key, v);
                if let Some(set) = self.index.get_mut(&k) {
                    set.remove(&(seq, r.id.clone()));
                    if set.is_empty() {
                        self.index.remove(&k);
                    }
                }
            }
        }
    }
    fn put(&mut self, seq: u64, r: StoredResource) {
        self.index_add(seq, &r);
        self.order.insert(seq, r.id.clone());
        self.by_id.insert(r.id.clone(), (seq, r));
    }
    fn take(&mut self, id: &str) -> Option<(u64, StoredResource)> {
        let (seq, r) = self.by_id.remove(id)?;
        self.index_remove(seq, &r);
        self.order.remove(&seq);
        Some((seq, r))
    }
}

/// What a write transaction did, to undo it when the transaction fails.
enum Undo {
    /// A resource was put at this sequence (remove it).
    Put(ResourceKind, String),
    /// A resource was removed (put it back).
    Taken(u64, StoredResource),
    MemberAdded(String, String),
    MemberRemoved(String, u64, Member),
    /// An event was appended (remove it, and give its number back).
    Event(u64),
}

struct Tx<'a> {
    dir: &'a mut DirState,
    undo: Vec<Undo>,
}

struct ReadView<'a> {
    dir: Option<&'a DirState>,
}

fn read_get(dir: &DirState, kind: ResourceKind, id: &str) -> Option<StoredResource> {
    dir.kind(kind).by_id.get(id).map(|(_, r)| r.clone())
}

fn read_lookup(dir: &DirState, kind: ResourceKind, key: IndexKey, value: &str) -> Vec<String> {
    dir.kind(kind)
        .index
        .get(&(key, key.probe(value)))
        .map(|s| s.iter().map(|(_, id)| id.clone()).collect())
        .unwrap_or_default()
}

fn read_scan(dir: &DirState, kind: ResourceKind, visit: &mut dyn FnMut(&StoredResource) -> bool) {
    let k = dir.kind(kind);
    for id in k.order.values() {
        if let Some((_, r)) = k.by_id.get(id) {
            if !visit(r) {
                break;
            }
        }
    }
}

/// The position of `r` (inserted at `seq`) in `run`, or `None` when it is not in the run.
fn position_in(run: &Run, seq: u64, r: &StoredResource) -> Option<Position> {
    match run.by {
        None => Some(Position { value: None, seq }),
        Some(f) => {
            let value = f.value_of(r);
            (value.is_some() == run.present).then_some(Position { value, seq })
        }
    }
}

/// `a` against `b` in the run's direction.
fn run_cmp(run: &Run, a: &Position, b: &Position) -> std::cmp::Ordering {
    let ord = (&a.value, a.seq).cmp(&(&b.value, b.seq));
    if run.descending {
        ord.reverse()
    } else {
        ord
    }
}

/// The resources (in insertion order) an equality condition narrows the query to, from
/// the id map or an index; `None` when no condition is an indexed equality.
fn narrowed<'a>(
    k: &'a KindState,
    kind: ResourceKind,
    conds: &[Cond],
) -> Option<Vec<(u64, &'a StoredResource)>> {
    for c in conds {
        let key = match c {
            Cond::Id(id) => {
                return Some(k.by_id.get(id).map(|(s, r)| (*s, r)).into_iter().collect())
            }
            Cond::Eq(Key::UserName, _) if kind == ResourceKind::User => IndexKey::UserName,
            Cond::Eq(Key::DisplayName, _) if kind == ResourceKind::Group => IndexKey::DisplayName,
            Cond::Eq(Key::ExternalId, _) => IndexKey::ExternalId,
            Cond::Eq(Key::Email, _) if kind == ResourceKind::User => IndexKey::Email,
            _ => continue,
        };
        let Cond::Eq(_, value) = c else { continue };
        return Some(
            k.index
                .get(&(key, value.clone()))
                .map(|set| {
                    set.iter()
                        .filter_map(|(_, id)| k.by_id.get(id).map(|(s, r)| (*s, r)))
                        .collect()
                })
                .unwrap_or_default(),
        );
    }
    None
}

fn read_range(
    dir: &DirState,
    kind: ResourceKind,
    range: &Range,
    out: &mut Vec<(Position, StoredResource)>,
) {
    let k = dir.kind(kind);
    let run = &range.run;
    let keep = |seq: u64, r: &StoredResource| -> Option<Position> {
        let pos = position_in(run, seq, r)?;
        if !range.conds.iter().all(|c| c.matches(r)) {
            return None;
        }
        match range.after {
            Some(a) if run_cmp(run, &pos, a) != std::cmp::Ordering::Greater => None,
            _ => Some(pos),
        }
    };
    let wanted = range.offset.saturating_add(range.limit as u64);
    let mut found: Vec<(Position, &StoredResource)> = Vec::new();
    if let Some(few) = narrowed(k, kind, range.conds) {
        // An indexed equality: only its few resources.
        found = few
            .into_iter()
            .filter_map(|(seq, r)| keep(seq, r).map(|p| (p, r)))
            .collect();
        found.sort_by(|a, b| run_cmp(run, &a.0, &b.0));
    } else if run.by.is_none() {
        // Insertion order is the order map itself: stop once the page is found.
        let ids: Box<dyn Iterator<Item = (&u64, &String)>> = if run.descending {
            Box::new(k.order.iter().rev())
        } else {
            Box::new(k.order.iter())
        };
        for (&seq, id) in ids {
            if found.len() as u64 >= wanted {
                break;
            }
            if let Some((_, r)) = k.by_id.get(id) {
                if let Some(pos) = keep(seq, r) {
                    found.push((pos, r));
                }
            }
        }
    } else {
        found = k
            .by_id
            .values()
            .filter_map(|(seq, r)| keep(*seq, r).map(|p| (p, r)))
            .collect();
        found.sort_by(|a, b| run_cmp(run, &a.0, &b.0));
    }
    out.extend(
        found
            .into_iter()
            .skip(usize::try_from(range.offset).unwrap_or(usize::MAX))
            .take(range.limit)
            .map(|(p, r)| (p, r.clone())),
    );
}

fn read_count_where(dir: &DirState, kind: ResourceKind, conds: &[Cond], run: Option<Run>) -> u64 {
    let k = dir.kind(kind);
    if conds.is_empty() && run.is_none_or(|r| r.by.is_none()) {
        return k.by_id.len() as u64;
    }
    if let Some(few) = narrowed(k, kind, conds) {
        return few
            .iter()
            .filter(|(seq, r)| {
                run.is_none_or(|run| position_in(&run, *seq, r).is_some())
                    && conds.iter().all(|c| c.matches(r))
            })
            .count() as u64;
    }
    k.by_id
        .values()
        .filter(|(seq, r)| {
            run.is_none_or(|run| position_in(&run, *seq, r).is_some())
                && conds.iter().all(|c| c.matches(r))
        })
        .count() as u64
}

fn read_members(dir: &DirState, group_id: &str, visit: &mut dyn FnMut(Member) -> bool) {
    if let Some(rows) = dir.members.get(group_id) {
        for m in rows.values() {
            if !visit(m.clone()) {
                break;
            }
        }
    }
}

fn read_groups_of(dir: &DirState, member_id: &str) -> Vec<String> {
    dir.member_of
        .get(member_id)
        .map(|s| s.iter().cloned().collect())
        .unwrap_or_default()
}

macro_rules! impl_read {
    ($ty:ty, $dir:ident => $get:expr) => {
        impl ReadTx for $ty {
            fn get(&self, kind: ResourceKind, id: &str) -> Result<Option<StoredResource>> {
                let $dir = self;
                Ok($get.and_then(|d| read_get(d, kind, id)))
            }
            fn lookup(
                &self,
                kind: ResourceKind,
                key: IndexKey,
                value: &str,
            ) -> Result<Vec<String>> {
                let $dir = self;
                Ok($get
                    .map(|d| read_lookup(d, kind, key, value))
                    .unwrap_or_default())
            }
            fn scan(
                &self,
                kind: ResourceKind,
                visit: &mut dyn FnMut(&StoredResource) -> bool,
            ) -> Result<()> {
                let $dir = self;
                if let Some(d) = $get {
                    read_scan(d, kind, visit);
                }
                Ok(())
            }
            fn count(&self, kind: ResourceKind) -> Result<u64> {
                let $dir = self;
                Ok($get.map(|d| d.kind(kind).by_id.len() as u64).unwrap_or(0))
            }
            fn range(
                &self,
                kind: ResourceKind,
                range: &Range,
                out: &mut Vec<(Position, StoredResource)>,
            ) -> Result<()> {
                let $dir = self;
                if let Some(d) = $get {
                    read_range(d, kind, range, out);
                }
                Ok(())
            }
            fn count_where(
                &self,
                kind: ResourceKind,
                conds: &[Cond],
                run: Option<Run>,
            ) -> Result<u64> {
                let $dir = self;
                Ok($get
                    .map(|d| read_count_where(d, kind, conds, run))
                    .unwrap_or(0))
            }
            fn members(&self, group_id: &str, visit: &mut dyn FnMut(Member) -> bool) -> Result<()> {
                let $dir = self;
                if let Some(d) = $get {
                    read_members(d, group_id, visit);
                }
                Ok(())
            }
            fn is_member(&self, group_id: &str, member_id: &str) -> Result<bool> {
                let $dir = self;
                Ok($get.is_some_and(|d| {
                    d.member_rows
                        .contains_key(&(group_id.to_owned(), member_id.to_owned()))
                }))
            }
            fn has_more_members_than(&self, group_id: &str, limit: usize) -> Result<bool> {
                let $dir = self;
                Ok($get
                    .and_then(|d| d.members.get(group_id))
                    .is_some_and(|rows| rows.len() > limit))
            }
            fn groups_of(&self, member_id: &str) -> Result<Vec<String>> {
                let $dir = self;
                Ok($get
                    .map(|d| read_groups_of(d, member_id))
                    .unwrap_or_default())
            }
        }
    };
}

impl_read!(ReadView<'_>, v => v.dir);
impl_read!(Tx<'_>, t => Some(&*t.dir));

impl Tx<'_> {
    fn remove_row(&mut self, group_id: &str, member_id: &str) -> Option<(u64, Member)> {
        let seq = self
            .dir
            .member_rows
            .remove(&(group_id.to_owned(), member_id.to_owned()))?;
        let member = self.dir.members.get_mut(group_id)?.remove(&seq)?;
        if let Some(gs) = self.dir.member_of.get_mut(member_id) {
            gs.remove(group_id);
            if gs.is_empty() {
                self.dir.member_of.remove(member_id);
            }
        }
        Some((seq, member))
    }

    fn put_row(&mut self, group_id: &str, seq: u64, member: Member) {
        self.dir
            .member_rows
            .insert((group_id.to_owned(), member.value.clone()), seq);
        self.dir
            .member_of
            .entry(member.value.clone())
            .or_default()
            .insert(group_id.to_owned());
        self.dir
            .members
            .entry(group_id.to_owned())
            .or_default()
            .insert(seq, member);
    }

    /// Undo everything after the first `mark` entries of the undo log, newest first.
    fn rollback_to(&mut self, mark: usize) {
        while self.undo.len() > mark {
            let Some(u) = self.undo.pop() else { break };
            match u {
                Undo::Put(kind, id) => {
                    self.dir.kind_mut(kind).take(&id);
                }
                Undo::Taken(seq, r) => self.dir.kind_mut(r.kind).put(seq, r),
                Undo::MemberAdded(g, m) => {
                    self.remove_row(&g, &m);
                }
                Undo::MemberRemoved(g, seq, m) => self.put_row(&g, seq, m),
                Undo::Event(seq) => {
                    self.dir.events.remove(&seq);
                    self.dir.last_event = seq - 1;
                }
            }
        }
    }
}

impl WriteTx for Tx<'_> {
    fn insert(&mut self, resource: StoredResource) -> Result<()> {
        if self
            .dir
            .kind(resource.kind)
            .by_id
            .contains_key(&resource.id)
        {
            return Err(ScimError::internal(format!(
                "store: {} {} already exists",
                resource.kind.as_str(),
                resource.id
            )));
        }
        let seq = self.dir.seq();
        self.undo
            .push(Undo::Put(resource.kind, resource.id.clone()));
        self.dir.kind_mut(resource.kind).put(seq, resource);
        Ok(())
    }

    fn update(&mut self, resource: StoredResource) -> Result<()> {
        let k = self.dir.kind_mut(resource.kind);
        let Some((seq, old)) = k.take(&resource.id) else {
            return Err(ScimError::internal(format!(
                "store: {} {} does not exist",
                resource.kind.as_str(),
                resource.id
            )));
        };
        k.put(seq, resource);
        // Undo in reverse: remove the new version, then put the old one back.
        self.undo.push(Undo::Taken(seq, old.clone()));
        self.undo.push(Undo::Put(old.kind, old.id));
        Ok(())
    }

    fn delete(&mut self, kind: ResourceKind, id: &str) -> Result<bool> {
        let Some((seq, old)) = self.dir.kind_mut(kind).take(id) else {
            return Ok(false);
        };
        self.undo.push(Undo::Taken(seq, old));
        if kind == ResourceKind::Group {
            self.clear_members(id)?;
        }
        for g in read_groups_of(self.dir, id) {
            self.remove_member(&g, id)?;
        }
        Ok(true)
    }

    fn add_member(&mut self, group_id: &str, member: Member) -> Result<bool> {
        let key = (group_id.to_owned(), member.value.clone());
        if self.dir.member_rows.contains_key(&key) {
            return Ok(false);
        }
        let seq = self.dir.seq();
        self.undo
            .push(Undo::MemberAdded(group_id.to_owned(), member.value.clone()));
        self.put_row(group_id, seq, member);
        Ok(true)
    }

    fn remove_member(&mut self, group_id: &str, member_id: &str) -> Result<bool> {
        match self.remove_row(group_id, member_id) {
            Some((seq, m)) => {
                self.undo
                    .push(Undo::MemberRemoved(group_id.to_owned(), seq, m));
                Ok(true)
            }
            None => Ok(false),
        }
    }

    fn clear_members(&mut self, group_id: &str) -> Result<u64> {
        let ids: Vec<String> = self
            .dir
            .members
            .get(group_id)
            .map(|rows| rows.values().map(|m| m.value.clone()).collect())
            .unwrap_or_default();
        for id in &ids {
            self.remove_member(group_id, id)?;
        }
        self.dir.members.remove(group_id);
        Ok(ids.len() as u64)
    }

    fn append_event(&mut self, e: NewEvent) -> Result<u64> {
        self.dir.last_event += 1;
        let seq = self.dir.last_event;
        self.dir.events.insert(
            seq,
            Event {
                seq,
                kind: e.kind,
                resource_kind: e.resource_kind,
                resource_id: e.resource_id,
                time: e.time,
                data: e.data,
            },
        );
        self.undo.push(Undo::Event(seq));
        Ok(seq)
    }

    fn savepoint(&mut self, f: &mut dyn FnMut(&mut dyn WriteTx) -> Result<()>) -> Result<()> {
        // A savepoint is a mark in the undo log.
        let mark = self.undo.len();
        let result = f(self);
        if result.is_err() {
            self.rollback_to(mark);
        }
        result
    }
}

fn conflict(records: &[DirectoryRecord], r: &DirectoryRecord) -> Result<()> {
    for other in records.iter().filter(|o| o.id != r.id) {
        if other.name.to_lowercase() == r.name.to_lowercase() {
            return Err(ScimError::uniqueness(format!(
                "a directory named '{}' already exists",
                other.name
            )));
        }
        if r.token_hash.is_some() && other.token_hash == r.token_hash {
            return Err(ScimError::uniqueness("token hash collision"));
        }
    }
    Ok(())
}

impl Store for MemoryStore {
    fn read(&self, dir: &str, f: &mut dyn FnMut(&dyn ReadTx) -> Result<()>) -> Result<()> {
        let dirs = self.dirs.read();
        f(&ReadView { dir: dirs.get(dir) })
    }

    fn create_directory(&self, record: &DirectoryRecord) -> Result<()> {
        let mut all = self.directories.write();
        if all.iter().any(|d| d.id == record.id) {
            return Err(ScimError::uniqueness(format!(
                "directory '{}' already exists",
                record.id
            )));
        }
        conflict(&all, record)?;
        all.push(record.clone());
        Ok(())
    }

    fn modify_directory(
        &self,
        id: &str,
        change: &mut dyn FnMut(&mut DirectoryRecord) -> Result<()>,
    ) -> Result<DirectoryRecord> {
        let mut all = self.directories.write();
        let at = all
            .iter()
            .position(|d| d.id == id)
            .ok_or_else(|| ScimError::not_found(format!("directory '{id}' not found")))?;
        let mut record = all[at].clone();
        change(&mut record)?;
        check_same_id(id, &record)?;
        conflict(&all, &record)?;
        all[at] = record.clone();
        Ok(record)
    }

    fn get_directory(&self, id: &str) -> Result<Option<DirectoryRecord>> {
        Ok(self.directories.read().iter().find(|d| d.id == id).cloned())
    }

    fn directory_by_token(&self, token_hash: &str) -> Result<Option<DirectoryRecord>> {
        Ok(self
            .directories
            .read()
            .iter()
            .find(|d| d.token_hash.as_deref() == Some(token_hash))
            .cloned())
    }

    fn list_directories(&self) -> Result<Vec<DirectoryRecord>> {
        Ok(self.directories.read().clone())
    }

    fn delete_directory(&self, id: &str) -> Result<bool> {
        let mut all = self.directories.write();
        let before = all.len();
        all.retain(|d| d.id != id);
        self.dirs.write().remove(id);
        Ok(all.len() != before)
    }

    fn events(&self, dir: &str, after: u64, limit: usize) -> Result<Vec<Event>> {
        let dirs = self.dirs.read();
        Ok(dirs
            .get(dir)
            .map(|d| {
                d.events
                    .range(after.saturating_add(1)..)
                    .take(limit)
                    .map(|(_, e)| e.clone())
                    .collect()
            })
            .unwrap_or_default())
    }

    fn take_events(&self, dir: &str, c: &Consumer, limit: usize) -> Result<Taken> {
        check_group(c.group)?;
        let mut dirs = self.dirs.write();
        let d = dirs.entry(dir.to_owned()).or_default();
        let after = match d.group(c.group).take(c, now_ms()) {
            Ok(after) => after,
            Err(left) => {
                return Ok(Taken {
                    events: Vec::new(),
                    held_for: Some(left),
                })
            }
        };
        let events: Vec<Event> = d
            .events
            .range(after.saturating_add(1)..)
            .take(limit)
            .map(|(_, e)| e.clone())
            .collect();
        if let Some(last) = events.last() {
            d.group(c.group).delivered = last.seq;
        }
        Ok(Taken {
            events,
            held_for: None,
        })
    }

    fn ack_group(&self, dir: &str, c: &Consumer, seq: u64) -> Result<()> {
        check_group(c.group)?;
        let mut dirs = self.dirs.write();
        let d = dirs.entry(dir.to_owned()).or_default();
        check_ack(seq, d.last_event)?;
        d.group(c.group).ack(c, seq, now_ms());
        Ok(())
    }

    fn release_group(&self, dir: &str, c: &Consumer) -> Result<()> {
        check_group(c.group)?;
        if let Some(g) = self
            .dirs
            .write()
            .get_mut(dir)
            .and_then(|d| d.consumers.get_mut(c.group))
        {
            g.release(c);
        }
        Ok(())
    }

    fn remove_group(&self, dir: &str, group: &str) -> Result<bool> {
        check_group(group)?;
        Ok(self
            .dirs
            .write()
            .get_mut(dir)
            .is_some_and(|d| d.consumers.remove(group).is_some()))
    }

    fn groups(&self, dir: &str) -> Result<Vec<GroupCursor>> {
        Ok(self
            .dirs
            .read()
            .get(dir)
            .map(|d| d.consumers.values().cloned().collect())
            .unwrap_or_default())
    }

    fn prune_events(&self, dir: &str, seq: u64) -> Result<u64> {
        let mut dirs = self.dirs.write();
        let Some(d) = dirs.get_mut(dir) else {
            return Ok(0);
        };
        let upto = seq.min(least_acked(d.consumers.values()));
        let keep = d.events.split_off(&upto.saturating_add(1));
        let pruned = d.events.len() as u64;
        d.events = keep;
        Ok(pruned)
    }

    fn outbox(&self, dir: &str) -> Result<Outbox> {
        Ok(self
            .dirs
            .read()
            .get(dir)
            .map_or_else(Outbox::default, outbox_of))
    }

    fn trim_events(&self, dir: &str, trim: &TrimEvents) -> Result<Trimmed> {
        let mut dirs = self.dirs.write();
        let Some(d) = dirs.get_mut(dir) else {
            return Ok(Trimmed::default());
        };
        let o = outbox_of(d);
        let events = &d.events;
        let (prune, drop, more) = plan_trim(&o, trim, &mut |from, limit, cutoff| {
            Ok(events
                .range(from..)
                .take(usize::try_from(limit).unwrap_or(usize::MAX))
                .take_while(|(_, e)| e.time < cutoff)
                .last()
                .map(|(seq, _)| *seq))
        })?;
        let mut out = Trimmed {
            more,
            ..Trimmed::default()
        };
        let (Some(first), Some(upto)) = (o.first, drop.or(prune)) else {
            return Ok(out);
        };
        d.events = d.events.split_off(&(upto + 1));
        out.pruned = prune.map_or(0, |p| p + 1 - first);
        out.dropped = drop.map(|upto| (prune.map_or(first, |p| p + 1), upto));
        Ok(out)
    }

    fn write(&self, dir: &str, f: &mut dyn FnMut(&mut dyn WriteTx) -> Result<()>) -> Result<()> {
        // Dropped last: log records made meanwhile go out once the lock is released.
        let _held = super::WriterHeld::enter();
        let mut dirs = self.dirs.write();
        let state = dirs.entry(dir.to_owned()).or_default();
        let mut tx = Tx {
            dir: state,
            undo: Vec::new(),
        };
        let result = f(&mut tx);
        if result.is_err() {
            tx.rollback_to(0);
        }
        result
    }
}

fn outbox_of(d: &DirState) -> Outbox {
    Outbox {
        first: d.events.keys().next().copied(),
        last: d.last_event,
        acked: least_acked(d.consumers.values()),
    }
}
