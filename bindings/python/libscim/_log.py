"""Forwarding the library's log records to Python's :mod:`logging`."""

from __future__ import annotations

import atexit
import logging
import threading
from typing import Optional

from . import _ffi
from ._error import check

__all__ = ["enable_logging", "disable_logging"]

# Library level (1 error … 5 trace) → logging level.
_LEVELS = {1: logging.ERROR, 2: logging.WARNING, 3: logging.INFO, 4: logging.DEBUG, 5: 5}
_lock = threading.Lock()
_installed: Optional[object] = None  # the CFUNCTYPE object, kept alive while installed


def _forward(_userdata: Optional[int], level: int, target: bytes, message: bytes) -> None:
    # Runs on library threads; never let an exception escape into C.
    try:
        name = target.decode("utf-8", "replace").replace("::", ".")
        logging.getLogger(name).log(
            _LEVELS.get(level, logging.DEBUG), "%s", message.decode("utf-8", "replace")
        )
    except Exception:  # pragma: no cover
        pass


def enable_logging(level: int = logging.INFO) -> None:
    """Send the library's log records at ``level`` and above to :mod:`logging`, under
    loggers named after their targets (``scim.access``, ``scim.events``, …). Logging is
    process wide. Raises WrongStateError when another Rust logger owns the process."""
    global _installed
    max_level = 1
    for lib_level, py_level in sorted(_LEVELS.items()):
        if py_level >= level:
            max_level = lib_level
    with _lock:
        cb = _ffi.scim_log_callback(_forward)
        check(_ffi.lib.scim_set_log_callback(cb, None, max_level))
        _installed = cb


def disable_logging() -> None:
    """Stop forwarding log records (the default)."""
    global _installed
    with _lock:
        if _installed is not None:
            check(_ffi.lib.scim_set_log_callback(_ffi.scim_log_callback(), None, 1))
            _installed = None


# A library thread must never call into an interpreter that is shutting down.
atexit.register(disable_logging)
