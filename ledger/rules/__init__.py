"""The ledger's pure rules: which ballot counts, the close statement, the results document.
No database, no web, no files of the ledger: the offline verifier and the services share them."""
