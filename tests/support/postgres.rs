//! A throwaway PostgreSQL cluster for a test (included with `#[path]`): `initdb` into a
//! fresh directory, the server run as the `postgres` user (never as root), listening only
//! on a Unix socket in that directory, stopped and removed when the [`Postgres`] drops
//! (also when the test panics). When PostgreSQL cannot start, the test fails, saying why.
//!
//! The binaries are Debian's (`postgresql` package); `SCIM_PG_BIN` overrides their
//! directory.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// How long the server may take to accept connections (a loaded CI machine).
const START_TIMEOUT: Duration = Duration::from_secs(120);
/// The port number (only names the socket file; nothing listens on TCP).
const PORT: u16 = 5432;

pub struct Postgres {
    root: PathBuf,
    server: Option<Child>,
    databases: AtomicUsize,
}

fn bin_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("SCIM_PG_BIN") {
        return PathBuf::from(dir);
    }
    let base = Path::new("/usr/lib/postgresql");
    let mut versions: Vec<u32> = std::fs::read_dir(base)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .collect();
    versions.sort();
    match versions.last() {
        Some(v) => base.join(v.to_string()).join("bin"),
        None => panic!(
            "PostgreSQL is not installed (no {}/<version>/bin): install Debian's \
             `postgresql` package (`make pg-deps`), or set SCIM_PG_BIN",
            base.display()
        ),
    }
}

/// Run `program args` as the `postgres` user when we are root (PostgreSQL refuses to run
/// as root), as ourselves otherwise.
fn as_postgres(program: &Path) -> Command {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        let mut c = Command::new("runuser");
        c.arg("-u").arg("postgres").arg("--").arg(program);
        c
    } else {
        Command::new(program)
    }
}

fn chown_to_postgres(path: &Path) {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return;
    }
    let out = Command::new("chown")
        .arg("postgres:postgres")
        .arg(path)
        .output()
        .expect("run chown");
    assert!(
        out.status.success(),
        "cannot give {} to the postgres user: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Postgres {
    /// Start a fresh cluster; panics (failing the test) with the reason when it cannot.
    pub fn start() -> Postgres {
        static CLUSTERS: AtomicUsize = AtomicUsize::new(0);
        let bin = bin_dir();
        // Short: a Unix socket's path is limited to ~100 bytes.
        let root = std::env::temp_dir().join(format!(
            "scim-pg-{}-{}",
            std::process::id(),
            CLUSTERS.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).expect("create the cluster's directory");
        chown_to_postgres(&root);
        let mut pg = Postgres {
            root: root.clone(),
            server: None,
            databases: AtomicUsize::new(0),
        };
        let data = root.join("data");
        let out = as_postgres(&bin.join("initdb"))
            .arg("-D")
            .arg(&data)
            .args(["-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync"])
            // A default collation that is not byte order (as on most servers), so the tests
            // show that ordering does not depend on it.
            .args(["--locale-provider=icu", "--icu-locale=en-US"])
            .env("LC_ALL", "C.UTF-8")
            .output()
            .expect("run initdb");
        assert!(
            out.status.success(),
            "initdb failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        std::fs::File::create(root.join("server.log")).expect("create the log");
        chown_to_postgres(&root.join("server.log"));
        pg.spawn(&bin);
        pg
    }

    /// Start the postmaster on the cluster's data (appending to its log) and wait until it
    /// accepts connections.
    fn spawn(&mut self, bin: &Path) {
        let root = &self.root;
        let log = std::fs::OpenOptions::new()
            .append(true)
            .open(root.join("server.log"))
            .expect("open the log");
        let server = as_postgres(&bin.join("postgres"))
            .arg("-D")
            .arg(root.join("data"))
            .arg("-k")
            .arg(root)
            .args(["-p", &PORT.to_string()])
            .args(["-c", "listen_addresses="])
            // Throwaway data: no fsync (the tests check behaviour, not durability).
            .args(["-c", "fsync=off", "-c", "full_page_writes=off"])
            .args(["-c", "max_connections=200", "-c", "shared_buffers=16MB"])
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("start postgres");
        self.server = Some(server);
        self.wait_ready(bin);
    }

    /// Stop the server as an operator's restart does (fast shutdown: open connections
    /// are closed, committed data kept); [`Postgres::resume`] starts it again.
    pub fn stop(&mut self) {
        self.shutdown(libc::SIGINT);
    }

    /// Start the server stopped by [`Postgres::stop`] again, on the same data and socket.
    pub fn resume(&mut self) {
        assert!(self.server.is_none(), "the server is running");
        self.spawn(&bin_dir());
    }

    /// Signal the postmaster and wait until it exited.
    fn shutdown(&mut self, signal: libc::c_int) {
        let Some(mut server) = self.server.take() else {
            return;
        };
        // The postmaster's pid is the first line of postmaster.pid (runuser forks).
        let pid = std::fs::read_to_string(self.root.join("data/postmaster.pid"))
            .ok()
            .and_then(|s| s.lines().next()?.trim().parse::<i32>().ok());
        if let Some(pid) = pid {
            // SAFETY: kill has no memory preconditions.
            unsafe { libc::kill(pid, signal) };
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        while server.try_wait().ok().flatten().is_none() {
            if Instant::now() > deadline {
                let _ = server.kill();
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = server.wait();
    }

    fn wait_ready(&mut self, bin: &Path) {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(status) = self
                .server
                .as_mut()
                .and_then(|s| s.try_wait().ok().flatten())
            {
                panic!(
                    "PostgreSQL exited at start ({status}): {}",
                    std::fs::read_to_string(self.root.join("server.log")).unwrap_or_default()
                );
            }
            let ready = as_postgres(&bin.join("pg_isready"))
                .arg("-h")
                .arg(&self.root)
                .args(["-p", &PORT.to_string(), "-U", "postgres", "-q"])
                .status()
                .is_ok_and(|s| s.success());
            if ready {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "PostgreSQL did not accept connections within {START_TIMEOUT:?}: {}",
                std::fs::read_to_string(self.root.join("server.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The URL of database `name` on this cluster.
    pub fn url(&self, name: &str) -> String {
        let socket_dir: String = self
            .root
            .to_str()
            .expect("a UTF-8 temp dir")
            .bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect();
        format!("postgres://postgres@{socket_dir}:{PORT}/{name}")
    }

    /// Run SQL on database `db` through `psql`; panics when it fails.
    pub fn psql(&self, db: &str, sql: &str) -> String {
        let out = as_postgres(&bin_dir().join("psql"))
            .arg("-h")
            .arg(&self.root)
            .args(["-p", &PORT.to_string(), "-U", "postgres", "-d", db])
            .args(["-v", "ON_ERROR_STOP=1", "-XAtq", "-c", sql])
            .output()
            .expect("run psql");
        assert!(
            out.status.success(),
            "psql {sql:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// A new, empty database; returns its URL.
    pub fn fresh_database(&self) -> String {
        let name = format!("scim{}", self.databases.fetch_add(1, Ordering::SeqCst));
        self.psql("postgres", &format!("CREATE DATABASE {name}"));
        self.url(&name)
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        // SIGQUIT: immediate shutdown; the data is thrown away anyway.
        self.shutdown(libc::SIGQUIT);
        let _ = std::fs::remove_dir_all(&self.root);
    }
}
