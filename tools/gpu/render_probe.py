"""Rendering speed of one process: python render_probe.py [photos|nophotos]"""
import sys, time
import numba, torch
torch.set_num_threads(1); numba.set_num_threads(1)
from pose3d.train.config import load_config
from pose3d.train.data import training_data
s = ["bodies=anny", "input.crop_size=128", "input.input_size=128"]
if sys.argv[1] == "photos":
    s += ["backgrounds=.devrun/photos/backgrounds", "textures=.devrun/photos/textures"]
d = training_data(load_config(overrides=s))
t = time.perf_counter(); d.images(0, 8, 0, 8); c = time.perf_counter() - t
t = time.perf_counter(); n = 0
for step in range(1, 5):
    d.images(step, 64, 0, 64); n += 64
print(f"{sys.argv[1]} cpu_name={numba.config.CPU_NAME} compile+first {c:.1f}s, {n / (time.perf_counter() - t):.0f} crops/s one process", flush=True)
