"""Engine, directories, tokens, handle() and the error mapping."""

from __future__ import annotations

import gc
import json
import threading
import urllib.parse

import pytest

import libscim
from conftest import Tenant, user


def test_library_loads() -> None:
    assert libscim.library_version() == libscim.__version__ == "1.0.0"
    assert libscim.library_path.endswith(("libscim.so", "libscim.dylib", "scim.dll"))


def test_directories_and_tokens(engine: libscim.Engine) -> None:
    d = engine.create_directory(
        {
            "name": "Acme",
            "domain": "acme.example",
            "idp": "entra",
            "services": ["uem", "access"],
            "settings": {"enforce_domain": True},
            "mapping_profile": "rfc",
        }
    )
    assert d["tenant_url"] == f"https://example.com/scim/v2/{d['id']}"
    assert engine.directory(d["id"]) == d
    assert [x["id"] for x in engine.directories()] == [d["id"]]
    updated = engine.update_directory(d["id"], {"settings": {"strict": True}})
    assert updated["settings"]["strict"] is True
    assert updated["name"] == "Acme"

    token = engine.issue_token(d["id"], 12)
    assert token["lifespan_months"] == 12 and token["secret"]
    path = f"/scim/v2/{d['id']}/Users"
    auth = {"Authorization": f"Bearer {token['secret']}"}
    assert engine.handle("GET", path, headers=auth).status == 200
    engine.revoke_token(d["id"])
    assert engine.handle("GET", path, headers=auth).status == 401

    engine.delete_directory(d["id"])
    assert engine.directories() == []


def test_handle_round_trip(tenant: Tenant) -> None:
    r = tenant.request("POST", "/Users", body=user("ada@acme.example"))
    assert r.status == 201, r.text
    created = r.json()
    assert r.header("etag") == 'W/"1"'
    assert r.header("Location") == f"{tenant.directory['tenant_url']}/Users/{created['id']}"
    assert r.raise_for_status() is r

    r = tenant.request(
        "GET", "/Users", query="filter=userName%20eq%20%22ada%40acme.example%22"
    )
    assert r.json()["totalResults"] == 1
    assert r.json()["Resources"][0]["id"] == created["id"]

    # Raw bytes with an explicit Content-Type, and headers as pairs.
    r = tenant.engine.handle(
        "PATCH",
        f"/scim/v2/{tenant.id}/Users/{created['id']}",
        headers=[
            ("Authorization", f"Bearer {tenant.secret}"),
            ("Content-Type", "application/scim+json"),
        ],
        body=b'{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],'
        b'"Operations":[{"op":"replace","path":"active","value":false}]}',
    )
    assert r.status == 200, r.text
    assert r.json()["active"] is False


def test_scim_error_response(tenant: Tenant) -> None:
    r = tenant.request("GET", "/Users/does-not-exist")
    assert r.status == 404 and not r.ok
    with pytest.raises(libscim.ScimError) as e:
        r.raise_for_status()
    assert e.value.status == 404
    assert e.value.detail

    r = tenant.request(
        "POST",
        "/Users",
        headers={"Content-Type": "application/scim+json"},
        body='{"userName":',
    )
    with pytest.raises(libscim.ScimError) as e:
        r.raise_for_status()
    assert (e.value.status, e.value.scim_type) == (400, "invalidSyntax")

    tenant.request("POST", "/Users", body=user("bob@acme.example")).raise_for_status()
    with pytest.raises(libscim.ScimError) as e:
        tenant.request("POST", "/Users", body=user("bob@acme.example")).raise_for_status()
    assert (e.value.status, e.value.scim_type) == (409, "uniqueness")
    assert e.value.body["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]


def test_errors_carry_code_and_message(engine: libscim.Engine) -> None:
    with pytest.raises(libscim.NotFoundError) as e:
        engine.directory("nope")
    assert e.value.code == libscim.Code.NOT_FOUND == 200
    assert e.value.name == "SCIM_RESULT_NOT_FOUND"
    assert e.value.message
    assert isinstance(e.value, libscim.LibscimError)

    spec = {"name": "Acme", "domain": "acme.example", "idp": "okta", "services": ["uem"]}
    engine.create_directory(spec)
    with pytest.raises(libscim.ConflictError) as c:
        engine.create_directory(spec)
    assert c.value.code == libscim.Code.CONFLICT

    # A rule broken: the message names the field.
    with pytest.raises(libscim.InvalidArgumentError) as a:
        engine.create_directory(dict(spec, name="bad/name"))
    assert a.value.code == libscim.Code.INVALID_ARGUMENT
    assert "name" in a.value.message

    # JSON of the wrong shape: an unknown key, a wrong type.
    with pytest.raises(libscim.InvalidArgumentError) as j:
        engine.create_directory(dict(spec, name="Other", colour="blue"))
    assert j.value.code == libscim.Code.INVALID_JSON
    with pytest.raises(libscim.InvalidArgumentError) as j:
        engine.update_directory(engine.directories()[0]["id"], {"services": "uem"})
    assert j.value.code == libscim.Code.INVALID_JSON
    with pytest.raises(libscim.InvalidArgumentError) as j:
        libscim.Engine(None, {"public_ur1": "https://example.com"})
    assert j.value.code == libscim.Code.INVALID_JSON

    with pytest.raises(libscim.InvalidArgumentError):
        engine.issue_token(engine.directories()[0]["id"], 99)
    # A header value with a NUL cannot cross C.
    with pytest.raises(ValueError):
        engine.handle("GET", "/scim/v2/x/Users", headers={"X": "a\0b"})


def test_handle_carries_every_part_of_the_request(tenant: Tenant) -> None:
    # handle() lays the request out in one buffer: multi-byte UTF-8 early on shifts every
    # later string, so what the library answers shows each one arrived whole.
    user = {
        "userName": "zoë.名@acme.example",
        "externalId": "é-1",
        "name": {"givenName": "Zoë", "familyName": "名前"},
        "emails": [{"value": "zoe@acme.example", "type": "work"}],
        "active": True,
    }
    r = tenant.engine.handle(
        "POST",
        f"/scim/v2/{tenant.id}/Users",
        headers=[
            ("X-Note", "café ☕"),
            ("Authorization", f"Bearer {tenant.secret}"),
            ("Content-Type", "application/scim+json"),
        ],
        body=json.dumps(user, ensure_ascii=False).encode("utf-8"),
    )
    assert r.status == 201, r.text
    created = r.json()
    assert created["userName"] == user["userName"]
    assert created["name"] == {"givenName": "Zoë", "familyName": "名前"}
    # Every response header, in the library's order.
    assert [k for k, _ in r.headers] == ["Content-Type", "ETag", "Location"]
    assert r.header("location") == f"{tenant.directory['tenant_url']}/Users/{created['id']}"
    assert r.header("ETag") == created["meta"]["version"]
    query = "filter=" + urllib.parse.quote(f'userName eq "{user["userName"]}"')
    listed = tenant.request("GET", "/Users", query=query).raise_for_status().json()
    assert [u["id"] for u in listed["Resources"]] == [created["id"]]
    # No body at all, and no headers: the library still answers (401, no token).
    bare = tenant.engine.handle("GET", f"/scim/v2/{tenant.id}/Users")
    assert bare.status == 401 and bare.json()["status"] == "401"
    # A NUL in any string is refused before the call, naming the string.
    with pytest.raises(libscim.InvalidArgumentError) as e:
        tenant.engine.handle("GET", f"/scim/v2/{tenant.id}/Users\0x")
    assert e.value.code == libscim.Code.INVALID_ARGUMENT and "Users" in e.value.message


def test_closed_handle_raises(engine: libscim.Engine) -> None:
    e = libscim.Engine()
    e.close()
    e.close()  # idempotent
    assert e.closed
    with pytest.raises(libscim.ClosedError):
        e.directories()
    with pytest.raises(libscim.ClosedError):
        e.handle("GET", "/scim/v2/x/Users")
    with pytest.raises(libscim.ClosedError):
        with e:
            pass
    with libscim.Engine() as e2:
        assert not e2.closed
    assert e2.closed
    with pytest.raises(libscim.ClosedError):
        e2.issue_token("x")


def test_engine_freed_when_collected() -> None:
    freed = []
    e = libscim.Engine()
    original = e._free
    e._free = lambda p: (freed.append(p), original(p))  # type: ignore[assignment]
    del e
    gc.collect()
    assert len(freed) == 1


def test_file_store_survives_reopen(tmp_path) -> None:  # type: ignore[no-untyped-def]
    db = tmp_path / "scim.db"
    with libscim.Engine(db) as e:
        d = e.create_directory(
            {"name": "Durable", "domain": "d.example", "idp": "okta", "services": ["uem"]}
        )
    with libscim.Engine(str(db)) as e:
        assert e.directory(d["id"])["name"] == "Durable"
    with pytest.raises(libscim.LibraryIOError):
        libscim.Engine(tmp_path / "no" / "such" / "dir" / "scim.db")


def test_threads_share_an_engine(tenant: Tenant) -> None:
    errors = []

    def work(n: int) -> None:
        try:
            for i in range(20):
                r = tenant.request("POST", "/Users", body=user(f"t{n}-{i}@acme.example"))
                assert r.status == 201, r.text
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert tenant.request("GET", "/Users", query="count=0").json()["totalResults"] == 160


def test_close_waits_for_calls_in_progress() -> None:
    e = libscim.Engine()
    d = e.create_directory(
        {"name": "Wait", "domain": "w.example", "idp": "okta", "services": ["uem"]}
    )
    got = []
    t = threading.Thread(target=lambda: got.append(e.next_events(d["id"], 10, 0.3)))
    t.start()
    import time

    time.sleep(0.1)
    e.close()  # must wait for next_events, not free under it
    t.join()
    assert got == [[]]
