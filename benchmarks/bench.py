"""The pose3d benchmark: the machine's limit, inference, preprocessing, end to end, accuracy, data.

    python benchmarks/bench.py            # about 3 minutes on 2 cores
    python benchmarks/bench.py --quick    # about 1 minute: fewer repeats, images, frames and samples
    python benchmarks/bench.py --detector det.onnx --mediapipe-python /work/mp-venv/bin/python

Every speed is reported with a reference measured in the same run (these machines are shared and
noisy): the fp32 matrix-multiply limit for inference, the OpenCV + NumPy chain for the fused kernel,
the slowest stage alone (timed in the same run) for the end-to-end folder run, and for the 640 x 480
streaming loop MediaPipe Pose's loop on the same frames (``--mediapipe-python``: a Python with
mediapipe, see bench_mediapipe.py) besides the 30 frames/s target; without MediaPipe the figures
issue #14 quotes are shown, marked as measured elsewhere. The person detector is ``--detector``
(default: the shipped one); where none is installed the detector rows are left out and say so.
Writes benchmarks/results/<machine>-<date>.json and .md and prints the table. Needs the training
extras (torch, onnx) for the PyTorch reference; ../shared/media, where present, gives the streaming
clip real footage (the Sports2D demo), else it is synthetic frames.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import sys
import tempfile
from pathlib import Path
from typing import Any

import cv2
import numba
import numpy as np
import onnxruntime as ort

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_runtime import (accuracy, folder_boxes, folder_section, full_size_images,  # noqa: E402
                           inference, model_gflop, open_detector, preprocessing, real_accuracy, score_separation,
                           stream_clip, stream_section)
from common import RESULTS, cores, cpu_model, matmul_gflops  # noqa: E402
from pose3d.crop import CropSpec  # noqa: E402
from pose3d_runtime.model import ModelError, PoseModel, default_model_path  # noqa: E402
from pose3d_runtime.pipeline import Estimator  # noqa: E402

SHARED_MEDIA = Path(__file__).resolve().parents[2] / "shared" / "media"
SHARED_REALVAL = Path(__file__).resolve().parents[2] / "shared" / "realval"


def machine() -> dict[str, Any]:
    import torch

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return {"cpu": cpu_model(), "cores": cores(), "gpu": gpu, "python": platform.python_version(),
            "numpy": np.__version__, "numba": numba.__version__, "opencv": cv2.__version__,
            "onnxruntime": ort.__version__, "onnxruntime_providers": ort.get_available_providers(),
            "torch": torch.__version__}


def bf16_gflops(repeats: int) -> float | None:
    """bf16 matrix multiply rate (torch), where the CPU has bf16 instructions; else None."""
    import torch

    from pose3d.train.device import cpu_has_fast_bf16

    if not cpu_has_fast_bf16():
        return None
    from common import best_of

    a = torch.randn(1024, 1024, dtype=torch.bfloat16)
    b = torch.randn(1024, 1024, dtype=torch.bfloat16)
    a @ b
    return 2 * 1024**3 / best_of(lambda: a @ b, repeats) / 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="about 1 minute on 2 cores")
    parser.add_argument("--model", type=Path, default=None, help="ONNX model (default: the shipped one)")
    parser.add_argument("--detector", type=Path, default=None,
                        help="person detector ONNX file (default: the shipped one; none installed: its rows are left out)")
    parser.add_argument("--mediapipe-python", type=Path, default=None,
                        help="a Python with mediapipe 0.10.21 (its own venv): MediaPipe Pose timed on the same frames")
    parser.add_argument("--machine", default=None, help="name in the results file (default: cpu<cores>[-gpu])")
    args = parser.parse_args()
    q = args.quick
    repeats = 3 if q else 7

    info = machine()
    name = args.machine or (f"cpu{info['cores']}" + ("-" + info["gpu"].split()[-1].lower() if info["gpu"] else ""))
    shipped_path = args.model or default_model_path()
    shipped = PoseModel(shipped_path)
    estimator = Estimator(shipped)
    try:
        detector, no_detector = open_detector(args.detector, estimator.margin)
    except (ModelError, ValueError) as e:
        parser.error(f"--detector: {e}")
    result: dict[str, Any] = {"date": dt.date.today().isoformat(), "machine": info, "quick": q,
                              "model": shipped.info.model_id, "provider": shipped.provider,
                              "has_person_head": shipped.has_person,
                              "detector": detector.info.model_id if detector is not None else None,
                              "detector_note": no_detector}
    if no_detector:
        print(no_detector, file=sys.stderr)

    print("limit ...", file=sys.stderr)
    gflop = model_gflop(shipped_path)
    fp32 = matmul_gflops(repeats=repeats)
    result["limit"] = {"fp32_matmul_gflops": fp32, "bf16_matmul_gflops": bf16_gflops(repeats),
                       "model_gflop_per_image": gflop, "flop_bound_images_per_s": fp32 / gflop}

    print("inference ...", file=sys.stderr)
    rows = inference(shipped, repeats)
    # The limit again right after: the best the machine showed around the inference timings (shared
    # machines: one measurement alone was seen to vary 164-254 GFLOP/s between runs).
    fp32 = max(fp32, matmul_gflops(repeats=repeats))
    result["limit"].update(fp32_matmul_gflops=fp32, flop_bound_images_per_s=fp32 / gflop)
    for r in rows:
        r["fraction_of_flop_bound"] = r["images_per_s"] * gflop / fp32
    result["inference"] = rows

    print("preprocessing ...", file=sys.stderr)
    result["preprocessing"] = preprocessing(repeats)

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        print("end to end ...", file=sys.stderr)
        n = 24 if q else 96
        paths = full_size_images(n, tmp / "images")
        boxes = folder_boxes(estimator, detector)
        result["folder"] = folder_section(estimator, paths, tmp, boxes, "1000 x 1002 and 1920 x 1080 synthetic frames (JPEG)")
        print("streaming ...", file=sys.stderr)
        clip = tmp / "clip.mp4"
        what = stream_clip(clip, 90 if q else 230, SHARED_MEDIA if SHARED_MEDIA.is_dir() else None)
        result["streaming"] = {"clip": what, **stream_section(estimator, clip, tmp / "stream", detector,
                                                              args.mediapipe_python, 30 if q else 100)}

    print("accuracy ...", file=sys.stderr)
    result["accuracy"] = accuracy({"shipped": shipped_path}, 256 if q else 2000)
    print("real photos ...", file=sys.stderr)
    result["real_accuracy"] = real_accuracy(shipped_path, SHARED_REALVAL, None if q else SHARED_MEDIA / "sports2d" / "demo.mp4",
                                            args.detector)
    result["score"] = score_separation(estimator, 40 if q else 200)

    print("data engine ...", file=sys.stderr)
    from bench_prepared import read_speed
    from bench_synth import render_seconds

    synth_s = render_seconds(CropSpec(), 64, repeats)
    with tempfile.TemporaryDirectory() as tmp:
        reads = read_speed(Path(tmp), chunks=2 if q else 6, repeats=repeats)
    result["data"] = {"synthetic_crops_per_s": 1.0 / synth_s, "prepared_reads": reads,
                      "training_images_per_s_at_flop_bound": fp32 / (3 * gflop)}

    table = report(result)
    print(table)
    RESULTS.mkdir(exist_ok=True)
    stem = RESULTS / f"{name}-{result['date']}{'-quick' if q else ''}"
    stem.with_suffix(".json").write_text(json.dumps(result, indent=1, default=float))
    stem.with_suffix(".md").write_text(table + "\n")
    print(f"\nwrote {stem}.json and .md", file=sys.stderr)


def report(r: dict[str, Any]) -> str:
    m, lim = r["machine"], r["limit"]
    out = [f"## pose3d benchmark, {r['date']}{' (quick)' if r['quick'] else ''}", "",
           f"Machine: {m['cpu']}, {m['cores']} cores, GPU: {m['gpu'] or 'none'}; numpy {m['numpy']}, numba {m['numba']}, "
           f"OpenCV {m['opencv']}, onnxruntime {m['onnxruntime']}, torch {m['torch']}. Model: {r['model']} on {r['provider']}.", "",
           f"**Limit.** fp32 matrix multiply {lim['fp32_matmul_gflops']:.0f} GFLOP/s"
           + (f", bf16 {lim['bf16_matmul_gflops']:.0f} GFLOP/s" if lim["bf16_matmul_gflops"] else ", bf16: no bf16 instructions")
           + f"; the model costs {lim['model_gflop_per_image']:.3f} GFLOP per image, so the FLOP-bound rate is "
           f"{lim['flop_bound_images_per_s']:.0f} images/s.", "",
           "**Model only** (same architecture; target: batch 64 at >= 70 % of the FLOP bound)", "",
           "| engine | batch | images/s | of FLOP bound |", "|---|---|---|---|"]
    out += [f"| {x['engine']} | {x['batch']} | {x['images_per_s']:.1f} | {100 * x['fraction_of_flop_bound']:.0f} % |"
            for x in r["inference"]]
    out += ["", "**Preprocessing** (target: fused kernel >= 1.5x the OpenCV + NumPy chain)", "",
            "| what | numba (ms) | reference (ms) | speed-up | reference |", "|---|---|---|---|---|"]
    out += [f"| {x['what']} | {x['numba_ms']:.3f} | {x['reference_ms']:.3f} | {x['speedup']:.2f}x | {x['reference']} |"
            for x in r["preprocessing"]]
    if r.get("detector_note"):
        out += ["", f"**Person detector**: {r['detector_note']}."]
    else:
        out += ["", f"**Person detector**: {r['detector']}."]
    out += folder_markdown(r["folder"]) + streaming_markdown(r["streaming"])
    out += ["", "**Accuracy** on rendered synthetic test crops (mm, mean over the crops)", "", "| model | crops | MPJPE | P-MPJPE |", "|---|---|---|---|"]
    out += [f"| {x['model']} | {x['samples']} | {x['mpjpe_mm']:.1f} | {x['p_mpjpe_mm']:.1f} |" for x in r["accuracy"]]
    real = r.get("real_accuracy")
    if real is None:
        out += ["", "**Accuracy on real photos**: ../shared/realval not present, not measured."]
    else:
        out += ["", f"**Accuracy on real photos** ({real['data']}: {real['frames']} frames, {real['frames_with_3d']} with "
                "triangulated 3D; `pose3d-eval --real`; PCK@0.2·torso, P-MPJPE in mm)", "",
                "| predictor | found | PCK@0.2 | P-MPJPE (frames) |", "|---|---|---|---|"]
        for x in real["rows"]:
            found = f"{x['found']}/{x['frames']}" if "found" in x else "—"
            pck = f"{x['pck']:.3f}" if x.get("pck") is not None else "—"
            p3 = f"{x['p_mpjpe']:.1f} ({x['p_mpjpe_frames']})" if x.get("p_mpjpe_frames") else "—"
            out.append(f"| {x['predictor']} | {found} | {pck} | {p3} |")
        out += [""] + [f"- {n}" for n in real.get("notes", [])] if real.get("notes") else []
    sc = r["score"]
    kind = "the model's own score: person head or mean joint confidence" if r["has_person_head"] else "agreement of the 2D and 3D heads"
    out += ["", f"**Pose score** ({kind}) on {sc['pairs']} synthetic test frames: median "
            f"{sc['person_median']:.2f} on the person's crop, {sc['background_median']:.2f} on a background crop of the same "
            f"size; AUC {sc['auc']:.2f} (chance a person crop scores higher)."]
    d = r["data"]
    reads = d["prepared_reads"]
    out += ["", f"**Data engine.** Synthetic crops rendered: {d['synthetic_crops_per_s']:.0f}/s per process "
            f"({d['synthetic_crops_per_s'] / d['training_images_per_s_at_flop_bound']:.1f}x what a FLOP-bound training step "
            f"consumes). Prepared Human3.6M reads (fabricated set): {reads['random_training_batches']:.0f} crops/s in random "
            f"training batches, vs {reads['in_memory_fancy_index']:.0f}/s indexing one in-memory array."]
    return "\n".join(out)


def folder_markdown(f: dict[str, Any]) -> list[str]:
    e2e = f["end_to_end"]
    out = ["", f"**Folder run** ({f['images']} {f['size']}; boxes: {e2e['boxes']}; target: end to end >= 80 % of the "
           "slowest stage, each stage timed alone in the same run)", "", "| stage alone | images/s |", "|---|---|"]
    out += [f"| {k} | {v:.1f} |" for k, v in f["stages_images_per_s"].items()]
    if "detect" not in f["stages_images_per_s"]:
        out.append("| detect | left out: no person detector (each whole image is the crop) |")
    if "stages_in_series_images_per_s" in f:
        out.append(f"| every stage one after another (the sum of their times) | {f['stages_in_series_images_per_s']:.1f} |")
    out += [f"| **pose3d-run end to end** | **{e2e['images_per_s']:.1f}** "
            f"({100 * f['end_to_end_over_slowest_stage']:.0f} % of the slowest stage, {f['slowest_stage']}"
            + (f"; {f['end_to_end_over_in_series']:.2f}x the stages in series" if "end_to_end_over_in_series" in f else "")
            + f"; {e2e['people']} people, {e2e['no_person']} images without one) |"]
    return out


def streaming_markdown(s: dict[str, Any]) -> list[str]:
    mp, quoted = s["mediapipe"], s["mediapipe_quoted"]
    measured = "error" not in mp
    out = ["", f"**Streaming** (the `pose3d-run --video` loop, annotated video and JSON Lines written; {s['clip']}; "
           f"target: >= 30 frames/s with detection, median and p95 latency under MediaPipe's). Ratios against "
           f"'{s['reference']}', measured in this run.",
           "", "| loop | frames/s | of 30 frames/s | latency median (ms) | p95 (ms) | frames/s ÷ ref | median ÷ ref | "
           "p95 ÷ ref | frames with a person | people | tracks |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for x in [*s["loops"], mp] if measured else s["loops"]:
        out.append(f"| {x['loop']} | {x['frames_per_second']:.1f} | {100 * x['frames_per_second'] / 30:.0f} % | "
                   f"{x['latency_ms_median']:.1f} | {x['latency_ms_p95']:.1f} | {x['fps_over_reference']:.2f}x | "
                   f"{x['median_over_reference']:.2f}x | {x['p95_over_reference']:.2f}x | {x['frames_with_person']}/{x['frames']} | "
                   f"{x['people']} | {x.get('tracks', '—')} |")
    if len(s["loops"]) == 1:
        out += ["", "The loops with detection are left out: no person detector."]
    if not measured:
        out += ["", f"MediaPipe not measured in this run ({mp['error']}); {quoted['engine']} as quoted by "
                f"{quoted['where']}: {quoted['frames_per_second']} frames/s, median {quoted['latency_ms_median']:.0f} ms, "
                f"p95 {quoted['latency_ms_p95']:.0f} ms (another machine and run: no ratio against it)."]
    share = s["stage_share"]
    out += ["", "Each stage alone, per 640 x 480 frame (median over the clip's frames; share of a frame of the loop "
            f"'{s['stage_share_of']}'): " + ", ".join(f"{k} {v:.1f} ms ({100 * share[k]:.0f} %)" for k, v in s["stage_ms"].items())
            + "."]
    return out


if __name__ == "__main__":
    main()
