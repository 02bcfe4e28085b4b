"""`python -m online`: the platform's command line (online/cli.py)."""

from online.cli import main

raise SystemExit(main())
