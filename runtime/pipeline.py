"""From frames and person boxes to poses: crop (fused kernel), run the model, map back to the frame.

``Estimator`` owns the model and the detector and knows the crop geometry from the model's metadata:
a square person box is resized to ``crop.size`` and the network sees its central ``input_size``
pixels (``pose3d.crop.person_crop_affine``, the training geometry). ``estimate`` takes a batch of
(frame, box) pairs, from one frame or many, and returns one ``Pose`` per pair.

The network predicts the pose relative to the pelvis. ``Pose.root_mm`` places it in front of the
camera: the translation whose perspective projection best lands the 3D joints on the predicted 2D
joints (``geometry.fit_translation``), through a pinhole camera of focal length ``focal_px`` (given,
or the image's longer side). Its depth scales with that focal length, so it is only as good as the
assumed camera; the overlay draws that reprojection thin beside the 2D skeleton. ``Pose.score`` is
the model's person probability where it has a person head, else the agreement of its 2D and 3D
heads (``pose3d_runtime.score``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from pose3d.crop import apply_affine, box_crop_affine, invert_affine
from pose3d_runtime.detect import PersonDetector
from pose3d_runtime.geometry import fit_translation, pinhole, project_points
from pose3d_runtime.model import PoseModel
from pose3d_runtime.outputs import rounded
from pose3d_runtime.preprocess import crop_normalise
from pose3d_runtime.score import score as pose_score


@dataclass
class Pose:
    joints_3d_mm: np.ndarray  # (J, 3) root-relative, camera frame
    joints_2d_px: np.ndarray  # (J, 2) frame pixels
    box: np.ndarray  # (3,) cx, cy, side
    score: float
    root_mm: np.ndarray  # (3,) the pelvis in the camera frame, placed by back-projection (see focal_px)
    focal_px: float

    def record(self, box_source: str, detector_score: float | None, model_id: str) -> dict[str, Any]:
        return {"status": "ok", "joints_3d_mm": rounded(self.joints_3d_mm, 1), "joints_2d_px": rounded(self.joints_2d_px, 2),
                "box": rounded(self.box, 2), "box_source": box_source,
                "detector_score": None if detector_score is None else round(detector_score, 3),
                "score": round(float(self.score), 3), "root_cam_mm": rounded(self.root_mm, 0),
                "focal_px": round(self.focal_px, 1), "model": model_id}

    def reprojected(self, frame_shape: tuple[int, ...]) -> np.ndarray:
        """(J, 2) pixels: the 3D pose at its estimated position seen through the assumed camera."""
        return project_points(self.joints_3d_mm + self.root_mm, pinhole(self.focal_px, principal_point(frame_shape)))


def no_person_record(model_id: str) -> dict[str, Any]:
    return {"status": "no_person", "joints_3d_mm": None, "joints_2d_px": None, "box": None, "box_source": None,
            "detector_score": None, "score": None, "root_cam_mm": None, "focal_px": None, "model": model_id}


def principal_point(shape: tuple[int, ...]) -> np.ndarray:
    """The image centre in pixel coordinates (pixel centres at integers)."""
    return np.array([(shape[1] - 1) / 2.0, (shape[0] - 1) / 2.0])


def default_focal(shape: tuple[int, ...]) -> float:
    """Without calibration: a focal length of the image's longer side (a 53 degree field of view
    across it, between phone main cameras and Human3.6M's 1145 px at 1000 px)."""
    return float(max(shape[0], shape[1]))


MAX_PIXELS = 1_000_000  # no image coordinate, box size or focal length in pixels is larger


def parse_bbox(text: str, margin: float) -> np.ndarray:
    """'x,y,w,h' (the person's box in pixels) -> the square crop box with the model's margin;
    ValueError for anything but four finite numbers within +-MAX_PIXELS and a positive size."""
    try:
        x, y, w, h = (float(v) for v in text.split(","))
    except ValueError:
        raise ValueError(f"--bbox takes x,y,w,h in pixels, got {text!r}") from None
    if not all(math.isfinite(v) and abs(v) <= MAX_PIXELS for v in (x, y, w, h)):
        raise ValueError(f"--bbox takes finite pixel values within +-{MAX_PIXELS:,}, got {text!r}")
    if w <= 0 or h <= 0:
        raise ValueError(f"--bbox width and height must be positive, got {text!r}")
    return np.array([x + w / 2, y + h / 2, max(w, h) * (1.0 + 2.0 * margin)])


def check_box_in_image(box: np.ndarray, shape: tuple[int, ...]) -> None:
    """ValueError when a given box's centre lies outside the image: the person would not be in the
    crop, and the pose placed from it would be meaningless (a depth of kilometres, behind the camera)."""
    H, W = shape[:2]
    cx, cy = float(box[0]), float(box[1])
    if not (0 <= cx <= W and 0 <= cy <= H):
        raise ValueError(f"the --bbox centre ({cx:.0f}, {cy:.0f}) lies outside this {W} x {H} image")


def full_image_box(shape: tuple[int, ...]) -> np.ndarray:
    """The input is already a person crop: it is the whole square the network's crop is cut from."""
    H, W = shape[:2]
    return np.array([W / 2.0, H / 2.0, float(max(H, W))])


def run_on_crops(model: PoseModel, crops: np.ndarray, batch_size: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """(B, 3, S, S) uint8 RGB crops that are already the network's input (S = the model's input
    size) -> (B, J, 3) mm root-relative poses and (B, J, 2) crop-pixel joints, through the same
    normalising kernel as frames."""
    I = model.info
    if crops.ndim != 4 or crops.shape[1] != 3 or crops.shape[2:] != (I.input_size, I.input_size):
        raise ValueError(f"expected (B, 3, {I.input_size}, {I.input_size}) crops, got {crops.shape}")
    identity = np.array([[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]])
    poses, joints = [], []
    for lo in range(0, len(crops), batch_size):
        x = np.concatenate([crop_normalise(np.ascontiguousarray(c.transpose(1, 2, 0)), identity, I.input_size, I.mean,
                                           I.std, bgr=False) for c in crops[lo:lo + batch_size]])
        pose, joint, _ = model(x)
        poses.append(pose)
        joints.append(joint)
    return np.concatenate(poses), np.concatenate(joints)


class Estimator:
    def __init__(self, model: PoseModel, focal_px: float | None = None) -> None:
        self.model = model
        self.focal_px = focal_px  # None: default_focal of each frame
        self.info = model.info
        self.margin = model.info.crop.margin
        self.detector = PersonDetector(self.margin)

    def crop_affines(self, boxes: np.ndarray) -> np.ndarray:
        """(B, 3) person boxes -> (B, 2, 3) affines from frame pixels onto the network's input."""
        return box_crop_affine(np.asarray(boxes, dtype=np.float64), self.info.crop)

    def estimate(self, frames: Sequence[np.ndarray], boxes: Sequence[np.ndarray]) -> list[Pose]:
        """One pose per (frame, box) pair, all through the model as one batch."""
        if not frames:
            return []
        I = self.info
        affines = self.crop_affines(np.stack(boxes))
        x = np.concatenate([crop_normalise(f, A[None], I.input_size, I.mean, I.std) for f, A in zip(frames, affines)])
        pose, joints, person = self.model(x)
        scores = person if person is not None else pose_score(pose, joints)
        joints_frame = apply_affine(invert_affine(affines), joints.astype(np.float64))
        poses = []
        for i, frame in enumerate(frames):
            f = self.focal_px or default_focal(frame.shape)
            p3 = pose[i].astype(np.float64)
            root = fit_translation(p3, joints_frame[i], np.array([f, f]), principal_point(frame.shape))
            poses.append(Pose(p3, joints_frame[i], np.asarray(boxes[i], dtype=np.float64), float(scores[i]), root, f))
        return poses
