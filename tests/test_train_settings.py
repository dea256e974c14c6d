"""Training settings are checked with one message each; a kill and resume leave a clean log; a loss
that is no longer finite stops the stage with a message."""

import json

import pytest
import torch
from click.testing import CliRunner
from torch import nn

import pose3d.train.loop as loop
from pose3d.cli.train import main as train_main
from pose3d.train.config import StageConfig, load_config
from pose3d.train.loop import Stage, TrainingError, train_stage
from pose3d.train.run import run
from conftest import tiny

BAD = {
    "latent_stage.lr=abc": "latent_stage.lr takes a finite number > 0",
    "seed=1.5": "seed takes a whole number >= 0",
    "prior.hidden=(abc": "prior.hidden takes a tuple of whole numbers >= 1",
    "latent_stage.steps=abc": "latent_stage.steps takes a whole number >= 1",
    "latent_stage.lr=nan": "latent_stage.lr takes a finite number > 0",
    "prior_stage.lr=-1": "prior_stage.lr takes a finite number > 0",
    "latent_stage.batch_size=0": "latent_stage.batch_size takes a whole number >= 1",
    "direct_stage.steps=-5": "direct_stage.steps takes a whole number >= 1",
    "cnn.channels=(4,8)": "cnn.channels takes a tuple of 3 whole numbers",
    "bf16=maybe": "bf16 takes true/false or none",
    "latent_stage.final_lr_fraction=2": "<= 1",
}


@pytest.mark.parametrize("override", sorted(BAD))
def test_bad_settings_name_the_setting_and_what_it_takes(override):
    with pytest.raises(ValueError, match=BAD[override].replace("(", r"\(")):
        load_config(overrides=[override])


def test_good_settings_are_converted():
    c = load_config(overrides=["seed=2.0", "prior.hidden=300", "latent_stage.lr=1", "bf16=none"])
    assert c.seed == 2 and type(c.seed) is int and c.prior.hidden == (300,) and c.latent_stage.lr == 1.0 and c.bf16 is None


def test_bad_settings_on_the_command_line_and_in_a_file(tmp_path):
    r = CliRunner().invoke(train_main, ["--set", "latent_stage.lr=abc", "--out", str(tmp_path)])
    assert r.exit_code == 2 and "latent_stage.lr takes a finite number > 0, got 'abc'" in r.output
    assert "Traceback" not in r.output
    (tmp_path / "c.toml").write_text("[latent_stage]\nbatch_size = 0\n")
    r = CliRunner().invoke(train_main, ["--config", str(tmp_path / "c.toml")])
    assert r.exit_code == 2 and "latent_stage.batch_size takes a whole number >= 1, got 0" in r.output


def test_a_killed_and_resumed_stage_logs_each_step_once(tmp_path, monkeypatch):
    config = tiny(tmp_path / "run")
    run(tiny(tmp_path / "straight"), ["prior"], progress=False)
    real = loop.learning_rate

    def killed_at_45(cfg, step):
        if step == 45:
            raise KeyboardInterrupt
        return real(cfg, step)

    monkeypatch.setattr(loop, "learning_rate", killed_at_45)
    with pytest.raises(KeyboardInterrupt):  # killed 15 steps after the checkpoint at step 30
        run(config, ["prior"], progress=False)
    monkeypatch.setattr(loop, "learning_rate", real)
    with open(tmp_path / "run" / "log.jsonl", "a") as fh:
        fh.write('{"stage": "prior", "step": 4')  # a line cut short by the kill
    run(config, ["prior"], progress=False)

    def rows(folder):
        records = [json.loads(line) for line in (folder / "log.jsonl").read_text().splitlines()]
        return [(r["stage"], r["step"], "val" in r) for r in records]

    assert rows(tmp_path / "run") == rows(tmp_path / "straight")


def test_a_loss_that_is_no_longer_finite_stops_the_stage(tmp_path):
    model = nn.Linear(2, 1)

    def loss(m, step, offset, size):
        value = m(torch.ones(size, 2)).sum()
        return (value * float("nan") if step == 3 else value), {}

    stage = Stage("prior", "prior", model, list(model.parameters()), loss, lambda m: {})
    cfg = StageConfig(steps=10, batch_size=4, val_every=100, checkpoint_every=2)
    with pytest.raises(TrainingError, match=r"stage prior: the loss became nan at step 4.*Lower prior_stage.lr"):
        train_stage(stage, cfg, tmp_path, {}, seed=0, progress=False)
    assert torch.load(tmp_path / "prior.pt", weights_only=True)["step"] == 2


def test_help_lists_every_setting_with_its_default_and_warns_of_the_time():
    from pose3d.train.config import settings

    r = CliRunner().invoke(train_main, ["--help"], terminal_width=200)
    assert r.exit_code == 0 and "about 2 hours on a" in r.output and "configs/quick.toml" in r.output
    lines = r.output.splitlines()
    for name, default, _ in settings():
        assert any(line.split()[:1] == [name] for line in lines), name
    assert any(line.split()[:2] == ["latent_stage.lr", "0.0005"] for line in lines)
    assert any(line.split()[:3] == ["prior.hidden", "(2000,)", "(a"] for line in lines)


def test_the_example_config_loads_and_is_small():
    from pathlib import Path

    config = load_config(Path(__file__).resolve().parents[1] / "configs" / "quick.toml")
    steps = [config.stage(s).steps * config.stage(s).batch_size for s in ("latent", "finetune", "person")]
    assert config.prior.hidden == (300, 300) and sum(steps) < 20_000
