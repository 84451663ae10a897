#!/usr/bin/env bash
# External SCIM 2.0 compliance suites against the `serve` example.
#
#   tests/compliance/run.sh            (normally through `make compliance`)
#
# Starts `serve --idp generic` on a free loopback port with a fresh data directory,
# runs scim2-tester (through `scim2 test`) and `scim-sanity probe` against the tenant
# URL, and fails unless every scim2-tester check is SUCCESS and scim-sanity reports no
# FAIL/ERROR/WARN and skips only the non-SCIM agent extensions (draft-abbey-scim-agent-
# extension: Agent, AgenticApplication). Ends with `compliance: N passed, M failed`.
#
# Environment:
#   VENV        venv holding the pinned suites (default: <repo>/.venv; see requirements.txt)
#   SERVE_BIN   prebuilt serve binary (default: cargo build --release --example serve)
#   CARGO       cargo command (default: cargo)
#   SUITE_TIMEOUT  seconds each suite may run (default: 120)
#   KEEP_LOGS   set to 1 to keep the temp directory (server log, suite outputs)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
VENV="${VENV:-$root/.venv}"
case "$VENV" in /*) ;; *) VENV="$root/$VENV" ;; esac
CARGO="${CARGO:-cargo}"
SUITE_TIMEOUT="${SUITE_TIMEOUT:-120}"
py="$VENV/bin/python"

for tool in "$py" "$VENV/bin/scim2" "$VENV/bin/scim-sanity"; do
    if [[ ! -x "$tool" ]]; then
        echo "compliance: $tool missing; run 'make compliance' (installs tests/compliance/requirements.txt into $VENV)" >&2
        exit 2
    fi
done

if [[ -z "${SERVE_BIN:-}" ]]; then
    (cd "$root" && $CARGO build --release --quiet --example serve)
    SERVE_BIN="$root/target/release/examples/serve"
fi

tmp="$(mktemp -d "${TMPDIR:-/tmp}/libscim-compliance.XXXXXX")"
source "$here/serve.sh"
cleanup() {
    local rc=$?
    serve_stop
    if [[ "${KEEP_LOGS:-0}" == 1 ]]; then
        echo "compliance: logs kept in $tmp" >&2
    else
        rm -rf "$tmp"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if ! serve_start compliance "$py" "$SERVE_BIN" "$tmp"; then
    echo "compliance: 0 passed, 1 failed"
    exit 1
fi
echo "compliance: serve (pid $server_pid) ready at $tenant_url"

# --- scim2-tester, through scim2-cli. The token goes in the environment, not argv.
echo "== scim2-tester (scim2 test) =="
set +e
SCIM_CLI_HEADERS="Authorization: Bearer $token" NO_COLOR=1 \
    timeout "$SUITE_TIMEOUT" "$VENV/bin/scim2" --url "$tenant_url" test --verbose \
    >"$tmp/scim2-tester.txt" 2>&1
tester_rc=$?
set -e
# Each check with its one-line reason; the verbose data lines are only shown for failures.
awk '/^[A-Z]+ / { print; keep = 1; next } keep && /^  / { print; keep = 0; next } { keep = 0 }
     !/^  / && !/^[A-Z]+ / { print }' "$tmp/scim2-tester.txt"

# --- scim-sanity probe (strict mode, JSON report). It only takes the token as a flag;
# the token is a throwaway one for this run's temporary directory.
echo "== scim-sanity probe =="
set +e
timeout "$SUITE_TIMEOUT" "$VENV/bin/scim-sanity" probe "$tenant_url" --token "$token" \
    --strict --json-output --i-accept-side-effects --timeout 10 --user-domain example.com \
    >"$tmp/scim-sanity.json" 2>"$tmp/scim-sanity.err"
sanity_rc=$?
set -e

"$py" "$here/summarize.py" \
    --tester "$tmp/scim2-tester.txt" --tester-rc "$tester_rc" \
    --sanity "$tmp/scim-sanity.json" --sanity-err "$tmp/scim-sanity.err" --sanity-rc "$sanity_rc"
