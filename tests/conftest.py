"""Shared fixtures. Tests that read ../shared skip cleanly where it is absent (a user's clone)."""

from __future__ import annotations

import os
from pathlib import Path

# Tests render in one process before others fork data workers (pose3d.train.feed): numba's GNU
# OpenMP layer cannot fork, so the whole session uses a fork-safe one (workqueue, or tbb).
os.environ.setdefault("NUMBA_THREADING_LAYER", "forksafe")

import numpy as np
import pytest

SHARED = Path(__file__).resolve().parents[2] / "shared"


# A training config small enough to run every stage in seconds (tests of training and export).
TINY = [
    "prior.hidden=(64,)", "cnn.channels=(4,8,8)", "cnn.fc=(16,16,16)", "cnn.hidden_2d=16", "val_samples=16",
    "prior_stage.steps=60", "prior_stage.batch_size=32", "prior_stage.val_every=30", "prior_stage.checkpoint_every=30",
    "latent_stage.steps=6", "latent_stage.batch_size=8", "latent_stage.val_every=3", "latent_stage.checkpoint_every=3",
    "finetune_stage.steps=4", "finetune_stage.batch_size=8", "finetune_stage.val_every=2", "finetune_stage.checkpoint_every=2",
    "direct_stage.steps=6", "direct_stage.batch_size=8", "direct_stage.val_every=3", "direct_stage.checkpoint_every=3",
    "cnn.hidden_person=8", "person_stage.steps=6", "person_stage.batch_size=8", "person_stage.val_every=3",
    "person_stage.checkpoint_every=3",
]

# A 2D-evidence network and its stages (heatmap; hmlatent, hmfinetune) small enough for seconds.
HEATMAP_TINY = ["heatmap.widths=(4,8,8,8)", "heatmap.blocks=(0,0,0)", "heatmap.decoder_widths=(8,8)",
                "heatmap.lifter_hidden=16", "heatmap.lifter_blocks=1"] + [
    f"{stage}_stage.{key}" for stage in ("heatmap", "hmlatent", "hmfinetune")
    for key in ("steps=4", "batch_size=4", "val_every=2", "checkpoint_every=2")]


def tiny(tmp_path, *extra):
    from pose3d.train.config import load_config

    return load_config(overrides=TINY + [f"out_dir={tmp_path}", *extra])



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


@pytest.fixture(scope="session")
def tiny_onnx(tmp_path_factory) -> Path:
    """A tiny trained structured model with a person head, exported to ONNX (for runtime tests: the
    pipeline, not accuracy)."""
    from pose3d.train.run import run
    from pose3d_export.onnx_export import export

    out = tmp_path_factory.mktemp("tiny_model")
    run(tiny(out), ["prior", "latent", "finetune", "person"], progress=False)
    export(out / "finetune.pt", out / "tiny.onnx", samples=4, person=out / "person.pt")
    return out / "tiny.onnx"


def synthetic_frames(n: int, seed: int = 0) -> tuple[list[np.ndarray], np.ndarray]:
    """n whole synthetic camera frames (BGR uint8) with a person, and their true 2D joints (n, 17, 2)."""
    from pose3d.data.synthetic import SynthConfig, SyntheticPoses

    ds = SyntheticPoses(SynthConfig(split="test", seed=seed, length=max(n, 1)))
    frames, joints = [], []
    for i in range(n):
        s = ds.render_full_frames([i])
        frames.append(np.ascontiguousarray(s["image"][0].transpose(1, 2, 0)[..., ::-1]))
        joints.append(s["joints_2d"][0])
    return frames, np.stack(joints)


# The runtime installs neither torch nor SciPy (numba's np.linalg would need SciPy's LAPACK).
NO_TORCH = """
import sys
class NoTorch:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("torch", "scipy"):
            raise ImportError(name + " is blocked in this test")
        return None
sys.meta_path.insert(0, NoTorch())
"""


def run_without_torch(code: str):
    """Run Python ``code`` in a fresh interpreter where every import of torch or SciPy fails."""
    import subprocess
    import sys
    import textwrap

    return subprocess.run([sys.executable, "-c", NO_TORCH + textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=300)
