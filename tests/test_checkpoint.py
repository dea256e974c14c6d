"""Checkpoints are read safely: a crafted file cannot run code, and bad files get one clear message."""

import os
import pickle

import numpy as np
import pytest
import torch

from pose3d.train.checkpoint import build_model, load_model, read_checkpoint, save_checkpoint
from pose3d.train.config import config_to_dict
from conftest import tiny


class RunsACommand:
    """Pickles into a call of os.system: what a malicious .pt does on an unsafe torch.load."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.fixture
def prior_checkpoint(tmp_path):
    config = tiny(tmp_path)
    model = build_model("prior", config)
    path = tmp_path / "prior.pt"
    save_checkpoint(path, {"kind": "prior", "stage": "prior", "step": 3, "config": config_to_dict(config),
                           "model": model.state_dict(), "metrics": {"reconstruction_mm": np.float64(12.5)}})
    return path


def test_a_crafted_checkpoint_runs_no_code(tmp_path):
    marker = tmp_path / "pwned"
    crafted = tmp_path / "finetune.pt"
    torch.save({"format": 1, "kind": "structured", "config": RunsACommand(marker)}, crafted)
    with open(tmp_path / "check.pkl", "wb") as fh:  # the payload does run when unpickled unsafely
        pickle.dump(RunsACommand(tmp_path / "control"), fh)
    with open(tmp_path / "check.pkl", "rb") as fh:
        pickle.load(fh)
    assert (tmp_path / "control").exists()

    with pytest.raises(ValueError, match="refused"):
        read_checkpoint(crafted)
    assert not marker.exists()


def test_checkpoints_round_trip_as_plain_data(prior_checkpoint):
    model, config, info = load_model(prior_checkpoint)
    assert info["kind"] == "prior" and info["step"] == 3 and config.prior.hidden == (64,)
    assert info["metrics"] == {"reconstruction_mm": 12.5} and type(info["metrics"]["reconstruction_mm"]) is float


def test_bad_checkpoints_get_one_message(prior_checkpoint, tmp_path):
    (tmp_path / "text.pt").write_text("not a checkpoint\n")
    (tmp_path / "random.pt").write_bytes(np.random.default_rng(0).bytes(4096))
    data = prior_checkpoint.read_bytes()
    (tmp_path / "truncated.pt").write_bytes(data[: len(data) // 2])
    torch.save({"weights": torch.zeros(3)}, tmp_path / "foreign.pt")
    for name in ("text.pt", "random.pt", "truncated.pt"):
        with pytest.raises(ValueError, match="not a readable checkpoint"):
            read_checkpoint(tmp_path / name)
    with pytest.raises(ValueError, match="not a pose3d checkpoint"):
        read_checkpoint(tmp_path / "foreign.pt")
    with pytest.raises(ValueError, match="holds a 'prior' model.*structured, direct"):
        load_model(prior_checkpoint, kinds=("structured", "direct"))
    damaged = torch.load(prior_checkpoint, weights_only=True)
    damaged["model"] = {"nonsense": torch.zeros(2)}
    torch.save(damaged, tmp_path / "damaged.pt")
    with pytest.raises(ValueError, match="damaged pose3d checkpoint"):
        load_model(tmp_path / "damaged.pt")
