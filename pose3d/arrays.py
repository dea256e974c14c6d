"""One code path for NumPy and torch arrays.

Geometry and metrics are written once against the array API (``array_api_compat``), so the same
function serves NumPy callers and differentiable torch callers. Parameters given as NumPy arrays or
Python numbers are converted to the array type, dtype and device of the data they act on, so a
``Camera`` holding float64 NumPy values can project a float32 torch tensor and keep it float32.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from array_api_compat import array_namespace, is_torch_array


def namespace(x: Any) -> Any:
    """The array-API namespace of ``x`` (a NumPy array or torch tensor)."""
    if not hasattr(x, "shape"):
        x = np.asarray(x)
    return array_namespace(x)


def as_float_array(x: Any) -> Any:
    """``x`` unchanged if it is already a floating array or tensor, else a float64 NumPy array."""
    if is_torch_array(x):
        return x if x.is_floating_point() else x.double()
    x = np.asarray(x)
    return x if np.issubdtype(x.dtype, np.floating) else x.astype(np.float64)


def like(param: Any, ref: Any) -> Any:
    """``param`` converted to the array type, dtype and device of ``ref``."""
    if is_torch_array(ref):
        import torch  # only reached when the caller already holds a torch tensor

        return torch.as_tensor(param, dtype=ref.dtype, device=ref.device)
    return np.asarray(param, dtype=ref.dtype)
