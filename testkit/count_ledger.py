"""A real closed ledger behind a count directory, for the trustees' tool (`ledger trustee
shuffle|decrypt --count DIR --record BUNDLE.zip | --ledger-data DIR`), in the order the election
office follows (docs/trustee-ceremony.md): a SQLite ledger takes two halls' chains where every
roll voter casts a ballot signed by their card; the election is closed; `ledger publish` (a
real process) writes the record's log part right after the close; then `ledger count prepare`
writes the count directory. The plaintexts stay with the test (``CountPlaintexts``).

Also the forgeries a dishonest count directory would hold, made consistent (hashes and all).
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from kiosk.core.block import BlockKind
from kiosk.core.chain import Mode
from kiosk.core.crypto import SigningKey, kiosk_id_for, sha256
from kiosk.core.election import Channel, ElectionPackage, sign_package
from kiosk.core.encoding import b64e, canonical_json
from ledger.rules.count_input import tally_input
from ledger.rules.selection import Selection, selection_bytes
from ledger.service.closing import close_election
from ledger.service.count import prepare_count
from ledger.service.ledger import Ledger
from ledger.store.merkle_log import LogKey
from ledger.store.schema import connect, create_schema
from testkit.chain_writer import ChainWriter
from testkit.count_dirs import LOG_ORIGIN, CountElection, CountPlaintexts
from testkit.elections import SyntheticElection
from testkit.v2_ballots import cast_ballot

START = datetime(2017, 11, 25, 0, 30, tzinfo=UTC)
HALLS = ("Hall A", "Hall B")
LEDGER = (sys.executable, "-m", "ledger.cli")


@dataclass(frozen=True)
class CountLedger:
    """The ledger's data directory, its published record (bundle.zip, written before the
    count), the count directory and what the test encrypted, in the count input's order."""

    data: Path
    record: Path
    count: Path
    plain: CountPlaintexts


def ledger_count(
    tmp: Path, election: CountElection, log_key: SigningKey, ceremony: Path, *, seed: int = 7
) -> CountLedger:
    """Vote, close, publish the record's log part, then prepare the count (module docstring).
    ``ceremony`` is the collected ceremony result of ``election``'s key (published with it)."""
    synthetic = election.synthetic
    assert synthetic is not None, "ledger_count needs the voters' card keys (v2_package)"
    data = tmp / "data"
    data.mkdir(parents=True)
    (data / "log.key").write_text(b64e(log_key.seed) + "\n")
    engine = connect(f"sqlite:///{data / 'ledger.db'}")
    try:
        create_schema(engine)
        signed = sign_package(election.package, election.authority).to_json()
        Ledger.initialise(
            engine, LogKey(LOG_ORIGIN, log_key), signed, synthetic.authority.public_key
        )
        ledger = Ledger(engine, log_key)
        values = _vote(ledger, synthetic, random.Random(seed))
        close_election(ledger, {})
        _publish(data, election, ceremony)
        count = tmp / "count"
        prepare_count(ledger, count, workers=1)
    finally:
        engine.dispose()
    return CountLedger(data, data / "published" / "bundle.zip", count, _plain(count, values))


Label = tuple[str, str, str | None, str]  # contest, option, criterion, category


def _vote(
    ledger: Ledger, synthetic: SyntheticElection, rng: random.Random
) -> dict[Label, list[int]]:
    """Every roll voter casts one ballot, alternately at the two halls; each cell's value kept."""
    package = synthetic.package
    writers = []
    for n, name in enumerate(HALLS):
        key = SigningKey(sha256(f"count-ledger/{package.id}/{name}".encode()))
        ledger.enrol(key.public_key, name, channel=Channel.KIOSK)
        w = ChainWriter(package, key, START + timedelta(minutes=n), timedelta(minutes=1))
        w.mode(Mode.OFFICIAL)
        w.open_session()
        writers.append(w)
    values: dict[Label, list[int]] = {}
    for index, entry in enumerate(package.roll):
        cast = cast_ballot(synthetic, index, rng)
        w = writers[index % len(writers)]
        w.now += w.step
        w.append(BlockKind.BALLOT, cast.body)
        for contest, cells in zip(cast.encrypted.contests, cast.secrets.values, strict=True):
            for cell, value in zip(contest.cells, cells, strict=True):
                spot = cell.spot
                label = (contest.id, spot.option, spot.criterion, entry.category)
                values.setdefault(label, []).append(value)
    for w in writers:
        w.close_session()
        result = ledger.ingest(kiosk_id_for(w.key.public_key), [b.encode() for b in w.blocks])
        assert result.rejection is None, result.rejection
    return values


def _publish(data: Path, election: CountElection, ceremony: Path) -> None:
    """`ledger publish` right after the close: the record's log part, before any count."""
    from ledger.service.ceremony_result import ceremony_section, verify_result

    result = json.loads(ceremony.read_text("utf-8"))
    transcript = data.parent / "package.ceremony.json"
    transcript.write_bytes(
        canonical_json(result | {"record": ceremony_section(verify_result(result))})
    )
    done = subprocess.run(
        [*LEDGER, "publish", "--data", str(data), "--ceremony", str(transcript)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert election.package.id in done.stdout


def _plain(count: Path, values: dict[Label, list[int]]) -> CountPlaintexts:
    """Each aggregate's sum and each column's values, in tally-input.json's order."""
    tally = json.loads((count / "tally-input.json").read_bytes())
    plain = CountPlaintexts()
    for a in tally["aggregates"]:
        plain.sums.append(sum(values[a["contest"], a["option"], None, a["category"]]))
    for c in tally["columns"]:
        plain.columns.append(values[c["contest"], c["option"], c["criterion"], c["category"]])
    return plain


# --- a dishonest count directory ---------------------------------------------------------


def one_ballot_count(count: Path, package: ElectionPackage, selection: Selection) -> int:
    """Rewrite ``count``'s selection.json and tally-input.json so that they count only the
    first ballot ``selection`` counts, consistently (the tally input names the new selection's
    hash): every "aggregate" is then one voter's choice. Returns that ballot's log position."""
    first = selection.counted[0]
    one = Selection(
        selection.election,
        selection.package_hash,
        selection.checkpoint,
        (first,),
        selection.left_out,
    )
    (count / "selection.json").write_bytes(selection_bytes(one))
    (count / "tally-input.json").write_bytes(tally_input(package, one).canonical())
    return first.position


def swap_log_lines(record: Path, out: Path, first: int) -> None:
    """``record`` with log.jsonl's lines ``first`` and ``first + 1`` swapped (blocks of two
    sources, so each chain stays valid): the same blocks, another root."""
    with zipfile.ZipFile(record) as z:
        files = {name: z.read(name) for name in z.namelist()}
    lines = files["log.jsonl"].split(b"\n")
    lines[first], lines[first + 1] = lines[first + 1], lines[first]
    files["log.jsonl"] = b"\n".join(lines)
    with zipfile.ZipFile(out, "w") as z:
        for name, raw in files.items():
            z.writestr(name, raw)
