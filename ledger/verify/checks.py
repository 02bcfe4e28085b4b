"""What a verifier reports: one named check and its outcome, and the error for a record it
cannot read. Apart from the verifiers themselves so that every part of verify-bundle (the log,
the count, the witnesses) reports the same way without importing the command's entry point."""

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
