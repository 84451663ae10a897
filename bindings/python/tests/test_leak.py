"""No leak across many create/free cycles: resident memory stays bounded."""

from __future__ import annotations

import gc
import os
import sys

import pytest

import libscim

CYCLES = 10_000
WARM_UP = 1_000
# A response leaked per cycle grows it by ~14 MB; a healthy run by ~0 MB.
BOUND_MB = 8


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def cycle(i: int) -> None:
    engine = libscim.Engine(None, {"public_url": "https://example.com"})
    d = engine.create_directory(
        {"name": f"Leak {i}", "domain": "leak.example", "idp": "okta", "services": ["uem"]}
    )
    secret = engine.issue_token(d["id"])["secret"]
    r = engine.handle(
        "POST",
        f"/scim/v2/{d['id']}/Users",
        headers={"Authorization": f"Bearer {secret}"},
        body={
            "userName": f"u{i}@leak.example",
            "externalId": f"e{i}",
            "name": {"givenName": "Leak", "familyName": f"N{i}"},
            "emails": [{"value": f"u{i}@leak.example", "type": "work"}],
        },
    )
    assert r.status == 201, r.text
    if i % 2:
        engine.close()
    # else: dropped, freed by __del__


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/statm")
def test_rss_bounded_over_10000_cycles() -> None:
    for i in range(WARM_UP):
        cycle(i)
    gc.collect()
    before = rss_bytes()
    for i in range(WARM_UP, CYCLES):
        cycle(i)
    gc.collect()
    grown = (rss_bytes() - before) / 2**20
    assert grown < BOUND_MB, f"RSS grew {grown:.1f} MB over {CYCLES - WARM_UP} cycles"
