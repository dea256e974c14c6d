"""The two-stage person finder: the detector proposes, the pose model verifies and refines.

The pose model here is scripted (``BlobModel``): it sees a person in a red blob, puts the joints on
the blob's half-maximum region and scores the pose by the blob's peak level in its crop, so each test
controls both the detector's score (``test_detector_runtime.blob_detector``: the red level averaged
over its cells) and the pose score. A model without a score keeps the detector's threshold."""

import json

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from pose3d.crop import square_box
from pose3d_runtime import boxes as B
from pose3d_runtime.cli import main as run_main
from pose3d_runtime.detector import Detection, PersonDetector
from pose3d_runtime.model import PoseModel
from pose3d_runtime.pipeline import Estimator, refine
from pose3d_runtime.track import Tracker
from test_detector_runtime import blob_detector, red_blobs


class BlobModel:
    """The tiny model's metadata and 3D poses, with scripted 2D joints and scores (see the module
    docstring); ``has_person`` False: a model without a score. ``crops`` counts the crops it ran on."""

    def __init__(self, inner: PoseModel, has_person: bool = True) -> None:
        self.inner, self.info, self.provider, self.has_person = inner, inner.info, "test", has_person
        self.crops = 0

    def __call__(self, x):
        pose, _, _ = self.inner(x)
        red = x[:, 0] * self.info.std[0] + self.info.mean[0]  # 0..1
        S = x.shape[-1]
        joints = np.full((len(x), len(self.info.joint_names), 2), (S - 1) / 2.0, np.float32)
        peak = red.reshape(len(x), -1).max(axis=1)
        for b in range(len(x)):
            ys, xs = np.nonzero(red[b] >= 0.5 * peak[b])
            if peak[b] < 1e-3 or not len(xs):
                joints[b, 0] -= 5  # nothing red: a small pose at the centre
                continue
            joints[b, 0], joints[b, 1] = (xs.min(), ys.min()), (xs.max(), ys.max())
            joints[b, 2:] = (xs.mean(), ys.mean())
        self.crops += len(x)
        return pose, joints, (peak.astype(np.float32) if self.has_person else None)


@pytest.fixture
def tiny_model(tiny_onnx):
    return PoseModel(tiny_onnx, device="cpu")


def blob(level: float, centres, W: int = 640, H: int = 480, sigma: float = 30.0) -> np.ndarray:
    """red_blobs with every blob's peak at ``level`` (0..1)."""
    frame = red_blobs(W, H, centres, sigma)
    frame[..., 2] = np.round(frame[..., 2] * level).astype(np.uint8)
    return frame


def find(estimator, source, frame):
    from pose3d.realval.predict import find_in_frame

    return find_in_frame(estimator, source, frame)


def test_proposals_below_the_detector_threshold_are_verified_by_the_pose(tiny_model, tmp_path):
    det = PersonDetector(blob_detector(tmp_path / "det.onnx", threshold=0.5), margin=0.2, device="cpu")
    frame = blob(0.5, [(200, 240)])  # the detector scores it about 0.4: below its threshold of 0.5
    assert det(frame) == [] and len(det(frame, B.PROPOSAL_SCORE)) == 1
    model = BlobModel(tiny_model)
    est = Estimator(model)
    ((target, pose),) = find(est, B.Detect(det, 5, min_score=0.45, verify=True), frame)
    assert target.source == "detected" and 0.05 < target.detector_score < 0.5 and pose.score == pytest.approx(0.5, abs=0.01)
    assert np.abs(pose.box[:2] - [200, 240]).max() < 3  # on the blob
    # A model without a score: the detector's threshold, as before (nobody here).
    old = Estimator(BlobModel(tiny_model, has_person=False))
    assert find(old, B.find_people(det, False, 5), frame) == []
    # A pose scoring below min_score is dropped, whatever the detector says.
    bright = blob(0.9, [(200, 240)])
    assert len(find(est, B.Detect(det, 5, verify=True), bright)) == 1
    assert find(est, B.Detect(det, 5, min_score=0.95, verify=True), bright) == []
    assert len(find(old, B.find_people(det, False, 5), bright)) == 1  # the old path: the detector decides
    dim = blob(0.3, [(200, 240)])  # proposed (about 0.25), but its pose scores 0.3 < MIN_POSE_SCORE
    assert len(det(dim, B.PROPOSAL_SCORE)) == 1 and find(est, B.Detect(det, 5, verify=True), dim) == []


class Stub:
    """A detector answering the given detections."""

    class info:
        model_id = "stub:0"

    def __init__(self, detections):
        self.detections, self.calls = detections, []

    def __call__(self, frame, min_score=None, max_people=20):
        self.calls.append((min_score, max_people))
        return self.detections[:max_people]


def detection(cx, cy, side, score):
    extent = np.array([cx - side / 2.8, cy - side / 2.8, cx + side / 2.8, cy + side / 2.8])
    return Detection(extent, square_box(extent.reshape(2, 2), 0.2), score)


def test_two_proposals_on_one_person_are_merged_and_the_best_scores_come_first(tiny_model):
    est = Estimator(BlobModel(tiny_model))
    frame = np.maximum(blob(0.8, [(200, 240)]), blob(0.6, [(480, 200)]))
    # Two proposals on the left person (off it by 20 and 30 px), one on the right one, one on nothing.
    stub = Stub([detection(220, 240, 150, 0.9), detection(470, 200, 150, 0.3), detection(170, 240, 150, 0.2),
                 detection(600, 420, 100, 0.1)])
    people = find(est, B.Detect(stub, 5, min_score=0.45, verify=True), frame)
    assert stub.calls == [(B.PROPOSAL_SCORE, 10)]  # twice max_people proposals, down to PROPOSAL_SCORE
    assert [round(p.score, 1) for _, p in people] == [0.8, 0.6]  # one each, best first; the background dropped
    assert [round(float(p.box[0]), -1) for _, p in people] == [200, 480]
    assert B.Detect(stub, 1, min_score=0.45, verify=True).observe(frame.shape, *zip(*[(t, p) for t, p in people]))[0][1].score \
        == people[0][1].score  # at most max_people
    assert B.Detect(stub, 30, verify=True).proposals == B.MAX_PROPOSALS
    assert B.Track(B.Detect(stub, 30, verify=True, proposals=B.default_proposals(30, stream=True)),
                   Tracker(0.2)).detect.proposals == B.STREAM_PROPOSALS


def test_refinement_moves_the_box_onto_the_joints_and_runs_the_model_there(tiny_model):
    model = BlobModel(tiny_model)
    est = Estimator(model)
    frame = blob(0.8, [(200, 240)])
    targets = [B.Target(detection(240, 260, 160, 0.9).box, "detected", 0.9),  # off by (40, 20)
               B.Target(np.array([240.0, 260.0, 160.0]), "given"), B.Target(B.full_image_box(frame.shape), "full_image")]
    first = est.estimate([frame] * 3, [t.box for t in targets])
    model.crops = 0
    refined, poses = refine(est, [frame] * 3, targets, first)
    assert model.crops == 1  # one more crop, for the detected box only
    expected = square_box(first[0].joints_2d_px, est.margin)
    np.testing.assert_allclose(refined[0].box, expected)
    np.testing.assert_allclose(poses[0].box, expected)  # the pose is the one estimated in the refined box
    np.testing.assert_allclose(refined[0].extent, B.joints_extent(first[0].joints_2d_px))
    assert np.abs(expected[:2] - [200, 240]).max() < np.abs(targets[0].box[:2] - [200, 240]).max() / 2
    assert refined[0].detector_score == 0.9 and refined[0].source == "detected"
    for k in (1, 2):  # --bbox and --full-image targets stay as they are
        assert refined[k] is targets[k] and poses[k] is first[k]


def test_proposals_on_one_person_share_its_refinement(tiny_model):
    model = BlobModel(tiny_model)
    est = Estimator(model)
    frame = np.maximum(blob(0.8, [(200, 240)]), blob(0.6, [(480, 200)]))
    other = blob(0.8, [(200, 240)])  # another frame of the same batch, the same person's place
    # Three proposals on the left person (its joints' boxes coincide), one on the right one, and one on
    # the left person's place in the other frame (another image: refined on its own).
    targets = [B.Target(detection(x, 240, 150, s).box, "detected", s) for x, s in ((210, 0.9), (190, 0.5), (220, 0.3))]
    targets += [B.Target(detection(470, 200, 150, 0.4).box, "detected", 0.4),
                B.Target(detection(210, 240, 150, 0.9).box, "detected", 0.9)]
    frames = [frame] * 4 + [other]
    first = est.estimate(frames, [t.box for t in targets])
    assert B.box_iou(square_box(first[0].joints_2d_px, est.margin), square_box(first[1].joints_2d_px, est.margin)) > 0.5
    model.crops = 0
    refined, poses = refine(est, frames, targets, first)
    assert model.crops == 3  # the left person once, the right one, the other frame's person
    best = int(np.argmax([first[i].score for i in range(3)]))
    for i in range(3):  # the left person's proposals all carry the best-scoring one's refinement
        assert poses[i] is poses[best] and np.array_equal(refined[i].box, poses[best].box)
        assert refined[i].detector_score == targets[i].detector_score  # each keeps its own detector score
    assert poses[4] is not poses[best]
    kept = B.verify(list(zip(refined[:4], poses[:4])), 0.45)
    assert sorted(round(float(p.box[0]), -1) for _, p in kept) == [200, 480]  # one each


def test_a_stream_tracks_only_verified_people(tiny_model, tmp_path):
    det = PersonDetector(blob_detector(tmp_path / "det.onnx", threshold=0.5), margin=0.2, device="cpu")
    est = Estimator(BlobModel(tiny_model))
    track = B.find_people(det, True, 5, min_score=0.45, stream=True, margin=est.margin)
    for t in range(6):  # a dim person (found by the pose score only) and a background smudge scoring 0.25
        frame = np.maximum(blob(0.5, [(150 + 5 * t, 240)]), blob(0.25, [(500, 200)]))
        people = find(est, track, frame)
        if t < B.CONFIRM_FRAMES - 1:  # tracked, not reported yet
            assert people == []
            continue
        # On the person: its joints (the box is the crop the track's pose came from, a frame behind)
        assert [p.track_id for p, _ in people] == [0] and abs(people[0][1].joints_2d_px[2:, 0].mean() - 150 - 5 * t) < 3


def test_a_tracked_person_costs_one_crop_a_frame(tiny_model, monkeypatch):
    monkeypatch.setattr(B, "CALM_DETECT_EVERY", 1)  # the detector every frame (its schedule: below)
    model = BlobModel(tiny_model)
    est = Estimator(model)
    stub = Stub([])
    track = B.find_people(stub, True, 5, stream=True, margin=est.margin)
    crops = []
    for t in range(8):
        x = 150 + 4 * t
        # The detector proposes the person (its square box as the pose's) and, from frame 4, a second one.
        stub.detections = [detection(x, 240, 98, 0.6)] + ([detection(450, 240, 98, 0.3)] if t >= 4 else [])
        frame = blob(0.8, [(x, 240)] + ([(450, 240)] if t >= 4 else []))
        model.crops = 0
        people = find(est, track, frame)
        crops.append(model.crops)
        assert [round(float(p.box[0]), -1) for _, p in people] == \
            [round(x, -1)] * (t >= B.CONFIRM_FRAMES - 1) + [450] * (t >= 4 + B.CONFIRM_FRAMES - 1)
    # The proposal and its refinement, then the track's crop only (its proposal overlaps it: not verified);
    # the second person's proposal is verified (2 crops), then tracked (1).
    assert crops == [2, 1, 1, 1, 3, 2, 2, 2]



def test_the_detector_rests_while_every_slot_holds_a_followed_person(tiny_model):
    """Streams: with ``max_people`` people followed, the detector runs every ``SETTLED_DETECT_EVERY``
    frames, and the frames without it do not count against the track's support; as soon as the person
    is lost it runs every frame again. With a free slot it runs every ``CALM_DETECT_EVERY`` frames
    while the people it reports are followed, every frame otherwise."""
    est = Estimator(BlobModel(tiny_model))
    stub = Stub([])
    one = B.find_people(stub, True, 1, stream=True, margin=est.margin)
    two = B.find_people(stub, True, 2, stream=True, margin=est.margin)
    every = B.SETTLED_DETECT_EVERY
    frames = every + 12
    runs = {1: [], 2: []}
    for t in range(frames):
        x = 150 + t
        here = t < frames - 4  # the person leaves for the last 4 frames
        stub.detections = [detection(x, 240, 98, 0.6)] if here else []
        frame = blob(0.8, [(x, 240)]) if here else blob(0.0, [(x, 240)])
        for n, track in ((1, one), (2, two)):
            stub.calls.clear()
            people = find(est, track, frame)
            runs[n].append(len(stub.calls))
            if n == 1 and B.CONFIRM_FRAMES - 1 <= t < frames - 4:
                assert len(people) == 1 and people[0][0].track_id == 0  # followed throughout, never lost
    # Every frame until the person is reported (frame CONFIRM_FRAMES - 1), then once every ``every``
    # frames (a slot free: every ``CALM_DETECT_EVERY``), then every frame from the first one after the
    # frame the person was gone in.
    def expected(every: int) -> list[int]:
        out, last = [], None
        for t in range(frames):
            followed = B.CONFIRM_FRAMES - 1 <= t - 1 < frames - 4  # reported in the frame before
            run = not followed or t - last >= every
            last = t if run else last
            out.append(int(run))
        return out

    assert runs[1] == expected(every) and sum(runs[1][B.CONFIRM_FRAMES:frames - 4]) == 1
    assert runs[2] == expected(B.CALM_DETECT_EVERY) and 0 in runs[2] and runs[2][-3:] == [1] * 3



def test_a_followed_person_the_detector_stops_seeing_is_checked_every_frame(tiny_model):
    """A settled track that the detector's scheduled run does not support (background the pose score
    likes) wakes the detector every frame, and is lost after ``coast_frames`` such frames."""
    est = Estimator(BlobModel(tiny_model))
    stub = Stub([detection(150, 240, 98, 0.6)])
    track = B.find_people(stub, True, 1, stream=True, margin=est.margin)
    frame = blob(0.8, [(150, 240)])
    for _ in range(B.CONFIRM_FRAMES + 1):
        find(est, track, frame)
    stub.detections = []  # from now on the detector sees nobody there; the pose still scores high
    runs, reported = [], []
    for _ in range(B.SETTLED_DETECT_EVERY + 8):
        stub.calls.clear()
        reported.append(len(find(est, track, frame)))
        runs.append(len(stub.calls))
    first = runs.index(1)  # the scheduled run
    assert sum(runs[:first]) == 0 and all(runs[first:])
    coast = track.tracker.coast_frames
    assert reported[:first + coast] == [1] * (first + coast) and not any(reported[first + coast:])



def test_no_proposal_is_verified_while_every_slot_holds_a_person(tiny_model):
    """``--max-people 1`` in a stream: once the person is confirmed, a second person's proposal costs no
    crop (it could not be reported); the detector still runs where its schedule says."""
    model = BlobModel(tiny_model)
    est = Estimator(model)
    stub = Stub([])
    track = B.find_people(stub, True, 1, stream=True, margin=est.margin)
    assert track.tracker.new_per_frame == 1  # and at most one a frame while searching
    crops = []
    for t in range(6):
        stub.detections = [detection(150, 240, 98, 0.6)] + ([detection(450, 240, 98, 0.7)] if t >= 3 else [])
        frame = blob(0.8, [(150, 240)] + ([(450, 240)] if t >= 3 else []))
        model.crops = 0
        people = find(est, track, frame)
        crops.append(model.crops)
        assert [round(float(p.box[0]), -1) for _, p in people] == [150] * (t >= B.CONFIRM_FRAMES - 1)
    assert crops == [2, 1, 1, 1, 1, 1]


def test_bbox_and_full_image_are_not_refined_in_the_cli(tiny_onnx, tmp_path):
    cv2.imwrite(str(tmp_path / "a.png"), blob(0.9, [(100, 100)], W=320, H=240))
    r = CliRunner().invoke(run_main, [str(tmp_path / "a.png"), "-o", str(tmp_path / "o1"), "--model", str(tiny_onnx),
                                      "--bbox", "40,30,100,150", "--quiet"])
    assert r.exit_code == 0, r.output
    (person,) = json.loads((tmp_path / "o1" / "a_png.json").read_text())["people"]
    margin = PoseModel(tiny_onnx, device="cpu").info.crop.margin
    assert person["box_source"] == "given" and person["box"] == pytest.approx(list(B.parse_bbox("40,30,100,150", margin)))
    r = CliRunner().invoke(run_main, [str(tmp_path / "a.png"), "-o", str(tmp_path / "o2"), "--model", str(tiny_onnx),
                                      "--full-image", "--quiet"])
    (person,) = json.loads((tmp_path / "o2" / "a_png.json").read_text())["people"]
    assert person["box_source"] == "full_image" and person["box"] == [159.5, 119.5, 320.0]


def test_people_smaller_than_the_size_floor_are_neither_proposed_nor_reported(tiny_model):
    est = Estimator(BlobModel(tiny_model))
    frame = np.maximum(blob(0.8, [(200, 240)], sigma=30.0), blob(0.8, [(500, 240)], sigma=6.0))  # 640 x 480
    stub = Stub([detection(200, 240, 150, 0.9), detection(500, 240, 60, 0.8), detection(100, 100, 40, 0.7)])
    floor = 60 / 1.4 / 480  # the second proposal's extent (its side / 1.4) as a share of the shorter side
    wide = B.Detect(stub, 5, verify=True, min_size=0.0)
    assert len(wide.boxes(frame)) == 3
    small = [(round(float(p.box[0]), -1)) for _, p in find(est, wide, frame)]
    assert sorted(small) == [200, 500]  # both blobs are people at any size
    narrow = B.Detect(stub, 5, verify=True, min_size=floor * 1.01)
    assert [t.detector_score for t in narrow.boxes(frame)] == [0.9]  # smaller proposals cost no crop
    # A proposal large enough whose pose is small (the blob's joints) is dropped after verification.
    shrunk = B.Detect(Stub([detection(500, 240, 150, 0.9)]), 5, verify=True, min_size=floor * 1.01)
    assert len(shrunk.boxes(frame)) == 1 and find(est, shrunk, frame) == []
    assert B.MIN_SIZE == B.find_people(stub, True, 5).min_size  # the default
    r = CliRunner().invoke(run_main, ["--webcam", "--full-image", "--min-size", "0.2"])
    assert r.exit_code == 2 and "--min-size only applies with a detector" in r.output


def test_reported_people_are_refined_once_more_in_folders(tiny_model):
    from pose3d_runtime.folder import find_in_images
    from pose3d_runtime.pipeline import refine_again

    model = BlobModel(tiny_model)
    est = Estimator(model)
    frame = blob(0.8, [(200, 240)], sigma=30.0)
    cam = est.intrinsics(frame.shape)
    target = B.Target(detection(290, 300, 200, 0.9).box, "detected", 0.9)  # far off: the crop cuts the blob
    first_targets, first = refine(est, [frame], [target], est.estimate([frame], [target.box]))
    once = (first_targets[0], first[0])
    model.crops = 0
    (t2, p2), = refine_again(est, [frame], [once], [cam], 0.45)
    assert model.crops == 1  # one crop more for the person
    off = lambda box: float(np.hypot(box[0] - 200, box[1] - 240))  # noqa: E731
    assert off(p2.box) < off(once[1].box) and p2.score >= 0.45  # closer to the person's own box
    assert refine_again(est, [frame], [once], [cam], 2.0)[0] is once  # a worse second pose: the first stays
    assert refine_again(est, [], [], [], 0.45) == []
    # The folder path: proposals, their refinements, then the reported person once more.
    stub = Stub([detection(290, 300, 200, 0.9)])
    model.crops = 0
    (person,) = find_in_images(est, B.Detect(stub, 5, verify=True), [frame], [B.Detect(stub, 5, verify=True).boxes(frame)],
                               [cam])[0]
    assert model.crops == 3 and np.allclose(person[1].box, p2.box)
    model.crops = 0
    given = [B.Target(np.array([200.0, 240.0, 150.0]), "given")]
    assert len(find_in_images(est, B.FixedBox(given[0].box), [frame], [given], [cam])[0]) == 1 and model.crops == 1


def test_a_part_of_a_person_sharing_its_head_is_the_same_person():
    """``verify``: a smaller report whose neck and head are the whole person's, its joints inside the
    whole person's extent (an upper-body box), is one person with it, whichever scores better: the
    whole person stays. A neighbour, and a smaller person whose head is elsewhere, stay too."""
    from types import SimpleNamespace

    from pose3d.skeleton import H36M17

    def person(x0, y0, height, score, squeeze=1.0):
        """A standing person's 17 joints: head at the top, feet at the bottom; ``squeeze`` < 1 pulls
        everything but the neck and head up towards them (an upper-body box's squeezed pose)."""
        rng = np.random.default_rng(int(x0 * 7 + y0))
        j = np.stack([x0 + 0.3 * height * rng.random(17), y0 + height * rng.random(17)], axis=1)
        j[H36M17.index("Head")] = [x0 + 0.15 * height, y0]
        j[H36M17.index("Neck")] = [x0 + 0.15 * height, y0 + 0.12 * height]
        j[:, 1] = y0 + (j[:, 1] - y0) * np.where(np.isin(np.arange(17), B.HEAD_JOINTS), 1.0, squeeze)
        j[H36M17.index("Head")] = [x0 + 0.15 * height, y0]
        e = B.joints_extent(j)
        box = np.array([(e[0] + e[2]) / 2, (e[1] + e[3]) / 2, 1.2 * B.extent_size(e)])
        return B.Target(box, "detected"), SimpleNamespace(joints_2d_px=j, box=box, score=score)

    whole = person(100, 50, 300, 0.9)
    part = person(100, 50, 300, 0.99, squeeze=0.4)  # better scored, its head on the whole person's
    neighbour = person(400, 60, 280, 0.8)
    child = person(125, 200, 100, 0.85)  # smaller, inside the whole person's extent, head elsewhere
    kept = B.verify([part, whole, neighbour], min_score=0.5)
    assert [p.score for _, p in kept] == [0.9, 0.8]
    assert B.shared_head(part[1].joints_2d_px, whole[1].joints_2d_px)
    inner, outer = B.joints_extent(child[1].joints_2d_px), B.joints_extent(whole[1].joints_2d_px)
    assert (inner[:2] >= outer[:2]).all() and (inner[2:] <= outer[2:]).all()
    assert not B.shared_head(child[1].joints_2d_px, whole[1].joints_2d_px)
    assert len(B.verify([whole, child], min_score=0.5)) == 2
    assert not B.shared_head(neighbour[1].joints_2d_px, whole[1].joints_2d_px)
