"""The protocol that kiosks and the ledger share: pure Python, no Qt, no I/O."""
