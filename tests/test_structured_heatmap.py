"""The structured 2D-evidence model: heatmaps -> 2D joints -> lifter -> the prior's latent code -> the
prior's decoder (stages hmlatent, hmfinetune; the ablation's fourth arm)."""

import numpy as np
import onnx
import pytest
import torch

from pose3d.models.codec import PoseCodec
from pose3d.models.heatmap import HeatmapConfig, HeatmapPoseNet
from pose3d.models.prior import PoseAutoencoder, PriorConfig
from pose3d.train.checkpoint import load_model, read_checkpoint
from pose3d.train.run import run
from conftest import HEATMAP_TINY, tiny


def test_its_pose_is_the_prior_decoding_its_code():
    prior = PoseAutoencoder(PriorConfig(hidden=(64,)))
    config = HeatmapConfig(widths=(4, 8, 8, 8), blocks=(0, 0, 0), decoder_widths=(8, 8), lifter_hidden=16, lifter_blocks=1)
    model = HeatmapPoseNet(51, config, prior=prior).eval()
    out = model(torch.rand(3, 3, 64, 64))
    assert out.code.shape == (3, 64) and out.pose.shape == (3, 51) and out.confidence.shape == (3, 17)
    torch.testing.assert_close(out.pose, prior.decode(out.code))
    plain = HeatmapPoseNet(51, config).eval()(torch.rand(3, 3, 64, 64))
    assert plain.code is plain.pose  # without a prior, the lifter's output is the pose


def test_hmlatent_keeps_the_prior_and_hmfinetune_trains_its_decoder_then_it_exports(tmp_path):
    config = tiny(tmp_path, *HEATMAP_TINY)
    with pytest.raises(FileNotFoundError, match="prior"):
        run(config, ["hmlatent"], progress=False)
    run(config, ["prior", "hmlatent", "hmfinetune"], progress=False)
    prior = read_checkpoint(tmp_path / "prior.pt")["model"]
    latent = read_checkpoint(tmp_path / "hmlatent.pt")
    tuned = read_checkpoint(tmp_path / "hmfinetune.pt")
    assert latent["kind"] == tuned["kind"] == "heatmap_prior" and tuned["step"] == 4
    for k, v in prior.items():  # regressing the code leaves the whole prior as it was
        torch.testing.assert_close(latent["model"][f"decoder.{k}"], v, rtol=0, atol=0, msg=k)
    # Fine-tuning trains the decoder with the rest; the encoder, which only encoded targets, stays.
    assert not torch.equal(tuned["model"]["decoder.decoder.weight"], prior["decoder.weight"])
    for k in (k for k in prior if k.startswith("encoder")):
        torch.testing.assert_close(tuned["model"][f"decoder.{k}"], prior[k], rtol=0, atol=0, msg=k)

    from pose3d_export.onnx_export import export
    from pose3d_runtime.model import PoseModel

    export(tmp_path / "hmfinetune.pt", tmp_path / "m.onnx", samples=4)
    meta = {p.key: p.value for p in onnx.load(str(tmp_path / "m.onnx")).metadata_props}
    assert meta["model_kind"] == "heatmap_prior" and "confidence" in meta["outputs"]
    model = PoseModel(tmp_path / "m.onnx", device="cpu")
    size = model.info.input_size
    crops = np.random.default_rng(0).normal(size=(2, 3, size, size)).astype(np.float32)
    pose, _, score = model(crops)
    assert model.has_person and ((score > 0) & (score <= 1)).all()
    assert model.score_kind == "the mean joint confidence"  # no person head exported beside it
    # The runtime's pose is the checkpoint's: the prior's decoding, root-relative, in mm.
    torch_model, _, _ = load_model(tmp_path / "hmfinetune.pt")
    with torch.no_grad():
        expected = torch_model(torch.from_numpy(crops)).pose.unflatten(-1, (-1, 3)).numpy() * PoseCodec().scale_mm
    np.testing.assert_allclose(pose, expected - expected[:, :1], atol=0.05)
