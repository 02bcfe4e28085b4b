"""JSON written item by item while the file is written, and files that appear only once
complete: a million cast vote records never sit in memory and a reader never sees half a file."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO


class Lazy:
    """A JSON array made item by item while the file is written (a million CVRs, a chain of a
    million blocks), so that it never sits in memory whole."""

    __slots__ = ("items",)

    def __init__(self, items: Iterable[Any]) -> None:
        self.items = items


def write_json(out: TextIO, value: Any) -> None:
    """Write ``value`` as JSON; a ``Lazy`` may stand as a value of a dict or an item of another
    ``Lazy``. Each array item goes on a line of its own."""
    if isinstance(value, Lazy):
        out.write("[")
        for n, item in enumerate(value.items):
            out.write(",\n" if n else "\n")
            write_json(out, item)
        out.write("\n]")
    elif isinstance(value, dict) and any(isinstance(v, Lazy) for v in value.values()):
        out.write("{")
        for n, (key, item) in enumerate(value.items()):
            out.write((",\n" if n else "") + json.dumps(key) + ":")
            write_json(out, item)
        out.write("}")
    else:
        out.write(json.dumps(value, ensure_ascii=False, separators=(",", ":")))


def materialise(value: Any) -> Any:
    if isinstance(value, Lazy):
        return [materialise(item) for item in value.items]
    if isinstance(value, dict):
        return {k: materialise(v) for k, v in value.items()}
    if isinstance(value, list):
        return [materialise(item) for item in value]
    return value


@contextmanager
def replacing(path: Path, *, encoding: str = "utf-8") -> Iterator[TextIO]:
    """Write to a side file and move it into place at the end: a reader never sees half an
    export, and a failure leaves the previous file (if any) as it was."""
    part = path.with_name(path.name + ".part")
    try:
        with part.open("w", encoding=encoding, newline="") as f:
            yield f
        os.replace(part, path)
    finally:
        part.unlink(missing_ok=True)
