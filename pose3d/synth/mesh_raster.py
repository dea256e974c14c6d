"""The numba kernels that draw triangle meshes (skinned bodies) with a z-buffer.

A mesh arrives already projected: per vertex its position in output pixels and its camera depth (mm)
(``uvz``, (V, 3)), and its colour already lit (``colours``, (V, 3), the image's 0-255 scale;
``lambert`` computes it from camera-frame normals). Triangles are filled where a pixel centre lies
inside (pixel centres at integer coordinates, ``pose3d.crop``'s convention), depth and colour
interpolated linearly in the image (Gouraud shading; at person-crop sizes the perspective error of
screen-space interpolation is far below a pixel of depth order), each fragment tested against the
z-buffer. ``owner`` records which mesh (person) each pixel shows, so several people occlude each
other correctly and visibility can be read back.

Edges: ``soften_silhouettes`` blends the one-pixel band around every silhouette (a pixel whose 3 x 3
neighbourhood holds both a mesh and something else) between the two sides in proportion to what the
neighbourhood holds: about the coverage ramp of a one-pixel box filter, without drawing the frame
at a higher resolution.
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, fastmath=True)
def vertex_normals(verts: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """(V, 3) positions and (F, 3) triangles (counter-clockwise seen from outside) -> (V, 3) unit
    normals: the area-weighted mean of the adjacent faces' normals."""
    n = np.zeros(verts.shape, dtype=np.float32)
    for f in range(faces.shape[0]):
        a, b, c = faces[f, 0], faces[f, 1], faces[f, 2]
        e1 = verts[b] - verts[a]
        e2 = verts[c] - verts[a]
        nx = e1[1] * e2[2] - e1[2] * e2[1]
        ny = e1[2] * e2[0] - e1[0] * e2[2]
        nz = e1[0] * e2[1] - e1[1] * e2[0]
        for v in (a, b, c):
            n[v, 0] += nx
            n[v, 1] += ny
            n[v, 2] += nz
    for v in range(n.shape[0]):
        length = np.sqrt(n[v, 0] ** 2 + n[v, 1] ** 2 + n[v, 2] ** 2)
        if length > 0:
            n[v] /= length
    return n


@numba.njit(cache=True, fastmath=True)
def lambert(normals: np.ndarray, albedo: np.ndarray, to_light: np.ndarray, ambient: float, key: float) -> np.ndarray:
    """(V, 3) unit normals and albedo (0-255), a unit direction towards the light -> (V, 3) colours:
    albedo x (ambient + key x max(0, n . l)), clipped to 255. Normals facing away from the light get
    the ambient term only (attached shadow)."""
    out = np.empty(albedo.shape, dtype=np.float32)
    for v in range(normals.shape[0]):
        d = normals[v, 0] * to_light[0] + normals[v, 1] * to_light[1] + normals[v, 2] * to_light[2]
        light = ambient + key * max(d, 0.0)
        for k in range(3):
            out[v, k] = min(albedo[v, k] * light, 255.0)
    return out


@numba.njit(cache=True, fastmath=True)
def draw_mesh(img: np.ndarray, zbuf: np.ndarray, owner: np.ndarray, uvz: np.ndarray, faces: np.ndarray,
              colours: np.ndarray, mesh_id: int) -> None:
    """Fill every triangle of one projected mesh into (H, W, 3) float32 ``img`` where it is nearer than
    ``zbuf`` (H, W) (mm, inf where empty), writing ``mesh_id`` into ``owner`` (H, W) int16."""
    H, W = zbuf.shape
    for f in range(faces.shape[0]):
        a, b, c = faces[f, 0], faces[f, 1], faces[f, 2]
        xa, ya, za = uvz[a, 0], uvz[a, 1], uvz[a, 2]
        xb, yb, zb = uvz[b, 0], uvz[b, 1], uvz[b, 2]
        xc, yc, zc = uvz[c, 0], uvz[c, 1], uvz[c, 2]
        area = (xb - xa) * (yc - ya) - (yb - ya) * (xc - xa)
        if abs(area) < 1e-12:
            continue
        x0 = max(int(np.ceil(min(xa, min(xb, xc)))), 0)
        x1 = min(int(np.floor(max(xa, max(xb, xc)))), W - 1)
        y0 = max(int(np.ceil(min(ya, min(yb, yc)))), 0)
        y1 = min(int(np.floor(max(ya, max(yb, yc)))), H - 1)
        if x0 > x1 or y0 > y1:
            continue
        inv = 1.0 / area
        for y in range(y0, y1 + 1):
            for x in range(x0, x1 + 1):
                # Barycentric weights from the edge functions; inside when all share the area's sign.
                wa = ((xb - x) * (yc - y) - (yb - y) * (xc - x)) * inv
                wb = ((xc - x) * (ya - y) - (yc - y) * (xa - x)) * inv
                wc = 1.0 - wa - wb
                if wa < 0.0 or wb < 0.0 or wc < 0.0:
                    continue
                z = wa * za + wb * zb + wc * zc
                if z >= zbuf[y, x]:
                    continue
                zbuf[y, x] = z
                owner[y, x] = mesh_id
                for k in range(3):
                    img[y, x, k] = wa * colours[a, k] + wb * colours[b, k] + wc * colours[c, k]


@numba.njit(cache=True, fastmath=True)
def soften_silhouettes(img: np.ndarray, owner: np.ndarray) -> np.ndarray:
    """Anti-alias, in place, the silhouettes of the meshes drawn in ``img`` ((H, W, 3) float32;
    ``owner`` (H, W) int16, -1 where no mesh): a pixel whose 3 x 3 neighbourhood holds other owners
    becomes a mix of itself (at least half) and the mean of those other pixels, in proportion to their
    share. Returns the (H, W) float32 share of each pixel's neighbourhood that shows a mesh (a soft
    person mask)."""
    H, W = owner.shape
    src = img.copy()
    cover = np.zeros((H, W), dtype=np.float32)
    for y in range(H):
        for x in range(W):
            me = owner[y, x]
            same, n = 0, 0
            other_mesh = 0  # neighbours that are a mesh (for the coverage)
            acc0, acc1, acc2 = 0.0, 0.0, 0.0
            for dy in range(-1, 2):
                yy = min(max(y + dy, 0), H - 1)
                for dx in range(-1, 2):
                    xx = min(max(x + dx, 0), W - 1)
                    o = owner[yy, xx]
                    n += 1
                    if o >= 0:
                        other_mesh += 1
                    if o == me:
                        same += 1
                    else:
                        acc0 += src[yy, xx, 0]
                        acc1 += src[yy, xx, 1]
                        acc2 += src[yy, xx, 2]
            cover[y, x] = other_mesh / n
            if same == n:
                continue
            # A one-pixel box filter across the edge: the centre keeps at least half.
            share = 0.5 + 0.5 * same / n
            k = n - same
            img[y, x, 0] = share * src[y, x, 0] + (1.0 - share) * acc0 / k
            img[y, x, 1] = share * src[y, x, 1] + (1.0 - share) * acc1 / k
            img[y, x, 2] = share * src[y, x, 2] + (1.0 - share) * acc2 / k
    return cover
