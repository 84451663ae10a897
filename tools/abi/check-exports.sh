#!/bin/sh
# Fail unless every symbol LIBRARY exports (defined dynamic symbols) is a scim_ one, and
# (with SONAME) unless its soname is SONAME.
# Usage: tools/abi/check-exports.sh LIBRARY [SONAME]
set -eu
lib=$1
symbols=$(nm -D --defined-only "$lib" | awk '{print $NF}')
if [ -z "$symbols" ]; then
	echo "$lib: exports no symbol at all" >&2
	exit 1
fi
others=$(printf '%s\n' "$symbols" | grep -v '^scim_' || true)
if [ -n "$others" ]; then
	echo "$lib exports symbols outside the C ABI (only scim_* may be exported):" >&2
	printf '  %s\n' $others >&2
	exit 1
fi
if [ $# -ge 2 ]; then
	soname=$(readelf -d "$lib" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
	if [ "$soname" != "$2" ]; then
		echo "$lib: soname is '$soname', expected '$2'" >&2
		exit 1
	fi
fi
echo "$lib: $(printf '%s\n' "$symbols" | wc -l) symbols, all scim_*${2:+, soname $2}"
