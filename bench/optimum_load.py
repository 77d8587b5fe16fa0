"""Load an xporter ONNX export with Optimum's ORTModelForCausalLM and decode greedily through it.

    .venvs/tx457/bin/pip install --no-deps --target /tmp/optimum-1.27 optimum==1.27.0
    HF_HUB_OFFLINE=1 .venvs/tx457/bin/python bench/optimum_load.py /tmp/optimum-1.27 OUT [CHECKPOINT]

With CHECKPOINT (the PyTorch model exported into OUT) the tokens are compared with
``LlamaForCausalLM.generate``. Optimum 1.27 against torch 2.13 / transformers 4.57 needs two
shims, both applied here before optimum is imported / used:

* torch 2.13 moved the TorchScript symbolic helpers optimum's model_patcher imports
  (``_attention_scale``, ``_causal_attention_mask``, ``_onnx_symbolic``, ``_type_utils``,
  ``jit_utils``, ``symbolic_helper`` from ``torch.onnx.symbolic_opset14``) to
  ``torch.onnx._internal.torchscript_exporter``: they are re-exposed on the public module;
* transformers 4.57's ``generate`` reads ``_is_stateful`` and builds a ``DynamicCache`` that
  optimum 1.27's forward cannot read: the loop below calls ``forward`` with optimum's own cache.

Sessions are created without MLAS prepacking (a 2B fp32 model would otherwise hold packed
copies of all weights next to the memory-mapped file).
"""

from __future__ import annotations

import sys


def shim_torch_onnx() -> None:
    import torch.onnx.symbolic_opset14 as public
    from torch.onnx._internal.torchscript_exporter import _type_utils, jit_utils, symbolic_helper
    from torch.onnx._internal.torchscript_exporter import symbolic_opset14 as internal

    for name in ("_attention_scale", "_causal_attention_mask", "_onnx_symbolic"):
        setattr(public, name, getattr(internal, name))
    public._type_utils, public.jit_utils, public.symbolic_helper = _type_utils, jit_utils, symbolic_helper


def greedy(model, ids, steps: int):
    import torch

    seq, past, step_ids = ids, None, ids
    for _ in range(steps):
        result = model(input_ids=step_ids, attention_mask=torch.ones_like(seq), past_key_values=past, use_cache=True)
        past, step_ids = result.past_key_values, result.logits[:, -1:].argmax(-1)
        seq = torch.cat([seq, step_ids], 1)
    return seq


def main() -> None:
    optimum_path, export_dir = sys.argv[1], sys.argv[2]
    sys.path.insert(0, optimum_path)
    shim_torch_onnx()
    import onnxruntime as ort
    import torch
    from optimum.onnxruntime import ORTModelForCausalLM

    ORTModelForCausalLM._is_stateful = False
    options = ort.SessionOptions()
    options.add_session_config_entry("session.disable_prepacking", "1")
    model = ORTModelForCausalLM.from_pretrained(export_dir, use_cache=True, use_io_binding=False,
                                                session_options=options)
    ids = torch.tensor([[1, 5, 9, 22, 7]])
    tokens = greedy(model, ids, 6).tolist()
    print("ORTModelForCausalLM greedy:", tokens)
    if len(sys.argv) > 3:
        del model
        from transformers import LlamaForCausalLM

        reference = LlamaForCausalLM.from_pretrained(sys.argv[3]).generate(ids, attention_mask=torch.ones_like(ids),
                                                                             max_new_tokens=6, do_sample=False)
        print("PyTorch generate:          ", reference.tolist(), "same:", reference.tolist() == tokens)
    peak = int(open("/proc/self/status").read().split("VmHWM:")[1].split()[0]) / 2**20
    print(f"peak RSS {peak:.2f} GiB")


if __name__ == "__main__":
    main()
