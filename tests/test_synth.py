import cv2
import numpy as np
import pytest

from pose3d.camera import Camera
from pose3d.crop import CropSpec, apply_affine, person_crop_affine
from pose3d.data.posebank import load_posebank
from pose3d.data.synthetic import SynthConfig, SyntheticPoses
from pose3d.synth import raster
from pose3d.synth.body import sample_appearances
from pose3d.synth.cameras import ViewSpec, look_at, sample_cameras
from pose3d.synth.draws import Draws
from pose3d.synth.render import DegenerateView, render
from pose3d.synth.scene import SceneSpec

PLAIN = SceneSpec(plain_background=(0.5, 0.5, 0.5))


@pytest.fixture(scope="module")
def bank():
    return load_posebank()


def standing(bank, n=1):
    poses = bank.poses[:n].astype(np.float64).copy()
    poses[..., 2] += bank.root_world[:n, 2:3]
    return poses


def front_camera(distance=4000.0, size=(1000, 1000), f=1150.0):
    centre = np.array([0.0, -distance, 900.0])
    return Camera.from_center(look_at(centre, np.array([0.0, 0.0, 900.0])), centre, f=[f, f], c=[s / 2 for s in size], size=size)


def test_camera_sampler_respects_its_ranges():
    draws = Draws.for_samples(0, range(2000))
    targets = np.zeros((2000, 3)) + [0, 0, 900]
    cams = sample_cameras(draws, targets)
    spec = ViewSpec()
    offset = cams.center - targets
    dist = np.linalg.norm(offset, axis=-1)
    assert (dist >= spec.distance_mm[0] - 1e-6).all() and (dist <= spec.distance_mm[1] + 1e-6).all()
    assert (cams.center[:, 2] >= spec.height_mm[0] - 1e-6).all() and (cams.center[:, 2] <= spec.height_mm[1] + 1e-6).all()
    elevation = np.degrees(np.arcsin(offset[:, 2] / dist))
    assert elevation.min() >= -10 - 1e-6 and elevation.max() <= 35 + 1e-6
    uv = cams.project(targets[:, None])[:, 0]
    size = np.asarray(cams.size)
    assert (np.abs(uv / size - 0.5) <= 0.5 * 0.25 + 0.03).all()  # off-centre framing stays near the middle
    np.testing.assert_allclose(np.einsum("bij,bkj->bik", cams.R, cams.R), np.broadcast_to(np.eye(3), (2000, 3, 3)), atol=1e-9)


def test_projected_joints_land_on_body_pixels(bank):
    # Each joint lies inside a body part, so its pixel must be body, whatever hides it.
    hits = []
    draws = Draws.for_samples(0, range(16))
    poses = standing(bank, 16)
    cams = sample_cameras(draws, poses[:, 0])
    looks = sample_appearances(draws)
    affines = np.stack([person_crop_affine(uv, CropSpec()) for uv in cams.project(poses)])
    r = render(poses, cams, looks, draws, affines, (112, 112), PLAIN)
    for b in range(16):
        for x, y in r.joints_2d[b]:
            xi, yi = int(round(x)), int(round(y))
            if 0 <= xi < 112 and 0 <= yi < 112:
                hits.append(r.mask[b, yi, xi] > 0.5)
    assert np.mean(hits) > 0.99
    ds = SyntheticPoses(SynthConfig(split="test", scene=PLAIN, length=64))
    out = ds.render_batch(range(64))
    ij = np.round(out["joints_2d"]).astype(int)
    inside = (ij >= 0).all(-1) & (ij < 112).all(-1)
    b = np.repeat(np.arange(64)[:, None], 17, axis=1)
    grey = (out["image"][b[inside], :, ij[inside][:, 1], ij[inside][:, 0]] == 128).all(-1)
    assert grey.mean() < 0.02  # joints of dataset samples fall on the person, not the background


def test_nearer_capsule_hides_farther_one_in_either_order():
    img = np.zeros((64, 64, 3), dtype=np.float32)
    materials = np.zeros((2, 8), dtype=np.float32)
    materials[0, :3], materials[1, :3] = (1, 0, 0), (0, 0, 1)
    light, ambient = np.array([0, 0, -1], dtype=np.float32), 1.0

    def capsule(x0, y0, x1, y1, z):
        row = np.zeros(raster.N_FIELDS, dtype=np.float32)
        row[[raster.X0, raster.Y0, raster.X1, raster.Y1]] = x0, y0, x1, y1
        row[[raster.PR0, raster.PR1]] = 6.0
        row[[raster.Z0, raster.Z1]] = z
        row[[raster.R0, raster.R1]] = 50.0
        row[raster.LEN] = 500.0
        return row

    horizontal, vertical = capsule(5, 32, 58, 32, 2000.0), capsule(32, 5, 32, 58, 3000.0)
    for caps in (np.stack([horizontal, vertical]), np.stack([vertical, horizontal])):
        near = 0 if caps[0, raster.Z0] < caps[1, raster.Z0] else 1
        im = img.copy()
        zbuf = np.full((64, 64), np.inf, dtype=np.float32)
        part = np.full((64, 64), -1, dtype=np.int16)
        cover = np.zeros((64, 64), dtype=np.float32)
        mats = np.array([0, 1]) if near == 0 else np.array([1, 0])
        raster.draw_capsules(im, zbuf, part, cover, caps, mats, materials, light, ambient)
        assert part[32, 32] == near and zbuf[32, 32] < 2000.0
        np.testing.assert_allclose(im[32, 32], [1, 0, 0], atol=1e-6)  # the near (red) capsule's colour
        assert part[10, 32] == 1 - near  # where only the far one is


def test_same_seed_same_pixels_whatever_the_batch():
    ds = SyntheticPoses(SynthConfig(split="train", seed=5))
    a = ds.render_batch([3, 10, 11])
    b = ds.render_batch([11, 4, 10, 3])
    np.testing.assert_array_equal(a["image"][0], b["image"][3])
    np.testing.assert_array_equal(a["image"][2], b["image"][0])
    np.testing.assert_array_equal(a["pose_cam"][1], b["pose_cam"][2])
    other = SyntheticPoses(SynthConfig(split="train", seed=6)).render_batch([3])
    assert not np.array_equal(other["image"][0], a["image"][0])


def test_crop_mode_equals_full_frame_then_crop(bank):
    poses = standing(bank, 3)
    draws = Draws.for_samples(1, range(3))
    looks = sample_appearances(draws)
    cam = front_camera()
    cams = Camera(np.stack([cam.R] * 3), np.stack([cam.t] * 3), np.stack([cam.f] * 3), np.stack([cam.c] * 3), size=cam.size)
    full = render(poses, cams, looks, Draws(draws.u.copy()), spec=PLAIN)
    affines = np.stack([person_crop_affine(uv, CropSpec(size=128, input_size=128)) for uv in cam.project(poses)])
    crop = render(poses, cams, looks, Draws(draws.u.copy()), affines, (128, 128), PLAIN)
    for b in range(3):
        np.testing.assert_allclose(crop.joints_2d[b], apply_affine(affines[b], full.joints_2d[b]), atol=1e-9)
        # Cut with area averaging, since the crop shrinks the frame about 3 times.
        inv = cv2.invertAffineTransform(affines[b])
        warped = cv2.warpAffine(full.images[b], affines[b], (128, 128), flags=cv2.INTER_AREA)
        warped_mask = cv2.warpAffine(full.mask[b], affines[b], (128, 128), flags=cv2.INTER_AREA)
        both = (warped_mask > 0.5) | (crop.mask[b] > 0.5)
        iou = ((warped_mask > 0.5) & (crop.mask[b] > 0.5)).sum() / both.sum()
        assert iou > 0.9, iou
        inner = (warped_mask > 0.99) & (crop.mask[b] > 0.99)
        diff = np.abs(warped.astype(float) - crop.images[b].astype(float))[inner].mean()
        assert diff < 12.0, diff  # mean colour difference inside the body, of 255
        assert inv.shape == (2, 3)


def test_degenerate_views_raise_clear_errors_or_render(bank):
    pose = standing(bank, 1)
    draws = Draws.for_samples(0, [0])
    looks = sample_appearances(draws)
    cam = front_camera()
    behind = Camera(cam.R[None], (cam.t - [0, 0, 5000.0])[None], cam.f[None], cam.c[None], size=cam.size)
    with pytest.raises(DegenerateView, match="behind"):
        render(pose, behind, looks, Draws(draws.u.copy()), spec=PLAIN)
    # A tiny person far away and a huge one close up both fill their crop.
    for distance in (60000.0, 1500.0):
        c = front_camera(distance)
        cams = Camera(c.R[None], c.t[None], c.f[None], c.c[None], size=c.size)
        A = person_crop_affine(c.project(pose[0]), CropSpec())[None]
        out = render(pose, cams, looks, Draws(draws.u.copy()), A, (112, 112), PLAIN)
        assert 0.05 < out.mask[0].mean() < 0.9


def test_dataset_fields_and_splits(bank):
    ds = SyntheticPoses(SynthConfig(split="val", length=10))
    s = ds[2]
    assert s["image"].shape == (3, 112, 112) and s["image"].dtype == np.uint8
    np.testing.assert_allclose(s["pose_rel"], s["pose_cam"] - s["pose_cam"][:1], atol=1e-3)
    assert (s["pose_cam"][:, 2] > 1000).all()
    assert bank.split[s["bank_index"]] == 1  # a val pose
    assert len(ds) == 10
    with pytest.raises(IndexError):
        ds[10]
    with pytest.raises(ValueError, match="split"):
        SynthConfig(split="holdout")


def test_dataloader_workers_are_deterministic():
    torch = pytest.importorskip("torch")
    from torch.utils.data import DataLoader

    ds = SyntheticPoses(SynthConfig(split="train", seed=3, length=48))
    one = [b["image"] for b in DataLoader(ds, batch_size=16, num_workers=0)]
    two = [b["image"] for b in DataLoader(ds, batch_size=16, num_workers=2)]
    assert len(one) == 3
    for a, b in zip(one, two):
        assert torch.equal(a, b)


def test_background_photos_fill_the_scene(tmp_path):
    folder = tmp_path / "photos"
    (folder / "sub").mkdir(parents=True)
    cv2.imwrite(str(folder / "a.png"), np.full((60, 80, 3), (30, 200, 10), dtype=np.uint8))  # BGR
    cv2.imwrite(str(folder / "sub" / "b.jpg"), np.full((90, 50, 3), (30, 200, 10), dtype=np.uint8))
    (folder / "broken.png").write_bytes(b"not a png")
    from pose3d.synth.scene import BackgroundPhotos

    photos = BackgroundPhotos(folder)
    assert len(photos.images) == 2 and photos.unreadable == [str(folder / "broken.png")]
    scene = SceneSpec(floor_probability=0.0, augment=False, photo_probability=1.0)
    ds = SyntheticPoses(SynthConfig(split="val", length=4, scene=scene, background_dir=str(folder)))
    out = ds.render_batch(range(4))
    image = out["image"].transpose(0, 2, 3, 1).reshape(-1, 3).astype(int)
    photo_like = (np.abs(image - [10, 200, 30]) <= 3).all(-1).mean()
    assert photo_like > 0.4  # the background is the photo wherever the person is not


def test_background_folder_errors_name_the_folder(tmp_path):
    from pose3d.synth.scene import BackgroundPhotos

    with pytest.raises(FileNotFoundError, match="nowhere"):
        BackgroundPhotos(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="empty"):
        BackgroundPhotos(tmp_path / "empty")
