"""Keeps openapi/scim.yaml true (run by tests/openapi/run.sh, `make openapi`).

    check_spec.py SPEC --url TENANT_URL --token-file FILE --repo REPO

1. Routes: every SCIM endpoint the real server answers is described, and every described
   operation is answered. Probed on the live `serve`: every method on the RFC 7644
   endpoints, on each resource type's endpoint (as /ResourceTypes lists them), its
   `.search`, one of its resources, and on a few paths no SCIM server has. A route is
   answered when the server does not refuse it with 405 or with 404 "no SCIM endpoint".
2. Responses: the shared vectors (tests/vectors/*.json) are replayed through the Python
   bindings (bindings/python/tests/vectors.py, Engine.handle); every response to a
   described operation must have a described status, and its body and headers must
   validate against the schemas the description gives for that status.

Ends with `openapi-spec: N passed, M failed`; exits non-zero on any failure.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import jsonschema_rs
import yaml

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
SCIM_JSON = "application/scim+json"


class Spec:
    def __init__(self, path: Path) -> None:
        self.doc: Dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
        # Literal paths first, so /Users/.search is not taken for /Users/{id}.
        templates = sorted(self.doc["paths"], key=lambda t: ("{" in t, t))
        self.routes: List[Tuple[str, re.Pattern[str]]] = [
            (t, re.compile("^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(t)) + "$"))
            for t in templates
        ]
        self._validators: Dict[str, Any] = {}

    def template(self, path: str) -> Optional[str]:
        for t, rx in self.routes:
            if rx.match(path):
                return t
        return None

    def operation(self, path: str, method: str) -> Optional[Dict[str, Any]]:
        t = self.template(path)
        if t is None:
            return None
        return self.doc["paths"][t].get(method.lower())

    def resolve(self, obj: Dict[str, Any]) -> Dict[str, Any]:
        while "$ref" in obj:
            node: Any = self.doc
            for part in obj["$ref"].lstrip("#/").split("/"):
                node = node[part]
            obj = node
        return obj

    def validator(self, schema: Dict[str, Any]) -> Any:
        key = json.dumps(schema, sort_keys=True)
        if key not in self._validators:
            # The schema inside a root that holds the components, so that its
            # `#/components/...` references resolve.
            root = {
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "components": self.doc["components"],
                "allOf": [schema],
            }
            self._validators[key] = jsonschema_rs.Draft202012Validator(
                root, validate_formats=True
            )
        return self._validators[key]


class Tally:
    def __init__(self) -> None:
        self.passed = 0
        self.failures: List[str] = []

    def check(self, ok: bool, what: str) -> None:
        if ok:
            self.passed += 1
        else:
            self.failures.append(what)


# ---------------------------------------------------------------------------------------
# 1. routes, on the live server


def http(url: str, token: str, method: str, body: Optional[bytes]) -> Tuple[int, Dict[str, Any]]:
    req = urllib.request.Request(url, data=body, method=method)
    req.add_header("Authorization", f"Bearer {token}")
    if body is not None:
        req.add_header("Content-Type", SCIM_JSON)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            raw = r.read()
            status = r.status
    except urllib.error.HTTPError as e:
        raw = e.read()
        status = e.code
    try:
        parsed = json.loads(raw) if raw else {}
    except ValueError:
        parsed = {}
    return status, parsed if isinstance(parsed, dict) else {}


def routed(status: int, body: Dict[str, Any]) -> bool:
    if status == 405:
        return False
    detail = str(body.get("detail", ""))
    return not (status == 404 and detail.startswith("no SCIM endpoint"))


def check_routes(spec: Spec, base: str, token: str, tally: Tally) -> None:
    status, types = http(base + "/ResourceTypes", token, "GET", None)
    tally.check(status == 200, f"GET /ResourceTypes answered {status}")
    endpoints = [rt["endpoint"] for rt in types.get("Resources", [])]
    tally.check(
        sorted(endpoints) == ["/Groups", "/Users"],
        f"/ResourceTypes lists {endpoints}, the description has /Users and /Groups",
    )
    _, schemas = http(base + "/Schemas", token, "GET", None)
    schema_ids = [s["id"] for s in schemas.get("Resources", [])]
    candidates = ["/", "/.search", "/Bulk", "/ServiceProviderConfig", "/ResourceTypes",
                  "/ResourceTypes/User", "/Schemas", "/Schemas/" + schema_ids[0],
                  # RFC 7644 endpoints this server does not offer, and nonsense.
                  "/Me", "/Me/.search", "/Users/x/y", "/Bulk/x", "/ServiceProviderConfig/x",
                  "/Nope", "/.well-known/scim-configuration"]
    for e in endpoints:
        candidates += [e, e + "/.search", e + "/0190e7a4-0000-7000-8000-000000000000"]
    for path in candidates:
        for method in METHODS:
            body = b"{}" if method in ("POST", "PUT", "PATCH") else None
            status, answer = http(base + path, token, method, body)
            served = routed(status, answer)
            described = spec.operation(path, method) is not None
            tally.check(
                served == described,
                f"{method} {path}: the server {'answers' if served else 'refuses'} it "
                f"({status}) but the description {'has' if described else 'lacks'} it",
            )
            tally.check(status < 500, f"{method} {path}: {status} {answer}")


# ---------------------------------------------------------------------------------------
# 2. the shared vectors' responses


def check_exchange(
    spec: Spec, method: str, path: str, query: str, resp: Any, where: str, tally: Tally
) -> None:
    op = spec.operation(path, method)
    if op is None:
        tally.check(
            not routed(resp.status, _json(resp.body) or {}),
            f"{where}: {method} {path} answered {resp.status}, an operation the description lacks",
        )
        return
    documented = op.get("responses", {})
    entry = documented.get(str(resp.status))
    if entry is None:
        tally.check(False, f"{where}: {method} {path}: status {resp.status} is not described "
                           f"(described: {sorted(documented)})")
        return
    entry = spec.resolve(entry)
    content = entry.get("content")
    if not content:
        tally.check(not resp.body, f"{where}: {method} {path} {resp.status}: described without "
                                   f"a body, got {resp.body[:200]!r}")
        return
    ctype = (resp.header("Content-Type") or "").split(";")[0].strip()
    tally.check(ctype in content, f"{where}: {method} {path} {resp.status}: Content-Type "
                                  f"{ctype!r}, described {sorted(content)}")
    schema = content.get(ctype, next(iter(content.values()))).get("schema")
    body = _json(resp.body)
    if body is None:
        tally.check(False, f"{where}: {method} {path} {resp.status}: body is not JSON")
        return
    errors = [f"{e.message} at {list(e.instance_path)}"
              for e in spec.validator(schema).iter_errors(body)]
    tally.check(not errors, f"{where}: {method} {path}?{query} {resp.status}: "
                            + "; ".join(errors[:3]))
    for name, h in (entry.get("headers") or {}).items():
        value = resp.header(name)
        if value is not None and "schema" in spec.resolve(h):
            herrs = list(spec.validator(spec.resolve(h)["schema"]).iter_errors(value))
            tally.check(not herrs, f"{where}: {method} {path}: header {name}={value!r}: "
                                   + "; ".join(e.message for e in herrs[:2]))


def _json(raw: bytes) -> Optional[Any]:
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return None


def check_vectors(spec: Spec, repo: Path, tally: Tally) -> int:
    sys.path.insert(0, str(repo / "bindings" / "python" / "tests"))
    sys.path.insert(0, str(repo / "bindings" / "python"))
    import vectors  # noqa: E402  (the bindings' own runner)

    seen = 0
    for f in vectors.vector_files(repo):
        scenario = json.loads(f.read_text(encoding="utf-8"))
        count = [0]

        def observe(method: str, path: str, query: str, resp: Any) -> None:
            count[0] += 1
            check_exchange(spec, method, path, query, resp, f"{f.name} #{count[0]}", tally)

        vectors.run_scenario(f.name, scenario, observe)
        seen += count[0]
    return seen


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("spec", type=Path)
    ap.add_argument("--url", required=True)
    ap.add_argument("--token-file", type=Path, required=True)
    ap.add_argument("--repo", type=Path, required=True)
    args = ap.parse_args()
    spec = Spec(args.spec)
    tally = Tally()
    token = json.loads(args.token_file.read_text())["token"]
    check_routes(spec, args.url.rstrip("/"), token, tally)
    exchanges = check_vectors(spec, args.repo, tally)
    tally.check(exchanges >= 100, f"only {exchanges} vector exchanges were seen")
    for f in tally.failures:
        print("FAIL", f)
    print(f"openapi-spec: {exchanges} vector responses and the routes checked")
    print(f"openapi-spec: {tally.passed} passed, {len(tally.failures)} failed")
    return 1 if tally.failures else 0


if __name__ == "__main__":
    sys.exit(main())
