"""The IDX file format (MNIST's and Fashion-MNIST's): parse it, read a (gzipped) file, verified.

The format: two zero bytes, a type code (``0x08`` = unsigned byte), the number of dimensions
``d``, then ``d`` big-endian uint32 sizes, then the values in C order. A file that does not follow
it, a damaged gzip, or content with the wrong sha256 raises :class:`DataFileError` with what to do.

>>> parse_idx(bytes([0, 0, 8, 1, 0, 0, 0, 3, 7, 8, 9]))
array([7, 8, 9], dtype=uint8)
"""

from __future__ import annotations

import gzip
import hashlib
import zlib
from pathlib import Path

import numpy as np

from dlcourse.data.fetch import DataFileError

#: IDX type codes (third byte of the magic number) that this reader accepts.
_IDX_DTYPES = {0x08: np.dtype(np.uint8)}


def read_bytes(path: Path, what_to_do: str = "") -> bytes:
    """Return the (decompressed) bytes of ``path``; a damaged gzip raises :class:`DataFileError`."""
    try:
        with open(path, "rb") as f:
            head = f.read(2)
        if head == b"\x1f\x8b":
            with gzip.open(path, "rb") as f:
                return f.read()
        return path.read_bytes()
    except (EOFError, OSError, zlib.error) as err:
        if isinstance(err, FileNotFoundError):
            raise
        raise DataFileError(
            f"{path} is not a readable gzip file ({err}): it is truncated or corrupt. "
            f"Delete it and get it again (a download resumes from scratch). {what_to_do}".strip()
        ) from err


def parse_idx(data: bytes, name: str = "IDX data") -> np.ndarray:
    """Parse the bytes of an IDX file into an array.

    The IDX format: two zero bytes, a type code (``0x08`` = unsigned byte), the number of
    dimensions ``d``, then ``d`` big-endian uint32 sizes, then the values in C order.

    Args:
        data: the uncompressed file contents.
        name: how to refer to the data in error messages (usually its path).

    Returns:
        An array of shape ``(size_1, ..., size_d)``: ``(N, 28, 28)`` for images, ``(N,)`` for labels.

    Raises:
        DataFileError: wrong magic number, unsupported type, or a length that does not match the
            header (a truncated or padded file).
    """
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise DataFileError(f"{name} is not an IDX file: it does not start with two zero bytes.")
    code, ndim = data[2], data[3]
    if code not in _IDX_DTYPES:
        raise DataFileError(f"{name}: IDX type code 0x{code:02x} is not supported (only 0x08, uint8).")
    header = 4 + 4 * ndim
    if ndim == 0 or len(data) < header:
        raise DataFileError(f"{name}: IDX header is incomplete ({len(data)} bytes).")
    shape = tuple(int(s) for s in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    dtype = _IDX_DTYPES[code]
    expected = header + int(np.prod(shape)) * dtype.itemsize
    if len(data) != expected:
        raise DataFileError(
            f"{name}: the header announces shape {shape} ({expected} bytes) but the file has "
            f"{len(data)} bytes: it is truncated or corrupt. Delete it and get it again."
        )
    return np.frombuffer(data, dtype=dtype, offset=header).reshape(shape).copy()


def read_idx(path: Path | str, expected_sha256: str | None = None, what_to_do: str = "") -> np.ndarray:
    """Read a (gzipped or plain) IDX file, checking its content's sha256 when one is given.

    Args:
        path: the file.
        expected_sha256: the sha256 of the *decompressed* bytes, or ``None`` to skip the check.
        what_to_do: how to get a good copy, appended to error messages.

    Returns:
        The array (see :func:`parse_idx`).

    Raises:
        FileNotFoundError: no such file.
        DataFileError: unreadable gzip, bad IDX format, or a checksum mismatch.
    """
    path = Path(path)
    data = read_bytes(path, what_to_do)
    if expected_sha256 is not None:
        got = hashlib.sha256(data).hexdigest()
        if got != expected_sha256:
            raise DataFileError(
                f"{path} has the wrong content: sha256 of its decompressed bytes is {got}, "
                f"expected {expected_sha256}. The file is corrupt or not the published one; "
                f"nothing was loaded. Delete it (or fix the folder) and get it again. {what_to_do}".strip()
            )
    return parse_idx(data, name=str(path))
