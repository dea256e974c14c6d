"""The real-photo report: every predictor (the model per box source, and the trivial baselines) scored
by the same code, as JSON and Markdown tables.

Predictors:
- the model given the labelled box, the runtime's detector, and (for streams with a video) the
  runtime's tracking path;
- the mean 2D training pose placed in the labelled box (``pose3d.baselines``): what a model that
  ignores the picture answers in 2D;
- the mean training pose (3D, heading removed; P-MPJPE aligns the rotation anyway);
- the labeller's own monocular 3D (MediaPipe), a peer figure flattering to it (the triangulation is
  built from its 2D);
- the labels' own noise (leave-one-view-out PCK, quoted from ``stats.json``: it needs the other views).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from pose3d.baselines import MeanPose, place_in_boxes
from pose3d.crop import CropSpec
from pose3d.metrics import PCK2D_THRESHOLD
from pose3d.realval.predict import FOUND_IOU, RealRun, labelled_box
from pose3d.realval.score import Scores2D, Scores3D, Truth, summary_row
from pose3d.skeleton import H36M17

BOX_NAMES = {"labelled": "the labelled box", "detector": "the runtime's detector", "tracking": "the runtime's tracking (video)"}


def score_run(run: RealRun, mean_2d_input: np.ndarray, mean_pose: MeanPose, crop: CropSpec,
              label_noise_pck: float | None) -> dict[str, Any]:
    """Every table of the report as plain data (see the module docstring)."""
    truth = Truth.of(run.frames)
    N = len(run.frames)
    boxes = np.stack([labelled_box(f, crop.margin) for f in run.frames]) if N else np.zeros((0, 3))
    s2: dict[str, Scores2D] = {}
    s3: dict[str, Scores3D] = {}
    found: dict[str, np.ndarray] = {}
    for src, p in run.predictions.items():
        if not p.applies.any():
            continue
        name = f"model, {BOX_NAMES[src]}"
        s2[name] = Scores2D.of(name, p.joints_2d, truth, p.applies)
        s3[name] = Scores3D.of(name, np.where(p.applies[:, None, None], p.joints_3d, np.nan), truth)
        found[name] = p.found
    mean2d = "mean 2D training pose in the labelled box"
    s2[mean2d] = Scores2D.of(mean2d, place_in_boxes(mean_2d_input, boxes, crop) if N else np.zeros((0, 17, 2)), truth)
    mean3d = "mean training pose"
    s3[mean3d] = Scores3D.of(mean3d, np.broadcast_to(mean_pose.canonical, truth.joints_3d.shape), truth)
    peer = "MediaPipe monocular 3D (the labeller; peer)"
    peer_pred = np.stack([f.peer_3d if f.peer_3d is not None else np.full((17, 3), np.nan) for f in run.frames]) \
        if N else np.zeros((0, 17, 3))
    if np.isfinite(peer_pred).any():
        s3[peer] = Scores3D.of(peer, peer_pred, truth)

    rows = []
    for name in dict.fromkeys([*s2, *s3]):
        row = {"predictor": name, **summary_row(truth, s2.get(name), s3.get(name), found.get(name))}
        rows.append(row)
    if label_noise_pck is not None:
        rows.append({"predictor": "the labels' own noise (leave-one-view-out, stats.json)", "pck": label_noise_pck})

    sources = list(dict.fromkeys(truth.source.tolist()))
    per_source = []
    for name, s in s2.items():
        for src in sources:
            sel = truth.source == src
            if not (sel & s.applies).any():
                continue
            per_source.append({"predictor": name, "source": src, "frames": int((sel & s.applies).sum()),
                               "found": int((found[name] & sel).sum()) if name in found else None,
                               "pck": s.pck(sel), "pck_agreeing": s.pck(sel, truth.agrees),
                               "mean_error_torso": s.mean_error(sel)})
    views = [v for v in dict.fromkeys(truth.view.tolist()) if (truth.has_3d & (truth.view == v)).any()]
    per_view = []
    for v in views:
        sel = truth.view == v
        row = {"view": v, "frames": int((sel & truth.has_3d).sum())}
        for name, s in s3.items():
            row[name] = s.mean(sel)[0]
        per_view.append(row)
    per_joint = []
    every = np.ones(N, bool)
    pcks = {name: s.per_joint_pck(every) for name, s in s2.items()}
    errs = {name: _column_means(s.joint_err) for name, s in s3.items()}
    for j, joint in enumerate(H36M17.names):
        per_joint.append({"joint": joint, **{f"PCK: {n}": float(v[j]) for n, v in pcks.items()},
                          **{f"3D mm: {n}": float(v[j]) for n, v in errs.items()}})
    model = "model, the labelled box"
    per_frame = []
    for i, f in enumerate(run.frames):
        rec = {"file": f.file, "source": f.source, "view": f.view, "frame": f.frame}
        for name, s in s2.items():
            if s.applies[i]:
                rec[f"pck: {name}"] = float((s.err[i] <= PCK2D_THRESHOLD).mean())
        if model in s2:
            rec["mean_error_torso"] = float(s2[model].err[i].mean())
        for src, p in run.predictions.items():
            if p.applies[i]:
                rec[f"iou: {src}"] = round(float(p.iou[i]), 3)
        if model in s3 and np.isfinite(s3[model].p_mpjpe[i]):
            rec["p_mpjpe"] = float(s3[model].p_mpjpe[i])
        per_frame.append(rec)
    return {"frames": N, "frames_with_3d": int(truth.has_3d.sum()), "found_iou": FOUND_IOU, "summary": rows,
            "per_source": per_source, "per_view_p_mpjpe": per_view, "per_joint": per_joint, "per_frame": per_frame,
            "skipped": run.skipped, "notes": run.notes}


def _column_means(a: np.ndarray) -> np.ndarray:
    """(N, J) -> (J,) the mean of each column's finite values (NaN for none)."""
    ok = np.isfinite(a)
    n = ok.sum(axis=0)
    return np.where(n > 0, np.where(ok, a, 0.0).sum(axis=0) / np.maximum(n, 1), np.nan)


def _f(v: Any, pct: bool = False) -> str:
    if v is None or (isinstance(v, float) and not np.isfinite(v)):
        return "—"
    if isinstance(v, float):
        return f"{v:.3f}" if pct else f"{v:.1f}"
    return str(v)


def to_markdown(result: dict[str, Any], title: str) -> str:
    """The report as Markdown: the headline table first, then per source, per view and per joint."""
    out = [f"# {title}", "",
           f"{result['frames']} frames read ({result['frames_with_3d']} with triangulated 3D); "
           f"found = a box with IoU >= {result['found_iou']} against the labelled box (both as square person "
           "boxes); PCK@0.2·torso counts frames where nobody was found as wrong; mean error (torso units) and "
           "P-MPJPE (mm) are over the frames with an answer.", "",
           "| predictor | frames | found | PCK@0.2 | PCK@0.2, agreeing joints | PCK@0.2, 10 limb joints "
           "| mean error (torso) | P-MPJPE 17 joints (frames) | P-MPJPE 10 limb joints |",
           "|---|---|---|---|---|---|---|---|---|"]
    for r in result["summary"]:
        found = f"{r['found']}/{r['frames']} (a box in {r['answered']})" if "found" in r else "—"
        p17 = f"{_f(r.get('p_mpjpe'))} ({r['p_mpjpe_frames']})" if "p_mpjpe" in r else "—"
        out.append(f"| {r['predictor']} | {_f(r.get('frames'))} | {found} | {_f(r.get('pck'), True)} | "
                   f"{_f(r.get('pck_agreeing'), True)} | {_f(r.get('pck_limbs'), True)} | "
                   f"{_f(r.get('mean_error_torso'), True)} | {p17} | {_f(r.get('p_mpjpe_limbs'))} |")
    out += ["", "## Per source (2D)", "", "| predictor | source | frames | found | PCK@0.2 | PCK@0.2, agreeing | mean error (torso) |",
            "|---|---|---|---|---|---|---|"]
    for r in result["per_source"]:
        found = "—" if r["found"] is None else f"{r['found']}/{r['frames']}"
        out.append(f"| {r['predictor']} | {r['source']} | {r['frames']} | {found} | {_f(r['pck'], True)} | "
                   f"{_f(r['pck_agreeing'], True)} | {_f(r['mean_error_torso'], True)} |")
    if result["per_view_p_mpjpe"]:
        names = [k for k in result["per_view_p_mpjpe"][0] if k not in ("view", "frames")]
        out += ["", "## P-MPJPE per view (mm, 17 joints)", "", "| view | frames | " + " | ".join(names) + " |",
                "|---|---|" + "---|" * len(names)]
        for r in result["per_view_p_mpjpe"]:
            out.append(f"| {r['view']} | {r['frames']} | " + " | ".join(_f(r[n]) for n in names) + " |")
    cols = [k for k in result["per_joint"][0] if k != "joint"]
    out += ["", "## Per joint (PCK@0.2 over all frames; 3D: mm after 17-joint alignment)", "",
            "| joint | " + " | ".join(cols) + " |", "|---|" + "---|" * len(cols)]
    for r in result["per_joint"]:
        out.append(f"| {r['joint']} | " + " | ".join(_f(r[c], c.startswith("PCK")) for c in cols) + " |")
    if result["skipped"]:
        out += ["", f"## Skipped ({len(result['skipped'])})", ""] + [f"- {s['file']}: {s['reason']}" for s in result["skipped"]]
    if result["notes"]:
        out += ["", "## Notes", ""] + [f"- {n}" for n in result["notes"]]
    return "\n".join(out) + "\n"
