#!/usr/bin/env bash
# Create the virtual environment and install the project with its test tools.
# CPU-only machines: constraints.txt pins the torch stack to the local CPU build
# and speechbrain_ast_fix_wheels.py makes the CUDA-built torchaudio/torchvision wheels
# importable. Machines with a CUDA torch: the fix is a no-op.
# Usage: scripts/setup_env.sh [VENV]
set -euo pipefail
VENV=${1:-.venv}
cd "$(dirname "$0")/.."
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/pip" install -q --disable-pip-version-check -c constraints.txt -e ".[test,shards,onnx]" 2>&1 \
  | grep -v "is neither a file nor a directory" || true
"$VENV/bin/python" -m speechbrain_ast_fix_wheels
"$VENV/bin/python" -c "import torch, torchaudio, speechbrain, timm, speechbrain_ast; print('env ok: torch', torch.__version__, 'torchaudio', torchaudio.__version__, 'speechbrain', speechbrain.__version__, 'timm', timm.__version__)"
