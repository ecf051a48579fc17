#!/usr/bin/env bash
# plenum 1.12.1 beside 1.13.1: its sdist's packages, copied apart and patched, run by .venv-plenum's
# Python with 1.13.1's dependencies (docs/plenum.md, "1.12.1"). `make plenum-1.12.1` runs it:
#
#   drivers/plenum/build-1.12.1.sh [VENV=.venv-plenum] [OUT=.build/plenum-1.12.1]
#
# Its setup.py cannot install it there (it runs `pip install pyzmq==18.1.0 --install-option=...`,
# an option pip has removed, and pins dependencies 1.13.1 moved on from), so nothing of it is run:
# the sdist is downloaded, its eight top-level packages copied into OUT, and the one line Python
# 3.7 made a syntax error patched (patches-1.12.1/). The driver then runs it with
# MESHCHECK_PLENUM_PATH=OUT. One line and exit 0 when it cannot be built, as build.sh.
set -u -o pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
VENV=${1:-.venv-plenum}
OUT=${2:-.build/plenum-1.12.1}
WORK=$OUT.work
give_up() { echo "make plenum-1.12.1: $1; the 1.12.1 runs are skipped"; rm -rf "$WORK"; exit 0; }
test -e "$VENV/.installed" || give_up "no $VENV (make plenum builds it first)"
rm -rf "$OUT" "$WORK" && mkdir -p "$WORK" || give_up "cannot write $WORK"
"$VENV/bin/pip" download --quiet --no-deps --no-binary :all: indy-plenum==1.12.1 -d "$WORK" >"$WORK/log" 2>&1 \
  || give_up "pip download indy-plenum==1.12.1 failed (log: $WORK/log)"
tar xzf "$WORK/indy-plenum-1.12.1.tar.gz" -C "$WORK" || give_up "cannot unpack the sdist"
mkdir -p "$WORK/out"
for package in common crypto ledger plenum state storage stp_core stp_zmq; do
  cp -r "$WORK/indy-plenum-1.12.1/$package" "$WORK/out/" || give_up "the sdist has no $package"
done
for p in "$HERE"/patches-1.12.1/*.patch; do
  patch -s -d "$WORK/out" -p1 <"$p" || give_up "$(basename "$p") does not apply"
done
PYTHONPATH="$WORK/out:$HERE" "$VENV/bin/python" -c 'import old_releases, sys; old_releases.install(); import plenum; sys.exit(plenum.__version__ != "1.12.1")' \
  || give_up "what was built does not import as plenum 1.12.1"
mv "$WORK/out" "$OUT" && rm -rf "$WORK" && touch "$OUT/.installed"
