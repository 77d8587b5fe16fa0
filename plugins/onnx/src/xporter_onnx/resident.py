"""Hand the memory-mapped checkpoint's pages back to the kernel between export parts.

Why: transformers maps safetensors checkpoints, and every page a trace reads stays in the
process's resident set until the model is freed. A seq2seq export traces the encoder, then
the decoder twice: without this, the decoder's trace runs with the encoder's pages still
resident, i.e. all the weights plus the tracer (1.6x a 250M T5's weights at the peak). The
pages are clean copies of the file, so the kernel can drop them and fault them back in from
the page cache (or the disk) when the next part reads them; nothing is lost or recomputed.

Linux only (``MADV_PAGEOUT``, kernel 5.4+); elsewhere, or on an older kernel, it does nothing.
"""

from __future__ import annotations

import sys
from typing import Iterator, Tuple

MADV_PAGEOUT = 21  # <linux/mman.h>; Python's mmap module does not always export it
CHECKPOINT_SUFFIXES = (".safetensors",)


def _checkpoint_mappings(maps: str = "/proc/self/maps") -> Iterator[Tuple[int, int]]:
    """(start, end) of this process's mappings of checkpoint files."""
    with open(maps) as handle:
        for line in handle:
            fields = line.split(maxsplit=5)
            if len(fields) == 6 and fields[5].strip().endswith(CHECKPOINT_SUFFIXES):
                start, end = (int(value, 16) for value in fields[0].split("-"))
                yield start, end


def page_out_checkpoints() -> int:
    """Advise the kernel to reclaim every mapped checkpoint page; returns the bytes advised (0 when
    the platform cannot). A hint: pages are only dropped where they equal the file's contents."""
    if not sys.platform.startswith("linux"):
        return 0
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        ranges = list(_checkpoint_mappings())
    except OSError:
        return 0
    advised = 0
    for start, end in ranges:
        if libc.madvise(ctypes.c_void_p(start), ctypes.c_size_t(end - start), MADV_PAGEOUT) == 0:
            advised += end - start
    return advised
