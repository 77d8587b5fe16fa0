"""Model types only the PyTorch path exports (data, plus their one-line config classes).

transformers 4.57 has no TensorFlow Llama, Mistral or Qwen2, so the TF table
(:mod:`xporter_tflite.architectures`) cannot list them; litert-torch converts their PyTorch
modules (rotary embeddings, grouped-query attention) without a key/value cache, like GPT-2.
They are registered only where litert-torch is installed, so ``xporter tasks --backend
tflite`` in a TensorFlow venv does not offer exports it cannot do.
"""

from __future__ import annotations

from .architectures import Architecture
from .config_base import TextDecoderTFLiteConfig

DECODER_TASKS = ("text-generation", "feature-extraction")

TORCH_ONLY_ARCHITECTURES = (
    Architecture("llama", "LlamaTFLiteConfig", DECODER_TASKS),
    Architecture("mistral", "MistralTFLiteConfig", DECODER_TASKS),
    Architecture("qwen2", "Qwen2TFLiteConfig", DECODER_TASKS),
)


# TF-table types litert-torch cannot convert, and why (measured with litert-torch 0.10.0):
# their forward runs ``assert lengths.max().item() <= slen``, a data-dependent value the
# JAX-based lowering rejects ("Abstract tracer value encountered where concrete value is expected").
TORCH_UNSUPPORTED = {
    "flaubert": "its forward reads a tensor value (lengths.max().item()) that litert-torch cannot lower",
    "xlm": "its forward reads a tensor value (lengths.max().item()) that litert-torch cannot lower",
}


class LlamaTFLiteConfig(TextDecoderTFLiteConfig):
    pass


class MistralTFLiteConfig(TextDecoderTFLiteConfig):
    pass


class Qwen2TFLiteConfig(TextDecoderTFLiteConfig):
    pass
