"""`ledger verify-bundle`: an independent re-check of a published election bundle on another
machine, with no database and no trust in the ledger that served it. The bundle is written
by ledger/publish/bundle_writer.py.

The bundle (a zip file) holds the signed package, the log's verifier key, every source with
its public key, every accepted block in log order, the equivocation evidence, the close
record, the results, the opened ballots (shuffled) and the reconciliation. The verifier
re-checks every signature, every kiosk chain, the Merkle root against the signed final
checkpoint, the close statement, which ballots the duplicate policy counts, and every count;
and it says plainly what it cannot check.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kiosk.core.block import BlockKind, body_bytes, decode_signed_block
from kiosk.core.chain import ChainVerifier, Schedule
from kiosk.core.checkpoint import NoteVerifier, verify_checkpoint
from kiosk.core.crypto import kiosk_id_for
from kiosk.core.election import ElectionPackage, verify_package
from kiosk.core.encoding import b64d, canonical_json
from kiosk.core.errors import HanpyoError
from kiosk.core.merkle import leaf_hash, root_from_leaves
from kiosk.core.tally import Tally
from ledger.rules.close_statement import Closure, verify_statement
from ledger.rules.duplicate_policy import counted_ballot
from ledger.rules.trustees import rebuild_ballot_key
from ledger.verify.checks import BundleError as BundleError  # re-exported: callers import it here
from ledger.verify.checks import Check as Check
from ledger.verify.parallel import Where
from ledger.verify.record_files import DAMAGED

if TYPE_CHECKING:
    from ledger.verify.bundle_v2 import NistBuilder

Seen = tuple[str, str | None, int, str, int]  # a ballot: source, channel, leaf index, time, height


# -- checking ---------------------------------------------------------------------------------


def verify_bundle(
    path: Path,
    authority: str | None = None,
    log_key: str | None = None,
    shares: Sequence[str] = (),
    where: Where | None = None,
    nist: NistBuilder | None = None,
) -> list[Check]:
    """Every check, in order. A failed check does not stop the others that can still run.
    With the trustees' ``shares`` (k of them), it also opens every counted sealed ballot and
    compares them with the published opened ballots. A protocol v2 record (its package says
    "v": 2) is checked by ledger/verify/bundle_v2.py, with no secret, its ballot proofs
    ``where`` says (every core by default); ``nist`` rebuilds its NIST results export."""
    if _protocol_of(path) == 2:
        if shares:
            raise BundleError(
                "a protocol v2 record is verified with no secret: leave out the trustees' "
                "shares (--share is for protocol 1 bundles)"
            )
        return _verify_v2(path, authority, log_key, where or Where(), nist)
    checks: list[Check] = []

    def check(name: str, run: Callable[[], str]) -> bool:
        try:
            checks.append(Check(name, "ok", run()))
            return True
        except (HanpyoError, KeyError, ValueError, TypeError) as e:
            checks.append(Check(name, "FAILED", str(e) or type(e).__name__))
            return False

    try:
        z = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as e:
        raise BundleError(f"{path} is not a readable zip file: {e}") from e
    with z:
        b = _Bundle(z, authority, log_key)
        if not check("election package signed by the authority", b.check_package):
            return checks
        check("log key and final checkpoint", b.check_checkpoint)
        check("close statement signed by the log", b.check_close)
        check("every kiosk chain (signatures, links, rules)", b.check_chains)
        check("Merkle root of every block equals the final checkpoint", b.check_root)
        check("one ballot per voter under the duplicate policy", b.check_dedup)
        check("the counts, recounted from the opened ballots", b.check_counts)
        check("counts per kiosk, recounted", b.check_source_counts)
        check("reconciliation adds up", b.check_reconciliation)
        if shares:
            check(
                "the opened ballots are the sealed ballots of the log",
                lambda: b.check_opening(shares),
            )
        else:
            checks.append(
                Check(
                    "the opened ballots are the sealed ballots of the log",
                    "not checked",
                    "opening needs the trustees' key (give k shares with --share); the bundle "
                    "has no proof that each opened ballot is a counted sealed ballot",
                )
            )
    checks.append(
        Check(
            "each ballot was cast by the card holder on the roll",
            "not checked",
            "the log shows only nullifiers; who held each card is known at the hall",
        )
    )
    if authority is None or log_key is None:
        checks.append(
            Check(
                "keys pinned from an independent source",
                "not checked",
                "checked against the keys inside the bundle; compare them with the ones the "
                f"authority published: authority {b.authority_text}, log {b.log_key_text}",
            )
        )
    return checks


def _protocol_of(path: Path) -> int:
    """2 for a protocol v2 record: its package says "v": 2, or it has the v2 count's files and
    no v1 opened ballots (a v2 record whose package was damaged is still checked as v2, and the
    package's check fails there). Otherwise 1: the v1 checks say what is wrong."""
    try:
        with zipfile.ZipFile(path) as z:
            names = set(z.namelist())
            try:
                version = json.loads(z.read("package.json"))["package"].get("v", 1)
            except (KeyError, TypeError, AttributeError, *DAMAGED):
                version = None  # a damaged package: its own check says so
    except (OSError, zipfile.BadZipFile):
        return 1
    v2_shaped = "ballots.jsonl" not in names and any(n.startswith("count/") for n in names)
    return 2 if version == 2 or v2_shaped else 1


def _verify_v2(
    path: Path, authority: str | None, log_key: str | None, where: Where, nist: NistBuilder | None
) -> list[Check]:
    from ledger.verify.bundle_v2 import verify_record_v2
    from ledger.verify.record_files import RecordFiles

    try:
        z = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as e:
        raise BundleError(f"{path} is not a readable zip file: {e}") from e
    with z:
        return verify_record_v2(RecordFiles(z), authority, log_key, where, nist)


def _closure(doc: dict[str, Any]) -> Closure:
    """close.json as the ledger writes it; anything else is refused with what is wrong."""
    fields = {"closed_at": str, "size": int, "checkpoint": str, "statement": str, "waivers": dict}
    if set(doc) != set(fields):
        raise BundleError(f"close.json has the fields {sorted(doc)}, not {sorted(fields)}")
    for field, kind in fields.items():
        if not isinstance(doc[field], kind) or isinstance(doc[field], bool):
            raise BundleError(f"close.json: {field} is not a {kind.__name__}")
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in doc["waivers"].items()):
        raise BundleError("close.json: waivers must map kiosk ids to reasons")
    return Closure(**doc)


class _Bundle:
    def __init__(self, z: zipfile.ZipFile, authority: str | None, log_key: str | None) -> None:
        self.z = z
        self.authority_text = (authority or self._text("authority.txt")).strip()
        self.log_key_text = (log_key or self._text("log-key.txt")).strip()
        self.package: ElectionPackage | None = None
        self.results: dict[str, Any] = self._json_of("results.json", dict)
        self.close = _closure(self._json_of("close.json", dict))
        self.sources: list[dict[str, Any]] = self._json_of("sources.json", list)
        self.counted: Counter[str] = Counter()  # per source, by the policy
        self.counted_total = 0
        self.set_aside: set[int] = set()  # leaf indexes of ballots the policy does not count
        # Filled by _scan, the one pass over the log that the chain, root and dedup checks share;
        # left empty when it cannot run, so that those checks fail with a reason, not a crash.
        self.chain_error: str | None = None
        self.chain_count = 0
        self.leaves: list[bytes] = []
        self.voters: dict[bytes, Seen | list[Seen]] = {}
        self._root: bytes | None = None  # the final checkpoint's, once it verified
        self.tallies: dict[str, Tally] = {}

    def _text(self, name: str) -> str:
        try:
            return self.z.read(name).decode()
        except KeyError as e:
            raise BundleError(f"the bundle has no {name}") from e
        except UnicodeDecodeError as e:
            raise BundleError(f"{name} in the bundle is not UTF-8 text") from e

    def _json_of(self, name: str, kind: type) -> Any:
        """A JSON member that must be an object (``dict``) or an array (``list``)."""
        value = self._json(name)
        if not isinstance(value, kind):
            raise BundleError(f"{name} in the bundle is not a JSON {kind.__name__}")
        return value

    def _json(self, name: str) -> Any:
        try:
            return json.loads(self._text(name))
        except ValueError as e:
            raise BundleError(f"{name} in the bundle is not JSON: {e}") from e

    def check_package(self) -> str:
        authority = b64d(self.authority_text, length=32, name="authority key")
        self.package = verify_package(json.loads(self._text("package.json")), authority)
        if self.results.get("package_hash") != self.package.package_hash.hex():
            raise BundleError("the results are for another election package")
        return f"{self.package.id}, short hash {self.package.short_hash}"

    def check_checkpoint(self) -> str:
        checkpoint = verify_checkpoint(self.close.checkpoint, NoteVerifier.parse(self.log_key_text))
        if checkpoint.size != self.close.size:
            raise BundleError("the final checkpoint's size differs from the close record")
        self._root = checkpoint.root
        return f"{checkpoint.origin}, {checkpoint.size} blocks"

    def check_close(self) -> str:
        verifier = NoteVerifier.parse(self.log_key_text)
        verify_statement(self.close.statement, verifier, self.close, self._need_package().id)
        waived = ", ".join(f"{k} ({v})" for k, v in sorted(self.close.waivers.items()))
        return f"closed {self.close.closed_at}; waivers: {waived or 'none'}"

    def _scan(self) -> None:
        """One pass over every block in log order: chains, leaves and ballots together, so
        that a million-block log is read and decoded once and never held in memory."""
        package = self._need_package()
        keys = {s["kiosk"]: b64d(s["public_key"], length=32, name="key") for s in self.sources}
        channel = {s["kiosk"]: s["channel"] for s in self.sources}
        chains: dict[str, ChainVerifier] = {}
        schedule = Schedule.of(package.opens, package.closes)
        with self.z.open("log.jsonl") as f:
            for index, line in enumerate(f):
                raw = line.rstrip(b"\n")
                self.leaves.append(leaf_hash(raw))
                signed = decode_signed_block(raw)
                block = signed.block
                if block.kind is BlockKind.BALLOT:
                    seen = (block.kiosk, channel.get(block.kiosk), index, block.time, block.height)
                    nullifier = body_bytes(block.body, "nullifier")
                    earlier = self.voters.get(nullifier)
                    if earlier is None:
                        self.voters[nullifier] = seen  # most voters: one ballot, one tuple
                    elif isinstance(earlier, list):
                        earlier.append(seen)
                    else:
                        self.voters[nullifier] = [earlier, seen]
                if self.chain_error is not None:
                    continue
                if block.kiosk not in keys:
                    self.chain_error = f"a block of {block.kiosk}, which is not enrolled"
                    continue
                verifier = chains.setdefault(
                    block.kiosk,
                    ChainVerifier(
                        election=package.id,
                        kiosk=block.kiosk,
                        package_hash=package.package_hash,
                        kiosk_key=keys[block.kiosk],
                        schedule=schedule,
                    ),
                )
                try:
                    verifier.add(signed)
                except HanpyoError as e:
                    self.chain_error = f"kiosk {block.kiosk}: {e}"
        self.chain_count = len(chains)

    def check_chains(self) -> str:
        self._scan()
        for kiosk, key in ((s["kiosk"], s["public_key"]) for s in self.sources):
            if kiosk_id_for(b64d(key, length=32, name="key")) != kiosk:
                raise BundleError(f"source {kiosk} is not the id of its public key")
        if self.chain_error is not None:
            raise BundleError(self.chain_error)
        return f"{self.chain_count} chains, {len(self.leaves)} blocks"

    def check_root(self) -> str:
        leaves = self.leaves
        if len(leaves) != self.close.size:
            raise BundleError(f"the bundle holds {len(leaves)} blocks, the log {self.close.size}")
        if root_from_leaves(leaves) != self._root:
            raise BundleError("the blocks do not hash to the final checkpoint's root")
        return f"{len(leaves)} leaves"

    def check_dedup(self) -> str:
        package = self._need_package()
        repeated = 0
        for seen in self.voters.values():
            if isinstance(seen, tuple):
                self.counted[seen[0]] += 1
                continue
            ballots = [
                {"kiosk": k, "channel": c, "leaf_index": i, "time": t, "height": h}
                for k, c, i, t, h in seen
            ]
            counts = counted_ballot(package.duplicate_policy, ballots)
            self.counted[counts["kiosk"]] += 1
            self.set_aside.update(i for _, _, i, _, _ in seen if i != counts["leaf_index"])
            repeated += len(seen) - 1
        self.counted_total = sum(self.counted.values())
        published = Counter(r["source"] for r in self._ballot_records())
        if published != self.counted:
            raise BundleError(
                f"the policy counts {dict(self.counted)} ballots per source; "
                f"the published ballots are {dict(published)}"
            )
        return (
            f"{self.counted_total} voters counted once ({package.duplicate_policy.value}); "
            f"{repeated} repeated ballots set aside"
        )

    def check_opening(self, shares: Sequence[str]) -> str:
        """Open every counted sealed ballot with the rebuilt key and compare the multiset of
        (source, opened bytes) with the published ballots, by digest to spare memory."""
        package = self._need_package()
        key = rebuild_ballot_key(list(shares), package.v1_keys().ballot)
        open_sealed = key.opener()
        opened: Counter[bytes] = Counter()
        with self.z.open("log.jsonl") as f:
            for index, line in enumerate(f):
                if b'"kind":"ballot"' not in line or index in self.set_aside:
                    continue
                block = decode_signed_block(line.rstrip(b"\n")).block
                if block.kind is not BlockKind.BALLOT:
                    continue
                try:
                    raw = open_sealed(body_bytes(block.body, "sealed"))
                except HanpyoError:
                    raw = b""
                opened[_digest(block.kiosk, raw)] += 1
        published: Counter[bytes] = Counter()
        for record in self._ballot_records():
            if "ballot" in record:
                raw = canonical_json(record["ballot"])
            else:
                raw = b64d(record["plaintext"]) if record.get("plaintext") else b""
            published[_digest(record["source"], raw)] += 1
        if opened != published:
            missing = sum((opened - published).values())
            extra = sum((published - opened).values())
            raise BundleError(
                f"{missing} counted sealed ballot(s) are not among the published ones, and "
                f"{extra} published ballot(s) are not the opening of a counted sealed ballot"
            )
        return f"{sum(opened.values())} sealed ballots opened, each published once"

    def _ballot_records(self) -> Iterator[dict[str, Any]]:
        with self.z.open("ballots.jsonl") as f:
            for line in f:
                if line.strip():
                    yield json.loads(line)

    def check_counts(self) -> str:
        package = self._need_package()
        total = Tally(package)
        for position, record in enumerate(self._ballot_records()):
            if record.get("n") != position:
                raise BundleError(f"ballot record {position} is numbered {record.get('n')}")
            source = record["source"]
            tally = self.tallies.setdefault(source, Tally(package))
            if "ballot" in record:
                if not tally.add_plaintext(canonical_json(record["ballot"]), position, source):
                    raise BundleError(
                        f"ballot {position} is published as valid but breaks the rules: "
                        f"{tally.invalid[-1].reason}"
                    )
            elif record.get("plaintext"):  # opened, but broke a rule: the recount must agree
                if tally.add_plaintext(b64d(record["plaintext"]), position, source):
                    raise BundleError(f"ballot {position} is published as invalid but is valid")
            else:  # did not open: nothing to recount, the reason stands as published
                tally.refuse(position, record["invalid"], source)
        for t in self.tallies.values():
            total.merge(t)
        recount = total.results()
        for key in ("ballots", "contests", "ranking", "invalid"):
            if recount[key] != self.results[key]:
                raise BundleError(f"the recount's {key!r} differs from the published results")
        b, winners = recount["ballots"], recount["ranking"]["winners"]
        return f"{b['counted']} ballots, {b['invalid']} invalid; {winners} winners"

    def check_source_counts(self) -> str:
        package = self._need_package()
        for source in self.results["sources"]:
            tally = self.tallies.get(source["kiosk"], Tally(package))
            if tally.valid != source["ballots_counted"]:
                raise BundleError(f"{source['name']}: {tally.valid} ballots, published otherwise")
            if tally.results()["contests"] != source["contests"]:
                raise BundleError(f"{source['name']}: the recount differs from the published")
        return f"{len(self.results['sources'])} sources"

    def check_reconciliation(self) -> str:
        report = self._json("reconciliation.json")
        if not report.get("adds_up"):
            failed = [k for k, v in report.get("checks", {}).items() if not v]
            raise BundleError(f"the reconciliation does not add up: {', '.join(failed)}")
        if report["totals"]["ballots_counted"] != self.counted_total:
            raise BundleError("the reconciliation counts other ballots than the log")
        return (
            f"{report['totals']['ballots']} ballots, {report['totals']['ballots_counted']} counted"
        )

    def _need_package(self) -> ElectionPackage:
        if self.package is None:
            raise BundleError("the election package did not verify")
        return self.package


def _digest(source: str, raw: bytes) -> bytes:
    return hashlib.sha256(source.encode() + b"\n" + raw).digest()
