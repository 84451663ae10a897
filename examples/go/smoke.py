#!/usr/bin/env python3
"""Run the Go example briefly, as `make go-test` does: start it on a free loopback port,
provision a user through its SCIM endpoint with the token it printed, read the user back,
see the change event it prints, then stop it with SIGTERM (it must exit cleanly).

    python3 examples/go/smoke.py target/go/scim-example
"""

from __future__ import annotations

import json
import queue
import re
import signal
import subprocess
import sys
import threading
import urllib.request

TIMEOUT = 60  # seconds for each step: generous, the CI machine is shared


def main() -> None:
    proc = subprocess.Popen(
        [sys.argv[1], "-listen", "127.0.0.1:0"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    lines: "queue.Queue[str]" = queue.Queue()
    threading.Thread(target=lambda: [lines.put(l) for l in proc.stdout], daemon=True).start()

    def wait_for(pattern: str) -> "re.Match[str]":
        seen = []
        while True:
            try:
                line = lines.get(timeout=TIMEOUT)
            except queue.Empty:
                raise SystemExit(f"no line matching {pattern!r}; got: {seen}")
            seen.append(line)
            m = re.search(pattern, line)
            if m:
                return m

    try:
        tenant = wait_for(r"^tenant URL: (http://\S+)").group(1)
        token = wait_for(r"^token:\s+(scim_\S+)").group(1)
        user = {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "ada@example.com",
            "name": {"givenName": "Ada", "familyName": "Lovelace"},
            "emails": [{"value": "ada@example.com", "type": "work", "primary": True}],
        }
        auth = {"Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"}
        req = urllib.request.Request(
            f"{tenant}/Users", data=json.dumps(user).encode(), headers=auth, method="POST"
        )
        with urllib.request.urlopen(req, timeout=TIMEOUT) as r:
            assert r.status == 201, r.status
            created = json.load(r)
        req = urllib.request.Request(f"{tenant}/Users/{created['id']}", headers=auth)
        with urllib.request.urlopen(req, timeout=TIMEOUT) as r:
            assert r.status == 200 and json.load(r)["userName"] == "ada@example.com"
        event = wait_for(r"^event 1: user\.created User (\S+) ")
        assert event.group(1) == created["id"], event.group(0)
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=TIMEOUT)
        assert code == 0, f"exit code {code}"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    print(f"go example: served {tenant}, provisioned {created['id']}, stopped cleanly")


if __name__ == "__main__":
    main()
