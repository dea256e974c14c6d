"""The ablation of the structured prior, measured on the synthetic test split.

    pose3d-train --stage ablation --out runs/ablation [--set ...]    # trains all four models
    python benchmarks/ablation.py runs/ablation [--samples 2000]    # this script: the table

Rows, all on the same rendered test crops: direct regression; CNN -> latent code -> the prior's
decoder before fine-tuning; the fine-tuned stack; the fine-tuned stack with flip test-time
augmentation. The direct baseline is trained for as many images as the latent and fine-tuning stages
together (equal budget). Writes benchmarks/results/ablation-<host>-<date>.json and .md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import socket
from dataclasses import asdict
from pathlib import Path

import numpy as np

from pose3d.data.synthetic import SynthConfig, SyntheticPoses
import torch

from pose3d.evaluate import evaluate, predict
from pose3d.metrics import evaluate as metric_values, summarize
from pose3d.models.codec import PoseCodec
from pose3d.train.checkpoint import load_model
from pose3d.train.config import TrainConfig, config_from_dict

RESULTS = Path(__file__).resolve().parent / "results"
POSE = PoseCodec()
ROWS = (
    ("direct regression (same CNN, 51 outputs)", "direct.pt", False),
    ("CNN -> latent -> decoder, before fine-tuning", "latent.pt", False),
    ("fine-tuned stack", "finetune.pt", False),
    ("fine-tuned stack + flip", "finetune.pt", True),
)


def overrides(config: TrainConfig) -> list[str]:
    """The --set arguments that turn the default config into ``config``."""
    out = []

    def walk(a: dict, b: dict, prefix: str) -> None:
        for k, v in a.items():
            if isinstance(v, dict):
                walk(v, b[k], f"{prefix}{k}.")
            elif v != b[k] and f"{prefix}{k}" != "out_dir":
                out.append(f"{prefix}{k}={tuple(v) if isinstance(v, list) else v}")

    walk(asdict(config), asdict(TrainConfig()), "")
    return out


def stage_seconds(run_dir: Path) -> dict[str, float]:
    seconds: dict[str, float] = {}
    for line in (run_dir / "log.jsonl").read_text().splitlines():
        r = json.loads(line)
        if "seconds" in r:
            seconds[r["stage"]] = max(seconds.get(r["stage"], 0.0), r["seconds"])
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--samples", type=int, default=2000)
    args = parser.parse_args()
    config = config_from_dict(json.loads((args.run_dir / "config.json").read_text()))
    ds = SyntheticPoses(SynthConfig(split="test", seed=config.seed, length=args.samples))
    data = ds.render_all()
    names = ds.bank.activity_names

    rows = []
    for label, file, flip in ROWS:
        model, _, info = load_model(args.run_dir / file)
        result = evaluate(model, data, names, flip=flip)
        rows.append({"model": label, "checkpoint": file, "flip": flip, "step": info["step"], **result.table.to_dict()})
    # Diagnostic: does the prior help as a post-hoc projection of the direct model's poses?
    prior, _, _ = load_model(args.run_dir / "prior.pt")
    direct, _, _ = load_model(args.run_dir / "direct.pt")
    pred, _ = predict(direct, data["image"])
    with torch.no_grad():
        projected = POSE.decode(prior(POSE.encode(torch.from_numpy(pred).float()))).numpy().astype(np.float64)
    projected -= projected[:, :1]
    values = metric_values(projected, data["pose_rel"].astype(np.float64))
    table = summarize(values, np.asarray(names)[data["activity"]], order=list(names), group_by="activity")
    rows.append({"model": "diagnostic: direct regression passed through the prior autoencoder", "checkpoint": "direct.pt + prior.pt",
                 "flip": False, "step": None, **table.to_dict()})
    base = rows[0]["mean_over_groups"]["MPJPE"]
    seconds = stage_seconds(args.run_dir)
    images = {s: config.stage(s).steps * config.stage(s).batch_size for s in ("latent", "finetune", "direct")}
    date = dt.date.today().isoformat()
    command = "pose3d-train --stage ablation --out " + str(args.run_dir) + "".join(f" --set {o}" for o in overrides(config))
    lines = [
        f"Ablation on {args.samples} synthetic test crops (held-out clips, seed {config.seed}), {date}, host {socket.gethostname()}.",
        f"Training: `{command}`",
        f"Evaluation: `python benchmarks/ablation.py {args.run_dir} --samples {args.samples}`",
        f"Budget: latent {images['latent']:,} + fine-tune {images['finetune']:,} images vs direct {images['direct']:,} images; "
        f"wall time (s) per stage: " + ", ".join(f"{k} {v:.0f}" for k, v in seconds.items()),
        "",
        "Mean over activities (mm; PCK3D and AUC in %); gain = MPJPE reduction against direct regression.",
        "",
        "| model | MPJPE | P-MPJPE | N-MPJPE | PCK3D@150 | AUC | gain |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        m = r["mean_over_groups"]
        lines.append(
            f"| {r['model']} | {m['MPJPE']:.1f} | {m['P-MPJPE']:.1f} | {m['N-MPJPE']:.1f} | {100 * m['PCK3D@150']:.1f} | "
            f"{100 * m['AUC']:.1f} | {100 * (1 - m['MPJPE'] / base):+.1f} % |"
        )
    lines += ["", "MPJPE per activity:", "", "| activity | " + " | ".join(r["model"] for r in rows) + " |",
              "|---|" + "---|" * len(rows)]
    for activity in rows[0]["rows"]:
        lines.append(f"| {activity} | " + " | ".join(f"{r['rows'][activity]['MPJPE']:.1f}" for r in rows) + " |")
    table = "\n".join(lines)
    print(table)
    RESULTS.mkdir(exist_ok=True)
    stem = RESULTS / f"ablation-{socket.gethostname()}-{date}"
    stem.with_suffix(".md").write_text(table + "\n")
    stem.with_suffix(".json").write_text(json.dumps({"command": command, "samples": args.samples, "seconds": seconds,
                                                     "images": images, "rows": rows}, indent=1))
    print(f"\nwrote {stem}.md and .json")


if __name__ == "__main__":
    main()
