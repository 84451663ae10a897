#!/usr/bin/env bash
# Hostile input against a real server, and the OpenAPI description kept true.
#
#   tests/openapi/run.sh            (normally through `make openapi`)
#
# Starts `serve --idp generic` on a free loopback port with a fresh data directory (the
# same start-up as the compliance suites: tests/compliance/serve.sh), then:
#   1. tests/openapi/check_spec.py: the routes the server answers are exactly those of
#      openapi/scim.yaml, and every response to the shared vectors (replayed through the
#      Python bindings) validates against its schemas;
#   2. schemathesis, seeded and with a bounded example budget, fuzzes every operation of
#      openapi/scim.yaml (examples, coverage, fuzzing and stateful phases; valid and
#      invalid data) and fails on any 5xx or any response that breaks the schema.
# Ends with `openapi: N passed, M failed` (the two parts).
#
# Environment:
#   VENV        venv holding tests/openapi/requirements.txt (default: <repo>/.venv-openapi)
#   SERVE_BIN   prebuilt serve binary (default: cargo build --release --example serve)
#   LIBSCIM_LIBRARY  the shared library for the vectors (default: target/release/libscim.so)
#   SCHEMATHESIS_SEED, SCHEMATHESIS_MAX_EXAMPLES  (default 20260, 50: about a minute idle, five on a loaded 2-core machine)
#   KEEP_LOGS   set to 1 to keep the temp directory (server log, schemathesis report)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
VENV="${VENV:-$root/.venv-openapi}"
case "$VENV" in /*) ;; *) VENV="$root/$VENV" ;; esac
CARGO="${CARGO:-cargo}"
py="$VENV/bin/python"
seed="${SCHEMATHESIS_SEED:-20260}"
max_examples="${SCHEMATHESIS_MAX_EXAMPLES:-50}"

for tool in "$py" "$VENV/bin/schemathesis"; do
    if [[ ! -x "$tool" ]]; then
        echo "openapi: $tool missing; run 'make openapi' (installs tests/openapi/requirements.txt into $VENV)" >&2
        exit 2
    fi
done
if [[ -z "${SERVE_BIN:-}" ]]; then
    (cd "$root" && $CARGO build --release --quiet --example serve)
    SERVE_BIN="$root/target/release/examples/serve"
fi
export LIBSCIM_LIBRARY="${LIBSCIM_LIBRARY:-$root/target/release/libscim.so}"

tmp="$(mktemp -d "${TMPDIR:-/tmp}/libscim-openapi.XXXXXX")"
source "$root/tests/compliance/serve.sh"
cleanup() {
    local rc=$?
    serve_stop
    if [[ "${KEEP_LOGS:-0}" == 1 ]]; then
        echo "openapi: logs kept in $tmp" >&2
    else
        rm -rf "$tmp"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if ! serve_start openapi "$py" "$SERVE_BIN" "$tmp"; then
    echo "openapi: 0 passed, 1 failed"
    exit 1
fi
echo "openapi: serve (pid $server_pid) ready at $tenant_url"

passed=0
failed=0

echo "== the description against the server and the shared vectors =="
if "$py" "$here/check_spec.py" "$root/openapi/scim.yaml" --url "$tenant_url" \
    --token-file "$tmp/creds.json" --repo "$root"; then
    passed=$((passed + 1))
else
    failed=$((failed + 1))
fi

echo "== schemathesis (seed $seed, at most $max_examples examples per operation) =="
# The token is a throwaway one for this run's temporary directory (as for scim-sanity).
set +e
"$VENV/bin/schemathesis" run "$root/openapi/scim.yaml" \
    --url "$tenant_url" \
    --header "Authorization: Bearer $token" \
    --checks not_a_server_error,response_schema_conformance \
    --phases examples,coverage,fuzzing,stateful \
    --mode all --seed "$seed" --max-examples "$max_examples" \
    --workers 2 --request-timeout 30 --no-color \
    --suppress-health-check all \
    --report junit --report-dir "$tmp/report" \
    >"$tmp/schemathesis.txt" 2>&1
st_rc=$?
set -e
cat "$tmp/schemathesis.txt"
if [[ $st_rc -eq 0 ]]; then
    passed=$((passed + 1))
else
    failed=$((failed + 1))
    echo "openapi: schemathesis failed (exit $st_rc); server log:" >&2
    grep -v 'token' "$tmp/server.log" | tail -20 >&2 || true
fi
echo "openapi: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
