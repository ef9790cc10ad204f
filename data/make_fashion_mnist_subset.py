"""Regenerate ``data/fashion-mnist-subset/`` from the full Fashion-MNIST files.

The subset is the first 6,000 training and the first 2,000 test images with their labels, written
as the same four gzipped IDX files as the original (gzip with a zero timestamp, so the output is
byte-for-byte reproducible). The inputs are verified against the published sha256 first.

Usage (from the repository root):
    python data/make_fashion_mnist_subset.py                     # finds the full set (see below)
    python data/make_fashion_mnist_subset.py /path/to/fashion-mnist

The full set is found as :func:`dlcourse.data.fashion_mnist.find_fashion_mnist` does: a folder given
on the command line, ``$FASHION_MNIST_DIR``, ``data/fashion-mnist``, the cache, or Debian's
``/usr/share/datasets/fashion-mnist`` (``apt-get install dataset-fashion-mnist``).
It prints the sha256 of every input and output, for ``data/README.md`` and
``dlcourse.data.fashion_mnist.SUBSET_IDX_SHA256``.
"""

from __future__ import annotations

import gzip
import hashlib
import sys

import numpy as np

from dlcourse.data.fashion_mnist import (
    IDX_SHA256,
    SUBSET_SIZE,
    find_fashion_mnist,
    read_idx,
    sha256_of,
    subset_dir,
)

SPLIT_OF = {"train": "train", "t10k": "test"}


def idx_bytes(array: np.ndarray) -> bytes:
    """Return the IDX encoding of a uint8 array: magic, big-endian sizes, values."""
    header = bytes([0, 0, 0x08, array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
    return header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()


def main(argv: list[str]) -> int:
    source = find_fashion_mnist(argv[0] if argv else None)
    if source is None:
        print("Full Fashion-MNIST not found: see dlcourse/data/fashion_mnist.py for where it is looked for.")
        return 1
    out = subset_dir()
    out.mkdir(parents=True, exist_ok=True)
    print(f"source: {source}")
    for name, expected in IDX_SHA256.items():
        array = read_idx(source / name, expected)  # raises on a corrupt or wrong input
        n = SUBSET_SIZE[SPLIT_OF[name.split("-")[0]]]
        data = idx_bytes(array[:n])
        with open(out / name, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0,
                                                         filename="", compresslevel=9) as f:
            f.write(data)
        print(f"{name}: input archive sha256 {sha256_of(source / name)}")
        print(f"{name}: subset of {n}, idx sha256 {hashlib.sha256(data).hexdigest()}, "
              f"archive sha256 {sha256_of(out / name)}, {(out / name).stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
