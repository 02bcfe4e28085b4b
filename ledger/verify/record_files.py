"""The files of a published v2 record (the bundle zip), read for ``verify-bundle``: each one by
its name, missing or unreadable files named, the count's files under ``count/`` in their
numbered order. docs/spec/record.md lists them."""

from __future__ import annotations

import json
import re
import zipfile
import zlib
from typing import IO, Any

from kiosk.core.errors import HanpyoError

COUNT = "count/"
SELECTION = COUNT + "selection.json"
TALLY_INPUT = COUNT + "tally-input.json"
RESULTS = COUNT + "results.json"
NIST_RESULTS = COUNT + "nist-1500-100-results.json"
CEREMONY = "ceremony.json"
_NUMBERED = re.compile(r"count/(shuffle|decryption)-([1-9][0-9]{0,3})\.json")


# What zipfile raises for a damaged member: a bad CRC or header (BadZipFile), bad compressed
# data (zlib.error), a header that now says "encrypted" (RuntimeError) or names a compression
# method it does not have (NotImplementedError).
DAMAGED = (
    zipfile.BadZipFile,
    zlib.error,
    OSError,
    ValueError,
    RuntimeError,
    NotImplementedError,
)


class RecordError(HanpyoError):
    user_message = (
        "검증 묶음의 파일이 없거나 읽을 수 없습니다.",
        "A file of the verification bundle is missing or cannot be read.",
    )


class RecordFiles:
    """The zip's members by name; every read names the file it could not read."""

    def __init__(self, z: zipfile.ZipFile) -> None:
        self.z = z
        self.names = frozenset(z.namelist())

    def raw(self, name: str) -> bytes:
        if name not in self.names:
            raise RecordError(f"the record has no {name}: it cannot be checked")
        try:
            return self.z.read(name)
        except DAMAGED as e:
            raise RecordError(f"{name} in the record is damaged: {e}") from e

    def open(self, name: str) -> IO[bytes]:
        """A member to stream (a large log), its damage raised as it is read."""
        if name not in self.names:
            raise RecordError(f"the record has no {name}: it cannot be checked")
        try:
            return self.z.open(name)
        except DAMAGED as e:
            raise RecordError(f"{name} in the record is damaged: {e}") from e

    def text(self, name: str) -> str:
        try:
            return self.raw(name).decode("utf-8")
        except UnicodeDecodeError as e:
            raise RecordError(f"{name} in the record is not UTF-8 text") from e

    def json(self, name: str, kind: type) -> Any:
        """A JSON member that must be an object (``dict``) or an array (``list``)."""
        try:
            value = json.loads(self.text(name))
        except ValueError as e:
            raise RecordError(f"{name} in the record is not JSON: {e}") from e
        if not isinstance(value, kind):
            raise RecordError(f"{name} in the record is not a JSON {kind.__name__}")
        return value

    def numbered(self, kind: str) -> list[tuple[int, str]]:
        """(n, name) of every ``count/<kind>-<n>.json``, by n."""
        found = []
        for name in self.names:
            match = _NUMBERED.fullmatch(name)
            if match and match.group(1) == kind:
                found.append((int(match.group(2)), name))
        return sorted(found)

    def shuffles(self) -> list[bytes]:
        """shuffle-1.json, shuffle-2.json, … with no gap (a gap is a missing file)."""
        numbered = self.numbered("shuffle")
        for expected, (n, name) in enumerate(numbered, start=1):
            if n != expected:
                raise RecordError(f"the record has {name} but no {COUNT}shuffle-{expected}.json")
        return [self.raw(name) for _, name in numbered]

    def decryptions(self) -> list[tuple[str, bytes]]:
        return [(name, self.raw(name)) for _, name in self.numbered("decryption")]

    def unknown(self, known: frozenset[str]) -> list[str]:
        """Members that are not part of the record as docs/spec/record.md lists it."""
        numbered = {name for kind in ("shuffle", "decryption") for _, name in self.numbered(kind)}
        return sorted(self.names - known - numbered)
