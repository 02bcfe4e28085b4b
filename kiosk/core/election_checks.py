"""The checks across an election package's parts that no single field can make on its own:
the protocol's keys present, the roll's references resolve, the schedule runs forward."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from kiosk.core.election_parts import ContestKind, RollEntry, Scope
from kiosk.core.election_v2 import PROTOCOL_VERSIONS
from kiosk.core.errors import ElectionPackageError

if TYPE_CHECKING:
    from kiosk.core.election import ElectionPackage


def check_protocol(p: ElectionPackage) -> None:
    """The protocol's keys present: the test key, the election key, a whole log key."""
    fail = ElectionPackageError
    if p.protocol not in PROTOCOL_VERSIONS:
        raise fail(f"v: unsupported package version {p.protocol}")
    if p.test_key is None:
        raise fail("keys.test: is missing")
    if p.election_key is None:
        raise fail("election_key: is missing; ballots are encrypted to it")
    if (p.log_key is None) != (p.log_name is None):
        raise fail("ledger.log_key: a log key has a name and a key, or is null")
    if p.test_key.key == p.election_key.key:
        raise fail("keys.test.key: the test key must differ from the election key K")
    if any(e.voter_id is None for e in (*p.roll, *p.test_roll)):
        raise fail("roll: every roll entry has a voter id")


def check_consistency(p: ElectionPackage) -> None:
    """The cross-references a single field cannot check on its own."""
    fail = ElectionPackageError
    if len({g.id for g in p.groups}) != len(p.groups):
        raise fail("group ids must be unique")
    if len({c.id for c in p.contests}) != len(p.contests):
        raise fail("contest ids must be unique")
    groups = {g.id for g in p.groups}
    for o in p.options:
        if o.group not in groups:
            raise fail(f"option {o.id} names group {o.group!r}, which does not exist")
    for c in p.contests:
        for cat in c.categories:
            if p.category(cat) is None:
                raise fail(f"contest {c.id} names category {cat!r}, which does not exist")
    _check_roll(p, "roll", p.roll)
    _check_roll(p, "test_roll", p.test_roll)
    if datetime.fromisoformat(p.opens) >= datetime.fromisoformat(p.closes):
        raise fail(f"the election must close after it opens ({p.opens} .. {p.closes})")


def _check_roll(p: ElectionPackage, where: str, roll: tuple[RollEntry, ...]) -> None:
    """Each entry's category, group and recusals exist, and a group where contests need one."""
    fail = ElectionPackageError
    groups = {g.id for g in p.groups}
    needs_group = {
        cat
        for c in p.contests
        if c.scope is Scope.GROUP and c.kind is not ContestKind.YESNO
        for cat in c.categories
    }
    for i, e in enumerate(roll):
        if p.category(e.category) is None:
            raise fail(f"{where}[{i}]: category {e.category!r} does not exist")
        if e.group is not None and e.group not in groups:
            raise fail(f"{where}[{i}]: group {e.group!r} does not exist")
        if e.group is None and e.category in needs_group:
            raise fail(
                f"{where}[{i}]: category {e.category} votes on group contests, "
                "so a group is required"
            )
        for x in e.excluded:
            if p.option(x) is None:
                raise fail(f"{where}[{i}]: excluded option {x!r} does not exist")
