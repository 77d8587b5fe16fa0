#!/usr/bin/env bash
# Build (or reuse) the virtual environments the demo and the tests need.
#   scripts/envs.sh main tf ...      -> .venvs/<name>, reused while its inputs are unchanged
# Each stack lives in its own venv: TensorFlow needs transformers<5, and
# onnxruntime-training must never share a venv with regular onnxruntime.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENVS="${XPORTER_VENVS:-$ROOT/.venvs}"
PYTHON="${PYTHON:-python3}"
CONSTRAINTS="$ROOT/requirements/constraints.txt"

# name -> requirements file and local distributions (installed editable, in this order)
declare -A REQS=( [main]=main.txt [tx457]=tx457.txt [tf]=tf.txt [ort]=ort.txt [litert]=litert.txt )
declare -A LOCAL=(
  [main]="core plugins/onnx tests/test_plugins"
  [tx457]="core plugins/onnx tests/test_plugins"
  [tf]="core plugins/onnx plugins/tflite tests/test_plugins"
  [ort]="core plugins/ort_training"
  [litert]="core plugins/tflite"  # PyTorch -> TFLite without TensorFlow (xporter-tflite's base deps)
)
# distributions installed without their dependencies (their deps would drag regular onnxruntime in)
declare -A NODEPS=( [ort]="plugins/ort_training" )

stamp_of() {
  local name=$1
  { cat "$ROOT/requirements/${REQS[$name]}" "$CONSTRAINTS"
    for dist in ${LOCAL[$name]}; do cat "$ROOT/$dist/pyproject.toml"; done
    if [[ $name == ort ]]; then cat "$ROOT/plugins/ort_training/scripts/setup_env.sh" 2>/dev/null || true; fi
  } | sha256sum | cut -d' ' -f1
}

build_env() {
  local name=$1 env="$VENVS/$1"
  local stamp; stamp=$(stamp_of "$name")
  if [[ -f "$env/.xporter-stamp" && "$(cat "$env/.xporter-stamp")" == "$stamp" ]]; then
    echo "[envs] $name: up to date ($env)"; return 0
  fi
  echo "[envs] $name: building $env"
  rm -rf "$env"
  "$PYTHON" -m venv "$env"
  local pip=("$env/bin/python" -m pip install --quiet --disable-pip-version-check -c "$CONSTRAINTS")
  "${pip[@]}" -r "$ROOT/requirements/${REQS[$name]}"
  local editable=() nodeps=()
  for dist in ${LOCAL[$name]}; do
    if [[ " ${NODEPS[$name]:-} " == *" $dist "* ]]; then nodeps+=(-e "$ROOT/$dist"); else editable+=(-e "$ROOT/$dist"); fi
  done
  "${pip[@]}" "${editable[@]}"
  if (( ${#nodeps[@]} )); then "${pip[@]}" --no-deps "${nodeps[@]}"; fi
  if [[ -x "$ROOT/plugins/ort_training/scripts/setup_env.sh" && $name == ort ]]; then
    "$ROOT/plugins/ort_training/scripts/setup_env.sh" "$env/bin/python"
  fi
  echo "$stamp" > "$env/.xporter-stamp"
}

for name in "$@"; do
  [[ -n "${REQS[$name]:-}" ]] || { echo "unknown env '$name' (known: ${!REQS[*]})" >&2; exit 2; }
  build_env "$name"
done
