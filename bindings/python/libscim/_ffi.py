"""Loads the libscim shared library and declares every C function it uses.

The library is looked for, in order: the file named by the ``LIBSCIM_LIBRARY``
environment variable; a copy inside this package (how a binary wheel would ship it);
the ``target/release`` build output of the repository this package sits in (found by
walking up from this file, so both an editable checkout and a venv inside the
repository work). Nothing here needs a compiler.
"""

from __future__ import annotations

import ctypes
import os
import sys
from ctypes import (
    CFUNCTYPE,
    POINTER,
    Structure,
    c_char_p,
    c_size_t,
    c_uint16,
    c_uint32,
    c_uint64,
    c_void_p,
)
from pathlib import Path
from typing import List, Optional

__all__ = ["lib", "library_path"]

if sys.platform == "darwin":
    _NAME = "libscim.dylib"
elif sys.platform == "win32":
    _NAME = "scim.dll"
else:
    _NAME = "libscim.so"


def _candidates() -> List[Path]:
    out: List[Path] = []
    env = os.environ.get("LIBSCIM_LIBRARY")
    if env:
        out.append(Path(env))
    here = Path(__file__).resolve().parent
    out.append(here / _NAME)
    for parent in here.parents:
        if (parent / "Cargo.toml").is_file() and (parent / "include" / "scim.h").is_file():
            out.append(parent / "target" / "release" / _NAME)
            break
    return out


def _load() -> "tuple[ctypes.CDLL, Path]":
    tried = _candidates()
    env = os.environ.get("LIBSCIM_LIBRARY")
    if env and not Path(env).is_file():
        # An explicit override that points nowhere is a mistake, not a reason to fall
        # back silently to some other build.
        raise OSError(f"LIBSCIM_LIBRARY={env!r}: no such file")
    for path in tried:
        if path.is_file():
            return ctypes.CDLL(str(path)), path
    raise OSError(
        "libscim shared library not found; build it with `cargo build --release --lib` "
        "or set LIBSCIM_LIBRARY. Tried: " + ", ".join(str(p) for p in tried)
    )


lib, library_path = _load()

# Types ------------------------------------------------------------------------------

scim_result = c_uint32
c_void_pp = POINTER(c_void_p)
#: ``char **`` outputs that the caller frees: read as ``c_void_p`` so ctypes does not
#: copy and forget the pointer.


class scim_str(Structure):
    _fields_ = [("data", c_void_p), ("len", c_size_t)]


class scim_header(Structure):
    _fields_ = [("name", scim_str), ("value", scim_str)]


class scim_response_view(Structure):
    """Every part of a response, filled by ``scim_request_handle``. ``headers`` is read
    as 4n machine words (name address, name length, value address, value length, …):
    the library lays the header strings out back to back, each NUL-terminated, so the
    first word and the last two bound one block that a single copy reads."""

    _fields_ = [
        ("status", c_uint16),
        ("body", c_void_p),
        ("body_len", c_size_t),
        ("headers", POINTER(c_size_t)),
        ("headers_len", c_size_t),
    ]


assert ctypes.sizeof(scim_str) == 2 * ctypes.sizeof(c_size_t)
assert ctypes.sizeof(scim_header) == 4 * ctypes.sizeof(c_size_t)


class scim_request(Structure):
    _fields_ = [
        ("method", scim_str),
        ("path", scim_str),
        ("query", scim_str),
        ("headers", POINTER(scim_header)),
        ("headers_len", c_size_t),
        ("body", c_void_p),
        ("body_len", c_size_t),
    ]


scim_event_callback = CFUNCTYPE(None, c_void_p, c_char_p)
scim_finalizer = CFUNCTYPE(None, c_void_p)
scim_log_callback = CFUNCTYPE(None, c_void_p, c_uint32, c_char_p, c_char_p)


def _fn(name: str, restype: Optional[type], *argtypes: type) -> None:
    f = getattr(lib, name)
    f.restype = restype
    f.argtypes = list(argtypes)


# Library ----------------------------------------------------------------------------
_fn("scim_result_name", c_char_p, scim_result)
_fn("scim_last_error", c_char_p)
_fn("scim_version", c_char_p)
_fn("scim_string_free", None, c_void_p)

# Engine -----------------------------------------------------------------------------
_fn("scim_engine_open", scim_result, c_char_p, c_char_p, c_void_pp)
_fn("scim_engine_free", None, c_void_p)

# Directories and tokens -------------------------------------------------------------
_fn("scim_directory_create", scim_result, c_void_p, c_char_p, c_void_pp)
_fn("scim_directory_get", scim_result, c_void_p, c_char_p, c_void_pp)
_fn("scim_directory_list", scim_result, c_void_p, c_void_pp)
_fn("scim_directory_update", scim_result, c_void_p, c_char_p, c_char_p, c_void_pp)
_fn("scim_directory_delete", scim_result, c_void_p, c_char_p)
_fn("scim_token_issue", scim_result, c_void_p, c_char_p, c_uint32, c_void_pp)
_fn("scim_token_revoke", scim_result, c_void_p, c_char_p)

# Events -----------------------------------------------------------------------------
_fn("scim_event_next", scim_result, c_void_p, c_char_p, c_size_t, c_uint32, c_void_pp)
_fn("scim_event_ack", scim_result, c_void_p, c_char_p, c_uint64)
_fn("scim_event_stats_get", scim_result, c_void_p, c_char_p, c_void_pp)
_fn(
    "scim_event_group_next",
    scim_result,
    c_void_p,
    c_char_p,
    c_char_p,
    c_size_t,
    c_uint32,
    c_void_pp,
)
_fn("scim_event_group_ack", scim_result, c_void_p, c_char_p, c_char_p, c_uint64)
_fn("scim_event_group_list", scim_result, c_void_p, c_char_p, c_void_pp)
_fn(
    "scim_subscription_start",
    scim_result,
    c_void_p,
    c_char_p,
    scim_event_callback,
    c_void_p,
    scim_finalizer,
    c_void_pp,
)
_fn("scim_subscription_free", None, c_void_p)

# Requests ---------------------------------------------------------------------------
# The request as an address: Engine.handle() lays it out in one buffer (_pack_request).
# (Every argument an address: Engine.handle() lays the request and the outputs out in one
# buffer, see _pack_request.)
_fn("scim_request_handle", scim_result, c_void_p, c_void_p, c_void_p, c_void_p)
_fn("scim_response_free", None, c_void_p)

# Logging ----------------------------------------------------------------------------
_fn("scim_set_log_callback", scim_result, scim_log_callback, c_void_p, c_uint32)

# Mappings ---------------------------------------------------------------------------
_fn("scim_mapping_get", scim_result, c_void_p, c_char_p, c_void_pp)
# (engine, id, service, kind, entry_json | target, mapping_json_out)
for _name in ("scim_mapping_entry_set", "scim_mapping_entry_remove"):
    _fn(_name, scim_result, c_void_p, c_char_p, c_char_p, c_char_p, c_char_p, c_void_pp)
_fn("scim_mapping_resync", scim_result, c_void_p, c_char_p, POINTER(c_uint64))
# (engine, id, service, target, value, user_json_out)
_fn("scim_user_find", scim_result, c_void_p, c_char_p, c_char_p, c_char_p, c_char_p, c_void_pp)

# OpenID Connect login -----------------------------------------------------------------
_fn("scim_oidc_configure", scim_result, c_void_p, c_char_p, c_char_p, c_void_pp)
_fn("scim_login_begin", scim_result, c_void_p, c_char_p, c_void_pp)
_fn("scim_login_complete", scim_result, c_void_p, c_char_p, c_char_p, c_char_p, c_void_pp)
_fn("scim_id_token_validate", scim_result, c_void_p, c_char_p, c_char_p, c_char_p, c_void_pp)

# Server -----------------------------------------------------------------------------
_fn("scim_server_start", scim_result, c_void_p, c_char_p, c_void_pp)
_fn("scim_server_address_get", scim_result, c_void_p, c_void_pp)
_fn("scim_server_free", None, c_void_p)


def take_string(p: Optional[int]) -> str:
    """Read a string the library allocated, then free it."""
    if not p:
        return ""
    try:
        return ctypes.string_at(p).decode("utf-8")
    finally:
        lib.scim_string_free(p)


def has(name: str) -> bool:
    """Whether the loaded library exports ``name`` (for functions added later)."""
    try:
        getattr(lib, name)
    except AttributeError:
        return False
    return True
