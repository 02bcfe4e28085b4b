"""What the ledger does: ingest, enrolment, the close, the trustees' tally, the fleet,
reconciliation and USB imports, over the store."""
