"""The benchmark's own arithmetic (the benchmark itself is run by hand: python benchmarks/bench.py)."""

import json
import sys
from pathlib import Path

import onnx
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from bench_runtime import model_gflop  # noqa: E402
from pose3d.models.cnn import flops_per_image  # noqa: E402
from pose3d.train.config import config_from_dict  # noqa: E402


def test_model_flops_are_counted_from_the_onnx_graph(tiny_onnx):
    meta = {p.key: p.value for p in onnx.load(str(tiny_onnx)).metadata_props}
    cfg = config_from_dict(json.loads(meta["training_config"])).cnn
    # The folded graph: the CNN's trunk, then 4096 -> 51 instead of 4096 -> code -> 51, plus the 2D head.
    trunk = flops_per_image(cfg, out_dim=51)
    head = 2 * (cfg.fc[-1] * cfg.hidden_2d + cfg.hidden_2d * 2 * cfg.num_joints)
    assert model_gflop(tiny_onnx) * 1e9 == pytest.approx(trunk + head, rel=0.02)
