"""pose3d_export: the fine-tuned CNN + decoder to ONNX (installed from the repository's ``export/``).

The ``pose3d-export`` command arrives with the export issue; this package holds its place in the
layout so that the import name is fixed from the start.
"""
