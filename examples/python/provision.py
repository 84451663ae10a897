#!/usr/bin/env python3
"""Provision a few users through libscim, as an IdP would, and print the mapped records
a host receives in its change events; then add a mapping entry, resync, and look a user
up by email.

Run from the repository after `cargo build --release --lib` (or with LIBSCIM_LIBRARY
set) and `pip install ./bindings/python`:

    python examples/python/provision.py
"""

from __future__ import annotations

import json

import libscim

USERS = [
    ("ada.lovelace@acme.example", "Ada", "Lovelace", "E-1815"),
    ("alan.turing@acme.example", "Alan", "Turing", "E-1912"),
    ("grace.hopper@acme.example", "Grace", "Hopper", "E-1906"),
]


def main() -> None:
    with libscim.Engine(None, {"public_url": "https://scim.acme.example"}) as engine:
        # One directory per IdP integration; the token is what the IdP is given.
        directory = engine.create_directory(
            {
                "name": "Acme Okta",
                "domain": "acme.example",
                "idp": "okta",
                "services": ["uem", "access"],
            }
        )
        secret = engine.issue_token(directory["id"])["secret"]
        print(f"Tenant URL for the IdP: {directory['tenant_url']}\n")

        # What the IdP sends (here through handle(); a host with its own HTTP server
        # forwards each request the same way, or runs libscim.Server).
        auth = {"Authorization": f"Bearer {secret}"}
        users_path = f"/scim/v2/{directory['id']}/Users"
        ids = []
        for user_name, given, family, external_id in USERS:
            r = engine.handle(
                "POST",
                users_path,
                headers=auth,
                body={
                    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                    "userName": user_name,
                    "externalId": external_id,
                    "name": {"givenName": given, "familyName": family},
                    "emails": [{"value": user_name, "type": "work", "primary": True}],
                    "active": True,
                },
            ).raise_for_status()
            ids.append(r.json()["id"])
        # The IdP unassigns Alan: a PATCH that deactivates him.
        engine.handle(
            "PATCH",
            f"{users_path}/{ids[1]}",
            headers=auth,
            body={
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "replace", "value": {"active": False}}],
            },
        ).raise_for_status()

        # What the host applies: every change, in order, with the record of each
        # service it feeds; acknowledged once applied.
        events = engine.events(directory["id"], timeout=0.5)
        for event in events:
            print(f"#{event['seq']} {event['kind']} {event['resource_id']}")
            for service, record in event["data"].get("records", {}).items():
                print(f"  {service}: {json.dumps(record, sort_keys=True)}")
        events.ack()

        # The host wants one more attribute: map it, then re-send every user's record.
        engine.set_mapping_entry(
            directory["id"], "uem", "users", {"target": "jobTitle", "source": "title"}
        )
        print(f"\nresync: {engine.resync(directory['id'])} users re-sent")
        events = engine.events(directory["id"], timeout=0.5)
        print(f"{sum(1 for e in events if e['kind'] == 'user.updated')} user.updated events")
        events.ack()

        # The reverse lookup a login uses: which provisioned user has this email?
        found = engine.find_user(directory["id"], "uem", "email", "GRACE.HOPPER@acme.example")
        print(f"find_user: {found['record']['email'] if found else None}")


if __name__ == "__main__":
    main()
