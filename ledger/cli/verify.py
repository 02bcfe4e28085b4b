"""`ledger verify-proof`, `ledger verify-bundle` and `ledger verify-chain`: checks anyone can
run with no ledger database (and, for the bundle and the chain, without SQLAlchemy)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ledger.cli.options import Subparsers

if TYPE_CHECKING:
    from kiosk.core.cosignature import CosignerKey
    from kiosk.core.election import ElectionPackage
    from ledger.verify.inclusion_proof import FoundBlock


def add_verify_proof(sub: Subparsers) -> None:
    proof = sub.add_parser("verify-proof", help="check that a tracking code is in the log")
    proof.add_argument("--url", help="the ledger's base URL")
    proof.add_argument("--tracking-code", required=True)
    proof.add_argument(
        "--log-key", help="the log's published verifier key (not needed with a v2 --package)"
    )
    proof.add_argument(
        "--package",
        type=Path,
        help="the signed election package (election.json): a protocol 2 package names the "
        "log key and the witnesses' policy (k of n), which the checkpoint must meet",
    )
    proof.add_argument(
        "--authority", help="with --package: the authority's public key, from the authority"
    )
    proof.add_argument(
        "--tiles",
        help="prove from the log's tiles alone (a URL such as https://ledger/tiles, or a "
        "directory); with --url, only the leaf's position is asked of the ledger",
    )
    proof.add_argument("--leaf-index", type=int, help="with --tiles: the block's position")
    proof.add_argument(
        "--witness",
        action="append",
        default=[],
        metavar="VKEY",
        help="a witness's published key (repeat): the checkpoint must carry their cosignatures",
    )
    proof.add_argument(
        "--witness-threshold",
        type=int,
        help="how many of the --witness keys must have cosigned (default: all of them)",
    )
    proof.set_defaults(run=_verify_proof)


def add_verify_bundle(sub: Subparsers) -> None:
    verify = sub.add_parser(
        "verify-bundle", help="re-check a published election bundle, with no database"
    )
    verify.add_argument("bundle", type=Path, help="the bundle.zip the ledger publishes")
    verify.add_argument("--authority", help="the authority's public key, from the authority")
    verify.add_argument("--log-key", help="the log's verifier key, as the ledger published it")
    verify.add_argument(
        "--workers",
        type=int,
        default=0,
        metavar="N",
        help="check the ballot proofs and shuffles in N processes on this machine (default: "
        "every core)",
    )
    verify.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="check the ballot proofs on a Dask cluster of your own machines (tcp://HOST:8786)",
    )
    verify.set_defaults(run=_verify_bundle)


def add_verify_chain(sub: Subparsers) -> None:
    v = sub.add_parser("verify-chain", help="verify a kiosk chain file offline")
    v.add_argument("file", type=Path)
    v.set_defaults(run=_verify_chain)


def _verify_proof(args: argparse.Namespace) -> int:
    from kiosk.core.errors import HanpyoError
    from ledger.verify.inclusion_proof import check_tracking_code  # requests, only here

    anchor = _proof_anchor(args)
    if args.tiles is not None:
        found = _verify_from_tiles(args, anchor)
    elif args.url is not None:
        found = check_tracking_code(
            args.url, args.tracking_code, anchor.log_key, anchor.witnesses, anchor.threshold
        )
    else:
        raise HanpyoError("give --url (the ledger) or --tiles (its tiles), or both")
    print(
        f"tracking code {args.tracking_code} is block {found.height} of kiosk "
        f"{found.kiosk}, at position {found.leaf_index} of the log; the inclusion proof "
        f"verifies against the signed checkpoint of size {found.size}"
    )
    if anchor.package is not None:
        print(
            f"the checkpoint meets {anchor.package}'s witness policy ({anchor.threshold} of "
            f"{len(anchor.witnesses)}): cosigned by {', '.join(found.cosigned_by) or 'none'}"
        )
    elif args.witness:
        print(
            f"the checkpoint carries at least {anchor.threshold} of the {len(args.witness)} "
            f"named witnesses' cosignatures (by {', '.join(found.cosigned_by)})"
        )
    return 0


@dataclass(frozen=True, slots=True)
class _ProofAnchor:
    """What a checkpoint is checked against: the log key and the witness policy, from the
    command line or from a signed v2 package (then ``package`` names it)."""

    log_key: str
    witnesses: Sequence[str | CosignerKey]
    threshold: int
    package: str | None = None


def _proof_anchor(args: argparse.Namespace) -> _ProofAnchor:
    from kiosk.core.errors import HanpyoError

    if args.package is None:
        if args.log_key is None:
            raise HanpyoError("give --log-key (the log's published verifier key) or --package")
        n = len(args.witness)
        threshold = n if args.witness_threshold is None else args.witness_threshold
        return _ProofAnchor(args.log_key, args.witness, threshold)
    if args.witness or args.witness_threshold is not None:
        raise HanpyoError(
            "--package names the witnesses and their policy: leave out --witness and "
            "--witness-threshold"
        )
    package = _signed_package(args.package, args.authority)
    log = package.log_verifier
    if package.protocol < 2 or log is None:
        raise HanpyoError(
            f"{args.package} names no log key (protocol {package.protocol}): give --log-key "
            "and --witness instead of --package"
        )
    if args.log_key is not None and args.log_key.strip() != log.vkey:
        raise HanpyoError(f"--log-key is not the log key the package names ({log.vkey})")
    policy = package.witnesses
    return _ProofAnchor(log.vkey, policy.keys, policy.threshold, f"election {package.id}")


def _signed_package(path: Path, authority: str | None) -> ElectionPackage:
    """The package in ``path`` once the authority's signature on it verifies."""
    from kiosk.core.election import verify_package
    from kiosk.core.encoding import b64d, parse_json
    from kiosk.core.errors import EncodingError, HanpyoError

    if authority is None:
        raise HanpyoError("--package needs --authority: its key is what makes the package trusted")
    try:
        key = b64d(authority.strip(), length=32, name="the authority key")
        return verify_package(parse_json(path.read_bytes()), key)
    except OSError as e:
        raise HanpyoError(f"cannot read {path}: {e}") from e
    except EncodingError as e:
        raise HanpyoError(f"{path} or --authority is malformed: {e}") from e


def _verify_from_tiles(args: argparse.Namespace, anchor: _ProofAnchor) -> FoundBlock:
    from ledger.verify.inclusion_proof import leaf_of_tracking_code
    from ledger.verify.tiles_proof import check_tracking_code_in_tiles, tiles_fetcher

    index = args.leaf_index
    if index is None and args.url is not None:  # only a position: the tiles prove the rest
        index = leaf_of_tracking_code(args.url, args.tracking_code)
    return check_tracking_code_in_tiles(
        tiles_fetcher(args.tiles),
        args.tracking_code,
        anchor.log_key,
        leaf_index=index,
        witness_keys=anchor.witnesses,
        witness_threshold=anchor.threshold,
    )


def _verify_bundle(args: argparse.Namespace) -> int:
    from kiosk.core.errors import HanpyoError
    from ledger.publish.nist_results import nist_results
    from ledger.verify.bundle import verify_bundle
    from ledger.verify.parallel import Where

    if args.workers < 0:
        raise HanpyoError("--workers is a number of processes: 1 or more (0: every core)")
    where = Where(args.workers, args.scheduler)
    checks = verify_bundle(args.bundle, args.authority, args.log_key, where, nist_results)
    width = max(len(c.name) for c in checks)
    for c in checks:
        print(f"{c.status:>11}  {c.name:<{width}}  {c.detail}")
    failed = [c for c in checks if c.status == "FAILED"]
    if failed:
        print(f"{len(failed)} check(s) FAILED: do not trust these results", file=sys.stderr)
        return 1
    unchecked = sum(1 for c in checks if c.status == "not checked")
    print(f"every check passed; {unchecked} thing(s) could not be checked from the bundle")
    return 0


def _verify_chain(args: argparse.Namespace) -> int:
    from ledger.verify.chain_file import ChainFileError, verify_chain_file

    path: Path = args.file
    try:
        report = verify_chain_file(path.read_bytes())
    except OSError as e:
        print(f"ledger: cannot read {path}: {e}", file=sys.stderr)
        return 1
    except ChainFileError as e:
        print(f"ledger: {path}: {e}", file=sys.stderr)
        return 1
    state = report.state
    print(
        f"chain verified: kiosk {state.kiosk}, election {state.election}, "
        f"{state.height + 1} blocks, {state.ballots} ballots, {state.test_ballots} test ballots"
    )
    if report.manifest is not None:
        print(
            f"export manifest signed by the kiosk lists exactly these blocks "
            f"(0..{report.manifest.last}, written {report.manifest.created}): the file is whole"
        )
    for warning in report.warnings:
        print(f"warning: {warning}")
    return 0
