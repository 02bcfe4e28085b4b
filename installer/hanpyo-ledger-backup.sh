#!/bin/sh
# Backs up the ledger's database and keeps the newest $HANPYO_KEEP copies; run daily by
# hanpyo-ledger-backup.timer. SQLite goes through SQLite's online backup API (what the
# sqlite3 shell's .backup uses), PostgreSQL through pg_dump.
set -eu
: "${HANPYO_DATA:?}" "${HANPYO_BACKUPS:?}" "${HANPYO_PYTHON:=python3}"
keep=${HANPYO_KEEP:-14}
stamp=$(date -u +%Y%m%dT%H%M%S%NZ)
mkdir -p "$HANPYO_BACKUPS"
case "${HANPYO_DB:-}" in
  "" | sqlite*)
    db="$HANPYO_DATA/ledger.db"
    [ -z "${HANPYO_DB:-}" ] || db=${HANPYO_DB#*:///}
    [ -f "$db" ] || { echo "hanpyo-ledger-backup: no database at $db" >&2; exit 2; }
    out="$HANPYO_BACKUPS/ledger-$stamp.db"
    "$HANPYO_PYTHON" - "$db" "$out.partial" <<'PY'
import sqlite3, sys
source = sqlite3.connect(sys.argv[1])
with sqlite3.connect(sys.argv[2]) as copy:
    source.backup(copy)
PY
    ;;
  postgresql*)
    # SQLAlchemy names the driver (postgresql+psycopg://); libpq does not
    url=$(printf '%s' "$HANPYO_DB" | sed 's|^postgresql+[a-z0-9]*://|postgresql://|')
    out="$HANPYO_BACKUPS/ledger-$stamp.pgdump"
    pg_dump --format=custom --file="$out.partial" "$url"
    ;;
  *)
    echo "hanpyo-ledger-backup: unsupported database URL" >&2
    exit 2
    ;;
esac
mv "$out.partial" "$out"
# the time stamps sort by name; drop all but the newest $keep
find "$HANPYO_BACKUPS" -maxdepth 1 -name 'ledger-*' ! -name '*.partial' | sort -r |
  tail -n +"$((keep + 1))" | while IFS= read -r old; do rm -f -- "$old"; done
echo "backed up the ledger to $out"
