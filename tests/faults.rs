//! Faults against the real `serve` example binary (issue 14, item 8):
//!
//! - **Disk full**: `--data` on a small size-limited tmpfs, filled up. A write past the
//!   limit is answered `507 Insufficient Storage` with a SCIM error body (no path, no
//!   SQL), every `201` survives a restart, nothing answered `507` is stored, reads keep
//!   working, and writes succeed again once space is freed.
//! - **SIGKILL during a Bulk request** and **during a large group fill** (one PATCH adding
//!   thousands of members): after a restart every operation is all or nothing — a Bulk
//!   operation is present with its events or absent, and the group has all of the batch's
//!   members or none.
//!
//! The tmpfs is mounted directly when the test may (root), else in a user and mount
//! namespace (`unshare -Urm`): `serve` runs inside it (`nsenter`), the test reaches it
//! through `/proc/<pid>/root` (`SCIM_FAULTS_MOUNT=namespace` forces this way). When
//! neither works the test fails: it never skips.

use scim::schema::ResourceKind;
use scim::store::{IndexKey, SqliteStore, Store};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::Duration;

#[path = "support/scratch.rs"]
mod scratch;
#[path = "support/serve.rs"]
mod support;
use scratch::Scratch;
use support::{http, serve_binary, Reply};

// ---------------------------------------------------------------------------------------
// The serve binary

/// A running `serve`: where it listens, and what the directory's requests need.
struct Serve {
    child: Child,
    addr: SocketAddr,
    /// `/scim/v2/<directory id>`
    base: String,
    directory: String,
    token: String,
}

impl Serve {
    /// Start `serve` on `data` (the token and the tenant URL kept in `creds`, outside
    /// `data`, so a restart finds them even when `data` is full).
    fn start(data: &Path, creds: &Path, log: &Path) -> Serve {
        Self::start_in(None, data, creds, log)
    }

    /// [`Serve::start`], inside `fs`'s mount namespace when it has one.
    fn start_in(fs: Option<&Tmpfs>, data: &Path, creds: &Path, log: &Path) -> Serve {
        let stderr = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .expect("serve log");
        let mut child = match fs {
            Some(fs) => fs.command(&serve_binary()),
            None => Command::new(serve_binary()),
        }
        .arg("--listen")
        .arg("127.0.0.1:0")
        .arg("--data")
        .arg(data)
        .arg("--idp")
        .arg("generic")
        // The test reads the outbox after a kill: serve must not consume it.
        .arg("--keep-events")
        .arg("--credentials-file")
        .arg(creds)
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .expect("spawn serve");
        let mut out = BufReader::new(child.stdout.take().expect("stdout"));
        let mut addr = None;
        let mut line = String::new();
        // The last line serve prints once it serves (and wrote the credentials).
        while !line.starts_with("Health check:") {
            line.clear();
            let n = out.read_line(&mut line).expect("serve stdout");
            if n == 0 {
                let log = std::fs::read_to_string(log).unwrap_or_default();
                panic!("serve exited before listening; its log:\n{log}");
            }
            if let Some(rest) = line
                .trim()
                .strip_prefix("libscim is serving SCIM 2.0 on http://")
            {
                addr = Some(rest.parse::<SocketAddr>().expect("listen address"));
            }
        }
        // Keep draining stdout, so serve never blocks on a full pipe.
        std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
        let creds: Value =
            serde_json::from_slice(&std::fs::read(creds).expect("credentials file")).unwrap();
        let tenant = creds["tenant_url"].as_str().expect("tenant_url");
        let base = tenant[tenant.find("/scim/").expect("tenant path")..].to_owned();
        let directory = base.rsplit('/').next().unwrap().to_owned();
        Serve {
            child,
            addr: addr.unwrap(),
            base,
            directory,
            token: creds["token"].as_str().expect("token").to_owned(),
        }
    }

    fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Reply {
        http(
            self.addr,
            &self.token,
            method,
            &format!("{}{path}", self.base),
            body,
        )
        .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
    }

    /// SIGKILL, and wait for it.
    fn kill(mut self) {
        self.child.kill().expect("SIGKILL serve");
        self.child.wait().expect("wait for serve");
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------------------------------
// Scratch space and the size-limited file system

/// A size-limited tmpfs, mounted for the test's lifetime.
enum Tmpfs {
    /// Mounted at this path in our own mount namespace (we may mount: root).
    Direct(PathBuf),
    /// Mounted at `at` in the mount namespace of `holder` (`unshare -Urm`); this process
    /// reaches it through `path` (`/proc/<holder>/root/<at>`), programs run inside the
    /// namespace (`nsenter`) at `at` — SQLite resolves symbolic links, and
    /// `/proc/<pid>/root` reads as `/`. The mount lives as long as `holder`.
    Namespace {
        holder: Child,
        stdin: Option<ChildStdin>,
        at: PathBuf,
        path: PathBuf,
    },
}

impl Tmpfs {
    fn mount(at: &Path, size: &str) -> Tmpfs {
        std::fs::create_dir_all(at).expect("mount point");
        let forced_ns = std::env::var("SCIM_FAULTS_MOUNT").is_ok_and(|m| m == "namespace");
        let mut why = Vec::new();
        if !forced_ns {
            match Command::new("mount")
                .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
                .arg(at)
                .stderr(Stdio::piped())
                .output()
            {
                Ok(o) if o.status.success() => return Tmpfs::Direct(at.to_owned()),
                Ok(o) => why.push(format!(
                    "mount: {}",
                    String::from_utf8_lossy(&o.stderr).trim()
                )),
                Err(e) => why.push(format!("mount: {e}")),
            }
        }
        let spawned = Command::new("unshare")
            .args(["-Urm", "sh", "-c"])
            .arg(
                "mount -t tmpfs -o size=\"$1\" tmpfs \"$2\" && echo mounted && exec cat >/dev/null",
            )
            .args(["sh", size])
            .arg(at)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn();
        match spawned {
            Ok(mut holder) => {
                let mut line = String::new();
                let _ = BufReader::new(holder.stdout.take().unwrap()).read_line(&mut line);
                if line.trim() == "mounted" {
                    let stdin = holder.stdin.take();
                    let path = PathBuf::from(format!("/proc/{}/root", holder.id()))
                        .join(at.strip_prefix("/").unwrap());
                    return Tmpfs::Namespace {
                        holder,
                        stdin,
                        at: at.to_owned(),
                        path,
                    };
                }
                let _ = holder.kill();
                let out = holder.wait_with_output().expect("wait for unshare");
                why.push(format!(
                    "unshare -Urm: {}",
                    String::from_utf8_lossy(&out.stderr).trim()
                ));
            }
            Err(e) => why.push(format!("unshare: {e}")),
        }
        panic!(
            "cannot mount a size-limited tmpfs for the disk-full test (as root, or in a user \
             namespace): {}",
            why.join("; ")
        );
    }

    /// The mounted file system, as this process reaches it.
    fn path(&self) -> &Path {
        match self {
            Tmpfs::Direct(p) => p,
            Tmpfs::Namespace { path, .. } => path,
        }
    }

    /// The mounted file system, as a program run by [`Tmpfs::command`] reaches it.
    fn inside(&self) -> &Path {
        match self {
            Tmpfs::Direct(p) => p,
            Tmpfs::Namespace { at, .. } => at,
        }
    }

    /// A command running `program` where the mount is visible.
    fn command(&self, program: &Path) -> Command {
        match self {
            Tmpfs::Direct(_) => Command::new(program),
            Tmpfs::Namespace { holder, .. } => {
                let mut c = Command::new("nsenter");
                c.args([
                    "-t",
                    &holder.id().to_string(),
                    "-U",
                    "-m",
                    "--preserve-credentials",
                    "--",
                ])
                .arg(program);
                c
            }
        }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        match self {
            Tmpfs::Direct(p) => {
                let _ = Command::new("umount").arg(&*p).status();
            }
            Tmpfs::Namespace { holder, stdin, .. } => {
                drop(stdin.take()); // cat exits: the namespace and its mount go
                let _ = holder.kill();
                let _ = holder.wait();
            }
        }
    }
}

/// Fill the file system at `dir` with one file, then give back `leave` bytes of it.
fn fill(dir: &Path, leave: u64) -> PathBuf {
    let path = dir.join("filler");
    let mut f = std::fs::File::create(&path).expect("filler");
    let chunk = vec![0xA5u8; 64 * 1024];
    let mut written = 0u64;
    loop {
        match f.write(&chunk) {
            Ok(0) => break,
            Ok(n) => written += n as u64,
            Err(e) if e.raw_os_error() == Some(28) => break, // ENOSPC
            Err(e) => panic!("filling the tmpfs: {e}"),
        }
    }
    f.set_len(written.saturating_sub(leave)).expect("truncate");
    f.sync_all().expect("sync");
    path
}

// ---------------------------------------------------------------------------------------
// Disk full

fn user(name: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": name,
        // Bulk of the row, so the file system fills in a few hundred creates.
        "title": "t".repeat(2000),
    })
}

/// Concurrent clients filling the disk.
const CLIENTS: usize = 4;

#[test]
fn disk_full_answers_507_keeps_acknowledged_writes_and_recovers() {
    let scratch = Scratch::new("diskfull");
    let fs = Tmpfs::mount(&scratch.0.join("mnt"), "6m");
    let data = fs.inside().join("data");
    let creds = scratch.0.join("credentials.json");
    let log = scratch.0.join("serve.log");
    let serve = Serve::start_in(Some(&fs), &data, &creds, &log);
    let filler = fill(fs.path(), 1024 * 1024);

    // Writers from several connections at once, so failures also land in shared commits
    // (group commit), each until it has seen 10 refusals in a row.
    let outcome = std::sync::Mutex::new((HashMap::<String, String>::new(), Vec::<String>::new()));
    let filled = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|s| {
        for t in 0..CLIENTS {
            let (serve, outcome, filled) = (&serve, &outcome, &filled);
            s.spawn(move || {
                let mut consecutive = 0;
                for i in 0..2000 {
                    if consecutive == 10 {
                        filled.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        return;
                    }
                    let name = format!("full-{t}-{i}@example.com");
                    let r = serve.call("POST", "/Users", Some(&user(&name)));
                    match r.status {
                        201 => {
                            consecutive = 0;
                            let id = r.json()["id"].as_str().expect("id").to_owned();
                            outcome.lock().unwrap().0.insert(id, name);
                        }
                        507 => {
                            consecutive += 1;
                            let body = r.json();
                            assert_eq!(
                                body["schemas"],
                                json!(["urn:ietf:params:scim:api:messages:2.0:Error"])
                            );
                            assert_eq!(body["status"], "507");
                            let detail = body["detail"].as_str().expect("detail");
                            assert!(detail.contains("storage is full"), "detail: {detail}");
                            assert!(
                                !detail.contains('/') && !detail.contains(".db"),
                                "the detail shows a path: {detail}"
                            );
                            outcome.lock().unwrap().1.push(name);
                        }
                        s => panic!(
                            "create {name} on a filling disk answered {s}: {}",
                            String::from_utf8_lossy(&r.body)
                        ),
                    }
                }
            });
        }
    });
    let (mut acked, refused) = outcome.into_inner().unwrap();
    eprintln!(
        "disk full: {} creates acknowledged, {} refused with 507",
        acked.len(),
        refused.len()
    );
    assert!(
        !acked.is_empty(),
        "no create succeeded before the disk filled"
    );
    assert_eq!(
        filled.into_inner(),
        CLIENTS,
        "the disk never filled for every client"
    );

    // Reads still work on a full disk.
    let r = serve.call("GET", "/Users?count=1", None);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json()["totalResults"], acked.len());

    // Space returns: writes succeed again, at once.
    std::fs::remove_file(&filler).expect("remove filler");
    let r = serve.call("POST", "/Users", Some(&user("after@example.com")));
    assert_eq!(
        r.status,
        201,
        "a create after space returned: {}",
        String::from_utf8_lossy(&r.body)
    );
    acked.insert(
        r.json()["id"].as_str().unwrap().to_owned(),
        "after@example.com".into(),
    );

    // Every acknowledged write survives a crash; nothing refused was stored.
    serve.kill();
    let serve = Serve::start_in(Some(&fs), &data, &creds, &log);
    for (id, name) in &acked {
        let r = serve.call("GET", &format!("/Users/{id}"), None);
        assert_eq!(r.status, 200, "acknowledged user {name} ({id}) lost");
        assert_eq!(r.json()["userName"], name.as_str());
    }
    for name in &refused {
        let r = serve.call(
            "GET",
            &format!("/Users?filter=userName%20eq%20%22{name}%22"),
            None,
        );
        assert_eq!(r.status, 200);
        assert_eq!(
            r.json()["totalResults"],
            0,
            "refused user {name} was stored"
        );
    }
    let r = serve.call("GET", "/Users?count=0", None);
    assert_eq!(r.json()["totalResults"], acked.len());
    let log = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(!log.contains("panicked"), "serve panicked:\n{log}");
}

// ---------------------------------------------------------------------------------------
// SIGKILL during a Bulk request and during a large group fill

/// A small deterministic PRNG (xorshift64*).
fn rng(seed: u64) -> impl FnMut() -> u64 {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    move || {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

/// Send `body` in the background; the answer's status, if one came before the kill.
fn send_async(
    serve: &Serve,
    method: &'static str,
    path: String,
    body: Value,
) -> std::thread::JoinHandle<Option<u16>> {
    let (addr, token) = (serve.addr, serve.token.clone());
    let path = format!("{}{path}", serve.base);
    std::thread::spawn(move || {
        http(addr, &token, method, &path, Some(&body))
            .ok()
            .map(|r| r.status)
    })
}

/// The store of a stopped `serve`: what survived, read directly.
fn survivors(data: &Path) -> SqliteStore {
    let db = data.join("libscim.db");
    let c = rusqlite::Connection::open(&db).expect("raw open");
    let verdict: String = c
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .expect("integrity_check");
    assert_eq!(verdict, "ok");
    drop(c);
    SqliteStore::open_default(&db).expect("reopen")
}

/// Event kinds per resource id.
fn events_by_id(store: &SqliteStore, dir: &str) -> HashMap<String, Vec<String>> {
    let mut by_id: HashMap<String, Vec<String>> = HashMap::new();
    for e in store.events(dir, 0, usize::MAX).expect("events") {
        by_id.entry(e.resource_id).or_default().push(e.kind);
    }
    by_id
}

const BULK_USERS: usize = 600;
const BULK_CYCLES: u64 = 6;

#[test]
fn sigkill_during_bulk_leaves_each_operation_whole_or_absent() {
    let scratch = Scratch::new("bulkkill");
    let data = scratch.0.join("data");
    let creds = scratch.0.join("credentials.json");
    let log = scratch.0.join("serve.log");
    let mut next = rng(14);
    let (mut none, mut all, mut partial) = (0, 0, 0);
    for cycle in 0..BULK_CYCLES {
        let serve = Serve::start(&data, &creds, &log);
        let dir = serve.directory.clone();
        // Users, and after every tenth a group holding it (by bulkId reference).
        let mut ops = Vec::new();
        for i in 0..BULK_USERS {
            ops.push(json!({
                "method": "POST", "path": "/Users", "bulkId": format!("u{i}"),
                "data": {"userName": format!("c{cycle}-u{i}@example.com")}
            }));
            if i % 10 == 9 {
                ops.push(json!({
                    "method": "POST", "path": "/Groups", "bulkId": format!("g{i}"),
                    "data": {
                        "displayName": format!("c{cycle}-g{i}"),
                        "members": [{"value": format!("bulkId:u{i}")}]
                    }
                }));
            }
        }
        let body = json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
            "Operations": ops,
        });
        let answer = send_async(&serve, "POST", "/Bulk".into(), body);
        std::thread::sleep(Duration::from_millis(50 + next() % 2500));
        serve.kill();
        let answered = answer.join().expect("sender");

        let store = survivors(&data);
        let events = events_by_id(&store, &dir);
        let mut present = Vec::new();
        let mut users_kept = 0;
        store
            .read(&dir, &mut |tx| {
                present.clear();
                users_kept = 0;
                for i in 0..BULK_USERS {
                    let name = format!("c{cycle}-u{i}@example.com");
                    let ids = tx.lookup(ResourceKind::User, IndexKey::UserName, &name)?;
                    assert!(ids.len() <= 1, "{name} stored twice");
                    let user = ids.first().cloned();
                    if let Some(id) = &user {
                        let kinds = events.get(id).cloned().unwrap_or_default();
                        assert_eq!(kinds, ["user.created"], "cycle {cycle}: events of {name}");
                    }
                    present.push(user.is_some());
                    users_kept += usize::from(user.is_some());
                    if i % 10 != 9 {
                        continue;
                    }
                    let gname = format!("c{cycle}-g{i}");
                    let gids = tx.lookup(ResourceKind::Group, IndexKey::DisplayName, &gname)?;
                    let Some(gid) = gids.first() else {
                        continue;
                    };
                    let uid = user.as_deref().unwrap_or_else(|| {
                        panic!("cycle {cycle}: group {gname} stored without its member's user")
                    });
                    assert!(
                        tx.is_member(gid, uid)?,
                        "cycle {cycle}: group {gname} lost its member"
                    );
                    let kinds = events.get(gid).cloned().unwrap_or_default();
                    assert!(
                        kinds.first().map(String::as_str) == Some("group.created"),
                        "cycle {cycle}: events of {gname}: {kinds:?}"
                    );
                    present.push(true);
                }
                Ok(())
            })
            .expect("read");
        // Every event belongs to a stored resource: nothing of a lost operation remains.
        store
            .read(&dir, &mut |tx| {
                for id in events.keys() {
                    let found = tx.get(ResourceKind::User, id)?.is_some()
                        || tx.get(ResourceKind::Group, id)?.is_some();
                    assert!(found, "cycle {cycle}: events for {id}, which is not stored");
                }
                Ok(())
            })
            .expect("read");
        // Operations run and commit in order: what survived is a prefix of the request.
        let kept = present.iter().take_while(|p| **p).count();
        assert!(
            present[kept..].iter().all(|p| !p),
            "cycle {cycle}: the surviving operations are not a prefix of the request"
        );
        if answered == Some(200) {
            assert_eq!(
                users_kept, BULK_USERS,
                "cycle {cycle}: the Bulk was answered, yet operations are missing"
            );
        }
        match users_kept {
            0 => none += 1,
            n if n == BULK_USERS => all += 1,
            _ => partial += 1,
        }
        eprintln!(
            "bulk kill cycle {cycle}: answered {answered:?}, {users_kept} of {BULK_USERS} users kept"
        );
        drop(store);
    }
    eprintln!("bulk kill: {none} cycles kept nothing, {partial} a prefix, {all} everything");
}

const FILL_MEMBERS: usize = 3000;
const FILL_CYCLES: u64 = 6;

#[test]
fn sigkill_during_a_large_group_fill_keeps_all_members_or_none() {
    let scratch = Scratch::new("fillkill");
    let data = scratch.0.join("data");
    let creds = scratch.0.join("credentials.json");
    let log = scratch.0.join("serve.log");

    // The users, once.
    let serve = Serve::start(&data, &creds, &log);
    let mut users = Vec::new();
    for chunk in 0..FILL_MEMBERS.div_ceil(1000) {
        let ops: Vec<Value> = (chunk * 1000..((chunk + 1) * 1000).min(FILL_MEMBERS))
            .map(|i| {
                json!({"method": "POST", "path": "/Users", "bulkId": format!("u{i}"),
                       "data": {"userName": format!("m{i}@example.com")}})
            })
            .collect();
        let r = serve.call(
            "POST",
            "/Bulk",
            Some(&json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
                "Operations": ops,
            })),
        );
        assert_eq!(r.status, 200);
        for op in r.json()["Operations"].as_array().unwrap() {
            assert_eq!(op["status"], "201", "{op}");
            let location = op["location"].as_str().unwrap();
            users.push(location.rsplit('/').next().unwrap().to_owned());
        }
    }
    assert_eq!(users.len(), FILL_MEMBERS);
    drop(serve);

    let mut next = rng(8);
    let (mut none, mut all) = (0, 0);
    for cycle in 0..FILL_CYCLES {
        let serve = Serve::start(&data, &creds, &log);
        let dir = serve.directory.clone();
        let r = serve.call(
            "POST",
            "/Groups",
            Some(&json!({"displayName": format!("fill-{cycle}")})),
        );
        assert_eq!(r.status, 201);
        let gid = r.json()["id"].as_str().unwrap().to_owned();
        let members: Vec<Value> = users.iter().map(|u| json!({"value": u})).collect();
        let patch = json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "add", "path": "members", "value": members}]
        });
        let answer = send_async(&serve, "PATCH", format!("/Groups/{gid}"), patch);
        // Spread over the fill: from before it starts to after it is answered.
        std::thread::sleep(Duration::from_millis(150 + cycle * 300 + next() % 300));
        serve.kill();
        let answered = answer.join().expect("sender");

        let store = survivors(&data);
        let mut rows = 0usize;
        store
            .read(&dir, &mut |tx| {
                rows = 0;
                tx.members(&gid, &mut |_| {
                    rows += 1;
                    true
                })
            })
            .expect("members");
        let kinds = events_by_id(&store, &dir).remove(&gid).unwrap_or_default();
        let added = kinds
            .iter()
            .filter(|k| k.as_str() == "group.members_added")
            .count();
        eprintln!("fill kill cycle {cycle}: answered {answered:?}, {rows} members");
        match rows {
            0 => {
                assert!(
                    !matches!(answered, Some(200 | 204)),
                    "cycle {cycle}: the fill was acknowledged and lost"
                );
                assert_eq!(
                    added, 0,
                    "cycle {cycle}: an event for a fill that is not stored"
                );
                none += 1;
            }
            n if n == FILL_MEMBERS => {
                assert_eq!(added, 1, "cycle {cycle}: the fill's event: {kinds:?}");
                all += 1;
            }
            n => panic!("cycle {cycle}: {n} of {FILL_MEMBERS} members after the kill"),
        }
        drop(store);
    }
    eprintln!("fill kill: {none} cycles kept no member, {all} every member");
}
