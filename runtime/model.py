"""Load an exported pose3d ONNX model and run it with onnxruntime, on CUDA when it works, else the CPU.

Everything the runtime needs to feed the graph and read its outputs comes from the metadata inside
the file (``pose3d_export.onnx_export.metadata``): input size and normalisation, the crop geometry,
joint names and parents. ``default_model_path()`` is the model shipped inside the package.

Provider choice: onnxruntime-gpu lists the CUDA provider even where CUDA cannot load, and asking for
it there prints a long error. ``choose_providers`` asks for CUDA only where the NVIDIA driver loads;
``PoseModel`` then checks the session really got it (else it runs on the CPU, quietly) and says
which one it uses in ``provider``.
"""

from __future__ import annotations

import ctypes
import hashlib
import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from pose3d.contract import METADATA_KEY, InputContract
from pose3d.crop import CropSpec

DEVICES = ("auto", "cpu", "cuda")
CUDA = "CUDAExecutionProvider"
CPU = "CPUExecutionProvider"
DEFAULT_MODEL_NAME = "pose3d-default.onnx"


class ModelError(RuntimeError):
    """The model file is missing, unreadable or not a pose3d export."""


def default_model_path() -> Path:
    """The model shipped inside the package (trained on the embedded synthetic data)."""
    return Path(str(resources.files("pose3d_runtime") / "models" / DEFAULT_MODEL_NAME))


def _cuda_driver_loads() -> bool:
    """True where the NVIDIA driver library loads: on CPU-only machines (no driver) onnxruntime is
    then never asked for CUDA, so it prints nothing."""
    import onnxruntime as ort

    try:
        ctypes.CDLL("libcuda.so.1")
    except OSError:
        return False
    if hasattr(ort, "preload_dlls"):  # CUDA/cuDNN from the nvidia-* pip packages, where installed
        try:
            ort.preload_dlls(directory="")
        except Exception:  # noqa: BLE001 - best effort; the session check in PoseModel decides
            pass
    return True


def choose_providers(device: str = "auto") -> list[str]:
    """onnxruntime providers for ``device`` ('auto': CUDA where it can work, else CPU)."""
    import onnxruntime as ort

    if device not in DEVICES:
        raise ValueError(f"device must be one of {DEVICES}, got {device!r}")
    if device == "cpu":
        return [CPU]
    cuda_ok = CUDA in ort.get_available_providers() and _cuda_driver_loads()
    if device == "cuda" and not cuda_ok:
        raise ModelError("--device cuda: onnxruntime's CUDA provider cannot load here (no NVIDIA driver or "
                         "CUDA/cuDNN libraries); use --device cpu or auto")
    return [CUDA, CPU] if cuda_ok else [CPU]


@dataclass(frozen=True)
class ModelInfo:
    """What the runtime reads from a model's metadata. ``contract`` is the model's input contract
    (``pose3d.contract.InputContract``), parsed from the metadata the exporter wrote; models exported
    before it existed carry the same facts under the keys ``input`` and ``crop``."""

    contract: InputContract
    joint_names: tuple[str, ...]
    joint_parents: tuple[int, ...]
    model_id: str  # file name + the first 12 hex digits of its SHA-256
    metrics: dict[str, Any]
    version: str
    training_config: dict[str, Any]
    # "fp32", "fp16", or the int8 scheme (pose3d_export.quantize); files exported before the key: fp32.
    precision: str = "fp32"

    @property
    def input_size(self) -> int:
        return self.contract.input_size

    @property
    def mean(self) -> tuple[float, float, float]:
        return self.contract.mean

    @property
    def std(self) -> tuple[float, float, float]:
        return self.contract.std

    @property
    def crop(self) -> CropSpec:
        return self.contract.crop_spec()

    @classmethod
    def from_metadata(cls, meta: dict[str, str], path: Path) -> "ModelInfo":
        try:
            contract = _contract(meta, path)
            names = tuple(json.loads(meta["joint_names"]))
            parents = tuple(int(p) for p in json.loads(meta["joint_parents"]))
        except (KeyError, ValueError, TypeError) as e:
            raise ModelError(f"{path}: not a pose3d export (metadata {e} missing or malformed)") from None
        return cls(
            contract=contract,
            joint_names=names,
            joint_parents=parents,
            model_id=f"{path.name}:{sha256(path)[:12]}",
            metrics=json.loads(meta.get("metrics", "{}")),
            version=meta.get("pose3d_version", "?"),
            training_config=json.loads(meta.get("training_config", "{}")),
            precision=meta.get("precision", "fp32"),
        )


def _contract(meta: dict[str, str], path: Path) -> InputContract:
    if METADATA_KEY in meta:
        return InputContract.from_json(meta[METADATA_KEY], f"{path}: metadata {METADATA_KEY!r}")
    # An export from before the input contract: the same facts under "input" and "crop".
    spec = json.loads(meta["input"])
    crop = json.loads(meta.get("crop", "{}"))
    return InputContract(crop_size=int(crop.get("size", InputContract.crop_size)), input_size=int(spec["size"]),
                         margin=float(crop.get("margin", InputContract.margin)),
                         mean=tuple(float(v) for v in spec["mean"]), std=tuple(float(v) for v in spec["std"]))


def open_session(path: Path, device: str = "auto", threads: int | None = None):
    """An onnxruntime session for ``path`` on the provider ``choose_providers`` picks; ModelError
    when onnxruntime cannot load the file, or when ``device`` is "cuda" and CUDA did not take it."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    # onnxruntime's threads otherwise spin for a while after each run, holding the cores that the
    # numba crop kernels run on next.
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    if threads:
        opts.intra_op_num_threads = threads
    providers = choose_providers(device)
    if CUDA in providers:
        ort.set_default_logger_severity(3)  # a CUDA that fails to initialise: fall back quietly
    try:
        session = ort.InferenceSession(str(path), opts, providers=providers)
    except Exception as e:  # noqa: BLE001 - onnxruntime raises its own exception types
        raise ModelError(f"{path}: onnxruntime cannot load it: {str(e).strip().splitlines()[0]}") from None
    if device == "cuda" and session.get_providers()[0] != CUDA:
        raise ModelError(f"{path}: --device cuda: onnxruntime fell back to the CPU provider")
    return session


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def score_kind(outputs: list[str]) -> str | None:
    """What scores a model's poses, in words, from its output names (None: nothing)."""
    return "the person head's probability" if "person" in outputs else \
        "the mean joint confidence" if "confidence" in outputs else None


class PoseModel:
    """An exported model, ready to run on batches of normalised crops."""

    def __init__(self, path: str | Path | None = None, device: str = "auto", threads: int | None = None) -> None:
        self.path = Path(path) if path is not None else default_model_path()
        if not self.path.is_file():
            hint = "" if path is not None else " (the package was installed without its default model)"
            raise ModelError(f"model file not found: {self.path}{hint}")
        self.session = open_session(self.path, device, threads)
        self.provider = self.session.get_providers()[0]
        meta = dict(self.session.get_modelmeta().custom_metadata_map)
        self.info = ModelInfo.from_metadata(meta, self.path)
        self._input = self.session.get_inputs()[0].name
        self._outputs = [o.name for o in self.session.get_outputs()]
        if self._outputs[:2] != ["pose_mm", "joints_2d"]:
            raise ModelError(f"{self.path}: expected outputs pose_mm, joints_2d; found {self._outputs}")
        # The pose's score: the person head's probability, else the mean of the joints' heatmap
        # confidences (a 2D-evidence model), else none (the runtime falls back to pose3d_runtime.score).
        self.score_kind = score_kind(self._outputs)
        self.has_person = self.score_kind is not None

    def __call__(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """(B, 3, S, S) float32 normalised crops -> (B, J, 3) mm root-relative camera-frame joints,
        (B, J, 2) joints in crop pixels, and (B,) scores: the person head's probability, or the mean
        joint confidence of a 2D-evidence model (None for a model with neither)."""
        if x.shape[0] == 0:
            J = len(self.info.joint_names)
            return np.zeros((0, J, 3), np.float32), np.zeros((0, J, 2), np.float32), \
                (np.zeros(0, np.float32) if self.has_person else None)
        out = self.session.run(None, {self._input: np.ascontiguousarray(x, np.float32)})
        named = dict(zip(self._outputs, out))
        score = named.get("person")
        if score is None and "confidence" in named:
            score = named["confidence"].mean(axis=-1)
        return named["pose_mm"], named["joints_2d"], score

    def describe(self) -> str:
        precision = "" if self.info.precision == "fp32" else f" ({self.info.precision.split(' (')[0]})"
        return f"{self.info.model_id}{precision} on {self.provider.replace('ExecutionProvider', '')}"
