"""Shared fixtures: the repository root, and a fresh engine with one directory."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, Iterator

import pytest

import libscim

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture
def engine() -> Iterator[libscim.Engine]:
    with libscim.Engine(None, {"public_url": "https://example.com"}) as e:
        yield e


class Tenant:
    """A directory with its token, and a helper that sends SCIM requests to it."""

    def __init__(self, engine: libscim.Engine, directory: Dict[str, Any], secret: str):
        self.engine = engine
        self.directory = directory
        self.id: str = directory["id"]
        self.secret = secret

    def request(self, method: str, path: str, **kw: Any) -> libscim.Response:
        headers = dict(kw.pop("headers", None) or {})
        headers.setdefault("Authorization", f"Bearer {self.secret}")
        return self.engine.handle(method, f"/scim/v2/{self.id}{path}", headers=headers, **kw)


@pytest.fixture
def tenant(engine: libscim.Engine) -> Tenant:
    d = engine.create_directory(
        {"name": "Acme", "domain": "acme.example", "idp": "okta", "services": ["uem"]}
    )
    return Tenant(engine, d, engine.issue_token(d["id"])["secret"])


def user(name: str, **extra: Any) -> Dict[str, Any]:
    """A minimal SCIM user."""
    body: Dict[str, Any] = {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": name,
        "externalId": "ext-" + name,
        "name": {"givenName": name.split("@")[0].title(), "familyName": "Example"},
        "emails": [{"value": name, "type": "work", "primary": True}],
        "active": True,
    }
    body.update(extra)
    return body
