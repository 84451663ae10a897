//! SQLite reads run on long-lived connections: the pool grows to the concurrency seen
//! and keeps those connections, instead of opening and dropping one per extra reader.

#[path = "support/scratch.rs"]
mod scratch;

use scim::store::{SqliteOptions, SqliteStore, Store};
use scratch::Scratch;
use std::sync::{Arc, Barrier};

#[test]
fn concurrent_readers_reuse_their_connections() {
    let dir = Scratch::new("read-pool");
    let store = Arc::new(SqliteStore::open_default(dir.0.join("db")).unwrap());
    const THREADS: usize = 8;
    let start = Arc::new(Barrier::new(THREADS));
    let threads: Vec<_> = (0..THREADS)
        .map(|_| {
            let (store, start) = (store.clone(), start.clone());
            std::thread::spawn(move || {
                start.wait();
                for _ in 0..300 {
                    store
                        .read("d", &mut |tx| {
                            tx.count(scim::schema::ResourceKind::User).map(|_| ())
                        })
                        .unwrap();
                    assert!(store.directory_by_token("nope").unwrap().is_none());
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let opened = store.read_connections_opened();
    assert!(
        (1..=THREADS).contains(&opened),
        "{opened} read connections opened for {THREADS} concurrent readers"
    );
}

/// More threads than `read_connections`: they share the slots (a read that finds every
/// slot busy waits for one), never opening more connections than slots.
#[test]
fn more_readers_than_slots_share_them() {
    let dir = Scratch::new("read-slots");
    let options = SqliteOptions {
        read_connections: 2,
        ..SqliteOptions::default()
    };
    let store = Arc::new(SqliteStore::open(dir.0.join("db"), options).unwrap());
    const THREADS: usize = 6;
    let start = Arc::new(Barrier::new(THREADS));
    let threads: Vec<_> = (0..THREADS)
        .map(|_| {
            let (store, start) = (store.clone(), start.clone());
            std::thread::spawn(move || {
                start.wait();
                for _ in 0..200 {
                    let n = store.list_directories().unwrap().len();
                    assert_eq!(n, 0);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let opened = store.read_connections_opened();
    assert!(
        (1..=2).contains(&opened),
        "{opened} read connections opened with read_connections = 2"
    );
}

/// The bundled SQLite is compiled without the global page-cache group and without memory
/// statistics (`.cargo/config.toml`, `LIBSQLITE3_FLAGS`): each read connection has a page
/// cache of its own, and concurrent readers take no global SQLite mutex per page.
#[test]
fn sqlite_is_built_without_global_cache_locks() {
    let c = rusqlite::Connection::open_in_memory().unwrap();
    let mut s = c.prepare("PRAGMA compile_options").unwrap();
    let options: Vec<String> = s
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    assert!(
        !options.iter().any(|o| o == "ENABLE_MEMORY_MANAGEMENT"),
        "SQLite built with ENABLE_MEMORY_MANAGEMENT (a target/ from before \
         .cargo/config.toml set LIBSQLITE3_FLAGS: run `cargo clean -p libsqlite3-sys`): \
         {options:?}"
    );
    assert!(
        options.iter().any(|o| o == "DEFAULT_MEMSTATUS=0"),
        "SQLite built with memory statistics on: {options:?}"
    );
}
