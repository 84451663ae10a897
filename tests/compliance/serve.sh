# tests/compliance/serve.sh: start and stop the `serve` example for a test run against a
# real server (sourced by tests/compliance/run.sh and tests/openapi/run.sh).
#
#   source tests/compliance/serve.sh
#   serve_start LABEL PY SERVE_BIN TMPDIR [extra serve flags…]
#       Starts `serve --idp generic` on a free loopback port with a fresh data directory
#       under TMPDIR (retrying on another port if the one picked was taken in between),
#       waits until the credentials file is complete and /healthz answers, and sets
#       server_pid, tenant_url and token. Returns 1 when it never became ready.
#   serve_stop
#       SIGTERM (graceful), then SIGKILL after 5 s; a no-op when nothing runs.

server_pid=""
tenant_url=""
token=""

serve_start() {
    local label="$1" py="$2" bin="$3" tmp="$4"
    shift 4
    local started="" attempt port deadline
    for attempt in 1 2 3; do
        port="$("$py" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"
        rm -rf "$tmp/data" "$tmp/creds.json"
        "$bin" --listen "127.0.0.1:$port" --data "$tmp/data" --idp generic \
            --domain example.com --credentials-file "$tmp/creds.json" "$@" \
            >"$tmp/server.log" 2>&1 &
        server_pid=$!
        deadline=$((SECONDS + 15))
        while ((SECONDS < deadline)); do
            if ! kill -0 "$server_pid" 2>/dev/null; then break; fi
            # Ready: the credentials file is complete and /healthz answers 200.
            if "$py" - "$tmp/creds.json" "http://127.0.0.1:$port/healthz" 2>/dev/null <<'PY'; then
import json, sys, urllib.request
creds = json.load(open(sys.argv[1]))
assert creds["tenant_url"] and creds["token"]
sys.exit(0 if urllib.request.urlopen(sys.argv[2], timeout=1).status == 200 else 1)
PY
                started=1
                break
            fi
            sleep 0.2
        done
        [[ -n "$started" ]] && break
        kill -TERM "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
        server_pid=""
        echo "$label: serve did not become ready on port $port (attempt $attempt):" >&2
        grep -v 'token' "$tmp/server.log" | tail -5 >&2 || true
    done
    [[ -n "$started" ]] || return 1
    tenant_url="$("$py" -c 'import json, sys; print(json.load(open(sys.argv[1]))["tenant_url"])' "$tmp/creds.json")"
    token="$("$py" -c 'import json, sys; print(json.load(open(sys.argv[1]))["token"])' "$tmp/creds.json")"
}

serve_stop() {
    if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
        kill -TERM "$server_pid" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    server_pid=""
}
