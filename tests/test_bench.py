"""The benchmark's own arithmetic, and its runtime sections smoke-run on tiny models (the benchmark itself
is run by hand: python benchmarks/bench.py)."""

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


# -- the runtime sections, smoke-run on tiny models -----------------------------------------------


@pytest.fixture(scope="module")
def tiny_detector(tmp_path_factory):
    """An untrained tiny person detector, exported as pose3d-export --detector writes it (speed and
    plumbing only: it finds 'people' anywhere)."""
    import torch

    from pose3d.models.detector import PersonDetector
    from pose3d.train.checkpoint import save_checkpoint
    from pose3d.train.config import config_to_dict, load_config
    from pose3d_export.detector_export import export_detector

    out = tmp_path_factory.mktemp("tiny_detector")
    config = load_config(overrides=["detector.widths=(4,8,8,8,8)", "detector.blocks=(1,1,1,1)", "detector.neck_width=8",
                                    "detector.input_size=64", f"out_dir={out}"])
    torch.manual_seed(0)
    save_checkpoint(out / "detector.pt", {"kind": "detector", "stage": "detector", "step": 1, "config": config_to_dict(config),
                                          "model": PersonDetector(config.detector).state_dict(), "optimizer": {},
                                          "metrics": {"f1_threshold": 0.3}})
    export_detector(out / "detector.pt", out / "detector.onnx", samples=2)
    return out / "detector.onnx"


def _folder_and_stream(estimator, detector, tmp_path, mediapipe_python=None):
    from bench import folder_markdown, streaming_markdown
    from bench_runtime import folder_boxes, folder_section, full_size_images, stream_clip, stream_section

    paths = full_size_images(3, tmp_path / "images")
    boxes = folder_boxes(estimator, detector)
    folder = folder_section(estimator, paths, tmp_path, boxes, "synthetic frames", batch=2)
    e2e, stages = folder["end_to_end"], folder["stages_images_per_s"]
    clip = tmp_path / "clip.mp4"
    what = stream_clip(clip, 4, None)
    stream = {"clip": what, **stream_section(estimator, clip, tmp_path / "stream", detector, mediapipe_python, 2)}
    json.dumps({"folder": folder, "streaming": stream}, default=float)  # the results file
    assert e2e["images"] == 3 and all(v > 0 for v in stages.values()) and folder["crops_per_image"] >= 0
    assert all(x["frames"] == 4 and x["frames_per_second"] > 0 for x in stream["loops"])
    return folder, stream, "\n".join(folder_markdown(folder) + streaming_markdown(stream))


def test_the_runtime_sections_run_with_a_detector(tiny_onnx, tiny_detector, tmp_path):
    from bench_runtime import open_detector
    from pose3d_runtime.model import PoseModel
    from pose3d_runtime.pipeline import Estimator

    estimator = Estimator(PoseModel(tiny_onnx, device="cpu"))
    detector, note = open_detector(tiny_detector, estimator.margin)
    assert note is None
    folder, stream, text = _folder_and_stream(estimator, detector, tmp_path, tmp_path / "no-such-python")
    assert "detect" in folder["stages_images_per_s"] and folder["end_to_end"]["boxes"].startswith("detector")
    assert [x["loop"] for x in stream["loops"]] == ["no detection (the whole frame is the crop)", "detect + track, 1 person",
                                                    "detect + track, all people (at most 10)"]
    assert all(x["most_people_in_a_frame"] <= 1 for x in stream["loops"][:2])
    assert set(stream["stage_ms"]) == {"detect", "pose, 1 person", "annotate"}
    # MediaPipe could not run: the ratios are against the loop without detection, the quoted figures beside.
    assert stream["reference"] == stream["loops"][0]["loop"] and stream["loops"][0]["fps_over_reference"] == 1.0
    assert "not found" in stream["mediapipe"]["error"] and "as quoted by issue #14" in text and "36.8 frames/s" in text


def test_without_a_detector_only_the_detector_rows_are_left_out(tiny_onnx, tmp_path, monkeypatch):
    import pose3d_runtime.detector
    from bench_runtime import open_detector
    from pose3d_runtime.model import ModelError, PoseModel
    from pose3d_runtime.pipeline import Estimator

    monkeypatch.setattr(pose3d_runtime.detector, "default_detector_path", lambda: tmp_path / "absent.onnx")
    estimator = Estimator(PoseModel(tiny_onnx, device="cpu"))
    detector, note = open_detector(None, estimator.margin)
    assert detector is None and "no person detector is installed" in note and "absent.onnx" in note
    with pytest.raises(ModelError, match="not found"):  # one given by name must be there
        open_detector(tmp_path / "given.onnx", estimator.margin)
    folder, stream, text = _folder_and_stream(estimator, None, tmp_path)
    assert "detect" not in folder["stages_images_per_s"] and len(stream["loops"]) == 1
    assert "detect" not in stream["stage_ms"]
    assert "left out: no person detector" in text and "loops with detection are left out" in text


def test_mediapipe_is_the_reference_where_it_runs(tiny_onnx, tmp_path, monkeypatch):
    """bench_mediapipe.py's JSON line (faked here: MediaPipe lives in another environment) becomes the
    reference of every loop's ratios."""
    import bench_runtime
    from bench_runtime import stream_clip, stream_section
    from pose3d_runtime.model import PoseModel
    from pose3d_runtime.pipeline import Estimator

    fake = tmp_path / "fake_mediapipe.py"
    fake.write_text("import json\nprint('some log line')\nprint(json.dumps({'engine': 'MediaPipe Pose (fake)', 'frames': 4, "
                    "'frames_with_person': 3, 'people': 3, 'frames_per_second': 40.0, 'latency_ms_median': 20.0, "
                    "'latency_ms_p95': 30.0}))\n")
    monkeypatch.setattr(bench_runtime, "MEDIAPIPE_SCRIPT", fake)
    clip = tmp_path / "clip.mp4"
    stream_clip(clip, 4, None)
    s = stream_section(Estimator(PoseModel(tiny_onnx, device="cpu")), clip, tmp_path / "s", None, Path(sys.executable), 2)
    mp, loop = s["mediapipe"], s["loops"][0]
    assert s["reference"] == "MediaPipe Pose (fake), this run" and mp["fps_over_reference"] == 1.0
    assert loop["fps_over_reference"] == pytest.approx(loop["frames_per_second"] / 40.0)
    assert loop["p95_over_reference"] == pytest.approx(loop["latency_ms_p95"] / 30.0)

    fake.write_text("import sys\nsys.exit('no module named mediapipe')\n")
    s = stream_section(Estimator(PoseModel(tiny_onnx, device="cpu")), clip, tmp_path / "t", None, Path(sys.executable), 2)
    assert "no module named mediapipe" in s["mediapipe"]["error"] and s["reference"] == s["loops"][0]["loop"]
