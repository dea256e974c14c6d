"""A visual evaluation report: crops with their predicted 2D joints beside predicted and true 3D
skeletons, for the best and the worst predictions."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from pose3d.viz.overlay import draw_skeleton_2d
from pose3d.viz.skeleton3d import _pyplot, draw_pose_3d

TRUE_COLOUR = "#999999"


def _camera_to_plot(pose: np.ndarray) -> np.ndarray:
    """Camera frame (X right, Y down, Z forward) -> a Z-up plotting frame seen from the camera."""
    return np.stack([pose[..., 0], pose[..., 2], -pose[..., 1]], axis=-1)


def evaluation_report(
    path: str | Path,
    images: np.ndarray,  # (N, 3, S, S) uint8
    joints_2d: np.ndarray,  # (N, 17, 2) predicted, crop pixels
    pred: np.ndarray,  # (N, 17, 3) mm, camera frame, root-relative
    gt: np.ndarray,
    errors: np.ndarray,  # (N,) MPJPE mm
    labels: Sequence[str],
    per_side: int = 6,
) -> Path:
    """Save a grid: the ``per_side`` best and worst samples, each as crop + 3D (prediction in colour,
    truth in grey)."""
    plt = _pyplot()
    order = np.argsort(errors)
    picks = [("best", i) for i in order[:per_side]] + [("worst", i) for i in order[::-1][:per_side]]
    cols = 4  # two samples per row: crop, 3D, crop, 3D
    rows = (len(picks) + 1) // 2
    fig = plt.figure(figsize=(cols * 2.2, rows * 2.2), dpi=90)
    for n, (tag, i) in enumerate(picks):
        r, c = divmod(n, 2)
        ax = fig.add_subplot(rows, cols, r * cols + 2 * c + 1)
        ax.imshow(draw_skeleton_2d(images[i].transpose(1, 2, 0), joints_2d[i]))
        ax.set_title(f"{tag}: {errors[i]:.0f} mm\n{labels[i]}", fontsize=7)
        ax.axis("off")
        ax3 = fig.add_subplot(rows, cols, r * cols + 2 * c + 2, projection="3d")
        truth = _camera_to_plot(gt[i])
        draw_pose_3d(ax3, truth, radius_mm=900, linewidth=1.0)
        for line in ax3.get_lines():
            line.set_color(TRUE_COLOUR)
        draw_pose_3d(ax3, _camera_to_plot(pred[i]), radius_mm=900, linewidth=1.6)
        ax3.view_init(elev=10, azim=-90)  # seen from the camera
        ax3.set_axis_off()
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path)
    plt.close(fig)
    return path
