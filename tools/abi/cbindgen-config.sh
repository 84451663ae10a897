#!/bin/sh
# Print cbindgen's configuration for include/scim.h: cbindgen.toml with the version
# macros of Cargo.toml's version as `after_includes` (cbindgen cannot read the version
# itself). Used by `make header` and `make header-check` only, so the version lives in
# Cargo.toml alone.
# Usage: tools/abi/cbindgen-config.sh VERSION CONFIG   (VERSION like 0.1.0 or 1.0.0-rc.1)
set -eu
version=$1
config=$2
core=${version%%[-+]*}
major=${core%%.*}
rest=${core#*.}
minor=${rest%%.*}
patch=${rest#*.}
for part in "$major" "$minor" "$patch"; do
	case $part in '' | *[!0-9]*)
		echo "cbindgen-config.sh: version '$version' is not MAJOR.MINOR.PATCH" >&2
		exit 1
		;;
	esac
done
# A top-level key must precede the tables of cbindgen.toml, so it goes first.
cat <<TOML
after_includes = '''

/*
 * The version of this header, from the library's Cargo.toml. Compare it with
 * scim_version_number() at run time (see there).
 */
#define SCIM_VERSION_MAJOR $major
#define SCIM_VERSION_MINOR $minor
#define SCIM_VERSION_PATCH $patch
#define SCIM_VERSION_STRING "$version"
#define SCIM_VERSION_NUMBER (SCIM_VERSION_MAJOR * 1000000 + SCIM_VERSION_MINOR * 1000 + SCIM_VERSION_PATCH)'''

TOML
cat "$config"
