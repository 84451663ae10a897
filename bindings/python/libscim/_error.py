"""Exceptions: a failed C call becomes a :class:`LibscimError` carrying the result code,
the library's error kind and its message, one subclass per kind; SCIM error *responses*
become :class:`ScimError` only when asked (:meth:`libscim.Response.raise_for_status`).

The kinds and their codes are defined once, by the library (``include/schema/
error_kinds.json``, generated from its ``ErrorKind``); ``tests/test_schema.py`` checks
:class:`Code`, :data:`KINDS` and the classes against it."""

from __future__ import annotations

from typing import Any, Dict, Optional, Type

from . import _ffi

__all__ = [
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
]


class Code:
    """The ``scim_result`` values of ``include/scim.h``."""

    OK = 0
    NULL_PARAMETER = 100
    INVALID_UTF8 = 101
    INVALID_JSON = 102
    INVALID_ARGUMENT = 103
    NOT_FOUND = 200
    CONFLICT = 201
    WRONG_STATE = 202
    LOGIN_REFUSED = 203
    UNAUTHENTICATED = 204
    SECRETS_KEY = 205
    IO = 300
    INTERNAL = 301
    IDP_FAILED = 302
    PANIC = 900


#: The library's error kind of each code (``include/schema/error_kinds.json``).
KINDS: Dict[int, str] = {
    Code.NULL_PARAMETER: "null_parameter",
    Code.INVALID_UTF8: "invalid_utf8",
    Code.INVALID_JSON: "invalid_json",
    Code.INVALID_ARGUMENT: "invalid_argument",
    Code.NOT_FOUND: "not_found",
    Code.CONFLICT: "conflict",
    Code.WRONG_STATE: "wrong_state",
    Code.LOGIN_REFUSED: "login_refused",
    Code.UNAUTHENTICATED: "unauthenticated",
    Code.SECRETS_KEY: "secrets_key",
    Code.IO: "io",
    Code.INTERNAL: "internal",
    Code.IDP_FAILED: "idp_failed",
    Code.PANIC: "panic",
}


class LibscimError(Exception):
    """A libscim call failed.

    Attributes:
        code: the ``scim_result`` value (see :class:`Code`).
        kind: the library's error kind of that code (``"not_found"``, ``"secrets_key"``,
            …; see :data:`KINDS`), one per code.
        name: its stable name, e.g. ``"SCIM_RESULT_NOT_FOUND"``.
        message: what the library said about this failure.
    """

    def __init__(self, code: int, message: str, name: Optional[str] = None) -> None:
        self.code = code
        self.kind = KINDS.get(code, "")
        self.name = name or _result_name(code)
        self.message = message
        super().__init__(f"{self.name}: {message}" if message else self.name)


class ClosedError(LibscimError, ValueError):
    """The object was closed (or its engine was) and can no longer be used."""

    def __init__(self, what: str) -> None:
        super().__init__(Code.WRONG_STATE, f"{what} is closed", "CLOSED")


class NullParameterError(LibscimError):
    """A required pointer was NULL (a bug in these bindings if it ever happens)."""


class InvalidArgumentError(LibscimError, ValueError):
    """An argument was rejected: bad UTF-8, bad JSON, or a rule it breaks."""


class NotFoundError(LibscimError, LookupError):
    """The named directory (or other object) does not exist."""


class ConflictError(LibscimError):
    """The operation conflicts with existing state (a name already taken, …)."""


class WrongStateError(LibscimError):
    """The operation is not allowed in the object's current state."""


def _split_login_code(message: str) -> "tuple[str, str]":
    """``"user_deactivated: the user … is deactivated"`` → ``("user_deactivated", …)``.

    The prefix before the first ``": "`` is the login error's documented, stable code (a
    lowercase snake_case word); a message without one gives ``("", message)``.
    """
    code, sep, rest = message.partition(": ")
    if sep and code and all(c.islower() or c.isdigit() or c == "_" for c in code):
        return code, rest
    return "", message


class _CodedError(LibscimError):
    """A failure whose message starts with a stable code (``"expired: …"``)."""

    def __init__(
        self,
        code: int,
        message: str,
        name: Optional[str] = None,
        login_code: Optional[str] = None,
    ) -> None:
        super().__init__(code, message, name)
        parsed, detail = _split_login_code(message)
        if login_code is None:
            login_code = parsed
        #: The stable code the message starts with (``"user_deactivated"``,
        #: ``"nonce_mismatch"``, ``"discovery_failed"``, …); ``""`` when it has none.
        self.login_code: str = login_code
        #: The message without that code.
        self.detail: str = detail


class LoginRefusedError(_CodedError):
    """A login was refused (LOGIN_REFUSED): the user is not provisioned or deactivated,
    or the ID token or the login state failed a check.

    Attributes (besides ``code``, ``name``, ``message``):
        login_code: the stable reason, the prefix of the message before the first
            ``": "``: ``not_provisioned``, ``user_deactivated``, ``email_not_verified``,
            ``state_unknown``, ``expired``, ``nonce_mismatch``, ``invalid_signature``, …
        detail: the rest of the message.
    """


class IdentityProviderError(_CodedError):
    """The identity provider could not be used (IDP_FAILED): discovery, its keys, or its
    token endpoint. ``login_code`` is the stable reason (``discovery_failed``, …),
    ``detail`` the rest of the message."""


class UnauthenticatedError(LibscimError):
    """A credential (bearer token, admin credential) was missing or not accepted."""


class SecretsKeyError(LibscimError, ValueError):
    """The ``secrets_key`` is malformed, missing for a sealed OIDC client secret, or does
    not open the secrets sealed in the store (another instance's key)."""


class LibraryIOError(LibscimError, OSError):
    """The store or the operating system failed (disk, network, socket)."""


class InternalError(LibscimError):
    """An internal error, or a panic caught at the C boundary."""


_BY_CODE: Dict[int, Type[LibscimError]] = {
    Code.NULL_PARAMETER: NullParameterError,
    Code.INVALID_UTF8: InvalidArgumentError,
    Code.INVALID_JSON: InvalidArgumentError,
    Code.INVALID_ARGUMENT: InvalidArgumentError,
    Code.NOT_FOUND: NotFoundError,
    Code.CONFLICT: ConflictError,
    Code.WRONG_STATE: WrongStateError,
    Code.LOGIN_REFUSED: LoginRefusedError,
    Code.UNAUTHENTICATED: UnauthenticatedError,
    Code.SECRETS_KEY: SecretsKeyError,
    Code.IO: LibraryIOError,
    Code.INTERNAL: InternalError,
    Code.IDP_FAILED: IdentityProviderError,
    Code.PANIC: InternalError,
}


def _result_name(code: int) -> str:
    if code in _BY_CODE or code == Code.OK:
        raw = _ffi.lib.scim_result_name(code)
        return raw.decode() if raw else f"SCIM_RESULT_{code}"
    # scim_result_name takes a Rust enum: never hand it a value it does not define.
    return f"SCIM_RESULT_{code}"


def check(code: int) -> None:
    """Raise for a non-OK result, with the message of the failed call (same thread)."""
    if code == Code.OK:
        return
    raw = _ffi.lib.scim_last_error()
    message = raw.decode("utf-8", "replace") if raw else ""
    raise _BY_CODE.get(code, LibscimError)(code, message)


class ScimError(Exception):
    """A SCIM error response (RFC 7644 §3.12).

    Attributes:
        status: the HTTP status (int).
        scim_type: the ``scimType`` keyword, or ``None``.
        detail: the human-readable ``detail``, or ``""``.
        body: the whole error body as a dict (empty when it was not JSON).
    """

    def __init__(
        self,
        status: int,
        scim_type: Optional[str] = None,
        detail: str = "",
        body: Optional[Dict[str, Any]] = None,
    ) -> None:
        self.status = status
        self.scim_type = scim_type
        self.detail = detail
        self.body = body or {}
        kind = f" {scim_type}" if scim_type else ""
        super().__init__(f"{status}{kind}: {detail}" if detail else f"{status}{kind}")
