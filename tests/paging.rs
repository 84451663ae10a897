//! Listing at scale: a page reads only the page (counting store, on memory and SQLite),
//! counts read no resource, index orders serve `sortBy`, paging passes stay stable while
//! the directory changes (by index and by RFC 9865 cursor), cursor refusals, the sort
//! window of unindexed sorts, and the memory and SQLite stores answering alike.

use scim::schema::ResourceKind::{self, User};
use scim::store::{MemoryStore, SqliteStore, Store, StoredResource};
use scim::{Config, Response, ServiceProvider};
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use time::OffsetDateTime;

#[path = "support/counting.rs"]
mod counting;
use counting::Counting;

#[path = "support/provider.rs"]
mod support;
const DIR: &str = scim::provider::DEFAULT_DIRECTORY;
const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("libscim-paging-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Removes this test's scratch directory when the test ends (passed or not).
struct Cleanup(&'static str);
impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(std::env::temp_dir().join(format!(
            "libscim-paging-{}-{}",
            std::process::id(),
            self.0
        )));
    }
}

/// The two backends, fresh: (name, store).
fn backends(test: &str) -> Vec<(&'static str, Box<dyn Store>)> {
    let path = scratch(test).join("db.sqlite");
    vec![
        ("memory", Box::new(MemoryStore::new())),
        ("sqlite", Box::new(SqliteStore::open_default(path).unwrap())),
    ]
}

use support::{call, provider_with as provider};

fn list(p: &ServiceProvider, query: &str) -> Value {
    let r = call(p, "GET", "/Users", query, None);
    assert_eq!(
        r.status,
        200,
        "{query}: {}",
        String::from_utf8_lossy(&r.body)
    );
    serde_json::from_slice(&r.body).unwrap()
}

fn ids(page: &Value) -> Vec<String> {
    page["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect()
}

fn error(r: &Response) -> (u16, Value) {
    let v: Value = serde_json::from_slice(&r.body).unwrap();
    (r.status, v["scimType"].clone())
}

/// A deterministic pseudo-random sequence (no dependency, same on every run).
struct Lcg(u64);
impl Lcg {
    fn next(&mut self, below: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 33) as usize) % below.max(1)
    }
}

/// `n` users written straight into the store in one transaction (ids `u00000`…), as the
/// provider stores them: user `i` has userName `user<i>` (shuffled against insertion
/// order), every third lacks `displayName`, every fifth lacks `externalId`, and the
/// creation time grows with `i`.
fn load(store: &dyn Store, n: usize) {
    let start = time::macros::datetime!(2026-01-01 00:00 UTC);
    let mut rng = Lcg(n as u64);
    let mut names: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        names.swap(i, rng.next(i + 1));
    }
    store
        .write(DIR, &mut |tx| {
            for (i, name) in names.iter().enumerate() {
                let mut data = json!({
                    "schemas": [USER_SCHEMA],
                    "userName": format!("User{name:05}@Example.com"),
                    "title": format!("t{}", (i * 7) % 13),
                    "emails": [{"value": format!("u{i}@work.example"), "type": "work"},
                               {"value": format!("u{i}@home.example"), "type": "home"}],
                    "active": true,
                });
                if i % 3 != 0 {
                    data["displayName"] = json!(format!("Name {}", (i * 31) % 97));
                }
                if i % 5 != 0 {
                    data["externalId"] = json!(format!("X{:05}", n - i));
                }
                let t = start + time::Duration::milliseconds(i as i64);
                tx.insert(StoredResource {
                    id: format!("u{i:05}"),
                    kind: User,
                    data,
                    created: t,
                    last_modified: t,
                    version: 1,
                })?;
            }
            Ok(())
        })
        .unwrap();
}

#[test]
fn a_page_reads_only_the_page_whatever_the_directory_size() {
    let mut reads: HashMap<(&str, usize), Vec<usize>> = HashMap::new();
    let _cleanup = (Cleanup("size-400"), Cleanup("size-4000"));
    for n in [400, 4000] {
        for (name, backend) in backends(&format!("size-{n}")) {
            let counting = Arc::new(Counting::over(backend));
            load(&*counting, n);
            let p = provider(counting.clone(), Config::default());
            counting.take_resources_read();
            let mut read = |query: &str, expect_total: usize, expect_items: usize| -> Value {
                let page = list(&p, query);
                assert_eq!(page["totalResults"], expect_total, "{name} {n} {query}");
                assert_eq!(ids(&page).len(), expect_items, "{name} {n} {query}");
                let r = counting.take_resources_read();
                reads.entry((name, n)).or_default().push(r);
                assert!(
                    r <= expect_items,
                    "{name} {n} {query}: read {r} for {expect_items}"
                );
                page
            };
            // totalResults alone reads nothing.
            read("count=0", n, 0);
            // Okta's "Test API Credentials".
            let first = read("startIndex=1&count=2", n, 2);
            assert_eq!(ids(&first), ["u00000", "u00001"]);
            // A page near the end.
            let near_end = read(&format!("startIndex={}&count=100", n - 99), n, 100);
            assert_eq!(ids(&near_end)[99], format!("u{:05}", n - 1));
            // Index orders serve sortBy, also in the middle and descending.
            let mid = read(
                &format!("sortBy=userName&startIndex={}&count=100", n / 2),
                n,
                100,
            );
            let names: Vec<&str> = mid["Resources"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["userName"].as_str().unwrap())
                .collect();
            assert_eq!(names[0], format!("User{:05}@Example.com", n / 2 - 1));
            assert!(names.windows(2).all(|w| w[0] < w[1]), "{names:?}");
            let newest = read("sortBy=meta.created&sortOrder=descending&count=10", n, 10);
            assert_eq!(ids(&newest)[0], format!("u{:05}", n - 1));
            read("sortBy=externalId&startIndex=7&count=50", n, 50);
            read("sortBy=displayName&sortOrder=descending&count=25", n, 25);
            read("sortBy=meta.lastModified&count=5", n, 5);
            // Conditions the index answers: equality, sw, pr, and their conjunction.
            read("filter=userName%20eq%20%22user00007@example.COM%22", 1, 1);
            read("filter=emails.value%20eq%20%22u9@HOME.example%22", 1, 1);
            let sw = read("filter=userName%20sw%20%22user001%22&count=5", 100, 5);
            assert!(ids(&sw).len() == 5);
            read(
                "filter=externalId%20pr%20and%20displayName%20sw%20%22name%201%22&count=3&sortBy=userName",
                count_where(n, |i| i % 5 != 0 && i % 3 != 0 && format!("name {}", (i * 31) % 97).starts_with("name 1")),
                3,
            );
            assert_eq!(counting.scans.load(Relaxed), 0, "{name} {n}: no scan");
        }
    }
    // The same queries read the same number of resources on 400 and on 4,000 users.
    for name in ["memory", "sqlite"] {
        assert_eq!(reads[&(name, 400)], reads[&(name, 4000)], "{name}");
    }
}

fn count_where(n: usize, f: impl Fn(usize) -> bool) -> usize {
    (0..n).filter(|&i| f(i)).count()
}

/// One paging pass (by `startIndex` or by cursor) with `count` per page, while `between`
/// changes the directory after every page; returns every id seen, in order.
fn pass(
    p: &ServiceProvider,
    query: &str,
    cursor: bool,
    count: usize,
    between: &mut dyn FnMut(&ServiceProvider, &[String]),
) -> Vec<String> {
    let mut seen = Vec::new();
    let mut next = Some(String::new());
    let mut start = 1;
    for _ in 0..10_000 {
        let q = if cursor {
            match &next {
                Some(c) => format!("{query}&count={count}&cursor={c}"),
                None => break,
            }
        } else {
            format!("{query}&count={count}&startIndex={start}")
        };
        let page = list(p, &q);
        let got = ids(&page);
        if cursor {
            next = page["nextCursor"].as_str().map(str::to_owned);
            assert!(
                page.get("startIndex").is_none(),
                "cursor pages have no startIndex"
            );
        } else if got.is_empty() {
            break;
        }
        start += got.len();
        seen.extend(got);
        between(p, &seen);
    }
    seen
}

#[test]
fn paging_passes_are_stable_while_resources_come_and_go() {
    let _cleanup = Cleanup("stable");
    for (name, backend) in backends("stable") {
        let store: Arc<dyn Store> = Arc::from(backend);
        let p = provider(store, Config::default());
        let mut stable = HashSet::new();
        let mut volatile = Vec::new();
        for i in 0..300 {
            let r = call(
                &p,
                "POST",
                "/Users",
                "",
                Some(json!({"userName": format!("s{:03}", (i * 37) % 300)})),
            );
            stable.insert(
                serde_json::from_slice::<Value>(&r.body).unwrap()["id"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            );
            if i % 2 == 0 {
                let r = call(
                    &p,
                    "POST",
                    "/Users",
                    "",
                    Some(json!({"userName": format!("v{i:03}")})),
                );
                volatile.push(
                    serde_json::from_slice::<Value>(&r.body).unwrap()["id"]
                        .as_str()
                        .unwrap()
                        .to_owned(),
                );
            }
        }
        let mut made = 0;
        for (query, cursor) in [
            ("", false),
            ("sortBy=userName", false),
            ("sortBy=userName&sortOrder=descending", false),
            ("", true),
            ("sortBy=userName", true),
            ("sortBy=meta.created&sortOrder=descending", true),
            // A residual filter (not indexed) on top of the index order.
            ("filter=active%20pr%20or%20userName%20pr", false),
            ("filter=active%20pr%20or%20userName%20pr", true),
        ] {
            let mut rng = Lcg(7);
            let mut pages = 0;
            let seen = pass(&p, query, cursor, 17, &mut |p, seen| {
                // For the first 20 pages of about 27 (a pass that keeps meeting new users
                // at its end never ends): delete two volatile users already seen (which
                // shifts every later offset) and one not yet seen, and create three whose
                // names land anywhere in the order.
                pages += 1;
                if pages > 20 {
                    return;
                }
                let seen: HashSet<&String> = seen.iter().collect();
                for round in 0..3 {
                    let pick = volatile
                        .iter()
                        .position(|id| seen.contains(id) == (round < 2))
                        .or_else(|| (!volatile.is_empty()).then(|| rng.next(volatile.len())));
                    if let Some(i) = pick {
                        let id = volatile.swap_remove(i);
                        assert_eq!(
                            call(p, "DELETE", &format!("/Users/{id}"), "", None).status,
                            204
                        );
                    }
                    made += 1;
                    let user = format!("{}{made:04}", ["a", "r", "t", "z"][rng.next(4)]);
                    let r = call(p, "POST", "/Users", "", Some(json!({"userName": user})));
                    assert_eq!(r.status, 201);
                    volatile.push(
                        serde_json::from_slice::<Value>(&r.body).unwrap()["id"]
                            .as_str()
                            .unwrap()
                            .to_owned(),
                    );
                }
            });
            let mut once = HashSet::new();
            for id in &seen {
                assert!(
                    once.insert(id),
                    "{name} [{query}] cursor={cursor}: {id} seen twice"
                );
            }
            let missed: Vec<_> = stable.iter().filter(|id| !once.contains(id)).collect();
            assert!(
                missed.is_empty(),
                "{name} [{query}] cursor={cursor}: missed {missed:?}"
            );
        }
    }
}

#[test]
fn cursors_go_forwards_and_backwards() {
    let _cleanup = Cleanup("cursor");
    for (name, backend) in backends("cursor") {
        let store: Arc<dyn Store> = Arc::from(backend);
        load(&*store, 95);
        let p = provider(store, Config::default());
        for query in [
            "",
            "sortBy=userName&sortOrder=descending",
            "filter=title%20sw%20%22t1%22",
            "sortBy=displayName",
        ] {
            // Forwards: pages of 10 until no nextCursor; the concatenation is the whole
            // result in order.
            let all = ids(&list(&p, &format!("{query}&count=1000")));
            let mut pages: Vec<Value> = vec![list(&p, &format!("{query}&count=10&cursor"))];
            assert!(
                pages[0].get("previousCursor").is_none(),
                "the first page has no previous"
            );
            while let Some(c) = pages.last().unwrap()["nextCursor"].as_str() {
                let page = list(&p, &format!("{query}&count=10&cursor={c}"));
                assert!(page["previousCursor"].is_string());
                assert_eq!(page["totalResults"], all.len());
                pages.push(page);
            }
            let forwards: Vec<String> = pages.iter().flat_map(ids).collect();
            assert_eq!(forwards, all, "{name} [{query}]");
            assert_eq!(pages.len(), all.len().div_ceil(10));
            // Backwards from the last page: each previousCursor gives the page before.
            for i in (1..pages.len()).rev() {
                let c = pages[i]["previousCursor"].as_str().unwrap();
                let back = list(&p, &format!("{query}&count=10&cursor={c}"));
                assert_eq!(ids(&back), ids(&pages[i - 1]), "{name} [{query}] page {i}");
                assert_eq!(
                    back.get("previousCursor").is_some(),
                    i > 1,
                    "{name} [{query}] page {i}"
                );
                assert!(back["nextCursor"].is_string());
            }
        }
        // .search takes the cursor in the body.
        let r = call(
            &p,
            "POST",
            "/Users/.search",
            "",
            Some(json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
            "cursor": "", "count": 40})),
        );
        let v: Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(ids(&v).len(), 40);
        let r = call(
            &p,
            "POST",
            "/Users/.search",
            "",
            Some(json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
            "cursor": v["nextCursor"], "count": 40})),
        );
        let v2: Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(ids(&v2)[0], "u00040");
    }
}

#[test]
fn cursor_refusals_say_which() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    load(&*store, 30);
    let now = Arc::new(parking_lot::Mutex::new(OffsetDateTime::now_utc()));
    let clock = now.clone();
    let p = provider(store, Config::default()).with_clock(Arc::new(move || *clock.lock()));
    let page = list(&p, "count=5&cursor=");
    let good = page["nextCursor"].as_str().unwrap().to_owned();
    let bad = |query: String| error(&call(&p, "GET", "/Users", &query, None));
    // Garbage, a changed character, a cursor of another query.
    assert_eq!(
        bad("count=5&cursor=nonsense".into()),
        (400, json!("invalidCursor"))
    );
    let mut tampered = good.clone().into_bytes();
    tampered[10] = if tampered[10] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    assert_eq!(
        bad(format!("count=5&cursor={tampered}")),
        (400, json!("invalidCursor"))
    );
    assert_eq!(
        bad(format!("count=5&sortBy=userName&cursor={good}")),
        (400, json!("invalidCursor"))
    );
    assert_eq!(
        bad(format!("count=5&filter=title%20pr&cursor={good}")),
        (400, json!("invalidCursor"))
    );
    // count 0, and both pagination methods at once.
    assert_eq!(
        bad(format!("count=0&cursor={good}")),
        (400, json!("invalidCount"))
    );
    assert_eq!(
        bad(format!("startIndex=3&cursor={good}")),
        (400, json!("invalidValue"))
    );
    // An unindexed sort has no cursor paging.
    assert_eq!(
        bad("sortBy=title&cursor=".into()),
        (400, json!("invalidValue"))
    );
    // Within cursorTimeout the cursor works; past it, it has expired.
    *now.lock() += time::Duration::seconds(600);
    assert_eq!(
        ids(&list(&p, &format!("count=5&cursor={good}")))[0],
        "u00005"
    );
    *now.lock() += time::Duration::seconds(1);
    assert_eq!(
        bad(format!("count=5&cursor={good}")),
        (400, json!("expiredCursor"))
    );
    // Another provider (another key) does not accept it; one sharing a secret does.
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    load(&*store, 30);
    let a = provider(store.clone(), Config::default()).with_cursor_secret(b"shared");
    let b = provider(store.clone(), Config::default()).with_cursor_secret(b"shared");
    let c = list(&a, "count=5&cursor=")["nextCursor"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(ids(&list(&b, &format!("count=5&cursor={c}")))[0], "u00005");
    let other = provider(store, Config::default());
    assert_eq!(
        error(&call(
            &other,
            "GET",
            "/Users",
            &format!("count=5&cursor={c}"),
            None
        )),
        (400, json!("invalidCursor"))
    );
}

#[test]
fn unindexed_sorts_keep_a_bounded_window() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    load(&*store, 200);
    let p = provider(
        store,
        Config {
            max_sort_window: 60,
            ..Config::default()
        },
    );
    // Reference: every user sorted by title (ties in insertion order), then cut.
    let all = list(&p, "count=1000");
    let mut rows: Vec<(String, String)> = all["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["title"].as_str().unwrap().to_owned(),
                r["id"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    let page = list(&p, "sortBy=title&startIndex=31&count=30");
    assert_eq!(page["totalResults"], 200);
    let want: Vec<String> = rows[30..60].iter().map(|r| r.1.clone()).collect();
    assert_eq!(ids(&page), want);
    let r = call(
        &p,
        "GET",
        "/Users",
        "sortBy=title&startIndex=32&count=30",
        None,
    );
    assert_eq!(error(&r), (400, json!("tooMany")));
    // Indexed sorts have no such window.
    assert_eq!(
        ids(&list(&p, "sortBy=userName&startIndex=150&count=30")).len(),
        30
    );
}

#[test]
fn memory_and_sqlite_answer_alike() {
    let mut answers: Vec<Vec<Value>> = Vec::new();
    let queries = [
        "count=1000",
        "sortBy=userName&count=1000",
        "sortBy=userName&sortOrder=descending&startIndex=5&count=17",
        "sortBy=displayName&count=1000",
        "sortBy=displayName&sortOrder=descending&count=1000",
        "sortBy=externalId&count=1000",
        "sortBy=meta.created&sortOrder=descending&count=1000",
        "sortBy=meta.lastModified&startIndex=100&count=1000",
        "filter=displayName%20pr&count=1000",
        "filter=externalId%20sw%20%22X001%22&sortBy=externalId&sortOrder=descending",
        "filter=emails.value%20sw%20%22u1%22%20and%20displayName%20pr",
        "filter=emails%5Btype%20eq%20%22home%22%20and%20value%20eq%20%22u77@home.example%22%5D",
        "filter=userName%20sw%20%22USER0001%22%20and%20title%20eq%20%22t3%22",
        "filter=id%20eq%20%22u00042%22",
        "filter=displayName%20eq%20%22name%2062%22&sortBy=meta.created&sortOrder=descending",
        "sortBy=title&sortOrder=descending&count=100",
        "filter=not%20(displayName%20pr)&sortBy=userName&count=7&startIndex=3",
        // One statement shape with other values (SQLite keeps one text per shape), with
        // and without an offset.
        "filter=userName%20eq%20%22user00007%40example.com%22",
        "filter=userName%20eq%20%22USER00123@EXAMPLE.COM%22",
        "filter=userName%20sw%20%22user0002%22&startIndex=3&count=4",
        "filter=userName%20sw%20%22user0002%22&count=4",
        "filter=userName%20sw%20%22user0013%22&startIndex=2&count=3",
    ];
    let _cleanup = Cleanup("alike");
    for (name, backend) in backends("alike") {
        let store: Arc<dyn Store> = Arc::from(backend);
        load(&*store, 250);
        let p = provider(store, Config::default());
        let mut got = Vec::new();
        for q in queries {
            let mut page = list(&p, q);
            // meta.location and the like are equal; drop nothing.
            page.as_object_mut().unwrap().remove("nextCursor");
            got.push(page);
        }
        eprintln!("{name}: {} queries", got.len());
        answers.push(got);
    }
    for (i, q) in queries.iter().enumerate() {
        assert!(
            answers[0][i] == answers[1][i],
            "{q}: memory and SQLite differ:\n{}\n{}",
            ids(&answers[0][i]).join(","),
            ids(&answers[1][i]).join(",")
        );
        assert!(
            answers[0][i]["totalResults"].as_u64().unwrap() > 0,
            "{q} finds something"
        );
    }
}

#[test]
fn sqlite_counts_and_orders_survive_reopening() {
    let _cleanup = Cleanup("reopen");
    let path = scratch("reopen").join("db.sqlite");
    {
        let store = SqliteStore::open_default(&path).unwrap();
        load(&store, 120);
        store
            .write(DIR, &mut |tx| {
                assert!(tx.delete(User, "u00003")?);
                Ok(())
            })
            .unwrap();
    }
    let store = SqliteStore::open_default(&path).unwrap();
    store
        .read(DIR, &mut |tx| {
            assert_eq!(tx.count(User)?, 119);
            assert_eq!(tx.count(ResourceKind::Group)?, 0);
            Ok(())
        })
        .unwrap();
    let p = provider(Arc::new(store), Config::default());
    assert_eq!(list(&p, "count=0")["totalResults"], 119);
    let first = list(&p, "sortBy=userName&count=1");
    assert_eq!(first["Resources"][0]["userName"], "User00000@Example.com");
}
