"""A run folder trained with another architecture is refused before anything in it is written.

Each checkpoint carries its whole training config. Before a run, every checkpoint it would resume
(the stage's own) or build on (``StageSpec.needs``: latent on prior, finetune on latent, person on
finetune or direct; ``StageSpec.starts_from``: heatmap's lifter from lifter.pt) is compared with the new config on the settings its model is built from
(``pose3d.train.checkpoint.ARCHITECTURE``: the architecture and the input contract). Any difference
is refused with ``RunFolderError``, naming the file and each setting with both values; config.json
and the checkpoints are left as they are.

Everything else may change between runs of one folder: steps (to train further), learning rates,
batch sizes, validation and checkpoint intervals, loss weights, dropout, the seed and the data. A
resume under a changed seed, batch size or data goes on from the checkpoint but no longer repeats
what an uninterrupted run would have done.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from pose3d.train.checkpoint import ARCHITECTURE, read_checkpoint
from pose3d.train.config import TrainConfig, config_from_dict, config_to_dict
from pose3d.train.names import REGISTRY


class RunFolderError(ValueError):
    """The run folder holds checkpoints of another architecture; the message names file and settings."""


def flat(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """A nested settings dict as {dotted name: value}."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            out |= flat(value, f"{prefix}{key}.")
        else:
            out[f"{prefix}{key}"] = tuple(value) if isinstance(value, list) else value
    return out


def _covered(name: str, settings: tuple[str, ...]) -> bool:
    return any(name == s or name.startswith(s + ".") for s in settings)


def architecture_differences(theirs: TrainConfig, ours: TrainConfig, kind: str) -> list[tuple[str, Any, Any]]:
    """(setting, theirs, ours) for each setting a ``kind`` model is built from that differs."""
    a, b = flat(config_to_dict(theirs)), flat(config_to_dict(ours))
    return [(k, a[k], b[k]) for k in b if _covered(k, ARCHITECTURE[kind]) and a.get(k) != b[k]]


def checkpoints_used(out_dir: Path, stages: Sequence[str]) -> list[Path]:
    """The existing checkpoints that training ``stages`` in ``out_dir`` would resume or build on."""
    paths: list[Path] = []
    for name in stages:
        spec = REGISTRY[name]
        found = [out_dir / f"{n}.pt" for n in spec.needs if (out_dir / f"{n}.pt").exists()]
        own = out_dir / f"{name}.pt"
        # A stage that starts afresh also reads the optional checkpoints it starts from (heatmap: lifter.pt).
        starts = [] if own.exists() else [out_dir / f"{n}.pt" for n in spec.starts_from]
        for path in [own, *found[:1], *starts]:
            if path.exists() and path not in paths:
                paths.append(path)
    return paths


def check_run_folder(config: TrainConfig, stages: Sequence[str]) -> None:
    """RunFolderError when a checkpoint that ``stages`` would resume or build on was trained with
    another architecture or input contract than ``config``."""
    for path in checkpoints_used(Path(config.out_dir), stages):
        check_checkpoint(path, read_checkpoint(path, mmap=True), config)


def check_checkpoint(path: Path, ckpt: dict[str, Any], config: TrainConfig) -> None:
    """RunFolderError when checkpoint ``ckpt`` (read from ``path``) was trained with another
    architecture or input contract than ``config``."""
    try:
        theirs = config_from_dict(ckpt["config"])
    except (KeyError, TypeError, ValueError) as e:
        raise RunFolderError(f"{path}: a damaged pose3d checkpoint (its config: {e})") from None
    diffs = architecture_differences(theirs, config, ckpt["kind"])
    if diffs:
        was = ", ".join(f"{k}={old!r}" for k, old, _ in diffs)
        now = ", ".join(f"{k}={new!r}" for k, _, new in diffs)
        raise RunFolderError(
            f"{path} was trained with {was}; this run asks for {now}. A checkpoint is resumed or built on "
            f"only with the architecture and input contract it was trained with: use another folder "
            f"(--out) or the same settings. Nothing was written.")
