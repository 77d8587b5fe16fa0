"""Large-model export path: weights streamed to external data, the model freed before ONNX Runtime.

A ~20M-parameter llama stands in for the large ones (the peak-RSS figures are bench work:
``bench/bench_scale.py``); these tests check the mechanics the memory bound rests on.
"""

from __future__ import annotations

import gc
import weakref

import pytest

pytest.importorskip("onnxruntime")


@pytest.fixture(scope="module")
def llama_dir(tmp_path_factory):
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(hidden_size=256, num_hidden_layers=4, intermediate_size=1024, vocab_size=32000,
                         num_attention_heads=8, num_key_value_heads=4, max_position_embeddings=128,
                         tie_word_embeddings=False)
    folder = tmp_path_factory.mktemp("llama-20m")
    LlamaForCausalLM(config).save_pretrained(str(folder))
    return folder


def _spy_on_validation(monkeypatch):
    """Record, when ONNX Runtime validation starts, whether a LlamaForCausalLM is still alive."""
    from xporter_onnx import exporter

    seen = []
    original = exporter.validate_part

    def spy(check, *args, **kwargs):
        gc.collect()
        seen.append([ref for ref in REFS if ref() is not None])
        return original(check, *args, **kwargs)

    monkeypatch.setattr(exporter, "validate_part", spy)
    return seen


REFS: list = []


def _track_loaded_models(monkeypatch):
    from xporter_onnx import exporter

    original = exporter.load_model

    def tracking(*args, **kwargs):
        model = original(*args, **kwargs)
        REFS.append(weakref.ref(model))
        return model

    monkeypatch.setattr(exporter, "load_model", tracking)


def test_external_data_export_validates_after_the_model_is_freed(llama_dir, tmp_path, monkeypatch):
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto

    from xporter_onnx import exporter

    REFS.clear()
    _track_loaded_models(monkeypatch)
    seen = _spy_on_validation(monkeypatch)
    out = tmp_path / "out"
    report = exporter.export(llama_dir, out, task="text-generation-with-past", external_data=True)
    assert report.ok and report.validation
    assert len(REFS) == 1 and seen == [[]], "the PyTorch model was alive when ONNX Runtime validation started"
    assert (out / "model.onnx_data").is_file()
    assert {"model.onnx", "model.onnx_data"} <= set(report.files)
    graph = onnx.load(str(out / "model.onnx"), load_external_data=False).graph
    external = [t for t in graph.initializer if t.data_location == TensorProto.EXTERNAL]
    weights = sum(int(e.value) for t in external for e in t.external_data if e.key == "length")
    assert weights >= 0.99 * (out / "model.onnx_data").stat().st_size - 64 * 1024 * len(external)
    assert (out / "model.onnx").stat().st_size < 2 * 1024**2  # the graph file holds no weights
    # no weight stays a graph input, and nn.Linear's transposes were folded into the initializers
    assert [i.name for i in graph.input if "weight" in i.name] == []
    assert not any(n.op_type == "Transpose" and n.input[0] in {t.name for t in graph.initializer} for n in graph.node)
    # large tensors sit at 64 KiB-aligned offsets (ONNX Runtime can map them)
    offsets = [int(e.value) for t in external for e in t.external_data if e.key == "offset"
               if int(next(x.value for x in t.external_data if x.key == "length")) >= 1024**2]
    assert offsets and all(offset % (64 * 1024) == 0 for offset in offsets)
    session = ort.InferenceSession(str(out / "model.onnx"), providers=["CPUExecutionProvider"])
    assert [o.name for o in session.get_outputs()][0] == "logits"


def test_automatic_external_data_threshold(llama_dir, tmp_path, monkeypatch):
    from xporter_onnx import exporter, torch_export

    monkeypatch.setattr(torch_export, "AUTO_EXTERNAL_BYTES", 1024**2)  # the 80 MB model counts as "large"
    report = exporter.export(llama_dir, tmp_path / "auto", task="text-generation", validate=False)
    assert "model.onnx_data" in report.files
    report = exporter.export(llama_dir, tmp_path / "inline", task="text-generation", external_data=False,
                             validate=False)
    assert "model.onnx_data" not in report.files and report.files["model.onnx"]["bytes"] > 50 * 1024**2


def test_inline_export_matches_external_data_export(llama_dir, tmp_path):
    """The same weights either way: the streamed writer and the inline one agree byte for byte."""
    import numpy as np
    import onnx
    from onnx import numpy_helper

    from xporter_onnx import exporter

    exporter.export(llama_dir, tmp_path / "a", task="text-generation", external_data=False, validate=False)
    exporter.export(llama_dir, tmp_path / "b", task="text-generation", external_data=True, validate=False)
    inline = {t.name: numpy_helper.to_array(t) for t in onnx.load(str(tmp_path / "a" / "model.onnx")).graph.initializer}
    external = {t.name: numpy_helper.to_array(t)
                for t in onnx.load(str(tmp_path / "b" / "model.onnx")).graph.initializer}
    assert inline.keys() == external.keys() and len(inline) > 10
    assert all(np.array_equal(inline[name], external[name]) for name in inline)


def test_bf16_export_writes_bf16_weights(llama_dir, tmp_path):
    """Half-precision weights are written as they are held (no fp32 copy in the data file)."""
    import onnx
    from onnx import TensorProto

    from xporter_onnx import exporter

    report = exporter.export(llama_dir, tmp_path / "half", task="text-generation", dtype="bf16", external_data=True,
                             validate=False)  # ONNX Runtime's CPU provider has no bf16 MatMul to validate with
    graph = onnx.load(str(tmp_path / "half" / "model.onnx"), load_external_data=False).graph
    big = [t for t in graph.initializer if t.data_location == TensorProto.EXTERNAL]
    assert big and all(t.data_type == TensorProto.BFLOAT16 for t in big)
    assert report.files["model.onnx_data"]["bytes"] < 0.55 * (llama_dir / "model.safetensors").stat().st_size


def test_progress_reports_weight_bytes(llama_dir, tmp_path):
    import io

    from xporter.progress import Progress
    from xporter_onnx import exporter

    stream = io.StringIO()
    exporter.export(llama_dir, tmp_path / "p", task="text-generation", external_data=True, validate=False,
                    progress=Progress(stream=stream))
    lines = [line for line in stream.getvalue().splitlines() if "write weights of model.onnx" in line]
    assert lines and "MiB" in lines[-1] and "done in" in lines[-1]


@pytest.mark.parametrize("external", [True, False, None], ids=["external", "inline", "auto"])
def test_merged_seq2seq_decoder_streams_its_weights(tmp_path, external):
    """The merge reads both decoders without their external data and writes each shared weight once:
    to decoder_model_merged.onnx_data when the sources are external (they are staged so whatever the
    user asked), then moved inline unless external data was asked for (or the weights are large); both
    branches are checked against the source graphs (exact), and the report's checksums are the files'."""
    import onnx
    import onnxruntime as ort

    from xporter.report import sha256_of

    from xporter_onnx import exporter
    from xporter_onnx.testing import find_row, tiny_model_dir

    source = tiny_model_dir(find_row("t5"), "text2text-generation", tmp_path / "t5")
    out = tmp_path / "out"
    report = exporter.export(source, out, task="text2text-generation-with-past", external_data=external)
    merged = [check for check in report.validation if check.part == "decoder_model_merged"]
    assert report.ok and len(merged) == 1 and all(c.max_abs_diff == 0.0 for c in merged[0].outputs)
    data_files = sorted(path.name for path in out.glob("*_data"))
    decoders = ["decoder_model.onnx", "decoder_with_past_model.onnx", "decoder_model_merged.onnx"]
    assert data_files == (sorted(name + "_data" for name in ["encoder_model.onnx", *decoders]) if external else [])
    assert sorted(report.files) == sorted(path.name for path in out.iterdir() if not path.name.startswith((".", "export_report")))
    assert all(entry["sha256"] == sha256_of(out / name) for name, entry in report.files.items())
    for name in decoders:
        ort.InferenceSession(str(out / name), providers=["CPUExecutionProvider"])
    model = onnx.load(str(out / "decoder_model_merged.onnx"))
    names = [t.name for t in model.graph.initializer]
    assert len(names) == len(set(names)) and names  # one definition per weight, none left in the branches
    decoder = onnx.load(str(out / "decoder_model.onnx"))
    shared = sum(t.ByteSize() for t in decoder.graph.initializer)
    assert sum(t.ByteSize() for t in model.graph.initializer) < 1.5 * shared  # not stored twice
    onnx.checker.check_model(str(out / "decoder_model_merged.onnx"))


@pytest.mark.parametrize("shape,perm", [((6, 10), [1, 0]), ((3, 4, 5), [2, 0, 1]), ((7,), [0])])
def test_folded_transposes_are_written_in_blocks(tmp_path, monkeypatch, shape, perm):
    """A folded Transpose goes to the data file block by block (rows of the permuted tensor), and the
    bytes equal the whole permuted tensor's, for fp32 and bf16."""
    import numpy as np
    import onnx
    import torch
    from onnx import numpy_helper

    from xporter_onnx import external_data

    monkeypatch.setattr(external_data, "PIECE_BYTES", 40)  # a few rows per block
    monkeypatch.setattr(external_data, "INLINE_BELOW", 0)  # even these tiny tensors go to the file
    for dtype in (torch.float32, torch.bfloat16):
        source = torch.arange(int(np.prod(shape)), dtype=torch.float32).reshape(shape).to(dtype)
        pieces = list(external_data._permuted_pieces(source, perm))
        assert len(pieces) > 1 or shape == (7,)
        writer = external_data.DataWriter(tmp_path / "w.onnx_data", lambda n: None)
        proto = writer.tensor_proto("t", source, perm)
        writer.close()
        assert list(proto.dims) == [shape[axis] for axis in perm]
        onnx.external_data_helper.load_external_data_for_tensor(proto, str(tmp_path))
        got = numpy_helper.to_array(proto)
        expected = source.permute(*perm).float().numpy()
        assert np.array_equal(np.asarray(got, dtype=np.float32), expected)


@pytest.mark.skipif(not __import__("sys").platform.startswith("linux"), reason="MADV_PAGEOUT is Linux's")
def test_checkpoint_pages_are_handed_back_and_stay_correct(tmp_path):
    """page_out_checkpoints drops a mapped safetensors file's resident pages (the kernel may keep a
    few) and the mapping still reads the file's bytes afterwards; other mappings are left alone."""
    import mmap

    from xporter_onnx.resident import _checkpoint_mappings, page_out_checkpoints

    payload = bytes(range(256)) * (64 * 1024)  # 16 MiB
    path = tmp_path / "model.safetensors"
    path.write_bytes(payload)

    def resident_kib(start):
        lines = open("/proc/self/smaps").read().splitlines()
        for index, line in enumerate(lines):
            if line.startswith(f"{start:x}-"):
                return next(int(x.split()[1]) for x in lines[index + 1:] if x.startswith("Rss:"))
        raise AssertionError("mapping not found")

    with open(path, "rb") as handle:
        mapped = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
    try:
        assert sum(mapped[i + 1] for i in range(0, len(payload), 4096)) == len(payload) // 4096  # touch every page
        start = next(s for s, e in _checkpoint_mappings() if e - s == len(payload))
        before = resident_kib(start)
        assert page_out_checkpoints() >= len(payload)
        after = resident_kib(start)
        assert before >= 16 * 1024 - 64 and after < before / 2
        assert mapped[:] == payload
    finally:
        mapped.close()


def test_inline_weights_rewrites_an_external_graph_byte_for_byte(llama_dir, tmp_path):
    """inline_weights: every initializer equal to the external original, the data file gone, the file
    loadable by onnx (checker) and ONNX Runtime with the same outputs."""
    import numpy as np
    import onnx
    import onnxruntime as ort
    from onnx import numpy_helper

    from xporter_onnx import exporter
    from xporter_onnx.external_data import inline_weights

    exporter.export(llama_dir, tmp_path / "ext", task="feature-extraction", external_data=True, validate=False)
    path = tmp_path / "ext" / "model.onnx"
    before = {t.name: numpy_helper.to_array(t) for t in onnx.load(str(path)).graph.initializer}
    feed = {"input_ids": np.array([[1, 2, 3]], dtype=np.int64), "attention_mask": np.ones((1, 3), dtype=np.int64),
            "position_ids": np.arange(3, dtype=np.int64)[None]}
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    expected = session.run(None, {k: v for k, v in feed.items() if k in {i.name for i in session.get_inputs()}})
    del session
    inline_weights(path)
    assert not (tmp_path / "ext" / "model.onnx_data").exists()
    after = onnx.load(str(path))
    assert all(t.data_location != onnx.TensorProto.EXTERNAL for t in after.graph.initializer)
    got = {t.name: numpy_helper.to_array(t) for t in after.graph.initializer}
    assert got.keys() == before.keys() and max(v.nbytes for v in got.values()) > 2**21  # 3-byte length prefixes
    assert all(np.array_equal(got[name], before[name]) for name in before)
    onnx.checker.check_model(str(path))
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    outputs = session.run(None, {k: v for k, v in feed.items() if k in {i.name for i in session.get_inputs()}})
    assert all(np.array_equal(a, b) for a, b in zip(outputs, expected))


def test_merge_of_inline_decoders_called_directly(tmp_path):
    """merge_decoders on two inline decoder graphs (the exporter always stages them external; a caller
    merging an existing folder does not): one inline file, every weight once, both branches exact."""
    import numpy as np
    import onnx

    from xporter_onnx import exporter
    from xporter_onnx.merge import check_merged, merge_decoders
    from xporter_onnx.testing import find_row, tiny_model_dir

    source = tiny_model_dir(find_row("t5"), "text2text-generation", tmp_path / "t5")
    out = tmp_path / "out"
    report = exporter.export(source, out, task="text2text-generation-with-past", merge_decoders=False)
    assert not list(out.glob("*_data"))
    first, later = out / "decoder_model.onnx", out / "decoder_with_past_model.onnx"
    target = merge_decoders(first, later, out / "merged.onnx", external_data=False)
    assert not (out / "merged.onnx_data").exists()
    names = [t.name for t in onnx.load(str(target)).graph.initializer]
    assert names and len(names) == len(set(names))
    onnx.checker.check_model(str(target))
    rng = np.random.default_rng(0)

    def value(key, shape):  # masks of ones, small token ids, hidden states and caches as floats
        if key.endswith("mask"):
            return np.ones(shape, np.int64)
        return rng.integers(1, 5, shape) if key.endswith("ids") else rng.standard_normal(shape).astype(np.float32)

    def feed(shapes):
        return {key: value(key, shape) for key, shape in shapes.items()}

    result = check_merged(target, first, later, *(feed(report.parts[name]["trace_shapes"])
                                                  for name in ("decoder_model", "decoder_with_past_model")))
    assert result.outputs and all(check.max_abs_diff == 0.0 for check in result.outputs)


def test_one_file_refused_for_a_merged_decoder_past_protobufs_limit(tmp_path, monkeypatch):
    """external_data=False with decoder weights past protobuf's limit (lowered here): one line naming
    --external-data, and nothing left at the output path."""
    from xporter.errors import ExportError

    from xporter_onnx import exporter, external_data
    from xporter_onnx.testing import find_row, tiny_model_dir

    source = tiny_model_dir(find_row("t5"), "text2text-generation", tmp_path / "t5")
    monkeypatch.setattr(external_data, "INLINE_LIMIT", 1024)  # read by inline_weights only
    with pytest.raises(ExportError) as refused:
        exporter.export(source, tmp_path / "out", task="text2text-generation-with-past", external_data=False,
                        validate=False)
    message = str(refused.value)
    assert "cannot keep decoder_model.onnx in one file" in message and "--external-data" in message
    assert len(message.splitlines()) == 1 and not (tmp_path / "out").exists()
