"""What a kiosk remembers of the packages it has run, so that it never goes back: any package
the authority ever signed (an old draft, another election) stays valid under its key, so the
signature alone cannot stop a replay. The kiosk pins the election it runs and, per election,
the highest sequence number and that package's hash; a package of another election needs a
technician's deliberate choice (``kiosk load-election --new-election``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from kiosk.core.election import ElectionId, ElectionPackage
from kiosk.core.encoding import b64e, canonical_json, parse_json
from kiosk.core.errors import ElectionPackageError, HanpyoError
from kiosk.core.jsonreader import Reader

PINS_VERSION = 1


class PackageRefused(ElectionPackageError):
    """A validly signed package this kiosk must not load: older than the one it has, or of
    another election."""


@dataclass(frozen=True, slots=True)
class PackagePin:
    """The newest package of one election this kiosk has loaded."""

    election: ElectionId
    sequence: int
    package_hash: bytes

    @classmethod
    def of(cls, package: ElectionPackage) -> PackagePin:
        return cls(package.id, package.sequence, package.package_hash)


@dataclass(frozen=True, slots=True)
class PackagePins:
    """The election this kiosk runs, and the newest package of every election it has run."""

    current: ElectionId
    elections: Mapping[ElectionId, PackagePin]

    def check(self, package: ElectionPackage, *, new_election: bool = False) -> None:
        """Raise ``PackageRefused`` unless ``package`` may replace what this kiosk runs: the
        same election (another one only with ``new_election``), and never an older package of
        any election it has run, nor one with the same number but other content."""
        if package.id != self.current and not new_election:
            raise PackageRefused(
                f"this kiosk runs election {self.current!r}; the package is for election "
                f"{package.id!r}. A technician loads another election on purpose, with "
                "`kiosk load-election --new-election`, once the session is closed",
                user_message=(
                    "다른 선거의 선거 정보입니다. 이 단말기에서 진행 중인 선거와 다릅니다. "
                    "선거 관리자에게 알려 주세요.",
                    "This election file is for another election, not the one this kiosk "
                    "runs. Please tell the election manager.",
                ),
            )
        pin = self.elections.get(package.id)
        if pin is None:
            return
        if package.sequence < pin.sequence:
            raise PackageRefused(
                f"the package is number {package.sequence} of election {package.id!r}; this "
                f"kiosk has already loaded number {pin.sequence}, and never goes back",
                user_message=_OLDER,
            )
        if package.sequence == pin.sequence and package.package_hash != pin.package_hash:
            raise PackageRefused(
                f"the package is number {package.sequence} of election {package.id!r}, as is "
                f"the one this kiosk loaded ({b64e(pin.package_hash)}), but its content "
                "differs; the authority signs a changed package with a higher number "
                "(`ledger election sign --replaces`)",
                user_message=_OLDER,
            )

    def after(self, package: ElectionPackage) -> PackagePins:
        """The pins once ``package`` is loaded (``check`` passed)."""
        elections = dict(self.elections) | {package.id: PackagePin.of(package)}
        return PackagePins(package.id, MappingProxyType(elections))

    def to_json(self) -> dict[str, Any]:
        return {
            "v": PINS_VERSION,
            "current": self.current,
            "elections": {
                e: {"sequence": p.sequence, "package_hash": b64e(p.package_hash)}
                for e, p in sorted(self.elections.items())
            },
        }

    def encode(self) -> bytes:
        return canonical_json(self.to_json())


_OLDER = (
    "단말기에 있는 선거 정보보다 오래된 파일입니다. 불러오지 않았습니다. 선거 관리자에게 "
    "알려 주세요.",
    "This election file is older than the one on this kiosk, so it was not loaded. Please "
    "tell the election manager.",
)


def first_pins(package: ElectionPackage) -> PackagePins:
    """The pins of a kiosk whose first package is ``package``."""
    return PackagePins(package.id, MappingProxyType({package.id: PackagePin.of(package)}))


def read_pins(raw: bytes) -> PackagePins:
    """The pins as the kiosk wrote them; ``ElectionPackageError`` if they are not."""
    try:
        r = Reader(parse_json(raw), "", ElectionPackageError)
    except HanpyoError as e:
        raise ElectionPackageError(f"the kiosk's package pins cannot be read: {e}") from e
    if r.integer("v") != PINS_VERSION:
        r.fail(f"unsupported pins version {r.value['v']}", "v")
    current = ElectionId(r.ident("current"))
    elections: dict[ElectionId, PackagePin] = {}
    table = r.obj("elections")
    for election in list(table.value):
        entry = table.obj(election)
        elections[ElectionId(election)] = PackagePin(
            ElectionId(election),
            entry.integer("sequence", lo=1),
            entry.binary("package_hash", length=32),
        )
        entry.done()
    table.done()
    r.done()
    if current not in elections:
        r.fail(f"the current election {current!r} has no pin", "current")
    return PackagePins(current, MappingProxyType(elections))
