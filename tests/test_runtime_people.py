"""pose3d-run with several people: every person found is in the record (the ``people`` list), the
aggregate has a row per person, streams give track ids, and detector options and files are checked.
The detector is the fabricated red-blob one of test_detector_runtime."""

import json

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from pose3d_runtime.cli import main as run_main
from pose3d_runtime.detector import default_detector_path
from test_detector_runtime import blob_detector, red_blobs

PERSON_KEYS = {"joints_3d_mm", "joints_2d_px", "box", "extent", "box_source", "detector_score", "score",
               "root_cam_mm", "track_id"}


@pytest.fixture
def detector(tmp_path):
    return blob_detector(tmp_path / "det.onnx", threshold=0.5)


def run(*args):
    return CliRunner().invoke(run_main, [str(a) for a in args])


ANY_POSE = ("--min-score", "0", "--min-size", "0")  # the tiny model is untrained: every blob's pose is verified, at any size


def test_every_person_is_in_the_record_and_the_aggregate(tiny_onnx, detector, tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    cv2.imwrite(str(src / "two.png"), red_blobs(640, 480, [(160, 240), (480, 200)], sigma=30))
    cv2.imwrite(str(src / "three_portrait.png"), red_blobs(360, 640, [(60, 100), (180, 320), (300, 540)], sigma=30))
    cv2.imwrite(str(src / "nobody.png"), np.zeros((200, 300, 3), np.uint8))
    out = tmp_path / "out"
    r = run(src, "-o", out, "--model", tiny_onnx, "--detector", detector, "--quiet", "--batch-size", "2", *ANY_POSE)
    assert r.exit_code == 0, r.output
    two = json.loads((out / "two_png.json").read_text())
    assert two["status"] == "ok" and len(two["people"]) == 2
    for person in two["people"]:
        assert set(person) == PERSON_KEYS and person["box_source"] == "detected" and person["track_id"] is None
        assert 0.5 <= person["detector_score"] <= 1 and len(person["extent"]) == 4
    assert two["people"][0]["score"] >= two["people"][1]["score"]  # best (verified pose) score first
    centres = sorted(round(p["box"][0], -1) for p in two["people"])
    assert centres == pytest.approx([160, 480], abs=20)
    three = json.loads((out / "three_portrait_png.json").read_text())
    assert len(three["people"]) == 3 and three["principal_point_px"] == [179.5, 319.5]
    nobody = json.loads((out / "nobody_png.json").read_text())
    assert nobody["status"] == "no_person" and nobody["people"] == []  # a result, not an error
    assert (out / "nobody_png.annotated.jpg").is_file()
    summary = json.loads((out / "summary.json").read_text())
    assert summary["people"] == 5 and summary["no_person"] == 1 and summary["boxes"].startswith("detector det.onnx:")
    agg = np.load(out / "poses.npz")
    assert agg["joints_3d_mm"].shape == (5, 17, 3) and agg["person"].tolist().count(0) == 2
    assert (agg["track_ids"] == -1).all()

    # --max-people and --min-score.
    r = run(src / "two.png", "-o", tmp_path / "one", "--model", tiny_onnx, "--detector", detector, "--quiet",
            "--max-people", "1", "--no-annotate", *ANY_POSE)
    assert r.exit_code == 0, r.output
    assert len(json.loads((tmp_path / "one" / "two_png.json").read_text())["people"]) == 1
    r = run(src / "two.png", "-o", tmp_path / "strict", "--model", tiny_onnx, "--detector", detector, "--quiet",
            "--min-score", "1.0", "--no-annotate")
    assert r.exit_code == 0 and json.loads((tmp_path / "strict" / "two_png.json").read_text())["status"] == "no_person"


def test_a_stream_gives_every_person_a_track_id(tiny_onnx, detector, tmp_path):
    video = tmp_path / "two.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10, (640, 480))
    for t in range(8):
        writer.write(red_blobs(640, 480, [(120 + 8 * t, 240), (500, 200)], sigma=30))
    writer.release()
    out = tmp_path / "out"
    r = run("--video", video, "-o", out, "--model", tiny_onnx, "--detector", detector, "--no-display", "--smooth",
            *ANY_POSE)
    assert r.exit_code == 0, r.output
    lines = [json.loads(x) for x in (out / "two.jsonl").read_text().splitlines()]
    assert len(lines) == 8
    from pose3d_runtime.boxes import CONFIRM_FRAMES

    confirmed = CONFIRM_FRAMES - 1  # the first frame a new person is reported in (tracked, unreported before)
    assert all(rec["status"] == "no_person" for rec in lines[:confirmed])
    # Every frame from then on: both people, each with a track id. (Which ids: the tiny model's untrained
    # joints, verified at any score, take followed crops off their blobs, and the blobs' proposals start
    # new tracks; identities over time are tests/test_track.py's, on fabricated poses.)
    for rec in lines[confirmed:]:
        people = rec["people"]
        assert rec["status"] == "ok" and all(isinstance(p["track_id"], int) for p in people)
        assert {p["box"][0] < 320 for p in people} == {True, False}
    summary = json.loads((out / "two.summary.json").read_text())
    assert summary["tracks"] >= 2 and summary["most_people_in_a_frame"] >= 2 and summary["detector_runs"] == 8
    agg = np.load(out / "two.poses.npz")
    assert (agg["track_ids"] >= 0).all() and len(agg["track_ids"]) == sum(len(r["people"]) for r in lines)


def test_detector_files_and_options_are_checked(tiny_onnx, detector, tmp_path):
    cv2.imwrite(str(tmp_path / "a.png"), np.zeros((48, 64, 3), np.uint8))
    out = tmp_path / "out"
    r = run(tmp_path / "a.png", "-o", out, "--model", tiny_onnx, "--detector", tmp_path / "missing.onnx")
    assert r.exit_code == 1 and "detector file not found" in r.output and "missing.onnx" in r.output
    r = run(tmp_path / "a.png", "-o", out, "--model", tiny_onnx, "--detector", tiny_onnx)
    assert r.exit_code == 1 and "not a pose3d person detector: it is a pose model" in r.output
    assert "Traceback" not in r.output
    r = run(tmp_path / "a.png", "-o", out, "--model", tiny_onnx, "--bbox", "1,2,30,40", "--max-people", "2")
    assert r.exit_code == 2 and "--max-people only applies with a detector" in r.output
    r = run(tmp_path / "a.png", "-o", out, "--model", tiny_onnx, "--full-image", "--detector", detector)
    assert r.exit_code == 2 and "--detector only applies with a detector, not with --full-image" in r.output
    r = run(tmp_path / "a.png", "-o", out, "--model", tiny_onnx, "--detector", detector, "--min-score", "2")
    assert r.exit_code == 2 and "--min-score" in r.output


@pytest.mark.skipif(default_detector_path().is_file(), reason="a detector is installed")
def test_without_a_detector_the_run_says_so_and_takes_the_whole_image(tiny_onnx, tmp_path):
    cv2.imwrite(str(tmp_path / "a.png"), np.zeros((48, 64, 3), np.uint8))
    r = run(tmp_path / "a.png", "-o", tmp_path / "out", "--model", tiny_onnx, "--quiet")
    assert r.exit_code == 0 and "no person detector is installed" in r.output and "--detector FILE" in r.output
    (person,) = json.loads((tmp_path / "out" / "a_png.json").read_text())["people"]
    assert person["box_source"] == "full_image" and person["box"] == [31.5, 23.5, 64.0]


def test_the_real_photo_evaluation_scores_the_detection_on_the_labelled_person(tiny_onnx, tmp_path):
    from pose3d.crop import square_box
    from pose3d.realval.evaluate import open_model
    from pose3d.realval.labels import read_realval
    from pose3d.realval.predict import labelled_box, run_real
    from pose3d_runtime.detector import Detection
    from pose3d_runtime.pipeline import Estimator
    from test_realval import make_realval

    data = read_realval(make_realval(tmp_path / "rv"))
    estimator = Estimator(open_model(tiny_onnx))
    order = iter(data.frames)  # run_real reads the frames in order

    class Stub:
        """The labelled person and a decoy in the corner, the decoy scored higher."""

        class info:
            model_id = "stub:0"

        def __call__(self, frame, min_score=None, max_people=20):
            box = labelled_box(next(order), estimator.margin)
            decoy = np.array([2.0, 2.0, 30.0, 60.0])
            return [Detection(decoy, square_box(decoy.reshape(2, 2), estimator.margin), 0.99),
                    Detection(np.r_[box[:2] - box[2] / 2.8, box[:2] + box[2] / 2.8], box, 0.6)]  # about its extent

    class Steady:
        """The tiny model, its joints spanning the person's extent in every crop (the box a crop was
        cut from is its refined box) and every pose scored 0.9: the product path keeps both people."""

        def __init__(self, inner):
            self.inner, self.info, self.provider, self.has_person = inner, inner.info, "test", True
            box = np.array([0.0, 0.0, 100.0])
            A = Estimator(inner).crop_affines(box[None])[0]
            half = 50.0 / (1.0 + 2.0 * inner.info.crop.margin)
            self.corners = A[:, :2] @ np.array([[-half, -half], [half, half]]).T + A[:, 2:]

        def __call__(self, x):
            pose, _, _ = self.inner(x)
            joints = np.repeat(self.corners.T[None], len(x), axis=0)
            joints = np.concatenate([joints, np.repeat(joints.mean(axis=1, keepdims=True), 15, axis=1)], axis=1)
            return pose, joints.astype(np.float32), np.full(len(x), 0.9, np.float32)

    estimator = Estimator(Steady(open_model(tiny_onnx)))
    run = run_real(estimator, data, detector=Stub())
    found = run.predictions["detector"]
    assert found.applies.all() and found.found.all() and np.allclose(found.iou, 1.0, atol=0.02)
    if not default_detector_path().is_file():
        run = run_real(estimator, data)
        assert not run.predictions["detector"].applies.any()
        assert any("no person detector is installed" in n for n in run.notes)
