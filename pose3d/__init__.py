"""pose3d: 3D human pose from a single photo.

The training side (models, training, export) needs torch; the modules below do not, and the
torch-free runtime (``pose3d_runtime``) uses them:

- ``pose3d.skeleton``  the 17-joint Human3.6M skeleton, by name
- ``pose3d.camera``    the ``Camera`` value and projection geometry (NumPy or torch arrays)
- ``pose3d.metrics``   MPJPE, P-MPJPE, N-MPJPE, PCK3D/AUC and their aggregation
- ``pose3d.data.posebank``  the embedded pose bank built from real motion capture

Importing this package does no work and imports nothing heavy.
"""

__version__ = "0.1.0"
