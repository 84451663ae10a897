"""The shared SCIM vectors (tests/vectors/*.json), replayed through Engine.handle."""

from __future__ import annotations

import json
from typing import Any, List

import pytest

from conftest import REPO
from vectors import match, run_scenario, subst, vector_files, VectorError

FILES = vector_files(REPO)


def test_vectors_exist() -> None:
    assert len(FILES) >= 9


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_vector_file(path: Any) -> None:
    scenario = json.loads(path.read_text(encoding="utf-8"))
    steps, failures = run_scenario(path.name, scenario)
    assert not failures, f"{len(failures)} of {steps} steps failed:\n\n" + "\n\n".join(
        str(f) for f in failures
    )


def _ok(e: Any, a: Any) -> bool:
    errs: List[str] = []
    match(e, a, "", errs)
    return not errs


def test_matcher_self_test() -> None:
    """The matcher itself, so a matcher bug can't make every vector pass."""
    assert _ok({"a": 1}, {"a": 1, "b": 2})
    assert not _ok({"a": 1}, {"b": 1})
    assert not _ok({"a": 1}, {"a": "1"})
    assert _ok({"n": 1}, {"n": 1.0})
    assert not _ok({"t": True}, {"t": 1})
    assert not _ok({"z": None}, {})
    assert not _ok({"$absent": ["m"]}, {"m": None})
    assert not _ok([{"v": 1}, {"v": 2}], [{"v": 2}, {"v": 1}])
    assert not _ok([{"v": 1}], [{"v": 1}, {"v": 2}])
    assert _ok({"$contains": [{"v": 2}]}, [{"v": 1}, {"v": 2}])
    assert not _ok({"$contains": [{"v": 3}]}, [{"v": 1}])
    assert _ok({"$unordered": [{"v": 2}, {"v": 1}]}, [{"v": 1}, {"v": 2}])
    assert not _ok({"$unordered": [{"v": 1}, {"v": 1}]}, [{"v": 1}, {"v": 2}])
    assert _ok({"a": "$any"}, {"a": False})
    assert not _ok({"a": "$any"}, {"a": None})
    assert not _ok({"a": "$number"}, {"a": "3"})
    assert not _ok({"a": "$number"}, {"a": True})
    assert _ok({"a": "$datetime"}, {"a": "2024-05-01T12:00:00.123+02:00"})
    assert not _ok({"a": "$datetime"}, {"a": "2024-13-01T12:00:00Z"})
    assert subst("${base}/Users/${u}", {"base": "B", "u": "1"}) == "B/Users/1"
    with pytest.raises(VectorError):
        subst("${nope}", {})
    with pytest.raises(VectorError):
        subst("${u", {"u": "1"})
