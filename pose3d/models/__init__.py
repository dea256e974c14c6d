"""The networks (PyTorch). Model files have no side effects; every model is built from a typed config.

- ``prior.PoseAutoencoder``: the denoising overcomplete autoencoder (the structured pose prior)
- ``cnn.PaperCNN``: the image network of Tekin et al. (features + head), plus a small 2D-joint head
- ``stack.StructuredPoseNet``: CNN -> latent code -> the prior's decoder -> 3D pose
- ``stack.DirectPoseNet``: the same CNN straight to 51 numbers (the baseline)
"""
