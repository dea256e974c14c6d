"""A pose model's input contract: the one value that says what crop a model takes.

``InputContract`` holds everything a consumer needs to feed a trained network: how the person box is
cut (``crop_size``, the square the box is resized to; ``input_size``, the network's central sub-crop of
it; ``margin``, the box side being ``(1 + 2 * margin)`` times the joints' larger extent, see
``pose3d.crop.square_box``) and how pixels are normalised (``mean``, ``std``, RGB, NCHW).

It travels as a value, the way timm keeps ``pretrained_cfg`` with a model: the training config holds it
(``TrainConfig.input``), every checkpoint saves it inside that config, the exporter writes
``to_json()`` verbatim into the ONNX metadata (key ``METADATA_KEY``), and the runtime parses it back
with ``from_json`` into this same class. The synthetic and Human3.6M datasets, the exporter, the
runtime's crops, its detector boxes and ``--bbox`` all read their geometry from it
(``crop_spec()``). Torch-free: the runtime imports it.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from typing import Any

from pose3d.crop import CropSpec

METADATA_KEY = "input_contract"
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class InputContract:
    crop_size: int = 128  # the square image the person box is resized to
    input_size: int = 112  # the network's input: the central input_size sub-crop (random in training)
    margin: float = 0.2  # box side = (1 + 2 * margin) * the joints' larger extent
    mean: tuple[float, float, float] = IMAGENET_MEAN  # per RGB channel, after pixel / 255
    std: tuple[float, float, float] = IMAGENET_STD

    def __post_init__(self) -> None:
        if not 0 < self.input_size <= self.crop_size:
            raise ValueError(f"input contract: input_size must be in 1..crop_size ({self.crop_size}), got {self.input_size}")
        if not (math.isfinite(self.margin) and self.margin >= 0):
            raise ValueError(f"input contract: margin must be >= 0, got {self.margin}")
        if len(self.mean) != 3 or len(self.std) != 3 or not all(math.isfinite(s) and s > 0 for s in self.std):
            raise ValueError(f"input contract: mean and std take 3 numbers each, std > 0 (got {self.mean}, {self.std})")

    def crop_spec(self, jitter_scale: float | None = None, jitter_shift: float | None = None) -> CropSpec:
        """The crop geometry (``pose3d.crop``) this contract fixes; jitter is training's own choice."""
        default = CropSpec()
        return CropSpec(size=self.crop_size, input_size=self.input_size, margin=self.margin,
                        jitter_scale=default.jitter_scale if jitter_scale is None else jitter_scale,
                        jitter_shift=default.jitter_shift if jitter_shift is None else jitter_shift)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "mean": list(self.mean), "std": list(self.std), "layout": "NCHW", "colour": "RGB",
                "normalise": "(pixel / 255 - mean) / std"}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "input contract") -> "InputContract":
        """The contract in ``data`` (as written by ``to_dict``); ValueError naming ``where`` otherwise."""
        try:
            if data.get("layout", "NCHW") != "NCHW" or data.get("colour", "RGB") != "RGB":
                raise ValueError(f"layout {data.get('layout')!r} / colour {data.get('colour')!r} (this code reads NCHW RGB)")
            return cls(crop_size=int(data["crop_size"]), input_size=int(data["input_size"]), margin=float(data["margin"]),
                       mean=tuple(float(v) for v in data["mean"]), std=tuple(float(v) for v in data["std"]))
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            raise ValueError(f"{where}: not a valid input contract ({type(e).__name__}: {e})") from None

    @classmethod
    def from_json(cls, text: str, where: str = "input contract") -> "InputContract":
        try:
            data = json.loads(text)
        except (TypeError, ValueError) as e:
            raise ValueError(f"{where}: not a valid input contract (not JSON: {e})") from None
        if not isinstance(data, dict):
            raise ValueError(f"{where}: not a valid input contract (not a JSON object)")
        return cls.from_dict(data, where)
