"""Hanpyo's central ledger: verified ingest of kiosk chains into one Merkle log.

Layers, each importing only those below it (pyproject.toml's import contracts check this):
cli, web, service, publish, then store and verify side by side, then rules."""
