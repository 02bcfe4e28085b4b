"""Hanpyo (한표) voting kiosk: protocol core, encrypted store, card hardware, sync and UI."""

__version__ = "0.1.0"
