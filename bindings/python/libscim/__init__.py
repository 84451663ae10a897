"""Python bindings of libscim, an embeddable SCIM 2.0 service provider.

The shared library is loaded with :mod:`ctypes` (no compiler needed) from
``LIBSCIM_LIBRARY``, from this package's directory, or from the ``target/release``
build output of the repository the package sits in.

>>> import libscim
>>> with libscim.Engine(config={"public_url": "https://example.com"}) as engine:
...     d = engine.create_directory({"name": "Acme", "domain": "acme.example",
...                                  "idp": "okta", "services": ["uem"]})
...     secret = engine.issue_token(d["id"])["secret"]
...     r = engine.handle("GET", f"/scim/v2/{d['id']}/Users",
...                       headers={"Authorization": f"Bearer {secret}"})
...     r.status
200

JSON crosses as Python dicts (typed in :mod:`libscim.types`); failed calls raise a
:class:`LibscimError` subclass per error kind (``.code``, ``.kind``).
"""

from __future__ import annotations

from . import _ffi
from ._engine import Engine, EventStream, Response, Subscription
from ._error import (
    ClosedError,
    Code,
    ConflictError,
    IdentityProviderError,
    InternalError,
    InvalidArgumentError,
    KINDS,
    LibraryIOError,
    LibscimError,
    LoginRefusedError,
    NotFoundError,
    NullParameterError,
    ScimError,
    SecretsKeyError,
    UnauthenticatedError,
    WrongStateError,
)
from ._log import disable_logging, enable_logging
from . import _types as types
from ._server import Server

__all__ = [
    "Engine",
    "Response",
    "EventStream",
    "Subscription",
    "Server",
    "LibscimError",
    "ClosedError",
    "NullParameterError",
    "InvalidArgumentError",
    "NotFoundError",
    "ConflictError",
    "WrongStateError",
    "LoginRefusedError",
    "UnauthenticatedError",
    "SecretsKeyError",
    "IdentityProviderError",
    "LibraryIOError",
    "InternalError",
    "ScimError",
    "Code",
    "KINDS",
    "types",
    "enable_logging",
    "disable_logging",
    "library_version",
    "library_path",
    "__version__",
]

__version__ = "1.0.0"
#: The shared library file that was loaded.
library_path = str(_ffi.library_path)


def library_version() -> str:
    """The version of the loaded shared library (``"1.0.0"``)."""
    raw = _ffi.lib.scim_version()
    return raw.decode() if raw else ""
