#!/bin/sh
# Installs (or with --uninstall removes) a Hanpyo ledger host; options: --help.
set -eu
here=$(dirname "$(readlink -f "$0")")
exec python3 "$here/hanpyo_install.py" ledger "$@"
