"""``pose3d-run FOLDER``: every image under a folder, batched, resumable, robust to bad files.

Results mirror the input tree: ``OUT/<relative path>.json`` (and ``.jpg`` annotated unless told
not to). A file whose JSON is already there is skipped (``overwrite`` redoes it). Files that cannot
be read are listed in ``OUT/errors.json`` with the reason and retried on the next run; files without
an image extension are listed as ignored. ``OUT/summary.json`` and ``OUT/poses.npz`` (every 'ok'
result, this run's and earlier ones) are rewritten at the end.

Decoding and person detection run on a thread pool ahead of the model (OpenCV releases the GIL), so
the stages overlap.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

from pose3d_runtime.draw import annotate
from pose3d_runtime.outputs import read_json, write_aggregate, write_image, write_json
from pose3d_runtime.pipeline import Estimator, full_image_box, no_person_record
from pose3d_runtime.sources import ImageError, list_inputs, read_image


@dataclass
class FolderReport:
    done: int = 0
    skipped: int = 0
    no_person: int = 0
    failed: list[dict[str, str]] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    seconds: float = 0.0
    aggregated: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {"processed": self.done, "skipped_already_done": self.skipped, "no_person": self.no_person,
                "failed": len(self.failed), "ignored_not_images": len(self.ignored), "seconds": round(self.seconds, 2),
                "images_per_second": round(self.done / self.seconds, 2) if self.seconds > 0 else None,
                "aggregated_poses": self.aggregated, "errors": self.failed, "ignored": self.ignored}


@dataclass
class _Loaded:
    rel: str
    image: np.ndarray | None = None
    box: np.ndarray | None = None
    box_source: str | None = None
    detector_score: float | None = None
    error: str | None = None


def result_path(out: Path, rel: str) -> Path:
    return out / f"{rel}.json"


def run_folder(
    estimator: Estimator, root: Path, out: Path, batch_size: int = 16, overwrite: bool = False,
    annotate_images: bool = True, bbox: np.ndarray | None = None, full_image: bool = False, workers: int = 2,
    progress: Callable[[int], Any] | None = None, on_total: Callable[[int], Any] | None = None,
) -> FolderReport:
    report = FolderReport()
    start = time.perf_counter()
    images, ignored = list_inputs(root)
    base = root if root.is_dir() else root.parent
    rel = lambda p: p.relative_to(base).as_posix()  # noqa: E731
    report.ignored = [rel(p) for p in ignored]
    todo = [p for p in images if overwrite or read_json(result_path(out, rel(p))) is None]
    report.skipped = len(images) - len(todo)
    if on_total:
        on_total(len(todo))
    model_id = estimator.info.model_id

    def load(path: Path) -> _Loaded:
        item = _Loaded(rel(path))
        try:
            item.image = read_image(path)
            if full_image:
                item.box, item.box_source = full_image_box(item.image.shape), "full_image"
            elif bbox is not None:
                item.box, item.box_source = bbox, "given"
            else:
                found = estimator.detector(item.image)
                if found is not None:
                    item.box, item.box_source, item.detector_score = found.box, "detected", found.weight
        except ImageError as e:
            item.error = str(e)
        except Exception as e:  # noqa: BLE001 - an unexpected failure costs this file, not the run
            item.error = f"{type(e).__name__}: {e}"
        return item

    def finish(batch: list[_Loaded]) -> None:
        try:
            poses = estimator.estimate([b.image for b in batch], [b.box for b in batch])
        except Exception as e:  # noqa: BLE001 - an unexpected failure costs this batch, not the run
            for item in batch:
                report.failed.append({"file": item.rel, "error": f"model failed: {type(e).__name__}: {e}"})
            poses = []
        for item, pose in zip(batch, poses):
            try:
                record = {"file": item.rel, **pose.record(item.box_source, item.detector_score, model_id),
                          "joint_names": list(estimator.info.joint_names)}
                if annotate_images:
                    picture = annotate(item.image, pose.joints_2d_px, pose.joints_3d_mm, pose.box,
                                       estimator.info.joint_parents, estimator.info.joint_names,
                                       f"score {pose.score:.2f}", pose.reprojected(item.image.shape))
                    write_image(out / f"{item.rel}.jpg", picture)
                write_json(result_path(out, item.rel), record)  # last: its presence means done
                report.done += 1
            except Exception as e:  # noqa: BLE001 - one file's failure is recorded, the run goes on
                report.failed.append({"file": item.rel, "error": f"{type(e).__name__}: {e}"})
        if progress:
            progress(len(batch))

    batch: list[_Loaded] = []
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        for item in _ahead(pool, load, todo, 2 * batch_size):
            if item.error is not None:
                report.failed.append({"file": item.rel, "error": item.error})
                if progress:
                    progress(1)
                continue
            if item.box is None:
                write_json(result_path(out, item.rel), {"file": item.rel, **no_person_record(model_id)})
                report.no_person += 1
                report.done += 1
                if progress:
                    progress(1)
                continue
            batch.append(item)
            if len(batch) == batch_size:
                finish(batch)
                batch = []
        finish(batch)
    report.seconds = time.perf_counter() - start

    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "errors.json", report.failed)
    records = ((rel(p), read_json(result_path(out, rel(p))) or {}) for p in images)
    report.aggregated = write_aggregate(out / "poses.npz", records, list(estimator.info.joint_names))
    write_json(out / "summary.json", {"input": str(root), "model": model_id, "provider": estimator.model.provider,
                                      **report.as_dict()})
    return report


def _ahead(pool: ThreadPoolExecutor, fn: Callable, items: list, depth: int) -> Iterator:
    """fn over items on the pool, in order, at most ``depth`` in flight."""
    pending = []
    it = iter(items)
    for item in it:
        pending.append(pool.submit(fn, item))
        if len(pending) >= depth:
            break
    while pending:
        result = pending.pop(0).result()
        nxt = next(it, None)
        if nxt is not None:
            pending.append(pool.submit(fn, nxt))
        yield result
