"""Checks the architecture sweep cannot make with its single validation batch.

* Longformer: the graph is traced on the global-attention branch; it must also match
  transformers on batches without any global token and on lengths that need no padding
  (transformers runs other code paths for both).
* Nyströmformer with landmarks: the sequence axis is static and dummy inputs use its length.
* The document-input generators: value ranges the embeddings accept.
"""

from __future__ import annotations

import numpy as np

from xporter_onnx.configs import find_arch
from xporter_onnx.configs.document_inputs import GlobalAttentionMaskGenerator, XPathInputGenerator
from xporter_onnx.normalized import NormalizedTextConfig


def test_longformer_graph_matches_transformers_for_any_global_pattern(tmp_path):
    import onnxruntime as ort
    import torch
    from transformers import AutoModel

    import xporter_onnx
    from xporter_onnx.testing import tiny_model_dir

    source = tiny_model_dir(find_arch("longformer"), "feature-extraction", tmp_path / "src")
    assert xporter_onnx.export(source, tmp_path / "onnx", task="feature-extraction").ok
    session = ort.InferenceSession(str(tmp_path / "onnx" / "model.onnx"), providers=["CPUExecutionProvider"])
    model = AutoModel.from_pretrained(str(source), attn_implementation="eager").eval()  # not patched
    rng = np.random.default_rng(0)
    # (no global token anywhere, a length needing no padding (window 6), mixed rows)
    for length, global_tokens in ((16, [[], []]), (12, [[], [0, 4]]), (7, [[0], [], [2, 5]])):
        batch = len(global_tokens)
        ids = rng.integers(3, 97, size=(batch, length))
        mask = np.ones_like(ids)
        mask[-1, length - 2:] = 0
        global_mask = np.zeros_like(ids)
        for row, columns in enumerate(global_tokens):
            global_mask[row, columns] = 1
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids),
                 "global_attention_mask": global_mask}
        (got,) = session.run(None, {i.name: feeds[i.name] for i in session.get_inputs()})
        with torch.no_grad():
            expected = model(**{k: torch.from_numpy(v) for k, v in feeds.items()}).last_hidden_state.numpy()
        assert got.shape == expected.shape
        assert np.abs(got - expected).max() < 1e-4, (length, global_tokens)


def test_nystromformer_landmarks_fix_the_sequence_axis():
    from transformers import NystromformerConfig

    row = find_arch("nystromformer")
    landmarks = row.config_class(NystromformerConfig(**row.tiny), task="question-answering")
    assert landmarks.inputs["input_ids"] == {0: "batch_size"}
    assert landmarks.outputs["start_logits"] == {0: "batch_size"}
    assert landmarks.generate_dummy_inputs("np", sequence_length=9)["input_ids"].shape == (2, 16)
    plain = row.config_class(NystromformerConfig(**dict(row.tiny, num_landmarks=16)), task="multiple-choice")
    assert plain.inputs["input_ids"] == {0: "batch_size", 1: "num_choices", 2: "sequence_length"}


class _Config:
    max_depth, tag_pad_id, subs_pad_id = 4, 19, 29
    max_xpath_tag_unit_embeddings, max_xpath_subs_unit_embeddings = 20, 30


def test_xpath_ids_stay_in_their_vocabularies_and_pad_below_the_node_depth():
    generator = XPathInputGenerator("token-classification", NormalizedTextConfig(_Config()), batch_size=3,
                                    sequence_length=5)
    tags = generator.generate("xpath_tags_seq", "np")
    subs = generator.generate("xpath_subs_seq", "np")
    assert tags.shape == subs.shape == (3, 5, 4)
    assert 0 <= tags.min() and tags.max() < 20 and 0 <= subs.min() and subs.max() < 30
    # real units sit below the pad ids; a unit is padding exactly where the node is shallower
    is_pad = tags == 19
    assert (is_pad == (subs == 29)).all() and is_pad.any() and (~is_pad).any()
    assert (tags[~is_pad] < 19).all() and (subs[~is_pad] < 29).all()
    assert (is_pad[..., :-1] <= is_pad[..., 1:]).all()  # padding only below the node's depth
    assert not is_pad[..., 0].any()  # every token's node has at least one level


def test_global_attention_mask_traces_the_global_branch_and_validation_varies_it():
    normalized = NormalizedTextConfig(_Config())
    trace = GlobalAttentionMaskGenerator("feature-extraction", normalized, batch_size=2, sequence_length=8)
    assert trace.generate("global_attention_mask", "np").tolist() == [[1] + [0] * 7] * 2
    check = GlobalAttentionMaskGenerator("feature-extraction", normalized, batch_size=3, sequence_length=9,
                                         padding=True, seed=1234).generate("global_attention_mask", "np")
    assert check[:-1, 0].all() and not check[-1].any()
