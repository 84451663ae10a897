//! SQLite read connections keep their snapshot between reads while nothing is committed
//! (`src/store/sqlite/snapshot.rs`). These tests hold the rules that make that safe: a
//! read after an acknowledged write sees it, whichever thread or store of the process
//! wrote it; a change by another connection is seen within the time a snapshot may be
//! kept; an idle process releases its snapshots; and the WAL is still checkpointed and
//! started over under a steady mix of reads and writes.

#[path = "support/scratch.rs"]
mod scratch;

use scim::store::{DirectoryRecord, SqliteOptions, SqliteStore, Store};
use scratch::Scratch;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

fn db(scratch: &Scratch) -> PathBuf {
    scratch.0.join("db")
}

fn open(path: &Path) -> SqliteStore {
    let options = SqliteOptions {
        synchronous_full: false,
        ..SqliteOptions::default()
    };
    SqliteStore::open(path, options).unwrap()
}

fn directory(n: usize) -> DirectoryRecord {
    DirectoryRecord {
        id: format!("d{n}"),
        name: format!("Directory {n}"),
        token_hash: None,
        data: json!({"domain": format!("d{n}.example.com")}),
    }
}

/// Readers on several threads read all the time (so their connections keep snapshots)
/// while another thread creates directories one by one and then announces each: a read
/// begun after an announcement always finds that directory.
#[test]
fn a_read_after_a_write_sees_it_under_concurrency() {
    let dir = Scratch::new("snap-ryw");
    let store = Arc::new(open(&db(&dir)));
    store.create_directory(&directory(0)).unwrap();
    let announced = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..4)
        .map(|_| {
            let (store, announced, done) = (store.clone(), announced.clone(), done.clone());
            std::thread::spawn(move || {
                let mut reads = 0u64;
                while !done.load(SeqCst) {
                    let n = announced.load(SeqCst);
                    let found = store.get_directory(&format!("d{n}")).unwrap();
                    assert!(found.is_some(), "directory d{n} was announced but not read");
                    reads += 1;
                }
                reads
            })
        })
        .collect();
    for n in 1..=300 {
        store.create_directory(&directory(n)).unwrap();
        announced.store(n, SeqCst);
    }
    done.store(true, SeqCst);
    let reads: u64 = readers.into_iter().map(|t| t.join().unwrap()).sum();
    assert!(reads >= 300, "the readers read only {reads} times");
}

/// Two stores of one process on the same file: what one commits, the other reads at once,
/// although it has been reading (and keeping snapshots) all along.
#[test]
fn another_store_on_the_same_file_sees_a_write_at_once() {
    let dir = Scratch::new("snap-two");
    let a = open(&db(&dir));
    let b = open(&db(&dir));
    for n in 0..200 {
        assert!(b.get_directory(&format!("d{n}")).unwrap().is_none());
        a.create_directory(&directory(n)).unwrap();
        assert!(
            b.get_directory(&format!("d{n}")).unwrap().is_some(),
            "d{n} written by one store, not seen by the other"
        );
    }
}

/// A change made by a connection that is not a store of this process (another process)
/// is not counted; it is seen once the snapshot is older than it may be kept (20 ms).
#[test]
fn a_change_by_another_connection_is_seen_within_the_kept_time() {
    let dir = Scratch::new("snap-other");
    let store = open(&db(&dir));
    store.create_directory(&directory(1)).unwrap();
    let other = rusqlite::Connection::open(db(&dir)).unwrap();
    other.busy_timeout(Duration::from_secs(10)).unwrap();
    for round in 0..20 {
        let name = format!("Renamed {round}");
        // Reading just before keeps a snapshot from before the change.
        assert_ne!(store.get_directory("d1").unwrap().unwrap().name, name);
        other
            .execute("UPDATE directories SET name = ?1 WHERE id = 'd1'", [&name])
            .unwrap();
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(
            store.get_directory("d1").unwrap().unwrap().name,
            name,
            "round {round}: a change of another connection unseen after 40 ms"
        );
    }
}

/// `PRAGMA wal_checkpoint(TRUNCATE)` on another connection: whether it completed (no
/// reader held it up) and the WAL file is empty.
fn truncate_wal(path: &Path) -> (bool, u64) {
    let other = rusqlite::Connection::open(path).unwrap();
    let busy: i64 = other
        .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))
        .unwrap();
    let wal = std::fs::metadata(format!("{}-wal", path.display())).map_or(0, |m| m.len());
    (busy == 0, wal)
}

/// After the reads stop, the store gives its snapshots back by itself: another process
/// can checkpoint the whole WAL and truncate it.
#[test]
fn an_idle_store_holds_no_snapshot() {
    let dir = Scratch::new("snap-idle");
    let store = Arc::new(open(&db(&dir)));
    for n in 0..50 {
        store.create_directory(&directory(n)).unwrap();
    }
    let readers: Vec<_> = (0..3)
        .map(|_| {
            let store = store.clone();
            std::thread::spawn(move || {
                for n in 0..500 {
                    store
                        .get_directory(&format!("d{}", n % 50))
                        .unwrap()
                        .unwrap();
                }
            })
        })
        .collect();
    for t in readers {
        t.join().unwrap();
    }
    std::thread::sleep(Duration::from_millis(300));
    let (completed, wal) = truncate_wal(&db(&dir));
    assert!(completed, "a reader of the idle store still holds the WAL");
    assert_eq!(wal, 0, "the WAL was not truncated");
}

/// Under reads that never pause (some of them a few milliseconds long) and writes that
/// never pause, the WAL is still checkpointed and started over: its file stays shorter
/// than what is written through it. (With SQLite's automatic, passive checkpoint it never
/// started over here: the WAL file held every frame written.)
#[test]
fn the_wal_stays_bounded_under_steady_reads_and_writes() {
    let dir = Scratch::new("snap-wal");
    let store = Arc::new(open(&db(&dir)));
    store.create_directory(&directory(0)).unwrap();
    let done = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..4)
        .map(|_| {
            let (store, done) = (store.clone(), done.clone());
            std::thread::spawn(move || {
                while !done.load(SeqCst) {
                    store.get_directory("d0").unwrap().unwrap();
                    store.list_directories().unwrap();
                }
            })
        })
        .collect();
    // Each directory carries 20 KB, so that the directories written are many times
    // the WAL bound below.
    let filler = "x".repeat(20_000);
    let mut written = 0u64;
    for n in 1..=4000 {
        let mut d = directory(n);
        d.data["filler"] = json!(filler);
        store.create_directory(&d).unwrap();
        written += 20_000;
        if n % 100 == 0 {
            // Keep the readers' list short.
            for m in n - 99..=n {
                store.delete_directory(&format!("d{m}")).unwrap();
            }
        }
    }
    done.store(true, SeqCst);
    for t in readers {
        t.join().unwrap();
    }
    let wal = std::fs::metadata(format!("{}-wal", db(&dir).display()))
        .unwrap()
        .len();
    // A WAL never started over is at least as long as everything written through it.
    let bound = 64 << 20;
    assert!(
        wal <= bound && written > bound,
        "WAL file {wal} bytes after {written} bytes of directories (bound {bound})"
    );
}
