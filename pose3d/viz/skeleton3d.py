"""3D skeleton drawings with matplotlib (headless): one pose, or a contact sheet of the pose bank.

Poses are (J, 3) in mm in a Z-up world. Left limbs are drawn blue, right limbs red, the spine grey.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

from pose3d.skeleton import H36M17, Skeleton

LEFT_COLOR, RIGHT_COLOR, CENTER_COLOR = "#1f5fbf", "#d62728", "#555555"


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")  # headless: draw to files only
    import matplotlib.pyplot as plt

    return plt


def bone_colors(skeleton: Skeleton = H36M17) -> list[str]:
    """One colour per bone (``skeleton.bones`` order), by the side of its child joint."""
    left, right = set(skeleton.left), set(skeleton.right)
    return [LEFT_COLOR if c in left else RIGHT_COLOR if c in right else CENTER_COLOR for c, _ in skeleton.bones]


def draw_pose_3d(
    ax: Any,
    pose: np.ndarray,
    skeleton: Skeleton = H36M17,
    radius_mm: float = 1000.0,
    linewidth: float = 2.0,
    floor_z: float | None = None,
    zoom: float = 1.0,
) -> None:
    """Draw one (J, 3) pose on a matplotlib 3D axes, centred on its root, equal aspect."""
    pose = np.asarray(pose, dtype=np.float64)
    for (child, parent), color in zip(skeleton.bones, bone_colors(skeleton)):
        seg = pose[[parent, child]]
        ax.plot(seg[:, 0], seg[:, 1], seg[:, 2], color=color, linewidth=linewidth, solid_capstyle="round")
    cx, cy, cz = pose[0]
    if floor_z is not None:
        xx, yy = np.meshgrid(np.linspace(cx - radius_mm, cx + radius_mm, 2), np.linspace(cy - radius_mm, cy + radius_mm, 2))
        ax.plot_surface(xx, yy, np.full_like(xx, floor_z), color="#cccccc", alpha=0.3, linewidth=0)
    ax.set_xlim(cx - radius_mm, cx + radius_mm)
    ax.set_ylim(cy - radius_mm, cy + radius_mm)
    ax.set_zlim(cz - radius_mm, cz + radius_mm)
    ax.set_box_aspect((1, 1, 1), zoom=zoom)


def plot_pose(
    pose: np.ndarray,
    path: str | Path,
    title: str = "",
    skeleton: Skeleton = H36M17,
    elev: float = 10.0,
    azim: float = -60.0,
    size_px: int = 480,
) -> Path:
    """Save a 3D drawing of one (J, 3) pose (mm, Z up) to an image file; returns the path."""
    plt = _pyplot()
    dpi = 100
    fig = plt.figure(figsize=(size_px / dpi, size_px / dpi), dpi=dpi)
    ax = fig.add_subplot(projection="3d")
    draw_pose_3d(ax, pose, skeleton)
    ax.view_init(elev=elev, azim=azim)
    ax.set_xlabel("x (mm)")
    ax.set_ylabel("y (mm)")
    ax.set_zlabel("z (mm)")
    if title:
        ax.set_title(title)
    path = Path(path)
    fig.savefig(path, bbox_inches="tight")
    plt.close(fig)
    return path


def contact_sheet(
    poses_by_row: Sequence[tuple[str, np.ndarray]],
    path: str | Path,
    skeleton: Skeleton = H36M17,
    cell_px: int = 110,
    elev: float = 12.0,
    azim: float = -65.0,
) -> Path:
    """Save a grid of 3D skeletons: one labelled row per (label, (K, J, 3) poses) entry."""
    plt = _pyplot()
    rows = len(poses_by_row)
    cols = max(len(p) for _, p in poses_by_row)
    dpi = 100
    label_px = 1.3 * cell_px
    fig = plt.figure(figsize=((label_px + cols * cell_px) / dpi, rows * cell_px / dpi), dpi=dpi)
    left = label_px / (label_px + cols * cell_px)
    for r, (label, poses) in enumerate(poses_by_row):
        fig.text(left - 0.01, 1 - (r + 0.5) / rows, label, ha="right", va="center", fontsize=9)
        for c, pose in enumerate(poses):
            ax = fig.add_axes([left + c * (1 - left) / cols, 1 - (r + 1) / rows, (1 - left) / cols, 1 / rows], projection="3d")
            draw_pose_3d(ax, pose, skeleton, radius_mm=900.0, linewidth=1.6, zoom=1.6)
            ax.view_init(elev=elev, azim=azim)
            ax.set_axis_off()
    path = Path(path)
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path
