"""The training stages by name, in training order: the one place that says what each stage is.

Torch-free, so that command lines can list the stages before checking that torch is installed; each
stage's builder is named as ``module:function`` and imported only when the stage is built.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Callable

# What a stage can ask of the training data (``pose3d.train.data.TrainingData.offers``).
POSES, IMAGES, BACKGROUNDS, FRAMES = "poses", "images", "backgrounds", "frames"
LABELS = "labels"  # label-only samples: 2D joints in crop units and the 3D pose, no pictures


@dataclass(frozen=True)
class StageSpec:
    name: str
    kind: str  # the checkpoint kind its model is saved as (pose3d.train.checkpoint.KINDS)
    builder: str  # "module:function": function(ctx, spec) -> pose3d.train.loop.Stage
    data: tuple[str, ...]  # what it reads from the training data: POSES, IMAGES, BACKGROUNDS, FRAMES, LABELS
    needs: tuple[str, ...] = ()  # stages it builds on: one of their checkpoints (the first found) must exist
    starts_from: tuple[str, ...] = ()  # checkpoints it starts parts of its model from when they exist (optional)
    about: str = ""

    def build(self, ctx: Any) -> Any:
        module, _, function = self.builder.partition(":")
        builder: Callable[[Any, StageSpec], Any] = getattr(importlib.import_module(module), function)
        return builder(ctx, self)


_STAGES = "pose3d.train.stages"
REGISTRY: dict[str, StageSpec] = {s.name: s for s in (
    StageSpec("prior", "prior", f"{_STAGES}:prior_stage", (POSES,),
              about="the denoising autoencoder (pose prior) on poses seen from random cameras"),
    StageSpec("latent", "structured", f"{_STAGES}:latent_stage", (IMAGES,), needs=("prior",),
              about="the CNN regresses the prior's latent code of each training pose"),
    StageSpec("finetune", "structured", f"{_STAGES}:finetune_stage", (IMAGES,), needs=("latent",),
              about="the CNN and the prior's decoder, stacked, trained end to end on the 3D pose"),
    StageSpec("direct", "direct", f"{_STAGES}:direct_stage", (IMAGES,),
              about="the baseline: the same CNN regressing the pose directly"),
    StageSpec("lifter", "lifter", "pose3d.train.lifter:lifter_stage", (LABELS,),
              about="the 2D-evidence model's lifter alone, on labels: true 2D joints with simulated detector noise"),
    StageSpec("heatmap", "heatmap", f"{_STAGES}:heatmap_stage", (IMAGES,), starts_from=("lifter",),
              about="the 2D-evidence model: joint heatmaps, soft-argmax, lifted to 3D, end to end "
                    "(its lifter starts from lifter.pt when the run folder has one)"),
    StageSpec("hmlatent", "heatmap_prior", f"{_STAGES}:hmlatent_stage", (IMAGES,), needs=("prior",),
              about="the 2D-evidence model's lifter regresses the prior's latent code (heatmaps -> 2D -> code)"),
    StageSpec("hmfinetune", "heatmap_prior", f"{_STAGES}:hmfinetune_stage", (IMAGES,), needs=("hmlatent",),
              about="the structured 2D-evidence model (heatmaps, lifter, the prior's decoder) end to end on the 3D pose"),
    StageSpec("person", "person", "pose3d.train.person:person_stage", (IMAGES, BACKGROUNDS),
              needs=("finetune", "direct"), about="a person-vs-background head on the frozen pose network"),
    StageSpec("hmperson", "heatmap_person", "pose3d.train.person:hmperson_stage", (IMAGES, BACKGROUNDS),
              needs=("heatmap", "hmfinetune"),
              about="a person-vs-background head on the frozen 2D-evidence network's pooled encoder features"),
    StageSpec("detector", "detector", "pose3d.train.detector:detector_stage", (FRAMES,),
              about="the person detector on whole synthetic frames"),
)}
STAGES = tuple(REGISTRY)

# Named sets of stages (pose3d-train --stage SET). A set leaves out the stages its data cannot feed
# (on Human3.6M: person, which needs background crops); a stage named alone is refused instead.
SETS: dict[str, tuple[str, ...]] = {"all": ("prior", "latent", "finetune", "person"),
                                    "ablation": ("prior", "latent", "finetune", "direct", "heatmap", "hmlatent", "hmfinetune")}
