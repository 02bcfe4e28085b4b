"""`ledger election letters`: the online members' credential letters and the roll file that
carries their keys into the package (ledger/publish/credential_roll.py and
credential_letters.py).

Every output is a new file, created owner-only (mode 0600): the letters and the mailing file
hold the only copies of the codes, and the members list (no codes) and the roll are the only
files that tie a letter's reference to its member's voter id. The roll goes last, so a failure
never leaves a roll whose keys have no letter; a letter without its roll is harmless, its key
being on no package."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from kiosk.core.encoding import b64d
from kiosk.core.errors import HanpyoError
from kiosk.core.secret_file import write_secret
from ledger.cli.election_files import load_json
from ledger.cli.options import Subparsers
from ledger.publish.credential_roll import (
    IssuedRoll,
    LettersError,
    issue_credentials,
    reissue_credentials,
)

ROLL_FILE, PDF_FILE, CSV_FILE = "roll.json", "letters.pdf", "letters.csv"
MEMBERS_FILE = "members.csv"  # the office's: reference, voter id and card key, no code


def add_letters(esub: Subparsers) -> None:
    letters = esub.add_parser(
        "letters",
        help="credential letters for the online members: a code each, its key on a new roll",
        description="For every roll entry whose category votes online, a new one-time code; "
        "its public key joins the entry's signing keys in DIR/roll.json (give that file to "
        "`ledger election create --roll`). The codes are written only to DIR/letters.pdf "
        "and/or DIR/letters.csv; DIR/members.csv ties each letter's reference to its member's "
        "voter id and card key for the office. All are readable by you alone.",
    )
    letters.add_argument("--definition", type=Path, required=True)
    letters.add_argument(
        "--roll",
        type=Path,
        required=True,
        help="the roll file from `kiosk cards enrol` (with --reissue: the roll an earlier "
        "`ledger election letters` wrote, that the package was made from); never changed",
    )
    letters.add_argument(
        "--platform-url",
        required=True,
        help="the voting page's address (https://…); the QR code opens "
        "<URL>/#code=<code>&k=<authority key>&e=<election id>",
    )
    letters.add_argument(
        "--authority",
        required=True,
        help="the authority's public key (base64url, as `ledger authority-key` printed it): "
        "the QR code carries it and the letter prints its short election check, with which "
        "the voting page confirms the election before the member votes",
    )
    letters.add_argument(
        "--out", type=Path, required=True, metavar="DIR", help="folder for the new files"
    )
    letters.add_argument("--pdf", action="store_true", help="print the letters to letters.pdf")
    letters.add_argument(
        "--csv",
        action="store_true",
        help="letters.csv for a mailing service (reference, code, URL): whoever holds it can "
        "vote for every member",
    )
    letters.add_argument(
        "--contact",
        help="the election office's telephone, printed where the letter says whom to call "
        "about a lost letter",
    )
    letters.add_argument(
        "--reissue",
        nargs="+",
        metavar="REFERENCE",
        help="replace these members' lost letters, each named by the reference of their "
        "letter or by their voter id (both in members.csv): a new letter, with a new "
        "reference, is made for them only. Their old code stops working once the package made "
        "again (`ledger election sign --replaces`) is loaded, which must be before the opening",
    )
    letters.set_defaults(run=_letters)


def _letters(args: argparse.Namespace) -> int:
    # The letters' renderer (Jinja, segno, the report's fonts and so matplotlib) loads only
    # when letters are made: `ledger` starts without it (tests/unit/test_ledger_layers.py).
    from ledger.publish.credential_letters import (
        LetterSetting,
        letters_csv,
        letters_pdf,
        members_csv,
        platform_address,
    )

    if not (args.pdf or args.csv):
        raise HanpyoError(
            "give --pdf, --csv or both: the codes are written nowhere else, so a run without "
            "them would put keys on the roll that nobody can use"
        )
    url = platform_address(args.platform_url)
    paths = _outputs(args.out, pdf=args.pdf, csv=args.csv)
    definition, roll = load_json(args.definition), load_json(args.roll)
    if not isinstance(definition, dict) or not isinstance(roll, dict):
        raise LettersError("the definition and the roll file must each be a JSON object")
    issued = (
        reissue_credentials(definition, roll, args.reissue)
        if args.reissue
        else issue_credentials(definition, roll)
    )
    authority = b64d(args.authority.strip(), length=32, name="--authority")
    setting = LetterSetting(definition, url, args.contact, authority)
    # Everything is made in memory before the first file is created.
    contents: dict[Path, bytes] = {}
    if args.pdf:
        print(f"printing {len(issued.credentials)} letters to PDF…", flush=True)
        contents[paths[PDF_FILE]] = letters_pdf(setting, issued.credentials)
    if args.csv:
        contents[paths[CSV_FILE]] = letters_csv(setting, issued.credentials).encode("utf-8")
    contents[paths[MEMBERS_FILE]] = members_csv(issued.credentials).encode("utf-8")
    contents[paths[ROLL_FILE]] = json.dumps(issued.roll, ensure_ascii=False, indent=1).encode()
    args.out.mkdir(parents=True, exist_ok=True)
    for path, content in contents.items():
        write_secret(path, content)
    _report(args, issued, paths)
    return 0


def _outputs(out: Path, *, pdf: bool, csv: bool) -> dict[str, Path]:
    """The files this run creates in ``out``; refused, before any work, if one exists."""
    names = [ROLL_FILE, MEMBERS_FILE] + [PDF_FILE] * pdf + [CSV_FILE] * csv
    paths = {name: out / name for name in names}
    existing = [str(p) for p in paths.values() if p.exists()]
    if existing:
        raise LettersError(
            f"{', '.join(existing)} already exist(s); refusing to overwrite: choose a new "
            "--out folder (earlier letters and rolls are never replaced)"
        )
    return paths


def _report(args: argparse.Namespace, issued: IssuedRoll, paths: dict[str, Path]) -> None:
    official = sum(not c.test for c in issued.credentials)
    tests = len(issued.credentials) - official
    what = "replacement letters" if args.reissue else "letters"
    print(f"{len(issued.credentials)} {what}: {official} online members, {tests} test cards")
    for name, path in paths.items():
        if name not in (ROLL_FILE, MEMBERS_FILE):
            print(f"  {path} (mode 0600: readable by you alone)")
    print(
        f"  members list: {paths[MEMBERS_FILE]} (mode 0600; no codes): each letter's "
        "reference, voter id and card key, for the office only"
    )
    print(f"  new roll: {paths[ROLL_FILE]} (mode 0600); {args.roll} is unchanged")
    print(
        "코드는 위 파일에만 있습니다. 다시 만들 수 없으니 인쇄·발송한 뒤 파일을 안전하게 지우세요."
    )
    print(
        "The codes are in these files only: nobody can show them again. Print or send the "
        "letters, then delete the files safely."
    )
    if args.reissue:
        print(
            "next, before the opening: `ledger election create --roll "
            f"{paths[ROLL_FILE]} …`, then `ledger election sign … --replaces <the signed "
            "package now in use>` (the next package number), and load the new package on "
            "the ledger, the platform and the kiosks; until then the old code still works"
        )
    else:
        print(f"next: `ledger election create --roll {paths[ROLL_FILE]} …`")
