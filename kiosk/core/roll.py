"""The roll file: enrolled voter cards, test cards and staff cards, checked against an election
definition.

Enrolment writes here; the authority merges it into the election package it signs. Entries keep
one shape ({"card_key", "category", "group", "excluded"}) for both protocols: `ledger election
create --protocol 2` gives each voter and test card its random voter id when it makes the
package. Test cards (``test_roll``) are taken only in test mode, and only by a v2 package.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kiosk.core.crypto import is_valid_ed25519_point
from kiosk.core.election import StaffRole
from kiosk.core.election_parts import STAFF_NAME_MAX
from kiosk.core.encoding import b64e
from kiosk.core.errors import ElectionPackageError


def empty_roll() -> dict[str, list[dict[str, Any]]]:
    return {"roll": [], "staff": []}


def _enrolled_keys(roll: Mapping[str, Any]) -> set[str]:
    return {
        e["card_key"] for section in ("roll", "test_roll", "staff") for e in roll.get(section, [])
    }


def _check_card(roll: Mapping[str, Any], card_key: bytes) -> str:
    if not is_valid_ed25519_point(card_key):
        raise ElectionPackageError("the card's key is not a valid Ed25519 public key")
    text = b64e(card_key)
    if text in _enrolled_keys(roll):
        raise ElectionPackageError(
            f"card key {text} is already enrolled",
            user_message=("이미 등록된 카드입니다.", "This card is already enrolled."),
        )
    return text


def add_voter(
    roll: dict[str, Any],
    definition: Mapping[str, Any],
    card_key: bytes,
    category: str,
    group: str | None,
    excluded: list[str],
    *,
    test: bool = False,
) -> dict[str, Any]:
    """Add a voter card to ``roll`` after checking the category, group and recusals exist;
    with ``test``, a test card to its ``test_roll`` (the category and group it tests as)."""
    text = _check_card(roll, card_key)
    if category not in {c["id"] for c in definition["categories"]}:
        raise ElectionPackageError(f"there is no voter category {category!r}")
    if group is not None and group not in {g["id"] for g in definition["groups"]}:
        raise ElectionPackageError(f"there is no group {group!r}")
    options = {o["id"] for o in definition["options"]}
    unknown = sorted(set(excluded) - options)
    if unknown:
        raise ElectionPackageError(f"excluded proposal(s) do not exist: {', '.join(unknown)}")
    needs_group = any(
        category in c["categories"] and c.get("scope", "group") == "group" and c["kind"] != "yesno"
        for c in definition["contests"]
    )
    if needs_group and group is None:
        raise ElectionPackageError(
            f"a {category} voter scores their own group's proposals, so a group is required"
        )
    entry = {
        "card_key": text,
        "category": category,
        "group": group,
        "excluded": sorted(set(excluded)),
    }
    roll.setdefault("test_roll" if test else "roll", []).append(entry)
    return entry


def add_staff(roll: dict[str, Any], card_key: bytes, role: str, name: str) -> dict[str, Any]:
    text = _check_card(roll, card_key)
    try:
        StaffRole(role)
    except ValueError as e:
        raise ElectionPackageError(
            f"staff role must be poll_worker or election_manager, not {role!r}"
        ) from e
    if not name.strip():
        raise ElectionPackageError("a staff card needs the staff member's name")
    if len(name.strip()) > STAFF_NAME_MAX:  # what the package reader takes
        raise ElectionPackageError(
            f"a staff member's name is at most {STAFF_NAME_MAX} characters, not {len(name.strip())}"
        )
    entry = {"card_key": text, "role": role, "name": name.strip()}
    roll.setdefault("staff", []).append(entry)
    return entry
