"""Forwarding the library's log records to Python's :mod:`logging`."""

from __future__ import annotations

import atexit
import itertools
import logging
import threading
from typing import Dict, Optional

from . import _ffi
from ._error import check

__all__ = ["enable_logging", "disable_logging"]

# Library level (1 error … 5 trace) → logging level.
_LEVELS = {1: logging.ERROR, 2: logging.WARNING, 3: logging.INFO, 4: logging.DEBUG, 5: 5}
_lock = threading.Lock()

# The ctypes callback objects the library holds, by the integer passed as their userdata.
# ctypes frees a callback's trampoline with its object, so each stays here until the
# library gives its userdata back through _release (its finalizer): replaced, cleared, or
# never (then it lives as long as the process, which is what the library may assume).
_held: Dict[int, object] = {}
_next_key = itertools.count(1)


def _forward(_userdata: Optional[int], level: int, target: bytes, message: bytes) -> None:
    # Runs on library threads; never let an exception escape into C.
    try:
        name = target.decode("utf-8", "replace").replace("::", ".")
        logging.getLogger(name).log(
            _LEVELS.get(level, logging.DEBUG), "%s", message.decode("utf-8", "replace")
        )
    except Exception:  # pragma: no cover
        pass


def _release_userdata(userdata: Optional[int]) -> None:
    # The finalizer: called once per installed callback, by the library, on the thread
    # that replaced or cleared it (inside scim_log_set_callback, so under _lock).
    _held.pop(userdata or 0, None)


# The finalizer's own trampoline lives as long as the module.
_release = _ffi.scim_finalizer(_release_userdata)


def enable_logging(level: int = logging.INFO) -> None:
    """Send the library's log records at ``level`` and above to :mod:`logging`, under
    loggers named after their targets (``scim.access``, ``scim.events``, …). Logging is
    process wide; this replaces an earlier enable_logging. Raises WrongStateError when
    another Rust logger owns the process."""
    max_level = 1
    for lib_level, py_level in sorted(_LEVELS.items()):
        if py_level >= level:
            max_level = lib_level
    with _lock:
        key = next(_next_key)
        _held[key] = cb = _ffi.scim_log_callback(_forward)
        try:
            check(_ffi.lib.scim_log_set_callback(cb, key, _release, max_level))
        except BaseException:
            # On failure the library keeps nothing and calls no finalizer.
            _held.pop(key, None)
            raise


def disable_logging() -> None:
    """Stop forwarding log records (the default)."""
    with _lock:
        if _held:
            check(_ffi.lib.scim_log_set_callback(_ffi.scim_log_callback(), None, _ffi.scim_finalizer(), 0))


# A library thread must never call into an interpreter that is shutting down.
atexit.register(disable_logging)
