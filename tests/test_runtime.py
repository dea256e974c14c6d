import numpy as np

from pose3d.camera import h36m_camera, load_h36m_cameras
from pose3d_runtime.geometry import project_points
from conftest import run_without_torch


def test_runtime_imports_without_torch():
    # Make every import of torch fail, then use the runtime side and the torch-free core.
    result = run_without_torch(
        """
        import numpy as np
        import pose3d_runtime, pose3d_runtime.geometry, pose3d_runtime.preprocess
        from pose3d.camera import h36m_camera
        from pose3d.metrics import mpjpe, p_mpjpe
        from pose3d.data.posebank import load_posebank
        bank = load_posebank()
        cam = h36m_camera("S9", 1)
        world = bank.poses[:4] + np.array([0.0, 0.0, 1000.0])
        uv = pose3d_runtime.geometry.project_points(cam.world_to_camera(world).reshape(-1, 3), cam)
        assert np.isfinite(uv).all() and float(p_mpjpe(bank.poses[:4], bank.poses[:4]).max()) < 1e-2
        assert "torch" not in sys.modules
        print("ok")
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_numba_projection_matches_the_shared_implementation(rng):
    for cam in load_h36m_cameras()["S11"]:
        X = rng.normal(size=(500, 3)) * 800 + [0, 0, 4500]
        np.testing.assert_allclose(project_points(X, cam), cam.project_camera(X), rtol=0, atol=1e-9)
        uv32 = project_points(X.astype(np.float32), cam)
        assert uv32.dtype == np.float32
        np.testing.assert_allclose(uv32, cam.project_camera(X), rtol=0, atol=1e-2)


def test_numba_projection_rejects_bad_shapes():
    import pytest

    with pytest.raises(ValueError, match="N, 3"):
        project_points(np.zeros((4, 2)), h36m_camera("S1", 1))


def test_fused_preprocessing_matches_the_opencv_chain(rng):
    import cv2
    import pytest

    from pose3d.crop import box_to_affine
    from pose3d_runtime.preprocess import crop_normalise, crop_normalise_reference

    frame = cv2.GaussianBlur(rng.integers(0, 256, size=(240, 320, 3), dtype=np.uint8), (0, 0), 2)
    # Boxes inside the frame, across its edge, and larger than it.
    boxes = np.array([[160.0, 120.0, 100.0], [10.0, 230.0, 80.0], [160.0, 120.0, 500.0]])
    mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
    for bgr in (True, False):
        ours = crop_normalise(frame, box_to_affine(boxes, 112), 112, mean, std, bgr=bgr)
        ref = crop_normalise_reference(frame, box_to_affine(boxes, 112), 112, mean, std, bgr=bgr)
        assert ours.shape == (3, 3, 112, 112) and ours.dtype == np.float32
        levels = np.abs(ours - ref) * np.asarray(std)[None, :, None, None] * 255  # in 0..255 intensity units
        assert levels.max() < 4.0 and levels.mean() < 0.5  # OpenCV interpolates in 1/32-pixel steps
    with pytest.raises(ValueError, match="uint8"):
        crop_normalise(frame.astype(np.float32), box_to_affine(boxes, 112), 112, mean, std)
    rotated = np.array([[[0.9, 0.1, 0.0], [-0.1, 0.9, 0.0]]])
    with pytest.raises(ValueError, match="axis-aligned"):
        crop_normalise(frame, rotated, 112, mean, std)


def test_back_projection_places_the_pose_where_it_projects(rng):
    from pose3d_runtime.geometry import fit_translation, pinhole
    from conftest import random_pose

    pose = random_pose(rng)
    pose = pose - pose[0]
    t = np.array([150.0, -80.0, 4200.0])
    cam = pinhole(1100.0, np.array([639.5, 359.5]))
    uv = project_points(pose + t, cam)
    np.testing.assert_allclose(fit_translation(pose, uv, cam.f, cam.c), t, rtol=1e-9)
    # With noisy joints it is the linear least-squares solution (NumPy's lstsq on the same equations).
    noisy = uv + rng.normal(scale=3.0, size=uv.shape)
    du = noisy - cam.c
    A = np.zeros((34, 3))
    A[0::2, 0] = cam.f[0]
    A[1::2, 1] = cam.f[1]
    A[:, 2] = -du.ravel()
    b = (du * pose[:, 2:3] - cam.f * pose[:, :2]).ravel()
    np.testing.assert_allclose(fit_translation(pose, noisy, cam.f, cam.c), np.linalg.lstsq(A, b, rcond=None)[0], rtol=1e-8)


def test_the_crop_kernel_may_be_called_from_several_threads_on_any_threading_layer():
    """Folders detect on worker threads while the main thread crops: numba's workqueue layer (no TBB
    or OpenMP, as on many macOS installs) would abort the process on concurrent kernel launches."""
    import os
    import subprocess
    import sys

    code = """
import threading
import numpy as np
from pose3d_runtime.preprocess import crop_normalise
frame, A = np.zeros((120, 160, 3), np.uint8), np.array([[[0.5, 0, 0], [0, 0.5, 0]]])
def work():
    for _ in range(200):
        crop_normalise(frame, A, 64, (0, 0, 0), (1, 1, 1))
threads = [threading.Thread(target=work) for _ in range(3)]
[t.start() for t in threads]
[t.join() for t in threads]
print("ok")
"""
    env = {**os.environ, "NUMBA_THREADING_LAYER": "workqueue", "NUMBA_NUM_THREADS": "2"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr
