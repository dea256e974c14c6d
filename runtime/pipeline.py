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


def parse_bbox(text: str, margin: float) -> np.ndarray:
    """'x,y,w,h' (the person's box in pixels) -> the square crop box with the model's margin."""
    try:
        x, y, w, h = (float(v) for v in text.split(","))
    except ValueError:
        raise ValueError(f"--bbox takes x,y,w,h in pixels, got {text!r}") from None
    if w <= 0 or h <= 0:
        raise ValueError(f"--bbox width and height must be positive, got {text!r}")
    return np.array([x + w / 2, y + h / 2, max(w, h) * (1.0 + 2.0 * margin)])


def full_image_box(shape: tuple[int, ...]) -> np.ndarray:
    """The input is already a person crop: it is the whole square the network's crop is cut from."""
    H, W = shape[:2]
    return np.array([W / 2.0, H / 2.0, float(max(H, W))])


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
