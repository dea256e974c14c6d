"""Skinned people in the synthetic engine (SynthConfig(bodies="anny")): reproducible samples,
labels on the bodies, left and right where they belong from every side, neighbours and visibility."""

import numpy as np
import pytest

from pose3d.data.synthetic import SynthConfig, SyntheticPoses
from pose3d.skeleton import H36M17
from pose3d.synth.render_mesh import MeshPeople, render_people
from pose3d.synth.scene import SceneSpec


@pytest.fixture(scope="module")
def people():
    return SyntheticPoses(SynthConfig(split="test", seed=5, length=200, bodies="anny"))


def test_a_sample_is_the_same_whatever_batch_renders_it(people):
    a = people.render_batch([3, 7, 11])
    b = people.render_batch([11, 3])
    np.testing.assert_array_equal(a["image"][0], b["image"][1])
    np.testing.assert_array_equal(a["pose_cam"][2], b["pose_cam"][0])
    assert a["image"].shape == (3, 3, 112, 112) and a["visible"].shape == (3, 17) and a["box"].shape == (3, 4)
    labels = people.label_batch([3, 7, 11])
    np.testing.assert_allclose(labels["pose_cam"], a["pose_cam"])
    np.testing.assert_allclose(labels["joints_2d"], a["joints_2d"], atol=1e-3)


def test_scenes_hold_one_to_four_people_and_the_box_holds_person_0(people):
    s = people.render_batch(range(60))
    n = np.isfinite(s["people_boxes"][..., 0]).sum(1)
    assert n.min() >= 1 and n.max() <= 4 and (n > 1).mean() > 0.3
    box = s["box"]
    inside = ((s["joints_2d"][..., 0] >= box[:, None, 0] - 1) & (s["joints_2d"][..., 0] <= box[:, None, 2] + 1)
              & (s["joints_2d"][..., 1] >= box[:, None, 1] - 1) & (s["joints_2d"][..., 1] <= box[:, None, 3] + 1))
    assert inside.mean() > 0.99  # the labels lie within the body's own extent


def _plain(ds, indices, two_tone: bool):
    """Person 0 alone on a plain background, full frames of one camera size, optionally with the
    body's left half red and right half blue. Returns the render and the samples' people."""
    draws, poses, k, cameras, looks, affines = ds._sample(indices)
    present = np.zeros_like(looks.present)
    present[:, 0] = True
    albedo = looks.albedo.copy()
    if two_tone:
        rest_x = ds._body.template_mm[:, 0]
        albedo[:, 0] = np.where((rest_x > 0)[:, None], [0.9, 0.1, 0.1], [0.1, 0.1, 0.9])
    mesh = MeshPeople(looks.vertices, looks.normals, albedo, present, looks.faces)
    size = tuple(int(v) for v in np.broadcast_to(np.asarray(cameras.size), (len(indices), 2))[0])
    full = np.broadcast_to(np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]), (len(indices), 2, 3)).copy()
    spec = SceneSpec(plain_background=(0.5, 0.5, 0.5), augment=False)
    return render_people(mesh, poses, cameras, draws, full, size, spec)


def test_labels_project_onto_their_own_body_and_on_the_right_side_from_every_view():
    ds = SyntheticPoses(SynthConfig(split="test", seed=9, length=400, bodies="anny"))
    on_body, side_ok, checked = [], 0, 0
    limbs = [j for j, n in enumerate(H36M17.names) if n[0] in "LR" and not n.endswith("Hip")]
    for i in range(0, 60, 3):  # one sample at a time: full frames of differently sized cameras
        out = _plain(ds, [i], two_tone=True)
        uv = np.round(out.joints_2d[0]).astype(int)
        H, W = out.owner.shape[1:]
        for j in range(17):
            x, y = uv[j]
            if not (0 <= x < W and 0 <= y < H):
                continue
            on_body.append(out.owner[0, y, x] == 0)
            # A limb joint whose nearest surface is its own limb (not hidden behind the body).
            if j in limbs and out.depth[0, y, x] > out.joints_cam[0, j, 2] - 80.0:
                red, blue = out.images[0, y, x, 0], out.images[0, y, x, 2]
                want_left = H36M17.names[j][0] == "L"
                side_ok += (red > blue) == want_left
                checked += 1
    assert np.mean(on_body) > 0.97
    assert checked > 100 and side_ok / checked > 0.95


def test_a_neighbour_in_front_hides_joints_and_visibility_says_so(people):
    s = people.render_batch(range(120))
    several = np.isfinite(s["people_boxes"][:, 1:, 0]).any(1)
    assert (~s["visible"][several]).any()  # somewhere a neighbour hides or the border cuts a joint
    alone = ~several
    # Alone in the scene, a joint is invisible exactly where it leaves the image.
    uv = np.round(s["joints_2d"][alone])
    inside = (uv >= 0).all(-1) & (uv <= 111).all(-1)
    np.testing.assert_array_equal(s["visible"][alone], inside)


def test_rooms_enclose_the_camera_and_the_people(tmp_path):
    import cv2

    from pose3d.synth.scene import TexturePhotos

    rng = np.random.default_rng(0)
    for i in range(3):
        cv2.imwrite(str(tmp_path / f"t{i}.png"), rng.integers(0, 256, (64, 64, 3), dtype=np.uint8))
    (tmp_path / "broken.png").write_bytes(b"not an image")
    textures = TexturePhotos(tmp_path)
    assert textures.images.shape == (3, 256, 256, 3) and len(textures.unreadable) == 1
    ds = SyntheticPoses(SynthConfig(split="test", seed=2, length=50, bodies="anny", room_probability=1.0,
                                    texture_dir=str(tmp_path)))
    _, poses, _, cameras, people, _ = ds._sample(range(20))
    r = people.rooms
    assert r.enabled.all() and ((r.texture_index >= -1) & (r.texture_index < 3)).all()
    centre = np.asarray(cameras.center)
    for xy in (centre[:, :2], poses[:, 0, :2]):
        assert ((xy[:, 0] > r.bounds[:, 0]) & (xy[:, 0] < r.bounds[:, 1])
                & (xy[:, 1] > r.bounds[:, 2]) & (xy[:, 1] < r.bounds[:, 3])).all()
    assert (centre[:, 2] < r.height).all()
    with pytest.raises(FileNotFoundError, match="texture folder"):
        TexturePhotos(tmp_path / "absent")


def test_a_motion_streak_smears_along_its_direction_only():
    from pose3d.synth.render_mesh import motion_streak

    img = np.zeros((31, 31, 3), np.float32)
    img[15, 15] = 1.0
    out = motion_streak(img, 7.0, 0.0)  # horizontal
    assert out[15, 12:19, 0].min() > 0 and out[12, 15, 0] == 0 and out[18, 15, 0] == 0
    np.testing.assert_allclose(out.sum(), img.sum(), rtol=1e-5)  # energy kept


def test_every_person_has_labels_and_person_0_matches_its_own(people):
    s = people.render_batch(range(40))
    np.testing.assert_allclose(s["people_joints_2d"][:, 0], s["joints_2d"], atol=1e-3)
    np.testing.assert_array_equal(s["people_visible"][:, 0], s["visible"])
    present = np.isfinite(s["people_boxes"][..., 0])
    assert (np.isfinite(s["people_joints_2d"][..., 0]).all(-1) == present).all()
    assert not s["people_visible"][~present].any()
    # A neighbour's visible joints lie inside the image and inside its own box.
    uv, vis, box = s["people_joints_2d"], s["people_visible"], s["people_boxes"][:, :, None, :]
    inside = (uv[..., 0] >= box[..., 0] - 1) & (uv[..., 0] <= box[..., 2] + 1) & (uv[..., 1] >= box[..., 1] - 1) \
        & (uv[..., 1] <= box[..., 3] + 1)
    assert inside[vis].all() and vis[:, 1:].any()


def test_plain_clothes_are_the_same_people_without_patterns():
    from pose3d.synth.people import PATTERNS, pattern_probability

    assert pattern_probability(0.0) == (1.0, 0.0, 0.0, 0.0) and len(pattern_probability()) == len(PATTERNS)
    np.testing.assert_allclose(pattern_probability(0.5), (0.5, 0.25, 0.15, 0.1))  # the default before the setting
    patterned = SyntheticPoses(SynthConfig(split="train", seed=2, bodies="anny"))
    plain = SyntheticPoses(SynthConfig(split="train", seed=2, bodies="anny", garment_patterns=0.0))
    a, b = patterned.render_batch(range(12)), plain.render_batch(range(12))
    # The same draws: poses, cameras and boxes agree; only the clothes' second colours are gone.
    for key in ("pose_cam", "joints_2d", "box"):
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)
    differs = np.abs(a["image"].astype(int) - b["image"].astype(int)).reshape(12, -1).max(axis=1) > 0
    assert 0 < differs.sum() < 12  # some people wear a pattern by default, not everyone
    with pytest.raises(ValueError, match="garment_patterns"):
        SynthConfig(bodies="anny", garment_patterns=1.5)


def test_bare_tops_take_off_the_top_and_nothing_else():
    from pose3d.body.anny import load_anny_body
    from pose3d.synth.draws import Draws
    from pose3d.synth.people import _parts, sample_mesh_looks

    body = load_anny_body()
    u = Draws.for_samples(11, range(16)).u
    dressed = sample_mesh_looks(Draws(u.copy()), body)
    np.testing.assert_array_equal(sample_mesh_looks(Draws(u.copy()), body, bare_tops=0.0).albedo, dressed.albedo)
    bare = sample_mesh_looks(Draws(u.copy()), body, bare_tops=1.0)
    parts = _parts(body)
    np.testing.assert_array_equal(bare.shape_rows, dressed.shape_rows)
    np.testing.assert_array_equal(bare.hair_mm, dressed.hair_mm)
    legs = (parts.leg > 0.99) & (parts.trunk == 0) & (parts.arm == 0)  # the same trousers, shorts or skirt
    np.testing.assert_array_equal(bare.albedo[:, legs], dressed.albedo[:, legs])
    region = dict(zip(body.region_names, body.region_weights.T))
    chest = (region["torso"] > 0.9) & (parts.coord > 0.6) & (parts.coord < 0.85) & (parts.long_back == 0)
    upper_arm = region["upper_arm"] > 0.9
    # Bare: the chest is skin, the colour of the bare upper arm (blotches +-6 %).
    gap = np.abs(bare.albedo[:, chest].mean(1) - bare.albedo[:, upper_arm].mean(1)).max(-1)
    assert (gap < 0.06).all(), gap
    # Dressed, the chest was mostly another colour: the top.
    assert (np.abs(dressed.albedo[:, chest].mean(1) - bare.albedo[:, chest].mean(1)).max(-1) > 0.06).mean() > 0.7


def test_backlight_darkens_the_people_and_veils_the_picture():
    from pose3d.synth.scene import backlight

    rng = np.random.default_rng(0)
    img = rng.uniform(0.2, 0.8, (40, 60, 3)).astype(np.float32)
    people = np.zeros((40, 60), np.float32)
    people[10:30, 20:35] = 1.0
    white = np.ones(3)
    dark = backlight(img.copy(), people, 0.3, 0.0, np.array([0.0, 0.0]), 0.5, white)  # no glare
    np.testing.assert_allclose(dark[people == 1], 0.3 * img[people == 1], rtol=1e-6)
    np.testing.assert_array_equal(dark[people == 0], img[people == 0])
    veiled = backlight(img.copy(), np.zeros_like(people), 1.0, 0.4, np.array([0.0, 0.0]), 0.5, white)
    assert veiled.std() < img.std() and veiled.mean() > img.mean()  # light added, contrast taken
    lift = (veiled - img) / (1.0 - img)  # the glare's share at each pixel: more near the sun (top left)
    assert lift[:5, :5].mean() > lift[-5:, -5:].mean() > 0
    # In a render: people against the light are darker than the picture around them.
    plain = dict(split="test", seed=5, length=12, bodies="anny")
    scenes = [SyntheticPoses(SynthConfig(**plain, scene=SceneSpec(augment=False, backlight_probability=p)))
              .render_batch(range(12)) for p in (0.0, 1.0)]
    for key in ("pose_cam", "joints_2d", "box"):  # the same scenes: the light's draws come after them
        np.testing.assert_array_equal(scenes[0][key], scenes[1][key], err_msg=key)

    def joints_against_picture(s):
        xy = np.clip(np.round(s["joints_2d"]).astype(int), 0, s["image"].shape[-1] - 1)
        b = np.arange(12)[:, None]
        on_joints = s["image"][b, :, xy[..., 1], xy[..., 0]].astype(float)  # (B, 17, 3)
        return (on_joints[s["visible"]].mean(-1)).mean() / s["image"].astype(float).mean()

    assert joints_against_picture(scenes[1]) < 0.8 * joints_against_picture(scenes[0])


def test_desaturated_pictures_lose_their_colour_and_nothing_else():
    plain = dict(split="train", seed=5, length=8, bodies="anny")
    before, off, grey = (SyntheticPoses(SynthConfig(**plain, scene=scene)).render_batch(range(8))
                         for scene in (SceneSpec(), SceneSpec(desaturate_probability=0.0),
                                       SceneSpec(desaturate_probability=1.0)))
    np.testing.assert_array_equal(before["image"], off["image"])  # 0 takes no draw
    for key in ("pose_cam", "joints_2d", "box", "visible"):  # the same scenes: drawn after them
        np.testing.assert_array_equal(before[key], grey[key], err_msg=key)

    def colour(s):  # per picture: the mean spread between a pixel's channels
        img = s["image"].astype(float)
        return (img.max(axis=1) - img.min(axis=1)).mean(axis=(1, 2))

    assert (colour(grey) < colour(before)).mean() >= 0.75 and colour(grey).mean() < 0.6 * colour(before).mean()


def test_occluders_in_crops_cover_the_person_and_hide_what_they_cover():
    plain = dict(split="test", seed=5, length=10, bodies="anny")
    a = SyntheticPoses(SynthConfig(**plain)).render_batch(range(10))
    b = SyntheticPoses(SynthConfig(**plain, occluder_probability=1.0)).render_batch(range(10))
    for key in ("pose_cam", "joints_2d", "box", "people_joints_2d"):  # the same scenes: painted over after
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)
    changed = (a["image"] != b["image"]).any(1)  # (B, S, S)
    assert changed.any(axis=(1, 2)).all()
    assert not (b["visible"] & ~a["visible"]).any() and (a["visible"] & ~b["visible"]).any()  # only hidden, never shown
    # Hidden joints are under painted pixels.
    xy = np.clip(np.round(a["joints_2d"]).astype(int), 0, changed.shape[-1] - 1)
    newly_hidden = a["visible"] & ~b["visible"]
    assert changed[np.arange(10)[:, None], xy[..., 1], xy[..., 0]][newly_hidden].all()
    # The person head's negatives get them too, anywhere.
    neg = SyntheticPoses(SynthConfig(**plain, occluder_probability=1.0)).render_background_batch(range(10))
    bare = SyntheticPoses(SynthConfig(**plain)).render_background_batch(range(10))
    assert (neg["image"] != bare["image"]).any(axis=(1, 2, 3)).all()
