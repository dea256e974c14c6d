"""From frames and person boxes to poses: crop (fused kernel), run the model, map back to the frame.

``Estimator`` owns the model and knows the crop geometry from the model's metadata: a square person
box is resized to ``crop.size`` and the network sees its central ``input_size`` pixels
(``pose3d.crop.person_crop_affine``, the training geometry). ``estimate`` takes a batch of
(frame, box) pairs, from one frame or many (several people in one frame, several frames in a
folder), and returns one ``Pose`` per pair. Which boxes to estimate is the box source's business
(``pose3d_runtime.boxes``).

The network predicts the pose relative to the pelvis. ``Pose.root_mm`` places it in front of the
camera: the translation whose perspective projection best lands the 3D joints on the predicted 2D
joints (``geometry.fit_translation``), through the frame's pinhole camera (``Intrinsics``, built once
per frame by ``Estimator.intrinsics``): focal length ``focal_px`` (given, or the image's longer side)
and principal point at the image centre, ``((W - 1) / 2, (H - 1) / 2)`` with pixel centres at
integers (``pose3d.crop``'s convention). Its depth scales with that focal length, so it is only as
good as the assumed camera; the overlay draws that reprojection thin beside the 2D skeleton.
``Pose.score`` is the model's person probability or mean joint confidence where it has one, else the agreement of
its 2D and 3D heads (``pose3d_runtime.score``).

``refine`` moves each detected or tracked person's box onto its pose (the square box around its
predicted 2D joints, as the training crops were cut) and runs the model again there: a detector's
box off the person by a third of its side scores 0.32 where the person's own box scores 0.62 (median,
real frames). With the proposals verified at a pose score of 0.35, one pass found the labelled person
of the real set in 106 of 126 frames where the proposals' own boxes found 100 (PCK@0.2 0.448 against
0.391); a second pass, another batch, changed little (105 found, PCK 0.470) and is not made.

``frame_record`` is the one function that turns a frame's people (or their absence) into a record
(schema: ``pose3d_runtime.outputs``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Sequence

import numpy as np

from pose3d.camera import Camera
from pose3d.crop import apply_affine, box_crop_affine, invert_affine, square_box
from pose3d_runtime.boxes import DUPLICATE_IOU, Target, box_iou, box_ious, joints_extent
from pose3d_runtime.draw import Drawn
from pose3d_runtime.geometry import fit_translation, pinhole, project_points
from pose3d_runtime.model import PoseModel
from pose3d_runtime.outputs import rounded
from pose3d_runtime.preprocess import crop_normalise
from pose3d_runtime.score import score as pose_score


@dataclass(frozen=True)
class Intrinsics:
    """A frame's assumed pinhole camera: one per frame, shared by every person in it."""

    focal_px: float
    principal_point: np.ndarray  # (2,) pixels

    def camera(self) -> Camera:
        return pinhole(self.focal_px, self.principal_point)


@dataclass
class Pose:
    joints_3d_mm: np.ndarray  # (J, 3) root-relative, camera frame
    joints_2d_px: np.ndarray  # (J, 2) frame pixels
    box: np.ndarray  # (3,) cx, cy, side
    score: float
    root_mm: np.ndarray  # (3,) the pelvis in the camera frame, placed by back-projection (see Intrinsics)
    intrinsics: Intrinsics

    def reprojected(self) -> np.ndarray:
        """(J, 2) pixels: the 3D pose at its estimated position seen through the frame's camera."""
        return project_points(self.joints_3d_mm + self.root_mm, self.intrinsics.camera())


def person_record(target: Target, pose: Pose) -> dict[str, Any]:
    """One person's entry in a record's ``people`` list."""
    return {"joints_3d_mm": rounded(pose.joints_3d_mm, 1), "joints_2d_px": rounded(pose.joints_2d_px, 2),
            "box": rounded(pose.box, 2), "extent": rounded(target.extent, 2), "box_source": target.source,
            "detector_score": None if target.detector_score is None else round(float(target.detector_score), 3),
            "score": round(float(pose.score), 3), "root_cam_mm": rounded(pose.root_mm, 0), "track_id": target.track_id}


def frame_record(people: Sequence[tuple[Target, Pose]], camera: Intrinsics, model_id: str) -> dict[str, Any]:
    """The record of one image or frame: ``status`` "ok" with every person, or "no_person"."""
    return {"status": "ok" if people else "no_person", "people": [person_record(t, p) for t, p in people],
            "focal_px": round(float(camera.focal_px), 1), "principal_point_px": rounded(camera.principal_point, 2),
            "model": model_id}


def principal_point(shape: tuple[int, ...]) -> np.ndarray:
    """The image centre in pixel coordinates (pixel centres at integers, ``pose3d.crop``)."""
    return np.array([(shape[1] - 1) / 2.0, (shape[0] - 1) / 2.0])


def default_focal(shape: tuple[int, ...]) -> float:
    """Without calibration: a focal length of the image's longer side (a 53 degree field of view
    across it, between phone main cameras and Human3.6M's 1145 px at 1000 px)."""
    return float(max(shape[0], shape[1]))


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

    def intrinsics(self, shape: tuple[int, ...]) -> Intrinsics:
        """The camera assumed for a frame of this shape."""
        return Intrinsics(self.focal_px or default_focal(shape), principal_point(shape))

    def crop_affines(self, boxes: np.ndarray) -> np.ndarray:
        """(B, 3) person boxes -> (B, 2, 3) affines from frame pixels onto the network's input."""
        return box_crop_affine(np.asarray(boxes, dtype=np.float64), self.info.crop)

    def estimate(self, frames: Sequence[np.ndarray], boxes: Sequence[np.ndarray],
                 cameras: Sequence[Intrinsics] | None = None) -> list[Pose]:
        """One pose per (frame, box) pair, all through the model as one batch; ``cameras``: each
        pair's frame's ``Intrinsics`` (None: ``intrinsics`` of each frame)."""
        if not frames:
            return []
        if cameras is None:
            cameras = [self.intrinsics(f.shape) for f in frames]
        I = self.info
        affines = self.crop_affines(np.stack(boxes))
        starts = [i for i in range(len(frames)) if i == 0 or frames[i] is not frames[i - 1]]  # runs of one frame
        x = np.concatenate([crop_normalise(frames[a], affines[a:b], I.input_size, I.mean, I.std)
                            for a, b in zip(starts, [*starts[1:], len(frames)])])
        pose, joints, person = self.model(x)
        scores = person if person is not None else pose_score(pose, joints)
        joints_frame = apply_affine(invert_affine(affines), joints.astype(np.float64))
        poses = []
        for i, cam in enumerate(cameras):
            p3 = pose[i].astype(np.float64)
            root = fit_translation(p3, joints_frame[i], np.array([cam.focal_px, cam.focal_px]), cam.principal_point)
            poses.append(Pose(p3, joints_frame[i], np.asarray(boxes[i], dtype=np.float64), float(scores[i]), root, cam))
        return poses


REFINED = ("detected", "tracked")  # the box sources whose boxes refine moves; a given box or the whole image stays
# A followed track's crop (``Target.refine_below`` set) is cut around where its joints are predicted, so
# its pose usually needs no second pass: it is refined only where it scores below ``refine_below`` or
# its joints' square box overlaps the crop less than this.
SETTLED_IOU = 0.7


def refine(estimator: "Estimator", frames: Sequence[np.ndarray], targets: Sequence[Target], poses: Sequence[Pose],
           cameras: Sequence[Intrinsics] | None = None) -> tuple[list[Target], list[Pose]]:
    """Each detected or tracked person's box replaced by the square box around its predicted 2D joints
    (``pose3d.crop.square_box`` with the model's margin; ``extent`` becomes the joints' extent) and the
    pose estimated again there, all in one batch; ``frames[i]`` (``cameras[i]``) is ``targets[i]``'s.
    Targets of other sources (``--bbox``, ``--full-image``), poses with non-finite joints, and a followed
    track's settled pose (``SETTLED_IOU``) are kept as they are.

    Proposals of one frame whose poses fall on one person share its refinement: a detected target
    whose joints' box overlaps (IoU > ``boxes.DUPLICATE_IOU``) that of a better-scoring detected target
    of the same frame takes that target's refined box and pose instead of a crop of its own, and
    ``boxes.verify`` keeps one of the two, as it would of two refinements converging there (on the
    real set: 15 % fewer crops, the same people found)."""
    targets, poses = list(targets), list(poses)
    todo = [i for i, (t, p) in enumerate(zip(targets, poses))
            if t.source in REFINED and np.isfinite(p.joints_2d_px).all()]
    fitted = {i: square_box(poses[i].joints_2d_px, estimator.margin) for i in todo}
    todo = [i for i in todo if not _settled(targets[i], poses[i], fitted[i])]
    if not todo:
        return targets, poses
    shared = _same_person(frames, targets, poses, fitted, todo)
    todo = [i for i in todo if i not in shared]
    boxes = [fitted[i] for i in todo]
    again = estimator.estimate([frames[i] for i in todo], boxes, None if cameras is None else [cameras[i] for i in todo])
    for i, pose in zip(todo, again):
        targets[i] = replace(targets[i], box=pose.box, extent=joints_extent(poses[i].joints_2d_px))
        poses[i] = pose
    for i, j in shared.items():  # j is refined by now
        targets[i] = replace(targets[i], box=targets[j].box, extent=targets[j].extent)
        poses[i] = poses[j]
    return targets, poses


def refine_again(estimator: "Estimator", frames: Sequence[np.ndarray], people: Sequence[tuple[Target, Pose]],
                 cameras: Sequence[Intrinsics], min_score: float) -> list[tuple[Target, Pose]]:
    """Reported people (``frames[i]``, ``cameras[i]`` are ``people[i]``'s) refined once more, in one
    batch (``refine``): a proposal's first refinement cuts a crop around joints predicted from a box
    that was off the person, often still too tight or too loose; the second, cut around those joints,
    moves them onto the person. A person keeps the new pose where it scores at least ``min_score``,
    else the one it was verified with. Folders only (one crop more a person; streams follow their
    people on predicted crops). On the real set: end-to-end PCK@0.2 0.561 -> 0.599 (the labelled box:
    0.629), P-MPJPE 83.7 -> 81.5 mm; found 114 -> 112 of 126 (two boxes moved from IoU 0.52 and 0.63
    with the labelled box to 0.45 and 0.49)."""
    if not people:
        return []
    targets, poses = refine(estimator, frames, [t for t, _ in people], [p for _, p in people], cameras)
    return [(t, p) if p.score >= min_score else old for t, p, old in zip(targets, poses, people)]


def _same_person(frames: Sequence[np.ndarray], targets: Sequence[Target], poses: Sequence[Pose],
                 fitted: dict[int, np.ndarray], todo: list[int]) -> dict[int, int]:
    """Detected targets to be refined -> the better-scoring detected target of the same frame whose
    fitted box they overlap (IoU > ``DUPLICATE_IOU``): that one's refinement stands for both."""
    detected = sorted((i for i in todo if targets[i].source == "detected"), key=lambda i: -poses[i].score)
    overlap = box_ious([fitted[i] for i in detected], [fitted[i] for i in detected]) > DUPLICATE_IOU
    shared: dict[int, int] = {}
    leaders: list[int] = []  # positions in ``detected``
    for a, i in enumerate(detected):
        same = [b for b in leaders if overlap[a, b] and frames[detected[b]] is frames[i]]
        if same:
            shared[i] = detected[same[0]]
        else:
            leaders.append(a)
    return shared


def _settled(target: Target, pose: Pose, fitted: np.ndarray) -> bool:
    """Whether a followed track's pose needs no refinement (``SETTLED_IOU``)."""
    return (target.refine_below is not None and pose.score >= target.refine_below
            and box_iou(target.box, fitted) >= SETTLED_IOU)


def drawn_people(people: Sequence[tuple[Target, Pose]]) -> list[Drawn]:
    """What the overlay draws of each person: coloured by track id where there is one, else by rank."""
    out = []
    for rank, (t, p) in enumerate(people):
        tag = f"#{t.track_id} " if t.track_id is not None else ""
        out.append(Drawn(p.joints_2d_px, p.joints_3d_mm, p.box, p.reprojected(), f"{tag}{p.score:.2f}",
                         rank if t.track_id is None else t.track_id))
    return out
