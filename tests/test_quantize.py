"""The static int8 export (pose3d_export.quantize): calibrated on a training-side split, verified
against PyTorch, metadata carried over, and a crop's result independent of its batch."""

import json

import numpy as np
import onnx
import pytest
from click.testing import CliRunner
from conftest import tiny
from test_contract import HEATMAP_TINY


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A tiny 2D-evidence model, trained a few steps and exported with --int8: (fp32 path, int8 path,
    the CLI's output)."""
    from pose3d_export.cli import main as export_main

    from pose3d.train.run import run

    out = tmp_path_factory.mktemp("hm")
    run(tiny(out, *HEATMAP_TINY), ["heatmap"], progress=False)
    onnx_path = out / "m.onnx"
    r = CliRunner().invoke(export_main, [str(out / "heatmap.pt"), "-o", str(onnx_path), "--int8", "--samples", "8",
                                         "--calibration", "16"])
    assert r.exit_code == 0, r.output
    return onnx_path, out / "m.int8.onnx", r.output


def _meta(path):
    return {p.key: p.value for p in onnx.load(str(path)).metadata_props}


def test_int8_is_static_and_keeps_the_metadata(exported):
    fp32, int8, output = exported
    assert "| fp32 |" in output and "| int8 |" in output
    ops = {n.op_type for n in onnx.load(str(int8)).graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops  # QDQ: fixed scales in the graph
    assert "DynamicQuantizeLinear" not in ops  # nothing computed from the batch
    a, b = _meta(fp32), _meta(int8)
    assert a.pop("precision") == "fp32" and b.pop("precision").startswith("int8 static")
    assert a == b  # input contract, outputs, joints, training config: verbatim
    assert json.loads(b["input_contract"])["input_size"] == 112


def test_the_runtime_reads_the_precision(exported):
    from pose3d_runtime.model import PoseModel

    fp32, int8, _ = exported
    assert PoseModel(fp32, device="cpu").info.precision == "fp32"
    m = PoseModel(int8, device="cpu")
    assert m.info.precision.startswith("int8 static") and "(int8 static)" in m.describe()


def test_an_int8_crop_gives_the_same_result_alone_and_in_any_batch(exported):
    """Static quantisation: the scales are in the file, so the other crops of a batch change nothing."""
    from pose3d_export.onnx_export import _session
    from pose3d_export.quantize import rendered_crops

    from pose3d.train.checkpoint import load_model

    fp32, int8, _ = exported
    _, config, _ = load_model(fp32.parent / "heatmap.pt")
    x = rendered_crops(config.input, config.seed, config.bodies, "test", 6)["x"]
    x = np.concatenate([x, 3.0 * np.random.default_rng(0).normal(size=(2, *x.shape[1:])).astype(np.float32)])
    session = _session(int8)
    together = session.run(None, {"image": x})
    alone = [np.concatenate(o) for o in zip(*(session.run(None, {"image": x[i:i + 1]}) for i in range(len(x))))]
    reordered = session.run(None, {"image": x[::-1]})
    for t, a, r in zip(together, alone, reordered):
        np.testing.assert_allclose(a, t, atol=1e-4)
        np.testing.assert_allclose(r[::-1], t, atol=1e-4)


def test_int8_export_fails_past_its_tolerance(exported, tmp_path):
    from pose3d_export.cli import main as export_main

    fp32, _, _ = exported
    r = CliRunner().invoke(export_main, [str(fp32.parent / "heatmap.pt"), "-o", str(tmp_path / "m.onnx"), "--int8",
                                         "--samples", "4", "--calibration", "4", "--int8-tolerance-px", "0"])
    assert r.exit_code == 1 and "the int8 graph differs from PyTorch" in r.output and "--int8-tolerance-px" in r.output


def test_calibration_refuses_the_test_split():
    from pose3d_export.quantize import calibration_crops

    from pose3d.contract import InputContract

    with pytest.raises(ValueError, match="never the test split"):
        calibration_crops(InputContract(), 0, "capsules", "test", 4)


def test_int8_ops_all_quantises_the_fully_connected_layers_too(exported, tmp_path):
    """--int8-ops all: the lifter's layers get quantised as well, and the result is still batch-independent."""
    from pose3d_export.cli import main as export_main
    from pose3d_export.onnx_export import _session

    fp32, _, _ = exported
    out = tmp_path / "m.onnx"
    r = CliRunner().invoke(export_main, [str(fp32.parent / "heatmap.pt"), "-o", str(out), "--int8", "--int8-ops", "all",
                                         "--samples", "4", "--calibration", "8", "--int8-tolerance-mm", "1e9",
                                         "--int8-tolerance-px", "1e9"])
    assert r.exit_code == 0, r.output
    graph = onnx.load(str(tmp_path / "m.int8.onnx")).graph
    quantised = {n.output[0] for n in graph.node if n.op_type == "DequantizeLinear"}
    assert any(n.op_type == "Gemm" and set(n.input) & quantised for n in graph.node)
    assert "every supported operator" in _meta(tmp_path / "m.int8.onnx")["precision"]
    x = np.random.default_rng(3).normal(size=(4, 3, 112, 112)).astype(np.float32)
    session = _session(tmp_path / "m.int8.onnx")
    together = session.run(None, {"image": x})[0]
    alone = np.concatenate([session.run(None, {"image": x[i:i + 1]})[0] for i in range(4)])
    np.testing.assert_allclose(alone, together, atol=1e-4)
