"""`python -m testkit.demo` (what `./hanpyo demo` runs): the whole system on one machine in
protocol v2, from the trustees' key ceremony to the verified count and the check pages, with the
kiosk's screens and the online voting page; or with --terminal the same protocol step by step
with no screen (and no online platform)."""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    """Parse the demo's options and run it; return the process exit code."""
    parser = argparse.ArgumentParser(
        prog="./hanpyo demo",
        description="run the whole system in protocol v2: the trustees' key ceremony, the "
        "ledger, simulated cards and the kiosk screen (a window with a display; a scripted visit "
        "with screenshots without one), the online platform and its voting page (open it in a "
        "browser with a letter's code; without a display, members vote in headless Chromium), "
        "then the close, the trustees' count of both channels, verify-bundle and the check pages",
    )
    parser.add_argument("--out", type=Path, default=Path("demo-output"))
    parser.add_argument(
        "--terminal",
        action="store_true",
        help="the terminal demo instead: the same protocol step by step, with no screen",
    )
    parser.add_argument(
        "--offscreen", action="store_true", help="the scripted visit even with a display"
    )
    parser.add_argument(
        "--voters",
        type=int,
        default=12,
        help="voters in the terminal demo (at most 14: the first group's residents and experts)",
    )
    args = parser.parse_args(argv)
    if args.voters < 1:
        parser.error("--voters needs at least one voter")
    # stopped (a test's timeout, a service manager): unwind, so that the ledger, the witness,
    # the mirror and the private pcscd the demo started are stopped with it
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    if args.terminal:
        from testkit.demo.terminal import run_demo

        return run_demo(args.out, voters=args.voters)
    from testkit.demo.ui import run_ui_demo

    return run_ui_demo(args.out, window=False if args.offscreen else None)


if __name__ == "__main__":
    sys.exit(main())
