//! Build script: link settings of the C shared library only (no code generation).

fn main() {
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        // Give the cdylib its soname (`libscim.so.<major>`), so `make install` can ship
        // `libscim.so.<version>` with the usual links and programs record the major version.
        // Only the cdylib is affected: the rlib, the staticlib and the tests link as before.
        let major = std::env::var("CARGO_PKG_VERSION_MAJOR").unwrap_or_else(|_| "0".into());
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libscim.so.{major}");
        // Export the C ABI only. The version script states the rule (`scim_*`); since
        // rustc's own script names every `#[no_mangle]` function of every crate linked
        // in, `--exclude-libs,ALL` is what keeps a dependency's (in its archive) local.
        // `make exports-check` fails on any other exported symbol.
        let map = std::path::Path::new(&std::env::var("CARGO_MANIFEST_DIR").unwrap())
            .join("tools/abi/libscim.map");
        println!(
            "cargo:rustc-cdylib-link-arg=-Wl,--version-script={}",
            map.display()
        );
        println!("cargo:rustc-cdylib-link-arg=-Wl,--exclude-libs,ALL");
        println!("cargo:rerun-if-changed=tools/abi/libscim.map");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
