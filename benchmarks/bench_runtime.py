"""The runtime's measurements, each against a reference timed in the same run (used by bench.py).

- ``model_gflop``: FLOPs per image of an ONNX graph, from its Conv and Gemm/MatMul nodes.
- ``inference``: images/s of onnxruntime (fp32 graph and the int8 variant, CUDA where it works) and
  PyTorch eager on the same network, batch 1 and 64. Speed does not depend on the weights' values, so
  a freshly initialised network of the shipped model's architecture stands in where the trained
  checkpoint is not at hand (a fresh clone has only the int8 file).
- ``preprocessing``: the fused numba crop kernel vs the OpenCV + NumPy chain; numba projection vs NumPy.
- ``open_detector``: the person detector to time (``--detector``, default the shipped one), or why
  there is none: then the detector rows are left out, the rest runs.
- ``folder_section`` (``folder_stages``, ``folder_end_to_end``): pose3d-run's folder loop with a box
  source (``Detect``, every person; without a detector the whole image) and each of its stages alone
  (the pose stage: every crop the run makes of an image, proposals and refinements), in the same run.
- ``streaming``: the video loop (``run_stream``) on a 640 x 480 clip: frames/s and per-frame latency,
  with 1 and with all people tracked (``Track(Detect(...))``) and without detection (the whole frame);
  ``stream_stages``: each stage's time per frame on the same clip; ``mediapipe_stream``: MediaPipe
  Pose's loop on the same clip (``bench_mediapipe.py``, run with another environment's Python).
- ``accuracy``: MPJPE / P-MPJPE of ONNX files on rendered synthetic test crops (crops from the
  test split's poses, which no model trained on); ``score_separation``: the pose score on person vs
  background crops.
"""

from __future__ import annotations

import inspect
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
    # A statically quantised graph (QDQ) feeds each weight through a DequantizeLinear node: its
    # output has the shape of the int8 initialiser it reads.
    for node in model.graph.node:
        if node.op_type == "DequantizeLinear" and node.input[0] in inits:
            inits[node.output[0]] = inits[node.input[0]]
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
    kind = meta.get("model_kind", "structured")  # files from before the key: the paper's stack
    torch.manual_seed(0)
    model = build_model(kind, config).eval()
    ckpt = work / "random.pt"
    save_checkpoint(ckpt, {"kind": kind, "stage": meta.get("stage", "finetune"), "step": 0,
                           "config": json.loads(meta["training_config"]), "model": model.state_dict()})
    # Speed does not depend on the weights: a random network's int8 deviation is not checked.
    export(ckpt, work / "random.onnx", samples=4, int8=True, calibration=32, int8_tolerance_mm=float("inf"),
           int8_tolerance_px=float("inf"))
    return work / "random.onnx", work / "random.int8.onnx", model


def inference(shipped: PoseModel, repeats: int, batches=(1, 64)) -> list[dict[str, Any]]:
    import torch

    from pose3d_export.fold import inference_net

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        fp32, int8, model = random_architecture_onnx(shipped, Path(tmp))
        net = inference_net(model, shipped.info.input_size).eval()
        S = shipped.info.input_size
        for batch in batches:
            x = np.random.default_rng(0).normal(size=(batch, 3, S, S)).astype(np.float32)
            xt = torch.from_numpy(x)
            with torch.inference_mode():
                rows.append({"engine": "PyTorch eager fp32", "batch": batch,
                             "images_per_s": _images_per_s(lambda: net(xt), batch, repeats)})
            for name, path in (("onnxruntime CPU fp32", fp32), ("onnxruntime CPU int8 (static)", int8)):
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


def open_detector(path: Path | None, margin: float) -> tuple[Any, str | None]:
    """The detector at ``path`` (None: the shipped one) and None, or None and why there is none (no
    detector installed). A detector file that is given but missing or not a detector is an error
    (``pose3d_runtime.model.ModelError``)."""
    from pose3d_runtime.detector import PersonDetector, default_detector_path

    if path is None and not default_detector_path().is_file():
        return None, (f"no person detector is installed ({default_detector_path()}): the detector rows are left out "
                      "(pass --detector FILE, an ONNX file from pose3d-export --detector)")
    return PersonDetector(path, margin=margin, device="cpu"), None


def folder_boxes(estimator: Estimator, detector: Any) -> Any:
    """The folder run's box source exactly as ``pose3d-run folder/`` makes it (``find_people``: with a
    pose model that scores its poses, proposals verified and refined by it), up to pose3d-run's default
    ``--max-people``; else the whole image."""
    from pose3d_runtime.boxes import FullImage, find_people
    from pose3d_runtime.cli import MAX_PEOPLE

    if detector is None:
        return FullImage()
    return find_people(detector, estimator.model.has_person, MAX_PEOPLE, margin=estimator.margin)


class CountingModel:
    """A pose model that counts the crops it runs on (everything else passes through)."""

    def __init__(self, model: Any) -> None:
        self.model, self.crops = model, 0

    def __call__(self, x: np.ndarray):
        self.crops += len(x)
        return self.model(x)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.model, name)


def folder_stages(estimator: Estimator, paths: list[Path], work: Path, boxes: Any) -> dict[str, Any]:
    """Images/s of each stage of the folder loop alone, over the same files (a detect stage where the
    box source detects), and the pose crops an image takes. The pose stage is all the model work the
    run does on an image, as the run does it (``pose3d_runtime.folder.find_in_images``): its boxes
    (the detector's proposals), their refinement, the verification and the reported people's second
    refinement, crops cut by the fused kernel."""
    from pose3d_runtime.boxes import Detect
    from pose3d_runtime.draw import annotate
    from pose3d_runtime.folder import find_in_images
    from pose3d_runtime.outputs import write_image, write_json
    from pose3d_runtime.pipeline import drawn_people, frame_record
    from pose3d_runtime.sources import read_image

    work.mkdir(parents=True, exist_ok=True)
    stages: dict[str, float] = {}
    t = time.perf_counter()
    images = [read_image(p) for p in paths]
    stages["decode"] = len(paths) / (time.perf_counter() - t)
    t = time.perf_counter()
    targets = [boxes.boxes(im) for im in images]
    if isinstance(boxes, Detect):
        stages["detect"] = len(paths) / (time.perf_counter() - t)
    counting = CountingModel(estimator.model)
    counted = Estimator(counting, estimator.focal_px)
    cameras = [estimator.intrinsics(im.shape) for im in images]
    people = []
    t = time.perf_counter()
    for im, ts, cam in zip(images, targets, cameras):
        people += find_in_images(counted, boxes, [im], [ts], [cam])
    crops = counting.crops / max(len(paths), 1)
    stages[f"pose model: crop, estimate, refine, verify, refine again ({crops:.1f} crops an image)"] = \
        len(paths) / (time.perf_counter() - t)
    I = estimator.info
    t = time.perf_counter()
    for i, (im, ps, cam) in enumerate(zip(images, people, cameras)):
        write_image(work / f"w{i}.jpg", annotate(im, drawn_people(ps), I.joint_parents, I.joint_names, f"{len(ps)} people"))
        write_json(work / f"w{i}.json", {"file": paths[i].name, **frame_record(ps, cam, I.model_id)})
    stages["annotate + write"] = len(paths) / (time.perf_counter() - t)
    return {"stages": stages, "crops_per_image": crops}


def folder_end_to_end(estimator: Estimator, folder: Path, out: Path, batch: int, boxes: Any) -> dict[str, Any]:
    from pose3d_runtime.folder import run_folder

    report = run_folder(estimator, folder, out, boxes, batch_size=batch, overwrite=True)
    return {"images": report.done, "images_per_s": report.done / report.seconds, "no_person": report.no_person,
            "people": report.people, "boxes": boxes.name}


def folder_section(estimator: Estimator, paths: list[Path], work: Path, boxes: Any, size: str,
                   batch: int = 16) -> dict[str, Any]:
    """The folder run end to end (``pose3d-run`` on the folder of ``paths``) beside each of its stages
    alone and all of them one after another, in the same run."""
    timed = folder_stages(estimator, paths, work / "stages", boxes)
    stages = timed["stages"]
    e2e = folder_end_to_end(estimator, paths[0].parent, work / "out", batch, boxes)
    slowest = min(stages, key=stages.get)
    in_series = 1.0 / sum(1.0 / v for v in stages.values())
    return {"images": len(paths), "size": size, "stages_images_per_s": stages, "crops_per_image": timed["crops_per_image"],
            "end_to_end": e2e, "slowest_stage": slowest, "stages_in_series_images_per_s": in_series,
            "end_to_end_over_slowest_stage": e2e["images_per_s"] / stages[slowest],
            "end_to_end_over_in_series": e2e["images_per_s"] / in_series}


def stream_sources(estimator: Estimator, detector: Any) -> list[tuple[str, Any]]:
    """The streaming loop's box sources: the whole frame (no detection), and with a detector the
    tracked people, at most 1 and all of them (a fresh tracker each)."""
    from pose3d_runtime.boxes import FullImage, find_people
    from pose3d_runtime.cli import MAX_PEOPLE

    def tracked(max_people: int) -> Any:  # as ``pose3d-run --video`` makes it
        return find_people(detector, estimator.model.has_person, max_people, stream=True, margin=estimator.margin)

    sources: list[tuple[str, Any]] = [("no detection (the whole frame is the crop)", FullImage())]
    if detector is not None:
        sources += [("detect + track, 1 person", tracked(1)),
                    (f"detect + track, all people (at most {MAX_PEOPLE})", tracked(MAX_PEOPLE))]
    return sources


def streaming(estimator: Estimator, video: Path, out: Path, boxes: Any, name: str = "bench") -> dict[str, Any]:
    """pose3d-run's video loop (``--video --no-display``: annotated video and JSON Lines written) with
    the box source ``boxes``: frames/s, per-frame latency, people."""
    from pose3d_runtime.sources import open_capture
    from pose3d_runtime.stream import run_stream

    report = run_stream(estimator, open_capture(str(video)), out, name, boxes, live=False, display=False)
    return {"boxes": boxes.name, **report.as_dict()}


def read_clip(video: Path, frames: int) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(video))
    out = []
    while len(out) < frames:
        ok, f = cap.read()
        if not ok:
            break
        out.append(f)
    cap.release()
    return out


def stream_stages(estimator: Estimator, video: Path, detector: Any, frames: int) -> dict[str, float]:
    """Median milliseconds per 640 x 480 frame of each stage of the loop alone, on the clip's first
    ``frames`` frames: the detector (letterbox, network, decoding), the pose model on one person's
    crop (crop, network, placement in depth), the overlay."""
    from pose3d_runtime.boxes import Target, full_image_box
    from pose3d_runtime.draw import annotate
    from pose3d_runtime.pipeline import drawn_people

    images = read_clip(video, frames)
    I = estimator.info

    def median_ms(fn) -> float:
        fn(images[0])  # warm up
        times = []
        for im in images:
            t = time.perf_counter()
            fn(im)
            times.append(time.perf_counter() - t)
        return 1e3 * float(np.median(times))

    out = {}
    if detector is not None:
        out["detect"] = median_ms(lambda im: detector(im))
    out["pose, 1 person"] = median_ms(lambda im: estimator.estimate([im], [full_image_box(im.shape)]))
    pose = estimator.estimate([images[0]], [full_image_box(images[0].shape)])[0]
    people = [(Target(pose.box, "full_image"), pose)]
    out["annotate"] = median_ms(lambda im: annotate(im, drawn_people(people), I.joint_parents, I.joint_names, "30.0 fps"))
    return out


MEDIAPIPE_SCRIPT = Path(__file__).resolve().parent / "bench_mediapipe.py"
# MediaPipe Pose as issue #14 quotes it, measured elsewhere: shown where it is not measured in the run.
MEDIAPIPE_QUOTED = {"engine": "MediaPipe Pose 0.10.21", "where": "issue #14 (640 x 480 Sports2D demo frames, 2-core AMD EPYC)",
                    "frames_per_second": 36.8, "latency_ms_median": 23.0, "latency_ms_p95": 32.0}


def mediapipe_stream(python: Path, video: Path, timeout_s: float = 600) -> dict[str, Any]:
    """MediaPipe Pose's loop on the same clip, through ``bench_mediapipe.py`` run by ``python`` (a
    virtual environment with mediapipe): its JSON, or ``{"error": why}``."""
    import subprocess

    if not Path(python).is_file():
        return {"error": f"{python} not found (set up MediaPipe as bench_mediapipe.py says)"}
    try:
        r = subprocess.run([str(python), str(MEDIAPIPE_SCRIPT), str(video)], capture_output=True, text=True,
                           timeout=timeout_s, check=False)
    except (OSError, subprocess.TimeoutExpired) as e:
        return {"error": f"{type(e).__name__}: {e}"}
    lines = [line for line in r.stdout.splitlines() if line.startswith("{")]
    if r.returncode != 0 or not lines:
        tail = (r.stderr.strip().splitlines() or ["no output"])[-1]
        return {"error": f"exit status {r.returncode}: {tail[:300]}"}
    return json.loads(lines[-1])


def stream_section(estimator: Estimator, clip: Path, work: Path, detector: Any, mediapipe_python: Path | None,
                   stage_frames: int) -> dict[str, Any]:
    """The streaming loops on ``clip`` (``stream_sources``), MediaPipe's on the same clip where
    ``mediapipe_python`` runs it, and the stages alone. Every loop's frames/s and latencies are also
    given as ratios against a reference measured in this run: MediaPipe's loop, else pose3d's loop
    without detection (the ratios are then the detector's cost; MediaPipe's figures as issue #14
    quotes them are kept beside, from another machine)."""
    loops = [{"loop": label, **streaming(estimator, clip, work / f"loop{i}", boxes)}
             for i, (label, boxes) in enumerate(stream_sources(estimator, detector))]
    mp = mediapipe_stream(mediapipe_python, clip) if mediapipe_python is not None else {"error": "not asked for (--mediapipe-python)"}
    measured = "error" not in mp
    if measured:
        mp["loop"] = f"{mp['engine']}, this run"
    reference = mp if measured else loops[0]
    for row in [*loops, mp] if measured else loops:
        row["fps_over_reference"] = row["frames_per_second"] / reference["frames_per_second"]
        row["median_over_reference"] = row["latency_ms_median"] / reference["latency_ms_median"]
        row["p95_over_reference"] = row["latency_ms_p95"] / reference["latency_ms_p95"]
    stage_ms = stream_stages(estimator, clip, detector, stage_frames)
    main_loop = loops[1] if len(loops) > 1 else loops[0]  # detecting at most 1 person, else the only loop
    frame_ms = 1e3 / main_loop["frames_per_second"]
    return {"loops": loops, "mediapipe": mp, "reference": reference["loop"], "mediapipe_quoted": MEDIAPIPE_QUOTED,
            "stage_ms": stage_ms, "stage_share_of": main_loop["loop"],
            "stage_share": {k: v / frame_ms for k, v in stage_ms.items()}}


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
    from pose3d_runtime.pipeline import run_on_crops

    from pose3d.baselines import synthetic_mean_pose
    from pose3d.evaluate import baseline_evaluations, score_poses

    models = {name: PoseModel(path, device="cpu") for name, path in paths.items()}
    first = next(iter(models.values())).info
    # The crops and people the (first) model was trained on: its input contract, its training bodies.
    bodies = str(first.training_config.get("bodies", "capsules"))
    ds = SyntheticPoses(SynthConfig(split="test", seed=0, length=samples, crop=first.crop, bodies=bodies))
    data = ds.render_all()
    names = ds.bank.activity_names
    scored = {name: score_poses(run_on_crops(m, data["image"])[0], data, names) for name, m in models.items()
              if m.info.contract == first.contract}
    scored |= baseline_evaluations(synthetic_mean_pose(bodies=bodies), data, names)
    return [{"model": name, "samples": samples, "mpjpe_mm": float(e.values["MPJPE"].mean()),
             "p_mpjpe_mm": float(e.values["P-MPJPE"].mean())} for name, e in scored.items()]


def real_accuracy(path: Path, realval: Path, video: Path | None, detector: Path | None = None) -> dict[str, Any] | None:
    """The real-photo evaluation (``pose3d.realval``) of an ONNX file, with the person detector file
    ``detector`` (None: the shipped one) for its detector and tracking rows: its headline rows and
    notes (a missing detector is one), or None where the labelled folder is absent."""
    if not (realval / "labels.json").is_file():
        return None
    from pose3d.realval.evaluate import evaluate_real, open_model

    videos = {"sports2d_demo/cam01": video} if video is not None and video.is_file() else None
    given = {"detector": detector} if detector is not None and "detector" in inspect.signature(evaluate_real).parameters else {}
    with tempfile.TemporaryDirectory() as tmp:
        rep = evaluate_real(open_model(path), realval, Path(tmp), videos, **given)
    return {"data": str(realval), "frames": rep.result["frames"], "frames_with_3d": rep.result["frames_with_3d"],
            "rows": rep.result["summary"], "notes": rep.result.get("notes", [])}


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
