import numpy as np
import pytest

from pose3d.crop import (
    CropSpec, apply_affine, box_to_affine, invert_affine, jitter_box, person_crop_affine, shift_affine, square_box,
)


def test_square_box_holds_all_joints_with_margin(rng):
    uv = rng.uniform(100, 400, size=(5, 17, 2))
    box = square_box(uv, 0.2)
    half = box[:, 2:3, None] / 2
    assert (np.abs(uv - box[:, None, :2]) <= half / 1.2 + 1e-9).all()


def test_box_corners_map_to_crop_edges():
    box = np.array([300.0, 200.0, 100.0])
    A = box_to_affine(box, 128)
    corners = np.array([[250.0, 150.0], [350.0, 250.0], [300.0, 200.0]])
    # Box edges land on the crop's pixel edges (-0.5 and size - 0.5), the centre on its centre.
    np.testing.assert_allclose(apply_affine(A, corners), [[-0.5, -0.5], [127.5, 127.5], [63.5, 63.5]])


def test_affine_inverse_and_subcrop(rng):
    A = box_to_affine(np.array([500.0, 400.0, 333.0]), 128)
    pts = rng.uniform(0, 1000, size=(10, 2))
    np.testing.assert_allclose(apply_affine(invert_affine(A), apply_affine(A, pts)), pts)
    S = shift_affine(A, 8, 5)
    np.testing.assert_allclose(apply_affine(S, pts), apply_affine(A, pts) - [8, 5])


def test_person_crop_recipe(rng):
    uv = rng.uniform(300, 600, size=(17, 2))
    spec = CropSpec()
    centred = person_crop_affine(uv, spec)
    inside = apply_affine(centred, uv)
    assert (inside > 0).all() and (inside < spec.input_size).all()
    jittered = [person_crop_affine(uv, spec, np.random.default_rng(s)) for s in range(5)]
    assert len({a.tobytes() for a in jittered}) == 5
    box = jitter_box(square_box(uv, 0.2), rng, 0.1, 0.05)
    assert box.shape == (3,)
    with pytest.raises(ValueError):
        CropSpec(size=100, input_size=112)
