"""Train exported artifacts with ``onnxruntime.training.api`` and export an inference model.

A thin wrapper over ``CheckpointState``/``Module``/``Optimizer`` that knows the artifact
manifest (input and label order), so callers pass dicts of numpy arrays. It needs none of
ORTModule's C++ extensions.

Trap handled: ``LinearLRScheduler`` in ORT 1.19.2 swaps its warmup/total step arguments
internally, so :meth:`ArtifactTrainer.linear_schedule` passes them pre-swapped.
"""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Optional

from .artifacts import MAX_IR_VERSION, cap_ir_version, load_manifest


class ArtifactTrainer:
    """On-device style training loop over the artifacts in ``artifact_dir``."""

    def __init__(self, artifact_dir, learning_rate: Optional[float] = None):
        from .runtime import import_ort_training

        import_ort_training()
        from onnxruntime.training import api

        self.dir = Path(artifact_dir)
        self.manifest = load_manifest(self.dir)
        self.state = api.CheckpointState.load_checkpoint(str(self.dir / "checkpoint"))
        self.module = api.Module(str(self.dir / "training_model.onnx"), self.state, str(self.dir / "eval_model.onnx"),
                                 device="cpu")
        self.optimizer = api.Optimizer(str(self.dir / "optimizer_model.onnx"), self.module)
        if learning_rate is not None:
            self.optimizer.set_learning_rate(learning_rate)
        self.scheduler = None
        self._api = api

    @property
    def feed_names(self) -> List[str]:
        return list(self.manifest["inputs"]) + list(self.manifest["labels"])

    def _feeds(self, batch: Dict) -> list:
        import numpy as np

        missing = [name for name in self.feed_names if name not in batch]
        if missing:
            raise KeyError(f"batch lacks {missing}; the artifacts take {self.feed_names}")
        return [np.ascontiguousarray(np.asarray(batch[name], dtype=np.int64)) for name in self.feed_names]

    def linear_schedule(self, warmup_steps: int, total_steps: int, initial_lr: float):
        """ORT's LinearLRScheduler with the 1.19.2 argument swap undone."""
        # 1.19.2 binds (optimizer, warmup_step_count, total_step_count) to the C++ (total, warmup) slots
        self.scheduler = self._api.LinearLRScheduler(self.optimizer, total_steps, warmup_steps, initial_lr)
        return self.scheduler

    def train_step(self, batch: Dict) -> float:
        self.module.train()
        outputs = self.module(*self._feeds(batch))
        self.optimizer.step()
        if self.scheduler is not None:
            self.scheduler.step()
        self.module.lazy_reset_grad()
        import numpy as np

        loss = outputs[0] if isinstance(outputs, (list, tuple)) else outputs
        return float(np.asarray(loss).reshape(-1)[0])

    def eval_step(self, batch: Dict):
        """(loss, logits...) from the eval graph."""
        self.module.eval()
        outputs = self.module(*self._feeds(batch))
        return outputs if isinstance(outputs, (list, tuple)) else [outputs]

    def parameters(self) -> Dict[str, "object"]:
        """Trained parameter values by name (numpy arrays), e.g. to load back into PyTorch."""
        return {name: param.data for name, param in self.state.parameters}

    def save_checkpoint(self, path) -> None:
        self._api.CheckpointState.save_checkpoint(self.state, str(path))

    def export_inference_model(self, path) -> Path:
        """Write an inference ONNX model (model inputs -> logits) with the trained weights."""
        import onnx

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.module.export_model_for_inferencing(str(path), list(self.manifest["inference_outputs"]))
        model = onnx.load(str(path))
        keep = set(self.manifest["inputs"])
        unused = [i for i in model.graph.input if i.name not in keep]
        for graph_input in unused:  # labels feed only the loss, which the export pruned
            model.graph.input.remove(graph_input)
        model.ir_version = min(model.ir_version, MAX_IR_VERSION)
        onnx.save(model, str(path))
        cap_ir_version(path)
        return path


def load_trained_into_torch(model, trainer: ArtifactTrainer) -> int:
    """Copy trained artifact parameters into the matching torch model; return how many."""
    import torch

    values = trainer.parameters()
    own = dict(model.named_parameters())
    copied = 0
    with torch.no_grad():
        for name, value in values.items():
            key = name[len("model."):] if name.startswith("model.") else name
            if key in own:
                own[key].copy_(torch.from_numpy(value).reshape(own[key].shape))
                copied += 1
    return copied
