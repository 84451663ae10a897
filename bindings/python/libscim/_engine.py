"""The engine: directories, tokens, SCIM requests and change events."""

from __future__ import annotations

import ctypes
import functools
import json
import os
import struct
import threading
import time
from collections.abc import Mapping as _AbcMapping
from ctypes import byref, c_char_p, c_size_t, c_uint64, c_void_p
from typing import (
    Any,
    Callable,
    Dict,
    Iterable,
    Iterator,
    List,
    Mapping,
    Optional,
    Sequence,
    Tuple,
    Union,
)

from . import _ffi
from ._error import Code, InvalidArgumentError, ScimError, check
from ._handle import Handle
from ._types import (
    Directory,
    DirectoryUpdate,
    EngineConfig,
    Event,
    EventGroup,
    EventStats,
    FoundUser,
    IssuedToken,
    Login,
    LoginStart,
    Mapping as MappingJSON,
    MappingEntry,
    NewDirectory,
    OidcConfig,
    OidcSettings,
)

__all__ = ["Engine", "Response", "EventStream", "Subscription"]

JSON = Dict[str, Any]
Headers = Union[Mapping[str, str], Sequence[Tuple[str, str]], None]
Body = Union[bytes, bytearray, str, Mapping[str, Any], List[Any], None]

_lib = _ffi.lib
# Longest single wait inside the library, so Ctrl-C and close() are noticed promptly.
_WAIT_SLICE_MS = 500


def _enc(s: str) -> bytes:
    """A string for a ``const char *`` argument: UTF-8, and no NUL (C would cut it)."""
    if "\0" in s:
        raise InvalidArgumentError(Code.INVALID_ARGUMENT, f"NUL character in {s!r}")
    return s.encode("utf-8")


def _dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _json_out(call: Callable[[Any], int]) -> Any:
    """Run a call whose last argument is a ``char **`` JSON output; parse and free it."""
    out = c_void_p()
    check(call(byref(out)))
    return json.loads(_ffi.take_string(out.value))


class Response:
    """The answer to one SCIM request: ``status``, ``headers``, ``body`` (bytes).

    A client's mistake (a 4xx SCIM error) is a response like any other; call
    :meth:`raise_for_status` to turn an error status into a :class:`ScimError`.
    """

    __slots__ = ("status", "headers", "body")

    def __init__(self, status: int, headers: List[Tuple[str, str]], body: bytes) -> None:
        self.status: int = status
        #: Every header as ``(name, value)``, in the order the library produced them.
        self.headers: List[Tuple[str, str]] = headers
        self.body: bytes = body

    def header(self, name: str, default: Optional[str] = None) -> Optional[str]:
        """The first header called ``name`` (case-insensitive), else ``default``."""
        lname = name.lower()
        for k, v in self.headers:
            if k.lower() == lname:
                return v
        return default

    @property
    def text(self) -> str:
        """The body decoded as UTF-8."""
        return self.body.decode("utf-8", "replace")

    def json(self) -> Any:
        """The body parsed as JSON (raises ``ValueError`` on an empty or bad body)."""
        return json.loads(self.body)

    @property
    def ok(self) -> bool:
        """True for a status below 400."""
        return self.status < 400

    def raise_for_status(self) -> "Response":
        """Raise :class:`ScimError` (status, scimType, detail) for a status >= 400;
        return ``self`` otherwise."""
        if self.status < 400:
            return self
        body: Dict[str, Any] = {}
        try:
            parsed = self.json()
            if isinstance(parsed, dict):
                body = parsed
        except ValueError:
            pass
        detail = body.get("detail")
        raise ScimError(
            self.status,
            body.get("scimType"),
            detail if isinstance(detail, str) else self.text,
            body,
        )

    def __repr__(self) -> str:
        return f"<Response {self.status} ({len(self.body)} bytes)>"


_handle = _lib.scim_request_handle
_free_response = _lib.scim_response_free
_string_at = ctypes.string_at
_addressof = ctypes.addressof
_char_from_buffer = ctypes.c_char.from_buffer


# A scim_request (include/scim.h) as the struct module lays it out natively: method,
# path and query as (address, length), the headers pointer and count, the body pointer
# and length.
_REQUEST = struct.Struct("@PNPNPNPNPN")
assert _REQUEST.size == ctypes.sizeof(_ffi.scim_request)
_HEADER_SIZE = ctypes.sizeof(_ffi.scim_header)
# What the call writes: the response pointer, then the scim_response_view (status,
# body, body_len, headers, headers_len).
_OUTPUTS = struct.Struct("@PHPNPN")
assert _OUTPUTS.size == ctypes.sizeof(c_void_p) + ctypes.sizeof(_ffi.scim_response_view)
_VIEW_AT = ctypes.sizeof(c_void_p)
# First and last words of the header array: where the header block starts, and the
# last value's address and length (where it ends).
_FIRST = struct.Struct("@P")
_LAST = struct.Struct("@PN")


@functools.lru_cache(maxsize=64)
def _packer(headers: int) -> struct.Struct:
    """The scim_request followed by its array of ``headers`` scim_header."""
    return struct.Struct(_REQUEST.format + "PN" * (2 * headers))


def _pack_request(texts: List[str], body: bytes) -> "Tuple[bytearray, int, int]":
    """Lay a request out in one buffer, as C would: the ``scim_request``, its
    ``scim_header`` array, room for the outputs (``_OUTPUTS``), the strings
    (NUL-separated), then the body. ``texts`` is method, path, query, then a name and a
    value per header. Returns the buffer (keep it alive for the call), its address and
    the outputs' offset in it.

    One allocation, one encode and one ``pack_into`` instead of a ctypes object per
    string, header, struct and output: this is most of what ``handle()`` costs on top of
    the library (``bindings/python/bench/bench_handle.py`` measures it).
    """
    blob = "\0".join(texts).encode("utf-8")
    pieces = blob.split(b"\0")
    if len(pieces) != len(texts):  # a NUL inside one: not HTTP, refused
        for t in texts:
            _enc(t)  # raises, naming the string
    n = len(texts) // 2 - 1  # (name, value) pairs after method, path and query
    outputs_at = _REQUEST.size + n * _HEADER_SIZE
    strings_at = outputs_at + _OUTPUTS.size
    buf = bytearray(strings_at)
    buf += blob
    body_at = len(buf)
    buf += body
    # The buffer is complete (never resized again): its address is stable from here.
    base = _addressof(_char_from_buffer(buf))
    # (address, length) of every string: each starts one byte (the separator) after the
    # previous one ends.
    fields = []
    at = base + strings_at
    for piece in pieces:
        size = len(piece)
        fields.append(at)
        fields.append(size)
        at += size + 1
    _packer(n).pack_into(
        buf,
        0,
        *fields[:6],
        base + _REQUEST.size if n else 0,
        n,
        base + body_at if body else 0,
        len(body),
        *fields[6:],
    )
    return buf, base, outputs_at


def _take_response(buf: bytearray, outputs_at: int) -> Response:
    """Copy the response the call wrote into ``buf`` into Python objects, then free it:
    one C call whatever the number of headers (this is the per-request path: see
    ``bindings/python/bench/bench_handle.py``)."""
    ptr, status, body_at, body_len, headers_at, n = _OUTPUTS.unpack_from(buf, outputs_at)
    try:
        body = _string_at(body_at, body_len) if body_len else b""
        if n:
            # The header strings lie back to back, each NUL-terminated: the first name's
            # address and the end of the last value bound them; one copy, one decode.
            words = _string_at(headers_at, n * _HEADER_SIZE)
            (start,) = _FIRST.unpack_from(words)
            last, last_len = _LAST.unpack_from(words, len(words) - _LAST.size)
            strings = _string_at(start, last + last_len - start).decode("utf-8").split("\0")
            pairs = iter(strings)
            headers = list(zip(pairs, pairs))
        else:
            headers = []
        return Response(status, headers, body)
    finally:
        _free_response(ptr)


class Engine(Handle):
    """An engine over a durable store file, or in memory.

    ``Engine()`` or ``Engine(None, config)`` keeps everything in memory;
    ``Engine("scim.db", config)`` opens (or creates) a store file. ``config`` is a dict
    such as ``{"public_url": "https://host.example.com", "scim_path": "/scim/v2",
    "provider": {"strict": False, "max_results": 1000}, "secrets_key": "<64 hex>",
    "events": {"max_age_secs": 604800, "max_count": 1000000}}``. ``events`` bounds each
    directory's outbox: acknowledged events are always deleted, unacknowledged ones
    beyond the age or count are dropped oldest first and logged (``None``: no limit; a
    ``max_age_secs`` of 0 is no age limit either).

    Thread-safe: share one engine between threads. Close it (or use ``with``) when
    done; a running :class:`~libscim.Server` keeps the engine alive on its own.
    """

    _what = "engine"

    def __init__(
        self,
        path: Union[str, "os.PathLike[str]", None] = None,
        config: Optional[EngineConfig] = None,
    ) -> None:
        out = c_void_p()
        check(
            _lib.scim_engine_open(
                None if path is None else _enc(os.fspath(path)),
                None if config is None else _dumps(config),
                byref(out),
            )
        )
        super().__init__(out.value or 0, _lib.scim_engine_free)

    @classmethod
    def memory(cls, config: Optional[EngineConfig] = None) -> "Engine":
        """An engine on an empty in-memory store."""
        return cls(None, config)

    # ----- directories ---------------------------------------------------------------

    def create_directory(self, spec: NewDirectory) -> Directory:
        """Create a directory from ``{"name", "domain", "idp": "okta"|"entra"|"generic",
        "services": ["uem", "access"], "settings": {"enforce_domain", "strict"},
        "mapping_profile": "workspace-one"|"rfc"}``; returns it (with ``id`` and
        ``tenant_url``). Raises InvalidArgumentError (a rule) or ConflictError (name
        taken)."""
        with self._use() as e:
            return _json_out(lambda out: _lib.scim_directory_create(e, _dumps(spec), out))

    def directory(self, directory_id: str) -> Directory:
        """The directory ``directory_id``; NotFoundError when there is none."""
        with self._use() as e:
            return _json_out(lambda out: _lib.scim_directory_get(e, _enc(directory_id), out))

    def directories(self) -> List[Directory]:
        """Every directory, in creation order."""
        with self._use() as e:
            return _json_out(lambda out: _lib.scim_directory_list(e, out))

    def update_directory(self, directory_id: str, update: DirectoryUpdate) -> Directory:
        """Change ``domain``, ``services`` or ``settings`` (only the keys given)."""
        with self._use() as e:
            return _json_out(
                lambda out: _lib.scim_directory_update(
                    e, _enc(directory_id), _dumps(update), out
                )
            )

    def delete_directory(self, directory_id: str) -> None:
        """Delete a directory with its users, groups and events."""
        with self._use() as e:
            check(_lib.scim_directory_delete(e, _enc(directory_id)))

    # ----- tokens --------------------------------------------------------------------

    def issue_token(self, directory_id: str, lifespan_months: int = 0) -> IssuedToken:
        """Issue a new bearer token (1–24 months; 0 = the default, 6). Returns
        ``{"secret", "issued_at", "expires_at", "lifespan_months"}``: the only time
        the secret is available. The previous token stops working at once."""
        with self._use() as e:
            return _json_out(
                lambda out: _lib.scim_token_issue(e, _enc(directory_id), lifespan_months, out)
            )

    def revoke_token(self, directory_id: str) -> None:
        """Revoke the directory's token."""
        with self._use() as e:
            check(_lib.scim_token_revoke(e, _enc(directory_id)))

    # ----- mappings --------------------------------------------------------------------

    def mappings(self, directory_id: str) -> Dict[str, MappingJSON]:
        """The directory's attribute mappings, one per service it feeds:
        ``{"uem": {"profile", "users": [entry, …], "groups": [entry, …]}, "access": …}``
        where an entry is ``{"target", "source", "required", "immutable",
        "transform"}``. NotFoundError when there is no such directory."""
        with self._use() as e:
            return _json_out(lambda out: _lib.scim_mapping_get(e, _enc(directory_id), out))

    def set_mapping_entry(
        self, directory_id: str, service: str, kind: str, entry: MappingEntry
    ) -> MappingJSON:
        """Add a mapping entry to ``service`` (``"uem"``|``"access"``) for ``kind``
        (``"users"``|``"groups"``), or replace the one with the same ``target``.
        ``entry`` is ``{"target", "source", "required"?, "immutable"?, "transform"?}``.
        Returns the service's whole mapping. InvalidArgumentError for an unknown SCIM
        path or a duplicate target. Emits no event: call :meth:`resync` to re-send the
        users' records."""
        with self._use() as e:
            return _json_out(
                lambda out: _lib.scim_mapping_entry_set(
                    e, _enc(directory_id), _enc(service), _enc(kind), _dumps(entry), out
                )
            )

    def remove_mapping_entry(
        self, directory_id: str, service: str, kind: str, target: str
    ) -> MappingJSON:
        """Remove the entry with ``target`` from ``service``'s ``kind`` mapping; returns
        the service's whole mapping. InvalidArgumentError for a required entry."""
        with self._use() as e:
            return _json_out(
                lambda out: _lib.scim_mapping_entry_remove(
                    e, _enc(directory_id), _enc(service), _enc(kind), _enc(target), out
                )
            )

    def resync(self, directory_id: str) -> int:
        """Re-emit ``user.updated`` (with the current mapped ``records``) for every user
        of the directory, e.g. after a mapping change; returns how many."""
        count = c_uint64()
        with self._use() as e:
            check(_lib.scim_mapping_resync(e, _enc(directory_id), byref(count)))
        return count.value

    def find_user(
        self, directory_id: str, service: str, target: str, value: str
    ) -> Optional[FoundUser]:
        """The provisioned user whose mapped attribute ``target`` of ``service`` equals
        ``value`` (case-insensitively for emails and user names), as ``{"id",
        "resource", "record"}``; ``None`` when there is none. ConflictError when several
        users match."""
        with self._use() as e:
            found: Optional[FoundUser] = _json_out(
                lambda out: _lib.scim_user_find(
                    e, _enc(directory_id), _enc(service), _enc(target), _enc(value), out
                )
            )
        return found

    # ----- OpenID Connect login --------------------------------------------------------

    def configure_oidc(
        self, directory_id: str, config: OidcConfig, attribute: str = "email"
    ) -> Directory:
        """Configure the directory's OpenID Connect login. ``config`` is ``{"client_id",
        "client_secret", "config_url", "scopes"?, "claim"?, "allowed_algs"?,
        "leeway_secs"?, "extra_authorize_params"?, "allow_http"?, "ca_bundle_pem"?,
        "require_email_verified"?}``; the ID token's ``claim`` (``email`` by default) is
        matched against the mapped user attribute ``attribute``. Checked without the
        network (InvalidArgumentError for a broken rule, e.g. an ``http://`` URL without
        ``allow_http``). Returns the directory, whose ``login.redirect_uri`` is the
        redirect URI to register at the IdP."""
        settings: OidcSettings = {"config": config, "attribute": attribute}
        with self._use() as e:
            return _json_out(
                lambda out: _lib.scim_oidc_configure(
                    e, _enc(directory_id), _dumps(settings), out
                )
            )

    def login_begin(self, directory_id: str) -> LoginStart:
        """Start a login: ``{"authorization_url", "state", "expires_at"}``; send the
        browser to the URL. Fetches the IdP's discovery document on first use.
        WrongStateError when the directory has no login configured,
        IdentityProviderError when the IdP cannot be used."""
        with self._use() as e:
            return _json_out(lambda out: _lib.scim_login_begin(e, _enc(directory_id), out))

    def login_complete(self, directory_id: str, code: str, state: str) -> Login:
        """Finish a login from the IdP's redirect (its ``code`` and ``state``):
        ``{"user": {"id", "resource", "record"}, "claims": {…}}``. LoginRefusedError
        (``login_code``: ``state_unknown``, ``not_provisioned``, ``user_deactivated``,
        ``expired``, …) or IdentityProviderError (token exchange, discovery, keys)."""
        with self._use() as e:
            return _json_out(
                lambda out: _lib.scim_login_complete(
                    e, _enc(directory_id), _enc(code), _enc(state), out
                )
            )

    def validate_id_token(self, directory_id: str, token: str, nonce: str) -> Login:
        """Validate an ID token from the host's own browser flow against the ``nonce``
        it sent, then find the provisioned, active user: ``{"user": {"id", "resource",
        "record"}, "claims": {…}}``. Raises as :meth:`login_complete`
        (``login_code``: ``nonce_mismatch``, ``invalid_signature``, ``wrong_issuer``,
        ``not_provisioned``, ``user_deactivated``, …)."""
        with self._use() as e:
            return _json_out(
                lambda out: _lib.scim_id_token_validate(
                    e, _enc(directory_id), _enc(token), _enc(nonce), out
                )
            )

    # ----- requests ------------------------------------------------------------------

    def handle(
        self,
        method: str,
        path: str,
        query: str = "",
        headers: Headers = None,
        body: Body = None,
    ) -> Response:
        """Answer one SCIM request, exactly as the built-in server would.

        ``path`` is the full path (``/scim/v2/<directory-id>/Users``), ``query`` the raw
        query string without ``?``. ``headers`` is a mapping or a sequence of pairs and
        must carry ``Authorization: Bearer <secret>``. ``body`` is bytes/str sent as is,
        or a dict/list sent as compact JSON (with ``Content-Type:
        application/scim+json`` added when no Content-Type is given).
        """
        # (collections.abc's isinstance: typing.Mapping's costs a microsecond per call)
        pairs: List[Tuple[str, str]] = list(
            headers.items() if isinstance(headers, _AbcMapping) else (headers or ())
        )
        if body is None:
            raw: Optional[bytes] = None
        elif isinstance(body, (bytes, bytearray)):
            raw = bytes(body)
        elif isinstance(body, str):
            raw = _enc(body)
        else:
            raw = _dumps(body)
            if not any(k.lower() == "content-type" for k, _ in pairs):
                pairs.append(("Content-Type", "application/scim+json"))
        texts = [method, path, query]
        for k, v in pairs:
            texts.append(k)
            texts.append(v)
        buf, req, outputs_at = _pack_request(texts, raw or b"")
        outputs = req + outputs_at
        e = self._acquire()
        try:
            rc = _handle(e, req, outputs, outputs + _VIEW_AT)
        finally:
            self._release()
        if rc:
            check(rc)
        # (buf lives until here: the request pointed into it, the outputs are in it)
        return _take_response(buf, outputs_at)

    # ----- events --------------------------------------------------------------------

    def next_events(
        self,
        directory_id: str,
        limit: int = 100,
        timeout: float = 0.0,
        group: Optional[str] = None,
    ) -> List[Event]:
        """Up to ``limit`` events of the directory not yet delivered, waiting up to
        ``timeout`` seconds for the first (``[]`` when none came). Each is
        ``{"seq", "kind", "resource_type", "resource_id", "time", "data"}``.
        Delivered events come again after a restart until acknowledged with
        :meth:`ack_events`.

        ``group`` names a consumer group (default ``"default"``): each group receives
        every event, in order, on its own acknowledged cursor. Across engines and
        processes on one database, a group's stream is leased to one consumer at a time
        (``"event_lease_ms"`` of the configuration, default 30000) and handed again from
        the acknowledged cursor to the next consumer when the holder stops renewing."""
        deadline = time.monotonic() + max(0.0, timeout)
        did = _enc(directory_id)
        grp = None if group is None else _enc(group)
        while True:
            left_ms = int(max(0.0, deadline - time.monotonic()) * 1000)
            wait_ms = min(left_ms, _WAIT_SLICE_MS)
            with self._use() as e:
                if grp is None:
                    events = _json_out(
                        lambda out: _lib.scim_event_next(e, did, limit, wait_ms, out)
                    )
                else:
                    events = _json_out(
                        lambda out: _lib.scim_event_group_next(
                            e, did, grp, limit, wait_ms, out
                        )
                    )
            if events or left_ms <= _WAIT_SLICE_MS:
                return events

    def ack_events(
        self, directory_id: str, seq: int, group: Optional[str] = None
    ) -> None:
        """Acknowledge every event up to ``seq`` (for consumer group ``group``, default
        ``"default"``): applied, not to be delivered again; an event is deleted once
        every group acknowledged it. ConflictError when ``seq`` is beyond the last
        event."""
        with self._use() as e:
            if group is None:
                check(_lib.scim_event_ack(e, _enc(directory_id), seq))
            else:
                check(
                    _lib.scim_event_group_ack(
                        e, _enc(directory_id), _enc(group), seq
                    )
                )

    def event_groups(self, directory_id: str) -> List[EventGroup]:
        """The directory's consumer groups, by name: each
        ``{"group", "acked", "delivered", "owner", "lease_until"}``."""
        did = _enc(directory_id)
        with self._use() as e:
            groups: List[JSON] = _json_out(
                lambda out: _lib.scim_event_group_list(e, did, out)
            )
        return groups

    def event_stats(self, directory_id: str) -> EventStats:
        """The directory's outbox: ``{"last_seq", "acked", "kept", "dropped"}``.
        ``dropped`` counts unacknowledged events the retention limits deleted after the
        acknowledged cursor (never delivered); it is 0 unless events were missed."""
        did = _enc(directory_id)
        with self._use() as e:
            stats: JSON = _json_out(lambda out: _lib.scim_event_stats_get(e, did, out))
        return stats

    def events(
        self, directory_id: str, timeout: Optional[float] = 0.0, batch: int = 100
    ) -> "EventStream":
        """Iterate over the directory's events as they come (see :class:`EventStream`).
        The iteration ends after ``timeout`` seconds without a new event (``None``:
        never). Acknowledge what you applied with :meth:`EventStream.ack`."""
        return EventStream(self, directory_id, timeout, batch)

    def subscribe(
        self, directory_id: str, callback: Callable[[List[JSON]], None]
    ) -> "Subscription":
        """Call ``callback(events)`` with each batch of events as they commit, on a
        thread the library owns. See :class:`Subscription`."""
        return Subscription(self, directory_id, callback)

    def serve(self, listen: str = "127.0.0.1:0", **options: Any) -> "Server":
        """Start the built-in HTTP(S) server on this engine (see :class:`Server`)."""
        from ._server import Server

        return Server(self, listen=listen, **options)

    def __repr__(self) -> str:
        return f"<Engine {'closed' if self.closed else 'open'}>"


class EventStream(Iterator[JSON]):
    """An iterator over one directory's events, in order.

    Each ``next()`` returns one event dict; when none is pending it waits up to
    ``timeout`` seconds for one, then stops. Nothing is acknowledged by iterating: call
    :meth:`ack` once the events seen so far are applied (or ``ack(seq)`` for a prefix).
    """

    def __init__(
        self, engine: Engine, directory_id: str, timeout: Optional[float], batch: int
    ) -> None:
        self._engine = engine
        self.directory_id = directory_id
        self.timeout = timeout
        self.batch = batch
        self._pending: List[JSON] = []
        #: The ``seq`` of the last event returned, or ``None`` before the first.
        self.last_seq: Optional[int] = None

    def __iter__(self) -> "EventStream":
        return self

    def __next__(self) -> Event:
        while not self._pending:
            wait = 3600.0 if self.timeout is None else self.timeout
            self._pending = self._engine.next_events(self.directory_id, self.batch, wait)
            if not self._pending and self.timeout is not None:
                raise StopIteration
        event = self._pending.pop(0)
        self.last_seq = int(event["seq"])
        return event

    def ack(self, seq: Optional[int] = None) -> None:
        """Acknowledge every event up to ``seq`` (default: the last one returned)."""
        seq = self.last_seq if seq is None else seq
        if seq is not None:
            self._engine.ack_events(self.directory_id, seq)


class Subscription(Handle):
    """Events pushed to a callback on a library thread, in order, in batches.

    The callback gets a list of event dicts. An exception it raises does not cross into
    the library: it is kept, no further batches are delivered to the callback, and it is
    raised again by :meth:`close` (or :meth:`check`). Closing waits for a callback in
    progress; never close a subscription from inside its own callback.
    """

    _what = "subscription"

    def __init__(
        self, engine: Engine, directory_id: str, callback: Callable[[List[JSON]], None]
    ) -> None:
        # The trampoline must not refer to self: a reference cycle would let the
        # garbage collector run __del__ (which joins the library thread) on that very
        # thread, inside the callback.
        failure: List[Optional[BaseException]] = []
        self._failure = failure

        def trampoline(_userdata: Optional[int], events_json: Optional[bytes]) -> None:
            if failure:
                return
            try:
                callback(json.loads(events_json or b"[]"))
            except BaseException as exc:  # noqa: BLE001 - kept, re-raised by close()
                failure.append(exc)

        # Kept on the object: the library calls it until scim_subscription_free returns.
        self._cfunc = _ffi.scim_event_callback(trampoline)
        out = c_void_p()
        with engine._use() as e:
            check(
                _lib.scim_subscription_start(
                    e, _enc(directory_id), self._cfunc, None, _ffi.scim_finalizer(), byref(out)
                )
            )
        super().__init__(out.value or 0, _lib.scim_subscription_free)

    @property
    def error(self) -> Optional[BaseException]:
        """The exception the callback raised, if any (not yet raised again)."""
        return self._failure[0] if self._failure else None

    def check(self) -> None:
        """Raise the exception the callback raised, if any (once; delivery to the
        callback stays stopped)."""
        if self._failure and self._failure[0] is not None:
            err = self._failure[0]
            self._failure[0] = None
            raise err

    def close(self) -> None:
        """Stop the subscription (waits for a callback in progress), then raise the
        exception the callback raised, if any."""
        super().close()
        self.check()

    def __del__(self) -> None:
        try:
            Handle.close(self)
        except Exception:  # pragma: no cover
            pass
