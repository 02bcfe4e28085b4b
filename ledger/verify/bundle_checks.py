"""What `ledger verify-bundle` reports: one ``Check`` per line, and the error for a record that
cannot be read at all. Apart from the verifier itself (bundle.py, bundle_v2.py), so the modules
that read the record's parts share them without importing one another in a circle."""

from __future__ import annotations

from dataclasses import dataclass

from kiosk.core.errors import HanpyoError


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    status: str  # "ok", "FAILED" or "not checked"
    detail: str


class BundleError(HanpyoError):
    user_message = ("검증 묶음을 읽을 수 없습니다.", "The verification bundle cannot be read.")
