"""Findings that are reported (fuzz/REPORT.md) but not fixed yet, because the code at fault
belongs to someone else's change. A campaign counts them and goes on, so that one known bug
does not hide the next; the test suite shows each one with an expected-failure test."""

from __future__ import annotations

import sys
import traceback
from collections import Counter
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class KnownFinding:
    id: str
    target: str
    exception: str  # the exception's type name
    where: str  # a file the failure passes through, or text of the message

    def matches(self, target: str, error: BaseException) -> bool:
        if target != self.target or type(error).__name__ != self.exception:
            return False
        frames = "".join(traceback.format_exception(error))
        return self.where in frames


KNOWN: list[KnownFinding] = []
SEEN: Counter[str] = Counter()


def tolerated(target: str, error: BaseException) -> bool:
    """True (and counted) when ``error`` is a known finding of ``target``."""
    for finding in KNOWN:
        if finding.matches(target, error):
            if not SEEN[finding.id]:  # libFuzzer leaves without running atexit: say it now
                print(f"known finding {finding.id} met: {error!r:.200}", file=sys.stderr)
            SEEN[finding.id] += 1
            return True
    return False
