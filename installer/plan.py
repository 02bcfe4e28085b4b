"""What an installer wants on a host (files, links, commands) and how it gets there.

Both installers build a `Plan`; `apply` and `uninstall` then give dry runs, `--root`
installs, "no changes" on a second run and a clean removal, the same way for both.
Standard library only: the installer runs before the project's virtual environment exists.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True, slots=True)
class File:
    """A file the host should hold. ``keep`` marks data (keys): written once if missing,
    never replaced, never removed by an uninstall."""

    path: str
    content: bytes
    mode: int = 0o644
    keep: bool = False
    group: str | None = None  # reported once for the whole group (the program's files)


@dataclass(frozen=True, slots=True)
class Link:
    """A symbolic link, as `systemctl enable` and `systemctl mask` make them."""

    path: str
    target: str


@dataclass(frozen=True, slots=True)
class Command:
    """A command to run on the host.

    It runs when one of the files in ``after`` changes in this run, or, when it has a
    ``key``, when that key is not yet in the installer's record of this host (the key
    carries what the command depends on, e.g. the package list). On a real install,
    ``needed`` can also ask the host (a package was removed, the user is missing).
    ``stdin`` carries secrets and is never printed.
    """

    argv: tuple[str, ...]
    why: str
    key: str | None = None
    after: tuple[str, ...] = ()
    needed: Callable[[], bool] | None = None
    stdin: bytes | None = None


Step = File | Link | Command


@dataclass(slots=True)
class Plan:
    name: str  # "kiosk" or "ledger": names the record in RECORD_DIR
    steps: list[Step] = field(default_factory=list)
    # run by an uninstall before the files go (stop and disable the services)
    uninstall_commands: list[Command] = field(default_factory=list)
    # run by an uninstall after the files went (reload systemd, remove the user)
    uninstall_after: list[Command] = field(default_factory=list)
    # facts worth keeping in the record (never secrets), e.g. the kiosk's public key
    facts: dict[str, str] = field(default_factory=dict)

    def add(self, *steps: Step) -> None:
        self.steps.extend(steps)

    @property
    def record_path(self) -> str:
        return f"{RECORD_DIR}/{self.name}.json"


RECORD_DIR = "/var/lib/hanpyo-install"


@dataclass(frozen=True, slots=True)
class Target:
    """Where the plan lands: ``root`` is "/" for the host itself."""

    root: Path
    dry_run: bool

    @property
    def real(self) -> bool:
        """Commands run only on a real install: not under --root, not in a dry run."""
        return self.root == Path("/") and not self.dry_run

    def path(self, path: str) -> Path:
        return self.root / path.lstrip("/")


class Report:
    """Prints each change as it is made (or would be) and counts them."""

    def __init__(self, target: Target) -> None:
        self.target, self.changes = target, 0

    def change(self, verb: str, what: str, *, quiet: bool = False) -> None:
        self.changes += 1
        if quiet:
            return
        prefix = "would " if self.target.dry_run else ""
        print(f"  {prefix}{verb} {what}")

    def command(self, command: Command) -> None:
        self.changes += 1
        line = shlex.join(command.argv)
        secret = " (secret on standard input)" if command.stdin is not None else ""
        if self.target.real:
            print(f"  run: {line}{secret}")
        else:
            print(f"  would run: {line}{secret}    # {command.why}")

    def done(self) -> None:
        if self.changes == 0:
            print("no changes")
        else:
            verb = "would make" if self.target.dry_run else "made"
            print(f"{verb} {self.changes} change{'s' if self.changes != 1 else ''}")


def apply(plan: Plan, target: Target) -> int:
    """Bring the target to the plan; returns the number of changes (0: "no changes")."""
    report = Report(target)
    record = _read_record(target, plan)
    changed = {s.path for s in plan.steps if isinstance(s, File) and _file_differs(s, target)}
    done_keys: list[str] = []
    groups: set[str] = set()
    for step in plan.steps:
        if isinstance(step, File):
            if step.path in changed:
                what = step.group or f"{step.path} (mode {step.mode:04o})"
                report.change("write", what, quiet=step.group in groups)
                groups.add(step.group or "")
                if not target.dry_run:
                    _write(target.path(step.path), step.content, step.mode)
        elif isinstance(step, Link):
            if _link_differs(step, target):
                report.change("link", f"{step.path} -> {step.target}")
                if not target.dry_run:
                    _link(target.path(step.path), step.target)
        elif _command_due(step, target, record, changed):
            report.command(step)
            if target.real:
                _run(step)
        if isinstance(step, Command) and step.key:
            done_keys.append(step.key)
    _remove_stale(plan, target, record, report)
    new_record = _record(plan, done_keys)
    if new_record != record and not target.dry_run:
        _write(target.path(plan.record_path), _record_bytes(new_record), 0o600)
    report.done()
    return report.changes


def uninstall(plan: Plan, target: Target) -> int:
    """Remove what a previous install added, as listed in its record; keep the data."""
    report = Report(target)
    record = _read_record(target, plan)
    if not record:
        report.done()
        return 0
    for command in plan.uninstall_commands:
        report.command(command)
        if target.real:
            _run(command, check=False)
    for path in reversed(record.get("paths", [])):
        where = target.path(path)
        if where.is_symlink() or where.exists():
            report.change("remove", path)
            if not target.dry_run:
                where.unlink()
    for path in record.get("kept", []):
        if target.path(path).exists():
            print(f"  keep {path} (data)")
    report.change("remove", plan.record_path)
    if not target.dry_run:
        target.path(plan.record_path).unlink()
    for command in plan.uninstall_after:
        report.command(command)
        if target.real:
            _run(command, check=False)
    report.done()
    return report.changes


def _command_due(
    command: Command, target: Target, record: dict[str, list[str]], changed: set[str]
) -> bool:
    if any(path in changed for path in command.after):
        return True
    if command.key is None:
        return False
    if command.key not in record.get("keys", []):
        return True
    return target.real and command.needed is not None and command.needed()


def _file_differs(file: File, target: Target) -> bool:
    where = target.path(file.path)
    if not where.is_file() or where.is_symlink():
        return True
    if file.keep:
        return False
    return where.read_bytes() != file.content or (where.stat().st_mode & 0o7777) != file.mode


def _link_differs(link: Link, target: Target) -> bool:
    where = target.path(link.path)
    return not where.is_symlink() or os.readlink(where) != link.target


def _write(where: Path, content: bytes, mode: int) -> None:
    where.parent.mkdir(parents=True, exist_ok=True)
    temporary = where.with_name(f".{where.name}.hanpyo-new")
    temporary.unlink(missing_ok=True)
    # created with its final mode, so a key is never readable by others, even briefly
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(content)
        f.flush()
        os.fsync(f.fileno())
    os.chmod(temporary, mode)  # the umask may have narrowed it
    os.replace(temporary, where)


def _link(where: Path, target: str) -> None:
    where.parent.mkdir(parents=True, exist_ok=True)
    if where.is_symlink() or where.exists():
        where.unlink()
    where.symlink_to(target)


def _run(command: Command, *, check: bool = True) -> None:
    done = subprocess.run(command.argv, input=command.stdin, check=False)  # noqa: S603
    if done.returncode != 0 and check:
        sys.exit(f"failed ({done.returncode}): {shlex.join(command.argv)}")


def _read_record(target: Target, plan: Plan) -> dict[str, list[str]]:
    where = target.path(plan.record_path)
    if not where.is_file():
        return {}
    return dict(json.loads(where.read_text("utf-8")))


def _remove_stale(plan: Plan, target: Target, record: dict[str, list[str]], report: Report) -> None:
    """Remove what an earlier install added that this one no longer has (an older version's
    wheel, the source copy older installers made), so an upgrade leaves nothing behind."""
    wanted = {s.path for s in plan.steps if isinstance(s, File | Link)}
    stale = [p for p in record.get("paths", []) if p not in wanted]
    present = [p for p in stale if target.path(p).is_symlink() or target.path(p).exists()]
    many = len(present) > 3  # e.g. an older installer's source copy: one line, not hundreds
    for path in present:
        report.change("remove", path, quiet=many)
        if not target.dry_run:
            target.path(path).unlink()
    if many:
        verb = "would remove" if target.dry_run else "removed"
        print(f"  {verb} {len(present)} files an earlier install added")


def _record(plan: Plan, keys: Iterable[str]) -> dict[str, list[str]]:
    """What this host now holds: the paths an uninstall removes, the data it keeps, the
    commands already run."""
    files = [s for s in plan.steps if isinstance(s, File | Link)]
    paths = [s.path for s in files if not (isinstance(s, File) and s.keep)]
    kept = [s.path for s in files if isinstance(s, File) and s.keep]
    facts = [f"{k}={v}" for k, v in sorted(plan.facts.items())]
    return {"paths": paths, "kept": kept, "keys": sorted(set(keys)), "facts": facts}


def _record_bytes(record: dict[str, list[str]]) -> bytes:
    return (json.dumps(record, indent=2, ensure_ascii=False) + "\n").encode()


def read_facts(plan: Plan, target: Target) -> dict[str, str]:
    """Facts an earlier run recorded (e.g. the public key of a key sealed to the TPM)."""
    facts = _read_record(target, plan).get("facts", [])
    return dict(fact.split("=", 1) for fact in facts)
