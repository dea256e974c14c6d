"""3D pose metrics and their aggregation into per-group tables.

The metric functions are pure and batched: predictions and ground truth are (..., J, 3) arrays in
mm (NumPy or torch; torch stays differentiable), and each returns one value per pose, shape (...).
Callers pass root-relative poses for the Human3.6M protocols (``skeleton.to_root_relative``).
Aggregation (``summarize``) is kept apart and works on per-pose values with group labels.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np

from pose3d.arrays import like, namespace

PCK_THRESHOLD_MM = 150.0
AUC_THRESHOLDS_MM = tuple(float(t) for t in np.linspace(0.0, 150.0, 31))


def joint_errors(pred: Any, gt: Any) -> Any:
    """(..., J, 3) x 2 -> (..., J) Euclidean error of each joint (mm)."""
    xp = namespace(pred)
    d = pred - gt
    return xp.sqrt(xp.sum(d * d, axis=-1))


def mpjpe(pred: Any, gt: Any) -> Any:
    """Mean per-joint position error, (..., J, 3) x 2 -> (...) mm."""
    xp = namespace(pred)
    return xp.mean(joint_errors(pred, gt), axis=-1)


def procrustes_align(pred: Any, gt: Any, scale: bool = True) -> Any:
    """Align each predicted pose to its ground truth by a similarity transform (Umeyama).

    Finds rotation R (a proper rotation: reflections are excluded), translation and, if ``scale``,
    a scale factor minimising the squared distance to ``gt``. (..., J, 3) x 2 -> (..., J, 3).
    """
    xp = namespace(pred)
    mu_p = xp.mean(pred, axis=-2, keepdims=True)
    mu_g = xp.mean(gt, axis=-2, keepdims=True)
    p0, g0 = pred - mu_p, gt - mu_g  # (..., J, 3)
    cov = xp.matmul(xp.matrix_transpose(g0), p0)  # (..., 3, 3): sum_j g_j p_j^T
    u, s, vt = xp.linalg.svd(cov)
    # Flip the last singular direction where U V^T would be a reflection.
    sign = xp.sign(xp.linalg.det(xp.matmul(u, vt)))
    sign = xp.where(sign == 0, xp.ones_like(sign), sign)
    ones = xp.ones_like(sign)
    d = xp.stack([ones, ones, sign], axis=-1)  # (..., 3)
    rot = xp.matmul(u * d[..., None, :], vt)  # (..., 3, 3), maps centred pred onto centred gt
    aligned = xp.matmul(p0, xp.matrix_transpose(rot))
    if scale:
        var_p = xp.sum(p0 * p0, axis=(-2, -1))
        s_opt = xp.sum(s * d, axis=-1) / var_p  # (...)
        aligned = aligned * s_opt[..., None, None]
    return aligned + mu_g


def p_mpjpe(pred: Any, gt: Any) -> Any:
    """MPJPE after similarity (Procrustes) alignment, Human3.6M Protocol 2. (...) mm."""
    return mpjpe(procrustes_align(pred, gt, scale=True), gt)


def scale_align(pred: Any, gt: Any) -> Any:
    """Scale each predicted pose by the factor that best fits its ground truth (least squares)."""
    xp = namespace(pred)
    s = xp.sum(pred * gt, axis=(-2, -1)) / xp.sum(pred * pred, axis=(-2, -1))
    return pred * s[..., None, None]


def n_mpjpe(pred: Any, gt: Any) -> Any:
    """MPJPE after scale-only alignment (N-MPJPE, Rhodin et al. 2018). (...) mm."""
    return mpjpe(scale_align(pred, gt), gt)


def pck3d(pred: Any, gt: Any, threshold_mm: float = PCK_THRESHOLD_MM) -> Any:
    """Fraction of joints within ``threshold_mm`` of the truth, per pose: (...) in [0, 1]."""
    xp = namespace(pred)
    err = joint_errors(pred, gt)
    return xp.mean(xp.astype(err <= threshold_mm, err.dtype), axis=-1)


def auc(pred: Any, gt: Any, thresholds_mm: Sequence[float] = AUC_THRESHOLDS_MM) -> Any:
    """Area under the PCK3D curve over ``thresholds_mm`` (default 0..150 mm in 5 mm steps),
    normalised to [0, 1], per pose: (...)."""
    xp = namespace(pred)
    err = joint_errors(pred, gt)[..., None]  # (..., J, 1)
    th = like(np.asarray(thresholds_mm), err)
    return xp.mean(xp.astype(err <= th, err.dtype), axis=(-2, -1))


# -- 2D, in units of the person's size ------------------------------------------------------------

PCK2D_THRESHOLD = 0.2  # of the torso length (Thorax-Hip), the realval convention


def normalised_errors_2d(pred: Any, gt: Any, norm: Any) -> Any:
    """(..., J, 2) x 2 pixel joints and (...) normalisers (torso lengths, px) -> (..., J) distances in
    units of the normaliser."""
    xp = namespace(pred)
    d = pred - gt
    return xp.sqrt(xp.sum(d * d, axis=-1)) / norm[..., None]


def pck_2d(pred: Any, gt: Any, norm: Any, threshold: float = PCK2D_THRESHOLD) -> Any:
    """Per joint, whether the prediction lies within ``threshold * norm`` of the label: (..., J) bool.
    A non-finite prediction (no person found) is a miss."""
    err = normalised_errors_2d(pred, gt, norm)
    return err <= threshold


def procrustes_joint_errors(pred: Any, gt: Any) -> Any:
    """(..., J, 3) x 2 -> (..., J) per-joint errors (mm) after similarity alignment on those J joints;
    their mean is ``p_mpjpe``. Align on a subset by passing that subset."""
    return joint_errors(procrustes_align(pred, gt, scale=True), gt)


#: Every per-pose metric by its table name.
METRICS = {
    "MPJPE": mpjpe,
    "P-MPJPE": p_mpjpe,
    "N-MPJPE": n_mpjpe,
    "PCK3D@150": pck3d,
    "AUC": auc,
}


def evaluate(pred: Any, gt: Any, names: Sequence[str] = tuple(METRICS)) -> dict[str, np.ndarray]:
    """Per-pose values of several metrics as NumPy arrays: name -> (...)."""
    out = {}
    for name in names:
        value = METRICS[name](pred, gt)
        out[name] = np.asarray(value.detach().cpu() if hasattr(value, "detach") else value)
    return out


# -- aggregation ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Table:
    """Metric means per group, plus the mean over groups and over all poses.

    ``rows`` maps group -> {metric: mean}; ``counts`` group -> number of poses.
    """

    metrics: tuple[str, ...]
    rows: dict[str, dict[str, float]]
    counts: dict[str, int]
    mean_over_groups: dict[str, float]
    mean_over_poses: dict[str, float]
    group_by: str = "group"

    def to_dict(self) -> dict[str, Any]:
        return {
            "group_by": self.group_by,
            "metrics": list(self.metrics),
            "rows": self.rows,
            "counts": self.counts,
            "mean_over_groups": self.mean_over_groups,
            "mean_over_poses": self.mean_over_poses,
        }

    def to_markdown(self, digits: int = 1) -> str:
        def fmt(name: str, v: float) -> str:
            return format_metric(name, v, digits)

        head = f"| {self.group_by} | n | " + " | ".join(self.metrics) + " |"
        lines = [head, "|" + "---|" * (len(self.metrics) + 2)]
        for g, row in self.rows.items():
            lines.append(f"| {g} | {self.counts[g]} | " + " | ".join(fmt(m, row[m]) for m in self.metrics) + " |")
        n = sum(self.counts.values())
        for label, row in (("mean over groups", self.mean_over_groups), ("all poses", self.mean_over_poses)):
            lines.append(f"| **{label}** | {n} | " + " | ".join(fmt(m, row[m]) for m in self.metrics) + " |")
        return "\n".join(lines)


def format_metric(name: str, value: float, digits: int = 1) -> str:
    """A table cell: fractions (PCK, AUC) read better as percentages, the rest as they are (mm)."""
    return f"{100 * value:.{digits}f}" if name in ("PCK3D@150", "AUC") else f"{value:.{digits}f}"


def summarize(
    values: Mapping[str, Any],
    groups: Sequence[Any],
    order: Sequence[Any] | None = None,
    group_by: str = "group",
) -> Table:
    """Aggregate per-pose metric values by group label.

    values: metric name -> (N,) per-pose values; groups: (N,) labels (action, clip, subject...).
    ``order`` fixes the row order (e.g. the standard Human3.6M action order); groups absent from the
    data are left out. Human3.6M results are averaged over actions: ``mean_over_groups``.
    """
    groups = np.asarray(groups)
    arrays = {m: np.asarray(v, dtype=np.float64).reshape(-1) for m, v in values.items()}
    for m, v in arrays.items():
        if v.shape[0] != groups.shape[0]:
            raise ValueError(f"metric {m!r} has {v.shape[0]} values for {groups.shape[0]} group labels")
    present = list(dict.fromkeys(groups.tolist()))
    keys = [g for g in order if g in present] if order is not None else sorted(present, key=str)
    rows, counts = {}, {}
    for g in keys:
        mask = groups == g
        rows[str(g)] = {m: float(v[mask].mean()) for m, v in arrays.items()}
        counts[str(g)] = int(mask.sum())
    metrics = tuple(arrays)
    over_groups = {m: float(np.mean([rows[str(g)][m] for g in keys])) if keys else float("nan") for m in metrics}
    over_poses = {m: float(v.mean()) if v.size else float("nan") for m, v in arrays.items()}
    return Table(metrics, rows, counts, over_groups, over_poses, group_by)


# -- person detection -----------------------------------------------------------------------------


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N, 4) and (M, 4) boxes (x0, y0, x1, y1) -> (N, M) intersection over union (0 for empty boxes)."""
    a, b = np.asarray(a, np.float64)[:, None], np.asarray(b, np.float64)[None]
    wh = np.clip(np.minimum(a[..., 2:], b[..., 2:]) - np.maximum(a[..., :2], b[..., :2]), 0.0, None)
    inter = wh[..., 0] * wh[..., 1]
    area = lambda x: np.clip(x[..., 2] - x[..., 0], 0, None) * np.clip(x[..., 3] - x[..., 1], 0, None)  # noqa: E731
    union = area(a) + area(b) - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)


def match_detections(boxes: np.ndarray, scores: np.ndarray, truth: np.ndarray, ignore: np.ndarray,
                     iou_threshold: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """One frame: detections (N, 4) with (N,) scores against true boxes (M, 4), (M,) ``ignore``.
    Best score first, each detection takes the unmatched counted truth it overlaps most (IoU at
    least the threshold): a true positive. Otherwise one overlapping an ignored truth is left out
    (neither true nor false), the rest are false positives. Returns (N,) true-positive and (N,)
    counted flags, in the detections' order."""
    n = len(boxes)
    tp, counted = np.zeros(n, bool), np.ones(n, bool)
    if n == 0 or len(truth) == 0:
        return tp, counted
    iou = box_iou(boxes, truth)  # (N, M)
    ignore = np.asarray(ignore, bool)
    free = ~ignore
    for i in np.argsort(-np.asarray(scores), kind="stable"):
        candidates = np.where(free, iou[i], -1.0)
        j = int(np.argmax(candidates))
        if candidates[j] >= iou_threshold:
            tp[i], free[j] = True, False
        elif (iou[i][ignore] >= iou_threshold).any():
            counted[i] = False
    return tp, counted


def detection_scores(frames: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]],
                     score_threshold: float, iou_threshold: float = 0.5) -> dict[str, float]:
    """Average precision and, at ``score_threshold``, recall and precision of a detector over frames
    of (boxes (N, 4), scores (N,), true boxes (M, 4), ignore (M,)). AP: the area under the
    precision-recall curve with precision made non-increasing (every-point interpolation, as in
    PASCAL VOC from 2010); NaN when there is nothing to find. Also the best F1 score over all
    thresholds and the threshold that reaches it (``best_f1``, ``best_f1_threshold``; NaN without a hit)."""
    tps, scores, total = [], [], 0
    for boxes, s, truth, ignore in frames:
        tp, counted = match_detections(boxes, s, truth, ignore, iou_threshold)
        tps.append(tp[counted])
        scores.append(np.asarray(s, np.float64)[counted])
        total += int((~np.asarray(ignore, bool)).sum())
    tp = np.concatenate(tps) if tps else np.zeros(0, bool)
    s = np.concatenate(scores) if scores else np.zeros(0)
    order = np.argsort(-s, kind="stable")
    tp, s = tp[order], s[order]
    hits = np.cumsum(tp)
    precision = hits / np.arange(1, len(tp) + 1)
    nan = float("nan")
    if total == 0:
        return {"ap": nan, "recall": nan, "precision": float(tp.mean()) if len(tp) else nan, "best_f1": nan,
                "best_f1_threshold": nan}
    recall = hits / total
    envelope = np.maximum.accumulate(precision[::-1])[::-1] if len(tp) else precision
    steps = np.diff(np.concatenate([[0.0], recall]))
    kept = s >= score_threshold
    f1 = np.where(tp, 2 * precision * recall / np.maximum(precision + recall, 1e-12), 0.0)  # cut just below a hit
    best = int(np.argmax(f1)) if len(tp) else 0
    found = len(tp) > 0 and f1[best] > 0
    return {"ap": float((steps * envelope).sum()), "recall": float(tp[kept].sum() / total),
            "precision": float(tp[kept].mean()) if kept.any() else nan,
            "best_f1": float(f1[best]) if found else nan, "best_f1_threshold": float(s[best]) if found else nan}
