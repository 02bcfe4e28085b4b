"""The demo: `python -m testkit.demo` (what `./hanpyo demo` runs)."""
