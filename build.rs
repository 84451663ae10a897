//! Build script: link settings of the C shared library only (no code generation).

fn main() {
    // Give the cdylib its soname (`libscim.so.0`), so `make install` can ship
    // `libscim.so.0.1.0` with the usual links and programs record the major version.
    // Only the cdylib is affected: the rlib, the staticlib and the tests link as before.
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        let major = std::env::var("CARGO_PKG_VERSION_MAJOR").unwrap_or_else(|_| "0".into());
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libscim.so.{major}");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
