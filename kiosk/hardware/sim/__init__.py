"""The card simulator: a virtual OpenPGP card, the vpcd bridge and a private pcscd."""
