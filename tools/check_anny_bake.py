"""Check the baked Anny body (``pose3d.body.anny``) against Anny itself (developer-run, anny venv).

    ANNY_CACHE_DIR=/work/anny-cache PYTHONPATH=. /work/anny-venv/bin/python tools/check_anny_bake.py

Poses the same bodies with the same world orientations with ``anny`` (its "world-orient" pose
parameters: each bone's world orientation ``G @ rest``) and with the baked NumPy module, and reports
the vertex and label differences in mm: held-out bodies (never seen by the PCA, so the shape-basis
truncation counts) and rows of the shipped table (float16 coefficients), in the T-pose and in
random poses. Also: rest-orientation error, the crown and nose-tip vertices of the decimated mesh
against the full mesh's, and (``--bone-lengths``) the mean 17-joint bone lengths over the table.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bake_anny  # noqa: E402

from pose3d.body.anny import (  # noqa: E402
    _LABEL_HEADS, SPINE_FRACTION, label_point, load_anny_body, pose_bodies, pose_segments,
    rest_bone_heads_mm, rest_bone_orientations, segment_rotations, _segments,
)
from pose3d.rotations import rotvec_to_rotmat  # noqa: E402
from pose3d.skeleton import H36M17  # noqa: E402


def fit_coefficients(body, verts, heads):
    """Least-squares coefficients of rest bodies (B, V, 3), (B, N, 3) in the baked basis."""
    w = bake_anny.HEAD_WEIGHT
    A = np.concatenate([body.shape_basis_mm.reshape(len(body.shape_basis_mm), -1),
                        w * body.bone_heads_basis_mm.reshape(len(body.shape_basis_mm), -1)], 1)
    y = np.concatenate([(verts - body.template_mm).reshape(len(verts), -1),
                        w * (heads - body.bone_heads_mm).reshape(len(heads), -1)], 1)
    c, *_ = np.linalg.lstsq(A.T, y.T, rcond=None)
    return c.T


def anny_labels(body, verts_mm, heads_mm, bone_names):
    """The 17 labels of LABEL_SOURCES from Anny's own posed vertices and bone heads."""
    h = {n: heads_mm[:, bone_names.index(n)] for n in set(_LABEL_HEADS.values()) | {"spine01", "spine02", "head"}}
    pts = {name: h[bone] for name, bone in _LABEL_HEADS.items()}
    pts["Hip"] = 0.5 * (pts["LHip"] + pts["RHip"])
    pts["Spine"] = h["spine02"] + SPINE_FRACTION * (h["spine01"] - h["spine02"])
    pts["Neck"] = 0.5 * (h["head"] + label_point(body, verts_mm, "nose_tip"))
    pts["Head"] = label_point(body, verts_mm, "crown")
    return np.stack([pts[n] for n in H36M17.names], 1)


def random_drivers(rng, B, scale_rad):
    rv = rng.normal(size=(B, 21, 3)) * scale_rad
    return rotvec_to_rotmat(rv)


def compare(model, body, phen, coeffs, drivers):
    import torch

    B = len(phen)
    heads = rest_bone_heads_mm(body, coeffs)
    G = segment_rotations(body, heads, drivers)  # (B, S, 3, 3)
    _, _, _, seg_of_bone = _segments(body.bone_names, body.bone_parents)
    rest = model.get_rest_model(bake_anny.anny_coefficients(model, torch.as_tensor(phen)))
    R_rest = rest["rest_bone_poses"][..., :3, :3].numpy()  # (B, N, 3, 3)
    P = np.zeros((B, len(body.bone_names), 4, 4))
    P[..., :3, :3] = G[:, seg_of_bone] @ R_rest
    P[..., 3, 3] = 1.0
    out = model(pose_parameters=torch.as_tensor(P), phenotype_kwargs=torch.as_tensor(phen),
                pose_parameterization="world-orient")
    v_anny = out["vertices"].numpy() * 1000.0
    h_anny = out["bone_poses"][..., :3, 3].numpy() * 1000.0
    names = list(model.bone_labels)
    hip = 0.5 * (h_anny[:, names.index("upperleg01.L")] + h_anny[:, names.index("upperleg01.R")])
    mine = pose_segments(body, coeffs, G, hip)
    ev = np.linalg.norm(mine.vertices_mm - v_anny, axis=-1)
    ej = np.linalg.norm(mine.joints_mm - anny_labels(body, v_anny, h_anny, names), axis=-1)
    er = bake_anny.rotation_angle_deg(rest_bone_orientations(body, coeffs), R_rest)
    return dict(vertex_mean_mm=float(ev.mean()), vertex_max_mm=float(ev.max()),
                label_mean_mm=float(ej.mean()), label_max_mm=float(ej.max()),
                rest_orientation_max_deg=float(er.max()))


def bone_length_table(body):
    """Rows (bone, adults mean, adults sd, all mean, all sd, H36M S9) of the 17-joint bone lengths
    (mm) of the table's bodies in the T-pose; adults are the rows aged 18 or more."""
    from pose3d.skeleton import s9_bone_lengths

    T = body.shape_table
    B = len(T)
    eye = np.broadcast_to(np.eye(3), (B, 21, 3, 3))
    joints = pose_bodies(body, T, eye, np.zeros((B, 3))).joints_mm
    adult = body.phenotypes[:, body.phenotype_names.index("age_years")] >= 18
    rows = []
    for (c, p), s9 in zip(H36M17.bones, s9_bone_lengths()):
        L = np.linalg.norm(joints[:, c] - joints[:, p], axis=-1)
        rows.append((f"{H36M17.names[p]}-{H36M17.names[c]}", L[adult].mean(), L[adult].std(), L.mean(), L.std(), s9))
    return rows


def full_mesh_label_check(model_small, body, phen):
    """Distance (mm) of the decimated mesh's crown point and nose-tip vertex from the full mesh's
    (same rules, each body's own rest pose), and how far the crown is below the full mesh's top."""
    import torch

    full = bake_anny.build_model("anny")
    vf, hf, _ = bake_anny.rest_arrays(full, torch.as_tensor(phen))
    vs, _, _ = bake_anny.rest_arrays(model_small, torch.as_tensor(phen))
    names = list(full.bone_labels)
    faces = full.faces.numpy()
    skin_b, skin_w = full.vertex_bone_indices.numpy(), full.vertex_bone_weights.numpy()
    regions = bake_anny.region_weights(names, np.where(skin_w > 0, skin_b, 0), np.clip(skin_w, 0, None), faces)
    d_crown, d_nose, below = [], [], []
    for b in range(len(phen)):
        idx, w = bake_anny.label_points(vf[b], hf[b], names, faces, regions)
        crown_full, nose_full = w[0] @ vf[b, idx[0]], vf[b, idx[1, 0]]
        small = label_point(body, vs[b:b + 1], "crown")[0], label_point(body, vs[b:b + 1], "nose_tip")[0]
        d_crown.append(np.linalg.norm(small[0] - crown_full))
        d_nose.append(np.linalg.norm(small[1] - nose_full))
        below.append(vf[b, :, 2].max() - small[0][2])
    return dict(crown_mean_mm=float(np.mean(d_crown)), crown_max_mm=float(np.max(d_crown)),
                nose_tip_mean_mm=float(np.mean(d_nose)), nose_tip_max_mm=float(np.max(d_nose)),
                crown_below_full_mesh_top_mm=float(np.mean(below)))


def main(argv=None) -> int:
    import torch

    torch.set_grad_enabled(False)
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--body", type=Path, default=None, help="baked file (default: the package's)")
    p.add_argument("--bodies", type=int, default=32)
    p.add_argument("--bone-lengths", action="store_true")
    p.add_argument("--full-mesh", action="store_true", help="compare label vertices with the full mesh")
    args = p.parse_args(argv)
    body = load_anny_body(args.body)
    model = bake_anny.build_model()
    rng = np.random.default_rng(7)
    report = {}
    phen_test, _ = bake_anny.sample_phenotypes(model, args.bodies, seed=1234)
    v, h, _ = bake_anny.rest_arrays(model, phen_test)
    c_test = fit_coefficients(body, v, h)
    rows = rng.choice(len(body.shape_table), args.bodies, replace=False)
    phen_table = body.phenotypes[rows, :6].astype(np.float64)
    B = args.bodies
    for label, phen, coeffs in (("held_out", phen_test.numpy(), c_test), ("table", phen_table, body.shape_table[rows])):
        report[f"{label}_tpose"] = compare(model, body, phen, coeffs, np.broadcast_to(np.eye(3), (B, 21, 3, 3)))
        report[f"{label}_random_pose"] = compare(model, body, phen, coeffs, random_drivers(rng, B, 0.5))
    if args.full_mesh:
        report["label_points_vs_full_mesh"] = full_mesh_label_check(model, body, phen_test.numpy())
    print(json.dumps(report, indent=1))
    if args.bone_lengths:
        print(f"{'bone':18s} adults mean/sd   all mean/sd   H36M S9")
        for name, am, asd, m, sd, s9 in bone_length_table(body):
            print(f"{name:18s} {am:6.0f} / {asd:3.0f}    {m:6.0f} / {sd:3.0f}   {s9:5.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
