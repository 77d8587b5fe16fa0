"""Attach a PyTorch model's weights to a weight-less ONNX graph, one tensor at a time.

Why: ``torch.onnx.export`` with its parameters holds, at its peak, the model, the
constant-folded copies of every transposed weight, the in-memory proto with all
initializers and that proto's serialized bytes: 4.5x the weights for a 250M llama. Exporting
with ``export_params=False, do_constant_folding=False`` gives the same graph with each
weight as a graph input named by its ``state_dict`` key (TorchScript) and no copies. This
module turns those inputs back into initializers:

* into ``<model>.onnx_data`` (``external=True``): each tensor's bytes are written straight
  from the torch storage (a memory-mapped safetensors file when transformers loaded it so),
  offsets aligned to 64 KiB so ONNX Runtime can map them; nothing is held but one tensor;
* or inline in the proto (small models, below :data:`INLINE_LIMIT`).

``Transpose(weight)`` nodes (``nn.Linear`` traces to ``MatMul(x, Transpose(W))``) are folded
here, tensor by tensor, which is the folding the exporter would have done: the graph ends up
with ``MatMul`` reading a transposed initializer, as with ``do_constant_folding=True``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple

ALIGNMENT = 64 * 1024  # ONNX's largest allowed gap; a multiple of every page size
ALIGN_FROM = 1024 * 1024  # tensors smaller than this are packed without padding
INLINE_BELOW = 1024  # bytes: tiny tensors (scalars, norms of toy models) stay in the proto
INLINE_LIMIT = 2 * 1024**3 - 64 * 1024**2  # protobuf's 2 GB message limit, with headroom


class UnknownWeightInputs(ValueError):
    """The weight-less graph has inputs that are neither model inputs nor model tensors."""


def _onnx_type(dtype: Any) -> int:
    import torch
    from onnx import TensorProto

    table = {torch.float32: TensorProto.FLOAT, torch.float16: TensorProto.FLOAT16,
             torch.bfloat16: TensorProto.BFLOAT16, torch.float64: TensorProto.DOUBLE, torch.int64: TensorProto.INT64,
             torch.int32: TensorProto.INT32, torch.int16: TensorProto.INT16, torch.int8: TensorProto.INT8,
             torch.uint8: TensorProto.UINT8, torch.bool: TensorProto.BOOL}
    if dtype not in table:
        raise UnknownWeightInputs(f"no ONNX type for a {dtype} weight")
    return table[dtype]


def _byte_view(tensor: Any) -> memoryview:
    """The tensor's bytes without a copy when it is already contiguous (bf16 read as int16)."""
    import torch

    tensor = tensor.detach().cpu().contiguous()
    if tensor.dtype == torch.bfloat16:
        tensor = tensor.view(torch.int16)
    return memoryview(tensor.numpy()).cast("B")


def model_tensors(module: Any) -> Dict[str, Any]:
    """Parameters and buffers by the names TorchScript gives the graph inputs."""
    tensors = dict(module.named_buffers())
    tensors.update(module.named_parameters())
    return tensors


class DataWriter:
    """Appends tensors to one external data file (tiny ones into the proto) and builds their TensorProtos."""

    def __init__(self, data_path: Path, on_bytes: Callable[[int], None]) -> None:
        self.data_path = data_path
        self.handle = open(data_path, "wb")
        self.offset = 0
        self.on_bytes = on_bytes

    def tensor_proto(self, name: str, tensor: Any, perm: Optional[List[int]] = None) -> Any:
        """The TensorProto of ``tensor`` (``tensor.permute(perm)`` when ``perm`` is given: a folded
        Transpose, written to the data file in blocks of rows, never materialized whole)."""
        proto = _meta_proto(name, tensor, perm)
        nbytes = tensor.numel() * tensor.element_size()
        if nbytes >= INLINE_BELOW:
            self.place_pieces(proto, _tensor_pieces(tensor, perm), nbytes)
        else:
            self.place(proto, _byte_view(tensor.permute(*perm) if perm else tensor))
        return proto

    def place(self, proto: Any, data: Any) -> None:
        """Give ``proto`` its bytes ``data``: inline, or appended to the data file (64 KiB-aligned from
        :data:`ALIGN_FROM`) with an external reference."""
        data = memoryview(data).cast("B")
        if data.nbytes < INLINE_BELOW:
            proto.raw_data = data.tobytes()
            self.on_bytes(data.nbytes)
        else:
            self.place_pieces(proto, [data], data.nbytes)

    def place_pieces(self, proto: Any, pieces: Iterable[Any], nbytes: int) -> None:
        """Append ``nbytes`` given as consecutive ``pieces`` to the data file as ``proto``'s bytes."""
        from onnx import TensorProto

        if nbytes >= ALIGN_FROM and self.offset % ALIGNMENT:
            pad = ALIGNMENT - self.offset % ALIGNMENT
            self.handle.write(b"\0" * pad)
            self.offset += pad
        start = self.offset
        for piece in pieces:
            piece = memoryview(piece).cast("B")
            self.handle.write(piece)
            self.offset += piece.nbytes
        if self.offset - start != nbytes:
            raise ValueError(f"{proto.name}: wrote {self.offset - start} bytes, expected {nbytes}")
        proto.data_location = TensorProto.EXTERNAL
        for key, value in (("location", self.data_path.name), ("offset", start), ("length", nbytes)):
            entry = proto.external_data.add()
            entry.key, entry.value = key, str(value)
        self.on_bytes(nbytes)

    def close(self) -> None:
        if self.handle is not None:
            self.handle.close()


def _meta_proto(name: str, tensor: Any, perm: Optional[List[int]] = None) -> Any:
    """A TensorProto with ``tensor``'s name, type and (permuted) dims, and no data yet."""
    from onnx import TensorProto

    proto = TensorProto()
    proto.name = name
    proto.data_type = _onnx_type(tensor.dtype)
    proto.dims.extend(int(tensor.shape[axis]) for axis in (perm or range(tensor.dim())))
    return proto


def _tensor_pieces(tensor: Any, perm: Optional[List[int]]) -> Iterable[memoryview]:
    return _permuted_pieces(tensor, perm) if perm else [_byte_view(tensor)]


PIECE_BYTES = 16 * 1024**2  # a folded transpose is written in row blocks of about this size


def _permuted_pieces(tensor: Any, perm: List[int]) -> Iterable[memoryview]:
    """The bytes of ``tensor.permute(perm)`` in row order, one block of its rows in memory at a time.

    Why: ``nn.Linear``'s weight is stored (out, in) and the graph reads it transposed; the whole
    transposed copy of a 32k-vocabulary LM head is 0.13 GB (fp32, hidden 1024) on top of everything
    else at the export's peak. Rows ``a:b`` of the permuted tensor are ``tensor`` sliced on axis
    ``perm[0]``, so each block is a small contiguous copy."""
    tensor = tensor.detach()
    if tensor.dim() == 0:
        yield _byte_view(tensor)
        return
    lead = perm[0]
    rows = int(tensor.shape[lead])
    row_bytes = max(1, tensor.numel() // max(rows, 1)) * tensor.element_size()
    step = max(1, PIECE_BYTES // row_bytes)
    for first in range(0, rows, step):
        yield _byte_view(tensor.narrow(lead, first, min(step, rows - first)).permute(*perm))


def _consumers(graph: Any) -> Dict[str, List[int]]:
    """Value name -> indices of the nodes that read it (indices: protobuf wrappers are not stable objects)."""
    users: Dict[str, List[int]] = {}
    for index, node in enumerate(graph.node):
        for name in node.input:
            users.setdefault(name, []).append(index)
    return users


def _perm(node: Any) -> Optional[List[int]]:
    for attribute in node.attribute:
        if attribute.name == "perm":
            return list(attribute.ints)
    return None


def _keep_only(repeated: Any, wanted: Callable[[int, Any], bool]) -> None:
    """Filter a repeated message field in place (copies first: removed wrappers may dangle)."""
    kept = []
    for index, item in enumerate(repeated):
        if wanted(index, item):
            copy = type(item)()
            copy.CopyFrom(item)
            kept.append(copy)
    del repeated[:]
    repeated.extend(kept)


def weight_bytes(tensors: Iterable[Any]) -> int:
    return sum(t.numel() * t.element_size() for t in tensors)


def attach_weights(model: Any, tensors: Dict[str, Any], model_inputs: Iterable[str], target: Path,
                   external: bool, on_bytes: Callable[[int], None] = lambda n: None) -> Optional[Path]:
    """Replace ``model``'s weight inputs by initializers from ``tensors`` and save it as ``target``.

    ``model_inputs``: the real inputs (kept). Returns the external data file, or None when the
    weights went inline. Raises :class:`UnknownWeightInputs` when an input is neither.
    """
    import onnx

    graph = model.graph
    keep = set(model_inputs)
    weights = [value.name for value in graph.input if value.name not in keep]
    unknown = [name for name in weights if name not in tensors]
    if unknown:
        raise UnknownWeightInputs(f"graph inputs {unknown[:3]} are not model tensors")
    users = _consumers(graph)
    outputs = {value.name for value in graph.output}
    folded = sorted({index for name in weights for index in users.get(name, [])  # Transposes to fold
                     if graph.node[index].op_type == "Transpose" and graph.node[index].output[0] not in outputs})
    folded_set = set(folded)
    plan = []  # (initializer name, source tensor, permutation of a folded Transpose or None)
    for index in folded:
        node = graph.node[index]
        source = tensors[node.input[0]]
        plan.append((node.output[0], source, _perm(node) or list(reversed(range(source.dim())))))
    for name in weights:
        if any(index not in folded_set for index in users.get(name, [])) or name in outputs:
            plan.append((name, tensors[name], None))
    _keep_only(graph.node, lambda index, node: index not in folded_set)
    _keep_only(graph.input, lambda index, value: value.name in keep)
    if not external:
        _save_inline(model, plan, target, on_bytes)
        return None
    data_path = target.with_name(target.name + "_data")
    writer = DataWriter(data_path, on_bytes)
    try:
        initializers = [writer.tensor_proto(*entry) for entry in plan]
    finally:
        writer.close()
    graph.initializer.extend(initializers)
    onnx.save_model(model, str(target))
    return data_path


def _save_inline(model: Any, plan: List[Any], target: Path, on_bytes: Callable[[int], None]) -> None:
    """``model`` plus the ``plan``'s tensors inline, in :func:`append_initializers`' layout, each tensor's
    bytes written straight from its torch storage after a framed piece header (:func:`_piece_header`):
    no copy in a protobuf message and none in its serialized string (0.3 GiB more at the peak of a
    250M T5 encoder's write when they went through protobuf)."""
    import onnx

    onnx.save_model(model, str(target))
    with open(target, "ab") as handle:
        for name, tensor, perm in plan:
            nbytes = tensor.numel() * tensor.element_size()
            handle.write(_piece_header(_meta_proto(name, tensor, perm), nbytes))
            for piece in _tensor_pieces(tensor, perm):
                handle.write(piece)
            on_bytes(nbytes)


def _external_info(tensor: Any) -> Dict[str, str]:
    return {entry.key: entry.value for entry in tensor.external_data}


class ExternalReader:
    """The bytes of externally stored tensors, read with ``os.pread`` one tensor at a time.

    Why not a memory map: every page of a mapped file that is read counts in the process's RSS
    until unmapped, so hashing or copying a decoder's weights through a map holds them all once
    more in memory (the page cache still has them; the process does not)."""

    def __init__(self, folder: Path) -> None:
        self.folder, self.handles = Path(folder), {}

    def locate(self, tensor: Any) -> Tuple[int, int, int]:
        """(open file descriptor, offset, length) of ``tensor``'s bytes."""
        import os

        info = _external_info(tensor)
        location = info["location"]
        if location not in self.handles:
            self.handles[location] = os.open(self.folder / location, os.O_RDONLY)
        handle = self.handles[location]
        offset = int(info.get("offset", 0))
        length = int(info["length"]) if "length" in info else os.fstat(handle).st_size - offset
        return handle, offset, length

    def __call__(self, tensor: Any) -> bytes:
        import os

        handle, offset, length = self.locate(tensor)
        data = os.pread(handle, length, offset)
        if len(data) != length:
            raise ValueError(f"{tensor.name}'s data file ends before its {length} bytes at offset {offset}")
        return data

    def close(self) -> None:
        import os

        for handle in self.handles.values():
            os.close(handle)
        self.handles.clear()


def _make_inline(tensor: Any, read: ExternalReader) -> None:
    from onnx import TensorProto

    tensor.raw_data = read(tensor)
    del tensor.external_data[:]
    tensor.data_location = TensorProto.DEFAULT


def inline_weights(path: Path) -> None:
    """Move the external weights of the graph ``path`` back into the file and delete its data files.

    The export stages a merged seq2seq decoder's sources with external weights (the merge and its
    check then read them without holding a second copy, see :mod:`.merge`); a model under
    :data:`INLINE_LIMIT` that the user wants in one file is rewritten here to a temporary file
    renamed over ``path`` (an interrupted rewrite leaves the external form intact): the weight-less
    model, then the initializers appended by :func:`append_initializers` (kernel copies; through
    protobuf messages a 600 MiB decoder took 1.5-3 s and 0.3 GiB more memory).
    """
    import os

    import onnx
    from onnx import TensorProto

    path = Path(path)
    model = onnx.load(str(path), load_external_data=False)
    graph = model.graph
    stored = [t for t in graph.initializer if t.data_location == TensorProto.EXTERNAL]
    total = sum(int(_external_info(t).get("length", 0)) for t in stored)
    if total >= INLINE_LIMIT:
        raise ValueError(f"{path.name}'s weights ({total / 2**30:.1f} GiB) exceed protobuf's 2 GB limit")
    read = ExternalReader(path.parent)
    locations = {_external_info(t)["location"] for t in stored}
    temporary = path.with_name(path.name + ".inline-tmp")
    try:
        for node in graph.node:  # attribute tensors (Constant nodes): small, inlined in the graph proto
            for attribute in node.attribute:
                if attribute.HasField("t") and attribute.t.data_location == TensorProto.EXTERNAL:
                    locations.add(_external_info(attribute.t)["location"])
                    _make_inline(attribute.t, read)
        initializers = [tensor.SerializeToString() for tensor in graph.initializer]  # references: small
        del graph.initializer[:]
        onnx.save_model(model, str(temporary))
        append_initializers(temporary, (TensorProto.FromString(serialized) for serialized in initializers), read)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    finally:
        read.close()
    os.replace(temporary, path)
    for location in locations:
        (path.parent / location).unlink(missing_ok=True)


def append_initializers(target: Path, tensors: Iterable[Any], read: ExternalReader) -> None:
    """Append ``tensors`` to the saved (weight-less) model file ``target`` as inline initializers.

    Building every initializer into the proto and serializing it holds the weights three more times
    (raw bytes, the proto's copy, the serialized string): 5.8x the weights at the peak for a 250M
    fp16 llama. Protobuf parses concatenated messages as one merged message (repeated fields
    append, a nested message merges), so the file is the weight-less model followed by one small
    ``ModelProto`` per initializer, each holding only ``graph.initializer[0]``: any ONNX reader
    loads the same model. An external tensor's piece is framed by :func:`_piece_header` and its
    bytes copied from its data file by the kernel (``copy_file_range``): no weight passes through
    Python or protobuf. Inline tensors go through protobuf (in the staged graphs, they are tiny)."""
    import os

    import onnx
    from onnx import TensorProto

    handle = os.open(target, os.O_WRONLY)
    try:
        os.lseek(handle, 0, os.SEEK_END)
        for tensor in tensors:
            if tensor.data_location != TensorProto.EXTERNAL:
                piece = onnx.ModelProto()
                piece.graph.initializer.append(tensor)
                _write_all(handle, piece.SerializeToString())
                continue
            source, offset, length = read.locate(tensor)
            _write_all(handle, _piece_header(tensor, length))
            _copy_range(source, handle, offset, length)
    finally:
        os.close(handle)


# Protobuf keys (field number << 3 | 2, length-delimited) of ModelProto.graph (7), GraphProto.initializer (5)
# and TensorProto.raw_data (9): the path from a model to one initializer's bytes.
_GRAPH_KEY, _INITIALIZER_KEY, _RAW_DATA_KEY = b"\x3a", b"\x2a", b"\x4a"


def _varint(value: int) -> bytes:
    """Protobuf's base-128 varint encoding of a non-negative int."""
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _piece_header(reference: Any, length: int) -> bytes:
    """The serialized ``ModelProto`` holding only ``graph.initializer[0]`` = ``reference`` with its
    ``length`` bytes inline, up to where those bytes start (the caller writes them next). The tensor's
    own fields come from protobuf; only the three enclosing length prefixes are framed here."""
    from onnx import TensorProto

    meta = TensorProto()
    meta.CopyFrom(reference)
    del meta.external_data[:]
    meta.ClearField("data_location")
    tensor = meta.SerializeToString() + _RAW_DATA_KEY + _varint(length)
    initializer = _INITIALIZER_KEY + _varint(len(tensor) + length) + tensor
    return _GRAPH_KEY + _varint(len(initializer) + length) + initializer


def _write_all(handle: int, data: bytes) -> None:
    import os

    view = memoryview(data)
    while view:
        view = view[os.write(handle, view):]


def _copy_range(source: int, target: int, offset: int, length: int) -> None:
    """Append ``length`` bytes of ``source`` from ``offset`` to ``target`` (at its position): in the
    kernel where it can (``copy_file_range``), else through 16 MiB reads."""
    import errno
    import os

    kernel = hasattr(os, "copy_file_range")
    while length:
        copied = 0
        if kernel:
            try:
                copied = os.copy_file_range(source, target, min(length, 1 << 30), offset)
            except OSError as exc:
                if exc.errno not in (errno.EXDEV, errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.EBADF):
                    raise
                kernel = False
        if not copied:
            data = os.pread(source, min(length, PIECE_BYTES), offset)
            if not data:
                raise ValueError(f"the data file ends {length} bytes early at offset {offset}")
            _write_all(target, data)
            copied = len(data)
        offset += copied
        length -= copied
