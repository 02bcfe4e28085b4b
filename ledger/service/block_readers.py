"""Reading a large upload's blocks on several cores.

A kiosk back from a day offline sends its ballots in uploads of up to 1,000 blocks, one after
the other (its chain is one sequence). Reading a v2 ballot block (its canonical bytes, its
ballot's shape, its voter's card signature checked against the roll) is most of what ingest
costs, and needs nothing but the block and the election package; the chain checks after it
(links, the kiosk's signature, the voter not already recorded) need the source's head and stay
in the ingesting process. So a batch of at least ``PARALLEL_FROM`` blocks is cut into slices
that processes of a pool read at once, each exactly as ``ingest`` reads a block alone
(``decode_uploaded_block``, then ``check_ballot_arrival``); the answers come back in order, and
ingest goes on as before. Same acceptance, same refusals, same order of checks: the tests run
the same batches both ways.

Little comes back over the pipe: a block read from the upload as it was parsed has its body in
the ingesting process already (the same value, sent to the reader), so the reader sends back the
decoded block without it and the arrival check's answer instead of the ballot it read (sending
every ballot's parsed shape back would cost as much as reading it again).

The pool starts with the first large upload (a fork server, not fork: the caller is a server
with threads; kiosk/core/verifiable/bulk.py says why). A pool that fails (a reader killed, a
broken pipe) is closed and that batch is read in the ingesting process: nothing is refused or
lost for it, and the next large upload starts a new pool.
"""

from __future__ import annotations

import logging
import multiprocessing
import threading
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, replace
from typing import Any

from kiosk.core.block import DecodedBlock, decode_uploaded_block
from kiosk.core.election import ElectionPackage
from kiosk.core.errors import BlockError
from ledger.rules.ballot_arrival import BallotRefused, check_ballot_arrival

log = logging.getLogger(__name__)

# An upload of fewer blocks is read in the ingesting process: a pool's round trip (sending the
# blocks, waking the readers) costs more than it saves on a live kiosk's few ballots.
PARALLEL_FROM = 200
# Slices per reader: a reader that is slower (or shares its core with the ingesting process)
# does not hold up the end.
SLICES_PER_READER = 2


@dataclass(frozen=True, slots=True)
class ReadBlock:
    """One block as a reader read it: ``decoded`` (its body left out when the ingesting
    process holds it: ``body_left_out``) or the ``error`` that made it malformed; and, when
    it decoded, the arrival check's refusal (``refused``: reason, explanation) or None."""

    decoded: DecodedBlock | None
    error: str | None = None
    refused: tuple[str, str] | None = None
    body_left_out: bool = False


@dataclass(frozen=True, slots=True)
class Arrival:
    """A block of an upload, read, with the arrival check already made (``refused``) when a
    reader made it: ingest then does not check it again."""

    decoded: DecodedBlock
    refused: tuple[str, str] | None


def read_slice(package: ElectionPackage, items: Sequence[Any]) -> list[ReadBlock]:
    """What a reader does with its slice: every block read as ``ingest._decode`` reads it,
    stopping after the first malformed one (the batch stops there), and checked on arrival
    as ingest checks it."""
    out: list[ReadBlock] = []
    for item in items:
        try:
            decoded = decode_uploaded_block(item, package.enrols_card_key)
        except BlockError as e:
            out.append(ReadBlock(None, str(e)))
            break
        refused = None
        try:
            check_ballot_arrival(package, decoded.signed, decoded.ballot)
        except BallotRefused as e:
            refused = (e.reason, e.explanation)
        block = decoded.signed.block
        # Read from the item itself (canonical JSON's fast path): its body is the item's, which
        # the ingesting process holds; anything read the long way keeps its own.
        left_out = type(item) is dict and block.body is item.get("body")
        if left_out:
            decoded = replace(
                decoded, signed=replace(decoded.signed, block=replace(block, body={})), ballot=None
            )
        else:
            decoded = replace(decoded, ballot=None)
        out.append(ReadBlock(decoded, None, refused, left_out))
    return out


class BlockReaders:
    """A pool of ``workers`` reader processes for one election's uploads (``signed_package``:
    the signed package document the ledger stored, parsed once in each reader)."""

    def __init__(self, signed_package: str | bytes, workers: int) -> None:
        self._signed_package = signed_package
        self.workers = workers
        self._pool: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()

    def read(self, items: Sequence[Any]) -> list[Arrival | BlockError] | None:
        """``items`` read on the pool, in order, up to and including the first malformed one;
        None when the pool failed (the caller reads them itself)."""
        pool = self._started()
        if pool is None:
            return None
        size = -(-len(items) // (self.workers * SLICES_PER_READER))
        try:
            futures: list[Future[list[ReadBlock]]] = [
                pool.submit(_read_in_reader, list(items[i : i + size]))
                for i in range(0, len(items), size)
            ]
            out: list[Arrival | BlockError] = []
            start = 0
            for future in futures:
                read = future.result()
                for offset, one in enumerate(read):
                    if one.decoded is None:
                        for rest in futures:
                            rest.cancel()
                        out.append(BlockError(one.error or "malformed block"))
                        return out
                    whole = _whole(one.decoded, one.body_left_out, items[start + offset])
                    out.append(Arrival(whole, one.refused))
                start += len(read)
            return out
        except Exception:  # a reader died or the pipe broke: read in this process instead
            log.exception("the block readers failed; this upload is read in the ledger worker")
            self.close()
            return None

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)

    def _started(self) -> ProcessPoolExecutor | None:
        with self._lock:
            if self._pool is None:
                try:
                    self._pool = ProcessPoolExecutor(
                        max_workers=self.workers,
                        mp_context=multiprocessing.get_context("forkserver"),
                        initializer=_remember,
                        initargs=(self._signed_package,),
                    )
                except OSError:
                    log.exception("the block readers could not start")
                    return None
            return self._pool


def _whole(decoded: DecodedBlock, body_left_out: bool, item: Any) -> DecodedBlock:
    if not body_left_out:
        return decoded
    signed = decoded.signed
    return replace(decoded, signed=replace(signed, block=replace(signed.block, body=item["body"])))


_package: ElectionPackage | None = None


def _remember(signed_package: str | bytes) -> None:
    """A reader's start: the election package, parsed once (verified when the ledger stored
    it)."""
    import json

    from kiosk.core.election import read_package

    global _package  # one per reader process, set once by the pool's initializer
    _package = read_package(json.loads(signed_package)["package"])


def _read_in_reader(items: list[Any]) -> list[ReadBlock]:
    if _package is None:
        raise RuntimeError("a reader started without its election package")
    return read_slice(_package, items)
