"""The person head of the 2D-evidence model (stage hmperson): trained on the frozen network's pooled
encoder features, exported as the graph's ``person`` output beside the joint confidences, and taken
by the runtime as the pose score in their place."""

import json

import numpy as np
import onnx
import pytest
import torch
from click.testing import CliRunner

from pose3d.models.heatmap import HeatmapConfig, HeatmapPoseNet
from pose3d.models.person import HeatmapPersonHead, PersonHead
from pose3d.train.checkpoint import load_model, read_checkpoint
from pose3d.train.run import run
from pose3d_export.cli import main as export_main
from pose3d_export.fold import inference_net
from pose3d_runtime.model import PoseModel
from conftest import HEATMAP_TINY, tiny

SETTINGS = [*HEATMAP_TINY, "hmperson_stage.steps=12", "hmperson_stage.batch_size=8", "hmperson_stage.val_every=6",
            "hmperson_stage.checkpoint_every=6", "val_samples=16"]


def test_the_encoder_split_computes_the_same_heatmaps_and_pools_per_crop():
    config = HeatmapConfig(widths=(4, 8, 8, 12), blocks=(0, 0, 0), decoder_widths=(8, 8), lifter_hidden=16, lifter_blocks=1)
    net = HeatmapPoseNet(51, config).eval()
    x = torch.rand(3, 3, 64, 64)
    with torch.no_grad():
        features = net.net2d.encode(x)
        torch.testing.assert_close(net.net2d.decode(*features), net.net2d(x), rtol=0, atol=0)
        pooled = net.net2d.pooled(*features)
        assert pooled.shape == (3, 2 * 12 + 8)
        torch.testing.assert_close(net.net2d.pooled(*net.net2d.encode(x[1:2])), pooled[1:2])  # per crop
        assert HeatmapPersonHead(config).eval()(pooled).shape == (3,)


def test_hmperson_trains_on_the_frozen_network_and_exports_as_the_pose_score(tmp_path):
    config = tiny(tmp_path, *SETTINGS)
    with pytest.raises(FileNotFoundError, match="heatmap"):
        run(config, ["hmperson"], progress=False)
    run(config, ["heatmap", "hmperson"], progress=False)
    before = read_checkpoint(tmp_path / "heatmap.pt")["model"]
    head = read_checkpoint(tmp_path / "hmperson.pt")
    assert head["kind"] == "heatmap_person" and head["step"] == 12
    assert {"auc", "accuracy", "person_median", "background_median"} <= set(head["metrics"])
    # The pose network is frozen: its checkpoint is untouched by the head's stage.
    after = read_checkpoint(tmp_path / "heatmap.pt")["model"]
    assert all(torch.equal(before[k], after[k]) for k in before)

    out = tmp_path / "m.onnx"
    r = CliRunner().invoke(export_main, [str(tmp_path / "heatmap.pt"), "-o", str(out), "--samples", "4"])
    assert r.exit_code == 0, r.output
    assert "hmperson.pt" in r.output  # found beside the checkpoint
    graph = onnx.load(str(out))
    assert [o.name for o in graph.graph.output] == ["pose_mm", "joints_2d", "confidence", "person"]
    meta = {p.key: p.value for p in graph.metadata_props}
    assert json.loads(meta["person_head"])["source_checkpoint"] == "hmperson.pt"

    model = PoseModel(out, device="cpu")
    size = model.info.input_size
    crops = np.random.default_rng(0).normal(size=(3, 3, size, size)).astype(np.float32)
    pose, joints, score = model(crops)
    # The runtime's score is the head's probability, not the mean joint confidence.
    net, _, _ = load_model(tmp_path / "heatmap.pt")
    head_model, _, _ = load_model(tmp_path / "hmperson.pt")
    with torch.no_grad():
        x = torch.from_numpy(crops)
        expected = torch.sigmoid(head_model(net.net2d.pooled(*net.net2d.encode(x)))).numpy()
        confidence = net(x).confidence.mean(-1).numpy()
    np.testing.assert_allclose(score, expected, atol=1e-4)
    assert not np.allclose(score, confidence, atol=1e-3)

    r = CliRunner().invoke(export_main, [str(tmp_path / "heatmap.pt"), "-o", str(tmp_path / "plain.onnx"),
                                         "--samples", "4", "--no-person"])
    assert r.exit_code == 0, r.output
    assert [o.name for o in onnx.load(str(tmp_path / "plain.onnx")).graph.output][-1] == "confidence"


def test_a_person_head_of_the_other_network_is_refused_with_its_name():
    config = HeatmapConfig(widths=(4, 8, 8, 8), blocks=(0, 0, 0), decoder_widths=(8, 8), lifter_hidden=16, lifter_blocks=1)
    with pytest.raises(ValueError, match="stage hmperson"):
        inference_net(HeatmapPoseNet(51, config), 64, person=PersonHead())
