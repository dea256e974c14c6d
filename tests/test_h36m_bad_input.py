"""Human3.6M bad input: every broken file is reported by name, the rest is prepared, nothing is
half-written, and the command line shows messages, not tracebacks."""

import json
import shutil

import cv2
import numpy as np
from click.testing import CliRunner

from pose3d.cli.prepare import main
from pose3d.data.h36m import PreparedH36M
from h36m_fixtures import jpeg_tree, npz_tree, official_tree, write_cdf, write_video  # noqa: F401

ARGS = ["--test-every", "8", "--quiet"]


def run(root, out, *extra):
    return CliRunner().invoke(main, ["h36m", "--root", str(root), "--out", str(out), *ARGS, *extra])


def test_official_tree_with_broken_files(official_tree, tmp_path):
    root = tmp_path / "tree"
    shutil.copytree(official_tree.root, root)
    poses = root / "S1" / "MyPoseFeatures" / "D3_Positions"
    videos = root / "S1" / "Videos"
    (videos / "Directions 1.55011271.mp4").write_bytes(b"not a video")  # corrupt video
    (videos / "Directions 1.58860488.mp4").unlink()  # missing video
    (root / "S11" / "MyPoseFeatures" / "D3_Positions" / "WalkingDog.cdf").write_bytes(b"\x00" * 300)  # corrupt CDF
    shutil.copy(poses / "WalkingDog.cdf", poses / "Dancing 1.cdf")  # unknown action
    # A pose file longer than its videos: frame-count mismatch for every camera of that recording.
    pose = np.zeros((40, 32, 3)) + [0.0, 0.0, 900.0]
    write_cdf(poses / "Eating.cdf", pose)
    for cam in ("54138969", "55011271", "58860488", "60457274"):
        shutil.copy(videos / f"WalkingDog.{cam}.mp4", videos / f"Eating.{cam}.mp4")  # 33 frames < 40
    r = run(root, tmp_path / "out", "--subjects", "S1", "--subjects", "S11", "--subjects", "S9")
    assert r.exit_code == 0, r.output
    assert "Traceback" not in r.output
    text = r.output
    assert "Directions 1.55011271.mp4: corrupt" in text
    assert "Directions 1.58860488.mp4: missing" in text
    assert "WalkingDog.cdf: corrupt" in text
    assert "Dancing 1.cdf: unknown-action" in text
    assert "Eating.54138969.mp4: mismatch: the video ends after 33 frames; its pose data has 40" in text
    assert f"{root / 'S9'}: missing" in text
    assert "9 problem(s)" in text  # one per file (the broken CDF once, not once per camera): 1 + 1 + 1 + 1 + 4 + 1
    ds = PreparedH36M(tmp_path / "out")  # the rest: S1 Directions (2 cameras) and WalkDog (4); S11 had only WalkDog
    assert ds.manifest["counts"]["subject"] == {"S1": 6 * 6}
    assert sorted({p["kind"] for p in ds.manifest["problems"]}) == ["corrupt", "mismatch", "missing", "unknown-action"]
    assert not list((tmp_path / "out" / "chunks").glob(".tmp-*"))


def test_jpeg_tree_with_broken_files(jpeg_tree, tmp_path):
    root = tmp_path / "tree"
    shutil.copytree(jpeg_tree.root, root)
    folder = root / "images" / "s_01_act_02_subact_01_ca_01"
    (folder / "s_01_act_02_subact_01_ca_01_000006.jpg").write_bytes(b"\xff\xd8 broken")  # frame 5: corrupt
    (folder / "s_01_act_02_subact_01_ca_01_000011.jpg").unlink()  # frame 10: missing
    cut = folder / "s_01_act_02_subact_01_ca_01_000016.jpg"  # frame 15: truncated, which OpenCV decodes
    cut.write_bytes(cut.read_bytes()[: cut.stat().st_size // 2])  # with its lower half grey, no error
    assert cv2.imread(str(cut)) is not None
    data_file = root / "annotations" / "Human36M_subject11_data.json"
    data = json.loads(data_file.read_text())
    for image in data["images"]:
        if image["action_idx"] == 15 and image["cam_idx"] == 2:
            image["action_idx"] = 40  # unknown action
    data_file.write_text(json.dumps(data))
    r = run(root, tmp_path / "out", "--subjects", "S1", "--subjects", "S11")
    assert r.exit_code == 0, r.output
    assert "s_01_act_02_subact_01_ca_01_000006.jpg: corrupt" in r.output
    assert "s_01_act_02_subact_01_ca_01_000011.jpg: missing" in r.output
    assert "s_01_act_02_subact_01_ca_01_000016.jpg: corrupt: truncated JPEG" in r.output
    assert "s_11_act_15_subact_02_ca_02: unknown-action" in r.output
    ds = PreparedH36M(tmp_path / "out")
    chunk = json.loads((tmp_path / "out" / "chunks" / "S1.Directions.1.54138969" / "meta.json").read_text())
    assert chunk["count"] == 1  # frame 0 of 0, 5, 10, 15
    assert ds.manifest["counts"]["subject"] == {"S1": 29, "S11": 21}


def test_corrupt_archive_and_wrong_folders(npz_tree, tmp_path):
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "data_3d_h36m.npz").write_bytes(b"PK junk")
    r = run(tmp_path / "bad", tmp_path / "out")
    assert r.exit_code == 1 and "data_3d_h36m.npz: corrupt" in r.output and "nothing could be prepared" in r.output
    assert "Traceback" not in r.output
    (tmp_path / "empty").mkdir()
    r = run(tmp_path / "empty", tmp_path / "out2")
    assert r.exit_code == 1 and "none of the Human3.6M layouts" in r.output
    r = CliRunner().invoke(main, ["h36m", "--root", str(npz_tree.root), "--out", str(tmp_path / "o"), "--subjects", "S99"])
    assert r.exit_code == 1 and "S99" in r.output and "Traceback" not in r.output
    r = CliRunner().invoke(main, ["h36m", "--root", str(npz_tree.root), "--out", str(tmp_path / "o"), "--subjects", "x"])
    assert r.exit_code == 2 and "not a subject" in r.output
    # Resuming with other options is refused with a message.
    assert run(npz_tree.root, tmp_path / "npz", "--subjects", "S1").exit_code == 0
    r = run(npz_tree.root, tmp_path / "npz", "--subjects", "S1", "--train-every", "2")
    assert r.exit_code == 1 and "other options" in r.output
