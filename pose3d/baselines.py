"""Trivial predictors that every accuracy table carries beside the model.

A model is only worth its cost where it beats answers that ignore the picture:

- the **mean training pose in the camera frame**: the average root-relative camera-frame pose of the
  training samples, answered for every image;
- the **mean pose turned to the true heading**: the average training pose with the body's heading
  removed (``canonical``), turned to the heading of the true pose and seen through the true camera.
  It knows which way the person faces and nothing of the articulation: a model that does not beat it
  learnt the heading and little else;
- the **mean 2D pose placed in the box**: the average training target of the 2D head, in the
  network's input pixels, mapped back through the person box the model was given.

Poses are (..., J, 3) mm; worlds are Z-up (``pose3d.skeleton.facing_yaw``); camera frames X right,
Y down, Z forward; ``R`` (..., 3, 3) maps world directions to camera directions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pose3d.crop import CropSpec, apply_affine, box_crop_affine, invert_affine
from pose3d.rotations import yaw_to_rotmat
from pose3d.skeleton import facing_yaw, to_root_relative

TRAINING_SAMPLES = 20_000  # training samples averaged for the synthetic baselines (the mean moves < 1 mm past this)


def canonical(pose_world: np.ndarray) -> np.ndarray:
    """(..., J, 3) root-relative Z-up world poses turned about Z so that each faces heading 0."""
    back = yaw_to_rotmat(-facing_yaw(pose_world))  # (..., 3, 3)
    return np.einsum("...ij,...kj->...ki", back, pose_world)


@dataclass(frozen=True)
class MeanPose:
    """The two 3D baselines, fitted on training poses."""

    camera: np.ndarray  # (J, 3) mean root-relative camera-frame pose, mm
    canonical: np.ndarray  # (J, 3) mean root-relative pose in the world, heading removed, mm

    @classmethod
    def fit(cls, pose_rel_cam: np.ndarray, R: np.ndarray) -> "MeanPose":
        """From (N, J, 3) root-relative camera-frame training poses and their (N, 3, 3) cameras."""
        pose_rel_cam = np.asarray(pose_rel_cam, dtype=np.float64)
        world = np.einsum("nji,nkj->nki", np.asarray(R, dtype=np.float64), pose_rel_cam)  # R^T x: (N, J, 3)
        return cls(pose_rel_cam.mean(axis=0), canonical(world).mean(axis=0))

    def in_camera(self, n: int) -> np.ndarray:
        """(n, J, 3) the mean camera-frame pose for every sample."""
        return np.broadcast_to(self.camera, (n,) + self.camera.shape).copy()

    def turned(self, true_rel_cam: np.ndarray, R: np.ndarray) -> np.ndarray:
        """(N, J, 3) the canonical mean pose turned to each true pose's heading, in its camera frame."""
        true_world = np.einsum("nji,nkj->nki", np.asarray(R, dtype=np.float64), np.asarray(true_rel_cam, np.float64))
        to_world = yaw_to_rotmat(facing_yaw(true_world))  # (N, 3, 3)
        world = np.einsum("nij,kj->nki", to_world, self.canonical)
        return to_root_relative(np.einsum("nij,nkj->nki", np.asarray(R, dtype=np.float64), world))


def synthetic_training_labels(crop: CropSpec | None = None, samples: int = TRAINING_SAMPLES, seed: int = 0,
                              bodies: str = "capsules") -> dict:
    """Labels of ``samples`` synthetic training samples (no rendering), cut with ``crop``."""
    from pose3d.data.synthetic import SynthConfig, SyntheticPoses

    config = SynthConfig(split="train", seed=seed, bodies=bodies, **({} if crop is None else {"crop": crop}))
    ds = SyntheticPoses(config)
    parts = [ds.label_batch(range(lo, min(lo + 5000, samples))) for lo in range(0, samples, 5000)]
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def synthetic_mean_pose(labels: dict | None = None, seed: int = 0, bodies: str = "capsules") -> MeanPose:
    """The 3D baselines of the embedded synthetic training data: the camera-frame mean over sampled
    training views (``labels`` of ``synthetic_training_labels``, or new ones), the canonical mean
    exactly, over the pose bank's training split (stored with the heading removed, as ``canonical``
    does, and drawn uniformly by the dataset). Skinned people (``bodies="anny"``) have their own
    proportions: both means then come from their sampled labels."""
    from pose3d.data.posebank import load_posebank

    labels = synthetic_training_labels(seed=seed, bodies=bodies) if labels is None else labels
    if bodies != "capsules":
        return MeanPose.fit(labels["pose_rel"], labels["R"])
    bank = load_posebank().select("train")
    return MeanPose(labels["pose_rel"].astype(np.float64).mean(axis=0), bank.poses.astype(np.float64).mean(axis=0))


def place_in_boxes(joints_input: np.ndarray, boxes: np.ndarray, crop: CropSpec) -> np.ndarray:
    """(J, 2) input-pixel joints -> (N, J, 2) frame pixels, seen through each (N, 3) person box."""
    back = invert_affine(box_crop_affine(np.asarray(boxes, dtype=np.float64), crop))  # (N, 2, 3)
    return apply_affine(back, np.broadcast_to(joints_input, (len(boxes),) + joints_input.shape))
