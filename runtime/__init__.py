"""pose3d_runtime: the torch-free side of pose3d (installed from the repository's ``runtime/``).

It imports numpy, numba, OpenCV and onnxruntime, and the torch-free core of ``pose3d`` (skeleton,
camera, metrics, pose bank), never torch. Importing it does no work.

- ``pose3d_runtime.geometry``: numba-jitted camera projection for per-frame overlays, the one
  deliberate second implementation of ``pose3d.camera.project`` (tested against it).
- ``pose3d_runtime.preprocess``: the fused numba kernel from a decoded frame and crop boxes to the
  normalised network input (tested against the OpenCV + NumPy chain).
"""
