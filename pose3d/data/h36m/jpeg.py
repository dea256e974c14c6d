"""Layout (b), per-frame JPEGs with COCO-style JSON annotations (the release the seed used).

    <root>/images/s_01_act_02_subact_01_ca_01/s_01_act_02_subact_01_ca_01_000001.jpg
    <root>/annotations/Human36M_subject1_data.json       images (subject, action_idx 2..16,
                                                          subaction_idx, cam_idx 1..4, frame_idx 0-based,
                                                          file_name, width, height) and annotations
                                                          (image_id, bbox [x, y, w, h])
    <root>/annotations/Human36M_subject1_camera.json     cam_idx -> R, t (X_cam = R X + t, mm), f, c
    <root>/annotations/Human36M_subject1_joint_3d.json   action_idx -> subaction_idx -> frame_idx ->
                                                          17 x [x, y, z] world mm, our joint order

The person box is the annotation's (made square with the crop margin); cameras have no distortion.
Camera indices 1..4 are labelled with the official camera ids in the same order.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any, Iterator, Sequence

import cv2
import numpy as np

from pose3d.camera import H36M_CAMERA_IDS, Camera
from pose3d.crop import square_box
from pose3d.data.h36m.names import UnknownAction, action_from_index
from pose3d.data.h36m.source import Problem, SourceError, Unit, UnitData, UnitKey, keep_every
from pose3d import images

ANNOTATIONS = "annotations"
IMAGES = "images"


def annotation_file(root: Path, subject: str, what: str) -> Path:
    return root / ANNOTATIONS / f"Human36M_subject{subject.lstrip('S')}_{what}.json"


def is_jpeg(root: Path) -> bool:
    return any((root / ANNOTATIONS).glob("Human36M_subject*_data.json"))


def _read_json(path: Path) -> Any:
    if not path.is_file():
        raise SourceError(str(path), "missing", "annotation file not found")
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise SourceError(str(path), "corrupt", f"not readable JSON ({e})") from None


def _camera(cams: dict, cam_idx: int, size: tuple[int, int], path: Path) -> Camera:
    try:
        c = cams[str(cam_idx)]
        return Camera(R=c["R"], t=c["t"], f=c["f"], c=c["c"], size=size, name=H36M_CAMERA_IDS[cam_idx - 1])
    except (KeyError, IndexError, ValueError, TypeError) as e:
        raise SourceError(str(path), "unknown-camera", f"no usable parameters for camera {cam_idx} ({e})") from None


def read_images(paths: list[Path]) -> Iterator[tuple[int, np.ndarray | Problem]]:
    """(row, RGB image) for each path, or (row, Problem) for a missing, unreadable or truncated file
    (OpenCV decodes a truncated JPEG without complaint, its lower part grey)."""
    for row, path in enumerate(paths):
        try:
            data = np.fromfile(str(path), dtype=np.uint8)
        except OSError:
            yield row, Problem(str(path), "missing" if not path.is_file() else "corrupt", "image cannot be read")
            continue
        if images.is_jpeg(data) and not images.jpeg_complete(data):
            yield row, Problem(str(path), "corrupt", images.TRUNCATED_JPEG)
            continue
        image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
        if image is None:
            yield row, Problem(str(path), "corrupt", "image cannot be read")
        else:
            yield row, cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def _loader(root: Path, subject: str, entries: list[dict], joints: dict, cams: dict, margin: float):
    def load(every: int) -> UnitData:
        first = entries[0]
        cam_path = annotation_file(root, subject, "camera")
        camera = _camera(cams, int(first["cam_idx"]), (int(first["width"]), int(first["height"])), cam_path)
        kept = [e for e in entries if keep_every(int(e["frame_idx"]), every)]
        poses, frames, boxes, paths = [], [], [], []
        missing = []
        for e in kept:
            try:
                pose = joints[str(e["action_idx"])][str(e["subaction_idx"])][str(e["frame_idx"])]
            except KeyError:
                missing.append(e["file_name"])
                continue
            x, y, w, h = (float(v) for v in e["bbox"])
            poses.append(pose)
            frames.append(int(e["frame_idx"]))
            boxes.append(square_box(np.array([[x, y], [x + w, y + h]]), margin))
            paths.append(root / IMAGES / e["file_name"])
        if missing:
            raise SourceError(str(annotation_file(root, subject, "joint_3d")), "mismatch",
                              f"no 3D pose for {len(missing)} annotated frame(s), e.g. {missing[0]}")
        pose_world = np.asarray(poses, dtype=np.float64).reshape(len(poses), 17, 3)
        return UnitData(camera, np.asarray(frames), pose_world, np.asarray(boxes).reshape(-1, 3), read_images(paths))

    return load


def find_units(root: Path, subjects: Sequence[str], margin: float) -> tuple[list[Unit], list[Problem], list[str]]:
    """Every (subject, action, subaction, camera) sequence of ``subjects``; problems; notes."""
    units, problems = [], []
    for subject in subjects:
        try:
            data = _read_json(annotation_file(root, subject, "data"))
            cams = _read_json(annotation_file(root, subject, "camera"))
            joints = _read_json(annotation_file(root, subject, "joint_3d"))
            boxes = {int(a["image_id"]): a["bbox"] for a in data["annotations"]}
            groups: dict[tuple[int, int, int], list[dict]] = defaultdict(list)
            for image in data["images"]:
                if int(image["id"]) in boxes:  # frames without a person box cannot be cropped
                    key = (int(image["action_idx"]), int(image["subaction_idx"]), int(image["cam_idx"]))
                    groups[key].append({**image, "bbox": boxes[int(image["id"])]})
        except SourceError as e:
            problems.append(e.problem)
            continue
        except (KeyError, TypeError, ValueError) as e:
            problems.append(Problem(str(annotation_file(root, subject, "data")), "corrupt", f"unexpected content ({e!r})"))
            continue
        for (action_idx, subaction, cam_idx), entries in sorted(groups.items()):
            folder = str(Path(entries[0]["file_name"]).parent)
            try:
                action = action_from_index(action_idx)
            except UnknownAction as e:
                problems.append(Problem(str(root / IMAGES / folder), "unknown-action", str(e)))
                continue
            if not 1 <= cam_idx <= len(H36M_CAMERA_IDS):
                problems.append(Problem(str(root / IMAGES / folder), "unknown-camera", f"camera index {cam_idx}"))
                continue
            entries.sort(key=lambda e: int(e["frame_idx"]))
            key = UnitKey(subject, action, subaction, H36M_CAMERA_IDS[cam_idx - 1])
            files = (str(annotation_file(root, subject, "data")), str(root / IMAGES / folder))
            units.append(Unit(key, files, _loader(root, subject, entries, joints, cams, margin)))
    return units, problems, []
