#!/usr/bin/env bash
# Finish an ORT training venv (called by scripts/envs.sh with the venv's python):
#  1. refuse an environment where regular onnxruntime shares the `onnxruntime` folder;
#  2. build ORTModule's aten_op_executor C++ extension once (needs g++, ~3 min on 2 cores).
set -euo pipefail
PY=${1:-python}
"$PY" - <<'PYCODE'
from xporter_ort_training.runtime import check_environment
check_environment()
print("[ort_training] environment ok: onnxruntime-training-cpu without regular onnxruntime")
PYCODE
"$PY" -m xporter_ort_training.extensions
