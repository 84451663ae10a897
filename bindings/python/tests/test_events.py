"""Change events: pull (iteration + acknowledgement) and push (a callback)."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any, Dict, List

import pytest

import libscim
from conftest import Tenant, user


def test_iterate_and_ack(tenant: Tenant) -> None:
    for name in ("ann", "ben", "cat"):
        tenant.request("POST", "/Users", body=user(f"{name}@acme.example")).raise_for_status()

    stream = tenant.engine.events(tenant.id, timeout=0.2)
    events = list(stream)
    assert [e["kind"] for e in events] == ["user.created"] * 3
    assert [e["seq"] for e in events] == sorted(e["seq"] for e in events)
    assert stream.last_seq == events[-1]["seq"]
    # The data is what a host applies: the mapped records.
    assert events[0]["resource_type"] == "User"
    assert events[0]["data"]
    stream.ack()

    # Nothing new: the iteration ends after the timeout.
    t0 = time.monotonic()
    assert list(tenant.engine.events(tenant.id, timeout=0.2)) == []
    assert time.monotonic() - t0 >= 0.15

    with pytest.raises(libscim.ConflictError):
        tenant.engine.ack_events(tenant.id, events[-1]["seq"] + 100)
    with pytest.raises(libscim.NotFoundError):
        tenant.engine.next_events("nope")


def test_iteration_waits_for_new_events(tenant: Tenant) -> None:
    def later() -> None:
        time.sleep(0.3)
        tenant.request("POST", "/Users", body=user("late@acme.example"))

    t = threading.Thread(target=later)
    t.start()
    first = next(tenant.engine.events(tenant.id, timeout=5))
    t.join()
    assert first["kind"] == "user.created"


def test_unacknowledged_events_come_again_after_restart(tmp_path: Path) -> None:
    db = tmp_path / "events.db"
    with libscim.Engine(db) as e:
        d = e.create_directory(
            {"name": "Ev", "domain": "ev.example", "idp": "okta", "services": ["uem"]}
        )
        secret = e.issue_token(d["id"])["secret"]
        for n in ("a", "b"):
            e.handle(
                "POST",
                f"/scim/v2/{d['id']}/Users",
                headers={"Authorization": f"Bearer {secret}"},
                body=user(f"{n}@ev.example"),
            ).raise_for_status()
        first = e.next_events(d["id"], limit=1)
        assert len(first) == 1
        e.ack_events(d["id"], first[0]["seq"])
        assert len(e.next_events(d["id"])) == 1  # delivered, not acknowledged
    with libscim.Engine(db) as e:
        again = e.next_events(d["id"])
        assert [x["seq"] for x in again] == [first[0]["seq"] + 1]
        e.ack_events(d["id"], again[-1]["seq"])
    with libscim.Engine(db) as e:
        assert e.next_events(d["id"], timeout=0.1) == []


def test_subscription_pushes_batches(tenant: Tenant) -> None:
    got: List[Dict[str, Any]] = []
    done = threading.Event()

    def on_events(batch: List[Dict[str, Any]]) -> None:
        got.extend(batch)
        tenant.engine.ack_events(tenant.id, batch[-1]["seq"])
        if len(got) >= 2:
            done.set()

    with tenant.engine.subscribe(tenant.id, on_events) as sub:
        tenant.request("POST", "/Users", body=user("p1@acme.example"))
        tenant.request("POST", "/Users", body=user("p2@acme.example"))
        assert done.wait(10)
    assert sub.closed
    assert [e["kind"] for e in got] == ["user.created", "user.created"]
    assert tenant.engine.next_events(tenant.id, timeout=0) == []


def test_subscription_callback_exception_is_raised_on_close(tenant: Tenant) -> None:
    called = threading.Event()

    def boom(batch: List[Dict[str, Any]]) -> None:
        called.set()
        raise RuntimeError("host failed")

    sub = tenant.engine.subscribe(tenant.id, boom)
    tenant.request("POST", "/Users", body=user("x@acme.example"))
    assert called.wait(10)
    with pytest.raises(RuntimeError, match="host failed"):
        sub.close()
    sub.close()  # idempotent, and the error is raised only once


def test_retention_drops_beyond_the_count_and_says_so() -> None:
    config = {"events": {"max_count": 2, "max_age_secs": None}}
    with libscim.Engine(None, config) as e:
        d = e.create_directory(
            {"name": "Kept", "domain": "ev.example", "idp": "okta", "services": ["uem"]}
        )
        secret = e.issue_token(d["id"])["secret"]
        for n in "abcde":
            e.handle(
                "POST",
                f"/scim/v2/{d['id']}/Users",
                headers={"Authorization": f"Bearer {secret}"},
                body=user(f"{n}@ev.example"),
            ).raise_for_status()
        assert e.event_stats(d["id"]) == {"last_seq": 5, "acked": 0, "kept": 5, "dropped": 0}
        # An acknowledgement runs retention: #1 is deleted, #2 and #3 are dropped.
        e.ack_events(d["id"], 1)
        assert e.event_stats(d["id"]) == {"last_seq": 5, "acked": 1, "kept": 2, "dropped": 2}
        assert [x["seq"] for x in e.next_events(d["id"])] == [4, 5]
        with pytest.raises(libscim.NotFoundError):
            e.event_stats("nope")


def test_consumer_groups_have_their_own_cursors(tmp_path: Path) -> None:
    db = tmp_path / "groups.db"
    with libscim.Engine(db) as e:
        d = e.create_directory(
            {"name": "Gr", "domain": "ev.example", "idp": "okta", "services": ["uem"]}
        )
        # Both groups exist before the events: each receives all of them.
        e.ack_events(d["id"], 0, group="audit")
        e.ack_events(d["id"], 0, group="sync")
        secret = e.issue_token(d["id"])["secret"]
        for n in ("a", "b"):
            e.handle(
                "POST",
                f"/scim/v2/{d['id']}/Users",
                headers={"Authorization": f"Bearer {secret}"},
                body=user(f"{n}@gr.example"),
            ).raise_for_status()
        audit = e.next_events(d["id"], group="audit")
        assert [x["seq"] for x in audit] == [1, 2]
        assert e.next_events(d["id"], group="audit") == []
        e.ack_events(d["id"], 2, group="audit")
        # "sync" is untouched by what "audit" did.
        assert [x["seq"] for x in e.next_events(d["id"], limit=1, group="sync")] == [1]
        e.ack_events(d["id"], 1, group="sync")
        groups = {g["group"]: g for g in e.event_groups(d["id"])}
        assert (groups["audit"]["acked"], groups["sync"]["acked"]) == (2, 1)
        # Retention waits for every group: event 2 is kept for "sync".
        assert e.event_stats(d["id"])["kept"] == 1
        with pytest.raises(libscim.ConflictError):
            e.ack_events(d["id"], 99, group="sync")
        with pytest.raises(libscim.InvalidArgumentError):
            e.next_events(d["id"], group="")
