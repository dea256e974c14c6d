"""The training stages by name, in training order (torch-free, so that command lines can list them
before checking that torch is installed)."""

STAGES = ("prior", "latent", "finetune", "direct", "heatmap", "person", "detector")
