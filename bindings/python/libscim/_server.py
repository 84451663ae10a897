"""The built-in HTTP(S) server."""

from __future__ import annotations

import json
from ctypes import byref, c_void_p
from typing import TYPE_CHECKING, Any, Optional

from . import _ffi
from ._error import check
from ._handle import Handle

if TYPE_CHECKING:
    from ._engine import Engine

__all__ = ["Server"]

_lib = _ffi.lib


class Server(Handle):
    """Serves every directory of an engine over HTTP (or HTTPS), on library threads.

    ``Server(engine, listen="127.0.0.1:0")`` starts it; :attr:`address` is where it
    listens (port 0 picks a free port). Options: ``tls_cert`` and ``tls_key`` (PEM
    files, together), ``max_header_bytes``, ``header_timeout_ms``, ``request_timeout_ms``,
    ``shutdown_grace_ms``, ``max_connections``, ``max_in_flight``,
    ``max_in_flight_per_directory`` and ``rate_limit`` (``{"per_second": 50, "burst":
    100}``); see ``scim_server_start`` in ``scim.h``. :meth:`stop` (or leaving a ``with`` block) stops accepting,
    lets requests in flight finish within the grace period, and frees it. The server
    keeps its own reference to the engine: closing the engine does not stop it.
    """

    _what = "server"

    def __init__(
        self,
        engine: "Engine",
        listen: Optional[str] = "127.0.0.1:0",
        **options: Any,
    ) -> None:
        if listen is not None:
            options["listen"] = listen
        out = c_void_p()
        with engine._use() as e:
            check(_lib.scim_server_start(e, json.dumps(options).encode(), byref(out)))
        super().__init__(out.value or 0, _lib.scim_server_free)
        self._tls = bool(options.get("tls_cert"))
        self.address: str = self._address()

    def _address(self) -> str:
        out = c_void_p()
        with self._use() as s:
            check(_lib.scim_server_address_get(s, byref(out)))
        return _ffi.take_string(out.value)

    @property
    def host(self) -> str:
        """The host part of :attr:`address` (without brackets for IPv6)."""
        return self.address.rsplit(":", 1)[0].strip("[]")

    @property
    def port(self) -> int:
        """The port the server listens on."""
        return int(self.address.rsplit(":", 1)[1])

    @property
    def url(self) -> str:
        """``http://<address>`` (``https`` when serving TLS)."""
        return f"{'https' if self._tls else 'http'}://{self.address}"

    def stop(self) -> None:
        """Stop the server (idempotent); the same as :meth:`close`."""
        self.close()

    def __repr__(self) -> str:
        return f"<Server {self.address} {'stopped' if self.closed else 'running'}>"
