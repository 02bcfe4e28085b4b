"""PC/SC through pyscard: the only package that imports ``smartcard``."""
