"""A volumetric, clothed body built from 17 joints: tapered capsules with materials.

Every part is a capsule between two 3D points with a radius at each end (mm): limbs along their
bones, a torso of several capsules spanning hips to shoulders, neck, head (with hair), hands along
the forearms and feet pointing forward, square to the shins. Clothing decides each part's material:
a shirt with long or short sleeves, trousers or shorts, shoes, skin elsewhere. Everything is batched:
B bodies at once, always ``N_CAPSULES`` capsules each (a bald head's hair capsule has radius 0).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pose3d.skeleton import H36M17
from pose3d.synth.draws import Draws

# Materials: rows of an appearance's material table.
SKIN, SHIRT, TROUSERS, SHOES, HAIR = range(5)
N_MATERIALS = 5
# Patterns of a material (see raster._pattern).
PLAIN, BANDS, STRIPES, CHECKS, SPECKLE = range(5)

# Skin tones (RGB in 0..1) from light to dark.
SKIN_TONES = np.array(
    [[0.96, 0.80, 0.69], [0.89, 0.69, 0.55], [0.78, 0.57, 0.42], [0.63, 0.44, 0.31], [0.45, 0.30, 0.20], [0.30, 0.20, 0.14]]
)
J = {name: i for i, name in enumerate(H36M17.names)}

# Part groups whose radii vary together: legs, arms, torso, neck, head, feet.
LEGS, ARMS, TORSO, NECK, HEAD, FEET = range(6)


@dataclass(frozen=True)
class Appearance:
    """B people's looks. materials: (B, N_MATERIALS, 8) rows of base RGB, second RGB, pattern, scale
    (mm); radius: (B, 6) radius factor per part group (build x part); the rest (B,) flags."""

    materials: np.ndarray
    radius: np.ndarray
    long_sleeves: np.ndarray
    long_trousers: np.ndarray
    hair: np.ndarray

    def __len__(self) -> int:
        return self.materials.shape[0]


def hsv_colours(h: np.ndarray, s: np.ndarray, v: np.ndarray) -> np.ndarray:
    """(B,) hue, saturation, value in 0..1 -> (B, 3) RGB."""
    k = (np.array([5.0, 3.0, 1.0]) + h[:, None] * 6.0) % 6.0
    return v[:, None] - (v * s)[:, None] * np.clip(np.minimum(k, 4.0 - k), 0.0, 1.0)


def clothing_colours(draws: Draws) -> np.ndarray:
    """(B, 3) colours of clothes: any hue, often muted, from near-black to near-white."""
    return hsv_colours(draws.uniform(), draws.uniform() ** 1.5, draws.uniform(0.08, 0.95))


def sample_appearances(draws: Draws) -> Appearance:
    B = draws.batch
    materials = np.zeros((B, N_MATERIALS, 8))
    tone = draws.uniform(0, len(SKIN_TONES) - 1)
    i = tone.astype(int)
    nxt = np.minimum(i + 1, len(SKIN_TONES) - 1)
    skin = SKIN_TONES[i] + (tone - i)[:, None] * (SKIN_TONES[nxt] - SKIN_TONES[i])
    materials[:, SKIN, :3] = skin
    materials[:, SKIN, 3:6] = skin * 0.9
    materials[:, SKIN, 7] = 50.0
    for m in (SHIRT, TROUSERS, SHOES):
        base = clothing_colours(draws)
        other = clothing_colours(draws)
        two_colours = draws.bernoulli(0.6)
        materials[:, m, :3] = base
        materials[:, m, 3:6] = np.where(two_colours[:, None], other, base * draws.uniform(0.5, 0.9)[:, None])
        materials[:, m, 6] = draws.choice([0.35, 0.15, 0.15, 0.15, 0.2])  # PLAIN..SPECKLE
        materials[:, m, 7] = draws.uniform(20.0, 90.0)
    dark_hair = clothing_colours(draws) * 0.3
    fair_hair = np.array([0.6, 0.5, 0.3]) * draws.uniform(0.5, 1.2)[:, None]
    hair = np.where(draws.bernoulli(0.8)[:, None], dark_hair, fair_hair)
    materials[:, HAIR, :3] = hair
    materials[:, HAIR, 3:6] = hair * 0.8
    materials[:, HAIR, 6] = SPECKLE
    materials[:, HAIR, 7] = 8.0
    materials[..., :6] = np.clip(materials[..., :6], 0.0, 1.0)
    build = draws.uniform(0.85, 1.25)  # slim to broad
    return Appearance(
        materials=materials.astype(np.float32),
        radius=build[:, None] * draws.uniform(0.9, 1.1, n=6),
        long_sleeves=draws.bernoulli(0.5),
        long_trousers=draws.bernoulli(0.7),
        hair=draws.bernoulli(0.9),
    )


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-9)


def _orthogonal(v: np.ndarray, axis: np.ndarray) -> np.ndarray:
    """(B, 3) part of ``v`` orthogonal to the unit ``axis``, normalised."""
    w = v - np.sum(v * axis, axis=-1, keepdims=True) * axis
    return _unit(w + 1e-6 * np.cross(axis, [0.577, 0.577, 0.577]))  # never exactly zero


# (name, group, base radius at each end in mm)
LIMBS = (
    ("thigh", LEGS, 75.0, 52.0),
    ("shin", LEGS, 48.0, 36.0),
    ("upper_arm", ARMS, 46.0, 38.0),
    ("forearm", ARMS, 36.0, 27.0),
    ("hand", ARMS, 32.0, 26.0),
    ("foot", FEET, 40.0, 32.0),
    ("flank", TORSO, 70.0, 62.0),
)
N_CAPSULES = 2 * len(LIMBS) + 7


def body_capsules(pose: np.ndarray, look: Appearance) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(B, 17, 3) world poses in mm (Z up) -> capsule ends (B, P, 2, 3), radii (B, P, 2) in mm, and
    materials (B, P), with P = N_CAPSULES."""
    p = np.asarray(pose, dtype=np.float64)
    B = p.shape[0]
    rad = look.radius  # (B, 6)
    ends = np.empty((B, N_CAPSULES, 2, 3))
    radii = np.empty((B, N_CAPSULES, 2))
    mats = np.empty((B, N_CAPSULES), dtype=np.int64)
    k = 0

    def add(a, b, r0, r1, group, mat):
        nonlocal k
        ends[:, k, 0], ends[:, k, 1] = a, b
        radii[:, k, 0], radii[:, k, 1] = r0 * rad[:, group], r1 * rad[:, group]
        mats[:, k] = mat
        k += 1

    up = _unit(p[:, J["Thorax"]] - p[:, J["Hip"]])
    forward = _unit(np.cross(p[:, J["LHip"]] - p[:, J["RHip"]], up))  # the way the chest faces
    sleeve = np.where(look.long_sleeves, SHIRT, SKIN)
    leg_cloth = np.where(look.long_trousers, TROUSERS, SKIN)
    r = {name: (r0, r1) for name, _, r0, r1 in LIMBS}
    for side in "LR":
        hip, knee, ankle = (p[:, J[side + n]] for n in ("Hip", "Knee", "Foot"))
        shoulder, elbow, wrist = (p[:, J[side + n]] for n in ("Shoulder", "Elbow", "Wrist"))
        add(hip, knee, *r["thigh"], LEGS, TROUSERS)
        add(knee, ankle, *r["shin"], LEGS, leg_cloth)
        add(shoulder, elbow, *r["upper_arm"], ARMS, SHIRT)
        add(elbow, wrist, *r["forearm"], ARMS, sleeve)
        along = _unit(wrist - elbow)
        add(wrist + 20.0 * along, wrist + 90.0 * along, *r["hand"], ARMS, SKIN)
        # The foot points forward, square to the shin, from just behind the ankle to the toes.
        shin = _unit(ankle - knee)
        toe = _orthogonal(forward, shin)
        add(ankle - 35.0 * toe + 25.0 * shin, ankle + 150.0 * toe + 45.0 * shin, *r["foot"], FEET, SHOES)
        add(hip + 10.0 * up, shoulder - 40.0 * up, *r["flank"], TORSO, SHIRT)  # side of the trunk
    add(p[:, J["LHip"]], p[:, J["RHip"]], 72.0, 72.0, TORSO, TROUSERS)
    add(p[:, J["Hip"]], p[:, J["Spine"]], 112.0, 118.0, TORSO, SHIRT)
    add(p[:, J["Spine"]], p[:, J["Thorax"]] - 30.0 * up, 118.0, 112.0, TORSO, SHIRT)
    add(p[:, J["LShoulder"]], p[:, J["RShoulder"]], 58.0, 58.0, TORSO, SHIRT)
    add(p[:, J["Thorax"]] - 20.0 * up, p[:, J["Neck"]], 48.0, 42.0, NECK, SKIN)
    # Head: a short capsule centred behind the neck/nose point whose crown passes just above the
    # head-top joint (a marker on the head's surface); hair over its back and crown.
    axis = _unit(p[:, J["Head"]] - p[:, J["Neck"]])
    face = _orthogonal(forward, axis)
    r_head = 92.0 * rad[:, HEAD : HEAD + 1]
    centre = p[:, J["Head"]] - (r_head + 22.0 - 15.0) * axis - 15.0 * face
    add(centre - 22.0 * axis, centre + 22.0 * axis, 92.0, 87.0, HEAD, SKIN)
    hair_centre = centre + 12.0 * axis - 18.0 * face
    add(hair_centre - 10.0 * axis, hair_centre + 12.0 * axis, 96.0, 92.0, HEAD, HAIR)
    radii[:, k - 1] *= look.hair[:, None]  # no hair: a capsule of radius 0, skipped when drawn
    assert k == N_CAPSULES
    return ends, radii, mats
