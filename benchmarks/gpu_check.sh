#!/usr/bin/env bash
# `make gpu-check`: the prepared GPU measurement (benchmarks/gpu_check.py).
# On the lent GPU machine (no network) the packages it lacks come as wheels in
# .whl/ and ESC-50 as a bundle in .gpu/, both written by gpu_check_prepare.sh.
# Writes gpu_check.json and gpu_check.md into $OUT (default results/gpu_check).
# Extra arguments go to gpu_check.py (e.g. --budget-s 300).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ -x .venv/bin/python ]; then PY=.venv/bin/python; fi
SITE=""
if compgen -G ".whl/*.whl" > /dev/null; then
  SITE=$(mktemp -d)
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir \
    --upgrade --target "$SITE" .whl/*.whl
fi
export PYTHONPATH="${SITE:+$SITE:}$PWD${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONUNBUFFERED=1
DATA=${GPU_CHECK_DATA:-.gpu/esc50_vorbis.tar}
exec "$PY" benchmarks/gpu_check.py --data "$DATA" --out "${OUT:-results/gpu_check}" "$@"
