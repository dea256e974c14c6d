"""The training data behind one interface: synthetic renders or a prepared Human3.6M set.

``TrainingData`` is what every stage reads: this process's part of a step's global batch of training
crops (``images``, and for the person stage ``backgrounds``), the fixed validation samples, poses for
the prior (``prior_poses``), label-only samples for the lifter (``labels``, ``val_labels``: 2D joints
and 3D pose without the picture), the activity names, and for the detector whole frames (``frames``).
``offers`` says which of those a data set has (``pose3d.train.names``: poses, images, backgrounds,
frames, labels); ``require`` refuses a stage it cannot feed, with a message saying why.

Determinism: a step's batch is fixed by (seed, step) and does not depend on how many processes share
it (each takes ``offset .. offset + size`` of the same global batch), so a resumed run sees the same
samples as one that never stopped.
- ``SyntheticTraining``: the training crops of step s are crops s*B .. s*B + B-1 of the synthetic
  train split (``pose3d.data.synthetic``), and so are its labels (the same samples, not rendered);
  validation is the first ``val_samples`` of the val split.
- ``PreparedH36MTraining``: rows and random sub-crops drawn from (seed, step) among the training
  subjects' crops; validation: fixed, evenly spaced crops of the test subjects; the prior learns the
  training subjects' camera-frame poses. Labels come from the stored 2D joints and crop boxes, which
  every prepared set has, so a 3D-only set offers poses and labels.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch

from pose3d.data.h36m.dataset import PreparedH36M
from pose3d.data.h36m.names import ACTIONS
from pose3d.data.h36m.store import PreparedSetError
from pose3d.data.posebank import SPLITS, PoseBank, load_posebank
from pose3d.data.synthetic import SynthConfig, SyntheticPoses
from pose3d.models.cnn import crop_to_unit
from pose3d.models.codec import ImageCodec, PoseCodec
from pose3d.rotations import yaw_to_rotmat
from pose3d.skeleton import to_root_relative
from pose3d.synth.cameras import sample_cameras
from pose3d.synth.draws import Draws
from pose3d.synth.scene import SceneSpec
from pose3d.train.names import BACKGROUNDS, FRAMES, IMAGES, LABELS, POSES, StageSpec

if TYPE_CHECKING:
    from pose3d.data.frames import DetectorFrames
    from pose3d.train.config import TrainConfig

POSE = PoseCodec()


class UnsuitableData(ValueError):
    """The training data cannot feed a stage; the message says why and what it can train."""


class TrainingData:
    """The interface (see the module docstring); a data set overrides what it ``offers``."""

    offers: frozenset[str] = frozenset()
    activity_names: tuple[str, ...] = ()

    def __init__(self, config: "TrainConfig") -> None:
        self.config = config
        self.contract = config.input
        self.image_codec = ImageCodec.of(config.input)
        self._val: dict[str, np.ndarray] | None = None

    def refusal(self, need: str, stage: str | None = None) -> str:
        """Why this data cannot give ``need`` (to ``stage``)."""
        return f"{_stage(stage)} needs {need}, which {self.describe()} does not have"

    def require(self, spec: StageSpec) -> None:
        """UnsuitableData unless this data offers everything ``spec`` reads."""
        for need in spec.data:
            if need not in self.offers:
                raise UnsuitableData(self.refusal(need, spec.name))

    def feeds(self, spec: StageSpec) -> bool:
        return all(need in self.offers for need in spec.data)

    def describe(self) -> str:
        raise NotImplementedError

    def images(self, step: int, batch_size: int, offset: int, size: int) -> dict[str, torch.Tensor]:
        """This process's part (``offset``, ``size``) of step ``step``'s global batch of ``batch_size``
        training crops: ``x`` (B, 3, S, S) normalised, ``pose`` (B, 51) PoseCodec units, ``joints``
        (B, J, 2) in -1..1 crop units."""
        raise UnsuitableData(self.refusal(IMAGES))

    def backgrounds(self, step: int, batch_size: int, offset: int, size: int) -> torch.Tensor:
        """(B, 3, S, S) normalised crops of the same scenes as ``images`` where no person is."""
        return self.background_batch(step, batch_size, offset, size)["x"]

    def background_batch(self, step: int, batch_size: int, offset: int, size: int) -> dict[str, torch.Tensor]:
        """``backgrounds`` with each crop's ``coverage`` (B,): the share of its pixels that show a person
        anyway (another person of the scene can stand where the crop moved to)."""
        raise UnsuitableData(self.refusal(BACKGROUNDS, "person"))

    def val_samples(self) -> dict[str, np.ndarray]:
        """The fixed validation samples (``image`` uint8 (N, 3, S, S), ``pose_rel`` mm, ``activity``, ...),
        made once."""
        if self._val is None:
            self._val = self._make_val()
        return self._val

    def _make_val(self) -> dict[str, np.ndarray]:
        raise UnsuitableData(self.refusal(IMAGES))

    def val_backgrounds(self) -> np.ndarray:
        """(N, 3, S, S) uint8: the validation samples' scenes where no person is."""
        raise UnsuitableData(self.refusal(BACKGROUNDS, "person"))

    def part_batch(self, step: int, batch_size: int, offset: int, size: int) -> torch.Tensor:
        """Normalised crops of the same scenes as ``images``, zoomed onto a part of the person
        (``SyntheticPoses.render_part_batch``): negatives for the person heads."""
        raise UnsuitableData(self.refusal(BACKGROUNDS, "person"))

    def val_parts(self) -> np.ndarray:
        """(N, 3, S, S) uint8: the validation samples zoomed onto a part of the person."""
        raise UnsuitableData(self.refusal(BACKGROUNDS, "person"))

    def prior_poses(self, split: str, step: int, count: int) -> torch.Tensor:
        """(count, 51) root-relative camera-frame poses of ``split`` in PoseCodec units, fixed by
        (seed, split, step)."""
        raise UnsuitableData(self.refusal(POSES, "prior"))

    def frames(self, split: str, length: int | None = None) -> "DetectorFrames":
        """Whole frames with every person's box, for the detector."""
        raise UnsuitableData(self.refusal(FRAMES, "detector"))

    def labels(self, step: int, batch_size: int, offset: int, size: int) -> dict[str, torch.Tensor]:
        """This process's part (``offset``, ``size``) of step ``step``'s global batch of ``batch_size``
        label-only training samples (no pictures, so cheap): ``joints`` (B, J, 2) in -1..1 crop units,
        ``pose`` (B, 51) PoseCodec units."""
        raise UnsuitableData(self.refusal(LABELS, "lifter"))

    def val_labels(self, count: int) -> dict[str, torch.Tensor]:
        """``count`` fixed label-only validation samples, as ``labels`` gives them."""
        raise UnsuitableData(self.refusal(LABELS, "lifter"))

    def _tensors(self, batch: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
        return {
            "x": self.image_codec.encode(torch.from_numpy(batch["image"])),
            "pose": POSE.encode(torch.from_numpy(batch["pose_rel"])),
            "joints": crop_to_unit(torch.from_numpy(batch["joints_2d"]), self.contract.input_size),
        }

    def _label_tensors(self, batch: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
        return {
            "joints": crop_to_unit(torch.from_numpy(batch["joints_2d"]), self.contract.input_size),
            "pose": POSE.encode(torch.from_numpy(batch["pose_rel"])),
        }


def _stage(name: str | None) -> str:
    return f"stage {name!r}" if name else "an image stage"


def training_data(config: "TrainConfig") -> TrainingData:
    """The data ``config.data`` names: "synthetic" or a folder made by ``pose3d-prepare h36m``."""
    return SyntheticTraining(config) if config.data == "synthetic" else PreparedH36MTraining(config)


class SyntheticTraining(TrainingData):
    offers = frozenset({POSES, IMAGES, BACKGROUNDS, FRAMES, LABELS})

    def __init__(self, config: "TrainConfig") -> None:
        super().__init__(config)
        self._bank: PoseBank | None = None
        self._train: SyntheticPoses | None = None

    def describe(self) -> str:
        return f"the synthetic data ({self.config.bodies})"

    @property
    def bank(self) -> PoseBank:
        if self._bank is None:
            self._bank = load_posebank()
        return self._bank

    @property
    def activity_names(self) -> tuple[str, ...]:  # type: ignore[override]
        return self.bank.activity_names

    @property
    def train(self) -> SyntheticPoses:
        if self._train is None:
            cfg = self.config
            self._train = SyntheticPoses(self.synth_config("train", crop=self.contract.crop_spec(), bodies=cfg.bodies,
                                                           background_dir=cfg.backgrounds, texture_dir=cfg.textures,
                                                           occluder_probability=cfg.occluder_probability),
                                         bank=self.bank)
        return self._train

    def val_dataset(self, length: int | None = None) -> SyntheticPoses:
        """The first ``length`` (default ``val_samples``) samples of the val split; its first
        ``val_samples`` crops are the fixed validation set."""
        cfg = self.config
        return SyntheticPoses(self.synth_config("val", length=length or cfg.val_samples, crop=self.contract.crop_spec(),
                                                bodies=cfg.bodies, occluder_probability=cfg.occluder_probability),
                              bank=self.bank)

    def synth_config(self, split: str, **fields) -> SynthConfig:
        """A split's ``SynthConfig``: the run's seed and how its people look and are lit (garment
        patterns, bare tops, backlight, colour), with ``fields``."""
        cfg = self.config
        return SynthConfig(split=split, seed=cfg.seed, garment_patterns=cfg.garment_patterns, bare_tops=cfg.bare_tops,
                           scene=SceneSpec(backlight_probability=cfg.backlight, desaturate_probability=cfg.desaturate),
                           **fields)

    def _indices(self, step: int, batch_size: int, offset: int, size: int) -> range:
        first = step * batch_size + offset
        return range(first, first + size)

    def images(self, step: int, batch_size: int, offset: int, size: int) -> dict[str, torch.Tensor]:
        return self._tensors(self.train.render_batch(self._indices(step, batch_size, offset, size)))

    def labels(self, step: int, batch_size: int, offset: int, size: int) -> dict[str, torch.Tensor]:
        """The labels of the same samples as ``images`` (step s: s*B .. s*B + B-1), not rendered."""
        return self._label_tensors(self.train.label_batch(self._indices(step, batch_size, offset, size)))

    def val_labels(self, count: int) -> dict[str, torch.Tensor]:
        """The first ``count`` samples of the val split (their first ``val_samples`` are the crops of
        ``val_samples()``)."""
        return self._label_tensors(self.val_dataset(count).label_batch(range(count)))

    def background_batch(self, step: int, batch_size: int, offset: int, size: int) -> dict[str, torch.Tensor]:
        batch = self.train.render_background_batch(self._indices(step, batch_size, offset, size))
        return {"x": self.image_codec.encode(torch.from_numpy(batch["image"])),
                "coverage": torch.from_numpy(batch["person_coverage"].astype(np.float32))}

    def _make_val(self) -> dict[str, np.ndarray]:
        return self.val_dataset().render_all()

    def val_backgrounds(self) -> np.ndarray:
        return self.val_dataset().render_background_batch(range(self.config.val_samples))["image"]

    def part_batch(self, step: int, batch_size: int, offset: int, size: int) -> torch.Tensor:
        batch = self.train.render_part_batch(self._indices(step, batch_size, offset, size))
        return self.image_codec.encode(torch.from_numpy(batch["image"]))

    def val_parts(self) -> np.ndarray:
        return self.val_dataset().render_part_batch(range(self.config.val_samples))["image"]

    def prior_poses(self, split: str, step: int, count: int) -> torch.Tensor:
        """Pose-bank poses of ``split``, each turned to a random heading and seen from a random camera."""
        rng = np.random.default_rng([self.config.seed, SPLITS.index(split), step])
        bank = self.bank.select(split=split)
        k = rng.integers(len(bank), size=count)
        yaw = rng.uniform(0, 2 * np.pi, size=count)
        world = np.einsum("bij,bkj->bki", yaw_to_rotmat(yaw), bank.poses[k].astype(np.float64))  # (B, J, 3)
        world[..., 2] += bank.root_world[k, 2:3]
        cams = sample_cameras(Draws.from_rng(rng, count), world[:, 0])
        pose_cam = to_root_relative(cams.world_to_camera(world))
        return POSE.encode(torch.from_numpy(pose_cam).float())

    def frames(self, split: str, length: int | None = None) -> "DetectorFrames":
        from pose3d.data.frames import DetectorFrames

        cfg = self.config
        synth = self.synth_config(split, length=length, background_dir=cfg.backgrounds, texture_dir=cfg.textures)
        return DetectorFrames(synth, cfg.detector.input_size, cfg.detector_frames, bank=self.bank)


class PreparedH36MTraining(TrainingData):
    activity_names = ACTIONS

    def __init__(self, config: "TrainConfig") -> None:
        super().__init__(config)
        self.set = PreparedH36M(config.data)
        if self.set.crop_size != self.contract.crop_size:
            raise PreparedSetError(f"{self.set.path} holds {self.set.crop_size} px crops; the model's input contract "
                                   f"takes {self.contract.crop_size} (setting input.crop_size)")
        self.offers = frozenset({POSES, LABELS, IMAGES} if self.set.has_images else {POSES, LABELS})

    def describe(self) -> str:
        return self.set.describe()

    def refusal(self, need: str, stage: str | None = None) -> str:
        if need == IMAGES:
            return f"{self.set.path} holds 3D poses only: it trains the prior (--stage prior), not {_stage(stage)}"
        if need == BACKGROUNDS:
            return (f"{_stage(stage)} trains on the synthetic data only (prepared Human3.6M crops have no "
                    "background crops to learn from)")
        if need == FRAMES:
            return (f"{_stage(stage)} trains on the synthetic data only (Human3.6M frames label one person, "
                    "not everyone's boxes)")
        return super().refusal(need, stage)

    def rows(self, role: str) -> np.ndarray:
        rows = self.set.rows(role)
        if len(rows) == 0:
            raise PreparedSetError(f"{self.set.path} has no {role} samples ({self.set.split.describe()})")
        return rows

    def images(self, step: int, batch_size: int, offset: int, size: int) -> dict[str, torch.Tensor]:
        """Rows and sub-crop offsets of the whole global batch drawn from (seed, step), then this
        process's part of them."""
        if IMAGES not in self.offers:
            raise UnsuitableData(self.refusal(IMAGES))
        rows = self.rows("train")
        rng = np.random.default_rng([self.config.seed, 5, step])
        pick = rows[rng.integers(len(rows), size=batch_size)][offset : offset + size]
        offsets = self.set.random_offsets(rng, batch_size, self.contract.input_size)[offset : offset + size]
        return self._tensors(self.set.samples(pick, self.contract.input_size, offsets))

    def _make_val(self) -> dict[str, np.ndarray]:
        return self.set.samples(self._val_rows(self.config.val_samples), self.contract.input_size)

    def _val_rows(self, count: int) -> np.ndarray:
        """``count`` (at most all) evenly spaced rows of the test subjects."""
        rows = self.rows("test")
        return rows[np.linspace(0, len(rows) - 1, min(count, len(rows))).astype(np.int64)]

    def labels(self, step: int, batch_size: int, offset: int, size: int) -> dict[str, torch.Tensor]:
        """Rows and sub-crop offsets drawn from (seed, step) like ``images`` (from a stream of their
        own), labels only: the stored 2D joints seen through the sub-crop, and the 3D pose."""
        rows = self.rows("train")
        rng = np.random.default_rng([self.config.seed, 6, step])
        pick = rows[rng.integers(len(rows), size=batch_size)][offset : offset + size]
        offsets = self.set.random_offsets(rng, batch_size, self.contract.input_size)[offset : offset + size]
        return self._label_tensors(self.set.samples(pick, self.contract.input_size, offsets, images=False))

    def val_labels(self, count: int) -> dict[str, torch.Tensor]:
        """Evenly spaced rows of the test subjects, central sub-crops."""
        return self._label_tensors(self.set.samples(self._val_rows(count), self.contract.input_size, images=False))

    def prior_poses(self, split: str, step: int, count: int) -> torch.Tensor:
        """The training (for validation: test) subjects' poses as their cameras saw them."""
        rng = np.random.default_rng([self.config.seed, SPLITS.index(split), step])
        rows = self.rows("train" if split == "train" else "test")
        pose_rel = to_root_relative(self.set.pose_cam[rows[rng.integers(len(rows), size=count)]])
        return POSE.encode(torch.from_numpy(pose_rel).float())
