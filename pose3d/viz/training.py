"""A picture of a training log: the loss of every stage, and its validation metrics, against steps."""

from __future__ import annotations

import json
from pathlib import Path

from pose3d.viz.skeleton3d import _pyplot

# The validation number shown for each stage (image stages: MPJPE; the prior: its denoising).
VAL_KEYS = ("MPJPE", "denoised_mm", "reconstruction_mm")


def plot_log(log_path: str | Path, image_path: str | Path) -> Path:
    """Read a JSON Lines training log and save one column of plots per stage."""
    records = [json.loads(line) for line in Path(log_path).read_text().splitlines() if line.strip()]
    stages = list(dict.fromkeys(r["stage"] for r in records))
    plt = _pyplot()
    fig, axes = plt.subplots(2, max(len(stages), 1), figsize=(3.2 * max(len(stages), 1), 5), dpi=90, squeeze=False)
    for col, stage in enumerate(stages):
        train = [(r["step"], r["loss"]) for r in records if r["stage"] == stage and "loss" in r]
        val = [r for r in records if r["stage"] == stage and "val" in r]
        ax = axes[0, col]
        if train:
            ax.plot(*zip(*train), lw=1)
            ax.set_yscale("log")
        ax.set_title(f"{stage}: training loss", fontsize=9)
        ax = axes[1, col]
        for key in VAL_KEYS:
            points = [(r["step"], r["val"][key]) for r in val if key in r["val"]]
            if points:
                ax.plot(*zip(*points), marker="o", lw=1, label=key)
        ax.set_title(f"{stage}: validation (mm)", fontsize=9)
        ax.set_xlabel("step", fontsize=8)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
    fig.tight_layout()
    image_path = Path(image_path)
    fig.savefig(image_path)
    plt.close(fig)
    return image_path
