"""pose3d-run end to end: folders with good and broken files, videos, a fabricated webcam, no torch."""

import json

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

import pose3d_runtime.sources as sources
from pose3d_runtime.cli import main as run_main
from pose3d_runtime.model import default_model_path
from conftest import run_without_torch, synthetic_frames

SIZE = (640, 360)  # synthetic frames come in several camera sizes: all scaled to one (a video's)


@pytest.fixture(scope="module")
def frames():
    images, joints = synthetic_frames(6, seed=2)
    scale = np.array([[SIZE[0] / f.shape[1], SIZE[1] / f.shape[0]] for f in images])
    small = [cv2.resize(f, SIZE, interpolation=cv2.INTER_AREA) for f in images]
    return small, joints * scale[:, None, :]


def person_bbox(joints: np.ndarray) -> str:
    lo, hi = joints.min(0), joints.max(0)
    return ",".join(f"{v:.1f}" for v in (*lo, *(hi - lo)))


def write_video(path, images, fps=10):
    H, W = images[0].shape[:2]
    fourcc = cv2.VideoWriter_fourcc(*("MJPG" if str(path).endswith(".avi") else "mp4v"))
    w = cv2.VideoWriter(str(path), fourcc, fps, (W, H))
    for im in images:
        w.write(im)
    w.release()


def test_folder_run_reports_broken_files_resumes_and_aggregates(tiny_onnx, frames, tmp_path):
    images, joints = frames
    src = tmp_path / "in"
    (src / "nested").mkdir(parents=True)
    cv2.imwrite(str(src / "a.jpg"), images[0])
    cv2.imwrite(str(src / "nested" / "b.png"), images[1])
    cv2.imwrite(str(src / "gray.png"), cv2.cvtColor(images[2], cv2.COLOR_BGR2GRAY))
    ok, buf = cv2.imencode(".jpg", images[3])
    (src / "truncated.jpg").write_bytes(buf.tobytes()[: len(buf) // 2])
    (src / "empty.jpg").write_bytes(b"")
    (src / "text.png").write_text("not an image")
    (src / "notes.txt").write_text("ignored")
    (src / ".hidden.jpg").write_bytes(buf.tobytes())
    out = tmp_path / "out"
    args = [str(src), "-o", str(out), "--model", str(tiny_onnx), "--quiet", "--batch-size", "2"]

    r = CliRunner().invoke(run_main, args)
    assert r.exit_code == 1, r.output  # some files failed
    errors = {e["file"]: e["error"] for e in json.loads((out / "errors.json").read_text())}
    assert errors == {"empty.jpg": "empty file", "text.png": "not a decodable image",
                      "truncated.jpg": "truncated JPEG (no end-of-image marker)"}
    summary = json.loads((out / "summary.json").read_text())
    assert summary["processed"] == 3 and summary["failed"] == 3 and summary["ignored"] == ["notes.txt"]
    names = {"a.jpg": "a_jpg", "nested/b.png": "nested/b_png", "gray.png": "gray_png"}
    for rel, stem in names.items():
        rec = json.loads((out / f"{stem}.json").read_text())
        assert (out / f"{stem}.annotated.jpg").is_file()  # with or without a person
        assert rec["file"] == rel and rec["status"] == ("ok" if rec["people"] else "no_person")
        assert rec["focal_px"] == 640.0 and rec["principal_point_px"] == [319.5, 179.5]  # the default camera
        assert rec["model"].startswith("tiny.onnx:")
        for person in rec["people"]:  # the whole image without a detector installed; else each one found
            assert np.array(person["joints_3d_mm"]).shape == (17, 3) and np.array(person["joints_2d_px"]).shape == (17, 2)
            assert person["joints_3d_mm"][0] == [0.0, 0.0, 0.0] and 0 <= person["score"] <= 1
            assert len(person["root_cam_mm"]) == 3 and person["track_id"] is None
    assert not (out / ".hidden_jpg.json").exists()

    # A second run does only what failed before; finished results are kept and counted.
    before = (out / "a_jpg.json").stat().st_mtime_ns
    r = CliRunner().invoke(run_main, args)
    assert r.exit_code == 1
    summary = json.loads((out / "summary.json").read_text())
    assert summary["skipped_already_done"] == 3 and summary["processed"] == 0
    assert (out / "a_jpg.json").stat().st_mtime_ns == before
    agg = np.load(out / "poses.npz")
    n_people = sum(len(json.loads((out / f"{p}.json").read_text())["people"]) for p in names.values())
    assert agg["joints_3d_mm"].shape == (n_people, 17, 3) and list(agg["joint_names"])[0] == "Hip"


def test_given_box_puts_the_crop_on_the_person(tiny_onnx, frames, tmp_path):
    images, joints = frames
    cv2.imwrite(str(tmp_path / "p.png"), images[0])
    out = tmp_path / "out"
    r = CliRunner().invoke(run_main, [str(tmp_path / "p.png"), "-o", str(out), "--model", str(tiny_onnx), "--quiet",
                                      "--bbox", person_bbox(joints[0]), "--no-annotate", "--focal", "900"])
    assert r.exit_code == 0, r.output
    rec = json.loads((out / "p_png.json").read_text())
    lo, hi = joints[0].min(0), joints[0].max(0)
    (person,) = rec["people"]
    cx, cy, side = person["box"]
    assert person["box_source"] == "given" and rec["status"] == "ok" and rec["focal_px"] == 900.0
    np.testing.assert_allclose([cx, cy], (lo + hi) / 2, atol=0.1)
    assert side == pytest.approx((hi - lo).max() * 1.4, rel=1e-3)  # the training crop's margin
    assert not (out / "p_png.annotated.jpg").exists()  # --no-annotate


def test_odd_images_are_handled(tiny_onnx, tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    cv2.imwrite(str(src / "one_pixel.png"), np.zeros((1, 1, 3), np.uint8))
    cv2.imwrite(str(src / "ünïcødé.jpg"), np.full((90, 120, 3), 128, np.uint8))
    cv2.imwrite(str(src / "float.tiff"), np.random.default_rng(0).random((64, 48, 3), dtype=np.float32))
    out = tmp_path / "out"
    r = CliRunner().invoke(run_main, [str(src), "-o", str(out), "--model", str(tiny_onnx), "--quiet", "--full-image"])
    assert r.exit_code == 0, r.output
    for name in ("one_pixel_png", "ünïcødé_jpg", "float_tiff"):
        assert json.loads((out / f"{name}.json").read_text())["status"] == "ok"
        assert (out / f"{name}.annotated.jpg").is_file()


def test_bad_arguments_are_clear(tiny_onnx, tmp_path):
    runner = CliRunner()
    r = runner.invoke(run_main, ["-o", str(tmp_path)])
    assert r.exit_code == 2 and "exactly one input" in r.output
    r = runner.invoke(run_main, [str(tmp_path), "--model", str(tmp_path / "missing.onnx")])
    assert r.exit_code == 1 and "model file not found" in r.output and "missing.onnx" in r.output
    (tmp_path / "fake.onnx").write_bytes(b"nope")
    r = runner.invoke(run_main, [str(tmp_path), "--model", str(tmp_path / "fake.onnx")])
    assert r.exit_code == 1 and "fake.onnx" in r.output and "Traceback" not in r.output
    r = runner.invoke(run_main, [str(tmp_path), "--model", str(tiny_onnx), "--bbox", "1,2,3"])
    assert r.exit_code == 2 and "x,y,w,h" in r.output


def test_video_runs_to_the_end_and_a_truncated_one_ends_cleanly(tiny_onnx, frames, tmp_path):
    images, joints = frames
    video = tmp_path / "clip.mp4"
    write_video(video, images * 2)
    out = tmp_path / "out"
    r = CliRunner().invoke(run_main, ["--video", str(video), "-o", str(out), "--model", str(tiny_onnx), "--no-display",
                                      "--smooth", "--bbox", person_bbox(joints[0])])
    assert r.exit_code == 0, r.output
    lines = [json.loads(x) for x in (out / "clip.jsonl").read_text().splitlines()]
    assert [x["frame"] for x in lines] == list(range(12)) and all(x["status"] == "ok" for x in lines)
    assert all([q["track_id"] for q in x["people"]] == [0] for x in lines)  # the given box: one person throughout
    summary = json.loads((out / "clip.summary.json").read_text())
    assert summary["frames"] == 12 and summary["smoothing"] == "one-euro" and summary["ended_by"] == "end of stream"
    cap = cv2.VideoCapture(str(out / "clip.annotated.mp4"))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 12
    assert np.load(out / "clip.poses.npz")["joints_2d_px"].shape == (12, 17, 2)

    # An MP4 cut short loses its index (written last): a clear error naming the file.
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(video.read_bytes()[:5000])
    r = CliRunner().invoke(run_main, ["--video", str(cut), "-o", str(out), "--model", str(tiny_onnx), "--no-display"])
    assert r.exit_code == 1 and "cannot open video" in r.output and "cut.mp4" in r.output

    # An AVI cut short still opens: the frames before the cut are processed and saved.
    avi = tmp_path / "clip.avi"
    write_video(avi, images * 2)
    cut = tmp_path / "cut.avi"
    data = avi.read_bytes()
    cut.write_bytes(data[: int(len(data) * 0.6)])
    r = CliRunner().invoke(run_main, ["--video", str(cut), "-o", str(out), "--model", str(tiny_onnx), "--no-display"])
    assert r.exit_code == 0, r.output
    summary = json.loads((out / "cut.summary.json").read_text())
    n = len((out / "cut.jsonl").read_text().splitlines())
    assert summary["frames"] == n and 0 < n < 12  # what could be read, saved


class FakeCamera:
    """A video file that behaves like a camera which is unplugged after ``frames`` frames."""

    def __init__(self, path, frames):
        self.cap = cv2.VideoCapture(str(path))
        self.left = frames

    def isOpened(self):
        return self.cap.isOpened()

    def get(self, prop):
        return self.cap.get(prop)

    def read(self):
        self.left -= 1
        return self.cap.read() if self.left >= 0 else (False, None)

    def release(self):
        self.cap.release()


def test_webcam_loop_on_a_fabricated_camera_ends_when_it_is_lost(tiny_onnx, frames, tmp_path, monkeypatch):
    images, _ = frames
    video = tmp_path / "cam.mp4"
    write_video(video, images)
    opened = []
    monkeypatch.setattr(sources, "open_capture", lambda source: opened.append(source) or FakeCamera(video, 4))
    out = tmp_path / "out"
    r = CliRunner().invoke(run_main, ["--webcam", "--no-display", "-o", str(out), "--model", str(tiny_onnx)])
    assert r.exit_code == 0, r.output
    assert opened == [0]
    summary = json.loads((out / "webcam0.summary.json").read_text())
    assert summary["frames"] == 4 and summary["ended_by"] == "end of stream"
    assert len((out / "webcam0.jsonl").read_text().splitlines()) == 4
    assert (out / "webcam0.annotated.mp4").is_file()


def test_pose3d_run_works_without_torch(tiny_onnx, frames, tmp_path):
    images, joints = frames
    cv2.imwrite(str(tmp_path / "p.jpg"), images[0])
    result = run_without_torch(
        f"""
        from pose3d_runtime.cli import main
        try:
            main([{str(tmp_path / "p.jpg")!r}, "-o", {str(tmp_path / "out")!r}, "--model", {str(tiny_onnx)!r},
                  "--quiet", "--bbox", {person_bbox(joints[0])!r}])
        except SystemExit as e:
            assert "torch" not in sys.modules
            raise
        """
    )
    assert result.returncode == 0, result.stderr
    assert json.loads((tmp_path / "out" / "p_jpg.json").read_text())["status"] == "ok"
    assert "CUDA" not in result.stderr  # the provider choice kept onnxruntime quiet
def test_the_default_model_ships_and_loads():
    from pose3d_runtime.model import PoseModel

    path = default_model_path()
    assert path.is_file(), f"{path} missing: the package must ship its default model"
    assert path.stat().st_size <= 30e6
    model = PoseModel(device="cpu")
    S = model.info.input_size
    assert model.info.contract.crop_size >= S and len(model.info.joint_names) == 17
    pose, joints, person = model(np.zeros((2, 3, S, S), np.float32))
    assert pose.shape == (2, 17, 3) and np.isfinite(pose).all()
    assert model.has_person and person.shape == (2,) and ((person >= 0) & (person <= 1)).all()
