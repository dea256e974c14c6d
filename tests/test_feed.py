"""Batches made ahead by worker processes are the batches the training process would make itself,
and the weights trained from them are the same; the device setting is checked and explained."""

import numpy as np
import pytest
import torch

from pose3d.train.checkpoint import read_checkpoint
from pose3d.train.device import Device, model_device, pick_device
from pose3d.train.feed import Feed
from pose3d.train.run import run
from conftest import tiny


def batch_of(step: int) -> dict[str, torch.Tensor]:
    rng = np.random.default_rng(step)
    return {"x": torch.from_numpy(rng.normal(size=(4, 3))), "step": torch.tensor(step)}


def test_feed_gives_each_steps_batch_in_order_and_after_a_jump():
    feed = Feed(batch_of, workers=2)
    try:
        got = [feed(s) for s in [3, 4, 5, 6, 10, 11, 2]]  # a jump forward and one back restart the workers
        for s, b in zip([3, 4, 5, 6, 10, 11, 2], got):
            assert int(b["step"]) == s
            torch.testing.assert_close(b["x"], batch_of(s)["x"], rtol=0, atol=0)
    finally:
        feed.close()
    assert Feed(batch_of)(7)["step"] == 7  # no workers: made when asked for


def test_training_with_data_workers_matches_training_without(tmp_path):
    stages = ["direct"]
    run(tiny(tmp_path / "inline"), stages, progress=False)
    run(tiny(tmp_path / "workers", "workers=2"), stages, progress=False)
    a, b = read_checkpoint(tmp_path / "inline" / "direct.pt"), read_checkpoint(tmp_path / "workers" / "direct.pt")
    for k in a["model"]:
        torch.testing.assert_close(a["model"][k], b["model"][k], rtol=0, atol=0, msg=k)


def test_device_setting():
    assert pick_device("cpu") == "cpu"
    assert pick_device(None) == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(ValueError, match="setting device takes one of cpu, cuda"):
        pick_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="sees no CUDA GPU"):
            pick_device("cuda")
    dev = Device.of(bf16=False, channels_last=True, device="cpu")
    model = dev.prepare(torch.nn.Conv2d(3, 4, 3))
    assert model_device(model).type == "cpu"
    moved = dev.to({"a": torch.zeros(2), "b": (torch.ones(1), 3)})
    assert moved["b"][1] == 3 and moved["a"].device.type == "cpu"
    assert dev.layout(torch.zeros(1, 3, 4, 4)).is_contiguous(memory_format=torch.channels_last)


def test_workers_survive_opencv_threads_in_the_training_process():
    """Workers use OpenCV after the training process ran its thread pool (a worker that resized the
    inherited pool hung once). In a subprocess, with a time limit, so a hang fails instead of stalling."""
    import subprocess
    import sys

    code = """
import numpy as np, cv2, torch
from pose3d.train.feed import Feed
def make(step):
    img = np.full((1500, 1500, 3), step % 255, np.uint8)
    return torch.from_numpy(cv2.GaussianBlur(cv2.resize(img, (900, 900)), (9, 9), 2)[:2, :2, 0].copy())
cv2.setNumThreads(2); make(0)
feed = Feed(make, workers=2)
print([int(feed(s)[0, 0]) for s in range(1, 6)])
feed.close()
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[1, 2, 3, 4, 5]"
