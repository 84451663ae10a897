//! Files the store makes are its owner's alone (issue 14, item 5): the SQLite database
//! and the WAL and shared-memory files SQLite creates beside it later are mode 0600,
//! whatever the process's umask.
#![cfg(unix)]

use scim::directory::{IdpKind, NewDirectory, Service};
use scim::{Engine, EngineConfig};
use std::os::unix::fs::PermissionsExt;

fn mode(p: &std::path::Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[test]
fn database_wal_and_shm_are_private() {
    // The common default, which leaves new files readable by everyone.
    unsafe { libc::umask(0o022) };
    let dir = std::env::temp_dir().join(format!("libscim-files-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("libscim.db");
    let engine = Engine::open(Some(&db), EngineConfig::default()).unwrap();
    let d = engine
        .create_directory(&NewDirectory {
            name: "Files".into(),
            domain: "files.example".into(),
            idp: IdpKind::Okta,
            services: vec![Service::Uem],
            settings: Default::default(),
            mapping_profile: None,
        })
        .unwrap();
    engine.issue_token(&d.id, None).unwrap();
    // Written and read: the WAL and the shared-memory index exist now.
    assert!(engine.directory(&d.id).unwrap().token.is_some());
    for name in ["libscim.db", "libscim.db-wal", "libscim.db-shm"] {
        let path = dir.join(name);
        assert!(path.exists(), "{name} missing");
        assert_eq!(mode(&path), 0o600, "{name}");
    }
    drop(engine);
    std::fs::remove_dir_all(&dir).unwrap();
}
