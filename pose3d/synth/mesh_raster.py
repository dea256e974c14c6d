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

SHADOW_STRENGTH = 0.45  # how much of the floor's light a cast shadow takes away


@numba.njit(cache=True, fastmath=True)
def vertex_normals(verts: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """(V, 3) positions and (F, 3) triangles (counter-clockwise seen from outside) -> (V, 3) unit
    normals: the area-weighted mean of the adjacent faces' normals."""
    n = np.zeros(verts.shape, dtype=np.float32)
    for f in range(faces.shape[0]):
        a, b, c = faces[f, 0], faces[f, 1], faces[f, 2]
        ux, uy, uz = verts[b, 0] - verts[a, 0], verts[b, 1] - verts[a, 1], verts[b, 2] - verts[a, 2]
        vx, vy, vz = verts[c, 0] - verts[a, 0], verts[c, 1] - verts[a, 1], verts[c, 2] - verts[a, 2]
        nx = uy * vz - uz * vy
        ny = uz * vx - ux * vz
        nz = ux * vy - uy * vx
        n[a, 0] += nx
        n[a, 1] += ny
        n[a, 2] += nz
        n[b, 0] += nx
        n[b, 1] += ny
        n[b, 2] += nz
        n[c, 0] += nx
        n[c, 1] += ny
        n[c, 2] += nz
    for v in range(n.shape[0]):
        length = np.sqrt(n[v, 0] ** 2 + n[v, 1] ** 2 + n[v, 2] ** 2)
        if length > 0:
            n[v, 0] /= length
            n[v, 1] /= length
            n[v, 2] /= length
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


@numba.njit(cache=True, inline="always")
def _pixel_box(xa, ya, xb, yb, xc, yc, W, H):
    """The pixel centres a triangle's bounding box holds, clipped to the image: x0, x1, y0, y1."""
    x0 = max(int(np.ceil(min(xa, min(xb, xc)))), 0)
    x1 = min(int(np.floor(max(xa, max(xb, xc)))), W - 1)
    y0 = max(int(np.ceil(min(ya, min(yb, yc)))), 0)
    y1 = min(int(np.floor(max(ya, max(yb, yc)))), H - 1)
    return x0, x1, y0, y1


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
        x0, x1, y0, y1 = _pixel_box(xa, ya, xb, yb, xc, yc, W, H)
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
def fill_mesh(mask: np.ndarray, uv: np.ndarray, faces: np.ndarray) -> None:
    """Set (H, W) uint8 ``mask`` to 1 wherever a triangle of the (V, 2) pixel-space mesh covers a
    pixel centre (no depth, no colour: a cast shadow's footprint)."""
    H, W = mask.shape
    for f in range(faces.shape[0]):
        a, b, c = faces[f, 0], faces[f, 1], faces[f, 2]
        xa, ya, xb, yb, xc, yc = uv[a, 0], uv[a, 1], uv[b, 0], uv[b, 1], uv[c, 0], uv[c, 1]
        area = (xb - xa) * (yc - ya) - (yb - ya) * (xc - xa)
        if abs(area) < 1e-12:
            continue
        x0, x1, y0, y1 = _pixel_box(xa, ya, xb, yb, xc, yc, W, H)
        inv = 1.0 / area
        for y in range(y0, y1 + 1):
            for x in range(x0, x1 + 1):
                if mask[y, x]:
                    continue
                wa = ((xb - x) * (yc - y) - (yb - y) * (xc - x)) * inv
                wb = ((xc - x) * (ya - y) - (yc - y) * (xa - x)) * inv
                if wa >= 0.0 and wb >= 0.0 and wa + wb <= 1.0:
                    mask[y, x] = 1


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


@numba.njit(cache=True, parallel=True)
def draw_people_batch(imgs: np.ndarray, zbuf: np.ndarray, owner: np.ndarray, cover: np.ndarray, shadow: np.ndarray,
                      uvz: np.ndarray, shadow_uv: np.ndarray, normals: np.ndarray, albedo: np.ndarray,
                      drawn: np.ndarray, casts: np.ndarray, faces: np.ndarray, to_light: np.ndarray,
                      ambient: np.ndarray, key: np.ndarray) -> None:
    """A batch of scenes, samples in parallel: each sample's cast shadows darken its floor, then its
    people (``drawn`` (B, P)) are lit (``lambert``) and drawn (``draw_mesh``, person p as owner p),
    then the silhouettes are softened (``cover`` gets the soft mask). Shapes: imgs (B, H, W, 3)
    float32; zbuf, cover (B, H, W) float32; owner (B, H, W) int16; shadow (B, H, W) uint8;
    uvz, normals, albedo (B, P, V, 3) float32; shadow_uv (B, P, V, 2) float32; casts (B, P) bool;
    normals and ``to_light`` (B, 3) in one frame (any: only their dot products count)."""
    B, P = drawn.shape
    H, W = zbuf.shape[1], zbuf.shape[2]
    for b in numba.prange(B):
        for p in range(P):
            if casts[b, p]:
                fill_mesh(shadow[b], shadow_uv[b, p], faces)
        for y in range(H):
            for x in range(W):
                if shadow[b, y, x]:
                    for k in range(3):
                        imgs[b, y, x, k] *= 1.0 - SHADOW_STRENGTH
        for p in range(P):
            if drawn[b, p]:
                colours = lambert(normals[b, p], albedo[b, p], to_light[b], ambient[b], key[b])
                draw_mesh(imgs[b], zbuf[b], owner[b], uvz[b, p], faces, colours, p)
        cover[b] = soften_silhouettes(imgs[b], owner[b])
