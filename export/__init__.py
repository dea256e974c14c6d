"""pose3d_export: a trained checkpoint -> one ONNX graph for the runtime (installed from ``export/``).

- ``fold``: the inference network with what can be folded, folded (batch norm into the first fully
  connected layer; the CNN's latent output layer and the prior's linear decoder into one matrix)
- ``onnx_export``: writes the graph with its metadata, checks it against PyTorch on rendered test
  crops, and makes the reduced-precision variants
- ``quantize``: the static int8 variant (QDQ, calibrated on rendered val crops, so a crop's result does
  not depend on its batch)
- ``cli``: ``pose3d-export CHECKPOINT -o model.onnx``
"""
