"""The ATen ops the TorchScript exporter lacks (``xporter_onnx.symbolics``) match PyTorch in ONNX Runtime
on other shapes than the trace, at the old default opset and at 18 (ReduceMean's axes moved to an input)."""

from __future__ import annotations

import io

import numpy as np
import pytest


class _Ops:
    @staticmethod
    def module():
        import torch

        class Ops(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.norm, self.norm_default_eps = torch.nn.RMSNorm(8, eps=1e-5), torch.nn.RMSNorm(8)
                torch.nn.init.normal_(self.norm.weight)

            def forward(self, x, expert_ids):  # histc as routers use it: expert loads over [0, experts - 1]
                return (self.norm(x), self.norm_default_eps(x), torch.histc(expert_ids.float(), bins=4, min=0, max=3),
                        torch.expm1(x))

        return Ops().eval()


@pytest.mark.parametrize("opset", [14, 18])
def test_missing_ops_match_pytorch(opset):
    import onnxruntime as ort
    import torch

    from xporter_onnx.symbolics import register_missing_ops

    register_missing_ops()
    model, buffer = _Ops.module(), io.BytesIO()
    torch.onnx.export(model, (torch.randn(2, 3, 8), torch.tensor([[0, 1, 1, 3], [3, 3, 2, 5]])), buffer,
                      dynamo=False, opset_version=opset, input_names=["x", "ids"],
                      dynamic_axes={"x": {0: "batch"}, "ids": {0: "batch", 1: "tokens"}})
    session = ort.InferenceSession(buffer.getvalue(), providers=["CPUExecutionProvider"])
    x, ids = torch.randn(4, 3, 8), torch.randint(0, 6, (3, 7))  # ids 4 and 5 fall outside the range: not counted
    got = session.run(None, {"x": x.numpy(), "ids": ids.numpy()})
    with torch.no_grad():
        expected = model(x, ids)
    for actual, reference in zip(got, expected):
        np.testing.assert_allclose(actual, reference.numpy(), atol=1e-5)


def test_registration_is_idempotent():
    import torch

    from xporter_onnx.symbolics import register_missing_ops

    register_missing_ops()
    register_missing_ops()  # a second export in the same process registers nothing twice

    class Norm(torch.nn.Module):
        def forward(self, x):
            return torch.nn.functional.rms_norm(x, (8,))

    buffer = io.BytesIO()
    torch.onnx.export(Norm(), (torch.randn(2, 8),), buffer, dynamo=False, opset_version=18)
    assert b"ReduceMean" in buffer.getvalue()


@pytest.mark.parametrize("mode", ["bicubic", "bilinear"])
def test_antialiased_resize_matches_pytorch_at_opset_18(mode):
    """Position-embedding resizes (DINOv2 with registers) use PyTorch's PIL-style antialiased bicubic."""
    import onnxruntime as ort
    import torch

    from xporter_onnx.symbolics import register_missing_ops

    class Resize(torch.nn.Module):
        def forward(self, x, like):
            return torch.nn.functional.interpolate(x, size=like.shape[2:], mode=mode, align_corners=False,
                                                   antialias=True)

    register_missing_ops()
    buffer = io.BytesIO()
    torch.onnx.export(Resize(), (torch.randn(1, 4, 6, 6), torch.zeros(1, 1, 3, 5)), buffer, dynamo=False,
                      opset_version=18, input_names=["x", "like"], dynamic_axes={"like": {2: "h", 3: "w"}})
    session = ort.InferenceSession(buffer.getvalue(), providers=["CPUExecutionProvider"])
    for height, width in [(3, 5), (4, 4), (8, 9)]:  # down, down, up
        x, like = torch.randn(1, 4, 6, 6), torch.zeros(1, 1, height, width)
        got = session.run(None, {"x": x.numpy(), "like": like.numpy()})[0]
        np.testing.assert_allclose(got, Resize()(x, like).numpy(), atol=1e-5)
    with pytest.raises(Exception, match="opset 18"):
        torch.onnx.export(Resize(), (torch.randn(1, 4, 6, 6), torch.zeros(1, 1, 3, 5)), io.BytesIO(), dynamo=False,
                          opset_version=17)


def test_unfold_full_and_ior_on_shapes_the_trace_lost():
    """idefics3's pixel-mask patching: unfold after a data-dependent gather (sizes unknown to the
    exporter), ``torch.full`` with an int fill and no dtype, and smolvlm's in-place ``|=``."""
    import onnxruntime as ort
    import torch

    from xporter_onnx.symbolics import register_missing_ops

    class Patches(torch.nn.Module):
        def forward(self, images, mask):
            keep = (images == 0).sum(dim=(-1, -2)) != images.shape[-1] * images.shape[-2]
            keep[0] |= ~torch.any(keep)  # keep the first when all are padding
            windows = mask[keep].unfold(1, 4, 4).unfold(2, 4, 4)  # (kept, H/4, W/4, 4, 4)
            ids = torch.full((windows.shape[0], 4), fill_value=0)
            return windows.sum(dim=(-1, -2)), ids + keep.sum()

    register_missing_ops()
    model, buffer = Patches().eval(), io.BytesIO()
    images, mask = torch.randn(3, 8, 8), torch.rand(3, 8, 8) > 0.5
    torch.onnx.export(model, (images, mask), buffer, dynamo=False, opset_version=18, input_names=["images", "mask"],
                      dynamic_axes={"images": {0: "n"}, "mask": {0: "n"}})
    session = ort.InferenceSession(buffer.getvalue(), providers=["CPUExecutionProvider"])
    images, mask = torch.randn(5, 8, 8), torch.rand(5, 8, 8) > 0.5
    images[2] = 0  # a padding image is dropped
    for pixels in (images, torch.zeros(4, 8, 8)):  # all padding: |= keeps the first
        got = session.run(None, {"images": pixels.numpy(), "mask": mask[: len(pixels)].numpy()})
        expected = model(pixels, mask[: len(pixels)])
        for actual, reference in zip(got, expected):
            assert actual.dtype == reference.numpy().dtype
            np.testing.assert_array_equal(actual, reference.numpy())
