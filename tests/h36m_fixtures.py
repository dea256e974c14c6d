"""Miniature Human3.6M trees in the three documented layouts (../shared/h36m/FORMATS.md), fabricated
for the tests: real bundled calibration, pose-bank motion placed in the capture area, and frames that
show a person rendered at the projected pose on a plain background.

Videos and JPEGs are a quarter of the real size (250 x 250); the official reader takes such a video as
a uniform resize and scales the intrinsics, and the JPEG layout's camera file carries the scaled
intrinsics, so everything stays consistent with the calibration.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from pose3d.camera import H36M_CAMERA_IDS, Camera, load_h36m_cameras
from pose3d.data.h36m.official import scaled_camera
from pose3d.data.posebank import load_posebank
from pose3d.skeleton import H36M32, H36M32_TO_17
from pose3d.synth.body import sample_appearances
from pose3d.synth.draws import Draws
from pose3d.synth.render import render
from pose3d.synth.scene import SceneSpec

SUBJECTS = ("S1", "S11")
ACTIONS = ("Directions 1", "WalkingDog")  # official spellings; the second normalises to WalkDog
SIZE = (250, 250)
BACKGROUND = (0.45, 0.45, 0.45)
BACKGROUND_U8 = round(255 * BACKGROUND[0])


@dataclass(frozen=True)
class Fixture:
    root: Path
    poses: dict[tuple[str, str], np.ndarray]  # (subject, file action name) -> (N, 17, 3) world mm


def motion(subject: str, action: str, frames: int) -> np.ndarray:
    """(frames, 17, 3) world mm: consecutive pose-bank poses of one clip, standing near the origin."""
    bank = load_posebank()
    seed = SUBJECTS.index(subject) * 7 + ACTIONS.index(action) if action in ACTIONS else 3
    clip = (11 * seed + 5) % len(bank.clip_names)
    rows = np.flatnonzero(bank.clip == clip)[:frames]
    rows = np.concatenate([rows, np.full(frames - len(rows), rows[-1])])
    world = bank.world_poses()[rows].astype(np.float64)
    world[..., :2] -= world[:1, :1, :2]  # the pelvis of the first frame at the world origin
    return world


def to_32(pose17: np.ndarray) -> np.ndarray:
    """(N, 17, 3) -> (N, 32, 3): the 17 joints in their slots, every other joint at its parent."""
    out = np.zeros(pose17.shape[:-2] + (H36M32.num_joints, 3))
    out[..., list(H36M32_TO_17), :] = pose17
    for j, parent in enumerate(H36M32.parents):
        if j not in H36M32_TO_17 and parent >= 0:
            out[..., j, :] = out[..., parent, :]
    return out


def render_frames(poses: np.ndarray, camera: Camera, seed: int) -> np.ndarray:
    """(N, H, W, 3) uint8 RGB frames of one person (same clothes throughout) on a plain background."""
    n = len(poses)
    draws = Draws.for_samples(seed, [0] * n)
    cams = Camera(*(np.broadcast_to(getattr(camera, a), (n,) + getattr(camera, a).shape) for a in ("R", "t", "f", "c", "k", "p")),
                  size=camera.size)
    spec = SceneSpec(augment=False, plain_background=BACKGROUND)
    return render(poses, cams, sample_appearances(draws), draws, spec=spec).images


def fixture_cameras(subject: str) -> list[Camera]:
    return [scaled_camera(c, *SIZE) for c in load_h36m_cameras()[subject]]


def write_official(root: Path, frames: int = 30, extra: int = 3) -> Fixture:
    """S1 and S11 x Directions 1 and WalkingDog: CDF poses (world mm, 32 joints) and 4 mp4 videos each,
    ``extra`` frames longer than the pose data."""
    poses = {}
    for si, subject in enumerate(SUBJECTS):
        (root / subject / "MyPoseFeatures" / "D3_Positions").mkdir(parents=True, exist_ok=True)
        (root / subject / "Videos").mkdir(parents=True, exist_ok=True)
        for ai, action in enumerate(ACTIONS):
            pose = motion(subject, action, frames + extra)
            poses[(subject, action)] = pose[:frames]
            write_cdf(root / subject / "MyPoseFeatures" / "D3_Positions" / f"{action}.cdf", to_32(pose[:frames]))
            for ci, (cam_id, cam) in enumerate(zip(H36M_CAMERA_IDS, fixture_cameras(subject))):
                write_video(root / subject / "Videos" / f"{action}.{cam_id}.mp4", render_frames(pose, cam, 10 * si + ai))
    return Fixture(root, poses)


def write_cdf(path: Path, pose32: np.ndarray) -> None:
    """An official D3_Positions file: variable Pose, (1, N, 96) world mm."""
    from cdflib.cdfwrite import CDF

    path.unlink(missing_ok=True)
    data = pose32.reshape(1, len(pose32), 96).astype(np.float32)
    cdf = CDF(str(path), cdf_spec={"rDim_sizes": []})
    cdf.write_var({"Variable": "Pose", "Data_Type": CDF.CDF_FLOAT, "Num_Elements": 1, "Rec_Vary": True,
                   "Dim_Sizes": list(data.shape[1:])}, var_attrs={}, var_data=data)
    cdf.close()


def write_video(path: Path, frames: np.ndarray, fps: float = 50.0) -> None:
    h, w = frames.shape[1:3]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    for frame in frames:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()


def write_jpeg(root: Path, frames: int = 20, cameras: tuple[int, ...] = (1, 2, 3, 4)) -> Fixture:
    """The JPEG + COCO-JSON layout for S1 and S11 x Directions (take 1) and WalkDog (take 2); the
    annotation box is the tight box of the projected joints."""
    (root / "annotations").mkdir(parents=True, exist_ok=True)
    poses = {}
    for si, subject in enumerate(SUBJECTS):
        n = int(subject[1:])
        images, annotations, joints, cam_json = [], [], {}, {}
        cams = fixture_cameras(subject)
        for ci in cameras:
            cam = cams[ci - 1]
            cam_json[str(ci)] = {"R": cam.R.tolist(), "t": cam.t.tolist(), "f": cam.f.tolist(), "c": cam.c.tolist()}
        for ai, action in enumerate(ACTIONS):
            action_idx, sub = (2, 1) if ai == 0 else (15, 2)
            pose = motion(subject, action, frames)
            poses[(subject, action)] = pose
            joints.setdefault(str(action_idx), {})[str(sub)] = {str(f): pose[f].tolist() for f in range(frames)}
            for ci in cameras:
                cam = Camera(cams[ci - 1].R, cams[ci - 1].t, cams[ci - 1].f, cams[ci - 1].c, size=SIZE)
                pictures = render_frames(pose, cam, 10 * si + ai)
                uv = cam.project(pose)
                folder = f"s_{n:02d}_act_{action_idx:02d}_subact_{sub:02d}_ca_{ci:02d}"
                (root / "images" / folder).mkdir(parents=True, exist_ok=True)
                for f in range(frames):
                    name = f"{folder}/{folder}_{f + 1:06d}.jpg"
                    cv2.imwrite(str(root / "images" / name), cv2.cvtColor(pictures[f], cv2.COLOR_RGB2BGR))
                    image_id = len(images)
                    images.append({"id": image_id, "file_name": name, "width": SIZE[0], "height": SIZE[1], "subject": n,
                                   "action_idx": action_idx, "subaction_idx": sub, "cam_idx": ci, "frame_idx": f})
                    lo, hi = uv[f].min(0), uv[f].max(0)
                    annotations.append({"id": image_id, "image_id": image_id, "bbox": [*lo.tolist(), *(hi - lo).tolist()]})
        write = lambda what, obj: (root / "annotations" / f"Human36M_subject{n}_{what}.json").write_text(json.dumps(obj))  # noqa: E731
        write("data", {"images": images, "annotations": annotations})
        write("camera", cam_json)
        write("joint_3d", joints)
    return Fixture(root, poses)


def write_npz(root: Path, frames: int = 40) -> Fixture:
    """data_3d_h36m.npz: positions_3d subject -> action -> (N, 32, 3) world metres."""
    root.mkdir(parents=True, exist_ok=True)
    poses, data = {}, {}
    for subject in SUBJECTS:
        data[subject] = {}
        for action in ACTIONS:
            pose = motion(subject, action, frames)
            poses[(subject, action)] = pose
            data[subject][action] = (to_32(pose) / 1000.0).astype(np.float32)
    np.savez(root / "data_3d_h36m.npz", positions_3d=data)
    return Fixture(root, poses)


def foreground(crop: np.ndarray, threshold: int = 12) -> np.ndarray:
    """(H, W, 3) crop -> (H, W) bool: the pixels that differ from the plain background (black is
    outside the frame, not the person)."""
    return (np.abs(crop.astype(int) - BACKGROUND_U8).max(-1) > threshold) & (crop.max(-1) > 10)


def foreground_centre(crop: np.ndarray) -> tuple[np.ndarray, float]:
    """(H, W, 3) crop -> centroid (x, y) of the foreground and its share of the crop."""
    ys, xs = np.nonzero(foreground(crop))
    return np.array([xs.mean(), ys.mean()]) if len(xs) else np.array([np.nan, np.nan]), len(xs) / crop[..., 0].size


# -- pytest fixtures (import them into a test module to use them) ---------------------------------

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def official_tree(tmp_path_factory) -> Fixture:
    return write_official(tmp_path_factory.mktemp("official"))


@pytest.fixture(scope="session")
def jpeg_tree(tmp_path_factory) -> Fixture:
    return write_jpeg(tmp_path_factory.mktemp("jpeg"))


@pytest.fixture(scope="session")
def npz_tree(tmp_path_factory) -> Fixture:
    return write_npz(tmp_path_factory.mktemp("npz"))
