"""TF >= 2.19 lowers exact GELU to Erfc; tf2onnx 1.17 keeps it and onnxruntime refuses the file.

The same tiny function is converted without and with the rewrite: without it the graph
holds an ``Erfc`` node and onnxruntime fails to load it; with it onnxruntime matches TF.
"""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture(scope="module")
def gelu_function():
    from xporter_tflite.tfenv import import_tf

    tf = import_tf()
    weight = tf.Variable(np.random.default_rng(0).standard_normal((8, 8)).astype(np.float32))  # frozen by tf2onnx
    spec = [tf.TensorSpec((None, 8), tf.float32, name="x")]

    @tf.function(input_signature=spec)
    def gelu(x):
        return {"y": tf.nn.gelu(tf.matmul(x, weight), approximate=False)}

    return gelu, spec


def _ops(model):
    return {node.op_type for node in model.graph.node}


def test_tensorflow_emits_erfc_and_ort_rejects_it_without_the_rewrite(gelu_function):
    import onnxruntime as ort

    from xporter_tflite.onnx_graph import unsupported_ops
    from xporter_tflite.tf_to_onnx import convert_function

    function, spec = gelu_function
    model, rewritten = convert_function(function, spec, opset=17, rewrite_erfc=False)
    assert rewritten == 0 and "Erfc" in _ops(model)
    assert unsupported_ops(model) == ["Erfc"]
    with pytest.raises(Exception, match="Erfc"):
        ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])


def test_rewrite_makes_the_graph_valid_and_exact(gelu_function):
    import onnx
    import onnxruntime as ort

    from xporter_tflite.tf_to_onnx import convert_function

    function, spec = gelu_function
    model, rewritten = convert_function(function, spec, opset=17, rewrite_erfc=True)
    assert rewritten == 1 and "Erfc" not in _ops(model) and "Erf" in _ops(model)
    onnx.checker.check_model(model)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    x = np.random.default_rng(1).standard_normal((3, 8)).astype(np.float32)
    (got,) = session.run(None, {"x": x})
    np.testing.assert_allclose(got, function(x)["y"].numpy(), atol=1e-6)


def test_rewrite_on_a_handmade_graph():
    """No TensorFlow involved: an ONNX graph with an Erfc node in the default domain."""
    import onnxruntime as ort
    from onnx import TensorProto, helper
    from scipy_free_erfc import erfc

    from xporter_tflite.onnx_graph import rewrite_erfc

    graph = helper.make_graph([helper.make_node("Erfc", ["x"], ["y"], name="e")], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    assert rewrite_erfc(model) == 1
    x = np.array([-2.0, -0.5, 0.0, 1.5], dtype=np.float32)
    (y,) = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})
    np.testing.assert_allclose(y, erfc(x), atol=1e-6)
