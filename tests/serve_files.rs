//! The `serve` example keeps its data private (issue 14, item 5): the data directory is
//! 0700 (also when it existed wider), the database with its WAL and SHM files 0600, and a
//! `secrets.key` that is a symbolic link is refused, never written through.
#![cfg(unix)]

#[path = "support/serve.rs"]
mod support;

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};
use support::{serve_binary, Killed};

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

fn start(serve: &Path, data: &Path) -> Command {
    let mut c = Command::new(serve);
    c.args(["--listen", "127.0.0.1:0", "--data"])
        .arg(data)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

#[test]
fn data_directory_database_and_key_are_private() {
    let serve = serve_binary();
    let root = std::env::temp_dir().join(format!("libscim-serve-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).unwrap();

    // An existing, world-readable data directory.
    let data = root.join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut child = Killed(start(&serve, &data).spawn().unwrap());
    let mut out = BufReader::new(child.0.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert!(line.contains("libscim is serving"), "{line:?}");
    assert_eq!(mode(&data), 0o700);
    for name in [
        "libscim.db",
        "libscim.db-wal",
        "libscim.db-shm",
        "secrets.key",
    ] {
        let path = data.join(name);
        assert!(path.exists(), "{name} missing");
        assert_eq!(mode(&path), 0o600, "{name}");
    }
    drop(child);

    // A secrets.key that is a link to elsewhere: refused, and nothing is written there.
    let data = root.join("linked");
    std::fs::create_dir(&data).unwrap();
    let elsewhere = root.join("elsewhere.key");
    std::os::unix::fs::symlink(&elsewhere, data.join("secrets.key")).unwrap();
    let run = start(&serve, &data).output().unwrap();
    assert_eq!(run.status.code(), Some(1));
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(err.contains("symbolic link"), "{err}");
    assert!(!elsewhere.exists());

    std::fs::remove_dir_all(&root).unwrap();
}
