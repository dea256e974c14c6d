"""Tracking several people on fabricated sequences: crossing people keep their ids, a short miss keeps
the id, a box without the detector's support is dropped, and a falling pose score ends a track."""

import numpy as np

from pose3d.crop import square_box
from pose3d_runtime.boxes import Target, joints_extent
from pose3d_runtime.pipeline import Intrinsics, Pose
from pose3d_runtime.smoothing import PoseSmoother
from pose3d_runtime.track import Tracker

CAMERA = Intrinsics(640.0, np.array([319.5, 239.5]))
MARGIN = 0.2


def body(cx: float, cy: float, arms_up: bool = False) -> np.ndarray:
    """(17, 2) joints of a standing person 200 px tall centred at (cx, cy); two distinct postures."""
    rng = np.random.default_rng(1 if arms_up else 2)
    j = rng.uniform([-40, -100], [40, 100], size=(17, 2))
    j[[0, 1]] = [[-40, -100], [40, 100]]  # the extent is always 80 x 200
    return j + [cx, cy]


def detection(joints: np.ndarray, score: float = 0.9) -> Target:
    extent = joints_extent(joints)
    return Target(square_box(extent.reshape(2, 2), MARGIN), "detected", score, extent)


def pose(joints: np.ndarray, score: float) -> Pose:
    return Pose(np.zeros((17, 3)), joints, square_box(joints, MARGIN), score, np.array([0.0, 0.0, 3000.0]), CAMERA)


def step(tracker: Tracker, people: list[np.ndarray], coast_score: float = 0.9, scores=None):
    """One frame: detections of ``people``; the model's answer on a coasting crop is a person where the
    crop was cut (scored ``coast_score``). Returns {track id: (source, centre x)}."""
    targets = tracker.targets([detection(j) for j in people])
    poses = []
    for k, t in enumerate(targets):
        if t.source == "detected":
            poses.append(pose(people[k], 0.9 if scores is None else scores[k]))
        else:
            x0, y0, x1, y1 = t.extent
            poses.append(pose(body((x0 + x1) / 2, (y0 + y1) / 2), coast_score))
    return {t.track_id: (t.source, p.joints_2d_px) for t, p in tracker.update(targets, poses)}


def who(joints: np.ndarray, **people: np.ndarray) -> str:
    """The name of the person whose joints these are closest to."""
    return min(people, key=lambda name: np.abs(people[name] - joints).mean())


def test_crossing_people_keep_their_ids():
    tr = Tracker(MARGIN)
    ids_a, ids_b = set(), set()
    for t in range(25):
        a, b = body(100 + 20 * t, 240), body(580 - 20 * t, 250, arms_up=True)  # they cross at t = 12
        out = step(tr, [a, b])
        assert len(out) == 2
        for tid, (_, joints) in out.items():
            (ids_a if who(joints, a=a, b=b) == "a" else ids_b).add(tid)
    assert len(ids_a) == 1 and len(ids_b) == 1 and ids_a != ids_b


def test_crossing_people_seen_as_one_for_a_few_frames_keep_their_ids():
    tr = Tracker(MARGIN)
    seen = {}
    for t in range(25):
        a, b = body(100 + 20 * t, 240), body(580 - 20 * t, 250, arms_up=True)
        people = [a] if 10 <= t <= 14 else [a, b]  # b hidden behind a: one detection
        out = step(tr, people)
        for tid, (source, joints) in out.items():
            if not 10 <= t <= 14:  # while b is hidden, its track coasts on a guess
                seen.setdefault(tid, set()).add(who(joints, a=a, b=b))
    assert all(len(v) == 1 for v in seen.values()) and sorted(sorted(v)[0] for v in seen.values()) == ["a", "b"]


def test_a_short_miss_keeps_the_id_and_a_new_person_gets_a_new_one():
    tr = Tracker(MARGIN)
    ids = []
    for t in range(14):
        a = body(200 + 5 * t, 240)
        out = step(tr, [] if 5 <= t <= 9 else [a], coast_score=0.05)  # missed; the crops score low
        ids.append(sorted(out))
    assert ids[:5] == [[0]] * 5 and ids[5:10] == [[]] * 5 and ids[10:] == [[0]] * 4
    out = step(tr, [body(275, 240), body(600, 100)])
    assert sorted(out) == [0, 1]


def test_a_box_without_detector_support_is_dropped():
    tr = Tracker(MARGIN, coast_frames=3)
    step(tr, [body(300, 240)])
    sources = [step(tr, [], coast_score=0.99) for _ in range(6)]  # the person head fooled by background
    assert [list(s.values())[0][0] if s else None for s in sources] == ["tracked"] * 3 + [None] * 3
    for _ in range(tr.keep_frames):
        step(tr, [])
    assert tr.tracks == []  # forgotten


def test_a_falling_pose_score_ends_the_coasting_and_detections_are_reported_regardless():
    tr = Tracker(MARGIN, min_pose_score=0.3)
    step(tr, [body(300, 240)])
    assert step(tr, [], coast_score=0.1) == {}
    assert list(step(tr, [body(300, 240)], scores=[0.05])) == [0]  # the detector's word keeps it


def test_one_euro_smoothing_is_per_track():
    sm = PoseSmoother(min_cutoff=1.0, beta=0.0)
    j = np.zeros((17, 2))
    for k in range(30):
        sm(0, np.zeros((17, 3)), j + (5.0 if k % 2 else -5.0), k / 30)
        _, two = sm(1, np.zeros((17, 3)), j + 100.0, k / 30)
    _, one = sm(0, np.zeros((17, 3)), j + 5.0, 1.0)
    assert np.abs(one).max() < 5.0 and np.allclose(two, 100.0)  # jitter smoothed; the other track untouched
    sm.keep({1})
    _, fresh = sm(0, np.zeros((17, 3)), j + 50.0, 1.1)
    assert np.allclose(fresh, 50.0)  # a forgotten track starts afresh


# Verified tracking (streams with a pose model that scores its poses, ``Tracker(new_per_frame=...)``):
# followed tracks get one crop each, only proposals away from them are verified, and a new track is
# reported from its ``confirm_frames``-th consecutive verified frame.

def verified_tracker(**kw) -> Tracker:
    return Tracker(MARGIN, min_pose_score=0.45, new_per_frame=2, confirm_frames=3, **kw)


def verified_step(tracker: Tracker, proposals: list[np.ndarray], people: dict, scores=None):
    """One frame of verified tracking: ``proposals`` (joints) proposed, best first; the pose model on a
    crop answers the person of ``people`` ({name: (joints, score)}) nearest the crop's centre within
    100 px, else background (score 0.1). Detections are verified (score >= 0.45) before the tracker, as
    ``boxes.Track.observe`` does. Returns (the targets, {track id: name})."""
    targets = tracker.targets([detection(j, 0.9 - 0.1 * k) for k, j in enumerate(proposals)])
    poses = []
    for t in targets:
        near = [(np.abs(j.mean(axis=0) - t.box[:2]).max(), j, s) for j, s in people.values()]
        d, j, s = min(near, key=lambda x: x[0]) if near else (1e9, None, 0.0)
        poses.append(pose(j, s) if d < 100 else pose(body(*t.box[:2]), 0.1))
    kept = [(t, p) for t, p in zip(targets, poses) if t.source == "tracked" or p.score >= 0.45]
    out = tracker.update([t for t, _ in kept], [p for _, p in kept])
    names = {tid: name for name, (j, _) in people.items() for tid, (_, jj) in
             {t.track_id: (t.source, p.joints_2d_px) for t, p in out}.items() if np.allclose(j, jj)}
    return targets, names


def test_a_followed_person_costs_one_crop_and_overlapping_proposals_are_not_verified():
    tr = verified_tracker()
    crops = []
    for t in range(6):
        a = body(200 + 5 * t, 240)
        targets, names = verified_step(tr, [a], {"a": (a, 0.9)})
        crops.append([x.source for x in targets])
        assert names == ({0: "a"} if t >= 2 else {})  # reported from the 3rd frame
    assert crops == [["detected"]] + [["tracked"]] * 5  # its proposals overlap its crop: not verified


def test_at_most_new_per_frame_proposals_are_verified_best_first():
    tr = verified_tracker()
    far = [body(100 + 110 * k, 240) for k in range(4)]  # four proposals on background, apart
    targets, names = verified_step(tr, far, {})
    assert [x.source for x in targets] == ["detected"] * 2 and names == {}
    np.testing.assert_allclose([x.box[0] for x in targets], [100, 210])
    assert tr.tracks == []


def test_a_one_frame_background_blip_is_never_reported():
    tr = verified_tracker()
    blip = body(400, 240)
    reported = []
    for t in range(8):
        # The pose model is fooled once (frame 2), then sees background in the crop the track follows.
        people = {"blip": (blip, 0.9)} if t == 2 else {}
        _, names = verified_step(tr, [blip] if t == 2 else [], people)
        reported.append(names)
    assert reported == [{}] * 8 and tr.tracks == []


def test_a_real_new_person_is_reported_from_its_confirm_frames_th_frame_and_keeps_its_id():
    tr = verified_tracker()
    seen = []
    for t in range(10):
        a = body(200 + 5 * t, 240)
        b_in = t >= 3
        b = body(500, 240, arms_up=True)
        people = {"a": (a, 0.9)} | ({"b": (b, 0.9)} if b_in else {})
        if t == 7:  # a scores low once (motion blur): lost, then found again by its proposal
            people["a"] = (a, 0.2)
        _, names = verified_step(tr, [a] + ([b] if b_in else []), people)
        seen.append(names)
    assert [sorted(n.values()) for n in seen[:3]] == [[], [], ["a"]]
    assert [sorted(n.values()) for n in seen[3:7]] == [["a"], ["a"], ["a", "b"], ["a", "b"]]  # b from its 3rd frame
    assert sorted(seen[7].values()) == ["b"] and seen[8] == seen[9] == {0: "a", 1: "b"}  # a keeps id 0


def test_a_failed_proposal_is_not_verified_again_at_the_same_place_for_a_few_frames():
    from pose3d_runtime.track import FAILED_FRAMES

    tr = verified_tracker()
    asked = []
    for t in range(FAILED_FRAMES + 3):
        targets = tr.targets([detection(body(300, 240)), detection(body(500, 240), 0.5)])
        asked.append([round(float(x.box[0])) for x in targets])
        tr.failed_proposals([x.box for x in targets])  # background: both fail
        tr.update([], [])
    # Both asked (budget 2), then the places that failed are skipped for FAILED_FRAMES frames.
    assert asked[0] == [300, 500] and asked[1:FAILED_FRAMES + 1] == [[]] * FAILED_FRAMES
    assert asked[FAILED_FRAMES + 1] == [300, 500]


def whole_and_part(cx: float, cy: float) -> tuple[np.ndarray, np.ndarray]:
    """A standing person's joints and the pose a crop of its upper body answers: every joint squeezed
    towards the head (a second, smaller box on one person), neck and head where the person's are."""
    from pose3d_runtime.boxes import HEAD_JOINTS

    whole = body(cx, cy)
    whole[list(HEAD_JOINTS)] = [[cx, cy - 70], [cx, cy - 90]]
    centre = np.array([cx, cy - 80])
    return whole, centre + 0.45 * (whole - centre)


def test_a_part_of_a_followed_person_is_never_a_track_of_its_own():
    tr = verified_tracker()
    reported = []
    for t in range(8):
        whole, part = whole_and_part(300 + 4 * t, 240)
        targets, names = verified_step(tr, [whole, part], {"whole": (whole, 0.9), "part": (part, 0.9)})
        reported.append(sorted(names.values()))
        if t >= 2:  # the part's proposal lies off the person's crop: verified, it is that person (frame 0
            # makes two new tracks, the part's goes in frame 1)
            assert [x.source for x in targets] == ["tracked", "detected"]
    assert reported == [[], [], ["whole"]] + [["whole"]] * 5
    assert len(tr.tracks) == 1


def test_a_track_on_part_of_a_person_goes_once_the_whole_person_is_followed():
    tr = verified_tracker()
    reported = []
    for t in range(9):
        whole, part = whole_and_part(300, 240)
        proposals = [part] + ([whole] if t >= 4 else [])  # the whole person is proposed from frame 4
        _, names = verified_step(tr, proposals, {"whole": (whole, 0.9), "part": (part, 0.9)})
        reported.append(sorted(names.values()))
    # The part is followed and reported first; from frame 5 both are followed and the part goes; the
    # whole person is reported from its third frame.
    assert reported == [[], [], ["part"], ["part"], ["part"], [], ["whole"], ["whole"], ["whole"]]
