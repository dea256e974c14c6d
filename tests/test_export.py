import json

import numpy as np
import onnx
import pytest
import torch
from click.testing import CliRunner

from pose3d.evaluate import predict
from pose3d.models.codec import ImageCodec
from pose3d.train.checkpoint import load_model
from pose3d.train.run import run
from pose3d_export.cli import main as export_main
from pose3d_export.fold import InferenceNet
from pose3d_export.onnx_export import _session
from conftest import tiny


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    run(tiny(out), ["prior", "latent", "finetune", "direct"], progress=False)
    return out


@pytest.mark.parametrize("stage", ["finetune", "direct"])
def test_folded_network_equals_the_trained_one(trained, stage):
    model, _, _ = load_model(trained / f"{stage}.pt")
    # Give the batch norm non-trivial statistics, so that folding it is really tested.
    bn = model.cnn.features[-1]
    with torch.no_grad():
        bn.running_mean.uniform_(-0.5, 0.5)
        bn.running_var.uniform_(0.5, 2.0)
        bn.weight.uniform_(0.5, 1.5)
        bn.bias.uniform_(-0.2, 0.2)
    net = InferenceNet(model)
    images = np.random.default_rng(0).integers(0, 256, size=(5, 3, 112, 112), dtype=np.uint8)
    pose, joints = predict(model, images)
    with torch.no_grad():
        pose2, joints2 = net(ImageCodec().encode(torch.from_numpy(images)))
    np.testing.assert_allclose(pose2.numpy(), pose, atol=1e-3)
    np.testing.assert_allclose(joints2.numpy(), joints, atol=1e-4)
    if stage == "finetune":  # the latent layer is gone from the graph
        assert net.out.out_features == 51


def test_export_verifies_and_writes_metadata_and_variants(trained, tmp_path):
    out = tmp_path / "model.onnx"
    r = CliRunner().invoke(export_main, [str(trained / "finetune.pt"), "-o", str(out), "--fp16", "--int8", "--samples", "8"])
    assert r.exit_code == 0, r.output
    assert "| fp32 |" in r.output and "| int8 |" in r.output
    graph = onnx.load(str(out))
    meta = {p.key: p.value for p in graph.metadata_props}
    assert json.loads(meta["joint_names"])[0] == "Hip" and json.loads(meta["input_contract"])["input_size"] == 112
    assert json.loads(meta["training_config"])["cnn"]["channels"] == [4, 8, 8]
    # The variants keep the metadata and say their precision.
    half = {p.key: p.value for p in onnx.load(str(tmp_path / "model.fp16.onnx")).metadata_props}
    assert half["precision"] == "fp16" and half["input_contract"] == meta["input_contract"]
    for path in (out, tmp_path / "model.fp16.onnx", tmp_path / "model.int8.onnx"):
        sess = _session(path)
        x = np.random.default_rng(1).normal(size=(3, 3, 112, 112)).astype(np.float32)  # dynamic batch
        pose, joints = sess.run(None, {"image": x})
        assert pose.shape == (3, 17, 3) and joints.shape == (3, 17, 2) and np.isfinite(pose).all()
        np.testing.assert_allclose(pose[:, 0], 0.0, atol=1e-3)  # root-relative


def test_export_refuses_the_prior_alone(trained, tmp_path):
    r = CliRunner().invoke(export_main, [str(trained / "prior.pt"), "-o", str(tmp_path / "m.onnx")])
    assert r.exit_code == 1 and "prior alone" in r.output


def test_export_with_the_person_head_adds_a_verified_probability(trained, tmp_path):
    from pose3d_runtime.model import PoseModel

    run(tiny(trained), ["person"], progress=False)
    out = tmp_path / "model.onnx"
    r = CliRunner().invoke(export_main, [str(trained / "finetune.pt"), "-o", str(out), "--samples", "8"])
    assert r.exit_code == 0, r.output
    assert "with the person head" in r.output  # person.pt beside the checkpoint is found
    m = PoseModel(out, device="cpu")
    assert m.has_person and json.loads(dict(m.session.get_modelmeta().custom_metadata_map)["person_head"])["step"] == 6
    x = np.random.default_rng(2).normal(size=(3, 3, 112, 112)).astype(np.float32)
    pose, joints, person = m(x)
    assert person.shape == (3,) and ((person > 0) & (person < 1)).all()
    r = CliRunner().invoke(export_main, [str(trained / "finetune.pt"), "-o", str(tmp_path / "plain.onnx"), "--samples",
                                         "4", "--no-person"])
    assert r.exit_code == 0, r.output
    plain = PoseModel(tmp_path / "plain.onnx", device="cpu")
    assert not plain.has_person and plain.score_kind is None
    r = CliRunner().invoke(export_main, [str(trained / "finetune.pt"), "-o", str(tmp_path / "x.onnx"), "--person",
                                         str(trained / "prior.pt")])
    assert r.exit_code == 1 and "not a person-head checkpoint" in r.output
