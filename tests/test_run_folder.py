"""A run folder trained with another architecture is refused, naming the file and the settings,
and nothing in it is overwritten; settings that do not affect resuming may change."""

from dataclasses import replace

import pytest
from click.testing import CliRunner

from pose3d.cli.train import main as train_main
from pose3d.train.config import load_config
from pose3d.train.folder import RunFolderError, architecture_differences, check_run_folder, checkpoints_used
from pose3d.train.checkpoint import ARCHITECTURE, KINDS, read_checkpoint
from conftest import TINY


def train(out, *extra):
    args = ["--stage", "prior", "--out", str(out), "--quiet"]
    for item in [*TINY, "prior_stage.steps=4", "prior_stage.val_every=2", "prior_stage.checkpoint_every=2", *extra]:
        args += ["--set", item]
    return CliRunner().invoke(train_main, args)


def test_another_architecture_is_refused_and_nothing_is_overwritten(tmp_path):
    out = tmp_path / "run"
    r = train(out)
    assert r.exit_code == 0, r.output
    config_json = (out / "config.json").read_bytes()
    before = (out / "prior.pt").stat().st_mtime_ns
    r = train(out, "prior.hidden=(32,)", "prior_stage.steps=8")
    assert r.exit_code == 1 and "Traceback" not in r.output
    assert str(out / "prior.pt") in r.output and "prior.hidden=(64,)" in r.output and "prior.hidden=(32,)" in r.output
    assert (out / "config.json").read_bytes() == config_json
    assert (out / "prior.pt").stat().st_mtime_ns == before
    # More steps and another learning rate resume the same model.
    r = train(out, "prior_stage.steps=6", "prior_stage.lr=0.0005")
    assert r.exit_code == 0, r.output
    assert read_checkpoint(out / "prior.pt")["step"] == 6
    assert b'"steps": 6' in (out / "config.json").read_bytes()


def test_only_the_settings_a_model_is_built_from_count():
    assert set(ARCHITECTURE) == set(KINDS)
    base = load_config(overrides=TINY)
    training_only = replace(base, cnn=replace(base.cnn, dropout=0.2), prior=replace(base.prior, noise_mm=10.0),
                            loss_2d_weight=0.5, seed=7)
    for kind in ("structured", "direct", "heatmap", "person", "prior", "detector"):
        assert architecture_differences(base, training_only, kind) == []
    contract = replace(base, input=replace(base.input, mean=(0.5, 0.5, 0.5)))
    assert [d[0] for d in architecture_differences(base, contract, "heatmap")] == ["input.mean"]
    assert architecture_differences(base, contract, "prior") == []  # the prior sees no pixels
    person = replace(base, cnn=replace(base.cnn, hidden_person=4))
    assert architecture_differences(base, person, "structured") == []
    assert [d[0] for d in architecture_differences(base, person, "person")] == ["cnn.hidden_person"]


def test_the_checkpoints_a_stage_resumes_or_builds_on_are_compared(tmp_path):
    config = load_config(overrides=TINY + [f"out_dir={tmp_path}"])
    for name in ("prior", "finetune", "direct"):
        (tmp_path / f"{name}.pt").write_bytes(b"")
    assert checkpoints_used(tmp_path, ["latent"]) == [tmp_path / "prior.pt"]
    assert checkpoints_used(tmp_path, ["person"]) == [tmp_path / "finetune.pt"]  # the first of its needs found
    assert checkpoints_used(tmp_path, ["direct", "heatmap"]) == [tmp_path / "direct.pt"]
    with pytest.raises(ValueError, match="not a readable checkpoint"):
        check_run_folder(config, ["latent"])
    assert issubclass(RunFolderError, ValueError)
