"""Synthetic training data: pose-bank poses, seen by sampled cameras, rendered into person crops.

``SyntheticPoses`` is a map-style dataset (no torch import; a torch ``DataLoader`` takes it as is):
sample ``i`` of a split depends only on ``(seed, split, i)``, so the training stream is infinite in
practice (any index), validation and test sets are fixed and regenerate identically, and any number
of workers in any order give the same pixels. ``__getitems__`` renders a whole batch in one call.

Each sample is a dict of NumPy arrays:
- ``image`` (3, S, S) uint8 RGB, S = crop.input_size (112)
- ``pose_cam`` (17, 3) float32: joints in the camera frame, mm
- ``pose_rel`` (17, 3) float32: the same, relative to the pelvis
- ``joints_2d`` (17, 2) float32: joints in crop pixels
- ``crop_affine`` (2, 3) float32: full-frame pixels -> crop pixels
- ``R`` (3, 3), ``t`` (3,), ``f`` (2,), ``c`` (2,), ``k`` (3,), ``p`` (2,) float32: the camera
- ``clip``, ``activity``, ``bank_index`` (row of the whole bank), ``index``: int64 labels

``SynthConfig(bodies="anny")`` draws skinned Anny bodies in clothes instead of capsule mannequins,
1 to 4 people per scene (``pose3d.synth.people``, ``pose3d.synth.render_mesh``): the labels are then
person 0's, read off its posed body (Anny's joint placement, see ``pose3d.body.anny``), and each sample
also has ``visible`` (17,) bool (inside the image and not behind another person), ``box`` (4,) person
0's tight box and ``people_boxes`` (P, 4) everyone's (x0, y0, x1, y1 output pixels; NaN: absent),
``people_joints_2d`` (P, 17, 2) and ``people_visible`` (P, 17): every person's joints (for detectors
and several-person models). Off by default, for anny: ``bare_tops`` (people without a top),
``scene.backlight_probability`` (scenes against the light) and ``occluder_probability`` (foliage,
posts or panels in front of person 0, ``pose3d.synth.occluders``; joints they cover are not visible).
Off by default, for both bodies: ``scene.desaturate_probability`` (pictures almost without colour).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Callable, Sequence

import numpy as np

from pose3d.crop import CropSpec, apply_affine, box_to_affine, shift_affine, square_box
from pose3d.data.posebank import SPLITS, PoseBank, load_posebank
from pose3d.rotations import yaw_to_rotmat
from pose3d.synth.body import sample_appearances
from pose3d.synth.cameras import ViewSpec, h36m_rigs, sample_cameras
from pose3d.synth.draws import Draws
from pose3d.body.anny import pose_bodies, rest_bone_heads_mm, rest_corrections
from pose3d.synth.occluders import hidden_behind, paint_occluders
from pose3d.synth.people import PATTERNED, add_hair_volume, rest_leg_length_mm, sample_mesh_looks, shapes_of
from pose3d.synth.render import MIN_DEPTH_MM, Rendered, render
from pose3d.synth.render_mesh import MeshPeople, RenderedPeople, render_people
from pose3d.synth.scene import BackgroundPhotos, SceneSpec, TexturePhotos, sample_rooms
from pose3d.camera import Camera
from pose3d.skeleton import H36M17, bone_lengths, to_root_relative

DEFAULT_LENGTH = {"train": 10_000_000, "val": 2_000, "test": 5_000}
BODIES = ("capsules", "anny")
# Part crops (negatives of the person head): the person crop made this many times smaller. The runtime
# proposes boxes down to a foot's size in a large frame (a tenth of the person's crop, Pose2Sim frames);
# from 4 down, a crop shows a quarter of a person's height or less (a hand, a foot, a face): never a
# whole person, nor the head and shoulders of a webcam close-up.
PART_ZOOM = (4.0, 12.0)
PEOPLE_STREAM = 1 << 40  # offset of the people's draw streams from the scenes' (no split's seed reaches it)


@dataclass(frozen=True)
class SynthConfig:
    """What a synthetic split looks like. ``length`` None: the split's default (DEFAULT_LENGTH)."""

    split: str = "train"
    seed: int = 0
    length: int | None = None
    crop: CropSpec = field(default_factory=CropSpec)
    view: ViewSpec = field(default_factory=ViewSpec)
    scene: SceneSpec = field(default_factory=SceneSpec)
    h36m_rig_probability: float = 0.2  # share of views from the real Human3.6M cameras
    jitter: bool | None = None  # random box jitter and sub-crop; None: in the train split only
    background_dir: str | None = None
    # "capsules": the original mannequins; "anny": skinned Anny bodies in clothes, 1 to 4 per scene
    # (pose3d.synth.people), labels read off the posed body.
    bodies: str = "capsules"
    people_probability: tuple[float, ...] = (0.45, 0.3, 0.15, 0.1)  # 1, 2, 3, 4 people (anny)
    room_probability: float = 0.4  # anny: a room (floor, walls, ceiling) instead of the scene's background
    texture_dir: str | None = None  # anny: texture photos for the rooms' surfaces (gather-photos .../textures)
    garment_patterns: float = PATTERNED  # anny: share of tops and bottoms with stripes, a print or colour blocks
    bare_tops: float = 0.0  # anny: share of people with no top
    # anny: share of crops with foliage, posts or panels in front of person 0 (pose3d.synth.occluders;
    # the joints they cover are not visible), and of head negatives with them anywhere
    occluder_probability: float = 0.0

    def __post_init__(self) -> None:
        if self.split not in SPLITS:
            raise ValueError(f"unknown split {self.split!r}; choose from {SPLITS}")
        if self.bodies not in BODIES:
            raise ValueError(f"bodies must be one of {BODIES}, got {self.bodies!r}")
        for name, share in (("garment_patterns", self.garment_patterns), ("bare_tops", self.bare_tops),
                            ("occluder_probability", self.occluder_probability),
                            ("backlight_probability", self.scene.backlight_probability),
                            ("desaturate_probability", self.scene.desaturate_probability)):
            if not 0.0 <= share <= 1.0:
                raise ValueError(f"{name} is a share, 0..1, got {share!r}")


class SyntheticPoses:
    """Map-style dataset of rendered person crops (see the module docstring)."""

    def __init__(self, config: SynthConfig = SynthConfig(), bank: PoseBank | None = None) -> None:
        self.config = config
        self._bank = bank
        self._split_bank: PoseBank | None = None
        self._bank_rows: np.ndarray | None = None
        self._photos: BackgroundPhotos | None = None
        # bodies="anny": the baked body, and per row of its shape table the leg length and the rest
        # corrections (they depend on the body alone); loaded on first use, in each worker.
        self._body = None
        self._anny_legs: np.ndarray | None = None
        self._anny_corrections: dict[str, np.ndarray] | None = None
        self._textures: TexturePhotos | None = None
        self.length = config.length if config.length is not None else DEFAULT_LENGTH[config.split]
        self.jitter = config.split == "train" if config.jitter is None else config.jitter
        # One stream of draws per (seed, split): the splits never share samples' randomness.
        self.stream_seed = config.seed * len(SPLITS) + SPLITS.index(config.split)

    @property
    def bank(self) -> PoseBank:
        """The poses of this split (loaded on first use, in each worker)."""
        return self._load()

    @property
    def texture_photos(self) -> np.ndarray | None:
        """The texture photos (T, S, S, 3) float32 in 0..1 of ``texture_dir``, or None without one."""
        self._load()
        return None if self._textures is None else self._textures.images

    def _load(self) -> PoseBank:
        if self._split_bank is None:
            bank = self._bank if self._bank is not None else load_posebank()
            self._bank_rows = np.flatnonzero(bank.split == SPLITS.index(self.config.split))
            self._split_bank = bank.subset(self._bank_rows)
            if len(self._split_bank) == 0:
                raise ValueError(f"the pose bank has no poses in split {self.config.split!r}")
            if self.config.background_dir is not None:
                self._photos = BackgroundPhotos(self.config.background_dir)
            if self.config.texture_dir is not None:
                self._textures = TexturePhotos(self.config.texture_dir)
        return self._split_bank

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_split_bank"] = None  # each worker selects its own copy
        state["_photos"] = None
        state["_body"] = state["_anny_legs"] = state["_anny_corrections"] = None  # derived: each worker rebuilds them
        state["_textures"] = None
        return state

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> dict[str, np.ndarray]:
        return self.__getitems__([index])[0]

    def __getitems__(self, indices: Sequence[int]) -> list[dict[str, np.ndarray]]:
        batch = self.render_batch(indices)
        return [{k: v[i] for k, v in batch.items()} for i in range(len(indices))]

    def render_batch(self, indices: Sequence[int]) -> dict[str, np.ndarray]:
        """Samples ``indices`` as person crops, a dict of batched arrays (leading dimension B)."""
        draws, poses, k, cameras, looks, affines = self._sample(indices)
        size = self.config.crop.input_size
        return self._draw(draws, poses, k, cameras, looks, affines, (size, size), indices)

    def _draw(self, draws, poses, k, cameras, looks, affines, size, indices) -> dict[str, np.ndarray]:
        if isinstance(looks, MeshPeople):
            out = render_people(looks, poses, cameras, draws, affines, size, self.config.scene, self._photos)
            samples = self._as_samples(out, cameras, affines, k, indices)
            samples["visible"] = out.visible  # person 0's joints inside the image, not behind another person
            samples["box"] = out.boxes[:, 0].astype(np.float32)  # person 0's tight box, x0 y0 x1 y1
            samples["people_boxes"] = out.boxes.astype(np.float32)  # every person's (NaN: not in the scene)
            samples["people_joints_2d"] = out.people_joints_2d.astype(np.float32)  # (P, 17, 2), NaN: absent
            samples["people_visible"] = out.people_visible  # (P, 17)
            if self.config.occluder_probability > 0:  # over person 0; the joints they cover are hidden
                covered = paint_occluders(samples["image"], out.boxes[:, 0], draws, self.config.occluder_probability,
                                          self.texture_photos)
                samples["visible"] &= ~hidden_behind(covered, out.joints_2d[:, None])[:, 0]
                samples["people_visible"] &= ~hidden_behind(covered, out.people_joints_2d)
            return samples
        out = render(poses, cameras, looks, draws, affines, size, self.config.scene, self._photos)
        return self._as_samples(out, cameras, affines, k, indices)

    def label_batch(self, indices: Sequence[int]) -> dict[str, np.ndarray]:
        """The labels of samples ``indices`` without their pictures (the same draws as
        ``render_batch``, so the same values): ``pose_cam``, ``pose_rel``, ``joints_2d``,
        ``crop_affine``, ``R``, ``activity``, ``bank_index``, ``index``. Cheap: no rendering."""
        _, poses, k, cameras, _, affines = self._sample(indices)
        joints_cam = cameras.world_to_camera(poses)
        f32 = np.float32
        return {
            "pose_cam": joints_cam.astype(f32),
            "pose_rel": to_root_relative(joints_cam).astype(f32),
            "joints_2d": apply_affine(affines, cameras.project_camera(joints_cam)).astype(f32),
            "crop_affine": affines.astype(f32),
            "R": np.broadcast_to(cameras.R, (len(k), 3, 3)).astype(f32),
            "activity": self._split_bank.activity[k].astype(np.int64),
            "bank_index": self._bank_rows[k].astype(np.int64),
            "index": np.asarray(indices, dtype=np.int64),
        }

    def render_background_batch(self, indices: Sequence[int]) -> dict[str, np.ndarray]:
        """The same scenes as ``render_batch``, cropped where the person is not: the crop moved by
        1.05 to 1.6 times its side in a random direction (fixed by the seed and the indices, without
        touching the samples' own draws), so it shows floor, clutter and background only.
        Negatives for the person head; the pose labels are meaningless and left out."""
        draws, poses, k, cameras, looks, affines = self._sample(indices)
        rng = np.random.default_rng([self.stream_seed, 0xB6, *(int(i) for i in indices[:1]), len(indices)])
        angle = rng.uniform(0.0, 2.0 * np.pi, size=len(indices))
        dist = rng.uniform(1.05, 1.6, size=len(indices)) * self.config.crop.size
        affines = shift_affine(affines, dist * np.cos(angle), dist * np.sin(angle))
        return self._render_negatives(draws, poses, cameras, looks, affines, indices)

    def render_part_batch(self, indices: Sequence[int], zoom: tuple[float, float] = PART_ZOOM) -> dict[str, np.ndarray]:
        """The same scenes as ``render_batch``, seen through a crop ``zoom`` times smaller (log-uniform)
        centred near one of the person's joints (within a third of the small crop's side): a hand, a
        foot, a knee or a piece of the torso filling the picture, not a whole person. Negatives for the
        person head (a pose read from such a crop is meaningless); fixed by the seed and the indices,
        without touching the samples' own draws. The pose labels are left out but for ``joints_2d``,
        the person's joints in the zoomed picture (most of them outside it)."""
        draws, poses, k, cameras, looks, affines = self._sample(indices)
        rng = np.random.default_rng([self.stream_seed, 0x9A, *(int(i) for i in indices[:1]), len(indices)])
        n, size = len(indices), self.config.crop.input_size
        uv = cameras.project_camera(cameras.world_to_camera(poses))  # (B, J, 2) frame pixels
        joints = apply_affine(affines, uv)  # in the person crop
        centre = joints[np.arange(n), rng.integers(joints.shape[1], size=n)]
        z = np.exp(rng.uniform(np.log(zoom[0]), np.log(zoom[1]), size=n))
        centre = centre + rng.uniform(-1.0, 1.0, size=(n, 2)) * (size / 3.0) / z[:, None]
        zoomed = affines * z[:, None, None]  # x' = z (A x - centre) + the picture's centre
        zoomed[..., 2] += (size - 1) / 2.0 - z[:, None] * centre
        return {**self._render_negatives(draws, poses, cameras, looks, zoomed, indices),
                "joints_2d": apply_affine(zoomed, uv).astype(np.float32)}

    def _render_negatives(self, draws, poses, cameras, looks, affines, indices) -> dict[str, np.ndarray]:
        """The scenes through ``affines`` as person-head negatives: ``image``, ``person_coverage`` (the
        share of pixels showing a person), ``index``."""
        size = (self.config.crop.input_size,) * 2
        if isinstance(looks, MeshPeople):
            out = render_people(looks, poses, cameras, draws, affines, size, self.config.scene, self._photos)
        else:
            out = render(poses, cameras, looks, draws, affines, size, self.config.scene, self._photos)
        image = np.ascontiguousarray(out.images.transpose(0, 3, 1, 2))
        if isinstance(looks, MeshPeople) and self.config.occluder_probability > 0:
            # As often as over the people, anywhere: an occluder alone does not make a person.
            paint_occluders(image, np.full((len(image), 4), np.nan), draws, self.config.occluder_probability,
                            self.texture_photos)
        return {"image": image, "person_coverage": out.mask.mean(axis=(1, 2)), "index": np.asarray(indices, dtype=np.int64)}

    def render_all(self, chunk: int = 250) -> dict[str, np.ndarray]:
        """Every sample of the split (a fixed validation or test set), rendered ``chunk`` at a time."""
        parts = [self.render_batch(range(lo, min(lo + chunk, self.length))) for lo in range(0, self.length, chunk)]
        return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}

    def render_full_frames(self, indices: Sequence[int]) -> dict[str, np.ndarray]:
        """The same samples as whole camera frames (the crop is not applied; ``crop_affine`` still
        says where it would be). All cameras of the call must share one image size: pass one index
        at a time to be safe."""
        draws, poses, k, cameras, looks, affines = self._sample(indices)
        sizes = np.broadcast_to(np.asarray(cameras.size), (len(indices), 2))
        if not (sizes == sizes[0]).all():
            raise ValueError("full frames of a batch must share one image size; pass one index at a time")
        size = (int(sizes[0, 0]), int(sizes[0, 1]))
        full = np.broadcast_to(np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]), (len(indices), 2, 3)).copy()
        return {**self._draw(draws, poses, k, cameras, looks, full, size, indices), "crop_affine": affines.astype(np.float32)}

    def render_views(self, indices: Sequence[int], view: Callable[[np.ndarray, np.ndarray], np.ndarray],
                     size: tuple[int, int], hide_people: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """The samples' scenes (the same draws as ``render_batch``, anny bodies only) seen through
        affines of the caller's choosing: ``view(people_uv, frame_sizes)`` gets every person's 17
        joints in full-frame pixels (B, P, 17, 2; NaN: absent or not wholly in front of the camera)
        and the frames' (B, 2) width and height, and returns (B, 2, 3) affines from full-frame pixels
        to output pixels of ``size`` (width, height). Where ``hide_people`` (B,) is true nobody is
        drawn: the scene alone (a negative). Returns ``render_batch``'s fields for those views."""
        if self.config.bodies != "anny":
            raise ValueError("render_views needs bodies='anny' (every person's joints)")
        draws, poses, k, cameras, people, _ = self._sample(indices)
        joints_cam = cameras.world_to_camera(np.nan_to_num(people.joints.astype(np.float64)).swapaxes(0, 1))  # (P, B, 17, 3)
        in_front = people.present.T & (joints_cam[..., 2].min(-1) >= MIN_DEPTH_MM)  # (P, B)
        uv = np.where(in_front[..., None, None], cameras.project_camera(joints_cam), np.nan).swapaxes(0, 1)
        sizes = np.broadcast_to(np.asarray(cameras.size), (len(k), 2)).astype(np.float64)
        affines = np.asarray(view(uv, sizes), dtype=np.float64)
        if hide_people is not None:
            people = replace(people, present=people.present & ~np.asarray(hide_people, bool)[:, None])
        return self._draw(draws, poses, k, cameras, people, affines, size, indices)

    def _sample(self, indices: Sequence[int]) -> tuple:
        indices = [int(i) for i in indices]
        for i in indices:
            if not 0 <= i < self.length:
                raise IndexError(f"sample index {i} out of range for a split of length {self.length}")
        bank = self._load()
        draws = Draws.for_samples(self.stream_seed, indices)
        if self.config.bodies == "anny":
            # The people take their own stream of draws, so the scene's (and the capsule renders')
            # draws are what they always were.
            people_draws = Draws.for_samples(PEOPLE_STREAM + self.stream_seed, indices)
            poses, k, people = self._place_people(people_draws, bank)
            cameras = self._cameras(draws, poses)
            affines = self._crop_affines(draws, cameras.project(poses))
            centres = people.vertices[:, :, ::50, :2].mean(axis=2)  # (B, P, 2): about where each stands
            xy = np.where(people.present[..., None], centres, centres[:, :1])
            textures = None if self._textures is None else self._textures.images
            rooms = sample_rooms(people_draws, xy, np.asarray(cameras.center), self.config.room_probability,
                                 0 if textures is None else len(textures))
            # Motion blur on a fifth of the scenes: a streak of 2-7 output pixels in any direction.
            streak = np.where(people_draws.bernoulli(0.2), people_draws.uniform(2.0, 7.0), 0.0)
            blur = np.stack([streak, people_draws.uniform(0.0, np.pi)], axis=-1)
            return draws, poses, k, cameras, replace(people, rooms=rooms, textures=textures, motion_blur=blur), affines
        poses, k = self._place_poses(draws, bank)
        cameras = self._cameras(draws, poses)
        looks = sample_appearances(draws)
        affines = self._crop_affines(draws, cameras.project(poses))
        return draws, poses, k, cameras, looks, affines

    def _place_people(self, draws: Draws, bank: PoseBank) -> tuple[np.ndarray, np.ndarray, "MeshPeople"]:
        """Anny people for each sample: person 0 like ``_place_poses`` (a pose of the split, a random
        heading and spot), its labels read off its posed body; up to 3 neighbours around it, 0.6 to
        2.5 m away in any direction, each with its own pose, heading, body and clothes."""
        from pose3d.body.anny import load_anny_body

        if self._body is None:
            self._body = load_anny_body()
            self._anny_legs = rest_leg_length_mm(self._body, self._body.shape_table)  # (T,) per table row
            self._anny_corrections = rest_corrections(  # per table row: they depend on the body alone
                self._body, rest_bone_heads_mm(self._body, self._body.shape_table))
        body = self._body
        B = draws.batch
        count = draws.choice(self.config.people_probability) + 1  # (B,) people per scene
        slots = len(self.config.people_probability)
        verts = albedo = normals = None
        present = np.zeros((B, slots), dtype=bool)
        labels = k0 = None
        centre = np.zeros((B, 2))
        for p in range(slots):
            k = draws.integers(len(bank))
            yaw = draws.uniform(0.0, 2.0 * np.pi)
            where = draws.uniform(-1000.0, 1000.0, n=2)
            angle, dist = draws.uniform(0.0, 2.0 * np.pi), draws.uniform(600.0, 2500.0)
            on = p < count  # (B,) who is in the scene: only they are posed and coloured
            looks = sample_mesh_looks(draws, body, on, self.config.garment_patterns, self.config.bare_tops)
            if p > 0:  # neighbours stand around person 0
                where = centre + dist[:, None] * np.stack([np.cos(angle), np.sin(angle)], axis=-1)
            else:
                centre = where
            if verts is None:
                V = body.num_vertices
                verts = np.zeros((B, slots, V, 3), np.float32)
                normals, albedo = np.zeros_like(verts), np.zeros_like(verts)
                joints = np.full((B, slots, 17, 3), np.nan, np.float32)
            albedo[:, p] = looks.albedo
            present[:, p] = on
            if not on.any():
                continue  # nobody in this slot in the whole batch (person 0 is always there)
            shape = shapes_of(body, looks)[on]
            drivers = np.einsum("bij,bdjk->bdik", yaw_to_rotmat(yaw[on]), bank.driver_rotations(k[on]))
            scale = self._anny_legs[looks.shape_rows[on]] / _leg_length_mm(bank.poses[k[on]])
            root = np.concatenate([where[on], (bank.root_world[k[on], 2] * scale)[:, None]], axis=-1)
            rows = looks.shape_rows[on]
            posed = pose_bodies(body, shape, drivers, root, dtype=np.float32,
                                corrections={n: c[rows] for n, c in self._anny_corrections.items()})
            verts[on, p], normals[on, p] = add_hair_volume(posed.vertices_mm, body.faces, looks.hair_mm[on])
            joints[on, p] = posed.joints_mm
            if p == 0:
                labels, k0 = posed.joints_mm.astype(np.float64), k
        return labels, k0, MeshPeople(verts, normals, albedo, present, body.faces, joints=joints)

    def _place_poses(self, draws: Draws, bank: PoseBank) -> tuple[np.ndarray, np.ndarray]:
        """(B, 17, 3) world poses: a random pose of the split, turned to a random heading, pelvis at
        its height above the floor, standing at a random spot of a Human3.6M-sized capture area."""
        k = draws.integers(len(bank))
        yaw = draws.uniform(0.0, 2.0 * np.pi)
        ground = draws.uniform(-1000.0, 1000.0, n=2)
        poses = np.einsum("bij,bkj->bki", yaw_to_rotmat(yaw), bank.poses[k].astype(np.float64))
        root = np.concatenate([ground, bank.root_world[k, 2:3].astype(np.float64)], axis=-1)
        return poses + root[:, None, :], k

    def _cameras(self, draws: Draws, poses: np.ndarray) -> Camera:
        sampled = sample_cameras(draws, poses[:, 0], self.config.view)
        rigs = h36m_rigs()
        use_rig = draws.bernoulli(self.config.h36m_rig_probability)
        rig_index = draws.integers(len(rigs))
        if not use_rig.any():
            return sampled
        R, t, f, c, k, p = (np.array(getattr(sampled, a)) for a in ("R", "t", "f", "c", "k", "p"))
        size = np.array(sampled.size)
        for b in np.flatnonzero(use_rig):
            rig = rigs[rig_index[b]]
            R[b], t[b], f[b], c[b], k[b], p[b], size[b] = rig.R, rig.t, rig.f, rig.c, rig.k, rig.p, rig.size
        return Camera(R, t, f, c, k, p, size, name="synthetic")

    def _crop_affines(self, draws: Draws, uv: np.ndarray) -> np.ndarray:
        spec = self.config.crop
        box = square_box(uv, spec.margin)
        scale = draws.uniform(1.0 - spec.jitter_scale, 1.0 + spec.jitter_scale)
        shift = draws.uniform(-spec.jitter_shift, spec.jitter_shift, n=2)
        room = spec.size - spec.input_size
        offset = np.minimum((draws.uniform(0.0, 1.0, n=2) * (room + 1)).astype(int), room)
        if self.jitter:
            box[:, :2] += shift * box[:, 2:3]
            box[:, 2] *= scale
        else:
            offset[:] = room // 2
        return shift_affine(box_to_affine(box, spec.size), offset[:, 0], offset[:, 1])

    def _as_samples(self, out: "Rendered | RenderedPeople", cameras: Camera, affines: np.ndarray, k: np.ndarray, indices: Sequence[int]) -> dict[str, np.ndarray]:
        f32 = np.float32
        bank = self._split_bank
        B = len(indices)
        return {
            "image": np.ascontiguousarray(out.images.transpose(0, 3, 1, 2)),
            "pose_cam": out.joints_cam.astype(f32),
            "pose_rel": to_root_relative(out.joints_cam).astype(f32),
            "joints_2d": out.joints_2d.astype(f32),
            "crop_affine": affines.astype(f32),
            "R": cameras.R.astype(f32),
            "t": cameras.t.astype(f32),
            "f": cameras.f.astype(f32),
            "c": cameras.c.astype(f32),
            "k": np.broadcast_to(cameras.k, (B, 3)).astype(f32),
            "p": np.broadcast_to(cameras.p, (B, 2)).astype(f32),
            "clip": bank.clip[k].astype(np.int64),
            "activity": bank.activity[k].astype(np.int64),
            "bank_index": self._bank_rows[k].astype(np.int64),  # row in the whole bank
            "index": np.asarray(indices, dtype=np.int64),
        }


def _leg_length_mm(poses: np.ndarray) -> np.ndarray:
    """(B, 17, 3) poses -> (B,) mean thigh + shin length."""
    names = H36M17.bone_names
    lengths = bone_lengths(poses)
    legs = [names.index(n) for n in ("RHip-RKnee", "RKnee-RFoot", "LHip-LKnee", "LKnee-LFoot")]
    return lengths[:, legs].sum(-1) / 2.0
