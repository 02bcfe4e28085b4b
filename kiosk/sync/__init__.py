"""Store-and-forward to the central ledger: the only place that speaks HTTP to it."""
