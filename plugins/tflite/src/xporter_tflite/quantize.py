"""Post-training quantization options and calibration data for the TFLite converter.

Modes (names follow Optimum's TFLite exporter where it had one):

``fp16``          weights stored as float16, computed in float32.
``int8-dynamic``  int8 weights, activations quantized on the fly (no calibration).
``int8``          full integer: weights and activations int8, calibrated on samples.
``int8x16``       int8 weights, int16 activations (more accurate than int8), calibrated.

Calibration samples come from a local dataset file (csv, json/jsonl, parquet, read with
``datasets``) tokenized with the model's tokenizer to the static shapes, or are generated
at random from the vocabulary when no file is given.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional

import numpy as np

from .config_base import Component, TFLiteConfig
from .errors import CalibrationError

MODES = ("fp16", "int8-dynamic", "int8", "int8x16")
CALIBRATED_MODES = ("int8", "int8x16")
IO_TYPES = ("float32", "int8", "uint8", "int16")
DATASET_FORMATS = {".csv": "csv", ".tsv": "csv", ".json": "json", ".jsonl": "json", ".parquet": "parquet"}
TEXT_COLUMNS = ("text", "sentence", "sentence1", "content", "question", "document", "premise")


@dataclass
class QuantizationOptions:
    """What the user asked for; ``None`` for a float export."""

    mode: str
    calibration_dataset: Optional[str] = None
    calibration_column: Optional[str] = None
    num_calibration_samples: int = 100
    fallback_to_float: bool = False
    input_type: Optional[str] = None
    output_type: Optional[str] = None

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise CalibrationError(f"unknown quantization mode '{self.mode}'", f"choose one of {', '.join(MODES)}")
        for kind in ("input_type", "output_type"):
            value = getattr(self, kind)
            if value is not None and value not in IO_TYPES:
                raise CalibrationError(f"unknown {kind} '{value}'", f"choose one of {', '.join(IO_TYPES)}")
        if self.num_calibration_samples <= 0:
            raise CalibrationError("--num-calibration-samples must be positive")
        if self.calibration_dataset is not None:
            path = Path(self.calibration_dataset).expanduser()
            if not path.is_file():
                raise CalibrationError(f"calibration dataset {path} does not exist",
                                       "pass a local .csv, .json, .jsonl or .parquet file, or omit it to use "
                                       "generated samples")
            if path.suffix.lower() not in DATASET_FORMATS:
                raise CalibrationError(f"cannot read calibration dataset {path.name}",
                                       f"use one of {', '.join(sorted(DATASET_FORMATS))}")

    @property
    def calibrated(self) -> bool:
        return self.mode in CALIBRATED_MODES

    def as_dict(self) -> Dict[str, Any]:
        return asdict(self)


def configure_converter(converter: Any, options: QuantizationOptions,
                        representative: Optional[Callable[[], Iterator[Dict[str, np.ndarray]]]]) -> None:
    """Set optimizations, op sets and I/O types on a ``TFLiteConverter``."""
    from .tfenv import import_tf

    tf = import_tf()
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if options.mode == "fp16":
        converter.target_spec.supported_types = [tf.float16]
        return
    if options.mode == "int8-dynamic":
        return
    converter.representative_dataset = representative
    if options.mode == "int8":
        ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    else:
        ops = [tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8]
    if options.fallback_to_float:
        ops.append(tf.lite.OpsSet.TFLITE_BUILTINS)
    converter.target_spec.supported_ops = ops
    if options.input_type:
        converter.inference_input_type = getattr(tf, options.input_type)
    if options.output_type:
        converter.inference_output_type = getattr(tf, options.output_type)


# -- calibration samples -----------------------------------------------------------------
def calibration_batches(config: TFLiteConfig, component: Component, options: QuantizationOptions,
                        model_dir: Optional[str]) -> List[Dict[str, np.ndarray]]:
    """Batches of the static batch size holding ``num_calibration_samples`` samples in all."""
    batch_size = config.check_shapes()["batch_size"]
    num_batches = max(1, math.ceil(options.num_calibration_samples / batch_size))
    if options.calibration_dataset is None or component.mode == "decoder":
        return [config.generate_dummy_inputs(component, seed=1000 + i) for i in range(num_batches)]
    return _dataset_batches(config, component, options, model_dir, num_batches * batch_size, batch_size)


def _dataset_batches(config, component, options, model_dir, num_samples, batch_size):
    if any(spec.dtype == "float32" for spec in component.inputs.values()):
        raise CalibrationError("calibration datasets are supported for text models only",
                               "omit --calibration-dataset to calibrate on generated samples")
    texts = read_texts(options.calibration_dataset, options.calibration_column, num_samples)
    tokenizer = _load_tokenizer(model_dir)
    sizes = config.check_shapes()
    choices = sizes.get("num_choices") if config.task == "multiple-choice" else None
    batches = []
    for start in range(0, len(texts) - batch_size + 1, batch_size):
        chunk = texts[start:start + batch_size]
        if choices:
            chunk = [text for text in chunk for _ in range(choices)]
        encoded = tokenizer(chunk, padding="max_length", truncation=True, max_length=sizes["sequence_length"],
                            return_tensors="np")
        batch = {}
        for name, spec in component.inputs.items():
            shape = config.input_shape(spec)
            value = encoded.get(name)
            batch[name] = np.zeros(shape, np.int32) if value is None else np.asarray(value, np.int32).reshape(shape)
        batches.append(batch)
    if not batches:
        raise CalibrationError(f"{options.calibration_dataset} has fewer rows ({len(texts)}) than the batch size "
                               f"({batch_size})", "add rows or lower --batch-size")
    return batches


def read_texts(path: str, column: Optional[str], limit: int) -> List[str]:
    """The first ``limit`` non-empty strings of ``column`` (or the first text column)."""
    import datasets

    fmt = DATASET_FORMATS[Path(path).suffix.lower()]
    kwargs = {"delimiter": "\t"} if path.lower().endswith(".tsv") else {}
    try:
        dataset = datasets.load_dataset(fmt, data_files=str(path), split="train", **kwargs)
    except Exception as exc:
        raise CalibrationError(f"cannot read calibration dataset {path}: {exc}", "check the file format") from exc
    features = dataset.features
    if column is None:
        strings = [name for name, feature in features.items() if getattr(feature, "dtype", "") in ("string", "large_string")]
        column = next((c for c in TEXT_COLUMNS if c in strings), strings[0] if strings else None)
        if column is None:
            raise CalibrationError(f"{path} has no text column", "pass --calibration-column")
    elif column not in features:
        raise CalibrationError(f"{path} has no column '{column}'", f"columns: {', '.join(features)}")
    texts = [t for t in dataset[column][: limit * 2] if isinstance(t, str) and t.strip()][:limit]
    if not texts:
        raise CalibrationError(f"column '{column}' of {path} holds no text", "pass --calibration-column")
    return texts


def _load_tokenizer(model_dir: Optional[str]):
    if model_dir is None:
        raise CalibrationError("a calibration dataset needs the model's tokenizer",
                               "export from a model folder that has tokenizer files, or omit --calibration-dataset")
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(model_dir)
    except Exception as exc:
        raise CalibrationError(f"cannot load a tokenizer from {model_dir}: {exc}",
                               "save the tokenizer next to the model, or omit --calibration-dataset") from exc
