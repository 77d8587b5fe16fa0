"""ONNX configs for diffusers pipeline components (the logic; ``configs/diffusers.py`` holds the rows).

A diffusion pipeline is exported component by component, as Optimum does: text encoders
(transformers models), the denoiser (UNet or a DiT transformer) and the VAE split into an
encoder and a decoder graph. The model types are Optimum's pseudo types (``unet-2d-condition``,
``vae-encoder`` ...): they name a component, not a ``config.json`` model type.

Diffusers configs are ``FrozenDict``s; the normalized config reads them like any mapping, and
the generator below sizes every tensor from the component config itself (channels, caption
width, pooled projection width ...), so one generator serves every denoiser.
"""

from __future__ import annotations

import contextlib
from typing import Any, Dict, List

from ..base import IOSpec, OnnxConfig, lookup_output
from ..dummy import DummyInputGenerator, DummyTextInputGenerator, np, to_framework
from ..normalized import NormalizedConfig, NormalizedTextConfig
from ..past import traceable_masks

BATCH = {0: "batch_size"}
SEQ = {0: "batch_size", 1: "sequence_length"}
# Latent/image sizes differ from the trace (multiples of 8 keep every down/up block exact).
DIFFUSION_VALIDATION_SHAPES = {"batch_size": 3, "sequence_length": 9, "height": 48, "width": 40}


def _cfg(normalized: Any, name: str, default: Any = None) -> Any:
    """A raw component-config value (diffusers FrozenDict or transformers config)."""
    config = normalized.config
    value = config.get(name, None) if isinstance(config, dict) else getattr(config, name, None)
    return default if value is None else value


class DummyDiffusionInputGenerator(DummyInputGenerator):
    """Latents, timesteps, conditioning and position ids for UNet / DiT / VAE components.

    ``height``/``width`` are the size of the component's spatial input (latent for the
    denoisers and the VAE decoder, image for the VAE encoder); ``sequence_length`` is the
    text-conditioning length.
    """

    SUPPORTED_INPUT_NAMES = ("sample", "latent_sample", "timestep", "encoder_hidden_states", "encoder_attention_mask",
                             "text_embeds", "time_ids", "hidden_states", "pooled_projections", "img_ids", "txt_ids",
                             "guidance")

    def __init__(self, task: str, normalized_config: Any, **shapes: Any) -> None:
        super().__init__(task, normalized_config, **shapes)
        self.height, self.width = self.shapes["height"], self.shapes["width"]
        self.sequence_length = self.shapes["sequence_length"]

    def _latents(self, channels_key: str, float_dtype: str) -> Any:
        channels = int(_cfg(self.normalized_config, channels_key, 4))
        return self.random_float((self.batch_size, channels, self.height, self.width), float_dtype)

    @staticmethod
    def _scalar(value: int, framework: str, int_dtype: str) -> Any:
        """A 0-d tensor (``to_framework`` goes through ``np.ascontiguousarray``, which makes it 1-d)."""
        if framework == "pt":
            import torch

            return torch.tensor(value, dtype=torch.int64 if int_dtype == "int64" else torch.int32)
        return to_framework(np.asarray(value, dtype="int64" if int_dtype == "int64" else "int32"), framework)

    def _packed_length(self) -> int:
        return (self.height // 2) * (self.width // 2)  # Flux packs 2x2 latent patches into one token

    def generate(self, input_name, framework="pt", int_dtype="int64", float_dtype="fp32"):
        cfg = self.normalized_config
        kind = getattr(cfg, "COMPONENT", "")
        if input_name in ("sample", "latent_sample"):
            array = self._latents("latent_channels" if input_name == "latent_sample" else "in_channels", float_dtype)
        elif input_name == "hidden_states":
            if kind == "flux":
                array = self.random_float((self.batch_size, self._packed_length(), int(_cfg(cfg, "in_channels"))),
                                          float_dtype)
            else:
                array = self._latents("in_channels", float_dtype)
        elif input_name == "timestep":
            if kind == "unet":  # Optimum's UNet graph: a scalar (0-d) integer step
                return self._scalar(int(self.rng.integers(1, 1000)), framework, int_dtype)
            else:  # DiT transformers: one float step per batch row (Flux wants t / 1000)
                high = 1.0 if kind == "flux" else 1000.0
                array = self.random_float((self.batch_size,), float_dtype, low=0.0, high=high)
        elif input_name == "encoder_hidden_states":
            width = int(cfg.hidden_size)
            array = self.random_float((self.batch_size, self.sequence_length, width), float_dtype)
        elif input_name == "encoder_attention_mask":
            array = self.ones((self.batch_size, self.sequence_length), int_dtype)
            if self.shapes.get("padding") and self.sequence_length > 2:
                array[1:, -(self.sequence_length // 3):] = 0  # validation proves the mask is a graph input
        elif input_name == "text_embeds":
            array = self.random_float((self.batch_size, unet_text_embeds_dim(cfg)), float_dtype)
        elif input_name == "time_ids":
            array = self.random_float((self.batch_size, unet_time_ids_length(cfg)), float_dtype, low=0, high=64)
        elif input_name == "timestep_cond":
            array = self.random_float((self.batch_size, int(_cfg(cfg, "time_cond_proj_dim"))), float_dtype)
        elif input_name == "pooled_projections":
            array = self.random_float((self.batch_size, int(_cfg(cfg, "pooled_projection_dim"))), float_dtype)
        elif input_name == "img_ids":
            rows, cols = np.meshgrid(np.arange(self.height // 2), np.arange(self.width // 2), indexing="ij")
            array = np.stack([np.zeros_like(rows), rows, cols], axis=-1).reshape(-1, 3).astype("float32")
        elif input_name == "txt_ids":
            array = np.zeros((self.sequence_length, 3), dtype="float32")
        else:  # guidance (Flux-dev / Sana-Sprint)
            array = self.random_float((self.batch_size,), float_dtype, low=1.0, high=8.0)
        return to_framework(array, framework, float_dtype)


def unet_time_ids_length(cfg: Any) -> int:
    """SDXL's micro-conditioning: (orig h, w, crop top, left, target h, w); the refiner
    replaces the target size with an aesthetic score."""
    return 5 if _cfg(cfg, "requires_aesthetics_score", False) else 6


def unet_text_embeds_dim(cfg: Any) -> int:
    """Width of the pooled text embedding the UNet's add_embedding expects: its input is
    [text_embeds, time embeddings of every time id]."""
    total = int(_cfg(cfg, "projection_class_embeddings_input_dim"))
    return total - unet_time_ids_length(cfg) * int(_cfg(cfg, "addition_time_embed_dim"))


class DiffusionComponentOnnxConfig(OnnxConfig):
    """Base of the denoiser / VAE configs: keyword forward, outputs read by ``OUTPUT_SOURCES``.

    ``OUTPUT_SOURCES`` maps an ONNX output name to the attribute of the module's output
    (``out_sample`` <- ``sample``), as Optimum's ``torch_to_onnx_output_map`` does.
    """

    NORMALIZED_CONFIG_CLASS = NormalizedConfig
    DUMMY_INPUT_GENERATOR_CLASSES = (DummyDiffusionInputGenerator,)
    ATTN_IMPLEMENTATION = None
    VALIDATION_SHAPES = DIFFUSION_VALIDATION_SHAPES
    OUTPUT_SOURCES: Dict[str, str] = {}
    MODEL_KWARGS = {"return_dict": True}

    def flatten_outputs(self, model_output: Any) -> List[Any]:
        return [lookup_output(model_output, self.OUTPUT_SOURCES.get(name, name)) for name in self.outputs]

    @contextlib.contextmanager
    def export_context(self, model: Any):
        with traceable_ops():
            yield


@contextlib.contextmanager
def traceable_ops():
    """While TorchScript traces (and only then): ``F.rms_norm`` (Flux/Sana q/k norms; no ONNX
    symbolic below opset 23) as its formula, and ``Tensor.movedim`` (DC-AE's channel-last norms;
    the exporter writes a negative, invalid Transpose perm) as a positive ``permute``.
    Validation runs the original ops, so it checks the rewrite too."""
    import torch

    functional, tensor = torch.nn.functional, torch.Tensor
    original_rms_norm, original_movedim = functional.rms_norm, tensor.movedim

    def rms_norm(input, normalized_shape, weight=None, eps=None):
        if not torch.jit.is_tracing():
            return original_rms_norm(input, normalized_shape, weight, eps)
        dims = tuple(range(-len(normalized_shape), 0))
        eps = torch.finfo(input.dtype).eps if eps is None else eps
        output = input * torch.rsqrt(input.pow(2).mean(dims, keepdim=True) + eps)
        return output * weight if weight is not None else output

    def movedim(self, source, destination):
        if not (torch.jit.is_tracing() and isinstance(source, int) and isinstance(destination, int)):
            return original_movedim(self, source, destination)
        rank = self.dim()
        order = [axis for axis in range(rank) if axis != source % rank]
        order.insert(destination % rank, source % rank)
        return self.permute(*order)

    functional.rms_norm, tensor.movedim = rms_norm, movedim
    try:
        yield
    finally:
        functional.rms_norm, tensor.movedim = original_rms_norm, original_movedim


class UNetOnnxConfig(DiffusionComponentOnnxConfig):
    """UNet2DConditionModel; SDXL-style ``text_time`` added conditioning adds text_embeds and
    time_ids, LCM-style ``time_cond_proj_dim`` adds timestep_cond (Optimum's inputs)."""

    @property
    def inputs(self) -> IOSpec:
        spec: IOSpec = {"sample": {0: "batch_size", 2: "height", 3: "width"}, "timestep": {},
                        "encoder_hidden_states": dict(SEQ)}
        if _cfg(self.normalized_config, "addition_embed_type") == "text_time":
            spec["text_embeds"] = dict(BATCH)
            spec["time_ids"] = dict(BATCH)
        if _cfg(self.normalized_config, "time_cond_proj_dim") is not None:
            spec["timestep_cond"] = dict(BATCH)
        return spec

    def prepare_model_inputs(self, inputs: Dict[str, Any]) -> Dict[str, Any]:
        inputs = dict(inputs)
        if "text_embeds" in inputs:
            inputs["added_cond_kwargs"] = {"text_embeds": inputs.pop("text_embeds"), "time_ids": inputs.pop("time_ids")}
        return inputs


class VaeEncoderOnnxConfig(DiffusionComponentOnnxConfig):
    """AutoencoderKL.encode: the diagonal Gaussian's parameters (mean and log-variance stacked
    on the channel axis), Optimum's ``latent_parameters``; sampling stays outside the graph."""

    ATOL_FOR_VALIDATION = 3e-4  # Optimum's value for the VAE graphs (deep conv stacks)

    def call_model(self, model: Any, kwargs: Dict[str, Any]) -> Any:
        return {"latent_parameters": model.encode(kwargs["sample"]).latent_dist.parameters}


class VaeDecoderOnnxConfig(DiffusionComponentOnnxConfig):
    """AutoencoderKL.decode / AutoencoderDC.decode: latents -> image ``sample``."""

    ATOL_FOR_VALIDATION = 3e-4

    def call_model(self, model: Any, kwargs: Dict[str, Any]) -> Any:
        return model.decode(kwargs["latent_sample"])


class DcaeEncoderOnnxConfig(DiffusionComponentOnnxConfig):
    """AutoencoderDC.encode: a deterministic latent (no distribution), Optimum's ``latent_sample``."""

    ATOL_FOR_VALIDATION = 3e-4

    def call_model(self, model: Any, kwargs: Dict[str, Any]) -> Any:
        return {"latent_sample": model.encode(kwargs["sample"]).latent}


class TextEncoderComponentOnnxConfig(OnnxConfig):
    """A pipeline's text encoder (transformers model, ``input_ids`` [+ mask]).

    SDXL and SD3 read the penultimate hidden state: when the component config says
    ``output_hidden_states`` (the pipeline exporter sets it for those pipelines, as Optimum
    does), every layer's state is an output ``hidden_states.{i}``.
    """

    NORMALIZED_CONFIG_CLASS = NormalizedTextConfig
    DUMMY_INPUT_GENERATOR_CLASSES = (DummyTextInputGenerator,)
    ATTN_IMPLEMENTATION = None
    INPUTS = {"input_ids": dict(SEQ)}
    BASE_OUTPUTS: IOSpec = {"last_hidden_state": dict(SEQ)}
    OUTPUT_SOURCES: Dict[str, str] = {}
    MODEL_CLASSES: Dict[str, str] = {}

    @property
    def with_hidden_states(self) -> bool:
        return bool(getattr(self.config, "output_hidden_states", False))

    @property
    def outputs(self) -> IOSpec:
        spec = {name: dict(axes) for name, axes in self.BASE_OUTPUTS.items()}
        if self.with_hidden_states:
            for i in range(int(self.normalized_config.num_layers) + 1):
                spec[f"hidden_states.{i}"] = dict(SEQ)
        return spec

    def call_model(self, model: Any, kwargs: Dict[str, Any]) -> Any:
        return model(**kwargs, output_hidden_states=self.with_hidden_states, return_dict=True)

    @contextlib.contextmanager
    def export_context(self, model: Any):
        with traceable_masks():  # transformers 4.5x builds Gemma-2's masks with vmap
            yield

    def flatten_outputs(self, model_output: Any) -> List[Any]:
        values = []
        for name in self.outputs:
            if name.startswith("hidden_states."):
                values.append(lookup_output(model_output, "hidden_states")[int(name.split(".")[1])])
            else:
                values.append(lookup_output(model_output, self.OUTPUT_SOURCES.get(name, name)))
        return values


def _scaled_axes(config: OnnxConfig, blocks_key: str, op: str, prefix: str) -> Dict[int, str]:
    """Optimum's symbolic output sizes, e.g. ``sample_height / 8`` for a 4-block VAE encoder."""
    factor = 2 ** (len(_cfg(config.normalized_config, blocks_key, ())) - 1)
    return {0: "batch_size", 2: f"{prefix}height {op} {factor}", 3: f"{prefix}width {op} {factor}"}


class KlEncoderOnnxConfig(VaeEncoderOnnxConfig):
    INPUTS = {"sample": {0: "batch_size", 2: "sample_height", 3: "sample_width"}}

    @property
    def outputs(self) -> IOSpec:
        return {"latent_parameters": _scaled_axes(self, "down_block_types", "/", "sample_")}


class KlDecoderOnnxConfig(VaeDecoderOnnxConfig):
    INPUTS = {"latent_sample": {0: "batch_size", 2: "latent_height", 3: "latent_width"}}

    @property
    def outputs(self) -> IOSpec:
        return {"sample": _scaled_axes(self, "up_block_types", "*", "latent_")}


class GuidedDiTOnnxConfig(DiffusionComponentOnnxConfig):
    """DiT denoisers whose distilled variants (Flux-dev, Sana-Sprint) take a ``guidance`` scale."""

    @property
    def inputs(self) -> IOSpec:
        spec = super().inputs
        if _cfg(self.normalized_config, "guidance_embeds", False):
            spec["guidance"] = dict(BATCH)
        return spec


class FluxTransformerOnnxConfig(GuidedDiTOnnxConfig):
    """Flux: the rotary embedding's ``x.reshape(*x.shape[:-1], -1, 2)`` traces to a Reshape with
    the trace's batch and length baked in; while tracing it is applied with strided slices."""

    @contextlib.contextmanager
    def export_context(self, model: Any):
        import torch
        from diffusers.models.transformers import transformer_flux

        original = transformer_flux.apply_rotary_emb

        def apply_rotary_emb(x, freqs_cis, use_real=True, use_real_unbind_dim=-1, sequence_dim=2):
            if not (torch.jit.is_tracing() and use_real and use_real_unbind_dim == -1 and sequence_dim in (1, 2)):
                return original(x, freqs_cis, use_real=use_real, use_real_unbind_dim=use_real_unbind_dim,
                                sequence_dim=sequence_dim)
            cos, sin = (f[None, None] if sequence_dim == 2 else f[None, :, None] for f in freqs_cis)
            rotated = torch.stack([-x[..., 1::2], x[..., 0::2]], dim=-1).flatten(3)
            return (x.float() * cos.to(x.device) + rotated.float() * sin.to(x.device)).to(x.dtype)

        transformer_flux.apply_rotary_emb = apply_rotary_emb
        try:
            with super().export_context(model):
                yield
        finally:
            transformer_flux.apply_rotary_emb = original
