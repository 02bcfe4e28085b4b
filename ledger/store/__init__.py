"""The ledger's database: the schema, the Merkle log's storage, and every query."""
