"""The exp-map text format of the 38-joint CMU skeleton (../shared/mocap/SOURCES.md).

One row per frame: root position (raw CMU ASF units) then 38 rotation vectors. Forward kinematics
uses row vectors: ``x_i = offset_i @ R_parent + x_parent``, ``R_i = expmap(r_i) @ R_parent``; the
position of joint i is the end of bone i. Native frame: Y up.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pose3d.mocap import MocapError
from pose3d.rotations import rotvec_to_rotmat

ASF_UNIT_MM = 56.444  # CMU FAQ: ASF length units x 0.056444 = metres
OFFSET_UNIT_MM = ASF_UNIT_MM / 70.0  # the skeleton file's offsets are 70 x ASF units


@dataclass(frozen=True)
class Cmu38Skeleton:
    names: tuple[str, ...]
    parents: tuple[int, ...]
    offsets_mm: np.ndarray  # (38, 3)
    h36m17: dict[str, int]  # suggested joint for each H36M17 name

    @classmethod
    def read(cls, path: str | Path) -> "Cmu38Skeleton":
        path = Path(path)
        try:
            d = json.loads(path.read_text())
            return cls(
                names=tuple(d["names"]),
                parents=tuple(int(p) for p in d["parents"]),
                offsets_mm=np.asarray(d["offsets"], dtype=np.float64) * OFFSET_UNIT_MM,
                h36m17={k: int(v) for k, v in d["h36m17"].items()},
            )
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise MocapError(f"{path}: not a CMU-38 skeleton file ({e})") from None

    def index(self, name: str) -> int:
        return self.names.index(name)


def read_cmu38(path: str | Path, skeleton: Cmu38Skeleton) -> np.ndarray:
    """(F, 3 + 3 * 38) frame rows of an exp-map text file; raises MocapError naming the file."""
    path = Path(path)
    width = 3 + 3 * len(skeleton.names)
    try:
        rows = [line for line in path.read_text().splitlines() if line.strip()]
        data = np.array([r.split(",") for r in rows], dtype=np.float64)
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise MocapError(f"{path}: cannot read as comma-separated numbers ({e})") from None
    if data.ndim != 2 or data.shape[1] != width:
        raise MocapError(f"{path}: expected {width} values per row, got shape {data.shape}")
    return data


def cmu38_forward_kinematics(rows: np.ndarray, skeleton: Cmu38Skeleton) -> tuple[np.ndarray, np.ndarray]:
    """Global positions (F, 38, 3) in mm and row-vector rotations (F, 38, 3, 3), native Y-up frame."""
    F, J = rows.shape[0], len(skeleton.names)
    rotvecs = rows[:, 3:].reshape(F, J, 3)
    local = rotvec_to_rotmat(rotvecs)  # (F, J, 3, 3)
    pos = np.zeros((F, J, 3))
    rot = np.zeros((F, J, 3, 3))
    for j, parent in enumerate(skeleton.parents):
        if parent < 0:
            pos[:, j] = rows[:, :3] * ASF_UNIT_MM + skeleton.offsets_mm[j]
            rot[:, j] = local[:, j]
        else:
            pos[:, j] = skeleton.offsets_mm[j] @ rot[:, parent] + pos[:, parent]
            rot[:, j] = local[:, j] @ rot[:, parent]
    return pos, rot
