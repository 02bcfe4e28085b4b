"""The ledger's pure rules: which ballot counts, the close statement, the results document,
and the trustees' key shares. No database and no web: the offline verifier and the services
share them."""
