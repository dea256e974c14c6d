"""The mesh rasterizer on fabricated meshes: coverage, depth order, shading, soft silhouettes."""

import numpy as np

from pose3d.synth.mesh_raster import draw_mesh, lambert, soften_silhouettes, vertex_normals


def icosphere(subdivisions: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """A unit sphere: (V, 3) vertices, (F, 3) int32 faces counter-clockwise seen from outside."""
    t = (1 + 5 ** 0.5) / 2
    v = [(-1, t, 0), (1, t, 0), (-1, -t, 0), (1, -t, 0), (0, -1, t), (0, 1, t), (0, -1, -t), (0, 1, -t),
         (t, 0, -1), (t, 0, 1), (-t, 0, -1), (-t, 0, 1)]
    f = [(0, 11, 5), (0, 5, 1), (0, 1, 7), (0, 7, 10), (0, 10, 11), (1, 5, 9), (5, 11, 4), (11, 10, 2), (10, 7, 6),
         (7, 1, 8), (3, 9, 4), (3, 4, 2), (3, 2, 6), (3, 6, 8), (3, 8, 9), (4, 9, 5), (2, 4, 11), (6, 2, 10), (8, 6, 7),
         (9, 8, 1)]
    verts = [np.array(p, float) / np.linalg.norm(p) for p in v]
    faces = f
    for _ in range(subdivisions):
        cache: dict = {}

        def mid(i, j):
            key = (min(i, j), max(i, j))
            if key not in cache:
                m = verts[i] + verts[j]
                verts.append(m / np.linalg.norm(m))
                cache[key] = len(verts) - 1
            return cache[key]

        new = []
        for a, b, c in faces:
            ab, bc, ca = mid(a, b), mid(b, c), mid(c, a)
            new += [(a, ab, ca), (b, bc, ab), (c, ca, bc), (ab, bc, ca)]
        faces = new
    return np.array(verts, np.float32), np.array(faces, np.int32)


def project(verts_cam: np.ndarray, focal: float, centre: float) -> np.ndarray:
    """Camera-frame points (X right, Y down, Z forward, mm) -> (V, 3) pixel x, y and depth."""
    z = verts_cam[:, 2]
    return np.stack([focal * verts_cam[:, 0] / z + centre, focal * verts_cam[:, 1] / z + centre, z], -1).astype(np.float32)


def canvas(size=128):
    return (np.full((size, size, 3), 40.0, np.float32), np.full((size, size), np.inf, np.float32),
            np.full((size, size), -1, np.int16))


def test_a_sphere_covers_its_disc_and_its_normals_point_out():
    v, f = icosphere(3)
    n = vertex_normals(v, f)
    np.testing.assert_allclose(np.einsum("vi,vi->v", n, v), 1.0, atol=2e-3)  # outward, unit
    img, zbuf, owner = canvas()
    radius_mm, depth_mm, focal = 300.0, 3000.0, 400.0
    uvz = project(v * radius_mm + [0, 0, depth_mm], focal, 63.5)
    draw_mesh(img, zbuf, owner, uvz, f, np.full(v.shape, 200.0, np.float32), 0)
    # The silhouette of a sphere: a disc of radius f r / sqrt(d^2 - r^2) pixels.
    r_px = focal * radius_mm / np.sqrt(depth_mm ** 2 - radius_mm ** 2)
    assert abs((owner == 0).sum() / (np.pi * r_px ** 2) - 1.0) < 0.04
    assert np.isfinite(zbuf[owner == 0]).all() and zbuf[owner == 0].min() >= depth_mm - radius_mm - 1
    assert (img[owner == 0] == 200.0).all() and (img[owner < 0] == 40.0).all()


def test_the_nearer_mesh_wins_whatever_the_drawing_order():
    v, f = icosphere(2)
    grey = np.full(v.shape, 100.0, np.float32)
    results = []
    for order in ((0, 1), (1, 0)):
        img, zbuf, owner = canvas()
        meshes = {0: project(v * 300 + [-150, 0, 3000], 400, 63.5), 1: project(v * 300 + [150, 0, 2500], 400, 63.5)}
        for m in order:
            draw_mesh(img, zbuf, owner, meshes[m], f, grey + 50 * m, m)
        results.append(owner.copy())
    np.testing.assert_array_equal(results[0], results[1])
    overlap_column = 63  # both spheres cover the image centre; sphere 1 is nearer
    assert results[0][64, overlap_column] == 1 and (results[0] == 0).sum() > 0


def test_lambert_lights_the_side_facing_the_light():
    v, f = icosphere(2)
    n = vertex_normals(v, f)
    to_light = np.array([0.0, 0.0, -1.0], np.float32)  # towards the camera
    c = lambert(n, np.full(v.shape, 200.0, np.float32), to_light, 0.3, 0.7)
    facing = v[:, 2] < -0.9  # the sphere's side towards the camera
    away = v[:, 2] > 0.1
    assert c[facing].min() > 190 and np.allclose(c[away], 60.0)


def test_soft_silhouettes_touch_only_the_edge_band():
    v, f = icosphere(3)
    img, zbuf, owner = canvas()
    draw_mesh(img, zbuf, owner, project(v * 300 + [0, 0, 3000], 400, 63.5), f, np.full(v.shape, 240.0, np.float32), 0)
    hard = img.copy()
    cover = soften_silhouettes(img, owner)
    changed = np.abs(img - hard).max(-1) > 0
    inside = owner == 0
    # Changed pixels lie on the edge band: a pixel whose 3 x 3 neighbourhood holds both sides.
    pad = np.pad(inside, 1, mode="edge")
    mixed = np.zeros_like(inside)
    for dy in range(3):
        for dx in range(3):
            mixed |= pad[dy:dy + 128, dx:dx + 128] != inside
    assert changed.any() and not (changed & ~mixed).any()
    assert ((img[changed] > 40.0) & (img[changed] < 240.0)).all()  # in between the two sides
    assert cover[inside & ~mixed].min() == 1.0 and cover[~inside & ~mixed].max() == 0.0
    assert ((cover[mixed] > 0) & (cover[mixed] < 1)).all()
