"""enable_logging/disable_logging: records reach :mod:`logging`, and the ctypes callback
lives exactly as long as the library holds it (its finalizer gives it back)."""

from __future__ import annotations

import gc
import logging
import weakref
from typing import Any, Iterator, List

import pytest

import libscim
from libscim import _log

from conftest import Tenant


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: List[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{record.name} {record.levelname} {record.getMessage()}")


@pytest.fixture
def records() -> Iterator[Records]:
    h = Records()
    logger = logging.getLogger("scim.provider")
    logger.addHandler(h)
    logger.setLevel(logging.DEBUG)
    try:
        yield h
    finally:
        libscim.disable_logging()
        logger.removeHandler(h)


def unknown_member(tenant: Tenant, name: str) -> None:
    """A group naming a member that does not exist: the library logs a warning
    (target scim::provider) before handle() returns."""
    body: Any = {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "displayName": name,
        "members": [{"value": "0000-nobody"}],
    }
    assert tenant.request("POST", "/Groups", body=body).status == 201


def warnings(records: Records) -> List[str]:
    return [line for line in records.lines if "ignoring unknown member" in line]


def test_records_reach_logging_and_stop_when_disabled(tenant: Tenant, records: Records) -> None:
    libscim.enable_logging(logging.WARNING)
    unknown_member(tenant, "one")
    assert len(warnings(records)) == 1
    assert warnings(records)[0].startswith("scim.provider WARNING group ")

    libscim.disable_logging()
    unknown_member(tenant, "two")
    assert len(warnings(records)) == 1

    # Above the level asked for: error only, so the warning is not sent.
    libscim.enable_logging(logging.ERROR)
    unknown_member(tenant, "three")
    assert len(warnings(records)) == 1


def test_callback_lifetime_follows_the_finalizer(tenant: Tenant, records: Records) -> None:
    libscim.enable_logging(logging.WARNING)
    assert len(_log._held) == 1
    first = weakref.ref(next(iter(_log._held.values())))

    # Replaced: the library finalized the first userdata, so its callback is released
    # (and collected); the second is held, and still works after a collection.
    libscim.enable_logging(logging.WARNING)
    gc.collect()
    assert first() is None
    assert len(_log._held) == 1
    second = weakref.ref(next(iter(_log._held.values())))
    gc.collect()
    unknown_member(tenant, "after gc")
    assert len(warnings(records)) == 1

    # Cleared: nothing held any more; clearing again is harmless.
    libscim.disable_logging()
    gc.collect()
    assert second() is None
    assert _log._held == {}
    libscim.disable_logging()
    assert _log._held == {}
