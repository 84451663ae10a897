"""A runner for the shared SCIM vectors (tests/vectors/*.json) through Engine.handle.

Same semantics as the reference runner, tests/vectors.rs (see tests/vectors/README.md):
substitution of ${name}, captures, subset matching with $any/$string/$number/
$datetime/$absent/$contains/$unordered. The vectors address a bare provider at
https://example.com/scim/v2; through the C ABI every request goes to a directory, so
each scenario gets a new in-memory engine, a directory ("generic" IdP, "rfc" mapping
profile, the scenario's `strict`, and `fill_domain` off: a bare provider fills no
domain), a token, ${base} = the directory's tenant URL, and request paths prefixed with
/scim/v2/<directory-id>.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

import libscim

PUBLIC_URL = "https://example.com"
_MATCHERS = ("$any", "$string", "$number", "$datetime")
_RFC3339 = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$"
)


class VectorError(Exception):
    """The vector itself is malformed (not a mismatch)."""


def subst(s: str, vars: Dict[str, str]) -> str:
    """Replace every ${name}; an unknown variable is a VectorError."""
    out: List[str] = []
    rest = s
    while "${" in rest:
        start = rest.index("${")
        out.append(rest[:start])
        after = rest[start + 2 :]
        if "}" not in after:
            raise VectorError(f"unterminated ${{ in {s!r}")
        name = after[: after.index("}")]
        if not re.fullmatch(r"[A-Za-z0-9_]+", name) or name not in vars:
            raise VectorError(f"unknown variable ${{{name}}} in {s!r}")
        out.append(vars[name])
        rest = after[after.index("}") + 1 :]
    out.append(rest)
    return "".join(out)


def subst_value(v: Any, vars: Dict[str, str]) -> Any:
    if isinstance(v, str):
        return subst(v, vars)
    if isinstance(v, list):
        return [subst_value(x, vars) for x in v]
    if isinstance(v, dict):
        return {k: subst_value(x, vars) for k, x in v.items()}
    return v


def is_rfc3339(s: str) -> bool:
    m = _RFC3339.match(s)
    if not m:
        return False
    mo, d, h, mi, sec = (int(m.group(i)) for i in (2, 3, 4, 5, 6))
    return 1 <= mo <= 12 and 1 <= d <= 31 and h <= 23 and mi <= 59 and sec <= 60


def _array_matcher(o: Dict[str, Any]) -> Optional[Tuple[str, List[Any]]]:
    if len(o) == 1:
        (k, v), = o.items()
        if k in ("$contains", "$unordered") and isinstance(v, list):
            return k, v
    return None


def _short(v: Any) -> str:
    s = json.dumps(v, ensure_ascii=False)
    return s if len(s) <= 120 else s[:120] + "…"


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


_MISSING = object()


def match(expected: Any, actual: Any, at: str, errs: List[str]) -> None:
    """Subset-match; append one line per mismatch. ``actual`` is _MISSING when absent."""
    loc = at or "/"
    if isinstance(expected, str) and expected in _MATCHERS:
        if actual is _MISSING:
            errs.append(f"{loc}: missing (expected {expected})")
            return
        ok = {
            "$any": actual is not None,
            "$string": isinstance(actual, str),
            "$number": _is_number(actual),
            "$datetime": isinstance(actual, str) and is_rfc3339(actual),
        }[expected]
        if not ok:
            errs.append(f"{loc}: expected {expected}, got {_short(actual)}")
        return
    if isinstance(expected, dict):
        if actual is _MISSING:
            errs.append(f"{loc}: missing (expected {_short(expected)})")
            return
        am = _array_matcher(expected)
        if am:
            kind, items = am
            if not isinstance(actual, list):
                errs.append(f"{loc}: expected an array ({kind}), got {_short(actual)}")
                return
            if kind == "$contains":
                for i, e in enumerate(items):
                    if not any(matches(e, a) for a in actual):
                        errs.append(f"{loc}: no element matches $contains[{i}] {_short(e)}")
            elif len(actual) != len(items):
                errs.append(
                    f"{loc}: expected {len(items)} elements ($unordered), got {len(actual)}"
                )
            elif not _unordered(items, actual):
                errs.append(f"{loc}: elements do not match {_short(expected)} in any order")
            return
        if not isinstance(actual, dict):
            errs.append(f"{loc}: expected an object, got {_short(actual)}")
            return
        for k, e in expected.items():
            if k == "$absent":
                for name in e:
                    if name in actual:
                        errs.append(f"{at}/{name}: must be absent, got {_short(actual[name])}")
            else:
                key = k.replace("~", "~0").replace("/", "~1")
                match(e, actual.get(k, _MISSING), f"{at}/{key}", errs)
        return
    if isinstance(expected, list):
        if actual is _MISSING:
            errs.append(f"{loc}: missing (expected {_short(expected)})")
        elif not isinstance(actual, list):
            errs.append(f"{loc}: expected an array, got {_short(actual)}")
        elif len(actual) != len(expected):
            errs.append(f"{loc}: expected {len(expected)} elements, got {len(actual)}")
        else:
            for i, (e, a) in enumerate(zip(expected, actual)):
                match(e, a, f"{at}/{i}", errs)
        return
    if actual is _MISSING:
        errs.append(f"{loc}: missing (expected {_short(expected)})")
    elif _is_number(expected):
        if not (_is_number(actual) and float(expected) == float(actual)):
            errs.append(f"{loc}: expected {expected}, got {_short(actual)}")
    elif type(expected) is not type(actual) or expected != actual:
        errs.append(f"{loc}: expected {_short(expected)}, got {_short(actual)}")


def matches(expected: Any, actual: Any) -> bool:
    errs: List[str] = []
    match(expected, actual, "", errs)
    return not errs


def _unordered(expected: List[Any], actual: List[Any]) -> bool:
    used = [False] * len(actual)

    def go(i: int) -> bool:
        if i == len(expected):
            return True
        for j, a in enumerate(actual):
            if not used[j] and matches(expected[i], a):
                used[j] = True
                if go(i + 1):
                    return True
                used[j] = False
        return False

    return go(0)


def match_body(expected: Any, body: bytes) -> List[str]:
    if not body:
        return ["body: expected JSON, got an empty body"]
    try:
        actual = json.loads(body)
    except ValueError as e:
        return [f"body: not JSON ({e}): {body.decode('utf-8', 'replace')}"]
    errs: List[str] = []
    match(expected, actual, "", errs)
    return errs


# ---------------------------------------------------------------------------------------


def build_request(
    req: Dict[str, Any], vars: Dict[str, str]
) -> Tuple[str, str, str, List[Tuple[str, str]], bytes]:
    headers = [(k, subst(v, vars)) for k, v in (req.get("headers") or {}).items()]
    if req.get("raw_body") is not None:
        body = subst(req["raw_body"], vars).encode("utf-8")
    elif req.get("body") is not None:
        body = json.dumps(
            subst_value(req["body"], vars), separators=(",", ":"), ensure_ascii=False
        ).encode("utf-8")
    else:
        body = b""
    if body and not any(k.lower() == "content-type" for k, _ in headers):
        headers.append(("Content-Type", "application/scim+json"))
    return (
        subst(req["method"], vars),
        subst(req["path"], vars),
        subst(req.get("query", ""), vars),
        headers,
        body,
    )


def check_response(
    exp: Dict[str, Any], resp: libscim.Response, vars: Dict[str, str]
) -> List[str]:
    errs: List[str] = []
    if resp.status != exp["status"]:
        errs.append(f"status: expected {exp['status']}, got {resp.status}")
    for name, want in (exp.get("headers") or {}).items():
        got = resp.header(name)
        if want == "$absent":
            if got is not None:
                errs.append(f"header {name}: must be absent, got {got!r}")
        elif got is None:
            errs.append(f"header {name}: missing (expected {want!r})")
        elif want != "$any":
            try:
                w = subst(want, vars)
            except VectorError as e:
                errs.append(f"header {name}: {e}")
                continue
            if w != got:
                errs.append(f"header {name}: expected {w!r}, got {got!r}")
    if exp.get("empty_body") is True and resp.body:
        errs.append(f"body: expected empty, got {resp.text}")
    if exp.get("body") is not None:
        try:
            errs.extend(match_body(subst_value(exp["body"], vars), resp.body))
        except VectorError as e:
            errs.append(f"expect.body: {e}")
    return errs


def _pointer(doc: Any, ptr: str) -> Any:
    if ptr == "":
        return doc
    for raw in ptr.split("/")[1:]:
        part = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(doc, dict) and part in doc:
            doc = doc[part]
        elif isinstance(doc, list) and part.isdigit() and int(part) < len(doc):
            doc = doc[int(part)]
        else:
            return _MISSING
    return doc


def capture(spec: Dict[str, str], resp: libscim.Response, vars: Dict[str, str]) -> List[str]:
    errs: List[str] = []
    try:
        body: Any = json.loads(resp.body)
    except ValueError:
        body = _MISSING
    for name, src in spec.items():
        got: Any
        if src.startswith("header:"):
            got = resp.header(src[len("header:") :])
            got = _MISSING if got is None else got
        else:
            got = _MISSING if body is _MISSING else _pointer(body, src)
            if got is not _MISSING and not isinstance(got, str):
                got = json.dumps(got, separators=(",", ":"), ensure_ascii=False)
        if got is _MISSING:
            errs.append(f"capture {name}: {src} not found in the response")
        else:
            vars[name] = got
    return errs


class StepFailure:
    """One failing step: where, the mismatches, and the response."""

    def __init__(self, where: str, errs: List[str], resp: Optional[libscim.Response], text: str):
        self.where = where
        self.errs = errs
        self.resp = resp
        self.text = text

    def __str__(self) -> str:
        return self.text


def run_scenario(
    fname: str,
    scenario: Dict[str, Any],
    observe: Optional[Callable[[str, str, str, libscim.Response], None]] = None,
) -> Tuple[int, List[StepFailure]]:
    """Run every step; return (number of steps, one failure per failing step).

    `observe(method, path, query, response)`, when given, sees every exchange (the path
    as the vector writes it, below the base URL): tests/openapi/check_spec.py validates
    the responses against the OpenAPI description."""
    name = scenario["name"]
    config = scenario.get("config") or {}
    strict = bool(config.get("strict", False))
    engine_config: Dict[str, Any] = {"public_url": PUBLIC_URL}
    if "cursor_timeout_secs" in config:
        engine_config["provider"] = {"cursor_timeout_secs": config["cursor_timeout_secs"]}
    failures: List[StepFailure] = []
    with libscim.Engine(None, engine_config) as engine:
        d = engine.create_directory(
            {
                "name": "vectors",
                "domain": "example.com",
                "idp": "generic",
                "services": ["access"],
                "mapping_profile": "rfc",
                # A bare provider (what the vectors describe) fills no domain into
                # the ws1b extension.
                "settings": {"strict": strict, "fill_domain": False},
            }
        )
        secret = engine.issue_token(d["id"])["secret"]
        prefix = f"/scim/v2/{d['id']}"
        vars: Dict[str, str] = {"base": d["tenant_url"]}
        for i, step in enumerate(scenario["steps"]):
            sname = step.get("name", f"#{i + 1}")
            where = f"{fname} › {name} › step {i + 1} \"{sname}\""
            try:
                method, path, query, headers, body = build_request(step["request"], vars)
            except VectorError as e:
                msg = f"cannot build request: {e}"
                failures.append(StepFailure(where, [msg], None, f"{where}: {msg}"))
                continue
            resp = engine.handle(
                method,
                prefix + path,
                query,
                [("Authorization", f"Bearer {secret}")] + headers,
                body,
            )
            if observe is not None:
                observe(method, path, query, resp)
            # Capture first: this step's expectations may use what it captures.
            errs = capture(step.get("capture") or {}, resp, vars)
            errs += check_response(step["expect"], resp, vars)
            if errs:
                q = f"?{query}" if query else ""
                lines = [f"{where}: {method} {path}{q}"] + [f"    - {e}" for e in errs]
                lines.append(f"    actual: {resp.status} {resp.headers}")
                try:
                    pretty = json.dumps(resp.json(), indent=2, ensure_ascii=False)
                except ValueError:
                    pretty = resp.text or "(empty)"
                lines += ["      " + ln for ln in pretty.splitlines()]
                failures.append(StepFailure(where, errs, resp, "\n".join(lines)))
    return len(scenario["steps"]), failures


def vector_files(repo: Path) -> List[Path]:
    return sorted((repo / "tests" / "vectors").glob("*.json"))
