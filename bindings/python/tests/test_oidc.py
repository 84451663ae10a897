"""OpenID Connect login: configure, begin, complete, and ID-token validation end to end
against a loopback OpenID provider run inside the test (http.server on a thread, an
Ed25519 key made by the `cryptography` package)."""

from __future__ import annotations

import base64
import json
import socket
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, Iterator, List, Optional
from urllib.parse import parse_qs, urlsplit

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

import libscim
from conftest import Tenant, user

CLIENT_ID = "libscim-python-tests"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class Provider:
    """A minimal OpenID provider on 127.0.0.1: discovery, JWKS, and a token endpoint
    that answers with the ID token :attr:`next_id_token` builds."""

    def __init__(self) -> None:
        self.key = ed25519.Ed25519PrivateKey.generate()
        self.kid = "k1"
        self.requests: List[str] = []
        self.token_requests: List[Dict[str, List[str]]] = []
        #: Called with the token request's form; returns the token response's id_token.
        self.next_id_token: Optional[Any] = None
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # keep pytest output clean
                pass

            def _send(self, status: int, body: Dict[str, Any]) -> None:
                raw = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def do_GET(self) -> None:
                provider.requests.append(self.path)
                if self.path == "/.well-known/openid-configuration":
                    self._send(200, provider.discovery())
                elif self.path == "/jwks":
                    self._send(200, provider.jwks())
                else:
                    self._send(404, {"error": "not_found"})

            def do_POST(self) -> None:
                provider.requests.append(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                form = parse_qs(self.rfile.read(length).decode())
                if self.path != "/token" or provider.next_id_token is None:
                    self._send(400, {"error": "invalid_request"})
                    return
                provider.token_requests.append(form)
                self._send(
                    200,
                    {
                        "access_token": "opaque-access-token",
                        "token_type": "Bearer",
                        "expires_in": 300,
                        "id_token": provider.next_id_token(form),
                    },
                )

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.issuer = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def discovery(self) -> Dict[str, Any]:
        return {
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.issuer}/authorize",
            "token_endpoint": f"{self.issuer}/token",
            "jwks_uri": f"{self.issuer}/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["EdDSA"],
            "code_challenge_methods_supported": ["S256"],
        }

    def jwks(self) -> Dict[str, Any]:
        raw = self.key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        return {
            "keys": [
                {
                    "kty": "OKP",
                    "crv": "Ed25519",
                    "kid": self.kid,
                    "use": "sig",
                    "alg": "EdDSA",
                    "x": b64url(raw),
                }
            ]
        }

    def id_token(self, nonce: str, email: str, **claims: Any) -> str:
        """A signed ID token for ``email`` (verified), valid for five minutes."""
        now = int(time.time())
        payload: Dict[str, Any] = {
            "iss": self.issuer,
            "aud": CLIENT_ID,
            "sub": "sub-" + email,
            "email": email,
            "email_verified": True,
            "iat": now,
            "exp": now + 300,
            "nonce": nonce,
        }
        payload.update(claims)
        header = {"alg": "EdDSA", "typ": "JWT", "kid": self.kid}
        signing_input = (
            b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(payload).encode())
        )
        signature = self.key.sign(signing_input.encode("ascii"))
        return signing_input + "." + b64url(signature)

    def config(self, **extra: Any) -> Dict[str, Any]:
        config = {
            "client_id": CLIENT_ID,
            "client_secret": "s3cret",
            "config_url": f"{self.issuer}/.well-known/openid-configuration",
            "allow_http": True,
            "allowed_algs": ["EdDSA", "ES256"],
        }
        config.update(extra)
        return config


@pytest.fixture
def provider() -> Iterator[Provider]:
    p = Provider()
    p.thread.start()
    try:
        yield p
    finally:
        p.server.shutdown()
        p.server.server_close()
        p.thread.join(5)


def test_configure(tenant: Tenant) -> None:
    engine = tenant.engine
    config = {
        "client_id": CLIENT_ID,
        "client_secret": "s3cret",
        "config_url": "http://idp.example.com/.well-known/openid-configuration",
    }
    with pytest.raises(libscim.InvalidArgumentError) as e:
        engine.configure_oidc(tenant.id, config)  # plain http without allow_http
    assert "http" in e.value.message
    assert not engine.directory(tenant.id).get("login")

    config["config_url"] = "https://idp.example.com/.well-known/openid-configuration"
    d = engine.configure_oidc(tenant.id, config)
    assert d["id"] == tenant.id
    assert d["login"]["redirect_uri"] == f"https://example.com/login/{tenant.id}/callback"
    assert engine.directory(tenant.id)["login"] == d["login"]

    with pytest.raises(libscim.InvalidArgumentError):  # not a mapped user attribute
        engine.configure_oidc(tenant.id, config, attribute="shoeSize")
    with pytest.raises(libscim.InvalidArgumentError):  # unknown config field
        engine.configure_oidc(tenant.id, dict(config, colour="blue"))
    with pytest.raises(libscim.NotFoundError):
        engine.configure_oidc("no-such-directory", config)


def test_login_without_oidc_is_wrong_state(tenant: Tenant) -> None:
    with pytest.raises(libscim.WrongStateError):
        tenant.engine.login_begin(tenant.id)
    with pytest.raises(libscim.WrongStateError):
        tenant.engine.login_complete(tenant.id, "code", "state")


def test_forged_state_is_refused(tenant: Tenant, provider: Provider) -> None:
    tenant.engine.configure_oidc(tenant.id, provider.config())
    with pytest.raises(libscim.LoginRefusedError) as e:
        tenant.engine.login_complete(tenant.id, "some-code", "forged-" + uuid.uuid4().hex)
    err = e.value
    assert err.code == libscim.Code.LOGIN_REFUSED == 203
    assert err.name == "SCIM_RESULT_LOGIN_REFUSED"
    assert err.login_code == "state_unknown"
    assert err.message.startswith("state_unknown: ")
    assert err.detail and not err.detail.startswith("state_unknown")
    assert isinstance(err, libscim.LibscimError)
    assert provider.token_requests == []  # refused before any token exchange


def test_unreachable_provider_is_idp_failed(tenant: Tenant) -> None:
    # A port nothing listens on (bound, then closed).
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    tenant.engine.configure_oidc(
        tenant.id,
        {
            "client_id": CLIENT_ID,
            "client_secret": "s3cret",
            "config_url": f"http://127.0.0.1:{port}/.well-known/openid-configuration",
            "allow_http": True,
        },
    )
    with pytest.raises(libscim.IdentityProviderError) as e:
        tenant.engine.login_begin(tenant.id)
    assert e.value.code == libscim.Code.IDP_FAILED == 302
    assert e.value.login_code == "discovery_failed"
    assert e.value.message.startswith("discovery_failed: ")


def test_validate_id_token_end_to_end(tenant: Tenant, provider: Provider) -> None:
    engine = tenant.engine
    d = engine.configure_oidc(tenant.id, provider.config())
    assert d["login"]["redirect_uri"].endswith(f"/login/{tenant.id}/callback")

    r = tenant.request("POST", "/Users", body=user("ada@acme.example"))
    r.raise_for_status()
    ada = r.json()

    nonce = uuid.uuid4().hex
    login = engine.validate_id_token(
        tenant.id, provider.id_token(nonce, "Ada@Acme.example"), nonce
    )
    assert login["user"]["id"] == ada["id"]
    assert login["user"]["resource"]["userName"] == "ada@acme.example"
    assert login["user"]["record"]["email"] == "ada@acme.example"
    assert login["claims"]["iss"] == provider.issuer
    assert login["claims"]["email"] == "Ada@Acme.example"
    assert "/.well-known/openid-configuration" in provider.requests
    assert "/jwks" in provider.requests

    # The nonce the host sent is not the one in the token.
    with pytest.raises(libscim.LoginRefusedError) as e:
        engine.validate_id_token(tenant.id, provider.id_token(nonce, "ada@acme.example"), "x")
    assert e.value.login_code == "nonce_mismatch"

    # A token signed by another key.
    other = Provider()
    other.server.server_close()
    other.issuer = provider.issuer
    with pytest.raises(libscim.LoginRefusedError) as e:
        engine.validate_id_token(tenant.id, other.id_token(nonce, "ada@acme.example"), nonce)
    assert e.value.login_code in ("invalid_signature", "unknown_key")

    # Expired (beyond the default 60 s leeway).
    past = int(time.time()) - 3600
    with pytest.raises(libscim.LoginRefusedError) as e:
        engine.validate_id_token(
            tenant.id,
            provider.id_token(nonce, "ada@acme.example", iat=past, exp=past + 300),
            nonce,
        )
    assert e.value.login_code == "expired"

    # Nobody provisioned with that email.
    with pytest.raises(libscim.LoginRefusedError) as e:
        engine.validate_id_token(tenant.id, provider.id_token(nonce, "eve@acme.example"), nonce)
    assert e.value.login_code == "not_provisioned"

    # Deactivated over SCIM: the login is refused.
    tenant.request(
        "PATCH",
        f"/Users/{ada['id']}",
        body={
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "path": "active", "value": False}],
        },
    ).raise_for_status()
    with pytest.raises(libscim.LoginRefusedError) as e:
        engine.validate_id_token(tenant.id, provider.id_token(nonce, "ada@acme.example"), nonce)
    assert e.value.login_code == "user_deactivated"
    assert e.value.message.startswith("user_deactivated: ")


def test_login_begin_and_complete_round_trip(tenant: Tenant, provider: Provider) -> None:
    engine = tenant.engine
    engine.configure_oidc(tenant.id, provider.config())
    r = tenant.request("POST", "/Users", body=user("ada@acme.example"))
    r.raise_for_status()

    start = engine.login_begin(tenant.id)
    assert set(start) >= {"authorization_url", "state", "expires_at"}
    url = urlsplit(start["authorization_url"])
    assert f"{url.scheme}://{url.netloc}{url.path}" == f"{provider.issuer}/authorize"
    q = {k: v[0] for k, v in parse_qs(url.query).items()}
    assert q["state"] == start["state"] and q["client_id"] == CLIENT_ID
    assert q["code_challenge_method"] == "S256" and q["nonce"]

    # The IdP signs the nonce the authorization request carried.
    provider.next_id_token = lambda form: provider.id_token(q["nonce"], "ada@acme.example")
    login = engine.login_complete(tenant.id, "the-code", start["state"])
    assert login["user"]["id"] == r.json()["id"]
    (form,) = provider.token_requests
    assert form["code"] == ["the-code"] and form["code_verifier"][0]

    # The state is single use.
    with pytest.raises(libscim.LoginRefusedError) as e:
        engine.login_complete(tenant.id, "the-code", start["state"])
    assert e.value.login_code == "state_unknown"


def test_login_code_parsing() -> None:
    e = libscim.LoginRefusedError(203, "user_deactivated: the user x is deactivated")
    assert (e.login_code, e.detail) == ("user_deactivated", "the user x is deactivated")
    e = libscim.LoginRefusedError(203, "no code here")
    assert (e.login_code, e.detail) == ("", "no code here")
    e = libscim.IdentityProviderError(302, "discovery_failed: GET http://x: refused")
    assert e.login_code == "discovery_failed" and e.detail == "GET http://x: refused"
    e = libscim.LoginRefusedError(203, "msg", login_code="expired")
    assert e.login_code == "expired"
