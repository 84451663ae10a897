//! One version everywhere: Cargo.toml's (CARGO_PKG_VERSION), what the library answers at
//! run time (`scim_version`, `scim_version_number`) and the macros of the committed
//! include/scim.h (written by `make header` from Cargo.toml) agree.

use std::ffi::{c_char, CStr};

// Linked for its C ABI only (nothing of it is named in Rust here).
extern crate scim;

extern "C" {
    // The C ABI's own entry points (src/ffi/mod.rs), as a C host calls them.
    fn scim_version() -> *const c_char;
    fn scim_version_number() -> u32;
}

/// The value of `#define NAME value` in the header.
fn define<'a>(header: &'a str, name: &str) -> &'a str {
    let prefix = format!("#define {name} ");
    header
        .lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("include/scim.h has no {name}: run `make header`"))
}

#[test]
fn cargo_library_and_header_agree() {
    let cargo = env!("CARGO_PKG_VERSION");
    let runtime = unsafe { CStr::from_ptr(scim_version()) }.to_str().unwrap();
    assert_eq!(runtime, cargo);

    let part = |s: &str| s.parse::<u32>().unwrap();
    let (major, minor, patch) = (
        part(env!("CARGO_PKG_VERSION_MAJOR")),
        part(env!("CARGO_PKG_VERSION_MINOR")),
        part(env!("CARGO_PKG_VERSION_PATCH")),
    );
    assert_eq!(
        unsafe { scim_version_number() },
        major * 1_000_000 + minor * 1_000 + patch
    );

    let header =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/include/scim.h")).unwrap();
    assert_eq!(define(&header, "SCIM_VERSION_MAJOR"), major.to_string());
    assert_eq!(define(&header, "SCIM_VERSION_MINOR"), minor.to_string());
    assert_eq!(define(&header, "SCIM_VERSION_PATCH"), patch.to_string());
    assert_eq!(
        define(&header, "SCIM_VERSION_STRING"),
        format!("\"{cargo}\""),
        "include/scim.h is not Cargo.toml's version: run `make header`"
    );
}
