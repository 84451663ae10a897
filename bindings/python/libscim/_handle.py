"""The base class of every object that owns a pointer from the library."""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Any, Callable, ClassVar, Iterator, Optional, TypeVar

from ._error import ClosedError

T = TypeVar("T", bound="Handle")


class Handle:
    """Owns one library pointer and frees it exactly once.

    ``close()`` is idempotent; the object is a context manager; ``__del__`` frees it
    when it is collected without having been closed. Using a closed object raises
    :class:`~libscim.ClosedError`. ``close()`` from another thread waits for calls in
    progress on this object to return before freeing it, so it never frees a pointer
    the library is still using.
    """

    _what: ClassVar[str] = "object"
    _ptr: Optional[int]

    def __init__(self, ptr: int, free: Callable[[int], Any]) -> None:
        self._ptr = ptr
        self._free = free
        self._busy = 0
        # _lock guards _ptr and _busy; _cond (on the same lock) is where close() waits.
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)

    @property
    def closed(self) -> bool:
        """True once :meth:`close` has run."""
        return self._ptr is None

    def _acquire(self) -> int:
        """The pointer, held for one library call: pair with :meth:`_release`. (What
        :meth:`_use` does, without a generator: the per-request path uses these.)"""
        with self._lock:
            ptr = self._ptr
            if ptr is None:
                raise ClosedError(self._what)
            self._busy += 1
        return ptr

    def _release(self) -> None:
        with self._lock:
            self._busy -= 1
            # Only a close() in progress (it cleared _ptr first) waits for the count.
            if self._busy == 0 and self._ptr is None:
                self._cond.notify_all()

    @contextmanager
    def _use(self) -> Iterator[int]:
        """The pointer, for the duration of one library call."""
        ptr = self._acquire()
        try:
            yield ptr
        finally:
            self._release()

    def close(self) -> None:
        """Free the library object. Calling it again does nothing."""
        cond = getattr(self, "_cond", None)
        if cond is None:  # __init__ never ran (a failed constructor)
            return
        with cond:
            ptr, self._ptr = self._ptr, None
            while ptr is not None and self._busy:
                cond.wait()
        if ptr is not None:
            self._free(ptr)

    def __enter__(self: T) -> T:
        if self._ptr is None:
            raise ClosedError(self._what)
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # pragma: no cover - interpreter shutdown
            pass
