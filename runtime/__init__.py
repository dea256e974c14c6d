"""pose3d_runtime: the torch-free side of pose3d (installed from the repository's ``runtime/``).

It imports numpy, numba, OpenCV and onnxruntime, and the torch-free core of ``pose3d`` (skeleton,
camera, crop, metrics, pose bank), never torch. Importing it does no work.

Data flows: ``sources`` (image files, videos, cameras) -> ``boxes`` (the box policy: a given box, the
whole image, or every person ``detector`` finds, associated across frames by ``track`` in streams)
-> ``pipeline`` (``preprocess``'s fused crop kernel, ``model`` on onnxruntime, ``score``; one record
per frame with a list of people) -> ``smoothing`` (streams, per track) -> ``outputs`` (JSON, JSON
Lines, NPZ) and ``draw`` (annotated frames). ``folder`` and ``stream`` are the two loops ``cli``
(``pose3d-run``) drives.

- ``geometry``: numba-jitted camera projection for overlays, the one deliberate second
  implementation of ``pose3d.camera.project`` (tested against it).
- ``preprocess``: the fused numba kernel from a decoded frame and crop boxes to the normalised
  network input (tested against the OpenCV + NumPy chain).
"""
