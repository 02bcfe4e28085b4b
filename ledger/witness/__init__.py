"""A witness for transparency logs (C2SP tlog-witness, tlog-cosignature/v1): the service any
observer runs on their own machine to cosign the ledger's checkpoints, and the ledger's
client that submits every new checkpoint to the witnesses it is given."""
