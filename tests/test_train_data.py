"""The training data interface and the stage registry: a step's batch is fixed by (seed, step) and
split between processes without changing it; every stage is named once, with what it needs."""

import importlib
import subprocess
import sys

import numpy as np
import pytest
import torch

from pose3d.data.synthetic import SynthConfig, SyntheticPoses
from pose3d.models.cnn import crop_to_unit
from pose3d.models.codec import ImageCodec, PoseCodec
from pose3d.train.checkpoint import KINDS
from pose3d.train.data import SyntheticTraining, TrainingData, UnsuitableData, training_data
from pose3d.train.names import POSES, REGISTRY, SETS, STAGES
from pose3d.train.run import select
from conftest import tiny


def test_a_synthetic_step_is_its_run_of_the_train_split_whatever_the_process_split(tmp_path):
    config = tiny(tmp_path, "seed=3")
    data = training_data(config)
    assert isinstance(data, SyntheticTraining)
    step, batch = 5, 6
    whole = data.images(step, batch, 0, batch)
    halves = [data.images(step, batch, offset, 3) for offset in (0, 3)]
    for key in ("x", "pose", "joints"):
        torch.testing.assert_close(torch.cat([h[key] for h in halves]), whole[key], rtol=0, atol=0)
    # Step s holds crops s*B .. s*B + B-1 of the train split, fixed by the seed: exact resume rests on it.
    ds = SyntheticPoses(SynthConfig(split="train", seed=3, crop=config.input.crop_spec()))
    ref = ds.render_batch(range(step * batch, (step + 1) * batch))
    torch.testing.assert_close(whole["x"], ImageCodec.of(config.input).encode(torch.from_numpy(ref["image"])), rtol=0, atol=0)
    torch.testing.assert_close(whole["pose"], PoseCodec().encode(torch.from_numpy(ref["pose_rel"])), rtol=0, atol=0)
    torch.testing.assert_close(whole["joints"], crop_to_unit(torch.from_numpy(ref["joints_2d"]), config.input.input_size),
                               rtol=0, atol=0)
    assert whole["x"].shape == (batch, 3, config.input.input_size, config.input.input_size)
    # Background crops come from the same scenes, without the person.
    bg = data.backgrounds(step, batch, 0, batch)
    assert bg.shape == whole["x"].shape and not torch.equal(bg, whole["x"])


def test_prior_poses_are_fixed_by_seed_split_and_step(tmp_path):
    data = training_data(tiny(tmp_path))
    a = data.prior_poses("train", 4, 16)
    assert a.shape == (16, 51) and torch.equal(a, data.prior_poses("train", 4, 16))
    assert not torch.equal(a, data.prior_poses("train", 5, 16))
    assert not torch.equal(a, data.prior_poses("val", 4, 16))


class PosesOnly(TrainingData):
    offers = frozenset({POSES})

    def describe(self) -> str:
        return "a poses-only set"


def test_a_set_leaves_out_what_the_data_cannot_feed_and_a_named_stage_is_refused(tmp_path):
    synthetic = training_data(tiny(tmp_path))
    assert select("all", synthetic) == (SETS["all"], ())
    poses = PosesOnly(tiny(tmp_path))
    kept, left = select("all", poses)
    assert kept == ("prior",) and left == ("latent", "finetune", "person")
    assert select("latent", poses) == (("latent",), ())  # named alone: kept, and refused when required
    with pytest.raises(UnsuitableData, match="stage 'latent' needs images, which a poses-only set does not have"):
        poses.require(REGISTRY["latent"])
    with pytest.raises(UnsuitableData):
        poses.images(0, 4, 0, 4)
    with pytest.raises(ValueError, match="unknown stage 'nope'"):
        select(["prior", "nope"], synthetic)


def test_the_registry_names_each_stage_once_with_what_it_needs():
    assert STAGES == tuple(REGISTRY) and set(STAGES) >= {s for names in SETS.values() for s in names}
    for i, (name, spec) in enumerate(REGISTRY.items()):
        assert spec.name == name and spec.kind in KINDS and spec.data
        module, _, function = spec.builder.partition(":")
        assert callable(getattr(importlib.import_module(module), function))
        assert all(n in STAGES[:i] for n in spec.needs)  # what it builds on is trained before it
    # The command line lists the stages before torch is imported.
    code = "import sys, pose3d.train.names; assert 'torch' not in sys.modules"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_validation_samples_are_made_once(tmp_path):
    data = training_data(tiny(tmp_path))
    val = data.val_samples()
    assert val is data.val_samples() and len(val["image"]) == 16
    assert np.asarray(data.val_backgrounds()).shape == val["image"].shape
