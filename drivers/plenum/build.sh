#!/usr/bin/env bash
# Builds .venv-plenum: Hyperledger Indy Plenum (PyPI indy-plenum, 1.13.1) and its dependencies on
# this Python, from PyPI and Debian alone, in a venv of its own so that the main .venv is untouched.
# What is patched and why: docs/plenum.md. Called by `make plenum`; safe to run again (each step is
# skipped when its result is there). When the environment cannot be built it prints one line that
# says why and exits 0 without the stamp, so the tests that need it are skipped.
#
# usage: drivers/plenum/build.sh PYTHON VENV BUILD_DIR
set -u -o pipefail

PYTHON=${1:-python3}
VENV=${2:-.venv-plenum}
WORK=${3:-.build/plenum}
HERE=$(cd "$(dirname "$0")" && pwd)
PLENUM_VERSION=1.13.1
STAMP=$VENV/.installed
LOG=$WORK/build.log

give_up() {
  echo "make plenum: $1 (log: $LOG); the tests that drive plenum are skipped"
  exit 0
}

mkdir -p "$WORK"
: >"$LOG"

# timed STEP COMMAND...: runs COMMAND with its output in the log, then logs how long it took, so
# that the log says where a build's time went (docs/plenum.md, "What it costs").
timed() {
  local step=$1 start=$SECONDS status
  shift
  "$@" >>"$LOG" 2>&1
  status=$?
  echo "build.sh step $step: $((SECONDS - start)) s (exit $status)" >>"$LOG"
  return $status
}
# The stamp says the venv is complete: gone until this run shows it is again.
rm -f "$STAMP"

# Debian: a C and C++ compiler and Python's headers (msgpack-python, orderedset, ujson build from source),
# patch, libsodium, which libnacl loads at run time, and venv's ensurepip (python3-venv).
DEBS="gcc g++ patch libsodium23 python3-dev python3-venv"
has_python_parts() { # headers and ensurepip of $PYTHON
  "$PYTHON" -c 'import ensurepip, os, sysconfig; assert os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h"))'
}
if ! { command -v gcc && command -v g++ && command -v patch && ldconfig -p | grep libsodium.so.23 && has_python_parts; } >/dev/null 2>&1; then
  { apt-get -o DPkg::Lock::Timeout=120 install -y --no-install-recommends $DEBS \
    || { apt-get update && apt-get -o DPkg::Lock::Timeout=120 install -y --no-install-recommends $DEBS; }; } >>"$LOG" 2>&1 \
    || give_up "could not install Debian's $DEBS (apt-get install -y $DEBS, as root)"
fi

version=$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>>"$LOG") \
  || give_up "$PYTHON does not run"
[ "$version" = 3.11 ] || give_up "$PYTHON is Python $version; the pins in drivers/plenum/requirements.txt are measured on 3.11"

test -x "$VENV/bin/python" || timed venv "$PYTHON" -m venv "$VENV" || give_up "$PYTHON -m venv $VENV failed"
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check)

# The build tools first, then the pins without build isolation: pip would otherwise make a fresh
# environment for each of the five sdists among them and download setuptools into each (seconds
# apiece with pip's cache empty); these are the same releases the sdists then build with.
timed build-tools "${PIP[@]}" install $(grep -E '^(setuptools|wheel|Cython)==' "$HERE/requirements.txt") \
  || give_up "pip install of setuptools, wheel and Cython (drivers/plenum/requirements.txt) failed"
timed requirements "${PIP[@]}" install --no-build-isolation -r "$HERE/requirements.txt" \
  || give_up "pip install -r drivers/plenum/requirements.txt failed"

# An sdist from PyPI, unpacked afresh into $WORK/NAME-VERSION.
unpack() {
  local name=$1 version=$2
  timed "download-$name" "${PIP[@]}" download --no-deps --no-binary :all: --no-build-isolation "$name==$version" -d "$WORK/dist" \
    || give_up "pip download $name==$version failed"
  rm -rf "${WORK:?}/$name-$version"
  local archive
  archive=$(ls "$WORK/dist/$name-$version".* | head -n 1)
  case $archive in
    *.zip) "$VENV/bin/python" -m zipfile -e "$archive" "$WORK" ;;
    *) tar -xzf "$archive" -C "$WORK" ;;
  esac
}

installed() { # NAME VERSION: whether the venv has that release
  [ "$("$VENV/bin/python" -c "import importlib.metadata as m; print(m.version('$1'))" 2>/dev/null)" = "$2" ]
}

# ujson 1.33 (plenum's pin: a newer ujson serialises plenum's nested messages differently, silently)
# calls PyUnicode_EncodeUTF8, removed from Python's C API in 3.11 by PEP 624 (patches/ujson-1.33-objToJSON.patch).
if ! installed ujson 1.33; then
  unpack ujson 1.33
  patch -d "$WORK/ujson-1.33" -p1 --forward <"$HERE/patches/ujson-1.33-objToJSON.patch" >>"$LOG" 2>&1 \
    || give_up "patches/ujson-1.33-objToJSON.patch does not apply"
  timed ujson "${PIP[@]}" install --no-deps --no-build-isolation "$WORK/ujson-1.33" || give_up "ujson 1.33 does not build"
fi

# orderedset 2.0.3's sdist ships a C file Cython 0.2x generated for Python 3.6's C API; without it
# setup.py runs Cython (installed by requirements.txt, < 3 as the .pyx needs) over the .pyx again.
if ! installed orderedset 2.0.3; then
  unpack orderedset 2.0.3
  rm -f "$WORK/orderedset-2.0.3/lib/orderedset/_orderedset.c"
  timed orderedset "${PIP[@]}" install --no-deps --no-build-isolation "$WORK/orderedset-2.0.3" || give_up "orderedset 2.0.3 does not build"
fi

# plenum itself without its declared dependencies: python-rocksdb and sha3 do not build here, and
# requirements.txt holds what stands for them.
installed indy-plenum "$PLENUM_VERSION" \
  || timed indy-plenum "${PIP[@]}" install --no-deps "indy-plenum==$PLENUM_VERSION" \
  || give_up "pip install --no-deps indy-plenum==$PLENUM_VERSION failed"

# The names Python 3.10 and 3.11 removed that plenum and its pins import, aliased at start-up
# (py311_compat.py, imported by a .pth line in the venv's site-packages).
site=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
cp "$HERE/py311_compat.py" "$site/_meshcheck_plenum_compat.py"
echo "import _meshcheck_plenum_compat" >"$site/meshcheck-plenum-compat.pth"

# The environment is there when plenum's consensus services and simulation import.
timed import "$VENV/bin/python" -c "import plenum.server.consensus.replica_service, plenum.test.consensus.helper" \
  || give_up "plenum $PLENUM_VERSION does not import in $VENV"
touch "$STAMP"
echo "make plenum: indy-plenum $PLENUM_VERSION in $VENV ($SECONDS s)"
