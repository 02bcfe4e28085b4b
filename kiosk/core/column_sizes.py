"""How many voters of the roll each count column can hold, so that the authority hears, before
signing, of a column so small that its decrypted numbers reveal what its few voters chose.

A column is what the count decrypts apart (design/verifiable-election.md, "The count"): per
(contest, option, criterion, category, channel of the category) the shuffled scores, or the sum
of choices. Its voters are the roll entries of that category for whom the option is on the
ballot: the contest is their category's, the option is in their group (or the contest is for
all options), and they are not recused from it. A yes/no contest has one column per category.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from kiosk.core.election import ContestKind, ElectionPackage, Scope


@dataclass(frozen=True, slots=True)
class ColumnSize:
    contest: str
    option: str | None  # None: the yes/no question itself
    criterion: str | None
    category: str
    channel: str
    voters: int

    def label(self) -> str:
        parts = [self.contest, self.option or "yes/no", self.criterion, self.category, self.channel]
        return " / ".join(p for p in parts if p is not None)


def column_sizes(package: ElectionPackage) -> tuple[ColumnSize, ...]:
    """Every column of the official count with the number of voters on the roll who can fill
    it. Counted per (category, group) and per recusal, so a large roll costs one pass."""
    members: Counter[tuple[str, str | None]] = Counter()  # (category, group)
    recused: Counter[tuple[str, str | None, str]] = Counter()  # (category, group, option)
    in_category: Counter[str] = Counter()
    recused_in_category: Counter[tuple[str, str]] = Counter()  # (category, option)
    for entry in package.roll:
        members[entry.category, entry.group] += 1
        in_category[entry.category] += 1
        for recusal in entry.excluded:
            recused[entry.category, entry.group, recusal] += 1
            recused_in_category[entry.category, recusal] += 1
    out: list[ColumnSize] = []
    for contest in package.contests:
        for category_id in contest.categories:
            category = package.category(category_id)
            if category is None:
                continue  # the package reader refuses this; nothing to count
            channel = category.channel.value
            if contest.kind is ContestKind.YESNO:
                everyone = in_category[category_id]
                out.append(ColumnSize(contest.id, None, None, category_id, channel, everyone))
                continue
            criteria: list[str | None] = [c.id for c in contest.criteria] or [None]
            for option in package.options:
                if contest.scope is Scope.GROUP:
                    eligible = members[category_id, option.group]
                    eligible -= recused[category_id, option.group, option.id]
                else:
                    eligible = in_category[category_id]
                    eligible -= recused_in_category[category_id, option.id]
                out += [
                    ColumnSize(contest.id, option.id, criterion, category_id, channel, eligible)
                    for criterion in criteria
                ]
    return tuple(out)


def small_columns(package: ElectionPackage) -> tuple[ColumnSize, ...]:
    """The columns holding at least one voter and fewer than the package's ``min_column``.

    An empty column reveals nothing (no ballot can fall in it), so it is not reported."""
    return tuple(c for c in column_sizes(package) if 0 < c.voters < package.min_column)
