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


def test_accuracy_rows_carry_the_baselines_and_the_real_photo_rows(tiny_onnx, tmp_path):
    from bench_runtime import accuracy, real_accuracy  # noqa: E402
    from test_realval import make_realval

    rows = accuracy({"tiny": tiny_onnx}, 16)
    assert [r["model"] for r in rows] == ["tiny", "mean training pose, camera frame",
                                         "mean training pose turned to the true heading"]
    assert all(r["samples"] == 16 and r["mpjpe_mm"] > 0 for r in rows)
    assert real_accuracy(tiny_onnx, tmp_path / "absent", None) is None
    real = real_accuracy(tiny_onnx, make_realval(tmp_path / "rv"), None)
    assert real["frames"] == 3 and "model, the labelled box" in {r["predictor"] for r in real["rows"]}
