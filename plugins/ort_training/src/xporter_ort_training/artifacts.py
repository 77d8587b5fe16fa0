"""Build on-device training artifacts (training/eval/optimizer graphs + checkpoint).

Pipeline: wrap the transformers model in a small module that also returns the loss inputs
(flattened, shifted for causal LM), export it with the TorchScript exporter, repair the graph
for ORT 1.19's gradient builder, add the loss with ``onnxblock`` and call
``onnxruntime.training.artifacts.generate_artifacts``.

Traps handled (measured with torch 2.13 / onnx 1.23 / ORT 1.19.2):

* torch exports ``LayerNormalization`` with one output, ORT's LayerNorm gradient needs the
  mean and inv-std outputs too: we add them (:func:`add_layernorm_stat_outputs`);
* onnx >= 1.18 writes IR versions ORT 1.19 rejects: every written model is capped at IR 10;
* ``generate_artifacts`` does not create its directory (we write through
  ``atomic_output_dir``);
* the exporter would fold weight transposes into new constants with
  ``do_constant_folding=True``, detaching them from the parameters; it is off;
* in eval mode the exporter de-duplicates initializers *by value* (all zero biases, all-one
  LayerNorm weights collapse into one tensor), which would tie parameters in training; we
  export in TRAINING mode and make dropout the identity meanwhile (the exported Dropout lacks
  the mask output ORT's gradient builder needs), so the artifacts train without dropout.
"""

from __future__ import annotations

import contextlib
import json
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional

from .configs import IGNORE_INDEX, OrtTrainingConfig

MAX_IR_VERSION = 10
ARTIFACT_FILES = ("training_model.onnx", "eval_model.onnx", "optimizer_model.onnx", "checkpoint")
LOSS_PREFIX = "xporter_loss_"


def _loss_module(model, config: OrtTrainingConfig):
    """A torch module: model inputs + labels -> (inference outputs..., loss logits/labels pairs...)."""
    import torch

    head = config.head

    class WithLossInputs(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.model = model

        def forward(self, *args):
            inputs = dict(zip(config.inputs, args[: len(config.inputs)]))
            labels = args[len(config.inputs):]
            outputs = self.model(**inputs, return_dict=True, use_cache=False) if head.kind == "causal" else \
                self.model(**inputs, return_dict=True)
            results = [outputs[name] for name in head.logits]
            for logits, label in zip(list(results), labels):
                if head.kind == "causal":
                    logits, label = logits[:, :-1, :], label[:, 1:]
                results += [logits.reshape(-1, logits.shape[-1]) if logits.dim() > 2 else logits, label.reshape(-1)]
            return tuple(results)

    return WithLossInputs()


def dummy_batch(model_config, config: OrtTrainingConfig, batch_size: int = 2, sequence_length: int = 16) -> List[Any]:
    """Inputs then labels, in graph order, for export and smoke tests."""
    import torch

    vocab = getattr(model_config, "vocab_size", 100)
    tensors = {
        "input_ids": torch.randint(0, vocab, (batch_size, sequence_length)),
        "attention_mask": torch.ones(batch_size, sequence_length, dtype=torch.long),
        "token_type_ids": torch.zeros(batch_size, sequence_length, dtype=torch.long),
    }
    num_labels = getattr(model_config, "num_labels", 2)
    labels = {
        "sequence": lambda: torch.randint(0, num_labels, (batch_size,)),
        "token": lambda: torch.randint(0, vocab if config.task == "fill-mask" else num_labels, (batch_size, sequence_length)),
        "causal": lambda: torch.randint(0, vocab, (batch_size, sequence_length)),
        "span": lambda: torch.randint(0, sequence_length, (batch_size,)),
    }[config.head.kind]
    return [tensors[name] for name in config.inputs] + [labels() for _ in config.labels]


def add_layernorm_stat_outputs(model_proto) -> int:
    """Give each single-output LayerNormalization its mean/inv-std outputs (ORT gradient needs them)."""
    count = 0
    for index, node in enumerate(model_proto.graph.node):
        if node.op_type == "LayerNormalization" and len(node.output) == 1:
            base = node.name or f"LayerNormalization_{index}"
            node.output.extend([f"{base}_mean", f"{base}_inv_std_dev"])
            count += 1
    return count


def cap_ir_version(path: Path) -> None:
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    if model.ir_version > MAX_IR_VERSION:
        model.ir_version = MAX_IR_VERSION
        onnx.save(model, str(path))


@contextlib.contextmanager
def _dropout_as_identity():
    import torch

    original = torch.nn.functional.dropout
    torch.nn.functional.dropout = lambda input, *args, **kwargs: input
    try:
        yield
    finally:
        torch.nn.functional.dropout = original


def _ortmodule_symbolic_names() -> set:
    """Symbolic overrides ORTModule registers globally in torch.onnx (ATen fallbacks, contrib ops)."""
    names = set()
    registry = sys.modules.get("onnxruntime.training.ortmodule._custom_op_symbolic_registry")
    if registry is not None:
        names.update(registry.CustomOpSymbolicRegistry._SYMBOLICS)
    contrib = sys.modules.get("onnxruntime.tools.pytorch_export_contrib_ops")
    if contrib is not None:
        names.update(contrib._registered_ops)
    return {f"aten{n}" if n.startswith("::") else n for n in names}


@contextlib.contextmanager
def _without_ortmodule_symbolics():
    """Export with torch's standard symbolics even after ORTModule ran in this process.

    ORTModule maps e.g. ``aten::embedding`` to an ORT ``ATen`` op, which the training API's
    gradient builder cannot type; the artifact graphs must use standard ONNX ops.
    """
    from torch.onnx._internal.torchscript_exporter import registration

    saved = []
    for name in _ortmodule_symbolic_names():
        group = registration.registry.get_function_group(name)
        if group is None:
            continue
        overrides = dict(group._functions._overrides)
        for opset in overrides:
            group._functions.remove_override(opset)
        saved.append((group, overrides))
    try:
        yield
    finally:
        for group, overrides in saved:
            for opset, func in overrides.items():
                group._functions.override(opset, func)


def export_loss_graph(model, config: OrtTrainingConfig, path: Path, batch_size: int = 2, sequence_length: int = 16):
    """Export the model plus loss inputs to ``path``; return (onnx model, parameter names)."""
    import onnx
    import torch

    from .runtime import import_ort_training

    import_ort_training()  # compat layer (TorchScript exporter aliases) before export
    model = model.eval()
    model.config.use_cache = False if hasattr(model.config, "use_cache") else None
    wrapper = _loss_module(model, config)
    args = tuple(dummy_batch(model.config, config, batch_size, sequence_length))
    head = config.head
    loss_names = [f"{LOSS_PREFIX}{kind}_{i}" for i in range(len(head.logits)) for kind in ("logits", "labels")]
    output_names = list(head.logits) + loss_names
    input_names = list(config.inputs) + list(config.labels)
    dynamic = {name: {0: "batch", 1: "sequence"} for name in config.inputs}
    dynamic.update({name: {0: "batch"} if head.kind in ("sequence", "span") else {0: "batch", 1: "sequence"}
                    for name in config.labels})
    dynamic.update({name: {0: "batch", 1: "sequence"} for name in head.logits if head.kind != "sequence"})
    dynamic.update({name: {0: "rows"} for name in loss_names})
    with torch.no_grad(), _dropout_as_identity(), _without_ortmodule_symbolics():
        torch.onnx.export(wrapper, args, str(path), input_names=input_names, output_names=output_names,
                          dynamic_axes=dynamic, opset_version=config.opset, do_constant_folding=False,
                          training=torch.onnx.TrainingMode.TRAINING, dynamo=False)
    model.eval()
    proto = onnx.load(str(path))
    add_layernorm_stat_outputs(proto)
    proto.ir_version = min(proto.ir_version, MAX_IR_VERSION)
    initializers = {init.name for init in proto.graph.initializer}
    params = [f"model.{name}" for name, p in model.named_parameters() if p.requires_grad]
    trainable = [name for name in params if name in initializers]
    return proto, trainable


def _loss_block(config: OrtTrainingConfig):
    from onnxruntime.training import onnxblock

    n = len(config.head.logits)

    class MeanCrossEntropy(onnxblock.Block):
        """Cross-entropy per (logits, labels) pair, averaged: one pair for most heads, two for spans."""

        def __init__(self):
            super().__init__()
            self.losses = [onnxblock.loss.CrossEntropyLoss(ignore_index=IGNORE_INDEX) for _ in range(n)]
            self.adds = [onnxblock.blocks.Add() for _ in range(n - 1)]
            self.scale = onnxblock.blocks.Mul()
            self.factor = onnxblock.blocks.Constant(1.0 / n)

        def build(self, *output_names):
            terms = [loss(f"{LOSS_PREFIX}logits_{i}", f"{LOSS_PREFIX}labels_{i}") for i, loss in enumerate(self.losses)]
            if n == 1:
                return terms[0]
            total = terms[0]
            for add, term in zip(self.adds, terms[1:]):
                total = add(total, term)
            return self.scale(total, self.factor())

    return MeanCrossEntropy()


def generate_training_artifacts(model, config: OrtTrainingConfig, output_dir, batch_size: int = 2,
                                sequence_length: int = 16, optimizer: str = "adamw") -> Dict[str, Any]:
    """Write training/eval/optimizer graphs and a checkpoint for ``model`` into ``output_dir``
    (which must exist); return a small report."""
    import onnx

    from .runtime import import_ort_training

    import_ort_training()
    from onnxruntime.training import artifacts

    output_dir = Path(output_dir)
    base_path = output_dir / "base_model.onnx"
    proto, trainable = export_loss_graph(model, config, base_path, batch_size, sequence_length)
    onnx.save(proto, str(base_path))
    optim = {"adamw": artifacts.OptimType.AdamW, "sgd": artifacts.OptimType.SGD}[optimizer]
    artifacts.generate_artifacts(
        proto, requires_grad=trainable, frozen_params=[], loss=_loss_block(config), optimizer=optim,
        artifact_directory=str(output_dir), additional_output_names=list(config.head.logits),
    )
    for name in ("training_model.onnx", "eval_model.onnx", "optimizer_model.onnx", "base_model.onnx"):
        cap_ir_version(output_dir / name)
    report = {
        "task": config.task,
        "model_type": getattr(model.config, "model_type", None),
        "inputs": list(config.inputs),
        "labels": list(config.labels),
        "outputs": ["loss", *config.head.logits],
        "inference_outputs": list(config.head.logits),
        "trainable_parameters": len(trainable),
        "files": sorted(p.name for p in output_dir.iterdir()),
    }
    (output_dir / "ort_training.json").write_text(json.dumps(report, indent=2))
    return report


def load_manifest(artifact_dir) -> Dict[str, Any]:
    path = Path(artifact_dir) / "ort_training.json"
    if not path.exists():
        from xporter.errors import ModelNotFoundError

        raise ModelNotFoundError(f"{artifact_dir} has no ort_training.json",
                                 "point to a folder written by `xporter export ort_training`")
    return json.loads(path.read_text())


def resolve_config(model, task: str, opset: Optional[int] = None) -> OrtTrainingConfig:
    """The registered ort_training config for ``model`` and ``task`` (via TasksManager)."""
    from xporter import TasksManager

    constructor = TasksManager.get_exporter_config_constructor("ort_training", model=model, task=task,
                                                               library_name="transformers")
    return constructor(model.config, opset=opset)
