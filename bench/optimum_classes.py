"""Optimum's ORTModel classes on default-opset xporter exports, against PyTorch (issue 11).

    .venvs/tx457/bin/pip install --no-deps --target /tmp/optimum-1.27 optimum==1.27.0
    HF_HUB_OFFLINE=1 .venvs/tx457/bin/python bench/optimum_classes.py /tmp/optimum-1.27 [WORKDIR]

Exports three tiny random models with xporter in this environment (transformers 4.57, the one
Optimum 1.27 supports) at the default opset, then loads each folder with the class Optimum
itself would pick and compares with PyTorch:

* llama -> ``ORTModelForCausalLM`` on ``model.onnx`` and its int8-weight / int4 variants
  (``file_name``): greedy tokens (quantized variants may differ; printed, not asserted);
* bert -> ``ORTModelForSequenceClassification`` on fp32 / int8-dynamic / int8-weight: max abs
  logit difference;
* t5 -> ``ORTModelForSeq2SeqLM`` (encoder + merged decoder): greedy tokens of a forward loop.

Greedy loops call ``forward`` with Optimum's own cache (``optimum_load.greedy``): transformers
4.57's ``generate`` builds a cache Optimum 1.27 cannot read. Exit status 1 when an fp32 check fails.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

STEPS = 6


def _opset(path: Path) -> int:
    import onnx

    return next(o.version for o in onnx.load(str(path), load_external_data=False).opset_import
                if o.domain in ("", "ai.onnx"))


def _llama(work: Path) -> bool:
    import torch
    from optimum.onnxruntime import ORTModelForCausalLM
    from transformers import LlamaConfig, LlamaForCausalLM

    from optimum_load import greedy
    from xporter_onnx import export

    torch.manual_seed(0)
    config = LlamaConfig(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                         num_key_value_heads=2, vocab_size=512, max_position_embeddings=64)
    model = LlamaForCausalLM(config).eval()
    model.save_pretrained(str(work / "llama-src"))
    export(work / "llama-src", work / "llama", task="text-generation-with-past", quantize="int8-weight,int4")
    ids = torch.tensor([[1, 5, 9, 22, 7]])
    want = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=STEPS, do_sample=False).tolist()
    ORTModelForCausalLM._is_stateful = False  # see optimum_load.py
    ok = True
    for name in ("model.onnx", "model_q8w.onnx", "model_q4.onnx"):
        loaded = ORTModelForCausalLM.from_pretrained(work / "llama", file_name=name, use_cache=True,
                                                     use_io_binding=False)
        same = greedy(loaded, ids, STEPS).tolist() == want
        print(f"llama {name} (opset {_opset(work / 'llama' / name)}) ORTModelForCausalLM greedy == PyTorch: {same}")
        ok &= same or name != "model.onnx"
    return ok


def _bert(work: Path) -> bool:
    import torch
    from optimum.onnxruntime import ORTModelForSequenceClassification
    from transformers import AutoModelForSequenceClassification

    from xporter_onnx import export
    from xporter_onnx.testing import find_row, tiny_model_dir

    source = tiny_model_dir(find_row("bert"), "text-classification", work / "bert-src")
    export(source, work / "bert", quantize="int8-dynamic,int8-weight")
    ids = torch.tensor([[2, 15, 27, 33, 3]])
    with torch.inference_mode():
        want = AutoModelForSequenceClassification.from_pretrained(str(source)).eval()(input_ids=ids).logits
    ok = True
    for name in ("model.onnx", "model_quantized.onnx", "model_q8w.onnx"):
        loaded = ORTModelForSequenceClassification.from_pretrained(work / "bert", file_name=name)
        got = loaded(input_ids=ids, attention_mask=torch.ones_like(ids), token_type_ids=torch.zeros_like(ids)).logits
        diff = float((got - want).abs().max())
        print(f"bert {name} (opset {_opset(work / 'bert' / name)}) ORTModelForSequenceClassification "
              f"max abs diff vs PyTorch: {diff:.2e}")
        ok &= diff < 1e-4 or name != "model.onnx"
    return ok


def _t5(work: Path) -> bool:
    import torch
    from optimum.onnxruntime import ORTModelForSeq2SeqLM
    from transformers import AutoModelForSeq2SeqLM

    from xporter_onnx import export
    from xporter_onnx.testing import find_row, tiny_model_dir

    source = tiny_model_dir(find_row("t5"), "text2text-generation", work / "t5-src")
    export(source, work / "t5")
    ids = torch.tensor([[1, 5, 9, 22, 7]])
    mask = torch.ones_like(ids)
    reference = AutoModelForSeq2SeqLM.from_pretrained(str(source)).eval()
    want = reference.generate(ids, attention_mask=mask, max_new_tokens=STEPS, do_sample=False).tolist()
    loaded = ORTModelForSeq2SeqLM.from_pretrained(work / "t5", use_cache=True, use_io_binding=False)
    encoded = loaded.encoder(input_ids=ids, attention_mask=mask)
    step = torch.tensor([[loaded.config.decoder_start_token_id]])
    seq, past, logits = step, None, []
    for _ in range(STEPS):
        out = loaded(encoder_outputs=encoded, attention_mask=mask, decoder_input_ids=step, past_key_values=past,
                     use_cache=True)
        past, step = out.past_key_values, out.logits[:, -1:].argmax(-1)
        seq, logits = torch.cat([seq, step], 1), logits + [out.logits[:, -1]]
    with torch.inference_mode():  # the same steps in one PyTorch pass: tiny models' tokens can all be equal
        expected = reference(input_ids=ids, attention_mask=mask, decoder_input_ids=seq[:, :-1]).logits
    diff = float((torch.stack(logits, 1) - expected).abs().max())
    same = seq.tolist() == want
    print(f"t5 encoder_model + decoder_model_merged (opset {_opset(work / 't5' / 'decoder_model_merged.onnx')}) "
          f"ORTModelForSeq2SeqLM greedy == PyTorch: {same} {seq.tolist()}, step logits max abs diff {diff:.2e}")
    return same and diff < 1e-3


def main() -> int:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    sys.path.insert(0, sys.argv[1])
    from optimum_load import shim_torch_onnx

    shim_torch_onnx()
    with tempfile.TemporaryDirectory(prefix="optimum-classes-") as tmp:
        work = Path(sys.argv[2]) if len(sys.argv) > 2 else Path(tmp)
        results = [check(work) for check in (_llama, _bert, _t5)]
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
