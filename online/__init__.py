"""Hanpyo's online platform: the other half of a hybrid vote (issue 19).

Online members vote from a phone or a PC. The page encrypts, proves and signs each ballot in
the browser with the voter's credential, so the platform never sees a choice; the platform
checks every ballot, keeps it in its own signed hash chain (the kiosk's store) and syncs that
chain to the ledger with the kiosk's sync code, enrolled there as a source of channel
``online``. The design: ../shared/design/online-channel.md; the protocol: docs/spec/online.md.
"""
