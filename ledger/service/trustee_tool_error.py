"""The trustee tool's one error: what went wrong in Korean and English for the trustee, and a
detail naming files and trustees (re-exported by ``ceremony_medium``)."""

from __future__ import annotations

from kiosk.core.errors import HanpyoError


class TrusteeToolError(HanpyoError):
    """A step of the trustee tool that cannot go on; ``user_message`` says why in Korean and
    English, in words a trustee can act on; the detail names files and trustees."""

    def __init__(self, detail: str, ko: str, en: str) -> None:
        super().__init__(detail, user_message=(ko, en))
