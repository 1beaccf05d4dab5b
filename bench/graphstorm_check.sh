#!/usr/bin/env bash
# Optional: check `ikg export-graphstorm` output with GraphStorm's own construction tool and trainer.
#
# GraphStorm cannot go into the project's venv (graphstorm 0.4.2.post1 and 0.5.1 both pin
# transformers==4.48.0 and torchdata==0.9.0; we pin transformers 4.57.6 and torchdata 0.7.1), so
# this builds a throwaway venv (default /tmp/gsvenv) that reuses the project's torch 2.2.1 and
# dgl 2.1.0 through a .pth file and installs GraphStorm with --no-deps plus the few modules it
# imports that we lack. 0.4.2.post1, not 0.5.1: 0.5.1's gconstruct imports autogluon, which it
# does not declare. Then runs bench/graphstorm_check.py (results: bench/results/graphstorm.md).
#
#   bench/graphstorm_check.sh [--quick] [--no-train] [--snapshot DIR ...]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
GS_VENV="${GS_VENV:-/tmp/gsvenv}"
SITE="lib/python3.11/site-packages"

if [ ! -x "$GS_VENV/bin/python" ] || ! "$GS_VENV/bin/python" -c "import graphstorm" 2>/dev/null; then
    python3.11 -m venv "$GS_VENV"
    echo "$ROOT/.venv/$SITE" > "$GS_VENV/$SITE/ikg_main_venv.pth"
    "$GS_VENV/bin/pip" install -q --no-deps graphstorm==0.4.2.post1 h5py==3.16.0 psutil==7.2.2 \
        ogb==1.3.6 outdated==0.2.2 littleutils==0.2.4 six==1.17.0
fi
cd "$ROOT"
exec .venv/bin/python bench/graphstorm_check.py --gs-python "$GS_VENV/bin/python" "$@"
