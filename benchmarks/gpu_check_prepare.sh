#!/usr/bin/env bash
# Prepare `make gpu-check` for a lent GPU machine, on a CPU machine with network.
# That machine (Python 3.12, x86-64, torch/torchaudio/timm/transformers
# installed) has no network and receives only the repository and carried
# ignored folders, 64 MiB in all. This writes:
#   .whl/  wheels of what it lacks: speechbrain, hyperpyyaml, ruamel.yaml
#          (+ clib), soundfile, cffi, pycparser
#   .gpu/  ESC-50 as one Ogg Vorbis bundle (benchmarks/gpu_data.py), ~36 MB
# and checks the size. Usage:
#   bash benchmarks/gpu_check_prepare.sh PATH/TO/ESC-50-master [PYTHON]
# Then one device call, e.g. run(command="bash benchmarks/gpu_check.sh",
# carry=[".whl", ".gpu"], timeout_s=600); copy $OUT/gpu_check.json back and
# record it: python benchmarks/gpu_check.py --record gpu_check.json
set -euo pipefail
cd "$(dirname "$0")/.."
SRC=${1:?usage: gpu_check_prepare.sh PATH/TO/ESC-50-master [PYTHON]}
PY=${2:-python3}
WHEELS="speechbrain==1.1.2 hyperpyyaml==1.2.3 ruamel.yaml==0.18.17
ruamel.yaml.clib==0.2.15 soundfile==0.14.0 cffi==2.1.1 pycparser==3.12"
rm -rf .whl
mkdir -p .whl .gpu
# shellcheck disable=SC2086
"$PY" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
  --implementation cp --platform manylinux_2_28_x86_64 \
  --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
  --platform manylinux2014_x86_64 --platform manylinux1_x86_64 -d .whl $WHEELS
PYTHONPATH=$PWD "$PY" benchmarks/gpu_data.py pack --src "$SRC" --out .gpu/esc50_vorbis.tar
tree=$(git ls-files -z --cached --others --exclude-standard | xargs -0 du -cb 2>/dev/null | tail -1 | cut -f1)
carried=$(du -cb .whl .gpu | tail -1 | cut -f1)
total=$((tree + carried))
echo "working tree $((tree / 1048576)) MiB + .whl/.gpu $((carried / 1048576)) MiB = $((total / 1048576)) MiB (limit 64)"
if [ "$total" -gt $((64 * 1048576)) ]; then
  echo "too large for one device call: pack with --quality 1.0 or trim the tree" >&2
  exit 1
fi
