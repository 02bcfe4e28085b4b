"""Hanpyo's central ledger: verified ingest of kiosk chains into one Merkle log."""
