import subprocess
import sys
import textwrap

import numpy as np

from pose3d.camera import h36m_camera, load_h36m_cameras
from pose3d_runtime.geometry import project_points


def test_runtime_imports_without_torch():
    # Make every import of torch fail, then use the runtime side and the torch-free core.
    code = textwrap.dedent(
        """
        import sys
        class NoTorch:
            def find_spec(self, name, path=None, target=None):
                if name == "torch" or name.startswith("torch."):
                    raise ImportError("torch is blocked in this test")
                return None
        sys.meta_path.insert(0, NoTorch())
        import numpy as np
        import pose3d_runtime, pose3d_runtime.geometry
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
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
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
