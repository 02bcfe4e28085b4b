#!/bin/sh
# Builds what an event's technician copies to every machine:
#   dist/hanpyo-VERSION-py3-none-any.whl   the program, built by `python -m build`
#   dist/hanpyo-VERSION.tar.gz             the installers, that wheel, the guides
# With --with-dependencies the tarball also carries every dependency's wheel (dist/wheels),
# so the installers work on machines without internet. Build that on Debian 12 (amd64,
# Python 3.11) to match the machines: compiled dependencies are built for this machine.
#
# Usage: installer/make-release.sh [--with-dependencies] [--out DIR]
# PYTHON picks the interpreter (default python3); it needs `build`, or one is fetched
# into a temporary environment.
set -eu

here=$(dirname "$(readlink -f "$0")")
top=$(dirname "$here")
out="$top/dist"
dependencies=no
while [ $# -gt 0 ]; do
    case "$1" in
        --with-dependencies) dependencies=yes ;;
        --out) out=$(readlink -f "$2"); shift ;;
        -h|--help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "make-release: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done

python=${PYTHON:-python3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT INT TERM
if ! "$python" -c 'import build' 2>/dev/null; then
    echo "fetching the build tool into a temporary environment"
    "$python" -m venv "$work/build-env"
    "$work/build-env/bin/python" -m pip install -q --disable-pip-version-check build
    python="$work/build-env/bin/python"
fi

version=$("$python" -c 'import sys, tomllib; print(tomllib.load(open(sys.argv[1], "rb"))["project"]["version"])' "$top/pyproject.toml")
# The same sources give the same wheel: file times come from the last commit.
SOURCE_DATE_EPOCH=$(git -C "$top" log -1 --format=%ct 2>/dev/null || date +%s)
export SOURCE_DATE_EPOCH

mkdir -p "$out"
wheel="hanpyo-$version-py3-none-any.whl"
rm -f "$out/$wheel"
# the build copies the sources first, so the checkout keeps no build/ or egg-info litter
mkdir "$work/src"
# (online/web is the voting page's npm project, not Python: the wheel carries only what it
# builds, below)
tar -C "$top" --exclude=__pycache__ --exclude=online/web -cf - pyproject.toml README.md kiosk \
    ledger online assets |
    tar -C "$work/src" -xf -
# The voting page, built from its locked dependencies (npm ci, package-lock.json): the wheel
# carries online/web/index.html and dist/app.js and app.css, so `hanpyo-online serve` serves it
# on a machine with no npm. esbuild's output depends only on the sources and the lockfile, so
# observers can rebuild it and compare its SHA-256 with what the platform serves.
mkdir "$work/page"
tar -C "$top/online/web" --exclude=node_modules --exclude=dist -cf - . | tar -C "$work/page" -xf -
if ! (cd "$work/page" && npm ci --prefer-offline --no-audit --no-fund --loglevel=error &&
      npm run -s build) >"$work/page.log" 2>&1; then
    cat "$work/page.log" >&2
    echo "make-release: the voting page did not build (npm; log above)" >&2
    exit 1
fi
mkdir -p "$work/src/online/web/dist"
cp "$work/page/index.html" "$work/src/online/web/"
cp "$work/page/dist/app.js" "$work/page/dist/app.css" "$work/src/online/web/dist/"
(cd "$work/src/online/web" && sha256sum index.html dist/app.js dist/app.css) |
    sed 's/^/voting page: /'
"$python" -m build --wheel --outdir "$out" "$work/src" >"$work/build.log" 2>&1 || {
    cat "$work/build.log" >&2
    echo "make-release: the wheel did not build (log above)" >&2
    exit 1
}
echo "built $out/$wheel"

name="hanpyo-$version"
stage="$work/stage/$name"
mkdir -p "$stage/dist" "$stage/docs"
cp "$out/$wheel" "$stage/dist/"
cp "$top/README.md" "$stage/"
cp -r "$top/installer" "$stage/"
find "$stage/installer" -name __pycache__ -prune -exec rm -rf {} +
cp "$top"/docs/installer.md "$top"/docs/guide-*.md "$stage/docs/"
cp -r "$top/docs/images" "$stage/docs/"
if [ "$dependencies" = yes ]; then
    echo "building every dependency's wheel (this takes a few minutes)"
    "$python" -m pip wheel -q --disable-pip-version-check --wheel-dir "$stage/dist/wheels" \
        "${stage}/dist/${wheel}[kiosk,ledger]"
    rm -f "$stage/dist/wheels/$wheel"  # the program itself is dist/$wheel
fi
tar -C "$work/stage" --sort=name --mtime="@$SOURCE_DATE_EPOCH" --owner=0 --group=0 \
    --numeric-owner -cf - "$name" | gzip -n >"$out/$name.tar.gz"
echo "built $out/$name.tar.gz: unpack it on each machine and run $name/installer/install-kiosk.sh or install-ledger.sh"
