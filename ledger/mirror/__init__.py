"""A mirror of the log (after C2SP tlog-mirror): an observer's own verified full copy of the
ledger's tiles, followed from any tiles URL and served read-only under the ledger's URLs."""
