"""Detector frames: square views of synthetic multi-person scenes, with every person's box.

``DetectorFrames`` is a map-style dataset like ``SyntheticPoses`` (whose scenes it renders, through
``SyntheticPoses.render_views``, always with skinned Anny bodies, 1 to 4 people): frame ``i`` of a
split depends only on ``(seed, split, i)``. Each frame is an S x S picture cut from the scene by an
affine map of one of two kinds, drawn per frame from its own stream of draws (the scene's draws are
untouched, so a scene looks as it does in ``SyntheticPoses``):

- a zoomed view (most frames): one of the people, chosen at random, spans ``min_height`` to
  ``max_height`` of S (log-uniform; its 17 joints' larger extent), its box centre anywhere in the
  middle 80 % of the frame, so that people appear at every scale and are cut by the border; a share
  of these get letterbox bars of random thickness (the runtime's padding, people cut by it);
- the whole camera frame letterboxed into the square (``pose3d.crop.frame_box``): exactly what the
  runtime shows the detector, bars included.

Bars are painted in the normalisation mean's colour (0 after ``ImageCodec``), as the runtime pads.
A share of frames (``negative_probability``) are negatives: the same scene with nobody drawn.
A share (``occluder_probability``, off by default) get foliage, posts or panels painted in front of
one of the people (``pose3d.synth.occluders``); the joints they cover count as hidden.

Each sample is a dict of NumPy arrays (P = 4 person slots):
- ``image`` (3, S, S) uint8 RGB
- ``boxes`` (P, 4) float32: each person's box, the extent of its 17 projected joints in output pixels
  (x0, y0, x1, y1; pixel centres at integers), also where it reaches past the border; NaN: nobody
- ``present`` (P,) bool: the person counts (a detector must find it): at least ``min_joints`` of its
  joints are visible inside the picture (inside the bars, not hidden behind another person) and
  its box's larger side is at least ``min_box_px``
- ``ignore`` (P,) bool: drawn and partly visible but not present (a few joints in view, or tiny):
  neither a miss nor a false alarm
- ``negative`` () bool, ``index`` () int64
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Sequence

import numpy as np

from pose3d.crop import apply_affine, box_to_affine, frame_box
from pose3d.data.posebank import PoseBank
from pose3d.data.synthetic import SynthConfig, SyntheticPoses
from pose3d.synth.draws import Draws
from pose3d.synth.occluders import hidden_behind, paint_occluders

FRAMES_STREAM = 1 << 41  # offset of the frames' draw streams from the scenes' (PEOPLE_STREAM is 1 << 40)


@dataclass(frozen=True)
class FrameSpec:
    """How detector frames are cut from the scenes (sizes relative to the frame's side S)."""

    min_height: float = 0.25  # zoomed views: the chosen person's larger joint extent, lowest share of S
    max_height: float = 1.4  # ... highest (above 1: bigger than the frame)
    whole_frame_probability: float = 0.2  # the whole camera frame, letterboxed as the runtime does
    letterbox_probability: float = 0.25  # zoomed views with random bars
    negative_probability: float = 0.1  # nobody drawn
    min_joints: int = 6  # visible joints inside the picture for a person to be present
    min_box_px: float = 12.0  # smaller boxes (larger side) are ignored, not present
    occluder_probability: float = 0.0  # frames with foliage, posts or panels in front of a person

    def __post_init__(self) -> None:
        if not 0 < self.min_height <= self.max_height:
            raise ValueError(f"need 0 < min_height <= max_height, got {self.min_height}, {self.max_height}")


def joint_boxes(joints: np.ndarray) -> np.ndarray:
    """(..., J, 2) joints (NaN rows: nobody) -> (..., 4) their extent (x0, y0, x1, y1), NaN for nobody."""
    with np.errstate(invalid="ignore"):
        lo, hi = np.min(joints, axis=-2), np.max(joints, axis=-2)
    return np.concatenate([lo, hi], axis=-1)


class DetectorFrames:
    """Map-style dataset of detector frames (see the module docstring)."""

    def __init__(self, synth: SynthConfig = SynthConfig(), size: int = 256, spec: FrameSpec = FrameSpec(),
                 bank: PoseBank | None = None) -> None:
        # The frames paint their own occluders (``FrameSpec.occluder_probability``), over any of the people.
        self.scenes = SyntheticPoses(replace(synth, bodies="anny", occluder_probability=0.0), bank=bank)
        self.size, self.spec = size, spec
        from pose3d.models.codec import ImageCodec  # here: importing this module needs no torch

        # The pixel that normalises to (about) 0: what the runtime's letterbox padding becomes.
        self.pad_pixel = np.round(255.0 * np.asarray(ImageCodec().mean)).astype(np.uint8)
        self.stream_seed = FRAMES_STREAM + self.scenes.stream_seed

    def __len__(self) -> int:
        return len(self.scenes)

    def __getitem__(self, index: int) -> dict[str, np.ndarray]:
        return self.__getitems__([index])[0]

    def __getitems__(self, indices: Sequence[int]) -> list[dict[str, np.ndarray]]:
        batch = self.render_batch(indices)
        return [{k: v[i] for k, v in batch.items()} for i in range(len(indices))]

    def render_all(self, chunk: int = 64) -> dict[str, np.ndarray]:
        """Every frame of the split (a fixed validation set), rendered ``chunk`` at a time."""
        n = len(self)
        parts = [self.render_batch(range(lo, min(lo + chunk, n))) for lo in range(0, n, chunk)]
        return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}

    def render_batch(self, indices: Sequence[int]) -> dict[str, np.ndarray]:
        """Frames ``indices`` as a dict of batched arrays (leading dimension B)."""
        S, spec = self.size, self.spec
        draws = Draws.for_samples(self.stream_seed, [int(i) for i in indices])
        negative = draws.bernoulli(spec.negative_probability)
        whole = draws.bernoulli(spec.whole_frame_probability)
        barred = draws.bernoulli(spec.letterbox_probability) & ~whole
        who, height = draws.uniform(), np.exp(draws.uniform(np.log(spec.min_height), np.log(spec.max_height)))
        where = draws.uniform(0.1, 0.9, n=2)
        bars = draws.uniform(0.0, 0.25, n=2) * S  # thickness of each bar
        vertical = draws.bernoulli(0.5)  # bars left and right (a portrait frame) instead of top and bottom
        occluded = draws.uniform()  # which drawn person the occluders cover
        # (B, 4) x0, y0, x1, y1 (pixel edges): the picture inside the bars; filled in by ``view``, the
        # one place that sees the frames' sizes.
        content = np.zeros((len(draws.u), 4))

        def view(people_uv: np.ndarray, frame_sizes: np.ndarray) -> np.ndarray:
            boxes = joint_boxes(people_uv)  # (B, P, 4) full-frame pixels
            # The chosen person: one of those in front of the camera (person 0 always is).
            box = boxes[np.arange(len(who)), pick_one(np.isfinite(boxes[..., 0]), who)]  # (B, 4)
            extent = np.maximum(box[:, 2:] - box[:, :2], 1.0).max(-1)
            side = extent / height  # the view's side in full-frame pixels
            centre = 0.5 * (box[:, :2] + box[:, 2:]) + (0.5 - where) * side[:, None]
            zoomed = np.concatenate([centre, side[:, None]], axis=-1)
            frames = np.stack([frame_box(int(w), int(h)) for w, h in frame_sizes])
            affines = box_to_affine(np.where(whole[:, None], frames, zoomed), S)
            # Whole frames: the frame's own edges; zoomed views: the random bars, if any.
            edges = apply_affine(affines, np.stack([-0.5 * np.ones_like(frame_sizes), frame_sizes - 0.5], axis=1))
            content[:] = [-0.5, -0.5, S - 0.5, S - 0.5]
            content[whole] = edges[whole].reshape(-1, 4)
            axis = np.where(vertical, 0, 1)  # bars across x (left, right) or y (top, bottom)
            rows = np.flatnonzero(barred)
            content[rows, axis[rows]] += bars[rows, 0]
            content[rows, 2 + axis[rows]] -= bars[rows, 1]
            np.clip(content, -0.5, S - 0.5, out=content)
            return affines

        out = self.scenes.render_views(indices, view, (S, S), hide_people=negative)
        image = out["image"]
        inside = pixel_inside(content, S)  # (B, S, S)
        joints = out["people_joints_2d"]  # (B, P, 17, 2)
        boxes = joint_boxes(joints)
        visible = out["people_visible"]
        if spec.occluder_probability > 0:
            # In front of one of the people whose box reaches into the picture (anywhere if nobody's does).
            with np.errstate(invalid="ignore"):
                seen_box = (boxes[..., 2] >= 0) & (boxes[..., 0] <= S - 1) & (boxes[..., 3] >= 0) & (boxes[..., 1] <= S - 1)
            target = np.where(seen_box.any(1)[:, None], boxes[np.arange(len(occluded)), pick_one(seen_box, occluded)],
                              np.nan)
            covered = paint_occluders(image, target, draws, spec.occluder_probability, self.scenes.texture_photos)
            visible = visible & ~hidden_behind(covered, joints)
        image[:] = np.where(inside[:, None], image, self.pad_pixel[None, :, None, None])
        with np.errstate(invalid="ignore"):
            in_view = ((joints >= content[:, None, None, :2]) & (joints <= content[:, None, None, 2:])).all(-1)
            seen = (visible & in_view).sum(-1)  # (B, P)
            big = np.nan_to_num(np.max(boxes[..., 2:] - boxes[..., :2], axis=-1)) >= spec.min_box_px
        present = (seen >= spec.min_joints) & big
        return {"image": image, "boxes": boxes.astype(np.float32), "present": present, "ignore": (seen > 0) & ~present,
                "negative": negative, "index": np.asarray(indices, dtype=np.int64)}


def pick_one(among: np.ndarray, u: np.ndarray) -> np.ndarray:
    """(B, P) bool candidates and (B,) uniforms -> (B,) the index of one candidate per row, each equally
    likely (0 in a row without one)."""
    rank = np.minimum((u * among.sum(1)).astype(int), np.maximum(among.sum(1) - 1, 0))
    return np.argmax(np.cumsum(among, axis=1) > rank[:, None], axis=1)


def pixel_inside(content: np.ndarray, size: int) -> np.ndarray:
    """(B, 4) rectangles (x0, y0, x1, y1, pixel edges) -> (B, size, size) bool: pixel centres inside."""
    c = np.arange(size, dtype=np.float64)
    xs = (c >= content[:, None, 0]) & (c <= content[:, None, 2])  # (B, S)
    ys = (c >= content[:, None, 1]) & (c <= content[:, None, 3])
    return ys[:, :, None] & xs[:, None, :]
