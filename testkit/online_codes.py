"""An election whose online members hold credential codes, as the letters give them: each
online roll entry (and each online test-roll entry) gets a code from ``new_code`` and, beside
its synthetic card key, the code's derived public key (docs/spec/online.md; the contract's
section 1). The tests open the voting page with a letter's link (``OnlineMember.link``: the code,
the authority's key and the election id after ``#``) or type the code and the letter's election
check (``CodedElection.check``) as a member would."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from kiosk.core.election import ElectionPackage, RollEntry
from kiosk.core.encoding import b64e
from kiosk.core.online_credential import credential_key, new_code
from ledger.publish.credential_letters import election_check
from testkit.elections import SyntheticElection, build_election, review_definition


@dataclass(frozen=True, slots=True)
class OnlineMember:
    code: str
    voter_id: str  # hex, as the session answers it
    group: str | None
    excluded: tuple[str, ...]
    test: bool
    link: str = ""  # the letter's QR link after the address: #code=…&k=…&e=…


@dataclass(frozen=True, slots=True)
class CodedElection:
    election: SyntheticElection
    members: tuple[OnlineMember, ...]  # official roll, in roll order
    test_members: tuple[OnlineMember, ...]

    @property
    def check(self) -> str:
        """The election check every letter of this election prints."""
        return election_check(self.election.authority.public_key, self.election.package.id)

    def option_titles(self, member: OnlineMember, lang: str = "ko") -> list[str]:
        """The titles member sees in the "likes" contest: their group's, never their own."""
        package = self.election.package
        contest = next(c for c in package.contests if "online" in c.categories)
        return [
            getattr(o.title, lang)
            for o in package.options
            if (contest.scope.value == "all" or o.group == member.group)
            and o.id not in member.excluded
        ]


def coded_election(
    definition: Mapping[str, Any] | None = None, *, seed: str = "online-page", test_cards: int = 24
) -> CodedElection:
    """A small reference-style election (2 groups of 8 proposals; 6 likes online) with a code
    for every online member and every online test card."""
    definition = definition or review_definition(groups=2, per_group=8, election_id="online-page")
    built = build_election(definition, seed=seed, online_per_proposal=1, test_cards=test_cards)
    package = built.package
    anchor = f"&k={b64e(built.authority.public_key)}&e={quote(package.id, safe='')}"
    roll, members = _with_codes(package, package.roll, anchor, test=False)
    test_roll, test_members = _with_codes(package, package.test_roll, anchor, test=True)
    coded = dataclasses.replace(package, roll=roll, test_roll=test_roll)
    return CodedElection(dataclasses.replace(built, package=coded), members, test_members)


def _with_codes(
    package: ElectionPackage, entries: tuple[RollEntry, ...], anchor: str, *, test: bool
) -> tuple[tuple[RollEntry, ...], tuple[OnlineMember, ...]]:
    out: list[RollEntry] = []
    members: list[OnlineMember] = []
    for entry in entries:
        if entry.category != "online":
            out.append(entry)
            continue
        code = new_code()
        key = credential_key(code, package.id).public_key
        out.append(dataclasses.replace(entry, keys=(*entry.keys, key)))
        assert entry.voter_id is not None
        members.append(
            OnlineMember(
                code,
                entry.voter_id.hex(),
                entry.group,
                tuple(sorted(entry.excluded)),
                test,
                f"#code={code}{anchor}",
            )
        )
    return tuple(out), tuple(members)
