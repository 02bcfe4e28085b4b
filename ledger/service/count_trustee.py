"""The trustees' part of the count, as each trustee runs it on their own computer with their own
medium: `ledger trustee shuffle` and `ledger trustee decrypt --count` (docs/trustee-ceremony.md).

Both start by checking the whole count directory against what the trustee holds themselves:
the package must name the key their own ceremony made (as `check-package` does), the close
statement and the final checkpoint must be signed by the log key the package names, the
selection and the count input must be exactly what the closed log gives (recomputed from every
block of the record the trustee carries, or of the ledger's data: every chain, the root the log
key signed, every ballot's proofs; ledger/verify/count_inputs.py), and every shuffle so far
must verify (ledger/rules/count_files.py). Only then does a trustee add a shuffle, or decrypt
the list the directory itself gives: the aggregates, then the last shuffle's columns. What a
trustee decrypts is never a list someone hands them, nor sums or columns the closed log's
selection does not give.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from kiosk.core.checkpoint import NoteVerifier
from kiosk.core.election import ElectionPackage, read_package
from kiosk.core.errors import HanpyoError
from kiosk.core.verifiable.ceremony import CeremonySetup
from ledger.rules.close_statement import Closure
from ledger.rules.count_decryption import decryption_name, make_decryption
from ledger.rules.count_files import (
    CLOSE,
    COUNT_INPUT,
    SELECTION,
    CountFileError,
    CountInput,
    ShuffleChain,
    check_selection,
    election_key,
    make_shuffle,
    read_closure,
    read_count_input,
    required_shuffles,
    shuffle_name,
    shuffle_number,
    verify_close,
    verify_shuffles,
)
from ledger.service.ceremony_medium import Medium, TrusteeToolError
from ledger.service.ceremony_result import check_package_key
from ledger.verify.count_inputs import CountInputsError, LogSource, check_count_inputs
from ledger.verify.parallel import Where

MAX_SHUFFLES = 255  # one per trustee at most
CHECKED_PACKAGE = "checked-package.json"  # on the medium: what check-package saw


@dataclass(frozen=True, slots=True)
class CountDirectory:
    """A count directory whose every file checked out for this trustee."""

    path: Path
    package: ElectionPackage
    count_input: CountInput
    chain: ShuffleChain
    me: int
    checked_log: tuple[str, ...]  # what the recomputation from the closed log found
    workers: int = 1  # processes for the checks, the shuffle and the decryption shares


def open_count(
    medium: Medium,
    directory: Path,
    package_path: Path | None,
    log_key: str | None,
    *,
    log: LogSource,
    workers: int = 1,
) -> CountDirectory:
    """The count directory, checked: the package against this trustee's own ceremony, the
    close, the selection and count input recomputed from ``log`` (the closed log), and every
    shuffle so far."""
    record = medium.result()
    setup = CeremonySetup.from_json(record["setup"])
    package = _package(package_path or directory / "package.json")
    check_package_key(package.id, package.election_key, setup, record["result"])
    if log_key is None:
        check_remembered_log_key(medium, package)
    try:
        election_key(package)
        closure = read_closure(_read(directory / CLOSE))
        _check_close(package, closure, log_key)
        tally_raw, selection_raw = _read(directory / COUNT_INPUT), _read(directory / SELECTION)
        count_input = read_count_input(tally_raw, package)
        check_selection(count_input, selection_raw, closure, package)
        checked = _from_the_log(package, closure, log_key, log, (selection_raw, tally_raw), workers)
        shuffles = [_read(directory / name) for name in shuffle_files(directory)]
        chain = verify_shuffles(package, count_input, shuffles, workers=workers)
    except CountFileError as e:
        raise _refused(e) from e
    me = medium.index_in(setup)
    return CountDirectory(directory, package, count_input, chain, me, checked, workers)


def _from_the_log(
    package: ElectionPackage,
    closure: Closure,
    log_key: str | None,
    log: LogSource,
    files: tuple[bytes, bytes],
    workers: int,
) -> tuple[str, ...]:
    """selection.json and tally-input.json recomputed from the closed log, byte for byte, with
    the log key that verified the close (``verify_close`` checked it names one)."""
    verifier = NoteVerifier.parse(log_key) if log_key is not None else package.log_verifier
    if verifier is None:  # verify_close has refused it already; said again, never assumed
        raise CountFileError("the package names no log key; give the ledger's log key")
    try:
        return check_count_inputs(
            package, closure, verifier, log, files, Where(workers=workers)
        ).said
    except CountInputsError as e:
        raise TrusteeToolError(
            e.detail,
            "마감된 로그가 확인되지 않거나, 개표 폴더의 집계 대상 목록(selection.json)이나 "
            "복호화할 암호문(tally-input.json)이 그 로그에서 다시 계산한 것과 다릅니다. 아무것도 "
            "하지 않았습니다. 화면의 설명을 선거 관리자, 다른 신탁인들과 관찰자에게 알리세요.",
            "The closed log does not check out, or the count directory's selection "
            "(selection.json) or ciphertexts (tally-input.json) are not what it gives. Nothing "
            "was done. Tell the election manager, the other trustees and the observers what the "
            "message names.",
        ) from e


def remember_checked_package(medium: Medium, package: ElectionPackage) -> None:
    """After `check-package`: the log key the checked package names, kept on the medium, so
    that at the count a package.json whose election key is right but whose log key was
    swapped (to sign a close statement of someone else's) is refused."""
    verifier = package.log_verifier
    value = {
        "election": package.id,
        "package_hash": package.package_hash.hex(),
        "log_key": None if verifier is None else verifier.vkey,
    }
    path = medium.path / CHECKED_PACKAGE
    handle, temporary = tempfile.mkstemp(dir=medium.path, prefix=f".{CHECKED_PACKAGE}.")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(json.dumps(value, indent=1).encode("utf-8") + b"\n")
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def check_remembered_log_key(medium: Medium, package: ElectionPackage) -> None:
    """Refuse a package whose log key is not the one this trustee saw at `check-package`
    (`--log-key` replaces both, on purpose). A medium that never checked a package has
    nothing to compare: the count's output then says which log key it trusted."""
    try:
        remembered = json.loads((medium.path / CHECKED_PACKAGE).read_text("utf-8"))
    except FileNotFoundError:
        return
    except (OSError, ValueError) as e:
        raise CountFileError(f"cannot read {CHECKED_PACKAGE} on your medium: {e}") from e
    verifier = package.log_verifier
    found = None if verifier is None else verifier.vkey
    if remembered.get("election") == package.id and remembered.get("log_key") != found:
        raise TrusteeToolError(
            f"the package names the log key {found}, not {remembered.get('log_key')} which "
            "you checked with `ledger trustee check-package`",
            "선거 정보 파일의 원장 키가 check-package 때 확인한 키와 다릅니다. 아무것도 하지 "
            "않았습니다. 선거 관리자와 다른 신탁인들에게 알리세요.",
            "The package's ledger log key is not the one you checked with check-package. "
            "Nothing was done. Tell the election manager and the other trustees.",
        )


def shuffle_files(directory: Path) -> list[str]:
    """shuffle-1.json, shuffle-2.json, ... as they are in the directory; a gap is refused (a
    file was removed, and the chain would silently skip a trustee)."""
    numbers = sorted(
        n for p in directory.glob("shuffle-*.json") if (n := shuffle_number(p.name)) is not None
    )
    if numbers != list(range(1, len(numbers) + 1)) or len(numbers) > MAX_SHUFFLES:
        raise CountFileError(f"the shuffle files are not numbered 1 to n without a gap: {numbers}")
    return [shuffle_name(n) for n in numbers]


def add_shuffle(medium: Medium, count: CountDirectory, *, workers: int = 1) -> list[str]:
    """This trustee's shuffle of every column, written as the next shuffle file."""
    if count.me in count.chain.trustees:
        raise TrusteeToolError(
            f"trustee {count.me} already shuffled (shuffle-"
            f"{count.chain.trustees.index(count.me) + 1}.json)",
            "이미 섞기를 했습니다. 신탁인은 한 번만 섞습니다.",
            "You have already shuffled. Each trustee shuffles once.",
        )
    if any(count.path.glob("decryption-*.json")):
        raise TrusteeToolError(
            "decryption files are already in the count directory",
            "복호화가 이미 시작되었습니다. 지금 섞으면 이미 만든 복호화 몫이 쓸모없어집니다.",
            "Decryption has already begun; a shuffle now would make the shares made so far "
            "useless.",
        )
    number = len(count.chain.trustees) + 1
    raw = make_shuffle(
        count.package,
        count.chain.columns,
        count.chain.last_hash,
        count.me,
        medium.signing_key(),
        workers=workers,
    )
    write_new(count.path / shuffle_name(number), raw)
    cells = sum(len(c) for c in count.chain.columns)
    return [
        f"섞기 완료 / shuffle {number} written by trustee {count.me}: "
        f"{len(count.chain.columns)} columns, {cells} score cells, each column on its own",
        f"checked first: the close statement, {SELECTION} and {COUNT_INPUT} recomputed from "
        f"the closed log, and the {len(count.chain.trustees)} shuffles before yours"
        + (f" (trustees {_names(count.chain.trustees)})" if count.chain.trustees else ""),
        f"pass the count directory to the next trustee: {count.path / shuffle_name(number)}",
        _input_line(count),
        *count.checked_log,
    ]


def decrypt_count(medium: Medium, count: CountDirectory, min_shuffles: int | None) -> list[str]:
    """This trustee's decryption shares of the aggregates and the last shuffle's columns."""
    needed = required_shuffles(count.package, count.count_input)
    minimum = needed if min_shuffles is None or not needed else max(min_shuffles, 1)
    done = len(count.chain.trustees)
    if done < minimum:
        raise TrusteeToolError(
            f"{done} shuffles in the count directory, {minimum} needed before decryption",
            f"섞기가 {done}번뿐입니다. 복호화 전에 {minimum}명의 신탁인이 섞어야 합니다.",
            f"Only {done} shuffles so far; {minimum} trustees must shuffle before anyone decrypts.",
        )
    path = count.path / decryption_name(count.me)
    if path.exists():
        raise TrusteeToolError(
            f"{path} exists already",
            "이미 복호화 몫을 썼습니다.",
            "You have already written your decryption shares.",
        )
    share = medium.share()
    raw = make_decryption(
        count.package,
        count.count_input,
        count.chain,
        share,
        medium.signing_key(),
        workers=count.workers,
    )
    write_new(path, raw)
    cells = sum(len(c) for c in count.chain.columns)
    lines = [
        f"복호화 몫 작성 / decryption shares of trustee {count.me} written to {path}:",
        f"  {len(count.count_input.aggregates)} sums and {cells} shuffled score cells, "
        "each share with its proof",
        f"  after checking the close statement, the count input recomputed from the closed log "
        f"and {done} shuffles " + (f"(trustees {_names(count.chain.trustees)})" if done else ""),
    ]
    lines.append(_input_line(count))
    lines += count.checked_log
    if done < needed:
        lines.append(
            f"!! only {done} of the {needed} shuffles the threshold asks for: a group of "
            f"{done} trustees who shuffled could tie scores together / 섞기가 기준 수보다 "
            "적습니다"
        )
    return lines


def write_new(path: Path, raw: bytes) -> None:
    """A new public file written whole or not at all, never over an existing one: written
    beside it, flushed to disk, then linked into place (link refuses an existing name)."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(raw)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, 0o644)
        try:
            os.link(temporary, path)
        except FileExistsError as e:
            raise TrusteeToolError(
                f"{path} exists already (another trustee wrote it meanwhile?)",
                "같은 이름의 파일이 이미 있습니다. 다시 실행하세요.",
                "A file of that name is already there. Run the step again.",
            ) from e
    finally:
        os.unlink(temporary)


def _package(path: Path) -> ElectionPackage:
    try:
        document = json.loads(_read(path))
        signed = ({"package", "signature"}, {"package", "signature", "public_signature"})
        if isinstance(document, dict) and set(document) in signed:
            document = document["package"]  # the signed form, as published
        return read_package(document)
    except (ValueError, HanpyoError) as e:
        raise TrusteeToolError(
            f"{path}: not an election package ({e})",
            "선거 정보 파일을 읽을 수 없습니다.",
            "The election package cannot be read.",
        ) from e


def _check_close(package: ElectionPackage, closure: Closure, log_key: str | None) -> None:
    try:
        verify_close(package, closure, log_key)
    except CountFileError as e:
        raise TrusteeToolError(
            e.detail,
            "선거가 닫혔다는 서명된 마감 확인서가 없거나 맞지 않습니다. 아무것도 하지 않았습니다.",
            "There is no valid signed close statement for this election. Nothing was done.",
        ) from e


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as e:
        raise CountFileError(f"cannot read {path.name}: {e.strerror}") from e


def _input_line(count: CountDirectory) -> str:
    """The hashes of what was recomputed, for the trustees and observers to compare."""
    return (
        f"count input (recomputed from the closed log): {COUNT_INPUT} "
        f"{count.count_input.digest}, {SELECTION} {count.count_input.selection_hash}"
    )


def _names(trustees: tuple[int, ...]) -> str:
    return ", ".join(map(str, trustees))


def _refused(e: CountFileError) -> TrusteeToolError:
    return TrusteeToolError(
        e.detail,
        "개표 폴더의 파일이 확인되지 않아 아무것도 하지 않았습니다. 화면의 설명(파일, 신탁인, "
        "열)을 선거 관리자와 다른 신탁인들에게 알리세요.",
        "A file of the count directory does not check out, so nothing was done. Tell the "
        "election manager and the other trustees what the message names (file, trustee, "
        "column).",
    )
