#!/bin/sh
# Install the wheel where a user would: a fresh virtualenv in a temporary directory
# outside the repository, with nothing from a registry (--no-index) and no
# LIBSCIM_LIBRARY; run the example from there and check what it prints.
#
#   bindings/python/check_wheel.sh target/wheels/libscim-*.whl [python3]
set -eu
wheel=$(realpath "$1")
python=${2:-python3}
example=$(realpath "$(dirname "$0")/../../examples/python/provision.py")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp "$example" "$tmp/provision.py"
cd "$tmp"
unset LIBSCIM_LIBRARY PYTHONPATH
"$python" -m venv venv
venv/bin/python -m pip install --quiet --disable-pip-version-check --no-index "$wheel"
# The library loaded is the one inside the installed package.
venv/bin/python -c '
import sys, libscim
from libscim import _ffi
path = str(_ffi.library_path)
assert path.startswith(sys.prefix + "/"), path
print("libscim", libscim.__version__, "loaded from", path)
'
venv/bin/python provision.py > out.txt
fail() { echo "check_wheel: $1; the example printed:" >&2; cat out.txt >&2; exit 1; }
# Three users provisioned, one deactivated: the events with each service's record.
grep -q '^#1 user.created ' out.txt || fail "no user.created event"
[ "$(grep -c ' user.created ' out.txt)" -eq 3 ] || fail "not 3 user.created events"
grep -q ' user.deactivated ' out.txt || fail "no user.deactivated event"
grep -q '^  uem: {.*"email": "ada.lovelace@acme.example"' out.txt || fail "no mapped uem record for ada"
grep -q '^  access: {' out.txt || fail "no mapped access record"
grep -q '^resync: 3 users re-sent$' out.txt || fail "resync did not re-send 3 users"
grep -q '^find_user: grace.hopper@acme.example$' out.txt || fail "find_user did not find grace"
echo "check_wheel: $(basename "$wheel") installed in a fresh venv in $tmp; the example ran and printed the mapped records"
