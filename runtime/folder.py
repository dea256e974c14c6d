"""``pose3d-run FOLDER``: every image under a folder, batched, resumable, robust to bad files.

Results mirror the input tree, named after the image with its extension's dot made an underscore:
``photos/x.jpg`` gives ``OUT/photos/x_jpg.json`` and, unless told not to, ``OUT/photos/x_jpg.annotated.jpg``
(also for images without a person). Image extensions hold no underscore, so the names cannot collide
(``x.jpg`` and ``x.png`` give ``x_jpg`` and ``x_png``). A file whose JSON is already there is skipped
(``overwrite`` redoes it). Files that cannot be read, folders that cannot be listed, broken symlinks
and symlink loops are listed in ``OUT/errors.json`` and the summary with the reason (and retried on
the next run); files without an image extension are listed as ignored. The output folder is never
read as input, even when it lies inside the input folder. ``OUT/summary.json`` and ``OUT/poses.npz``
(a row per person of every 'ok' result, this run's and earlier ones) are rewritten at the end.

Which boxes each image gets is the box source's business (``pose3d_runtime.boxes``: a given box, the
whole image, or every person the detector finds: proposals refined onto their poses, ``pipeline.refine``,
verified by the pose score, ``boxes.verify``, and refined once more, ``pipeline.refine_again``;
``find_in_images``); a record lists every person (``people``; schema in
``pose3d_runtime.outputs``). Decoding and person detection run on a thread pool ahead of the model
(OpenCV and onnxruntime release the GIL), so the stages overlap; the pose model takes the people of
several images in one batch.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from pose3d_runtime.boxes import BoxSource, Detect, Target
from pose3d_runtime.draw import annotate
from pose3d_runtime.outputs import OutputError, check_output_folder, read_json, write_aggregate, write_image, write_json
from pose3d_runtime.pipeline import Estimator, Intrinsics, Pose, drawn_people, frame_record, refine, refine_again
from pose3d_runtime.sources import ImageError, list_inputs, read_image


@dataclass
class FolderReport:
    done: int = 0
    skipped: int = 0
    no_person: int = 0
    people: int = 0
    failed: list[dict[str, str]] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    seconds: float = 0.0
    aggregated: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {"processed": self.done, "skipped_already_done": self.skipped, "no_person": self.no_person,
                "people": self.people,
                "failed": len(self.failed), "ignored_not_images": len(self.ignored), "seconds": round(self.seconds, 2),
                "images_per_second": round(self.done / self.seconds, 2) if self.seconds > 0 else None,
                "aggregated_poses": self.aggregated, "errors": self.failed, "ignored": self.ignored}


@dataclass
class _Loaded:
    rel: str
    image: np.ndarray | None = None
    targets: list[Target] = field(default_factory=list)
    camera: Intrinsics | None = None
    error: str | None = None


class FolderError(ValueError):
    """The input and output folders cannot be used together; the message says why."""


def output_stem(rel: str) -> str:
    """'a/x.jpg' -> 'a/x_jpg': the outputs' name for an image (relative path, POSIX separators)."""
    p = PurePosixPath(rel)
    return str(p.with_name(f"{p.stem}_{p.suffix[1:]}"))


def result_path(out: Path, rel: str) -> Path:
    return out / f"{output_stem(rel)}.json"


def annotated_path(out: Path, rel: str) -> Path:
    return out / f"{output_stem(rel)}.annotated.jpg"


def check_folders(root: Path, out: Path) -> Path:
    """The folder that input paths are relative to; FolderError if the output folder is it or holds it
    (the outputs would be read as inputs on the next run)."""
    base = root if root.is_dir() else root.parent
    b, o = base.resolve(), out.resolve()
    if o == b or o in b.parents:
        raise FolderError(f"the output folder {out} {'is' if o == b else 'contains'} the input folder {base}: "
                          "choose another (-o)")
    return base


def run_folder(
    estimator: Estimator, root: Path, out: Path, boxes: BoxSource, batch_size: int = 16, overwrite: bool = False,
    annotate_images: bool = True, workers: int = 2,
    progress: Callable[[int], Any] | None = None, on_total: Callable[[int], Any] | None = None,
) -> FolderReport:
    """Every image under ``root`` (or the image ``root``) into ``out``, each with the people ``boxes``
    gives. Raises FolderError or OutputError before any work when the folders cannot be used."""
    report = FolderReport()
    start = time.perf_counter()
    base = check_folders(root, out)
    check_output_folder(out)
    found = list_inputs(root, exclude=[out])
    images = found.images
    rel = lambda p: p.relative_to(base).as_posix()  # noqa: E731
    report.ignored = [rel(p) for p in found.ignored]
    report.failed = [{"file": rel(p), "error": reason} for p, reason in found.unreadable]
    todo = [p for p in images if overwrite or read_json(result_path(out, rel(p))) is None]
    report.skipped = len(images) - len(todo)
    if on_total:
        on_total(len(todo))
    info = estimator.info

    def load(path: Path) -> _Loaded:
        item = _Loaded(rel(path))
        try:
            item.image = read_image(path)
            item.camera = estimator.intrinsics(item.image.shape)
            item.targets = boxes.boxes(item.image)
        except ImageError as e:
            item.error = str(e)
        except Exception as e:  # noqa: BLE001 - an unexpected failure costs this file, not the run
            item.error = f"{type(e).__name__}: {e}"
        return item

    def finish(batch: list[_Loaded]) -> None:
        try:
            found = find_in_images(estimator, boxes, [item.image for item in batch], [item.targets for item in batch],
                                   [item.camera for item in batch])
        except Exception as e:  # noqa: BLE001 - an unexpected failure costs this batch, not the run
            for item in batch:
                report.failed.append({"file": item.rel, "error": f"model failed: {type(e).__name__}: {e}"})
            if progress:
                progress(len(batch))
            return
        for item, people in zip(batch, found):
            try:
                record = {"file": item.rel, **frame_record(people, item.camera, info.model_id),
                          "joint_names": list(info.joint_names)}
                if annotate_images:
                    text = f"{len(people)} {'person' if len(people) == 1 else 'people'}" if people else "no person found"
                    write_image(annotated_path(out, item.rel),
                                annotate(item.image, drawn_people(people), info.joint_parents, info.joint_names, text))
                write_json(result_path(out, item.rel), record)  # last: its presence means done
                report.done += 1
                report.people += len(people)
                report.no_person += not people
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
            batch.append(item)
            if len(batch) >= batch_size or sum(len(b.targets) for b in batch) >= batch_size:  # images or people
                finish(batch)
                batch = []
        finish(batch)
    report.seconds = time.perf_counter() - start

    try:
        write_json(out / "errors.json", report.failed)
        records = ((rel(p), read_json(result_path(out, rel(p))) or {}) for p in images)
        report.aggregated = write_aggregate(out / "poses.npz", records, list(info.joint_names))
        write_json(out / "summary.json", {"input": str(root), "model": info.model_id, "provider": estimator.model.provider,
                                          "boxes": boxes.name, **report.as_dict()})
    except OSError as e:
        raise OutputError(f"cannot write the run's summary in {out}: {e.strerror or e}") from None
    return report


def find_in_images(estimator: Estimator, boxes: BoxSource, images: Sequence[np.ndarray],
                   targets: Sequence[Sequence[Target]], cameras: Sequence[Intrinsics]) -> list[list[tuple[Target, Pose]]]:
    """The people of each image, as ``pose3d-run`` reports them, from its box source's ``targets``:
    the pose model on all of them in one batch, ``refine``, ``boxes.observe`` per image, and where
    the detector proposes and the pose score verifies (``Detect.verify``) the reported people refined
    once more (``refine_again``, one batch) and observed again (one per person, as before)."""
    frames, cams = _per_item(images, targets), _per_item(cameras, targets)
    flat = [t for ts in targets for t in ts]
    found, poses = refine(estimator, frames, flat, estimator.estimate(frames, [t.box for t in flat], cams), cams)
    people = [boxes.observe(im.shape, ts, ps) for im, ts, ps in zip(images, _split(found, targets), _split(poses, targets))]
    if not (isinstance(boxes, Detect) and boxes.verify):
        return people
    again = refine_again(estimator, _per_item(images, people), [p for ps in people for p in ps],
                         _per_item(cameras, people), boxes.min_score)
    return [boxes.observe(im.shape, [t for t, _ in mine], [p for _, p in mine])
            for im, mine in zip(images, _split(again, people))]


def _per_item(values: Sequence, groups: Sequence[Sequence]) -> list:
    """Each value repeated once per member of its group (an image for each of its people)."""
    return [v for v, g in zip(values, groups) for _ in g]


def _split(flat: Sequence, groups: Sequence[Sequence]) -> list[list]:
    """``flat`` (the groups' members in order) cut back into lists of the groups' lengths."""
    out, at = [], 0
    for g in groups:
        out.append(list(flat[at:at + len(g)]))
        at += len(g)
    return out


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
