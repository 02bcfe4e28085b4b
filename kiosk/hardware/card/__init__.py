"""The OpenPGP smart-card protocol over a CardConnection: APDUs, TLV, authentication, enrolment."""
