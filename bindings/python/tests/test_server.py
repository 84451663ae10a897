"""The built-in server, started from Python and driven with urllib."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from email.message import Message
from typing import Any, Dict, Optional, Tuple

import pytest

import libscim
from conftest import Tenant, user


def call(
    url: str, secret: str, method: str = "GET", body: Optional[Dict[str, Any]] = None
) -> Tuple[int, Message, Any]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("Authorization", f"Bearer {secret}")
    if data is not None:
        req.add_header("Content-Type", "application/scim+json")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            raw = r.read()
            return r.status, r.headers, json.loads(raw) if raw else None
    except urllib.error.HTTPError as e:
        raw = e.read()
        return e.code, e.headers, json.loads(raw) if raw else None


def test_server_over_http(tenant: Tenant) -> None:
    with libscim.Server(tenant.engine, listen="127.0.0.1:0") as server:
        assert server.host == "127.0.0.1" and server.port > 0
        assert server.url == f"http://{server.address}"
        base = f"{server.url}/scim/v2/{tenant.id}"

        status, _, body = call(f"{base}/ServiceProviderConfig", tenant.secret)
        assert status == 200 and body["patch"]["supported"] is True

        status, headers, created = call(
            f"{base}/Users", tenant.secret, "POST", user("grace@acme.example")
        )
        assert status == 201
        assert headers["ETag"] == 'W/"1"'

        # The same store answers through handle() and over HTTP.
        assert tenant.request("GET", f"/Users/{created['id']}").status == 200
        status, _, listed = call(f"{base}/Users", tenant.secret)
        assert listed["totalResults"] == 1

        status, headers, err = call(f"{base}/Users", "wrong-token")
        assert status == 401
        assert err["status"] == "401"

        status, _, _ = call(f"{base}/Users/{created['id']}", tenant.secret, "DELETE")
        assert status == 204
    assert server.closed
    server.stop()  # idempotent
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"{base}/Users", timeout=2)


def test_server_outlives_closed_engine() -> None:
    engine = libscim.Engine(None, {"public_url": "http://127.0.0.1"})
    d = engine.create_directory(
        {"name": "S", "domain": "s.example", "idp": "generic", "services": ["access"]}
    )
    secret = engine.issue_token(d["id"])["secret"]
    server = engine.serve()
    engine.close()  # the server keeps its own reference
    try:
        status, _, body = call(f"{server.url}/scim/v2/{d['id']}/Users", secret)
        assert status == 200 and body["totalResults"] == 0
    finally:
        server.stop()


def test_admin_api(tenant: Tenant) -> None:
    admin = "adm-" + "0123456789abcdef" * 2
    with libscim.Server(tenant.engine, admin={"credential": admin}) as server:
        status, _, body = call(f"{server.url}/admin/api/directories/{tenant.id}", admin)
        assert status == 200 and body["id"] == tenant.id and "tenantUrl" in body
        # Never a SCIM token.
        status, headers, err = call(f"{server.url}/admin/api/directories", tenant.secret)
        assert status == 401 and err["status"] == "401"
        assert headers["WWW-Authenticate"] == 'Bearer realm="libscim-admin"'
    with pytest.raises(libscim.InvalidArgumentError):
        libscim.Server(tenant.engine, admin={"credential": tenant.secret})


def test_server_errors(engine: libscim.Engine) -> None:
    with pytest.raises(libscim.InvalidArgumentError):
        libscim.Server(engine, tls_cert="cert.pem")
    with pytest.raises(libscim.InvalidArgumentError) as e:
        libscim.Server(engine, listen="not an address")
    assert e.value.code == libscim.Code.INVALID_JSON
    with libscim.Server(engine) as first:
        with pytest.raises(libscim.LibraryIOError):
            libscim.Server(engine, listen=first.address)


def test_scim2_client(tenant: Tenant) -> None:
    """Optional: the scim2-client library against the server, when it is installed."""
    scim2_client = pytest.importorskip("scim2_client.engines.httpx")
    httpx = pytest.importorskip("httpx")
    from scim2_models import User

    with libscim.Server(tenant.engine) as server:
        http = httpx.Client(
            base_url=f"{server.url}/scim/v2/{tenant.id}",
            headers={"Authorization": f"Bearer {tenant.secret}"},
        )
        client = scim2_client.SyncSCIMClient(http, resource_models=[User])
        client.discover()
        created = client.create(User(user_name="linus@acme.example"))
        assert created.id
        assert client.query(User, created.id).user_name == "linus@acme.example"
        http.close()
