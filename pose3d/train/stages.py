"""The four training stages of the method and its baseline, on the embedded synthetic data or on a
prepared Human3.6M set (``TrainConfig.data``: "synthetic" or the folder made by ``pose3d-prepare``).

(a) ``prior``: the denoising autoencoder on pose-bank poses seen from random cameras;
(b) ``latent``: the CNN regresses the prior's latent code of each training pose;
(c) ``finetune``: the CNN and the prior's decoder, stacked, trained end to end on the 3D pose;
``direct``: the same CNN regressing the pose directly, with the budget of (b) and (c) together;
``heatmap``: the 2D-evidence model (``pose3d.models.heatmap``): joint heatmaps decoded by soft-argmax
(L1 on the 2D joints), lifted to the 3D pose (squared error), trained end to end;
``person``: a person-vs-background head on the frozen result (``pose3d.train.person``).
Every image stage also trains the small 2D-joint head (``loss_2d_weight``).

On Human3.6M the image stages read stored crops of the training subjects (a random sub-crop each,
rows and offsets fixed by (seed, step)), validation uses fixed crops of the test subjects, and the
prior learns the training subjects' camera-frame poses; a 3D-only set trains the prior alone.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from pose3d.data.h36m.dataset import PreparedH36M
from pose3d.data.h36m.names import ACTIONS
from pose3d.data.h36m.store import PreparedSetError
from pose3d.data.posebank import SPLITS, load_posebank
from pose3d.data.synthetic import SynthConfig, SyntheticPoses
from pose3d.evaluate import evaluate, summary_line
from pose3d.metrics import mpjpe
from pose3d.models.cnn import crop_to_unit
from pose3d.models.codec import ImageCodec, PoseCodec
from pose3d.models.heatmap import HeatmapPoseNet
from pose3d.models.prior import PoseAutoencoder
from pose3d.models.stack import DirectPoseNet, StructuredPoseNet
from pose3d.rotations import yaw_to_rotmat
from pose3d.skeleton import to_root_relative
from pose3d.synth.cameras import sample_cameras
from pose3d.synth.draws import Draws
from pose3d.train.checkpoint import load_model, read_checkpoint
from pose3d.train.config import STAGES, TrainConfig, config_to_dict
from pose3d.train.loop import Processes, Stage, step_seed, train_stage
from pose3d.train.detector import detector_stage
from pose3d.train.person import person_stage

POSE = PoseCodec()


def cpu_has_fast_bf16() -> bool:
    """True where the CPU has bf16 matrix instructions (AMX or AVX512-BF16); elsewhere bf16 autocast
    was measured slower than fp32 (this project's 2-core Xeon: 22 vs 36 images/s)."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "amx_bf16" in flags or "avx512_bf16" in flags


class Context:
    """What the stages of one run share: config, processes, data, device settings."""

    def __init__(self, config: TrainConfig, procs: Processes) -> None:
        self.config = config
        self.procs = procs
        self.out_dir = Path(config.out_dir)
        self.bf16 = cpu_has_fast_bf16() if config.bf16 is None else config.bf16
        self._train_data: SyntheticPoses | None = None
        self._val: dict[str, np.ndarray] | None = None
        self._bank = None
        self.h36m = None if config.data == "synthetic" else PreparedH36M(config.data)
        self.contract = config.input
        self.image_codec = ImageCodec.of(self.contract)
        self.input_size = self.contract.input_size
        if self.h36m is not None and self.h36m.crop_size != self.contract.crop_size:
            raise PreparedSetError(f"{self.h36m.path} holds {self.h36m.crop_size} px crops; the model's input contract "
                                   f"takes {self.contract.crop_size} (setting input.crop_size)")

    @property
    def activity_names(self) -> tuple[str, ...]:
        return ACTIONS if self.h36m is not None else self.bank.activity_names

    def h36m_rows(self, role: str) -> np.ndarray:
        rows = self.h36m.rows(role)
        if len(rows) == 0:
            raise PreparedSetError(f"{self.h36m.path} has no {role} samples ({self.h36m.split.describe()})")
        return rows

    @property
    def bank(self):
        if self._bank is None:
            self._bank = load_posebank()
        return self._bank

    @property
    def train_data(self) -> SyntheticPoses:
        if self._train_data is None:
            self._train_data = SyntheticPoses(SynthConfig(split="train", seed=self.config.seed, crop=self.contract.crop_spec(),
                bodies=self.config.bodies,
                background_dir=self.config.backgrounds, texture_dir=self.config.textures), bank=self.bank)
        return self._train_data

    def val_samples(self) -> dict[str, np.ndarray]:
        """The fixed validation crops, rendered once."""
        if self._val is None and self.h36m is not None:
            rows = self.h36m_rows("test")
            rows = rows[np.linspace(0, len(rows) - 1, min(self.config.val_samples, len(rows))).astype(np.int64)]
            self._val = self.h36m.samples(rows, self.input_size)
        if self._val is None:
            self._val = self.val_dataset().render_all()
        return self._val

    def val_dataset(self) -> SyntheticPoses:
        """The synthetic validation split (its first ``val_samples`` crops are the fixed validation set)."""
        return SyntheticPoses(SynthConfig(split="val", seed=self.config.seed, length=self.config.val_samples,
                                          crop=self.contract.crop_spec(),
                                          bodies=self.config.bodies),
                              bank=self.bank)

    def images(self, step: int, batch_size: int, offset: int, size: int) -> dict[str, torch.Tensor]:
        """This process's part of step ``step``'s global batch of training crops, as tensors."""
        if self.h36m is not None:
            batch = self.h36m_batch(step, batch_size, offset, size)
        else:
            first = step * batch_size + offset
            batch = self.train_data.render_batch(range(first, first + size))
        x = self.image_codec.encode(torch.from_numpy(batch["image"]))
        if self.config.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return {
            "x": x,
            "pose": POSE.encode(torch.from_numpy(batch["pose_rel"])),
            "joints": crop_to_unit(torch.from_numpy(batch["joints_2d"]), self.input_size),
        }

    def h36m_batch(self, step: int, batch_size: int, offset: int, size: int) -> dict[str, np.ndarray]:
        """Step ``step``'s global batch of Human3.6M training crops (rows and sub-crops fixed by the
        seed and the step), this process's part of it."""
        rows = self.h36m_rows("train")
        rng = np.random.default_rng([self.config.seed, 5, step])
        pick = rows[rng.integers(len(rows), size=batch_size)][offset : offset + size]
        offsets = self.h36m.random_offsets(rng, batch_size, self.input_size)[offset : offset + size]
        return self.h36m.samples(pick, self.input_size, offsets)

    def autocast(self):
        return torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.bf16)

    def prepare(self, model: nn.Module) -> nn.Module:
        return model.to(memory_format=torch.channels_last) if self.config.channels_last else model


# -- (a) the pose prior ---------------------------------------------------------------------------


def prior_poses(ctx: Context, split: str, step: int, count: int) -> torch.Tensor:
    """(count, 51) root-relative pose vectors of a split, each seen from a random camera; fixed by
    (seed, split, step). On Human3.6M: the train (for validation: test) subjects' poses as their
    cameras saw them."""
    rng = np.random.default_rng([ctx.config.seed, SPLITS.index(split), step])
    if ctx.h36m is not None:
        rows = ctx.h36m_rows("train" if split == "train" else "test")
        pose_rel = to_root_relative(ctx.h36m.pose_cam[rows[rng.integers(len(rows), size=count)]])
        return POSE.encode(torch.from_numpy(pose_rel).float())
    bank = ctx.bank.select(split=split)
    k = rng.integers(len(bank), size=count)
    yaw = rng.uniform(0, 2 * np.pi, size=count)
    world = np.einsum("bij,bkj->bki", yaw_to_rotmat(yaw), bank.poses[k].astype(np.float64))
    world[..., 2] += bank.root_world[k, 2:3]
    cams = sample_cameras(Draws.from_rng(rng, count), world[:, 0])
    pose_cam = to_root_relative(cams.world_to_camera(world))
    return POSE.encode(torch.from_numpy(pose_cam).float())


def prior_stage(ctx: Context) -> Stage:
    cfg = ctx.config
    model = PoseAutoencoder(cfg.prior)
    batch = cfg.prior_stage.batch_size
    noise = cfg.prior.noise_mm / POSE.scale_mm
    val_clean = prior_poses(ctx, "val", 0, 2000)
    val_noisy = val_clean + noise * torch.randn(val_clean.shape, generator=torch.Generator().manual_seed(cfg.seed))

    def loss(m: nn.Module, step: int, offset: int, size: int) -> tuple[torch.Tensor, dict[str, float]]:
        # The whole global batch and its noise are fixed by the step, whatever the number of processes.
        clean = prior_poses(ctx, "train", step, batch)
        gen = torch.Generator().manual_seed(step_seed(cfg.seed, "prior-noise", step))
        noisy = (clean + noise * torch.randn(clean.shape, generator=gen))[offset : offset + size]
        clean = clean[offset : offset + size]
        value = F.mse_loss(m(noisy), clean)
        if cfg.prior.contractive > 0:
            value = value + cfg.prior.contractive * model.contractive_penalty(noisy)
        return value, {}

    @torch.no_grad()
    def validate(m: nn.Module) -> dict[str, float]:
        m.eval()
        err = lambda a, b: float(mpjpe(POSE.decode(a), POSE.decode(b)).mean())  # noqa: E731
        noisy_err = err(val_noisy, val_clean)
        denoised_err = err(m(val_noisy), val_clean)
        return {"reconstruction_mm": err(m(val_clean), val_clean), "noisy_input_mm": noisy_err,
                "denoised_mm": denoised_err, "denoising_gain": 1.0 - denoised_err / noisy_err}

    return Stage("prior", "prior", model, list(model.parameters()), loss, validate)


# -- (b), (c) and the baseline: the image stages --------------------------------------------------


def image_stage(ctx: Context, name: str, kind: str, model: nn.Module, parameters: Sequence[nn.Parameter],
                target: Callable[[dict[str, torch.Tensor]], torch.Tensor], output: int) -> Stage:
    """An image stage: output ``output`` of the model (0 pose, 2 code) regresses ``target(batch)``."""
    cfg = ctx.config
    stage_cfg = cfg.stage(name)
    model = ctx.prepare(model)
    if ctx.h36m is not None and not ctx.h36m.has_images:
        raise PreparedSetError(f"{ctx.h36m.path} holds 3D poses only: it trains the prior (--stage prior), not stage {name!r}")

    def loss(m: nn.Module, step: int, offset: int, size: int) -> tuple[torch.Tensor, dict[str, float]]:
        batch = ctx.images(step, stage_cfg.batch_size, offset, size)
        with ctx.autocast():
            outputs = m(batch["x"])
        main = F.mse_loss(outputs[output].float(), target(batch))
        loss_2d = F.mse_loss(outputs[1].float(), batch["joints"])
        with torch.no_grad():
            err = float(mpjpe(POSE.decode(outputs[0].float()), POSE.decode(batch["pose"])).mean())
        return main + cfg.loss_2d_weight * loss_2d, {"main": main.item(), "loss_2d": loss_2d.item(), "train_mpjpe_mm": err}

    def validate(m: nn.Module) -> dict[str, float]:
        result = evaluate(m, ctx.val_samples(), ctx.activity_names, image_codec=ctx.image_codec)
        return summary_line(result.table)

    return Stage(name, kind, model, list(parameters), loss, validate)


def latent_stage(ctx: Context) -> Stage:
    prior, _, _ = load_model(ctx.out_dir / "prior.pt")
    model = StructuredPoseNet(prior, ctx.config.cnn, ctx.input_size)
    for p in model.decoder.parameters():
        p.requires_grad_(False)

    @torch.no_grad()
    def code(batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return model.decoder.encode(batch["pose"])

    return image_stage(ctx, "latent", "structured", model, model.cnn.parameters(), code, output=2)


def finetune_stage(ctx: Context) -> Stage:
    model, _, _ = load_model(ctx.out_dir / "latent.pt")
    model.train()
    # The whole stack learns the pose; the prior's encoder takes no part in it.
    for n, p in model.named_parameters():
        p.requires_grad_(not n.startswith("decoder.encoder"))
    params = [p for p in model.parameters() if p.requires_grad]
    return image_stage(ctx, "finetune", "structured", model, params, lambda b: b["pose"], output=0)


def direct_stage(ctx: Context) -> Stage:
    model = DirectPoseNet(ctx.config.prior.input_dim, ctx.config.cnn, ctx.input_size)
    return image_stage(ctx, "direct", "direct", model, model.parameters(), lambda b: b["pose"], output=0)


def heatmap_stage(ctx: Context) -> Stage:
    cfg = ctx.config
    stage_cfg = cfg.heatmap_stage
    model = ctx.prepare(HeatmapPoseNet(cfg.prior.input_dim, cfg.heatmap))
    if ctx.h36m is not None and not ctx.h36m.has_images:
        raise PreparedSetError(f"{ctx.h36m.path} holds 3D poses only: it trains the prior (--stage prior), not stage 'heatmap'")

    def loss(m: nn.Module, step: int, offset: int, size: int) -> tuple[torch.Tensor, dict[str, float]]:
        batch = ctx.images(step, stage_cfg.batch_size, offset, size)
        with ctx.autocast():
            out = m.forward_all(batch["x"])
        loss_2d = F.l1_loss(out["joints_2d"].float(), batch["joints"])
        loss_3d = F.mse_loss(out["pose"].float(), batch["pose"])
        with torch.no_grad():
            err = float(mpjpe(POSE.decode(out["pose"].float()), POSE.decode(batch["pose"])).mean())
            err_px = float((out["joints_2d"].float() - batch["joints"]).norm(dim=-1).mean()) * ctx.input_size / 2
        return loss_2d + loss_3d, {"loss_2d": loss_2d.item(), "loss_3d": loss_3d.item(), "train_mpjpe_mm": err,
                                   "train_2d_px": err_px}

    def validate(m: nn.Module) -> dict[str, float]:
        return summary_line(evaluate(m, ctx.val_samples(), ctx.activity_names, image_codec=ctx.image_codec).table)

    return Stage("heatmap", "heatmap", model, list(model.parameters()), loss, validate)


def read_step(path: Path) -> int:
    return int(read_checkpoint(path)["step"]) if path.exists() else 0


BUILDERS = {"prior": prior_stage, "latent": latent_stage, "finetune": finetune_stage, "direct": direct_stage,
            "heatmap": heatmap_stage, "person": person_stage, "detector": detector_stage}
NEEDS = {"latent": "prior", "finetune": "latent"}


def run(
    config: TrainConfig, stages: Sequence[str], progress: bool = True, max_steps: int | None = None
) -> dict[str, dict[str, float]]:
    """Train ``stages`` in order (each resumes or skips if its checkpoint is there); with
    ``max_steps``, each stage stops after that many steps of this call (run again to go on).
    Returns each stage's last validation metrics."""
    for name in stages:
        if name not in STAGES:
            raise ValueError(f"unknown stage {name!r}; choose from {STAGES}")
    procs = Processes.from_env()
    ctx = Context(config, procs)
    results: dict[str, Any] = {}
    for name in stages:
        need = NEEDS.get(name)
        if need and not (ctx.out_dir / f"{need}.pt").exists():
            raise FileNotFoundError(f"stage {name!r} needs {ctx.out_dir / (need + '.pt')}: train stage {need!r} first")
        torch.manual_seed(step_seed(config.seed, name, -1))  # the initial weights, fixed by the seed
        stage = BUILDERS[name](ctx)
        results[name] = train_stage(stage, config.stage(name), ctx.out_dir, config_to_dict(config), config.seed, procs,
                                    progress, max_steps)
        if max_steps is not None and read_step(ctx.out_dir / f"{name}.pt") < config.stage(name).steps:
            break  # the next stage needs this one finished
    return results
