"""Joint rotations that drive a body mesh: 21 "driver" joints, one convention for every mocap source.

A skinned body cannot be posed from 17 joint positions (they lose the twist of the upper arms,
forearms and thighs, and the hands and feet), so the pose bank also keeps, per frame, the world
orientation of 21 driver joints, named after what they move.

**Convention.** World frame: the pose bank's (Z up, mm, heading removed: the body faces -Y, its left
side on +X). ``R[d]`` (3 x 3) is the orientation of driver ``d``'s segment *relative to the rest
T-pose* of the Daz BVH skeleton (``REST_SEGMENT_MM``): every ``R`` is the identity in that T-pose,
and a vector ``v`` attached to the segment in the T-pose lies at ``R[d] @ v`` in the frame. The
T-pose: upright, facing -Y, arms out along +-X with the forearms turned 17 degrees forward, legs
down, feet forward. A body model poses a bone driven by ``d`` at world orientation ``R[d] @ C``,
where ``C`` takes the body's own rest bone onto the T-pose segment (``REST_SEGMENT_MM[d]``).

Sources: the Daz BVH body *is* that T-pose at rest (its global rotations are used as they are, turned
to the Z-up world); the 38-joint CMU body rests in a different pose (legs apart, arms level), so each
of its segments gets the smallest rotation from the T-pose direction onto its own rest direction.
"""

from __future__ import annotations

import numpy as np

#: The driver joints, in storage order; the Daz BVH joint each one is.
DAZ_JOINTS = {
    "pelvis": "hip", "abdomen": "abdomen", "chest": "chest", "neck": "neck", "head": "head",
    "l_collar": "lCollar", "l_upper_arm": "lShldr", "l_forearm": "lForeArm", "l_hand": "lHand",
    "r_collar": "rCollar", "r_upper_arm": "rShldr", "r_forearm": "rForeArm", "r_hand": "rHand",
    "l_buttock": "lButtock", "l_thigh": "lThigh", "l_shin": "lShin", "l_foot": "lFoot",
    "r_buttock": "rButtock", "r_thigh": "rThigh", "r_shin": "rShin", "r_foot": "rFoot",
}
DRIVERS = tuple(DAZ_JOINTS)

#: Each driver's segment in the Daz rest T-pose (Z-up world, mm): from the joint to its main child
#: (the head has no child: straight up). Read from the Daz skeleton shared by all 75 BVH clips.
REST_SEGMENT_MM = {
    "pelvis": (0.0, 7.3, 206.9), "abdomen": (0.0, 4.9, 117.0), "chest": (0.0, 21.9, 221.9),
    "neck": (-2.4, -12.2, 70.7), "head": (0.0, 0.0, 100.0),
    "l_collar": (87.8, -14.6, -19.5), "l_upper_arm": (281.7, -4.9, -17.1), "l_forearm": (225.9, -70.7, 7.7),
    "l_hand": (82.5, -34.1, 11.8),
    "r_collar": (-87.8, -14.6, -19.5), "r_upper_arm": (-281.7, -4.9, -17.1), "r_forearm": (-225.9, -70.7, 7.7),
    "r_hand": (-82.5, -34.1, 11.8),
    "l_buttock": (0.0, 21.9, -17.1), "l_thigh": (0.0, -7.3, -368.2), "l_shin": (-7.3, 51.2, -451.1),
    "l_foot": (11.2, -121.0, -37.0),
    "r_buttock": (0.0, 21.9, -17.1), "r_thigh": (0.0, -7.3, -368.2), "r_shin": (7.3, 51.2, -451.1),
    "r_foot": (-11.2, -121.0, -37.0),
}

ROTVEC_QUANTUM = np.pi / 32767.0  # rotation vectors are stored as int16 multiples of this (radians)


def rest_directions() -> np.ndarray:
    """(21, 3) unit T-pose segment directions, in ``DRIVERS`` order."""
    d = np.array([REST_SEGMENT_MM[n] for n in DRIVERS], dtype=np.float64)
    return d / np.linalg.norm(d, axis=-1, keepdims=True)


#: For the 38-joint CMU body: the joint whose rotation orients each driver's segment, and that
#: segment's child (the CMU format places joint i at the end of bone i and orients the bones of
#: joint i's children with R_i). None: no segment to align (the pelvis and buttocks keep the rest
#: orientation both skeletons share: upright, facing +Z in their own Y-up frame).
CMU38_SEGMENTS = {
    "pelvis": ("root", None), "abdomen": ("lowerback", "upperback_Spine"), "chest": ("upperback_Spine", "thorax"),
    "neck": ("upperneck", "head"), "head": ("head", "head_end_top"),
    "l_collar": ("lclavicle", "lhumerus_LShoulder"), "l_upper_arm": ("lhumerus_LShoulder", "lradius_LElbow"),
    "l_forearm": ("lradius_LElbow", "lwrist_LWrist"), "l_hand": ("lhand", "lfingers"),
    "r_collar": ("rclavicle", "rhumerus_RShoulder"), "r_upper_arm": ("rhumerus_RShoulder", "rradius_RElbow"),
    "r_forearm": ("rradius_RElbow", "rwrist_RWrist"), "r_hand": ("rhand", "rfingers"),
    "l_buttock": ("lhipjoint", None), "l_thigh": ("lfemur_LHip", "ltibia_LKnee"),
    "l_shin": ("ltibia_LKnee", "lfoot_LAnkle"), "l_foot": ("lfoot_LAnkle", "ltoes"),
    "r_buttock": ("rhipjoint", None), "r_thigh": ("rfemur_RHip", "rtibia_RKnee"),
    "r_shin": ("rtibia_RKnee", "rfoot_RAnkle"), "r_foot": ("rfoot_RAnkle", "rtoes"),
}


def _to_z_up(R: np.ndarray) -> np.ndarray:
    """Column-convention rotations of a Y-up source -> the same rotations in the Z-up world."""
    from pose3d.mocap.to_h36m import Y_UP_TO_Z_UP as A

    return A @ R @ A.T


def daz_drivers(names: tuple[str, ...], rotations: np.ndarray) -> np.ndarray:
    """Global rotations (F, J, 3, 3) of the Daz BVH body (``bvh_forward_kinematics``; its rest is the
    T-pose) -> (F, 21, 3, 3) driver rotations in the Z-up world."""
    missing = [j for j in DAZ_JOINTS.values() if j not in names]
    if missing:
        raise KeyError(f"not the Daz skeleton: no joint {', '.join(missing[:4])}")
    return _to_z_up(rotations[:, [names.index(DAZ_JOINTS[d]) for d in DRIVERS]])


def cmu38_drivers(names: tuple[str, ...], parents: tuple[int, ...], offsets_mm: np.ndarray,
                  rotations: np.ndarray) -> np.ndarray:
    """Row-vector global rotations (F, 38, 3, 3) of the 38-joint CMU body (``cmu38_forward_kinematics``)
    -> (F, 21, 3, 3) driver rotations in the Z-up world, each segment's rest turned onto the T-pose."""
    from pose3d.mocap.to_h36m import Y_UP_TO_Z_UP as A
    from pose3d.rotations import rotation_between

    rest = np.zeros((len(names), 3))  # the skeleton with every rotation zero
    for j, p in enumerate(parents):
        rest[j] = offsets_mm[j] + (rest[p] if p >= 0 else 0.0)
    rest = rest @ A.T
    tpose = rest_directions()
    out = np.empty(rotations.shape[:1] + (len(DRIVERS), 3, 3))
    for d, name in enumerate(DRIVERS):
        joint, child = CMU38_SEGMENTS[name]
        R = _to_z_up(np.swapaxes(rotations[:, names.index(joint)], -1, -2))  # row -> column convention
        if child is None:
            out[:, d] = R
        else:
            # A T-pose vector v sits at F v in this skeleton's rest, then at R F v in the frame.
            F = rotation_between(tpose[d], rest[names.index(child)] - rest[names.index(joint)])
            out[:, d] = R @ F
    return out


def encode_rotations(R: np.ndarray) -> np.ndarray:
    """(..., 3, 3) rotations -> (..., 3) int16 rotation vectors (quantum ``ROTVEC_QUANTUM``)."""
    from pose3d.rotations import rotmat_to_rotvec

    return np.round(rotmat_to_rotvec(R) / ROTVEC_QUANTUM).astype(np.int16)


def decode_rotations(q: np.ndarray) -> np.ndarray:
    """(..., 3) int16 rotation vectors -> (..., 3, 3) rotations."""
    from pose3d.rotations import rotvec_to_rotmat

    return rotvec_to_rotmat(np.asarray(q, dtype=np.float64) * ROTVEC_QUANTUM)
