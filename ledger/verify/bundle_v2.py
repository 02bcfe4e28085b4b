"""`ledger verify-bundle` for a protocol v2 record: every check of docs/spec/record.md §3, in
order, with no secret. The same functions as the count decide (ledger/rules/selection.py,
count_input.py, count_files.py, count_decryption.py, v2_results.py), so the verifier and the
count cannot disagree by construction, only because a published file is not what they give.

A check that cannot run because something before it failed, or because a file is missing, is
reported FAILED with the reason: never a silent pass. The ballot proofs, the expensive part,
run on every core or on a Dask cluster (``Where``).

The log is read once, streamed: the selection is recomputed during the chains' pass from each
ballot block as it is read (closed_log.py says why), and reported by its own check, after the
close statement that signs the sources' channels it uses has verified.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from kiosk.core.block import decode_signed_block, verify_block
from kiosk.core.checkpoint import NoteVerifier, verify_checkpoint
from kiosk.core.election import ElectionPackage, verify_package
from kiosk.core.encoding import b64d
from kiosk.core.errors import HanpyoError
from ledger.rules.close_statement import Closure, verify_statement
from ledger.rules.count_files import read_closure, verify_close
from ledger.rules.selection import Selection, select
from ledger.verify.ballot_proofs import check_ballots
from ledger.verify.ceremony_record import check_ceremony
from ledger.verify.checks import BundleError, Check
from ledger.verify.closed_log import ClosedLog, LogReader, source_keys
from ledger.verify.count_record import CountRecord
from ledger.verify.parallel import Where
from ledger.verify.record_files import CEREMONY, DAMAGED, RecordFiles
from ledger.verify.record_witnesses import FINAL_CHECKPOINT, check_record_witnesses
from ledger.verify.selection_diff import compare_selection

#: Builds the NIST SP 1500-100 document from (package, results, sources); the caller passes
#: ledger.publish.nist_results.nist_results (the verify layer may not import publish).
NistBuilder = Callable[[ElectionPackage, dict[str, Any], list[dict[str, Any]]], dict[str, Any]]

TOP_LEVEL = frozenset(
    {
        "package.json",
        "authority.txt",
        "log-key.txt",
        "sources.json",
        "log.jsonl",
        "evidence.json",
        "close.json",
        CEREMONY,
        FINAL_CHECKPOINT,
    }
)


def verify_record_v2(
    files: RecordFiles,
    authority: str | None,
    log_key: str | None,
    where: Where,
    nist: NistBuilder | None,
) -> list[Check]:
    """Every check of a v2 record, in the order of docs/spec/record.md §3."""
    checks: list[Check] = []

    def check(name: str, run: Callable[[], str]) -> bool:
        try:
            checks.append(Check(name, "ok", run()))
            return True
        except (HanpyoError, KeyError, ValueError, TypeError, IndexError) as e:
            checks.append(Check(name, "FAILED", str(e) or type(e).__name__))
            return False
        except DAMAGED as e:  # a member damaged in the zip itself, read as it streams
            checks.append(Check(name, "FAILED", f"the record's zip file is damaged: {e}"))
            return False

    r = _RecordV2(files, authority, log_key)
    if not check("election package signed by the authority, protocol v2", r.check_package):
        return checks
    count = CountRecord(files, r.need_package(), where)
    check(
        "key ceremony transcript gives the package's K, every Z_j and transcript hash",
        r.check_ceremony,
    )
    check("final checkpoint signed by the package's log key", r.check_checkpoint)
    check("close statement signed by the log key", r.check_close)
    check("every source's chain (signatures, links, rules)", lambda: r.check_chains(where))
    check("every block hashes to the final checkpoint's root", r.check_root)
    check("equivocation evidence: each block signed by its source", r.check_evidence)
    check(
        f"selection recomputed from the log (ballot proofs on {where.describe()}) "
        "equals selection.json",
        r.check_selection,
    )
    check(
        "tally-input.json recomputed from the selection",
        lambda: count.check_tally_input(r.selection),
    )
    check("every shuffle of the score columns, in order", count.check_shuffles)
    check("every trustee's decryption shares, and their combination", count.check_decryption)
    check(
        "results recomputed from the decrypted values equal results.json",
        lambda: count.check_results(r.closure, r.sources),
    )
    check("NIST SP 1500-100 results export equals the results", lambda: count.check_nist(nist))
    check("no file in the record that the verifier does not know", r.check_unknown)
    # The package's witness policy on the final checkpoint (ledger/verify/record_witnesses.py)
    checks.append(
        check_record_witnesses(files, r.need_package(), r.final_checkpoint, r.final_log_key)
    )
    if authority is None or log_key is None:
        checks.append(
            Check(
                "keys pinned from an independent source",
                "not checked",
                "checked against the keys inside the record; compare them with the ones the "
                f"authority published: authority {r.authority_text}, log {r.log_key_text}",
            )
        )
    return checks


@dataclass
class _RecordV2:
    files: RecordFiles
    authority: str | None
    log_key: str | None
    package: ElectionPackage | None = None
    closure: Closure | None = None
    root: bytes | None = None
    sources: list[dict[str, Any]] = field(default_factory=list)
    leaves: list[bytes] = field(default_factory=list)
    log_read: bool = False  # the chains' pass reached the log's end
    selected: Selection | Exception | None = None  # recomputed in that pass, or why not
    logged: dict[tuple[str, int], bytes] = field(default_factory=dict)  # block hashes
    chain_errors: list[str] = field(default_factory=list)
    unreadable: dict[int, str] = field(default_factory=dict)  # log position -> why
    chain_count: int = 0
    selection: Selection | None = None
    sources_signed: bool = False  # sources.json is the list the close statement signed
    authority_text: str = ""
    log_key_text: str = ""
    final_checkpoint: str | None = None  # close.json's checkpoint, once it verified
    final_log_key: NoteVerifier | None = None  # the package's log key that verified it

    def need_package(self) -> ElectionPackage:
        if self.package is None:
            raise BundleError("the election package did not verify")
        return self.package

    def need_closure(self) -> Closure:
        if self.closure is None:
            self.closure = read_closure(self.files.raw("close.json"))
        return self.closure

    def check_package(self) -> str:
        self.authority_text = (self.authority or "").strip() or self._line("authority.txt")
        authority = b64d(self.authority_text, length=32, name="authority key")
        document = self.files.json("package.json", dict)
        package = verify_package(document, authority)
        if package.protocol != 2:
            raise BundleError(f"the package is protocol {package.protocol}, not 2")
        self.package = package
        return f"{package.id}, short hash {package.short_hash}"

    def check_ceremony(self) -> str:
        return check_ceremony(self.need_package(), self.files.raw(CEREMONY), CEREMONY)

    def _log_verifier(self) -> NoteVerifier:
        """The package's log key; log-key.txt (and ``--log-key``) must be exactly it."""
        named = self.need_package().log_verifier
        if named is None:
            raise BundleError("the package names no log key")
        self.log_key_text = self._line("log-key.txt")
        if self.log_key_text != named.vkey:
            raise BundleError(f"log-key.txt is {self.log_key_text}, the package names {named.vkey}")
        if self.log_key is not None and self.log_key.strip() != named.vkey:
            raise BundleError(f"the package names log key {named.vkey}, not the one given")
        return named

    def _line(self, name: str) -> str:
        """A one-line text file: the line, exactly, and its newline."""
        text = self.files.text(name)
        line = text.removesuffix("\n")
        if not line or line != line.strip() or "\n" in line or not text.endswith("\n"):
            raise BundleError(f"{name} is not one line of text")
        return line

    def check_checkpoint(self) -> str:
        closure = self.need_closure()
        log_key = self._log_verifier()
        checkpoint = verify_checkpoint(closure.checkpoint, log_key)
        if checkpoint.size != closure.size:
            raise BundleError("close.json: the final checkpoint's size is not the close's size")
        self.root = checkpoint.root
        self.final_checkpoint, self.final_log_key = closure.checkpoint, log_key
        return f"{checkpoint.origin}, {checkpoint.size} blocks"

    def check_close(self) -> str:
        package, closure = self.need_package(), self.need_closure()
        verifier = self._log_verifier()
        verify_close(package, closure, verifier.vkey)
        # The statement signs the sources (channels included) and the evidence as they stood
        # at the close: the record's lists must be exactly those (ledger/rules/close_statement).
        signed = verify_statement(closure.statement, verifier, closure, package.id)
        lists = signed.check(
            self.files.json("sources.json", list), self.files.json("evidence.json", list)
        )
        self.sources_signed = True
        waived = ", ".join(f"{k} ({v})" for k, v in sorted(closure.waivers.items()))
        return f"closed {closure.closed_at}; waivers: {waived or 'none'}; {lists}"

    def _lines(self) -> Iterator[bytes]:
        """log.jsonl line by line, streamed (a city's log does not fit twice in memory)."""
        with self.files.open("log.jsonl") as f:
            for line in f:
                if not line.endswith(b"\n"):
                    raise BundleError("log.jsonl does not end with a newline: it was cut short")
                yield line[:-1]

    def check_chains(self, where: Where) -> str:
        """One pass over log.jsonl: every leaf, every chain, and the selection recomputed from
        the ballot blocks as they are read (when close.json gives the final checkpoint it
        names; its own check says why not otherwise)."""
        package = self.need_package()
        self.sources = self.files.json("sources.json", list)
        reader = LogReader(package, self._lines(), self.sources)
        try:
            checkpoint = self.need_closure().checkpoint
        except (HanpyoError, *DAMAGED):
            log = reader.read()
        else:
            self.selected = self._select(package, reader, checkpoint, where)
            log = reader.finished()
        self.leaves, self.logged = log.leaves, log.logged
        self.chain_errors, self.unreadable = log.chain_errors, log.unreadable
        self.chain_count, self.log_read = log.chain_count, True
        return log.check_chains()

    @staticmethod
    def _select(
        package: ElectionPackage, reader: LogReader, checkpoint: str, where: Where
    ) -> Selection | Exception:
        """The selection over the reader's ballot blocks, or what stopped it. An error reading
        the log itself is the chains' check's, and raised."""
        try:
            return select(
                package,
                reader.ballots(),
                checkpoint,
                check_proofs=lambda ballots: check_ballots(package, ballots, where),
            )
        except (HanpyoError, KeyError, ValueError, TypeError, IndexError) as e:
            if not reader.done:
                raise
            return e

    def check_root(self) -> str:
        closure = self.need_closure()
        if self.root is None:
            raise BundleError("cannot check: the final checkpoint did not verify")
        return ClosedLog(self.leaves).check_root(closure.size, self.root)

    def check_evidence(self) -> str:
        """Each conflicting block is signed by its source and differs from the logged block at
        its height: evidence that the source signed two blocks there (a fork)."""
        keys, _ = source_keys(self.sources or self.files.json("sources.json", list))
        evidence = self.files.json("evidence.json", list)
        for n, item in enumerate(evidence):
            where = f"evidence.json entry {n}"
            if not isinstance(item, dict) or set(item) != {"kiosk", "height", "block"}:
                raise BundleError(f"{where} is not an object of kiosk, height and block")
            raw = str(item["block"]).encode()
            signed = decode_signed_block(raw)
            if (signed.block.kiosk, signed.block.height) != (item["kiosk"], item["height"]):
                raise BundleError(f"{where}: the block is not of that source and height")
            if item["kiosk"] not in keys:
                raise BundleError(f"{where}: {item['kiosk']} is not an enrolled source")
            try:
                verify_block(signed, keys[item["kiosk"]])
            except HanpyoError as e:
                raise BundleError(f"{where}: {e}") from e
            if self.logged.get((item["kiosk"], item["height"])) == signed.hash:
                raise BundleError(f"{where} is the logged block itself, not a conflicting one")
        return f"{len(evidence)} conflicting blocks" if evidence else "no fork was seen"

    def check_selection(self) -> str:
        self.need_package(), self.need_closure()
        if not self.log_read or self.selected is None:
            raise BundleError("cannot check: the log was not read (see the chains' check)")
        if not self.sources_signed:  # every ballot's channel comes from sources.json
            raise BundleError(
                "cannot check: the ballots' channels come from sources.json, which is not the "
                "list the close statement signed (see the close statement's check)"
            )
        if isinstance(self.selected, Exception):
            raise self.selected
        selection = self.selection = self.selected
        compare_selection(selection, self.files.raw("count/selection.json"), self.unreadable)
        reasons = ", ".join(f"{n} {r}" for r, n in selection.reasons().items())
        return f"{len(selection.counted)} ballots counted; left out: {reasons or 'none'}"

    def check_unknown(self) -> str:
        from ledger.verify.count_record import COUNT_FILES

        extra = self.files.unknown(TOP_LEVEL | COUNT_FILES)
        if extra:
            raise BundleError(f"the record holds files no check reads: {', '.join(extra)}")
        return f"{len(self.files.names)} files, each read by a check above"
