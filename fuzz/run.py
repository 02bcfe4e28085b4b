"""Run the fuzz targets: ``python -m fuzz.run [--target T] [--runs N]``.

Without ``--replay`` or ``--merge`` each target runs under atheris (libFuzzer) for ``--runs``
executions, from its corpus in fuzz/corpus/<target>/ and a work folder of new inputs, with a
time limit per input; a finding is written to fuzz/findings/<target>/ and stops the run.
``--merge`` minimises the corpus (the kept corpus plus the work folder) back into
fuzz/corpus/<target>/. ``--replay`` runs every corpus file through the target without atheris.

Nothing of kiosk or ledger is imported before atheris instruments it: keep imports here to
the standard library.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
CORPUS = HERE / "corpus"
# The test suite points these elsewhere, so that a short run never touches a campaign's files.
FINDINGS = Path(os.environ.get("HANPYO_FUZZ_FINDINGS", HERE / "findings"))
WORK = Path(os.environ.get("HANPYO_FUZZ_WORK", Path(tempfile.gettempdir()) / "hanpyo-fuzz"))
MAX_CORPUS = 300  # files kept per target after a merge
NAMES = [
    "encoding",
    "tlv",
    "card_session",
    "vpcd",
    "block",
    "chain",
    "chain_rules",
    "election",
    "export",
    "chain_file",
    "usb_import",
    "checkpoint",
    "merkle",
    "heartbeat",
    "api",
    "enrol_csv",
    "proof_answer",
    "sync_answers",
]


def corpus_files(name: str) -> list[Path]:
    folder = CORPUS / name
    return sorted(p for p in folder.iterdir() if p.is_file()) if folder.is_dir() else []


def replay(name: str, paths: list[Path], strict: bool) -> list[str]:
    """Run ``paths`` (default: the corpus) through target ``name``; the failures, described."""
    from fuzz.known import tolerated
    from fuzz.targets import TARGETS

    check, failures = TARGETS[name].check, []
    for path in paths or corpus_files(name):
        try:
            check(path.read_bytes())
        except Exception as e:  # every escape is a finding, whatever its type
            if strict or not tolerated(name, e):
                failures.append(f"{path}: {type(e).__name__}: {e}")
    return failures


def fuzz(name: str, args: list[str]) -> None:
    """Hand over to libFuzzer; never returns."""
    import atheris

    with atheris.instrument_imports(include=["kiosk", "ledger"]):
        from fuzz.known import SEEN, tolerated
        from fuzz.targets import TARGETS

    check = TARGETS[name].check

    def one_input(data: bytes) -> None:
        try:
            check(data)
        except Exception as e:
            if not tolerated(name, e):
                raise

    import atexit

    atexit.register(lambda: SEEN and print(f"known findings met: {dict(SEEN)}", flush=True))
    atheris.Setup([str(launcher(name)), *args], one_input)
    atheris.Fuzz()


def launcher(name: str) -> Path:
    """An executable that runs this target: libFuzzer starts its argv[0] again for -merge."""
    WORK.mkdir(parents=True, exist_ok=True)
    path = WORK / f"run-{name}.sh"
    path.write_text(
        f"#!/bin/sh\ncd {shlex.quote(str(HERE.parent))} && exec {shlex.quote(sys.executable)} "
        f'-m fuzz.run --target {name} --libfuzzer "$@"\n'
    )
    path.chmod(0o755)
    return path


def libfuzzer_args(name: str, runs: int, timeout: int, max_len: int, json: bool) -> list[str]:
    work = WORK / name
    work.mkdir(parents=True, exist_ok=True)
    findings = FINDINGS / name
    findings.mkdir(parents=True, exist_ok=True)
    longest = max((p.stat().st_size for p in corpus_files(name)), default=0)
    return [
        f"-runs={runs}",
        f"-timeout={timeout}",
        f"-max_len={max(max_len, longest)}",
        "-rss_limit_mb=3072",
        "-print_final_stats=1",
        f"-artifact_prefix={findings}/",
        *([f"-dict={HERE / 'json.dict'}"] if json else []),
        str(work),
        str(CORPUS / name),
    ]


def merge(name: str) -> int:
    """Minimise the kept corpus and the work folder into fuzz/corpus/<name>/."""
    merged = WORK / f"{name}.merged"
    shutil.rmtree(merged, ignore_errors=True)
    merged.mkdir(parents=True)
    work = WORK / name
    work.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable,
        "-m",
        "fuzz.run",
        "--target",
        name,
        "--libfuzzer",
        "-merge=1",
        "-timeout=30",
        str(merged),
        str(CORPUS / name),
        str(work),
    ]
    subprocess.run(command, check=True, cwd=HERE.parent)  # noqa: S603 - our own runner
    kept = sorted(merged.iterdir(), key=lambda p: (p.stat().st_size, p.name))[:MAX_CORPUS]
    if not kept:
        raise SystemExit(f"{name}: the merge kept nothing; the corpus is left as it was")
    shutil.rmtree(CORPUS / name, ignore_errors=True)
    (CORPUS / name).mkdir(parents=True)
    for path in kept:
        shutil.copy(path, CORPUS / name / path.name)
    return len(kept)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--target", choices=NAMES, action="append", help="default: all")
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--timeout", type=int, default=10, help="seconds per input")
    parser.add_argument("--replay", action="store_true", help="run the corpus without atheris")
    parser.add_argument("--strict", action="store_true", help="in a replay, known findings fail")
    parser.add_argument("--merge", action="store_true", help="minimise the corpus")
    parser.add_argument("--libfuzzer", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("paths", nargs="*", type=Path, help="inputs to replay")
    args, extra = parser.parse_known_args()
    names = args.target or NAMES
    if args.libfuzzer:  # the child of --merge, with libFuzzer's own arguments
        fuzz(names[0], [*extra, *map(str, args.paths)])
    if args.replay:
        failures = [f for name in names for f in replay(name, args.paths, args.strict)]
        print("\n".join(failures) or f"replayed {', '.join(names)}: no finding")
        return 1 if failures else 0
    if args.merge:
        for name in names:
            print(f"{name}: {merge(name)} inputs kept")
        return 0
    from fuzz.targets import JSON_TARGETS, TARGETS  # here only: each run imports it under atheris

    status = 0
    for name in names:
        json = name in JSON_TARGETS
        limits = libfuzzer_args(name, args.runs, args.timeout, TARGETS[name].max_len, json)
        command = [sys.executable, "-m", "fuzz.run", "--target", name, "--libfuzzer", *limits]
        env = os.environ | {"TQDM_DISABLE": "1"}
        done = subprocess.run(command, cwd=HERE.parent, env=env, check=False)  # noqa: S603
        print(f"{name}: exit status {done.returncode}", flush=True)
        status = status or done.returncode
    return status


if __name__ == "__main__":
    sys.exit(main())
