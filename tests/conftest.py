"""Shared fixtures. Tests that read ../shared skip cleanly where it is absent (a user's clone)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

SHARED = Path(__file__).resolve().parents[2] / "shared"


@pytest.fixture
def shared_mocap() -> Path:
    path = SHARED / "mocap"
    if not path.is_dir():
        pytest.skip("../shared/mocap is not present")
    return path


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


def random_rotation(rng: np.random.Generator) -> np.ndarray:
    q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    return q * np.sign(np.linalg.det(q))


def random_pose(rng: np.random.Generator, n: int | None = None) -> np.ndarray:
    """Random S9-proportioned poses (n, 17, 3) mm (or (17, 3)): random bone directions."""
    from pose3d.skeleton import H36M17, retarget, s9_bone_lengths

    shape = (17, 3) if n is None else (n, 17, 3)
    return retarget(rng.normal(size=shape) * 300, s9_bone_lengths(), H36M17)
