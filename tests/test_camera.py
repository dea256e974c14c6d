import numpy as np
import pytest
import torch

from pose3d.camera import (
    Camera, camera_to_world, distort, h36m_camera, in_front, load_h36m_cameras, project,
    undistort, world_to_camera,
)
from conftest import random_rotation


def scalar_projection(X, cam):
    """Plain transcription of ../shared/h36m/FORMATS.md, one point at a time."""
    R = cam.R.tolist()
    center = cam.center.tolist()
    d = [X[i] - center[i] for i in range(3)]
    xc = [sum(R[r][i] * d[i] for i in range(3)) for r in range(3)]
    x, y = xc[0] / xc[2], xc[1] / xc[2]
    k1, k2, k3 = cam.k.tolist()
    p1, p2 = cam.p.tolist()
    r2 = x * x + y * y
    radial = 1 + k1 * r2 + k2 * r2 ** 2 + k3 * r2 ** 3
    tan = p1 * y + p2 * x
    xd = x * (radial + tan) + p2 * r2
    yd = y * (radial + tan) + p1 * r2
    return [cam.f[0] * xd + cam.c[0], cam.f[1] * yd + cam.c[1]]


def points_in_view(cam, rng, n=200):
    """World points in front of ``cam`` that land inside its image."""
    uv = rng.uniform([0, 0], cam.size, size=(n, 2))
    depth = rng.uniform(2000, 8000, size=(n, 1))
    return cam.camera_to_world(cam.pixel_to_ray(uv) * depth / cam.pixel_to_ray(uv)[:, 2:3])


def test_bundled_calibration_loads_all_subjects():
    cams = load_h36m_cameras()
    assert set(cams) == {"S1", "S5", "S6", "S7", "S8", "S9", "S11"}
    for subject, four in cams.items():
        assert len(four) == 4
        for cam in four:
            np.testing.assert_allclose(cam.R @ cam.R.T, np.eye(3), atol=1e-8)
            assert 1100 < cam.f[0] < 1200 and cam.size in ((1000, 1000), (1000, 1002))
            # Cameras stand around the capture area at head height, and look at its centre.
            assert 1000 < cam.center[2] < 2500
            assert in_front(cam.world_to_camera(np.zeros((1, 3))))[0]


def test_bundled_cameras_match_a_scalar_transcription(rng):
    for subject, four in load_h36m_cameras().items():
        for cam in four:
            X = rng.uniform([-2000, -2000, 0], [2000, 2000, 2000], size=(50, 3))
            expected = np.array([scalar_projection(x, cam) for x in X])
            np.testing.assert_allclose(cam.project(X), expected, rtol=0, atol=1e-6)  # pixels


def test_known_projection():
    cam = Camera(R=np.eye(3), t=np.zeros(3), f=[1000, 1000], c=[500, 400], size=(1000, 800))
    X = np.array([[0.0, 0.0, 5000.0], [1000.0, -500.0, 2000.0]])
    np.testing.assert_allclose(cam.project(X), [[500, 400], [1000, 150]])
    np.testing.assert_allclose(cam.center, 0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_world_camera_round_trip(rng, dtype):
    R, t = random_rotation(rng), rng.normal(size=3) * 1000
    X = (rng.normal(size=(4, 17, 3)) * 1000).astype(dtype)
    Xc = world_to_camera(X, R, t)
    assert Xc.dtype == dtype
    tol = 1e-3 if dtype == np.float32 else 1e-9
    np.testing.assert_allclose(camera_to_world(Xc, R, t), X, atol=tol)
    np.testing.assert_allclose(np.linalg.norm(Xc - t, axis=-1), np.linalg.norm(X, axis=-1), rtol=1e-5)


def test_from_center_and_dict_round_trip(rng):
    R, center = random_rotation(rng), rng.normal(size=3) * 3000
    cam = Camera.from_center(R, center, f=[1100, 1090], c=[500, 510], k=[-0.2, 0.2, 0.01], p=[1e-3, -2e-3], size=(1000, 1002), name="x")
    np.testing.assert_allclose(cam.center, center)
    again = Camera.from_dict(cam.to_dict())
    X = rng.normal(size=(10, 3)) * 500 + center + R.T @ np.array([0, 0, 4000])
    np.testing.assert_allclose(again.project(X), cam.project(X))
    assert again.size == (1000, 1002) and again.name == "x"


def test_undistort_inverts_distort_inside_the_image(rng):
    for cam in load_h36m_cameras()["S9"]:
        xy = (rng.uniform([0, 0], cam.size, size=(500, 2)) - cam.c) / cam.f
        np.testing.assert_allclose(distort(undistort(xy, cam.k, cam.p), cam.k, cam.p), xy, atol=1e-10)


def test_pixel_rays_reproject_to_their_pixels(rng):
    cam = h36m_camera("S11", 3)
    uv = rng.uniform([0, 0], cam.size, size=(300, 2))
    ray = cam.pixel_to_ray(uv)
    np.testing.assert_allclose(np.linalg.norm(ray, axis=-1), 1.0)
    for depth in (500.0, 5000.0):
        np.testing.assert_allclose(cam.project_camera(ray * depth), uv, atol=1e-6)
    # World rays start at the camera centre.
    world = cam.pixel_to_ray(uv, frame="world")
    np.testing.assert_allclose(cam.project(cam.center + 3000 * world), uv, atol=1e-6)
    with pytest.raises(ValueError):
        cam.pixel_to_ray(uv, frame="image")


def test_batched_cameras_broadcast(rng):
    Rs = np.stack([random_rotation(rng) for _ in range(5)])
    ts = rng.normal(size=(5, 3)) * 100 + [0, 0, 5000]
    X = rng.normal(size=(17, 3)) * 300
    batched = world_to_camera(X, Rs, ts)  # one pose seen by five cameras
    assert batched.shape == (5, 17, 3)
    for i in range(5):
        np.testing.assert_allclose(batched[i], world_to_camera(X, Rs[i], ts[i]))
    f, c = np.full((5, 2), 1000.0), np.full((5, 2), 500.0)
    assert project(batched, f, c, np.zeros((5, 3)), np.zeros((5, 2))).shape == (5, 17, 2)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_torch_matches_numpy_and_keeps_dtype(rng, dtype):
    cam = h36m_camera("S1", 1)
    X = points_in_view(cam, rng, 50)
    uv_np = cam.project(X)
    uv_t = cam.project(torch.tensor(X, dtype=dtype))
    assert uv_t.dtype == dtype
    np.testing.assert_allclose(uv_t.numpy(), uv_np, rtol=0, atol=2e-3 if dtype == torch.float32 else 1e-9)
    rays = cam.pixel_to_ray(torch.tensor(uv_np, dtype=dtype))
    assert rays.dtype == dtype


def test_torch_projection_is_differentiable(rng):
    cam = h36m_camera("S5", 2)
    X = torch.tensor(points_in_view(cam, rng, 5), dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x: cam.project(x), (X,))
    f = torch.tensor(cam.f, requires_grad=True)
    Xc = torch.tensor(cam.world_to_camera(X.detach().numpy()))
    assert torch.autograd.gradcheck(lambda f: project(Xc, f, cam.c, cam.k, cam.p), (f,))


def test_h36m_camera_lookup_errors():
    assert h36m_camera("S9", "54138969").name == "S9/54138969"
    assert h36m_camera("S9", 4).name == "S9/60457274"
    with pytest.raises(KeyError, match="S12"):
        h36m_camera("S12", 1)
    with pytest.raises(KeyError, match="5"):
        h36m_camera("S9", 5)


def test_camera_validates_shapes():
    with pytest.raises(ValueError, match="R must"):
        Camera(R=np.eye(2), t=np.zeros(3), f=[1, 1], c=[0, 0])
    with pytest.raises(ValueError, match="trailing"):
        Camera(R=np.eye(3), t=np.zeros(2), f=[1, 1], c=[0, 0])
