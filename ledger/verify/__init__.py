"""Checks anyone can run away from the ledger: the published bundle and inclusion proofs.
Nothing here imports SQLAlchemy, directly or through another module."""
