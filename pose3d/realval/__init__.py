"""Scoring models on real labelled photos (the ``realval`` format): labels, box sources, metrics,
report and contact sheet. Torch-free: an exported ONNX model runs through the runtime itself."""
