"""PyTorch module -> fixed-shape TFLite flatbuffer with litert-torch.

litert-torch runs ``torch.export`` on a module called with keyword tensors and names the
TFLite signature's inputs after the keywords and its outputs after the keys of the dict
the module returns. :class:`ComponentCall` is that module: one keyword per input of the
TFLite config's component (int32 ids and masks, as in the TF path, cast to int64 inside
because PyTorch embeddings want it), the component's outputs by name. The same call is
the reference the LiteRT outputs are compared with, so both sides run identical code.
"""

from __future__ import annotations

import logging
import os
import warnings
from typing import Any, Dict

import numpy as np
from xporter.errors import ExportError

from .config_base import Component, Seq2SeqTFLiteConfig, TextDecoderTFLiteConfig, TFLiteConfig
from .tfenv import quiet_environment


# loggers that print import-time chatter (torchao's optional CUDA kernels, pytree deprecations)
NOISY_LOGGERS = ("torchao", "torch.utils._pytree", "torch._export", "torch.export")


def _torch():
    import torch

    return torch


def quiet_litert_imports() -> None:
    """Silence litert-torch's, torchao's and the converter's logs; xporter's step display covers them."""
    quiet_environment()
    os.environ.setdefault("LITERT_TORCH_SHOW_PROGRESS", "n")
    for name in NOISY_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)


def component_call(model: Any, config: TFLiteConfig, component: Component):
    """A ``torch.nn.Module`` calling ``model`` the way ``config`` describes ``component``."""
    torch = _torch()

    class ComponentCall(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, **inputs):
            tensors = {name: value if value.is_floating_point() else value.long() for name, value in inputs.items()}
            return _call(self.model, config, component, tensors)

    return ComponentCall().eval()


def _call(model: Any, config: TFLiteConfig, component: Component, inputs: Dict[str, Any]) -> Dict[str, Any]:
    if isinstance(config, Seq2SeqTFLiteConfig):
        if component.mode == "encoder":
            encoded = model.get_encoder()(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"])
            return {"last_hidden_state": encoded.last_hidden_state}
        outputs = model(attention_mask=inputs["encoder_attention_mask"], decoder_input_ids=inputs["decoder_input_ids"],
                        encoder_outputs=(inputs["encoder_hidden_states"],), use_cache=False)
    elif isinstance(config, TextDecoderTFLiteConfig):
        outputs = model(**inputs, use_cache=False)
    else:
        outputs = model(**inputs)
    return {name: outputs[name] for name in component.outputs}


def sample_inputs(config: TFLiteConfig, component: Component, seed: int = 0) -> Dict[str, Any]:
    """The config's dummy inputs as torch tensors (int32 ids, float32 pixels)."""
    torch = _torch()
    return {name: torch.from_numpy(value) for name, value in config.generate_dummy_inputs(component, seed).items()}


def convert_torch(model: Any, config: TFLiteConfig, component: Component) -> bytes:
    """Convert one component with ``litert_torch.convert``; its errors become one ExportError."""
    quiet_litert_imports()
    import litert_torch

    torch = _torch()
    module = component_call(model, config, component)
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch.export deprecation chatter, not the user's concern
            edge_model = litert_torch.convert(module, sample_kwargs=sample_inputs(config, component))
    except Exception as exc:
        raise ExportError(f"litert-torch could not convert {type(model).__name__} ({component.name}): "
                          f"{_first_line(exc)}",
                          "check --task and the static shapes; rerun with --debug for the traceback") from exc
    return bytes(edge_model.model_content())


def call_reference_torch(model: Any, config: TFLiteConfig, component: Component,
                         inputs: Dict[str, np.ndarray]) -> Dict[str, np.ndarray]:
    """Run the PyTorch model through the same call on numpy inputs; numpy float32 outputs."""
    torch = _torch()
    module = component_call(model, config, component)
    with torch.no_grad():
        outputs = module(**{name: torch.from_numpy(np.ascontiguousarray(value)) for name, value in inputs.items()})
    return {name: value.detach().float().numpy() for name, value in outputs.items()}


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    return (lines[0] if lines else type(exc).__name__)[:400]
