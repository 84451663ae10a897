//! Test support shared by the integration tests (included with `#[path]`).
#![allow(dead_code)]

use scim::schema::ResourceKind;
use scim::store::{
    Cond, DirectoryRecord, Event, IndexKey, Member, MemoryStore, NewEvent, Position, Range, ReadTx,
    Run, Store, StoredResource, WriteTx,
};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

/// A store that counts what the provider asks of it: resources read, member rows read,
/// full scans started, write transactions run. Tests assert on these to prove point
/// lookups, index paging and row-level membership. It wraps the memory store by default,
/// or any other ([`Counting::over`]).
pub struct Counting {
    pub inner: Box<dyn Store>,
    /// Resources handed out by `get`, `scan` and `range`.
    pub resources_read: AtomicUsize,
    pub member_rows_read: AtomicUsize,
    /// Member rows read inside write transactions (while the store's writer is held).
    pub member_rows_read_in_writes: AtomicUsize,
    pub scans: AtomicUsize,
    pub writes: AtomicUsize,
    /// Directory lookups by token hash (authentication that missed the engine's cache).
    pub token_lookups: AtomicUsize,
    /// Fault injection: when set to n > 0, the n-th `append_event` from now fails as the
    /// store would (500), after the change it describes was written.
    pub fail_event: AtomicUsize,
    /// A slow disk: each write transaction returns this many milliseconds after it ran.
    pub write_delay_ms: AtomicUsize,
}

impl Default for Counting {
    fn default() -> Self {
        Counting::over(Box::new(MemoryStore::new()))
    }
}

impl Counting {
    pub fn over(inner: Box<dyn Store>) -> Self {
        Counting {
            inner,
            resources_read: AtomicUsize::new(0),
            member_rows_read: AtomicUsize::new(0),
            member_rows_read_in_writes: AtomicUsize::new(0),
            scans: AtomicUsize::new(0),
            writes: AtomicUsize::new(0),
            token_lookups: AtomicUsize::new(0),
            fail_event: AtomicUsize::new(0),
            write_delay_ms: AtomicUsize::new(0),
        }
    }

    /// Resources read since the last call.
    pub fn take_resources_read(&self) -> usize {
        self.resources_read.swap(0, Relaxed)
    }
}

struct CountingTx<'a, T: ?Sized> {
    inner: &'a mut T,
    counts: &'a Counting,
}

macro_rules! delegate_read {
    () => {
        fn get(&self, kind: ResourceKind, id: &str) -> scim::error::Result<Option<StoredResource>> {
            let r = self.inner.get(kind, id)?;
            self.counts
                .resources_read
                .fetch_add(usize::from(r.is_some()), Relaxed);
            Ok(r)
        }
        fn lookup(
            &self,
            kind: ResourceKind,
            key: IndexKey,
            value: &str,
        ) -> scim::error::Result<Vec<String>> {
            self.inner.lookup(kind, key, value)
        }
        fn scan(
            &self,
            kind: ResourceKind,
            visit: &mut dyn FnMut(&StoredResource) -> bool,
        ) -> scim::error::Result<()> {
            self.counts.scans.fetch_add(1, Relaxed);
            self.inner.scan(kind, &mut |r| {
                self.counts.resources_read.fetch_add(1, Relaxed);
                visit(r)
            })
        }
        fn count(&self, kind: ResourceKind) -> scim::error::Result<u64> {
            self.inner.count(kind)
        }
        fn range(
            &self,
            kind: ResourceKind,
            range: &Range,
            out: &mut Vec<(Position, StoredResource)>,
        ) -> scim::error::Result<()> {
            let before = out.len();
            self.inner.range(kind, range, out)?;
            self.counts
                .resources_read
                .fetch_add(out.len() - before, Relaxed);
            Ok(())
        }
        fn count_where(
            &self,
            kind: ResourceKind,
            conds: &[Cond],
            run: Option<Run>,
        ) -> scim::error::Result<u64> {
            self.inner.count_where(kind, conds, run)
        }
        fn members(
            &self,
            group_id: &str,
            visit: &mut dyn FnMut(Member) -> bool,
        ) -> scim::error::Result<()> {
            self.inner.members(group_id, &mut |m| {
                self.counts.member_rows_read.fetch_add(1, Relaxed);
                if self.writing() {
                    self.counts.member_rows_read_in_writes.fetch_add(1, Relaxed);
                }
                visit(m)
            })
        }
        fn is_member(&self, group_id: &str, member_id: &str) -> scim::error::Result<bool> {
            self.inner.is_member(group_id, member_id)
        }
        fn groups_of(&self, member_id: &str) -> scim::error::Result<Vec<String>> {
            self.inner.groups_of(member_id)
        }
        fn has_more_members_than(&self, group_id: &str, limit: usize) -> scim::error::Result<bool> {
            self.inner.has_more_members_than(group_id, limit)
        }
    };
}

struct CountingRead<'a> {
    inner: &'a dyn ReadTx,
    counts: &'a Counting,
}
impl CountingRead<'_> {
    fn writing(&self) -> bool {
        false
    }
}
impl ReadTx for CountingRead<'_> {
    delegate_read!();
}
impl<T: WriteTx + ?Sized> CountingTx<'_, T> {
    fn writing(&self) -> bool {
        true
    }
}
impl<T: WriteTx + ?Sized> ReadTx for CountingTx<'_, T> {
    delegate_read!();
}
impl<T: WriteTx + ?Sized> WriteTx for CountingTx<'_, T> {
    fn insert(&mut self, r: StoredResource) -> scim::error::Result<()> {
        self.inner.insert(r)
    }
    fn update(&mut self, r: StoredResource) -> scim::error::Result<()> {
        self.inner.update(r)
    }
    fn delete(&mut self, kind: ResourceKind, id: &str) -> scim::error::Result<bool> {
        self.inner.delete(kind, id)
    }
    fn add_member(&mut self, g: &str, m: Member) -> scim::error::Result<bool> {
        self.inner.add_member(g, m)
    }
    fn remove_member(&mut self, g: &str, m: &str) -> scim::error::Result<bool> {
        self.inner.remove_member(g, m)
    }
    fn clear_members(&mut self, g: &str) -> scim::error::Result<u64> {
        self.inner.clear_members(g)
    }
    fn append_event(&mut self, e: NewEvent) -> scim::error::Result<u64> {
        let due = self
            .counts
            .fail_event
            .fetch_update(Relaxed, Relaxed, |n| n.checked_sub(1))
            .is_ok_and(|n| n == 1);
        if due {
            return Err(scim::ScimError::internal("store: injected failure"));
        }
        self.inner.append_event(e)
    }
    fn savepoint(
        &mut self,
        f: &mut dyn FnMut(&mut dyn WriteTx) -> scim::error::Result<()>,
    ) -> scim::error::Result<()> {
        let counts = self.counts;
        self.inner
            .savepoint(&mut |tx| f(&mut CountingTx { inner: tx, counts }))
    }
}

impl Store for Counting {
    fn read(
        &self,
        dir: &str,
        f: &mut dyn FnMut(&dyn ReadTx) -> scim::error::Result<()>,
    ) -> scim::error::Result<()> {
        self.inner.read(dir, &mut |tx| {
            f(&CountingRead {
                inner: tx,
                counts: self,
            })
        })
    }
    fn write(
        &self,
        dir: &str,
        f: &mut dyn FnMut(&mut dyn WriteTx) -> scim::error::Result<()>,
    ) -> scim::error::Result<()> {
        self.writes.fetch_add(1, Relaxed);
        let written = self.inner.write(dir, &mut |tx| {
            f(&mut CountingTx {
                inner: tx,
                counts: self,
            })
        });
        let delay = self.write_delay_ms.load(Relaxed) as u64;
        if delay > 0 {
            std::thread::sleep(std::time::Duration::from_millis(delay));
        }
        written
    }
    fn create_directory(&self, r: &DirectoryRecord) -> scim::error::Result<()> {
        self.inner.create_directory(r)
    }
    fn modify_directory(
        &self,
        id: &str,
        change: &mut dyn FnMut(&mut DirectoryRecord) -> scim::error::Result<()>,
    ) -> scim::error::Result<DirectoryRecord> {
        self.inner.modify_directory(id, change)
    }
    fn get_directory(&self, id: &str) -> scim::error::Result<Option<DirectoryRecord>> {
        self.inner.get_directory(id)
    }
    fn directory_by_token(&self, h: &str) -> scim::error::Result<Option<DirectoryRecord>> {
        self.token_lookups.fetch_add(1, Relaxed);
        self.inner.directory_by_token(h)
    }
    fn list_directories(&self) -> scim::error::Result<Vec<DirectoryRecord>> {
        self.inner.list_directories()
    }
    fn delete_directory(&self, id: &str) -> scim::error::Result<bool> {
        self.inner.delete_directory(id)
    }
    fn events(&self, d: &str, after: u64, limit: usize) -> scim::error::Result<Vec<Event>> {
        self.inner.events(d, after, limit)
    }
    fn ack_events(&self, d: &str, seq: u64) -> scim::error::Result<()> {
        self.inner.ack_events(d, seq)
    }
    fn acked(&self, d: &str) -> scim::error::Result<u64> {
        self.inner.acked(d)
    }
    fn prune_events(&self, d: &str, seq: u64) -> scim::error::Result<u64> {
        self.inner.prune_events(d, seq)
    }
    fn take_events(
        &self,
        d: &str,
        c: &scim::store::Consumer,
        limit: usize,
    ) -> scim::error::Result<scim::store::Taken> {
        self.inner.take_events(d, c, limit)
    }
    fn ack_group(&self, d: &str, c: &scim::store::Consumer, seq: u64) -> scim::error::Result<()> {
        self.inner.ack_group(d, c, seq)
    }
    fn release_group(&self, d: &str, c: &scim::store::Consumer) -> scim::error::Result<()> {
        self.inner.release_group(d, c)
    }
    fn remove_group(&self, d: &str, group: &str) -> scim::error::Result<bool> {
        self.inner.remove_group(d, group)
    }
    fn groups(&self, d: &str) -> scim::error::Result<Vec<scim::store::GroupCursor>> {
        self.inner.groups(d)
    }
    fn subscribe(&self, listener: std::sync::Weak<dyn scim::store::StoreListener>) -> bool {
        self.inner.subscribe(listener)
    }
    fn outbox(&self, d: &str) -> scim::error::Result<scim::store::Outbox> {
        self.inner.outbox(d)
    }
    fn trim_events(
        &self,
        d: &str,
        trim: &scim::store::TrimEvents,
    ) -> scim::error::Result<scim::store::Trimmed> {
        self.inner.trim_events(d, trim)
    }
}
