"""pose3d.synth.photos: the photo filter, package unpacking and listing, sources.json, reruns, and fetch
failures, all on fabricated images and package trees (no network)."""

from __future__ import annotations

import json
import struct
import zipfile
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from pose3d.synth import photos
from pose3d.synth.photos import FILTERS, FetchError, PhotoSource, gather_photos, list_members, reject_reason

BG = FILTERS["backgrounds"]


def photo_like(h: int = 480, w: int = 640, seed: int = 0) -> np.ndarray:
    """A noisy colour gradient with some structure: what the filter must let through. (H, W, 3) uint8."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    base = np.stack([x / w * 180 + 40, y / h * 150 + 60, (x + y) / (w + h) * 120 + 80], axis=-1)
    blobs = 40 * np.sin(x / (17 + 5 * seed)) * np.cos(y / 23)
    img = base + blobs[..., None] + rng.normal(0, 10, (h, w, 3))
    return np.clip(img, 0, 255).astype(np.uint8)


def flat_logo(h: int = 600, w: int = 800) -> np.ndarray:
    img = np.full((h, w, 3), (240, 240, 240), np.uint8)
    cv2.circle(img, (w // 2, h // 2), h // 3, (200, 40, 30), -1)
    cv2.rectangle(img, (50, 50), (250, 150), (20, 120, 220), -1)
    return img


def test_filter_keeps_a_photo_like_image():
    assert reject_reason(photo_like(), BG) is None


def test_filter_rejects_a_flat_three_colour_logo():
    assert reject_reason(flat_logo(), BG) in ("few colours", "flat regions")


def test_filter_rejects_a_tiny_image():
    assert reject_reason(photo_like(100, 120), BG) == "too small"


def test_filter_rejects_transparency():
    img = np.dstack([photo_like(), np.full((480, 640), 255, np.uint8)])
    img[:200, :200, 3] = 0
    assert reject_reason(img, BG) == "transparency"
    img[..., 3] = 255  # fully opaque alpha is no reason
    assert reject_reason(img, BG) is None


def test_filter_rejects_near_uniform_and_elongated_images():
    rng = np.random.default_rng(1)
    grey = np.clip(128 + rng.normal(0, 3, (500, 700, 3)), 0, 255).astype(np.uint8)
    assert reject_reason(grey, BG) == "near-uniform"
    assert reject_reason(photo_like(480, 2000), BG) == "elongated"


def test_filter_rejects_a_smooth_render():
    """A gentle gradient (a rendered sky) with a few bright shapes: low local variation almost everywhere."""
    y, x = np.mgrid[0:600, 0:800].astype(np.float32)
    render = np.stack([x / 800 * 100 + 60, y / 600 * 100 + 90, np.full_like(x, 200)], axis=-1).astype(np.uint8)
    for i in range(6):
        cv2.circle(render, (70 + 130 * i, 300), 50, (30 + 30 * i, 250 - 30 * i, 40 + 20 * i), -1)
    assert reject_reason(render, BG) == "flat regions"


def test_dhash_finds_a_resized_copy_and_not_another_photo():
    a = photo_like(seed=0)
    copy = cv2.resize(a, (320, 240), interpolation=cv2.INTER_AREA)
    assert photos.is_duplicate(photos.dhash(copy), [photos.dhash(a)])
    assert not photos.is_duplicate(photos.dhash(np.ascontiguousarray(a[::-1])), [photos.dhash(a)])


def test_gimp_pattern_and_hdr_decoding():
    rgb = photo_like(40, 30)
    header = struct.pack(">5I4s", 24 + 5, 1, 30, 40, 3, b"GPAT") + b"name\0"
    decoded = photos.decode_image("x.pat", header + rgb[..., ::-1].tobytes())  # BGR -> RGB on disk
    np.testing.assert_array_equal(decoded, rgb)
    tiled = photos.tile_up(decoded, 100)
    assert tiled.shape == (120, 120, 3) and np.array_equal(tiled[40:80, 30:60], rgb)
    hdr = np.float32([[[0.0, 0.0, 0.0], [1.0, 1.0, 1.0], [1e4, 1e4, 1e4]]])
    ldr = photos.tonemap(hdr)
    assert ldr.dtype == np.uint8 and ldr[0, 0].max() == 0 and 0 < ldr[0, 1, 0] < ldr[0, 2, 0] <= 255


# ----------------------------------------------------------------------------------------------------
# Fabricated packages


def write_jpg(path: Path, img: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), img)


def fake_deb_tree(root: Path) -> None:
    """What `dpkg-deb -x` leaves for a wallpaper package: photos, a logo, a duplicate, docs."""
    bg = root / "usr/share/backgrounds/demo"
    write_jpg(bg / "field.jpg", photo_like(600, 800, seed=1))
    write_jpg(bg / "street.jpg", photo_like(600, 800, seed=2))
    write_jpg(bg / "field-small.jpg", cv2.resize(photo_like(600, 800, seed=1), (640, 480)))  # same picture
    write_jpg(bg / "logo.png", flat_logo())
    write_jpg(bg / "people.jpg", photo_like(seed=3))  # a photo the deny list drops
    (root / "usr/share/doc/demo").mkdir(parents=True)
    (root / "usr/share/doc/demo/copyright").write_text("License: CC0-1.0\n")
    jar = root / "usr/share/app/app.jar"
    jar.parent.mkdir(parents=True)
    ok, enc = cv2.imencode(".jpg", photo_like(200, 200, seed=4))
    with zipfile.ZipFile(jar, "w") as z:
        z.writestr("res/textures/wood.jpg", enc.tobytes())
        z.writestr("res/icons/icon.jpg", enc.tobytes())


DEB_SOURCES = (
    PhotoSource("debian", "demo-wallpapers", "backgrounds", "CC0-1.0", ("usr/share/backgrounds/demo/*",),
                deny=("people.jpg",)),
    PhotoSource("debian", "demo-wallpapers", "textures", "CC0-1.0", ("usr/share/app/app.jar!/res/textures/*.jpg",)),
)


def test_list_members_takes_globs_and_jar_members_and_honours_the_deny_list(tmp_path):
    fake_deb_tree(tmp_path)
    bg = [p for p, _ in list_members(tmp_path, DEB_SOURCES[0])]
    assert bg == [f"usr/share/backgrounds/demo/{n}" for n in ("field-small.jpg", "field.jpg", "logo.png", "street.jpg")]
    (path, load), = list(list_members(tmp_path, DEB_SOURCES[1]))
    assert path == "usr/share/app/app.jar!/res/textures/wood.jpg"
    assert photos.decode_image(path, load()).shape == (200, 200, 3)


def qt_resource_bundle(files: dict[str, bytes]) -> bytes:
    """A version-1 .rcc holding ``files`` (all in one folder ``res``), the .jpg ones zlib-compressed."""
    names, name_at = b"", {}
    for n in ["res", *files]:
        name_at[n] = len(names)
        names += struct.pack(">HI", len(n), 0) + n.encode("utf-16-be")
    data, nodes = b"", [struct.pack(">IHII", 0, 2, 1, 1), struct.pack(">IHII", name_at["res"], 2, len(files), 2)]
    for n, blob in files.items():
        packed = struct.pack(">I", len(blob)) + zlib.compress(blob) if n.endswith(".jpg") else blob
        nodes.append(struct.pack(">IHHHI", name_at[n], 1 if n.endswith(".jpg") else 0, 0, 0, len(data)))
        data += struct.pack(">I", len(packed)) + packed
    tree = b"".join(nodes)
    return b"qres" + struct.pack(">4I", 1, 20, 20 + len(tree), 20 + len(tree) + len(data)) + tree + data + names


def test_qt_resource_bundle_members_are_listed_and_inflated(tmp_path):
    ok, enc = cv2.imencode(".jpg", photo_like(300, 400, seed=5))
    bundle = qt_resource_bundle({"castle.jpg": enc.tobytes(), "notes.txt": b"plain"})
    assert photos.read_qt_resources(bundle) == {"res/castle.jpg": enc.tobytes(), "res/notes.txt": b"plain"}
    (tmp_path / "usr/share/app").mkdir(parents=True)
    (tmp_path / "usr/share/app/data.rcc").write_bytes(bundle)
    src = PhotoSource("debian", "demo", "backgrounds", "GPL-3+", ("usr/share/app/data.rcc!/res/*",))
    (path, load), = list(list_members(tmp_path, src))
    assert path == "usr/share/app/data.rcc!/res/castle.jpg" and load() == enc.tobytes()


def test_a_wheel_unpacks_and_lists(tmp_path):
    wheel = tmp_path / "demo_pkg-1.2.3-py3-none-any.whl"
    ok, enc = cv2.imencode(".png", photo_like(300, 300))
    with zipfile.ZipFile(wheel, "w") as z:
        z.writestr("demo_pkg/data/brick.png", enc.tobytes())
        z.writestr("demo_pkg/__init__.py", "")
    photos.unpack_package(wheel, tmp_path / "root")
    assert photos.package_version(wheel) == "1.2.3"
    assert photos.package_version(Path("mate-backgrounds_1%3a1.26.0-1_all.deb")) == "1:1.26.0-1"
    src = PhotoSource("pypi", "demo-pkg", "textures", "MIT", ("demo_pkg/data/*.png",))
    assert [p for p, _ in list_members(tmp_path / "root", src)] == ["demo_pkg/data/brick.png"]


def fake_fetch(trees: dict[str, Path], calls: list[str]):
    def fetch(registry: str, package: str, workdir: Path) -> tuple[Path, str]:
        calls.append(package)
        if package not in trees:
            raise FetchError(f"{package}: not found in the {registry} registry")
        return trees[package], "1.0-1"
    return fetch


def test_gather_writes_photos_and_sources_json_and_a_rerun_skips(tmp_path):
    tree = tmp_path / "tree"
    fake_deb_tree(tree)
    out, calls, lines = tmp_path / "out", [], []
    report = gather_photos(out, sources=DEB_SOURCES, fetch=fake_fetch({"demo-wallpapers": tree}, calls),
                           log=lines.append)
    assert report.kept == {"backgrounds": 2, "textures": 1} and not report.failed
    assert report.rejected["duplicate"] == 1 and report.rejected["few colours"] + report.rejected["flat regions"] == 1
    index = json.loads((out / "sources.json").read_text())
    assert sorted(index["images"]) == sorted(f"{k}/{p.name}" for k in photos.KINDS for p in (out / k).glob("*.jpg"))
    by_path = {r["path"]: r for r in index["images"].values()}
    assert set(by_path) == {"usr/share/backgrounds/demo/field.jpg", "usr/share/backgrounds/demo/street.jpg",
                            "usr/share/app/app.jar!/res/textures/wood.jpg"}
    rec = by_path["usr/share/backgrounds/demo/field.jpg"]
    assert rec["package"] == "demo-wallpapers" and rec["version"] == "1.0-1" and rec["licence"] == "CC0-1.0"
    assert rec["registry"] == "debian" and rec["kind"] == "backgrounds" and (rec["width"], rec["height"]) == (800, 600)
    assert index["packages"]["debian:demo-wallpapers"]["kinds"] == ["backgrounds", "textures"]

    stamps = {p: p.stat().st_mtime_ns for p in out.rglob("*.jpg")}
    report = gather_photos(out, sources=DEB_SOURCES, fetch=fake_fetch({"demo-wallpapers": tree}, calls),
                           log=lines.append)
    assert calls == ["demo-wallpapers"]  # not fetched again
    assert report.kept == {"backgrounds": 2, "textures": 1}
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*.jpg")} == stamps
    assert "already gathered" in lines[-1]

    # A deleted photo is restored by a rerun, the others are left alone.
    victim = out / next(n for n, r in index["images"].items() if r["path"].endswith("street.jpg"))
    victim.unlink()
    gather_photos(out, sources=DEB_SOURCES, fetch=fake_fetch({"demo-wallpapers": tree}, calls), log=lines.append)
    assert victim.is_file() and len(calls) == 2
    assert all(p.stat().st_mtime_ns == t for p, t in stamps.items() if p != victim)


def test_a_changed_deny_list_redoes_that_package(tmp_path):
    tree = tmp_path / "tree"
    fake_deb_tree(tree)
    out, calls = tmp_path / "out", []
    gather_photos(out, sources=DEB_SOURCES, fetch=fake_fetch({"demo-wallpapers": tree}, calls), log=lambda m: None)
    stricter = (PhotoSource(**{**DEB_SOURCES[0].__dict__, "deny": ("people.jpg", "street.jpg")}), DEB_SOURCES[1])
    report = gather_photos(out, sources=stricter, fetch=fake_fetch({"demo-wallpapers": tree}, calls),
                           log=lambda m: None)
    assert report.kept == {"backgrounds": 1, "textures": 1}
    paths = {r["path"] for r in json.loads((out / "sources.json").read_text())["images"].values()}
    assert not any(p.endswith("street.jpg") for p in paths)
    assert len(list((out / "backgrounds").glob("*.jpg"))) == 1
    # A package dropped from the table leaves with its photos.
    report = gather_photos(out, sources=stricter[:1], fetch=fake_fetch({"demo-wallpapers": tree}, calls),
                           log=lambda m: None)
    assert report.kept == {"backgrounds": 1} and not list((out / "textures").glob("*.jpg"))
    assert {r["kind"] for r in json.loads((out / "sources.json").read_text())["images"].values()} == {"backgrounds"}


def test_a_missing_package_is_named_and_the_others_proceed(tmp_path):
    tree = tmp_path / "tree"
    fake_deb_tree(tree)
    sources = (PhotoSource("debian", "no-such-wallpapers", "backgrounds", "CC0-1.0", ("*.jpg",)),) + DEB_SOURCES
    lines: list[str] = []
    report = gather_photos(tmp_path / "out", ("backgrounds",), sources=sources,
                           fetch=fake_fetch({"demo-wallpapers": tree}, []), log=lines.append)
    assert report.kept == {"backgrounds": 2}
    assert len(report.failed) == 1 and "no-such-wallpapers" in report.failed[0]
    assert any("no-such-wallpapers" in line and "not found" in line for line in lines)
    assert not (tmp_path / "out" / "textures").exists()


def test_download_names_a_package_the_registry_does_not_have(tmp_path, monkeypatch):
    class Done:
        returncode, stdout = 100, ""
        stderr = "E: Unable to locate package no-such-wallpapers\n"

    monkeypatch.setattr(photos, "_run", lambda cmd, cwd: Done())
    with pytest.raises(FetchError, match=r"no-such-wallpapers: not found in the debian registry"):
        photos.download_package("debian", "no-such-wallpapers", tmp_path)
    Done.stderr = "W: Failed to fetch http://x/y.deb  Temporary failure resolving 'x'\n"
    with pytest.raises(FetchError, match=r"no-such-wallpapers: the debian registry is unreachable"):
        photos.download_package("debian", "no-such-wallpapers", tmp_path)


def test_cli_exits_non_zero_only_when_nothing_was_gathered(tmp_path, monkeypatch):
    from pose3d.cli.synth import main

    def nothing(out_dir, kinds, cache=None, log=print):
        report = photos.GatherReport()
        report.failed.append("demo: the debian registry is unreachable (no network)")
        return report

    monkeypatch.setattr(photos, "gather_photos", nothing)
    result = CliRunner().invoke(main, ["gather-photos", str(tmp_path / "out")])
    assert result.exit_code != 0 and "no photos could be gathered" in result.output
    assert "demo: the debian registry is unreachable" in result.output

    write_jpg(tmp_path / "out" / "backgrounds" / "x.jpg", photo_like())
    result = CliRunner().invoke(main, ["gather-photos", str(tmp_path / "out"), "--what", "backgrounds"])
    assert result.exit_code == 0 and "1 backgrounds" in result.output


def test_the_source_table_is_well_formed():
    for s in photos.SOURCES:
        assert s.registry in ("debian", "pypi") and s.kind in photos.KINDS and s.licence and s.include
        assert "non-commercial" not in s.licence.lower()
