"""The demo's close and count (protocol v2), each step the real command in a process of its own:
`ledger election close`; `ledger count prepare` (the selection: every ballot counted or left out
with its reason, every proof checked); three trustees shuffle the score columns in turn, each
checking every earlier shuffle, then decrypt at the same time, each with their own medium;
`ledger count finish`; `ledger publish` with the ceremony's transcript; and `ledger
verify-bundle` on the published bundle with no secret, as any observer would run it."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

from kiosk.core.encoding import b64e
from ledger.web.count_status import REASONS
from testkit.demo.ceremony import COUNTING, say
from testkit.demo.election_v2 import DemoElection, ledger
from testkit.demo.ledger_process import DemoLedger
from testkit.trustee_ceremony import NAMES, in_parallel, trustee


def _step(done: subprocess.CompletedProcess[str], what: str) -> str | None:
    """The command's output when it succeeded; None (and its words said) when it did not."""
    if done.returncode != 0:
        say(f"   !! {what} failed: {(done.stdout + done.stderr).strip()}")
        return None
    return done.stdout


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def close_and_count(the_ledger: DemoLedger, election: DemoElection, witness: str) -> Path | None:
    """Close, publish the closed log, count and publish the count; say each step; the published
    directory, or None. ``witness`` (NAME=URL=VKEY) is asked to cosign the final checkpoint."""
    data = the_ledger.data
    closed = _step(ledger("election", "close", "--data", data), "ledger election close")
    if closed is None:
        return None
    say(f"   마감 · close: {_lines(closed)[0]}")
    published = data / "published"
    first = _publish(data, witness, "--ceremony", election.transcript)
    if first is None:
        return None
    say(f"   ledger publish (the closed log, before the count): {first}")
    count = published / "count"
    prepared = _step(
        ledger("count", "prepare", "--data", data, "--out", count, "--workers", "2"),
        "ledger count prepare",
    )
    if prepared is None:
        return None
    _say_selection(json.loads((count / "selection.json").read_text("utf-8")))
    # the trustees' copy of the record, as on the stick they are handed
    record = data.parent / "record-for-trustees.zip"
    shutil.copy(published / "bundle.zip", record)
    if not _trustees(election, count, record):
        return None
    finished = _step(
        ledger("count", "finish", "--data", data, "--count", count, "--workers", "2"),
        "ledger count finish",
    )
    if finished is None:
        return None
    say(f"   ledger count finish: {_lines(finished)[0]}")
    if _publish(data, witness) is None:
        return None
    say("   ledger publish: the record with the count (bundle.zip, results, report)")
    return published


def _publish(data: Path, witness: str, *extra: str | Path) -> str | None:
    """`ledger publish`; the line that says what was checked (the ceremony, the witnesses)."""
    done = _step(
        ledger("publish", "--data", data, "--witness", witness, "--witness-wait", "60", *extra),
        "ledger publish",
    )
    if done is None:
        return None
    said = [x for x in _lines(done) if "ceremony" in x or "witness" in x]
    return "; ".join(said) or _lines(done)[0]


def _say_selection(selection: dict[str, Any]) -> None:
    counted, left = selection["counted"], selection["left_out"]
    say(f"   선별 · the selection: {len(counted)} ballots counted, {len(left)} left out")
    for reason, n in sorted(Counter(x["reason"] for x in left).items()):
        words = REASONS.get(reason)
        plain = f"{words.ko} / {words.en}" if words else reason
        say(f"     {n} × {reason}: {plain}")


def _trustees(election: DemoElection, count: Path, record: Path) -> bool:
    """Trustees 1, 3 and 5 shuffle in turn, then decrypt at once, each in a process of their own
    with their own medium. Each first recomputes the selection and the tally input from the
    closed log in ``record`` (the bundle `ledger publish` wrote after the close) and verifies
    every earlier shuffle."""
    log: list[str | Path] = ["--record", record, "--workers", "2"]
    for j in COUNTING:
        done = trustee("shuffle", "--medium", election.ceremony.medium(j), "--count", count, *log)
        out = _step(done, f"trustee {j}'s shuffle")
        if out is None:
            return False
        first, checked = _lines(out)[:2]
        say(f"   섞기 · {NAMES[j - 1]} (trustee {j}): {first.split(' / ', 1)[-1]}")
        say(f"     {checked}")
    try:
        outs = in_parallel(
            [
                ["decrypt", "--medium", election.ceremony.medium(j), "--count", count, *log]
                for j in COUNTING
            ]
        )
    except (AssertionError, OSError, subprocess.SubprocessError) as e:
        say(f"   !! a trustee's decryption failed: {e}")
        return False
    for j, out in zip(COUNTING, outs, strict=True):
        lines = _lines(out)
        say(f"   복호화 · {NAMES[j - 1]} (trustee {j}): {lines[1]}, {lines[2]}")
    say(f"     {lines[3]}")
    return True


def say_results(published: Path, election: DemoElection) -> Counter[str]:
    """The results as the count wrote them: ballots counted by category and by channel (from
    each source's count), the ranking's rule and its first places; the ballots counted by
    channel."""
    results = json.loads((published / "count" / "results.json").read_text("utf-8"))
    ballots, ranking = results["ballots"], results["ranking"]
    by = ", ".join(f"{n} {c}" for c, n in sorted(ballots["by_category"].items()))
    say(
        f"   결과 · results: {ballots['counted']} ballots counted ({by}); {ranking['winners']} "
        f"winners by the {ranking['method']} rule (extremes dropped: {ranking['drop_extremes']})"
    )
    channels: Counter[str] = Counter()
    for source in results.get("sources", []):
        channels[source["channel"]] += source["ballots_counted"]
        say(f"     {source['name']} ({source['channel']}): {source['ballots_counted']} counted")
    titles = {o.id: o.title for o in election.package.options}
    for row in ranking["options"][:3]:
        title = titles[row["option"]]
        tied = " (tied)" if row.get("tied") else ""
        scores = ", ".join(f"{c} {v}" for c, v in sorted(row["channels"].items()))
        say(f"     {row['rank']}. {title.ko} / {title.en}: {scores}{tied}")
    say(f"   the results, NIST 1500-100 results and 1500-101 event log, report: {published}")
    return channels


def verify_bundle(published: Path, the_ledger: DemoLedger, election: DemoElection) -> bool:
    """`ledger verify-bundle` as an observer runs it: the bundle, the authority's key and the
    log key, and no secret; say every line it prints."""
    done = ledger(
        "verify-bundle", published / "bundle.zip", f"--authority={b64e(election.authority)}",
        f"--log-key={the_ledger.log_key}", "--workers", "2",
    )  # fmt: skip
    say("   ledger verify-bundle bundle.zip (no secret, no database):")
    for line in _lines(done.stdout + done.stderr):
        say(f"     {line}")
    if done.returncode != 0:
        say("   !! verify-bundle failed")
        return False
    return True
