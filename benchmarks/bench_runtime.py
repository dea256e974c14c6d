"""The runtime's measurements, each against a reference timed in the same run (used by bench.py).

- ``model_gflop``: FLOPs per image of an ONNX graph, from its Conv and Gemm/MatMul nodes.
- ``inference``: images/s of onnxruntime (fp32 graph and the int8 variant, CUDA where it works) and
  PyTorch eager on the same network, batch 1 and 64. Speed does not depend on the weights' values, so
  a freshly initialised network of the shipped model's architecture stands in where the trained
  checkpoint is not at hand (a fresh clone has only the int8 file).
- ``preprocessing``: the fused numba crop kernel vs the OpenCV + NumPy chain; numba projection vs NumPy.
- ``folder_stages`` / ``folder_end_to_end``: pose3d-run's folder loop and each of its stages alone.
- ``streaming``: the video loop on a 640 x 480 clip: frames/s and per-frame latency.
- ``accuracy``: MPJPE / P-MPJPE of ONNX files on rendered synthetic test crops (crops from the
  test split's poses, which no model trained on); ``score_separation``: the pose score on person vs
  background crops.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import onnx
from onnx import shape_inference

from common import best_of
from pose3d.camera import h36m_camera
from pose3d.crop import CropSpec, box_crop_affine
from pose3d.data.synthetic import SynthConfig, SyntheticPoses
from pose3d_runtime.geometry import project_points
from pose3d_runtime.model import PoseModel
from pose3d_runtime.pipeline import Estimator
from pose3d_runtime.preprocess import crop_normalise, crop_normalise_reference


def model_gflop(path: Path) -> float:
    """Multiply-adds x 2 per image of the Conv and Gemm/MatMul nodes (batch fixed to 1)."""
    model = onnx.load(str(path))
    for value in list(model.graph.input) + list(model.graph.output):
        dim = value.type.tensor_type.shape.dim
        if dim and dim[0].dim_param:
            dim[0].dim_value = 1
    model = shape_inference.infer_shapes(model)
    shapes = {v.name: [d.dim_value for d in v.type.tensor_type.shape.dim]
              for v in list(model.graph.value_info) + list(model.graph.output) + list(model.graph.input)}
    inits = {i.name: list(i.dims) for i in model.graph.initializer}
    flops = 0.0
    for node in model.graph.node:
        if node.op_type == "Conv":
            w = inits[node.input[1]]  # (Cout, Cin/groups, kh, kw)
            out = shapes[node.output[0]]
            flops += 2.0 * np.prod(out[1:]) * np.prod(w[1:])
        elif node.op_type in ("Gemm", "MatMul", "MatMulInteger", "DynamicQuantizeMatMul"):
            w = next((inits[i] for i in node.input[1:] if i in inits and len(inits[i]) == 2), None)
            if w is not None:
                flops += 2.0 * w[0] * w[1]
    return flops / 1e9


def _images_per_s(fn, batch: int, repeats: int) -> float:
    fn()
    return batch / best_of(fn, repeats)


def random_architecture_onnx(shipped: PoseModel, work: Path) -> tuple[Path, Path, Any]:
    """fp32 and int8 exports (and the torch model) of a freshly initialised network with the
    shipped model's architecture (its training config is in the metadata)."""
    import torch

    from pose3d.train.checkpoint import build_model, save_checkpoint
    from pose3d.train.config import config_from_dict
    from pose3d_export.onnx_export import export

    meta = dict(shipped.session.get_modelmeta().custom_metadata_map)
    config = config_from_dict(json.loads(meta["training_config"]))
    torch.manual_seed(0)
    model = build_model("structured", config).eval()
    ckpt = work / "random.pt"
    save_checkpoint(ckpt, {"kind": "structured", "stage": "finetune", "step": 0, "config": json.loads(meta["training_config"]),
                           "model": model.state_dict()})
    export(ckpt, work / "random.onnx", samples=4, int8=True)
    return work / "random.onnx", work / "random.int8.onnx", model


def inference(shipped: PoseModel, repeats: int, batches=(1, 64)) -> list[dict[str, Any]]:
    import torch

    from pose3d_export.fold import InferenceNet

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        fp32, int8, model = random_architecture_onnx(shipped, Path(tmp))
        net = InferenceNet(model).eval()
        S = shipped.info.input_size
        for batch in batches:
            x = np.random.default_rng(0).normal(size=(batch, 3, S, S)).astype(np.float32)
            xt = torch.from_numpy(x)
            with torch.inference_mode():
                rows.append({"engine": "PyTorch eager fp32", "batch": batch,
                             "images_per_s": _images_per_s(lambda: net(xt), batch, repeats)})
            for name, path in (("onnxruntime CPU fp32", fp32), ("onnxruntime CPU int8 (shipped format)", int8)):
                m = PoseModel(path, device="cpu")
                rows.append({"engine": name, "batch": batch, "images_per_s": _images_per_s(lambda: m(x), batch, repeats)})
            try:
                m = PoseModel(fp32, device="cuda")
                rows.append({"engine": "onnxruntime CUDA fp32", "batch": batch,
                             "images_per_s": _images_per_s(lambda: m(x), batch, repeats)})
            except Exception:  # noqa: BLE001 - no usable CUDA here: the row is left out
                pass
            if torch.cuda.is_available():
                gnet = net.cuda()
                gx = xt.cuda()

                def gpu():
                    gnet(gx)
                    torch.cuda.synchronize()

                with torch.inference_mode():
                    rows.append({"engine": "PyTorch eager CUDA fp32", "batch": batch,
                                 "images_per_s": _images_per_s(gpu, batch, repeats)})
                net = net.cpu()
    return rows


def preprocessing(repeats: int) -> list[dict[str, Any]]:
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 256, size=(480, 640, 3), dtype=np.uint8)
    mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
    one = box_crop_affine(np.array([[320.0, 240.0, 300.0]]), CropSpec())  # a 300 px person box, centred
    rows = []
    for label, affines in (("per frame (1 crop)", one), ("per batch (16 crops)", np.repeat(one, 16, axis=0))):
        crop_normalise(frame, affines, 112, mean, std)
        n = 200 if len(affines) == 1 else 20
        fused = best_of(lambda: [crop_normalise(frame, affines, 112, mean, std) for _ in range(n)], repeats) / n
        chain = best_of(lambda: [crop_normalise_reference(frame, affines, 112, mean, std) for _ in range(n)], repeats) / n
        rows.append({"what": f"crop + normalise {label}", "numba_ms": 1e3 * fused, "reference_ms": 1e3 * chain,
                     "reference": "cv2.warpAffine + cvtColor + NumPy normalise/transpose", "speedup": chain / fused})
    cam = h36m_camera("S9", 1)
    for label, n in (("17 joints", 17), ("100k points", 100_000)):
        pts = rng.normal(size=(n, 3)) * 300 + np.array([0, 0, 4000.0])
        project_points(pts, cam)
        k = 2000 if n == 17 else 5
        fast = best_of(lambda: [project_points(pts, cam) for _ in range(k)], repeats) / k
        ref = best_of(lambda: [cam.project(pts) for _ in range(k)], repeats) / k
        rows.append({"what": f"camera projection, {label}", "numba_ms": 1e3 * fast, "reference_ms": 1e3 * ref,
                     "reference": "pose3d.camera.project (NumPy)", "speedup": ref / fast})
    return rows


def full_size_images(n: int, folder: Path) -> list[Path]:
    """n whole synthetic frames (1000 x 1002 or 1920 x 1080 camera images) as JPEG files."""
    folder.mkdir(parents=True, exist_ok=True)
    ds = SyntheticPoses(SynthConfig(split="test", seed=11, length=n))
    paths = []
    for i in range(n):
        img = ds.render_full_frames([i])["image"][0].transpose(1, 2, 0)[..., ::-1]
        paths.append(folder / f"frame_{i:04d}.jpg")
        cv2.imwrite(str(paths[-1]), np.ascontiguousarray(img), [cv2.IMWRITE_JPEG_QUALITY, 90])
    return paths


def folder_stages(estimator: Estimator, paths: list[Path], work: Path, batch: int) -> dict[str, float]:
    """Images/s of each stage of the folder loop alone, over the same files."""
    from pose3d_runtime.draw import annotate
    from pose3d_runtime.outputs import write_image, write_json
    from pose3d_runtime.pipeline import full_image_box
    from pose3d_runtime.sources import read_image

    t = time.perf_counter()
    images = [read_image(p) for p in paths]
    decode = len(paths) / (time.perf_counter() - t)
    t = time.perf_counter()
    found = [estimator.detector(im) for im in images]
    detect = len(paths) / (time.perf_counter() - t)
    boxes = [f.box if f is not None else full_image_box(im.shape) for f, im in zip(found, images)]
    I = estimator.info
    t = time.perf_counter()
    crops = [crop_normalise(im, estimator.crop_affines(b[None]), I.input_size, I.mean, I.std) for im, b in zip(images, boxes)]
    crop = len(paths) / (time.perf_counter() - t)
    x = np.concatenate(crops)
    t = time.perf_counter()
    for lo in range(0, len(x), batch):
        estimator.model(x[lo:lo + batch])
    infer = len(paths) / (time.perf_counter() - t)
    poses = estimator.estimate(images, boxes)
    t = time.perf_counter()
    for i, (im, pose) in enumerate(zip(images, poses)):
        write_image(work / f"w{i}.jpg", annotate(im, pose.joints_2d_px, pose.joints_3d_mm, pose.box, I.joint_parents, I.joint_names))
        write_json(work / f"w{i}.json", pose.record("detected", None, I.model_id))
    write = len(paths) / (time.perf_counter() - t)
    return {"decode": decode, "detect (HOG)": detect, "crop (fused kernel)": crop, f"model (batch {batch})": infer,
            "annotate + write": write}


def folder_end_to_end(estimator: Estimator, folder: Path, out: Path, batch: int) -> dict[str, Any]:
    from pose3d_runtime.folder import run_folder

    report = run_folder(estimator, folder, out, batch_size=batch, overwrite=True)
    return {"images": report.done, "images_per_s": report.done / report.seconds, "no_person": report.no_person}


def streaming(estimator: Estimator, video: Path, out: Path) -> dict[str, Any]:
    from pose3d_runtime.sources import open_capture
    from pose3d_runtime.stream import run_stream

    report = run_stream(estimator, open_capture(str(video)), out, "bench", live=False, display=False)
    return report.as_dict()


def stream_clip(path: Path, frames: int, shared_media: Path | None) -> str:
    """A 640 x 480 clip: real footage (../shared/media) where present, else synthetic frames."""
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 30, (640, 480))
    source = shared_media / "sports2d" / "demo.mp4" if shared_media else None
    if source is not None and source.is_file():
        cap = cv2.VideoCapture(str(source))
        n = 0
        while n < frames:
            ok, f = cap.read()
            if not ok:
                break
            w.write(cv2.resize(f, (640, 480), interpolation=cv2.INTER_AREA))
            n += 1
        what = f"sports2d demo.mp4, first {n} frames scaled to 640 x 480"
    else:
        ds = SyntheticPoses(SynthConfig(split="test", seed=12, length=frames))
        for i in range(frames):
            img = ds.render_full_frames([i])["image"][0].transpose(1, 2, 0)[..., ::-1]
            w.write(cv2.resize(np.ascontiguousarray(img), (640, 480), interpolation=cv2.INTER_AREA))
        what = f"{frames} synthetic frames scaled to 640 x 480"
    w.release()
    return what


def accuracy(paths: dict[str, Path], samples: int) -> list[dict[str, Any]]:
    """MPJPE and P-MPJPE (mm, mean over samples) of each ONNX file on rendered test crops, and of the
    trivial baselines (``pose3d.baselines``) on the same crops, by the same code."""
    from pose3d.baselines import synthetic_mean_pose
    from pose3d.evaluate import baseline_evaluations, score_poses
    from pose3d_runtime.pipeline import run_on_crops

    ds = SyntheticPoses(SynthConfig(split="test", seed=0, length=samples))
    data = ds.render_all()
    names = ds.bank.activity_names
    scored = {name: score_poses(run_on_crops(PoseModel(path, device="cpu"), data["image"])[0], data, names)
              for name, path in paths.items()}
    scored |= baseline_evaluations(synthetic_mean_pose(), data, names)
    return [{"model": name, "samples": samples, "mpjpe_mm": float(e.values["MPJPE"].mean()),
             "p_mpjpe_mm": float(e.values["P-MPJPE"].mean())} for name, e in scored.items()]


def real_accuracy(path: Path, realval: Path, video: Path | None) -> dict[str, Any] | None:
    """The real-photo evaluation (``pose3d.realval``) of an ONNX file: its headline rows, or None where
    the labelled folder is absent."""
    if not (realval / "labels.json").is_file():
        return None
    from pose3d.realval.evaluate import evaluate_real, open_model

    videos = {"sports2d_demo/cam01": video} if video is not None and video.is_file() else None
    with tempfile.TemporaryDirectory() as tmp:
        rep = evaluate_real(open_model(path), realval, Path(tmp), videos)
    return {"data": str(realval), "frames": rep.result["frames"], "frames_with_3d": rep.result["frames_with_3d"],
            "rows": rep.result["summary"]}


def score_separation(estimator: Estimator, frames: int, seed: int = 13) -> dict[str, Any]:
    """How well the pose score tells a person crop from a background crop: on whole synthetic test
    frames, the true person box vs a random box (0.3 to 1 times its size) that does not touch it; the AUC is
    the chance a person crop scores higher than a background one."""
    from pose3d.crop import square_box

    ds = SyntheticPoses(SynthConfig(split="test", seed=seed, length=frames))
    rng = np.random.default_rng(seed)
    pos, neg = [], []
    for i in range(frames):
        s = ds.render_full_frames([i])
        img = np.ascontiguousarray(s["image"][0].transpose(1, 2, 0)[..., ::-1])
        H, W = img.shape[:2]
        box = square_box(s["joints_2d"][0].astype(np.float64), estimator.margin)
        for _ in range(50):  # a background box, 0.3 to 1 times the person's, clear of it and inside the frame
            side = box[2] * rng.uniform(0.3, 1.0)
            if side >= min(H, W):
                continue
            c = rng.uniform([side / 2, side / 2], [W - side / 2, H - side / 2])
            if (np.abs(c - box[:2]) >= (box[2] + side) / 2).any():
                p_pose, n_pose = estimator.estimate([img, img], [box, np.array([c[0], c[1], side])])
                pos.append(p_pose.score)
                neg.append(n_pose.score)
                break
    pos_a, neg_a = np.array(pos), np.array(neg)
    auc = float((pos_a[:, None] > neg_a[None, :]).mean() + 0.5 * (pos_a[:, None] == neg_a[None, :]).mean())
    return {"pairs": len(pos), "person_median": float(np.median(pos_a)), "background_median": float(np.median(neg_a)),
            "auc": auc}
