"""Mappings: list, set and remove entries, resync, and the reverse lookup (find_user)."""

from __future__ import annotations

import pytest

import libscim
from conftest import Tenant, user


def _targets(mapping: dict, kind: str = "users") -> list:
    return [e["target"] for e in mapping[kind]]


def test_mapping_round_trip(tenant: Tenant) -> None:
    engine = tenant.engine
    mappings = engine.mappings(tenant.id)
    assert set(mappings) == {"uem"}  # one per service the directory feeds
    uem = mappings["uem"]
    assert uem["profile"] == "workspace-one"
    assert "email" in _targets(uem)
    assert {"target", "source", "required"} <= set(uem["users"][0])
    assert "costCenterCode" not in _targets(uem)

    entry = {"target": "costCenterCode", "source": "title"}
    after = engine.set_mapping_entry(tenant.id, "uem", "users", entry)
    assert "costCenterCode" in _targets(after)
    assert engine.mappings(tenant.id)["uem"] == after

    # The same target again changes the entry instead of adding one.
    entry["source"] = "nickName"
    after = engine.set_mapping_entry(tenant.id, "uem", "users", entry)
    assert _targets(after).count("costCenterCode") == 1
    (changed,) = [e for e in after["users"] if e["target"] == "costCenterCode"]
    assert changed["source"] == "nickName" and changed["required"] is False

    after = engine.remove_mapping_entry(tenant.id, "uem", "users", "costCenterCode")
    assert "costCenterCode" not in _targets(after)
    assert engine.mappings(tenant.id)["uem"] == after


def test_mapping_refusals(tenant: Tenant) -> None:
    engine = tenant.engine
    with pytest.raises(libscim.InvalidArgumentError) as e:
        engine.remove_mapping_entry(tenant.id, "uem", "users", "email")  # required
    assert e.value.code == libscim.Code.INVALID_ARGUMENT
    assert "email" in _targets(engine.mappings(tenant.id)["uem"])
    with pytest.raises(libscim.InvalidArgumentError):
        engine.set_mapping_entry(
            tenant.id, "uem", "users", {"target": "x", "source": "noSuchAttribute"}
        )
    with pytest.raises(libscim.InvalidArgumentError):
        engine.set_mapping_entry(tenant.id, "nope", "users", {"target": "x", "source": "title"})
    with pytest.raises(libscim.InvalidArgumentError):
        engine.remove_mapping_entry(tenant.id, "uem", "widgets", "title")
    with pytest.raises(libscim.InvalidArgumentError):  # not an entry (bad JSON shape)
        engine.set_mapping_entry(tenant.id, "uem", "users", {"source": "title"})
    with pytest.raises(libscim.NotFoundError):
        engine.mappings("no-such-directory")


def test_resync_emits_user_updated_with_records(tenant: Tenant) -> None:
    engine = tenant.engine
    assert engine.resync(tenant.id) == 0
    for name in ("ann", "ben"):
        tenant.request(
            "POST", "/Users", body=user(f"{name}@acme.example", title=f"{name}-title")
        ).raise_for_status()
    created = engine.next_events(tenant.id)
    assert [e["kind"] for e in created] == ["user.created"] * 2
    engine.ack_events(tenant.id, created[-1]["seq"])

    engine.set_mapping_entry(
        tenant.id, "uem", "users", {"target": "jobCode", "source": "title"}
    )
    assert engine.next_events(tenant.id) == []  # setting an entry emits nothing

    assert engine.resync(tenant.id) == 2
    events = engine.next_events(tenant.id, timeout=2.0)
    assert [e["kind"] for e in events] == ["user.updated"] * 2
    assert {e["resource_id"] for e in events} == {e["resource_id"] for e in created}
    records = sorted(
        (e["data"]["records"]["uem"] for e in events), key=lambda r: r["userName"]
    )
    assert [r["jobCode"] for r in records] == ["ann-title", "ben-title"]
    assert [r["email"] for r in records] == ["ann@acme.example", "ben@acme.example"]


def test_find_user(tenant: Tenant) -> None:
    engine = tenant.engine
    r = tenant.request("POST", "/Users", body=user("Ada.Lovelace@acme.example"))
    r.raise_for_status()
    ada = r.json()
    tenant.request("POST", "/Users", body=user("bob@acme.example")).raise_for_status()

    found = engine.find_user(tenant.id, "uem", "email", "ada.lovelace@ACME.example")
    assert found is not None
    assert found["id"] == ada["id"]
    assert found["resource"]["userName"] == "Ada.Lovelace@acme.example"
    assert found["record"]["email"] == "Ada.Lovelace@acme.example"

    by_ext = engine.find_user(tenant.id, "uem", "externalId", "ext-Ada.Lovelace@acme.example")
    assert by_ext is not None and by_ext["id"] == ada["id"]

    assert engine.find_user(tenant.id, "uem", "email", "nobody@acme.example") is None
    assert engine.find_user(tenant.id, "uem", "externalId", "ext-nobody") is None
    with pytest.raises(libscim.NotFoundError):
        engine.find_user("no-such-directory", "uem", "email", "ada@acme.example")
