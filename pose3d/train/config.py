"""The typed training configuration: defaults here, a TOML file on top, ``key=value`` overrides last.

The whole config is saved inside every checkpoint, so a checkpoint says how it was made.
"""

from __future__ import annotations

import ast
import dataclasses
import math
import tomllib
import types
import typing
from dataclasses import asdict, dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any

from pose3d.contract import InputContract
from pose3d.data.frames import FrameSpec
from pose3d.models.cnn import CNNConfig
from pose3d.models.detector import DetectorConfig
from pose3d.models.heatmap import HeatmapConfig
from pose3d.models.prior import PriorConfig
from pose3d.train.names import STAGES


@dataclass(frozen=True)
class StageConfig:
    steps: int = 1000
    batch_size: int = 64
    lr: float = 1e-3
    final_lr_fraction: float = 0.05  # cosine decay from lr to lr * this over the stage
    weight_decay: float = 0.0
    val_every: int = 250
    checkpoint_every: int = 100
    # A checkpoint whose tensors start this stage where name and shape match (the rest start as
    # initialised): a wider or narrower head on a trained trunk. Not used once the stage has a
    # checkpoint of its own (it resumes from that).
    init_from: str | None = None


@dataclass(frozen=True)
class LifterNoise:
    """Simulated 2D-detector errors on the true joints (-1..1 crop units) the lifter stage trains on
    (``pose3d.train.lifter.detection_noise``), so that the lifter learns to read what the heatmap
    net will give it: each sample's joints jitter by a Gaussian of its own sigma, drawn from
    0..max_sigma; a fraction of joints are outliers, moved by outlier_sigma; each joint's confidence
    falls with its sample's sigma, jittered, and outliers' is scaled down."""

    max_sigma: float = 0.06  # per-sample sigma ~ U(0, max_sigma), crop units (0.06: 3.8 px of 128)
    outlier_fraction: float = 0.05  # chance that a joint is an outlier
    outlier_sigma: float = 0.3  # an outlier's offset from the true joint, crop units
    confidence_base: float = 0.75  # confidence of a noiseless joint (before the jitter)
    confidence_slope: float = 4.0  # confidence lost per unit of sigma
    confidence_jitter: float = 0.1  # + U(-jitter, jitter) per joint
    outlier_confidence: float = 0.4  # an outlier's confidence is multiplied by this


@dataclass(frozen=True)
class TrainConfig:
    out_dir: str = "runs/default"
    seed: int = 0
    data: str = "synthetic"  # the embedded synthetic default (other data: the Human3.6M issue)
    val_samples: int = 500
    loss_2d_weight: float = 0.1  # weight of the 2D-joint head's loss in the image stages
    bf16: bool | None = None  # None: bf16 autocast on a GPU, and on CPUs only with bf16 matrix units (measured)
    channels_last: bool = True  # 1.6x faster training of the CNN on this machine's CPU (measured)
    device: str | None = None  # "cpu" or "cuda"; none: the CUDA GPU when torch sees one (pose3d.train.device)
    workers: int = 0  # processes rendering the next steps' crops ahead (pose3d.train.feed); 0: the training process, when needed
    bodies: str = "capsules"  # synthetic people: "capsules" (mannequins) or "anny" (skinned, clothed, 1-4 per scene)
    backgrounds: str | None = None  # a folder of background photos (pose3d-synth gather-photos OUT/backgrounds)
    textures: str | None = None  # anny: texture photos for rooms (gather-photos OUT/textures)
    garment_patterns: float = 0.5  # anny: share of tops and bottoms with stripes, a print or colour blocks; 0: plain
    bare_tops: float = 0.0  # anny: share of people with no top (pose3d.synth.people)
    backlight: float = 0.0  # anny: share of scenes against the light: people darkened, glare (pose3d.synth.scene.backlight)
    desaturate: float = 0.0  # share of augmented pictures almost without colour (pose3d.synth.scene.finish)
    # anny: share of person crops with foliage, posts or panels in front of the person, and of the person
    # head's negatives with them anywhere (detector frames have their own: detector_frames.occluder_probability)
    occluder_probability: float = 0.0
    # 2D-evidence stages: weight of the mean joint confidence on crops where nobody is (a quarter of each
    # batch: the same scenes cropped beside the person, SyntheticPoses.render_background_batch), so the
    # pose score that verifies the detector's proposals learns what is not a person; 0: off.
    background_confidence: float = 0.0
    # What crop the model takes (crop size, input size, margin, normalisation): saved in every
    # checkpoint, carried verbatim into the ONNX metadata, read back by the runtime (pose3d.contract).
    input: InputContract = field(default_factory=InputContract)
    prior: PriorConfig = field(default_factory=PriorConfig)
    cnn: CNNConfig = field(default_factory=CNNConfig)
    heatmap: HeatmapConfig = field(default_factory=HeatmapConfig)  # the 2D-evidence model (stage heatmap)
    prior_stage: StageConfig = field(default_factory=lambda: StageConfig(steps=20000, batch_size=256, lr=1e-3, val_every=2000, checkpoint_every=2000))
    latent_stage: StageConfig = field(default_factory=lambda: StageConfig(steps=3000, batch_size=64, lr=5e-4))
    finetune_stage: StageConfig = field(default_factory=lambda: StageConfig(steps=1500, batch_size=64, lr=1e-4))
    direct_stage: StageConfig = field(default_factory=lambda: StageConfig(steps=4500, batch_size=64, lr=5e-4))
    # The 2D-evidence model (pose3d.models.heatmap) trained end to end: heatmaps -> 2D joints -> lifter -> 3D.
    heatmap_stage: StageConfig = field(default_factory=lambda: StageConfig(steps=9000, batch_size=32, lr=1e-3, weight_decay=1e-4, val_every=1000, checkpoint_every=250))
    # The structured 2D-evidence model: (b) and (c) of the method with the heatmap model (the lifter
    # regresses the prior's code); together as many crops as heatmap_stage (the ablation's equal budget).
    hmlatent_stage: StageConfig = field(default_factory=lambda: StageConfig(steps=6000, batch_size=32, lr=1e-3, weight_decay=1e-4, val_every=1000, checkpoint_every=250))
    hmfinetune_stage: StageConfig = field(default_factory=lambda: StageConfig(steps=3000, batch_size=32, lr=3e-4, weight_decay=1e-4, val_every=1000, checkpoint_every=250))
    # The heatmap model's lifter alone, on label-only samples with simulated 2D noise (pose3d.train.lifter);
    # stage heatmap starts from its lifter.pt. 12 minutes on this project's 2-core CPU with bodies=anny (697 s measured).
    lifter_stage: StageConfig = field(default_factory=lambda: StageConfig(steps=1500, batch_size=512, lr=1e-3, weight_decay=1e-4, val_every=500, checkpoint_every=250))
    lifter_noise: LifterNoise = field(default_factory=LifterNoise)
    lifter_val_samples: int = 2000  # fixed val-split labels that validate the lifter stage
    # The person head on the frozen fine-tuned (or direct) network: person vs background crops.
    person_stage: StageConfig = field(default_factory=lambda: StageConfig(steps=300, batch_size=64, lr=1e-3, val_every=100))
    hmperson_stage: StageConfig = field(default_factory=lambda: StageConfig(steps=600, batch_size=32, lr=1e-2, val_every=200, checkpoint_every=100))
    # The person detector (pose3d.models.detector) on whole synthetic frames (pose3d.data.frames); not
    # in the default stage set: pose3d-train --stage detector. val_samples frames validate it.
    detector: DetectorConfig = field(default_factory=DetectorConfig)
    detector_frames: FrameSpec = field(default_factory=FrameSpec)
    # About 35 minutes on this project's 2-core CPU (about 35 frames/s, rendering included; measured).
    detector_stage: StageConfig = field(default_factory=lambda: StageConfig(steps=4500, batch_size=16, lr=5e-3, weight_decay=1e-4, val_every=900, checkpoint_every=100))

    def __post_init__(self) -> None:
        from pose3d.data.synthetic import BODIES

        if self.bodies not in BODIES:
            raise ValueError(f"setting bodies takes one of {', '.join(BODIES)}, got {self.bodies!r}")

    def stage(self, name: str) -> StageConfig:
        if name not in STAGES:
            raise ValueError(f"unknown stage {name!r}; choose from {STAGES}")
        return getattr(self, f"{name}_stage")


# The range of every numeric setting, by name (one rule wherever the name appears; for tuples, of
# each element): (lowest, whether the lowest itself is excluded, highest or None).
RANGES: dict[str, tuple[float, bool, float | None]] = {
    "steps": (1, False, None), "batch_size": (1, False, None), "val_every": (1, False, None),
    "checkpoint_every": (1, False, None), "val_samples": (1, False, None), "seed": (0, False, None),
    "workers": (0, False, None), "lr": (0, True, None), "final_lr_fraction": (0, False, 1),
    "weight_decay": (0, False, None), "loss_2d_weight": (0, False, None), "hidden": (1, False, None),
    "noise_mm": (0, False, None), "contractive": (0, False, None), "input_dim": (1, False, None),
    "input_size": (1, False, None), "crop_size": (1, False, None), "margin": (0, False, None), "std": (0, True, None), "channels": (1, False, None), "kernels": (1, False, None), "fc": (1, False, None),
    "dropout": (0, False, 0.99), "hidden_2d": (1, False, None), "num_joints": (1, False, None),
    "hidden_person": (1, False, None), "widths": (1, False, None), "blocks": (0, False, None),
    "decoder_widths": (1, False, None), "lifter_hidden": (1, False, None), "lifter_blocks": (0, False, None),
    "lifter_dropout": (0, False, 0.99), "neck_width": (1, False, None), "size_weight": (0, False, None),
    "offset_weight": (0, False, None), "score_threshold": (0, False, 1), "max_people": (1, False, None),
    "overlap_threshold": (0, False, 1), "min_height": (0, True, None), "max_height": (0, True, None),
    "whole_frame_probability": (0, False, 1), "letterbox_probability": (0, False, 1),
    "negative_probability": (0, False, 1), "occluder_probability": (0, False, 1), "min_joints": (1, False, 17), "min_box_px": (0, False, None),
    "lifter_val_samples": (1, False, None), "max_sigma": (0, False, None), "outlier_fraction": (0, False, 1),
    "outlier_sigma": (0, False, None), "confidence_base": (0, False, 1), "confidence_slope": (0, False, None),
    "confidence_jitter": (0, False, 1), "outlier_confidence": (0, False, 1), "garment_patterns": (0, False, 1),
    "bare_tops": (0, False, 1), "backlight": (0, False, 1), "desaturate": (0, False, 1),
    "background_confidence": (0, False, None),
}


def describe(hint: Any, name: str) -> str:
    """What setting ``name`` of type ``hint`` takes, in words (for messages and ``--help``)."""
    low, low_open, high = RANGES.get(name, (None, False, None))
    bounds = ""
    if low is not None:
        bounds = f" {'>' if low_open else '>='} {low:g}" + (f" and <= {high:g}" if high is not None else "")
    args = typing.get_args(hint)
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return " or ".join(describe(a, name) if a is not type(None) else "none" for a in args)
    if typing.get_origin(hint) is tuple:
        size = "" if len(args) == 2 and args[1] is Ellipsis else f"{len(args)} "
        return f"a tuple of {size}{describe(args[0], '')}s{bounds}"
    return {int: "whole number", float: "finite number", bool: "true/false", str: "text"}[hint] + bounds


def _checked(value: Any, hint: Any, name: str, where: str) -> Any:
    """``value`` as setting ``name`` of type ``hint``, or ValueError naming the setting and what it takes."""
    def bad() -> ValueError:
        article = "" if typing.get_origin(hint) in (tuple, typing.Union, types.UnionType) else "a "
        return ValueError(f"setting {where}{name} takes {article}{describe(hint, name)}, got {value!r}")

    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        if value is None and type(None) in typing.get_args(hint):
            return None
        (inner,) = [a for a in typing.get_args(hint) if a is not type(None)]
        try:
            return _checked(value, inner, name, where)
        except ValueError:
            raise bad() from None
    if typing.get_origin(hint) is tuple:
        args = typing.get_args(hint)
        items = tuple(value) if isinstance(value, (list, tuple)) else (value,)
        fixed = not (len(args) == 2 and args[1] is Ellipsis)
        if not items or (fixed and len(items) != len(args)):
            raise bad()
        try:
            return tuple(_checked(v, args[0], name, where) for v in items)
        except ValueError:
            raise bad() from None
    if hint is bool or hint is str:
        if not isinstance(value, hint):
            raise bad()
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise bad()
    if hint is int:
        if value != int(value):
            raise bad()
        value = int(value)
    else:
        value = float(value)
    low, low_open, high = RANGES.get(name, (None, False, None))
    if low is not None and (value < low or (low_open and value == low)) or high is not None and value > high:
        raise bad()
    return value


def _updated(default: Any, data: dict[str, Any], where: str) -> Any:
    """A copy of dataclass instance ``default`` with the settings in the nested dict ``data``."""
    known = {f.name for f in fields(default)}
    hints = typing.get_type_hints(type(default))
    changes = {}
    for key, value in data.items():
        if key not in known:
            raise ValueError(f"unknown setting {where}{key!r}; known: {', '.join(sorted(known))}")
        current = getattr(default, key)
        if is_dataclass(current):
            if not isinstance(value, dict):
                raise ValueError(f"setting {where}{key} must be a table of settings")
            changes[key] = _updated(current, value, f"{where}{key}.")
        else:
            changes[key] = _checked(value, hints[key], key, where)
    return dataclasses.replace(default, **changes)


def settings(default: Any = None, where: str = "") -> list[tuple[str, Any, str]]:
    """Every setting as (dotted name, default, what it takes), from the dataclasses themselves."""
    default = TrainConfig() if default is None else default
    hints = typing.get_type_hints(type(default))
    rows = []
    for f in fields(default):
        value = getattr(default, f.name)
        if is_dataclass(value):
            rows += settings(value, f"{where}{f.name}.")
        else:
            rows.append((f"{where}{f.name}", value, describe(hints[f.name], f.name)))
    return rows


def config_to_dict(config: TrainConfig) -> dict[str, Any]:
    return asdict(config)


def config_from_dict(data: dict[str, Any]) -> TrainConfig:
    cnn = data.get("cnn")
    if isinstance(cnn, dict) and "input_size" in cnn:
        # Before the input contract the input size was cnn.input_size (checkpoints of that time).
        cnn = dict(cnn)
        data = {**data, "cnn": cnn, "input": {"input_size": cnn.pop("input_size"), **data.get("input", {})}}
    try:
        return _updated(TrainConfig(), data, "")
    except ValueError as e:
        if str(e).startswith("input contract"):
            raise ValueError(f"setting input: {e}") from None
        raise


def _set(data: dict[str, Any], dotted: str, value: Any) -> None:
    keys = dotted.split(".")
    for k in keys[:-1]:
        data = data.setdefault(k, {})
    data[keys[-1]] = value


def _parse_value(text: str) -> Any:
    """Python/TOML-ish literals (numbers, true/false, none, tuples, lists); anything else a string."""
    lowered = {"true": True, "false": False, "none": None, "null": None}
    if text.lower() in lowered:
        return lowered[text.lower()]
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def load_config(path: str | Path | None = None, overrides: list[str] | tuple[str, ...] = ()) -> TrainConfig:
    """Defaults, then the TOML file at ``path``, then ``key.sub=value`` overrides."""
    data: dict[str, Any] = {}
    if path is not None:
        path = Path(path)
        try:
            data = tomllib.loads(path.read_text())
        except (OSError, tomllib.TOMLDecodeError) as e:
            raise ValueError(f"{path}: cannot read the config ({e})") from None
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"override {item!r} is not key=value")
        _set(data, key.strip(), _parse_value(value.strip()))
    return config_from_dict(data)

