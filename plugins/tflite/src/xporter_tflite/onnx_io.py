"""Input/output names and dynamic axes for TF -> ONNX.

Preferred source: the ONNX plugin's config for (model_type, task), so a TF export has the
same interface as the PyTorch one. Fallback (ONNX plugin not installed, no config for the
pair, or a name the TF model does not produce): this plugin's TFLite config, whose axis
names are the same ONNX names. Swapping the source is one function: :func:`onnx_config_io`.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, replace
from typing import Any, Dict, List, Optional, Tuple

from .config_base import DYNAMIC_AXES, Component, TFLiteConfig

Axes = Dict[str, Dict[int, str]]


@dataclass
class IOPlan:
    component: Component
    input_axes: Axes
    output_axes: Axes
    source: str  # "xporter_onnx" or "xporter_tflite"
    note: str = ""


def onnx_config_io(model_config: Any, model_type: str, task: str) -> Tuple[Optional[Tuple[Axes, Axes]], str]:
    """``(inputs, outputs)`` of the ONNX plugin's config, or ``None`` and why not."""
    if importlib.util.find_spec("xporter_onnx") is None:
        return None, "xporter-onnx is not installed"
    from xporter import TasksManager

    try:
        constructor = TasksManager.get_exporter_config_constructor("onnx", model_type=model_type, task=task)
        onnx_config = constructor(model_config)
        return (_plain(onnx_config.inputs), _plain(onnx_config.outputs)), ""
    except Exception as exc:  # any failure of the other plugin means: use our own table
        return None, f"ONNX config unavailable ({type(exc).__name__}: {exc})"


def _plain(spec) -> Axes:
    return {name: {int(k): str(v) for k, v in dict(axes).items()} for name, axes in dict(spec).items()}


def own_io(component: Component) -> Tuple[Axes, Axes]:
    inputs = {n: {i: a for i, a in enumerate(s.axes) if a in DYNAMIC_AXES} for n, s in component.inputs.items()}
    return inputs, dict(component.outputs)


def plan_io(config: TFLiteConfig, model_config: Any, model_type: str, task: str, use_onnx_configs: bool = True
            ) -> List[IOPlan]:
    """One :class:`IOPlan` per exported file."""
    components = config.components()
    reused, why = (None, "disabled")
    if use_onnx_configs and len(components) == 1:
        reused, why = onnx_config_io(model_config, model_type, task)
    elif len(components) > 1:
        why = "encoder-decoder models use this plugin's encoder/decoder split"
    plans = []
    for component in components:
        if reused is None:
            inputs, outputs = own_io(component)
            plans.append(IOPlan(component, inputs, outputs, "xporter_tflite", why))
            continue
        onnx_inputs, onnx_outputs = reused
        # inputs: the ones our TF call builds, in the ONNX config's order, with its axis names
        names = [n for n in onnx_inputs if n in component.inputs] + [n for n in component.inputs if n not in onnx_inputs]
        own_inputs, _ = own_io(component)
        inputs = {n: onnx_inputs.get(n, own_inputs[n]) for n in names}
        dropped = [n for n in onnx_inputs if n not in component.inputs]
        note = f"ONNX inputs not fed by the TF export: {', '.join(dropped)}" if dropped else ""
        new_component = replace(component, inputs={n: component.inputs[n] for n in names},
                                outputs={n: dict(a) for n, a in onnx_outputs.items()})
        plans.append(IOPlan(new_component, inputs, dict(onnx_outputs), "xporter_onnx", note))
    return plans


def fallback_plan(plan: IOPlan, original: Component, reason: str) -> IOPlan:
    """Our own names for a component whose ONNX-config names the TF model cannot produce."""
    inputs, outputs = own_io(original)
    return IOPlan(original, inputs, outputs, "xporter_tflite", reason)
