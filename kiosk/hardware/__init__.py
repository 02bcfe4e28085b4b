"""Card readers, the OpenPGP card protocol, the card simulator and the receipt printer."""
