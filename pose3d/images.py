"""Checks on encoded image files shared by the runtime and the Human3.6M readers (torch-free).

OpenCV decodes a JPEG cut short without complaint, filling the missing lower part with grey; the
only sign is the missing end-of-image marker, so both readers look for it before decoding.
"""

from __future__ import annotations

import numpy as np

TRUNCATED_JPEG = "truncated JPEG (no end-of-image marker)"


def _bytes(data: bytes | np.ndarray) -> bytes:
    return data.tobytes() if isinstance(data, np.ndarray) else bytes(data)


def is_jpeg(data: bytes | np.ndarray) -> bool:
    """Whether the encoded bytes (or a uint8 array of them) start with a JPEG's start-of-image marker."""
    return _bytes(data[:2]) == b"\xff\xd8"


def jpeg_complete(data: bytes | np.ndarray) -> bool:
    """Whether a JPEG's bytes end with its end-of-image marker (trailing padding allowed)."""
    return _bytes(data[-1024:]).rstrip(b"\x00\r\n ").endswith(b"\xff\xd9")
