"""Skinned people for the renderer: Anny bodies (``pose3d.body.anny``) with skin, clothes and hair.

Everything a person looks like is a per-vertex albedo on the baked mesh, so garment edges follow
the mesh smoothly (each edge is a soft ramp along the body's own chain coordinate, never a per-face
step): the baked ``region_weights`` say which part a vertex belongs to (torso, upper arm, forearm,
hand, thigh, shin, foot, neck, head) and ``chain_coord`` where along its limb or trunk it lies (arms
and legs: 0 shoulder/hip, 1 elbow/knee, 2 wrist/ankle; trunk and head by height: 0 hips, 1 neck
base, 2 crown). From these:

- **skin**: a tone across the human range (``SKIN_TONES``), with a blotchy per-vertex variation and
  slightly darker extremities;
- **top**: sleeveless, short or long sleeves, its hem at the hips or a little above; or none
  (``bare_tops``, off by default);
- **bottom**: trousers, shorts, or a skirt (a dress when it takes the top's colour); the skirt is
  painted on the thighs (no cloth geometry yet: it reads as tight);
- **patterns** on the top and the bottom, each on its own: plain, stripes (bands across the trunk,
  rings round the limbs, 2-6 per chain unit), a print (a fixed per-vertex speckle thresholded: blobs
  of a second colour a few triangles wide) or colour blocks (front and back, or left and right, in
  two colours) — a second colour mixed in through the same smooth ramps as the garment edges;
- **shoes** over the feet and ankles;
- **hair**: bald, short, medium or long, painted on the scalp (and down the back for long hair) and
  given volume by pushing those vertices outwards along their normals by the style's thickness.

All choices are per sample from ``Draws`` (reproducible, batch-independent).
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from pose3d.body.anny import AnnyBody
from pose3d.synth.body import SKIN_TONES, clothing_colours
from pose3d.synth.draws import Draws
from pose3d.synth.mesh_raster import vertex_normals

PATTERNS = ("plain", "stripes", "print", "blocks")
PATTERNED = 0.5  # the default share of tops and bottoms with a pattern
PATTERN_SHARES = (0.5, 0.3, 0.2)  # stripes, print, blocks among the patterned ones


def pattern_probability(patterned: float = PATTERNED) -> tuple[float, ...]:
    """The probability of each of ``PATTERNS`` when a share ``patterned`` (0..1) of garments has one."""
    return (1.0 - patterned, *(patterned * s for s in PATTERN_SHARES))
HAIR_STYLES = ("bald", "short", "medium", "long")
HAIR_PROBABILITY = (0.08, 0.42, 0.25, 0.25)
HAIR_THICKNESS_MM = {"bald": 0.0, "short": 6.0, "medium": 18.0, "long": 22.0}
EDGE = 0.06  # half-width of a garment edge's ramp, in chain units (about 1.5 cm on an arm)
BARE_HEM = 4.0  # a top's hem this far up the chain covers nothing (the chain coordinate ends at 3)


@dataclass(frozen=True)
class MeshLooks:
    """B people: which baked body (row of the shape table), per-vertex albedo (RGB 0..1) and hair
    thickness (mm, outwards along the normal)."""

    shape_rows: np.ndarray  # (B,) int
    albedo: np.ndarray  # (B, V, 3) float32
    hair_mm: np.ndarray  # (B, V) float32

    def __len__(self) -> int:
        return len(self.shape_rows)


def _ramp(x: np.ndarray, edge: np.ndarray | float) -> np.ndarray:
    """Smooth step from 0 (x < edge - EDGE) to 1 (x > edge + EDGE)."""
    t = np.clip((x - np.asarray(edge)) / (2 * EDGE) + 0.5, 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


@dataclass(frozen=True)
class _BodyParts:
    """Per-vertex facts of a baked body that every outfit reads (computed once per body)."""

    coord: np.ndarray  # (V,) chain coordinate
    arm: np.ndarray  # (V,) region weights
    leg: np.ndarray
    trunk: np.ndarray
    scalp: np.ndarray  # (V,) where hair grows
    long_back: np.ndarray  # (V,) where long hair falls (the back of the neck and shoulders)
    shoes: np.ndarray  # (V,) below the ankles
    extremity: np.ndarray  # (V,) 1, slightly less on hands and feet
    fields: np.ndarray  # (N_FIELDS, V) smooth fields over the body, mixed per person for blotchy skin
    speckle: np.ndarray  # (V,) fixed uniform noise per vertex (prints)
    back: np.ndarray  # (V,) 1 on the back half of the body, 0 on the front (colour blocks)
    side: np.ndarray  # (V,) 1 on the body's left, 0 on its right (colour blocks)


N_FIELDS = 6
_PARTS: dict[str, _BodyParts] = {}


def _parts(body: AnnyBody) -> _BodyParts:
    if body.path not in _PARTS:
        r = {n: body.region_weights[:, i] for i, n in enumerate(body.region_names)}
        coord = body.chain_coord
        rest = body.template_mm  # the front of the body is -Y
        arm = r["upper_arm"] + r["forearm"] + r["hand"]
        trunk = r["torso"]
        head = r["head"] + r["neck"]
        back = _ramp(rest[:, 1], rest[:, 1].mean())  # 1 on the back half
        rng = np.random.default_rng(0)
        wave = rng.uniform(60.0, 160.0, (N_FIELDS, 3))
        phase = rng.uniform(0.0, 2 * np.pi, (N_FIELDS, 3))
        fields = np.prod(np.sin(rest[None] / wave[:, None, :] + phase[:, None, :]), axis=-1)  # (N, V)
        _PARTS[body.path] = _BodyParts(
            coord=coord, arm=arm, leg=r["thigh"] + r["shin"] + r["foot"], trunk=trunk,
            scalp=head * _ramp(coord, 1.62 - 0.3 * back),
            long_back=(head + trunk) * back * _ramp(coord, 0.85) * (1 - _ramp(coord, 1.7)) * (1 - arm),
            shoes=(r["thigh"] + r["shin"] + r["foot"]) * _ramp(coord, 1.9),
            extremity=1.0 - 0.08 * (r["hand"] + r["foot"]),
            fields=fields / np.abs(fields).max(axis=1, keepdims=True),
            speckle=rng.uniform(0.0, 1.0, len(coord)), back=back, side=_ramp(rest[:, 0], 0.0),
        )
    return _PARTS[body.path]


def sample_mesh_looks(draws: Draws, body: AnnyBody, active: np.ndarray | None = None,
                      patterned: float = PATTERNED, bare_tops: float = 0.0) -> MeshLooks:
    """One body and one outfit per sample. Every sample's draws are taken (so a sample's looks do
    not depend on the others), but the per-vertex colours are computed only where ``active`` (B,)
    (the people who will be drawn); the others stay black. ``patterned``: the share of tops and
    bottoms with a pattern; it changes no other draw (0 gives the same people in plain clothes).
    ``bare_tops``: the share of people with no top (skin from the waistband up: sport, summer, a
    beach), drawn last: the same draws give the same person with and without a top; 0 takes no draw."""
    B = draws.batch
    act = np.ones(B, bool) if active is None else np.asarray(active, bool)
    parts = _parts(body)
    rows = draws.integers(body.shape_table.shape[0])
    tone = draws.uniform(0, len(SKIN_TONES) - 1)
    i = tone.astype(int)
    nxt = np.minimum(i + 1, len(SKIN_TONES) - 1)
    skin = SKIN_TONES[i] + (tone - i)[:, None] * (SKIN_TONES[nxt] - SKIN_TONES[i])  # (B, 3)
    mix = draws.uniform(-1.0, 1.0, n=N_FIELDS) / np.sqrt(N_FIELDS)
    top = clothing_colours(draws)
    bottom = clothing_colours(draws)
    shoes = np.where(draws.bernoulli(0.5)[:, None], clothing_colours(draws) * 0.5, clothing_colours(draws))
    sleeve = np.choose(draws.choice([0.15, 0.45, 0.4]), [draws.uniform(0.02, 0.1), draws.uniform(0.35, 0.75),
                                                          draws.uniform(1.85, 2.0)])
    hem = draws.uniform(-0.05, 0.25)  # top's lower edge on the trunk (0: hip joints)
    kind = draws.choice([0.5, 0.25, 0.25])  # trousers, shorts, skirt
    leg_end = np.choose(kind, [draws.uniform(1.85, 1.98), draws.uniform(0.35, 0.85), draws.uniform(0.5, 1.4)])
    dress = (kind == 2) & draws.bernoulli(0.5)
    bottom = np.where(dress[:, None], top, bottom)
    waist = hem + draws.uniform(0.05, 0.15)  # the bottom's upper edge, under the top
    neckline = draws.uniform(0.9, 1.0)
    style = draws.choice(HAIR_PROBABILITY)
    dark = clothing_colours(draws) * 0.25
    fair = np.array([0.62, 0.5, 0.3]) * draws.uniform(0.5, 1.2)[:, None]
    grey = np.full(3, 0.6) * draws.uniform(0.7, 1.2)[:, None]
    hair_colour = np.where(draws.bernoulli(0.75)[:, None], dark, np.where(draws.bernoulli(0.7)[:, None], fair, grey))

    thickness = np.array([HAIR_THICKNESS_MM[s] for s in HAIR_STYLES])[style]
    # Patterns of the top and the bottom: kind, second colour, stripe frequency and phase each.
    patterns = []
    for _ in range(2):
        patterns += [draws.choice(pattern_probability(patterned))[:, None], clothing_colours(draws),
                     draws.uniform(2.0, 6.0)[:, None], draws.uniform(0.0, 1.0)[:, None]]
    if bare_tops > 0:  # no top: its hem above the neck, its sleeves ending before they start (the last
        bare = draws.bernoulli(bare_tops)  # draw: everything else about the person stays as it was)
        hem, sleeve = np.where(bare, BARE_HEM, hem), np.where(bare, -1.0, sleeve)
    # Per person: skin (3), top, bottom, shoes, hair colours (3 each), the edges and the hair, then
    # the two garments' patterns (6 each).
    params = np.concatenate([skin, top, bottom, shoes, hair_colour, np.stack(
        [sleeve, hem, leg_end, waist, neckline, style, thickness], axis=-1), *patterns], axis=-1)[act].astype(np.float64)
    full_albedo = np.zeros((B, len(parts.coord), 3), np.float32)
    hair_mm = np.zeros((B, len(parts.coord)), np.float32)
    albedo, hair = np.empty((len(params),) + full_albedo.shape[1:], np.float32), np.empty((len(params),) + hair_mm.shape[1:], np.float32)
    _dress(params, mix[act] @ parts.fields, parts.coord, parts.arm, parts.leg, parts.trunk, parts.scalp, parts.long_back,
           parts.shoes, parts.extremity, np.stack([parts.speckle, parts.back, parts.side]), albedo, hair)
    full_albedo[act], hair_mm[act] = albedo, hair
    return MeshLooks(rows, full_albedo, hair_mm)


@numba.njit(cache=True, inline="always")
def _smooth(x: float, edge: float) -> float:
    """``_ramp`` for one value."""
    t = min(max((x - edge) / (2 * EDGE) + 0.5, 0.0), 1.0)
    return t * t * (3.0 - 2.0 * t)


@numba.njit(cache=True, inline="always")
def _pattern(kind: int, frequency: float, phase: float, c: float, speckle: float, back: float, side: float) -> float:
    """How much of a garment's second colour a vertex takes (0..1): see PATTERNS."""
    if kind == 1:  # stripes across the chain coordinate, with soft edges
        wave = 0.5 + 0.5 * np.sin(2.0 * np.pi * (c * frequency + phase))
        return min(max((wave - 0.5) * 4.0 + 0.5, 0.0), 1.0)
    if kind == 2:  # a print: blobs where the fixed speckle is high
        return min(max((speckle - 0.62) * 8.0, 0.0), 1.0)
    if kind == 3:  # colour blocks: back against front, or left against right
        return back if phase < 0.5 else side
    return 0.0


@numba.njit(cache=True)
def _dress(params, blotch, coord, arm, leg, trunk, scalp, long_back, shoes, extremity, marks, albedo, hair):
    """Per person n and vertex v: skin with blotches (``blotch`` (n, V), +-6 %) and darker extremities,
    then bottom, top, shoes and hair over it, each through smooth edges along ``coord``; writes
    ``albedo`` (n, V, 3) and ``hair`` (n, V) thickness in mm. ``params`` rows: skin, top, bottom,
    shoes and hair RGB, then sleeve end, top hem, leg end, waist, neckline, hair style, thickness, then
    the top's and the bottom's pattern (kind, second RGB, frequency, phase). ``marks`` (3, V): the
    per-vertex speckle, back and side fields the patterns read."""
    for n in range(params.shape[0]):
        sleeve, hem, leg_end, waist, neckline = params[n, 15], params[n, 16], params[n, 17], params[n, 18], params[n, 19]
        style, thick = int(params[n, 20]), params[n, 21]
        for v in range(coord.shape[0]):
            c = coord[v]
            top_w = min(max(trunk[v] * _smooth(c, hem) * (1.0 - _smooth(c, neckline)) + arm[v] * (1.0 - _smooth(c, sleeve)),
                            0.0), 1.0)
            bottom_w = min(max((trunk[v] * (1.0 - _smooth(c, waist)) + leg[v] * (1.0 - _smooth(c, leg_end)))
                               * (1.0 - top_w), 0.0), 1.0)
            hair_w = 0.0 if style == 0 else (max(scalp[v], long_back[v]) if style == 3 else scalp[v])
            shade = (1.0 + 0.06 * blotch[n, v]) * extremity[v]
            top_p = _pattern(int(params[n, 22]), params[n, 26], params[n, 27], c, marks[0, v], marks[1, v], marks[2, v])
            bottom_p = _pattern(int(params[n, 28]), params[n, 32], params[n, 33], c, marks[0, (v * 7) % coord.shape[0]],
                                marks[1, v], marks[2, v])
            for k in range(3):
                a = params[n, k] * shade
                garment = params[n, 6 + k] * (1.0 - bottom_p) + bottom_p * params[n, 29 + k]
                a = a * (1.0 - bottom_w) + bottom_w * garment
                garment = params[n, 3 + k] * (1.0 - top_p) + top_p * params[n, 23 + k]
                a = a * (1.0 - top_w) + top_w * garment
                a = a * (1.0 - shoes[v]) + shoes[v] * params[n, 9 + k]
                a = a * (1.0 - hair_w) + hair_w * params[n, 12 + k]
                albedo[n, v, k] = min(max(a, 0.0), 1.0)
            hair[n, v] = hair_w * thick


def add_hair_volume(vertices: np.ndarray, faces: np.ndarray, hair_mm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(B, V, 3) posed vertices pushed outwards along their normals by (B, V) hair thickness (mm);
    also returns the (B, V, 3) unit normals of the body (used for shading: the hair's shell is
    nearly parallel to the scalp)."""
    out = np.array(vertices, dtype=np.float32, copy=True)
    normals = np.empty_like(out)
    for b in range(out.shape[0]):
        normals[b] = vertex_normals(out[b], faces)
        if (hair_mm[b] > 0).any():
            out[b] += normals[b] * hair_mm[b][:, None]
    return out, normals


def shapes_of(body: AnnyBody, looks: MeshLooks) -> np.ndarray:
    """(B, K) shape coefficients of the people."""
    return body.shape_table[looks.shape_rows]


def rest_leg_length_mm(body: AnnyBody, shape: np.ndarray) -> np.ndarray:
    """(B,) hip-joint-to-ankle length of each rest body (its straight legs), mm."""
    from pose3d.body.anny import rest_bone_heads_mm

    heads = rest_bone_heads_mm(body, shape)
    hip = heads[:, [body.bone_index("upperleg01.L"), body.bone_index("upperleg01.R")]].mean(1)
    ankle = heads[:, [body.bone_index("foot.L"), body.bone_index("foot.R")]].mean(1)
    return np.linalg.norm(hip - ankle, axis=-1)
