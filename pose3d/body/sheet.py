"""A contact sheet of baked Anny bodies in a few poses, to look at (not the renderer).

    python -m pose3d.body.sheet /tmp/anny_sheet.png [--bodies 4] [--seed 0] [--bank 6] [--width 1600]

Rows: bodies drawn from the baked table; columns: poses (hand-made examples, or ``--bank N``
random poses of the pose bank), each from the front and from the body's left side. Orthographic, painter's algorithm (faces sorted far to near, ``cv2.fillPoly``), Lambert
shading, faces tinted by their clothing region; the 17 labels as dots (left side red, right side
blue, centre green) joined by the H36M17 bones.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from pose3d.body.anny import AnnyBody, load_anny_body, pose_bodies
from pose3d.mocap.drivers import DRIVERS
from pose3d.rotations import axis_angle_to_rotmat
from pose3d.skeleton import H36M17

REGION_COLOURS = {  # BGR
    "torso": (90, 140, 200), "upper_arm": (80, 170, 120), "forearm": (60, 200, 200),
    "hand": (170, 190, 230), "thigh": (160, 100, 70), "shin": (190, 150, 90), "foot": (70, 70, 70),
    "neck": (150, 180, 220), "head": (170, 200, 235),
}


def _rot(axis: str, degrees: float) -> np.ndarray:
    return axis_angle_to_rotmat(axis, np.radians(degrees))


def example_poses() -> dict[str, np.ndarray]:
    """A few hand-made driver poses (name -> (21, 3, 3)), in the drivers.py convention."""
    def pose(**rotations):
        R = np.broadcast_to(np.eye(3), (len(DRIVERS), 3, 3)).copy()
        for name, value in rotations.items():
            R[DRIVERS.index(name)] = value
        return R

    arms_down = dict(l_upper_arm=_rot("y", 80), r_upper_arm=_rot("y", -80),
                     l_forearm=_rot("y", 80), r_forearm=_rot("y", -80),
                     l_hand=_rot("y", 80), r_hand=_rot("y", -80))
    walk = pose(
        l_thigh=_rot("x", -30), l_shin=_rot("x", 5), r_thigh=_rot("x", 20), r_shin=_rot("x", 35),
        r_foot=_rot("x", 25), l_upper_arm=_rot("x", 25) @ _rot("y", 75), r_upper_arm=_rot("x", -25) @ _rot("y", -75),
        l_forearm=_rot("x", -10) @ _rot("y", 75), r_forearm=_rot("x", -60) @ _rot("y", -75),
        l_hand=_rot("x", -10) @ _rot("y", 75), r_hand=_rot("x", -60) @ _rot("y", -75),
        head=_rot("z", 25), neck=_rot("z", 10),
    )
    reach = pose(
        chest=_rot("x", 15), abdomen=_rot("x", 10), l_upper_arm=_rot("y", -70), r_upper_arm=_rot("z", 80),
        l_forearm=_rot("y", -80), r_forearm=_rot("z", 90) @ _rot("x", 0), l_hand=_rot("y", -80),
        r_hand=_rot("z", 90), l_thigh=_rot("y", -15), r_thigh=_rot("y", 15),
        l_collar=_rot("y", -20),
    )
    crouch = pose(
        pelvis=_rot("x", 10), l_thigh=_rot("x", -95), r_thigh=_rot("x", -80) @ _rot("z", -15),
        l_shin=_rot("x", 15), r_shin=_rot("x", 20), chest=_rot("x", 25), abdomen=_rot("x", 15),
        l_upper_arm=_rot("z", -80) @ _rot("y", 20), r_upper_arm=_rot("z", 80) @ _rot("y", -20),
        l_forearm=_rot("z", -110), r_forearm=_rot("z", 110), l_hand=_rot("z", -110), r_hand=_rot("z", 110),
    )
    turned = _rot("z", 180) @ walk
    return {"T-pose": pose(), "arms down": pose(**arms_down), "walk": walk, "reach": reach,
            "crouch": crouch, "walk, turned 180": turned}


def bank_poses(n: int, seed: int = 0) -> dict[str, np.ndarray]:
    """``n`` random poses of the shipped pose bank (name -> (21, 3, 3) driver rotations)."""
    from pose3d.data.posebank import load_posebank

    bank = load_posebank()
    idx = np.random.default_rng(seed).choice(len(bank), n, replace=False)
    R = bank.driver_rotations(idx)
    return {f"{bank.activity_names[bank.activity[i]]} {i}": R[k] for k, i in enumerate(idx)}


def draw_body(img: np.ndarray, body: AnnyBody, vertices: np.ndarray, joints: np.ndarray,
              view: str, scale: float, centre: tuple[float, float]) -> None:
    """Draw one posed body (V, 3) mm and its labels (17, 3) into ``img``: view "front" (from -Y)
    or "side" (from +X, the body's left)."""
    if view == "front":
        u, v, depth = vertices[:, 0], -vertices[:, 2], vertices[:, 1]  # larger y = farther
        ju, jv = joints[:, 0], -joints[:, 2]
        towards = np.array([0.0, -1.0, 0.0])
    else:
        u, v, depth = vertices[:, 1], -vertices[:, 2], -vertices[:, 0]
        ju, jv = joints[:, 1], -joints[:, 2]
        towards = np.array([1.0, 0.0, 0.0])
    px = np.stack([u * scale + centre[0], v * scale + centre[1]], -1)
    faces = body.faces
    a, b, c = (vertices[faces[:, k]] for k in range(3))
    n = np.cross(b - a, c - a)
    n /= np.linalg.norm(n, axis=-1, keepdims=True) + 1e-12
    light = np.array([0.4, -0.8, 0.45])
    light /= np.linalg.norm(light)
    shade = 0.35 + 0.65 * np.clip(np.abs(n @ light), 0, 1)  # two-sided: inner cavity walls lit too
    region = body.region_weights[faces].mean(1)  # (F, R) smooth per-vertex weights -> per face
    colours = region @ np.array([REGION_COLOURS[r] for r in body.region_names], dtype=np.float64)
    facing = n @ towards > -0.2
    order = np.argsort(-depth[faces].mean(1))  # far to near
    pts = np.round(px[faces] * 16).astype(np.int32)  # 4 bits of sub-pixel precision
    for f in order:
        if facing[f]:
            cv2.fillPoly(img, [pts[f]], tuple(float(x) for x in colours[f] * shade[f]), cv2.LINE_AA, shift=4)
    jp = np.stack([ju * scale + centre[0], jv * scale + centre[1]], -1)
    for child, parent in H36M17.bones:
        cv2.line(img, tuple(np.round(jp[child]).astype(int)), tuple(np.round(jp[parent]).astype(int)),
                 (255, 255, 255), 1, cv2.LINE_AA)
    for j, name in enumerate(H36M17.names):
        colour = (40, 40, 230) if name.startswith("L") else (230, 90, 30) if name.startswith("R") else (40, 200, 40)
        cv2.circle(img, tuple(np.round(jp[j]).astype(int)), 3, colour, -1, cv2.LINE_AA)


def contact_sheet(body: AnnyBody, n_bodies: int = 4, seed: int = 0, panel: tuple[int, int] = (200, 230),
                  poses: dict[str, np.ndarray] | None = None) -> np.ndarray:
    """Rows of bodies (short to tall) x columns of poses (front and side views), BGR uint8."""
    poses = example_poses() if poses is None else poses
    rng = np.random.default_rng(seed)
    stature = body.phenotypes[:, body.phenotype_names.index("stature_mm")]
    rows = rng.permutation(len(stature))[: n_bodies * 10]
    rows = rows[np.argsort(stature[rows])][np.linspace(0, len(rows) - 1, n_bodies).astype(int)]  # short to tall
    W, H = panel
    cols = 2 * len(poses)
    img = np.full((H * n_bodies + 24, W * cols, 3), 245, np.uint8)
    scale = (H - 20) / 2100.0
    for i, (name, _) in enumerate(poses.items()):
        cv2.putText(img, name, (2 * i * W + 4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    R = np.stack(list(poses.values()))  # (P, 21, 3, 3)
    for r, row in enumerate(rows):
        shape = np.repeat(body.shape_table[row][None], len(R), 0)
        posed = pose_bodies(body, shape, R, np.zeros((len(R), 3)))
        floor = posed.vertices_mm[..., 2].min(1)  # stand every body on the panel's floor
        for p in range(len(R)):
            verts = posed.vertices_mm[p] - [0, 0, floor[p]]
            joints = posed.joints_mm[p] - [0, 0, floor[p]]
            for k, view in enumerate(("front", "side")):
                x0, y0 = (2 * p + k) * W, 24 + r * H
                draw_body(img, body, verts, joints, view, scale, (x0 + W / 2, y0 + H - 8))
        ph = body.phenotypes[row]
        g = ph[body.phenotype_names.index("gender")]
        age = ph[body.phenotype_names.index("age_years")]
        cv2.putText(img, f"{stature[row]:.0f} mm, {age:.0f} y, gender {g:.2f}", (4, 24 + r * H + 14),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.38, (0, 0, 0), 1, cv2.LINE_AA)
    for p in range(1, len(R)):
        cv2.line(img, (2 * p * W, 0), (2 * p * W, img.shape[0]), (200, 200, 200), 1)
    return img


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description="Draw a contact sheet of baked Anny bodies.")
    p.add_argument("output", type=Path)
    p.add_argument("--bodies", type=int, default=4)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--bank", type=int, default=0, help="draw this many pose-bank poses instead of the examples")
    p.add_argument("--panel", type=int, nargs=2, default=(200, 230), metavar=("W", "H"), help="panel size, px")
    p.add_argument("--width", type=int, default=0, help="resize to this width (0: as drawn)")
    p.add_argument("--quality", type=int, default=90, help="JPEG quality")
    args = p.parse_args(argv)
    poses = bank_poses(args.bank, args.seed) if args.bank else None
    img = contact_sheet(load_anny_body(), args.bodies, args.seed, tuple(args.panel), poses)
    if args.width:
        img = cv2.resize(img, (args.width, round(img.shape[0] * args.width / img.shape[1])), interpolation=cv2.INTER_AREA)
    params = [cv2.IMWRITE_JPEG_QUALITY, args.quality] if args.output.suffix.lower() in (".jpg", ".jpeg") else []
    cv2.imwrite(str(args.output), img, params)
    print(f"wrote {args.output} ({img.shape[1]}x{img.shape[0]})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
