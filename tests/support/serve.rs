//! The `serve` example as a process (included with `#[path]`).
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Child, Command};

/// The `serve` example, built by the same cargo, in the same profile, as this test.
pub fn serve_binary() -> PathBuf {
    // target/<profile>/deps/<this test> → target/<profile>/examples/serve
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().unwrap().parent().unwrap().to_owned();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut build = Command::new(cargo);
    build
        .args(["build", "--quiet", "--example", "serve"])
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    if profile_dir.ends_with("release") {
        build.arg("--release");
    }
    assert!(
        build.status().expect("cargo runs").success(),
        "building the serve example failed"
    );
    profile_dir.join("examples").join("serve")
}

/// A child process killed (and reaped) when dropped.
pub struct Killed(pub Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
