"""Run stages in order: the run's shared context, which stages a set trains, and the run folder.

``run(config, stages)`` checks the run folder (``pose3d.train.folder``: a folder trained with another
architecture is refused before anything is written), writes ``config.json``, then trains each stage
(``pose3d.train.loop``), which resumes or skips when its checkpoint is there.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Hashable, Sequence

import torch

from pose3d.train.config import TrainConfig, config_to_dict
from pose3d.train.checkpoint import read_checkpoint
from pose3d.train.data import TrainingData, training_data
from pose3d.train.device import Device
from pose3d.train.feed import Feed, fork_safe_numba
from pose3d.train.folder import check_run_folder
from pose3d.train.loop import Processes, step_seed, train_stage
from pose3d.train.names import REGISTRY, SETS, STAGES, StageSpec


@dataclass
class Context:
    """What the stages of one run share: config, processes, training data, device settings."""

    config: TrainConfig
    procs: Processes
    data: TrainingData
    device: Device
    feeds: dict[Hashable, Feed] = field(default_factory=dict)

    @property
    def out_dir(self) -> Path:
        return Path(self.config.out_dir)

    def checkpoint(self, stage: str) -> Path:
        return self.out_dir / f"{stage}.pt"

    def feed(self, key: Hashable, make: Callable[[int], Any]) -> Feed:
        """The feed of batches ``make(step)`` named ``key`` (one per kind of batch a stage reads),
        made ahead by ``config.workers`` processes (``pose3d.train.feed``)."""
        if key not in self.feeds:
            self.feeds[key] = Feed(make, self.config.workers, self.device.pin_memory)
        return self.feeds[key]

    def close_feeds(self) -> None:
        for feed in self.feeds.values():
            feed.close()
        self.feeds.clear()

    def built_on(self, spec: StageSpec) -> Path | None:
        """The checkpoint ``spec`` builds on (the first of its ``needs`` found), or None without needs.
        FileNotFoundError saying what to train first when there is none."""
        if not spec.needs:
            return None
        for need in spec.needs:
            if self.checkpoint(need).exists():
                return self.checkpoint(need)
        others = "".join(f" (or {n}.pt)" for n in spec.needs[1:])
        raise FileNotFoundError(f"stage {spec.name!r} needs {self.checkpoint(spec.needs[0])}{others}: "
                                f"train stage {spec.needs[0]!r} first")


def select(choice: str | Sequence[str], data: TrainingData) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The stages to train for ``choice`` (a stage, a set of ``SETS`` or a list of stages) and those a
    set leaves out because ``data`` cannot feed them. A stage named on its own is kept (and refused
    with the data's reason when it is built)."""
    names = SETS.get(choice, (choice,)) if isinstance(choice, str) else tuple(choice)
    for name in names:
        if name not in REGISTRY:
            raise ValueError(f"unknown stage {name!r}; choose from {STAGES}")
    if not (isinstance(choice, str) and choice in SETS):
        return names, ()
    kept = tuple(n for n in names if data.feeds(REGISTRY[n]))
    return kept, tuple(n for n in names if n not in kept)


def read_step(path: Path) -> int:
    return int(read_checkpoint(path)["step"]) if path.exists() else 0


def run(
    config: TrainConfig, stages: str | Sequence[str], progress: bool = True, max_steps: int | None = None,
    data: TrainingData | None = None,
) -> dict[str, dict[str, float]]:
    """Train ``stages`` (a stage, a set name, or a list of stages) in order (each resumes or skips if
    its checkpoint is there); with ``max_steps``, each stage stops after that many steps of this call
    (run again to go on). ``data``: the config's training data, when the caller has it already.
    Returns each stage's last validation metrics."""
    data = training_data(config) if data is None else data
    names, _ = select(stages, data)
    for name in names:
        data.require(REGISTRY[name])
    check_run_folder(config, names)
    if config.workers:
        fork_safe_numba()  # before anything renders in this process (pose3d.train.feed)
    procs = Processes.from_env()
    ctx = Context(config, procs, data, Device.of(config.bf16, config.channels_last, config.device))
    if procs.main:
        if progress:
            print(f"training on {ctx.device.describe()}, {config.workers or 'no'} data worker(s)", flush=True)
        ctx.out_dir.mkdir(parents=True, exist_ok=True)
        (ctx.out_dir / "config.json").write_text(json.dumps(config_to_dict(config), indent=1))
    results: dict[str, Any] = {}
    for name in names:
        spec = REGISTRY[name]
        ctx.built_on(spec)
        torch.manual_seed(step_seed(config.seed, name, -1))  # the initial weights, fixed by the seed
        stage = spec.build(ctx)
        try:
            results[name] = train_stage(stage, config.stage(name), ctx.out_dir, config_to_dict(config), config.seed,
                                        procs, progress, max_steps)
        finally:
            ctx.close_feeds()
        if max_steps is not None and read_step(ctx.checkpoint(name)) < config.stage(name).steps:
            break  # the next stage needs this one finished
    return results
