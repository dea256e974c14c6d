"""The numba-jitted kernels of the renderer: capsules with a z-buffer, floors, backgrounds, finishing.

Each capsule arrives already projected: its two axis ends in pixels, their pixel radii and depths
(mm), its radii in mm and its length (mm, for textures). A pixel is covered when its distance to the
projected axis is below the interpolated radius; its depth is the axis depth minus the capsule's
bulge towards the camera; its normal comes from the offset to the axis, as for a sphere swept along
it. Capsules are drawn far to near, each fragment tested against the z-buffer, and edges are
anti-aliased by blending a one-pixel coverage ramp over what is already there.

Pixel centres sit at integer coordinates (``pose3d.crop``'s convention).
"""

from __future__ import annotations

import numba
import numpy as np

# Capsule table columns (float32): axis ends in pixels, pixel radii, depths, radii in mm, length in mm.
X0, Y0, X1, Y1, PR0, PR1, Z0, Z1, R0, R1, LEN = range(11)
N_FIELDS = 11


@numba.njit(cache=True, inline="always")
def _pattern(kind: int, s: float, a: float, scale: float) -> float:
    """0..1 mix between a material's two colours at axis position s and around-position a (mm)."""
    if kind == 1:  # bands around the part
        return 1.0 if (np.floor(s / scale) % 2) == 1 else 0.0
    if kind == 2:  # stripes along the part
        return 1.0 if (np.floor(a / (0.5 * scale)) % 2) == 1 else 0.0
    if kind == 3:  # checks
        return 1.0 if ((np.floor(s / scale) + np.floor(a / scale)) % 2) == 1 else 0.0
    if kind == 4:  # speckle: a hashed value per small cell
        i = np.int64(np.floor(s * 3.0 / scale)) * 73856093 ^ np.int64(np.floor(a * 3.0 / scale)) * 19349663
        return ((i * 2654435761) & 0xFFFF) / 65535.0
    return 0.0


@numba.njit(cache=True, fastmath=True)
def draw_capsules(
    img: np.ndarray,  # (H, W, 3) float32, drawn over
    zbuf: np.ndarray,  # (H, W) float32 depth in mm, inf where empty
    part: np.ndarray,  # (H, W) int16 index of the capsule seen, -1 where none
    cover: np.ndarray,  # (H, W) float32 body coverage 0..1
    caps: np.ndarray,  # (P, N_FIELDS) float32
    mats: np.ndarray,  # (P,) int64 material index per capsule
    materials: np.ndarray,  # (M, 8) float32: RGB, second RGB, pattern, scale mm
    to_light: np.ndarray,  # (3,) unit vector towards the light, camera frame
    ambient: float,
) -> None:
    H, W = zbuf.shape
    P = caps.shape[0]
    # Painter's order, far to near, so that anti-aliased edges blend over what lies behind them.
    depth = np.empty(P)
    for i in range(P):
        depth[i] = 0.5 * (caps[i, Z0] + caps[i, Z1])
    order = np.argsort(-depth)
    for oi in range(P):
        i = order[oi]
        x0, y0, x1, y1 = caps[i, X0], caps[i, Y0], caps[i, X1], caps[i, Y1]
        pr0, pr1 = caps[i, PR0], caps[i, PR1]
        if pr0 <= 0.0 and pr1 <= 0.0:
            continue
        m = mats[i]
        xmin = max(int(np.floor(min(x0 - pr0, x1 - pr1) - 1.0)), 0)
        xmax = min(int(np.ceil(max(x0 + pr0, x1 + pr1) + 1.0)), W - 1)
        ymin = max(int(np.floor(min(y0 - pr0, y1 - pr1) - 1.0)), 0)
        ymax = min(int(np.ceil(max(y0 + pr0, y1 + pr1) + 1.0)), H - 1)
        ax, ay = x1 - x0, y1 - y0
        a2 = ax * ax + ay * ay
        alen = np.sqrt(a2)
        reach2 = (max(pr0, pr1) + 0.5) ** 2
        kind = int(materials[m, 6])
        reach = max(pr0, pr1) + 1.0
        for y in range(ymin, ymax + 1):
            # The columns of this row within reach of the axis: the axis points whose height is
            # within reach of the row, widened by reach.
            ta, tb = 0.0, 1.0
            if abs(ay) > 1e-9:
                ta = (y - reach - y0) / ay
                tb = (y + reach - y0) / ay
                if ta > tb:
                    ta, tb = tb, ta
                ta, tb = max(ta, 0.0), min(tb, 1.0)
                if ta > tb:
                    continue
            xa, xb = x0 + ta * ax, x0 + tb * ax
            xlo = max(int(np.floor(min(xa, xb) - reach)), xmin)
            xhi = min(int(np.ceil(max(xa, xb) + reach)), xmax)
            for x in range(xlo, xhi + 1):
                qx, qy = x - x0, y - y0
                t = 0.0
                if a2 > 1e-12:
                    t = min(max((qx * ax + qy * ay) / a2, 0.0), 1.0)
                dx, dy = qx - t * ax, qy - t * ay
                d2 = dx * dx + dy * dy
                if d2 > reach2:  # cheap rejection of most of the bounding box
                    continue
                d = np.sqrt(d2)
                r = pr0 + t * (pr1 - pr0)
                cov = min(max(r + 0.5 - d, 0.0), 1.0)
                if cov <= 0.0 or r <= 0.0:
                    continue
                nx, ny = dx / r, dy / r
                nn = nx * nx + ny * ny
                nz = -np.sqrt(max(1.0 - nn, 0.0))
                radius_mm = caps[i, R0] + t * (caps[i, R1] - caps[i, R0])
                z = caps[i, Z0] + t * (caps[i, Z1] - caps[i, Z0]) + radius_mm * nz
                if z >= zbuf[y, x]:
                    continue
                # Texture coordinates: along the axis, and around it (from the signed lateral offset).
                mix = 0.0
                if kind != 0:
                    a = 0.0
                    if alen > 1e-6 and kind != 1:
                        lateral = (ax * dy - ay * dx) / (alen * r)
                        a = np.arcsin(min(max(lateral, -1.0), 1.0)) * radius_mm
                    mix = _pattern(kind, t * caps[i, LEN], a, materials[m, 7])
                light = ambient + (1.0 - ambient) * max(nx * to_light[0] + ny * to_light[1] + nz * to_light[2], 0.0)
                for ch in range(3):
                    colour = (materials[m, ch] * (1.0 - mix) + materials[m, 3 + ch] * mix) * light
                    img[y, x, ch] = cov * colour + (1.0 - cov) * img[y, x, ch]
                cover[y, x] = cov + (1.0 - cov) * cover[y, x]
                if cov >= 0.5:  # a fragment owns the pixel once it covers most of it
                    zbuf[y, x] = z
                    part[y, x] = i


@numba.njit(cache=True, fastmath=True, inline="always")
def _pixel_ray(inv_affine, R, f, c, x, y):
    """The world direction (not normalised) of the ray through output pixel (x, y): back through the
    output affine to frame pixels, through the undistorted pinhole, then R^T (rx, ry, 1)."""
    u = inv_affine[0, 0] * x + inv_affine[0, 1] * y + inv_affine[0, 2]
    v = inv_affine[1, 0] * x + inv_affine[1, 1] * y + inv_affine[1, 2]
    rx, ry = (u - c[0]) / f[0], (v - c[1]) / f[1]
    return (R[0, 0] * rx + R[1, 0] * ry + R[2, 0], R[0, 1] * rx + R[1, 1] * ry + R[2, 1],
            R[0, 2] * rx + R[1, 2] * ry + R[2, 2])


@numba.njit(cache=True, fastmath=True)
def draw_floor(
    img: np.ndarray,  # (H, W, 3) float32, drawn over
    inv_affine: np.ndarray,  # (2, 3): output pixel -> full-frame pixel
    R: np.ndarray,  # (3, 3) world to camera
    centre: np.ndarray,  # (3,) camera centre, world mm
    f: np.ndarray,
    c: np.ndarray,
    colour_a: np.ndarray,
    colour_b: np.ndarray,
    tile_mm: float,
    max_distance_mm: float,
) -> None:
    """A tiled floor on the world plane z = 0, seen through the (undistorted) camera."""
    H, W = img.shape[0], img.shape[1]
    for y in range(H):
        for x in range(W):
            wx, wy, wz = _pixel_ray(inv_affine, R, f, c, x, y)
            if wz >= -1e-6:
                continue
            s = -centre[2] / wz
            px, py = centre[0] + s * wx, centre[1] + s * wy
            dist = s * np.sqrt(wx * wx + wy * wy + wz * wz)
            if dist > max_distance_mm:
                continue
            checker = (np.floor(px / tile_mm) + np.floor(py / tile_mm)) % 2
            fade = min(dist / max_distance_mm, 1.0)  # far floor fades into the haze of the scene
            for ch in range(3):
                col = colour_a[ch] if checker == 0 else colour_b[ch]
                img[y, x, ch] = (1.0 - fade) * col + fade * img[y, x, ch]


@numba.njit(cache=True)
def draw_capsules_batch(imgs, zbuf, part, cover, caps, mats, materials, to_light, ambient):
    """``draw_capsules`` over a batch: every argument gains a leading batch dimension."""
    for b in range(imgs.shape[0]):
        draw_capsules(imgs[b], zbuf[b], part[b], cover[b], caps[b], mats[b], materials[b], to_light[b], ambient[b])


@numba.njit(cache=True)
def draw_floor_batch(imgs, inv_affine, R, centre, f, c, colours, tile_mm, max_distance_mm, enabled):
    """``draw_floor`` over a batch, where ``enabled``; colours: (B, 2, 3)."""
    for b in range(imgs.shape[0]):
        if enabled[b]:
            draw_floor(imgs[b], inv_affine[b], R[b], centre[b], f[b], c[b], colours[b, 0], colours[b, 1],
                       tile_mm[b], max_distance_mm[b])


# Background shape table columns (output pixels): kind, x, y, sx, sy, angle (rad), r, g, b, thickness.
SHAPE_NONE, SHAPE_RECT, SHAPE_ELLIPSE, SHAPE_LINE, SHAPE_POST = range(5)
N_SHAPE_FIELDS = 10


@numba.njit(cache=True, fastmath=True)
def paint_backgrounds(imgs, gradient, direction, blotch, blotch_amp, shapes):
    """Procedural backgrounds into (B, H, W, 3) float32 images.

    gradient (B, 2, 3): colours at the two ends of a ramp along ``direction`` (B, 2); blotch
    (B, gh, gw, 3): a coarse grid of offsets in -1..1, bilinearly upsampled and scaled by blotch_amp
    (B,); shapes (B, S, N_SHAPE_FIELDS) drawn in order over that, with anti-aliased edges.
    """
    B, H, W = imgs.shape[0], imgs.shape[1], imgs.shape[2]
    gh, gw = blotch.shape[1], blotch.shape[2]
    x0s = np.empty(W, dtype=np.int64)
    fxs = np.empty(W)
    for x in range(W):
        gx = x * (gw - 1) / max(W - 1, 1)
        x0s[x] = min(int(gx), gw - 2)
        fxs[x] = gx - x0s[x]
    row = np.empty((gw, 3))
    for b in range(B):
        dx, dy = direction[b, 0], direction[b, 1]
        lo = min(0.0, dx * (W - 1)) + min(0.0, dy * (H - 1))
        hi = max(0.0, dx * (W - 1)) + max(0.0, dy * (H - 1))
        span = max(hi - lo, 1e-6)
        g0, g1, amp = gradient[b, 0], gradient[b, 1], blotch_amp[b]
        for y in range(H):
            gy = y * (gh - 1) / max(H - 1, 1)
            y0 = min(int(gy), gh - 2)
            fy = gy - y0
            for j in range(gw):  # the blotch grid interpolated to this row
                for ch in range(3):
                    row[j, ch] = amp * ((1 - fy) * blotch[b, y0, j, ch] + fy * blotch[b, y0 + 1, j, ch])
            for x in range(W):
                t = (dx * x + dy * y - lo) / span
                x0, fx = x0s[x], fxs[x]
                for ch in range(3):
                    v = g0[ch] + t * (g1[ch] - g0[ch]) + (1 - fx) * row[x0, ch] + fx * row[x0 + 1, ch]
                    imgs[b, y, x, ch] = min(max(v, 0.0), 1.0)
        for s in range(shapes.shape[1]):
            kind = int(shapes[b, s, 0])
            if kind == SHAPE_NONE:
                continue
            cx, cy, sx, sy = shapes[b, s, 1], shapes[b, s, 2], shapes[b, s, 3], shapes[b, s, 4]
            ca, sa = np.cos(shapes[b, s, 5]), np.sin(shapes[b, s, 5])
            half = shapes[b, s, 9] * 0.5
            if kind == SHAPE_POST:
                x0b, x1b, y0b, y1b = cx - 1.0, cx + sx + 1.0, 0.0, H - 1.0
            elif kind == SHAPE_LINE:
                x0b, x1b = min(cx, cx + sx) - half - 1, max(cx, cx + sx) + half + 1
                y0b, y1b = min(cy, cy + sy) - half - 1, max(cy, cy + sy) + half + 1
            else:
                reach = np.sqrt(sx * sx + sy * sy) + 1.0
                x0b, x1b, y0b, y1b = cx - reach, cx + reach, cy - reach, cy + reach
            for y in range(max(int(y0b), 0), min(int(y1b) + 1, H)):
                for x in range(max(int(x0b), 0), min(int(x1b) + 1, W)):
                    if kind == SHAPE_RECT:  # centred box, rotated
                        u = abs(ca * (x - cx) + sa * (y - cy)) - sx
                        v = abs(-sa * (x - cx) + ca * (y - cy)) - sy
                        dist = max(u, v)
                    elif kind == SHAPE_ELLIPSE:  # approximate signed distance of a rotated ellipse
                        u = (ca * (x - cx) + sa * (y - cy)) / sx
                        v = (-sa * (x - cx) + ca * (y - cy)) / sy
                        dist = (np.sqrt(u * u + v * v) - 1.0) * min(sx, sy)
                    elif kind == SHAPE_LINE:
                        ax, ay = sx, sy
                        a2 = max(ax * ax + ay * ay, 1e-9)
                        t = min(max(((x - cx) * ax + (y - cy) * ay) / a2, 0.0), 1.0)
                        ex, ey = x - cx - t * ax, y - cy - t * ay
                        dist = np.sqrt(ex * ex + ey * ey) - half
                    else:  # post: a full-height vertical band
                        dist = max(cx - x, x - (cx + sx))
                    cov = min(max(0.5 - dist, 0.0), 1.0)
                    if cov > 0.0:
                        for ch in range(3):
                            imgs[b, y, x, ch] = cov * shapes[b, s, 6 + ch] + (1 - cov) * imgs[b, y, x, ch]


@numba.njit(cache=True, inline="always")
def _hash01(seed: np.int64, i: np.int64) -> float:
    """A uniform in [0, 1) from (seed, i): SplitMix64's finaliser."""
    z = np.uint64(seed) * np.uint64(0x9E3779B97F4A7C15) + np.uint64(i) * np.uint64(0xD1B54A32D192ED03)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)) * (1.0 / 9007199254740992.0)


@numba.njit(cache=True, fastmath=True)
def finish_images(imgs, out, contrast, brightness, saturation, gains, noise, seeds):
    """(B, H, W, 3) float32 images in 0..1 -> uint8 ``out``: contrast about the image mean,
    brightness, saturation about the grey level, per-channel gains, and sensor noise of standard
    deviation ``noise`` (in 0..255 units; uniform, from one hash per pixel, seeded per image)."""
    B, H, W = imgs.shape[0], imgs.shape[1], imgs.shape[2]
    root12 = np.sqrt(12.0)
    for b in range(B):
        mean = imgs[b].mean()
        sat, con, bri, sd = saturation[b], contrast[b], brightness[b], noise[b] * root12
        scale = np.empty(3)
        for ch in range(3):
            scale[ch] = gains[b, ch] * 255.0
        for y in range(H):
            for x in range(W):
                grey = (imgs[b, y, x, 0] + imgs[b, y, x, 1] + imgs[b, y, x, 2]) / 3.0
                h = 0.0
                if sd > 0.0:
                    h = _hash01(seeds[b], y * W + x)
                for ch in range(3):
                    v = grey + (imgs[b, y, x, ch] - grey) * sat
                    v = ((v - mean) * con + mean * bri) * scale[ch]
                    if sd > 0.0:  # three uniforms from the one hash: fractional parts of shifted copies
                        u = h * (1 << (7 * ch))
                        u -= np.floor(u)
                        v += (u - 0.5) * sd
                    out[b, y, x, ch] = np.uint8(min(max(v + 0.5, 0.0), 255.0))


@numba.njit(cache=True, fastmath=True, inline="always")
def _texel(texture, u, v, scale_mm):
    """The texture's colour at world coordinates (u, v) mm, tiled every ``scale_mm`` across its width."""
    th, tw = texture.shape[0], texture.shape[1]
    i = int(np.floor(v / scale_mm * tw)) % th
    j = int(np.floor(u / scale_mm * tw)) % tw
    return texture[i, j, 0], texture[i, j, 1], texture[i, j, 2]


@numba.njit(cache=True, fastmath=True)
def draw_room(img, inv_affine, R, centre, f, c, bounds, height, colours, textures, texture_index, scale_mm):
    """A room seen through the (undistorted) camera, which stands inside it: floor (z = 0), ceiling
    (z = ``height``) and four walls at x = bounds[0], bounds[1] and y = bounds[2], bounds[3] (mm).
    Surface k (0 floor, 1 ceiling, 2-5 walls) has colour colours[k] (3,) multiplied by its texture
    textures[texture_index[k]] (T, S, S, 3 in 0..1; index -1: plain), tiled every scale_mm[k]; walls
    darken towards the floor and get a darker skirting band, so depth and corners read."""
    H, W = img.shape[0], img.shape[1]
    for y in range(H):
        for x in range(W):
            wx, wy, wz = _pixel_ray(inv_affine, R, f, c, x, y)
            best, surface = 1e30, -1
            if wz < -1e-9:
                best, surface = -centre[2] / wz, 0
            elif wz > 1e-9:
                best, surface = (height - centre[2]) / wz, 1
            for k in range(4):
                d = wx if k < 2 else wy
                if abs(d) < 1e-9:
                    continue
                s = (bounds[k] - (centre[0] if k < 2 else centre[1])) / d
                if 0 < s < best:
                    best, surface = s, 2 + k
            if surface < 0:
                continue
            px, py, pz = centre[0] + best * wx, centre[1] + best * wy, centre[2] + best * wz
            if surface <= 1:
                tu, tv, shade = px, py, 1.0
            elif surface <= 3:
                tu, tv, shade = py, pz, 0.75 + 0.25 * min(pz / height, 1.0)
            else:
                tu, tv, shade = px, pz, 0.75 + 0.25 * min(pz / height, 1.0)
            if surface >= 2 and pz < 100.0:
                shade *= 0.6  # skirting board
            t = texture_index[surface]
            r, g, b = 1.0, 1.0, 1.0
            if t >= 0:
                r, g, b = _texel(textures[t], tu, tv, scale_mm[surface])
            img[y, x, 0] = colours[surface, 0] * r * shade
            img[y, x, 1] = colours[surface, 1] * g * shade
            img[y, x, 2] = colours[surface, 2] * b * shade


@numba.njit(cache=True, parallel=True)
def draw_room_batch(imgs, inv_affine, R, centre, f, c, bounds, height, colours, textures, texture_index, scale_mm,
                    enabled):
    """``draw_room`` over a batch where ``enabled``, samples in parallel."""
    for b in numba.prange(imgs.shape[0]):
        if enabled[b]:
            draw_room(imgs[b], inv_affine[b], R[b], centre[b], f[b], c[b], bounds[b], height[b], colours[b],
                      textures, texture_index[b], scale_mm[b])
