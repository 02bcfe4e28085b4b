"""What every `kiosk` subcommand shares: the default key folder and the handler type."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

DEFAULT_KEY_DIR = Path("/var/lib/hanpyo/keys")
Handler = Callable[[argparse.Namespace], int]
Subparsers = Any  # argparse's _SubParsersAction, which typeshed keeps private
