"""Which of the three Human3.6M distributions a folder holds, and the reader for each."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from pose3d.data.h36m import archive, jpeg, official
from pose3d.data.h36m.source import Problem, Unit

LAYOUTS = ("official", "jpeg", "npz")
DESCRIPTIONS = {
    "official": "official release: S*/MyPoseFeatures/D3_Positions/*.cdf + S*/Videos/*.mp4",
    "jpeg": "per-frame JPEGs + COCO-style JSON: images/ + annotations/Human36M_subject*_data.json",
    "npz": "NumPy archive with 3D only: data_3d_h36m.npz",
}
_TESTS = {"official": official.is_official, "jpeg": jpeg.is_jpeg, "npz": archive.is_archive}


class LayoutError(ValueError):
    pass


def detect_layout(root: Path) -> str:
    """The layout found in ``root``; raises LayoutError when there is none or more than one."""
    root = Path(root)
    if not root.is_dir():
        raise LayoutError(f"{root} is not a folder")
    found = [name for name, test in _TESTS.items() if test(root)]
    if len(found) == 1:
        return found[0]
    if not found:
        expected = "; ".join(DESCRIPTIONS.values())
        raise LayoutError(f"{root} holds none of the Human3.6M layouts (expected one of: {expected})")
    raise LayoutError(f"{root} holds several layouts ({', '.join(found)}): choose one with --layout")


def find_units(layout: str, root: Path, subjects: Sequence[str], margin: float) -> tuple[list[Unit], list[Problem], list[str]]:
    """The units of ``subjects`` in a ``layout`` tree, the problems found listing them, and notes."""
    if layout == "official":
        return official.find_units(root, subjects)
    if layout == "jpeg":
        return jpeg.find_units(root, subjects, margin)
    if layout == "npz":
        return archive.find_units(root, subjects)
    raise LayoutError(f"unknown layout {layout!r}; choose from {', '.join(LAYOUTS)}")
