"""The closed log read straight from the ledger's data directory, for a trustee at the ledger's
own machine (`ledger trustee shuffle|decrypt --ledger-data DIR`): the package, the close, the
enrolled sources and every block up to the close's size, read from the database with SELECTs
only (the sources and evidence are those kept at the close, whose hashes the close statement
signs). The log key (``log.key``) is never opened: nothing here needs a secret, and the blocks
are then checked exactly as those of a published record (ledger/verify/count_inputs.py)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ledger.rules.errors import LedgerError
from ledger.store.closed_lists import closed_lists
from ledger.store.closure import closure as stored_closure
from ledger.store.log_reads import blocks_at
from ledger.store.registry import election_record
from ledger.store.schema import Engine, connect, reader
from ledger.verify.count_inputs import CountInputsError, LogSource, package_json

CHUNK = 2000  # leaves read at a time


@contextmanager
def ledger_log(data: Path, database: str | None = None) -> Iterator[LogSource]:
    """The closed log in the ledger at ``data`` (its SQLite database ``ledger.db``, or the
    database URL ``database``), opened for reading only."""
    engine = connect(database or _sqlite_read_only(data))
    try:
        read = reader(engine)
        try:
            record = election_record(read)
            closed = stored_closure(read)
            lists = closed_lists(read)
        except LedgerError as e:
            raise CountInputsError(f"the ledger's data in {data} cannot be read: {e}") from e
        if closed is None:
            raise CountInputsError(f"the election in {data} is not closed")
        if lists is None:
            raise CountInputsError(
                f"the ledger in {data} did not keep the sources its close statement signs: it "
                "was closed by another version of Hanpyo"
            )
        yield LogSource(
            f"the ledger's data in {data}",
            package_json(record.signed),
            closed,
            list(lists.sources),
            list(lists.evidence),
            lambda: _blocks(read, closed.size),
            lambda index: f"the log's leaf {index}",
        )
    finally:
        engine.dispose()


def _sqlite_read_only(data: Path) -> str:
    """SQLite opened read-only (``mode=ro``): a missing database is an error, never created."""
    path = (data / "ledger.db").resolve()
    if not path.is_file():
        raise CountInputsError(f"{data} holds no ledger database (ledger.db)")
    return f"sqlite:///file:{path}?mode=ro&uri=true"


def _blocks(read: Engine, size: int) -> Iterator[bytes]:
    """Every leaf from 0 to ``size`` - 1, in order; a missing leaf is named."""
    groups = (range(first, min(first + CHUNK, size)) for first in range(0, size, CHUNK))
    next_leaf = 0
    for found in blocks_at(read, groups):
        for position in sorted(found):
            if position != next_leaf:
                raise CountInputsError(f"the ledger's database has no leaf {next_leaf}")
            next_leaf += 1
            yield found[position]
    if next_leaf != size:
        raise CountInputsError(f"the ledger's database has {next_leaf} leaves, the close {size}")
