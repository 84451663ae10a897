"""Which refusal: every failure raises the class of the kind the library set, with its
``code`` and ``kind`` (one kind per ``scim_result`` code)."""

from __future__ import annotations

from typing import Any, Callable, Type

import pytest

import libscim
from conftest import Tenant

KEY_A = "00" * 32
KEY_B = "ff" * 32
DIRECTORY = {"name": "Kinds", "domain": "example.com", "idp": "okta", "services": ["uem"]}
OIDC = {
    "client_id": "c",
    "client_secret": "s3cret",
    "config_url": "https://idp.example.com/.well-known/openid-configuration",
}


def refused(cls: Type[libscim.LibscimError], code: int, kind: str, f: Callable[[], Any]) -> str:
    with pytest.raises(cls) as e:
        f()
    assert type(e.value) is cls
    assert (e.value.code, e.value.kind) == (code, kind)
    return e.value.message


def test_each_refusal_has_its_kind(tenant: Tenant) -> None:
    C = libscim.Code
    e = tenant.engine
    refused(libscim.NotFoundError, C.NOT_FOUND, "not_found", lambda: e.directory("nope"))
    refused(
        libscim.ConflictError, C.CONFLICT, "conflict",
        lambda: e.create_directory(dict(DIRECTORY, name="Acme", domain="acme.example")),
    )
    refused(
        libscim.InvalidArgumentError, C.INVALID_ARGUMENT, "invalid_argument",
        lambda: e.issue_token(tenant.id, 25),
    )
    refused(
        libscim.InvalidArgumentError, C.INVALID_JSON, "invalid_json",
        lambda: e.create_directory({"name": "x", "colour": "blue"}),
    )
    refused(libscim.ConflictError, C.CONFLICT, "conflict", lambda: e.ack_events(tenant.id, 99))
    refused(
        libscim.WrongStateError, C.WRONG_STATE, "wrong_state", lambda: e.login_begin(tenant.id)
    )


def test_a_bad_secrets_key_is_not_io(tmp_path) -> None:  # type: ignore[no-untyped-def]
    C = libscim.Code
    message = refused(
        libscim.SecretsKeyError, C.SECRETS_KEY, "secrets_key",
        lambda: libscim.Engine(None, {"secrets_key": "not hex"}),
    )
    assert "secrets_key" in message
    refused(
        libscim.LibraryIOError, C.IO, "io",
        lambda: libscim.Engine(tmp_path / "no" / "such" / "scim.db"),
    )
    # A client secret sealed with one key opens with no other (nor without one).
    db = tmp_path / "scim.db"
    with libscim.Engine(db, {"secrets_key": KEY_A}) as e:
        d = e.create_directory(DIRECTORY)
        e.configure_oidc(d["id"], OIDC)
    for config in ({"secrets_key": KEY_B}, None):
        with libscim.Engine(db, config) as e:
            refused(
                libscim.SecretsKeyError, C.SECRETS_KEY, "secrets_key",
                lambda: e.login_begin(d["id"]),
            )


def test_every_code_has_a_kind_and_a_class() -> None:
    codes = {v for k, v in vars(libscim.Code).items() if k.isupper() and k != "OK"}
    assert set(libscim.KINDS) == codes
    assert len(set(libscim.KINDS.values())) == len(codes)
    for code in codes:
        err = libscim._error._BY_CODE[code](code, "m")
        assert err.kind == libscim.KINDS[code]
        assert err.name == "SCIM_RESULT_" + err.kind.upper()
