"""The prepared set on disk: atomic chunk writes, resumption, the manifest and its validation.

Every chunk is written into ``chunks/.tmp-<id>/`` and then renamed to ``chunks/<id>/`` in one step,
so a chunk folder either holds a whole chunk or does not exist; an interrupted run leaves only
``.tmp-*`` folders, removed when the next run starts, and that run skips every finished chunk.
``manifest.json`` is written last (also atomically): its presence marks a finished, validated set.
The layout of the files is described in ``pose3d.data.h36m`` (FORMAT).
"""

from __future__ import annotations

import json
import os
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

FORMAT_VERSION = 1
CHUNKS = "chunks"
OPTIONS = "options.json"
MANIFEST = "manifest.json"
CROPS = "crops.npy"
LABELS = "labels.npz"
META = "meta.json"
#: Arrays of labels.npz: name -> (trailing shape, dtype).
LABEL_ARRAYS = {
    "frame": ((), np.int32),
    "pose_world": ((17, 3), np.float32),
    "pose_cam": ((17, 3), np.float32),
    "joints_2d": ((17, 2), np.float32),
    "box": ((3,), np.float32),
}


class PreparedSetError(ValueError):
    """A prepared set that is missing, unfinished, made with other options, or inconsistent."""


def write_json_atomic(path: Path, data: Any) -> None:
    tmp = path.with_name(f".tmp-{path.name}")
    tmp.write_text(json.dumps(data, indent=1))
    os.replace(tmp, path)


def start(out: Path, options: dict[str, Any]) -> None:
    """Begin or resume a set in ``out``: check the options match an earlier run's, clear leftovers of
    an interrupted one, and mark the set unfinished until ``finish``."""
    (out / CHUNKS).mkdir(parents=True, exist_ok=True)
    path = out / OPTIONS
    if path.exists():
        before = json.loads(path.read_text())
        if before != options:
            diff = sorted(k for k in set(before) | set(options) if before.get(k) != options.get(k))
            raise PreparedSetError(f"{out} was prepared with other options ({', '.join(diff)} differ): "
                                   f"use another --out, or delete it to start again")
    else:
        write_json_atomic(path, options)
    (out / MANIFEST).unlink(missing_ok=True)
    for tmp in (out / CHUNKS).glob(".tmp-*"):
        shutil.rmtree(tmp)


def is_done(out: Path, chunk_id: str) -> bool:
    return (out / CHUNKS / chunk_id / META).is_file()


def write_chunk(out: Path, chunk_id: str, crops: np.ndarray | None, labels: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
    """Write one chunk atomically. ``crops`` (N, S, S, 3) uint8 or None; ``labels`` as LABEL_ARRAYS."""
    n = len(labels["frame"])
    for name, (shape, dtype) in LABEL_ARRAYS.items():
        if labels[name].shape != (n, *shape):
            raise ValueError(f"label {name!r} has shape {labels[name].shape}, expected {(n, *shape)}")
    tmp = out / CHUNKS / f".tmp-{chunk_id}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    if crops is not None:
        np.save(tmp / CROPS, np.ascontiguousarray(crops, dtype=np.uint8))
    np.savez(tmp / LABELS, **{k: labels[k].astype(dtype) for k, (_, dtype) in LABEL_ARRAYS.items()})
    (tmp / META).write_text(json.dumps({**meta, "id": chunk_id, "count": n, "has_images": crops is not None}, indent=1))
    os.replace(tmp, out / CHUNKS / chunk_id)


def read_meta(out: Path, chunk_id: str) -> dict[str, Any]:
    return json.loads((out / CHUNKS / chunk_id / META).read_text())


def chunk_ids(out: Path) -> list[str]:
    return sorted(p.name for p in (out / CHUNKS).iterdir() if p.is_dir() and not p.name.startswith(".tmp-"))


def check_chunk(out: Path, meta: dict[str, Any], crop_size: int) -> list[str]:
    """What is wrong with one finished chunk (empty when nothing): array shapes against its count."""
    folder = out / CHUNKS / meta["id"]
    n, errors = meta["count"], []
    try:
        with np.load(folder / LABELS) as labels:
            for name, (shape, _) in LABEL_ARRAYS.items():
                if labels[name].shape != (n, *shape):
                    errors.append(f"{name} has shape {labels[name].shape}, expected {(n, *shape)}")
                elif name.startswith("pose") and not np.isfinite(labels[name]).all():
                    errors.append(f"{name} has non-finite values")
        if meta["has_images"]:
            crops = np.load(folder / CROPS, mmap_mode="r")
            if crops.shape != (n, crop_size, crop_size, 3) or crops.dtype != np.uint8:
                errors.append(f"crops are {crops.dtype} {crops.shape}, expected uint8 {(n, crop_size, crop_size, 3)}")
    except (OSError, ValueError, KeyError) as e:
        errors.append(f"unreadable ({e})")
    return errors


def counts(metas: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    """Samples per subject, per action, per camera and per role."""
    out: dict[str, Counter] = {k: Counter() for k in ("subject", "action", "camera", "role")}
    for m in metas:
        for k in out:
            out[k][str(m[k])] += m["count"]
    return {k: dict(sorted(v.items())) for k, v in out.items()}


def finish(out: Path, options: dict[str, Any], problems: list[dict[str, str]], notes: list[str]) -> dict[str, Any]:
    """Validate every chunk and write the manifest. Chunks that fail validation are removed (and
    reported as problems) so that the set only ever holds whole chunks. Returns the manifest."""
    metas = []
    for cid in chunk_ids(out):
        meta = read_meta(out, cid)
        errors = check_chunk(out, meta, options["crop_size"])
        if errors:
            problems.append({"file": str(out / CHUNKS / cid), "kind": "corrupt", "message": "; ".join(errors) + " (removed)"})
            shutil.rmtree(out / CHUNKS / cid)
        else:
            metas.append(meta)
    table = counts(metas)
    manifest = {
        "format": FORMAT_VERSION,
        "options": options,
        "total": sum(m["count"] for m in metas),
        "has_images": bool(metas) and all(m["has_images"] for m in metas),
        "counts": table,
        "chunks": [{k: m[k] for k in ("id", "subject", "action", "take", "camera", "role", "count")} for m in metas],
        "problems": problems,
        "notes": notes,
    }
    # The tables must add up to the chunks: a cheap guard against a bookkeeping slip.
    for name, rows in table.items():
        if sum(rows.values()) != manifest["total"]:
            raise PreparedSetError(f"count per {name} adds up to {sum(rows.values())}, not {manifest['total']}")
    write_json_atomic(out / MANIFEST, manifest)
    return manifest


def read_manifest(out: Path) -> dict[str, Any]:
    path = Path(out) / MANIFEST
    if not path.is_file():
        what = "an unfinished prepared set (run pose3d-prepare again to finish it)" if (Path(out) / OPTIONS).exists() \
            else "not a prepared Human3.6M set (run pose3d-prepare h36m)"
        raise PreparedSetError(f"{out}: {what}")
    manifest = json.loads(path.read_text())
    if manifest.get("format") != FORMAT_VERSION:
        raise PreparedSetError(f"{out}: prepared-set format {manifest.get('format')}, this version reads {FORMAT_VERSION}")
    return manifest
