"""The synthetic data engine: pose-bank poses, seen by sampled cameras, rendered as photo-like images.

- ``cameras``: realistic random views and the four real Human3.6M rigs
- ``body``: a volumetric body (tapered capsules) and its clothing, from 17 joints
- ``raster``: the numba-jitted rasterizer (z-buffer, shading, textures, anti-aliased edges)
- ``scene``: backgrounds (procedural clutter, a floor, optional photos) and photometric augmentation
- ``render``: full frames and person crops, sharing one geometry (``pose3d.crop``)
"""
