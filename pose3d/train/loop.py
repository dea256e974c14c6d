"""The training loop every stage shares: optimiser and schedule, exact resume, atomic checkpoints,
progress bar and log, optional data parallelism under ``torchrun``.

Determinism: the samples of step ``s`` are fixed by (seed, s) and the dropout/noise generator is
reseeded from (seed, stage, s, rank) before every step, so a run interrupted at any checkpoint and
resumed produces the same weights as one that never stopped.

A stage whose loss stops being finite stops with ``TrainingError`` (its last checkpoint is kept);
a resumed stage first drops the log rows written after the checkpoint it resumes from, so a kill
and a resume leave no repeated rows.

Data parallelism: under ``torchrun`` (WORLD_SIZE > 1) each process takes its slice of every global
batch and gradients are averaged (gloo on CPU, nccl on GPUs); rank 0 alone writes checkpoints and logs.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch
import torch.distributed as dist
from torch import nn

from pose3d.train.checkpoint import read_checkpoint, save_checkpoint
from pose3d.train.config import StageConfig
from pose3d.viz.training import plot_log


class TrainingError(RuntimeError):
    """Training cannot go on (the loss is no longer finite); the message says what to change."""


@dataclass(frozen=True)
class Processes:
    rank: int = 0
    world: int = 1

    @property
    def main(self) -> bool:
        return self.rank == 0

    @classmethod
    def from_env(cls) -> "Processes":
        """Join the process group when started by torchrun (WORLD_SIZE > 1)."""
        world = int(os.environ.get("WORLD_SIZE", "1"))
        if world == 1:
            return cls()
        if not dist.is_initialized():
            dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
        return cls(dist.get_rank(), dist.get_world_size())

    def slice(self, global_batch: int) -> tuple[int, int]:
        """(offset, size) of this process's part of a global batch."""
        if global_batch % self.world:
            raise ValueError(f"batch size {global_batch} does not split over {self.world} processes")
        part = global_batch // self.world
        return self.rank * part, part


def step_seed(seed: int, stage: str, step: int, rank: int = 0) -> int:
    """A stable seed for one step of one stage in one process (Python's hash() is salted per run)."""
    digest = hashlib.sha256(f"{seed}/{stage}/{step}/{rank}".encode()).digest()
    return int.from_bytes(digest[:8], "little") % 2**63


def learning_rate(cfg: StageConfig, step: int) -> float:
    """Cosine decay from cfg.lr to cfg.lr * cfg.final_lr_fraction."""
    progress = step / max(cfg.steps - 1, 1)
    floor = cfg.lr * cfg.final_lr_fraction
    return floor + 0.5 * (cfg.lr - floor) * (1.0 + math.cos(math.pi * progress))


class Log:
    """JSON Lines log (rank 0 only) and a plot of it."""

    def __init__(self, path: Path, enabled: bool) -> None:
        self.path, self.enabled = path, enabled

    def write(self, record: dict[str, Any]) -> None:
        if self.enabled:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a") as fh:
                fh.write(json.dumps(record) + "\n")

    def drop_after(self, stage: str, step: int) -> None:
        """Forget ``stage``'s rows after ``step``: an interrupted run wrote them, and a run resumed
        from the checkpoint at ``step`` writes them again."""
        if not self.enabled or not self.path.exists():
            return
        lines = self.path.read_text().splitlines(keepends=True)
        kept = [line for line in lines if not _after(line, stage, step)]
        if len(kept) != len(lines):
            tmp = self.path.with_name(self.path.name + ".tmp")
            tmp.write_text("".join(kept))
            os.replace(tmp, self.path)

    def records(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_text().splitlines() if line.strip()]


def _after(line: str, stage: str, step: int) -> bool:
    try:
        record = json.loads(line)
    except ValueError:
        return True  # a line cut short by the kill
    return isinstance(record, dict) and record.get("stage") == stage and record.get("step", 0) > step


@dataclass
class Stage:
    """What a stage trains: ``loss(model, step, offset, size)`` returns (loss, scalars to log) for
    this process's part of step ``step``'s global batch; ``validate(model)`` returns metrics."""

    name: str
    kind: str  # checkpoint kind: "prior", "structured" or "direct"
    model: nn.Module
    parameters: list[nn.Parameter]
    loss: Callable[[nn.Module, int, int, int], tuple[torch.Tensor, dict[str, float]]]
    validate: Callable[[nn.Module], dict[str, float]]


def init_from(model: nn.Module, path: Path) -> tuple[int, list[str]]:
    """Copy into ``model`` every tensor of the checkpoint at ``path`` whose name and shape match
    (weights and batch-norm statistics). Returns how many were copied and the names left as
    initialised; ValueError naming the file when it is not a checkpoint or nothing matches."""
    if not path.is_file():
        raise ValueError(f"init_from: no checkpoint at {path}")
    theirs = read_checkpoint(path)["model"]
    ours = model.state_dict()
    same = {k: v for k, v in theirs.items() if k in ours and tuple(v.shape) == tuple(ours[k].shape)}
    if not same:
        raise ValueError(f"init_from: {path} has no tensor of this stage's model (names and shapes differ)")
    model.load_state_dict({**ours, **same})
    return len(same), sorted(k for k in ours if k not in same)


def train_stage(
    stage: Stage, cfg: StageConfig, out_dir: Path, config_dict: dict[str, Any], seed: int,
    procs: Processes = Processes(), progress: bool = True, max_steps: int | None = None,
) -> dict[str, float]:
    """Train ``stage`` for cfg.steps steps, resuming from out_dir/<name>.pt if it is there; with
    ``max_steps``, stop (and checkpoint) after that many steps of this call. Returns the last
    validation metrics."""
    path = out_dir / f"{stage.name}.pt"
    log = Log(out_dir / "log.jsonl", procs.main)
    opt = torch.optim.AdamW(stage.parameters, lr=cfg.lr, weight_decay=cfg.weight_decay)
    start, metrics = 0, {}
    if path.exists():
        ckpt = read_checkpoint(path)
        stage.model.load_state_dict(ckpt["model"])
        opt.load_state_dict(ckpt["optimizer"])
        start, metrics = int(ckpt["step"]), dict(ckpt.get("metrics", {}))
    elif cfg.init_from:
        copied, fresh = init_from(stage.model, Path(cfg.init_from))
        log.write({"stage": stage.name, "step": 0, "init_from": cfg.init_from, "copied": copied, "fresh": fresh})
    if start >= cfg.steps:
        return metrics
    log.drop_after(stage.name, start)
    model = stage.model
    if procs.world > 1:
        model = nn.parallel.DistributedDataParallel(stage.model)
    offset, size = procs.slice(cfg.batch_size)

    def checkpoint(step: int) -> None:
        if procs.main:
            save_checkpoint(path, {
                "kind": stage.kind, "stage": stage.name, "step": step, "config": config_dict,
                "model": stage.model.state_dict(), "optimizer": opt.state_dict(), "metrics": metrics,
            })

    bar = None
    if progress and procs.main:
        from tqdm import tqdm

        bar = tqdm(total=cfg.steps, initial=start, desc=stage.name, unit="step", mininterval=2.0)
    stage.model.train()
    t0 = time.perf_counter()
    stop = cfg.steps if max_steps is None else min(cfg.steps, start + max_steps)
    for step in range(start, stop):
        torch.manual_seed(step_seed(seed, stage.name, step, procs.rank))
        for group in opt.param_groups:
            group["lr"] = learning_rate(cfg, step)
        loss, scalars = stage.loss(model, step, offset, size)
        if not torch.isfinite(loss.detach()).all():
            kept = f"{path} from before it is kept" if path.exists() else "no checkpoint was written"
            raise TrainingError(
                f"stage {stage.name}: the loss became {loss.item()} at step {step + 1}; stopped ({kept}). "
                f"Lower {stage.name}_stage.lr (now {cfg.lr:g}) and run again.")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        done = step + 1
        if bar is not None:
            bar.update(1)
            bar.set_postfix(loss=f"{loss.item():.4g}")
        if done % max(cfg.val_every // 10, 1) == 0 or done == cfg.steps:
            log.write({"stage": stage.name, "step": done, "loss": loss.item(), "lr": learning_rate(cfg, step),
                       "seconds": round(time.perf_counter() - t0, 2), **scalars})
        if done % cfg.val_every == 0 or done == cfg.steps:
            if procs.main:
                metrics = stage.validate(stage.model)
                stage.model.train()
                log.write({"stage": stage.name, "step": done, "val": metrics})
                plot_log(log.path, out_dir / "log.png")
                if bar is not None:
                    bar.write(f"{stage.name} step {done}: " + ", ".join(f"{k} {v:.4g}" for k, v in metrics.items()))
        if done % cfg.checkpoint_every == 0 or done in (cfg.steps, stop):
            checkpoint(done)
    if bar is not None:
        bar.close()
    if procs.world > 1:
        dist.barrier()
    return metrics
