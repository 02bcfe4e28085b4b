"""Signing keys for tests that belong to nobody in a synthetic election."""

from __future__ import annotations

from kiosk.core.crypto import SigningKey, sha256

STRANGER = SigningKey(sha256(b"hanpyo-test/stranger"))
