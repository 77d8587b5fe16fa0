#!/usr/bin/env bash
# Set up every environment the tests need, then run each suite in its own venv.
#   scripts/test.sh                  all suites (what CI runs)
#   scripts/test.sh core onnx        only these suites
# Suites: core, core-tf, onnx, onnx-tx457, tflite, tflite-torch, ort
# Exits non-zero when any suite fails or collects no test; ends with one total line.
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENVS="${XPORTER_VENVS:-$ROOT/.venvs}"
REPORTS="$ROOT/.test-reports"
cd "$ROOT"

declare -A ENV_OF=( [core]=main [core-tf]=tf [onnx]=main [onnx-tx457]=tx457 [tflite]=tf [tflite-torch]=litert [ort]=ort [js]=main )
declare -A ARGS_OF=(
  [core]="core/tests"
  [core-tf]="core/tests"
  [onnx]="plugins/onnx/tests -n 2 --ignore=plugins/onnx/tests/test_transformers_js.py"
  [onnx-tx457]="plugins/onnx/tests -n 2 --ignore=plugins/onnx/tests/test_transformers_js.py"
  [tflite]="plugins/tflite/tests -n 2"
  [tflite-torch]="plugins/tflite/tests/test_torch_path.py -n 2"  # PyTorch -> TFLite (litert-torch, no TensorFlow)
  [ort]="plugins/ort_training/tests"
  [js]="plugins/onnx/tests/test_transformers_js.py"  # real transformers.js in Node (tests/js, npm ci below)
)
ORDER=(core core-tf onnx onnx-tx457 tflite tflite-torch ort js)
SUITES=("$@"); (( ${#SUITES[@]} )) || SUITES=("${ORDER[@]}")

needed=()
for suite in "${SUITES[@]}"; do
  [[ -n "${ENV_OF[$suite]:-}" ]] || { echo "unknown suite '$suite' (known: ${ORDER[*]})" >&2; exit 2; }
  [[ " ${needed[*]:-} " == *" ${ENV_OF[$suite]} "* ]] || needed+=("${ENV_OF[$suite]}")
done
"$ROOT/scripts/envs.sh" "${needed[@]}" || { echo "environment setup failed" >&2; exit 1; }

if [[ " ${SUITES[*]} " == *" js "* ]]; then  # transformers.js + its CPU onnxruntime-node binary, from the lock file
  (cd "$ROOT/tests/js" && ONNXRUNTIME_NODE_INSTALL=skip ONNXRUNTIME_NODE_INSTALL_CUDA=skip npm ci --no-audit --no-fund) \
    || { echo "npm ci in tests/js failed" >&2; exit 1; }
fi
rm -rf "$REPORTS"; mkdir -p "$REPORTS"
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false TF_CPP_MIN_LOG_LEVEL=2 PYTHONDONTWRITEBYTECODE=1
failed=()
for suite in "${SUITES[@]}"; do
  py="$VENVS/${ENV_OF[$suite]}/bin/python"
  echo "=== suite $suite (${ENV_OF[$suite]} env) ==="
  start=$SECONDS
  # shellcheck disable=SC2086
  "$py" -m pytest ${ARGS_OF[$suite]} -m "not slow" -q -p no:cacheprovider --junitxml="$REPORTS/$suite.xml"
  rc=$?
  echo "=== suite $suite: exit $rc in $((SECONDS - start)) s ==="
  (( rc == 0 )) || failed+=("$suite")
done

python3 "$ROOT/scripts/summarize_junit.py" "$REPORTS"/*.xml
if (( ${#failed[@]} )); then
  echo "failed suites: ${failed[*]}" >&2
  exit 1
fi
