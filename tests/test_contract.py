"""The input contract travels as one value: config -> checkpoint -> ONNX metadata -> runtime."""

import json

import numpy as np
import onnx
import pytest

from pose3d.contract import METADATA_KEY, InputContract
from pose3d.train.config import load_config
from conftest import HEATMAP_TINY, TINY, tiny


def test_contract_round_trips_through_json_and_refuses_nonsense():
    c = InputContract(crop_size=100, input_size=96, margin=0.3, mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25))
    assert InputContract.from_json(c.to_json()) == c
    spec = c.crop_spec()
    assert (spec.size, spec.input_size, spec.margin) == (100, 96, 0.3)
    with pytest.raises(ValueError, match="input_size"):
        InputContract(crop_size=64, input_size=96)
    with pytest.raises(ValueError, match="not a valid input contract"):
        InputContract.from_json('{"crop_size": 128}', "model.onnx")
    with pytest.raises(ValueError, match="not JSON"):
        InputContract.from_json("{", "model.onnx")


def test_config_takes_the_contract_and_the_old_cnn_input_size():
    assert load_config(overrides=["input.input_size=96"]).input.input_size == 96
    # Checkpoints written before the contract kept the input size under cnn.
    assert load_config(overrides=["cnn.input_size=128"]).input.input_size == 128
    with pytest.raises(ValueError, match="input"):
        load_config(overrides=["input.input_size=200"])  # larger than the 128 crop
    with pytest.raises(ValueError, match="input.margin|margin"):
        load_config(overrides=["input.margin=-1"])


@pytest.mark.parametrize("stage, extra", [("direct", []), ("heatmap", HEATMAP_TINY)])
def test_a_changed_input_size_trains_exports_and_runs_end_to_end(tmp_path, stage, extra):
    """Input 96 from a 104 crop with margin 0.3: the checkpoint, the ONNX file and the runtime all
    follow the one value, and the runtime crops what training cut."""
    from pose3d.train.checkpoint import load_model
    from pose3d.train.run import run
    from pose3d_export.onnx_export import export
    from pose3d_runtime.model import PoseModel
    from pose3d_runtime.pipeline import Estimator

    contract = ["input.crop_size=104", "input.input_size=96", "input.margin=0.3"]
    config = tiny(tmp_path, *contract, *extra)
    run(config, [stage], progress=False)
    _, saved, _ = load_model(tmp_path / f"{stage}.pt")
    assert saved.input == InputContract(crop_size=104, input_size=96, margin=0.3)
    out = tmp_path / "m.onnx"
    export(tmp_path / f"{stage}.pt", out, samples=4)
    meta = {p.key: p.value for p in onnx.load(str(out)).metadata_props}
    assert InputContract.from_json(meta[METADATA_KEY]) == saved.input  # verbatim
    model = PoseModel(out, device="cpu")
    assert model.info.contract == saved.input and model.info.crop.size == 104 and model.info.crop.margin == 0.3
    frame = np.random.default_rng(0).integers(0, 256, size=(240, 320, 3), dtype=np.uint8)
    estimator = Estimator(model)
    box = np.array([160.0, 120.0, 150.0])
    A = estimator.crop_affines(box[None])[0]
    # The box's corner lands on the crop's corner for a 104 crop, whose central 96 the model sees.
    corner = A @ np.array([box[0] - box[2] / 2, box[1] - box[2] / 2, 1.0])
    np.testing.assert_allclose(corner, [-0.5 - 4, -0.5 - 4], atol=1e-6)
    (pose,) = estimator.estimate([frame], [box])
    assert pose.joints_3d_mm.shape == (17, 3) and np.isfinite(pose.joints_2d_px).all()
    # The 2D-evidence model scores a pose by its joints' heatmap confidences (an ONNX output).
    assert model.has_person == (stage == "heatmap")
    if stage == "heatmap":
        _, _, score = model(np.zeros((2, 3, 96, 96), np.float32))
        assert score.shape == (2,) and ((score > 0) & (score <= 1)).all() and 0 < pose.score <= 1


def test_runtime_reads_models_exported_before_the_contract(tmp_path):
    """Older exports carry the same facts under "input" and "crop"."""
    from pose3d_runtime.model import ModelInfo

    meta = {"input": json.dumps({"size": 112, "mean": [0.4, 0.4, 0.4], "std": [0.2, 0.2, 0.2]}),
            "crop": json.dumps({"size": 128, "input_size": 112, "margin": 0.2}),
            "joint_names": json.dumps(["a"]), "joint_parents": json.dumps([-1])}
    path = tmp_path / "old.onnx"
    path.write_bytes(b"x")
    info = ModelInfo.from_metadata(meta, path)
    assert info.contract == InputContract(128, 112, 0.2, (0.4, 0.4, 0.4), (0.2, 0.2, 0.2))
    assert info.input_size == 112 and info.mean == (0.4, 0.4, 0.4)


def test_tiny_config_is_still_valid():
    assert load_config(overrides=TINY).input == InputContract()
