"""pose3d-run on awkward inputs and arguments: nothing silently lost, nothing read twice, every
problem a message (unlistable folders, symlinks, the output folder inside the input, unwritable
outputs, absurd boxes and focal lengths, huge image headers, options of the other mode)."""

import json
import os
import stat
import struct
import zlib

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from pose3d_runtime.cli import main as run_main
from pose3d_runtime.outputs import file_mode, write_json
from pose3d_runtime.sources import list_inputs, read_image, ImageError


def blank(path, size=(90, 120)):
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.full((*size, 3), 128, np.uint8))


def invoke(model, *args):
    return CliRunner().invoke(run_main, [*map(str, args), "--model", str(model)])


def huge_png_header() -> bytes:
    """A valid PNG whose header declares 100,000 x 100,000 pixels."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    ihdr = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 16)) + chunk(b"IEND", b"")


def test_symlinks_loops_and_unlistable_folders_are_listed(tmp_path, monkeypatch):
    root = tmp_path / "in"
    blank(root / "a.jpg")
    blank(root / "sub" / "b.png")
    (root / "locked").mkdir()
    os.symlink("missing.jpg", root / "broken.jpg")
    os.symlink("..", root / "sub" / "up")  # a loop back to the input folder
    os.symlink("self", root / "self")  # a symlink to itself
    os.symlink("sub", root / "linked")  # a symlinked folder is followed
    real_scandir = os.scandir

    def scandir(path="."):
        if os.fspath(path).endswith("locked"):
            raise PermissionError(13, "Permission denied")
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)  # root may list any folder: refuse one by hand
    found = list_inputs(root)
    assert [p.relative_to(root).as_posix() for p in found.images] == ["a.jpg", "linked/b.png", "sub/b.png"]
    reasons = {p.relative_to(root).as_posix(): r for p, r in found.unreadable}
    assert set(reasons) == {"broken.jpg", "locked", "self", "sub/up", "linked/up"}
    assert reasons["broken.jpg"].startswith("broken symlink") and "missing.jpg" in reasons["broken.jpg"]
    assert reasons["locked"] == "cannot list this folder: Permission denied"
    assert "symlink loop" in reasons["self"] and "symlink loop" in reasons["sub/up"]


def test_unreadable_entries_reach_errors_json_and_the_exit_status(tiny_onnx, tmp_path):
    root = tmp_path / "in"
    blank(root / "a.jpg")
    os.symlink("missing.jpg", root / "broken.jpg")
    os.symlink("self", root / "self")
    (root / "huge.png").write_bytes(huge_png_header())
    out = tmp_path / "out"
    r = invoke(tiny_onnx, root, "-o", out, "--quiet", "--full-image")
    assert r.exit_code == 1, r.output
    errors = {e["file"]: e["error"] for e in json.loads((out / "errors.json").read_text())}
    assert set(errors) == {"broken.jpg", "self", "huge.png"}
    assert errors["huge.png"].startswith("image too large") and "Assertion" not in errors["huge.png"]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["processed"] == 1 and summary["failed"] == 3 and len(summary["errors"]) == 3


def test_the_output_folder_inside_the_input_is_never_read(tiny_onnx, tmp_path, monkeypatch):
    from test_detector_runtime import blob_detector

    detector = blob_detector(tmp_path.parent / f"{tmp_path.name}-det.onnx", threshold=0.9)  # grey: nobody
    blank(tmp_path / "x.jpg")
    blank(tmp_path / "x.png")  # the same name: outputs x_jpg and x_png do not collide
    monkeypatch.chdir(tmp_path)
    for _ in range(2):  # `pose3d-run .` twice, into the default pose3d-out inside it
        r = invoke(tiny_onnx, ".", "--quiet", "--detector", detector)
        assert r.exit_code == 0, r.output
    out = tmp_path / "pose3d-out"
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*")) == [
        "errors.json", "poses.npz", "summary.json",
        "x_jpg.annotated.jpg", "x_jpg.json", "x_png.annotated.jpg", "x_png.json"]  # no pose3d-out/pose3d-out
    summary = json.loads((out / "summary.json").read_text())
    assert summary["skipped_already_done"] == 2 and summary["processed"] == 0
    assert json.loads((out / "x_png.json").read_text())["status"] == "no_person"  # annotated all the same
    r = invoke(tiny_onnx, ".", "-o", ".", "--quiet")
    assert r.exit_code == 2 and "is the input folder" in r.output
    r = invoke(tiny_onnx, "x.jpg", "-o", "..", "--quiet")
    assert r.exit_code == 2 and "contains the input folder" in r.output


def test_an_unwritable_output_folder_is_refused_up_front(tiny_onnx, tmp_path):
    blank(tmp_path / "in" / "a.jpg")
    (tmp_path / "file").write_text("a file where the output folder would go")
    r = invoke(tiny_onnx, tmp_path / "in", "-o", tmp_path / "file" / "sub", "--quiet")
    assert r.exit_code == 2 and "cannot write to the output folder" in r.output, r.output
    assert "Traceback" not in r.output and "a.jpg" not in r.output
    r = invoke(tiny_onnx, "--video", tmp_path / "in" / "a.jpg", "-o", tmp_path / "file" / "sub")
    assert r.exit_code == 2 and "cannot write to the output folder" in r.output, r.output
    if os.geteuid() != 0:  # root writes anywhere
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        r = invoke(tiny_onnx, tmp_path / "in", "-o", locked, "--quiet")
        assert r.exit_code == 2 and "Permission denied" in r.output


@pytest.mark.parametrize("bbox", ["nan,0,10,10", "0,0,inf,10", "1e30,0,10,10", "0,0,-5,10"])
def test_absurd_boxes_are_refused(tiny_onnx, tmp_path, bbox):
    blank(tmp_path / "a.jpg")
    r = invoke(tiny_onnx, tmp_path / "a.jpg", "-o", tmp_path / "out", "--bbox", bbox)
    assert r.exit_code == 2 and "--bbox" in r.output and "Traceback" not in r.output


@pytest.mark.parametrize("focal", ["nan", "inf", "-inf", "0.5", "1e30"])
def test_absurd_focal_lengths_are_refused(tiny_onnx, tmp_path, focal):
    blank(tmp_path / "a.jpg")
    r = invoke(tiny_onnx, tmp_path / "a.jpg", "-o", tmp_path / "out", "--focal", focal)
    assert r.exit_code == 2 and "--focal" in r.output and "focal length in pixels" in r.output


def test_a_box_outside_the_image_fails_that_image(tiny_onnx, tmp_path):
    blank(tmp_path / "in" / "a.jpg")  # 120 x 90
    out = tmp_path / "out"
    r = invoke(tiny_onnx, tmp_path / "in", "-o", out, "--quiet", "--bbox", "5000,5000,100,200")
    assert r.exit_code == 1
    (error,) = json.loads((out / "errors.json").read_text())
    assert error["file"] == "a.jpg" and "outside this 120 x 90 image" in error["error"]
    assert not (out / "a_jpg.json").exists()


def test_results_follow_the_umask(tmp_path):
    old = os.umask(0o027)
    try:
        file_mode.cache_clear()
        write_json(tmp_path / "r.json", {"a": 1})
        assert stat.S_IMODE((tmp_path / "r.json").stat().st_mode) == 0o640
        os.umask(0o022)
        file_mode.cache_clear()
        write_json(tmp_path / "s.json", {"a": 1})
        assert stat.S_IMODE((tmp_path / "s.json").stat().st_mode) == 0o644
    finally:
        os.umask(old)
        file_mode.cache_clear()
    with pytest.raises(ValueError):  # never NaN or Infinity in a JSON file
        write_json(tmp_path / "t.json", {"a": float("nan")})


def test_a_huge_image_header_is_explained(tmp_path):
    (tmp_path / "huge.png").write_bytes(huge_png_header())
    with pytest.raises(ImageError, match="image too large: its header declares more pixels"):
        read_image(tmp_path / "huge.png")


def test_options_of_the_other_mode_are_refused_and_help_gives_exit_codes(tiny_onnx, tmp_path):
    blank(tmp_path / "a.jpg")
    for option in (["--smooth"], ["--no-display"], ["--max-frames", "3"]):
        r = invoke(tiny_onnx, tmp_path / "a.jpg", "-o", tmp_path / "out", *option)
        assert r.exit_code == 2 and f"{option[0]} only applies to --video and --webcam" in r.output
    r = invoke(tiny_onnx, "--video", tmp_path / "a.jpg", "-o", tmp_path / "out", "--no-annotate", "--batch-size", "4")
    assert r.exit_code == 2 and "--no-annotate, --batch-size only apply to a FOLDER or IMAGE" in r.output
    r = CliRunner().invoke(run_main, ["--help"])
    assert "Exit status:" in r.output and "2  bad arguments" in r.output


def test_no_stray_progress_line(tiny_onnx, tmp_path):
    blank(tmp_path / "in" / "a.jpg")
    r = invoke(tiny_onnx, tmp_path / "in", "-o", tmp_path / "out", "--full-image")
    assert r.exit_code == 0 and "0img [" not in r.output and "1/1" in r.output


def test_max_frames_says_why_the_stream_ended(tiny_onnx, tmp_path):
    video = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10, (120, 90))
    for i in range(8):
        writer.write(np.full((90, 120, 3), 20 * i, np.uint8))
    writer.release()
    out = tmp_path / "out"
    r = invoke(tiny_onnx, "--video", video, "-o", out, "--no-display", "--full-image", "--max-frames", "3")
    assert r.exit_code == 0, r.output
    summary = json.loads((out / "clip.summary.json").read_text())
    assert summary["frames"] == 3 and summary["ended_by"] == "max frames (3)" and "ended: max frames (3)" in r.output
