"""The Python types against the one definition of every JSON value of the ABI:
``include/schema/*.json``, generated from the library's Rust types. A ``TypedDict`` has
exactly its schema's properties; the error kinds and codes are the library's."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, Optional, Set

import pytest

import libscim
from libscim import _types as t

SCHEMA = Path(__file__).resolve().parents[3] / "include" / "schema"


def schema(name: str) -> Dict[str, Any]:
    return json.loads((SCHEMA / f"{name}.json").read_text())


def properties(s: Dict[str, Any], defs: Dict[str, Any]) -> Set[str]:
    """The property names of a schema: of an object, or of every branch of a union."""
    if "$ref" in s:
        return properties(defs[s["$ref"].rsplit("/", 1)[1]], defs)
    names = set(s.get("properties", {}))
    for key in ("oneOf", "anyOf", "allOf"):
        for branch in s.get(key, []):
            if branch.get("type") != "null":
                names |= properties(branch, defs)
    return names


CASES = [
    (t.EngineConfig, "engine_config", None),
    (t.ProviderConfig, "engine_config", "Config"),
    (t.EventRetention, "engine_config", "EventRetention"),
    (t.NewDirectory, "new_directory", None),
    (t.DirectorySettings, "directory", "DirectorySettings"),
    (t.DirectoryUpdate, "directory_update", None),
    (t.Directory, "directory", None),
    (t.TokenInfo, "directory", "TokenInfo"),
    (t.LoginInfo, "directory", "LoginInfo"),
    (t.IssuedToken, "issued_token", None),
    (t.Event, "event", None),
    (t.EventGroup, "event_group", None),
    (t.EventStats, "event_stats", None),
    (t.Mapping, "mapping", None),
    (t.MappingEntry, "mapping_entry", None),
    (t.Transform, "mapping_entry", "Transform"),
    (t.FoundUser, "found_user", "FoundUser"),
    (t.OidcSettings, "oidc_settings", None),
    (t.OidcConfig, "oidc_settings", "OidcConfig"),
    (t.LoginStart, "login_start", None),
    (t.Login, "login", None),
    (t.ServerOptions, "server_options", None),
    (t.RateLimitOptions, "server_options", "RateLimitJson"),
    (t.AdminOptions, "server_options", "AdminJson"),
]


@pytest.mark.parametrize("cls,name,definition", CASES, ids=[c[0].__name__ for c in CASES])
def test_typed_dict_has_the_schema_properties(
    cls: type, name: str, definition: Optional[str]
) -> None:
    s = schema(name)
    defs = s.get("$defs", {})
    target = defs[definition] if definition else s
    assert set(cls.__annotations__) == properties(target, defs)


def test_every_type_is_checked() -> None:
    assert {c[0].__name__ for c in CASES} == set(t.__all__)


def test_error_kinds_are_the_library_s() -> None:
    kinds = schema("error_kinds")["kinds"]
    assert {k["code"]: k["kind"] for k in kinds} == libscim.KINDS
    codes = {k: v for k, v in vars(libscim.Code).items() if k.isupper() and k != "OK"}
    assert {k["result"]: k["code"] for k in kinds} == {
        f"SCIM_RESULT_{k}": v for k, v in codes.items()
    }
