//! SQLite reads run on long-lived connections: the pool grows to the concurrency seen
//! and keeps those connections, instead of opening and dropping one per extra reader.

use scim::store::{SqliteStore, Store};
use std::sync::{Arc, Barrier};

#[test]
fn concurrent_readers_reuse_their_connections() {
    let dir = std::env::temp_dir().join(format!("libscim-read-pool-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let store = Arc::new(SqliteStore::open_default(dir.join("db")).unwrap());
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
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
}
